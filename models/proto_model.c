/* Prototype learning with HopfieldLayer: data, scaling, stratified splits, model and training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hop/data.h"
#include "hop/loaders.h"
#include "hop/optim.h"
#include "hop/proto.h"

/* Smallest probability that enters the logarithm of the class scores. */
#define PROTO_PROBABILITY_FLOOR 1e-6f

/* Rows per graph when predicting, so the arena stays small for large sets. */
#define PROTO_PREDICT_CHUNK 512

/* SELU's negative saturation value, -lambda * alpha. */
#define SELU_ALPHA_PRIME (-1.7580993408473766f)

/* ---- Data ---- */

static void free_strings(char **strings, int n)
{
    for (int i = 0; strings && i < n; i++)
        free(strings[i]);
    free(strings);
}

void hop_proto_data_free(hop_proto_data *data)
{
    if (!data)
        return;
    free(data->features);
    free(data->labels);
    free_strings(data->class_names, data->n_classes);
    free_strings(data->feature_names, data->dim);
    memset(data, 0, sizeof *data);
}

hop_status hop_proto_data_check(const hop_proto_data *data, const char *source, hop_error *err)
{
    if (data->n < 2 || data->dim < 1 || data->n_classes < 2)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: %d samples of %d features in %d classes; prototype learning "
                             "needs at least 2 samples and 2 classes",
                             source, data->n, data->dim, data->n_classes);
    int *counts = calloc((size_t)data->n_classes, sizeof *counts);
    if (!counts)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory", source);
    hop_status status = HOP_OK;
    for (int i = 0; i < data->n && status == HOP_OK; i++) {
        if (data->labels[i] < 0 || data->labels[i] >= data->n_classes)
            status =
                hop_error_set(err, HOP_ERR_DATA, "%s: label %d of sample %d is outside [0, %d)",
                              source, data->labels[i], i + 1, data->n_classes);
        else
            counts[data->labels[i]]++;
    }
    for (int c = 0; c < data->n_classes && status == HOP_OK; c++)
        if (counts[c] == 0)
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: class %d has no samples; labels must be 0 to %d without "
                                   "gaps",
                                   source, c, data->n_classes - 1);
    for (size_t i = 0; status == HOP_OK && i < (size_t)data->n * data->dim; i++)
        if (!isfinite(data->features[i]))
            status =
                hop_error_set(err, HOP_ERR_NUMERIC, "%s: feature %zu of sample %zu is not finite",
                              source, i % (size_t)data->dim + 1, i / (size_t)data->dim + 1);
    free(counts);
    return status;
}

static hop_status load_digits(hop_proto_data *out, hop_error *err)
{
    hop_digits digits = {0};
    hop_status status = hop_digits_load(&digits, err);
    if (status != HOP_OK)
        return status;
    out->n = digits.n;
    out->dim = HOP_DIGITS_DIM;
    out->n_classes = 10;
    out->features = digits.images;
    out->labels = digits.labels;
    out->image_width = 8;
    out->image_height = 8;
    return HOP_OK;
}

static hop_status load_table(const char *path, hop_proto_data *out, hop_error *err)
{
    hop_table table = {0};
    hop_table_options options = hop_table_defaults();
    hop_status status = hop_table_load(path, &options, &table, err);
    if (status != HOP_OK)
        return status;
    if (!table.labels) {
        hop_table_free(&table);
        return hop_error_set(err, HOP_ERR_DATA, "%s: the table has no label column", path);
    }
    out->n = table.n_rows;
    out->dim = table.n_features;
    out->n_classes = table.n_classes;
    out->features = table.features;
    out->labels = table.labels;
    out->class_names = table.class_names;
    out->feature_names = table.feature_names;
    table.features = NULL;
    table.labels = NULL;
    table.class_names = NULL;
    table.feature_names = NULL;
    hop_table_free(&table);
    return HOP_OK;
}

/* A folder of class subfolders of equally sized images, read as gray values in [0, 1]. */
static hop_status load_image_folder(const char *dir, hop_proto_data *out, hop_error *err)
{
    hop_image_set set = {0};
    hop_image_load_options options = {.channels = 1};
    hop_status status = hop_image_folder_load(dir, &options, &set, err);
    if (status != HOP_OK)
        return status;
    out->n = set.n;
    out->dim = set.width * set.height;
    out->n_classes = set.n_classes;
    out->features = set.pixels;
    out->labels = set.labels;
    out->class_names = set.class_names;
    out->image_width = set.width;
    out->image_height = set.height;
    set.pixels = NULL;
    set.labels = NULL;
    set.class_names = NULL;
    hop_image_set_free(&set);
    return HOP_OK;
}

