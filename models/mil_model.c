/* The MIL classifier: ReLU embedding layers, HopfieldPooling, ReLU and a linear output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/mil.h"

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

static hop_status init_embedding(hop_mil_model *model, hop_params *params, hop_rng *rng,
                                 hop_error *err)
{
    const hop_mil_model_config *c = &model->config;
    int width = c->input_dim;
    for (int i = 0; i < c->embed_layers; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "embed.%d", i);
        hop_linear_config lc = hop_linear_config_default(width, c->embed_width);
        /* Kaiming-uniform bound as in torch.nn.Linear, so deep ReLU stacks keep their scale. */
        lc.weight_init = HOP_INIT_UNIFORM;
        lc.weight_init_arg = 1.0f / sqrtf((float)width);
        hop_status status = hop_linear_init(&model->embed[i], &lc, params, prefix, rng, err);
        if (status != HOP_OK)
            return status;
        width = c->embed_width;
    }
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
    status = init_embedding(model, params, rng, err);
    if (status != HOP_OK)
        return status;

    int width = config->embed_layers > 0 ? config->embed_width : config->input_dim;
    hop_hopfield_pooling_config pc = hop_hopfield_pooling_config_default(width);
    pc.hopfield.num_heads = config->heads;
    pc.hopfield.hidden_size = config->head_dim;
    pc.hopfield.output_size = config->pool_output;
    pc.hopfield.scaling = config->beta > 0.0f ? config->beta : NAN;
    pc.hopfield.update_steps_max = config->update_steps;
    pc.hopfield.dropout = config->dropout;
    status = hop_hopfield_pooling_init(&model->pool, &pc, params, "pool", rng, err);
    if (status != HOP_OK)
        return status;

    hop_linear_config oc = hop_linear_config_default(model->pool.hopfield.output_width, 1);
    oc.weight_init = HOP_INIT_UNIFORM;
    oc.weight_init_arg = 1.0f / sqrtf((float)model->pool.hopfield.output_width);
    return hop_linear_init(&model->output, &oc, params, "output", rng, err);
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
