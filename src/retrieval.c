/* Modern-Hopfield retrieval: plain and chunked online-softmax forward and backward. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hop/retrieval.h"
#include "vmath.h"

/* Worker ranges start at multiples of this many stored patterns. */
#define RANGE_ALIGN 64

/*
 * Scores are formed transposed, Y X^T with one row per stored pattern, because the BLAS
 * runs that shape (tall, narrow) faster than X Y^T, and the backward product for dY then
 * needs no transposition.
 */

/* Per-worker buffers. */
typedef struct worker_space {
    long begin, end; /* stored patterns [begin, end) belong to this worker */
    float *scores;   /* (block, 2B): a chunk's transposed scores, [dS^T | P^T] in backward */
    float *partial;  /* (B, D): running weighted sum (forward) or query gradient (backward) */
    float *max;      /* (B): running maximum of the scores */
    float *top;      /* (B): the running maximum raised by one chunk */
    float *sum;      /* (B): running sum of exp(score - max) */
    float *factor;   /* (B): exp(max - global max) / global sum */
} worker_space;

struct hop_retriever {
    hop_retriever_config c;
    hop_pool *pool;
    int workers;
    long block;          /* stored patterns per chunk */
    float *states;       /* (steps + 1, B, D): the query states before and after each step */
    float *lse;          /* (steps, B): log-sum-exp of each step's scores */
    float *kept_scores;  /* (steps, N, B) transposed scores when they fit keep_limit, else NULL */
    float *stack_grad;   /* (2B, D): [G; beta X] */
    float *stack_scaled; /* (2B, D): [beta X; G] */
    float *delta;        /* (B): G_i . X_next_i, the softmax-backward row term */
    float *grad;         /* (B, D): gradient with respect to the current state */
    worker_space *space;
    size_t bytes;

    /* Arguments of the step being run by the pool. */
    const float *stored;
    float *grad_stored;
    int step;
};

/* Setup. */

static hop_status check_config(const hop_retriever_config *c, hop_error *err)
{
    if (c->stored < 1 || c->width < 1 || c->queries < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "retrieval: stored %ld, width %d and queries %d must be positive",
                             c->stored, c->width, c->queries);
    if (c->steps < 1)
        return hop_error_set(err, HOP_ERR_ARG, "retrieval: steps %d is invalid; it must be >= 1",
                             c->steps);
    if (!isfinite(c->beta))
        return hop_error_set(err, HOP_ERR_ARG, "retrieval: beta %g is invalid; it must be finite",
                             (double)c->beta);
    if (c->chunk < 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "retrieval: chunk %ld is invalid; use 0 (plain) or a positive size",
                             c->chunk);
    return HOP_OK;
}

static float *take(hop_retriever *r, size_t count)
{
    size_t bytes = (count ? count : 1) * sizeof(float);
    r->bytes += bytes;
    return malloc(bytes);
}

/* Whether the scores of every step fit within keep_limit bytes. */
static bool keeps_scores(const hop_retriever_config *c)
{
    double bytes = (double)c->steps * (double)c->stored * (double)c->queries * sizeof(float);
    return c->keep_limit > 0 && bytes <= (double)c->keep_limit;
}

