/* runstat.c - runs a command and prints what it cost, for bench/bench.py.
 *
 *   runstat -o FILE COMMAND [ARG...]
 *
 * writes "WALL_S CPU_S PEAK_KB" into FILE and exits with the command's
 * status (128 + the signal when it was killed).  WALL_S is measured around the command alone
 * (from just before fork to wait4's return), CPU_S is its user + system
 * time and PEAK_KB its maximum resident set size, from wait4().
 *
 * Why not GNU time: its wall time has 10 ms steps, and a 1,000-question
 * build takes ~45 ms.  Why not wait4() in Python itself: Linux keeps the
 * largest resident size a process had, and a child forked from Python
 * starts as a copy of it (~20 MB), which would be reported for any
 * command smaller than that.  This process is small. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-o")) {
        fprintf(stderr, "usage: runstat -o FILE COMMAND [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[2], "we");
    if (!out) {
        fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
        return 125;
    }
    argv += 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(out);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("runstat: wait4");
            return 125;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(out, "%.6f %.6f %ld\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
            ru.ru_maxrss);
    if (fclose(out) != 0) {
        perror("runstat: writing the result");
        return 125;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
