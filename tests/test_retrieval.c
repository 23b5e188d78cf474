/* Retrieval kernels: chunked and threaded orders against the plain one, gradients, and the
 * padded-batch MIL step against one bag at a time. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hop/blas.h"
#include "hop/graph.h"
#include "hop/layers.h"
#include "hop/params.h"
#include "hop/retrieval.h"
#include "hop/threads.h"

typedef struct problem {
    long n;
    int d, b, steps;
    float beta;
    float *stored, *queries, *grad_out;
} problem;

static void fill(float *x, size_t n, uint64_t seed, float scale)
{
    hop_rng rng;
    hop_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * hop_rng_normal(&rng);
}

static problem make_problem(long n, int d, int b, int steps)
{
    problem p = {.n = n, .d = d, .b = b, .steps = steps, .beta = 1.0f / sqrtf((float)d)};
    p.stored = malloc((size_t)n * (size_t)d * sizeof(float));
    p.queries = malloc((size_t)b * (size_t)d * sizeof(float));
    p.grad_out = malloc((size_t)b * (size_t)d * sizeof(float));
    cr_assert(p.stored && p.queries && p.grad_out);
    fill(p.stored, (size_t)n * (size_t)d, 1, 1.0f);
    fill(p.queries, (size_t)b * (size_t)d, 2, 1.5f);
    fill(p.grad_out, (size_t)b * (size_t)d, 3, 1.0f);
    return p;
}

static void free_problem(problem *p)
{
    free(p->stored);
    free(p->queries);
    free(p->grad_out);
}

/* Outputs of one run: the final state and both gradients. */
typedef struct outputs {
    float *out, *grad_queries, *grad_stored;
} outputs;

static outputs run(const problem *p, long chunk, bool keep, int threads)
{
    hop_pool *pool = NULL;
    hop_error err;
    cr_assert_eq(hop_pool_new(&pool, threads, &err), HOP_OK);
    hop_retriever_config c = {.stored = p->n,
                              .width = p->d,
                              .queries = p->b,
                              .steps = p->steps,
                              .beta = p->beta,
                              .chunk = chunk,
                              .keep_limit = keep ? SIZE_MAX : 0};
    hop_retriever *r = NULL;
    cr_assert_eq(hop_retriever_new(&r, &c, pool, &err), HOP_OK, "%s", err.message);
    size_t bd = (size_t)p->b * (size_t)p->d;
    outputs o = {malloc(bd * sizeof(float)), malloc(bd * sizeof(float)),
                 malloc((size_t)p->n * (size_t)p->d * sizeof(float))};
    hop_retriever_forward(r, p->stored, p->queries, o.out);
    hop_retriever_backward(r, p->stored, p->grad_out, o.grad_queries, o.grad_stored);
    hop_retriever_free(r);
    hop_pool_free(pool);
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->out);
    free(o->grad_queries);
    free(o->grad_stored);
}

static void assert_close(const float *got, const float *want, size_t n, double tol,
                         const char *what, long chunk)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - (double)want[i]) <= tol * (1.0 + fabs((double)want[i])),
                  "%s[%zu] with chunk %ld: %.9g, plain gives %.9g", what, i, chunk, (double)got[i],
                  (double)want[i]);
}

static void assert_same(const problem *p, const outputs *a, const outputs *b, long chunk)
{
    size_t bd = (size_t)p->b * (size_t)p->d;
    assert_close(a->out, b->out, bd, 1e-5, "output", chunk);
    assert_close(a->grad_queries, b->grad_queries, bd, 1e-5, "query gradient", chunk);
    assert_close(a->grad_stored, b->grad_stored, (size_t)p->n * (size_t)p->d, 1e-5,
                 "pattern gradient", chunk);
}

Test(retrieval, chunked_equals_plain)
{
    hop_blas_set_threads(1);
    problem p = make_problem(1000, 24, 5, 3);
    outputs plain = run(&p, 0, false, 1);
    const long chunks[] = {1, 7, 64, 333, 999, 1000, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        outputs chunked = run(&p, chunks[i], false, 1);
        assert_same(&p, &chunked, &plain, chunks[i]);
        free_outputs(&chunked);
    }
    free_outputs(&plain);
    free_problem(&p);
}

