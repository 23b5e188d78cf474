/* Batched matrix product over cblas_sgemm. */
#include <cblas.h>
#include <string.h>

#include "internal.h"

/* Matrix geometry of one matmul node, derived from its inputs and flags. */
typedef struct mm_shape {
    int m, k, n;    /* op(A) is (m, k), op(B) is (k, n) */
    int batch_ndim; /* leading axes of the output */
    int batch[HOP_MAX_DIMS];
    size_t batch_count;
    int b_shared; /* B has no batch extent above 1: one matrix for every batch */
} mm_shape;

static int rows(const hop_node *t)
{
    return t->value.shape[t->value.ndim - 2];
}

static int cols(const hop_node *t)
{
    return t->value.shape[t->value.ndim - 1];
}

static void mm_geometry(const hop_node *n, mm_shape *s)
{
    const hop_node *a = n->inputs[0], *b = n->inputs[1];
    int ta = n->iargs[0], tb = n->iargs[1];

    s->m = ta ? cols(a) : rows(a);
    s->k = ta ? rows(a) : cols(a);
    s->n = tb ? rows(b) : cols(b);
    s->batch_ndim = n->value.ndim - 2;
    s->batch_count = hop_extent_product(n->value.shape, 0, s->batch_ndim);
    memcpy(s->batch, n->value.shape, (size_t)s->batch_ndim * sizeof(int));
    s->b_shared = hop_extent_product(b->value.shape, 0, b->value.ndim - 2) == 1;
}

/* Offset, in matrices, of an operand's batch for output batch index i (broadcasting). */
static size_t batch_offset(const hop_node *t, const mm_shape *s, size_t i)
{
    int nd = t->value.ndim - 2;
    size_t offset = 0, stride = 1;
    for (int d = s->batch_ndim - 1, e = nd - 1; d >= 0; d--, e--) {
        int index = (int)(i % (size_t)s->batch[d]);
        i /= (size_t)s->batch[d];
        if (e >= 0) {
            if (t->value.shape[e] > 1)
                offset += (size_t)index * stride;
            stride *= (size_t)t->value.shape[e];
        }
    }
    return offset;
}

static hop_status matmul_infer(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *b = n->inputs[1];
    char sa[64], sb[64];
    if (a->value.ndim < 2 || b->value.ndim < 2)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "operands need 2 or more axes, got %s and %s",
                           hop_node_shape(a, sa, sizeof sa), hop_node_shape(b, sb, sizeof sb));

    int ta = n->iargs[0], tb = n->iargs[1];
    int ka = ta ? rows(a) : cols(a), kb = tb ? cols(b) : rows(b);
    if (ka != kb)
        return hop_op_fail(g, n, HOP_ERR_SHAPE, "inner extents differ: %s%s times %s%s (%d vs %d)",
                           hop_node_shape(a, sa, sizeof sa), ta ? "^T" : "",
                           hop_node_shape(b, sb, sizeof sb), tb ? "^T" : "", ka, kb);

    int nd = a->value.ndim > b->value.ndim ? a->value.ndim : b->value.ndim;
    for (int d = nd - 3; d >= 0; d--) {
        int ia = d - (nd - a->value.ndim), ib = d - (nd - b->value.ndim);
        int ea = ia >= 0 ? a->value.shape[ia] : 1, eb = ib >= 0 ? b->value.shape[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1)
            return hop_op_fail(g, n, HOP_ERR_SHAPE, "batch axes of %s and %s do not broadcast",
                               hop_node_shape(a, sa, sizeof sa), hop_node_shape(b, sb, sizeof sb));
        n->value.shape[d] = ea > eb ? ea : eb;
    }
    n->value.ndim = nd;
    n->value.shape[nd - 2] = ta ? cols(a) : rows(a);
    n->value.shape[nd - 1] = tb ? rows(b) : cols(b);
    return HOP_OK;
}

static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a, lda, b, ldb, beta, c, n);
}

/*
 * A: (..., m, k), or (..., k, m) transposed; B: (..., k, n), or (..., n, k) transposed;
 * C: (..., m, n). A shared B with an untransposed A runs as one sgemm over all rows.
 */
