/* watch.c - the `mdeck watch` event loop: rebuild a deck when its sources
 * change.  docs/watch.md describes the behaviour, the shared notes
 * (watching.md) the failures it is built against; "rule N" below refers to
 * their design rules.
 *
 * Why raw <sys/inotify.h> and not libinotifytools: that library gives no
 * access to its inotify fd and waits inside select() with a timeout in whole
 * seconds, so it cannot join an epoll loop with a signalfd and a 200 ms
 * debounce timer; it keeps one process-wide instance with static buffers and
 * longjmps inside (not reentrant, each event overwritten by the next call);
 * it leaves new folders to the caller, never processes IN_IGNORED and never
 * fixes paths after renames, so its wd->path map goes stale; and it passes
 * IN_Q_OVERFLOW through with no rescan support.  What we would borrow from
 * it (a recursive add and a wd->path map) is a few hundred lines here, and
 * the cases it gets wrong are the ones this file must get right.
 *
 * The model, in one thread:
 *   - epoll over a non-blocking, close-on-exec inotify fd, a signalfd (INT,
 *     TERM, HUP), a one-shot build timer and a 1 s tick (armed only while a
 *     deck folder is missing or some folder could not be watched);
 *   - every deck folder is watched recursively, folders only, never files:
 *     a folder watch survives every rename-save; hidden and junk folders and
 *     the output folder are skipped; symlinks are never followed (lstat,
 *     IN_DONT_FOLLOW, IN_ONLYDIR);
 *   - an event is a hint: it marks its deck dirty, and build_deck() re-reads
 *     the whole deck.  Nothing here knows which note a file holds;
 *   - a dirty deck is built once it has been quiet for debounce_ms, or
 *     cap_ms after its burst's first event, whichever is first;
 *   - settle check: the deck's files are fingerprinted before the build;
 *     right before publishing (build_opts.before_publish) pending events are
 *     read and the fingerprint taken again.  If anything moved, nothing is
 *     published and the deck stays dirty: exactly one more build follows;
 *   - renames (rule 5): a folder's MOVED_FROM drops the watches at and below
 *     it, its MOVED_TO watches it again under the new name like any new
 *     folder.  No cookie pairing: the map ends up the same, no stale path
 *     survives a lost or split pair, and the rebuild that follows re-reads
 *     the moved files anyway.
 *
 * watch-tree.c keeps the watched folders (wd map, walk, filter,
 * fingerprints); watch-env.c the log, sd_notify and the output lock. */
#include "mdeck/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mdeck/hash.h"
#include "mdeck/identity.h"
#include "mdeck/publish.h"
#include "mdeck/util.h"
#include "mdeck/watch-env.h"
#include "mdeck/watch-tree.h"

#define TICK_MS 1000        /* checks for a missing deck folder, and polls */
#define RESCAN_MS 30000     /* full rescans while some folder is unwatched */
#define BATCH_NAMES 4       /* -v: names listed per build */

struct wdeck {
    char *arg;          /* as given: what logs show and build_deck() gets */
    char *slug;         /* base name of its outputs */
    char *root;         /* absolute, symlinks resolved; NULL while missing */
    dev_t dev;          /* the root folder we watch */
    ino_t ino;
    int lost;           /* folder gone: outputs kept, polled every second */
    int dirty;          /* sources changed since the last build started */
    int64_t first_ms;   /* first and last event of the current burst */
    int64_t last_ms;
    uint64_t snap;      /* input fingerprint of the last build */
    int failing;        /* the last build failed */
    uint64_t diag_hash; /* diagnostics printed last (repeats are not) */
    struct buf batch;   /* -v: what changed since the last build started */
    size_t nbatch;
    struct buf last;    /* -v: the last name listed (a save is MODIFY, then
                           CLOSE_WRITE: listed once) */
    struct build_cache *cache; /* its last build, for the next (build.h) */
};

struct watcher {
    const struct watch_opts *o;
    int ifd, sfd, tfd_build, tfd_tick, efd, lockfd;
    struct wtree tree;  /* the watched folders */
    struct wlog log;
    struct wdeck *decks;
    size_t ndecks;
    char *outdir;       /* absolute */
    int degraded;       /* some folder could not be watched (ENOSPC) */
    int degraded_logged;
    int64_t last_rescan_ms;
    int tick_armed;
    int stop;           /* signal number that asked us to stop */
    int hup;
    int rescan_ms;      /* RESCAN_MS; MDECK_TEST_RESCAN_MS for the tests */
    int deaf;           /* MDECK_TEST_NO_EVENTS: events are read and dropped,
                           as on a network file system (the tests of --poll) */
    unsigned long builds;
};

