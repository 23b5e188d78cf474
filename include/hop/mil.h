/*
 * Multiple-instance learning with Hopfield pooling.
 *
 * The model follows Ramsauer et al. 2020 (appendix on MIL benchmarks): instances go
 * through fully connected ReLU embedding layers, a HopfieldPooling layer turns a bag
 * into one vector, and a ReLU and a linear layer give the bag's logit.
 *
 * Training runs stratified bag-level k-fold cross-validation. Feature standardisation
 * is fitted on the training bags of each fold only.
 */
#ifndef HOP_MIL_H
#define HOP_MIL_H

#include <stdbool.h>

#include "hop/data.h"
#include "hop/graph.h"
#include "hop/layers.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_MIL_MAX_EMBED 4

typedef struct hop_mil_model_config {
    int input_dim;     /* features per instance */
    int embed_layers;  /* Linear + ReLU layers before pooling, 0 to HOP_MIL_MAX_EMBED */
    int embed_width;   /* width of every embedding layer */
    int heads;         /* Hopfield heads */
    int head_dim;      /* associative dimension per head (hidden_size) */
    int pool_output;   /* output width of the pooling layer */
    float beta;        /* inverse temperature; 0 selects 1/sqrt(head_dim) */
    int update_steps;  /* extra Hopfield update steps after the first softmax */
    float dropout;     /* dropout on the association matrix */
    float input_dropout; /* dropout on instance features in training ("bag dropout") */
} hop_mil_model_config;

typedef struct hop_mil_model {
    hop_mil_model_config config;
    hop_linear embed[HOP_MIL_MAX_EMBED];
    hop_hopfield_pooling pool;
    hop_linear output;
} hop_mil_model;

/* Fills config with hop's defaults for input_dim features. */
void hop_mil_model_defaults(hop_mil_model_config *config, int input_dim);

/* Registers the model's parameters in params ("embed.0.weight", "pool...", "output..."). */
hop_status hop_mil_model_init(hop_mil_model *model, const hop_mil_model_config *config,
                              hop_params *params, hop_rng *rng, hop_error *err);

/*
 * Builds the logits (B, 1) of a padded batch x (B, S, input_dim); mask (B, S) is nonzero
 * at padding rows and may be NULL. pool_info, when not NULL, receives the pooling's
 * association matrix node.
 */
hop_node *hop_mil_model_forward(hop_graph *g, hop_params *params, const hop_mil_model *model,
                                hop_node *x, hop_node *mask, hop_hopfield_info *pool_info);

typedef struct hop_mil_train_config {
    int epochs;
    int batch_size;     /* bags per step, padded to the largest bag of the batch */
    float lr;           /* AdamW learning rate */
    float lr_decay;     /* per-epoch exponential decay factor */
    float weight_decay; /* AdamW weight decay */
    float clip_norm;    /* global gradient norm limit; 0 turns clipping off */
    uint64_t seed;
} hop_mil_train_config;

void hop_mil_train_defaults(hop_mil_train_config *config);

/* Progress report, called after every epoch; fold is -1 outside cross-validation. */
typedef void (*hop_mil_progress_fn)(void *user, int repeat, int fold, int epoch, int epochs,
                                    double loss);

typedef struct hop_mil_fold_result {
    int repeat;
    int fold;
    int n_train;
    int n_test;
    double auc;
    double accuracy;
    double train_loss; /* mean loss of the last epoch */
} hop_mil_fold_result;

/*
 * Trains a fresh model on train, seeded by seed, and writes the predicted positive
 * probability of each bag of test into test_scores. Features of both sets are
 * standardised with the mean and std of train. repeat and fold are passed to progress.
 */
hop_status hop_mil_fit_score(const hop_mil_dataset *train, const hop_mil_dataset *test,
                             const hop_mil_model_config *model_config,
                             const hop_mil_train_config *train_config, uint64_t seed,
                             hop_mil_progress_fn progress, void *user, int repeat, int fold,
                             float *test_scores, double *train_loss, hop_error *err);

/*
 * Runs repeats x folds stratified cross-validation and writes one result per fold into
 * results (room for repeats * folds entries), in order of repeat, then fold.
 */
hop_status hop_mil_cross_validate(const hop_mil_dataset *dataset,
                                  const hop_mil_model_config *model_config,
                                  const hop_mil_train_config *train_config, int folds,
                                  int repeats, hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
