/*
 * hop proto: prototype learning with HopfieldLayer under stratified k-fold cross-validation or
 * one train/validation/test split, beside logistic regression and kNN on the same folds.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "hop/blas.h"
#include "hop/memory.h"
#include "hop/metrics.h"
#include "hop/proto.h"
#include "report.h"

enum { MODEL_PROTO, MODEL_LOGREG, MODEL_KNN, N_MODELS };

static const char *const MODEL_NAMES[N_MODELS] = {"prototypes", "logistic_regression", "knn"};

typedef struct proto_options {
    const char *data;
    const char *report;
    const char *save_prototypes;
    const char *init;
    const char *stop_on;
    int folds;
    float holdout;
    float val_fraction;
    int knn_k;
    int png_scale;
    bool fixed_beta;
    bool quiet;
    hop_proto_config model;
    hop_proto_train_config train;
    hop_logreg_config logreg;
} proto_options;

/* Results of one fold (or of the single split). */
typedef struct fold_result {
    int fold;
    int n_train, n_val, n_test;
    double accuracy[N_MODELS];
    int best_epoch, epochs_run;
    float beta;
    double seconds;
} fold_result;

static void options_defaults(proto_options *o)
{
    memset(o, 0, sizeof *o);
    o->init = "samples";
    o->stop_on = "loss";
    o->folds = 10;
    o->val_fraction = 0.15f;
    o->knn_k = 5;
    o->png_scale = 8;
    o->model = hop_proto_config_default(0, 0);
    o->train = hop_proto_train_config_default();
    o->logreg = hop_logreg_config_default();
}

#define N_PROTO_FLAGS 26

static void flags_table(proto_options *o, cli_flag *t)
{
    cli_flag flags[N_PROTO_FLAGS] = {
        {"data", CLI_STRING, &o->data, 0, 0, "file",
         "CSV table (labels in the last column, .gz allowed), image folder, or 'digits'"},
        {"folds", CLI_INT, &o->folds, 2, 1000, "folds", "stratified cross-validation folds"},
        {"holdout", CLI_FLOAT, &o->holdout, 0, 0.9, "fraction",
         "test share of one stratified train/validation/test split instead of folds, 0 = folds"},
        {"val-fraction", CLI_FLOAT, &o->val_fraction, 0.01, 0.9, "fraction",
         "share of each training part held out for early stopping"},
        {"seed", CLI_SEED, &o->train.seed, 0, (double)UINT64_MAX, "",
         "random seed of splits and training"},
        {"threads", CLI_INT, &o->train.threads, 1, 4096, "threads", "OpenBLAS and hop threads"},
        {"prototypes", CLI_INT, &o->model.prototypes, 1, 100000, "per class",
         "stored patterns (prototypes) per class"},
        {"init", CLI_STRING, &o->init, 0, 0, "",
         "prototype start: 'samples' (chosen training samples) or 'random'"},
        {"freeze-prototypes", CLI_BOOL, &o->model.freeze_prototypes, 0, 0, "",
         "keep the prototypes at the chosen samples; only beta (and the embedding) learn"},
        {"embed-width", CLI_INT, &o->model.embed_width, 0, 65536, "units",
         "width of the SELU embedding before the HopfieldLayer, 0 = off"},
        {"alpha-dropout", CLI_FLOAT, &o->model.alpha_dropout, 0, 0.9, "probability",
         "alpha-dropout after the SELU embedding"},
        {"beta", CLI_FLOAT, &o->model.beta, 0, 1e4, "",
         "initial inverse temperature, 0 = 2 / width (features, or --embed-width)"},
        {"fixed-beta", CLI_BOOL, &o->fixed_beta, 0, 0, "",
         "keep beta at --beta instead of learning it"},
        {"epochs", CLI_INT, &o->train.epochs, 1, 1e6, "epochs", "maximum training epochs"},
        {"batch", CLI_INT, &o->train.batch_size, 1, 1e6, "samples", "samples per Adam step"},
        {"lr", CLI_FLOAT, &o->train.lr, 1e-7, 10, "", "Adam learning rate"},
        {"weight-decay", CLI_FLOAT, &o->train.weight_decay, 0, 10, "", "Adam L2 weight decay"},
        {"patience", CLI_INT, &o->train.patience, 0, 1e6, "epochs",
         "epochs in a row without a better validation epoch before stopping"},
        {"stop-on", CLI_STRING, &o->stop_on, 0, 0, "",
         "early stopping and the kept epoch: validation 'loss', or 'accuracy' (ties go to the "
         "lower loss)"},
        {"l2", CLI_FLOAT, &o->logreg.l2, 0, 1e3, "", "logistic regression: L2 penalty"},
        {"logreg-iterations", CLI_INT, &o->logreg.iterations, 1, 1e6, "steps",
         "logistic regression: accelerated gradient steps"},
        {"knn-k", CLI_INT, &o->knn_k, 1, 1e6, "neighbours", "kNN: neighbours that vote"},
        {"report", CLI_STRING, &o->report, 0, 0, "file", "write the results as JSON"},
        {"save-prototypes", CLI_STRING, &o->save_prototypes, 0, 0, "file",
         "train on all samples and write the prototypes: .png grid (image data) or .csv"},
        {"png-scale", CLI_INT, &o->png_scale, 1, 64, "pixels",
         "PNG: output pixels per input pixel"},
        {"quiet", CLI_BOOL, &o->quiet, 0, 0, "", "print only the summary"},
    };
    memcpy(t, flags, sizeof flags);
}

