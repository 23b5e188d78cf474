/* hop memory: associative-memory experiments, each writing a CSV table and a PNG plot. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hop/data.h"
#include "hop/memory.h"
#include "report.h"

#define MAX_LIST 64

static int fail(const char *sub, const hop_error *err)
{
    fprintf(stderr, "hop memory %s: %s\n", sub, err->message);
    return 1;
}

static int usage_fail(const char *sub, const hop_error *err)
{
    fail(sub, err);
    return CLI_EXIT_USAGE;
}

/* Rejects --out-csv equal to --out-png, and outputs that cannot be created, before a run. */
static hop_status check_outputs(const char *csv, const char *png, hop_error *err)
{
    cli_path outputs[] = {{"out-csv", csv}, {"out-png", png}};
    hop_status status = cli_check_outputs(outputs, 2, NULL, 0, err);
    if (status == HOP_OK)
        status = cli_check_writable(outputs, 2, err);
    return status;
}

/* Reports an empty item of a comma-separated flag value, or returns HOP_OK. */
static hop_status check_item_present(const char *flag, const char *text, const char *item,
                                     size_t length, hop_error *err)
{
    if (length > 0)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "--%s: '%s' has an empty item at character %d; separate the values with "
                         "single commas",
                         flag, text, (int)(item - text) + 1);
}

/*
 * Parses a comma-separated list of distinct numbers, each in [min, max], and each a whole
 * number when integer is set. Empty items are rejected.
 */
static hop_status parse_list(const char *flag, const char *text, double min, double max,
                             bool integer, double *values, int *count, hop_error *err)
{
    *count = 0;
    for (const char *p = text;; p++) {
        size_t length = strcspn(p, ",");
        hop_status status = check_item_present(flag, text, p, length, err);
        if (status != HOP_OK)
            return status;

        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end != p + length || errno == ERANGE || !isfinite(v))
            return hop_error_set(err, HOP_ERR_ARG, "--%s: '%.*s' is not a number", flag,
                                 (int)length, p);
        if (integer && v != floor(v))
            return hop_error_set(err, HOP_ERR_ARG, "--%s: '%.*s' is not a whole number", flag,
                                 (int)length, p);
        if (v < min || v > max)
            return hop_error_set(err, HOP_ERR_ARG, "--%s: %g is out of range; use %g to %g", flag,
                                 v, min, max);
        for (int i = 0; i < *count; i++)
            if (values[i] == v)
                return hop_error_set(err, HOP_ERR_ARG, "--%s: %g is listed twice", flag, v);
        if (*count == MAX_LIST)
            return hop_error_set(err, HOP_ERR_ARG, "--%s: at most %d values", flag, MAX_LIST);
        values[(*count)++] = v;

        p += length;
        if (*p == '\0')
            return HOP_OK;
    }
}

/* A growing text buffer; failed records an allocation failure, reported when written. */
typedef struct text_buffer {
    char *data;
    size_t length, capacity;
    bool failed;
} text_buffer;

__attribute__((format(printf, 2, 3))) static void text_printf(text_buffer *b, const char *format,
                                                              ...)
{
    va_list args;
    for (int attempt = 0; attempt < 2 && !b->failed; attempt++) {
        size_t room = b->capacity - b->length;
        va_start(args, format);
        int n = vsnprintf(b->data ? b->data + b->length : NULL, b->data ? room : 0, format, args);
        va_end(args);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->length += (size_t)n;
            return;
        }
        size_t capacity = (b->capacity + (size_t)n + 1) * 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
}

static hop_status text_write(text_buffer *b, const char *path, hop_error *err)
{
    hop_status status = b->failed ? hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %s", path)
                                  : write_file_atomic(path, b->data ? b->data : "", err);
    free(b->data);
    memset(b, 0, sizeof *b);
    return status;
}

/* hop memory capacity */

typedef struct capacity_cli {
    const char *networks, *dims, *separation, *corruption, *continuous_corruption, *out_csv,
        *out_png;
    int degree, queries, trials, min_patterns, max_patterns, max_steps;
    float beta, amount, continuous_amount, threshold, growth, success_distance;
    uint64_t seed;
    bool quiet;
} capacity_cli;

#define N_CAPACITY_FLAGS 21

