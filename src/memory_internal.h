/* Update kernels of the associative memories, shared by the files src/memory_*.c. */
#ifndef HOP_MEMORY_INTERNAL_H
#define HOP_MEMORY_INTERNAL_H

#include "hop/memory.h"

/*
 * A kernel updates rows states (rows <= HOP_MEMORY_TILE_ROWS, dim entries each) in place
 * until each row converges or has taken max_steps updates. It writes the updates of each row
 * into steps and whether it converged into converged. energy, when not NULL, receives
 * rows x (max_steps + 1) values: row r's energy before its first update and after each update,
 * at r * (max_steps + 1) + step; values after a row stops are left as they are.
 */
typedef hop_status (*hop_memory_kernel)(const hop_memory *m, float *states, int rows,
                                        double *energy, int *steps, bool *converged, hop_rng *rng,
                                        hop_error *err);

hop_status hop_memory_classical_run(const hop_memory *m, float *states, int rows, double *energy,
                                    int *steps, bool *converged, hop_rng *rng, hop_error *err);
hop_status hop_memory_dense_run(const hop_memory *m, float *states, int rows, double *energy,
                                int *steps, bool *converged, hop_rng *rng, hop_error *err);
hop_status hop_memory_continuous_run(const hop_memory *m, float *states, int rows, double *energy,
                                     int *steps, bool *converged, hop_rng *rng, hop_error *err);

double hop_memory_classical_energy(const hop_memory *m, const float *state);
double hop_memory_dense_energy(const hop_memory *m, const float *state);
double hop_memory_continuous_energy(const hop_memory *m, const float *state);

/* The binary update rule: the sign of field, keeping current on a tie (+1 when current is 0). */
static inline float hop_memory_sign(double field, float current)
{
    if (field > 0.0)
        return 1.0f;
    if (field < 0.0)
        return -1.0f;
    return current < 0.0f ? -1.0f : 1.0f;
}

/* Writes a random permutation of 0..n-1 into order. */
void hop_memory_random_order(hop_rng *rng, int n, int *order);

#endif