static void print_help(const cli_flag *flags)
{
    printf("usage: hop proto --data FILE|DIR|digits [FLAGS]\n"
           "\n"
           "Learns k prototypes per class as the stored patterns of a HopfieldLayer: standardised\n"
           "features, an optional SELU embedding, then softmax(beta (x . y + b)) over the\n"
           "prototypes y, each with a learned bias b that starts at -|y|^2 / 2, weighting the\n"
           "one-hot labels of the prototypes. Trains with Adam and early stopping on validation\n"
           "loss, under stratified k-fold cross-validation (or --holdout), and fits\n"
           "multinomial logistic regression and kNN on the same folds. Prints the test accuracy\n"
           "per fold and as mean +- std.\n"
           "\nFlags:\n");
    cli_print_flags(stdout, flags, N_PROTO_FLAGS);
}

static int fail(const hop_error *err)
{
    fprintf(stderr, "hop proto: %s\n", err->message);
    return 1;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Scaled copies of the parts of one split, all scaled with the training part's statistics. */
typedef struct split_data {
    int *fit, *val, *train, *test; /* sample indices; train is fit and val together */
    int n_fit, n_val, n_train, n_test;
    float *x_fit, *x_val, *x_train, *x_test;
    int *y_fit, *y_val, *y_train, *y_test;
    hop_proto_scaler scaler;
} split_data;

static void split_free(split_data *s)
{
    int *ints[] = {s->fit, s->val, s->train, s->test, s->y_fit, s->y_val, s->y_train, s->y_test};
    float *floats[] = {s->x_fit, s->x_val, s->x_train, s->x_test};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        free(ints[i]);
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        free(floats[i]);
    hop_proto_scaler_free(&s->scaler);
    memset(s, 0, sizeof *s);
}

static bool split_alloc(split_data *s, int n, int dim)
{
    size_t rows = (size_t)n, values = rows * (size_t)dim;
    s->fit = malloc(rows * sizeof(int));
    s->val = malloc(rows * sizeof(int));
    s->train = malloc(rows * sizeof(int));
    s->test = malloc(rows * sizeof(int));
    s->y_fit = malloc(rows * sizeof(int));
    s->y_val = malloc(rows * sizeof(int));
    s->y_train = malloc(rows * sizeof(int));
    s->y_test = malloc(rows * sizeof(int));
    s->x_fit = malloc(values * sizeof(float));
    s->x_val = malloc(values * sizeof(float));
    s->x_train = malloc(values * sizeof(float));
    s->x_test = malloc(values * sizeof(float));
    return s->fit && s->val && s->train && s->test && s->y_fit && s->y_val && s->y_train &&
           s->y_test && s->x_fit && s->x_val && s->x_train && s->x_test;
}

static void gather(const hop_proto_data *d, const hop_proto_scaler *scaler, const int *rows, int n,
                   float *x, int *y)
{
    if (n == 0)
        return;
    hop_proto_scaler_apply(scaler, d->features, rows, n, x);
    for (int i = 0; i < n; i++)
        y[i] = d->labels[rows[i]];
}

/* Splits s->train into fit and validation rows, fits the scaler on s->train, scales all. */
static hop_status split_prepare(split_data *s, const hop_proto_data *d, double val_fraction,
                                hop_rng *rng, hop_error *err)
{
    hop_status status =
        hop_proto_stratified_split(d->labels, s->train, s->n_train, d->n_classes, val_fraction, rng,
                                   s->fit, &s->n_fit, s->val, &s->n_val, err);
    if (status == HOP_OK)
        status = hop_proto_scaler_fit(&s->scaler, d->features, d->dim, s->train, s->n_train, err);
    if (status != HOP_OK)
        return status;
    gather(d, &s->scaler, s->fit, s->n_fit, s->x_fit, s->y_fit);
    gather(d, &s->scaler, s->val, s->n_val, s->x_val, s->y_val);
    gather(d, &s->scaler, s->train, s->n_train, s->x_train, s->y_train);
    gather(d, &s->scaler, s->test, s->n_test, s->x_test, s->y_test);
    return HOP_OK;
}

static hop_status run_prototypes(const proto_options *o, const split_data *s, int *predicted,
                                 fold_result *r, hop_error *err)
{
    hop_proto_fitted fitted;
    hop_status status = hop_proto_fit(&fitted, &o->model, &o->train, s->x_fit, s->y_fit, s->n_fit,
                                      s->x_val, s->y_val, s->n_val, err);
    if (status != HOP_OK)
        return status;
    status = hop_proto_predict(&fitted, s->x_test, s->n_test, predicted, NULL, NULL, err);
    r->accuracy[MODEL_PROTO] = hop_proto_accuracy(predicted, s->y_test, s->n_test);
    r->best_epoch = fitted.best_epoch + 1;
    r->epochs_run = fitted.epochs_run;
    r->beta = hop_proto_model_beta(&fitted.model, &fitted.params);
    hop_proto_fitted_free(&fitted);
    return status;
}

/* The baselines fit on the whole training part: they need no validation rows. */
static hop_status run_baselines(const proto_options *o, const split_data *s, int n_classes, int dim,
                                int *predicted, fold_result *r, hop_error *err)
{
    hop_logreg logreg;
    hop_status status = hop_logreg_fit(&logreg, &o->logreg, s->x_train, s->y_train, s->n_train, dim,
                                       n_classes, err);
    if (status == HOP_OK)
        status = hop_logreg_predict(&logreg, s->x_test, s->n_test, predicted, err);
    hop_logreg_free(&logreg);
    if (status != HOP_OK)
        return status;
    r->accuracy[MODEL_LOGREG] = hop_proto_accuracy(predicted, s->y_test, s->n_test);

    status = hop_knn_predict(s->x_train, s->y_train, s->n_train, dim, n_classes, o->knn_k,
                             s->x_test, s->n_test, predicted, err);
    r->accuracy[MODEL_KNN] = hop_proto_accuracy(predicted, s->y_test, s->n_test);
    return status;
}

static hop_status run_split(const proto_options *o, const hop_proto_data *d, split_data *s,
                            hop_rng *rng, fold_result *r, hop_error *err)
{
    double start = seconds_now();
    int *predicted = malloc((size_t)(s->n_test > 0 ? s->n_test : 1) * sizeof *predicted);
    hop_status status =
        predicted ? HOP_OK : hop_error_set(err, HOP_ERR_NOMEM, "out of memory for predictions");
    if (status == HOP_OK)
        status = split_prepare(s, d, o->val_fraction, rng, err);
    if (status == HOP_OK)
        status = run_prototypes(o, s, predicted, r, err);
    if (status == HOP_OK)
        status = run_baselines(o, s, d->n_classes, d->dim, predicted, r, err);
    free(predicted);
    r->n_train = s->n_fit;
    r->n_val = s->n_val;
    r->n_test = s->n_test;
    r->seconds = seconds_now() - start;
    return status;
}

static void print_fold(const proto_options *o, const fold_result *r, int n_folds)
{
    if (o->quiet)
        return;
    printf("fold %d/%d: train %d, validation %d, test %d: prototypes %.4f (epoch %d of %d, beta "
           "%.3g), logistic regression %.4f, kNN %.4f (%.1f s)\n",
           r->fold + 1, n_folds, r->n_train, r->n_val, r->n_test, r->accuracy[MODEL_PROTO],
           r->best_epoch, r->epochs_run, (double)r->beta, r->accuracy[MODEL_LOGREG],
           r->accuracy[MODEL_KNN], r->seconds);
    fflush(stdout);
}

static hop_status cross_validate(const proto_options *o, const hop_proto_data *d,
                                 fold_result *results, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, o->train.seed);
    int *fold_of = malloc((size_t)d->n * sizeof *fold_of);
    if (!fold_of)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the folds");
    hop_status status =
        hop_stratified_folds_classes(d->labels, d->n, d->n_classes, o->folds, &rng, fold_of, err);
    for (int f = 0; f < o->folds && status == HOP_OK; f++) {
        split_data s = {0};
        if (!split_alloc(&s, d->n, d->dim))
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for fold %d", f + 1);
        if (status == HOP_OK) {
            hop_fold_split(fold_of, d->n, f, s.train, &s.n_train, s.test, &s.n_test);
            results[f].fold = f;
            status = run_split(o, d, &s, &rng, &results[f], err);
        }
        if (status == HOP_OK)
            print_fold(o, &results[f], o->folds);
        split_free(&s);
    }
    free(fold_of);
    return status;
}

