/* Forward values of the ops against naive loops and hand-computed numbers, and their errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/graph.h"

static hop_ctx ctx;
static hop_graph *g;

static void setup(void)
{
    hop_ctx_init(&ctx, 1234);
    g = hop_graph_new(&ctx);
    cr_assert_not_null(g);
}

static void teardown(void)
{
    hop_graph_free(g);
}

TestSuite(ops, .init = setup, .fini = teardown);

#define SHAPE(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), ((int[]){__VA_ARGS__})

static void expect_shape(const hop_node *n, int ndim, const int *shape)
{
    char got[64], want[64];
    cr_assert_not_null(n, "node is NULL: %s", ctx.error.message);
    cr_assert(hop_shape_equal(n->value.ndim, n->value.shape, ndim, shape), "shape %s, expected %s",
              hop_shape_format(n->value.ndim, n->value.shape, got, sizeof got),
              hop_shape_format(ndim, shape, want, sizeof want));
}

static void expect_values(const float *got, const float *want, size_t count, float tolerance)
{
    for (size_t i = 0; i < count; i++)
        cr_assert_float_eq(got[i], want[i], tolerance, "element %zu: got %.7g, expected %.7g", i,
                           (double)got[i], (double)want[i]);
}

static void expect_error(const hop_node *n, const char *fragment)
{
    cr_assert_null(n, "the op succeeded, expected an error containing \"%s\"", fragment);
    cr_assert_neq(ctx.error.status, HOP_OK);
    cr_assert_not_null(strstr(ctx.error.message, fragment), "message \"%s\" lacks \"%s\"",
                       ctx.error.message, fragment);
    /* The graph keeps its first error, so clear it for the next check. */
    hop_error_clear(&ctx.error);
}

/* Runs backward from sum(n), so every element of n gets gradient 1. */
static void backward_sum(hop_node *n)
{
    hop_node *loss = hop_sum(g, hop_reshape(g, n, 1, (const int[]){-1}), 0, 1);
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
}

static void fill_ramp(float *x, size_t count, float start, float step)
{
    for (size_t i = 0; i < count; i++)
        x[i] = start + step * (float)i;
}

/* matmul */

/* Operand (batch..., rows, cols) element (b, i, j) with NumPy batch broadcasting. */
static float operand_at(const float *data, const int *shape, int ndim, const int *out_batch,
                        int out_batch_ndim, int i, int j, int transposed)
{
    size_t offset = 0;
    int batch_ndim = ndim - 2;
    for (int d = 0; d < batch_ndim; d++) {
        int index = out_batch[d + out_batch_ndim - batch_ndim];
        offset = offset * (size_t)shape[d] + (size_t)(shape[d] == 1 ? 0 : index);
    }
    int cols = shape[ndim - 1];
    size_t matrix = (size_t)shape[ndim - 2] * (size_t)cols;
    return transposed ? data[offset * matrix + (size_t)j * cols + i]
                      : data[offset * matrix + (size_t)i * cols + j];
}

typedef struct matmul_case {
    int a_ndim, a_batch[2];
    int b_ndim, b_batch[2];
    int m, k, n;
} matmul_case;

static void check_matmul_case(const matmul_case *mc, int ta, int tb)
{
    int a_shape[4], b_shape[4];
    memcpy(a_shape, mc->a_batch, sizeof mc->a_batch);
    memcpy(b_shape, mc->b_batch, sizeof mc->b_batch);
    int ab = mc->a_ndim - 2, bb = mc->b_ndim - 2;
    a_shape[ab] = ta ? mc->k : mc->m;
    a_shape[ab + 1] = ta ? mc->m : mc->k;
    b_shape[bb] = tb ? mc->n : mc->k;
    b_shape[bb + 1] = tb ? mc->k : mc->n;

    float a[256], b[256];
    for (int i = 0; i < 256; i++) {
        a[i] = (float)((i * 7) % 11) - 5.0f;
        b[i] = (float)((i * 5) % 13) * 0.5f - 3.0f;
    }
    hop_node *c = hop_matmul(g, hop_input(g, mc->a_ndim, a_shape, a),
                             hop_input(g, mc->b_ndim, b_shape, b), ta, tb);
    cr_assert_not_null(c, "%s", ctx.error.message);

    int batch_ndim = c->value.ndim - 2;
    size_t batch_count = 1;
    for (int d = 0; d < batch_ndim; d++)
        batch_count *= (size_t)c->value.shape[d];
    size_t o = 0;
    for (size_t flat = 0; flat < batch_count; flat++) {
        int batch[2];
        for (int d = batch_ndim - 1, rest = (int)flat; d >= 0; d--) {
            batch[d] = rest % c->value.shape[d];
            rest /= c->value.shape[d];
        }
        for (int i = 0; i < mc->m; i++)
            for (int j = 0; j < mc->n; j++, o++) {
                double sum = 0.0;
                for (int p = 0; p < mc->k; p++)
                    sum += operand_at(a, a_shape, mc->a_ndim, batch, batch_ndim, i, p, ta) *
                           operand_at(b, b_shape, mc->b_ndim, batch, batch_ndim, p, j, tb);
                cr_assert_float_eq(c->value.data[o], (float)sum, 1e-4f,
                                   "transpose %d/%d, element %zu: got %g, expected %g", ta, tb, o,
                                   (double)c->value.data[o], sum);
            }
    }
}

