/*
 * Model files and training checkpoints of the MIL trainer, as safetensors. The layout of
 * names and metadata keys is documented in docs/checkpoints.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/io.h"
#include "hop/mil.h"

#define FORMAT_MODEL      "hop-model"
#define FORMAT_CHECKPOINT "hop-checkpoint"

/* Tensors under these prefixes are training state, not model parameters. */
static const char *const state_prefixes[] = {"optimizer.", "rng.", "train.", "standardizer.", NULL};

typedef struct meta_writer {
    hop_st_writer *w;
    hop_status status;
    hop_error *err;
} meta_writer;

static void put(meta_writer *m, const char *key, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void put(meta_writer *m, const char *key, const char *format, ...)
{
    if (m->status != HOP_OK)
        return;
    char value[64];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    m->status = hop_st_writer_set_metadata(m->w, key, value, m->err);
}

static void put_settings(meta_writer *m, const hop_mil_trainer *t)
{
    const hop_mil_train_config *tc = &t->train;
    if (t->kind == HOP_MIL_FEATURES) {
        const hop_mil_model_config *c = &t->model_config;
        put(m, "model.kind", "features");
        put(m, "model.input_dim", "%d", c->input_dim);
        put(m, "model.embed_layers", "%d", c->embed_layers);
        put(m, "model.embed_width", "%d", c->embed_width);
        put(m, "model.heads", "%d", c->heads);
        put(m, "model.head_dim", "%d", c->head_dim);
        put(m, "model.pool_output", "%d", c->pool_output);
        put(m, "model.beta", "%.9g", c->beta);
        put(m, "model.update_steps", "%d", c->update_steps);
        put(m, "model.dropout", "%.9g", c->dropout);
        put(m, "model.input_dropout", "%.9g", c->input_dropout);
    } else {
        const hop_seq_model_config *c = &t->seq_config;
        put(m, "model.kind", "sequences");
        put(m, "model.kmer", "%d", c->kmer);
        put(m, "model.embed_dim", "%d", c->embed_dim);
        put(m, "model.dense_layers", "%d", c->dense_layers);
        put(m, "model.dense_width", "%d", c->dense_width);
        put(m, "model.heads", "%d", c->heads);
        put(m, "model.head_dim", "%d", c->head_dim);
        put(m, "model.pool_output", "%d", c->pool_output);
        put(m, "model.beta", "%.9g", c->beta);
        put(m, "model.update_steps", "%d", c->update_steps);
        put(m, "model.dropout", "%.9g", c->dropout);
    }
    put(m, "train.epochs", "%d", tc->epochs);
    put(m, "train.batch_size", "%d", tc->batch_size);
    put(m, "train.lr", "%.9g", tc->lr);
    put(m, "train.lr_decay", "%.9g", tc->lr_decay);
    put(m, "train.weight_decay", "%.9g", tc->weight_decay);
    put(m, "train.clip_norm", "%.9g", tc->clip_norm);
    put(m, "train.seed", "%" PRIu64, tc->seed);
    put(m, "train.run_seed", "%" PRIu64, t->run_seed);
}

static void put_state(meta_writer *m, const hop_mil_trainer *t)
{
    put(m, "state.epoch", "%d", t->epoch);
    put(m, "state.position", "%d", t->position);
    put(m, "state.step", "%ld", t->step);
    put(m, "state.n_bags", "%d", t->n_bags);
    put(m, "state.loss_sum", "%.17g", t->loss_sum);
    put(m, "state.last_loss", "%.17g", t->last_loss);
    put(m, "optimizer.name", "adamw");
    put(m, "optimizer.adamw.step", "%ld", t->opt.step);
    put(m, "optimizer.adamw.lr", "%.9g", t->opt.lr);
    put(m, "optimizer.adamw.beta1", "%.9g", t->opt.beta1);
    put(m, "optimizer.adamw.beta2", "%.9g", t->opt.beta2);
    put(m, "optimizer.adamw.eps", "%.9g", t->opt.eps);
}

static hop_status add_state_tensors(hop_st_writer *w, const hop_mil_trainer *t, hop_error *err)
{
    int64_t moments = (int64_t)t->opt.size, rng = 4, bags = t->n_bags;
    hop_status status =
        hop_st_writer_add(w, "optimizer.adamw.m", HOP_DTYPE_F32, 1, &moments, t->opt.m, err);
    if (status == HOP_OK)
        status =
            hop_st_writer_add(w, "optimizer.adamw.v", HOP_DTYPE_F32, 1, &moments, t->opt.v, err);
    if (status == HOP_OK)
        status = hop_st_writer_add(w, "rng.train", HOP_DTYPE_U64, 1, &rng, t->rng.s, err);
    if (status == HOP_OK)
        status = hop_st_writer_add(w, "rng.graph", HOP_DTYPE_U64, 1, &rng, t->ctx.rng.s, err);
    if (status == HOP_OK && t->order)
        status = hop_st_writer_add(w, "train.order", HOP_DTYPE_I32, 1, &bags, t->order, err);
    return status;
}

hop_status hop_mil_trainer_save(const hop_mil_trainer *t, const char *path, bool training_state,
                                hop_error *err)
{
    hop_st_writer w;
    hop_st_writer_init(&w);
    meta_writer m = {&w, HOP_OK, err};
    put(&m, "format", "%s", training_state ? FORMAT_CHECKPOINT : FORMAT_MODEL);
    put(&m, "hop.version", "%s", HOP_VERSION_STRING);
    put_settings(&m, t);
    if (training_state)
        put_state(&m, t);
    hop_status status = m.status;
    if (status == HOP_OK)
        status = hop_st_writer_add_params(&w, &t->params, err);
    int64_t dim = t->standardizer.dim;
    if (status == HOP_OK && t->standardizer.mean) {
        status = hop_st_writer_add(&w, "standardizer.mean", HOP_DTYPE_F64, 1, &dim,
                                   t->standardizer.mean, err);
        if (status == HOP_OK)
            status = hop_st_writer_add(&w, "standardizer.std", HOP_DTYPE_F64, 1, &dim,
                                       t->standardizer.std, err);
    }
    if (status == HOP_OK && training_state)
        status = add_state_tensors(&w, t, err);
    if (status == HOP_OK)
        status = hop_st_writer_save(&w, path, err);
    hop_st_writer_free(&w);
    return status;
}

/* Reads metadata values; the first failure is kept in status. */
typedef struct meta_reader {
    const hop_safetensors *st;
    hop_status status;
    hop_error *err;
} meta_reader;

static const char *get(meta_reader *r, const char *key)
{
    if (r->status != HOP_OK)
        return NULL;
    const char *value = hop_safetensors_metadata(r->st, key);
    if (!value)
        r->status =
            hop_error_set(r->err, HOP_ERR_DATA, "%s: metadata '%s' is missing", r->st->source, key);
    return value;
}

static double get_number(meta_reader *r, const char *key, double min, double max)
{
    const char *text = get(r, key);
    if (!text)
        return 0.0;
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !(value >= min && value <= max))
        r->status = hop_error_set(r->err, HOP_ERR_DATA,
                                  "%s: metadata '%s' is '%s'; expected a number in [%g, %g]",
                                  r->st->source, key, text, min, max);
    return value;
}

