/* spill.h - a large deck's answer texts kept in a temporary file, not on
 * the heap.
 *
 * A 100,000-question deck renders ~140 MB of answer HTML and plain text,
 * which the three writers each read once, in two different orders.  Held
 * on the heap for the whole build, they were half of its peak memory.  A
 * spill writes them to an unlinked file in $TMPDIR and hands out pointers
 * into a read-only shared mapping of that file.  The pointers are ordinary
 * C strings, so every reader stays correct; but a page read through the
 * mapping joins the process's resident set (with the whole folio the page
 * cache holds it in, up to a megabyte), so the writers, which read every
 * answer, copy them out with spill_get() (pread() into a reader's blocks)
 * instead.  The
 * file's pages belong to the kernel's page cache, which can write them out
 * and drop them, not to mdeck's heap (on a tmpfs $TMPDIR they are memory
 * all the same, only swappable, and no longer counted as mdeck's).
 *
 * Each writing thread stages its strings in a struct spill_stage and
 * writes them with one pwrite() when the stage fills (or is flushed); the
 * slots it was given point into the stage until then, and into the mapping
 * from then on.  A string the file cannot take (the disk is full, the
 * mapping is used up) is copied into the stage's fallback arena instead:
 * a spill never loses a string. */
#ifndef MDECK_SPILL_H
#define MDECK_SPILL_H

#include <stddef.h>

struct arena;
struct spill;
struct spill_stage;

/* A new spill, or NULL when $TMPDIR takes no file or no address space is
 * left for the mapping (the caller then keeps its strings on the heap). */
struct spill *spill_open(void);
/* The same with a mapping of cap bytes: strings past it go to the stages'
 * fallback arenas (the tests use a small one). */
struct spill *spill_open_cap(size_t cap);
void spill_close(struct spill *sp); /* NULL does nothing */
/* Bytes written to the file so far. */
size_t spill_bytes(const struct spill *sp);
/* What one reader reads the spill through: copies of parts of the file,
 * each filled by one pread().  A near reader goes through the answers in
 * about the order they were written (the text files: index order, which
 * mostly follows the files the render went through, if not their sections)
 * and keeps SPILL_BLOCKS aligned blocks of SPILL_BLOCK bytes, the least
 * recently used one read over: each part of the file is read about once.
 * The others (the package: id order) read just the answer asked for. */
#define SPILL_BLOCKS 8
#define SPILL_BLOCK ((size_t)64 << 10)
struct spill_block {
    char *s;          /* the copy (NULL: not read yet) */
    size_t len, cap;
    long long off;    /* where it starts in the file */
    unsigned long used; /* when it was last read from */
};
struct spill_reader {
    int near;
    struct spill_block b[SPILL_BLOCKS];
    unsigned long tick;
    size_t reads, bytes; /* pread() calls and bytes read so far (for the tests) */
};
#define SPILL_READER_NEAR {.near = 1}
#define SPILL_READER_ONE {.near = 0}
void spill_reader_free(struct spill_reader *r);
/* The string at p, read through r when p points into the spill (sp may be
 * NULL), else p itself; valid until the next call with r.  Only once every
 * stage is flushed: a block must not copy a part still being written. */
const char *spill_get(const struct spill *sp, const char *p, struct spill_reader *r);

/* A stage of one thread.  Strings the file cannot take go into fallback. */
struct spill_stage *spill_stage_new(struct spill *sp, struct arena *fallback);
/* Copies s[0..len) and a NUL into the stage; *slot points at the copy
 * (in the stage until the next flush, then in the mapping). */
void spill_put(struct spill_stage *st, const char **slot, const char *s, size_t len);
/* Writes the stage out and points its slots into the mapping. */
void spill_flush(struct spill_stage *st);
/* Flushes and frees (NULL does nothing). */
void spill_stage_free(struct spill_stage *st);

#endif
