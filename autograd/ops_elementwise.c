/* Elementwise ops: NumPy-broadcast binary arithmetic and unary functions. */
#include <math.h>
#include <string.h>

#include "internal.h"

/*
 * Broadcasting works on shapes padded to 4 axes at the front. For each operand the
 * strides of broadcast axes (extent 1 against a larger output extent) are 0, so one
 * 4-deep loop serves every case, forward and backward.
 */
typedef struct bcast {
    int shape[4];        /* output extents */
    size_t sa[4], sb[4]; /* element strides of a and b in output coordinates */
} bcast;

static void pad4(const hop_node *t, int *out)
{
    int pad = 4 - t->value.ndim;
    for (int i = 0; i < 4; i++)
        out[i] = i < pad ? 1 : t->value.shape[i - pad];
}

static void strides4(const int *shape, const int *out_shape, size_t *strides)
{
    size_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        strides[i] = (shape[i] == 1 && out_shape[i] != 1) ? 0 : stride;
        stride *= (size_t)shape[i];
    }
}

static void bcast_make(const hop_node *n, bcast *bc)
{
    int a[4], b[4];
    pad4(n->inputs[0], a);
    pad4(n->inputs[1], b);
    pad4(n, bc->shape);
    strides4(a, bc->shape, bc->sa);
    strides4(b, bc->shape, bc->sb);
}

static hop_status binary_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *b = n->inputs[1];
    int nd = a->value.ndim > b->value.ndim ? a->value.ndim : b->value.ndim;
    for (int d = 0; d < nd; d++) {
        int ia = d - (nd - a->value.ndim), ib = d - (nd - b->value.ndim);
        int ea = ia >= 0 ? a->value.shape[ia] : 1, eb = ib >= 0 ? b->value.shape[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1) {
            char sa[64], sb[64];
            return hop_op_fail(g, n, HOP_ERR_SHAPE, "shapes %s and %s do not broadcast",
                               hop_node_shape(a, sa, sizeof sa), hop_node_shape(b, sb, sizeof sb));
        }
        n->value.shape[d] = ea > eb ? ea : eb;
    }
    n->value.ndim = nd;
    return HOP_OK;
}

typedef float (*binary_fn)(float, float);

static float f_add(float x, float y)
{
    return x + y;
}
static float f_sub(float x, float y)
{
    return x - y;
}
static float f_mul(float x, float y)
{
    return x * y;
}
static float f_div(float x, float y)
{
    return x / y;
}

static binary_fn binary_function(hop_op_id op)
{
    switch (op) {
    case HOP_OP_ADD: return f_add;
    case HOP_OP_SUB: return f_sub;
    case HOP_OP_MUL: return f_mul;
    default: return f_div;
    }
}

static hop_status binary_forward(hop_graph *g, hop_node *n)
{
    const float *a = n->inputs[0]->value.data, *b = n->inputs[1]->value.data;
    float *out = n->value.data;
    size_t count = hop_node_numel(n);
    binary_fn f = binary_function(n->op);

    size_t nb = hop_node_numel(n->inputs[1]);
    if (hop_node_numel(n->inputs[0]) == count && n->op == HOP_OP_ADD && count % nb == 0 &&
        hop_shape_equal(n->inputs[1]->value.ndim, n->inputs[1]->value.shape,
                        n->inputs[1]->value.ndim,
                        n->value.shape + (n->value.ndim - n->inputs[1]->value.ndim))) {
        /* A bias added over leading axes: one vectorised row loop. */
        for (size_t base = 0; base < count; base += nb)
            for (size_t i = 0; i < nb; i++)
                out[base + i] = a[base + i] + b[i];
        return HOP_OK;
    }
    if (hop_node_numel(n->inputs[0]) == count && nb == count) {
        for (size_t i = 0; i < count; i++)
            out[i] = f(a[i], b[i]);
        return HOP_OK;
    }
    bcast bc;
    bcast_make(n, &bc);
    size_t o = 0;
    for (int i0 = 0; i0 < bc.shape[0]; i0++)
        for (int i1 = 0; i1 < bc.shape[1]; i1++)
            for (int i2 = 0; i2 < bc.shape[2]; i2++) {
                size_t ia = i0 * bc.sa[0] + i1 * bc.sa[1] + i2 * bc.sa[2];
                size_t ib = i0 * bc.sb[0] + i1 * bc.sb[1] + i2 * bc.sb[2];
                for (int i3 = 0; i3 < bc.shape[3]; i3++)
                    out[o++] = f(a[ia + i3 * bc.sa[3]], b[ib + i3 * bc.sb[3]]);
            }
    return HOP_OK;
}

