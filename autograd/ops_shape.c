/* Shape ops: reshape (a view), transpose, permute, concat and slice. */
#include <limits.h>
#include <string.h>

#include "internal.h"

/* reshape: iargs[0] is the rank and iargs[1..rank] the requested extents, one may be -1. */
static hop_status reshape_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int ndim = n->iargs[0];
    const int *shape = n->iargs + 1;
    if (ndim < 1 || ndim > HOP_MAX_DIMS)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "%d dimensions requested, 1 to %d allowed", ndim,
                           HOP_MAX_DIMS);

    int free_axis = -1;
    size_t known = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1 && free_axis < 0) {
            free_axis = i;
            continue;
        }
        if (shape[i] <= 0)
            return hop_op_fail(g, n, HOP_ERR_SHAPE,
                               "invalid extent %d on axis %d: extents must be positive, "
                               "and at most one may be -1",
                               shape[i], i);
        known *= (size_t)shape[i];
    }

    size_t count = hop_node_numel(a);
    n->value.ndim = ndim;
    memcpy(n->value.shape, shape, (size_t)ndim * sizeof *shape);
    if (free_axis >= 0 && count % known == 0 && count / known <= INT_MAX) {
        n->value.shape[free_axis] = (int)(count / known);
        return HOP_OK;
    }
    if (free_axis < 0 && known == count)
        return HOP_OK;

    char sa[64], sn[64];
    return hop_op_fail(g, n, HOP_ERR_SHAPE, "cannot reshape %s (%zu elements) to %s",
                       hop_node_shape(a, sa, sizeof sa), count,
                       hop_shape_format(ndim, shape, sn, sizeof sn));
}

static hop_status reshape_forward(hop_graph *g, hop_node *n)
{
    n->value.data = n->inputs[0]->value.data;
    return HOP_OK;
}

static void reshape_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    size_t count = hop_node_numel(n);
    for (size_t i = 0; i < count; i++)
        a->grad[i] += n->grad[i];
}

const hop_op_def hop_op_reshape_def = {"reshape", reshape_infer, reshape_forward, reshape_backward,
                                       1};

hop_node *hop_reshape(hop_graph *g, hop_node *a, int ndim, const int *shape)
{
    if (!a)
        return NULL;
    if (!shape) {
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG, "reshape: shape is NULL");
        return NULL;
    }
    int iargs[1 + HOP_MAX_DIMS] = {ndim};
    if (ndim >= 1 && ndim <= HOP_MAX_DIMS)
        memcpy(iargs + 1, shape, (size_t)ndim * sizeof *shape);
    return hop_node_build(g, HOP_OP_RESHAPE, &a, 1, iargs, 1 + HOP_MAX_DIMS, NULL, 0);
}

/* permute and transpose: iargs[i] is the input axis that becomes output axis i. */
static hop_status permute_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int ndim = a->value.ndim;
    int seen[HOP_MAX_DIMS] = {0};
    for (int i = 0; i < ndim; i++) {
        int axis = n->iargs[i];
        if (axis < 0 || axis >= ndim || seen[axis]) {
            char sa[64], sp[64];
            return hop_op_fail(g, n, HOP_ERR_ARG, "%s is not a permutation of the axes of %s",
                               hop_shape_format(ndim, n->iargs, sp, sizeof sp),
                               hop_node_shape(a, sa, sizeof sa));
        }
        seen[axis] = 1;
        n->value.shape[i] = a->value.shape[axis];
    }
    n->value.ndim = ndim;
    return HOP_OK;
}

static hop_status transpose_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int ndim = a->value.ndim;
    if (ndim < 2) {
        char sa[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "needs 2 or more axes, got %s",
                           hop_node_shape(a, sa, sizeof sa));
    }
    for (int i = 0; i < ndim; i++)
        n->iargs[i] = i;
    n->iargs[ndim - 2] = ndim - 1;
    n->iargs[ndim - 1] = ndim - 2;
    return permute_infer(g, n);
}

/*
 * Output extents and, for each output axis, the input stride along it, both padded at the
 * front to 4 axes (extent 1, stride 0).
 */
