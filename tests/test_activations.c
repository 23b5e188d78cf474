/*
 * Activation ops: forward values and derivatives against torch.nn.functional values
 * (computed from the formulas in double precision), finite-difference gradient checks, large
 * inputs and invalid arguments.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/graph.h"
#include "hop/module.h"
#include "support/gradcheck.h"

static hop_ctx ctx;
static hop_graph *g;

static void setup(void)
{
    hop_ctx_init(&ctx, 7);
    g = hop_graph_new(&ctx);
}

static void teardown(void)
{
    hop_graph_free(g);
}

TestSuite(activations, .init = setup, .fini = teardown);

typedef struct activation_case {
    hop_activation kind;
    float arg0, arg1;
    float x;
    double y;  /* f(x) */
    double dy; /* f'(x) */
} activation_case;

/*
 * gelu(x) = x Phi(x), gelu'(x) = Phi(x) + x phi(x); selu(x) = 1.0507009873554805 *
 * (x or 1.6732632423543772 (exp(x) - 1)); elu(x, a) = x or a (exp(x) - 1);
 * softplus(x, b, t) = log1p(exp(b x)) / b, or x when b x > t, with derivative sigmoid(b x).
 */
static const activation_case cases[] = {
    {HOP_ACT_GELU, 0, 0, 1.0f, 0.8413447460685429, 1.0833154705876864},
    {HOP_ACT_GELU, 0, 0, -1.0f, -0.15865525393145707, -0.08331547058768629},
    {HOP_ACT_GELU, 0, 0, 0.5f, 0.34573123063700656, NAN},
    {HOP_ACT_SELU, 0, 0, 1.0f, 1.0507009873554805, 1.0507009873554805},
    {HOP_ACT_SELU, 0, 0, -1.0f, -1.1113307378125625, 0.646768603034814},
    {HOP_ACT_ELU, 1.0f, 0, -1.0f, -0.6321205588285577, 0.36787944117144233},
    {HOP_ACT_ELU, 2.0f, 0, -1.0f, -1.2642411176571153, 0.7357588823428847},
    {HOP_ACT_ELU, 1.0f, 0, 2.0f, 2.0, 1.0},
    {HOP_ACT_SOFTPLUS, 1.0f, 20.0f, 0.0f, 0.6931471805599453, 0.5},
    {HOP_ACT_SOFTPLUS, 1.0f, 20.0f, 1.0f, 1.3132616875182228, NAN},
    {HOP_ACT_SOFTPLUS, 2.0f, 20.0f, 2.0f, 2.0090749639589047, 0.9820137900379085},
    {HOP_ACT_SOFTPLUS, 1.0f, 20.0f, 25.0f, 25.0, 1.0},
    {HOP_ACT_SOFTPLUS, 1.0f, 20.0f, -30.0f, 9.357622968839737e-14, NAN},
    {HOP_ACT_LEAKY_RELU, 0.01f, 0, -2.0f, -0.02, 0.01},
    {HOP_ACT_LEAKY_RELU, 0.2f, 0, 3.0f, 3.0, 1.0},
    {HOP_ACT_TANH, 0, 0, 0.5f, 0.46211715726000974, 0.7864477329659274},
    {HOP_ACT_SIGMOID, 0, 0, 0.0f, 0.5, 0.25},
    {HOP_ACT_RELU, 0, 0, -1.0f, 0.0, 0.0},
};

Test(activations, values_and_derivatives)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const activation_case *c = &cases[i];
        hop_graph_reset(g);
        float x = c->x;
        hop_node *in = hop_input_grad(g, 1, (int[]){1}, &x);
        hop_node *y = hop_activation_apply(g, c->kind, in, c->arg0, c->arg1);
        cr_assert_not_null(y, "%s: %s", hop_activation_name(c->kind), ctx.error.message);
        double tolerance = 1e-6 * fmax(1.0, fabs(c->y));
        cr_expect_float_eq(y->value.data[0], c->y, tolerance, "%s(%g) = %.9g, expected %.9g",
                           hop_activation_name(c->kind), (double)c->x, (double)y->value.data[0],
                           c->y);
        if (isnan(c->dy))
            continue;
        cr_assert_eq(hop_backward(g, y), HOP_OK, "%s", ctx.error.message);
        cr_expect_float_eq(in->grad[0], c->dy, 1e-6, "%s'(%g) = %.9g, expected %.9g",
                           hop_activation_name(c->kind), (double)c->x, (double)in->grad[0], c->dy);
    }
}

Test(activations, op_names)
{
    cr_assert_str_eq(hop_op_name(HOP_OP_GELU), "gelu");
    cr_assert_str_eq(hop_op_name(HOP_OP_LEAKY_RELU), "leaky_relu");
    cr_assert_str_eq(hop_op_name(HOP_OP_SOFTPLUS), "softplus");
    cr_assert_str_eq(hop_activation_name(HOP_ACT_SELU), "selu");
    cr_assert_str_eq(hop_activation_name(HOP_ACT_COUNT), "unknown");
}

