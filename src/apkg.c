/* apkg.c - what goes into the legacy Anki package (collection.anki2,
 * schema 11): decks, notes, their ids and modification times, the notes kept
 * from the previous package; apkg-write.c writes the bytes.
 *
 * The package is a pure function of the deck, the previous package and the
 * clock reading "now": ids come from hashes, never from the clock; rows and
 * zip entries are written in a fixed order with fixed zip timestamps; and
 * note modification times only move when a note's content does.  So a
 * rebuild of unchanged sources gives the same bytes, and publish_file()
 * leaves the output alone.  docs/anki.md explains the importer rules behind
 * every choice here.
 *
 * A build can also be kept (apkg_write_keep): the watcher then updates the
 * few notes whose answers changed in the kept collection and deflates only
 * the pieces of it that changed (apkg_update), giving the rows a full build
 * would give. */
#include "mdeck/apkg.h"
#include "apkg-int.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/anki-model.h"
#include "mdeck/hash.h"
#include "mdeck/pdeflate.h"
#include "mdeck/spill.h"
#include "mdeck/text.h"

/* Deck ids: [10^12, 1.5·10^12).  Note and card ids: 1.3·10^12 ms + up to
 * 2^38 ms, i.e. 2011-03 … 2019-11, so never in the future for any importer
 * (2.1.55–2.1.60 refuse ids after now + 1 day) and far below 2^53. */
#define DECK_ID_BASE 1000000000000LL
#define DECK_ID_SPAN 500000000000LL
#define ROW_ID_BASE 1300000000000LL
#define ROW_ID_SPAN (1LL << 38)

/* --- SQLite connections --------------------------------------------------- */

static int vfs_ok; /* PKG_VFS is registered */

static void sql_config(void)
{
    /* Fails (SQLITE_MISUSE) only when SQLite has already started, in which
     * case the statistics stay on: slower, not wrong. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    vfs_ok = pkg_vfs_register() == 0;
}

static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

int pkg_sql_open(const char *path, sqlite3 **db, int flags)
{
    pthread_once(&sql_once, sql_config);
    return sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
}

int pkg_sql_open_watched(const char *path, sqlite3 **db, int flags)
{
    pthread_once(&sql_once, sql_config);
    return sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, vfs_ok ? PKG_VFS : NULL);
}

/* --- small sets ---------------------------------------------------------- */

static size_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int idset_has(const struct idset *s, uint64_t x)
{
    if (!s->cap) return 0;
    for (size_t i = mix(x) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == x) return 1;
        if (!s->v[i]) return 0;
    }
}

static void idset_put(struct idset *s, uint64_t x)
{
    if (2 * (s->n + 1) > s->cap) {
        struct idset big = {xzeroed(s->cap ? s->cap * 2 : 64, sizeof *s->v), 0,
                            s->cap ? s->cap * 2 : 64};
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i]) idset_put(&big, s->v[i]);
        free(s->v);
        *s = big;
    }
    size_t i = mix(x) & (s->cap - 1);
    while (s->v[i] && s->v[i] != x) i = (i + 1) & (s->cap - 1);
    if (!s->v[i]) s->n++;
    s->v[i] = x;
}

/* Takes base if free, else base+1, base+2, … (collisions are resolved in
 * the order ids are asked for, which is fixed: deck order, note order). */
int64_t pkg_idset_claim(struct idset *s, int64_t base)
{
    while (idset_has(s, (uint64_t)base)) base++;
    idset_put(s, (uint64_t)base);
    return base;
}

/* --- identifiers --------------------------------------------------------- */

int64_t apkg_deck_id(const char *full_name)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "deck\x1f%s", full_name);
    int64_t id = DECK_ID_BASE + (int64_t)(hash64(b.s, b.len) % DECK_ID_SPAN);
    buf_release(&b);
    return id;
}

/* The note's guid: note_guid() (shared with the CSV writer) for attempt 0;
 * a later attempt only happens when two notes share an identity, which
 * identity.c already reports as an error. */
