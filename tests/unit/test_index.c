/* test_index.c - the index parser on inputs a spec file cannot hold: byte
 * order marks, CRLF, invalid UTF-8, NUL bytes, huge files, deep nesting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/index.h"

struct parsed {
    struct deck d;
    struct diags dg;
    int rc;
};

static void parse(struct parsed *p, const char *src, size_t len)
{
    deck_init(&p->d, "deck");
    diags_init(&p->dg);
    p->rc = index_parse_text(&p->d, "index.md", src, len, &p->dg);
}

static void done(struct parsed *p)
{
    deck_free(&p->d);
    diags_free(&p->dg);
}

static void test_crlf_bom_no_final_newline(void **state)
{
    static const char src[] = "\xef\xbb\xbf# Deck\r\n\r\n- [One](https://a.com/1)\r\n- Two";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.d.name, "Deck");
    assert_int_equal(p.d.nnotes, 2);
    assert_string_equal(p.d.notes[0].question, "One");
    assert_string_equal(p.d.notes[0].sources[0], "https://a.com/1");
    assert_int_equal(p.d.notes[0].line, 3);
    assert_string_equal(p.d.notes[1].question, "Two");
    assert_int_equal(p.d.notes[1].line, 4);
    assert_int_equal(p.dg.nerrors, 0);
    done(&p);
}

static void test_invalid_utf8_names_line_and_column(void **state)
{
    static const char src[] = "# Deck\n\n- good\n- b\xff" "ad\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, -1);
    assert_int_equal(p.dg.nerrors, 1);
    assert_int_equal(p.dg.v[0].line, 4);
    assert_int_equal(p.dg.v[0].col, 4);
    assert_non_null(strstr(p.dg.v[0].msg, "UTF-8"));
    done(&p);
}

static void test_nul_byte_is_an_error(void **state)
{
    static const char src[] = "- one\n- t\0wo\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, -1);
    assert_int_equal(p.dg.v[0].line, 2);
    assert_non_null(strstr(p.dg.v[0].msg, "NUL"));
    done(&p);
}

static void test_empty_and_blank_files(void **state)
{
    struct parsed p;
    parse(&p, "", 0);
    assert_int_equal(p.rc, -1);
    assert_non_null(strstr(p.dg.v[0].msg, "empty"));
    done(&p);
    parse(&p, " \n\r\n\t\n", 6);
    assert_int_equal(p.rc, -1);
    done(&p);
}

static void test_no_list_is_an_error(void **state)
{
    static const char src[] = "# Deck\n\nJust prose.\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, -1);
    assert_non_null(strstr(p.dg.v[p.dg.n - 1].msg, "no questions"));
    done(&p);
}

static void test_unclosed_front_matter(void **state)
{
    static const char src[] = "---\nname: x\n- q\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, -1);
    assert_non_null(strstr(p.dg.v[0].msg, "never closed"));
    done(&p);
}

static void test_bad_yaml_names_its_line(void **state)
{
    static const char src[] = "---\nname: x\ntags: [a, b\n---\n- q\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, -1);
    assert_true(p.dg.v[0].line >= 3);
    done(&p);
}

/* 10 MB: 200,000 items, every 10th a duplicate; parsing must stay linear. */
static void test_ten_megabyte_index(void **state)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "# Big\n\n");
    size_t items = 0;
    while (b.len < 10 * 1024 * 1024) {
        size_t k = items % 10 == 9 ? items - 1 : items;
        buf_addf(&b, "- [问题 number %zu with some padding text to be realistic](https://example.com/q/%zu)\n", k, items);
        items++;
    }
    struct parsed p;
    parse(&p, b.s, b.len);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.d.nnotes, items - items / 10);
    assert_int_equal(p.dg.nwarnings, items / 10);
    done(&p);
    buf_release(&b);
}

/* Lists and quotes nested 10,000 deep: no crash, no recursion blow-up. */
static void test_deep_nesting(void **state)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "- top\n");
    for (int i = 1; i < 10000; i++) {
        for (int k = 0; k < i && k < 200; k++) buf_adds(&b, "  ");
        buf_adds(&b, "- x\n");
    }
    for (int i = 0; i < 10000; i++) buf_addc(&b, '>');
    buf_adds(&b, " quoted\n");
    struct parsed p;
    parse(&p, b.s, b.len);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.d.notes[0].question, "top");
    done(&p);
    buf_release(&b);
}

/* md4c 0.4.8 reads past the end of its input after an unclosed link at the
 * very end; given "- q [a](b" followed by ")" it crashed (found by fuzzing). */