hop_status hop_proto_data_load(const char *source, hop_proto_data *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    if (!source || !source[0])
        return hop_error_set(err, HOP_ERR_ARG,
                             "no data given; name a CSV file, an image folder "
                             "or 'digits'");
    struct stat st;
    hop_status status;
    if (strcmp(source, "digits") == 0)
        status = load_digits(out, err);
    else if (stat(source, &st) == 0 && S_ISDIR(st.st_mode))
        status = load_image_folder(source, out, err);
    else
        status = load_table(source, out, err);
    if (status == HOP_OK)
        status = hop_proto_data_check(out, source, err);
    if (status != HOP_OK)
        hop_proto_data_free(out);
    return status;
}

/* ---- Scaling ---- */

void hop_proto_scaler_free(hop_proto_scaler *scaler)
{
    if (!scaler)
        return;
    free(scaler->mean);
    free(scaler->std);
    memset(scaler, 0, sizeof *scaler);
}

hop_status hop_proto_scaler_fit(hop_proto_scaler *scaler, const float *x, int dim, const int *rows,
                                int n_rows, hop_error *err)
{
    hop_proto_scaler_free(scaler);
    if (dim < 1 || n_rows < 1 || !rows)
        return hop_error_set(err, HOP_ERR_ARG, "scaling: %d rows of %d features are invalid",
                             n_rows, dim);
    scaler->mean = calloc((size_t)dim, sizeof *scaler->mean);
    scaler->std = calloc((size_t)dim, sizeof *scaler->std);
    double *sum = calloc((size_t)dim * 2, sizeof *sum);
    if (!scaler->mean || !scaler->std || !sum) {
        free(sum);
        hop_proto_scaler_free(scaler);
        return hop_error_set(err, HOP_ERR_NOMEM, "scaling: out of memory for %d features", dim);
    }
    scaler->dim = dim;
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < dim; j++)
            sum[j] += x[(size_t)rows[i] * dim + j];
    for (int j = 0; j < dim; j++)
        scaler->mean[j] = (float)(sum[j] / n_rows);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < dim; j++) {
            double d = x[(size_t)rows[i] * dim + j] - (double)scaler->mean[j];
            sum[dim + j] += d * d;
        }
    for (int j = 0; j < dim; j++) {
        double std = sqrt(sum[dim + j] / n_rows);
        scaler->std[j] = std > 1e-12 ? (float)std : 1.0f;
    }
    free(sum);
    return HOP_OK;
}

void hop_proto_scaler_apply(const hop_proto_scaler *scaler, const float *x, const int *rows,
                            int n_rows, float *out)
{
    int dim = scaler->dim;
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < dim; j++)
            out[(size_t)i * dim + j] =
                (x[(size_t)rows[i] * dim + j] - scaler->mean[j]) / scaler->std[j];
}

void hop_proto_scaler_invert(const hop_proto_scaler *scaler, float *values, int n)
{
    int dim = scaler->dim;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < dim; j++)
            values[(size_t)i * dim + j] =
                values[(size_t)i * dim + j] * scaler->std[j] + scaler->mean[j];
}

/* ---- Stratified folds and splits ---- */

/* Writes the samples idx of each class into order, class after class, each class shuffled. */
static bool order_by_class(const int *labels, const int *idx, int n, int n_classes, hop_rng *rng,
                           int *order, int *class_start)
{
    int *fill = malloc((size_t)n_classes * sizeof *fill);
    if (!fill)
        return false;
    memset(class_start, 0, (size_t)(n_classes + 1) * sizeof *class_start);
    for (int i = 0; i < n; i++)
        class_start[labels[idx[i]] + 1]++;
    for (int c = 0; c < n_classes; c++)
        class_start[c + 1] += class_start[c];
    memcpy(fill, class_start, (size_t)n_classes * sizeof *fill);
    for (int i = 0; i < n; i++)
        order[fill[labels[idx[i]]]++] = idx[i];
    free(fill);
    for (int c = 0; c < n_classes; c++)
        hop_rng_shuffle_int(rng, order + class_start[c],
                            (size_t)(class_start[c + 1] - class_start[c]));
    return true;
}

