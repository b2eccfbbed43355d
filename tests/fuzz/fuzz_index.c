/* fuzz_index.c - the index parser (index_parse_text) on any bytes: no
 * crash, no leak, and a parse that succeeds yields notes with text. */
#include <string.h>

#include "fuzz.h"
#include "mdeck/deck.h"
#include "mdeck/diag.h"
#include "mdeck/index.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct deck d;
    struct diags dg;
    deck_init(&d, "deck");
    diags_init(&dg);
    char *src = fuzz_slice(data, size);
    int rc = index_parse_text(&d, "deck/index.md", src, size, &dg);
    if (rc == 0) {
        FUZZ_CHECK(d.nnotes > 0, "a successful parse has questions");
        for (size_t i = 0; i < d.nnotes; i++)
            FUZZ_CHECK(d.notes[i].question && *d.notes[i].key && d.notes[i].deck,
                       "every note has a question, a key and a deck");
        struct buf dump = BUF_INIT;
        deck_dump(&d, &dump);
        buf_release(&dump);
    } else {
        FUZZ_CHECK(dg.nerrors > 0, "a failed parse says why");
    }
    deck_free(&d);
    diags_free(&dg);
    free(src);
    return 0;
}
