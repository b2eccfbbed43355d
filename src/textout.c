/* textout.c - the Anki CSV and the Quizlet text file, written whole or
 * spliced: after an edit to a few notes, every other row is copied from the
 * previous file instead of being made again. */
#include "mdeck/textout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdeck/spill.h"
#include "mdeck/text.h"

/* RFC 4180: a field holding a separator, quote, CR or LF is quoted, quotes
 * doubled; a field starting with '#' is quoted too, or Anki would take the
 * line for a header/comment.  ASCII control characters other than \n and
 * \t are dropped first (Anki strips them anyway and some CSV readers choke
 * on them), so a CR never survives to need quoting. */
static void csv_field(struct buf *out, const char *s, int last)
{
    size_t n = strlen(s), lead = 0;
    while (lead < n && (unsigned char)s[lead] < 0x20 && s[lead] != '\n' && s[lead] != '\t')
        lead++;
    if ((lead < n && s[lead] == '#') || strpbrk(s, ",\"\n")) {
        buf_addc(out, '"');
        for (const char *q; (q = memchr(s, '"', n));) {
            text_add_clean(out, s, (size_t)(q - s), 0);
            buf_add(out, "\"\"", 2);
            n -= (size_t)(q - s) + 1;
            s = q + 1;
        }
        text_add_clean(out, s, n, 0);
        buf_addc(out, '"');
    } else {
        text_add_clean(out, s, n, 0);
    }
    buf_addc(out, last ? '\n' : ',');
}

static void tags_text(const struct deck *d, const struct note *n, struct buf *out)
{
    /* Note tags and deck tags, sorted and unique: the package's order. */
    size_t total = n->ntags + d->opt.ntags;
    const char **all = xmalloc((total + 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n->ntags; i++) all[k++] = n->tags[i];
    for (size_t i = 0; i < d->opt.ntags; i++) all[k++] = d->opt.tags[i];
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(all[j - 1], all[j]) > 0; j--) {
            const char *t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    size_t written = 0;
    for (size_t i = 0; i < k; i++) {
        if (i && !strcmp(all[i], all[i - 1])) continue;
        if (written++) buf_addc(out, ' ');
        for (const char *s = all[i]; *s; s++) buf_addc(out, *s == ' ' ? '_' : *s);
    }
    free(all);
}

/* The offset in the output of k's current position. */
static size_t sink_offset(const struct sink *k)
{
    return k->flushed + k->b.len;
}

/* sink_step(), counting what a flush takes away: flush only empties b, and
 * the row offsets must go on from where the output really is. */
static void step(struct sink *k)
{
    size_t before = k->b.len;
    sink_step(k);
    k->flushed += before - k->b.len;
}

/* The CSV's columns: the three fields, tags, guid, then note type and deck
 * only when they vary.  Deck-level facts: the header says the rest. */
struct csv_cols {
    const char *basic; /* the Basic note type's name */
    int any_cloze;
    int col_type, col_deck; /* column numbers; 0: not a column */
};

static void csv_columns(const struct deck *d, struct csv_cols *c)
{
    int one_deck = 1, any_basic = 0, ncol = 5;
    c->any_cloze = 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        if (strcmp(d->notes[i].deck, d->name)) one_deck = 0;
        if (d->notes[i].cloze) c->any_cloze = 1; else any_basic = 1;
    }
    c->basic = d->opt.reversed ? "mdeck Basic+Reversed" : "mdeck Basic";
    c->col_type = c->any_cloze && any_basic ? ++ncol : 0;
    c->col_deck = one_deck ? 0 : ++ncol;
}

