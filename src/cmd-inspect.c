/* cmd-inspect.c - `mdeck inspect [--json] FILE.apkg`: what a package holds,
 * read with the same reader the build uses for the previous package. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "mdeck/apkg.h"
#include "mdeck/util.h"

/* Characters of the first field shown per note in the text listing. */
#define SHORT_FIELD 60

struct note_cards;

struct view {
    const struct apkg_info *info;
    json_t *decks, *models; /* parsed col JSON (objects; empty when bad) */
    size_t *order;          /* notes in study order */
    struct note_cards *cards; /* per note, same index as info->notes */
};

static json_t *parse_object(const char *s)
{
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    return j;
}

static const char *name_of(json_t *map, int64_t id, const char *fallback)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)id);
    const char *s = json_string_value(json_object_get(json_object_get(map, key), "name"));
    return s ? s : fallback;
}

/* The first field as one line of plain text, at most max code points. */
static void short_text(const char *flds, size_t max, struct buf *out)
{
    size_t len = strcspn(flds, "\x1f");
    char *first = xstrndup(flds, len);
    struct buf plain = BUF_INIT;
    anki_strip_html(first, &plain);
    free(first);
    size_t chars = 0;
    int space = 0;
    for (const char *p = plain.s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = out->len > 0;
            continue;
        }
        if ((c & 0xc0) != 0x80) {          /* a new code point starts */
            if (chars + space >= max) {
                buf_adds(out, "\xe2\x80\xa6"); /* … */
                break;
            }
            if (space) {
                buf_addc(out, ' ');
                chars++;
                space = 0;
            }
            chars++;
        }
        buf_addc(out, (char)c);
    }
    buf_release(&plain);
}

/* Per note: the deck of its first card, its card count and first due. */
struct note_cards {
    int64_t did, due;
    size_t ncards;
};

/* Cards come from apkg_read sorted by nid, notes by id: one merge pass. */
static struct note_cards *cards_by_note(const struct apkg_info *info)
{
    struct note_cards *nc = xcalloc(info->nnotes ? info->nnotes : 1, sizeof *nc);
    size_t c = 0;
    for (size_t i = 0; i < info->nnotes; i++) {
        int64_t nid = info->notes[i].id;
        nc[i].due = INT64_MAX;
        while (c < info->ncards && info->cards[c].nid < nid) c++;
        for (; c < info->ncards && info->cards[c].nid == nid; c++) {
            if (!nc[i].ncards) nc[i].did = info->cards[c].did;
            if (info->cards[c].due < nc[i].due) nc[i].due = info->cards[c].due;
            nc[i].ncards++;
        }
    }
    return nc;
}

static const struct view *sort_view;

static int cmp_notes(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int64_t dx = sort_view->cards[x].due, dy = sort_view->cards[y].due;
    if (dx != dy) return dx < dy ? -1 : 1;
    int64_t ix = sort_view->info->notes[x].id, iy = sort_view->info->notes[y].id;
    return ix < iy ? -1 : ix > iy;
}

static const char *str_or(const char *s, const char *fallback)
{
    return s ? s : fallback;
}

static json_t *or_null(json_t *j) { return j ? j : json_null(); }

/* Deck ids sorted by deck name. */
static int cmp_deck_names(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *nx = json_string_value(json_object_get(x, "name"));
    const char *ny = json_string_value(json_object_get(y, "name"));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

static json_t **sorted_values(json_t *map, size_t *n, int by_name)
{
    *n = json_object_size(map);
    json_t **v = xcalloc(*n ? *n : 1, sizeof *v);
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) if (json_is_object(val)) v[k++] = val;
    *n = k;
    if (by_name) qsort(v, k, sizeof *v, cmp_deck_names);
    return v;
}

static json_t *string_list(json_t *arr, const char *field)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *s = json_string_value(json_object_get(e, field));
        json_array_append_new(out, json_string(s ? s : ""));
    }
    return out;
}

static json_t *tag_list(const char *tags)
{
    json_t *a = json_array();
    for (const char *s = tags; *s;) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        struct buf t = BUF_INIT; /* a hostile package's bytes: keep the JSON valid */
        utf8_repair(s, n, &t);
        json_array_append_new(a, json_stringn(t.s, t.len));
        buf_release(&t);
        s += n;
    }
    return a;
}

