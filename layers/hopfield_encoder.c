/* Hopfield encoder block: self-association and a feed-forward block, each post-norm. */
#include <math.h>

#include "hop/layers.h"

hop_hopfield_encoder_config hop_hopfield_encoder_config_default(int input_size)
{
    hop_hopfield_encoder_config config = {
        .hopfield = hop_hopfield_config_default(input_size),
        .dim_feedforward = 2048,
        .dropout = 0.1f,
        .activation = HOP_HOPFIELD_ACTIVATION_RELU,
    };
    return config;
}

static hop_status check_encoder(const hop_hopfield_encoder_config *config, const char *name,
                                hop_error *err)
{
    if (config->dim_feedforward <= 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield encoder '%s': dim_feedforward %d is invalid; it must be "
                             "positive",
                             name, config->dim_feedforward);
    if (!(config->dropout >= 0.0f && config->dropout < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield encoder '%s': dropout %g is invalid; it must be in [0, 1)",
                             name, (double)config->dropout);
    if (config->activation == HOP_HOPFIELD_ACTIVATION_NONE ||
        (unsigned)config->activation > HOP_HOPFIELD_ACTIVATION_SIGMOID)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield encoder '%s': activation %d is invalid; use relu, tanh or "
                             "sigmoid",
                             name, (int)config->activation);
    return HOP_OK;
}

static hop_status add_linear(hop_linear *layer, int in, int out, hop_params *params,
                             const char *prefix, const char *key, hop_rng *rng, hop_error *err)
{
    char name[HOP_PARAM_NAME_MAX];
    hop_status status = hop_layer_param_name(name, sizeof name, prefix, key, err);
    if (status != HOP_OK)
        return status;
    hop_linear_config config = hop_linear_config_default(in, out);
    config.weight_init = HOP_INIT_UNIFORM;
    config.weight_init_arg = 1.0f / sqrtf((float)in);
    status = hop_linear_init(layer, &config, params, name, rng, err);
    if (status != HOP_OK)
        return status;

    /* torch.nn.Linear draws its bias from the same uniform range as the weight. */
    const hop_param_info *bias = &params->info[layer->bias_id];
    for (size_t i = 0; i < bias->numel; i++)
        params->values[bias->offset + i] =
            config.weight_init_arg * (2.0f * hop_rng_uniform(rng) - 1.0f);
    return HOP_OK;
}

static hop_status add_norm(hop_layernorm_layer *layer, int features, hop_params *params,
                           const char *prefix, const char *key, hop_error *err)
{
    char name[HOP_PARAM_NAME_MAX];
    hop_status status = hop_layer_param_name(name, sizeof name, prefix, key, err);
    if (status != HOP_OK)
        return status;
    hop_layernorm_config config = hop_layernorm_config_default(features);
    return hop_layernorm_layer_init(layer, &config, params, name, err);
}

hop_status hop_hopfield_encoder_init(hop_hopfield_encoder *layer,
                                     const hop_hopfield_encoder_config *config, hop_params *params,
                                     const char *prefix, hop_rng *rng, hop_error *err)
{
    const char *name = prefix ? prefix : "";
    hop_status status = check_encoder(config, name, err);
    if (status != HOP_OK)
        return status;

    char core[HOP_PARAM_NAME_MAX];
    status = hop_layer_param_name(core, sizeof core, prefix, "hopfield_association", err);
    if (status == HOP_OK)
        status = hop_hopfield_init(&layer->hopfield, &config->hopfield, params, core, rng, err);
    if (status != HOP_OK)
        return status;

    int width = layer->hopfield.state_width;
    if (layer->hopfield.output_width != width)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield encoder '%s': the association output width %d must equal "
                             "its state width %d for the residual connection",
                             name, layer->hopfield.output_width, width);

    layer->dropout = config->dropout;
    layer->activation = config->activation;
    int ffn = config->dim_feedforward;
    status = add_linear(&layer->linear_residual, width, ffn, params, prefix, "linear_residual", rng,
                        err);
    if (status == HOP_OK)
        status = add_linear(&layer->linear_output, ffn, width, params, prefix, "linear_output", rng,
                            err);
    if (status == HOP_OK)
        status = add_norm(&layer->norm_residual, width, params, prefix, "norm_residual", err);
    if (status == HOP_OK)
        status = add_norm(&layer->norm_output, width, params, prefix, "norm_output", err);
    return status;
}

static hop_node *activate(hop_graph *g, hop_hopfield_activation activation, hop_node *x)
{
    switch (activation) {
    case HOP_HOPFIELD_ACTIVATION_TANH: return hop_tanh(g, x);
    case HOP_HOPFIELD_ACTIVATION_SIGMOID: return hop_sigmoid(g, x);
    case HOP_HOPFIELD_ACTIVATION_RELU:
    case HOP_HOPFIELD_ACTIVATION_NONE: break;
    }
    return hop_relu(g, x);
}

static hop_node *dropout(hop_graph *g, const hop_hopfield_encoder *layer, hop_node *x)
{
    return layer->dropout > 0.0f ? hop_dropout(g, x, layer->dropout) : x;
}

hop_node *hop_hopfield_encoder_forward(hop_graph *g, hop_params *params,
                                       const hop_hopfield_encoder *layer, hop_node *x,
                                       hop_node *padding_mask, hop_node *association_mask,
                                       bool association_mask_additive, hop_hopfield_info *info)
{
    hop_hopfield_inputs in = {
        .stored = x,
        .state = x,
        .projection = x,
        .padding_mask = padding_mask,
        .association_mask = association_mask,
        .association_mask_additive = association_mask_additive,
    };
    hop_node *associated = hop_hopfield_forward_inputs(g, params, &layer->hopfield, &in, info);
    hop_node *h = hop_add(g, x, dropout(g, layer, associated));
    h = hop_layernorm_layer_forward(g, params, &layer->norm_residual, h);

    hop_node *inner =
        activate(g, layer->activation, hop_linear_forward(g, params, &layer->linear_residual, h));
    hop_node *ffn = hop_linear_forward(g, params, &layer->linear_output, dropout(g, layer, inner));
    h = hop_add(g, h, dropout(g, layer, ffn));
    return hop_layernorm_layer_forward(g, params, &layer->norm_output, h);
}