/* Partial derivatives of z = f(x, y) with respect to x and y. */
static void binary_partials(hop_op_id op, float x, float y, float *dx, float *dy)
{
    switch (op) {
    case HOP_OP_ADD:
        *dx = 1.0f;
        *dy = 1.0f;
        break;
    case HOP_OP_SUB:
        *dx = 1.0f;
        *dy = -1.0f;
        break;
    case HOP_OP_MUL:
        *dx = y;
        *dy = x;
        break;
    default:
        *dx = 1.0f / y;
        *dy = -x / (y * y);
        break;
    }
}

/*
 * Fast path for the common layouts: a has the output's shape, and b has it too or is
 * tiled over leading axes (a bias). b's element for output index o is then o % nb.
 * Returns 0 when the layout needs the general loop.
 */
static int binary_backward_tiled(hop_node *n)
{
    hop_node *a = n->inputs[0], *b = n->inputs[1];
    size_t count = hop_node_numel(n), nb = hop_node_numel(b);
    if (hop_node_numel(a) != count || count % nb != 0 || b->value.ndim > n->value.ndim)
        return 0;
    for (int d = 1; d <= b->value.ndim; d++)
        if (b->value.shape[b->value.ndim - d] != n->value.shape[n->value.ndim - d])
            return 0;

    const float *dz = n->grad, *x = a->value.data, *y = b->value.data;
    float *dx = a->grad, *dy = b->grad;
    for (size_t base = 0; base < count; base += nb) {
        const float *dzr = dz + base, *xr = x + base;
        float *dxr = dx ? dx + base : NULL;
        switch (n->op) {
        case HOP_OP_ADD:
        case HOP_OP_SUB: {
            float sign = n->op == HOP_OP_ADD ? 1.0f : -1.0f;
            if (dxr)
                for (size_t i = 0; i < nb; i++)
                    dxr[i] += dzr[i];
            if (dy)
                for (size_t i = 0; i < nb; i++)
                    dy[i] += sign * dzr[i];
            break;
        }
        case HOP_OP_MUL:
            if (dxr)
                for (size_t i = 0; i < nb; i++)
                    dxr[i] += dzr[i] * y[i];
            if (dy)
                for (size_t i = 0; i < nb; i++)
                    dy[i] += dzr[i] * xr[i];
            break;
        default:
            if (dxr)
                for (size_t i = 0; i < nb; i++)
                    dxr[i] += dzr[i] / y[i];
            if (dy)
                for (size_t i = 0; i < nb; i++)
                    dy[i] -= dzr[i] * xr[i] / (y[i] * y[i]);
            break;
        }
    }
    return 1;
}

static void binary_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0], *b = n->inputs[1];
    if (binary_backward_tiled(n))
        return;

    bcast bc;
    bcast_make(n, &bc);
    size_t o = 0;
    for (int i0 = 0; i0 < bc.shape[0]; i0++)
        for (int i1 = 0; i1 < bc.shape[1]; i1++)
            for (int i2 = 0; i2 < bc.shape[2]; i2++)
                for (int i3 = 0; i3 < bc.shape[3]; i3++, o++) {
                    size_t ia = i0 * bc.sa[0] + i1 * bc.sa[1] + i2 * bc.sa[2] + i3 * bc.sa[3];
                    size_t ib = i0 * bc.sb[0] + i1 * bc.sb[1] + i2 * bc.sb[2] + i3 * bc.sb[3];
                    float dx, dy;
                    binary_partials(n->op, a->value.data[ia], b->value.data[ib], &dx, &dy);
                    if (a->grad)
                        a->grad[ia] += n->grad[o] * dx;
                    if (b->grad)
                        b->grad[ib] += n->grad[o] * dy;
                }
}

const hop_op_def hop_op_add_def = {"add", binary_infer, binary_forward, binary_backward, 0};
const hop_op_def hop_op_sub_def = {"sub", binary_infer, binary_forward, binary_backward, 0};
const hop_op_def hop_op_mul_def = {"mul", binary_infer, binary_forward, binary_backward, 0};
const hop_op_def hop_op_div_def = {"div", binary_infer, binary_forward, binary_backward, 0};

static hop_node *binary(hop_graph *g, hop_op_id op, hop_node *a, hop_node *b)
{
    hop_node *inputs[2] = {a, b};
    return hop_node_build(g, op, inputs, 2, NULL, 0, NULL, 0);
}

hop_node *hop_add(hop_graph *g, hop_node *a, hop_node *b)
{
    return binary(g, HOP_OP_ADD, a, b);
}
hop_node *hop_sub(hop_graph *g, hop_node *a, hop_node *b)
{
    return binary(g, HOP_OP_SUB, a, b);
}
hop_node *hop_mul(hop_graph *g, hop_node *a, hop_node *b)
{
    return binary(g, HOP_OP_MUL, a, b);
}
hop_node *hop_div(hop_graph *g, hop_node *a, hop_node *b)
{
    return binary(g, HOP_OP_DIV, a, b);
}

/* Unary ops: the output has the input's shape. */

