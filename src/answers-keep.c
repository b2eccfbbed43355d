/* answers-keep.c - a watcher's refresh: the answers of changed answer
 * files rendered again in the deck of the last build, when the matching
 * cannot have changed.  Split from answers.c. */
#include "answers-int.h"

#include <stdlib.h>
#include <string.h>

#include "mdeck/cloze.h"
#include "mdeck/index.h"
#include "mdeck/spill.h"
#include "mdeck/text.h"

void answers_keep_free(struct answer_keep *k)
{
    if (!k) return;
    answers_free_files(&k->c);
    strmap_free(&k->c.byrel);
    free(k->chosen);
    free(k->clean);
    free(k->use_at);
    free(k->use_media);
    free(k);
}

size_t answers_keep_nfiles(const struct answer_keep *k)
{
    return k->c.nfiles;
}

const char *answers_keep_path(const struct answer_keep *k, size_t fi)
{
    return k->c.files[fi].path;
}

const struct stat *answers_keep_stat(const struct answer_keep *k, size_t fi)
{
    return &k->c.files[fi].st;
}

int answers_keep_bytes_same(const struct answer_keep *k, size_t fi, const struct buf *text)
{
    const struct file *f = &k->c.files[fi];
    return f->loaded && !f->is_html && text->len == f->len && answers_crc(text) == f->crc;
}

int answers_same_files(const struct answer_keep *k, const char *dir)
{
    struct ctx t = {.dir = dir};
    diags_init(&t.load_dg);
    t.dg = &t.load_dg;
    answers_walk(&t);
    int same = t.load_dg.n == 0 && t.nfiles == k->c.nfiles;
    for (size_t i = 0; same && i < t.nfiles; i++)
        same = !strcmp(t.files[i].rel, k->c.files[i].rel) &&
               t.files[i].is_html == k->c.files[i].is_html;
    answers_free_files(&t);
    diags_free(&t.load_dg);
    return same;
}

/* File fi read again into t: 1 when it matches exactly as the kept one did
 * (same sections by level, title, key, slug and emptiness; same sources;
 * read without a message; when the file drew a "matches no question"
 * message, its sections on the same lines, as the message names them). */
static int reload_same(struct deck *d, const struct answer_keep *k, size_t fi, struct ctx *t)
{
    const struct file *of = &k->c.files[fi];
    t->dir = d->dir;
    arena_init(&t->arena);
    diags_init(&t->load_dg);
    t->dg = &t->load_dg;
    t->files = xcalloc(1, sizeof *t->files);
    t->nfiles = 1;
    t->files[0].rel = xstrdup(of->rel);
    t->files[0].path = xstrdup(of->path);
    buf_init(&t->files[0].src);
    answers_read_one(t, 0, &t->arena);
    struct file *nf = &t->files[0];
    int same = nf->loaded && !(nf->fdg && nf->fdg->n) &&
               nf->nls == of->sec_end - of->sec_first && nf->nsources == of->nsources;
    for (size_t i = 0; same && i < nf->nsources; i++)
        same = !strcmp(nf->sources[i], of->sources[i]);
    struct buf clean = BUF_INIT, key = BUF_INIT;
    for (size_t i = 0; same && i < nf->nls; i++) {
        const struct section *a = &k->c.secs[of->sec_first + i], *b = &nf->ls[i];
        buf_reset(&clean);
        buf_reset(&key);
        question_clean(d, NULL, b->title, &clean);
        text_key(clean.s, &key);
        same = a->level == b->level && !strcmp(a->title, b->title) && !strcmp(a->key, key.s) &&
               !strcmp(a->slug, b->slug) && (a->body_end > a->body) == (b->body_end > b->body) &&
               (!of->orphaned || a->line == b->line);
    }
    buf_release(&clean);
    buf_release(&key);
    return same;
}

static void reload_free(struct ctx *t)
{
    struct file *nf = &t->files[0];
    for (size_t i = 0; i < nf->nls; i++) {
        free(nf->ls[i].title);
        free(nf->ls[i].slug);
    }
    free(nf->ls);
    if (nf->fdg) {
        diags_free(nf->fdg);
        free(nf->fdg);
    }
    free(nf->rel);
    free(nf->path);
    buf_release(&nf->src);
    free(t->files);
    arena_free(&t->arena);
    diags_free(&t->load_dg);
}

