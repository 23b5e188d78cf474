/* Modern-Hopfield retrieval: plain and chunked online-softmax forward and backward. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hop/retrieval.h"

/* Worker ranges start at multiples of this many stored patterns. */
#define RANGE_ALIGN 64

/* Per-worker buffers. */
typedef struct worker_space {
    long begin, end; /* stored patterns [begin, end) belong to this worker */
    float *scores;   /* (2B, block): scores and score gradients of one chunk */
    float *partial;  /* (B, D): running weighted sum (forward) or query gradient (backward) */
    float *max;      /* (B): running maximum of the scores */
    float *sum;      /* (B): running sum of exp(score - max) */
    float *factor;   /* (B): exp(max - global max) / global sum, for kept probabilities */
} worker_space;

struct hop_retriever {
    hop_retriever_config c;
    hop_pool *pool;
    int workers;
    long block;          /* stored patterns per chunk */
    float *states;       /* (steps + 1, B, D): the query states before and after each step */
    float *lse;          /* (steps, B): log-sum-exp of each step's scores */
    float *probs;        /* (steps, B, N) when keep_probabilities, else NULL */
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

/* Fast exp on 8-lane vectors (GCC vector extensions: two SSE registers or one AVX one). */

/* The vectors never cross a non-inlined call, so the ABI note GCC gives about 32-byte
 * vectors without AVX does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float vfloat __attribute__((vector_size(32)));
typedef int32_t vint __attribute__((vector_size(32)));
#define LANES 8

static inline __attribute__((always_inline)) vfloat vload(const float *p)
{
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Lanes of a where mask is set (all ones), else lanes of b. */
static inline __attribute__((always_inline)) vfloat vselect(vint mask, vfloat a, vfloat b)
{
    return (vfloat)((mask & (vint)a) | (~mask & (vint)b));
}

/* Cephes expf: exp(x) = 2^k exp(r) with |r| <= ln(2) / 2 and a degree-6 polynomial. */
static inline __attribute__((always_inline)) vfloat vexp(vfloat x)
{
    const vfloat lo = {-87, -87, -87, -87, -87, -87, -87, -87};
    const vfloat hi = {88, 88, 88, 88, 88, 88, 88, 88};
    const vfloat zero = {0};
    vint under = x < lo;
    vfloat c = vselect(under, lo, x);
    c = vselect(c > hi, hi, c);

    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    vfloat k = (c * 1.44269504088896341f + magic) - magic;
    vfloat r = c - k * 0.693359375f - k * -2.12194440e-4f;
    vfloat p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;

    vint bits = (__builtin_convertvector(k, vint) + 127) << 23;
    return vselect(under, zero, p * (vfloat)bits);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) float
hop_exp_shifted(const float *x, float shift, float *y, long n)
{
    vfloat acc = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        vfloat e = vexp(vload(x + i) - shift);
        memcpy(y + i, &e, sizeof e);
        acc += e;
    }
    float sum = 0.0f;
    for (int j = 0; j < LANES; j++)
        sum += acc[j];
    if (i < n) {
        float tail[LANES] = {0};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        vfloat e = vexp(vload(tail) - shift);
        for (long j = 0; j < n - i; j++) {
            y[i + j] = e[j];
            sum += e[j];
        }
    }
    return sum;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static float row_max(const float *x,
                                                                                  long n)
{
    float m = -INFINITY;
    long i = 0;
    if (n >= LANES) {
        vfloat lanes = vload(x);
        for (i = LANES; i + LANES <= n; i += LANES) {
            vfloat v = vload(x + i);
            lanes = vselect(v > lanes, v, lanes);
        }
        for (int j = 0; j < LANES; j++)
            m = lanes[j] > m ? lanes[j] : m;
    }
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

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
    if (c->keep_probabilities && c->chunk > 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "retrieval: keep_probabilities needs the plain order (chunk 0), "
                             "chunk is %ld",
                             c->chunk);
    return HOP_OK;
}

static float *take(hop_retriever *r, size_t count)
{
    size_t bytes = (count ? count : 1) * sizeof(float);
    r->bytes += bytes;
    return malloc(bytes);
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
        s->sum = take(r, b);
        s->factor = take(r, b);
        if (!s->scores || !s->partial || !s->max || !s->sum || !s->factor)
            return HOP_ERR_NOMEM;
    }
    r->states = take(r, ((size_t)c->steps + 1) * b * d);
    r->lse = take(r, (size_t)c->steps * b);
    r->stack_grad = take(r, 2 * b * d);
    r->stack_scaled = take(r, 2 * b * d);
    r->delta = take(r, b);
    r->grad = take(r, b * d);
    if (c->keep_probabilities)
        r->probs = take(r, (size_t)c->steps * b * (size_t)c->stored);
    if (!r->states || !r->lse || !r->stack_grad || !r->stack_scaled || !r->delta || !r->grad ||
        (c->keep_probabilities && !r->probs))
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
                             "N %ld, D %d, B %d; use a smaller chunk or fewer steps",
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
        free(s->sum);
        free(s->factor);
    }
    free(r->space);
    free(r->states);
    free(r->lse);
    free(r->probs);
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