static int get_int(meta_reader *r, const char *key, int min, int max)
{
    double value = get_number(r, key, min, max);
    if (r->status == HOP_OK && floor(value) != value)
        r->status = hop_error_set(r->err, HOP_ERR_DATA, "%s: metadata '%s' must be an integer",
                                  r->st->source, key);
    return (int)value;
}

static float get_float(meta_reader *r, const char *key)
{
    const char *text = get(r, key);
    if (!text)
        return 0.0f;
    char *end = NULL;
    float value = strtof(text, &end);
    if (end == text || *end || !isfinite(value))
        r->status = hop_error_set(r->err, HOP_ERR_DATA,
                                  "%s: metadata '%s' is '%s'; expected a finite number",
                                  r->st->source, key, text);
    return value;
}

static uint64_t get_u64(meta_reader *r, const char *key)
{
    const char *text = get(r, key);
    if (!text)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (end == text || *end || errno == ERANGE || text[0] == '-')
        r->status = hop_error_set(r->err, HOP_ERR_DATA,
                                  "%s: metadata '%s' is '%s'; expected an unsigned integer",
                                  r->st->source, key, text);
    return (uint64_t)value;
}

/*
 * Upper limits of the stored settings: the ranges of the hop mil flags that set them, so a file
 * loads exactly when hop mil could have written it. Widths may be 0 where no layer uses them.
 */
#define MAX_EPOCHS       1000000
#define MAX_BATCH        100000
#define MAX_HEADS        256
#define MAX_WIDTH        65536
#define MAX_UPDATE_STEPS 100

static void read_train_config(meta_reader *r, hop_mil_train_config *tc, uint64_t *run_seed)
{
    hop_mil_train_defaults(tc);
    tc->epochs = get_int(r, "train.epochs", 1, MAX_EPOCHS);
    tc->batch_size = get_int(r, "train.batch_size", 1, MAX_BATCH);
    tc->lr = get_float(r, "train.lr");
    tc->lr_decay = get_float(r, "train.lr_decay");
    tc->weight_decay = get_float(r, "train.weight_decay");
    tc->clip_norm = get_float(r, "train.clip_norm");
    tc->seed = get_u64(r, "train.seed");
    *run_seed = get_u64(r, "train.run_seed");
}

