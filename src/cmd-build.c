/* cmd-build.c - `mdeck build [-o DIR] [--format LIST] [--answered-only] [DECK...]` */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "mdeck/build.h"
#include "mdeck/frontmatter.h"
#include "mdeck/textout.h"

static void print_filtered(const struct diags *dg, int quiet)
{
    /* Notes (unanswered questions and the like) are for `mdeck check`. */
    for (size_t i = 0; i < dg->n; i++) {
        const struct diag *g = &dg->v[i];
        if (g->sev == SEV_NOTE || (quiet && g->sev != SEV_ERROR)) continue;
        struct diags one = {.v = (struct diag *)g, .n = 1};
        diags_print(&one, stderr);
    }
}

int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"answered-only", no_argument, NULL, 'A'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct build_opts o = {.outdir = "out", .write_lock = 1};
    int quiet = 0, c;
    optind = 0; /* options may follow the decks: a full getopt reset */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.outdir = optarg; break;
        case 'f': {
            const char *bad = NULL;
            o.formats = parse_formats(optarg, &bad);
            if (!o.formats)
                return usage_error("build", "unknown format '%s' (use apkg, csv, quizlet)", bad ? bad : optarg);
            break;
        }
        case 'A': o.answered_only = 1; break;
        case 'q': quiet = 1; break;
        case 'h': print_help("build", stdout); return EXIT_OK;
        default:
            return usage_error("build", "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    char **decks;
    size_t n = find_decks(argc - optind, argv + optind, &decks);
    if (!n) {
        free_deck_list(decks);
        return usage_error("build", "no decks: give deck folders, or run where ./decks/*/index.md exist");
    }
    int status = EXIT_OK;
    if (!o.dry_run) tmpdir_clean_stale(); /* what killed builds left in $TMPDIR */
    for (size_t i = 0; i < n; i++) {
        struct diags dg;
        diags_init(&dg);
        struct build_stats st;
        int rc = build_deck(decks[i], &o, &st, &dg);
        diags_sort(&dg);
        print_filtered(&dg, quiet);
        if (rc < 0) {
            fprintf(stderr, "mdeck: %s: build failed; previous outputs in %s kept\n", decks[i], o.outdir);
            status = EXIT_SOURCE;
        } else if (!quiet) {
            fprintf(stderr, "mdeck: %s: %zu notes (%zu added, %zu changed, %zu removed), %zu unanswered, %zu media, %.0f ms;",
                    decks[i], st.notes, st.added, st.changed, st.removed, st.unanswered, st.media, st.ms);
            static const char *names[] = {"apkg", "csv", "quizlet"};
            for (int k = 0; k < 3; k++)
                if (st.produced & (1u << k))
                    fprintf(stderr, " %s %s", names[k], st.written & (1u << k) ? "written" : "unchanged");
            fputc('\n', stderr);
            if (st.produced & FMT_QUIZLET) fprintf(stderr, "mdeck: %s\n", quizlet_instructions());
            if ((st.produced & FMT_CSV) && st.media)
                fprintf(stderr, "mdeck: the CSV cannot carry the %zu image(s); import the .apkg to get them\n", st.media);
        }
        diags_free(&dg);
    }
    free_deck_list(decks);
    return status;
}
