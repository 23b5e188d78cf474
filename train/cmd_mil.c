/*
 * hop mil: cross-validated MIL training on a bag file, image-patch bags or bags of sequences,
 * the digit-bag and Fashion-MNIST demos, the repertoire-like sequence generator, and final models
 * with checkpoints.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "hop/blas.h"
#include "hop/data.h"
#include "hop/metrics.h"
#include "hop/mil.h"
#include "loss_plot.h"
#include "mil_images.h"
#include "report.h"

typedef struct mil_options {
    const char *data;
    const char *sequences;
    const char *report;
    const char *save_model;
    const char *checkpoint;
    const char *resume;
    const char *generate;
    const char *motif;
    const char *images;
    const char *positive_class;
    const char *save_attention;
    const char *fashion_dir;
    const char *plot_loss;
    loss_curves curves;
    bool demo;
    bool fashion_demo;
    bool quiet;
    bool no_cv;
    int folds;
    int repeats;
    int progress_every;
    int demo_train_bags;
    int demo_test_bags;
    int checkpoint_every;
    int stop_after;
    int threads;
    int gen_bags;
    int gen_bag_size;
    float witness_rate;
    int patch;
    int stride;
    int attention_bag;
    int fashion_class;
    float bag_mean;
    float bag_std;
    hop_image_load_options load;
    hop_mil_model_config model;
    hop_seq_model_config seq;
    hop_mil_train_config train;
} mil_options;

static int default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && cores < 4096 ? (int)cores : 1;
}

static void options_defaults(mil_options *o)
{
    memset(o, 0, sizeof *o);
    o->folds = 10;
    o->repeats = 1;
    o->progress_every = 10;
    o->demo_train_bags = 200;
    o->demo_test_bags = 100;
    o->threads = default_threads();
    hop_seq_generator gen = hop_seq_generator_defaults();
    o->gen_bags = gen.n_bags;
    o->gen_bag_size = gen.bag_size;
    o->witness_rate = (float)gen.witness_rate;
    o->motif = gen.motif;
    o->patch = 8;
    o->attention_bag = -1;
    o->fashion_dir = "/usr/share/datasets/fashion-mnist";
    o->fashion_class = 9;
    o->bag_mean = 10.0f;
    o->bag_std = 2.0f;
    hop_mil_model_defaults(&o->model, 0);
    hop_seq_model_defaults(&o->seq);
    o->model.dropout = -1.0f; /* unset: each model keeps its own default */
    hop_mil_train_defaults(&o->train);
}

#define N_MIL_FLAGS 57

