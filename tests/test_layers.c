/* Linear, LayerNorm, Dropout, the Hopfield core and HopfieldPooling. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/layers.h"

typedef struct fixture {
    hop_ctx ctx;
    hop_graph *g;
    hop_params ps;
    hop_rng rng;
    hop_error err;
} fixture;

static void fixture_init(fixture *f, uint64_t seed)
{
    hop_ctx_init(&f->ctx, seed);
    f->g = hop_graph_new(&f->ctx);
    cr_assert_not_null(f->g);
    hop_graph_set_training(f->g, false);
    hop_params_init(&f->ps);
    hop_rng_seed(&f->rng, seed);
    hop_error_clear(&f->err);
}

static void fixture_free(fixture *f)
{
    hop_graph_free(f->g);
    hop_params_free(&f->ps);
}

/* Overwrites every parameter with N(0, scale^2), so attention is far from uniform. */
static void randomize_params(fixture *f, float scale)
{
    for (size_t i = 0; i < f->ps.total; i++)
        f->ps.values[i] = scale * hop_rng_normal(&f->rng);
}

static void fill_normal(hop_rng *rng, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * hop_rng_normal(rng);
}

static void expect_close(const float *a, const float *b, size_t n, double tolerance,
                         const char *what)
{
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    cr_expect(worst <= tolerance, "%s: max difference %.3g at %zu (%.9g vs %.9g)", what, worst, at,
              (double)a[at], (double)b[at]);
}

/* Loss sum(out * w) with w a constant of out's shape. */
static hop_node *weighted_sum(hop_graph *g, hop_node *out, float *w)
{
    hop_node *weight = hop_input(g, out->value.ndim, out->value.shape, w);
    int flat[2] = {1, -1};
    return hop_sum(g, hop_reshape(g, hop_mul(g, out, weight), 2, flat), 1, 0);
}

typedef struct expected_param {
    const char *name;
    int ndim;
    int shape[3];
} expected_param;

static void expect_params(const hop_params *ps, const expected_param *expected, int count)
{
    cr_expect_eq(ps->count, count, "%d parameters registered, expected %d", ps->count, count);
    for (int i = 0; i < count && i < ps->count; i++) {
        const hop_param_info *info = &ps->info[i];
        cr_expect_str_eq(info->name, expected[i].name, "parameter %d", i);
        cr_expect(hop_shape_equal(info->ndim, info->shape, expected[i].ndim, expected[i].shape),
                  "parameter %s has the wrong shape", info->name);
    }
}

/* Linear. */

Test(linear, forward_matches_hand_values)
{
    fixture f;
    fixture_init(&f, 1);
    hop_linear layer;
    hop_linear_config config = hop_linear_config_default(3, 2);
    cr_assert_eq(hop_linear_init(&layer, &config, &f.ps, "fc", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);

    const float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5f, -1};
    memcpy(hop_params_value(&f.ps, layer.weight_id).data, w, sizeof w);
    memcpy(hop_params_value(&f.ps, layer.bias_id).data, b, sizeof b);

    float x[6] = {1, 0, -1, 2, 1, 0};
    hop_node *y = hop_linear_forward(f.g, &f.ps, &layer, hop_input(f.g, 2, (int[]){2, 3}, x));
    cr_assert_not_null(y, "%s", f.ctx.error.message);
    const float expected[4] = {-1.5f, -3.0f, 4.5f, 12.0f};
    expect_close(y->value.data, expected, 4, 1e-6, "linear output");
    fixture_free(&f);
}

Test(linear, registers_weight_and_bias)
{
    fixture f;
    fixture_init(&f, 1);
    hop_linear with_bias, without_bias;
    hop_linear_config config = hop_linear_config_default(3, 2);
    cr_assert_eq(hop_linear_init(&with_bias, &config, &f.ps, "fc", &f.rng, &f.err), HOP_OK);
    config.bias = false;
    cr_assert_eq(hop_linear_init(&without_bias, &config, &f.ps, "", &f.rng, &f.err), HOP_OK);

    const expected_param expected[] = {
        {"fc.weight", 2, {2, 3}},
        {"fc.bias", 1, {2}},
        {"weight", 2, {2, 3}},
    };
    expect_params(&f.ps, expected, 3);
    cr_expect_eq(without_bias.bias_id, -1);
    fixture_free(&f);
}

