/* apkg-write.c - the package's bytes: the col row's JSON, the collection
 * (SQLite, schema 11) and the zip; and the few rows an update of a kept
 * collection rewrites.  apkg.c decides what goes in (the notes, their ids
 * and modification times, the notes kept from the previous package); this
 * file writes it.  docs/anki.md explains the importer rules behind every
 * choice. */
#include "mdeck/apkg.h"
#include "apkg-int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <jansson.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "mdeck/anki-model.h"
#include "mdeck/hash.h"
#include "mdeck/par.h"
#include "mdeck/pdeflate.h"
#include "mdeck/spill.h"


/* SQLite's page cache for the build's collection, in KiB. */
#define PKG_CACHE_KIB "2048"
/* The zip timestamp of every entry: 2020-01-01 00:00 (MS-DOS format). */
#define ZIP_DOS_DATE ((uint16_t)((2020 - 1980) << 9 | 1 << 5 | 1))
#define ZIP_DOS_TIME ((uint16_t)0)


/* --- JSON for the col row ------------------------------------------------ */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (!s) abort(); /* only on out of memory */
    return s;
}

static char *conf_json(int64_t first_model)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", (long long)first_model);
    return dump(json_pack(
        "{s:[i], s:i, s:i, s:i, s:i, s:b, s:b, s:s, s:i, s:s, s:b, s:b, s:b, s:b}",
        "activeDecks", 1, "curDeck", 1, "newSpread", 0, "collapseTime", 1200,
        "timeLim", 0, "estTimes", 1, "dueCounts", 1, "curModel", mid, "nextPos",
        1, "sortType", "noteFld", "sortBackwards", 0, "addToCur", 1,
        "dayLearnFirst", 0, "newBury", 1));
}

static char *dconf_json(void)
{
    json_t *new_ = json_pack("{s:b, s:[i,i], s:i, s:[i,i,i], s:i, s:i, s:b}",
                             "bury", 0, "delays", 1, 10, "initialFactor", 2500,
                             "ints", 1, 4, 7, "order", 1, "perDay", 20,
                             "separate", 1);
    json_t *rev = json_pack("{s:b, s:f, s:f, s:i, s:i, s:i, s:i, s:f}", "bury", 0,
                            "ease4", 1.3, "fuzz", 0.05, "ivlFct", 1, "maxIvl",
                            36500, "minSpace", 1, "perDay", 200, "hardFactor", 1.2);
    json_t *lapse = json_pack("{s:[i], s:i, s:i, s:i, s:i}", "delays", 10,
                              "leechAction", 0, "leechFails", 8, "minInt", 1,
                              "mult", 0);
    json_t *one = json_pack("{s:i, s:s, s:i, s:i, s:i, s:b, s:i, s:b, s:b, s:o, "
                            "s:o, s:o}",
                            "id", 1, "name", "Default", "mod", 0, "usn", 0,
                            "maxTaken", 60, "autoplay", 1, "timer", 0, "replayq",
                            1, "dyn", 0, "new", new_, "rev", rev, "lapse", lapse);
    return dump(json_pack("{s:o}", "1", one));
}

static json_t *deck_json(int64_t id, const char *name, const char *desc,
                         int64_t mod)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:i, s:b, s:b, s:i, s:i, s:i, s:i, "
                     "s:[i,i], s:[i,i], s:[i,i], s:[i,i]}",
                     "id", (json_int_t)id, "name", name, "desc", desc, "mod",
                     (json_int_t)mod, "usn", -1, "collapsed", 0,
                     "browserCollapsed", 0, "dyn", 0, "conf", 1, "extendNew", 0,
                     "extendRev", 0, "newToday", 0, 0, "revToday", 0, 0,
                     "lrnToday", 0, 0, "timeToday", 0, 0);
}

static char *decks_json(const struct pkg *p, int64_t mod)
{
    json_t *o = json_object();
    json_object_set_new(o, "1", deck_json(1, "Default", "", 0));
    for (size_t i = 0; i < p->ndecks; i++) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)p->decks[i].id);
        const char *desc = i == p->top && p->d->desc_html ? p->d->desc_html : "";
        json_object_set_new(o, key, deck_json(p->decks[i].id, p->decks[i].name,
                                              desc, mod));
    }
    return dump(o);
}

/* The note types the package's notes use (Basic when there is none), in id
 * order; *first receives the first one's id. */
