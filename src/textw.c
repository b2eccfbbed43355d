/* textw.c - the plain-text writer shared by the markdown renderer and the
 * HTML answer files (render.h): blocks, list markers and quote prefixes,
 * collapsible spaces, trailing white space trimmed. */
#include "mdeck/render.h"
#include "mdeck/text.h"

#include <stdlib.h>
#include <string.h>

void textw_init(struct textw *w, struct buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->start = out->len;
}

static void line_open(struct textw *w)
{
    if (w->open) return;
    if (w->out->len > w->start) buf_addc(w->out, '\n');
    for (size_t i = 0; i < w->nlv; i++) {
        struct textw_level *l = &w->lv[i];
        if (l->quote) {
            buf_adds(w->out, "> ");
        } else if (l->marker[0]) {
            buf_adds(w->out, l->marker);
            l->marker[0] = '\0';
        } else {
            buf_adds(w->out, "  ");
        }
    }
    w->open = 1;
    w->space = 0;
}

/* Drops trailing white space (space, tab, U+00A0, U+3000, and newlines
 * when asked), never past the writer's start. */
static void trim_end(struct textw *w, int newlines)
{
    const char *s = w->out->s;
    size_t n = w->out->len;
    for (;;) {
        if (n > w->start && (s[n - 1] == ' ' || s[n - 1] == '\t' || (newlines && s[n - 1] == '\n')))
            n--;
        else if (n >= w->start + 2 && !memcmp(s + n - 2, "\xC2\xA0", 2))
            n -= 2;
        else if (n >= w->start + 3 && !memcmp(s + n - 3, "\xE3\x80\x80", 3))
            n -= 3;
        else
            break;
    }
    buf_setlen(w->out, n);
}

void textw_block(struct textw *w)
{
    if (!w->open) return;
    trim_end(w, 0);
    w->open = 0;
    w->space = 0;
}

void textw_finish(struct textw *w)
{
    textw_block(w);
    trim_end(w, 1);
    free(w->lv);
    w->lv = NULL;
    w->nlv = w->caplv = 0;
}

void textw_text(struct textw *w, const char *s, size_t n)
{
    while (n) {
        const char *nl = memchr(s, '\n', n);
        size_t seg = nl ? (size_t)(nl - s) : n;
        if (seg) {
            line_open(w);
            if (w->space && s[0] != ' ' && w->out->len &&
                w->out->s[w->out->len - 1] != ' ')
                buf_addc(w->out, ' ');
            w->space = 0;
            buf_add(w->out, s, seg);
        }
        if (!nl) break;
        line_open(w); /* an empty line when none was open */
        textw_block(w);
        s += seg + 1;
        n -= seg + 1;
    }
}

void textw_space(struct textw *w)
{
    if (w->open && w->out->len && w->out->s[w->out->len - 1] != ' ') w->space = 1;
}

static void push_level(struct textw *w, int quote, const char *marker)
{
    GROW(w->lv, w->nlv + 1, w->caplv);
    struct textw_level *l = &w->lv[w->nlv++];
    memset(l, 0, sizeof *l);
    l->quote = (char)quote;
    if (marker) {
        size_t n = strlen(marker);
        if (n >= sizeof l->marker) n = sizeof l->marker - 1;
        memcpy(l->marker, marker, n);
    }
}

void textw_push_quote(struct textw *w) { push_level(w, 1, NULL); }

void textw_push_item(struct textw *w, const char *marker) { push_level(w, 0, marker); }

void textw_pop(struct textw *w)
{
    if (!w->nlv) return;
    struct textw_level *l = &w->lv[w->nlv - 1];
    if (!l->quote && l->marker[0]) line_open(w); /* an empty item: "-" */
    textw_block(w);
    w->nlv--;
}

unsigned textw_last(const struct textw *w)
{
    if (!w->open) return 0;
    size_t i = w->out->len;
    if (i <= w->start) return 0;
    i--;
    while (i > w->start && ((unsigned char)w->out->s[i] & 0xC0) == 0x80) i--;
    return utf8_first(w->out->s + i, w->out->len - i);
}
