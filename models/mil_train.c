/* Training, scoring and cross-validation of the Hopfield-pooling MIL model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hop/metrics.h"
#include "hop/mil.h"
#include "hop/optim.h"

void hop_mil_train_defaults(hop_mil_train_config *config)
{
    config->epochs = 50;
    config->batch_size = 4;
    config->lr = 1e-3f;
    config->lr_decay = 0.98f;
    config->weight_decay = 1e-4f;
    config->clip_norm = 1.0f;
    config->seed = 1;
}

/* A padded batch: x (count, max_size, dim) with zero rows where mask is 1. */
typedef struct batch {
    int count;
    int max_size;
    float *x;
    float *mask;
    float *targets;
} batch;

static hop_status batch_pack(hop_graph *g, const hop_mil_dataset *ds, const int *bags, int count,
                             batch *b)
{
    int max_size = 1;
    for (int i = 0; i < count; i++) {
        int size = ds->bag_start[bags[i] + 1] - ds->bag_start[bags[i]];
        if (size > max_size)
            max_size = size;
    }
    size_t rows = (size_t)count * (size_t)max_size;
    b->count = count;
    b->max_size = max_size;
    b->x = hop_graph_alloc(g, rows * (size_t)ds->dim * sizeof(float));
    b->mask = hop_graph_alloc(g, rows * sizeof(float));
    b->targets = hop_graph_alloc(g, (size_t)count * sizeof(float));
    if (!b->x || !b->mask || !b->targets)
        return HOP_ERR_NOMEM;

    for (int i = 0; i < count; i++) {
        int start = ds->bag_start[bags[i]], size = ds->bag_start[bags[i] + 1] - start;
        float *dst = b->x + (size_t)i * (size_t)max_size * (size_t)ds->dim;
        memcpy(dst, ds->features + (size_t)start * (size_t)ds->dim,
               (size_t)size * (size_t)ds->dim * sizeof(float));
        for (int s = size; s < max_size; s++)
            b->mask[(size_t)i * (size_t)max_size + (size_t)s] = 1.0f;
        b->targets[i] = (float)ds->labels[bags[i]];
    }
    return HOP_OK;
}

/* Builds the logits of a packed batch. */
static hop_node *batch_logits(hop_graph *g, hop_params *ps, const hop_mil_model *model,
                              const hop_mil_dataset *ds, const batch *b)
{
    int x_shape[3] = {b->count, b->max_size, ds->dim};
    int mask_shape[2] = {b->count, b->max_size};
    hop_node *x = hop_input(g, 3, x_shape, b->x);
    hop_node *mask = hop_input(g, 2, mask_shape, b->mask);
    return hop_mil_model_forward(g, ps, model, x, mask, NULL);
}

static hop_status graph_failure(hop_graph *g, hop_error *err)
{
    hop_error *graph_err = &hop_graph_ctx(g)->error;
    return hop_error_set(err, graph_err->status ? graph_err->status : HOP_ERR_NOMEM, "%s",
                         graph_err->message);
}

/* One optimisation step on bags[0..count); adds the batch loss to *loss_sum. */
static hop_status train_step(hop_graph *g, hop_params *ps, const hop_mil_model *model,
                             hop_adamw *opt, const hop_mil_train_config *tc,
                             const hop_mil_dataset *ds, const int *bags, int count,
                             double *loss_sum, hop_error *err)
{
    batch b;
    hop_graph_reset(g);
    if (batch_pack(g, ds, bags, count, &b) != HOP_OK)
        return graph_failure(g, err);

    hop_node *logits = batch_logits(g, ps, model, ds, &b);
    hop_node *targets = hop_input(g, 2, (int[]){count, 1}, b.targets);
    hop_node *loss = hop_bce_logits(g, logits, targets);
    if (!loss || hop_backward(g, loss) != HOP_OK)
        return graph_failure(g, err);
    if (!isfinite(loss->value.data[0]))
        return hop_error_set(err, HOP_ERR_NUMERIC,
                             "training loss became %g; lower --lr or check the input features",
                             loss->value.data[0]);

    *loss_sum += loss->value.data[0] * count;
    if (tc->clip_norm > 0)
        hop_clip_grad_norm(ps, tc->clip_norm);
    hop_status status = hop_adamw_step(opt, ps, err);
    hop_params_zero_grad(ps);
    return status;
}

