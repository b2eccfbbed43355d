/* main.c - the dispatcher: `mdeck COMMAND ARGS`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"build", cmd_build},
    {"check", cmd_check},
    {"inspect", cmd_inspect},
    {"watch", cmd_watch},
};

int main(int argc, char **argv)
{
    /* A closed pipe (mdeck check --json | head) is an ordinary end of output. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        print_help(NULL, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_help(NULL, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("mdeck %s\n", MDECK_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            print_help(NULL, stdout);
            return EXIT_OK;
        }
        if (print_help(argv[2], stdout) < 0)
            return usage_error(NULL, "no such command: '%s'", argv[2]);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    if (cmd[0] == '-') return usage_error(NULL, "unknown option '%s'", cmd);
    return usage_error(NULL, "no such command: '%s'", cmd);
}
