/* render.c - markdown to Anki HTML and to plain text, on md4c's callbacks.
 *
 * md4c's parser walks the text once and calls us back (enter/leave a block,
 * enter/leave a span, text).  struct render holds both outputs and the small
 * state the callbacks need; there is one static function per kind of node,
 * each writing its HTML and its plain text.  md4c-html.c has the same shape;
 * ours differs where Anki needs it: math becomes MathJax delimiters, images
 * become deck media, and a plain-text rendering is made in the same pass.
 *
 * tests/spec/render.txt and tests/spec/text.txt are the specification. */
#include "mdeck/render.h"
#include "mdeck/text.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h> /* htmlEntityLookup(): named entities */

#include "mdeck/htmlfile.h" /* html_rewrite_images(), html_tag_attr() */
#include "mdeck/sanitize.h" /* sanitize_attr_ok(), sanitize_text_ok() */

/* --- UTF-8 and escaping --------------------------------------------------- */

/* Text content: only & < > need escaping (quotes are fine outside tags). */
static void esc_text(struct buf *b, const char *s, size_t n) { buf_add_escaped(b, s, n, 0); }

/* <tag> or </tag>, then after (""; "\n" after a closing block tag).  Not
 * buf_addf: formatting was 3% of a build, for every span. */
static void tag(struct buf *b, const char *name, int enter, const char *after)
{
    buf_adds(b, enter ? "<" : "</");
    buf_adds(b, name);
    buf_addc(b, '>');
    buf_adds(b, after);
}

/* A URL for a double-quoted attribute: bytes outside a safe set are
 * percent-encoded (so spaces, quotes and non-ASCII bytes never reach the
 * attribute raw); '&' is kept here and becomes &amp; when the URL is
 * written (url_attr).  '%' itself is kept: the URL is taken to be encoded
 * already, as CommonMark renderers do. */
static void url_encode(struct buf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || (c && strchr("-_.~!*(),%#@?=;:/+$&", c))) {
            buf_addc(b, (char)c);
        } else {
            char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};
            buf_add(b, e, 3);
        }
    }
}

/* Appends the character an entity ("&amp;", "&#123;", "&#x4E2D;") stands
 * for.  Named entities are those libxml2 knows (HTML 4's); any other name
 * is kept as the literal text it was written as. */
static void entity_decode(struct buf *b, const char *s, size_t n)
{
    if (n > 3 && s[1] == '#') {
        unsigned long cp = 0;
        int hex = s[2] == 'x' || s[2] == 'X';
        for (size_t i = hex ? 3 : 2; i + 1 < n && cp <= 0x10FFFF; i++) {
            char c = s[i];
            unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
                         : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                         : (unsigned)(c - 'A' + 10);
            cp = cp * (hex ? 16 : 10) + d;
        }
        utf8_encode(b, cp > 0x10FFFF ? 0xFFFD : (unsigned)cp);
        return;
    }
    char name[64];
    if (n >= 3 && n - 2 < sizeof name) {
        memcpy(name, s + 1, n - 2);
        name[n - 2] = '\0';
        const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
        if (e) {
            utf8_encode(b, e->value);
            return;
        }
    }
    buf_add(b, s, n);
}

/* An md4c attribute (link destination, title, code info) as plain UTF-8. */
static void attr_decode(struct buf *b, const MD_ATTRIBUTE *a)
{
    if (!a->text) return;
    for (size_t i = 0; a->substr_offsets[i] < a->size; i++) {
        MD_OFFSET off = a->substr_offsets[i];
        MD_SIZE n = a->substr_offsets[i + 1] - off;
        switch (a->substr_types[i]) {
        case MD_TEXT_NULLCHAR: utf8_encode(b, 0xFFFD); break;
        case MD_TEXT_ENTITY: entity_decode(b, a->text + off, n); break;
        default: buf_add(b, a->text + off, n); break;
        }
    }
}

/* --- the renderer ------------------------------------------------------------ */

struct list {
    int ordered;
    unsigned next;
};

struct render {
    const struct render_ctx *rc;
    const char *md;
    size_t len;
    struct buf *html;
    struct textw tw;
    struct diags *dg;

