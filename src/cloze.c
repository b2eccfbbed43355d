/* cloze.c - Cloze notes (docs/format.md, "Cloze"): a question holding
 * {{c1::...}}, an answer holding {{cN::...}}, or a question with blanks
 * ("___") whose answer starts with the list of fills. */
#include "mdeck/cloze.h"

#include <stdlib.h>
#include <string.h>

#include "mdeck/render.h"
#include "mdeck/util.h"

/* Blanks: runs of three or more '_', or of two or more U+FF3F (which
 * starts with byte 0xEF: checked first, as every question passes here). */
static size_t count_blanks(const char *s)
{
    size_t n = 0;
    while (*s) {
        size_t run = 0;
        while (s[run] == '_') run++;
        if (run >= 3) { n++; s += run; continue; }
        if ((unsigned char)*s == 0xEF && str_starts_with(s, "＿＿")) {
            n++;
            while (str_starts_with(s, "＿")) s += 3;
            continue;
        }
        s++;
    }
    return n;
}

/* Items of the list the answer starts with ("1. x" / "- x" lines). */
static size_t leading_list(const char *md, char ***items, const char **rest)
{
    size_t n = 0, cap = 0;
    *items = NULL;
    const char *s = md;
    while (*s == '\n' || *s == '\r' || *s == ' ') s++;
    for (;;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *t = s;
        if (*t >= '0' && *t <= '9') {
            while (*t >= '0' && *t <= '9') t++;
            if (*t != '.' && *t != ')') break;
            t++;
        } else if (*t == '-' || *t == '*' || *t == '+') {
            t++;
        } else {
            break;
        }
        if (*t != ' ' && *t != '\t') break;
        while (*t == ' ' || *t == '\t') t++;
        size_t l = len - (size_t)(t - s);
        while (l && (t[l - 1] == '\r' || t[l - 1] == ' ')) l--;
        GROW(*items, n + 1, cap);
        (*items)[n++] = xstrndup(t, l);
        s = e ? e + 1 : s + len;
    }
    *rest = s;
    return n;
}

void cloze_make(struct deck *d, struct note *n, struct arena *raw, struct diags *dg)
{
    if (strstr(n->question, "{{c")) {
        n->cloze = 1;
        n->cloze_html = n->front_html;
        n->cloze_text = n->question;
        return;
    }
    if (n->answer.html && strstr(n->answer.md ? n->answer.md : "", "{{c")) {
        n->cloze = 1;
        n->cloze_html = arena_printf(raw, "<div class=\"question\">%s</div>%s", n->front_html, n->answer.html);
        n->cloze_text = n->question;
        n->answer.html = "";
        n->answer.canonical = 0;
        return;
    }
    size_t blanks = count_blanks(n->question);
    if (!blanks || !n->answer.md) return;
    char **fills;
    const char *rest;
    size_t nf = leading_list(n->answer.md, &fills, &rest);
    const char *index_path = arena_printf(&d->arena, "%s/index.md", d->dir);
    if (nf != blanks) {
        if (nf)
            diag_add(dg, SEV_WARNING, index_path, n->line, n->col,
                     "question has %zu blanks but its answer starts with a list of %zu items; "
                     "list exactly one fill per blank to make a cloze card", blanks, nf);
    } else {
        struct buf html = BUF_INIT, text = BUF_INIT;
        const char *s = n->front_html;
        const char *q = n->question;
        size_t k = 0;
        /* front_html is the escaped question: blanks appear in it unchanged */
        while (*s) {
            size_t run = 0;
            while (s[run] == '_') run++;
            int wide = str_starts_with(s, "＿＿");
            if ((run >= 3 || wide) && k < nf) {
                buf_addf(&html, "{{c%zu::", k + 1);
                /* "}}" inside a fill would end the deletion early */
                for (const char *f = fills[k]; *f; f++) {
                    if (f[0] == '}' && f[1] == '}') buf_adds(&html, "} ");
                    else buf_add_html_escaped(&html, f, 1);
                }
                buf_adds(&html, "}}");
                if (wide) while (str_starts_with(s, "＿")) s += 3;
                else s += run;
                k++;
                continue;
            }
            buf_addc(&html, *s++);
        }
        k = 0;
        while (*q) {
            size_t run = 0;
            while (q[run] == '_') run++;
            int wide = str_starts_with(q, "＿＿");
            if ((run >= 3 || wide) && k < nf) {
                buf_adds(&text, fills[k++]);
                if (wide) while (str_starts_with(q, "＿")) q += 3;
                else q += run;
                continue;
            }
            buf_addc(&text, *q++);
        }
        n->cloze = 1;
        n->cloze_html = arena_strndup(raw, html.s, html.len);
        n->cloze_text = arena_strndup(&d->arena, text.s, text.len);
        /* Extra: the answer after the list of fills */
        const char *base = n->answer.md;
        size_t off = (size_t)(rest - base);
        struct buf xh = BUF_INIT, xt = BUF_INIT;
        struct render_ctx rc = {.deck = d, .path = index_path, .base_dir = d->dir,
                                .first_line = n->answer.line, .canonical = &n->answer.canonical};
        render_markdown(&rc, base + off, strlen(base + off), &xh, &xt, dg);
        n->answer.html = arena_strndup(raw, xh.s, xh.len);
        buf_release(&xh);
        buf_release(&xt);
        buf_release(&html);
        buf_release(&text);
    }
    for (size_t i = 0; i < nf; i++) free(fills[i]);
    free(fills);
}
