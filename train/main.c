#include <stdio.h>
#include <string.h>

#include "hop/hop.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("hop %s (BLAS: %s)\n", HOP_VERSION_STRING, hop_blas_name());
        return 0;
    }
    fprintf(stderr, "usage: hop --version\n");
    return 2;
}
