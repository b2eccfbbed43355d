/* publish.h - atomic replacement of output files.
 *
 * A temporary file is written in the same folder as the target, fsynced,
 * given the old file's mode, and renamed over the target; then the folder is
 * fsynced.  Readers see the old or the new file, complete, even after a
 * crash.  When the new bytes equal the old ones nothing is touched, so sync
 * tools and Anki are not woken for nothing. */
#ifndef MDECK_PUBLISH_H
#define MDECK_PUBLISH_H

#include <stddef.h>

#include "mdeck/diag.h"

/* Returns 1 when the file was replaced, 0 when it already held these bytes,
 * -1 on error (diagnostic recorded; the previous file is untouched). */
int publish_file(const char *path, const void *data, size_t len,
                 struct diags *dg);

/* Two phases, for outputs that must change together: prepare writes and
 * fsyncs the temporary (or notes that the bytes are unchanged); commit
 * renames it over the target; abort removes it.  A build prepares every
 * output first, so a failure in any of them replaces none. */
struct publish {
    char *path;   /* target as given (for diagnostics) */
    char *dest;   /* where to rename: the symlink's target when it is one */
    char *tmp;    /* prepared temporary, NULL when unchanged */
    char *dir;
};
/* Returns 1 (temporary ready), 0 (unchanged, nothing to do) or -1. */
int publish_prepare(struct publish *p, const char *path, const void *data,
                    size_t len, struct diags *dg);
int publish_commit(struct publish *p, struct diags *dg);
void publish_abort(struct publish *p);

/* Removes stale temporaries (".<name>.mdeck-tmp-<pid>-*") left in dir by a
 * killed process; those of a live writer (another build or watcher
 * publishing into the same folder) are left alone. */
void publish_clean_stale(const char *dir);

#endif
