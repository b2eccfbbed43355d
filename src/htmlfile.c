/* htmlfile.c - answers saved from a browser as .html/.htm, and the plain
 * text of any HTML (html_to_text).
 *
 * The page is parsed by libxml2's HTML parser with no encoding given, so the
 * page's own declaration (<meta charset=gbk>, or http-equiv Content-Type)
 * decides, and the tree is UTF-8 whatever the file was.
 *
 * The main content of a page is chosen by this rule:
 *   1. Boilerplate is removed everywhere: head, script, style, noscript,
 *      template, nav, aside, footer, iframe, object, embed, button, select,
 *      textarea, dialog and elements with the hidden attribute.  A <form>
 *      is unwrapped rather than removed (some sites wrap the whole page in
 *      one); its controls go with the list above.
 *   2. The first <article> in document order is the content; else the
 *      first <main>.  Inside them <header> stays (it holds the title).
 *   3. Otherwise <header> elements are removed too, and the content is found
 *      by descending from <body>: among the nearest div, section and td
 *      elements below the current one, take the one holding the most text;
 *      descend into it while it holds at least 3/5 of the current element's
 *      text, and stop at the first element where no single one does.  Text
 *      counts in code points, without white space and without link text (so
 *      menus of links weigh nothing).  A page of three divs where one holds
 *      most of the words gives that div; a page whose text is spread out
 *      gives the whole body.
 * Relative images in the content become deck media (image_resolve()); the
 * inner HTML of the content is returned unsanitized: the pipeline sanitizes
 * every field. */
#include "mdeck/htmlfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "mdeck/render.h"
#include "mdeck/sanitize.h"

static int name_in(const xmlChar *name, const char *list)
{
    size_t n = strlen((const char *)name);
    if (!n) return 0;
    for (const char *p = strstr(list, (const char *)name); p; p = strstr(p + 1, (const char *)name))
        if (p[-1] == ' ' && p[n] == ' ') return 1;
    return 0;
}

