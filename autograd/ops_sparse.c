/* sparsemax and 1.5-entmax over the last axis as autodiff ops; inputs[1] is the mask. */
#include <string.h>

#include "hop/memory.h"
#include "internal.h"

static hop_separation separation_of(const hop_node *n)
{
    return n->op == HOP_OP_SPARSEMAX ? HOP_SEPARATION_SPARSEMAX : HOP_SEPARATION_ENTMAX15;
}

static hop_status sparse_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    n->value = a->value;
    n->value.data = NULL;
    if (n->n_inputs < 2)
        return HOP_OK;

    const hop_node *mask = n->inputs[1];
    int pad = a->value.ndim - mask->value.ndim;
    int fits = pad >= 0;
    for (int i = 0; fits && i < mask->value.ndim; i++)
        fits = mask->value.shape[i] == 1 || mask->value.shape[i] == a->value.shape[i + pad];
    if (!fits) {
        char sm[64], sa[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "mask of shape %s does not broadcast to %s",
                           hop_node_shape(mask, sm, sizeof sm), hop_node_shape(a, sa, sizeof sa));
    }
    return HOP_OK;
}

/* a, out: (rows, d), separation over d; one row of scratch for the sort. */
static hop_status sparse_forward(hop_graph *g, hop_node *n)
{
    int d = n->value.shape[n->value.ndim - 1];
    size_t rows = hop_node_numel(n) / (size_t)d;
    float *work = hop_graph_alloc(g, (size_t)d * sizeof *work);
    if (!work)
        return hop_graph_ctx(g)->error.status;
    hop_mask_layout m = hop_mask_layout_of(n);

    for (size_t r = 0; r < rows; r++)
        hop_separation_row(separation_of(n), n->inputs[0]->value.data + r * d, hop_mask_row(&m, r),
                           m.strides[3], d, work, n->value.data + r * d);
    return HOP_OK;
}

/* Masked entries have output 0, so the Jacobian gives them no gradient; the mask gets none. */
static void sparse_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    int d = n->value.shape[n->value.ndim - 1];
    size_t rows = hop_node_numel(n) / (size_t)d;
    for (size_t r = 0; r < rows; r++)
        hop_separation_row_jvp(separation_of(n), n->value.data + r * d, n->grad + r * d, d,
                               a->grad + r * d);
}

const hop_op_def hop_op_sparsemax_def = {"sparsemax", sparse_infer, sparse_forward, sparse_backward,
                                         0};
const hop_op_def hop_op_entmax15_def = {"entmax15", sparse_infer, sparse_forward, sparse_backward,
                                        0};

static hop_node *sparse_build(hop_graph *g, hop_op_id op, hop_node *a, hop_node *mask)
{
    hop_node *inputs[2] = {a, mask};
    return hop_node_build(g, op, inputs, mask ? 2 : 1, NULL, 0, NULL, 0);
}

hop_node *hop_sparsemax(hop_graph *g, hop_node *a, hop_node *mask)
{
    return sparse_build(g, HOP_OP_SPARSEMAX, a, mask);
}

hop_node *hop_entmax15(hop_graph *g, hop_node *a, hop_node *mask)
{
    return sparse_build(g, HOP_OP_ENTMAX15, a, mask);
}

hop_node *hop_separate(hop_graph *g, hop_separation kind, hop_node *a, hop_node *mask)
{
    switch (kind) {
    case HOP_SEPARATION_SOFTMAX: return hop_softmax(g, a, mask);
    case HOP_SEPARATION_SPARSEMAX: return hop_sparsemax(g, a, mask);
    case HOP_SEPARATION_ENTMAX15: return hop_entmax15(g, a, mask);
    default: break;
    }
    if (a)
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG,
                      "separate: unknown separation %d; expected softmax, sparsemax or entmax15",
                      (int)kind);
    return NULL;
}