static void flags_table(mil_options *o, cli_flag *t)
{
    cli_flag flags[N_MIL_FLAGS] = {
        {"data", CLI_STRING, &o->data, 0, 0, "file", "MIL bag file (CSV or UCI Musk, .gz allowed)"},
        {"demo", CLI_BOOL, &o->demo, 0, 0, "", "train and test on bags of the embedded digits"},
        {"sequences", CLI_STRING, &o->sequences, 0, 0, "file",
         "TSV of bag_id, label, sequence[, witness]: bags of amino-acid sequences"},
        {"folds", CLI_INT, &o->folds, 2, 1000, "folds", "cross-validation folds"},
        {"repeats", CLI_INT, &o->repeats, 1, 1000, "runs", "repeats of the k-fold split"},
        {"seed", CLI_SEED, &o->train.seed, 0, (double)UINT64_MAX, "", "random seed"},
        {"threads", CLI_INT, &o->threads, 1, 4096, "threads",
         "OpenBLAS and hop threads" CLI_DEFAULT("the online cores")},
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
        {"beta", CLI_FLOAT, &o->model.beta, 0, 1e6, "",
         "inverse temperature, 0 = 1/sqrt(head-dim)"},
        {"update-steps", CLI_INT, &o->model.update_steps, 0, 100, "steps",
         "extra Hopfield update steps"},
        {"dropout", CLI_FLOAT, &o->model.dropout, 0, 0.99, "probability",
         "dropout on the association matrix, -1 = 0 for features, 0.2 for sequences"},
        {"input-dropout", CLI_FLOAT, &o->model.input_dropout, 0, 0.99, "probability",
         "dropout on instance features (bag dropout)"},
        {"kmer", CLI_INT, &o->seq.kmer, 1, HOP_SEQ_MAX_KMER, "residues",
         "sequences: k-mer length of the Embedding tokens"},
        {"embed-dim", CLI_INT, &o->seq.embed_dim, 1, 65536, "features",
         "sequences: Embedding width"},
        {"dense-layers", CLI_INT, &o->seq.dense_layers, 0, HOP_MIL_MAX_EMBED, "layers",
         "sequences: Linear + ReLU layers after the mean over positions"},
        {"dense-width", CLI_INT, &o->seq.dense_width, 1, 65536, "units",
         "sequences: width of each dense layer"},
        {"report", CLI_STRING, &o->report, 0, 0, "file", "write the results as JSON"},
        {"save-model", CLI_STRING, &o->save_model, 0, 0, "file",
         "after cross-validation, train on all bags and save the model (safetensors)"},
        {"no-cv", CLI_BOOL, &o->no_cv, 0, 0, "",
         "skip cross-validation; only train the final model"},
        {"checkpoint", CLI_STRING, &o->checkpoint, 0, 0, "file",
         "write a training checkpoint of the final model (safetensors)"},
        {"checkpoint-every", CLI_INT, &o->checkpoint_every, 0, 1e9, "steps",
         "steps between checkpoints, 0 = only when training stops"},
        {"stop-after", CLI_INT, &o->stop_after, 0, 1e9, "steps",
         "stop the final training after this many steps in all and checkpoint, 0 = off"},
        {"resume", CLI_STRING, &o->resume, 0, 0, "file",
         "continue the final training from a checkpoint (give the same --data or --sequences)"},
        {"generate-sequences", CLI_STRING, &o->generate, 0, 0, "file",
         "write generated repertoire-like bags as TSV and exit"},
        {"bags", CLI_INT, &o->gen_bags, 2, 1e7, "bags", "generator: number of bags, half positive"},
        {"bag-size", CLI_INT, &o->gen_bag_size, 1, 1e7, "sequences",
         "generator: sequences per bag"},
        {"witness-rate", CLI_FLOAT, &o->witness_rate, 1e-7, 1, "fraction",
         "generator: share of a positive bag's sequences carrying the motif"},
        {"motif", CLI_STRING, &o->motif, 0, 0, "residues",
         "generator: motif implanted in witnesses"},
        {"progress-every", CLI_INT, &o->progress_every, 1, 1e6, "epochs",
         "epochs between progress lines on stderr"},
        {"demo-train-bags", CLI_INT, &o->demo_train_bags, 4, 1e6, "bags", "demo training bags"},
        {"demo-test-bags", CLI_INT, &o->demo_test_bags, 2, 1e6, "bags", "demo test bags"},
        {"quiet", CLI_BOOL, &o->quiet, 0, 0, "", "no progress lines on stderr"},
        {"plot-loss", CLI_STRING, &o->plot_loss, 0, 0, "file",
         "PNG of the training loss per epoch, averaged over the folds of each repeat"},
        {"images", CLI_STRING, &o->images, 0, 0, "folder",
         "image bags: one subfolder per class, each image a bag of patches"},
        {"patch", CLI_INT, &o->patch, 1, 65536, "px", "images: patch side"},
        {"stride", CLI_INT, &o->stride, 0, 65536, "px", "images: step between patches, 0 = patch"},
        {"channels", CLI_INT, &o->load.channels, 0, 4, "channels",
         "images: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, 0 = as the first image"},
        {"resize-w", CLI_INT, &o->load.resize_width, 0, 65536, "px",
         "images: resize width, 0 = keep (give both or neither)"},
        {"resize-h", CLI_INT, &o->load.resize_height, 0, 65536, "px",
         "images: resize height, 0 = keep"},
        {"positive-class", CLI_STRING, &o->positive_class, 0, 0, "name",
         "images: class folder of the positive bags" CLI_DEFAULT("the second of two")},
        {"save-attention", CLI_STRING, &o->save_attention, 0, 0, "file.png",
         "images: train a final model on all bags and draw its pooling weights over one image"},
        {"attention-bag", CLI_INT, &o->attention_bag, -1, 1e9, "bag",
         "images: 0-based bag (image) index to draw, -1 = the first positive bag"},
        {"fashion-demo", CLI_BOOL, &o->fashion_demo, 0, 0, "",
         "train and test on Fashion-MNIST bags (package dataset-fashion-mnist)"},
        {"fashion-dir", CLI_STRING, &o->fashion_dir, 0, 0, "folder",
         "Fashion-MNIST IDX files (train-*, t10k-*, .gz or not)"},
        {"fashion-class", CLI_INT, &o->fashion_class, 0, 9, "class",
         "Fashion-MNIST class that makes a bag positive (9 = ankle boot)"},
        {"bag-mean", CLI_FLOAT, &o->bag_mean, 1, 1e6, "images", "Fashion-MNIST: mean bag size"},
        {"bag-std", CLI_FLOAT, &o->bag_std, 0, 1e6, "images",
         "Fashion-MNIST: standard deviation of the bag size"},
    };
    memcpy(t, flags, sizeof flags);
}