Test(linear, rejects_wrong_input_width)
{
    fixture f;
    fixture_init(&f, 1);
    hop_linear layer;
    hop_linear_config config = hop_linear_config_default(3, 2);
    cr_assert_eq(hop_linear_init(&layer, &config, &f.ps, "fc", &f.rng, &f.err), HOP_OK);
    float x[4] = {0};
    cr_expect_null(hop_linear_forward(f.g, &f.ps, &layer, hop_input(f.g, 2, (int[]){2, 2}, x)));
    cr_expect(strstr(f.ctx.error.message, "in_features 3") != NULL, "%s", f.ctx.error.message);

    config.in_features = 0;
    cr_expect_eq(hop_linear_init(&layer, &config, &f.ps, "bad", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "in_features 0") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

/* LayerNorm. */

Test(layernorm, forward_matches_hand_values)
{
    fixture f;
    fixture_init(&f, 1);
    hop_layernorm_layer layer;
    hop_layernorm_config config = hop_layernorm_config_default(4);
    config.eps = 1e-10f;
    cr_assert_eq(hop_layernorm_layer_init(&layer, &config, &f.ps, "ln", &f.err), HOP_OK, "%s",
                 f.err.message);

    const float gamma[4] = {1, 2, 1, 1}, beta[4] = {0, 0, 1, 0};
    memcpy(hop_params_value(&f.ps, layer.weight_id).data, gamma, sizeof gamma);
    memcpy(hop_params_value(&f.ps, layer.bias_id).data, beta, sizeof beta);

    /* mean 2.5 and biased variance 1.25, so x_hat = (x - 2.5) / sqrt(1.25). */
    float x[4] = {1, 2, 3, 4};
    hop_node *y =
        hop_layernorm_layer_forward(f.g, &f.ps, &layer, hop_input(f.g, 2, (int[]){1, 4}, x));
    cr_assert_not_null(y, "%s", f.ctx.error.message);
    const float expected[4] = {-1.3416408f, -0.8944272f, 1.4472136f, 1.3416408f};
    expect_close(y->value.data, expected, 4, 1e-6, "layernorm output");
    fixture_free(&f);
}

Test(layernorm, without_affine_registers_nothing)
{
    fixture f;
    fixture_init(&f, 1);
    hop_layernorm_layer layer;
    hop_layernorm_config config = {.features = 4, .affine = false, .eps = 1e-5f};
    cr_assert_eq(hop_layernorm_layer_init(&layer, &config, &f.ps, "ln", &f.err), HOP_OK);
    cr_expect_eq(f.ps.count, 0);
    cr_expect_eq(layer.weight_id, -1);

    float x[4] = {1, 2, 3, 4};
    hop_node *y =
        hop_layernorm_layer_forward(f.g, &f.ps, &layer, hop_input(f.g, 2, (int[]){1, 4}, x));
    cr_assert_not_null(y, "%s", f.ctx.error.message);
    cr_expect_float_eq(y->value.data[0], -1.3416408f, 1e-4);
    fixture_free(&f);
}

Test(layernorm, rejects_negative_eps)
{
    fixture f;
    fixture_init(&f, 1);
    hop_layernorm_layer layer;
    hop_layernorm_config config = hop_layernorm_config_default(4);
    config.eps = -0.25f;
    cr_expect_eq(hop_layernorm_layer_init(&layer, &config, &f.ps, "ln", &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "eps -0.25") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

/* Dropout. */

Test(dropout, checks_probability_and_is_identity_at_zero)
{
    fixture f;
    fixture_init(&f, 1);
    hop_dropout_layer layer;
    cr_expect_eq(hop_dropout_layer_init(&layer, 1.0f, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "probability 1") != NULL, "%s", f.err.message);
    cr_expect_eq(hop_dropout_layer_init(&layer, -0.1f, &f.err), HOP_ERR_ARG);
    cr_expect_eq(hop_dropout_layer_init(&layer, NAN, &f.err), HOP_ERR_ARG);

    float x[4] = {1, 2, 3, 4};
    hop_node *in = hop_input(f.g, 1, (int[]){4}, x);
    cr_assert_eq(hop_dropout_layer_init(&layer, 0.0f, &f.err), HOP_OK);
    cr_expect_eq(hop_dropout_layer_forward(f.g, NULL, &layer, in), in);
    fixture_free(&f);
}

Test(dropout, zeroes_and_rescales_in_training)
{
    fixture f;
    fixture_init(&f, 3);
    hop_graph_set_training(f.g, true);
    hop_dropout_layer layer;
    cr_assert_eq(hop_dropout_layer_init(&layer, 0.5f, &f.err), HOP_OK);

    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = 1.0f;
    hop_node *y = hop_dropout_layer_forward(f.g, NULL, &layer, hop_input(f.g, 1, (int[]){256}, x));
    cr_assert_not_null(y, "%s", f.ctx.error.message);
    int zeros = 0;
    for (int i = 0; i < 256; i++) {
        cr_expect(y->value.data[i] == 0.0f || y->value.data[i] == 2.0f, "element %d is %g", i,
                  (double)y->value.data[i]);
        zeros += y->value.data[i] == 0.0f;
    }
    cr_expect(zeros > 64 && zeros < 192, "%d of 256 dropped at p = 0.5", zeros);
    fixture_free(&f);
}

/* Hopfield core: parameters and configuration. */

Test(hopfield_pooling, registers_reference_names_in_order)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield_pooling layer;
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    cr_assert_eq(hop_hopfield_pooling_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK,
                 "%s", f.err.message);

    const expected_param expected[] = {
        {"pooling_weights", 3, {1, 1, 8}},
        {"hopfield.association_core.in_proj_weight", 2, {24, 8}},
        {"hopfield.association_core.in_proj_bias", 1, {24}},
        {"hopfield.association_core.out_proj.weight", 2, {8, 8}},
        {"hopfield.association_core.out_proj.bias", 1, {8}},
        {"hopfield.norm_stored_pattern.weight", 1, {8}},
        {"hopfield.norm_stored_pattern.bias", 1, {8}},
        {"hopfield.norm_state_pattern.weight", 1, {8}},
        {"hopfield.norm_state_pattern.bias", 1, {8}},
        {"hopfield.norm_pattern_projection.weight", 1, {8}},
        {"hopfield.norm_pattern_projection.bias", 1, {8}},
    };
    expect_params(&f.ps, expected, 11);
    fixture_free(&f);
}

Test(hopfield_pooling, prefix_and_initial_values)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield_pooling layer;
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    cr_assert_eq(hop_hopfield_pooling_init(&layer, &config, &f.ps, "pool", &f.rng, &f.err), HOP_OK);
    cr_expect_geq(hop_params_find(&f.ps, "pool.hopfield.association_core.in_proj_weight"), 0);
    cr_expect_eq(hop_params_find(&f.ps, "pool.pooling_weights"), layer.pooling_weights_id);

    hop_tensor w = hop_params_value(&f.ps, layer.hopfield.in_proj_weight_id);
    double sum2 = 0.0;
    for (size_t i = 0; i < hop_tensor_numel(&w); i++)
        sum2 += (double)w.data[i] * w.data[i];
    double std = sqrt(sum2 / (double)hop_tensor_numel(&w));
    cr_expect(std > 0.015 && std < 0.025, "in_proj_weight std %g, expected about 0.02", std);
    cr_expect_eq(hop_params_value(&f.ps, layer.hopfield.in_proj_bias_id).data[3], 0.0f);
    cr_expect_eq(hop_params_value(&f.ps, layer.hopfield.norm_state_pattern.weight_id).data[0],
                 1.0f);
    fixture_free(&f);
}

Test(hopfield, separate_weights_when_widths_differ)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield layer;
    hop_hopfield_config config = hop_hopfield_config_default(8);
    config.hidden_size = 6;
    config.num_heads = 2;
    config.output_size = 5;
    config.stored_pattern_size = 7;
    config.pattern_projection_size = 9;
    cr_assert_eq(hop_hopfield_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);
    cr_expect_not(layer.packed);

    const expected_param expected[] = {
        {"association_core.q_proj_weight", 2, {12, 8}},
        {"association_core.k_proj_weight", 2, {12, 7}},
        {"association_core.v_proj_weight", 2, {12, 9}},
        {"association_core.in_proj_bias", 1, {36}},
        {"association_core.out_proj.weight", 2, {5, 12}},
        {"association_core.out_proj.bias", 1, {5}},
        {"norm_stored_pattern.weight", 1, {7}},
        {"norm_stored_pattern.bias", 1, {7}},
        {"norm_state_pattern.weight", 1, {8}},
        {"norm_state_pattern.bias", 1, {8}},
        {"norm_pattern_projection.weight", 1, {9}},
        {"norm_pattern_projection.bias", 1, {9}},
    };
    expect_params(&f.ps, expected, 12);
    fixture_free(&f);
}

Test(hopfield, registers_space_norm_and_split_weights)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield layer;
    hop_hopfield_config config = hop_hopfield_config_default(8);
    config.hidden_size = 4;
    config.pattern_size = 4;
    config.num_heads = 2;
    config.input_bias = false;
    config.disable_out_projection = true;
    config.normalize_hopfield_space = config.normalize_hopfield_space_affine = true;
    cr_assert_eq(hop_hopfield_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);

    const expected_param expected[] = {
        {"association_core.p_norm_weight", 1, {4}},
        {"association_core.p_norm_bias", 1, {4}},
        {"association_core.q_proj_weight", 2, {8, 8}},
        {"association_core.k_proj_weight", 2, {8, 8}},
        {"association_core.v_proj_weight", 2, {8, 8}},
        {"norm_stored_pattern.weight", 1, {8}},
        {"norm_stored_pattern.bias", 1, {8}},
        {"norm_state_pattern.weight", 1, {8}},
        {"norm_state_pattern.bias", 1, {8}},
        {"norm_pattern_projection.weight", 1, {8}},
        {"norm_pattern_projection.bias", 1, {8}},
    };
    expect_params(&f.ps, expected, 11);
    cr_expect_eq(layer.output_width, 8);
    fixture_free(&f);
}

