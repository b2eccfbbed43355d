/* test_pdeflate.c - the collection deflated on every core must come back
 * from the zip exactly as it went in, with the right CRC, and the package
 * must not depend on the number of workers, nor on pieces deflated ahead
 * while the file was still being written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "mdeck/pdeflate.h"
#include "mdeck/util.h"
#include "scratch.h"

/* Deterministic content: runs of text (compressible, with repeats across
 * piece boundaries) and runs of noise (incompressible). */
static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    static const char words[] = "attention head softmax kv cache 注意力 ";
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n;) {
        x = x * 1103515245u + 12345u;
        size_t run = 1 + (x >> 16) % 5000;
        int noise = (x >> 8) % 4 == 0;
        for (size_t k = 0; k < run && i < n; k++, i++) {
            x = x * 1103515245u + 12345u;
            p[i] = noise ? (unsigned char)(x >> 16) : (unsigned char)words[i % (sizeof words - 1)];
        }
    }
}

/* Zips the file at path into zip_path with pdeflate on threads workers,
 * taking what a deflated ahead when a is not NULL (a is taken over), or
 * from set when that is not NULL; returns the zip's bytes. */
static void zip_made(const char *file, const char *zip_path, const char *threads,
                     struct pdeflate_ahead *a, const struct pdeflate_set *set, struct buf *out)
{
    setenv("MDECK_THREADS", threads, 1);
    int ze = 0;
    zip_t *za = zip_open(zip_path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    zip_source_t *s = set ? pdeflate_set_source(za, set)
                      : a ? pdeflate_source_ahead(za, file, 1, a)
                          : pdeflate_source(za, file, 1);
    assert_non_null(s);
    zip_int64_t idx = zip_file_add(za, "collection.anki2", s, 0);
    assert_true(idx >= 0);
    assert_int_equal(zip_file_set_dostime(za, (zip_uint64_t)idx, 0, 0x21, 0), 0);
    assert_int_equal(zip_close(za), 0);
    unsetenv("MDECK_THREADS");
    buf_reset(out);
    assert_int_equal(read_file(zip_path, out), 0);
}

static void zip_with(const char *file, const char *zip_path, const char *threads, struct buf *out)
{
    zip_made(file, zip_path, threads, NULL, NULL, out);
}

static void roundtrip(size_t n, uint32_t seed)
{
    char file[128], zip1[128], zip2[128];
    snprintf(file, sizeof file, "%s/data", scratch_dir);
    snprintf(zip1, sizeof zip1, "%s/one.zip", scratch_dir);
    snprintf(zip2, sizeof zip2, "%s/two.zip", scratch_dir);
    unsigned char *data = xmalloc(n + 1);
    fill(data, n, seed);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);

    struct buf a = BUF_INIT, b = BUF_INIT;
    zip_with(file, zip1, "1", &a);
    zip_with(file, zip2, "4", &b);
    /* The same bytes whatever the number of workers. */
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.s, b.s, a.len);

    /* libzip reads it back (inflating it and checking its CRC). */
    int ze = 0;
    zip_t *za = zip_open(zip2, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    assert_non_null(za);
    zip_stat_t st;
    assert_int_equal(zip_stat(za, "collection.anki2", 0, &st), 0);
    assert_int_equal(st.size, n);
    assert_int_equal(st.comp_method, ZIP_CM_DEFLATE);
    assert_int_equal(st.crc, (zip_uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)n));
    if (n > 100000) assert_true(st.comp_size < st.size); /* it did compress */
    zip_file_t *zf = zip_fopen(za, "collection.anki2", 0);
    assert_non_null(zf);
    unsigned char *back = xmalloc(n + 16);
    zip_int64_t got = 0, r;
    while ((r = zip_fread(zf, back + got, n + 16 - (size_t)got)) > 0) got += r;
    assert_true(r == 0);
    assert_int_equal(got, n);
    assert_memory_equal(back, data, n);
    zip_fclose(zf);

    /* And so does zlib on its own: one raw deflate stream, whose final
     * block ends exactly at the entry's end. */
    zf = zip_fopen(za, "collection.anki2", ZIP_FL_COMPRESSED);
    assert_non_null(zf);
    unsigned char *raw = xmalloc(st.comp_size + 1);
    got = 0;
    while ((r = zip_fread(zf, raw + got, st.comp_size + 1 - (size_t)got)) > 0) got += r;
    assert_int_equal(got, st.comp_size);
    zip_fclose(zf);
    zip_close(za);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    zs.next_in = raw;
    zs.avail_in = (uInt)got;
    zs.next_out = back;
    zs.avail_out = (uInt)(n + 16);
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    assert_int_equal(zs.total_out, n);
    assert_memory_equal(back, data, n);
    inflateEnd(&zs);
    free(raw);

    buf_release(&a);
    buf_release(&b);
    free(back);
    free(data);
}

static void test_sizes(void **state)
{
    (void)state;
    const size_t P = PDEFLATE_PIECE;
    const size_t sizes[] = {0, 1, 1000, P - 1, P, P + 1, 3 * P + 17, 8 * P, 8 * P + 5, 17 * P + 3};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) roundtrip(sizes[i], (uint32_t)i + 1);
}

/* A file that cannot be opened: NULL, not a crash. */
static void test_missing(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/none.zip", scratch_dir);
    int ze = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    assert_null(pdeflate_source(za, "/nonexistent/mdeck-collection", 1));
    zip_discard(za);
}

