/* watch-tree.h - the folders `mdeck watch` holds inotify watches on.
 *
 * Internal to watch.c: a wd -> folder map, the recursive add that watches a
 * folder before listing it, the source filter shared with the build, and a
 * fingerprint of a deck's files.  Policy (which deck, when to build) and
 * logging stay in watch.c; failures come back through the warn callback. */
#ifndef MDECK_WATCH_TREE_H
#define MDECK_WATCH_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define WTREE_MAX_DEPTH 32  /* as deep as the build looks for answers */

/* One watched folder.  The kernel hands out one wd per inode and inotify
 * instance, so "this wd was walked in this generation" is the (dev, inode)
 * memory that keeps a bind-mount loop from being walked twice. */
struct wdir {
    int wd;
    char *path;     /* absolute */
    dev_t dev;
    ino_t ino;
    unsigned gen;   /* walk generation that last reached it */
};

struct wtree {
    int ifd;                /* the inotify instance (the caller's) */
    struct wdir **slot;     /* wd -> folder: open addressing */
    size_t cap, n;          /* n: folders watched */
    unsigned gen;           /* bump before a walk (wtree_add, wtree_prune) */
    const char *outdir;     /* absolute; never watched below a deck root */
    dev_t out_dev;
    ino_t out_ino;
    char **outnames;        /* names in outdir that are ours, not sources */
    size_t noutnames;
    int test_limit;         /* >0: fail new watches past this many (ENOSPC) */
    /* Called when a watch cannot be added, except for a folder that is
     * gone already; err is the errno (ENOSPC: the watch limit). */
    void (*warn)(void *arg, const char *path, int err);
    void *warn_arg;
};

/* Names the build never reads and no save leaves behind for good: the same
 * test answers.c applies, and a few editors' temporaries more. */
int watch_junk_name(const char *name);
/* 1 when path is root or lies below it. */
int wtree_path_within(const char *path, const char *root);

int wtree_is_outdir(const struct wtree *t, const char *path, const struct stat *st);
/* 1 when dir is the output folder and name an output or our lock file. */
int wtree_is_output(const struct wtree *t, const char *dir, const char *name);

struct wdir *wtree_get(const struct wtree *t, int wd);
/* Forgets wd (after IN_IGNORED: the kernel dropped the watch already). */
void wtree_forget(struct wtree *t, int wd);
/* Removes the watches of path and of every folder below it. */
void wtree_drop_under(struct wtree *t, const char *path);
/* Watches path and every folder below it (depth: path's depth under its
 * deck root; 0 for the root).  Hidden and junk folders, symlinks and the
 * output folder are skipped. */
void wtree_add(struct wtree *t, const char *path, int depth);
/* Removes every watch the walks of the current generation did not reach. */
void wtree_prune(struct wtree *t);
void wtree_free(struct wtree *t);

/* A hash over (path, dev, inode, size, mtime, mode) of every file below
 * root that the build may read (the same filter; root's identity file and
 * our outputs left out).  Equal fingerprints: nothing changed. */
uint64_t wtree_fingerprint(const struct wtree *t, const char *root);

#endif
