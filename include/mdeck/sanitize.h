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

#endif
