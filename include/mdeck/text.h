/* text.h - UTF-8 checks and the normalisation that decides when two
 * questions (or a question and an answer heading) are "the same". */
#ifndef MDECK_TEXT_H
#define MDECK_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "mdeck/util.h"

/* Returns 0 when s[0..len) is valid UTF-8 without NUL bytes; otherwise -1
 * and *bad is the offset of the first bad byte. */
int utf8_check(const char *s, size_t len, size_t *bad);

/* Appends s[0..len) with every byte that is not part of valid UTF-8, and
 * every NUL, replaced by U+FFFD: for names and strings that must be shown
 * or written as JSON whatever bytes they hold. */
void utf8_repair(const char *s, size_t len, struct buf *out);

/* Decodes one code point at s (valid UTF-8 assumed); returns its length. */
size_t utf8_decode(const char *s, uint32_t *cp);
/* Appends cp as UTF-8; NUL, surrogates and values past U+10FFFF become
 * U+FFFD, so the result is always valid UTF-8. */
void utf8_encode(struct buf *b, uint32_t cp);

/* 1-based line and column (in code points) of offset off in s. */
void line_col(const char *s, size_t off, int *line, int *col);

/* The matching key of a question: full-width forms folded to ASCII, ASCII
 * lower-cased, white space and punctuation (ASCII, CJK and general) removed.
 * "Attention为什么要除以根号d？" and "attention 为什么要除以根号 d?" have the
 * same key.  Appended to out. */
void text_key(const char *s, struct buf *out);

/* Similarity of two keys in [0,1]: Dice coefficient of code-point bigrams. */
double text_similarity(const char *a, const char *b);

/* A key's sorted code-point bigrams, made once to compare the key with many
 * others: text_similarity_bigrams() of two gives text_similarity() of their
 * keys.  Free with text_bigrams_free(). */
struct text_bigrams {
    uint64_t *v;
    size_t n;       /* bigrams: ncps - 1, or 0 */
    size_t ncps;    /* code points in the key */
    uint32_t first; /* the first code point (0 when none) */
};
void text_bigrams(const char *key, struct text_bigrams *b);
void text_bigrams_free(struct text_bigrams *b);
double text_similarity_bigrams(const struct text_bigrams *a, const struct text_bigrams *b);

/* 1 for code points mdeck treats as punctuation or white space. */
int is_punct_or_space(uint32_t cp);

/* The code point at s[0..n): 0 when n is 0; a bad or cut sequence reads as
 * its first byte (the plain-text writers only compare it). */
unsigned utf8_first(const char *s, size_t n);

/* East Asian wide characters (Han, kana, CJK punctuation, full-width forms;
 * not Hangul, which separates words with spaces): a soft line break between
 * two of them is no space in plain text (CSS Text 3, segment breaks). */
int cp_is_wide(unsigned cp);

/* The length of the longest prefix of s[0..n) free of control characters
 * other than \t and \n (and of DEL when del is set): what the writers drop
 * from every field.  Sixteen bytes at a time: this sees every byte of every
 * output. */
size_t text_clean_span(const char *s, size_t n, int del);

/* Characters in s[0..n): the bytes that are not UTF-8 continuation bytes. */
size_t utf8_count(const char *s, size_t n);

/* Appends s[0..n) to out without those characters. */
struct buf;
void text_add_clean(struct buf *out, const char *s, size_t n, int del);

#endif