    struct list *lists;     /* open lists, for plain-text item markers */
    size_t nlists, caplists;
    int in_code_block;
    int in_html_block;
    struct buf raw;         /* an HTML block's source, written when it ends */
    size_t raw_off;         /* where the block starts in md */
    int raw_have_off;
    int in_cell;            /* plain text: line breaks become spaces */
    unsigned cell;          /* cells written in the current row */
    int soft;               /* plain text: a soft break waits for text */

    int math;               /* inside a math span: 1 inline, 2 display */
    struct buf tex;

    int img_depth;          /* > 0 inside an image's description */
    struct buf img_src, img_title, img_alt;
    size_t img_off;         /* where the image is, for diagnostics */
    int img_have_off;

    size_t pos;             /* offset of the last text seen */
    int have_pos;
    size_t *lines;          /* offsets of line starts in md, built lazily */
    size_t nlines;
    int line0;              /* line number of md[0] */
    int nesting;            /* open quotes, lists and items */
    const char *parsed;     /* what md4c parses: md, or a copy of it (md_safe) */
    int canonical;          /* 0 once something was written that the
                               sanitizer would change (render.h) */
    int links;              /* open <a> elements */
};

/* Quotes, lists and items nested deeper than this are flattened into the
 * deepest one kept: their text stays (an item starts a new line), their
 * markup goes.  libxml2, which the sanitizer parses with, stops a document
 * at 256 levels and drops everything below (tests/unit/test_render.c). */
#define MAX_NESTING 100

static int is_container(MD_BLOCKTYPE type)
{
    return type == MD_BLOCK_QUOTE || type == MD_BLOCK_UL || type == MD_BLOCK_OL ||
           type == MD_BLOCK_LI;
}

/* Records where in md the text at p is; md4c gives no positions, but text
 * pointers point into the input (except for text it made up). */
static void note_pos(struct render *r, const char *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)r->parsed;
    if (a < b || a >= b + r->len) return;
    r->pos = a - b;
    r->have_pos = 1;
    if (r->img_depth && !r->img_have_off) {
        r->img_off = r->pos;
        r->img_have_off = 1;
    }
}

/* 1-based line and column (in code points) of md[off]. */
static void position(struct render *r, size_t off, int *line, int *col)
{
    if (!r->lines) {
        r->line0 = r->rc->first_line > 0 ? r->rc->first_line : 1;
        if (r->rc->src_base) {
            r->line0 = 1;
            /* memchr: this runs for every image, from the file's start */
            for (const char *p = r->rc->src_base;
                 (p = memchr(p, '\n', (size_t)(r->md - p))); p++)
                r->line0++;
        }
        size_t cap = 0;
        GROW(r->lines, 1, cap);
        r->lines[r->nlines++] = 0;
        for (size_t i = 0; i < r->len; i++)
            if (r->md[i] == '\n') {
                GROW(r->lines, r->nlines + 1, cap);
                r->lines[r->nlines++] = i + 1;
            }
    }
    size_t lo = 0, hi = r->nlines; /* last line start <= off */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (r->lines[mid] <= off) lo = mid; else hi = mid;
    }
    const char *start = r->md + r->lines[lo];
    if (r->rc->src_base && lo == 0) /* md may start in the middle of a line */
        while (start > r->rc->src_base && start[-1] != '\n') start--;
    *line = r->line0 + (int)lo;
    *col = 1;
    for (const char *p = start; p < r->md + off; p++)
        *col += ((unsigned char)*p & 0xC0) != 0x80;
}

/* Where the image being closed starts: the "![" before its description. */
static void image_position(struct render *r, const MD_SPAN_IMG_DETAIL *d, int *line, int *col)
{
    size_t off = 0;
    uintptr_t s = (uintptr_t)d->src.text, m = (uintptr_t)r->parsed;
    if (r->img_have_off) off = r->img_off;
    else if (d->src.text && s >= m && s < m + r->len) off = s - m;
    else if (r->have_pos) off = r->pos;
    for (size_t i = off; i >= 2 && r->md[i - 1] != '\n'; i--)
        if (r->md[i - 2] == '!' && r->md[i - 1] == '[') {
            off = i - 2;
            break;
        }
    position(r, off, line, col);
}

