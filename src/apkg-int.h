/* apkg-int.h - what apkg.c (the package's content) and apkg-write.c (its
 * bytes) share: the package model.  Private to those two files. */
#ifndef MDECK_APKG_INT_H
#define MDECK_APKG_INT_H

#include <stdint.h>

#include "mdeck/arena.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* Open-addressing set of non-zero 64-bit values (ids). */
struct idset {
    uint64_t *v;
    size_t n, cap;
};

/* Takes base if free, else base+1, base+2, … (collisions are resolved in
 * the order ids are asked for, which is fixed: deck order, note order). */
int64_t pkg_idset_claim(struct idset *s, int64_t base);

/* A note's or card's id from its guid (and card ordinal). */
int64_t pkg_row_id(const char *kind, const char *guid, int ord);

/* A deck note's fields, joined by 0x1F, into flds (reset first): front (or
 * cloze text), answer, sources.  Returns the length of the first field. */
size_t pkg_note_flds(const struct note *n, struct buf *flds);

struct pdeck {
    const char *name;
    int64_t id;
};

struct pnote {
    const char *guid;
    const struct anki_model *model;
    const struct note *src; /* the deck's note; NULL: kept from the previous package */
    char *flds;        /* joined by 0x1F; NULL: note_flds(src) (not kept, to save memory) */
    const char *first; /* first field (for sfld/csum) */
    char *tags;        /* "" or " a b " */
    int64_t id, mod;
    size_t deck;       /* index into pkg.decks */
    int *ords;         /* card ordinals, ascending (arena) */
    size_t nords;
};

struct pkg {
    struct arena a;
    const struct deck *d;
    const char *index_path; /* for diagnostics */
    int64_t now;
    struct pdeck *decks;
    size_t ndecks, capdecks;
    size_t top;        /* index of the top deck */
    struct pnote *notes;
    size_t nnotes, capnotes;
    struct strmap guids; /* guid -> index into notes */
    struct apkg_info prev;
    int have_prev;
    struct strmap prev_guids; /* guid -> index into prev.notes */
    struct buf *bufs;         /* zip sources: must outlive zip_close */
    size_t nbufs;
    struct buf scratch;       /* set_ords() */
    const char *out_path;     /* the package's path, for messages */
    struct strmap deck_at;    /* deck name -> index into decks */
};

/* The media files read into p->bufs[2..] and the media map into
 * p->bufs[1]; the collection built in the file at path; the package
 * written into zip_path from both.  Each returns 0 or -1 with a
 * diagnostic. */
int pkg_load_media(struct pkg *p, struct diags *dg);
int pkg_write_collection(struct pkg *p, const char *path, struct diags *dg);
int pkg_write_zip(struct pkg *p, const char *db_path, const char *zip_path, struct diags *dg);

#endif
