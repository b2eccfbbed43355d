/* fuzz_render.c - the answer renderer (render_markdown) without a deck: no
 * crash, no leak; the HTML and the plain text are valid UTF-8 whenever the
 * input is; and whenever the renderer calls its HTML canonical, the
 * sanitizer gives it back byte for byte (answers.c then skips sanitizing
 * it: render.h). */
#include <string.h>

#include "fuzz.h"
#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/text.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct buf html = BUF_INIT, text = BUF_INIT;
    int canonical = -1;
    struct render_ctx rc = {.deck = NULL, .path = "a.md", .first_line = 1,
                            .canonical = &canonical};
    struct diags dg;
    diags_init(&dg);
    char *md = fuzz_slice(data, size);
    render_markdown(&rc, md, size, &html, &text, &dg);
    free(md);
    /* Answers reach the renderer only after utf8_check (answers.c). */
    if (utf8_check((const char *)data, size, NULL) == 0) {
        FUZZ_CHECK(utf8_check(html.s, html.len, NULL) == 0, "HTML is valid UTF-8");
        FUZZ_CHECK(utf8_check(text.s, text.len, NULL) == 0, "text is valid UTF-8");
    }
    FUZZ_CHECK(canonical == 0 || canonical == 1, "the canonical flag is set");
    if (canonical == 1) {
        struct buf clean = BUF_INIT;
        int removed = sanitize_html(html.s, html.len, &clean);
        FUZZ_CHECK(removed == 0 && clean.len == html.len && !memcmp(clean.s, html.s, html.len),
                   "canonical HTML is what the sanitizer makes of it");
        buf_release(&clean);
    }
    buf_release(&html);
    buf_release(&text);
    diags_free(&dg);
    return 0;
}
