/* identity.c - stable note identities kept in mdeck.lock. */
#include "mdeck/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/hash.h"
#include "mdeck/par.h"
#include "mdeck/publish.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

struct record {
    const char *id, *question, *key, *link;
    const char **sources;
    size_t nsources;
    int taken;  /* matched by a note in this build */
};

struct records {
    struct record *v;
    size_t n, cap;
    int loaded;    /* the file existed and was read */
    int skipped;   /* entries without an id or question (dropped on rewrite) */
    int old_layout; /* not one record per line: rewritten in that layout */
};

/* One record from a JSON object; 0, or 1 when it has no id or question
 * (such entries are skipped, and dropped when the file is rewritten). */
static int record_from(struct arena *a, json_t *e, struct record *rec)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *q = json_string_value(json_object_get(e, "question"));
    if (!id || !q) return 1;
    memset(rec, 0, sizeof *rec);
    rec->id = arena_strdup(a, id);
    rec->question = arena_strdup(a, q);
    struct buf k = BUF_INIT;
    text_key(q, &k);
    rec->key = arena_strndup(a, k.s, k.len);
    buf_release(&k);
    rec->link = arena_strdup(a, json_string_value(json_object_get(e, "link")));
    json_t *src = json_object_get(e, "sources");
    if (json_is_array(src)) {
        rec->sources = arena_alloc(a, (json_array_size(src) + 1) * sizeof *rec->sources);
        size_t k2;
        json_t *s;
        json_array_foreach(src, k2, s) if (json_is_string(s))
            rec->sources[rec->nsources++] = arena_strdup(a, json_string_value(s));
    }
    return 0;
}

/* The file read whole, as a JSON tree: any layout, and the error position
 * for a corrupt file. */
static int load_tree(struct arena *a, const char *path, const struct buf *text,
                     struct records *r, struct diags *dg)
{
    json_error_t err;
    json_t *root = json_loadb(text->s, text->len, 0, &err);
    json_t *notes = root ? json_object_get(root, "notes") : NULL;
    if (!json_is_array(notes)) {
        diag_add(dg, SEV_ERROR, path, root ? 1 : err.line, root ? 1 : err.column,
                 "identity file is corrupt (%s); restore it from version control, or delete it to start new identities",
                 root ? "no \"notes\" array" : err.text);
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(notes, i, e) {
        GROW(r->v, r->n + 1, r->cap);
        if (record_from(a, e, &r->v[r->n])) r->skipped = 1;
        else r->n++;
    }
    json_decref(root);
    return 0;
}

/* The layout records_text() writes: the header up to a line `"notes": [`,
 * then one whole JSON object per line (a comma after all but the last), then
 * `]` and `}`.  JSON strings hold no raw line breaks, so each such line is a
 * value of its own and the lines can be read apart, on every core, without
 * a tree of the whole file (a 100,000-note lock file made a 100 MB tree and
 * took a quarter of a second of one core). */
#define NOTES_OPEN "\n \"notes\": [\n"

struct line_job {
    const char *text;
    const size_t *at;        /* line i is text[at[i] .. at[i + 1] - 1) */
    struct record *rec;      /* per line */
    unsigned char *state;    /* per line: 0 record, 1 skipped, 2 not this layout */
    struct arena *arenas;    /* per worker */
};

static void parse_lines(void *arg, size_t w, size_t begin, size_t end)
{
    struct line_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        const char *s = j->text + j->at[i];
        size_t len = j->at[i + 1] - 1 - j->at[i]; /* without the '\n' */
        if (len && s[len - 1] == ',') len--;
        json_t *e = len > 2 && s[0] == ' ' && s[1] == ' ' && s[2] == '{'
                        ? json_loadb(s, len, 0, NULL)
                        : NULL;
        j->state[i] = !json_is_object(e) ? 2 : record_from(&j->arenas[w], e, &j->rec[i]);
        json_decref(e);
    }
}

/* The lock file read a block at a time, so that a large one is never
 * whole in memory: the identities read it at the build's peak, and a
 * 100,000-note lock is 13 MB.  b holds the text not yet parsed (NUL-ended);
 * each read appends up to LOCK_BLOCK bytes. */
#define LOCK_BLOCK ((size_t)1 << 20)

struct lock_reader {
    int fd;
    struct buf b;
    int eof;
};