void pkg_guid_of(const struct deck *d, const struct note *n, int attempt,
                    char out[12])
{
    if (n->id && !attempt) {
        note_guid(d, n, out);
        return;
    }
    struct buf b = BUF_INIT;
    /* A deck that never went through identity.c (no id) falls back to the
     * question's matching key. */
    const char *nid = n->id ? n->id : n->key ? n->key : n->question ? n->question : "";
    buf_addf(&b, "%s\x1f%s", d->opt.id ? d->opt.id : d->slug, nid);
    if (attempt) buf_addf(&b, "\x1f%d", attempt);
    base91(hash64(b.s, b.len), out);
    buf_release(&b);
}

int64_t pkg_row_id(const char *kind, const char *guid, int ord)
{
    /* hash64 of kind, US, guid, US, ord in decimal; put together by hand:
     * printf was most of the time of this function, called twice a note */
    char digits[12], *d = digits + sizeof digits;
    unsigned u = ord < 0 ? 0u - (unsigned)ord : (unsigned)ord;
    do *--d = (char)('0' + u % 10); while (u /= 10);
    if (ord < 0) *--d = '-';
    size_t kl = strlen(kind), gl = strlen(guid), dl = (size_t)(digits + sizeof digits - d);
    char small[128], *s = kl + gl + dl + 2 <= sizeof small ? small : xmalloc(kl + gl + dl + 2);
    memcpy(s, kind, kl);
    s[kl] = '\x1f';
    memcpy(s + kl + 1, guid, gl);
    s[kl + 1 + gl] = '\x1f';
    memcpy(s + kl + gl + 2, d, dl);
    int64_t id = ROW_ID_BASE + (int64_t)(hash64(s, kl + gl + dl + 2) % (uint64_t)ROW_ID_SPAN);
    if (s != small) free(s);
    return id;
}

/* A map, not a scan: an index with 30,000 subdecks took seconds per scan. */
static size_t find_deck_n(const struct pkg *p, const char *name, size_t len)
{
    struct buf key = BUF_INIT;
    buf_add(&key, name, len);
    size_t i;
    int found = strmap_get(&p->deck_at, key.s, &i);
    buf_release(&key);
    return found ? i : (size_t)-1;
}

static size_t find_deck(const struct pkg *p, const char *name)
{
    return find_deck_n(p, name, strlen(name));
}

static size_t add_one_deck(struct pkg *p, const char *name, size_t len)
{
    size_t i = find_deck_n(p, name, len);
    if (i != (size_t)-1) return i;
    GROW(p->decks, p->ndecks + 1, p->capdecks);
    p->decks[p->ndecks].name = arena_strndup(&p->a, name, len);
    p->decks[p->ndecks].id = 0;
    strmap_put(&p->deck_at, p->decks[p->ndecks].name, p->ndecks);
    return p->ndecks++;
}

/* Adds name and every ancestor: importers need all of them (L creates a
 * missing parent through code that needs conf.curDeck; AnkiDroid crashed). */
static size_t add_deck(struct pkg *p, const char *name)
{
    for (const char *c = strstr(name, "::"); c; c = strstr(c + 2, "::"))
        add_one_deck(p, name, (size_t)(c - name));
    return add_one_deck(p, name, strlen(name));
}

/* Field text: no 0x1F (the separator) and no other ASCII control character
 * except \n and \t (the Rust importer strips them; equal input must give
 * equal flds in the previous-package comparison). */
static void add_field(struct buf *flds, const char *s)
{
    if (s) text_add_clean(flds, s, strlen(s), 1);
}