static int second_count(int count, double fraction)
{
    int held_out = (int)lround(fraction * count);
    if (count >= 2 && held_out < 1)
        held_out = 1;
    if (count >= 2 && held_out > count - 1)
        held_out = count - 1;
    return held_out;
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

hop_status hop_proto_stratified_split(const int *labels, const int *idx, int n, int n_classes,
                                      double fraction, hop_rng *rng, int *first, int *n_first,
                                      int *second, int *n_second, hop_error *err)
{
    if (!(fraction > 0.0 && fraction < 1.0) || n < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "stratified split: fraction %g of %d samples is invalid; it must be "
                             "in (0, 1)",
                             fraction, n);
    int *order = malloc((size_t)n * sizeof *order);
    int *class_start = malloc((size_t)(n_classes + 1) * sizeof *class_start);
    hop_status status = order && class_start
                            ? HOP_OK
                            : hop_error_set(err, HOP_ERR_NOMEM, "stratified split: out of memory");
    for (int i = 0; status == HOP_OK && i < n; i++)
        if (labels[idx[i]] < 0 || labels[idx[i]] >= n_classes)
            status = hop_error_set(err, HOP_ERR_ARG,
                                   "stratified split: label %d of sample %d is outside [0, %d)",
                                   labels[idx[i]], idx[i], n_classes);
    if (status == HOP_OK && !order_by_class(labels, idx, n, n_classes, rng, order, class_start))
        status = hop_error_set(err, HOP_ERR_NOMEM, "stratified split: out of memory");
    if (status == HOP_OK) {
        *n_first = *n_second = 0;
        for (int c = 0; c < n_classes; c++) {
            int count = class_start[c + 1] - class_start[c];
            int held_out = second_count(count, fraction);
            for (int i = 0; i < count; i++) {
                int sample = order[class_start[c] + i];
                if (i < held_out)
                    second[(*n_second)++] = sample;
                else
                    first[(*n_first)++] = sample;
            }
        }
        qsort(first, (size_t)*n_first, sizeof *first, compare_ints);
        qsort(second, (size_t)*n_second, sizeof *second, compare_ints);
    }
    free(order);
    free(class_start);
    return status;
}

/* ---- The prototype model ---- */

hop_proto_config hop_proto_config_default(int input_dim, int n_classes)
{
    hop_proto_config config = {
        .input_dim = input_dim,
        .n_classes = n_classes,
        .prototypes = 5,
        .embed_width = 0,
        .alpha_dropout = 0.0f,
        .beta = 0.0f,
        .beta_trainable = true,
        .freeze_prototypes = false,
        .init = HOP_PROTO_INIT_SAMPLES,
    };
    return config;
}

/* The stored patterns are one (quantity, width + 1) array, which the BLAS indexes with int. */
static hop_status check_size(const hop_proto_config *c, hop_error *err)
{
    double width = c->embed_width > 0 ? c->embed_width : c->input_dim;
    double count = (double)c->prototypes * c->n_classes * (width + 1.0);
    if (c->embed_width > 0)
        count += (double)c->input_dim * c->embed_width;
    if (count <= 2147483647.0)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "prototype model: %d prototypes per class x %d classes of width %.0f "
                         "give %.3g parameters, above the limit of 2147483647; lower the "
                         "prototypes per class or the embedding width",
                         c->prototypes, c->n_classes, width, count);
}

static hop_status check_config(const hop_proto_config *c, hop_error *err)
{
    if (c->input_dim < 1 || c->n_classes < 2)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: %d features and %d classes are invalid; it needs "
                             "at least 1 feature and 2 classes",
                             c->input_dim, c->n_classes);
    if (c->prototypes < 1 || (long)c->prototypes * c->n_classes > 1000000)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: %d prototypes per class are invalid; use 1 to "
                             "1000000 in all",
                             c->prototypes);
    if (c->embed_width < 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: embedding width %d is invalid; use 0 (off) or more",
                             c->embed_width);
    if (!(c->alpha_dropout >= 0.0f && c->alpha_dropout < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: alpha-dropout %g is invalid; it must be in [0, 1)",
                             (double)c->alpha_dropout);
    if (c->alpha_dropout > 0.0f && c->embed_width == 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: alpha-dropout %g acts on the SELU embedding; set "
                             "an embedding width",
                             (double)c->alpha_dropout);
    if (!(c->beta >= 0.0f) || !isfinite(c->beta))
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype model: beta %g is invalid; it must be finite and >= 0 "
                             "(0 selects 2 / width)",
                             (double)c->beta);
    if (c->init != HOP_PROTO_INIT_SAMPLES && c->init != HOP_PROTO_INIT_RANDOM)
        return hop_error_set(err, HOP_ERR_ARG, "prototype model: init %d is unknown", (int)c->init);
    return check_size(c, err);
}

