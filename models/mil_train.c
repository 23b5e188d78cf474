/* Step-wise training, scoring and cross-validation of the Hopfield-pooling MIL models. */
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
    config->threads = 1;
}

/* A padded feature batch: x (count, max_size, dim) with zero rows where mask is 1. */
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

static hop_status graph_failure(hop_graph *g, hop_error *err)
{
    hop_error *graph_err = &hop_graph_ctx(g)->error;
    return hop_error_set(err, graph_err->status ? graph_err->status : HOP_ERR_NOMEM, "%s",
                         graph_err->message[0] ? graph_err->message : "out of graph memory");
}

/* Builds the logits of bags[0..count) of the trainer's kind; *targets gets the labels. */
static hop_node *build_logits(hop_mil_trainer *t, const hop_mil_dataset *features,
                              const hop_seq_dataset *sequences, const int *bags, int count,
                              float **targets, hop_hopfield_info *info, hop_error *err)
{
    hop_graph *g = t->graph;
    if (t->kind == HOP_MIL_SEQUENCES) {
        hop_seq_batch b;
        if (hop_seq_batch_pack(g, sequences, bags, count, t->seq_config.kmer, &b, err) != HOP_OK)
            return NULL;
        *targets = b.targets;
        hop_node *logits = hop_seq_model_forward(g, &t->params, &t->seq_model, &b, info);
        if (!logits)
            graph_failure(g, err);
        return logits;
    }
    batch b;
    if (batch_pack(g, features, bags, count, &b) != HOP_OK) {
        graph_failure(g, err);
        return NULL;
    }
    *targets = b.targets;
    int x_shape[3] = {b.count, b.max_size, features->dim};
    int mask_shape[2] = {b.count, b.max_size};
    hop_node *x = hop_input(g, 3, x_shape, b.x);
    hop_node *mask = hop_input(g, 2, mask_shape, b.mask);
    hop_node *logits = hop_mil_model_forward(g, &t->params, &t->model, x, mask, info);
    if (!logits)
        graph_failure(g, err);
    return logits;
}

static hop_status init_common(hop_mil_trainer *t, const hop_mil_train_config *tc, uint64_t run_seed,
                              hop_error *err)
{
    t->train = *tc;
    t->run_seed = run_seed;
    hop_params_init(&t->params);
    hop_ctx_init(&t->ctx, run_seed ^ 0x5bd1e995ULL);
    t->ctx.threads = tc->threads > 0 ? tc->threads : 1;
    hop_rng_seed(&t->rng, run_seed);
    if (tc->epochs < 1 || tc->batch_size < 1)
        return hop_error_set(err, HOP_ERR_ARG, "epochs %d and batch size %d must be at least 1",
                             tc->epochs, tc->batch_size);
    return HOP_OK;
}

static hop_status init_finish(hop_mil_trainer *t, hop_error *err)
{
    hop_status status =
        hop_adamw_init(&t->opt, &t->params, t->train.lr, t->train.weight_decay, err);
    if (status == HOP_OK && !(t->graph = hop_graph_new(&t->ctx)))
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory creating a graph");
    if (status != HOP_OK)
        hop_mil_trainer_free(t);
    return status;
}

hop_status hop_mil_trainer_init_features(hop_mil_trainer *t,
                                         const hop_mil_model_config *model_config,
                                         const hop_mil_train_config *train_config,
                                         uint64_t run_seed, hop_error *err)
{
    memset(t, 0, sizeof *t);
    t->kind = HOP_MIL_FEATURES;
    t->model_config = *model_config;
    hop_status status = init_common(t, train_config, run_seed, err);
    if (status == HOP_OK)
        status = hop_mil_model_init(&t->model, model_config, &t->params, &t->rng, err);
    if (status != HOP_OK) {
        hop_mil_trainer_free(t);
        return status;
    }
    return init_finish(t, err);
}

hop_status hop_mil_trainer_init_sequences(hop_mil_trainer *t,
                                          const hop_seq_model_config *model_config,
                                          const hop_mil_train_config *train_config,
                                          uint64_t run_seed, hop_error *err)
{
    memset(t, 0, sizeof *t);
    t->kind = HOP_MIL_SEQUENCES;
    t->seq_config = *model_config;
    hop_status status = init_common(t, train_config, run_seed, err);
    if (status == HOP_OK)
        status = hop_seq_model_init(&t->seq_model, model_config, &t->params, &t->rng, err);
    if (status != HOP_OK) {
        hop_mil_trainer_free(t);
        return status;
    }
    return init_finish(t, err);
}