Test(hopfield, default_beta_uses_head_width)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield one, two, explicit_beta;
    hop_hopfield_config config = hop_hopfield_config_default(8);
    cr_assert_eq(hop_hopfield_init(&one, &config, &f.ps, "one", &f.rng, &f.err), HOP_OK);
    config.num_heads = 2;
    cr_assert_eq(hop_hopfield_init(&two, &config, &f.ps, "two", &f.rng, &f.err), HOP_OK);
    config.hidden_size = 9;
    config.scaling = 0.25f;
    cr_assert_eq(hop_hopfield_init(&explicit_beta, &config, &f.ps, "explicit", &f.rng, &f.err),
                 HOP_OK);

    cr_expect_float_eq(one.config.scaling, 1.0f / sqrtf(8.0f), 1e-7);
    cr_expect_float_eq(two.config.scaling, 0.5f, 1e-7, "per-head width 4");
    cr_expect_eq(explicit_beta.config.scaling, 0.25f);
    fixture_free(&f);
}

/* Hopfield core: forward values. */

/* softmax(beta R Y^T) Y for one bag of S patterns of width d, in double. */
static void attention_by_hand(const float *x, int s, int d, double beta, double *out)
{
    for (int i = 0; i < s; i++) {
        double logits[16], max = -INFINITY, sum = 0.0;
        for (int j = 0; j < s; j++) {
            logits[j] = 0.0;
            for (int k = 0; k < d; k++)
                logits[j] += beta * x[i * d + k] * x[j * d + k];
            max = fmax(max, logits[j]);
        }
        for (int j = 0; j < s; j++)
            sum += (logits[j] = exp(logits[j] - max));
        for (int k = 0; k < d; k++) {
            out[i * d + k] = 0.0;
            for (int j = 0; j < s; j++)
                out[i * d + k] += logits[j] / sum * x[j * d + k];
        }
    }
}

