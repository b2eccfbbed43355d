/* text.c - UTF-8 validation, question keys and similarity. */
#include "mdeck/text.h"

#include <stdlib.h>
#include <string.h>

int utf8_check(const char *str, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
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

int is_punct_or_space(uint32_t cp)
{
    if (cp < 0x80)
        return cp <= 0x20 || cp == 0x7F ||
               (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') ||
               (cp >= '[' && cp <= '`') || (cp >= '{' && cp <= '~');
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

double text_similarity(const char *a, const char *b)
{
    uint32_t *ca, *cb;
    size_t na = to_cps(a, &ca), nb = to_cps(b, &cb);
    double r;
    if (na < 2 || nb < 2) {
        r = (na == nb && (na == 0 || ca[0] == cb[0])) ? 1.0 : 0.0;
        goto out;
    }
    uint64_t *ba = xmalloc((na - 1) * sizeof *ba), *bb = xmalloc((nb - 1) * sizeof *bb);
    for (size_t i = 0; i + 1 < na; i++) ba[i] = (uint64_t)ca[i] << 32 | ca[i + 1];
    for (size_t i = 0; i + 1 < nb; i++) bb[i] = (uint64_t)cb[i] << 32 | cb[i + 1];
    qsort(ba, na - 1, sizeof *ba, cmp_u64);
    qsort(bb, nb - 1, sizeof *bb, cmp_u64);
    size_t i = 0, j = 0, common = 0;
    while (i < na - 1 && j < nb - 1) {
        if (ba[i] == bb[j]) { common++; i++; j++; }
        else if (ba[i] < bb[j]) i++;
        else j++;
    }
    r = 2.0 * (double)common / (double)(na - 1 + nb - 1);
    free(ba);
    free(bb);
out:
    free(ca);
    free(cb);
    return r;
}