/* Tags as Anki stores them: " a b ", sorted, unique, no spaces or quotes. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void tags_buf(const char **v, size_t n, struct buf *out)
{
    char **t = xcalloc(n ? n : 1, sizeof *t);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT;
        for (const char *s = v[i]; *s; s++) {
            char c = *s;
            if (c == '"') continue;
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = '_';
            buf_addc(&b, c);
        }
        if (b.len) t[k++] = buf_detach(&b);
        else buf_release(&b);
    }
    qsort(t, k, sizeof *t, cmp_str);
    buf_reset(out);
    for (size_t i = 0; i < k; i++) {
        if (i && !strcmp(t[i], t[i - 1])) continue;
        buf_addf(out, " %s", t[i]);
    }
    if (out->len) buf_addc(out, ' ');
    for (size_t i = 0; i < k; i++) free(t[i]);
    free(t);
}

static char *tags_string(struct pkg *p, const char **v, size_t n)
{
    struct buf out = BUF_INIT;
    tags_buf(v, n, &out);
    char *s = arena_strndup(&p->a, out.s, out.len);
    buf_release(&out);
    return s;
}

/* A deck note's tags as the package writes them: its own and the deck's. */
void pkg_note_tags(const struct deck *d, const struct note *n, struct buf *out)
{
    size_t ntags = n->ntags + d->opt.ntags;
    const char **tags = xcalloc(ntags ? ntags : 1, sizeof *tags);
    if (n->ntags) memcpy(tags, n->tags, n->ntags * sizeof *tags);
    if (d->opt.ntags) memcpy(tags + n->ntags, d->opt.tags, d->opt.ntags * sizeof *tags);
    tags_buf(tags, ntags, out);
    free(tags);
}

const struct anki_model *pkg_note_model(const struct deck *d, const struct note *n)
{
    return anki_model_find(n->cloze ? MDECK_MODEL_CLOZE
                           : d->opt.reversed ? MDECK_MODEL_REVERSED
                                             : MDECK_MODEL_BASIC);
}

/* The deck a deck note is filed under: its own, else the top deck. */
const char *pkg_note_deck(const struct pkg *p, const struct note *n)
{
    return n->deck && *n->deck ? n->deck : p->decks[p->top].name;
}

/* Splits a tags string (" a b ") into words allocated in p->a. */
static size_t split_tags(struct pkg *p, const char *s, const char ***out)
{
    size_t n = 0, cap = 0;
    const char **v = NULL;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        size_t len = strcspn(s, " \t");
        if (!len) break;
        GROW(v, n + 1, cap);
        v[n++] = arena_strndup(&p->a, s, len);
        s += len;
    }
    *out = v;
    return n;
}

/* Room for n more notes, exactly: doubling would leave up to half the
 * array unused (~3 MB at 100,000 notes). */
static void reserve_pnotes(struct pkg *p, size_t n)
{
    if (p->nnotes + n <= p->capnotes) return;
    p->capnotes = p->nnotes + n;
    p->notes = xrealloc(p->notes, p->capnotes * sizeof *p->notes);
}

static struct pnote *new_pnote(struct pkg *p)
{
    /* beyond the deck's notes come the few removed ones: grow by an eighth */
    if (p->nnotes == p->capnotes) reserve_pnotes(p, p->capnotes / 8 + 16);
    struct pnote *pn = &p->notes[p->nnotes++];
    memset(pn, 0, sizeof *pn);
    return pn;
}

