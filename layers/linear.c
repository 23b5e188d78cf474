/* Linear layer and the parameter-naming helpers shared by all layers. */
#include <stdio.h>
#include <string.h>

#include "hop/layers.h"

hop_status hop_layer_param_name(char *buf, size_t size, const char *prefix, const char *name,
                                hop_error *err)
{
    int written;
    if (prefix && prefix[0])
        written = snprintf(buf, size, "%s.%s", prefix, name);
    else
        written = snprintf(buf, size, "%s", name);

    if (written < 0 || (size_t)written >= size)
        return hop_error_set(err, HOP_ERR_ARG,
                             "parameter name '%s.%s' is longer than %zu characters",
                             prefix ? prefix : "", name, size - 1);
    return HOP_OK;
}

hop_status hop_layer_param_add(hop_params *params, const char *prefix, const char *name, int ndim,
                               const int *shape, hop_init init, float arg, hop_rng *rng, int *id,
                               hop_error *err)
{
    char full[HOP_PARAM_NAME_MAX];
    hop_status status = hop_layer_param_name(full, sizeof full, prefix, name, err);
    if (status != HOP_OK)
        return status;
    return hop_params_add(params, full, ndim, shape, init, arg, rng, id, err);
}

hop_linear_config hop_linear_config_default(int in_features, int out_features)
{
    hop_linear_config config = {
        .in_features = in_features,
        .out_features = out_features,
        .bias = true,
        .weight_init = HOP_INIT_NORMAL,
        .weight_init_arg = 0.02f,
    };
    return config;
}

hop_status hop_linear_init(hop_linear *layer, const hop_linear_config *config, hop_params *params,
                           const char *prefix, hop_rng *rng, hop_error *err)
{
    if (config->in_features <= 0 || config->out_features <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "linear '%s': in_features %d and out_features %d must be positive",
                             prefix ? prefix : "", config->in_features, config->out_features);

    layer->in_features = config->in_features;
    layer->out_features = config->out_features;
    layer->bias_id = -1;

    int weight_shape[2] = {config->out_features, config->in_features};
    hop_status status =
        hop_layer_param_add(params, prefix, "weight", 2, weight_shape, config->weight_init,
                            config->weight_init_arg, rng, &layer->weight_id, err);
    if (status != HOP_OK || !config->bias)
        return status;

    return hop_layer_param_add(params, prefix, "bias", 1, &config->out_features, HOP_INIT_ZEROS,
                               0.0f, NULL, &layer->bias_id, err);
}

hop_node *hop_linear_forward(hop_graph *g, hop_params *params, const hop_linear *layer, hop_node *x)
{
    if (!x)
        return NULL;

    int last = x->value.shape[x->value.ndim - 1];
    if (last != layer->in_features) {
        char shape[64];
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_SHAPE,
                      "linear: input shape %s does not end in in_features %d",
                      hop_shape_format(x->value.ndim, x->value.shape, shape, sizeof shape),
                      layer->in_features);
        return NULL;
    }

    hop_node *y = hop_matmul(g, x, hop_param(g, params, layer->weight_id), 0, 1);
    if (layer->bias_id >= 0)
        y = hop_add(g, y, hop_param(g, params, layer->bias_id));
    return y;
}
