/*
 * Tensor views.
 *
 * A hop_tensor is a float32 array of 1 to 4 dimensions in row-major order: the last
 * axis is contiguous and shape[ndim - 1] is its length. The view does not own its data.
 */
#ifndef HOP_TENSOR_H
#define HOP_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_MAX_DIMS 4

typedef struct hop_tensor {
    int ndim;
    int shape[HOP_MAX_DIMS];
    float *data;
} hop_tensor;

/* Returns the number of elements, the product of the shape. */
size_t hop_tensor_numel(const hop_tensor *t);

/* Writes a shape such as "(2, 5, 8)" into buf and returns buf. */
char *hop_shape_format(int ndim, const int *shape, char *buf, size_t size);

/* Returns 1 when both shapes have the same rank and extents, else 0. */
int hop_shape_equal(int ndim_a, const int *shape_a, int ndim_b, const int *shape_b);

#ifdef __cplusplus
}
#endif

#endif
