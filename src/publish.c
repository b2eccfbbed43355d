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

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void publish_free(struct publish *p)
{
    free(p->path);
    free(p->dest);
    free(p->tmp);
    free(p->dir);
    memset(p, 0, sizeof *p);
}

int publish_prepare(struct publish *p, const char *path, const void *data,
                    size_t len, struct diags *dg)
{
    memset(p, 0, sizeof *p);
    p->path = xstrdup(path);
    /* A symlinked output is replaced next to its target, keeping the link. */
    char *target = realpath(path, NULL);
    p->dest = target ? target : xstrdup(path);
    if (same_content(p->dest, data, len)) {
        publish_free(p);
        return 0;
    }
    const char *slash = strrchr(p->dest, '/');
    p->dir = slash ? xstrndup(p->dest, (size_t)(slash - p->dest) + (slash == p->dest))
                   : xstrdup(".");
    const char *base = slash ? slash + 1 : p->dest;
    /* Hidden, and not ending in .apkg/.csv: no importer or watcher takes a
     * temporary for an output. */
    /* The pid tells publish_clean_stale() whether the writer still lives. */
    p->tmp = xasprintf("%s/.%s" TMP_TAG "%ld-XXXXXX", p->dir, base, (long)getpid());
    int fd = mkstemp(p->tmp);
    if (fd < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "cannot create a temporary file in %s: %s (the previous file is kept)",
                 p->dir, strerror(errno));
        free(p->tmp);
        p->tmp = NULL;
        publish_free(p);
        return -1;
    }
    struct stat st;
    mode_t mode;
    if (stat(p->dest, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        /* mkstemp makes 0600 files; an output is as readable as any file. */
        mode_t um = umask(022);
        umask(um);
        mode = 0666 & ~um;
    }
    /* The data must be on disk before the rename makes it visible, or a
     * crash could leave a renamed but empty package. */
    if (write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0 ||
        close(fd) < 0) {
        int e = errno;
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot write %s: %s (the previous file is kept)",
                 p->tmp, strerror(e));
        close(fd); /* harmless EBADF when close itself failed */
        unlink(p->tmp);
        publish_free(p);
        return -1;
    }
    return 1;
}

int publish_commit(struct publish *p, struct diags *dg)
{
    if (!p->tmp) return 0;
    int rc = 1;
    if (rename(p->tmp, p->dest) < 0) {
        diag_add(dg, SEV_ERROR, p->path, 0, 0,
                 "cannot replace the file: %s (the previous file is kept)", strerror(errno));
        unlink(p->tmp);
        rc = -1;
    } else {
        /* The rename is durable only once the folder itself is on disk. */
        int dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    publish_free(p);
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
