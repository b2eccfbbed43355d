/* answers.c - finding each question's answer and rendering it.
 *
 * The rules, in order (docs/format.md states them with examples):
 *   1. a relative link on the index item names the answer: a whole file or a
 *      section (file.md#heading);
 *   2. an answer section whose heading is the question (same cleaning and
 *      key as the index); consecutive headings with nothing between them
 *      share the body that follows;
 *   3. an answer file whose front matter names the question's source URL;
 *   4. markdown indented under the item in the index.
 * A question with candidates from several places uses the first by these
 * rules (and by path order within a rule) and is reported. */
#include "mdeck/answers.h"
#include "mdeck/cloze.h"

#include <dirent.h>
#include <errno.h>
#include <libxml/parser.h> /* xmlInitParser(), before threads use libxml2 */
#include <limits.h>
#include <md4c.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdeck/frontmatter.h"
#include "mdeck/htmlfile.h"
#include "mdeck/identity.h"
#include "mdeck/index.h"
#include "mdeck/par.h"
#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

#define MAX_DEPTH 32

struct file {
    char *rel;            /* relative to the deck folder */
    char *path;           /* deck folder + rel: what diagnostics show */
    struct buf src;       /* contents (markdown files) */
    size_t body_off;      /* after the front matter */
    int is_html;
    int loaded;           /* read and valid */
    const char **sources; /* front matter source URLs */
    size_t nsources;
    int used;
    size_t sec_first, sec_end; /* its sections: secs[sec_first..sec_end) */
    /* While files are read on every core: the file's own sections and
     * messages, merged into the context's in file order afterwards. */
    struct section *ls;
    size_t nls, capls;
    struct diags *fdg;
};

struct section {
    size_t file;
    int level;
    char *title;          /* heading text as written */
    char *key;
    char *slug;
    int line;             /* heading line */
    size_t body, body_end;/* byte range of the (shared) body */
    int body_line;        /* line of the body's first byte */
    int used;
};

struct ctx {
    struct deck *d;       /* NULL while the files are loaded (answers_load) */
    struct diags *dg;
    const char *dir;      /* the deck folder */
    struct arena arena;   /* what loading made, until d's arena takes it */
    struct diags load_dg; /* loading's messages, until the attach */
    struct file *files;
    size_t nfiles, capfiles;
    struct section *secs;
    size_t nsecs, capsecs;
    struct arena *raw;    /* unsanitized HTML (see answer_range) */
    struct strmap bykey;  /* key -> first section with a body */
    size_t *next_same;    /* section -> next one with a body and that key */
    struct strmap byrel;  /* file rel -> index into files */
    struct strmap bysrc;  /* front matter source URL -> first srcs entry */
    struct srcent *srcs;  /* every (file, source) pair, in file order */
    size_t nsrcs;
};

/* One source URL of an answer file's front matter; next: the next entry
 * with the same URL (or NONE). */
struct srcent {
    size_t file;
    size_t next;
};

#define NONE ((size_t)-1)

/* --- collecting files --------------------------------------------------- */

struct seen_dir { dev_t dev; ino_t ino; };

static int junk_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || name[0] == '#' || name[0] == '~' || name[n - 1] == '~' ||
           strstr(name, ".sync-conflict-") != NULL || !strcmp(name, "4913");
}

static int answer_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    if (!strcmp(dot, ".md") || !strcmp(dot, ".markdown")) return 1;
    if (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) return 2;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 when path (inside the deck) resolves to a place inside the deck folder. */
static int inside_deck(const char *dir, const char *path)
{
    char *root = realpath(dir, NULL), *p = realpath(path, NULL);
    int ok = root && p && str_starts_with(p, root) &&
             (p[strlen(root)] == '/' || p[strlen(root)] == '\0');
    free(root);
    free(p);
    return ok;
}

