/* MIL bags from any labelled set: a bag is positive when it contains the target class. */
#include "hop/loaders.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

hop_class_bag_options hop_class_bag_defaults(void)
{
    return (hop_class_bag_options){.n_train_bags = 100,
                                   .n_test_bags = 100,
                                   .mean_size = 10.0,
                                   .std_size = 2.0,
                                   .target_class = 0,
                                   .test_fraction = 0.3,
                                   .mode = HOP_BAGS_BALANCED,
                                   .with_replacement = 1};
}

/* Sample indices drawn uniformly (with replacement) or popped from a shuffled queue. */
typedef struct sample_queue {
    int *indices;
    int count;
    int next;
    const char *what; /* "target", "non-target" or "pooled", for messages */
} sample_queue;

typedef struct split_context {
    const float *features;
    const int *labels;
    int dim;
    const hop_class_bag_options *options;
    hop_rng *rng;
    const char *split; /* "train" or "test" */
    sample_queue targets;
    sample_queue others;
    sample_queue all;
} split_context;

static hop_status check_options(const int *labels, int n, int dim,
                                const hop_class_bag_options *options, hop_error *err)
{
    if (n < 2 || dim < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "class bags: %d samples of %d features; need at least 2 samples and "
                             "1 feature",
                             n, dim);
    if (options->n_train_bags < 1 || options->n_test_bags < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "class bags: %d train and %d test bags requested; use 1 or more each",
                             options->n_train_bags, options->n_test_bags);
    if (!(options->mean_size >= 1) || !(options->std_size >= 0) || options->mean_size > 1e6 ||
        options->std_size > 1e6)
        return hop_error_set(err, HOP_ERR_ARG,
                             "class bags: bag size mean %g and spread %g are invalid; use a mean "
                             "of at least 1 and a non-negative spread",
                             options->mean_size, options->std_size);
    if (!(options->test_fraction > 0 && options->test_fraction < 1))
        return hop_error_set(err, HOP_ERR_ARG,
                             "class bags: test fraction %g is invalid; use a value in (0, 1)",
                             options->test_fraction);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "class bags: sample %d has label %d; labels "
                                 "must be non-negative",
                                 i, labels[i]);
    return HOP_OK;
}

static void queue_shuffle(sample_queue *queue, hop_rng *rng)
{
    hop_rng_shuffle_int(rng, queue->indices, (size_t)queue->count);
    queue->next = 0;
}

static hop_status queue_draw(split_context *context, sample_queue *queue, int *index,
                             hop_error *err)
{
    if (queue->count == 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "class bags: the %s pool has no %s samples; choose another target "
                             "class or test fraction",
                             context->split, queue->what);
    if (context->options->with_replacement) {
        *index = queue->indices[hop_rng_below(context->rng, (uint64_t)queue->count)];
        return HOP_OK;
    }
    if (queue->next == queue->count)
        return hop_error_set(err, HOP_ERR_DATA,
                             "class bags: the %s bags need more than the %d %s samples of their "
                             "pool without replacement; request fewer or smaller bags or allow "
                             "replacement",
                             context->split, queue->count, queue->what);
    *index = queue->indices[queue->next++];
    return HOP_OK;
}

static hop_status split_pool(split_context *context, const int *pool, int pool_size, hop_error *err)
{
    int target = context->options->target_class;
    context->targets = (sample_queue){.what = "target"};
    context->others = (sample_queue){.what = "non-target"};
    context->all = (sample_queue){.what = "pooled"};
    context->targets.indices = malloc((size_t)pool_size * sizeof(int));
    context->others.indices = malloc((size_t)pool_size * sizeof(int));
    context->all.indices = malloc((size_t)pool_size * sizeof(int));
    if (!context->targets.indices || !context->others.indices || !context->all.indices)
        return hop_error_set(err, HOP_ERR_NOMEM, "class bags: out of memory");
    for (int i = 0; i < pool_size; i++) {
        sample_queue *queue =
            context->labels[pool[i]] == target ? &context->targets : &context->others;
        queue->indices[queue->count++] = pool[i];
        context->all.indices[context->all.count++] = pool[i];
    }
    queue_shuffle(&context->targets, context->rng);
    queue_shuffle(&context->others, context->rng);
    queue_shuffle(&context->all, context->rng);
    return HOP_OK;
}

