#include <criterion/criterion.h>
#include <math.h>

#include "hop/optim.h"

static void make_store(hop_params *ps, int *id)
{
    hop_params_init(ps);
    hop_error err;
    cr_assert_eq(hop_params_add(ps, "w", 1, (int[]){2}, HOP_INIT_ZEROS, 0, NULL, id, &err), HOP_OK);
    ps->values[0] = 1.0f;
    ps->values[1] = -2.0f;
}

/* Reference values computed by hand with torch.optim.AdamW's update rule. */
Test(adamw, two_steps_match_hand_computation)
{
    hop_params ps;
    int id;
    make_store(&ps, &id);
    hop_adamw opt;
    hop_error err;
    cr_assert_eq(hop_adamw_init(&opt, &ps, 0.1f, 0.01f, &err), HOP_OK);

    /* Step 1: m_hat = g and v_hat = g^2, so the step is lr * sign(g) after the decay. */
    ps.grads[0] = 0.5f;
    ps.grads[1] = -4.0f;
    cr_assert_eq(hop_adamw_step(&opt, &ps, &err), HOP_OK);
    cr_assert_float_eq(ps.values[0], 1.0f * (1 - 0.001f) - 0.1f, 1e-6);
    cr_assert_float_eq(ps.values[1], -2.0f * (1 - 0.001f) + 0.1f, 1e-6);

    /* Step 2 with gradient 1 on the first element:
     * m = 0.9*0.05 + 0.1*1 = 0.145 (raw m after step 1 is 0.05), m_hat = 0.145 / 0.19,
     * v = 0.999*0.00025 + 0.001 = 0.00124975, v_hat = v / (1 - 0.999^2). */
    float x0 = ps.values[0];
    ps.grads[0] = 1.0f;
    ps.grads[1] = 0.0f;
    cr_assert_eq(hop_adamw_step(&opt, &ps, &err), HOP_OK);
    double m_hat = 0.145 / 0.19;
    double v_hat = 0.00124975 / (1 - 0.999 * 0.999);
    double expected = x0 * (1 - 0.001) - 0.1 * m_hat / (sqrt(v_hat) + 1e-8);
    cr_assert_float_eq(ps.values[0], expected, 1e-6);

    hop_adamw_free(&opt);
    hop_params_free(&ps);
}

Test(adamw, frozen_parameter_unchanged)
{
    hop_params ps;
    int id;
    make_store(&ps, &id);
    ps.info[id].frozen = true;
    hop_adamw opt;
    hop_error err;
    cr_assert_eq(hop_adamw_init(&opt, &ps, 0.1f, 0.01f, &err), HOP_OK);
    ps.grads[0] = 1.0f;
    cr_assert_eq(hop_adamw_step(&opt, &ps, &err), HOP_OK);
    cr_assert_float_eq(ps.values[0], 1.0f, 0);
    hop_adamw_free(&opt);
    hop_params_free(&ps);
}

/* Three parameters of 7, 5 and 9 elements, the middle one frozen, with varied gradients. */
static void make_three(hop_params *ps)
{
    hop_params_init(ps);
    hop_error err;
    const int sizes[3] = {7, 5, 9};
    int id;
    for (int i = 0; i < 3; i++) {
        char name[8] = {(char)('a' + i), 0};
        cr_assert_eq(hop_params_add(ps, name, 1, &sizes[i], HOP_INIT_ZEROS, 0, NULL, &id, &err),
                     HOP_OK);
    }
    ps->info[1].frozen = true;
    for (size_t i = 0; i < ps->total; i++) {
        ps->values[i] = 0.1f * (float)i - 1.0f;
        ps->grads[i] = sinf((float)i);
    }
}

Test(adamw, ranges_equal_one_step)
{
    hop_params whole, split;
    make_three(&whole);
    make_three(&split);
    hop_adamw a, b;
    hop_error err;
    cr_assert_eq(hop_adamw_init(&a, &whole, 0.05f, 0.01f, &err), HOP_OK);
    cr_assert_eq(hop_adamw_init(&b, &split, 0.05f, 0.01f, &err), HOP_OK);

    /* Range ends inside parameters, on their edges and in the frozen one. */
    const size_t cuts[] = {0, 3, 7, 10, 15, 21};
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(hop_adamw_step(&a, &whole, &err), HOP_OK);
        cr_assert_eq(hop_adamw_begin_step(&b, &split, &err), HOP_OK);
        for (int r = 0; r + 1 < 6; r++)
            hop_adamw_update_range(&b, &split, cuts[r], cuts[r + 1]);
    }
    cr_assert_eq(a.step, b.step);
    for (size_t i = 0; i < whole.total; i++)
        cr_assert_eq(split.values[i], whole.values[i], "element %zu: %.9g against %.9g", i,
                     (double)split.values[i], (double)whole.values[i]);
    for (size_t i = 7; i < 12; i++)
        cr_assert_eq(split.values[i], 0.1f * (float)i - 1.0f, "frozen element %zu changed", i);
    hop_adamw_free(&a);
    hop_adamw_free(&b);
    hop_params_free(&whole);
    hop_params_free(&split);
}

Test(adamw, rejects_bad_learning_rate)
{
    hop_params ps;
    int id;
    make_store(&ps, &id);
    hop_adamw opt;
    hop_error err;
    cr_assert_eq(hop_adamw_init(&opt, &ps, -1.0f, 0.0f, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "-1") != NULL, "message: %s", err.message);
    hop_params_free(&ps);
}

Test(clip, global_norm_scales_to_limit)
{
    hop_params ps;
    int id;
    make_store(&ps, &id);
    ps.grads[0] = 3.0f;
    ps.grads[1] = 4.0f;
    double norm = hop_clip_grad_norm(&ps, 1.0);
    cr_assert_float_eq(norm, 5.0, 1e-9);
    cr_assert_float_eq(ps.grads[0], 0.6f, 1e-6);
    cr_assert_float_eq(ps.grads[1], 0.8f, 1e-6);
    cr_assert_float_eq(hop_grad_norm(&ps), 1.0, 1e-6);

    /* Below the limit nothing changes. */
    cr_assert_float_eq(hop_clip_grad_norm(&ps, 10.0), 1.0, 1e-6);
    cr_assert_float_eq(ps.grads[0], 0.6f, 1e-6);
    hop_params_free(&ps);
}

Test(schedule, exponential_decay)
{
    cr_assert_float_eq(hop_lr_exponential(1e-3f, 0.5f, 0), 1e-3f, 1e-9);
    cr_assert_float_eq(hop_lr_exponential(1e-3f, 0.5f, 3), 1.25e-4f, 1e-9);
}
