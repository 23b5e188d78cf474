/*
 * embedding: inputs are the weight (V, D) and a constant holding the row indices as floats,
 * which hop_embedding has range-checked. iargs[0] is the padding index or -1.
 */
#include <string.h>

#include "internal.h"

#define EMBEDDING_MAX_ROWS (1 << 24) /* every row index is exact as a float */

static hop_status embedding_infer(hop_graph *g, hop_node *n)
{
    const hop_node *w = n->inputs[0], *idx = n->inputs[1];
    char sw[64];
    if (w->value.ndim != 2)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "weight must have shape (V, D), got %s",
                           hop_node_shape(w, sw, sizeof sw));
    if (idx->value.ndim + 1 > HOP_MAX_DIMS)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "indices have %d axes, at most %d allowed",
                           idx->value.ndim, HOP_MAX_DIMS - 1);
    n->value.ndim = idx->value.ndim + 1;
    memcpy(n->value.shape, idx->value.shape, (size_t)idx->value.ndim * sizeof(int));
    n->value.shape[idx->value.ndim] = w->value.shape[1];
    return HOP_OK;
}

static hop_status embedding_forward(hop_graph *g, hop_node *n)
{
    const hop_node *w = n->inputs[0], *idx = n->inputs[1];
    size_t count = hop_node_numel(idx), dim = (size_t)w->value.shape[1];
    for (size_t i = 0; i < count; i++)
        memcpy(n->value.data + i * dim, w->value.data + (size_t)idx->value.data[i] * dim,
               dim * sizeof(float));
    return HOP_OK;
}

static void embedding_backward(hop_graph *g, hop_node *n)
{
    hop_node *w = n->inputs[0];
    const hop_node *idx = n->inputs[1];
    if (!w->grad)
        return;
    size_t count = hop_node_numel(idx), dim = (size_t)w->value.shape[1];
    int padding = n->iargs[0];
    for (size_t i = 0; i < count; i++) {
        int row = (int)idx->value.data[i];
        if (row == padding)
            continue;
        float *dst = w->grad + (size_t)row * dim;
        const float *src = n->grad + i * dim;
        for (size_t d = 0; d < dim; d++)
            dst[d] += src[d];
    }
}

const hop_op_def hop_op_embedding_def = {"embedding", embedding_infer, embedding_forward,
                                         embedding_backward, 0};

static hop_status check_indices(hop_error *err, const int *indices, size_t count, int rows,
                                int padding_idx)
{
    if (rows > EMBEDDING_MAX_ROWS)
        return hop_error_set(err, HOP_ERR_SHAPE, "embedding: %d rows, at most %d supported", rows,
                             EMBEDDING_MAX_ROWS);
    if (padding_idx < -1 || padding_idx >= rows)
        return hop_error_set(err, HOP_ERR_ARG,
                             "embedding: padding index %d is outside [0, %d); use -1 for none",
                             padding_idx, rows);
    for (size_t i = 0; i < count; i++)
        if (indices[i] < 0 || indices[i] >= rows)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "embedding: index %d at position %zu is outside [0, %d)",
                                 indices[i], i, rows);
    return HOP_OK;
}

hop_node *hop_embedding(hop_graph *g, hop_node *weight, const int *indices, int ndim,
                        const int *shape, int padding_idx)
{
    if (!weight)
        return NULL;
    hop_error *err = &hop_graph_ctx(g)->error;
    if (!indices || !shape || ndim < 1 || ndim >= HOP_MAX_DIMS) {
        hop_error_set(err, HOP_ERR_ARG, "embedding: indices need 1 to %d axes and a shape",
                      HOP_MAX_DIMS - 1);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) {
            hop_error_set(err, HOP_ERR_SHAPE, "embedding: index extent %d on axis %d", shape[i], i);
            return NULL;
        }
        count *= (size_t)shape[i];
    }
    int rows = weight->value.ndim == 2 ? weight->value.shape[0] : 0;
    if (rows && check_indices(err, indices, count, rows, padding_idx) != HOP_OK)
        return NULL;

    hop_node *index_node = hop_constant(g, ndim, shape, NULL);
    if (!index_node)
        return NULL;
    for (size_t i = 0; i < count; i++)
        index_node->value.data[i] = (float)indices[i];
    hop_node *inputs[2] = {weight, index_node};
    return hop_node_build(g, HOP_OP_EMBEDDING, inputs, 2, &padding_idx, 1, NULL, 0);
}
