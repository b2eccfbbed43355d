/* test_canonical.c - the sanitizer's fast path is sound.
 *
 * answers.c skips sanitize_html() for an answer whose render the renderer
 * calls canonical (render.h).  That is only right if, for every such
 * render, sanitizing the HTML gives back the very same bytes.  This test
 * renders every example of the spec files (tests/spec/NAME.txt) and of
 * docs/format.md (inputs and expected outputs, whatever their kind: all
 * are markdown to the renderer), every answer file and "##" section of the
 * shipped deck decks/aigc-100, and generated answers of three kinds -
 * plain (what notes hold), wild
 * (markdown's corners: odd URLs, entities, overlapping emphasis, nested
 * links) and hostile (raw HTML, control bytes, bad UTF-8) - and checks
 * sanitize_html(html) == html for each one said to be canonical.
 *
 * So that it cannot pass by never saying "canonical", it also checks that
 * the flag is off for inputs the sanitizer must see (raw HTML, script URLs,
 * ...) and on for at least 90% of the plain answers and of the shipped
 * deck's answers.  tests/fuzz/fuzz_render.c checks the same property on
 * fuzzed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/build.h"
#include "mdeck/deck.h"
#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/util.h"
#include "scratch.h"

static char top[4096]; /* the source tree */

/* --- the property ---------------------------------------------------------- */

struct tally {
    int total, canonical;
};

/* Renders md[0..len) (without a deck unless rc->deck) and fails when the
 * render is canonical but sanitizing its HTML changes it.  Returns the
 * flag. */
static int check_rc(struct render_ctx *rc, const char *what, const char *md, size_t len,
                    struct tally *t)
{
    struct buf html = BUF_INIT, clean = BUF_INIT;
    int canonical = -1;
    rc->canonical = &canonical;
    render_markdown(rc, md, len, &html, NULL, NULL);
    assert_true(canonical == 0 || canonical == 1);
    if (canonical) {
        int removed = sanitize_html(html.s, html.len, &clean);
        if (removed || clean.len != html.len || memcmp(clean.s, html.s, html.len)) {
            print_message("%s: canonical, but the sanitizer changes it (%d removed)\n"
                          "markdown:  %.2000s\nrendered:  %.2000s\nsanitized: %.2000s\n",
                          what, removed, md, html.s, clean.s);
            fail();
        }
    }
    if (t) {
        t->total++;
        t->canonical += canonical;
    }
    buf_release(&html);
    buf_release(&clean);
    return canonical;
}

static int check(const char *what, const char *md, size_t len, struct tally *t)
{
    struct render_ctx rc = {.path = "x.md", .first_line = 1};
    return check_rc(&rc, what, md, len, t);
}

/* --- spec examples ------------------------------------------------------------ */

#define FENCE "````````````````````````````````"

/* Checks the input and the expected output of every example in path (the
 * literate format test_spec.c runs; "→" is a tab). */
static void check_spec_file(const char *path, struct tally *t)
{
    struct buf src = BUF_INIT, in = BUF_INIT, out = BUF_INIT;
    assert_int_equal(read_file(path, &src), 0);
    enum { PROSE, INPUT, EXPECTED } state = PROSE;
    int lineno = 0, start = 0;
    const char *p = src.s, *end = src.s + src.len;
    size_t fl = strlen(FENCE);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (state == PROSE && n >= fl + 8 && !memcmp(p, FENCE " example", fl + 8)) {
            buf_reset(&in);
            buf_reset(&out);
            start = lineno;
            state = INPUT;
        } else if (state == INPUT && n == 1 && p[0] == '.') {
            state = EXPECTED;
        } else if (state == EXPECTED && n == fl && !memcmp(p, FENCE, fl)) {
            char what[4200];
            snprintf(what, sizeof what, "%s:%d input", path, start);
            check(what, in.s, in.len, t);
            snprintf(what, sizeof what, "%s:%d output", path, start);
            check(what, out.s, out.len, t);
            state = PROSE;
        } else if (state != PROSE) {
            struct buf *b = state == INPUT ? &in : &out;
            for (size_t i = 0; i < n; i++) {
                if (i + 3 <= n && !memcmp(p + i, "\xE2\x86\x92", 3)) {
                    buf_addc(b, '\t');
                    i += 2;
                } else {
                    buf_addc(b, p[i]);
                }
            }
            buf_addc(b, '\n');
        }
        p += n + 1;
    }
    buf_release(&src);
    buf_release(&in);
    buf_release(&out);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Calls fn for every file of dir whose name ends in suffix, in name order. */
