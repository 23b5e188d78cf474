/* Hopfield association core: configuration, parameters and the graph of one forward run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/layers.h"

enum { PART_Q, PART_K, PART_V };

hop_hopfield_config hop_hopfield_config_default(int input_size)
{
    hop_hopfield_config c;
    memset(&c, 0, sizeof c);
    c.input_size = input_size;
    c.num_heads = 1;
    c.update_steps_eps = 1e-4f;
    c.normalize_stored_pattern = c.normalize_stored_pattern_affine = true;
    c.normalize_state_pattern = c.normalize_state_pattern_affine = true;
    c.normalize_pattern_projection = c.normalize_pattern_projection_affine = true;
    c.normalize_stored_pattern_eps = 1e-5f;
    c.normalize_state_pattern_eps = 1e-5f;
    c.normalize_pattern_projection_eps = 1e-5f;
    c.normalize_hopfield_space_eps = 1e-5f;
    c.input_bias = true;
    return c;
}

/* Configuration checks. Every message names the layer prefix and the rejected value. */

static hop_status check_sizes(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    if (c->input_size <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': input_size %d is invalid; it must be positive", name,
                             c->input_size);
    if (c->num_heads <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': num_heads %d is invalid; it must be at least 1", name,
                             c->num_heads);

    const struct {
        const char *key;
        int value;
    } sizes[] = {
        {"hidden_size", c->hidden_size},
        {"output_size", c->output_size},
        {"pattern_size", c->pattern_size},
        {"stored_pattern_size", c->stored_pattern_size},
        {"pattern_projection_size", c->pattern_projection_size},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < 0)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': %s %d is invalid; it must be positive, or 0 "
                                 "for the default",
                                 name, sizes[i].key, sizes[i].value);

    if (c->hidden_size == 0 && c->input_size % c->num_heads != 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': input_size %d is not divisible by num_heads %d; "
                             "set hidden_size (the per-head width) explicitly",
                             name, c->input_size, c->num_heads);
    return HOP_OK;
}

static hop_status check_norm(const char *key, bool on, bool affine, float eps, const char *name,
                             hop_error *err)
{
    if (affine && !on)
        return hop_error_set(err, HOP_ERR_ARG, "hopfield '%s': %s_affine needs %s to be on", name,
                             key, key);
    if (on && (!isfinite(eps) || eps <= 0.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': %s_eps %g is invalid; it must be finite and > 0", name,
                             key, (double)eps);
    return HOP_OK;
}

static hop_status check_norms(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    hop_status status =
        check_norm("normalize_stored_pattern", c->normalize_stored_pattern,
                   c->normalize_stored_pattern_affine, c->normalize_stored_pattern_eps, name, err);
    if (status == HOP_OK)
        status = check_norm("normalize_state_pattern", c->normalize_state_pattern,
                            c->normalize_state_pattern_affine, c->normalize_state_pattern_eps, name,
                            err);
    if (status == HOP_OK)
        status = check_norm("normalize_pattern_projection", c->normalize_pattern_projection,
                            c->normalize_pattern_projection_affine,
                            c->normalize_pattern_projection_eps, name, err);
    if (status == HOP_OK)
        status = check_norm("normalize_hopfield_space", c->normalize_hopfield_space,
                            c->normalize_hopfield_space_affine, c->normalize_hopfield_space_eps,
                            name, err);
    return status;
}

static hop_status check_association(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    if (!isfinite(c->scaling))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': scaling %g is invalid; it must be finite", name,
                             (double)c->scaling);
    if (!isfinite(c->update_steps_eps) || c->update_steps_eps <= 0.0f)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': update_steps_eps %g is invalid; it must be > 0", name,
                             (double)c->update_steps_eps);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': dropout %g is invalid; it must be in [0, 1)", name,
                             (double)c->dropout);
    return HOP_OK;
}

hop_status hop_hopfield_config_check(const hop_hopfield_config *config, const char *prefix,
                                     hop_error *err)
{
    const char *name = prefix ? prefix : "";
    hop_status status = check_sizes(config, name, err);
    if (status == HOP_OK)
        status = check_norms(config, name, err);
    if (status == HOP_OK)
        status = check_association(config, name, err);
    return status;
}