void hop_mil_trainer_free(hop_mil_trainer *t)
{
    hop_adamw_free(&t->opt);
    hop_params_free(&t->params);
    hop_standardizer_free(&t->standardizer);
    hop_mil_free(&t->features);
    hop_graph_free(t->graph);
    free(t->order);
    t->graph = NULL;
    t->order = NULL;
}

/* Allocates the bag order for n bags, or checks n against an order loaded from a checkpoint. */
static hop_status prepare_order(hop_mil_trainer *t, int n, hop_error *err)
{
    if (t->order) {
        if (t->n_bags != n)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "the checkpoint was trained on %d bags but the data has %d; "
                                 "resume with the same data",
                                 t->n_bags, n);
        return HOP_OK;
    }
    t->order = malloc((size_t)n * sizeof *t->order);
    if (!t->order)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the bag order");
    for (int i = 0; i < n; i++)
        t->order[i] = i;
    t->n_bags = n;
    return HOP_OK;
}

static hop_status all_bags(int n, int **bags, hop_error *err)
{
    *bags = malloc((size_t)(n > 0 ? n : 1) * sizeof **bags);
    if (!*bags)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d bag indices", n);
    for (int i = 0; i < n; i++)
        (*bags)[i] = i;
    return HOP_OK;
}

/* Copies ds and standardises the copy with the trainer's statistics. */
static hop_status standardized_copy(const hop_mil_trainer *t, const hop_mil_dataset *ds,
                                    hop_mil_dataset *out, hop_error *err)
{
    int *bags = NULL;
    hop_status status = all_bags(ds->n_bags, &bags, err);
    if (status == HOP_OK)
        status = hop_mil_subset(ds, bags, ds->n_bags, out, err);
    if (status == HOP_OK)
        status = hop_standardizer_apply(&t->standardizer, out, err);
    free(bags);
    return status;
}

hop_status hop_mil_trainer_attach_features(hop_mil_trainer *t, const hop_mil_dataset *train,
                                           bool keep_standardizer, hop_error *err)
{
    if (t->kind != HOP_MIL_FEATURES)
        return hop_error_set(err, HOP_ERR_ARG, "this model trains on sequences, not features");
    if (train->dim != t->model_config.input_dim)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s has %d features per instance; the model "
                             "expects %d",
                             train->source ? train->source : "the data", train->dim,
                             t->model_config.input_dim);
    hop_status status = prepare_order(t, train->n_bags, err);
    int *bags = NULL;
    if (status == HOP_OK && !(keep_standardizer && t->standardizer.mean)) {
        status = all_bags(train->n_bags, &bags, err);
        if (status == HOP_OK)
            status = hop_standardizer_fit(&t->standardizer, train, bags, train->n_bags, err);
    }
    free(bags);
    hop_mil_free(&t->features);
    if (status == HOP_OK)
        status = standardized_copy(t, train, &t->features, err);
    return status;
}

hop_status hop_mil_trainer_attach_sequences(hop_mil_trainer *t, const hop_seq_dataset *train,
                                            hop_error *err)
{
    if (t->kind != HOP_MIL_SEQUENCES)
        return hop_error_set(err, HOP_ERR_ARG, "this model trains on features, not sequences");
    t->sequences = train;
    return prepare_order(t, train->n_bags, err);
}

bool hop_mil_trainer_done(const hop_mil_trainer *t)
{
    return t->epoch >= t->train.epochs;
}

static hop_status backward_and_update(hop_mil_trainer *t, hop_node *loss, int count, hop_error *err)
{
    if (hop_backward(t->graph, loss) != HOP_OK)
        return graph_failure(t->graph, err);
    if (!isfinite(loss->value.data[0]))
        return hop_error_set(err, HOP_ERR_NUMERIC,
                             "training loss became %g; lower --lr or check the input features",
                             loss->value.data[0]);
    t->loss_sum += loss->value.data[0] * count;
    if (t->train.clip_norm > 0)
        hop_clip_grad_norm(&t->params, t->train.clip_norm);
    hop_status status = hop_adamw_step(&t->opt, &t->params, err);
    hop_params_zero_grad(&t->params);
    return status;
}

