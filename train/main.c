#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "hop/hop.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: hop COMMAND [FLAGS]\n"
            "\n"
            "Commands:\n"
            "  mil        train Hopfield-pooling MIL classifiers with cross-validation\n"
            "\n"
            "Flags:\n"
            "  --help     show this help; 'hop COMMAND --help' lists a command's flags\n"
            "  --version  print the version and the BLAS library\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        printf("hop %s (BLAS: %s)\n", HOP_VERSION_STRING, hop_blas_name());
        return 0;
    }
    if (strcmp(command, "mil") == 0)
        return cmd_mil(argc, argv);

    fprintf(stderr, "hop: unknown command '%s'; run 'hop --help' for the list\n", command);
    return 2;
}
