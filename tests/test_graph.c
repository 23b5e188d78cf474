/* Engine behaviour: gradient accumulation, leaves, parameters, errors and arena reuse. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/graph.h"
#include "hop/params.h"

static hop_ctx ctx;
static hop_graph *g;

static void setup(void)
{
    hop_ctx_init(&ctx, 99);
    g = hop_graph_new(&ctx);
    cr_assert_not_null(g);
}

static void teardown(void)
{
    hop_graph_free(g);
}

TestSuite(graph, .init = setup, .fini = teardown);

#define SHAPE(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), ((int[]){__VA_ARGS__})

static hop_node *sum_all(hop_node *n)
{
    return hop_sum(g, hop_reshape(g, n, 1, (const int[]){-1}), 0, 1);
}

static void run_backward(hop_node *loss)
{
    cr_assert_not_null(loss, "%s", ctx.error.message);
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
}

Test(graph, node_used_twice_accumulates)
{
    float x[3] = {1.5f, -2.0f, 0.25f};
    hop_node *in = hop_input_grad(g, SHAPE(3), x);
    run_backward(sum_all(hop_mul(g, in, in)));
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(in->grad[i], 2.0f * x[i], 1e-6f, "element %d", i);
}

Test(graph, node_in_two_branches_accumulates)
{
    float x[4] = {1, 2, 3, 4};
    hop_node *in = hop_input_grad(g, SHAPE(2, 2), x);
    hop_node *branches = hop_add(g, sum_all(hop_scale(g, in, 3.0f)), sum_all(hop_exp(g, in)));
    run_backward(branches);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(in->grad[i], 3.0f + expf(x[i]), 1e-4f, "element %d", i);
}

Test(graph, constant_and_input_get_no_gradient)
{
    float x[2] = {1, 2}, c[2] = {3, 4};
    hop_node *in = hop_input_grad(g, SHAPE(2), x);
    hop_node *plain = hop_input(g, SHAPE(2), x);
    hop_node *constant = hop_constant(g, SHAPE(2), c);
    run_backward(sum_all(hop_mul(g, hop_add(g, in, plain), constant)));
    cr_assert_null(constant->grad);
    cr_assert_null(plain->grad);
    cr_assert_float_eq(in->grad[0], 3.0f, 1e-6f);
    cr_assert_float_eq(in->grad[1], 4.0f, 1e-6f);
}

Test(graph, constant_copies_data)
{
    float c[2] = {3, 4};
    hop_node *constant = hop_constant(g, SHAPE(2), c);
    c[0] = 100.0f;
    cr_assert_float_eq(constant->value.data[0], 3.0f, 0.0f);
    hop_node *zeros = hop_constant(g, SHAPE(3), NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(zeros->value.data[i], 0.0f, 0.0f);
}

/* A store with a trainable w (2, 2) of ones and a frozen b (2) of ones. */
static void params_setup(hop_params *params, int *w, int *b)
{
    hop_error err = {0};
    hop_params_init(params);
    cr_assert_eq(hop_params_add(params, "w", SHAPE(2, 2), HOP_INIT_ONES, 0.0f, NULL, w, &err),
                 HOP_OK, "%s", err.message);
    cr_assert_eq(hop_params_add(params, "b", SHAPE(2), HOP_INIT_ONES, 0.0f, NULL, b, &err), HOP_OK,
                 "%s", err.message);
    params->info[*b].frozen = true;
}

Test(graph, param_accumulates_into_store)
{
    hop_params params;
    int w, b;
    params_setup(&params, &w, &b);
    float x[2] = {2, 3};
    hop_node *wn = hop_param(g, &params, w), *bn = hop_param(g, &params, b);
    hop_node *y = hop_add(g, hop_matmul(g, hop_input(g, SHAPE(1, 2), x), wn, 0, 0), bn);
    hop_node *loss = sum_all(y);
    run_backward(loss);

    /* d sum(x w + b) / d w[i][j] = x[i]. */
    const float *dw = hop_params_grad(&params, w), *db = hop_params_grad(&params, b);
    const float expected[4] = {2, 2, 3, 3};
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(dw[i], expected[i], 1e-6f, "dw element %d", i);
    cr_assert_eq(wn->grad, dw, "a parameter node's grad must point into the store");
    cr_assert_null(bn->grad, "a frozen parameter has no gradient");
    cr_assert(db[0] == 0.0f && db[1] == 0.0f, "frozen gradient changed");

    hop_graph_reset(g);
    wn = hop_param(g, &params, w);
    run_backward(sum_all(hop_matmul(g, hop_input(g, SHAPE(1, 2), x), wn, 0, 0)));
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(dw[i], 2.0f * expected[i], 1e-6f, "second step, dw element %d", i);
    hop_params_free(&params);
}

