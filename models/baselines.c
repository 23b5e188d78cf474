/* Baselines for hop proto: multinomial logistic regression and k-nearest neighbours. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hop/proto.h"

hop_logreg_config hop_logreg_config_default(void)
{
    hop_logreg_config config = {.l2 = 1e-3f, .iterations = 500};
    return config;
}

void hop_logreg_free(hop_logreg *model)
{
    if (!model)
        return;
    free(model->weights);
    memset(model, 0, sizeof *model);
}

static hop_status check_rows(const float *x, const int *labels, int n, int dim, int n_classes,
                             const char *what, hop_error *err)
{
    if (!x || n < 1 || dim < 1)
        return hop_error_set(err, HOP_ERR_ARG, "%s: %d rows of %d features are invalid", what, n,
                             dim);
    if (n_classes < 2)
        return hop_error_set(err, HOP_ERR_ARG, "%s: %d classes; at least 2 are needed", what,
                             n_classes);
    for (int i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return hop_error_set(err, HOP_ERR_ARG, "%s: label %d of row %d is outside [0, %d)",
                                 what, labels[i], i, n_classes);
    return HOP_OK;
}

/* Copies x into rows of width dim + 1 that end in a constant 1 for the bias. */
static float *augment(const float *x, int n, int dim)
{
    size_t width = (size_t)dim + 1;
    float *out = malloc((size_t)n * width * sizeof *out);
    if (!out)
        return NULL;
    for (int i = 0; i < n; i++) {
        memcpy(out + i * width, x + (size_t)i * dim, (size_t)dim * sizeof *out);
        out[i * width + dim] = 1.0f;
    }
    return out;
}

/* Largest eigenvalue of A^T A / n by power iteration; A is n x width. */
static double gram_max_eigenvalue(const float *a, int n, int width, float *tmp_n, float *v)
{
    for (int j = 0; j < width; j++)
        v[j] = 1.0f / sqrtf((float)width);
    double lambda = 0.0;
    for (int it = 0; it < 50; it++) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, width, 1.0f, a, width, v, 1, 0.0f, tmp_n, 1);
        cblas_sgemv(CblasRowMajor, CblasTrans, n, width, 1.0f / (float)n, a, width, tmp_n, 1, 0.0f,
                    v, 1);
        double norm = cblas_snrm2(width, v, 1);
        if (norm == 0.0)
            return 0.0;
        lambda = norm;
        cblas_sscal(width, (float)(1.0 / norm), v, 1);
    }
    return lambda;
}

/* Turns logits (n x C) into softmax minus one-hot, divided by n: the gradient of the loss. */
static void softmax_residual(float *logits, const int *labels, int n, int classes)
{
    for (int i = 0; i < n; i++) {
        float *row = logits + (size_t)i * classes;
        float max = row[0];
        for (int c = 1; c < classes; c++)
            max = fmaxf(max, row[c]);
        double sum = 0.0;
        for (int c = 0; c < classes; c++) {
            row[c] = expf(row[c] - max);
            sum += row[c];
        }
        for (int c = 0; c < classes; c++)
            row[c] = (float)(row[c] / sum) / (float)n;
        row[labels[i]] -= 1.0f / (float)n;
    }
}

typedef struct logreg_work {
    float *a;         /* n x (dim + 1) augmented rows */
    float *logits;    /* n x C */
    float *grad;      /* C x (dim + 1) */
    float *lookahead; /* Nesterov point */
    float *previous;
    float *tmp; /* n floats, then dim + 1 floats */
} logreg_work;

static void work_free(logreg_work *w)
{
    free(w->a);
    free(w->logits);
    free(w->grad);
    free(w->lookahead);
    free(w->previous);
    free(w->tmp);
}

static bool work_alloc(logreg_work *w, const float *x, int n, int dim, int classes)
{
    size_t width = (size_t)dim + 1, weights = (size_t)classes * width;
    w->a = augment(x, n, dim);
    w->logits = malloc((size_t)n * classes * sizeof(float));
    w->grad = malloc(weights * sizeof(float));
    w->lookahead = malloc(weights * sizeof(float));
    w->previous = calloc(weights, sizeof(float));
    w->tmp = malloc(((size_t)n + width) * sizeof(float));
    return w->a && w->logits && w->grad && w->lookahead && w->previous && w->tmp;
}

