/* textout.c - the Anki CSV and the Quizlet text file. */
#include "mdeck/textout.h"

#include <stdlib.h>
#include <string.h>

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

int csv_write(const struct deck *d, int answered_only, struct sink *k, struct diags *dg)
{
    struct buf *out = &k->b;
    int one_deck = 1, any_cloze = 0, any_basic = 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        if (strcmp(d->notes[i].deck, d->name)) one_deck = 0;
        if (d->notes[i].cloze) any_cloze = 1; else any_basic = 1;
    }
    const char *basic = d->opt.reversed ? "mdeck Basic+Reversed" : "mdeck Basic";
    /* Columns: the three fields, tags, guid, then note type and deck when
     * they vary.  Headers per Anki's text import (2.1.55+). */
    buf_adds(out, "#separator:Comma\n#html:true\n");
    int col_type = 0, col_deck = 0, ncol = 5;
    if (any_cloze && any_basic) col_type = ++ncol;
    else buf_addf(out, "#notetype:%s\n", any_cloze ? "mdeck Cloze" : basic);
    if (!one_deck) col_deck = ++ncol;
    else buf_addf(out, "#deck:%s\n", d->name);
    buf_adds(out, "#tags column:4\n#guid column:5\n");
    if (col_type) buf_addf(out, "#notetype column:%d\n", col_type);
    if (col_deck) buf_addf(out, "#deck column:%d\n", col_deck);
    buf_adds(out, "#columns:Question,Answer,Source,Tags,GUID");
    if (col_type) buf_adds(out, ",Notetype");
    if (col_deck) buf_adds(out, ",Deck");
    buf_addc(out, '\n');

    struct buf f = BUF_INIT;
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        if (answered_only && !n->answer.html) continue;
        csv_field(out, n->cloze ? n->cloze_html : n->front_html, 0);
        csv_field(out, n->answer.html ? n->answer.html : "", 0);
        buf_reset(&f);
        note_source_html(n, &f);
        csv_field(out, f.s, 0);
        buf_reset(&f);
        tags_text(d, n, &f);
        csv_field(out, f.s, 0);
        char guid[12];
        note_guid(d, n, guid);
        csv_field(out, guid, !col_type && !col_deck);
        if (col_type) csv_field(out, n->cloze ? "mdeck Cloze" : basic, !col_deck);
        if (col_deck) csv_field(out, n->deck, 1);
        sink_step(k);
    }
    buf_release(&f);
    if (d->nmedia)
        diag_add(dg, SEV_NOTE, d->dir, 0, 0,
                 "%zu image(s) are in the .apkg only: a CSV cannot carry media", d->nmedia);
    return 0;
}

/* Card text for Quizlet: tabs become spaces (the tab separates term from
 * definition) and the card separator is broken up wherever it occurs. */
static void quizlet_text(struct buf *out, const char *s)
{
    struct buf c = BUF_INIT;
    text_add_clean(&c, s, strlen(s), 0);
    buf_trim(&c);
    size_t run = 0;
    for (size_t i = 0; i < c.len; i++) {
        if (c.s[i] != '\t' && c.s[i] != '@') continue;
        if (c.s[i] == '@' && !(i + 2 < c.len && c.s[i + 1] == '@' && c.s[i + 2] == '@'))
            continue;
        buf_add(out, c.s + run, i - run);
        buf_adds(out, c.s[i] == '\t' ? " " : "@ ");
        run = i + 1;
    }
    buf_add(out, c.s + run, c.len - run);
    buf_release(&c);
}

static size_t count_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
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

int quizlet_write(const struct deck *d, int answered_only, struct sink *k, struct diags *dg)
{
    struct buf *out = &k->b;
    struct buf shortq = BUF_INIT;
    const char *index_path = NULL;
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/index.md", d->dir);
    index_path = path.s;
    size_t cards = 0;
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        if (answered_only && !n->answer.html) continue;
        if (cards++) buf_adds(out, "\n@@@\n");
        size_t t0 = out->len;
        quizlet_text(out, n->question);
        size_t tlen = out->len - t0;
        buf_adds(out, QUIZLET_TERM_SEP);
        size_t d0 = out->len;
        quizlet_text(out, n->answer.text ? n->answer.text : "");
        size_t dlen = out->len - d0;
        size_t tc = count_chars(out->s + t0, tlen), dc = count_chars(out->s + d0, dlen);
        if (tc > QUIZLET_MAX_CHARS || dc > QUIZLET_MAX_CHARS)
            diag_add(dg, SEV_WARNING, index_path, n->line, n->col,
                     "Quizlet card '%s' has a %s of %zu characters (over %d); Quizlet may cut it — shorten the %s",
                     short_text(n->question, 40, &shortq), dc > QUIZLET_MAX_CHARS ? "definition" : "term",
                     dc > QUIZLET_MAX_CHARS ? dc : tc, QUIZLET_MAX_CHARS,
                     dc > QUIZLET_MAX_CHARS ? "answer" : "question");
        sink_step(k);
    }
    if (cards) buf_addc(out, '\n');
    buf_release(&path);
    buf_release(&shortq);
    return 0;
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