/* Header lines per Anki's text import (2.1.55+). */
static void csv_header(const struct deck *d, const struct csv_cols *c, struct buf *out)
{
    buf_adds(out, "#separator:Comma\n#html:true\n");
    if (!c->col_type) buf_addf(out, "#notetype:%s\n", c->any_cloze ? "mdeck Cloze" : c->basic);
    if (!c->col_deck) buf_addf(out, "#deck:%s\n", d->name);
    buf_adds(out, "#tags column:4\n#guid column:5\n");
    if (c->col_type) buf_addf(out, "#notetype column:%d\n", c->col_type);
    if (c->col_deck) buf_addf(out, "#deck column:%d\n", c->col_deck);
    buf_adds(out, "#columns:Question,Answer,Source,Tags,GUID");
    if (c->col_type) buf_adds(out, ",Notetype");
    if (c->col_deck) buf_adds(out, ",Deck");
    buf_addc(out, '\n');
}

/* One note's record; f is scratch space, r reads the spill. */
static void csv_row(const struct deck *d, const struct csv_cols *c, const struct note *n,
                    struct buf *f, struct spill_reader *r, struct buf *out)
{
    csv_field(out, note_front_html(n), 0);
    csv_field(out, n->answer.html ? spill_get(d->spill, n->answer.html, r) : "", 0);
    buf_reset(f);
    note_source_html(n, f);
    csv_field(out, f->s, 0);
    buf_reset(f);
    tags_text(d, n, f);
    csv_field(out, f->s, 0);
    char guid[12];
    note_guid(d, n, guid);
    csv_field(out, guid, !c->col_type && !c->col_deck);
    if (c->col_type) csv_field(out, n->cloze ? "mdeck Cloze" : c->basic, !c->col_deck);
    if (c->col_deck) csv_field(out, n->deck, 1);
}

int csv_write_rows(const struct deck *d, int answered_only, struct sink *k,
                   struct diags *dg, size_t *rows)
{
    struct csv_cols c;
    csv_columns(d, &c);
    csv_header(d, &c, &k->b);
    struct buf f = BUF_INIT;
    struct spill_reader r = SPILL_READER_NEAR; /* index order */
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        if (rows) rows[i] = sink_offset(k);
        if (answered_only && !n->answer.html) continue;
        csv_row(d, &c, n, &f, &r, &k->b);
        step(k);
    }
    if (rows) rows[d->nnotes] = sink_offset(k);
    buf_release(&f);
    spill_reader_free(&r);
    if (d->nmedia)
        diag_add(dg, SEV_NOTE, d->dir, 0, 0,
                 "%zu image(s) are in the .apkg only: a CSV cannot carry media", d->nmedia);
    return 0;
}

int csv_write(const struct deck *d, int answered_only, struct sink *k, struct diags *dg)
{
    return csv_write_rows(d, answered_only, k, dg, NULL);
}

/* Card text for Quizlet: tabs become spaces (the tab separates term from
 * definition) and the card separator is broken up wherever it occurs. */
static void quizlet_text(struct buf *out, const char *s)
{
    struct buf c = BUF_INIT;
    text_add_clean(&c, s, strlen(s), 0);
    buf_trim(&c);
    size_t run = 0;
    for (size_t i = 0; (i += mem_find_any(c.s + i, c.len - i, "\t@", 2)) < c.len; i++) {
        if (c.s[i] == '@' && !(i + 2 < c.len && c.s[i + 1] == '@' && c.s[i + 2] == '@'))
            continue;
        buf_add(out, c.s + run, i - run);
        buf_adds(out, c.s[i] == '\t' ? " " : "@ ");
        run = i + 1;
    }
    buf_add(out, c.s + run, c.len - run);
    buf_release(&c);
}

/* The first max characters of s, with an ellipsis when cut (UTF-8 safe). */
static const char *short_text(const char *s, size_t max, struct buf *b)
{
    buf_reset(b);
    size_t chars = 0, i = 0;
    while (s[i] && chars < max) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80) i++;
        chars++;
    }
    buf_add(b, s, i);
    if (s[i]) buf_adds(b, "…");
    return b->s;
}

/* One card, term and definition, appended to out; *tc and *dc receive
 * their lengths in characters, as Quizlet counts them: after cleaning.  An
 * answer in the spill sp (may be NULL) is read through r. */