static void walk(struct ctx *c, const char *rel, int depth, struct seen_dir **seen,
                 size_t *nseen, size_t *capseen)
{
    if (depth > MAX_DEPTH) return;
    char *dir = *rel ? xasprintf("%s/%s", c->dir, rel) : xstrdup(c->dir);
    struct stat st;
    if (stat(dir, &st) < 0) goto out;
    for (size_t i = 0; i < *nseen; i++)
        if ((*seen)[i].dev == st.st_dev && (*seen)[i].ino == st.st_ino) goto out;
    GROW(*seen, *nseen + 1, *capseen);
    (*seen)[(*nseen)++] = (struct seen_dir){st.st_dev, st.st_ino};
    DIR *dp = opendir(dir);
    if (!dp) {
        /* Its answers would silently go missing: an error keeps the deck. */
        diag_add(c->dg, SEV_ERROR, dir, 0, 0, "cannot read the folder: %s", strerror(errno));
        goto out;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (junk_name(e->d_name)) continue;
        GROW(names, n + 1, cap);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when empty */
    for (size_t i = 0; i < n; i++) {
        char *r = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
        char *full = xasprintf("%s/%s", c->dir, r);
        struct stat ls, ts;
        int have = lstat(full, &ls) == 0;
        int is_link = have && S_ISLNK(ls.st_mode);
        if (utf8_check(names[i], strlen(names[i]), NULL) < 0 &&
            (answer_ext(names[i]) || (have && S_ISDIR(ls.st_mode)))) {
            /* Such a name cannot be shown, linked or written to JSON. */
            diag_add(c->dg, SEV_WARNING, full, 0, 0,
                     "name is not valid UTF-8; skipped (rename it to use it)");
        } else if (is_link && answer_ext(names[i]) && stat(full, &ts) < 0) {
            diag_add(c->dg, SEV_ERROR, full, 0, 0, "symbolic link leads nowhere: %s",
                     strerror(errno));
        } else if (is_link && answer_ext(names[i]) && !inside_deck(c->dir, full)) {
            /* A deck cloned from elsewhere must not read files outside it. */
            diag_add(c->dg, SEV_ERROR, full, 0, 0,
                     "symbolic link leaves the deck folder; answers must live inside %s", c->dir);
        } else if (lstat(full, &ls) == 0) {
            if (S_ISDIR(ls.st_mode)) {
                walk(c, r, depth + 1, seen, nseen, capseen); /* never via symlinks */
            } else if (answer_ext(names[i]) && !(depth == 0 && (!strcmp(names[i], "index.md") ||
                                                               !strcmp(names[i], IDENTITY_FILE)))) {
                GROW(c->files, c->nfiles + 1, c->capfiles);
                struct file *f = &c->files[c->nfiles++];
                memset(f, 0, sizeof *f);
                f->rel = r;
                f->path = full;
                f->is_html = answer_ext(names[i]) == 2;
                buf_init(&f->src);
                r = full = NULL;
            }
        }
        free(r);
        free(full);
        free(names[i]);
    }
    free(names);
out:
    free(dir);
}

/* --- reading markdown answer files ------------------------------------- */

struct hscan {
    struct ctx *c;
    struct file *f;
    size_t file;
    const char *base;   /* file start */
    const char *end;    /* file end */
    int level;          /* inside a heading of this level (1..2), else 0 */
    int depth;
    struct buf text;
    int line;
    const char *lpos;   /* line_of_from() cache: lline is the line of lpos */
    int lline;
};

static int line_of(const char *base, const char *p)
{
    int l = 1;
    for (const char *s = base; s < p; s++) l += *s == '\n';
    return l;
}

/* line_of(h->base, p), counting on from the previous call when p is past it:
 * headings come in file order, so a file is scanned once, not once per
 * heading. */
static int line_of_from(struct hscan *h, const char *p)
{
    if (!h->lpos || p < h->lpos) {
        h->lpos = h->base;
        h->lline = 1;
    }
    for (const char *s = h->lpos; s < p; s++) h->lline += *s == '\n';
    h->lpos = p;
    return h->lline;
}

static int hs_enter(MD_BLOCKTYPE type, void *detail, void *user)
{
    struct hscan *h = user;
    h->depth++;
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
        s->slug = buf_detach(&slug);
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
    if (!h->line) h->line = line_of_from(h, text);
    if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR) buf_addc(&h->text, ' ');
    else buf_add(&h->text, text, size);
    return 0;
}

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
    for (; lc->cur < l && lc->off < len; lc->off++)
        if (s[lc->off] == '\n') lc->cur++;
    return lc->off;
}

/* The diagnostics of file f (made on first use). */
static struct diags *file_dg(struct file *f)
{
    if (!f->fdg) {
        f->fdg = xmalloc(sizeof *f->fdg);
        diags_init(f->fdg);
    }
    return f->fdg;
}

/* Reads file fi and finds its sections, touching nothing shared but the
 * (read-only) deck: files are loaded on every core.  Strings that outlive
 * the build go into a, the worker's arena. */