Test(retrieval, kept_scores_equal_recomputed)
{
    hop_blas_set_threads(1);
    problem p = make_problem(517, 16, 4, 2);
    outputs plain = run(&p, 0, false, 1);
    const long chunks[] = {0, 1, 100, 517};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        outputs kept_run = run(&p, chunks[i], true, 1);
        assert_same(&p, &kept_run, &plain, chunks[i]);
        free_outputs(&kept_run);
    }
    free_outputs(&plain);
    free_problem(&p);
}

Test(retrieval, keep_limit_decides)
{
    hop_error err;
    hop_retriever_config c = {.stored = 100, .width = 4, .queries = 3, .steps = 2, .beta = 1};
    size_t need = 2 * 100 * 3 * sizeof(float);
    const size_t limits[] = {0, need - 1, need, SIZE_MAX};
    const bool keeps[] = {false, false, true, true};
    for (int i = 0; i < 4; i++) {
        c.keep_limit = limits[i];
        hop_retriever *r = NULL;
        cr_assert_eq(hop_retriever_new(&r, &c, NULL, &err), HOP_OK, "%s", err.message);
        cr_assert_eq(hop_retriever_keeps_scores(r), keeps[i], "keep_limit %zu", limits[i]);
        hop_retriever_free(r);
    }
}

Test(retrieval, threads_equal_one_thread)
{
    hop_blas_set_threads(1);
    problem p = make_problem(777, 16, 3, 2);
    outputs one = run(&p, 0, false, 1);
    for (int threads = 2; threads <= 3; threads++) {
        outputs plain = run(&p, 0, false, threads);
        outputs kept_run = run(&p, 60, true, threads);
        outputs chunked = run(&p, 50, false, threads);
        assert_same(&p, &plain, &one, 0);
        assert_same(&p, &kept_run, &one, 60);
        assert_same(&p, &chunked, &one, 50);
        free_outputs(&plain);
        free_outputs(&kept_run);
        free_outputs(&chunked);
    }
    free_outputs(&one);
    free_problem(&p);
}

/* Double-precision forward for the finite differences: sum(out * grad_out). */
static double reference_loss(const problem *p, const float *stored, const float *queries)
{
    int d = p->d, b = p->b;
    long n = p->n;
    double *x = malloc((size_t)b * (size_t)d * sizeof *x), *s = malloc((size_t)n * sizeof *s);
    for (size_t i = 0; i < (size_t)b * (size_t)d; i++)
        x[i] = queries[i];
    for (int t = 0; t < p->steps; t++)
        for (int i = 0; i < b; i++) {
            double top = -INFINITY, total = 0.0, *xi = x + (size_t)i * (size_t)d;
            for (long j = 0; j < n; j++) {
                double dot = 0.0;
                for (int k = 0; k < d; k++)
                    dot += xi[k] * stored[(size_t)j * (size_t)d + (size_t)k];
                s[j] = p->beta * dot;
                top = s[j] > top ? s[j] : top;
            }
            for (long j = 0; j < n; j++)
                total += (s[j] = exp(s[j] - top));
            for (int k = 0; k < d; k++) {
                double v = 0.0;
                for (long j = 0; j < n; j++)
                    v += s[j] / total * stored[(size_t)j * (size_t)d + (size_t)k];
                xi[k] = v;
            }
        }
    double loss = 0.0;
    for (size_t i = 0; i < (size_t)b * (size_t)d; i++)
        loss += x[i] * p->grad_out[i];
    free(x);
    free(s);
    return loss;
}

static void check_numeric(const problem *p, float *values, const float *analytic, size_t n,
                          const char *what)
{
    const double eps = 1e-3;
    for (size_t i = 0; i < n; i++) {
        float saved = values[i];
        values[i] = saved + (float)eps;
        double up = reference_loss(p, p->stored, p->queries);
        values[i] = saved - (float)eps;
        double down = reference_loss(p, p->stored, p->queries);
        values[i] = saved;
        double numeric = (up - down) / (2 * eps);
        cr_assert(fabs(analytic[i] - numeric) <= 2e-3 + 2e-2 * fabs(numeric),
                  "%s[%zu]: analytic %.6g, finite difference %.6g", what, i, (double)analytic[i],
                  numeric);
    }
}

