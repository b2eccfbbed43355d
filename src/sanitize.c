/* sanitize.c - allowlist HTML sanitizer on libxml2's HTML parser.
 *
 * The field is parsed into a tree, the tree is cleaned, and the tree is
 * written out again by our own small serializer.  Whatever the input, the
 * output holds only what the cleaner let through, written so that a browser
 * reads exactly what we checked:
 *   - elements: the allowlist below; script-like and form elements are
 *     dropped with their content; any other element is unwrapped (its
 *     children stay).  Comments and processing instructions are dropped.
 *   - attributes: a small allowlist per element plus class, title, lang, dir
 *     and style everywhere; on* handlers are never on it.
 *   - URLs (href, src) are checked as browsers read them: after entity
 *     decoding (the parser did it), with every control character and space
 *     removed and letters lower-cased; only http, https, mailto, tel, ftp
 *     and relative URLs pass, plus data:image/png|gif|jpeg|webp in <img src>.
 *   - style is kept only when it calls no CSS function but rgb(), rgba(),
 *     hsl(), hsla() and calc(), and holds no backslash (CSS escape), comment,
 *     '@', "expression", "behavior", "binding", "javascript:" or "<" ">".
 *   - every '&' '<' '>' in text and every '&' '<' '>' '"' in attribute values
 *     is written as an entity, so no value can mean something else to the
 *     browser than it meant to the checks.
 * Cleaning can change how the result parses (unwrapping <foo> in
 * <p><foo><div> leaves a <div> inside a <p>, which a parser splits), so the
 * parse-clean-write round is repeated until its output stops changing: that
 * makes sanitize_html() idempotent. */
#include "mdeck/sanitize.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h> /* htmlIsBooleanAttr() */
#include <libxml/tree.h>

/* --- parsing ---------------------------------------------------------------- */

/* The length of the longest prefix of s[0..n) that is well-formed UTF-8
 * holding no code point XML cannot (NUL, C0 controls but tab, LF, CR;
 * U+FFFE, U+FFFF): what utf8_clean() copies unchanged. */
size_t sanitize_text_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* The common case, eight bytes at a time: printable ASCII (no byte
         * with its high bit set, none below 0x20). */
        const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
        uint64_t w;
        while (i + 8 <= n && (memcpy(&w, u + i, 8), !((w | (w - 0x20 * ones)) & highs)))
            i += 8;
        if (i >= n) break;
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
            continue;
        }
        size_t len = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            len = 1;
            cp = c;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        }
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80) ok = 0;
            else cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = 0;
        if (ok && ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
                   cp == 0xFFFE || cp == 0xFFFF))
            ok = 0;
        if (!ok) break;
        i += len;
    }
    return i;
}

/* Appends s[0..n) with every byte sanitize_text_ok() stops at replaced by
 * U+FFFD.  libxml2 would otherwise guess another encoding or stop at them. */
static void utf8_clean(struct buf *out, const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t ok = sanitize_text_ok(s + i, n - i);
        buf_add(out, s + i, ok);
        i += ok;
        if (i >= n) break;
        buf_adds(out, "\xEF\xBF\xBD");
        i++;
    }
}

/* libxml2 reports some errors (bad bytes for the declared encoding, I/O)
 * through its global handler, which prints to stderr: a library stage must
 * not.  This handler counts them instead, for the time of one read. */
static void count_error(void *ctx, xmlErrorPtr e)
{
    int *n = ctx;
    if (n && e && (e->domain == XML_FROM_I18N || e->domain == XML_FROM_IO)) (*n)++;
}

xmlDoc *html_read(const char *data, size_t len, const char *encoding, int *bad_bytes)
{
    int errors = 0;
    if (len > INT_MAX) len = INT_MAX;
    if (!len) return NULL;
    xmlStructuredErrorFunc old = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&errors, count_error);
    int options = HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
    if (encoding) options |= HTML_PARSE_IGNORE_ENC;
    xmlDoc *doc = htmlReadMemory(data, (int)len, NULL, encoding, options);
    xmlSetStructuredErrorFunc(old_ctx, old);
    if (bad_bytes) *bad_bytes = errors;
    return doc;
}

