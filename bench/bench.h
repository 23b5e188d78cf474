/* Shared helpers of the 'hop bench' subcommands: timing, statistics and memory. */
#ifndef HOP_BENCH_H
#define HOP_BENCH_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Seconds on the monotonic clock. */
double bench_now(void);

/* Median, minimum and maximum of n values (n >= 1); values is reordered. */
typedef struct bench_stats {
    double median, min, max;
} bench_stats;
bench_stats bench_summarize(double *values, int n);

/* Adds {"median", "min", "max"} under name to json. */
void bench_add_stats(cJSON *json, const char *name, bench_stats stats);

/* Peak (VmHWM) and current (VmRSS) resident memory of this process in KiB; -1 if unknown. */
long bench_peak_rss_kib(void);
long bench_rss_kib(void);

/* Fills n floats with N(0, 1) values from a xoshiro stream seeded by seed. */
void bench_fill_normal(float *data, size_t n, unsigned long long seed);

/* Untimed calls come first, at least one and for at least this long, so that the clock
 * rate and the first-touch page faults settle before timing. */
#define BENCH_WARMUP_SECONDS 0.2

/* GFLOP/s of cblas_sgemm with op(A) (m, k) and op(B) (k, n), median of repeats runs. */
double bench_sgemm_gflops(int m, int n, int k, int transpose_a, int transpose_b, int repeats);

/* Adds the machine, BLAS and thread count to json. */
void bench_add_environment(cJSON *json, int threads);

/* Prints json on one line to stdout and frees it; returns 0, or 1 when printing failed. */
int bench_print(cJSON *json);

/* Largest array, in elements, that a benchmark allocates: the BLAS and the bag offsets index
 * with int. */
#define BENCH_MAX_ELEMENTS 2147483647LL

/* One factor of an array size: the flag that sets it and its value. */
typedef struct bench_factor {
    const char *flag;
    long long value;
} bench_factor;

/* Returns 0 when the product of the n factors is at most BENCH_MAX_ELEMENTS. Otherwise prints
 * "hop bench COMMAND:" with each flag, its value, the product and what it counts (for example
 * "instances"), and returns 2. */
int bench_check_size(const char *command, const bench_factor *factors, int n, const char *what);

int bench_sgemm(int argc, char **argv);
int bench_retrieval(int argc, char **argv);
int bench_mil(int argc, char **argv);

#endif
