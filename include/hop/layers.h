/*
 * Layers: Linear, LayerNorm, Dropout, Embedding and the Hopfield family (core, pooling, lookup
 * layer, encoder block).
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
 * Hopfield association core (the reference package hflayers 1.0.2, module Hopfield).
 *
 * Per head h, with Q, K, P the projected state, stored and projected patterns split into
 * contiguous feature blocks: xi = sep(beta_h Q_h K_h^T) over the stored patterns, with sep
 * the separation function (softmax by default). Each update step sets the state to
 * beta_h xi K_h (in projected key space, not re-projected) and recomputes xi. A head stops when it
 * has taken update_steps_max steps, or after a step where the maximum over the batch of the
 * Frobenius norm of the change of xi is at most update_steps_eps. Both limits may be given per
 * head, and a stopped head keeps its last xi. The output is concat_h(xi_h P_h), then the output
 * projection and the association activation.
 */

/* Activation applied to the output of the association (the reference's association_activation). */
typedef enum hop_hopfield_activation {
    HOP_HOPFIELD_ACTIVATION_NONE,
    HOP_HOPFIELD_ACTIVATION_RELU,
    HOP_HOPFIELD_ACTIVATION_TANH,
    HOP_HOPFIELD_ACTIVATION_SIGMOID,
} hop_hopfield_activation;

/*
 * Separation function that turns association scores into the association matrix; the values
 * equal those of hop_separation (include/hop/graph.h). Sparsemax and 1.5-entmax give exact
 * zeros for far stored patterns.
 */
typedef enum hop_hopfield_separation {
    HOP_HOPFIELD_SEPARATION_SOFTMAX = HOP_SEPARATION_SOFTMAX,
    HOP_HOPFIELD_SEPARATION_SPARSEMAX = HOP_SEPARATION_SPARSEMAX,
    HOP_HOPFIELD_SEPARATION_ENTMAX15 = HOP_SEPARATION_ENTMAX15,
} hop_hopfield_separation;

/* Most heads a layer may have; it sizes the per-head beta and stopping tables. */
#define HOP_HOPFIELD_MAX_HEADS 1024

typedef struct hop_hopfield_config {
    int input_size;              /* E: width of the state patterns; required */
    int hidden_size;             /* per-head width of Q and K; 0 selects input_size / num_heads */
    int output_size;             /* width of the output projection; 0 selects input_size */
    int pattern_size;            /* per-head width of P; 0 selects hidden_size */
    int num_heads;               /* 1 to HOP_HOPFIELD_MAX_HEADS */
    int stored_pattern_size;     /* width of the stored patterns; 0 selects input_size */
    int pattern_projection_size; /* width of the pattern projection; 0 selects input_size */
    /*
     * beta. NAN (the default) selects 1 / sqrt(hidden_size), or 1 in static-only mode; any
     * finite value, 0 included, is used as given.
     */
    float scaling;
    /* NULL, or num_heads values of beta, one per head, copied by init; overrides scaling. */
    const float *head_scaling;
    /*
     * Learn one beta per head, stored as its logarithm "association_core.log_beta" so that
     * beta = exp(log_beta) stays positive; needs an initial beta > 0.
     */
    bool beta_trainable;
    int update_steps_max;   /* extra updates after the first separation; negative: unbounded */
    float update_steps_eps; /* stopping threshold, greater than 0 */
    /*
     * Per-head update_steps_max: 0 (the default) gives every head update_steps_max, num_heads
     * gives head h at most head_update_steps_max[h] updates, each >= 0 or -1 for unbounded.
     */
    int n_head_update_steps_max;
    int head_update_steps_max[HOP_HOPFIELD_MAX_HEADS];
    /* Per-head update_steps_eps: 0 or num_heads values, each greater than 0. */
    int n_head_update_steps_eps;
    float head_update_steps_eps[HOP_HOPFIELD_MAX_HEADS];
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
    /* Static sides skip their projection and are used as given, the same for every head. */
    bool stored_pattern_as_static;        /* stored patterns have hidden_size features */
    bool state_pattern_as_static;         /* state patterns have hidden_size features */
    bool pattern_projection_as_static;    /* projection has pattern_size features */
    bool pattern_projection_as_connected; /* P = (V Wk^T + bk) Wv^T + bv, Ramsauer et al.'s Y Wk Wv */
    hop_hopfield_activation association_activation;
    hop_hopfield_separation separation;
    bool input_bias;             /* biases on the Q, K, P projections and the output projection */
    bool concat_bias_pattern;    /* append a learned bias pattern to K and P (S + 1 columns) */
    bool add_zero_association;   /* append a zero pattern to K and P (one more column) */
    bool disable_out_projection; /* output width becomes num_heads * pattern_size */
    float dropout;               /* dropout probability on the final association matrix */
} hop_hopfield_config;

