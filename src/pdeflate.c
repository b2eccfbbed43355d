/* pdeflate.c - a file deflated on every core, as a libzip source; and the
 * same pieces kept, so that a file changed in a few places is deflated
 * again only there. */
#include "mdeck/pdeflate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include "mdeck/hash.h"
#include "mdeck/par.h"
#include "mdeck/util.h"

#define WINDOW 32768     /* deflate's window: the dictionary of a piece */
#define WAVE 8           /* pieces deflated together, then read by libzip */

struct piece {
    unsigned char *out;
    size_t len;
    uint32_t crc; /* CRC-32 of the piece's input */
    size_t in;   /* input bytes */
    int err;     /* errno-style failure, 0 when fine */
};

struct pdeflate {
    int fd;
    uint64_t size;
    int level;
    size_t workers;
    uint64_t next;     /* input offset of the next wave's first piece */
    struct piece wave[WAVE];
    size_t npieces;    /* pieces of the current wave */
    size_t cur, pos;   /* piece being read and the position in it */
    uLong crc;         /* of every piece made so far */
    int done;          /* the last piece is made: crc is the file's */
    unsigned char *level_buf[PAR_MAX_WORKERS]; /* igzip's work space, per worker */
    size_t level_buf_size;
    struct pdeflate_ahead *ahead; /* pieces deflated ahead, or NULL */
    zip_error_t error;
};

/* Pieces deflated ahead (pdeflate_ahead_start()). */
struct pdeflate_ahead {
    int fd;
    int level;
    size_t n;             /* pieces [1, n) may be deflated: complete at the start */
    struct piece *v;      /* v[i].out: piece i deflated (not last), or NULL */
    char *touched;        /* [n]: written since the start, with its dictionary */
    int hash;             /* also each piece's SHA-1, for a pdeflate_set */
    uint8_t (*sha)[20];   /* [n] when hash: of the dictionary and the piece */
    atomic_int stop;      /* asks the thread to stop after its piece */
    pthread_t tid;
    int joined;
    struct pdeflate_ahead_stats *st, own;
};

/* Whether piece i deflated ahead stands for what would be made of it now
 * that the file has size bytes: made, untouched, and not the last piece,
 * which ends the stream (so a whole one, as when it was deflated). */
static int ahead_has(const struct pdeflate_ahead *a, size_t i, uint64_t size)
{
    return a && i > 0 && i < a->n && a->v[i].out && !a->touched[i] &&
           (uint64_t)(i + 1) * PDEFLATE_PIECE < size;
}

/* Stops the thread after its piece: from then on nothing of a changes. */
static void ahead_stop(struct pdeflate_ahead *a)
{
    if (!a || a->joined) return;
    atomic_store(&a->stop, 1);
    pthread_join(a->tid, NULL);
    a->joined = 1;
}

/* Piece i of the stream deflated ahead, if it can stand for what
 * deflate_pieces() would make now: taken out of a (0), or 1. */
static int take_ahead(struct pdeflate_ahead *a, size_t i, const struct pdeflate *z,
                      struct piece *pc)
{
    if (!ahead_has(a, i, z->size)) return 1;
    pc->out = a->v[i].out;
    pc->len = a->v[i].len;
    pc->crc = a->v[i].crc;
    pc->err = 0;
    a->v[i].out = NULL;
    a->st->taken++;
    return 0;
}

