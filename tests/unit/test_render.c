/* test_render.c - what the spec files cannot show: images that become deck
 * media (a deck folder on disk, symlinks), diagnostics with their lines,
 * HTML answer files (GBK encodings, main-content choice), hostile input
 * (deep nesting, NUL bytes) and idempotency over many generated inputs.
 *
 * Fixtures: tests/fixtures/render/deck/ is a deck folder.  Its GBK pages
 * were made with `iconv -f utf-8 -t gbk` (gbk-meta.html, <meta charset>)
 * and `iconv -f utf-8 -t gb2312` (gbk-http-equiv.html, http-equiv). */
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
#include "mdeck/diag.h"
#include "mdeck/htmlfile.h"
#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/util.h"

static char fixtures[4096]; /* tests/fixtures/render/deck */

/* --- a deck folder in /tmp ----------------------------------------------------- */

struct tmpdeck {
    char root[256];   /* /tmp/mdeck-render-XXXXXX: holds outside.png */
    char dir[300];    /* root/deck: the deck folder */
    struct deck deck;
    struct diags dg;
    struct real_paths real; /* deck.real in the *_real variants */
};

static void write_bytes(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static char *pathf(const char *fmt, const char *a, const char *b)
{
    return xasprintf(fmt, a, b);
}

/* A symbolic link dir/rel leading to target: 0 or -1. */
static int link_in(const char *dir, const char *target, const char *rel)
{
    char *p = pathf("%s/%s", dir, rel);
    int rc = symlink(target, p);
    free(p);
    return rc;
}

static int deck_setup(void **state)
{
    struct tmpdeck *t = xcalloc(1, sizeof *t);
    snprintf(t->root, sizeof t->root, "/tmp/mdeck-render-XXXXXX");
    if (!mkdtemp(t->root)) return -1;
    snprintf(t->dir, sizeof t->dir, "%s/deck", t->root);
    char *p;
    mkdir(t->dir, 0755);
    p = pathf("%s/%s", t->dir, "img"); mkdir(p, 0755); free(p);
    p = pathf("%s/%s", t->dir, "answers"); mkdir(p, 0755); free(p);
    p = pathf("%s/%s", t->dir, "img/a.png"); write_bytes(p, "PNG-A"); free(p);
    p = pathf("%s/%s", t->dir, "img/copy-of-a.png"); write_bytes(p, "PNG-A"); free(p);
    p = pathf("%s/%s", t->dir, "img/b c.png"); write_bytes(p, "PNG-B"); free(p);
    p = pathf("%s/%s", t->dir, "img/empty.png"); write_bytes(p, ""); free(p);
    p = pathf("%s/%s", t->root, "outside.png"); write_bytes(p, "SECRET"); free(p);
    /* a symlink leaving the deck, and one staying inside it; a folder link
     * staying inside the deck, and one leaving it */
    if (link_in(t->dir, "../../outside.png", "img/link-out.png") < 0 ||
        link_in(t->dir, "a.png", "img/link-in.png") < 0 || link_in(t->dir, "img", "pics") < 0 ||
        link_in(t->dir, "..", "up") < 0)
        return -1;
    deck_init(&t->deck, t->dir);
    diags_init(&t->dg);
    *state = t;
    return 0;
}

/* The same deck, its images resolved as a render worker's are: through
 * real paths kept from one image to the next (images.c, real_file()). */
static int deck_setup_real(void **state)
{
    if (deck_setup(state) < 0) return -1;
    struct tmpdeck *t = *state;
    t->deck.real = &t->real;
    return 0;
}

static int deck_teardown(void **state)
{
    struct tmpdeck *t = *state;
    real_paths_free(&t->real);
    deck_free(&t->deck);
    diags_free(&t->dg);
    char *cmd = xasprintf("rm -rf '%s'", t->root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t->root);
    free(cmd);
    free(t);
    return 0;
}

/* Renders md as answers/x.md of the deck (images relative to the deck). */
static void render_in(struct tmpdeck *t, const char *md, struct buf *html, struct buf *text)
{
    struct render_ctx rc = {.deck = &t->deck, .path = "answers/x.md", .base_dir = t->dir,
                            .first_line = 1};
    assert_int_equal(render_markdown(&rc, md, strlen(md), html, text, &t->dg), 0);
}

static int count_sev(const struct diags *d, enum severity s)
{
    int n = 0;
    for (size_t i = 0; i < d->n; i++) n += d->v[i].sev == s;
    return n;
}

/* --- markdown images ------------------------------------------------------------ */

static void test_image_becomes_media(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    render_in(t, "See ![a cat](img/a.png \"Cat\").\n", &html, &text);
    assert_int_equal(t->deck.nmedia, 1);
    const char *name = t->deck.media[0].name;
    assert_true(str_starts_with(name, "mdeck-") && str_ends_with(name, ".png"));
    char *want = xasprintf("<p>See <img src=\"%s\" alt=\"a cat\" title=\"Cat\">.</p>\n", name);
    assert_string_equal(html.s, want);
    assert_string_equal(text.s, "See a cat.");
    assert_int_equal(t->dg.n, 0);
    free(want);
    buf_release(&html);
    buf_release(&text);
}

static void test_same_image_is_one_media(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    render_in(t,
              "![a](img/a.png) ![b](./img/a.png) ![c](img/../img/a.png)\n\n"
              "![d](img/copy-of-a.png) ![e](img/link-in.png)\n",
              &html, NULL);
    assert_int_equal(t->deck.nmedia, 1);
    assert_int_equal(t->dg.n, 0);
    /* all five point at the one media file */
    const char *p = html.s;
    int n = 0;
    while ((p = strstr(p, t->deck.media[0].name))) n++, p++;
    assert_int_equal(n, 5);
    buf_release(&html);
}

static void test_image_percent_encoded_and_base_dir(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    char *answers = xasprintf("%s/answers", t->dir);
    struct render_ctx rc = {.deck = &t->deck, .path = "answers/x.md", .base_dir = answers};
    const char *md = "![b](../img/b%20c.png) ![b2](<../img/b c.png>) ![q](../img/a.png?v=2#top)\n";
    assert_int_equal(render_markdown(&rc, md, strlen(md), &html, NULL, &t->dg), 0);
    assert_int_equal(t->dg.n, 0);
    assert_int_equal(t->deck.nmedia, 2);
    assert_null(strstr(html.s, "img/"));
    free(answers);
    buf_release(&html);
}

static void test_missing_image_warns_with_line(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    render_in(t, "first line\n\nsee ![gone](img/none.png) here\n", &html, NULL);
    assert_int_equal(t->dg.n, 1);
    struct diag *g = &t->dg.v[0];
    assert_int_equal(g->sev, SEV_WARNING);
    assert_string_equal(g->path, "answers/x.md");
    assert_int_equal(g->line, 3);
    assert_int_equal(g->col, 5);
    assert_non_null(strstr(g->msg, "img/none.png"));
    /* the image stays, with the src it was written with */
    assert_non_null(strstr(html.s, "<img src=\"img/none.png\" alt=\"gone\">"));
    assert_int_equal(t->deck.nmedia, 0);
    buf_release(&html);
}

/* Line numbers come from src_base (the whole file) when given, else from
 * first_line; an image without a description is found by its src. */
static void test_missing_image_lines_in_a_larger_file(void **state)
{
    struct tmpdeck *t = *state;
    const char *file = "# Q1\n\nanswer one\n\n# Q2\n\ntext\n![](img/none.png)\n";
    const char *body = strstr(file, "# Q2");
    struct render_ctx rc = {.deck = &t->deck, .path = "answers/all.md", .base_dir = t->dir,
                            .src_base = file, .first_line = 99};
    assert_int_equal(render_markdown(&rc, body, strlen(body), NULL, NULL, &t->dg), 0);
    struct render_ctx rc2 = {.deck = &t->deck, .path = "index.md", .base_dir = t->dir,
                             .first_line = 40};
    const char *inl = "inline answer\n  ![x](img/none2.png)\n";
    assert_int_equal(render_markdown(&rc2, inl, strlen(inl), NULL, NULL, &t->dg), 0);
    assert_int_equal(t->dg.n, 2);
    assert_int_equal(t->dg.v[0].line, 8);
    assert_int_equal(t->dg.v[0].col, 1);
    assert_string_equal(t->dg.v[0].path, "answers/all.md");
    assert_int_equal(t->dg.v[1].line, 41);
    assert_string_equal(t->dg.v[1].path, "index.md");
}

static void test_empty_image_file_warns(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    render_in(t, "![e](img/empty.png) ![d](img) ![n]()\n", &html, NULL);
    assert_int_equal(count_sev(&t->dg, SEV_WARNING), 3);
    assert_int_equal(t->deck.nmedia, 0);
    assert_string_equal(html.s, "<p><img src=\"img/empty.png\" alt=\"e\"> <img src=\"img\" alt=\"d\"> "
                                "<img src=\"\" alt=\"n\"></p>\n");
    buf_release(&html);
}

static void test_escaping_images_are_errors(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    char *abs_inside = xasprintf("%s/img/a.png", t->dir);
    char *md = xasprintf("![1](../outside.png)\n\n![2](/etc/hostname)\n\n![3](img/link-out.png)\n\n"
                         "![4](%%2e%%2e/outside.png)\n\n![5](img/../../outside.png)\n\n![6](%s)\n",
                         abs_inside);
    render_in(t, md, &html, &text);
    assert_int_equal(t->dg.n, 6);
    assert_int_equal(count_sev(&t->dg, SEV_ERROR), 6);
    for (size_t i = 0; i < t->dg.n; i++) {
        assert_non_null(strstr(t->dg.v[i].msg, "image path leaves the deck folder"));
        assert_string_equal(t->dg.v[i].path, "answers/x.md");
        assert_int_equal(t->dg.v[i].line, (int)(1 + 2 * i));
    }
    /* no <img> is written for them, and nothing is registered */
    assert_null(strstr(html.s, "<img"));
    assert_int_equal(t->deck.nmedia, 0);
    assert_string_equal(text.s, "1\n2\n3\n4\n5\n6");
    free(abs_inside);
    free(md);
    buf_release(&html);
    buf_release(&text);
}

/* A folder reached through a link is where the link leads: inside the
 * deck the image is the same media as by its own path, outside it is an
 * error, and a path that leaves through a link and comes back in is
 * inside.  The images alternate between folders, so a folder's real path
 * kept from the image before is never used for the wrong one. */
static void test_images_through_linked_folders(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    render_in(t,
              "![1](pics/a.png)\n\n![2](up/outside.png)\n\n![3](img/a.png)\n\n"
              "![4](up/deck/img/b%20c.png)\n\n![5](pics/link-in.png)\n\n"
              "![6](pics/link-out.png)\n\n![7](pics/none.png)\n\n![8](pics)\n",
              &html, NULL);
    assert_int_equal(t->dg.n, 4);
    int want_line[] = {3, 11, 13, 15};
    enum severity want_sev[] = {SEV_ERROR, SEV_ERROR, SEV_WARNING, SEV_WARNING};
    const char *want_msg[] = {"leaves the deck folder", "leaves the deck folder", "not found",
                              "not a file"};
    for (size_t i = 0; i < t->dg.n; i++) {
        assert_int_equal(t->dg.v[i].line, want_line[i]);
        assert_int_equal(t->dg.v[i].sev, want_sev[i]);
        assert_non_null(strstr(t->dg.v[i].msg, want_msg[i]));
    }
    /* 1, 3 and 5 are img/a.png; 4 is img/b c.png */
    assert_int_equal(t->deck.nmedia, 2);
    const char *p = html.s;
    int n = 0;
    while ((p = strstr(p, t->deck.media[0].name))) n++, p++;
    assert_int_equal(n, 3);
    assert_non_null(strstr(html.s, t->deck.media[1].name));
    buf_release(&html);
}

/* <img> tags written as raw HTML get the same treatment. */
static void test_raw_html_images(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    render_in(t,
              "A <img src=\"img/a.png\" width=\"300\" alt=\"sized\"> b\n\n"
              "<div>\n<IMG alt='x'\n  SRC='img/a.png'>\n<img src=img/gone.png>\n"
              "<img src=\"../outside.png\" alt=\"out\"><img src=\"https://x.org/r.png\">\n</div>\n",
              &html, &text);
    assert_int_equal(t->deck.nmedia, 1);
    char *want = xasprintf("<p>A <img src=\"%s\" width=\"300\" alt=\"sized\"> b</p>\n"
                           "<div>\n<IMG alt='x'\n  SRC=\"%s\">\n<img src=img/gone.png>\n"
                           "<img src=\"https://x.org/r.png\">\n</div>\n",
                           t->deck.media[0].name, t->deck.media[0].name);
    assert_string_equal(html.s, want);
    assert_string_equal(text.s, "A sized b\nx [image] out[image]");
    assert_int_equal(t->dg.n, 2);
    assert_int_equal(t->dg.v[0].sev, SEV_WARNING);
    assert_int_equal(t->dg.v[0].line, 6);
    assert_int_equal(t->dg.v[1].sev, SEV_ERROR);
    assert_int_equal(t->dg.v[1].line, 7);
    assert_int_equal(t->dg.v[1].col, 1);
    free(want);
    buf_release(&html);
    buf_release(&text);
}

static void test_remote_images_untouched(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    render_in(t,
              "![a](http://x.org/a.png) ![b](https://x.org/b.png) ![c](//cdn.x.org/c.png) "
              "![d](data:image/png;base64,AAAA)\n",
              &html, NULL);
    assert_string_equal(html.s,
                        "<p><img src=\"http://x.org/a.png\" alt=\"a\"> "
                        "<img src=\"https://x.org/b.png\" alt=\"b\"> "
                        "<img src=\"//cdn.x.org/c.png\" alt=\"c\"> "
                        "<img src=\"data:image/png;base64,AAAA\" alt=\"d\"></p>\n");
    assert_int_equal(t->deck.nmedia, 0);
    assert_int_equal(t->dg.n, 0);
    buf_release(&html);
}

static void test_no_deck_leaves_images(void **state)
{
    struct buf html = BUF_INIT;
    struct render_ctx rc = {.path = "x.md"};
    const char *md = "![a](../../etc/passwd)";
    assert_int_equal(render_markdown(&rc, md, strlen(md), &html, NULL, NULL), 0);
    assert_string_equal(html.s, "<p><img src=\"../../etc/passwd\" alt=\"a\"></p>\n");
    buf_release(&html);
}

/* --- HTML answer files -------------------------------------------------------- */

static int fixture_setup(void **state)
{
    struct tmpdeck *t = xcalloc(1, sizeof *t);
    deck_init(&t->deck, fixtures);
    diags_init(&t->dg);
    *state = t;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct tmpdeck *t = *state;
    deck_free(&t->deck);
    diags_free(&t->dg);
    free(t);
    return 0;
}

static int extract(struct tmpdeck *t, const char *rel, struct buf *html, struct buf *text)
{
    char *path = xasprintf("%s/%s", fixtures, rel);
    int rc = htmlfile_extract(&t->deck, path, rel, html, text, &t->dg);
    free(path);
    return rc;
}

static void test_html_gbk(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    assert_int_equal(extract(t, "answers/gbk-meta.html", &html, &text), 0);
    assert_string_equal(text.s, "中文测试\n你好，世界：编码是GBK。");
    assert_string_equal(html.s, "<h1>中文测试</h1><p>你好，世界：编码是GBK。</p>");
    buf_reset(&text);
    assert_int_equal(extract(t, "answers/gbk-http-equiv.html", NULL, &text), 0);
    assert_string_equal(text.s, "简体中文页面，用GB2312声明。");
    assert_int_equal(t->dg.n, 0);
    buf_release(&html);
    buf_release(&text);
}

static void test_html_article_only(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    assert_int_equal(extract(t, "answers/article.html", &html, &text), 0);
    static const char *gone[] = {"HEADER-TEXT", "NAV-TEXT", "ASIDE-TEXT", "FOOTER-TEXT",
                                 "ARTICLE-FOOTER", "SCRIPT-TEXT", "INLINE-SCRIPT", "serif",
                                 "Why divide"};
    for (size_t i = 0; i < ARRAY_LEN(gone); i++) {
        assert_null(strstr(html.s, gone[i]));
        assert_null(strstr(text.s, gone[i]));
    }
    /* the article's own header (its title) stays */
    assert_true(str_starts_with(text.s, "Scaled dot-product attention\nThe dot products grow"));
    assert_non_null(strstr(html.s, "<h1>Scaled dot-product attention</h1>"));
    /* ../img/dot.png became media, missing.png warned, the remote one stayed */
    assert_int_equal(t->deck.nmedia, 1);
    char *src = xasprintf("<img src=\"%s\" alt=\"a dot\">", t->deck.media[0].name);
    assert_non_null(strstr(html.s, src));
    assert_non_null(strstr(html.s, "<img src=\"missing.png\" alt=\"gone\">"));
    assert_non_null(strstr(html.s, "<img src=\"https://example.org/remote.png\" alt=\"remote\">"));
    assert_int_equal(t->dg.n, 1);
    assert_int_equal(t->dg.v[0].sev, SEV_WARNING);
    assert_string_equal(t->dg.v[0].path, "answers/article.html");
    assert_int_equal(t->dg.v[0].line, 17);
    assert_non_null(strstr(t->dg.v[0].msg, "missing.png"));
    free(src);
    buf_release(&html);
    buf_release(&text);
}

static void test_html_main(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    assert_int_equal(extract(t, "answers/main.html", &html, &text), 0);
    assert_string_equal(html.s, "<h2>Main heading</h2><p>The main content.</p>");
    assert_string_equal(text.s, "Main heading\nThe main content.");
    buf_release(&html);
    buf_release(&text);
}

static void test_html_densest_div(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    assert_int_equal(extract(t, "answers/divs.html", &html, &text), 0);
    assert_true(str_starts_with(text.s, "Layer normalization\nLayer normalization normalizes"));
    assert_non_null(strstr(text.s, "a gain and a bias per feature."));
    assert_non_null(strstr(text.s, "sub-layer."));
    static const char *gone[] = {"TOP-BAR", "BOTTOM-TEXT", "one link", "Divs", "Home"};
    for (size_t i = 0; i < ARRAY_LEN(gone); i++) assert_null(strstr(text.s, gone[i]));
    buf_release(&html);
    buf_release(&text);
}

static void test_html_escaping_image(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    assert_int_equal(extract(t, "answers/escape.html", &html, &text), 0);
    assert_int_equal(t->dg.n, 1);
    assert_int_equal(t->dg.v[0].sev, SEV_ERROR);
    assert_int_equal(t->dg.v[0].line, 3);
    assert_non_null(strstr(t->dg.v[0].msg, "image path leaves the deck folder"));
    assert_null(strstr(html.s, "<img"));
    assert_string_equal(text.s, "Before.\nAfter.");
    buf_release(&html);
    buf_release(&text);
}

static void test_html_unreadable(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT;
    assert_int_equal(extract(t, "answers/no-such-file.html", &html, NULL), -1);
    assert_int_equal(t->dg.n, 1);
    assert_int_equal(t->dg.v[0].sev, SEV_ERROR);
    assert_string_equal(t->dg.v[0].path, "answers/no-such-file.html");
    assert_int_equal(extract(t, "answers", &html, NULL), -1); /* a folder */
    buf_release(&html);
}

/* A page with bytes its encoding does not allow still gives its text (up
 * to them) and a warning; an empty page is an empty answer. */
static void test_html_bad_bytes_and_empty(void **state)
{
    struct tmpdeck *t = *state;
    struct buf html = BUF_INIT, text = BUF_INIT;
    char *bad = xasprintf("%s/answers/bad.html", t->dir);
    char *empty = xasprintf("%s/answers/empty.html", t->dir);
    write_bytes(bad, "<meta charset=gbk><p>\xc4\xe3\xba\xc3\xff\xff ok</p>");
    write_bytes(empty, "");
    assert_int_equal(htmlfile_extract(&t->deck, bad, "answers/bad.html", &html, &text, &t->dg), 0);
    assert_true(str_starts_with(text.s, "你好"));
    assert_int_equal(t->dg.n, 1);
    assert_int_equal(t->dg.v[0].sev, SEV_WARNING);
    assert_non_null(strstr(t->dg.v[0].msg, "gbk"));
    buf_reset(&html);
    buf_reset(&text);
    assert_int_equal(htmlfile_extract(&t->deck, empty, "answers/empty.html", &html, &text, &t->dg), 0);
    assert_int_equal(html.len + text.len, 0);
    assert_int_equal(t->dg.n, 1);
    free(bad);
    free(empty);
    buf_release(&html);
    buf_release(&text);
}

/* --- hostile input --------------------------------------------------------------- */

static char *repeat(const char *unit, size_t n, const char *tail)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) buf_adds(&b, unit);
    buf_adds(&b, tail);
    return buf_detach(&b);
}

