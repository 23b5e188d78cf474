/* Dropout layer: a checked probability around the dropout op. */
#include "hop/layers.h"

hop_status hop_dropout_layer_init(hop_dropout_layer *layer, float p, hop_error *err)
{
    if (!(p >= 0.0f && p < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "dropout: probability %g is invalid; it must be in [0, 1)", (double)p);
    layer->p = p;
    return HOP_OK;
}

hop_node *hop_dropout_layer_forward(hop_graph *g, hop_params *params,
                                    const hop_dropout_layer *layer, hop_node *x)
{
    if (layer->p == 0.0f)
        return x;
    return hop_dropout(g, x, layer->p);
}
