/* build.h - one deck from sources to outputs; the call `mdeck build` and
 * `mdeck watch` both make. */
#ifndef MDECK_BUILD_H
#define MDECK_BUILD_H

#include "mdeck/deck.h"
#include "mdeck/diag.h"

struct build_opts {
    const char *outdir;      /* where outputs go */
    unsigned formats;        /* FMT_* bits; 0 = deck's front matter or all */
    int answered_only;       /* leave out questions without an answer */
    int write_lock;          /* write the identity lock file when it changed */
    int dry_run;             /* parse and check only, write nothing */
    /* Called once every output is made (into hidden temporaries beside the
     * outputs), right before the first one is published (never on errors
     * or dry runs).  Non-zero: publish
     * nothing; build_deck returns 0 with st->discarded = 1.  `mdeck watch`
     * uses it to drop a build whose sources changed while it ran. */
    int (*before_publish)(void *arg);
    void *before_publish_arg;
    /* `mdeck watch`: the deck's last build, kept between builds; NULL for
     * `mdeck build`.  When only answer files changed and their answers can
     * be rendered again on their own, build_deck() renders only those and
     * updates the outputs in place (same outputs and messages as a full
     * build); otherwise it makes a full build and keeps that. */
    struct build_cache *cache;
};

struct build_cache;
struct build_cache *build_cache_new(void);
void build_cache_free(struct build_cache *cache);
/* How much the kept deck may grow by incremental builds before a full
 * build starts it afresh, from the next full build on (by default a
 * quarter of the deck's memory, at least 8 MiB).  For tests. */
void build_cache_set_growth(struct build_cache *cache, size_t bytes);

struct build_stats {
    size_t notes;
    size_t added, changed, removed; /* relative to the previous package */
    size_t unanswered;
    size_t media;
    unsigned written;   /* FMT_* bits of outputs whose bytes changed */
    unsigned produced;  /* FMT_* bits of outputs produced */
    double ms;
    int discarded;      /* before_publish said no: nothing was written */
    int incremental;    /* only changed answers were rendered again (cache) */
    size_t refreshed;   /* incremental: answer files whose answers were rendered again */
};

/* Loads a deck folder into d: index, front matter, identities, answers.
 * Returns 0 when the deck is usable (warnings allowed), -1 on errors. */
int deck_load(struct deck *d, const char *dir, const struct build_opts *o,
              struct diags *dg);

/* deck_load, then every requested writer.  Outputs are replaced atomically
 * and only when their bytes changed; on any error nothing is replaced. */
int build_deck(const char *dir, const struct build_opts *o,
               struct build_stats *st, struct diags *dg);

/* Output path for a deck and format, e.g. out/aigc-100.apkg. Caller frees. */
char *output_path(const char *outdir, const char *slug, unsigned fmt);


/* The decks a command works on: the arguments, or every folder under
 * ./decks holding an index.md (sorted).  Returns the count; *out is a
 * NULL-terminated array the caller frees with free_deck_list(). */
size_t find_decks(int argc, char **argv, char ***out);
void free_deck_list(char **list);

#endif
