/* softmax, sparsemax and 1.5-entmax: hand values, masks, gradients and the trainable beta. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/memory.h"
#include "support/gradcheck.h"

static void separate(hop_separation kind, const float *z, const float *mask, int n, float *p)
{
    float work[64];
    hop_separation_row(kind, z, mask, 1, n, work, p);
}

Test(separation, sparsemax_hand_values)
{
    float p[3];
    separate(HOP_SEPARATION_SPARSEMAX, (float[]){1.0f, 0.5f, -1.0f}, NULL, 3, p);
    cr_assert_float_eq(p[0], 0.75f, 1e-6);
    cr_assert_float_eq(p[1], 0.25f, 1e-6);
    cr_assert_eq(p[2], 0.0f);

    separate(HOP_SEPARATION_SPARSEMAX, (float[]){0.0f, 0.0f, 0.0f}, NULL, 3, p);
    for (int j = 0; j < 3; j++)
        cr_assert_float_eq(p[j], 1.0f / 3.0f, 1e-6);

    separate(HOP_SEPARATION_SPARSEMAX, (float[]){3.0f, 0.5f, -1.0f}, NULL, 3, p);
    cr_assert_eq(p[0], 1.0f, "a gap above 1 gives a one-hot row");
    cr_assert_eq(p[1], 0.0f);
}

Test(separation, entmax15_hand_values)
{
    /* tau solves (0.5 - tau)^2 + (0.25 - tau)^2 = 1 on the support of the halved scores. */
    float p[4];
    separate(HOP_SEPARATION_ENTMAX15, (float[]){1.0f, 0.5f, -1.0f}, NULL, 3, p);
    cr_assert_float_eq(p[0], 0.6739926f, 1e-6);
    cr_assert_float_eq(p[1], 0.3260074f, 1e-6);
    cr_assert_eq(p[2], 0.0f);

    separate(HOP_SEPARATION_ENTMAX15, (float[]){2.0f, 2.0f, 2.0f, 2.0f}, NULL, 4, p);
    for (int j = 0; j < 4; j++)
        cr_assert_float_eq(p[j], 0.25f, 1e-6);
}

Test(separation, rows_sum_to_one)
{
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        for (int trial = 0; trial < 50; trial++) {
            float z[17], p[17];
            for (int j = 0; j < 17; j++)
                z[j] = 3.0f * hop_rng_normal(&rng);
            separate((hop_separation)kind, z, NULL, 17, p);
            double sum = 0.0;
            for (int j = 0; j < 17; j++) {
                cr_assert(p[j] >= 0.0f, "%s entry %d is %g", hop_separation_name(kind), j, p[j]);
                sum += p[j];
            }
            cr_assert_float_eq(sum, 1.0, 1e-5, "%s sums to %g", hop_separation_name(kind), sum);
        }
    }
}

Test(separation, large_scores_are_finite)
{
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        float p[3];
        separate((hop_separation)kind, (float[]){151.29f * 1000.0f, 0.0f, -5.0f}, NULL, 3, p);
        cr_assert_eq(p[0], 1.0f, "%s", hop_separation_name(kind));
        cr_assert_eq(p[1], 0.0f);
        cr_assert_eq(p[2], 0.0f);
    }
}

Test(separation, masked_entries_are_zero)
{
    float p[3], mask[3] = {1.0f, 0.0f, 0.0f};
    separate(HOP_SEPARATION_SPARSEMAX, (float[]){1.0f, 0.5f, -1.0f}, mask, 3, p);
    cr_assert_eq(p[0], 0.0f);
    cr_assert_float_eq(p[1], 1.0f, 1e-6);
    cr_assert_eq(p[2], 0.0f);

    float all[3] = {1.0f, 1.0f, 1.0f};
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        separate((hop_separation)kind, (float[]){1.0f, 2.0f, 3.0f}, all, 3, p);
        for (int j = 0; j < 3; j++)
            cr_assert_eq(p[j], 0.0f, "%s fully masked entry %d", hop_separation_name(kind), j);
    }
}

typedef struct sparse_arg {
    hop_separation kind;
    bool masked;
} sparse_arg;

static hop_node *build_separation(hop_graph *g, hop_node **inputs, const void *arg)
{
    const sparse_arg *a = arg;
    return hop_separate(g, a->kind, inputs[0], a->masked ? inputs[1] : NULL);
}

/* Scores with gaps of at least 0.15, so a finite-difference step never changes the support. */
static float scores_2x6[12] = {1.2f, 0.3f,  -0.8f, 0.95f, 0.1f, -2.0f,
                               0.0f, 0.45f, 0.2f,  -0.5f, 1.0f, 0.7f};

