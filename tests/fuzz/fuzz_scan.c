/* fuzz_scan.c - an answer file's sections: the line scan (md4c given only
 * the lines that can be headings) and md4c over the whole file must find
 * the same headings, titles, lines and bodies for any valid UTF-8 text.
 * The line scan may decline a file; it must never differ on one it takes. */
#include <string.h>

#include "../../src/answers-int.h"
#include "fuzz.h"
#include "mdeck/text.h"

static void scan_file(struct file *f, const uint8_t *data, size_t size, int fast, int *lined)
{
    memset(f, 0, sizeof *f);
    buf_init(&f->src);
    buf_add(&f->src, data, size);
    *lined = answers_scan(f, 3, 0, fast);
}

static void drop_file(struct file *f)
{
    for (size_t i = 0; i < f->nls; i++) {
        free(f->ls[i].title);
        free(f->ls[i].slug);
    }
    free(f->ls);
    buf_release(&f->src);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    /* mdeck refuses files that are not UTF-8 or hold a NUL before scanning */
    if (utf8_check((const char *)data, size, NULL) < 0) return 0;
    struct file a, b;
    int la, lb;
    scan_file(&a, data, size, 0, &la);
    scan_file(&b, data, size, 1, &lb);
    FUZZ_CHECK(la == 0, "the whole parse is used when the line scan is not asked for");
    FUZZ_CHECK(a.nls == b.nls, "the line scan finds as many sections as md4c");
    for (size_t i = 0; i < a.nls && i < b.nls; i++) {
        const struct section *x = &a.ls[i], *y = &b.ls[i];
        FUZZ_CHECK(x->level == y->level && x->line == y->line && !strcmp(x->title, y->title) &&
                       !strcmp(x->slug, y->slug) && x->body == y->body &&
                       x->body_end == y->body_end && x->body_line == y->body_line,
                   "the line scan's sections are md4c's");
    }
    drop_file(&a);
    drop_file(&b);
    return 0;
}
