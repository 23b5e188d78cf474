/*
 * Losses: binary cross-entropy with logits (with pos_weight), softmax cross-entropy (class
 * weights, label smoothing) and mean squared error. Expected values come from the formulas
 * of torch.nn.BCEWithLogitsLoss, CrossEntropyLoss and MSELoss, evaluated in double precision.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/graph.h"
#include "support/gradcheck.h"

static hop_ctx ctx;
static hop_graph *g;

static void setup(void)
{
    hop_ctx_init(&ctx, 11);
    g = hop_graph_new(&ctx);
}

static void teardown(void)
{
    hop_graph_free(g);
}

TestSuite(losses, .init = setup, .fini = teardown);

#define SHAPE(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), ((int[]){__VA_ARGS__})

/*
 * BCEWithLogitsLoss(pos_weight=p): l = -[p t log s(x) + (1 - t) log(1 - s(x))], mean over
 * elements, p broadcast along the last axis. Logits (2, 2) [[0.5, -1], [2, 0]], targets
 * [[1, 0], [0, 1]], p = [3, 0.5]: l = 3 softplus(-0.5), softplus(-1), softplus(2),
 * 0.5 log 2 = 1.42223095, 0.31326169, 2.12692801, 0.34657359, mean 1.05224856.
 */
Test(losses, bce_pos_weight_hand_value)
{
    float x[4] = {0.5f, -1.0f, 2.0f, 0.0f}, t[4] = {1, 0, 0, 1}, p[2] = {3.0f, 0.5f};
    hop_node *loss =
        hop_bce_logits_weighted(g, hop_input(g, SHAPE(2, 2), x), hop_input(g, SHAPE(2, 2), t), p);
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_float_eq(loss->value.data[0], 1.0522485603453717, 1e-6);
}

Test(losses, bce_weighted_null_matches_plain)
{
    float x[3] = {0.3f, -2.0f, 1.5f}, t[3] = {1, 0, 0.25f};
    hop_node *xn = hop_input(g, SHAPE(3), x), *tn = hop_input(g, SHAPE(3), t);
    hop_node *plain = hop_bce_logits(g, xn, tn);
    hop_node *weighted = hop_bce_logits_weighted(g, xn, tn, NULL);
    float ones[3] = {1, 1, 1};
    hop_node *unit = hop_bce_logits_weighted(g, xn, tn, ones);
    cr_assert_not_null(unit, "%s", ctx.error.message);
    cr_assert_eq(weighted->value.data[0], plain->value.data[0]);
    cr_assert_float_eq(unit->value.data[0], plain->value.data[0], 1e-7);
}

/*
 * Logits of +-1e4: s(1e4) = 1, so targets (1, 0) give 0 and targets (0, 1) give
 * softplus(1e4) = 1e4 per element; with p = 2 on both elements the second costs 2e4.
 */
Test(losses, bce_extreme_logits_finite)
{
    float x[2] = {1e4f, -1e4f}, right[2] = {1, 0}, wrong[2] = {0, 1}, p[1] = {2.0f};
    hop_node *xn = hop_input_grad(g, SHAPE(1, 2), x);
    hop_node *zero = hop_bce_logits(g, xn, hop_input(g, SHAPE(1, 2), right));
    hop_node *big = hop_bce_logits(g, xn, hop_input(g, SHAPE(1, 2), wrong));
    float p2[2] = {p[0], p[0]};
    hop_node *weighted = hop_bce_logits_weighted(g, xn, hop_input(g, SHAPE(1, 2), wrong), p2);
    cr_assert_not_null(weighted, "%s", ctx.error.message);
    cr_assert_float_eq(zero->value.data[0], 0.0f, 1e-6);
    cr_assert_float_eq(big->value.data[0], 1e4f, 1e-2);
    cr_assert_float_eq(weighted->value.data[0], 1.5e4f, 1e-2);

    /* d/dx = (1 - t) - (1 + (p - 1) t) s(-x), over 2 elements: 0.5 and -2 * 1 / 2 = -1. */
    cr_assert_eq(hop_backward(g, weighted), HOP_OK, "%s", ctx.error.message);
    cr_assert_float_eq(xn->grad[0], 0.5f, 1e-6);
    cr_assert_float_eq(xn->grad[1], -1.0f, 1e-6);
}

