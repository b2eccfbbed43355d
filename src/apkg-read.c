/* apkg-read.c - reads a legacy Anki package back: for the previous-package
 * comparison of apkg_build, for `mdeck inspect` and for tests.
 *
 * The input is untrusted (any file a user points us at): every size is
 * capped, the collection is streamed to a private temporary file rather
 * than into memory, and SQLite opens it read-only in defensive mode. */
#include "mdeck/apkg.h"
#include "apkg-int.h"
#include "mdeck/hash.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

/* The media map is a small JSON object; anything bigger is not one. */
#define MAX_MEDIA_MAP ((zip_uint64_t)64 << 20)

static int fail(struct diags *dg, const char *path, const char *fmt, ...)
    MDECK_PRINTF(3, 4);

static int fail(struct diags *dg, const char *path, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    diag_add(dg, SEV_ERROR, path, 0, 0, "%s", b.s);
    buf_release(&b);
    return -1;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return xstrdup(s ? (const char *)s : "");
}

/* The same, in the notes' arena: a malloc() of its own per guid and per
 * tags string took ~6 MB for 100,000 notes. */
static char *col_astr(sqlite3_stmt *st, int i, struct arena *a)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return arena_strdup(a, s ? (const char *)s : "");
}

/* A deflated entry inflated by ISA-L, three times as fast as zlib through
 * libzip: the entry is read as stored and its size and CRC-32 checked here
 * (libzip would check them).  0, or -1 with a diagnostic. */
static int inflate_entry(zip_t *za, zip_uint64_t idx, const zip_stat_t *zs, int fd,
                         const char *path, struct diags *dg)
{
    zip_file_t *zf = zip_fopen_index(za, idx, ZIP_FL_COMPRESSED);
    if (!zf) return fail(dg, path, "cannot read the collection in this package: %s",
                         zip_strerror(za));
    struct inflate_state *st = xmalloc(sizeof *st);
    isal_inflate_init(st);
    st->crc_flag = ISAL_GZIP_NO_HDR; /* raw deflate; st->crc: the output's CRC-32 */
    enum { IN = 1 << 16, OUT = 1 << 18 };
    unsigned char *in = xmalloc(IN), *out = xmalloc(OUT);
    uint64_t total = 0;
    int rc = 0, eof = 0;
    while (rc == 0 && st->block_state != ISAL_BLOCK_FINISH) {
        if (st->avail_in == 0 && !eof) {
            zip_int64_t n = zip_fread(zf, in, IN);
            if (n < 0) {
                rc = fail(dg, path, "the collection in this package is damaged: %s",
                          zip_file_strerror(zf));
                break;
            }
            eof = n == 0;
            st->next_in = in;
            st->avail_in = (uint32_t)n;
        }
        uint32_t had = st->avail_in;
        st->next_out = out;
        st->avail_out = OUT;
        int r = isal_inflate(st);
        size_t got = OUT - st->avail_out;
        if (r < 0 || (got == 0 && st->avail_in == had && (eof || had))) {
            rc = fail(dg, path, "the collection in this package is damaged: %s",
                      r < 0 ? "invalid deflate data" : "the data ends too early");
            break;
        }
        total += got;
        if (total > APKG_MAX_COLLECTION)
            rc = fail(dg, path, "the collection in this package is larger than %s; "
                      "mdeck does not read it", "2 GiB");
        else if (write_all(fd, (const char *)out, got) < 0)
            rc = fail(dg, path, "cannot write a temporary copy of the collection: %s",
                      strerror(errno));
    }
    if (rc == 0 && (total != zs->size || st->crc != zs->crc))
        rc = fail(dg, path, "the collection in this package is damaged: %s",
                  total != zs->size ? "wrong size" : "CRC error");
    free(in);
    free(out);
    free(st);
    zip_fclose(zf);
    return rc;
}

/* Any other entry, through libzip.  0, or -1 with a diagnostic. */
static int copy_entry(zip_t *za, zip_uint64_t idx, int fd, const char *path, struct diags *dg)
{
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    if (!zf) return fail(dg, path, "cannot read the collection in this package: %s",
                         zip_strerror(za));
    char *chunk = xmalloc(1 << 16);
    uint64_t total = 0;
    int ok = 1;
    for (;;) {
        zip_int64_t n = zip_fread(zf, chunk, 1 << 16);
        if (n < 0) {
            fail(dg, path, "the collection in this package is damaged: %s",
                 zip_file_strerror(zf));
            ok = 0;
            break;
        }
        if (n == 0) break;
        total += (uint64_t)n;
        if (total > APKG_MAX_COLLECTION) {
            /* The declared size lied: stop at the cap either way. */
            fail(dg, path, "the collection in this package is larger than %s; "
                 "mdeck does not read it", "2 GiB");
            ok = 0;
            break;
        }
        if (write_all(fd, chunk, (size_t)n) < 0) {
            fail(dg, path, "cannot write a temporary copy of the collection: %s",
                 strerror(errno));
            ok = 0;
            break;
        }
    }
    free(chunk);
    zip_fclose(zf);
    return ok ? 0 : -1;
}