static void print_help(const cli_flag *flags)
{
    printf("usage: hop mil --data FILE [FLAGS]\n"
           "       hop mil --sequences FILE.tsv [FLAGS]\n"
           "       hop mil --demo [FLAGS]\n"
           "       hop mil --images FOLDER [--patch PX] [--save-attention FILE.png] [FLAGS]\n"
           "       hop mil --fashion-demo [--fashion-class C] [FLAGS]\n"
           "       hop mil --generate-sequences OUT.tsv [--bags N] [--bag-size N]\n"
           "               [--witness-rate R] [--motif RESIDUES] [--seed S]\n"
           "       hop mil --data FILE | --sequences FILE --resume CHECKPOINT [FLAGS]\n"
           "\n"
           "Trains a Hopfield-pooling classifier (ReLU embedding, HopfieldPooling, ReLU,\n"
           "linear) with stratified bag-level k-fold cross-validation and prints the ROC AUC\n"
           "and accuracy per fold and as mean +- std. Progress goes to stderr.\n"
           "\n"
           "With --sequences each sequence's k-mers go through an Embedding, a mean over\n"
           "positions and --dense-layers ReLU layers before the pooling; when the file has a\n"
           "witness column, the attention ratio (mean association weight on witness sequences\n"
           "over the mean on the others, in positive test bags) is printed as well.\n"
           "\n"
           "--save-model trains a final model on all bags and saves it, with its settings and\n"
           "feature standardisation, for 'hop predict'. --checkpoint also saves the optimiser\n"
           "and RNG state; --resume continues from it with the checkpoint's settings and gives\n"
           "the same weights as an uninterrupted run with the same --threads (bit for bit with\n"
           "--threads 1). With --resume, training and model flags other than --data,\n"
           "--sequences, --threads, --quiet, --save-model, --checkpoint, --checkpoint-every,\n"
           "--stop-after and --progress-every are ignored with a warning, and without\n"
           "--save-model or --checkpoint the resumed model is not saved.\n"
           "\n"
           "With --images each image of FOLDER (one subfolder per class) is a bag whose\n"
           "instances are its --patch x --patch patches, --stride apart. --save-attention\n"
           "trains a final model on all bags after cross-validation and draws its pooling\n"
           "weights (mean over heads) over the image of --attention-bag.\n"
           "\n"
           "--fashion-demo builds bags of Fashion-MNIST images (positive when a bag contains\n"
           "--fashion-class): train bags from the 60000 training images, test bags from the\n"
           "10000 test images, --demo-train-bags and --demo-test-bags of them.\n"
           "\nFlags:\n");
    cli_print_flags(stdout, flags, N_MIL_FLAGS);
}

static void progress_line(void *user, int repeat, int fold, int epoch, int epochs, double loss)
{
    mil_options *o = user;
    loss_curves_record(&o->curves, repeat, fold, epoch, loss);
    if (o->quiet || ((epoch + 1) % o->progress_every != 0 && epoch + 1 != epochs))
        return;
    if (fold < 0)
        fprintf(stderr, "epoch %d/%d loss %.4f\n", epoch + 1, epochs, loss);
    else
        fprintf(stderr, "repeat %d/%d fold %d/%d epoch %d/%d loss %.4f\n", repeat + 1, o->repeats,
                fold + 1, o->folds, epoch + 1, epochs, loss);
}

static int fail(const hop_error *err)
{
    fprintf(stderr, "hop mil: %s\n", err->message);
    return 1;
}

/* Saves a checkpoint when one is requested and the step is due or training stops. */
static hop_status maybe_checkpoint(const mil_options *o, const hop_mil_trainer *t, bool stopping,
                                   hop_error *err)
{
    if (!o->checkpoint)
        return HOP_OK;
    bool due = o->checkpoint_every > 0 && t->step % o->checkpoint_every == 0;
    if (!due && !stopping)
        return HOP_OK;
    hop_status status = hop_mil_trainer_save(t, o->checkpoint, true, err);
    if (status == HOP_OK && !o->quiet)
        fprintf(stderr, "checkpoint %s at step %ld (epoch %d)\n", o->checkpoint, t->step, t->epoch);
    return status;
}

