/* answers-int.h - what answers.c shares with the files it was split into:
 * answers-files.c (finding and reading the answer files) and answers-keep.c
 * (a watcher's refresh of changed answers).  Not an interface. */
#ifndef MDECK_ANSWERS_INT_H
#define MDECK_ANSWERS_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mdeck/answers.h"
#include "mdeck/util.h"


struct file {
    char *rel;            /* relative to the deck folder */
    char *path;           /* deck folder + rel: what diagnostics show */
    struct buf src;       /* contents (markdown files) */
    size_t body_off;      /* after the front matter */
    int is_html;
    int loaded;           /* read and valid */
    const char **sources; /* front matter source URLs */
    size_t nsources;
    int used;
    int diagnosed;        /* reading it gave messages */
    int orphaned;         /* it or one of its sections answers nothing */
    struct stat st;       /* the file right before it was read (st_ino 0: none) */
    /* Of a large deck's files, all but the first few megabytes are dropped
     * once scanned (src emptied) and read again for the render, which
     * checks them against len and crc (answers_reload()).  A watcher
     * checks a file it read too soon after a change by them too. */
    int dropped;
    size_t len;           /* the text's length, once loaded */
    uint64_t crc;         /* its CRC-64 (answers_crc()) */
    atomic_int reload;    /* 0: not read again yet, 1: being read, 2: read, 3: failed */
    size_t sec_first, sec_end; /* its sections: secs[sec_first..sec_end) */
    /* While files are read on every core: the file's own sections and
     * messages, merged into the context's in file order afterwards. */
    struct section *ls;
    size_t nls, capls;
    struct diags *fdg;
};

struct section {
    size_t file;
    int level;
    char *title;          /* heading text as written */
    char *key;
    char *slug;
    int line;             /* heading line */
    size_t body, body_end;/* byte range of the (shared) body */
    int body_line;        /* line of the body's first byte */
    int used;
};

struct ctx {
    struct deck *d;       /* NULL while the files are loaded (answers_load) */
    struct diags *dg;
    const char *dir;      /* the deck folder */
    struct arena arena;   /* what loading made, until d's arena takes it */
    struct diags load_dg; /* loading's messages, until the attach */
    struct file *files;
    size_t nfiles, capfiles;
    struct section *secs;
    size_t nsecs, capsecs;
    struct arena *raw;    /* unsanitized HTML (see answer_range) */
    struct buf *html, *text; /* a worker's render buffers, reused from note to
                                note (NULL: set_answer() makes its own) */
    struct spill_stage *stage; /* where a worker keeps the answers' final
                                  HTML and text (NULL: texts) */
    struct arena *texts;  /* without a stage, where the final text goes
                             (NULL: d's arena) */
    struct strmap bykey;  /* key -> first section with a body */
    size_t *next_same;    /* section -> next one with a body and that key */
    struct strmap byrel;  /* file rel -> index into files */
    struct strmap bysrc;  /* front matter source URL -> first srcs entry */
    struct srcent *srcs;  /* every (file, source) pair, in file order */
    size_t nsrcs;
};

/* What a watcher keeps of the answers between builds (answers_refresh):
 * the files and sections as matched (without their text), each note's
 * choice, and whether its render was clean (no messages, no images). */
struct answer_keep {
    struct ctx c;
    struct choice *chosen;
    unsigned char *clean;  /* per note: rendered without a message */
    size_t *use_at;        /* per note (+1): its images, use_media[use_at[i]..use_at[i+1]) */
    size_t *use_media;     /* indexes into the deck's media, in the order shown */
};

/* One source URL of an answer file's front matter; next: the next entry
 * with the same URL (or NONE). */
struct srcent {
    size_t file;
    size_t next;
};

#define NONE ((size_t)-1)


/* Where a note's answer comes from (answers.c matches it). */
struct choice {
    const char *how;
    size_t file;        /* (size_t)-1: the index (inline) */
    size_t sec;         /* (size_t)-1: the whole file */
};

/* answers-files.c */
/* Lists the answer files of c->dir (sorted, subfolders too) into c->files;
 * problems go to c->dg. */
void answers_walk(struct ctx *c);
/* Reads file fi and finds its sections (the keys come later); touches
 * nothing shared, so files are read on every core; strings that outlive
 * the build go into a. */
void answers_read_one(struct ctx *c, size_t fi, struct arena *a);
/* Reads every markdown file on all cores, then merges sections and
 * messages in file order.  Once the files read hold answers_large()
 * bytes, each further file is dropped after its scan. */
void answers_read_all(struct ctx *c);
/* The CRC-64 of a file's text, as kept in struct file. */
uint64_t answers_crc(const struct buf *text);
/* For the render: file fi's text in c->files[fi].src again, when the scan
 * dropped it (read once, by whichever thread asks first).  1 when src
 * holds what the scan read; 0 when the file cannot be read or changed
 * since, said in dg by the thread that read it. */
int answers_reload(struct ctx *c, size_t fi, struct diags *dg);
/* From how many bytes of answer files a deck is large: its files are
 * dropped after the scan and read again, and its rendered answers go to a
 * spill (spill.h).  $MDECK_SPILL_MIN, else 4 MiB: below that the second
 * read, the file and its page faults cost more than the memory saved. */
size_t answers_large(void);
/* answers-scan.c */
/* Finds the sections of file f, read into f->src, its body from byte boff:
 * the top-level headings of level 1 and 2 and their bodies, into f->ls.
 * fast: try the line scan first (md4c given only the lines that can be
 * such headings).  Returns 1 when the line scan was used, 0 when md4c
 * parsed the whole file. */
int answers_scan(struct file *f, size_t fi, size_t boff, int fast);
/* The NUL bytes answers_scan() puts after a file's text (md4c 0.4.8 may
 * read past its input): read_file_pad() leaves room for them. */
#define ANSWERS_PAD 16

/* 1 when path (symbolic links resolved) is inside the folder dir. */
int answers_inside(const char *dir, const char *path);
/* Frees c's files and sections. */
void answers_free_files(struct ctx *c);

/* answers.c */
/* Renders the chosen answer into n (c->d may be a worker's shadow). */
void answers_apply(struct ctx *c, struct note *n, const struct choice *ch);
/* Sanitizes the note's answer and cloze text into a, or the answer into st
 * when st is not NULL. */
struct spill_stage;
void answers_sanitize(struct arena *a, struct note *n, struct spill_stage *st);

/* 1-based line of p in the text starting at base. */
static inline int answers_line_of(const char *base, const char *p)
{
    int l = 1;
    for (const char *s = base; s < p; s++) l += *s == '\n';
    return l;
}

#endif