static void check_sanitize_fixed_point(const char *html, size_t len)
{
    struct buf once = BUF_INIT, twice = BUF_INIT;
    sanitize_html(html, len, &once);
    int removed = sanitize_html(once.s, once.len, &twice);
    if (removed || strcmp(once.s, twice.s)) {
        print_message("input:  %.300s\nonce:   %.300s\ntwice:  %.300s\n", html, once.s, twice.s);
        fail();
    }
    buf_release(&once);
    buf_release(&twice);
}

static void test_deep_markdown(void **state)
{
    static const char *units[] = {">", "- ", "* ", "1. ", "[", "*", "> - ", "`"};
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        char *md = repeat(units[i], 10000, "x\n");
        struct buf html = BUF_INIT, text = BUF_INIT;
        struct render_ctx rc = {.path = "deep.md"};
        assert_int_equal(render_markdown(&rc, md, strlen(md), &html, &text, NULL), 0);
        assert_true(html.len > 0);
        check_sanitize_fixed_point(html.s, html.len);
        /* The innermost text survives the sanitizer: nesting past
         * MAX_NESTING is flattened, not cut at libxml2's 256 levels. (A
         * run of backticks is a code fence whose info string is "x".) */
        struct buf clean = BUF_INIT;
        sanitize_html(html.s, html.len, &clean);
        if (strcmp(units[i], "`") && (!strstr(clean.s, "x") || !strstr(text.s, "x")))
            fail_msg("unit '%s': the innermost text is lost", units[i]);
        buf_release(&clean);
        struct buf t2 = BUF_INIT;
        html_to_text(html.s, html.len, &t2);
        buf_release(&t2);
        buf_release(&html);
        buf_release(&text);
        free(md);
    }
}