/* The static core: the state [z, 1] meets the stored [y, b] directly, the output is xi T. */
static hop_hopfield_layer_config layer_config(const hop_proto_config *c, int width, int quantity)
{
    hop_hopfield_layer_config lc = hop_hopfield_layer_config_default(width + 1, quantity);
    hop_hopfield_config *h = &lc.hopfield;
    h->stored_pattern_as_static = true;
    h->state_pattern_as_static = true;
    h->pattern_projection_as_static = true;
    h->pattern_projection_size = c->n_classes;
    h->pattern_size = c->n_classes;
    h->normalize_stored_pattern = h->normalize_stored_pattern_affine = false;
    h->normalize_state_pattern = h->normalize_state_pattern_affine = false;
    h->normalize_pattern_projection = h->normalize_pattern_projection_affine = false;
    h->input_bias = false;
    h->disable_out_projection = true;
    /* Squared distances of standardised points grow with the width, so beta shrinks with it. */
    h->scaling = c->beta > 0.0f ? c->beta : 2.0f / (float)width;
    h->beta_trainable = c->beta_trainable;
    lc.trainable = !c->freeze_prototypes;
    lc.lookup_weights_as_separated = true;
    lc.lookup_targets_as_trainable = false;
    return lc;
}

int hop_proto_model_prototype_class(const hop_proto_model *model, int j)
{
    return j / model->config.prototypes;
}

static void set_one_hot_targets(const hop_proto_model *model, hop_params *params)
{
    hop_tensor targets = hop_params_value(params, model->layer.target_weights_id);
    int classes = model->config.n_classes;
    memset(targets.data, 0, (size_t)model->quantity * classes * sizeof *targets.data);
    for (int j = 0; j < model->quantity; j++)
        targets.data[(size_t)j * classes + hop_proto_model_prototype_class(model, j)] = 1.0f;
}

hop_status hop_proto_model_init(hop_proto_model *model, const hop_proto_config *config,
                                hop_params *params, hop_rng *rng, hop_error *err)
{
    memset(model, 0, sizeof *model);
    hop_status status = check_config(config, err);
    if (status != HOP_OK)
        return status;
    model->config = *config;
    model->width = config->embed_width > 0 ? config->embed_width : config->input_dim;
    model->quantity = config->prototypes * config->n_classes;
    model->embed.weight_id = model->embed.bias_id = -1;

    if (config->embed_width > 0) {
        hop_linear_config ec = hop_linear_config_default(config->input_dim, config->embed_width);
        ec.weight_init = HOP_INIT_LECUN_NORMAL;
        status = hop_linear_init(&model->embed, &ec, params, "embed", rng, err);
        if (status != HOP_OK)
            return status;
    }
    hop_hopfield_layer_config lc = layer_config(config, model->width, model->quantity);
    status = hop_hopfield_layer_init(&model->layer, &lc, params, "prototypes", rng, err);
    if (status == HOP_OK)
        set_one_hot_targets(model, params);
    return status;
}

static float selu(float x)
{
    const float lambda = 1.0507009873554805f, alpha = 1.6732632423543772f;
    return x > 0.0f ? lambda * x : lambda * alpha * (expf(x) - 1.0f);
}

/* Embeds one scaled row into out (width floats) with the current weights. */
static void embed_row(const hop_proto_model *model, const hop_params *params, const float *x,
                      float *out)
{
    if (model->config.embed_width == 0) {
        memcpy(out, x, (size_t)model->width * sizeof *out);
        return;
    }
    hop_tensor w = hop_params_value(params, model->embed.weight_id);
    hop_tensor b = hop_params_value(params, model->embed.bias_id);
    int d = model->config.input_dim;
    for (int e = 0; e < model->width; e++) {
        double sum = b.data[e];
        for (int j = 0; j < d; j++)
            sum += (double)w.data[(size_t)e * d + j] * x[j];
        out[e] = selu((float)sum);
    }
}