static char *models_json(const struct pkg *p, int64_t *first)
{
    json_t *o = json_object();
    *first = 0;
    for (size_t i = 0; i < anki_nmodels; i++) {
        const struct anki_model *m = anki_models[i];
        int used = 0;
        for (size_t k = 0; k < p->nnotes && !used; k++) used = p->notes[k].model == m;
        if (!used && (p->nnotes || m->id != MDECK_MODEL_BASIC)) continue;
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)m->id);
        json_object_set_new(o, key, anki_model_json(m, p->decks[p->top].id));
        if (!*first) *first = m->id;
    }
    return dump(o);
}

/* --- SQLite -------------------------------------------------------------- */

/* Anki's schema 11, as Anki 2.1 creates it. */
static const char schema_sql[] =
    "CREATE TABLE col (id integer primary key not null, crt integer not null,"
    " mod integer not null, scm integer not null, ver integer not null,"
    " dty integer not null, usn integer not null, ls integer not null,"
    " conf text not null, models text not null, decks text not null,"
    " dconf text not null, tags text not null);"
    "CREATE TABLE notes (id integer primary key not null, guid text not null,"
    " mid integer not null, mod integer not null, usn integer not null,"
    " tags text not null, flds text not null, sfld integer not null,"
    " csum integer not null, flags integer not null, data text not null);"
    "CREATE TABLE cards (id integer primary key not null, nid integer not null,"
    " did integer not null, ord integer not null, mod integer not null,"
    " usn integer not null, type integer not null, queue integer not null,"
    " due integer not null, ivl integer not null, factor integer not null,"
    " reps integer not null, lapses integer not null, left integer not null,"
    " odue integer not null, odid integer not null, flags integer not null,"
    " data text not null);"
    "CREATE TABLE revlog (id integer primary key not null, cid integer not null,"
    " usn integer not null, ease integer not null, ivl integer not null,"
    " lastIvl integer not null, factor integer not null, time integer not null,"
    " type integer not null);"
    "CREATE TABLE graves (usn integer not null, oid integer not null,"
    " type integer not null);";

/* Created after the rows: one sort per index instead of a b-tree update per
 * row. */
static const char index_sql[] =
    "CREATE INDEX ix_notes_usn on notes (usn);"
    "CREATE INDEX ix_cards_usn on cards (usn);"
    "CREATE INDEX ix_revlog_usn on revlog (usn);"
    "CREATE INDEX ix_cards_nid on cards (nid);"
    "CREATE INDEX ix_cards_sched on cards (did, queue, due);"
    "CREATE INDEX ix_revlog_cid on revlog (cid);"
    "CREATE INDEX ix_notes_csum on notes (csum);";

static int sql_fail(sqlite3 *db, const struct pkg *p, struct diags *dg)
{
    int e = sqlite3_system_errno(db);
    diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
             "cannot build the Anki collection: %s%s%s (the previous file is kept)",
             sqlite3_errmsg(db), e ? ": " : "", e ? strerror(e) : "");
    return -1;
}

/* A row to insert: its id and where its content is. */
struct row {
    int64_t id;
    size_t note; /* index into pkg.notes */
    size_t ord;  /* cards: index into the note's ords */
};

/* csum: the first 4 bytes of the SHA-1 of the stripped first field (the
 * sort field, sfld), big-endian. */
