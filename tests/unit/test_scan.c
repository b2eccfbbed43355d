/* test_scan.c - an answer file's sections found by the line scan (md4c
 * given only the lines that can be headings) are the sections md4c finds
 * in the whole file: compared on generated files made of the lines that
 * matter to the scan's rules (fences, tables, HTML, setext underlines,
 * indented '#', lists, quotes, reference definitions, CR line endings),
 * and on a few written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* answers_scan() is internal to the answers stage */
#include "../../src/answers-int.h"

struct result {
    struct file f;
    int lined;
};

static void scan(struct result *r, const char *text, size_t len, size_t boff, int fast)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->f.src);
    buf_add(&r->f.src, text, len);
    r->lined = answers_scan(&r->f, 7, boff, fast);
}

static void drop(struct result *r)
{
    for (size_t i = 0; i < r->f.nls; i++) {
        free(r->f.ls[i].title);
        free(r->f.ls[i].slug);
    }
    free(r->f.ls);
    buf_release(&r->f.src);
}

/* 1 when both found the same sections; prints the file otherwise. */
static int same(const struct result *a, const struct result *b, const char *text)
{
    int ok = a->f.nls == b->f.nls;
    for (size_t i = 0; ok && i < a->f.nls; i++) {
        const struct section *x = &a->f.ls[i], *y = &b->f.ls[i];
        ok = x->file == y->file && x->level == y->level && !strcmp(x->title, y->title) &&
             !strcmp(x->slug, y->slug) && x->line == y->line && x->body == y->body &&
             x->body_end == y->body_end && x->body_line == y->body_line;
    }
    if (!ok) {
        fprintf(stderr, "sections differ (md4c: %zu, lines: %zu) for:\n---\n%s\n---\n",
                a->f.nls, b->f.nls, text);
        for (size_t i = 0; i < a->f.nls; i++)
            fprintf(stderr, "  md4c  %d '%s' line %d body %zu..%zu\n", a->f.ls[i].level,
                    a->f.ls[i].title, a->f.ls[i].line, a->f.ls[i].body, a->f.ls[i].body_end);
        for (size_t i = 0; i < b->f.nls; i++)
            fprintf(stderr, "  lines %d '%s' line %d body %zu..%zu\n", b->f.ls[i].level,
                    b->f.ls[i].title, b->f.ls[i].line, b->f.ls[i].body, b->f.ls[i].body_end);
    }
    return ok;
}

/* Lines that are plain for the scan, and lines that make it careful. */
static const char *const plain[] = {
    "# Title one", "## Title two", "### Three", "#", "##", "## ", "#nospace",
    "##\ttab title", "## closing ##", "## *emph* and `code`", "## [link](u)", "## [ref]",
    "## [unclosed", "## $x^2$ math", "## a | b", "## &amp; entity", "## www.example.com",
    "## \\# escaped", "####### seven", "    # four spaces", "\t# tab", "## 什么是注意力？",
    "## Émigré café", "#\t", "## trailing   ", "# Title with ]: colon", "text line",
    "another line with `code` and $a$", "", "", "", "   ", "\t", "- item", "- # item heading",
    "  - nested", "1. first", "1.  wide item", "> quote", "> # quoted heading", ">",
    "```", "```python", "~~~", "    indented code", "$$", "\\", "<http://x>",
    "![img](a.png)", "- ```", "> ```", "    ```", "x[1]: y", "a | b", "# comment in code?",
    "print(x)  # comment", "****", "+ plus item", "10. ten", "\t```", "    ~~~",
    "\t<div>", " \t# tab after a space", "```\t", "~~~~~~", "* star", "1) x", "> > nested",
    "> | a |", "- a | b", "``", "~~", "## a\\", "# #", "#  x  #  ", "## `open",
    "## <b>x</b>", "## <", "- \t# y", "[x]", "## [r][]", "![x][r]", "\t \t", "      ", "*",
};
static const char *const careful[] = {
    " # one space", "   ## three spaces", "  ```", "   ```", "````", "~~~ info",
    "``` `bad`", "<div>", "</div>", "<!-- c -->", "<pre>", "  <p>", "- <div>", "| a | b |",
    "|---|---|", "--|--", ":--", "| - |", "---", "===", "- - -", "***", "___", "-", "=",
    "[ref]: /url", "[ref]:", "Title\r", "lone\rcr", "x\r## after a CR", "     ```",
    "    <div>", "  \t```", " ~~~", "   [ref]: /u", "[r]: <u>", "  --|--", "- # `x`\n---",
    "+ ```", ">```", "-\t```", "2. ```", "1.\t```", "> <div>", "> --|--", "> ---", "- ===",
    "- ", "=\x17==", "---\f|", "a\vb", "\f# x", "\t+\t```", "\t> <div>", " \t- ---",
};

