/* test_par.c - par_thread_create(): the thread runs its function with its
 * argument, its result reaches pthread_join(), and it ends up allowed on
 * every CPU its creator was (it starts on another one); with one CPU
 * allowed it is a plain thread on that CPU.  par_run(): every item once,
 * each worker's chunks in increasing order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/par.h"

struct seen {
    int arg;
    cpu_set_t mask; /* the thread's, as its function runs */
    int cpu;        /* where its function started */
};

static void *record(void *p)
{
    struct seen *s = p;
    s->arg *= 2;
    s->cpu = sched_getcpu();
    sched_getaffinity(0, sizeof s->mask, &s->mask);
    return &s->arg;
}

static void test_thread_gets_every_cpu_back(void **state)
{
    (void)state;
    cpu_set_t all;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    if (CPU_COUNT(&all) < 2) skip(); /* nothing to move: the plain path, below */
    for (int i = 0; i < 20; i++) {
        struct seen s = {.arg = 21 + i, .cpu = -1};
        pthread_t t;
        assert_int_equal(par_thread_create(&t, record, &s), 0);
        void *ret = NULL;
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_ptr_equal(ret, &s.arg);
        assert_int_equal(s.arg, 2 * (21 + i));
        assert_true(CPU_EQUAL(&s.mask, &all));
        assert_true(s.cpu >= 0);
    }
}

static void test_one_cpu_is_a_plain_thread(void **state)
{
    (void)state;
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    int cpu = sched_getcpu();
    assert_true(cpu >= 0);
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    struct seen s = {.arg = 5, .cpu = -1};
    pthread_t t;
    int rc = par_thread_create(&t, record, &s);
    if (rc == 0) rc = pthread_join(t, NULL);
    sched_setaffinity(0, sizeof all, &all); /* before any assertion can return */
    assert_int_equal(rc, 0);
    assert_int_equal(s.arg, 10);
    assert_true(CPU_EQUAL(&s.mask, &one));
    assert_int_equal(s.cpu, cpu);
}

/* par_run(): each item's count and, per worker, the last chunk it began. */
struct run {
    atomic_int count[5000];
    size_t last[PAR_MAX_WORKERS];
    int out_of_order;
};

static void mark(void *arg, size_t w, size_t begin, size_t end)
{
    struct run *r = arg;
    if (r->last[w] != SIZE_MAX && begin <= r->last[w]) r->out_of_order = 1;
    r->last[w] = begin;
    for (size_t i = begin; i < end; i++) atomic_fetch_add(&r->count[i], 1);
}

static void test_par_run_every_item_once(void **state)
{
    (void)state;
    static struct run r;
    const size_t sizes[] = {1, 7, 100, 4999, 5000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (size_t workers = 1; workers <= 4; workers++) {
            memset(&r, 0, sizeof r);
            for (size_t w = 0; w < PAR_MAX_WORKERS; w++) r.last[w] = SIZE_MAX;
            par_run(sizes[k], 13, workers, mark, &r);
            for (size_t i = 0; i < 5000; i++)
                assert_int_equal(atomic_load(&r.count[i]), i < sizes[k] ? 1 : 0);
            assert_false(r.out_of_order);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_gets_every_cpu_back),
        cmocka_unit_test(test_one_cpu_is_a_plain_thread),
        cmocka_unit_test(test_par_run_every_item_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
