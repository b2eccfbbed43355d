/* test_sort.c - sort_by_i64(): the order a stable comparison sort gives,
 * for keys that use every bit (negative ones too), keys that share digits
 * (passes skipped), equal keys (their order kept), and elements of odd
 * sizes with the key at an odd offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mdeck/util.h"

/* An element of 13 bytes: a 1-byte tag, then the key at offset 1 (not
 * aligned), then its original position. */
#define SIZE 13
#define KEY 1

static uint64_t rng_state = 88172645463325252u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t key_of(const unsigned char *e)
{
    int64_t k;
    memcpy(&k, e + KEY, sizeof k);
    return k;
}

static uint32_t pos_of(const unsigned char *e)
{
    uint32_t p;
    memcpy(&p, e + KEY + 8, sizeof p);
    return p;
}

/* The reference: insertion sort by key, stable. */
static void reference(unsigned char *v, size_t n)
{
    unsigned char t[SIZE];
    for (size_t i = 1; i < n; i++) {
        memcpy(t, v + i * SIZE, SIZE);
        size_t j = i;
        for (; j > 0 && key_of(v + (j - 1) * SIZE) > key_of(t); j--)
            memcpy(v + j * SIZE, v + (j - 1) * SIZE, SIZE);
        memcpy(v + j * SIZE, t, SIZE);
    }
}

/* n elements with keys from make(i), sorted both ways and compared byte
 * for byte. */
static void check(size_t n, int64_t (*make)(size_t))
{
    unsigned char *a = malloc(n * SIZE + 1), *b = malloc(n * SIZE + 1);
    for (size_t i = 0; i < n; i++) {
        int64_t k = make(i);
        uint32_t p = (uint32_t)i;
        a[i * SIZE] = (unsigned char)(0xA0 + i % 7);
        memcpy(a + i * SIZE + KEY, &k, 8);
        memcpy(a + i * SIZE + KEY + 8, &p, 4);
    }
    memcpy(b, a, n * SIZE);
    sort_by_i64(a, n, SIZE, KEY);
    reference(b, n);
    if (n) assert_memory_equal(a, b, n * SIZE);
    for (size_t i = 1; i < n; i++) {
        assert_true(key_of(a + (i - 1) * SIZE) <= key_of(a + i * SIZE));
        if (key_of(a + (i - 1) * SIZE) == key_of(a + i * SIZE))
            assert_true(pos_of(a + (i - 1) * SIZE) < pos_of(a + i * SIZE));
    }
    free(a);
    free(b);
}

/* Any 64 bits: half the keys negative. */
static int64_t any_bits(size_t i) { (void)i; return (int64_t)rng(); }
/* Like the package's ids: a base plus 38 varying bits. */
static int64_t ids(size_t i) { (void)i; return 1300000000000 + (int64_t)(rng() >> 26); }
/* Ids around zero, as a foreign previous package could hold. */
static int64_t around_zero(size_t i) { (void)i; return (int64_t)(rng() % 2001) - 1000; }
/* Few distinct keys: many equal ones, their order kept. */
static int64_t few(size_t i) { (void)i; return (int64_t)((rng() % 5) << 40 | 7); }
static int64_t same(size_t i) { (void)i; return 42; }
static int64_t ascending(size_t i) { return (int64_t)i * 1000003 - 700000000; }
static int64_t descending(size_t i) { return INT64_MAX - (int64_t)i * 3; }
/* Only the top bits differ (the sign among them): every pass but the last
 * is skipped. */
static int64_t top_only(size_t i) { (void)i; return (int64_t)(rng() & 0xFF00000000000000u); }

static void test_random_keys(void **state)
{
    (void)state;
    check(3000, any_bits);
    check(3000, ids);
    check(3000, around_zero);
}

static void test_equal_keys_keep_their_order(void **state)
{
    (void)state;
    check(2000, few);
    check(500, same);
}

static void test_ordered_and_reversed(void **state)
{
    (void)state;
    check(1500, ascending);
    check(1500, descending);
    check(1500, top_only);
}

static void test_tiny(void **state)
{
    (void)state;
    check(0, any_bits);
    check(1, any_bits);
    check(2, any_bits);
    check(2, descending);
    check(3, few);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_keys),
        cmocka_unit_test(test_equal_keys_keep_their_order),
        cmocka_unit_test(test_ordered_and_reversed),
        cmocka_unit_test(test_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