/* Appends the next block to r->b: 0, or -1 with errno set. */
static int lock_more(struct lock_reader *r)
{
    buf_grow(&r->b, LOCK_BLOCK);
    for (;;) {
        ssize_t n = read(r->fd, r->b.s + r->b.len, LOCK_BLOCK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) r->eof = 1;
        r->b.len += (size_t)n;
        r->b.s[r->b.len] = '\0';
        return 0;
    }
}

/* Drops the first n bytes of r->b (parsed). */
static void lock_drop(struct lock_reader *r, size_t n)
{
    memmove(r->b.s, r->b.s + n, r->b.len - n + 1);
    r->b.len -= n;
}

/* The lines the layout allows, one batch at a time: their records and
 * states, and what the commas and the end of the array need. */
struct lines_read {
    struct line_job j;       /* rec, state: per line of the whole file */
    size_t n, cap;           /* lines so far */
    size_t nocomma, last_nocomma; /* lines not ending in ',', the last one */
    struct arena arenas[PAR_MAX_WORKERS];
    size_t *at;              /* the batch's line starts (and its end) */
    size_t capat;
};

/* Parses the batch of lines of text that at[0..k] delimits. */
static void parse_batch(struct lines_read *lr, const char *text, size_t k)
{
    GROW(lr->j.rec, lr->n + k + 1, lr->cap);
    lr->j.state = xrealloc(lr->j.state, lr->cap);
    for (size_t i = 0; i < k; i++) {
        if (text[lr->at[i + 1] - 2] != ',') {
            lr->nocomma++;
            lr->last_nocomma = lr->n + i;
        }
    }
    struct line_job j = {text, lr->at, lr->j.rec + lr->n, lr->j.state + lr->n, lr->arenas};
    par_run(k, 2048, par_workers(k, 2048), parse_lines, &j);
    lr->n += k;
}

/* 1 when the file has that layout (records in r), 0 when it does not, -1
 * when it cannot be read (errno set; ENOENT: there is none). */
