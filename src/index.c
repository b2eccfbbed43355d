/* index.c - the question index, through md4c's parser callbacks.
 *
 * The question text is collected with private-use markers around code spans
 * and math (U+E000..U+E005), so the cleaning rules can work on plain text and
 * the front can still be rendered with <code> and MathJax afterwards. */
#include "mdeck/index.h"

#include <errno.h>
#include <md4c.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/frontmatter.h"
#include "mdeck/hash.h"
#include "mdeck/render.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

#define MK_CODE_OPEN "\xee\x80\x80"
#define MK_CODE_CLOSE "\xee\x80\x81"
#define MK_MATH_OPEN "\xee\x80\x82"
#define MK_MATH_CLOSE "\xee\x80\x83"
#define MK_DMATH_OPEN "\xee\x80\x84"
#define MK_DMATH_CLOSE "\xee\x80\x85"
#define MK_LEN 3

/* One list item as read, before cleaning and merging.  Its raw question
 * (with markers) is parser.qtext from q up to the next item's q: only the
 * last item is ever appended to, and one buffer for all of them costs the
 * text itself, where a buffer per item cost half as much again (a 200 MB
 * index has 500,000 items). */
struct item {
    size_t q;             /* start of its raw question in parser.qtext */
    const char *href;     /* first link target (parser.scratch) or NULL */
    const char *subdeck;  /* "Sub::Sub2" (the deck's arena, shared) or NULL */
    int line, col;
    int last_line;        /* last line of the question text */
    int nested;           /* holds blocks after the question */
};

struct parser {
    struct deck *d;
    const char *path;
    const char *src;       /* whole file */
    size_t len;
    size_t *lines;         /* offsets of line starts */
    size_t nlines;
    struct diags *dg;

    MD_BLOCKTYPE *stack;
    size_t depth, cap;

    int seen_list;         /* the first top-level list has started */
    int in_list_top;       /* inside a top-level list */
    int heading_level;     /* inside a heading when > 0 */
    struct buf heading;
    char *subs[7];         /* heading path, levels 2..6 */
    const char *sub;       /* subs joined, once per heading; NULL: none */
    int sub_stale;         /* subs changed since sub was made */
    int have_h1;

    int desc_block;        /* inside a description paragraph or quote */
    struct buf desc;
    int img_depth;         /* inside image alt text */

    struct item *items;
    size_t nitems, capitems;
    struct buf qtext;      /* every item's raw question, one after the other */
    struct arena scratch;  /* the items' link targets; freed with the parser */
    struct item *cur;      /* current item (always the last one) or NULL */
    int q_done;            /* the current item's question has ended */
    int q_para;            /* inside the question's paragraph (loose list) */

    int stray_pending;     /* a stray top-level block awaits its first line */
    const char *stray_what;
    int *bounds;           /* first lines of items and of later top blocks */
    size_t nbounds, capbounds;
    int top_pending;       /* next text starts a top-level block: record it */
};

/* --- positions ---------------------------------------------------------- */

static void build_lines(struct parser *p)
{
    size_t cap = 1024;
    p->lines = xmalloc(cap * sizeof *p->lines);
    p->nlines = 0;
    p->lines[p->nlines++] = 0;
    for (const char *s = p->src, *end = p->src + p->len;
         s < end && (s = memchr(s, '\n', (size_t)(end - s))); s++) {
        if (p->nlines == cap) p->lines = xrealloc(p->lines, (cap *= 2) * sizeof *p->lines);
        p->lines[p->nlines++] = (size_t)(s - p->src) + 1;
    }
}

/* 1-based line and column of a pointer into the source; 0 when outside. */
static int pos_of(const struct parser *p, const char *ptr, int *col)
{
    if (ptr < p->src || ptr > p->src + p->len) {
        if (col) *col = 0;
        return 0;
    }
    size_t off = (size_t)(ptr - p->src);
    size_t lo = 0, hi = p->nlines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->lines[mid] <= off) lo = mid; else hi = mid;
    }
    if (col) {
        int c = 1;
        for (size_t i = p->lines[lo]; i < off; i++)
            if (((unsigned char)p->src[i] & 0xC0) != 0x80) c++;
        *col = c;
    }
    return (int)lo + 1;
}

static void add_bound(struct parser *p, int line)
{
    GROW(p->bounds, p->nbounds + 1, p->capbounds);
    p->bounds[p->nbounds++] = line;
}