static void permute_layout(const hop_node *n, int shape[4], size_t strides[4])
{
    const hop_node *a = n->inputs[0];
    int ndim = a->value.ndim, pad = 4 - ndim;
    size_t input_strides[HOP_MAX_DIMS];
    size_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        input_strides[i] = stride;
        stride *= (size_t)a->value.shape[i];
    }
    for (int i = 0; i < 4; i++) {
        shape[i] = i < pad ? 1 : n->value.shape[i - pad];
        strides[i] = i < pad ? 0 : input_strides[n->iargs[i - pad]];
    }
}

/* a: input shape, out: permuted shape. Gathers a into out, or scatter-adds dout into da. */
static void permute_walk(const hop_node *n, const float *src, float *dst, int backward)
{
    int shape[4];
    size_t s[4];
    permute_layout(n, shape, s);

    size_t o = 0;
    for (int i0 = 0; i0 < shape[0]; i0++)
        for (int i1 = 0; i1 < shape[1]; i1++)
            for (int i2 = 0; i2 < shape[2]; i2++) {
                size_t base = i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (int i3 = 0; i3 < shape[3]; i3++, o++) {
                    if (backward)
                        dst[base + i3 * s[3]] += src[o];
                    else
                        dst[o] = src[base + i3 * s[3]];
                }
            }
}

static hop_status permute_forward(hop_graph *g, hop_node *n)
{
    permute_walk(n, n->inputs[0]->value.data, n->value.data, 0);
    return HOP_OK;
}

static void permute_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (a->grad)
        permute_walk(n, n->grad, a->grad, 1);
}

const hop_op_def hop_op_permute_def = {"permute", permute_infer, permute_forward, permute_backward,
                                       0};
const hop_op_def hop_op_transpose_def = {"transpose", transpose_infer, permute_forward,
                                         permute_backward, 0};

hop_node *hop_transpose(hop_graph *g, hop_node *a)
{
    return hop_node_build(g, HOP_OP_TRANSPOSE, &a, 1, NULL, 0, NULL, 0);
}

hop_node *hop_permute(hop_graph *g, hop_node *a, const int *perm)
{
    if (!a)
        return NULL;
    if (!perm) {
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG, "permute: perm is NULL");
        return NULL;
    }
    return hop_node_build(g, HOP_OP_PERMUTE, &a, 1, perm, a->value.ndim, NULL, 0);
}

/* concat: iargs[0] is the axis, resolved by infer. */
static hop_status concat_infer(hop_graph *g, hop_node *n)
{
    const hop_node *first = n->inputs[0];
    int ndim = first->value.ndim;
    int axis = hop_axis_resolve(n->iargs[0], ndim);
    char s0[64], sk[64];
    if (axis < 0)
        return hop_op_fail(g, n, HOP_ERR_ARG, "axis %d is out of range for part 0 of shape %s",
                           n->iargs[0], hop_node_shape(first, s0, sizeof s0));

    size_t total = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const hop_node *part = n->inputs[k];
        int agree = part->value.ndim == ndim;
        for (int d = 0; agree && d < ndim; d++)
            agree = d == axis || part->value.shape[d] == first->value.shape[d];
        if (!agree)
            return hop_op_fail(g, n, HOP_ERR_SHAPE,
                               "part %d has shape %s and part 0 has %s; "
                               "all extents except axis %d must agree",
                               k, hop_node_shape(part, sk, sizeof sk),
                               hop_node_shape(first, s0, sizeof s0), axis);
        total += (size_t)part->value.shape[axis];
    }
    if (total > INT_MAX)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "joined extent %zu exceeds %d", total, INT_MAX);

    n->iargs[0] = axis;
    n->value.ndim = ndim;
    memcpy(n->value.shape, first->value.shape, (size_t)ndim * sizeof(int));
    n->value.shape[axis] = (int)total;
    return HOP_OK;
}

/*
 * parts k: (outer, e_k, inner), out: (outer, sum e_k, inner). Copies each part's block of
 * every outer index into out, or adds the matching block of dout into the part's grad.
 */
