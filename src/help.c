/* help.c - every command's usage text, in one place: --help, `mdeck help
 * COMMAND` and the man page's synopsis come from here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"

struct help {
    const char *cmd, *text;
};

static const struct help helps[] = {
    {NULL,
     "usage: mdeck [--help] [--version] COMMAND [ARGS]\n"
     "\n"
     "Turn markdown question indexes into Anki and Quizlet decks.\n"
     "\n"
     "Commands:\n"
     "  build     build decks into .apkg, .csv and Quizlet files\n"
     "  check     parse decks and report problems, without writing\n"
     "  inspect   list the decks, note types, notes and media of an .apkg\n"
     "  watch     rebuild decks whenever their sources change\n"
     "  help      show the help of a command\n"
     "\n"
     "A deck is a folder holding index.md. Without DECK arguments, every\n"
     "folder under ./decks that holds an index.md is used.\n"
     "\n"
     "Exit status: 0 success, 1 source or output errors, 2 usage error,\n"
     "3 environment error (cannot watch, lock held).\n"
     "See mdeck(1) and mdeck-format(5).\n"},
    {"build",
     "usage: mdeck build [-o DIR] [--format LIST] [--answered-only] [-q] [DECK...]\n"
     "\n"
     "Builds each deck into DIR/<deck>.apkg, DIR/<deck>.csv and\n"
     "DIR/<deck>.quizlet.txt.  Outputs are replaced atomically and only when\n"
     "their bytes changed; a deck with errors leaves its previous outputs as\n"
     "they were.\n"
     "\n"
     "  -o, --output DIR     output folder (default: ./out)\n"
     "  -f, --format LIST    comma-separated outputs: apkg, csv, quizlet\n"
     "                       (default: the deck's 'formats', else all three)\n"
     "      --answered-only  leave out questions that have no answer yet\n"
     "  -q, --quiet          print errors only\n"
     "  -h, --help           show this help\n"},
    {"check",
     "usage: mdeck check [--json] [DECK...]\n"
     "\n"
     "Parses each deck and reports duplicates, possible duplicates, stray\n"
     "lines, unanswered questions and orphaned answers, as\n"
     "path:line:col: severity: message.  Writes nothing.\n"
     "\n"
     "  --json      print the parsed decks as JSON on stdout (see docs/format.md)\n"
     "  -h, --help  show this help\n"},
    {"inspect",
     "usage: mdeck inspect [--json] FILE.apkg\n"
     "\n"
     "Lists the decks, note types, notes and media of a legacy Anki package\n"
     "(one of ours or one exported by Anki).\n"
     "\n"
     "  --json      print as JSON\n"
     "  -h, --help  show this help\n"},
    {"watch",
     "usage: mdeck watch [-o DIR] [--debounce MS] [--poll SECONDS] [-q|-v] [DECK...]\n"
     "\n"
     "Builds the decks, then rebuilds a deck whenever its sources change, until\n"
     "SIGINT or SIGTERM.  A deck is rebuilt once its folder has been quiet for\n"
     "the debounce time, and at most 3 s after the first change of a burst; a\n"
     "build whose sources changed while it ran is not published, and a deck\n"
     "with errors keeps its previous outputs.  SIGHUP finds the decks again,\n"
     "rescans and rebuilds them all.  Hidden files and folders, editor and sync\n"
     "debris, mdeck.lock and the output folder never trigger a build.\n"
     "\n"
     "  -o, --output DIR     output folder (default: ./out); one watcher per folder\n"
     "      --debounce MS    quiet period before a rebuild (default: 200)\n"
     "      --poll SECONDS   also look at every deck this often (1-3600), for\n"
     "                       network file systems, which report no changes\n"
     "                       made on other machines\n"
     "  -f, --format LIST    outputs, as for mdeck build\n"
     "      --answered-only  leave out questions that have no answer yet\n"
     "  -q, --quiet          log errors only\n"
     "  -v, --verbose        also log what changed before each build\n"
     "  -h, --help           show this help\n"
     "\n"
     "Exit status: 0 after SIGINT/SIGTERM, 2 usage error, 3 cannot watch\n"
     "(inotify limits, another watcher holds the output folder).  See\n"
     "docs/watch.md.\n"},
};

int print_help(const char *cmd, FILE *f)
{
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        if ((!cmd && !helps[i].cmd) || (cmd && helps[i].cmd && !strcmp(cmd, helps[i].cmd))) {
            fputs(helps[i].text, f);
            return 0;
        }
    }
    return -1;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("mdeck: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mdeck %s%s--help' for more information.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}