static uint32_t csum_of(const char *sfld, size_t len)
{
    uint8_t h[20];
    sha1(sfld, len, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* The col row's times: crt is the day the newest note changed; scm and mod
 * follow the notes too, so nothing here depends on when the build ran. */
static void col_times(int64_t maxmod, int64_t *crt, int64_t *mod, int64_t *scm)
{
    *crt = maxmod - maxmod % 86400;
    *mod = maxmod * 1000;
    *scm = *crt * 1000;
}

/* The newest note mod, or the newest note type's when there is no note. */
static int64_t pkg_maxmod(const struct pkg *p)
{
    int64_t maxmod = 0;
    for (size_t i = 0; i < p->nnotes; i++)
        if (p->notes[i].mod > maxmod) maxmod = p->notes[i].mod;
    if (!maxmod)
        for (size_t i = 0; i < anki_nmodels; i++)
            if (anki_models[i]->mod > maxmod) maxmod = anki_models[i]->mod;
    return maxmod;
}

/* The notes' row contents, made a batch ahead of the inserts: the fields,
 * the sort field and its checksum of one batch of notes are made on a
 * second thread while SQLite inserts the batch before (at 100k that work
 * is a quarter of the inserts' time). */
#define BATCH 256

struct batch {
    struct buf text;            /* each row's flds, then its sfld, NUL-ended */
    size_t flds[BATCH], sfld[BATCH], sfld_len[BATCH];
    uint32_t csum[BATCH];
    size_t n;
};

struct prep {
    struct pkg *p;
    const struct row *rows;
    size_t nrows, nbatches;
    struct batch b[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t made, used; /* batches made, batches inserted */
    int stop;          /* the inserts failed: make no more */
    /* the deck notes settled (pkg_note_settle()) as their fields are made */
    struct arena a;        /* their card ordinals, when not the shared {0} */
    struct buf scratch;
    size_t added, changed; /* against the previous package */
    size_t nocard;         /* the first note (index into p->notes) without a card */
};

static void make_batch(struct prep *pr, size_t k, struct batch *b)
{
    struct buf flds = BUF_INIT;
    struct spill_reader answer = SPILL_READER_ONE; /* id order: answer by answer */
    buf_reset(&b->text);
    b->n = 0;
    for (size_t r = k * BATCH; r < pr->nrows && r < (k + 1) * BATCH; r++, b->n++) {
        size_t ni = pr->rows[r].note;
        struct pnote *pn = &pr->p->notes[ni];
        const char *f = pn->flds;
        size_t flen;
        if (f) {
            flen = strlen(f);
        } else {
            pkg_note_flds(pn->src, pr->p->d->spill, &flds, &answer);
            f = flds.s;
            flen = flds.len;
            int how = pkg_note_settle(pr->p, pn, &flds, &pr->a, &pr->scratch);
            pr->added += how == 1;
            pr->changed += how == 2;
            if (!pn->nords && ni < pr->nocard) pr->nocard = ni;
        }
        b->flds[b->n] = b->text.len;
        buf_add(&b->text, f, flen + 1);
        b->sfld[b->n] = b->text.len;
        anki_strip_html(pn->first, &b->text);
        b->sfld_len[b->n] = b->text.len - b->sfld[b->n];
        buf_addc(&b->text, '\0');
        /* anki_csum(pn->first), without stripping the field again */
        b->csum[b->n] = csum_of(b->text.s + b->sfld[b->n], b->sfld_len[b->n]);
    }
    buf_release(&flds);
    spill_reader_free(&answer);
}

static void *prep_run(void *arg)
{
    struct prep *pr = arg;
    for (size_t k = 0; k < pr->nbatches; k++) {
        pthread_mutex_lock(&pr->mu);
        while (!pr->stop && k >= pr->used + 2) pthread_cond_wait(&pr->cv, &pr->mu);
        int stop = pr->stop;
        pthread_mutex_unlock(&pr->mu);
        if (stop) break;
        make_batch(pr, k, &pr->b[k % 2]);
        pthread_mutex_lock(&pr->mu);
        pr->made = k + 1;
        pthread_cond_broadcast(&pr->cv);
        pthread_mutex_unlock(&pr->mu);
    }
    return NULL;
}

/* Inserts the notes of rows (in that order), settling the deck notes'
 * card ordinals and mod on the way (p->added, p->changed); 0, -1 when a
 * step failed, or -2 when a note has no card (said in dg). */
static int insert_notes(sqlite3_stmt *note, struct pkg *p, const struct row *rows,
                        size_t nrows, struct diags *dg)
{
    struct prep pr = {.p = p, .rows = rows, .nrows = nrows,
                      .nbatches = (nrows + BATCH - 1) / BATCH, .nocard = SIZE_MAX};
    arena_init(&pr.a);
    buf_init(&pr.scratch);
    buf_init(&pr.b[0].text);
    buf_init(&pr.b[1].text);
    pthread_mutex_init(&pr.mu, NULL);
    pthread_cond_init(&pr.cv, NULL);
    pthread_t tid;
    int threaded = pr.nbatches > 1 && par_workers(2, 1) > 1 &&
                   par_thread_create(&tid, prep_run, &pr) == 0;
    int rc = 0;
    for (size_t k = 0; k < pr.nbatches && rc == 0; k++) {
        struct batch *b = &pr.b[k % 2];
        if (threaded) {
            pthread_mutex_lock(&pr.mu);
            while (pr.made <= k) pthread_cond_wait(&pr.cv, &pr.mu);
            pthread_mutex_unlock(&pr.mu);
        } else {
            make_batch(&pr, k, b);
        }
        for (size_t i = 0; i < b->n && rc == 0; i++) {
            const struct pnote *pn = &p->notes[rows[k * BATCH + i].note];
            sqlite3_reset(note);
            sqlite3_bind_int64(note, 1, pn->id);
            sqlite3_bind_text(note, 2, pn->guid, -1, SQLITE_STATIC);
            sqlite3_bind_int64(note, 3, pn->model->id);
            sqlite3_bind_int64(note, 4, pn->mod);
            sqlite3_bind_text(note, 5, pn->tags, -1, SQLITE_STATIC);
            /* the fields end with their NUL right before the sort field */
            sqlite3_bind_text(note, 6, b->text.s + b->flds[i],
                              (int)(b->sfld[i] - b->flds[i] - 1), SQLITE_STATIC);
            /* Bound as text: the column's integer affinity turns numeric
             * sort fields into numbers, which is what Anki does too. */
            sqlite3_bind_text(note, 7, b->text.s + b->sfld[i], (int)b->sfld_len[i],
                              SQLITE_STATIC);
            sqlite3_bind_int64(note, 8, b->csum[i]);
            if (sqlite3_step(note) != SQLITE_DONE) rc = -1;
        }
        sqlite3_reset(note); /* nothing of the batch stays bound */
        sqlite3_clear_bindings(note);
        pthread_mutex_lock(&pr.mu);
        pr.used = k + 1;
        if (rc < 0) pr.stop = 1;
        pthread_cond_broadcast(&pr.cv);
        pthread_mutex_unlock(&pr.mu);
    }
    if (threaded) pthread_join(tid, NULL);
    pthread_mutex_destroy(&pr.mu);
    pthread_cond_destroy(&pr.cv);
    buf_release(&pr.b[0].text);
    buf_release(&pr.b[1].text);
    buf_release(&pr.scratch);
    arena_adopt(&p->a, &pr.a);
    p->added += pr.added;
    p->changed += pr.changed;
    if (rc == 0 && pr.nocard != SIZE_MAX) {
        /* Cannot happen (the first field is non-empty and every model's
         * first card needs only it); a note without cards would be an
         * orphan nobody can study, so refuse rather than ship it. */
        const struct note *n = p->notes[pr.nocard].src;
        diag_add(dg, SEV_ERROR, p->index_path, n->line, n->col,
                 "internal error: this question produced no card");
        rc = -2;
    }
    return rc;
}

/* Rows go in in id order.  Ids are hashes, so note order is random id
 * order, and SQLite would split b-tree pages all over the table; in id
 * order it appends, which is faster and leaves full pages: a smaller file
 * to compress.  (Ids are unique, so the order is total.)  The notes go in
 * first: their card ordinals and mod are settled as their fields are made
 * (insert_notes()), and the cards and the col row (its times are the
 * newest note's) need them. */
static int insert_rows(sqlite3 *db, struct pkg *p, struct diags *dg)
{
    sqlite3_stmt *col = NULL, *note = NULL, *card = NULL;
    char *models = NULL, *conf = NULL, *dconf = NULL, *decks = NULL;
    struct row *nrows = xmalloc((p->nnotes + 1) * sizeof *nrows), *crows = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO col VALUES (1,?,?,?,11,0,0,0,?,?,?,?,'{}')",
                           -1, &col, NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO notes VALUES (?,?,?,?,-1,?,?,?,?,0,'')",
                           -1, &note, NULL) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO cards VALUES "
                           "(?,?,?,?,?,-1,0,0,?,0,0,0,0,0,0,0,0,'')",
                           -1, &card, NULL))
        goto out;
    for (size_t i = 0; i < p->nnotes; i++) nrows[i] = (struct row){p->notes[i].id, i, 0};
    sort_by_i64(nrows, p->nnotes, sizeof *nrows, offsetof(struct row, id));
    int notes_rc = insert_notes(note, p, nrows, p->nnotes, dg);
    if (notes_rc < 0) {
        rc = notes_rc; /* -2: a note without a card, already said */
        goto out;
    }

    struct idset card_ids = {0};
    size_t ncards = 0;
    for (size_t i = 0; i < p->nnotes; i++) ncards += p->notes[i].nords;
    crows = xmalloc((ncards + 1) * sizeof *crows);
    ncards = 0;
    for (size_t i = 0; i < p->nnotes; i++) {
        /* card ids are claimed in note order: collisions resolve the same */
        for (size_t k = 0; k < p->notes[i].nords; k++)
            crows[ncards++] = (struct row){
                pkg_idset_claim(&card_ids, pkg_row_id("card", p->notes[i].guid, p->notes[i].ords[k])), i,
                k};
    }
    free(card_ids.v);
    sort_by_i64(crows, ncards, sizeof *crows, offsetof(struct row, id));
    for (size_t r = 0; r < ncards; r++) {
        const struct pnote *pn = &p->notes[crows[r].note];
        sqlite3_reset(card);
        sqlite3_bind_int64(card, 1, crows[r].id);
        sqlite3_bind_int64(card, 2, pn->id);
        sqlite3_bind_int64(card, 3, p->decks[pn->deck].id);
        sqlite3_bind_int(card, 4, pn->ords[crows[r].ord]);
        sqlite3_bind_int64(card, 5, pn->mod);
        sqlite3_bind_int64(card, 6, (int64_t)crows[r].note + 1); /* new-card position */
        if (sqlite3_step(card) != SQLITE_DONE) goto out;
    }

    int64_t maxmod = pkg_maxmod(p), first_model, crt, mod, scm;
    models = models_json(p, &first_model);
    conf = conf_json(first_model);
    dconf = dconf_json();
    decks = decks_json(p, maxmod);
    col_times(maxmod, &crt, &mod, &scm);
    sqlite3_bind_int64(col, 1, crt);
    sqlite3_bind_int64(col, 2, mod);
    sqlite3_bind_int64(col, 3, scm);
    sqlite3_bind_text(col, 4, conf, -1, SQLITE_STATIC);
    sqlite3_bind_text(col, 5, models, -1, SQLITE_STATIC);
    sqlite3_bind_text(col, 6, decks, -1, SQLITE_STATIC);
    sqlite3_bind_text(col, 7, dconf, -1, SQLITE_STATIC);
    if (sqlite3_step(col) != SQLITE_DONE) goto out;
    rc = 0;
out:
    if (rc == -1) sql_fail(db, p, dg);
    free(nrows);
    free(crows);
    sqlite3_finalize(col);
    sqlite3_finalize(note);
    sqlite3_finalize(card);
    free(models);
    free(conf);
    free(dconf);
    free(decks);
    return rc < 0 ? -1 : 0;
}

