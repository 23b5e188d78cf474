/* hop mil: cross-validated MIL training on a bag file, or the digit-bag demo. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hop/data.h"
#include "hop/metrics.h"
#include "hop/mil.h"
#include "report.h"

typedef struct mil_options {
    const char *data;
    const char *report;
    bool demo;
    bool quiet;
    int folds;
    int repeats;
    int progress_every;
    int demo_train_bags;
    int demo_test_bags;
    hop_mil_model_config model;
    hop_mil_train_config train;
} mil_options;

static void options_defaults(mil_options *o)
{
    memset(o, 0, sizeof *o);
    o->folds = 10;
    o->repeats = 1;
    o->progress_every = 10;
    o->demo_train_bags = 200;
    o->demo_test_bags = 100;
    hop_mil_model_defaults(&o->model, 0);
    hop_mil_train_defaults(&o->train);
}

#define N_MIL_FLAGS 24

static void flags_table(mil_options *o, cli_flag *t)
{
    cli_flag flags[N_MIL_FLAGS] = {
        {"data", CLI_STRING, &o->data, 0, 0, "file", "MIL bag file (CSV or UCI Musk, .gz allowed)"},
        {"demo", CLI_BOOL, &o->demo, 0, 0, "", "train and test on bags of the embedded digits"},
        {"folds", CLI_INT, &o->folds, 2, 1000, "folds", "cross-validation folds"},
        {"repeats", CLI_INT, &o->repeats, 1, 1000, "runs", "repeats of the k-fold split"},
        {"seed", CLI_SEED, &o->train.seed, 0, 1.8e19, "", "random seed"},
        {"epochs", CLI_INT, &o->train.epochs, 1, 1e6, "epochs", "training epochs per fold"},
        {"batch", CLI_INT, &o->train.batch_size, 1, 1e5, "bags", "bags per training step"},
        {"lr", CLI_FLOAT, &o->train.lr, 1e-9, 10, "", "AdamW learning rate"},
        {"lr-decay", CLI_FLOAT, &o->train.lr_decay, 0.01, 1, "per epoch",
         "exponential learning-rate decay factor"},
        {"weight-decay", CLI_FLOAT, &o->train.weight_decay, 0, 10, "", "AdamW weight decay"},
        {"clip", CLI_FLOAT, &o->train.clip_norm, 0, 1e6, "", "gradient norm limit, 0 = off"},
        {"embed-layers", CLI_INT, &o->model.embed_layers, 0, HOP_MIL_MAX_EMBED, "layers",
         "fully connected ReLU layers before pooling"},
        {"embed-width", CLI_INT, &o->model.embed_width, 1, 65536, "units",
         "width of each embedding layer"},
        {"heads", CLI_INT, &o->model.heads, 1, 256, "heads", "Hopfield heads"},
        {"head-dim", CLI_INT, &o->model.head_dim, 1, 65536, "features",
         "associative dimension per head"},
        {"pool-output", CLI_INT, &o->model.pool_output, 1, 65536, "features",
         "output width of the pooling layer"},
        {"beta", CLI_FLOAT, &o->model.beta, 0, 1e6, "", "inverse temperature, 0 = 1/sqrt(head-dim)"},
        {"update-steps", CLI_INT, &o->model.update_steps, 0, 100, "steps",
         "extra Hopfield update steps"},
        {"dropout", CLI_FLOAT, &o->model.dropout, 0, 0.99, "probability",
         "dropout on the association matrix"},
        {"input-dropout", CLI_FLOAT, &o->model.input_dropout, 0, 0.99, "probability",
         "dropout on instance features (bag dropout)"},
        {"report", CLI_STRING, &o->report, 0, 0, "file", "write the results as JSON"},
        {"progress-every", CLI_INT, &o->progress_every, 1, 1e6, "epochs",
         "epochs between progress lines on stderr"},
        {"demo-train-bags", CLI_INT, &o->demo_train_bags, 4, 1e6, "bags", "demo training bags"},
        {"quiet", CLI_BOOL, &o->quiet, 0, 0, "", "no progress lines on stderr"},
    };
    memcpy(t, flags, sizeof flags);
}

static void print_help(const cli_flag *flags)
{
    printf("usage: hop mil --data FILE [FLAGS]\n"
           "       hop mil --demo [FLAGS]\n"
           "\n"
           "Trains a Hopfield-pooling classifier (ReLU embedding, HopfieldPooling, ReLU,\n"
           "linear) with stratified bag-level k-fold cross-validation and prints the ROC AUC\n"
           "and accuracy per fold and as mean +- std. Progress goes to stderr.\n"
           "\nFlags:\n");
    cli_print_flags(stdout, flags, N_MIL_FLAGS);
}

static void progress_line(void *user, int repeat, int fold, int epoch, int epochs, double loss)
{
    const mil_options *o = user;
    if (o->quiet || ((epoch + 1) % o->progress_every != 0 && epoch + 1 != epochs))
        return;
    if (fold < 0)
        fprintf(stderr, "epoch %d/%d loss %.4f\n", epoch + 1, epochs, loss);
    else
        fprintf(stderr, "repeat %d/%d fold %d/%d epoch %d/%d loss %.4f\n", repeat + 1,
                o->repeats, fold + 1, o->folds, epoch + 1, epochs, loss);
}

static int fail(const hop_error *err)
{
    fprintf(stderr, "hop mil: %s\n", err->message);
    return 1;
}

static int run_cross_validation(mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_mil_dataset ds;
    if (hop_mil_load(o->data, &ds, &err) != HOP_OK)
        return fail(&err);

    o->model.input_dim = ds.dim;
    int n = o->folds * o->repeats;
    hop_mil_fold_result *results = calloc((size_t)n, sizeof *results);
    int status = 1;
    if (!results)
        hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for %d fold results", n);
    else if (hop_mil_cross_validate(&ds, &o->model, &o->train, o->folds, o->repeats,
                                    progress_line, o, results, &err) == HOP_OK)
        status = report_folds(o->data, o->folds, o->repeats, results, o->report, &err);
    if (status != 0)
        fail(&err);
    free(results);
    hop_mil_free(&ds);
    return status;
}

/* Builds train and test digit bags from disjoint halves of the embedded digits. */
static hop_status demo_bags(const mil_options *o, hop_digits *digits, hop_mil_dataset *train,
                            hop_mil_dataset *test, hop_error *err)
{
    hop_status status = hop_digits_load(digits, err);
    if (status != HOP_OK)
        return status;
    int n_train_digits = digits->n * 2 / 3;
    int *train_pool = malloc((size_t)n_train_digits * sizeof *train_pool);
    int *test_pool = malloc((size_t)(digits->n - n_train_digits) * sizeof *test_pool);
    hop_rng rng;
    hop_rng_seed(&rng, o->train.seed);
    if (!train_pool || !test_pool)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the digit pools");
    if (status == HOP_OK)
        status = hop_digits_split_pools(digits->n, n_train_digits, &rng, train_pool, test_pool,
                                        err);

    hop_digit_bag_options options = hop_digit_bag_defaults();
    options.n_bags = o->demo_train_bags;
    if (status == HOP_OK)
        status = hop_digit_bags_make(digits, train_pool, n_train_digits, &options, &rng, train,
                                     err);
    options.n_bags = o->demo_test_bags;
    if (status == HOP_OK)
        status = hop_digit_bags_make(digits, test_pool, digits->n - n_train_digits, &options,
                                     &rng, test, err);
    free(train_pool);
    free(test_pool);
    return status;
}

