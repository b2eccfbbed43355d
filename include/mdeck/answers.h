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

/* The same in two steps.  answers_load() reads and scans every answer file
 * of the deck folder dir; it needs nothing of the index, so a build runs it
 * while the index is parsed.  answers_attach_loaded() then does the rest,
 * and frees what answers_load() returned (never NULL). */
struct answer_files;
struct answer_files *answers_load(const char *dir);
int answers_attach_loaded(struct deck *d, struct answer_files *files, struct diags *dg);
/* Frees what answers_load() returned, when it is not attached. */
void answers_files_free(struct answer_files *files);

#endif
