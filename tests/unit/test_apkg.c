/* test_apkg.c - the Anki package writer and reader.
 *
 * Packages are built from decks made in C, written to a temporary folder and
 * read back with libzip and sqlite3 directly (not only through apkg_read), so
 * that a bug shared by writer and reader cannot hide.  The independent
 * Python checker (tests/tools/apkg_check.py) runs on the packages too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "mdeck/anki-model.h"
#include "mdeck/apkg.h"
#include "scratch.h"
#include "mdeck/deck.h"
#include "mdeck/hash.h"
#include "mdeck/util.h"

/* Times the tests build at (MDECK_NOW): all in the past. */
#define T0 1790000000LL
#define DAY 86400LL

/* --- recorded note-type fingerprints ------------------------------------ */

/* When this test fails, the CSS or a template of a note type changed.  Bump
 * that model's MODEL_MOD_* in src/anki-model.c to the current time and
 * record the new fingerprint AND the new mod here: importers replace a note
 * type only when the package's mod is newer, so without the bump users keep
 * the old look forever. */
static const struct {
    int64_t id, mod;
    const char *fingerprint;
} recorded[] = {
    {MDECK_MODEL_BASIC, 1795942700,
     "dc7ee01c39e6008569c020ef4713671c48b0d98c7d1aa053acf46291f54eccc0"},
    {MDECK_MODEL_REVERSED, 1795942700,
     "8285c8e9fc8ad8052db7f617dbbd6fa8922facc1d08788b09d9ed75a37256947"},
    {MDECK_MODEL_CLOZE, 1795942700,
     "2ba8c093b0f1438fdae6b5360b391828a1ae7fb0e47f0166a7580c0c0c19e554"},
};


static char tmpdir[4096];

static char *tmp_path(const char *name) { return xasprintf("%s/%s", tmpdir, name); }

static int group_setup(void **state)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mdeck-test-apkg-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) return -1;
    char *deckdir = tmp_path("mydeck");
    mkdir(deckdir, 0755);
    free(deckdir);
    char *p = tmp_path("mydeck/dot.PNG");
    scratch_write_bytes(p, scratch_png, scratch_png_size);
    free(p);
    return 0;
}

static int group_teardown(void **state)
{
    if (!getenv("MDECK_KEEP_TMP")) {
        char *cmd = xasprintf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
        free(cmd);
    }
    return 0;
}

/* --- the test deck ------------------------------------------------------ */

enum { N_BASIC = 0, N_UNANSWERED, N_CLOZE, N_IMAGE, N_COUNT };

/* Top (description) and Top::Sub, a basic note with two sources and tags, an
 * unanswered basic note, a cloze note with c1 and c3, and a note whose
 * answer shows the PNG. */
static void make_deck_in(struct deck *d, int with_sub)
{
    char *dir = tmp_path("mydeck");
    deck_init(d, dir);
    free(dir);
    d->name = "Top";
    d->desc_html = "<p>The <b>top</b> deck</p>";
    static const char *deck_tags[] = {"course", "has space"};
    d->opt.tags = deck_tags;
    d->opt.ntags = 2;
    deck_add_deck_name(d, "Top");
    if (with_sub) deck_add_deck_name(d, "Top::Sub");
    const char *sub = with_sub ? "Top::Sub" : "Top";
    char *png_path = tmp_path("mydeck/dot.PNG");
    const char *media = deck_add_media(d, png_path);
    free(png_path);
    assert_non_null(media);

    struct note *n = deck_add_note(d);
    n->id = "q-attention";
    n->question = "What is attention?";
    n->front_html = "What is <b>attention</b>? &amp; why";
    n->key = "whatisattention";
    n->deck = "Top";
    n->line = 3;
    n->answer.html = "<p>Weights \\(softmax(QK^T)\\)\x01 over values</p>";
    note_add_source(d, n, "https://example.com/a?x=1&y=<2>");
    note_add_source(d, n, "https://example.org/b");
    note_add_tag(d, n, "ml");
    note_add_tag(d, n, "attention");

    n = deck_add_note(d);
    n->id = "q-unanswered";
    n->question = "Why?";
    n->front_html = "Why?";
    n->deck = sub;
    n->line = 4;

    n = deck_add_note(d);
    n->id = "q-cloze";
    n->question = "The cat sat on the mat";
    n->cloze = 1;
    n->cloze_html = "The {{c1::cat}} sat on the {{c3::mat}}, {{c1::again}}";
    n->front_html = "The cat sat on the mat";
    n->deck = sub;
    n->answer.html = "<p>extra</p>";
    n->line = 5;

    n = deck_add_note(d);
    n->id = "q-image";
    n->question = "A picture";
    n->front_html = "<img src=\"pic.png\"> A picture";
    n->deck = sub;
    n->answer.html = arena_printf(&d->arena, "<p><img src=\"%s\"></p>", media);
    n->line = 6;
}

static void make_deck(struct deck *d) { make_deck_in(d, 1); }

/* Removes note i from d (as if its item was deleted from the index). */
static void drop_note(struct deck *d, size_t i)
{
    memmove(&d->notes[i], &d->notes[i + 1], (d->nnotes - i - 1) * sizeof *d->notes);
    d->nnotes--;
}

/* --- reading packages back directly ------------------------------------- */

static void build(const struct deck *d, const char *prev, int answered_only,
                  struct buf *out, struct apkg_stats *st)
{
    struct diags dg;
    diags_init(&dg);
    buf_reset(out);
    int rc = apkg_build(d, prev, answered_only, out, st, &dg);
    if (rc != 0 || dg.nerrors) diags_print(&dg, stderr);
    assert_int_equal(rc, 0);
    assert_int_equal(dg.nerrors, 0);
    diags_free(&dg);
    assert_true(out->len > 0);
}

static void build_file(const struct deck *d, const char *path, int answered_only,
                       struct apkg_stats *st)
{
    struct buf b = BUF_INIT;
    build(d, path, answered_only, &b, st);
    scratch_write_bytes(path, b.s, b.len);
    buf_release(&b);
}

struct pkg {
    zip_t *za;
    sqlite3 *db;
    char *dbpath;
};

static void pkg_open(struct pkg *p, const char *path)
{
    int err = 0;
    p->za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    assert_non_null(p->za);
    zip_int64_t i = zip_name_locate(p->za, "collection.anki2", 0);
    assert_true(i >= 0);
    zip_stat_t st;
    assert_int_equal(zip_stat_index(p->za, (zip_uint64_t)i, 0, &st), 0);
    char *data = xmalloc(st.size);
    zip_file_t *zf = zip_fopen_index(p->za, (zip_uint64_t)i, 0);
    assert_non_null(zf);
    assert_int_equal(zip_fread(zf, data, st.size), (zip_int64_t)st.size);
    zip_fclose(zf);
    p->dbpath = tmp_path("check.anki2");
    scratch_write_bytes(p->dbpath, data, st.size);
    free(data);
    assert_int_equal(sqlite3_open_v2(p->dbpath, &p->db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
}

static void pkg_close(struct pkg *p)
{
    sqlite3_close(p->db);
    unlink(p->dbpath);
    free(p->dbpath);
    zip_discard(p->za);
}

static int64_t q_int(sqlite3 *db, const char *fmt, ...)
{
    struct buf sql = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&sql, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql.s, -1, &st, NULL)) fail_msg("%s: %s", sql.s, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_release(&sql);
    return v;
}

static char *q_text(sqlite3 *db, const char *fmt, ...)
{
    struct buf sql = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&sql, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql.s, -1, &st, NULL)) fail_msg("%s: %s", sql.s, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = xstrdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    buf_release(&sql);
    return v;
}

