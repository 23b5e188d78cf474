/* hop bench sgemm: the BLAS's GFLOP/s for one matrix shape. */
#include <stdio.h>

#include "bench.h"
#include "cli.h"
#include "hop/blas.h"

int bench_sgemm(int argc, char **argv)
{
    int m = 1024, n = 1024, k = 1024, threads = 1, repeats = 10;
    bool transpose_b = false, help = false;
    const cli_flag flags[] = {
        {"m", CLI_INT, &m, 1, 1e6, "rows", "rows of A and C"},
        {"n", CLI_INT, &n, 1, 1e7, "columns", "columns of B and C"},
        {"k", CLI_INT, &k, 1, 1e7, "", "inner extent"},
        {"transpose-b", CLI_BOOL, &transpose_b, 0, 0, "", "B is stored (n, k) and transposed"},
        {"threads", CLI_INT, &threads, 1, 256, "threads", "BLAS threads"},
        {"repeats", CLI_INT, &repeats, 1, 1e5, "runs", "timed runs after the warm-up"},
    };
    int n_flags = (int)(sizeof flags / sizeof flags[0]);
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, n_flags, argc, argv, 3, &help, &err) != HOP_OK) {
        fprintf(stderr, "hop bench sgemm: %s\n", err.message);
        return 2;
    }
    if (help) {
        printf("usage: hop bench sgemm [FLAGS]\n\nTimes C = A op(B) with cblas_sgemm, row-major."
               "\n\nFlags:\n");
        cli_print_flags(stdout, flags, n_flags);
        return 0;
    }

    bench_factor a[2] = {{"--m", m}, {"--k", k}}, b[2] = {{"--k", k}, {"--n", n}};
    bench_factor c[2] = {{"--m", m}, {"--n", n}};
    if (bench_check_size("sgemm", a, 2, "elements of A") != 0 ||
        bench_check_size("sgemm", b, 2, "elements of B") != 0 ||
        bench_check_size("sgemm", c, 2, "elements of C") != 0)
        return 2;

    hop_blas_set_threads(threads);
    double gflops = bench_sgemm_gflops(m, n, k, 0, transpose_b, repeats);
    if (gflops < 0) {
        fprintf(stderr, "hop bench sgemm: out of memory for %d x %d x %d matrices\n", m, n, k);
        return 1;
    }
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "benchmark", "sgemm");
    bench_add_environment(json, threads);
    cJSON_AddNumberToObject(json, "m", m);
    cJSON_AddNumberToObject(json, "n", n);
    cJSON_AddNumberToObject(json, "k", k);
    cJSON_AddBoolToObject(json, "transpose_b", transpose_b);
    cJSON_AddNumberToObject(json, "gflops", gflops);
    return bench_print(json);
}
