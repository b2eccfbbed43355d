/* test_identity.c - identities survive reordering and rewording, and
 * mdeck.lock is written only when it changes. */
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

#include "mdeck/deck.h"
#include "scratch.h"
#include "mdeck/diag.h"
#include "mdeck/identity.h"
#include "mdeck/index.h"

#define dir scratch_dir

static void write_index(const char *text)
{
    char *p = xasprintf("%s/index.md", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

/* Loads the deck, assigns ids (writing the lock), returns "key=id" lines. */
static char *ids(int *errors)
{
    struct deck d;
    struct diags dg;
    deck_init(&d, dir);
    diags_init(&dg);
    assert_int_equal(index_parse(&d, &dg), 0);
    int rc = identity_assign(&d, 1, &dg);
    if (errors) *errors = rc < 0;
    struct buf b = BUF_INIT;
    for (size_t i = 0; rc == 0 && i < d.nnotes; i++)
        buf_addf(&b, "%s=%s\n", d.notes[i].question, d.notes[i].id);
    deck_free(&d);
    diags_free(&dg);
    return buf_detach(&b);
}

static const char *id_of(const char *list, const char *question)
{
    static char id[80];
    char *needle = xasprintf("%s=", question);
    const char *at = strstr(list, needle);
    id[0] = '\0';
    if (at) sscanf(at + strlen(needle), "%79[^\n]", id);
    free(needle);
    return id;
}

#define setup scratch_setup
#define teardown scratch_teardown

static void test_reorder_and_reword_keep_ids(void **state)
{
    write_index("- [What is attention?](https://a.com/attn)\n"
                "- [Why divide by sqrt(d)?](https://a.com/scale)\n"
                "- Explain the KV cache and why it exists\n"
                "- [What is RoPE?](answers/rope.md)\n");
    char *a = ids(NULL);
    char before[4][80];
    strcpy(before[0], id_of(a, "What is attention?"));
    strcpy(before[1], id_of(a, "Why divide by sqrt(d)?"));
    strcpy(before[2], id_of(a, "Explain the KV cache and why it exists"));
    strcpy(before[3], id_of(a, "What is RoPE?"));
    for (int i = 0; i < 4; i++) assert_true(before[i][0]);
    /* Reordered; one reworded keeping its source, one reworded keeping its
     * answer link, one reworded slightly with neither. */
    write_index("- [What is RoPE, and why rotate?](answers/rope.md)\n"
                "- Explain the KV-cache, and why does it exist?\n"
                "- [Why do we divide by sqrt(d_k)?](https://a.com/scale)\n"
                "- [What is attention?](https://a.com/attn)\n");
    char *b = ids(NULL);
    assert_string_equal(id_of(b, "What is attention?"), before[0]);
    assert_string_equal(id_of(b, "Why do we divide by sqrt(d_k)?"), before[1]);
    assert_string_equal(id_of(b, "Explain the KV-cache, and why does it exist?"), before[2]);
    assert_string_equal(id_of(b, "What is RoPE, and why rotate?"), before[3]);
    free(a);
    free(b);
}

static void test_lock_written_only_when_changed(void **state)
{
    write_index("- one question\n- another question\n");
    free(ids(NULL));
    char *lock = xasprintf("%s/%s", dir, IDENTITY_FILE);
    struct stat s1, s2;
    assert_int_equal(stat(lock, &s1), 0);
    sleep(1);
    free(ids(NULL));
    assert_int_equal(stat(lock, &s2), 0);
    assert_int_equal(s1.st_ino, s2.st_ino); /* not replaced */
    assert_int_equal(s1.st_mtime, s2.st_mtime);
    write_index("- one question\n- another question\n- a third\n");
    free(ids(NULL));
    assert_int_equal(stat(lock, &s2), 0);
    assert_int_not_equal(s1.st_ino, s2.st_ino); /* replaced by rename */
    free(lock);
}

static void test_removed_question_keeps_its_id(void **state)
{
    write_index("- keep me\n- remove me for a while\n");
    char *a = ids(NULL);
    char old[80];
    strcpy(old, id_of(a, "remove me for a while"));
    write_index("- keep me\n- something brand new and different\n");
    char *b = ids(NULL);
    assert_string_not_equal(id_of(b, "something brand new and different"), old);
    write_index("- keep me\n- something brand new and different\n- remove me for a while\n");
    char *c = ids(NULL);
    assert_string_equal(id_of(c, "remove me for a while"), old);
    free(a);
    free(b);
    free(c);
}

static void test_pinned_ids(void **state)
{
    write_index("- first {#pinned-one}\n- second\n");
    char *a = ids(NULL);
    assert_string_equal(id_of(a, "first"), "pinned-one");
    write_index("- completely different words {#pinned-one}\n- second\n");
    char *b = ids(NULL);
    assert_string_equal(id_of(b, "completely different words"), "pinned-one");
    int err = 0;
    write_index("- a {#same}\n- b {#same}\n");
    free(ids(&err));
    assert_int_equal(err, 1);
    free(a);
    free(b);
}

static void test_corrupt_lock_is_an_error(void **state)
{
    write_index("- q\n");
    char *lock = xasprintf("%s/%s", dir, IDENTITY_FILE);
    FILE *f = fopen(lock, "w");
    fputs("{ not json", f);
    fclose(f);
    int err = 0;
    free(ids(&err));
    assert_int_equal(err, 1);
    struct buf text = BUF_INIT;
    read_file(lock, &text);
    assert_string_equal(text.s, "{ not json"); /* left for the user */
    buf_release(&text);
    free(lock);
}

/* The lock file written is one record per line, and every layout of the
 * same JSON gives the same identities: the one-per-line one (read line by
 * line, on every core past 2,048 records), the indented one older mdecks
 * wrote (then rewritten one per line), all on one line, CRLF line ends, two
 * records on a line. */
static void write_lock(const char *text)
{
    char *p = xasprintf("%s/%s", dir, IDENTITY_FILE);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static char *read_lock(void)
{
    char *p = xasprintf("%s/%s", dir, IDENTITY_FILE);
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(p, &b), 0);
    free(p);
    buf_addc(&b, '\0');
    return buf_detach(&b);
}

/* The lock is still exactly want: it was read in the one-record-per-line
 * layout (any other layout is rewritten by the build that reads it). */
static void assert_lock_kept(const char *want)
{
    char *text = read_lock();
    assert_string_equal(text, want);
    free(text);
}

/* ids(), which must succeed. */
static char *ids_ok(void)
{
    int err = 1;
    char *a = ids(&err);
    assert_int_equal(err, 0);
    return a;
}

static void test_lock_layouts(void **state)
{
    write_index("- alpha question\n- [beta question](https://b.example/x)\n");
    static const char *layouts[] = {
        "{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n  {\n   \"id\": \"id-a\",\n"
        "   \"question\": \"alpha question\"\n  },\n  {\n   \"id\": \"id-b\",\n"
        "   \"question\": \"beta question\",\n   \"sources\": [\n    \"https://b.example/x\"\n"
        "   ]\n  }\n ]\n}\n",
        "{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n"
        "  {\"id\":\"id-a\",\"question\":\"alpha question\"},\n"
        "  {\"id\":\"id-b\",\"question\":\"beta question\",\"sources\":[\"https://b.example/x\"]}\n ]\n}\n",
        "{\"version\": 1, \"notes\": [{\"id\":\"id-a\",\"question\":\"alpha question\"}, "
        "{\"id\":\"id-b\",\"question\":\"beta question\"}]}",
        "{\r\n \"comment\": \"c\",\r\n \"version\": 1,\r\n \"notes\": [\r\n"
        "  {\"id\":\"id-a\",\"question\":\"alpha question\"},\r\n"
        "  {\"id\":\"id-b\",\"question\":\"beta question\"}\r\n ]\r\n}\r\n",
        "{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n"
        "  {\"id\":\"id-a\",\"question\":\"alpha question\"}, {\"id\":\"id-b\",\"question\":\"beta question\"}\n ]\n}\n",
    };
    for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
        write_lock(layouts[k]);
        char *a = ids_ok();
        assert_string_equal(id_of(a, "alpha question"), "id-a");
        assert_string_equal(id_of(a, "beta question"), "id-b");
        free(a);
        /* rewritten in the one layout, whatever it was */
        char *text = read_lock();
        const char *notes = strstr(text, "\n \"notes\": [\n");
        assert_non_null(notes);
        assert_string_equal(notes, "\n \"notes\": [\n"
                            "  {\"id\":\"id-a\",\"question\":\"alpha question\"},\n"
                            "  {\"id\":\"id-b\",\"question\":\"beta question\",\"sources\":[\"https://b.example/x\"]}\n"
                            " ]\n}\n");
        free(text);
    }
}

/* Writes the index idx and the lock file lock, assigns the ids, and checks
 * that the notes are exactly "question number I" with the ids "id-I" (five
 * digits), I from 0 to n - 1, in index order. */
static void assert_numbered_ids(const char *idx, const char *lock, int n)
{
    write_index(idx);
    write_lock(lock);
    char *a = ids_ok();
    const char *line = a;
    for (int i = 0; i < n; i++) {
        char want[64];
        int len = snprintf(want, sizeof want, "question number %d=id-%05d\n", i, i);
        assert_memory_equal(line, want, (size_t)len);
        line += len;
    }
    assert_string_equal(line, "");
    free(a);
}

/* Many records: the file is read a block (1 MiB) at a time, lines crossing
 * the blocks' ends, and the lines of each block on every core; each record
 * keeps its id. */
static void test_lock_many_records(void **state)
{
    struct buf idx = BUF_INIT, lock = BUF_INIT;
    buf_adds(&lock, "{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n");
    enum { N = 60000 }; /* ~3.3 MB */
    for (int i = 0; i < N; i++) {
        buf_addf(&idx, "- question number %d\n", i);
        buf_addf(&lock, "  {\"id\":\"id-%05d\",\"question\":\"question number %d\"}%s\n", i, i,
                 i + 1 < N ? "," : "");
    }
    buf_adds(&lock, " ]\n}\n");
    assert_true(lock.len > 3 * (1 << 20));
    assert_numbered_ids(idx.s, lock.s, N);
    /* Already one record per line, with these records: not rewritten (an
     * older layout would have been, so the lines were read apart). */
    assert_lock_kept(lock.s);
    buf_release(&idx);
    buf_release(&lock);
}

/* A record line longer than the reader's block: it is read whole. */
static void test_lock_line_longer_than_a_block(void **state)
{
    struct buf q = BUF_INIT, idx = BUF_INIT, lock = BUF_INIT;
    buf_adds(&q, "long question");
    for (int i = 0; q.len < (3 << 20) / 2; i++) buf_addf(&q, " word%d", i);
    buf_addf(&idx, "- alpha question\n- %s\n- omega question\n", q.s);
    buf_addf(&lock, "{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n"
                    "  {\"id\":\"id-a\",\"question\":\"alpha question\"},\n"
                    "  {\"id\":\"id-long\",\"question\":\"%s\"},\n"
                    "  {\"id\":\"id-z\",\"question\":\"omega question\"}\n ]\n}\n", q.s);
    write_index(idx.s);
    write_lock(lock.s);
    char *a = ids_ok();
    assert_string_equal(id_of(a, "alpha question"), "id-a");
    assert_string_equal(id_of(a, "omega question"), "id-z");
    free(a);
    assert_lock_kept(lock.s);
    buf_release(&q);
    buf_release(&idx);
    buf_release(&lock);
}

/* A large lock in another layout (one line, no `"notes": [` line): the
 * block reader looks for the header through every block, gives up, and
 * the file is read whole and rewritten one record per line. */
static void test_lock_other_layout_large(void **state)
{
    struct buf idx = BUF_INIT, lock = BUF_INIT;
    buf_adds(&lock, "{\"version\": 1, \"notes\": [");
    enum { N = 40000 }; /* ~2.7 MB on one line */
    for (int i = 0; i < N; i++) {
        buf_addf(&idx, "- question number %d\n", i);
        buf_addf(&lock, "%s{\"id\":\"id-%05d\",\"question\":\"question number %d\"}",
                 i ? ", " : "", i, i);
    }
    buf_adds(&lock, "]}");
    assert_true(lock.len > 2 * (1 << 20));
    assert_numbered_ids(idx.s, lock.s, N);
    char *text = read_lock();
    assert_non_null(strstr(text, "\n \"notes\": [\n  {\"id\":\"id-00000\","));
    free(text);
    buf_release(&idx);
    buf_release(&lock);
}

/* A damaged line is reported at its line, by the whole-file reader. */
static void test_lock_bad_line(void **state)
{
    write_index("- alpha question\n");
    write_lock("{\n \"comment\": \"c\",\n \"version\": 1,\n \"notes\": [\n"
               "  {\"id\":\"id-a\",\"question\":\"alpha question\"},\n"
               "  {\"id\":\"id-b\",\"question\":\"beta question},\n"
               "  {\"id\":\"id-c\",\"question\":\"gamma question\"}\n ]\n}\n");
    struct deck d;
    struct diags dg;
    deck_init(&d, dir);
    diags_init(&dg);
    assert_int_equal(index_parse(&d, &dg), 0);
    assert_int_equal(identity_assign(&d, 1, &dg), -1);
    assert_int_equal(dg.nerrors, 1);
    assert_int_equal(dg.v[0].line, 6);
    assert_non_null(strstr(dg.v[0].msg, "identity file is corrupt"));
    deck_free(&d);
    diags_free(&dg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reorder_and_reword_keep_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_written_only_when_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_question_keeps_its_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_lock_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_many_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_line_longer_than_a_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_layout_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_bad_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