static json_t *q_json(sqlite3 *db, const char *column)
{
    char *s = q_text(db, "SELECT %s FROM col", column);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j) fail_msg("col.%s is not JSON: %s", column, je.text);
    free(s);
    return j;
}

static void assert_keys(json_t *o, const char *what, const char *const *keys)
{
    if (!json_is_object(o)) fail_msg("%s is not an object", what);
    for (; *keys; keys++)
        if (!json_object_get(o, *keys)) fail_msg("%s has no key '%s'", what, *keys);
}

static void assert_columns(sqlite3 *db, const char *table, const char *const *cols)
{
    sqlite3_stmt *st;
    char *sql = xasprintf("PRAGMA table_info(%s)", table);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    size_t i = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (!cols[i]) fail_msg("%s has an extra column %s", table, name);
        if (strcmp(name, cols[i])) fail_msg("%s column %zu is %s, not %s", table, i, name, cols[i]);
        assert_int_equal(sqlite3_column_int(st, 3), 1); /* NOT NULL */
        i++;
    }
    if (cols[i]) fail_msg("%s lacks column %s", table, cols[i]);
    sqlite3_finalize(st);
    free(sql);
}

/* The note's fields split on 0x1F. */
static size_t split(const char *flds, char **v, size_t max)
{
    size_t n = 0;
    for (const char *s = flds;;) {
        const char *e = strchr(s, '\x1f');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (n < max) v[n] = xstrndup(s, len);
        n++;
        if (!e) return n;
        s = e + 1;
    }
}

static void run_checker(const char *path)
{
    const char *top = getenv("MDECK_TOP");
    char *cmd = xasprintf("python3 '%s/tests/tools/apkg_check.py' -q '%s'",
                          top && *top ? top : ".", path);
    int rc = system(cmd);
    if (rc != 0) fail_msg("apkg_check.py failed on %s (%d)", path, rc);
    free(cmd);
}

static char *note_guid_of(const struct deck *d, size_t i)
{
    char g[12];
    note_guid(d, &d->notes[i], g);
    return xstrdup(g);
}

/* --- tests ----------------------------------------------------------------- */

