#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/params.h"
#include "internal.h"

#define ARENA_ALIGN     16
#define ARENA_MIN_BLOCK ((size_t)1 << 20)

typedef struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    unsigned char *data;
} arena_block;

struct hop_graph {
    hop_ctx *ctx;
    arena_block *blocks; /* newest first */
    size_t bytes_used;
    hop_node **nodes;
    int n_nodes;
    int capacity;
    bool training;
    bool grad_enabled;
};

void hop_ctx_init(hop_ctx *ctx, uint64_t seed)
{
    memset(ctx, 0, sizeof *ctx);
    hop_rng_seed(&ctx->rng, seed);
    ctx->threads = 1;
}

/* Records an error unless the graph already has one, so the first failure is kept. */
static hop_status graph_error(hop_graph *g, hop_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static hop_status graph_error(hop_graph *g, hop_status status, const char *format, ...)
{
    if (g->ctx->error.status != HOP_OK)
        return status;
    va_list args;
    va_start(args, format);
    hop_error_setv(&g->ctx->error, status, format, args);
    va_end(args);
    return status;
}

static arena_block *block_new(size_t size)
{
    arena_block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->data = malloc(size);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

hop_graph *hop_graph_new(hop_ctx *ctx)
{
    hop_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ctx = ctx;
    g->training = true;
    g->grad_enabled = true;
    return g;
}

static void blocks_free(arena_block *b)
{
    while (b) {
        arena_block *next = b->next;
        free(b->data);
        free(b);
        b = next;
    }
}

void hop_graph_free(hop_graph *g)
{
    if (!g)
        return;
    blocks_free(g->blocks);
    free(g->nodes);
    free(g);
}

void hop_graph_reset(hop_graph *g)
{
    /* Several blocks mean the last step outgrew the arena: merge them into one block
     * of the combined size, so steps of the same shape reuse one block from now on. */
    if (g->blocks && g->blocks->next) {
        size_t total = 0;
        for (arena_block *b = g->blocks; b; b = b->next)
            total += b->size;
        blocks_free(g->blocks);
        g->blocks = block_new(total);
    } else if (g->blocks) {
        g->blocks->used = 0;
    }
    g->bytes_used = 0;
    g->n_nodes = 0;
    hop_error_clear(&g->ctx->error);
}

hop_ctx *hop_graph_ctx(hop_graph *g)
{
    return g->ctx;
}

void hop_graph_set_training(hop_graph *g, bool training)
{
    g->training = training;
}

bool hop_graph_training(const hop_graph *g)
{
    return g->training;
}

void hop_graph_set_grad_enabled(hop_graph *g, bool enabled)
{
    g->grad_enabled = enabled;
}

int hop_graph_node_count(const hop_graph *g)
{
    return g->n_nodes;
}

size_t hop_graph_bytes_used(const hop_graph *g)
{
    return g->bytes_used;
}

size_t hop_graph_bytes_reserved(const hop_graph *g)
{
    size_t total = 0;
    for (const arena_block *b = g->blocks; b; b = b->next)
        total += b->size;
    return total;
}

void *hop_graph_alloc(hop_graph *g, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    arena_block *b = g->blocks;
    if (!b || b->size - b->used < size) {
        size_t block_size = ARENA_MIN_BLOCK;
        if (b && b->size > block_size)
            block_size = b->size;
        while (block_size < size)
            block_size *= 2;
        arena_block *fresh = block_new(block_size);
        if (!fresh) {
            graph_error(g, HOP_ERR_NOMEM,
                        "graph arena: out of memory allocating %zu bytes (%zu in use)", size,
                        g->bytes_used);
            return NULL;
        }
        fresh->next = g->blocks;
        g->blocks = fresh;
        b = fresh;
    }
    void *p = b->data + b->used;
    b->used += size;
    g->bytes_used += size;
    memset(p, 0, size);
    return p;
}

/* Records a node for backward; with gradients off nothing is recorded. */
static hop_status append(hop_graph *g, hop_node *n)
{
    if (!g->grad_enabled)
        return HOP_OK;
    if (g->n_nodes == g->capacity) {
        int capacity = g->capacity ? g->capacity * 2 : 256;
        hop_node **nodes = realloc(g->nodes, (size_t)capacity * sizeof *nodes);
        if (!nodes)
            return graph_error(g, HOP_ERR_NOMEM, "out of memory growing the graph");
        g->nodes = nodes;
        g->capacity = capacity;
    }
    g->nodes[g->n_nodes++] = n;
    return HOP_OK;
}

const char *hop_node_shape(const hop_node *n, char *buf, size_t size)
{
    return hop_shape_format(n->value.ndim, n->value.shape, buf, size);
}

hop_status hop_op_fail(hop_graph *g, const hop_node *n, hop_status status, const char *format, ...)
{
    char message[HOP_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return graph_error(g, status, "%s: %s", hop_op_table[n->op]->name, message);
}

static hop_node *leaf_new(hop_graph *g, int ndim, const int *shape)
{
    if (ndim < 1 || ndim > HOP_MAX_DIMS) {
        graph_error(g, HOP_ERR_SHAPE, "leaf: %d dimensions, 1 to %d allowed", ndim, HOP_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            graph_error(g, HOP_ERR_SHAPE, "leaf: extent %d on axis %d", shape[i], i);
            return NULL;
        }
    }
    hop_node *n = hop_graph_alloc(g, sizeof *n);
    if (!n)
        return NULL;
    n->op = HOP_OP_LEAF;
    n->value.ndim = ndim;
    memcpy(n->value.shape, shape, (size_t)ndim * sizeof *shape);
    return n;
}

hop_node *hop_input(hop_graph *g, int ndim, const int *shape, float *data)
{
    hop_node *n = leaf_new(g, ndim, shape);
    if (!n)
        return NULL;
    n->value.data = data;
    return append(g, n) == HOP_OK ? n : NULL;
}

hop_node *hop_input_grad(hop_graph *g, int ndim, const int *shape, float *data)
{
    hop_node *n = hop_input(g, ndim, shape, data);
    if (n && g->grad_enabled)
        n->flags |= HOP_NODE_REQUIRES_GRAD;
    return n;
}

hop_node *hop_constant(hop_graph *g, int ndim, const int *shape, const float *data)
{
    hop_node *n = leaf_new(g, ndim, shape);
    if (!n)
        return NULL;
    size_t bytes = hop_node_numel(n) * sizeof(float);
    n->value.data = hop_graph_alloc(g, bytes);
    if (!n->value.data)
        return NULL;
    if (data)
        memcpy(n->value.data, data, bytes);
    return append(g, n) == HOP_OK ? n : NULL;
}

hop_node *hop_param(hop_graph *g, hop_params *params, int id)
{
    if (id < 0 || id >= params->count) {
        graph_error(g, HOP_ERR_ARG, "param: no parameter with id %d (store has %d)", id,
                    params->count);
        return NULL;
    }
    const hop_param_info *p = &params->info[id];
    hop_node *n = leaf_new(g, p->ndim, p->shape);
    if (!n)
        return NULL;
    n->flags |= HOP_NODE_PARAM;
    n->value.data = params->values + p->offset;
    if (!p->frozen && g->grad_enabled) {
        n->flags |= HOP_NODE_REQUIRES_GRAD;
        n->grad = params->grads + p->offset;
    }
    return append(g, n) == HOP_OK ? n : NULL;
}

hop_node *hop_node_build(hop_graph *g, hop_op_id op, hop_node **inputs, int n_inputs,
                         const int *iargs, int n_iargs, const float *fargs, int n_fargs)
{
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i])
            return NULL;

    hop_node *n = hop_graph_alloc(g, sizeof *n);
    hop_node **copy = hop_graph_alloc(g, (size_t)(n_inputs ? n_inputs : 1) * sizeof *copy);
    if (!n || !copy)
        return NULL;
    n->op = op;
    n->n_inputs = n_inputs;
    n->inputs = copy;
    memcpy(copy, inputs, (size_t)n_inputs * sizeof *copy);
    if (n_iargs)
        memcpy(n->iargs, iargs, (size_t)n_iargs * sizeof *iargs);
    if (n_fargs)
        memcpy(n->fargs, fargs, (size_t)n_fargs * sizeof *fargs);

    const hop_op_def *def = hop_op_table[op];
    if (def->infer(g, n) != HOP_OK)
        return NULL;
    if (!def->is_view) {
        n->value.data = hop_graph_alloc(g, hop_node_numel(n) * sizeof(float));
        if (!n->value.data)
            return NULL;
    }
    for (int i = 0; i < n_inputs; i++)
        if (g->grad_enabled && (inputs[i]->flags & HOP_NODE_REQUIRES_GRAD))
            n->flags |= HOP_NODE_REQUIRES_GRAD;

    if (def->forward(g, n) != HOP_OK)
        return NULL;
    return append(g, n) == HOP_OK ? n : NULL;
}

hop_status hop_backward(hop_graph *g, hop_node *loss)
{
    if (!loss)
        return graph_error(g, HOP_ERR_ARG, "backward: loss node is NULL");
    if (hop_node_numel(loss) != 1) {
        char shape[64];
        return graph_error(g, HOP_ERR_SHAPE, "backward: loss must have one element, has shape %s",
                           hop_node_shape(loss, shape, sizeof shape));
    }
    if (!(loss->flags & HOP_NODE_REQUIRES_GRAD))
        return HOP_OK;

    int last = g->n_nodes - 1;
    while (last >= 0 && g->nodes[last] != loss)
        last--;
    if (last < 0)
        return graph_error(g, HOP_ERR_ARG, "backward: loss is not in this graph");

    for (int i = 0; i <= last; i++) {
        hop_node *n = g->nodes[i];
        if (!(n->flags & HOP_NODE_REQUIRES_GRAD) || (n->flags & HOP_NODE_PARAM))
            continue;
        /* Intermediate gradients start from zero on every pass; parameter and input
         * gradients accumulate across passes, as in PyTorch. */
        if (n->grad && n->op != HOP_OP_LEAF)
            memset(n->grad, 0, hop_node_numel(n) * sizeof(float));
        else if (!n->grad)
            n->grad = hop_graph_alloc(g, hop_node_numel(n) * sizeof(float));
        if (!n->grad)
            return g->ctx->error.status;
    }
    loss->grad[0] += 1.0f;

    for (int i = last; i >= 0; i--) {
        hop_node *n = g->nodes[i];
        if (n->op != HOP_OP_LEAF && n->grad)
            hop_op_table[n->op]->backward(g, n);
    }
    return HOP_OK;
}

const char *hop_op_name(hop_op_id op)
{
    if ((int)op < 0 || op >= HOP_OP_COUNT)
        return "unknown";
    return hop_op_table[op]->name;
}