/* Plain text of inline content: a pending soft break becomes a space,
 * except between two wide (CJK) characters. */
static void plain_inline(struct render *r, const char *s, size_t n)
{
    if (!n) return;
    if (r->soft) {
        r->soft = 0;
        if (!(cp_is_wide(textw_last(&r->tw)) && cp_is_wide(utf8_first(s, n)))) textw_space(&r->tw);
    }
    const char *nl;
    while ((nl = memchr(s, '\n', n))) { /* never in inline text; be safe */
        textw_text(&r->tw, s, (size_t)(nl - s));
        textw_space(&r->tw);
        n -= (size_t)(nl - s) + 1;
        s = nl + 1;
    }
    textw_text(&r->tw, s, n);
}

static void plain_break(struct render *r)
{
    r->soft = 0;
    if (r->in_cell) textw_space(&r->tw);
    else textw_block(&r->tw);
}

/* --- blocks ------------------------------------------------------------------- */

static void block_quote(struct render *r, int enter)
{
    if (enter) {
        buf_adds(r->html, "<blockquote>");
        textw_block(&r->tw);
        textw_push_quote(&r->tw);
    } else {
        buf_adds(r->html, "</blockquote>\n");
        textw_pop(&r->tw);
    }
}

static void block_ul(struct render *r, int enter)
{
    if (enter) {
        buf_adds(r->html, "<ul>");
        GROW(r->lists, r->nlists + 1, r->caplists);
        r->lists[r->nlists++] = (struct list){0, 0};
        textw_block(&r->tw);
    } else {
        buf_adds(r->html, "</ul>\n");
        r->nlists--;
    }
}

static void block_ol(struct render *r, const MD_BLOCK_OL_DETAIL *d, int enter)
{
    if (enter) {
        if (d->start == 1) buf_adds(r->html, "<ol>");
        else buf_addf(r->html, "<ol start=\"%u\">", d->start);
        GROW(r->lists, r->nlists + 1, r->caplists);
        r->lists[r->nlists++] = (struct list){1, d->start};
        textw_block(&r->tw);
    } else {
        buf_adds(r->html, "</ol>\n");
        r->nlists--;
    }
}

static void block_li(struct render *r, const MD_BLOCK_LI_DETAIL *d, int enter)
{
    if (!enter) {
        buf_adds(r->html, "</li>\n");
        textw_pop(&r->tw);
        return;
    }
    int checked = d->is_task && (d->task_mark == 'x' || d->task_mark == 'X');
    char marker[24] = "- ";
    struct list *l = r->nlists ? &r->lists[r->nlists - 1] : NULL;
    if (l && l->ordered) snprintf(marker, sizeof marker, "%u. ", l->next++);
    if (d->is_task) {
        buf_adds(r->html, checked ? "<li class=\"task\"><input type=\"checkbox\" checked disabled> "
                                  : "<li class=\"task\"><input type=\"checkbox\" disabled> ");
        strcat(marker, checked ? "[x] " : "[ ] ");
    } else {
        buf_adds(r->html, "<li>");
    }
    textw_block(&r->tw);
    textw_push_item(&r->tw, marker);
}

static void block_hr(struct render *r, int enter)
{
    if (enter) buf_adds(r->html, "<hr>\n");
    textw_block(&r->tw);
}

static void block_h(struct render *r, const MD_BLOCK_H_DETAIL *d, int enter)
{
    unsigned level = d->level >= 1 && d->level <= 6 ? d->level : 6;
    buf_addf(r->html, enter ? "<h%u>" : "</h%u>\n", level);
    textw_block(&r->tw);
}

