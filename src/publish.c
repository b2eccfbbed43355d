/* publish.c - atomic, change-only replacement of output files. */
#include "mdeck/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

int publish_file(const char *path, const void *data, size_t len,
                 struct diags *dg)
{
    /* A symlinked output is replaced next to its target, keeping the link. */
    char *target = realpath(path, NULL);
    const char *dest = target ? target : path;
    if (same_content(dest, data, len)) {
        free(target);
        return 0;
    }
    const char *slash = strrchr(dest, '/');
    char *dir = slash ? xstrndup(dest, (size_t)(slash - dest) + (slash == dest))
                      : xstrdup(".");
    const char *base = slash ? slash + 1 : dest;
    /* Hidden, and not ending in .apkg/.csv: no importer or watcher takes a
     * temporary for an output. */
    char *tmp = xasprintf("%s/.%s" TMP_TAG "XXXXXX", dir, base);
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto out;
    }
    struct stat st;
    mode_t mode;
    if (stat(dest, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t um = umask(022);
        umask(um);
        mode = 0666 & ~um;
    }
    if (write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot write %s: %s (the previous file is kept)",
                 tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot write %s: %s (the previous file is kept)",
                 tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, dest) < 0) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot replace the file: %s (the previous file is kept)",
                 strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* The rename is durable only once the folder itself is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 1;
out:
    free(tmp);
    free(dir);
    free(target);
    return rc;
}

void publish_clean_stale(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.' && strstr(e->d_name, TMP_TAG)) {
            char *p = xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(dp);
}
