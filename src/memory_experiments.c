/* Capacity, one-step retrieval, fixed points and image retrieval experiments. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

static double distance(const float *a, const float *b, int d)
{
    double sum = 0.0;
    for (int j = 0; j < d; j++)
        sum += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return sqrt(sum);
}

static hop_status check_capacity(const hop_capacity_options *o, hop_error *err)
{
    if (o->dim < 1 || o->n_patterns < 1 || o->n_queries < 1 || o->trials < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "dim, patterns, queries and trials must be >= 1, got %d, %d, %d, %d",
                             o->dim, o->n_patterns, o->n_queries, o->trials);
    if ((unsigned)o->corruption >= HOP_CORRUPTION_COUNT || !(o->amount >= 0.0f) ||
        (o->corruption != HOP_CORRUPT_NOISE && o->amount > 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "corruption amount %g is invalid: flip and mask take a fraction in "
                             "[0, 1], noise a standard deviation >= 0",
                             (double)o->amount);
    return HOP_OK;
}

/* Counts the successful retrievals of one trial: fresh patterns, corrupted queries. */
static hop_status capacity_trial(const hop_capacity_options *o, hop_rng *rng, float *patterns,
                                 float *queries, int *targets, long *successes, hop_error *err)
{
    int d = o->dim, n = o->n_patterns;
    bool binary = o->memory.kind != HOP_MEMORY_CONTINUOUS;
    if (binary)
        hop_memory_random_binary(rng, n, d, patterns);
    else
        hop_memory_random_sphere(rng, n, d, sqrtf((float)d), patterns);
    for (int q = 0; q < o->n_queries; q++) {
        targets[q] = (int)hop_rng_below(rng, (uint64_t)n);
        hop_memory_corrupt(o->corruption, o->amount, rng, d, patterns + (size_t)targets[q] * d,
                           queries + (size_t)q * d);
    }

    hop_memory m;
    hop_status status = hop_memory_store(&m, &o->memory, n, d, patterns, err);
    if (status == HOP_OK)
        status =
            hop_memory_retrieve_batch(&m, o->n_queries, queries, queries, NULL, NULL, rng, err);
    for (int q = 0; status == HOP_OK && q < o->n_queries; q++) {
        const float *target = patterns + (size_t)targets[q] * d;
        double gap = distance(queries + (size_t)q * d, target, d);
        *successes += binary ? gap == 0.0 : gap <= o->success_distance * m.max_norm;
    }
    hop_memory_free(&m);
    return status;
}

hop_status hop_memory_success_rate(const hop_capacity_options *o, double *rate, hop_error *err)
{
    hop_status status = check_capacity(o, err);
    if (status != HOP_OK)
        return status;
    int d = o->dim;
    float *patterns = malloc((size_t)o->n_patterns * d * sizeof *patterns);
    float *queries = malloc((size_t)o->n_queries * d * sizeof *queries);
    int *targets = malloc((size_t)o->n_queries * sizeof *targets);
    if (!patterns || !queries || !targets)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d patterns of %d",
                               o->n_patterns, d);

    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    long successes = 0;
    for (int t = 0; status == HOP_OK && t < o->trials; t++)
        status = capacity_trial(o, &rng, patterns, queries, targets, &successes, err);
    if (status == HOP_OK)
        *rate = (double)successes / ((double)o->trials * o->n_queries);
    free(patterns);
    free(queries);
    free(targets);
    return status;
}

/* Patterns of norm radius around a random unit centre: normalize(c + spread u_j), u_j unit. */
static void clustered_patterns(hop_rng *rng, int n, int d, float spread, float radius,
                               const float *centre, float *out)
{
    hop_memory_random_sphere(rng, n, d, 1.0f, out);
    for (int i = 0; i < n; i++) {
        float *row = out + (size_t)i * d;
        double sum = 0.0;
        for (int j = 0; j < d; j++) {
            row[j] = centre[j] + spread * row[j];
            sum += (double)row[j] * row[j];
        }
        float scale = (float)(radius / sqrt(sum));
        for (int j = 0; j < d; j++)
            row[j] *= scale;
    }
}

/* delta_0 = x_0 . x_0 - max_{j != 0} x_0 . x_j, in double. */
static double separation_of_first(const float *x, int n, int d)
{
    double self = 0.0, best = -INFINITY;
    for (int j = 0; j < d; j++)
        self += (double)x[j] * x[j];
    for (int i = 1; i < n; i++) {
        double dot = 0.0;
        for (int j = 0; j < d; j++)
            dot += (double)x[j] * x[(size_t)i * d + j];
        best = fmax(best, dot);
    }
    return self - best;
}