static void block_code(struct render *r, const MD_BLOCK_CODE_DETAIL *d, int enter)
{
    textw_block(&r->tw);
    r->in_code_block = enter;
    if (!enter) {
        buf_adds(r->html, "</code></pre>\n");
        return;
    }
    buf_adds(r->html, "<pre><code");
    if (d->lang.text && d->lang.size) {
        struct buf lang = BUF_INIT, cls = BUF_INIT;
        attr_decode(&lang, &d->lang);
        if (!str_starts_with(lang.s, "language-")) buf_adds(&cls, "language-");
        buf_add(&cls, lang.s, lang.len);
        /* ("```javascript:" gives a class the sanitizer removes) */
        if (!sanitize_attr_ok("code", "class", cls.s)) r->canonical = 0;
        buf_adds(r->html, " class=\"");
        buf_add_html_escaped(r->html, cls.s, cls.len);
        buf_addc(r->html, '"');
        buf_release(&lang);
        buf_release(&cls);
    }
    buf_addc(r->html, '>');
}

/* Raw HTML: written as it is, except that the src of an <img> in it goes
 * through image_resolve() like a markdown image's.  off is where html
 * starts in md (have_off 0: unknown). */
static void raw_html(struct render *r, const char *html, size_t n, size_t off, int have_off)
{
    r->canonical = 0; /* raw HTML is the sanitizer's to clean */
    int has_img = 0;
    for (size_t i = 0; i + 4 <= n && !has_img; i++)
        has_img = html[i] == '<' && !strncasecmp(html + i + 1, "img", 3);
    if (!r->rc->deck || !has_img) {
        buf_add(r->html, html, n);
        return;
    }
    int line = 0, col = 0;
    if (have_off) position(r, off, &line, &col);
    else if (r->have_pos) position(r, r->pos, &line, &col);
    html_rewrite_images(r->rc->deck, r->rc->base_dir, html, n, r->rc->path, line, col, r->dg,
                        r->html);
}

/* An HTML block is written when it ends (an <img> tag may span lines); its
 * plain text is html_to_text() of it. */
static void block_html(struct render *r, int enter)
{
    r->in_html_block = enter;
    if (enter) {
        buf_reset(&r->raw);
        r->raw_have_off = 0;
        return;
    }
    raw_html(r, r->raw.s, r->raw.len, r->raw_off, r->raw_have_off);
    struct buf t = BUF_INIT;
    html_to_text(r->raw.s, r->raw.len, &t);
    textw_block(&r->tw);
    textw_text(&r->tw, t.s, t.len);
    textw_block(&r->tw);
    buf_release(&t);
}

static void block_p(struct render *r, int enter)
{
    buf_adds(r->html, enter ? "<p>" : "</p>\n");
    textw_block(&r->tw);
}

static void block_table_part(struct render *r, MD_BLOCKTYPE type, int enter)
{
    static const char *names[] = {"table", "thead", "tbody", "tr"};
    const char *name = names[type - MD_BLOCK_TABLE];
    tag(r->html, name, enter, enter ? "" : "\n");
    if (type == MD_BLOCK_TR || type == MD_BLOCK_TABLE) textw_block(&r->tw);
    r->cell = 0;
}

