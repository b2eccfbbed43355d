/* test_textout.c - the CSV and Quizlet writers' row offsets, and splicing:
 * a file made again from the previous one, copying every unchanged row,
 * must be byte for byte the file a full write of the changed deck gives,
 * with the same row offsets, however the changed notes lie (first, last,
 * adjacent, beside notes left out) and splice after splice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdeck/deck.h"
#include "mdeck/textout.h"
#include "mdeck/util.h"
#include "scratch.h"

/* --- decks made by hand ---------------------------------------------------- */

enum kind {
    SIMPLE, /* one deck, Basic notes only: the CSV header names both */
    MIXED,  /* a Cloze note and a subdeck: note type and deck columns */
    BIG,    /* MIXED with answers of 700 KB: the writers flush mid-way */
};

#define NNOTES 13
#define BIG_LEN ((size_t)700 * 1024)

/* Notes 0, 3 and 12 have no answer: left out under answered_only, so the
 * first Quizlet card is then note 1's and the last note 11's. */
static int unanswered(size_t i) { return i == 0 || i == 3 || i == 12; }

/* A long text of len bytes: runs of a few words, with a character of
 * several bytes now and then. */
static const char *long_text(struct deck *d, size_t len, char fill)
{
    char *s = arena_alloc(&d->arena, len + 1);
    for (size_t i = 0; i < len; i++) s[i] = i % 61 == 60 ? ' ' : fill;
    return s;
}

static void add_note(struct deck *d, enum kind kind, size_t i)
{
    struct note *n = deck_add_note(d);
    n->id = arena_printf(&d->arena, "n%02zu", i);
    n->line = (int)i + 1;
    n->col = 3;
    n->deck = d->name;
    n->question = arena_printf(&d->arena, "Question %zu: why, \"really\"?", i);
    if (i == 2) n->question = "#1 Attention为什么要除以根号d？\t(tab) @@@ x";
    n->front_html = arena_printf(&d->arena, "<b>%s</b>", n->question);
    if (i % 4 == 1) note_add_tag(d, n, "has space");
    if (i % 3 == 0) note_add_tag(d, n, "ml");
    if (i % 5 == 2) note_add_source(d, n, "https://example.com/a?x=1,2");
    if (i % 5 == 2) note_add_source(d, n, "javascript:alert(1)");
    if (kind != SIMPLE && i == 7) {
        n->cloze = 1;
        n->cloze_html = "{{c1::Paris}} is the capital, \"of course\"";
        n->cloze_text = "[Paris] is the capital";
    }
    if (kind != SIMPLE && (i == 8 || i == 9)) n->deck = "Top::Sub";
    if (unanswered(i)) return;
    n->answer.html = arena_printf(&d->arena, "<p>Answer %zu, first version.</p>", i);
    n->answer.text = arena_printf(&d->arena, "Answer %zu, first version.", i);
    if (kind == BIG && (i == 2 || i == 4 || i == 7 || i == 9)) {
        n->answer.html = long_text(d, BIG_LEN, 'h');
        n->answer.text = long_text(d, BIG_LEN, 't');
    }
}

static void make_deck(struct deck *d, enum kind kind)
{
    deck_init(d, "/nonexistent/decks/top");
    d->name = "Top";
    static const char *deck_tags[] = {"deck-tag", "ml"};
    d->opt.tags = deck_tags;
    d->opt.ntags = 2;
    deck_add_deck_name(d, "Top::Sub");
    for (size_t i = 0; i < NNOTES; i++) add_note(d, kind, i);
}

/* Answers a changed note may get: text needing CSV quoting, UTF-8, the
 * Quizlet separators inside text, control characters, white space Quizlet
 * trims, nothing at all, and (BIG) an answer of over a megabyte. */
static const struct { const char *html, *text; } variants[] = {
    {"<p>Because of \"variance\", mostly.</p>", "Because of \"variance\", mostly."},
    {"<p>注意力除以根号 d：方差</p>\n<p>第二段 ✓</p>", "注意力除以根号 d：方差\n第二段 ✓"},
    {"#hash first, then text", "@@@ tab\there @@@@ and\t\ttwo\n@@@\n"},
    {"", ""},
    {"x", "  trimmed  \n"},
    {"line\r\nwith CR\x01 and control", "ctrl\x02text\x7f end"},
    {NULL, NULL}, /* the answer goes: only when that keeps the note's row */
    {"<p>big</p>", "big"},
};
#define NVARIANTS ARRAY_LEN(variants)
#define VARIANT_GONE 6
#define VARIANT_BIG 7

