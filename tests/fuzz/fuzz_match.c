/* fuzz_match.c - the whole source stage (deck_load: index, identities,
 * answer matching, rendering, HTML answer files, sanitizing) and the text
 * writers, on a deck folder made from the input.
 *
 * The input is split at NUL bytes into up to five files (a missing part is
 * a missing file): index.md, answers/a.md, answers/sub/b.md,
 * answers/c.html and mdeck.lock.  The folder lives in /dev/shm (a tmpfs:
 * no disk I/O per run) and also holds img/dot.png, a real image, and
 * img/out.png, a symbolic link to a file outside the deck.  Properties:
 *   - no crash, no leak;
 *   - every media file registered lies inside the deck folder (no path
 *     escape, whatever the links and image references say);
 *   - every answer is sanitized: sanitizing it again changes nothing. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "mdeck/build.h"
#include "mdeck/sanitize.h"
#include "mdeck/textout.h"

static char match_root[PATH_MAX]; /* the deck folder, resolved */

static void match_put(const char *dir, const char *name, const char *p, size_t n, int present)
{
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path) abort();
    if (!present) {
        unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) abort();
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) abort();
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

static char match_base[128]; /* the folder holding it (fuzz_scratch) */

static const char *match_setup(void)
{
    if (match_root[0]) return match_root;
    static const char *const dirs[] = {"deck", "deck/answers", "deck/answers/sub", "deck/img"};
    fuzz_scratch(match_base, "match", dirs, sizeof dirs / sizeof *dirs);
    const char *base = match_base;
    char deck[192];
    snprintf(deck, sizeof deck, "%s/deck", base);
    static const char png[] = "\x89PNG\r\n\x1a\nnot really an image";
    match_put(deck, "img/dot.png", png, sizeof png - 1, 1);
    match_put(base, "outside.png", png, sizeof png - 1, 1);
    char link[256], target[256];
    snprintf(link, sizeof link, "%s/img/out.png", deck);
    snprintf(target, sizeof target, "%s/outside.png", base);
    unlink(link);
    if (symlink(target, link) < 0) abort();
    if (!realpath(deck, match_root)) abort();
    return match_root;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    const char *deck = match_setup();
    static const char *const names[] = {"index.md", "answers/a.md", "answers/sub/b.md",
                                        "answers/c.html", "mdeck.lock"};
    const char *p = (const char *)data, *end = p + size;
    int more = 1; /* index.md always exists; each NUL starts the next file */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!more) {
            match_put(deck, names[i], NULL, 0, 0);
            continue;
        }
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
        match_put(deck, names[i], p, n, 1);
        if (nul) p = nul + 1;
        else more = 0;
    }

    struct deck d;
    struct diags dg;
    diags_init(&dg);
    struct build_opts o = {.dry_run = 1};
    int rc = deck_load(&d, deck, &o, &dg);
    for (size_t i = 0; i < d.nmedia; i++) {
        size_t n = strlen(match_root);
        FUZZ_CHECK(!strncmp(d.media[i].path, match_root, n) && d.media[i].path[n] == '/',
                   "media files lie inside the deck folder");
    }
    if (rc == 0 && !d.opt.unsafe_html) {
        for (size_t i = 0; i < d.nnotes; i++) {
            const char *h = d.notes[i].answer.html;
            if (!h) continue;
            struct buf again = BUF_INIT;
            sanitize_html(h, strlen(h), &again);
            FUZZ_CHECK(!strcmp(again.s, h), "answers are sanitized");
            buf_release(&again);
        }
    }
    if (rc == 0) {
        struct buf out = BUF_INIT;
        csv_build(&d, 0, &out, &dg);
        buf_reset(&out);
        quizlet_build(&d, 1, &out, &dg);
        buf_release(&out);
    }
    deck_free(&d);
    diags_free(&dg);
    return 0;
}
