/* The classical binary Hopfield network: Hebbian weights and sign updates. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

double hop_memory_classical_energy(const hop_memory *m, const float *state)
{
    int d = m->dim;
    double energy = 0.0;
    for (int i = 0; i < d; i++) {
        double field = 0.0;
        for (int j = 0; j < d; j++)
            field += (double)m->weights[(size_t)i * d + j] * state[j];
        energy -= 0.5 * state[i] * field;
    }
    return energy;
}

/* One asynchronous sweep over s in a random order; returns the number of changed units. */
static int sweep_async(const hop_memory *m, float *s, int *order, hop_rng *rng)
{
    int d = m->dim, changed = 0;
    hop_memory_random_order(rng, d, order);
    for (int k = 0; k < d; k++) {
        int i = order[k];
        float field = cblas_sdot(d, m->weights + (size_t)i * d, 1, s, 1);
        float next = hop_memory_sign(field, s[i]);
        changed += next != s[i];
        s[i] = next;
    }
    return changed;
}

/* fields = states W for all rows, then each active row takes the signs. */
static void step_sync(const hop_memory *m, float *states, int rows, const bool *active,
                      float *fields, int *changed)
{
    int d = m->dim;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, d, 1.0f, states, d, m->weights,
                d, 0.0f, fields, d);
    for (int r = 0; r < rows; r++) {
        changed[r] = 0;
        if (!active[r])
            continue;
        float *s = states + (size_t)r * d;
        const float *h = fields + (size_t)r * d;
        for (int i = 0; i < d; i++) {
            float next = hop_memory_sign(h[i], s[i]);
            changed[r] += next != s[i];
            s[i] = next;
        }
    }
}

hop_status hop_memory_classical_run(const hop_memory *m, float *states, int rows, double *energy,
                                    int *steps, bool *converged, hop_rng *rng, hop_error *err)
{
    int d = m->dim, stride = m->config.max_steps + 1;
    bool sync = m->config.update == HOP_UPDATE_SYNC;
    float *fields = sync ? malloc((size_t)rows * d * sizeof *fields) : NULL;
    int *order = sync ? NULL : malloc((size_t)d * sizeof *order);
    int changed[HOP_MEMORY_TILE_ROWS];
    bool active[HOP_MEMORY_TILE_ROWS];
    if ((sync && !fields) || (!sync && !order)) {
        free(fields);
        free(order);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d queries", rows);
    }

    for (int r = 0; r < rows; r++) {
        steps[r] = 0;
        converged[r] = false;
        active[r] = true;
        if (energy)
            energy[(size_t)r * stride] = hop_memory_classical_energy(m, states + (size_t)r * d);
    }
    int left = rows;
    for (int step = 1; step <= m->config.max_steps && left > 0; step++) {
        if (sync)
            step_sync(m, states, rows, active, fields, changed);
        for (int r = 0; r < rows; r++) {
            if (!active[r])
                continue;
            float *s = states + (size_t)r * d;
            if (!sync)
                changed[r] = sweep_async(m, s, order, rng);
            steps[r] = step;
            if (energy)
                energy[(size_t)r * stride + step] = hop_memory_classical_energy(m, s);
            if (changed[r] == 0) {
                converged[r] = true;
                active[r] = false;
                left--;
            }
        }
    }
    free(fields);
    free(order);
    return HOP_OK;
}