static hop_status holdout_split(const proto_options *o, const hop_proto_data *d,
                                fold_result *result, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, o->train.seed);
    split_data s = {0};
    hop_status status = split_alloc(&s, d->n, d->dim)
                            ? HOP_OK
                            : hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the split");
    for (int i = 0; status == HOP_OK && i < d->n; i++)
        s.fit[i] = i;
    if (status == HOP_OK)
        status = hop_proto_stratified_split(d->labels, s.fit, d->n, d->n_classes, o->holdout, &rng,
                                            s.train, &s.n_train, s.test, &s.n_test, err);
    if (status == HOP_OK)
        status = run_split(o, d, &s, &rng, result, err);
    if (status == HOP_OK)
        print_fold(o, result, 1);
    split_free(&s);
    return status;
}

static void summarise(const fold_result *results, int n, int model, double *mean, double *std)
{
    double values[n];
    for (int i = 0; i < n; i++)
        values[i] = results[i].accuracy[model];
    hop_mean_std(values, (size_t)n, mean, std, NULL);
}

static void print_summary(const proto_options *o, const hop_proto_data *d,
                          const fold_result *results, int n, double seconds)
{
    const char *labels[N_MODELS] = {"prototypes (HopfieldLayer)", "logistic regression", "kNN"};
    printf("%s: %d samples, %d features, %d classes; %s\n", o->data, d->n, d->dim, d->n_classes,
           o->holdout > 0 ? "one stratified split" : "stratified k-fold");
    for (int m = 0; m < N_MODELS; m++) {
        double mean, std;
        summarise(results, n, m, &mean, &std);
        if (n > 1)
            printf("  %-28s accuracy %.4f +- %.4f over %d folds\n", labels[m], mean, std, n);
        else
            printf("  %-28s test accuracy %.4f\n", labels[m], mean);
    }
    printf("  time %.1f s\n", seconds);
}

