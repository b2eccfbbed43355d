/* apkg.h - the legacy Anki package: collection.anki2 (SQLite, schema 11),
 * the media map and media files, in a zip.  See docs/anki.md.  The note
 * types themselves (fields, templates, CSS) are in anki-model.h. */
#ifndef MDECK_APKG_H
#define MDECK_APKG_H

#include <stddef.h>
#include <stdint.h>

#include "mdeck/arena.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* Note type ids: fixed forever (changing them orphans every user's notes). */
#define MDECK_MODEL_BASIC    1718000000001LL
#define MDECK_MODEL_REVERSED 1718000000003LL
#define MDECK_MODEL_CLOZE    1718000000005LL

/* How long a question removed from the index stays in the package, tagged
 * mdeck::removed, so every device can find and delete it. */
#define MDECK_REMOVED_KEEP_DAYS 30

struct apkg_stats {
    size_t notes;    /* notes of the deck written (removed ones not counted) */
    size_t added;    /* guid not in the previous package */
    size_t changed;  /* in the previous package, content or tags changed */
    size_t removed;  /* newly tagged mdeck::removed by this build */
    size_t kept_removed; /* removed earlier, still kept (tagged) */
    size_t dropped;  /* removed more than MDECK_REMOVED_KEEP_DAYS ago: gone */
};

/* The tag a question removed from the index carries while it is kept. */
#define MDECK_REMOVED_TAG "mdeck::removed"

/* Builds the package bytes for d into out.  prev_path, when it names a
 * readable earlier package of this deck, supplies the previous notes so that
 * unchanged notes keep their modification time and removed ones are kept
 * (tagged) for MDECK_REMOVED_KEEP_DAYS.  Returns 0 or -1. */
int apkg_build(const struct deck *d, const char *prev_path, int answered_only,
               struct buf *out, struct apkg_stats *st, struct diags *dg);

/* A deck's id before collisions are resolved: derived from its full name
 * (never from the clock; docs/anki.md).  Note guids are note_guid(). */
int64_t apkg_deck_id(const char *full_name);

/* --- reading packages back (mdeck inspect, tests) --- */

struct apkg_note {
    int64_t id, mid, mod;
    int64_t did;                     /* its first card's deck (by ordinal, then
                                        id); 0 when it has no card */
    char *guid, *tags, *flds, *sfld; /* flds, sfld NULL when read slim */
    uint32_t csum;
    uint8_t flds_sha1[20];           /* read slim: SHA-1 of flds */
};
struct apkg_card {
    int64_t id, nid, did, ord, due, queue, type;
};
struct apkg_info {
    char *decks_json, *models_json, *col_conf_json, *dconf_json;
    int ver;
    const char *collection; /* zip entry read: "collection.anki21" or ".anki2" */
    struct apkg_note *notes; size_t nnotes;
    struct apkg_card *cards; size_t ncards;
    char **media_keys, **media_names; /* from the media map */
    uint64_t *media_sizes; /* 0 and listed as missing when absent in zip */
    int *media_present;
    size_t nmedia;
    void *db;     /* read slim: the collection, open for apkg_note_flds() */
    struct arena strs; /* the notes' strings */
};

/* Reads any legacy .apkg (ours or exported by Anki with collection.anki2;
 * collection.anki21 is preferred when present).  Notes come in id order,
 * cards in (nid, ord) order, media in key order.  Packages in the newer
 * format (collection.anki21b) are refused.  Never trusts the input: a
 * corrupt zip or database is an error, not a crash; the collection is
 * capped at APKG_MAX_COLLECTION bytes.  Returns 0, or -1 with a diagnostic
 * naming the file (info is then empty). */
#define APKG_MAX_COLLECTION ((uint64_t)2 << 30)
int apkg_read(const char *path, struct apkg_info *info, struct diags *dg);
void apkg_info_free(struct apkg_info *info);

/* apkg_read, slim: notes without flds and sfld (only the SHA-1 of flds)
 * and no cards (each note's did says where its first card is), the
 * collection kept open (an unlinked temporary file) so that the fields of
 * the few notes that need them are read with apkg_note_flds().  A
 * 100,000-note package then takes ~12 MB instead of ~110 MB. */
int apkg_read_slim(const char *path, struct apkg_info *info, struct diags *dg);
/* The fields of n (of info): a copy the caller frees, or NULL when the
 * collection cannot give them. */
char *apkg_note_flds(const struct apkg_info *info, const struct apkg_note *n);