static void test_deep_html(void **state)
{
    static const char *units[] = {"<div>", "<b>", "<blockquote>", "<ul><li>", "<x-y>",
                                  "<table><tr><td>", "<p>", "<a href=x>", "<script>"};
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        char *h = repeat(units[i], 10000, "text");
        check_sanitize_fixed_point(h, strlen(h));
        struct buf t = BUF_INIT;
        html_to_text(h, strlen(h), &t);
        buf_release(&t);
        free(h);
    }
}

/* md4c 0.4.8 (Debian 12) reads past the end of its input after an unclosed
 * link at the very end: a slice "x [a](b" followed by ")" made it crash
 * (found by fuzzing).  The slice is parsed from a NUL-terminated copy. */
static void test_slice_ending_in_unclosed_link(void **state)
{
    static const char src[] = "x [a](b)and more [c](";
    struct buf html = BUF_INIT, text = BUF_INIT;
    struct render_ctx rc = {.path = "x.md"};
    assert_int_equal(render_markdown(&rc, src, 7, &html, &text, NULL), 0);
    assert_string_equal(html.s, "<p>x [a](b</p>\n");
    assert_string_equal(text.s, "x [a](b");
    buf_reset(&html);
    assert_int_equal(render_markdown(&rc, src, sizeof src - 1, &html, NULL, NULL), 0);
    assert_non_null(strstr(html.s, "<a href=\"b\">a</a>"));
    buf_release(&html);
    buf_release(&text);
}