/* --- md4c callbacks ----------------------------------------------------- */

static const char *current_subdeck(struct parser *p);

static MD_BLOCKTYPE parent_type(const struct parser *p, size_t up)
{
    return p->depth > up ? p->stack[p->depth - 1 - up] : MD_BLOCK_DOC;
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *user)
{
    struct parser *p = user;
    GROW(p->stack, p->depth + 1, p->cap);
    p->stack[p->depth++] = type;
    size_t depth = p->depth - 1; /* DOC is depth 0 */

    if (depth == 1) {
        p->top_pending = p->seen_list;
        switch (type) {
        case MD_BLOCK_H:
            p->heading_level = (int)((MD_BLOCK_H_DETAIL *)detail)->level;
            buf_reset(&p->heading);
            break;
        case MD_BLOCK_UL:
        case MD_BLOCK_OL:
            p->seen_list = 1;
            p->in_list_top = 1;
            p->top_pending = 0;
            break;
        case MD_BLOCK_P:
        case MD_BLOCK_QUOTE:
            if (!p->seen_list) {
                p->desc_block = 1;
                buf_adds(&p->desc, type == MD_BLOCK_P ? "<p>" : "<blockquote><p>");
                break;
            }
            /* fall through */
        case MD_BLOCK_TABLE:
        case MD_BLOCK_CODE:
        case MD_BLOCK_HTML:
            p->stray_pending = 1;
            p->stray_what = type == MD_BLOCK_TABLE ? "table"
                            : type == MD_BLOCK_CODE ? "code block"
                            : type == MD_BLOCK_HTML ? "HTML block"
                            : type == MD_BLOCK_QUOTE ? "block quote" : "paragraph";
            break;
        default:
            break;
        }
        return 0;
    }
    if (depth == 2 && p->in_list_top && type == MD_BLOCK_LI) {
        GROW(p->items, p->nitems + 1, p->capitems);
        p->cur = &p->items[p->nitems++];
        memset(p->cur, 0, sizeof *p->cur);
        p->cur->q = p->qtext.len;
        p->cur->subdeck = current_subdeck(p);
        p->q_done = 0;
        p->q_para = 0;
        return 0;
    }
    if (p->desc_block && depth >= 2 && type == MD_BLOCK_P && parent_type(p, 1) == MD_BLOCK_QUOTE) {
        if (!str_ends_with(p->desc.s, "<p>")) buf_adds(&p->desc, "<p>");
        return 0;
    }
    if (p->cur && depth >= 3) {
        if (depth == 3 && type == MD_BLOCK_P && !p->q_done && p->qtext.len == p->cur->q) {
            p->q_para = 1;
        } else if (!(depth > 3 && p->q_para)) {
            p->q_done = 1;
            p->cur->nested = 1;
        }
    }
    return 0;
}

static void finish_heading(struct parser *p)
{
    buf_trim(&p->heading);
    int level = p->heading_level;
    p->heading_level = 0;
    if (level == 1 && !p->have_h1) {
        p->have_h1 = 1;
        if (!p->d->name && p->heading.len)
            p->d->name = arena_strndup(&p->d->arena, p->heading.s, p->heading.len);
        return;
    }
    if (level == 1) return; /* a second # heading: only the first names the deck */
    free(p->subs[level]);
    p->subs[level] = p->heading.len ? xstrndup(p->heading.s, p->heading.len) : NULL;
    for (int l = level + 1; l < 7; l++) {
        free(p->subs[l]);
        p->subs[l] = NULL;
    }
    p->sub_stale = 1;
}

/* The subdeck path of the items under the current headings: made once per
 * heading and shared by its items (a copy per item cost as much as a
 * question when every item sits under a heading). */
static const char *current_subdeck(struct parser *p)
{
    if (!p->sub_stale) return p->sub;
    p->sub_stale = 0;
    struct buf b = BUF_INIT;
    for (int l = 2; l < 7; l++) {
        if (!p->subs[l]) continue;
        if (b.len) buf_adds(&b, "::");
        /* "::" inside a heading would make an extra level: keep it one. */
        for (const char *s = p->subs[l]; *s; s++)
            if (!(s[0] == ':' && s[1] == ':')) buf_addc(&b, *s); else { buf_adds(&b, ": "); s++; }
    }
    p->sub = b.len ? arena_strndup(&p->d->arena, b.s, b.len) : NULL;
    buf_release(&b);
    return p->sub;
}

