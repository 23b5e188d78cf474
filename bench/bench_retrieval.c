/* hop bench retrieval: x <- softmax(beta x Y^T) Y against the sgemm rate of its shapes. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "hop/blas.h"
#include "hop/retrieval.h"
#include "hop/threads.h"

typedef struct retrieval_options {
    int n, d, queries, steps, threads, repeats, chunk, keep_mib;
    float beta;
    const char *pass;
    uint64_t seed;
} retrieval_options;

typedef struct retrieval_arrays {
    float *stored, *queries, *out, *grad_out, *grad_queries, *grad_stored;
} retrieval_arrays;

static void arrays_free(retrieval_arrays *a)
{
    free(a->stored);
    free(a->queries);
    free(a->out);
    free(a->grad_out);
    free(a->grad_queries);
    free(a->grad_stored);
}

static int arrays_alloc(retrieval_arrays *a, const retrieval_options *o, bool backward)
{
    size_t nd = (size_t)o->n * (size_t)o->d, bd = (size_t)o->queries * (size_t)o->d;
    memset(a, 0, sizeof *a);
    a->stored = malloc(nd * sizeof(float));
    a->queries = malloc(bd * sizeof(float));
    a->out = malloc(bd * sizeof(float));
    if (backward) {
        a->grad_out = malloc(bd * sizeof(float));
        a->grad_queries = malloc(bd * sizeof(float));
        a->grad_stored = malloc(nd * sizeof(float));
    }
    if (!a->stored || !a->queries || !a->out ||
        (backward && (!a->grad_out || !a->grad_queries || !a->grad_stored)))
        return 1;

    /* Patterns of unit-scale entries, and queries that are noisy copies of stored ones. */
    bench_fill_normal(a->stored, nd, o->seed);
    bench_fill_normal(a->queries, bd, o->seed + 1);
    for (int i = 0; i < o->queries; i++)
        for (int j = 0; j < o->d; j++)
            a->queries[(size_t)i * (size_t)o->d + (size_t)j] =
                0.5f * a->queries[(size_t)i * (size_t)o->d + (size_t)j] +
                a->stored[(size_t)(i % o->n) * (size_t)o->d + (size_t)j];
    if (backward)
        bench_fill_normal(a->grad_out, bd, o->seed + 2);
    return 0;
}

/*
 * The sgemm reference: the two products of a step, scores (B, D) x (D, N) and values
 * (B, N) x (N, D), each also in its transposed orientation, on the benchmark's own stored
 * patterns. Each shape's rate is the median of its calls, and the faster orientation of each
 * product counts, so the reference is the better of the two ways to lay out the work.
 */
enum { REF_SCORES, REF_SCORES_T, REF_VALUES, REF_VALUES_T, REF_SHAPES };
static const char *const ref_names[REF_SHAPES] = {"scores", "scores_transposed", "values",
                                                  "values_transposed"};

typedef struct reference {
    float *scores; /* (B, N), or (N, B) after REF_SCORES_T */
    float *values; /* (B, D) */
    double *times[REF_SHAPES];
    double gflops[REF_SHAPES];
} reference;

static void reference_free(reference *ref)
{
    free(ref->scores);
    free(ref->values);
    for (int i = 0; i < REF_SHAPES; i++)
        free(ref->times[i]);
}

static int reference_alloc(reference *ref, const retrieval_options *o)
{
    memset(ref, 0, sizeof *ref);
    ref->scores = malloc((size_t)o->queries * (size_t)o->n * sizeof(float));
    ref->values = malloc((size_t)o->queries * (size_t)o->d * sizeof(float));
    int failed = !ref->scores || !ref->values;
    for (int i = 0; i < REF_SHAPES; i++) {
        ref->times[i] = malloc((size_t)o->repeats * sizeof(double));
        failed |= !ref->times[i];
    }
    return failed;
}

/* Runs one reference shape and returns its seconds. The scores shapes run first, so the
 * values shapes read finite scores. */
static double reference_call(const retrieval_options *o, reference *ref, const retrieval_arrays *a,
                             int shape)
{
    int b = o->queries, n = o->n, d = o->d;
    double t0 = bench_now();
    if (shape == REF_SCORES)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, d, 1.0f, a->queries, d,
                    a->stored, d, 0.0f, ref->scores, n);
    else if (shape == REF_SCORES_T)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, b, d, 1.0f, a->stored, d,
                    a->queries, d, 0.0f, ref->scores, b);
    else if (shape == REF_VALUES)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, d, n, 1.0f, ref->scores, n,
                    a->stored, d, 0.0f, ref->values, d);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, d, n, 1.0f, ref->scores, b,
                    a->stored, d, 0.0f, ref->values, d);
    return bench_now() - t0;
}

