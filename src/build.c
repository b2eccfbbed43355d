/* build.c - one deck from sources to outputs: the call `mdeck build` and
 * `mdeck watch` share. */
#include "mdeck/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mdeck/answers.h"
#include "mdeck/apkg.h"
#include "mdeck/hash.h"
#include "mdeck/identity.h"
#include "mdeck/index.h"
#include "mdeck/par.h"
#include "mdeck/publish.h"
#include "mdeck/textout.h"

struct ident_job {
    struct deck *d;
    int write, rc;
    struct arena arena;
    struct diags dg;
};

static void *ident_run(void *arg)
{
    struct ident_job *j = arg;
    j->rc = identity_assign_in(j->d, &j->arena, j->write, &j->dg);
    /* The lock's records are freed: give their pages back now, while the
     * answers are still being rendered, not at the end of the build (at
     * 100k notes on one thread: 82 -> 45 MB resident at this point). */
    malloc_trim(0);
    prof_mark("identities");
    return NULL;
}

/* The answer files need nothing of the index: they are read on a thread
 * of their own while the index is parsed. */
struct load_job {
    const char *dir;
    struct answer_files *files;
};

static void *load_run(void *arg)
{
    struct load_job *j = arg;
    j->files = answers_load(j->dir);
    return NULL;
}

/* deck_load(), keeping in *ak (when not NULL) what a watcher's refresh
 * needs of the answers. */
static int deck_load_in(struct deck *d, const char *dir, const struct build_opts *o,
                        struct diags *dg, struct answer_keep **ak)
{
    deck_init(d, dir);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        diag_add(dg, SEV_ERROR, dir, 0, 0, "not a deck folder: %s",
                 errno == ENOENT ? "no such folder" : "not a folder");
        return -1;
    }
    prof_mark("start");
    d->sum_index = ak != NULL; /* a watcher's: see index_bytes_same() */
    struct load_job load = {.dir = d->dir};
    pthread_t load_tid;
    int loading = par_workers(2, 1) > 1 && par_thread_create(&load_tid, load_run, &load) == 0;
    if (index_parse(d, dg) < 0) {
        if (loading) pthread_join(load_tid, NULL);
        answers_files_free(load.files);
        return -1;
    }
    prof_mark("index");
    int rc = 0;
    /* mdeck.lock is published in the deck folder: a killed run's temporary */
    if (o && o->write_lock && !o->dry_run) publish_clean_stale(dir);
    /* Identities (the lock file) and answers touch different parts of the
     * notes: the first runs on a thread of its own, with its own arena and
     * diagnostics, taken over afterwards in the order one after the other
     * would give. */
    struct ident_job job = {.d = d, .write = o && o->write_lock && !o->dry_run};
    arena_init(&job.arena);
    diags_init(&job.dg);
    pthread_t tid;
    int threaded = par_workers(2, 1) > 1 && par_thread_create(&tid, ident_run, &job) == 0;
    if (!threaded) ident_run(&job);
    struct diags adg;
    diags_init(&adg);
    if (loading) pthread_join(load_tid, NULL);
    else load.files = answers_load(d->dir);
    if (answers_attach_keep(d, load.files, &adg, ak) < 0) rc = -1;
    prof_mark("answers");
    if (threaded) pthread_join(tid, NULL);
    arena_adopt(&d->arena, &job.arena);
    if (job.rc < 0) rc = -1;
    malloc_trim(0);
    diags_move(dg, &job.dg);
    diags_move(dg, &adg);
    diags_free(&job.dg);
    diags_free(&adg);
    return rc;
}

int deck_load(struct deck *d, const char *dir, const struct build_opts *o,
              struct diags *dg)
{
    return deck_load_in(d, dir, o, dg, NULL);
}

char *output_path(const char *outdir, const char *slug, unsigned fmt)
{
    const char *ext = fmt == FMT_APKG ? ".apkg" : fmt == FMT_CSV ? ".csv" : ".quizlet.txt";
    /* Anki offers to replace the whole collection for these names. */
    if (fmt == FMT_APKG && (!strcmp(slug, "collection") || str_starts_with(slug, "backup-")))
        return xasprintf("%s/%s-deck%s", outdir, slug, ext);
    return xasprintf("%s/%s%s", outdir, slug, ext);
}