/* Closes a description paragraph; one that held nothing (an image) goes. */
static void close_desc_p(struct parser *p)
{
    if (str_ends_with(p->desc.s, "<p>")) buf_setlen(&p->desc, p->desc.len - 3);
    else buf_adds(&p->desc, "</p>");
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *user)
{
    struct parser *p = user;
    size_t depth = p->depth - 1;
    p->depth--;
    if (depth == 1) {
        if (type == MD_BLOCK_H) finish_heading(p);
        if (type == MD_BLOCK_UL || type == MD_BLOCK_OL) p->in_list_top = 0;
        if (p->desc_block) {
            if (type == MD_BLOCK_P) close_desc_p(p);
            else buf_adds(&p->desc, "</blockquote>");
            p->desc_block = 0;
        }
        if (p->stray_pending) { /* a block without text (e.g. empty HTML) */
            p->stray_pending = 0;
        }
        return 0;
    }
    if (p->desc_block && type == MD_BLOCK_P) {
        close_desc_p(p);
        return 0;
    }
    if (depth == 2 && type == MD_BLOCK_LI && p->cur) {
        p->cur = NULL;
        return 0;
    }
    if (p->cur && depth == 3 && type == MD_BLOCK_P && p->q_para) {
        p->q_para = 0;
        p->q_done = 1;
    }
    return 0;
}

static int enter_span(MD_SPANTYPE type, void *detail, void *user)
{
    struct parser *p = user;
    if (type == MD_SPAN_IMG) {
        p->img_depth++;
        if (p->desc_block || (!p->seen_list && !p->cur))
            diag_add(p->dg, SEV_NOTE, p->path, 0, 0, "image in the deck description skipped");
        return 0;
    }
    if (p->img_depth) return 0;
    if (p->cur && !p->q_done) {
        if (type == MD_SPAN_A && !p->cur->href) {
            MD_SPAN_A_DETAIL *a = detail;
            p->cur->href = arena_strndup(&p->scratch, a->href.text, a->href.size);
        } else if (type == MD_SPAN_CODE) {
            buf_adds(&p->qtext, MK_CODE_OPEN);
        } else if (type == MD_SPAN_LATEXMATH) {
            buf_adds(&p->qtext, MK_MATH_OPEN);
        } else if (type == MD_SPAN_LATEXMATH_DISPLAY) {
            buf_adds(&p->qtext, MK_DMATH_OPEN);
        }
    }
    return 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *user)
{
    struct parser *p = user;
    if (type == MD_SPAN_IMG) {
        p->img_depth--;
        return 0;
    }
    if (p->img_depth) return 0;
    if (p->cur && !p->q_done) {
        if (type == MD_SPAN_CODE) buf_adds(&p->qtext, MK_CODE_CLOSE);
        else if (type == MD_SPAN_LATEXMATH) buf_adds(&p->qtext, MK_MATH_CLOSE);
        else if (type == MD_SPAN_LATEXMATH_DISPLAY) buf_adds(&p->qtext, MK_DMATH_CLOSE);
    }
    return 0;
}

