/* fuzz_frontmatter.c - front matter: fm_split, fm_parse (libyaml to
 * jansson) and fm_deck_options on any bytes: no crash, no leak, and a
 * block that fm_split finds lies inside the input. */
#include <string.h>

#include "fuzz.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/frontmatter.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *yaml = NULL;
    size_t ylen = 0, boff = 0;
    int bline = 0;
    struct diags dg;
    diags_init(&dg);
    int fm = fm_split(s, size, "index.md", &yaml, &ylen, &boff, &bline, &dg);
    if (fm <= 0) {
        /* Also feed the whole input as YAML: fm_parse is the bigger surface. */
        yaml = s;
        ylen = size;
    } else {
        FUZZ_CHECK(yaml >= s && yaml + ylen <= s + size && boff <= size && bline >= 2,
                   "the front matter block lies inside the input");
    }
    json_t *j = fm_parse(yaml, ylen, "index.md", 2, &dg);
    if (j) {
        FUZZ_CHECK(json_is_object(j), "front matter is a mapping");
        struct deck d;
        deck_init(&d, "deck");
        fm_deck_options(&d, j, yaml, ylen, "index.md", 2, &dg);
        for (size_t i = 0; i < d.opt.nprefixes; i++)
            FUZZ_CHECK(d.opt.prefixes[i].prefix != NULL, "prefix rules have a prefix");
        for (size_t i = 0; i < d.opt.ntags; i++)
            FUZZ_CHECK(!strchr(d.opt.tags[i], ' '), "deck tags hold no space");
        deck_free(&d);
        json_decref(j);
    }
    diags_free(&dg);
    return 0;
}
