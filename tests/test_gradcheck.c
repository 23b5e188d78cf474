/*
 * Central-difference gradient checks of every differentiable op.
 *
 * Each case builds one op from random inputs and runs gradcheck_run() with its defaults:
 * eps 1e-3, failure when |analytic - numeric| > 2e-3 + 2e-2 * |numeric|. Inputs of relu and
 * max stay at least 0.05 away from their kinks, so no step of eps crosses one.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/graph.h"
#include "support/gradcheck.h"

static float pool[1 << 14];
static size_t pool_used;
static hop_rng rng;

static void setup(void)
{
    pool_used = 0;
    hop_rng_seed(&rng, 42);
}

TestSuite(gradcheck, .init = setup);

/* An input of the given shape with uniform random data in [lo, hi). */
static gradcheck_input make_input(int ndim, const int *shape, float lo, float hi,
                                  bool differentiable)
{
    gradcheck_input in = {.ndim = ndim, .differentiable = differentiable};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    size_t count = 1;
    for (int d = 0; d < ndim; d++)
        count *= (size_t)shape[d];
    cr_assert_leq(pool_used + count, sizeof pool / sizeof *pool, "test data pool exhausted");

    in.data = pool + pool_used;
    pool_used += count;
    for (size_t i = 0; i < count; i++)
        in.data[i] = lo + (hi - lo) * hop_rng_uniform(&rng);
    return in;
}

#define SHAPE(...)         (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), ((int[]){__VA_ARGS__})
#define DIFF(lo, hi, ...)  make_input(SHAPE(__VA_ARGS__), lo, hi, true)
#define FIXED(lo, hi, ...) make_input(SHAPE(__VA_ARGS__), lo, hi, false)

static size_t input_count(const gradcheck_input *in)
{
    size_t count = 1;
    for (int d = 0; d < in->ndim; d++)
        count *= (size_t)in->shape[d];
    return count;
}

/* Moves every element at least margin away from 0, keeping its sign. */
static void keep_from_zero(gradcheck_input *in, float margin)
{
    for (size_t i = 0; i < input_count(in); i++)
        in->data[i] = in->data[i] < 0.0f ? in->data[i] - margin : in->data[i] + margin;
}

/* Fills an input with a shuffled ladder of values 0.05 apart, so every maximum is unique. */
static void fill_distinct(gradcheck_input *in)
{
    int count = (int)input_count(in);
    int order[256];
    cr_assert_leq(count, 256);
    for (int i = 0; i < count; i++)
        order[i] = i;
    hop_rng_shuffle_int(&rng, order, (size_t)count);
    for (int i = 0; i < count; i++)
        in->data[i] = 0.05f * (float)order[i] - 1.0f;
}

static void expect_gradients(const gradcheck_input *inputs, int n, gradcheck_build_fn build,
                             const void *arg)
{
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    bool passed = gradcheck_run(inputs, n, build, arg, &options, &result);
    cr_assert(passed, "%s", result.message);
    cr_assert_gt(result.checked, 0, "no element was checked");
}

/* matmul */

typedef struct matmul_case {
    int batch_a[2], batch_a_ndim;
    int batch_b[2], batch_b_ndim;
    int m, k, n;
} matmul_case;

static const matmul_case matmul_cases[] = {
    {{0}, 0, {0}, 0, 3, 4, 5},       /* plain matrices */
    {{2}, 1, {2}, 1, 3, 4, 2},       /* equal batch axes */
    {{2}, 1, {0}, 0, 3, 4, 2},       /* B has fewer batch axes */
    {{2}, 1, {1}, 1, 3, 2, 4},       /* B has a size-1 batch axis */
    {{2, 2}, 2, {2, 1}, 2, 2, 3, 2}, /* B broadcast along the inner batch axis */
    {{0}, 0, {2}, 1, 2, 3, 4},       /* A has fewer batch axes */
};

/* Stored operand shape: batch axes, then (rows, cols) or (cols, rows) when transposed. */
static gradcheck_input matmul_operand(const int *batch, int batch_ndim, int rows, int cols,
                                      int transposed)
{
    int shape[HOP_MAX_DIMS];
    memcpy(shape, batch, (size_t)batch_ndim * sizeof *shape);
    shape[batch_ndim] = transposed ? cols : rows;
    shape[batch_ndim + 1] = transposed ? rows : cols;
    return make_input(batch_ndim + 2, shape, -1.0f, 1.0f, true);
}

