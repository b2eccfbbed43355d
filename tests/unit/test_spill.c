/* test_spill.c - answer texts kept in a temporary file: every string comes
 * back as it went in, through the mapping and through spill_get(), from
 * two threads at once; and a spill that cannot take a string (its mapping
 * used up, the file refused by the file-size limit) keeps it in the
 * fallback arena instead of losing it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mdeck/arena.h"
#include "mdeck/spill.h"
#include "mdeck/util.h"

/* String i of a set: lengths from 0 to a few kilobytes, content that
 * names i, so a string put in the wrong slot shows. */
static void make(size_t i, struct buf *b)
{
    buf_reset(b);
    size_t len = (i * 7919) % 3000;
    buf_addf(b, "<%zu>", i);
    while (b->len < len) buf_addf(b, " w%zu", i % 97);
}

#define N 6000

struct job {
    struct spill *sp;
    struct arena arena;
    const char *slot[N];
    size_t from;
    size_t bad; /* strings not readable from the stage (no cmocka asserts off the main thread) */
};

static void *put_every_other(void *arg)
{
    struct job *j = arg;
    struct spill_stage *st = spill_stage_new(j->sp, &j->arena);
    struct buf b = BUF_INIT;
    for (size_t i = j->from; i < N; i += 2) {
        make(i, &b);
        spill_put(st, &j->slot[i], b.s, b.len);
        /* readable at once, from the stage */
        j->bad += memcmp(j->slot[i], b.s, b.len + 1) != 0;
    }
    spill_stage_free(st);
    buf_release(&b);
    return NULL;
}

/* Two threads stage and flush (~9 MB: several flushes each); every slot
 * then points into the file, reads back through the mapping, and
 * spill_get() gives the same bytes from the file itself. */
static void test_strings_come_back(void **state)
{
    (void)state;
    struct spill *sp = spill_open();
    assert_non_null(sp);
    static struct job j[2];
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        j[k].sp = sp;
        j[k].from = (size_t)k;
        arena_init(&j[k].arena);
        assert_int_equal(pthread_create(&t[k], NULL, put_every_other, &j[k]), 0);
    }
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    assert_int_equal(j[0].bad + j[1].bad, 0);
    assert_true(spill_bytes(sp) > (size_t)8 << 20);
    struct buf want = BUF_INIT;
    struct spill_reader one = SPILL_READER_ONE, near = SPILL_READER_NEAR;
    for (size_t i = 0; i < N; i++) {
        const char *p = j[i % 2].slot[i];
        make(i, &want);
        assert_string_equal(p, want.s);
        /* read from the file, not the mapping: into the reader's block */
        const char *got = spill_get(sp, p, &one);
        assert_true(got >= one.b[0].s && got < one.b[0].s + one.b[0].len);
        assert_string_equal(got, want.s);
    }
    assert_true(one.reads >= N);
    /* A near reader in the order the strings were written reads each
     * block once; in an order shuffled within runs of 50 strings (~75 KB,
     * as the bench decks' files shuffle their answers), still about once:
     * the blocks of a run stay while it is read.  (A 256 KB window
     * centred on each miss read 5.5 times the spill at 100k.) */
    for (size_t i = 0; i < N; i++) {
        make(i, &want);
        assert_string_equal(spill_get(sp, j[i % 2].slot[i], &near), want.s);
    }
    size_t blocks = spill_bytes(sp) / SPILL_BLOCK + 1;
    /* about one read per block, and one more for an answer running past
     * its end; each byte read about once */
    assert_true(near.reads <= 3 * blocks);
    assert_true(near.bytes <= spill_bytes(sp) + spill_bytes(sp) / 8);
    spill_reader_free(&near);
    struct spill_reader shuffled = SPILL_READER_NEAR;
    for (size_t run = 0; run < N; run += 50)
        for (size_t k = 0; k < 50 && run + k < N; k++) {
            size_t i = run + (k * 17) % 50;
            if (i >= N) continue;
            make(i, &want);
            assert_string_equal(spill_get(sp, j[i % 2].slot[i], &shuffled), want.s);
        }
    assert_true(shuffled.bytes <= spill_bytes(sp) + spill_bytes(sp) / 4);
    spill_reader_free(&shuffled);
    /* a string that is not in the spill is its own answer */
    assert_ptr_equal(spill_get(sp, want.s, &one), want.s);
    assert_ptr_equal(spill_get(NULL, want.s, &one), want.s);
    buf_release(&want);
    spill_reader_free(&one);
    for (int k = 0; k < 2; k++) arena_free(&j[k].arena);
    spill_close(sp);
}