Test(losses, bce_pos_weight_invalid)
{
    float x[4] = {0}, t[4] = {0}, bad[2] = {1.0f, -1.0f}, infinite[2] = {INFINITY, 1.0f};
    hop_node *xn = hop_input(g, SHAPE(2, 2), x), *tn = hop_input(g, SHAPE(2, 2), t);
    cr_assert_null(hop_bce_logits_weighted(g, xn, tn, bad));
    cr_assert_eq(ctx.error.status, HOP_ERR_ARG);
    cr_assert(strstr(ctx.error.message, "pos_weight[1] = -1") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    cr_assert_null(hop_bce_logits_weighted(g, xn, tn, infinite));
    cr_assert(strstr(ctx.error.message, "pos_weight[0] = inf") != NULL, "%s", ctx.error.message);
}

/*
 * CrossEntropyLoss(weight=w, label_smoothing=e), mean reduction, as torch computes it:
 * [(1 - e) sum_n w[y_n] (-log p[n, y_n]) + e / C sum_n sum_c w[c] (-log p[n, c])]
 * / sum_n w[y_n], with p = softmax(x) per row; without weights w = 1 and the divisor is N.
 * x = [[1, 2, 0.5], [0.1, -1, 3]], y = [1, 2], w = [0.2, 1, 3], e = 0.1, C = 3.
 */
static float xent_logits[6] = {1.0f, 2.0f, 0.5f, 0.1f, -1.0f, 3.0f};
static const int xent_labels[2] = {1, 2};
static const float xent_weights[3] = {0.2f, 1.0f, 3.0f};

static float xent_value(const float *weights, float smoothing)
{
    hop_graph_reset(g);
    hop_node *x = hop_input(g, SHAPE(2, 3), xent_logits);
    hop_node *loss = hop_softmax_xent_ex(g, x, xent_labels, weights, smoothing);
    cr_assert_not_null(loss, "%s", ctx.error.message);
    return loss->value.data[0];
}

Test(losses, xent_weights_smoothing_hand_values)
{
    cr_expect_float_eq(xent_value(NULL, 0.0f), 0.2675715015342181, 1e-6);
    cr_expect_float_eq(xent_value(xent_weights, 0.0f), 0.16917286024735473, 1e-6);
    cr_expect_float_eq(xent_value(NULL, 0.1f), 0.4242381682008848, 1e-6);
    cr_expect_float_eq(xent_value(xent_weights, 0.1f), 0.24831891266334785, 1e-6);

    hop_graph_reset(g);
    hop_node *plain = hop_softmax_xent(g, hop_input(g, SHAPE(2, 3), xent_logits), xent_labels);
    cr_expect_float_eq(plain->value.data[0], 0.2675715015342181, 1e-6);
}

/*
 * Logits [[1e4, -1e4, 0]]: log p = [0, -2e4, -1e4]. Label 0 costs 0 and label 1 costs 2e4.
 * With smoothing 0.1 and label 0: 0.9 * 0 + 0.1 / 3 * (0 + 2e4 + 1e4) = 1000.
 */
Test(losses, xent_extreme_logits_finite)
{
    float x[3] = {1e4f, -1e4f, 0.0f};
    hop_node *xn = hop_input_grad(g, SHAPE(1, 3), x);
    hop_node *right = hop_softmax_xent(g, xn, (int[]){0});
    hop_node *wrong = hop_softmax_xent(g, xn, (int[]){1});
    hop_node *smooth = hop_softmax_xent_ex(g, xn, (int[]){0}, NULL, 0.1f);
    cr_assert_not_null(smooth, "%s", ctx.error.message);
    cr_expect_float_eq(right->value.data[0], 0.0f, 1e-6);
    cr_expect_float_eq(wrong->value.data[0], 2e4f, 1e-1);
    cr_expect_float_eq(smooth->value.data[0], 1000.0f, 1e-2);

    /* d/dx = p sum(q) - q with q = [0.9 + 0.1/3, 0.1/3, 0.1/3] and p = [1, 0, 0]. */
    cr_assert_eq(hop_backward(g, smooth), HOP_OK, "%s", ctx.error.message);
    cr_expect_float_eq(xn->grad[0], 1.0f - (0.9f + 0.1f / 3), 1e-6);
    cr_expect_float_eq(xn->grad[1], -0.1f / 3, 1e-6);
    cr_expect_float_eq(xn->grad[2], -0.1f / 3, 1e-6);
}

Test(losses, xent_invalid_arguments)
{
    hop_node *x = hop_input(g, SHAPE(2, 3), xent_logits);
    cr_assert_null(hop_softmax_xent_ex(g, x, xent_labels, NULL, 1.5f));
    cr_assert_eq(ctx.error.status, HOP_ERR_ARG);
    cr_assert(strstr(ctx.error.message, "label smoothing 1.5") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    float nan_weight[3] = {1.0f, NAN, 1.0f};
    cr_assert_null(hop_softmax_xent_ex(g, x, xent_labels, nan_weight, 0.0f));
    cr_assert(strstr(ctx.error.message, "class weight 1 = nan") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    float zero_labels[3] = {5.0f, 0.0f, 0.0f};
    cr_assert_null(hop_softmax_xent_ex(g, x, xent_labels, zero_labels, 0.0f));
    cr_assert_eq(ctx.error.status, HOP_ERR_DATA);
    cr_assert(strstr(ctx.error.message, "sum to 0") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    cr_assert_null(hop_softmax_xent_ex(g, x, (int[]){0, 3}, NULL, 0.0f));
    cr_assert(strstr(ctx.error.message, "label 3 in row 1") != NULL, "%s", ctx.error.message);
}

/* MSELoss: mean((a - b)^2) = (0.25 + 0 + 4) / 3 for a = [1, 2, 3], b = [1.5, 2, 1]. */
Test(losses, mse_hand_value)
{
    float a[3] = {1, 2, 3}, b[3] = {1.5f, 2, 1};
    hop_node *an = hop_input_grad(g, SHAPE(3), a);
    hop_node *loss = hop_mse(g, an, hop_input(g, SHAPE(3), b));
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_float_eq(loss->value.data[0], 4.25f / 3, 1e-6);
    cr_assert_eq(hop_backward(g, loss), HOP_OK);
    /* d/da = 2 (a - b) / 3. */
    cr_assert_float_eq(an->grad[0], -1.0f / 3, 1e-6);
    cr_assert_float_eq(an->grad[2], 4.0f / 3, 1e-6);
}

Test(losses, mse_extreme_values_finite)
{
    float a[2] = {1e4f, -1e4f}, b[2] = {-1e4f, 1e4f};
    hop_node *loss = hop_mse(g, hop_input(g, SHAPE(2), a), hop_input(g, SHAPE(2), b));
    cr_assert_float_eq(loss->value.data[0], 4e8f, 1e2);
}

Test(losses, mse_shape_mismatch)
{
    float a[6] = {0};
    cr_assert_null(hop_mse(g, hop_input(g, SHAPE(2, 3), a), hop_input(g, SHAPE(3, 2), a)));
    cr_assert_eq(ctx.error.status, HOP_ERR_SHAPE);
    cr_assert(strstr(ctx.error.message, "mse: prediction (2, 3) and target (3, 2)") != NULL, "%s",
              ctx.error.message);
}

/* Gradient checks with the test support's central differences. */

static hop_node *build_bce(hop_graph *graph, hop_node **x, const void *arg)
{
    return hop_bce_logits_weighted(graph, x[0], x[1], arg);
}

Test(losses, bce_pos_weight_gradients)
{
    float x[6] = {0.5f, -1.2f, 2.0f, 0.1f, -0.4f, 1.1f};
    float t[6] = {0.9f, 0.1f, 0.3f, 0.8f, 0.5f, 0.2f};
    float p[3] = {3.0f, 0.5f, 0.0f};
    gradcheck_input in[2] = {{.ndim = 2, .shape = {2, 3}, .data = x, .differentiable = true},
                             {.ndim = 2, .shape = {2, 3}, .data = t, .differentiable = true}};
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    cr_assert(gradcheck_run(in, 2, build_bce, p, &options, &result), "%s", result.message);
    cr_assert_eq(result.checked, 12);
}

typedef struct xent_arg {
    const float *weights;
    float smoothing;
} xent_arg;

static hop_node *build_xent(hop_graph *graph, hop_node **x, const void *arg)
{
    const xent_arg *a = arg;
    return hop_softmax_xent_ex(graph, x[0], xent_labels, a->weights, a->smoothing);
}

Test(losses, xent_weights_smoothing_gradients)
{
    static const xent_arg cases[] = {
        {NULL, 0.0f}, {xent_weights, 0.0f}, {NULL, 0.2f}, {xent_weights, 0.1f}, {NULL, 1.0f}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        float x[6];
        memcpy(x, xent_logits, sizeof x);
        gradcheck_input in = {.ndim = 2, .shape = {2, 3}, .data = x, .differentiable = true};
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        cr_expect(gradcheck_run(&in, 1, build_xent, &cases[c], &options, &result), "case %zu: %s",
                  c, result.message);
    }
}

static hop_node *build_mse(hop_graph *graph, hop_node **x, const void *arg)
{
    return hop_mse(graph, x[0], x[1]);
}

Test(losses, mse_gradients)
{
    float a[8] = {0.3f, -1.0f, 2.0f, 0.7f, 0.0f, 1.5f, -0.2f, 0.9f};
    float b[8] = {1.0f, 0.5f, -0.5f, 0.7f, 0.2f, -1.0f, 0.4f, 0.1f};
    gradcheck_input in[2] = {{.ndim = 2, .shape = {2, 4}, .data = a, .differentiable = true},
                             {.ndim = 2, .shape = {2, 4}, .data = b, .differentiable = true}};
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    cr_assert(gradcheck_run(in, 2, build_mse, NULL, &options, &result), "%s", result.message);
}
