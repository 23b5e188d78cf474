/* Storing patterns, retrieval in tiles, energies, random patterns and corruption. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

hop_memory_config hop_memory_config_default(hop_memory_kind kind)
{
    hop_memory_config c = {
        .kind = kind,
        .degree = 3,
        .beta = 1.0f,
        .separation = HOP_SEPARATION_SOFTMAX,
        .update = HOP_UPDATE_ASYNC,
        .max_steps = 100,
        .tolerance = 1e-5f,
    };
    return c;
}

static const char *const kind_names[HOP_MEMORY_KIND_COUNT] = {"classical", "polynomial",
                                                              "exponential", "continuous"};

const char *hop_memory_kind_name(hop_memory_kind kind)
{
    return (unsigned)kind < HOP_MEMORY_KIND_COUNT ? kind_names[kind] : "unknown";
}

hop_status hop_memory_kind_parse(const char *name, hop_memory_kind *kind, hop_error *err)
{
    for (int i = 0; i < HOP_MEMORY_KIND_COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (hop_memory_kind)i;
            return HOP_OK;
        }
    }
    return hop_error_set(err, HOP_ERR_ARG,
                         "unknown network '%s'; expected classical, polynomial, exponential or "
                         "continuous",
                         name);
}

static hop_status check_config(const hop_memory_config *c, hop_error *err)
{
    if ((unsigned)c->kind >= HOP_MEMORY_KIND_COUNT)
        return hop_error_set(err, HOP_ERR_ARG, "memory kind %d is invalid", (int)c->kind);
    if (c->max_steps < 1 || c->max_steps > 1000000)
        return hop_error_set(err, HOP_ERR_ARG, "max_steps must be in [1, 1000000], got %d",
                             c->max_steps);
    if (c->kind == HOP_MEMORY_POLYNOMIAL && (c->degree < 2 || c->degree > 16))
        return hop_error_set(err, HOP_ERR_ARG, "polynomial degree must be in [2, 16], got %d",
                             c->degree);
    if (!(c->beta >= 0.0f) || isinf(c->beta))
        return hop_error_set(err, HOP_ERR_ARG, "beta must be finite and >= 0, got %g",
                             (double)c->beta);
    if (c->kind == HOP_MEMORY_EXPONENTIAL && c->beta == 0.0f)
        return hop_error_set(err, HOP_ERR_ARG,
                             "the exponential network needs beta > 0 (beta 0 makes F constant)");
    if ((unsigned)c->separation >= HOP_SEPARATION_COUNT)
        return hop_error_set(err, HOP_ERR_ARG, "separation %d is invalid", (int)c->separation);
    if (c->update != HOP_UPDATE_ASYNC && c->update != HOP_UPDATE_SYNC)
        return hop_error_set(err, HOP_ERR_ARG, "update rule %d is invalid", (int)c->update);
    if (isnan(c->tolerance))
        return hop_error_set(err, HOP_ERR_ARG, "tolerance must not be NaN");
    return HOP_OK;
}

static hop_status check_patterns(const hop_memory_config *c, int n, int dim, const float *x,
                                 hop_error *err)
{
    if (n < 1 || dim < 1)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "need at least one pattern of at least one entry, got %d x %d", n,
                             dim);
    if ((size_t)n > SIZE_MAX / sizeof(float) / (size_t)dim || (size_t)dim > INT32_MAX / 2)
        return hop_error_set(err, HOP_ERR_SHAPE, "%d patterns of dimension %d are too many", n,
                             dim);
    if (!x)
        return hop_error_set(err, HOP_ERR_ARG, "patterns are NULL");

    bool binary = c->kind != HOP_MEMORY_CONTINUOUS;
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++) {
        float v = x[i];
        bool ok = binary ? (v == 1.0f || v == -1.0f) : isfinite(v);
        if (!ok)
            return hop_error_set(
                err, HOP_ERR_DATA, "pattern %zu entry %zu is %g; the %s network needs %s",
                i / (size_t)dim, i % (size_t)dim, (double)v, hop_memory_kind_name(c->kind),
                binary ? "entries +1 or -1" : "finite entries");
    }
    return HOP_OK;
}

/* W = X^T X / d with a zero diagonal. */
static void hebbian_weights(hop_memory *m)
{
    int n = m->n_patterns, d = m->dim;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, n, 1.0f / (float)d, m->patterns, d,
                m->patterns, d, 0.0f, m->weights, d);
    for (int i = 0; i < d; i++)
        m->weights[(size_t)i * d + i] = 0.0f;
}

