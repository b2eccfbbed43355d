/* watch.h - rebuild decks whenever their sources change (`mdeck watch`).
 *
 * One thread, one epoll loop over an inotify fd, a signalfd and two timerfds.
 * Every deck folder is watched recursively (folders only, never files); an
 * event is only a hint that marks its deck dirty, and a dirty deck is rebuilt
 * with build_deck() after a quiet period, at most cap_ms after the first
 * event.  A build whose sources changed while it ran is not published.
 * docs/watch.md describes the behaviour; docs/watching.md (shared notes) the
 * reasons. */
#ifndef MDECK_WATCH_H
#define MDECK_WATCH_H

#include <stdio.h>

#include "mdeck/build.h"

#define WATCH_DEBOUNCE_MS 200   /* default quiet period */
#define WATCH_CAP_MS 3000       /* a burst is built at most this late */
#define WATCH_LOCK_FILE ".mdeck-watch.lock"

struct watch_opts {
    struct build_opts build;  /* outdir, formats, ...; hooks are set by us */
    int debounce_ms;          /* quiet period before a rebuild */
    int cap_ms;               /* longest delay after a burst's first event */
    int poll_ms;              /* > 0: also look at every deck this often
                                 (file systems that send no events) */
    int verbosity;            /* -1 errors only, 0 one line per build, 1 events too */
    FILE *log;                /* where log lines go (stderr) */
    int ndecks;               /* deck arguments as given (0: ./decks/x); */
    char **decks;             /* resolved again with find_decks() on SIGHUP */
};

enum watch_result {
    WATCH_STOPPED = 0,   /* SIGINT or SIGTERM: stopped cleanly */
    WATCH_ENV_ERROR = -1 /* could not start: inotify, lock held, ... (logged) */
};

/* Blocks SIGINT, SIGTERM and SIGHUP (they are read from a signalfd) and
 * ignores SIGPIPE.  Call it first, before any other work; watch_run() calls
 * it too. */
void watch_block_signals(void);

/* Builds every deck, then rebuilds on changes until SIGINT/SIGTERM.  Source
 * errors never stop it; only an unusable environment at startup does. */
enum watch_result watch_run(const struct watch_opts *o);

#endif