/* Splits joined fields into v (at most max); returns the count. */
static size_t split_fields(struct pkg *p, const char *flds, const char **v,
                           size_t max)
{
    size_t n = 0;
    for (const char *s = flds;;) {
        const char *e = strchr(s, '\x1f');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (n < max) v[n] = arena_strndup(&p->a, s, len);
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

/* The card ordinals model gives a note with the fields flds, into ords
 * (ANKI_MAX_CLOZE entries); returns their count. */
size_t pkg_card_ords(struct buf *scratch, const struct anki_model *m, const char *flds,
                     int *ords)
{
    const char *f[8];
    /* The fields as C strings in a scratch copy (split_fields() would keep a
     * second copy of every field in the arena for the whole build). */
    buf_reset(scratch);
    buf_adds(scratch, flds);
    size_t n = 0;
    for (char *s = scratch->s;;) {
        char *e = strchr(s, '\x1f');
        if (n < ARRAY_LEN(f)) f[n] = s;
        n++;
        if (!e) break;
        *e = '\0';
        s = e + 1;
    }
    return anki_card_ords(m, f, ords);
}

static void set_ords(struct arena *a, struct buf *scratch, struct pnote *pn, const char *flds)
{
    static const int just_first[1] = {0}; /* most notes: one card, the first */
    int ords[ANKI_MAX_CLOZE];
    pn->nords = pkg_card_ords(scratch, pn->model, flds, ords);
    if (pn->nords == 1 && ords[0] == 0) {
        pn->ords = just_first;
        return;
    }
    int *v = arena_alloc(a, (pn->nords ? pn->nords : 1) * sizeof *ords);
    memcpy(v, ords, pn->nords * sizeof *ords);
    pn->ords = v;
}

/* A deck note's fields, joined by 0x1F, into flds (reset first): front (or
 * cloze text), answer, sources.  Returns the length of the first field. */
size_t pkg_note_flds(const struct note *n, const struct spill *sp, struct buf *flds,
                     struct spill_reader *r)
{
    buf_reset(flds);
    add_field(flds, note_front_html(n));
    size_t first_len = flds->len;
    buf_addc(flds, '\x1f');
    add_field(flds, n->answer.html ? spill_get(sp, n->answer.html, r) : "");
    buf_addc(flds, '\x1f');
    struct buf src = BUF_INIT;
    note_source_html(n, &src);
    add_field(flds, src.s);
    buf_release(&src);
    return first_len;
}

/* --- the previous package ------------------------------------------------ */

void apkg_prev_read(const char *path, struct apkg_prev *prev)
{
    memset(prev, 0, sizeof *prev);
    struct stat st;
    if (!path || stat(path, &st) < 0) return;
    struct diags tmp;
    diags_init(&tmp);
    if (apkg_read_slim(path, &prev->info, &tmp) < 0) {
        prev->state = -1;
        prev->why = xstrdup(tmp.n ? tmp.v[0].msg : "unreadable");
    } else {
        prev->state = 1;
    }
    diags_free(&tmp);
}

void apkg_prev_free(struct apkg_prev *prev)
{
    if (prev->state > 0) apkg_info_free(&prev->info);
    free(prev->why);
    memset(prev, 0, sizeof *prev);
}

/* Takes the previous package over from prev (which is left empty). */
static void load_prev(struct pkg *p, const char *prev_path, struct apkg_prev *prev,
                      struct diags *dg)
{
    if (prev->state < 0)
        diag_add(dg, SEV_WARNING, prev_path, 0, 0,
                 "cannot read the previous package (%s); every note counts as "
                 "new and removed questions are not kept this time. Delete the "
                 "file if it is not an mdeck package", prev->why);
    if (prev->state <= 0) {
        apkg_prev_free(prev);
        return;
    }
    p->prev = prev->info;
    prev->state = 0;
    apkg_prev_free(prev);
    p->have_prev = 1;
    strmap_reserve(&p->prev_guids, p->prev.nnotes);
    for (size_t i = 0; i < p->prev.nnotes; i++) {
        strmap_put(&p->prev_guids, p->prev.notes[i].guid, i);
    }
}

/* The deck name the previous package filed note o under (its first card's
 * deck), or NULL. */
static const char *prev_deck_name(json_t *decks, const struct apkg_note *o)
{
    if (!o->did) return NULL;
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)o->did);
    json_t *name = json_object_get(json_object_get(decks, key), "name");
    return json_is_string(name) ? json_string_value(name) : NULL;
}

/* --- collecting notes ---------------------------------------------------- */

int64_t pkg_new_mod(const struct pkg *p, int64_t prev_mod)
{
    /* Strictly newer than the copy users may have (importers update a note
     * only when the package's mod is newer), and normally "now". */
    if (p->now > prev_mod) return p->now;
    return prev_mod < INT64_MAX ? prev_mod + 1 : prev_mod; /* corrupt input */
}

/* 1 when the previous note o had exactly the fields flds. */
static int same_flds(const struct apkg_note *o, const struct buf *flds)
{
    if (o->flds) return !strcmp(o->flds, flds->s);
    uint8_t h[20];
    sha1(flds->s, flds->len, h);
    return !memcmp(h, o->flds_sha1, sizeof h);
}

