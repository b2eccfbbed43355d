/* cloze.h - turning a note into a Cloze note where its text asks for one. */
#ifndef MDECK_CLOZE_H
#define MDECK_CLOZE_H

#include "mdeck/arena.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"

/* Makes n a Cloze note when its question holds {{c1::...}}, its answer
 * {{cN::...}}, or its question blanks ("___", "＿＿") and its answer a
 * leading list of as many fills; otherwise leaves it alone.  The Text field
 * (and a re-rendered answer for the extra part) are allocated in raw, where
 * the answer's unsanitized HTML lives; messages go to dg. */
void cloze_make(struct deck *d, struct note *n, struct arena *raw, struct diags *dg);

#endif