static int each_file(const char *dir, const char *suffix, void (*fn)(const char *, struct tally *),
                     struct tally *t)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, by_name), files = 0;
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (str_ends_with(ents[i]->d_name, suffix)) {
            char *path = xasprintf("%s/%s", dir, ents[i]->d_name);
            fn(path, t);
            free(path);
            files++;
        }
        free(ents[i]);
    }
    free(ents);
    return files;
}

static void test_spec_examples(void **state)
{
    struct tally t = {0, 0};
    char *dir = xasprintf("%s/tests/spec", top);
    char *format = xasprintf("%s/docs/format.md", top);
    int files = each_file(dir, ".txt", check_spec_file, &t);
    check_spec_file(format, &t);
    print_message("spec examples: %d files + format.md, %d inputs and outputs, %d canonical\n",
                  files, t.total, t.canonical);
    /* render.txt, sanitize.txt and text.txt: 86 examples, format.md 18 */
    assert_true(files >= 3);
    assert_true(t.total >= 2 * 100);
    assert_true(t.canonical >= t.total / 4);
    free(dir);
    free(format);
}

/* --- the shipped deck ------------------------------------------------------------ */

/* The whole file, then each "## " section's body (as answers.c cuts them). */
static void check_answer_file(const char *path, struct tally *t)
{
    struct buf src = BUF_INIT;
    assert_int_equal(read_file(path, &src), 0);
    check(path, src.s, src.len, NULL);
    const char *s = src.s;
    while ((s = strstr(s, "\n## "))) {
        const char *body = strchr(s + 1, '\n');
        if (!body) break;
        body++;
        const char *next = strstr(body, "\n## ");
        size_t len = next ? (size_t)(next - body + 1) : strlen(body);
        char what[4200];
        snprintf(what, sizeof what, "%s, section at byte %zu", path, (size_t)(body - src.s));
        /* a slice, as answers.c renders it: md[len] is the next byte */
        check(what, body, len, t);
        s = body;
    }
    buf_release(&src);
}

static void test_shipped_deck(void **state)
{
    struct tally t = {0, 0};
    char *dir = xasprintf("%s/decks/aigc-100/answers", top);
    int files = each_file(dir, ".md", check_answer_file, &t);
    print_message("decks/aigc-100: %d files, %d sections, %d canonical\n", files, t.total,
                  t.canonical);
    assert_true(t.total >= 100);
    assert_true(t.canonical * 10 >= t.total * 9);
    free(dir);
}

/* --- generated answers ----------------------------------------------------------- */

enum kind { PLAIN, WILD, HOSTILE };

struct gen {
    uint32_t seed;
    enum kind kind;
    struct buf *b;
    int in_link; /* plain answers put no link inside a link's text */
};

static int pick(struct gen *g, int n)
{
    g->seed = g->seed * 1103515245u + 12345u;
    return (int)(((g->seed >> 16) & 0x7FFF) % (uint32_t)n);
}

#define ONE(g, v) (v)[pick(g, (int)ARRAY_LEN(v))]