static cJSON *config_json(const proto_options *o)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "prototypes_per_class", o->model.prototypes);
    cJSON_AddStringToObject(c, "init", o->init);
    cJSON_AddBoolToObject(c, "freeze_prototypes", o->model.freeze_prototypes);
    cJSON_AddNumberToObject(c, "embed_width", o->model.embed_width);
    cJSON_AddNumberToObject(c, "alpha_dropout", o->model.alpha_dropout);
    cJSON_AddNumberToObject(c, "beta", o->model.beta);
    cJSON_AddBoolToObject(c, "beta_trainable", o->model.beta_trainable);
    cJSON_AddNumberToObject(c, "epochs", o->train.epochs);
    cJSON_AddNumberToObject(c, "batch", o->train.batch_size);
    cJSON_AddNumberToObject(c, "lr", o->train.lr);
    cJSON_AddNumberToObject(c, "weight_decay", o->train.weight_decay);
    cJSON_AddNumberToObject(c, "patience", o->train.patience);
    cJSON_AddStringToObject(c, "stop_on", o->stop_on);
    cJSON_AddNumberToObject(c, "val_fraction", o->val_fraction);
    cJSON_AddNumberToObject(c, "seed", (double)o->train.seed);
    cJSON_AddNumberToObject(c, "l2", o->logreg.l2);
    cJSON_AddNumberToObject(c, "logreg_iterations", o->logreg.iterations);
    cJSON_AddNumberToObject(c, "knn_k", o->knn_k);
    return c;
}