static hop_hopfield_config resolve(const hop_hopfield_config *config)
{
    hop_hopfield_config c = *config;
    if (c.hidden_size == 0)
        c.hidden_size = c.input_size / c.num_heads;
    if (c.pattern_size == 0)
        c.pattern_size = c.hidden_size;
    if (c.output_size == 0)
        c.output_size = c.input_size;
    if (c.stored_pattern_size == 0)
        c.stored_pattern_size = c.input_size;
    if (c.pattern_projection_size == 0)
        c.pattern_projection_size = c.input_size;
    if (c.scaling == 0.0f)
        c.scaling = 1.0f / sqrtf((float)c.hidden_size);
    return c;
}

/* Parameter registration, in the reference's named_parameters() order. */

static hop_status add_hopfield_space_norm(hop_hopfield *layer, hop_params *params,
                                          const char *prefix, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    if (!c->normalize_hopfield_space_affine)
        return HOP_OK;

    hop_status status =
        hop_layer_param_add(params, prefix, "association_core.p_norm_weight", 1, &c->hidden_size,
                            HOP_INIT_ONES, 0.0f, NULL, &layer->p_norm_weight_id, err);
    if (status != HOP_OK)
        return status;
    return hop_layer_param_add(params, prefix, "association_core.p_norm_bias", 1, &c->hidden_size,
                               HOP_INIT_ZEROS, 0.0f, NULL, &layer->p_norm_bias_id, err);
}

static hop_status add_in_projection(hop_hopfield *layer, hop_params *params, const char *prefix,
                                    hop_rng *rng, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    int vh = c->num_heads * c->hidden_size, vp = c->num_heads * c->pattern_size;
    hop_status status;

    if (layer->packed) {
        int shape[2] = {2 * vh + vp, c->input_size};
        status = hop_layer_param_add(params, prefix, "association_core.in_proj_weight", 2, shape,
                                     HOP_INIT_NORMAL, 0.02f, rng, &layer->in_proj_weight_id, err);
    } else {
        int q[2] = {vh, c->input_size}, k[2] = {vh, c->stored_pattern_size};
        int v[2] = {vp, c->pattern_projection_size};
        status = hop_layer_param_add(params, prefix, "association_core.q_proj_weight", 2, q,
                                     HOP_INIT_NORMAL, 0.02f, rng, &layer->q_proj_weight_id, err);
        if (status == HOP_OK)
            status =
                hop_layer_param_add(params, prefix, "association_core.k_proj_weight", 2, k,
                                    HOP_INIT_NORMAL, 0.02f, rng, &layer->k_proj_weight_id, err);
        if (status == HOP_OK)
            status =
                hop_layer_param_add(params, prefix, "association_core.v_proj_weight", 2, v,
                                    HOP_INIT_NORMAL, 0.02f, rng, &layer->v_proj_weight_id, err);
    }
    if (status != HOP_OK || !c->input_bias)
        return status;

    int bias = 2 * vh + vp;
    return hop_layer_param_add(params, prefix, "association_core.in_proj_bias", 1, &bias,
                               HOP_INIT_ZEROS, 0.0f, NULL, &layer->in_proj_bias_id, err);
}

static hop_status add_out_projection(hop_hopfield *layer, hop_params *params, const char *prefix,
                                     hop_rng *rng, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    if (c->disable_out_projection)
        return HOP_OK;

    char name[HOP_PARAM_NAME_MAX];
    hop_status status =
        hop_layer_param_name(name, sizeof name, prefix, "association_core.out_proj", err);
    if (status != HOP_OK)
        return status;
    hop_linear_config linear =
        hop_linear_config_default(c->num_heads * c->pattern_size, c->output_size);
    linear.bias = c->input_bias;
    return hop_linear_init(&layer->out_proj, &linear, params, name, rng, err);
}

