/*
 * Reverse-mode automatic differentiation.
 *
 * A hop_graph records the nodes of one computation, define-by-run: each op
 * constructor checks shapes, allocates its output from the graph's arena and
 * computes the forward value at once. hop_backward() then walks the nodes in
 * reverse creation order (a topological order) and adds every node's gradient
 * into the gradients of its inputs. hop_graph_reset() releases all graph memory
 * in one call, ready for the next training step.
 *
 *     hop_graph *g = hop_graph_new(&ctx);
 *     hop_node *x = hop_input(g, 2, (int[]){4, 3}, features);
 *     hop_node *w = hop_param(g, &params, weight_id);
 *     hop_node *loss = hop_mean_all(g, hop_relu(g, hop_matmul(g, x, w, 0, 1)));
 *     if (!loss) fprintf(stderr, "%s\n", ctx.error.message);
 *     hop_backward(g, loss);
 *
 * Error model: a constructor returns NULL on failure and writes the message into
 * ctx->error. Every constructor returns NULL when given a NULL input, leaving the
 * first message in place, so a chain of calls needs one check at its end.
 *
 * Parameters live outside the graph, in a hop_params store: a parameter node's
 * value and gradient point into the store's contiguous buffers, so backward
 * accumulates straight into hop_params.grads.
 */
#ifndef HOP_GRAPH_H
#define HOP_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "hop/base.h"
#include "hop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-run settings and state; no global mutable state exists in hop. */
typedef struct hop_ctx {
    hop_rng rng;     /* dropout masks and any other sampling during graph runs */
    int threads;     /* threads hop's own kernels may use (1 = serial) */
    hop_error error; /* the first error of the current graph */
} hop_ctx;

/* Initialises ctx with the seed, one thread and no error. */
void hop_ctx_init(hop_ctx *ctx, uint64_t seed);

typedef enum hop_op_id {
    HOP_OP_LEAF = 0, /* input, constant or parameter: no inputs, no forward */
    HOP_OP_MATMUL,
    HOP_OP_ADD,
    HOP_OP_SUB,
    HOP_OP_MUL,
    HOP_OP_DIV,
    HOP_OP_SCALE,
    HOP_OP_EXP,
    HOP_OP_LOG,
    HOP_OP_RELU,
    HOP_OP_SIGMOID,
    HOP_OP_TANH,
    HOP_OP_SUM,
    HOP_OP_MEAN,
    HOP_OP_MAX,
    HOP_OP_RESHAPE,
    HOP_OP_TRANSPOSE,
    HOP_OP_PERMUTE,
    HOP_OP_CONCAT,
    HOP_OP_SLICE,
    HOP_OP_SOFTMAX,
    HOP_OP_LOG_SOFTMAX,
    HOP_OP_LAYERNORM,
    HOP_OP_DROPOUT,
    HOP_OP_BCE_LOGITS,
    HOP_OP_SOFTMAX_XENT,
    /* Activations and the mean squared error (autograd/ops_activation.c, ops_nn.c). */
    HOP_OP_LEAKY_RELU,
    HOP_OP_ELU,
    HOP_OP_SELU,
    HOP_OP_GELU,
    HOP_OP_SOFTPLUS,
    HOP_OP_MSE,
    HOP_OP_EMBEDDING, /* autograd/ops_embedding.c */
    HOP_OP_SPARSEMAX, /* autograd/ops_sparse.c */
    HOP_OP_ENTMAX15,
    HOP_OP_COUNT
} hop_op_id;

#define HOP_NODE_REQUIRES_GRAD 0x1u /* a gradient is needed for this node */
#define HOP_NODE_PARAM         0x2u /* value and gradient belong to a hop_params store */

typedef struct hop_node hop_node;
struct hop_node {
    hop_tensor value; /* shape and forward value */
    float *grad;      /* same shape as value; NULL when no gradient is needed */
    hop_op_id op;
    unsigned flags;
    int n_inputs;
    hop_node **inputs;
    int iargs[8];   /* op arguments: axes, flags, ranges */
    float fargs[4]; /* op arguments: scale, epsilon, probability */
    void *saved;    /* op-specific data kept from forward for backward */
};

typedef struct hop_graph hop_graph;