/* Gradient of the mean cross-entropy plus l2 / 2 |W|^2 (bias column excluded) at w. */
static void logreg_gradient(logreg_work *work, const float *w, const int *labels, int n, int dim,
                            int classes, float l2)
{
    int width = dim + 1;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, classes, width, 1.0f, work->a, width, w,
                width, 0.0f, work->logits, classes);
    softmax_residual(work->logits, labels, n, classes);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, classes, width, n, 1.0f, work->logits,
                classes, work->a, width, 0.0f, work->grad, width);
    for (int c = 0; c < classes; c++)
        for (int j = 0; j < dim; j++)
            work->grad[c * width + j] += l2 * w[c * width + j];
}

/* Nesterov's accelerated gradient for a smooth convex loss with fixed step. */
static void logreg_descend(logreg_work *work, float *w, const int *labels, int n, int dim,
                           int classes, const hop_logreg_config *config, float step)
{
    size_t size = (size_t)classes * (dim + 1);
    memcpy(work->lookahead, w, size * sizeof *w);
    memcpy(work->previous, w, size * sizeof *w);
    for (int it = 0; it < config->iterations; it++) {
        logreg_gradient(work, work->lookahead, labels, n, dim, classes, config->l2);
        for (size_t i = 0; i < size; i++)
            w[i] = work->lookahead[i] - step * work->grad[i];
        float momentum = (float)it / (float)(it + 3);
        for (size_t i = 0; i < size; i++) {
            work->lookahead[i] = w[i] + momentum * (w[i] - work->previous[i]);
            work->previous[i] = w[i];
        }
    }
}

hop_status hop_logreg_fit(hop_logreg *model, const hop_logreg_config *config, const float *x,
                          const int *labels, int n, int dim, int n_classes, hop_error *err)
{
    memset(model, 0, sizeof *model);
    hop_status status = check_rows(x, labels, n, dim, n_classes, "logistic regression", err);
    if (status != HOP_OK)
        return status;
    if (!labels || !(config->l2 >= 0.0f) || config->iterations < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "logistic regression: l2 %g and %d iterations are invalid; l2 must "
                             "be >= 0 and iterations >= 1 (labels are required)",
                             (double)config->l2, config->iterations);

    logreg_work work = {0};
    model->weights = calloc((size_t)n_classes * (dim + 1), sizeof *model->weights);
    if (!model->weights || !work_alloc(&work, x, n, dim, n_classes)) {
        work_free(&work);
        hop_logreg_free(model);
        return hop_error_set(err, HOP_ERR_NOMEM, "logistic regression: out of memory for %d x %d",
                             n, dim);
    }
    model->dim = dim;
    model->n_classes = n_classes;

    /* The softmax Hessian is at most I / 2, so the loss curvature is at most L below. */
    double lambda = gram_max_eigenvalue(work.a, n, dim + 1, work.tmp, work.tmp + n);
    double curvature = 0.5 * lambda + config->l2;
    float step = curvature > 0.0 ? (float)(1.0 / curvature) : 1.0f;
    logreg_descend(&work, model->weights, labels, n, dim, n_classes, config, step);
    work_free(&work);
    return HOP_OK;
}

static int argmax(const float *values, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

hop_status hop_logreg_predict(const hop_logreg *model, const float *x, int n, int *predicted,
                              hop_error *err)
{
    if (!model->weights)
        return hop_error_set(err, HOP_ERR_ARG, "logistic regression: the model is not fitted");
    hop_status status =
        check_rows(x, NULL, n, model->dim, model->n_classes, "logistic regression", err);
    if (status != HOP_OK)
        return status;
    float *a = augment(x, n, model->dim);
    float *logits = malloc((size_t)n * model->n_classes * sizeof *logits);
    if (!a || !logits) {
        free(a);
        free(logits);
        return hop_error_set(err, HOP_ERR_NOMEM, "logistic regression: out of memory for %d rows",
                             n);
    }
    int width = model->dim + 1, classes = model->n_classes;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, classes, width, 1.0f, a, width,
                model->weights, width, 0.0f, logits, classes);
    for (int i = 0; i < n; i++)
        predicted[i] = argmax(logits + (size_t)i * classes, classes);
    free(a);
    free(logits);
    return HOP_OK;
}

