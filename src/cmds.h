/* cmds.h - the subcommands; each lives in src/cmd-<name>.c and is a thin
 * layer over the library: parse argv, call stages, print, pick exit code. */
#ifndef MDECK_CMDS_H
#define MDECK_CMDS_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "mdeck/text.h"

/* Exit codes (documented in mdeck(1) and the README). */
#define EXIT_OK      0  /* success (warnings allowed) */
#define EXIT_SOURCE  1  /* a source or output error: see the diagnostics */
#define EXIT_USAGE   2  /* bad command line */
#define EXIT_SYSTEM  3  /* environment: cannot watch, lock held, out of limits, no libxml2 */

int cmd_build(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* Shared by the commands: "mdeck: error: ..." to stderr and EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string of s (null for NULL) that exists whatever bytes s holds:
 * jansson refuses invalid UTF-8 (a file name, a field of a hostile
 * package), so bad bytes become U+FFFD and the output stays valid JSON. */
static inline json_t *json_text(const char *s)
{
    if (!s) return json_null();
    struct buf b = BUF_INIT;
    utf8_repair(s, strlen(s), &b);
    json_t *j = json_stringn(b.s, b.len);
    buf_release(&b);
    return j;
}

/* Prints the help text of a command (NULL: the overview) to f. */
int print_help(const char *cmd, FILE *f);

#endif
