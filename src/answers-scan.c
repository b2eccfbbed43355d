/* answers-scan.c - the sections of a markdown answer file: its top-level
 * headings of level 1 and 2 (title, line, anchor) and the body each one
 * heads.
 *
 * md4c decides what is a heading.  It used to be run over every whole
 * file for that, and every answer is parsed again when it is rendered: the
 * first pass was an eighth of a build.  Now a line scan looks first, and
 * gives md4c only the lines that can be such a heading.  It can do that
 * when the file has none of the constructs that make a line at the left
 * margin something else than it looks (see find_heading_lines); for any
 * other file it says so, and md4c parses the whole file as before.  The
 * two ways give the same sections: test_scan.c compares them on many
 * thousands of generated files. */
#include "answers-int.h"

#include <md4c.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/render.h"
#include "mdeck/text.h"

struct hscan {
    struct file *f;
    size_t file;
    const char *base;   /* start of the text md4c parses (a file, or the lines) */
    const char *end;    /* its end */
    int level;          /* inside a heading of this level (1..2), else 0 */
    int depth;
    struct buf text;
    int line;
    const char *lpos;   /* line_of_from() cache: lline is the line of lpos */
    int lline;
    const int *lines;   /* heading lines given alone: each one's line in the file */
    size_t nlines;
    size_t blocks;      /* top-level blocks entered so far */
};

/* answers_line_of(h->base, p), counting on from the previous call when p is past it:
 * headings come in file order, so a file is scanned once, not once per
 * heading. */
static int line_of_from(struct hscan *h, const char *p)
{
    if (!h->lpos || p < h->lpos) {
        h->lpos = h->base;
        h->lline = 1;
    }
    for (const char *s = h->lpos; s < p && (s = memchr(s, '\n', (size_t)(p - s))); s++)
        h->lline++;
    h->lpos = p;
    return h->lline;
}

static int hs_enter(MD_BLOCKTYPE type, void *detail, void *user)
{
    struct hscan *h = user;
    h->depth++;
    if (h->depth == 2) h->blocks++;
    if (type == MD_BLOCK_H && h->depth == 2) {
        unsigned lv = ((MD_BLOCK_H_DETAIL *)detail)->level;
        if (lv <= 2) {
            h->level = (int)lv;
            buf_reset(&h->text);
            h->line = 0;
        }
    }
    return 0;
}

static void slugify(const char *s, struct buf *out)
{
    /* GitHub-style anchors: lower case, spaces to '-', punctuation dropped
     * (letters of every script kept). */
    while (*s) {
        uint32_t cp;
        s += utf8_decode(s, &cp);
        if (cp == ' ' || cp == '-') { buf_addc(out, '-'); continue; }
        if (cp == '_') { buf_addc(out, '_'); continue; }
        if (is_punct_or_space(cp)) continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        utf8_encode(out, cp);
    }
}

static int hs_leave(MD_BLOCKTYPE type, void *detail, void *user)
{
    struct hscan *h = user;
    h->depth--;
    if (type == MD_BLOCK_H && h->level && h->depth == 1) {
        struct file *f = h->f;
        buf_trim(&h->text);
        GROW(f->ls, f->nls + 1, f->capls);
        struct section *s = &f->ls[f->nls++];
        memset(s, 0, sizeof *s);
        s->file = h->file;
        s->level = h->level;
        s->title = xstrndup(h->text.s, h->text.len);
        /* the key comes later (section_keys): it depends on the index's
         * front matter, which files are read without */
        struct buf slug = BUF_INIT;
        slugify(s->title, &slug);
        s->slug = xstrndup(slug.s, slug.len); /* not buf's 64-byte minimum */
        buf_release(&slug);
        s->line = h->line;
        h->level = 0;
    }
    return 0;
}

static int hs_span(MD_SPANTYPE t, void *d, void *u) { return 0; }

