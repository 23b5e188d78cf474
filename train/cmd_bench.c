/* TODO: replace this placeholder with the real 'hop bench' command. */
#include <stdio.h>

#include "commands.h"

int cmd_bench(int argc, char **argv)
{
    fprintf(stderr, "hop bench: not available in this build yet\n");
    return 2;
}
