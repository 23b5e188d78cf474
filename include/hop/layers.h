/*
 * Layers: Linear, LayerNorm, Dropout, the Hopfield association core and HopfieldPooling.
 *
 * Layers are graph builders. An init function checks a configuration and registers the
 * layer's parameters in a hop_params store under a caller-given name prefix, so prefix "pool"
 * gives "pool.hopfield.association_core.in_proj_weight". The layer keeps only integer
 * parameter ids. A forward function adds the layer's ops to a graph and returns the output
 * node, or NULL with the message in the graph's hop_ctx error. Gradients come from the ops.
 *
 * Tensor layouts are batch-first and row-major: stored patterns Y (B, S, stored width),
 * state patterns R (B, L, input_size), pattern projection V (B, S, projection width).
 * Weights act as x W^T + b with W of shape (out, in), as in PyTorch.
 */
#ifndef HOP_LAYERS_H
#define HOP_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#include "hop/base.h"
#include "hop/graph.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes "prefix.name" into buf, or name alone when prefix is NULL or empty.
 * Fails with HOP_ERR_ARG when the result does not fit into size bytes.
 */
hop_status hop_layer_param_name(char *buf, size_t size, const char *prefix, const char *name,
                                hop_error *err);

/* Registers the parameter "prefix.name" in params; see hop_params_add(). */
hop_status hop_layer_param_add(hop_params *params, const char *prefix, const char *name, int ndim,
                               const int *shape, hop_init init, float arg, hop_rng *rng, int *id,
                               hop_error *err);

/* Linear: y = x W^T + b over the last axis of x. */

typedef struct hop_linear_config {
    int in_features;
    int out_features;
    bool bias;             /* register "bias" (initialised to zero) */
    hop_init weight_init;  /* initialisation of "weight" */
    float weight_init_arg; /* standard deviation or uniform bound of weight_init */
} hop_linear_config;

/* Returns a configuration with a bias and weights drawn from N(0, 0.02^2). */
hop_linear_config hop_linear_config_default(int in_features, int out_features);

typedef struct hop_linear {
    int in_features;
    int out_features;
    int weight_id; /* "prefix.weight", shape (out_features, in_features) */
    int bias_id;   /* "prefix.bias", shape (out_features); -1 without bias */
} hop_linear;

hop_status hop_linear_init(hop_linear *layer, const hop_linear_config *config, hop_params *params,
                           const char *prefix, hop_rng *rng, hop_error *err);
/* x has 2 to 4 axes, the last of extent in_features; the output ends in out_features. */
hop_node *hop_linear_forward(hop_graph *g, hop_params *params, const hop_linear *layer,
                             hop_node *x);

/* LayerNorm over the last axis, with biased variance, as torch.nn.LayerNorm. */

typedef struct hop_layernorm_config {
    int features;
    bool affine; /* register "weight" (ones) and "bias" (zeros) */
    float eps;   /* added to the variance; finite and greater than 0 */
} hop_layernorm_config;

/* Returns an affine configuration with eps 1e-5. */
hop_layernorm_config hop_layernorm_config_default(int features);

typedef struct hop_layernorm_layer {
    int features;
    float eps;
    int weight_id; /* "prefix.weight", shape (features); -1 when not affine */
    int bias_id;   /* "prefix.bias", shape (features); -1 when not affine */
} hop_layernorm_layer;

hop_status hop_layernorm_layer_init(hop_layernorm_layer *layer, const hop_layernorm_config *config,
                                    hop_params *params, const char *prefix, hop_error *err);
hop_node *hop_layernorm_layer_forward(hop_graph *g, hop_params *params,
                                      const hop_layernorm_layer *layer, hop_node *x);

/* Dropout: inverted dropout with probability p while the graph is in training mode. */

typedef struct hop_dropout_layer {
    float p;
} hop_dropout_layer;

/* Fails unless 0 <= p < 1. */
hop_status hop_dropout_layer_init(hop_dropout_layer *layer, float p, hop_error *err);
/* Returns x itself when p is 0; params is unused and may be NULL. */
hop_node *hop_dropout_layer_forward(hop_graph *g, hop_params *params,
                                    const hop_dropout_layer *layer, hop_node *x);

