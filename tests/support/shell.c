/* Shell commands for the CLI tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>

#include "support/shell.h"

int test_run_command(const char *command, char *out, size_t size)
{
    FILE *pipe = popen(command, "r");
    cr_assert_not_null(pipe, "popen failed for '%s'", command);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = '\0';
    int raw = pclose(pipe);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}
