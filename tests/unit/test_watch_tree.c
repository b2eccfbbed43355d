/* test_watch_tree.c - the folders `mdeck watch` keeps watches on: the
 * source filter, the wd map under many additions and removals, symlinks and
 * hidden folders left out, pruning, the simulated watch limit, and the
 * fingerprint that the settle check compares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/util.h"
#include "mdeck/watch-tree.h"

static char dir[] = "/tmp/mdeck-watch-tree-XXXXXX";
static char *root;   /* realpath of dir */

static void mk(const char *rel)
{
    char *p = xasprintf("%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

static void put_file(const char *rel, const char *text)
{
    char *p = xasprintf("%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int warnings, last_err;

static void on_warn(void *arg, const char *path, int err)
{
    (void)arg;
    (void)path;
    warnings++;
    last_err = err;
}

static void tree_init(struct wtree *t)
{
    memset(t, 0, sizeof *t);
    t->ifd = inotify_init1(IN_CLOEXEC);
    assert_true(t->ifd >= 0);
    t->warn = on_warn;
    warnings = last_err = 0;
}

static void tree_done(struct wtree *t)
{
    close(t->ifd);
    wtree_free(t);
}

/* Every entry is found under its own wd, and n counts them. */
static size_t check_map(const struct wtree *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i]) continue;
        assert_ptr_equal(wtree_get(t, t->slot[i]->wd), t->slot[i]);
        n++;
    }
    assert_int_equal(n, t->n);
    return n;
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    root = realpath(dir, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(root);
    return 0;
}

static void junk_names(void **state)
{
    (void)state;
    static const char *junk[] = {".a.md.swp", ".#a.md", "#a.md#", "a.md~", "~$a.md", "4913",
                                 ".syncthing.a.md.tmp", "a.sync-conflict-20240101-1-ABC.md",
                                 ".git", ".trash", ".deck.apkg.mdeck-tmp-x1Y2z3",
                                 ".mdeck-watch.lock", "a.md___jb_tmp___", ".", "..", ""};
    static const char *sources[] = {"a.md", "index.md", "mdeck.lock", "img.png", "4914",
                                    "a.md.orig", "notes~x.md", "answers"};
    for (size_t i = 0; i < ARRAY_LEN(junk); i++) assert_true(watch_junk_name(junk[i]));
    for (size_t i = 0; i < ARRAY_LEN(sources); i++) assert_false(watch_junk_name(sources[i]));
}

static void path_within(void **state)
{
    (void)state;
    assert_true(wtree_path_within("/a/b", "/a/b"));
    assert_true(wtree_path_within("/a/b/c", "/a/b"));
    assert_false(wtree_path_within("/a/bc", "/a/b"));
    assert_false(wtree_path_within("/a", "/a/b"));
    assert_true(wtree_path_within("/x", "/"));
}

/* 300 folders in, half out, in an order that exercises the probing. */
static void map_add_and_drop(void **state)
{
    (void)state;
    mk("deck");
    for (int i = 0; i < 300; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "deck/d%03d", i);
        mk(rel);
        if (i % 3 == 0) {
            snprintf(rel, sizeof rel, "deck/d%03d/sub", i);
            mk(rel);
        }
    }
    mk("deck/.hidden");
    mk("deck/.hidden/inner");
    char *link = xasprintf("%s/deck/up", root);
    assert_int_equal(symlink("..", link), 0);
    free(link);
    put_file("deck/a.md", "## Q\n\nA.\n");

    struct wtree t;
    tree_init(&t);
    char *deck = xasprintf("%s/deck", root);
    t.gen++;
    wtree_add(&t, deck, 0);
    assert_int_equal(check_map(&t), 1 + 300 + 100); /* no .hidden, no up */
    assert_int_equal(warnings, 0);

    /* The same inode is never walked twice in one generation. */
    wtree_add(&t, deck, 0);
    assert_int_equal(t.n, 401);

    for (int i = 0; i < 300; i += 2) {
        char *p = xasprintf("%s/d%03d", deck, i);
        wtree_drop_under(&t, p);
        free(p);
    }
    /* 150 folders and the 50 sub-folders below even ones are gone. */
    assert_int_equal(check_map(&t), 401 - 150 - 50);
    for (size_t i = 0; i < t.cap; i++) {
        const struct wdir *d = t.slot[i];
        if (!d || !strcmp(d->path, deck)) continue;
        /* ".../deck/dNNN" or ".../deck/dNNN/sub" */
        assert_true(str_starts_with(d->path + strlen(deck), "/d"));
        assert_true(atoi(d->path + strlen(deck) + 2) % 2 == 1);
    }

    /* A new generation that walks one folder only: prune keeps just that. */
    char *one = xasprintf("%s/d001", deck);
    t.gen++;
    wtree_add(&t, one, 1);
    wtree_prune(&t);
    assert_int_equal(check_map(&t), 1);
    free(one);
    free(deck);
    tree_done(&t);
}

static void output_folder_is_skipped(void **state)
{
    (void)state;
    mk("deck2");
    mk("deck2/answers");
    mk("deck2/out");
    mk("deck2/out/more");
    struct wtree t;
    tree_init(&t);
    char *deck = xasprintf("%s/deck2", root);
    char *out = xasprintf("%s/deck2/out", root);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    t.outdir = out;
    t.out_dev = st.st_dev;
    t.out_ino = st.st_ino;
    t.gen++;
    wtree_add(&t, deck, 0);
    assert_int_equal(check_map(&t), 2); /* deck2, answers */
    tree_done(&t);

    /* ... unless it is the deck folder itself. */
    tree_init(&t);
    t.outdir = deck;
    assert_int_equal(stat(deck, &st), 0);
    t.out_dev = st.st_dev;
    t.out_ino = st.st_ino;
    t.gen++;
    wtree_add(&t, deck, 0);
    assert_int_equal(check_map(&t), 4);
    tree_done(&t);
    free(deck);
    free(out);
}

static void watch_limit(void **state)
{
    (void)state;
    mk("deck3");
    mk("deck3/a");
    mk("deck3/a/b");
    struct wtree t;
    tree_init(&t);
    t.test_limit = 2;
    char *deck = xasprintf("%s/deck3", root);
    t.gen++;
    wtree_add(&t, deck, 0);
    assert_int_equal(check_map(&t), 2);
    assert_int_equal(warnings, 1);
    assert_int_equal(last_err, ENOSPC);
    /* Walking again re-adds nothing new and fails the same way. */
    t.gen++;
    wtree_add(&t, deck, 0);
    wtree_prune(&t);
    assert_int_equal(check_map(&t), 2);
    free(deck);
    tree_done(&t);
}

static void fingerprint(void **state)
{
    (void)state;
    mk("deck4");
    mk("deck4/answers");
    mk("deck4/out");
    put_file("deck4/index.md", "- Q\n");
    put_file("deck4/answers/a.md", "## Q\n\nA.\n");
    struct wtree t;
    tree_init(&t);
    char *deck = xasprintf("%s/deck4", root);
    char *out = xasprintf("%s/deck4/out", root);
    t.outdir = out;
    uint64_t f0 = wtree_fingerprint(&t, deck);
    assert_int_equal(wtree_fingerprint(&t, deck), f0);

    /* Not inputs: the identity file, junk, the output folder. */
    put_file("deck4/mdeck.lock", "{}\n");
    put_file("deck4/answers/.a.md.swp", "x");
    put_file("deck4/answers/a.md~", "x");
    put_file("deck4/out/deck4.apkg", "x");
    assert_int_equal(wtree_fingerprint(&t, deck), f0);

    /* Inputs: a new file, a changed one, a replaced one (new inode). */
    put_file("deck4/answers/b.md", "## R\n\nB.\n");
    uint64_t f1 = wtree_fingerprint(&t, deck);
    assert_true(f1 != f0);
    put_file("deck4/answers/a.md", "## Q\n\nA, longer.\n");
    uint64_t f2 = wtree_fingerprint(&t, deck);
    assert_true(f2 != f1);
    put_file("deck4/answers/.tmp", "## Q\n\nA, longer.\n");
    char *from = xasprintf("%s/answers/.tmp", deck), *to = xasprintf("%s/answers/a.md", deck);
    assert_int_equal(rename(from, to), 0);
    assert_true(wtree_fingerprint(&t, deck) != f2);
    /* The identity file counts below the root (it is not ours there). */
    uint64_t f3 = wtree_fingerprint(&t, deck);
    put_file("deck4/answers/mdeck.lock", "x");
    assert_true(wtree_fingerprint(&t, deck) != f3);
    free(from);
    free(to);
    free(deck);
    free(out);
    tree_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(junk_names),
        cmocka_unit_test(path_within),
        cmocka_unit_test(map_add_and_drop),
        cmocka_unit_test(output_folder_is_skipped),
        cmocka_unit_test(watch_limit),
        cmocka_unit_test(fingerprint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