static void capacity_flags(capacity_cli *o, cli_flag *t)
{
    cli_flag flags[N_CAPACITY_FLAGS] = {
        {"networks", CLI_STRING, &o->networks, 0, 0, "list",
         "networks to measure: classical, polynomial, exponential, continuous"},
        {"dims", CLI_STRING, &o->dims, 0, 0, "list", "pattern dimensions d"},
        {"degree", CLI_INT, &o->degree, 2, 16, "", "n of the polynomial network F(x) = x^n"},
        {"beta", CLI_FLOAT, &o->beta, 1e-6, 1e6, "", "beta of the exponential and continuous nets"},
        {"separation", CLI_STRING, &o->separation, 0, 0, "name",
         "continuous net: softmax, sparsemax or entmax15"},
        {"corruption", CLI_STRING, &o->corruption, 0, 0, "name",
         "query corruption: flip, mask, noise"},
        {"amount", CLI_FLOAT, &o->amount, 0, 100, "fraction",
         "entries flipped or masked (noise: standard deviation)"},
        {"continuous-corruption", CLI_STRING, &o->continuous_corruption, 0, 0, "name",
         "query corruption of the continuous net"},
        {"continuous-amount", CLI_FLOAT, &o->continuous_amount, 0, 100, "fraction",
         "--amount of the continuous net"},
        {"queries", CLI_INT, &o->queries, 1, 1e6, "queries", "queries per trial"},
        {"trials", CLI_INT, &o->trials, 1, 1e4, "trials", "pattern sets per point"},
        {"threshold", CLI_FLOAT, &o->threshold, 0, 1, "rate", "success rate counted as stored"},
        {"min-patterns", CLI_INT, &o->min_patterns, 1, 1e7, "patterns", "first N of the sweep"},
        {"max-patterns", CLI_INT, &o->max_patterns, 1, 1e7, "patterns", "last N of the sweep"},
        {"growth", CLI_FLOAT, &o->growth, 1.01, 16, "factor", "ratio of consecutive N"},
        {"max-steps", CLI_INT, &o->max_steps, 1, 1e5, "steps", "update cap per retrieval"},
        {"success-distance", CLI_FLOAT, &o->success_distance, 0, 2, "fraction of M",
         "continuous net: distance to the pattern counted as retrieved"},
        {"seed", CLI_SEED, &o->seed, 0, (double)UINT64_MAX, "", "random seed"},
        {"out-csv", CLI_STRING, &o->out_csv, 0, 0, "file", "success rates per network, d and N"},
        {"out-png", CLI_STRING, &o->out_png, 0, 0, "file", "capacity against d (gnuplot)"},
        {"quiet", CLI_BOOL, &o->quiet, 0, 0, "", "no progress lines on stderr"},
    };
    memcpy(t, flags, sizeof flags);
}

static void capacity_defaults(capacity_cli *o)
{
    *o = (capacity_cli){
        .networks = "classical,polynomial,exponential,continuous",
        .dims = "8,16,32,64",
        .separation = "softmax",
        .corruption = "flip",
        .continuous_corruption = "mask",
        .continuous_amount = 0.25f,
        .out_csv = "memory-capacity.csv",
        .out_png = "memory-capacity.png",
        .degree = 3,
        .queries = 100,
        .trials = 1,
        .min_patterns = 2,
        .max_patterns = 4096,
        .max_steps = 50,
        .beta = 1.0f,
        .amount = 0.1f,
        .threshold = 0.99f,
        .growth = 1.25f,
        .success_distance = 0.1f,
        .seed = 1,
    };
}

/* The list of distinct networks from a comma-separated string of names. */
static hop_status parse_networks(const char *text, hop_memory_kind *kinds, int *count,
                                 hop_error *err)
{
    *count = 0;
    for (const char *p = text;; p++) {
        size_t length = strcspn(p, ",");
        hop_status status = check_item_present("networks", text, p, length, err);
        if (status != HOP_OK)
            return status;

        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(length < 63 ? length : 63), p);
        hop_memory_kind kind;
        status = hop_memory_kind_parse(name, &kind, err);
        if (status != HOP_OK)
            return status;
        for (int i = 0; i < *count; i++)
            if (kinds[i] == kind)
                return hop_error_set(err, HOP_ERR_ARG, "--networks: '%s' is listed twice", name);
        kinds[(*count)++] = kind;

        p += length;
        if (*p == '\0')
            return HOP_OK;
    }
}

/*
 * The threshold as the double nearest the decimal the user typed: the float 0.99f is above
 * the double 0.99 that 99 successes in 100 give, so comparing with the float would count a
 * rate equal to the threshold as a failure.
 */
static double decimal_threshold(float threshold)
{
    char text[32];
    snprintf(text, sizeof text, "%.*g", FLT_DIG, (double)threshold);
    return strtod(text, NULL);
}

/* Sweeps N upwards for one network and d; writes the largest N with rate >= threshold. */
static hop_status capacity_sweep(const capacity_cli *o, hop_capacity_options *c, text_buffer *csv,
                                 int *capacity, bool *capped, hop_error *err)
{
    *capacity = 0;
    *capped = false;
    for (int n = o->min_patterns; n <= o->max_patterns;) {
        double rate = 0.0;
        c->n_patterns = n;
        hop_status status = hop_memory_success_rate(c, &rate, err);
        if (status != HOP_OK)
            return status;
        text_printf(csv, "%s,%d,%d,%.4f\n", hop_memory_kind_name(c->memory.kind), c->dim, n, rate);
        if (!o->quiet)
            fprintf(stderr, "capacity: %s d=%d N=%d success %.3f\n",
                    hop_memory_kind_name(c->memory.kind), c->dim, n, rate);
        if (rate < decimal_threshold(o->threshold))
            return HOP_OK;
        *capacity = n;
        int next = (int)lround(n * (double)o->growth);
        if (n == o->max_patterns)
            break;
        n = next > n ? next : n + 1;
        if (n > o->max_patterns)
            n = o->max_patterns;
    }
    *capped = true;
    return HOP_OK;
}