/* Returns the reference defaults: one head, default beta (NAN), no update steps, eps 1e-4,
 * all three input LayerNorms on with affine parameters and eps 1e-5, biases and output
 * projection on, softmax separation, everything else off. */
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
    hop_hopfield_config config; /* every default resolved; head_scaling is NULL here */
    bool static_only;           /* all sides static, no out projection, no parameters */
    int output_width;           /* output_size, or num_heads * pattern_size without out_proj */
    int stored_width;           /* expected width of the stored pattern input */
    int state_width;            /* expected width of the state pattern input */
    int projection_width;       /* expected width of the pattern projection input */
    float head_scaling[HOP_HOPFIELD_MAX_HEADS]; /* beta per head, or its initial value */
    bool packed;           /* one in_proj_weight instead of separate q/k/v weights */
    int in_proj_weight_id; /* rows [Wq; Wk; Wv] of the projected sides, or -1 */
    int q_proj_weight_id;  /* (num_heads * hidden_size, E), or -1 */
    int k_proj_weight_id;  /* (num_heads * hidden_size, stored width), or -1 */
    int v_proj_weight_id;  /* (num_heads * pattern_size, projection width), or -1 */
    int weight_rows[3];    /* first row of the q, k, v block in in_proj_weight, or -1 */
    int in_proj_bias_id;   /* [bq; bk; bv], or -1 without input_bias */
    int bias_offsets[3];   /* first entry of bq, bk, bv in in_proj_bias, or -1 */
    int bias_k_id;         /* (1, 1, num_heads * hidden_size), or -1 */
    int bias_v_id;         /* (1, 1, num_heads * pattern_size), or -1 */
    int beta_id;           /* "association_core.log_beta" (num_heads), or -1 */
    int p_norm_weight_id;  /* (hidden_size), or -1 */
    int p_norm_bias_id;    /* (hidden_size), or -1 */
    hop_linear out_proj;   /* unused with disable_out_projection */
    hop_layernorm_layer norm_stored_pattern;
    hop_layernorm_layer norm_state_pattern;
    hop_layernorm_layer norm_pattern_projection;
} hop_hopfield;

/*
 * Registers the parameters under prefix with the names, shapes and order of the reference's
 * named_parameters(): association_core.p_norm_weight/bias, association_core.in_proj_weight
 * (when the three input widths equal input_size, pattern_size was not given and the
 * projection is not connected; it contains only the projected sides) or
 * association_core.q/k/v_proj_weight, association_core.in_proj_bias, association_core.bias_k
 * and bias_v, association_core.log_beta (hop only), association_core.out_proj.weight/bias,
 * norm_stored_pattern.weight/bias, norm_state_pattern.weight/bias and
 * norm_pattern_projection.weight/bias, each only when enabled. Projection weights and bias
 * patterns are drawn from N(0, 0.02^2), biases are zero, LayerNorm weights one. The
 * configuration is checked before anything is registered.
 */
hop_status hop_hopfield_init(hop_hopfield *layer, const hop_hopfield_config *config,
                             hop_params *params, const char *prefix, hop_rng *rng, hop_error *err);

/* Returns beta of head h: exp(log_beta[h]) with beta_trainable, the fixed value otherwise. */
float hop_hopfield_beta(const hop_hopfield *layer, const hop_params *params, int head);

/* Optional result of a forward run, valid until the graph is reset. */
typedef struct hop_hopfield_info {
    hop_node *association; /* final separation before dropout, (B, num_heads, L, S') */
    hop_node *projected;   /* projected pattern matrix P, (B or 1, num_heads, S', pattern_size) */
    int num_heads;
    int *update_steps; /* per head: updates taken after the first softmax (graph memory) */
    /*
     * With energy recording on: energy[h] has (update_steps[h] + 1, B, L) values, the
     * energy of each state of head h, the initial one first; NULL otherwise. It is computed
     * in head h's key space: the state q and keys K after projection and Hopfield-space norm.
     */
    float **energy;
    int batch, queries; /* B and L of energy */
} hop_hopfield_info;

/* Copies the association matrix (B, num_heads, L, S') into out, which has room for count floats. */
hop_status hop_hopfield_info_association(const hop_hopfield_info *info, float *out, size_t count,
                                         hop_error *err);

