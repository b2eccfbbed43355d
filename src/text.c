/* text.c - UTF-8 validation, question keys and similarity. */
#include "mdeck/text.h"

#include <stdlib.h>
#include <string.h>

int utf8_check(const char *str, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    while (i < len) {
        /* eight bytes at a time while they are ASCII and not NUL */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & highs) || ((w - ones) & ~w & highs)) break;
            i += 8;
        }
        if (i == len) break;
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c == 0) goto fail;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
        else goto fail;
        if (i + n > len) goto fail;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto fail;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
        i += n;
    }
    return 0;
fail:
    if (bad) *bad = i;
    return -1;
}

void utf8_repair(const char *s, size_t len, struct buf *out)
{
    size_t bad;
    while (len && utf8_check(s, len, &bad) < 0) {
        buf_add(out, s, bad);
        buf_adds(out, "\xEF\xBF\xBD");
        s += bad + 1;
        len -= bad + 1;
    }
    buf_add(out, s, len);
}

size_t utf8_decode(const char *str, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if ((s[0] & 0xE0) == 0xC0 && s[1]) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2]) {
        *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return 3;
    }
    if ((s[0] & 0xF8) == 0xF0 && s[1] && s[2] && s[3]) {
        *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
              (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD; /* invalid input was rejected earlier; never loop */
    return 1;
}

void utf8_encode(struct buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    /* NUL, surrogates and values past Unicode are never written. */
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | cp >> 6); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | cp >> 12); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | cp >> 18); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    buf_add(b, t, n);
}

void line_col(const char *s, size_t off, int *line, int *col)
{
    int l = 1;
    size_t start = 0;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') { l++; start = i + 1; }
    int c = 1;
    for (size_t i = start; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    *line = l;
    *col = c;
}

/* is_punct_or_space() for ASCII, inlined where keys are made byte by byte. */
static inline int ascii_punct_or_space(unsigned c)
{
    return c <= 0x20 || c == 0x7F || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
           (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

int is_punct_or_space(uint32_t cp)
{
    if (cp < 0x80) return ascii_punct_or_space(cp);
    return cp == 0xA0 || (cp >= 0x2000 && cp <= 0x206F) /* general punct. */
           || (cp >= 0x3000 && cp <= 0x303F)            /* CJK punct. */
           || (cp >= 0xFE30 && cp <= 0xFE4F)            /* CJK compat. forms */
           || (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20)
           || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65)
           || cp == 0x00B7 || cp == 0x2E3A || cp == 0x2E3B || cp == 0xFEFF;
}

void text_key(const char *s, struct buf *out)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x80) { /* most of every key: no decoding, no encoding */
            s++;
            if (!ascii_punct_or_space(c)) buf_addc(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
            continue;
        }
        uint32_t cp;
        s += utf8_decode(s, &cp);
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0; /* full-width ASCII */
        if (is_punct_or_space(cp)) continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        utf8_encode(out, cp);
    }
}

static size_t to_cps(const char *s, uint32_t **out)
{
    size_t n = 0, cap = strlen(s) + 1;
    uint32_t *v = xmalloc(cap * sizeof *v);
    while (*s) s += utf8_decode(s, &v[n++]);
    *out = v;
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void text_bigrams(const char *key, struct text_bigrams *b)
{
    uint32_t *cps;
    b->ncps = to_cps(key, &cps);
    b->first = b->ncps ? cps[0] : 0;
    b->n = b->ncps < 2 ? 0 : b->ncps - 1;
    b->v = xmalloc((b->n ? b->n : 1) * sizeof *b->v);
    for (size_t i = 0; i < b->n; i++) b->v[i] = (uint64_t)cps[i] << 32 | cps[i + 1];
    qsort(b->v, b->n, sizeof *b->v, cmp_u64);
    free(cps);
}

void text_bigrams_free(struct text_bigrams *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->ncps = 0;
}

double text_similarity_bigrams(const struct text_bigrams *a, const struct text_bigrams *b)
{
    if (a->ncps < 2 || b->ncps < 2)
        return (a->ncps == b->ncps && (a->ncps == 0 || a->first == b->first)) ? 1.0 : 0.0;
    size_t i = 0, j = 0, common = 0;
    while (i < a->n && j < b->n) {
        if (a->v[i] == b->v[j]) { common++; i++; j++; }
        else if (a->v[i] < b->v[j]) i++;
        else j++;
    }
    return 2.0 * (double)common / (double)(a->n + b->n);
}

double text_similarity(const char *a, const char *b)
{
    struct text_bigrams ba, bb;
    text_bigrams(a, &ba);
    text_bigrams(b, &bb);
    double r = text_similarity_bigrams(&ba, &bb);
    text_bigrams_free(&ba);
    text_bigrams_free(&bb);
    return r;
}

/* The code point at s[0..n) (0 when n is 0; bad bytes read as themselves). */
unsigned utf8_first(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!n) return 0;
    if (u[0] < 0xC0 || n < 2) return u[0];
    if (u[0] < 0xE0) return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
    if (u[0] < 0xF0 || n < 4) {
        if (n < 3) return u[0];
        return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    }
    return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) |
           ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
}

/* East Asian wide characters (Han, kana, CJK punctuation, full-width forms;
 * not Hangul, which separates words with spaces).  A soft line break between
 * two of them is no space in the plain text, as CSS Text 3 says for
 * segment breaks. */
int cp_is_wide(unsigned cp)
{
    return (cp >= 0x2E80 && cp <= 0x303F) || (cp >= 0x3040 && cp <= 0x9FFF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
           (cp >= 0x20000 && cp <= 0x3FFFD);
}

/* Sixteen bytes as one value (GCC's vector extension: SSE2 on x86-64,
 * plain code where there is no such unit). */
size_t text_clean_span(const char *s, size_t n, int del)
{
    const v16 zero = {0}, sp = zero + 0x20, tab = zero + '\t', lf = zero + '\n',
              dl = zero + 0x7f;
    /* sixteen bytes at a time; the last few padded with zeros, which are
     * dropped bytes too: the first flag in the padding is at n */
    for (size_t i = 0; i < n; i += 16) {
        v16 v = n - i >= 16 ? v16_load(s + i) : v16_load_tail(s + i, n - i);
        v16 bad = (v16)(v < sp) & (v16)(v != tab) & (v16)(v != lf);
        if (del) bad |= (v16)(v == dl);
        if (v16_any(bad)) return i + v16_first(bad);
    }
    return n;
}

size_t utf8_count(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t count = n, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        /* continuation bytes: 10xxxxxx (bit 7 set, bit 6 clear); the 0/1
         * bytes of m summed by one multiplication (no popcount in the
         * baseline x86-64 instruction set: it was a library call) */
        uint64_t m = (w & ~(w << 1) & highs) >> 7;
        count -= (size_t)((m * ones) >> 56);
    }
    for (; i < n; i++) count -= ((unsigned char)s[i] & 0xC0) == 0x80;
    return count;
}

void text_add_clean(struct buf *out, const char *s, size_t n, int del)
{
    for (;;) {
        size_t k = text_clean_span(s, n, del);
        buf_add(out, s, k);
        if (k == n) return;
        s += k + 1;
        n -= k + 1;
    }
}
