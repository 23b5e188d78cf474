/*
 * Retrieval properties of the modern Hopfield update with static patterns and no
 * projections or norms, where one association is softmax(beta R Y^T) Y.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/layers.h"

typedef struct memory {
    hop_ctx ctx;
    hop_graph *g;
    hop_params ps;
    hop_hopfield layer;
    hop_hopfield_info info;
    hop_node *out;
    hop_node *stored, *state;
} memory;

static void memory_init(memory *m, int width, float beta, int steps)
{
    hop_hopfield_config c = hop_hopfield_config_default(width);
    c.stored_pattern_as_static = c.state_pattern_as_static = true;
    c.pattern_projection_as_static = true;
    c.disable_out_projection = true;
    c.normalize_stored_pattern = c.normalize_stored_pattern_affine = false;
    c.normalize_state_pattern = c.normalize_state_pattern_affine = false;
    c.normalize_pattern_projection = c.normalize_pattern_projection_affine = false;
    c.scaling = beta;
    c.update_steps_max = steps;
    c.update_steps_eps = 1e-30f;
    hop_ctx_init(&m->ctx, 1);
    m->g = hop_graph_new(&m->ctx);
    hop_params_init(&m->ps);
    hop_error err;
    cr_assert_eq(hop_hopfield_init(&m->layer, &c, &m->ps, "memory", NULL, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(m->layer.static_only);
    cr_assert_eq(m->ps.count, 0, "static-only mode has no parameters");
}

/* Stores patterns (count, width) and queries with states (queries, width). */
static void memory_run(memory *m, float *patterns, int count, float *states, int queries, bool grad)
{
    int width = m->layer.config.input_size;
    hop_node *y = grad ? hop_input_grad(m->g, 3, (int[]){1, count, width}, patterns)
                       : hop_input(m->g, 3, (int[]){1, count, width}, patterns);
    hop_node *r = grad ? hop_input_grad(m->g, 3, (int[]){1, queries, width}, states)
                       : hop_input(m->g, 3, (int[]){1, queries, width}, states);
    m->stored = y;
    m->state = r;
    hop_hopfield_inputs in = {.stored = y, .state = r, .projection = y, .record_energy = true};
    m->out = hop_hopfield_forward_inputs(m->g, &m->ps, &m->layer, &in, &m->info);
    cr_assert_not_null(m->out, "%s", m->ctx.error.message);
}

static void memory_free(memory *m)
{
    hop_graph_free(m->g);
    hop_params_free(&m->ps);
}

Test(retrieval, orthogonal_pattern_in_one_update)
{
    enum { D = 8, S = 4 };
    float y[S * D] = {0};
    for (int s = 0; s < S; s++)
        y[s * D + 2 * s] = 1.0f;
    float q[D];
    memcpy(q, y + 2 * D, sizeof q);
    q[0] = 0.1f, q[5] = -0.1f, q[4] = 0.9f;

    memory m;
    memory_init(&m, D, 100.0f, 0);
    memory_run(&m, y, S, q, 1, false);
    for (int d = 0; d < D; d++)
        cr_expect(fabsf(m.out->value.data[d] - y[2 * D + d]) <= 1e-6f,
                  "feature %d: %.9g, stored %.9g", d, m.out->value.data[d], y[2 * D + d]);
    cr_expect_eq(m.info.update_steps[0], 0);
    memory_free(&m);
}

Test(retrieval, zero_beta_returns_mean)
{
    enum { D = 5, S = 6 };
    float y[S * D], q[D] = {3, -1, 2, 0.5f, 7};
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    for (int i = 0; i < S * D; i++)
        y[i] = 2.0f * hop_rng_normal(&rng);

    memory m;
    memory_init(&m, D, 0.0f, 0);
    cr_expect_eq(m.layer.config.scaling, 0.0f, "beta 0 is used as given");
    memory_run(&m, y, S, q, 1, false);
    for (int d = 0; d < D; d++) {
        double mean = 0.0;
        for (int s = 0; s < S; s++)
            mean += y[s * D + d] / S;
        cr_expect(fabs(m.out->value.data[d] - mean) <= 1e-6, "feature %d: %.9g, mean %.9g", d,
                  m.out->value.data[d], mean);
    }
    memory_free(&m);
}