/* Copies the energies of head h, (update_steps[h] + 1, B, L), into out (count floats). */
hop_status hop_hopfield_info_energy(const hop_hopfield_info *info, int head, float *out,
                                    size_t count, hop_error *err);

/*
 * Inputs of one association. S' is S plus one column for concat_bias_pattern and one for
 * add_zero_association; masks cover the S given stored patterns and never the extra columns.
 */
typedef struct hop_hopfield_inputs {
    hop_node *stored;     /* (B or 1, S, stored width) */
    hop_node *state;      /* (B or 1, L, state width) */
    hop_node *projection; /* (like stored, S, projection width) */
    /* NULL or (B, S); a nonzero entry removes that stored pattern. */
    hop_node *padding_mask;
    /*
     * NULL, or (L, S), (B, num_heads, L, S) or (B * num_heads, L, S) with index
     * b * num_heads + h. Boolean (association_mask_additive false): a nonzero entry blocks
     * that association. Additive: the entry is added to the scores beta q.k of every step,
     * and -inf blocks. A row with every stored pattern blocked gives an all-zero association.
     */
    hop_node *association_mask;
    bool association_mask_additive;
    bool record_energy; /* fill hop_hopfield_info.energy */
} hop_hopfield_inputs;

/* Runs the association of in and returns (B, L, output_width). info may be NULL. */
hop_node *hop_hopfield_forward_inputs(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                      const hop_hopfield_inputs *in, hop_hopfield_info *info);

/* Associates state with stored patterns and projection; mask is NULL or (B, S). */
hop_node *hop_hopfield_forward_patterns(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                        hop_node *stored, hop_node *state, hop_node *projection,
                                        hop_node *mask, hop_hopfield_info *info);

/* Self-association: x (B, S, E) is the stored patterns, state patterns and projection. */
hop_node *hop_hopfield_forward(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                               hop_node *x, hop_node *mask, hop_hopfield_info *info);

/*
 * Builds a 0/1 float mask leaf from integer or boolean data of element_size bytes
 * (1, 2, 4 or 8); nonzero elements become 1. Returns NULL with the message in the graph's
 * error for another element size.
 */
hop_node *hop_mask_from_integers(hop_graph *g, int ndim, const int *shape, const void *data,
                                 size_t element_size);

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
    int pooling_weights_id; /* "prefix.pooling_weights", (1, quantity, state width) */
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

/* Pools with every input of in; in->state is ignored and replaced by pooling_weights. */
hop_node *hop_hopfield_pooling_forward_inputs(hop_graph *g, hop_params *params,
                                              const hop_hopfield_pooling *layer,
                                              const hop_hopfield_inputs *in,
                                              hop_hopfield_info *info);

/*
 * HopfieldLayer: learned stored patterns (prototypes) that every state pattern is
 * associated with; optionally separate learned targets as the pattern projection.
 */

typedef struct hop_hopfield_layer_config {
    hop_hopfield_config hopfield;
    /*
     * Number of stored patterns. 1 is rejected unless concat_bias_pattern or
     * add_zero_association adds a column, because a softmax over one pattern is constant.
     */
    int quantity;
    bool trainable;                   /* false freezes lookup_weights */
    bool lookup_weights_as_separated; /* learn target_weights as the pattern projection */
    bool lookup_targets_as_trainable; /* false freezes target_weights */
} hop_hopfield_layer_config;

/* Returns hop_hopfield_config_default(input_size) with the given quantity, all trainable. */
hop_hopfield_layer_config hop_hopfield_layer_config_default(int input_size, int quantity);

typedef struct hop_hopfield_layer {
    int quantity;
    int lookup_weights_id; /* "prefix.lookup_weights", (1, quantity, stored width) */
    int target_weights_id; /* "prefix.target_weights", (1, quantity, projection width), or -1 */
    hop_hopfield hopfield; /* parameters under "prefix.hopfield" */
} hop_hopfield_layer;

/* Registers lookup_weights and target_weights, drawn from N(0, 0.02^2), then the core. */
hop_status hop_hopfield_layer_init(hop_hopfield_layer *layer,
                                   const hop_hopfield_layer_config *config, hop_params *params,
                                   const char *prefix, hop_rng *rng, hop_error *err);

/*
 * Sets the stored patterns to chosen training samples: lookup pattern i becomes row
 * indices[i] of samples (n_samples, stored width), for i < quantity. With separated targets,
 * targets (n_samples, projection width) fills target_weights the same way, or is NULL to
 * leave them unchanged.
 */
