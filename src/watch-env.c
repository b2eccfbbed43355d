/* watch-env.c - log lines, sd_notify, the output folder's lock: the parts
 * of `mdeck watch` that talk to the terminal, journald and systemd. */
#include "mdeck/watch-env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mdeck/watch.h"

/* --- logging (rule 22) -------------------------------------------------- */

/* JOURNAL_STREAM names the device and inode of the stream journald reads.
 * Children inherit it with their stderr sent elsewhere, so compare. */
static int stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0) return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void wlog_init(struct wlog *l, FILE *f, int verbosity)
{
    l->f = f;
    l->verbosity = verbosity;
    l->journal = f == stderr && stderr_is_journal();
}

int wlog_shown(const struct wlog *l, enum wlevel lv)
{
    return lv == WL_ERROR || (lv <= WL_INFO && l->verbosity >= 0) || l->verbosity > 0;
}

/* Under journald, "<N>" is the line's syslog priority (journald reads it
 * and stamps the time itself); on a terminal or in a file, an HH:MM:SS.mmm
 * local time says when a build ran.  One write per line. */
void wlog_line(const struct wlog *l, enum wlevel lv, int raw, const char *line, size_t n)
{
    static const int prio[] = {3, 4, 6, 7};
    struct buf b = BUF_INIT;
    if (l->journal) {
        buf_addf(&b, "<%d>", prio[lv]);
    } else if (!raw) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        buf_addf(&b, "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000);
    }
    if (!raw) buf_adds(&b, "mdeck: ");
    buf_add(&b, line, n);
    buf_addc(&b, '\n');
    fwrite(b.s, 1, b.len, l->f);
    fflush(l->f);
    buf_release(&b);
}

void wlog(const struct wlog *l, enum wlevel lv, const char *fmt, ...)
{
    if (!wlog_shown(l, lv)) return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    wlog_line(l, lv, 0, b.s, b.len);
    buf_release(&b);
}

/* --- systemd (rule 21) --------------------------------------------------- */

/* The documented sd_notify protocol, without libsystemd: an AF_UNIX
 * datagram to the socket named by $NOTIFY_SOCKET; a leading '@' names an
 * abstract socket (a NUL byte in the address). */
void watch_notify(const char *fmt, ...)
{
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || (e[0] != '/' && e[0] != '@')) return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(e);
    if (n < 2 || n >= sizeof sa.sun_path) return;
    memcpy(sa.sun_path, e, n);
    if (e[0] == '@') sa.sun_path[0] = '\0';
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        sendto(fd, b.s, b.len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
        close(fd);
    }
    buf_release(&b);
}

long watch_sysctl(const char *path)
{
    struct buf b = BUF_INIT;
    long v = -1;
    if (read_file(path, &b) == 0) v = strtol(b.s, NULL, 10);
    buf_release(&b);
    return v;
}

/* --- one watcher per output folder --------------------------------------- */

static int make_dirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        mkdir(p, 0777);
        *s = '/';
    }
    int rc = mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* An flock on a hidden file in the output folder: the kernel releases it
 * however we exit, so a crash leaves no stale lock.  The file stays behind
 * (unlinking it would race with a watcher that is starting); it holds the
 * pid for the message the next watcher prints. */
int watch_lock_outdir(const char *outdir, char **err)
{
    struct stat st;
    errno = 0;
    if (make_dirs(outdir) < 0 || stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *err = xasprintf("cannot create the output folder %s: %s", outdir,
                         errno ? strerror(errno) : "not a folder");
        return -1;
    }
    char *path = xasprintf("%s/%s", outdir, WATCH_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *err = xasprintf("cannot create the lock file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            *err = xasprintf("another mdeck watch%s%s%s is already writing to %s (it holds "
                             "%s); stop it, or give this one another output folder with -o",
                             *pid ? " (pid " : "", pid, *pid ? ")" : "", outdir, path);
        else
            *err = xasprintf("cannot lock %s: %s", path, strerror(e));
        close(fd);
        free(path);
        return -1;
    }
    if (ftruncate(fd, 0) == 0) dprintf(fd, "%ld\n", (long)getpid());
    free(path);
    return fd;
}
