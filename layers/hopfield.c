/* Hopfield association core: configuration, checks and parameter registration. */
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
    c.scaling = NAN;
    c.update_steps_eps = 1e-4f;
    c.normalize_stored_pattern = c.normalize_stored_pattern_affine = true;
    c.normalize_state_pattern = c.normalize_state_pattern_affine = true;
    c.normalize_pattern_projection = c.normalize_pattern_projection_affine = true;
    c.normalize_stored_pattern_eps = 1e-5f;
    c.normalize_state_pattern_eps = 1e-5f;
    c.normalize_pattern_projection_eps = 1e-5f;
    c.normalize_hopfield_space_eps = 1e-5f;
    c.association_activation = HOP_HOPFIELD_ACTIVATION_NONE;
    c.separation = HOP_HOPFIELD_SEPARATION_SOFTMAX;
    c.input_bias = true;
    return c;
}

static bool is_static_only(const hop_hopfield_config *c)
{
    return c->stored_pattern_as_static && c->state_pattern_as_static &&
           c->pattern_projection_as_static && !c->pattern_projection_as_connected &&
           !c->normalize_hopfield_space && !c->normalize_hopfield_space_affine &&
           c->disable_out_projection;
}

/* hidden_size 0 means input_size when both association sides are static (they share it). */
static bool hidden_from_input(const hop_hopfield_config *c)
{
    return c->stored_pattern_as_static && c->state_pattern_as_static;
}

/* Configuration checks. Every message names the layer prefix and the rejected value. */

static hop_status check_sizes(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    if (c->input_size <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': input_size %d is invalid; it must be positive", name,
                             c->input_size);
    if (c->num_heads <= 0 || c->num_heads > HOP_HOPFIELD_MAX_HEADS)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': num_heads %d is invalid; it must be 1 to %d", name,
                             c->num_heads, HOP_HOPFIELD_MAX_HEADS);

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

    if (c->hidden_size == 0 && !hidden_from_input(c) && c->input_size % c->num_heads != 0)
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

static hop_status check_scaling(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    if (isinf(c->scaling))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': scaling %g is invalid; it must be finite, or NAN for "
                             "the default",
                             name, (double)c->scaling);
    if (!c->head_scaling)
        return HOP_OK;
    for (int h = 0; h < c->num_heads; h++)
        if (!isfinite(c->head_scaling[h]))
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': head_scaling[%d] %g is invalid; it must be finite",
                                 name, h, (double)c->head_scaling[h]);
    return HOP_OK;
}

/* A trainable beta is stored as log beta, so every initial beta must be positive. */
static hop_status check_trainable_beta(const hop_hopfield_config *c, const char *name,
                                       hop_error *err)
{
    if (!c->beta_trainable)
        return HOP_OK;
    for (int h = 0; h < c->num_heads; h++) {
        float beta = c->head_scaling ? c->head_scaling[h] : c->scaling;
        if (!(beta > 0.0f) && !isnan(beta))
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': beta %g of head %d is invalid with "
                                 "beta_trainable, which learns log beta; use a beta > 0",
                                 name, (double)beta, h);
    }
    return HOP_OK;
}

static hop_status check_head_count(const char *key, int count, int heads, const char *name,
                                   hop_error *err)
{
    if (count == 0 || count == heads)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "hopfield '%s': n_%s %d is invalid; give 0 (the scalar for every head) "
                         "or num_heads (%d) values",
                         name, key, count, heads);
}

static hop_status check_update_steps(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    if (!isfinite(c->update_steps_eps) || c->update_steps_eps <= 0.0f)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': update_steps_eps %g is invalid; it must be > 0", name,
                             (double)c->update_steps_eps);

    hop_status status = check_head_count("head_update_steps_max", c->n_head_update_steps_max,
                                         c->num_heads, name, err);
    if (status == HOP_OK)
        status = check_head_count("head_update_steps_eps", c->n_head_update_steps_eps, c->num_heads,
                                  name, err);
    if (status != HOP_OK)
        return status;

    for (int h = 0; h < c->n_head_update_steps_max; h++)
        if (c->head_update_steps_max[h] < -1)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': head_update_steps_max[%d] %d is invalid; it "
                                 "must be >= 0, or -1 for an unbounded loop",
                                 name, h, c->head_update_steps_max[h]);
    for (int h = 0; h < c->n_head_update_steps_eps; h++) {
        float eps = c->head_update_steps_eps[h];
        if (!isfinite(eps) || eps <= 0.0f)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': head_update_steps_eps[%d] %g is invalid; it "
                                 "must be finite and > 0",
                                 name, h, (double)eps);
    }
    return HOP_OK;
}