static int print_json(const char *path, struct view *v)
{
    const struct apkg_info *info = v->info;
    json_t *decks = json_array(), *models = json_array(), *notes = json_array(),
           *media = json_array();
    size_t n;
    json_t **dv = sorted_values(v->decks, &n, 1);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(decks, json_pack("{s:O, s:O, s:O}", "id",
                                               or_null(json_object_get(dv[i], "id")),
                                               "name",
                                               or_null(json_object_get(dv[i], "name")),
                                               "desc",
                                               or_null(json_object_get(dv[i], "desc"))));
    }
    free(dv);
    json_t **mv = sorted_values(v->models, &n, 0);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            models, json_pack("{s:O, s:O, s:O, s:O, s:o, s:o}", "id",
                              or_null(json_object_get(mv[i], "id")), "name",
                              or_null(json_object_get(mv[i], "name")), "type",
                              or_null(json_object_get(mv[i], "type")), "mod",
                              or_null(json_object_get(mv[i], "mod")), "fields",
                              string_list(json_object_get(mv[i], "flds"), "name"),
                              "templates",
                              string_list(json_object_get(mv[i], "tmpls"), "name")));
    free(mv);
    for (size_t k = 0; k < info->nnotes; k++) {
        const struct apkg_note *no = &info->notes[v->order[k]];
        int64_t did = v->cards[v->order[k]].did;
        size_t nc = v->cards[v->order[k]].ncards;
        struct buf first = BUF_INIT;
        short_text(no->flds, (size_t)-1, &first);
        json_array_append_new(
            notes, json_pack("{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:I}", "id",
                             (json_int_t)no->id, "guid", json_text(no->guid), "deck",
                             json_text(name_of(v->decks, did, "?")), "note_type",
                             json_text(name_of(v->models, no->mid, "?")), "mod",
                             (json_int_t)no->mod, "tags", tag_list(no->tags),
                             "first_field", json_text(first.s), "cards", (json_int_t)nc));
        buf_release(&first);
    }
    for (size_t i = 0; i < info->nmedia; i++)
        json_array_append_new(media, json_pack("{s:o, s:o, s:I, s:b}", "key",
                                               json_text(info->media_keys[i]), "name",
                                               json_text(info->media_names[i]), "size",
                                               (json_int_t)info->media_sizes[i],
                                               "present", info->media_present[i]));
    json_t *root = json_pack("{s:o, s:s, s:i, s:o, s:o, s:o, s:o}", "file", json_text(path),
                             "collection", info->collection, "ver", info->ver,
                             "decks", decks, "note_types", models, "notes", notes,
                             "media", media);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2)) < 0 ? -1 : 0;
    fputc('\n', stdout);
    json_decref(root);
    return rc;
}

static void print_text(const char *path, struct view *v)
{
    const struct apkg_info *info = v->info;
    printf("%s: %s, schema %d\n", path, info->collection, info->ver);
    size_t n;
    json_t **dv = sorted_values(v->decks, &n, 1);
    printf("\nDecks (%zu):\n", n);
    for (size_t i = 0; i < n; i++)
        printf("  %-15" JSON_INTEGER_FORMAT "  %s\n",
               json_integer_value(json_object_get(dv[i], "id")),
               str_or(json_string_value(json_object_get(dv[i], "name")), "?"));
    free(dv);
    json_t **mv = sorted_values(v->models, &n, 0);
    printf("\nNote types (%zu):\n", n);
    for (size_t i = 0; i < n; i++) {
        printf("  %-15" JSON_INTEGER_FORMAT "  %s  (",
               json_integer_value(json_object_get(mv[i], "id")),
               str_or(json_string_value(json_object_get(mv[i], "name")), "?"));
        json_t *f;
        size_t k;
        json_array_foreach(json_object_get(mv[i], "flds"), k, f)
            printf("%s%s", k ? ", " : "",
                   str_or(json_string_value(json_object_get(f, "name")), "?"));
        printf("; %zu card type%s)\n", json_array_size(json_object_get(mv[i], "tmpls")),
               json_array_size(json_object_get(mv[i], "tmpls")) == 1 ? "" : "s");
    }
    free(mv);
    printf("\nNotes (%zu, %zu cards):\n", info->nnotes, info->ncards);
    for (size_t k = 0; k < info->nnotes; k++) {
        const struct apkg_note *no = &info->notes[v->order[k]];
        int64_t did = v->cards[v->order[k]].did;
        struct buf first = BUF_INIT, tags = BUF_INIT;
        short_text(no->flds, SHORT_FIELD, &first);
        buf_adds(&tags, no->tags);
        buf_trim(&tags);
        printf("  %-10s  %s  [%s]  %s\n", no->guid, name_of(v->decks, did, "?"),
               tags.s, first.s);
        buf_release(&first);
        buf_release(&tags);
    }
    printf("\nMedia (%zu):\n", info->nmedia);
    for (size_t i = 0; i < info->nmedia; i++) {
        if (info->media_present[i])
            printf("  %-4s  %s  (%llu bytes)\n", info->media_keys[i],
                   info->media_names[i], (unsigned long long)info->media_sizes[i]);
        else
            printf("  %-4s  %s  (missing from the zip)\n", info->media_keys[i],
                   info->media_names[i]);
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    opterr = 0;
    optind = 0; /* options may follow the file: a full getopt reset */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': print_help("inspect", stdout); return EXIT_OK;
        default:
            return usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) return usage_error("inspect", "give exactly one .apkg file");
    const char *path = optind < argc ? argv[optind] : NULL;
    if (!path) return usage_error("inspect", "give the .apkg file to inspect");

    struct apkg_info info;
    struct diags dg;
    diags_init(&dg);
    if (apkg_read(path, &info, &dg) < 0) {
        diags_print(&dg, stderr);
        diags_free(&dg);
        return EXIT_SOURCE;
    }
    diags_print(&dg, stderr);
    diags_free(&dg);

    struct view v = {&info, parse_object(info.decks_json),
                     parse_object(info.models_json), NULL, cards_by_note(&info)};
    v.order = xcalloc(info.nnotes ? info.nnotes : 1, sizeof *v.order);
    for (size_t i = 0; i < info.nnotes; i++) v.order[i] = i;
    sort_view = &v;
    qsort(v.order, info.nnotes, sizeof *v.order, cmp_notes);

    int rc = EXIT_OK;
    if (json) {
        if (print_json(path, &v) < 0) rc = EXIT_SOURCE;
    } else {
        print_text(path, &v);
    }
    if (fflush(stdout) != 0) rc = EXIT_SOURCE;
    free(v.order);
    free(v.cards);
    json_decref(v.decks);
    json_decref(v.models);
    apkg_info_free(&info);
    return rc;
}
