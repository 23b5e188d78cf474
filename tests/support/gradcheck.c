#include "support/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRADCHECK_MAX_INPUTS 8

/* State shared by the evaluations of one check. */
typedef struct checker {
    hop_ctx ctx;
    hop_graph *g;
    const gradcheck_input *inputs;
    int n_inputs;
    gradcheck_build_fn build;
    const void *arg;
    const gradcheck_options *options;
    float *weights; /* W, one per output element */
    size_t n_outputs;
} checker;

gradcheck_options gradcheck_defaults(void)
{
    gradcheck_options options = {
        .eps = 1e-3, .atol = 2e-3, .rtol = 2e-2, .seed = 1, .training = true};
    return options;
}

/* Resets the graph and builds the op's output from the current input data. */
static hop_node *build_output(checker *c, hop_node **nodes)
{
    hop_graph_reset(c->g);
    hop_rng_seed(&c->ctx.rng, c->options->seed);
    hop_graph_set_training(c->g, c->options->training);
    for (int i = 0; i < c->n_inputs; i++) {
        const gradcheck_input *in = &c->inputs[i];
        nodes[i] = in->differentiable ? hop_input_grad(c->g, in->ndim, in->shape, in->data)
                                      : hop_input(c->g, in->ndim, in->shape, in->data);
    }
    return c->build(c->g, nodes, c->arg);
}

/* sum(output * W) in double, leaving out infinite outputs. */
static double weighted_sum(const checker *c, const hop_node *out)
{
    double loss = 0.0;
    for (size_t i = 0; i < c->n_outputs; i++)
        if (!isinf(out->value.data[i]))
            loss += (double)out->value.data[i] * c->weights[i];
    return loss;
}

static hop_status fail_build(checker *c, gradcheck_result *result)
{
    snprintf(result->message, sizeof result->message, "building the op failed: %s",
             c->ctx.error.message);
    return c->ctx.error.status != HOP_OK ? c->ctx.error.status : HOP_ERR_ARG;
}

static size_t input_count(const gradcheck_input *in)
{
    size_t count = 1;
    for (int d = 0; d < in->ndim; d++)
        count *= (size_t)in->shape[d];
    return count;
}

/* W: fixed uniform weights in [-1, 1], one per output element. */
static hop_status draw_weights(checker *c, const hop_node *out)
{
    c->n_outputs = hop_tensor_numel(&out->value);
    c->weights = malloc(c->n_outputs * sizeof *c->weights);
    if (!c->weights)
        return HOP_ERR_NOMEM;
    hop_rng rng;
    hop_rng_seed(&rng, c->options->seed ^ 0x5eedULL);
    for (size_t i = 0; i < c->n_outputs; i++)
        c->weights[i] = 2.0f * hop_rng_uniform(&rng) - 1.0f;
    return HOP_OK;
}

/*
 * Builds the op once and runs backward from sum(output * W). grads[i] gets a copy of input
 * i's gradient, zeros when backward left it NULL. The caller frees it.
 */
static hop_status analytic_gradients(checker *c, float **grads, gradcheck_result *result)
{
    hop_node *nodes[GRADCHECK_MAX_INPUTS];
    hop_node *out = build_output(c, nodes);
    if (!out)
        return fail_build(c, result);
    if (draw_weights(c, out) != HOP_OK)
        return HOP_ERR_NOMEM;

    hop_node *w = hop_constant(c->g, out->value.ndim, out->value.shape, c->weights);
    hop_node *flat = hop_reshape(c->g, hop_mul(c->g, out, w), 1, (const int[]){-1});
    hop_node *loss = hop_sum(c->g, flat, 0, 1);
    if (!loss || hop_backward(c->g, loss) != HOP_OK)
        return fail_build(c, result);

    for (int i = 0; i < c->n_inputs; i++) {
        size_t count = input_count(&c->inputs[i]);
        grads[i] = calloc(count, sizeof(float));
        if (!grads[i])
            return HOP_ERR_NOMEM;
        if (nodes[i]->grad)
            memcpy(grads[i], nodes[i]->grad, count * sizeof(float));
    }
    return HOP_OK;
}