Test(retrieval, cluster_gives_metastable_state)
{
    enum { D = 16, S = 5, CLUSTER = 3 };
    float y[S * D] = {0};
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    for (int s = 0; s < CLUSTER; s++) {
        y[s * D + 0] = 3.0f;
        for (int d = 0; d < D; d++)
            y[s * D + d] += 0.01f * hop_rng_normal(&rng);
    }
    y[3 * D + 5] = 3.0f;
    y[4 * D + 9] = 3.0f;
    float q[D] = {0};
    q[0] = 2.5f, q[1] = 0.3f;

    memory m;
    memory_init(&m, D, 2.0f, -1);
    memory_run(&m, y, S, q, 1, false);
    const float *xi = m.info.association->value.data;
    for (int s = 0; s < CLUSTER; s++)
        cr_expect(xi[s] > 0.25f && xi[s] < 0.42f,
                  "cluster pattern %d has weight %.6g; a metastable state spreads it", s, xi[s]);
    cr_expect(xi[3] < 1e-6f && xi[4] < 1e-6f, "far patterns get %.3g and %.3g", xi[3], xi[4]);
    for (int d = 0; d < D; d++) {
        double mean = (y[d] + y[D + d] + y[2 * D + d]) / 3.0;
        cr_expect(fabs(m.out->value.data[d] - mean) <= 1e-3, "feature %d: %.6g, cluster mean %.6g",
                  d, m.out->value.data[d], mean);
    }
    cr_expect_lt(m.info.update_steps[0], HOP_HOPFIELD_UNBOUNDED_STEP_LIMIT, "the update converged");
    memory_free(&m);
}

Test(retrieval, energy_never_increases)
{
    enum { D = 8, S = 10, L = 3, STEPS = 20 };
    const float betas[] = {0.25f, 1.0f, 4.0f};
    for (size_t k = 0; k < sizeof betas / sizeof betas[0]; k++) {
        float y[S * D], q[L * D];
        hop_rng rng;
        hop_rng_seed(&rng, 11 + k);
        for (int i = 0; i < S * D; i++)
            y[i] = hop_rng_normal(&rng);
        for (int i = 0; i < L * D; i++)
            q[i] = hop_rng_normal(&rng);

        memory m;
        memory_init(&m, D, betas[k], STEPS);
        memory_run(&m, y, S, q, L, false);
        int steps = m.info.update_steps[0];
        cr_expect(steps >= 1 && steps <= STEPS, "took %d steps", steps);
        float energy[(STEPS + 1) * L];
        hop_error err;
        cr_assert_eq(hop_hopfield_info_energy(&m.info, 0, energy, (size_t)(steps + 1) * L, &err),
                     HOP_OK, "%s", err.message);
        for (int t = 0; t < steps; t++)
            for (int l = 0; l < L; l++)
                cr_expect(energy[(t + 1) * L + l] <= energy[t * L + l] + 1e-5f,
                          "beta %g, state %d: energy rose from %.9g to %.9g at step %d",
                          (double)betas[k], l, energy[t * L + l], energy[(t + 1) * L + l], t + 1);
        memory_free(&m);
    }
}

Test(retrieval, softmax_finite_at_extreme_beta)
{
    enum { D = 4, S = 3 };
    float y[S * D] = {100, 0, 0, 0, 0, 100, 0, 0, 99, 1, 0, 0};
    float q[D] = {100, 0, 0, 0};
    const float betas[] = {1.0f, 1e4f};
    for (int k = 0; k < 2; k++) {
        memory m;
        memory_init(&m, D, betas[k], 2);
        memory_run(&m, y, S, q, 1, true);
        hop_node *loss = hop_sum(m.g, hop_reshape(m.g, m.out, 2, (int[]){1, -1}), 1, 0);
        cr_assert_eq(hop_backward(m.g, loss), HOP_OK, "%s", m.ctx.error.message);
        for (int d = 0; d < D; d++)
            cr_expect(isfinite(m.out->value.data[d]), "beta %g: output %d is not finite",
                      (double)betas[k], d);
        for (int s = 0; s < S; s++)
            cr_expect(isfinite(m.info.association->value.data[s]), "beta %g: xi[%d]",
                      (double)betas[k], s);
        cr_expect(fabsf(m.out->value.data[0] - 100.0f) <= 1e-3f, "beta %g retrieves pattern 0",
                  (double)betas[k]);
        for (int i = 0; i < S * D; i++)
            cr_expect(isfinite(m.stored->grad[i]), "beta %g: gradient %d of the patterns",
                      (double)betas[k], i);
        for (int d = 0; d < D; d++)
            cr_expect(isfinite(m.state->grad[d]), "beta %g: gradient %d of the state",
                      (double)betas[k], d);
        memory_free(&m);
    }
}