static hop_status matmul_forward(hop_graph *g, hop_node *n)
{
    const hop_node *a = n->inputs[0], *b = n->inputs[1];
    int ta = n->iargs[0], tb = n->iargs[1];
    mm_shape s;
    mm_geometry(n, &s);
    int lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
    size_t a_batches = hop_extent_product(a->value.shape, 0, a->value.ndim - 2);

    if (s.b_shared && !ta && a_batches == s.batch_count) {
        gemm(0, tb, (int)(s.batch_count * (size_t)s.m), s.n, s.k, a->value.data, lda, b->value.data,
             ldb, 0.0f, n->value.data);
        return HOP_OK;
    }
    for (size_t i = 0; i < s.batch_count; i++) {
        const float *pa = a->value.data + batch_offset(a, &s, i) * (size_t)s.m * (size_t)s.k;
        const float *pb = b->value.data + batch_offset(b, &s, i) * (size_t)s.k * (size_t)s.n;
        float *pc = n->value.data + i * (size_t)s.m * (size_t)s.n;
        gemm(ta, tb, s.m, s.n, s.k, pa, lda, pb, ldb, 0.0f, pc);
    }
    return HOP_OK;
}

/* dA = dC op(B)^T (stored transposed when ta), accumulated. */
static void grad_a(int ta, int tb, const mm_shape *s, const float *dc, const float *b, float *da)
{
    int ldb = tb ? s->k : s->n;
    if (!ta)
        gemm(0, !tb, s->m, s->k, s->n, dc, s->n, b, ldb, 1.0f, da);
    else
        gemm(tb, 1, s->k, s->m, s->n, b, ldb, dc, s->n, 1.0f, da);
}

/* dB = op(A)^T dC (stored transposed when tb), accumulated. */
static void grad_b(int ta, int tb, const mm_shape *s, const float *dc, const float *a, float *db)
{
    int lda = ta ? s->m : s->k;
    if (!tb)
        gemm(!ta, 0, s->k, s->n, s->m, a, lda, dc, s->n, 1.0f, db);
    else
        gemm(1, ta, s->n, s->k, s->m, dc, s->n, a, lda, 1.0f, db);
}

static void matmul_backward(hop_graph *g, hop_node *n)
{
    hop_node *a = n->inputs[0], *b = n->inputs[1];
    int ta = n->iargs[0], tb = n->iargs[1];
    mm_shape s;
    mm_geometry(n, &s);
    size_t a_batches = hop_extent_product(a->value.shape, 0, a->value.ndim - 2);

    if (s.b_shared && !ta && a_batches == s.batch_count) {
        mm_shape flat = s;
        flat.m = (int)(s.batch_count * (size_t)s.m);
        if (a->grad)
            grad_a(0, tb, &flat, n->grad, b->value.data, a->grad);
        if (b->grad)
            grad_b(0, tb, &flat, n->grad, a->value.data, b->grad);
        return;
    }
    size_t a_size = (size_t)s.m * (size_t)s.k, b_size = (size_t)s.k * (size_t)s.n;
    for (size_t i = 0; i < s.batch_count; i++) {
        size_t oa = batch_offset(a, &s, i) * a_size, ob = batch_offset(b, &s, i) * b_size;
        const float *dc = n->grad + i * (size_t)s.m * (size_t)s.n;
        if (a->grad)
            grad_a(ta, tb, &s, dc, b->value.data + ob, a->grad + oa);
        if (b->grad)
            grad_b(ta, tb, &s, dc, a->value.data + oa, b->grad + ob);
    }
}

const hop_op_def hop_op_matmul_def = {"matmul", matmul_infer, matmul_forward, matmul_backward, 0};

hop_node *hop_matmul(hop_graph *g, hop_node *a, hop_node *b, int transpose_a, int transpose_b)
{
    hop_node *inputs[2] = {a, b};
    int flags[2] = {transpose_a != 0, transpose_b != 0};
    return hop_node_build(g, HOP_OP_MATMUL, inputs, 2, flags, 2, NULL, 0);
}
