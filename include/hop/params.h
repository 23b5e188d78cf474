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

typedef enum hop_init {
    HOP_INIT_ZEROS,
    HOP_INIT_ONES,
    HOP_INIT_NORMAL,  /* N(0, arg^2) */
    HOP_INIT_UNIFORM, /* U(-arg, arg) */
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
 * Adds a parameter named name with the given shape, initialised by init (arg is the
 * standard deviation or the uniform bound) from rng, and stores its id in *id.
 * Fails on a duplicate name, a bad shape or allocation failure.
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

#ifdef __cplusplus
}
#endif

#endif
