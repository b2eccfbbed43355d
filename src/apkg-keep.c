/* apkg-keep.c - a kept package updated in place (apkg_update): only the
 * changed notes' rows, then only the collection's pieces whose bytes
 * changed deflated again.  Split from apkg.c, which makes the kept build. */
#include "mdeck/apkg.h"
#include "apkg-int.h"

#include <stdlib.h>
#include <string.h>

#include "mdeck/anki-model.h"
#include "mdeck/pdeflate.h"
#include "mdeck/util.h"

/* --- updating a kept build ------------------------------------------------ */

/* 1 when k was made from d as it is now, but for the notes' fields. */
static int keep_fits(const struct apkg_keep *k, const struct deck *d)
{
    if (k->unusable || k->p.d != d || d->notes != k->notes || d->nnotes != k->nnotes)
        return 0;
    char *now = pkg_deck_print(d);
    int same = !strcmp(now, k->deck_print);
    free(now);
    return same;
}

/* 1 when a full build now would keep the removed notes exactly as the kept
 * package has them: none has become old enough to be dropped, and they come
 * in id order (a full build takes them from the kept package in id order,
 * which decides their ids and card positions). */
static int removed_stay(const struct apkg_keep *k)
{
    const struct pkg *p = &k->p;
    if (k->first_removed < p->nnotes && !k->removed_in_order) return 0;
    for (size_t i = k->first_removed; i < p->nnotes; i++)
        if (p->notes[i].mod < p->now - (int64_t)MDECK_REMOVED_KEEP_DAYS * 86400) return 0;
    return 1;
}

/* 1 when the package row of pn (deck note n, new fields flds) differs from
 * the kept one in nothing but its fields, sort field and checksum: same
 * note type (not Cloze), guid, tags, deck and card ordinals. */
static int only_fields_differ(struct apkg_keep *k, const struct note *n, const struct pnote *pn,
                              const struct buf *flds)
{
    struct pkg *p = &k->p;
    const struct deck *d = p->d;
    if (n->cloze || pn->model->type == ANKI_MODEL_CLOZE || pn->model != pkg_note_model(d, n))
        return 0;
    char g[12];
    pkg_guid_of(d, n, 0, g); /* a note that needed a later attempt falls back */
    if (strcmp(g, pn->guid) || strcmp(pkg_note_deck(p, n), p->decks[pn->deck].name)) return 0;
    struct buf tags = BUF_INIT;
    pkg_note_tags(d, n, &tags);
    int same = !strcmp(tags.s, pn->tags);
    buf_release(&tags);
    int ords[ANKI_MAX_CLOZE];
    size_t nords = pkg_card_ords(&p->scratch, pn->model, flds->s, ords);
    return same && nords == pn->nords && !memcmp(ords, pn->ords, nords * sizeof *ords);
}

enum { PLAN_EDIT, PLAN_NOTHING, PLAN_FULL };

/* What deck note i needs: an edit of its rows (e filled), nothing (it stays
 * out of the package), or a full build. */
static int plan_note(struct apkg_keep *k, size_t i, struct buf *flds, struct pkg_edit *e)
{
    const struct note *n = &k->notes[i];
    /* no spill: the few notes an update reads map little of it */
    size_t first_len = pkg_note_flds(n, NULL, flds, NULL);
    int left_out = !first_len || (k->answered_only && !n->answer.html);
    size_t pi = k->pnote_of[i];
    if (pi == SIZE_MAX) return left_out ? PLAN_NOTHING : PLAN_FULL;
    struct pnote *pn = &k->p.notes[pi];
    if (left_out || !only_fields_differ(k, n, pn, flds)) return PLAN_FULL;
    if (strlen(pn->first) != first_len || memcmp(pn->first, flds->s, first_len))
        pn->first = arena_strndup(&k->p.a, flds->s, first_len);
    e->note = pi;
    e->flds = xstrndup(flds->s, flds->len);
    e->first_len = first_len;
    return PLAN_EDIT;
}

/* The edits for the changed notes into e (*ne of them); 0, or 1 when only a
 * full build gives the right package. */
static int plan_edits(struct apkg_keep *k, const size_t *changed, size_t nchanged,
                      struct pkg_edit *e, size_t *ne)
{
    struct buf flds = BUF_INIT;
    int rc = removed_stay(k) ? 0 : 1;
    for (size_t c = 0; c < nchanged && rc == 0; c++) {
        size_t i = changed[c];
        if (i >= k->nnotes || (c && i <= changed[c - 1])) rc = 1;
        else {
            int plan = plan_note(k, i, &flds, &e[*ne]);
            if (plan == PLAN_FULL) rc = 1;
            if (plan == PLAN_EDIT) (*ne)++;
        }
    }
    buf_release(&flds);
    return rc;
}

/* The kept collection updated, its changed pieces deflated again, and the
 * package written. */
static int write_update(struct apkg_keep *k, struct pkg_edit *e, size_t ne,
                        const char *zip_path, struct apkg_stats *st, struct diags *dg)
{
    struct pkg *p = &k->p;
    if (pkg_update_collection(p, k->db_path, e, ne, dg) < 0) return -1;
    prof_mark("package update: rows");
    size_t rewritten = 0;
    for (size_t i = 0; i < ne; i++) rewritten += (size_t)e[i].changed;
    /* No row written: the file is as the pieces describe it (reading it
     * writes nothing), so the pass over it would find nothing. */
    if (rewritten && pkg_deflate_kept(p, k->set, k->db_path, NULL, dg) < 0) return -1;
    k->deflated = rewritten ? pdeflate_set_deflated(k->set) : 0;
    prof_mark("package update: pieces");
    int rc = pkg_load_media(p, dg) == 0 && pkg_write_zip(p, k->db_path, k->set, NULL, zip_path, dg) == 0
                 ? 0
                 : -1;
    pkg_free_media(p);
    prof_mark("package update: zip");
    if (rc < 0) return -1;
    /* What a full build with the kept package as the previous one counts:
     * every note is known, removed ones were tagged before. */
    st->notes = k->first_removed;
    st->kept_removed = p->nnotes - k->first_removed;
    st->changed = rewritten;
    return 0;
}

int apkg_update(struct apkg_keep *k, const struct deck *d, const size_t *changed,
                size_t nchanged, const char *zip_path, struct apkg_stats *st,
                struct diags *dg)
{
    struct apkg_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    if (!k || !keep_fits(k, d)) {
        if (k) k->unusable = 1;
        return 1;
    }
    k->p.now = now_seconds();
    struct pkg_edit *e = xcalloc(nchanged ? nchanged : 1, sizeof *e);
    size_t ne = 0;
    int rc = plan_edits(k, changed, nchanged, e, &ne);
    if (rc == 0) {
        for (size_t i = 0; i < k->said.n; i++) {
            const struct diag *g = &k->said.v[i];
            diag_add(dg, g->sev, g->path, g->line, g->col, "%s", g->msg);
        }
        rc = write_update(k, e, ne, zip_path, st, dg);
    }
    for (size_t i = 0; i < ne; i++) free(e[i].flds);
    free(e);
    if (rc) k->unusable = 1;
    return rc;
}
