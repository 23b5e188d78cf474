#include "hop/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hop_status check_size(const char *name, const hop_params *params, size_t size,
                             hop_error *err)
{
    if (params->total == size)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "%s: store has %zu elements but the optimiser was made for %zu", name,
                         params->total, size);
}

/* Sets up Adam (l2_decay) or AdamW; name prefixes the messages. */
static hop_status adam_setup(hop_adamw *opt, const char *name, const hop_params *params, float lr,
                             float weight_decay, bool l2_decay, hop_error *err)
{
    memset(opt, 0, sizeof *opt);
    if (!(lr > 0.0f) || !isfinite(lr))
        return hop_error_set(err, HOP_ERR_ARG, "%s: learning rate %g must be positive", name,
                             (double)lr);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return hop_error_set(err, HOP_ERR_ARG, "%s: weight decay %g must be >= 0", name,
                             (double)weight_decay);

    opt->lr = lr;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = weight_decay;
    opt->l2_decay = l2_decay;
    opt->size = params->total;
    opt->m = calloc(params->total ? params->total : 1, sizeof *opt->m);
    opt->v = calloc(params->total ? params->total : 1, sizeof *opt->v);
    if (!opt->m || !opt->v) {
        hop_adamw_free(opt);
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %zu moments", name,
                             params->total);
    }
    return HOP_OK;
}

hop_status hop_adamw_init(hop_adamw *opt, const hop_params *params, float lr, float weight_decay,
                          hop_error *err)
{
    return adam_setup(opt, "AdamW", params, lr, weight_decay, false, err);
}

hop_status hop_adam_init(hop_adam *opt, const hop_params *params, float lr, float weight_decay,
                         hop_error *err)
{
    return adam_setup(opt, "Adam", params, lr, weight_decay, true, err);
}

void hop_adamw_free(hop_adamw *opt)
{
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

/* Follows torch.optim's formula: x -= (lr / bias1) * m / (sqrt(v) / sqrt(bias2) + eps). */
static void adamw_update(const hop_adamw *opt, float *restrict x, const float *restrict grad,
                         float *restrict m, float *restrict v, size_t n, double bias1, double bias2)
{
    const float beta1 = opt->beta1, beta2 = opt->beta2, eps = opt->eps;
    const float step_size = (float)(opt->lr / bias1);
    const float inv_sqrt_bias2 = (float)(1.0 / sqrt(bias2));

    if (opt->l2_decay) {
        const float wd = opt->weight_decay;
        for (size_t i = 0; i < n; i++) {
            float g = grad[i] + wd * x[i];
            m[i] = beta1 * m[i] + (1.0f - beta1) * g;
            v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
            x[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bias2 + eps);
        }
        return;
    }
    const float decay = 1.0f - opt->lr * opt->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        x[i] = x[i] * decay - step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bias2 + eps);
    }
}

hop_status hop_adamw_begin_step(hop_adamw *opt, const hop_params *params, hop_error *err)
{
    hop_status status = check_size(opt->l2_decay ? "Adam" : "AdamW", params, opt->size, err);
    if (status != HOP_OK)
        return status;
    opt->step++;
    return HOP_OK;
}

void hop_adamw_update_range(const hop_adamw *opt, hop_params *params, size_t begin, size_t end)
{
    double bias1 = 1.0 - pow(opt->beta1, (double)opt->step);
    double bias2 = 1.0 - pow(opt->beta2, (double)opt->step);
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        size_t first = p->offset > begin ? p->offset : begin;
        size_t last = p->offset + p->numel < end ? p->offset + p->numel : end;
        if (p->frozen || first >= last)
            continue;
        adamw_update(opt, params->values + first, params->grads + first, opt->m + first,
                     opt->v + first, last - first, bias1, bias2);
    }
}

hop_status hop_adamw_step(hop_adamw *opt, hop_params *params, hop_error *err)
{
    hop_status status = hop_adamw_begin_step(opt, params, err);
    if (status == HOP_OK)
        hop_adamw_update_range(opt, params, 0, params->total);
    return status;
}

double hop_grad_norm(const hop_params *params)
{
    double sum = 0.0;
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        const float *g = params->grads + p->offset;
        for (size_t j = 0; j < p->numel; j++)
            sum += (double)g[j] * g[j];
    }
    return sqrt(sum);
}

double hop_clip_grad_norm(hop_params *params, double max_norm)
{
    double norm = hop_grad_norm(params);
    if (norm <= max_norm)
        return norm;

    /* The small constant matches torch.nn.utils.clip_grad_norm_. */
    float factor = (float)(max_norm / (norm + 1e-6));
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        float *g = params->grads + p->offset;
        for (size_t j = 0; j < p->numel; j++)
            g[j] *= factor;
    }
    return norm;
}

void hop_clip_grad_value(hop_params *params, float clip_value)
{
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        float *g = params->grads + p->offset;
        for (size_t j = 0; j < p->numel; j++)
            g[j] = fminf(fmaxf(g[j], -clip_value), clip_value);
    }
}

