/* watch-env.h - what `mdeck watch` says to the world around it: log lines
 * (a terminal or journald), sd_notify datagrams to the service manager, and
 * the lock that keeps one watcher per output folder.  Internal to watch.c. */
#ifndef MDECK_WATCH_ENV_H
#define MDECK_WATCH_ENV_H

#include <stddef.h>
#include <stdio.h>

#include "mdeck/util.h"

enum wlevel { WL_ERROR, WL_WARN, WL_INFO, WL_DEBUG };

struct wlog {
    FILE *f;
    int verbosity;  /* -1 errors only, 0 + warnings and one line a build, 1 all */
    int journal;    /* f is journald's stream: "<N>" levels, no timestamps */
};

/* Sets up a log on f; journal mode when $JOURNAL_STREAM names stderr. */
void wlog_init(struct wlog *l, FILE *f, int verbosity);
int wlog_shown(const struct wlog *l, enum wlevel lv);
/* One line, "mdeck: " and the level or timestamp prefix added; raw lines
 * (diagnostics in the compiler format editors parse) get the level only. */
void wlog_line(const struct wlog *l, enum wlevel lv, int raw, const char *line, size_t n);
void wlog(const struct wlog *l, enum wlevel lv, const char *fmt, ...) MDECK_PRINTF(3, 4);

/* sd_notify: one datagram of KEY=value lines to $NOTIFY_SOCKET, when set. */
void watch_notify(const char *fmt, ...) MDECK_PRINTF(1, 2);

/* A number from /proc/sys (for messages naming a limit); -1 if unreadable. */
long watch_sysctl(const char *path);

/* Creates outdir (and its parents) and takes the exclusive lock on its
 * lock file.  Returns the lock's fd (held until exit), or -1 with *err set
 * to a message the caller prints and frees. */
int watch_lock_outdir(const char *outdir, char **err);

#endif