static void load_markdown(struct ctx *c, size_t fi, struct arena *a)
{
    struct file *f = &c->files[fi];
    if (read_file(f->path, &f->src) < 0) {
        diag_add(file_dg(f), SEV_ERROR, f->path, 0, 0, "cannot read answer file: %s",
                 read_file_error(errno));
        return;
    }
    size_t bad;
    if (utf8_check(f->src.s, f->src.len, &bad) < 0) {
        int line, col;
        line_col(f->src.s, bad, &line, &col);
        diag_add(file_dg(f), SEV_ERROR, f->path, line, col,
                 "invalid UTF-8 or NUL byte; save the file as UTF-8");
        return;
    }
    const char *yaml;
    size_t ylen, boff = 0;
    int bline;
    int fm = fm_split(f->src.s, f->src.len, f->path, &yaml, &ylen, &boff, &bline, file_dg(f));
    if (fm < 0) return;
    if (fm > 0) {
        json_t *j = fm_parse(yaml, ylen, f->path, 2, file_dg(f));
        if (!j) return;
        json_t *v = json_object_get(j, "source");
        if (!v) v = json_object_get(j, "sources");
        if (!v) v = json_object_get(j, "url");
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        f->sources = arena_alloc(a, (n + 1) * sizeof *f->sources);
        if (json_is_string(v)) f->sources[f->nsources++] = arena_strdup(a, json_string_value(v));
        size_t i;
        json_t *e;
        if (json_is_array(v)) json_array_foreach(v, i, e) if (json_is_string(e))
            f->sources[f->nsources++] = arena_strdup(a, json_string_value(e));
        json_decref(j);
    }
    f->body_off = boff;
    f->loaded = 1;

    /* md4c 0.4.8 (Debian 12) reads past the end of its input after an
     * unclosed link at the very end (render.c parses a padded copy for the
     * same reason): the file gets NUL bytes after its text.  Found by
     * fuzz_match once read_file stopped leaving slack in its buffers. */
    buf_grow(&f->src, 16);
    memset(f->src.s + f->src.len, 0, 17);
    struct hscan h = {.c = c, .f = f, .file = fi, .base = f->src.s,
                      .end = f->src.s + f->src.len};
    buf_init(&h.text);
    MD_PARSER p = {.flags = MDECK_MD_FLAGS, .enter_block = hs_enter, .leave_block = hs_leave,
                   .enter_span = hs_span, .leave_span = hs_span, .text = hs_text};
    md_parse(f->src.s + boff, (MD_SIZE)(f->src.len - boff), &p, &h);
    buf_release(&h.text);

    /* Bodies: from the line after a heading to the next heading of level
     * <= 2; a heading with an empty body shares the next body of its level. */
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

struct load_job {
    struct ctx *c;
    struct arena *arenas; /* one per worker */
};

static void load_range(void *arg, size_t w, size_t begin, size_t end)
{
    struct load_job *j = arg;
    for (size_t i = begin; i < end; i++)
        if (!j->c->files[i].is_html) load_markdown(j->c, i, &j->arenas[w]);
}

/* Reads and scans every markdown file on all cores, then merges sections
 * and messages in file order: the same as one loop over the files. */
static void load_files(struct ctx *c)
{
    size_t workers = par_workers(c->nfiles, 4);
    struct load_job j = {c, xcalloc(workers, sizeof *j.arenas)};
    for (size_t w = 0; w < workers; w++) arena_init(&j.arenas[w]);
    par_run(c->nfiles, 4, workers, load_range, &j);
    for (size_t w = 0; w < workers; w++) arena_adopt(&c->arena, &j.arenas[w]);
    free(j.arenas);
    for (size_t i = 0; i < c->nfiles; i++) {
        struct file *f = &c->files[i];
        if (f->is_html) f->loaded = 1;
        f->sec_first = c->nsecs;
        GROW(c->secs, c->nsecs + f->nls, c->capsecs);
        if (f->nls) memcpy(c->secs + c->nsecs, f->ls, f->nls * sizeof *f->ls);
        c->nsecs += f->nls;
        f->sec_end = c->nsecs;
        free(f->ls);
        f->ls = NULL;
        if (f->fdg) {
            diags_move(c->dg, f->fdg);
            diags_free(f->fdg);
            free(f->fdg);
            f->fdg = NULL;
        }
    }
}

/* --- matching ----------------------------------------------------------- */

struct choice {
    const char *how;
    size_t file;        /* (size_t)-1: the index (inline) */
    size_t sec;         /* (size_t)-1: the whole file */
};

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

static void describe(struct ctx *c, const struct choice *ch, struct buf *out)
{
    if (ch->file == (size_t)-1) { buf_adds(out, "the text indented under the item"); return; }
    const struct file *f = &c->files[ch->file];
    if (ch->sec == (size_t)-1) buf_addf(out, "%s", f->path);
    else buf_addf(out, "%s:%d", f->path, c->secs[ch->sec].line);
}

static void set_answer(struct ctx *c, struct note *n, const char *how, const char *rel,
                       int line, const char *md, size_t len, const char *base_dir,
                       int md_line, const char *diag_path)
{
    struct deck *d = c->d;
    struct buf html = BUF_INIT, text = BUF_INIT;
    int canonical = 0;
    struct render_ctx rc = {.deck = d, .path = diag_path, .base_dir = base_dir,
                            .first_line = md_line, .canonical = &canonical};
    render_markdown(&rc, md, len, &html, &text, c->dg);
    buf_trim(&text);
    n->answer.canonical = canonical;
    n->answer.how = how;
    n->answer.path = arena_strdup(&d->arena, rel);
    n->answer.line = line;
    /* Needed only while the note is made (cloze): with the unsanitized
     * HTML, not kept for the whole build (that was the size of every
     * answer file again). */
    n->answer.md = arena_strndup(c->raw, md, len);
    n->answer.text = arena_strndup(&d->arena, text.s, text.len);
    n->answer.html = arena_strndup(c->raw, html.s, html.len);
    buf_release(&html);
    buf_release(&text);
}

/* %20 and friends, as browsers and editors write links. */
static void percent_decode(const char *s, struct buf *out)
{
    for (; *s; s++) {
        if (s[0] == '%' && s[1] && s[2] && strchr("0123456789abcdefABCDEF", s[1]) &&
            strchr("0123456789abcdefABCDEF", s[2])) {
            char h[3] = {s[1], s[2], 0};
            buf_addc(out, (char)strtol(h, NULL, 16));
            s += 2;
        } else {
            buf_addc(out, *s);
        }
    }
}

static int link_answer(struct ctx *c, struct note *n, struct choice *ch)
{
    struct deck *d = c->d;
    const char *hash = strchr(n->link, '#');
    char *rel = hash ? xstrndup(n->link, (size_t)(hash - n->link)) : xstrdup(n->link);
    struct buf dec = BUF_INIT;
    percent_decode(rel, &dec);
    free(rel);
    rel = buf_detach(&dec);
    while (str_starts_with(rel, "./")) memmove(rel, rel + 2, strlen(rel + 2) + 1);
    int rc = 0;
    char *full = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", d->dir, rel);
    const char *index_path = arena_printf(&d->arena, "%s/index.md", d->dir);
    struct stat st;
    int escapes = rel[0] == '/' || !strcmp(rel, "..") || str_starts_with(rel, "../") ||
                  strstr(rel, "/../") || str_ends_with(rel, "/..");
    if (!escapes && stat(full, &st) < 0) {
        diag_add(c->dg, SEV_ERROR, index_path, n->line, n->col,
                 "answer file '%s' not found; fix the link or create the file", n->link);
        rc = -1;
        goto out;
    }
    if (escapes || !inside_deck(d->dir, full)) {
        diag_add(c->dg, SEV_ERROR, index_path, n->line, n->col,
                 "answer link '%s' leaves the deck folder; keep answers inside %s", n->link, d->dir);
        rc = -1;
        goto out;
    }
    size_t fi;
    if (!strmap_get(&c->byrel, rel, &fi)) fi = c->nfiles;
    if (fi == c->nfiles) {
        diag_add(c->dg, SEV_ERROR, index_path, n->line, n->col,
                 "answer link '%s' names no answer file (answers are .md, .markdown, .html or .htm files in the deck folder, not hidden)",
                 n->link);
        rc = -1;
        goto out;
    }
    struct file *f = &c->files[fi];
    if (!f->loaded) { rc = -1; goto out; }
    ch->how = "link";
    ch->file = fi;
    ch->sec = (size_t)-1;
    if (hash && hash[1] && !f->is_html) {
        struct buf key = BUF_INIT, frag = BUF_INIT;
        percent_decode(hash + 1, &frag);
        text_key(frag.s, &key);
        size_t si;
        for (si = f->sec_first; si < f->sec_end; si++)
            if (!strcmp(c->secs[si].slug, frag.s) || !strcmp(c->secs[si].key, key.s))
                break;
        buf_release(&key);
        buf_release(&frag);
        if (si == f->sec_end) {
            diag_add(c->dg, SEV_ERROR, index_path, n->line, n->col,
                     "no heading '%s' in %s; fix the part after '#' in the link", hash + 1, f->path);
            rc = -1;
            goto out;
        }
        ch->sec = si;
    }
out:
    free(full);
    free(rel);
    return rc;
}

/* Marks what a choice uses: not an orphan.  Done before the answers are
 * rendered, which may happen on several threads. */
static void mark_used(struct ctx *c, const struct choice *ch)
{
    if (ch->file == (size_t)-1) return;
    struct file *f = &c->files[ch->file];
    f->used = 1;
    if (!f->is_html && ch->sec != (size_t)-1) c->secs[ch->sec].used = 1;
}

/* Renders the chosen answer into n.  c->d and c->dg may be a worker's (see
 * answer_range): nothing shared is written. */
static void apply_choice(struct ctx *c, struct note *n, const struct choice *ch)
{
    struct deck *d = c->d;
    if (ch->file == (size_t)-1) {
        set_answer(c, n, "inline", "index.md", n->inline_line, n->inline_md, strlen(n->inline_md),
                   d->dir, n->inline_line, arena_printf(&d->arena, "%s/index.md", d->dir));
        return;
    }
    struct file *f = &c->files[ch->file];
    char *dir = dirname_of(f->path);
    if (f->is_html) {
        struct buf html = BUF_INIT, text = BUF_INIT;
        if (htmlfile_extract(d, f->path, f->rel, &html, &text, c->dg) == 0) {
            buf_trim(&text);
            n->answer.how = ch->how;
            n->answer.path = arena_strdup(&d->arena, f->rel);
            n->answer.line = 1;
            n->answer.canonical = 0; /* someone else's HTML: always sanitized */
            n->answer.html = arena_strndup(c->raw, html.s, html.len);
            n->answer.text = arena_strndup(&d->arena, text.s, text.len);
        }
        buf_release(&html);
        buf_release(&text);
    } else if (ch->sec == (size_t)-1) {
        int body_line = line_of(f->src.s, f->src.s + f->body_off);
        set_answer(c, n, ch->how, f->rel, body_line, f->src.s + f->body_off,
                   f->src.len - f->body_off, dir, body_line, f->path);
    } else {
        const struct section *s = &c->secs[ch->sec];
        /* The body's own line, not the file start: counting lines from the
         * start for every section showing an image was quadratic in the
         * file's size. */
        set_answer(c, n, ch->how, f->rel, s->line, f->src.s + s->body, s->body_end - s->body,
                   dir, s->body_line, f->path);
    }
    free(dir);
}

/* --- rendering, on every core ------------------------------------------ */

/* Rendering, cloze and sanitizing are independent per note and most of a
 * build's work, so par_run() spreads chunks of notes over the cores.  The
 * notes are taken file by file (in the order of their answers' files and
 * sections), and a file's text is freed as soon as the last note answered
 * from it is rendered: the answer files' text and all the rendered answers
 * are then never in memory at once (at 100k: 76 MB and ~145 MB).
 *
 * A worker writes only its notes, and allocates, registers media and
 * records diagnostics in its own shadow of the deck, noting for each note
 * where its messages and the media it showed are; render_answers() then
 * merges those note by note, in index order, which gives exactly what one
 * loop over the notes would give (media are listed in the order of their
 * first use in the deck). */
struct worker {
    struct deck shadow;   /* the deck's fields, with its own arena and media */
    struct diags dg;
};

struct rendered {
    size_t w;              /* the worker that rendered the note */
    size_t diag, diag_end; /* its messages: w's dg.v[diag..diag_end) */
    size_t use, use_end;   /* the media it showed: w's shadow.uses[use..use_end) */
};

struct work {
    struct ctx *c;
    const struct choice *chosen; /* per note; how == NULL: no answer found */
    const size_t *order;         /* the notes in the order they are rendered */
    struct rendered *done;       /* per note */
    atomic_size_t *left;         /* per file: its notes not yet rendered */
    struct worker w[PAR_MAX_WORKERS];
};

/* Sanitizes the note's answer and cloze text into d's arena.  An answer
 * rendered from markdown is only copied when memo holds its exact bytes as
 * a canonical render: the sanitizer would return them unchanged (render.h;
 * proven by test_canonical.c and fuzz_render.c).  HTML answer files and
 * cloze texts, put together after rendering, are always sanitized. */
static void sanitize_fields(struct deck *d, struct note *n)
{
    const char **fields[] = {&n->answer.html, &n->cloze_html};
    for (size_t k = 0; k < 2; k++) {
        if (!*fields[k]) continue;
        size_t len = strlen(*fields[k]);
        if (k == 0 && n->answer.canonical) {
            *fields[k] = arena_strndup(&d->arena, *fields[k], len);
            continue;
        }
        struct buf out = BUF_INIT;
        sanitize_html(*fields[k], len, &out);
        *fields[k] = arena_strndup(&d->arena, out.s, out.len);
        buf_release(&out);
    }
}

static void answer_range(void *arg, size_t w, size_t begin, size_t end)
{
    struct work *wk = arg;
    struct worker *me = &wk->w[w];
    struct ctx c = *wk->c; /* the lookups are only read from here on */
    c.d = &me->shadow;
    c.dg = &me->dg;
    /* Unsanitized HTML lives only until its note is sanitized: a second
     * copy of every answer would otherwise stay for the whole build. */
    struct arena scratch;
    arena_init(&scratch);
    int unsafe = c.d->opt.unsafe_html;
    c.raw = unsafe ? &c.d->arena : &scratch;
    int freed = 0;
    for (size_t k = begin; k < end; k++) {
        size_t ni = wk->order[k];
        struct note *n = &wk->c->d->notes[ni];
        struct rendered *r = &wk->done[ni];
        r->w = w;
        r->diag = me->dg.n;
        r->use = me->shadow.nuses;
        const struct choice *ch = &wk->chosen[ni];
        if (ch->how) apply_choice(&c, n, ch);
        cloze_make(c.d, n, c.raw, c.dg); /* {{c1::...}} in the question needs no answer */
        /* Every field that leaves mdeck is sanitized (unless the deck opted out). */
        if (!unsafe) {
            sanitize_fields(c.d, n);
            arena_free(&scratch);
        }
        n->answer.md = NULL; /* it lived in the note's scratch arena */
        r->diag_end = me->dg.n;
        r->use_end = me->shadow.nuses;
        /* the last note answered from a file frees its text */
        if (ch->how && ch->file != (size_t)-1 && atomic_fetch_sub(&wk->left[ch->file], 1) == 1) {
            buf_release(&wk->c->files[ch->file].src);
            freed = 1;
        }
    }
    arena_free(&scratch);
    /* The texts were malloc'd below the mmap threshold: give their pages
     * back now, or the heap keeps them while the answers pile up. */
    if (freed) malloc_trim(0);
}

/* Files first (in file and section order), then the notes answered from
 * the index or not at all; index order among equals. */
static int cmp_order(const void *a, const void *b, void *arg)
{
    const struct choice *ch = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    size_t fx = ch[x].how ? ch[x].file : (size_t)-1, fy = ch[y].how ? ch[y].file : (size_t)-1;
    if (fx != fy) return fx < fy ? -1 : 1;
    size_t sx = ch[x].sec, sy = ch[y].sec;
    if (fx != (size_t)-1 && sx != sy) return sx + 1 < sy + 1 ? -1 : 1; /* whole file first */
    return x < y ? -1 : x > y;
}

static void diag_copy(struct diags *dst, const struct diag *g)
{
    diag_add(dst, g->sev, g->path, g->line, g->col, "%s", g->msg);
}

/* Renders every note's chosen answer.  pre holds the diagnostics the
 * matching recorded, note ni's ending at pre_end[ni]; they go to dg
 * interleaved with the rendering's, note by note. */
static void render_answers(struct ctx *c, const struct choice *chosen,
                           const struct diags *pre, const size_t *pre_end)
{
    struct deck *d = c->d;
    size_t n = d->nnotes, workers = par_workers(n, 64);
    /* ~8 chunks per worker: small enough to even out a busy core, large
     * enough that taking one costs nothing */
    size_t chunk = n / (workers * 8);
    if (chunk < 8) chunk = 8;
    size_t *order = xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_order, (void *)chosen);
    struct work wk = {.c = c, .chosen = chosen, .order = order,
                      .done = xcalloc(n ? n : 1, sizeof *wk.done),
                      .left = xcalloc(c->nfiles ? c->nfiles : 1, sizeof *wk.left)};
    for (size_t i = 0; i < c->nfiles; i++) atomic_init(&wk.left[i], 0);
    for (size_t i = 0; i < n; i++)
        if (chosen[i].how && chosen[i].file != (size_t)-1)
            atomic_fetch_add(&wk.left[chosen[i].file], 1);
    for (size_t w = 0; w < workers; w++) {
        struct deck *s = &wk.w[w].shadow;
        *s = *d;
        arena_init(&s->arena);
        s->media = NULL;
        s->nmedia = s->capmedia = 0;
        strmap_init(&s->media_at); /* its own: the copy would share d's */
        strmap_init(&s->media_of_path);
        s->log_uses = 1;
        s->uses = NULL;
        s->nuses = s->capuses = 0;
        diags_init(&wk.w[w].dg);
    }
    if (workers > 1) xmlInitParser();
    par_run(n, chunk, workers, answer_range, &wk);

    size_t at = 0;
    for (size_t ni = 0; ni < n; ni++) {
        const struct rendered *r = &wk.done[ni];
        struct worker *me = &wk.w[r->w];
        for (; at < pre_end[ni]; at++) diag_copy(c->dg, &pre->v[at]);
        for (size_t k = r->diag; k < r->diag_end; k++) diag_copy(c->dg, &me->dg.v[k]);
        /* media in first-use order, as deck_add_media() keeps them */
        for (size_t k = r->use; k < r->use_end; k++)
            deck_merge_media(d, &me->shadow.media[me->shadow.uses[k]]);
    }
    for (size_t w = 0; w < workers; w++) {
        struct worker *me = &wk.w[w];
        free(me->shadow.media);
        free(me->shadow.uses);
        strmap_free(&me->shadow.media_at);
        strmap_free(&me->shadow.media_of_path);
        arena_adopt(&d->arena, &me->shadow.arena);
        diags_free(&me->dg);
    }
    free(order);
    free(wk.done);
    free(wk.left);
}

