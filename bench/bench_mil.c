/*
 * hop bench mil: training throughput of a Hopfield-pooling MIL model on synthetic bags.
 *
 * Model: Linear(230, 256), ReLU, Linear(256, 128), HopfieldPooling (input 128, hidden 32 per
 * head, output 128, quantity 1), Linear(128, 1); BCE with logits and Adam. A step takes one
 * bag, or one padded batch of bags. With several threads a batch is split into one shard
 * per thread, each with its own graph and gradient buffer. The shard gradients are
 * weighted by shard size and summed before the Adam step, which gives the gradient of the
 * whole batch's mean loss.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "hop/blas.h"
#include "hop/graph.h"
#include "hop/layers.h"
#include "hop/optim.h"
#include "hop/params.h"
#include "hop/threads.h"

#define MIL_EMBED    256
#define MIL_POOL_IN  128
#define MIL_HEAD_DIM 32
#define MIL_POOL_OUT 128

typedef struct mil_options {
    int threads, batch, heads, d_in, min_inst, max_inst, bags, update_steps, epochs;
    int positive_instances;
    int compare_threads; /* 0, or the thread count of a copy trained in alternate epochs */
    float shift, lr;
    uint64_t seed;
} mil_options;

/* Synthetic bags: all instances of all bags back to back. */
typedef struct mil_bags {
    int count;
    int dim;
    int *offset;  /* count + 1 entries: first instance of each bag */
    float *x;     /* (total instances, dim) */
    float *label; /* 0 or 1 */
} mil_bags;

typedef struct mil_model {
    hop_linear embed1, embed2, output;
    hop_hopfield_pooling pool;
} mil_model;

/* One shard of a step: its graph and the gradients it writes. */
typedef struct mil_shard {
    hop_ctx ctx;
    hop_graph *graph;
    hop_params view;          /* the model's store with this shard's own gradient buffer */
    float *x, *mask, *target; /* padded inputs, grown as needed */
    size_t x_capacity, mask_capacity;
    int first, count; /* bags [first, first + count) of the current step */
    float weight;     /* count over the step's bags: this shard's share of the mean loss */
    double loss;
    hop_status status;
} mil_shard;

typedef struct mil_trainer {
    const mil_options *o;
    const mil_bags *bags;
    const int *order;
    hop_params params;
    mil_model model;
    hop_adam adam;
    hop_pool *pool;
    mil_shard *shards;
    int n_shards;
} mil_trainer;

static hop_status make_bags(const mil_options *o, mil_bags *b, hop_error *err)
{
    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    memset(b, 0, sizeof *b);
    b->count = o->bags;
    b->dim = o->d_in;
    b->offset = malloc(((size_t)o->bags + 1) * sizeof *b->offset);
    b->label = malloc((size_t)o->bags * sizeof *b->label);
    float *direction = malloc((size_t)o->d_in * sizeof *direction);
    if (!b->offset || !b->label || !direction) {
        free(direction);
        return hop_error_set(err, HOP_ERR_NOMEM, "mil bench: out of memory for %d bags", o->bags);
    }
    b->offset[0] = 0;
    for (int i = 0; i < o->bags; i++) {
        int span = o->max_inst - o->min_inst + 1;
        b->offset[i + 1] = b->offset[i] + o->min_inst + (int)hop_rng_below(&rng, (uint64_t)span);
        b->label[i] = (float)(i % 2);
    }
    double norm = 0.0;
    for (int j = 0; j < o->d_in; j++) {
        direction[j] = hop_rng_normal(&rng);
        norm += (double)direction[j] * direction[j];
    }
    for (int j = 0; j < o->d_in; j++)
        direction[j] /= (float)sqrt(norm);

    size_t total = (size_t)b->offset[o->bags];
    b->x = malloc(total * (size_t)o->d_in * sizeof *b->x);
    if (!b->x) {
        free(direction);
        return hop_error_set(err, HOP_ERR_NOMEM, "mil bench: out of memory for %zu instances",
                             total);
    }
    for (size_t i = 0; i < total * (size_t)o->d_in; i++)
        b->x[i] = hop_rng_normal(&rng);
    /* Positive bags: the first few instances are shifted along the fixed direction. */
    for (int i = 1; i < o->bags; i += 2)
        for (int k = 0; k < o->positive_instances && b->offset[i] + k < b->offset[i + 1]; k++) {
            float *row = b->x + (size_t)(b->offset[i] + k) * (size_t)o->d_in;
            for (int j = 0; j < o->d_in; j++)
                row[j] += o->shift * direction[j];
        }
    free(direction);
    return HOP_OK;
}

