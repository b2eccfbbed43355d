/* scratch.h - a scratch folder per unit test (cmocka setup/teardown). */
#ifndef MDECK_TEST_SCRATCH_H
#define MDECK_TEST_SCRATCH_H

/* The folder of the running test: made by scratch_setup, removed with
 * everything in it by scratch_teardown. */
extern char scratch_dir[64];

int scratch_setup(void **state);
int scratch_teardown(void **state);

#endif