static cJSON *fold_json(const fold_result *r)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "fold", r->fold + 1);
    cJSON_AddNumberToObject(f, "n_train", r->n_train);
    cJSON_AddNumberToObject(f, "n_val", r->n_val);
    cJSON_AddNumberToObject(f, "n_test", r->n_test);
    for (int m = 0; m < N_MODELS; m++)
        cJSON_AddNumberToObject(f, MODEL_NAMES[m], r->accuracy[m]);
    cJSON_AddNumberToObject(f, "best_epoch", r->best_epoch);
    cJSON_AddNumberToObject(f, "epochs_run", r->epochs_run);
    cJSON_AddNumberToObject(f, "beta", r->beta);
    cJSON_AddNumberToObject(f, "seconds", r->seconds);
    return f;
}

static hop_status write_report(const proto_options *o, const hop_proto_data *d,
                               const fold_result *results, int n, double seconds, hop_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dataset", o->data);
    cJSON_AddNumberToObject(root, "n_samples", d->n);
    cJSON_AddNumberToObject(root, "n_features", d->dim);
    cJSON_AddNumberToObject(root, "n_classes", d->n_classes);
    cJSON_AddStringToObject(root, "evaluation", o->holdout > 0 ? "holdout" : "stratified_kfold");
    cJSON_AddNumberToObject(root, "folds", n);
    if (o->holdout > 0)
        cJSON_AddNumberToObject(root, "holdout", o->holdout);
    cJSON_AddItemToObject(root, "config", config_json(o));
    cJSON *models = cJSON_AddObjectToObject(root, "accuracy");
    for (int m = 0; m < N_MODELS; m++) {
        double mean, std;
        summarise(results, n, m, &mean, &std);
        cJSON *entry = cJSON_AddObjectToObject(models, MODEL_NAMES[m]);
        cJSON_AddNumberToObject(entry, "mean", mean);
        cJSON_AddNumberToObject(entry, "std", std);
    }
    cJSON_AddNumberToObject(root, "seconds", seconds);
    cJSON *list = cJSON_AddArrayToObject(root, "per_fold");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, fold_json(&results[i]));
    hop_status status = write_json(o->report, root, err);
    cJSON_Delete(root);
    return status;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Checks --save-prototypes before any training, so a bad path fails at once. */