static long next_stop(const mil_options *o, const hop_mil_trainer *t)
{
    long stop = -1;
    if (o->checkpoint && o->checkpoint_every > 0)
        stop = (t->step / o->checkpoint_every + 1) * o->checkpoint_every;
    if (o->stop_after > 0 && (stop < 0 || stop > o->stop_after))
        stop = o->stop_after;
    return stop;
}

/* Trains the final model to its end or to --stop-after, with checkpoints and the save. */
static hop_status train_final(const mil_options *o, hop_mil_trainer *t, hop_error *err)
{
    hop_status status = HOP_OK;
    bool stopped = false;
    while (status == HOP_OK && !hop_mil_trainer_done(t)) {
        status = hop_mil_trainer_run(t, next_stop(o, t), progress_line, (void *)o, 0, -1, err);
        stopped = o->stop_after > 0 && t->step >= o->stop_after && !hop_mil_trainer_done(t);
        if (status == HOP_OK)
            status = maybe_checkpoint(o, t, stopped || hop_mil_trainer_done(t), err);
        if (stopped)
            break;
    }
    if (status != HOP_OK)
        return status;
    if (stopped) {
        fprintf(stderr, "stopped after %ld steps (epoch %d of %d)%s%s\n", t->step, t->epoch,
                t->train.epochs, o->checkpoint ? "; continue with --resume " : "",
                o->checkpoint ? o->checkpoint : "");
        return HOP_OK;
    }
    if (o->save_model) {
        status = hop_mil_trainer_save(t, o->save_model, false, err);
        if (status == HOP_OK)
            printf("final model: %d bags, %d epochs, %ld steps, loss %.4f, saved to %s\n",
                   t->n_bags, t->train.epochs, t->step, t->last_loss, o->save_model);
    }
    return status;
}

/* Draws the final model's attention over one image for --save-attention. */
static hop_status draw_attention(const mil_options *o, hop_mil_trainer *t,
                                 const hop_image_bags *images, hop_error *err)
{
    int bag = 0, max_patch = 0;
    hop_status status = mil_images_attention(t, images, &o->load, o->attention_bag,
                                             o->save_attention, &bag, &max_patch, err);
    if (status != HOP_OK)
        return status;
    const hop_patch_grid *grid = &images->grids[bag];
    printf("attention of bag %d (%s, label %d): largest weight on patch %d (row %d, column %d), "
           "saved to %s\n",
           bag, grid->path, images->bags.labels[bag], max_patch, max_patch / grid->cols,
           max_patch % grid->cols, o->save_attention);
    return HOP_OK;
}

/* Trains the final model on ds; images, when not NULL, are the bags' source for the heatmap. */
static hop_status final_features(const mil_options *o, const hop_mil_dataset *ds,
                                 const hop_image_bags *images, hop_error *err)
{
    hop_mil_model_config mc = o->model;
    mc.input_dim = ds->dim;
    hop_mil_trainer t;
    hop_status status = hop_mil_trainer_init_features(&t, &mc, &o->train, o->train.seed, err);
    if (status != HOP_OK)
        return status;
    status = hop_mil_trainer_attach_features(&t, ds, false, err);
    if (status == HOP_OK)
        status = train_final(o, &t, err);
    if (status == HOP_OK && images && o->save_attention && hop_mil_trainer_done(&t))
        status = draw_attention(o, &t, images, err);
    hop_mil_trainer_free(&t);
    return status;
}

static hop_status final_sequences(const mil_options *o, const hop_seq_dataset *ds, hop_error *err)
{
    hop_mil_trainer t;
    hop_status status = hop_mil_trainer_init_sequences(&t, &o->seq, &o->train, o->train.seed, err);
    if (status != HOP_OK)
        return status;
    status = hop_mil_trainer_attach_sequences(&t, ds, err);
    if (status == HOP_OK)
        status = train_final(o, &t, err);
    hop_mil_trainer_free(&t);
    return status;
}

static bool wants_final(const mil_options *o)
{
    return o->save_model || o->checkpoint || o->save_attention;
}

static int count_positive(const hop_mil_dataset *ds)
{
    int n = 0;
    for (int b = 0; b < ds->n_bags; b++)
        n += ds->labels[b] == 1;
    return n;
}

