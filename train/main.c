#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hop/blas.h"
#include "hop/hop.h"

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hop COMMAND [FLAGS]\n"
                 "\n"
                 "Commands:\n"
                 "  mil        train Hopfield-pooling MIL classifiers with cross-validation\n"
                 "  predict    score bags with a model saved by 'hop mil --save-model'\n"
                 "  proto      prototype learning with HopfieldLayer, beside two baselines\n"
                 "  golden     check hop's Hopfield layers against reference outputs\n"
                 "  memory     associative-memory experiments: capacity, retrieval, fixed points\n"
                 "  bench      benchmarks of sgemm, Hopfield retrieval and MIL training\n"
                 "\n"
                 "Flags:\n"
                 "  --help     show this help; 'hop COMMAND --help' lists a command's flags\n"
                 "  --version  print the version and the BLAS library\n");
}

/* Reports a failed write to stdout (a full disk, a closed pipe) that printf did not return. */
static int finish_stdout(int status)
{
    errno = 0;
    int flushed = fflush(stdout);
    if (flushed == 0 && !ferror(stdout))
        return status;
    int errnum = flushed != 0 && errno ? errno : EIO;
    fprintf(stderr, "hop: cannot write to standard output: %s\n", strerror(errnum));
    return status ? status : CLI_EXIT_RUNTIME;
}

static int run(int argc, char **argv)
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
        char blas[64];
        hop_blas_name_copy(blas, sizeof blas);
        printf("hop %s (BLAS: %s)\n", HOP_VERSION_STRING, blas);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"mil", cmd_mil},       {"predict", cmd_predict}, {"proto", cmd_proto},
        {"golden", cmd_golden}, {"memory", cmd_memory},   {"bench", cmd_bench},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(command, commands[i].name) == 0)
            return commands[i].run(argc, argv);

    fprintf(stderr, "hop: unknown command '%s'; run 'hop --help' for the list\n", command);
    return 2;
}

int main(int argc, char **argv)
{
    int status = run(argc, argv);
    return finish_stdout(status);
}