static hop_status capacity_plot(const capacity_cli *o, const hop_memory_kind *kinds, int n_kinds,
                                const double *dims, int n_dims, const double *table, hop_error *err)
{
    hop_plot_series series[HOP_MEMORY_KIND_COUNT + 2];
    char titles[HOP_MEMORY_KIND_COUNT][64];
    double classical_ref[MAX_LIST], poly_ref[MAX_LIST];
    int n_series = 0;
    for (int k = 0; k < n_kinds; k++) {
        snprintf(titles[k], sizeof titles[k], "%s", hop_memory_kind_name(kinds[k]));
        series[n_series++] = (hop_plot_series){titles[k], n_dims, dims, table + k * n_dims, false};
    }
    for (int i = 0; i < n_dims; i++) {
        classical_ref[i] = 0.14 * dims[i];
        poly_ref[i] = pow(dims[i], o->degree - 1) / pow(dims[0], o->degree - 1);
    }
    series[n_series++] = (hop_plot_series){"0.14 d", n_dims, dims, classical_ref, false};
    /* The d^(n-1) reference starts at the polynomial network's first measured capacity. */
    for (int k = 0; k < n_kinds; k++) {
        if (kinds[k] != HOP_MEMORY_POLYNOMIAL || !(table[k * n_dims] > 0))
            continue;
        for (int i = 0; i < n_dims; i++)
            poly_ref[i] *= table[k * n_dims];
        series[n_series++] = (hop_plot_series){"~ d^(n-1)", n_dims, dims, poly_ref, false};
    }
    hop_plot_spec spec = {
        .title = "Capacity: largest N retrieved with the success threshold",
        .xlabel = "dimension d",
        .ylabel = "patterns N",
        .logx = true,
        .logy = true,
        .n_series = n_series,
        .series = series,
    };
    return hop_plot_lines(&spec, o->out_png, err);
}

static int capacity_print_help(const cli_flag *flags)
{
    printf("usage: hop memory capacity [FLAGS]\n\n"
           "Stores N random patterns (binary +-1, on the sphere of radius sqrt(d) for the\n"
           "continuous net) and queries corrupted copies: by default 10%% of the entries\n"
           "flipped for the binary nets and 25%% masked for the continuous net. Reports the\n"
           "success rate for growing N and, per network and d, the largest N whose success\n"
           "rate reaches the threshold. A capacity marked '>=' reached --max-patterns.\n"
           "\nFlags:\n");
    cli_print_flags(stdout, flags, N_CAPACITY_FLAGS);
    return 0;
}

static hop_status capacity_setup(const capacity_cli *o, hop_capacity_options *base,
                                 hop_memory_kind *kinds, int *n_kinds, double *dims, int *n_dims,
                                 hop_error *err)
{
    hop_status status = parse_networks(o->networks, kinds, n_kinds, err);
    if (status == HOP_OK)
        status = parse_list("dims", o->dims, 1, 1e5, true, dims, n_dims, err);
    if (status == HOP_OK)
        status = hop_corruption_parse(o->corruption, &base->corruption, err);
    if (status == HOP_OK)
        status = hop_separation_parse(o->separation, &base->memory.separation, err);
    if (status == HOP_OK && o->min_patterns > o->max_patterns)
        status = hop_error_set(err, HOP_ERR_ARG, "--min-patterns %d exceeds --max-patterns %d",
                               o->min_patterns, o->max_patterns);
    base->n_queries = o->queries;
    base->trials = o->trials;
    base->amount = o->amount;
    base->success_distance = o->success_distance;
    base->seed = o->seed;
    return status;
}