static hop_status check_association(const hop_hopfield_config *c, const char *name, hop_error *err)
{
    hop_status status = check_scaling(c, name, err);
    if (status != HOP_OK)
        return status;
    status = check_update_steps(c, name, err);
    if (status != HOP_OK)
        return status;
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': dropout %g is invalid; it must be in [0, 1)", name,
                             (double)c->dropout);
    if ((unsigned)c->association_activation > HOP_HOPFIELD_ACTIVATION_SIGMOID)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': association_activation %d is not a known activation",
                             name, (int)c->association_activation);
    if ((unsigned)c->separation > HOP_HOPFIELD_SEPARATION_ENTMAX15)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': separation %d is not a known separation; use "
                             "softmax, sparsemax or entmax15",
                             name, (int)c->separation);
    return check_trainable_beta(c, name, err);
}

static hop_hopfield_config resolve(const hop_hopfield_config *config);

static hop_status check_static(const hop_hopfield_config *config, const char *name, hop_error *err)
{
    hop_hopfield_config c = resolve(config);
    if (c.pattern_projection_as_connected) {
        if (c.stored_pattern_as_static)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': pattern_projection_as_connected needs the key "
                                 "projection, so stored_pattern_as_static must be off",
                                 name);
        if (c.stored_pattern_size != c.pattern_projection_size)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': pattern_projection_as_connected needs "
                                 "stored_pattern_size %d to equal pattern_projection_size %d",
                                 name, c.stored_pattern_size, c.pattern_projection_size);
        if (c.pattern_size != c.hidden_size)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield '%s': pattern_projection_as_connected needs "
                                 "pattern_size %d to equal hidden_size %d",
                                 name, c.pattern_size, c.hidden_size);
    }
    if (c.concat_bias_pattern && (c.stored_pattern_as_static || c.pattern_projection_as_static))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield '%s': concat_bias_pattern needs projected stored patterns "
                             "and projection; turn the *_as_static options off",
                             name);
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
    if (status == HOP_OK)
        status = check_static(config, name, err);
    return status;
}

static hop_hopfield_config resolve(const hop_hopfield_config *config)
{
    hop_hopfield_config c = *config;
    if (c.hidden_size == 0)
        c.hidden_size = hidden_from_input(&c) ? c.input_size : c.input_size / c.num_heads;
    if (c.stored_pattern_size == 0)
        c.stored_pattern_size = c.input_size;
    if (c.pattern_projection_size == 0)
        c.pattern_projection_size = c.input_size;
    if (c.pattern_size == 0) {
        bool given_width = config->pattern_projection_size > 0 && c.pattern_projection_as_static &&
                           !c.pattern_projection_as_connected;
        c.pattern_size = given_width ? c.pattern_projection_size : c.hidden_size;
    }
    if (c.output_size == 0)
        c.output_size = c.input_size;
    if (isnan(c.scaling))
        c.scaling = is_static_only(&c) ? 1.0f : 1.0f / sqrtf((float)c.hidden_size);
    c.head_scaling = NULL;
    return c;
}