/* Decodes the few entities that matter in questions; others stay as typed. */
static void add_entity(struct buf *b, const char *t, size_t n)
{
    static const struct { const char *e, *s; } ents[] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
        {"&nbsp;", " "}, {"&apos;", "'"}};
    for (size_t i = 0; i < ARRAY_LEN(ents); i++)
        if (strlen(ents[i].e) == n && !memcmp(t, ents[i].e, n)) {
            buf_adds(b, ents[i].s);
            return;
        }
    if (n > 3 && t[1] == '#') {
        unsigned long cp = (t[2] == 'x' || t[2] == 'X') ? strtoul(t + 3, NULL, 16)
                                                         : strtoul(t + 2, NULL, 10);
        if (cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
            utf8_encode(b, (uint32_t)cp);
            return;
        }
    }
    buf_add(b, t, n);
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *user)
{
    struct parser *p = user;
    int col = 0;
    int line = pos_of(p, text, &col);
    if (p->top_pending && line) {
        add_bound(p, line);
        p->top_pending = 0;
    }
    if (p->stray_pending && line) {
        diag_add(p->dg, SEV_WARNING, p->path, line, col,
                 "%s outside the question list ignored; make it a '- ' list item to turn it into a question",
                 p->stray_what);
        p->stray_pending = 0;
    }
    if (p->img_depth) return 0;
    if (p->heading_level) {
        if (type == MD_TEXT_ENTITY) add_entity(&p->heading, text, size);
        else if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR) buf_addc(&p->heading, ' ');
        else buf_add(&p->heading, text, size);
        return 0;
    }
    if (p->desc_block) {
        if (type == MD_TEXT_SOFTBR) buf_addc(&p->desc, '\n');
        else if (type == MD_TEXT_BR) buf_adds(&p->desc, "<br>");
        else if (type == MD_TEXT_ENTITY) buf_add(&p->desc, text, size);
        else buf_add_html_escaped(&p->desc, text, size);
        return 0;
    }
    if (p->cur && !p->q_done) {
        struct item *it = p->cur;
        if (!it->line && line) {
            it->line = line;
            it->col = col;
            add_bound(p, line);
        }
        if (line) it->last_line = line;
        switch (type) {
        case MD_TEXT_SOFTBR:
        case MD_TEXT_BR: buf_addc(&p->qtext, ' '); break;
        case MD_TEXT_ENTITY: add_entity(&p->qtext, text, size); break;
        case MD_TEXT_NULLCHAR: break;
        default: buf_add(&p->qtext, text, size); break;
        }
    }
    return 0;
}

/* --- cleaning ----------------------------------------------------------- */

static int is_dash(uint32_t cp) { return cp == 0x2014 || cp == 0x2015 || cp == 0x2500 || cp == 0x2013 || cp == '-'; }

/* Removes a trailing "{#id}" and returns the id (caller frees) or NULL. */
static char *take_pinned_id(struct buf *q)
{
    buf_trim(q);
    if (q->len < 4 || q->s[q->len - 1] != '}') return NULL;
    char *open = NULL;
    for (size_t i = q->len; i-- > 0;)
        if (q->s[i] == '{') { open = q->s + i; break; }
    if (!open || open[1] != '#') return NULL;
    const char *id = open + 2, *end = q->s + q->len - 1;
    if (id == end) return NULL;
    for (const char *c = id; c < end; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return NULL;
    char *out = xstrndup(id, (size_t)(end - id));
    buf_setlen(q, (size_t)(open - q->s));
    buf_trim(q);
    return out;
}

/* A bracket group "[...]" or "【...】" at the end: returns 1 and its content. */
static int take_trailing_group(struct buf *q, struct buf *tag)
{
    buf_trim(q);
    size_t len = q->len;
    if (len >= 3 && !memcmp(q->s + len - 3, "】", 3)) {
        for (size_t i = len - 3; i-- > 0;)
            if (!memcmp(q->s + i, "【", 3) && i + 3 <= len - 3) {
                if (i == 0) return 0; /* the whole question: keep it */
                buf_add(tag, q->s + i + 3, len - 3 - (i + 3));
                buf_setlen(q, i);
                return 1;
            }
        return 0;
    }
    if (len && q->s[len - 1] == ']') {
        int depth = 0;
        for (size_t i = len; i-- > 0;) {
            if (q->s[i] == ']') depth++;
            else if (q->s[i] == '[' && --depth == 0) {
                if (i == 0 || i + 1 == len - 1) return 0;
                buf_add(tag, q->s + i + 1, len - 1 - (i + 1));
                buf_setlen(q, i);
                return 1;
            }
        }
    }
    return 0;
}

static int take_leading_group(struct buf *q, struct buf *tag)
{
    buf_trim(q);
    const char *open = NULL, *close = NULL;
    if (str_starts_with(q->s, "【")) { open = "【"; close = "】"; }
    else if (q->s[0] == '[') { open = "["; close = "]"; }
    if (!open) return 0;
    const char *end = strstr(q->s + strlen(open), close);
    if (!end) return 0;
    const char *rest = end + strlen(close);
    if (!*rest) return 0;
    buf_add(tag, q->s + strlen(open), (size_t)(end - q->s) - strlen(open));
    memmove(q->s, rest, strlen(rest) + 1);
    q->len = strlen(q->s);
    return 1;
}

/* A series prefix: up to 40 characters ending in a run of two or more dashes
 * (or one em dash), e.g. "大模型算法工程师经典面试题————". */
static int take_series_prefix(struct buf *q, struct buf *tag)
{
    const char *s = q->s;
    size_t i = 0;
    int chars = 0;
    while (s[i] && chars <= 40) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, &cp);
        if (cp == '?' || cp == 0xFF1F || cp == 0x3002) return 0;
        if (is_dash(cp)) {
            size_t j = i;
            int run = 0;
            uint32_t first = cp;
            while (s[j]) {
                uint32_t c2;
                size_t m = utf8_decode(s + j, &c2);
                if (!is_dash(c2)) break;
                run++;
                j += m;
            }
            int ok = run >= 2 || first == 0x2014 || first == 0x2015;
            if (!ok || chars == 0 || !s[j]) return 0;
            buf_add(tag, s, i);
            memmove(q->s, s + j, strlen(s + j) + 1);
            q->len = strlen(q->s);
            return 1;
        }
        i += n;
        chars++;
    }
    return 0;
}

