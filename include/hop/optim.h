/*
 * Optimisers, gradient clipping, learning-rate schedules and early stopping.
 *
 * Optimisers work on a whole hop_params store and follow torch.optim's update rules.
 * Optimiser state (moments) has the layout of the store's value buffer, so one loop
 * updates every parameter. Frozen parameters are skipped. The learning rate is a field
 * (lr) that a schedule may change between steps.
 */
#ifndef HOP_OPTIM_H
#define HOP_OPTIM_H

#include <stdbool.h>

#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * AdamW with decoupled weight decay (Loshchilov and Hutter 2019), as torch.optim.AdamW, and
 * Adam with L2 weight decay added to the gradient, as torch.optim.Adam. Both share this state.
 */
typedef struct hop_adamw {
    float lr;
    float beta1, beta2;
    float eps;
    float weight_decay;
    long step; /* updates applied so far */
    float *m;  /* first moments, one per parameter element */
    float *v;  /* second moments */
    size_t size;
    bool l2_decay; /* set by hop_adam_init: decay enters the gradient instead of the weights */
} hop_adamw;

typedef hop_adamw hop_adam;

/* Sets PyTorch's defaults (betas 0.9 and 0.999, eps 1e-8) with the given lr and decay. */
hop_status hop_adamw_init(hop_adamw *opt, const hop_params *params, float lr, float weight_decay,
                          hop_error *err);
void hop_adamw_free(hop_adamw *opt);
/* Applies one update from params->grads; the store must not have grown since init. */
hop_status hop_adamw_step(hop_adamw *opt, hop_params *params, hop_error *err);

/*
 * The same update split over element ranges of the store, for several threads:
 * hop_adamw_begin_step checks the store and counts the step once, then
 * hop_adamw_update_range updates elements [begin, end) of the store. Ranges that together
 * cover [0, params->total) once give exactly hop_adamw_step's result.
 */
hop_status hop_adamw_begin_step(hop_adamw *opt, const hop_params *params, hop_error *err);
void hop_adamw_update_range(const hop_adamw *opt, hop_params *params, size_t begin, size_t end);

/*
 * Adam: g += weight_decay x, then the AdamW moments without the decoupled decay, with
 * PyTorch's defaults (betas 0.9 and 0.999, eps 1e-8). Step and free with the hop_adamw calls.
 */
hop_status hop_adam_init(hop_adam *opt, const hop_params *params, float lr, float weight_decay,
                         hop_error *err);

/*
 * SGD as torch.optim.SGD with dampening 0: g += weight_decay x; with momentum mu the buffer
 * is b = mu b + g (b = g on the first step); the step uses g + mu b with Nesterov, else b;
 * x -= lr * step.
 */
typedef struct hop_sgd {
    float lr;
    float momentum;
    float weight_decay;
    bool nesterov;
    long step;     /* updates applied so far */
    float *buffer; /* momentum buffers; NULL when momentum is 0 */
    size_t size;
} hop_sgd;

/* Fails unless lr > 0, momentum in [0, 1), weight_decay >= 0 and Nesterov has momentum. */
hop_status hop_sgd_init(hop_sgd *opt, const hop_params *params, float lr, float momentum,
                        float weight_decay, bool nesterov, hop_error *err);
void hop_sgd_free(hop_sgd *opt);
hop_status hop_sgd_step(hop_sgd *opt, hop_params *params, hop_error *err);

/*
 * RMSprop as torch.optim.RMSprop (not centered): g += weight_decay x,
 * v = alpha v + (1 - alpha) g^2, and x -= lr g / (sqrt(v) + eps), or with momentum mu
 * b = mu b + g / (sqrt(v) + eps) and x -= lr b.
 */
typedef struct hop_rmsprop {
    float lr;
    float alpha;
    float eps;
    float weight_decay;
    float momentum;
    long step;     /* updates applied so far */
    float *v;      /* running mean of squared gradients */
    float *buffer; /* momentum buffers; NULL when momentum is 0 */
    size_t size;
} hop_rmsprop;

/* Sets PyTorch's defaults alpha 0.99 and eps 1e-8; fails unless lr > 0, momentum in [0, 1). */
hop_status hop_rmsprop_init(hop_rmsprop *opt, const hop_params *params, float lr,
                            float weight_decay, float momentum, hop_error *err);