/* Loads --images as patch bags, or --data as a bag file. */
static hop_status load_features(const mil_options *o, hop_mil_dataset *ds, hop_image_bags *images,
                                hop_error *err)
{
    memset(images, 0, sizeof *images);
    if (!o->images)
        return hop_mil_load(o->data, ds, err);
    hop_image_bag_options options = {.patch = o->patch,
                                     .stride = o->stride,
                                     .load = o->load,
                                     .positive_class = o->positive_class};
    hop_status status = mil_images_load(o->images, &options, images, err);
    if (status != HOP_OK)
        return status;
    *ds = images->bags;
    if (!o->quiet)
        fprintf(stderr, "%s: %d image bags (%d positive, class \"%s\"), %d patches of %d values\n",
                o->images, ds->n_bags, count_positive(ds),
                images->class_names[images->positive_class], ds->n_instances, ds->dim);
    return HOP_OK;
}

static int run_cross_validation(mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_mil_dataset ds;
    hop_image_bags images;
    if (load_features(o, &ds, &images, &err) != HOP_OK)
        return fail(&err);
    const char *name = o->images ? o->images : o->data;

    o->model.input_dim = ds.dim;
    int n = o->folds * o->repeats;
    hop_mil_fold_result *results = calloc((size_t)n, sizeof *results);
    int status = 1;
    if (!results)
        hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for %d fold results", n);
    else if (o->no_cv)
        status = 0;
    else if (hop_mil_cross_validate(&ds, &o->model, &o->train, o->folds, o->repeats, progress_line,
                                    o, results, &err) == HOP_OK)
        status = report_folds(name, o->folds, o->repeats, results, o->report, &err);
    if (status == 0 && wants_final(o) &&
        final_features(o, &ds, o->images ? &images : NULL, &err) != HOP_OK)
        status = 1;
    if (status != 0)
        fail(&err);
    free(results);
    if (o->images)
        hop_image_bags_free(&images);
    else
        hop_mil_free(&ds);
    return status;
}

/* Pools the attention ratio over folds as the mean of the finite per-fold ratios. */
static double mean_ratio(const hop_mil_fold_result *results, int n)
{
    double sum = 0.0;
    int count = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(results[i].attention_ratio)) {
            sum += results[i].attention_ratio;
            count++;
        }
    return count ? sum / count : NAN;
}

static void add_number_or_null(cJSON *o, const char *key, double value)
{
    if (isfinite(value))
        cJSON_AddNumberToObject(o, key, value);
    else
        cJSON_AddNullToObject(o, key);
}

static hop_status sequence_report(const mil_options *o, const hop_mil_fold_result *results,
                                  hop_error *err)
{
    int n = o->folds * o->repeats;
    if (report_folds(o->sequences, o->folds, o->repeats, results, NULL, err) != 0)
        return err->status;
    double ratio = mean_ratio(results, n);
    if (isfinite(ratio))
        printf("attention ratio (witness / other sequences): %.3f\n", ratio);
    if (!o->report)
        return HOP_OK;

    cJSON *root = report_json(o->sequences, o->folds, o->repeats, results, true);
    add_number_or_null(root, "attention_ratio", ratio);
    hop_status status = write_json(o->report, root, err);
    cJSON_Delete(root);
    return status;
}

static void sequence_model_flags(mil_options *o)
{
    o->seq.heads = o->model.heads;
    o->seq.head_dim = o->model.head_dim;
    o->seq.pool_output = o->model.pool_output;
    o->seq.beta = o->model.beta;
    o->seq.update_steps = o->model.update_steps;
    if (o->model.dropout >= 0.0f)
        o->seq.dropout = o->model.dropout;
    else
        o->model.dropout = 0.0f;
}

static int run_sequences(mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_seq_dataset ds;
    if (hop_seq_load(o->sequences, &ds, &err) != HOP_OK)
        return fail(&err);
    if (hop_seq_check_kmer(&ds, o->seq.kmer, &err) != HOP_OK) {
        hop_seq_free(&ds);
        return fail(&err);
    }
    int n = o->folds * o->repeats;
    hop_mil_fold_result *results = calloc((size_t)n, sizeof *results);
    hop_status status =
        results ? HOP_OK : hop_error_set(&err, HOP_ERR_NOMEM, "out of memory for results");
    if (status == HOP_OK && !o->no_cv)
        status = hop_seq_cross_validate(&ds, &o->seq, &o->train, o->folds, o->repeats,
                                        progress_line, o, results, &err);
    if (status == HOP_OK && !o->no_cv)
        status = sequence_report(o, results, &err);
    if (status == HOP_OK && wants_final(o))
        status = final_sequences(o, &ds, &err);
    free(results);
    hop_seq_free(&ds);
    return status == HOP_OK ? 0 : fail(&err);
}

