#include "internal.h"

static hop_status leaf_infer(hop_graph *g, hop_node *n)
{
    return HOP_OK;
}

static hop_status leaf_forward(hop_graph *g, hop_node *n)
{
    return HOP_OK;
}

static void leaf_backward(hop_graph *g, hop_node *n)
{
}

static const hop_op_def leaf_def = {"leaf", leaf_infer, leaf_forward, leaf_backward, 1};

/* Activation ops and the mean squared error. */
extern const hop_op_def hop_op_leaky_relu_def, hop_op_elu_def, hop_op_selu_def, hop_op_gelu_def;
extern const hop_op_def hop_op_softplus_def, hop_op_mse_def;
extern const hop_op_def hop_op_embedding_def;
extern const hop_op_def hop_op_sparsemax_def, hop_op_entmax15_def;

/* Indexed by hop_op_id; a missing entry is caught by the static assert below. */
const hop_op_def *const hop_op_table[HOP_OP_COUNT] = {
    [HOP_OP_LEAF] = &leaf_def,
    [HOP_OP_MATMUL] = &hop_op_matmul_def,
    [HOP_OP_ADD] = &hop_op_add_def,
    [HOP_OP_SUB] = &hop_op_sub_def,
    [HOP_OP_MUL] = &hop_op_mul_def,
    [HOP_OP_DIV] = &hop_op_div_def,
    [HOP_OP_SCALE] = &hop_op_scale_def,
    [HOP_OP_EXP] = &hop_op_exp_def,
    [HOP_OP_LOG] = &hop_op_log_def,
    [HOP_OP_RELU] = &hop_op_relu_def,
    [HOP_OP_SIGMOID] = &hop_op_sigmoid_def,
    [HOP_OP_TANH] = &hop_op_tanh_def,
    [HOP_OP_SUM] = &hop_op_sum_def,
    [HOP_OP_MEAN] = &hop_op_mean_def,
    [HOP_OP_MAX] = &hop_op_max_def,
    [HOP_OP_RESHAPE] = &hop_op_reshape_def,
    [HOP_OP_TRANSPOSE] = &hop_op_transpose_def,
    [HOP_OP_PERMUTE] = &hop_op_permute_def,
    [HOP_OP_CONCAT] = &hop_op_concat_def,
    [HOP_OP_SLICE] = &hop_op_slice_def,
    [HOP_OP_SOFTMAX] = &hop_op_softmax_def,
    [HOP_OP_LOG_SOFTMAX] = &hop_op_log_softmax_def,
    [HOP_OP_LAYERNORM] = &hop_op_layernorm_def,
    [HOP_OP_DROPOUT] = &hop_op_dropout_def,
    [HOP_OP_BCE_LOGITS] = &hop_op_bce_logits_def,
    [HOP_OP_SOFTMAX_XENT] = &hop_op_softmax_xent_def,
    [HOP_OP_LEAKY_RELU] = &hop_op_leaky_relu_def,
    [HOP_OP_ELU] = &hop_op_elu_def,
    [HOP_OP_SELU] = &hop_op_selu_def,
    [HOP_OP_GELU] = &hop_op_gelu_def,
    [HOP_OP_SOFTPLUS] = &hop_op_softplus_def,
    [HOP_OP_MSE] = &hop_op_mse_def,
    [HOP_OP_EMBEDDING] = &hop_op_embedding_def,
    [HOP_OP_SPARSEMAX] = &hop_op_sparsemax_def,
    [HOP_OP_ENTMAX15] = &hop_op_entmax15_def,
};

_Static_assert(HOP_OP_COUNT == 35, "add the new op to hop_op_table and update this count");