/* The previous package, read ahead: `mdeck build` reads it on another
 * thread while the deck loads, since it depends only on the output path.
 * state: 0 no such file, 1 read into info, -1 unreadable (why says why). */
struct apkg_prev {
    int state;
    struct apkg_info info;
    char *why;
};
void apkg_prev_read(const char *path, struct apkg_prev *prev);
void apkg_prev_free(struct apkg_prev *prev);

/* apkg_build() with the previous package already read by apkg_prev_read()
 * (prev_path names it in messages).  Takes prev over and frees it. */
int apkg_build_prev(const struct deck *d, const char *prev_path,
                    struct apkg_prev *prev, int answered_only, struct buf *out,
                    struct apkg_stats *st, struct diags *dg);

/* The same, written into the file zip_path (replaced) instead of memory:
 * the collection is built in a file beside it ("<zip_path>-collection",
 * removed afterwards), so that a large package is never held whole.  On
 * errors zip_path may hold anything; the caller removes it. */
int apkg_write(const struct deck *d, const char *prev_path, struct apkg_prev *prev,
               int answered_only, const char *zip_path, struct apkg_stats *st,
               struct diags *dg);

/* --- keeping a build for fast updates (mdeck watch) ---
 *
 * A full build of a 100,000-note deck takes ~1.5 s: the rows and seven
 * indexes of a 127 MB collection, then deflating it.  When only a few
 * answers changed, the watcher updates the kept build instead: those notes'
 * rows are rewritten in the kept collection and only the 1 MiB pieces of it
 * whose input changed are deflated again (pdeflate.h), which takes ~0.1 s. */
struct apkg_keep;

/* apkg_write(), and when keep is not NULL and the write succeeded, *keep
 * receives what apkg_update() needs later (else NULL): the collection file
 * (kept in a private temporary in $TMPDIR, else beside the package,
 * instead of being deleted), the package's notes (pointing into d: d must
 * outlive the keep), each deflated 1 MiB piece of the collection with a
 * SHA-1 of its input (the piece and the 32 KiB dictionary before it) and
 * its CRC-32, and what else the zip needs.  The package's bytes are those
 * apkg_write() makes. */
int apkg_write_keep(const struct deck *d, const char *prev_path, struct apkg_prev *prev,
                    int answered_only, const char *zip_path, struct apkg_stats *st,
                    struct diags *dg, struct apkg_keep **keep);

/* Writes to zip_path the package that apkg_write() would make from d, with
 * the package kept in keep as the previous package, when only the answers
 * (note->answer.html, hence the Back field) of the notes listed in changed
 * (indexes into d->notes, ascending) may differ from the kept build's.  d
 * is the same deck object as the kept build's, those notes' fields replaced
 * in place (the deck's media may have grown).  Only those notes' rows are
 * updated in the kept collection (a note whose fields turn out equal is
 * left alone), then only the pieces of the collection whose input changed
 * are deflated again, and the zip is written.  The rows, media and media
 * map are those of the full build at the same clock (now_seconds()), and
 * so are st and the warnings a full build repeats; the collection's bytes
 * may differ.  Returns 0, 1 when this cannot be done this way (nothing
 * written: the caller makes a full build; e.g. a changed note is a Cloze
 * note, its cards or its presence in the package would change, a removed
 * note kept in the package is due to be dropped, or the deck changed
 * otherwise), or -1 on errors (diagnostics added, the previous file is
 * kept).  After 1 or -1 the keep is unusable: free it.  After 0 it
 * describes the new package. */
int apkg_update(struct apkg_keep *keep, const struct deck *d, const size_t *changed,
                size_t nchanged, const char *zip_path, struct apkg_stats *st,
                struct diags *dg);

/* The kept collection's pieces, and how many of them the last build or
 * update deflated (the others were reused). */
void apkg_keep_pieces(const struct apkg_keep *keep, size_t *pieces, size_t *deflated);

/* Deletes the kept collection and frees everything; NULL is fine. */
void apkg_keep_free(struct apkg_keep *keep);

/* Anki's field helpers (defined in anki-model.c), exposed for tests.
 * anki_strip_html: <img …src=X…> becomes " X "; comments, <style>/<script>
 * blocks and tags are removed; entities (&#N; &#xH; and HTML 4 names) are
 * decoded; U+00A0 becomes a space; nothing is trimmed.  sfld is that of the
 * sort field (0); csum the first 4 bytes of its SHA-1, big-endian. */
void anki_strip_html(const char *html, struct buf *out);
uint32_t anki_csum(const char *first_field_html);

#endif