hop_graph *hop_graph_new(hop_ctx *ctx);
void hop_graph_free(hop_graph *g);
/* Releases every node and all graph memory, keeping the arena for the next step. */
void hop_graph_reset(hop_graph *g);
hop_ctx *hop_graph_ctx(hop_graph *g);
/* Training mode turns dropout on; it is on for a new graph. */
void hop_graph_set_training(hop_graph *g, bool training);
bool hop_graph_training(const hop_graph *g);
/* With gradients off no node requires a gradient, for inference. */
void hop_graph_set_grad_enabled(hop_graph *g, bool enabled);
/* Bytes taken from the arena since the last reset. */
size_t hop_graph_bytes_used(const hop_graph *g);
/* Bytes the arena holds in its blocks, used or not; a reset keeps them for the next step. */
size_t hop_graph_bytes_reserved(const hop_graph *g);
/* Allocates size zeroed bytes from the graph arena (16-byte aligned), NULL on failure. */
void *hop_graph_alloc(hop_graph *g, size_t size);

/* Runs backward from a node with one element, seeding its gradient with 1. */
hop_status hop_backward(hop_graph *g, hop_node *loss);

/* Leaves. hop_input references data without copying; it must outlive the graph step. */
hop_node *hop_input(hop_graph *g, int ndim, const int *shape, float *data);
/* A leaf whose gradient is kept (for gradient checks and input gradients). */
hop_node *hop_input_grad(hop_graph *g, int ndim, const int *shape, float *data);
/* A leaf holding a copy of data (zeros when data is NULL). */
hop_node *hop_constant(hop_graph *g, int ndim, const int *shape, const float *data);

struct hop_params;
/* The parameter id of a store as a node; frozen parameters get no gradient. */
hop_node *hop_param(hop_graph *g, struct hop_params *params, int id);

/*
 * Ops. Broadcasting in the binary ops follows NumPy: shapes are aligned at the
 * last axis, and each pair of extents must be equal or one of them 1.
 */

/* C = op(A) op(B), batched over leading axes; B may have fewer or size-1 batch axes. */
hop_node *hop_matmul(hop_graph *g, hop_node *a, hop_node *b, int transpose_a, int transpose_b);
hop_node *hop_add(hop_graph *g, hop_node *a, hop_node *b); /* a + b */
hop_node *hop_sub(hop_graph *g, hop_node *a, hop_node *b); /* a - b */
hop_node *hop_mul(hop_graph *g, hop_node *a, hop_node *b); /* a * b, elementwise */
hop_node *hop_div(hop_graph *g, hop_node *a, hop_node *b); /* a / b, elementwise */
hop_node *hop_scale(hop_graph *g, hop_node *a, float s);   /* s * a */
hop_node *hop_exp(hop_graph *g, hop_node *a);
hop_node *hop_log(hop_graph *g, hop_node *a);
hop_node *hop_relu(hop_graph *g, hop_node *a);    /* max(a, 0) */
hop_node *hop_sigmoid(hop_graph *g, hop_node *a); /* 1 / (1 + exp(-a)) */
hop_node *hop_tanh(hop_graph *g, hop_node *a);

/* Reductions over one axis (negative counts from the end); keepdim keeps it as size 1. */
hop_node *hop_sum(hop_graph *g, hop_node *a, int axis, int keepdim);
hop_node *hop_mean(hop_graph *g, hop_node *a, int axis, int keepdim);
/* Maximum over an axis; the gradient goes to the first maximal element. */
hop_node *hop_max(hop_graph *g, hop_node *a, int axis, int keepdim);
/* Mean over all elements, shape (1). */
hop_node *hop_mean_all(hop_graph *g, hop_node *a);

/* Same data, new shape with the same element count; one extent may be -1. */
hop_node *hop_reshape(hop_graph *g, hop_node *a, int ndim, const int *shape);
/* Swaps the last two axes. */
hop_node *hop_transpose(hop_graph *g, hop_node *a);
/* Output axis i is input axis perm[i]. */
hop_node *hop_permute(hop_graph *g, hop_node *a, const int *perm);
/* Joins n nodes along axis; all other extents must agree. */
hop_node *hop_concat(hop_graph *g, hop_node **parts, int n, int axis);
/* Elements [start, end) of one axis. */
hop_node *hop_slice(hop_graph *g, hop_node *a, int axis, int start, int end);

/*
 * softmax over the last axis. mask may be NULL; otherwise it is broadcast to a's
 * shape and a nonzero entry removes that element from the softmax. A row with every
 * element masked gives all zeros (and zero gradient) instead of NaN.
 */
