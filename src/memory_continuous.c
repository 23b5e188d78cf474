/*
 * The continuous modern Hopfield network: x <- X^T sep(beta X x), with the energy
 * E(x) = -(1 / beta) Psi*(beta X x) + x^T x / 2 + H_max / beta + M^2 / 2, where Psi* is the
 * convex conjugate of the separation's negative entropy and H_max its maximum. For softmax this
 * is -lse(beta, X x) + x^T x / 2 + log(N) / beta + M^2 / 2. As beta -> 0 the energy tends to
 * -mean(X x) + x^T x / 2 + M^2 / 2, which is used at beta = 0.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

/* scores: beta X x (N), p and work: N floats of scratch. */
static double energy_with_scratch(const hop_memory *m, const float *state, float *scores, float *p,
                                  float *work)
{
    int n = m->n_patterns, d = m->dim;
    double beta = m->config.beta, norm_sq = 0.0,
           half_m_sq = 0.5 * (double)m->max_norm * m->max_norm;
    for (int j = 0; j < d; j++)
        norm_sq += (double)state[j] * state[j];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, m->patterns, d, state, 1, 0.0f, scores, 1);

    if (beta == 0.0) {
        double mean = 0.0;
        for (int i = 0; i < n; i++)
            mean += scores[i];
        return -mean / n + 0.5 * norm_sq + half_m_sq;
    }
    for (int i = 0; i < n; i++)
        scores[i] *= (float)beta;
    hop_separation kind = m->config.separation;
    hop_separation_row(kind, scores, NULL, 0, n, work, p);
    double conjugate = hop_separation_conjugate(kind, scores, p, n);
    return (-conjugate + hop_separation_entropy_max(kind, n)) / beta + 0.5 * norm_sq + half_m_sq;
}

double hop_memory_continuous_energy(const hop_memory *m, const float *state)
{
    float *scratch = malloc(3 * (size_t)m->n_patterns * sizeof *scratch);
    if (!scratch)
        return NAN;
    size_t n = (size_t)m->n_patterns;
    double energy = energy_with_scratch(m, state, scratch, scratch + n, scratch + 2 * n);
    free(scratch);
    return energy;
}

typedef struct continuous_scratch {
    float *scores; /* rows x N: beta X x, then the separation weights */
    float *next;   /* rows x d */
    float *work;   /* 3 N for the sort and the energy */
} continuous_scratch;

static void scratch_free(continuous_scratch *w)
{
    free(w->scores);
    free(w->next);
    free(w->work);
}

/* One update of every row: next = sep(beta states X^T) X. Rows that are not active get zeros. */
static void update_tile(const hop_memory *m, const float *states, int rows, const bool *active,
                        continuous_scratch *w)
{
    int n = m->n_patterns, d = m->dim;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, d, m->config.beta, states, d,
                m->patterns, d, 0.0f, w->scores, n);
    for (int r = 0; r < rows; r++) {
        float *row = w->scores + (size_t)r * n;
        if (!active[r]) {
            memset(row, 0, (size_t)n * sizeof *row);
            continue;
        }
        /* The separation reads the scores before writing p, so it works through a copy. */
        memcpy(w->work + n, row, (size_t)n * sizeof *row);
        hop_separation_row(m->config.separation, w->work + n, NULL, 0, n, w->work, row);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, n, 1.0f, w->scores, n,
                m->patterns, d, 0.0f, w->next, d);
}

/* Copies row r of next into s and returns the largest absolute change. */
static float accept_row(float *s, const float *next, int d)
{
    float change = 0.0f;
    for (int j = 0; j < d; j++) {
        change = fmaxf(change, fabsf(next[j] - s[j]));
        s[j] = next[j];
    }
    return change;
}

hop_status hop_memory_continuous_run(const hop_memory *m, float *states, int rows, double *energy,
                                     int *steps, bool *converged, hop_rng *rng, hop_error *err)
{
    int n = m->n_patterns, d = m->dim, stride = m->config.max_steps + 1;
    continuous_scratch w = {
        .scores = malloc((size_t)rows * n * sizeof(float)),
        .next = malloc((size_t)rows * d * sizeof(float)),
        .work = malloc(3 * (size_t)n * sizeof(float)),
    };
    if (!w.scores || !w.next || !w.work) {
        scratch_free(&w);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d queries and %d patterns",
                             rows, n);
    }

    bool active[HOP_MEMORY_TILE_ROWS];
    for (int r = 0; r < rows; r++) {
        steps[r] = 0;
        converged[r] = false;
        active[r] = true;
    }
    for (int r = 0; energy && r < rows; r++)
        energy[(size_t)r * stride] =
            energy_with_scratch(m, states + (size_t)r * d, w.work, w.work + n, w.work + 2 * n);

    int left = rows;
    for (int step = 1; step <= m->config.max_steps && left > 0; step++) {
        update_tile(m, states, rows, active, &w);
        for (int r = 0; r < rows; r++) {
            if (!active[r])
                continue;
            float *s = states + (size_t)r * d;
            float change = accept_row(s, w.next + (size_t)r * d, d);
            steps[r] = step;
            if (energy)
                energy[(size_t)r * stride + step] =
                    energy_with_scratch(m, s, w.work, w.work + n, w.work + 2 * n);
            if (m->config.tolerance >= 0.0f && change <= m->config.tolerance) {
                converged[r] = true;
                active[r] = false;
                left--;
            }
        }
    }
    scratch_free(&w);
    return HOP_OK;
}