Test(retrieval, gradients_match_finite_differences)
{
    hop_blas_set_threads(1);
    problem p = make_problem(13, 5, 3, 2);
    p.beta = 0.8f;
    outputs o = run(&p, 0, false, 1);
    check_numeric(&p, p.queries, o.grad_queries, (size_t)p.b * (size_t)p.d, "query gradient");
    check_numeric(&p, p.stored, o.grad_stored, (size_t)p.n * (size_t)p.d, "pattern gradient");
    free_outputs(&o);
    free_problem(&p);
}

Test(retrieval, forward_matches_double_reference)
{
    hop_blas_set_threads(1);
    problem p = make_problem(300, 8, 4, 3);
    outputs o = run(&p, 37, false, 2);
    double loss = 0.0;
    for (size_t i = 0; i < (size_t)p.b * (size_t)p.d; i++)
        loss += (double)o.out[i] * p.grad_out[i];
    double want = reference_loss(&p, p.stored, p.queries);
    cr_assert(fabs(loss - want) <= 1e-4 * (1 + fabs(want)), "loss %.9g, reference %.9g", loss,
              want);
    free_outputs(&o);
    free_problem(&p);
}

Test(retrieval, invalid_config_rejected)
{
    hop_retriever *r = NULL;
    hop_error err;
    hop_retriever_config c = {.stored = 10, .width = 4, .queries = 2, .steps = 1, .beta = 1};
    c.steps = 0;
    cr_assert_eq(hop_retriever_new(&r, &c, NULL, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "steps 0 is invalid"), "%s", err.message);
    c.steps = 1;
    c.chunk = -8;
    cr_assert_eq(hop_retriever_new(&r, &c, NULL, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "chunk -8 is invalid"), "%s", err.message);
    c.chunk = 8;
    c.stored = 0;
    cr_assert_eq(hop_retriever_new(&r, &c, NULL, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "stored 0"), "%s", err.message);
    c.stored = 10;
    c.beta = NAN;
    cr_assert_eq(hop_retriever_new(&r, &c, NULL, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "beta nan is invalid"), "%s", err.message);
    cr_assert_null(r);
}

Test(pool, ranges_cover_count)
{
    for (int workers = 1; workers <= 5; workers++) {
        long next = 0;
        for (int w = 0; w < workers; w++) {
            long b0, b1;
            hop_pool_range(1000, 64, w, workers, &b0, &b1);
            cr_assert_eq(b0, next, "worker %d of %d starts at %ld", w, workers, b0);
            cr_assert(b0 % 64 == 0 || b0 == 1000);
            next = b1;
        }
        cr_assert_eq(next, 1000);
    }
}

Test(pool, invalid_thread_count_rejected)
{
    hop_pool *pool = NULL;
    hop_error err;
    cr_assert_eq(hop_pool_new(&pool, 0, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "0 threads is invalid"), "%s", err.message);
}

/* MIL: one padded batch of bags against one bag per graph. */

typedef struct mil_net {
    hop_params params;
    hop_linear embed, project, output;
    hop_hopfield_pooling pool;
} mil_net;

