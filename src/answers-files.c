/* answers-files.c - finding the answer files of a deck folder and reading
 * them: each markdown file's sections (heading, level, body), on every
 * core.  Split from answers.c, which matches and renders. */
#include "answers-int.h"

#include <dirent.h>
#include <errno.h>
#include <isa-l/crc64.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mdeck/frontmatter.h"
#include "mdeck/identity.h"
#include "mdeck/par.h"
#include "mdeck/text.h"

#define MAX_DEPTH 32

/* --- collecting files --------------------------------------------------- */

struct seen_dir { dev_t dev; ino_t ino; };

static int junk_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || name[0] == '#' || name[0] == '~' || name[n - 1] == '~' ||
           strstr(name, ".sync-conflict-") != NULL || !strcmp(name, "4913");
}

static int answer_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    if (!strcmp(dot, ".md") || !strcmp(dot, ".markdown")) return 1;
    if (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) return 2;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when path (inside the deck) resolves to a place inside the deck folder. */
int answers_inside(const char *dir, const char *path)
{
    char *root = realpath(dir, NULL), *p = realpath(path, NULL);
    int ok = root && p && str_starts_with(p, root) &&
             (p[strlen(root)] == '/' || p[strlen(root)] == '\0');
    free(root);
    free(p);
    return ok;
}