static hop_status add_input_norm(hop_layernorm_layer *norm, const char *key, int features, bool on,
                                 bool affine, float eps, hop_params *params, const char *prefix,
                                 hop_error *err)
{
    norm->features = features;
    norm->eps = eps;
    norm->weight_id = norm->bias_id = -1;
    if (!on)
        return HOP_OK;

    char name[HOP_PARAM_NAME_MAX];
    hop_status status = hop_layer_param_name(name, sizeof name, prefix, key, err);
    if (status != HOP_OK)
        return status;
    hop_layernorm_config config = {.features = features, .affine = affine, .eps = eps};
    return hop_layernorm_layer_init(norm, &config, params, name, err);
}

static hop_status add_input_norms(hop_hopfield *layer, hop_params *params, const char *prefix,
                                  hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    hop_status status =
        add_input_norm(&layer->norm_stored_pattern, "norm_stored_pattern", c->stored_pattern_size,
                       c->normalize_stored_pattern, c->normalize_stored_pattern_affine,
                       c->normalize_stored_pattern_eps, params, prefix, err);
    if (status == HOP_OK)
        status = add_input_norm(&layer->norm_state_pattern, "norm_state_pattern", c->input_size,
                                c->normalize_state_pattern, c->normalize_state_pattern_affine,
                                c->normalize_state_pattern_eps, params, prefix, err);
    if (status == HOP_OK)
        status = add_input_norm(&layer->norm_pattern_projection, "norm_pattern_projection",
                                c->pattern_projection_size, c->normalize_pattern_projection,
                                c->normalize_pattern_projection_affine,
                                c->normalize_pattern_projection_eps, params, prefix, err);
    return status;
}

hop_status hop_hopfield_init(hop_hopfield *layer, const hop_hopfield_config *config,
                             hop_params *params, const char *prefix, hop_rng *rng, hop_error *err)
{
    hop_status status = hop_hopfield_config_check(config, prefix, err);
    if (status != HOP_OK)
        return status;

    memset(layer, 0, sizeof *layer);
    layer->config = resolve(config);
    const hop_hopfield_config *c = &layer->config;
    layer->packed = c->stored_pattern_size == c->input_size &&
                    c->pattern_projection_size == c->input_size && config->pattern_size == 0;
    layer->output_width =
        c->disable_out_projection ? c->num_heads * c->pattern_size : c->output_size;
    layer->in_proj_weight_id = layer->q_proj_weight_id = -1;
    layer->k_proj_weight_id = layer->v_proj_weight_id = -1;
    layer->in_proj_bias_id = layer->p_norm_weight_id = layer->p_norm_bias_id = -1;
    layer->out_proj.weight_id = layer->out_proj.bias_id = -1;

    status = add_hopfield_space_norm(layer, params, prefix, err);
    if (status == HOP_OK)
        status = add_in_projection(layer, params, prefix, rng, err);
    if (status == HOP_OK)
        status = add_out_projection(layer, params, prefix, rng, err);
    if (status == HOP_OK)
        status = add_input_norms(layer, params, prefix, err);
    return status;
}

hop_status hop_hopfield_info_association(const hop_hopfield_info *info, float *out, size_t count,
                                         hop_error *err)
{
    if (!info || !info->association)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield: no association matrix; run a forward with this info");
    size_t numel = hop_tensor_numel(&info->association->value);
    if (count != numel)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "hopfield: association matrix has %zu elements, buffer holds %zu",
                             numel, count);
    memcpy(out, info->association->value.data, numel * sizeof *out);
    return HOP_OK;
}

/* Forward: input checks. */

static hop_status fail_shape(hop_graph *g, const char *what, const hop_node *x,
                             const char *expected)
{
    char shape[64];
    return hop_error_set(
        &hop_graph_ctx(g)->error, HOP_ERR_SHAPE, "hopfield: %s has shape %s, expected %s", what,
        hop_shape_format(x->value.ndim, x->value.shape, shape, sizeof shape), expected);
}