void hop_rmsprop_free(hop_rmsprop *opt);
hop_status hop_rmsprop_step(hop_rmsprop *opt, hop_params *params, hop_error *err);

/* Returns the L2 norm of all gradients of trainable parameters. */
double hop_grad_norm(const hop_params *params);
/* Scales the gradients so their global L2 norm is at most max_norm; returns the old norm. */
double hop_clip_grad_norm(hop_params *params, double max_norm);

/* Clamps every gradient of trainable parameters to [-clip_value, clip_value]. */
void hop_clip_grad_value(hop_params *params, float clip_value);

/* Learning-rate schedules (src/schedule.c); epoch counts from 0. */

/* Exponential decay: lr0 * gamma^epoch. */
float hop_lr_exponential(float lr0, float gamma, int epoch);
/* Step decay as torch.optim.lr_scheduler.StepLR: lr0 * gamma^floor(epoch / step_size). */
float hop_lr_step(float lr0, float gamma, int step_size, int epoch);
/*
 * Linear warm-up, then cosine decay to min_lr. For epoch < warmup: lr0 * epoch / warmup, so
 * epoch 0 has lr 0 (as transformers' get_cosine_schedule_with_warmup). After it:
 * min_lr + (lr0 - min_lr) (1 + cos(pi t)) / 2 with t = (epoch - warmup) / (total - warmup),
 * the cosine of torch's CosineAnnealingLR, and min_lr from epoch total on.
 */
float hop_lr_cosine_warmup(float lr0, float min_lr, int warmup, int total, int epoch);

typedef enum hop_lr_kind {
    HOP_LR_CONSTANT,
    HOP_LR_STEP,
    HOP_LR_EXPONENTIAL,
    HOP_LR_COSINE_WARMUP,
} hop_lr_kind;

/* A schedule as data; the fields a kind does not use are ignored. */
typedef struct hop_lr_schedule {
    hop_lr_kind kind;
    float base_lr;     /* lr0 */
    float gamma;       /* step and exponential decay factor, in (0, 1] */
    int step_size;     /* epochs per step decay, at least 1 */
    int warmup_epochs; /* cosine warm-up length, 0 or more */
    int total_epochs;  /* cosine length, including the warm-up, greater than warmup_epochs */
    float min_lr;      /* cosine floor, in [0, base_lr] */
} hop_lr_schedule;

/* Checks a schedule's fields for its kind; the message names the invalid field. */
hop_status hop_lr_schedule_check(const hop_lr_schedule *schedule, hop_error *err);
/* The learning rate of a checked schedule at an epoch. */
float hop_lr_schedule_at(const hop_lr_schedule *schedule, int epoch);

/*
 * Early stopping on a validation metric. An epoch improves when its metric beats the best so
 * far by more than min_delta (lower in HOP_EARLY_STOP_MIN mode, higher in MAX mode). The first
 * finite metric always improves and NaN never does. Training should stop once patience
 * epochs in a row have not improved, as in Keras' EarlyStopping callback.
 */
typedef enum hop_early_stop_mode {
    HOP_EARLY_STOP_MIN, /* for losses */
    HOP_EARLY_STOP_MAX, /* for accuracy or AUC */
} hop_early_stop_mode;

typedef struct hop_early_stop {
    hop_early_stop_mode mode;
    int patience;
    double min_delta;
    double best;    /* best metric so far, NaN before the first finite one */
    int best_epoch; /* epoch of best, -1 before the first */
    int bad_epochs; /* epochs in a row without improvement */
    bool improved;  /* the last update improved */
    bool stop;      /* patience is used up */
} hop_early_stop;

/* Fails unless patience >= 0 and min_delta is finite and >= 0. */
hop_status hop_early_stop_init(hop_early_stop *es, hop_early_stop_mode mode, int patience,
                               double min_delta, hop_error *err);
/* Records the metric of an epoch and returns whether training should stop. */
bool hop_early_stop_update(hop_early_stop *es, double metric, int epoch);

#ifdef __cplusplus
}
#endif

#endif