/* Changes note i's answer in place, the way a re-render would: its
 * content only.  Under answered_only a note keeps having or not having an
 * answer (its presence in the file is the caller's to keep). */
static void change_answer(struct deck *d, enum kind kind, int answered_only, size_t round,
                          size_t i)
{
    struct note *n = &d->notes[i];
    size_t v = (round * 5 + i) % NVARIANTS;
    if (answered_only && (!n->answer.html || v == VARIANT_GONE)) {
        if (!n->answer.html) return;
        v = 0;
    }
    n->answer.html = variants[v].html;
    n->answer.text = variants[v].text;
    if (v == VARIANT_BIG && kind == BIG) {
        n->answer.html = long_text(d, 2 * BIG_LEN, 'H');
        n->answer.text = long_text(d, 2 * BIG_LEN, 'T');
    }
}

/* --- writing and splicing files ------------------------------------------ */

struct format {
    int (*write)(const struct deck *d, int answered_only, struct sink *k, struct diags *dg,
                 size_t *rows);
    int (*splice)(const struct deck *d, int answered_only, int old_fd, const size_t *old_rows,
                  const size_t *changed, size_t nchanged, int out_fd, size_t *new_rows);
    int (*write_plain)(const struct deck *d, int answered_only, struct sink *k,
                       struct diags *dg);
};
static const struct format CSV = {csv_write_rows, csv_splice, csv_write};
static const struct format QUIZLET = {quizlet_write_rows, quizlet_splice, quizlet_write};

static char *path_of(const char *name) { return xasprintf("%s/%s", scratch_dir, name); }

static void flush_to_fd(struct sink *k)
{
    int fd = *(int *)k->arg;
    assert_int_equal(write(fd, k->b.s, k->b.len), (ssize_t)k->b.len);
    buf_reset(&k->b);
}