static hop_hopfield_config plain_config(int input_size, int num_heads)
{
    hop_hopfield_config config = hop_hopfield_config_default(input_size);
    config.num_heads = num_heads;
    config.normalize_stored_pattern = config.normalize_stored_pattern_affine = false;
    config.normalize_state_pattern = config.normalize_state_pattern_affine = false;
    config.normalize_pattern_projection = config.normalize_pattern_projection_affine = false;
    config.disable_out_projection = true;
    return config;
}

Test(hopfield, identity_projections_give_plain_attention)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield layer;
    hop_hopfield_config config = plain_config(2, 1);
    config.input_bias = false;
    cr_assert_eq(hop_hopfield_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK);

    /* in_proj_weight = [I; I; I], so Q = K = P = x and beta is the default 1/sqrt(2). */
    const float identity3[12] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
    memcpy(hop_params_value(&f.ps, layer.in_proj_weight_id).data, identity3, sizeof identity3);

    float x[6] = {1.0f, -0.5f, 2.0f, 0.25f, -1.5f, 3.0f};
    hop_node *out = hop_hopfield_forward(f.g, &f.ps, &layer, hop_input(f.g, 3, (int[]){1, 3, 2}, x),
                                         NULL, NULL);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    cr_expect_eq(out->value.shape[2], 2);

    double expected[6];
    float expected_f[6];
    attention_by_hand(x, 3, 2, 1.0 / sqrt(2.0), expected);
    for (int i = 0; i < 6; i++)
        expected_f[i] = (float)expected[i];
    expect_close(out->value.data, expected_f, 6, 1e-6, "attention output");
    fixture_free(&f);
}

Test(hopfield, counts_update_steps_per_head)
{
    fixture f;
    fixture_init(&f, 2);
    hop_hopfield fixed, none;
    hop_hopfield_config config = plain_config(8, 2);
    config.update_steps_max = 3;
    config.update_steps_eps = 1e-30f;
    cr_assert_eq(hop_hopfield_init(&fixed, &config, &f.ps, "fixed", &f.rng, &f.err), HOP_OK);
    config.update_steps_max = 0;
    cr_assert_eq(hop_hopfield_init(&none, &config, &f.ps, "none", &f.rng, &f.err), HOP_OK);
    randomize_params(&f, 0.5f);

    float x[2 * 5 * 8];
    fill_normal(&f.rng, x, 80, 1.0f);
    hop_node *in = hop_input(f.g, 3, (int[]){2, 5, 8}, x);
    hop_hopfield_info a, b;
    cr_assert_not_null(hop_hopfield_forward(f.g, &f.ps, &fixed, in, NULL, &a), "%s",
                       f.ctx.error.message);
    cr_assert_not_null(hop_hopfield_forward(f.g, &f.ps, &none, in, NULL, &b), "%s",
                       f.ctx.error.message);
    cr_assert_eq(a.num_heads, 2);
    cr_expect_eq(a.update_steps[0], 3);
    cr_expect_eq(a.update_steps[1], 3);
    cr_expect_eq(b.update_steps[0], 0);
    cr_expect_eq(b.update_steps[1], 0);
    fixture_free(&f);
}

/* Copies rows [from, from + n) of a 2-head projection weight or bias into a 1-head one. */
static void copy_rows(const float *src, float *dst, int dst_row, int src_row, int rows, int width)
{
    memcpy(dst + (size_t)dst_row * width, src + (size_t)src_row * width,
           (size_t)rows * width * sizeof *dst);
}

/* Row blocks [Wq_h; Wk_h; Wv_h] of head h in a packed 2-head weight with head width 2. */
static const int head_row[3] = {0, 4, 8};

typedef struct head_run {
    hop_graph *g; /* one graph per run, because backward walks every node of its graph */
    hop_hopfield_info info;
    hop_node *out;
    hop_node *x;
} head_run;

