/* par.h - independent work spread over the machine's cores.
 *
 * par_run() cuts [0, n) into chunks of consecutive items and lets the
 * workers (the calling thread is one of them) take the chunks in order,
 * each worker the next one as soon as it is free, so a worker slowed down
 * by the rest of the machine simply takes fewer.  Which worker does which
 * chunk varies from run to run, but each worker takes its chunks in
 * increasing order; a caller that keeps results per item or per chunk and
 * merges them in chunk order gets what a single loop would give, so
 * outputs stay byte-identical whatever the thread count or scheduling. */
#ifndef MDECK_PAR_H
#define MDECK_PAR_H

#include <pthread.h>
#include <stddef.h>

/* How many workers to use for n items when each should get at least min:
 * the online CPUs (at most PAR_MAX_WORKERS), or MDECK_THREADS when set
 * (MDECK_THREADS=1: no threads).  Always >= 1. */
#define PAR_MAX_WORKERS 8
size_t par_workers(size_t n, size_t min);

/* pthread_create() with default attributes, except that the new thread
 * starts on a CPU other than the calling thread's, then takes back every
 * CPU the process may use.  A thread created while its creator goes on
 * working was otherwise queued behind its creator on this machine: a test
 * program measured 1.9 ms from pthread_create() to the thread's first
 * instruction (mean of 50; 61 us this way), and a build creates its
 * threads exactly then.  With one CPU allowed it is pthread_create(). */
int par_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

/* Calls fn(arg, w, begin, end) for every chunk [begin, end) of chunk items
 * (the last one may be shorter), w being the worker (0 .. workers-1) that
 * runs it, and returns when every call has returned.  When a thread cannot
 * be created, the others do its share. */
void par_run(size_t n, size_t chunk, size_t workers,
             void (*fn)(void *arg, size_t w, size_t begin, size_t end), void *arg);

#endif
