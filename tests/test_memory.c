/* The four associative memories: fixture retrievals, energies, capacity and experiments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hop/memory.h"
#include "support/shell.h"

/* ORTHO3: three orthonormal patterns in R^4. */
static const float ortho3[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};

static void store_ortho3(hop_memory *m, float beta, int steps, float scale)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = ortho3[i] * scale;
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = beta;
    c.max_steps = steps;
    c.tolerance = -1.0f;
    hop_error err;
    cr_assert_eq(hop_memory_store(m, &c, 3, 4, x, &err), HOP_OK, "%s", err.message);
}

/* Runs one retrieval from query and checks the state against expected within tol. */
static void check_retrieval(float beta, int steps, const float *query, const float *expected,
                            double tol)
{
    hop_memory m;
    store_ortho3(&m, beta, steps, 1.0f);
    float state[4];
    hop_retrieval r;
    hop_error err;
    cr_assert_eq(hop_memory_retrieve(&m, query, state, NULL, &r, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(r.steps, steps);
    for (int j = 0; j < 4; j++)
        cr_assert_float_eq(state[j], expected[j], tol, "beta %g entry %d: %g, expected %g",
                           (double)beta, j, state[j], expected[j]);
    hop_retrieval_free(&r);
    hop_memory_free(&m);
}

Test(memory, ortho3_one_update)
{
    const float query[4] = {0.9f, 0.1f, 0.0f, 0.0f};
    check_retrieval(0.0f, 1, query, (float[]){1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0}, 1e-6);
    check_retrieval(1.0f, 1, query, (float[]){0.538823f, 0.242109f, 0.219069f, 0}, 1e-5);
    check_retrieval(8.0f, 1, query, (float[]){0.997598f, 0.001658f, 0.000745f, 0}, 1e-5);
    check_retrieval(1e4f, 1, query, (float[]){1, 0, 0, 0}, 0.0);
}

Test(memory, ortho3_fixed_points)
{
    const float start[4] = {0.6f, 0.5f, 0.1f, 0.0f};
    check_retrieval(8.0f, 1, start, (float[]){0.681364f, 0.306157f, 0.012480f, 0}, 1e-5);
    check_retrieval(2.0f, 500, start, (float[]){1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0}, 1e-5);
    check_retrieval(8.0f, 500, start, (float[]){0.99932f, 0.00034f, 0.00034f, 0}, 1e-4);
}

Test(memory, ortho3_energy_values)
{
    hop_memory m;
    store_ortho3(&m, 2.0f, 10, 1.0f);
    float state[4];
    hop_retrieval r;
    hop_error err;
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){0.6f, 0.5f, 0.1f, 0.0f}, state, NULL, &r, &err),
                 HOP_OK);
    const double expected[4] = {0.368130, 0.341377, 0.336306, 0.334549};
    for (int t = 0; t < 4; t++)
        cr_assert_float_eq(r.energy[t], expected[t], 1e-5, "energy %d: %.6f", t, r.energy[t]);
    for (int t = 0; t < r.steps; t++)
        cr_assert(r.energy[t + 1] <= r.energy[t] + 1e-7, "energy rose at step %d", t + 1);
    hop_retrieval_free(&r);
    hop_memory_free(&m);
}

Test(memory, large_beta_is_exact)
{
    hop_memory m;
    store_ortho3(&m, 1000.0f, 1, 10.0f);
    float state[4];
    hop_retrieval r;
    hop_error err;
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){9.0f, 1.0f, 0.0f, 0.0f}, state, NULL, &r, &err),
                 HOP_OK);
    cr_assert_eq(state[0], 10.0f);
    for (int j = 1; j < 4; j++)
        cr_assert_eq(state[j], 0.0f);
    cr_assert(isfinite(r.energy[0]) && isfinite(r.energy[1]));
    hop_retrieval_free(&r);
    hop_memory_free(&m);
}

