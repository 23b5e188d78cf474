/* Learning-rate schedules and early stopping. */
#include <math.h>
#include <string.h>

#include "hop/optim.h"

#define PI 3.14159265358979323846

float hop_lr_exponential(float lr0, float gamma, int epoch)
{
    return (float)(lr0 * pow(gamma, epoch));
}

float hop_lr_step(float lr0, float gamma, int step_size, int epoch)
{
    return (float)(lr0 * pow(gamma, epoch / step_size));
}

float hop_lr_cosine_warmup(float lr0, float min_lr, int warmup, int total, int epoch)
{
    if (epoch < warmup)
        return (float)((double)lr0 * epoch / warmup);
    if (epoch >= total)
        return min_lr;
    double t = (double)(epoch - warmup) / (total - warmup);
    return (float)(min_lr + (lr0 - (double)min_lr) * 0.5 * (1.0 + cos(PI * t)));
}

static hop_status check_gamma(const hop_lr_schedule *s, hop_error *err)
{
    if (!(s->gamma > 0.0f && s->gamma <= 1.0f))
        return hop_error_set(err, HOP_ERR_ARG, "lr schedule: gamma %g must be in (0, 1]",
                             (double)s->gamma);
    return HOP_OK;
}

static hop_status check_cosine(const hop_lr_schedule *s, hop_error *err)
{
    if (s->warmup_epochs < 0)
        return hop_error_set(err, HOP_ERR_ARG, "lr schedule: warmup_epochs %d must be >= 0",
                             s->warmup_epochs);
    if (s->total_epochs <= s->warmup_epochs)
        return hop_error_set(err, HOP_ERR_ARG,
                             "lr schedule: total_epochs %d must be greater than warmup_epochs %d",
                             s->total_epochs, s->warmup_epochs);
    if (!(s->min_lr >= 0.0f && s->min_lr <= s->base_lr))
        return hop_error_set(err, HOP_ERR_ARG, "lr schedule: min_lr %g must be in [0, %g]",
                             (double)s->min_lr, (double)s->base_lr);
    return HOP_OK;
}

hop_status hop_lr_schedule_check(const hop_lr_schedule *s, hop_error *err)
{
    if (!(s->base_lr > 0.0f) || !isfinite(s->base_lr))
        return hop_error_set(err, HOP_ERR_ARG, "lr schedule: base_lr %g must be positive",
                             (double)s->base_lr);
    switch (s->kind) {
    case HOP_LR_CONSTANT: return HOP_OK;
    case HOP_LR_EXPONENTIAL: return check_gamma(s, err);
    case HOP_LR_STEP:
        if (s->step_size < 1)
            return hop_error_set(err, HOP_ERR_ARG, "lr schedule: step_size %d must be >= 1",
                                 s->step_size);
        return check_gamma(s, err);
    case HOP_LR_COSINE_WARMUP: return check_cosine(s, err);
    }
    return hop_error_set(err, HOP_ERR_ARG, "lr schedule: unknown kind %d", (int)s->kind);
}

float hop_lr_schedule_at(const hop_lr_schedule *s, int epoch)
{
    switch (s->kind) {
    case HOP_LR_STEP: return hop_lr_step(s->base_lr, s->gamma, s->step_size, epoch);
    case HOP_LR_EXPONENTIAL: return hop_lr_exponential(s->base_lr, s->gamma, epoch);
    case HOP_LR_COSINE_WARMUP:
        return hop_lr_cosine_warmup(s->base_lr, s->min_lr, s->warmup_epochs, s->total_epochs,
                                    epoch);
    default: return s->base_lr;
    }
}

hop_status hop_early_stop_init(hop_early_stop *es, hop_early_stop_mode mode, int patience,
                               double min_delta, hop_error *err)
{
    memset(es, 0, sizeof *es);
    if (mode != HOP_EARLY_STOP_MIN && mode != HOP_EARLY_STOP_MAX)
        return hop_error_set(err, HOP_ERR_ARG, "early stopping: unknown mode %d", (int)mode);
    if (patience < 0)
        return hop_error_set(err, HOP_ERR_ARG, "early stopping: patience %d must be >= 0",
                             patience);
    if (!(min_delta >= 0.0) || !isfinite(min_delta))
        return hop_error_set(err, HOP_ERR_ARG,
                             "early stopping: min_delta %g must be finite and >= 0", min_delta);
    es->mode = mode;
    es->patience = patience;
    es->min_delta = min_delta;
    es->best = NAN;
    es->best_epoch = -1;
    return HOP_OK;
}

static bool improves(const hop_early_stop *es, double metric)
{
    if (isnan(metric))
        return false;
    if (isnan(es->best))
        return true;
    if (es->mode == HOP_EARLY_STOP_MIN)
        return metric < es->best - es->min_delta;
    return metric > es->best + es->min_delta;
}

bool hop_early_stop_update(hop_early_stop *es, double metric, int epoch)
{
    es->improved = improves(es, metric);
    if (es->improved) {
        es->best = metric;
        es->best_epoch = epoch;
        es->bad_epochs = 0;
    } else {
        es->bad_epochs++;
    }
    if (es->bad_epochs >= es->patience && es->bad_epochs > 0)
        es->stop = true;
    return es->stop;
}