static hop_status alloc_space(hop_retriever *r)
{
    const hop_retriever_config *c = &r->c;
    size_t b = (size_t)c->queries, d = (size_t)c->width;
    long widest = 0;
    for (int w = 0; w < r->workers; w++) {
        worker_space *s = &r->space[w];
        hop_pool_range(c->stored, RANGE_ALIGN, w, r->workers, &s->begin, &s->end);
        if (s->end - s->begin > widest)
            widest = s->end - s->begin;
    }
    r->block = c->chunk > 0 && c->chunk < widest ? c->chunk : widest;

    for (int w = 0; w < r->workers; w++) {
        worker_space *s = &r->space[w];
        s->scores = take(r, 2 * b * (size_t)r->block);
        s->partial = take(r, b * d);
        s->max = take(r, b);
        s->top = take(r, b);
        s->sum = take(r, b);
        s->factor = take(r, b);
        if (!s->scores || !s->partial || !s->max || !s->top || !s->sum || !s->factor)
            return HOP_ERR_NOMEM;
    }
    r->states = take(r, ((size_t)c->steps + 1) * b * d);
    r->lse = take(r, (size_t)c->steps * b);
    r->stack_grad = take(r, 2 * b * d);
    r->stack_scaled = take(r, 2 * b * d);
    r->delta = take(r, b);
    r->grad = take(r, b * d);
    if (keeps_scores(c))
        r->kept_scores = take(r, (size_t)c->steps * (size_t)c->stored * b);
    if (!r->states || !r->lse || !r->stack_grad || !r->stack_scaled || !r->delta || !r->grad ||
        (keeps_scores(c) && !r->kept_scores))
        return HOP_ERR_NOMEM;
    return HOP_OK;
}

hop_status hop_retriever_new(hop_retriever **out, const hop_retriever_config *config,
                             hop_pool *pool, hop_error *err)
{
    *out = NULL;
    hop_status status = check_config(config, err);
    if (status != HOP_OK)
        return status;

    hop_retriever *r = calloc(1, sizeof *r);
    if (!r)
        return hop_error_set(err, HOP_ERR_NOMEM, "retrieval: out of memory");
    r->c = *config;
    r->pool = pool;
    r->workers = hop_pool_threads(pool);
    r->space = calloc((size_t)r->workers, sizeof *r->space);
    if (!r->space || alloc_space(r) != HOP_OK) {
        size_t bytes = r->bytes;
        hop_retriever_free(r);
        return hop_error_set(err, HOP_ERR_NOMEM,
                             "retrieval: out of memory allocating %zu bytes of workspace for "
                             "N %ld, D %d, B %d; use a smaller chunk, keep_limit or fewer steps",
                             bytes, config->stored, config->width, config->queries);
    }
    *out = r;
    return HOP_OK;
}

void hop_retriever_free(hop_retriever *r)
{
    if (!r)
        return;
    for (int w = 0; r->space && w < r->workers; w++) {
        worker_space *s = &r->space[w];
        free(s->scores);
        free(s->partial);
        free(s->max);
        free(s->top);
        free(s->sum);
        free(s->factor);
    }
    free(r->space);
    free(r->states);
    free(r->lse);
    free(r->kept_scores);
    free(r->stack_grad);
    free(r->stack_scaled);
    free(r->delta);
    free(r->grad);
    free(r);
}

size_t hop_retriever_workspace_bytes(const hop_retriever *r)
{
    return r->bytes;
}

bool hop_retriever_keeps_scores(const hop_retriever *r)
{
    return r->kept_scores != NULL;
}

/* Forward. */

static float *state(const hop_retriever *r, int step)
{
    return r->states + (size_t)step * (size_t)r->c.queries * (size_t)r->c.width;
}

/* The kept scores of the current step from stored pattern start on. */
static float *kept_block(const hop_retriever *r, long start)
{
    size_t row = (size_t)r->step * (size_t)r->c.stored + (size_t)start;
    return r->kept_scores + row * (size_t)r->c.queries;
}

/*
 * Folds a chunk's transposed scores (count, B) into the running max, sum and weighted sum,
 * writing their exponentials to exps (count, B).
 */
static void online_softmax(const hop_retriever *r, worker_space *s, const float *scores,
                           float *exps, long count)
{
    int b = r->c.queries, d = r->c.width;
    memcpy(s->top, s->max, (size_t)b * sizeof(float));
    hop_max_columns(scores, b, count, b, s->top);
    for (int i = 0; i < b; i++) {
        if (!(s->top[i] > s->max[i]))
            continue;
        float scale = s->max[i] == -INFINITY ? 0.0f : expf(s->max[i] - s->top[i]);
        s->sum[i] *= scale;
        float *acc = s->partial + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++)
            acc[j] *= scale;
        s->max[i] = s->top[i];
    }
    hop_exp_columns(scores, b, exps, b, count, b, s->max, s->sum);
}