/* Plain text: a row is one line, its cells joined by " | ". */
static void block_cell(struct render *r, MD_BLOCKTYPE type, const MD_BLOCK_TD_DETAIL *d, int enter)
{
    const char *name = type == MD_BLOCK_TH ? "th" : "td";
    r->in_cell = enter;
    if (!enter) {
        tag(r->html, name, 0, "");
        r->soft = 0;
        return;
    }
    static const char *align[] = {"", " align=\"left\"", " align=\"center\"", " align=\"right\""};
    buf_addf(r->html, "<%s%s>", name, align[d->align <= MD_ALIGN_RIGHT ? d->align : 0]);
    if (r->cell++) {
        textw_text(&r->tw, " |", 2);
        textw_space(&r->tw);
    }
}

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *u)
{
    struct render *r = u;
    if (is_container(type) && ++r->nesting > MAX_NESTING) {
        r->canonical = 0; /* flattened markup: not worth proving canonical */
        if (type == MD_BLOCK_LI) {
            buf_adds(r->html, "<br>");
            textw_block(&r->tw);
        }
        return 0;
    }
    switch (type) {
    case MD_BLOCK_DOC: break;
    case MD_BLOCK_QUOTE: block_quote(r, 1); break;
    case MD_BLOCK_UL: block_ul(r, 1); break;
    case MD_BLOCK_OL: block_ol(r, detail, 1); break;
    case MD_BLOCK_LI: block_li(r, detail, 1); break;
    case MD_BLOCK_HR: block_hr(r, 1); break;
    case MD_BLOCK_H: block_h(r, detail, 1); break;
    case MD_BLOCK_CODE: block_code(r, detail, 1); break;
    case MD_BLOCK_HTML: block_html(r, 1); break;
    case MD_BLOCK_P: block_p(r, 1); break;
    case MD_BLOCK_TABLE:
    case MD_BLOCK_THEAD:
    case MD_BLOCK_TBODY:
    case MD_BLOCK_TR: block_table_part(r, type, 1); break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD: block_cell(r, type, detail, 1); break;
    }
    return 0;
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *u)
{
    struct render *r = u;
    if (is_container(type) && r->nesting-- > MAX_NESTING) return 0;
    switch (type) {
    case MD_BLOCK_DOC: break;
    case MD_BLOCK_QUOTE: block_quote(r, 0); break;
    case MD_BLOCK_UL: block_ul(r, 0); break;
    case MD_BLOCK_OL: block_ol(r, detail, 0); break;
    case MD_BLOCK_LI: block_li(r, detail, 0); break;
    case MD_BLOCK_HR: block_hr(r, 0); break;
    case MD_BLOCK_H: block_h(r, detail, 0); break;
    case MD_BLOCK_CODE: block_code(r, detail, 0); break;
    case MD_BLOCK_HTML: block_html(r, 0); break;
    case MD_BLOCK_P: block_p(r, 0); break;
    case MD_BLOCK_TABLE:
    case MD_BLOCK_THEAD:
    case MD_BLOCK_TBODY:
    case MD_BLOCK_TR: block_table_part(r, type, 0); break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD: block_cell(r, type, detail, 0); break;
    }
    return 0;
}

/* --- spans -------------------------------------------------------------------- */

static void span_tag(struct render *r, const char *name, int enter) { tag(r->html, name, enter, ""); }

/* Writes the URL s[0..n) as the value of the attribute name of element,
 * which the sanitizer must keep for the HTML to stay canonical: it is
 * asked with the value a parser will read (entities decoded). */
static void url_attr(struct render *r, const char *element, const char *name, const char *s,
                     size_t n)
{
    struct buf u = BUF_INIT;
    url_encode(&u, s, n);
    if (!sanitize_attr_ok(element, name, u.s)) r->canonical = 0;
    buf_add_html_escaped(r->html, u.s, u.len); /* only '&' is left to escape */
    buf_release(&u);
}

static void span_a(struct render *r, const MD_SPAN_A_DETAIL *d, int enter)
{
    if (!enter) {
        buf_adds(r->html, "</a>");
        r->links--;
        return;
    }
    /* md4c 0.4.8 nests an autolink inside a link's text; an HTML parser
     * closes the outer <a> there, so the sanitizer moves the rest out. */
    if (r->links++) r->canonical = 0;
    struct buf v = BUF_INIT;
    attr_decode(&v, &d->href);
    buf_adds(r->html, "<a href=\"");
    url_attr(r, "a", "href", v.s, v.len);
    if (d->title.text) {
        buf_reset(&v);
        attr_decode(&v, &d->title);
        buf_adds(r->html, "\" title=\"");
        buf_add_html_escaped(r->html, v.s, v.len);
    }
    buf_adds(r->html, "\">");
    buf_release(&v);
}

/* An image's description goes to its alt text, as plain text; the <img> is
 * written when the image closes, once we know where it is (for messages). */