static void gen_word(struct gen *g)
{
    static const char *const plain[] = {
        "attention", "the", "KV", "cache", "softmax", "d_k", "O(n^2)", "token", "2024", "a",
        "注意力", "机制", "模型", "，", "。", "café", "naïve", "it's", "\"quoted\"", "a < b",
        "b > c", "AT&T", "50%", "C++", "(see", "below)", "e.g.", "—", "x", "layer-norm",
        "snake_case", "1.5", "!", "?", ":", "→", "😀"};
    static const char *const wild[] = {
        "foo_bar_baz", "__init__", "1.", "-", "#", "*", "+", "|", "\\", "\\*", "\\_", "\\[",
        "\\<", "\\&", "&amp;", "&copy;", "&#123;", "&#x4E2D;", "&nosuch;", "&lt;tag&gt;",
        "&quot;", "&#39;", "~", "`", "=", "{{c1::x}}", "___", "＿＿", "\xc2\xa0",
        "\xe3\x80\x80", "'", "...", "&#13;", "&#9;", "&#xFEFF;", "&#x85;", "&#x1FFFE;"};
    static const char *const hostile[] = {
        "&#0;", "&#1;", "&#xD800;", "&#x110000;", "&#xFFFE;", "\x01", "\x7f", "\r", "\t",
        "\xff", "\xc3", "\xed\xa0\x80", "\xef\xbf\xbe", "\x0b", "\x1b[0m"};
    if (g->kind == HOSTILE && pick(g, 20) == 0) buf_adds(g->b, ONE(g, hostile));
    else if (g->kind != PLAIN && pick(g, 3) == 0) buf_adds(g->b, ONE(g, wild));
    else buf_adds(g->b, ONE(g, plain));
}

static void gen_url(struct gen *g)
{
    static const char *const plain[] = {
        "https://example.com", "https://example.com/a/b?c=d&e=f#g", "http://x.org/paper.pdf",
        "https://en.wikipedia.org/wiki/Attention_(machine_learning)", "other.md#part",
        "#frag", "../notes/a.md", "mailto:a@b.org", "https://arxiv.org/abs/1706.03762"};
    static const char *const wild[] = {
        "https://x.org/a_(b)", "./img/a.png", "img/b%20c.png", "?q=1", "/abs/path",
        "//cdn.x.org/c.png", "tel:+123", "ftp://f.org/x", "HTTP://X.ORG",
        "https://例子.测试/路径", "<https://x.org/a b>", "<>", "", "data:image/png;base64,AAAA",
        "data:image/svg+xml,<svg>", "data:text/html,<b>", "javascript:alert(1)",
        "JaVaScRiPt:alert(1)", "java&#x09;script:x", "vbscript:x", "/x/javascript:y", "x:y",
        "a:b/c", "https://x.org/&amp;", "https://x.org/&quot;", "foo\\)bar", "https://x.org/%",
        "%6a%61vascript:x", "file:///etc/passwd", "about:blank", "https://x.org/\\",
        "https://x.org/<x>", "&#106;avascript:x", "java\\nscript:x", "\\javascript:x"};
    if (g->kind != PLAIN && pick(g, 2)) buf_adds(g->b, ONE(g, wild));
    else buf_adds(g->b, ONE(g, plain));
}

static void gen_title(struct gen *g)
{
    static const char *const titles[] = {
        "", "", "", " \"Title\"", " 'single'", " (paren)", " \"with \\\"quote\\\"\"",
        " \"a & b < c\"", " \"中文\"", " \"line\none\"", " \"&amp; &copy;\"",
        " \"javascript:x\"", " \"\""};
    buf_adds(g->b, g->kind == PLAIN ? titles[pick(g, 8)] : ONE(g, titles));
}

static void gen_inline(struct gen *g, int depth);

