/*
 * Gradient checker for users' own layers and losses.
 *
 * A callback builds a scalar loss from the parameters of a hop_params store. The checker
 * compares the gradient from hop_backward with the central difference of the loss,
 * (f(x + eps) - f(x - eps)) / (2 eps). It checks every element of every trainable parameter,
 * or a random subset of at most max_per_param elements per parameter. An element fails when
 * |analytic - numeric| > atol + rtol * |numeric|, or when either value is NaN. Losses are
 * evaluated in float32 by the ops, so eps must not be much smaller than 1e-3.
 *
 *     static hop_node *loss(hop_graph *g, hop_params *params, void *user)
 *     {
 *         model *m = user;
 *         return hop_mse(g, my_layer_forward(g, params, m, m->x), m->target);
 *     }
 *     hop_gradcheck_options options = hop_gradcheck_defaults();
 *     hop_gradcheck_result result;
 *     if (hop_gradcheck(&params, loss, &m, &options, &result, &err) == HOP_OK && !result.passed)
 *         fprintf(stderr, "%s\n", result.message);
 */
#ifndef HOP_GRADCHECK_H
#define HOP_GRADCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hop/graph.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Builds the loss, a node with one element, on g from params; returns NULL with the message
 * in the graph's error on failure. It is called once with gradients on and twice per checked
 * element with gradients off, and must compute the same function every time.
 */
typedef hop_node *(*hop_gradcheck_loss_fn)(hop_graph *g, hop_params *params, void *user);

typedef struct hop_gradcheck_options {
    double eps;        /* central-difference step */
    double atol, rtol; /* failure threshold, see above */
    int max_per_param; /* elements checked per parameter, drawn at random; 0 checks all */
    uint64_t seed;     /* seeds the subset draw, and the graph RNG before every build */
    bool training;     /* graph training mode; dropout repeats because the RNG is reseeded */
} hop_gradcheck_options;

/* The outcome and the worst element, the one with the largest excess over the bound. */
typedef struct hop_gradcheck_result {
    bool passed;
    int param_id; /* parameter of the worst element, -1 when none was checked */
    char param_name[HOP_PARAM_NAME_MAX];
    size_t index; /* flat index of the worst element in its parameter */
    double analytic;
    double numeric;
    double excess;  /* |analytic - numeric| - (atol + rtol * |numeric|) of the worst element */
    size_t checked; /* elements compared */
    int failed;     /* elements over the bound */
    char message[HOP_ERROR_MESSAGE_MAX];
} hop_gradcheck_result;

/* eps 1e-3, atol 1e-3, rtol 1e-2, every element, seed 1, training off. */
hop_gradcheck_options hop_gradcheck_defaults(void);

/*
 * Checks the gradients of all trainable parameters and fills result. Returns HOP_OK when the
 * check ran, whether it passed or not (see result->passed); fails when the callback fails,
 * the loss has more than one element, no trainable parameter exists or the options are
 * invalid. The parameter values and gradients are restored before it returns.
 */
hop_status hop_gradcheck(hop_params *params, hop_gradcheck_loss_fn loss, void *user,
                         const hop_gradcheck_options *options, hop_gradcheck_result *result,
                         hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