static int hs_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *user)
{
    struct hscan *h = user;
    if (!h->level) return 0;
    /* md4c 0.4.8 can report text past the end of its input (see
     * load_markdown): never count or copy anything outside the file. */
    if (text < h->base || text > h->end || size > (size_t)(h->end - text)) return 0;
    /* given the lines alone, block k is line k; more blocks than lines
     * (never seen) make scan_lines() fall back, and must not read past */
    if (!h->line)
        h->line = !h->lines ? line_of_from(h, text)
                  : h->blocks <= h->nlines ? h->lines[h->blocks - 1] : 1;
    if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR) buf_addc(&h->text, ' ');
    else buf_add(&h->text, text, size);
    return 0;
}

static void parse(struct hscan *h, const char *s, size_t len)
{
    MD_PARSER p = {.flags = MDECK_MD_FLAGS, .enter_block = hs_enter, .leave_block = hs_leave,
                   .enter_span = hs_span, .leave_span = hs_span, .text = hs_text};
    md_parse(s, (MD_SIZE)len, &p, h);
}

/* --- the line scan ------------------------------------------------------ */

/* A line that may be a heading of level 1 or 2: s[off..off+len), its
 * line ending included. */
struct cand {
    size_t off, len;
    int line;
};

static int only_blanks(const char *l, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (l[k] != ' ' && l[k] != '\t') return 0;
    return 1;
}

/* A line of '-', '=', '|', ':' and blanks with a '-' or '=' in it: a
 * setext underline, a thematic break or a table's delimiter row. */
static int rule_like(const char *l, size_t n, int *pipe)
{
    int mark = 0;
    *pipe = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = l[k];
        if (ch == '-' || ch == '=') mark = 1;
        else if (ch == '|' || ch == ':') *pipe = 1;
        else if (ch != ' ' && ch != '\t') return 0;
    }
    return mark;
}

/* Finds the lines of s[0..len) (a file's body; its first line is line
 * `line` of the file) that can only be top-level headings or paragraphs:
 * one or two '#' at the left margin, outside fenced code.  CommonMark lets
 * nothing else claim such a line but fenced code, an HTML block, and - in
 * md4c 0.4.8 - a table, which takes every line up to a blank one as a row.
 * Returns -1 (parse the whole file) when the file has anything this scan
 * does not follow exactly: HTML at the start of a line, an indented fence
 * or '#' (in a list item, or code, or - for md4c 0.4.8 - sometimes a
 * block of its own), a fence, HTML or rule in a block quote or list item,
 * a setext underline (a rule right under a line that is not blank), a
 * table followed by a '#', a fence
 * or HTML before its blank line, a lone CR (a line ending for md4c), a
 * form feed or vertical tab (blanks for md4c in places), or a link
 * reference definition where a heading has a '[' (a heading's text then
 * depends on the whole file). */