Test(ops, matmul_matches_naive_loop)
{
    const matmul_case cases[] = {
        {2, {0}, 2, {0}, 3, 4, 5},    {3, {2}, 3, {2}, 3, 4, 2},       {3, {3}, 2, {0}, 2, 5, 3},
        {3, {2}, 3, {1}, 3, 2, 4},    {4, {2, 2}, 4, {2, 1}, 2, 3, 2}, {2, {0}, 3, {2}, 2, 3, 4},
        {4, {2, 3}, 3, {3}, 2, 2, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int flags = 0; flags < 4; flags++)
            check_matmul_case(&cases[c], flags & 1, flags >> 1);
}

Test(ops, matmul_output_shape)
{
    float a[24] = {0}, b[40] = {0};
    hop_node *c =
        hop_matmul(g, hop_input(g, SHAPE(2, 3, 4), a), hop_input(g, SHAPE(1, 5, 4), b), 0, 1);
    expect_shape(c, SHAPE(2, 3, 5));
}

Test(ops, matmul_batch_mismatch_error)
{
    float a[24] = {0}, b[36] = {0};
    hop_node *c =
        hop_matmul(g, hop_input(g, SHAPE(2, 3, 4), a), hop_input(g, SHAPE(3, 4, 3), b), 0, 0);
    expect_error(c, "do not broadcast");
}

/* softmax and log_softmax */

Test(ops, softmax_hand_values)
{
    float x[3] = {1, 2, 3};
    hop_node *y = hop_softmax(g, hop_input(g, SHAPE(3), x), NULL);
    expect_shape(y, SHAPE(3));
    expect_values(y->value.data, (const float[]){0.0900306f, 0.2447285f, 0.6652410f}, 3, 1e-6f);
}

Test(ops, log_softmax_hand_values)
{
    float x[3] = {1, 2, 3};
    hop_node *y = hop_log_softmax(g, hop_input(g, SHAPE(3), x), NULL);
    expect_values(y->value.data, (const float[]){-2.4076060f, -1.4076060f, -0.4076060f}, 3, 1e-6f);
}

Test(ops, softmax_large_logits_finite)
{
    float x[6] = {1e4f, 0.0f, -1e4f, 1e4f, 1e4f, 1e4f - 1.0f};
    hop_node *y = hop_softmax(g, hop_input(g, SHAPE(2, 3), x), NULL);
    hop_node *log_y = hop_log_softmax(g, hop_input(g, SHAPE(2, 3), x), NULL);
    cr_assert_not_null(log_y, "%s", ctx.error.message);
    for (int i = 0; i < 6; i++) {
        cr_assert(isfinite(y->value.data[i]), "softmax element %d is %g", i,
                  (double)y->value.data[i]);
        cr_assert(isfinite(log_y->value.data[i]), "log_softmax element %d is %g", i,
                  (double)log_y->value.data[i]);
    }
    expect_values(y->value.data, (const float[]){1, 0, 0, 0.4223188f, 0.4223188f, 0.1553624f}, 6,
                  1e-6f);
    cr_assert_float_eq(log_y->value.data[2], -2e4f, 1.0f);
}

Test(ops, softmax_fully_masked_row_zeros)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, mask[6] = {0, 0, 0, 1, 1, 1};
    hop_node *in = hop_input_grad(g, SHAPE(2, 3), x);
    hop_node *y = hop_softmax(g, in, hop_input(g, SHAPE(2, 3), mask));
    expect_values(y->value.data, (const float[]){0.0900306f, 0.2447285f, 0.6652410f, 0, 0, 0}, 6,
                  1e-6f);

    float w[6] = {1, -2, 3, 4, 5, 6};
    backward_sum(hop_mul(g, y, hop_input(g, SHAPE(2, 3), w)));
    for (int i = 0; i < 6; i++)
        cr_assert(isfinite(in->grad[i]), "grad element %d is %g", i, (double)in->grad[i]);
    for (int i = 3; i < 6; i++)
        cr_assert_eq(in->grad[i], 0.0f, "masked row grad element %d is %g", i, (double)in->grad[i]);
    cr_assert_neq(in->grad[0], 0.0f);
}

