/* pdeflate.h - a file deflated on every core, as a libzip source.
 *
 * libzip deflates an entry on one thread: for a 100,000-note collection
 * (~130 MB) that is over a second.  This source cuts the file into fixed
 * pieces of PDEFLATE_PIECE bytes, deflates the pieces of each wave (ISA-L's
 * igzip, four times as fast as zlib at level 1) on all
 * workers (each piece primed with the 32 KiB before it, so compression is
 * as good as one stream's), and hands libzip the concatenated raw deflate
 * stream: every piece but the last ends with a sync flush, the last one
 * with the final block, which is one valid deflate stream.  The source
 * says it is already deflated, so libzip copies it as it is, taking the
 * CRC-32 (combined from the pieces') from its stat.
 *
 * The cut points depend only on the file's size, never on the number of
 * workers: the bytes are the same on one core or eight. */
#ifndef MDECK_PDEFLATE_H
#define MDECK_PDEFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <zip.h>

#define PDEFLATE_PIECE ((size_t)1 << 20)

/* A source deflating the file at path with ISA-L's igzip at level (1-3;
 * others are clamped), to be added
 * with zip_file_add() and no compression set on the entry.  NULL when the
 * file cannot be opened (errno set). */
zip_source_t *pdeflate_source(zip_t *za, const char *path, int level);

/* --- pieces deflated ahead, while the file is still being written --------
 *
 * A collection's rows are in the file once they are committed; SQLite then
 * makes the indexes, which writes new pages and the first one.  A thread
 * started with pdeflate_ahead_start() deflates the file's complete pieces
 * as they are at that moment (all but the first and the last, partial one),
 * one after the other, on a CPU the indexes leave idle.  The writer reports
 * every write it makes meanwhile (pdeflate_ahead_touched()); when the file
 * is finished, pdeflate_source_ahead() stops the thread and makes the same
 * stream as pdeflate_source(), the same bytes, taking each piece deflated
 * ahead whose input and dictionary no write touched and that is not the
 * file's last piece, and deflating the others as usual.  The pieces wait in
 * memory (~33 MB for a 127 MB collection) until libzip takes them. */
struct pdeflate_ahead;
/* What became of the pieces deflated ahead: how many the thread made before
 * it was stopped, and how many of them went into the stream. */
struct pdeflate_ahead_stats {
    size_t made, taken;
};

/* Starts deflating the file at path at level (as pdeflate_source), and
 * when hash is set also taking each piece's SHA-1, so that a
 * pdeflate_set can take the pieces (pdeflate_set_update_ahead()): NULL
 * when the file cannot be read, is too small to be worth it, or the
 * thread cannot be started (the caller then goes on without).  st, when
 * not NULL, is kept up to date until a is freed. */
struct pdeflate_ahead *pdeflate_ahead_start(const char *path, int level, int hash,
                                            struct pdeflate_ahead_stats *st);
/* The file is about to get len bytes written at off (a truncation to off:
 * len reaching past any file).  Called by the file's writer only, the
 * thread that calls pdeflate_source_ahead() later. */
void pdeflate_ahead_touched(struct pdeflate_ahead *a, uint64_t off, uint64_t len);
/* pdeflate_source() for the finished file, taking over a (NULL: plain
 * pdeflate_source()); a is freed even when NULL is returned. */
zip_source_t *pdeflate_source_ahead(zip_t *za, const char *path, int level,
                                    struct pdeflate_ahead *a);
/* Waits until the thread has deflated every piece it could, instead of
 * stopping it (the tests: what it made no longer depends on timing). */
void pdeflate_ahead_finish(struct pdeflate_ahead *a);
/* Stops the thread and frees what it made (NULL does nothing). */
void pdeflate_ahead_free(struct pdeflate_ahead *a);

/* --- the pieces kept, for a file changed in a few places ------------------
 *
 * The same stream as pdeflate_source() (the same pieces, the same bytes),
 * but every piece's deflated bytes are kept with a SHA-1 of its input (the
 * piece and the 32 KiB dictionary before it), its length and its CRC-32.
 * After the file changed in place (a few rows of a collection updated),
 * pdeflate_set_update() hashes every piece again on all cores (SHA-1 runs
 * at ~1.2 GB/s a core, over twice igzip's speed: ~55 ms for 127 MB on two
 * cores) and deflates only the pieces whose input changed; also a piece
 * that becomes or stops being the last one, since only the last one ends
 * the stream.  A set holds the whole deflated file in memory (~33 MB for a
 * 127 MB collection). */
struct pdeflate_set;

/* An empty set deflating at level (as pdeflate_source). */
struct pdeflate_set *pdeflate_set_new(int level);
/* Makes the set describe the file at path now: 0, or -1 with errno set (the
 * set is then empty, and the next update deflates every piece). */
int pdeflate_set_update(struct pdeflate_set *s, const char *path);
/* The same, taking the pieces a deflated ahead (started with hash set, at
 * the set's level) where they still stand: only the others are hashed and,
 * when their input changed, deflated.  a is taken over (NULL: as
 * pdeflate_set_update()). */
int pdeflate_set_update_ahead(struct pdeflate_set *s, const char *path, struct pdeflate_ahead *a);
/* The file's pieces, and how many of them the last update deflated (those
 * deflated ahead and taken included). */
size_t pdeflate_set_pieces(const struct pdeflate_set *s);
size_t pdeflate_set_deflated(const struct pdeflate_set *s);
/* The deflated file as a libzip source (added like pdeflate_source's),
 * reading the set, which must not change or be freed before zip_close()
 * returns; only for a set that an update made.  NULL on failure. */
zip_source_t *pdeflate_set_source(zip_t *za, const struct pdeflate_set *s);
void pdeflate_set_free(struct pdeflate_set *s);

#endif