static hop_status train_epochs(hop_graph *g, hop_params *ps, const hop_mil_model *model,
                               const hop_mil_train_config *tc, const hop_mil_dataset *ds,
                               hop_rng *rng, hop_mil_progress_fn progress, void *user, int repeat,
                               int fold, double *last_loss, hop_error *err)
{
    hop_adamw opt;
    hop_status status = hop_adamw_init(&opt, ps, tc->lr, tc->weight_decay, err);
    if (status != HOP_OK)
        return status;
    int *order = malloc((size_t)ds->n_bags * sizeof *order);
    if (!order) {
        hop_adamw_free(&opt);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the bag order");
    }
    for (int i = 0; i < ds->n_bags; i++)
        order[i] = i;

    hop_graph_set_training(g, true);
    for (int epoch = 0; epoch < tc->epochs && status == HOP_OK; epoch++) {
        opt.lr = hop_lr_exponential(tc->lr, tc->lr_decay, epoch);
        hop_rng_shuffle_int(rng, order, (size_t)ds->n_bags);
        double loss_sum = 0.0;
        for (int i = 0; i < ds->n_bags && status == HOP_OK; i += tc->batch_size) {
            int count = ds->n_bags - i < tc->batch_size ? ds->n_bags - i : tc->batch_size;
            status = train_step(g, ps, model, &opt, tc, ds, order + i, count, &loss_sum, err);
        }
        *last_loss = loss_sum / ds->n_bags;
        if (progress && status == HOP_OK)
            progress(user, repeat, fold, epoch, tc->epochs, *last_loss);
    }
    free(order);
    hop_adamw_free(&opt);
    return status;
}

/* Scores every bag of ds in evaluation mode, without building gradients. */
static hop_status score_bags(hop_graph *g, hop_params *ps, const hop_mil_model *model,
                             const hop_mil_dataset *ds, float *scores, hop_error *err)
{
    hop_graph_set_training(g, false);
    hop_graph_set_grad_enabled(g, false);
    hop_status status = HOP_OK;
    for (int i = 0; i < ds->n_bags && status == HOP_OK; i++) {
        batch b;
        hop_graph_reset(g);
        if (batch_pack(g, ds, &i, 1, &b) != HOP_OK)
            return graph_failure(g, err);
        hop_node *logits = hop_sigmoid(g, batch_logits(g, ps, model, ds, &b));
        if (!logits)
            status = graph_failure(g, err);
        else
            scores[i] = logits->value.data[0];
    }
    hop_graph_set_grad_enabled(g, true);
    return status;
}

typedef struct fit_data {
    hop_mil_dataset train, test;
    hop_standardizer standardizer;
    hop_params params;
    hop_graph *graph;
} fit_data;

static void fit_data_free(fit_data *f)
{
    hop_mil_free(&f->train);
    hop_mil_free(&f->test);
    hop_standardizer_free(&f->standardizer);
    hop_params_free(&f->params);
    hop_graph_free(f->graph);
}

static hop_status all_bags(int n, int **bags, hop_error *err)
{
    *bags = malloc((size_t)n * sizeof **bags);
    if (!*bags)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d bag indices", n);
    for (int i = 0; i < n; i++)
        (*bags)[i] = i;
    return HOP_OK;
}

/* Copies both sets and standardises them with statistics of the training bags. */
static hop_status fit_prepare(fit_data *f, const hop_mil_dataset *train,
                              const hop_mil_dataset *test, hop_error *err)
{
    int *train_bags = NULL, *test_bags = NULL;
    hop_status status = all_bags(train->n_bags, &train_bags, err);
    if (status == HOP_OK)
        status = all_bags(test->n_bags, &test_bags, err);
    if (status == HOP_OK)
        status = hop_mil_subset(train, train_bags, train->n_bags, &f->train, err);
    if (status == HOP_OK)
        status = hop_mil_subset(test, test_bags, test->n_bags, &f->test, err);
    if (status == HOP_OK)
        status = hop_standardizer_fit(&f->standardizer, train, train_bags, train->n_bags, err);
    if (status == HOP_OK)
        status = hop_standardizer_apply(&f->standardizer, &f->train, err);
    if (status == HOP_OK)
        status = hop_standardizer_apply(&f->standardizer, &f->test, err);
    free(train_bags);
    free(test_bags);
    return status;
}

hop_status hop_mil_fit_score(const hop_mil_dataset *train, const hop_mil_dataset *test,
                             const hop_mil_model_config *model_config,
                             const hop_mil_train_config *train_config, uint64_t seed,
                             hop_mil_progress_fn progress, void *user, int repeat, int fold,
                             float *test_scores, double *train_loss, hop_error *err)
{
    fit_data f;
    memset(&f, 0, sizeof f);
    hop_params_init(&f.params);
    hop_ctx ctx;
    hop_ctx_init(&ctx, seed ^ 0x5bd1e995ULL);
    hop_rng rng;
    hop_rng_seed(&rng, seed);

    hop_mil_model_config mc = *model_config;
    mc.input_dim = train->dim;
    hop_mil_model model;
    hop_status status = fit_prepare(&f, train, test, err);
    if (status == HOP_OK)
        status = hop_mil_model_init(&model, &mc, &f.params, &rng, err);
    if (status == HOP_OK && !(f.graph = hop_graph_new(&ctx)))
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory creating a graph");
    if (status == HOP_OK)
        status = train_epochs(f.graph, &f.params, &model, train_config, &f.train, &rng, progress,
                              user, repeat, fold, train_loss, err);
    if (status == HOP_OK)
        status = score_bags(f.graph, &f.params, &model, &f.test, test_scores, err);
    fit_data_free(&f);
    return status;
}