/* Builds the collection in the file at path (created beside the package's
 * temporary, so nothing of it stays in memory but SQLite's page cache) and
 * closes it. */
static void ahead_touched(void *ctx, uint64_t off, uint64_t len)
{
    pdeflate_ahead_touched(ctx, off, len);
}

int pkg_write_collection(struct pkg *p, const char *path, struct pdeflate_ahead **ahead,
                         int kept, struct diags *dg)
{
    sqlite3 *db = NULL;
    if (ahead) *ahead = NULL;
    if (pkg_sql_open_watched(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) !=
        SQLITE_OK) {
        int rc = sql_fail(db, p, dg);
        sqlite3_close(db);
        return rc;
    }
    int rc = -1;
    /* Rollback-journal format (header bytes 18/19 = 1): importers copy the
     * file as it is; WAL would leave them an empty collection.  No journal
     * and no syncs: the file is private to this build and thrown away when
     * the build fails; the package made from it is fsynced.  A 2 MiB
     * page cache: rows come in id order, so the pages filled are written
     * once and not read again until the indexes are made; a larger cache
     * only held the whole collection of a small deck in memory (16 MiB
     * cost 6-11 MB of peak memory at 1k-10k notes and saved no time at
     * 100k, where the 127 MB file spills either way).  No sorter threads:
     * while the indexes are made the other CPU deflates the rows
     * (pdeflate_ahead), and SQLite's sorting threads only competed with it
     * (the indexes of a 100k deck took 220 ms instead of 175). */
    if (sqlite3_exec(db,
                     "PRAGMA page_size=4096; PRAGMA journal_mode=OFF;"
                     "PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
                     "PRAGMA cache_size=-" PKG_CACHE_KIB "; PRAGMA encoding='UTF-8';"
                     "PRAGMA threads=0;",
                     NULL, NULL, NULL) ||
        sqlite3_exec(db, schema_sql, NULL, NULL, NULL) ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) {
        sql_fail(db, p, dg);
        goto out;
    }
    if (insert_rows(db, p, dg) < 0) goto out;
    /* The previous package's rows (~25 MB at 100k notes) are not needed
     * for the indexes and the zip, the build's peak with previous outputs. */
    pkg_drop_prev(p);
    prof_mark("package: rows inserted");
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
        sql_fail(db, p, dg);
        goto out;
    }
    /* The rows are in the file: the other CPU deflates them while this one
     * makes the indexes (~0.2 s at 100k, when it would otherwise idle), and
     * the VFS says what the indexes write over, which is deflated again. */
    if (ahead && par_workers(2, 1) > 1 && pkg_vfs_flush(db) == 0) {
        *ahead = pdeflate_ahead_start(path, 1, kept, NULL);
        if (*ahead && pkg_vfs_watch(db, ahead_touched, *ahead) < 0) {
            pdeflate_ahead_free(*ahead);
            *ahead = NULL;
        }
    }
    if (sqlite3_exec(db, index_sql, NULL, NULL, NULL)) {
        sql_fail(db, p, dg);
        goto out;
    }
    rc = 0;
