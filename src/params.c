#include "hop/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hop_params_init(hop_params *params)
{
    memset(params, 0, sizeof *params);
}

void hop_params_free(hop_params *params)
{
    free(params->info);
    free(params->values);
    free(params->grads);
    hop_params_init(params);
}

int hop_params_find(const hop_params *params, const char *name)
{
    for (int i = 0; i < params->count; i++)
        if (strcmp(params->info[i].name, name) == 0)
            return i;
    return -1;
}

static hop_status reserve(hop_params *params, size_t numel, hop_error *err)
{
    if (params->count == params->capacity) {
        int capacity = params->capacity ? params->capacity * 2 : 16;
        hop_param_info *info = realloc(params->info, (size_t)capacity * sizeof *info);
        if (!info)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory adding a parameter");
        params->info = info;
        params->capacity = capacity;
    }
    if (params->total + numel > params->allocated) {
        size_t allocated = params->allocated ? params->allocated : 1024;
        while (allocated < params->total + numel)
            allocated *= 2;
        float *values = realloc(params->values, allocated * sizeof *values);
        if (!values)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %zu parameters", allocated);
        params->values = values;
        float *grads = realloc(params->grads, allocated * sizeof *grads);
        if (!grads)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %zu gradients", allocated);
        params->grads = grads;
        params->allocated = allocated;
    }
    return HOP_OK;
}

static bool init_is_random(hop_init init)
{
    return init != HOP_INIT_ZEROS && init != HOP_INIT_ONES;
}

static bool init_uses_fans(hop_init init)
{
    return init_is_random(init) && init != HOP_INIT_NORMAL && init != HOP_INIT_UNIFORM;
}

/* fan_in and fan_out of a shape with at least 2 axes, as torch.nn.init computes them. */
static void fans(int ndim, const int *shape, double *fan_in, double *fan_out)
{
    double receptive = 1.0;
    for (int d = 2; d < ndim; d++)
        receptive *= shape[d];
    *fan_in = shape[1] * receptive;
    *fan_out = shape[0] * receptive;
}

/* The normal standard deviation or the uniform bound of an initialiser for a shape. */
static double init_scale(hop_init init, float arg, int ndim, const int *shape)
{
    if (!init_uses_fans(init))
        return arg;
    double fan_in, fan_out;
    fans(ndim, shape, &fan_in, &fan_out);
    double xavier_gain = arg != 0.0f ? arg : 1.0;
    double kaiming_gain = sqrt(2.0 / (1.0 + (double)arg * arg));
    switch (init) {
    case HOP_INIT_XAVIER_UNIFORM: return xavier_gain * sqrt(6.0 / (fan_in + fan_out));
    case HOP_INIT_XAVIER_NORMAL: return xavier_gain * sqrt(2.0 / (fan_in + fan_out));
    case HOP_INIT_KAIMING_UNIFORM: return kaiming_gain * sqrt(3.0 / fan_in);
    case HOP_INIT_KAIMING_NORMAL: return kaiming_gain / sqrt(fan_in);
    default: return 1.0 / sqrt(fan_in);
    }
}

static bool init_is_uniform(hop_init init)
{
    return init == HOP_INIT_UNIFORM || init == HOP_INIT_XAVIER_UNIFORM ||
           init == HOP_INIT_KAIMING_UNIFORM;
}

static void fill(float *x, size_t n, hop_init init, float scale, hop_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        if (init == HOP_INIT_ZEROS)
            x[i] = 0.0f;
        else if (init == HOP_INIT_ONES)
            x[i] = 1.0f;
        else if (init_is_uniform(init))
            x[i] = scale * (2.0f * hop_rng_uniform(rng) - 1.0f);
        else
            x[i] = scale * hop_rng_normal(rng);
    }
}

