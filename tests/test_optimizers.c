/*
 * Optimisers, gradient clipping by value, learning-rate schedules and early stopping.
 * Expected updates are hand computations with torch.optim's rules, written out per test.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/optim.h"

static hop_params ps;
static int w_id, frozen_id;
static hop_error err;

/* A store with "w" (one element, 1.0) and a frozen "f" (one element, 5.0). */
static void setup(void)
{
    hop_params_init(&ps);
    cr_assert_eq(hop_params_add(&ps, "w", 1, (int[]){1}, HOP_INIT_ONES, 0, NULL, &w_id, &err),
                 HOP_OK);
    cr_assert_eq(hop_params_add(&ps, "f", 1, (int[]){1}, HOP_INIT_ONES, 0, NULL, &frozen_id, &err),
                 HOP_OK);
    ps.values[ps.info[frozen_id].offset] = 5.0f;
    ps.info[frozen_id].frozen = true;
}

static void teardown(void)
{
    hop_params_free(&ps);
}

TestSuite(optimizers, .init = setup, .fini = teardown);

static float *w_value(void)
{
    return ps.values + ps.info[w_id].offset;
}

static void set_grads(float g)
{
    ps.grads[ps.info[w_id].offset] = g;
    ps.grads[ps.info[frozen_id].offset] = g;
}

static void expect_frozen_unchanged(void)
{
    cr_expect_eq(ps.values[ps.info[frozen_id].offset], 5.0f, "frozen parameter changed");
}

typedef struct sgd_case {
    float momentum, weight_decay;
    bool nesterov;
    double expected[3];
} sgd_case;

/*
 * lr 0.1 and gradients 0.5, -1, 2 from x = 1. With momentum 0.9, b = 0.5, then
 * 0.9 * 0.5 - 1 = -0.55, then 0.9 * -0.55 + 2 = 1.505, so x = 0.95, 1.005, 0.8545.
 * Nesterov steps with g + 0.9 b = 0.95, -1.495, 3.3545: x = 0.905, 1.0545, 0.71905.
 * Weight decay 0.1 without momentum: g' = g + 0.1 x, so x = 1 - 0.1 * 0.6 = 0.94, then
 * g' = -1 + 0.094, x = 1.0306, then g' = 2.10306, x = 0.820294.
 */
static const sgd_case sgd_cases[] = {
    {0.0f, 0.0f, false, {0.95, 1.05, 0.85}},
    {0.9f, 0.0f, false, {0.95, 1.005, 0.8545}},
    {0.9f, 0.0f, true, {0.905, 1.0545, 0.71905}},
    {0.0f, 0.1f, false, {0.94, 1.0306, 0.820294}},
};

Test(optimizers, sgd_matches_hand_updates)
{
    const float grads[3] = {0.5f, -1.0f, 2.0f};
    for (size_t c = 0; c < sizeof sgd_cases / sizeof *sgd_cases; c++) {
        const sgd_case *sc = &sgd_cases[c];
        *w_value() = 1.0f;
        hop_sgd opt;
        cr_assert_eq(
            hop_sgd_init(&opt, &ps, 0.1f, sc->momentum, sc->weight_decay, sc->nesterov, &err),
            HOP_OK, "%s", err.message);
        for (int step = 0; step < 3; step++) {
            set_grads(grads[step]);
            cr_assert_eq(hop_sgd_step(&opt, &ps, &err), HOP_OK, "%s", err.message);
            cr_expect_float_eq(*w_value(), sc->expected[step], 1e-6, "case %zu step %d: %.7g", c,
                               step + 1, (double)*w_value());
        }
        hop_sgd_free(&opt);
        expect_frozen_unchanged();
    }
}