static int make_dirs(const char *path, struct diags *dg)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        mkdir(p, 0777);
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) < 0 && errno != EEXIST) {
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot create the output folder: %s", strerror(errno));
        rc = -1;
    } else {
        struct stat st;
        if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
            diag_add(dg, SEV_ERROR, path, 0, 0, "output path exists and is not a folder");
            rc = -1;
        }
    }
    free(p);
    return rc;
}

/* One output, made into a temporary beside its file: the package by
 * libzip into a file of its own, the text files streamed (publish_stream:
 * nothing is written while they equal the current files).  Nothing is
 * visible until the build publishes. */
struct output {
    unsigned fmt;
    const struct deck *d;
    const char *path;
    int answered_only;
    char *tmp;                 /* the file written (the package; a spliced text file) */
    struct publish_stream ps;  /* FMT_CSV, FMT_QUIZLET when streamed */
    struct diags dg;
    struct apkg_stats as;
    struct apkg_prev prev; /* FMT_APKG: the previous package */
    struct apkg_keep **keep; /* FMT_APKG: a watcher's, or NULL */
    size_t *rows;          /* FMT_CSV, FMT_QUIZLET: where each note's row went, or NULL */
    int rc;
};

static void flush_to_stream(struct sink *k)
{
    publish_stream_write(k->arg, k->b.s, k->b.len);
    buf_reset(&k->b);
}

static void *make_output(void *arg)
{
    struct output *o = arg;
    if (o->fmt == FMT_APKG) {
        /* Made beside the package; where that folder takes no new file
         * (read-only, full), in $TMPDIR: an unchanged package then still
         * needs no write, and a changed one fails when it is published. */
        o->tmp = publish_temp_name(o->path);
        int fd = o->tmp ? -1 : tmpdir_file(&o->tmp);
        if (fd >= 0) close(fd);
        if (!o->tmp) {
            diag_add(&o->dg, SEV_ERROR, o->path, 0, 0,
                     "cannot create a temporary file beside it or in $TMPDIR: %s (the previous file is kept)",
                     strerror(errno));
            apkg_prev_free(&o->prev);
            o->rc = -1;
        } else {
            o->rc = apkg_write_keep(o->d, o->path, &o->prev, o->answered_only, o->tmp, &o->as,
                                    &o->dg, o->keep);
        }
        prof_mark("package");
        return NULL;
    }
    publish_stream_open(&o->ps, o->path);
    struct sink k = {.b = BUF_INIT, .flush = flush_to_stream, .arg = &o->ps};
    if (o->fmt == FMT_CSV) o->rc = csv_write_rows(o->d, o->answered_only, &k, &o->dg, o->rows);
    else o->rc = quizlet_write_rows(o->d, o->answered_only, &k, &o->dg, o->rows);
    flush_to_stream(&k);
    buf_release(&k.b);
    prof_mark(o->fmt == FMT_CSV ? "csv" : "quizlet");
    return NULL;
}

/* The CSV and Quizlet files of outs[1] and outs[2] (those with a path),
 * then their data put on disk while the package is still being made
 * (~0.1 s of writeback at 100k that publishing would wait for). */
static void *make_text_outputs(void *arg)
{
    struct output *outs = arg;
    for (int i = 1; i < 3; i++)
        if (outs[i].path) make_output(&outs[i]);
    for (int i = 1; i < 3; i++)
        if (outs[i].path) publish_stream_sync(&outs[i].ps);
    return NULL;
}

/* Publishing, first phase: the output's temporary fsynced (or found equal
 * to the current file).  1 ready, 0 unchanged, -1 error. */
static int output_prepare(struct output *o, struct publish *pub, struct diags *dg)
{
    if (o->tmp) {
        int r = publish_prepare_written(pub, o->path, o->tmp, dg);
        free(o->tmp);
        o->tmp = NULL;
        return r;
    }
    return publish_stream_finish(&o->ps, pub, dg);
}

/* Whatever an output left unpublished is removed. */
static void output_discard(struct output *o)
{
    if (o->tmp) {
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    }
    if (o->fmt != FMT_APKG && o->path) publish_stream_abort(&o->ps);
}