static int is_element(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* The node after n's subtree in document order, or NULL at root's end. */
static xmlNode *after(xmlNode *n, xmlNode *root)
{
    while (n != root) {
        if (n->next) return n->next;
        n = n->parent;
    }
    return NULL;
}

/* Pre-order successor of n inside root. */
static xmlNode *next_node(xmlNode *n, xmlNode *root)
{
    if (n->children && n->type == XML_ELEMENT_NODE) return n->children;
    return after(n, root);
}

/* --- plain text ------------------------------------------------------------- */

static const char block_elements[] =
    " address article aside blockquote caption dd details dialog div dl dt"
    " fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li"
    " main nav ol p pre section summary table tbody td tfoot th thead tr ul ";

static const char unseen_elements[] =
    " head script style title template noscript iframe object embed svg math"
    " select textarea button ";

struct totext {
    struct textw tw;
    int pre;            /* inside <pre>: white space is kept */
    int pre_start;      /* ...and its first newline dropped, as browsers do */
    long *counters;     /* next number of each open list; -1: unordered */
    size_t nlists, cap;
};

static void text_of_node(struct totext *t, const char *s)
{
    if (t->pre) {
        if (t->pre_start && *s == '\n') s++;
        t->pre_start = 0;
        textw_text(&t->tw, s, strlen(s));
        return;
    }
    while (*s) {
        size_t ws = strspn(s, " \t\n\r\f");
        if (ws) {
            textw_space(&t->tw);
            s += ws;
        }
        size_t n = strcspn(s, " \t\n\r\f");
        textw_text(&t->tw, s, n);
        s += n;
    }
}

static void list_item(struct totext *t)
{
    char marker[24] = "- ";
    if (t->nlists && t->counters[t->nlists - 1] >= 0)
        snprintf(marker, sizeof marker, "%ld. ", t->counters[t->nlists - 1]++);
    textw_block(&t->tw);
    textw_push_item(&t->tw, marker);
}

/* Returns 1 when the element's children are to be read. */
static int text_enter(struct totext *t, xmlNode *n)
{
    const char *name = (const char *)n->name;
    if (name_in(n->name, unseen_elements)) return 0;
    if (!strcmp(name, "br")) {
        textw_block(&t->tw);
    } else if (!strcmp(name, "img")) {
        xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
        const char *a = alt && *alt ? (const char *)alt : "[image]";
        text_of_node(t, a);
        xmlFree(alt);
    } else if (!strcmp(name, "input")) {
        xmlChar *type = xmlGetProp(n, (const xmlChar *)"type");
        if (type && !xmlStrcasecmp(type, (const xmlChar *)"checkbox"))
            textw_text(&t->tw, xmlHasProp(n, (const xmlChar *)"checked") ? "[x] " : "[ ] ", 4);
        xmlFree(type);
    } else if (!strcmp(name, "ul") || !strcmp(name, "ol")) {
        long start = -1;
        if (name[0] == 'o') {
            xmlChar *s = xmlGetProp(n, (const xmlChar *)"start");
            start = s ? strtol((const char *)s, NULL, 10) : 1;
            if (start < 0) start = 1;
            xmlFree(s);
        }
        GROW(t->counters, t->nlists + 1, t->cap);
        t->counters[t->nlists++] = start;
        textw_block(&t->tw);
    } else if (!strcmp(name, "li")) {
        list_item(t);
    } else if (!strcmp(name, "blockquote")) {
        textw_block(&t->tw);
        textw_push_quote(&t->tw);
    } else if (!strcmp(name, "td") || !strcmp(name, "th")) {
        xmlNode *p = n->prev;
        while (p && p->type != XML_ELEMENT_NODE) p = p->prev;
        if (p && (is_element(p, "td") || is_element(p, "th"))) {
            textw_text(&t->tw, " |", 2);
            textw_space(&t->tw);
        }
    } else if (name_in(n->name, block_elements)) {
        textw_block(&t->tw);
        if (!strcmp(name, "pre")) t->pre_start = !t->pre++;
    }
    return 1;
}

static void text_leave(struct totext *t, xmlNode *n)
{
    const char *name = (const char *)n->name;
    if (!strcmp(name, "ul") || !strcmp(name, "ol")) {
        if (t->nlists) t->nlists--;
        textw_block(&t->tw);
    } else if (!strcmp(name, "li") || !strcmp(name, "blockquote")) {
        textw_pop(&t->tw);
    } else if (!strcmp(name, "td") || !strcmp(name, "th")) {
        /* cells stay on their row's line */
    } else if (name_in(n->name, block_elements)) {
        if (!strcmp(name, "pre") && t->pre) t->pre--;
        textw_block(&t->tw);
    }
}

/* Appends the plain text of root's children; no recursion. */
static void text_of_tree(xmlNode *root, struct buf *out)
{
    struct totext t;
    memset(&t, 0, sizeof t);
    textw_init(&t.tw, out);
    xmlNode *n = root->children;
    while (n) {
        int descend = 0;
        if (n->type == XML_ELEMENT_NODE) {
            descend = text_enter(&t, n);
        } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            text_of_node(&t, (const char *)n->content);
        }
        if (descend && n->children) {
            n = n->children;
            continue;
        }
        if (descend) text_leave(&t, n);
        while (n != root && !n->next) {
            n = n->parent;
            if (n != root) text_leave(&t, n);
        }
        if (n == root) break;
        n = n->next;
    }
    textw_finish(&t.tw);
    free(t.counters);
}

void html_to_text(const char *html, size_t len, struct buf *text)
{
    xmlDoc *doc = html_parse_fragment(html, len);
    if (!doc) return;
    text_of_tree((xmlNode *)doc, text);
    xmlFreeDoc(doc);
}

/* --- main content ------------------------------------------------------------- */

static const char boilerplate[] =
    " head script style noscript template nav aside footer iframe object embed"
    " button select textarea dialog ";

/* Removes boilerplate under root (and <header> too when headers is set). */
static void strip(xmlNode *root, int headers)
{
    xmlNode *n = root->children;
    while (n) {
        xmlNode *next;
        if (n->type == XML_ELEMENT_NODE &&
            (name_in(n->name, boilerplate) || (headers && is_element(n, "header")) ||
             xmlHasProp(n, (const xmlChar *)"hidden"))) {
            next = after(n, root);
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        } else if (n->type == XML_COMMENT_NODE) {
            next = after(n, root);
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        } else if (is_element(n, "form")) {
            next = n->children ? n->children : after(n, root);
            html_unwrap(n);
        } else {
            next = next_node(n, root);
        }
        n = next;
    }
}

static xmlNode *first_element(xmlNode *root, const char *name)
{
    for (xmlNode *n = root->children; n; n = next_node(n, root))
        if (is_element(n, name)) return n;
    return NULL;
}

#define SCORE(n) ((size_t)(uintptr_t)(n)->_private)