Test(optimizers, sgd_invalid_settings)
{
    hop_sgd opt;
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.0f, 0.0f, 0.0f, false, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "SGD: learning rate 0") != NULL, "%s", err.message);
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.1f, 1.0f, 0.0f, false, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "momentum 1") != NULL, "%s", err.message);
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.1f, 0.0f, 0.0f, true, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "Nesterov") != NULL, "%s", err.message);
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.1f, 0.0f, -1.0f, false, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "weight decay -1") != NULL, "%s", err.message);
}

/*
 * torch.optim.Adam, lr 0.1, weight_decay 0.1 (added to the gradient), betas (0.9, 0.999),
 * eps 1e-8, from x = 1 with gradients 0.5, 0.5, -0.25:
 * step 1: g' = 0.6, m = 0.06, v = 0.00036, m_hat = 0.6, v_hat = 0.36, x = 1 - 0.1 = 0.9;
 * step 2: g' = 0.59, m = 0.113, v = 0.00070774, x = 0.9 - 0.1 * (0.113 / 0.19) /
 * sqrt(0.00070774 / 0.001999) = 0.80004734; step 3 likewise gives 0.73697462.
 */
Test(optimizers, adam_matches_hand_updates)
{
    const float grads[3] = {0.5f, 0.5f, -0.25f};
    const double expected[3] = {0.9000000016666666, 0.8000473404883316, 0.7369746239449875};
    hop_adam opt;
    cr_assert_eq(hop_adam_init(&opt, &ps, 0.1f, 0.1f, &err), HOP_OK, "%s", err.message);
    for (int step = 0; step < 3; step++) {
        set_grads(grads[step]);
        cr_assert_eq(hop_adamw_step(&opt, &ps, &err), HOP_OK, "%s", err.message);
        cr_expect_float_eq(*w_value(), expected[step], 2e-6, "step %d: %.8g", step + 1,
                           (double)*w_value());
    }
    hop_adamw_free(&opt);
    expect_frozen_unchanged();
}

Test(optimizers, adam_and_adamw_differ_with_decay)
{
    hop_adam adam;
    hop_adamw adamw;
    cr_assert_eq(hop_adam_init(&adam, &ps, 0.1f, 0.5f, &err), HOP_OK);
    cr_assert_eq(hop_adamw_init(&adamw, &ps, 0.1f, 0.5f, &err), HOP_OK);
    cr_assert(adam.l2_decay);
    cr_assert(!adamw.l2_decay);

    /* AdamW: x (1 - lr wd) - lr sign(g) = 0.95 - 0.1. Adam: g' = 0.5 + 0.5, step lr = 0.9. */
    set_grads(0.5f);
    cr_assert_eq(hop_adamw_step(&adamw, &ps, &err), HOP_OK);
    cr_expect_float_eq(*w_value(), 0.85f, 1e-6);
    *w_value() = 1.0f;
    cr_assert_eq(hop_adamw_step(&adam, &ps, &err), HOP_OK);
    cr_expect_float_eq(*w_value(), 0.9f, 1e-6);
    hop_adamw_free(&adam);
    hop_adamw_free(&adamw);

    cr_assert_eq(hop_adam_init(&adam, &ps, -0.1f, 0.0f, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "Adam: learning rate -0.1") != NULL, "%s", err.message);
}

/*
 * torch.optim.RMSprop, lr 0.01, alpha 0.99, eps 1e-8, from x = 1 with gradients 0.5, -1, 0.25:
 * v = 0.0025, x = 1 - 0.01 * 0.5 / 0.05 = 0.9; v = 0.99 * 0.0025 + 0.01 = 0.012475,
 * x = 0.9 + 0.01 / sqrt(0.012475) = 0.98953231; then 0.96758496.
 * With weight decay 0.1 and momentum 0.5, b = 0.5 b + g' / (sqrt(v) + eps) and x -= lr b:
 * 0.9, 0.93361303, 0.92019472.
 */