xmlDoc *html_parse_fragment(const char *html, size_t len)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "<html><body>");
    utf8_clean(&b, html, len);
    xmlDoc *doc = html_read(b.s, b.len, "UTF-8", NULL);
    buf_release(&b);
    return doc;
}

/* --- writing ---------------------------------------------------------------- */

static int name_in(const char *name, const char *list)
{
    size_t n = strlen(name);
    if (!n || strchr(name, ' ')) return 0;
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if (p[-1] == ' ' && p[n] == ' ') return 1;
    return 0;
}

static const char void_elements[] =
    " area base br col embed hr img input keygen link meta param source track wbr ";

static void esc(struct buf *b, const char *s, int attr)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': buf_adds(b, "&amp;"); break;
        case '<': buf_adds(b, "&lt;"); break;
        case '>': buf_adds(b, "&gt;"); break;
        case '"':
            if (attr) {
                buf_adds(b, "&quot;");
                break;
            }
            /* fall through */
        default: buf_addc(b, *p); break;
        }
    }
}

static void write_start_tag(struct buf *out, const xmlNode *n)
{
    buf_addc(out, '<');
    buf_adds(out, (const char *)n->name);
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        buf_addc(out, ' ');
        buf_adds(out, (const char *)a->name);
        if (!a->children) continue;
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        const char *value = v ? (const char *)v : "";
        /* libxml2 gives a bare "checked" the value "checked": write it bare. */
        if (!(htmlIsBooleanAttr(a->name) && !strcmp(value, (const char *)a->name))) {
            buf_adds(out, "=\"");
            esc(out, value, 1);
            buf_addc(out, '"');
        }
        xmlFree(v);
    }
    buf_addc(out, '>');
}

void html_serialize_children(const xmlNode *node, struct buf *out)
{
    const xmlNode *n = node->children;
    while (n) {
        if (n->type == XML_ELEMENT_NODE) {
            int is_void = name_in((const char *)n->name, void_elements);
            write_start_tag(out, n);
            if (!is_void && n->children) {
                n = n->children;
                continue;
            }
            if (!is_void) buf_addf(out, "</%s>", (const char *)n->name);
        } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
                   n->content) {
            esc(out, (const char *)n->content, 0);
        }
        /* Next node: the sibling, or close parents until one has one. */
        while (n != node && !n->next) {
            n = n->parent;
            if (n != node) buf_addf(out, "</%s>", (const char *)n->name);
        }
        if (n == node) break;
        n = n->next;
    }
}

/* --- cleaning ---------------------------------------------------------------- */

static const char allowed_elements[] =
    " p br hr div span b strong i em u s del sub sup small mark code pre kbd"
    " blockquote ul ol li dl dt dd h1 h2 h3 h4 h5 h6 table thead tbody tfoot"
    " tr th td caption a img figure figcaption details summary ruby rt rp abbr"
    " cite q ins input ";

/* Dropped with everything inside: active content, forms, embedded
 * documents, foreign (svg, math) content, document metadata, media. */
static const char dropped_elements[] =
    " script style iframe frame frameset noframes object embed applet param"
    " form input textarea select option optgroup datalist button link meta base"
    " svg math template noscript noembed title audio video canvas xml ";

/* The document's own skeleton: unwrapped without counting. */
static const char structural_elements[] = " html head body ";

static const char global_attrs[] = " class title lang dir style ";

static const struct {
    const char *el, *attrs;
} element_attrs[] = {
    {"a", " href "},
    {"img", " src alt width height "},
    {"td", " colspan rowspan align valign "},
    {"th", " colspan rowspan align valign scope "},
    {"ol", " start type reversed "},
    {"li", " value "},
    {"input", " type checked disabled "},
    {"details", " open "},
};

/* The value with every byte <= 0x20 and DEL removed and ASCII lower-cased:
 * what a browser's URL parser sees once it has stripped white space and
 * control characters (it strips fewer; stripping more only blocks more). */
static void squash(const char *v, struct buf *out)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char c = *p;
        if (c <= 0x20 || c == 0x7F) continue;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        buf_addc(out, (char)c);
    }
}

