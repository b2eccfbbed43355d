/* fuzz_apkg.c - the package reader (apkg_read, what `mdeck inspect` and
 * the previous-package comparison of every build use) on hostile files.
 *
 * The first byte chooses how the input becomes a package:
 *   even: the rest is the whole file (zip-level fuzzing);
 *   odd:  the rest is [2-byte little-endian length L][L bytes media map]
 *         [collection bytes]; the harness zips them as a well-formed
 *         package (collection.anki2, or .anki21 when bit 1 is set, the
 *         media map and two media entries), so that mutations reach the
 *         SQLite collection and the JSON map instead of dying in the zip
 *         checks.  Such a package is then also used as the previous
 *         package of a small build (apkg_build), which carries its notes
 *         over as removed ones.
 * Properties: no crash, no leak; a successful read has consistent counts. */
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "fuzz.h"
#include "mdeck/apkg.h"
#include "mdeck/index.h"

static char apkg_path[64];

static void apkg_write_raw(const uint8_t *p, size_t n)
{
    FILE *f = fopen(apkg_path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

/* A well-formed zip holding the given collection and media map. */
static int apkg_write_zip(const uint8_t *coll, size_t ncoll, const uint8_t *map, size_t nmap,
                          int anki21)
{
    unlink(apkg_path);
    int err = 0;
    zip_t *za = zip_open(apkg_path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) return -1;
    static const char m0[] = "\x89PNG media zero", m1[] = "GIF89a media one";
    struct { const char *name; const void *p; size_t n; } e[] = {
        {anki21 ? "collection.anki21" : "collection.anki2", coll, ncoll},
        {"media", map, nmap}, {"0", m0, sizeof m0 - 1}, {"1", m1, sizeof m1 - 1}};
    for (size_t i = 0; i < sizeof e / sizeof *e; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].p, e[i].n, 0);
        if (!s || zip_file_add(za, e[i].name, s, ZIP_FL_OVERWRITE) < 0) {
            zip_source_free(s);
            zip_discard(za);
            return -1;
        }
    }
    return zip_close(za) < 0 ? (zip_discard(za), -1) : 0;
}

/* A build of a two-question deck against the package as its previous one. */
static void apkg_build_against(void)
{
    static const char index[] = "# Fuzz\n\n- first question\n- second question\n";
    struct deck d;
    struct diags dg;
    deck_init(&d, "fuzzdeck");
    diags_init(&dg);
    if (index_parse_text(&d, "fuzzdeck/index.md", index, sizeof index - 1, &dg) == 0) {
        d.notes[0].id = "qfirst";
        d.notes[1].id = "qsecond";
        d.notes[1].answer.html = "<p>an answer</p>";
        d.notes[1].answer.text = "an answer";
        struct buf out = BUF_INIT;
        struct apkg_stats st;
        apkg_build(&d, apkg_path, 0, &out, &st, &dg);
        buf_release(&out);
    }
    deck_free(&d);
    diags_free(&dg);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    if (!apkg_path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(apkg_path, sizeof apkg_path, "%s/mdeck-fuzz-%ld.apkg", dir, (long)getpid());
        setenv("TMPDIR", dir, 1); /* apkg_read copies the collection there */
        setenv("MDECK_NOW", "1700000000", 1);
    }
    if (!size) return 0;
    int zipped = data[0] & 1;
    if (!zipped) {
        apkg_write_raw(data + 1, size - 1);
    } else {
        if (size < 3) return 0;
        size_t nmap = (size_t)data[1] | (size_t)data[2] << 8;
        if (nmap > size - 3) nmap = size - 3;
        if (apkg_write_zip(data + 3 + nmap, size - 3 - nmap, data + 3, nmap, data[0] & 2) < 0)
            return 0;
    }
    struct apkg_info info;
    struct diags dg;
    diags_init(&dg);
    int rc = apkg_read(apkg_path, &info, &dg);
    if (rc == 0) {
        for (size_t i = 0; i < info.nnotes; i++)
            FUZZ_CHECK(info.notes[i].guid && info.notes[i].flds && info.notes[i].tags,
                       "notes read have their text columns");
        for (size_t i = 0; i < info.nmedia; i++)
            FUZZ_CHECK(info.media_keys[i] && info.media_names[i], "media entries have names");
        apkg_info_free(&info);
        if (zipped) apkg_build_against();
    } else {
        FUZZ_CHECK(dg.nerrors > 0, "a failed read says why");
        FUZZ_CHECK(info.nnotes == 0 && info.notes == NULL, "a failed read leaves info empty");
    }
    diags_free(&dg);
    unlink(apkg_path);
    return 0;
}