out:
    if (sqlite3_close(db) != SQLITE_OK && rc == 0) {
        diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
                 "cannot finish the Anki collection in %s: %s (the previous file is kept)", path,
                 sqlite3_errmsg(db));
        rc = -1;
    }
    return rc;
}

/* --- zip ------------------------------------------------------------------ */

/* Adds the source s (taken over) as entry name, compressed with method, or
 * as it comes when method is -1 (the collection, deflated on every core by
 * pdeflate.c: it is the one large entry). */
static int add_source(zip_t *za, const char *name, zip_source_t *s, int method)
{
    if (!s) return -1;
    zip_int64_t i = zip_file_add(za, name, s, 0);
    if (i < 0) {
        zip_source_free(s);
        return -1;
    }
    zip_uint64_t idx = (zip_uint64_t)i;
    /* Fixed time and attributes: the bytes depend on the content only. */
    if ((method >= 0 &&
         zip_set_file_compression(za, idx, method, method == ZIP_CM_DEFLATE ? 1 : 0) < 0) ||
        zip_file_set_dostime(za, idx, ZIP_DOS_TIME, ZIP_DOS_DATE, 0) < 0 ||
        zip_file_set_external_attributes(za, idx, 0, ZIP_OPSYS_UNIX,
                                         (zip_uint32_t)0100644 << 16) < 0)
        return -1;
    return 0;
}