static void test_csum_and_strip(void **state)
{
    assert_int_equal(anki_csum("test"), 2840236005u);
    assert_int_equal(anki_csum("<b>test</b>"), 2840236005u);
    static const char *cases[][2] = {
        {"a <b>b</b> c", "a b c"},
        {"x<img class=\"a\" src=\"pic.png\">y", "x pic.png y"},
        {"<IMG alt=1 SRC='p q.jpg' >", " p q.jpg "},
        {"<img src=\"\">z", "z"},
        {"a<!-- <b>hidden</b> -->b", "ab"},
        {"a<style type=\"t\">p{}</style>b<script>x<y</script>c", "abc"},
        {"&lt;b&gt; &amp;amp; &#65;&#x42;&#X43; &eacute; &nbsp;|\xc2\xa0|", "<b> &amp; ABC \xc3\xa9  | |"},
        {"&bogus; &#0; &#xD800; &#1114112; &amp", "&bogus; &#0; &#xD800; &#1114112; &amp"},
        {"  keep  spaces  ", "  keep  spaces  "},
        {"a < b", "a < b"},
        {"1 <2> 3 <unclosed", "1  3 <unclosed"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct buf b = BUF_INIT;
        anki_strip_html(cases[i][0], &b);
        if (strcmp(b.s, cases[i][1]))
            fail_msg("strip(%s) = [%s], want [%s]", cases[i][0], b.s, cases[i][1]);
        buf_release(&b);
    }
}

static void test_model_fingerprints(void **state)
{
    int bad = 0;
    assert_int_equal(anki_nmodels, ARRAY_LEN(recorded));
    for (size_t i = 0; i < anki_nmodels; i++) {
        const struct anki_model *m = anki_models[i];
        char fp[65];
        anki_model_fingerprint(m, fp);
        assert_true(m->id == recorded[i].id);
        if (strcmp(fp, recorded[i].fingerprint) || m->mod != recorded[i].mod) {
            fprintf(stderr,
                    "CSS or templates changed: bump MODEL_MOD and update the "
                    "recorded hash (%s: mod %lld, fingerprint %s)\n",
                    m->name, (long long)m->mod, fp);
            bad = 1;
        }
        /* A bump is to the time of the change: never in the future. */
        assert_true(m->mod <= (int64_t)time(NULL));
    }
    if (bad)
        fail_msg("CSS or templates changed: bump MODEL_MOD and update the recorded hash");
}

/* The schema of the note types never changes: ids, names, fields, template
 * names (changing any of them orphans every user's notes). */
static void test_model_schema_fixed(void **state)
{
    const struct anki_model *b = anki_model_find(MDECK_MODEL_BASIC);
    const struct anki_model *r = anki_model_find(MDECK_MODEL_REVERSED);
    const struct anki_model *c = anki_model_find(MDECK_MODEL_CLOZE);
    assert_non_null(b);
    assert_non_null(r);
    assert_non_null(c);
    assert_string_equal(b->name, "mdeck Basic");
    assert_string_equal(r->name, "mdeck Basic+Reversed");
    assert_string_equal(c->name, "mdeck Cloze");
    const char *bf[] = {"Question", "Answer", "Source"};
    const char *cf[] = {"Text", "Extra", "Source"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(b->fields[i], bf[i]);
        assert_string_equal(r->fields[i], bf[i]);
        assert_string_equal(c->fields[i], cf[i]);
    }
    assert_int_equal(b->nfields, 3);
    assert_int_equal(r->nfields, 3);
    assert_int_equal(c->nfields, 3);
    assert_int_equal(b->ntmpls, 1);
    assert_int_equal(r->ntmpls, 2);
    assert_int_equal(c->ntmpls, 1);
    assert_string_equal(b->tmpls[0].name, "Card 1");
    assert_string_equal(r->tmpls[0].name, "Card 1");
    assert_string_equal(r->tmpls[1].name, "Card 2");
    assert_string_equal(c->tmpls[0].name, "Cloze");
    assert_int_equal(c->type, ANKI_MODEL_CLOZE);
    /* L tries id+1 on a schema clash: no two of ours may be adjacent. */
    assert_true(r->id - b->id > 1 && c->id - r->id > 1);
    /* Source shown only when present; MathJax untouched. */
    assert_non_null(strstr(b->tmpls[0].afmt, "{{#Source}}"));
    assert_non_null(strstr(c->css, ".cloze"));
    assert_non_null(strstr(b->css, ".nightMode"));
    assert_non_null(strstr(b->css, ".night_mode"));
    assert_non_null(strstr(b->css, "PingFang SC"));
    assert_non_null(strstr(b->css, "Noto Sans CJK SC"));
    assert_non_null(strstr(b->css, "Microsoft YaHei"));
}

static void test_card_ords(void **state)
{
    const struct anki_model *c = anki_model_find(MDECK_MODEL_CLOZE);
    const struct anki_model *r = anki_model_find(MDECK_MODEL_REVERSED);
    int ords[ANKI_MAX_CLOZE];
    const char *f1[] = {"{{c3::a}} {{c1::b::hint}} {{c3::c}} {{c0::x}} {{c2::}}", "", ""};
    size_t n = anki_card_ords(c, f1, ords);
    assert_int_equal(n, 2);
    assert_int_equal(ords[0], 0);
    assert_int_equal(ords[1], 2);
    const char *f2[] = {"no cloze", "", ""};
    assert_int_equal(anki_card_ords(c, f2, ords), 1);
    assert_int_equal(ords[0], 0);
    const char *f3[] = {"q", "", ""};
    assert_int_equal(anki_card_ords(r, f3, ords), 1);
    const char *f4[] = {"q", "a", ""};
    assert_int_equal(anki_card_ords(r, f4, ords), 2);
    assert_int_equal(ords[1], 1);
}

static void test_package_layout(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    char *path = tmp_path("layout.apkg");
    unlink(path);
    struct apkg_stats st;
    build_file(&d, path, 0, &st);
    assert_int_equal(st.notes, N_COUNT);
    assert_int_equal(st.added, N_COUNT);
    assert_int_equal(st.changed + st.removed, 0);

    struct pkg p;
    pkg_open(&p, path);
    /* zip entries: collection (deflated), map, media 0 (stored); nothing else */
    assert_int_equal(zip_get_num_entries(p.za, 0), 3);
    zip_stat_t zs;
    assert_int_equal(zip_stat(p.za, "collection.anki2", 0, &zs), 0);
    assert_int_equal(zs.comp_method, ZIP_CM_DEFLATE);
    assert_int_equal(zip_stat(p.za, "0", 0, &zs), 0);
    assert_int_equal(zs.comp_method, ZIP_CM_STORE);
    assert_int_equal(zs.size, scratch_png_size);
    assert_true(zip_name_locate(p.za, "collection.anki21", 0) < 0);
    assert_true(zip_name_locate(p.za, "meta", 0) < 0);
    zip_file_t *zf = zip_fopen(p.za, "media", 0);
    assert_non_null(zf);
    char mb[512] = "";
    assert_true(zip_fread(zf, mb, sizeof mb - 1) > 0);
    zip_fclose(zf);
    json_t *map = json_loads(mb, 0, NULL);
    assert_true(json_is_object(map));
    assert_int_equal(json_object_size(map), 1);
    assert_string_equal(json_string_value(json_object_get(map, "0")), d.media[0].name);
    json_decref(map);

    sqlite3 *db = p.db;
    /* schema 11 */
    static const char *const col_cols[] = {"id", "crt", "mod", "scm", "ver", "dty", "usn",
                                           "ls", "conf", "models", "decks", "dconf", "tags", NULL};
    static const char *const note_cols[] = {"id", "guid", "mid", "mod", "usn", "tags",
                                            "flds", "sfld", "csum", "flags", "data", NULL};
    static const char *const card_cols[] = {"id", "nid", "did", "ord", "mod", "usn", "type",
                                            "queue", "due", "ivl", "factor", "reps", "lapses",
                                            "left", "odue", "odid", "flags", "data", NULL};
    static const char *const revlog_cols[] = {"id", "cid", "usn", "ease", "ivl", "lastIvl",
                                              "factor", "time", "type", NULL};
    static const char *const graves_cols[] = {"usn", "oid", "type", NULL};
    assert_columns(db, "col", col_cols);
    assert_columns(db, "notes", note_cols);
    assert_columns(db, "cards", card_cols);
    assert_columns(db, "revlog", revlog_cols);
    assert_columns(db, "graves", graves_cols);
    static const char *const indexes[] = {"ix_notes_usn", "ix_cards_usn", "ix_revlog_usn",
                                          "ix_cards_nid", "ix_cards_sched", "ix_revlog_cid",
                                          "ix_notes_csum"};
    for (size_t i = 0; i < ARRAY_LEN(indexes); i++)
        assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type='index' "
                                   "AND name='%s'", indexes[i]), 1);
    char *jm = q_text(db, "PRAGMA journal_mode");
    assert_string_not_equal(jm, "wal");
    free(jm);
    assert_int_equal(q_int(db, "SELECT count(*) FROM col"), 1);
    assert_int_equal(q_int(db, "SELECT ver FROM col"), 11);
    assert_int_equal(q_int(db, "SELECT id FROM col"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM revlog"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM graves"), 0);
    char *tags = q_text(db, "SELECT tags FROM col");
    assert_string_equal(tags, "{}");
    free(tags);

    /* col JSON: keys both importers need */
    json_t *conf = q_json(db, "conf");
    static const char *const conf_keys[] = {"activeDecks", "curDeck", "curModel", "nextPos",
                                            "sortType", NULL};
    assert_keys(conf, "conf", conf_keys);
    json_t *dconf = q_json(db, "dconf");
    static const char *const dconf_keys[] = {"id", "mod", "name", "usn", "maxTaken", "autoplay",
                                             "timer", "new", "rev", "lapse", NULL};
    assert_keys(json_object_get(dconf, "1"), "dconf 1", dconf_keys);
    assert_non_null(json_object_get(json_object_get(json_object_get(dconf, "1"), "new"), "perDay"));
    assert_non_null(json_object_get(json_object_get(json_object_get(dconf, "1"), "rev"), "perDay"));

    json_t *decks = q_json(db, "decks");
    static const char *const deck_keys[] = {"id", "name", "desc", "mod", "usn", "dyn", "conf",
                                            "collapsed", "newToday", "revToday", "lrnToday",
                                            "timeToday", NULL};
    assert_string_equal(json_string_value(json_object_get(json_object_get(decks, "1"), "name")),
                        "Default");
    const char *key;
    json_t *dk;
    int found_top = 0, found_sub = 0;
    int64_t top_id = 0;
    json_object_foreach(decks, key, dk) {
        assert_keys(dk, "deck", deck_keys);
        assert_int_equal(strtoll(key, NULL, 10), json_integer_value(json_object_get(dk, "id")));
        assert_true(json_is_boolean(json_object_get(dk, "collapsed")));
        assert_int_equal(json_array_size(json_object_get(dk, "newToday")), 2);
        const char *name = json_string_value(json_object_get(dk, "name"));
        if (!strcmp(name, "Top")) {
            found_top = 1;
            top_id = json_integer_value(json_object_get(dk, "id"));
            assert_string_equal(json_string_value(json_object_get(dk, "desc")), d.desc_html);
            assert_int_equal(top_id, apkg_deck_id("Top"));
        }
        if (!strcmp(name, "Top::Sub")) found_sub = 1;
        /* every ancestor present */
        for (const char *c = strstr(name, "::"); c; c = strstr(c + 2, "::")) {
            int found = 0;
            const char *k2;
            json_t *d2;
            json_object_foreach(decks, k2, d2)
                found |= !strncmp(json_string_value(json_object_get(d2, "name")), name,
                                  (size_t)(c - name)) &&
                         strlen(json_string_value(json_object_get(d2, "name"))) ==
                             (size_t)(c - name);
            assert_true(found);
        }
    }
    assert_true(found_top && found_sub);
    assert_true(top_id != 1 && top_id >= 1000000000000LL && top_id < 1500000000000LL);

    json_t *models = q_json(db, "models");
    static const char *const model_keys[] = {"id", "name", "type", "mod", "usn", "sortf",
                                             "did", "tmpls", "flds", "css", "req",
                                             "latexPre", "latexPost", "tags", "vers", NULL};
    static const char *const fld_keys[] = {"name", "ord", "sticky", "rtl", "font", "size", NULL};
    static const char *const tmpl_keys[] = {"name", "ord", "qfmt", "afmt", "did", "bqfmt",
                                            "bafmt", NULL};
    assert_int_equal(json_object_size(models), 2); /* Basic and Cloze are used */
    json_t *m;
    json_object_foreach(models, key, m) {
        assert_keys(m, "model", model_keys);
        assert_int_equal(strtoll(key, NULL, 10), json_integer_value(json_object_get(m, "id")));
        assert_int_equal(json_integer_value(json_object_get(m, "sortf")), 0);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(m, "flds"), i, f) {
            assert_keys(f, "field", fld_keys);
            assert_int_equal(json_integer_value(json_object_get(f, "ord")), i);
        }
        json_array_foreach(json_object_get(m, "tmpls"), i, f) {
            assert_keys(f, "template", tmpl_keys);
            assert_int_equal(json_integer_value(json_object_get(f, "ord")), i);
            json_t *req = json_array_get(json_object_get(m, "req"), i);
            assert_int_equal(json_integer_value(json_array_get(req, 0)), i);
            assert_string_equal(json_string_value(json_array_get(req, 1)), "all");
        }
        assert_int_equal(json_integer_value(json_object_get(m, "did")), top_id);
    }
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", (long long)MDECK_MODEL_BASIC);
    assert_string_equal(json_string_value(json_object_get(conf, "curModel")), mid);

    /* notes */
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    sqlite3_stmt *st2;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, guid, mid, mod, usn, tags, flds, "
                                            "sfld, csum, flags, data FROM notes", -1, &st2, NULL),
                     SQLITE_OK);
    size_t nn = 0;
    while (sqlite3_step(st2) == SQLITE_ROW) {
        nn++;
        int64_t id = sqlite3_column_int64(st2, 0);
        assert_true(id > 0 && id <= now_ms && id < (1LL << 53));
        const char *guid = (const char *)sqlite3_column_text(st2, 1);
        int64_t model = sqlite3_column_int64(st2, 2);
        assert_int_equal(sqlite3_column_int64(st2, 3), T0);
        assert_int_equal(sqlite3_column_int64(st2, 4), -1);
        const char *ntags = (const char *)sqlite3_column_text(st2, 5);
        const char *flds = (const char *)sqlite3_column_text(st2, 6);
        char *f[8] = {0};
        size_t nf = split(flds, f, 8);
        assert_int_equal(nf, 3); /* every mdeck model has 3 fields */
        for (const char *c = flds; *c; c++)
            assert_true((unsigned char)*c >= 0x20 || *c == '\n' || *c == '\t' || *c == 0x1f);
        struct buf sf = BUF_INIT;
        anki_strip_html(f[0], &sf);
        const char *sfld = (const char *)sqlite3_column_text(st2, 7);
        assert_string_equal(sfld, sf.s);
        assert_int_equal((uint32_t)sqlite3_column_int64(st2, 8), anki_csum(f[0]));
        assert_int_equal(sqlite3_column_int64(st2, 9), 0);
        assert_string_equal((const char *)sqlite3_column_text(st2, 10), "");
        buf_release(&sf);
        /* tags: " a b ", sorted, with the deck's tags added */
        assert_true(ntags[0] == ' ' && ntags[strlen(ntags) - 1] == ' ');
        assert_non_null(strstr(ntags, " course "));
        assert_non_null(strstr(ntags, " has_space "));
        for (size_t i = 0; i < N_COUNT; i++) {
            char *g = note_guid_of(&d, i);
            if (!strcmp(g, guid)) {
                const struct note *n = &d.notes[i];
                if (i == N_CLOZE) {
                    assert_int_equal(model, MDECK_MODEL_CLOZE);
                    assert_string_equal(f[0], n->cloze_html);
                    assert_string_equal(f[1], "<p>extra</p>");
                    assert_string_equal(f[2], "");
                    char *ords = q_text(db, "SELECT group_concat(ord) FROM (SELECT ord FROM "
                                            "cards WHERE nid=%lld ORDER BY ord)", (long long)id);
                    assert_string_equal(ords, "0,2");
                    free(ords);
                } else {
                    assert_int_equal(model, MDECK_MODEL_BASIC);
                    assert_string_equal(f[0], n->front_html);
                    assert_int_equal(q_int(db, "SELECT count(*) FROM cards WHERE nid=%lld",
                                           (long long)id), 1);
                }
                if (i == N_BASIC) {
                    assert_string_equal(f[1], "<p>Weights \\(softmax(QK^T)\\) over values</p>");
                    assert_string_equal(f[2], "<a href=\"https://example.com/a?x=1&amp;y=&lt;2&gt;\">"
                                              "https://example.com/a?x=1&amp;y=&lt;2&gt;</a><br>"
                                              "<a href=\"https://example.org/b\">https://example.org/b</a>");
                    assert_string_equal(ntags, " attention course has_space ml ");
                    assert_string_equal(sfld, "What is attention? & why");
                }
                if (i == N_UNANSWERED) assert_string_equal(f[1], "");
                if (i == N_IMAGE) assert_string_equal(sfld, " pic.png  A picture");
                /* due = position in deck order; deck = the note's deck */
                assert_int_equal(q_int(db, "SELECT min(due) FROM cards WHERE nid=%lld",
                                       (long long)id), (int64_t)i + 1);
                assert_int_equal(q_int(db, "SELECT did FROM cards WHERE nid=%lld LIMIT 1",
                                       (long long)id), apkg_deck_id(n->deck));
            }
            free(g);
        }
        for (size_t i = 0; i < nf && i < 8; i++) free(f[i]);
    }
    sqlite3_finalize(st2);
    assert_int_equal(nn, N_COUNT);
    assert_int_equal(q_int(db, "SELECT count(DISTINCT guid) FROM notes"), N_COUNT);

    /* cards */
    assert_int_equal(q_int(db, "SELECT count(*) FROM cards"), N_COUNT + 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM cards WHERE type!=0 OR queue!=0 OR ivl!=0 "
                               "OR factor!=0 OR reps!=0 OR lapses!=0 OR left!=0 OR odue!=0 "
                               "OR odid!=0 OR flags!=0 OR data!='' OR usn!=-1 OR did=1"), 0);
    assert_true(q_int(db, "SELECT max(id) FROM cards") <= now_ms);
    assert_true(q_int(db, "SELECT min(id) FROM cards") > 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM cards c LEFT JOIN notes n ON n.id=c.nid "
                               "WHERE n.id IS NULL"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM cards WHERE mod != %lld", (long long)T0), 0);
    assert_int_equal(q_int(db, "SELECT mod FROM col"), T0 * 1000);
    json_decref(conf);
    json_decref(dconf);
    json_decref(decks);
    json_decref(models);
    pkg_close(&p);

    run_checker(path);
    free(path);
    deck_free(&d);
}