/* Combines the shapes' medians into the rate of one step's two products. */
static double reference_gflops(const retrieval_options *o, reference *ref)
{
    double flops = 2.0 * o->queries * (double)o->n * o->d;
    for (int i = 0; i < REF_SHAPES; i++)
        ref->gflops[i] = flops / bench_summarize(ref->times[i], o->repeats).median * 1e-9;
    double scores = fmax(ref->gflops[REF_SCORES], ref->gflops[REF_SCORES_T]);
    double values = fmax(ref->gflops[REF_VALUES], ref->gflops[REF_VALUES_T]);
    return 2.0 / (1.0 / scores + 1.0 / values); /* equal flops: harmonic mean */
}

static void print_help(const cli_flag *flags, int n_flags)
{
    printf("usage: hop bench retrieval [FLAGS]\n\n"
           "Times T steps of x <- softmax(beta x Y^T) Y over N stored patterns of width D for B\n"
           "queries, and with --pass fwdbwd also the gradients with respect to the queries and\n"
           "Y. GFLOP/s counts 2 N D B per product, two products per step, and 3x the forward\n"
           "for fwdbwd. The same process times cblas_sgemm on the two products of a step, each\n"
           "in its faster orientation, with the same thread count for comparison.\n\nFlags:\n");
    cli_print_flags(stdout, flags, n_flags);
}

/* Runs one timed retrieval call and returns its seconds. */
static double retrieve(hop_retriever *r, retrieval_arrays *a, bool backward)
{
    double t0 = bench_now();
    hop_retriever_forward(r, a->stored, a->queries, a->out);
    if (backward)
        hop_retriever_backward(r, a->stored, a->grad_out, a->grad_queries, a->grad_stored);
    return bench_now() - t0;
}

static int run(const retrieval_options *o, bool backward)
{
    hop_error err;
    hop_error_clear(&err);
    /* The BLAS runs serially inside each worker of hop's own pool. */
    hop_blas_set_threads(1);
    hop_pool *pool = NULL;
    hop_retriever *r = NULL;
    retrieval_arrays a;
    long base_kib = bench_rss_kib();
    if (arrays_alloc(&a, o, backward) != 0) {
        arrays_free(&a);
        fprintf(stderr, "hop bench retrieval: out of memory for N %d, D %d\n", o->n, o->d);
        return 1;
    }
    float beta = o->beta > 0 ? o->beta : 1.0f / sqrtf((float)o->d);
    hop_retriever_config config = {
        .stored = o->n,
        .width = o->d,
        .queries = o->queries,
        .steps = o->steps,
        .beta = beta,
        .chunk = o->chunk,
        .keep_limit = backward ? (size_t)o->keep_mib << 20 : 0,
    };
    if (hop_pool_new(&pool, o->threads, &err) != HOP_OK ||
        hop_retriever_new(&r, &config, pool, &err) != HOP_OK) {
        fprintf(stderr, "hop bench retrieval: %s\n", err.message);
        arrays_free(&a);
        hop_pool_free(pool);
        return 1;
    }

    double *times = malloc((size_t)o->repeats * sizeof *times);
    if (!times) {
        fprintf(stderr, "hop bench retrieval: out of memory for %d repeats\n", o->repeats);
        hop_retriever_free(r);
        hop_pool_free(pool);
        arrays_free(&a);
        return 1;
    }
    double warm = bench_now();
    do
        retrieve(r, &a, backward);
    while (bench_now() - warm < BENCH_WARMUP_SECONDS);
    /* The peak is read before the sgemm reference allocates its (B, N) scores. */
    long peak = bench_peak_rss_kib();

    reference ref;
    int status = reference_alloc(&ref, o);
    if (status != 0)
        fprintf(stderr, "hop bench retrieval: out of memory for the sgemm reference\n");
    for (int shape = 0; status == 0 && shape < REF_SHAPES; shape++) {
        hop_blas_set_threads(o->threads);
        warm = bench_now();
        do
            reference_call(o, &ref, &a, shape);
        while (bench_now() - warm < BENCH_WARMUP_SECONDS / REF_SHAPES);
    }
    /* hop's calls and the reference's alternate, so that both see the same machine. */
    for (int rep = 0; status == 0 && rep < o->repeats; rep++) {
        hop_blas_set_threads(1);
        times[rep] = retrieve(r, &a, backward);
        hop_blas_set_threads(o->threads);
        for (int shape = 0; shape < REF_SHAPES; shape++)
            ref.times[shape][rep] = reference_call(o, &ref, &a, shape);
    }

    size_t workspace = hop_retriever_workspace_bytes(r);
    bool kept_scores = hop_retriever_keeps_scores(r);
    hop_retriever_free(r);
    hop_pool_free(pool);
    arrays_free(&a);
    if (status != 0) {
        reference_free(&ref);
        free(times);
        return 1;
    }
    bench_stats s = bench_summarize(times, o->repeats);
    free(times);
    double sgemm = reference_gflops(o, &ref);
    double flops = 4.0 * o->n * (double)o->d * o->queries * o->steps * (backward ? 3 : 1);
    double patterns_mib = (double)o->n * o->d * 4.0 / 1048576.0;

    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "benchmark", "retrieval");
    bench_add_environment(json, o->threads);
    cJSON_AddNumberToObject(json, "n", o->n);
    cJSON_AddNumberToObject(json, "d", o->d);
    cJSON_AddNumberToObject(json, "queries", o->queries);
    cJSON_AddNumberToObject(json, "steps", o->steps);
    cJSON_AddNumberToObject(json, "beta", beta);
    cJSON_AddStringToObject(json, "pass", backward ? "fwdbwd" : "fwd");
    cJSON_AddNumberToObject(json, "chunk", o->chunk);
    cJSON_AddNumberToObject(json, "keep_limit_mib", o->keep_mib);
    cJSON_AddBoolToObject(json, "kept_scores", kept_scores);
    bench_add_stats(json, "seconds", s);
    cJSON_AddNumberToObject(json, "gflops", flops / s.median * 1e-9);
    cJSON_AddNumberToObject(json, "gflops_best", flops / s.min * 1e-9);
    cJSON_AddNumberToObject(json, "sgemm_gflops", sgemm);
    cJSON *shapes = cJSON_AddObjectToObject(json, "sgemm_shape_gflops");
    for (int i = 0; i < REF_SHAPES; i++)
        cJSON_AddNumberToObject(shapes, ref_names[i], ref.gflops[i]);
    reference_free(&ref);
    cJSON_AddNumberToObject(json, "fraction_of_sgemm", flops / s.median * 1e-9 / sgemm);
    cJSON_AddNumberToObject(json, "peak_rss_mib", peak / 1024.0);
    cJSON_AddNumberToObject(json, "rss_before_arrays_mib", base_kib / 1024.0);
    cJSON_AddNumberToObject(json, "pattern_mib", patterns_mib);
    cJSON_AddNumberToObject(json, "pattern_arrays_mib", patterns_mib * (backward ? 2 : 1));
    cJSON_AddNumberToObject(json, "workspace_mib", (double)workspace / 1048576.0);
    cJSON_AddNumberToObject(json, "peak_beyond_patterns_mib",
                            peak / 1024.0 - patterns_mib * (backward ? 2 : 1));
    return bench_print(json);
}