/* Forward. */

static float *state(const hop_retriever *r, int step)
{
    return r->states + (size_t)step * (size_t)r->c.queries * (size_t)r->c.width;
}

/* Folds the exponentials of a chunk's scores into the running max, sum and weighted sum. */
static void online_softmax_rows(const hop_retriever *r, worker_space *s, float *scores, long ld,
                                long count)
{
    int d = r->c.width;
    for (int i = 0; i < r->c.queries; i++) {
        float *row = scores + (size_t)i * (size_t)ld;
        float old = s->max[i], top = row_max(row, count);
        float next = top > old ? top : old;
        if (next > old) {
            float scale = old == -INFINITY ? 0.0f : expf(old - next);
            s->sum[i] *= scale;
            float *acc = s->partial + (size_t)i * (size_t)d;
            for (int j = 0; j < d; j++)
                acc[j] *= scale;
            s->max[i] = next;
        }
        s->sum[i] += hop_exp_shifted(row, next, row, count);
    }
}

static void forward_task(void *arg, int worker, int workers)
{
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
        float *scores = s->scores;
        long ld = count;
        if (r->probs) {
            scores = r->probs + (size_t)r->step * (size_t)b * (size_t)r->c.stored + start;
            ld = r->c.stored;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, (int)count, d, 1.0f, scaled, d, y,
                    d, 0.0f, scores, (int)ld);
        online_softmax_rows(r, s, scores, ld, count);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, d, (int)count, 1.0f, scores,
                    (int)ld, y, d, 1.0f, s->partial, d);
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

/* Scales each worker's kept exponentials into probabilities. */
static void normalize_task(void *arg, int worker, int workers)
{
    hop_retriever *r = arg;
    worker_space *s = &r->space[worker];
    size_t n = (size_t)r->c.stored;
    for (int i = 0; i < r->c.queries; i++) {
        float *row = r->probs + ((size_t)r->step * (size_t)r->c.queries + (size_t)i) * n;
        float f = s->factor[i];
        for (long j = s->begin; j < s->end; j++)
            row[j] *= f;
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
        if (r->probs)
            hop_pool_run(r->pool, normalize_task, r);
    }
    memcpy(out, state(r, r->c.steps), bd * sizeof(float));
}

/* Backward. */

/* ds = p * (dp - delta) for each query row of a chunk. */
static void softmax_backward_rows(const hop_retriever *r, const float *p, long ldp, float *dp,
                                  long count)
{
    for (int i = 0; i < r->c.queries; i++) {
        const float *prow = p + (size_t)i * (size_t)ldp;
        float *grow = dp + (size_t)i * (size_t)count, delta = r->delta[i];
        for (long j = 0; j < count; j++)
            grow[j] = prow[j] * (grow[j] - delta);
    }
}

/* Recomputes a chunk's probabilities and score gradients: scores = [dS; P], (2B, count). */
static void chunk_recompute(const hop_retriever *r, const float *y, long count, float *scores)
{
    int b = r->c.queries, d = r->c.width;
    const float *lse = r->lse + (size_t)r->step * (size_t)b;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2 * b, (int)count, d, 1.0f, r->stack_grad,
                d, y, d, 0.0f, scores, (int)count);
    float *p = scores + (size_t)b * (size_t)count;
    for (int i = 0; i < b; i++) {
        float *row = p + (size_t)i * (size_t)count;
        hop_exp_shifted(row, lse[i], row, count);
    }
    softmax_backward_rows(r, p, count, scores, count);
}

static void backward_chunk(hop_retriever *r, worker_space *s, long start, long count)
{
    int b = r->c.queries, d = r->c.width;
    const float *y = r->stored + (size_t)start * (size_t)d;
    float *dy = r->grad_stored + (size_t)start * (size_t)d;

    if (r->probs) {
        const float *p = r->probs + (size_t)r->step * (size_t)b * (size_t)r->c.stored + start;
        int ldp = (int)r->c.stored;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, (int)count, d, 1.0f, r->stack_grad,
                    d, y, d, 0.0f, s->scores, (int)count);
        softmax_backward_rows(r, p, ldp, s->scores, count);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, d, (int)count, r->c.beta,
                    s->scores, (int)count, y, d, 1.0f, s->partial, d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)count, d, b, 1.0f, p, ldp,
                    r->stack_grad, d, 1.0f, dy, d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)count, d, b, 1.0f, s->scores,
                    (int)count, r->stack_scaled, d, 1.0f, dy, d);
        return;
    }
    chunk_recompute(r, y, count, s->scores);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, d, (int)count, r->c.beta, s->scores,
                (int)count, y, d, 1.0f, s->partial, d);
    /* dY += dS^T (beta X) + P^T G in one product of inner extent 2B. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)count, d, 2 * b, 1.0f, s->scores,
                (int)count, r->stack_scaled, d, 1.0f, dy, d);
}

static void backward_task(void *arg, int worker, int workers)
{
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