static int read_at(int fd, unsigned char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return got < 0 ? errno : EIO; /* the file shrank */
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* Deflates one piece, in (in_len bytes) preceded by its dictionary (dict
 * bytes at in - dict), with ISA-L's igzip: at level 1 it is four times as
 * fast as zlib's level 1 on a collection (0.25 s against 1.09 s for 127 MB)
 * for 1.5% more bytes; level 3 takes 0.33 s and is smaller than zlib's
 * level 1 (docs/performance.md).  Every piece but the last ends byte-aligned
 * with an empty stored block (a sync flush); the last one ends the stream.
 * *out (malloc'd, trimmed to *len) and *crc, the CRC-32 of the input; 0 or
 * an errno value. */
static int deflate_one(const unsigned char *in, size_t dict, size_t in_len, int last,
                       int level, unsigned char *level_buf, size_t level_buf_size,
                       unsigned char **out, size_t *len, uint32_t *crc)
{
    struct isal_zstream s;
    isal_deflate_init(&s);
    s.level = (uint32_t)level;
    s.level_buf = level_buf;
    s.level_buf_size = (uint32_t)level_buf_size;
    int err = 0;
    if (dict && isal_deflate_set_dict(&s, (uint8_t *)(in - dict), (uint32_t)dict) != COMP_OK)
        err = EIO;
    /* Incompressible input becomes stored blocks: 5 bytes each per
     * 64 KiB, plus the headers and the flush. */
    size_t cap = in_len + in_len / 64 + 1024;
    *out = xmalloc(cap);
    s.next_in = (uint8_t *)in;
    s.avail_in = (uint32_t)in_len;
    s.next_out = *out;
    s.avail_out = (uint32_t)cap;
    s.end_of_stream = (uint16_t)last;
    s.flush = last ? NO_FLUSH : SYNC_FLUSH;
    if (!err && (isal_deflate(&s) != COMP_OK || s.avail_in != 0 || s.avail_out == 0 ||
                 (last && s.internal_state.state != ZSTATE_END)))
        err = EIO;
    *len = cap - s.avail_out;
    *crc = crc32_gzip_refl(0, in, in_len);
    return err;
}

static size_t work_size(int level)
{
    return level == 1 ? ISAL_DEF_LVL1_DEFAULT
           : level == 2 ? ISAL_DEF_LVL2_DEFAULT
                        : ISAL_DEF_LVL3_DEFAULT;
}

static int clamp_level(int level)
{
    return level < 1 ? 1 : level > ISAL_DEF_MAX_LEVEL ? ISAL_DEF_MAX_LEVEL : level;
}

/* Deflates pieces [begin, end) of the current wave. */
static void deflate_pieces(void *arg, size_t w, size_t begin, size_t end)
{
    struct pdeflate *z = arg;
    if (!z->level_buf[w]) z->level_buf[w] = xmalloc(z->level_buf_size);
    for (size_t i = begin; i < end; i++) {
        struct piece *pc = &z->wave[i];
        uint64_t off = z->next + (uint64_t)i * PDEFLATE_PIECE;
        if (pc->out) continue; /* deflated ahead (next_wave()) */
        size_t dict = off < WINDOW ? (size_t)off : WINDOW;
        unsigned char *in = xmalloc(dict + pc->in + 1);
        pc->err = read_at(z->fd, in, dict + pc->in, off - dict);
        if (!pc->err)
            pc->err = deflate_one(in + dict, dict, pc->in, off + pc->in == z->size, z->level,
                                  z->level_buf[w], z->level_buf_size, &pc->out, &pc->len,
                                  &pc->crc);
        free(in);
    }
}

static void free_wave(struct pdeflate *z)
{
    for (size_t i = 0; i < z->npieces; i++) free(z->wave[i].out);
    memset(z->wave, 0, sizeof z->wave);
    z->npieces = z->cur = z->pos = 0;
}

/* Makes the next wave of pieces: 0, or -1 with z->error set. */
static int next_wave(struct pdeflate *z)
{
    free_wave(z);
    uint64_t off = z->next;
    do {
        uint64_t left = z->size - off;
        z->wave[z->npieces].in = left < PDEFLATE_PIECE ? (size_t)left : PDEFLATE_PIECE;
        off += z->wave[z->npieces].in;
        z->npieces++;
    } while (z->npieces < WAVE && off < z->size);
    /* the pieces deflated ahead first, on this thread, so that the
     * workers' chunks hold only work */
    size_t todo = z->npieces;
    for (size_t i = 0; i < z->npieces; i++)
        todo -= take_ahead(z->ahead, (size_t)(z->next / PDEFLATE_PIECE) + i, z, &z->wave[i]) == 0;
    if (todo)
        par_run(z->npieces, 1, z->workers < todo ? z->workers : todo, deflate_pieces, z);
    for (size_t i = 0; i < z->npieces; i++) {
        if (z->wave[i].err) {
            zip_error_set(&z->error, ZIP_ER_READ, z->wave[i].err);
            return -1;
        }
        z->crc = crc32_combine(z->crc, z->wave[i].crc, (z_off_t)z->wave[i].in);
    }
    z->next = off;
    z->done = off == z->size;
    return 0;
}

/* Copies what fits in room bytes at dst of src[*pos..len), advancing *pos;
 * returns how many bytes it copied.  Both readers hand libzip their
 * deflated pieces one after the other through it. */
static size_t copy_on(unsigned char *dst, size_t room, const unsigned char *src, size_t len,
                      size_t *pos)
{
    size_t take = len - *pos;
    if (take > room) take = room;
    memcpy(dst, src + *pos, take);
    *pos += take;
    return take;
}

static zip_int64_t callback(void *state, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct pdeflate *z = state;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        free_wave(z);
        z->next = 0;
        z->done = 0;
        z->crc = crc32(0L, Z_NULL, 0);
        return next_wave(z);
    case ZIP_SOURCE_READ: {
        zip_uint64_t n = 0;
        unsigned char *out = data;
        while (n < len) {
            if (z->cur == z->npieces) {
                if (z->done) break;
                if (next_wave(z) < 0) return -1;
            }
            struct piece *pc = &z->wave[z->cur];
            n += copy_on(out + n, (size_t)(len - n), pc->out, pc->len, &z->pos);
            if (z->pos == pc->len) {
                z->cur++;
                z->pos = 0;
            }
        }
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        free_wave(z);
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &z->error);
        if (!st) return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_METHOD;
        st->size = z->size;
        st->comp_method = ZIP_CM_DEFLATE;
        if (z->done && z->cur == z->npieces) {
            st->valid |= ZIP_STAT_CRC;
            st->crc = (zip_uint32_t)z->crc;
        }
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&z->error, data, len);
    case ZIP_SOURCE_FREE:
        free_wave(z);
        for (size_t w = 0; w < PAR_MAX_WORKERS; w++) free(z->level_buf[w]);
        pdeflate_ahead_free(z->ahead);
        close(z->fd);
        zip_error_fini(&z->error);
        free(z);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        zip_error_set(&z->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

zip_source_t *pdeflate_source(zip_t *za, const char *path, int level)
{
    return pdeflate_source_ahead(za, path, level, NULL);
}

zip_source_t *pdeflate_source_ahead(zip_t *za, const char *path, int level,
                                    struct pdeflate_ahead *a)
{
    ahead_stop(a);
    if (a && a->level != clamp_level(level)) { /* other bytes: no use */
        pdeflate_ahead_free(a);
        a = NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        pdeflate_ahead_free(a);
        errno = e;
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        pdeflate_ahead_free(a);
        errno = e;
        return NULL;
    }
    struct pdeflate *z = xcalloc(1, sizeof *z);
    z->fd = fd;
    z->size = (uint64_t)st.st_size;
    z->level = clamp_level(level);
    z->level_buf_size = work_size(z->level);
    z->workers = par_workers(WAVE, 1);
    z->ahead = a;
    zip_error_init(&z->error);
    zip_source_t *src = zip_source_function(za, callback, z);
    if (!src) {
        close(fd);
        pdeflate_ahead_free(a);
        zip_error_fini(&z->error);
        free(z);
    }
    return src;
}

/* --- pieces deflated ahead -------------------------------------------------- */

static void *ahead_run(void *arg)
{
    struct pdeflate_ahead *a = arg;
    size_t work = work_size(a->level);
    unsigned char *level_buf = xmalloc(work);
    unsigned char *in = xmalloc(WINDOW + PDEFLATE_PIECE);
    for (size_t i = 1; i < a->n && !atomic_load_explicit(&a->stop, memory_order_relaxed); i++) {
        uint64_t off = (uint64_t)i * PDEFLATE_PIECE; /* past the first piece: a whole window */
        struct piece *pc = &a->v[i];
        if (read_at(a->fd, in, WINDOW + PDEFLATE_PIECE, off - WINDOW) ||
            deflate_one(in + WINDOW, WINDOW, PDEFLATE_PIECE, 0, a->level, level_buf, work,
                        &pc->out, &pc->len, &pc->crc)) {
            free(pc->out);
            pc->out = NULL;
            break; /* the stream deflates this one and the rest */
        }
        /* held until libzip reads it: no slack of 1 MiB per piece */
        pc->out = xrealloc(pc->out, pc->len ? pc->len : 1);
        if (a->hash) sha1(in, WINDOW + PDEFLATE_PIECE, a->sha[i]);
        a->st->made++;
    }
    free(in);
    free(level_buf);
    return NULL;
}

/* Worth a thread from this many complete pieces on. */
#define AHEAD_MIN 4

struct pdeflate_ahead *pdeflate_ahead_start(const char *path, int level, int hash,
                                            struct pdeflate_ahead_stats *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) return NULL;
    if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size / PDEFLATE_PIECE < AHEAD_MIN) {
        close(fd);
        return NULL;
    }
    struct pdeflate_ahead *a = xcalloc(1, sizeof *a);
    a->fd = fd;
    a->level = clamp_level(level);
    a->n = (size_t)((uint64_t)sb.st_size / PDEFLATE_PIECE);
    a->v = xcalloc(a->n, sizeof *a->v);
    a->touched = xcalloc(a->n, 1);
    a->hash = hash;
    if (hash) a->sha = xcalloc(a->n, sizeof *a->sha);
    a->st = st ? st : &a->own;
    *a->st = (struct pdeflate_ahead_stats){0};
    atomic_init(&a->stop, 0);
    if (par_thread_create(&a->tid, ahead_run, a) != 0) {
        a->joined = 1; /* no thread to wait for */
        pdeflate_ahead_free(a);
        return NULL;
    }
    return a;
}

void pdeflate_ahead_touched(struct pdeflate_ahead *a, uint64_t off, uint64_t len)
{
    if (!a || !len) return;
    /* piece i is made of [i P, (i+1) P) and its dictionary, the window
     * before it: a write reaches the pieces from its own to the one whose
     * dictionary holds its last byte */
    uint64_t end = len - 1 > UINT64_MAX - off ? UINT64_MAX : off + len - 1; /* its last byte */
    uint64_t first = off / PDEFLATE_PIECE;
    uint64_t last = end > UINT64_MAX - WINDOW ? UINT64_MAX : (end + WINDOW) / PDEFLATE_PIECE;
    for (uint64_t i = first; i <= last && i < a->n; i++) a->touched[i] = 1;
}

void pdeflate_ahead_finish(struct pdeflate_ahead *a)
{
    if (!a || a->joined) return;
    pthread_join(a->tid, NULL);
    a->joined = 1;
}

void pdeflate_ahead_free(struct pdeflate_ahead *a)
{
    if (!a) return;
    ahead_stop(a);
    for (size_t i = 0; i < a->n; i++) free(a->v[i].out);
    free(a->v);
    free(a->sha);
    free(a->touched);
    close(a->fd);
    free(a);
}

/* --- kept pieces ----------------------------------------------------------- */

struct kept {
    unsigned char *out; /* the piece deflated */
    size_t len, in;     /* deflated and input bytes */
    uint32_t crc;       /* CRC-32 of the input */
    uint8_t sha[20];    /* SHA-1 of the dictionary and the input */
    int last;           /* ends the stream (no sync flush) */
};

struct pdeflate_set {
    int level;
    struct kept *v;
    size_t n, cap;
    uint64_t size;   /* input bytes */
    uLong crc;       /* CRC-32 of the whole input */
    size_t deflated; /* pieces the last update deflated */
};

/* One update: the file mapped and, for every piece whose input changed
 * (redo[i]), the piece deflated again (fresh[i], err[i]). */
struct pass {
    const struct pdeflate_set *s; /* as the last update left it */
    const unsigned char *map;
    uint64_t size;
    size_t n;
    char *done;  /* settled before the scan, from pieces deflated ahead */
    char *redo;
    struct kept *fresh;
    int *err;
    unsigned char *work[PAR_MAX_WORKERS];
};

/* Where piece i lies: its offset, the dictionary before it and its length.
 * The cut points are those of pdeflate_source(), so the bytes are too. */
static void span(const struct pass *ps, size_t i, uint64_t *off, size_t *dict, size_t *len)
{
    *off = (uint64_t)i * PDEFLATE_PIECE;
    *dict = *off < WINDOW ? (size_t)*off : WINDOW;
    uint64_t left = ps->size - *off;
    *len = left < PDEFLATE_PIECE ? (size_t)left : PDEFLATE_PIECE;
}

/* Hashes pieces [begin, end) and deflates again each one whose input
 * changed since the last update: a new hash, a new length, or a change of
 * being the last piece (only that one ends the stream).  Hashing and
 * deflating are one pass: a piece's decision needs nothing of the others. */
static void scan_pieces(void *arg, size_t w, size_t begin, size_t end)
{
    struct pass *ps = arg;
    int level = ps->s->level;
    for (size_t i = begin; i < end; i++) {
        if (ps->done[i]) continue;
        uint64_t off;
        size_t dict, len;
        span(ps, i, &off, &dict, &len);
        uint8_t sha[20];
        sha1(ps->map + off - dict, dict + len, sha);
        int last = i == ps->n - 1;
        const struct kept *k = i < ps->s->n ? &ps->s->v[i] : NULL;
        if (k && k->in == len && k->last == last && !memcmp(k->sha, sha, sizeof sha)) continue;
        if (!ps->work[w]) ps->work[w] = xmalloc(work_size(level));
        struct kept *f = &ps->fresh[i];
        ps->redo[i] = 1;
        f->last = last;
        f->in = len;
        memcpy(f->sha, sha, sizeof sha);
        ps->err[i] = deflate_one(ps->map + off, dict, len, last, level, ps->work[w],
                                 work_size(level), &f->out, &f->len, &f->crc);
        /* Kept until the next update: no slack of 1 MiB per piece. */
        if (!ps->err[i]) f->out = xrealloc(f->out, f->len ? f->len : 1);
    }
    /* The pieces read through the mapping leave the resident set (a 100k
     * deck's collection is 127 MB); a neighbour's dictionary read later
     * maps its page again from the page cache. */
    if (end <= begin || !ps->size) return;
    uint64_t off, last_off;
    size_t dict, len;
    span(ps, begin, &off, &dict, &len);
    span(ps, end - 1, &last_off, &dict, &len);
    madvise((void *)(ps->map + off), (size_t)(last_off + len - off), MADV_DONTNEED);
}

static void drop_pieces(struct pdeflate_set *s, size_t from)
{
    for (size_t i = from; i < s->n; i++) free(s->v[i].out);
    if (s->n > from) s->n = from;
}

/* Puts the fresh pieces in place (or, when one failed, empties the set so
 * that it stays consistent: the next update deflates everything).  0, or
 * an errno value. */
static int take_fresh(struct pdeflate_set *s, struct pass *ps)
{
    int err = 0;
    size_t nredo = 0;
    for (size_t i = 0; i < ps->n; i++) {
        nredo += (size_t)ps->redo[i];
        if (ps->redo[i] && ps->err[i] && !err) err = ps->err[i];
    }
    if (err) {
        for (size_t i = 0; i < ps->n; i++) free(ps->fresh[i].out);
        drop_pieces(s, 0);
        return err;
    }
    drop_pieces(s, ps->n);
    GROW(s->v, ps->n, s->cap);
    for (size_t i = 0; i < ps->n; i++) {
        if (!ps->redo[i]) continue;
        if (i < s->n) free(s->v[i].out);
        s->v[i] = ps->fresh[i];
    }
    s->n = ps->n;
    s->size = ps->size;
    s->deflated = nredo;
    s->crc = crc32(0L, Z_NULL, 0);
    for (size_t i = 0; i < s->n; i++)
        s->crc = crc32_combine(s->crc, s->v[i].crc, (z_off_t)s->v[i].in);
    return 0;
}

/* Maps the file at path into ps (an empty file maps to nothing): 0 or an
 * errno value. */
static int map_file(const char *path, struct pass *ps)
{
    static const unsigned char nothing[1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return errno;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    ps->size = (uint64_t)st.st_size;
    ps->map = nothing;
    if (ps->size) {
        void *m = mmap(NULL, (size_t)ps->size, PROT_READ, MAP_SHARED, fd, 0);
        int e = errno;
        close(fd);
        if (m == MAP_FAILED) return e;
        ps->map = m;
    } else {
        close(fd);
    }
    ps->n = ps->size ? (size_t)((ps->size - 1) / PDEFLATE_PIECE + 1) : 1;
    return 0;
}

struct pdeflate_set *pdeflate_set_new(int level)
{
    struct pdeflate_set *s = xcalloc(1, sizeof *s);
    s->level = clamp_level(level);
    return s;
}

/* Settles, before the scan, the pieces deflated ahead that still stand:
 * one whose input is what the set holds stays as it is, the others are
 * taken as fresh, with the SHA-1 the thread took. */
static void take_ahead_set(struct pass *ps, struct pdeflate_ahead *a)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (!ahead_has(a, i, ps->size)) continue;
        ps->done[i] = 1;
        a->st->taken++;
        const struct kept *k = i < ps->s->n ? &ps->s->v[i] : NULL;
        if (k && k->in == PDEFLATE_PIECE && !k->last && !memcmp(k->sha, a->sha[i], 20))
            continue;
        struct kept *f = &ps->fresh[i];
        f->out = a->v[i].out;
        a->v[i].out = NULL;
        f->len = a->v[i].len;
        f->crc = a->v[i].crc;
        f->in = PDEFLATE_PIECE;
        f->last = 0;
        memcpy(f->sha, a->sha[i], sizeof f->sha);
        ps->redo[i] = 1;
    }
}

