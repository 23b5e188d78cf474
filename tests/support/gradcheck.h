/*
 * Finite-difference gradient check of graph ops, for the tests.
 *
 * The checked scalar is loss = sum(output * W) with fixed random weights W in [-1, 1].
 * The analytic gradient comes from hop_backward, the numeric one from central differences
 * of the loss, evaluated in float32 by the ops and accumulated in double. An element fails
 * when |analytic - numeric| > atol + rtol * |numeric|, or when either value is NaN.
 */
#ifndef HOP_TEST_GRADCHECK_H
#define HOP_TEST_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "hop/graph.h"

/* One input of the checked op. The check perturbs data in place and restores it. */
typedef struct gradcheck_input {
    int ndim;
    int shape[HOP_MAX_DIMS];
    float *data;
    bool differentiable; /* hop_input_grad and checked when set, plain hop_input otherwise */
} gradcheck_input;

/* Builds the op's output from one node per input, in order, or returns NULL on failure. */
typedef hop_node *(*gradcheck_build_fn)(hop_graph *g, hop_node **inputs, const void *arg);

typedef struct gradcheck_options {
    double eps;        /* central-difference step */
    double atol, rtol; /* failure threshold, see above */
    uint64_t seed;     /* seeds W, and the graph RNG before every build so dropout repeats */
    bool training;     /* graph training mode, which turns dropout on */
} gradcheck_options;

/* The outcome, with the worst element: the largest |analytic - numeric| above the bound. */
typedef struct gradcheck_result {
    bool passed;
    int input;    /* index of the worst element's input, -1 when none was checked */
    size_t index; /* flat index of the worst element in its input */
    double analytic;
    double numeric;
    double excess;  /* |analytic - numeric| - (atol + rtol * |numeric|) of the worst */
    size_t checked; /* elements compared */
    char message[HOP_ERROR_MESSAGE_MAX + 256];
} gradcheck_result;

/* eps 1e-3, atol 2e-3, rtol 2e-2, seed 1, training on. */
gradcheck_options gradcheck_defaults(void);

/*
 * Checks the gradient of every element of every differentiable input. Output elements that
 * are infinite (masked log_softmax entries) do not depend on the inputs and are left out of
 * the numeric loss. Returns result->passed. On a failed build the message names the error.
 */
bool gradcheck_run(const gradcheck_input *inputs, int n_inputs, gradcheck_build_fn build,
                   const void *arg, const gradcheck_options *options, gradcheck_result *result);

#endif
