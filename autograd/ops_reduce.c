/* Reductions over one axis: sum, mean and max, plus the mean over all elements. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* The input viewed as (outer, extent, inner) around the reduced axis. */
typedef struct reduce_dims {
    size_t outer, extent, inner;
} reduce_dims;

static reduce_dims reduce_dims_of(const hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int axis = n->iargs[0];
    reduce_dims d = {
        hop_extent_product(a->value.shape, 0, axis),
        (size_t)a->value.shape[axis],
        hop_extent_product(a->value.shape, axis + 1, a->value.ndim),
    };
    return d;
}

/*
 * iargs[0] is the axis (resolved here) and iargs[1] keepdim. Without keepdim the axis is
 * removed, except that a 1-D input reduces to shape (1) because a tensor has 1 or more axes.
 */
static hop_status reduce_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int ndim = a->value.ndim;
    int axis = hop_axis_resolve(n->iargs[0], ndim);
    if (axis < 0) {
        char sa[64];
        return hop_op_fail(g, n, HOP_ERR_ARG, "axis %d is out of range for shape %s", n->iargs[0],
                           hop_node_shape(a, sa, sizeof sa));
    }
    n->iargs[0] = axis;

    n->value = a->value;
    n->value.data = NULL;
    n->value.shape[axis] = 1;
    if (!n->iargs[1] && ndim > 1) {
        memmove(n->value.shape + axis, n->value.shape + axis + 1,
                (size_t)(ndim - axis - 1) * sizeof(int));
        n->value.ndim = ndim - 1;
    }
    return HOP_OK;
}

static float reduce_scale(const hop_node *n, const reduce_dims *d)
{
    return n->op == HOP_OP_MEAN ? 1.0f / (float)d->extent : 1.0f;
}

/* a: (outer, extent, inner), out: (outer, inner) = scale * sum over extent. */
static hop_status sum_forward(hop_graph *g, hop_node *n)
{
    const float *a = n->inputs[0]->value.data;
    float *out = n->value.data;
    reduce_dims d = reduce_dims_of(n);
    float scale = reduce_scale(n, &d);

    memset(out, 0, d.outer * d.inner * sizeof(float));
    for (size_t o = 0; o < d.outer; o++)
        for (size_t k = 0; k < d.extent; k++) {
            const float *row = a + (o * d.extent + k) * d.inner;
            for (size_t i = 0; i < d.inner; i++)
                out[o * d.inner + i] += row[i];
        }
    for (size_t i = 0; i < d.outer * d.inner; i++)
        out[i] *= scale;
    return HOP_OK;
}

/* dout: (outer, inner), da: (outer, extent, inner) += scale * dout broadcast over extent. */
static void sum_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    reduce_dims d = reduce_dims_of(n);
    float scale = reduce_scale(n, &d);

    for (size_t o = 0; o < d.outer; o++)
        for (size_t k = 0; k < d.extent; k++) {
            float *row = a->grad + (o * d.extent + k) * d.inner;
            for (size_t i = 0; i < d.inner; i++)
                row[i] += scale * n->grad[o * d.inner + i];
        }
}

const hop_op_def hop_op_sum_def = {"sum", reduce_infer, sum_forward, sum_backward, 0};
const hop_op_def hop_op_mean_def = {"mean", reduce_infer, sum_forward, sum_backward, 0};

/*
 * a: (outer, extent, inner), out: (outer, inner) = max over extent. n->saved keeps, per
 * output element, the index along extent of the first maximum. A NaN counts as the maximum.
 */
static hop_status max_forward(hop_graph *g, hop_node *n)
{
    const float *a = n->inputs[0]->value.data;
    reduce_dims d = reduce_dims_of(n);
    int *argmax = hop_graph_alloc(g, d.outer * d.inner * sizeof(int));
    if (!argmax)
        return hop_graph_ctx(g)->error.status;
    n->saved = argmax;

    for (size_t o = 0; o < d.outer; o++)
        for (size_t i = 0; i < d.inner; i++) {
            const float *x = a + o * d.extent * d.inner + i;
            size_t best = 0;
            for (size_t k = 1; k < d.extent && !isnan(x[best * d.inner]); k++)
                if (x[k * d.inner] > x[best * d.inner] || isnan(x[k * d.inner]))
                    best = k;
            argmax[o * d.inner + i] = (int)best;
            n->value.data[o * d.inner + i] = x[best * d.inner];
        }
    return HOP_OK;
}

/* dout: (outer, inner). Adds each element into da at its saved maximum. */
static void max_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    reduce_dims d = reduce_dims_of(n);
    const int *argmax = n->saved;

    for (size_t o = 0; o < d.outer; o++)
        for (size_t i = 0; i < d.inner; i++) {
            size_t k = (size_t)argmax[o * d.inner + i];
            a->grad[(o * d.extent + k) * d.inner + i] += n->grad[o * d.inner + i];
        }
}

const hop_op_def hop_op_max_def = {"max", reduce_infer, max_forward, max_backward, 0};

static hop_node *reduce(hop_graph *g, hop_op_id op, hop_node *a, int axis, int keepdim)
{
    int iargs[2] = {axis, keepdim != 0};
    return hop_node_build(g, op, &a, 1, iargs, 2, NULL, 0);
}

hop_node *hop_sum(hop_graph *g, hop_node *a, int axis, int keepdim)
{
    return reduce(g, HOP_OP_SUM, a, axis, keepdim);
}

hop_node *hop_mean(hop_graph *g, hop_node *a, int axis, int keepdim)
{
    return reduce(g, HOP_OP_MEAN, a, axis, keepdim);
}

hop_node *hop_max(hop_graph *g, hop_node *a, int axis, int keepdim)
{
    return reduce(g, HOP_OP_MAX, a, axis, keepdim);
}

hop_node *hop_mean_all(hop_graph *g, hop_node *a)
{
    hop_node *flat = hop_reshape(g, a, 1, (const int[]){-1});
    return hop_mean(g, flat, 0, 1);
}