static void walk(struct ctx *c, const char *rel, int depth, struct seen_dir **seen,
                 size_t *nseen, size_t *capseen)
{
    if (depth > MAX_DEPTH) return;
    char *dir = *rel ? xasprintf("%s/%s", c->dir, rel) : xstrdup(c->dir);
    struct stat st;
    if (stat(dir, &st) < 0) goto out;
    for (size_t i = 0; i < *nseen; i++)
        if ((*seen)[i].dev == st.st_dev && (*seen)[i].ino == st.st_ino) goto out;
    GROW(*seen, *nseen + 1, *capseen);
    (*seen)[(*nseen)++] = (struct seen_dir){st.st_dev, st.st_ino};
    DIR *dp = opendir(dir);
    if (!dp) {
        /* Its answers would silently go missing: an error keeps the deck. */
        diag_add(c->dg, SEV_ERROR, dir, 0, 0, "cannot read the folder: %s", strerror(errno));
        goto out;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (junk_name(e->d_name)) continue;
        GROW(names, n + 1, cap);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when empty */
    for (size_t i = 0; i < n; i++) {
        char *r = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
        char *full = xasprintf("%s/%s", c->dir, r);
        struct stat ls, ts;
        int have = lstat(full, &ls) == 0;
        int is_link = have && S_ISLNK(ls.st_mode);
        if (utf8_check(names[i], strlen(names[i]), NULL) < 0 &&
            (answer_ext(names[i]) || (have && S_ISDIR(ls.st_mode)))) {
            /* Such a name cannot be shown, linked or written to JSON. */
            diag_add(c->dg, SEV_WARNING, full, 0, 0,
                     "name is not valid UTF-8; skipped (rename it to use it)");
        } else if (is_link && answer_ext(names[i]) && stat(full, &ts) < 0) {
            diag_add(c->dg, SEV_ERROR, full, 0, 0, "symbolic link leads nowhere: %s",
                     strerror(errno));
        } else if (is_link && answer_ext(names[i]) && !answers_inside(c->dir, full)) {
            /* A deck cloned from elsewhere must not read files outside it. */
            diag_add(c->dg, SEV_ERROR, full, 0, 0,
                     "symbolic link leaves the deck folder; answers must live inside %s", c->dir);
        } else if (lstat(full, &ls) == 0) {
            if (S_ISDIR(ls.st_mode)) {
                walk(c, r, depth + 1, seen, nseen, capseen); /* never via symlinks */
            } else if (answer_ext(names[i]) && !(depth == 0 && (!strcmp(names[i], "index.md") ||
                                                               !strcmp(names[i], IDENTITY_FILE)))) {
                GROW(c->files, c->nfiles + 1, c->capfiles);
                struct file *f = &c->files[c->nfiles++];
                memset(f, 0, sizeof *f);
                f->rel = r;
                f->path = full;
                f->is_html = answer_ext(names[i]) == 2;
                buf_init(&f->src);
                r = full = NULL;
            }
        }
        free(r);
        free(full);
        free(names[i]);
    }
    free(names);
out:
    free(dir);
}

/* --- reading markdown answer files ------------------------------------- */

/* The diagnostics of file f (made on first use). */
static struct diags *file_dg(struct file *f)
{
    if (!f->fdg) {
        f->fdg = xmalloc(sizeof *f->fdg);
        diags_init(f->fdg);
    }
    return f->fdg;
}

/* Reads file fi and finds its sections, touching nothing shared but the
 * (read-only) deck: files are loaded on every core.  Strings that outlive
 * the build go into a, the worker's arena. */
void answers_read_one(struct ctx *c, size_t fi, struct arena *a)
{
    struct file *f = &c->files[fi];
    if (stat(f->path, &f->st) < 0) memset(&f->st, 0, sizeof f->st);
    if (read_file_pad(f->path, &f->src, ANSWERS_PAD) < 0) {
        diag_add(file_dg(f), SEV_ERROR, f->path, 0, 0, "cannot read answer file: %s",
                 read_file_error(errno));
        return;
    }
    size_t bad;
    if (utf8_check(f->src.s, f->src.len, &bad) < 0) {
        int line, col;
        line_col(f->src.s, bad, &line, &col);
        diag_add(file_dg(f), SEV_ERROR, f->path, line, col,
                 "invalid UTF-8 or NUL byte; save the file as UTF-8");
        return;
    }
    const char *yaml;
    size_t ylen, boff = 0;
    int bline;
    int fm = fm_split(f->src.s, f->src.len, f->path, &yaml, &ylen, &boff, &bline, file_dg(f));
    if (fm < 0) return;
    if (fm > 0) {
        json_t *j = fm_parse(yaml, ylen, f->path, 2, file_dg(f));
        if (!j) return;
        json_t *v = json_object_get(j, "source");
        if (!v) v = json_object_get(j, "sources");
        if (!v) v = json_object_get(j, "url");
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        f->sources = arena_alloc(a, (n + 1) * sizeof *f->sources);
        if (json_is_string(v)) f->sources[f->nsources++] = arena_strdup(a, json_string_value(v));
        size_t i;
        json_t *e;
        if (json_is_array(v)) json_array_foreach(v, i, e) if (json_is_string(e))
            f->sources[f->nsources++] = arena_strdup(a, json_string_value(e));
        json_decref(j);
    }
    f->body_off = boff;
    f->loaded = 1;

    answers_scan(f, fi, boff, 1);
}

size_t answers_large(void)
{
    const char *e = getenv("MDECK_SPILL_MIN");
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (!*end) return (size_t)v;
    }
    return (size_t)4 << 20;
}

uint64_t answers_crc(const struct buf *b)
{
    return crc64_ecma_refl(0, (const unsigned char *)b->s, b->len);
}

struct load_job {
    struct ctx *c;
    struct arena *arenas; /* one per worker */
    atomic_size_t held;   /* bytes of the files read and kept */
    size_t hold;          /* answers_large() */
};

static void load_range(void *arg, size_t w, size_t begin, size_t end)
{
    struct load_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        struct file *f = &j->c->files[i];
        if (f->is_html) continue;
        answers_read_one(j->c, i, &j->arenas[w]);
        if (!f->loaded) continue;
        f->len = f->src.len;
        f->crc = answers_crc(&f->src);
        /* the sections are known: a large deck reads the text again */
        if (atomic_fetch_add(&j->held, f->src.len) >= j->hold) {
            f->dropped = 1;
            buf_release(&f->src);
        }
    }
}