static hop_status onestep_trial(const hop_onestep_options *o, hop_rng *rng, float *patterns,
                                float *centre, hop_onestep_point *point, hop_error *err)
{
    int n = o->n_patterns, d = o->dim;
    double log_min = log(o->spread_min), log_max = log(o->spread_max);
    point->spread = exp(log_min + (log_max - log_min) * hop_rng_uniform(rng));
    hop_memory_random_sphere(rng, 1, d, 1.0f, centre);
    clustered_patterns(rng, n, d, (float)point->spread, o->radius, centre, patterns);
    point->delta = separation_of_first(patterns, n, d);

    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = o->beta;
    c.max_steps = 1;
    c.tolerance = -1.0f;
    hop_memory m;
    hop_status status = hop_memory_store(&m, &c, n, d, patterns, err);
    hop_retrieval r = {0};
    if (status == HOP_OK)
        status = hop_memory_retrieve(&m, patterns, centre, NULL, &r, err);
    if (status == HOP_OK) {
        point->error = distance(centre, patterns, d);
        point->bound = 2.0 * (n - 1) * exp(-(double)o->beta * point->delta) * m.max_norm;
    }
    hop_retrieval_free(&r);
    hop_memory_free(&m);
    return status;
}

hop_status hop_memory_onestep(const hop_onestep_options *o, hop_onestep_point *points,
                              hop_error *err)
{
    if (o->dim < 2 || o->n_patterns < 2 || o->trials < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "one-step needs dim >= 2, patterns >= 2 and trials >= 1, got %d, "
                             "%d, %d",
                             o->dim, o->n_patterns, o->trials);
    if (!(o->beta > 0.0f) || !(o->radius > 0.0f))
        return hop_error_set(err, HOP_ERR_ARG, "one-step needs beta > 0 and radius > 0, got %g, %g",
                             (double)o->beta, (double)o->radius);
    if (!(o->spread_min > 0.0f) || !(o->spread_max >= o->spread_min))
        return hop_error_set(err, HOP_ERR_ARG,
                             "one-step needs 0 < spread_min <= spread_max, got spread_min %g and "
                             "spread_max %g",
                             (double)o->spread_min, (double)o->spread_max);

    float *patterns = malloc((size_t)o->n_patterns * o->dim * sizeof *patterns);
    float *centre = malloc((size_t)o->dim * sizeof *centre);
    hop_status status = HOP_OK;
    if (!patterns || !centre)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d patterns of %d",
                               o->n_patterns, o->dim);
    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    for (int t = 0; status == HOP_OK && t < o->trials; t++)
        status = onestep_trial(o, &rng, patterns, centre, &points[t], err);
    free(patterns);
    free(centre);
    return status;
}

static const char *const fixed_names[] = {"single", "metastable", "global"};

const char *hop_fixed_point_kind_name(hop_fixed_point_kind kind)
{
    return (unsigned)kind <= HOP_FIXED_GLOBAL ? fixed_names[kind] : "unknown";
}

static int compare_weight_desc(const void *a, const void *b, const float *p)
{
    float x = p[*(const int *)a], y = p[*(const int *)b];
    return (x < y) - (x > y);
}

/* qsort has no context argument, so the order is sorted by insertion on (index, weight). */
static void sort_by_weight(int *index, int n, const float *p)
{
    for (int i = 1; i < n; i++) {
        int v = index[i], j = i - 1;
        while (j >= 0 && compare_weight_desc(&index[j], &v, p) > 0) {
            index[j + 1] = index[j];
            j--;
        }
        index[j + 1] = v;
    }
}

hop_fixed_point_kind hop_memory_classify(const hop_memory *m, const float *state, float *work,
                                         int *k, double *subset_distance)
{
    int n = m->n_patterns, d = m->dim;
    float *scores = work, *p = work + n;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, m->config.beta, m->patterns, d, state, 1, 0.0f,
                scores, 1);
    float *sort_work = malloc((size_t)n * sizeof *sort_work);
    int *index = malloc((size_t)n * sizeof *index);
    double *mean = calloc((size_t)d, sizeof *mean);
    if (!sort_work || !index || !mean) {
        free(sort_work);
        free(index);
        free(mean);
        *k = n;
        *subset_distance = NAN;
        return HOP_FIXED_GLOBAL;
    }
    hop_separation_row(m->config.separation, scores, NULL, 0, n, sort_work, p);

    for (int i = 0; i < n; i++)
        index[i] = i;
    sort_by_weight(index, n, p);
    double mass = 0.0;
    int count = 0;
    while (count < n && mass < 0.9)
        mass += p[index[count++]];

    for (int c = 0; c < count; c++)
        for (int j = 0; j < d; j++)
            mean[j] += m->patterns[(size_t)index[c] * d + j] / (double)count;
    double sum = 0.0;
    for (int j = 0; j < d; j++)
        sum += (state[j] - mean[j]) * (state[j] - mean[j]);
    *k = count;
    *subset_distance = sqrt(sum) / (m->max_norm > 0.0f ? m->max_norm : 1.0f);
    free(sort_work);
    free(index);
    free(mean);
    if (count == 1)
        return HOP_FIXED_SINGLE;
    return 2 * count > n ? HOP_FIXED_GLOBAL : HOP_FIXED_METASTABLE;
}