static void test_nul_and_bad_utf8(void **state)
{
    struct buf html = BUF_INIT, text = BUF_INIT, s = BUF_INIT;
    struct render_ctx rc = {.path = "x.md"};
    assert_int_equal(render_markdown(&rc, "a\0b", 3, &html, &text, NULL), 0);
    assert_string_equal(html.s, "<p>a\xEF\xBF\xBD" "b</p>\n");
    assert_string_equal(text.s, "a\xEF\xBF\xBD" "b");
    static const char in[] = "<a href=\"java\0script:alert(1)\">x</a>\xff\xfe<b>\xc3</b>";
    sanitize_html(in, sizeof in - 1, &s);
    assert_string_equal(s.s, "<a>x</a>\xEF\xBF\xBD\xEF\xBF\xBD<b>\xEF\xBF\xBD</b>");
    check_sanitize_fixed_point(s.s, s.len);
    buf_release(&html);
    buf_release(&text);
    buf_release(&s);
}

/* Everything mdeck's renderer writes passes the sanitizer untouched. */
static void test_rendered_markdown_is_clean(void **state)
{
    const char *md =
        "# T\n\n*a* **b** ~~c~~ `d` $x<y$ $$z$$ [l](http://x.org \"t\") <http://y.org>\n\n"
        "- [x] done\n- [ ] todo\n  1. n\n\n> q\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n"
        "```c\nint x;\n```\n\n***\n\nhard  \nbreak ![i](http://x.org/i.png \"t\")\n";
    struct buf html = BUF_INIT, out = BUF_INIT;
    struct render_ctx rc = {.path = "x.md"};
    assert_int_equal(render_markdown(&rc, md, strlen(md), &html, NULL, NULL), 0);
    assert_int_equal(sanitize_html(html.s, html.len, &out), 0);
    assert_string_equal(out.s, html.s);
    buf_release(&html);
    buf_release(&out);
}

