/* par.c - chunks of work taken by pthreads in order. */
#include "mdeck/par.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "mdeck/util.h"

size_t par_workers(size_t n, size_t min)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *e = getenv("MDECK_THREADS");
    if (e && *e) cpus = strtol(e, NULL, 10);
    if (cpus < 1) cpus = 1;
    if (cpus > PAR_MAX_WORKERS) cpus = PAR_MAX_WORKERS;
    size_t w = (size_t)cpus;
    if (min && n / min < w) w = n / min;
    return w ? w : 1;
}

struct start {
    void *(*fn)(void *);
    void *arg;
    cpu_set_t all; /* the CPUs the process may use */
};

static void *unpin_and_run(void *p)
{
    struct start st = *(struct start *)p;
    free(p);
    /* failing, the thread stays off its creator's CPU: slower, not wrong */
    pthread_setaffinity_np(pthread_self(), sizeof st.all, &st.all);
    return st.fn(st.arg);
}

int par_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    struct start *st = malloc(sizeof *st);
    int cpu = sched_getcpu();
    if (st && cpu >= 0 && cpu < CPU_SETSIZE &&
        sched_getaffinity(0, sizeof st->all, &st->all) == 0 && CPU_ISSET(cpu, &st->all) &&
        CPU_COUNT(&st->all) > 1) {
        cpu_set_t other = st->all;
        CPU_CLR(cpu, &other);
        st->fn = fn;
        st->arg = arg;
        pthread_attr_t at;
        if (pthread_attr_init(&at) == 0) {
            int rc = pthread_attr_setaffinity_np(&at, sizeof other, &other) == 0
                         ? pthread_create(t, &at, unpin_and_run, st)
                         : -1;
            pthread_attr_destroy(&at);
            if (rc == 0) return 0;
        }
    }
    free(st);
    return pthread_create(t, NULL, fn, arg);
}

struct pool {
    atomic_size_t next; /* the next chunk to take */
    size_t n, chunk;
    void (*fn)(void *arg, size_t w, size_t begin, size_t end);
    void *arg;
};

struct job {
    struct pool *pool;
    size_t w;
};

static void *run_job(void *p)
{
    struct job *j = p;
    struct pool *pool = j->pool;
    for (;;) {
        size_t k = atomic_fetch_add(&pool->next, 1);
        if (k >= (pool->n + pool->chunk - 1) / pool->chunk) break;
        size_t begin = k * pool->chunk;
        size_t end = pool->n - begin < pool->chunk ? pool->n : begin + pool->chunk;
        pool->fn(pool->arg, j->w, begin, end);
    }
    return NULL;
}

void par_run(size_t n, size_t chunk, size_t workers,
             void (*fn)(void *arg, size_t w, size_t begin, size_t end), void *arg)
{
    if (!n) return;
    if (workers < 1) workers = 1;
    if (workers > PAR_MAX_WORKERS) workers = PAR_MAX_WORKERS;
    struct pool pool = {.n = n, .chunk = chunk ? chunk : n, .fn = fn, .arg = arg};
    atomic_init(&pool.next, 0);
    struct job jobs[PAR_MAX_WORKERS];
    pthread_t tids[PAR_MAX_WORKERS];
    int started[PAR_MAX_WORKERS] = {0};
    for (size_t w = 0; w < workers; w++) jobs[w] = (struct job){&pool, w};
    for (size_t w = 1; w < workers; w++)
        started[w] = par_thread_create(&tids[w], run_job, &jobs[w]) == 0;
    run_job(&jobs[0]);
    for (size_t w = 1; w < workers; w++)
        if (started[w]) pthread_join(tids[w], NULL);
}