static void free_bags(mil_bags *b)
{
    free(b->offset);
    free(b->label);
    free(b->x);
}

static hop_status model_init(mil_model *m, const mil_options *o, hop_params *params, hop_rng *rng,
                             hop_error *err)
{
    hop_linear_config c1 = hop_linear_config_default(o->d_in, MIL_EMBED);
    hop_linear_config c2 = hop_linear_config_default(MIL_EMBED, MIL_POOL_IN);
    hop_linear_config c3 = hop_linear_config_default(MIL_POOL_OUT, 1);
    hop_hopfield_pooling_config pc = hop_hopfield_pooling_config_default(MIL_POOL_IN);
    pc.hopfield.hidden_size = MIL_HEAD_DIM;
    pc.hopfield.num_heads = o->heads;
    pc.hopfield.output_size = MIL_POOL_OUT;
    pc.hopfield.update_steps_max = o->update_steps;

    hop_status status = hop_linear_init(&m->embed1, &c1, params, "embed.0", rng, err);
    if (status == HOP_OK)
        status = hop_linear_init(&m->embed2, &c2, params, "embed.1", rng, err);
    if (status == HOP_OK)
        status = hop_hopfield_pooling_init(&m->pool, &pc, params, "pool", rng, err);
    if (status == HOP_OK)
        status = hop_linear_init(&m->output, &c3, params, "output", rng, err);
    return status;
}

static hop_status grow(float **buf, size_t *capacity, size_t count)
{
    if (count <= *capacity)
        return HOP_OK;
    float *p = realloc(*buf, count * sizeof *p);
    if (!p)
        return HOP_ERR_NOMEM;
    *buf = p;
    *capacity = count;
    return HOP_OK;
}

/* Copies the shard's bags into a zero-padded (count, longest, dim) batch and its mask. */
static hop_status pad_batch(mil_trainer *t, mil_shard *s, int *longest)
{
    const mil_bags *b = t->bags;
    int len = 0;
    for (int i = 0; i < s->count; i++) {
        int bag = t->order[s->first + i];
        int n = b->offset[bag + 1] - b->offset[bag];
        len = n > len ? n : len;
    }
    size_t rows = (size_t)s->count * (size_t)len;
    if (grow(&s->x, &s->x_capacity, rows * (size_t)b->dim) != HOP_OK ||
        grow(&s->mask, &s->mask_capacity, rows + (size_t)s->count) != HOP_OK)
        return HOP_ERR_NOMEM;
    s->target = s->mask + rows;
    for (int i = 0; i < s->count; i++) {
        int bag = t->order[s->first + i];
        int n = b->offset[bag + 1] - b->offset[bag];
        float *dst = s->x + (size_t)i * (size_t)len * (size_t)b->dim;
        memcpy(dst, b->x + (size_t)b->offset[bag] * (size_t)b->dim,
               (size_t)n * (size_t)b->dim * sizeof(float));
        memset(dst + (size_t)n * (size_t)b->dim, 0,
               (size_t)(len - n) * (size_t)b->dim * sizeof(float));
        for (int j = 0; j < len; j++)
            s->mask[(size_t)i * (size_t)len + (size_t)j] = j >= n ? 1.0f : 0.0f;
        s->target[i] = b->label[bag];
    }
    *longest = len;
    return HOP_OK;
}

