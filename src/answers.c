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
#include "answers-int.h"
#include "mdeck/cloze.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdeck/htmlfile.h"
#include "mdeck/index.h"
#include "mdeck/par.h"
#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/spill.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* --- matching ----------------------------------------------------------- */


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

/* Keeps a final answer text: in the worker's spill stage, else in c->texts,
 * else in the deck's arena. */
static void keep_text(struct ctx *c, const char **slot, const char *s, size_t len)
{
    if (c->stage) spill_put(c->stage, slot, s, len);
    else *slot = arena_strndup(c->texts ? c->texts : &c->d->arena, s, len);
}

/* The answer's path, made once: a watcher's refresh renders it again. */
static void keep_path(struct deck *d, struct note *n, const char *rel)
{
    if (!n->answer.path || strcmp(n->answer.path, rel)) n->answer.path = arena_strdup(&d->arena, rel);
}

static void set_answer(struct ctx *c, struct note *n, const char *how, const char *rel,
                       int line, const char *md, size_t len, const char *base_dir,
                       int md_line, const char *diag_path)
{
    struct deck *d = c->d;
    struct buf own_html = BUF_INIT, own_text = BUF_INIT;
    struct buf *hb = c->html ? c->html : &own_html, *tb = c->text ? c->text : &own_text;
    buf_reset(hb);
    buf_reset(tb);
    int canonical = 0;
    struct render_ctx rc = {.deck = d, .path = diag_path, .base_dir = base_dir,
                            .first_line = md_line, .canonical = &canonical};
    render_markdown(&rc, md, len, hb, tb, c->dg);
    buf_trim(tb);
    n->answer.canonical = canonical;
    n->answer.how = how;
    keep_path(d, n, rel);
    n->answer.line = line;
    /* Needed only while the note is made (cloze): with the unsanitized
     * HTML, not kept for the whole build (that was the size of every
     * answer file again). */
    n->answer.md = arena_strndup(c->raw, md, len);
    keep_text(c, &n->answer.text, tb->s, tb->len);
    n->answer.html = arena_strndup(c->raw, hb->s, hb->len);
    buf_release(&own_html);
    buf_release(&own_text);
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
    if (escapes || !answers_inside(d->dir, full)) {
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
void answers_apply(struct ctx *c, struct note *n, const struct choice *ch)
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
            keep_path(d, n, f->rel);
            n->answer.line = 1;
            n->answer.canonical = 0; /* someone else's HTML: always sanitized */
            n->answer.html = arena_strndup(c->raw, html.s, html.len);
            keep_text(c, &n->answer.text, text.s, text.len);
        }
        buf_release(&html);
        buf_release(&text);
    } else if (ch->sec == (size_t)-1) {
        int body_line = answers_line_of(f->src.s, f->src.s + f->body_off);
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
    struct real_paths real; /* shadow.real */
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
    int trim;                    /* give freed file text back (TRIM_MIN) */
    struct worker w[PAR_MAX_WORKERS];
};

/* Sanitizes the note's answer and cloze text into a (the answer into st
 * when st is not NULL).  An answer rendered from markdown is only copied
 * when memo holds its exact bytes as a canonical render: the sanitizer
 * would return them unchanged (render.h; proven by test_canonical.c and
 * fuzz_render.c).  HTML answer files and cloze texts, put together after
 * rendering, are always sanitized. */