Test(memory, metastable_duplicates)
{
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = 10.0f;
    c.max_steps = 1;
    c.tolerance = -1.0f;
    hop_memory m;
    hop_error err;
    cr_assert_eq(hop_memory_store(&m, &c, 3, 2, (float[]){1, 0, 1, 0, 0, 1}, &err), HOP_OK);
    float state[2];
    hop_retrieval r;
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){1, 0}, state, NULL, &r, &err), HOP_OK);
    cr_assert_float_eq(state[0], 0.99998f, 1e-5);
    cr_assert_float_eq(state[1], 0.0000227f, 1e-6);

    float work[6];
    int k = 0;
    double distance = 0.0;
    hop_memory_classify(&m, state, work, &k, &distance);
    cr_assert_eq(k, 2, "the two duplicates share the weight");
    cr_assert(distance < 1e-3, "distance to the duplicates' mean %g", distance);
    hop_retrieval_free(&r);
    hop_memory_free(&m);
}

Test(memory, step_cap_and_convergence)
{
    hop_memory m;
    store_ortho3(&m, 8.0f, 7, 1.0f);
    float state[4];
    hop_retrieval r;
    hop_error err;
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){0.6f, 0.5f, 0.1f, 0}, state, NULL, &r, &err),
                 HOP_OK);
    cr_assert_eq(r.steps, 7, "a negative tolerance runs exactly max_steps updates");
    cr_assert(!r.converged);
    hop_retrieval_free(&r);
    hop_memory_free(&m);

    m = (hop_memory){0};
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = 8.0f;
    c.max_steps = 1000;
    cr_assert_eq(hop_memory_store(&m, &c, 3, 4, ortho3, &err), HOP_OK);
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){0.6f, 0.5f, 0.1f, 0}, state, NULL, &r, &err),
                 HOP_OK);
    cr_assert(r.converged);
    cr_assert(r.steps > 1 && r.steps < 1000, "steps %d", r.steps);
    hop_retrieval_free(&r);
    hop_memory_free(&m);
}

Test(memory, beta_zero_gives_mean)
{
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    float x[20 * 8], query[8], state[8];
    hop_memory_random_sphere(&rng, 20, 8, 3.0f, x);
    hop_memory_random_sphere(&rng, 1, 8, 1.0f, query);
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
        c.beta = 0.0f;
        c.separation = (hop_separation)kind;
        c.max_steps = 1;
        hop_memory m;
        hop_error err;
        cr_assert_eq(hop_memory_store(&m, &c, 20, 8, x, &err), HOP_OK);
        hop_retrieval r;
        cr_assert_eq(hop_memory_retrieve(&m, query, state, NULL, &r, &err), HOP_OK);
        for (int j = 0; j < 8; j++) {
            double mean = 0.0;
            for (int i = 0; i < 20; i++)
                mean += x[i * 8 + j] / 20.0;
            cr_assert_float_eq(state[j], mean, 1e-5, "%s entry %d", hop_separation_name(kind), j);
        }
        hop_retrieval_free(&r);
        hop_memory_free(&m);
    }
}

Test(memory, continuous_energy_never_increases)
{
    hop_rng rng;
    hop_rng_seed(&rng, 9);
    float x[50 * 16], query[16], state[16];
    const float betas[4] = {0.1f, 1.0f, 4.0f, 30.0f};
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        for (int b = 0; b < 4; b++) {
            hop_memory_random_sphere(&rng, 50, 16, 1.0f, x);
            hop_memory_random_sphere(&rng, 1, 16, 1.5f, query);
            hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
            c.beta = betas[b];
            c.separation = (hop_separation)kind;
            c.max_steps = 40;
            hop_memory m;
            hop_error err;
            hop_retrieval r;
            cr_assert_eq(hop_memory_store(&m, &c, 50, 16, x, &err), HOP_OK);
            cr_assert_eq(hop_memory_retrieve(&m, query, state, NULL, &r, &err), HOP_OK);
            for (int t = 0; t < r.steps; t++)
                cr_assert(r.energy[t + 1] <= r.energy[t] + 1e-5 * (1.0 + fabs(r.energy[t])),
                          "%s beta %g: energy %g after %g at step %d", hop_separation_name(kind),
                          (double)betas[b], r.energy[t + 1], r.energy[t], t + 1);
            hop_retrieval_free(&r);
            hop_memory_free(&m);
        }
    }
}