/* Builds one shard's loss and runs its backward pass into the shard's gradient buffer. */
static hop_status shard_step(mil_trainer *t, mil_shard *s)
{
    int len;
    if (pad_batch(t, s, &len) != HOP_OK)
        return hop_error_set(&s->ctx.error, HOP_ERR_NOMEM, "mil bench: out of memory padding");
    hop_graph *g = s->graph;
    hop_graph_reset(g);
    hop_params *p = &s->view;
    const mil_model *m = &t->model;
    int xs[3] = {s->count, len, t->bags->dim}, ms[2] = {s->count, len}, ts[2] = {s->count, 1};

    hop_node *x = hop_input(g, 3, xs, s->x);
    /* A single bag has no padding, so it needs no mask. */
    hop_node *mask = s->count > 1 ? hop_input(g, 2, ms, s->mask) : NULL;
    hop_node *h = hop_relu(g, hop_linear_forward(g, p, &m->embed1, x));
    h = hop_linear_forward(g, p, &m->embed2, h);
    h = hop_hopfield_pooling_forward(g, p, &m->pool, h, mask, NULL);
    hop_node *logits = hop_linear_forward(g, p, &m->output, h);
    hop_node *loss = hop_bce_logits(g, logits, hop_input(g, 2, ts, s->target));
    if (!loss)
        return s->ctx.error.status;
    s->loss = loss->value.data[0];
    memset(p->grads, 0, p->total * sizeof(float));
    return hop_backward(g, loss);
}

static void shard_task(void *arg, int worker, int workers)
{
    mil_trainer *t = arg;
    mil_shard *s = &t->shards[worker];
    s->status = s->count > 0 ? shard_step(t, s) : HOP_OK;
}

/*
 * Sums the shards' weighted gradients into the store's own and applies Adam, both on this
 * worker's range of the store. Shard 0 writes the store's gradient buffer directly.
 */
static void update_task(void *arg, int worker, int workers)
{
    mil_trainer *t = arg;
    long begin, end;
    hop_pool_range((long)t->params.total, 16, worker, workers, &begin, &end);
    float *grads = t->params.grads;
    if (t->n_shards > 1)
        for (long i = begin; i < end; i++)
            grads[i] *= t->shards[0].weight;
    for (int w = 1; w < t->n_shards; w++) {
        const mil_shard *s = &t->shards[w];
        if (s->count == 0)
            continue;
        for (long i = begin; i < end; i++)
            grads[i] += s->weight * s->view.grads[i];
    }
    hop_adamw_update_range(&t->adam, &t->params, (size_t)begin, (size_t)end);
}

/* One optimiser step over bags [first, first + count) of the order. */
static hop_status train_step(mil_trainer *t, int first, int count, double *loss, hop_error *err)
{
    for (int w = 0; w < t->n_shards; w++) {
        long b0, b1;
        hop_pool_range(count, 1, w, t->n_shards, &b0, &b1);
        t->shards[w].first = first + (int)b0;
        t->shards[w].count = (int)(b1 - b0);
        t->shards[w].weight = (float)(b1 - b0) / (float)count;
    }
    hop_pool_run(t->pool, shard_task, t);

    *loss = 0.0;
    for (int w = 0; w < t->n_shards; w++) {
        mil_shard *s = &t->shards[w];
        if (s->status != HOP_OK)
            return hop_error_set(err, s->status, "mil bench: %s", s->ctx.error.message);
        if (s->count > 0)
            *loss += s->weight * s->loss;
    }
    hop_status status = hop_adamw_begin_step(&t->adam, &t->params, err);
    if (status == HOP_OK)
        hop_pool_run(t->pool, update_task, t);
    return status;
}

static void trainer_free(mil_trainer *t)
{
    for (int w = 0; t->shards && w < t->n_shards; w++) {
        mil_shard *s = &t->shards[w];
        hop_graph_free(s->graph);
        if (s->view.grads != t->params.grads)
            free(s->view.grads);
        free(s->x);
        free(s->mask);
    }
    free(t->shards);
    hop_adamw_free(&t->adam);
    hop_params_free(&t->params);
    hop_pool_free(t->pool);
}