static hop_node *build_matmul(hop_graph *g, hop_node **x, const void *arg)
{
    const int *flags = arg;
    return hop_matmul(g, x[0], x[1], flags[0], flags[1]);
}

Test(gradcheck, matmul_transposes_and_batches)
{
    for (size_t c = 0; c < sizeof matmul_cases / sizeof *matmul_cases; c++) {
        const matmul_case *mc = &matmul_cases[c];
        for (int flags = 0; flags < 4; flags++) {
            int transposes[2] = {flags & 1, flags >> 1};
            gradcheck_input in[2] = {
                matmul_operand(mc->batch_a, mc->batch_a_ndim, mc->m, mc->k, transposes[0]),
                matmul_operand(mc->batch_b, mc->batch_b_ndim, mc->k, mc->n, transposes[1]),
            };
            gradcheck_options options = gradcheck_defaults();
            gradcheck_result result;
            bool passed = gradcheck_run(in, 2, build_matmul, transposes, &options, &result);
            cr_assert(passed, "case %zu, transpose_a %d, transpose_b %d: %s", c, transposes[0],
                      transposes[1], result.message);
        }
    }
}

/* Elementwise ops */

typedef struct binary_op {
    hop_node *(*apply)(hop_graph *, hop_node *, hop_node *);
} binary_op;

static hop_node *build_binary(hop_graph *g, hop_node **x, const void *arg)
{
    const binary_op *op = arg;
    return op->apply(g, x[0], x[1]);
}