Test(separation, gradients_match_differences)
{
    float mask[12] = {0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1}; /* row 2 fully masked */
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        for (int masked = 0; masked < 2; masked++) {
            gradcheck_input in[2] = {
                {2, {2, 6}, scores_2x6, true},
                {2, {2, 6}, mask, false},
            };
            sparse_arg arg = {(hop_separation)kind, masked};
            gradcheck_options options = gradcheck_defaults();
            gradcheck_result result;
            bool ok = gradcheck_run(in, masked ? 2 : 1, build_separation, &arg, &options, &result);
            cr_assert(ok, "%s masked=%d: %s", hop_separation_name(kind), masked, result.message);
        }
    }
}

Test(separation, fully_masked_row_has_zero_gradient)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    float z[3] = {1.0f, 2.0f, 3.0f}, mask[3] = {1.0f, 1.0f, 1.0f};
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        hop_node *a = hop_input_grad(g, 1, (int[]){3}, z);
        hop_node *m = hop_input(g, 1, (int[]){3}, mask);
        hop_node *p = hop_separate(g, (hop_separation)kind, a, m);
        hop_node *loss = hop_mean_all(g, hop_mul(g, p, a));
        cr_assert_not_null(loss, "%s", ctx.error.message);
        cr_assert_eq(hop_backward(g, loss), HOP_OK);
        for (int j = 0; j < 3; j++) {
            cr_assert_eq(p->value.data[j], 0.0f);
            cr_assert_eq(a->grad[j], 0.0f, "%s gradient %d is %g", hop_separation_name(kind), j,
                         a->grad[j]);
        }
        hop_graph_reset(g);
    }
    hop_graph_free(g);
}

/* The trainable-beta recipe for the Hopfield layers: scores * exp(log_beta) per head. */
static hop_node *build_scaled(hop_graph *g, hop_node **inputs, const void *arg)
{
    const sparse_arg *a = arg;
    hop_node *beta = hop_reshape(g, hop_exp(g, inputs[1]), 4, (int[]){1, 2, 1, 1});
    return hop_separate(g, a->kind, hop_mul(g, inputs[0], beta), NULL);
}

Test(separation, per_head_beta_gradient)
{
    float scores[2 * 2 * 1 * 6];
    memcpy(scores, scores_2x6, sizeof scores_2x6);
    memcpy(scores + 12, scores_2x6, sizeof scores_2x6);
    float log_beta[2] = {0.3f, -0.2f};
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        gradcheck_input in[2] = {
            {4, {2, 2, 1, 6}, scores, true},
            {1, {2}, log_beta, true},
        };
        sparse_arg arg = {(hop_separation)kind, false};
        gradcheck_options options = gradcheck_defaults();
        gradcheck_result result;
        cr_assert(gradcheck_run(in, 2, build_scaled, &arg, &options, &result), "%s: %s",
                  hop_separation_name(kind), result.message);
    }
}

Test(separation, softmax_kind_matches_softmax_op)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    hop_node *a = hop_input(g, 2, (int[]){2, 6}, scores_2x6);
    hop_node *p = hop_separate(g, HOP_SEPARATION_SOFTMAX, a, NULL);
    hop_node *q = hop_softmax(g, a, NULL);
    cr_assert_not_null(p);
    cr_assert_not_null(q);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(p->value.data[i], q->value.data[i]);

    float work[6], row[6];
    hop_separation_row(HOP_SEPARATION_SOFTMAX, scores_2x6, NULL, 0, 6, work, row);
    for (int j = 0; j < 6; j++)
        cr_assert_float_eq(row[j], q->value.data[j], 1e-7);
    hop_graph_free(g);
}

Test(separation, bad_mask_shape_is_rejected)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    float mask[4] = {0};
    hop_node *a = hop_input(g, 2, (int[]){2, 6}, scores_2x6);
    hop_node *m = hop_input(g, 1, (int[]){4}, mask);
    cr_assert_null(hop_sparsemax(g, a, m));
    cr_assert_eq(ctx.error.status, HOP_ERR_SHAPE);
    cr_assert(strstr(ctx.error.message, "sparsemax") != NULL, "%s", ctx.error.message);
    cr_assert(strstr(ctx.error.message, "(4)") != NULL, "%s", ctx.error.message);
    hop_graph_free(g);

    hop_ctx_init(&ctx, 1);
    g = hop_graph_new(&ctx);
    a = hop_input(g, 2, (int[]){2, 6}, scores_2x6);
    cr_assert_null(hop_separate(g, (hop_separation)7, a, NULL));
    cr_assert_eq(ctx.error.status, HOP_ERR_ARG);
    cr_assert(strstr(ctx.error.message, "unknown separation 7") != NULL, "%s", ctx.error.message);
    hop_graph_free(g);
}

Test(separation, names_parse_back)
{
    hop_error err;
    for (int kind = 0; kind < HOP_SEPARATION_COUNT; kind++) {
        hop_separation parsed;
        cr_assert_eq(hop_separation_parse(hop_separation_name(kind), &parsed, &err), HOP_OK);
        cr_assert_eq(parsed, kind);
    }
    hop_separation parsed;
    cr_assert_eq(hop_separation_parse("argmax", &parsed, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "'argmax'") != NULL, "%s", err.message);
}
