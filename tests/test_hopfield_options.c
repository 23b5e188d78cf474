/* Options of the Hopfield family and the places where hop departs from the reference. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/golden.h"
#include "hop/gradcheck.h"
#include "hop/layers.h"
#include "hop/optim.h"

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

static void randomize(hop_rng *rng, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * hop_rng_normal(rng);
}

static hop_node *input(fixture *f, int b, int n, int w, float *data)
{
    randomize(&f->rng, data, (size_t)b * n * w, 1.0f);
    return hop_input_grad(f->g, 3, (int[]){b, n, w}, data);
}

static void expect_close(const float *a, const float *b, size_t n, double tol, const char *what)
{
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= worst)) {
            worst = fabs((double)a[i] - b[i]);
            at = i;
        }
    cr_expect(worst <= tol, "%s: max difference %.3g at %zu (%.9g vs %.9g)", what, worst, at,
              (double)a[at], (double)b[at]);
}

static void no_norms(hop_hopfield_config *c)
{
    c->normalize_stored_pattern = c->normalize_stored_pattern_affine = false;
    c->normalize_state_pattern = c->normalize_state_pattern_affine = false;
    c->normalize_pattern_projection = c->normalize_pattern_projection_affine = false;
}

static void init_core(fixture *f, hop_hopfield *layer, const hop_hopfield_config *c)
{
    cr_assert_eq(hop_hopfield_init(layer, c, &f->ps, "h", &f->rng, &f->err), HOP_OK, "%s",
                 f->err.message);
    randomize(&f->rng, f->ps.values, f->ps.total, 0.5f);
}

/* Scaling. */

Test(options, scaling_default_is_explicit)
{
    fixture f;
    fixture_init(&f, 1);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    cr_expect(isnan(c.scaling), "NAN selects the default");
    hop_hopfield def, zero;
    c.num_heads = 2;
    init_core(&f, &def, &c);
    cr_expect_float_eq(def.config.scaling, 0.5f, 1e-7, "1 / sqrt(4)");
    c.scaling = 0.0f;
    hop_params_free(&f.ps);
    hop_params_init(&f.ps);
    init_core(&f, &zero, &c);
    cr_expect_eq(zero.config.scaling, 0.0f);

    float x[2 * 5 * 8];
    hop_hopfield_info info;
    cr_assert_not_null(hop_hopfield_forward(f.g, &f.ps, &zero, input(&f, 2, 5, 8, x), NULL, &info),
                       "%s", f.ctx.error.message);
    for (size_t i = 0; i < hop_tensor_numel(&info.association->value); i++)
        cr_expect_float_eq(info.association->value.data[i], 0.2f, 1e-6, "beta 0 is uniform");
    fixture_free(&f);
}

/* Copies rows [start, start + n) of parameter src into parameter dst. */
static void copy_rows(hop_params *ps, int src, int start, int n, int dst)
{
    const hop_param_info *s = &ps->info[src], *d = &ps->info[dst];
    size_t width = s->ndim == 2 ? (size_t)s->shape[1] : 1;
    cr_assert_eq(d->numel, (size_t)n * width);
    memcpy(ps->values + d->offset, ps->values + s->offset + (size_t)start * width,
           d->numel * sizeof(float));
}

/*
 * Copies head h of a packed two-head layer (input_size 8, hidden_size 4) into a one-head
 * layer with separate q/k/v weights: its projection rows, biases and input LayerNorms.
 */
static void copy_head_params(hop_params *ps, const hop_hopfield *two, int h,
                             const hop_hopfield *one)
{
    copy_rows(ps, two->in_proj_weight_id, 4 * h, 4, one->q_proj_weight_id);
    copy_rows(ps, two->in_proj_weight_id, 8 + 4 * h, 4, one->k_proj_weight_id);
    copy_rows(ps, two->in_proj_weight_id, 16 + 4 * h, 4, one->v_proj_weight_id);
    const hop_param_info *bias2 = &ps->info[two->in_proj_bias_id];
    float *bias1 = ps->values + ps->info[one->in_proj_bias_id].offset;
    for (int part = 0; part < 3; part++)
        memcpy(bias1 + 4 * part, ps->values + bias2->offset + 8 * part + 4 * h, 4 * sizeof(float));
    const hop_layernorm_layer *n2[3] = {&two->norm_stored_pattern, &two->norm_state_pattern,
                                        &two->norm_pattern_projection};
    const hop_layernorm_layer *n1[3] = {&one->norm_stored_pattern, &one->norm_state_pattern,
                                        &one->norm_pattern_projection};
    for (int k = 0; k < 3; k++) {
        copy_rows(ps, n2[k]->weight_id, 0, 8, n1[k]->weight_id);
        copy_rows(ps, n2[k]->bias_id, 0, 8, n1[k]->bias_id);
    }
}

Test(options, per_head_beta_matches_one_head_runs)
{
    fixture f;
    fixture_init(&f, 2);
    const float betas[2] = {0.3f, 1.2f};
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.head_scaling = betas;
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    c.disable_out_projection = true;
    hop_hopfield two;
    init_core(&f, &two, &c);

    float y[2 * 5 * 8], r[2 * 3 * 8], v[2 * 5 * 8];
    hop_node *yn = input(&f, 2, 5, 8, y), *rn = input(&f, 2, 3, 8, r), *vn = input(&f, 2, 5, 8, v);
    hop_hopfield_info info2;
    hop_node *out2 = hop_hopfield_forward_patterns(f.g, &f.ps, &two, yn, rn, vn, NULL, &info2);
    cr_assert_not_null(out2, "%s", f.ctx.error.message);

    for (int h = 0; h < 2; h++) {
        hop_hopfield_config one_c = hop_hopfield_config_default(8);
        one_c.hidden_size = one_c.pattern_size = 4;
        one_c.scaling = betas[h];
        one_c.update_steps_max = 2;
        one_c.update_steps_eps = 1e-30f;
        one_c.disable_out_projection = true;
        hop_hopfield one;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "one%d", h);
        cr_assert_eq(hop_hopfield_init(&one, &one_c, &f.ps, prefix, &f.rng, &f.err), HOP_OK);
        copy_head_params(&f.ps, &two, h, &one);

        hop_hopfield_info info1;
        hop_node *out1 = hop_hopfield_forward_patterns(f.g, &f.ps, &one, yn, rn, vn, NULL, &info1);
        cr_assert_not_null(out1, "%s", f.ctx.error.message);
        float block[2 * 3 * 4];
        for (int i = 0; i < 2 * 3; i++)
            memcpy(block + 4 * i, out2->value.data + 8 * i + 4 * h, 4 * sizeof(float));
        expect_close(block, out1->value.data, 2 * 3 * 4, 1e-5, "head output");
        for (int b = 0; b < 2; b++)
            expect_close(info2.association->value.data + (b * 2 + h) * 15,
                         info1.association->value.data + b * 15, 15, 1e-6, "head association");
        cr_expect_eq(info2.update_steps[h], info1.update_steps[0]);
    }
    fixture_free(&f);
}

Test(options, static_inputs_stay_paired_with_sample)
{
    fixture f;
    fixture_init(&f, 3);
    hop_hopfield_config c = hop_hopfield_config_default(4);
    c.num_heads = 2;
    c.hidden_size = 4;
    c.state_pattern_as_static = c.pattern_projection_as_static = true;
    c.stored_pattern_as_static = true;
    c.disable_out_projection = true;
    no_norms(&c);
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    cr_expect(layer.static_only);
    cr_expect_eq(layer.config.scaling, 1.0f, "static-only mode defaults beta to 1");

    float y[3 * 5 * 4], r[3 * 2 * 4];
    hop_node *out = hop_hopfield_forward_patterns(
        f.g, &f.ps, &layer, input(&f, 3, 5, 4, y), input(&f, 3, 2, 4, r),
        hop_input(f.g, 3, (int[]){3, 5, 4}, y), NULL, NULL);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    for (int b = 0; b < 3; b++) {
        hop_node *alone = hop_hopfield_forward_patterns(
            f.g, &f.ps, &layer, hop_input(f.g, 3, (int[]){1, 5, 4}, y + b * 20),
            hop_input(f.g, 3, (int[]){1, 2, 4}, r + b * 8),
            hop_input(f.g, 3, (int[]){1, 5, 4}, y + b * 20), NULL, NULL);
        cr_assert_not_null(alone);
        expect_close(out->value.data + b * 16, alone->value.data, 16, 1e-6, "sample output");
    }
    fixture_free(&f);
}