/* Picks k distinct training samples of each class in class-major order. */
static hop_status choose_samples(const hop_proto_model *model, const int *labels, int n,
                                 hop_rng *rng, int *chosen, hop_error *err)
{
    int k = model->config.prototypes;
    int *members = malloc((size_t)n * sizeof *members);
    if (!members)
        return hop_error_set(err, HOP_ERR_NOMEM, "prototype model: out of memory");
    hop_status status = HOP_OK;
    for (int c = 0; c < model->config.n_classes && status == HOP_OK; c++) {
        int count = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == c)
                members[count++] = i;
        if (count < k) {
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "prototype model: %d prototypes per class start from training "
                                   "samples, but class %d has only %d training samples; use at "
                                   "most %d prototypes per class or the random init",
                                   k, c, count, count);
            break;
        }
        hop_rng_shuffle_int(rng, members, (size_t)count);
        for (int i = 0; i < k; i++)
            chosen[c * k + i] = members[i];
    }
    free(members);
    return status;
}

/* Writes each pattern's bias coordinate: -|y|^2 / 2, so beta (z . y + b) = -beta |z - y|^2 / 2 +
 * const. */
static void set_distance_bias(float *patterns, int quantity, int width)
{
    for (int j = 0; j < quantity; j++) {
        float *row = patterns + (size_t)j * (width + 1);
        double norm = 0.0;
        for (int i = 0; i < width; i++)
            norm += (double)row[i] * row[i];
        row[width] = (float)(-0.5 * norm);
    }
}

hop_status hop_proto_model_set_prototypes(const hop_proto_model *model, hop_params *params,
                                          const float *x, const int *labels, int n, hop_rng *rng,
                                          hop_error *err)
{
    if (!x || !labels || n < 1)
        return hop_error_set(err, HOP_ERR_ARG, "prototype model: %d training samples", n);
    int q = model->quantity, width = model->width;
    float *patterns = malloc((size_t)q * (width + 1) * sizeof *patterns);
    int *chosen = malloc((size_t)q * sizeof *chosen);
    int *rows = malloc((size_t)q * sizeof *rows);
    hop_status status = patterns && chosen && rows
                            ? HOP_OK
                            : hop_error_set(err, HOP_ERR_NOMEM, "prototype model: out of memory");
    if (status == HOP_OK && model->config.init == HOP_PROTO_INIT_SAMPLES) {
        status = choose_samples(model, labels, n, rng, chosen, err);
        for (int j = 0; status == HOP_OK && j < q; j++)
            embed_row(model, params, x + (size_t)chosen[j] * model->config.input_dim,
                      patterns + (size_t)j * (width + 1));
    } else if (status == HOP_OK) {
        hop_tensor lookup = hop_params_value(params, model->layer.lookup_weights_id);
        memcpy(patterns, lookup.data, (size_t)q * (width + 1) * sizeof *patterns);
    }
    if (status == HOP_OK) {
        set_distance_bias(patterns, q, width);
        for (int j = 0; j < q; j++)
            rows[j] = j;
        status =
            hop_hopfield_layer_set_patterns(&model->layer, params, patterns, NULL, q, rows, err);
    }
    free(patterns);
    free(chosen);
    free(rows);
    return status;
}

/* Alpha-dropout (Klambauer et al. 2017): x m + alpha' (1 - m), then a x + b keeps mean and
 * variance. */
static hop_node *alpha_dropout(hop_graph *g, hop_node *x, float p)
{
    if (!x || p <= 0.0f || !hop_graph_training(g))
        return x;
    size_t count = hop_tensor_numel(&x->value);
    float *scale = hop_graph_alloc(g, count * sizeof *scale);
    float *shift = hop_graph_alloc(g, count * sizeof *shift);
    if (!scale || !shift)
        return NULL;
    float a = 1.0f / sqrtf((1.0f - p) * (1.0f + p * SELU_ALPHA_PRIME * SELU_ALPHA_PRIME));
    float b = -a * SELU_ALPHA_PRIME * p;
    hop_rng *rng = &hop_graph_ctx(g)->rng;
    for (size_t i = 0; i < count; i++) {
        bool keep = hop_rng_uniform(rng) >= p;
        scale[i] = keep ? a : 0.0f;
        shift[i] = keep ? b : a * SELU_ALPHA_PRIME + b;
    }
    hop_node *m = hop_input(g, x->value.ndim, x->value.shape, scale);
    hop_node *s = hop_input(g, x->value.ndim, x->value.shape, shift);
    return hop_add(g, hop_mul(g, x, m), s);
}

/* Appends a column of ones to h (B, W) and returns the state patterns (B, 1, W + 1). */
static hop_node *state_patterns(hop_graph *g, hop_node *h, int batch, int width)
{
    float *ones = hop_graph_alloc(g, (size_t)batch * sizeof *ones);
    if (!h || !ones)
        return NULL;
    for (int i = 0; i < batch; i++)
        ones[i] = 1.0f;
    hop_node *parts[2] = {h, hop_input(g, 2, (int[]){batch, 1}, ones)};
    return hop_reshape(g, hop_concat(g, parts, 2, 1), 3, (int[]){batch, 1, width + 1});
}