/* Checks the settings every optimiser shares; name prefixes the message. */
static hop_status check_common(const char *name, float lr, float momentum, float weight_decay,
                               hop_error *err)
{
    if (!(lr > 0.0f) || !isfinite(lr))
        return hop_error_set(err, HOP_ERR_ARG, "%s: learning rate %g must be positive", name,
                             (double)lr);
    if (!(momentum >= 0.0f && momentum < 1.0f))
        return hop_error_set(err, HOP_ERR_ARG, "%s: momentum %g must be in [0, 1)", name,
                             (double)momentum);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return hop_error_set(err, HOP_ERR_ARG, "%s: weight decay %g must be >= 0", name,
                             (double)weight_decay);
    return HOP_OK;
}

/* Allocates a zeroed buffer of one float per parameter element, or sets NULL when not needed. */
static hop_status state_alloc(float **state, bool needed, size_t total)
{
    *state = NULL;
    if (!needed)
        return HOP_OK;
    *state = calloc(total ? total : 1, sizeof **state);
    return *state ? HOP_OK : HOP_ERR_NOMEM;
}

hop_status hop_sgd_init(hop_sgd *opt, const hop_params *params, float lr, float momentum,
                        float weight_decay, bool nesterov, hop_error *err)
{
    memset(opt, 0, sizeof *opt);
    hop_status status = check_common("SGD", lr, momentum, weight_decay, err);
    if (status != HOP_OK)
        return status;
    if (nesterov && momentum == 0.0f)
        return hop_error_set(err, HOP_ERR_ARG, "SGD: Nesterov momentum needs momentum > 0");

    opt->lr = lr;
    opt->momentum = momentum;
    opt->weight_decay = weight_decay;
    opt->nesterov = nesterov;
    opt->size = params->total;
    if (state_alloc(&opt->buffer, momentum > 0.0f, params->total) != HOP_OK)
        return hop_error_set(err, HOP_ERR_NOMEM, "SGD: out of memory for %zu momentum buffers",
                             params->total);
    return HOP_OK;
}

void hop_sgd_free(hop_sgd *opt)
{
    free(opt->buffer);
    opt->buffer = NULL;
}

static void sgd_update(const hop_sgd *opt, float *x, const float *grad, float *buffer, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + opt->weight_decay * x[i];
        if (buffer) {
            buffer[i] = opt->step == 1 ? g : opt->momentum * buffer[i] + g;
            g = opt->nesterov ? g + opt->momentum * buffer[i] : buffer[i];
        }
        x[i] -= opt->lr * g;
    }
}

hop_status hop_sgd_step(hop_sgd *opt, hop_params *params, hop_error *err)
{
    hop_status status = check_size("SGD", params, opt->size, err);
    if (status != HOP_OK)
        return status;
    opt->step++;
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        size_t o = p->offset;
        sgd_update(opt, params->values + o, params->grads + o, opt->buffer ? opt->buffer + o : NULL,
                   p->numel);
    }
    return HOP_OK;
}

hop_status hop_rmsprop_init(hop_rmsprop *opt, const hop_params *params, float lr,
                            float weight_decay, float momentum, hop_error *err)
{
    memset(opt, 0, sizeof *opt);
    hop_status status = check_common("RMSprop", lr, momentum, weight_decay, err);
    if (status != HOP_OK)
        return status;

    opt->lr = lr;
    opt->alpha = 0.99f;
    opt->eps = 1e-8f;
    opt->weight_decay = weight_decay;
    opt->momentum = momentum;
    opt->size = params->total;
    if (state_alloc(&opt->v, true, params->total) != HOP_OK ||
        state_alloc(&opt->buffer, momentum > 0.0f, params->total) != HOP_OK) {
        hop_rmsprop_free(opt);
        return hop_error_set(err, HOP_ERR_NOMEM, "RMSprop: out of memory for %zu elements",
                             params->total);
    }
    return HOP_OK;
}

void hop_rmsprop_free(hop_rmsprop *opt)
{
    free(opt->v);
    free(opt->buffer);
    opt->v = opt->buffer = NULL;
}

static void rmsprop_update(const hop_rmsprop *opt, float *x, const float *grad, float *v,
                           float *buffer, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + opt->weight_decay * x[i];
        v[i] = opt->alpha * v[i] + (1.0f - opt->alpha) * g * g;
        float step = g / (sqrtf(v[i]) + opt->eps);
        if (buffer) {
            buffer[i] = opt->momentum * buffer[i] + step;
            step = buffer[i];
        }
        x[i] -= opt->lr * step;
    }
}

hop_status hop_rmsprop_step(hop_rmsprop *opt, hop_params *params, hop_error *err)
{
    hop_status status = check_size("RMSprop", params, opt->size, err);
    if (status != HOP_OK)
        return status;
    opt->step++;
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        size_t o = p->offset;
        rmsprop_update(opt, params->values + o, params->grads + o, opt->v + o,
                       opt->buffer ? opt->buffer + o : NULL, p->numel);
    }
    return HOP_OK;
}