static hop_status check_inputs(hop_graph *g, const hop_hopfield *layer, const hop_node *stored,
                               const hop_node *state, const hop_node *projection,
                               const hop_node *mask)
{
    const hop_hopfield_config *c = &layer->config;
    char expected[96];
    snprintf(expected, sizeof expected, "(B, S, %d)", c->stored_pattern_size);
    if (stored->value.ndim != 3 || stored->value.shape[2] != c->stored_pattern_size)
        return fail_shape(g, "stored patterns", stored, expected);

    int batch = stored->value.shape[0], count = stored->value.shape[1];
    snprintf(expected, sizeof expected, "(%d, %d, %d)", batch, count, c->pattern_projection_size);
    if (projection->value.ndim != 3 || projection->value.shape[0] != batch ||
        projection->value.shape[1] != count ||
        projection->value.shape[2] != c->pattern_projection_size)
        return fail_shape(g, "pattern projection", projection, expected);

    snprintf(expected, sizeof expected, "(%d or 1, L, %d)", batch, c->input_size);
    if (state->value.ndim != 3 || state->value.shape[2] != c->input_size ||
        (state->value.shape[0] != batch && state->value.shape[0] != 1))
        return fail_shape(g, "state patterns", state, expected);

    snprintf(expected, sizeof expected, "(%d, %d)", batch, count);
    if (mask &&
        (mask->value.ndim != 2 || mask->value.shape[0] != batch || mask->value.shape[1] != count))
        return fail_shape(g, "padding mask", mask, expected);
    return HOP_OK;
}

/* Forward: projections and heads. */

static hop_node *project(hop_graph *g, hop_params *params, const hop_hopfield *layer, hop_node *x,
                         int part)
{
    const hop_hopfield_config *c = &layer->config;
    int vh = c->num_heads * c->hidden_size, vp = c->num_heads * c->pattern_size;
    int start = part * vh, end = part == PART_V ? start + vp : start + vh;

    hop_node *w;
    if (layer->packed) {
        w = hop_slice(g, hop_param(g, params, layer->in_proj_weight_id), 0, start, end);
    } else {
        int ids[3] = {layer->q_proj_weight_id, layer->k_proj_weight_id, layer->v_proj_weight_id};
        w = hop_param(g, params, ids[part]);
    }

    hop_node *y = hop_matmul(g, x, w, 0, 1);
    if (layer->in_proj_bias_id >= 0) {
        hop_node *bias = hop_param(g, params, layer->in_proj_bias_id);
        y = hop_add(g, y, hop_slice(g, bias, 0, start, end));
    }
    return y;
}

/* (B, N, heads * width) -> (B, heads, N, width); head h owns a contiguous feature block. */
static hop_node *split_heads(hop_graph *g, hop_node *x, int heads, int width)
{
    if (!x)
        return NULL;
    int shape[4] = {x->value.shape[0], x->value.shape[1], heads, width};
    static const int perm[4] = {0, 2, 1, 3};
    return hop_permute(g, hop_reshape(g, x, 4, shape), perm);
}

/* (B, heads, N, width) -> (B, N, heads * width). */
static hop_node *merge_heads(hop_graph *g, hop_node *x)
{
    if (!x)
        return NULL;
    static const int perm[4] = {0, 2, 1, 3};
    int shape[3] = {x->value.shape[0], x->value.shape[2], x->value.shape[1] * x->value.shape[3]};
    return hop_reshape(g, hop_permute(g, x, perm), 3, shape);
}

static hop_node *normalize_input(hop_graph *g, hop_params *params, const hop_layernorm_layer *norm,
                                 bool on, hop_node *x)
{
    return on ? hop_layernorm_layer_forward(g, params, norm, x) : x;
}

static hop_node *normalize_hopfield_space(hop_graph *g, hop_params *params,
                                          const hop_hopfield *layer, hop_node *x)
{
    const hop_hopfield_config *c = &layer->config;
    if (!c->normalize_hopfield_space || !x)
        return x;

    hop_node *gamma = NULL, *beta = NULL;
    if (c->normalize_hopfield_space_affine) {
        gamma = hop_param(g, params, layer->p_norm_weight_id);
        beta = hop_param(g, params, layer->p_norm_bias_id);
        if (!gamma || !beta)
            return NULL;
    }
    return hop_layernorm(g, x, gamma, beta, c->normalize_hopfield_space_eps);
}

