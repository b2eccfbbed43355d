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

/* Raw HTML written inside markdown may hold <img> tags (people size images
 * with <img width>): appends html[0..n) to out with the src of each such tag
 * passed through image_resolve() (render.h) - rewritten to the media name,
 * kept, or the whole tag left out when it leaves the deck folder.  line and
 * col are where html starts in path.  Everything else is copied as is. */
void html_rewrite_images(struct deck *d, const char *base_dir, const char *html, size_t n,
                         const char *path, int line, int col, struct diags *dg, struct buf *out);

/* The value of attribute name (ASCII, lower case) in the start tag
 * tag[0..n) ("<img src=x alt='y'>"), appended to value as written (no
 * entity decoding).  Returns 1 when the tag has it, else 0. */
int html_tag_attr(const char *tag, size_t n, const char *name, struct buf *value);

#endif
