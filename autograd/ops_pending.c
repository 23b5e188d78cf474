/* Temporary definitions for ops still being written; each one fails at build time. */
#include "internal.h"

static hop_status pending_infer(hop_graph *g, hop_node *n)
{
    return hop_op_fail(g, n, HOP_ERR_ARG, "not implemented yet");
}

static hop_status pending_forward(hop_graph *g, hop_node *n)
{
    return HOP_ERR_ARG;
}

static void pending_backward(hop_graph *g, hop_node *n)
{
}

#define PENDING(name) {name, pending_infer, pending_forward, pending_backward, 0}
const hop_op_def hop_op_sum_def = PENDING("sum");
const hop_op_def hop_op_mean_def = PENDING("mean");
const hop_op_def hop_op_max_def = PENDING("max");
const hop_op_def hop_op_reshape_def = PENDING("reshape");
const hop_op_def hop_op_transpose_def = PENDING("transpose");
const hop_op_def hop_op_permute_def = PENDING("permute");
const hop_op_def hop_op_concat_def = PENDING("concat");
const hop_op_def hop_op_slice_def = PENDING("slice");
const hop_op_def hop_op_softmax_def = PENDING("softmax");
const hop_op_def hop_op_log_softmax_def = PENDING("log_softmax");
const hop_op_def hop_op_layernorm_def = PENDING("layernorm");
const hop_op_def hop_op_dropout_def = PENDING("dropout");
const hop_op_def hop_op_bce_logits_def = PENDING("bce_logits");
const hop_op_def hop_op_softmax_xent_def = PENDING("softmax_xent");