static int run_capacity(int argc, char **argv)
{
    capacity_cli o;
    capacity_defaults(&o);
    cli_flag flags[N_CAPACITY_FLAGS];
    capacity_flags(&o, flags);
    hop_error err;
    hop_error_clear(&err);
    bool help = false;
    if (cli_parse(flags, N_CAPACITY_FLAGS, argc, argv, 3, &help, &err) != HOP_OK)
        return usage_fail("capacity", &err);
    if (help)
        return capacity_print_help(flags);
    if (check_outputs(o.out_csv, o.out_png, &err) != HOP_OK)
        return usage_fail("capacity", &err);

    hop_capacity_options base = {0};
    hop_memory_kind kinds[HOP_MEMORY_KIND_COUNT];
    double dims[MAX_LIST], table[HOP_MEMORY_KIND_COUNT * MAX_LIST];
    bool capped[HOP_MEMORY_KIND_COUNT * MAX_LIST];
    int n_kinds = 0, n_dims = 0;
    hop_corruption continuous_corruption = HOP_CORRUPT_MASK;
    /* These checks read flag values only, so a failure is a usage error. */
    if (capacity_setup(&o, &base, kinds, &n_kinds, dims, &n_dims, &err) != HOP_OK ||
        hop_corruption_parse(o.continuous_corruption, &continuous_corruption, &err) != HOP_OK)
        return usage_fail("capacity", &err);

    text_buffer csv = {0};
    text_printf(&csv, "network,dim,n_patterns,success_rate\n");
    hop_status status = HOP_OK;
    for (int k = 0; status == HOP_OK && k < n_kinds; k++) {
        for (int i = 0; status == HOP_OK && i < n_dims; i++) {
            hop_capacity_options c = base;
            c.memory = hop_memory_config_default(kinds[k]);
            c.memory.degree = o.degree;
            c.memory.beta = o.beta;
            c.memory.separation = base.memory.separation;
            c.memory.max_steps = o.max_steps;
            c.dim = (int)dims[i];
            if (kinds[k] == HOP_MEMORY_CONTINUOUS) {
                c.corruption = continuous_corruption;
                c.amount = o.continuous_amount;
            }
            int cap = 0;
            status = capacity_sweep(&o, &c, &csv, &cap, &capped[k * n_dims + i], &err);
            table[k * n_dims + i] = cap;
        }
    }
    if (status != HOP_OK) {
        free(csv.data);
        return fail("capacity", &err);
    }

    printf("| network | d | capacity N | N / d |\n|---|---|---|---|\n");
    for (int k = 0; k < n_kinds; k++)
        for (int i = 0; i < n_dims; i++)
            printf("| %s | %d | %s%d | %.2f |\n", hop_memory_kind_name(kinds[k]), (int)dims[i],
                   capped[k * n_dims + i] ? ">= " : "", (int)table[k * n_dims + i],
                   table[k * n_dims + i] / dims[i]);
    status = text_write(&csv, o.out_csv, &err);
    if (status == HOP_OK)
        status = capacity_plot(&o, kinds, n_kinds, dims, n_dims, table, &err);
    return status == HOP_OK ? 0 : fail("capacity", &err);
}

/* hop memory onestep */

typedef struct onestep_cli {
    hop_onestep_options run;
    const char *out_csv, *out_png;
} onestep_cli;

#define N_ONESTEP_FLAGS 10

static void onestep_flags(onestep_cli *o, cli_flag *t)
{
    cli_flag flags[N_ONESTEP_FLAGS] = {
        {"dim", CLI_INT, &o->run.dim, 2, 1e5, "", "pattern dimension d"},
        {"patterns", CLI_INT, &o->run.n_patterns, 2, 1e6, "patterns", "stored patterns N"},
        {"trials", CLI_INT, &o->run.trials, 1, 1e6, "trials", "pattern sets, one point each"},
        {"beta", CLI_FLOAT, &o->run.beta, 1e-6, 1e6, "", "inverse temperature"},
        {"radius", CLI_FLOAT, &o->run.radius, 0, 1e6, "", "pattern norm M; 0 selects sqrt(d)"},
        {"spread-min", CLI_FLOAT, &o->run.spread_min, 1e-6, 1e3, "",
         "smallest noise scale of the patterns around their centre"},
        {"spread-max", CLI_FLOAT, &o->run.spread_max, 1e-6, 1e3, "", "largest noise scale"},
        {"seed", CLI_SEED, &o->run.seed, 0, (double)UINT64_MAX, "", "random seed"},
        {"out-csv", CLI_STRING, &o->out_csv, 0, 0, "file", "separation, error and bound per trial"},
        {"out-png", CLI_STRING, &o->out_png, 0, 0, "file", "error and bound against separation"},
    };
    memcpy(t, flags, sizeof flags);
}

