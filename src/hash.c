/* hash.c - SHA-1/SHA-256 through nettle, hex and Anki's base91. */
#include "mdeck/hash.h"

#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <string.h>

void sha1(const void *data, size_t len, uint8_t out[20])
{
    struct sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, len, data);
    sha1_digest(&c, SHA1_DIGEST_SIZE, out);
}

void sha256(const void *data, size_t len, uint8_t out[32])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, len, data);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

uint64_t hash64(const void *data, size_t len)
{
    uint8_t d[32];
    sha256(data, len, d);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | d[i];
    return v;
}

void hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void base91(uint64_t v, char out[12])
{
    /* The alphabet Anki's own guid64() uses. */
    static const char table[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "!#$%&()*+,-./:;<=>?@[]^_`{|}~";
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = table[v % 91];
        v /= 91;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}
