/* spec_index.c - the "index" example kind of the spec files: index.md in,
 * the parsed deck (deck_dump) and its diagnostics out. */
#include <string.h>

#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/index.h"
#include "spec.h"

int spec_index(const char *input, size_t len, struct buf *out)
{
    struct deck d;
    struct diags dg;
    deck_init(&d, "deck");
    diags_init(&dg);
    int rc = index_parse_text(&d, "index.md", input, len, &dg);
    if (rc == 0) deck_dump(&d, out);
    for (size_t i = 0; i < dg.n; i++) {
        const struct diag *g = &dg.v[i];
        if (g->line)
            buf_addf(out, "%s %d:%d: %s\n", severity_name(g->sev), g->line, g->col, g->msg);
        else
            buf_addf(out, "%s: %s\n", severity_name(g->sev), g->msg);
    }
    diags_free(&dg);
    deck_free(&d);
    return 0;
}