/* Loss at the current input data. */
static hop_status evaluate(checker *c, double *loss, gradcheck_result *result)
{
    hop_node *nodes[GRADCHECK_MAX_INPUTS];
    hop_node *out = build_output(c, nodes);
    if (!out)
        return fail_build(c, result);
    *loss = weighted_sum(c, out);
    return HOP_OK;
}

/* Central difference of the loss in element x, divided by the step as float stores it. */
static hop_status numeric_derivative(checker *c, float *x, double *derivative,
                                     gradcheck_result *result)
{
    float original = *x;
    float plus = (float)(original + c->options->eps), minus = (float)(original - c->options->eps);
    double loss_plus = 0.0, loss_minus = 0.0;

    *x = plus;
    hop_status status = evaluate(c, &loss_plus, result);
    *x = minus;
    if (status == HOP_OK)
        status = evaluate(c, &loss_minus, result);
    *x = original;

    *derivative = (loss_plus - loss_minus) / ((double)plus - (double)minus);
    return status;
}

static void record(const checker *c, int input, size_t index, double analytic, double numeric,
                   gradcheck_result *result)
{
    double bound = c->options->atol + c->options->rtol * fabs(numeric);
    double diff = fabs(analytic - numeric);
    double excess = isnan(diff) ? INFINITY : diff - bound;
    result->checked++;
    if (result->input >= 0 && !(excess > result->excess))
        return;
    result->input = input;
    result->index = index;
    result->analytic = analytic;
    result->numeric = numeric;
    result->excess = excess;
}

/* Compares the analytic gradient of input i with central differences, element by element. */
static hop_status check_input(checker *c, int i, const float *analytic, gradcheck_result *result)
{
    const gradcheck_input *in = &c->inputs[i];
    size_t count = input_count(in);
    for (size_t k = 0; k < count; k++) {
        double numeric;
        hop_status status = numeric_derivative(c, &in->data[k], &numeric, result);
        if (status != HOP_OK)
            return status;
        record(c, i, k, analytic[k], numeric, result);
    }
    return HOP_OK;
}

static void describe(const checker *c, gradcheck_result *result)
{
    if (result->input < 0) {
        snprintf(result->message, sizeof result->message, "no differentiable input to check");
        return;
    }
    snprintf(result->message, sizeof result->message,
             "%s: worst of %zu elements is input %d element %zu: analytic %.7g, numeric %.7g "
             "(|difference| %.3g, bound %.3g = atol %.1g + rtol %.1g * |numeric|)",
             result->passed ? "passed" : "FAILED", result->checked, result->input, result->index,
             result->analytic, result->numeric, fabs(result->analytic - result->numeric),
             c->options->atol + c->options->rtol * fabs(result->numeric), c->options->atol,
             c->options->rtol);
}

static hop_status check_all(checker *c, float **grads, gradcheck_result *result)
{
    hop_status status = analytic_gradients(c, grads, result);
    for (int i = 0; status == HOP_OK && i < c->n_inputs; i++)
        if (c->inputs[i].differentiable)
            status = check_input(c, i, grads[i], result);
    return status;
}

bool gradcheck_run(const gradcheck_input *inputs, int n_inputs, gradcheck_build_fn build,
                   const void *arg, const gradcheck_options *options, gradcheck_result *result)
{
    memset(result, 0, sizeof *result);
    result->input = -1;
    if (n_inputs < 1 || n_inputs > GRADCHECK_MAX_INPUTS) {
        snprintf(result->message, sizeof result->message, "%d inputs, 1 to %d allowed", n_inputs,
                 GRADCHECK_MAX_INPUTS);
        return false;
    }

    checker c = {
        .inputs = inputs, .n_inputs = n_inputs, .build = build, .arg = arg, .options = options};
    hop_ctx_init(&c.ctx, options->seed);
    c.g = hop_graph_new(&c.ctx);
    float *grads[GRADCHECK_MAX_INPUTS] = {0};
    hop_status status = c.g ? check_all(&c, grads, result) : HOP_ERR_NOMEM;

    for (int i = 0; i < n_inputs; i++)
        free(grads[i]);
    free(c.weights);
    hop_graph_free(c.g);
    if (status != HOP_OK) {
        if (!result->message[0])
            snprintf(result->message, sizeof result->message, "check failed: %s",
                     hop_status_string(status));
        return false;
    }
    result->passed = result->input >= 0 && result->excess <= 0.0;
    describe(&c, result);
    return result->passed;
}
