/* TODO: replace this placeholder with the real 'hop golden' command. */
#include <stdio.h>

#include "commands.h"

int cmd_golden(int argc, char **argv)
{
    fprintf(stderr, "hop golden: not available in this build yet\n");
    return 2;
}