/* --- small helpers ------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slug deck_init() derives: the folder's own name. */
static char *slug_of(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    char *s = xstrndup(dir + start, len - start);
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
        free(s);
        s = xstrdup("deck");
    }
    return s;
}

/* --- walking ------------------------------------------------------------ */

/* wtree's warn callback: a folder that cannot be watched. */
static void watch_failed(void *arg, const char *path, int err)
{
    struct watcher *w = arg;
    if (err != ENOSPC) {
        wlog(&w->log, WL_WARN, "warning: cannot watch %s: %s", path, strerror(err));
        return;
    }
    /* Rule 9: keep the watches we have, rescan the rest periodically. */
    w->degraded = 1;
    if (w->degraded_logged) return;
    w->degraded_logged = 1;
    wlog(&w->log, WL_ERROR,
        "error: cannot watch %s: the inotify watch limit is reached "
        "(sysctl fs.inotify.max_user_watches = %ld, %zu watched here); changes in unwatched "
        "folders are picked up by a full rescan every %g s; raise the limit, e.g. "
        "'sysctl fs.inotify.max_user_watches=524288'",
        path, watch_sysctl("/proc/sys/fs/inotify/max_user_watches"), w->tree.n,
        w->rescan_ms / 1000.0);
}

/* Depth of path below the deepest deck root holding it. */
static int depth_of(const struct watcher *w, const char *path)
{
    int best = WTREE_MAX_DEPTH + 1;
    for (size_t i = 0; i < w->ndecks; i++) {
        const struct wdeck *d = &w->decks[i];
        if (d->lost || !d->root || !wtree_path_within(path, d->root)) continue;
        int n = 0;
        for (const char *p = path + strlen(d->root); *p; p++) n += *p == '/';
        if (n < best) best = n;
    }
    return best;
}

static void update_tick(struct watcher *w)
{
    int need = w->degraded || w->o->poll_ms > 0;
    for (size_t i = 0; i < w->ndecks; i++) need |= w->decks[i].lost;
    if (need == w->tick_armed) return;
    struct itimerspec its = {0};
    if (need) {
        its.it_value.tv_sec = its.it_interval.tv_sec = TICK_MS / 1000;
        its.it_value.tv_nsec = its.it_interval.tv_nsec = (TICK_MS % 1000) * 1000000L;
    }
    timerfd_settime(w->tfd_tick, 0, &its, NULL);
    w->tick_armed = need;
}