static hop_status demo_report(const mil_options *o, double auc, double accuracy, int n_train,
                              int n_test, hop_error *err)
{
    printf("digit bags (target digit 9): %d train bags, %d test bags\n", n_train, n_test);
    printf("test AUC %.4f, test accuracy %.4f\n", auc, accuracy);
    if (!o->report)
        return HOP_OK;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dataset", "digit-bags");
    cJSON_AddNumberToObject(root, "train_bags", n_train);
    cJSON_AddNumberToObject(root, "test_bags", n_test);
    cJSON_AddNumberToObject(root, "test_auc", auc);
    cJSON_AddNumberToObject(root, "test_accuracy", accuracy);
    hop_status status = write_json(o->report, root, err);
    cJSON_Delete(root);
    return status;
}

static int run_demo(mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_digits digits = {0};
    hop_mil_dataset train = {0}, test = {0};
    float *scores = NULL;
    double loss = 0.0, auc = 0.0, accuracy = 0.0;

    hop_status status = demo_bags(o, &digits, &train, &test, &err);
    if (status == HOP_OK && !(scores = malloc((size_t)test.n_bags * sizeof *scores)))
        status = hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for scores");
    if (status == HOP_OK)
        status = hop_mil_fit_score(&train, &test, &o->model, &o->train, o->train.seed,
                                   progress_line, o, 0, -1, scores, &loss, &err);
    if (status == HOP_OK)
        status = hop_roc_auc(scores, test.labels, (size_t)test.n_bags, &auc, &err);
    if (status == HOP_OK)
        status = hop_accuracy(scores, test.labels, (size_t)test.n_bags, &accuracy, &err);
    if (status == HOP_OK)
        status = demo_report(o, auc, accuracy, train.n_bags, test.n_bags, &err);
    free(scores);
    hop_mil_free(&train);
    hop_mil_free(&test);
    hop_digits_free(&digits);
    return status == HOP_OK ? 0 : fail(&err);
}

int cmd_mil(int argc, char **argv)
{
    mil_options o;
    options_defaults(&o);
    cli_flag flags[N_MIL_FLAGS];
    flags_table(&o, flags);

    bool help = false;
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, N_MIL_FLAGS, argc, argv, 2, &help, &err) != HOP_OK)
        return fail(&err);
    if (help) {
        print_help(flags);
        return 0;
    }
    if (o.demo == (o.data != NULL)) {
        fprintf(stderr, "hop mil: give either --data FILE or --demo; see 'hop mil --help'\n");
        return 2;
    }
    if (o.demo)
        return run_demo(&o);
    return run_cross_validation(&o);
}