Test(graph, param_id_out_of_range)
{
    hop_params params;
    int w, b;
    params_setup(&params, &w, &b);
    cr_assert_null(hop_param(g, &params, 2));
    cr_assert_not_null(strstr(ctx.error.message, "no parameter with id 2"), "%s",
                       ctx.error.message);
    hop_params_free(&params);
}

Test(graph, shape_mismatch_names_op_and_shapes)
{
    float a[6] = {0}, b[20] = {0};
    hop_node *c = hop_matmul(g, hop_input(g, SHAPE(2, 3), a), hop_input(g, SHAPE(4, 5), b), 0, 0);
    cr_assert_null(c);
    cr_assert_eq(ctx.error.status, HOP_ERR_SHAPE);
    cr_assert_not_null(strstr(ctx.error.message, "matmul"), "%s", ctx.error.message);
    cr_assert_not_null(strstr(ctx.error.message, "(2, 3)"), "%s", ctx.error.message);
    cr_assert_not_null(strstr(ctx.error.message, "(4, 5)"), "%s", ctx.error.message);
}

Test(graph, broadcast_mismatch_names_op_and_shapes)
{
    float a[6] = {0}, b[4] = {0};
    hop_node *c = hop_add(g, hop_input(g, SHAPE(2, 3), a), hop_input(g, SHAPE(4), b));
    cr_assert_null(c);
    cr_assert_str_eq(ctx.error.message, "add: shapes (2, 3) and (4) do not broadcast");
}

Test(graph, null_input_keeps_first_message)
{
    float a[6] = {0}, b[20] = {0};
    hop_node *x = hop_input(g, SHAPE(2, 3), a);
    hop_node *bad = hop_matmul(g, x, hop_input(g, SHAPE(4, 5), b), 0, 0);
    cr_assert_null(bad);
    char first[HOP_ERROR_MESSAGE_MAX];
    strcpy(first, ctx.error.message);

    hop_node *parts[2] = {x, bad};
    hop_node *results[] = {
        hop_relu(g, bad),
        hop_add(g, x, bad),
        hop_matmul(g, bad, x, 0, 1),
        hop_sum(g, bad, 0, 0),
        hop_max(g, bad, 0, 0),
        hop_mean_all(g, bad),
        hop_reshape(g, bad, SHAPE(-1)),
        hop_transpose(g, bad),
        hop_permute(g, bad, NULL),
        hop_concat(g, parts, 2, 0),
        hop_slice(g, bad, 0, 0, 1),
        hop_softmax(g, bad, x),
        hop_log_softmax(g, bad, NULL),
        hop_layernorm(g, bad, NULL, NULL, 1e-5f),
        hop_dropout(g, bad, 0.5f),
        hop_bce_logits(g, bad, x),
        hop_softmax_xent(g, bad, NULL),
    };
    for (size_t i = 0; i < sizeof results / sizeof *results; i++)
        cr_assert_null(results[i], "call %zu returned a node", i);
    cr_assert_str_eq(ctx.error.message, first);
    cr_assert_eq(hop_backward(g, bad), HOP_ERR_ARG);
}

Test(graph, reset_releases_arena)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    hop_node *in = hop_input_grad(g, SHAPE(2, 3), x);
    run_backward(hop_mean_all(g, hop_tanh(g, in)));
    cr_assert_gt(hop_graph_bytes_used(g), 0);
    cr_assert_null(hop_matmul(g, in, in, 0, 0));

    hop_graph_reset(g);
    cr_assert_eq(hop_graph_bytes_used(g), 0);
    cr_assert_eq(ctx.error.status, HOP_OK, "reset keeps the error: %s", ctx.error.message);
    cr_assert_str_empty(ctx.error.message);
}

/* One training-step-like graph of about 3 MiB, more than the arena's first block. */
static void build_step(float *x, float *w)
{
    hop_node *in = hop_input(g, SHAPE(256, 256), x);
    hop_node *wn = hop_input_grad(g, SHAPE(256, 256), w);
    hop_node *h = hop_softmax(g, hop_matmul(g, in, wn, 0, 0), NULL);
    run_backward(hop_mean_all(g, hop_layernorm(g, h, NULL, NULL, 1e-5f)));
}

