/* Shell commands for the CLI tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/shell.h"

int test_exit_status(int raw)
{
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

void test_read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int test_run_command(const char *command, char *out, size_t size)
{
    FILE *pipe = popen(command, "r");
    cr_assert_not_null(pipe, "popen failed for '%s'", command);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = '\0';
    return test_exit_status(pclose(pipe));
}

test_run test_run_hop(const char *args)
{
    test_run r;
    char dir[] = "/tmp/hop-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char out_path[64], err_path[64], command[4096];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    snprintf(command, sizeof command, "%s %s >%s 2>%s", HOP_CLI_PATH, args, out_path, err_path);

    r.status = test_exit_status(system(command));
    test_read_text(out_path, r.out, sizeof r.out);
    test_read_text(err_path, r.err, sizeof r.err);
    remove(out_path);
    remove(err_path);
    rmdir(dir);
    return r;
}
