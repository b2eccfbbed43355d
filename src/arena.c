/* arena.c - bump allocation in chunks; everything freed at once. */
#include "mdeck/arena.h"

#include <stdarg.h>
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

void arena_init(struct arena *a) { a->head = NULL; }

void arena_free(struct arena *a)
{
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Chunks double up to CHUNK_MAX: a small deck takes little memory,
         * a large one few big chunks, which malloc maps on their own
         * instead of interleaving them with the parsers' short-lived
         * allocations (that fragmentation cost a 100,000-note build 10%). */
        size_t grow = c ? c->size * 2 : CHUNK_MIN;
        if (grow > CHUNK_MAX) grow = CHUNK_MAX;
        if (grow < CHUNK_MIN) grow = CHUNK_MIN;
        size_t size = n > grow / 2 ? n : grow;
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
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
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
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
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