Test(graph, repeated_cycles_reuse_arena)
{
    static float x[256 * 256], w[256 * 256];
    for (int i = 0; i < 256 * 256; i++) {
        x[i] = (float)(i % 17) * 0.01f;
        w[i] = (float)(i % 13) * 0.01f;
    }

    build_step(x, w);
    size_t used = hop_graph_bytes_used(g);
    cr_assert_gt(hop_graph_bytes_reserved(g), (size_t)1 << 20, "expected several blocks");
    hop_graph_reset(g);
    size_t reserved = hop_graph_bytes_reserved(g);
    cr_assert_geq(reserved, used);
    for (int cycle = 2; cycle <= 4; cycle++) {
        build_step(x, w);
        cr_assert_eq(hop_graph_bytes_used(g), used, "cycle %d used %zu bytes, cycle 1 %zu", cycle,
                     hop_graph_bytes_used(g), used);
        cr_assert_eq(hop_graph_bytes_reserved(g), reserved,
                     "cycle %d grew the arena from %zu to %zu bytes", cycle, reserved,
                     hop_graph_bytes_reserved(g));
        hop_graph_reset(g);
        cr_assert_eq(hop_graph_bytes_used(g), 0);
    }
}

Test(graph, backward_non_scalar_fails)
{
    float x[6] = {0};
    hop_node *in = hop_input_grad(g, SHAPE(2, 3), x);
    hop_status status = hop_backward(g, hop_relu(g, in));
    cr_assert_eq(status, HOP_ERR_SHAPE);
    cr_assert_not_null(strstr(ctx.error.message, "one element"), "%s", ctx.error.message);
    cr_assert_not_null(strstr(ctx.error.message, "(2, 3)"), "%s", ctx.error.message);
}

Test(graph, backward_null_loss_fails)
{
    cr_assert_eq(hop_backward(g, NULL), HOP_ERR_ARG);
    cr_assert_not_null(strstr(ctx.error.message, "NULL"), "%s", ctx.error.message);
}

Test(graph, grad_disabled_gives_no_gradients)
{
    hop_params params;
    int w, b;
    params_setup(&params, &w, &b);
    hop_graph_set_grad_enabled(g, false);
    float x[2] = {2, 3};
    hop_node *in = hop_input_grad(g, SHAPE(1, 2), x);
    hop_node *wn = hop_param(g, &params, w);
    hop_node *y = hop_matmul(g, in, wn, 0, 0);
    hop_node *loss = sum_all(y);
    run_backward(loss);

    cr_assert_null(in->grad);
    cr_assert_null(wn->grad);
    cr_assert_null(y->grad);
    cr_assert_null(loss->grad);
    const float *dw = hop_params_grad(&params, w);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(dw[i], 0.0f, "dw element %d changed", i);
    hop_params_free(&params);
}

Test(graph, op_names)
{
    cr_assert_str_eq(hop_op_name(HOP_OP_MATMUL), "matmul");
    cr_assert_str_eq(hop_op_name(HOP_OP_SOFTMAX_XENT), "softmax_xent");
    cr_assert_str_eq(hop_op_name(HOP_OP_COUNT), "unknown");
}

Test(graph, second_backward_does_not_double_count)
{
    float x[2] = {1.0f, 2.0f};
    hop_node *in = hop_input_grad(g, SHAPE(2), x);
    hop_node *loss = sum_all(hop_scale(g, in, 3.0f));
    run_backward(loss);
    run_backward(loss);
    /* Input gradients accumulate across passes (3 + 3); intermediates start from zero. */
    cr_assert_float_eq(in->grad[0], 6.0f, 1e-6);
    cr_assert_float_eq(in->grad[1], 6.0f, 1e-6);
}

Test(graph, first_error_is_kept)
{
    float a[6] = {0}, b[20] = {0};
    hop_node *na = hop_input(g, SHAPE(2, 3), a);
    hop_node *nb = hop_input(g, SHAPE(4, 5), b);
    cr_assert_null(hop_matmul(g, na, nb, 0, 0));
    cr_assert_null(hop_add(g, na, nb));
    cr_assert(strstr(ctx.error.message, "matmul") != NULL, "%s", ctx.error.message);
}