Test(ops, log_softmax_mask_values)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, mask[6] = {0, 1, 0, 1, 1, 1};
    hop_node *in = hop_input_grad(g, SHAPE(2, 3), x);
    hop_node *y = hop_log_softmax(g, in, hop_input(g, SHAPE(2, 3), mask));
    cr_assert_not_null(y, "%s", ctx.error.message);
    float lse = logf(expf(1.0f) + expf(3.0f));
    cr_assert_float_eq(y->value.data[0], 1.0f - lse, 1e-6f);
    cr_assert(isinf(y->value.data[1]) && y->value.data[1] < 0, "masked entry %g",
              (double)y->value.data[1]);
    cr_assert_float_eq(y->value.data[2], 3.0f - lse, 1e-6f);
    for (int i = 3; i < 6; i++)
        cr_assert_eq(y->value.data[i], 0.0f, "fully masked row element %d", i);

    backward_sum(hop_slice(g, y, 1, 0, 1));
    cr_assert_eq(in->grad[1], 0.0f);
    for (int i = 3; i < 6; i++)
        cr_assert_eq(in->grad[i], 0.0f);
}

/* Scaled logits [1, 1, 1, 1, 1] * 4 with index 1 masked: the masked gradient is exactly 0. */
Test(ops, softmax_masked_entry_zero_gradient)
{
    float x[5] = {1, 1, 1, 1, 1}, mask[5] = {0, 1, 0, 0, 0};
    hop_node *in = hop_input_grad(g, SHAPE(5), x);
    hop_node *y = hop_softmax(g, hop_scale(g, in, 4.0f), hop_input(g, SHAPE(5), mask));
    expect_values(y->value.data, (const float[]){0.25f, 0, 0.25f, 0.25f, 0.25f}, 5, 1e-6f);
    backward_sum(hop_slice(g, y, 0, 2, 3));
    expect_values(in->grad, (const float[]){-0.25f, 0, 0.75f, -0.25f, -0.25f}, 5, 1e-6f);
    cr_assert_eq(in->grad[1], 0.0f);
}

Test(ops, softmax_mask_broadcast_over_batch)
{
    float x[12], mask[3] = {0, 0, 1};
    fill_ramp(x, 12, 0.0f, 0.5f);
    hop_node *y = hop_softmax(g, hop_input(g, SHAPE(2, 2, 3), x), hop_input(g, SHAPE(3), mask));
    cr_assert_not_null(y, "%s", ctx.error.message);
    for (int r = 0; r < 4; r++) {
        cr_assert_float_eq(y->value.data[3 * r] + y->value.data[3 * r + 1], 1.0f, 1e-6f);
        cr_assert_eq(y->value.data[3 * r + 2], 0.0f);
    }
}

Test(ops, softmax_mask_shape_error)
{
    float x[6] = {0}, mask[2] = {0};
    hop_node *y = hop_softmax(g, hop_input(g, SHAPE(2, 3), x), hop_input(g, SHAPE(2), mask));
    expect_error(y, "softmax: mask of shape (2) does not broadcast to (2, 3)");
}

/* layernorm */

Test(ops, layernorm_constant_row_zeros)
{
    float x[4] = {5, 5, 5, 5};
    hop_node *in = hop_input_grad(g, SHAPE(1, 4), x);
    hop_node *y = hop_layernorm(g, in, NULL, NULL, 1e-5f);
    expect_values(y->value.data, (const float[]){0, 0, 0, 0}, 4, 0.0f);
    float w[4] = {1, 2, 3, 4};
    backward_sum(hop_mul(g, y, hop_input(g, SHAPE(4), w)));
    for (int i = 0; i < 4; i++)
        cr_assert(isfinite(in->grad[i]), "grad element %d is %g", i, (double)in->grad[i]);
}