static void mil_net_init(mil_net *m, int heads, int steps)
{
    hop_error err;
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    hop_params_init(&m->params);
    hop_linear_config c1 = hop_linear_config_default(12, 16);
    hop_linear_config c2 = hop_linear_config_default(16, 8);
    hop_linear_config c3 = hop_linear_config_default(8, 1);
    c1.weight_init_arg = c2.weight_init_arg = c3.weight_init_arg = 0.3f;
    hop_hopfield_pooling_config pc = hop_hopfield_pooling_config_default(8);
    pc.hopfield.hidden_size = 4;
    pc.hopfield.num_heads = heads;
    pc.hopfield.output_size = 8;
    pc.hopfield.update_steps_max = steps;
    pc.hopfield.update_steps_eps = 1e-30f;
    cr_assert_eq(hop_linear_init(&m->embed, &c1, &m->params, "e", &rng, &err), HOP_OK);
    cr_assert_eq(hop_linear_init(&m->project, &c2, &m->params, "p", &rng, &err), HOP_OK);
    cr_assert_eq(hop_hopfield_pooling_init(&m->pool, &pc, &m->params, "pool", &rng, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(hop_linear_init(&m->output, &c3, &m->params, "o", &rng, &err), HOP_OK);
    /* Larger weights than the defaults make the softmax far from uniform. */
    for (size_t i = 0; i < m->params.total; i++)
        m->params.values[i] += 0.3f * sinf((float)i);
}

/* Adds the gradient of the mean BCE loss over bags x (count, len, 12) to params.grads. */
static double mil_loss(mil_net *m, float *x, float *mask, float *targets, int count, int len)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    hop_node *in = hop_input(g, 3, (int[]){count, len, 12}, x);
    hop_node *mk = mask ? hop_input(g, 2, (int[]){count, len}, mask) : NULL;
    hop_node *h = hop_relu(g, hop_linear_forward(g, &m->params, &m->embed, in));
    h = hop_linear_forward(g, &m->params, &m->project, h);
    h = hop_hopfield_pooling_forward(g, &m->params, &m->pool, h, mk, NULL);
    hop_node *logits = hop_linear_forward(g, &m->params, &m->output, h);
    hop_node *loss = hop_bce_logits(g, logits, hop_input(g, 2, (int[]){count, 1}, targets));
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
    double value = loss->value.data[0];
    hop_graph_free(g);
    return value;
}

static void check_batched_mil(int heads, int steps)
{
    enum { BAGS = 4, LONGEST = 9 };
    const int sizes[BAGS] = {9, 3, 6, 1};
    float x[BAGS * LONGEST * 12] = {0}, mask[BAGS * LONGEST], targets[BAGS] = {1, 0, 1, 0};
    fill(x, sizeof x / sizeof x[0], 9, 1.0f);
    for (int b = 0; b < BAGS; b++)
        for (int j = 0; j < LONGEST; j++) {
            mask[b * LONGEST + j] = j >= sizes[b];
            if (j >= sizes[b])
                memset(x + (b * LONGEST + j) * 12, 0, 12 * sizeof(float));
        }

    mil_net m;
    mil_net_init(&m, heads, steps);
    hop_params_zero_grad(&m.params);
    double batched = mil_loss(&m, x, mask, targets, BAGS, LONGEST);
    float *batched_grads = malloc(m.params.total * sizeof(float));
    memcpy(batched_grads, m.params.grads, m.params.total * sizeof(float));

    hop_params_zero_grad(&m.params);
    double single = 0.0;
    for (int b = 0; b < BAGS; b++)
        single += mil_loss(&m, x + b * LONGEST * 12, NULL, targets + b, 1, sizes[b]) / BAGS;
    for (size_t i = 0; i < m.params.total; i++)
        m.params.grads[i] /= BAGS;

    cr_assert(fabs(batched - single) <= 1e-5 * (1 + fabs(single)),
              "%d heads, %d steps: batched loss %.9g, per-bag mean %.9g", heads, steps, batched,
              single);
    for (size_t i = 0; i < m.params.total; i++)
        cr_assert(fabs(batched_grads[i] - m.params.grads[i]) <=
                      1e-5 * (1 + fabs(m.params.grads[i])),
                  "%d heads, %d steps: gradient %zu is %.9g batched, %.9g per bag", heads, steps, i,
                  (double)batched_grads[i], (double)m.params.grads[i]);
    free(batched_grads);
    hop_params_free(&m.params);
}

Test(mil_batch, padded_batch_equals_single_bags)
{
    hop_blas_set_threads(1);
    check_batched_mil(1, 0);
    check_batched_mil(2, 0);
    check_batched_mil(2, 3);
}
