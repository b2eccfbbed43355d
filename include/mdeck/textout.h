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

/* Where each note's row is in a text output written by csv_write_rows()
 * or quizlet_write_rows(): rows[i] is the offset of note i's row (for
 * Quizlet, with the card separator that precedes it), rows[d->nnotes] the
 * end of the last row; a note left out (answered_only) has an empty row.
 * Before the first row: the CSV's header lines; after the last: Quizlet's
 * final "\n".  Offsets count from the start of k (k->flushed + k->b.len,
 * kept up to date by these writers).  rows has d->nnotes + 1 entries, or
 * is NULL. */
int csv_write_rows(const struct deck *d, int answered_only, struct sink *k,
                   struct diags *dg, size_t *rows);
int quizlet_write_rows(const struct deck *d, int answered_only, struct sink *k,
                       struct diags *dg, size_t *rows);

/* The same file again, written to out_fd, when only the notes listed in
 * changed (ascending indexes into d->notes; repeats allowed) may differ
 * from the deck that wrote old_fd (rows old_rows): everything else is
 * copied from old_fd (copy_file_range, falling back to read/write), the
 * changed notes' rows are made anew.  Assumed, not checked: the same notes
 * in the same order, the same answered_only and the same CSV header (no
 * change to deck-level facts: name, options, note types, decks).  out_fd
 * is a new, empty file, written from its current position; old_fd is read
 * at explicit offsets (its position is left alone).  new_rows (d->nnotes +
 * 1 entries) receives the offsets in the new file.  0, or -1 with errno set
 * (the caller then writes the whole file): EINVAL for rows out of order or
 * past the old file's end, changed indexes out of order or range, an old
 * CSV whose header is not one csv_write() wrote (the changed rows take
 * their columns from it), and a Quizlet note that gains or loses its card
 * under answered_only (a CSV row may come and go).  Messages: none (the
 * caller checks quizlet_card_warns() itself). */
int csv_splice(const struct deck *d, int answered_only, int old_fd, const size_t *old_rows,
               const size_t *changed, size_t nchanged, int out_fd, size_t *new_rows);
int quizlet_splice(const struct deck *d, int answered_only, int old_fd, const size_t *old_rows,
                   const size_t *changed, size_t nchanged, int out_fd, size_t *new_rows);

/* 1 when the note's Quizlet card draws the "over 2000 characters" warning
 * of quizlet_write() (for a note that has a card). */
struct spill;
int quizlet_card_warns(const struct spill *sp, const struct note *n);

/* Quizlet "import from text" file; cards too long are reported as warnings,
 * never cut.  Returns 0. */
int quizlet_build(const struct deck *d, int answered_only, struct buf *out,
                  struct diags *dg);

/* The settings to choose in Quizlet's import dialog, for the build summary. */
const char *quizlet_instructions(void);

#endif
