/* fuzz_sanitize.c - the HTML sanitizer (sanitize_html) on any bytes:
 *   - idempotent: sanitize(sanitize(x)) == sanitize(x), removing nothing;
 *   - the output holds no <script (or other dropped element), no on*
 *     event attribute, no javascript:/vbscript: anywhere in an attribute
 *     but the text-only title and alt, no data: URL but data:image/ in
 *     href/src, no expression or url( in style;
 *   - the output is valid UTF-8 without NUL bytes. */
#include <string.h>

#include "fuzz.h"
#include "mdeck/sanitize.h"
#include "mdeck/text.h"

/* The attribute value as a browser reads it: the four entities the
 * sanitizer writes decoded, control characters and spaces removed, ASCII
 * lower-cased. */
static void san_squash(const char *v, size_t n, struct buf *out)
{
    static const struct { const char *e; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}};
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        for (size_t k = 0; k < 4 && c == '&'; k++) {
            size_t l = strlen(ents[k].e);
            if (i + l <= n && !memcmp(v + i, ents[k].e, l)) {
                c = ents[k].c;
                i += l - 1;
                break;
            }
        }
        if ((unsigned char)c <= 0x20 || c == 0x7f) continue;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        buf_addc(out, c);
    }
}

static int san_ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return 0;
    }
    return 1;
}

/* Checks every tag of the sanitizer's output.  The output escapes '<' and
 * '>' everywhere but in markup, and '"' in attribute values, so a tag is
 * everything from a '<' to the next '>', and values are "..." strings. */
static void san_check_tags(const char *s, size_t n)
{
    static const char *const dropped[] = {"script", "style", "iframe", "object", "embed",
                                          "form", "svg", "math", "meta", "link", "base",
                                          "textarea", "button", "frame", "template"};
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '<') continue;
        size_t j = i + 1;
        if (j < n && s[j] == '/') j++;
        size_t name = j;
        while (j < n && s[j] != ' ' && s[j] != '>') j++;
        for (size_t k = 0; k < sizeof dropped / sizeof *dropped; k++)
            FUZZ_CHECK(!san_ieq(s + name, j - name, dropped[k]), "no dropped element in the output");
        while (j < n && s[j] != '>') {
            while (j < n && s[j] == ' ') j++;
            size_t an = j;
            while (j < n && s[j] != '=' && s[j] != ' ' && s[j] != '>') j++;
            size_t alen = j - an;
            FUZZ_CHECK(!(alen >= 2 && (s[an] | 0x20) == 'o' && (s[an + 1] | 0x20) == 'n'),
                       "no on* event attribute");
            if (j < n && s[j] == '=') {
                j++;
                FUZZ_CHECK(j < n && s[j] == '"', "attribute values are double-quoted");
                size_t v = ++j;
                while (j < n && s[j] != '"') j++;
                FUZZ_CHECK(j < n, "attribute value closed");
                if (!san_ieq(s + an, alen, "title") && !san_ieq(s + an, alen, "alt")) {
                    struct buf sq = BUF_INIT;
                    san_squash(s + v, j - v, &sq);
                    FUZZ_CHECK(!strstr(sq.s, "javascript:") && !strstr(sq.s, "vbscript:"),
                               "no script URL in an attribute");
                    if (san_ieq(s + an, alen, "href") || san_ieq(s + an, alen, "src"))
                        FUZZ_CHECK(strncmp(sq.s, "data:", 5) || !strncmp(sq.s, "data:image/", 11),
                                   "no data: URL but images");
                    if (san_ieq(s + an, alen, "style"))
                        FUZZ_CHECK(!strstr(sq.s, "expression") && !strstr(sq.s, "url("),
                                   "no script or loads in style");
                    buf_release(&sq);
                }
                j++;
            }
        }
        i = j;
    }
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct buf once = BUF_INIT, twice = BUF_INIT;
    sanitize_html((const char *)data, size, &once);
    int removed = sanitize_html(once.s, once.len, &twice);
    FUZZ_CHECK(twice.len == once.len && !memcmp(twice.s, once.s, once.len),
               "sanitize(sanitize(x)) == sanitize(x)");
    FUZZ_CHECK(removed == 0, "sanitizing clean output removes nothing");
    FUZZ_CHECK(utf8_check(once.s, once.len, NULL) == 0, "output is valid UTF-8 without NUL");
    san_check_tags(once.s, once.len);
    buf_release(&once);
    buf_release(&twice);
    return 0;
}