Test(ops, layernorm_hand_values)
{
    float x[8] = {1, 2, 3, 4, 1, 2, 3, 4}, gamma[4] = {1, 2, 1, 1}, beta[4] = {0, 0, 1, 0};
    hop_node *a = hop_input(g, SHAPE(2, 4), x);
    hop_node *plain = hop_layernorm(g, a, NULL, NULL, 1e-5f);
    hop_node *affine =
        hop_layernorm(g, a, hop_input(g, SHAPE(4), gamma), hop_input(g, SHAPE(4), beta), 1e-5f);
    expect_shape(affine, SHAPE(2, 4));
    expect_values(plain->value.data,
                  (const float[]){-1.3416354f, -0.4472118f, 0.4472118f, 1.3416354f}, 4, 1e-5f);
    expect_values(affine->value.data + 4,
                  (const float[]){-1.3416354f, -0.8944236f, 1.4472118f, 1.3416354f}, 4, 1e-5f);
}

Test(ops, layernorm_errors)
{
    float x[6] = {0}, gamma[3] = {1, 1, 1};
    hop_node *a = hop_input(g, SHAPE(2, 3), x);
    expect_error(hop_layernorm(g, a, hop_input(g, SHAPE(2), gamma), NULL, 1e-5f),
                 "layernorm: gamma has shape (2), expected (3)");
    expect_error(hop_layernorm(g, a, NULL, hop_input(g, SHAPE(1, 3), gamma), 1e-5f),
                 "beta has shape (1, 3)");
    expect_error(hop_layernorm(g, a, NULL, NULL, 0.0f), "eps must be positive");
}

/* dropout */

Test(ops, dropout_inference_is_identity)
{
    float x[100];
    fill_ramp(x, 100, -1.0f, 0.02f);
    hop_graph_set_training(g, false);
    hop_node *y = hop_dropout(g, hop_input(g, SHAPE(100), x), 0.5f);
    expect_values(y->value.data, x, 100, 0.0f);
}

Test(ops, dropout_zero_probability_is_identity)
{
    float x[100];
    fill_ramp(x, 100, -1.0f, 0.02f);
    hop_node *y = hop_dropout(g, hop_input(g, SHAPE(100), x), 0.0f);
    expect_values(y->value.data, x, 100, 0.0f);
}

Test(ops, dropout_training_scales_kept)
{
    enum { count = 4000 };
    static float x[count];
    for (int i = 0; i < count; i++)
        x[i] = 1.0f;
    hop_node *y = hop_dropout(g, hop_input(g, SHAPE(count), x), 0.25f);
    cr_assert_not_null(y, "%s", ctx.error.message);
    int kept_count = 0;
    for (int i = 0; i < count; i++) {
        float v = y->value.data[i];
        cr_assert(v == 0.0f || fabsf(v - 1.0f / 0.75f) < 1e-6f, "element %d is %g", i, (double)v);
        kept_count += v != 0.0f;
    }
    /* 3000 are expected, and the binomial standard deviation is about 27. */
    cr_assert(kept_count > 2850 && kept_count < 3150, "%d of %d kept at p = 0.25", kept_count,
              count);
}

Test(ops, dropout_same_seed_same_mask)
{
    float x[50];
    fill_ramp(x, 50, 1.0f, 0.1f);
    hop_node *first = hop_dropout(g, hop_input(g, SHAPE(50), x), 0.5f);
    float saved[50];
    memcpy(saved, first->value.data, sizeof saved);
    hop_graph_reset(g);
    hop_rng_seed(&ctx.rng, 1234);
    hop_node *second = hop_dropout(g, hop_input(g, SHAPE(50), x), 0.5f);
    expect_values(second->value.data, saved, 50, 0.0f);
}

Test(ops, dropout_invalid_probability)
{
    float x[4] = {0};
    hop_node *a = hop_input(g, SHAPE(4), x);
    expect_error(hop_dropout(g, a, 1.0f), "dropout: p must be in [0, 1), got 1");
    expect_error(hop_dropout(g, a, -0.1f), "got -0.1");
    expect_error(hop_dropout(g, a, NAN), "p must be in [0, 1)");
}