hop_status hop_mil_trainer_step(hop_mil_trainer *t, hop_error *err)
{
    if (!t->order)
        return hop_error_set(err, HOP_ERR_ARG, "no training data is attached to the trainer");
    if (hop_mil_trainer_done(t))
        return HOP_OK;
    if (t->position == 0) {
        t->opt.lr = hop_lr_exponential(t->train.lr, t->train.lr_decay, t->epoch);
        hop_rng_shuffle_int(&t->rng, t->order, (size_t)t->n_bags);
        t->loss_sum = 0.0;
    }
    int count = t->n_bags - t->position;
    if (count > t->train.batch_size)
        count = t->train.batch_size;

    hop_graph_reset(t->graph);
    hop_graph_set_training(t->graph, true);
    float *target_data = NULL;
    hop_node *logits = build_logits(t, &t->features, t->sequences, t->order + t->position, count,
                                    &target_data, NULL, err);
    if (!logits)
        return err->status ? err->status : HOP_ERR_NOMEM;
    hop_node *targets = hop_input(t->graph, 2, (int[]){count, 1}, target_data);
    hop_node *loss = hop_bce_logits(t->graph, logits, targets);
    if (!loss)
        return graph_failure(t->graph, err);
    hop_status status = backward_and_update(t, loss, count, err);
    if (status != HOP_OK)
        return status;

    t->step++;
    t->position += count;
    if (t->position == t->n_bags) {
        t->last_loss = t->loss_sum / t->n_bags;
        t->position = 0;
        t->epoch++;
    }
    return HOP_OK;
}

hop_status hop_mil_trainer_run(hop_mil_trainer *t, long stop_step, hop_mil_progress_fn progress,
                               void *user, int repeat, int fold, hop_error *err)
{
    while (!hop_mil_trainer_done(t) && (stop_step < 0 || t->step < stop_step)) {
        int epoch = t->epoch;
        hop_status status = hop_mil_trainer_step(t, err);
        if (status != HOP_OK)
            return status;
        if (progress && t->epoch != epoch)
            progress(user, repeat, fold, epoch, t->train.epochs, t->last_loss);
    }
    return HOP_OK;
}

/* Writes the mean over heads and queries of the first size columns of the association. */
static void bag_attention(const hop_hopfield_info *info, int size, float *out)
{
    const hop_tensor *a = &info->association->value;
    int rows = a->shape[1] * a->shape[2], width = a->shape[3];
    for (int s = 0; s < size; s++) {
        double sum = 0.0;
        for (int r = 0; r < rows; r++)
            sum += a->data[(size_t)r * (size_t)width + (size_t)s];
        out[s] = (float)(sum / rows);
    }
}

static hop_status score_bags(hop_mil_trainer *t, const hop_mil_dataset *features,
                             const hop_seq_dataset *sequences, float *scores, float *attention,
                             hop_error *err)
{
    const int *bag_start = features ? features->bag_start : sequences->bag_start;
    int n_bags = features ? features->n_bags : sequences->n_bags;
    hop_graph_set_training(t->graph, false);
    hop_graph_set_grad_enabled(t->graph, false);
    hop_status status = HOP_OK;
    for (int i = 0; i < n_bags && status == HOP_OK; i++) {
        hop_hopfield_info info;
        memset(&info, 0, sizeof info);
        float *targets = NULL;
        hop_graph_reset(t->graph);
        hop_node *logits = build_logits(t, features, sequences, &i, 1, &targets, &info, err);
        hop_node *p = logits ? hop_sigmoid(t->graph, logits) : NULL;
        if (!p) {
            status =
                logits ? graph_failure(t->graph, err) : (err->status ? err->status : HOP_ERR_NOMEM);
            break;
        }
        scores[i] = p->value.data[0];
        if (attention && info.association)
            bag_attention(&info, bag_start[i + 1] - bag_start[i], attention + bag_start[i]);
    }
    hop_graph_set_grad_enabled(t->graph, true);
    return status;
}

hop_status hop_mil_trainer_score_features(hop_mil_trainer *t, const hop_mil_dataset *ds,
                                          float *scores, float *attention, hop_error *err)
{
    if (t->kind != HOP_MIL_FEATURES)
        return hop_error_set(err, HOP_ERR_ARG, "this model scores sequences, not features");
    if (ds->dim != t->model_config.input_dim || !t->standardizer.mean)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s has %d features per instance; the model "
                             "expects %d",
                             ds->source ? ds->source : "the data", ds->dim,
                             t->model_config.input_dim);
    hop_mil_dataset copy;
    memset(&copy, 0, sizeof copy);
    hop_status status = standardized_copy(t, ds, &copy, err);
    if (status == HOP_OK)
        status = score_bags(t, &copy, NULL, scores, attention, err);
    hop_mil_free(&copy);
    return status;
}