/* Resolves the deck's folder.  0, or -1 when it is not there. */
static int deck_attach(struct wdeck *d)
{
    struct stat st;
    char *rp = realpath(d->arg, NULL);
    if (!rp || stat(rp, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(rp);
        return -1;
    }
    free(d->root);
    d->root = rp;
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    return 0;
}

static void deck_touch(struct wdeck *d, int64_t now)
{
    if (!d->dirty) {
        d->dirty = 1;
        d->first_ms = now;
    }
    d->last_ms = now;
}

static void flush_batch(struct watcher *w, struct wdeck *d);

/* Rule 8: a deck whose folder went away publishes nothing (an empty deck
 * synced to a phone is data loss) and waits for the folder to return. */
static void deck_lost(struct watcher *w, struct wdeck *d, const char *how)
{
    if (d->lost) return;
    d->lost = 1;
    d->dirty = 0;
    flush_batch(w, d);
    wlog(&w->log, WL_ERROR, "%s: the deck folder %s; its outputs are kept as they are; "
         "checking every second for it to come back", d->arg, how);
    if (d->root) wtree_drop_under(&w->tree, d->root);
    update_tick(w);
}

/* Every deck rooted at or below path (moved away or deleted) is lost. */
static void decks_gone_under(struct watcher *w, const char *path, const char *how)
{
    for (size_t i = 0; i < w->ndecks; i++) {
        struct wdeck *d = &w->decks[i];
        if (!d->lost && d->root && wtree_path_within(d->root, path)) deck_lost(w, d, how);
    }
}

/* Rule 7 (and startup, SIGHUP, the 30 s rescan): walk every deck again,
 * re-add missing watches, drop those no walk reached. */
static void full_rescan(struct watcher *w)
{
    int was_degraded = w->degraded;
    w->degraded = 0;
    w->tree.gen++;
    for (size_t i = 0; i < w->ndecks; i++) {
        struct wdeck *d = &w->decks[i];
        if (d->lost) continue;
        struct stat st;
        if (stat(d->arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
            deck_lost(w, d, "is gone");
            continue;
        }
        if (st.st_dev != d->dev || st.st_ino != d->ino) deck_attach(d);
        wtree_add(&w->tree, d->root, 0);
    }
    wtree_prune(&w->tree);
    w->last_rescan_ms = mono_ms();
    if (was_degraded && !w->degraded) {
        w->degraded_logged = 0;
        wlog(&w->log, WL_INFO, "every deck folder is watched again (%zu folders)", w->tree.n);
    }
    update_tick(w);
}

/* --- events -------------------------------------------------------------- */

static const char *event_word(uint32_t m)
{
    if (m & IN_CREATE) return "created";
    if (m & IN_DELETE) return "deleted";
    if (m & IN_MOVED_FROM) return "moved away";
    if (m & IN_MOVED_TO) return "moved in";
    if (m & IN_CLOSE_WRITE) return "written";
    if (m & IN_MODIFY) return "modified";
    return "attributes changed";
}

/* Marks every deck holding dir dirty, unless name is a file of ours. */
static void mark_dirty(struct watcher *w, const char *dir, const char *name, uint32_t mask)
{
    if (name && wtree_is_output(&w->tree, dir, name)) return;
    int64_t now = mono_ms();
    for (size_t i = 0; i < w->ndecks; i++) {
        struct wdeck *d = &w->decks[i];
        if (d->lost || !d->root || !wtree_path_within(dir, d->root)) continue;
        if (name && !strcmp(name, IDENTITY_FILE) && !strcmp(dir, d->root)) continue;
        deck_touch(d, now);
        if (w->o->verbosity <= 0) continue;
        const char *rel = dir + strlen(d->root);
        if (*rel == '/') rel++;
        struct buf item = BUF_INIT;
        buf_addf(&item, "%s%s%s", rel, *rel && name ? "/" : "", name ? name : "");
        if (!d->nbatch || strcmp(item.s, d->last.s)) {
            if (d->nbatch < BATCH_NAMES)
                buf_addf(&d->batch, "%s%s %s", d->nbatch ? ", " : "", *item.s ? item.s : ".",
                         name ? event_word(mask) : "(folder) changed");
            d->nbatch++;
            buf_reset(&d->last);
            buf_add(&d->last, item.s, item.len);
        }
        buf_release(&item);
    }
}

/* -v: the batch of changes a build is about to pick up, in one line. */
static void flush_batch(struct watcher *w, struct wdeck *d)
{
    if (d->nbatch > BATCH_NAMES)
        wlog(&w->log, WL_DEBUG, "%s: changed: %s and %zu more", d->arg, d->batch.s,
             d->nbatch - BATCH_NAMES);
    else if (d->nbatch)
        wlog(&w->log, WL_DEBUG, "%s: changed: %s", d->arg, d->batch.s);
    buf_reset(&d->batch);
    buf_reset(&d->last);
    d->nbatch = 0;
}

static void overflowed(struct watcher *w)
{
    wlog(&w->log, WL_WARN, "warning: the inotify queue overflowed (sysctl fs.inotify.max_queued_events "
         "= %ld) and events were lost; rescanning and rebuilding every deck",
         watch_sysctl("/proc/sys/fs/inotify/max_queued_events"));
    full_rescan(w);
    int64_t now = mono_ms();
    for (size_t i = 0; i < w->ndecks; i++)
        if (!w->decks[i].lost) deck_touch(&w->decks[i], now);
}

static void handle_event(struct watcher *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        overflowed(w);
        return;
    }
    struct wdir *e = wtree_get(&w->tree, ev->wd);
    if (!e) return; /* a watch we dropped already */
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
        struct wdir self = *e; /* deck_lost() may free e */
        self.path = xstrdup(e->path);
        /* For a deck's root this is its loss; for a sub-folder, its parent's
         * DELETE/MOVED_FROM did the work.  IN_IGNORED: the kernel dropped
         * the watch; the entry goes, keyed by wd, so a newer watch of the
         * same path is untouched (rule 6). */
        for (size_t i = 0; i < w->ndecks; i++) {
            struct wdeck *d = &w->decks[i];
            if (!d->lost && d->root && !strcmp(d->root, self.path) && d->dev == self.dev &&
                d->ino == self.ino)
                deck_lost(w, d, ev->mask & IN_MOVE_SELF ? "was moved away" : "was deleted");
        }
        free(self.path);
        if (ev->mask & IN_IGNORED) wtree_forget(&w->tree, ev->wd); /* no-op if gone */
        return;
    }
    if (!ev->len || !ev->name[0]) {
        mark_dirty(w, e->path, NULL, ev->mask);
        return;
    }
    if (watch_junk_name(ev->name)) return;
    char *dir = xstrdup(e->path);
    char *path = xasprintf("%s/%s", dir, ev->name);
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_MOVED_FROM | IN_DELETE)) {
            /* Rule 5: a folder moved away (or a MOVED_FROM whose pair never
             * came) loses its watches; moved within a deck, its MOVED_TO
             * adds them again under the new name (it is a new folder). */
            decks_gone_under(w, path, ev->mask & IN_DELETE ? "was deleted" : "was moved away");
            wtree_drop_under(&w->tree, path);
        } else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            struct stat st;
            if (lstat(path, &st) == 0 && !wtree_is_outdir(&w->tree, path, &st)) {
                w->tree.gen++;
                wtree_add(&w->tree, path, depth_of(w, path));
            }
        }
    }
    mark_dirty(w, dir, ev->name, ev->mask);
    free(path);
    free(dir);
}