/* Copies zip entry idx into a new temporary file; returns its path (caller
 * unlinks and frees) or NULL with a diagnostic. */
static char *extract_collection(zip_t *za, zip_uint64_t idx, const char *path,
                                struct diags *dg)
{
    zip_stat_t zs;
    if (zip_stat_index(za, idx, 0, &zs) < 0) {
        fail(dg, path, "cannot read the package: %s", zip_strerror(za));
        return NULL;
    }
    if ((zs.valid & ZIP_STAT_SIZE) && zs.size > APKG_MAX_COLLECTION) {
        fail(dg, path, "the collection in this package is larger than %s; "
             "mdeck does not read it", "2 GiB");
        return NULL;
    }
    char *tmp;
    int fd = tmpdir_file(&tmp);
    if (fd < 0) {
        fail(dg, path, "cannot create a temporary file to read this package: %s",
             strerror(errno));
        return NULL;
    }
    int ok = 1;
    zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_CRC | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    if ((zs.valid & need) == need && zs.comp_method == ZIP_CM_DEFLATE &&
        zs.encryption_method == ZIP_EM_NONE) {
        ok = inflate_entry(za, idx, &zs, fd, path, dg) == 0;
    } else {
        ok = copy_entry(za, idx, fd, path, dg) == 0;
    }
    /* A database saved in WAL mode (header bytes 18 and 19 = 2) cannot be
     * opened read-only without its -wal file; the copy is ours, so mark it
     * as a rollback-journal database, which reads the same pages. */
    unsigned char hdr[20];
    if (ok && pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
        !memcmp(hdr, "SQLite format 3", 16) && (hdr[18] == 2 || hdr[19] == 2)) {
        static const unsigned char one[2] = {1, 1};
        if (pwrite(fd, one, 2, 18) != 2) ok = 0;
    }
    if (close(fd) < 0) ok = 0;
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    return tmp;
}

static int read_col(sqlite3 *db, struct apkg_info *info)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT ver, conf, models, decks, dconf FROM col "
                               "ORDER BY id LIMIT 1", -1, &st, NULL))
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        info->ver = sqlite3_column_int(st, 0);
        info->col_conf_json = col_str(st, 1);
        info->models_json = col_str(st, 2);
        info->decks_json = col_str(st, 3);
        info->dconf_json = col_str(st, 4);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int read_notes(sqlite3 *db, struct apkg_info *info, int slim)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT id, guid, mid, mod, tags, flds, sfld, csum "
                               "FROM notes ORDER BY id", -1, &st, NULL))
        return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        GROW(info->notes, info->nnotes + 1, cap);
        struct apkg_note *n = &info->notes[info->nnotes++];
        memset(n, 0, sizeof *n);
        n->id = sqlite3_column_int64(st, 0);
        n->guid = col_astr(st, 1, &info->strs);
        n->mid = sqlite3_column_int64(st, 2);
        n->mod = sqlite3_column_int64(st, 3);
        n->tags = col_astr(st, 4, &info->strs);
        if (slim) {
            const void *f = sqlite3_column_blob(st, 5);
            sha1(f ? f : "", (size_t)sqlite3_column_bytes(st, 5), n->flds_sha1);
        } else {
            n->flds = col_astr(st, 5, &info->strs);
            n->sfld = col_astr(st, 6, &info->strs);
        }
        n->csum = (uint32_t)sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    SHRINK(info->notes, info->nnotes, cap); /* ~2 MB at 100,000 notes */
    return rc == SQLITE_DONE ? 0 : -1;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

/* By note, then ordinal, then id (the rest only for hostile duplicates). */
static int cmp_card(const void *x, const void *y)
{
    const struct apkg_card *a = x, *b = y;
    int c = cmp_i64(a->nid, b->nid);
    if (!c) c = cmp_i64(a->ord, b->ord);
    if (!c) c = cmp_i64(a->id, b->id);
    if (!c) c = cmp_i64(a->did, b->did);
    if (!c) c = cmp_i64(a->due, b->due);
    if (!c) c = cmp_i64(a->queue, b->queue);
    if (!c) c = cmp_i64(a->type, b->type);
    return c;
}

