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
/* answers_attach_loaded() that also keeps, in *keep (when it succeeds),
 * what answers_refresh() needs: a watcher's memory of how the answers were
 * matched.  The deck must outlive the keep. */
struct answer_keep;
int answers_attach_keep(struct deck *d, struct answer_files *files, struct diags *dg,
                        struct answer_keep **keep);
void answers_keep_free(struct answer_keep *keep);
/* The answer files as the kept build found them: their count and paths. */
size_t answers_keep_nfiles(const struct answer_keep *keep);
const char *answers_keep_path(const struct answer_keep *keep, size_t fi);
/* The file as it was right before the kept build (or refresh) read it. */
struct stat;
const struct stat *answers_keep_stat(const struct answer_keep *keep, size_t fi);
/* 1 when text is what the kept build read of answer file fi (its length
 * and CRC-64). */
struct buf;
int answers_keep_bytes_same(const struct answer_keep *keep, size_t fi, const struct buf *text);
/* 1 when the deck folder dir holds the same answer files (names and kinds)
 * as when keep was made. */
int answers_same_files(const struct answer_keep *keep, const char *dir);
/* Answer file fi changed on disk: when it still matches exactly as it did
 * (same headings, same front matter sources; read without a message; the
 * same heading lines when one of its sections answers nothing) and
 * every note answered from it rendered cleanly (no message, no Cloze) and
 * still shows the same images, those notes are rendered again in place and the ones whose answer
 * changed are appended to r (with their previous plain text, which stays
 * valid in the deck's arena).  1: done; 0: not possible, nothing changed
 * (make a full build); -1: not possible and the deck is no longer the kept
 * build's (make a full build, drop the deck and the keep). */
struct refreshed {
    size_t *notes;          /* indexes into d->notes, ascending per file */
    const char **old_text;  /* their answer.text before */
    size_t n, cap;
};
int answers_refresh(struct deck *d, struct answer_keep *keep, size_t fi, struct refreshed *r);
/* Frees what answers_load() returned, when it is not attached. */
void answers_files_free(struct answer_files *files);

#endif