static int find_heading_lines(const char *s, size_t len, int line, struct cand **cv,
                              size_t *n, size_t *cap)
{
    /* md4c ends a line at a lone CR, and takes form feeds and vertical
     * tabs for blanks in places: files with any are parsed whole */
    for (size_t r = 0; (r += mem_find_any(s + r, len - r, "\r\f\v", 3)) < len; r++)
        if (s[r] != '\r' || r + 1 == len || s[r + 1] != '\n') return -1;
    int refs = -1;       /* "]:" somewhere in s (unknown: -1) */
    char fence = 0;      /* inside fenced code opened by flen of these */
    size_t flen = 0;
    int table = 0;       /* maybe inside a table: up to the next blank line */
    int after_blank = 1; /* the line before was blank (or there was none) */
    for (size_t p = 0; p < len; line++) {
        const char *nl = memchr(s + p, '\n', len - p);
        size_t next = nl ? (size_t)(nl - s) + 1 : len;
        size_t e = nl ? (size_t)(nl - s) : len;
        if (e > p && s[e - 1] == '\r') e--;
        const char *l = s + p;
        size_t ln = e - p, i = 0;
        size_t off = p;
        p = next;
        while (i < ln && i < 4 && l[i] == ' ') i++;
        int was_blank = after_blank;
        after_blank = 0;
        if (fence) {
            if (i < 4 && i < ln && l[i] == fence) {
                size_t k = i;
                while (k < ln && l[k] == fence) k++;
                if (k - i >= flen && only_blanks(l + k, ln - k)) {
                    /* md4c 0.4.8 does not close on a tab after the fence */
                    if (memchr(l + k, '\t', ln - k)) return -1;
                    fence = 0;
                }
            }
            continue;
        }
        if (only_blanks(l + i, ln - i)) {
            table = 0;
            after_blank = 1;
            continue;
        }
        int pipe;
        if (rule_like(l, ln, &pipe)) {
            if (pipe) table = 1;
            /* a setext underline needs the paragraph line right above it;
             * after a blank line this is a thematic break (the "---"
             * between answers) or a paragraph's first line */
            else if (!was_blank) return -1;
            continue;
        }
        size_t j = i;
        while (l[j] == ' ' || l[j] == '\t') j++;
        /* after the markers of block quotes and list items */
        size_t c = j;
        while (c < ln) {
            size_t m = c;
            if (l[m] == '>') m++;
            else if ((l[m] == '-' || l[m] == '*' || l[m] == '+') && m + 1 < ln &&
                     (l[m + 1] == ' ' || l[m + 1] == '\t')) m++;
            else {
                while (m < ln && m - c < 9 && l[m] >= '0' && l[m] <= '9') m++;
                if (m == c || m == ln || (l[m] != '.' && l[m] != ')') || m + 1 == ln ||
                    (l[m + 1] != ' ' && l[m + 1] != '\t')) break;
                m++;
            }
            while (m < ln && (l[m] == ' ' || l[m] == '\t')) m++;
            c = m;
        }
        if (c > j) {
            /* md4c 0.4.8 closes a fence opened in a container with a fence
             * at the margin; tables and setext headings in one: let md4c
             * see them */
            if (c < ln && (l[c] == '<' || rule_like(l + c, ln - c, &pipe) ||
                           ((l[c] == '`' || l[c] == '~') && c + 2 < ln && l[c + 1] == l[c] &&
                            l[c + 2] == l[c])))
                return -1;
            continue;
        }
        char ch = l[j];
        if (table) {
            if (ch == '#' || ch == '`' || ch == '~' || ch == '<') return -1;
            continue;
        }
        /* md4c 0.4.8 lets fenced code and HTML blocks interrupt a paragraph
         * at any indentation: only those at the margin are followed */
        if (ch == '<') return -1;
        if (ch == '`' || ch == '~') {
            size_t k = j;
            while (k < ln && l[k] == ch) k++;
            if (k - j >= 3 && !(ch == '`' && memchr(l + k, '`', ln - k))) {
                if (j > 0) return -1;
                fence = ch;
                flen = k - j;
            }
            continue;
        }
        if (ch != '#') continue;
        /* indented: a heading, or in a list item, or code; md4c 0.4.8 even
         * makes a line indented by four a heading after a list */
        if (j > 0) return -1;
        /* level 3 or more: md4c would find a heading that makes no section */
        if (ln > 2 && l[1] == '#' && l[2] == '#') continue;
        if (memchr(l, '[', ln)) {
            if (refs < 0) refs = memmem(s, len, "]:", 2) != NULL;
            if (refs) return -1;
        }
        GROW(*cv, *n + 1, *cap);
        (*cv)[(*n)++] = (struct cand){off, next - off, line};
    }
    return 0;
}

/* The line scan: md4c given the candidate lines alone, each followed by a
 * blank line, so that each is a block of its own.  Returns 0, or -1 when
 * the file needs a whole parse (nothing is added to f then). */
static int scan_lines(struct hscan *h, size_t boff)
{
    struct file *f = h->f;
    const char *s = f->src.s;
    int line = 1;
    for (const char *q = s; (q = memchr(q, '\n', boff - (size_t)(q - s))); q++) line++;
    struct cand *cv = NULL;
    size_t n = 0, cap = 0;
    if (find_heading_lines(s + boff, f->src.len - boff, line, &cv, &n, &cap) < 0) {
        free(cv);
        return -1;
    }
    struct buf doc = BUF_INIT;
    int *lines = xmalloc((n + 1) * sizeof *lines);
    for (size_t k = 0; k < n; k++) {
        const char *l = s + boff + cv[k].off;
        buf_add(&doc, l, cv[k].len);
        /* the last line of a file without a newline stays the end of the input */
        if (l[cv[k].len - 1] == '\n') buf_addc(&doc, '\n');
        lines[k] = cv[k].line;
    }
    free(cv);
    int rc = 0;
    if (n) {
        buf_grow(&doc, 16); /* md4c may read past the end (see answers_scan) */
        memset(doc.s + doc.len, 0, 17);
        h->base = doc.s;
        h->end = doc.s + doc.len;
        h->lines = lines;
        h->nlines = n;
        parse(h, doc.s, doc.len);
        if (h->blocks != n) { /* each line one block: never seen; be safe */
            for (size_t k = 0; k < f->nls; k++) {
                free(f->ls[k].title);
                free(f->ls[k].slug);
            }
            f->nls = 0;
            rc = -1;
        }
    }
    free(lines);
    buf_release(&doc);
    return rc;
}