/* Reversed decks use the Basic+Reversed type: card 2 only with an answer. */
static void test_reversed(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    d.opt.reversed = 1;
    char *path = tmp_path("reversed.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);
    struct pkg p;
    pkg_open(&p, path);
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM notes WHERE mid=%lld",
                           (long long)MDECK_MODEL_REVERSED), 3);
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM notes WHERE mid=%lld",
                           (long long)MDECK_MODEL_BASIC), 0);
    /* 2 answered basic notes x 2 + unanswered x 1 + cloze x 2 */
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM cards"), 7);
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM cards WHERE ord=1"), 2);
    pkg_close(&p);
    run_checker(path);
    free(path);
    deck_free(&d);
}

static void test_answered_only(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    char *path = tmp_path("answered.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);
    struct apkg_stats st;
    build_file(&d, path, 1, &st);
    assert_int_equal(st.notes, N_COUNT - 1);
    /* Left out because unanswered is not "removed from the index". */
    assert_int_equal(st.removed, 0);
    struct pkg p;
    pkg_open(&p, path);
    char *g = note_guid_of(&d, N_UNANSWERED);
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM notes WHERE guid='%s'", g), 0);
    assert_int_equal(q_int(p.db, "SELECT count(*) FROM notes WHERE tags LIKE '%%mdeck::removed%%'"), 0);
    free(g);
    pkg_close(&p);
    free(path);
    deck_free(&d);
}

/* Two builds of the same deck give the same bytes; so do two decks made
 * the same way; a rebuild on top of the previous package too. */
static void test_deterministic(void **state)
{
    scratch_set_now(T0);
    struct deck a, b;
    make_deck(&a);
    make_deck(&b);
    struct buf x = BUF_INIT, y = BUF_INIT;
    build(&a, NULL, 0, &x, NULL);
    build(&b, NULL, 0, &y, NULL);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.s, y.s, x.len);

    char *path = tmp_path("det.apkg");
    scratch_write_bytes(path, x.s, x.len);
    /* Later, nothing changed: identical bytes (nothing depends on "now"). */
    scratch_set_now(T0 + 5 * DAY);
    build(&a, path, 0, &y, NULL);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.s, y.s, x.len);
    buf_release(&x);
    buf_release(&y);
    free(path);
    deck_free(&a);
    deck_free(&b);
}