/* Reads every pending event (the fd is non-blocking). */
static void drain_inotify(struct watcher *w)
{
    _Alignas(struct inotify_event) char buf[65536];
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN)
                wlog(&w->log, WL_ERROR, "error: reading inotify events: %s", strerror(errno));
            break;
        }
        if (n == 0) break;
        if (w->deaf) continue;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            handle_event(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

static void read_signals(struct watcher *w)
{
    struct signalfd_siginfo si;
    while (read(w->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            w->hup = 1;
        } else if (!w->stop) {
            w->stop = (int)si.ssi_signo;
        }
    }
}

/* --- building ------------------------------------------------------------ */

struct settle {
    struct watcher *w;
    struct wdeck *d;
    uint64_t before;
};

/* build_opts.before_publish: read the events that came in during the build
 * and compare the fingerprint; any change and the result is dropped. */
static int settle_check(void *arg)
{
    struct settle *s = arg;
    drain_inotify(s->w);
    if (s->d->lost || s->d->dirty) return 1;
    if (wtree_fingerprint(&s->w->tree, s->d->root) != s->before) {
        deck_touch(s->d, mono_ms()); /* no event told us (unwatched folder) */
        return 1;
    }
    return 0;
}

/* Prints the build's diagnostics unless they are the ones printed last
 * time (a deck that stays broken is reported once, then in one line). */
static int report_diags(struct watcher *w, struct wdeck *d, const struct diags *dg)
{
    struct buf text = BUF_INIT;
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    for (size_t i = 0; f && i < dg->n; i++) {
        const struct diag *g = &dg->v[i];
        if (g->sev == SEV_NOTE) continue; /* unanswered questions: `mdeck check` */
        struct diags one = {.v = (struct diag *)g, .n = 1};
        diags_print(&one, f);
    }
    if (f) fclose(f);
    if (mem) buf_add(&text, mem, memlen);
    free(mem);
    uint64_t h = text.len ? hash64(text.s, text.len) : 0;
    int fresh = h != d->diag_hash;
    d->diag_hash = h;
    if (fresh) {
        /* One line each, with journald's level; errors even under -q. */
        for (const char *p = text.s; *p;) {
            size_t n = strcspn(p, "\n");
            const char *e = strstr(p, ": error: ");
            enum wlevel lv = e && (size_t)(e - p) < n ? WL_ERROR : WL_WARN;
            if (wlog_shown(&w->log, lv)) wlog_line(&w->log, lv, 1, p, n);
            p += n + (p[n] == '\n');
        }
    }
    buf_release(&text);
    return fresh;
}

static void build_one(struct watcher *w, struct wdeck *d)
{
    struct stat st;
    if (stat(d->arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
        deck_lost(w, d, "is gone");
        return;
    }
    if (st.st_dev != d->dev || st.st_ino != d->ino) {
        /* Replaced behind our back (its parent renamed, say): watch anew. */
        wlog(&w->log, WL_INFO, "%s: the deck folder was replaced; watching the new one", d->arg);
        if (d->root) wtree_drop_under(&w->tree, d->root);
        if (deck_attach(d) < 0) {
            deck_lost(w, d, "is gone");
            return;
        }
        w->tree.gen++;
        wtree_add(&w->tree, d->root, 0);
    }
    d->dirty = 0;
    flush_batch(w, d);
    wlog(&w->log, WL_DEBUG, "%s: building", d->arg);
    struct settle s = {w, d, wtree_fingerprint(&w->tree, d->root)};
    struct build_opts bo = w->o->build;
    bo.before_publish = settle_check;
    bo.before_publish_arg = &s;
    if (!d->cache) d->cache = build_cache_new();
    bo.cache = d->cache;
    struct diags dg;
    diags_init(&dg);
    struct build_stats bs;
    int rc = build_deck(d->arg, &bo, &bs, &dg);
    w->builds++;
    d->snap = s.before;
    if (d->lost) {
        diags_free(&dg);
        return;
    }
    if (rc == 0 && bs.discarded) {
        wlog(&w->log, WL_INFO, "%s: sources changed during the build (%.0f ms); not published, "
             "building again", d->arg, bs.ms);
        diags_free(&dg);
        return;
    }
    /* A build that failed while its sources changed may have failed
     * because of the change (a large deck reads its answer files twice):
     * the next build, due anyway, says whether the errors stay. */
    if (rc < 0 && settle_check(&s)) {
        wlog(&w->log, WL_INFO, "%s: sources changed during a build that failed; its errors "
             "are not reported, building again", d->arg);
        diags_free(&dg);
        return;
    }
    int fresh = report_diags(w, d, &dg);
    size_t nerr = dg.nerrors;
    diags_free(&dg);
    if (rc < 0) {
        if (fresh || !d->failing)
            wlog(&w->log, WL_ERROR, "%s: build failed (%zu error%s); the previous outputs are kept",
                 d->arg, nerr, nerr == 1 ? "" : "s");
        else
            wlog(&w->log, WL_ERROR, "%s: build still failing with the same %zu error%s; "
                 "the previous outputs are kept", d->arg, nerr, nerr == 1 ? "" : "s");
        d->failing = 1;
        watch_notify("STATUS=%s: build failed (%zu errors); previous outputs kept", d->arg, nerr);
        return;
    }
    if (d->failing) wlog(&w->log, WL_INFO, "%s: the errors are fixed", d->arg);
    struct buf line = BUF_INIT;
    buf_addf(&line, "%s: rebuilt: %zu notes (%zu added, %zu changed, %zu removed), "
             "%zu unanswered, %.0f ms, %s", d->arg,
             bs.notes, bs.added, bs.changed, bs.removed, bs.unanswered, bs.ms,
             bs.incremental ? "changed answers only, " : "");
    if (bs.written) {
        static const char *names[] = {"apkg", "csv", "quizlet"};
        buf_adds(&line, "wrote");
        for (int k = 0; k < 3; k++)
            if (bs.written & (1u << k)) buf_addf(&line, " %s", names[k]);
    } else {
        buf_adds(&line, "unchanged");
    }
    wlog(&w->log, WL_INFO, "%s", line.s);
    watch_notify("STATUS=%s", line.s);
    buf_release(&line);
    d->failing = 0;
}

static int64_t deadline(const struct watcher *w, const struct wdeck *d)
{
    int64_t a = d->last_ms + w->o->debounce_ms;
    int64_t b = d->first_ms + (w->o->cap_ms > w->o->debounce_ms ? w->o->cap_ms : w->o->debounce_ms);
    return a < b ? a : b;
}

/* Rule 13: one build at a time, in deck order, each deck when its time has
 * come; signals are looked at between builds, so a build in progress is
 * always finished. */
static void run_due_builds(struct watcher *w)
{
    for (;;) {
        drain_inotify(w);
        read_signals(w);
        if (w->stop || w->hup) return;
        int64_t now = mono_ms();
        struct wdeck *due = NULL;
        for (size_t i = 0; i < w->ndecks && !due; i++) {
            struct wdeck *d = &w->decks[i];
            if (d->dirty && !d->lost && deadline(w, d) <= now) due = d;
        }
        if (!due) return;
        build_one(w, due);
    }
}

static void arm_build_timer(struct watcher *w)
{
    int64_t next = -1;
    for (size_t i = 0; i < w->ndecks; i++) {
        const struct wdeck *d = &w->decks[i];
        if (!d->dirty || d->lost) continue;
        int64_t t = deadline(w, d);
        if (next < 0 || t < next) next = t;
    }
    struct itimerspec its = {0};
    if (next >= 0) {
        if (next < 1) next = 1;
        its.it_value.tv_sec = next / 1000;
        its.it_value.tv_nsec = (next % 1000) * 1000000L;
    }
    timerfd_settime(w->tfd_build, TFD_TIMER_ABSTIME, &its, NULL);
}

static void due_now(struct watcher *w, struct wdeck *d)
{
    int64_t long_ago = mono_ms() - w->o->debounce_ms - w->o->cap_ms - 1;
    d->dirty = 1;
    d->first_ms = d->last_ms = long_ago;
}

/* --- decks --------------------------------------------------------------- */

static void deck_free_fields(struct wdeck *d)
{
    build_cache_free(d->cache);
    free(d->arg);
    free(d->slug);
    free(d->root);
    buf_release(&d->batch);
    buf_release(&d->last);
}

/* (Re)reads the deck list: the arguments, or ./decks/x/index.md again
 * (SIGHUP picks up new decks).  Known decks keep their state. */
static void resolve_decks(struct watcher *w)
{
    char **list;
    size_t n = find_decks(w->o->ndecks, w->o->decks, &list);
    struct wdeck *v = xcalloc(n ? n : 1, sizeof *v);
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        struct wdeck *old = NULL;
        for (size_t j = 0; j < w->ndecks && !old; j++)
            if (w->decks[j].arg && !strcmp(w->decks[j].arg, list[i])) old = &w->decks[j];
        struct wdeck *d = &v[nv];
        if (old) {
            *d = *old;
            memset(old, 0, sizeof *old);
        } else {
            d->arg = xstrdup(list[i]);
            d->slug = slug_of(list[i]);
            buf_init(&d->batch);
            buf_init(&d->last);
            if (deck_attach(d) < 0) {
                d->lost = 1;
                wlog(&w->log, WL_ERROR, "%s: no such deck folder; checking every second for it", d->arg);
            }
        }
        int dup = 0;
        for (size_t j = 0; j < nv && !dup; j++)
            dup = d->root && v[j].root && !strcmp(v[j].root, d->root);
        if (dup) {
            wlog(&w->log, WL_WARN, "warning: %s: the same folder is given twice; watched once", d->arg);
            deck_free_fields(d);
            memset(d, 0, sizeof *d);
            continue;
        }
        for (size_t j = 0; j < nv; j++)
            if (!strcmp(v[j].slug, d->slug))
                wlog(&w->log, WL_WARN, "warning: %s and %s both write %s/%s.*: give them different "
                     "folder names or output folders", v[j].arg, d->arg, w->o->build.outdir, d->slug);
        nv++;
    }
    for (size_t j = 0; j < w->ndecks; j++) {
        if (!w->decks[j].arg) continue;
        wlog(&w->log, WL_INFO, "%s: no longer a deck; not watched any more", w->decks[j].arg);
        deck_free_fields(&w->decks[j]);
    }
    free(w->decks);
    w->decks = v;
    w->ndecks = nv;
    free_deck_list(list);
    /* The names of our outputs: files the build writes, not sources, even
     * when the output folder is a deck folder. */
    for (size_t i = 0; i < w->tree.noutnames; i++) free(w->tree.outnames[i]);
    free(w->tree.outnames);
    w->tree.noutnames = 0;
    w->tree.outnames = xcalloc(3 * nv + 1, sizeof(char *));
    w->tree.outnames[w->tree.noutnames++] = xstrdup(WATCH_LOCK_FILE);
    for (size_t i = 0; i < nv; i++) {
        for (unsigned f = FMT_APKG; f <= FMT_QUIZLET; f <<= 1) {
            char *p = output_path(".", w->decks[i].slug, f);
            w->tree.outnames[w->tree.noutnames++] = xstrdup(p + 2);
            free(p);
        }
    }
}

static void tick(struct watcher *w)
{
    uint64_t expirations;
    if (read(w->tfd_tick, &expirations, sizeof expirations) < 0) return;
    for (size_t i = 0; i < w->ndecks; i++) {
        struct wdeck *d = &w->decks[i];
        if (!d->lost || deck_attach(d) < 0) continue;
        d->lost = 0;
        wlog(&w->log, WL_INFO, "%s: the deck folder is back; rescanning and rebuilding", d->arg);
        w->tree.gen++;
        wtree_add(&w->tree, d->root, 0);
        deck_touch(d, mono_ms());
    }
    /* Rule 9: with folders unwatched, a full rescan every 30 s and a rebuild
     * of every deck whose files changed; with --poll, the same at its
     * interval, for file systems that report no changes made elsewhere. */
    int64_t since = mono_ms() - w->last_rescan_ms;
    if ((w->degraded && since >= w->rescan_ms) ||
        (w->o->poll_ms > 0 && since >= w->o->poll_ms - TICK_MS / 2)) {
        full_rescan(w);
        for (size_t i = 0; i < w->ndecks; i++) {
            struct wdeck *d = &w->decks[i];
            if (!d->lost && wtree_fingerprint(&w->tree, d->root) != d->snap) deck_touch(d, mono_ms());
        }
    }
    update_tick(w);
}

static void reload(struct watcher *w)
{
    w->hup = 0;
    wlog(&w->log, WL_INFO, "SIGHUP: reading the deck list again, rescanning and rebuilding every deck");
    watch_notify("RELOADING=1\nMONOTONIC_USEC=%lld", (long long)mono_ms() * 1000);
    resolve_decks(w);
    full_rescan(w);
    for (size_t i = 0; i < w->ndecks; i++)
        if (!w->decks[i].lost) due_now(w, &w->decks[i]);
}

/* --- setup --------------------------------------------------------------- */

void watch_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int setup(struct watcher *w)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    w->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    w->ifd = w->tree.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->tree.warn = watch_failed;
    w->tree.warn_arg = w;
    if (w->ifd < 0) {
        int e = errno, probe = e == EMFILE ? fcntl(2, F_DUPFD_CLOEXEC, 0) : -1;
        if (probe >= 0) close(probe);
        errno = e;
        if (e == EMFILE && probe < 0)
            wlog(&w->log, WL_ERROR, "error: cannot start watching: too many open files "
                "(this process's limit, ulimit -n, is reached)");
        else if (e == EMFILE)
            wlog(&w->log, WL_ERROR, "error: cannot start watching: this user has too many inotify "
                 "instances (sysctl fs.inotify.max_user_instances = %ld); stop other watchers "
                 "or raise it, e.g. 'sysctl fs.inotify.max_user_instances=512'",
                 watch_sysctl("/proc/sys/fs/inotify/max_user_instances"));
        else
            wlog(&w->log, WL_ERROR, "error: cannot start watching: inotify_init1: %s", strerror(errno));
        return -1;
    }
    w->tfd_build = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->tfd_tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->efd = epoll_create1(EPOLL_CLOEXEC);
    if (w->sfd < 0 || w->tfd_build < 0 || w->tfd_tick < 0 || w->efd < 0) {
        wlog(&w->log, WL_ERROR, "error: cannot start watching: %s", strerror(errno));
        return -1;
    }
    int fds[] = {w->sfd, w->ifd, w->tfd_build, w->tfd_tick};
    for (size_t i = 0; i < ARRAY_LEN(fds); i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(w->efd, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            wlog(&w->log, WL_ERROR, "error: cannot start watching: epoll_ctl: %s", strerror(errno));
            return -1;
        }
    }
    char *err = NULL;
    w->lockfd = watch_lock_outdir(w->o->build.outdir, &err);
    if (w->lockfd < 0) {
        wlog(&w->log, WL_ERROR, "error: %s", err);
        free(err);
        return -1;
    }
    struct stat st;
    w->outdir = realpath(w->o->build.outdir, NULL);
    if (!w->outdir || stat(w->outdir, &st) < 0) {
        wlog(&w->log, WL_ERROR, "error: %s: %s", w->o->build.outdir, strerror(errno));
        return -1;
    }
    w->tree.outdir = w->outdir;
    w->tree.out_dev = st.st_dev;
    w->tree.out_ino = st.st_ino;
    publish_clean_stale(w->outdir); /* rule 19: temporaries of a killed run */
    /* Test knobs (docs/watch.md): a watch limit without touching the
     * system-wide sysctl, and a shorter degraded-mode rescan. */
    const char *e = getenv("MDECK_TEST_MAX_WATCHES");
    if (e && *e) w->tree.test_limit = atoi(e);
    e = getenv("MDECK_TEST_RESCAN_MS");
    w->rescan_ms = e && atoi(e) > 0 ? atoi(e) : RESCAN_MS;
    e = getenv("MDECK_TEST_NO_EVENTS");
    w->deaf = e && *e == '1';
    return 0;
}

