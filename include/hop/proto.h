/*
 * Prototype learning with HopfieldLayer, two baselines (multinomial logistic regression and
 * k-nearest neighbours), multi-class stratified folds and per-feature scaling.
 *
 * The prototype model: standardised features x, an optional self-normalising embedding
 * z = SELU(W x + b) (LeCun-normal W, alpha-dropout), then a HopfieldLayer whose stored patterns
 * are k learned prototypes per class. The state pattern is [z, 1] and prototype j is
 * [y_j, b_j], so the association is softmax(beta (z . y_j + b_j)) over the prototypes. b_j
 * starts at -|y_j|^2 / 2, which makes the first association softmax(-beta |z - y_j|^2 / 2), a
 * soft nearest-prototype rule, and it is learned with y_j afterwards. The pattern projection
 * contains the one-hot labels of the prototypes (frozen), so the layer output is the class
 * probability vector, and the class scores are its logarithms.
 */
#ifndef HOP_PROTO_H
#define HOP_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "hop/base.h"
#include "hop/graph.h"
#include "hop/layers.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Labelled feature matrices ---- */

typedef struct hop_proto_data {
    int n;
    int dim;
    int n_classes;
    float *features;      /* n x dim, row-major */
    int *labels;          /* n class indices in [0, n_classes) */
    int image_width;      /* image data: each row is an image_height x image_width image; */
    int image_height;     /* 0 and 0 for tables */
    char **class_names;   /* n_classes names, or NULL */
    char **feature_names; /* dim names, or NULL */
} hop_proto_data;

/*
 * Loads source: the name "digits" selects the embedded digits (8 x 8 images, pixel / 16), any
 * other name is a CSV table read with hop_table_load (labels in the last column, .gz allowed).
 * Rejects data with fewer than 2 classes or a class without samples.
 */
hop_status hop_proto_data_load(const char *source, hop_proto_data *out, hop_error *err);

/* Checks sizes, label range and finiteness; the message names source. */
hop_status hop_proto_data_check(const hop_proto_data *data, const char *source, hop_error *err);

void hop_proto_data_free(hop_proto_data *data);

/* ---- Scaling and splits ---- */

/* Per-feature standardisation x' = (x - mean) / std. */
typedef struct hop_proto_scaler {
    int dim;
    float *mean;
    float *std; /* population standard deviation, 1 for a constant feature */
} hop_proto_scaler;

/* Fits mean and std over the rows rows[0..n_rows-1] of x (n x dim). */
hop_status hop_proto_scaler_fit(hop_proto_scaler *scaler, const float *x, int dim, const int *rows,
                                int n_rows, hop_error *err);
/* Writes the scaled rows rows[i] of x into out (n_rows x dim). */
void hop_proto_scaler_apply(const hop_proto_scaler *scaler, const float *x, const int *rows,
                            int n_rows, float *out);
/* Maps scaled values (n x dim) back to the input scale in place. */
void hop_proto_scaler_invert(const hop_proto_scaler *scaler, float *values, int n);
void hop_proto_scaler_free(hop_proto_scaler *scaler);

/*
 * Splits the samples idx[0..n-1] by class: of each class, round(fraction * count) samples
 * chosen with rng go to second and the rest to first (both in increasing order), except
 * that a class with 2 or more samples keeps at least one in each part. fraction is in (0, 1).
 */
hop_status hop_proto_stratified_split(const int *labels, const int *idx, int n, int n_classes,
                                      double fraction, hop_rng *rng, int *first, int *n_first,
                                      int *second, int *n_second, hop_error *err);

/* ---- The prototype model ---- */

typedef enum hop_proto_init {
    HOP_PROTO_INIT_SAMPLES, /* prototypes start as chosen training samples of their class */
    HOP_PROTO_INIT_RANDOM,  /* prototypes start at N(0, 0.02^2), as HopfieldLayer does */
} hop_proto_init;

typedef struct hop_proto_config {
    int input_dim;
    int n_classes;
    int prototypes;         /* k per class, at least 1 */
    int embed_width;        /* width of the SELU embedding; 0 turns it off */
    float alpha_dropout;    /* alpha-dropout probability after the SELU, in [0, 1) */
    float beta;             /* initial inverse temperature, greater than 0 */
    bool beta_trainable;    /* learn beta */
    bool freeze_prototypes; /* keep the stored patterns at their initial values */
    hop_proto_init init;
} hop_proto_config;

/*
 * Returns 5 prototypes per class, no embedding, trainable beta starting at 2 / width (width:
 * the embedding width, or input_dim without embedding), sample init.
 */
hop_proto_config hop_proto_config_default(int input_dim, int n_classes);

typedef struct hop_proto_model {
    hop_proto_config config;
    int width;                /* embedding width, or input_dim without embedding */
    int quantity;             /* prototypes * n_classes stored patterns */
    hop_linear embed;         /* "embed", used when embed_width > 0 */
    hop_hopfield_layer layer; /* "prototypes": lookup_weights, target_weights, hopfield.* */
} hop_proto_model;

/* Checks config and registers the parameters; the targets are set to one-hot labels. */
hop_status hop_proto_model_init(hop_proto_model *model, const hop_proto_config *config,
                                hop_params *params, hop_rng *rng, hop_error *err);