hop_status hop_mil_trainer_score_sequences(hop_mil_trainer *t, const hop_seq_dataset *ds,
                                           float *scores, float *attention, hop_error *err)
{
    if (t->kind != HOP_MIL_SEQUENCES)
        return hop_error_set(err, HOP_ERR_ARG, "this model scores features, not sequences");
    return score_bags(t, NULL, ds, scores, attention, err);
}

hop_status hop_mil_fit_score(const hop_mil_dataset *train, const hop_mil_dataset *test,
                             const hop_mil_model_config *model_config,
                             const hop_mil_train_config *train_config, uint64_t seed,
                             hop_mil_progress_fn progress, void *user, int repeat, int fold,
                             float *test_scores, double *train_loss, hop_error *err)
{
    hop_mil_model_config mc = *model_config;
    mc.input_dim = train->dim;
    hop_mil_trainer t;
    hop_status status = hop_mil_trainer_init_features(&t, &mc, train_config, seed, err);
    if (status != HOP_OK)
        return status;
    status = hop_mil_trainer_attach_features(&t, train, false, err);
    if (status == HOP_OK)
        status = hop_mil_trainer_run(&t, -1, progress, user, repeat, fold, err);
    if (status == HOP_OK)
        status = hop_mil_trainer_score_features(&t, test, test_scores, NULL, err);
    *train_loss = t.last_loss;
    hop_mil_trainer_free(&t);
    return status;
}