int pdeflate_set_update(struct pdeflate_set *s, const char *path)
{
    return pdeflate_set_update_ahead(s, path, NULL);
}

int pdeflate_set_update_ahead(struct pdeflate_set *s, const char *path, struct pdeflate_ahead *a)
{
    ahead_stop(a);
    if (a && (!a->hash || a->level != s->level)) { /* no use */
        pdeflate_ahead_free(a);
        a = NULL;
    }
    struct pass ps = {.s = s};
    int err = map_file(path, &ps);
    if (err) {
        pdeflate_ahead_free(a);
        drop_pieces(s, 0);
        errno = err;
        return -1;
    }
    ps.done = xcalloc(ps.n, sizeof *ps.done);
    ps.redo = xcalloc(ps.n, sizeof *ps.redo);
    ps.fresh = xcalloc(ps.n, sizeof *ps.fresh);
    ps.err = xcalloc(ps.n, sizeof *ps.err);
    take_ahead_set(&ps, a);
    pdeflate_ahead_free(a);
    par_run(ps.n, 1, par_workers(ps.n, 1), scan_pieces, &ps);
    err = take_fresh(s, &ps);
    if (ps.size) munmap((void *)ps.map, (size_t)ps.size);
    for (size_t w = 0; w < PAR_MAX_WORKERS; w++) free(ps.work[w]);
    free(ps.done);
    free(ps.redo);
    free(ps.fresh);
    free(ps.err);
    if (err) errno = err;
    return err ? -1 : 0;
}

