/* diag.c - recording and printing diagnostics. */
#include "mdeck/diag.h"

#include <stdlib.h>
#include <string.h>

void diags_init(struct diags *d) { memset(d, 0, sizeof *d); }

void diags_free(struct diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].path);
        free(d->v[i].msg);
    }
    free(d->v);
    diags_init(d);
}

void diag_add(struct diags *d, enum severity sev, const char *path, int line,
              int col, const char *fmt, ...)
{
    GROW(d->v, d->n + 1, d->cap);
    struct diag *g = &d->v[d->n++];
    g->sev = sev;
    g->path = path ? xstrdup(path) : NULL;
    g->line = line;
    g->col = col;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    g->msg = buf_detach(&b);
    if (sev == SEV_ERROR) d->nerrors++;
    if (sev == SEV_WARNING) d->nwarnings++;
}

void diags_move(struct diags *dst, struct diags *src)
{
    for (size_t i = 0; i < src->n; i++) {
        GROW(dst->v, dst->n + 1, dst->cap);
        dst->v[dst->n++] = src->v[i];
    }
    dst->nerrors += src->nerrors;
    dst->nwarnings += src->nwarnings;
    free(src->v);
    diags_init(src);
}

const char *severity_name(enum severity s)
{
    switch (s) {
    case SEV_ERROR: return "error";
    case SEV_WARNING: return "warning";
    default: return "note";
    }
}

void diags_print(const struct diags *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *g = &d->v[i];
        if (g->path && g->line)
            fprintf(f, "%s:%d:%d: ", g->path, g->line, g->col ? g->col : 1);
        else if (g->path)
            fprintf(f, "%s: ", g->path);
        else
            fputs("mdeck: ", f);
        fprintf(f, "%s: %s\n", severity_name(g->sev), g->msg);
    }
}

static int cmp_diag(const void *a, const void *b)
{
    const struct diag *x = a, *y = b;
    int c = strcmp(x->path ? x->path : "", y->path ? y->path : "");
    if (c) return c;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

struct ranked {
    struct diag g;
    size_t i; /* recording order: breaks ties, which makes the sort stable */
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = cmp_diag(&x->g, &y->g);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

void diags_sort(struct diags *d)
{
    /* qsort with the recording order as the last key: stable and
     * O(n log n).  (An insertion sort took minutes on the millions of
     * notes a hostile deck can cause.) */
    if (d->n < 2) return;
    struct ranked *v = xmalloc(d->n * sizeof *v);
    for (size_t i = 0; i < d->n; i++) {
        v[i].g = d->v[i];
        v[i].i = i;
    }
    qsort(v, d->n, sizeof *v, cmp_ranked);
    for (size_t i = 0; i < d->n; i++) d->v[i] = v[i].g;
    free(v);
}