/* --- pieces deflated ahead ------------------------------------------------- */

#define P PDEFLATE_PIECE

static void write_new(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Writes n bytes of p at off into the file, as a writer would, and tells a
 * unless told not to. */
static void overwrite(const char *path, struct pdeflate_ahead *a, int tell, uint64_t off,
                      const unsigned char *p, size_t n)
{
    if (tell) pdeflate_ahead_touched(a, off, n);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void shorten(const char *path, struct pdeflate_ahead *a, uint64_t size)
{
    pdeflate_ahead_touched(a, size, UINT64_MAX - size);
    assert_int_equal(truncate(path, (off_t)size), 0);
}

/* What a build does: the file written, pieces deflated ahead, more writes
 * (reported), then the zip.  It must be the very zip pdeflate_source()
 * makes of the finished file, taking exactly the untouched pieces. */
enum change { GROW, TRUNCATE, NOTHING, UNTOLD };

/* kept: the pieces go into a pdeflate_set instead (pdeflate_set_update_ahead()),
 * which must then describe the file as an update without them would. */
static void ahead_case(size_t n, enum change what, size_t want_made, size_t want_taken, int kept)
{
    char file[128], zip1[128], zip2[128];
    snprintf(file, sizeof file, "%s/coll", scratch_dir);
    snprintf(zip1, sizeof zip1, "%s/plain.zip", scratch_dir);
    snprintf(zip2, sizeof zip2, "%s/ahead.zip", scratch_dir);
    size_t cap = n + 3 * P;
    unsigned char *data = xmalloc(cap), *more = xmalloc(cap);
    fill(data, cap, 7);
    fill(more, cap, 8);
    write_new(file, data, n);

    struct pdeflate_ahead_stats st = {99, 99};
    struct pdeflate_ahead *a = pdeflate_ahead_start(file, 1, kept, &st);
    assert_non_null(a);
    pdeflate_ahead_finish(a);
    assert_int_equal(st.made, want_made);
    assert_int_equal(st.taken, 0);

    switch (what) {
    case GROW:
        /* the first page, the end of piece 4 (piece 5's dictionary), and
         * new pages after the end, as the indexes write them */
        overwrite(file, a, 1, 100, more, 50);
        overwrite(file, a, 1, 5 * P - 100, more + 100, 100);
        overwrite(file, a, 1, n, more + 1000, 2 * P + P / 2);
        break;
    case TRUNCATE:
        shorten(file, a, 5 * P + 10);
        break;
    case NOTHING:
        break;
    case UNTOLD: /* the writer forgets to tell: the test must notice */
        overwrite(file, a, 0, 3 * P + 5, more, 20);
        break;
    }

    struct buf plain = BUF_INIT, ahead = BUF_INIT;
    zip_with(file, zip1, "1", &plain);
    struct pdeflate_set *set = NULL;
    if (kept) {
        set = pdeflate_set_new(1);
        assert_int_equal(pdeflate_set_update_ahead(set, file, a), 0);
        /* every piece is new to the set: deflated ahead or now */
        assert_int_equal(pdeflate_set_deflated(set), pdeflate_set_pieces(set));
        zip_made(file, zip2, "4", NULL, set, &ahead);
    } else {
        zip_made(file, zip2, "4", a, NULL, &ahead);
    }
    assert_int_equal(st.taken, want_taken);
    if (kept && what != UNTOLD) {
        /* the SHA-1s taken ahead are the file's: an update of the same
         * file deflates nothing again */
        assert_int_equal(pdeflate_set_update(set, file), 0);
        assert_int_equal(pdeflate_set_deflated(set), 0);
    }
    pdeflate_set_free(set);
    if (what == UNTOLD) {
        assert_true(plain.len != ahead.len || memcmp(plain.s, ahead.s, plain.len) != 0);
    } else {
        assert_int_equal(plain.len, ahead.len);
        assert_memory_equal(plain.s, ahead.s, plain.len);
    }
    buf_release(&plain);
    buf_release(&ahead);
    free(data);
    free(more);
}

static void test_ahead(void **state)
{
    (void)state;
    /* 9 whole pieces: 1..8 deflated ahead; pieces 0 (written), 4 and 5
     * (the end of 4 written: 5's dictionary) redone; 9 grew */
    for (int kept = 0; kept < 2; kept++) {
        ahead_case(9 * P + 123, GROW, 8, 6, kept);
        /* cut inside piece 5: 1..4 stand, 5.. are gone or changed */
        ahead_case(9 * P + 123, TRUNCATE, 8, 4, kept);
        /* nothing written after: 1..5 made, but 5 is the last piece,
         * which ends the stream, so it is made again */
        ahead_case(6 * P, NOTHING, 5, 4, kept);
        ahead_case(9 * P + 123, UNTOLD, 8, 8, kept);
    }
}

/* Too small to be worth a thread, or missing: NULL, and the plain source
 * takes over. */
static void test_ahead_small(void **state)
{
    (void)state;
    char file[128];
    snprintf(file, sizeof file, "%s/small", scratch_dir);
    unsigned char *data = xmalloc(3 * P);
    fill(data, 3 * P, 3);
    write_new(file, data, 3 * P);
    assert_null(pdeflate_ahead_start(file, 1, 0, NULL));
    assert_null(pdeflate_ahead_start("/nonexistent/mdeck-collection", 1, 1, NULL));
    pdeflate_ahead_free(NULL);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sizes, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_missing, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_ahead, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_ahead_small, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
