/* Timing, statistics, memory readings and the machine description of the benchmarks. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "hop/base.h"
#include "hop/blas.h"

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int bench_check_size(const char *command, const bench_factor *factors, int n, const char *what)
{
    double product = 1.0;
    for (int i = 0; i < n; i++)
        product *= (double)factors[i].value;
    if (product <= (double)BENCH_MAX_ELEMENTS)
        return 0;

    fprintf(stderr, "hop bench %s: ", command);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s %lld", i ? " x " : "", factors[i].flag, factors[i].value);
    fprintf(stderr, " = %.4g %s, above the limit of %lld; lower one of these flags\n", product,
            what, BENCH_MAX_ELEMENTS);
    return 2;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stats bench_summarize(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare_double);
    bench_stats s = {.min = values[0], .max = values[n - 1]};
    s.median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    return s;
}

void bench_add_stats(cJSON *json, const char *name, bench_stats stats)
{
    cJSON *item = cJSON_AddObjectToObject(json, name);
    cJSON_AddNumberToObject(item, "median", stats.median);
    cJSON_AddNumberToObject(item, "min", stats.min);
    cJSON_AddNumberToObject(item, "max", stats.max);
}

static long status_field_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long value = -1;
    size_t len = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return value;
}

long bench_peak_rss_kib(void)
{
    return status_field_kib("VmHWM");
}

long bench_rss_kib(void)
{
    return status_field_kib("VmRSS");
}

void bench_fill_normal(float *data, size_t n, unsigned long long seed)
{
    hop_rng rng;
    hop_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        data[i] = hop_rng_normal(&rng);
}

double bench_sgemm_gflops(int m, int n, int k, int transpose_a, int transpose_b, int repeats)
{
    size_t sa = (size_t)m * (size_t)k, sb = (size_t)k * (size_t)n, sc = (size_t)m * (size_t)n;
    float *a = malloc(sa * sizeof *a), *b = malloc(sb * sizeof *b), *c = malloc(sc * sizeof *c);
    double *times = malloc((size_t)repeats * sizeof *times);
    double rate = -1.0;
    if (a && b && c && times) {
        bench_fill_normal(a, sa, 1);
        bench_fill_normal(b, sb, 2);
        int lda = transpose_a ? m : k, ldb = transpose_b ? k : n;
        enum CBLAS_TRANSPOSE ta = transpose_a ? CblasTrans : CblasNoTrans;
        enum CBLAS_TRANSPOSE tb = transpose_b ? CblasTrans : CblasNoTrans;
        double warm = bench_now();
        do
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        while (bench_now() - warm < BENCH_WARMUP_SECONDS);
        for (int r = 0; r < repeats; r++) {
            double t0 = bench_now();
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
            times[r] = bench_now() - t0;
        }
        bench_stats s = bench_summarize(times, repeats);
        rate = 2.0 * (double)m * (double)n * (double)k / s.median * 1e-9;
    }
    free(a);
    free(b);
    free(c);
    free(times);
    return rate;
}

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *colon = strchr(line, ':');
        if (colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
        }
        break;
    }
    fclose(f);
}

void bench_add_environment(cJSON *json, int threads)
{
    char model[256];
    cpu_model(model, sizeof model);
    cJSON_AddStringToObject(json, "cpu", model);
    cJSON_AddStringToObject(json, "hop", HOP_VERSION_STRING);
    cJSON_AddStringToObject(json, "blas_provider", hop_blas_provider());
    char blas_name[64], blas_version[64];
    hop_blas_name_copy(blas_name, sizeof blas_name);
    hop_blas_version_copy(blas_version, sizeof blas_version);
    cJSON_AddStringToObject(json, "blas", blas_name);
    cJSON_AddStringToObject(json, "blas_version", blas_version);
    cJSON_AddNumberToObject(json, "threads", threads);
}

int bench_print(cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (!text)
        return 1;
    printf("%s\n", text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}