int answers_reload(struct ctx *c, size_t fi, struct diags *dg)
{
    struct file *f = &c->files[fi];
    if (!f->dropped) return 1;
    int state = 0;
    if (!atomic_compare_exchange_strong(&f->reload, &state, 1)) {
        while ((state = atomic_load(&f->reload)) == 1) sched_yield(); /* another thread reads it */
        return state == 2;
    }
    /* Test knob (docs/watch.md): time for a test to change the file between
     * the two reads. */
    const char *e = getenv("MDECK_TEST_RELOAD_DELAY_MS");
    int ms = e ? atoi(e) : 0;
    if (ms > 0) {
        struct timespec nap = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&nap, &nap) < 0 && errno == EINTR) {}
    }
    struct buf b = BUF_INIT;
    if (read_file_pad(f->path, &b, ANSWERS_PAD) < 0) {
        diag_add(dg, SEV_ERROR, f->path, 0, 0,
                 "cannot read answer file again: %s; run the build again", read_file_error(errno));
    } else if (b.len != f->len || answers_crc(&b) != f->crc) {
        diag_add(dg, SEV_ERROR, f->path, 0, 0,
                 "answer file changed while mdeck was reading it; run the build again");
    } else {
        buf_grow(&b, ANSWERS_PAD); /* an empty file has no buffer of its own */
        memset(b.s + b.len, 0, ANSWERS_PAD + 1); /* as answers_scan() left it */
        f->src = b;
        atomic_store(&f->reload, 2);
        return 1;
    }
    buf_release(&b);
    atomic_store(&f->reload, 3);
    return 0;
}

/* Reads and scans every markdown file on all cores, then merges sections
 * and messages in file order: the same as one loop over the files. */
void answers_read_all(struct ctx *c)
{
    size_t workers = par_workers(c->nfiles, 4);
    struct load_job j = {.c = c, .arenas = xcalloc(workers, sizeof *j.arenas),
                         .hold = answers_large()};
    atomic_init(&j.held, 0);
    for (size_t w = 0; w < workers; w++) arena_init(&j.arenas[w]);
    par_run(c->nfiles, 4, workers, load_range, &j);
    for (size_t w = 0; w < workers; w++) arena_adopt(&c->arena, &j.arenas[w]);
    free(j.arenas);
    /* the sections' array made once, at its size (~7 MB at 100k) */
    size_t total = c->nsecs;
    for (size_t i = 0; i < c->nfiles; i++) total += c->files[i].nls;
    if (total > c->capsecs) {
        c->secs = xrealloc(c->secs, total * sizeof *c->secs);
        c->capsecs = total;
    }
    for (size_t i = 0; i < c->nfiles; i++) {
        struct file *f = &c->files[i];
        if (f->is_html) f->loaded = 1;
        f->sec_first = c->nsecs;
        if (f->nls) memcpy(c->secs + c->nsecs, f->ls, f->nls * sizeof *f->ls);
        c->nsecs += f->nls;
        f->sec_end = c->nsecs;
        free(f->ls);
        f->ls = NULL;
        if (f->fdg) {
            f->diagnosed = f->fdg->n > 0;
            diags_move(c->dg, f->fdg);
            diags_free(f->fdg);
            free(f->fdg);
            f->fdg = NULL;
        }
    }
}

/* The files and sections of c (their keys are NULL until the attach). */
void answers_free_files(struct ctx *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].rel);
        free(c->files[i].path);
        buf_release(&c->files[i].src);
    }
    for (size_t i = 0; i < c->nsecs; i++) {
        free(c->secs[i].title);
        free(c->secs[i].key);
        free(c->secs[i].slug);
    }
    free(c->files);
    free(c->secs);
}

void answers_walk(struct ctx *c)
{
    struct seen_dir *seen = NULL;
    size_t nseen = 0, capseen = 0;
    walk(c, "", 0, &seen, &nseen, &capseen);
    free(seen);
}