hop_node *hop_proto_model_forward(hop_graph *g, hop_params *params, const hop_proto_model *model,
                                  hop_node *x)
{
    if (!x)
        return NULL;
    int batch = x->value.shape[0];
    hop_node *h = x;
    if (model->config.embed_width > 0) {
        h = hop_selu(g, hop_linear_forward(g, params, &model->embed, x));
        h = alpha_dropout(g, h, model->config.alpha_dropout);
    }
    hop_node *state = state_patterns(g, h, batch, model->width);
    hop_node *p = hop_hopfield_layer_forward(g, params, &model->layer, state, NULL, NULL);
    p = hop_reshape(g, p, 2, (int[]){batch, model->config.n_classes});
    float floor = PROTO_PROBABILITY_FLOOR;
    return hop_log(g, hop_add(g, p, hop_constant(g, 1, (int[]){1}, &floor)));
}

void hop_proto_model_prototypes(const hop_proto_model *model, const hop_params *params, float *out)
{
    hop_tensor lookup = hop_params_value(params, model->layer.lookup_weights_id);
    for (int j = 0; j < model->quantity; j++)
        memcpy(out + (size_t)j * model->width, lookup.data + (size_t)j * (model->width + 1),
               (size_t)model->width * sizeof *out);
}

float hop_proto_model_beta(const hop_proto_model *model, const hop_params *params)
{
    return hop_hopfield_beta(&model->layer.hopfield, params, 0);
}

/* ---- Training and prediction ---- */

hop_proto_train_config hop_proto_train_config_default(void)
{
    hop_proto_train_config config = {
        .epochs = 300,
        .batch_size = 32,
        .lr = 0.01f,
        .weight_decay = 0.0f,
        .patience = 30,
        .stop_metric = HOP_PROTO_STOP_LOSS,
        .seed = 1,
        .threads = 1,
    };
    return config;
}

static hop_status check_train(const hop_proto_train_config *t, hop_error *err)
{
    if (t->epochs < 1 || t->batch_size < 1 || t->patience < 0 || t->threads < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype training: epochs %d, batch %d, patience %d and threads "
                             "%d must be >= 1, >= 1, >= 0 and >= 1",
                             t->epochs, t->batch_size, t->patience, t->threads);
    if (t->stop_metric != HOP_PROTO_STOP_LOSS && t->stop_metric != HOP_PROTO_STOP_ACCURACY)
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype training: stopping metric %d is invalid; use "
                             "HOP_PROTO_STOP_LOSS or HOP_PROTO_STOP_ACCURACY",
                             (int)t->stop_metric);
    if (!(t->lr > 0.0f) || !isfinite(t->lr) || !(t->weight_decay >= 0.0f))
        return hop_error_set(err, HOP_ERR_ARG,
                             "prototype training: lr %g must be > 0 and weight decay %g >= 0",
                             (double)t->lr, (double)t->weight_decay);
    return HOP_OK;
}

static hop_node *rows_input(hop_graph *g, const float *x, const int *rows, int n, int dim)
{
    float *data = hop_graph_alloc(g, (size_t)n * dim * sizeof *data);
    if (!data)
        return NULL;
    for (int i = 0; i < n; i++)
        memcpy(data + (size_t)i * dim, x + (size_t)(rows ? rows[i] : i) * dim,
               (size_t)dim * sizeof *data);
    return hop_input(g, 2, (int[]){n, dim}, data);
}

static int argmax_row(const float *row, int n)
{
    int best = 0;
    for (int c = 1; c < n; c++)
        if (row[c] > row[best])
            best = c;
    return best;
}

