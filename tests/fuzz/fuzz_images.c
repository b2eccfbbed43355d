/* fuzz_images.c - image references resolved against a real deck folder.
 *
 * The input is an answer in markdown (the first byte's low bit also picks
 * the folder its images are relative to: the deck's or answers/).  It is
 * rendered twice, each time into a fresh deck: once with every image's
 * real path made by realpath(), once with the real paths a render worker
 * keeps from one image to the next (deck.real, images.c).  The folder, in
 * /dev/shm when it can be, holds images, a link to one of them, a link to a
 * file outside the deck, a folder link inside and one leading out, a
 * dangling link and a link to itself.  Properties:
 *   - no crash, no leak;
 *   - both renders give the same HTML, text, diagnostics and media;
 *   - every media file lies inside the deck folder. */
#include <limits.h>

#include "fuzz.h"
#include "mdeck/deck.h"
#include "mdeck/render.h"

static char img_base[128];      /* the folder holding the deck (fuzz_scratch) */
static char img_deck[256];      /* the deck folder, as given to the deck */
static char img_real[PATH_MAX]; /* and resolved */

static void img_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", img_base, rel);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) abort();
}

static void img_link(const char *target, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", img_base, rel);
    if (symlink(target, path) < 0 && errno != EEXIST) abort();
}

static void img_setup(void)
{
    if (img_real[0]) return;
    static const char *const dirs[] = {"deck", "deck/answers", "deck/img", "deck/img/dir"};
    fuzz_scratch(img_base, "images", dirs, sizeof dirs / sizeof *dirs);
    img_file("outside.png", "outside");
    img_file("deck/img/a.png", "image a");
    img_file("deck/img/b c.png", "image b");
    img_file("deck/img/empty.png", "");
    img_file("deck/answers/c.png", "image c");
    img_link("a.png", "deck/img/link-in.png");
    img_link("../../outside.png", "deck/img/link-out.png");
    img_link("nowhere.png", "deck/img/dangling.png");
    img_link("loop.png", "deck/img/loop.png");
    img_link("img", "deck/pics");
    img_link("..", "deck/up");
    snprintf(img_deck, sizeof img_deck, "%s/deck", img_base);
    if (!realpath(img_deck, img_real)) abort();
}

/* One render of md into a fresh deck d, its real paths kept in real when
 * that is not NULL. */
static void img_render(struct deck *d, struct real_paths *real, const char *md, size_t n,
                       int from_answers, struct buf *html, struct buf *text, struct diags *dg)
{
    char answers[300];
    snprintf(answers, sizeof answers, "%s/answers", img_deck);
    deck_init(d, img_deck);
    d->real = real;
    struct render_ctx rc = {.deck = d, .path = "answers/x.md",
                            .base_dir = from_answers ? answers : img_deck, .first_line = 1};
    render_markdown(&rc, md, n, html, text, dg);
}

static int img_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    img_setup();
    char *md = fuzz_slice(data, size);
    int from_answers = size && (data[0] & 1);
    struct deck d1, d2;
    struct real_paths real = {0};
    struct buf html1 = BUF_INIT, text1 = BUF_INIT, html2 = BUF_INIT, text2 = BUF_INIT;
    struct diags dg1, dg2;
    diags_init(&dg1);
    diags_init(&dg2);
    img_render(&d1, NULL, md, size, from_answers, &html1, &text1, &dg1);
    img_render(&d2, &real, md, size, from_answers, &html2, &text2, &dg2);
    free(md);

    FUZZ_CHECK(html1.len == html2.len && !memcmp(html1.s, html2.s, html1.len),
               "the same HTML with real paths kept");
    FUZZ_CHECK(text1.len == text2.len && !memcmp(text1.s, text2.s, text1.len),
               "the same text with real paths kept");
    FUZZ_CHECK(dg1.n == dg2.n, "as many diagnostics with real paths kept");
    for (size_t i = 0; i < dg1.n && i < dg2.n; i++) {
        const struct diag *a = &dg1.v[i], *b = &dg2.v[i];
        FUZZ_CHECK(a->sev == b->sev && a->line == b->line && a->col == b->col &&
                       img_same(a->path, b->path) && img_same(a->msg, b->msg),
                   "the same diagnostics with real paths kept");
    }
    FUZZ_CHECK(d1.nmedia == d2.nmedia, "as many media with real paths kept");
    size_t root = strlen(img_real);
    for (size_t i = 0; i < d1.nmedia && i < d2.nmedia; i++) {
        FUZZ_CHECK(!strcmp(d1.media[i].name, d2.media[i].name) &&
                       !strcmp(d1.media[i].path, d2.media[i].path),
                   "the same media with real paths kept");
        const char *p = d1.media[i].path;
        FUZZ_CHECK(!strncmp(p, img_real, root) && p[root] == '/',
                   "every media file lies inside the deck folder");
    }
    real_paths_free(&real);
    deck_free(&d1);
    deck_free(&d2);
    buf_release(&html1);
    buf_release(&text1);
    buf_release(&html2);
    buf_release(&text2);
    diags_free(&dg1);
    diags_free(&dg2);
    return 0;
}
