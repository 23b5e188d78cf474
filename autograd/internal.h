/* Internals shared by the autograd engine and the op implementations. */
#ifndef HOP_AUTOGRAD_INTERNAL_H
#define HOP_AUTOGRAD_INTERNAL_H

#include "hop/graph.h"

/*
 * One entry of the op table. infer checks the inputs and arguments of a node whose
 * inputs, iargs and fargs are set, and writes its output shape into n->value; on
 * failure it returns a status after writing a message with hop_op_fail(). forward
 * computes n->value.data (already allocated unless the op is a view) and may keep
 * data in n->saved. backward adds the contribution of n->grad into the grad of each
 * input whose grad is not NULL; it never assigns.
 */
typedef struct hop_op_def {
    const char *name;
    hop_status (*infer)(hop_graph *g, hop_node *n);
    hop_status (*forward)(hop_graph *g, hop_node *n);
    void (*backward)(hop_graph *g, hop_node *n);
    int is_view; /* forward points value.data at an input's data instead of writing */
} hop_op_def;

extern const hop_op_def *const hop_op_table[HOP_OP_COUNT];

/* Per-family definitions, referenced by the table in optable.c. */
extern const hop_op_def hop_op_matmul_def;
extern const hop_op_def hop_op_add_def, hop_op_sub_def, hop_op_mul_def, hop_op_div_def;
extern const hop_op_def hop_op_scale_def, hop_op_exp_def, hop_op_log_def;
extern const hop_op_def hop_op_relu_def, hop_op_sigmoid_def, hop_op_tanh_def;
extern const hop_op_def hop_op_sum_def, hop_op_mean_def, hop_op_max_def;
extern const hop_op_def hop_op_reshape_def, hop_op_transpose_def, hop_op_permute_def;
extern const hop_op_def hop_op_concat_def, hop_op_slice_def;
extern const hop_op_def hop_op_softmax_def, hop_op_log_softmax_def, hop_op_layernorm_def;
extern const hop_op_def hop_op_dropout_def, hop_op_bce_logits_def, hop_op_softmax_xent_def;

/*
 * Builds a node: returns NULL when an input is NULL or infer fails, else allocates
 * the output, runs forward and appends the node to the graph.
 */
hop_node *hop_node_build(hop_graph *g, hop_op_id op, hop_node **inputs, int n_inputs,
                         const int *iargs, int n_iargs, const float *fargs, int n_fargs);

/* Writes "op: message" into the graph's error and returns status. */
hop_status hop_op_fail(hop_graph *g, const hop_node *n, hop_status status, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats a node's shape for messages into buf. */
const char *hop_node_shape(const hop_node *n, char *buf, size_t size);

/* Number of elements of a node's value. */
static inline size_t hop_node_numel(const hop_node *n)
{
    return hop_tensor_numel(&n->value);
}

/* Resolves a possibly negative axis against ndim; returns -1 when out of range. */
static inline int hop_axis_resolve(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

/* Product of shape[from..to). */
static inline size_t hop_extent_product(const int *shape, int from, int to)
{
    size_t p = 1;
    for (int i = from; i < to; i++)
        p *= (size_t)shape[i];
    return p;
}

/*
 * Layout of the optional mask (input 1) of a softmax-family node, broadcast to the node's
 * shape padded to 4 axes. The mask applies along the last axis, row by row.
 */
typedef struct hop_mask_layout {
    const float *data; /* NULL without a mask */
    int shape[4];      /* padded output extents */
    size_t strides[4]; /* 0 on broadcast axes */
} hop_mask_layout;

hop_mask_layout hop_mask_layout_of(const hop_node *n);
/* The mask entries of one output row, NULL when there is no mask. */
const float *hop_mask_row(const hop_mask_layout *m, size_t row);

#endif
