/* diag.h - diagnostics are values.
 *
 * Stages record what is wrong with the sources (path, line, column, severity,
 * message) and return; only a command decides what to print and which exit
 * code follows.  Output format is the compiler one editors understand:
 *     path:line:col: error: message */
#ifndef MDECK_DIAG_H
#define MDECK_DIAG_H

#include <stdio.h>
#include <stddef.h>

#include "mdeck/util.h"

enum severity { SEV_NOTE, SEV_WARNING, SEV_ERROR };

struct diag {
    enum severity sev;
    char *path;     /* may be NULL for whole-run messages */
    int line, col;  /* 0 when unknown */
    char *msg;
};

struct diags {
    struct diag *v;
    size_t n, cap;
    size_t nerrors, nwarnings;
};

void diags_init(struct diags *d);
void diags_free(struct diags *d);
void diag_add(struct diags *d, enum severity sev, const char *path, int line,
              int col, const char *fmt, ...) MDECK_PRINTF(6, 7);
/* Moves every diagnostic of src to the end of dst (src is left empty). */
void diags_move(struct diags *dst, struct diags *src);
/* Prints all diagnostics, in the order recorded, to f. */
void diags_print(const struct diags *d, FILE *f);
/* Orders diagnostics by path, line and column (stable). */
void diags_sort(struct diags *d);
const char *severity_name(enum severity s);

#endif