Test(optimizers, rmsprop_matches_hand_updates)
{
    const float grads[3] = {0.5f, -1.0f, 0.25f};
    const double plain[3] = {0.900000019999996, 0.9895323081911337, 0.9675849574904029};
    const double momentum[3] = {0.900000016666664, 0.9336130276238758, 0.9201947245339638};
    for (int variant = 0; variant < 2; variant++) {
        *w_value() = 1.0f;
        hop_rmsprop opt;
        float wd = variant ? 0.1f : 0.0f, mu = variant ? 0.5f : 0.0f;
        cr_assert_eq(hop_rmsprop_init(&opt, &ps, 0.01f, wd, mu, &err), HOP_OK, "%s", err.message);
        cr_assert_float_eq(opt.alpha, 0.99f, 0);
        cr_assert_float_eq(opt.eps, 1e-8f, 0);
        const double *expected = variant ? momentum : plain;
        for (int step = 0; step < 3; step++) {
            set_grads(grads[step]);
            cr_assert_eq(hop_rmsprop_step(&opt, &ps, &err), HOP_OK, "%s", err.message);
            cr_expect_float_eq(*w_value(), expected[step], 2e-6, "variant %d step %d: %.8g",
                               variant, step + 1, (double)*w_value());
        }
        hop_rmsprop_free(&opt);
        expect_frozen_unchanged();
    }
}

Test(optimizers, step_rejects_grown_store)
{
    hop_sgd opt;
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.1f, 0.9f, 0.0f, false, &err), HOP_OK);
    int id;
    cr_assert_eq(hop_params_add(&ps, "late", 1, (int[]){3}, HOP_INIT_ZEROS, 0, NULL, &id, &err),
                 HOP_OK);
    cr_assert_eq(hop_sgd_step(&opt, &ps, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "store has 5 elements but the optimiser was made for 2") != NULL,
              "%s", err.message);
    hop_sgd_free(&opt);
}

Test(optimizers, clip_by_value)
{
    int id;
    cr_assert_eq(hop_params_add(&ps, "v", 1, (int[]){3}, HOP_INIT_ZEROS, 0, NULL, &id, &err),
                 HOP_OK);
    float *g = hop_params_grad(&ps, id);
    g[0] = 3.0f;
    g[1] = -4.0f;
    g[2] = 0.5f;
    ps.grads[ps.info[frozen_id].offset] = 7.0f;
    hop_clip_grad_value(&ps, 1.0f);
    cr_expect_eq(g[0], 1.0f);
    cr_expect_eq(g[1], -1.0f);
    cr_expect_eq(g[2], 0.5f);
    cr_expect_eq(ps.grads[ps.info[frozen_id].offset], 7.0f, "frozen gradient clipped");
}

Test(optimizers, clip_norm_skips_frozen)
{
    set_grads(10.0f);
    double norm = hop_clip_grad_norm(&ps, 1.0);
    cr_expect_float_eq(norm, 10.0, 1e-9);
    cr_expect_float_eq(ps.grads[ps.info[w_id].offset], 1.0f, 1e-6);
    cr_expect_eq(ps.grads[ps.info[frozen_id].offset], 10.0f);
}

/* Schedules */

Test(schedules, step_decay_epochs)
{
    /* StepLR(step_size 3, gamma 0.5): epochs 0-2 lr0, 3-5 lr0 / 2, 6 lr0 / 4. */
    cr_expect_float_eq(hop_lr_step(1.0f, 0.5f, 3, 0), 1.0f, 1e-7);
    cr_expect_float_eq(hop_lr_step(1.0f, 0.5f, 3, 2), 1.0f, 1e-7);
    cr_expect_float_eq(hop_lr_step(1.0f, 0.5f, 3, 3), 0.5f, 1e-7);
    cr_expect_float_eq(hop_lr_step(1.0f, 0.5f, 3, 5), 0.5f, 1e-7);
    cr_expect_float_eq(hop_lr_step(1.0f, 0.5f, 3, 6), 0.25f, 1e-7);
}

