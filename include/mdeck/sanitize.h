/* sanitize.h - allowlist HTML sanitizer built on libxml2's HTML parser.
 *
 * Every field that goes into a package or CSV passes through here: only
 * allowlisted elements and attributes survive; script-like content, event
 * handlers, and URLs other than http(s):, mailto:, tel:, ftp: and relative
 * ones (plus data:image/png|gif|jpeg|webp in <img src>) are dropped.  The
 * rules, with the attack vectors they stop, are tests/spec/sanitize.txt. */
#ifndef MDECK_SANITIZE_H
#define MDECK_SANITIZE_H

#include <stddef.h>

#include "mdeck/util.h"

/* Appends the sanitized form of html[0..len) to out. Returns the number of
 * things removed (elements or attributes), 0 when the input was clean.
 * Idempotent: sanitizing the output again returns it unchanged and 0. */
int sanitize_html(const char *html, size_t len, struct buf *out);

/* --- the sanitizer's own rules, for writers that want to need none ------ */

/* render.c asks these while it writes, so that it can tell when its output
 * is already what sanitize_html() would make of it (render.h, "canonical
 * HTML"): they are the very functions the sanitizer applies, not copies. */

/* 1 when sanitize_html() keeps the attribute name="value" on element
 * (names in lower case; value as a parser reads it, entities decoded; NULL
 * reads as ""), 0 when it removes it: the allowlists, the URL schemes of
 * href and src, the style rules, no script URL. */
int sanitize_attr_ok(const char *element, const char *name, const char *value);

/* The length of the longest prefix of s[0..n) that the sanitizer passes to
 * libxml2 unchanged: well-formed UTF-8 without NUL, C0 controls other than
 * tab, LF and CR, U+FFFE or U+FFFF.  (It replaces every other byte by
 * U+FFFD.)  n when all of s is fine. */
size_t sanitize_text_ok(const char *s, size_t n);

/* --- libxml2 helpers shared with htmlfile.c ----------------------------- */

struct _xmlDoc;
struct _xmlNode;

/* Parses a whole HTML document with libxml2's HTML parser.  With encoding
 * NULL the document's own declaration (<meta charset>, http-equiv, a byte
 * order mark) decides, as in a browser.  libxml2's error output is silenced;
 * *bad_bytes (may be NULL) receives how many encoding errors it met (text
 * after such an error may be lost).  NULL for empty input.  Free with
 * xmlFreeDoc(). */
struct _xmlDoc *html_read(const char *data, size_t len, const char *encoding,
                          int *bad_bytes);

/* Parses an HTML fragment with libxml2's HTML parser as UTF-8 (invalid
 * bytes and NULs become U+FFFD; a <meta charset> inside is ignored).  The
 * fragment is parsed inside <html><body>, so leading text gets no implied
 * <p>; stray </body> or <head> content may land outside the body, so walk
 * the whole document.  Free with xmlFreeDoc(). */
struct _xmlDoc *html_parse_fragment(const char *html, size_t len);

/* Appends the children of node serialized as HTML: text escaped (& < >),
 * attribute values double-quoted and escaped (& < > "), void elements
 * without an end tag, comments and processing instructions left out.
 * Iterative: any depth is fine. */
void html_serialize_children(const struct _xmlNode *node, struct buf *out);

/* Replaces node by its children, then frees it. */
void html_unwrap(struct _xmlNode *node);

#endif
