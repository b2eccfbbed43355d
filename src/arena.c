/* arena.c - bump allocation in chunks; everything freed at once.
 *
 * Blocks from arena_alloc() start at a multiple of ARENA_ALIGN (callers keep
 * pointers, sizes and structs in them); strings are packed byte after byte,
 * as nothing but chars is read from them: rounding every string up to 16
 * bytes cost 8 bytes a string, most of a short tag or URL. */
#include "mdeck/arena.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/util.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define CHUNK_MIN (64 * 1024)
#define CHUNK_MAX (4 * 1024 * 1024)
#define ARENA_ALIGN (_Alignof(max_align_t) > 16 ? _Alignof(max_align_t) : 16)

/* data[] starts aligned as long as malloc aligns to max_align_t (C17 7.22.3) */
_Static_assert(offsetof(struct arena_chunk, data) % _Alignof(max_align_t) == 0,
               "arena chunk data misaligned");

void arena_init(struct arena *a) { a->head = NULL; }

void arena_free(struct arena *a)
{
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

size_t arena_bytes(const struct arena *a)
{
    size_t n = 0;
    for (const struct arena_chunk *c = a->head; c; c = c->next) n += c->used;
    return n;
}

/* n bytes starting at a multiple of align (a power of two, at most
 * ARENA_ALIGN), not zeroed. */
static void *take(struct arena *a, size_t n, size_t align)
{
    if (n > SIZE_MAX / 2) xmalloc(SIZE_MAX); /* reports and aborts */
    struct arena_chunk *c = a->head;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at > c->size || c->size - at < n) {
        /* Chunks double up to CHUNK_MAX: a small deck takes little memory,
         * a large one few big chunks, which malloc maps on their own
         * instead of interleaving them with the parsers' short-lived
         * allocations (that fragmentation cost a 100,000-note build 10%). */
        size_t grow = c ? c->size * 2 : CHUNK_MIN;
        if (grow > CHUNK_MAX) grow = CHUNK_MAX;
        if (grow < CHUNK_MIN) grow = CHUNK_MIN;
        size_t size = n > grow / 2 ? (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1) : grow;
        c = xmalloc(sizeof *c + size);
        c->used = 0;
        c->size = size;
        if (n > grow / 2 && a->head) {
            /* A big block gets its own chunk behind the current one, so the
             * free space of the current chunk is not wasted. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        at = 0;
    }
    void *p = (char *)c->data + at;
    c->used = at + n;
    return p;
}

void *arena_alloc(struct arena *a, size_t n)
{
    void *p = take(a, n, ARENA_ALIGN);
    memset(p, 0, n);
    return p;
}

void arena_adopt(struct arena *a, struct arena *from)
{
    if (!from->head) return;
    struct arena_chunk *tail = from->head;
    while (tail->next) tail = tail->next;
    /* behind a's current chunk, which keeps serving allocations */
    if (a->head) {
        tail->next = a->head->next;
        a->head->next = from->head;
    } else {
        a->head = from->head;
    }
    from->head = NULL;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = take(a, n + 1, 1);
    if (n) memcpy(p, s, n); /* s may be NULL when n is 0 (md4c's empty link) */
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    char *p = arena_strndup(a, b.s, b.len);
    buf_release(&b);
    return p;
}