Test(options, concat_bias_pattern_adds_column)
{
    fixture f;
    fixture_init(&f, 4);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.concat_bias_pattern = true;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    cr_assert_geq(layer.bias_k_id, 0);
    cr_expect_str_eq(f.ps.info[layer.bias_k_id].name, "h.association_core.bias_k");
    cr_expect_str_eq(f.ps.info[layer.bias_k_id + 1].name, "h.association_core.bias_v");
    cr_expect_eq(f.ps.info[layer.bias_k_id].shape[2], 8);

    float x[2 * 5 * 8], m[2 * 5] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    hop_hopfield_info info;
    hop_node *out = hop_hopfield_forward(f.g, &f.ps, &layer, input(&f, 2, 5, 8, x),
                                         hop_input(f.g, 2, (int[]){2, 5}, m), &info);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    cr_expect_eq(info.association->value.shape[3], 6, "S + 1 columns");
    cr_expect_eq(info.association->value.data[4], 0.0f, "the padding mask still applies");
    cr_expect_gt(info.association->value.data[5], 0.0f, "the bias pattern is live");
    hop_node *loss = hop_sum(f.g, hop_reshape(f.g, out, 2, (int[]){1, -1}), 1, 0);
    hop_params_zero_grad(&f.ps);
    cr_assert_eq(hop_backward(f.g, loss), HOP_OK);
    float *grad = hop_params_grad(&f.ps, layer.bias_v_id);
    double sum = 0;
    for (int i = 0; i < 8; i++)
        sum += fabs(grad[i]);
    cr_expect_gt(sum, 0.0, "bias_v gets a gradient");
    fixture_free(&f);
}

Test(options, zero_association_and_full_mask)
{
    fixture f;
    fixture_init(&f, 5);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.add_zero_association = true;
    c.update_steps_max = 2;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float x[1 * 4 * 8], m[4] = {1, 1, 1, 1};
    hop_hopfield_info info;
    hop_node *out = hop_hopfield_forward(f.g, &f.ps, &layer, input(&f, 1, 4, 8, x),
                                         hop_input(f.g, 2, (int[]){1, 4}, m), &info);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    cr_expect_eq(info.association->value.shape[3], 5);
    for (int l = 0; l < 4; l++)
        cr_expect_float_eq(info.association->value.data[l * 5 + 4], 1.0f, 1e-6,
                           "all weight on the zero pattern");
    fixture_free(&f);
}

Test(options, fully_masked_rows_are_zero_without_nan)
{
    fixture f;
    fixture_init(&f, 6);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.update_steps_max = 3;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float x[1 * 4 * 8];
    float assoc[2 * 4 * 4] = {0};
    for (int j = 0; j < 4; j++)
        assoc[1 * 4 + j] = -INFINITY; /* head 0, state 1 sees nothing */
    assoc[16 + 2] = -1.5f;
    hop_node *xn = input(&f, 1, 4, 8, x);
    hop_hopfield_inputs in = {.stored = xn,
                              .state = xn,
                              .projection = xn,
                              .association_mask = hop_input(f.g, 4, (int[]){1, 2, 4, 4}, assoc),
                              .association_mask_additive = true};
    hop_hopfield_info info;
    hop_node *out = hop_hopfield_forward_inputs(f.g, &f.ps, &layer, &in, &info);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    hop_node *loss = hop_sum(f.g, hop_reshape(f.g, out, 2, (int[]){1, -1}), 1, 0);
    cr_assert_eq(hop_backward(f.g, loss), HOP_OK);
    for (int j = 0; j < 4; j++)
        cr_expect_eq(info.association->value.data[4 + j], 0.0f, "blocked row is zero");
    for (size_t i = 0; i < hop_tensor_numel(&out->value); i++)
        cr_expect(isfinite(out->value.data[i]), "output %zu", i);
    for (int i = 0; i < 32; i++)
        cr_expect(isfinite(xn->grad[i]), "gradient %d", i);
    for (size_t i = 0; i < f.ps.total; i++)
        cr_expect(isfinite(f.ps.grads[i]), "parameter gradient %zu", i);
    fixture_free(&f);
}

/* Static-only association with a mask, against softmax(beta q.k + m) computed here. */
Test(options, association_masks_boolean_and_additive)
{
    fixture f;
    fixture_init(&f, 7);
    hop_hopfield_config c = hop_hopfield_config_default(3);
    c.stored_pattern_as_static = c.state_pattern_as_static = c.pattern_projection_as_static = true;
    c.disable_out_projection = true;
    c.scaling = 0.7f;
    no_norms(&c);
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float y[4 * 3], r[2 * 3];
    float add[2 * 4] = {0.5f, -1, 0, 2, -INFINITY, 0.25f, 0, 0};
    float block[2 * 4] = {0, 1, 0, 0, 1, 1, 0, 0};
    hop_node *yn = input(&f, 1, 4, 3, y), *rn = input(&f, 1, 2, 3, r);
    for (int kind = 0; kind < 2; kind++) {
        float *m = kind ? add : block;
        hop_hopfield_inputs in = {.stored = yn,
                                  .state = rn,
                                  .projection = yn,
                                  .association_mask = hop_input(f.g, 2, (int[]){2, 4}, m),
                                  .association_mask_additive = kind == 1};
        hop_hopfield_info info;
        cr_assert_not_null(hop_hopfield_forward_inputs(f.g, &f.ps, &layer, &in, &info));
        for (int l = 0; l < 2; l++) {
            double s[4], max = -INFINITY, sum = 0;
            for (int j = 0; j < 4; j++) {
                s[j] = 0;
                for (int d = 0; d < 3; d++)
                    s[j] += 0.7 * r[l * 3 + d] * y[j * 3 + d];
                s[j] = kind ? s[j] + m[l * 4 + j] : (m[l * 4 + j] != 0 ? -INFINITY : s[j]);
                max = fmax(max, s[j]);
            }
            for (int j = 0; j < 4; j++)
                sum += exp(s[j] - max);
            for (int j = 0; j < 4; j++)
                cr_expect_float_eq(info.association->value.data[l * 4 + j], exp(s[j] - max) / sum,
                                   1e-6, "mask kind %d, state %d, pattern %d", kind, l, j);
        }
    }
    fixture_free(&f);
}