static int add_buf(zip_t *za, const char *name, const struct buf *data, int deflate)
{
    return add_source(za, name, zip_source_buffer(za, data->s, data->len, 0),
                      deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE);
}

static int media_name_safe(const char *s)
{
    return *s && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") &&
           strcmp(s, "..") && strlen(s) <= 120;
}

/* Reads every media file into p->bufs[2..] and the map into p->bufs[1]. */
int pkg_load_media(struct pkg *p, struct diags *dg)
{
    const struct deck *d = p->d;
    p->bufs = xcalloc(d->nmedia + 2, sizeof *p->bufs);
    p->nbufs = d->nmedia + 2;
    for (size_t i = 0; i < p->nbufs; i++) buf_init(&p->bufs[i]);
    json_t *map = json_object();
    int rc = 0;
    for (size_t i = 0; i < d->nmedia; i++) {
        const struct media *m = &d->media[i];
        struct buf *b = &p->bufs[i + 2];
        if (!media_name_safe(m->name)) {
            diag_add(dg, SEV_ERROR, m->path, 0, 0,
                     "internal error: unsafe media name '%s'", m->name);
            rc = -1;
        } else if (read_file(m->path, b) < 0) {
            diag_add(dg, SEV_ERROR, m->path, 0, 0,
                     "cannot read this image: %s; restore it or remove its "
                     "reference", strerror(errno));
            rc = -1;
        } else if (!b->len) {
            diag_add(dg, SEV_ERROR, m->path, 0, 0,
                     "this image became empty during the build; Anki rejects "
                     "empty media files: restore it or remove its reference");
            rc = -1;
        }
        char key[32];
        snprintf(key, sizeof key, "%zu", i);
        json_object_set_new(map, key, json_string(m->name));
    }
    char *s = dump(map);
    buf_adds(&p->bufs[1], s);
    free(s);
    return rc;
}

void pkg_free_media(struct pkg *p)
{
    for (size_t i = 0; i < p->nbufs; i++) buf_release(&p->bufs[i]);
    free(p->bufs);
    p->bufs = NULL;
    p->nbufs = 0;
}

/* A libzip source that writes the archive straight into a file, from its
 * start.  zip_open() on a path would write a temporary of its own beside
 * the file and rename it over: the file given is already a temporary of
 * ours (publish.c renames it into place), and naming libzip's made it seed
 * OpenSSL's random generator, ~1 ms of every build. */
struct zsink {
    int fd;
    zip_uint64_t pos, end; /* write position; bytes written so far */
    zip_error_t error;
};

static zip_int64_t sink_write(struct zsink *k, const void *data, zip_uint64_t len)
{
    if (write_all_at(k->fd, data, (size_t)len, (long long)k->pos) < 0) {
        zip_error_set(&k->error, ZIP_ER_WRITE, errno);
        return -1;
    }
    k->pos += len;
    if (k->pos > k->end) k->end = k->pos;
    return (zip_int64_t)len;
}

