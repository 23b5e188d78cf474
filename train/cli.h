/* Command-line flag tables shared by the hop subcommands. */
#ifndef HOP_TRAIN_CLI_H
#define HOP_TRAIN_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "hop/base.h"

typedef enum cli_type { CLI_INT, CLI_FLOAT, CLI_STRING, CLI_BOOL, CLI_SEED } cli_type;

/* One flag: --name VALUE (or --name alone for CLI_BOOL), stored into target. */
typedef struct cli_flag {
    const char *name;
    cli_type type;
    void *target;    /* int, float, const char *, bool or uint64_t */
    double min, max; /* inclusive range for numbers */
    const char *unit;
    const char *help;
} cli_flag;

/*
 * Parses argv[first..argc) against flags. Returns HOP_OK, or HOP_ERR_ARG with a message
 * naming the flag and value for an unknown flag, a missing or malformed value, or a
 * number out of range. Sets *help when --help or -h is present.
 */
hop_status cli_parse(const cli_flag *flags, int n_flags, int argc, char **argv, int first,
                     bool *help, hop_error *err);

/* Prints one line per flag with its unit and current (default) value. */
void cli_print_flags(FILE *out, const cli_flag *flags, int n_flags);

#endif
