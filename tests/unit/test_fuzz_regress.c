/* test_fuzz_regress.c - replays every saved fuzzing finding in `make test`.
 *
 * The harnesses of tests/fuzz/ are compiled in here as plain functions
 * (FUZZ_ENTRY renamed, FUZZ_FAIL failing the cmocka test instead of
 * aborting), and each file of tests/fuzz/regressions/<harness>/ is run
 * through its harness, with the harness's own checks.  Under `make
 * test-asan` this is the same replay libFuzzer does, sanitizers included.
 * The bug behind each file also has its own unit test or spec example
 * (tests/fuzz/README.md lists them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define FUZZ_FAIL(what) fail_msg("fuzz property broken: %s", what)

#define FUZZ_ENTRY fuzz_index
#include "../fuzz/fuzz_index.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_render
#include "../fuzz/fuzz_render.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_scan
#include "../fuzz/fuzz_scan.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_match
#include "../fuzz/fuzz_match.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_sanitize
#include "../fuzz/fuzz_sanitize.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_frontmatter
#include "../fuzz/fuzz_frontmatter.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_apkg
#include "../fuzz/fuzz_apkg.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_images
#include "../fuzz/fuzz_images.c"
#undef FUZZ_ENTRY

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every file of tests/fuzz/regressions/name through entry. */
static void replay(const char *name, int (*entry)(const uint8_t *, size_t))
{
    char dir[4096];
    const char *top = getenv("MDECK_TOP");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", top && *top ? top : ".", name);
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
            struct buf data = BUF_INIT;
            assert_int_equal(read_file(path, &data), 0);
            print_message("  %s/%s (%zu bytes)\n", name, ents[i]->d_name, data.len);
            entry((const uint8_t *)data.s, data.len);
            buf_release(&data);
        }
        free(ents[i]);
    }
    if (n >= 0) free(ents);
}

static void test_index(void **state) { replay("index", fuzz_index); }
static void test_render(void **state) { replay("render", fuzz_render); }
static void test_images(void **state) { replay("images", fuzz_images); }
static void test_scan(void **state) { replay("scan", fuzz_scan); }
static void test_match(void **state) { replay("match", fuzz_match); }
/* The same decks built as large ones: answer files read twice, answers
 * spilled to a temporary file (MDECK_SPILL_MIN). */
static void test_match_large(void **state)
{
    setenv("MDECK_SPILL_MIN", "0", 1);
    replay("match", fuzz_match);
    unsetenv("MDECK_SPILL_MIN");
}
static void test_sanitize(void **state) { replay("sanitize", fuzz_sanitize); }
static void test_frontmatter(void **state) { replay("frontmatter", fuzz_frontmatter); }
static void test_apkg(void **state) { replay("apkg", fuzz_apkg); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),       cmocka_unit_test(test_render),
        cmocka_unit_test(test_match),       cmocka_unit_test(test_match_large),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_frontmatter), cmocka_unit_test(test_apkg),
        cmocka_unit_test(test_scan),        cmocka_unit_test(test_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
