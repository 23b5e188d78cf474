/* TODO: replace this placeholder with the real 'hop predict' command. */
#include <stdio.h>

#include "commands.h"

int cmd_predict(int argc, char **argv)
{
    fprintf(stderr, "hop predict: not available in this build yet\n");
    return 2;
}
