#include "mil_parts.h"

#include <math.h>
#include <stdio.h>

static hop_status linear_init(hop_linear *layer, int in, int out, const char *prefix,
                              hop_params *params, hop_rng *rng, hop_error *err)
{
    hop_linear_config lc = hop_linear_config_default(in, out);
    /* Kaiming-uniform bound as in torch.nn.Linear, so deep ReLU stacks keep their scale. */
    lc.weight_init = HOP_INIT_UNIFORM;
    lc.weight_init_arg = 1.0f / sqrtf((float)in);
    return hop_linear_init(layer, &lc, params, prefix, rng, err);
}

hop_status hop_mil_linear_stack_init(hop_linear *layers, int count, const char *name, int in_width,
                                     int width, hop_params *params, hop_rng *rng, hop_error *err)
{
    for (int i = 0; i < count; i++) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "%s.%d", name, i);
        hop_status status = linear_init(&layers[i], in_width, width, prefix, params, rng, err);
        if (status != HOP_OK)
            return status;
        in_width = width;
    }
    return HOP_OK;
}

hop_status hop_mil_head_init(hop_hopfield_pooling *pool, hop_linear *output,
                             const hop_mil_head_config *config, hop_params *params, hop_rng *rng,
                             hop_error *err)
{
    hop_hopfield_pooling_config pc = hop_hopfield_pooling_config_default(config->input_width);
    pc.hopfield.num_heads = config->heads;
    pc.hopfield.hidden_size = config->head_dim;
    pc.hopfield.output_size = config->pool_output;
    /* beta 0 selects the layer default 1/sqrt(head_dim), which the layer spells NAN. */
    pc.hopfield.scaling = config->beta > 0.0f ? config->beta : NAN;
    pc.hopfield.update_steps_max = config->update_steps;
    pc.hopfield.dropout = config->dropout;
    hop_status status = hop_hopfield_pooling_init(pool, &pc, params, "pool", rng, err);
    if (status != HOP_OK)
        return status;

    int pooled = pool->hopfield.output_width;
    return linear_init(output, pooled, 1, "output", params, rng, err);
}