/* The whole file, streamed through a flushing sink as a build does. */
static void write_full(const struct format *f, const struct deck *d, int answered_only,
                       const char *name, size_t *rows)
{
    char *path = path_of(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    struct diags dg;
    diags_init(&dg);
    struct sink k = {.b = BUF_INIT, .flush = flush_to_fd, .arg = &fd};
    assert_int_equal(f->write(d, answered_only, &k, &dg, rows), 0);
    flush_to_fd(&k);
    buf_release(&k.b);
    diags_free(&dg);
    assert_int_equal(close(fd), 0);
    free(path);
}

/* Splices old into new; the result of the call. */
static int splice_file(const struct format *f, const struct deck *d, int answered_only,
                       const char *old, const size_t *old_rows, const size_t *changed,
                       size_t nchanged, const char *new, size_t *new_rows, int append)
{
    char *op = path_of(old), *np = path_of(new);
    int in = open(op, O_RDONLY);
    assert_true(in >= 0);
    /* Appending refuses copy_file_range (EBADF): the read/write way. */
    int out = open(np, O_WRONLY | O_CREAT | O_TRUNC | (append ? O_APPEND : 0), 0644);
    assert_true(out >= 0);
    int rc = f->splice(d, answered_only, in, old_rows, changed, nchanged, out, new_rows);
    close(in);
    assert_int_equal(close(out), 0);
    free(op);
    free(np);
    return rc;
}

static void read_named(const char *name, struct buf *b)
{
    char *p = path_of(name);
    assert_int_equal(read_file(p, b), 0);
    free(p);
}

/* Byte for byte, naming the first difference when there is one. */
static void assert_same_file(const char *a, const char *b)
{
    struct buf x = BUF_INIT, y = BUF_INIT;
    read_named(a, &x);
    read_named(b, &y);
    size_t i = 0;
    while (i < x.len && i < y.len && x.s[i] == y.s[i]) i++;
    if (i < x.len || i < y.len)
        fail_msg("%s (%zu bytes) and %s (%zu bytes) differ at byte %zu: \"%.40s\" vs \"%.40s\"",
                 a, x.len, b, y.len, i, x.s + i, y.s + i);
    buf_release(&x);
    buf_release(&y);
}

static void assert_same_rows(const size_t *a, const size_t *b, size_t n)
{
    for (size_t i = 0; i <= n; i++)
        if (a[i] != b[i]) fail_msg("row %zu: offset %zu, expected %zu", i, a[i], b[i]);
}

/* What the rows say, checked against the bytes: a left-out note's row is
 * empty and only it; a CSV row is one record, after the header; a Quizlet
 * row starts with the card separator unless it is the first card, and
 * only the final "\n" follows the last row. */
static void assert_rows_shape(int csv, const struct deck *d, int answered_only,
                              const char *name, const size_t *rows)
{
    struct buf b = BUF_INIT;
    read_named(name, &b);
    size_t n = d->nnotes, cards = 0;
    if (csv) {
        /* The header ends with the "#columns:" line. */
        assert_true(rows[0] > 0 && b.s[rows[0] - 1] == '\n');
        const char *last = memrchr(b.s, '\n', rows[0] - 1);
        assert_non_null(last);
        assert_memory_equal(last + 1, "#columns:", 9);
    } else {
        assert_int_equal(rows[0], 0);
    }
    for (size_t i = 0; i < n; i++) {
        int present = !answered_only || d->notes[i].answer.html;
        assert_int_equal(rows[i + 1] > rows[i], present);
        if (!present) continue;
        if (csv) assert_int_equal(b.s[rows[i + 1] - 1], '\n');
        else if (cards) assert_memory_equal(b.s + rows[i], QUIZLET_CARD_SEP, 5);
        else assert_int_equal(rows[i], 0);
        cards++;
    }
    assert_int_equal(b.len, rows[n] + (!csv && cards));
    buf_release(&b);
}

/* --- splice after splice ---------------------------------------------- */

struct round {
    size_t changed[NNOTES];
    size_t n;
    int append; /* out file opened O_APPEND: the read/write fallback */
};

/* Who changes, round after round: the first note, the last, one in the
 * middle, three adjacent, the first and last cards under answered_only
 * and notes beside left-out ones, nothing, a repeated index, every note. */
static const struct round rounds[] = {
    {{0}, 1, 0},
    {{12}, 1, 0},
    {{6}, 1, 0},
    {{4, 5, 6}, 3, 1},
    {{1, 2, 11}, 3, 0},
    {{0}, 0, 0},
    {{3, 4, 4}, 3, 0},
    {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 13, 0},
    {{7, 8, 9, 10, 11, 12}, 6, 0},
    {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 13, 1},
};

static void check_splices(const struct format *f, enum kind kind, int answered_only)
{
    struct deck d;
    make_deck(&d, kind);
    size_t n = d.nnotes;
    size_t *rows = xcalloc(n + 1, sizeof *rows), *full = xcalloc(n + 1, sizeof *rows);
    size_t *spliced = xcalloc(n + 1, sizeof *rows);
    write_full(f, &d, answered_only, "old", rows);
    assert_rows_shape(f == &CSV, &d, answered_only, "old", rows);
    for (size_t r = 0; r < ARRAY_LEN(rounds); r++) {
        const struct round *rd = &rounds[r];
        for (size_t c = 0; c < rd->n; c++) change_answer(&d, kind, answered_only, r, rd->changed[c]);
        assert_int_equal(splice_file(f, &d, answered_only, "old", rows, rd->changed, rd->n, "new",
                                     spliced, rd->append), 0);
        write_full(f, &d, answered_only, "full", full);
        assert_same_file("new", "full");
        assert_same_rows(spliced, full, n);
        assert_rows_shape(f == &CSV, &d, answered_only, "full", full);
        /* The next round splices this round's result, with its rows. */
        char *from = path_of("new"), *to = path_of("old");
        assert_int_equal(rename(from, to), 0);
        free(from);
        free(to);
        memcpy(rows, spliced, (n + 1) * sizeof *rows);
    }
    free(rows);
    free(full);
    free(spliced);
    deck_free(&d);
}

static void check_every_kind(const struct format *f, int answered_only)
{
    check_splices(f, SIMPLE, answered_only);
    check_splices(f, MIXED, answered_only);
    check_splices(f, BIG, answered_only);
}

static void test_csv_splice(void **state) { check_every_kind(&CSV, 0); }
static void test_csv_splice_answered_only(void **state) { check_every_kind(&CSV, 1); }
static void test_quizlet_splice(void **state) { check_every_kind(&QUIZLET, 0); }
static void test_quizlet_splice_answered_only(void **state) { check_every_kind(&QUIZLET, 1); }

/* The writers with rows give the bytes they give without, and the same
 * rows whether the sink flushes or holds everything. */
static void check_rows_whatever_the_sink(const struct format *f, int answered_only)
{
    struct deck d;
    make_deck(&d, BIG);
    size_t *flushed = xcalloc(d.nnotes + 1, sizeof(size_t));
    size_t *held = xcalloc(d.nnotes + 1, sizeof(size_t));
    write_full(f, &d, answered_only, "flushed", flushed);
    struct diags dg;
    diags_init(&dg);
    struct sink k = {.b = BUF_INIT};
    assert_int_equal(f->write(&d, answered_only, &k, &dg, held), 0);
    assert_same_rows(flushed, held, d.nnotes);
    struct sink plain = {.b = BUF_INIT};
    assert_int_equal(f->write_plain(&d, answered_only, &plain, &dg), 0);
    assert_int_equal(plain.b.len, k.b.len);
    assert_memory_equal(plain.b.s, k.b.s, k.b.len);
    struct buf file = BUF_INIT;
    read_named("flushed", &file);
    assert_int_equal(file.len, k.b.len);
    assert_memory_equal(file.s, k.b.s, k.b.len);
    buf_release(&file);
    buf_release(&k.b);
    buf_release(&plain.b);
    diags_free(&dg);
    free(flushed);
    free(held);
    deck_free(&d);
}

static void test_rows_whatever_the_sink(void **state)
{
    for (int ao = 0; ao < 2; ao++) {
        check_rows_whatever_the_sink(&CSV, ao);
        check_rows_whatever_the_sink(&QUIZLET, ao);
    }
}

/* A deck whose notes all lack answers has no Quizlet card under
 * answered_only: the file is empty, and stays so. */
static void test_quizlet_without_cards(void **state)
{
    struct deck d;
    deck_init(&d, "/nonexistent/top");
    d.name = "Top";
    for (int i = 0; i < 3; i++) {
        struct note *n = deck_add_note(&d);
        n->id = n->question = n->front_html = "q";
        n->deck = d.name;
    }
    size_t rows[4], again[4];
    const size_t changed[] = {0, 2};
    write_full(&QUIZLET, &d, 1, "old", rows);
    assert_int_equal(splice_file(&QUIZLET, &d, 1, "old", rows, changed, 2, "new", again, 0), 0);
    struct buf b = BUF_INIT;
    read_named("new", &b);
    assert_int_equal(b.len, 0);
    assert_same_rows(again, rows, 3);
    buf_release(&b);
    deck_free(&d);
}

/* CSV rows stand alone: under answered_only a note may gain its row (or
 * lose it) in a splice, unlike a Quizlet card. */
static void test_csv_row_may_come_and_go(void **state)
{
    struct deck d;
    make_deck(&d, MIXED);
    size_t rows[NNOTES + 1], spliced[NNOTES + 1], full[NNOTES + 1];
    write_full(&CSV, &d, 1, "old", rows);
    d.notes[0].answer.html = d.notes[0].answer.text = "now, answered";
    d.notes[5].answer.html = d.notes[5].answer.text = NULL;
    d.notes[12].answer.html = d.notes[12].answer.text = "last";
    const size_t changed[] = {0, 5, 12};
    assert_int_equal(splice_file(&CSV, &d, 1, "old", rows, changed, 3, "new", spliced, 0), 0);
    write_full(&CSV, &d, 1, "full", full);
    assert_same_file("new", "full");
    assert_same_rows(spliced, full, NNOTES);
    deck_free(&d);
}

/* What a splice cannot trust is refused with EINVAL, for the caller to
 * write the whole file: changed notes out of order or past the deck, rows
 * past the old file's end, an old file that is not the CSV, a Quizlet note
 * gaining a card. */
static void test_splice_refuses_mix_ups(void **state)
{
    struct deck d;
    make_deck(&d, SIMPLE);
    size_t rows[NNOTES + 1], out[NNOTES + 1];
    write_full(&CSV, &d, 1, "old", rows);
    const size_t backwards[] = {5, 4}, outside[] = {NNOTES};
    errno = 0;
    assert_int_equal(splice_file(&CSV, &d, 1, "old", rows, backwards, 2, "new", out, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(splice_file(&CSV, &d, 1, "old", rows, outside, 1, "new", out, 0), -1);
    assert_int_equal(errno, EINVAL);
    rows[NNOTES] += 1;
    errno = 0;
    assert_int_equal(splice_file(&CSV, &d, 1, "old", rows, NULL, 0, "new", out, 0), -1);
    assert_int_equal(errno, EINVAL);

    /* Not a CSV mdeck wrote: its header says nothing of the columns. */
    write_full(&QUIZLET, &d, 1, "old", rows);
    const size_t second[] = {1};
    errno = 0;
    assert_int_equal(splice_file(&CSV, &d, 1, "old", rows, second, 1, "new", out, 0), -1);
    assert_int_equal(errno, EINVAL);

    d.notes[0].answer.html = d.notes[0].answer.text = "now answered";
    const size_t first[] = {0};
    errno = 0;
    assert_int_equal(splice_file(&QUIZLET, &d, 1, "old", rows, first, 1, "new", out, 0), -1);
    assert_int_equal(errno, EINVAL);
    deck_free(&d);
}

/* quizlet_card_warns() says what quizlet_write() warns about: sides over
 * QUIZLET_MAX_CHARS characters as written (UTF-8 counted in characters,
 * white space trimmed, control characters dropped, "@@@" broken up). */
static void test_card_warns_as_the_writer_does(void **state)
{
    struct deck d;
    deck_init(&d, "/nonexistent/top");
    d.name = "Top";
    struct buf b = BUF_INIT;
    struct { const char *q, *a; int warns; } cases[8];
    size_t nc = 0;
#define CASE(qq, aa, w) (cases[nc].q = arena_strdup(&d.arena, qq), \
                         cases[nc].a = arena_strdup(&d.arena, aa), cases[nc++].warns = w)
    for (int i = 0; i < 2000; i++) buf_addc(&b, 'x');
    CASE("q", b.s, 0);
    buf_addc(&b, 'x');
    CASE("q", b.s, 1);
    CASE(b.s, "short", 1);
    buf_reset(&b);
    for (int i = 0; i < 1990; i++) buf_adds(&b, "é");
    CASE("q", b.s, 0); /* 3,980 bytes, 1,990 characters */
    buf_reset(&b);
    buf_adds(&b, "   ");
    for (int i = 0; i < 2000; i++) buf_addc(&b, 'y');
    buf_adds(&b, "\x01\x02  \n");
    CASE("q", b.s, 0);
    buf_reset(&b);
    for (int i = 0; i < 1800; i++) buf_addc(&b, '@');
    CASE("q", b.s, 1); /* each "@@@" gains a space: 3,598 characters */
#undef CASE
    for (size_t i = 0; i < nc; i++) {
        struct note *n = deck_add_note(&d);
        n->id = n->front_html = "x";
        n->question = cases[i].q;
        n->deck = d.name;
        n->answer.html = n->answer.text = cases[i].a;
        n->line = (int)i + 1;
    }
    struct diags dg;
    diags_init(&dg);
    struct sink k = {.b = BUF_INIT};
    assert_int_equal(quizlet_write(&d, 0, &k, &dg), 0);
    for (size_t i = 0; i < nc; i++) {
        int warned = 0;
        for (size_t j = 0; j < dg.n; j++)
            warned |= dg.v[j].line == (int)i + 1 && strstr(dg.v[j].msg, "Quizlet card") != NULL;
        if (warned != cases[i].warns) fail_msg("card %zu: warned %d, expected %d", i, warned, cases[i].warns);
        assert_int_equal(quizlet_card_warns(d.spill, &d.notes[i]), warned);
    }
    buf_release(&k.b);
    buf_release(&b);
    diags_free(&dg);
    deck_free(&d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, scratch_setup, scratch_teardown)
    const struct CMUnitTest tests[] = {
        T(test_csv_splice),
        T(test_csv_splice_answered_only),
        T(test_quizlet_splice),
        T(test_quizlet_splice_answered_only),
        T(test_rows_whatever_the_sink),
        T(test_quizlet_without_cards),
        T(test_csv_row_may_come_and_go),
        T(test_splice_refuses_mix_ups),
        T(test_card_warns_as_the_writer_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