static int take_prefix_rule(struct deck *d, struct buf *q, struct buf *tag)
{
    for (size_t i = 0; i < d->opt.nprefixes; i++) {
        const char *pre = d->opt.prefixes[i].prefix;
        size_t n = strlen(pre);
        if (n && q->len > n && !strncmp(q->s, pre, n)) {
            if (d->opt.prefixes[i].tag) buf_adds(tag, d->opt.prefixes[i].tag);
            memmove(q->s, q->s + n, q->len - n + 1);
            q->len -= n;
            return 1;
        }
    }
    return 0;
}

static int is_open_quote(const char *s) { return *s == '"' || str_starts_with(s, "“") || str_starts_with(s, "「"); }

static void strip_quotes(struct buf *q)
{
    buf_trim(q);
    if (!q->len) return;
    size_t ql = q->s[0] == '"' ? 1 : 3;
    int starts = is_open_quote(q->s);
    int ends = q->s[q->len - 1] == '"' || str_ends_with(q->s, "”") || str_ends_with(q->s, "」");
    size_t el = q->s[q->len - 1] == '"' ? 1 : 3;
    int inner_open = 0, inner_close = 0;
    for (size_t i = starts ? ql : 0; i + (ends ? el : 0) < q->len; i++) {
        unsigned char c = (unsigned char)q->s[i];
        if (c != '"' && c != 0xE2 && c != 0xE3) continue; /* no quote starts here */
        if (is_open_quote(q->s + i) || q->s[i] == '"') inner_open++;
        if (q->s[i] == '"' || str_starts_with(q->s + i, "”") || str_starts_with(q->s + i, "」")) inner_close++;
    }
    if (starts && ends && q->len > ql + el && !inner_open && !inner_close) {
        memmove(q->s, q->s + ql, q->len - ql);
        q->len -= ql + el;
        q->s[q->len] = '\0';
    } else if (starts && !ends && !inner_close) {
        memmove(q->s, q->s + ql, q->len - ql + 1);
        q->len -= ql;
    } else if (ends && !starts && !inner_open) {
        buf_setlen(q, q->len - el);
    }
    buf_trim(q);
}

/* Each group taken costs a pass over the question: past this many, the
 * rest stays in the text (a 10 MB line of "[t]" groups took hours). */
#define MAX_TAG_GROUPS 64

void question_clean(struct deck *d, struct note *n, const char *raw, struct buf *out)
{
    struct buf q = BUF_INIT, tag = BUF_INIT;
    buf_adds(&q, raw);
    for (int changed = 1, rounds = 0; changed && rounds < MAX_TAG_GROUPS; rounds++) {
        changed = 0;
        buf_reset(&tag);
        if (take_trailing_group(&q, &tag) || take_leading_group(&q, &tag) ||
            take_prefix_rule(d, &q, &tag) || take_series_prefix(&q, &tag)) {
            changed = 1;
            buf_trim(&tag);
            if (n && tag.len) note_add_tag(d, n, tag.s);
        }
        buf_trim(&q);
    }
    strip_quotes(&q);
    buf_add(out, q.s, q.len);
    buf_release(&q);
    buf_release(&tag);
}

/* Front HTML and plain text from the marker form. */
static void render_front(const char *s, struct buf *html, struct buf *text)
{
    while (*s) {
        if ((unsigned char)s[0] == 0xEE && (unsigned char)s[1] == 0x80 &&
            (unsigned char)s[2] >= 0x80 && (unsigned char)s[2] <= 0x85) {
            static const char *h[] = {"<code>", "</code>", "\\(", "\\)", "\\[", "\\]"};
            static const char *t[] = {"", "", "$", "$", "$$", "$$"};
            int k = (unsigned char)s[2] - 0x80;
            buf_adds(html, h[k]);
            buf_adds(text, t[k]);
            s += MK_LEN;
            continue;
        }
        size_t n = strcspn(s, "\xee");
        if (!n) n = 1;
        buf_add_html_escaped(html, s, n);
        buf_add(text, s, n);
        s += n;
    }
}

