/* par.c - contiguous ranges of work on pthreads. */
#include "mdeck/par.h"

#include <pthread.h>
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

struct job {
    void (*fn)(void *arg, size_t w, size_t begin, size_t end);
    void *arg;
    size_t w, begin, end;
};

static void *run_job(void *p)
{
    struct job *j = p;
    j->fn(j->arg, j->w, j->begin, j->end);
    return NULL;
}

void par_run(size_t n, size_t workers,
             void (*fn)(void *arg, size_t w, size_t begin, size_t end), void *arg)
{
    if (workers < 1) workers = 1;
    struct job jobs[PAR_MAX_WORKERS];
    pthread_t tids[PAR_MAX_WORKERS];
    int started[PAR_MAX_WORKERS] = {0};
    if (workers > PAR_MAX_WORKERS) workers = PAR_MAX_WORKERS;
    for (size_t w = 0; w < workers; w++)
        jobs[w] = (struct job){fn, arg, w, n * w / workers, n * (w + 1) / workers};
    for (size_t w = 1; w < workers; w++)
        started[w] = pthread_create(&tids[w], NULL, run_job, &jobs[w]) == 0;
    run_job(&jobs[0]);
    for (size_t w = 1; w < workers; w++) {
        if (started[w]) pthread_join(tids[w], NULL);
        else run_job(&jobs[w]);
    }
}