/* Parameters a model may have: the BLAS takes int extents and matrices are single arrays. */
#define MAX_MODEL_PARAMS 2147483647.0

/*
 * Rejects flags whose model would pass MAX_MODEL_PARAMS. The estimate counts the pooling's
 * three input projections and its output projection, the embedding or dense layers after the
 * first, and the sequence Embedding, but not the first layer that reads the data's features,
 * so it is a lower bound.
 */
static hop_status check_model_size(const mil_options *o, hop_error *err)
{
    bool sequences = o->sequences != NULL;
    int layers = sequences ? o->seq.dense_layers : o->model.embed_layers;
    double width = sequences ? o->seq.dense_width : o->model.embed_width;
    double pool_in = layers > 0 ? width : sequences ? o->seq.embed_dim : 1.0;
    double heads = (double)o->model.heads * o->model.head_dim;
    double count = 3.0 * heads * pool_in + heads * o->model.pool_output;
    if (layers > 1)
        count += (layers - 1) * width * width;
    if (sequences)
        count += pow(20.0, o->seq.kmer) * o->seq.embed_dim;
    if (count <= MAX_MODEL_PARAMS)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "the model would have at least %.3g parameters, above the limit of %.0f; "
                         "lower --heads (%d), --head-dim (%d), --pool-output (%d), %s (%d) or %s "
                         "(%d)%s",
                         count, MAX_MODEL_PARAMS, o->model.heads, o->model.head_dim,
                         o->model.pool_output, sequences ? "--dense-width" : "--embed-width",
                         (int)width, sequences ? "--dense-layers" : "--embed-layers", layers,
                         sequences ? ", --embed-dim or --kmer" : "");
}

/* Flags that a resumed run reads; the checkpoint's stored settings replace all others. */
static const char *const resume_flags[] = {
    "data",       "sequences",  "resume",     "threads",        "quiet",
    "save-model", "checkpoint", "stop-after", "progress-every", "checkpoint-every",
};

static const cli_flag *find_flag(const cli_flag *flags, const char *name, size_t length)
{
    for (int i = 0; i < N_MIL_FLAGS; i++)
        if (strncmp(flags[i].name, name, length) == 0 && flags[i].name[length] == '\0')
            return &flags[i];
    return NULL;
}

static bool used_by_resume(const char *name)
{
    for (size_t i = 0; i < sizeof resume_flags / sizeof resume_flags[0]; i++)
        if (strcmp(resume_flags[i], name) == 0)
            return true;
    return false;
}

/* Prints one warning line naming the given flags that --resume ignores, and one when the
 * resumed model would not be written anywhere. */
static void warn_resume_flags(const mil_options *o, const cli_flag *flags, int argc, char **argv)
{
    char ignored[512] = "";
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        const char *name = argv[i] + 2;
        const char *equals = strchr(name, '=');
        const cli_flag *flag =
            find_flag(flags, name, equals ? (size_t)(equals - name) : strlen(name));
        if (!flag)
            continue;
        if (!equals && flag->type != CLI_BOOL)
            i++; /* the next word is the value */
        if (used_by_resume(flag->name) || strstr(ignored, flag->name))
            continue;
        size_t used = strlen(ignored);
        snprintf(ignored + used, sizeof ignored - used, "%s--%s", used ? ", " : "", flag->name);
    }
    if (ignored[0])
        fprintf(stderr,
                "hop mil: warning: --resume trains with the settings stored in %s, so %s %s "
                "ignored\n",
                o->resume, ignored, strchr(ignored, ',') ? "are" : "is");
    if (!o->save_model && !o->checkpoint)
        fprintf(stderr, "hop mil: warning: neither --save-model nor --checkpoint is given, so the "
                        "resumed model is not saved\n");
}