size_t pdeflate_set_pieces(const struct pdeflate_set *s) { return s->n; }

size_t pdeflate_set_deflated(const struct pdeflate_set *s) { return s->deflated; }

void pdeflate_set_free(struct pdeflate_set *s)
{
    if (!s) return;
    drop_pieces(s, 0);
    free(s->v);
    free(s);
}

/* The set's stream, read by libzip: the pieces one after the other. */
struct set_reader {
    const struct pdeflate_set *s;
    size_t cur, pos; /* piece being read and the position in it */
    zip_error_t error;
};

static zip_int64_t set_read(struct set_reader *r, unsigned char *out, zip_uint64_t len)
{
    zip_uint64_t n = 0;
    while (n < len && r->cur < r->s->n) {
        const struct kept *k = &r->s->v[r->cur];
        n += copy_on(out + n, (size_t)(len - n), k->out, k->len, &r->pos);
        if (r->pos == k->len) {
            r->cur++;
            r->pos = 0;
        }
    }
    return (zip_int64_t)n;
}

static zip_int64_t set_callback(void *state, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct set_reader *r = state;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        r->cur = r->pos = 0;
        return 0;
    case ZIP_SOURCE_READ:
        return set_read(r, data, len);
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &r->error);
        if (!st) return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC;
        st->size = r->s->size;
        st->comp_method = ZIP_CM_DEFLATE;
        st->crc = (zip_uint32_t)r->s->crc;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&r->error, data, len);
    case ZIP_SOURCE_FREE:
        zip_error_fini(&r->error);
        free(r);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        zip_error_set(&r->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

zip_source_t *pdeflate_set_source(zip_t *za, const struct pdeflate_set *s)
{
    struct set_reader *r = xcalloc(1, sizeof *r);
    r->s = s;
    zip_error_init(&r->error);
    zip_source_t *src = zip_source_function(za, set_callback, r);
    if (!src) {
        zip_error_fini(&r->error);
        free(r);
    }
    return src;
}