Test(options, integer_masks_of_any_width)
{
    fixture f;
    fixture_init(&f, 8);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float x[2 * 4 * 8];
    hop_node *xn = input(&f, 2, 4, 8, x);
    float fm[8] = {0, 0, 1, 0, 1, 0, 0, 0};
    hop_node *ref =
        hop_hopfield_forward(f.g, &f.ps, &layer, xn, hop_input(f.g, 2, (int[]){2, 4}, fm), NULL);
    cr_assert_not_null(ref);
    uint8_t m8[8] = {0, 0, 1, 0, 255, 0, 0, 0};
    int16_t m16[8] = {0, 0, 1, 0, -1, 0, 0, 0};
    int32_t m32[8] = {0, 0, 7, 0, 1, 0, 0, 0};
    int64_t m64[8] = {0, 0, 1, 0, (int64_t)1 << 40, 0, 0, 0};
    const void *data[4] = {m8, m16, m32, m64};
    size_t sizes[4] = {1, 2, 4, 8};
    for (int k = 0; k < 4; k++) {
        hop_node *mask = hop_mask_from_integers(f.g, 2, (int[]){2, 4}, data[k], sizes[k]);
        cr_assert_not_null(mask, "%s", f.ctx.error.message);
        hop_node *out = hop_hopfield_forward(f.g, &f.ps, &layer, xn, mask, NULL);
        cr_assert_not_null(out);
        expect_close(out->value.data, ref->value.data, 2 * 4 * 8, 0.0, "integer mask");
    }
    cr_expect_null(hop_mask_from_integers(f.g, 2, (int[]){2, 4}, m8, 3));
    cr_expect(strstr(f.ctx.error.message, "element size 3") != NULL, "%s", f.ctx.error.message);
    fixture_free(&f);
}

