/*
 * A complete hop program: a Sequential MLP classifies the embedded 8 x 8 digits.
 *
 * Linear(64, 128) -> GELU -> LayerNorm(128) -> Dropout(0.1) -> Linear(128, 10), trained with
 * AdamW under a cosine schedule with warm-up, softmax cross-entropy with label smoothing and
 * gradient clipping, and stopped early on validation accuracy. The 1797 digits are shuffled
 * into 1297 training, 250 validation and 250 test images.
 *
 *     ./mlp [seed]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/data.h"
#include "hop/module.h"
#include "hop/optim.h"

#define N_TRAIN  1297
#define N_VALID  250
#define CLASSES  10
#define BATCH    64
#define EPOCHS   30
#define PATIENCE 5

typedef struct split {
    const hop_digits *digits;
    const int *index; /* rows of digits in this split */
    int n;
} split;

/* Copies rows [begin, begin + n) of a split into a batch of images and labels. */
static void gather(const split *s, int begin, int n, float *images, int *labels)
{
    for (int i = 0; i < n; i++) {
        int row = s->index[begin + i];
        memcpy(images + (size_t)i * HOP_DIGITS_DIM,
               s->digits->images + (size_t)row * HOP_DIGITS_DIM, HOP_DIGITS_DIM * sizeof(float));
        labels[i] = s->digits->labels[row];
    }
}

static hop_status build_model(hop_sequential *mlp, hop_params *params, hop_rng *rng, hop_error *err)
{
    hop_linear_config hidden = hop_linear_config_default(HOP_DIGITS_DIM, 128);
    hidden.weight_init = HOP_INIT_KAIMING_UNIFORM;
    hidden.weight_init_arg = 0.0f;
    hop_linear_config head = hop_linear_config_default(128, CLASSES);
    head.weight_init = HOP_INIT_XAVIER_UNIFORM;
    hop_layernorm_config norm = hop_layernorm_config_default(128);

    hop_status status = hop_sequential_init(mlp, "mlp", err);
    if (status == HOP_OK)
        status = hop_sequential_add_linear(mlp, params, &hidden, rng, err);
    if (status == HOP_OK)
        status = hop_sequential_add_activation(mlp, HOP_ACT_GELU, 0.0f, 0.0f, err);
    if (status == HOP_OK)
        status = hop_sequential_add_layernorm(mlp, params, &norm, err);
    if (status == HOP_OK)
        status = hop_sequential_add_dropout(mlp, 0.1f, err);
    if (status == HOP_OK)
        status = hop_sequential_add_linear(mlp, params, &head, rng, err);
    return status;
}

static hop_status graph_failure(hop_graph *g, hop_error *err)
{
    hop_error *graph_err = &hop_graph_ctx(g)->error;
    return hop_error_set(err, graph_err->status, "%s", graph_err->message);
}

/* One pass over the training split in shuffled mini-batches; *loss is the mean batch loss. */
static hop_status train_epoch(hop_graph *g, hop_params *params, hop_sequential *mlp, hop_adamw *opt,
                              split *train, hop_rng *rng, double *loss, hop_error *err)
{
    static float images[BATCH * HOP_DIGITS_DIM];
    static int labels[BATCH];
    hop_rng_shuffle_int(rng, (int *)train->index, (size_t)train->n);
    hop_sequential_set_training(mlp, true);
    hop_graph_set_training(g, true);

    double sum = 0.0;
    int batches = 0;
    for (int begin = 0; begin < train->n; begin += BATCH, batches++) {
        int n = train->n - begin < BATCH ? train->n - begin : BATCH;
        gather(train, begin, n, images, labels);
        hop_graph_reset(g);
        hop_params_zero_grad(params);
        hop_node *x = hop_input(g, 2, (int[]){n, HOP_DIGITS_DIM}, images);
        hop_node *logits = hop_sequential_forward(g, params, mlp, x);
        hop_node *batch_loss = hop_softmax_xent_ex(g, logits, labels, NULL, 0.05f);
        if (!batch_loss || hop_backward(g, batch_loss) != HOP_OK)
            return graph_failure(g, err);
        hop_clip_grad_norm(params, 1.0);
        hop_status status = hop_adamw_step(opt, params, err);
        if (status != HOP_OK)
            return status;
        sum += batch_loss->value.data[0];
    }
    *loss = sum / batches;
    return HOP_OK;
}