static void quizlet_card(const struct note *n, const struct spill *sp, struct spill_reader *r,
                         struct buf *out, size_t *tc, size_t *dc)
{
    size_t t0 = out->len;
    quizlet_text(out, n->question);
    size_t tlen = out->len - t0;
    buf_adds(out, QUIZLET_TERM_SEP);
    size_t d0 = out->len;
    quizlet_text(out, n->answer.text ? spill_get(sp, n->answer.text, r) : "");
    *tc = utf8_count(out->s + t0, tlen);
    *dc = utf8_count(out->s + d0, out->len - d0);
}

static int card_too_long(size_t tc, size_t dc)
{
    return tc > QUIZLET_MAX_CHARS || dc > QUIZLET_MAX_CHARS;
}

int quizlet_card_warns(const struct spill *sp, const struct note *n)
{
    struct buf b = BUF_INIT;
    struct spill_reader r = SPILL_READER_ONE;
    size_t tc, dc;
    quizlet_card(n, sp, &r, &b, &tc, &dc);
    buf_release(&b);
    spill_reader_free(&r);
    return card_too_long(tc, dc);
}

static void warn_long_card(struct diags *dg, const char *index_path, const struct note *n,
                           size_t tc, size_t dc)
{
    struct buf shortq = BUF_INIT;
    int def = dc > QUIZLET_MAX_CHARS;
    diag_add(dg, SEV_WARNING, index_path, n->line, n->col,
             "Quizlet card '%s' has a %s of %zu characters (over %d); Quizlet may cut it — shorten the %s",
             short_text(n->question, 40, &shortq), def ? "definition" : "term",
             def ? dc : tc, QUIZLET_MAX_CHARS, def ? "answer" : "question");
    buf_release(&shortq);
}

/* A note's row is its card with the separator before it (none before the
 * first card); the "\n" that ends the file follows rows[d->nnotes]. */
int quizlet_write_rows(const struct deck *d, int answered_only, struct sink *k,
                       struct diags *dg, size_t *rows)
{
    struct buf *out = &k->b;
    struct buf path = BUF_INIT;
    struct spill_reader r = SPILL_READER_NEAR; /* index order */
    buf_addf(&path, "%s/index.md", d->dir);
    size_t cards = 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        if (rows) rows[i] = sink_offset(k);
        if (answered_only && !n->answer.html) continue;
        if (cards++) buf_adds(out, QUIZLET_CARD_SEP);
        size_t tc, dc;
        quizlet_card(n, d->spill, &r, out, &tc, &dc);
        if (card_too_long(tc, dc)) warn_long_card(dg, path.s, n, tc, dc);
        step(k);
    }
    if (rows) rows[d->nnotes] = sink_offset(k);
    if (cards) buf_addc(out, '\n');
    buf_release(&path);
    spill_reader_free(&r);
    return 0;
}

int quizlet_write(const struct deck *d, int answered_only, struct sink *k, struct diags *dg)
{
    return quizlet_write_rows(d, answered_only, k, dg, NULL);
}

/* --- splicing ------------------------------------------------------------ */

/* Copies len bytes of in, from offset off, to out's position.  In the
 * kernel when it can (copy_file_range: no trip through user space, and no
 * copy at all where the file system shares extents); by read and write
 * when it cannot (another file system on older kernels, a file system
 * without support, a descriptor opened for appending).  A failure of that
 * kind, or any other, is tried again by reading: a real error (no space,
 * the file shrank) recurs there and is reported. */