static void read_features_config(meta_reader *r, hop_mil_model_config *c)
{
    hop_mil_model_defaults(c, 0);
    c->input_dim = get_int(r, "model.input_dim", 1, 1 << 24);
    c->embed_layers = get_int(r, "model.embed_layers", 0, HOP_MIL_MAX_EMBED);
    c->embed_width = get_int(r, "model.embed_width", 0, MAX_WIDTH);
    c->heads = get_int(r, "model.heads", 1, MAX_HEADS);
    c->head_dim = get_int(r, "model.head_dim", 1, MAX_WIDTH);
    c->pool_output = get_int(r, "model.pool_output", 1, MAX_WIDTH);
    c->beta = get_float(r, "model.beta");
    c->update_steps = get_int(r, "model.update_steps", 0, MAX_UPDATE_STEPS);
    c->dropout = get_float(r, "model.dropout");
    c->input_dropout = get_float(r, "model.input_dropout");
}

static void read_sequences_config(meta_reader *r, hop_seq_model_config *c)
{
    hop_seq_model_defaults(c);
    c->kmer = get_int(r, "model.kmer", 1, HOP_SEQ_MAX_KMER);
    c->embed_dim = get_int(r, "model.embed_dim", 1, MAX_WIDTH);
    c->dense_layers = get_int(r, "model.dense_layers", 0, HOP_MIL_MAX_EMBED);
    c->dense_width = get_int(r, "model.dense_width", 0, MAX_WIDTH);
    c->heads = get_int(r, "model.heads", 1, MAX_HEADS);
    c->head_dim = get_int(r, "model.head_dim", 1, MAX_WIDTH);
    c->pool_output = get_int(r, "model.pool_output", 1, MAX_WIDTH);
    c->beta = get_float(r, "model.beta");
    c->update_steps = get_int(r, "model.update_steps", 0, MAX_UPDATE_STEPS);
    c->dropout = get_float(r, "model.dropout");
}

/* Builds the trainer that the file's settings describe, with freshly initialised weights. */
static hop_status build_trainer(hop_mil_trainer *t, const hop_safetensors *st, hop_error *err)
{
    meta_reader r = {st, HOP_OK, err};
    const char *kind = get(&r, "model.kind");
    hop_mil_train_config tc;
    uint64_t run_seed = 0;
    read_train_config(&r, &tc, &run_seed);
    hop_mil_model_config mc;
    hop_seq_model_config sc;
    int features = kind && strcmp(kind, "features") == 0;
    if (kind && !features && strcmp(kind, "sequences") != 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: model.kind '%s' is unknown; expected features or sequences",
                             st->source, kind);
    if (features)
        read_features_config(&r, &mc);
    else
        read_sequences_config(&r, &sc);
    if (r.status != HOP_OK)
        return r.status;
    if (features)
        return hop_mil_trainer_init_features(t, &mc, &tc, run_seed, err);
    return hop_mil_trainer_init_sequences(t, &sc, &tc, run_seed, err);
}

static hop_status load_standardizer(hop_mil_trainer *t, const hop_safetensors *st, hop_error *err)
{
    if (t->kind != HOP_MIL_FEATURES)
        return HOP_OK;
    int dim = t->model_config.input_dim;
    hop_standardizer *s = &t->standardizer;
    s->mean = malloc((size_t)dim * sizeof *s->mean);
    s->std = malloc((size_t)dim * sizeof *s->std);
    if (!s->mean || !s->std)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the standardisation");
    s->dim = dim;
    hop_status status =
        hop_safetensors_copy(st, "standardizer.mean", HOP_DTYPE_F64, s->mean, (size_t)dim, err);
    if (status == HOP_OK)
        status =
            hop_safetensors_copy(st, "standardizer.std", HOP_DTYPE_F64, s->std, (size_t)dim, err);
    for (int i = 0; status == HOP_OK && i < dim; i++)
        if (!isfinite(s->mean[i]) || !(s->std[i] > 0.0) || !isfinite(s->std[i]))
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: standardizer entry %d (mean %g, std %g) is invalid",
                                   st->source, i, s->mean[i], s->std[i]);
    return status;
}