static hop_status onestep_outputs(const onestep_cli *o, const hop_onestep_point *points,
                                  hop_error *err)
{
    int n = o->run.trials;
    text_buffer csv = {0};
    text_printf(&csv, "trial,spread,delta,error,bound\n");
    int violations = 0;
    for (int t = 0; t < n; t++) {
        text_printf(&csv, "%d,%.6g,%.6g,%.6g,%.6g\n", t, points[t].spread, points[t].delta,
                    points[t].error, points[t].bound);
        violations += points[t].error > points[t].bound * (1.0 + 1e-4) + 1e-5;
    }
    printf("one-step retrieval: %d trials, %d above the bound 2 (N - 1) exp(-beta delta) M\n", n,
           violations);
    hop_status status = text_write(&csv, o->out_csv, err);
    double *x = malloc(3 * (size_t)n * sizeof *x);
    if (status == HOP_OK && !x)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the plot");
    if (status != HOP_OK) {
        free(x);
        return status;
    }
    double *error = x + n, *bound = x + 2 * n;
    for (int t = 0; t < n; t++) {
        x[t] = points[t].delta;
        error[t] = points[t].error;
        bound[t] = points[t].bound;
    }
    hop_plot_series series[2] = {
        {"error ||f(x_i) - x_i|| after one update", n, x, error, true},
        {"bound 2 (N-1) exp(-beta Delta) M", n, x, bound, true},
    };
    hop_plot_spec spec = {
        .title = "One-step retrieval error against the separation Delta",
        .xlabel = "separation Delta_i",
        .ylabel = "error",
        .logy = true,
        .n_series = 2,
        .series = series,
    };
    status = hop_plot_lines(&spec, o->out_png, err);
    free(x);
    return status;
}

static int run_onestep(int argc, char **argv)
{
    onestep_cli o = {
        .run = {.dim = 32,
                .n_patterns = 64,
                .trials = 300,
                .beta = 1.0f,
                .radius = 0.0f,
                .spread_min = 0.05f,
                .spread_max = 3.0f,
                .seed = 1},
        .out_csv = "memory-onestep.csv",
        .out_png = "memory-onestep.png",
    };
    cli_flag flags[N_ONESTEP_FLAGS];
    onestep_flags(&o, flags);
    hop_error err;
    hop_error_clear(&err);
    bool help = false;
    if (cli_parse(flags, N_ONESTEP_FLAGS, argc, argv, 3, &help, &err) != HOP_OK)
        return usage_fail("onestep", &err);
    if (help) {
        printf("usage: hop memory onestep [FLAGS]\n\n"
               "Stores N patterns of norm M spread around a common centre, updates once from\n"
               "the query x_i = pattern 0, and compares the error with the bound\n"
               "2 (N - 1) exp(-beta Delta_i) M of Ramsauer et al. (2020).\n\nFlags:\n");
        cli_print_flags(stdout, flags, N_ONESTEP_FLAGS);
        return 0;
    }
    if (o.run.spread_min > o.run.spread_max) {
        hop_error_set(&err, HOP_ERR_ARG, "--spread-min %g exceeds --spread-max %g",
                      (double)o.run.spread_min, (double)o.run.spread_max);
        return usage_fail("onestep", &err);
    }
    if (o.run.radius == 0.0f)
        o.run.radius = sqrtf((float)o.run.dim);
    if (check_outputs(o.out_csv, o.out_png, &err) != HOP_OK)
        return usage_fail("onestep", &err);

    hop_onestep_point *points = malloc((size_t)o.run.trials * sizeof *points);
    hop_status status = points ? hop_memory_onestep(&o.run, points, &err)
                               : hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for trials");
    if (status == HOP_OK)
        status = onestep_outputs(&o, points, &err);
    free(points);
    return status == HOP_OK ? 0 : fail("onestep", &err);
}

/* hop memory fixedpoints */

typedef struct fixed_cli {
    hop_fixedpoint_options run;
    const char *separation, *out_csv, *out_png;
    float beta_min, beta_max;
    int n_betas;
} fixed_cli;

#define N_FIXED_FLAGS 13

static void fixed_flags(fixed_cli *o, cli_flag *t)
{
    cli_flag flags[N_FIXED_FLAGS] = {
        {"dim", CLI_INT, &o->run.dim, 2, 1e5, "", "pattern dimension d"},
        {"clusters", CLI_INT, &o->run.n_clusters, 1, 1e4, "clusters", "pattern clusters"},
        {"cluster-size", CLI_INT, &o->run.cluster_size, 1, 1e5, "patterns", "patterns per cluster"},
        {"spread", CLI_FLOAT, &o->run.spread, 0, 100, "", "noise around a cluster centre"},
        {"queries", CLI_INT, &o->run.n_queries, 1, 1e6, "queries", "noisy stored patterns"},
        {"beta-min", CLI_FLOAT, &o->beta_min, 1e-6, 1e6, "", "smallest beta"},
        {"beta-max", CLI_FLOAT, &o->beta_max, 1e-6, 1e6, "", "largest beta"},
        {"betas", CLI_INT, &o->n_betas, 1, MAX_LIST, "values", "betas, evenly spaced in log"},
        {"separation", CLI_STRING, &o->separation, 0, 0, "name", "softmax, sparsemax or entmax15"},
        {"max-steps", CLI_INT, &o->run.max_steps, 1, 1e6, "steps", "update cap per query"},
        {"seed", CLI_SEED, &o->run.seed, 0, (double)UINT64_MAX, "", "random seed"},
        {"out-csv", CLI_STRING, &o->out_csv, 0, 0, "file", "one row per beta and query"},
        {"out-png", CLI_STRING, &o->out_png, 0, 0, "file", "fraction of each kind against beta"},
    };
    memcpy(t, flags, sizeof flags);
}

