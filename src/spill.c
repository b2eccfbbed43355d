/* spill.c - answer texts in an unlinked temporary file (spill.h). */
#include "mdeck/spill.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdeck/arena.h"
#include "mdeck/util.h"

struct spill {
    int fd;
    char *base;         /* the mapping: cap bytes reserved, end written */
    size_t cap;
    atomic_size_t end;  /* bytes taken by flushes so far */
};

/* A stage is written with one pwrite(): 1 MiB makes ~140 of them for a
 * 100k deck, and is small beside the heap it saves. */
#define STAGE_CAP ((size_t)1 << 20)

struct pending {
    const char **slot;
    size_t off, len; /* the string's, in the stage */
};

struct spill_stage {
    struct spill *sp;
    struct arena *fallback;
    char *b;            /* STAGE_CAP bytes, never moved: slots point in */
    size_t len;
    struct pending *p;
    size_t np, capp;
};

/* A spill on fd with a mapping of cap bytes, or NULL. */
static struct spill *spill_on(int fd, size_t cap)
{
    /* Only address space: the file grows as it is written, and nothing is
     * read beyond what was written. */
    void *m = mmap(NULL, cap, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return NULL;
    struct spill *sp = xmalloc(sizeof *sp);
    sp->fd = fd;
    sp->base = m;
    sp->cap = cap;
    atomic_init(&sp->end, 0);
    return sp;
}

struct spill *spill_open_cap(size_t cap)
{
    int fd = tmpdir_anon_file();
    struct spill *sp = fd < 0 ? NULL : spill_on(fd, cap);
    if (!sp && fd >= 0) close(fd);
    return sp;
}

struct spill *spill_open(void)
{
    int fd = tmpdir_anon_file();
    if (fd < 0) return NULL;
    /* 64 GiB first; less when the address space is limited (ulimit -v) */
    for (size_t cap = (size_t)1 << 36; cap >= (size_t)1 << 28; cap >>= 2) {
        struct spill *sp = spill_on(fd, cap);
        if (sp) return sp;
    }
    close(fd);
    return NULL;
}

void spill_close(struct spill *sp)
{
    if (!sp) return;
    munmap(sp->base, sp->cap);
    close(sp->fd);
    free(sp);
}

size_t spill_bytes(const struct spill *sp)
{
    return sp ? atomic_load(&sp->end) : 0;
}

/* Writes data[0..len) to the file: where it landed in the mapping, or NULL
 * when the file or the mapping cannot take it. */
static const char *spill_write(struct spill *sp, const char *data, size_t len)
{
    size_t off = atomic_fetch_add(&sp->end, len);
    if (off > sp->cap || len > sp->cap - off) return NULL;
    if (write_all_at(sp->fd, data, len, (long long)off) < 0) return NULL;
    return sp->base + off;
}

struct spill_stage *spill_stage_new(struct spill *sp, struct arena *fallback)
{
    struct spill_stage *st = xcalloc(1, sizeof *st);
    st->sp = sp;
    st->fallback = fallback;
    st->b = xmalloc(STAGE_CAP);
    return st;
}

void spill_flush(struct spill_stage *st)
{
    if (!st->len) return;
    const char *at = spill_write(st->sp, st->b, st->len);
    for (size_t i = 0; i < st->np; i++) {
        const struct pending *p = &st->p[i];
        *p->slot = at ? at + p->off : arena_strndup(st->fallback, st->b + p->off, p->len);
    }
    st->len = st->np = 0;
}

/* A record is the string's length (LEN_BYTES, little-endian), the string
 * and a NUL: spill_get() reads the length first. */
#define LEN_BYTES 4

static void put_len(char *at, size_t len)
{
    for (int i = 0; i < LEN_BYTES; i++) at[i] = (char)(len >> 8 * i);
}

void spill_put(struct spill_stage *st, const char **slot, const char *s, size_t len)
{
    size_t rec = LEN_BYTES + len + 1;
    if (len >= ((size_t)1 << (8 * LEN_BYTES)) - 1) { /* no spill has room for it */
        *slot = arena_strndup(st->fallback, s, len);
        return;
    }
    if (rec > STAGE_CAP) { /* alone, in a record of its own */
        char *z = xmalloc(rec);
        put_len(z, len);
        memcpy(z + LEN_BYTES, s, len);
        z[LEN_BYTES + len] = '\0';
        const char *at = spill_write(st->sp, z, rec);
        *slot = at ? at + LEN_BYTES : arena_strndup(st->fallback, s, len);
        free(z);
        return;
    }
    if (rec > STAGE_CAP - st->len) spill_flush(st);
    char *at = st->b + st->len;
    put_len(at, len);
    memcpy(at + LEN_BYTES, s, len);
    at[LEN_BYTES + len] = '\0';
    GROW(st->p, st->np + 1, st->capp);
    st->p[st->np++] = (struct pending){slot, st->len + LEN_BYTES, len};
    *slot = at + LEN_BYTES;
    st->len += rec;
}

void spill_stage_free(struct spill_stage *st)
{
    if (!st) return;
    spill_flush(st);
    free(st->b);
    free(st->p);
    free(st);
}

/* An answer read on its own: the length and ~2 KB of text, which covers
 * most answers in one read. */
#define GET_FIRST 2048

void spill_reader_free(struct spill_reader *r)
{
    for (size_t i = 0; i < SPILL_BLOCKS; i++) free(r->b[i].s);
    memset(r, 0, sizeof *r);
}

static size_t len_at(const char *at)
{
    size_t len = 0;
    for (int i = LEN_BYTES - 1; i >= 0; i--) len = len << 8 | (unsigned char)at[i];
    return len;
}

/* The record at rec when block k holds all of it: its string, else NULL. */
static const char *in_block(const struct spill_block *k, long long rec)
{
    if (!k->s || rec < k->off || (size_t)(rec - k->off) + LEN_BYTES > k->len) return NULL;
    const char *at = k->s + (rec - k->off);
    size_t len = len_at(at);
    return (size_t)(rec - k->off) + LEN_BYTES + len < k->len ? at + LEN_BYTES : NULL;
}

/* Reads [start, start + want) into k, and on until the record at rec ends:
 * 0, or -1 when the file would not give it. */
static int fill(const struct spill *sp, struct spill_block *k, long long start, size_t want,
                long long rec, struct spill_reader *r)
{
    /* a block that starts there already only needs its end read */
    size_t at = (size_t)(rec - start), have = k->s && k->off == start ? k->len : 0;
    size_t need = at + LEN_BYTES;
    k->len = 0;
    for (int len_known = 0;;) {
        if (need > want) want = need;
        if (want + 1 > k->cap) {
            k->cap = want + 1;
            k->s = xrealloc(k->s, k->cap);
        }
        while (have < need) {
            ssize_t got = pread(sp->fd, k->s + have, want - have, start + (long long)have);
            r->reads++;
            if (got <= 0) return -1;
            r->bytes += (size_t)got;
            have += (size_t)got;
        }
        if (len_known) break;
        need = at + LEN_BYTES + len_at(k->s + at) + 1;
        len_known = 1;
    }
    k->off = start;
    k->len = have;
    k->s[have] = '\0';
    return 0;
}

const char *spill_get(const struct spill *sp, const char *p, struct spill_reader *r)
{
    if (!sp || !p || p < sp->base + LEN_BYTES || p >= sp->base + sp->cap) return p;
    long long rec = (long long)(p - sp->base) - LEN_BYTES;
    long long start = r->near ? rec / (long long)SPILL_BLOCK * (long long)SPILL_BLOCK : rec;
    size_t pick = 0, same = SPILL_BLOCKS;
    if (r->near) {
        for (size_t i = 0; i < SPILL_BLOCKS; i++) {
            const char *s = in_block(&r->b[i], rec);
            if (s) {
                r->b[i].used = ++r->tick;
                return s;
            }
            if (r->b[i].s && r->b[i].off == start) same = i;
            if (r->b[i].used < r->b[pick].used) pick = i;
        }
        if (same < SPILL_BLOCKS) pick = same; /* the record runs past its end */
    }
    struct spill_block *k = &r->b[pick];
    size_t want = r->near ? SPILL_BLOCK : GET_FIRST;
    if (fill(sp, k, start, want, rec, r) < 0) {
        k->len = 0;
        return p; /* read through the mapping, then */
    }
    k->used = ++r->tick;
    return k->s + (rec - start) + LEN_BYTES;
}