static hop_status trainer_init(mil_trainer *t, const mil_options *o, const mil_bags *bags,
                               hop_error *err)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    t->bags = bags;
    hop_params_init(&t->params);
    hop_rng rng;
    hop_rng_seed(&rng, o->seed + 7);
    hop_status status = model_init(&t->model, o, &t->params, &rng, err);
    if (status == HOP_OK)
        status = hop_adam_init(&t->adam, &t->params, o->lr, 0.0f, err);
    /* Data-parallel shards only pay for themselves when a step has several bags. */
    t->n_shards = 1;
    if (o->batch > 1)
        t->n_shards = o->threads < o->batch ? o->threads : o->batch;
    if (status == HOP_OK)
        status = hop_pool_new(&t->pool, t->n_shards, err);
    if (status != HOP_OK)
        return status;

    t->shards = calloc((size_t)t->n_shards, sizeof *t->shards);
    if (!t->shards)
        return hop_error_set(err, HOP_ERR_NOMEM, "mil bench: out of memory");
    for (int w = 0; w < t->n_shards; w++) {
        mil_shard *s = &t->shards[w];
        hop_ctx_init(&s->ctx, o->seed + 11 + (uint64_t)w);
        s->graph = hop_graph_new(&s->ctx);
        s->view = t->params;
        if (w > 0)
            s->view.grads = calloc(t->params.total, sizeof(float));
        if (!s->graph || !s->view.grads)
            return hop_error_set(err, HOP_ERR_NOMEM, "mil bench: out of memory for shard %d", w);
    }
    return HOP_OK;
}

typedef struct mil_result {
    double *epoch_seconds;
    double first_loss, last_loss;
    long rss_kib_at_100, rss_kib_end;
    long steps;
} mil_result;

/* One training configuration: its own options, model, bag order and results. */
typedef struct mil_run {
    mil_options o;
    mil_trainer t;
    mil_result res;
    int *order;
    hop_rng shuffle;
} mil_run;

static void run_free(mil_run *r)
{
    trainer_free(&r->t);
    free(r->order);
    free(r->res.epoch_seconds);
}

/* Sets up a run of the options o with the given thread count; run_free frees it. */
static hop_status run_init(mil_run *r, const mil_options *o, int threads, const mil_bags *bags,
                           hop_error *err)
{
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->o.threads = threads;
    hop_status status = trainer_init(&r->t, &r->o, bags, err);
    if (status != HOP_OK)
        return status;

    r->order = malloc((size_t)o->bags * sizeof *r->order);
    r->res.epoch_seconds = malloc((size_t)o->epochs * sizeof(double));
    if (!r->order || !r->res.epoch_seconds)
        return hop_error_set(err, HOP_ERR_NOMEM, "mil bench: out of memory");
    for (int i = 0; i < o->bags; i++)
        r->order[i] = i;
    r->t.order = r->order;
    hop_rng_seed(&r->shuffle, o->seed + 3);
    r->res.rss_kib_at_100 = -1;
    return HOP_OK;
}

/*
 * Trains one epoch of a run in shuffled order. Timed epoch e >= 0 records its time and mean
 * loss; e = -1 is the untimed warm-up epoch.
 */
static hop_status train_epoch(mil_run *r, int e, hop_error *err)
{
    const mil_options *o = &r->o;
    mil_result *res = &r->res;
    /* One bag per step: the BLAS gets the threads. Batches: hop's shards get them. */
    hop_blas_set_threads(o->batch > 1 ? 1 : o->threads);
    hop_rng_shuffle_int(&r->shuffle, r->order, (size_t)o->bags);

    double t0 = bench_now(), sum = 0.0;
    int steps = 0;
    for (int first = 0; first < o->bags; first += o->batch) {
        int count = o->bags - first < o->batch ? o->bags - first : o->batch;
        double loss;
        hop_status status = train_step(&r->t, first, count, &loss, err);
        if (status != HOP_OK)
            return status;
        sum += loss;
        steps++;
        if (++res->steps == 100)
            res->rss_kib_at_100 = bench_rss_kib();
    }
    res->rss_kib_end = bench_rss_kib();
    if (e < 0)
        return HOP_OK;
    res->epoch_seconds[e] = bench_now() - t0;
    if (e == 0)
        res->first_loss = sum / steps;
    res->last_loss = sum / steps;
    return HOP_OK;
}

