/* apkg-int.h - what apkg.c (the package's content) and apkg-write.c (its
 * bytes) share: the package model, and the few rows an update rewrites.
 * Private to those two files, to apkg-read.c for pkg_sql_open() and to
 * apkg-vfs.c. */
#ifndef MDECK_APKG_INT_H
#define MDECK_APKG_INT_H

#include <stdint.h>

#include "mdeck/arena.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* sqlite3_open_v2(path, db, flags) for a connection that one thread uses
 * at a time, as every connection of mdeck is: without the connection's
 * mutex (SQLITE_OPEN_NOMUTEX) and, set once for the process before SQLite
 * starts, without its memory statistics (nothing reads them).  Both take a
 * lock on every call and every allocation: 5% of the samples while a 100k
 * build's rows go in. */
struct sqlite3;
int pkg_sql_open(const char *path, struct sqlite3 **db, int flags);
/* The same, the file opened through PKG_VFS (apkg-vfs.c), so that
 * pkg_vfs_watch() can follow its writes; through the default VFS when
 * PKG_VFS could not be registered (pkg_vfs_watch() then fails). */
int pkg_sql_open_watched(const char *path, struct sqlite3 **db, int flags);

/* apkg-vfs.c: the default VFS, wrapped so that a connection can be told
 * where its main file is written, and so that its main file is written in
 * large pieces (consecutive pages gathered).  Registered once, before the
 * first connection (pkg_sql_open()); 0 or -1. */
#define PKG_VFS "mdeck-writes"
#define PKG_VFS_FCNTL_WATCH 0x6d647701 /* file-control opcodes of ours */
#define PKG_VFS_FCNTL_FLUSH 0x6d647702
struct pkg_vfs_watch {
    void (*hook)(void *ctx, uint64_t off, uint64_t len);
    void *ctx;
};
int pkg_vfs_register(void);
/* Writes what db's main file has gathered, so that the file can be read
 * by others as SQLite wrote it: 0, or -1 (a write failed, or the file was
 * not opened through PKG_VFS). */
int pkg_vfs_flush(struct sqlite3 *db);
/* From now on, hook(ctx, off, len) is called on db's thread before every
 * write of len bytes at off to db's main file, and before every truncation
 * to off bytes (len then reaches past any file); hook NULL stops it.  0, or
 * -1 when the file was not opened through PKG_VFS. */
int pkg_vfs_watch(struct sqlite3 *db, void (*hook)(void *ctx, uint64_t off, uint64_t len),
                  void *ctx);

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
 * cloze text), answer, sources.  Returns the length of the first field.
 * An answer in the spill sp (may be NULL) is read through r (spill_get()). */
struct spill;
struct spill_reader;
size_t pkg_note_flds(const struct note *n, const struct spill *sp, struct buf *flds,
                     struct spill_reader *r);

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
    const int *ords;   /* card ordinals, ascending (arena, or static: {0}) */
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
    struct buf scratch;       /* pkg_card_ords() on the package thread */
    size_t added, changed;    /* deck notes new / changed against prev (settled) */
    const char *out_path;     /* the package's path, for messages */
    struct strmap deck_at;    /* deck name -> index into decks */
};

/* Frees the previous package's rows and guid map (apkg.c): once the rows
 * are inserted nothing reads them. */
void pkg_drop_prev(struct pkg *p);

/* A note's mod when its content changed: strictly newer than prev_mod (the
 * copy users may have), normally p->now. */
int64_t pkg_new_mod(const struct pkg *p, int64_t prev_mod);

/* The media files read into p->bufs[2..] and the media map into
 * p->bufs[1] (pkg_free_media() releases them); the collection built in the
 * file at path, and when ahead is not NULL and a second CPU is there, its
 * rows deflated on that CPU while the indexes are made (*ahead, or NULL;
 * set even when the build fails; their SHA-1s taken too when kept is set,
 * for pkg_deflate_kept()); the package written into zip_path from both,
 * the collection deflated from set when not NULL (pdeflate.h), else from
 * the file and what ahead holds (taken over, NULL or not).  Each returns 0
 * or -1 with a diagnostic. */