/* A string longer than a stage is written on its own. */
static void test_a_string_larger_than_a_stage(void **state)
{
    (void)state;
    struct spill *sp = spill_open();
    assert_non_null(sp);
    struct arena a;
    arena_init(&a);
    size_t len = (size_t)3 << 20;
    char *big = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    const char *small, *large;
    struct spill_stage *st = spill_stage_new(sp, &a);
    spill_put(st, &small, "before", 6);
    spill_put(st, &large, big, len);
    spill_stage_free(st);
    assert_string_equal(small, "before");
    assert_int_equal(strlen(large), len);
    assert_memory_equal(large, big, len);
    struct spill_reader r = SPILL_READER_NEAR;
    assert_memory_equal(spill_get(sp, large, &r), big, len + 1);
    assert_memory_equal(spill_get(sp, small, &r), "before", 7);
    assert_int_equal(arena_bytes(&a), 0);
    spill_reader_free(&r);
    free(big);
    arena_free(&a);
    spill_close(sp);
}

/* Strings past the end of a small mapping go to the fallback arena. */
static void test_full_mapping_falls_back_to_the_arena(void **state)
{
    (void)state;
    struct spill *sp = spill_open_cap(1 << 16);
    assert_non_null(sp);
    struct arena a;
    arena_init(&a);
    static const char *slot[200];
    struct buf b = BUF_INIT;
    struct spill_reader r = SPILL_READER_NEAR;
    struct spill_stage *st = spill_stage_new(sp, &a);
    for (size_t i = 0; i < 200; i++) {
        make(i, &b);
        spill_put(st, &slot[i], b.s, b.len);
        if (i % 10 == 9) spill_flush(st); /* many small writes: some fit */
    }
    spill_stage_free(st);
    assert_true(arena_bytes(&a) > 0);
    for (size_t i = 0; i < 200; i++) {
        make(i, &b);
        assert_string_equal(slot[i], b.s);
        assert_string_equal(spill_get(sp, slot[i], &r), b.s);
    }
    buf_release(&b);
    spill_reader_free(&r);
    arena_free(&a);
    spill_close(sp);
}

/* The file refused (RLIMIT_FSIZE, as a full disk refuses it): every string
 * is kept in the arena. */
static void test_refused_write_falls_back_to_the_arena(void **state)
{
    (void)state;
    struct rlimit was, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    struct spill *sp = spill_open();
    assert_non_null(sp);
    lim = was;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct arena a;
    arena_init(&a);
    const char *slot[50];
    struct buf b = BUF_INIT;
    size_t total = 0;
    struct spill_stage *st = spill_stage_new(sp, &a);
    for (size_t i = 0; i < 50; i++) {
        make(i + 100, &b);
        spill_put(st, &slot[i], b.s, b.len);
        total += b.len;
    }
    spill_stage_free(st);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, old);
    for (size_t i = 0; i < 50; i++) {
        make(i + 100, &b);
        assert_string_equal(slot[i], b.s);
    }
    assert_true(arena_bytes(&a) >= total);
    buf_release(&b);
    arena_free(&a);
    spill_close(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_come_back),
        cmocka_unit_test(test_a_string_larger_than_a_stage),
        cmocka_unit_test(test_full_mapping_falls_back_to_the_arena),
        cmocka_unit_test(test_refused_write_falls_back_to_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
