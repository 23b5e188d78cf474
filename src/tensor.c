#include "hop/tensor.h"

#include <stdio.h>

size_t hop_tensor_numel(const hop_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

char *hop_shape_format(int ndim, const int *shape, char *buf, size_t size)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %d" : "%d", shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
    return buf;
}

int hop_shape_equal(int ndim_a, const int *shape_a, int ndim_b, const int *shape_b)
{
    if (ndim_a != ndim_b)
        return 0;
    for (int i = 0; i < ndim_a; i++)
        if (shape_a[i] != shape_b[i])
            return 0;
    return 1;
}