/* A link to a local file: relative, or an absolute path (which answers.c
 * refuses with an error, as it leaves the deck folder). URLs with a scheme
 * or "//host" are sources. */
static int is_relative_link(const char *href)
{
    if (!*href || href[0] == '#' || (href[0] == '/' && href[1] == '/')) return 0;
    if (href[0] == '/') return 1;
    for (const char *c = href; *c && *c != '/' && *c != '#'; c++)
        if (*c == ':') return 0; /* has a scheme */
    return 1;
}

/* The markdown indented under an item: the lines after its question up to
 * the next item or top-level block, de-indented. */
static char *inline_answer(struct parser *p, const struct item *it, int *first_line)
{
    int start = it->last_line + 1, end = (int)p->nlines;
    while (start <= end && start <= (int)p->nlines) { /* skip blank lines */
        const char *l = p->src + p->lines[start - 1];
        while (*l == ' ' || *l == '\t' || *l == '\r') l++;
        if (*l != '\n' && *l) break;
        start++;
    }
    for (size_t i = 0; i < p->nbounds; i++)
        if (p->bounds[i] > it->last_line && p->bounds[i] - 1 < end) end = p->bounds[i] - 1;
    if (start > end) return NULL;
    size_t indent = (size_t)-1;
    for (int l = start; l <= end; l++) {
        const char *s = p->src + p->lines[l - 1];
        const char *e = l < (int)p->nlines ? p->src + p->lines[l] : p->src + p->len;
        size_t k = 0;
        while (s + k < e && s[k] == ' ') k++;
        if (s + k < e && s[k] != '\n' && s[k] != '\r' && k < indent) indent = k;
    }
    if (indent == (size_t)-1) return NULL;
    struct buf b = BUF_INIT;
    for (int l = start; l <= end; l++) {
        const char *s = p->src + p->lines[l - 1];
        const char *e = l < (int)p->nlines ? p->src + p->lines[l] : p->src + p->len;
        size_t k = 0;
        while (k < indent && s + k < e && s[k] == ' ') k++;
        buf_add(&b, s + k, (size_t)(e - s - (ptrdiff_t)k));
    }
    buf_trim(&b);
    if (!b.len) {
        buf_release(&b);
        return NULL;
    }
    *first_line = start;
    return buf_detach(&b);
}

static void finish_items(struct parser *p)
{
    struct deck *d = p->d;
    struct strmap seen;
    strmap_init(&seen);
    struct buf raw = BUF_INIT, clean = BUF_INIT, html = BUF_INIT, text = BUF_INIT, key = BUF_INIT;
    for (size_t i = 0; i < p->nitems; i++) {
        struct item *it = &p->items[i];
        size_t end = i + 1 < p->nitems ? p->items[i + 1].q : p->qtext.len;
        buf_reset(&raw);
        buf_add(&raw, p->qtext.s + it->q, end - it->q);
        struct note tmp;
        memset(&tmp, 0, sizeof tmp);
        char *pinned = take_pinned_id(&raw);
        buf_reset(&clean);
        question_clean(d, &tmp, raw.s, &clean);
        buf_reset(&html);
        buf_reset(&text);
        render_front(clean.s, &html, &text);
        buf_trim(&text);
        buf_reset(&key);
        text_key(text.s, &key);
        if (!key.len) {
            if (it->line)
                diag_add(p->dg, SEV_WARNING, p->path, it->line, it->col,
                         "list item without question text ignored");
            free(pinned);
            continue;
        }
        size_t at;
        struct note *n;
        if (strmap_get(&seen, key.s, &at)) {
            n = &d->notes[at];
            diag_add(p->dg, SEV_WARNING, p->path, it->line, it->col,
                     "same question as line %d; merged into one note (delete one of the two lines to silence this)",
                     n->line);
        } else {
            n = deck_add_note(d);
            n->question = arena_strndup(&d->arena, text.s, text.len);
            /* most fronts need no escaping: one copy serves both */
            n->front_html = html.len == text.len && !memcmp(html.s, text.s, text.len)
                                ? n->question
                                : arena_strndup(&d->arena, html.s, html.len);
            n->key = arena_strndup(&d->arena, key.s, key.len);
            n->line = it->line;
            n->col = it->col;
            n->deck = it->subdeck; /* made whole (under the top deck) by parse_text() */
            strmap_put(&seen, n->key, d->nnotes - 1);
            if (it->nested) {
                int l0 = 0;
                char *md = inline_answer(p, it, &l0);
                if (md) {
                    n->inline_md = arena_strdup(&d->arena, md);
                    n->inline_line = l0;
                    free(md);
                }
            }
        }
        note_add_line(d, n, it->line);
        for (size_t t = 0; t < tmp.ntags; t++) note_add_tag(d, n, tmp.tags[t]);
        if (pinned && !n->pinned) n->pinned = arena_strdup(&d->arena, pinned);
        if (it->href && *it->href) { /* "[q]()" names no source */
            if (is_relative_link(it->href)) {
                if (!n->link) n->link = arena_strdup(&d->arena, it->href);
            } else if (it->href[0] != '#') {
                note_add_source(d, n, it->href);
            }
        }
        free(pinned);
    }
    buf_release(&raw);
    buf_release(&clean);
    buf_release(&html);
    buf_release(&text);
    buf_release(&key);
    /* The keys live in the arena and stay valid: the map is dropped here. */
    strmap_free(&seen);
}