Test(options, activation_connected_and_accessors)
{
    fixture f;
    fixture_init(&f, 9);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.pattern_projection_as_connected = true;
    hop_hopfield plain, tanh_layer;
    init_core(&f, &plain, &c);
    cr_expect_not(plain.packed, "a connected projection has separate weights");
    cr_expect_eq(f.ps.info[plain.v_proj_weight_id].shape[1], 8, "v_proj acts on vh features");
    c.association_activation = HOP_HOPFIELD_ACTIVATION_TANH;
    cr_assert_eq(hop_hopfield_init(&tanh_layer, &c, &f.ps, "t", &f.rng, &f.err), HOP_OK);
    for (int k = 0; k < f.ps.count / 2; k++) {
        const hop_param_info *a = &f.ps.info[k], *b = &f.ps.info[k + f.ps.count / 2];
        memcpy(f.ps.values + b->offset, f.ps.values + a->offset, a->numel * sizeof(float));
    }
    float x[2 * 5 * 8];
    hop_node *xn = input(&f, 2, 5, 8, x);
    hop_hopfield_info info;
    hop_node *a = hop_hopfield_forward(f.g, &f.ps, &plain, xn, NULL, &info);
    hop_node *b = hop_hopfield_forward(f.g, &f.ps, &tanh_layer, xn, NULL, NULL);
    cr_assert(a && b);
    for (int i = 0; i < 2 * 5 * 8; i++)
        cr_expect_float_eq(b->value.data[i], tanhf(a->value.data[i]), 1e-6);
    cr_expect_eq(info.projected->value.shape[1], 2);
    cr_expect_eq(info.projected->value.shape[3], 4);
    c.pattern_size = 3;
    cr_expect_eq(hop_hopfield_init(&plain, &c, &f.ps, "bad", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "pattern_size 3") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

Test(options, layer_rejects_quantity_one)
{
    fixture f;
    fixture_init(&f, 10);
    hop_hopfield_layer_config c = hop_hopfield_layer_config_default(8, 1);
    hop_hopfield_layer layer;
    cr_expect_eq(hop_hopfield_layer_init(&layer, &c, &f.ps, "lookup", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "quantity 1") != NULL, "%s", f.err.message);
    c.hopfield.add_zero_association = true;
    cr_expect_eq(hop_hopfield_layer_init(&layer, &c, &f.ps, "lookup", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);
    fixture_free(&f);
}

Test(options, layer_patterns_from_samples)
{
    fixture f;
    fixture_init(&f, 11);
    hop_hopfield_layer_config c = hop_hopfield_layer_config_default(4, 3);
    c.lookup_weights_as_separated = true;
    c.lookup_targets_as_trainable = false;
    hop_hopfield_layer layer;
    cr_assert_eq(hop_hopfield_layer_init(&layer, &c, &f.ps, "lookup", &f.rng, &f.err), HOP_OK);
    cr_expect_str_eq(f.ps.info[0].name, "lookup.lookup_weights");
    cr_expect_str_eq(f.ps.info[1].name, "lookup.target_weights");
    cr_expect(f.ps.info[1].frozen);
    cr_expect_str_eq(f.ps.info[2].name, "lookup.hopfield.association_core.in_proj_weight");
    float samples[5 * 4], targets[5 * 4];
    randomize(&f.rng, samples, 20, 1.0f);
    randomize(&f.rng, targets, 20, 1.0f);
    int chosen[3] = {4, 0, 2};
    cr_assert_eq(
        hop_hopfield_layer_set_patterns(&layer, &f.ps, samples, targets, 5, chosen, &f.err), HOP_OK,
        "%s", f.err.message);
    const float *lookup = f.ps.values + f.ps.info[0].offset;
    const float *target = f.ps.values + f.ps.info[1].offset;
    for (int i = 0; i < 3; i++) {
        expect_close(lookup + 4 * i, samples + 4 * chosen[i], 4, 0.0, "lookup row");
        expect_close(target + 4 * i, targets + 4 * chosen[i], 4, 0.0, "target row");
    }
    int bad[3] = {0, 5, 1};
    cr_expect_eq(hop_hopfield_layer_set_patterns(&layer, &f.ps, samples, NULL, 5, bad, &f.err),
                 HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "index 5") != NULL, "%s", f.err.message);

    float x[2 * 2 * 4];
    hop_node *out =
        hop_hopfield_layer_forward(f.g, &f.ps, &layer, input(&f, 2, 2, 4, x), NULL, NULL);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    cr_expect_eq(out->value.shape[0], 2);
    cr_expect_eq(out->value.shape[2], 4);
    fixture_free(&f);
}

Test(options, encoder_block_post_norm)
{
    fixture f;
    fixture_init(&f, 12);
    hop_hopfield_encoder_config c = hop_hopfield_encoder_config_default(8);
    c.hopfield.num_heads = 2;
    c.dim_feedforward = 16;
    c.dropout = 0.0f;
    hop_hopfield_encoder enc;
    cr_assert_eq(hop_hopfield_encoder_init(&enc, &c, &f.ps, "enc", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);
    const char *names[] = {"enc.linear_residual.weight", "enc.linear_residual.bias",
                           "enc.linear_output.weight",   "enc.linear_output.bias",
                           "enc.norm_residual.weight",   "enc.norm_residual.bias",
                           "enc.norm_output.weight",     "enc.norm_output.bias"};
    cr_assert_geq(f.ps.count, 8);
    for (int i = 0; i < 8; i++)
        cr_expect_str_eq(f.ps.info[f.ps.count - 8 + i].name, names[i]);
    cr_expect_str_eq(f.ps.info[0].name, "enc.hopfield_association.association_core.in_proj_weight");

    float x[2 * 5 * 8];
    hop_node *out = hop_hopfield_encoder_forward(f.g, &f.ps, &enc, input(&f, 2, 5, 8, x), NULL,
                                                 NULL, false, NULL);
    cr_assert_not_null(out, "%s", f.ctx.error.message);
    for (int row = 0; row < 10; row++) {
        double mean = 0, var = 0;
        for (int d = 0; d < 8; d++)
            mean += out->value.data[row * 8 + d] / 8;
        for (int d = 0; d < 8; d++)
            var += pow(out->value.data[row * 8 + d] - mean, 2) / 8;
        cr_expect(fabs(mean) < 1e-5 && fabs(var - 1) < 1e-3, "row %d: mean %g, var %g", row, mean,
                  var);
    }
    c.hopfield.output_size = 6;
    cr_expect_eq(hop_hopfield_encoder_init(&enc, &c, &f.ps, "bad", &f.rng, &f.err), HOP_ERR_ARG);
    fixture_free(&f);
}

Test(options, trainable_beta_and_bad_values)
{
    fixture f;
    fixture_init(&f, 13);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.beta_trainable = true;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    cr_assert_geq(layer.beta_id, 0);
    cr_expect_str_eq(f.ps.info[layer.beta_id].name, "h.association_core.log_beta");
    float x[1 * 3 * 8];
    hop_node *out = hop_hopfield_forward(f.g, &f.ps, &layer, input(&f, 1, 3, 8, x), NULL, NULL);
    hop_node *loss = hop_sum(f.g, hop_reshape(f.g, out, 2, (int[]){1, -1}), 1, 0);
    hop_params_zero_grad(&f.ps);
    cr_assert_eq(hop_backward(f.g, loss), HOP_OK);
    float *grad = hop_params_grad(&f.ps, layer.beta_id);
    cr_expect(grad[0] != 0.0f, "log beta of head 0 gets a gradient");
    cr_expect(grad[1] != 0.0f, "log beta of head 1 gets a gradient");

    const float bad[2] = {1.0f, INFINITY};
    c.beta_trainable = false;
    c.head_scaling = bad;
    cr_expect_eq(hop_hopfield_init(&layer, &c, &f.ps, "x", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "head_scaling[1]") != NULL, "%s", f.err.message);
    c.head_scaling = NULL;
    c.concat_bias_pattern = c.stored_pattern_as_static = true;
    cr_expect_eq(hop_hopfield_init(&layer, &c, &f.ps, "y", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "concat_bias_pattern") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

Test(options, trainable_beta_rejects_nonpositive)
{
    fixture f;
    fixture_init(&f, 14);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.beta_trainable = true;
    const float betas[2] = {0.5f, 0.0f};
    c.head_scaling = betas;
    hop_hopfield layer;
    cr_expect_eq(hop_hopfield_init(&layer, &c, &f.ps, "h", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "beta 0 of head 1") != NULL, "%s", f.err.message);
    c.head_scaling = NULL;
    c.scaling = -1.0f;
    cr_expect_eq(hop_hopfield_init(&layer, &c, &f.ps, "h", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "beta -1 of head 0") != NULL, "%s", f.err.message);
    cr_expect_eq(f.ps.count, 0, "nothing is registered");

    c.scaling = NAN;
    cr_assert_eq(hop_hopfield_init(&layer, &c, &f.ps, "h", &f.rng, &f.err), HOP_OK, "%s",
                 f.err.message);
    cr_expect_float_eq(f.ps.values[f.ps.info[layer.beta_id].offset], logf(0.5f), 1e-6,
                       "log of the default beta 1 / sqrt(4)");
    cr_expect_float_eq(hop_hopfield_beta(&layer, &f.ps, 1), 0.5f, 1e-6);
    cr_expect(isnan(hop_hopfield_beta(&layer, &f.ps, 2)), "head 2 does not exist");
    fixture_free(&f);
}

/* mean((association - 1/S)^2), which a smaller beta lowers. */
static hop_node *uniformity_loss(fixture *f, const hop_hopfield *layer, hop_node *x,
                                 hop_hopfield_info *info)
{
    hop_node *out = hop_hopfield_forward(f->g, &f->ps, layer, x, NULL, info);
    cr_assert_not_null(out, "%s", f->ctx.error.message);
    hop_node *a = info->association;
    size_t n = hop_tensor_numel(&a->value);
    float *uniform = hop_graph_alloc(f->g, n * sizeof *uniform);
    cr_assert_not_null(uniform);
    for (size_t i = 0; i < n; i++)
        uniform[i] = 1.0f / (float)a->value.shape[3];
    return hop_mse(f->g, a, hop_constant(f->g, a->value.ndim, a->value.shape, uniform));
}

Test(options, trainable_beta_stays_positive_in_training)
{
    fixture f;
    fixture_init(&f, 15);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.beta_trainable = true;
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float *log_beta = f.ps.values + f.ps.info[layer.beta_id].offset;
    log_beta[0] = logf(0.4f);
    log_beta[1] = logf(0.6f);
    for (int k = 0; k < f.ps.count; k++)
        f.ps.info[k].frozen = k != layer.beta_id;

    float x[2 * 5 * 8], first[2 * 2 * 5 * 5];
    hop_node *xn = input(&f, 2, 5, 8, x);
    hop_hopfield_info info;
    uniformity_loss(&f, &layer, xn, &info);
    cr_assert_eq(hop_hopfield_info_association(&info, first, 100, &f.err), HOP_OK);

    hop_adamw opt;
    cr_assert_eq(hop_adamw_init(&opt, &f.ps, 0.5f, 0.0f, &f.err), HOP_OK, "%s", f.err.message);
    for (int step = 0; step < 6; step++) {
        hop_graph_reset(f.g);
        xn = hop_input(f.g, 3, (int[]){2, 5, 8}, x);
        hop_node *loss = uniformity_loss(&f, &layer, xn, &info);
        hop_params_zero_grad(&f.ps);
        cr_assert_eq(hop_backward(f.g, loss), HOP_OK, "%s", f.ctx.error.message);
        cr_assert_eq(hop_adamw_step(&opt, &f.ps, &f.err), HOP_OK, "%s", f.err.message);
        for (int h = 0; h < 2; h++)
            cr_expect_gt(hop_hopfield_beta(&layer, &f.ps, h), 0.0f, "step %d, head %d", step, h);
    }
    hop_adamw_free(&opt);
    /* A raw beta would have gone negative after the first step of size lr = 0.5. */
    cr_expect_lt(hop_hopfield_beta(&layer, &f.ps, 0), 0.1f, "beta of head 0 decreased");
    cr_expect_lt(hop_hopfield_beta(&layer, &f.ps, 1), 0.1f, "beta of head 1 decreased");

    hop_graph_reset(f.g);
    xn = hop_input(f.g, 3, (int[]){2, 5, 8}, x);
    uniformity_loss(&f, &layer, xn, &info);
    float last[100];
    cr_assert_eq(hop_hopfield_info_association(&info, last, 100, &f.err), HOP_OK);
    double change = 0.0;
    for (int i = 0; i < 100; i++)
        change = fmax(change, fabs((double)last[i] - first[i]));
    cr_expect_gt(change, 1e-3, "the association follows beta");
    fixture_free(&f);
}

/* The learned beta acts at every update step exactly as a fixed beta of the same value. */
Test(options, trainable_beta_used_in_update_steps)
{
    fixture f;
    fixture_init(&f, 16);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.update_steps_max = 3;
    c.update_steps_eps = 1e-30f;
    c.disable_out_projection = true;
    c.beta_trainable = true;
    hop_hopfield learned, fixed;
    init_core(&f, &learned, &c);
    float *log_beta = f.ps.values + f.ps.info[learned.beta_id].offset;
    log_beta[0] = 0.7f;
    log_beta[1] = -0.4f;
    float betas[2] = {expf(0.7f), expf(-0.4f)};
    c.beta_trainable = false;
    c.head_scaling = betas;
    cr_assert_eq(hop_hopfield_init(&fixed, &c, &f.ps, "fixed", &f.rng, &f.err), HOP_OK);
    for (int k = 0; k < f.ps.count; k++) {
        const char *name = f.ps.info[k].name;
        if (strncmp(name, "fixed.", 6) != 0)
            continue;
        char source[HOP_PARAM_NAME_MAX];
        snprintf(source, sizeof source, "h.%s", name + 6);
        int from = hop_params_find(&f.ps, source);
        cr_assert_geq(from, 0, "%s", source);
        memcpy(f.ps.values + f.ps.info[k].offset, f.ps.values + f.ps.info[from].offset,
               f.ps.info[k].numel * sizeof(float));
    }

    float x[2 * 5 * 8];
    hop_node *xn = input(&f, 2, 5, 8, x);
    hop_hopfield_info a, b;
    hop_node *out_a = hop_hopfield_forward(f.g, &f.ps, &learned, xn, NULL, &a);
    hop_node *out_b = hop_hopfield_forward(f.g, &f.ps, &fixed, xn, NULL, &b);
    cr_assert(out_a && out_b, "%s", f.ctx.error.message);
    cr_expect_eq(a.update_steps[0], 3);
    cr_expect_eq(b.update_steps[0], 3);
    expect_close(out_a->value.data, out_b->value.data, 2 * 5 * 8, 1e-6, "output");
    expect_close(a.association->value.data, b.association->value.data, 100, 1e-6, "association");
    fixture_free(&f);
}

/* Separation functions. */

static void retrieval_config(hop_hopfield_config *c, hop_hopfield_separation separation)
{
    *c = hop_hopfield_config_default(4);
    c->stored_pattern_as_static = c->state_pattern_as_static = true;
    c->pattern_projection_as_static = c->disable_out_projection = true;
    c->scaling = 1.0f;
    c->separation = separation;
    no_norms(c);
}

Test(options, sparsemax_zeros_far_patterns)
{
    fixture f;
    fixture_init(&f, 17);
    float y[4 * 4] = {3, 0, 0, 0, 2.8f, 0.5f, 0, 0, -3, 0, 0, 0, 0, 0, 3, 0};
    float q[4] = {3, 0, 0, 0};
    const hop_hopfield_separation kinds[2] = {HOP_HOPFIELD_SEPARATION_SOFTMAX,
                                              HOP_HOPFIELD_SEPARATION_SPARSEMAX};
    float xi[2][4];
    for (int k = 0; k < 2; k++) {
        hop_hopfield_config c;
        retrieval_config(&c, kinds[k]);
        hop_hopfield layer;
        init_core(&f, &layer, &c);
        hop_node *stored = hop_input(f.g, 3, (int[]){1, 4, 4}, y);
        hop_node *state = hop_input(f.g, 3, (int[]){1, 1, 4}, q);
        hop_hopfield_info info;
        cr_assert_not_null(
            hop_hopfield_forward_patterns(f.g, &f.ps, &layer, stored, state, stored, NULL, &info),
            "%s", f.ctx.error.message);
        cr_assert_eq(hop_hopfield_info_association(&info, xi[k], 4, &f.err), HOP_OK);
    }
    /* Scores are (9, 8.4, -9, 0): sparsemax keeps the two near patterns, 0.8 and 0.2. */
    cr_expect_float_eq(xi[1][0], 0.8f, 1e-5, "%g", (double)xi[1][0]);
    cr_expect_float_eq(xi[1][1], 0.2f, 1e-5, "%g", (double)xi[1][1]);
    cr_expect_eq(xi[1][2], 0.0f, "opposite pattern is exactly zero");
    cr_expect_eq(xi[1][3], 0.0f, "orthogonal pattern is exactly zero");
    cr_expect_gt(xi[0][2], 0.0f, "softmax keeps the opposite pattern");
    cr_expect_gt(xi[0][3], 0.0f, "softmax keeps the orthogonal pattern");
    fixture_free(&f);
}

Test(options, entmax15_rows_sum_to_one)
{
    fixture f;
    fixture_init(&f, 18);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.scaling = 3.0f;
    c.separation = HOP_HOPFIELD_SEPARATION_ENTMAX15;
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float x[2 * 6 * 8], m[2 * 6] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    hop_hopfield_info info;
    cr_assert_not_null(hop_hopfield_forward(f.g, &f.ps, &layer, input(&f, 2, 6, 8, x),
                                            hop_input(f.g, 2, (int[]){2, 6}, m), &info),
                       "%s", f.ctx.error.message);
    const float *a = info.association->value.data;
    int zeros = 0;
    for (int row = 0; row < 2 * 2 * 6; row++) {
        double sum = 0.0;
        for (int j = 0; j < 6; j++) {
            cr_expect_geq(a[row * 6 + j], 0.0f, "row %d, pattern %d", row, j);
            sum += a[row * 6 + j];
            zeros += a[row * 6 + j] == 0.0f;
        }
        cr_expect_float_eq(sum, 1.0, 1e-5, "row %d sums to %g", row, sum);
        if (row < 12)
            cr_expect_eq(a[row * 6 + 5], 0.0f, "masked pattern of sample 0, row %d", row);
    }
    cr_expect_gt(zeros, 12, "entmax15 gives exact zeros beyond the masked ones");
    fixture_free(&f);
}

Test(options, unknown_separation_rejected)
{
    fixture f;
    fixture_init(&f, 19);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.separation = (hop_hopfield_separation)3;
    hop_hopfield layer;
    cr_expect_eq(hop_hopfield_init(&layer, &c, &f.ps, "h", &f.rng, &f.err), HOP_ERR_ARG);
    cr_expect(strstr(f.err.message, "separation 3") != NULL, "%s", f.err.message);
    fixture_free(&f);
}

/* Energy with projections. */

/* E = -lse(beta, K q) + q.q / 2 of head h, sample b, state l, from the projected Q and K. */
static double projected_energy(const hop_hopfield *layer, const hop_params *ps, const float *y,
                               const float *r, int b, int h, int l, int count)
{
    const float *w = ps->values + ps->info[layer->in_proj_weight_id].offset;
    const float *bias = ps->values + ps->info[layer->in_proj_bias_id].offset;
    int width = layer->config.input_size, hidden = layer->config.hidden_size;
    int heads = layer->config.num_heads;
    double beta = layer->head_scaling[h];
    double q[16], half_norm = 0.0, max = -INFINITY, scores[16];
    for (int d = 0; d < hidden; d++) {
        int row = h * hidden + d;
        q[d] = bias[row];
        for (int e = 0; e < width; e++)
            q[d] += (double)w[row * width + e] * r[(b * 3 + l) * width + e];
        half_norm += 0.5 * q[d] * q[d];
    }
    for (int j = 0; j < count; j++) {
        scores[j] = 0.0;
        for (int d = 0; d < hidden; d++) {
            int row = heads * hidden + h * hidden + d;
            double k = bias[row];
            for (int e = 0; e < width; e++)
                k += (double)w[row * width + e] * y[(b * count + j) * width + e];
            scores[j] += beta * k * q[d];
        }
        max = fmax(max, scores[j]);
    }
    double sum = 0.0;
    for (int j = 0; j < count; j++)
        sum += exp(scores[j] - max);
    return -(max + log(sum)) / beta + half_norm;
}

Test(options, energy_with_projections)
{
    fixture f;
    fixture_init(&f, 20);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.scaling = 2.0f;
    c.update_steps_max = 4;
    c.update_steps_eps = 1e-30f;
    no_norms(&c);
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    cr_assert(layer.packed);

    float y[2 * 5 * 8], r[2 * 3 * 8];
    hop_node *yn = input(&f, 2, 5, 8, y), *rn = input(&f, 2, 3, 8, r);
    hop_hopfield_inputs in = {.stored = yn, .state = rn, .projection = yn, .record_energy = true};
    hop_hopfield_info info;
    cr_assert_not_null(hop_hopfield_forward_inputs(f.g, &f.ps, &layer, &in, &info), "%s",
                       f.ctx.error.message);
    for (int h = 0; h < 2; h++) {
        cr_assert_eq(info.update_steps[h], 4);
        float energy[5 * 2 * 3];
        cr_assert_eq(hop_hopfield_info_energy(&info, h, energy, 30, &f.err), HOP_OK, "%s",
                     f.err.message);
        for (int b = 0; b < 2; b++)
            for (int l = 0; l < 3; l++) {
                double expected = projected_energy(&layer, &f.ps, y, r, b, h, l, 5);
                cr_expect_float_eq(energy[b * 3 + l], expected, 1e-4 * (1.0 + fabs(expected)),
                                   "head %d, sample %d, state %d: %g vs %g", h, b, l,
                                   (double)energy[b * 3 + l], expected);
            }
        for (int t = 1; t < 5; t++)
            for (int i = 0; i < 6; i++)
                cr_expect_leq(energy[t * 6 + i], energy[(t - 1) * 6 + i] + 1e-5f,
                              "head %d, step %d, state %d: %g after %g", h, t, i,
                              (double)energy[t * 6 + i], (double)energy[(t - 1) * 6 + i]);
    }
    fixture_free(&f);
}

/* With an additive mask and a sparse separation the energy is not monotone, but finite. */
Test(options, energy_finite_with_mask_and_sparsemax)
{
    fixture f;
    fixture_init(&f, 21);
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.concat_bias_pattern = true;
    c.separation = HOP_HOPFIELD_SEPARATION_SPARSEMAX;
    c.update_steps_max = 3;
    c.update_steps_eps = 1e-30f;
    hop_hopfield layer;
    init_core(&f, &layer, &c);
    float x[1 * 4 * 8],
        add[4 * 4] = {0.5f, -INFINITY, 0, 1,  -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                      0,    0,         2, -1, 0,         0,         0,         0};
    hop_node *xn = input(&f, 1, 4, 8, x);
    hop_hopfield_inputs in = {.stored = xn,
                              .state = xn,
                              .projection = xn,
                              .association_mask = hop_input(f.g, 2, (int[]){4, 4}, add),
                              .association_mask_additive = true,
                              .record_energy = true};
    hop_hopfield_info info;
    cr_assert_not_null(hop_hopfield_forward_inputs(f.g, &f.ps, &layer, &in, &info), "%s",
                       f.ctx.error.message);
    for (int h = 0; h < 2; h++) {
        size_t n = (size_t)(info.update_steps[h] + 1) * 4;
        float energy[4 * 4];
        cr_assert_leq(n, 16);
        cr_assert_eq(hop_hopfield_info_energy(&info, h, energy, n, &f.err), HOP_OK);
        for (size_t i = 0; i < n; i++)
            cr_expect(isfinite(energy[i]), "head %d, energy %zu is %g", h, i, (double)energy[i]);
    }
    fixture_free(&f);
}

/* Per-head update steps: update_steps_max and update_steps_eps given per head. */

enum { RUN_BATCH = 2, RUN_STORED = 5, RUN_QUERIES = 3 };

/* Inputs of the runs and the weights w of loss = sum(output * w) for the two-head output. */
typedef struct head_inputs {
    float y[RUN_BATCH * RUN_STORED * 8];
    float r[RUN_BATCH * RUN_QUERIES * 8];
    float v[RUN_BATCH * RUN_STORED * 8];
    float w[RUN_BATCH * RUN_QUERIES * 8];
} head_inputs;

/* What one forward and backward run leaves: values, step counts and gradients. */
typedef struct head_run {
    float out[RUN_BATCH * RUN_QUERIES * 8];
    float association[RUN_BATCH * 2 * RUN_QUERIES * RUN_STORED];
    int steps[2];
    float grad_y[RUN_BATCH * RUN_STORED * 8];
    float grad_r[RUN_BATCH * RUN_QUERIES * 8];
    float grad_v[RUN_BATCH * RUN_STORED * 8];
    float *grad_params; /* a copy of every parameter gradient, ps.total floats */
} head_run;

/* Runs layer on a fresh graph with loss = sum(output * w) and records the results in run. */
static void run_heads(fixture *f, const hop_hopfield *layer, const head_inputs *in, const float *w,
                      head_run *run)
{
    hop_graph_reset(f->g);
    hop_params_zero_grad(&f->ps);
    float y[sizeof in->y / sizeof(float)], r[sizeof in->r / sizeof(float)];
    float v[sizeof in->v / sizeof(float)];
    memcpy(y, in->y, sizeof y);
    memcpy(r, in->r, sizeof r);
    memcpy(v, in->v, sizeof v);
    hop_node *yn = hop_input_grad(f->g, 3, (int[]){RUN_BATCH, RUN_STORED, 8}, y);
    hop_node *rn = hop_input_grad(f->g, 3, (int[]){RUN_BATCH, RUN_QUERIES, 8}, r);
    hop_node *vn = hop_input_grad(f->g, 3, (int[]){RUN_BATCH, RUN_STORED, 8}, v);
    hop_hopfield_info info;
    hop_node *out = hop_hopfield_forward_patterns(f->g, &f->ps, layer, yn, rn, vn, NULL, &info);
    cr_assert_not_null(out, "%s", f->ctx.error.message);

    int n = (int)hop_tensor_numel(&out->value);
    hop_node *flat = hop_reshape(f->g, out, 2, (int[]){1, n});
    hop_node *weights = hop_constant(f->g, 2, (int[]){1, n}, w);
    hop_node *loss = hop_sum(f->g, hop_mul(f->g, flat, weights), 1, 0);
    cr_assert_not_null(loss, "%s", f->ctx.error.message);
    cr_assert_eq(hop_backward(f->g, loss), HOP_OK, "%s", f->ctx.error.message);

    memcpy(run->out, out->value.data, (size_t)n * sizeof(float));
    memcpy(run->association, info.association->value.data,
           hop_tensor_numel(&info.association->value) * sizeof(float));
    for (int h = 0; h < info.num_heads; h++)
        run->steps[h] = info.update_steps[h];
    memcpy(run->grad_y, yn->grad, sizeof run->grad_y);
    memcpy(run->grad_r, rn->grad, sizeof run->grad_r);
    memcpy(run->grad_v, vn->grad, sizeof run->grad_v);
    run->grad_params = malloc(f->ps.total * sizeof(float));
    cr_assert_not_null(run->grad_params);
    memcpy(run->grad_params, f->ps.grads, f->ps.total * sizeof(float));
}

static const float *param_grad(const fixture *f, const head_run *run, int id, int row)
{
    const hop_param_info *info = &f->ps.info[id];
    size_t width = info->ndim == 2 ? (size_t)info->shape[1] : 1;
    return run->grad_params + info->offset + (size_t)row * width;
}

/* Checks that head h of the two-head run equals the one-head run, gradients included. */
static void expect_head_matches(const fixture *f, const hop_hopfield *two, const head_run *run2,
                                int h, const hop_hopfield *one, const head_run *run1)
{
    float block[RUN_BATCH * RUN_QUERIES * 4];
    for (int i = 0; i < RUN_BATCH * RUN_QUERIES; i++)
        memcpy(block + 4 * i, run2->out + 8 * i + 4 * h, 4 * sizeof(float));
    expect_close(block, run1->out, sizeof block / sizeof(float), 1e-5, "head output");

    int cells = RUN_QUERIES * RUN_STORED;
    for (int b = 0; b < RUN_BATCH; b++)
        expect_close(run2->association + (b * 2 + h) * cells, run1->association + b * cells,
                     (size_t)cells, 1e-6, "head association");
    cr_expect_eq(run2->steps[h], run1->steps[0], "head %d: %d steps, the one-head run %d", h,
                 run2->steps[h], run1->steps[0]);

    const int one_ids[3] = {one->q_proj_weight_id, one->k_proj_weight_id, one->v_proj_weight_id};
    for (int part = 0; part < 3; part++)
        expect_close(param_grad(f, run2, two->in_proj_weight_id, 8 * part + 4 * h),
                     param_grad(f, run1, one_ids[part], 0), 4 * 8, 1e-5, "projection gradient");
    for (int part = 0; part < 3; part++)
        expect_close(param_grad(f, run2, two->in_proj_bias_id, 8 * part + 4 * h),
                     param_grad(f, run1, one->in_proj_bias_id, 4 * part), 4, 1e-5,
                     "projection bias gradient");
}

/* Sums of the two one-head runs' gradients of what the heads share: inputs and LayerNorms. */
static void expect_shared_gradients_add_up(const fixture *f, const hop_hopfield *two,
                                           const head_run *run2, const hop_hopfield *ones,
                                           const head_run *runs)
{
    const struct {
        const float *two, *one0, *one1;
        size_t n;
        const char *what;
    } inputs[3] = {
        {run2->grad_y, runs[0].grad_y, runs[1].grad_y, sizeof run2->grad_y / 4, "stored gradient"},
        {run2->grad_r, runs[0].grad_r, runs[1].grad_r, sizeof run2->grad_r / 4, "state gradient"},
        {run2->grad_v, runs[0].grad_v, runs[1].grad_v, sizeof run2->grad_v / 4,
         "projection input gradient"},
    };
    for (int k = 0; k < 3; k++) {
        float sum[RUN_BATCH * RUN_STORED * 8];
        for (size_t i = 0; i < inputs[k].n; i++)
            sum[i] = inputs[k].one0[i] + inputs[k].one1[i];
        expect_close(inputs[k].two, sum, inputs[k].n, 1e-5, inputs[k].what);
    }

    const hop_layernorm_layer *n2[3] = {&two->norm_stored_pattern, &two->norm_state_pattern,
                                        &two->norm_pattern_projection};
    for (int k = 0; k < 3; k++) {
        const hop_layernorm_layer *n1[2][3] = {
            {&ones[0].norm_stored_pattern, &ones[0].norm_state_pattern,
             &ones[0].norm_pattern_projection},
            {&ones[1].norm_stored_pattern, &ones[1].norm_state_pattern,
             &ones[1].norm_pattern_projection},
        };
        float weight[8], bias[8];
        for (int i = 0; i < 8; i++) {
            weight[i] = param_grad(f, &runs[0], n1[0][k]->weight_id, 0)[i] +
                        param_grad(f, &runs[1], n1[1][k]->weight_id, 0)[i];
            bias[i] = param_grad(f, &runs[0], n1[0][k]->bias_id, 0)[i] +
                      param_grad(f, &runs[1], n1[1][k]->bias_id, 0)[i];
        }
        expect_close(param_grad(f, run2, n2[k]->weight_id, 0), weight, 8, 1e-5,
                     "LayerNorm weight gradient");
        expect_close(param_grad(f, run2, n2[k]->bias_id, 0), bias, 8, 1e-5,
                     "LayerNorm bias gradient");
    }
}

/*
 * Runs c (two heads, input_size 8, no output projection) against two one-head layers that
 * take head h's weights and steps_max[h], eps[h], and checks that they agree. Returns the
 * update steps of the two heads in steps.
 */
static void compare_with_one_head_runs(const hop_hopfield_config *c, const int steps_max[2],
                                       const float eps[2], uint64_t seed, int steps[2])
{
    fixture f;
    fixture_init(&f, seed);
    hop_hopfield two, ones[2];
    init_core(&f, &two, c);
    for (int h = 0; h < 2; h++) {
        hop_hopfield_config one_c = *c;
        one_c.num_heads = 1;
        one_c.hidden_size = one_c.pattern_size = 4;
        one_c.n_head_update_steps_max = one_c.n_head_update_steps_eps = 0;
        one_c.update_steps_max = steps_max[h];
        one_c.update_steps_eps = eps[h];
        char prefix[16];
        snprintf(prefix, sizeof prefix, "one%d", h);
        cr_assert_eq(hop_hopfield_init(&ones[h], &one_c, &f.ps, prefix, &f.rng, &f.err), HOP_OK,
                     "%s", f.err.message);
        copy_head_params(&f.ps, &two, h, &ones[h]);
    }

    head_inputs in;
    randomize(&f.rng, in.y, sizeof in.y / sizeof(float), 1.0f);
    randomize(&f.rng, in.r, sizeof in.r / sizeof(float), 1.0f);
    randomize(&f.rng, in.v, sizeof in.v / sizeof(float), 1.0f);
    randomize(&f.rng, in.w, sizeof in.w / sizeof(float), 1.0f);
    head_run run2, runs[2];
    run_heads(&f, &two, &in, in.w, &run2);
    for (int h = 0; h < 2; h++) {
        float w[RUN_BATCH * RUN_QUERIES * 4];
        for (int i = 0; i < RUN_BATCH * RUN_QUERIES; i++)
            memcpy(w + 4 * i, in.w + 8 * i + 4 * h, 4 * sizeof(float));
        run_heads(&f, &ones[h], &in, w, &runs[h]);
        expect_head_matches(&f, &two, &run2, h, &ones[h], &runs[h]);
    }
    expect_shared_gradients_add_up(&f, &two, &run2, ones, runs);

    steps[0] = run2.steps[0];
    steps[1] = run2.steps[1];
    free(run2.grad_params);
    free(runs[0].grad_params);
    free(runs[1].grad_params);
    fixture_free(&f);
}

static hop_hopfield_config two_head_config(void)
{
    hop_hopfield_config c = hop_hopfield_config_default(8);
    c.num_heads = 2;
    c.disable_out_projection = true;
    return c;
}

Test(options, per_head_steps_max_matches_one_head_runs)
{
    hop_hopfield_config c = two_head_config();
    c.update_steps_eps = 1e-30f;
    c.n_head_update_steps_max = 2;
    c.head_update_steps_max[0] = 1;
    c.head_update_steps_max[1] = 4;
    const int steps_max[2] = {1, 4};
    const float eps[2] = {1e-30f, 1e-30f};
    int steps[2];
    compare_with_one_head_runs(&c, steps_max, eps, 31, steps);
    cr_expect_eq(steps[0], 1);
    cr_expect_eq(steps[1], 4);
}

Test(options, per_head_eps_stops_heads_apart)
{
    hop_hopfield_config c = two_head_config();
    c.scaling = 2.0f;
    c.update_steps_max = -1;
    c.n_head_update_steps_eps = 2;
    c.head_update_steps_eps[0] = 1e-1f;
    c.head_update_steps_eps[1] = 1e-6f;
    const int steps_max[2] = {-1, -1};
    const float eps[2] = {1e-1f, 1e-6f};
    int steps[2];
    compare_with_one_head_runs(&c, steps_max, eps, 32, steps);
    cr_expect_geq(steps[0], 1, "every head takes one update before the test can stop it");
    cr_expect_lt(steps[0], steps[1], "the looser eps stops head 0 first (%d, %d steps)", steps[0],
                 steps[1]);
}

/* Per-head steps_max and eps together: each head follows its own pair. */
Test(options, per_head_steps_and_eps_combined)
{
    hop_hopfield_config c = two_head_config();
    c.scaling = 2.0f;
    c.n_head_update_steps_max = c.n_head_update_steps_eps = 2;
    c.head_update_steps_max[0] = -1;
    c.head_update_steps_max[1] = 2;
    c.head_update_steps_eps[0] = 1e-6f;
    c.head_update_steps_eps[1] = 1e-30f;
    const int steps_max[2] = {-1, 2};
    const float eps[2] = {1e-6f, 1e-30f};
    int steps[2];
    compare_with_one_head_runs(&c, steps_max, eps, 33, steps);
    cr_expect_gt(steps[0], 2, "head 0 runs until its eps stops it (%d steps)", steps[0]);
    cr_expect_eq(steps[1], 2);
}

Test(options, per_head_zero_steps_keeps_first_association)
{
    hop_hopfield_config c = two_head_config();
    c.update_steps_eps = 1e-30f;
    c.n_head_update_steps_max = 2;
    c.head_update_steps_max[0] = 3;
    c.head_update_steps_max[1] = 0;
    const int steps_max[2] = {3, 0};
    const float eps[2] = {1e-30f, 1e-30f};
    int steps[2];
    compare_with_one_head_runs(&c, steps_max, eps, 34, steps);
    cr_expect_eq(steps[0], 3);
    cr_expect_eq(steps[1], 0);
}

typedef struct bad_steps {
    int n_steps, steps1, n_eps;
    float eps1;
    const char *expected;
} bad_steps;

Test(options, per_head_steps_rejects_bad_values)
{
    static const bad_steps table[] = {
        {1, 1, 0, 1e-4f, "n_head_update_steps_max 1 is invalid"},
        {3, 1, 0, 1e-4f, "n_head_update_steps_max 3 is invalid"},
        {2, -2, 0, 1e-4f, "head_update_steps_max[1] -2 is invalid"},
        {0, 1, 1, 1e-4f, "n_head_update_steps_eps 1 is invalid"},
        {0, 1, 2, 0.0f, "head_update_steps_eps[1] 0 is invalid"},
        {0, 1, 2, -1e-3f, "head_update_steps_eps[1] -0.001 is invalid"},
        {0, 1, 2, NAN, "head_update_steps_eps[1] nan is invalid"},
        {0, 1, 2, INFINITY, "head_update_steps_eps[1] inf is invalid"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        hop_hopfield_config c = two_head_config();
        c.n_head_update_steps_max = table[i].n_steps;
        c.head_update_steps_max[0] = 2;
        c.head_update_steps_max[1] = table[i].steps1;
        c.n_head_update_steps_eps = table[i].n_eps;
        c.head_update_steps_eps[0] = 1e-4f;
        c.head_update_steps_eps[1] = table[i].eps1;
        hop_error err;
        hop_error_clear(&err);
        cr_expect_eq(hop_hopfield_config_check(&c, "core", &err), HOP_ERR_ARG, "case %zu", i);
        cr_expect(strstr(err.message, table[i].expected) != NULL, "case %zu: message '%s'", i,
                  err.message);
        cr_expect(strstr(err.message, "'core'") != NULL, "case %zu names the layer", i);
    }

    hop_hopfield_config c = two_head_config();
    c.n_head_update_steps_max = c.n_head_update_steps_eps = 2;
    c.head_update_steps_max[0] = -1;
    c.head_update_steps_max[1] = 0;
    c.head_update_steps_eps[0] = c.head_update_steps_eps[1] = 1e-3f;
    hop_error err;
    cr_expect_eq(hop_hopfield_config_check(&c, "core", &err), HOP_OK, "%s", err.message);
}

static hop_golden_case per_head_case(const char *kwargs)
{
    hop_golden_case c;
    memset(&c, 0, sizeof c);
    c.name = "per_head";
    c.class_name = "Hopfield";
    c.kwargs = (char *)kwargs;
    c.line = 3;
    return c;
}

Test(options, golden_kwargs_map_per_head_steps)
{
    hop_golden_case c = per_head_case("{\"input_size\":8,\"num_heads\":2,"
                                      "\"update_steps_max\":{\"tensor\":[1,4]},"
                                      "\"update_steps_eps\":{\"tensor\":[0.5,1e-30]}}");
    hop_golden_config config;
    hop_error err;
    cr_assert_eq(hop_golden_case_config(&c, &config, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(config.hopfield.n_head_update_steps_max, 2);
    cr_expect_eq(config.hopfield.head_update_steps_max[0], 1);
    cr_expect_eq(config.hopfield.head_update_steps_max[1], 4);
    cr_expect_eq(config.hopfield.n_head_update_steps_eps, 2);
    cr_expect_eq(config.hopfield.head_update_steps_eps[0], 0.5f);
    cr_expect_eq(config.hopfield.head_update_steps_eps[1], 1e-30f);
    cr_expect_eq(config.hopfield.update_steps_max, 0, "the scalar stays at its default");

    const struct {
        const char *kwargs;
        hop_status status;
        const char *expected;
    } bad[] = {
        {"{\"input_size\":8,\"num_heads\":2,\"update_steps_max\":{\"tensor\":[1]}}", HOP_ERR_DATA,
         "one entry per head"},
        {"{\"input_size\":8,\"num_heads\":2,\"update_steps_eps\":{\"tensor\":[1e-3,1e-3,1e-3]}}",
         HOP_ERR_DATA, "one entry per head"},
        {"{\"input_size\":8,\"num_heads\":2,\"update_steps_max\":{\"tensor\":[1,2.5]}}",
         HOP_ERR_PARSE, "non-integer"},
        {"{\"input_size\":8,\"num_heads\":2,\"update_steps_eps\":{\"tensor\":[1e-3,\"x\"]}}",
         HOP_ERR_PARSE, "non-number"},
        {"{\"input_size\":8,\"update_steps_max\":{\"values\":[1]}}", HOP_ERR_PARSE,
         "'update_steps_max'"},
        {"{\"input_size\":8,\"update_steps_eps\":[1e-3]}", HOP_ERR_DATA, "'update_steps_eps'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = per_head_case(bad[i].kwargs);
        hop_status status = hop_golden_case_config(&c, &config, &err);
        cr_expect_eq(status, bad[i].status, "kwargs %s: status %d", bad[i].kwargs, status);
        cr_expect(strstr(err.message, bad[i].expected) != NULL, "kwargs %s: message '%s'",
                  bad[i].kwargs, err.message);
    }
}

/* Finite-difference check of per-head steps (1, 3) and per-head eps. */

typedef struct steps_model {
    hop_hopfield layer;
    head_inputs in;
} steps_model;

static hop_node *steps_loss(hop_graph *g, hop_params *ps, void *user)
{
    steps_model *m = user;
    hop_node *y = hop_input(g, 3, (int[]){RUN_BATCH, RUN_STORED, 8}, m->in.y);
    hop_node *r = hop_input(g, 3, (int[]){RUN_BATCH, RUN_QUERIES, 8}, m->in.r);
    hop_node *v = hop_input(g, 3, (int[]){RUN_BATCH, RUN_STORED, 8}, m->in.v);
    hop_node *out = hop_hopfield_forward_patterns(g, ps, &m->layer, y, r, v, NULL, NULL);
    if (!out)
        return NULL;
    int n = (int)hop_tensor_numel(&out->value);
    hop_node *flat = hop_reshape(g, out, 2, (int[]){1, n});
    hop_node *w = hop_constant(g, 2, (int[]){1, n}, m->in.w);
    return hop_sum(g, hop_mul(g, flat, w), 1, 0);
}

Test(options, per_head_steps_gradcheck)
{
    fixture f;
    fixture_init(&f, 35);
    hop_hopfield_config c = two_head_config();
    c.n_head_update_steps_max = c.n_head_update_steps_eps = 2;
    c.head_update_steps_max[0] = 1;
    c.head_update_steps_max[1] = 3;
    c.head_update_steps_eps[0] = c.head_update_steps_eps[1] = 1e-30f;
    static steps_model m;
    init_core(&f, &m.layer, &c);
    /* Smaller parameters than init_core's keep float32 central differences accurate. */
    randomize(&f.rng, f.ps.values, f.ps.total, 0.25f);
    randomize(&f.rng, m.in.y, sizeof m.in.y / sizeof(float), 1.0f);
    randomize(&f.rng, m.in.r, sizeof m.in.r / sizeof(float), 1.0f);
    randomize(&f.rng, m.in.v, sizeof m.in.v / sizeof(float), 1.0f);
    for (size_t i = 0; i < sizeof m.in.w / sizeof(float); i++)
        m.in.w[i] = 2.0f * hop_rng_uniform(&f.rng) - 1.0f;

    hop_gradcheck_options options = hop_gradcheck_defaults();
    options.eps = 2e-3;
    options.atol = 5e-4;
    options.rtol = 5e-3;
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&f.ps, steps_loss, &m, &options, &result, &f.err), HOP_OK, "%s",
                 f.err.message);
    cr_expect(result.passed, "%s", result.message);
    cr_expect_gt(result.checked, 0);
    fixture_free(&f);
}
