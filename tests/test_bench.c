/* The size checks of the hop bench subcommands. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* Runs hop with args and returns its exit status; stderr goes to err. */
static int run_hop(const char *args, char *err, size_t size)
{
    char command[1024];
    snprintf(command, sizeof command, "%s %s 2>&1 >/dev/null", HOP_CLI_PATH, args);
    FILE *p = popen(command, "r");
    cr_assert_not_null(p);
    size_t n = fread(err, 1, size - 1, p);
    err[n] = '\0';
    int raw = pclose(p);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

Test(bench, mil_instance_overflow_is_rejected)
{
    char err[2048];
    int status = run_hop("bench mil --bags 4295 --min-inst 1000000 --max-inst 1000000 --d-in 1 "
                         "--epochs 1",
                         err, sizeof err);
    cr_assert_eq(status, 2, "stderr: %s", err);
    cr_assert(strstr(err, "--bags 4295 x --max-inst 1000000") != NULL, "stderr: %s", err);
    cr_assert(strstr(err, "instances") != NULL, "stderr: %s", err);
}

Test(bench, mil_feature_overflow_names_d_in)
{
    char err[2048];
    int status = run_hop("bench mil --bags 100000 --max-inst 1000 --d-in 100", err, sizeof err);
    cr_assert_eq(status, 2, "stderr: %s", err);
    cr_assert(strstr(err, "--d-in 100") != NULL, "stderr: %s", err);
}

Test(bench, retrieval_pattern_overflow_is_rejected)
{
    char err[2048];
    int status = run_hop("bench retrieval --n 2000000000 --d 2", err, sizeof err);
    cr_assert_eq(status, 2, "stderr: %s", err);
    cr_assert(strstr(err, "--n 2000000000 x --d 2") != NULL, "stderr: %s", err);
}

Test(bench, sgemm_overflow_is_rejected)
{
    char err[2048];
    int status = run_hop("bench sgemm --m 100000 --k 100000", err, sizeof err);
    cr_assert_eq(status, 2, "stderr: %s", err);
    cr_assert(strstr(err, "--m 100000 x --k 100000") != NULL, "stderr: %s", err);
}

Test(bench, small_mil_run_succeeds)
{
    char err[2048];
    int status = run_hop("bench mil --bags 4 --min-inst 2 --max-inst 3 --d-in 3 --epochs 1", err,
                         sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
}
