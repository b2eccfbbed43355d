/* test_warm.c - a watcher's build from its cache (only changed answers
 * rendered again, the outputs updated in place) gives what a full build
 * gives: the same package rows and media, the same CSV and Quizlet bytes,
 * the same messages and counts.  Every case is built twice from the same
 * previous outputs: once with the cache, once without, and compared; and
 * the cases that cannot be done in place must fall back to a full build. */
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

#include "mdeck/apkg.h"
#include "mdeck/build.h"
#include "mdeck/util.h"
#include "scratch.h"

#define NQ 300

static char *path_in(const char *rel)
{
    return xasprintf("%s/%s", scratch_dir, rel);
}

/* Written as editors save: a temporary renamed over the file. */
static void put(const char *rel, const char *text) { scratch_put(rel, text, 1); }

/* The answers of questions [from, to) as ## sections; body k of question i
 * carries version v (edits bump it). */
static void answers_file(const char *rel, int from, int to, const int *version)
{
    struct buf b = BUF_INIT;
    for (int i = from; i < to; i++) {
        buf_addf(&b, "## Question number %03d?\n\n", i);
        buf_addf(&b, "Answer %03d, version %d: attention, *softmax* and `kv` cache.\n", i,
                 version[i]);
        for (int k = 0; k < version[i] % 3; k++) buf_adds(&b, "\nAnother paragraph added.\n");
        if (i == 7) buf_adds(&b, "\n![diagram](../img/d.png)\n");
        if (i == 7 && version[i]) buf_adds(&b, "\n![another](../img/e.png)\n");
        buf_adds(&b, "\n- a list item\n- another one\n\n");
    }
    put(rel, b.s);
    buf_release(&b);
}

static int version[NQ];

/* a.md written again with question 201's heading renamed: an answer that
 * matches no question. */
static void rename_201(void)
{
    answers_file("deck/answers/a.md", 200, NQ, version);
    struct buf b = BUF_INIT;
    char *p = path_in("deck/answers/a.md");
    assert_int_equal(read_file(p, &b), 0);
    free(p);
    buf_addc(&b, '\0');
    char *h = strstr(b.s, "## Question number 201?");
    assert_non_null(h);
    memcpy(h, "## Question number 999?", 23);
    put("deck/answers/a.md", b.s);
    buf_release(&b);
}

static void make_deck(void)
{
    struct buf idx = BUF_INIT;
    buf_adds(&idx, "# Warm deck\n\n");
    for (int i = 0; i < NQ; i++) buf_addf(&idx, "- Question number %03d?\n", i);
    put("deck/index.md", idx.s);
    buf_release(&idx);
    put("deck/img/d.png", "not really a png, but a file");
    put("deck/img/e.png", "another file");
    answers_file("deck/answers/c.md", 0, 100, version);
    answers_file("deck/answers/b.md", 100, 200, version);
    answers_file("deck/answers/a.md", 200, NQ, version);
}

struct result {
    int rc;
    struct build_stats st;
    struct diags dg;
};

static void build(const char *out, struct build_cache *cache, struct result *r)
{
    char *dir = path_in("deck"), *outdir = path_in(out);
    struct build_opts o = {.outdir = outdir, .write_lock = 1, .cache = cache};
    diags_init(&r->dg);
    r->rc = build_deck(dir, &o, &r->st, &r->dg);
    free(dir);
    free(outdir);
}