static void run_with_loss(fixture *f, const hop_hopfield *layer, float *x, float *w, head_run *run)
{
    run->g = hop_graph_new(&f->ctx);
    cr_assert_not_null(run->g);
    run->x = hop_input_grad(run->g, 3, (int[]){2, 5, 4}, x);
    run->out = hop_hopfield_forward(run->g, &f->ps, layer, run->x, NULL, &run->info);
    cr_assert_not_null(run->out, "%s", f->ctx.error.message);
    cr_assert_eq(hop_backward(run->g, weighted_sum(run->g, run->out, w)), HOP_OK, "%s",
                 f->ctx.error.message);
}

/*
 * Heads whose stopping test differs run on separate chains. Each head of a 2-head layer
 * must then equal a 1-head layer with that head's weights: association matrix, step count,
 * output and gradients.
 */
Test(hopfield, split_heads_match_single_head_runs)
{
    fixture f;
    fixture_init(&f, 5);
    hop_hopfield two, one[2];
    hop_hopfield_config config = plain_config(4, 2);
    config.update_steps_max = -1;
    config.update_steps_eps = 1e-3f;
    cr_assert_eq(hop_hopfield_init(&two, &config, &f.ps, "two", &f.rng, &f.err), HOP_OK);
    config.num_heads = 1;
    config.hidden_size = 2;
    for (int h = 0; h < 2; h++)
        cr_assert_eq(
            hop_hopfield_init(&one[h], &config, &f.ps, h ? "one1" : "one0", &f.rng, &f.err), HOP_OK,
            "%s", f.err.message);

    /* Head 0 attends almost uniformly and settles at once, head 1 needs several steps. */
    float *w2 = hop_params_value(&f.ps, two.in_proj_weight_id).data;
    float *b2 = hop_params_value(&f.ps, two.in_proj_bias_id).data;
    for (int r = 0; r < 12; r++)
        for (int k = 0; k < 4; k++)
            w2[r * 4 + k] = ((r / 2) % 2 ? 0.5f : 0.05f) * hop_rng_normal(&f.rng);
    fill_normal(&f.rng, b2, 12, 0.3f);
    for (int h = 0; h < 2; h++) {
        float *w1 = hop_params_value(&f.ps, one[h].in_proj_weight_id).data;
        float *b1 = hop_params_value(&f.ps, one[h].in_proj_bias_id).data;
        for (int part = 0; part < 3; part++) {
            copy_rows(w2, w1, 2 * part, head_row[part] + 2 * h, 2, 4);
            copy_rows(b2, b1, 2 * part, head_row[part] + 2 * h, 2, 1);
        }
    }

    float x[40], w[40], w_head[2][20];
    fill_normal(&f.rng, x, 40, 1.0f);
    fill_normal(&f.rng, w, 40, 1.0f);
    for (int i = 0; i < 20; i++)
        for (int h = 0; h < 2; h++)
            w_head[h][i] = w[(i / 2) * 4 + 2 * h + i % 2];

    head_run both, single[2];
    run_with_loss(&f, &two, x, w, &both);
    for (int h = 0; h < 2; h++)
        run_with_loss(&f, &one[h], x, w_head[h], &single[h]);

    cr_assert_neq(both.info.update_steps[0], both.info.update_steps[1],
                  "the heads must stop at different steps for this test (both took %d)",
                  both.info.update_steps[0]);
    float input_grad_sum[40];
    for (int i = 0; i < 40; i++)
        input_grad_sum[i] = single[0].x->grad[i] + single[1].x->grad[i];
    expect_close(both.x->grad, input_grad_sum, 40, 1e-5, "input gradient");

    for (int h = 0; h < 2; h++) {
        cr_expect_eq(both.info.update_steps[h], single[h].info.update_steps[0], "head %d", h);
        float xi[50], out[20];
        for (int b = 0; b < 2; b++)
            memcpy(xi + b * 25, both.info.association->value.data + (b * 2 + h) * 25,
                   25 * sizeof *xi);
        expect_close(xi, single[h].info.association->value.data, 50, 1e-6, "association");
        for (int i = 0; i < 20; i++)
            out[i] = both.out->value.data[(i / 2) * 4 + 2 * h + i % 2];
        expect_close(out, single[h].out->value.data, 20, 1e-6, "head output");

        const float *g2 = hop_params_grad(&f.ps, two.in_proj_weight_id);
        const float *g1 = hop_params_grad(&f.ps, one[h].in_proj_weight_id);
        for (int part = 0; part < 3; part++)
            expect_close(g2 + (head_row[part] + 2 * h) * 4, g1 + 2 * part * 4, 8, 1e-5,
                         "in_proj_weight gradient");
    }
    hop_graph_free(both.g);
    hop_graph_free(single[0].g);
    hop_graph_free(single[1].g);
    fixture_free(&f);
}

/* HopfieldPooling: invariances and masks. */

static void init_pooling(fixture *f, hop_hopfield_pooling *layer, int quantity, int steps)
{
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    config.quantity = quantity;
    config.hopfield.num_heads = 2;
    config.hopfield.update_steps_max = steps;
    config.hopfield.update_steps_eps = 1e-30f;
    cr_assert_eq(hop_hopfield_pooling_init(layer, &config, &f->ps, "pool", &f->rng, &f->err),
                 HOP_OK, "%s", f->err.message);
    randomize_params(f, 0.5f);
}

