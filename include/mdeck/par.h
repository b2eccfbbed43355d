/* par.h - independent work spread over the machine's cores.
 *
 * par_run() cuts [0, n) into one contiguous range per worker and runs each
 * range in its own thread (the calling thread takes the first).  The ranges
 * depend only on n and the worker count, and callers merge per-range results
 * in range order, so the result is the one a single loop gives: outputs stay
 * byte-identical whatever the thread count or scheduling. */
#ifndef MDECK_PAR_H
#define MDECK_PAR_H

#include <stddef.h>

/* How many workers to use for n items when each should get at least min:
 * the online CPUs (at most PAR_MAX_WORKERS), or MDECK_THREADS when set
 * (MDECK_THREADS=1: no threads).  Always >= 1. */
#define PAR_MAX_WORKERS 8
size_t par_workers(size_t n, size_t min);

/* Calls fn(arg, w, begin, end) for w in [0, workers) with the ranges
 * described above, and returns when every call has returned.  A thread that
 * cannot be created runs its range in the caller instead. */
void par_run(size_t n, size_t workers,
             void (*fn)(void *arg, size_t w, size_t begin, size_t end), void *arg);

#endif
