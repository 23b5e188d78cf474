/* TODO: replace this placeholder with the real 'hop memory' command. */
#include <stdio.h>

#include "commands.h"

int cmd_memory(int argc, char **argv)
{
    fprintf(stderr, "hop memory: not available in this build yet\n");
    return 2;
}