static hop_status check_save_target(const proto_options *o, const hop_proto_data *d, hop_error *err)
{
    const char *path = o->save_prototypes;
    if (!path)
        return HOP_OK;
    if (ends_with(path, ".csv"))
        return HOP_OK;
    if (!ends_with(path, ".png"))
        return hop_error_set(err, HOP_ERR_ARG,
                             "--save-prototypes %s: the name must end in .png (image data) or "
                             ".csv",
                             path);
    if (d->image_width == 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "--save-prototypes %s: a PNG needs image data, and %s is a table; "
                             "use a .csv name",
                             path, o->data);
    if (o->model.embed_width > 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "--save-prototypes %s: with --embed-width the prototypes live in "
                             "the embedding space and are no images; use --embed-width 0 or a "
                             ".csv name",
                             path);
    return HOP_OK;
}

static void append(char **text, size_t *length, size_t *capacity, const char *piece)
{
    size_t n = strlen(piece);
    if (!*text)
        return;
    if (*length + n + 1 > *capacity) {
        size_t grown = (*capacity + n + 1) * 2;
        char *bigger = realloc(*text, grown);
        if (!bigger) {
            free(*text);
            *text = NULL;
            return;
        }
        *text = bigger;
        *capacity = grown;
    }
    memcpy(*text + *length, piece, n + 1);
    *length += n;
}

/* CSV of the prototypes: class, then the input features (or embedding coordinates). */
static hop_status write_prototype_csv(const proto_options *o, const hop_proto_data *d,
                                      const hop_proto_model *model, const float *prototypes,
                                      bool mapped, hop_error *err)
{
    size_t length = 0, capacity = 4096;
    char *text = malloc(capacity), cell[128];
    if (text)
        text[0] = '\0';
    append(&text, &length, &capacity, "class");
    for (int j = 0; j < model->width; j++) {
        if (mapped && d->feature_names)
            snprintf(cell, sizeof cell, ",%s", d->feature_names[j]);
        else
            snprintf(cell, sizeof cell, mapped ? ",feature_%d" : ",embedding_%d", j + 1);
        append(&text, &length, &capacity, cell);
    }
    append(&text, &length, &capacity, "\n");
    for (int p = 0; p < model->quantity; p++) {
        int c = hop_proto_model_prototype_class(model, p);
        append(&text, &length, &capacity, d->class_names ? d->class_names[c] : "");
        if (!d->class_names) {
            snprintf(cell, sizeof cell, "%d", c);
            append(&text, &length, &capacity, cell);
        }
        for (int j = 0; j < model->width; j++) {
            snprintf(cell, sizeof cell, ",%.6g", (double)prototypes[(size_t)p * model->width + j]);
            append(&text, &length, &capacity, cell);
        }
        append(&text, &length, &capacity, "\n");
    }
    if (!text)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %s", o->save_prototypes);
    hop_status status = write_file_atomic(o->save_prototypes, text, err);
    free(text);
    return status;
}

/* Trains on all samples (minus the validation share) and writes the prototypes. */
static hop_status save_prototypes(const proto_options *o, const hop_proto_data *d, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, o->train.seed + 1);
    split_data s = {0};
    hop_proto_fitted fitted = {0};
    float *prototypes = NULL;
    hop_status status = split_alloc(&s, d->n, d->dim)
                            ? HOP_OK
                            : hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the split");
    s.n_train = d->n;
    for (int i = 0; status == HOP_OK && i < d->n; i++)
        s.train[i] = i;
    if (status == HOP_OK)
        status = split_prepare(&s, d, o->val_fraction, &rng, err);
    if (status == HOP_OK)
        status = hop_proto_fit(&fitted, &o->model, &o->train, s.x_fit, s.y_fit, s.n_fit, s.x_val,
                               s.y_val, s.n_val, err);
    const hop_proto_model *model = &fitted.model;
    if (status == HOP_OK &&
        !(prototypes = malloc((size_t)model->quantity * model->width * sizeof *prototypes)))
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the prototypes");
    bool mapped = o->model.embed_width == 0;
    if (status == HOP_OK) {
        hop_proto_model_prototypes(model, &fitted.params, prototypes);
        if (mapped)
            hop_proto_scaler_invert(&s.scaler, prototypes, model->quantity);
        if (ends_with(o->save_prototypes, ".png"))
            status = hop_image_grid_write(o->save_prototypes, prototypes, d->n_classes,
                                          o->model.prototypes, d->image_width, d->image_height,
                                          o->png_scale, err);
        else
            status = write_prototype_csv(o, d, model, prototypes, mapped, err);
    }
    if (status == HOP_OK)
        printf("prototypes of a model trained on %d samples (validation %d, epoch %d): %s%s\n",
               s.n_fit, s.n_val, fitted.best_epoch + 1, o->save_prototypes,
               mapped ? "" : " (embedding coordinates)");
    free(prototypes);
    hop_proto_fitted_free(&fitted);
    split_free(&s);
    return status;
}

