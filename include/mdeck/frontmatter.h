/* frontmatter.h - the optional YAML block at the top of index.md and of
 * answer files:
 *     ---
 *     name: My deck
 *     ---
 * Parsed with libyaml into a jansson value (mappings become objects, sequences
 * arrays, scalars strings), so every consumer reads it the same way. */
#ifndef MDECK_FRONTMATTER_H
#define MDECK_FRONTMATTER_H

#include <jansson.h>
#include <stddef.h>

#include "mdeck/deck.h"
#include "mdeck/diag.h"

/* Finds a front-matter block at the start of s.  Returns 1 and sets
 * *yaml and *yaml_len (the text between the fences) and *body_off (first byte
 * after the closing fence line) and *body_line (its 1-based line); returns 0
 * when there is none. An opening fence without a closing one is an error: -1
 * (with a diagnostic). */
int fm_split(const char *s, size_t len, const char *path, const char **yaml,
             size_t *yaml_len, size_t *body_off, int *body_line, struct diags *dg);

/* Parses YAML text into a JSON object (NULL and a diagnostic on a syntax
 * error or when the top level is not a mapping).  line0 is the file line of
 * the first YAML line, for diagnostics. */
json_t *fm_parse(const char *yaml, size_t len, const char *path, int line0,
                 struct diags *dg);

/* Reads the deck options (name, id, tags, prefixes, formats, reversed,
 * sanitize) from a parsed index front matter into d->opt.  Unknown keys are
 * warnings, reported at their line (yaml is the text, its first line is
 * line0).  Returns 0 or -1. */
int fm_deck_options(struct deck *d, json_t *fm, const char *yaml, size_t ylen,
                    const char *path, int line0, struct diags *dg);

/* "apkg,csv" gives FMT_APKG|FMT_CSV; 0 and *bad set on an unknown name. */
unsigned parse_formats(const char *s, const char **bad);

/* YAML booleans: true/false/yes/no/on/off (any case). -1 when neither. */
int fm_bool(json_t *v);

#endif
