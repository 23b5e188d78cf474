/* hop golden: runs every case of a golden file through hop and compares with the reference. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hop/golden.h"

#define N_GOLDEN_FLAGS 1

static void print_help(FILE *out, const cli_flag *flags)
{
    fprintf(out,
            "usage: hop golden FILE [FLAGS]\n"
            "\n"
            "Runs every case of FILE (text format hflayers-golden-v1) through hop's Hopfield,\n"
            "HopfieldPooling or HopfieldLayer, and prints one line per case: the verdict and\n"
            "max|hop - ref| / max(1, max|ref|) of each compared tensor. A case passes when\n"
            "every value is at most %g. Exits 1 when a case fails or cannot be run; a known\n"
            "departure from the reference does not fail.\n"
            "\n"
            "Flags:\n",
            HOP_GOLDEN_TOLERANCE);
    cli_print_flags(out, flags, N_GOLDEN_FLAGS);
}

static const char *verdict_name(hop_golden_verdict verdict)
{
    switch (verdict) {
    case HOP_GOLDEN_PASS: return "PASS";
    case HOP_GOLDEN_FAIL: return "FAIL";
    case HOP_GOLDEN_DEPARTURE: return "DEPARTURE";
    }
    return "FAIL";
}

static void print_result(const hop_golden_case *c, const hop_golden_result *r, bool failed_only)
{
    printf("%s %s: worst %.3g", verdict_name(r->verdict), c->name, r->worst_relative);
    for (int i = 0; i < r->n_checks; i++) {
        const hop_golden_check *check = &r->checks[i];
        if (failed_only && check->passed)
            continue;
        printf("; %s %.3g%s", check->what, check->max_diff / check->scale,
               check->passed ? "" : " (over)");
    }
    if (r->note[0])
        printf("; known departure: %s", r->note);
    printf("\n");
}

int cmd_golden(int argc, char **argv)
{
    bool failed_only = false;
    cli_flag flags[N_GOLDEN_FLAGS] = {
        {"failed-only", CLI_BOOL, &failed_only, 0, 0, "",
         "list only the tensors over the tolerance on each line"},
    };
    bool help = false;
    hop_error err;
    hop_error_clear(&err);
    bool has_file = argc >= 3 && strncmp(argv[2], "-", 1) != 0;
    if (cli_parse(flags, N_GOLDEN_FLAGS, argc, argv, has_file ? 3 : 2, &help, &err) != HOP_OK) {
        fprintf(stderr, "hop golden: %s\n", err.message);
        return 2;
    }
    if (help) {
        print_help(stdout, flags);
        return 0;
    }
    if (!has_file) {
        fprintf(stderr, "hop golden: missing FILE; run 'hop golden --help' for usage\n");
        return 2;
    }

    hop_golden_file file;
    if (hop_golden_load(argv[2], &file, &err) != HOP_OK) {
        fprintf(stderr, "hop golden: %s\n", err.message);
        return 1;
    }
    int passed = 0, failed = 0, departures = 0, errors = 0;
    for (int i = 0; i < file.n_cases; i++) {
        hop_golden_result result;
        hop_error_clear(&err);
        if (hop_golden_run_case(&file.cases[i], &result, &err) != HOP_OK) {
            printf("FAIL %s: cannot be run: %s\n", file.cases[i].name, err.message);
            errors++;
            continue;
        }
        print_result(&file.cases[i], &result, failed_only);
        passed += result.verdict == HOP_GOLDEN_PASS;
        failed += result.verdict == HOP_GOLDEN_FAIL;
        departures += result.verdict == HOP_GOLDEN_DEPARTURE;
        hop_golden_result_free(&result);
    }
    printf("%d cases: %d passed, %d known departures, %d failed, %d could not be run\n",
           file.n_cases, passed, departures, failed, errors);
    int n_cases = file.n_cases;
    hop_golden_free(&file);
    if (n_cases == 0) {
        fprintf(stderr, "hop golden: %s contains no cases\n", argv[2]);
        return 1;
    }
    return failed + errors > 0 ? 1 : 0;
}
