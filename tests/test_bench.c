/* The hop bench subcommands: size checks and small runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support/shell.h"

Test(bench, mil_instance_overflow_is_rejected)
{
    test_run r = test_run_hop("bench mil --bags 4295 --min-inst 1000000 --max-inst 1000000 "
                              "--d-in 1 --epochs 1");
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--bags 4295 x --max-inst 1000000") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "instances") != NULL, "stderr: %s", r.err);
}

Test(bench, mil_feature_overflow_names_d_in)
{
    test_run r = test_run_hop("bench mil --bags 100000 --max-inst 1000 --d-in 100");
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--d-in 100") != NULL, "stderr: %s", r.err);
}

Test(bench, retrieval_pattern_overflow_is_rejected)
{
    test_run r = test_run_hop("bench retrieval --n 2000000000 --d 2");
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--n 2000000000 x --d 2") != NULL, "stderr: %s", r.err);
}

Test(bench, sgemm_overflow_is_rejected)
{
    test_run r = test_run_hop("bench sgemm --m 100000 --k 100000");
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--m 100000 x --k 100000") != NULL, "stderr: %s", r.err);
}

Test(bench, small_mil_run_succeeds)
{
    test_run r = test_run_hop("bench mil --bags 4 --min-inst 2 --max-inst 3 --d-in 3 --epochs 1");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
}

Test(bench, retrieval_reports_kept_scores)
{
    const char *base = "bench retrieval --n 500 --d 8 --queries 4 --repeats 2 --chunk 100";
    char args[256];
    snprintf(args, sizeof args, "%s --pass fwdbwd", base);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "\"kept_scores\":true"), "%s", r.out);
    cr_assert(strstr(r.out, "\"scores_transposed\":"), "%s", r.out);
    cr_assert(strstr(r.out, "\"values_transposed\":"), "%s", r.out);

    snprintf(args, sizeof args, "%s --pass fwdbwd --keep-limit 0", base);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "\"kept_scores\":false"), "%s", r.out);

    /* A forward-only run never keeps scores, whatever the limit. */
    snprintf(args, sizeof args, "%s --pass fwd", base);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "\"kept_scores\":false"), "%s", r.out);
}

Test(bench, mil_compare_threads_reports_speedup)
{
    test_run r = test_run_hop("bench mil --bags 8 --min-inst 2 --max-inst 4 --d-in 3 --epochs 2 "
                              "--batch 4 --threads 2 --compare-threads 1");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "\"compared\":{\"threads\":1,\"shards\":1,"), "%s", r.out);
    cr_assert(strstr(r.out, "\"speedup_over_compared\":{\"median\":"), "%s", r.out);

    /* Without a comparison the report has neither. */
    r = test_run_hop("bench mil --bags 8 --min-inst 2 --max-inst 4 --d-in 3 --epochs 1");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_null(strstr(r.out, "\"compared\""), "%s", r.out);
    cr_assert_null(strstr(r.out, "speedup"), "%s", r.out);
}
