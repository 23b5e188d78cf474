/*
 * Dense associative memories on binary states: F(x) = x^n (polynomial) and F(x) = exp(beta x)
 * (exponential). Unit i takes the sign of sum_mu F(a_mu + x_mu,i) - F(a_mu - x_mu,i), where
 * a_mu = x_mu . s - x_mu,i s_i is the overlap without unit i, which lowers the energy
 * E(s) = -sum_mu F(x_mu . s).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "memory_internal.h"

static double power_int(double x, int n)
{
    double result = 1.0;
    for (int i = 0; i < n; i++)
        result *= x;
    return result;
}

/*
 * The exponential network's energy is reported as -lse(beta, X s) =
 * -(1 / beta) log sum_mu exp(beta x_mu . s), a monotone transform of -sum_mu exp(beta x_mu . s)
 * that stays finite for large d; both decrease together.
 */
static double energy_from_overlaps(const hop_memory *m, const float *h)
{
    int n = m->n_patterns;
    if (m->config.kind == HOP_MEMORY_POLYNOMIAL) {
        double sum = 0.0;
        for (int mu = 0; mu < n; mu++)
            sum += power_int(h[mu], m->config.degree);
        return -sum;
    }
    double beta = m->config.beta, max = -INFINITY, sum = 0.0;
    for (int mu = 0; mu < n; mu++)
        max = fmax(max, beta * h[mu]);
    for (int mu = 0; mu < n; mu++)
        sum += exp(beta * h[mu] - max);
    return -(max + log(sum)) / beta;
}

double hop_memory_dense_energy(const hop_memory *m, const float *state)
{
    float *h = malloc((size_t)m->n_patterns * sizeof *h);
    if (!h)
        return NAN;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n_patterns, m->dim, 1.0f, m->patterns, m->dim,
                state, 1, 0.0f, h, 1);
    double energy = energy_from_overlaps(m, h);
    free(h);
    return energy;
}

/* The energy drop sign for unit i: positive favours s_i = +1. xi is column i of X. */
static double unit_field(const hop_memory *m, const float *h, const float *xi, float si)
{
    int n = m->n_patterns;
    if (m->config.kind == HOP_MEMORY_POLYNOMIAL) {
        double sum = 0.0;
        for (int mu = 0; mu < n; mu++) {
            double a = (double)h[mu] - (double)xi[mu] * si;
            sum +=
                power_int(a + xi[mu], m->config.degree) - power_int(a - xi[mu], m->config.degree);
        }
        return sum;
    }

    /* exp(beta (a + x)) - exp(beta (a - x)) = 2 exp(beta a) sinh(beta x); shift by the max. */
    double beta = m->config.beta, max = -INFINITY, sum = 0.0;
    for (int mu = 0; mu < n; mu++)
        max = fmax(max, beta * ((double)h[mu] - (double)xi[mu] * si));
    for (int mu = 0; mu < n; mu++) {
        double a = beta * ((double)h[mu] - (double)xi[mu] * si);
        sum += exp(a - max) * sinh(beta * xi[mu]);
    }
    return sum;
}

/* One asynchronous sweep; h contains X s and is kept up to date. Returns the changed units. */
static int sweep_async(const hop_memory *m, float *s, float *h, int *order, hop_rng *rng)
{
    int d = m->dim, n = m->n_patterns, changed = 0;
    hop_memory_random_order(rng, d, order);
    for (int k = 0; k < d; k++) {
        int i = order[k];
        const float *xi = m->patterns_t + (size_t)i * n;
        float next = hop_memory_sign(unit_field(m, h, xi, s[i]), s[i]);
        if (next == s[i])
            continue;
        for (int mu = 0; mu < n; mu++)
            h[mu] += xi[mu] * (next - s[i]);
        s[i] = next;
        changed++;
    }
    return changed;
}

/* All units of one row from the same overlaps h; next receives the new state. */
static int update_sync(const hop_memory *m, float *s, const float *h, float *next)
{
    int d = m->dim, n = m->n_patterns, changed = 0;
    for (int i = 0; i < d; i++)
        next[i] = hop_memory_sign(unit_field(m, h, m->patterns_t + (size_t)i * n, s[i]), s[i]);
    for (int i = 0; i < d; i++) {
        changed += next[i] != s[i];
        s[i] = next[i];
    }
    return changed;
}

typedef struct dense_scratch {
    float *overlaps; /* rows x N */
    float *next;     /* d */
    int *order;      /* d */
} dense_scratch;

static void scratch_free(dense_scratch *w)
{
    free(w->overlaps);
    free(w->next);
    free(w->order);
}

/* overlaps = states X^T for the tile. */
static void compute_overlaps(const hop_memory *m, const float *states, int rows, float *overlaps)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, m->n_patterns, m->dim, 1.0f, states,
                m->dim, m->patterns, m->dim, 0.0f, overlaps, m->n_patterns);
}

hop_status hop_memory_dense_run(const hop_memory *m, float *states, int rows, double *energy,
                                int *steps, bool *converged, hop_rng *rng, hop_error *err)
{
    int d = m->dim, n = m->n_patterns, stride = m->config.max_steps + 1;
    bool sync = m->config.update == HOP_UPDATE_SYNC;
    dense_scratch w = {
        .overlaps = malloc((size_t)rows * n * sizeof(float)),
        .next = malloc((size_t)d * sizeof(float)),
        .order = malloc((size_t)d * sizeof(int)),
    };
    if (!w.overlaps || !w.next || !w.order) {
        scratch_free(&w);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d queries and %d patterns",
                             rows, n);
    }

    bool active[HOP_MEMORY_TILE_ROWS];
    compute_overlaps(m, states, rows, w.overlaps);
    for (int r = 0; r < rows; r++) {
        steps[r] = 0;
        converged[r] = false;
        active[r] = true;
        if (energy)
            energy[(size_t)r * stride] = energy_from_overlaps(m, w.overlaps + (size_t)r * n);
    }

    int left = rows;
    for (int step = 1; step <= m->config.max_steps && left > 0; step++) {
        if (sync && step > 1)
            compute_overlaps(m, states, rows, w.overlaps);
        for (int r = 0; r < rows; r++) {
            if (!active[r])
                continue;
            float *s = states + (size_t)r * d, *h = w.overlaps + (size_t)r * n;
            int changed = sync ? update_sync(m, s, h, w.next) : sweep_async(m, s, h, w.order, rng);
            steps[r] = step;
            if (energy)
                energy[(size_t)r * stride + step] =
                    sync ? hop_memory_dense_energy(m, s) : energy_from_overlaps(m, h);
            if (changed == 0) {
                converged[r] = true;
                active[r] = false;
                left--;
            }
        }
    }
    scratch_free(&w);
    return HOP_OK;
}