/* bce_logits */

Test(ops, bce_logits_extreme_logits)
{
    float x[4] = {1e4f, -1e4f, 1e4f, -1e4f}, t[4] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        hop_node *loss =
            hop_bce_logits(g, hop_input(g, SHAPE(1), x + i), hop_input(g, SHAPE(1), t + i));
        expect_shape(loss, SHAPE(1));
        cr_assert(isfinite(loss->value.data[0]), "case %d: loss %g", i,
                  (double)loss->value.data[0]);
        cr_assert_float_eq(loss->value.data[0], i < 2 ? 1e4f : 0.0f, 1e-3f, "case %d: loss %g", i,
                           (double)loss->value.data[0]);
    }
}

/* A clamped-probability implementation would give 11.512925 and gradient 0 here. */
Test(ops, bce_logits_confident_mistakes)
{
    float x[2] = {40, -40}, t[2] = {0, 1};
    for (int i = 0; i < 2; i++) {
        hop_node *logit = hop_input_grad(g, SHAPE(1), x + i);
        hop_node *loss = hop_bce_logits(g, logit, hop_input(g, SHAPE(1), t + i));
        cr_assert_not_null(loss, "%s", ctx.error.message);
        cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
        cr_assert_float_eq(loss->value.data[0], 40.0f, 1e-5f);
        cr_assert_float_eq(logit->grad[0], i == 0 ? 1.0f : -1.0f, 1e-6f);
    }
}

Test(ops, bce_logits_mean_and_gradient)
{
    float x[3] = {2, -1, 0}, t[3] = {1, 0, 0.5f};
    hop_node *logits = hop_input_grad(g, SHAPE(3), x);
    hop_node *loss = hop_bce_logits(g, logits, hop_input(g, SHAPE(3), t));
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
    cr_assert_float_eq(loss->value.data[0], 0.3777790f, 1e-6f);
    expect_values(logits->grad, (const float[]){-0.0397343f, 0.0896471f, 0.0f}, 3, 1e-6f);
}

Test(ops, bce_logits_errors)
{
    float x[4] = {0}, t[4] = {0, 1, 1.5f, 0};
    expect_error(hop_bce_logits(g, hop_input(g, SHAPE(2, 2), x), hop_input(g, SHAPE(4), t)),
                 "bce_logits: logits (2, 2) and targets (4) differ in shape");
    expect_error(hop_bce_logits(g, hop_input(g, SHAPE(4), x), hop_input(g, SHAPE(4), t)),
                 "target 1.5 at index 2 is outside [0, 1]");
}

/* softmax_xent */

Test(ops, softmax_xent_hand_value)
{
    float x[6] = {1, 2, 3, 1, 1, 1};
    hop_node *logits = hop_input_grad(g, SHAPE(2, 3), x);
    hop_node *loss = hop_softmax_xent(g, logits, (const int[]){2, 0});
    expect_shape(loss, SHAPE(1));
    cr_assert_float_eq(loss->value.data[0], 0.7531091f, 1e-6f);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
    expect_values(
        logits->grad,
        (const float[]){0.0450153f, 0.1223642f, -0.1673795f, -1.0f / 3, 1.0f / 6, 1.0f / 6}, 6,
        1e-6f);
}

Test(ops, softmax_xent_large_logits_finite)
{
    float x[4] = {1e4f, -1e4f, -1e4f, 1e4f};
    hop_node *loss = hop_softmax_xent(g, hop_input(g, SHAPE(2, 2), x), (const int[]){1, 1});
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_float_eq(loss->value.data[0], 1e4f, 1.0f);
}

Test(ops, softmax_xent_errors)
{
    float x[6] = {0};
    hop_node *logits = hop_input(g, SHAPE(2, 3), x);
    expect_error(hop_softmax_xent(g, logits, (const int[]){0, 3}),
                 "softmax_xent: label 3 in row 1 is outside [0, 3)");
    expect_error(hop_softmax_xent(g, logits, (const int[]){-1, 0}), "label -1 in row 0");
    expect_error(hop_softmax_xent(g, logits, NULL), "labels is NULL");
    expect_error(hop_softmax_xent(g, hop_input(g, SHAPE(6), x), (const int[]){0}),
                 "logits must have shape (N, C), got (6)");
}

/* Reductions */

