/* Broadcast masks of the softmax-family ops: nonzero entries are masked out. */
#include "internal.h"

hop_mask_layout hop_mask_layout_of(const hop_node *n)
{
    hop_mask_layout m = {0};
    int pad = 4 - n->value.ndim;
    for (int i = 0; i < 4; i++)
        m.shape[i] = i < pad ? 1 : n->value.shape[i - pad];
    if (n->n_inputs < 2)
        return m;

    const hop_node *mask = n->inputs[1];
    int mask_pad = 4 - mask->value.ndim;
    size_t stride = 1;
    m.data = mask->value.data;
    for (int i = 3; i >= mask_pad; i--) {
        int extent = mask->value.shape[i - mask_pad];
        m.strides[i] = extent == 1 ? 0 : stride;
        stride *= (size_t)extent;
    }
    return m;
}

/* The mask entries of one output row, NULL when there is no mask. */
const float *hop_mask_row(const hop_mask_layout *m, size_t row)
{
    if (!m->data)
        return NULL;
    size_t i2 = row % (size_t)m->shape[2];
    size_t i1 = row / (size_t)m->shape[2] % (size_t)m->shape[1];
    size_t i0 = row / ((size_t)m->shape[2] * (size_t)m->shape[1]);
    return m->data + i0 * m->strides[0] + i1 * m->strides[1] + i2 * m->strides[2];
}
