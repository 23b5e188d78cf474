/* Embedding layer: a table of rows looked up by integer index. */
#include <math.h>
#include <string.h>

#include "hop/layers.h"

#define EMBEDDING_MAX_ROWS (1 << 24)

hop_embedding_config hop_embedding_config_default(int num_embeddings, int embedding_dim)
{
    hop_embedding_config config = {
        .num_embeddings = num_embeddings,
        .embedding_dim = embedding_dim,
        .padding_idx = -1,
        .init_std = 1.0f,
    };
    return config;
}

static hop_status check_config(const hop_embedding_config *c, const char *prefix, hop_error *err)
{
    const char *p = prefix ? prefix : "";
    if (c->num_embeddings < 1 || c->num_embeddings > EMBEDDING_MAX_ROWS)
        return hop_error_set(err, HOP_ERR_ARG, "embedding '%s': num_embeddings %d; use 1 to %d", p,
                             c->num_embeddings, EMBEDDING_MAX_ROWS);
    if (c->embedding_dim < 1)
        return hop_error_set(err, HOP_ERR_ARG, "embedding '%s': embedding_dim %d must be positive",
                             p, c->embedding_dim);
    if (c->padding_idx < -1 || c->padding_idx >= c->num_embeddings)
        return hop_error_set(err, HOP_ERR_ARG,
                             "embedding '%s': padding_idx %d is outside [0, %d); use -1 for none",
                             p, c->padding_idx, c->num_embeddings);
    if (!(c->init_std >= 0.0f) || !isfinite(c->init_std))
        return hop_error_set(err, HOP_ERR_ARG, "embedding '%s': init_std %g must be >= 0", p,
                             c->init_std);
    return HOP_OK;
}

hop_status hop_embedding_layer_init(hop_embedding_layer *layer, const hop_embedding_config *config,
                                    hop_params *params, const char *prefix, hop_rng *rng,
                                    hop_error *err)
{
    hop_status status = check_config(config, prefix, err);
    if (status != HOP_OK)
        return status;
    int shape[2] = {config->num_embeddings, config->embedding_dim};
    status = hop_layer_param_add(params, prefix, "weight", 2, shape, HOP_INIT_NORMAL,
                                 config->init_std, rng, &layer->weight_id, err);
    if (status != HOP_OK)
        return status;

    layer->num_embeddings = config->num_embeddings;
    layer->embedding_dim = config->embedding_dim;
    layer->padding_idx = config->padding_idx;
    if (config->padding_idx >= 0) {
        hop_tensor w = hop_params_value(params, layer->weight_id);
        memset(w.data + (size_t)config->padding_idx * (size_t)config->embedding_dim, 0,
               (size_t)config->embedding_dim * sizeof(float));
    }
    return HOP_OK;
}

hop_node *hop_embedding_layer_forward(hop_graph *g, hop_params *params,
                                      const hop_embedding_layer *layer, const int *indices,
                                      int ndim, const int *shape)
{
    hop_node *weight = hop_param(g, params, layer->weight_id);
    return hop_embedding(g, weight, indices, ndim, shape, layer->padding_idx);
}