static void copy_outputs(const char *from, const char *to)
{
    char *cmd = xasprintf("rm -rf '%s/%s' && cp -a '%s/%s' '%s/%s'", scratch_dir, to, scratch_dir,
                          from, scratch_dir, to);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void same_file(const char *a, const char *b)
{
    char *pa = path_in(a), *pb = path_in(b);
    struct buf x = BUF_INIT, y = BUF_INIT;
    assert_int_equal(read_file(pa, &x), 0);
    assert_int_equal(read_file(pb, &y), 0);
    if (x.len != y.len || memcmp(x.s, y.s, x.len)) fail_msg("%s and %s differ", a, b);
    buf_release(&x);
    buf_release(&y);
    free(pa);
    free(pb);
}

/* The packages' notes, cards and media, field by field. */
static void same_package(const char *a, const char *b)
{
    char *pa = path_in(a), *pb = path_in(b);
    struct apkg_info x, y;
    struct diags dg;
    diags_init(&dg);
    assert_int_equal(apkg_read(pa, &x, &dg), 0);
    assert_int_equal(apkg_read(pb, &y, &dg), 0);
    assert_int_equal(x.nnotes, y.nnotes);
    for (size_t i = 0; i < x.nnotes; i++) {
        const struct apkg_note *m = &x.notes[i], *n = &y.notes[i];
        assert_true(m->id == n->id && m->mid == n->mid && m->mod == n->mod);
        assert_string_equal(m->guid, n->guid);
        assert_string_equal(m->tags, n->tags);
        assert_string_equal(m->flds, n->flds);
        assert_string_equal(m->sfld, n->sfld);
        assert_int_equal(m->csum, n->csum);
    }
    assert_int_equal(x.ncards, y.ncards);
    assert_memory_equal(x.cards, y.cards, x.ncards * sizeof *x.cards);
    assert_string_equal(x.decks_json, y.decks_json);
    assert_string_equal(x.models_json, y.models_json);
    assert_string_equal(x.col_conf_json, y.col_conf_json);
    assert_int_equal(x.nmedia, y.nmedia);
    for (size_t i = 0; i < x.nmedia; i++) {
        assert_string_equal(x.media_names[i], y.media_names[i]);
        assert_int_equal(x.media_sizes[i], y.media_sizes[i]);
    }
    apkg_info_free(&x);
    apkg_info_free(&y);
    diags_free(&dg);
    free(pa);
    free(pb);
}

static void same_result(const struct result *w, const struct result *c)
{
    assert_int_equal(w->rc, c->rc);
    assert_int_equal(w->dg.n, c->dg.n);
    for (size_t i = 0; i < w->dg.n; i++) {
        assert_int_equal(w->dg.v[i].sev, c->dg.v[i].sev);
        assert_int_equal(w->dg.v[i].line, c->dg.v[i].line);
        assert_string_equal(w->dg.v[i].msg, c->dg.v[i].msg);
    }
    assert_int_equal(w->st.notes, c->st.notes);
    assert_int_equal(w->st.added, c->st.added);
    assert_int_equal(w->st.changed, c->st.changed);
    assert_int_equal(w->st.removed, c->st.removed);
    assert_int_equal(w->st.unanswered, c->st.unanswered);
    assert_int_equal(w->st.media, c->st.media);
    /* The package's bytes differ (rows updated in place against a new
     * collection): only the text outputs' writes can be compared. */
    assert_int_equal(w->st.written & ~FMT_APKG, c->st.written & ~FMT_APKG);
    assert_int_equal(w->st.produced, c->st.produced);
}

/* The answer files the last step's warm build rendered again. */
static size_t last_refreshed;

/* One step: "warm" holds the cached build's outputs; "cold" gets a copy
 * first, then the same sources are built both ways at the same clock. */
static void step(struct build_cache *cache, long now, int incremental)
{
    copy_outputs("warm", "cold");
    scratch_set_now(now);
    struct result w, c;
    build("warm", cache, &w);
    build("cold", NULL, &c);
    assert_int_equal(w.st.incremental, incremental);
    assert_int_equal(c.st.incremental, 0);
    last_refreshed = w.st.refreshed;
    same_result(&w, &c);
    same_package("warm/deck.apkg", "cold/deck.apkg");
    same_file("warm/deck.csv", "cold/deck.csv");
    same_file("warm/deck.quizlet.txt", "cold/deck.quizlet.txt");
    diags_free(&w.dg);
    diags_free(&c.dg);
}

/* A fresh deck and its first (full) build into "warm" through a new cache
 * (growth: build_cache_set_growth(), 0 for the default). */
static struct build_cache *first_build(size_t growth)
{
    memset(version, 0, sizeof version);
    make_deck();
    /* A file changed less than a second before a build is read again by
     * the next one whatever its times say (build.c, struct sig): the index
     * and images must be older than that for builds to be incremental. */
    usleep(1100000);
    struct build_cache *cache = build_cache_new();
    if (growth) build_cache_set_growth(cache, growth);
    setenv("MDECK_NOW", "1800000000", 1);
    struct result first;
    build("warm", cache, &first);
    assert_int_equal(first.rc, 0);
    assert_int_equal(first.st.incremental, 0);
    diags_free(&first.dg);
    return cache;
}

/* Question k (100..199, answered in b.md) edited: b.md saved again. */
static void edit_b(int k)
{
    version[k]++;
    answers_file("deck/answers/b.md", 100, 200, version);
}

static void test_warm_builds_equal_full_builds(void **state)
{
    struct build_cache *cache = first_build(0);

    /* one answer edited; then several in two files, the first and last of
     * each, one growing by two paragraphs */
    edit_b(150);
    step(cache, 1800000100, 1);
    version[100]++;
    version[199] += 2;
    version[200]++;
    version[299]++;
    answers_file("deck/answers/b.md", 100, 200, version);
    answers_file("deck/answers/a.md", 200, NQ, version);
    step(cache, 1800000200, 1);
    /* saved without a change */
    answers_file("deck/answers/a.md", 200, NQ, version);
    step(cache, 1800000300, 1);
    /* nothing touched at all */
    step(cache, 1800000400, 1);
    /* beside an answer showing an image: in place (the same images); the
     * image answer showing one more image: a full build (the deck's media
     * list changes); the next edit is in place again */
    version[8]++;
    answers_file("deck/answers/c.md", 0, 100, version);
    step(cache, 1800000450, 1);
    version[7]++;
    answers_file("deck/answers/c.md", 0, 100, version);
    step(cache, 1800000500, 0);
    edit_b(120);
    step(cache, 1800000600, 1);
    /* a heading renamed: the matching may change, a full build */
    rename_201();
    step(cache, 1800000700, 0);
    /* a new answer file: a full build */
    put("deck/answers/d.md", "## Question number 201?\n\nBack again.\n");
    step(cache, 1800000800, 0);
    /* a.md now holds an answer matching no question.  Read again unchanged
     * (the kept build read it less than a second after it changed: struct
     * sig in build.c): in place.  Edited below that answer: in place, the
     * message names the same line.  Edited above it: a full build. */
    step(cache, 1800000850, 1);
    version[299]++;
    rename_201();
    step(cache, 1800000870, 1);
    version[200] += 2;
    rename_201();
    step(cache, 1800000900, 0);
    /* the index edited (the deck renamed): a full build.  It read the
     * index less than a second after the edit, so the index's times cannot
     * be trusted yet; its bytes are the same, though: an answer edited
     * right after is in place */
    struct buf idx = BUF_INIT;
    buf_adds(&idx, "# Warm deck, renamed\n\n");
    for (int i = 0; i < NQ; i++) buf_addf(&idx, "- Question number %03d?\n", i);
    put("deck/index.md", idx.s);
    buf_release(&idx);
    step(cache, 1800000950, 0);
    edit_b(150);
    step(cache, 1800000960, 1);
    /* the same for an image: its new bytes are a full build; an answer
     * edited right after it is in place */
    put("deck/img/d.png", "not really a png, but a file, edited");
    step(cache, 1800000970, 0);
    edit_b(151);
    step(cache, 1800000980, 1);
    /* the index edited again: a full build */
    put("deck/index.md", "# Warm deck\n\n- Question number 001?\n- Question number 002?\n");
    step(cache, 1800001000, 0);
    build_cache_free(cache);
    unsetenv("MDECK_NOW");
}

/* Where $TMPDIR takes no file, the package's collection cannot be kept:
 * every build is a full one, with the same results. */
static void test_no_tmpdir_means_full_builds(void **state)
{
    const char *old = getenv("TMPDIR");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", "/nonexistent-mdeck-tmpdir", 1);
    struct build_cache *cache = first_build(0);
    edit_b(150);
    struct result w;
    build("warm", cache, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.st.incremental, 0);
    diags_free(&w.dg);
    build_cache_free(cache);
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(saved);
    /* what it made is what a full build makes */
    copy_outputs("warm", "cold");
    struct result c;
    build("cold", NULL, &c);
    assert_int_equal(c.rc, 0);
    diags_free(&c.dg);
    same_package("warm/deck.apkg", "cold/deck.apkg");
    same_file("warm/deck.csv", "cold/deck.csv");
    unsetenv("MDECK_NOW");
}

/* Incremental builds keep the texts they replace in the kept deck: past its
 * allowance the next build is a full one, which starts the deck afresh. */
static void test_growth_is_bounded(void **state)
{
    struct build_cache *cache = first_build(1); /* any re-rendered answer goes over it */
    /* a file saved again without a change renders as it did: its answers
     * keep their texts and the deck does not grow, so the next save is in
     * place too */
    answers_file("deck/answers/b.md", 100, 200, version);
    step(cache, 1800000010, 1);
    answers_file("deck/answers/b.md", 100, 200, version);
    step(cache, 1800000020, 1);
    /* nothing re-rendered yet: in place; one answer re-rendered: in place
     * (the deck grew past its allowance only now); the next edit finds it
     * over: a full build, whose outputs are a full build's */
    step(cache, 1800000100, 1);
    edit_b(150);
    step(cache, 1800000200, 1);
    edit_b(151);
    step(cache, 1800000300, 0);
    /* that full build set its allowance (1 byte again): one more edit in
     * place, the next a full build, which takes the new, large allowance;
     * from then on edits stay in place */
    build_cache_set_growth(cache, (size_t)64 << 20);
    edit_b(152);
    step(cache, 1800000400, 1);
    edit_b(153);
    step(cache, 1800000500, 0);
    for (int k = 0; k < 3; k++) {
        edit_b(154 + k);
        step(cache, 1800000600 + 100 * k, 1);
    }
    build_cache_free(cache);
    unsetenv("MDECK_NOW");
}

/* An answer file the kept build read less than a second after it changed
 * cannot be trusted by its times: the next build reads it, and renders its
 * answers again only when its bytes changed (as for the index and images:
 * still_same() in build.c). */
static void test_racy_answer_files_are_checked_by_their_bytes(void **state)
{
    struct build_cache *cache = first_build(0);
    /* b.md saved: rendered again, read less than a second after its save */
    edit_b(150);
    step(cache, 1800000100, 1);
    assert_int_equal(last_refreshed, 1);
    /* nothing changed since: its bytes are read and found the same */
    step(cache, 1800000200, 1);
    assert_int_equal(last_refreshed, 0);
    /* and once its times can be trusted, not even read (no way to see
     * that here but the result) */
    usleep(1100000);
    step(cache, 1800000300, 1);
    assert_int_equal(last_refreshed, 0);
    edit_b(151);
    step(cache, 1800000400, 1);
    assert_int_equal(last_refreshed, 1);
    build_cache_free(cache);
    unsetenv("MDECK_NOW");
}

/* The same with the deck large (MDECK_SPILL_MIN: from 0 bytes): the kept
 * build's answers are in a spill file, and the warm builds compare with
 * and keep texts read from it. */
static void test_warm_builds_of_a_large_deck(void **state)
{
    setenv("MDECK_SPILL_MIN", "0", 1);
    memset(version, 0, sizeof version);
    test_warm_builds_equal_full_builds(state);
    unsetenv("MDECK_SPILL_MIN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_warm_builds_equal_full_builds, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_warm_builds_of_a_large_deck, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_no_tmpdir_means_full_builds, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_racy_answer_files_are_checked_by_their_bytes,
                                        scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_growth_is_bounded, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