static void forward_task(void *arg, int worker, int workers)
{
    (void)workers;
    hop_retriever *r = arg;
    worker_space *s = &r->space[worker];
    int b = r->c.queries, d = r->c.width;
    const float *scaled = r->stack_scaled; /* rows [0, B) are beta X */

    for (int i = 0; i < b; i++) {
        s->max[i] = -INFINITY;
        s->sum[i] = 0.0f;
    }
    memset(s->partial, 0, (size_t)b * (size_t)d * sizeof(float));

    for (long start = s->begin; start < s->end; start += r->block) {
        long count = s->end - start < r->block ? s->end - start : r->block;
        const float *y = r->stored + (size_t)start * (size_t)d;
        float *scores = r->kept_scores ? kept_block(r, start) : s->scores;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)count, b, d, 1.0f, y, d, scaled,
                    d, 0.0f, scores, b);
        online_softmax(r, s, scores, s->scores, count);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, d, (int)count, 1.0f, s->scores, b,
                    y, d, 1.0f, s->partial, d);
    }
}

/* Merges the workers' partial sums into the next state and the step's log-sum-exp. */
static void merge_forward(hop_retriever *r)
{
    int b = r->c.queries, d = r->c.width;
    float *next = state(r, r->step + 1), *lse = r->lse + (size_t)r->step * (size_t)b;
    for (int i = 0; i < b; i++) {
        float top = -INFINITY;
        for (int w = 0; w < r->workers; w++)
            top = r->space[w].max[i] > top ? r->space[w].max[i] : top;
        float total = 0.0f;
        for (int w = 0; w < r->workers; w++) {
            worker_space *s = &r->space[w];
            s->factor[i] = s->max[i] == -INFINITY ? 0.0f : expf(s->max[i] - top);
            total += s->sum[i] * s->factor[i];
        }
        float *out = next + (size_t)i * (size_t)d;
        memset(out, 0, (size_t)d * sizeof(float));
        for (int w = 0; w < r->workers; w++) {
            worker_space *s = &r->space[w];
            s->factor[i] /= total;
            const float *acc = s->partial + (size_t)i * (size_t)d;
            for (int j = 0; j < d; j++)
                out[j] += s->factor[i] * acc[j];
        }
        lse[i] = top + logf(total);
    }
}

static void scale_rows(float *dst, const float *src, float scale, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = scale * src[i];
}

void hop_retriever_forward(hop_retriever *r, const float *stored, const float *queries, float *out)
{
    size_t bd = (size_t)r->c.queries * (size_t)r->c.width;
    memcpy(r->states, queries, bd * sizeof(float));
    r->stored = stored;
    for (int t = 0; t < r->c.steps; t++) {
        r->step = t;
        scale_rows(r->stack_scaled, state(r, t), r->c.beta, bd);
        hop_pool_run(r->pool, forward_task, r);
        merge_forward(r);
    }
    memcpy(out, state(r, r->c.steps), bd * sizeof(float));
}

/* Backward. */

/*
 * Fills a chunk's (count, 2B) block with [dS^T | P^T]: the probabilities from the kept or
 * recomputed scores, and dS = P * (dP - delta) with dP^T = Y G^T.
 */
