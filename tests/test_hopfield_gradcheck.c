/*
 * Central finite-difference gradient checks of the Hopfield family, one per option.
 *
 * Parameters are drawn at random (scale 0.25, LayerNorm weights around 1) so that the
 * association matrix is far from uniform. The loss is sum(output * W) with fixed random W.
 * Parameter gradients go through hop_gradcheck, input gradients through gradcheck_run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hop/gradcheck.h"
#include "hop/layers.h"
#include "support/gradcheck.h"

enum { BATCH = 2, STORED = 4, QUERIES = 3, WIDTH = 8, MAX_OUT = 256 };

/*
 * Scale of the random parameters: large enough for a peaked association matrix, small
 * enough that float32 central differences with CHECK_EPS stay accurate (at 0.35 the scores
 * get so large that truncation errors exceed the bound).
 */
#define PARAM_SCALE 0.25f

/* Tolerances of every check here; see the measurement note in check_params(). */
#define CHECK_EPS  2e-3
#define CHECK_ATOL 5e-4
#define CHECK_RTOL 5e-3

typedef enum model_kind { MODEL_CORE, MODEL_LOOKUP, MODEL_ENCODER } model_kind;

typedef struct model {
    model_kind kind;
    hop_hopfield core;
    hop_hopfield_layer lookup;
    hop_hopfield_encoder encoder;
    float stored[BATCH * STORED * WIDTH];
    float state[BATCH * QUERIES * WIDTH];
    float projection[BATCH * STORED * WIDTH];
    int stored_width, state_width, projection_width;
    float *mask; /* association mask (B, heads, L, S), or NULL */
    bool mask_additive;
    float weights[BATCH * QUERIES * MAX_OUT];
} model;

typedef struct fixture {
    hop_params ps;
    hop_rng rng;
    hop_error err;
    model m;
} fixture;

static void fill_normal(hop_rng *rng, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * hop_rng_normal(rng);
}

/* Random non-trivial values for every parameter; LayerNorm weights stay near 1. */
static void randomize_params(hop_params *ps, hop_rng *rng)
{
    for (int k = 0; k < ps->count; k++) {
        const hop_param_info *info = &ps->info[k];
        float *x = ps->values + info->offset;
        bool norm_weight = strstr(info->name, "norm") && strstr(info->name, "weight");
        fill_normal(rng, x, info->numel, norm_weight ? 0.3f : PARAM_SCALE);
        for (size_t i = 0; norm_weight && i < info->numel; i++)
            x[i] += 1.0f;
    }
}

static void fixture_init(fixture *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    hop_params_init(&f->ps);
    hop_rng_seed(&f->rng, seed);
    fill_normal(&f->rng, f->m.stored, sizeof f->m.stored / sizeof(float), 1.0f);
    fill_normal(&f->rng, f->m.state, sizeof f->m.state / sizeof(float), 1.0f);
    fill_normal(&f->rng, f->m.projection, sizeof f->m.projection / sizeof(float), 1.0f);
    for (size_t i = 0; i < sizeof f->m.weights / sizeof(float); i++)
        f->m.weights[i] = 2.0f * hop_rng_uniform(&f->rng) - 1.0f;
}

static hop_hopfield_config base_config(void)
{
    hop_hopfield_config c = hop_hopfield_config_default(WIDTH);
    c.num_heads = 2;
    return c;
}

static void init_core(fixture *f, const hop_hopfield_config *c)
{
    f->m.kind = MODEL_CORE;
    cr_assert_eq(hop_hopfield_init(&f->m.core, c, &f->ps, "h", &f->rng, &f->err), HOP_OK, "%s",
                 f->err.message);
    f->m.stored_width = f->m.core.stored_width;
    f->m.state_width = f->m.core.state_width;
    f->m.projection_width = f->m.core.projection_width;
    randomize_params(&f->ps, &f->rng);
}

/* sum(out * W) over the first elements of W. */
static hop_node *weighted_loss(hop_graph *g, const model *m, hop_node *out)
{
    if (!out)
        return NULL;
    size_t n = hop_tensor_numel(&out->value);
    cr_assert_leq(n, sizeof m->weights / sizeof(float));
    hop_node *flat = hop_reshape(g, out, 2, (int[]){1, (int)n});
    hop_node *w = hop_constant(g, 2, (int[]){1, (int)n}, m->weights);
    return hop_sum(g, hop_mul(g, flat, w), 1, 0);
}

static hop_node *mask_node(hop_graph *g, const model *m, int heads)
{
    if (!m->mask)
        return NULL;
    return hop_constant(g, 4, (int[]){BATCH, heads, QUERIES, STORED}, m->mask);
}