static zip_int64_t sink_callback(void *state, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct zsink *k = state;
    switch (cmd) {
    /* reading: the archive starts empty (ZIP_TRUNCATE) */
    case ZIP_SOURCE_OPEN:
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_READ:
    case ZIP_SOURCE_TELL:
        return 0;
    case ZIP_SOURCE_SEEK:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &k->error);
        if (!st) return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE;
        st->size = 0;
        return sizeof *st;
    }
    case ZIP_SOURCE_BEGIN_WRITE:
    case ZIP_SOURCE_ROLLBACK_WRITE:
    case ZIP_SOURCE_REMOVE:
        k->pos = k->end = 0;
        if (ftruncate(k->fd, 0) < 0) {
            zip_error_set(&k->error, ZIP_ER_WRITE, errno);
            return -1;
        }
        return 0;
    case ZIP_SOURCE_WRITE:
        return sink_write(k, data, len);
    case ZIP_SOURCE_SEEK_WRITE: {
        zip_int64_t at = zip_source_seek_compute_offset(k->pos, k->end, data, len, &k->error);
        if (at < 0) return -1;
        k->pos = (zip_uint64_t)at;
        return 0;
    }
    case ZIP_SOURCE_TELL_WRITE:
        return (zip_int64_t)k->pos;
    case ZIP_SOURCE_COMMIT_WRITE: /* the caller fsyncs and renames the file */
        if (ftruncate(k->fd, (off_t)k->end) < 0) {
            zip_error_set(&k->error, ZIP_ER_WRITE, errno);
            return -1;
        }
        return 0;
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&k->error, data, len);
    case ZIP_SOURCE_FREE:
        close(k->fd);
        zip_error_fini(&k->error);
        free(k);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(
            ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
            ZIP_SOURCE_SUPPORTS, ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_COMMIT_WRITE,
            ZIP_SOURCE_ROLLBACK_WRITE, ZIP_SOURCE_WRITE, ZIP_SOURCE_SEEK_WRITE,
            ZIP_SOURCE_TELL_WRITE, ZIP_SOURCE_REMOVE, -1);
    default:
        zip_error_set(&k->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

/* An archive written into the file at path (created or truncated), or NULL
 * with errno set. */
static zip_t *open_sink(const char *path)
{
    /* path is our mkstemp() temporary, opened again by name: never
     * through a symbolic link someone put there since */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return NULL;
    struct zsink *k = xcalloc(1, sizeof *k);
    k->fd = fd;
    zip_error_init(&k->error);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_function_create(sink_callback, k, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_CREATE | ZIP_TRUNCATE, &ze) : NULL;
    if (!za) {
        if (src) zip_source_free(src); /* closes fd, frees k */
        else {
            close(fd);
            free(k);
        }
        errno = zip_error_code_system(&ze) ? zip_error_code_system(&ze) : EIO;
    }
    zip_error_fini(&ze);
    return za;
}

/* The package, written by libzip into zip_path (a temporary of ours). */
int pkg_write_zip(struct pkg *p, const char *db_path, struct pdeflate_set *set,
                  struct pdeflate_ahead *ahead, const char *zip_path, struct diags *dg)
{
    zip_t *za = open_sink(zip_path);
    if (!za) {
        pdeflate_ahead_free(ahead);
        diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
                 "cannot write the package into %s: %s (the previous file is kept)", zip_path,
                 strerror(errno));
        return -1;
    }
    zip_source_t *coll;
    if (set) {
        pdeflate_ahead_free(ahead);
        coll = pdeflate_set_source(za, set);
    } else {
        coll = pdeflate_source_ahead(za, db_path, 1, ahead);
    }
    if (add_source(za, "collection.anki2", coll, -1) < 0 ||
        add_buf(za, "media", &p->bufs[1], 1) < 0)
        goto fail;
    for (size_t i = 0; i < p->d->nmedia; i++) {
        char key[32];
        snprintf(key, sizeof key, "%zu", i);
        if (add_buf(za, key, &p->bufs[i + 2], 0) < 0) goto fail;
    }
    if (zip_close(za) < 0) goto fail;
    return 0;
fail:
    diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
             "cannot write the package into %s: %s (the previous file is kept)", zip_path,
             zip_strerror(za));
    zip_discard(za);
    return -1;
}

/* --- updating a kept collection -------------------------------------------- */

/* Opens the collection a build made, as that build did: no journal and no
 * syncs (the file is private, and a failed update makes it unusable
 * anyway), which also keeps it in rollback-journal format. */
static sqlite3 *open_kept(const struct pkg *p, const char *path, struct diags *dg)
{
    sqlite3 *db = NULL;
    if (pkg_sql_open(path, &db, SQLITE_OPEN_READWRITE) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                     "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-" PKG_CACHE_KIB ";",
                     NULL, NULL, NULL)) {
        sql_fail(db, p, dg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Sets each edit's changed: whether the stored fields differ from the new
 * ones.  The stored row must carry the mod p holds, or the file is not the
 * package p describes.  0 or -1 with a diagnostic. */
static int compare_stored(sqlite3 *db, const struct pkg *p, struct pkg_edit *e, size_t n,
                          struct diags *dg)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT flds, mod FROM notes WHERE id = ?", -1, &q, NULL))
        return sql_fail(db, p, dg);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct pnote *pn = &p->notes[e[i].note];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, pn->id);
        if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int64(q, 1) != pn->mod) {
            diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
                     "internal error: the kept collection does not hold note %s as it "
                     "was built (the previous file is kept)", pn->guid);
            rc = -1;
            break;
        }
        const void *f = sqlite3_column_blob(q, 0);
        size_t len = (size_t)sqlite3_column_bytes(q, 0);
        e[i].changed = len != strlen(e[i].flds) || (len && memcmp(f, e[i].flds, len));
    }
    sqlite3_finalize(q);
    return rc;
}