/* Predicts n rows in chunks with gradients and dropout off; loss_sum may be NULL. */
static hop_status predict_rows(hop_graph *g, hop_params *params, const hop_proto_model *model,
                               const float *x, int n, int *predicted, const int *labels,
                               double *loss_sum, hop_error *err)
{
    int classes = model->config.n_classes, dim = model->config.input_dim;
    hop_graph_set_training(g, false);
    hop_graph_set_grad_enabled(g, false);
    hop_status status = HOP_OK;
    if (loss_sum)
        *loss_sum = 0.0;
    for (int start = 0; start < n && status == HOP_OK; start += PROTO_PREDICT_CHUNK) {
        int count = n - start < PROTO_PREDICT_CHUNK ? n - start : PROTO_PREDICT_CHUNK;
        hop_graph_reset(g);
        hop_node *scores = hop_proto_model_forward(
            g, params, model, rows_input(g, x + (size_t)start * dim, NULL, count, dim));
        if (!scores) {
            status = hop_error_set(err, hop_graph_ctx(g)->error.status, "prototype model: %s",
                                   hop_graph_ctx(g)->error.message);
            break;
        }
        for (int i = 0; i < count; i++) {
            const float *row = scores->value.data + (size_t)i * classes;
            predicted[start + i] = argmax_row(row, classes);
            if (loss_sum)
                *loss_sum -= row[labels[start + i]];
        }
    }
    hop_graph_reset(g);
    hop_graph_set_training(g, true);
    hop_graph_set_grad_enabled(g, true);
    return status;
}

typedef struct fit_state {
    hop_ctx ctx;
    hop_graph *g;
    hop_adam opt;
    int *order;
    int *predicted;
    float *best;
    double best_accuracy, best_loss;
    int bad_epochs; /* validations in a row that were not better than the kept epoch */
} fit_state;

static hop_status train_step(fit_state *s, hop_proto_fitted *out, const float *x, const int *y,
                             const int *rows, int count, hop_error *err)
{
    hop_graph_reset(s->g);
    int *labels = hop_graph_alloc(s->g, (size_t)count * sizeof *labels);
    if (!labels)
        return hop_error_set(err, HOP_ERR_NOMEM, "prototype training: out of graph memory");
    for (int i = 0; i < count; i++)
        labels[i] = y[rows[i]];
    hop_node *input = rows_input(s->g, x, rows, count, out->model.config.input_dim);
    hop_node *scores = hop_proto_model_forward(s->g, &out->params, &out->model, input);
    hop_node *loss = hop_softmax_xent(s->g, scores, labels);
    if (!loss)
        return hop_error_set(err, s->ctx.error.status, "prototype training: %s",
                             s->ctx.error.message);
    if (!isfinite(loss->value.data[0]))
        return hop_error_set(err, HOP_ERR_NUMERIC,
                             "prototype training: the loss became %g at epoch %d; lower --lr",
                             (double)loss->value.data[0], out->epochs_run);
    hop_params_zero_grad(&out->params);
    hop_status status = hop_backward(s->g, loss);
    if (status != HOP_OK)
        return hop_error_set(err, status, "prototype training: %s", s->ctx.error.message);
    return hop_adamw_step(&s->opt, &out->params, err);
}