/* The previous package, read on a thread of its own while the deck loads:
 * it depends only on the output path, and reading it back (inflate, then
 * SQLite) is a tenth of a large build. */
struct prev_ahead {
    char *path;
    struct apkg_prev prev;
    pthread_t tid;
    int started;
};

static void *read_prev(void *arg)
{
    struct prev_ahead *a = arg;
    apkg_prev_read(a->path, &a->prev);
    prof_mark("previous package read");
    return NULL;
}

static void prev_start(struct prev_ahead *a, const char *dir, const struct build_opts *o)
{
    memset(a, 0, sizeof *a);
    if (o->dry_run || (o->formats && !(o->formats & FMT_APKG)) || par_workers(2, 1) < 2) return;
    struct deck tmp;
    deck_init(&tmp, dir); /* the slug deck_load() will find */
    a->path = output_path(o->outdir, tmp.slug, FMT_APKG);
    deck_free(&tmp);
    a->started = par_thread_create(&a->tid, read_prev, a) == 0;
}

/* The previous package at path: the one read ahead, or read now. */
static void prev_take(struct prev_ahead *a, const char *path, struct apkg_prev *out)
{
    if (a->started) pthread_join(a->tid, NULL);
    if (a->started && !strcmp(a->path, path)) {
        *out = a->prev;
        memset(&a->prev, 0, sizeof a->prev);
    } else {
        apkg_prev_read(path, out);
    }
    a->started = 0;
}