static int compare_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Per beta: fractions of the three kinds (3 x n_betas) and the median k. */
static void fixed_summary(const fixed_cli *o, const hop_fixedpoint_result *r, double *fractions,
                          double *median_k, int *ks)
{
    int q = o->run.n_queries;
    for (int b = 0; b < o->n_betas; b++) {
        for (int kind = 0; kind < 3; kind++)
            fractions[kind * o->n_betas + b] = 0.0;
        for (int i = 0; i < q; i++) {
            fractions[r[b * q + i].kind * o->n_betas + b] += 1.0 / q;
            ks[i] = r[b * q + i].k;
        }
        qsort(ks, (size_t)q, sizeof *ks, compare_int);
        median_k[b] = q % 2 ? ks[q / 2] : 0.5 * (ks[q / 2 - 1] + ks[q / 2]);
    }
}

static hop_status fixed_outputs(const fixed_cli *o, const double *betas,
                                const hop_fixedpoint_result *r, hop_error *err)
{
    int q = o->run.n_queries, nb = o->n_betas, n = o->run.n_clusters * o->run.cluster_size;
    text_buffer csv = {0};
    text_printf(&csv, "beta,query,steps,converged,k,kind,subset_distance\n");
    for (int i = 0; i < nb * q; i++)
        text_printf(&csv, "%.6g,%d,%d,%d,%d,%s,%.6g\n", r[i].beta, r[i].query, r[i].steps,
                    r[i].converged, r[i].k, hop_fixed_point_kind_name(r[i].kind),
                    r[i].subset_distance);
    hop_status status = text_write(&csv, o->out_csv, err);

    double fractions[3 * MAX_LIST], median_k[MAX_LIST];
    int *ks = malloc((size_t)q * sizeof *ks);
    if (status == HOP_OK && !ks)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d queries", q);
    if (status != HOP_OK) {
        free(ks);
        return status;
    }
    fixed_summary(o, r, fractions, median_k, ks);
    free(ks);
    printf("N = %d patterns; k = fewest weights summing to 0.9\n", n);
    printf("| beta | single | metastable | global | median k |\n|---|---|---|---|---|\n");
    for (int b = 0; b < nb; b++)
        printf("| %.4g | %.2f | %.2f | %.2f | %.1f |\n", betas[b], fractions[b], fractions[nb + b],
               fractions[2 * nb + b], median_k[b]);

    hop_plot_series series[3] = {
        {"single pattern (k = 1)", nb, betas, fractions, false},
        {"metastable (1 < k <= N/2)", nb, betas, fractions + nb, false},
        {"global average (k > N/2)", nb, betas, fractions + 2 * nb, false},
    };
    hop_plot_spec spec = {
        .title = "Fixed points reached from noisy patterns",
        .xlabel = "beta",
        .ylabel = "fraction of queries",
        .logx = true,
        .n_series = 3,
        .series = series,
    };
    return hop_plot_lines(&spec, o->out_png, err);
}

static int run_fixedpoints(int argc, char **argv)
{
    fixed_cli o = {
        .run = {.dim = 64,
                .n_clusters = 4,
                .cluster_size = 8,
                .spread = 0.5f,
                .n_queries = 64,
                .max_steps = 500,
                .seed = 1},
        .separation = "softmax",
        .out_csv = "memory-fixedpoints.csv",
        .out_png = "memory-fixedpoints.png",
        .beta_min = 0.1f,
        .beta_max = 1000.0f,
        .n_betas = 13,
    };
    cli_flag flags[N_FIXED_FLAGS];
    fixed_flags(&o, flags);
    hop_error err;
    hop_error_clear(&err);
    bool help = false;
    if (cli_parse(flags, N_FIXED_FLAGS, argc, argv, 3, &help, &err) != HOP_OK)
        return usage_fail("fixedpoints", &err);
    if (help) {
        printf("usage: hop memory fixedpoints [FLAGS]\n\n"
               "Stores clustered unit-norm patterns, iterates the continuous network from noisy\n"
               "patterns for each beta and classifies the fixed point by k, the fewest\n"
               "separation weights summing to 0.9: single (k = 1), metastable or global.\n"
               "\nFlags:\n");
        cli_print_flags(stdout, flags, N_FIXED_FLAGS);
        return 0;
    }
    if (hop_separation_parse(o.separation, &o.run.separation, &err) != HOP_OK)
        return fail("fixedpoints", &err);
    if (o.beta_min > o.beta_max) {
        hop_error_set(&err, HOP_ERR_ARG, "--beta-min %g exceeds --beta-max %g", (double)o.beta_min,
                      (double)o.beta_max);
        return fail("fixedpoints", &err);
    }
    if (check_outputs(o.out_csv, o.out_png, &err) != HOP_OK)
        return usage_fail("fixedpoints", &err);

    double betas[MAX_LIST];
    float betas_f[MAX_LIST];
    for (int b = 0; b < o.n_betas; b++) {
        double t = o.n_betas > 1 ? (double)b / (o.n_betas - 1) : 0.0;
        betas[b] = exp(log(o.beta_min) + t * (log(o.beta_max) - log(o.beta_min)));
        betas_f[b] = (float)betas[b];
    }
    o.run.n_betas = o.n_betas;
    o.run.betas = betas_f;
    size_t count = (size_t)o.n_betas * (size_t)o.run.n_queries;
    hop_fixedpoint_result *results = malloc(count * sizeof *results);
    hop_status status = results ? hop_memory_fixedpoints(&o.run, results, &err)
                                : hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for results");
    if (status == HOP_OK)
        status = fixed_outputs(&o, betas, results, &err);
    free(results);
    return status == HOP_OK ? 0 : fail("fixedpoints", &err);
}