static int parse_text(struct deck *d, const char *path, const char *src, size_t len,
                      struct diags *dg)
{
    size_t bad;
    if (utf8_check(src, len, &bad) < 0) {
        int line, col;
        line_col(src, bad, &line, &col);
        diag_add(dg, SEV_ERROR, path, line, col,
                 src[bad] ? "invalid UTF-8 (byte 0x%02x); save the file as UTF-8"
                          : "NUL byte%.0d in the text; remove it (is this a binary file?)",
                 (unsigned char)src[bad]);
        return -1;
    }
    size_t skip = (len >= 3 && !memcmp(src, "\xef\xbb\xbf", 3)) ? 3 : 0;
    int blank = 1;
    for (size_t i = skip; i < len && blank; i++)
        if (!strchr(" \t\r\n", src[i])) blank = 0;
    if (blank) {
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "index is empty; add questions as a list ('- question' lines)");
        return -1;
    }

    struct parser p;
    memset(&p, 0, sizeof p);
    p.d = d;
    p.path = path;
    p.src = src;
    p.len = len;
    p.dg = dg;
    buf_init(&p.heading);
    buf_init(&p.desc);
    buf_init(&p.qtext);
    arena_init(&p.scratch);
    build_lines(&p);

    size_t body = skip;
    const char *yaml;
    size_t ylen, boff;
    int bline;
    int fm = fm_split(src + skip, len - skip, path, &yaml, &ylen, &boff, &bline, dg);
    int rc = 0;
    if (fm < 0) {
        rc = -1;
        goto out;
    }
    if (fm > 0) {
        json_t *j = fm_parse(yaml, ylen, path, 2, dg);
        if (!j) {
            rc = -1;
            goto out;
        }
        d->opt.fm_line = bline - 1;
        if (fm_deck_options(d, j, yaml, ylen, path, 2, dg) < 0) rc = -1;
        json_decref(j);
        body = skip + boff;
    }

    MD_PARSER parser = {
        .abi_version = 0,
        .flags = MDECK_MD_FLAGS,
        .enter_block = enter_block,
        .leave_block = leave_block,
        .enter_span = enter_span,
        .leave_span = leave_span,
        .text = on_text,
    };
    if (md_parse(src + body, (MD_SIZE)(len - body), &parser, &p) != 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "the markdown parser failed (out of memory?)");
        rc = -1;
        goto out;
    }
    finish_items(&p);
    if (!d->name) d->name = d->opt.name ? d->opt.name : d->slug;
    if (d->opt.name) d->name = d->opt.name;
    if (p.desc.len) d->desc_html = arena_strndup(&d->arena, p.desc.s, p.desc.len);
    deck_add_deck_name(d, d->name);
    const char *sub = NULL, *full = NULL; /* the last subdeck made whole */
    for (size_t i = 0; i < d->nnotes; i++) {
        struct note *n = &d->notes[i];
        if (n->deck && n->deck != sub) {
            sub = n->deck;
            full = arena_printf(&d->arena, "%s::%s", d->name, sub);
        }
        n->deck = n->deck ? full : d->name;
        /* notes of a subdeck come together: add each run's deck once (the
         * list is scanned linearly, and a deck can hold 100,000 notes) */
        if (i == 0 || strcmp(n->deck, d->notes[i - 1].deck)) deck_add_deck_name(d, n->deck);
    }
    if (!d->nnotes && rc == 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "no questions found; write each question as a list item ('- question')");
        rc = -1;
    }
    /* the notes array's unused part back (~6 MB at 100,000 notes) */
    SHRINK(d->notes, d->nnotes, d->capnotes);
