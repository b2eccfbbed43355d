/* scratch.h - a scratch folder per unit test (cmocka setup/teardown). */
#ifndef MDECK_TEST_SCRATCH_H
#define MDECK_TEST_SCRATCH_H

#include <stddef.h>

/* The folder of the running test: made by scratch_setup, removed with
 * everything in it by scratch_teardown. */
extern char scratch_dir[64];

int scratch_setup(void **state);
int scratch_teardown(void **state);

/* MDECK_NOW set to t: the clock every build reads (util.h now_seconds). */
void scratch_set_now(long long t);
/* Writes n bytes to path (created or truncated), asserting success. */
void scratch_write_bytes(const char *path, const void *p, size_t n);
/* Writes text to scratch_dir/rel, making the folders on the way; with
 * by_rename, as editors save: into a temporary renamed over the file. */
void scratch_put(const char *rel, const char *text, int by_rename);

/* A real 1x1 PNG. */
extern const unsigned char scratch_png[];
extern const size_t scratch_png_size;

#endif
