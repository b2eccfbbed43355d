/* fuzz.h - shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines FUZZ_ENTRY, which is LLVMFuzzerTestOneInput when it
 * is built for libFuzzer (make fuzz) and a plain function when the unit
 * test tests/unit/test_fuzz_regress.c includes it to replay the saved
 * crash inputs of tests/fuzz/regressions/ in `make test`.  A harness
 * reports a broken property with FUZZ_CHECK, which aborts (libFuzzer saves
 * the input as a crash) or, in the unit test, fails the test (FUZZ_FAIL). */
#ifndef MDECK_FUZZ_H
#define MDECK_FUZZ_H

#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

/* The input as the library receives it: followed by a readable byte (the
 * renderer and the index parser may look at s[len]).  That byte is the
 * input's first one, so that the parsers also see slices followed by more
 * text, as answer sections are; a NUL comes after it.  Free with free(). */
static inline char *fuzz_slice(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 2);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = size ? (char)data[0] : '\0';
    s[size + 1] = '\0';
    return s;
}

/* --- scratch folders ------------------------------------------------------
 *
 * The harnesses that need files make them once, in a folder of their own:
 * /dev/shm/mdeck-fuzz-NAME-PID (a tmpfs: no disk I/O per run), or the same
 * under /tmp when /dev/shm cannot be written.  Every such folder is removed
 * when the process exits. */
#define FUZZ_SCRATCH_MAX 8

struct fuzz_scratch_list {
    char path[FUZZ_SCRATCH_MAX][128];
    int n;
};

static inline struct fuzz_scratch_list *fuzz_scratch_list(void)
{
    static struct fuzz_scratch_list list;
    return &list;
}

static inline int fuzz_scratch_rm(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path); /* best effort */
    return 0;
}

static inline void fuzz_scratch_cleanup(void)
{
    struct fuzz_scratch_list *l = fuzz_scratch_list();
    for (int i = 0; i < l->n; i++)
        nftw(l->path[i], fuzz_scratch_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes the scratch folder of the harness name with the folders dirs in it
 * (paths relative to it) and writes its path into base (at least 128
 * bytes). */
static inline void fuzz_scratch(char *base, const char *name, const char *const *dirs, size_t n)
{
    struct fuzz_scratch_list *l = fuzz_scratch_list();
    if (l->n == FUZZ_SCRATCH_MAX) abort();
    const char *top = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(base, 128, "%s/mdeck-fuzz-%s-%ld", top, name, (long)getpid());
    if (mkdir(base, 0755) < 0 && errno != EEXIST) abort();
    if (!l->n) atexit(fuzz_scratch_cleanup);
    snprintf(l->path[l->n++], sizeof l->path[0], "%s", base);
    for (size_t i = 0; i < n; i++) {
        char d[512];
        snprintf(d, sizeof d, "%s/%s", base, dirs[i]);
        if (mkdir(d, 0755) < 0 && errno != EEXIST) abort();
    }
}

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(what) abort()
#endif

#define FUZZ_CHECK(cond, what)                                                 \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz property broken: %s (%s:%d)\n", what,        \
                    __FILE__, __LINE__);                                       \
            FUZZ_FAIL(what);                                                   \
        }                                                                      \
    } while (0)

#endif