/* Squared distances (n_test x n_train) = |t|^2 + |r|^2 - 2 t . r, clamped at 0. */
static void squared_distances(const float *train_x, int n_train, const float *test_x, int n_test,
                              int dim, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_test, n_train, dim, -2.0f, test_x, dim,
                train_x, dim, 0.0f, out, n_train);
    for (int i = 0; i < n_test; i++) {
        float t = cblas_sdot(dim, test_x + (size_t)i * dim, 1, test_x + (size_t)i * dim, 1);
        for (int j = 0; j < n_train; j++) {
            const float *r = train_x + (size_t)j * dim;
            float d = out[(size_t)i * n_train + j] + t + cblas_sdot(dim, r, 1, r, 1);
            out[(size_t)i * n_train + j] = fmaxf(d, 0.0f);
        }
    }
}

/* Moves the k smallest distances of row to the front of order (partial selection sort). */
static void select_nearest(const float *row, int n, int k, int *order)
{
    for (int j = 0; j < n; j++)
        order[j] = j;
    for (int a = 0; a < k; a++) {
        int best = a;
        for (int j = a + 1; j < n; j++)
            if (row[order[j]] < row[order[best]])
                best = j;
        int swap = order[a];
        order[a] = order[best];
        order[best] = swap;
    }
}

/* The nearest rows come first in order, so the first class reaching the top count wins ties. */
static int vote(const int *order, int k, const int *labels, int n_classes, int *counts)
{
    memset(counts, 0, (size_t)n_classes * sizeof *counts);
    int top = 0;
    for (int a = 0; a < k; a++)
        top = ++counts[labels[order[a]]] > top ? counts[labels[order[a]]] : top;
    for (int a = 0; a < k; a++)
        if (counts[labels[order[a]]] == top)
            return labels[order[a]];
    return labels[order[0]];
}

hop_status hop_knn_predict(const float *train_x, const int *train_labels, int n_train, int dim,
                           int n_classes, int k, const float *test_x, int n_test, int *predicted,
                           hop_error *err)
{
    hop_status status = check_rows(train_x, train_labels, n_train, dim, n_classes, "kNN", err);
    if (status == HOP_OK)
        status = check_rows(test_x, NULL, n_test, dim, n_classes, "kNN test", err);
    if (status != HOP_OK)
        return status;
    if (!train_labels || k < 1 || k > n_train)
        return hop_error_set(err, HOP_ERR_ARG,
                             "kNN: k %d is invalid; it must be 1 to the %d training rows", k,
                             n_train);

    float *distances = malloc((size_t)n_test * n_train * sizeof *distances);
    int *order = malloc((size_t)n_train * sizeof *order);
    int *counts = malloc((size_t)n_classes * sizeof *counts);
    if (!distances || !order || !counts) {
        free(distances);
        free(order);
        free(counts);
        return hop_error_set(err, HOP_ERR_NOMEM, "kNN: out of memory for %d x %d distances", n_test,
                             n_train);
    }
    squared_distances(train_x, n_train, test_x, n_test, dim, distances);
    for (int i = 0; i < n_test; i++) {
        select_nearest(distances + (size_t)i * n_train, n_train, k, order);
        predicted[i] = vote(order, k, train_labels, n_classes, counts);
    }
    free(distances);
    free(order);
    free(counts);
    return HOP_OK;
}

double hop_proto_accuracy(const int *predicted, const int *labels, int n)
{
    if (n <= 0)
        return 0.0;
    int correct = 0;
    for (int i = 0; i < n; i++)
        correct += predicted[i] == labels[i];
    return (double)correct / n;
}