void answers_sanitize(struct arena *a, struct note *n, struct spill_stage *st)
{
    const char **fields[] = {&n->answer.html, &n->cloze_html};
    struct buf out = BUF_INIT;
    for (size_t k = 0; k < 2; k++) {
        if (!*fields[k]) continue;
        const char *s = *fields[k];
        size_t len = strlen(s);
        if (k != 0 || !n->answer.canonical) {
            buf_reset(&out);
            sanitize_html(s, len, &out);
            s = out.s;
            len = out.len;
        }
        if (k == 0 && st) spill_put(st, fields[k], s, len);
        else *fields[k] = arena_strndup(a, s, len);
    }
    buf_release(&out);
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
    struct buf html = BUF_INIT, text = BUF_INIT; /* grown once, not per note */
    c.html = &html;
    c.text = &text;
    c.stage = wk->c->d->spill ? spill_stage_new(wk->c->d->spill, &c.d->arena) : NULL;
    int freed = 0;
    for (size_t k = begin; k < end; k++) {
        size_t ni = wk->order[k];
        struct note *n = &wk->c->d->notes[ni];
        struct rendered *r = &wk->done[ni];
        r->w = w;
        r->diag = me->dg.n;
        r->use = me->shadow.nuses;
        const struct choice *ch = &wk->chosen[ni];
        if (ch->how && (ch->file == (size_t)-1 || answers_reload(wk->c, ch->file, c.dg)))
            answers_apply(&c, n, ch);
        cloze_make(c.d, n, c.raw, c.dg); /* {{c1::...}} in the question needs no answer */
        /* Every field that leaves mdeck is sanitized (unless the deck opted out). */
        if (!unsafe) {
            answers_sanitize(&c.d->arena, n, c.stage);
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
    spill_stage_free(c.stage); /* points the chunk's answers into the file */
    arena_free(&scratch);
    buf_release(&html);
    buf_release(&text);
    /* The texts were malloc'd below the mmap threshold: give their pages
     * back now, or the heap keeps them while the answers pile up. */
    if (freed && wk->trim) malloc_trim(0);
}

/* The bytes of the answer files read for the render. */
static size_t files_bytes(const struct ctx *c)
{
    size_t total = 0;
    for (size_t i = 0; i < c->nfiles; i++) total += c->files[i].len;
    return total;
}

/* Whether the render gives freed answer-file text back to the system.
 * Each malloc_trim() locks every thread's heap and returns each free range
 * with its own madvise(), which interrupts the other CPU to flush its TLB:
 * for a few megabytes of text that costs more than it saves (1k notes,
 * 0.7 MB: ~2 ms of 40).  From TRIM_MIN on, every chunk that freed a file
 * trims (a 10k deck's 7.9 MB kept to the end cost 4 MB of peak memory). */
#define TRIM_MIN ((size_t)4 << 20)

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
                           const struct diags *pre, const size_t *pre_end,
                           struct answer_keep *keep)
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
    size_t bytes = files_bytes(c);
    if (!d->spill && n && bytes >= answers_large()) d->spill = spill_open(); /* NULL: the heap, then */
    struct work wk = {.c = c, .chosen = chosen, .order = order, .trim = bytes >= TRIM_MIN,
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
        s->real = &wk.w[w].real; /* for this render only */
        diags_init(&wk.w[w].dg);
    }
    par_run(n, chunk, workers, answer_range, &wk);

    size_t at = 0, nuse = 0, capuse = 0;
    for (size_t ni = 0; ni < n; ni++) {
        const struct rendered *r = &wk.done[ni];
        struct worker *me = &wk.w[r->w];
        for (; at < pre_end[ni]; at++) diag_copy(c->dg, &pre->v[at]);
        for (size_t k = r->diag; k < r->diag_end; k++) diag_copy(c->dg, &me->dg.v[k]);
        /* media in first-use order, as deck_add_media() keeps them */
        if (keep) {
            keep->clean[ni] = r->diag == r->diag_end;
            keep->use_at[ni] = nuse;
        }
        for (size_t k = r->use; k < r->use_end; k++) {
            const struct media *m = &me->shadow.media[me->shadow.uses[k]];
            deck_merge_media(d, m);
            size_t mi = 0;
            if (!keep) continue;
            strmap_get(&d->media_at, m->name, &mi);
            GROW(keep->use_media, nuse + 1, capuse);
            keep->use_media[nuse++] = mi;
        }
    }
    if (keep) keep->use_at[n] = nuse;
    for (size_t w = 0; w < workers; w++) {
        struct worker *me = &wk.w[w];
        free(me->shadow.media);
        free(me->shadow.uses);
        strmap_free(&me->shadow.media_at);
        strmap_free(&me->shadow.media_of_path);
        real_paths_free(&me->real);
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
    answers_walk(c);
    answers_read_all(c);
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
    answers_free_files(c);
    arena_free(&c->arena);
    diags_free(&c->load_dg);
    free(c);
}

int answers_attach(struct deck *d, struct diags *dg)
{
    return answers_attach_loaded(d, answers_load(d->dir), dg);
}

static int attach(struct deck *d, struct answer_files *loaded, struct diags *dg,
                  struct answer_keep **keep);
void answers_keep_free(struct answer_keep *k);

int answers_attach_loaded(struct deck *d, struct answer_files *loaded, struct diags *dg)
{
    return attach(d, loaded, dg, NULL);
}

int answers_attach_keep(struct deck *d, struct answer_files *loaded, struct diags *dg,
                        struct answer_keep **keep)
{
    return attach(d, loaded, dg, keep);
}

static int attach(struct deck *d, struct answer_files *loaded, struct diags *dg,
                  struct answer_keep **keep)
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
    strmap_reserve(&c.bykey, c.nsecs);
    strmap_reserve(&c.byrel, c.nfiles);
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
    strmap_reserve(&c.bysrc, c.nsrcs);
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
    struct answer_keep *kept = NULL;
    if (keep) {
        kept = xcalloc(1, sizeof *kept);
        kept->clean = xcalloc(d->nnotes + 1, 1);
        kept->use_at = xcalloc(d->nnotes + 1, sizeof *kept->use_at);
    }
    render_answers(&c, chosen, &pre, pre_end, kept);
    prof_mark("answers: rendered");
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
        c.files[s->file].orphaned = 1;
        diag_add(dg, SEV_WARNING, c.files[s->file].path, s->line, 1,
                 "answer '%s' matches no question in the index; make its heading the question's text, or link it from the index",
                 s->title);
    }
    for (size_t fi = 0; fi < c.nfiles; fi++) {
        struct file *f = &c.files[fi];
        int any = f->sec_end > f->sec_first;
        if (f->loaded && !f->used && !any) f->orphaned = 1;
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

    free(c.next_same);
    free(c.srcs);
    strmap_free(&c.bykey);
    strmap_free(&c.bysrc);
    c.next_same = NULL;
    c.srcs = NULL;
    int rc = dg->nerrors > errors_before ? -1 : 0;
    if (kept && rc == 0) {
        for (size_t i = 0; i < c.nfiles; i++) buf_release(&c.files[i].src);
        kept->c = c;
        kept->chosen = chosen;
        *keep = kept;
    } else {
        answers_free_files(&c);
        strmap_free(&c.byrel);
        free(chosen);
        answers_keep_free(kept); /* its ctx is still empty */
    }
    return rc;
}