static void prev_end(struct prev_ahead *a)
{
    if (a->started) pthread_join(a->tid, NULL);
    apkg_prev_free(&a->prev);
    free(a->path);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Publishes the outputs made (outs[i] for the formats with paths[i]) in
 * two phases: every changed output is fsynced in its temporary first; only
 * when all succeeded are they renamed, so a failure in any output replaces
 * none.  rc: the build's so far; returns it, updated. */
static int publish_outputs(struct output *outs, char *const *paths, const struct build_opts *o,
                           struct build_stats *st, int rc, struct diags *dg)
{
    static const unsigned order[] = {FMT_APKG, FMT_CSV, FMT_QUIZLET};
    if (rc == 0 && o->before_publish && o->before_publish(o->before_publish_arg))
        st->discarded = 1;
    struct publish pub[3];
    int ready[3] = {0};
    for (int i = 0; i < 3 && rc == 0 && !st->discarded; i++) {
        if (!paths[i]) continue;
        ready[i] = output_prepare(&outs[i], &pub[i], dg);
        if (ready[i] < 0) rc = -1;
        else st->produced |= order[i];
    }
    struct publish go[3];
    unsigned fmt[3];
    int res[3];
    size_t ngo = 0;
    for (int i = 0; i < 3; i++) {
        output_discard(&outs[i]);
        if (ready[i] <= 0) continue;
        if (rc < 0) {
            publish_abort(&pub[i]);
            continue;
        }
        go[ngo] = pub[i];
        fmt[ngo++] = order[i];
    }
    publish_commit_all(go, ngo, res, dg);
    for (size_t i = 0; i < ngo; i++) {
        if (res[i] < 0) rc = -1;
        if (res[i] > 0) st->written |= fmt[i];
    }
    if (rc < 0) st->produced = 0;
    prof_mark("published");
    return rc;
}

/* --- a watcher's cache ---------------------------------------------------- */

/* What a file looked like: any edit, rename over it or replacement changes
 * it (the inode, size, or nanosecond times).  Taken before the file is
 * read, never after: an edit landing between the read and the signature
 * would otherwise look like the version built.  A file changed less than
 * a second before its signature was taken is "racy": file times advance in
 * coarse ticks, so an edit in the same tick would keep the same times; it
 * is read again at the next build whatever its signature says (as git
 * does with its index). */
struct sig {
    dev_t dev;
    ino_t ino;
    off_t size;
    long long mtime_ns, ctime_ns;
    int exists;
    int racy;
};

#define RACY_NS 1000000000LL

static long long wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The signature of a stat taken at taken_ns (st_ino 0: the file was
 * missing). */
static struct sig sig_from(const struct stat *st, long long taken_ns)
{
    struct sig g = {0};
    if (!st->st_ino && !st->st_dev) return g;
    g = (struct sig){st->st_dev, st->st_ino, st->st_size,
                     (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
                     (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec, 1, 0};
    long long newest = g.mtime_ns > g.ctime_ns ? g.mtime_ns : g.ctime_ns;
    g.racy = taken_ns - newest < RACY_NS;
    return g;
}

static struct sig sig_of(const char *path)
{
    struct stat st;
    long long now = wall_ns();
    if (stat(path, &st) < 0) memset(&st, 0, sizeof st);
    return sig_from(&st, now);
}

/* 1 when b (taken now) shows a as unchanged and a can be trusted. */
static int sig_eq(const struct sig *a, const struct sig *b)
{
    return !a->racy && a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* The last build of one deck, kept by `mdeck watch` so that an edit of a
 * few answers re-renders only them and updates the outputs in place
 * (warm_build).  Valid only after a build that published without error. */
struct build_cache {
    int valid;
    char *dir, *outdir;
    unsigned oformats;      /* as asked (0: the deck's) */
    int answered_only;
    struct deck d;          /* the deck as built, answers included */
    struct answer_keep *ak;
    struct apkg_keep *pk;
    size_t *rows[3];        /* [1] CSV, [2] Quizlet: each note's row */
    char *paths[3];         /* the outputs published */
    struct sig index, lock, out[3];
    struct sig *files;      /* the answer files, as answers_keep_path() lists them */
    size_t nfiles;
    struct sig *media;      /* d.media[i].path */
    struct diags dg;        /* the build's messages: a warm build gives the same */
    struct build_stats st;
    long long read_ns;      /* when the kept build (or refresh) began reading */
    /* The kept deck's arena keeps the texts that incremental builds
     * replace: past this size, the next build is a full one, which starts
     * the deck afresh (an editing session never grows the watcher without
     * bound).  A quarter of the full build's arena, at least 8 MiB. */
    size_t arena_limit;
    size_t growth;          /* build_cache_set_growth(); 0: the rule above */
};

struct build_cache *build_cache_new(void)
{
    tmpdir_clean_stale(); /* collections kept by watchers that were killed */
    return xcalloc(1, sizeof(struct build_cache));
}

void build_cache_set_growth(struct build_cache *c, size_t bytes) { c->growth = bytes; }

static void cache_clear(struct build_cache *c)
{
    if (c->valid || c->d.dir) deck_free(&c->d);
    answers_keep_free(c->ak);
    if (c->pk) apkg_keep_free(c->pk);
    for (int i = 0; i < 3; i++) {
        free(c->rows[i]);
        free(c->paths[i]);
    }
    free(c->dir);
    free(c->outdir);
    free(c->files);
    free(c->media);
    diags_free(&c->dg);
    size_t growth = c->growth; /* a setting, not part of the kept build */
    memset(c, 0, sizeof *c);
    c->growth = growth;
    diags_init(&c->dg);
}

void build_cache_free(struct build_cache *c)
{
    if (!c) return;
    cache_clear(c);
    diags_free(&c->dg);
    free(c);
}

static void diags_copy(struct diags *dst, const struct diags *src, size_t from)
{
    for (size_t i = from; i < src->n; i++) {
        const struct diag *g = &src->v[i];
        diag_add(dst, g->sev, g->path, g->line, g->col, "%s", g->msg);
    }
}

/* The answer files' and images' signatures, from the stats taken right
 * before they were read; the outputs', as published. */
static void cache_sign(struct build_cache *c)
{
    c->nfiles = answers_keep_nfiles(c->ak);
    free(c->files);
    c->files = xmalloc((c->nfiles + 1) * sizeof *c->files);
    for (size_t i = 0; i < c->nfiles; i++)
        c->files[i] = sig_from(answers_keep_stat(c->ak, i), c->read_ns);
    free(c->media);
    c->media = xmalloc((c->d.nmedia + 1) * sizeof *c->media);
    for (size_t i = 0; i < c->d.nmedia; i++) c->media[i] = sig_from(&c->d.media[i].st, c->read_ns);
    for (int i = 0; i < 3; i++)
        if (c->paths[i]) {
            c->out[i] = sig_of(c->paths[i]);
            c->out[i].racy = 0; /* ours, just written: their times are now */
        }
}

/* 1 when the file at path is the one the kept build read: *kept (its
 * signature then) says so; or the build read it less than a second after
 * it changed (a racy signature), its times are still those, and same()
 * finds its bytes unchanged.  *kept is then signed again as the file is
 * now, so that it is not read again once its times can be trusted.
 * Without the second way, an answer edited right after an edit of the
 * index or an image was a full build too. */
static int still_same(struct sig *kept, const char *path,
                      int (*same)(const struct buf *, const void *), const void *arg)
{
    struct sig g = sig_of(path); /* before the read (see struct sig) */
    if (sig_eq(kept, &g)) return 1;
    struct sig was = *kept;
    was.racy = 0;
    if (!kept->racy || !sig_eq(&was, &g)) return 0;
    struct buf b = BUF_INIT;
    int ok = read_file(path, &b) == 0 && same(&b, arg);
    buf_release(&b);
    if (ok) *kept = g;
    return ok;
}

/* index.md: the SHA-256 of the bytes the kept build parsed. */
static int index_bytes_same(const struct buf *b, const void *arg)
{
    const struct deck *d = arg;
    unsigned char sum[32];
    sha256(b->s, b->len, sum);
    return d->sum_index && !memcmp(sum, d->index_sum, sizeof sum);
}

/* An image: its name in the package comes from its bytes. */
static int media_bytes_same(const struct buf *b, const void *arg)
{
    const struct media *m = arg;
    char name[DECK_MEDIA_NAME];
    deck_media_name(m->path, b->s, b->len, name);
    return b->len == m->size && !strcmp(name, m->name);
}

/* An answer file: the kept build's length and CRC-64 of its text. */
struct answer_file {
    const struct answer_keep *ak;
    size_t fi;
};

static int answer_bytes_same(const struct buf *b, const void *arg)
{
    const struct answer_file *af = arg;
    return answers_keep_bytes_same(af->ak, af->fi, b);
}

/* 1 when nothing but answer files changed since the kept build (and the
 * outputs are the ones it published). */
static int cache_usable(struct build_cache *c, const char *dir, const struct build_opts *o)
{
    if (!c->valid || o->dry_run || strcmp(c->dir, dir) || strcmp(c->outdir, o->outdir) ||
        c->oformats != o->formats || c->answered_only != o->answered_only ||
        arena_bytes(&c->d.arena) > c->arena_limit)
        return 0;
    char *p = xasprintf("%s/index.md", dir);
    int same = still_same(&c->index, p, index_bytes_same, &c->d);
    free(p);
    if (!same) return 0;
    p = xasprintf("%s/%s", dir, IDENTITY_FILE);
    struct sig g = sig_of(p);
    free(p);
    if (!sig_eq(&c->lock, &g)) return 0;
    for (size_t i = 0; i < c->d.nmedia; i++)
        if (!still_same(&c->media[i], c->d.media[i].path, media_bytes_same, &c->d.media[i]))
            return 0;
    for (int i = 0; i < 3; i++) {
        if (!c->paths[i]) continue;
        g = sig_of(c->paths[i]);
        if (!sig_eq(&c->out[i], &g)) return 0;
    }
    return answers_same_files(c->ak, dir);
}

static int cmp_refreshed(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The package updated in place, on a thread of its own. */
struct update_job {
    struct build_cache *c;
    const size_t *changed;
    size_t n;
    struct output *o;
};

static void *update_run(void *arg)
{
    struct update_job *j = arg;
    struct output *o = j->o;
    o->tmp = publish_temp_name(o->path);
    if (!o->tmp) {
        o->rc = 1;
        return NULL;
    }
    o->rc = apkg_update(j->c->pk, &j->c->d, j->changed, j->n, o->tmp, &o->as, &o->dg);
    prof_mark("package updated");
    return NULL;
}

/* A text output again, its unchanged rows copied from the published file. */
static int splice_text(struct build_cache *c, struct output *o, int k, const size_t *changed,
                       size_t n);

struct splice_job {
    struct build_cache *c;
    struct output *o;
    const size_t *changed;
    size_t n;
    int rc;
};

static void *splice_run(void *arg)
{
    struct splice_job *j = arg;
    j->rc = splice_text(j->c, j->o, 1, j->changed, j->n);
    return NULL;
}

static int splice_text(struct build_cache *c, struct output *o, int k, const size_t *changed,
                       size_t n)
{
    o->tmp = publish_temp_name(o->path);
    if (!o->tmp) return -1;
    int out = open(o->tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int old = open(o->path, O_RDONLY | O_CLOEXEC);
    size_t *rows = xmalloc((c->d.nnotes + 1) * sizeof *rows);
    int rc = out < 0 || old < 0 ? -1
             : k == 1 ? csv_splice(&c->d, c->answered_only, old, c->rows[k], changed, n, out, rows)
                      : quizlet_splice(&c->d, c->answered_only, old, c->rows[k], changed, n, out,
                                       rows);
    if (out >= 0 && close(out) < 0) rc = -1;
    if (old >= 0) close(old);
    if (rc == 0) {
        free(c->rows[k]);
        c->rows[k] = rows;
    } else {
        free(rows);
    }
    prof_mark(k == 1 ? "csv spliced" : "quizlet spliced");
    return rc;
}

/* The build again from the kept one, when only answer files changed and
 * their answers can be rendered again on their own (answers_refresh).
 * 1: done, *rc its result; 0: a full build is needed; the cache is then
 * dropped either way by the caller. */
static int warm_build(struct build_cache *c, const char *dir, const struct build_opts *o,
                      struct build_stats *st, struct diags *dg, int *rc)
{
    prof_mark("warm: start");
    if (!cache_usable(c, dir, o)) return 0;
    prof_mark("warm: sources checked");
    struct refreshed r = {0};
    int ok = 1;
    c->read_ns = wall_ns();
    size_t refreshed = 0;
    for (size_t fi = 0; fi < c->nfiles && ok; fi++) {
        struct answer_file af = {c->ak, fi};
        if (still_same(&c->files[fi], answers_keep_path(c->ak, fi), answer_bytes_same, &af))
            continue;
        if (answers_refresh(&c->d, c->ak, fi, &r) <= 0) ok = 0;
        refreshed++;
    }
    /* ascending, their old texts along */
    size_t *idx = xmalloc((r.n + 1) * sizeof *idx);
    for (size_t i = 0; i < r.n; i++) idx[i] = r.notes[i];
    qsort(idx, r.n, sizeof *idx, cmp_refreshed);
    /* A Quizlet card over the limit gives a message naming its length: the
     * kept messages would no longer be the build's. */
    for (size_t i = 0; i < r.n && ok; i++) {
        struct note before = c->d.notes[r.notes[i]];
        before.answer.text = r.old_text[i];
        if (quizlet_card_warns(c->d.spill, &before) ||
            quizlet_card_warns(c->d.spill, &c->d.notes[r.notes[i]]))
            ok = 0;
    }
    free(r.notes);
    free(r.old_text);
    prof_mark("warm: answers rendered");
    if (!ok) {
        free(idx);
        return 0;
    }

    struct output outs[3];
    for (int i = 0; i < 3; i++) {
        outs[i] = (struct output){.fmt = 1u << i, .d = &c->d, .path = c->paths[i],
                                  .answered_only = c->answered_only};
        outs[i].ps.fd = outs[i].ps.old_fd = -1;
        diags_init(&outs[i].dg);
    }
    struct update_job job = {c, idx, r.n, &outs[0]};
    pthread_t tid;
    int threaded = 0;
    if (c->paths[0]) {
        threaded = par_workers(2, 1) > 1 && par_thread_create(&tid, update_run, &job) == 0;
        if (!threaded) update_run(&job);
    }
    /* The two text files are copied by the kernel: the CSV on a thread of
     * its own, beside the package's update. */
    int fallback = 0;
    struct splice_job sj = {c, &outs[1], idx, r.n, 0};
    pthread_t stid;
    int sthreaded = c->paths[1] && c->paths[2] && par_workers(2, 1) > 1 &&
                    par_thread_create(&stid, splice_run, &sj) == 0;
    if (c->paths[1] && !sthreaded) splice_run(&sj);
    if (c->paths[2] && splice_text(c, &outs[2], 2, idx, r.n) < 0) fallback = 1;
    if (sthreaded) pthread_join(stid, NULL);
    if (sj.rc < 0) fallback = 1;
    if (threaded) pthread_join(tid, NULL);
    free(idx);
    if (c->paths[0] && outs[0].rc == 1) fallback = 1;
    if (fallback) {
        for (int i = 0; i < 3; i++) {
            output_discard(&outs[i]);
            diags_free(&outs[i].dg);
        }
        return 0;
    }
    int res = c->paths[0] ? outs[0].rc : 0;
    for (int i = 0; i < 3; i++) {
        if (i == 0) diags_move(dg, &outs[i].dg);
        diags_free(&outs[i].dg);
    }
    if (res == 0) diags_copy(dg, &c->dg, 0);
    *st = c->st;
    st->refreshed = refreshed;
    st->added = outs[0].as.added;
    st->changed = outs[0].as.changed;
    st->removed = outs[0].as.removed;
    st->written = st->produced = 0;
    st->discarded = 0;
    st->incremental = 1;
    *rc = publish_outputs(outs, c->paths, o, st, res, dg);
    if (*rc == 0 && !st->discarded) {
        cache_sign(c); /* the kept build is now this one */
    } else {
        cache_clear(c); /* the deck no longer matches what is published */
    }
    return 1;
}

int build_deck(const char *dir, const struct build_opts *o, struct build_stats *st,
               struct diags *dg)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(st, 0, sizeof *st);
    struct build_cache *c = o->cache;
    if (c) {
        int wrc;
        if (warm_build(c, dir, o, st, dg, &wrc)) {
            malloc_trim(0); /* as after a full build (out:, below) */
            st->ms = ms_since(&t0);
            return wrc;
        }
        cache_clear(c);
        memset(st, 0, sizeof *st);
        c->dir = xstrdup(dir);
        dir = c->dir;
    }
    size_t dg_start = dg->n;
    struct sig index_sig = {0};
    if (c) {
        /* before anything is read (see struct sig) */
        c->read_ns = wall_ns();
        char *p = xasprintf("%s/index.md", dir);
        index_sig = sig_of(p);
        free(p);
    }
    struct prev_ahead ahead;
    prev_start(&ahead, dir, o);
    struct deck local, *d = c ? &c->d : &local;
    struct answer_keep *ak = NULL;
    struct apkg_keep *pk = NULL;
    char *paths[3] = {0};
    size_t *rows[3] = {0};
    int rc = deck_load_in(d, dir, o, dg, c ? &ak : NULL);
    if (rc < 0) goto out;
    unsigned formats = o->formats ? o->formats : d->opt.formats ? d->opt.formats : FMT_ALL;
    st->notes = d->nnotes;
    st->media = d->nmedia;
    for (size_t i = 0; i < d->nnotes; i++) st->unanswered += !d->notes[i].answer.html;
    if (o->dry_run) goto out;
    if (make_dirs(o->outdir, dg) < 0) { rc = -1; goto out; }
    publish_clean_stale(o->outdir); /* temporaries of a killed run */

    /* Every output is made into a temporary first: a failure in any of
     * them leaves every previous file as it was. */
    static const unsigned order[] = {FMT_APKG, FMT_CSV, FMT_QUIZLET};
    struct output outs[3];
    for (int i = 0; i < 3; i++) {
        outs[i] = (struct output){.fmt = order[i], .d = d, .answered_only = o->answered_only};
        outs[i].ps.fd = outs[i].ps.old_fd = -1;
        diags_init(&outs[i].dg);
        if (formats & order[i]) outs[i].path = paths[i] = output_path(o->outdir, d->slug, order[i]);
        if (c && i == 0) outs[i].keep = &pk;
        if (c && i > 0 && paths[i]) outs[i].rows = rows[i] = xmalloc((d->nnotes + 1) * sizeof *rows[i]);
    }
    if (paths[0]) prev_take(&ahead, paths[0], &outs[0].prev);
    /* The package (SQLite and deflate: the largest part, and the build's
     * critical path) is made on this thread while a second one writes the
     * CSV and Quizlet files: a new thread can wait a millisecond or two
     * for a CPU, which the text files can spare and the package cannot.
     * The results are then taken in the fixed order apkg, csv, quizlet, up
     * to the first failure, exactly as one after the other would give. */
    pthread_t text_tid;
    int threaded = paths[0] && (paths[1] || paths[2]) && par_workers(2, 1) > 1 &&
                   par_thread_create(&text_tid, make_text_outputs, outs) == 0;
    if (threaded) {
        make_output(&outs[0]);
        pthread_join(text_tid, NULL);
    } else {
        for (int i = 0; i < 3; i++) {
            if (!paths[i]) continue;
            make_output(&outs[i]);
            if (outs[i].rc < 0) break;
        }
    }
    prof_mark("outputs made");
    for (int i = 0; i < 3; i++) {
        if (rc == 0 && paths[i]) {
            diags_move(dg, &outs[i].dg);
            rc = outs[i].rc;
        }
        diags_free(&outs[i].dg);
        apkg_prev_free(&outs[i].prev); /* left when the package was not made */
    }
    st->added = outs[0].as.added;
    st->changed = outs[0].as.changed;
    st->removed = outs[0].as.removed;
    rc = publish_outputs(outs, paths, o, st, rc, dg);
    if (c && rc == 0 && !st->discarded && ak && (pk || !paths[0])) {
        /* kept for the next build of this deck */
        c->valid = 1;
        c->outdir = xstrdup(o->outdir);
        c->oformats = o->formats;
        c->answered_only = o->answered_only;
        c->ak = ak;
        c->pk = pk;
        ak = NULL;
        pk = NULL;
        for (int i = 0; i < 3; i++) {
            c->paths[i] = paths[i];
            c->rows[i] = rows[i];
            paths[i] = NULL;
            rows[i] = NULL;
        }
        diags_copy(&c->dg, dg, dg_start);
        c->st = *st;
        size_t held = arena_bytes(&c->d.arena);
        size_t allow = c->growth ? c->growth : held / 4 > ((size_t)8 << 20) ? held / 4 : (size_t)8 << 20;
        c->arena_limit = held + allow;
        c->index = index_sig;
        /* mdeck.lock is ours: this build may have written it (the watcher
         * never builds for it); as it is now, then */
        char *lp = xasprintf("%s/%s", dir, IDENTITY_FILE);
        c->lock = sig_of(lp);
        free(lp);
        c->lock.racy = 0;
        cache_sign(c);
    }
out:
    for (int i = 0; i < 3; i++) {
        free(paths[i]);
        free(rows[i]);
    }
    answers_keep_free(ak);
    if (pk) apkg_keep_free(pk);
    prev_end(&ahead);
    if (!c || !c->valid) {
        deck_free(d);
        if (c) {
            char *keep_dir = c->dir;
            c->dir = NULL;
            cache_clear(c);
            free(keep_dir);
        }
    }
    /* Much of a build is malloc'd in pieces below the mmap threshold; a
     * watcher would keep that heap while it waits for the next change. */
    malloc_trim(0);
    st->ms = ms_since(&t0);
    return rc;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t find_decks(int argc, char **argv, char ***out)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    if (argc > 0) {
        for (int i = 0; i < argc; i++) {
            GROW(v, n + 2, cap);
            v[n++] = xstrdup(argv[i]);
        }
    } else {
        DIR *dp = opendir("decks");
        struct dirent *e;
        while (dp && (e = readdir(dp))) {
            if (e->d_name[0] == '.') continue;
            char *idx = xasprintf("decks/%s/index.md", e->d_name);
            struct stat st;
            if (stat(idx, &st) == 0 && S_ISREG(st.st_mode)) {
                GROW(v, n + 2, cap);
                v[n++] = xasprintf("decks/%s", e->d_name);
            }
            free(idx);
        }
        if (dp) closedir(dp);
        if (n) qsort(v, n, sizeof *v, cmp_strp);
    }
    GROW(v, n + 1, cap);
    v[n] = NULL;
    *out = v;
    return n;
}

void free_deck_list(char **list)
{
    for (char **p = list; p && *p; p++) free(*p);
    free(list);
}
