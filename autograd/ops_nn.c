/* Neural-network ops: masked softmax, layer normalisation, dropout and the losses. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* softmax and log_softmax: inputs[1], when present, is the mask. */

static int is_masked(const float *mask, size_t stride, int j)
{
    return mask && mask[(size_t)j * stride] != 0.0f;
}

static hop_status softmax_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    n->value = a->value;
    n->value.data = NULL;
    if (n->n_inputs < 2)
        return HOP_OK;

    const hop_node *mask = n->inputs[1];
    int pad = a->value.ndim - mask->value.ndim;
    int fits = pad >= 0;
    for (int i = 0; fits && i < mask->value.ndim; i++)
        fits = mask->value.shape[i] == 1 || mask->value.shape[i] == a->value.shape[i + pad];
    if (!fits) {
        char sm[64], sa[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "mask of shape %s does not broadcast to %s",
                           hop_node_shape(mask, sm, sizeof sm), hop_node_shape(a, sa, sizeof sa));
    }
    return HOP_OK;
}

/*
 * x, y: one row of d elements, and mask[j * stride] nonzero excludes x[j]. Writes softmax(x),
 * or log(softmax(x)) with -INFINITY at masked elements when log_form is set. A fully
 * masked row becomes all zeros.
 */
static void softmax_row(const float *x, const float *mask, size_t stride, int d, int log_form,
                        float *y)
{
    float max = -INFINITY;
    int live = 0;
    for (int j = 0; j < d; j++) {
        if (!is_masked(mask, stride, j)) {
            max = fmaxf(max, x[j]);
            live++;
        }
    }
    if (!live) {
        memset(y, 0, (size_t)d * sizeof *y);
        return;
    }

    double sum = 0.0;
    for (int j = 0; j < d; j++) {
        y[j] = is_masked(mask, stride, j) ? 0.0f : expf(x[j] - max);
        sum += y[j];
    }

    if (!log_form) {
        float inverse = (float)(1.0 / sum);
        for (int j = 0; j < d; j++)
            y[j] *= inverse;
        return;
    }
    float log_sum = (float)log(sum);
    for (int j = 0; j < d; j++)
        y[j] = is_masked(mask, stride, j) ? -INFINITY : x[j] - max - log_sum;
}

/* a, out: (rows, d), softmax over d. */
static hop_status softmax_forward(hop_graph *g, hop_node *n)
{
    int d = n->value.shape[n->value.ndim - 1];
    size_t rows = hop_node_numel(n) / (size_t)d;
    hop_mask_layout m = hop_mask_layout_of(n);
    int log_form = n->op == HOP_OP_LOG_SOFTMAX;

    for (size_t r = 0; r < rows; r++)
        softmax_row(n->inputs[0]->value.data + r * d, hop_mask_row(&m, r), m.strides[3], d,
                    log_form, n->value.data + r * d);
    return HOP_OK;
}

/* y, dy, dx: one row of d. dx += y * (dy - sum(dy * y)), and masked entries have y = 0. */
static void softmax_row_backward(const float *y, const float *dy, int d, float *dx)
{
    double dot = 0.0;
    for (int j = 0; j < d; j++)
        dot += (double)dy[j] * y[j];
    for (int j = 0; j < d; j++)
        dx[j] += y[j] * (float)(dy[j] - dot);
}

/* y, dy, dx: one row of d. dx += dy - exp(y) * sum(dy), over the unmasked entries only. */
static void log_softmax_row_backward(const float *y, const float *dy, const float *mask,
                                     size_t stride, int d, float *dx)
{
    double sum = 0.0;
    for (int j = 0; j < d; j++)
        sum += is_masked(mask, stride, j) ? 0.0 : dy[j];
    for (int j = 0; j < d; j++)
        if (!is_masked(mask, stride, j))
            dx[j] += dy[j] - expf(y[j]) * (float)sum;
}