/*
 * Hopfield association core (the reference package hflayers' Hopfield module).
 *
 * Per head h, with Q, K, P the projected state, stored and projected patterns split into
 * contiguous feature blocks: xi = softmax(beta Q_h K_h^T) over the stored patterns. Each
 * update step sets the state to beta xi K_h (in projected key space, not re-projected) and
 * recomputes xi. A head stops when it has taken update_steps_max steps, or after a step
 * where the maximum over the batch of the Frobenius norm of the change of xi is at most
 * update_steps_eps. The output is concat_h(xi_h P_h) followed by the output projection.
 */

typedef struct hop_hopfield_config {
    int input_size;              /* E: width of the state patterns; required */
    int hidden_size;             /* per-head width of Q and K; 0 selects input_size / num_heads */
    int output_size;             /* width of the output projection; 0 selects input_size */
    int pattern_size;            /* per-head width of P; 0 selects hidden_size */
    int num_heads;               /* at least 1 */
    int stored_pattern_size;     /* width of the stored patterns; 0 selects input_size */
    int pattern_projection_size; /* width of the pattern projection; 0 selects input_size */
    float scaling;               /* beta; 0 selects 1 / sqrt(hidden_size) */
    int update_steps_max;        /* extra updates after the first softmax; negative: unbounded */
    float update_steps_eps;      /* stopping threshold, greater than 0 */
    bool normalize_stored_pattern;
    bool normalize_stored_pattern_affine;
    float normalize_stored_pattern_eps;
    bool normalize_state_pattern;
    bool normalize_state_pattern_affine;
    float normalize_state_pattern_eps;
    bool normalize_pattern_projection;
    bool normalize_pattern_projection_affine;
    float normalize_pattern_projection_eps;
    bool normalize_hopfield_space; /* LayerNorm of each head's Q and K over hidden_size */
    bool normalize_hopfield_space_affine;
    float normalize_hopfield_space_eps;
    bool input_bias;             /* biases on the Q, K, P projections and the output projection */
    bool disable_out_projection; /* output width becomes num_heads * pattern_size */
    float dropout;               /* dropout probability on the final association matrix */
} hop_hopfield_config;

/* Returns the reference defaults: one head, no update steps, eps 1e-4, all three input
 * LayerNorms on with affine parameters and eps 1e-5, biases and output projection on. */
hop_hopfield_config hop_hopfield_config_default(int input_size);

/* Checks a configuration; the message names prefix, the option and the rejected value. */
hop_status hop_hopfield_config_check(const hop_hopfield_config *config, const char *prefix,
                                     hop_error *err);

/*
 * An unbounded update loop (update_steps_max < 0) stops after this many steps even when
 * the stopping test has not been met.
 */
#define HOP_HOPFIELD_UNBOUNDED_STEP_LIMIT 1000

typedef struct hop_hopfield {
    hop_hopfield_config config; /* with every 0 default resolved to its value */
    int output_width;           /* output_size, or num_heads * pattern_size without out_proj */
    bool packed;                /* one in_proj_weight instead of separate q/k/v weights */
    int in_proj_weight_id;      /* (2 hidden + pattern, E) rows [Wq; Wk; Wv], or -1 */
    int q_proj_weight_id;       /* (num_heads * hidden_size, E), or -1 */
    int k_proj_weight_id;       /* (num_heads * hidden_size, stored width), or -1 */
    int v_proj_weight_id;       /* (num_heads * pattern_size, projection width), or -1 */
    int in_proj_bias_id;        /* [bq; bk; bv], or -1 without input_bias */
    int p_norm_weight_id;       /* (hidden_size), or -1 */
    int p_norm_bias_id;         /* (hidden_size), or -1 */
    hop_linear out_proj;        /* unused with disable_out_projection */
    hop_layernorm_layer norm_stored_pattern;
    hop_layernorm_layer norm_state_pattern;
    hop_layernorm_layer norm_pattern_projection;
} hop_hopfield;