static void add_results(cJSON *json, const mil_options *o, const mil_bags *bags, mil_result *r)
{
    int total = bags->offset[bags->count];
    double *rates = malloc((size_t)o->epochs * sizeof *rates);
    double *inst = malloc((size_t)o->epochs * sizeof *inst);
    for (int e = 0; e < o->epochs; e++) {
        rates[e] = o->bags / r->epoch_seconds[e];
        inst[e] = total / r->epoch_seconds[e];
    }
    cJSON_AddNumberToObject(json, "instances_per_epoch", total);
    bench_add_stats(json, "bags_per_second", bench_summarize(rates, o->epochs));
    bench_add_stats(json, "instances_per_second", bench_summarize(inst, o->epochs));
    bench_add_stats(json, "epoch_seconds", bench_summarize(r->epoch_seconds, o->epochs));
    cJSON_AddNumberToObject(json, "peak_rss_mib", bench_peak_rss_kib() / 1024.0);
    cJSON_AddNumberToObject(json, "steps", (double)r->steps);
    if (r->rss_kib_at_100 >= 0)
        cJSON_AddNumberToObject(json, "rss_mib_after_100_steps", r->rss_kib_at_100 / 1024.0);
    else
        cJSON_AddNullToObject(json, "rss_mib_after_100_steps"); /* fewer than 100 steps */
    cJSON_AddNumberToObject(json, "rss_mib_at_end", r->rss_kib_end / 1024.0);
    cJSON_AddNumberToObject(json, "first_epoch_loss", r->first_loss);
    cJSON_AddNumberToObject(json, "last_epoch_loss", r->last_loss);
    free(rates);
    free(inst);
}

/*
 * Adds the compared run's rates and the speed-up of the measured run over it: the median
 * over epochs of the compared run's epoch time over the measured run's epoch time, from
 * epochs that ran back to back.
 */
static void add_comparison(cJSON *json, const mil_run *measured, const mil_run *compared_run)
{
    int epochs = measured->o.epochs;
    double *rates = malloc((size_t)epochs * sizeof *rates);
    double *ratios = malloc((size_t)epochs * sizeof *ratios);
    if (!rates || !ratios) {
        free(rates);
        free(ratios);
        return;
    }
    for (int e = 0; e < epochs; e++) {
        rates[e] = compared_run->o.bags / compared_run->res.epoch_seconds[e];
        ratios[e] = compared_run->res.epoch_seconds[e] / measured->res.epoch_seconds[e];
    }
    cJSON *compared = cJSON_AddObjectToObject(json, "compared");
    cJSON_AddNumberToObject(compared, "threads", compared_run->o.threads);
    cJSON_AddNumberToObject(compared, "shards", compared_run->t.n_shards);
    bench_add_stats(compared, "bags_per_second", bench_summarize(rates, epochs));
    bench_add_stats(json, "speedup_over_compared", bench_summarize(ratios, epochs));
    free(rates);
    free(ratios);
}

static int run(const mil_options *o)
{
    hop_error err;
    hop_error_clear(&err);
    mil_bags bags;
    mil_run measured = {0}, compared_run = {0};
    bool compare = o->compare_threads > 0;
    hop_status status = make_bags(o, &bags, &err);
    if (status == HOP_OK)
        status = run_init(&measured, o, o->threads, &bags, &err);
    if (status == HOP_OK && compare)
        status = run_init(&compared_run, o, o->compare_threads, &bags, &err);
    /* One untimed epoch each, then timed epochs in turn, each pair in alternating order, so
     * that both runs see the same machine. */
    for (int e = -1; status == HOP_OK && e < o->epochs; e++) {
        mil_run *first = compare && e % 2 != 0 ? &compared_run : &measured;
        mil_run *second = first == &measured ? &compared_run : &measured;
        status = train_epoch(first, e, &err);
        if (status == HOP_OK && compare)
            status = train_epoch(second, e, &err);
    }

    int rc = 1;
    if (status == HOP_OK) {
        cJSON *json = cJSON_CreateObject();
        cJSON_AddStringToObject(json, "benchmark", "mil");
        bench_add_environment(json, o->threads);
        cJSON_AddNumberToObject(json, "batch", o->batch);
        cJSON_AddNumberToObject(json, "heads", o->heads);
        cJSON_AddNumberToObject(json, "update_steps", o->update_steps);
        cJSON_AddNumberToObject(json, "bags", o->bags);
        cJSON_AddNumberToObject(json, "epochs", o->epochs);
        cJSON_AddNumberToObject(json, "shards", measured.t.n_shards);
        cJSON_AddNumberToObject(json, "parameters", (double)measured.t.params.total);
        add_results(json, o, &bags, &measured.res);
        if (compare)
            add_comparison(json, &measured, &compared_run);
        rc = bench_print(json);
    } else {
        fprintf(stderr, "hop bench mil: %s\n", err.message);
    }
    run_free(&measured);
    run_free(&compared_run);
    free_bags(&bags);
    return rc;
}