/* The stored patterns and the (B, N) scores of the sgemm reference are single arrays. */
static int check_sizes(const retrieval_options *o)
{
    bench_factor stored[2] = {{"--n", o->n}, {"--d", o->d}};
    bench_factor scores[2] = {{"--queries", o->queries}, {"--n", o->n}};
    if (bench_check_size("retrieval", stored, 2, "pattern elements") != 0)
        return 2;
    return bench_check_size("retrieval", scores, 2, "score elements");
}

int bench_retrieval(int argc, char **argv)
{
    retrieval_options o = {.n = 10000,
                           .d = 64,
                           .queries = 64,
                           .steps = 1,
                           .threads = 1,
                           .repeats = 5,
                           .chunk = 1024,
                           .keep_mib = 32,
                           .pass = "fwd",
                           .seed = 1};
    bool help = false;
    const cli_flag flags[] = {
        {"n", CLI_INT, &o.n, 1, 2e9, "patterns", "stored patterns N"},
        {"d", CLI_INT, &o.d, 1, 65536, "features", "pattern width D"},
        {"queries", CLI_INT, &o.queries, 1, 65536, "queries", "query rows B"},
        {"steps", CLI_INT, &o.steps, 1, 1000, "steps", "retrieval steps T"},
        {"pass", CLI_STRING, &o.pass, 0, 0, "", "fwd, or fwdbwd for forward and backward"},
        {"threads", CLI_INT, &o.threads, 1, 256, "threads", "worker threads"},
        {"chunk", CLI_INT, &o.chunk, 0, 2e9, "patterns",
         "stored patterns per online-softmax chunk, 0 = whole score matrix"},
        {"keep-limit", CLI_INT, &o.keep_mib, 0, 1e6, "MiB",
         "fwdbwd: keep the scores for backward when they fit, 0 = never"},
        {"beta", CLI_FLOAT, &o.beta, 0, 1e6, "", "inverse temperature, 0 = 1/sqrt(D)"},
        {"repeats", CLI_INT, &o.repeats, 1, 1e5, "runs", "timed calls after the warm-up"},
        {"seed", CLI_SEED, &o.seed, 0, (double)UINT64_MAX, "", "random seed of the patterns"},
    };
    int n_flags = (int)(sizeof flags / sizeof flags[0]);
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, n_flags, argc, argv, 3, &help, &err) != HOP_OK) {
        fprintf(stderr, "hop bench retrieval: %s\n", err.message);
        return 2;
    }
    if (help) {
        print_help(flags, n_flags);
        return 0;
    }
    bool backward = strcmp(o.pass, "fwdbwd") == 0;
    if (!backward && strcmp(o.pass, "fwd") != 0) {
        fprintf(stderr, "hop bench retrieval: --pass '%s' is invalid; use fwd or fwdbwd\n", o.pass);
        return 2;
    }
    if (check_sizes(&o) != 0)
        return 2;
    return run(&o, backward);
}