/*
 * Sets the stored patterns from training samples x (n x input_dim, scaled) with labels:
 * for sample init, k distinct samples per class drawn with rng (HOP_ERR_DATA when a class
 * has fewer than k); the bias coordinate of each prototype is set to -|y|^2 / 2 for either
 * init. Samples are embedded with the current embedding first.
 */
hop_status hop_proto_model_set_prototypes(const hop_proto_model *model, hop_params *params,
                                          const float *x, const int *labels, int n, hop_rng *rng,
                                          hop_error *err);

/* Adds the model to g for x (B, input_dim) and returns the class log-probabilities (B, C). */
hop_node *hop_proto_model_forward(hop_graph *g, hop_params *params, const hop_proto_model *model,
                                  hop_node *x);

/* Copies the stored patterns without bias coordinate, (quantity, width), into out. */
void hop_proto_model_prototypes(const hop_proto_model *model, const hop_params *params, float *out);
/* Returns the class of stored pattern j. */
int hop_proto_model_prototype_class(const hop_proto_model *model, int j);
/* Returns the current beta. */
float hop_proto_model_beta(const hop_proto_model *model, const hop_params *params);

/* What makes a validation epoch better than the best so far, for early stopping. */
typedef enum hop_proto_stop_metric {
    HOP_PROTO_STOP_LOSS,     /* a lower mean validation loss */
    HOP_PROTO_STOP_ACCURACY, /* a higher validation accuracy, or the same and a lower loss */
} hop_proto_stop_metric;

typedef struct hop_proto_train_config {
    int epochs;         /* maximum epochs */
    int batch_size;     /* samples per Adam step */
    float lr;           /* Adam learning rate */
    float weight_decay; /* L2 decay of Adam (added to the gradient) */
    int patience;       /* epochs in a row without a better validation epoch before stopping */
    hop_proto_stop_metric stop_metric;
    uint64_t seed;
    int threads;
} hop_proto_train_config;

/* Returns 300 epochs, batch 32, lr 0.01, no decay, patience 30 on the validation loss, seed 1,
 * one thread. */
hop_proto_train_config hop_proto_train_config_default(void);

/*
 * Returns whether a validation epoch (accuracy, mean loss) beats the best one so far under
 * metric. NaN never beats, and any finite epoch beats a NaN best (no epoch yet). The loss is
 * the default because on a small validation set the accuracy moves in steps of 1 / n and stays
 * flat for many epochs, so patience on it stops training early.
 */
bool hop_proto_validation_better(hop_proto_stop_metric metric, double accuracy, double loss,
                                 double best_accuracy, double best_loss);

/* A trained prototype model with its parameters. */
typedef struct hop_proto_fitted {
    hop_proto_model model;
    hop_params params;
    int best_epoch; /* epoch whose parameters were kept */
    int epochs_run;
    double val_accuracy; /* validation accuracy of the kept parameters */
} hop_proto_fitted;

/*
 * Trains a model on scaled training rows x_train with Adam and keeps the parameters of the
 * best validation epoch under train->stop_metric (see hop_proto_validation_better). Training
 * stops after patience epochs in a row without a better one. Without validation rows it runs
 * all epochs and keeps the last.
 */
hop_status hop_proto_fit(hop_proto_fitted *out, const hop_proto_config *config,
                         const hop_proto_train_config *train, const float *x_train,
                         const int *y_train, int n_train, const float *x_val, const int *y_val,
                         int n_val, hop_error *err);

/* Predicts the classes of n scaled rows; mean_loss may be NULL, else labels must be given. */
hop_status hop_proto_predict(const hop_proto_fitted *fitted, const float *x, int n, int *predicted,
                             const int *labels, double *mean_loss, hop_error *err);

void hop_proto_fitted_free(hop_proto_fitted *fitted);

/* ---- Baselines ---- */

typedef struct hop_logreg_config {
    float l2;       /* penalty l2 / 2 |W|^2 added to the mean cross-entropy, bias excluded */
    int iterations; /* Nesterov gradient steps of size 1 / L */
} hop_logreg_config;

/* Returns l2 1e-3 and 500 iterations. */
hop_logreg_config hop_logreg_config_default(void);

typedef struct hop_logreg {
    int dim;
    int n_classes;
    float *weights; /* n_classes x (dim + 1), the bias in the last column */
} hop_logreg;

/*
 * Fits multinomial logistic regression on x (n x dim) by accelerated full-batch gradient
 * descent with step 1 / L, L = lambda_max(X^T X) / (2 n) + l2 from power iteration, a bound
 * on the curvature of the loss.
 */
hop_status hop_logreg_fit(hop_logreg *model, const hop_logreg_config *config, const float *x,
                          const int *labels, int n, int dim, int n_classes, hop_error *err);
hop_status hop_logreg_predict(const hop_logreg *model, const float *x, int n, int *predicted,
                              hop_error *err);
void hop_logreg_free(hop_logreg *model);

/*
 * Predicts each test row's class by a majority vote of its k nearest training rows in
 * Euclidean distance (computed with one sgemm). A tie goes to the tied class whose nearest
 * member among the k is closest. k above n_train is rejected.
 */
hop_status hop_knn_predict(const float *train_x, const int *train_labels, int n_train, int dim,
                           int n_classes, int k, const float *test_x, int n_test, int *predicted,
                           hop_error *err);

/* ---- Evaluation ---- */

/* Fraction of n predictions equal to labels; 0 for n = 0. */
double hop_proto_accuracy(const int *predicted, const int *labels, int n);

#ifdef __cplusplus
}
#endif

#endif
