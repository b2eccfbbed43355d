/* build.c - one deck from sources to outputs: the call `mdeck build` and
 * `mdeck watch` share. */
#include "mdeck/build.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mdeck/answers.h"
#include "mdeck/apkg.h"
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

int deck_load(struct deck *d, const char *dir, const struct build_opts *o,
              struct diags *dg)
{
    deck_init(d, dir);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        diag_add(dg, SEV_ERROR, dir, 0, 0, "not a deck folder: %s",
                 errno == ENOENT ? "no such folder" : "not a folder");
        return -1;
    }
    prof_mark("start");
    struct load_job load = {.dir = d->dir};
    pthread_t load_tid;
    int loading = par_workers(2, 1) > 1 && pthread_create(&load_tid, NULL, load_run, &load) == 0;
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
    int threaded = par_workers(2, 1) > 1 && pthread_create(&tid, NULL, ident_run, &job) == 0;
    if (!threaded) ident_run(&job);
    struct diags adg;
    diags_init(&adg);
    if (loading) pthread_join(load_tid, NULL);
    else load.files = answers_load(d->dir);
    if (answers_attach_loaded(d, load.files, &adg) < 0) rc = -1;
    prof_mark("answers");
    if (threaded) pthread_join(tid, NULL);
    arena_adopt(&d->arena, &job.arena);
    if (job.rc < 0) rc = -1;
    diags_move(dg, &job.dg);
    diags_move(dg, &adg);
    diags_free(&job.dg);
    diags_free(&adg);
    return rc;
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
    char *tmp;                 /* FMT_APKG: the package written */
    struct publish_stream ps;  /* FMT_CSV, FMT_QUIZLET */
    struct diags dg;
    struct apkg_stats as;
    struct apkg_prev prev; /* FMT_APKG: the previous package */
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
            o->rc = apkg_write(o->d, o->path, &o->prev, o->answered_only, o->tmp, &o->as,
                               &o->dg);
        }
        prof_mark("package");
        return NULL;
    }
    publish_stream_open(&o->ps, o->path);
    struct sink k = {.b = BUF_INIT, .flush = flush_to_stream, .arg = &o->ps};
    if (o->fmt == FMT_CSV) o->rc = csv_write(o->d, o->answered_only, &k, &o->dg);
    else o->rc = quizlet_write(o->d, o->answered_only, &k, &o->dg);
    flush_to_stream(&k);
    buf_release(&k.b);
    prof_mark(o->fmt == FMT_CSV ? "csv" : "quizlet");
    return NULL;
}

/* Publishing, first phase: the output's temporary fsynced (or found equal
 * to the current file).  1 ready, 0 unchanged, -1 error. */
static int output_prepare(struct output *o, struct publish *pub, struct diags *dg)
{
    if (o->fmt == FMT_APKG) {
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
    a->started = pthread_create(&a->tid, NULL, read_prev, a) == 0;
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

int build_deck(const char *dir, const struct build_opts *o, struct build_stats *st,
               struct diags *dg)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(st, 0, sizeof *st);
    struct prev_ahead ahead;
    prev_start(&ahead, dir, o);
    struct deck d;
    int rc = deck_load(&d, dir, o, dg);
    if (rc < 0) goto out;
    unsigned formats = o->formats ? o->formats : d.opt.formats ? d.opt.formats : FMT_ALL;
    st->notes = d.nnotes;
    st->media = d.nmedia;
    for (size_t i = 0; i < d.nnotes; i++) st->unanswered += !d.notes[i].answer.html;
    if (o->dry_run) goto out;
    if (make_dirs(o->outdir, dg) < 0) { rc = -1; goto out; }
    publish_clean_stale(o->outdir); /* temporaries of a killed run */

    /* Every output is made into a temporary first: a failure in any of
     * them leaves every previous file as it was. */
    static const unsigned order[] = {FMT_APKG, FMT_CSV, FMT_QUIZLET};
    char *paths[3] = {0};
    struct output outs[3];
    for (int i = 0; i < 3; i++) {
        outs[i] = (struct output){.fmt = order[i], .d = &d, .answered_only = o->answered_only};
        outs[i].ps.fd = outs[i].ps.old_fd = -1;
        diags_init(&outs[i].dg);
        if (formats & order[i]) outs[i].path = paths[i] = output_path(o->outdir, d.slug, order[i]);
    }
    if (paths[0]) prev_take(&ahead, paths[0], &outs[0].prev);
    /* The package (SQLite and deflate: the largest part) is made on a
     * second thread while this one writes the CSV and Quizlet files.  The
     * results are then taken in the fixed order apkg, csv, quizlet, up to
     * the first failure, exactly as one after the other would give. */
    pthread_t apkg_tid;
    int threaded = paths[0] && (paths[1] || paths[2]) && par_workers(2, 1) > 1 &&
                   pthread_create(&apkg_tid, NULL, make_output, &outs[0]) == 0;
    for (int i = threaded ? 1 : 0; i < 3; i++) {
        if (!paths[i]) continue;
        make_output(&outs[i]);
        if (outs[i].rc < 0 && !threaded) break;
    }
    if (threaded) pthread_join(apkg_tid, NULL);
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
    if (rc == 0 && o->before_publish && o->before_publish(o->before_publish_arg))
        st->discarded = 1;
    /* Two phases: every changed output is fsynced in its temporary first;
     * only when all succeeded are they renamed, so a failure in any output
     * replaces none. */
    struct publish pub[3];
    int ready[3] = {0};
    for (int i = 0; i < 3 && rc == 0 && !st->discarded; i++) {
        if (!paths[i]) continue;
        ready[i] = output_prepare(&outs[i], &pub[i], dg);
        if (ready[i] < 0) rc = -1;
        else st->produced |= order[i];
    }
    for (int i = 0; i < 3; i++) {
        output_discard(&outs[i]);
        if (ready[i] <= 0) continue;
        if (rc < 0) {
            publish_abort(&pub[i]);
            continue;
        }
        int w = publish_commit(&pub[i], dg);
        if (w < 0) rc = -1;
        if (w > 0) st->written |= order[i];
    }
    if (rc < 0) st->produced = 0;
    prof_mark("published");
    for (int i = 0; i < 3; i++) free(paths[i]);
out:
    prev_end(&ahead);
    deck_free(&d);
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