int answers_refresh(struct deck *d, struct answer_keep *k, size_t fi, struct refreshed *r)
{
    struct file *of = &k->c.files[fi];
    if (of->is_html || of->diagnosed || !of->loaded) return 0;
    for (size_t ni = 0; ni < d->nnotes; ni++)
        if (k->chosen[ni].how && k->chosen[ni].file == fi &&
            (!k->clean[ni] || d->notes[ni].cloze))
            return 0;
    struct ctx t = {0};
    if (!reload_same(d, k, fi, &t)) {
        reload_free(&t);
        return 0;
    }
    /* From here on the kept deck changes: any surprise makes it unusable. */
    struct file *nf = &t.files[0];
    of->st = nf->st;
    of->len = nf->src.len;
    of->crc = answers_crc(&nf->src);
    of->src = nf->src;
    buf_init(&nf->src);
    of->body_off = nf->body_off;
    for (size_t i = 0; i < nf->nls; i++) {
        struct section *a = &k->c.secs[of->sec_first + i];
        a->line = nf->ls[i].line;
        a->body = nf->ls[i].body;
        a->body_end = nf->ls[i].body_end;
        a->body_line = nf->ls[i].body_line;
    }
    reload_free(&t);
    struct diags dg;
    diags_init(&dg);
    struct ctx c = k->c;
    c.d = d;
    c.dg = &dg;
    struct arena scratch;
    arena_init(&scratch);
    int unsafe = d->opt.unsafe_html, rc = 1;
    struct spill_reader old = SPILL_READER_NEAR; /* the file's, in order */
    struct arena fresh; /* a note's new texts, until they are known to differ */
    arena_init(&fresh);
    c.texts = &fresh;
    c.raw = unsafe ? &d->arena : &scratch;
    d->log_uses = 1;
    d->nuses = 0;
    for (size_t ni = 0; ni < d->nnotes && rc == 1; ni++) {
        if (!k->chosen[ni].how || k->chosen[ni].file != fi) continue;
        struct note *n = &d->notes[ni];
        const char *html = n->answer.html, *text = n->answer.text;
        size_t uses = d->nuses, nmedia = d->nmedia;
        answers_apply(&c, n, &k->chosen[ni]);
        cloze_make(d, n, c.raw, &dg);
        if (!unsafe) answers_sanitize(&fresh, n, NULL);
        arena_free(&scratch);
        n->answer.md = NULL;
        /* An answer that renders as before keeps its texts (a file touched
         * but not changed, or read again because its times were racy,
         * does not grow the kept deck); the old ones may be in the spill:
         * read, not mapped. */
        const char *new_html = n->answer.html, *new_text = n->answer.text;
        int same = html && text && new_html && new_text &&
                   !strcmp(spill_get(d->spill, html, &old), new_html) &&
                   !strcmp(spill_get(d->spill, text, &old), new_text);
        n->answer.html = same ? html : arena_strdup(&d->arena, new_html);
        n->answer.text = same ? text : arena_strdup(&d->arena, new_text);
        if (n->cloze) n->cloze_html = arena_strdup(&d->arena, n->cloze_html); /* (a full build follows) */
        arena_free(&fresh);
        /* the same images, in the same order: the deck's media list, made
         * in first-use order, stays what a full build would make */
        size_t was = k->use_at[ni], nwas = k->use_at[ni + 1] - was;
        int same_media = d->nmedia == nmedia && d->nuses - uses == nwas &&
                         (!nwas || !memcmp(d->uses + uses, k->use_media + was,
                                           nwas * sizeof *d->uses));
        if (dg.n || !same_media || n->cloze || !n->answer.html || !n->answer.text) {
            rc = -1;
            break;
        }
        if (!same) {
            GROW(r->notes, r->n + 1, r->cap);
            r->old_text = xrealloc(r->old_text, r->cap * sizeof *r->old_text);
            r->old_text[r->n] = text;
            r->notes[r->n++] = ni;
        }
    }
    d->log_uses = 0;
    spill_reader_free(&old);
    arena_free(&scratch);
    diags_free(&dg);
    buf_release(&of->src);
    return rc;
}