static hop_status train_epoch(fit_state *s, hop_proto_fitted *out,
                              const hop_proto_train_config *train, const float *x, const int *y,
                              int n, hop_error *err)
{
    hop_rng_shuffle_int(&s->ctx.rng, s->order, (size_t)n);
    for (int start = 0; start < n; start += train->batch_size) {
        int count = n - start < train->batch_size ? n - start : train->batch_size;
        hop_status status = train_step(s, out, x, y, s->order + start, count, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

bool hop_proto_validation_better(hop_proto_stop_metric metric, double accuracy, double loss,
                                 double best_accuracy, double best_loss)
{
    if (isnan(accuracy) || isnan(loss))
        return false;
    if (isnan(best_accuracy) || isnan(best_loss))
        return true;
    if (metric == HOP_PROTO_STOP_LOSS)
        return loss < best_loss;
    return accuracy > best_accuracy || (accuracy == best_accuracy && loss < best_loss);
}

/* Keeps the parameters of a better epoch and sets *stop once patience is used up. */
static hop_status validate(fit_state *s, hop_proto_fitted *out, const hop_proto_train_config *train,
                           const float *x_val, const int *y_val, int n_val, int epoch, bool *stop,
                           hop_error *err)
{
    double loss = 0.0;
    hop_status status = predict_rows(s->g, &out->params, &out->model, x_val, n_val, s->predicted,
                                     y_val, &loss, err);
    if (status != HOP_OK)
        return status;
    double accuracy = hop_proto_accuracy(s->predicted, y_val, n_val);
    loss /= n_val;
    bool better = epoch == 0 || hop_proto_validation_better(train->stop_metric, accuracy, loss,
                                                            s->best_accuracy, s->best_loss);
    s->bad_epochs = better ? 0 : s->bad_epochs + 1;
    if (better) {
        s->best_accuracy = accuracy;
        s->best_loss = loss;
        out->best_epoch = epoch;
        out->val_accuracy = accuracy;
        memcpy(s->best, out->params.values, out->params.total * sizeof *s->best);
    }
    *stop = s->bad_epochs >= train->patience;
    return HOP_OK;
}

static hop_status fit_setup(fit_state *s, hop_proto_fitted *out, const hop_proto_config *config,
                            const hop_proto_train_config *train, const float *x, const int *y,
                            int n, int n_val, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, train->seed);
    hop_ctx_init(&s->ctx, train->seed ^ 0x9e3779b97f4a7c15ULL);
    s->ctx.threads = train->threads;
    hop_status status = hop_proto_model_init(&out->model, config, &out->params, &rng, err);
    if (status == HOP_OK)
        status = hop_proto_model_set_prototypes(&out->model, &out->params, x, y, n, &rng, err);
    if (status == HOP_OK)
        status = hop_adam_init(&s->opt, &out->params, train->lr, train->weight_decay, err);
    if (status != HOP_OK)
        return status;
    s->g = hop_graph_new(&s->ctx);
    s->order = malloc((size_t)n * sizeof *s->order);
    s->predicted = malloc((size_t)(n_val > 0 ? n_val : 1) * sizeof *s->predicted);
    s->best = malloc(out->params.total * sizeof *s->best);
    if (!s->g || !s->order || !s->predicted || !s->best)
        return hop_error_set(err, HOP_ERR_NOMEM, "prototype training: out of memory");
    for (int i = 0; i < n; i++)
        s->order[i] = i;
    return HOP_OK;
}

static void fit_state_free(fit_state *s)
{
    hop_graph_free(s->g);
    hop_adamw_free(&s->opt);
    free(s->order);
    free(s->predicted);
    free(s->best);
}

hop_status hop_proto_fit(hop_proto_fitted *out, const hop_proto_config *config,
                         const hop_proto_train_config *train, const float *x_train,
                         const int *y_train, int n_train, const float *x_val, const int *y_val,
                         int n_val, hop_error *err)
{
    memset(out, 0, sizeof *out);
    hop_params_init(&out->params);
    hop_status status = check_train(train, err);
    if (status == HOP_OK &&
        (!x_train || !y_train || n_train < 1 || (n_val > 0 && (!x_val || !y_val))))
        status = hop_error_set(err, HOP_ERR_ARG,
                               "prototype training: %d training and %d validation samples", n_train,
                               n_val);
    fit_state s = {0};
    if (status == HOP_OK)
        status = fit_setup(&s, out, config, train, x_train, y_train, n_train, n_val, err);
    bool stop = false;
    for (int epoch = 0; status == HOP_OK && epoch < train->epochs && !stop; epoch++) {
        status = train_epoch(&s, out, train, x_train, y_train, n_train, err);
        out->epochs_run = epoch + 1;
        if (status == HOP_OK && n_val > 0)
            status = validate(&s, out, train, x_val, y_val, n_val, epoch, &stop, err);
    }
    if (status == HOP_OK && n_val > 0)
        memcpy(out->params.values, s.best, out->params.total * sizeof *s.best);
    if (status == HOP_OK && n_val == 0)
        out->best_epoch = out->epochs_run - 1;
    fit_state_free(&s);
    if (status != HOP_OK)
        hop_proto_fitted_free(out);
    return status;
}

hop_status hop_proto_predict(const hop_proto_fitted *fitted, const float *x, int n, int *predicted,
                             const int *labels, double *mean_loss, hop_error *err)
{
    if (!x || n < 1 || !predicted || (mean_loss && !labels))
        return hop_error_set(err, HOP_ERR_ARG, "prototype prediction: %d rows are invalid", n);
    hop_ctx ctx;
    hop_ctx_init(&ctx, 0);
    hop_graph *g = hop_graph_new(&ctx);
    if (!g)
        return hop_error_set(err, HOP_ERR_NOMEM, "prototype prediction: out of memory");
    double loss = 0.0;
    hop_status status = predict_rows(g, (hop_params *)&fitted->params, &fitted->model, x, n,
                                     predicted, labels, mean_loss ? &loss : NULL, err);
    if (status == HOP_OK && mean_loss)
        *mean_loss = loss / n;
    hop_graph_free(g);
    return status;
}

void hop_proto_fitted_free(hop_proto_fitted *fitted)
{
    if (!fitted)
        return;
    hop_params_free(&fitted->params);
    memset(fitted, 0, sizeof *fitted);
}