/* Projected patterns of one forward run, split into heads. */
typedef struct hopfield_heads {
    hop_node *queries; /* (B or 1, heads, L, hidden), already scaled by beta */
    hop_node *keys;    /* (B, heads, S, hidden) */
    hop_node *values;  /* (B, heads, S, pattern) */
    hop_node *mask;    /* (B, 1, 1, S) or NULL */
} hopfield_heads;

static hop_status build_heads(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                              hop_node *stored, hop_node *state, hop_node *projection,
                              hop_node *mask, hopfield_heads *heads)
{
    const hop_hopfield_config *c = &layer->config;
    hop_node *y = normalize_input(g, params, &layer->norm_stored_pattern,
                                  c->normalize_stored_pattern, stored);
    hop_node *r =
        normalize_input(g, params, &layer->norm_state_pattern, c->normalize_state_pattern, state);
    hop_node *v = normalize_input(g, params, &layer->norm_pattern_projection,
                                  c->normalize_pattern_projection, projection);

    int nh = c->num_heads;
    hop_node *q = split_heads(g, project(g, params, layer, r, PART_Q), nh, c->hidden_size);
    hop_node *k = split_heads(g, project(g, params, layer, y, PART_K), nh, c->hidden_size);
    q = normalize_hopfield_space(g, params, layer, q);
    heads->keys = normalize_hopfield_space(g, params, layer, k);
    heads->queries = hop_scale(g, q, c->scaling);
    heads->values = split_heads(g, project(g, params, layer, v, PART_V), nh, c->pattern_size);

    heads->mask = NULL;
    if (mask) {
        int shape[4] = {mask->value.shape[0], 1, 1, mask->value.shape[1]};
        heads->mask = hop_reshape(g, mask, 4, shape);
        if (!heads->mask)
            return hop_graph_ctx(g)->error.status;
    }
    if (!heads->queries || !heads->keys || !heads->values)
        return hop_graph_ctx(g)->error.status;
    return HOP_OK;
}

/* Forward: association and update steps. */

typedef struct update_plan {
    hop_graph *g;
    hop_node *mask; /* (B, 1, 1, S) or NULL */
    float beta;
    int steps_max; /* negative: until the stopping test is met */
    double eps;
    int *update_steps; /* per head of the layer */
} update_plan;

static bool steps_remain(const update_plan *plan, int step)
{
    if (plan->steps_max < 0)
        return step < HOP_HOPFIELD_UNBOUNDED_STEP_LIMIT;
    return step < plan->steps_max;
}

/* Largest Frobenius norm over the batch of the change of head h, both (B, heads, L, S). */
static double max_change(const hop_node *prev, const hop_node *next, int h)
{
    int batch = next->value.shape[0], heads = next->value.shape[1];
    size_t block = (size_t)next->value.shape[2] * (size_t)next->value.shape[3];
    double worst = 0.0;
    for (int b = 0; b < batch; b++) {
        size_t offset = ((size_t)b * (size_t)heads + (size_t)h) * block;
        const float *p = prev->value.data + offset, *q = next->value.data + offset;
        double sum = 0.0;
        for (size_t i = 0; i < block; i++) {
            double d = (double)q[i] - (double)p[i];
            sum += d * d;
        }
        if (sum > worst)
            worst = sum;
    }
    return sqrt(worst);
}

/* Decides from values, without gradients, which heads take another step after `step`. */
static int mark_active(const update_plan *plan, const hop_node *prev, const hop_node *next,
                       int step, bool *active)
{
    int heads = next->value.shape[1], count = 0;
    bool left = steps_remain(plan, step);
    for (int h = 0; h < heads; h++) {
        active[h] = left && max_change(prev, next, h) > plan->eps;
        count += active[h];
    }
    return count;
}

static hop_node *update_heads(const update_plan *plan, hop_node *xi, hop_node *keys, int head0,
                              int step);