static void free_queues(split_context *context)
{
    free(context->targets.indices);
    free(context->others.indices);
    free(context->all.indices);
}

static hop_status draw_sizes(split_context *context, int n_bags, int *sizes, size_t *total,
                             hop_error *err)
{
    const hop_class_bag_options *options = context->options;
    *total = 0;
    for (int b = 0; b < n_bags; b++) {
        double size = round(options->mean_size + options->std_size * hop_rng_normal(context->rng));
        sizes[b] = size < 1 ? 1 : (int)size;
        *total += (size_t)sizes[b];
        if (*total > INT_MAX)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "class bags: %d bags of mean size %g exceed %d instances", n_bags,
                                 options->mean_size, INT_MAX);
    }
    return HOP_OK;
}

/* Fills one bag of size instances at out and stores its 0/1 label in *label. */
static hop_status draw_bag(split_context *context, int size, int positive, int *out, int *label,
                           hop_error *err)
{
    const hop_class_bag_options *options = context->options;
    hop_status status = HOP_OK;
    int n_targets = 0;

    if (options->mode == HOP_BAGS_NATURAL) {
        for (int i = 0; status == HOP_OK && i < size; i++)
            status = queue_draw(context, &context->all, &out[i], err);
    } else if (positive) {
        double share = (double)context->targets.count /
                       (double)(context->targets.count + context->others.count);
        for (int i = 0; i < size; i++)
            n_targets += hop_rng_uniform(context->rng) < share;
        n_targets = n_targets < 1 ? 1 : n_targets;
        for (int i = 0; status == HOP_OK && i < size; i++)
            status = queue_draw(context, i < n_targets ? &context->targets : &context->others,
                                &out[i], err);
        hop_rng_shuffle_int(context->rng, out, (size_t)size);
    } else {
        for (int i = 0; status == HOP_OK && i < size; i++)
            status = queue_draw(context, &context->others, &out[i], err);
    }

    *label = 0;
    for (int i = 0; status == HOP_OK && i < size; i++)
        *label |= context->labels[out[i]] == options->target_class;
    return status;
}

static int *balanced_labels(split_context *context, int n_bags)
{
    int *positive = malloc((size_t)n_bags * sizeof *positive);
    if (!positive)
        return NULL;
    for (int b = 0; b < n_bags; b++)
        positive[b] = b < n_bags / 2;
    hop_rng_shuffle_int(context->rng, positive, (size_t)n_bags);
    return positive;
}

typedef struct bag_arrays {
    int *sizes;
    int *labels;
    int *positive;
    int *members;
    float *features;
    int *instance_labels;
} bag_arrays;

static void free_arrays(bag_arrays *arrays)
{
    free(arrays->sizes);
    free(arrays->labels);
    free(arrays->positive);
    free(arrays->members);
    free(arrays->features);
    free(arrays->instance_labels);
}

static hop_status fill_bags(split_context *context, int n_bags, bag_arrays *arrays, size_t total,
                            hop_error *err)
{
    hop_status status = HOP_OK;
    size_t offset = 0;
    for (int b = 0; status == HOP_OK && b < n_bags; b++) {
        status = draw_bag(context, arrays->sizes[b], arrays->positive[b], arrays->members + offset,
                          &arrays->labels[b], err);
        offset += (size_t)arrays->sizes[b];
    }
    for (size_t i = 0; status == HOP_OK && i < total; i++) {
        int sample = arrays->members[i];
        memcpy(arrays->features + i * (size_t)context->dim,
               context->features + (size_t)sample * (size_t)context->dim,
               (size_t)context->dim * sizeof(float));
        arrays->instance_labels[i] = context->labels[sample] == context->options->target_class;
    }
    return status;
}

