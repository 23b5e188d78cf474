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
#include "hop/optim.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_MIL_MAX_EMBED 4

typedef struct hop_mil_model_config {
    int input_dim;       /* features per instance */
    int embed_layers;    /* Linear + ReLU layers before pooling, 0 to HOP_MIL_MAX_EMBED */
    int embed_width;     /* width of every embedding layer */
    int heads;           /* Hopfield heads */
    int head_dim;        /* associative dimension per head (hidden_size) */
    int pool_output;     /* output width of the pooling layer */
    float beta;          /* inverse temperature; 0 selects 1/sqrt(head_dim) */
    int update_steps;    /* extra Hopfield update steps after the first softmax */
    float dropout;       /* dropout on the association matrix */
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
    int threads; /* threads hop's own kernels may use (hop_ctx.threads), at least 1 */
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
    /*
     * Mean pooling association weight on witness instances of the positive test bags divided
     * by the mean on their other instances; NAN without witness labels.
     */
    double attention_ratio;
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
                                  const hop_mil_train_config *train_config, int folds, int repeats,
                                  hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err);

/*
 * The sequence MIL model: each sequence's overlapping k-mers go through an Embedding (row 0
 * is padding), a mean over positions and Linear + ReLU layers; HopfieldPooling turns the bag
 * into one vector, and a ReLU and a linear layer give the logit. Parameter names:
 * "embedding.weight", "dense.0.weight", ..., "pool...", "output.weight", "output.bias".
 */

#define HOP_SEQ_MAX_KMER 4

typedef struct hop_seq_model_config {
    int kmer;         /* k-mer length, 1 to HOP_SEQ_MAX_KMER; the vocabulary is 20^k + 1 */
    int embed_dim;    /* Embedding width */
    int dense_layers; /* Linear + ReLU layers after the mean, 0 to HOP_MIL_MAX_EMBED */
    int dense_width;
    int heads;
    int head_dim;
    int pool_output;
    float beta;
    int update_steps;
    float dropout;
} hop_seq_model_config;

typedef struct hop_seq_model {
    hop_seq_model_config config;
    int vocab;
    hop_embedding_layer embedding;
    hop_linear dense[HOP_MIL_MAX_EMBED];
    hop_hopfield_pooling pool;
    hop_linear output;
} hop_seq_model;

/* k-mer 3, embedding 32, one dense layer of 32, 2 heads of 16, pool output 32, dropout 0.2. */
void hop_seq_model_defaults(hop_seq_model_config *config);

hop_status hop_seq_model_init(hop_seq_model *model, const hop_seq_model_config *config,
                              hop_params *params, hop_rng *rng, hop_error *err);

/*
 * A padded batch of bags in graph memory: tokens (count, max_seqs, max_tokens) with 0 at
 * padding, inv_length (count, max_seqs) holding 1 / (number of k-mers) of each sequence,
 * mask (count, max_seqs) 1 at padding sequences, and the bag labels as targets.
 */
typedef struct hop_seq_batch {
    int count;
    int max_seqs;
    int max_tokens;
    int *tokens;
    float *inv_length;
    float *mask;
    float *targets;
} hop_seq_batch;

/* Tokenises bags[0..count) of ds into k-mer indices. A sequence shorter than k is all padding. */
hop_status hop_seq_batch_pack(hop_graph *g, const hop_seq_dataset *ds, const int *bags, int count,
                              int kmer, hop_seq_batch *batch, hop_error *err);

/* Builds the logits (count, 1) of a packed batch. */
hop_node *hop_seq_model_forward(hop_graph *g, hop_params *params, const hop_seq_model *model,
                                const hop_seq_batch *batch, hop_hopfield_info *pool_info);

/*
 * One training run, step by step, so it can be checkpointed and resumed. The RNG use
 * matches hop_mil_fit_score: rng seeded with the run seed initialises the model and
 * shuffles the bags at the start of every epoch; the graph RNG (dropout) is seeded with
 * the run seed xor 0x5bd1e995.
 */

typedef enum hop_mil_kind { HOP_MIL_FEATURES, HOP_MIL_SEQUENCES } hop_mil_kind;