/* Builds the model's output; the lookup layer and the encoder use only the state node. */
static hop_node *build_output(hop_graph *g, hop_params *ps, const model *m, hop_node *stored,
                              hop_node *state, hop_node *projection)
{
    switch (m->kind) {
    case MODEL_CORE: {
        hop_hopfield_inputs in = {.stored = stored,
                                  .state = state,
                                  .projection = projection,
                                  .association_mask = mask_node(g, m, m->core.config.num_heads),
                                  .association_mask_additive = m->mask_additive};
        return hop_hopfield_forward_inputs(g, ps, &m->core, &in, NULL);
    }
    case MODEL_LOOKUP: return hop_hopfield_layer_forward(g, ps, &m->lookup, state, NULL, NULL);
    case MODEL_ENCODER:
        return hop_hopfield_encoder_forward(g, ps, &m->encoder, state, NULL, NULL, false, NULL);
    }
    return NULL;
}

static hop_node *model_loss(hop_graph *g, hop_params *ps, void *user)
{
    model *m = user;
    hop_node *stored = hop_input(g, 3, (int[]){BATCH, STORED, m->stored_width}, m->stored);
    hop_node *state = hop_input(g, 3, (int[]){BATCH, QUERIES, m->state_width}, m->state);
    hop_node *projection =
        hop_input(g, 3, (int[]){BATCH, STORED, m->projection_width}, m->projection);
    return weighted_loss(g, m, build_output(g, ps, m, stored, state, projection));
}

/*
 * Checks every trainable parameter element. On this suite the worst error is about half the
 * bound (0.016 at a gradient of 6.4, 3e-4 at gradients below 0.1). Detaching the update steps
 * or using a constant beta gives errors of 0.15 to 18, so the bound
 * atol 5e-4 + rtol 5e-3 * |numeric| fails a broken backward.
 */
static void check_params(fixture *f, const char *what)
{
    hop_gradcheck_options options = hop_gradcheck_defaults();
    options.eps = CHECK_EPS;
    options.atol = CHECK_ATOL;
    options.rtol = CHECK_RTOL;
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&f->ps, model_loss, &f->m, &options, &result, &f->err), HOP_OK,
                 "%s: %s", what, f->err.message);
    cr_expect(result.passed, "%s: %s", what, result.message);
    cr_expect_gt(result.checked, 0, "%s: no element checked", what);
}

/* gradcheck_run callback: inputs are stored, state and projection, in that order. */
static hop_node *build_from_inputs(hop_graph *g, hop_node **inputs, const void *arg)
{
    const fixture *f = arg;
    return build_output(g, (hop_params *)&f->ps, &f->m, inputs[0], inputs[1], inputs[2]);
}

static void check_inputs(fixture *f, const char *what)
{
    gradcheck_input in[3] = {
        {3, {BATCH, STORED, f->m.stored_width}, f->m.stored, true},
        {3, {BATCH, QUERIES, f->m.state_width}, f->m.state, true},
        {3, {BATCH, STORED, f->m.projection_width}, f->m.projection, true},
    };
    gradcheck_options options = gradcheck_defaults();
    options.eps = CHECK_EPS;
    options.atol = CHECK_ATOL;
    options.rtol = CHECK_RTOL;
    options.training = false;
    gradcheck_result result;
    cr_expect(gradcheck_run(in, 3, build_from_inputs, f, &options, &result), "%s: %s", what,
              result.message);
}

static void check_core(const hop_hopfield_config *c, uint64_t seed, const char *what)
{
    fixture f;
    fixture_init(&f, seed);
    init_core(&f, c);
    check_params(&f, what);
    check_inputs(&f, what);
    hop_params_free(&f.ps);
}

Test(hopfield_gradcheck, concat_bias_pattern)
{
    hop_hopfield_config c = base_config();
    c.concat_bias_pattern = true;
    check_core(&c, 1, "concat_bias_pattern");
}

Test(hopfield_gradcheck, add_zero_association)
{
    hop_hopfield_config c = base_config();
    c.add_zero_association = true;
    c.update_steps_max = 1;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 2, "add_zero_association");
}

Test(hopfield_gradcheck, pattern_projection_as_connected)
{
    hop_hopfield_config c = base_config();
    c.pattern_projection_as_connected = true;
    check_core(&c, 3, "pattern_projection_as_connected");
}

Test(hopfield_gradcheck, stored_pattern_as_static)
{
    hop_hopfield_config c = base_config();
    c.stored_pattern_as_static = true;
    check_core(&c, 4, "stored_pattern_as_static");
}

Test(hopfield_gradcheck, state_pattern_as_static)
{
    hop_hopfield_config c = base_config();
    c.state_pattern_as_static = true;
    check_core(&c, 5, "state_pattern_as_static");
}

Test(hopfield_gradcheck, pattern_projection_as_static)
{
    hop_hopfield_config c = base_config();
    c.pattern_projection_as_static = true;
    check_core(&c, 6, "pattern_projection_as_static");
}

/* All three sides static, so the input gradients reach the separation without projections. */
Test(hopfield_gradcheck, all_static_with_update_steps)
{
    hop_hopfield_config c = base_config();
    c.stored_pattern_as_static = c.state_pattern_as_static = c.pattern_projection_as_static = true;
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 7, "all sides static");
}