/* The slim reader (the previous package of every build) gives the same
 * notes as the full one, with the SHA-1 of the fields instead of the
 * fields, and the fields themselves on request from the kept collection. */
static void test_read_slim(void **state)
{
    scratch_set_now(T0);
    struct deck a;
    make_deck(&a);
    char *path = tmp_path("slim.apkg");
    build_file(&a, path, 0, NULL);
    struct apkg_info full, slim;
    struct diags dg;
    diags_init(&dg);
    assert_int_equal(apkg_read(path, &full, &dg), 0);
    assert_int_equal(apkg_read_slim(path, &slim, &dg), 0);
    assert_non_null(slim.db);
    assert_null(full.db);
    assert_true(full.nnotes > 2);
    assert_int_equal(full.nnotes, slim.nnotes);
    assert_true(full.ncards >= full.nnotes);
    assert_int_equal(slim.ncards, 0); /* only each note's first card's deck */
    size_t c = 0;
    for (size_t i = 0; i < full.nnotes; i++) {
        const struct apkg_note *f = &full.notes[i], *s = &slim.notes[i];
        assert_int_equal(f->id, s->id);
        /* cards come sorted by note, then ordinal: the first is the note's */
        while (c < full.ncards && full.cards[c].nid < f->id) c++;
        assert_true(c < full.ncards);
        assert_int_equal(full.cards[c].nid, f->id);
        assert_int_not_equal(f->did, 0);
        assert_int_equal(f->did, full.cards[c].did);
        assert_int_equal(s->did, f->did);
        assert_string_equal(f->guid, s->guid);
        assert_string_equal(f->tags, s->tags);
        assert_int_equal(f->mod, s->mod);
        assert_null(s->flds);
        assert_null(s->sfld);
        uint8_t h[20];
        sha1(f->flds, strlen(f->flds), h);
        assert_memory_equal(h, s->flds_sha1, 20);
        char *again = apkg_note_flds(&slim, s);
        assert_non_null(again);
        assert_string_equal(again, f->flds);
        free(again);
        again = apkg_note_flds(&full, f);
        assert_string_equal(again, f->flds);
        free(again);
    }
    /* A note the collection does not hold: NULL, not a crash. */
    struct apkg_note ghost = slim.notes[0];
    ghost.id = 12345;
    assert_null(apkg_note_flds(&slim, &ghost));
    apkg_info_free(&full);
    apkg_info_free(&slim);
    diags_free(&dg);
    free(path);
    deck_free(&a);
}