static uint64_t rng;
static unsigned pick(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng >> 33) % n);
}

static void make_file(struct buf *b, size_t *boff)
{
    buf_reset(b);
    *boff = 0;
    if (pick(8) == 0) {
        buf_adds(b, "---\nsource: https://example.com/x\n---\n");
        *boff = b->len;
    }
    unsigned lines = 1 + pick(24), rare = (unsigned[]){0, 0, 3, 12}[pick(4)];
    int crlf = pick(6) == 0;
    for (unsigned k = 0; k < lines; k++) {
        const char *l = rare && pick(100) < rare
                            ? careful[pick(sizeof careful / sizeof *careful)]
                            : plain[pick(sizeof plain / sizeof *plain)];
        buf_adds(b, l);
        if (k + 1 < lines || pick(3)) buf_adds(b, crlf ? "\r\n" : "\n");
    }
}

static void test_generated_files_agree(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    size_t lined = 0, whole = 0, with_sections = 0;
    rng = 20261129;
    for (int n = 0; n < 40000; n++) {
        size_t boff;
        make_file(&b, &boff);
        struct result a, l;
        scan(&a, b.s, b.len, boff, 0);
        scan(&l, b.s, b.len, boff, 1);
        assert_int_equal(a.lined, 0);
        if (!same(&a, &l, b.s)) fail();
        if (l.lined) lined++;
        else whole++;
        with_sections += a.f.nls > 0;
        drop(&a);
        drop(&l);
    }
    buf_release(&b);
    /* both ways taken often, most files have sections: the comparison means something */
    assert_true(lined > 10000);
    assert_true(whole > 5000);
    assert_true(with_sections > 20000);
}

/* What the bench's and most users' answer files look like: the line scan
 * takes them, '#' comments in fenced code and a rule between answers
 * included. */
static void test_plain_file_takes_line_scan(void **state)
{
    (void)state;
    const char *text = "# Answers 1-2\n\n## What is attention?\n\nIt **weighs** tokens, "
                       "$\\alpha_i$.\n\n- a list\n- `code`\n\n```python\n# not a heading\n"
                       "x = 1\n```\n\n![f](../images/a.png)\n\n---\n\n## Why `softmax`?\r\n\r\n"
                       "Because.\n";
    struct result a, l;
    scan(&a, text, strlen(text), 0, 0);
    scan(&l, text, strlen(text), 0, 1);
    assert_int_equal(l.lined, 1);
    assert_true(same(&a, &l, text));
    assert_int_equal(l.f.nls, 3);
    assert_string_equal(l.f.ls[1].title, "What is attention?");
    assert_int_equal(l.f.ls[1].line, 3);
    assert_string_equal(l.f.ls[2].title, "Why softmax?");
    assert_string_equal(l.f.ls[2].slug, "why-softmax");
    assert_int_equal(l.f.ls[2].line, 19);
    assert_int_equal(l.f.ls[2].body_line, 20);
    drop(&a);
    drop(&l);
}

/* md4c 0.4.8 makes a '#' line after a table's delimiter row a table row:
 * the line scan must leave such a file to md4c. */
static void test_table_takes_whole_parse(void **state)
{
    (void)state;
    const char *cases[] = {
        "## A\n\n| a | b |\n|---|---|\n## not a heading\n\n## B\nx\n",
        "## A\ntext\n<div>\n\n## B\n</div>\n",
        "## A\nfoo\n---\n## B\n",
        "## A\n[r]: /u\n## [r]\n",
        "## A\n  ```\n# in code\n  ```\n",
        "## A\na | b\n---\f|---\n## a row for md4c\n", /* form feeds are blanks to md4c */
        "## A\nx\r## after a lone CR\n",
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        struct result a, l;
        scan(&a, cases[k], strlen(cases[k]), 0, 0);
        scan(&l, cases[k], strlen(cases[k]), 0, 1);
        assert_int_equal(l.lined, 0);
        assert_true(same(&a, &l, cases[k]));
        drop(&a);
        drop(&l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_files_agree),
        cmocka_unit_test(test_plain_file_takes_line_scan),
        cmocka_unit_test(test_table_takes_whole_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
