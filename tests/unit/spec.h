/* spec.h - hooks the spec runner (test_spec.c) calls for example kinds whose
 * code lives with another stage. */
#ifndef MDECK_TEST_SPEC_H
#define MDECK_TEST_SPEC_H

#include <stddef.h>

#include "mdeck/util.h"

/* Kind "index": parses input as a deck's index.md and appends the parse dump
 * the examples in docs/format.md show.  Returns 0, or -1 when it cannot. */
int spec_index(const char *input, size_t len, struct buf *out);

#endif