static void gen_span(struct gen *g, int depth)
{
    static const char *const marks[] = {"*", "_", "**", "__", "~~", "~", "***"};
    static const char *const autolinks[] = {
        "<http://x.org>", "<https://x.org/a?b&c>", "<mailto:a@b.org>", "<a@b.org>",
        "www.example.com", "https://auto.example.org/path", "x@y.org", "<javascript:x>",
        "www.x.org/a_(b)?c&d", "<irc://x>", "http://x.org/\"q\""};
    static const char *const math[] = {
        "$x^2$", "$a<b$", "$$\\sum_i x_i$$", "$ x $", "$5 and $10", "$a & b$",
        "$\\frac{1}{\\sqrt{d_k}}$", "$$a\nb$$", "$x$$y$", "$`c`$", "$[a](b)$"};
    static const char *const raw[] = {
        "<b>bold</b>", "<img src=\"x.png\" onerror=\"alert(1)\">", "<!-- c -->",
        "<span style=\"color:red\">r</span>", "<br>", "<script>x</script>",
        "<a href=\"javascript:x\">j</a>", "<sup>2</sup>", "</p>", "<x-y>", "<?php x ?>"};
    const char *m;
    switch (pick(g, 14)) {
    case 0:
    case 1:
        m = g->kind == PLAIN ? (pick(g, 2) ? "*" : "**") : ONE(g, marks);
        buf_adds(g->b, m);
        gen_inline(g, depth + 1);
        buf_adds(g->b, m);
        break;
    case 2: {
        int n = g->kind == PLAIN ? 1 : 1 + pick(g, 3);
        for (int i = 0; i < n; i++) buf_addc(g->b, '`');
        gen_word(g);
        if (pick(g, 2)) buf_adds(g->b, " <b> & x");
        for (int i = 0; i < n; i++) buf_addc(g->b, '`');
        break;
    }
    case 3:
    case 4:
        if (g->kind == PLAIN && g->in_link) {
            gen_word(g);
            break;
        }
        buf_addc(g->b, '[');
        g->in_link++;
        gen_inline(g, depth + 1);
        g->in_link--;
        buf_adds(g->b, "](");
        gen_url(g);
        gen_title(g);
        buf_addc(g->b, ')');
        break;
    case 5:
        buf_adds(g->b, "![");
        g->in_link++;
        if (pick(g, 3)) gen_inline(g, depth + 1);
        g->in_link--;
        buf_adds(g->b, "](");
        gen_url(g);
        gen_title(g);
        buf_addc(g->b, ')');
        break;
    case 6:
        if (g->kind == PLAIN && g->in_link) gen_word(g);
        else buf_adds(g->b, g->kind == PLAIN ? autolinks[pick(g, 5)] : ONE(g, autolinks));
        break;
    case 7:
        buf_adds(g->b, g->kind == PLAIN ? math[pick(g, 7)] : ONE(g, math));
        break;
    case 8:
        buf_adds(g->b, pick(g, 2) ? "  \n" : "\\\n");
        break;
    case 9:
        buf_addc(g->b, '\n');
        break;
    case 10:
        if (g->kind == HOSTILE) {
            buf_adds(g->b, ONE(g, raw));
            break;
        }
        /* fall through */
    default:
        gen_word(g);
        break;
    }
}

static void gen_inline(struct gen *g, int depth)
{
    int n = 1 + pick(g, depth > 2 ? 3 : 8);
    for (int i = 0; i < n; i++) {
        if (i) buf_addc(g->b, ' ');
        if (depth < 4 && pick(g, 3) == 0) gen_span(g, depth);
        else gen_word(g);
    }
}

static void gen_blocks(struct gen *g, int depth, const char *indent);

static void gen_code(struct gen *g, const char *indent)
{
    static const char *const info[] = {"", "c", "python", "language-js", "bash", "a&b",
                                       "x\"y", "javascript:", "c++ extra words", "中文",
                                       "{.x}", "&amp;", "vbscript:"};
    static const char *const lines[] = {"int x = a < b && c > d;", "", "  indented",
                                        "<script>alert(1)</script>", "\t tab",
                                        "&amp; &copy;", "print(\"hi\")", "中文 code",
                                        "```not a fence end", "$x$ [a](b)"};
    const char *fence = pick(g, 3) ? "```" : "~~~";
    buf_adds(g->b, fence);
    buf_adds(g->b, g->kind == PLAIN ? info[pick(g, 5)] : ONE(g, info));
    buf_addc(g->b, '\n');
    for (int i = 0, n = pick(g, 4); i < n; i++) {
        buf_adds(g->b, indent);
        buf_adds(g->b, ONE(g, lines));
        buf_addc(g->b, '\n');
    }
    buf_adds(g->b, indent);
    buf_adds(g->b, fence);
    buf_addc(g->b, '\n');
}

