/* TODO: replace this placeholder with the real 'hop proto' command. */
#include <stdio.h>

#include "commands.h"

int cmd_proto(int argc, char **argv)
{
    fprintf(stderr, "hop proto: not available in this build yet\n");
    return 2;
}
