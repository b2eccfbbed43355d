/* test_apkg_vfs.c - the VFS that reports a collection's writes must report
 * every byte SQLite changes in the file, or pieces deflated ahead of the
 * indexes would go into the package stale; and the writes it gathers must
 * leave the very file SQLite would have written without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/apkg.h"
#include "mdeck/util.h"
#include "scratch.h"
#include "../../src/apkg-int.h"

struct range {
    uint64_t off, len;
};

struct seen {
    struct range *v;
    size_t n, cap;
};

static void record(void *ctx, uint64_t off, uint64_t len)
{
    struct seen *s = ctx;
    GROW(s->v, s->n + 1, s->cap);
    s->v[s->n++] = (struct range){off, len};
}

static int covered(const struct seen *s, uint64_t at)
{
    for (size_t i = 0; i < s->n; i++)
        if (at >= s->v[i].off && at - s->v[i].off < s->v[i].len) return 1;
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
}

/* Rows of ~1 KB in id order, as the package's notes go in. */
static void fill_rows(sqlite3 *db, int from, int to)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?)", -1, &st, NULL),
                     SQLITE_OK);
    char text[1100];
    for (int i = from; i < to; i++) {
        snprintf(text, sizeof text, "%0*d", 1000 + i % 90, i * 7919);
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, (i * 2654435761u) % 1000);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) fprintf(stderr, "row %d: %s\n", i, sqlite3_errmsg(db));
        assert_int_equal(rc, SQLITE_DONE);
    }
    sqlite3_finalize(st);
}

/* Every byte that differs between the file before and after, and every
 * byte it grew by, lies in a reported write. */
static void check_covered(const struct buf *before, const struct buf *after,
                          const struct seen *s)
{
    size_t changed = 0;
    for (size_t i = 0; i < after->len; i++) {
        if (i < before->len && before->s[i] == after->s[i]) continue;
        changed++;
        if (!covered(s, i)) fail_msg("byte %zu changed, no write reported there", i);
    }
    assert_true(changed > 0); /* the case did write */
}

/* A new database named name in the scratch folder (its path in path),
 * opened through PKG_VFS or, when not watched, the default VFS. */
static sqlite3 *open_new(char *path, size_t size, const char *name, int watched)
{
    snprintf(path, size, "%s/%s", scratch_dir, name);
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = watched ? pkg_sql_open_watched(path, &db, flags) : pkg_sql_open(path, &db, flags);
    assert_int_equal(rc, SQLITE_OK);
    return db;
}

static void test_reports_writes(void **state)
{
    (void)state;
    char path[256];
    sqlite3 *db = open_new(path, sizeof path, "coll.db", 1);
    /* the collection's own settings: no journal, a small page cache that
     * spills during the inserts */
    exec_ok(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-256;"
                "CREATE TABLE t (id integer primary key, body text not null, k integer not null);"
                "BEGIN");
    fill_rows(db, 0, 3000);
    exec_ok(db, "COMMIT");

    /* the pages gathered are written when asked: the file then holds every
     * page, as a reader beside SQLite sees it */
    struct buf before = BUF_INIT, after = BUF_INIT;
    assert_int_equal(pkg_vfs_flush(db), 0);
    assert_int_equal(read_file(path, &before), 0);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(before.len, (size_t)sqlite3_column_int64(q, 0) * 4096);
    sqlite3_finalize(q);
    struct seen s = {0};
    assert_int_equal(pkg_vfs_watch(db, record, &s), 0);
    /* what the build does next (indexes, which sort and append), and what
     * an update does (rows rewritten in place, the first page) */
    exec_ok(db, "CREATE INDEX ix_k ON t (k); CREATE INDEX ix_body ON t (body);");
    exec_ok(db, "UPDATE t SET body = 'short' WHERE id % 97 = 0");
    exec_ok(db, "BEGIN");
    fill_rows(db, 3000, 3500);
    exec_ok(db, "COMMIT");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(read_file(path, &after), 0);
    assert_true(after.len > before.len);
    check_covered(&before, &after, &s);

    /* a file that shrinks: the truncation is reported from the new end */
    assert_int_equal(pkg_sql_open_watched(path, &db, SQLITE_OPEN_READWRITE), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF");
    s.n = 0;
    assert_int_equal(pkg_vfs_watch(db, record, &s), 0);
    exec_ok(db, "DELETE FROM t WHERE id >= 1000; VACUUM");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    buf_release(&before);
    before = after;
    buf_init(&after);
    assert_int_equal(read_file(path, &after), 0);
    assert_true(after.len < before.len);
    int cut = 0;
    for (size_t i = 0; i < s.n; i++)
        cut |= s.v[i].off <= after.len && s.v[i].len >= UINT64_MAX - s.v[i].off;
    assert_true(cut);
    check_covered(&before, &after, &s);

    free(s.v);
    buf_release(&before);
    buf_release(&after);
}

/* The same statements through the VFS (writes gathered, reads between
 * them, a page cache small enough to spill and read back) and through the
 * default one: the same bytes. */
static void same_work(sqlite3 *db)
{
    exec_ok(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-128;"
                "CREATE TABLE t (id integer primary key, body text not null, k integer not null);"
                "BEGIN");
    fill_rows(db, 0, 2000);
    exec_ok(db, "COMMIT; CREATE INDEX ix_k ON t (k);"
                "UPDATE t SET body = body || 'x' WHERE id % 13 = 0;"
                "DELETE FROM t WHERE id % 7 = 0; BEGIN");
    fill_rows(db, 2000, 2600);
    /* rows spread over the table changed in one transaction, with room for
     * a few pages only: pages are written out and read back before the
     * commit, among them pages still gathered */
    exec_ok(db, "COMMIT; PRAGMA cache_size=10; BEGIN;"
                "UPDATE t SET body = body || 'yy' WHERE k % 3 = 0;"
                "INSERT INTO t SELECT id + 100000, body, k FROM t WHERE k % 5 = 0;"
                "COMMIT");
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
}

static void test_same_bytes(void **state)
{
    (void)state;
    char a[256], b[256];
    sqlite3 *db = open_new(a, sizeof a, "through.db", 1);
    struct seen s = {0};
    assert_int_equal(pkg_vfs_watch(db, record, &s), 0);
    same_work(db);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(s.n > 0);
    db = open_new(b, sizeof b, "default.db", 0);
    same_work(db);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    struct buf x = BUF_INIT, y = BUF_INIT;
    assert_int_equal(read_file(a, &x), 0);
    assert_int_equal(read_file(b, &y), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.s, y.s, x.len);
    buf_release(&x);
    buf_release(&y);
    free(s.v);
}

/* Asked of a connection that does not go through the VFS: refused, so
 * that nothing is deflated ahead without the writes being known. */
static void test_plain_refused(void **state)
{
    (void)state;
    char path[256];
    sqlite3 *db = open_new(path, sizeof path, "plain.db", 0);
    exec_ok(db, "CREATE TABLE t (x)");
    struct seen s = {0};
    assert_int_equal(pkg_vfs_watch(db, record, &s), -1);
    exec_ok(db, "INSERT INTO t VALUES (1)");
    assert_int_equal(s.n, 0);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reports_writes, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_same_bytes, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_plain_refused, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
