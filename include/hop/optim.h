/*
 * Optimisers over a whole hop_params store.
 *
 * Optimiser state (moments) has the layout of the store's value buffer, so one loop
 * updates every parameter. Frozen parameters are skipped.
 */
#ifndef HOP_OPTIM_H
#define HOP_OPTIM_H

#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AdamW with decoupled weight decay (Loshchilov and Hutter 2019), as torch.optim.AdamW. */
typedef struct hop_adamw {
    float lr;
    float beta1, beta2;
    float eps;
    float weight_decay;
    long step;  /* updates applied so far */
    float *m;   /* first moments, one per parameter element */
    float *v;   /* second moments */
    size_t size;
} hop_adamw;

/* Sets PyTorch's defaults (betas 0.9 and 0.999, eps 1e-8) with the given lr and decay. */
hop_status hop_adamw_init(hop_adamw *opt, const hop_params *params, float lr, float weight_decay,
                          hop_error *err);
void hop_adamw_free(hop_adamw *opt);
/* Applies one update from params->grads; the store must not have grown since init. */
hop_status hop_adamw_step(hop_adamw *opt, hop_params *params, hop_error *err);

/* Returns the L2 norm of all gradients of trainable parameters. */
double hop_grad_norm(const hop_params *params);
/* Scales the gradients so their global L2 norm is at most max_norm; returns the old norm. */
double hop_clip_grad_norm(hop_params *params, double max_norm);

/* Exponential decay: lr0 * gamma^epoch. */
float hop_lr_exponential(float lr0, float gamma, int epoch);

#ifdef __cplusplus
}
#endif

#endif
