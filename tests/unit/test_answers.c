/* test_answers.c - the answer-matching rules of docs/format.md, on real deck
 * folders: link (file and section), heading, source URL in front matter,
 * indented under the item; priorities, double matches, orphans, cloze,
 * and paths that try to leave the deck. */
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

#include "mdeck/answers.h"
#include "mdeck/build.h"
#include "mdeck/index.h"
#include "mdeck/deck.h"
#include "scratch.h"
#include "mdeck/diag.h"

#define dir scratch_dir

static void put(const char *rel, const char *text) { scratch_put(rel, text, 0); }

struct loaded {
    struct deck d;
    struct diags dg;
    int rc;
};

static void load(struct loaded *l)
{
    diags_init(&l->dg);
    struct build_opts o = {.dry_run = 1};
    l->rc = deck_load(&l->d, dir, &o, &l->dg);
}

static void unload(struct loaded *l)
{
    deck_free(&l->d);
    diags_free(&l->dg);
}

static const struct note *note(struct loaded *l, const char *q)
{
    for (size_t i = 0; i < l->d.nnotes; i++)
        if (!strcmp(l->d.notes[i].question, q)) return &l->d.notes[i];
    fail_msg("no note '%s'", q);
    return NULL;
}

/* The first diagnostic whose message contains s, or NULL. */
static const struct diag *diag_with(struct loaded *l, const char *s)
{
    for (size_t i = 0; i < l->dg.n; i++)
        if (strstr(l->dg.v[i].msg, s)) return &l->dg.v[i];
    return NULL;
}

#define setup scratch_setup
#define teardown scratch_teardown

