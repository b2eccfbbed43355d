/* cmd-check.c - `mdeck check [--json] [DECK...]`: parse, report, write nothing. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "mdeck/build.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

/* Possible duplicates: questions whose keys are similar but not equal. */
#define SIMILAR_REPORT 0.75
#define SIMILAR_MAX_NOTES 20000

static void report_similar(const struct deck *d, struct diags *dg)
{
    if (d->nnotes > SIMILAR_MAX_NOTES) {
        diag_add(dg, SEV_NOTE, d->dir, 0, 0,
                 "more than %d questions: the possible-duplicate check was skipped", SIMILAR_MAX_NOTES);
        return;
    }
    char *index_path = xasprintf("%s/index.md", d->dir);
    /* Every pair: the bigrams are made once per key, and a pair whose
     * bigram counts alone rule out SIMILAR_REPORT is skipped (with
     * c <= min(a, b), 2c / (a + b) is at most 2 min / (a + b)). */
    struct text_bigrams *bg = xcalloc(d->nnotes ? d->nnotes : 1, sizeof *bg);
    for (size_t i = 0; i < d->nnotes; i++) text_bigrams(d->notes[i].key, &bg[i]);
    /* One note per question at most, naming its most similar earlier
     * question: numbered questions ("Step 1", "Step 2", ...) would
     * otherwise give a note for every pair, millions in a big deck. */
    for (size_t k = 1; k < d->nnotes; k++) {
        double best = 0;
        size_t bi = 0;
        for (size_t i = 0; i < k; i++) {
            size_t lo = bg[i].n < bg[k].n ? bg[i].n : bg[k].n;
            if (bg[i].ncps >= 2 && bg[k].ncps >= 2 &&
                2.0 * (double)lo / (double)(bg[i].n + bg[k].n) < SIMILAR_REPORT)
                continue;
            double s = text_similarity_bigrams(&bg[i], &bg[k]);
            if (s >= SIMILAR_REPORT && s > best) {
                best = s;
                bi = i;
            }
        }
        if (best > 0)
            diag_add(dg, SEV_NOTE, index_path, d->notes[k].line, d->notes[k].col,
                     "possible duplicate of line %d (similarity %.2f); merge them if they ask the same",
                     d->notes[bi].line, best);
    }
    for (size_t i = 0; i < d->nnotes; i++) text_bigrams_free(&bg[i]);
    free(bg);
    free(index_path);
}

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_text(v[i]));
    return a;
}

static json_t *deck_json(const struct deck *d)
{
    json_t *notes = json_array();
    for (size_t i = 0; i < d->nnotes; i++) {
        const struct note *n = &d->notes[i];
        json_t *lines = json_array();
        for (size_t l = 0; l < n->nlines; l++) json_array_append_new(lines, json_integer(n->lines[l]));
        char guid[12];
        note_guid(d, n, guid);
        /* json_text: names from the file system or the command line may
         * hold any bytes; the JSON must stay valid (and complete). */
        json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                              "id", json_text(n->id), "guid", guid,
                              "question", json_text(n->question),
                              "front_html", json_text(n->front_html), "deck", json_text(n->deck),
                              "tags", strings(n->tags, n->ntags),
                              "sources", strings(n->sources, n->nsources),
                              "lines", lines, "cloze", n->cloze);
        json_object_set_new(o, "answer_link", json_text(n->link));
        json_object_set_new(o, "pinned_id", json_text(n->pinned));
        if (n->answer.html) {
            json_object_set_new(o, "answer", json_pack("{s:s, s:o, s:i, s:o, s:o}",
                                                       "how", n->answer.how, "path", json_text(n->answer.path),
                                                       "line", n->answer.line, "html", json_text(n->answer.html),
                                                       "text", json_text(n->answer.text ? n->answer.text : "")));
        } else {
            json_object_set_new(o, "answer", json_null());
        }
        if (n->cloze) json_object_set_new(o, "cloze_html", json_text(n->cloze_html));
        json_array_append_new(notes, o);
    }
    json_t *subdecks = json_array();
    for (size_t i = 0; i < d->ndecks; i++)
        if (strcmp(d->decks[i], d->name)) json_array_append_new(subdecks, json_text(d->decks[i]));
    json_t *media = json_array();
    for (size_t i = 0; i < d->nmedia; i++)
        json_array_append_new(media, json_pack("{s:o, s:o}", "name", json_text(d->media[i].name),
                                               "path", json_text(d->media[i].path)));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "folder", json_text(d->dir), "slug", json_text(d->slug), "name", json_text(d->name),
                     "description", json_text(d->desc_html),
                     "tags", strings(d->opt.tags, d->opt.ntags),
                     "subdecks", subdecks, "notes", notes, "media", media);
}

static json_t *diags_json(const struct diags *dg)
{
    json_t *a = json_array();
    for (size_t i = 0; i < dg->n; i++) {
        const struct diag *g = &dg->v[i];
        json_array_append_new(a, json_pack("{s:s, s:o, s:i, s:i, s:o}", "severity", severity_name(g->sev),
                                           "path", json_text(g->path), "line", g->line, "column", g->col,
                                           "message", json_text(g->msg)));
    }
    return a;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int as_json = 0, c;
    optind = 0; /* options may follow the decks: a full getopt reset */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 'h': print_help("check", stdout); return EXIT_OK;
        default: return usage_error("check", "unknown option '%s'", argv[optind - 1]);
        }
    }
    char **decks;
    size_t n = find_decks(argc - optind, argv + optind, &decks);
    if (!n) {
        free_deck_list(decks);
        return usage_error("check", "no decks: give deck folders, or run where ./decks/*/index.md exist");
    }
    int status = EXIT_OK;
    json_t *all = json_array(), *alldiags = json_array();
    for (size_t i = 0; i < n; i++) {
        struct diags dg;
        diags_init(&dg);
        struct deck d;
        struct build_opts o = {.dry_run = 1};
        int rc = deck_load(&d, decks[i], &o, &dg);
        if (d.nnotes && d.notes[0].id) report_similar(&d, &dg);
        if (rc < 0) status = EXIT_SOURCE;
        if (as_json) {
            if (d.name) json_array_append_new(all, deck_json(&d));
            json_t *dj = diags_json(&dg);
            json_array_extend(alldiags, dj);
            json_decref(dj);
        }
        diags_sort(&dg);
        diags_print(&dg, stderr);
        size_t unanswered = 0;
        for (size_t k = 0; k < d.nnotes; k++) unanswered += !d.notes[k].answer.html;
        fprintf(stderr, "mdeck: %s: %zu questions, %zu unanswered, %zu errors, %zu warnings\n",
                decks[i], d.nnotes, unanswered, dg.nerrors, dg.nwarnings);
        deck_free(&d);
        diags_free(&dg);
    }
    if (as_json) {
        json_t *root = json_pack("{s:i, s:o, s:o}", "version", 1, "decks", all, "diagnostics", alldiags);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(root);
    } else {
        json_decref(all);
        json_decref(alldiags);
    }
    free_deck_list(decks);
    return status;
}
