/* publish.c - atomic, change-only replacement of output files. */
#include "mdeck/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_TAG ".mdeck-tmp-"

/* 1 when path holds exactly data[0..len). */
static int same_content(const char *path, const void *data, size_t len)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
        return 0;
    struct buf old = BUF_INIT;
    int same = read_file(path, &old) == 0 && old.len == len &&
               memcmp(old.s, data, len) == 0;
    buf_release(&old);
    return same;
}

static void publish_free(struct publish *p)
{
    free(p->path);
    free(p->dest);
    free(p->tmp);
    free(p->dir);
    memset(p, 0, sizeof *p);
}

/* Fills path, dest (the symlink's target when path is one) and dir. */
static void publish_names(struct publish *p, const char *path)
{
    memset(p, 0, sizeof *p);
    p->path = xstrdup(path);
    /* A symlinked output is replaced next to its target, keeping the link. */
    char *target = realpath(path, NULL);
    p->dest = target ? target : xstrdup(path);
    const char *slash = strrchr(p->dest, '/');
    p->dir = slash ? xstrndup(p->dest, (size_t)(slash - p->dest) + (slash == p->dest))
                   : xstrdup(".");
}

/* Hidden, and not ending in .apkg/.csv: no importer or watcher takes a
 * temporary for an output.  The pid tells publish_clean_stale() whether the
 * writer still lives. */
static char *temp_pattern(const struct publish *p)
{
    const char *slash = strrchr(p->dest, '/');
    const char *base = slash ? slash + 1 : p->dest;
    return xasprintf("%s/.%s" TMP_TAG "%ld-XXXXXX", p->dir, base, (long)getpid());
}

char *publish_temp_name(const char *path)
{
    struct publish p;
    publish_names(&p, path);
    char *t = temp_pattern(&p);
    int fd = mkstemp(t);
    if (fd >= 0) close(fd);
    publish_free(&p);
    if (fd < 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* Makes p->tmp; -1 with a diagnostic. */
static int make_temp(struct publish *p, struct diags *dg)
{
    p->tmp = temp_pattern(p);
    int fd = mkstemp(p->tmp);
    if (fd < 0) {
        diag_add(dg, SEV_ERROR, p->path, 0, 0,
                 "cannot create a temporary file in %s: %s (the previous file is kept)",
                 p->dir, strerror(errno));
        free(p->tmp);
        p->tmp = NULL;
    }
    return fd;
}

/* The mode the new file gets: the current file's, else what any new file
 * gets (mkstemp makes 0600 files; an output is as readable as any file). */
static mode_t output_mode(const struct publish *p)
{
    struct stat st;
    if (stat(p->dest, &st) == 0) return st.st_mode & 07777;
    mode_t um = umask(022);
    umask(um);
    return 0666 & ~um;
}

/* The data must be on disk before the rename makes it visible, or a crash
 * could leave a renamed but empty package.  Closes fd; -1 with a
 * diagnostic and the temporary removed. */
static int seal_temp(struct publish *p, int fd, int err, struct diags *dg)
{
    if (err == 0 && (fchmod(fd, output_mode(p)) < 0 || fsync(fd) < 0)) err = errno;
    if (close(fd) < 0 && err == 0) err = errno;
    if (err == 0) return 0;
    diag_add(dg, SEV_ERROR, p->path, 0, 0, "cannot write %s: %s (the previous file is kept)",
             p->tmp, strerror(err));
    unlink(p->tmp);
    return -1;
}

int publish_prepare(struct publish *p, const char *path, const void *data,
                    size_t len, struct diags *dg)
{
    publish_names(p, path);
    if (same_content(p->dest, data, len)) {
        publish_free(p);
        return 0;
    }
    int fd = make_temp(p, dg);
    if (fd < 0) {
        publish_free(p);
        return -1;
    }
    int err = write_all(fd, data, len) < 0 ? errno : 0;
    if (seal_temp(p, fd, err, dg) < 0) {
        publish_free(p);
        return -1;
    }
    return 1;
}

/* 1 when the files at a and b hold the same bytes. */
static int same_files(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    struct stat sa, sb;
    int same = fa >= 0 && fb >= 0 && fstat(fa, &sa) == 0 && fstat(fb, &sb) == 0 &&
               S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode) && sa.st_size == sb.st_size;
    enum { CHUNK = 1 << 20 };
    char *x = same ? xmalloc(2 * CHUNK) : NULL;
    for (off_t off = 0; same && off < sa.st_size; off += CHUNK) {
        size_t want = sa.st_size - off < CHUNK ? (size_t)(sa.st_size - off) : CHUNK;
        same = pread(fa, x, want, off) == (ssize_t)want &&
               pread(fb, x + CHUNK, want, off) == (ssize_t)want && !memcmp(x, x + CHUNK, want);
    }
    free(x);
    if (fa >= 0) close(fa);
    if (fb >= 0) close(fb);
    return same;
}

int publish_prepare_written(struct publish *p, const char *path, const char *tmp,
                            struct diags *dg)
{
    publish_names(p, path);
    if (same_files(tmp, p->dest)) {
        unlink(tmp);
        publish_free(p);
        return 0;
    }
    const char *slash = strrchr(tmp, '/');
    size_t dl = slash ? (size_t)(slash - tmp) + (slash == tmp) : 1;
    int fd, err = 0;
    if (strlen(p->dir) == dl && !strncmp(p->dir, slash ? tmp : ".", dl)) {
        p->tmp = xstrdup(tmp);
        fd = open(tmp, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            diag_add(dg, SEV_ERROR, path, 0, 0, "cannot open %s: %s (the previous file is kept)",
                     tmp, strerror(errno));
            unlink(tmp);
            publish_free(p);
            return -1;
        }
    } else {
        /* Written elsewhere (the output folder took no new file then): a
         * copy beside the target, so that the rename stays atomic. */
        fd = make_temp(p, dg);
        int in = fd < 0 ? -1 : open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && (in < 0 || copy_range(in, 0, -1, fd) < 0)) err = errno;
        if (in >= 0) close(in);
        unlink(tmp);
        if (fd < 0) {
            publish_free(p);
            return -1;
        }
    }
    if (seal_temp(p, fd, err, dg) < 0) {
        publish_free(p);
        return -1;
    }
    return 1;
}