static void concat_walk(hop_graph *g, hop_node *n, int backward)
{
    int axis = n->iargs[0];
    size_t outer = hop_extent_product(n->value.shape, 0, axis);
    size_t inner = hop_extent_product(n->value.shape, axis + 1, n->value.ndim);
    size_t row = (size_t)n->value.shape[axis] * inner;

    size_t offset = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        hop_node *part = n->inputs[k];
        size_t block = (size_t)part->value.shape[axis] * inner;
        for (size_t o = 0; o < outer; o++) {
            float *out = n->value.data + o * row + offset;
            if (!backward)
                memcpy(out, part->value.data + o * block, block * sizeof(float));
            else if (part->grad)
                for (size_t i = 0; i < block; i++)
                    part->grad[o * block + i] += n->grad[o * row + offset + i];
        }
        offset += block;
    }
}

static hop_status concat_forward(hop_graph *g, hop_node *n)
{
    concat_walk(g, n, 0);
    return HOP_OK;
}

static void concat_backward(hop_graph *g, hop_node *n)
{
    concat_walk(g, n, 1);
}

const hop_op_def hop_op_concat_def = {"concat", concat_infer, concat_forward, concat_backward, 0};

hop_node *hop_concat(hop_graph *g, hop_node **parts, int n, int axis)
{
    if (n < 1 || !parts) {
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG,
                      "concat: needs 1 or more parts, got %d%s", n,
                      parts ? "" : " (parts is NULL)");
        return NULL;
    }
    return hop_node_build(g, HOP_OP_CONCAT, parts, n, &axis, 1, NULL, 0);
}

/* slice: iargs[0] is the axis (resolved by infer), iargs[1] the start and iargs[2] the end. */
static hop_status slice_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int axis = hop_axis_resolve(n->iargs[0], a->value.ndim);
    int start = n->iargs[1], end = n->iargs[2];
    char sa[64];
    if (axis < 0)
        return hop_op_fail(g, n, HOP_ERR_ARG, "axis %d is out of range for shape %s", n->iargs[0],
                           hop_node_shape(a, sa, sizeof sa));
    if (start < 0 || end > a->value.shape[axis] || start >= end)
        return hop_op_fail(g, n, HOP_ERR_ARG,
                           "range [%d, %d) is invalid for axis %d of shape %s; "
                           "expected 0 <= start < end <= %d",
                           start, end, axis, hop_node_shape(a, sa, sizeof sa),
                           a->value.shape[axis]);

    n->iargs[0] = axis;
    n->value = a->value;
    n->value.data = NULL;
    n->value.shape[axis] = end - start;
    return HOP_OK;
}

/*
 * a: (outer, e, inner), out: (outer, end - start, inner). Copies rows [start, end) of a
 * into out, or adds dout into those rows of da.
 */
static void slice_walk(hop_node *n, int backward)
{
    hop_node *a = n->inputs[0];
    int axis = n->iargs[0], start = n->iargs[1];
    size_t outer = hop_extent_product(a->value.shape, 0, axis);
    size_t inner = hop_extent_product(a->value.shape, axis + 1, a->value.ndim);
    size_t in_row = (size_t)a->value.shape[axis] * inner;
    size_t out_row = (size_t)n->value.shape[axis] * inner;
    size_t skip = (size_t)start * inner;

    for (size_t o = 0; o < outer; o++) {
        if (!backward) {
            memcpy(n->value.data + o * out_row, a->value.data + o * in_row + skip,
                   out_row * sizeof(float));
            continue;
        }
        for (size_t i = 0; i < out_row; i++)
            a->grad[o * in_row + skip + i] += n->grad[o * out_row + i];
    }
}

static hop_status slice_forward(hop_graph *g, hop_node *n)
{
    slice_walk(n, 0);
    return HOP_OK;
}

static void slice_backward(hop_graph *g, hop_node *n)
{
    if (n->inputs[0]->grad)
        slice_walk(n, 1);
}

const hop_op_def hop_op_slice_def = {"slice", slice_infer, slice_forward, slice_backward, 0};

hop_node *hop_slice(hop_graph *g, hop_node *a, int axis, int start, int end)
{
    int iargs[3] = {axis, start, end};
    return hop_node_build(g, HOP_OP_SLICE, &a, 1, iargs, 3, NULL, 0);
}
