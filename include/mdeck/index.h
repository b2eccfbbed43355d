/* index.h - the question index (index.md) into the deck model.
 *
 * One pass of md4c's parser: the first # heading names the deck, ##/###
 * headings open subdecks, paragraphs and quotes before the first list are the
 * description, every top-level list item is a question.  The rules are stated
 * and proven by example in docs/format.md. */
#ifndef MDECK_INDEX_H
#define MDECK_INDEX_H

#include <stddef.h>

#include "mdeck/deck.h"
#include "mdeck/diag.h"

/* Parses index.md of the deck folder d->dir.  Returns 0, or -1 when the index
 * is unusable (missing, empty, invalid UTF-8, no questions). */
int index_parse(struct deck *d, struct diags *dg);

/* Parses index text already in memory; path is used for diagnostics and
 * relative links.  src[len] must be readable (src is a string, or a slice
 * of one).  For tests and the spec runner. */
int index_parse_text(struct deck *d, const char *path, const char *src,
                     size_t len, struct diags *dg);

/* Cleans a raw question (tags, prefixes, quotes): exposed for answers.c,
 * which cleans answer headings the same way before matching. The result is
 * plain text appended to out; tags found are added to n when n != NULL. */
void question_clean(struct deck *d, struct note *n, const char *raw,
                    struct buf *out);

/* Writes a stable, line-oriented dump of a parsed deck (the spec-test form
 * used in docs/format.md). */
void deck_dump(const struct deck *d, struct buf *out);

#endif