/* Checks the shape and the initialiser of a new parameter and computes its element count. */
static hop_status check_new(const hop_params *params, const char *name, int ndim, const int *shape,
                            hop_init init, hop_rng *rng, size_t *numel, hop_error *err)
{
    if (strlen(name) >= HOP_PARAM_NAME_MAX)
        return hop_error_set(err, HOP_ERR_ARG, "parameter name '%s' is longer than %d characters",
                             name, HOP_PARAM_NAME_MAX - 1);
    if (hop_params_find(params, name) >= 0)
        return hop_error_set(err, HOP_ERR_ARG, "parameter '%s' is already defined", name);
    if (ndim < 1 || ndim > HOP_MAX_DIMS)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "parameter '%s' has %d dimensions; 1 to %d allowed", name, ndim,
                             HOP_MAX_DIMS);
    *numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0)
            return hop_error_set(err, HOP_ERR_SHAPE, "parameter '%s' has extent %d on axis %d",
                                 name, shape[d], d);
        *numel *= (size_t)shape[d];
    }
    if ((int)init < 0 || init > HOP_INIT_LECUN_NORMAL)
        return hop_error_set(err, HOP_ERR_ARG, "parameter '%s': unknown initialiser %d", name,
                             (int)init);
    if (init_uses_fans(init) && ndim < 2)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "parameter '%s': Xavier, Kaiming and LeCun initialisers need at "
                             "least 2 axes to compute fan_in and fan_out, got 1",
                             name);
    if (init_is_random(init) && !rng)
        return hop_error_set(err, HOP_ERR_ARG, "parameter '%s' needs a random generator", name);
    return HOP_OK;
}

hop_status hop_params_add(hop_params *params, const char *name, int ndim, const int *shape,
                          hop_init init, float arg, hop_rng *rng, int *id, hop_error *err)
{
    size_t numel = 0;
    hop_status status = check_new(params, name, ndim, shape, init, rng, &numel, err);
    if (status != HOP_OK)
        return status;
    status = reserve(params, numel, err);
    if (status != HOP_OK)
        return status;

    hop_param_info *p = &params->info[params->count];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->offset = params->total;
    p->numel = numel;
    float scale = (float)init_scale(init, arg, ndim, shape);
    fill(params->values + p->offset, numel, init, scale, rng);
    memset(params->grads + p->offset, 0, numel * sizeof(float));
    params->total += numel;
    *id = params->count++;
    return HOP_OK;
}

hop_tensor hop_params_value(const hop_params *params, int id)
{
    const hop_param_info *p = &params->info[id];
    hop_tensor t = {.ndim = p->ndim, .data = params->values + p->offset};
    memcpy(t.shape, p->shape, sizeof t.shape);
    return t;
}

float *hop_params_grad(const hop_params *params, int id)
{
    return params->grads + params->info[id].offset;
}

void hop_params_zero_grad(hop_params *params)
{
    if (params->total)
        memset(params->grads, 0, params->total * sizeof(float));
}

size_t hop_params_numel(const hop_params *params, bool trainable_only)
{
    size_t total = 0;
    for (int i = 0; i < params->count; i++)
        if (!trainable_only || !params->info[i].frozen)
            total += params->info[i].numel;
    return total;
}

hop_status hop_params_set_frozen(hop_params *params, const char *name, bool frozen, hop_error *err)
{
    int id = hop_params_find(params, name);
    if (id < 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "no parameter named '%s' to %s; check the name against the "
                             "store's parameter names",
                             name, frozen ? "freeze" : "unfreeze");
    params->info[id].frozen = frozen;
    return HOP_OK;
}

static bool in_module(const char *name, const char *prefix, size_t prefix_length)
{
    if (prefix_length == 0)
        return true;
    if (strncmp(name, prefix, prefix_length) != 0)
        return false;
    return name[prefix_length] == '\0' || name[prefix_length] == '.';
}

hop_status hop_params_set_frozen_prefix(hop_params *params, const char *prefix, bool frozen,
                                        int *matched, hop_error *err)
{
    size_t length = strlen(prefix);
    int count = 0;
    for (int i = 0; i < params->count; i++) {
        if (in_module(params->info[i].name, prefix, length)) {
            params->info[i].frozen = frozen;
            count++;
        }
    }
    if (matched)
        *matched = count;
    if (count == 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "no parameter is named '%s' or starts with '%s.'; check the module "
                             "prefix",
                             prefix, prefix);
    return HOP_OK;
}

hop_status hop_params_walk(hop_params *params, hop_params_visit_fn visit, void *user)
{
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        hop_status status = visit(p, params->values + p->offset, params->grads + p->offset, user);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}