/* One changed note's row and its cards' rows, as insert_rows() would
 * write them now. */
static int rewrite_note(sqlite3_stmt *note, sqlite3_stmt *cards, struct pkg *p,
                        const struct pkg_edit *e, struct buf *sfld)
{
    struct pnote *pn = &p->notes[e->note];
    pn->mod = pkg_new_mod(p, pn->mod);
    char *first = xstrndup(e->flds, e->first_len);
    buf_reset(sfld);
    anki_strip_html(first, sfld);
    free(first);
    sqlite3 *db = sqlite3_db_handle(note);
    sqlite3_reset(note);
    sqlite3_bind_int64(note, 1, pn->mod);
    sqlite3_bind_text(note, 2, e->flds, -1, SQLITE_STATIC);
    sqlite3_bind_text(note, 3, sfld->s, (int)sfld->len, SQLITE_STATIC); /* as insert_notes */
    sqlite3_bind_int64(note, 4, csum_of(sfld->s, sfld->len));
    sqlite3_bind_int64(note, 5, pn->id);
    if (sqlite3_step(note) != SQLITE_DONE || sqlite3_changes(db) != 1) return -1;
    sqlite3_reset(cards);
    sqlite3_bind_int64(cards, 1, pn->mod);
    sqlite3_bind_int64(cards, 2, pn->id);
    if (sqlite3_step(cards) != SQLITE_DONE || (size_t)sqlite3_changes(db) != pn->nords) return -1;
    return 0;
}

/* The col row after the notes' mods moved: its times and the decks' mod. */
static int rewrite_col(sqlite3 *db, const struct pkg *p)
{
    int64_t maxmod = pkg_maxmod(p), crt, mod, scm;
    col_times(maxmod, &crt, &mod, &scm);
    char *decks = decks_json(p, maxmod);
    sqlite3_stmt *col;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "UPDATE col SET crt = ?, mod = ?, scm = ?, decks = ? WHERE id = 1",
                           -1, &col, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(col, 1, crt);
        sqlite3_bind_int64(col, 2, mod);
        sqlite3_bind_int64(col, 3, scm);
        sqlite3_bind_text(col, 4, decks, -1, SQLITE_STATIC);
        if (sqlite3_step(col) == SQLITE_DONE && sqlite3_changes(db) == 1) rc = 0;
    }
    sqlite3_finalize(col);
    free(decks);
    return rc;
}

static int rewrite_rows(sqlite3 *db, struct pkg *p, const struct pkg_edit *e, size_t n)
{
    sqlite3_stmt *note = NULL, *cards = NULL;
    struct buf sfld = BUF_INIT;
    int rc = -1;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) ||
        sqlite3_prepare_v2(db,
                           "UPDATE notes SET mod = ?, flds = ?, sfld = ?, csum = ? WHERE id = ?",
                           -1, &note, NULL) ||
        sqlite3_prepare_v2(db, "UPDATE cards SET mod = ? WHERE nid = ?", -1, &cards, NULL))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (e[i].changed && rewrite_note(note, cards, p, &e[i], &sfld) < 0) goto out;
    if (rewrite_col(db, p) < 0 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) goto out;
    rc = 0;
out:
    sqlite3_finalize(note);
    sqlite3_finalize(cards);
    buf_release(&sfld);
    return rc;
}

int pkg_update_collection(struct pkg *p, const char *path, struct pkg_edit *e, size_t n,
                          struct diags *dg)
{
    if (!n) return 0;
    sqlite3 *db = open_kept(p, path, dg);
    if (!db) return -1;
    int rc = compare_stored(db, p, e, n, dg);
    size_t todo = 0;
    for (size_t i = 0; i < n; i++) todo += (size_t)e[i].changed;
    if (rc == 0 && todo && rewrite_rows(db, p, e, n) < 0) rc = sql_fail(db, p, dg);
    if (sqlite3_close(db) != SQLITE_OK && rc == 0) rc = sql_fail(db, p, dg);
    return rc;
}