int pkg_note_settle(const struct pkg *p, struct pnote *pn, const struct buf *flds,
                    struct arena *a, struct buf *scratch)
{
    set_ords(a, scratch, pn, flds->s);
    size_t pi;
    if (!strmap_get(&p->prev_guids, pn->guid, &pi)) {
        pn->mod = p->now;
        return 1;
    }
    const struct apkg_note *o = &p->prev.notes[pi];
    if (o->mid == pn->model->id && same_flds(o, flds) && !strcmp(o->tags, pn->tags)) {
        pn->mod = o->mod;
        return 0;
    }
    pn->mod = pkg_new_mod(p, o->mod);
    return 2;
}

/* Adds the deck's own notes.  Their fields are not made here: their card
 * ordinals and mod are settled when the fields are made for the inserts
 * (pkg_note_settle()).  p->guids receives every guid the deck has, also
 * those of notes left out (unanswered, empty): they are not "removed from
 * the index".  Its values are not used. */
static void collect_notes(struct pkg *p, int answered_only, struct apkg_stats *st,
                          struct diags *dg)
{
    const struct deck *d = p->d;
    char **guids = xcalloc(d->nnotes ? d->nnotes : 1, sizeof *guids);
    strmap_reserve(&p->guids, d->nnotes);
    reserve_pnotes(p, d->nnotes);
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        char g[12];
        int attempt = 0;
        pkg_guid_of(d, n, attempt, g);
        while (strmap_get(&p->guids, g, NULL)) {
            if (!attempt)
                diag_add(dg, SEV_WARNING, p->index_path, n->line, n->col,
                         "this question has the same identity (%s) as an earlier "
                         "one; give it its own id so that its Anki note stays "
                         "the same across builds", n->id ? n->id : "none");
            pkg_guid_of(d, n, ++attempt, g);
        }
        guids[i] = arena_strdup(&p->a, g);
        strmap_put(&p->guids, guids[i], i);
    }
    const char *last_deck = NULL;
    size_t last_index = 0;
    struct buf first = BUF_INIT, tags = BUF_INIT;
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        if (answered_only && !n->answer.html) continue;
        /* the first field as pkg_note_flds() makes it */
        const char *front = note_front_html(n);
        buf_reset(&first);
        add_field(&first, front);
        if (!first.len) {
            diag_add(dg, SEV_WARNING, p->index_path, n->line, n->col,
                     "this question is empty after rendering and is left out "
                     "of the package; write some text for it");
            continue;
        }

        struct pnote *pn = new_pnote(p);
        pn->guid = guids[i];
        pn->model = pkg_note_model(d, n);
        pn->src = n; /* flds made again when inserted: not kept */
        /* the first field is the note's own string unless cleaning took
         * bytes out of it: no copy of every question for the build */
        pn->first = strlen(front) == first.len ? front
                                               : arena_strndup(&p->a, first.s, first.len);
        pkg_note_tags(d, n, &tags);
        pn->tags = arena_strndup(&p->a, tags.s, tags.len);
        /* notes of a deck come together: look each run's deck up once */
        const char *dname = pkg_note_deck(p, n);
        if (!last_deck || strcmp(dname, last_deck)) last_index = add_deck(p, dname);
        last_deck = dname;
        pn->deck = last_index;
        st->notes++;
    }
    buf_release(&first);
    buf_release(&tags);
    free(guids);
}

static int has_tag(const char *tags, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *s = strstr(tags, tag); s; s = strstr(s + 1, tag))
        if ((s == tags || s[-1] == ' ') && (s[n] == ' ' || !s[n])) return 1;
    return 0;
}

/* Notes of the previous package whose question is gone from the index: kept
 * with their previous fields and tagged mdeck::removed, so that users can
 * find them in the browser and delete them on every device, until the tag
 * is MDECK_REMOVED_KEEP_DAYS old. */