static int copy_span(int in, size_t off, size_t len, int out)
{
    off64_t pos = (off64_t)off;
    while (len) {
        ssize_t got = copy_file_range(in, &pos, out, NULL, len, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return copy_range(in, (long long)pos, (long long)len, out);
        len -= (size_t)got;
    }
    return 0;
}

/* A splice in progress: the new file is the old one's bytes, copied in
 * spans, with the changed notes' rows made anew between them. */
struct splice {
    const struct deck *d;
    int answered_only;
    int old_fd, out_fd;
    const size_t *old_rows;
    size_t *new_rows;
    struct buf made;   /* rows made anew, not written yet */
    size_t out;        /* length of the new file so far, made included */
    size_t from;       /* old bytes before this are copied or replaced */
    size_t next;       /* the first note whose new offset is not set yet */
    struct csv_cols cols; /* CSV: read from the header at the first row */
    int have_cols;
    struct buf scratch;   /* CSV */
    struct spill_reader r; /* changed rows' answers */
    /* Appends note i's row to made; -1 (errno set) when it cannot be. */
    int (*row)(struct splice *s, size_t i);
};

/* Notes next..upto-1 keep their rows, at their old offsets moved by what
 * the new file has gained or lost so far; the old bytes from "from" up to
 * offset to (those rows, and the header or trailer) follow the rows made
 * so far. */
static int keep_old(struct splice *s, size_t upto, size_t to)
{
    for (; s->next < upto; s->next++)
        s->new_rows[s->next] = s->out + (s->old_rows[s->next] - s->from);
    if (to == s->from) return 0;
    if (write_all(s->out_fd, s->made.s, s->made.len) < 0) return -1;
    buf_reset(&s->made);
    if (copy_span(s->old_fd, s->from, to - s->from, s->out_fd) < 0) return -1;
    s->out += to - s->from;
    s->from = to;
    return 0;
}

static int make_row(struct splice *s, size_t i)
{
    if (keep_old(s, i, s->old_rows[i]) < 0) return -1;
    s->new_rows[i] = s->out;
    size_t before = s->made.len;
    if (s->row(s, i) < 0) return -1;
    s->out += s->made.len - before;
    s->from = s->old_rows[i + 1];
    s->next = i + 1;
    /* Many changed notes in a row: written as they come, not held. */
    if (s->made.len >= SINK_CHUNK) {
        if (write_all(s->out_fd, s->made.s, s->made.len) < 0) return -1;
        buf_reset(&s->made);
    }
    return 0;
}

/* What a splice takes on trust must at least be possible: rows in order
 * and within the old file (old_size bytes), changed notes ascending
 * (repeats allowed) and in the deck.  Anything else is a caller's mix-up:
 * EINVAL, and the caller writes the whole file. */
static int splice_args_ok(const struct splice *s, size_t old_size, const size_t *changed,
                          size_t nchanged)
{
    size_t n = s->d->nnotes;
    int ok = s->old_rows[n] <= old_size;
    for (size_t i = 0; ok && i < n; i++) ok = s->old_rows[i] <= s->old_rows[i + 1];
    for (size_t c = 0; ok && c < nchanged; c++)
        ok = changed[c] < n && (!c || changed[c] >= changed[c - 1]);
    if (!ok) errno = EINVAL;
    return ok;
}

static int splice(struct splice *s, const size_t *changed, size_t nchanged)
{
    struct stat st;
    if (fstat(s->old_fd, &st) < 0) return -1;
    if (!splice_args_ok(s, (size_t)st.st_size, changed, nchanged)) return -1;
    int rc = 0;
    for (size_t c = 0; c < nchanged && rc == 0; c++)
        if (!c || changed[c] != changed[c - 1]) rc = make_row(s, changed[c]);
    /* The rest, up to the old file's end: the last rows and whatever
     * follows them (Quizlet's final "\n"). */
    if (rc == 0) rc = keep_old(s, s->d->nnotes + 1, (size_t)st.st_size);
    if (rc == 0 && write_all(s->out_fd, s->made.s, s->made.len) < 0) rc = -1;
    int e = errno;
    buf_release(&s->made);
    buf_release(&s->scratch);
    spill_reader_free(&s->r);
    errno = e;
    return rc;
}

/* The number after key in the header h, 0 when key is not there. */
static int header_number(const char *h, const char *key)
{
    const char *p = strstr(h, key);
    return p ? atoi(p + strlen(key)) : 0;
}

/* The columns of the old file's rows, as its header (len bytes) says:
 * csv_columns() would look at every note, 3 ms of memory traffic on a
 * 100,000-note deck, to learn what the header, copied as it is, already
 * holds.  -1 with errno set when the header cannot be read or is not one
 * csv_header() wrote. */
static int csv_columns_of_header(const struct deck *d, int fd, size_t len, struct csv_cols *c)
{
    struct buf h = BUF_INIT;
    buf_grow(&h, len);
    int e = EINVAL; /* a file shorter than its rows say */
    while (h.len < len) {
        ssize_t got = pread(fd, h.s + h.len, len - h.len, (off_t)h.len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) e = errno;
        if (got <= 0) break;
        h.len += (size_t)got;
    }
    h.s[h.len] = '\0';
    int ok = h.len == len && str_starts_with(h.s, "#separator:Comma\n");
    c->basic = d->opt.reversed ? "mdeck Basic+Reversed" : "mdeck Basic";
    c->any_cloze = 0; /* used by the header only */
    c->col_type = header_number(h.s, "\n#notetype column:");
    c->col_deck = header_number(h.s, "\n#deck column:");
    buf_release(&h);
    if (ok) return 0;
    errno = e;
    return -1;
}

/* The header is copied; only a changed row needs the columns, read once
 * the rows are known to lie within the old file. */
static int csv_row_again(struct splice *s, size_t i)
{
    const struct note *n = &s->d->notes[i];
    if (!s->have_cols && csv_columns_of_header(s->d, s->old_fd, s->old_rows[0], &s->cols) < 0)
        return -1;
    s->have_cols = 1;
    if (!s->answered_only || n->answer.html) csv_row(s->d, &s->cols, n, &s->scratch, &s->r, &s->made);
    return 0;
}

int csv_splice(const struct deck *d, int answered_only, int old_fd, const size_t *old_rows,
               const size_t *changed, size_t nchanged, int out_fd, size_t *new_rows)
{
    struct splice s = {.d = d, .answered_only = answered_only, .old_fd = old_fd,
                       .out_fd = out_fd, .old_rows = old_rows, .new_rows = new_rows,
                       .made = BUF_INIT, .scratch = BUF_INIT, .r = SPILL_READER_ONE,
                       .row = csv_row_again};
    return splice(&s, changed, nchanged);
}

/* A separator precedes every card but the first, so a card's row depends
 * on whether any card comes before it: whether the old rows before it
 * hold anything.  That stays true only while no note gains or loses its
 * card; one that does (answered_only) is refused. */
static int quizlet_row_again(struct splice *s, size_t i)
{
    const struct note *n = &s->d->notes[i];
    int had = s->old_rows[i + 1] > s->old_rows[i];
    if (had != (!s->answered_only || n->answer.html != NULL)) {
        errno = EINVAL;
        return -1;
    }
    if (!had) return 0;
    if (s->old_rows[i] > s->old_rows[0]) buf_adds(&s->made, QUIZLET_CARD_SEP);
    size_t tc, dc;
    quizlet_card(n, s->d->spill, &s->r, &s->made, &tc, &dc);
    return 0;
}

int quizlet_splice(const struct deck *d, int answered_only, int old_fd, const size_t *old_rows,
                   const size_t *changed, size_t nchanged, int out_fd, size_t *new_rows)
{
    struct splice s = {.d = d, .answered_only = answered_only, .old_fd = old_fd,
                       .out_fd = out_fd, .old_rows = old_rows, .new_rows = new_rows,
                       .made = BUF_INIT, .scratch = BUF_INIT, .r = SPILL_READER_ONE,
                       .row = quizlet_row_again};
    return splice(&s, changed, nchanged);
}

int csv_build(const struct deck *d, int answered_only, struct buf *out, struct diags *dg)
{
    struct sink k = {.b = *out};
    int rc = csv_write(d, answered_only, &k, dg);
    *out = k.b;
    return rc;
}

int quizlet_build(const struct deck *d, int answered_only, struct buf *out, struct diags *dg)
{
    struct sink k = {.b = *out};
    int rc = quizlet_write(d, answered_only, &k, dg);
    *out = k.b;
    return rc;
}

const char *quizlet_instructions(void)
{
    return "Quizlet: Create > Import, paste the file's contents; "
           "'Between term and definition': Tab; 'Between cards': Custom: @@@";
}