/* dout, da: (rows, d). The mask gets no gradient. */
static void softmax_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    int d = n->value.shape[n->value.ndim - 1];
    size_t rows = hop_node_numel(n) / (size_t)d;
    hop_mask_layout m = hop_mask_layout_of(n);

    for (size_t r = 0; r < rows; r++) {
        const float *y = n->value.data + r * d, *dy = n->grad + r * d;
        if (n->op == HOP_OP_LOG_SOFTMAX)
            log_softmax_row_backward(y, dy, hop_mask_row(&m, r), m.strides[3], d, a->grad + r * d);
        else
            softmax_row_backward(y, dy, d, a->grad + r * d);
    }
}

const hop_op_def hop_op_softmax_def = {"softmax", softmax_infer, softmax_forward, softmax_backward,
                                       0};
const hop_op_def hop_op_log_softmax_def = {"log_softmax", softmax_infer, softmax_forward,
                                           softmax_backward, 0};

static hop_node *softmax_build(hop_graph *g, hop_op_id op, hop_node *a, hop_node *mask)
{
    hop_node *inputs[2] = {a, mask};
    return hop_node_build(g, op, inputs, mask ? 2 : 1, NULL, 0, NULL, 0);
}

hop_node *hop_softmax(hop_graph *g, hop_node *a, hop_node *mask)
{
    return softmax_build(g, HOP_OP_SOFTMAX, a, mask);
}

hop_node *hop_log_softmax(hop_graph *g, hop_node *a, hop_node *mask)
{
    return softmax_build(g, HOP_OP_LOG_SOFTMAX, a, mask);
}

/*
 * layernorm: iargs[0] and iargs[1] flag gamma and beta, which follow a in inputs in that
 * order, and fargs[0] is eps. n->saved keeps the mean and 1 / sqrt(var + eps) of every row.
 */
static hop_node *layernorm_gamma(const hop_node *n)
{
    return n->iargs[0] ? n->inputs[1] : NULL;
}

static hop_node *layernorm_beta(const hop_node *n)
{
    return n->iargs[1] ? n->inputs[1 + n->iargs[0]] : NULL;
}

static hop_status layernorm_check_affine(hop_graph *g, hop_node *n, const hop_node *t,
                                         const char *name, int d)
{
    if (!t || (t->value.ndim == 1 && t->value.shape[0] == d))
        return HOP_OK;
    char st[64];
    return hop_op_fail(g, n, HOP_ERR_SHAPE, "%s has shape %s, expected (%d)", name,
                       hop_node_shape(t, st, sizeof st), d);
}

static hop_status layernorm_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0];
    int d = a->value.shape[a->value.ndim - 1];
    float eps = n->fargs[0];
    if (!(eps > 0.0f) || isinf(eps))
        return hop_op_fail(g, n, HOP_ERR_ARG, "eps must be positive and finite, got %g",
                           (double)eps);
    if (layernorm_check_affine(g, n, layernorm_gamma(n), "gamma", d) != HOP_OK ||
        layernorm_check_affine(g, n, layernorm_beta(n), "beta", d) != HOP_OK)
        return HOP_ERR_SHAPE;

    n->value = a->value;
    n->value.data = NULL;
    return HOP_OK;
}

/* x: one row of d. Writes stats[0] = mean and stats[1] = 1 / sqrt(biased variance + eps). */
static void layernorm_row_stats(const float *x, int d, float eps, float *stats)
{
    double mean = 0.0, var = 0.0;
    for (int j = 0; j < d; j++)
        mean += x[j];
    mean /= d;
    for (int j = 0; j < d; j++)
        var += (x[j] - mean) * (x[j] - mean);
    var /= d;
    stats[0] = (float)mean;
    stats[1] = (float)(1.0 / sqrt(var + eps));
}

