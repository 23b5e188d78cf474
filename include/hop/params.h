/*
 * Parameter store.
 *
 * Every trainable tensor of a model lives in one hop_params: all values in one
 * contiguous float buffer and all gradients in a second one of the same layout, so
 * optimisers, clipping, zeroing, checkpoints and a future allreduce are single loops.
 * Layers keep the integer id that hop_params_add() returns and look their tensors up
 * through it, because the buffers move when the store grows.
 */
#ifndef HOP_PARAMS_H
#define HOP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "hop/base.h"
#include "hop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_PARAM_NAME_MAX 128

/*
 * Initialisers. The fan-based ones compute fan_in = shape[1] * r and fan_out = shape[0] * r,
 * with r the product of shape[2..], as torch.nn.init does, so they need at least 2 axes.
 */
typedef enum hop_init {
    HOP_INIT_ZEROS,
    HOP_INIT_ONES,
    HOP_INIT_NORMAL,         /* N(0, arg^2) */
    HOP_INIT_UNIFORM,        /* U(-arg, arg) */
    HOP_INIT_XAVIER_UNIFORM, /* U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)), gain arg or 1 */
    HOP_INIT_XAVIER_NORMAL,  /* N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)), gain arg or 1 */
    /* Kaiming (He) in fan_in mode with gain sqrt(2 / (1 + a^2)) for leaky ReLU slope a = arg,
     * so arg 0 gives the ReLU gain sqrt(2). */
    HOP_INIT_KAIMING_UNIFORM, /* U(-b, b), b = gain sqrt(3 / fan_in) */
    HOP_INIT_KAIMING_NORMAL,  /* N(0, s^2), s = gain / sqrt(fan_in) */
    /* N(0, 1 / fan_in) for SELU networks, as torch.nn.init.kaiming_normal_ with the 'linear'
     * nonlinearity (not truncated, unlike Keras' lecun_normal); arg is unused. */
    HOP_INIT_LECUN_NORMAL,
} hop_init;

typedef struct hop_param_info {
    char name[HOP_PARAM_NAME_MAX]; /* hierarchical, such as "pool.hopfield.in_proj_weight" */
    int ndim;
    int shape[HOP_MAX_DIMS];
    size_t offset; /* index of the first element in values and grads */
    size_t numel;
    bool frozen; /* no gradient is computed or applied */
} hop_param_info;

typedef struct hop_params {
    hop_param_info *info;
    int count;
    int capacity;
    float *values;
    float *grads;
    size_t total;     /* elements in use */
    size_t allocated; /* elements allocated */
} hop_params;

void hop_params_init(hop_params *params);
void hop_params_free(hop_params *params);

/*
 * Adds a parameter named name with the given shape, initialised by init (arg as listed at
 * hop_init) from rng, and stores its id in *id. Fails on a duplicate name, a bad shape, a
 * fan-based init of a 1-axis shape, a missing rng for a random init or allocation failure.
 */
hop_status hop_params_add(hop_params *params, const char *name, int ndim, const int *shape,
                          hop_init init, float arg, hop_rng *rng, int *id, hop_error *err);

/* Returns the id of a parameter by name, or -1. */
int hop_params_find(const hop_params *params, const char *name);
/* A view of a parameter's value, valid until the store grows. */
hop_tensor hop_params_value(const hop_params *params, int id);
/* A pointer to a parameter's gradient, valid until the store grows. */
float *hop_params_grad(const hop_params *params, int id);
void hop_params_zero_grad(hop_params *params);

/* Number of parameter elements, of all parameters or of the trainable (unfrozen) ones. */
size_t hop_params_numel(const hop_params *params, bool trainable_only);

/*
 * Sets the frozen flag of the parameter named name. A frozen parameter gets no gradient in
 * hop_param() and is skipped by the optimisers and by clipping. Fails when no parameter has
 * that name.
 */
hop_status hop_params_set_frozen(hop_params *params, const char *name, bool frozen, hop_error *err);
/*
 * Sets the frozen flag of a module: every parameter named prefix or starting with
 * "prefix." ("encoder" matches "encoder.0.weight", not "encoder2.weight"). Stores the number
 * of matched parameters in *matched when it is not NULL and fails when none matches. The empty
 * prefix matches every parameter.
 */
hop_status hop_params_set_frozen_prefix(hop_params *params, const char *prefix, bool frozen,
                                        int *matched, hop_error *err);

/* Called once per parameter with its info, value and gradient; non-OK stops the walk. */
typedef hop_status (*hop_params_visit_fn)(const hop_param_info *info, float *value, float *grad,
                                          void *user);
/* Visits the parameters in id order and returns the first non-OK status of visit. */
hop_status hop_params_walk(hop_params *params, hop_params_visit_fn visit, void *user);

#ifdef __cplusplus
}
#endif

#endif