static hop_status resolve_options(proto_options *o, const hop_proto_data *d, hop_error *err)
{
    if (strcmp(o->init, "samples") == 0)
        o->model.init = HOP_PROTO_INIT_SAMPLES;
    else if (strcmp(o->init, "random") == 0)
        o->model.init = HOP_PROTO_INIT_RANDOM;
    else
        return hop_error_set(err, HOP_ERR_ARG, "--init %s is invalid; use 'samples' or 'random'",
                             o->init);
    if (strcmp(o->stop_on, "loss") == 0)
        o->train.stop_metric = HOP_PROTO_STOP_LOSS;
    else if (strcmp(o->stop_on, "accuracy") == 0)
        o->train.stop_metric = HOP_PROTO_STOP_ACCURACY;
    else
        return hop_error_set(err, HOP_ERR_ARG, "--stop-on %s is invalid; use 'loss' or 'accuracy'",
                             o->stop_on);
    o->model.input_dim = d->dim;
    o->model.n_classes = d->n_classes;
    o->model.beta_trainable = !o->fixed_beta;
    if (o->holdout == 0 && o->folds > d->n)
        return hop_error_set(err, HOP_ERR_ARG, "--folds %d is invalid for %d samples in %s",
                             o->folds, d->n, o->data);
    return check_save_target(o, d, err);
}

static int run(proto_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_proto_data d;
    if (hop_proto_data_load(o->data, &d, &err) != HOP_OK)
        return fail(&err);
    int n = o->holdout > 0 ? 1 : o->folds;
    fold_result *results = calloc((size_t)n, sizeof *results);
    double start = seconds_now();
    hop_status status = results ? resolve_options(o, &d, &err)
                                : hop_error_set(&err, HOP_ERR_NOMEM, "out of memory");
    if (status == HOP_OK && o->holdout > 0)
        status = holdout_split(o, &d, results, &err);
    else if (status == HOP_OK)
        status = cross_validate(o, &d, results, &err);
    double seconds = seconds_now() - start;
    if (status == HOP_OK)
        print_summary(o, &d, results, n, seconds);
    if (status == HOP_OK && o->report)
        status = write_report(o, &d, results, n, seconds, &err);
    if (status == HOP_OK && o->save_prototypes)
        status = save_prototypes(o, &d, &err);
    free(results);
    hop_proto_data_free(&d);
    return status == HOP_OK ? 0 : fail(&err);
}

int cmd_proto(int argc, char **argv)
{
    proto_options o;
    options_defaults(&o);
    cli_flag flags[N_PROTO_FLAGS];
    flags_table(&o, flags);

    bool help = false;
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, N_PROTO_FLAGS, argc, argv, 2, &help, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        print_help(flags);
        return 0;
    }
    if (!o.data) {
        fprintf(stderr, "hop proto: --data is missing; give a CSV file, an image folder or "
                        "'digits' (see 'hop proto --help')\n");
        return CLI_EXIT_USAGE;
    }
    cli_path outputs[] = {{"report", o.report}, {"save-prototypes", o.save_prototypes}};
    cli_path input = {"data", strcmp(o.data, "digits") == 0 ? NULL : o.data};
    if (cli_check_outputs(outputs, 2, &input, 1, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    hop_blas_set_threads(o.train.threads);
    return run(&o);
}
