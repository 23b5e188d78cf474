/* hop bench: sgemm, Hopfield retrieval and MIL training benchmarks, each ending in JSON. */
#include <stdio.h>
#include <string.h>

#include "../bench/bench.h"
#include "commands.h"

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hop bench sgemm|retrieval|mil [FLAGS]\n"
                 "\n"
                 "  sgemm      cblas_sgemm GFLOP/s for one shape\n"
                 "  retrieval  x <- softmax(beta x Y^T) Y, forward or forward and backward\n"
                 "  mil        training steps of a Hopfield-pooling MIL model on synthetic bags\n"
                 "\n"
                 "'hop bench NAME --help' lists the flags of one benchmark. Each prints one\n"
                 "JSON object as its last line.\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 3) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[2];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(name, "sgemm") == 0)
        return bench_sgemm(argc, argv);
    if (strcmp(name, "retrieval") == 0)
        return bench_retrieval(argc, argv);
    if (strcmp(name, "mil") == 0)
        return bench_mil(argc, argv);
    fprintf(stderr, "hop bench: unknown benchmark '%s'; use sgemm, retrieval or mil\n", name);
    return 2;
}