typedef struct hop_mil_trainer {
    hop_mil_kind kind;
    hop_mil_model_config model_config; /* HOP_MIL_FEATURES */
    hop_seq_model_config seq_config;   /* HOP_MIL_SEQUENCES */
    hop_mil_train_config train;
    uint64_t run_seed;
    hop_mil_model model;
    hop_seq_model seq_model;
    hop_standardizer standardizer; /* features: fitted on the training bags */
    hop_params params;
    hop_adamw opt;
    hop_ctx ctx;
    hop_rng rng;
    hop_graph *graph;
    hop_mil_dataset features;         /* standardised copy of the training bags */
    const hop_seq_dataset *sequences; /* the caller's training bags, not owned */
    int n_bags;                       /* training bags; 0 until data is attached */
    int *order;                       /* bag order of the current epoch */
    int epoch;                        /* completed epochs */
    int position;                     /* bags of the current epoch done; 0 before it starts */
    long step;                        /* optimiser steps taken */
    double loss_sum;                  /* loss summed over the current epoch's bags */
    double last_loss;                 /* mean loss of the last completed epoch */
} hop_mil_trainer;

/* Builds the model and optimiser of a features run; no data is attached yet. */
hop_status hop_mil_trainer_init_features(hop_mil_trainer *trainer,
                                         const hop_mil_model_config *model_config,
                                         const hop_mil_train_config *train_config,
                                         uint64_t run_seed, hop_error *err);
hop_status hop_mil_trainer_init_sequences(hop_mil_trainer *trainer,
                                          const hop_seq_model_config *model_config,
                                          const hop_mil_train_config *train_config,
                                          uint64_t run_seed, hop_error *err);

/*
 * Attaches the training bags. For features the standardisation is fitted on them unless
 * keep_standardizer is set and one is present (loaded from a checkpoint), and the trainer
 * keeps a standardised copy. Sequences are referenced and must outlive the trainer.
 */
hop_status hop_mil_trainer_attach_features(hop_mil_trainer *trainer, const hop_mil_dataset *train,
                                           bool keep_standardizer, hop_error *err);
hop_status hop_mil_trainer_attach_sequences(hop_mil_trainer *trainer, const hop_seq_dataset *train,
                                            hop_error *err);

/* Takes one optimisation step (one batch); an epoch's first step sets the lr and shuffles. */
hop_status hop_mil_trainer_step(hop_mil_trainer *trainer, hop_error *err);
bool hop_mil_trainer_done(const hop_mil_trainer *trainer);

/*
 * Trains until done or until the trainer has taken stop_step steps (negative: no limit),
 * calling progress after every completed epoch.
 */
hop_status hop_mil_trainer_run(hop_mil_trainer *trainer, long stop_step,
                               hop_mil_progress_fn progress, void *user, int repeat, int fold,
                               hop_error *err);

/*
 * Scores bags in evaluation mode: scores[b] is the positive probability, and attention, when
 * not NULL, receives one association weight per instance (the mean over heads and pooling
 * queries, summing to 1 per bag). Features are standardised with the trainer's statistics.
 */
hop_status hop_mil_trainer_score_features(hop_mil_trainer *trainer, const hop_mil_dataset *ds,
                                          float *scores, float *attention, hop_error *err);
hop_status hop_mil_trainer_score_sequences(hop_mil_trainer *trainer, const hop_seq_dataset *ds,
                                           float *scores, float *attention, hop_error *err);

void hop_mil_trainer_free(hop_mil_trainer *trainer);

/*
 * Cross-validates the sequence model like hop_mil_cross_validate. Each result's
 * attention_ratio uses the dataset's witness flags.
 */
hop_status hop_seq_cross_validate(const hop_seq_dataset *dataset,
                                  const hop_seq_model_config *model_config,
                                  const hop_mil_train_config *train_config, int folds, int repeats,
                                  hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err);

/*
 * Mean attention on witness instances over the mean on the others, over the bags that have
 * both; NAN when there are none. bag_start has n_bags + 1 offsets.
 */
double hop_attention_ratio(const float *attention, const int *witness, const int *bag_start,
                           int n_bags);

/*
 * Checkpoints and model files (safetensors, see docs/checkpoints.md). A model file contains the
 * parameters, settings and standardisation; a checkpoint adds the optimiser state, the step,
 * epoch, bag order and both RNG states, so a resumed run continues bit for bit.
 */
hop_status hop_mil_trainer_save(const hop_mil_trainer *trainer, const char *path,
                                bool training_state, hop_error *err);

/*
 * Reads a model file or checkpoint into a new trainer (no data attached). The settings come
 * from the file's metadata; every tensor is validated before use. For a checkpoint,
 * *is_checkpoint is set (it may be NULL) and attaching the same training bags continues the
 * run; attaching a dataset with another bag count is rejected.
 */
hop_status hop_mil_trainer_load(hop_mil_trainer *trainer, const char *path, bool *is_checkpoint,
                                hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