static int load_lines(struct arena *a, const char *path, struct records *r)
{
    struct lock_reader f = {.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (f.fd < 0) return -1;
    struct stat st;
    int err = 0;
    if (fstat(f.fd, &st) < 0) err = errno;
    else if (!S_ISREG(st.st_mode)) /* FIFOs and devices: as read_file() */
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (err) {
        close(f.fd);
        errno = err;
        return -1;
    }
    buf_init(&f.b);
    struct lines_read lr = {.last_nocomma = SIZE_MAX};
    for (size_t w = 0; w < PAR_MAX_WORKERS; w++) arena_init(&lr.arenas[w]);
    int ok = 0, rc = 0;
    /* the header: up to `"notes": [`, looked for in the text before any
     * NUL (as strstr() on the whole file); each block searched once */
    const char *open_at;
    size_t from = 0;
    while (!(open_at = strstr(f.b.s + from, NOTES_OPEN))) {
        if (f.eof || memchr(f.b.s + from, '\0', f.b.len - from)) goto done;
        if (f.b.len >= strlen(NOTES_OPEN)) from = f.b.len - strlen(NOTES_OPEN) + 1;
        if (lock_more(&f) < 0) goto fail;
    }
    size_t hlen = (size_t)(open_at - f.b.s) + strlen(NOTES_OPEN);
    /* the header, closed, must be an object whose "notes" is that array */
    struct buf head = BUF_INIT;
    buf_add(&head, f.b.s, hlen);
    buf_adds(&head, "]}");
    json_t *root = json_loadb(head.s, head.len, 0, NULL);
    buf_release(&head);
    ok = json_is_array(json_object_get(root, "notes"));
    json_decref(root);
    if (!ok) goto done;
    lock_drop(&f, hlen);
    /* the lines up to the one closing the array, which leaves only `}` */
    for (;;) {
        size_t pos = 0, k = 0;
        int more = 0;
        GROW(lr.at, 1, lr.capat);
        lr.at[0] = 0;
        for (;;) {
            if (f.b.len - pos < 3 && !f.eof) {
                more = 1;
                break;
            }
            if (!(f.b.len - pos >= 3 && f.b.s[pos] == ' ' && f.b.s[pos + 1] == ' ' &&
                  f.b.s[pos + 2] == '{'))
                break;
            const char *nl = memchr(f.b.s + pos, '\n', f.b.len - pos);
            if (!nl) {
                more = !f.eof;
                break;
            }
            pos = (size_t)(nl - f.b.s) + 1;
            GROW(lr.at, k + 2, lr.capat);
            lr.at[++k] = pos;
        }
        if (k) parse_batch(&lr, f.b.s, k);
        lock_drop(&f, pos);
        if (!more) break;
        if (lock_more(&f) < 0) goto fail;
    }
    /* the rest of the file: `]`, `}` and white space */
    while (!f.eof)
        if (lock_more(&f) < 0) goto fail;
    const char *t = f.b.s, *e = f.b.s + f.b.len;
    while (t < e && strchr(" \t\r\n", *t)) t++;
    ok = t < e && *t++ == ']';
    while (t < e && strchr(" \t\r\n", *t)) t++;
    ok = ok && t < e && *t++ == '}';
    while (t < e && strchr(" \t\r\n", *t)) t++;
    ok = ok && t == e;
    /* commas after every line but the last */
    ok = ok && (!lr.n || (lr.nocomma == 1 && lr.last_nocomma == lr.n - 1));
    for (size_t i = 0; ok && i < lr.n; i++) ok = lr.j.state[i] != 2;
    if (ok) {
        /* the parsed records become r's, the skipped ones squeezed out (a
         * copy would hold two arrays of 100,000 records at once) */
        free(r->v);
        r->v = lr.j.rec;
        r->cap = lr.cap;
        r->n = 0;
        lr.j.rec = NULL;
        for (size_t i = 0; i < lr.n; i++) {
            if (lr.j.state[i]) r->skipped = 1;
            else r->v[r->n++] = r->v[i];
        }
        SHRINK(r->v, r->n + 1, r->cap); /* ~2 MB at 100,000 records */
    }
    goto done;
fail:
    rc = -1;
done:
    err = errno;
    for (size_t w = 0; w < PAR_MAX_WORKERS; w++) arena_adopt(a, &lr.arenas[w]);
    free(lr.j.rec);
    free(lr.j.state);
    free(lr.at);
    buf_release(&f.b);
    close(f.fd);
    errno = err;
    return rc < 0 ? -1 : ok;
}

static int load_records(struct arena *a, const char *path, struct records *r,
                        struct diags *dg)
{
    int rc = load_lines(a, path, r);
    if (rc == 1) {
        r->loaded = 1;
        return 0;
    }
    struct buf text = BUF_INIT;
    /* Another layout: the file read whole, as a tree.  read_file() ends
     * the text with a NUL, as the parser's positions need. */
    if (rc < 0 || read_file(path, &text) < 0) {
        buf_release(&text);
        if (errno == ENOENT) return 0;
        diag_add(dg, SEV_ERROR, path, 0, 0, "cannot read: %s", read_file_error(errno));
        return -1;
    }
    r->n = 0;
    r->skipped = 0;
    r->old_layout = 1;
    rc = load_tree(a, path, &text, r, dg);
    buf_release(&text);
    if (rc == 0) r->loaded = 1;
    return rc;
}

static int has_source(const char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return 1;
    return 0;
}

static void take(struct note *n, struct record *rec)
{
    n->id = rec->id;
    rec->taken = 1;
}

/* For each answer link (or source URL): how many unmatched notes and
 * untaken records carry it, and the sum of those records' indexes (which
 * is the record itself when there is one).  Kept current as notes take
 * records, so that rules 3 and 4 cost one lookup per note instead of a
 * scan of every note and record. */
struct tally {
    size_t notes, recs, recsum;
};

struct tallies {
    struct strmap at; /* link or URL -> index into v */
    struct tally *v;
    size_t n, cap;
};

static struct tally *tally_of(struct tallies *t, const char *key)
{
    size_t i;
    if (strmap_get(&t->at, key, &i)) return &t->v[i];
    GROW(t->v, t->n + 1, t->cap);
    t->v[t->n] = (struct tally){0, 0, 0};
    strmap_put(&t->at, key, t->n);
    return &t->v[t->n++];
}

/* The keys a note or record carries in a pass: its link (pass 0) or its
 * sources (pass 1); key_at() is NULL for a source listed twice, which
 * counts once. */
static size_t nkeys(int pass, const char *link, size_t nsources)
{
    return pass == 0 ? link != NULL : nsources;
}

static const char *key_at(int pass, const char *link, const char **sources, size_t k)
{
    if (pass == 0) return link;
    return has_source(sources, k, sources[k]) ? NULL : sources[k];
}

/* Counts a note or record in (add) or out (!add) of the tallies. */
static void tally_note(struct tallies *t, int pass, const struct note *n, int add)
{
    for (size_t k = 0; k < nkeys(pass, n->link, n->nsources); k++) {
        const char *key = key_at(pass, n->link, n->sources, k);
        if (!key) continue;
        struct tally *y = tally_of(t, key);
        if (add) y->notes++;
        else y->notes--;
    }
}

static void tally_record(struct tallies *t, int pass, const struct records *r, size_t i,
                         int add)
{
    const struct record *rec = &r->v[i];
    for (size_t k = 0; k < nkeys(pass, rec->link, rec->nsources); k++) {
        const char *key = key_at(pass, rec->link, rec->sources, k);
        if (!key) continue;
        struct tally *y = tally_of(t, key);
        if (add) {
            y->recs++;
            y->recsum += i;
        } else {
            y->recs--;
            y->recsum -= i;
        }
    }
}

static int valid_id(const char *s)
{
    if (!*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* One record as one line of JSON (records_text). */
static char *record_line(const char *id, const char *question, const char **sources,
                         size_t nsources, const char *link)
{
    json_t *o = json_pack("{s:s, s:s}", "id", id, "question", question);
    if (nsources) {
        json_t *s = json_array();
        for (size_t k = 0; k < nsources; k++) json_array_append_new(s, json_string(sources[k]));
        json_object_set_new(o, "sources", s);
    }
    if (link) json_object_set_new(o, "link", json_string(link));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return line;
}

struct by_id {
    const char *id;
    size_t pos;
    char *line;
};

static int cmp_by_id(const void *a, const void *b)
{
    const struct by_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The lock file: one record per note of this build (fresh text), then the
 * records of questions no longer in the index; sorted by id for small
 * diffs, one record per line (load_lines) so that a change is one line. */
static void records_text(struct deck *d, struct records *r, struct buf *out)
{
    size_t n = 0;
    struct by_id *v = xmalloc((d->nnotes + r->n + 1) * sizeof *v);
    for (size_t i = 0; i < d->nnotes; i++) {
        struct note *x = &d->notes[i];
        v[n] = (struct by_id){x->id, n, record_line(x->id, x->question, x->sources,
                                                     x->nsources, x->link)};
        n++;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct record *rec = &r->v[i];
        if (rec->taken) continue;
        v[n] = (struct by_id){rec->id, n, record_line(rec->id, rec->question, rec->sources,
                                                       rec->nsources, rec->link)};
        n++;
    }
    qsort(v, n, sizeof *v, cmp_by_id); /* stable: equal ids keep their order */
    buf_adds(out, "{\n \"comment\": \"mdeck note identities: commit this file with your notes; do not edit by hand\",\n \"version\": 1," NOTES_OPEN);
    for (size_t i = 0; i < n; i++) {
        buf_adds(out, "  ");
        buf_adds(out, v[i].line);
        buf_adds(out, i + 1 < n ? ",\n" : "\n");
        free(v[i].line);
    }
    buf_adds(out, " ]\n}\n");
    free(v);
}

/* A (note, record) pair similar enough to match, for step 5. */
struct cand {
    double s;
    size_t note, rec;
};

/* Better first: higher similarity, then the later note, then the later
 * record (the order in which pairs were preferred before). */
static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    if (x->note != y->note) return x->note > y->note ? -1 : 1;
    return (x->rec < y->rec) - (x->rec > y->rec);
}

/* Step 5: every unmatched note is compared once with every unmatched
 * record (bigrams made once per key); each note keeps its SIMILAR_TOP best
 * candidates; then pairs are taken best first, each note and record at
 * most once.  (Taking the best remaining pair again and again, as before,
 * cost notes x notes x records comparisons: 300 reworded questions took
 * 40 s, 2000 would take hours.)  Over SIMILAR_PAIRS comparisons the step is
 * skipped with a warning, and those questions get new identities. */
#define SIMILAR_TOP 16
#define SIMILAR_PAIRS 50000000.0

static void match_similar(struct deck *d, struct records *r, struct diags *dg)
{
    size_t nfree = 0, nrec = 0;
    for (size_t i = 0; i < d->nnotes; i++) nfree += !d->notes[i].id;
    for (size_t k = 0; k < r->n; k++) nrec += !r->v[k].taken;
    if (!nfree || !nrec) return;
    if ((double)nfree * (double)nrec > SIMILAR_PAIRS) {
        diag_add(dg, SEV_WARNING, d->dir, 0, 0,
                 "%zu new or reworded questions and %zu identities no question has are too many "
                 "to compare by similarity; the questions get new identities (pin ids with "
                 "'{#id}' to keep them across big rewordings)", nfree, nrec);
        return;
    }
    struct text_bigrams *rb = xcalloc(r->n, sizeof *rb);
    for (size_t k = 0; k < r->n; k++)
        if (!r->v[k].taken) text_bigrams(r->v[k].key, &rb[k]);
    struct cand *c = NULL;
    size_t nc = 0, capc = 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        if (d->notes[i].id) continue;
        struct text_bigrams nb;
        text_bigrams(d->notes[i].key, &nb);
        struct cand top[SIMILAR_TOP];
        size_t nt = 0;
        for (size_t k = 0; k < r->n; k++) {
            if (r->v[k].taken) continue;
            /* 2c / (a + b) with c <= min(a, b): a bound that skips most pairs */
            size_t lo = nb.n < rb[k].n ? nb.n : rb[k].n;
            if (nb.ncps >= 2 && rb[k].ncps >= 2 &&
                2.0 * (double)lo / (double)(nb.n + rb[k].n) < IDENTITY_SIMILAR)
                continue;
            struct cand x = {text_similarity_bigrams(&nb, &rb[k]), i, k};
            if (x.s < IDENTITY_SIMILAR) continue;
            if (nt == SIMILAR_TOP && cmp_cand(&x, &top[nt - 1]) >= 0) continue;
            size_t at = nt < SIMILAR_TOP ? nt++ : nt - 1;
            while (at > 0 && cmp_cand(&x, &top[at - 1]) < 0) {
                top[at] = top[at - 1];
                at--;
            }
            top[at] = x;
        }
        text_bigrams_free(&nb);
        if (!nt) continue;
        GROW(c, nc + nt, capc);
        memcpy(c + nc, top, nt * sizeof *top);
        nc += nt;
    }
    if (nc) qsort(c, nc, sizeof *c, cmp_cand);
    for (size_t i = 0; i < nc; i++)
        if (!d->notes[c[i].note].id && !r->v[c[i].rec].taken) take(&d->notes[c[i].note], &r->v[c[i].rec]);
    free(c);
    for (size_t k = 0; k < r->n; k++) text_bigrams_free(&rb[k]); /* zeroed ones too */
    free(rb);
}

static int same_str(const char *x, const char *y)
{
    return x == y || (x && y && !strcmp(x, y));
}

/* 1 when writing the records of this build would give back the file just
 * read: every note holds its own record's id with the same question, link
 * and sources, and the file was in mdeck's order (ids ascending, each once)
 * with nothing dropped.  Serialising 100,000 records only to find the same
 * bytes is most of the lock file's cost in a large deck. */
static int records_unchanged(const struct deck *d, const struct records *r,
                             const struct strmap *byid)
{
    if (!r->loaded || r->skipped || r->old_layout || r->n < d->nnotes) return 0;
    for (size_t i = 1; i < r->n; i++)
        if (strcmp(r->v[i - 1].id, r->v[i].id) >= 0) return 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        size_t at;
        if (!strmap_get(byid, n->id, &at) || at == (size_t)-1) return 0;
        const struct record *rec = &r->v[at];
        if (!rec->taken || strcmp(rec->question, n->question) || !same_str(rec->link, n->link) ||
            rec->nsources != n->nsources)
            return 0;
        for (size_t k = 0; k < n->nsources; k++)
            if (strcmp(rec->sources[k], n->sources[k])) return 0;
    }
    return 1;
}

int identity_assign(struct deck *d, int write, struct diags *dg)
{
    return identity_assign_in(d, &d->arena, write, dg);
}

int identity_assign_in(struct deck *d, struct arena *a, int write, struct diags *dg)
{
    char *path = xasprintf("%s/%s", d->dir, IDENTITY_FILE);
    struct records r = {0};
    if (!path_stays_in(path, d->dir)) {
        /* It is read and rewritten: a cloned deck must not point it at
         * another file. */
        diag_add(dg, SEV_ERROR, path, 0, 0,
                 "mdeck.lock is a symbolic link leading out of the deck folder; make it a file");
        free(path);
        return -1;
    }
    /* The records live only as long as this call: a 100,000-note lock file
     * is ~20 MB of strings nobody needs after it. */
    struct arena ra;
    arena_init(&ra);
    int rc = load_records(&ra, path, &r, dg);
    prof_mark("identities: lock read");
    if (rc < 0) goto out;

    struct strmap bykey, byid;
    strmap_init(&bykey);
    strmap_init(&byid);
    strmap_reserve(&bykey, r.n);
    strmap_reserve(&byid, r.n);
    for (size_t i = 0; i < r.n; i++) {
        if (!strmap_get(&bykey, r.v[i].key, NULL)) strmap_put(&bykey, r.v[i].key, i);
        strmap_put(&byid, r.v[i].id, i);
    }
    /* 1. pinned ids */
    for (size_t i = 0; i < d->nnotes; i++) {
        struct note *n = &d->notes[i];
        if (!n->pinned) continue;
        if (!valid_id(n->pinned)) {
            diag_add(dg, SEV_ERROR, d->dir, n->line, n->col,
                     "pinned id '%s' may hold only letters, digits, '-', '_' and '.'", n->pinned);
            rc = -1;
            continue;
        }
        n->id = n->pinned;
        size_t at;
        if (strmap_get(&byid, n->pinned, &at)) r.v[at].taken = 1;
    }
    /* 2. same question */
    for (size_t i = 0; i < d->nnotes; i++) {
        struct note *n = &d->notes[i];
        size_t at;
        if (!n->id && strmap_get(&bykey, n->key, &at) && !r.v[at].taken) take(n, &r.v[at]);
    }
    /* At most two of the maps at a time (each is ~6 MB at 100k notes, at
     * the build's peak): this one is done. */
    strmap_free(&bykey);
    /* 3./4. same answer link or source, unique on both sides */
    for (int pass = 0; pass < 2; pass++) {
        struct tallies t = {0};
        strmap_init(&t.at);
        for (size_t i = 0; i < d->nnotes; i++)
            if (!d->notes[i].id) tally_note(&t, pass, &d->notes[i], 1);
        for (size_t i = 0; i < r.n; i++)
            if (!r.v[i].taken) tally_record(&t, pass, &r, i, 1);
        for (size_t i = 0; i < d->nnotes; i++) {
            struct note *n = &d->notes[i];
            if (n->id) continue;
            for (size_t k = 0; !n->id && k < nkeys(pass, n->link, n->nsources); k++) {
                const char *key = key_at(pass, n->link, n->sources, k);
                size_t at;
                if (!key || !strmap_get(&t.at, key, &at)) continue;
                if (t.v[at].notes != 1 || t.v[at].recs != 1) continue;
                size_t ri = t.v[at].recsum;
                tally_note(&t, pass, n, 0);
                tally_record(&t, pass, &r, ri, 0);
                take(n, &r.v[ri]);
            }
        }
        strmap_free(&t.at);
        free(t.v);
    }
    /* 5. similar question: best pair first */
    match_similar(d, &r, dg);
    /* 6. new identities from the question's key */
    for (size_t i = 0; i < d->nnotes; i++) {
        struct note *n = &d->notes[i];
        if (n->id) continue;
        uint8_t h[32];
        sha256(n->key, strlen(n->key), h);
        char hx[65];
        hex(h, 5, hx);
        const char *id = arena_printf(a, "q%s", hx);
        for (int k = 2; strmap_get(&byid, id, NULL); k++)
            id = arena_printf(a, "q%s-%d", hx, k);
        n->id = id;
        strmap_put(&byid, n->id, (size_t)-1);
    }
    int same_records = rc == 0 && write && records_unchanged(d, &r, &byid);
    strmap_free(&byid);
    /* Two notes with one id (e.g. the same pinned id twice) would share a
     * guid and break the import. */
    struct strmap used;
    strmap_init(&used);
    strmap_reserve(&used, d->nnotes);
    for (size_t i = 0; i < d->nnotes; i++) {
        size_t at;
        if (strmap_get(&used, d->notes[i].id, &at)) {
            diag_add(dg, SEV_ERROR, d->dir, d->notes[i].line, d->notes[i].col,
                     "id '%s' is also used by the question on line %d; pin a different id",
                     d->notes[i].id, d->notes[at].line);
            rc = -1;
        } else {
            strmap_put(&used, d->notes[i].id, i);
        }
    }
    strmap_free(&used);
    int unchanged = rc == 0 && same_records;
    prof_mark("identities: matched");

    if (rc == 0 && write && !unchanged) {
        struct buf b = BUF_INIT;
        records_text(d, &r, &b);
        if (publish_file(path, b.s, b.len, dg) < 0) rc = -1;
        buf_release(&b);
    }
out:
    /* Ids taken from records move into a before the records go. */
    for (size_t i = 0; i < d->nnotes; i++)
        if (d->notes[i].id) d->notes[i].id = arena_strdup(a, d->notes[i].id);
    arena_free(&ra);
    free(r.v);
    free(path);
    return rc;
}