/* Checks op on equal shapes and on broadcasts of b into a, of a into b and of both. */
static void expect_binary_gradients(const binary_op *op, float b_lo, float b_hi)
{
    gradcheck_input cases[][2] = {
        {DIFF(-1, 1, 2, 3), DIFF(b_lo, b_hi, 2, 3)},
        {DIFF(-1, 1, 2, 3, 4), DIFF(b_lo, b_hi, 3, 1)},
        {DIFF(-1, 1, 4), DIFF(b_lo, b_hi, 2, 3, 4)},
        {DIFF(-1, 1, 3, 1), DIFF(b_lo, b_hi, 1, 4)},
        {DIFF(-1, 1, 2, 1, 3, 1), DIFF(b_lo, b_hi, 2, 1, 2)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        bool passed = gradcheck_run(cases[c], 2, build_binary, op, &options, &result);
        cr_assert(passed, "broadcast case %zu: %s", c, result.message);
    }
}

Test(gradcheck, add_broadcast)
{
    expect_binary_gradients(&(binary_op){hop_add}, -1.0f, 1.0f);
}

Test(gradcheck, sub_broadcast)
{
    expect_binary_gradients(&(binary_op){hop_sub}, -1.0f, 1.0f);
}

Test(gradcheck, mul_broadcast)
{
    expect_binary_gradients(&(binary_op){hop_mul}, -1.0f, 1.0f);
}

Test(gradcheck, div_broadcast)
{
    expect_binary_gradients(&(binary_op){hop_div}, 0.5f, 2.0f);
}

typedef struct unary_op {
    hop_node *(*apply)(hop_graph *, hop_node *);
} unary_op;

static hop_node *build_unary(hop_graph *g, hop_node **x, const void *arg)
{
    const unary_op *op = arg;
    return op->apply(g, x[0]);
}

static hop_node *build_scale(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_scale(g, x[0], *(const float *)arg);
}

Test(gradcheck, scale)
{
    gradcheck_input in = DIFF(-1, 1, 3, 4);
    expect_gradients(&in, 1, build_scale, &(float){-1.5f});
}

Test(gradcheck, exp)
{
    gradcheck_input in = DIFF(-1, 1, 3, 4);
    expect_gradients(&in, 1, build_unary, &(unary_op){hop_exp});
}

Test(gradcheck, log)
{
    gradcheck_input in = DIFF(0.5f, 2, 3, 4);
    expect_gradients(&in, 1, build_unary, &(unary_op){hop_log});
}

Test(gradcheck, relu_away_from_kink)
{
    gradcheck_input in = DIFF(-1, 1, 3, 4);
    keep_from_zero(&in, 0.05f);
    expect_gradients(&in, 1, build_unary, &(unary_op){hop_relu});
}

Test(gradcheck, sigmoid)
{
    gradcheck_input in = DIFF(-3, 3, 3, 4);
    expect_gradients(&in, 1, build_unary, &(unary_op){hop_sigmoid});
}

Test(gradcheck, tanh)
{
    gradcheck_input in = DIFF(-2, 2, 3, 4);
    expect_gradients(&in, 1, build_unary, &(unary_op){hop_tanh});
}

/* Reductions */

typedef struct reduce_case {
    hop_node *(*apply)(hop_graph *, hop_node *, int, int);
    int axis, keepdim;
} reduce_case;

static hop_node *build_reduce(hop_graph *g, hop_node **x, const void *arg)
{
    const reduce_case *rc = arg;
    return rc->apply(g, x[0], rc->axis, rc->keepdim);
}

/* Checks a reduction over every axis of a (2, 3, 4) input, with and without keepdim. */
static void expect_reduce_gradients(hop_node *(*apply)(hop_graph *, hop_node *, int, int),
                                    bool distinct)
{
    int axes[] = {0, 1, 2, -1};
    for (int a = 0; a < 4; a++)
        for (int keepdim = 0; keepdim < 2; keepdim++) {
            gradcheck_input in = DIFF(-1, 1, 2, 3, 4);
            if (distinct)
                fill_distinct(&in);
            reduce_case rc = {apply, axes[a], keepdim};
            gradcheck_options options = gradcheck_defaults();
            gradcheck_result result;
            bool passed = gradcheck_run(&in, 1, build_reduce, &rc, &options, &result);
            cr_assert(passed, "axis %d, keepdim %d: %s", axes[a], keepdim, result.message);
        }
}

Test(gradcheck, sum_every_axis)
{
    expect_reduce_gradients(hop_sum, false);
}

Test(gradcheck, mean_every_axis)
{
    expect_reduce_gradients(hop_mean, false);
}

Test(gradcheck, max_every_axis)
{
    expect_reduce_gradients(hop_max, true);
}

static hop_node *build_mean_all(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_mean_all(g, x[0]);
}

Test(gradcheck, mean_all)
{
    gradcheck_input in = DIFF(-1, 1, 2, 3, 2);
    expect_gradients(&in, 1, build_mean_all, NULL);
}

/* Shape ops */

static hop_node *build_reshape(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_reshape(g, x[0], 2, arg);
}

Test(gradcheck, reshape_inferred_extent)
{
    gradcheck_input in = DIFF(-1, 1, 2, 3, 4);
    expect_gradients(&in, 1, build_reshape, (const int[]){4, -1});
}

Test(gradcheck, transpose)
{
    gradcheck_input matrix = DIFF(-1, 1, 3, 5);
    expect_gradients(&matrix, 1, build_unary, &(unary_op){hop_transpose});
    gradcheck_input batched = DIFF(-1, 1, 2, 3, 4);
    expect_gradients(&batched, 1, build_unary, &(unary_op){hop_transpose});
}

static hop_node *build_permute(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_permute(g, x[0], arg);
}

Test(gradcheck, permute)
{
    gradcheck_input three = DIFF(-1, 1, 2, 3, 4);
    expect_gradients(&three, 1, build_permute, (const int[]){2, 0, 1});
    gradcheck_input four = DIFF(-1, 1, 2, 3, 2, 2);
    expect_gradients(&four, 1, build_permute, (const int[]){3, 1, 0, 2});
}

typedef struct concat_case {
    int n, axis;
} concat_case;

static hop_node *build_concat(hop_graph *g, hop_node **x, const void *arg)
{
    const concat_case *cc = arg;
    return hop_concat(g, x, cc->n, cc->axis);
}

Test(gradcheck, concat_middle_axis)
{
    gradcheck_input in[3] = {DIFF(-1, 1, 2, 1, 3), DIFF(-1, 1, 2, 2, 3), DIFF(-1, 1, 2, 3, 3)};
    expect_gradients(in, 3, build_concat, &(concat_case){3, 1});
}

Test(gradcheck, concat_first_and_last_axis)
{
    gradcheck_input rows[2] = {DIFF(-1, 1, 1, 3), DIFF(-1, 1, 2, 3)};
    expect_gradients(rows, 2, build_concat, &(concat_case){2, 0});
    gradcheck_input cols[2] = {DIFF(-1, 1, 2, 2), DIFF(-1, 1, 2, 3)};
    expect_gradients(cols, 2, build_concat, &(concat_case){2, -1});
}

Test(gradcheck, concat_constant_part)
{
    gradcheck_input in[2] = {DIFF(-1, 1, 2, 2), FIXED(-1, 1, 2, 3)};
    expect_gradients(in, 2, build_concat, &(concat_case){2, 1});
}

static hop_node *build_slice(hop_graph *g, hop_node **x, const void *arg)
{
    const int *range = arg;
    return hop_slice(g, x[0], range[0], range[1], range[2]);
}

Test(gradcheck, slice_each_axis)
{
    const int ranges[][3] = {{0, 1, 3}, {1, 1, 4}, {-1, 0, 1}};
    for (int r = 0; r < 3; r++) {
        gradcheck_input in = DIFF(-1, 1, 3, 5, 2);
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        bool passed = gradcheck_run(&in, 1, build_slice, ranges[r], &options, &result);
        cr_assert(passed, "axis %d [%d, %d): %s", ranges[r][0], ranges[r][1], ranges[r][2],
                  result.message);
    }
}

/* softmax and log_softmax */

static hop_node *build_softmax(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_softmax(g, x[0], arg ? x[1] : NULL);
}

static hop_node *build_log_softmax(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_log_softmax(g, x[0], arg ? x[1] : NULL);
}

/* A (3, 5) mask for (2, 3, 5) logits: row 0 partly masked, row 1 fully, row 2 not at all. */
static gradcheck_input softmax_mask(void)
{
    gradcheck_input mask = FIXED(0, 0, 3, 5);
    const float values[15] = {1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    memcpy(mask.data, values, sizeof values);
    return mask;
}

Test(gradcheck, softmax)
{
    gradcheck_input in = DIFF(-2, 2, 3, 5);
    expect_gradients(&in, 1, build_softmax, NULL);
}

Test(gradcheck, softmax_broadcast_mask)
{
    gradcheck_input in[2] = {DIFF(-2, 2, 2, 3, 5), softmax_mask()};
    expect_gradients(in, 2, build_softmax, "mask");
}

Test(gradcheck, log_softmax)
{
    gradcheck_input in = DIFF(-2, 2, 3, 5);
    expect_gradients(&in, 1, build_log_softmax, NULL);
}

Test(gradcheck, log_softmax_broadcast_mask)
{
    gradcheck_input in[2] = {DIFF(-2, 2, 2, 3, 5), softmax_mask()};
    expect_gradients(in, 2, build_log_softmax, "mask");
}

/* layernorm: arg flags which of gamma and beta follow the input. */

static hop_node *build_layernorm(hop_graph *g, hop_node **x, const void *arg)
{
    const int *affine = arg;
    hop_node *gamma = affine[0] ? x[1] : NULL;
    hop_node *beta = affine[1] ? x[1 + affine[0]] : NULL;
    return hop_layernorm(g, x[0], gamma, beta, 1e-5f);
}

Test(gradcheck, layernorm_with_and_without_affine)
{
    for (int flags = 0; flags < 4; flags++) {
        int affine[2] = {flags & 1, flags >> 1};
        gradcheck_input in[3] = {DIFF(-2, 2, 2, 3, 6)};
        int n = 1;
        if (affine[0])
            in[n++] = DIFF(0.5f, 1.5f, 6);
        if (affine[1])
            in[n++] = DIFF(-1, 1, 6);
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        bool passed = gradcheck_run(in, n, build_layernorm, affine, &options, &result);
        cr_assert(passed, "gamma %d, beta %d: %s", affine[0], affine[1], result.message);
    }
}

/* dropout */

static hop_node *build_dropout(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_dropout(g, x[0], *(const float *)arg);
}

Test(gradcheck, dropout_training_fixed_seed)
{
    gradcheck_input in = DIFF(-1, 1, 4, 5);
    expect_gradients(&in, 1, build_dropout, &(float){0.3f});
}

Test(gradcheck, dropout_inference)
{
    gradcheck_input in = DIFF(-1, 1, 4, 5);
    gradcheck_options options = gradcheck_defaults();
    options.training = false;
    gradcheck_result result;
    bool passed = gradcheck_run(&in, 1, build_dropout, &(float){0.3f}, &options, &result);
    cr_assert(passed, "%s", result.message);
}

Test(gradcheck, dropout_backward_reuses_forward_mask)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 7);
    hop_graph *g = hop_graph_new(&ctx);
    float x[64], w[64];
    for (int i = 0; i < 64; i++) {
        x[i] = 1.0f + 0.01f * (float)i;
        w[i] = 0.5f + 0.01f * (float)i;
    }
    hop_node *in = hop_input_grad(g, 1, (int[]){64}, x);
    hop_node *out = hop_dropout(g, in, 0.25f);
    hop_node *weights = hop_constant(g, 1, (int[]){64}, w);
    hop_node *loss = hop_sum(g, hop_mul(g, out, weights), 0, 1);
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);

    int dropped = 0;
    for (int i = 0; i < 64; i++) {
        bool kept = out->value.data[i] != 0.0f;
        dropped += !kept;
        float expected = kept ? w[i] / 0.75f : 0.0f;
        cr_assert_float_eq(in->grad[i], expected, 1e-6f, "element %d: kept %d, grad %g", i, kept,
                           (double)in->grad[i]);
        if (kept)
            cr_assert_float_eq(out->value.data[i], x[i] / 0.75f, 1e-6f, "element %d", i);
    }
    cr_assert(dropped > 0 && dropped < 64, "%d of 64 elements dropped at p = 0.25", dropped);
    hop_graph_free(g);
}