Test(ops, sum_mean_max_values)
{
    float x[6] = {1, 5, 3, 4, 2, 6};
    hop_node *a = hop_input(g, SHAPE(2, 3), x);
    hop_node *rows = hop_sum(g, a, 1, 0), *cols = hop_mean(g, a, 0, 1);
    hop_node *row_max = hop_max(g, a, -1, 1), *col_max = hop_max(g, a, 0, 0);
    expect_shape(rows, SHAPE(2));
    expect_shape(cols, SHAPE(1, 3));
    expect_shape(row_max, SHAPE(2, 1));
    expect_shape(col_max, SHAPE(3));
    expect_values(rows->value.data, (const float[]){9, 12}, 2, 0.0f);
    expect_values(cols->value.data, (const float[]){2.5f, 3.5f, 4.5f}, 3, 1e-6f);
    expect_values(row_max->value.data, (const float[]){5, 6}, 2, 0.0f);
    expect_values(col_max->value.data, (const float[]){4, 5, 6}, 3, 0.0f);
}

Test(ops, reduce_middle_axis_of_3d)
{
    float x[24];
    fill_ramp(x, 24, 0.0f, 1.0f);
    hop_node *s = hop_sum(g, hop_input(g, SHAPE(2, 3, 4), x), 1, 0);
    expect_shape(s, SHAPE(2, 4));
    expect_values(s->value.data, (const float[]){12, 15, 18, 21, 48, 51, 54, 57}, 8, 0.0f);
}

Test(ops, reduce_1d_gives_shape_1)
{
    float x[4] = {1, 2, 3, 4};
    hop_node *s = hop_sum(g, hop_input(g, SHAPE(4), x), 0, 0);
    expect_shape(s, SHAPE(1));
    cr_assert_float_eq(s->value.data[0], 10.0f, 0.0f);
}

Test(ops, max_gradient_to_first_maximum)
{
    float x[6] = {3, 1, 3, 2, 2, 0};
    hop_node *a = hop_input_grad(g, SHAPE(2, 3), x);
    hop_node *m = hop_max(g, a, 1, 0);
    expect_values(m->value.data, (const float[]){3, 2}, 2, 0.0f);
    backward_sum(m);
    expect_values(a->grad, (const float[]){1, 0, 0, 1, 0, 0}, 6, 0.0f);
}

Test(ops, max_propagates_nan)
{
    float x[3] = {1, NAN, 2};
    hop_node *m = hop_max(g, hop_input(g, SHAPE(3), x), 0, 1);
    cr_assert_not_null(m, "%s", ctx.error.message);
    cr_assert(isnan(m->value.data[0]), "max is %g", (double)m->value.data[0]);
}

Test(ops, mean_all_value_and_shape)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    hop_node *in = hop_input_grad(g, SHAPE(2, 3), x);
    hop_node *m = hop_mean_all(g, in);
    expect_shape(m, SHAPE(1));
    cr_assert_float_eq(m->value.data[0], 3.5f, 1e-6f);
    cr_assert_eq(hop_backward(g, m), HOP_OK, "%s", ctx.error.message);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(in->grad[i], 1.0f / 6, 1e-7f);
}

Test(ops, reduce_axis_error)
{
    float x[6] = {0};
    expect_error(hop_sum(g, hop_input(g, SHAPE(2, 3), x), 2, 0),
                 "sum: axis 2 is out of range for shape (2, 3)");
    expect_error(hop_max(g, hop_input(g, SHAPE(2, 3), x), -3, 0), "max: axis -3");
}

/* Shape ops */

Test(ops, reshape_view_and_inferred_extent)
{
    float x[24];
    fill_ramp(x, 24, 0.0f, 1.0f);
    hop_node *a = hop_input(g, SHAPE(2, 3, 4), x);
    hop_node *r = hop_reshape(g, a, SHAPE(-1, 6));
    expect_shape(r, SHAPE(4, 6));
    cr_assert_eq(r->value.data, x, "reshape must share its input's data");
    expect_shape(hop_reshape(g, a, SHAPE(24)), SHAPE(24));
    expect_shape(hop_reshape(g, a, SHAPE(2, 2, -1, 3)), SHAPE(2, 2, 2, 3));
}