static void resolve_widths(hop_hopfield *layer)
{
    const hop_hopfield_config *c = &layer->config;
    layer->state_width = c->state_pattern_as_static ? c->hidden_size : c->input_size;
    layer->stored_width = c->stored_pattern_as_static ? c->hidden_size : c->stored_pattern_size;
    if (!c->pattern_projection_as_static)
        layer->projection_width = c->pattern_projection_size;
    else if (c->pattern_projection_as_connected)
        layer->projection_width = c->stored_pattern_size;
    else
        layer->projection_width = c->pattern_size;
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

static bool part_projected(const hop_hopfield_config *c, int part)
{
    if (part == PART_Q)
        return !c->state_pattern_as_static;
    if (part == PART_K)
        return !c->stored_pattern_as_static;
    return !c->pattern_projection_as_static;
}

static int part_rows(const hop_hopfield_config *c, int part)
{
    return c->num_heads * (part == PART_V ? c->pattern_size : c->hidden_size);
}

static hop_status add_packed_weight(hop_hopfield *layer, hop_params *params, const char *prefix,
                                    hop_rng *rng, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    int rows = 0;
    for (int part = PART_Q; part <= PART_V; part++) {
        layer->weight_rows[part] = part_projected(c, part) ? rows : -1;
        rows += part_projected(c, part) ? part_rows(c, part) : 0;
    }
    if (rows == 0)
        return HOP_OK;
    int shape[2] = {rows, c->input_size};
    return hop_layer_param_add(params, prefix, "association_core.in_proj_weight", 2, shape,
                               HOP_INIT_NORMAL, 0.02f, rng, &layer->in_proj_weight_id, err);
}

static hop_status add_separate_weights(hop_hopfield *layer, hop_params *params, const char *prefix,
                                       hop_rng *rng, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    int vh = part_rows(c, PART_Q), vp = part_rows(c, PART_V);
    int v_in = c->pattern_projection_as_connected ? vh : c->pattern_projection_size;
    const struct {
        const char *name;
        int shape[2];
        int *id;
    } parts[3] = {
        {"association_core.q_proj_weight", {vh, c->input_size}, &layer->q_proj_weight_id},
        {"association_core.k_proj_weight", {vh, c->stored_pattern_size}, &layer->k_proj_weight_id},
        {"association_core.v_proj_weight", {vp, v_in}, &layer->v_proj_weight_id},
    };
    for (int part = PART_Q; part <= PART_V; part++) {
        if (!part_projected(c, part))
            continue;
        hop_status status =
            hop_layer_param_add(params, prefix, parts[part].name, 2, parts[part].shape,
                                HOP_INIT_NORMAL, 0.02f, rng, parts[part].id, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

/* in_proj_bias contains bq and bk for projected sides and always a slot for bv. */
static hop_status add_in_bias(hop_hopfield *layer, hop_params *params, const char *prefix,
                              hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    bool any = part_projected(c, PART_Q) || part_projected(c, PART_K) || part_projected(c, PART_V);
    if (!c->input_bias || !any)
        return HOP_OK;

    int size = 0;
    for (int part = PART_Q; part <= PART_V; part++) {
        bool slot = part == PART_V || part_projected(c, part);
        layer->bias_offsets[part] = slot ? size : -1;
        size += slot ? part_rows(c, part) : 0;
    }
    return hop_layer_param_add(params, prefix, "association_core.in_proj_bias", 1, &size,
                               HOP_INIT_ZEROS, 0.0f, NULL, &layer->in_proj_bias_id, err);
}

static hop_status add_bias_patterns(hop_hopfield *layer, hop_params *params, const char *prefix,
                                    hop_rng *rng, hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    if (!c->concat_bias_pattern)
        return HOP_OK;
    int k[3] = {1, 1, part_rows(c, PART_K)}, v[3] = {1, 1, part_rows(c, PART_V)};
    hop_status status = hop_layer_param_add(params, prefix, "association_core.bias_k", 3, k,
                                            HOP_INIT_NORMAL, 0.02f, rng, &layer->bias_k_id, err);
    if (status != HOP_OK)
        return status;
    return hop_layer_param_add(params, prefix, "association_core.bias_v", 3, v, HOP_INIT_NORMAL,
                               0.02f, rng, &layer->bias_v_id, err);
}

static hop_status add_beta(hop_hopfield *layer, hop_params *params, const char *prefix,
                           hop_error *err)
{
    const hop_hopfield_config *c = &layer->config;
    if (!c->beta_trainable)
        return HOP_OK;
    hop_status status =
        hop_layer_param_add(params, prefix, "association_core.log_beta", 1, &c->num_heads,
                            HOP_INIT_ZEROS, 0.0f, NULL, &layer->beta_id, err);
    if (status != HOP_OK)
        return status;
    float *log_beta = params->values + params->info[layer->beta_id].offset;
    for (int h = 0; h < c->num_heads; h++)
        log_beta[h] = logf(layer->head_scaling[h]);
    return HOP_OK;
}

float hop_hopfield_beta(const hop_hopfield *layer, const hop_params *params, int head)
{
    if (head < 0 || head >= layer->config.num_heads)
        return NAN;
    if (layer->beta_id < 0)
        return layer->head_scaling[head];
    return expf(params->values[params->info[layer->beta_id].offset + (size_t)head]);
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
        add_input_norm(&layer->norm_stored_pattern, "norm_stored_pattern", layer->stored_width,
                       c->normalize_stored_pattern, c->normalize_stored_pattern_affine,
                       c->normalize_stored_pattern_eps, params, prefix, err);
    if (status == HOP_OK)
        status =
            add_input_norm(&layer->norm_state_pattern, "norm_state_pattern", layer->state_width,
                           c->normalize_state_pattern, c->normalize_state_pattern_affine,
                           c->normalize_state_pattern_eps, params, prefix, err);
    if (status == HOP_OK)
        status = add_input_norm(&layer->norm_pattern_projection, "norm_pattern_projection",
                                layer->projection_width, c->normalize_pattern_projection,
                                c->normalize_pattern_projection_affine,
                                c->normalize_pattern_projection_eps, params, prefix, err);
    return status;
}

static void layer_reset_ids(hop_hopfield *layer)
{
    layer->in_proj_weight_id = layer->q_proj_weight_id = -1;
    layer->k_proj_weight_id = layer->v_proj_weight_id = -1;
    layer->in_proj_bias_id = layer->p_norm_weight_id = layer->p_norm_bias_id = -1;
    layer->bias_k_id = layer->bias_v_id = layer->beta_id = -1;
    layer->out_proj.weight_id = layer->out_proj.bias_id = -1;
    for (int part = PART_Q; part <= PART_V; part++)
        layer->weight_rows[part] = layer->bias_offsets[part] = -1;
}

static void resolve_head_scaling(hop_hopfield *layer, const hop_hopfield_config *config)
{
    for (int h = 0; h < layer->config.num_heads; h++)
        layer->head_scaling[h] =
            config->head_scaling ? config->head_scaling[h] : layer->config.scaling;
}

hop_status hop_hopfield_init(hop_hopfield *layer, const hop_hopfield_config *config,
                             hop_params *params, const char *prefix, hop_rng *rng, hop_error *err)
{
    hop_status status = hop_hopfield_config_check(config, prefix, err);
    if (status != HOP_OK)
        return status;

    memset(layer, 0, sizeof *layer);
    layer->config = resolve(config);
    resolve_head_scaling(layer, config);
    resolve_widths(layer);
    layer_reset_ids(layer);
    const hop_hopfield_config *c = &layer->config;
    layer->static_only = is_static_only(c);
    bool input_widths =
        (config->stored_pattern_size == 0 || config->stored_pattern_size == c->input_size) &&
        (config->pattern_projection_size == 0 || config->pattern_projection_size == c->input_size);
    layer->packed =
        input_widths && config->pattern_size == 0 && !c->pattern_projection_as_connected;
    layer->output_width =
        c->disable_out_projection ? c->num_heads * c->pattern_size : c->output_size;

    status = add_hopfield_space_norm(layer, params, prefix, err);
    if (status == HOP_OK)
        status = layer->packed ? add_packed_weight(layer, params, prefix, rng, err)
                               : add_separate_weights(layer, params, prefix, rng, err);
    if (status == HOP_OK)
        status = add_in_bias(layer, params, prefix, err);
    if (status == HOP_OK)
        status = add_bias_patterns(layer, params, prefix, rng, err);
    if (status == HOP_OK)
        status = add_beta(layer, params, prefix, err);
    if (status == HOP_OK)
        status = add_out_projection(layer, params, prefix, rng, err);
    if (status == HOP_OK)
        status = add_input_norms(layer, params, prefix, err);
    return status;
}