static hop_status unary_infer(hop_graph *g, hop_node *n)
{
    n->value = n->inputs[0]->value;
    n->value.data = NULL;
    return HOP_OK;
}

static float unary_value(hop_op_id op, float x, float s)
{
    switch (op) {
    case HOP_OP_SCALE: return s * x;
    case HOP_OP_EXP: return expf(x);
    case HOP_OP_LOG: return logf(x);
    case HOP_OP_RELU: return x > 0.0f ? x : 0.0f;
    case HOP_OP_SIGMOID:
        /* Two branches keep exp() from overflowing for large |x|. */
        if (x >= 0.0f)
            return 1.0f / (1.0f + expf(-x));
        return expf(x) / (1.0f + expf(x));
    default: return tanhf(x);
    }
}

/* Derivative from the input x and the output y. */
static float unary_derivative(hop_op_id op, float x, float y, float s)
{
    switch (op) {
    case HOP_OP_SCALE: return s;
    case HOP_OP_EXP: return y;
    case HOP_OP_LOG: return 1.0f / x;
    case HOP_OP_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case HOP_OP_SIGMOID: return y * (1.0f - y);
    default: return 1.0f - y * y;
    }
}

/* Elements [begin, end) of a unary op, the unit of work for a thread. */
static void unary_forward_range(const hop_node *n, size_t begin, size_t end)
{
    const float *x = n->inputs[0]->value.data;
    for (size_t i = begin; i < end; i++)
        n->value.data[i] = unary_value(n->op, x[i], n->fargs[0]);
}

/* ReLU and scale get plain loops that the compiler vectorizes; they dominate MIL steps. */
static int unary_forward_fast(hop_node *n, size_t count)
{
    const float *x = n->inputs[0]->value.data;
    float *y = n->value.data, s = n->fargs[0];
    if (n->op == HOP_OP_RELU) {
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return 1;
    }
    if (n->op == HOP_OP_SCALE) {
        for (size_t i = 0; i < count; i++)
            y[i] = s * x[i];
        return 1;
    }
    return 0;
}

static hop_status unary_forward(hop_graph *g, hop_node *n)
{
    size_t count = hop_node_numel(n);
    if (!unary_forward_fast(n, count))
        unary_forward_range(n, 0, count);
    return HOP_OK;
}

static int unary_backward_fast(hop_node *n, float *dx, size_t count)
{
    const float *x = n->inputs[0]->value.data, *dy = n->grad;
    float s = n->fargs[0];
    if (n->op == HOP_OP_RELU) {
        for (size_t i = 0; i < count; i++)
            dx[i] += dy[i] * (x[i] > 0.0f ? 1.0f : 0.0f);
        return 1;
    }
    if (n->op == HOP_OP_SCALE) {
        for (size_t i = 0; i < count; i++)
            dx[i] += s * dy[i];
        return 1;
    }
    return 0;
}

static void unary_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    size_t count = hop_node_numel(n);
    if (unary_backward_fast(n, a->grad, count))
        return;
    for (size_t i = 0; i < count; i++)
        a->grad[i] +=
            n->grad[i] * unary_derivative(n->op, a->value.data[i], n->value.data[i], n->fargs[0]);
}

const hop_op_def hop_op_scale_def = {"scale", unary_infer, unary_forward, unary_backward, 0};
const hop_op_def hop_op_exp_def = {"exp", unary_infer, unary_forward, unary_backward, 0};
const hop_op_def hop_op_log_def = {"log", unary_infer, unary_forward, unary_backward, 0};
const hop_op_def hop_op_relu_def = {"relu", unary_infer, unary_forward, unary_backward, 0};
const hop_op_def hop_op_sigmoid_def = {"sigmoid", unary_infer, unary_forward, unary_backward, 0};
const hop_op_def hop_op_tanh_def = {"tanh", unary_infer, unary_forward, unary_backward, 0};

static hop_node *unary(hop_graph *g, hop_op_id op, hop_node *a, float s)
{
    return hop_node_build(g, op, &a, 1, NULL, 0, &s, 1);
}

hop_node *hop_scale(hop_graph *g, hop_node *a, float s)
{
    return unary(g, HOP_OP_SCALE, a, s);
}
hop_node *hop_exp(hop_graph *g, hop_node *a)
{
    return unary(g, HOP_OP_EXP, a, 0.0f);
}
hop_node *hop_log(hop_graph *g, hop_node *a)
{
    return unary(g, HOP_OP_LOG, a, 0.0f);
}
hop_node *hop_relu(hop_graph *g, hop_node *a)
{
    return unary(g, HOP_OP_RELU, a, 0.0f);
}
hop_node *hop_sigmoid(hop_graph *g, hop_node *a)
{
    return unary(g, HOP_OP_SIGMOID, a, 0.0f);
}
hop_node *hop_tanh(hop_graph *g, hop_node *a)
{
    return unary(g, HOP_OP_TANH, a, 0.0f);
}