/* Length of the scheme at the start of s ("javascript" in
 * "javascript:..."), 0 when s is a relative URL. */
static size_t scheme_len(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z')) return 0;
    for (size_t i = 1; s[i]; i++) {
        char c = s[i];
        if (c == ':') return i;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 0;
}

static int url_safe(const char *value, int img_src)
{
    struct buf b = BUF_INIT;
    squash(value, &b);
    size_t n = scheme_len(b.s);
    int ok = 0;
    if (n == 0) {
        /* Relative, unless a colon comes before the first / ? or #: then
         * something precedes a scheme ("`javascript:"), which no valid URL
         * does and some parser might skip. */
        const char *colon = strchr(b.s, ':');
        ok = !colon || (size_t)(colon - b.s) > strcspn(b.s, "/?#");
    } else {
        char scheme[16];
        if (n < sizeof scheme) {
            memcpy(scheme, b.s, n);
            scheme[n] = '\0';
            ok = name_in(scheme, " http https mailto tel ftp ");
        }
        if (!ok && img_src && str_starts_with(b.s, "data:image/")) {
            static const char *types[] = {"png", "gif", "jpeg", "jpg", "webp"};
            const char *t = b.s + strlen("data:image/");
            for (size_t i = 0; i < ARRAY_LEN(types); i++) {
                size_t k = strlen(types[i]);
                if (!strncmp(t, types[i], k) && (t[k] == ';' || t[k] == ',')) ok = 1;
            }
        }
    }
    buf_release(&b);
    return ok;
}

static int style_safe(const char *value)
{
    static const char *bad[] = {"\\", "/*", "@", "<", ">", "expression", "behavior",
                                "binding", "javascript:", "vbscript:", "url("};
    struct buf b = BUF_INIT;
    squash(value, &b);
    int ok = 1;
    for (size_t i = 0; ok && i < ARRAY_LEN(bad); i++)
        if (strstr(b.s, bad[i])) ok = 0;
    /* Every "(" must open one of the few functions that load nothing. */
    for (const char *p = strchr(b.s, '('); ok && p; p = strchr(p + 1, '(')) {
        const char *q = p;
        while (q > b.s && ((q[-1] >= 'a' && q[-1] <= 'z') || q[-1] == '-')) q--;
        char fn[8];
        size_t n = (size_t)(p - q);
        if (n == 0 || n >= sizeof fn) {
            ok = 0;
            break;
        }
        memcpy(fn, q, n);
        fn[n] = '\0';
        ok = name_in(fn, " rgb rgba hsl hsla calc ");
    }
    buf_release(&b);
    return ok;
}

int sanitize_attr_ok(const char *element, const char *name, const char *value)
{
    int listed = name_in(name, global_attrs);
    for (size_t i = 0; !listed && i < ARRAY_LEN(element_attrs); i++)
        if (!strcmp(element, element_attrs[i].el)) listed = name_in(name, element_attrs[i].attrs);
    if (!listed) return 0;
    int url = !strcmp(name, "href") || !strcmp(name, "src");
    int style = !strcmp(name, "style");
    int text = !strcmp(name, "title") || !strcmp(name, "alt");
    if (text) return 1;
    if (!value) value = "";
    int ok = url ? url_safe(value, !strcmp(element, "img")) : style ? style_safe(value) : 1;
    /* Belt and braces: no attribute but the text-only title and alt may
     * carry a script URL anywhere, even where it is harmless ("/x/javascript:"
     * is a relative path), so that no reader of the field can be fooled. */
    if (ok) {
        struct buf b = BUF_INIT;
        squash(value, &b);
        ok = !strstr(b.s, "javascript:") && !strstr(b.s, "vbscript:");
        buf_release(&b);
    }
    return ok;
}

static int attr_safe(const xmlNode *el, const xmlAttr *a)
{
    const char *en = (const char *)el->name, *an = (const char *)a->name;
    /* title and alt are kept whatever they hold: no need to read them */
    if (!strcmp(an, "title") || !strcmp(an, "alt")) return sanitize_attr_ok(en, an, NULL);
    xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
    int ok = sanitize_attr_ok(en, an, v ? (const char *)v : "");
    xmlFree(v);
    return ok;
}

static int clean_attrs(xmlNode *el)
{
    int removed = 0;
    xmlAttr *a = el->properties;
    while (a) {
        xmlAttr *next = a->next;
        if (!attr_safe(el, a)) {
            xmlRemoveProp(a);
            removed++;
        }
        a = next;
    }
    return removed;
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

/* Replaces n by its children, linked by hand: xmlAddPrevSibling() would
 * merge and free adjacent text nodes under the caller's feet. */
void html_unwrap(xmlNode *n)
{
    xmlNode *first = n->children, *last = n->last, *parent = n->parent;
    if (first) {
        for (xmlNode *c = first; c; c = c->next) c->parent = parent;
        first->prev = n->prev;
        if (n->prev) n->prev->next = first;
        else parent->children = first;
        last->next = n->next;
        if (n->next) n->next->prev = last;
        else parent->last = last;
        n->children = n->last = NULL;
        n->prev = n->next = n->parent = NULL;
    } else {
        xmlUnlinkNode(n);
    }
    xmlFreeNode(n);
}

enum verdict { KEEP, DROP, UNWRAP };

static enum verdict judge(const xmlNode *n)
{
    const char *name = (const char *)n->name;
    if (!strcmp(name, "input")) {
        /* Only the disabled-looking checkbox of a task list item. */
        xmlChar *t = xmlGetProp(n, (const xmlChar *)"type");
        struct buf b = BUF_INIT;
        if (t) squash((const char *)t, &b);
        int box = !strcmp(b.s, "checkbox");
        buf_release(&b);
        xmlFree(t);
        return box ? KEEP : DROP;
    }
    if (name_in(name, dropped_elements)) return DROP;
    if (name_in(name, allowed_elements)) return KEEP;
    return UNWRAP;
}

/* Cleans the tree under root in one pass, without recursion.  Returns the
 * number of elements, attributes and comments removed. */
static int clean(xmlNode *root)
{
    int removed = 0;
    xmlNode *n = root->children;
    while (n) {
        xmlNode *next;
        if (n->type == XML_TEXT_NODE || n->type == XML_DTD_NODE) {
            n = after(n, root);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE) { /* comments, PIs, CDATA, ... */
            next = after(n, root);
            xmlUnlinkNode(n);
            xmlFreeNode(n);
            removed++;
            n = next;
            continue;
        }
        if (name_in((const char *)n->name, structural_elements)) {
            for (xmlAttr *a = n->properties; a; a = a->next) removed++;
            next = n->children ? n->children : after(n, root);
            html_unwrap(n);
            n = next;
            continue;
        }
        switch (judge(n)) {
        case KEEP:
            removed += clean_attrs(n);
            n = n->children ? n->children : after(n, root);
            break;
        case DROP:
            next = after(n, root);
            xmlUnlinkNode(n);
            xmlFreeNode(n);
            removed++;
            n = next;
            break;
        case UNWRAP:
            next = n->children ? n->children : after(n, root);
            html_unwrap(n);
            removed++;
            n = next;
            break;
        }
    }
    return removed;
}

int sanitize_html(const char *html, size_t len, struct buf *out)
{
    enum { MAX_ROUNDS = 8 };
    struct buf cur = BUF_INIT, next = BUF_INIT;
    int removed = 0;
    buf_add(&cur, html, len);
    for (int round = 0; round < MAX_ROUNDS; round++) {
        xmlDoc *doc = html_parse_fragment(cur.s, cur.len);
        buf_reset(&next);
        if (doc) {
            removed += clean((xmlNode *)doc);
            html_serialize_children((xmlNode *)doc, &next);
            xmlFreeDoc(doc);
        }
        int same = next.len == cur.len && !memcmp(next.s, cur.s, cur.len);
        struct buf t = cur;
        cur = next;
        next = t;
        if (same) break;
    }
    buf_add(out, cur.s, cur.len);
    buf_release(&cur);
    buf_release(&next);
    return removed;
}
