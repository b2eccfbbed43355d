/* hash.h - the hashes Anki's format needs (SHA-1 for csum) and the ones mdeck
 * uses for stable identities (SHA-256), through nettle. */
#ifndef MDECK_HASH_H
#define MDECK_HASH_H

#include <stddef.h>
#include <stdint.h>

void sha1(const void *data, size_t len, uint8_t out[20]);
void sha256(const void *data, size_t len, uint8_t out[32]);
/* First 8 bytes of SHA-256 of data, big-endian. */
uint64_t hash64(const void *data, size_t len);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex(const uint8_t *bytes, size_t n, char *out);
/* Anki's base91 text of a 64-bit number, most significant digit first.
 * out must hold 12 bytes. */
void base91(uint64_t v, char out[12]);

#endif