int pkg_load_media(struct pkg *p, struct diags *dg);
void pkg_free_media(struct pkg *p);
struct pdeflate_ahead;
int pkg_write_collection(struct pkg *p, const char *path, struct pdeflate_ahead **ahead,
                         int kept, struct diags *dg);
struct pdeflate_set;
int pkg_write_zip(struct pkg *p, const char *db_path, struct pdeflate_set *set,
                  struct pdeflate_ahead *ahead, const char *zip_path, struct diags *dg);

/* A note of the package whose fields may have changed: apkg.c fills the
 * first three members, pkg_update_collection() the last. */
struct pkg_edit {
    size_t note;      /* index into pkg.notes */
    char *flds;       /* the new fields, joined by 0x1F */
    size_t first_len; /* length of the first one */
    int changed;      /* the stored fields differed: the rows were rewritten */
};

/* Rewrites the rows of the edited notes in the collection at path (made by
 * pkg_write_collection()) as a build at p->now would write them: a note
 * whose fields equal the stored ones is left alone; the others get their
 * fields, sort field, checksum and a new mod (pkg_new_mod()), which their
 * cards and p->notes take too, and the col row follows the newest mod.
 * Returns 0 or -1 with a diagnostic (the file may then be half written). */
int pkg_update_collection(struct pkg *p, const char *path, struct pkg_edit *e, size_t n,
                          struct diags *dg);

/* A kept build (apkg.c makes it, apkg-keep.c updates it). */
struct apkg_keep {
    struct pkg p;              /* the package's content; p.d is the deck */
    char *db_path;             /* its collection, kept */
    struct pdeflate_set *set;  /* the collection's deflated pieces */
    const struct note *notes;  /* d->notes and d->nnotes when kept: any */
    size_t nnotes;             /* other means the deck changed shape */
    size_t *pnote_of;          /* deck note -> index into p.notes, or SIZE_MAX */
    size_t first_removed;      /* p.notes from here on: kept removed notes */
    int removed_in_order;      /* ...in id order, as a full build reads them */
    int answered_only;
    char *deck_print;          /* deck_print() when kept */
    struct diags said;         /* collect_notes()'s warnings: a full build repeats them */
    size_t deflated;           /* pieces the last build or update deflated */
    int unusable;              /* an update fell back or failed */
};

/* apkg.c, for apkg-keep.c */
/* The deck-wide inputs of a package, printed: an update is exact only
 * while they stay the same. */
char *pkg_deck_print(const struct deck *d);
/* The note's guid (attempt > 0: after a clash), model, full deck name and
 * tags as the package stores them. */
void pkg_guid_of(const struct deck *d, const struct note *n, int attempt, char out[12]);
const struct anki_model *pkg_note_model(const struct deck *d, const struct note *n);
const char *pkg_note_deck(const struct pkg *p, const struct note *n);
void pkg_note_tags(const struct deck *d, const struct note *n, struct buf *out);
/* The card ordinals the note's fields make under model m, into ords
 * (scratch: any buffer, reset first). */
size_t pkg_card_ords(struct buf *scratch, const struct anki_model *m, const char *flds,
                     int *ords);
/* Settles deck note pn once its fields flds (pkg_note_flds()) are made:
 * its card ordinals (in a, unless the shared {0}) and its mod against the
 * previous package.  Returns 1 when the note is new, 2 when it changed, 0
 * when it is the same.  Reads p only: safe beside another thread that
 * inserts other notes, with its own a and scratch. */
int pkg_note_settle(const struct pkg *p, struct pnote *pn, const struct buf *flds,
                    struct arena *a, struct buf *scratch);
/* The collection at db_path deflated into set (its pieces kept), taking
 * what ahead deflated (taken over; NULL: none). */
struct pdeflate_set;
int pkg_deflate_kept(struct pkg *p, struct pdeflate_set *set, const char *db_path,
                     struct pdeflate_ahead *ahead, struct diags *dg);

#endif