static void keep_removed(struct pkg *p, struct apkg_stats *st, struct diags *dg,
                         const char *prev_path)
{
    if (!p->have_prev) return;
    json_t *decks = json_loads(p->prev.decks_json ? p->prev.decks_json : "{}", 0, NULL);
    size_t foreign = 0;
    for (size_t i = 0; i < p->prev.nnotes; i++) {
        const struct apkg_note *o = &p->prev.notes[i];
        if (strmap_get(&p->guids, o->guid, NULL)) continue;
        const struct anki_model *m = anki_model_find(o->mid);
        const char *f[8];
        char *of = m ? apkg_note_flds(&p->prev, o) : NULL;
        if (!of || split_fields(p, of, f, ARRAY_LEN(f)) != m->nfields) {
            free(of);
            foreign++;
            continue;
        }
        struct pnote *pn = new_pnote(p);
        pn->guid = arena_strdup(&p->a, o->guid);
        pn->model = m;
        /* Kept as they were; cleaned only in case the file was tampered
         * with (our own packages hold no control characters). */
        struct buf flds = BUF_INIT;
        for (size_t k = 0; k < m->nfields; k++) {
            if (k) buf_addc(&flds, '\x1f');
            add_field(&flds, f[k]);
        }
        pn->flds = arena_strndup(&p->a, flds.s, flds.len);
        buf_reset(&flds);
        add_field(&flds, f[0]);
        pn->first = arena_strndup(&p->a, flds.s, flds.len);
        buf_release(&flds);
        free(of);
        if (has_tag(o->tags, MDECK_REMOVED_TAG)) {
            if (o->mod < p->now - (int64_t)MDECK_REMOVED_KEEP_DAYS * 86400) {
                p->nnotes--;
                st->dropped++;
                continue;
            }
            pn->tags = arena_strdup(&p->a, o->tags);
            pn->mod = o->mod;
            st->kept_removed++;
        } else {
            const char **v;
            size_t n = split_tags(p, o->tags, &v);
            v = xrealloc(v, (n + 1) * sizeof *v);
            v[n++] = MDECK_REMOVED_TAG;
            pn->tags = tags_string(p, v, n);
            free(v);
            pn->mod = pkg_new_mod(p, o->mod);
            st->removed++;
        }
        const char *dn = prev_deck_name(decks, o);
        size_t di = dn ? find_deck(p, dn) : (size_t)-1;
        pn->deck = di != (size_t)-1 ? di : p->top;
        set_ords(&p->a, &p->scratch, pn, pn->flds);
        strmap_put(&p->guids, pn->guid, p->nnotes - 1);
    }
    if (foreign)
        diag_add(dg, SEV_WARNING, prev_path, 0, 0,
                 "%zu note%s of the previous package %s not of an mdeck note "
                 "type and %s not carried over; was this file made by another "
                 "program?", foreign, foreign == 1 ? "" : "s",
                 foreign == 1 ? "is" : "are", foreign == 1 ? "is" : "are");
    json_decref(decks);
}

static void assign_ids(struct pkg *p)
{
    struct idset deck_ids = {0}, note_ids = {0};
    idset_put(&deck_ids, 1);
    for (size_t i = 0; i < p->ndecks; i++)
        p->decks[i].id = pkg_idset_claim(&deck_ids, apkg_deck_id(p->decks[i].name));
    for (size_t i = 0; i < p->nnotes; i++)
        p->notes[i].id = pkg_idset_claim(&note_ids, pkg_row_id("note", p->notes[i].guid, 0));
    free(deck_ids.v);
    free(note_ids.v);
}

/* --- entry point --------------------------------------------------------- */

static void pkg_init(struct pkg *p, const struct deck *d, const char *prev_path)
{
    memset(p, 0, sizeof *p);
    arena_init(&p->a);
    buf_init(&p->scratch);
    p->d = d;
    /* copied: a kept package outlives the caller's strings */
    p->out_path = arena_strdup(&p->a, prev_path ? prev_path : d->dir);
    p->now = now_seconds();
    size_t dl = strlen(d->dir);
    while (dl > 1 && d->dir[dl - 1] == '/') dl--;
    p->index_path = arena_printf(&p->a, "%.*s/index.md", (int)dl, d->dir);

    /* Every deck the index named, parents first; the top deck first of all. */
    const char *top = d->name && *d->name ? d->name
                      : d->ndecks             ? d->decks[0]
                                              : d->slug;
    p->top = add_deck(p, top);
    for (size_t i = 0; i < d->ndecks; i++) add_deck(p, d->decks[i]);
}