/* Tag soup from a fixed seed: the sanitizer must reach a fixed point on
 * every one, and never let a script element or handler through. */
static void test_sanitize_generated(void **state)
{
    static const char *parts[] = {
        "<p>", "</p>", "<div>", "</div>", "<b>", "</b>", "<i>", "<table>", "<tr>", "<td>",
        "</td>", "</table>", "<ul>", "<li>", "</ul>", "<x>", "</x>", "<font>", "<pre>",
        "</pre>", "<script>", "</script>", "<style>", "<svg>", "<a href=\"javascript:x\">",
        "<a href=\"http://ok\">", "</a>", "<img src=x onerror=y>", "<!--", "-->", "<br>",
        "text", " ", "\n", "&amp;", "&lt;", "<", ">", "\"", "'", "=", "<h1>", "</h1>",
        "<blockquote>", "<input type=checkbox checked>", "<body onload=x>", "</body>",
        "<html>", "<head>", "<title>", "<textarea>", "<noscript>", "<math>", "<![CDATA[",
        "]]>", "<?x?>", "<dl><dt>", "<dd>", "<select><option>", "<span style=\"color:red\">",
        "<form>", "</form>", "<caption>", "<thead>", "<ruby><rt>", "中文", "\xc3\xa9"};
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        struct buf in = BUF_INIT, out = BUF_INIT;
        seed = seed * 1103515245u + 12345u;
        int n = (int)(seed >> 16) % 40;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf_adds(&in, parts[(seed >> 16) % ARRAY_LEN(parts)]);
        }
        check_sanitize_fixed_point(in.s, in.len);
        sanitize_html(in.s, in.len, &out);
        if (strstr(out.s, "<script") || strstr(out.s, "onerror") || strstr(out.s, "onload") ||
            strstr(out.s, "javascript:") || strstr(out.s, "<svg") || strstr(out.s, "<!--")) {
            print_message("input: %s\noutput: %s\n", in.s, out.s);
            fail();
        }
        buf_release(&in);
        buf_release(&out);
    }
}