double hop_attention_ratio(const float *attention, const int *witness, const int *bag_start,
                           int n_bags)
{
    double on = 0.0, off = 0.0;
    long n_on = 0, n_off = 0;
    for (int b = 0; b < n_bags; b++) {
        int has = 0, lacks = 0;
        for (int s = bag_start[b]; s < bag_start[b + 1]; s++)
            witness[s] ? has++ : lacks++;
        if (!has || !lacks)
            continue;
        for (int s = bag_start[b]; s < bag_start[b + 1]; s++) {
            if (witness[s]) {
                on += attention[s];
                n_on++;
            } else {
                off += attention[s];
                n_off++;
            }
        }
    }
    if (!n_on || !n_off || off <= 0.0)
        return NAN;
    return (on / (double)n_on) / (off / (double)n_off);
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

static uint64_t fold_seed(const hop_mil_train_config *tc, int repeat, int fold)
{
    return tc->seed * 1000003ULL + (uint64_t)repeat * 1009ULL + (uint64_t)fold;
}

/* Trains and scores one fold of either kind; attention and witness are for sequences. */
typedef struct fold_job {
    const hop_mil_dataset *features;
    const hop_seq_dataset *sequences;
    const hop_mil_model_config *model_config;
    const hop_seq_model_config *seq_config;
    const hop_mil_train_config *train;
    hop_mil_progress_fn progress;
    void *user;
} fold_job;

static hop_status fit_sequences(const fold_job *job, const hop_seq_dataset *train_set,
                                const hop_seq_dataset *test_set, uint64_t seed, int repeat,
                                int fold, float *scores, hop_mil_fold_result *result,
                                hop_error *err)
{
    hop_mil_trainer t;
    float *attention =
        malloc((size_t)(test_set->n_seqs > 0 ? test_set->n_seqs : 1) * sizeof *attention);
    if (!attention)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for attention weights");
    hop_status status = hop_mil_trainer_init_sequences(&t, job->seq_config, job->train, seed, err);
    if (status != HOP_OK) {
        free(attention);
        return status;
    }
    status = hop_mil_trainer_attach_sequences(&t, train_set, err);
    if (status == HOP_OK)
        status = hop_mil_trainer_run(&t, -1, job->progress, job->user, repeat, fold, err);
    if (status == HOP_OK)
        status = hop_mil_trainer_score_sequences(&t, test_set, scores, attention, err);
    result->train_loss = t.last_loss;
    result->attention_ratio = NAN;
    if (status == HOP_OK && test_set->witness)
        result->attention_ratio = hop_attention_ratio(attention, test_set->witness,
                                                      test_set->bag_start, test_set->n_bags);
    hop_mil_trainer_free(&t);
    free(attention);
    return status;
}

static hop_status fold_fit(const fold_job *job, const int *train, int n_train, const int *test,
                           int n_test, int repeat, int fold, float *scores,
                           hop_mil_fold_result *result, hop_error *err)
{
    uint64_t seed = fold_seed(job->train, repeat, fold);
    hop_status status;
    result->attention_ratio = NAN;
    if (job->sequences) {
        hop_seq_dataset train_set, test_set;
        memset(&train_set, 0, sizeof train_set);
        memset(&test_set, 0, sizeof test_set);
        status = hop_seq_subset(job->sequences, train, n_train, &train_set, err);
        if (status == HOP_OK)
            status = hop_seq_subset(job->sequences, test, n_test, &test_set, err);
        if (status == HOP_OK)
            status =
                fit_sequences(job, &train_set, &test_set, seed, repeat, fold, scores, result, err);
        hop_seq_free(&train_set);
        hop_seq_free(&test_set);
        return status;
    }
    hop_mil_dataset train_set, test_set;
    memset(&train_set, 0, sizeof train_set);
    memset(&test_set, 0, sizeof test_set);
    status = hop_mil_subset(job->features, train, n_train, &train_set, err);
    if (status == HOP_OK)
        status = hop_mil_subset(job->features, test, n_test, &test_set, err);
    if (status == HOP_OK)
        status = hop_mil_fit_score(&train_set, &test_set, job->model_config, job->train, seed,
                                   job->progress, job->user, repeat, fold, scores,
                                   &result->train_loss, err);
    hop_mil_free(&train_set);
    hop_mil_free(&test_set);
    return status;
}

static hop_status run_fold(const fold_job *job, const int *all_labels, int n_bags,
                           const int *fold_of, int fold, int repeat, hop_mil_fold_result *result,
                           hop_error *err)
{
    int *train = malloc((size_t)n_bags * sizeof *train);
    int *test = malloc((size_t)n_bags * sizeof *test);
    float *scores = malloc((size_t)n_bags * sizeof *scores);
    int *labels = malloc((size_t)n_bags * sizeof *labels);
    hop_status status = HOP_OK;
    if (!train || !test || !scores || !labels)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for fold %d", fold + 1);

    int n_train = 0, n_test = 0;
    if (status == HOP_OK) {
        hop_fold_split(fold_of, n_bags, fold, train, &n_train, test, &n_test);
        status = fold_fit(job, train, n_train, test, n_test, repeat, fold, scores, result, err);
    }
    if (status == HOP_OK) {
        for (int i = 0; i < n_test; i++)
            labels[i] = all_labels[test[i]];
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

static hop_status cross_validate(const fold_job *job, const int *labels, int n_bags, int folds,
                                 int repeats, hop_mil_fold_result *results, hop_error *err)
{
    int *fold_of = malloc((size_t)n_bags * sizeof *fold_of);
    if (!fold_of)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for fold assignments");
    hop_rng rng;
    hop_rng_seed(&rng, job->train->seed);
    hop_status status = HOP_OK;
    for (int r = 0; r < repeats && status == HOP_OK; r++) {
        status = hop_stratified_folds(labels, n_bags, folds, &rng, fold_of, err);
        for (int f = 0; f < folds && status == HOP_OK; f++)
            status = run_fold(job, labels, n_bags, fold_of, f, r, &results[r * folds + f], err);
    }
    free(fold_of);
    return status;
}

hop_status hop_mil_cross_validate(const hop_mil_dataset *dataset,
                                  const hop_mil_model_config *model_config,
                                  const hop_mil_train_config *train_config, int folds, int repeats,
                                  hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err)
{
    hop_status status = check_configs(train_config, folds, repeats, err);
    if (status == HOP_OK)
        status = hop_mil_validate(dataset, err);
    if (status != HOP_OK)
        return status;
    fold_job job = {.features = dataset,
                    .model_config = model_config,
                    .train = train_config,
                    .progress = progress,
                    .user = user};
    return cross_validate(&job, dataset->labels, dataset->n_bags, folds, repeats, results, err);
}

hop_status hop_seq_cross_validate(const hop_seq_dataset *dataset,
                                  const hop_seq_model_config *model_config,
                                  const hop_mil_train_config *train_config, int folds, int repeats,
                                  hop_mil_progress_fn progress, void *user,
                                  hop_mil_fold_result *results, hop_error *err)
{
    hop_status status = check_configs(train_config, folds, repeats, err);
    if (status == HOP_OK)
        status = hop_seq_validate(dataset, err);
    if (status != HOP_OK)
        return status;
    fold_job job = {.sequences = dataset,
                    .seq_config = model_config,
                    .train = train_config,
                    .progress = progress,
                    .user = user};
    return cross_validate(&job, dataset->labels, dataset->n_bags, folds, repeats, results, err);
}