/* The previous package: only needed until the rows are in. */
void pkg_drop_prev(struct pkg *p)
{
    if (p->have_prev) apkg_info_free(&p->prev);
    p->have_prev = 0;
    strmap_free(&p->prev_guids);
    memset(&p->prev_guids, 0, sizeof p->prev_guids);
}

static void pkg_free(struct pkg *p)
{
    pkg_free_media(p);
    free(p->decks);
    free(p->notes);
    strmap_free(&p->guids);
    strmap_free(&p->deck_at);
    pkg_drop_prev(p);
    arena_free(&p->a);
    buf_release(&p->scratch);
}

int apkg_build(const struct deck *d, const char *prev_path, int answered_only,
               struct buf *out, struct apkg_stats *st, struct diags *dg)
{
    struct apkg_prev prev;
    apkg_prev_read(prev_path, &prev);
    return apkg_build_prev(d, prev_path, &prev, answered_only, out, st, dg);
}

int apkg_build_prev(const struct deck *d, const char *prev_path, struct apkg_prev *prev,
                    int answered_only, struct buf *out, struct apkg_stats *st,
                    struct diags *dg)
{
    char *tmp;
    int fd = tmpdir_file(&tmp);
    if (fd < 0) {
        diag_add(dg, SEV_ERROR, d->dir, 0, 0, "cannot create a temporary file in $TMPDIR: %s",
                 strerror(errno));
        apkg_prev_free(prev);
        return -1;
    }
    close(fd);
    int rc = apkg_write(d, prev_path, prev, answered_only, tmp, st, dg);
    buf_reset(out);
    if (rc == 0 && read_file(tmp, out) < 0) {
        diag_add(dg, SEV_ERROR, tmp, 0, 0, "cannot read the package back: %s", strerror(errno));
        rc = -1;
    }
    unlink(tmp);
    free(tmp);
    return rc;
}

int apkg_write(const struct deck *d, const char *prev_path, struct apkg_prev *prev,
               int answered_only, const char *zip_path, struct apkg_stats *st,
               struct diags *dg)
{
    return apkg_write_keep(d, prev_path, prev, answered_only, zip_path, st, dg, NULL);
}


static void add_printed(struct buf *b, const char *s)
{
    buf_addc(b, s ? 'S' : 'N'); /* NULL and "" differ */
    if (s) buf_adds(b, s);
    buf_addc(b, '\x1f');
}

/* Every deck-wide input of a build besides the notes, as one string: an
 * update is only exact while it stays the same. */
char *pkg_deck_print(const struct deck *d)
{
    struct buf b = BUF_INIT;
    add_printed(&b, d->dir);
    add_printed(&b, d->slug);
    add_printed(&b, d->name);
    add_printed(&b, d->desc_html);
    add_printed(&b, d->opt.id);
    buf_addf(&b, "%d\x1f%zu\x1f", d->opt.reversed, d->opt.ntags);
    for (size_t i = 0; i < d->opt.ntags; i++) add_printed(&b, d->opt.tags[i]);
    buf_addf(&b, "%zu\x1f", d->ndecks);
    for (size_t i = 0; i < d->ndecks; i++) add_printed(&b, d->decks[i]);
    return buf_detach(&b);
}

/* Where the collection of a kept build lives: a private file in $TMPDIR
 * (named with our pid, so that a killed watcher's is cleaned up), never
 * beside the package, where a crash would leave it among the outputs.
 * NULL when it cannot be made: the build is then not kept. */
static char *keep_path(void)
{
    char *path;
    int fd = tmpdir_keep_file(&path);
    if (fd < 0) return NULL;
    close(fd);
    return path;
}