int main(void)
{
    const char *top = getenv("MDECK_TOP");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/render/deck", top && *top ? top : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_image_becomes_media, deck_setup, deck_teardown),
        cmocka_unit_test_setup_teardown(test_same_image_is_one_media, deck_setup, deck_teardown),
        cmocka_unit_test_setup_teardown(test_image_percent_encoded_and_base_dir, deck_setup,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_missing_image_warns_with_line, deck_setup,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_missing_image_lines_in_a_larger_file, deck_setup,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_empty_image_file_warns, deck_setup, deck_teardown),
        cmocka_unit_test_setup_teardown(test_escaping_images_are_errors, deck_setup,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_raw_html_images, deck_setup, deck_teardown),
        cmocka_unit_test_setup_teardown(test_remote_images_untouched, deck_setup, deck_teardown),
        cmocka_unit_test_setup_teardown(test_images_through_linked_folders, deck_setup,
                                        deck_teardown),
        /* the same, as a render worker resolves images */
        cmocka_unit_test_setup_teardown(test_image_becomes_media, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_same_image_is_one_media, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_image_percent_encoded_and_base_dir,
                                        deck_setup_real, deck_teardown),
        cmocka_unit_test_setup_teardown(test_missing_image_warns_with_line, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_empty_image_file_warns, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_escaping_images_are_errors, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test_setup_teardown(test_raw_html_images, deck_setup_real, deck_teardown),
        cmocka_unit_test_setup_teardown(test_images_through_linked_folders, deck_setup_real,
                                        deck_teardown),
        cmocka_unit_test(test_no_deck_leaves_images),
        cmocka_unit_test_setup_teardown(test_html_gbk, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_article_only, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_main, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_densest_div, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_escaping_image, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_unreadable, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_html_bad_bytes_and_empty, deck_setup, deck_teardown),
        cmocka_unit_test(test_deep_markdown),
        cmocka_unit_test(test_deep_html),
        cmocka_unit_test(test_nul_and_bad_utf8),
        cmocka_unit_test(test_slice_ending_in_unclosed_link),
        cmocka_unit_test(test_rendered_markdown_is_clean),
        cmocka_unit_test(test_sanitize_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