Test(schedules, cosine_warmup_edges)
{
    /* lr0 1, min 0.1, warm-up 2 of 10 epochs. */
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 0), 0.0f, 1e-7);
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 1), 0.5f, 1e-7);
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 2), 1.0f, 1e-7);
    /* t = 4 / 8: 0.1 + 0.9 * (1 + cos(pi / 2)) / 2 = 0.55. */
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 6), 0.55f, 1e-6);
    /* t = 7 / 8: 0.1 + 0.45 (1 + cos(7 pi / 8)) = 0.13425421. */
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 9), 0.13425421036992097, 1e-6);
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 10), 0.1f, 1e-7);
    cr_expect_float_eq(hop_lr_cosine_warmup(1.0f, 0.1f, 2, 10, 25), 0.1f, 1e-7);
    /* Without warm-up the first epoch has the full rate. */
    cr_expect_float_eq(hop_lr_cosine_warmup(0.5f, 0.0f, 0, 4, 0), 0.5f, 1e-7);
    cr_expect_float_eq(hop_lr_cosine_warmup(0.5f, 0.0f, 0, 4, 2), 0.25f, 1e-7);
}

Test(schedules, schedule_struct_dispatch)
{
    hop_lr_schedule s = {.kind = HOP_LR_STEP, .base_lr = 0.1f, .gamma = 0.1f, .step_size = 2};
    cr_assert_eq(hop_lr_schedule_check(&s, &err), HOP_OK, "%s", err.message);
    cr_expect_float_eq(hop_lr_schedule_at(&s, 4), 1e-3f, 1e-9);

    s = (hop_lr_schedule){.kind = HOP_LR_EXPONENTIAL, .base_lr = 1.0f, .gamma = 0.5f};
    cr_assert_eq(hop_lr_schedule_check(&s, &err), HOP_OK, "%s", err.message);
    cr_expect_float_eq(hop_lr_schedule_at(&s, 3), 0.125f, 1e-9);

    s = (hop_lr_schedule){.kind = HOP_LR_COSINE_WARMUP,
                          .base_lr = 1.0f,
                          .warmup_epochs = 2,
                          .total_epochs = 10,
                          .min_lr = 0.1f};
    cr_assert_eq(hop_lr_schedule_check(&s, &err), HOP_OK, "%s", err.message);
    cr_expect_float_eq(hop_lr_schedule_at(&s, 6), 0.55f, 1e-6);

    s = (hop_lr_schedule){.kind = HOP_LR_CONSTANT, .base_lr = 0.3f};
    cr_assert_eq(hop_lr_schedule_check(&s, &err), HOP_OK, "%s", err.message);
    cr_expect_float_eq(hop_lr_schedule_at(&s, 100), 0.3f, 0);
}

typedef struct bad_schedule {
    hop_lr_schedule schedule;
    const char *message;
} bad_schedule;

Test(schedules, invalid_schedules_rejected)
{
    static const bad_schedule cases[] = {
        {{.kind = HOP_LR_CONSTANT, .base_lr = 0.0f}, "base_lr 0 must be positive"},
        {{.kind = HOP_LR_STEP, .base_lr = 1, .gamma = 0.5f, .step_size = 0}, "step_size 0"},
        {{.kind = HOP_LR_STEP, .base_lr = 1, .gamma = 1.5f, .step_size = 1}, "gamma 1.5"},
        {{.kind = HOP_LR_EXPONENTIAL, .base_lr = 1, .gamma = 0.0f}, "gamma 0"},
        {{.kind = HOP_LR_COSINE_WARMUP, .base_lr = 1, .warmup_epochs = 5, .total_epochs = 5},
         "total_epochs 5 must be greater than warmup_epochs 5"},
        {{.kind = HOP_LR_COSINE_WARMUP, .base_lr = 1, .warmup_epochs = -1, .total_epochs = 5},
         "warmup_epochs -1"},
        {{.kind = HOP_LR_COSINE_WARMUP, .base_lr = 1, .total_epochs = 5, .min_lr = 2},
         "min_lr 2 must be in [0, 1]"},
        {{.kind = (hop_lr_kind)9, .base_lr = 1}, "unknown kind 9"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        hop_error_clear(&err);
        cr_expect_eq(hop_lr_schedule_check(&cases[c].schedule, &err), HOP_ERR_ARG, "case %zu", c);
        cr_expect(strstr(err.message, cases[c].message) != NULL, "case %zu: %s", c, err.message);
    }
}

/* Early stopping */

/* Feeds metrics from epoch 0 on and returns the first epoch that signals a stop, or -1. */
static int first_stop(hop_early_stop *es, const double *metrics, int n)
{
    for (int epoch = 0; epoch < n; epoch++)
        if (hop_early_stop_update(es, metrics[epoch], epoch))
            return epoch;
    return -1;
}

Test(early_stop, min_mode_patience_two)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MIN, 2, 0.0, &err), HOP_OK);
    const double losses[] = {1.0, 0.9, 0.95, 0.91, 0.85};
    cr_expect_eq(first_stop(&es, losses, 5), 3);
    cr_expect_float_eq(es.best, 0.9, 1e-12);
    cr_expect_eq(es.best_epoch, 1);
    cr_expect_eq(es.bad_epochs, 2);
    cr_expect(!es.improved);
}