/* Continues each still-active head on its own chain and joins the heads again. */
static hop_node *update_heads_apart(const update_plan *plan, hop_node *xi, hop_node *keys,
                                    int head0, int step, const bool *active)
{
    hop_graph *g = plan->g;
    int heads = xi->value.shape[1];
    hop_node **parts = hop_graph_alloc(g, (size_t)heads * sizeof *parts);
    if (!parts)
        return NULL;

    for (int h = 0; h < heads; h++) {
        parts[h] = hop_slice(g, xi, 1, h, h + 1);
        if (active[h])
            parts[h] =
                update_heads(plan, parts[h], hop_slice(g, keys, 1, h, h + 1), head0 + h, step);
        else
            plan->update_steps[head0 + h] = step;
        if (!parts[h])
            return NULL;
    }
    return hop_concat(g, parts, heads, 1);
}

/*
 * Runs the update steps of heads [head0, head0 + heads) from xi, the softmax of step `step`,
 * and returns the final softmax. The heads share one chain while they agree on stopping.
 */
static hop_node *update_heads(const update_plan *plan, hop_node *xi, hop_node *keys, int head0,
                              int step)
{
    hop_graph *g = plan->g;
    int heads = keys->value.shape[1];
    bool *active = hop_graph_alloc(g, (size_t)heads * sizeof *active);
    if (!active)
        return NULL;

    while (steps_remain(plan, step)) {
        hop_node *state = hop_scale(g, hop_matmul(g, xi, keys, 0, 0), plan->beta);
        hop_node *next = hop_softmax(g, hop_matmul(g, state, keys, 0, 1), plan->mask);
        if (!next)
            return NULL;

        step++;
        int count = mark_active(plan, xi, next, step, active);
        xi = next;
        if (count == 0)
            break;
        if (count < heads)
            return update_heads_apart(plan, xi, keys, head0, step, active);
    }
    for (int h = 0; h < heads; h++)
        plan->update_steps[head0 + h] = step;
    return xi;
}

static hop_node *associate(hop_graph *g, const hop_hopfield *layer, const hopfield_heads *heads,
                           int *update_steps)
{
    const hop_hopfield_config *c = &layer->config;
    hop_node *scores = hop_matmul(g, heads->queries, heads->keys, 0, 1);
    hop_node *xi = hop_softmax(g, scores, heads->mask);
    if (!xi)
        return NULL;

    update_plan plan = {
        .g = g,
        .mask = heads->mask,
        .beta = c->scaling,
        .steps_max = c->update_steps_max,
        .eps = (double)c->update_steps_eps,
        .update_steps = update_steps,
    };
    return update_heads(&plan, xi, heads->keys, 0, 0);
}

hop_node *hop_hopfield_forward_patterns(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                        hop_node *stored, hop_node *state, hop_node *projection,
                                        hop_node *mask, hop_hopfield_info *info)
{
    if (!stored || !state || !projection)
        return NULL;
    if (check_inputs(g, layer, stored, state, projection, mask) != HOP_OK)
        return NULL;

    const hop_hopfield_config *c = &layer->config;
    hopfield_heads heads;
    if (build_heads(g, params, layer, stored, state, projection, mask, &heads) != HOP_OK)
        return NULL;

    int *update_steps = hop_graph_alloc(g, (size_t)c->num_heads * sizeof *update_steps);
    if (!update_steps)
        return NULL;
    hop_node *xi = associate(g, layer, &heads, update_steps);
    if (!xi)
        return NULL;
    if (info) {
        info->association = xi;
        info->num_heads = c->num_heads;
        info->update_steps = update_steps;
    }

    if (c->dropout > 0.0f)
        xi = hop_dropout(g, xi, c->dropout);
    hop_node *out = merge_heads(g, hop_matmul(g, xi, heads.values, 0, 0));
    if (c->disable_out_projection)
        return out;
    return hop_linear_forward(g, params, &layer->out_proj, out);
}

hop_node *hop_hopfield_forward(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                               hop_node *x, hop_node *mask, hop_hopfield_info *info)
{
    return hop_hopfield_forward_patterns(g, params, layer, x, x, x, mask, info);
}
