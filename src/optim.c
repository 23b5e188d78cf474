#include "hop/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

hop_status hop_adamw_init(hop_adamw *opt, const hop_params *params, float lr, float weight_decay,
                          hop_error *err)
{
    memset(opt, 0, sizeof *opt);
    if (!(lr > 0.0f) || !isfinite(lr))
        return hop_error_set(err, HOP_ERR_ARG, "AdamW: learning rate %g must be positive", lr);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return hop_error_set(err, HOP_ERR_ARG, "AdamW: weight decay %g must be >= 0", weight_decay);

    opt->lr = lr;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = weight_decay;
    opt->size = params->total;
    opt->m = calloc(params->total ? params->total : 1, sizeof *opt->m);
    opt->v = calloc(params->total ? params->total : 1, sizeof *opt->v);
    if (!opt->m || !opt->v) {
        hop_adamw_free(opt);
        return hop_error_set(err, HOP_ERR_NOMEM, "AdamW: out of memory for %zu moments",
                             params->total);
    }
    return HOP_OK;
}

void hop_adamw_free(hop_adamw *opt)
{
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

static void adamw_update(const hop_adamw *opt, float *x, const float *grad, float *m, float *v,
                         size_t n, double bias1, double bias2)
{
    float decay = 1.0f - opt->lr * opt->weight_decay;
    for (size_t i = 0; i < n; i++) {
        m[i] = opt->beta1 * m[i] + (1.0f - opt->beta1) * grad[i];
        v[i] = opt->beta2 * v[i] + (1.0f - opt->beta2) * grad[i] * grad[i];
        double m_hat = m[i] / bias1;
        double v_hat = v[i] / bias2;
        x[i] = (float)(x[i] * decay - opt->lr * m_hat / (sqrt(v_hat) + opt->eps));
    }
}

hop_status hop_adamw_step(hop_adamw *opt, hop_params *params, hop_error *err)
{
    if (params->total != opt->size)
        return hop_error_set(err, HOP_ERR_ARG,
                             "AdamW: store has %zu elements but the optimiser was made for %zu",
                             params->total, opt->size);
    opt->step++;
    double bias1 = 1.0 - pow(opt->beta1, (double)opt->step);
    double bias2 = 1.0 - pow(opt->beta2, (double)opt->step);
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        if (p->frozen)
            continue;
        size_t o = p->offset;
        adamw_update(opt, params->values + o, params->grads + o, opt->m + o, opt->v + o, p->numel,
                     bias1, bias2);
    }
    return HOP_OK;
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

float hop_lr_exponential(float lr0, float gamma, int epoch)
{
    return (float)(lr0 * pow(gamma, epoch));
}