static void span_img(struct render *r, const MD_SPAN_IMG_DETAIL *d, int enter)
{
    if (enter) {
        if (r->img_depth++) return;
        buf_reset(&r->img_src);
        buf_reset(&r->img_title);
        buf_reset(&r->img_alt);
        attr_decode(&r->img_src, &d->src);
        if (d->title.text) attr_decode(&r->img_title, &d->title);
        r->img_have_off = 0;
        return;
    }
    if (--r->img_depth) return;

    const char *src = r->img_src.s, *name = NULL;
    enum image_ref kind = IMAGE_REMOTE;
    if (r->rc->deck) {
        int line = 0, col = 0;
        if (!url_has_scheme(src) && strncmp(src, "//", 2) != 0) image_position(r, d, &line, &col);
        kind = image_resolve(r->rc->deck, r->rc->base_dir, src, r->rc->path, line, col, r->dg, &name);
    }
    if (kind != IMAGE_ESCAPES) {
        buf_adds(r->html, "<img src=\"");
        if (kind == IMAGE_MEDIA) url_attr(r, "img", "src", name, strlen(name));
        else url_attr(r, "img", "src", r->img_src.s, r->img_src.len);
        buf_adds(r->html, "\" alt=\"");
        buf_add_html_escaped(r->html, r->img_alt.s, r->img_alt.len);
        if (d->title.text) {
            buf_adds(r->html, "\" title=\"");
            buf_add_html_escaped(r->html, r->img_title.s, r->img_title.len);
        }
        buf_adds(r->html, "\">");
    }
    if (r->img_alt.len) plain_inline(r, r->img_alt.s, r->img_alt.len);
    else plain_inline(r, "[image]", 7);
}

/* $…$ and $$…$$ become MathJax's \(…\) and \[…\]; the TeX is escaped for
 * HTML (& < >) and otherwise untouched.  An inline span whose TeX starts or
 * ends with white space is not math: md4c reads "costs $5 and $10" as the
 * math "5 and ", and like pandoc we take it back as the text it was. */
static void span_math(struct render *r, int display, int enter)
{
    if (enter) {
        r->math = display ? 2 : 1;
        buf_reset(&r->tex);
        return;
    }
    r->math = 0;
    const char *t = r->tex.s;
    size_t n = r->tex.len;
    int literal = !display && (!n || strchr(" \t\n", t[0]) || strchr(" \t\n", t[n - 1]));
    const char *delim = display ? "$$" : "$";
    struct buf plain = BUF_INIT;
    buf_adds(&plain, delim);
    buf_add(&plain, t, n);
    buf_adds(&plain, delim);
    if (r->img_depth) {
        buf_add(&r->img_alt, plain.s, plain.len);
    } else {
        if (literal) {
            esc_text(r->html, plain.s, plain.len);
        } else {
            buf_adds(r->html, display ? "\\[" : "\\(");
            esc_text(r->html, t, n);
            buf_adds(r->html, display ? "\\]" : "\\)");
        }
        plain_inline(r, plain.s, plain.len);
    }
    buf_release(&plain);
}

static int on_span(MD_SPANTYPE type, void *detail, void *u, int enter)
{
    struct render *r = u;
    if (type == MD_SPAN_IMG) {
        span_img(r, detail, enter);
        return 0;
    }
    if (type == MD_SPAN_LATEXMATH || type == MD_SPAN_LATEXMATH_DISPLAY) {
        span_math(r, type == MD_SPAN_LATEXMATH_DISPLAY, enter);
        return 0;
    }
    if (r->img_depth) return 0; /* inside alt text: plain text only */
    switch (type) {
    case MD_SPAN_EM: span_tag(r, "em", enter); break;
    case MD_SPAN_STRONG: span_tag(r, "strong", enter); break;
    case MD_SPAN_CODE: span_tag(r, "code", enter); break;
    case MD_SPAN_DEL: span_tag(r, "del", enter); break;
    case MD_SPAN_U: span_tag(r, "u", enter); break;
    case MD_SPAN_A: span_a(r, detail, enter); break;
    default: break;
    }
    return 0;
}

static int on_enter_span(MD_SPANTYPE type, void *detail, void *u) { return on_span(type, detail, u, 1); }
static int on_leave_span(MD_SPANTYPE type, void *detail, void *u) { return on_span(type, detail, u, 0); }

/* --- text ----------------------------------------------------------------------- */