/* Takes p, db_path and set over into a new keep. */
static struct apkg_keep *keep_new(struct pkg *p, char *db_path, struct pdeflate_set *set,
                                  int answered_only, const struct diags *dg, size_t said_from,
                                  size_t said_to)
{
    struct apkg_keep *k = xcalloc(1, sizeof *k);
    pkg_free_media(p);
    pkg_drop_prev(p);
    k->p = *p;
    k->db_path = db_path;
    k->set = set;
    k->deflated = pdeflate_set_deflated(set);
    k->notes = p->d->notes;
    k->nnotes = p->d->nnotes;
    k->answered_only = answered_only;
    k->deck_print = pkg_deck_print(p->d);
    k->pnote_of = xmalloc((k->nnotes ? k->nnotes : 1) * sizeof *k->pnote_of);
    for (size_t i = 0; i < k->nnotes; i++) k->pnote_of[i] = SIZE_MAX;
    k->first_removed = p->nnotes;
    k->removed_in_order = 1;
    for (size_t i = 0; i < p->nnotes; i++) {
        const struct pnote *pn = &p->notes[i];
        if (pn->src) {
            k->pnote_of[pn->src - k->notes] = i;
            continue;
        }
        if (k->first_removed == p->nnotes) k->first_removed = i;
        if (i > k->first_removed && pn->id <= pn[-1].id) k->removed_in_order = 0;
    }
    diags_init(&k->said);
    for (size_t i = said_from; i < said_to; i++) {
        const struct diag *g = &dg->v[i];
        diag_add(&k->said, g->sev, g->path, g->line, g->col, "%s", g->msg);
    }
    return k;
}

void apkg_keep_pieces(const struct apkg_keep *k, size_t *pieces, size_t *deflated)
{
    *pieces = pdeflate_set_pieces(k->set);
    *deflated = k->deflated;
}

void apkg_keep_free(struct apkg_keep *k)
{
    if (!k) return;
    unlink(k->db_path);
    free(k->db_path);
    pdeflate_set_free(k->set);
    pkg_free(&k->p);
    free(k->pnote_of);
    free(k->deck_print);
    diags_free(&k->said);
    free(k);
}

/* The collection deflated into set, its pieces kept. */
int pkg_deflate_kept(struct pkg *p, struct pdeflate_set *set, const char *db_path,
                     struct pdeflate_ahead *ahead, struct diags *dg)
{
    if (pdeflate_set_update_ahead(set, db_path, ahead) == 0) return 0;
    diag_add(dg, SEV_ERROR, p->out_path, 0, 0,
             "cannot compress the Anki collection: %s (the previous file is kept)",
             strerror(errno));
    return -1;
}

int apkg_write_keep(const struct deck *d, const char *prev_path, struct apkg_prev *prev,
                    int answered_only, const char *zip_path, struct apkg_stats *st,
                    struct diags *dg, struct apkg_keep **keep)
{
    struct apkg_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    if (keep) *keep = NULL;
    struct pkg p;
    pkg_init(&p, d, prev_path);
    int rc = 0;
    load_prev(&p, prev_path, prev, dg);
    size_t said_from = dg->n;
    collect_notes(&p, answered_only, st, dg);
    size_t said_to = dg->n;
    keep_removed(&p, st, dg, prev_path);
    assign_ids(&p);
    prof_mark("package: notes");
    if (rc == 0 && pkg_load_media(&p, dg) < 0) rc = -1;
    char *db_path = keep ? keep_path() : NULL;
    if (!db_path) {
        keep = NULL; /* $TMPDIR takes no file: made as by apkg_write(), not kept */
        db_path = xasprintf("%s-collection", zip_path);
    }
    struct pdeflate_set *set = keep ? pdeflate_set_new(1) : NULL;
    struct pdeflate_ahead *ahead = NULL;
    if (rc == 0 && pkg_write_collection(&p, db_path, &ahead, set != NULL, dg) < 0) rc = -1;
    st->added += p.added;
    st->changed += p.changed;
    prof_mark("package: collection");
    if (rc == 0 && set) {
        rc = pkg_deflate_kept(&p, set, db_path, ahead, dg);
        ahead = NULL; /* taken */
    }
    if (rc == 0 && pkg_write_zip(&p, db_path, set, ahead, zip_path, dg) < 0) rc = -1;
    else if (rc != 0) pdeflate_ahead_free(ahead);
    prof_mark("package: zip");
    if (rc == 0 && keep) {
        *keep = keep_new(&p, db_path, set, answered_only, dg, said_from, said_to);
        return 0;
    }
    unlink(db_path);
    free(db_path);
    pdeflate_set_free(set);
    pkg_free(&p);
    return rc;
}