static void teardown(struct watcher *w)
{
    int fds[] = {w->efd, w->tfd_tick, w->tfd_build, w->ifd, w->sfd, w->lockfd};
    for (size_t i = 0; i < ARRAY_LEN(fds); i++)
        if (fds[i] >= 0) close(fds[i]);
    for (size_t i = 0; i < w->ndecks; i++) deck_free_fields(&w->decks[i]);
    free(w->decks);
    wtree_free(&w->tree);
    for (size_t i = 0; i < w->tree.noutnames; i++) free(w->tree.outnames[i]);
    free(w->tree.outnames);
    free(w->outdir);
}

static const char *signame(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

enum watch_result watch_run(const struct watch_opts *o)
{
    watch_block_signals();
    struct watcher w = {.o = o, .ifd = -1, .sfd = -1, .tfd_build = -1, .tfd_tick = -1,
                        .efd = -1, .lockfd = -1};
    wlog_init(&w.log, o->log, o->verbosity);
    if (setup(&w) < 0) {
        teardown(&w);
        return WATCH_ENV_ERROR;
    }
    /* Rule 19: watch everything, then build everything, then say ready;
     * changes made while we were down land in this first build. */
    resolve_decks(&w);
    full_rescan(&w);
    for (size_t i = 0; i < w.ndecks; i++)
        if (!w.decks[i].lost) due_now(&w, &w.decks[i]);
    wlog(&w.log, WL_INFO, "watching %zu deck%s (%zu folders), writing to %s", w.ndecks,
         w.ndecks == 1 ? "" : "s", w.tree.n, o->build.outdir);
    if (o->poll_ms > 0)
        wlog(&w.log, WL_INFO, "also looking at every deck every %g s (--poll)", o->poll_ms / 1000.0);
    run_due_builds(&w);
    int ready = 0;
    while (!w.stop) {
        if (w.hup) {
            reload(&w);
            ready = 0;
            run_due_builds(&w);
            continue;
        }
        arm_build_timer(&w);
        if (!ready) {
            watch_notify("READY=1\nSTATUS=watching %zu deck%s, %lu builds", w.ndecks,
                   w.ndecks == 1 ? "" : "s", w.builds);
            ready = 1;
        }
        struct epoll_event evs[4];
        int n = epoll_wait(w.efd, evs, (int)ARRAY_LEN(evs), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            wlog(&w.log, WL_ERROR, "error: epoll_wait: %s", strerror(errno));
            sleep(1); /* never spin; never give up either (rule 17) */
            continue;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == w.sfd) read_signals(&w);
            else if (fd == w.ifd) drain_inotify(&w);
            else if (fd == w.tfd_tick) tick(&w);
            else if (fd == w.tfd_build) {
                uint64_t x;
                if (read(w.tfd_build, &x, sizeof x) < 0) { /* spurious: rearmed below */ }
            }
        }
        run_due_builds(&w);
    }
    watch_notify("STOPPING=1");
    wlog(&w.log, WL_INFO, "%s: stopping", signame(w.stop));
    teardown(&w);
    return WATCH_STOPPED;
}