/* The bag offsets are int and the features one array, so both must stay within int range. */
static int check_sizes(const mil_options *o)
{
    bench_factor instances[2] = {{"--bags", o->bags}, {"--max-inst", o->max_inst}};
    bench_factor features[3] = {
        {"--bags", o->bags}, {"--max-inst", o->max_inst}, {"--d-in", o->d_in}};
    if (bench_check_size("mil", instances, 2, "instances") != 0)
        return 2;
    return bench_check_size("mil", features, 3, "features");
}

int bench_mil(int argc, char **argv)
{
    mil_options o = {.threads = 1,
                     .batch = 1,
                     .heads = 1,
                     .d_in = 230,
                     .min_inst = 10,
                     .max_inst = 100,
                     .bags = 200,
                     .update_steps = 0,
                     .epochs = 5,
                     .positive_instances = 3,
                     .shift = 2.0f,
                     .lr = 5e-4f,
                     .seed = 1};
    bool help = false;
    const cli_flag flags[] = {
        {"threads", CLI_INT, &o.threads, 1, 256, "threads",
         "threads (BLAS at batch 1, shards "
         "otherwise)"},
        {"batch", CLI_INT, &o.batch, 1, 1e5, "bags", "bags per training step, padded"},
        {"heads", CLI_INT, &o.heads, 1, 64, "heads", "Hopfield heads"},
        {"d-in", CLI_INT, &o.d_in, 1, 1e5, "features", "features per instance"},
        {"min-inst", CLI_INT, &o.min_inst, 1, 1e6, "instances", "fewest instances in a bag"},
        {"max-inst", CLI_INT, &o.max_inst, 1, 1e6, "instances", "most instances in a bag"},
        {"bags", CLI_INT, &o.bags, 2, 1e7, "bags", "bags per epoch"},
        {"update-steps", CLI_INT, &o.update_steps, 0, 100, "steps", "extra Hopfield update steps"},
        {"epochs", CLI_INT, &o.epochs, 1, 1e6, "epochs", "timed epochs"},
        {"compare-threads", CLI_INT, &o.compare_threads, 0, 256, "threads",
         "also train a copy with this many threads in alternate epochs; reports the speed-up over "
         "it"},
        {"positive-instances", CLI_INT, &o.positive_instances, 0, 1e6, "instances",
         "shifted instances in a positive bag"},
        {"shift", CLI_FLOAT, &o.shift, 0, 1e3, "", "length of the shift of those instances"},
        {"lr", CLI_FLOAT, &o.lr, 1e-9, 10, "", "Adam learning rate"},
        {"seed", CLI_SEED, &o.seed, 0, (double)UINT64_MAX, "", "seed of the bags and the model"},
    };
    int n_flags = (int)(sizeof flags / sizeof flags[0]);
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, n_flags, argc, argv, 3, &help, &err) != HOP_OK) {
        fprintf(stderr, "hop bench mil: %s\n", err.message);
        return 2;
    }
    if (help) {
        printf("usage: hop bench mil [FLAGS]\n\nTrains Linear(D, 256), ReLU, Linear(256, 128), "
               "HopfieldPooling(128, hidden 32\nper head, output 128), Linear(128, 1) with BCE "
               "and Adam on synthetic bags:\ninstances are N(0, 1), and positive bags have a few "
               "instances shifted along one\nfixed direction. Reports bags/s per epoch and the "
               "resident memory.\n\nFlags:\n");
        cli_print_flags(stdout, flags, n_flags);
        return 0;
    }
    if (o.min_inst > o.max_inst) {
        fprintf(stderr,
                "hop bench mil: --min-inst %d is above --max-inst %d; give a --min-inst of at "
                "most %d (its default is 10)\n",
                o.min_inst, o.max_inst, o.max_inst);
        return 2;
    }
    if (check_sizes(&o) != 0)
        return 2;
    return run(&o);
}
