/* LayerNorm layer over the last axis. */
#include <math.h>

#include "hop/layers.h"

hop_layernorm_config hop_layernorm_config_default(int features)
{
    hop_layernorm_config config = {.features = features, .affine = true, .eps = 1e-5f};
    return config;
}

hop_status hop_layernorm_layer_init(hop_layernorm_layer *layer, const hop_layernorm_config *config,
                                    hop_params *params, const char *prefix, hop_error *err)
{
    const char *name = prefix ? prefix : "";
    if (config->features <= 0)
        return hop_error_set(err, HOP_ERR_ARG, "layernorm '%s': features %d must be positive", name,
                             config->features);
    if (!isfinite(config->eps) || config->eps <= 0.0f)
        return hop_error_set(err, HOP_ERR_ARG,
                             "layernorm '%s': eps %g is invalid; it must be finite and > 0", name,
                             (double)config->eps);

    layer->features = config->features;
    layer->eps = config->eps;
    layer->weight_id = -1;
    layer->bias_id = -1;
    if (!config->affine)
        return HOP_OK;

    hop_status status = hop_layer_param_add(params, prefix, "weight", 1, &config->features,
                                            HOP_INIT_ONES, 0.0f, NULL, &layer->weight_id, err);
    if (status != HOP_OK)
        return status;
    return hop_layer_param_add(params, prefix, "bias", 1, &config->features, HOP_INIT_ZEROS, 0.0f,
                               NULL, &layer->bias_id, err);
}

hop_node *hop_layernorm_layer_forward(hop_graph *g, hop_params *params,
                                      const hop_layernorm_layer *layer, hop_node *x)
{
    if (!x)
        return NULL;

    int last = x->value.shape[x->value.ndim - 1];
    if (last != layer->features) {
        char shape[64];
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_SHAPE,
                      "layernorm: input shape %s does not end in features %d",
                      hop_shape_format(x->value.ndim, x->value.shape, shape, sizeof shape),
                      layer->features);
        return NULL;
    }

    hop_node *gamma = NULL, *beta = NULL;
    if (layer->weight_id >= 0) {
        gamma = hop_param(g, params, layer->weight_id);
        beta = hop_param(g, params, layer->bias_id);
        if (!gamma || !beta)
            return NULL;
    }
    return hop_layernorm(g, x, gamma, beta, layer->eps);
}
