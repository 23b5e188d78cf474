/* Central-difference gradient checker over the trainable parameters of a store. */
#include "hop/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hop_gradcheck_options hop_gradcheck_defaults(void)
{
    hop_gradcheck_options options = {
        .eps = 1e-3, .atol = 1e-3, .rtol = 1e-2, .max_per_param = 0, .seed = 1, .training = false};
    return options;
}

typedef struct checker {
    hop_params *params;
    hop_gradcheck_loss_fn loss;
    void *user;
    const hop_gradcheck_options *options;
    hop_ctx ctx;
    hop_graph *g;
    hop_error *err;
} checker;

/* Builds the loss on a fresh graph step; with_grad also runs backward into params->grads. */
static hop_status evaluate(checker *c, bool with_grad, double *value)
{
    hop_graph_reset(c->g);
    hop_rng_seed(&c->ctx.rng, c->options->seed);
    hop_graph_set_grad_enabled(c->g, with_grad);
    hop_node *loss = c->loss(c->g, c->params, c->user);
    if (!loss) {
        hop_status status = c->ctx.error.status != HOP_OK ? c->ctx.error.status : HOP_ERR_ARG;
        return hop_error_set(c->err, status, "gradcheck: the loss callback failed: %s",
                             c->ctx.error.message[0] ? c->ctx.error.message : "it returned NULL");
    }
    if (hop_tensor_numel(&loss->value) != 1) {
        char shape[64];
        return hop_error_set(
            c->err, HOP_ERR_SHAPE, "gradcheck: the loss must have one element, has shape %s",
            hop_shape_format(loss->value.ndim, loss->value.shape, shape, sizeof shape));
    }
    *value = loss->value.data[0];
    if (with_grad && hop_backward(c->g, loss) != HOP_OK)
        return hop_error_set(c->err, c->ctx.error.status, "gradcheck: backward failed: %s",
                             c->ctx.error.message);
    return HOP_OK;
}

/* Compares one element and keeps it in result when it is the worst so far. */
static void compare(checker *c, int id, size_t index, double analytic, double numeric,
                    hop_gradcheck_result *result)
{
    const hop_gradcheck_options *o = c->options;
    double excess = fabs(analytic - numeric) - (o->atol + o->rtol * fabs(numeric));
    if (isnan(excess))
        excess = INFINITY;
    if (excess > 0.0)
        result->failed++;
    result->checked++;
    if (result->param_id >= 0 && !(excess > result->excess))
        return;
    result->param_id = id;
    result->index = index;
    result->analytic = analytic;
    result->numeric = numeric;
    result->excess = excess;
}

/* Central difference of the loss in element i of values, restoring the element after. */
static hop_status central_difference(checker *c, float *values, size_t i, double *numeric)
{
    float saved = values[i];
    float plus = (float)(saved + c->options->eps), minus = (float)(saved - c->options->eps);
    double f_plus, f_minus;

    values[i] = plus;
    hop_status status = evaluate(c, false, &f_plus);
    values[i] = minus;
    if (status == HOP_OK)
        status = evaluate(c, false, &f_minus);
    values[i] = saved;

    /* The float step actually taken, which differs from 2 eps by rounding. */
    *numeric = (f_plus - f_minus) / ((double)plus - (double)minus);
    return status;
}

