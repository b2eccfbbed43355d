/* deck.h - the in-memory deck: what every source stage produces and every
 * writer consumes.
 *
 * sources (index.c, answers.c) -> struct deck -> outputs (apkg.c, csv.c,
 * quizlet.c).  Everything reachable from a deck lives in deck->arena, except
 * the three growable arrays and the maps, which deck_free() releases. */
#ifndef MDECK_DECK_H
#define MDECK_DECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mdeck/arena.h"
#include "mdeck/util.h"

enum output_format {
    FMT_APKG = 1,
    FMT_CSV = 2,
    FMT_QUIZLET = 4,
    FMT_ALL = 7,
};

/* A front-matter rule: a leading prefix removed from questions, optionally
 * turned into a tag. */
struct prefix_rule {
    const char *prefix;
    const char *tag; /* NULL: removed without a tag */
};

struct deck_options {
    const char *name;      /* overrides the first # heading */
    const char *id;        /* stable deck identity; default: the folder name */
    const char **tags;     /* added to every note */
    size_t ntags;
    struct prefix_rule *prefixes;
    size_t nprefixes;
    unsigned formats;      /* FMT_* bits; 0 when not set in front matter */
    int reversed;          /* also make a reversed card for basic notes */
    int unsafe_html;       /* sanitizer off (warned at every build) */
    int fm_line;           /* line of the closing --- (0: no front matter) */
};

/* Where a note's answer came from and what it renders to. */
struct answer {
    const char *path;  /* relative to the deck folder */
    int line;          /* first line of the answer's heading or content */
    const char *how;   /* "link", "heading", "source-url", "inline" */
    const char *html;  /* sanitized HTML for Anki */
    const char *text;  /* plain text (Quizlet) */
    const char *md;    /* markdown source of the body while answers are
                          attached (answers.c); NULL afterwards and for
                          HTML files */
    int canonical;     /* html is the renderer's canonical HTML: sanitizing
                          it would change nothing (render.h), so it is not */
};

struct note {
    const char *id;          /* stable identity (identity.c); NULL before */
    const char *question;    /* clean front, plain text */
    const char *front_html;  /* clean front as HTML */
    const char *key;         /* normalised question, for matching */
    const char **tags;       /* sorted, unique, no spaces */
    size_t ntags;
    const char **sources;    /* source URLs, in index order, unique */
    size_t nsources;
    const char *link;        /* relative answer link "path[#frag]" or NULL */
    const char *pinned;      /* explicit id written on the item, or NULL */
    const char *deck;        /* full deck name, "Top::Sub" */
    int line, col;           /* first index line of the item */
    int *lines;              /* every index line merged into this note */
    size_t nlines;
    const char *inline_md;   /* markdown indented under the item, or NULL */
    int inline_line;
    struct answer answer;    /* answer.html == NULL: no answer yet */
    int cloze;               /* 1: Cloze note type */
    const char *cloze_html;  /* Cloze: the Text field */
    const char *cloze_text;  /* Cloze: plain-text front with fills shown */
};

/* The note's front as it goes into its first field: the cloze text for a
 * Cloze note, else the front (HTML). */
static inline const char *note_front_html(const struct note *n)
{
    return n->cloze ? n->cloze_html : n->front_html;
}

struct media {
    const char *name;  /* name inside the package: content hash + extension */
    const char *path;  /* file to copy it from */
    uint64_t size;
    struct stat st;    /* the file as it was right before it was read */
};

struct deck {
    struct arena arena;
    const char *dir;       /* deck folder as given */
    const char *slug;      /* base name of outputs: the folder's name */
    const char *name;      /* top deck name */
    const char *desc_html; /* description from the index */
    struct deck_options opt;
    const char **decks;    /* every deck name used, parents before children */
    size_t ndecks, capdecks;
    struct strmap deck_at; /* deck name -> index into decks */
    struct note *notes;
    size_t nnotes, capnotes;
    struct media *media;
    size_t nmedia, capmedia;
    struct strmap media_at; /* media name -> index into media */
    struct strmap media_of_path; /* file already read -> index into media */
    /* When log_uses is set, deck_add_media() appends the index of every
     * media it returns (first use or not): the render's workers log which
     * images each note shows. */
    int log_uses;
    size_t *uses;
    size_t nuses, capuses;
    /* When set (a render worker's shadow deck, for one render), the real
     * paths image_resolve() needs, made once instead of for every image:
     * the deck folder's, the last base folder's and the last image
     * folder's. */
    struct real_paths *real;
    /* When sum_index is set (a watcher's build), index_parse() keeps the
     * SHA-256 of index.md as it was parsed: a watcher tells an index read
     * right after an edit from a changed one by it (build.c,
     * index_bytes_same; a build that could not read the index is never
     * kept). */
    int sum_index;
    unsigned char index_sum[32];
    /* A large deck's answer HTML and text, when the render put them in a
     * temporary file instead of the arena (spill.h); NULL otherwise.
     * Writers that read every answer call spill_release() as they go. */
    struct spill *spill;
};

struct real_paths {
    char *dir;              /* realpath(d->dir), or NULL when not made yet */
    char *base_in, *base;   /* the last base folder asked for, and its real path */
    char *folder_in, *folder; /* the last image's folder (as written), and its real path */
};

/* Frees what real holds (not real itself). */
void real_paths_free(struct real_paths *real);

void deck_init(struct deck *d, const char *dir);
void deck_free(struct deck *d);
struct note *deck_add_note(struct deck *d);
/* Adds a deck name and every ancestor ("A::B::C" adds A, A::B, A::B::C). */
void deck_add_deck_name(struct deck *d, const char *name);
/* Adds a tag to a note (kept sorted and unique; spaces become '_'). */
void note_add_tag(struct deck *d, struct note *n, const char *tag);
void note_add_source(struct deck *d, struct note *n, const char *url);
void note_add_line(struct deck *d, struct note *n, int line);
/* Registers a media file; returns its name inside the package or NULL when
 * the file cannot be read. Identical content is stored once (looked up in a
 * map: a scan per image made 100,000 images quadratic), and a file is read
 * and hashed once however often it is shown (10,000 uses of one 1 MB image
 * took 13 s). */
const char *deck_add_media(struct deck *d, const char *path);
/* The name in the package of the image at path holding data[0..len):
 * "mdeck-", the first 80 bits of its SHA-256 in hex, the extension. */
#define DECK_MEDIA_NAME 40
void deck_media_name(const char *path, const void *data, size_t len, char out[DECK_MEDIA_NAME]);
/* Appends a media entry registered in another deck (a worker's shadow, whose
 * arena d takes over) unless one of that name is already listed; the first
 * listed keeps its path, as with deck_add_media(). */
void deck_merge_media(struct deck *d, const struct media *m);


/* The note's Anki guid, shared by the package and the CSV: base91 of the
 * first 8 bytes of SHA-256 over the deck identity (front matter id, else the
 * folder name), 0x1F and the note's stable id.  Never from the fields, so
 * edits update the note instead of duplicating it. out holds 12 bytes. */
void note_guid(const struct deck *d, const struct note *n, char out[12]);

/* The Source field: each source URL as a link, joined by <br>; "" when the
 * note has none.  A URL that source_url_safe() refuses (javascript: and
 * other schemes) is written as text, not as a link.  Shared by the package
 * and the CSV.  Appended to out. */
struct buf;
void note_source_html(const struct note *n, struct buf *out);
int source_url_safe(const char *url);

#endif