static size_t visible_length(const char *s)
{
    size_t k = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80 && !strchr(" \t\n\r\f", *s)) k++;
    return k;
}

/* Stores in each element's _private the length of the text under it, link
 * text left out.  Post-order, without recursion. */
static void score_tree(xmlNode *root)
{
    for (xmlNode *n = root; n; n = next_node(n, root))
        if (n->type == XML_ELEMENT_NODE) n->_private = NULL;
    xmlNode *n = root->children;
    while (n) {
        if (n->type == XML_TEXT_NODE && n->content && n->parent->type == XML_ELEMENT_NODE)
            n->parent->_private = (void *)(uintptr_t)(SCORE(n->parent) +
                                                     visible_length((const char *)n->content));
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        /* n is done: add it to its parent, then climb to the next sibling */
        while (n != root) {
            xmlNode *p = n->parent;
            if (n->type == XML_ELEMENT_NODE && !is_element(n, "a"))
                p->_private = (void *)(uintptr_t)(SCORE(p) + SCORE(n));
            if (n->next) break;
            n = p;
        }
        n = n == root ? NULL : n->next;
    }
}

static int is_candidate(const xmlNode *n)
{
    return n->type == XML_ELEMENT_NODE && name_in(n->name, " div section td ");
}

/* Rule 3 above: descend from body while one block holds 3/5 of the text. */
static xmlNode *densest(xmlNode *body)
{
    score_tree(body);
    xmlNode *cur = body;
    for (;;) {
        size_t total = SCORE(cur), best_score = 0;
        xmlNode *best = NULL;
        xmlNode *n = cur->children;
        while (n) {
            if (is_candidate(n)) {
                if (SCORE(n) > best_score) {
                    best = n;
                    best_score = SCORE(n);
                }
                n = after(n, cur);
            } else {
                n = next_node(n, cur);
            }
        }
        if (!best || best_score * 5 < total * 3) return cur;
        cur = best;
    }
}

static xmlNode *main_content(xmlDoc *doc)
{
    strip((xmlNode *)doc, 0);
    xmlNode *top = xmlDocGetRootElement(doc);
    if (!top) return NULL;
    xmlNode *m = first_element(top, "article");
    if (!m) m = first_element(top, "main");
    if (m) return m;
    strip((xmlNode *)doc, 1);
    top = xmlDocGetRootElement(doc);
    if (!top) return NULL;
    xmlNode *body = is_element(top, "body") ? top : first_element(top, "body");
    return densest(body ? body : top);
}

/* Relative images under root become deck media; ones leaving the deck
 * folder are removed. */
static void images(struct deck *d, xmlNode *root, const char *base_dir, const char *rel,
                   struct diags *dg)
{
    xmlNode *n = root->children;
    while (n) {
        xmlNode *next = next_node(n, root);
        xmlChar *src = is_element(n, "img") ? xmlGetProp(n, (const xmlChar *)"src") : NULL;
        if (src) {
            const char *name = NULL;
            int line = (int)xmlGetLineNo(n);
            switch (image_resolve(d, base_dir, (const char *)src, rel, line > 0 ? line : 0, 0, dg,
                                  &name)) {
            case IMAGE_MEDIA: xmlSetProp(n, (const xmlChar *)"src", (const xmlChar *)name); break;
            case IMAGE_ESCAPES:
                next = after(n, root);
                xmlUnlinkNode(n);
                xmlFreeNode(n);
                break;
            default: break;
            }
            xmlFree(src);
        }
        n = next;
    }
}

/* --- <img> tags in raw HTML ---------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

/* One attribute of a start tag, as the HTML tokenizer reads it. */
struct tag_attr {
    const char *name, *value;   /* value NULL: no "=" */
    size_t nlen, vlen;
    const char *vbegin, *vend;  /* the value as written, quotes included */
};

/* Reads the next attribute at *p (inside a tag, after its name); returns 0
 * at the tag's '>' or at end.  *p moves past what was read. */