/*
 * Registers the parameters under prefix with the names, shapes and order of the reference's
 * named_parameters(): association_core.p_norm_weight/bias, association_core.in_proj_weight
 * (when the three input widths equal input_size and pattern_size was not given) or
 * association_core.q/k/v_proj_weight, association_core.in_proj_bias,
 * association_core.out_proj.weight/bias, norm_stored_pattern.weight/bias,
 * norm_state_pattern.weight/bias and norm_pattern_projection.weight/bias, each only when
 * enabled. Projection weights are drawn from N(0, 0.02^2), biases are zero, LayerNorm
 * weights one. The configuration is checked before anything is registered.
 */
hop_status hop_hopfield_init(hop_hopfield *layer, const hop_hopfield_config *config,
                             hop_params *params, const char *prefix, hop_rng *rng, hop_error *err);

/* Optional result of a forward run, valid until the graph is reset. */
typedef struct hop_hopfield_info {
    hop_node *association; /* final softmax before dropout, (B, num_heads, L, S) */
    int num_heads;
    int *update_steps; /* per head: updates taken after the first softmax (graph memory) */
} hop_hopfield_info;

/* Copies the association matrix (B, num_heads, L, S) into out, which holds count floats. */
hop_status hop_hopfield_info_association(const hop_hopfield_info *info, float *out, size_t count,
                                         hop_error *err);

/*
 * Associates state patterns (B or 1, L, E) with stored patterns (B, S, stored width) and
 * returns (B, L, output_width). mask is NULL or (B, S); a nonzero entry removes that stored
 * pattern, and a row with every pattern removed gives a zero association. info may be NULL.
 */
hop_node *hop_hopfield_forward_patterns(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                        hop_node *stored, hop_node *state, hop_node *projection,
                                        hop_node *mask, hop_hopfield_info *info);

/* Self-association: x (B, S, E) is the stored patterns, state patterns and projection. */
hop_node *hop_hopfield_forward(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                               hop_node *x, hop_node *mask, hop_hopfield_info *info);

/* HopfieldPooling: learned state patterns pool a bag of instances into fixed-size vectors. */

typedef struct hop_hopfield_pooling_config {
    hop_hopfield_config hopfield;
    int quantity;   /* number of learned state patterns, at least 1 */
    bool trainable; /* false freezes pooling_weights */
} hop_hopfield_pooling_config;

/* Returns hop_hopfield_config_default(input_size) with quantity 1, trainable. */
hop_hopfield_pooling_config hop_hopfield_pooling_config_default(int input_size);

typedef struct hop_hopfield_pooling {
    int quantity;
    int pooling_weights_id; /* "prefix.pooling_weights", (1, quantity, input_size) */
    hop_hopfield hopfield;  /* parameters under "prefix.hopfield" */
} hop_hopfield_pooling;

/* Registers pooling_weights, drawn from N(0, 0.02^2), then the core's parameters. */
hop_status hop_hopfield_pooling_init(hop_hopfield_pooling *layer,
                                     const hop_hopfield_pooling_config *config, hop_params *params,
                                     const char *prefix, hop_rng *rng, hop_error *err);

/*
 * Pools bags x (B, S, input_size), which serve as stored patterns and pattern projection,
 * into (B, quantity * output_width). mask and info are as in hop_hopfield_forward_patterns.
 */
hop_node *hop_hopfield_pooling_forward(hop_graph *g, hop_params *params,
                                       const hop_hopfield_pooling *layer, hop_node *x,
                                       hop_node *mask, hop_hopfield_info *info);

/* Pools with separate stored patterns (B, S, stored width) and projection (B, S, width). */
hop_node *hop_hopfield_pooling_forward_pair(hop_graph *g, hop_params *params,
                                            const hop_hopfield_pooling *layer, hop_node *stored,
                                            hop_node *projection, hop_node *mask,
                                            hop_hopfield_info *info);

#ifdef __cplusplus
}
#endif

#endif
