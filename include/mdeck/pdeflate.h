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

#include <zip.h>

#define PDEFLATE_PIECE ((size_t)1 << 20)

/* A source deflating the file at path with ISA-L's igzip at level (1-3;
 * others are clamped), to be added
 * with zip_file_add() and no compression set on the entry.  NULL when the
 * file cannot be opened (errno set). */
zip_source_t *pdeflate_source(zip_t *za, const char *path, int level);

#endif
