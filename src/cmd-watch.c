/* cmd-watch.c - `mdeck watch [-o DIR] [--debounce MS] [-q|-v] [DECK...]`:
 * options, then the event loop of watch.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "mdeck/frontmatter.h"
#include "mdeck/watch.h"

int cmd_watch(int argc, char **argv)
{
    /* Before anything else: a SIGTERM or SIGHUP must never find the default
     * disposition (death) once we have started; signalfd reads them. */
    watch_block_signals();
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"debounce", required_argument, NULL, 'd'},
        {"poll", required_argument, NULL, 'P'},
        {"format", required_argument, NULL, 'f'},
        {"answered-only", no_argument, NULL, 'A'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct watch_opts o = {
        .build = {.outdir = "out", .write_lock = 1},
        .debounce_ms = WATCH_DEBOUNCE_MS,
        .cap_ms = WATCH_CAP_MS,
        .log = stderr,
    };
    int c;
    optind = 0; /* options may follow the decks: a full getopt reset */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:f:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.build.outdir = optarg; break;
        case 'd': {
            char *end;
            errno = 0;
            long ms = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || ms < 0 || ms > 60000)
                return usage_error("watch", "--debounce takes milliseconds from 0 to 60000, not '%s'", optarg);
            o.debounce_ms = (int)ms;
            break;
        }
        case 'P': {
            char *end;
            errno = 0;
            double s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(s >= 1 && s <= 3600))
                return usage_error("watch", "--poll takes seconds from 1 to 3600, not '%s'", optarg);
            o.poll_ms = (int)(s * 1000);
            break;
        }
        case 'f': {
            const char *bad = NULL;
            o.build.formats = parse_formats(optarg, &bad);
            if (!o.build.formats)
                return usage_error("watch", "unknown format '%s' (use apkg, csv, quizlet)", bad ? bad : optarg);
            break;
        }
        case 'A': o.build.answered_only = 1; break;
        case 'q': o.verbosity = -1; break;
        case 'v': o.verbosity = 1; break;
        case 'h': print_help("watch", stdout); return EXIT_OK;
        default:
            return usage_error("watch", "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (!*o.build.outdir) return usage_error("watch", "the output folder name is empty");
    o.ndecks = argc - optind;
    o.decks = argv + optind;
    /* A deck named on the command line must exist now: a typo should not
     * make a watcher that waits forever.  (One that vanishes later is
     * waited for.) */
    for (int i = 0; i < o.ndecks; i++) {
        struct stat st;
        if (stat(o.decks[i], &st) < 0 || !S_ISDIR(st.st_mode))
            return usage_error("watch", "'%s' is not a deck folder", o.decks[i]);
    }
    char **decks;
    size_t n = find_decks(o.ndecks, o.decks, &decks);
    free_deck_list(decks);
    if (!n)
        return usage_error("watch", "no decks: give deck folders, or run where ./decks/*/index.md exist");
    return watch_run(&o) == WATCH_STOPPED ? EXIT_OK : EXIT_SYSTEM;
}