static int next_attr(const char **p, const char *end, struct tag_attr *a)
{
    const char *q = *p;
    while (q < end && (is_space(*q) || *q == '/')) q++;
    if (q >= end || *q == '>') {
        *p = q;
        return 0;
    }
    memset(a, 0, sizeof *a);
    a->name = q;
    while (q < end && !is_space(*q) && *q != '/' && *q != '>' && (*q != '=' || q == a->name)) q++;
    a->nlen = (size_t)(q - a->name);
    const char *r = q;
    while (r < end && is_space(*r)) r++;
    if (r < end && *r == '=') {
        r++;
        while (r < end && is_space(*r)) r++;
        a->vbegin = r;
        if (r < end && (*r == '"' || *r == '\'')) {
            const char *close = memchr(r + 1, *r, (size_t)(end - r - 1));
            a->value = r + 1;
            a->vlen = close ? (size_t)(close - r - 1) : (size_t)(end - r - 1);
            r = close ? close + 1 : end;
        } else {
            a->value = r;
            while (r < end && !is_space(*r) && *r != '>') r++;
            a->vlen = (size_t)(r - a->value);
        }
        a->vend = r;
        q = r;
    }
    *p = q;
    return 1;
}

static int attr_is(const struct tag_attr *a, const char *name)
{
    return a->nlen == strlen(name) && !strncasecmp(a->name, name, a->nlen);
}

/* The next "<img" start tag in [p, end), or NULL. */
static const char *find_img(const char *p, const char *end)
{
    for (; p + 4 < end; p++)
        if (p[0] == '<' && !strncasecmp(p + 1, "img", 3) &&
            (is_space(p[4]) || p[4] == '/' || p[4] == '>'))
            return p;
    return NULL;
}

int html_tag_attr(const char *tag, size_t n, const char *name, struct buf *value)
{
    const char *p = tag, *end = tag + n;
    if (p < end && *p == '<') p++;
    while (p < end && !is_space(*p) && *p != '/' && *p != '>') p++;
    struct tag_attr a;
    while (next_attr(&p, end, &a))
        if (attr_is(&a, name)) {
            if (a.value) buf_add(value, a.value, a.vlen);
            return 1;
        }
    return 0;
}

void html_rewrite_images(struct deck *d, const char *base_dir, const char *html, size_t n,
                         const char *path, int line, int col, struct diags *dg, struct buf *out)
{
    const char *end = html + n, *done = html, *tag, *p = html;
    while ((tag = find_img(p, end))) {
        const char *q = tag + 4;
        struct tag_attr a, src = {0};
        while (next_attr(&q, end, &a))
            if (!src.name && attr_is(&a, "src") && a.value) src = a;
        p = q; /* the tag's '>' (or the end) */
        if (!src.name) continue;
        int tl = line, tc = col;
        for (const char *c = html; c < tag; c++) {
            if (*c == '\n') tl++, tc = 1;
            else if (((unsigned char)*c & 0xC0) != 0x80) tc++;
        }
        char *value = xstrndup(src.value, src.vlen);
        const char *name = NULL;
        switch (image_resolve(d, base_dir, value, path, tl, tc, dg, &name)) {
        case IMAGE_MEDIA:
            buf_add(out, done, (size_t)(src.vbegin - done));
            buf_addf(out, "\"%s\"", name);
            done = src.vend;
            break;
        case IMAGE_ESCAPES:
            buf_add(out, done, (size_t)(tag - done));
            done = q < end ? q + 1 : end;
            break;
        default: break;
        }
        free(value);
    }
    buf_add(out, done, (size_t)(end - done));
}

int htmlfile_extract(struct deck *d, const char *path, const char *rel,
                     struct buf *html, struct buf *text, struct diags *dg)
{
    struct buf data = BUF_INIT;
    if (read_file(path, &data) < 0) {
        if (dg) diag_add(dg, SEV_ERROR, rel, 0, 0, "cannot read: %s", strerror(errno));
        buf_release(&data);
        return -1;
    }
    int bad = 0;
    xmlDoc *doc = html_read(data.s, data.len, NULL, &bad);
    size_t len = data.len;
    buf_release(&data);
    if (!doc) {
        if (len == 0) return 0; /* an empty page is an empty answer */
        if (dg) diag_add(dg, SEV_ERROR, rel, 0, 0, "cannot parse as HTML");
        return -1;
    }
    if (bad && dg)
        diag_add(dg, SEV_WARNING, rel, 0, 0,
                 "bytes that are not valid %s: the text after them may be missing",
                 doc->encoding ? (const char *)doc->encoding : "UTF-8");
    xmlNode *root = main_content(doc);
    if (root) {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
        if (!*dir) {
            free(dir);
            dir = xstrdup("/");
        }
        images(d, root, dir, rel, dg);
        free(dir);
        if (html) html_serialize_children(root, html);
        if (text) text_of_tree(root, text);
    }
    xmlFreeDoc(doc);
    return 0;
}