static hop_status build_split(split_context *context, const int *pool, int pool_size, int n_bags,
                              hop_mil_dataset *out, hop_error *err)
{
    bag_arrays arrays = {0};
    size_t total = 0;
    hop_status status = split_pool(context, pool, pool_size, err);
    if (status == HOP_OK) {
        arrays.sizes = malloc((size_t)n_bags * sizeof(int));
        arrays.labels = malloc((size_t)n_bags * sizeof(int));
        arrays.positive = balanced_labels(context, n_bags);
        if (!arrays.sizes || !arrays.labels || !arrays.positive)
            status = hop_error_set(err, HOP_ERR_NOMEM, "class bags: out of memory");
    }
    if (status == HOP_OK)
        status = draw_sizes(context, n_bags, arrays.sizes, &total, err);
    if (status == HOP_OK) {
        arrays.members = malloc(total * sizeof(int));
        arrays.features = malloc(total * (size_t)context->dim * sizeof(float));
        arrays.instance_labels = malloc(total * sizeof(int));
        if (!arrays.members || !arrays.features || !arrays.instance_labels)
            status = hop_error_set(err, HOP_ERR_NOMEM,
                                   "class bags: out of memory for %zu "
                                   "instances",
                                   total);
    }
    if (status == HOP_OK)
        status = fill_bags(context, n_bags, &arrays, total, err);
    if (status == HOP_OK)
        status =
            hop_mil_from_arrays(n_bags, context->dim, arrays.features, arrays.sizes, arrays.labels,
                                NULL, arrays.instance_labels, context->split, out, err);
    free_arrays(&arrays);
    free_queues(context);
    return status;
}

/*
 * Writes the test pool and then the train pool into order, stratified by target class so
 * both pools keep the target share of the whole set. Returns the test pool size.
 */
static int split_samples(const int *labels, int n, const hop_class_bag_options *options,
                         hop_rng *rng, int *order)
{
    int n_targets = 0;
    for (int i = 0; i < n; i++)
        n_targets += labels[i] == options->target_class;
    int *targets = order;
    int *others = order + n_targets;
    int t = 0, o = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] == options->target_class)
            targets[t++] = i;
        else
            others[o++] = i;
    }
    hop_rng_shuffle_int(rng, targets, (size_t)t);
    hop_rng_shuffle_int(rng, others, (size_t)o);

    /* Reorder to: test targets, test others, train targets, train others. */
    int test_targets = (int)lround(t * options->test_fraction);
    int test_others = (int)lround(o * options->test_fraction);
    int *copy = malloc((size_t)n * sizeof *copy);
    if (!copy)
        return -1;
    int k = 0;
    for (int i = 0; i < test_targets; i++)
        copy[k++] = targets[i];
    for (int i = 0; i < test_others; i++)
        copy[k++] = others[i];
    for (int i = test_targets; i < t; i++)
        copy[k++] = targets[i];
    for (int i = test_others; i < o; i++)
        copy[k++] = others[i];
    memcpy(order, copy, (size_t)n * sizeof *order);
    free(copy);
    return test_targets + test_others;
}

hop_status hop_class_bags_make(const float *features, const int *labels, int n, int dim,
                               const hop_class_bag_options *options, hop_rng *rng,
                               hop_mil_dataset *train, hop_mil_dataset *test, hop_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    hop_status status = check_options(labels, n, dim, options, err);
    if (status != HOP_OK)
        return status;

    int *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return hop_error_set(err, HOP_ERR_NOMEM, "class bags: out of memory for %d samples", n);
    int n_test = split_samples(labels, n, options, rng, order);
    if (n_test < 0) {
        free(order);
        return hop_error_set(err, HOP_ERR_NOMEM, "class bags: out of memory for %d samples", n);
    }
    if (n_test < 1 || n_test > n - 1) {
        free(order);
        return hop_error_set(err, HOP_ERR_DATA,
                             "class bags: test fraction %g of %d samples leaves an empty pool; "
                             "use more samples or another fraction",
                             options->test_fraction, n);
    }

    split_context context = {
        .features = features, .labels = labels, .dim = dim, .options = options, .rng = rng};
    context.split = "test";
    status = build_split(&context, order, n_test, options->n_test_bags, test, err);
    if (status == HOP_OK) {
        context.split = "train";
        status =
            build_split(&context, order + n_test, n - n_test, options->n_train_bags, train, err);
    }
    free(order);
    if (status != HOP_OK) {
        hop_mil_free(train);
        hop_mil_free(test);
    }
    return status;
}