static void test_rebuild_mod(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    char *path = tmp_path("rebuild.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);
    struct apkg_info before;
    struct diags dg;
    diags_init(&dg);
    assert_int_equal(apkg_read(path, &before, &dg), 0);

    /* Time moves on, one answer is edited. */
    scratch_set_now(T0 + 1000);
    d.notes[N_BASIC].answer.html = "<p>edited</p>";
    struct apkg_stats st;
    build_file(&d, path, 0, &st);
    assert_int_equal(st.added, 0);
    assert_int_equal(st.changed, 1);
    assert_int_equal(st.removed, 0);
    struct apkg_info after;
    assert_int_equal(apkg_read(path, &after, &dg), 0);
    assert_int_equal(after.nnotes, before.nnotes);
    assert_int_equal(after.ncards, before.ncards);
    char *edited = note_guid_of(&d, N_BASIC);
    for (size_t i = 0; i < after.nnotes; i++) {
        /* same guids and ids, in the same (id) order */
        assert_string_equal(after.notes[i].guid, before.notes[i].guid);
        assert_int_equal(after.notes[i].id, before.notes[i].id);
        if (!strcmp(after.notes[i].guid, edited)) {
            assert_int_equal(after.notes[i].mod, T0 + 1000);
            assert_true(after.notes[i].mod > before.notes[i].mod);
            assert_non_null(strstr(after.notes[i].flds, "<p>edited</p>"));
        } else {
            assert_int_equal(after.notes[i].mod, T0);
        }
    }
    for (size_t i = 0; i < after.ncards; i++) {
        assert_int_equal(after.cards[i].id, before.cards[i].id);
        assert_int_equal(after.cards[i].ord, before.cards[i].ord);
    }

    /* With the clock behind the previous mod, a change still moves forward. */
    scratch_set_now(T0 + 10);
    d.notes[N_BASIC].answer.html = "<p>edited again</p>";
    build_file(&d, path, 0, &st);
    struct apkg_info again;
    assert_int_equal(apkg_read(path, &again, &dg), 0);
    for (size_t i = 0; i < again.nnotes; i++)
        if (!strcmp(again.notes[i].guid, edited))
            assert_int_equal(again.notes[i].mod, T0 + 1001);
    /* A tag change is a change too. */
    scratch_set_now(T0 + 2000);
    note_add_tag(&d, &d.notes[N_CLOZE], "newtag");
    build_file(&d, path, 0, &st);
    assert_int_equal(st.changed, 1);
    assert_int_equal(dg.nerrors, 0);
    free(edited);
    apkg_info_free(&before);
    apkg_info_free(&after);
    apkg_info_free(&again);
    diags_free(&dg);
    run_checker(path);
    free(path);
    deck_free(&d);
}

static int has_removed_tag(const char *tags) { return strstr(tags, " mdeck::removed ") != NULL; }

static const struct apkg_note *find_note(const struct apkg_info *in, const char *guid)
{
    for (size_t i = 0; i < in->nnotes; i++)
        if (!strcmp(in->notes[i].guid, guid)) return &in->notes[i];
    return NULL;
}

static void test_removed_notes(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    char *cloze = note_guid_of(&d, N_CLOZE);
    char *path = tmp_path("removed.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);

    /* The cloze question is deleted from the index. */
    const int64_t t1 = T0 + 100;
    scratch_set_now(t1);
    drop_note(&d, N_CLOZE);
    struct apkg_stats st;
    build_file(&d, path, 0, &st);
    assert_int_equal(st.notes, N_COUNT - 1);
    assert_int_equal(st.removed, 1);
    assert_int_equal(st.changed + st.added, 0);
    struct diags dg;
    diags_init(&dg);
    struct apkg_info in;
    assert_int_equal(apkg_read(path, &in, &dg), 0);
    assert_int_equal(in.nnotes, N_COUNT);
    const struct apkg_note *n = find_note(&in, cloze);
    assert_non_null(n);
    assert_true(has_removed_tag(n->tags));
    assert_non_null(strstr(n->tags, " course ")); /* previous tags kept */
    assert_int_equal(n->mod, t1);
    assert_int_equal(n->mid, MDECK_MODEL_CLOZE);
    assert_non_null(strstr(n->flds, "{{c3::mat}}"));
    for (size_t i = 0; i < in.nnotes; i++)
        if (in.notes[i].id != n->id) {
            assert_int_equal(in.notes[i].mod, T0);
            assert_false(has_removed_tag(in.notes[i].tags));
        }
    /* its model and its cards (ords 0 and 2, in its previous deck) stay */
    assert_non_null(strstr(in.models_json, "\"mdeck Cloze\""));
    size_t k = 0;
    for (size_t i = 0; i < in.ncards; i++)
        if (in.cards[i].nid == n->id) {
            assert_int_equal(in.cards[i].ord, k ? 2 : 0);
            assert_int_equal(in.cards[i].did, apkg_deck_id("Top::Sub"));
            k++;
        }
    assert_int_equal(k, 2);
    apkg_info_free(&in);
    run_checker(path);

    /* Ten days later, nothing changed: the same bytes. */
    struct buf prev = BUF_INIT, now = BUF_INIT;
    assert_int_equal(read_file(path, &prev), 0);
    scratch_set_now(t1 + 10 * DAY);
    build(&d, path, 0, &now, &st);
    assert_int_equal(st.removed, 0);
    assert_int_equal(st.kept_removed, 1);
    assert_int_equal(prev.len, now.len);
    assert_memory_equal(prev.s, now.s, prev.len);

    /* Past MDECK_REMOVED_KEEP_DAYS it is dropped, and its model with it. */
    scratch_set_now(t1 + (MDECK_REMOVED_KEEP_DAYS + 1) * DAY);
    build_file(&d, path, 0, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.kept_removed + st.removed, 0);
    assert_int_equal(apkg_read(path, &in, &dg), 0);
    assert_int_equal(in.nnotes, N_COUNT - 1);
    assert_null(find_note(&in, cloze));
    assert_null(strstr(in.models_json, "\"mdeck Cloze\""));
    apkg_info_free(&in);
    assert_int_equal(dg.nerrors, 0);
    diags_free(&dg);
    run_checker(path);
    buf_release(&prev);
    buf_release(&now);
    free(cloze);
    free(path);
    deck_free(&d);
}

/* A removed note whose deck is gone lands in the top deck; a question that
 * comes back loses the tag. */
static void test_removed_deck_gone(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    char *img = note_guid_of(&d, N_IMAGE);
    char *path = tmp_path("gone.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);
    deck_free(&d);

    scratch_set_now(T0 + 50);
    make_deck_in(&d, 0); /* no Top::Sub any more */
    drop_note(&d, N_IMAGE);
    struct apkg_stats st;
    build_file(&d, path, 0, &st);
    assert_int_equal(st.removed, 1);
    struct diags dg;
    diags_init(&dg);
    struct apkg_info in;
    assert_int_equal(apkg_read(path, &in, &dg), 0);
    const struct apkg_note *n = find_note(&in, img);
    assert_non_null(n);
    for (size_t i = 0; i < in.ncards; i++)
        if (in.cards[i].nid == n->id) assert_int_equal(in.cards[i].did, apkg_deck_id("Top"));
    assert_null(strstr(in.decks_json, "Top::Sub"));
    apkg_info_free(&in);
    run_checker(path);
    deck_free(&d);

    /* The question is back: same guid, tag gone, mod moves again. */
    scratch_set_now(T0 + 80);
    make_deck_in(&d, 0);
    build_file(&d, path, 0, &st);
    assert_int_equal(st.changed, 1);
    assert_int_equal(st.removed + st.added, 0);
    assert_int_equal(apkg_read(path, &in, &dg), 0);
    n = find_note(&in, img);
    assert_non_null(n);
    assert_false(has_removed_tag(n->tags));
    assert_int_equal(n->mod, T0 + 80);
    apkg_info_free(&in);
    diags_free(&dg);
    free(img);
    free(path);
    deck_free(&d);
}

static void test_prev_unreadable(void **state)
{
    scratch_set_now(T0);
    char *path = tmp_path("garbage.apkg");
    scratch_write_bytes(path, "not a zip", 9);
    struct deck d;
    make_deck(&d);
    struct diags dg;
    diags_init(&dg);
    struct buf b = BUF_INIT;
    struct apkg_stats st;
    assert_int_equal(apkg_build(&d, path, 0, &b, &st, &dg), 0);
    assert_int_equal(dg.nerrors, 0);
    assert_int_equal(dg.nwarnings, 1);
    assert_string_equal(dg.v[0].path, path);
    assert_int_equal(st.added, N_COUNT);
    buf_release(&b);
    diags_free(&dg);
    free(path);
    deck_free(&d);
}

/* Many notes: ids unique and in range even with collisions resolved. */
static void test_many_notes(void **state)
{
    scratch_set_now(T0);
    struct deck d;
    char *dir = tmp_path("big");
    deck_init(&d, dir);
    free(dir);
    d.name = "Big";
    deck_add_deck_name(&d, "Big");
    for (int i = 0; i < 3000; i++) {
        struct note *n = deck_add_note(&d);
        n->id = arena_printf(&d.arena, "n%d", i);
        n->front_html = arena_printf(&d.arena, "Question %d", i);
        n->answer.html = i % 3 ? "a" : NULL;
        n->deck = "Big";
    }
    char *path = tmp_path("big.apkg");
    unlink(path);
    build_file(&d, path, 0, NULL);
    struct pkg p;
    pkg_open(&p, path);
    assert_int_equal(q_int(p.db, "SELECT count(DISTINCT id) FROM notes"), 3000);
    assert_int_equal(q_int(p.db, "SELECT count(DISTINCT guid) FROM notes"), 3000);
    assert_int_equal(q_int(p.db, "SELECT count(DISTINCT id) FROM cards"), 3000);
    assert_true(q_int(p.db, "SELECT min(id) FROM notes") >= 1300000000000LL);
    assert_true(q_int(p.db, "SELECT max(id) FROM cards") < 1300000000000LL + (1LL << 38) + 3000);
    assert_int_equal(q_int(p.db, "SELECT max(due) FROM cards"), 3000);
    /* sfld "Question 12" etc. stays text; numeric sort fields become numbers */
    pkg_close(&p);
    run_checker(path);
    free(path);
    deck_free(&d);
}

/* --- apkg_read on hostile input ------------------------------------------ */

struct entry {
    const char *name;
    const void *data;
    size_t len;
};

static void make_zip(const char *path, const struct entry *e, size_t n)
{
    unlink(path);
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
        assert_non_null(s);
        assert_true(zip_file_add(za, e[i].name, s, 0) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
}

static int read_fails(const char *path, const char *needle)
{
    struct apkg_info in;
    struct diags dg;
    diags_init(&dg);
    int rc = apkg_read(path, &in, &dg);
    if (rc == 0) {
        apkg_info_free(&in);
        diags_free(&dg);
        return 0;
    }
    assert_true(dg.nerrors >= 1);
    assert_string_equal(dg.v[0].path, path);
    if (needle && !strstr(dg.v[0].msg, needle))
        fail_msg("message '%s' lacks '%s'", dg.v[0].msg, needle);
    assert_null(in.notes);
    diags_free(&dg);
    return 1;
}

/* The collection of a package we built, as bytes. */
static void our_collection(struct buf *coll, struct buf *pkgbytes)
{
    scratch_set_now(T0);
    struct deck d;
    make_deck(&d);
    build(&d, NULL, 0, pkgbytes, NULL);
    char *path = tmp_path("src.apkg");
    scratch_write_bytes(path, pkgbytes->s, pkgbytes->len);
    struct pkg p;
    pkg_open(&p, path);
    pkg_close(&p);
    int err;
    zip_t *za = zip_open(path, ZIP_RDONLY, &err);
    zip_stat_t zs;
    assert_int_equal(zip_stat(za, "collection.anki2", 0, &zs), 0);
    buf_grow(coll, zs.size);
    zip_file_t *zf = zip_fopen(za, "collection.anki2", 0);
    assert_int_equal(zip_fread(zf, coll->s, zs.size), (zip_int64_t)zs.size);
    coll->len = zs.size;
    zip_fclose(zf);
    zip_discard(za);
    free(path);
    deck_free(&d);
}

static void test_read_hostile(void **state)
{
    char *path = tmp_path("hostile.apkg");
    struct buf coll = BUF_INIT, pk = BUF_INIT;
    our_collection(&coll, &pk);

    unlink(path);
    assert_true(read_fails(path, "cannot open"));
    scratch_write_bytes(path, "", 0);
    assert_true(read_fails(path, NULL));
    static const char pkjunk[] = "PK\x03\x04garbage";
    scratch_write_bytes(path, pkjunk, sizeof pkjunk - 1);
    assert_true(read_fails(path, NULL));

    static const char junk[] = "this is not sqlite at all, not even a little bit";
    struct entry e1[] = {{"media", "{}", 2}};
    make_zip(path, e1, 1);
    assert_true(read_fails(path, "no collection.anki2"));

    struct entry e2[] = {{"meta", "\x08\x03", 2}, {"collection.anki21b", junk, sizeof junk},
                         {"collection.anki2", coll.s, coll.len}, {"media", "{}", 2}};
    make_zip(path, e2, 4);
    assert_true(read_fails(path, "collection.anki21b"));

    struct entry e3[] = {{"meta", "\x08\x03", 2}};
    make_zip(path, e3, 1);
    assert_true(read_fails(path, "meta"));

    struct entry e4[] = {{"collection.anki2", junk, sizeof junk}, {"media", "{}", 2}};
    make_zip(path, e4, 2);
    assert_true(read_fails(path, "not a readable Anki collection"));

    /* a database without the notes table */
    char *dbp = tmp_path("partial.db");
    unlink(dbp);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE col (id, ver, conf, models, decks, dconf);"
                                      "INSERT INTO col VALUES (1, 11, '{}', '{}', '{}', '{}')",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct buf part = BUF_INIT;
    assert_int_equal(read_file(dbp, &part), 0);
    struct entry e5[] = {{"collection.anki2", part.s, part.len}};
    make_zip(path, e5, 1);
    assert_true(read_fails(path, "not a readable Anki collection"));

    /* collection.anki21 is preferred over collection.anki2; a media key
     * without its entry is reported as missing; a bad map is an error. */
    const char *map = "{\"10\":\"b.png\",\"2\":\"a.png\"}";
    struct entry e6[] = {{"collection.anki2", junk, sizeof junk},
                         {"collection.anki21", coll.s, coll.len},
                         {"media", map, strlen(map)},
                         {"2", "x", 1}};
    make_zip(path, e6, 4);
    struct apkg_info in;
    struct diags dg;
    diags_init(&dg);
    assert_int_equal(apkg_read(path, &in, &dg), 0);
    assert_string_equal(in.collection, "collection.anki21");
    assert_int_equal(in.nnotes, N_COUNT);
    assert_int_equal(in.ver, 11);
    assert_int_equal(in.nmedia, 2);
    assert_string_equal(in.media_keys[0], "2");
    assert_int_equal(in.media_present[0], 1);
    assert_int_equal(in.media_sizes[0], 1);
    assert_string_equal(in.media_keys[1], "10");
    assert_int_equal(in.media_present[1], 0);
    apkg_info_free(&in);
    struct entry e7[] = {{"collection.anki2", coll.s, coll.len}, {"media", "[1,2]", 5}};
    make_zip(path, e7, 2);
    assert_true(read_fails(path, "media map"));

    /* truncated packages and flipped bytes: errors, never crashes */
    for (size_t cut = 0; cut < pk.len; cut += pk.len / 37 + 1) {
        scratch_write_bytes(path, pk.s, cut);
        assert_true(read_fails(path, NULL));
    }
    uint32_t seed = 12345;
    struct buf mut = BUF_INIT;
    /* MDECK_FUZZ_ROUNDS raises the count for a longer run under ASan. */
    const char *fr = getenv("MDECK_FUZZ_ROUNDS");
    int rounds = fr && atoi(fr) > 0 ? atoi(fr) : 200;
    for (int round = 0; round < rounds; round++) {
        buf_reset(&mut);
        buf_add(&mut, pk.s, pk.len);
        for (int k = 0; k < 1 + round % 8; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % mut.len;
            seed = seed * 1103515245u + 12345u;
            mut.s[at] = (char)(seed >> 16);
        }
        scratch_write_bytes(path, mut.s, mut.len);
        read_fails(path, NULL); /* either outcome; must not crash */
    }
    /* a valid zip around a damaged database: SQLite's turn */
    for (int round = 0; round < rounds / 2; round++) {
        buf_reset(&mut);
        buf_add(&mut, coll.s, coll.len);
        for (int k = 0; k < 1 + round % 16; k++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly the header and the first pages, where the schema is */
            size_t span = round % 3 ? 8192 : mut.len;
            size_t at = (seed >> 8) % span;
            seed = seed * 1103515245u + 12345u;
            mut.s[at] = (char)(seed >> 16);
        }
        struct entry e8[] = {{"collection.anki2", mut.s, mut.len}, {"media", "{}", 2}};
        make_zip(path, e8, 2);
        read_fails(path, NULL);
    }
    buf_release(&mut);
    diags_free(&dg);
    buf_release(&part);
    buf_release(&coll);
    buf_release(&pk);
    unlink(dbp);
    free(dbp);
    free(path);
}

/* The collection is inflated by ISA-L when deflated, by libzip otherwise;
 * either way a damaged one is refused: the size and CRC-32 are checked. */
static void test_read_inflate_checks(void **state)
{
    struct buf coll = BUF_INIT, pk = BUF_INIT;
    our_collection(&coll, &pk);
    char *path = tmp_path("inflate.apkg");
    for (int stored = 0; stored < 2; stored++) {
        unlink(path);
        int err;
        zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
        assert_non_null(za);
        zip_source_t *s = zip_source_buffer(za, coll.s, coll.len, 0);
        zip_int64_t i = zip_file_add(za, "collection.anki2", s, 0);
        assert_true(i >= 0);
        if (stored) assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)i, ZIP_CM_STORE, 0), 0);
        s = zip_source_buffer(za, "{}", 2, 0);
        assert_true(zip_file_add(za, "media", s, 0) >= 0);
        assert_int_equal(zip_close(za), 0);
        struct apkg_info in;
        struct diags dg;
        diags_init(&dg);
        assert_int_equal(apkg_read(path, &in, &dg), 0);
        assert_int_equal(in.nnotes, N_COUNT);
        apkg_info_free(&in);
        diags_free(&dg);
    }
    /* deflated again, then bytes flipped inside the collection's data */
    struct entry e[] = {{"collection.anki2", coll.s, coll.len}, {"media", "{}", 2}};
    make_zip(path, e, 2);
    struct buf z = BUF_INIT;
    assert_int_equal(read_file(path, &z), 0);
    const unsigned char *h = (const unsigned char *)z.s;
    assert_memory_equal(h, "PK\3\4", 4);
    size_t data = 30 + (size_t)(h[26] | h[27] << 8) + (size_t)(h[28] | h[29] << 8);
    size_t clen = (size_t)h[18] | (size_t)h[19] << 8 | (size_t)h[20] << 16 | (size_t)h[21] << 24;
    assert_true(clen > 64 && data + clen < z.len);
    for (int k = 1; k < 8; k++) {
        struct buf m = BUF_INIT;
        buf_add(&m, z.s, z.len);
        m.s[data + clen * (size_t)k / 8] ^= 0x5a;
        scratch_write_bytes(path, m.s, m.len);
        assert_true(read_fails(path, "damaged"));
        buf_release(&m);
    }
    buf_release(&z);
    buf_release(&coll);
    buf_release(&pk);
    free(path);
}

/* The checker is able to fail: a package with a wrong checksum, a missing
 * media entry or a forbidden entry is refused. */
static void test_checker_fails(void **state)
{
    struct buf coll = BUF_INIT, pk = BUF_INIT;
    our_collection(&coll, &pk);
    char *dbp = tmp_path("broken.anki2");
    scratch_write_bytes(dbp, coll.s, coll.len);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE notes SET csum = csum + 1", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct buf broken = BUF_INIT;
    assert_int_equal(read_file(dbp, &broken), 0);
    const char *top = getenv("MDECK_TOP");
    char *path = tmp_path("broken.apkg");
    char *cmd = xasprintf("python3 '%s/tests/tools/apkg_check.py' -q '%s' 2>/dev/null",
                          top && *top ? top : ".", path);
    struct entry bad_csum[] = {{"collection.anki2", broken.s, broken.len},
                               {"media", "{}", 2}};
    make_zip(path, bad_csum, 2);
    assert_int_not_equal(system(cmd), 0);
    struct entry no_media[] = {{"collection.anki2", coll.s, coll.len},
                               {"media", "{\"0\":\"a.png\"}", 13}};
    make_zip(path, no_media, 2);
    assert_int_not_equal(system(cmd), 0);
    struct entry meta[] = {{"collection.anki2", coll.s, coll.len},
                           {"media", "{}", 2},
                           {"meta", "\x08\x01", 2}};
    make_zip(path, meta, 3);
    assert_int_not_equal(system(cmd), 0);
    struct entry good[] = {{"collection.anki2", coll.s, coll.len}, {"media", "{}", 2}};
    make_zip(path, good, 2);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(path);
    unlink(dbp);
    free(dbp);
    buf_release(&broken);
    buf_release(&coll);
    buf_release(&pk);
}

/* The package is written into the file named, never through a symbolic
 * link put in its place: the write fails and the link's target is left as
 * it was (the caller then keeps the previous package). */
static void test_write_refuses_symlink(void **state)
{
    struct deck d;
    make_deck(&d);
    char *victim = tmp_path("victim.txt"), *link = tmp_path("link.apkg");
    scratch_write_bytes(victim, "keep me", 7);
    unlink(link);
    assert_int_equal(symlink(victim, link), 0);
    struct apkg_prev pv;
    apkg_prev_read(NULL, &pv);
    struct apkg_stats st;
    struct diags dg;
    diags_init(&dg);
    assert_int_equal(apkg_write(&d, NULL, &pv, 0, link, &st, &dg), -1);
    assert_true(dg.nerrors > 0);
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(victim, &b), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.s, "keep me", 7);
    buf_release(&b);
    diags_free(&dg);
    char *coll = xasprintf("%s-collection", link);
    unlink(coll);
    unlink(link);
    unlink(victim);
    free(coll);
    free(link);
    free(victim);
    deck_free(&d);
}

int main(void)
{
    /* Every build in this file sets MDECK_NOW itself. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csum_and_strip),
        cmocka_unit_test(test_model_fingerprints),
        cmocka_unit_test(test_model_schema_fixed),
        cmocka_unit_test(test_card_ords),
        cmocka_unit_test(test_package_layout),
        cmocka_unit_test(test_reversed),
        cmocka_unit_test(test_answered_only),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_read_slim),
        cmocka_unit_test(test_rebuild_mod),
        cmocka_unit_test(test_removed_notes),
        cmocka_unit_test(test_removed_deck_gone),
        cmocka_unit_test(test_prev_unreadable),
        cmocka_unit_test(test_many_notes),
        cmocka_unit_test(test_read_hostile),
        cmocka_unit_test(test_read_inflate_checks),
        cmocka_unit_test(test_checker_fails),
        cmocka_unit_test(test_write_refuses_symlink),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