/* a, out: (rows, d), gamma, beta: (d) or absent. */
static hop_status layernorm_forward(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *gamma = layernorm_gamma(n), *beta = layernorm_beta(n);
    int d = a->value.shape[a->value.ndim - 1];
    size_t rows = hop_node_numel(a) / (size_t)d;
    float *stats = hop_graph_alloc(g, 2 * rows * sizeof(float));
    if (!stats)
        return hop_graph_ctx(g)->error.status;
    n->saved = stats;

    for (size_t r = 0; r < rows; r++) {
        const float *x = a->value.data + r * d;
        float *y = n->value.data + r * d, *s = stats + 2 * r;
        layernorm_row_stats(x, d, n->fargs[0], s);
        for (int j = 0; j < d; j++) {
            float xhat = (x[j] - s[0]) * s[1];
            y[j] =
                xhat * (gamma ? gamma->value.data[j] : 1.0f) + (beta ? beta->value.data[j] : 0.0f);
        }
    }
    return HOP_OK;
}

/*
 * x, dy, dx: one row of d. With g = dy * gamma: dx += rstd * (g - mean(g) - xhat *
 * mean(g * xhat)), dgamma += dy * xhat and dbeta += dy, each where it is not NULL.
 */
static void layernorm_row_backward(const float *x, const float *dy, const float *stats, int d,
                                   const float *gamma, float *dx, float *dgamma, float *dbeta)
{
    double mean_g = 0.0, mean_gx = 0.0;
    for (int j = 0; j < d; j++) {
        float xhat = (x[j] - stats[0]) * stats[1];
        float gj = dy[j] * (gamma ? gamma[j] : 1.0f);
        mean_g += gj;
        mean_gx += (double)gj * xhat;
        if (dgamma)
            dgamma[j] += dy[j] * xhat;
        if (dbeta)
            dbeta[j] += dy[j];
    }
    mean_g /= d;
    mean_gx /= d;
    if (!dx)
        return;
    for (int j = 0; j < d; j++) {
        float xhat = (x[j] - stats[0]) * stats[1];
        float gj = dy[j] * (gamma ? gamma[j] : 1.0f);
        dx[j] += stats[1] * (float)(gj - mean_g - xhat * mean_gx);
    }
}

static void layernorm_backward(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *gamma = layernorm_gamma(n), *beta = layernorm_beta(n);
    int d = a->value.shape[a->value.ndim - 1];
    size_t rows = hop_node_numel(a) / (size_t)d;
    const float *stats = n->saved;
    float *dgamma = gamma ? gamma->grad : NULL, *dbeta = beta ? beta->grad : NULL;

    for (size_t r = 0; r < rows; r++)
        layernorm_row_backward(a->value.data + r * d, n->grad + r * d, stats + 2 * r, d,
                               gamma ? gamma->value.data : NULL, a->grad ? a->grad + r * d : NULL,
                               dgamma, dbeta);
}

const hop_op_def hop_op_layernorm_def = {"layernorm", layernorm_infer, layernorm_forward,
                                         layernorm_backward, 0};

hop_node *hop_layernorm(hop_graph *g, hop_node *a, hop_node *gamma, hop_node *beta, float eps)
{
    hop_node *inputs[3] = {a};
    int n_inputs = 1;
    if (gamma)
        inputs[n_inputs++] = gamma;
    if (beta)
        inputs[n_inputs++] = beta;
    int flags[2] = {gamma != NULL, beta != NULL};
    return hop_node_build(g, HOP_OP_LAYERNORM, inputs, n_inputs, flags, 2, &eps, 1);
}

/*
 * dropout: fargs[0] is p. In training mode with p > 0, n->saved keeps one byte per element,
 * 1 where the element is kept (and scaled by 1 / (1 - p)). Otherwise saved is NULL.
 */
static hop_status dropout_infer(hop_graph *g, hop_node *n)
{
    float p = n->fargs[0];
    if (!(p >= 0.0f && p < 1.0f))
        return hop_op_fail(g, n, HOP_ERR_ARG, "p must be in [0, 1), got %g", (double)p);
    n->value = n->inputs[0]->value;
    n->value.data = NULL;
    return HOP_OK;
}