static hop_node *pool(fixture *f, const hop_hopfield_pooling *layer, float *x, float *mask,
                      int batch, int count, hop_hopfield_info *info)
{
    hop_node *in = hop_input(f->g, 3, (int[]){batch, count, 8}, x);
    hop_node *m = mask ? hop_input(f->g, 2, (int[]){batch, count}, mask) : NULL;
    hop_node *out = hop_hopfield_pooling_forward(f->g, &f->ps, layer, in, m, info);
    cr_assert_not_null(out, "%s", f->ctx.error.message);
    return out;
}

Test(hopfield_pooling, output_width_scales_with_quantity)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield_pooling layer, narrow;
    init_pooling(&f, &layer, 2, 0);
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    config.quantity = 2;
    config.hopfield.output_size = 5;
    cr_assert_eq(hop_hopfield_pooling_init(&narrow, &config, &f.ps, "narrow", &f.rng, &f.err),
                 HOP_OK);

    float x[3 * 4 * 8];
    fill_normal(&f.rng, x, 96, 1.0f);
    hop_node *out = pool(&f, &layer, x, NULL, 3, 4, NULL);
    cr_expect_eq(out->value.ndim, 2);
    cr_expect_eq(out->value.shape[0], 3);
    cr_expect_eq(out->value.shape[1], 16);
    out = pool(&f, &narrow, x, NULL, 3, 4, NULL);
    cr_expect_eq(out->value.shape[1], 10);
    fixture_free(&f);
}

Test(hopfield_pooling, output_ignores_instance_order)
{
    fixture f;
    fixture_init(&f, 7);
    hop_hopfield_pooling layer;
    init_pooling(&f, &layer, 2, 2);

    float x[2 * 5 * 8], shuffled[2 * 5 * 8];
    float mask[10] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, shuffled_mask[10];
    fill_normal(&f.rng, x, 80, 1.0f);
    const int order[2][5] = {{3, 0, 4, 2, 1}, {1, 4, 0, 3, 2}};
    for (int b = 0; b < 2; b++) {
        for (int s = 0; s < 5; s++) {
            memcpy(shuffled + (b * 5 + s) * 8, x + (b * 5 + order[b][s]) * 8, 8 * sizeof *x);
            shuffled_mask[b * 5 + s] = mask[b * 5 + order[b][s]];
        }
    }

    hop_node *a = pool(&f, &layer, x, mask, 2, 5, NULL);
    hop_node *b = pool(&f, &layer, shuffled, shuffled_mask, 2, 5, NULL);
    expect_close(a->value.data, b->value.data, 2 * 16, 1e-6, "permuted bag");
    fixture_free(&f);
}

Test(hopfield_pooling, output_ignores_masked_padding)
{
    fixture f;
    fixture_init(&f, 9);
    hop_hopfield_pooling layer;
    init_pooling(&f, &layer, 1, 2);

    /* The real instances sit at even rows; odd rows are large garbage, masked out. */
    float bag[4 * 8], padded[7 * 8], mask[7];
    fill_normal(&f.rng, bag, 32, 1.0f);
    fill_normal(&f.rng, padded, 56, 100.0f);
    for (int s = 0; s < 7; s++) {
        mask[s] = s % 2 ? 1.0f : 0.0f;
        if (s % 2 == 0)
            memcpy(padded + s * 8, bag + (s / 2) * 8, 8 * sizeof *bag);
    }

    hop_node *a = pool(&f, &layer, bag, NULL, 1, 4, NULL);
    hop_node *b = pool(&f, &layer, padded, mask, 1, 7, NULL);
    expect_close(a->value.data, b->value.data, 8, 1e-6, "padded bag");
    fixture_free(&f);
}