static hop_status check_fixedpoints(const hop_fixedpoint_options *o, hop_error *err)
{
    if (o->dim < 2 || o->n_clusters < 1 || o->cluster_size < 1 || o->n_queries < 1 ||
        o->n_betas < 1 || !o->betas || o->max_steps < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "fixed points need dim >= 2 and at least one cluster, pattern, "
                             "query, beta and step");
    for (int b = 0; b < o->n_betas; b++)
        if (!(o->betas[b] >= 0.0f) || isinf(o->betas[b]))
            return hop_error_set(err, HOP_ERR_ARG, "beta %d is %g; betas must be finite and >= 0",
                                 b, (double)o->betas[b]);
    return HOP_OK;
}

/* Patterns in clusters of unit norm, and queries: patterns plus noise. */
static void fixedpoint_data(const hop_fixedpoint_options *o, hop_rng *rng, float *patterns,
                            float *queries, float *centre)
{
    int d = o->dim, size = o->cluster_size, n = o->n_clusters * size;
    for (int c = 0; c < o->n_clusters; c++) {
        hop_memory_random_sphere(rng, 1, d, 1.0f, centre);
        clustered_patterns(rng, size, d, o->spread, 1.0f, centre, patterns + (size_t)c * size * d);
    }
    for (int q = 0; q < o->n_queries; q++) {
        int target = (int)hop_rng_below(rng, (uint64_t)n);
        hop_memory_corrupt(HOP_CORRUPT_NOISE, o->spread / 2.0f / sqrtf((float)d), rng, d,
                           patterns + (size_t)target * d, queries + (size_t)q * d);
    }
}

static hop_status fixedpoint_beta(const hop_fixedpoint_options *o, float beta,
                                  const float *patterns, const float *queries, float *states,
                                  hop_fixedpoint_result *out, hop_error *err)
{
    int d = o->dim, n = o->n_clusters * o->cluster_size;
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = beta;
    c.separation = o->separation;
    c.max_steps = o->max_steps;
    hop_memory m;
    hop_status status = hop_memory_store(&m, &c, n, d, patterns, err);
    int *steps = malloc((size_t)o->n_queries * sizeof *steps);
    bool *converged = malloc((size_t)o->n_queries * sizeof *converged);
    float *work = malloc(2 * (size_t)n * sizeof *work);
    if (status == HOP_OK && (!steps || !converged || !work))
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d queries", o->n_queries);
    if (status == HOP_OK)
        status = hop_memory_retrieve_batch(&m, o->n_queries, queries, states, steps, converged,
                                           NULL, err);
    for (int q = 0; status == HOP_OK && q < o->n_queries; q++) {
        hop_fixedpoint_result *r = &out[q];
        r->beta = beta;
        r->query = q;
        r->steps = steps[q];
        r->converged = converged[q];
        r->kind = hop_memory_classify(&m, states + (size_t)q * d, work, &r->k, &r->subset_distance);
    }
    free(steps);
    free(converged);
    free(work);
    hop_memory_free(&m);
    return status;
}

hop_status hop_memory_fixedpoints(const hop_fixedpoint_options *o, hop_fixedpoint_result *results,
                                  hop_error *err)
{
    hop_status status = check_fixedpoints(o, err);
    if (status != HOP_OK)
        return status;
    int d = o->dim, n = o->n_clusters * o->cluster_size;
    float *patterns = malloc((size_t)n * d * sizeof *patterns);
    float *queries = malloc((size_t)o->n_queries * d * sizeof *queries);
    float *states = malloc((size_t)o->n_queries * d * sizeof *states);
    float *centre = malloc((size_t)d * sizeof *centre);
    if (!patterns || !queries || !states || !centre)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d patterns of %d", n, d);

    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    if (status == HOP_OK)
        fixedpoint_data(o, &rng, patterns, queries, centre);
    for (int b = 0; status == HOP_OK && b < o->n_betas; b++)
        status = fixedpoint_beta(o, o->betas[b], patterns, queries, states,
                                 results + (size_t)b * o->n_queries, err);
    free(patterns);
    free(queries);
    free(states);
    free(centre);
    return status;
}