Test(activations, large_inputs_stay_finite)
{
    float x[4] = {1e4f, -1e4f, 88.0f, -88.0f};
    for (int kind = 0; kind < HOP_ACT_COUNT; kind++) {
        hop_graph_reset(g);
        hop_node *in = hop_input_grad(g, 1, (int[]){4}, x);
        float arg0 = kind == HOP_ACT_SOFTPLUS ? 1.0f : 0.5f;
        hop_node *y = hop_activation_apply(g, (hop_activation)kind, in, arg0, 20.0f);
        cr_assert_not_null(y, "%s", ctx.error.message);
        hop_node *loss = hop_mean_all(g, y);
        cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
        for (int i = 0; i < 4; i++) {
            cr_expect(isfinite(y->value.data[i]), "%s(%g) = %g", hop_activation_name(kind),
                      (double)x[i], (double)y->value.data[i]);
            cr_expect(isfinite(in->grad[i]), "%s'(%g) = %g", hop_activation_name(kind),
                      (double)x[i], (double)in->grad[i]);
        }
    }
    /* The limits: softplus(1e4) = 1e4, elu(-1e4) = -alpha, gelu(-1e4) = 0. */
    hop_graph_reset(g);
    hop_node *in = hop_input(g, 1, (int[]){4}, x);
    cr_expect_float_eq(hop_softplus(g, in, 1.0f, 20.0f)->value.data[0], 1e4f, 1e-3);
    cr_expect_float_eq(hop_elu(g, in, 0.5f)->value.data[1], -0.5f, 1e-7);
    cr_expect_float_eq(hop_gelu(g, in)->value.data[1], 0.0f, 1e-7);
}

Test(activations, invalid_arguments_rejected)
{
    float x = 1.0f;
    hop_node *in = hop_input(g, 1, (int[]){1}, &x);

    cr_assert_null(hop_elu(g, in, NAN));
    cr_assert_eq(ctx.error.status, HOP_ERR_ARG);
    cr_assert(strstr(ctx.error.message, "elu: alpha") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    cr_assert_null(hop_softplus(g, in, 0.0f, 20.0f));
    cr_assert_eq(ctx.error.status, HOP_ERR_ARG);
    cr_assert(strstr(ctx.error.message, "softplus: beta 0") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    cr_assert_null(hop_leaky_relu(g, in, INFINITY));
    cr_assert(strstr(ctx.error.message, "negative slope inf") != NULL, "%s", ctx.error.message);

    hop_error_clear(&ctx.error);
    cr_assert_null(hop_activation_apply(g, HOP_ACT_COUNT, in, 0, 0));
    cr_assert(strstr(ctx.error.message, "unknown kind") != NULL, "%s", ctx.error.message);
}

/* Gradient checks on a (3, 5) input kept at least 0.05 away from the kinks at 0. */

static hop_node *build_activation(hop_graph *graph, hop_node **x, const void *arg)
{
    const activation_case *c = arg;
    return hop_activation_apply(graph, c->kind, x[0], c->arg0, c->arg1);
}

Test(activations, gradients_match_finite_differences)
{
    static const activation_case checked[] = {
        {HOP_ACT_LEAKY_RELU, 0.01f, 0, 0, 0, 0},
        {HOP_ACT_LEAKY_RELU, -0.3f, 0, 0, 0, 0},
        {HOP_ACT_ELU, 1.0f, 0, 0, 0, 0},
        {HOP_ACT_ELU, 0.4f, 0, 0, 0, 0},
        {HOP_ACT_SELU, 0, 0, 0, 0, 0},
        {HOP_ACT_GELU, 0, 0, 0, 0, 0},
        {HOP_ACT_SOFTPLUS, 1.0f, 20.0f, 0, 0, 0},
        {HOP_ACT_SOFTPLUS, 3.0f, 2.0f, 0, 0, 0},
    };
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    float data[15];
    for (int i = 0; i < 15; i++) {
        float u = 4.0f * hop_rng_uniform(&rng) - 2.0f;
        data[i] = u < 0.0f ? u - 0.05f : u + 0.05f;
    }
    /* Softplus with beta 3 and threshold 2 switches to x at 2/3; keep away from it too. */
    for (int i = 0; i < 15; i++)
        if (fabsf(data[i] - 2.0f / 3.0f) < 0.05f)
            data[i] += 0.1f;

    for (size_t i = 0; i < sizeof checked / sizeof *checked; i++) {
        float copy[15];
        memcpy(copy, data, sizeof copy);
        gradcheck_input in = {.ndim = 2, .shape = {3, 5}, .data = copy, .differentiable = true};
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        bool passed = gradcheck_run(&in, 1, build_activation, &checked[i], &options, &result);
        cr_expect(passed, "%s (arg %g): %s", hop_activation_name(checked[i].kind),
                  (double)checked[i].arg0, result.message);
        cr_expect_eq(result.checked, 15);
    }
}