Test(hopfield_pooling, association_rows_normalized_and_masked)
{
    fixture f;
    fixture_init(&f, 11);
    hop_hopfield_pooling layer;
    init_pooling(&f, &layer, 2, 1);

    float x[2 * 6 * 8], mask[12] = {0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    fill_normal(&f.rng, x, 96, 1.0f);
    hop_hopfield_info info;
    pool(&f, &layer, x, mask, 2, 6, &info);

    /* (B, heads, quantity, S) = (2, 2, 2, 6). */
    float xi[48];
    cr_assert_eq(hop_hopfield_info_association(&info, xi, 48, &f.err), HOP_OK, "%s", f.err.message);
    for (int row = 0; row < 8; row++) {
        int b = row / 4;
        double sum = 0.0;
        for (int s = 0; s < 6; s++) {
            sum += xi[row * 6 + s];
            if (mask[b * 6 + s] != 0.0f)
                cr_expect_eq(xi[row * 6 + s], 0.0f, "row %d, masked column %d", row, s);
        }
        cr_expect_float_eq(sum, 1.0, 1e-6, "row %d sums to %g", row, sum);
    }

    cr_expect_eq(hop_hopfield_info_association(&info, xi, 47, &f.err), HOP_ERR_SHAPE);
    cr_expect(strstr(f.err.message, "48") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

Test(hopfield_pooling, fully_masked_bag_stays_finite)
{
    fixture f;
    fixture_init(&f, 13);
    hop_hopfield_pooling layer;
    init_pooling(&f, &layer, 1, 2);

    float x[2 * 3 * 8], mask[6] = {0, 0, 1, 1, 1, 1};
    fill_normal(&f.rng, x, 48, 1.0f);
    hop_node *in = hop_input_grad(f.g, 3, (int[]){2, 3, 8}, x);
    hop_node *m = hop_input(f.g, 2, (int[]){2, 3}, mask);
    hop_hopfield_info info;
    hop_node *out = hop_hopfield_pooling_forward(f.g, &f.ps, &layer, in, m, &info);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    float w[16];
    fill_normal(&f.rng, w, 16, 1.0f);
    cr_assert_eq(hop_backward(f.g, weighted_sum(f.g, out, w)), HOP_OK, "%s", f.ctx.error.message);

    for (int i = 0; i < 16; i++)
        cr_expect(isfinite(out->value.data[i]), "output %d is %g", i, (double)out->value.data[i]);
    for (int i = 0; i < 48; i++)
        cr_expect(isfinite(in->grad[i]), "input gradient %d is %g", i, (double)in->grad[i]);
    for (size_t i = 0; i < f.ps.total; i++)
        cr_expect(isfinite(f.ps.grads[i]), "parameter gradient %zu is not finite", i);
    const float *xi = info.association->value.data;
    for (int i = 6; i < 12; i++)
        cr_expect_eq(xi[i], 0.0f, "association of the masked bag, element %d", i);
    fixture_free(&f);
}

Test(hopfield_pooling, dropout_follows_reported_association)
{
    fixture f;
    fixture_init(&f, 19);
    hop_hopfield_pooling layer;
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    config.hopfield.dropout = 0.5f;
    cr_assert_eq(hop_hopfield_pooling_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK);
    randomize_params(&f, 0.5f);

    float x[2 * 6 * 8];
    fill_normal(&f.rng, x, 96, 1.0f);
    hop_hopfield_info eval_info, train_info;
    hop_node *eval = pool(&f, &layer, x, NULL, 2, 6, &eval_info);
    hop_graph_set_training(f.g, true);
    hop_node *train = pool(&f, &layer, x, NULL, 2, 6, &train_info);

    double differs = 0.0;
    for (int i = 0; i < 16; i++)
        differs += fabs(train->value.data[i] - eval->value.data[i]);
    cr_expect_gt(differs, 1e-4, "dropout changes the output in training mode");
    expect_close(train_info.association->value.data, eval_info.association->value.data, 12, 0.0,
                 "association matrix before dropout");
    fixture_free(&f);
}

Test(hopfield_pooling, frozen_pooling_weights_get_no_gradient)
{
    fixture f;
    fixture_init(&f, 15);
    hop_hopfield_pooling layer;
    hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
    config.trainable = false;
    cr_assert_eq(hop_hopfield_pooling_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK);
    randomize_params(&f, 0.5f);
    cr_expect(f.ps.info[layer.pooling_weights_id].frozen);

    float x[2 * 4 * 8], w[16];
    fill_normal(&f.rng, x, 64, 1.0f);
    fill_normal(&f.rng, w, 16, 1.0f);
    hop_node *out = pool(&f, &layer, x, NULL, 2, 4, NULL);
    cr_assert_eq(hop_backward(f.g, weighted_sum(f.g, out, w)), HOP_OK);

    const float *grad = hop_params_grad(&f.ps, layer.pooling_weights_id);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(grad[i], 0.0f, "pooling_weights gradient %d", i);
    const float *wq = hop_params_grad(&f.ps, layer.hopfield.in_proj_weight_id);
    double norm = 0.0;
    for (int i = 0; i < 24 * 8; i++)
        norm += fabs(wq[i]);
    cr_expect_gt(norm, 0.0, "in_proj_weight still gets a gradient");
    fixture_free(&f);
}

Test(hopfield_pooling, pair_input_uses_separate_projection)
{
    fixture f;
    fixture_init(&f, 17);
    hop_hopfield_pooling layer;
    init_pooling(&f, &layer, 1, 0);

    float y[2 * 4 * 8], v[2 * 4 * 8];
    fill_normal(&f.rng, y, 64, 1.0f);
    fill_normal(&f.rng, v, 64, 1.0f);
    hop_node *stored = hop_input(f.g, 3, (int[]){2, 4, 8}, y);
    hop_node *projection = hop_input(f.g, 3, (int[]){2, 4, 8}, v);
    hop_node *pair =
        hop_hopfield_pooling_forward_pair(f.g, &f.ps, &layer, stored, projection, NULL, NULL);
    hop_node *same =
        hop_hopfield_pooling_forward_pair(f.g, &f.ps, &layer, stored, stored, NULL, NULL);
    hop_node *single = hop_hopfield_pooling_forward(f.g, &f.ps, &layer, stored, NULL, NULL);
    cr_assert(pair && same && single, "%s", f.ctx.error.message);
    expect_close(same->value.data, single->value.data, 16, 0.0, "pair (Y, Y) against Y");
    double differs = 0.0;
    for (int i = 0; i < 16; i++)
        differs += fabs(pair->value.data[i] - same->value.data[i]);
    cr_expect_gt(differs, 1e-3, "the projection input changes the output");
    fixture_free(&f);
}

/* Configuration and input errors. */

typedef struct bad_config {
    void (*edit)(hop_hopfield_pooling_config *config);
    const char *expected;
} bad_config;

static void indivisible(hop_hopfield_pooling_config *c)
{
    c->hopfield.input_size = 10;
    c->hopfield.num_heads = 3;
}
static void zero_heads(hop_hopfield_pooling_config *c)
{
    c->hopfield.num_heads = 0;
}
static void negative_steps_eps(hop_hopfield_pooling_config *c)
{
    c->hopfield.update_steps_eps = -1.0f;
}
static void zero_steps_eps(hop_hopfield_pooling_config *c)
{
    c->hopfield.update_steps_eps = 0.0f;
}
static void negative_norm_eps(hop_hopfield_pooling_config *c)
{
    c->hopfield.normalize_state_pattern_eps = -0.5f;
}
static void affine_without_norm(hop_hopfield_pooling_config *c)
{
    c->hopfield.normalize_stored_pattern = false;
}
static void negative_hidden(hop_hopfield_pooling_config *c)
{
    c->hopfield.hidden_size = -2;
}
static void dropout_one(hop_hopfield_pooling_config *c)
{
    c->hopfield.dropout = 1.5f;
}
static void zero_quantity(hop_hopfield_pooling_config *c)
{
    c->quantity = 0;
}
static void zero_input(hop_hopfield_pooling_config *c)
{
    c->hopfield.input_size = 0;
}
static void infinite_scaling(hop_hopfield_pooling_config *c)
{
    c->hopfield.scaling = INFINITY;
}

static const bad_config bad_configs[] = {
    {indivisible, "input_size 10 is not divisible by num_heads 3"},
    {zero_heads, "num_heads 0"},
    {negative_steps_eps, "update_steps_eps -1"},
    {zero_steps_eps, "update_steps_eps 0"},
    {negative_norm_eps, "normalize_state_pattern_eps -0.5"},
    {affine_without_norm, "normalize_stored_pattern_affine"},
    {negative_hidden, "hidden_size -2"},
    {dropout_one, "dropout 1.5"},
    {zero_quantity, "quantity 0"},
    {zero_input, "input_size 0"},
    {infinite_scaling, "scaling inf"},
};

Test(hopfield_pooling, bad_configs_name_the_value)
{
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        fixture f;
        fixture_init(&f, 1);
        hop_hopfield_pooling layer;
        hop_hopfield_pooling_config config = hop_hopfield_pooling_config_default(8);
        bad_configs[i].edit(&config);
        cr_expect_eq(hop_hopfield_pooling_init(&layer, &config, &f.ps, "pool", &f.rng, &f.err),
                     HOP_ERR_ARG, "config %zu was accepted", i);
        cr_expect(strstr(f.err.message, bad_configs[i].expected) != NULL,
                  "config %zu: message '%s' lacks '%s'", i, f.err.message, bad_configs[i].expected);
        cr_expect_eq(f.ps.count, 0, "config %zu registered %d parameters", i, f.ps.count);
        fixture_free(&f);
    }
}

Test(hopfield, rejects_inputs_of_the_wrong_shape)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield layer;
    hop_hopfield_config config = hop_hopfield_config_default(8);
    config.stored_pattern_size = 6;
    cr_assert_eq(hop_hopfield_init(&layer, &config, &f.ps, "", &f.rng, &f.err), HOP_OK);

    float data[2 * 5 * 8] = {0}, mask[10] = {0};
    hop_node *y = hop_input(f.g, 3, (int[]){2, 5, 6}, data);
    hop_node *r = hop_input(f.g, 3, (int[]){2, 3, 8}, data);
    hop_node *wrong = hop_input(f.g, 3, (int[]){2, 5, 8}, data);
    hop_node *m = hop_input(f.g, 2, (int[]){2, 4}, mask);

    cr_expect_null(hop_hopfield_forward_patterns(f.g, &f.ps, &layer, wrong, r, wrong, NULL, NULL));
    cr_expect(strstr(f.ctx.error.message, "stored patterns has shape (2, 5, 8)") != NULL, "%s",
              f.ctx.error.message);
    cr_expect_null(hop_hopfield_forward_patterns(f.g, &f.ps, &layer, y, y, wrong, NULL, NULL));
    cr_expect(strstr(f.ctx.error.message, "state patterns") != NULL, "%s", f.ctx.error.message);
    cr_expect_null(hop_hopfield_forward_patterns(f.g, &f.ps, &layer, y, r, wrong, m, NULL));
    cr_expect(strstr(f.ctx.error.message, "padding mask has shape (2, 4)") != NULL, "%s",
              f.ctx.error.message);
    cr_expect_null(hop_hopfield_forward_patterns(f.g, &f.ps, &layer, y, r, NULL, NULL, NULL));
    fixture_free(&f);
}
