/* The MIL classifier: ReLU embedding layers, HopfieldPooling, ReLU and a linear output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/mil.h"
#include "mil_parts.h"

void hop_mil_model_defaults(hop_mil_model_config *config, int input_dim)
{
    memset(config, 0, sizeof *config);
    config->input_dim = input_dim;
    config->embed_layers = 1;
    config->embed_width = 128;
    config->heads = 4;
    config->head_dim = 32;
    config->pool_output = 64;
    config->beta = 0.0f;
    config->update_steps = 0;
    config->dropout = 0.0f;
    config->input_dropout = 0.0f;
}

static hop_status check_config(const hop_mil_model_config *c, hop_error *err)
{
    if (c->input_dim < 1)
        return hop_error_set(err, HOP_ERR_ARG, "MIL model: input dimension %d must be positive",
                             c->input_dim);
    if (c->embed_layers < 0 || c->embed_layers > HOP_MIL_MAX_EMBED)
        return hop_error_set(err, HOP_ERR_ARG, "MIL model: %d embedding layers; use 0 to %d",
                             c->embed_layers, HOP_MIL_MAX_EMBED);
    if (c->embed_layers > 0 && c->embed_width < 1)
        return hop_error_set(err, HOP_ERR_ARG, "MIL model: embedding width %d must be positive",
                             c->embed_width);
    if (!(c->input_dropout >= 0.0f && c->input_dropout < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG, "MIL model: input dropout %g must be in [0, 1)",
                             c->input_dropout);
    return HOP_OK;
}

hop_status hop_mil_model_init(hop_mil_model *model, const hop_mil_model_config *config,
                              hop_params *params, hop_rng *rng, hop_error *err)
{
    memset(model, 0, sizeof *model);
    hop_status status = check_config(config, err);
    if (status != HOP_OK)
        return status;
    model->config = *config;
    status = hop_mil_linear_stack_init(model->embed, config->embed_layers, "embed",
                                       config->input_dim, config->embed_width, params, rng, err);
    if (status != HOP_OK)
        return status;

    hop_mil_head_config head = {
        .input_width = config->embed_layers > 0 ? config->embed_width : config->input_dim,
        .heads = config->heads,
        .head_dim = config->head_dim,
        .pool_output = config->pool_output,
        .beta = config->beta,
        .update_steps = config->update_steps,
        .dropout = config->dropout,
    };
    return hop_mil_head_init(&model->pool, &model->output, &head, params, rng, err);
}

hop_node *hop_mil_model_forward(hop_graph *g, hop_params *params, const hop_mil_model *model,
                                hop_node *x, hop_node *mask, hop_hopfield_info *pool_info)
{
    const hop_mil_model_config *c = &model->config;
    hop_node *h = x;
    if (c->input_dropout > 0.0f)
        h = hop_dropout(g, h, c->input_dropout);
    for (int i = 0; i < c->embed_layers; i++)
        h = hop_relu(g, hop_linear_forward(g, params, &model->embed[i], h));

    hop_node *pooled = hop_hopfield_pooling_forward(g, params, &model->pool, h, mask, pool_info);
    return hop_linear_forward(g, params, &model->output, hop_relu(g, pooled));
}