static void gen_table(struct gen *g, const char *indent)
{
    static const char *const align[] = {"---", ":--", ":-:", "--:"};
    int cols = 1 + pick(g, 3);
    for (int i = 0; i < cols; i++) {
        buf_adds(g->b, "| ");
        gen_inline(g, 2);
        buf_addc(g->b, ' ');
    }
    buf_adds(g->b, "|\n");
    buf_adds(g->b, indent);
    for (int i = 0; i < cols; i++) {
        buf_addc(g->b, '|');
        buf_adds(g->b, ONE(g, align));
    }
    buf_adds(g->b, "|\n");
    for (int r = 0, rows = pick(g, 4); r < rows; r++) {
        buf_adds(g->b, indent);
        int c = g->kind == PLAIN ? cols : pick(g, cols + 2);
        for (int i = 0; i < c; i++) {
            buf_adds(g->b, "| ");
            if (pick(g, 4)) gen_inline(g, 2);
            buf_addc(g->b, ' ');
        }
        buf_adds(g->b, "|\n");
    }
}

static void gen_list(struct gen *g, int depth, const char *indent)
{
    static const char *const bullets[] = {"- ", "* ", "+ ", "1. ", "0. ", "7) ", "123. ",
                                          "- [ ] ", "- [x] ", "* [X] "};
    const char *m = ONE(g, bullets);
    int items = 1 + pick(g, 3), loose = pick(g, 3) == 0;
    char inner[512];
    /* continuation lines line up with the item's text (task items: its marker) */
    size_t w = str_starts_with(m + 1, " [") ? 2 : strlen(m);
    snprintf(inner, sizeof inner, "%s%*s", indent, (int)w, "");
    for (int i = 0; i < items; i++) {
        if (i) buf_adds(g->b, indent);
        buf_adds(g->b, m);
        gen_inline(g, 0);
        buf_addc(g->b, '\n');
        if (pick(g, 3) == 0 && depth < 6 && strlen(inner) < 200) {
            if (loose) {
                buf_adds(g->b, indent);
                buf_addc(g->b, '\n');
            }
            gen_blocks(g, depth + 1, inner);
        }
        if (loose) {
            buf_adds(g->b, indent);
            buf_addc(g->b, '\n');
        }
    }
}

static void gen_block(struct gen *g, int depth, const char *indent)
{
    static const char *const html_blocks[] = {
        "<div>\nhtml block\n</div>\n", "<!-- comment -->\n",
        "<table><tr><td>x</td></tr></table>\n", "<script>alert(1)</script>\n",
        "<p>para</p>\n", "<details><summary>s</summary>d</details>\n"};
    char inner[512];
    buf_adds(g->b, indent);
    switch (pick(g, depth > 3 ? 8 : 16)) {
    case 0: case 1: case 2: case 3:
        gen_inline(g, 0);
        if (pick(g, 3) == 0) {
            buf_addc(g->b, '\n');
            buf_adds(g->b, indent);
            gen_inline(g, 0);
        }
        buf_addc(g->b, '\n');
        break;
    case 4:
        if (pick(g, 4) == 0) {
            gen_inline(g, 1);
            buf_addc(g->b, '\n');
            buf_adds(g->b, indent);
            buf_adds(g->b, pick(g, 2) ? "===\n" : "---\n");
        } else {
            for (int i = 0, lv = 1 + pick(g, 6); i < lv; i++) buf_addc(g->b, '#');
            buf_addc(g->b, ' ');
            gen_inline(g, 1);
            buf_addc(g->b, '\n');
        }
        break;
    case 5:
        gen_code(g, indent);
        break;
    case 6:
        buf_adds(g->b, pick(g, 2) ? "***\n" : "- - -\n");
        break;
    case 7:
        gen_table(g, indent);
        break;
    case 8: case 9:
        snprintf(inner, sizeof inner, "%s> ", indent);
        gen_blocks(g, depth + 1, strlen(inner) < 200 ? inner : indent);
        break;
    case 10: case 11: case 12:
        gen_list(g, depth, indent);
        break;
    case 13:
        buf_adds(g->b, "$$\n");
        buf_adds(g->b, indent);
        buf_adds(g->b, "a < b \\\\ c & d\n");
        buf_adds(g->b, indent);
        buf_adds(g->b, "$$\n");
        break;
    case 14:
        buf_adds(g->b, "    code <x> & y\n");
        break;
    default:
        if (g->kind == HOSTILE && pick(g, 2)) {
            buf_adds(g->b, ONE(g, html_blocks));
        } else {
            gen_inline(g, 0);
            buf_addc(g->b, '\n');
        }
        break;
    }
}