/* Inline raw HTML (one tag per call): written as is (images aside, see
 * raw_html); in plain text <br> breaks the line and <img> is its alt text. */
static void text_html(struct render *r, const char *s, size_t n)
{
    uintptr_t a = (uintptr_t)s, b = (uintptr_t)r->parsed;
    int in_md = a >= b && a < b + r->len;
    if (r->in_html_block) {
        if (!r->raw_have_off && in_md) {
            r->raw_off = a - b;
            r->raw_have_off = 1;
        }
        buf_add(&r->raw, s, n);
        return;
    }
    raw_html(r, s, n, in_md ? a - b : 0, in_md);
    if (n < 4 || s[0] != '<') return;
    size_t name = 1;
    while (name < n && ((s[name] >= 'a' && s[name] <= 'z') || (s[name] >= 'A' && s[name] <= 'Z')))
        name++;
    if (name == 3 && !strncasecmp(s + 1, "br", 2)) {
        plain_break(r);
    } else if (name == 4 && !strncasecmp(s + 1, "img", 3)) {
        struct buf alt = BUF_INIT;
        html_tag_attr(s, n, "alt", &alt);
        if (alt.len) plain_inline(r, alt.s, alt.len);
        else plain_inline(r, "[image]", 7);
        buf_release(&alt);
    }
}

/* Text inside an image description: plain, for the alt attribute. */
static void text_alt(struct render *r, MD_TEXTTYPE type, const char *s, size_t n)
{
    switch (type) {
    case MD_TEXT_NULLCHAR: utf8_encode(&r->img_alt, 0xFFFD); break;
    case MD_TEXT_BR:
    case MD_TEXT_SOFTBR: buf_addc(&r->img_alt, ' '); break;
    case MD_TEXT_ENTITY: entity_decode(&r->img_alt, s, n); break;
    case MD_TEXT_HTML: break;
    default: buf_add(&r->img_alt, s, n); break;
    }
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *u)
{
    struct render *r = u;
    note_pos(r, s);
    if (r->math) {
        if (type == MD_TEXT_NULLCHAR) utf8_encode(&r->tex, 0xFFFD);
        else if (type == MD_TEXT_BR || type == MD_TEXT_SOFTBR) buf_addc(&r->tex, ' ');
        else buf_add(&r->tex, s, n);
        return 0;
    }
    if (r->img_depth) {
        text_alt(r, type, s, n);
        return 0;
    }
    struct buf e = BUF_INIT;
    switch (type) {
    case MD_TEXT_NULLCHAR:
        buf_adds(r->html, "\xEF\xBF\xBD");
        plain_inline(r, "\xEF\xBF\xBD", 3);
        break;
    case MD_TEXT_BR:
        buf_adds(r->html, "<br>");
        plain_break(r);
        break;
    case MD_TEXT_SOFTBR:
        buf_addc(r->html, '\n');
        r->soft = 1;
        break;
    case MD_TEXT_ENTITY:
        entity_decode(&e, s, n);
        esc_text(r->html, e.s, e.len);
        plain_inline(r, e.s, e.len);
        break;
    case MD_TEXT_HTML:
        text_html(r, s, n);
        break;
    case MD_TEXT_CODE:
        esc_text(r->html, s, n);
        if (r->in_code_block) textw_text(&r->tw, s, n);
        else plain_inline(r, s, n);
        break;
    default: /* MD_TEXT_NORMAL, and MD_TEXT_LATEXMATH outside a span */
        esc_text(r->html, s, n);
        plain_inline(r, s, n);
        break;
    }
    buf_release(&e);
    return 0;
}

/* --- canonical HTML ------------------------------------------------------------ */

/* Elements nested deeper than this are not canonical: libxml2 stops a
 * document at 256 levels (with <html> and <body>). */
#define MAX_CANONICAL_DEPTH 200

/* What can only be checked on the written HTML s[0..n), once the callbacks
 * have kept it free of raw HTML and of attributes the sanitizer drops:
 * bytes that reach libxml2 unchanged, every element closed in the order it
 * was opened (md4c can report spans that overlap), and no nesting libxml2
 * would cut.  Every '<' in such HTML starts a tag the renderer wrote (text
 * has its '<' escaped), so the tags are read without a parser.  s[n] must
 * be readable (it is the NUL ending a buf). */