static float largest_norm(const float *x, int n, int dim)
{
    double best = 0.0;
    for (int i = 0; i < n; i++) {
        double sum = 0.0;
        for (int j = 0; j < dim; j++)
            sum += (double)x[(size_t)i * dim + j] * x[(size_t)i * dim + j];
        best = fmax(best, sum);
    }
    return (float)sqrt(best);
}

hop_status hop_memory_store(hop_memory *m, const hop_memory_config *config, int n_patterns, int dim,
                            const float *patterns, hop_error *err)
{
    memset(m, 0, sizeof *m);
    hop_status status = check_config(config, err);
    if (status == HOP_OK)
        status = check_patterns(config, n_patterns, dim, patterns, err);
    if (status != HOP_OK)
        return status;

    size_t count = (size_t)n_patterns * (size_t)dim;
    m->config = *config;
    m->n_patterns = n_patterns;
    m->dim = dim;
    m->patterns = malloc(count * sizeof *m->patterns);
    bool dense = config->kind == HOP_MEMORY_POLYNOMIAL || config->kind == HOP_MEMORY_EXPONENTIAL;
    if (dense)
        m->patterns_t = malloc(count * sizeof *m->patterns_t);
    if (config->kind == HOP_MEMORY_CLASSICAL)
        m->weights = malloc((size_t)dim * (size_t)dim * sizeof *m->weights);
    if (!m->patterns || (dense && !m->patterns_t) ||
        (config->kind == HOP_MEMORY_CLASSICAL && !m->weights)) {
        hop_memory_free(m);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory storing %d patterns of %d",
                             n_patterns, dim);
    }

    memcpy(m->patterns, patterns, count * sizeof *m->patterns);
    for (int i = 0; dense && i < n_patterns; i++)
        for (int j = 0; j < dim; j++)
            m->patterns_t[(size_t)j * n_patterns + i] = patterns[(size_t)i * dim + j];
    if (m->weights)
        hebbian_weights(m);
    m->max_norm = largest_norm(patterns, n_patterns, dim);
    return HOP_OK;
}

void hop_memory_free(hop_memory *m)
{
    free(m->patterns);
    free(m->patterns_t);
    free(m->weights);
    memset(m, 0, sizeof *m);
}

double hop_memory_energy(const hop_memory *m, const float *state)
{
    switch (m->config.kind) {
    case HOP_MEMORY_CLASSICAL: return hop_memory_classical_energy(m, state);
    case HOP_MEMORY_CONTINUOUS: return hop_memory_continuous_energy(m, state);
    default: return hop_memory_dense_energy(m, state);
    }
}

static hop_memory_kernel kernel_of(const hop_memory *m)
{
    switch (m->config.kind) {
    case HOP_MEMORY_CLASSICAL: return hop_memory_classical_run;
    case HOP_MEMORY_CONTINUOUS: return hop_memory_continuous_run;
    default: return hop_memory_dense_run;
    }
}

static hop_status check_retrieval(const hop_memory *m, const void *queries, const hop_rng *rng,
                                  hop_error *err)
{
    if (!m->patterns)
        return hop_error_set(err, HOP_ERR_ARG, "the memory holds no patterns; store them first");
    if (!queries)
        return hop_error_set(err, HOP_ERR_ARG, "queries are NULL");
    bool needs_rng =
        m->config.kind != HOP_MEMORY_CONTINUOUS && m->config.update == HOP_UPDATE_ASYNC;
    if (needs_rng && !rng)
        return hop_error_set(err, HOP_ERR_ARG,
                             "asynchronous updates of the %s network need a random generator",
                             hop_memory_kind_name(m->config.kind));
    return HOP_OK;
}

hop_status hop_memory_retrieve(const hop_memory *m, const float *query, float *state, hop_rng *rng,
                               hop_retrieval *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    hop_status status = check_retrieval(m, query, rng, err);
    if (status != HOP_OK)
        return status;
    int capacity = m->config.max_steps + 1;
    out->energy = malloc((size_t)capacity * sizeof *out->energy);
    if (!out->energy)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d energies", capacity);

    memmove(state, query, (size_t)m->dim * sizeof *state);
    status = kernel_of(m)(m, state, 1, out->energy, &out->steps, &out->converged, rng, err);
    if (status != HOP_OK)
        hop_retrieval_free(out);
    return status;
}

void hop_retrieval_free(hop_retrieval *r)
{
    free(r->energy);
    memset(r, 0, sizeof *r);
}