/* a, out: any shape, same count. */
static hop_status dropout_forward(hop_graph *g, hop_node *n)
{
    const float *x = n->inputs[0]->value.data;
    size_t count = hop_node_numel(n);
    float p = n->fargs[0];
    if (!hop_graph_training(g) || p == 0.0f) {
        memcpy(n->value.data, x, count * sizeof(float));
        return HOP_OK;
    }

    unsigned char *keep = hop_graph_alloc(g, count);
    if (!keep)
        return hop_graph_ctx(g)->error.status;
    n->saved = keep;
    hop_rng *rng = &hop_graph_ctx(g)->rng;
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        keep[i] = hop_rng_uniform(rng) >= p;
        n->value.data[i] = keep[i] ? x[i] * scale : 0.0f;
    }
    return HOP_OK;
}

static void dropout_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0];
    if (!a->grad)
        return;
    const unsigned char *keep = n->saved;
    size_t count = hop_node_numel(n);
    float scale = keep ? 1.0f / (1.0f - n->fargs[0]) : 1.0f;
    for (size_t i = 0; i < count; i++)
        if (!keep || keep[i])
            a->grad[i] += n->grad[i] * scale;
}

const hop_op_def hop_op_dropout_def = {"dropout", dropout_infer, dropout_forward, dropout_backward,
                                       0};

hop_node *hop_dropout(hop_graph *g, hop_node *a, float p)
{
    return hop_node_build(g, HOP_OP_DROPOUT, &a, 1, NULL, 0, &p, 1);
}

/* Losses: the output has shape (1). */

static void loss_shape(hop_node *n)
{
    n->value.ndim = 1;
    n->value.shape[0] = 1;
}

/*
 * bce_logits: inputs are the logits, the targets of the same shape and, optionally, the
 * positive-class weights of shape (C) broadcast along the logits' last axis of extent C.
 */
static hop_status bce_infer(hop_graph *g, hop_node *n)
{
    const hop_node *x = n->inputs[0], *t = n->inputs[1];
    if (!hop_shape_equal(x->value.ndim, x->value.shape, t->value.ndim, t->value.shape)) {
        char sx[64], st[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "logits %s and targets %s differ in shape",
                           hop_node_shape(x, sx, sizeof sx), hop_node_shape(t, st, sizeof st));
    }
    if (n->n_inputs > 2) {
        const hop_node *w = n->inputs[2];
        int classes = x->value.shape[x->value.ndim - 1];
        if (w->value.ndim != 1 || w->value.shape[0] != classes) {
            char sw[64];
            return hop_op_fail(g, n, HOP_ERR_SHAPE,
                               "pos_weight has shape %s but the logits' last axis has %d entries",
                               hop_node_shape(w, sw, sizeof sw), classes);
        }
        for (int c = 0; c < classes; c++)
            if (!(w->value.data[c] >= 0.0f) || !isfinite(w->value.data[c]))
                return hop_op_fail(g, n, HOP_ERR_ARG,
                                   "pos_weight[%d] = %g is invalid; it must be finite and >= 0", c,
                                   (double)w->value.data[c]);
    }
    loss_shape(n);
    return HOP_OK;
}

/* The positive-class weight of flat element i, 1 without weights. */
static double bce_pos_weight(const hop_node *n, size_t i)
{
    if (n->n_inputs < 3)
        return 1.0;
    const hop_node *x = n->inputs[0];
    size_t classes = (size_t)x->value.shape[x->value.ndim - 1];
    return n->inputs[2]->value.data[i % classes];
}

/* softplus(-x) = -log(sigmoid(x)), finite for any x. */
static double softplus_neg(double x)
{
    return log1p(exp(-fabs(x))) + fmax(-x, 0.0);
}

/*
 * x, t: (count), out: (1). Without weights the mean of max(x, 0) - x t + log1p(exp(-|x|)).
 * With pos_weight p, as torch.nn.BCEWithLogitsLoss: the mean of
 * (1 - t) x + (1 + (p - 1) t) softplus(-x), which is -[p t log s(x) + (1 - t) log(1 - s(x))].
 */
