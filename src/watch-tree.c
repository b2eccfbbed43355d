/* watch-tree.c - the folders `mdeck watch` holds inotify watches on: the
 * wd -> folder map, the recursive add, the source filter, fingerprints.
 * "Rule N" refers to the design rules of the shared notes (watching.md). */
#include "mdeck/watch-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "mdeck/identity.h"
#include "mdeck/util.h"

/* Rule 2: what a folder watch reports, and the flags that close the
 * stat-then-watch race (ONLYDIR), stop symlink following (DONT_FOLLOW) and
 * silence files already unlinked but still open (EXCL_UNLINK). */
#define WATCH_MASK                                                             \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |    \
     IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |      \
     IN_DONT_FOLLOW | IN_EXCL_UNLINK)

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Rule 10.  Hidden names cover vim's .x.md.swp, Emacs' .#x.md, Syncthing's
 * .syncthing.*, .git, .trash, .stversions and our own temporaries and lock
 * file; then #x.md#, x.md~, ~$x, vim's 4913 probe, sync conflict copies and
 * JetBrains' safe-write files. */
int watch_junk_name(const char *name)
{
    size_t n = strlen(name);
    return n == 0 || name[0] == '.' || name[0] == '#' || name[0] == '~' ||
           name[n - 1] == '~' || !strcmp(name, "4913") ||
           strstr(name, ".sync-conflict-") != NULL ||
           str_ends_with(name, "___jb_tmp___") || str_ends_with(name, "___jb_old___");
}

int wtree_path_within(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return path[0] == '/';
    return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

int wtree_is_outdir(const struct wtree *t, const char *path, const struct stat *st)
{
    return (t->outdir && !strcmp(path, t->outdir)) ||
           (st && st->st_dev == t->out_dev && st->st_ino == t->out_ino);
}

int wtree_is_output(const struct wtree *t, const char *dir, const char *name)
{
    if (!t->outdir || strcmp(dir, t->outdir)) return 0;
    for (size_t i = 0; i < t->noutnames; i++)
        if (!strcmp(t->outnames[i], name)) return 1;
    return 0;
}

/* --- the wd -> folder map ------------------------------------------------ */

static size_t home(const struct wtree *t, int wd)
{
    return (size_t)mix64((uint64_t)(unsigned)wd) & (t->cap - 1);
}

struct wdir *wtree_get(const struct wtree *t, int wd)
{
    if (!t->cap) return NULL;
    for (size_t i = home(t, wd);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slot[i]) return NULL;
        if (t->slot[i]->wd == wd) return t->slot[i];
    }
}

static void put(struct wtree *t, struct wdir *d)
{
    if ((t->n + 1) * 2 > t->cap) {
        struct wdir **old = t->slot;
        size_t oldcap = t->cap;
        t->cap = oldcap ? oldcap * 2 : 64;
        t->slot = xzeroed(t->cap, sizeof *t->slot); /* probed before written */
        t->n = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) put(t, old[i]);
        free(old);
    }
    size_t i = home(t, d->wd);
    while (t->slot[i]) i = (i + 1) & (t->cap - 1);
    t->slot[i] = d;
    t->n++;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
void wtree_forget(struct wtree *t, int wd)
{
    if (!t->cap) return;
    size_t i = home(t, wd);
    while (t->slot[i] && t->slot[i]->wd != wd) i = (i + 1) & (t->cap - 1);
    if (!t->slot[i]) return;
    free(t->slot[i]->path);
    free(t->slot[i]);
    t->slot[i] = NULL;
    t->n--;
    for (size_t j = (i + 1) & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1)) {
        size_t k = home(t, t->slot[j]->wd);
        int between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) { /* slot j's home is not in (i, j]: fill the hole */
            t->slot[i] = t->slot[j];
            t->slot[j] = NULL;
            i = j;
        }
    }
}

/* Removes the watches of the folders at or below under, or (under NULL)
 * of those no walk of the current generation reached. */
static void drop_where(struct wtree *t, const char *under)
{
    int *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < t->cap; i++) {
        struct wdir *d = t->slot[i];
        if (!d || (under ? !wtree_path_within(d->path, under) : d->gen == t->gen)) continue;
        GROW(v, n + 1, cap);
        v[n++] = d->wd;
    }
    for (size_t i = 0; i < n; i++) {
        inotify_rm_watch(t->ifd, v[i]); /* EINVAL if the kernel dropped it */
        wtree_forget(t, v[i]);
    }
    free(v);
}