static int run_resume(const mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_mil_trainer t;
    bool checkpoint = false;
    if (hop_mil_trainer_load(&t, o->resume, &checkpoint, &err) != HOP_OK)
        return fail(&err);
    hop_mil_dataset features = {0};
    hop_seq_dataset sequences = {0};
    hop_status status = HOP_OK;
    if (!checkpoint)
        status = hop_error_set(&err, HOP_ERR_ARG,
                               "%s is a model file without training state; resume needs a file "
                               "written with --checkpoint",
                               o->resume);
    else if (t.kind == HOP_MIL_FEATURES && !o->data)
        status =
            hop_error_set(&err, HOP_ERR_ARG, "%s trains on features; give --data FILE", o->resume);
    else if (t.kind == HOP_MIL_SEQUENCES && !o->sequences)
        status = hop_error_set(&err, HOP_ERR_ARG, "%s trains on sequences; give --sequences FILE",
                               o->resume);
    if (status == HOP_OK && t.kind == HOP_MIL_FEATURES) {
        status = hop_mil_load(o->data, &features, &err);
        if (status == HOP_OK)
            status = hop_mil_trainer_attach_features(&t, &features, true, &err);
    } else if (status == HOP_OK) {
        status = hop_seq_load(o->sequences, &sequences, &err);
        if (status == HOP_OK)
            status = hop_seq_check_kmer(&sequences, t.seq_config.kmer, &err);
        if (status == HOP_OK)
            status = hop_mil_trainer_attach_sequences(&t, &sequences, &err);
    }
    if (status == HOP_OK && !o->quiet)
        fprintf(stderr, "resuming %s at step %ld (epoch %d of %d)\n", o->resume, t.step, t.epoch,
                t.train.epochs);
    if (status == HOP_OK)
        status = train_final(o, &t, &err);
    hop_mil_trainer_free(&t);
    hop_mil_free(&features);
    hop_seq_free(&sequences);
    return status == HOP_OK ? 0 : fail(&err);
}

static int run_generate(const mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    hop_seq_generator g = hop_seq_generator_defaults();
    g.n_bags = o->gen_bags;
    g.bag_size = o->gen_bag_size;
    g.witness_rate = o->witness_rate;
    g.motif = o->motif;
    hop_rng rng;
    hop_rng_seed(&rng, o->train.seed);
    hop_seq_dataset ds;
    if (hop_seq_generate(&g, &rng, &ds, &err) != HOP_OK)
        return fail(&err);
    char *text = NULL;
    size_t length = 0;
    hop_status status = hop_seq_format(&ds, &text, &length, &err);
    if (status == HOP_OK)
        status = write_file_atomic(o->generate, text, &err);
    if (status == HOP_OK) {
        int witnesses = 0;
        for (int i = 0; i < ds.n_seqs; i++)
            witnesses += ds.witness[i];
        printf("wrote %d bags (%d positive) of %d sequences, %d carrying motif %s, to %s\n",
               ds.n_bags, ds.n_bags / 2, g.bag_size, witnesses, g.motif, o->generate);
    }
    free(text);
    hop_seq_free(&ds);
    return status == HOP_OK ? 0 : fail(&err);
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
        status =
            hop_digits_split_pools(digits->n, n_train_digits, &rng, train_pool, test_pool, err);

    hop_digit_bag_options options = hop_digit_bag_defaults();
    options.n_bags = o->demo_train_bags;
    if (status == HOP_OK)
        status =
            hop_digit_bags_make(digits, train_pool, n_train_digits, &options, &rng, train, err);
    options.n_bags = o->demo_test_bags;
    if (status == HOP_OK)
        status = hop_digit_bags_make(digits, test_pool, digits->n - n_train_digits, &options, &rng,
                                     test, err);
    free(train_pool);
    free(test_pool);
    return status;
}

static hop_status fashion_bags(const mil_options *o, hop_mil_dataset *train, hop_mil_dataset *test,
                               hop_error *err)
{
    mil_fashion_options options = {.dir = o->fashion_dir,
                                   .target_class = o->fashion_class,
                                   .n_train_bags = o->demo_train_bags,
                                   .n_test_bags = o->demo_test_bags,
                                   .mean_size = o->bag_mean,
                                   .std_size = o->bag_std,
                                   .seed = o->train.seed};
    return mil_fashion_bags(&options, train, test, err);
}