static hop_status bce_forward(hop_graph *g, hop_node *n)
{
    const float *x = n->inputs[0]->value.data, *t = n->inputs[1]->value.data;
    size_t count = hop_node_numel(n->inputs[0]);
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        if (!(t[i] >= 0.0f && t[i] <= 1.0f))
            return hop_op_fail(g, n, HOP_ERR_DATA, "target %g at index %zu is outside [0, 1]",
                               (double)t[i], i);
        double xi = x[i];
        if (n->n_inputs < 3) {
            sum += fmax(xi, 0.0) - xi * t[i] + log1p(exp(-fabs(xi)));
            continue;
        }
        double log_weight = 1.0 + (bce_pos_weight(n, i) - 1.0) * t[i];
        sum += (1.0 - t[i]) * xi + log_weight * softplus_neg(xi);
    }
    n->value.data[0] = (float)(sum / (double)count);
    return HOP_OK;
}

static float sigmoid_stable(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/*
 * dx += ((1 - t) - (1 + (p - 1) t) sigmoid(-x)) * dout / count, which is sigmoid(x) - t for
 * p = 1, and dt += (-x + (p - 1) softplus(-x)) * dout / count.
 */
static void bce_backward(hop_graph *g, hop_node *n)
{
    hop_node *x = n->inputs[0], *t = n->inputs[1];
    size_t count = hop_node_numel(x);
    float scale = n->grad[0] / (float)count;
    for (size_t i = 0; i < count; i++) {
        float xi = x->value.data[i], ti = t->value.data[i];
        if (n->n_inputs < 3) {
            if (x->grad)
                x->grad[i] += (sigmoid_stable(xi) - ti) * scale;
            if (t->grad)
                t->grad[i] -= xi * scale;
            continue;
        }
        double p = bce_pos_weight(n, i);
        double log_weight = 1.0 + (p - 1.0) * ti;
        if (x->grad)
            x->grad[i] += (float)((1.0 - ti) - log_weight * sigmoid_stable(-xi)) * scale;
        if (t->grad)
            t->grad[i] += (float)(-xi + (p - 1.0) * softplus_neg(xi)) * scale;
    }
}

const hop_op_def hop_op_bce_logits_def = {"bce_logits", bce_infer, bce_forward, bce_backward, 0};

hop_node *hop_bce_logits(hop_graph *g, hop_node *logits, hop_node *targets)
{
    hop_node *inputs[2] = {logits, targets};
    return hop_node_build(g, HOP_OP_BCE_LOGITS, inputs, 2, NULL, 0, NULL, 0);
}

hop_node *hop_bce_logits_weighted(hop_graph *g, hop_node *logits, hop_node *targets,
                                  const float *pos_weight)
{
    if (!pos_weight)
        return hop_bce_logits(g, logits, targets);
    if (!logits)
        return NULL;

    int classes = logits->value.shape[logits->value.ndim - 1];
    hop_node *inputs[3] = {logits, targets, hop_constant(g, 1, &classes, pos_weight)};
    return hop_node_build(g, HOP_OP_BCE_LOGITS, inputs, 3, NULL, 0, NULL, 0);
}

/*
 * softmax_xent: inputs are the logits (N, C), a constant (N) holding the class indices as
 * floats, which the constructors have range-checked, and optionally the class weights (C).
 * fargs[0] is the label smoothing. n->saved is a xent_saved.
 */
#define XENT_MAX_CLASSES (1 << 24) /* every class index is exact as a float */

typedef struct xent_saved {
    float *probs;       /* softmax(logits), (N, C) */
    double denominator; /* sum over rows of the weight of the row's label; N without weights */
} xent_saved;

static hop_status xent_check_weights(hop_graph *g, hop_node *n, int classes)
{
    const hop_node *w = n->inputs[2];
    if (w->value.ndim != 1 || w->value.shape[0] != classes) {
        char sw[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "class weights have shape %s, expected (%d)",
                           hop_node_shape(w, sw, sizeof sw), classes);
    }
    for (int c = 0; c < classes; c++)
        if (!(w->value.data[c] >= 0.0f) || !isfinite(w->value.data[c]))
            return hop_op_fail(g, n, HOP_ERR_ARG,
                               "class weight %d = %g is invalid; it must be finite and >= 0", c,
                               (double)w->value.data[c]);
    return HOP_OK;
}

static hop_status xent_infer(hop_graph *g, hop_node *n)
{
    const hop_node *x = n->inputs[0];
    char sx[64];
    if (x->value.ndim != 2)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "logits must have shape (N, C), got %s",
                           hop_node_shape(x, sx, sizeof sx));
    if (x->value.shape[1] > XENT_MAX_CLASSES)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "%d classes, at most %d supported",
                           x->value.shape[1], XENT_MAX_CLASSES);
    float smoothing = n->fargs[0];
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return hop_op_fail(g, n, HOP_ERR_ARG, "label smoothing %g is invalid; it must be in [0, 1]",
                           (double)smoothing);
    if (n->n_inputs > 2 && xent_check_weights(g, n, x->value.shape[1]) != HOP_OK)
        return hop_graph_ctx(g)->error.status;
    loss_shape(n);
    return HOP_OK;
}

