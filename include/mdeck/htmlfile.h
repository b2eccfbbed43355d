/* htmlfile.h - answers saved from a browser as .html/.htm.
 *
 * The page is parsed with libxml2's HTML parser (declared encodings, <meta
 * charset> or http-equiv, are converted to UTF-8).  The main content is kept:
 * the first <article>, else the first <main>, else the element holding most
 * of the page's text (see htmlfile.c for the exact rule); navigation,
 * scripts, styles and forms are dropped; relative images become deck media. */
#ifndef MDECK_HTMLFILE_H
#define MDECK_HTMLFILE_H

#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/util.h"

/* Reads path, appends the main content as (unsanitized) HTML to html and its
 * plain text to text (either may be NULL).  rel is the path shown in
 * diagnostics; relative images are resolved against path's folder and must
 * stay inside d->dir (d may be NULL: images left as they are). Returns 0, or
 * -1 (with an error recorded) when the file cannot be read or parsed. */
int htmlfile_extract(struct deck *d, const char *path, const char *rel,
                     struct buf *html, struct buf *text, struct diags *dg);

#endif
