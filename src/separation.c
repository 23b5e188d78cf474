/*
 * Separation functions on one row: softmax, sparsemax (Martins and Astudillo 2016) and
 * 1.5-entmax (Peters, Niculae and Martins 2019, exact sort-based threshold).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hop/memory.h"

static int is_masked(const float *mask, size_t stride, int j)
{
    return mask && mask[(size_t)j * stride] != 0.0f;
}

static int compare_descending(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Copies the unmasked entries minus their maximum into work, sorted descending; returns count. */
static int gather_sorted(const float *z, const float *mask, size_t stride, int n, float *work,
                         float *max_out)
{
    float max = -INFINITY;
    int m = 0;
    for (int j = 0; j < n; j++) {
        if (!is_masked(mask, stride, j)) {
            work[m++] = z[j];
            max = fmaxf(max, z[j]);
        }
    }
    for (int j = 0; j < m; j++)
        work[j] -= max;
    qsort(work, (size_t)m, sizeof *work, compare_descending);
    *max_out = max;
    return m;
}

static void softmax_row(const float *z, const float *mask, size_t stride, int n, float *p)
{
    float max = -INFINITY;
    int live = 0;
    for (int j = 0; j < n; j++) {
        if (!is_masked(mask, stride, j)) {
            max = fmaxf(max, z[j]);
            live++;
        }
    }
    if (!live) {
        memset(p, 0, (size_t)n * sizeof *p);
        return;
    }

    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        p[j] = is_masked(mask, stride, j) ? 0.0f : expf(z[j] - max);
        sum += p[j];
    }
    float inverse = (float)(1.0 / sum);
    for (int j = 0; j < n; j++)
        p[j] *= inverse;
}

/* tau of sparsemax from sorted (descending) shifted scores: the support is the largest k
   with 1 + k z_(k) > sum_{i <= k} z_(i). */
static double sparsemax_threshold(const float *sorted, int m)
{
    double cumulative = 0.0, tau = sorted[0] - 1.0;
    for (int k = 1; k <= m; k++) {
        cumulative += sorted[k - 1];
        if (1.0 + k * (double)sorted[k - 1] > cumulative)
            tau = (cumulative - 1.0) / k;
    }
    return tau;
}

/* tau of 1.5-entmax for sorted halved scores x: for support size k, tau_k = mean_k -
   sqrt((1 - k var_k) / k); the support is the largest k with tau_k <= x_(k). */
static double entmax15_threshold(const float *sorted, int m)
{
    double sum = 0.0, sum_sq = 0.0, tau = sorted[0] - 1.0;
    for (int k = 1; k <= m; k++) {
        double x = 0.5 * sorted[k - 1];
        sum += x;
        sum_sq += x * x;
        double mean = sum / k, variance = sum_sq / k - mean * mean;
        double delta = (1.0 - k * variance) / k;
        double tau_k = mean - sqrt(delta > 0.0 ? delta : 0.0);
        if (tau_k <= x)
            tau = tau_k;
    }
    return tau;
}

static void sparse_row(hop_separation kind, const float *z, const float *mask, size_t stride, int n,
                       float *work, float *p)
{
    float max;
    int m = gather_sorted(z, mask, stride, n, work, &max);
    if (m == 0) {
        memset(p, 0, (size_t)n * sizeof *p);
        return;
    }

    if (kind == HOP_SEPARATION_SPARSEMAX) {
        double tau = sparsemax_threshold(work, m);
        for (int j = 0; j < n; j++) {
            double v = is_masked(mask, stride, j) ? 0.0 : (double)(z[j] - max) - tau;
            p[j] = v > 0.0 ? (float)v : 0.0f;
        }
        return;
    }
    double tau = entmax15_threshold(work, m);
    for (int j = 0; j < n; j++) {
        double v = is_masked(mask, stride, j) ? 0.0 : 0.5 * (double)(z[j] - max) - tau;
        p[j] = v > 0.0 ? (float)(v * v) : 0.0f;
    }
}

void hop_separation_row(hop_separation kind, const float *z, const float *mask, size_t mask_stride,
                        int n, float *work, float *p)
{
    if (kind == HOP_SEPARATION_SOFTMAX)
        softmax_row(z, mask, mask_stride, n, p);
    else
        sparse_row(kind, z, mask, mask_stride, n, work, p);
}

void hop_separation_row_jvp(hop_separation kind, const float *p, const float *v, int n, float *dz)
{
    if (kind == HOP_SEPARATION_SOFTMAX) {
        double dot = 0.0;
        for (int j = 0; j < n; j++)
            dot += (double)p[j] * v[j];
        for (int j = 0; j < n; j++)
            dz[j] += p[j] * (float)(v[j] - dot);
        return;
    }

    /* s = 1 on the support (sparsemax) or sqrt(p) (1.5-entmax); J v = s v - s <s, v> / sum s. */
    double s_sum = 0.0, s_dot = 0.0;
    for (int j = 0; j < n; j++) {
        if (p[j] <= 0.0f)
            continue;
        double s = kind == HOP_SEPARATION_SPARSEMAX ? 1.0 : sqrt((double)p[j]);
        s_sum += s;
        s_dot += s * v[j];
    }
    if (s_sum == 0.0)
        return;
    double ratio = s_dot / s_sum;
    for (int j = 0; j < n; j++) {
        if (p[j] <= 0.0f)
            continue;
        double s = kind == HOP_SEPARATION_SPARSEMAX ? 1.0 : sqrt((double)p[j]);
        dz[j] += (float)(s * (v[j] - ratio));
    }
}

double hop_separation_conjugate(hop_separation kind, const float *z, const float *p, int n)
{
    if (kind == HOP_SEPARATION_SOFTMAX) {
        double max = -INFINITY, sum = 0.0;
        for (int j = 0; j < n; j++)
            max = fmax(max, z[j]);
        for (int j = 0; j < n; j++)
            sum += exp((double)z[j] - max);
        return max + log(sum);
    }

    double dot = 0.0, power_sum = 0.0;
    for (int j = 0; j < n; j++) {
        dot += (double)p[j] * z[j];
        power_sum += kind == HOP_SEPARATION_SPARSEMAX ? (double)p[j] * p[j] : pow(p[j], 1.5);
    }
    double psi =
        kind == HOP_SEPARATION_SPARSEMAX ? (power_sum - 1.0) / 2.0 : (power_sum - 1.0) / 0.75;
    return dot - psi;
}

double hop_separation_entropy_max(hop_separation kind, int n)
{
    if (kind == HOP_SEPARATION_SOFTMAX)
        return log((double)n);
    if (kind == HOP_SEPARATION_SPARSEMAX)
        return (1.0 - 1.0 / n) / 2.0;
    return (1.0 - 1.0 / sqrt((double)n)) / 0.75;
}

static const char *const separation_names[HOP_SEPARATION_COUNT] = {"softmax", "sparsemax",
                                                                   "entmax15"};

const char *hop_separation_name(hop_separation kind)
{
    return (unsigned)kind < HOP_SEPARATION_COUNT ? separation_names[kind] : "unknown";
}

hop_status hop_separation_parse(const char *name, hop_separation *kind, hop_error *err)
{
    for (int i = 0; i < HOP_SEPARATION_COUNT; i++) {
        if (strcmp(name, separation_names[i]) == 0) {
            *kind = (hop_separation)i;
            return HOP_OK;
        }
    }
    return hop_error_set(err, HOP_ERR_ARG,
                         "unknown separation '%s'; expected softmax, sparsemax or entmax15", name);
}