/* --- the stage ---------------------------------------------------------- */

struct answer_files *answers_load(const char *dir)
{
    struct ctx *c = xcalloc(1, sizeof *c);
    c->dir = dir;
    arena_init(&c->arena);
    diags_init(&c->load_dg);
    c->dg = &c->load_dg;
    struct seen_dir *seen = NULL;
    size_t nseen = 0, capseen = 0;
    walk(c, "", 0, &seen, &nseen, &capseen);
    free(seen);
    load_files(c);
    prof_mark("answers: files read");
    return (struct answer_files *)c;
}

/* The matching key of every section: its heading cleaned as a question is
 * (the front matter's prefix rules), on every core. */
static void key_range(void *arg, size_t w, size_t begin, size_t end)
{
    (void)w;
    struct ctx *c = arg;
    struct buf clean = BUF_INIT, key = BUF_INIT;
    for (size_t i = begin; i < end; i++) {
        buf_reset(&clean);
        buf_reset(&key);
        question_clean(c->d, NULL, c->secs[i].title, &clean);
        text_key(clean.s, &key);
        c->secs[i].key = xstrndup(key.s, key.len);
    }
    buf_release(&clean);
    buf_release(&key);
}

void answers_files_free(struct answer_files *loaded)
{
    struct ctx *c = (struct ctx *)loaded;
    if (!c) return;
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].rel);
        free(c->files[i].path);
        buf_release(&c->files[i].src);
    }
    for (size_t i = 0; i < c->nsecs; i++) {
        free(c->secs[i].title);
        free(c->secs[i].slug);
    }
    free(c->files);
    free(c->secs);
    arena_free(&c->arena);
    diags_free(&c->load_dg);
    free(c);
}