Test(early_stop, improvement_resets_count)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MIN, 2, 0.0, &err), HOP_OK);
    const double losses[] = {1.0, 1.1, 0.5, 0.6, 0.5};
    /* Bad epochs: 1, reset at 0.5, 1, and 0.5 again does not beat 0.5 strictly: 2. */
    cr_expect_eq(first_stop(&es, losses, 5), 4);
    cr_expect_eq(es.best_epoch, 2);
}

Test(early_stop, patience_zero_stops_at_first_plateau)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MAX, 0, 0.0, &err), HOP_OK);
    const double accuracy[] = {0.5, 0.6, 0.6, 0.7};
    cr_expect_eq(first_stop(&es, accuracy, 4), 2);
    cr_expect_float_eq(es.best, 0.6, 1e-12);
}

Test(early_stop, max_mode_min_delta)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MAX, 2, 0.01, &err), HOP_OK);
    cr_expect(!hop_early_stop_update(&es, 0.5, 0));
    cr_expect(es.improved);
    /* 0.505 is within min_delta of 0.5, so it does not count as an improvement. */
    cr_expect(!hop_early_stop_update(&es, 0.505, 1));
    cr_expect(!es.improved);
    cr_expect_eq(es.bad_epochs, 1);
    cr_expect(!hop_early_stop_update(&es, 0.52, 2));
    cr_expect(es.improved);
    cr_expect(!hop_early_stop_update(&es, 0.521, 3));
    cr_expect(hop_early_stop_update(&es, 0.525, 4));
    cr_expect_eq(es.best_epoch, 2);
}

Test(early_stop, nan_never_improves)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MIN, 2, 0.0, &err), HOP_OK);
    cr_expect(!hop_early_stop_update(&es, NAN, 0));
    cr_expect(!es.improved);
    cr_expect(isnan(es.best));
    /* A finite metric after NaN is the first best. */
    cr_expect(!hop_early_stop_update(&es, 2.0, 1));
    cr_expect(es.improved);
    cr_expect(!hop_early_stop_update(&es, NAN, 2));
    cr_expect(hop_early_stop_update(&es, NAN, 3));
    cr_expect_float_eq(es.best, 2.0, 0);
}

Test(early_stop, invalid_settings)
{
    hop_early_stop es;
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MIN, -1, 0.0, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "patience -1") != NULL, "%s", err.message);
    cr_assert_eq(hop_early_stop_init(&es, HOP_EARLY_STOP_MIN, 1, -0.5, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "min_delta -0.5") != NULL, "%s", err.message);
    cr_assert_eq(hop_early_stop_init(&es, (hop_early_stop_mode)5, 1, 0.0, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "unknown mode 5") != NULL, "%s", err.message);
}