static hop_status demo_report(const mil_options *o, double auc, double accuracy, int n_train,
                              int n_test, hop_error *err)
{
    if (o->fashion_demo)
        printf("Fashion-MNIST bags (target class %d, %s): %d train bags, %d test bags\n",
               o->fashion_class, mil_fashion_classes[o->fashion_class], n_train, n_test);
    else
        printf("digit bags (target digit 9): %d train bags, %d test bags\n", n_train, n_test);
    printf("test AUC %.4f, test accuracy %.4f\n", auc, accuracy);
    if (!o->report)
        return HOP_OK;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dataset", o->fashion_demo ? "fashion-mnist-bags" : "digit-bags");
    if (o->fashion_demo)
        cJSON_AddNumberToObject(root, "target_class", o->fashion_class);
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

    hop_status status = o->fashion_demo ? fashion_bags(o, &train, &test, &err)
                                        : demo_bags(o, &digits, &train, &test, &err);
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

/* Runs the selected mode, and draws its loss curves when --plot-loss is given. */
static int run_with_plot(mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    bool single = o->demo || o->fashion_demo;
    if (o->plot_loss && loss_curves_init(&o->curves, single ? 1 : o->repeats, single ? 1 : o->folds,
                                         o->train.epochs, single, &err) != HOP_OK)
        return fail(&err);

    int status;
    if (single)
        status = run_demo(o);
    else if (o->sequences)
        status = run_sequences(o);
    else
        status = run_cross_validation(o);

    const char *dataset = single         ? (o->demo ? "digit bags" : "Fashion-MNIST bags")
                          : o->sequences ? o->sequences
                          : o->images    ? o->images
                                         : o->data;
    if (status == 0 && o->plot_loss &&
        loss_curves_plot(&o->curves, dataset, o->plot_loss, &err) != HOP_OK)
        status = fail(&err);
    loss_curves_free(&o->curves);
    return status;
}

static int check_modes(const mil_options *o)
{
    int sources = (o->demo ? 1 : 0) + (o->data ? 1 : 0) + (o->sequences ? 1 : 0) +
                  (o->images ? 1 : 0) + (o->fashion_demo ? 1 : 0);
    if (sources != 1 && (o->images || o->fashion_demo)) {
        fprintf(stderr, "hop mil: give one of --data FILE, --demo, --fashion-demo, --images "
                        "FOLDER or --sequences FILE; see 'hop mil --help'\n");
        return 2;
    }
    if (sources != 1) {
        fprintf(stderr, "hop mil: give either --data FILE or --demo, or --sequences FILE; see "
                        "'hop mil --help'\n");
        return 2;
    }
    if (o->demo && (wants_final(o) || o->resume || o->no_cv)) {
        fprintf(stderr, "hop mil: --save-model, --checkpoint, --resume and --no-cv need --data "
                        "or --sequences, not --demo\n");
        return 2;
    }
    if (o->fashion_demo && (wants_final(o) || o->resume || o->no_cv)) {
        fprintf(stderr, "hop mil: --save-model, --checkpoint, --save-attention, --resume and "
                        "--no-cv do not apply to --fashion-demo\n");
        return 2;
    }
    if (o->save_attention && !o->images) {
        fprintf(stderr, "hop mil: --save-attention draws image patches; it needs --images "
                        "FOLDER\n");
        return 2;
    }
    if (o->images && o->resume) {
        fprintf(stderr, "hop mil: --resume continues --data or --sequences runs, not "
                        "--images\n");
        return 2;
    }
    if (o->no_cv && !wants_final(o)) {
        fprintf(stderr, "hop mil: --no-cv trains only the final model; give --save-model FILE or "
                        "--checkpoint FILE\n");
        return 2;
    }
    if (o->stop_after > 0 && !o->checkpoint) {
        fprintf(stderr, "hop mil: --stop-after needs --checkpoint FILE to keep the state\n");
        return 2;
    }
    return 0;
}

/* Rejects outputs that would overwrite an input; --checkpoint may rewrite --resume's file. */
static hop_status check_paths(const mil_options *o, hop_error *err)
{
    cli_path outputs[] = {{"report", o->report},
                          {"save-model", o->save_model},
                          {"save-attention", o->save_attention},
                          {"plot-loss", o->plot_loss},
                          {"checkpoint", o->checkpoint}};
    cli_path inputs[] = {{"data", o->data}, {"sequences", o->sequences}, {"resume", o->resume}};
    /* --checkpoint may equal --resume, so a resumed run can update its own checkpoint. */
    hop_status status = cli_check_outputs(outputs, 5, inputs, 2, err);
    if (status == HOP_OK)
        status = cli_check_outputs(outputs, 4, &inputs[2], 1, err);
    if (status == HOP_OK)
        status = cli_check_writable(outputs, 5, err);
    return status;
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
    if (cli_parse(flags, N_MIL_FLAGS, argc, argv, 2, &help, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        print_help(flags);
        return 0;
    }
    hop_blas_set_threads(o.threads);
    o.train.threads = o.threads;
    if (o.generate)
        return run_generate(&o);
    int bad = check_modes(&o);
    if (bad)
        return bad;
    if (check_paths(&o, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    sequence_model_flags(&o);
    if (o.resume) {
        warn_resume_flags(&o, flags, argc, argv);
        return run_resume(&o);
    }
    if (check_model_size(&o, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    return run_with_plot(&o);
}