int answers_attach(struct deck *d, struct diags *dg)
{
    return answers_attach_loaded(d, answers_load(d->dir), dg);
}

int answers_attach_loaded(struct deck *d, struct answer_files *loaded, struct diags *dg)
{
    struct ctx c = *(struct ctx *)loaded;
    free(loaded);
    size_t errors_before = dg->nerrors;
    diags_move(dg, &c.load_dg);
    diags_free(&c.load_dg);
    arena_adopt(&d->arena, &c.arena);
    c.d = d;
    c.dg = dg;
    strmap_init(&c.bykey);
    strmap_init(&c.byrel);
    strmap_init(&c.bysrc);
    par_run(c.nsecs, 1024, par_workers(c.nsecs, 1024), key_range, &c);
    prof_mark("answers: keys");
    /* Lookups by key, by file and by source URL, so that matching costs
     * the same per note however large the deck is.  Chains run in section
     * (and file) order: the order the candidates are reported in. */
    c.next_same = xmalloc((c.nsecs ? c.nsecs : 1) * sizeof *c.next_same);
    for (size_t i = c.nsecs; i-- > 0;) {
        size_t at;
        if (c.secs[i].body_end <= c.secs[i].body) continue;
        c.next_same[i] = strmap_get(&c.bykey, c.secs[i].key, &at) ? at : NONE;
        strmap_put(&c.bykey, c.secs[i].key, i);
    }
    for (size_t i = 0; i < c.nfiles; i++) {
        if (!strmap_get(&c.byrel, c.files[i].rel, NULL)) strmap_put(&c.byrel, c.files[i].rel, i);
        c.nsrcs += c.files[i].nsources;
    }
    c.srcs = xmalloc((c.nsrcs ? c.nsrcs : 1) * sizeof *c.srcs);
    for (size_t i = c.nfiles, e = c.nsrcs; i-- > 0;)
        for (size_t k = c.files[i].nsources; k-- > 0;) {
            size_t at;
            const char *url = c.files[i].sources[k];
            c.srcs[--e] = (struct srcent){i, strmap_get(&c.bysrc, url, &at) ? at : NONE};
            strmap_put(&c.bysrc, url, e);
        }
    size_t *hits = NULL, nhits = 0, caphits = 0;

    const char *index_path = arena_printf(&d->arena, "%s/index.md", d->dir);
    struct choice *cands = NULL;
    size_t ncand = 0, capcand = 0;
    /* Matching first (its diagnostics into pre, note by note), then the
     * rendering of every chosen answer (render_answers). */
    struct choice *chosen = xcalloc(d->nnotes ? d->nnotes : 1, sizeof *chosen);
    size_t *pre_end = xcalloc(d->nnotes ? d->nnotes : 1, sizeof *pre_end);
    struct diags pre;
    diags_init(&pre);
    c.dg = &pre;
    for (size_t ni = 0; ni < d->nnotes; ni++) {
        struct note *n = &d->notes[ni];
        ncand = 0;
        struct choice ch;
        if (n->link && link_answer(&c, n, &ch) == 0) {
            GROW(cands, ncand + 1, capcand);
            cands[ncand++] = ch;
        }
        size_t si;
        if (!strmap_get(&c.bykey, n->key, &si)) si = NONE;
        for (; si != NONE; si = c.next_same[si]) {
            struct section *s = &c.secs[si];
            GROW(cands, ncand + 1, capcand);
            cands[ncand++] = (struct choice){"heading", s->file, si};
            s->used = 1; /* matched: not an orphan, even when not chosen */
        }
        /* Every (file, source) pair naming one of the note's sources, in
         * file order (a note's sources are distinct, so each pair once). */
        nhits = 0;
        for (size_t m = 0; m < n->nsources; m++) {
            size_t e;
            if (!strmap_get(&c.bysrc, n->sources[m], &e)) continue;
            for (; e != NONE; e = c.srcs[e].next) {
                GROW(hits, nhits + 1, caphits);
                hits[nhits++] = e;
            }
        }
        if (nhits > 1) qsort(hits, nhits, sizeof *hits, cmp_size);
        for (size_t h = 0; h < nhits; h++) {
            size_t fi = c.srcs[hits[h]].file;
            GROW(cands, ncand + 1, capcand);
            cands[ncand++] = (struct choice){"source-url", fi, (size_t)-1};
            c.files[fi].used = 1;
        }
        if (n->inline_md) {
            GROW(cands, ncand + 1, capcand);
            cands[ncand++] = (struct choice){"inline", (size_t)-1, (size_t)-1};
        }
        if (!ncand) {
            pre_end[ni] = pre.n;
            continue;
        }
        if (ncand > 1) {
            struct buf a = BUF_INIT, b = BUF_INIT;
            describe(&c, &cands[0], &a);
            for (size_t k = 1; k < ncand; k++) {
                if (k > 1) buf_adds(&b, ", ");
                describe(&c, &cands[k], &b);
            }
            diag_add(&pre, SEV_WARNING, index_path, n->line, n->col,
                     "question has %zu answers; using %s, not %s (remove or rename the others)",
                     ncand, a.s, b.s);
            buf_release(&a);
            buf_release(&b);
        }
        chosen[ni] = cands[0];
        mark_used(&c, &cands[0]);
        pre_end[ni] = pre.n;
    }
    free(cands);
    free(hits);
    c.dg = dg;
    prof_mark("answers: matched");
    render_answers(&c, chosen, &pre, pre_end);
    prof_mark("answers: rendered");
    free(chosen);
    free(pre_end);
    diags_free(&pre);

    /* Orphans: sections that answer nothing.  A # title above ## sections is
     * a file title, not an answer. */
    for (size_t si = 0; si < c.nsecs; si++) {
        struct section *s = &c.secs[si];
        const struct file *sf = &c.files[s->file];
        if (s->used || !sf->loaded) continue;
        int has_h2 = 0;
        for (size_t k = sf->sec_first; k < sf->sec_end && !has_h2; k++)
            if (c.secs[k].level == 2) has_h2 = 1;
        if (s->level == 1 && has_h2) continue;
        if (s->body_end <= s->body) continue;
        diag_add(dg, SEV_WARNING, c.files[s->file].path, s->line, 1,
                 "answer '%s' matches no question in the index; make its heading the question's text, or link it from the index",
                 s->title);
    }
    for (size_t fi = 0; fi < c.nfiles; fi++) {
        struct file *f = &c.files[fi];
        int any = f->sec_end > f->sec_first;
        if (f->loaded && !f->used && !any)
            diag_add(dg, SEV_WARNING, f->path, 0, 0,
                     "answer file matches no question; link it from the index, give it a heading that is the question, or a 'source:' front matter naming the question's URL");
    }
    for (size_t ni = 0; ni < d->nnotes; ni++)
        if (!d->notes[ni].answer.html)
            diag_add(dg, SEV_NOTE, index_path, d->notes[ni].line, d->notes[ni].col,
                     "question has no answer yet: '%s'", d->notes[ni].question);

    if (d->opt.unsafe_html)
        diag_add(dg, SEV_WARNING, index_path, d->opt.fm_line, 1,
                 "'sanitize: false': answers go into the deck unsanitized; scripts in them will run in Anki");

    for (size_t i = 0; i < c.nfiles; i++) {
        free(c.files[i].rel);
        free(c.files[i].path);
        buf_release(&c.files[i].src);
    }
    for (size_t i = 0; i < c.nsecs; i++) {
        free(c.secs[i].title);
        free(c.secs[i].key);
        free(c.secs[i].slug);
    }
    free(c.files);
    free(c.secs);
    free(c.next_same);
    free(c.srcs);
    strmap_free(&c.bykey);
    strmap_free(&c.byrel);
    strmap_free(&c.bysrc);
    malloc_trim(0); /* the sections and maps, before the outputs are made */
    return dg->nerrors > errors_before ? -1 : 0;
}
