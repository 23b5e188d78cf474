/*
 * Modern-Hopfield retrieval kernels, outside the autodiff graph.
 *
 * With stored patterns Y (N, D) and queries X (B, D), row-major, one retrieval step is
 * X <- softmax(beta X Y^T) Y, the softmax taken over the N stored patterns. A run takes
 * `steps` steps. The backward pass turns the gradient of the final state into gradients
 * with respect to the initial queries and to Y.
 *
 * Two evaluation orders give the same numbers (to rounding):
 * - plain (chunk 0): the scores of a step are formed whole.
 * - chunked (chunk C > 0): Y is processed C rows at a time with a running (online)
 *   softmax, so memory grows with B * C instead of B * N.
 * The forward pass keeps the per-query log-sum-exp of every step. The backward pass
 * recomputes each chunk's scores from Y unless the scores of every step (steps * N * B
 * floats) fit within keep_limit bytes. In that case the forward pass keeps them, which
 * saves the backward pass one (B, D) x (D, N) product per step.
 * With threads > 1 the stored patterns are split into contiguous row ranges, one per
 * worker of the pool, and the partial softmax sums of the ranges are merged. The BLAS
 * should then run one thread per call (hop_blas_set_threads(1)).
 */
#ifndef HOP_RETRIEVAL_H
#define HOP_RETRIEVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "hop/base.h"
#include "hop/threads.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_retriever_config {
    long stored;       /* N: stored patterns, at least 1 */
    int width;         /* D: features per pattern, at least 1 */
    int queries;       /* B: query rows, at least 1 */
    int steps;         /* retrieval steps, at least 1 */
    float beta;        /* inverse temperature, finite */
    long chunk;        /* stored patterns per chunk; 0 forms the whole score matrix (plain) */
    size_t keep_limit; /* bytes the kept scores may take; 0 never keeps them */
} hop_retriever_config;

typedef struct hop_retriever hop_retriever;

/*
 * Checks config and allocates the workspace of one retrieval of that size. pool may be
 * NULL for one thread; it must outlive the retrieval.
 */
hop_status hop_retriever_new(hop_retriever **out, const hop_retriever_config *config,
                             hop_pool *pool, hop_error *err);
void hop_retriever_free(hop_retriever *r);

/* Bytes of workspace the retrieval holds, excluding the caller's arrays. */
size_t hop_retriever_workspace_bytes(const hop_retriever *r);

/* Whether the forward pass keeps its scores for the backward pass (see keep_limit). */
bool hop_retriever_keeps_scores(const hop_retriever *r);

/*
 * Runs the steps from queries (B, D) over stored (N, D) and writes the final state (B, D)
 * to out. Keeps every intermediate state and log-sum-exp for hop_retriever_backward().
 */
void hop_retriever_forward(hop_retriever *r, const float *stored, const float *queries, float *out);

/*
 * From grad_out (B, D), the gradient of a loss with respect to the last forward's output,
 * writes the gradient with respect to the queries (B, D) to grad_queries and with respect
 * to the stored patterns (N, D) to grad_stored. stored must be the array of that forward.
 */
void hop_retriever_backward(hop_retriever *r, const float *stored, const float *grad_out,
                            float *grad_queries, float *grad_stored);

#ifdef __cplusplus
}
#endif

#endif