/* Losses */

static hop_node *build_bce(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_bce_logits(g, x[0], x[1]);
}

Test(gradcheck, bce_logits_logits_and_targets)
{
    gradcheck_input in[2] = {DIFF(-3, 3, 3, 4), DIFF(0.05f, 0.95f, 3, 4)};
    expect_gradients(in, 2, build_bce, NULL);
}

static hop_node *build_xent(hop_graph *g, hop_node **x, const void *arg)
{
    return hop_softmax_xent(g, x[0], arg);
}

Test(gradcheck, softmax_xent)
{
    gradcheck_input in = DIFF(-2, 2, 4, 5);
    expect_gradients(&in, 1, build_xent, (const int[]){0, 4, 2, 2});
}

/* A composition of several ops, as a layer would build it. */
static hop_node *build_attention(hop_graph *g, hop_node **x, const void *arg)
{
    hop_node *scores = hop_scale(g, hop_matmul(g, x[0], x[1], 0, 1), 0.5f);
    hop_node *weights = hop_softmax(g, scores, NULL);
    return hop_layernorm(g, hop_matmul(g, weights, x[1], 0, 0), NULL, NULL, 1e-5f);
}

Test(gradcheck, composed_attention)
{
    gradcheck_input in[2] = {DIFF(-1, 1, 2, 3, 4), DIFF(-1, 1, 2, 5, 4)};
    expect_gradients(in, 2, build_attention, NULL);
}

/* The checker itself: an op whose backward misses half the dependence must fail. */
static hop_node *build_hidden_dependence(hop_graph *g, hop_node **x, const void *arg)
{
    hop_node *copy = hop_constant(g, x[0]->value.ndim, x[0]->value.shape, x[0]->value.data);
    return hop_mul(g, x[0], copy);
}

Test(gradcheck, checker_detects_wrong_gradient)
{
    gradcheck_input in = DIFF(0.5f, 1, 2, 3);
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    bool passed = gradcheck_run(&in, 1, build_hidden_dependence, NULL, &options, &result);
    cr_assert_not(passed, "%s", result.message);
    cr_assert_lt(fabs(result.numeric - 2.0 * result.analytic), 1e-2, "%s", result.message);
    cr_assert_not_null(strstr(result.message, "FAILED"), "%s", result.message);
}

Test(gradcheck, checker_reports_build_error)
{
    gradcheck_input in = DIFF(-1, 1, 2, 3);
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    bool passed = gradcheck_run(&in, 1, build_slice, (const int[]){0, 2, 1}, &options, &result);
    cr_assert_not(passed);
    cr_assert_not_null(strstr(result.message, "slice"), "%s", result.message);
}