Test(ops, reshape_errors)
{
    float x[24] = {0};
    hop_node *a = hop_input(g, SHAPE(2, 3, 4), x);
    expect_error(hop_reshape(g, a, SHAPE(5, 5)), "reshape: cannot reshape (2, 3, 4)");
    expect_error(hop_reshape(g, a, SHAPE(-1, 5)), "(24 elements) to (-1, 5)");
    expect_error(hop_reshape(g, a, SHAPE(-1, -1)), "at most one may be -1");
    expect_error(hop_reshape(g, a, SHAPE(0, 24)), "invalid extent 0 on axis 0");
    expect_error(hop_reshape(g, a, 5, (const int[]){1, 1, 1, 4, 6}), "5 dimensions");
}

Test(ops, transpose_and_permute_values)
{
    float x[24];
    fill_ramp(x, 24, 0.0f, 1.0f);
    hop_node *a = hop_input(g, SHAPE(2, 3, 4), x);
    hop_node *t = hop_transpose(g, a);
    expect_shape(t, SHAPE(2, 4, 3));
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                cr_assert_eq(t->value.data[b * 12 + i * 3 + j], x[b * 12 + j * 4 + i]);

    hop_node *p = hop_permute(g, a, (const int[]){2, 0, 1});
    expect_shape(p, SHAPE(4, 2, 3));
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < 3; j++)
                cr_assert_eq(p->value.data[i * 6 + b * 3 + j], x[b * 12 + j * 4 + i]);
}

Test(ops, permute_and_transpose_errors)
{
    float x[6] = {0};
    hop_node *a = hop_input(g, SHAPE(2, 3), x);
    expect_error(hop_permute(g, a, (const int[]){1, 1}),
                 "permute: (1, 1) is not a permutation of the axes of (2, 3)");
    expect_error(hop_permute(g, a, (const int[]){0, 2}), "not a permutation");
    expect_error(hop_transpose(g, hop_input(g, SHAPE(6), x)), "transpose: needs 2 or more axes");
}

Test(ops, concat_values)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    hop_node *parts[2] = {hop_input(g, SHAPE(2, 2), a), hop_input(g, SHAPE(2, 1), b)};
    hop_node *c = hop_concat(g, parts, 2, -1);
    expect_shape(c, SHAPE(2, 3));
    expect_values(c->value.data, (const float[]){1, 2, 5, 3, 4, 6}, 6, 0.0f);

    hop_node *rows[2] = {hop_input(g, SHAPE(1, 2), b), hop_input(g, SHAPE(2, 2), a)};
    hop_node *r = hop_concat(g, rows, 2, 0);
    expect_shape(r, SHAPE(3, 2));
    expect_values(r->value.data, (const float[]){5, 6, 1, 2, 3, 4}, 6, 0.0f);
}

Test(ops, concat_errors)
{
    float a[6] = {0};
    hop_node *parts[2] = {hop_input(g, SHAPE(2, 3), a), hop_input(g, SHAPE(3, 2), a)};
    expect_error(hop_concat(g, parts, 2, 1),
                 "concat: part 1 has shape (3, 2) and part 0 has (2, 3)");
    expect_error(hop_concat(g, parts, 1, 2), "axis 2 is out of range");
    expect_error(hop_concat(g, parts, 0, 0), "needs 1 or more parts, got 0");
}

Test(ops, slice_values)
{
    float x[12];
    fill_ramp(x, 12, 0.0f, 1.0f);
    hop_node *a = hop_input(g, SHAPE(3, 4), x);
    hop_node *cols = hop_slice(g, a, 1, 1, 3), *rows = hop_slice(g, a, -2, 2, 3);
    expect_shape(cols, SHAPE(3, 2));
    expect_shape(rows, SHAPE(1, 4));
    expect_values(cols->value.data, (const float[]){1, 2, 5, 6, 9, 10}, 6, 0.0f);
    expect_values(rows->value.data, (const float[]){8, 9, 10, 11}, 4, 0.0f);
}

Test(ops, slice_errors)
{
    float x[12] = {0};
    hop_node *a = hop_input(g, SHAPE(3, 4), x);
    expect_error(hop_slice(g, a, 1, 2, 2), "slice: range [2, 2) is invalid for axis 1");
    expect_error(hop_slice(g, a, 1, 0, 5), "expected 0 <= start < end <= 4");
    expect_error(hop_slice(g, a, 1, -1, 2), "range [-1, 2)");
    expect_error(hop_slice(g, a, 2, 0, 1), "axis 2 is out of range");
}