Test(memory, binary_energy_never_increases)
{
    hop_rng rng;
    hop_rng_seed(&rng, 11);
    float x[40 * 32], query[32], state[32];
    for (int kind = 0; kind < HOP_MEMORY_CONTINUOUS; kind++) {
        hop_memory_random_binary(&rng, 40, 32, x);
        hop_memory_random_binary(&rng, 1, 32, query);
        hop_memory_config c = hop_memory_config_default((hop_memory_kind)kind);
        hop_memory m;
        hop_error err;
        hop_retrieval r;
        cr_assert_eq(hop_memory_store(&m, &c, 40, 32, x, &err), HOP_OK, "%s", err.message);
        cr_assert_eq(hop_memory_retrieve(&m, query, state, &rng, &r, &err), HOP_OK);
        cr_assert(r.converged, "%s did not converge in %d sweeps", hop_memory_kind_name(kind),
                  r.steps);
        for (int t = 0; t < r.steps; t++)
            cr_assert(r.energy[t + 1] <= r.energy[t] + 1e-9 * (1.0 + fabs(r.energy[t])),
                      "%s: energy rose at sweep %d", hop_memory_kind_name(kind), t + 1);
        for (int j = 0; j < 32; j++)
            cr_assert(state[j] == 1.0f || state[j] == -1.0f);
        hop_retrieval_free(&r);
        hop_memory_free(&m);
    }
}

static double success(hop_memory_kind kind, hop_memory_update update, int dim, int n,
                      hop_corruption corruption, float amount)
{
    hop_capacity_options o = {
        .memory = hop_memory_config_default(kind),
        .dim = dim,
        .n_patterns = n,
        .n_queries = 100,
        .trials = 2,
        .corruption = corruption,
        .amount = amount,
        .success_distance = 0.1f,
        .seed = 42,
    };
    o.memory.update = update;
    double rate = -1.0;
    hop_error err;
    cr_assert_eq(hop_memory_success_rate(&o, &rate, &err), HOP_OK, "%s", err.message);
    return rate;
}

Test(memory, classical_capacity_limits)
{
    for (int u = 0; u < 2; u++) {
        hop_memory_update update = u ? HOP_UPDATE_SYNC : HOP_UPDATE_ASYNC;
        double low = success(HOP_MEMORY_CLASSICAL, update, 200, 10, HOP_CORRUPT_FLIP, 0.1f);
        double high = success(HOP_MEMORY_CLASSICAL, update, 200, 60, HOP_CORRUPT_FLIP, 0.1f);
        cr_assert(low >= 0.99, "0.05 d patterns: success %g (update %d)", low, u);
        cr_assert(high < 0.5, "0.3 d patterns: success %g (update %d)", high, u);
    }
}

Test(memory, dense_networks_beat_classical)
{
    double classical =
        success(HOP_MEMORY_CLASSICAL, HOP_UPDATE_ASYNC, 64, 64, HOP_CORRUPT_FLIP, 0.1f);
    double polynomial =
        success(HOP_MEMORY_POLYNOMIAL, HOP_UPDATE_ASYNC, 64, 48, HOP_CORRUPT_FLIP, 0.1f);
    cr_assert(classical < 0.1, "classical at N = d: %g", classical);
    cr_assert(polynomial >= 0.99, "polynomial n = 3 at N = 0.75 d: %g", polynomial);
}