static float xent_weight(const hop_node *n, int c)
{
    return n->n_inputs > 2 ? n->inputs[2]->value.data[c] : 1.0f;
}

/*
 * The target distribution of one row times the class weights, as torch.nn.CrossEntropyLoss:
 * q[c] = (1 - smoothing) w[label] [c == label] + smoothing / C w[c].
 */
static double xent_target(const hop_node *n, int label, int c, int classes)
{
    double smoothing = n->fargs[0];
    double q = smoothing / classes * xent_weight(n, c);
    if (c == label)
        q += (1.0 - smoothing) * xent_weight(n, label);
    return q;
}

/*
 * x, p: (rows, c), out: (1) = sum over rows of -sum_c q[c] log(softmax(x)[c]), divided by
 * the sum of w[label] over rows (the row count without weights), as torch's mean reduction.
 */
static hop_status xent_forward(hop_graph *g, hop_node *n)
{
    const hop_node *x = n->inputs[0];
    const float *labels = n->inputs[1]->value.data;
    int rows = x->value.shape[0], c = x->value.shape[1];
    xent_saved *saved = hop_graph_alloc(g, sizeof *saved);
    float *p = hop_graph_alloc(g, (size_t)rows * (size_t)c * sizeof(float));
    if (!saved || !p)
        return hop_graph_ctx(g)->error.status;
    saved->probs = p;
    n->saved = saved;

    double sum = 0.0, denominator = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *xr = x->value.data + (size_t)r * c;
        float *log_p = p + (size_t)r * c;
        int label = (int)labels[r];
        softmax_row(xr, NULL, 0, c, 1, log_p);
        denominator += xent_weight(n, label);
        for (int j = 0; j < c; j++) {
            if (j == label || n->fargs[0] > 0.0f)
                sum -= xent_target(n, label, j, c) * log_p[j];
            log_p[j] = expf(log_p[j]);
        }
    }
    if (!(denominator > 0.0))
        return hop_op_fail(g, n, HOP_ERR_DATA,
                           "the class weights of all %d labels sum to 0; give a label class a "
                           "positive weight",
                           rows);
    saved->denominator = denominator;
    n->value.data[0] = (float)(sum / denominator);
    return HOP_OK;
}

/* dx += (p sum_c q[c] - q) * dout / denominator, which is p - onehot(label) without weights. */
static void xent_backward(hop_graph *g, hop_node *n)
{
    hop_node *x = n->inputs[0];
    if (!x->grad)
        return;
    const xent_saved *saved = n->saved;
    const float *labels = n->inputs[1]->value.data, *p = saved->probs;
    int rows = x->value.shape[0], c = x->value.shape[1];
    double scale = n->grad[0] / saved->denominator;
    for (int r = 0; r < rows; r++) {
        float *dx = x->grad + (size_t)r * c;
        int label = (int)labels[r];
        double total = 0.0;
        for (int j = 0; j < c; j++)
            total += xent_target(n, label, j, c);
        for (int j = 0; j < c; j++) {
            double q = xent_target(n, label, j, c);
            dx[j] += (float)((p[(size_t)r * c + j] * total - q) * scale);
        }
    }
}