static void gen_blocks(struct gen *g, int depth, const char *indent)
{
    for (int i = 0, n = 1 + pick(g, depth ? 3 : 6); i < n; i++) {
        if (i) {
            buf_adds(g->b, indent);
            buf_addc(g->b, '\n');
        }
        gen_block(g, depth, indent);
    }
}

/* Answer number i of a kind: the same bytes on every run. */
static void gen_answer(enum kind kind, uint32_t i, struct buf *out)
{
    struct gen g = {i * 2654435761u + 1 + (uint32_t)kind, kind, out, 0};
    gen_blocks(&g, 0, "");
}

static struct tally check_generated(enum kind kind, int n)
{
    static const char *const names[] = {"plain", "wild", "hostile"};
    struct tally t = {0, 0};
    for (int i = 0; i < n; i++) {
        struct buf md = BUF_INIT;
        gen_answer(kind, (uint32_t)i, &md);
        char what[64];
        snprintf(what, sizeof what, "%s answer %d", names[kind], i);
        check(what, md.s, md.len, &t);
        buf_release(&md);
    }
    print_message("%s: %d answers, %d canonical\n", names[kind], t.total, t.canonical);
    return t;
}

static void test_generated_plain(void **state)
{
    struct tally t = check_generated(PLAIN, 500);
    assert_true(t.canonical * 10 >= t.total * 9); /* the fast path fires */
}

static void test_generated_wild(void **state)
{
    struct tally t = check_generated(WILD, 3000);
    /* both sides are exercised: many canonical, many not */
    assert_true(t.canonical >= t.total / 5 && t.canonical <= t.total * 9 / 10);
}

static void test_generated_hostile(void **state)
{
    struct tally t = check_generated(HOSTILE, 3000);
    assert_true(t.canonical >= t.total / 10 && t.canonical <= t.total * 9 / 10);
}

/* --- the flag itself ----------------------------------------------------------------- */

/* Markdown, and its length when it holds a NUL (0: strlen). */
struct md_case {
    const char *md;
    size_t len;
};

/* Fails unless each case renders canonical exactly when want is 1. */
static void expect_canonical(const struct md_case *cases, size_t n, int want)
{
    for (size_t i = 0; i < n; i++) {
        const char *md = cases[i].md;
        size_t len = cases[i].len ? cases[i].len : strlen(md);
        if (check(md, md, len, NULL) != want)
            fail_msg("%s: %s", want ? "not canonical" : "canonical, but should not be", md);
    }
}

/* What the sanitizer must see: the flag is off, whatever it would do. */
static void test_not_canonical(void **state)
{
    static const struct md_case cases[] = {
        {"a <b>bold</b> b", 0},
        {"<div>\nblock\n</div>", 0},
        {"a <!-- comment --> b", 0},
        {"<script>alert(1)</script>", 0},
        {"x <img src=\"a.png\" onerror=\"alert(1)\">", 0},
        {"<p>looks canonical</p>", 0}, /* raw HTML, even when it is clean */
        {"a<br>b", 0},
        {"[a](javascript:alert(1))", 0},
        {"[a](JaVaScRiPt:alert(1))", 0},
        {"[a](java&#x09;script:x)", 0},
        {"[a](&#106;avascript:x)", 0},
        {"[a](vbscript:x)", 0},
        {"[a](data:text/html,x)", 0},
        {"[a](/x/javascript:y)", 0}, /* the sanitizer's belt and braces */
        {"[a](x:y)", 0},
        {"![a](javascript:x)", 0},
        {"![a](data:image/svg+xml,x)", 0},
        {"<javascript:alert(1)>", 0},
        {"```javascript:\nx\n```", 0},
        {"```vbscript:\nx\n```", 0},
        {"a &#1; b", 0},
        {"a &#xFFFE; b", 0},
        {"a \x01 b", 0},
        {"a \xff b", 0},
        {"a \xc3 b", 0},
        {"[a <http://x.org> b](http://y.org)", 0}, /* nested <a> */
        {"__a [www.x.org/a_(b)](i) b__", 0},    /* nested <a> too */
        {"__a www.x.org/a_(b)__", 0}, /* md4c 0.4.8 opens two <em>, closes one */
        {"a\x01" "b\0c", 5}, /* a control byte, a NUL */
    };
    expect_canonical(cases, ARRAY_LEN(cases), 0);
    /* nesting the renderer flattens (past 100 containers) or libxml2 cuts
     * (past 256 elements) */
    struct buf md = BUF_INIT;
    for (int i = 0; i < 120; i++) buf_adds(&md, "> ");
    buf_adds(&md, "deep\n");
    assert_int_equal(check("120 quotes", md.s, md.len, NULL), 0);
    buf_reset(&md);
    for (int i = 0; i < 300; i++) buf_adds(&md, "*a ");
    buf_addc(&md, 'x');
    for (int i = 0; i < 300; i++) buf_adds(&md, " b*");
    assert_int_equal(check("300 nested emphasis", md.s, md.len, NULL), 0);
    buf_release(&md);
}

