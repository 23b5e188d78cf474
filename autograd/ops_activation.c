/*
 * Activation ops with torch.nn.functional semantics: leaky_relu, elu, selu, gelu (the exact
 * erf form) and softplus. fargs[0] and fargs[1] hold the op's parameters.
 */
#include <math.h>

#include "internal.h"

/* The constants of torch.nn.SELU (Klambauer et al. 2017). */
#define SELU_ALPHA 1.6732632423543772
#define SELU_SCALE 1.0507009873554805

#define SQRT1_2      0.70710678118654752440 /* 1 / sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */

static hop_status activation_infer(hop_graph *g, hop_node *n)
{
    n->value = n->inputs[0]->value;
    n->value.data = NULL;
    return HOP_OK;
}

static hop_status elu_infer(hop_graph *g, hop_node *n)
{
    if (!isfinite(n->fargs[0]))
        return hop_op_fail(g, n, HOP_ERR_ARG, "alpha %g is invalid; it must be finite",
                           (double)n->fargs[0]);
    return activation_infer(g, n);
}

static hop_status leaky_relu_infer(hop_graph *g, hop_node *n)
{
    if (!isfinite(n->fargs[0]))
        return hop_op_fail(g, n, HOP_ERR_ARG, "negative slope %g is invalid; it must be finite",
                           (double)n->fargs[0]);
    return activation_infer(g, n);
}

static hop_status softplus_infer(hop_graph *g, hop_node *n)
{
    float beta = n->fargs[0], threshold = n->fargs[1];
    if (!(beta > 0.0f) || !isfinite(beta))
        return hop_op_fail(g, n, HOP_ERR_ARG, "beta %g is invalid; it must be finite and > 0",
                           (double)beta);
    if (isnan(threshold))
        return hop_op_fail(g, n, HOP_ERR_ARG, "threshold is NaN; pass a number such as 20");
    return activation_infer(g, n);
}

static double activation_value(hop_op_id op, double x, const float *args)
{
    switch (op) {
    case HOP_OP_LEAKY_RELU: return x > 0.0 ? x : x * args[0];
    case HOP_OP_ELU: return x > 0.0 ? x : args[0] * expm1(x);
    case HOP_OP_SELU: return SELU_SCALE * (x > 0.0 ? x : SELU_ALPHA * expm1(x));
    case HOP_OP_GELU: return 0.5 * x * (1.0 + erf(x * SQRT1_2));
    default:
        /* softplus: above the threshold the function is linear within float precision. */
        if (args[0] * x > args[1])
            return x;
        return log1p(exp(args[0] * x)) / args[0];
    }
}

static double activation_derivative(hop_op_id op, double x, const float *args)
{
    switch (op) {
    case HOP_OP_LEAKY_RELU: return x > 0.0 ? 1.0 : args[0];
    case HOP_OP_ELU: return x > 0.0 ? 1.0 : args[0] * exp(x);
    case HOP_OP_SELU: return SELU_SCALE * (x > 0.0 ? 1.0 : SELU_ALPHA * exp(x));
    case HOP_OP_GELU: {
        double pdf = exp(-0.5 * x * x) * INV_SQRT_2PI;
        return 0.5 * (1.0 + erf(x * SQRT1_2)) + x * pdf;
    }
    default: {
        double z = args[0] * x;
        if (z > args[1])
            return 1.0;
        return 1.0 / (1.0 + exp(-z));
    }
    }
}

static hop_status activation_forward(hop_graph *g, hop_node *n)
{
    const float *x = n->inputs[0]->value.data;
    size_t count = hop_node_numel(n);
    for (size_t i = 0; i < count; i++)
        n->value.data[i] = (float)activation_value(n->op, x[i], n->fargs);
    return HOP_OK;
}

static void activation_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    size_t count = hop_node_numel(n);
    for (size_t i = 0; i < count; i++)
        a->grad[i] += n->grad[i] * (float)activation_derivative(n->op, a->value.data[i], n->fargs);
}

const hop_op_def hop_op_leaky_relu_def = {"leaky_relu", leaky_relu_infer, activation_forward,
                                          activation_backward, 0};
const hop_op_def hop_op_elu_def = {"elu", elu_infer, activation_forward, activation_backward, 0};
const hop_op_def hop_op_selu_def = {"selu", activation_infer, activation_forward,
                                    activation_backward, 0};
const hop_op_def hop_op_gelu_def = {"gelu", activation_infer, activation_forward,
                                    activation_backward, 0};
const hop_op_def hop_op_softplus_def = {"softplus", softplus_infer, activation_forward,
                                        activation_backward, 0};

static hop_node *activation(hop_graph *g, hop_op_id op, hop_node *a, float arg0, float arg1)
{
    float args[2] = {arg0, arg1};
    return hop_node_build(g, op, &a, 1, NULL, 0, args, 2);
}

hop_node *hop_leaky_relu(hop_graph *g, hop_node *a, float negative_slope)
{
    return activation(g, HOP_OP_LEAKY_RELU, a, negative_slope, 0.0f);
}

hop_node *hop_elu(hop_graph *g, hop_node *a, float alpha)
{
    return activation(g, HOP_OP_ELU, a, alpha, 0.0f);
}

hop_node *hop_selu(hop_graph *g, hop_node *a)
{
    return activation(g, HOP_OP_SELU, a, 0.0f, 0.0f);
}

hop_node *hop_gelu(hop_graph *g, hop_node *a)
{
    return activation(g, HOP_OP_GELU, a, 0.0f, 0.0f);
}

hop_node *hop_softplus(hop_graph *g, hop_node *a, float beta, float threshold)
{
    return activation(g, HOP_OP_SOFTPLUS, a, beta, threshold);
}