hop_status hop_memory_retrieve_batch(const hop_memory *m, int n_queries, const float *queries,
                                     float *states, int *steps, bool *converged, hop_rng *rng,
                                     hop_error *err)
{
    hop_status status = check_retrieval(m, queries, rng, err);
    if (status != HOP_OK)
        return status;
    if (n_queries < 0)
        return hop_error_set(err, HOP_ERR_ARG, "query count must be >= 0, got %d", n_queries);
    if (queries != states)
        memmove(states, queries, (size_t)n_queries * (size_t)m->dim * sizeof *states);

    int tile_steps[HOP_MEMORY_TILE_ROWS];
    bool tile_converged[HOP_MEMORY_TILE_ROWS];
    hop_memory_kernel kernel = kernel_of(m);
    for (int r0 = 0; r0 < n_queries && status == HOP_OK; r0 += HOP_MEMORY_TILE_ROWS) {
        int rows = n_queries - r0 < HOP_MEMORY_TILE_ROWS ? n_queries - r0 : HOP_MEMORY_TILE_ROWS;
        status = kernel(m, states + (size_t)r0 * m->dim, rows, NULL, tile_steps, tile_converged,
                        rng, err);
        for (int r = 0; status == HOP_OK && r < rows; r++) {
            if (steps)
                steps[r0 + r] = tile_steps[r];
            if (converged)
                converged[r0 + r] = tile_converged[r];
        }
    }
    return status;
}

void hop_memory_random_order(hop_rng *rng, int n, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    hop_rng_shuffle_int(rng, order, (size_t)n);
}

void hop_memory_random_binary(hop_rng *rng, int n, int dim, float *out)
{
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++)
        out[i] = (hop_rng_u64(rng) >> 63) ? 1.0f : -1.0f;
}

void hop_memory_random_sphere(hop_rng *rng, int n, int dim, float radius, float *out)
{
    for (int i = 0; i < n; i++) {
        float *row = out + (size_t)i * dim;
        double sum = 0.0;
        do {
            sum = 0.0;
            for (int j = 0; j < dim; j++) {
                row[j] = hop_rng_normal(rng);
                sum += (double)row[j] * row[j];
            }
        } while (sum == 0.0);
        float scale = (float)(radius / sqrt(sum));
        for (int j = 0; j < dim; j++)
            row[j] *= scale;
    }
}

static const char *const corruption_names[HOP_CORRUPTION_COUNT] = {"flip", "mask", "noise"};

const char *hop_corruption_name(hop_corruption kind)
{
    return (unsigned)kind < HOP_CORRUPTION_COUNT ? corruption_names[kind] : "unknown";
}

hop_status hop_corruption_parse(const char *name, hop_corruption *kind, hop_error *err)
{
    for (int i = 0; i < HOP_CORRUPTION_COUNT; i++) {
        if (strcmp(name, corruption_names[i]) == 0) {
            *kind = (hop_corruption)i;
            return HOP_OK;
        }
    }
    return hop_error_set(err, HOP_ERR_ARG, "unknown corruption '%s'; expected flip, mask or noise",
                         name);
}

/* Flips or masks round(amount * dim) distinct entries picked by a partial Fisher-Yates shuffle. */
static void corrupt_entries(hop_corruption kind, float amount, hop_rng *rng, int dim, float *out)
{
    long count = lround((double)amount * dim);
    if (count > dim)
        count = dim;
    int *index = malloc((size_t)dim * sizeof *index);
    if (!index) {
        for (long i = 0; i < count; i++) /* without scratch: the first entries, not random */
            out[i] = kind == HOP_CORRUPT_FLIP ? -out[i] : 0.0f;
        return;
    }
    for (int i = 0; i < dim; i++)
        index[i] = i;
    for (long i = 0; i < count; i++) {
        long j = i + (long)hop_rng_below(rng, (uint64_t)(dim - i));
        int t = index[i];
        index[i] = index[j];
        index[j] = t;
        out[index[i]] = kind == HOP_CORRUPT_FLIP ? -out[index[i]] : 0.0f;
    }
    free(index);
}

void hop_memory_corrupt(hop_corruption kind, float amount, hop_rng *rng, int dim, const float *in,
                        float *out)
{
    memmove(out, in, (size_t)dim * sizeof *out);
    if (kind == HOP_CORRUPT_NOISE) {
        for (int j = 0; j < dim; j++)
            out[j] += amount * hop_rng_normal(rng);
        return;
    }
    corrupt_entries(kind, amount, rng, dim, out);
}