static void test_heading_match_ignores_width_case_and_spaces(void **state)
{
    put("index.md", "- [Attention为什么要除以根号d？](https://a.com/1)\n- Why LayerNorm?\n");
    put("answers/a.md", "# Notes\n\n## attention 为什么要除以根号 D?\n\nBecause of *variance*.\n\n## why layernorm\n\nIt normalises each token.\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, 0);
    const struct note *n = note(&l, "Attention为什么要除以根号d？");
    assert_string_equal(n->answer.how, "heading");
    assert_string_equal(n->answer.path, "answers/a.md");
    assert_int_equal(n->answer.line, 3);
    assert_non_null(strstr(n->answer.html, "<em>variance</em>"));
    assert_string_equal(note(&l, "Why LayerNorm?")->answer.text, "It normalises each token.");
    assert_null(diag_with(&l, "matches no question")); /* the # title is a title */
    unload(&l);
}

static void test_consecutive_headings_share_a_body(void **state)
{
    put("index.md", "- Why no Q cache?\n- Why is there a KV cache but no Q cache?\n- Other\n");
    put("a.md", "## Why no Q cache?\n## Why is there a KV cache but no Q cache?\n\nQ is used once.\n\n## Other\n\nx\n");
    struct loaded l;
    load(&l);
    assert_string_equal(note(&l, "Why no Q cache?")->answer.text, "Q is used once.");
    assert_string_equal(note(&l, "Why is there a KV cache but no Q cache?")->answer.text, "Q is used once.");
    unload(&l);
}

static void test_links_to_files_and_sections(void **state)
{
    put("index.md", "- [Whole](answers/whole.md)\n- [Section](answers/many.md#second-part)\n"
                    "- [By text](answers/many.md#First%20part)\n- [Encoded](answers/with%20space.md)\n");
    put("answers/whole.md", "---\ntitle: x\n---\nThe whole file.\n");
    put("answers/many.md", "## First part\n\none\n\n## Second part\n\ntwo\n");
    put("answers/with space.md", "spaced\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(note(&l, "Whole")->answer.text, "The whole file.");
    assert_string_equal(note(&l, "Whole")->answer.how, "link");
    assert_string_equal(note(&l, "Section")->answer.text, "two");
    assert_string_equal(note(&l, "By text")->answer.text, "one");
    assert_string_equal(note(&l, "Encoded")->answer.text, "spaced");
    unload(&l);
}

static void test_broken_links_are_errors_naming_the_index_line(void **state)
{
    put("index.md", "- ok\n- [Missing](answers/nope.md)\n- [No such part](a.md#nowhere)\n");
    put("a.md", "## Somewhere\n\nx\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, -1);
    const struct diag *g = diag_with(&l, "not found");
    assert_non_null(g);
    assert_int_equal(g->line, 2);
    assert_non_null(strstr(g->path, "index.md"));
    g = diag_with(&l, "no heading 'nowhere'");
    assert_non_null(g);
    assert_int_equal(g->line, 3);
    unload(&l);
}

static void test_paths_that_leave_the_deck_are_refused(void **state)
{
    char *outside = xasprintf("%s-outside.md", dir);
    FILE *f = fopen(outside, "w");
    fputs("secret\n", f);
    fclose(f);
    put("index.md", "- [Up](../x.md)\n- [Abs](/etc/passwd)\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, -1);
    assert_int_equal(l.dg.nerrors, 2);
    assert_non_null(diag_with(&l, "'../x.md' leaves the deck folder"));
    assert_non_null(diag_with(&l, "'/etc/passwd' leaves the deck folder"));
    unload(&l);
    /* a symlinked answer file pointing outside is refused, not read */
    put("index.md", "- secret question\n");
    char *link = xasprintf("%s/evil.md", dir);
    assert_int_equal(symlink(outside, link), 0);
    load(&l);
    assert_int_equal(l.rc, -1);
    assert_non_null(diag_with(&l, "symbolic link leaves the deck folder"));
    assert_null(note(&l, "secret question")->answer.html);
    unload(&l);
    unlink(outside);
    free(outside);
    free(link);
}

static void test_front_matter_source_url(void **state)
{
    put("index.md", "- [Saved article](https://example.com/post)\n");
    put("saved.md", "---\nsource: https://example.com/post\n---\nFrom the article.\n");
    struct loaded l;
    load(&l);
    const struct note *n = note(&l, "Saved article");
    assert_string_equal(n->answer.how, "source-url");
    assert_string_equal(n->answer.text, "From the article.");
    unload(&l);
}

static void test_inline_answer_under_the_item(void **state)
{
    put("index.md", "- What is KV cache?\n\n  Keys and values of past tokens.\n\n  ```\n  cache\n  ```\n- Next\n");
    struct loaded l;
    load(&l);
    const struct note *n = note(&l, "What is KV cache?");
    assert_string_equal(n->answer.how, "inline");
    assert_int_equal(n->answer.line, 3);
    assert_non_null(strstr(n->answer.html, "<pre><code>cache\n</code></pre>"));
    assert_null(note(&l, "Next")->answer.html);
    unload(&l);
}

static void test_priority_and_double_matches_are_reported(void **state)
{
    put("index.md", "- [Q](b.md)\n\n  inline text\n");
    put("a.md", "## Q\n\nfrom a\n");
    put("b.md", "from the link\n");
    put("c.md", "## Q\n\nfrom c\n");
    struct loaded l;
    load(&l);
    const struct note *n = note(&l, "Q");
    assert_string_equal(n->answer.how, "link");
    assert_string_equal(n->answer.text, "from the link");
    const struct diag *g = diag_with(&l, "question has 4 answers");
    assert_non_null(g);
    assert_int_equal(g->sev, SEV_WARNING);
    assert_int_equal(g->line, 1);
    assert_non_null(strstr(g->msg, "a.md:1"));
    assert_non_null(strstr(g->msg, "c.md:1"));
    unload(&l);
}

static void test_orphans_and_unanswered(void **state)
{
    put("index.md", "- answered\n- unanswered\n");
    put("a.md", "## answered\n\nyes\n\n## a question nobody asked\n\norphan\n");
    put("loose.md", "no heading, no link, no source\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, 0);
    const struct diag *g = diag_with(&l, "'a question nobody asked' matches no question");
    assert_non_null(g);
    assert_int_equal(g->line, 5);
    assert_non_null(strstr(g->path, "a.md"));
    g = diag_with(&l, "answer file matches no question");
    assert_non_null(g);
    assert_non_null(strstr(g->path, "loose.md"));
    g = diag_with(&l, "no answer yet: 'unanswered'");
    assert_non_null(g);
    assert_int_equal(g->sev, SEV_NOTE);
    assert_int_equal(g->line, 2);
    unload(&l);
}

static void test_blanks_with_a_list_of_fills_make_a_cloze(void **state)
{
    put("index.md", "- 填空题：ZeRO 通过________、________和________减少显存。\n- Fill ____ and ____ here\n"
                    "- 全角：＿＿与＿＿＿\n");
    put("a.md", "## 填空题：ZeRO 通过________、________和________减少显存。\n\n1. 优化器状态分片\n2. 梯度分片\n3. 参数分片\n\n三个阶段。\n\n"
                "## Fill ____ and ____ here\n\n- only one\n\nx\n\n"
                "## 全角：＿＿与＿＿＿\n\n1. 甲\n2. 乙\n");
    struct loaded l;
    load(&l);
    const struct note *n = note(&l, "填空题：ZeRO 通过________、________和________减少显存。");
    assert_true(n->cloze);
    assert_string_equal(n->cloze_html, "填空题：ZeRO 通过{{c1::优化器状态分片}}、{{c2::梯度分片}}和{{c3::参数分片}}减少显存。");
    assert_string_equal(n->answer.html, "<p>三个阶段。</p>\n");
    const struct note *m = note(&l, "Fill ____ and ____ here");
    assert_false(m->cloze);
    assert_non_null(diag_with(&l, "2 blanks but its answer starts with a list of 1 items"));
    const struct note *w = note(&l, "全角：＿＿与＿＿＿"); /* full-width blanks (U+FF3F) */
    assert_true(w->cloze);
    assert_string_equal(w->cloze_html, "全角：{{c1::甲}}与{{c2::乙}}");
    unload(&l);
}

static void test_cloze_markup_in_question(void **state)
{
    put("index.md", "- The capital of France is {{c1::Paris}}\n");
    struct loaded l;
    load(&l);
    const struct note *n = note(&l, "The capital of France is {{c1::Paris}}");
    assert_true(n->cloze);
    assert_string_equal(n->cloze_html, "The capital of France is {{c1::Paris}}");
    unload(&l);
}

static void test_answers_are_sanitized(void **state)
{
    put("index.md", "- Q\n");
    put("a.md", "## Q\n\n<script>alert(1)</script><b onclick=\"x()\">bold</b> \n\nsee [x](javascript:alert%281%29)\n");
    struct loaded l;
    load(&l);
    const char *h = note(&l, "Q")->answer.html;
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, "alert(1)"));
    assert_null(strstr(h, "onclick"));
    assert_null(strstr(h, "href=\"javascript"));
    assert_non_null(strstr(h, ">x</a>")); /* the link text stays, the URL goes */
    assert_non_null(strstr(h, "<b>bold</b>"));
    unload(&l);
}

static void test_invalid_answer_file_is_an_error(void **state)
{
    put("index.md", "- Q\n");
    put("a.md", "## Q\n\nbad \xff byte\n");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, -1);
    const struct diag *g = diag_with(&l, "UTF-8");
    assert_non_null(g);
    assert_int_equal(g->line, 3);
    assert_int_equal(g->col, 5);
    unload(&l);
}

static void test_html_answer_file_by_link(void **state)
{
    put("index.md", "- [Saved](saved.html)\n");
    put("saved.html", "<html><head><title>t</title><script>x()</script></head><body><nav>menu</nav>"
                      "<article><h1>Title</h1><p>The <b>real</b> answer.</p></article><footer>f</footer></body></html>");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, 0);
    const struct note *n = note(&l, "Saved");
    assert_non_null(strstr(n->answer.html, "<b>real</b>"));
    assert_null(strstr(n->answer.html, "menu"));
    assert_null(strstr(n->answer.html, "script"));
    assert_non_null(strstr(n->answer.text, "The real answer."));
    unload(&l);
}

/* Answers are rendered file by file (and each file's text freed after its
 * last note), but media and messages come out in index order, as one loop
 * over the notes would give.  300 questions, answered from three files
 * sorted in the reverse of the index's order, so that the render order
 * differs from the index order on every core. */
static void test_render_order_is_not_seen(void **state)
{
    struct buf idx = BUF_INIT, f[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
    for (int i = 0; i < 300; i++) {
        buf_addf(&idx, "- question %03d\n", i);
        struct buf *b = &f[i / 100];
        buf_addf(b, "## question %03d\n\nbody of %03d", i, i);
        if (i == 250) buf_adds(b, " ![](../img/one.png)");
        if (i == 150) buf_adds(b, " ![](../img/two.png)");
        if (i == 50) buf_adds(b, " ![](../img/three.png) ![](../img/one.png)");
        if (i == 10) buf_adds(b, " ![](../img/missing-a.png)");
        if (i == 280) buf_adds(b, " ![](../img/missing-b.png)");
        buf_adds(b, "\n\n");
    }
    put("index.md", idx.s);
    put("answers/z.md", f[0].s); /* questions 0-99: read last */
    put("answers/m.md", f[1].s);
    put("answers/a.md", f[2].s); /* questions 200-299: read first */
    put("img/one.png", "1");
    put("img/two.png", "22");
    put("img/three.png", "333");
    struct loaded l;
    load(&l);
    assert_int_equal(l.rc, 0);
    for (int i = 0; i < 300; i += 37) {
        char q[32], body[32];
        snprintf(q, sizeof q, "question %03d", i);
        snprintf(body, sizeof body, "body of %03d", i);
        assert_non_null(strstr(note(&l, q)->answer.html, body));
    }
    /* first use in index order: three, one (question 50), then two (150) */
    assert_int_equal(l.d.nmedia, 3);
    assert_non_null(strstr(l.d.media[0].path, "three.png"));
    assert_non_null(strstr(l.d.media[1].path, "one.png"));
    assert_non_null(strstr(l.d.media[2].path, "two.png"));
    const struct diag *a = diag_with(&l, "missing-a.png"), *b = diag_with(&l, "missing-b.png");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    unload(&l);
    buf_release(&idx);
    for (int k = 0; k < 3; k++) buf_release(&f[k]);
}

/* A large deck (MDECK_SPILL_MIN: from 0 bytes of answer files) drops each
 * file after its scan and reads it again for the render, and keeps the
 * rendered answers in a spill (spill.h): the same answers and messages as
 * a deck kept on the heap. */
static void test_large_deck_gives_the_same_answers(void **state)
{
    (void)state;
    struct buf idx = BUF_INIT, f[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
    for (int i = 0; i < 300; i++) {
        buf_addf(&idx, "- question %03d\n", i);
        struct buf *b = &f[i % 3];
        buf_addf(b, "## question %03d\n\nbody of *%03d* `code`\n\n- a\n- b\n\n", i, i);
        if (i == 7) buf_adds(b, "![](../img/nowhere.png)\n\n");
    }
    buf_adds(&idx, "- [an empty answer](answers/empty.md)\n"); /* read again: no bytes */
    put("index.md", idx.s);
    put("answers/a.md", f[0].s);
    put("answers/b.md", f[1].s);
    put("answers/d.md", f[2].s);
    put("answers/empty.md", "");
    struct loaded small, large, notmp;
    unsetenv("MDECK_SPILL_MIN");
    load(&small);
    setenv("MDECK_SPILL_MIN", "0", 1);
    load(&large);
    /* where $TMPDIR takes no file, a large deck keeps its answers on the heap */
    const char *was = getenv("TMPDIR");
    char *saved = was ? strdup(was) : NULL;
    setenv("TMPDIR", "/nonexistent-mdeck-tmpdir", 1);
    load(&notmp);
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(saved);
    unsetenv("MDECK_SPILL_MIN");
    assert_int_equal(notmp.rc, small.rc);
    assert_null(notmp.d.spill);
    for (size_t i = 0; i < small.d.nnotes; i++)
        assert_true(small.d.notes[i].answer.html == NULL ||
                    !strcmp(small.d.notes[i].answer.html, notmp.d.notes[i].answer.html));
    unload(&notmp);
    assert_int_equal(small.rc, large.rc);
    assert_null(small.d.spill);
    assert_non_null(large.d.spill);
    assert_int_equal(small.d.nnotes, large.d.nnotes);
    for (size_t i = 0; i < small.d.nnotes; i++) {
        const struct answer *a = &small.d.notes[i].answer, *b = &large.d.notes[i].answer;
        assert_int_equal(!a->html, !b->html);
        if (!a->html) continue;
        assert_string_equal(a->html, b->html);
        assert_string_equal(a->text, b->text);
    }
    assert_non_null(strstr(large.d.notes[42].answer.html, "<em>042</em>"));
    assert_int_equal(small.dg.n, large.dg.n);
    for (size_t i = 0; i < small.dg.n; i++)
        assert_string_equal(small.dg.v[i].msg, large.dg.v[i].msg);
    unload(&small);
    unload(&large);
    buf_release(&idx);
    for (int k = 0; k < 3; k++) buf_release(&f[k]);
}

/* Loads the answer files (a large deck's: dropped after the scan), lets
 * change() touch them, then parses the index and renders. */
static int load_then(struct loaded *l, void (*change)(void))
{
    setenv("MDECK_SPILL_MIN", "0", 1);
    struct answer_files *af = answers_load(dir);
    change();
    deck_init(&l->d, dir);
    diags_init(&l->dg);
    l->rc = index_parse(&l->d, &l->dg);
    if (l->rc == 0) l->rc = answers_attach_loaded(&l->d, af, &l->dg);
    else answers_files_free(af);
    unsetenv("MDECK_SPILL_MIN");
    return l->rc;
}

static void same_length_edit(void) { put("answers/a.md", "## q one\n\nbody 2\n"); }
static void same_text_again(void) { put("answers/a.md", "## q one\n\nbody 1\n"); }
static void file_removed(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/answers/a.md", dir);
    assert_int_equal(unlink(p), 0);
}

/* A file that changes between the scan and the render (here: the same
 * length, other bytes) fails the build with a message naming it, instead
 * of rendering sections at offsets that no longer hold them. */
static void test_answer_file_changed_between_reads(void **state)
{
    (void)state;
    put("index.md", "- q one\n- q two\n");
    put("answers/a.md", "## q one\n\nbody 1\n");
    put("answers/b.md", "## q two\n\nbody two\n");
    struct loaded l;
    assert_int_equal(load_then(&l, same_text_again), 0);
    assert_string_equal(note(&l, "q one")->answer.html, "<p>body 1</p>\n");
    unload(&l);

    assert_int_equal(load_then(&l, same_length_edit), -1);
    const struct diag *g = diag_with(&l, "changed while mdeck was reading it");
    assert_non_null(g);
    assert_int_equal(g->sev, SEV_ERROR);
    assert_non_null(strstr(g->path, "answers/a.md"));
    assert_string_equal(note(&l, "q two")->answer.html, "<p>body two</p>\n");
    unload(&l);

    put("answers/a.md", "## q one\n\nbody 1\n");
    assert_int_equal(load_then(&l, file_removed), -1);
    g = diag_with(&l, "cannot read answer file again");
    assert_non_null(g);
    assert_non_null(strstr(g->path, "answers/a.md"));
    unload(&l);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_heading_match_ignores_width_case_and_spaces),
        T(test_consecutive_headings_share_a_body),
        T(test_links_to_files_and_sections),
        T(test_broken_links_are_errors_naming_the_index_line),
        T(test_paths_that_leave_the_deck_are_refused),
        T(test_front_matter_source_url),
        T(test_inline_answer_under_the_item),
        T(test_priority_and_double_matches_are_reported),
        T(test_orphans_and_unanswered),
        T(test_blanks_with_a_list_of_fills_make_a_cloze),
        T(test_cloze_markup_in_question),
        T(test_answers_are_sanitized),
        T(test_invalid_answer_file_is_an_error),
        T(test_html_answer_file_by_link),
        T(test_render_order_is_not_seen),
        T(test_large_deck_gives_the_same_answers),
        T(test_answer_file_changed_between_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
