/* Building blocks shared by the feature-bag and sequence-bag MIL models. */
#ifndef HOP_MODELS_MIL_PARTS_H
#define HOP_MODELS_MIL_PARTS_H

#include "hop/layers.h"

/* Settings of the pooling layer and the output layer that follows it. */
typedef struct hop_mil_head_config {
    int input_width; /* width of the instance vectors that reach the pooling */
    int heads;
    int head_dim;
    int pool_output;
    float beta; /* 0 selects the layer default 1/sqrt(head_dim) */
    int update_steps;
    float dropout;
} hop_mil_head_config;

/*
 * Registers count Linear layers "name.0", "name.1", ... from in_width to width, each with
 * torch.nn.Linear's Kaiming-uniform weight bound 1/sqrt(fan_in).
 */
hop_status hop_mil_linear_stack_init(hop_linear *layers, int count, const char *name, int in_width,
                                     int width, hop_params *params, hop_rng *rng, hop_error *err);

/* Registers HopfieldPooling "pool" and the single-logit Linear "output". */
hop_status hop_mil_head_init(hop_hopfield_pooling *pool, hop_linear *output,
                             const hop_mil_head_config *config, hop_params *params, hop_rng *rng,
                             hop_error *err);

#endif
