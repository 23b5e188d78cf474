/* HopfieldPooling: learned state patterns associated with each bag of instances. */
#include "hop/layers.h"

hop_hopfield_pooling_config hop_hopfield_pooling_config_default(int input_size)
{
    hop_hopfield_pooling_config config = {
        .hopfield = hop_hopfield_config_default(input_size),
        .quantity = 1,
        .trainable = true,
    };
    return config;
}

hop_status hop_hopfield_pooling_init(hop_hopfield_pooling *layer,
                                     const hop_hopfield_pooling_config *config, hop_params *params,
                                     const char *prefix, hop_rng *rng, hop_error *err)
{
    const char *name = prefix ? prefix : "";
    if (config->quantity <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield pooling '%s': quantity %d is invalid; it must be >= 1", name,
                             config->quantity);
    if (config->hopfield.input_size <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield pooling '%s': input_size %d is invalid; it must be "
                             "positive",
                             name, config->hopfield.input_size);

    hop_status status = hop_hopfield_config_check(&config->hopfield, name, err);
    if (status != HOP_OK)
        return status;

    /* The core is resolved first for the state width, but registered after the weights. */
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
    int shape[3] = {1, config->quantity, layer->hopfield.state_width};
    status = hop_layer_param_add(params, prefix, "pooling_weights", 3, shape, HOP_INIT_NORMAL,
                                 0.02f, rng, &layer->pooling_weights_id, err);
    if (status != HOP_OK)
        return status;
    params->info[layer->pooling_weights_id].frozen = !config->trainable;

    char core[HOP_PARAM_NAME_MAX];
    status = hop_layer_param_name(core, sizeof core, prefix, "hopfield", err);
    if (status != HOP_OK)
        return status;
    return hop_hopfield_init(&layer->hopfield, &config->hopfield, params, core, rng, err);
}

hop_node *hop_hopfield_pooling_forward_inputs(hop_graph *g, hop_params *params,
                                              const hop_hopfield_pooling *layer,
                                              const hop_hopfield_inputs *in,
                                              hop_hopfield_info *info)
{
    if (!in || !in->stored || !in->projection)
        return NULL;

    hop_hopfield_inputs pooled = *in;
    pooled.state = hop_param(g, params, layer->pooling_weights_id);
    hop_node *out = hop_hopfield_forward_inputs(g, params, &layer->hopfield, &pooled, info);
    if (!out)
        return NULL;

    int shape[2] = {out->value.shape[0], layer->quantity * layer->hopfield.output_width};
    return hop_reshape(g, out, 2, shape);
}

hop_node *hop_hopfield_pooling_forward_pair(hop_graph *g, hop_params *params,
                                            const hop_hopfield_pooling *layer, hop_node *stored,
                                            hop_node *projection, hop_node *mask,
                                            hop_hopfield_info *info)
{
    hop_hopfield_inputs in = {.stored = stored, .projection = projection, .padding_mask = mask};
    return hop_hopfield_pooling_forward_inputs(g, params, layer, &in, info);
}

hop_node *hop_hopfield_pooling_forward(hop_graph *g, hop_params *params,
                                       const hop_hopfield_pooling *layer, hop_node *x,
                                       hop_node *mask, hop_hopfield_info *info)
{
    return hop_hopfield_pooling_forward_pair(g, params, layer, x, x, mask, info);
}
