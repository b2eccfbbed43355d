/* textout.h - the two text outputs: an Anki-ready CSV and a Quizlet import
 * file, both made from the same deck as the package. */
#ifndef MDECK_TEXTOUT_H
#define MDECK_TEXTOUT_H

#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* Quizlet's separators, chosen so they never occur in card text: a tab
 * between term and definition (tabs inside text become spaces), and a line
 * holding only "@@@" between cards ("@@@" inside text is broken up). */
#define QUIZLET_TERM_SEP "\t"
#define QUIZLET_CARD_SEP "\n@@@\n"
/* Quizlet's documented maximum for one side is not published; cards past
 * this many characters are reported (see docs/outputs.md for the source). */
#define QUIZLET_MAX_CHARS 2000


/* CSV for Anki's text import (2.1.55+): header lines, then one RFC 4180
 * record per note.  Returns 0. */
int csv_build(const struct deck *d, int answered_only, struct buf *out,
              struct diags *dg);

/* The same two, streamed: written into k piece by piece (see struct sink). */
int csv_write(const struct deck *d, int answered_only, struct sink *k, struct diags *dg);
int quizlet_write(const struct deck *d, int answered_only, struct sink *k,
                  struct diags *dg);

/* Quizlet "import from text" file; cards too long are reported as warnings,
 * never cut.  Returns 0. */
int quizlet_build(const struct deck *d, int answered_only, struct buf *out,
                  struct diags *dg);

/* The settings to choose in Quizlet's import dialog, for the build summary. */
const char *quizlet_instructions(void);

#endif