void publish_stream_open(struct publish_stream *s, const char *path)
{
    memset(s, 0, sizeof *s);
    publish_names(&s->p, path);
    s->fd = -1;
    s->old_fd = open(s->p.dest, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (s->old_fd >= 0 && (fstat(s->old_fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(s->old_fd);
        s->old_fd = -1;
    }
    s->old_size = s->old_fd >= 0 ? (long long)st.st_size : 0;
    s->same = s->old_fd >= 0;
}

/* Leaves the "same as before" state: makes the temporary holding the
 * bytes written so far. */
static void diverge(struct publish_stream *s)
{
    s->same = 0;
    s->p.tmp = temp_pattern(&s->p);
    s->fd = mkstemp(s->p.tmp);
    if (s->fd < 0) {
        s->err = errno;
        free(s->p.tmp);
        s->p.tmp = NULL;
        return;
    }
    if (s->off && copy_range(s->old_fd, 0, s->off, s->fd) < 0) s->err = errno ? errno : EIO;
}

void publish_stream_write(struct publish_stream *s, const void *data, size_t len)
{
    if (s->err || !len) return;
    if (s->same) {
        /* Compare with the current file; write nothing while equal. */
        const char *d = data;
        char x[65536];
        size_t done = 0;
        while (s->same && done < len) {
            size_t want = len - done < sizeof x ? len - done : sizeof x;
            ssize_t got = s->off + (long long)done < s->old_size
                              ? pread(s->old_fd, x, want, (off_t)(s->off + (long long)done))
                              : 0;
            if (got < 0 && errno == EINTR) continue;
            if (got != (ssize_t)want || memcmp(x, d + done, want)) break;
            done += want;
        }
        if (done == len) {
            s->off += (long long)len;
            return;
        }
        diverge(s);
        if (s->err) return;
    } else if (s->fd < 0) {
        diverge(s);
        if (s->err) return;
    }
    if (write_all(s->fd, data, len) < 0) s->err = errno;
    s->off += (long long)len;
}

void publish_stream_sync(struct publish_stream *s)
{
    if (!s->err && s->fd >= 0 && fdatasync(s->fd) < 0) s->err = errno;
}

int publish_stream_finish(struct publish_stream *s, struct publish *p, struct diags *dg)
{
    if (!s->err && s->same && s->off == s->old_size) {
        publish_stream_abort(s);
        memset(p, 0, sizeof *p);
        return 0;
    }
    if (!s->err && s->fd < 0) diverge(s); /* a prefix of the current file, or none */
    if (s->err) {
        diag_add(dg, SEV_ERROR, s->p.path, 0, 0,
                 s->fd < 0 && !s->p.tmp
                     ? "cannot create a temporary file in %s: %s (the previous file is kept)"
                     : "cannot write to a temporary file in %s: %s (the previous file is kept)",
                 s->p.dir, strerror(s->err));
        publish_stream_abort(s);
        memset(p, 0, sizeof *p);
        return -1;
    }
    int fd = s->fd;
    s->fd = -1;
    if (seal_temp(&s->p, fd, 0, dg) < 0) {
        free(s->p.tmp);
        s->p.tmp = NULL;
        publish_stream_abort(s);
        memset(p, 0, sizeof *p);
        return -1;
    }
    if (s->old_fd >= 0) close(s->old_fd);
    *p = s->p;
    memset(&s->p, 0, sizeof s->p);
    s->old_fd = -1;
    return 1;
}

void publish_stream_abort(struct publish_stream *s)
{
    if (s->fd >= 0) close(s->fd);
    if (s->old_fd >= 0) close(s->old_fd);
    if (s->p.tmp) unlink(s->p.tmp);
    publish_free(&s->p);
    s->fd = s->old_fd = -1;
}

void publish_commit_all(struct publish *v, size_t n, int *res, struct diags *dg)
{
    for (size_t i = 0; i < n; i++) {
        res[i] = 0;
        if (!v[i].tmp) continue;
        res[i] = 1;
        if (rename(v[i].tmp, v[i].dest) < 0) {
            diag_add(dg, SEV_ERROR, v[i].path, 0, 0,
                     "cannot replace the file: %s (the previous file is kept)", strerror(errno));
            unlink(v[i].tmp);
            res[i] = -1;
        }
    }
    /* The renames are durable only once their folders are on disk: one
     * fsync for each folder, after all its renames. */
    for (size_t i = 0; i < n; i++) {
        if (res[i] <= 0) continue;
        int first = 1;
        for (size_t k = 0; k < i && first; k++)
            first = !(res[k] > 0 && !strcmp(v[k].dir, v[i].dir));
        if (!first) continue;
        int dfd = open(v[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    for (size_t i = 0; i < n; i++) publish_free(&v[i]);
}

int publish_commit(struct publish *p, struct diags *dg)
{
    int rc;
    publish_commit_all(p, 1, &rc, dg);
    return rc;
}

void publish_abort(struct publish *p)
{
    if (p->tmp) unlink(p->tmp);
    publish_free(p);
}

int publish_file(const char *path, const void *data, size_t len,
                 struct diags *dg)
{
    struct publish p;
    int rc = publish_prepare(&p, path, data, len, dg);
    if (rc <= 0) return rc;
    return publish_commit(&p, dg);
}

/* 1 when the temporary name carries the pid of a live process other than
 * us (another build or watcher writing into the same folder right now).
 * Names without a pid (older mdeck) count as stale. */
static int writer_alive(const char *name)
{
    const char *t = strstr(name, TMP_TAG) + strlen(TMP_TAG);
    char *end;
    errno = 0;
    long pid = strtol(t, &end, 10);
    if (errno || end == t || *end != '-' || pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

void publish_clean_stale(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.' && strstr(e->d_name, TMP_TAG) && !writer_alive(e->d_name)) {
            char *p = xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(dp);
}