out:
    for (int l = 0; l < 7; l++) free(p.subs[l]);
    free(p.items);
    buf_release(&p.qtext);
    arena_free(&p.scratch);
    free(p.stack);
    free(p.lines);
    free(p.bounds);
    buf_release(&p.heading);
    buf_release(&p.desc);
    return rc;
}

int index_parse_text(struct deck *d, const char *path, const char *src, size_t len,
                     struct diags *dg)
{
    /* md4c 0.4.8 (Debian 12) reads a byte past the end of its input after
     * an unclosed link at the very end ("[a](b"; found by fuzzing): the
     * text is parsed from a copy that ends in NUL bytes unless it already
     * ends in one, as read_file() leaves it. */
    if (src[len] == '\0') return parse_text(d, path, src, len, dg);
    struct buf copy = BUF_INIT;
    buf_add(&copy, src, len);
    buf_grow(&copy, 16);
    memset(copy.s + copy.len, 0, 16);
    int rc = parse_text(d, path, copy.s, len, dg);
    buf_release(&copy);
    return rc;
}

int index_parse(struct deck *d, struct diags *dg)
{
    char *path = xasprintf("%s/index.md", d->dir);
    struct buf src = BUF_INIT;
    int rc;
    if (!path_stays_in(path, d->dir)) {
        /* A cloned deck must not make mdeck read (and publish) other files. */
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "index.md is a symbolic link leading out of the deck folder; make it a file");
        rc = -1;
    } else if (read_file(path, &src) < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot read the index: %s%s", read_file_error(errno),
                 errno == ENOENT ? " (a deck folder needs an index.md listing its questions)" : "");
        rc = -1;
    } else {
        if (d->sum_index) sha256(src.s, src.len, d->index_sum);
        rc = index_parse_text(d, path, src.s, src.len, dg);
    }
    buf_release(&src);
    free(path);
    return rc;
}

void deck_dump(const struct deck *d, struct buf *out)
{
    buf_addf(out, "deck: %s\n", d->name ? d->name : "");
    if (d->desc_html) buf_addf(out, "description: %s\n", d->desc_html);
    if (d->opt.ntags) {
        buf_adds(out, "deck tags:");
        for (size_t t = 0; t < d->opt.ntags; t++) buf_addf(out, " %s", d->opt.tags[t]);
        buf_addc(out, '\n');
    }
    for (size_t i = 0; i < d->ndecks; i++)
        if (strcmp(d->decks[i], d->name)) buf_addf(out, "subdeck: %s\n", d->decks[i]);
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        buf_addf(out, "note %d: %s\n", n->line, n->question);
        if (strcmp(n->front_html, n->question)) buf_addf(out, "  html: %s\n", n->front_html);
        if (n->deck && strcmp(n->deck, d->name)) buf_addf(out, "  deck: %s\n", n->deck);
        if (n->ntags) {
            buf_adds(out, "  tags:");
            for (size_t t = 0; t < n->ntags; t++) buf_addf(out, " %s", n->tags[t]);
            buf_addc(out, '\n');
        }
        for (size_t s = 0; s < n->nsources; s++) buf_addf(out, "  source: %s\n", n->sources[s]);
        if (n->link) buf_addf(out, "  answer link: %s\n", n->link);
        if (n->pinned) buf_addf(out, "  id: %s\n", n->pinned);
        if (n->nlines > 1) {
            buf_adds(out, "  lines:");
            for (size_t l = 0; l < n->nlines; l++) buf_addf(out, " %d", n->lines[l]);
            buf_addc(out, '\n');
        }
        if (n->inline_md) buf_addf(out, "  inline answer (line %d): %s\n", n->inline_line, n->inline_md);
    }
}