const hop_op_def hop_op_softmax_xent_def = {"softmax_xent", xent_infer, xent_forward, xent_backward,
                                            0};

/* A constant (N) of the labels as floats after checking them against the logits. */
static hop_node *xent_labels(hop_graph *g, hop_node *logits, const int *labels)
{
    hop_error *err = &hop_graph_ctx(g)->error;
    if (!labels) {
        hop_error_set(err, HOP_ERR_ARG, "softmax_xent: labels is NULL");
        return NULL;
    }

    int rows = logits->value.shape[0];
    int classes = logits->value.ndim == 2 ? logits->value.shape[1] : 0;
    for (int r = 0; classes && r < rows; r++)
        if (labels[r] < 0 || labels[r] >= classes) {
            hop_error_set(err, HOP_ERR_ARG, "softmax_xent: label %d in row %d is outside [0, %d)",
                          labels[r], r, classes);
            return NULL;
        }

    hop_node *label_node = hop_constant(g, 1, &rows, NULL);
    if (!label_node)
        return NULL;
    for (int r = 0; classes && r < rows; r++)
        label_node->value.data[r] = (float)labels[r];
    return label_node;
}

hop_node *hop_softmax_xent(hop_graph *g, hop_node *logits, const int *labels)
{
    return hop_softmax_xent_ex(g, logits, labels, NULL, 0.0f);
}

hop_node *hop_softmax_xent_ex(hop_graph *g, hop_node *logits, const int *labels,
                              const float *class_weights, float label_smoothing)
{
    if (!logits)
        return NULL;
    hop_node *inputs[3] = {logits, xent_labels(g, logits, labels), NULL};
    int n_inputs = 2;
    if (class_weights) {
        int classes = logits->value.ndim == 2 ? logits->value.shape[1] : 1;
        inputs[n_inputs++] = hop_constant(g, 1, &classes, class_weights);
    }
    return hop_node_build(g, HOP_OP_SOFTMAX_XENT, inputs, n_inputs, NULL, 0, &label_smoothing, 1);
}

/* mse: inputs are the prediction and the target of the same shape; out: (1). */
static hop_status mse_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *b = n->inputs[1];
    if (!hop_shape_equal(a->value.ndim, a->value.shape, b->value.ndim, b->value.shape)) {
        char sa[64], sb[64];
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "prediction %s and target %s differ in shape",
                           hop_node_shape(a, sa, sizeof sa), hop_node_shape(b, sb, sizeof sb));
    }
    loss_shape(n);
    return HOP_OK;
}

/* out = mean((a - b)^2), accumulated in double. */
static hop_status mse_forward(hop_graph *g, hop_node *n)
{
    const float *a = n->inputs[0]->value.data, *b = n->inputs[1]->value.data;
    size_t count = hop_node_numel(n->inputs[0]);
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)a[i] - b[i];
        sum += d * d;
    }
    n->value.data[0] = (float)(sum / (double)count);
    return HOP_OK;
}

/* da += 2 (a - b) dout / count and db -= the same. */
static void mse_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0], *b = n->inputs[1];
    size_t count = hop_node_numel(a);
    double scale = 2.0 * n->grad[0] / (double)count;
    for (size_t i = 0; i < count; i++) {
        float d = (float)(((double)a->value.data[i] - b->value.data[i]) * scale);
        if (a->grad)
            a->grad[i] += d;
        if (b->grad)
            b->grad[i] -= d;
    }
}

const hop_op_def hop_op_mse_def = {"mse", mse_infer, mse_forward, mse_backward, 0};

hop_node *hop_mse(hop_graph *g, hop_node *prediction, hop_node *target)
{
    hop_node *inputs[2] = {prediction, target};
    return hop_node_build(g, HOP_OP_MSE, inputs, 2, NULL, 0, NULL, 0);
}
