/* HopfieldLayer: learned stored patterns (prototypes), optionally with separate targets. */
#include <string.h>

#include "hop/layers.h"

hop_hopfield_layer_config hop_hopfield_layer_config_default(int input_size, int quantity)
{
    hop_hopfield_layer_config config = {
        .hopfield = hop_hopfield_config_default(input_size),
        .quantity = quantity,
        .trainable = true,
        .lookup_weights_as_separated = false,
        .lookup_targets_as_trainable = true,
    };
    return config;
}

static hop_status check_quantity(const hop_hopfield_layer_config *config, const char *name,
                                 hop_error *err)
{
    if (config->quantity <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield layer '%s': quantity %d is invalid; it must be >= 1", name,
                             config->quantity);
    bool extra = config->hopfield.concat_bias_pattern || config->hopfield.add_zero_association;
    if (config->quantity == 1 && !extra)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield layer '%s': quantity 1 is invalid: a softmax over one "
                             "stored pattern is always 1, so the output would not depend on the "
                             "input; use quantity >= 2 or add_zero_association",
                             name);
    return HOP_OK;
}

static hop_status add_pattern_table(hop_params *params, const char *prefix, const char *name,
                                    int quantity, int width, bool trainable, hop_rng *rng, int *id,
                                    hop_error *err)
{
    int shape[3] = {1, quantity, width};
    hop_status status =
        hop_layer_param_add(params, prefix, name, 3, shape, HOP_INIT_NORMAL, 0.02f, rng, id, err);
    if (status == HOP_OK)
        params->info[*id].frozen = !trainable;
    return status;
}

hop_status hop_hopfield_layer_init(hop_hopfield_layer *layer,
                                   const hop_hopfield_layer_config *config, hop_params *params,
                                   const char *prefix, hop_rng *rng, hop_error *err)
{
    const char *name = prefix ? prefix : "";
    hop_status status = check_quantity(config, name, err);
    if (status != HOP_OK)
        return status;

    /* The core is resolved first for the pattern widths, but registered after the tables. */
    hop_params scratch;
    hop_params_init(&scratch);
    hop_rng scratch_rng;
    hop_rng_seed(&scratch_rng, 0);
    status =
        hop_hopfield_init(&layer->hopfield, &config->hopfield, &scratch, name, &scratch_rng, err);
    hop_params_free(&scratch);
    if (status != HOP_OK)
        return status;

    layer->quantity = config->quantity;
    layer->target_weights_id = -1;
    status = add_pattern_table(params, prefix, "lookup_weights", config->quantity,
                               layer->hopfield.stored_width, config->trainable, rng,
                               &layer->lookup_weights_id, err);
    if (status == HOP_OK && config->lookup_weights_as_separated)
        status = add_pattern_table(
            params, prefix, "target_weights", config->quantity, layer->hopfield.projection_width,
            config->lookup_targets_as_trainable, rng, &layer->target_weights_id, err);
    if (status != HOP_OK)
        return status;
    if (!config->lookup_weights_as_separated &&
        layer->hopfield.stored_width != layer->hopfield.projection_width)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield layer '%s': the lookup weights (width %d) are the pattern "
                             "projection (width %d) too; make the widths equal or set "
                             "lookup_weights_as_separated",
                             name, layer->hopfield.stored_width, layer->hopfield.projection_width);

    char core[HOP_PARAM_NAME_MAX];
    status = hop_layer_param_name(core, sizeof core, prefix, "hopfield", err);
    if (status != HOP_OK)
        return status;
    return hop_hopfield_init(&layer->hopfield, &config->hopfield, params, core, rng, err);
}

static hop_status copy_rows(hop_params *params, int id, const float *rows, int n_rows,
                            const int *indices, int count, hop_error *err)
{
    const hop_param_info *info = &params->info[id];
    int width = info->shape[2];
    float *out = params->values + info->offset;
    for (int i = 0; i < count; i++) {
        if (indices[i] < 0 || indices[i] >= n_rows)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "hopfield layer: sample index %d (pattern %d) is invalid; there "
                                 "are %d samples",
                                 indices[i], i, n_rows);
        memcpy(out + (size_t)i * (size_t)width, rows + (size_t)indices[i] * (size_t)width,
               (size_t)width * sizeof *out);
    }
    return HOP_OK;
}

hop_status hop_hopfield_layer_set_patterns(const hop_hopfield_layer *layer, hop_params *params,
                                           const float *samples, const float *targets,
                                           int n_samples, const int *indices, hop_error *err)
{
    if (!samples || !indices || n_samples <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield layer: set_patterns needs samples, indices and "
                             "n_samples > 0 (got %d)",
                             n_samples);
    if (targets && layer->target_weights_id < 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield layer: targets given, but the layer has no separate "
                             "target_weights; set lookup_weights_as_separated");

    /* Check every index before anything is written. */
    for (int i = 0; i < layer->quantity; i++)
        if (indices[i] < 0 || indices[i] >= n_samples)
            return copy_rows(params, layer->lookup_weights_id, samples, n_samples, indices,
                             layer->quantity, err);
    hop_status status = copy_rows(params, layer->lookup_weights_id, samples, n_samples, indices,
                                  layer->quantity, err);
    if (status == HOP_OK && targets)
        status = copy_rows(params, layer->target_weights_id, targets, n_samples, indices,
                           layer->quantity, err);
    return status;
}

hop_node *hop_hopfield_layer_forward_inputs(hop_graph *g, hop_params *params,
                                            const hop_hopfield_layer *layer,
                                            const hop_hopfield_inputs *in, hop_hopfield_info *info)
{
    if (!in || !in->state)
        return NULL;
    hop_hopfield_inputs lookup = *in;
    lookup.stored = hop_param(g, params, layer->lookup_weights_id);
    lookup.projection = layer->target_weights_id >= 0
                            ? hop_param(g, params, layer->target_weights_id)
                            : lookup.stored;
    return hop_hopfield_forward_inputs(g, params, &layer->hopfield, &lookup, info);
}

hop_node *hop_hopfield_layer_forward(hop_graph *g, hop_params *params,
                                     const hop_hopfield_layer *layer, hop_node *x, hop_node *mask,
                                     hop_hopfield_info *info)
{
    hop_hopfield_inputs in = {.state = x, .padding_mask = mask};
    return hop_hopfield_layer_forward_inputs(g, params, layer, &in, info);
}
