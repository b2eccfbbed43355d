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
/* Commits v[0..n) together (res[i] as publish_commit() returns it): all
 * renamed first, then each folder fsynced once. */
void publish_commit_all(struct publish *v, size_t n, int *res, struct diags *dg);
void publish_abort(struct publish *p);

/* Streaming: an output written piece by piece instead of being held in
 * memory.  While the bytes written equal the current file's, nothing is
 * written (a rebuild that changes nothing costs a read); at the first
 * difference the temporary is made, the equal prefix copied into it, and
 * writing goes on there.  finish fsyncs it and fills p for publish_commit
 * (returns 1), or reports the bytes unchanged (0), or an error (-1, with a
 * diagnostic naming path; nothing is left behind).  Write errors are kept
 * and reported by finish. */
struct publish_stream {
    struct publish p;
    int old_fd;        /* the current file, -1 when there is none */
    long long old_size;
    long long off;     /* bytes written so far */
    int same;          /* bytes so far equal the current file's */
    int fd;            /* the temporary, -1 until it is needed */
    int err;           /* errno of the first failure */
};
void publish_stream_open(struct publish_stream *s, const char *path);
void publish_stream_write(struct publish_stream *s, const void *data, size_t len);
/* Puts the bytes written so far on disk now, while the caller has nothing
 * else to do: the fsync before the rename then has little left to wait
 * for.  A failure is kept for publish_stream_finish() to report. */
void publish_stream_sync(struct publish_stream *s);
int publish_stream_finish(struct publish_stream *s, struct publish *p, struct diags *dg);
void publish_stream_abort(struct publish_stream *s);

/* A temporary name in the folder of path (a symlinked path: of its target)
 * that publish_clean_stale() recognises, made as an empty file (so that no
 * one else takes it); NULL when it cannot be made (errno set).  Caller
 * frees. */
char *publish_temp_name(const char *path);

/* For a file another library wrote (the package, written by libzip).
 * Compares tmp with the current file; unchanged: tmp is removed and 0
 * returned.  Else tmp (copied beside path's target first when it is in
 * another folder) gets the current file's mode, is fsynced, and p is ready
 * for publish_commit (1).  -1 on errors; tmp is removed in every case. */
int publish_prepare_written(struct publish *p, const char *path, const char *tmp,
                            struct diags *dg);

/* Removes stale temporaries (".<name>.mdeck-tmp-<pid>-*") left in dir by a
 * killed process; those of a live writer (another build or watcher
 * publishing into the same folder) are left alone. */
void publish_clean_stale(const char *dir);

#endif