/* The note whose id is nid (notes are in id order), or NULL. */
static struct apkg_note *note_by_id(struct apkg_info *info, int64_t nid)
{
    size_t lo = 0, hi = info->nnotes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (info->notes[mid].id < nid) lo = mid + 1;
        else hi = mid;
    }
    return lo < info->nnotes && info->notes[lo].id == nid ? &info->notes[lo] : NULL;
}

/* Each note's did from its first card, and unless slim the cards, sorted
 * by note, ordinal and id.  Read in the table's order and sorted here:
 * SQLite would walk the nid index and look every card up by its id, then
 * sort each note's cards again (0.25 s against 0.08 s for the 100,000
 * cards of the 100k bench deck in the sqlite3 shell).  A slim read keeps
 * no card: a build needs only the first card's deck, of removed notes. */
static int read_cards(sqlite3 *db, struct apkg_info *info, int slim)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT id, nid, did, ord, due, queue, type FROM cards",
                           -1, &st, NULL))
        return -1;
    size_t cap = 0;
    /* per note, whether a card was seen, and the first one's ordinal and id */
    struct {
        int64_t ord, id;
    } *first = xcalloc(info->nnotes ? info->nnotes : 1, sizeof *first);
    unsigned char *have = xcalloc(info->nnotes ? info->nnotes : 1, 1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct apkg_card c = {
            .id = sqlite3_column_int64(st, 0),
            .nid = sqlite3_column_int64(st, 1),
            .did = sqlite3_column_int64(st, 2),
            .ord = sqlite3_column_int64(st, 3),
            .due = sqlite3_column_int64(st, 4),
            .queue = sqlite3_column_int64(st, 5),
            .type = sqlite3_column_int64(st, 6),
        };
        struct apkg_note *n = note_by_id(info, c.nid);
        size_t k = n ? (size_t)(n - info->notes) : 0;
        if (n && (!have[k] || c.ord < first[k].ord ||
                  (c.ord == first[k].ord &&
                   (c.id < first[k].id || (c.id == first[k].id && c.did < n->did))))) {
            have[k] = 1;
            first[k].ord = c.ord;
            first[k].id = c.id;
            n->did = c.did;
        }
        if (slim) continue;
        GROW(info->cards, info->ncards + 1, cap);
        info->cards[info->ncards++] = c;
    }
    sqlite3_finalize(st);
    free(first);
    free(have);
    if (info->ncards) qsort(info->cards, info->ncards, sizeof *info->cards, cmp_card);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int read_db(const char *file, const char *path, struct apkg_info *info, int slim,
                   struct diags *dg)
{
    sqlite3 *db = NULL;
    if (pkg_sql_open(file, &db, SQLITE_OPEN_READONLY) != SQLITE_OK) {
        fail(dg, path, "cannot open the collection in this package: %s",
             db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    /* Hostile schemas: no views/triggers calling functions, no writes. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    int rc = 0;
    if (read_col(db, info) < 0 || read_notes(db, info, slim) < 0 ||
        read_cards(db, info, slim) < 0) {
        fail(dg, path, "this is not a readable Anki collection (%s); build it "
             "again or export it again from Anki", sqlite3_errmsg(db));
        rc = -1;
    }
    if (slim && rc == 0) info->db = db;
    else sqlite3_close(db);
    return rc;
}

struct media_pair {
    const char *key, *name;
};

static int cmp_media(const void *a, const void *b)
{
    const char *x = ((const struct media_pair *)a)->key;
    const char *y = ((const struct media_pair *)b)->key;
    size_t lx = strlen(x), ly = strlen(y);
    /* Numeric keys ("2" < "10") in number order, others after, by bytes. */
    int nx = lx && strspn(x, "0123456789") == lx;
    int ny = ly && strspn(y, "0123456789") == ly;
    if (nx != ny) return ny - nx;
    if (nx && lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x, y);
}

static int read_media(zip_t *za, const char *path, struct apkg_info *info,
                      struct diags *dg)
{
    zip_int64_t idx = zip_name_locate(za, "media", 0);
    if (idx < 0) return 0; /* the Rust importer takes a missing map as {} */
    zip_stat_t zs;
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &zs) < 0 ||
        !(zs.valid & ZIP_STAT_SIZE) || zs.size > MAX_MEDIA_MAP)
        return fail(dg, path, "the media map of this package is %s",
                    "too large or unreadable");
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!zf) return fail(dg, path, "cannot read the media map: %s", zip_strerror(za));
    struct buf b = BUF_INIT;
    buf_grow(&b, (size_t)zs.size + 1);
    zip_int64_t n = zip_fread(zf, b.s, zs.size);
    zip_fclose(zf);
    if (n < 0 || (zip_uint64_t)n != zs.size) {
        buf_release(&b);
        return fail(dg, path, "the media map of this package is %s", "damaged");
    }
    b.len = (size_t)n;
    b.s[b.len] = '\0';
    json_error_t je;
    json_t *map = json_loadb(b.s, b.len, 0, &je);
    buf_release(&b);
    if (!json_is_object(map)) {
        json_decref(map);
        return fail(dg, path, "the media map of this package is %s",
                    "not a JSON object");
    }
    size_t count = json_object_size(map);
    struct media_pair *v = xcalloc(count ? count : 1, sizeof *v);
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        if (!json_is_string(val)) continue;
        v[k].key = key;
        v[k].name = json_string_value(val);
        k++;
    }
    qsort(v, k, sizeof *v, cmp_media);
    info->media_keys = xcalloc(k ? k : 1, sizeof *info->media_keys);
    info->media_names = xcalloc(k ? k : 1, sizeof *info->media_names);
    info->media_sizes = xcalloc(k ? k : 1, sizeof *info->media_sizes);
    info->media_present = xcalloc(k ? k : 1, sizeof *info->media_present);
    for (size_t i = 0; i < k; i++) {
        info->media_keys[i] = xstrdup(v[i].key);
        info->media_names[i] = xstrdup(v[i].name);
        zip_int64_t e = zip_name_locate(za, v[i].key, 0);
        zip_stat_t ms;
        if (e >= 0 && zip_stat_index(za, (zip_uint64_t)e, 0, &ms) == 0) {
            info->media_present[i] = 1;
            info->media_sizes[i] = (ms.valid & ZIP_STAT_SIZE) ? ms.size : 0;
        }
    }
    info->nmedia = k;
    free(v);
    json_decref(map);
    return 0;
}

