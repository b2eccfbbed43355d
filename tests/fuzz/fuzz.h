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

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
