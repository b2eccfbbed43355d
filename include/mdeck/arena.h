/* arena.h - memory that lives as long as one build.
 *
 * A deck and everything hanging off it is allocated from one arena and freed
 * at once; no stage frees individual strings of the model. */
#ifndef MDECK_ARENA_H
#define MDECK_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena {
    struct arena_chunk *head;
};

void arena_init(struct arena *a);
void arena_free(struct arena *a);
/* Zeroed, aligned for any type (max_align_t, and at least 16 bytes). */
void *arena_alloc(struct arena *a, size_t n);
/* Strings are packed, with no alignment: store nothing but chars in them. */
char *arena_strdup(struct arena *a, const char *s);  /* NULL stays NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Moves every block of from into a (from is left empty): a worker thread
 * allocates from its own arena, and the build's arena takes it over. */
void arena_adopt(struct arena *a, struct arena *from);
/* The bytes handed out by the arena (its blocks' used parts). */
size_t arena_bytes(const struct arena *a);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