/* AdamW's first moments must be finite and its second moments finite and non-negative. */
static hop_status check_moments(const hop_mil_trainer *t, const char *source, hop_error *err)
{
    for (size_t i = 0; i < t->opt.size; i++) {
        if (!isfinite(t->opt.m[i]))
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: tensor 'optimizer.adamw.m' has the invalid value %g at "
                                 "index %zu; expected a finite number",
                                 source, (double)t->opt.m[i], i);
        if (!isfinite(t->opt.v[i]) || t->opt.v[i] < 0.0f)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: tensor 'optimizer.adamw.v' has the invalid value %g at "
                                 "index %zu; expected a finite number >= 0",
                                 source, (double)t->opt.v[i], i);
    }
    return HOP_OK;
}

static hop_status load_state(hop_mil_trainer *t, const hop_safetensors *st, hop_error *err)
{
    meta_reader r = {st, HOP_OK, err};
    int n_bags = get_int(&r, "state.n_bags", 1, 1 << 30);
    int epoch = get_int(&r, "state.epoch", 0, t->train.epochs);
    int position = get_int(&r, "state.position", 0, n_bags - 1);
    long step = (long)get_number(&r, "state.step", 0, 9e15);
    long opt_step = (long)get_number(&r, "optimizer.adamw.step", 0, 9e15);
    double loss_sum = get_number(&r, "state.loss_sum", 0, INFINITY);
    double last_loss = get_number(&r, "state.last_loss", 0, INFINITY);
    if (r.status != HOP_OK)
        return r.status;
    int *order = malloc((size_t)n_bags * sizeof *order);
    if (!order)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the bag order");
    hop_rng rng, graph_rng;
    hop_status status =
        hop_safetensors_copy(st, "train.order", HOP_DTYPE_I32, order, (size_t)n_bags, err);
    if (status == HOP_OK)
        status = hop_safetensors_copy(st, "rng.train", HOP_DTYPE_U64, rng.s, 4, err);
    if (status == HOP_OK)
        status = hop_safetensors_copy(st, "rng.graph", HOP_DTYPE_U64, graph_rng.s, 4, err);
    for (int i = 0; status == HOP_OK && i < n_bags; i++)
        if (order[i] < 0 || order[i] >= n_bags)
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: train.order[%d] = %d is outside "
                                   "[0, %d)",
                                   st->source, i, order[i], n_bags);
    if (status == HOP_OK)
        status = hop_safetensors_copy(st, "optimizer.adamw.m", HOP_DTYPE_F32, t->opt.m, t->opt.size,
                                      err);
    if (status == HOP_OK)
        status = hop_safetensors_copy(st, "optimizer.adamw.v", HOP_DTYPE_F32, t->opt.v, t->opt.size,
                                      err);
    if (status == HOP_OK)
        status = check_moments(t, st->source, err);
    if (status != HOP_OK) {
        free(order);
        return status;
    }
    t->order = order;
    t->n_bags = n_bags;
    t->epoch = epoch;
    t->position = position;
    t->step = step;
    t->opt.step = opt_step;
    t->opt.lr = hop_lr_exponential(t->train.lr, t->train.lr_decay, epoch);
    t->loss_sum = loss_sum;
    t->last_loss = last_loss;
    t->rng = rng;
    t->ctx.rng = graph_rng;
    return HOP_OK;
}

hop_status hop_mil_trainer_load(hop_mil_trainer *t, const char *path, bool *is_checkpoint,
                                hop_error *err)
{
    memset(t, 0, sizeof *t);
    hop_safetensors st;
    hop_status status = hop_safetensors_read(path, &st, err);
    if (status != HOP_OK)
        return status;
    const char *format = hop_safetensors_metadata(&st, "format");
    bool checkpoint = format && strcmp(format, FORMAT_CHECKPOINT) == 0;
    if (!format || (!checkpoint && strcmp(format, FORMAT_MODEL) != 0))
        status =
            hop_error_set(err, HOP_ERR_DATA,
                          "%s: metadata 'format' is %s%s%s; expected " FORMAT_MODEL
                          " or " FORMAT_CHECKPOINT " (a file written by hop mil)",
                          path, format ? "'" : "", format ? format : "missing", format ? "'" : "");
    bool built = false;
    if (status == HOP_OK)
        built = (status = build_trainer(t, &st, err)) == HOP_OK;
    if (status == HOP_OK)
        status = hop_params_load_safetensors(&t->params, &st, state_prefixes, err);
    if (status == HOP_OK)
        status = load_standardizer(t, &st, err);
    if (status == HOP_OK && checkpoint)
        status = load_state(t, &st, err);
    hop_safetensors_free(&st);
    if (status != HOP_OK && built)
        hop_mil_trainer_free(t);
    if (is_checkpoint)
        *is_checkpoint = checkpoint;
    return status;
}