/* hop memory images */

typedef struct images_cli {
    const char *betas, *corruption, *out_csv, *out_png;
    int n_images, shown, steps, scale;
    float noise;
    uint64_t seed;
} images_cli;

#define N_IMAGES_FLAGS 10

static void images_flags(images_cli *o, cli_flag *t)
{
    cli_flag flags[N_IMAGES_FLAGS] = {
        {"images", CLI_INT, &o->n_images, 1, 1797, "images", "digits stored (cycling 0..9)"},
        {"shown", CLI_INT, &o->shown, 1, 1797, "images", "grid rows: the first images stored"},
        {"corruption", CLI_STRING, &o->corruption, 0, 0, "name",
         "half (lower half set to 0) or noise"},
        {"noise", CLI_FLOAT, &o->noise, 0, 10, "", "noise standard deviation in [-1, 1] units"},
        {"betas", CLI_STRING, &o->betas, 0, 0, "list", "betas, one retrieval column each"},
        {"steps", CLI_INT, &o->steps, 1, 1000, "steps", "updates per retrieval"},
        {"scale", CLI_INT, &o->scale, 1, 32, "pixels", "PNG pixels per image pixel"},
        {"seed", CLI_SEED, &o->seed, 0, (double)UINT64_MAX, "", "random seed"},
        {"out-csv", CLI_STRING, &o->out_csv, 0, 0, "file", "error and accuracy per beta"},
        {"out-png", CLI_STRING, &o->out_png, 0, 0, "file",
         "grid: query, retrieval per beta, original"},
    };
    memcpy(t, flags, sizeof flags);
}

/* Picks n digits cycling through the labels 0..9, in dataset order within each label. */
static hop_status pick_digits(const hop_digits *digits, int n, float *images, hop_error *err)
{
    int next[10] = {0};
    for (int i = 0; i < n; i++) {
        int label = i % 10, found = -1;
        for (int j = next[label]; j < digits->n && found < 0; j++)
            if (digits->labels[j] == label)
                found = j;
        if (found < 0)
            return hop_error_set(err, HOP_ERR_DATA, "not enough images of digit %d", label);
        next[label] = found + 1;
        memcpy(images + (size_t)i * HOP_DIGITS_DIM, digits->images + (size_t)found * HOP_DIGITS_DIM,
               HOP_DIGITS_DIM * sizeof *images);
    }
    return HOP_OK;
}

/* Grid rows are images; columns: query, one retrieval per beta, original. */
static hop_status images_grid(const images_cli *o, const float *images, const float *queries,
                              const float *retrieved, int n_betas, hop_error *err)
{
    int n = o->shown < o->n_images ? o->shown : o->n_images;
    int d = HOP_DIGITS_DIM, cols = n_betas + 2;
    float *grid = malloc((size_t)n * cols * d * sizeof *grid);
    if (!grid)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the image grid");
    for (int i = 0; i < n; i++) {
        float *row = grid + (size_t)i * cols * d;
        memcpy(row, queries + (size_t)i * d, d * sizeof *row);
        for (int b = 0; b < n_betas; b++)
            memcpy(row + (size_t)(b + 1) * d, retrieved + ((size_t)b * o->n_images + i) * d,
                   d * sizeof *row);
        memcpy(row + (size_t)(n_betas + 1) * d, images + (size_t)i * d, d * sizeof *row);
    }
    hop_status status = hop_image_grid_write(o->out_png, grid, n, cols, 8, 8, o->scale, err);
    free(grid);
    return status;
}

