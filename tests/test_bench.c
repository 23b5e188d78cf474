/* The hop bench subcommands: size checks and small runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support/shell.h"

/* Runs hop with args and returns its exit status; stderr goes to err. */
static int run_hop(const char *args, char *err, size_t size)
{
    char command[1024];
    snprintf(command, sizeof command, "%s %s 2>&1 >/dev/null", HOP_CLI_PATH, args);
    return test_run_command(command, err, size);
}

/* Runs hop with args and returns its exit status; stdout goes to out. */
static int run_hop_stdout(const char *args, char *out, size_t size)
{
    char command[1024];
    snprintf(command, sizeof command, "%s %s 2>/dev/null", HOP_CLI_PATH, args);
    return test_run_command(command, out, size);
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

Test(bench, retrieval_reports_kept_scores)
{
    char out[4096];
    const char *base = "bench retrieval --n 500 --d 8 --queries 4 --repeats 2 --chunk 100";
    char args[256];
    snprintf(args, sizeof args, "%s --pass fwdbwd", base);
    cr_assert_eq(run_hop_stdout(args, out, sizeof out), 0, "stdout: %s", out);
    cr_assert(strstr(out, "\"kept_scores\":true"), "%s", out);
    cr_assert(strstr(out, "\"scores_transposed\":"), "%s", out);
    cr_assert(strstr(out, "\"values_transposed\":"), "%s", out);

    snprintf(args, sizeof args, "%s --pass fwdbwd --keep-limit 0", base);
    cr_assert_eq(run_hop_stdout(args, out, sizeof out), 0, "stdout: %s", out);
    cr_assert(strstr(out, "\"kept_scores\":false"), "%s", out);

    /* A forward-only run never keeps scores, whatever the limit. */
    snprintf(args, sizeof args, "%s --pass fwd", base);
    cr_assert_eq(run_hop_stdout(args, out, sizeof out), 0, "stdout: %s", out);
    cr_assert(strstr(out, "\"kept_scores\":false"), "%s", out);
}

Test(bench, mil_compare_threads_reports_speedup)
{
    char out[4096];
    int status = run_hop_stdout("bench mil --bags 8 --min-inst 2 --max-inst 4 --d-in 3 --epochs 2 "
                                "--batch 4 --threads 2 --compare-threads 1",
                                out, sizeof out);
    cr_assert_eq(status, 0, "stdout: %s", out);
    cr_assert(strstr(out, "\"compared\":{\"threads\":1,\"shards\":1,"), "%s", out);
    cr_assert(strstr(out, "\"speedup_over_compared\":{\"median\":"), "%s", out);

    /* Without a comparison the report has neither. */
    status = run_hop_stdout("bench mil --bags 8 --min-inst 2 --max-inst 4 --d-in 3 --epochs 1", out,
                            sizeof out);
    cr_assert_eq(status, 0, "stdout: %s", out);
    cr_assert_null(strstr(out, "\"compared\""), "%s", out);
    cr_assert_null(strstr(out, "speedup"), "%s", out);
}