/* A folder moved out of a deck keeps its watch and would report edits made
 * elsewhere under its old name (rule 5).  The kernel answers each removal
 * with IN_IGNORED, which then finds no entry. */
void wtree_drop_under(struct wtree *t, const char *path) { drop_where(t, path); }

void wtree_prune(struct wtree *t) { drop_where(t, NULL); }

void wtree_free(struct wtree *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i]) continue;
        free(t->slot[i]->path);
        free(t->slot[i]);
    }
    free(t->slot);
    t->slot = NULL;
    t->cap = t->n = 0;
}

/* --- walking ------------------------------------------------------------- */

static int add_watch(struct wtree *t, const char *path)
{
    int wd = inotify_add_watch(t->ifd, path, WATCH_MASK);
    if (wd >= 0 && t->test_limit > 0 && !wtree_get(t, wd) && t->n >= (size_t)t->test_limit) {
        inotify_rm_watch(t->ifd, wd);
        wd = -1;
        errno = ENOSPC;
    }
    /* A folder that vanished since it was listed is no news. */
    if (wd < 0 && errno != ENOENT && errno != ENOTDIR && t->warn)
        t->warn(t->warn_arg, path, errno);
    return wd;
}

/* Rule 4: watch the folder first, then list it, so nothing created in it
 * can fall between the two.  Files need no watch: their folder's reports
 * them. */
void wtree_add(struct wtree *t, const char *path, int depth)
{
    struct stat st;
    /* The output folder may be a deck folder, never a part of one. */
    if (depth > WTREE_MAX_DEPTH || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
        (depth > 0 && wtree_is_outdir(t, path, &st)))
        return;
    int wd = add_watch(t, path);
    if (wd < 0) return;
    struct wdir *e = wtree_get(t, wd);
    if (e && e->gen == t->gen) return; /* this inode was walked already */
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->wd = wd;
        e->path = xstrdup(path);
        put(t, e);
    } else if (strcmp(e->path, path)) {
        /* The same inode under a new name: keep the old name while it still
         * leads there (a bind mount), else take the new one (a missed move). */
        struct stat old;
        if (lstat(e->path, &old) < 0 || old.st_dev != st.st_dev || old.st_ino != st.st_ino) {
            free(e->path);
            e->path = xstrdup(path);
        }
    }
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->gen = t->gen;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dp) {
        if (fd >= 0) close(fd);
        return;
    }
    char *here = xstrdup(e->path);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (watch_junk_name(de->d_name)) continue; /* "." and ".." too */
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue;
        char *sub = xasprintf("%s/%s", here, de->d_name);
        wtree_add(t, sub, depth + 1); /* lstat there: symlinks stay out */
        free(sub);
    }
    closedir(dp);
    free(here);
}

/* --- fingerprints (rule 12) ---------------------------------------------- */

/* A sum of per-file hashes does not depend on readdir order.  Files behind
 * symlinks count (the build reads them); folders behind symlinks do not. */
static void fingerprint(const struct wtree *t, const char *dir, int depth, int root,
                        uint64_t *sum)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        *sum += mix64(str_hash(dir) ^ (uint64_t)errno);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dp))) {
        const char *name = de->d_name;
        if (watch_junk_name(name) || (root && !strcmp(name, IDENTITY_FILE)) ||
            wtree_is_output(t, dir, name))
            continue;
        char *p = xasprintf("%s/%s", dir, name);
        uint64_t h = str_hash(p);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth < WTREE_MAX_DEPTH && !wtree_is_outdir(t, p, &st))
                fingerprint(t, p, depth + 1, 0, sum);
        } else if (stat(p, &st) == 0) {
            const uint64_t v[] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino,
                                  (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                                  (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_mode};
            for (size_t i = 0; i < ARRAY_LEN(v); i++) h = mix64(h ^ v[i]);
            *sum += h;
        } else {
            *sum += mix64(h ^ (uint64_t)errno);
        }
        free(p);
    }
    closedir(dp);
}

uint64_t wtree_fingerprint(const struct wtree *t, const char *root)
{
    uint64_t sum = 0;
    if (root) fingerprint(t, root, 0, 1, &sum);
    return sum;
}