/* Fills order[0..count) with the element indices to check, a random subset when limited. */
static size_t choose_elements(checker *c, hop_rng *rng, size_t numel, size_t *order)
{
    for (size_t i = 0; i < numel; i++)
        order[i] = i;
    size_t limit = (size_t)c->options->max_per_param;
    if (limit == 0 || limit >= numel)
        return numel;
    for (size_t i = 0; i < limit; i++) {
        size_t j = i + (size_t)hop_rng_below(rng, numel - i);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return limit;
}

static hop_status check_parameter(checker *c, int id, const float *analytic, hop_rng *rng,
                                  hop_gradcheck_result *result)
{
    const hop_param_info *p = &c->params->info[id];
    size_t *order = malloc(p->numel * sizeof *order);
    if (!order)
        return hop_error_set(c->err, HOP_ERR_NOMEM, "gradcheck: out of memory for %zu indices",
                             p->numel);
    size_t count = choose_elements(c, rng, p->numel, order);
    hop_status status = HOP_OK;
    for (size_t k = 0; k < count && status == HOP_OK; k++) {
        size_t i = order[k];
        double numeric;
        status = central_difference(c, c->params->values + p->offset, i, &numeric);
        if (status == HOP_OK)
            compare(c, id, i, analytic[p->offset + i], numeric, result);
    }
    free(order);
    return status;
}

static hop_status check_options(const hop_params *params, const hop_gradcheck_options *o,
                                hop_error *err)
{
    if (!(o->eps > 0.0) || !isfinite(o->eps))
        return hop_error_set(err, HOP_ERR_ARG, "gradcheck: eps %g must be positive", o->eps);
    if (!(o->atol >= 0.0 && o->rtol >= 0.0))
        return hop_error_set(err, HOP_ERR_ARG, "gradcheck: atol %g and rtol %g must be >= 0",
                             o->atol, o->rtol);
    if (o->max_per_param < 0)
        return hop_error_set(err, HOP_ERR_ARG, "gradcheck: max_per_param %d must be >= 0",
                             o->max_per_param);
    if (hop_params_numel(params, true) == 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "gradcheck: the store has no trainable parameter to check");
    return HOP_OK;
}

static void describe(const hop_params *params, hop_gradcheck_result *result)
{
    snprintf(result->param_name, sizeof result->param_name, "%s",
             params->info[result->param_id].name);
    snprintf(result->message, sizeof result->message,
             "%s: %d of %zu elements over the bound; worst %s[%zu]: analytic %.6g, numeric %.6g",
             result->failed ? "failed" : "passed", result->failed, result->checked,
             result->param_name, result->index, result->analytic, result->numeric);
}

/* Runs backward once for the analytic gradients, then differences every chosen element. */
static hop_status run_checks(checker *c, float *analytic, hop_gradcheck_result *result)
{
    hop_params *params = c->params;
    double value;
    memset(params->grads, 0, params->total * sizeof(float));
    hop_status status = evaluate(c, true, &value);
    if (status != HOP_OK)
        return status;
    memcpy(analytic, params->grads, params->total * sizeof(float));

    hop_rng rng;
    hop_rng_seed(&rng, c->options->seed);
    for (int id = 0; id < params->count && status == HOP_OK; id++)
        if (!params->info[id].frozen)
            status = check_parameter(c, id, analytic, &rng, result);
    return status;
}

hop_status hop_gradcheck(hop_params *params, hop_gradcheck_loss_fn loss, void *user,
                         const hop_gradcheck_options *options, hop_gradcheck_result *result,
                         hop_error *err)
{
    memset(result, 0, sizeof *result);
    result->param_id = -1;
    hop_status status = check_options(params, options, err);
    if (status != HOP_OK)
        return status;

    checker c = {.params = params, .loss = loss, .user = user, .options = options, .err = err};
    hop_ctx_init(&c.ctx, options->seed);
    c.g = hop_graph_new(&c.ctx);
    float *saved_grads = malloc(params->total * sizeof *saved_grads);
    float *analytic = malloc(params->total * sizeof *analytic);
    if (!c.g || !saved_grads || !analytic) {
        status = hop_error_set(err, HOP_ERR_NOMEM, "gradcheck: out of memory for %zu gradients",
                               params->total);
    } else {
        memcpy(saved_grads, params->grads, params->total * sizeof(float));
        hop_graph_set_training(c.g, options->training);
        status = run_checks(&c, analytic, result);
        memcpy(params->grads, saved_grads, params->total * sizeof(float));
    }

    if (status == HOP_OK) {
        result->passed = result->failed == 0;
        describe(params, result);
    }
    hop_graph_free(c.g);
    free(saved_grads);
    free(analytic);
    return status;
}