/* Ordinary answers are canonical, each construct on its own. */
static void test_canonical(void **state)
{
    static const struct md_case cases[] = {
        {"", 0},
        {"plain", 0},
        {"# h1\n\n###### h6", 0},
        {"*em* **strong** ~~del~~ `code`", 0},
        {"a < b && c > d, \"q\" 'q'", 0},
        {"&copy; &amp; &#x4E2D; &nosuch;", 0},
        {"[a](https://x.org/a?b=1&c=2 \"t & \\\"q\\\"\")", 0},
        {"[a](other.md#part)", 0},
        {"[a](mailto:a@b.org) [b](tel:+1) [c](ftp://f.org)", 0},
        {"<https://x.org> www.x.org a@b.org", 0},
        {"![a](https://x.org/i.png \"t\") ![b](img/a.png) ![](data:image/png;base64,AA==)", 0},
        {"$x<y$ $$\\sum$$ $5 and $10", 0},
        {"- [x] done\n- [ ] todo", 0},
        {"1. a\n2. b\n\n7) c", 0},
        {"> quote\n> - item\n>   ```c\n>   int x;\n>   ```", 0},
        {"| a | b | c |\n|:-|:-:|-:|\n| 1 | 2 |", 0},
        {"```python\nif a < b:\n    pass\n```", 0},
        {"    indented <code>", 0},
        {"***", 0},
        {"a  \nb\\\nc\nd", 0},
        {"中文，标点。\nnaïve café 😀", 0},
        {"a\0b", 3}, /* NUL becomes U+FFFD */
        {"a &#13; b &#9; c", 0},
    };
    expect_canonical(cases, ARRAY_LEN(cases), 1);
}

/* Images that become deck media (and missing ones, which keep their src,
 * and ones leaving the deck, which are left out) keep the HTML canonical. */
