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
#include <zip.h>

#define PDEFLATE_PIECE ((size_t)1 << 20)

/* A source deflating the file at path with ISA-L's igzip at level (1-3;
 * others are clamped), to be added
 * with zip_file_add() and no compression set on the entry.  NULL when the
 * file cannot be opened (errno set). */
zip_source_t *pdeflate_source(zip_t *za, const char *path, int level);

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
/* The file's pieces, and how many of them the last update deflated. */
size_t pdeflate_set_pieces(const struct pdeflate_set *s);
size_t pdeflate_set_deflated(const struct pdeflate_set *s);
/* The deflated file as a libzip source (added like pdeflate_source's),
 * reading the set, which must not change or be freed before zip_close()
 * returns; only for a set that an update made.  NULL on failure. */
zip_source_t *pdeflate_set_source(zip_t *za, const struct pdeflate_set *s);
void pdeflate_set_free(struct pdeflate_set *s);

#endif