static hop_status check_configs(const hop_mil_train_config *tc, int folds, int repeats,
                                hop_error *err)
{
    if (tc->epochs < 1)
        return hop_error_set(err, HOP_ERR_ARG, "epochs must be at least 1, got %d", tc->epochs);
    if (tc->batch_size < 1)
        return hop_error_set(err, HOP_ERR_ARG, "batch size must be at least 1, got %d",
                             tc->batch_size);
    if (folds < 2)
        return hop_error_set(err, HOP_ERR_ARG, "folds must be at least 2, got %d", folds);
    if (repeats < 1)
        return hop_error_set(err, HOP_ERR_ARG, "repeats must be at least 1, got %d", repeats);
    return HOP_OK;
}

static hop_status fold_fit(const hop_mil_dataset *ds, const int *train, int n_train,
                           const int *test, int n_test, const hop_mil_model_config *mc,
                           const hop_mil_train_config *tc, int repeat, int fold,
                           hop_mil_progress_fn progress, void *user, float *scores,
                           double *train_loss, hop_error *err)
{
    hop_mil_dataset train_set, test_set;
    memset(&train_set, 0, sizeof train_set);
    memset(&test_set, 0, sizeof test_set);
    uint64_t seed = tc->seed * 1000003ULL + (uint64_t)repeat * 1009ULL + (uint64_t)fold;
    hop_status status = hop_mil_subset(ds, train, n_train, &train_set, err);
    if (status == HOP_OK)
        status = hop_mil_subset(ds, test, n_test, &test_set, err);
    if (status == HOP_OK)
        status = hop_mil_fit_score(&train_set, &test_set, mc, tc, seed, progress, user, repeat,
                                   fold, scores, train_loss, err);
    hop_mil_free(&train_set);
    hop_mil_free(&test_set);
    return status;
}

static hop_status run_fold(const hop_mil_dataset *ds, const int *fold_of, int fold, int repeat,
                           const hop_mil_model_config *mc, const hop_mil_train_config *tc,
                           hop_mil_progress_fn progress, void *user, hop_mil_fold_result *result,
                           hop_error *err)
{
    int *train = malloc((size_t)ds->n_bags * sizeof *train);
    int *test = malloc((size_t)ds->n_bags * sizeof *test);
    float *scores = malloc((size_t)ds->n_bags * sizeof *scores);
    int *labels = malloc((size_t)ds->n_bags * sizeof *labels);
    hop_status status = HOP_OK;
    if (!train || !test || !scores || !labels)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for fold %d", fold + 1);

    int n_train = 0, n_test = 0;
    if (status == HOP_OK) {
        hop_fold_split(fold_of, ds->n_bags, fold, train, &n_train, test, &n_test);
        status = fold_fit(ds, train, n_train, test, n_test, mc, tc, repeat, fold, progress,
                          user, scores, &result->train_loss, err);
    }
    if (status == HOP_OK) {
        for (int i = 0; i < n_test; i++)
            labels[i] = ds->labels[test[i]];
        result->repeat = repeat;
        result->fold = fold;
        result->n_train = n_train;
        result->n_test = n_test;
        status = hop_accuracy(scores, labels, (size_t)n_test, &result->accuracy, err);
    }
    if (status == HOP_OK)
        status = hop_roc_auc(scores, labels, (size_t)n_test, &result->auc, err);
    free(train);
    free(test);
    free(scores);
    free(labels);
    return status;
}

hop_status hop_mil_cross_validate(const hop_mil_dataset *dataset,
                                  const hop_mil_model_config *model_config,
                                  const hop_mil_train_config *train_config, int folds,
                                  int repeats, hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err)
{
    hop_status status = check_configs(train_config, folds, repeats, err);
    if (status == HOP_OK)
        status = hop_mil_validate(dataset, err);
    int *fold_of = malloc((size_t)dataset->n_bags * sizeof *fold_of);
    if (status == HOP_OK && !fold_of)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for fold assignments");

    hop_rng rng;
    hop_rng_seed(&rng, train_config->seed);
    for (int r = 0; r < repeats && status == HOP_OK; r++) {
        status = hop_stratified_folds(dataset->labels, dataset->n_bags, folds, &rng, fold_of, err);
        for (int f = 0; f < folds && status == HOP_OK; f++)
            status = run_fold(dataset, fold_of, f, r, model_config, train_config, progress, user,
                              &results[r * folds + f], err);
    }
    free(fold_of);
    return status;
}