Test(memory, exponential_and_continuous_store_many)
{
    double exponential =
        success(HOP_MEMORY_EXPONENTIAL, HOP_UPDATE_ASYNC, 32, 512, HOP_CORRUPT_FLIP, 0.1f);
    double continuous =
        success(HOP_MEMORY_CONTINUOUS, HOP_UPDATE_ASYNC, 32, 512, HOP_CORRUPT_MASK, 0.25f);
    cr_assert(exponential >= 0.99, "exponential, N = 16 d at d = 32: %g", exponential);
    cr_assert(continuous >= 0.99, "continuous, N = 16 d at d = 32: %g", continuous);
}

Test(memory, batch_matches_single)
{
    hop_rng rng;
    hop_rng_seed(&rng, 2);
    enum { N = 40, D = 24, Q = 300 };
    float *x = malloc(sizeof(float) * N * D), *queries = malloc(sizeof(float) * Q * D);
    float *batch = malloc(sizeof(float) * Q * D), state[D];
    int *steps = malloc(sizeof(int) * Q);
    bool *converged = malloc(sizeof(bool) * Q);
    hop_memory_random_sphere(&rng, N, D, 4.0f, x);
    hop_memory_random_sphere(&rng, Q, D, 4.0f, queries);
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    c.beta = 0.5f;
    hop_memory m;
    hop_error err;
    cr_assert_eq(hop_memory_store(&m, &c, N, D, x, &err), HOP_OK);
    cr_assert_eq(hop_memory_retrieve_batch(&m, Q, queries, batch, steps, converged, NULL, &err),
                 HOP_OK);
    for (int q = 0; q < Q; q += 37) {
        hop_retrieval r;
        cr_assert_eq(hop_memory_retrieve(&m, queries + q * D, state, NULL, &r, &err), HOP_OK);
        cr_assert_eq(r.steps, steps[q], "query %d: %d steps, batch %d", q, r.steps, steps[q]);
        for (int j = 0; j < D; j++)
            cr_assert_float_eq(state[j], batch[q * D + j], 1e-4, "query %d entry %d", q, j);
        hop_retrieval_free(&r);
    }
    hop_memory_free(&m);
    free(x);
    free(queries);
    free(batch);
    free(steps);
    free(converged);
}

Test(memory, onestep_error_below_bound)
{
    hop_onestep_options o = {.dim = 16,
                             .n_patterns = 20,
                             .trials = 60,
                             .beta = 1.0f,
                             .radius = 6.0f,
                             .spread_min = 0.05f,
                             .spread_max = 3.0f,
                             .seed = 3};
    hop_onestep_point points[60];
    hop_error err;
    cr_assert_eq(hop_memory_onestep(&o, points, &err), HOP_OK, "%s", err.message);
    int well_separated = 0;
    for (int t = 0; t < 60; t++) {
        cr_assert(points[t].error <= points[t].bound * (1.0 + 1e-4) + 1e-5,
                  "trial %d: error %g above bound %g (delta %g)", t, points[t].error,
                  points[t].bound, points[t].delta);
        if (points[t].delta > 10.0) {
            well_separated++;
            cr_assert(points[t].error < 1e-2, "trial %d: delta %g error %g", t, points[t].delta,
                      points[t].error);
        }
    }
    cr_assert(well_separated > 5, "only %d trials with delta > 10", well_separated);
}

Test(memory, fixed_points_follow_beta)
{
    const float betas[3] = {0.1f, 10.0f, 1000.0f};
    hop_fixedpoint_options o = {.dim = 64,
                                .n_clusters = 4,
                                .cluster_size = 8,
                                .spread = 0.5f,
                                .n_queries = 16,
                                .n_betas = 3,
                                .betas = betas,
                                .separation = HOP_SEPARATION_SOFTMAX,
                                .max_steps = 500,
                                .seed = 1};
    hop_fixedpoint_result r[48];
    hop_error err;
    cr_assert_eq(hop_memory_fixedpoints(&o, r, &err), HOP_OK, "%s", err.message);
    for (int q = 0; q < 16; q++) {
        cr_assert_eq(r[q].kind, HOP_FIXED_GLOBAL, "beta 0.1 query %d: k %d", q, r[q].k);
        cr_assert_eq(r[16 + q].kind, HOP_FIXED_METASTABLE, "beta 10 query %d: k %d", q,
                     r[16 + q].k);
        cr_assert(r[16 + q].subset_distance < 0.5, "beta 10 query %d: distance %g", q,
                  r[16 + q].subset_distance);
        cr_assert_eq(r[32 + q].kind, HOP_FIXED_SINGLE, "beta 1000 query %d: k %d", q, r[32 + q].k);
    }
}