static void test_text_ending_in_unclosed_link(void **state)
{
    static const char src[] = "- q [a](b)and more";
    struct parsed p;
    parse(&p, src, 9);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.d.nnotes, 1);
    assert_string_equal(p.d.notes[0].question, "q [a](b");
    assert_int_equal(p.d.notes[0].nsources, 0);
    done(&p);
}

/* Repetition is linear: every merged line is kept, at most 256 sources and
 * 256 tags per note, at most 64 bracket groups become tags per question. */
static void test_repetition_is_bounded(void **state)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < 3000; i++) buf_addf(&b, "- [same [t%d]](https://example.com/%d)\n", i, i);
    buf_adds(&b, "- other");
    for (int i = 0; i < 100; i++) buf_addf(&b, " [g%d]", i);
    buf_adds(&b, "\n");
    struct parsed p;
    parse(&p, b.s, b.len);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.d.nnotes, 2);
    assert_int_equal(p.d.notes[0].nlines, 3000);
    assert_int_equal(p.d.notes[0].lines[2999], 3000);
    assert_int_equal(p.d.notes[0].nsources, 256);
    assert_string_equal(p.d.notes[0].sources[255], "https://example.com/255");
    assert_int_equal(p.d.notes[0].ntags, 256);
    for (size_t i = 1; i < p.d.notes[0].ntags; i++) /* still sorted and unique */
        assert_true(strcmp(p.d.notes[0].tags[i - 1], p.d.notes[0].tags[i]) < 0);
    assert_int_equal(p.d.notes[1].ntags, 64);
    assert_non_null(strstr(p.d.notes[1].question, "other [g0]"));
    assert_non_null(strstr(p.d.notes[1].question, "[g35]"));
    assert_null(strstr(p.d.notes[1].question, "[g36]"));
    done(&p);
    buf_release(&b);
}

/* Items keep their own raw text (one buffer holds them all), share their
 * heading's subdeck name, and a front that needs no escaping shares the
 * question's string. */
static void test_items_text_and_subdecks(void **state)
{
    static const char src[] =
        "# Deck\n\n- first `code` & <x> [t1]\n- [empty link]()\n\n## A\n\n- a one\n"
        "- a two {#pin-2}\n\n  - nested\n\n## B\n\n- b one\n\n## A\n\n- a three\n- A One!\n- last $x$\n";
    struct parsed p;
    parse(&p, src, sizeof src - 1);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.d.nnotes, 7);
    assert_int_equal(p.dg.nwarnings, 1); /* "A One!" merged into "a one" */
    const struct note *n = p.d.notes;
    assert_string_equal(n[0].question, "first code & <x>");
    assert_string_equal(n[0].front_html, "first <code>code</code> &amp; &lt;x&gt;");
    assert_int_equal(n[0].ntags, 1);
    assert_string_equal(n[0].tags[0], "t1");
    assert_string_equal(n[0].deck, "Deck");
    assert_string_equal(n[1].question, "empty link");
    assert_ptr_equal(n[1].front_html, n[1].question);
    assert_int_equal(n[1].nsources, 0);
    assert_null(n[1].link);
    assert_string_equal(n[2].question, "a one");
    assert_int_equal(n[2].nlines, 2);
    assert_string_equal(n[2].deck, "Deck::A");
    assert_ptr_equal(n[3].deck, n[2].deck);
    assert_string_equal(n[3].question, "a two");
    assert_string_equal(n[3].pinned, "pin-2");
    assert_string_equal(n[3].inline_md, "- nested");
    assert_string_equal(n[4].deck, "Deck::B");
    assert_string_equal(n[5].question, "a three");
    assert_string_equal(n[5].deck, "Deck::A");
    assert_string_equal(n[6].question, "last $x$");
    assert_string_equal(n[6].front_html, "last \\(x\\)");
    assert_int_equal(p.d.ndecks, 3);
    done(&p);
}

static void test_single_ten_megabyte_line(void **state)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "- ");
    while (b.len < 10 * 1024 * 1024) buf_adds(&b, "long question text ");
    buf_adds(&b, "\n");
    struct parsed p;
    parse(&p, b.s, b.len);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.d.nnotes, 1);
    done(&p);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crlf_bom_no_final_newline),
        cmocka_unit_test(test_invalid_utf8_names_line_and_column),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_empty_and_blank_files),
        cmocka_unit_test(test_no_list_is_an_error),
        cmocka_unit_test(test_unclosed_front_matter),
        cmocka_unit_test(test_bad_yaml_names_its_line),
        cmocka_unit_test(test_ten_megabyte_index),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_single_ten_megabyte_line),
        cmocka_unit_test(test_text_ending_in_unclosed_link),
        cmocka_unit_test(test_repetition_is_bounded),
        cmocka_unit_test(test_items_text_and_subdecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