static int argmax(const float *row, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* Accuracy on a split in eval mode, without recording an autodiff graph. */
static hop_status evaluate(hop_graph *g, hop_params *params, hop_sequential *mlp, const split *s,
                           double *accuracy, hop_error *err)
{
    static float images[BATCH * HOP_DIGITS_DIM];
    static int labels[BATCH];
    hop_sequential_set_training(mlp, false);
    hop_graph_set_training(g, false);
    hop_graph_set_grad_enabled(g, false);

    int correct = 0;
    hop_status status = HOP_OK;
    for (int begin = 0; begin < s->n && status == HOP_OK; begin += BATCH) {
        int n = s->n - begin < BATCH ? s->n - begin : BATCH;
        gather(s, begin, n, images, labels);
        hop_graph_reset(g);
        hop_node *x = hop_input(g, 2, (int[]){n, HOP_DIGITS_DIM}, images);
        hop_node *logits = hop_sequential_forward(g, params, mlp, x);
        if (!logits) {
            status = graph_failure(g, err);
            break;
        }
        for (int i = 0; i < n; i++)
            correct += argmax(logits->value.data + (size_t)i * CLASSES, CLASSES) == labels[i];
    }
    hop_graph_set_grad_enabled(g, true);
    *accuracy = (double)correct / s->n;
    return status;
}

/* Trains with early stopping and reports the test accuracy of the final model. */
static hop_status run(hop_digits *digits, uint64_t seed, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, seed);
    int *order = malloc((size_t)digits->n * sizeof *order);
    if (!order)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d indices", digits->n);
    for (int i = 0; i < digits->n; i++)
        order[i] = i;
    hop_rng_shuffle_int(&rng, order, (size_t)digits->n);
    split train = {digits, order, N_TRAIN};
    split valid = {digits, order + N_TRAIN, N_VALID};
    split test = {digits, order + N_TRAIN + N_VALID, digits->n - N_TRAIN - N_VALID};

    hop_params params;
    hop_params_init(&params);
    hop_sequential mlp;
    hop_ctx ctx;
    hop_ctx_init(&ctx, seed);
    hop_graph *g = hop_graph_new(&ctx);
    hop_adamw opt = {0};
    hop_lr_schedule schedule = {.kind = HOP_LR_COSINE_WARMUP,
                                .base_lr = 3e-3f,
                                .warmup_epochs = 3,
                                .total_epochs = EPOCHS,
                                .min_lr = 1e-4f};
    hop_early_stop stopper;

    hop_status status = g ? build_model(&mlp, &params, &rng, err)
                          : hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the graph");
    if (status == HOP_OK)
        status = hop_adamw_init(&opt, &params, schedule.base_lr, 1e-4f, err);
    if (status == HOP_OK)
        status = hop_lr_schedule_check(&schedule, err);
    if (status == HOP_OK)
        status = hop_early_stop_init(&stopper, HOP_EARLY_STOP_MAX, PATIENCE, 0.0, err);
    if (status == HOP_OK)
        printf("%zu parameters in %d tensors\n", hop_params_numel(&params, true), params.count);

    for (int epoch = 0; status == HOP_OK && epoch < EPOCHS; epoch++) {
        double loss = 0.0, accuracy = 0.0;
        /* Warm-up epoch 0 has lr 0 by the schedule's definition; start at epoch 1. */
        opt.lr = hop_lr_schedule_at(&schedule, epoch + 1);
        status = train_epoch(g, &params, &mlp, &opt, &train, &rng, &loss, err);
        if (status == HOP_OK)
            status = evaluate(g, &params, &mlp, &valid, &accuracy, err);
        if (status != HOP_OK)
            break;
        printf("epoch %2d  lr %.5f  train loss %.4f  validation accuracy %.3f\n", epoch,
               (double)opt.lr, loss, accuracy);
        if (hop_early_stop_update(&stopper, accuracy, epoch)) {
            printf("stopping: no improvement for %d epochs (best %.3f at epoch %d)\n", PATIENCE,
                   stopper.best, stopper.best_epoch);
            break;
        }
    }

    double test_accuracy;
    if (status == HOP_OK)
        status = evaluate(g, &params, &mlp, &test, &test_accuracy, err);
    if (status == HOP_OK)
        printf("test accuracy %.3f on %d images\n", test_accuracy, test.n);

    hop_adamw_free(&opt);
    hop_sequential_free(&mlp);
    hop_graph_free(g);
    hop_params_free(&params);
    free(order);
    return status;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    hop_error err = {0};
    hop_digits digits;
    hop_status status = hop_digits_load(&digits, &err);
    if (status == HOP_OK) {
        status = run(&digits, seed, &err);
        hop_digits_free(&digits);
    }
    if (status != HOP_OK) {
        fprintf(stderr, "mlp: %s\n", err.message);
        return 1;
    }
    return 0;
}