Test(memory, image_demo_retrieves_digits)
{
    /* Ten 4 x 4 "images": a distinct lit pixel pair each on a dark background. */
    float images[10 * 16] = {0};
    for (int i = 0; i < 10; i++) {
        images[i * 16 + i] = 1.0f;
        images[i * 16 + (i + 5) % 16] = 1.0f;
    }
    const float betas[2] = {0.0f, 20.0f};
    hop_image_options o = {.width = 4,
                           .height = 4,
                           .n_images = 10,
                           .images = images,
                           .noise = 0.2f,
                           .n_betas = 2,
                           .betas = betas,
                           .steps = 3,
                           .seed = 1};
    float queries[160], retrieved[320];
    double mse[2], accuracy[2];
    hop_error err;
    cr_assert_eq(hop_memory_images(&o, queries, retrieved, mse, accuracy, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(accuracy[0] <= 0.2, "beta 0 gives the mean: accuracy %g", accuracy[0]);
    cr_assert_eq(accuracy[1], 1.0, "beta 20: accuracy %g", accuracy[1]);
    cr_assert(mse[1] < 1e-3, "beta 20: mse %g", mse[1]);
    for (int i = 0; i < 320; i++)
        cr_assert(retrieved[i] >= 0.0f && retrieved[i] <= 1.0f);
}

Test(memory, bad_patterns_are_rejected)
{
    hop_memory m;
    hop_error err;
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CLASSICAL);
    cr_assert_eq(hop_memory_store(&m, &c, 2, 2, (float[]){1, -1, 0.5f, 1}, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "pattern 1 entry 0 is 0.5") != NULL, "%s", err.message);

    c = hop_memory_config_default(HOP_MEMORY_CONTINUOUS);
    cr_assert_eq(hop_memory_store(&m, &c, 1, 2, (float[]){1, NAN}, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "finite") != NULL, "%s", err.message);

    c = hop_memory_config_default(HOP_MEMORY_EXPONENTIAL);
    c.beta = 0.0f;
    cr_assert_eq(hop_memory_store(&m, &c, 1, 2, (float[]){1, 1}, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "beta > 0") != NULL, "%s", err.message);

    c = hop_memory_config_default(HOP_MEMORY_POLYNOMIAL);
    c.max_steps = 0;
    cr_assert_eq(hop_memory_store(&m, &c, 1, 2, (float[]){1, 1}, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "max_steps") != NULL, "%s", err.message);

    c = hop_memory_config_default(HOP_MEMORY_POLYNOMIAL);
    c.degree = 1;
    cr_assert_eq(hop_memory_store(&m, &c, 1, 2, (float[]){1, 1}, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "degree") != NULL, "%s", err.message);
    cr_assert_eq(hop_memory_store(&m, &c, 0, 2, NULL, &err), HOP_ERR_ARG);
}

Test(memory, async_needs_rng)
{
    hop_memory m;
    hop_error err;
    hop_memory_config c = hop_memory_config_default(HOP_MEMORY_CLASSICAL);
    cr_assert_eq(hop_memory_store(&m, &c, 1, 2, (float[]){1, -1}, &err), HOP_OK);
    float state[2];
    hop_retrieval r;
    cr_assert_eq(hop_memory_retrieve(&m, (float[]){1, 1}, state, NULL, &r, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "random generator") != NULL, "%s", err.message);
    hop_memory_free(&m);

    hop_memory empty = {0};
    cr_assert_eq(hop_memory_retrieve(&empty, (float[]){1, 1}, state, NULL, &r, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "store them first") != NULL, "%s", err.message);
}

Test(memory, names_parse_back)
{
    hop_error err;
    for (int k = 0; k < HOP_MEMORY_KIND_COUNT; k++) {
        hop_memory_kind parsed;
        cr_assert_eq(hop_memory_kind_parse(hop_memory_kind_name(k), &parsed, &err), HOP_OK);
        cr_assert_eq(parsed, k);
    }
    hop_memory_kind parsed;
    cr_assert_eq(hop_memory_kind_parse("boltzmann", &parsed, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "'boltzmann'") != NULL, "%s", err.message);
    hop_corruption corruption;
    cr_assert_eq(hop_corruption_parse("blur", &corruption, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "'blur'") != NULL, "%s", err.message);
}

Test(memory, corruption_counts)
{
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    float x[100], y[100];
    hop_memory_random_binary(&rng, 1, 100, x);
    hop_memory_corrupt(HOP_CORRUPT_FLIP, 0.1f, &rng, 100, x, y);
    int flipped = 0, masked = 0;
    for (int j = 0; j < 100; j++)
        flipped += y[j] == -x[j];
    hop_memory_corrupt(HOP_CORRUPT_MASK, 0.25f, &rng, 100, x, y);
    for (int j = 0; j < 100; j++)
        masked += y[j] == 0.0f;
    cr_assert_eq(flipped, 10);
    cr_assert_eq(masked, 25);
}

/* Runs `hop memory args` in a fresh temporary folder; stdout and stderr go to out. */
static int run_memory(const char *args, char *out, size_t size)
{
    char dir[] = "/tmp/hop-memory-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char command[1024];
    snprintf(command, sizeof command,
             "cd %s && %s memory %s 2>&1; status=$?; rm -rf %s; exit $status", dir, HOP_CLI_PATH,
             args, dir);
    return test_run_command(command, out, size);
}

Test(memory_cli, rate_equal_to_threshold_counts_as_stored)
{
    char out[8192];
    int status = run_memory("capacity --networks continuous --dims 16 --max-patterns 16 "
                            "--out-png memory.png",
                            out, sizeof out);
    cr_assert(strstr(out, "N=16 success 0.990") != NULL, "output: %s", out);
    cr_assert(strstr(out, "| continuous | 16 | >= 16 |") != NULL, "status %d, output: %s", status,
              out);
}

/* Expects `hop memory args` to fail and print a message containing expected. */
static void expect_usage_error(const char *args, const char *expected)
{
    char out[8192];
    int status = run_memory(args, out, sizeof out);
    cr_assert_neq(status, 0, "hop memory %s: status %d, output: %s", args, status, out);
    cr_assert(strstr(out, expected) != NULL, "hop memory %s: output: %s", args, out);
}

Test(memory_cli, fractional_dim_is_rejected)
{
    expect_usage_error("capacity --dims 8.5", "--dims: '8.5' is not a whole number");
}

Test(memory_cli, empty_list_items_are_rejected)
{
    expect_usage_error("capacity --networks classical,,continuous",
                       "--networks: 'classical,,continuous' has an empty item");
    expect_usage_error("capacity --dims 8,", "--dims: '8,' has an empty item");
    expect_usage_error("capacity --dims ,8", "--dims: ',8' has an empty item");
}

Test(memory_cli, duplicate_list_items_are_rejected)
{
    expect_usage_error("capacity --dims 8,16,8", "--dims: 8 is listed twice");
    expect_usage_error("capacity --networks continuous,classical,continuous",
                       "--networks: 'continuous' is listed twice");
}

Test(memory_cli, unknown_network_is_rejected)
{
    expect_usage_error("capacity --networks classical,hebb", "hebb");
}

Test(memory_cli, spread_order_names_the_flags)
{
    expect_usage_error("onestep --spread-min 5 --spread-max 1",
                       "--spread-min 5 exceeds --spread-max 1");
}
