/*
 * Modules: activations by kind and a Sequential container.
 *
 * A hop_sequential is an ordered list of entries (Linear, LayerNorm, Dropout or an
 * activation) that registers each entry's parameters as "<prefix>.<index>.<name>", the
 * index counting every entry as torch.nn.Sequential does: Linear, ReLU, Linear under
 * "encoder" gives "encoder.0.weight", "encoder.0.bias", "encoder.2.weight" and "encoder.2.bias".
 * The container keeps parameter ids only; the values live in the caller's hop_params.
 *
 *     hop_sequential mlp;
 *     hop_sequential_init(&mlp, "encoder", &err);
 *     hop_linear_config c1 = hop_linear_config_default(64, 32);
 *     hop_sequential_add_linear(&mlp, &params, &c1, &rng, &err);
 *     hop_sequential_add_activation(&mlp, HOP_ACT_RELU, 0.0f, 0.0f, &err);
 *     hop_node *y = hop_sequential_forward(g, &params, &mlp, x);
 */
#ifndef HOP_MODULE_H
#define HOP_MODULE_H

#include <stdbool.h>

#include "hop/graph.h"
#include "hop/layers.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hop_activation {
    HOP_ACT_RELU,
    HOP_ACT_LEAKY_RELU, /* arg0: negative slope (torch default 0.01) */
    HOP_ACT_ELU,        /* arg0: alpha (torch default 1) */
    HOP_ACT_SELU,
    HOP_ACT_GELU,
    HOP_ACT_TANH,
    HOP_ACT_SIGMOID,
    HOP_ACT_SOFTPLUS, /* arg0: beta, arg1: threshold (torch defaults 1 and 20) */
    HOP_ACT_COUNT
} hop_activation;

/* Name of an activation, such as "leaky_relu"; "unknown" outside the enum. */
const char *hop_activation_name(hop_activation kind);
/* Applies an activation with its arguments; NULL with the message in the graph's error. */
hop_node *hop_activation_apply(hop_graph *g, hop_activation kind, hop_node *x, float arg0,
                               float arg1);

typedef enum hop_module_kind {
    HOP_MODULE_LINEAR,
    HOP_MODULE_LAYERNORM,
    HOP_MODULE_DROPOUT,
    HOP_MODULE_ACTIVATION,
} hop_module_kind;

typedef struct hop_module_entry {
    hop_module_kind kind;
    union {
        hop_linear linear;
        hop_layernorm_layer layernorm;
        hop_dropout_layer dropout;
        hop_activation activation;
    } layer;
    float arg0, arg1; /* activation arguments */
} hop_module_entry;

typedef struct hop_sequential {
    char prefix[HOP_PARAM_NAME_MAX]; /* parameter name prefix, may be empty */
    hop_module_entry *entries;
    int count;
    int capacity;
    bool training; /* train mode: dropout entries are active; a new container is in train mode */
} hop_sequential;

/* Starts an empty container whose parameters are named under prefix (NULL or "" for none). */
hop_status hop_sequential_init(hop_sequential *seq, const char *prefix, hop_error *err);
void hop_sequential_free(hop_sequential *seq);

/* Appends a Linear layer, registering "<prefix>.<index>.weight" (and ".bias"). */
hop_status hop_sequential_add_linear(hop_sequential *seq, hop_params *params,
                                     const hop_linear_config *config, hop_rng *rng, hop_error *err);
/* Appends a LayerNorm layer, registering "<prefix>.<index>.weight" and ".bias" when affine. */
hop_status hop_sequential_add_layernorm(hop_sequential *seq, hop_params *params,
                                        const hop_layernorm_config *config, hop_error *err);
/* Appends dropout with probability p in [0, 1). */
hop_status hop_sequential_add_dropout(hop_sequential *seq, float p, hop_error *err);
/* Appends an activation; the arguments are checked when the forward pass builds the op. */
hop_status hop_sequential_add_activation(hop_sequential *seq, hop_activation kind, float arg0,
                                         float arg1, hop_error *err);

/*
 * Train or eval mode, as torch.nn.Module.train() and eval(). In eval mode dropout entries
 * pass their input through. In train mode dropout also needs the graph in training mode.
 */
void hop_sequential_set_training(hop_sequential *seq, bool training);

/* Runs the entries in order on x; NULL with the message in the graph's error. */
hop_node *hop_sequential_forward(hop_graph *g, hop_params *params, const hop_sequential *seq,
                                 hop_node *x);

/* Freezes or unfreezes every parameter of the container's entries, found by id. */
hop_status hop_sequential_set_frozen(const hop_sequential *seq, hop_params *params, bool frozen,
                                     hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
