/* identity.h - note identities that survive rebuilds, reordering and small
 * rewordings.
 *
 * The deck folder holds mdeck.lock (JSON, meant to be committed with the
 * notes, like a package manager's lock file): for every identity the last
 * question text, sources and answer link seen.  Each build matches its notes
 * to these records, in this order:
 *   1. an id pinned on the item ("{#id}" at the end of the question);
 *   2. the same question (same key after normalisation);
 *   3. the same answer link, when no other unmatched note or record has it;
 *   4. the same source URL, when no other unmatched note or record has it;
 *   5. a similar question (bigram similarity >= IDENTITY_SIMILAR), best match
 *      first;
 * and only then makes a new identity from the question's key.  Records of
 * questions that disappeared are kept, so a question removed and added back
 * gets its old identity. */
#ifndef MDECK_IDENTITY_H
#define MDECK_IDENTITY_H

#include "mdeck/deck.h"
#include "mdeck/diag.h"

#define IDENTITY_FILE "mdeck.lock"
#define IDENTITY_SIMILAR 0.6

/* Assigns note->id for every note of d.  When write is set and the records
 * changed, mdeck.lock is replaced atomically.  Returns 0 or -1 (unreadable
 * or corrupt lock file: an error naming it; nothing is written). */
int identity_assign(struct deck *d, int write, struct diags *dg);

/* The same, with every string it makes (ids, records) allocated from a
 * instead of d's arena, and nothing of d written but note->id: it can run
 * on a thread of its own while the answers are attached. */
struct arena;
int identity_assign_in(struct deck *d, struct arena *a, int write, struct diags *dg);

#endif
