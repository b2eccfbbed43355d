/* test_publish.c - streamed outputs: nothing written while the bytes equal
 * the current file's, the equal prefix carried over at the first
 * difference, and the current file untouched until the commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/publish.h"
#include "mdeck/util.h"
#include "scratch.h"

static char *out_path(void) { return xasprintf("%s/deck.csv", scratch_dir); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Streams the pieces (NULL-terminated) over path; returns what finish said
 * and commits when it said 1. */
static int stream(const char *path, const char *const *pieces)
{
    struct diags dg;
    diags_init(&dg);
    struct publish_stream s;
    publish_stream_open(&s, path);
    for (size_t i = 0; pieces[i]; i++) publish_stream_write(&s, pieces[i], strlen(pieces[i]));
    struct publish p;
    int rc = publish_stream_finish(&s, &p, &dg);
    if (rc == 1) assert_int_equal(publish_commit(&p, &dg), 1);
    assert_int_equal(dg.nerrors, 0);
    diags_free(&dg);
    publish_stream_abort(&s); /* harmless after finish */
    return rc;
}

static void expect(const char *path, const char *text)
{
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(path, &b), 0);
    assert_string_equal(b.s, text);
    buf_release(&b);
}

static ino_t inode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static void test_stream_cases(void **state)
{
    (void)state;
    char *path = out_path();
    /* no current file: made */
    assert_int_equal(stream(path, (const char *const[]){"abc", "def", NULL}), 1);
    expect(path, "abcdef");
    /* the same bytes, cut differently: untouched (same inode) */
    ino_t before = inode(path);
    assert_int_equal(stream(path, (const char *const[]){"a", "bcde", "f", NULL}), 0);
    assert_int_equal(inode(path), before);
    /* a difference after an equal prefix: the prefix is carried over */
    assert_int_equal(stream(path, (const char *const[]){"ab", "cX", "YZ", NULL}), 1);
    expect(path, "abcXYZ");
    assert_true(inode(path) != before);
    /* longer than the current file */
    assert_int_equal(stream(path, (const char *const[]){"abcXYZ", "+more", NULL}), 1);
    expect(path, "abcXYZ+more");
    /* a strict prefix of the current file */
    assert_int_equal(stream(path, (const char *const[]){"abc", NULL}), 1);
    expect(path, "abc");
    /* nothing at all */
    assert_int_equal(stream(path, (const char *const[]){NULL}), 1);
    expect(path, "");
    free(path);
}

/* The temporaries left in the scratch folder. */
static int temporaries(void)
{
    char *cmd = xasprintf("ls -A '%s' | grep -c mdeck-tmp", scratch_dir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    free(cmd);
    return n;
}

/* A stream abandoned before finish leaves the current file and no
 * temporary behind. */
static void test_stream_abort(void **state)
{
    (void)state;
    char *path = out_path();
    write_text(path, "old");
    struct publish_stream s;
    publish_stream_open(&s, path);
    publish_stream_write(&s, "new bytes", 9);
    publish_stream_abort(&s);
    expect(path, "old");
    assert_int_equal(temporaries(), 0);
    free(path);
}

/* The bytes synced early, then published; and when that sync fails, the
 * stream's finish reports it and the current file stays. */
static void test_stream_sync(void **state)
{
    (void)state;
    char *path = out_path();
    write_text(path, "old");
    struct diags dg;
    diags_init(&dg);
    struct publish_stream s;
    struct publish p;
    publish_stream_open(&s, path);
    publish_stream_write(&s, "new", 3);
    publish_stream_sync(&s);
    assert_int_equal(publish_stream_finish(&s, &p, &dg), 1);
    assert_int_equal(publish_commit(&p, &dg), 1);
    expect(path, "new");

    publish_stream_open(&s, path);
    publish_stream_write(&s, "newer", 5);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_true(dup2(pipefd[0], s.fd) >= 0); /* fdatasync fails on a pipe */
    close(pipefd[0]);
    close(pipefd[1]);
    publish_stream_sync(&s);
    assert_int_equal(publish_stream_finish(&s, &p, &dg), -1);
    assert_int_equal(dg.nerrors, 1);
    assert_non_null(strstr(dg.v[0].msg, "cannot write to a temporary file"));
    expect(path, "new");
    assert_int_equal(temporaries(), 0);
    diags_free(&dg);
    free(path);
}

/* Outputs committed together: each renamed or reported on its own, a
 * failed rename leaves the others in place, and an output that is a
 * symlink into another folder is replaced there. */
static void test_commit_all(void **state)
{
    (void)state;
    char *a = xasprintf("%s/a.csv", scratch_dir), *b = xasprintf("%s/b.csv", scratch_dir);
    char *c = xasprintf("%s/c.csv", scratch_dir), *sub = xasprintf("%s/sub", scratch_dir);
    char *real = xasprintf("%s/sub/real.csv", scratch_dir), *l = xasprintf("%s/l.csv", scratch_dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_text(a, "a0");
    write_text(b, "b0");
    write_text(real, "r0");
    assert_int_equal(symlink("sub/real.csv", l), 0);
    struct diags dg;
    diags_init(&dg);
    struct publish v[4];
    assert_int_equal(publish_prepare(&v[0], a, "a1", 2, &dg), 1);
    assert_int_equal(publish_prepare(&v[1], b, "b0", 2, &dg), 0); /* unchanged */
    assert_int_equal(publish_prepare(&v[2], c, "c1", 2, &dg), 1);
    assert_int_equal(publish_prepare(&v[3], l, "r1", 2, &dg), 1);
    assert_int_equal(unlink(v[2].tmp), 0); /* its rename fails */
    int res[4];
    publish_commit_all(v, 4, res, &dg);
    assert_int_equal(res[0], 1);
    assert_int_equal(res[1], 0);
    assert_int_equal(res[2], -1);
    assert_int_equal(res[3], 1);
    assert_int_equal(dg.nerrors, 1);
    assert_string_equal(dg.v[0].path, c);
    expect(a, "a1");
    expect(b, "b0");
    assert_int_equal(access(c, F_OK), -1);
    expect(real, "r1");
    struct stat st;
    assert_int_equal(lstat(l, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(temporaries(), 0);
    diags_free(&dg);
    free(a), free(b), free(c), free(sub), free(real), free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_cases, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_stream_sync, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_commit_all, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