static int output_canonical(const char *s, size_t n)
{
    if (sanitize_text_ok(s, n) != n) return 0;
    struct { const char *name; size_t len; } stack[MAX_CANONICAL_DEPTH];
    size_t depth = 0;
    for (const char *p = memchr(s, '<', n); p; p = memchr(p + 1, '<', (size_t)(s + n - p - 1))) {
        int end = p[1] == '/';
        const char *name = p + 1 + end;
        size_t len = 0;
        while ((name[len] >= 'a' && name[len] <= 'z') || (name[len] >= '0' && name[len] <= '9'))
            len++;
        if (end) {
            if (!depth || stack[depth - 1].len != len || memcmp(stack[depth - 1].name, name, len))
                return 0;
            depth--;
        } else if (!((len == 2 && (!memcmp(name, "br", 2) || !memcmp(name, "hr", 2))) ||
                     (len == 3 && !memcmp(name, "img", 3)) ||
                     (len == 5 && !memcmp(name, "input", 5)))) {
            if (depth == MAX_CANONICAL_DEPTH) return 0;
            stack[depth].name = name;
            stack[depth].len = len;
            depth++;
        }
    }
    return depth == 0;
}

int render_markdown(const struct render_ctx *rc, const char *md, size_t len,
                    struct buf *html, struct buf *text, struct diags *dg)
{
    struct buf scratch_html = BUF_INIT, scratch_text = BUF_INIT;
    struct render r;
    memset(&r, 0, sizeof r);
    if (rc->canonical) *rc->canonical = 0;
    if (!md) md = "";
    if (len >= 3 && !memcmp(md, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte order mark */
        md += 3;
        len -= 3;
    }
    if (len > UINT_MAX) return -1; /* md4c sizes are unsigned */
    buf_init(&r.raw);
    buf_init(&r.tex);
    buf_init(&r.img_src);
    buf_init(&r.img_title);
    buf_init(&r.img_alt);
    r.rc = rc;
    r.md = md;
    r.len = len;
    r.html = html ? html : &scratch_html;
    size_t html_start = r.html->len;
    r.canonical = 1;
    r.dg = dg;
    textw_init(&r.tw, text ? text : &scratch_text);

    MD_PARSER parser = {
        .abi_version = 0,
        .flags = MDECK_MD_FLAGS,
        .enter_block = on_enter_block,
        .leave_block = on_leave_block,
        .enter_span = on_enter_span,
        .leave_span = on_leave_span,
        .text = on_text,
    };
    /* md4c 0.4.8 (Debian 12) reads a byte past the end of its input after
     * an unclosed link at the very end ("[a](b"): given a slice of a bigger
     * buffer it would read on into the next bytes (found by fuzzing).  So
     * it parses a copy ending in NUL bytes unless md already ends in one;
     * its text pointers then point into the copy (r.parsed), at the same
     * offsets. */
    struct buf copy = BUF_INIT;
    r.parsed = md;
    if (md[len] != '\0') {
        buf_add(&copy, md, len);
        buf_grow(&copy, 16);
        memset(copy.s + copy.len, 0, 16);
        r.parsed = copy.s;
    }
    int rv = md_parse(r.parsed, (MD_SIZE)len, &parser, &r);
    textw_finish(&r.tw);
    buf_release(&copy);

    const char *out = r.html->s + html_start;
    size_t out_len = r.html->len - html_start;
    int canonical = !rv && r.canonical && output_canonical(out, out_len);
    if (rc->canonical) *rc->canonical = canonical;

    free(r.lists);
    free(r.lines);
    buf_release(&r.raw);
    buf_release(&r.tex);
    buf_release(&r.img_src);
    buf_release(&r.img_title);
    buf_release(&r.img_alt);
    buf_release(&scratch_html);
    buf_release(&scratch_text);
    return rv ? -1 : 0;
}