static int read_package(const char *path, struct apkg_info *info, int slim,
                        struct diags *dg);

int apkg_read(const char *path, struct apkg_info *info, struct diags *dg)
{
    return read_package(path, info, 0, dg);
}

int apkg_read_slim(const char *path, struct apkg_info *info, struct diags *dg)
{
    return read_package(path, info, 1, dg);
}

char *apkg_note_flds(const struct apkg_info *info, const struct apkg_note *n)
{
    if (n->flds) return xstrdup(n->flds);
    if (!info->db) return NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(info->db, "SELECT flds FROM notes WHERE id = ?", -1, &st, NULL))
        return NULL;
    sqlite3_bind_int64(st, 1, n->id);
    char *f = sqlite3_step(st) == SQLITE_ROW ? col_str(st, 0) : NULL;
    sqlite3_finalize(st);
    return f;
}

static int read_package(const char *path, struct apkg_info *info, int slim, struct diags *dg)
{
    memset(info, 0, sizeof *info);
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "cannot open this package: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_int64_t idx = zip_name_locate(za, "collection.anki21", 0);
    info->collection = "collection.anki21";
    if (idx < 0) {
        if (zip_name_locate(za, "collection.anki21b", 0) >= 0) {
            /* Its collection.anki2, if any, is a "please update" dummy. */
            diag_add(dg, SEV_ERROR, path, 0, 0,
                     "this package uses Anki's newer format (collection.anki21b), "
                     "which mdeck does not read; export it again from Anki with "
                     "\"Support older Anki versions\" checked");
            zip_discard(za);
            return -1;
        }
        idx = zip_name_locate(za, "collection.anki2", 0);
        info->collection = "collection.anki2";
    }
    if (idx < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "this is not an Anki package: it holds no collection.anki2%s",
                 zip_name_locate(za, "meta", 0) >= 0
                     ? " (only a meta entry: a newer format mdeck does not read)"
                     : "");
        zip_discard(za);
        return -1;
    }
    char *tmp = extract_collection(za, (zip_uint64_t)idx, path, dg);
    int rc = -1;
    if (tmp) {
        /* Removed at once also when kept open: SQLite reads it through its
         * descriptor, and a killed build leaves nothing behind. */
        rc = read_db(tmp, path, info, slim, dg);
        unlink(tmp);
        free(tmp);
    }
    if (rc == 0) rc = read_media(za, path, info, dg);
    zip_discard(za);
    if (rc < 0) apkg_info_free(info);
    return rc;
}

void apkg_info_free(struct apkg_info *info)
{
    free(info->decks_json);
    free(info->models_json);
    free(info->col_conf_json);
    free(info->dconf_json);
    arena_free(&info->strs);
    free(info->notes);
    free(info->cards);
    for (size_t i = 0; i < info->nmedia; i++) {
        free(info->media_keys[i]);
        free(info->media_names[i]);
    }
    free(info->media_keys);
    free(info->media_names);
    free(info->media_sizes);
    free(info->media_present);
    sqlite3_close(info->db);
    memset(info, 0, sizeof *info);
}