static void chunk_gradients(const hop_retriever *r, const float *y, long start, long count,
                            float *block)
{
    int b = r->c.queries, d = r->c.width;
    const float *lse = r->lse + (size_t)r->step * (size_t)b;
    if (r->kept_scores) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)count, b, d, 1.0f, y, d,
                    r->stack_grad, d, 0.0f, block, 2 * b);
        hop_exp_columns(kept_block(r, start), b, block + b, 2 * b, count, b, lse, NULL);
    } else {
        /* [dP^T | S^T] = Y [G; beta X]^T in one product. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)count, 2 * b, d, 1.0f, y, d,
                    r->stack_grad, d, 0.0f, block, 2 * b);
        hop_exp_columns(block + b, 2 * b, block + b, 2 * b, count, b, lse, NULL);
    }
    for (long k = 0; k < count; k++) {
        float *row = block + (size_t)k * 2 * (size_t)b;
        for (int i = 0; i < b; i++)
            row[i] = row[b + i] * (row[i] - r->delta[i]);
    }
}

static void backward_chunk(hop_retriever *r, worker_space *s, long start, long count)
{
    int b = r->c.queries, d = r->c.width;
    const float *y = r->stored + (size_t)start * (size_t)d;
    float *dy = r->grad_stored + (size_t)start * (size_t)d;

    chunk_gradients(r, y, start, count, s->scores);
    /* dX += beta dS Y */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, d, (int)count, r->c.beta, s->scores,
                2 * b, y, d, 1.0f, s->partial, d);
    /* dY += dS^T (beta X) + P^T G in one product of inner extent 2B. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)count, d, 2 * b, 1.0f, s->scores,
                2 * b, r->stack_scaled, d, 1.0f, dy, d);
}

static void backward_task(void *arg, int worker, int workers)
{
    (void)workers;
    hop_retriever *r = arg;
    worker_space *s = &r->space[worker];
    size_t d = (size_t)r->c.width;
    memset(s->partial, 0, (size_t)r->c.queries * d * sizeof(float));
    if (r->step == r->c.steps - 1)
        memset(r->grad_stored + (size_t)s->begin * d, 0,
               (size_t)(s->end - s->begin) * d * sizeof(float));

    for (long start = s->begin; start < s->end; start += r->block) {
        long count = s->end - start < r->block ? s->end - start : r->block;
        backward_chunk(r, s, start, count);
    }
}

/*
 * Prepares step t's backward: delta_i = G_i . X_{t+1,i}, stack_grad = [G; beta X_t] and
 * stack_scaled = [beta X_t; G], where G is the gradient with respect to X_{t+1}.
 */
static void prepare_backward(hop_retriever *r)
{
    int b = r->c.queries, d = r->c.width;
    size_t bd = (size_t)b * (size_t)d;
    const float *next = state(r, r->step + 1), *x = state(r, r->step);
    for (int i = 0; i < b; i++) {
        const float *g = r->grad + (size_t)i * (size_t)d, *xn = next + (size_t)i * (size_t)d;
        float dot = 0.0f;
        for (int j = 0; j < d; j++)
            dot += g[j] * xn[j];
        r->delta[i] = dot;
    }
    memcpy(r->stack_grad, r->grad, bd * sizeof(float));
    scale_rows(r->stack_grad + bd, x, r->c.beta, bd);
    memcpy(r->stack_scaled, r->stack_grad + bd, bd * sizeof(float));
    memcpy(r->stack_scaled + bd, r->grad, bd * sizeof(float));
}

void hop_retriever_backward(hop_retriever *r, const float *stored, const float *grad_out,
                            float *grad_queries, float *grad_stored)
{
    size_t bd = (size_t)r->c.queries * (size_t)r->c.width;
    r->stored = stored;
    r->grad_stored = grad_stored;
    memcpy(r->grad, grad_out, bd * sizeof(float));

    for (int t = r->c.steps - 1; t >= 0; t--) {
        r->step = t;
        prepare_backward(r);
        hop_pool_run(r->pool, backward_task, r);
        memset(r->grad, 0, bd * sizeof(float));
        for (int w = 0; w < r->workers; w++)
            for (size_t k = 0; k < bd; k++)
                r->grad[k] += r->space[w].partial[k];
    }
    memcpy(grad_queries, r->grad, bd * sizeof(float));
}