/* --- sections ----------------------------------------------------------- */

/* Byte offset of the start of 1-based line l in s[0..len).  The cursor
 * remembers where the previous call stopped: asked for lines in increasing
 * order, it reads the file once. */
struct line_cursor {
    size_t off;
    int cur;
};

static size_t line_start(struct line_cursor *lc, const char *s, size_t len, int l)
{
    if (l < lc->cur) *lc = (struct line_cursor){0, 1};
    while (lc->cur < l && lc->off < len) {
        const char *nl = memchr(s + lc->off, '\n', len - lc->off);
        lc->off = nl ? (size_t)(nl - s) + 1 : len;
        lc->cur += nl != NULL;
    }
    return lc->off;
}

/* Each section's body: from the line after its heading to the next
 * heading of level <= 2; a heading with an empty body shares the next body
 * of its level. */
static void find_bodies(struct file *f)
{
    struct line_cursor lc = {0, 1};
    for (size_t i = 0; i < f->nls; i++) {
        struct section *s = &f->ls[i];
        if (!s->line) { s->body = s->body_end = 0; continue; }
        size_t start = line_start(&lc, f->src.s, f->src.len, s->line + 1);
        s->body_line = s->line + 1;
        size_t end = i + 1 < f->nls && f->ls[i + 1].line
                         ? line_start(&lc, f->src.s, f->src.len, f->ls[i + 1].line)
                         : f->src.len;
        /* a setext underline belongs to the heading */
        size_t k = start;
        while (k < end && (f->src.s[k] == '=' || f->src.s[k] == '-')) k++;
        if (k > start && (k == end || f->src.s[k] == '\n' || f->src.s[k] == '\r')) {
            while (k < end && f->src.s[k] != '\n') k++;
            start = k < end ? k + 1 : end;
            s->body_line++;
        }
        if (end < start) end = start;
        s->body = start;
        s->body_end = end;
    }
    for (size_t i = f->nls; i-- > 0;) {
        struct section *s = &f->ls[i];
        int empty = 1;
        for (size_t k = s->body; k < s->body_end && empty; k++)
            if (!strchr(" \t\r\n", f->src.s[k])) empty = 0;
        if (empty && i + 1 < f->nls && f->ls[i + 1].level == s->level) {
            s->body = f->ls[i + 1].body;
            s->body_end = f->ls[i + 1].body_end;
            s->body_line = f->ls[i + 1].body_line;
        } else if (empty) {
            s->body = s->body_end = 0;
        }
    }
}

int answers_scan(struct file *f, size_t fi, size_t boff, int fast)
{
    /* md4c 0.4.8 (Debian 12) reads past the end of its input after an
     * unclosed link at the very end (render.c parses a padded copy for the
     * same reason): the file gets NUL bytes after its text.  Found by
     * fuzz_match once read_file stopped leaving slack in its buffers. */
    buf_grow(&f->src, ANSWERS_PAD);
    memset(f->src.s + f->src.len, 0, ANSWERS_PAD + 1);
    struct hscan h = {.f = f, .file = fi};
    buf_init(&h.text);
    int lined = fast && scan_lines(&h, boff) == 0;
    if (!lined) {
        h = (struct hscan){.f = f, .file = fi, .base = f->src.s,
                           .end = f->src.s + f->src.len, .text = h.text};
        parse(&h, f->src.s + boff, f->src.len - boff);
    }
    buf_release(&h.text);
    find_bodies(f);
    return lined;
}
