/* render.h - markdown (through md4c's parser callbacks) to the HTML Anki
 * shows and to plain text for Quizlet.
 *
 * One pass over the markdown produces both renderings.  Math spans become
 * MathJax delimiters \( \) and \[ \] with the TeX untouched; fenced code
 * becomes <pre><code class="language-X">.  Relative images (markdown ones
 * and <img> tags in raw HTML) are resolved against base_dir, registered as
 * deck media and their src rewritten; raw HTML otherwise passes through.
 * tests/spec/render.txt and tests/spec/text.txt state every rule with an
 * example the tests run. */
#ifndef MDECK_RENDER_H
#define MDECK_RENDER_H

#include <stddef.h>

#include <md4c.h>

#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* md4c parser flags used for the index and every answer. */
#define MDECK_MD_FLAGS                                                         \
    (MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS |              \
     MD_FLAG_LATEXMATHSPANS | MD_FLAG_PERMISSIVEAUTOLINKS)

struct render_ctx {
    struct deck *deck;     /* receives media; may be NULL (no images copied) */
    const char *path;      /* file the markdown came from, for diagnostics */
    const char *base_dir;  /* folder relative image paths are resolved in */
    const char *src_base;  /* start of the whole file, for line numbers... */
    int first_line;        /* ...or, when src_base is NULL, line of md[0] */
    int *canonical;        /* output, may be NULL: 1 when the HTML is
                              canonical (below), else 0 */
};

/* Renders md[0..len) to HTML (appended to html) and plain text (appended to
 * text; either may be NULL).  md[len] must be readable: md is a string or a
 * slice of one (a slice is parsed from a NUL-terminated copy).  Returns 0, or -1 when md4c failed. Missing
 * images are warnings (the <img> keeps its original src); escaping paths are
 * errors (the <img> is left out). dg may be NULL. */
int render_markdown(const struct render_ctx *rc, const char *md, size_t len,
                    struct buf *html, struct buf *text, struct diags *dg);

/* --- canonical HTML: what needs no sanitizing --------------------------------
 *
 * The HTML render_markdown() writes is canonical when it is byte for byte
 * what sanitize_html() makes of it, so that sanitizing it can be skipped.
 * The renderer says so (rc->canonical) only when
 *   - no raw HTML was written (inline tags or HTML blocks): that is the
 *     sanitizer's to clean;
 *   - every URL (<a href>, <img src>) and the class of a code block pass
 *     sanitize_attr_ok(), the sanitizer's own attribute rule;
 *   - every byte of the output passes sanitize_text_ok() (the sanitizer
 *     would turn control characters and bad UTF-8 into U+FFFD);
 *   - every element is closed in the order it was opened (md4c 0.4.8 can
 *     report overlapping emphasis) and no link is nested in another (an
 *     HTML parser closes the outer one);
 *   - nothing was flattened (MAX_NESTING) and elements nest at most 200
 *     deep (libxml2 stops at 256);
 *   - md4c did not fail.
 * Everything else the renderer writes (its tags, attribute quoting, text
 * escaping, newlines) is the sanitizer's serialization already.
 * tests/unit/test_canonical.c checks sanitize_html(html) == html for every
 * canonical render of the spec examples and of generated answers, and
 * tests/fuzz/fuzz_render.c does on every fuzzed input. */

/* Plain text from HTML (tags dropped, entities decoded, block elements as
 * line breaks); used for HTML answer files.  The rules are those of the
 * markdown plain text (tests/spec/text.txt, kind html-text). Implemented in
 * htmlfile.c. */
void html_to_text(const char *html, size_t len, struct buf *text);

/* --- image references (images.c), shared by render.c and htmlfile.c ------- */

enum image_ref {
    IMAGE_REMOTE,   /* has a scheme or starts with //: left as it is */
    IMAGE_MEDIA,    /* registered: use *name as the src */
    IMAGE_MISSING,  /* warning recorded; keep the original src */
    IMAGE_ESCAPES,  /* error recorded; leave the image out */
};

/* Resolves the image reference src written in path:line:col.  With no deck
 * (d == NULL) every reference is IMAGE_REMOTE.  A relative src is resolved
 * against base_dir (the deck folder when NULL) after dropping ?query and
 * #fragment and decoding %XX; it must stay inside d->dir both as written and
 * after symlinks are resolved, and absolute paths never qualify. */
enum image_ref image_resolve(struct deck *d, const char *base_dir,
                             const char *src, const char *path, int line,
                             int col, struct diags *dg, const char **name);

/* 1 when s starts with a URL scheme as browsers read one: a letter, then
 * letters, digits, + . -, then a colon. */
int url_has_scheme(const char *s);

/* --- the plain-text writer (textw.c), shared by render.c and htmlfile.c -- */

/* Text is written as lines joined by "\n": never a blank line between
 * blocks, never trailing white space on a line, no final newline.  A line
 * starts with one prefix per open container: "> " for a quote, and for a
 * list item its marker ("- ", "3. ", "- [x] ") on the item's first line and
 * two spaces on the lines after it. */
struct textw_level {
    char quote;        /* 1: "> "; 0: list item */
    char marker[24];   /* list item marker, "" once written */
};

struct textw {
    struct buf *out;
    struct textw_level *lv;
    size_t nlv, caplv;
    size_t start;      /* out->len when the writer began */
    int open;          /* the current line has its prefix written */
    int space;         /* a collapsible space is pending (textw_space) */
};

void textw_init(struct textw *w, struct buf *out);
/* Ends the current line (the rest of the writer's output is kept). */
void textw_finish(struct textw *w);
/* Text for the current line; each '\n' in s ends a line, and a '\n' with
 * no line open writes an empty one (blank lines inside code are kept). */
void textw_text(struct textw *w, const char *s, size_t n);
/* A white space that collapses with its neighbours and vanishes at line
 * starts and ends (HTML white space). */
void textw_space(struct textw *w);
/* Ends the current line if one is open: what follows starts a new line.
 * Blocks and hard line breaks both end up here, so neither makes a blank
 * line; only "\n" inside textw_text (code) can. */
void textw_block(struct textw *w);
void textw_push_quote(struct textw *w);
void textw_push_item(struct textw *w, const char *marker);
/* Closes the innermost container; an item that never got text still gets
 * its marker line. */
void textw_pop(struct textw *w);
/* Last code point written (0 when none). */
unsigned textw_last(const struct textw *w);

#endif
