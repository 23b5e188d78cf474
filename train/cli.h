/* Command-line flag tables shared by the hop subcommands. */
#ifndef HOP_TRAIN_CLI_H
#define HOP_TRAIN_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "hop/base.h"

typedef enum cli_type { CLI_INT, CLI_FLOAT, CLI_STRING, CLI_BOOL, CLI_SEED } cli_type;

/*
 * Exit statuses of the hop program: 2 for usage errors (an unknown command or flag, an
 * invalid flag value, a missing or conflicting flag), 1 for runtime errors (unreadable or
 * invalid input files, failed writes).
 */
#define CLI_EXIT_RUNTIME 1
#define CLI_EXIT_USAGE   2

/* One flag: --name VALUE, --name=VALUE (or --name alone for CLI_BOOL), stored into target. */
typedef struct cli_flag {
    const char *name;
    cli_type type;
    void *target;    /* int, float, const char *, bool or uint64_t */
    double min, max; /* inclusive range for numbers; a seed takes any uint64_t */
    const char *unit;
    const char *help; /* may end with CLI_DEFAULT("text") */
} cli_flag;

/*
 * Appended to a flag's help string, replaces the printed default value with text, for
 * defaults decided at run time: "OpenBLAS and hop threads" CLI_DEFAULT("the online cores").
 */
#define CLI_DEFAULT_MARK  '\x1f'
#define CLI_DEFAULT(text) "\x1f" text

/*
 * Parses argv[first..argc) against flags. Returns HOP_OK, or HOP_ERR_ARG with a message
 * naming the flag and value for an unknown or repeated flag, a missing or malformed value,
 * or a number out of range. Sets *help when --help or -h is present.
 */
hop_status cli_parse(const cli_flag *flags, int n_flags, int argc, char **argv, int first,
                     bool *help, hop_error *err);

/* Prints one line per flag with its unit and current (default) value. */
void cli_print_flags(FILE *out, const cli_flag *flags, int n_flags);

/* A path given by a flag; path is NULL when the flag was not given. */
typedef struct cli_path {
    const char *flag;
    const char *path;
} cli_path;

/*
 * Rejects an output that names the same file as an input or as another output: the same
 * device and inode when both exist, else the same resolved path. Returns HOP_ERR_ARG with a
 * message naming both flags.
 */
hop_status cli_check_outputs(const cli_path *outputs, int n_outputs, const cli_path *inputs,
                             int n_inputs, hop_error *err);

/*
 * Checks before a long run that each output path (NULL paths are skipped) can be created:
 * it is not a folder and its folder exists. Returns HOP_ERR_ARG naming the flag and path.
 */
hop_status cli_check_writable(const cli_path *outputs, int n_outputs, hop_error *err);

#endif