static void test_media_images(void **state)
{
    char root[] = "/tmp/mdeck-canon-XXXXXX";
    assert_non_null(mkdtemp(root));
    char *img = xasprintf("%s/img", root), *png = xasprintf("%s/img/a b.png", root);
    assert_int_equal(mkdir(img, 0755), 0);
    FILE *f = fopen(png, "wb");
    assert_non_null(f);
    fputs("PNG", f);
    fclose(f);
    struct deck d;
    deck_init(&d, root);
    struct diags dg;
    diags_init(&dg);
    struct render_ctx rc = {.deck = &d, .path = "x.md", .base_dir = root, .first_line = 1};
    const char *md = "![a](img/a%20b.png \"t\") ![b](<img/a b.png>) ![c](img/none.png) "
                     "![d](../outside.png) [e](img/a%20b.png)\n";
    struct buf html = BUF_INIT;
    int canonical = -1;
    rc.canonical = &canonical;
    render_markdown(&rc, md, strlen(md), &html, NULL, &dg);
    assert_int_equal(d.nmedia, 1);
    assert_non_null(strstr(html.s, d.media[0].name));
    assert_int_equal(canonical, 1);
    assert_int_equal(check_rc(&rc, md, md, strlen(md), NULL), 1);
    buf_release(&html);
    diags_free(&dg);
    deck_free(&d);
    char *cmd = xasprintf("rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(img);
    free(png);
}

static void put(const char *root, const char *rel, const char *text)
{
    char *p = xasprintf("%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static const struct note *note_of(const struct deck *d, const char *question)
{
    for (size_t i = 0; i < d->nnotes; i++)
        if (!strcmp(d->notes[i].question, question)) return &d->notes[i];
    fail_msg("no note '%s'", question);
    return NULL;
}

/* The flag answers.c keeps on each answer: set for plain markdown answers
 * (whose HTML then skips the sanitizer and must equal what it would make),
 * never for raw HTML, HTML answer files, or the emptied answer of a cloze
 * note; a cloze's extra part carries the flag of its own render. */
static void test_answer_flag(void **state)
{
    const char *root = scratch_dir;
    char *dir = xasprintf("%s/answers", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    put(root, "answers/a.md",
        "## Plain one\n\nSome *markdown* with `code` and $x$.\n\n"
        "## Raw two\n\nText with <b onclick=\"x()\">raw</b> HTML.\n\n"
        "## Cloze five\n\nThe {{c1::answer}} hides.\n\n"
        "## Link six\n\n[bad](javascript:alert(1)) link.\n");
    put(root, "answers/page.html",
        "<html><head><title>Page three</title></head><body><article><h1>Page three</h1>"
        "<p>From <em>a</em> page.</p></article></body></html>");
    put(root, "index.md",
        "- [Plain one](answers/a.md#plain-one)\n- [Raw two](answers/a.md#raw-two)\n"
        "- [Page three](answers/page.html)\n- Fill: ___ is four\n  - four\n\n  More *text*.\n"
        "- [Cloze five](answers/a.md#cloze-five)\n- [Link six](answers/a.md#link-six)\n");
    struct deck d;
    struct diags dg;
    diags_init(&dg);
    struct build_opts o = {0};
    deck_load(&d, root, &o, &dg);
    const struct note *plain = note_of(&d, "Plain one");
    const struct note *raw = note_of(&d, "Raw two");
    const struct note *page = note_of(&d, "Page three");
    const struct note *fill = note_of(&d, "Fill: ___ is four");
    const struct note *cloze = note_of(&d, "Cloze five");
    const struct note *link = note_of(&d, "Link six");
    assert_int_equal(plain->answer.canonical, 1);
    assert_int_equal(raw->answer.canonical, 0);
    assert_null(strstr(raw->answer.html, "onclick"));
    assert_non_null(page->answer.html);
    assert_int_equal(page->answer.canonical, 0);
    assert_int_equal(fill->cloze, 1);
    assert_int_equal(fill->answer.canonical, 1); /* "More *text*." */
    assert_non_null(strstr(fill->answer.html, "<em>text</em>"));
    assert_int_equal(cloze->cloze, 1);
    assert_int_equal(cloze->answer.canonical, 0);
    assert_string_equal(cloze->answer.html, "");
    assert_int_equal(link->answer.canonical, 0);
    assert_null(strstr(link->answer.html, "javascript"));
    /* What skipped the sanitizer is what the sanitizer would have made. */
    for (size_t i = 0; i < d.nnotes; i++) {
        const struct answer *an = &d.notes[i].answer;
        if (!an->canonical) continue;
        struct buf out = BUF_INIT;
        sanitize_html(an->html, strlen(an->html), &out);
        assert_string_equal(out.s, an->html);
        buf_release(&out);
    }
    diags_free(&dg);
    deck_free(&d);
    free(dir);
}

int main(void)
{
    const char *t = getenv("MDECK_TOP");
    snprintf(top, sizeof top, "%s", t && *t ? t : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_shipped_deck),
        cmocka_unit_test(test_generated_plain),
        cmocka_unit_test(test_generated_wild),
        cmocka_unit_test(test_generated_hostile),
        cmocka_unit_test(test_not_canonical),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_media_images),
        cmocka_unit_test_setup_teardown(test_answer_flag, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