static hop_status check_images(const hop_image_options *o, hop_error *err)
{
    if (o->width < 1 || o->height < 1 || o->n_images < 1 || !o->images)
        return hop_error_set(err, HOP_ERR_ARG, "image retrieval needs images of at least 1 x 1");
    if (o->n_betas < 1 || !o->betas || o->steps < 1 || !(o->noise >= 0.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "image retrieval needs a beta, steps >= 1 and noise >= 0");
    for (int b = 0; b < o->n_betas; b++)
        if (!(o->betas[b] >= 0.0f) || isinf(o->betas[b]))
            return hop_error_set(err, HOP_ERR_ARG, "beta %d is %g; betas must be finite and >= 0",
                                 b, (double)o->betas[b]);
    return HOP_OK;
}

/* Index of the stored pattern nearest to x. */
static int nearest_pattern(const float *patterns, int n, int d, const float *x)
{
    int best = 0;
    double best_distance = INFINITY;
    for (int i = 0; i < n; i++) {
        double dist = distance(patterns + (size_t)i * d, x, d);
        if (dist < best_distance) {
            best_distance = dist;
            best = i;
        }
    }
    return best;
}

static void make_image_queries(const hop_image_options *o, hop_rng *rng, const float *patterns,
                               float *queries)
{
    int d = o->width * o->height;
    for (int i = 0; i < o->n_images; i++) {
        float *q = queries + (size_t)i * d;
        hop_memory_corrupt(HOP_CORRUPT_NOISE, o->noise, rng, d, patterns + (size_t)i * d, q);
        if (o->mask_lower_half)
            for (int j = (o->height / 2) * o->width; j < d; j++)
                q[j] = 0.0f;
    }
}

/* Maps a row from [-1, 1] storage back to [0, 1] pixels. */
static void to_pixels(const float *x, int d, float *out)
{
    for (int j = 0; j < d; j++)
        out[j] = fminf(fmaxf(0.5f * (x[j] + 1.0f), 0.0f), 1.0f);
}

static hop_status images_beta(const hop_image_options *o, float beta, const float *patterns,
                              const float *queries, float *out, double *mse, double *accuracy,
                              hop_error *err)
{
    int n = o->n_images, d = o->width * o->height;
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = beta;
    c.max_steps = o->steps;
    c.tolerance = -1.0f;
    hop_memory m;
    hop_status status = hop_memory_store(&m, &c, n, d, patterns, err);
    if (status == HOP_OK)
        status = hop_memory_retrieve_batch(&m, n, queries, out, NULL, NULL, NULL, err);
    double squared = 0.0;
    int correct = 0;
    for (int i = 0; status == HOP_OK && i < n; i++) {
        float *x = out + (size_t)i * d;
        correct += nearest_pattern(patterns, n, d, x) == i;
        for (int j = 0; j < d; j++)
            squared += 0.25 * ((double)x[j] - patterns[(size_t)i * d + j]) *
                       ((double)x[j] - patterns[(size_t)i * d + j]);
        to_pixels(x, d, x);
    }
    *mse = squared / ((double)n * d);
    *accuracy = (double)correct / n;
    hop_memory_free(&m);
    return status;
}

hop_status hop_memory_images(const hop_image_options *o, float *queries, float *retrieved,
                             double *mse, double *accuracy, hop_error *err)
{
    hop_status status = check_images(o, err);
    if (status != HOP_OK)
        return status;
    int n = o->n_images, d = o->width * o->height;
    float *patterns = malloc((size_t)n * d * sizeof *patterns);
    if (!patterns)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d images of %d", n, d);
    for (size_t i = 0; i < (size_t)n * d; i++)
        patterns[i] = 2.0f * o->images[i] - 1.0f;

    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    make_image_queries(o, &rng, patterns, queries);
    for (int b = 0; status == HOP_OK && b < o->n_betas; b++)
        status = images_beta(o, o->betas[b], patterns, queries, retrieved + (size_t)b * n * d,
                             &mse[b], &accuracy[b], err);
    for (int i = 0; i < n; i++)
        to_pixels(queries + (size_t)i * d, d, queries + (size_t)i * d);
    free(patterns);
    return status;
}