hop_status hop_hopfield_layer_set_patterns(const hop_hopfield_layer *layer, hop_params *params,
                                           const float *samples, const float *targets,
                                           int n_samples, const int *indices, hop_error *err);

/* Associates state patterns x (B, L, state width) with the learned patterns: (B, L, out). */
hop_node *hop_hopfield_layer_forward(hop_graph *g, hop_params *params,
                                     const hop_hopfield_layer *layer, hop_node *x, hop_node *mask,
                                     hop_hopfield_info *info);

/* As hop_hopfield_layer_forward with every input of in; stored and projection are ignored. */
hop_node *hop_hopfield_layer_forward_inputs(hop_graph *g, hop_params *params,
                                            const hop_hopfield_layer *layer,
                                            const hop_hopfield_inputs *in, hop_hopfield_info *info);

/*
 * Hopfield encoder block (the reference's HopfieldEncoderLayer): x = LN(x + drop(H(x))),
 * then x = LN(x + drop(W2 drop(act(W1 x)))), with H a Hopfield self-association whose
 * output width equals its input width.
 */

typedef struct hop_hopfield_encoder_config {
    hop_hopfield_config hopfield;
    int dim_feedforward;                /* width of W1; the reference default is 2048 */
    float dropout;                      /* on the association output, inside and after the FFN */
    hop_hopfield_activation activation; /* relu, tanh or sigmoid; not none */
} hop_hopfield_encoder_config;

/* Returns dim_feedforward 2048, dropout 0.1, relu, around hop_hopfield_config_default(). */
hop_hopfield_encoder_config hop_hopfield_encoder_config_default(int input_size);

typedef struct hop_hopfield_encoder {
    hop_hopfield hopfield;             /* "prefix.hopfield_association" */
    hop_linear linear_residual;        /* "prefix.linear_residual", E -> dim_feedforward */
    hop_linear linear_output;          /* "prefix.linear_output", dim_feedforward -> E */
    hop_layernorm_layer norm_residual; /* "prefix.norm_residual" */
    hop_layernorm_layer norm_output;   /* "prefix.norm_output" */
    float dropout;
    hop_hopfield_activation activation;
} hop_hopfield_encoder;

/*
 * Registers the parameters in the reference's order. The FFN weights and biases are drawn
 * from U(-1/sqrt(in), 1/sqrt(in)) like torch.nn.Linear's default.
 */
hop_status hop_hopfield_encoder_init(hop_hopfield_encoder *layer,
                                     const hop_hopfield_encoder_config *config, hop_params *params,
                                     const char *prefix, hop_rng *rng, hop_error *err);

/* Encodes x (B, S, E); padding_mask and association_mask are as in hop_hopfield_inputs. */
hop_node *hop_hopfield_encoder_forward(hop_graph *g, hop_params *params,
                                       const hop_hopfield_encoder *layer, hop_node *x,
                                       hop_node *padding_mask, hop_node *association_mask,
                                       bool association_mask_additive, hop_hopfield_info *info);

/*
 * Embedding: a (num_embeddings, embedding_dim) table of rows looked up by integer index, as
 * torch.nn.Embedding. The padding row gets no gradient; init sets it to zero, as PyTorch does.
 */

typedef struct hop_embedding_config {
    int num_embeddings; /* vocabulary size V, 1 to 2^24 */
    int embedding_dim;  /* row width D */
    int padding_idx;    /* row without gradient, or -1 for none */
    float init_std;     /* rows drawn from N(0, init_std^2); torch uses 1 */
} hop_embedding_config;

/* Returns a configuration without padding row and init_std 1. */
hop_embedding_config hop_embedding_config_default(int num_embeddings, int embedding_dim);

typedef struct hop_embedding_layer {
    int num_embeddings;
    int embedding_dim;
    int padding_idx;
    int weight_id; /* "prefix.weight", shape (num_embeddings, embedding_dim) */
} hop_embedding_layer;

hop_status hop_embedding_layer_init(hop_embedding_layer *layer, const hop_embedding_config *config,
                                    hop_params *params, const char *prefix, hop_rng *rng,
                                    hop_error *err);
/* Looks up indices of shape (ndim, shape), 1 to 3 axes, giving (..., embedding_dim). */
hop_node *hop_embedding_layer_forward(hop_graph *g, hop_params *params,
                                      const hop_embedding_layer *layer, const int *indices,
                                      int ndim, const int *shape);

#ifdef __cplusplus
}
#endif

#endif