static void fill_mask(fixture *f, float *mask, bool additive)
{
    for (int i = 0; i < BATCH * 2 * QUERIES * STORED; i++) {
        float u = hop_rng_uniform(&f->rng);
        if (additive)
            mask[i] = u < 0.2f ? -INFINITY : 2.0f * u - 1.0f;
        else
            mask[i] = u < 0.3f ? 1.0f : 0.0f;
    }
    mask[0] = mask[1] = mask[2] = mask[3] = additive ? -INFINITY : 1.0f; /* one full row */
}

static void check_mask(bool additive, uint64_t seed, const char *what)
{
    fixture f;
    fixture_init(&f, seed);
    hop_hopfield_config c = base_config();
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    init_core(&f, &c);
    float mask[BATCH * 2 * QUERIES * STORED];
    fill_mask(&f, mask, additive);
    f.m.mask = mask;
    f.m.mask_additive = additive;
    check_params(&f, what);
    check_inputs(&f, what);
    hop_params_free(&f.ps);
}

Test(hopfield_gradcheck, additive_association_mask)
{
    check_mask(true, 8, "additive mask");
}

Test(hopfield_gradcheck, boolean_association_mask)
{
    check_mask(false, 9, "boolean mask");
}

Test(hopfield_gradcheck, trainable_beta_with_update_steps)
{
    hop_hopfield_config c = base_config();
    c.beta_trainable = true;
    c.update_steps_max = 2;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 10, "beta_trainable");
}

Test(hopfield_gradcheck, normalize_hopfield_space)
{
    hop_hopfield_config c = base_config();
    c.normalize_hopfield_space = c.normalize_hopfield_space_affine = true;
    c.update_steps_max = 1;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 11, "normalize_hopfield_space");
}

Test(hopfield_gradcheck, update_steps_several_heads)
{
    hop_hopfield_config c = base_config();
    c.num_heads = 4;
    c.hidden_size = 3;
    c.update_steps_max = 3;
    c.update_steps_eps = 1e-30f;
    c.scaling = 1.5f;
    check_core(&c, 12, "update steps, 4 heads");
}

Test(hopfield_gradcheck, association_activation)
{
    const hop_hopfield_activation kinds[3] = {HOP_HOPFIELD_ACTIVATION_TANH,
                                              HOP_HOPFIELD_ACTIVATION_SIGMOID,
                                              HOP_HOPFIELD_ACTIVATION_RELU};
    const char *names[3] = {"tanh", "sigmoid", "relu"};
    for (int k = 0; k < 3; k++) {
        hop_hopfield_config c = base_config();
        c.association_activation = kinds[k];
        check_core(&c, 13 + (uint64_t)k, names[k]);
    }
}

Test(hopfield_gradcheck, sparsemax_separation)
{
    hop_hopfield_config c = base_config();
    c.separation = HOP_HOPFIELD_SEPARATION_SPARSEMAX;
    c.scaling = 2.0f;
    c.update_steps_max = 1;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 16, "sparsemax");
}

Test(hopfield_gradcheck, entmax15_separation)
{
    hop_hopfield_config c = base_config();
    c.separation = HOP_HOPFIELD_SEPARATION_ENTMAX15;
    c.scaling = 2.0f;
    c.update_steps_max = 1;
    c.update_steps_eps = 1e-30f;
    check_core(&c, 17, "entmax15");
}

Test(hopfield_gradcheck, layer_separated_targets)
{
    fixture f;
    fixture_init(&f, 18);
    hop_hopfield_layer_config c = hop_hopfield_layer_config_default(WIDTH, 5);
    c.hopfield.num_heads = 2;
    c.hopfield.pattern_projection_size = 6;
    c.lookup_weights_as_separated = true;
    f.m.kind = MODEL_LOOKUP;
    cr_assert_eq(hop_hopfield_layer_init(&f.m.lookup, &c, &f.ps, "lookup", &f.rng, &f.err), HOP_OK,
                 "%s", f.err.message);
    cr_assert_geq(f.m.lookup.target_weights_id, 0);
    f.m.state_width = f.m.lookup.hopfield.state_width;
    randomize_params(&f.ps, &f.rng);
    check_params(&f, "HopfieldLayer with separated targets");
    hop_params_free(&f.ps);
}

Test(hopfield_gradcheck, encoder_block)
{
    fixture f;
    fixture_init(&f, 19);
    hop_hopfield_encoder_config c = hop_hopfield_encoder_config_default(WIDTH);
    c.hopfield.num_heads = 2;
    c.hopfield.update_steps_max = 1;
    c.hopfield.update_steps_eps = 1e-30f;
    c.dim_feedforward = 6;
    c.dropout = 0.0f;
    c.activation = HOP_HOPFIELD_ACTIVATION_TANH;
    f.m.kind = MODEL_ENCODER;
    cr_assert_eq(hop_hopfield_encoder_init(&f.m.encoder, &c, &f.ps, "enc", &f.rng, &f.err), HOP_OK,
                 "%s", f.err.message);
    f.m.state_width = WIDTH;
    randomize_params(&f.ps, &f.rng);
    check_params(&f, "encoder block");
    hop_params_free(&f.ps);
}