hop_node *hop_softmax(hop_graph *g, hop_node *a, hop_node *mask);
/* log(softmax(a)); masked elements get -INFINITY and fully masked rows are all 0. */
hop_node *hop_log_softmax(hop_graph *g, hop_node *a, hop_node *mask);
/* (a - mean) / sqrt(var + eps) * gamma + beta over the last axis; gamma, beta may be NULL. */
hop_node *hop_layernorm(hop_graph *g, hop_node *a, hop_node *gamma, hop_node *beta, float eps);
/* Inverted dropout with probability p in training mode; identity otherwise. */
hop_node *hop_dropout(hop_graph *g, hop_node *a, float p);

/* Mean binary cross-entropy of logits against targets in [0, 1], same shapes. */
hop_node *hop_bce_logits(hop_graph *g, hop_node *logits, hop_node *targets);
/* Mean softmax cross-entropy of logits (N, C) against class indices labels[N]. */
hop_node *hop_softmax_xent(hop_graph *g, hop_node *logits, const int *labels);

/* Name of an op, such as "matmul". */
const char *hop_op_name(hop_op_id op);

/*
 * Activations, the weighted losses and the inference mode. Activations follow
 * torch.nn.functional: leaky_relu is x for x > 0, else negative_slope x; elu is x for x > 0,
 * else alpha (exp(x) - 1); selu is 1.0507 elu(x, 1.6733); gelu is the exact x Phi(x); softplus
 * is log(1 + exp(beta x)) / beta, and x where beta x > threshold (torch: beta 1, threshold 20).
 */
hop_node *hop_leaky_relu(hop_graph *g, hop_node *a, float negative_slope);
hop_node *hop_elu(hop_graph *g, hop_node *a, float alpha);
hop_node *hop_selu(hop_graph *g, hop_node *a);
hop_node *hop_gelu(hop_graph *g, hop_node *a);
hop_node *hop_softplus(hop_graph *g, hop_node *a, float beta, float threshold);

/*
 * hop_bce_logits with pos_weight (C), C the extent of the logits' last axis, as
 * torch.nn.BCEWithLogitsLoss: the mean of -[p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].
 * A NULL pos_weight gives hop_bce_logits.
 */
hop_node *hop_bce_logits_weighted(hop_graph *g, hop_node *logits, hop_node *targets,
                                  const float *pos_weight);
/*
 * hop_softmax_xent with optional class weights (C) and label smoothing in [0, 1], as
 * torch.nn.CrossEntropyLoss(weight, label_smoothing) with mean reduction: the weighted sum of
 * the row losses is divided by the sum of the weights of the rows' labels.
 */
hop_node *hop_softmax_xent_ex(hop_graph *g, hop_node *logits, const int *labels,
                              const float *class_weights, float label_smoothing);
/* Mean squared error of two nodes of the same shape, shape (1). */
hop_node *hop_mse(hop_graph *g, hop_node *prediction, hop_node *target);

/*
 * Number of nodes recorded for backward since the last reset. With gradients off
 * (hop_graph_set_grad_enabled) ops still run and take memory from the arena, but no node
 * is recorded, so inference builds no autodiff graph and hop_backward has nothing to walk.
 */
int hop_graph_node_count(const hop_graph *g);

/*
 * Embedding lookup: row indices[i] of weight (V, D) for each of the indices, which have
 * shape (ndim, shape), giving shape (..., D). Every index must be in [0, V). Backward adds
 * each output row's gradient into its weight row, except rows equal to padding_idx, which
 * get no gradient; padding_idx -1 turns that off. The indices are copied into the graph.
 */
hop_node *hop_embedding(hop_graph *g, hop_node *weight, const int *indices, int ndim,
                        const int *shape, int padding_idx);

/*
 * Sparse separation functions over the last axis, with an optional mask as in hop_softmax
 * (a nonzero entry removes the element; a fully masked row gives zeros and zero gradient).
 * sparsemax (Martins and Astudillo 2016) is the Euclidean projection onto the simplex;
 * 1.5-entmax (Peters et al. 2019) is max(z / 2 - tau, 0)^2 with tau making the row sum to 1.
 * Both give exact zeros, unlike softmax. hop_separate selects one of the three by kind.
 */
typedef enum hop_separation {
    HOP_SEPARATION_SOFTMAX,
    HOP_SEPARATION_SPARSEMAX,
    HOP_SEPARATION_ENTMAX15,
    HOP_SEPARATION_COUNT
} hop_separation;

hop_node *hop_sparsemax(hop_graph *g, hop_node *a, hop_node *mask);
hop_node *hop_entmax15(hop_graph *g, hop_node *a, hop_node *mask);
hop_node *hop_separate(hop_graph *g, hop_separation kind, hop_node *a, hop_node *mask);

#ifdef __cplusplus
}
#endif

#endif
