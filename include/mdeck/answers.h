/* answers.h - each question's answer: found by the rules in docs/format.md,
 * rendered to Anki HTML and plain text, sanitized. */
#ifndef MDECK_ANSWERS_H
#define MDECK_ANSWERS_H

#include "mdeck/deck.h"
#include "mdeck/diag.h"

/* Fills note->answer (and the cloze fields) for every note of d.  Unanswered
 * questions are notes, orphan answers and double matches warnings; unreadable
 * or invalid answer files and broken links are errors.  Returns 0 or -1. */
int answers_attach(struct deck *d, struct diags *dg);

#endif