static hop_status images_run(const images_cli *o, const double *betas, int n_betas, hop_error *err)
{
    hop_digits digits = {0};
    int n = o->n_images, d = HOP_DIGITS_DIM;
    float betas_f[MAX_LIST];
    double mse[MAX_LIST], accuracy[MAX_LIST];
    for (int b = 0; b < n_betas; b++)
        betas_f[b] = (float)betas[b];
    float *images = malloc((size_t)n * d * sizeof *images);
    float *queries = malloc((size_t)n * d * sizeof *queries);
    float *retrieved = malloc((size_t)n_betas * n * d * sizeof *retrieved);
    hop_status status = hop_digits_load(&digits, err);
    if (status == HOP_OK && (!images || !queries || !retrieved))
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d images", n);
    if (status == HOP_OK)
        status = pick_digits(&digits, n, images, err);

    hop_image_options run = {
        .width = 8,
        .height = 8,
        .n_images = n,
        .images = images,
        .mask_lower_half = strcmp(o->corruption, "half") == 0,
        .noise = strcmp(o->corruption, "noise") == 0 ? o->noise : 0.0f,
        .n_betas = n_betas,
        .betas = betas_f,
        .steps = o->steps,
        .seed = o->seed,
    };
    if (status == HOP_OK)
        status = hop_memory_images(&run, queries, retrieved, mse, accuracy, err);
    text_buffer csv = {0};
    text_printf(&csv, "beta,mse,accuracy\n");
    printf("| beta | pixel MSE | retrieved (nearest = original) |\n|---|---|---|\n");
    for (int b = 0; status == HOP_OK && b < n_betas; b++) {
        text_printf(&csv, "%.6g,%.6g,%.4f\n", betas[b], mse[b], accuracy[b]);
        printf("| %g | %.4f | %.2f |\n", betas[b], mse[b], accuracy[b]);
    }
    if (status == HOP_OK)
        status = text_write(&csv, o->out_csv, err);
    else
        free(csv.data);
    if (status == HOP_OK)
        status = images_grid(o, images, queries, retrieved, n_betas, err);
    hop_digits_free(&digits);
    free(images);
    free(queries);
    free(retrieved);
    return status;
}

static int run_images(int argc, char **argv)
{
    images_cli o = {
        .betas = "0.05,0.2,1,5",
        .corruption = "half",
        .out_csv = "memory-images.csv",
        .out_png = "memory-images.png",
        .n_images = 100,
        .shown = 10,
        .steps = 3,
        .scale = 4,
        .noise = 0.5f,
        .seed = 1,
    };
    cli_flag flags[N_IMAGES_FLAGS];
    images_flags(&o, flags);
    hop_error err;
    hop_error_clear(&err);
    bool help = false;
    if (cli_parse(flags, N_IMAGES_FLAGS, argc, argv, 3, &help, &err) != HOP_OK)
        return usage_fail("images", &err);
    if (help) {
        printf("usage: hop memory images [FLAGS]\n\n"
               "Stores 8 x 8 digits of the embedded dataset in a continuous network, queries\n"
               "with the lower half masked or with noise, and writes a PNG grid with the query,\n"
               "the retrieval for each beta and the original in each row.\n\nFlags:\n");
        cli_print_flags(stdout, flags, N_IMAGES_FLAGS);
        return 0;
    }
    if (check_outputs(o.out_csv, o.out_png, &err) != HOP_OK)
        return usage_fail("images", &err);
    double betas[MAX_LIST];
    int n_betas = 0;
    if (strcmp(o.corruption, "half") != 0 && strcmp(o.corruption, "noise") != 0)
        hop_error_set(&err, HOP_ERR_ARG, "--corruption: '%s' is invalid; use half or noise",
                      o.corruption);
    else
        parse_list("betas", o.betas, 0, 1e6, false, betas, &n_betas, &err);
    if (err.status == HOP_OK)
        images_run(&o, betas, n_betas, &err);
    return err.status == HOP_OK ? 0 : fail("images", &err);
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hop memory SUBCOMMAND [FLAGS]\n\n"
                 "Associative-memory experiments; each writes a CSV table and a PNG.\n"
                 "  capacity     largest N retrieved per network and dimension\n"
                 "  onestep      one-update retrieval error against the separation bound\n"
                 "  fixedpoints  single, metastable and global fixed points against beta\n"
                 "  images       retrieval of masked or noisy digit images\n"
                 "'hop memory SUBCOMMAND --help' lists the flags with units and defaults.\n");
}

int cmd_memory(int argc, char **argv)
{
    if (argc < 3) {
        print_usage(stderr);
        return 2;
    }
    const char *sub = argv[2];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "capacity") == 0)
        return run_capacity(argc, argv);
    if (strcmp(sub, "onestep") == 0)
        return run_onestep(argc, argv);
    if (strcmp(sub, "fixedpoints") == 0)
        return run_fixedpoints(argc, argv);
    if (strcmp(sub, "images") == 0)
        return run_images(argc, argv);
    fprintf(stderr,
            "hop memory: unknown subcommand '%s'; expected capacity, onestep, "
            "fixedpoints or images\n",
            sub);
    return 2;
}
