#include "hop/params.h"

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

static void fill(float *x, size_t n, hop_init init, float arg, hop_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        switch (init) {
        case HOP_INIT_ZEROS: x[i] = 0.0f; break;
        case HOP_INIT_ONES: x[i] = 1.0f; break;
        case HOP_INIT_NORMAL: x[i] = arg * hop_rng_normal(rng); break;
        case HOP_INIT_UNIFORM: x[i] = arg * (2.0f * hop_rng_uniform(rng) - 1.0f); break;
        }
    }
}

hop_status hop_params_add(hop_params *params, const char *name, int ndim, const int *shape,
                          hop_init init, float arg, hop_rng *rng, int *id, hop_error *err)
{
    if (strlen(name) >= HOP_PARAM_NAME_MAX)
        return hop_error_set(err, HOP_ERR_ARG, "parameter name '%s' is longer than %d characters",
                             name, HOP_PARAM_NAME_MAX - 1);
    if (hop_params_find(params, name) >= 0)
        return hop_error_set(err, HOP_ERR_ARG, "parameter '%s' is already defined", name);
    if (ndim < 1 || ndim > HOP_MAX_DIMS)
        return hop_error_set(err, HOP_ERR_SHAPE, "parameter '%s' has %d dimensions; 1 to %d allowed",
                             name, ndim, HOP_MAX_DIMS);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0)
            return hop_error_set(err, HOP_ERR_SHAPE, "parameter '%s' has extent %d on axis %d",
                                 name, shape[d], d);
        numel *= (size_t)shape[d];
    }
    if ((init == HOP_INIT_NORMAL || init == HOP_INIT_UNIFORM) && !rng)
        return hop_error_set(err, HOP_ERR_ARG, "parameter '%s' needs a random generator", name);

    hop_status status = reserve(params, numel, err);
    if (status != HOP_OK)
        return status;

    hop_param_info *p = &params->info[params->count];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->offset = params->total;
    p->numel = numel;
    fill(params->values + p->offset, numel, init, arg, rng);
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
