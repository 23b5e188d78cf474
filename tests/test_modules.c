/*
 * Parameter stores and modules: initialiser statistics and determinism, freezing, the
 * parameter walk and count, the Sequential container, train and eval mode, inference
 * without an autodiff graph and the public gradient checker.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/gradcheck.h"
#include "hop/module.h"
#include "hop/optim.h"

static hop_params ps;
static hop_rng rng;
static hop_error err;
static hop_ctx ctx;
static hop_graph *g;

static void setup(void)
{
    hop_params_init(&ps);
    hop_rng_seed(&rng, 2024);
    hop_ctx_init(&ctx, 5);
    g = hop_graph_new(&ctx);
}

static void teardown(void)
{
    hop_graph_free(g);
    hop_params_free(&ps);
}

TestSuite(init, .init = setup, .fini = teardown);
TestSuite(params, .init = setup, .fini = teardown);
TestSuite(sequential, .init = setup, .fini = teardown);
TestSuite(inference, .init = setup, .fini = teardown);
TestSuite(public_gradcheck, .init = setup, .fini = teardown);

/* Initialisers */

typedef struct init_case {
    hop_init init;
    float arg;
    int ndim;
    int shape[4];
    double std;   /* theoretical standard deviation */
    double bound; /* uniform bound, 0 for normal */
} init_case;

/*
 * (256, 512): fan_in 512, fan_out 256. Xavier: std gain sqrt(2 / 768) (uniform bound
 * sqrt(3) std). Kaiming with slope a: std sqrt(2 / (1 + a^2)) / sqrt(512). LeCun: 1 / sqrt(512).
 * (64, 32, 3, 3): fan_in 32 * 9 = 288, Kaiming std sqrt(2 / 288). (128, 64, 3, 3): fan_in 576,
 * fan_out 1152, Xavier std sqrt(2 / 1728).
 */
static const init_case init_cases[] = {
    {HOP_INIT_XAVIER_UNIFORM, 0.0f, 2, {256, 512}, 0.05103103630798288, 0.08838834764831845},
    {HOP_INIT_XAVIER_UNIFORM, 2.0f, 2, {256, 512}, 0.10206207261596575, 0.1767766952966369},
    {HOP_INIT_XAVIER_NORMAL, 0.0f, 2, {256, 512}, 0.05103103630798288, 0},
    {HOP_INIT_KAIMING_UNIFORM, 0.0f, 2, {256, 512}, 0.0625, 0.10825317547305482},
    {HOP_INIT_KAIMING_NORMAL, 0.0f, 2, {256, 512}, 0.0625, 0},
    {HOP_INIT_KAIMING_NORMAL, 1.0f, 2, {256, 512}, 0.04419417382415922, 0},
    {HOP_INIT_LECUN_NORMAL, 0.0f, 2, {256, 512}, 0.04419417382415922, 0},
    {HOP_INIT_KAIMING_NORMAL, 0.0f, 4, {64, 32, 3, 3}, 0.08333333333333333, 0},
    {HOP_INIT_XAVIER_NORMAL, 0.0f, 4, {128, 64, 3, 3}, 0.034020690871988585, 0},
    {HOP_INIT_NORMAL, 0.02f, 2, {256, 512}, 0.02, 0},
    {HOP_INIT_UNIFORM, 0.3f, 2, {256, 512}, 0.17320508075688773, 0.3},
};

Test(init, statistics_match_theory)
{
    for (size_t c = 0; c < sizeof init_cases / sizeof *init_cases; c++) {
        const init_case *ic = &init_cases[c];
        char name[32];
        snprintf(name, sizeof name, "w%zu", c);
        int id;
        cr_assert_eq(
            hop_params_add(&ps, name, ic->ndim, ic->shape, ic->init, ic->arg, &rng, &id, &err),
            HOP_OK, "%s", err.message);
        hop_tensor t = hop_params_value(&ps, id);
        size_t n = hop_tensor_numel(&t);
        double sum = 0.0, sum2 = 0.0, max_abs = 0.0;
        for (size_t i = 0; i < n; i++) {
            sum += t.data[i];
            sum2 += (double)t.data[i] * t.data[i];
            max_abs = fmax(max_abs, fabs(t.data[i]));
        }
        double mean = sum / n, std = sqrt(sum2 / n - mean * mean);
        cr_expect_lt(fabs(mean), 4.0 * ic->std / sqrt((double)n), "case %zu: mean %g", c, mean);
        cr_expect_lt(fabs(std / ic->std - 1.0), 0.02, "case %zu: std %g, expected %g", c, std,
                     ic->std);
        if (ic->bound > 0)
            cr_expect_leq(max_abs, ic->bound * (1 + 1e-6), "case %zu: |x| %g over bound %g", c,
                          max_abs, ic->bound);
    }
}

Test(init, same_seed_same_values)
{
    hop_params other;
    hop_params_init(&other);
    hop_rng a, b;
    hop_rng_seed(&a, 99);
    hop_rng_seed(&b, 99);
    int id_a, id_b, id_c;
    cr_assert_eq(
        hop_params_add(&ps, "w", 2, (int[]){8, 16}, HOP_INIT_KAIMING_UNIFORM, 0, &a, &id_a, &err),
        HOP_OK);
    cr_assert_eq(hop_params_add(&other, "w", 2, (int[]){8, 16}, HOP_INIT_KAIMING_UNIFORM, 0, &b,
                                &id_b, &err),
                 HOP_OK);
    cr_assert_eq(memcmp(ps.values, other.values, 128 * sizeof(float)), 0);

    /* The generator moved on, so the next draw differs. */
    cr_assert_eq(hop_params_add(&other, "w2", 2, (int[]){8, 16}, HOP_INIT_KAIMING_UNIFORM, 0, &b,
                                &id_c, &err),
                 HOP_OK);
    cr_assert_neq(memcmp(ps.values, other.values + 128, 128 * sizeof(float)), 0);
    hop_params_free(&other);
}

Test(init, fan_init_needs_two_axes)
{
    int id;
    cr_assert_eq(
        hop_params_add(&ps, "b", 1, (int[]){4}, HOP_INIT_XAVIER_NORMAL, 0, &rng, &id, &err),
        HOP_ERR_SHAPE);
    cr_assert(strstr(err.message, "'b'") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "at least 2 axes") != NULL, "%s", err.message);

    cr_assert_eq(
        hop_params_add(&ps, "w", 2, (int[]){4, 4}, HOP_INIT_LECUN_NORMAL, 0, NULL, &id, &err),
        HOP_ERR_ARG);
    cr_assert(strstr(err.message, "random generator") != NULL, "%s", err.message);
    cr_assert_eq(ps.count, 0);
}

/* Freezing, walk and count */

static void add_model_params(void)
{
    int id;
    const char *names[] = {"encoder.0.weight", "encoder.0.bias", "encoder2.weight", "head.weight"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(
            hop_params_add(&ps, names[i], 2, (int[]){2, 3}, HOP_INIT_NORMAL, 0.1f, &rng, &id, &err),
            HOP_OK);
}

Test(params, freeze_by_name_and_prefix)
{
    add_model_params();
    cr_assert_eq(hop_params_set_frozen(&ps, "head.weight", true, &err), HOP_OK);
    cr_expect(ps.info[3].frozen);

    int matched = 0;
    cr_assert_eq(hop_params_set_frozen_prefix(&ps, "encoder", true, &matched, &err), HOP_OK);
    cr_expect_eq(matched, 2);
    cr_expect(ps.info[0].frozen);
    cr_expect(ps.info[1].frozen);
    cr_expect(!ps.info[2].frozen, "encoder2 is not inside the encoder module");

    cr_assert_eq(hop_params_set_frozen_prefix(&ps, "encoder.0", false, &matched, &err), HOP_OK);
    cr_expect_eq(matched, 2);
    cr_expect(!ps.info[0].frozen);
    cr_expect_eq(hop_params_numel(&ps, false), 24);
    cr_expect_eq(hop_params_numel(&ps, true), 18);
}

Test(params, freeze_unknown_name_fails)
{
    add_model_params();
    cr_assert_eq(hop_params_set_frozen(&ps, "encoder.9.weight", true, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "'encoder.9.weight'") != NULL, "%s", err.message);
    int matched = -1;
    cr_assert_eq(hop_params_set_frozen_prefix(&ps, "decoder", true, &matched, &err), HOP_ERR_ARG);
    cr_assert_eq(matched, 0);
    cr_assert(strstr(err.message, "'decoder.'") != NULL, "%s", err.message);
}

Test(params, frozen_gets_no_gradient_or_update)
{
    add_model_params();
    cr_assert_eq(hop_params_set_frozen(&ps, "encoder.0.weight", true, &err), HOP_OK);
    float before[6];
    memcpy(before, ps.values, sizeof before);

    hop_node *frozen = hop_param(g, &ps, 0), *live = hop_param(g, &ps, 3);
    hop_node *loss = hop_mean_all(g, hop_mul(g, frozen, live));
    cr_assert_eq(hop_backward(g, loss), HOP_OK, "%s", ctx.error.message);
    cr_assert_null(frozen->grad);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(ps.grads[i], 0.0f, "frozen gradient %d is %g", i, (double)ps.grads[i]);
        cr_expect_neq(hop_params_grad(&ps, 3)[i], 0.0f, "trainable gradient %d is 0", i);
    }

    /* Even a stale gradient in the store does not move a frozen parameter. */
    ps.grads[0] = 1.0f;
    hop_sgd opt;
    cr_assert_eq(hop_sgd_init(&opt, &ps, 0.5f, 0.0f, 0.0f, false, &err), HOP_OK);
    cr_assert_eq(hop_sgd_step(&opt, &ps, &err), HOP_OK);
    cr_expect_eq(memcmp(ps.values, before, sizeof before), 0);
    hop_sgd_free(&opt);
}

typedef struct walk_log {
    char names[8][HOP_PARAM_NAME_MAX];
    int count;
    int stop_after;
    size_t elements;
} walk_log;

static hop_status record(const hop_param_info *info, float *value, float *grad, void *user)
{
    walk_log *log = user;
    if (log->count == log->stop_after)
        return HOP_ERR_DATA;
    strcpy(log->names[log->count++], info->name);
    log->elements += info->numel;
    cr_expect_eq(value, ps.values + info->offset);
    cr_expect_eq(grad, ps.grads + info->offset);
    return HOP_OK;
}

Test(params, walk_visits_in_order)
{
    add_model_params();
    walk_log log = {.stop_after = -1};
    cr_assert_eq(hop_params_walk(&ps, record, &log), HOP_OK);
    cr_assert_eq(log.count, 4);
    cr_expect_str_eq(log.names[0], "encoder.0.weight");
    cr_expect_str_eq(log.names[3], "head.weight");
    cr_expect_eq(log.elements, hop_params_numel(&ps, false));

    walk_log partial = {.stop_after = 2};
    cr_assert_eq(hop_params_walk(&ps, record, &partial), HOP_ERR_DATA);
    cr_expect_eq(partial.count, 2);
}

/* Sequential */

static void build_mlp(hop_sequential *seq, const char *prefix, float dropout)
{
    cr_assert_eq(hop_sequential_init(seq, prefix, &err), HOP_OK);
    hop_linear_config l1 = hop_linear_config_default(4, 6);
    l1.weight_init = HOP_INIT_KAIMING_UNIFORM;
    l1.weight_init_arg = 0.0f;
    hop_linear_config l2 = hop_linear_config_default(6, 3);
    l2.weight_init = HOP_INIT_XAVIER_UNIFORM;
    hop_layernorm_config ln = hop_layernorm_config_default(6);
    cr_assert_eq(hop_sequential_add_linear(seq, &ps, &l1, &rng, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_sequential_add_activation(seq, HOP_ACT_GELU, 0, 0, &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_layernorm(seq, &ps, &ln, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_sequential_add_dropout(seq, dropout, &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_linear(seq, &ps, &l2, &rng, &err), HOP_OK, "%s", err.message);
}

Test(sequential, names_follow_torch)
{
    hop_sequential seq;
    build_mlp(&seq, "encoder", 0.1f);
    const char *expected[] = {"encoder.0.weight", "encoder.0.bias",   "encoder.2.weight",
                              "encoder.2.bias",   "encoder.4.weight", "encoder.4.bias"};
    cr_assert_eq(ps.count, 6);
    for (int i = 0; i < 6; i++)
        cr_expect_str_eq(ps.info[i].name, expected[i]);
    cr_expect_eq(seq.count, 5);
    cr_expect_eq(hop_params_numel(&ps, false), 4 * 6 + 6 + 6 + 6 + 6 * 3 + 3);

    hop_sequential bare;
    cr_assert_eq(hop_sequential_init(&bare, NULL, &err), HOP_OK);
    hop_linear_config l = hop_linear_config_default(2, 2);
    cr_assert_eq(hop_sequential_add_activation(&bare, HOP_ACT_TANH, 0, 0, &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_linear(&bare, &ps, &l, &rng, &err), HOP_OK);
    cr_expect_str_eq(ps.info[6].name, "1.weight");
    hop_sequential_free(&bare);
    hop_sequential_free(&seq);
}

/* Linear(2, 2) -> LeakyReLU(0.1) -> Linear(2, 1) with set weights, checked by hand. */
Test(sequential, forward_matches_hand_computation)
{
    hop_sequential seq;
    cr_assert_eq(hop_sequential_init(&seq, "net", &err), HOP_OK);
    hop_linear_config l1 = hop_linear_config_default(2, 2), l2 = hop_linear_config_default(2, 1);
    cr_assert_eq(hop_sequential_add_linear(&seq, &ps, &l1, &rng, &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_activation(&seq, HOP_ACT_LEAKY_RELU, 0.1f, 0, &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_linear(&seq, &ps, &l2, &rng, &err), HOP_OK);
    const float w1[4] = {1, -1, 2, 0.5f}, b1[2] = {0, -3}, w2[2] = {1, 2}, b2[1] = {0.5f};
    memcpy(hop_params_value(&ps, hop_params_find(&ps, "net.0.weight")).data, w1, sizeof w1);
    memcpy(hop_params_value(&ps, hop_params_find(&ps, "net.0.bias")).data, b1, sizeof b1);
    memcpy(hop_params_value(&ps, hop_params_find(&ps, "net.2.weight")).data, w2, sizeof w2);
    memcpy(hop_params_value(&ps, hop_params_find(&ps, "net.2.bias")).data, b2, sizeof b2);

    /* x = (1, 2): h = (1 - 2, 2 + 1 - 3) = (-1, 0) -> (-0.1, 0); y = -0.1 + 0 + 0.5 = 0.4. */
    float x[2] = {1, 2};
    hop_node *y = hop_sequential_forward(g, &ps, &seq, hop_input(g, 2, (int[]){1, 2}, x));
    cr_assert_not_null(y, "%s", ctx.error.message);
    cr_assert_eq(y->value.ndim, 2);
    cr_assert_eq(y->value.shape[1], 1);
    cr_assert_float_eq(y->value.data[0], 0.4f, 1e-6);
    hop_sequential_free(&seq);
}

Test(sequential, shape_error_names_layer)
{
    hop_sequential seq;
    build_mlp(&seq, "encoder", 0.0f);
    float x[10] = {0};
    cr_assert_null(hop_sequential_forward(g, &ps, &seq, hop_input(g, 2, (int[]){2, 5}, x)));
    cr_assert_eq(ctx.error.status, HOP_ERR_SHAPE);
    cr_assert(strstr(ctx.error.message, "in_features 4") != NULL, "%s", ctx.error.message);
    cr_assert_eq(hop_sequential_add_dropout(&seq, 1.0f, &err), HOP_ERR_ARG);
    cr_assert_eq(hop_sequential_add_activation(&seq, HOP_ACT_COUNT, 0, 0, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "unknown activation") != NULL, "%s", err.message);
    cr_assert_eq(seq.count, 5, "failed additions must not add entries");
    hop_sequential_free(&seq);
}

Test(sequential, train_and_eval_mode)
{
    hop_sequential seq;
    cr_assert_eq(hop_sequential_init(&seq, "d", &err), HOP_OK);
    cr_assert_eq(hop_sequential_add_dropout(&seq, 0.5f, &err), HOP_OK);
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = 1.0f;
    hop_node *in = hop_input(g, 2, (int[]){8, 8}, x);

    cr_assert(seq.training);
    hop_node *train = hop_sequential_forward(g, &ps, &seq, in);
    int zeros = 0;
    for (int i = 0; i < 64; i++)
        zeros += train->value.data[i] == 0.0f;
    cr_expect(zeros > 10 && zeros < 54, "%d of 64 dropped with p 0.5", zeros);

    hop_sequential_set_training(&seq, false);
    hop_node *eval = hop_sequential_forward(g, &ps, &seq, in);
    for (int i = 0; i < 64; i++)
        cr_expect_eq(eval->value.data[i], 1.0f);
    hop_sequential_free(&seq);
}

Test(sequential, freeze_module_only)
{
    hop_sequential encoder, head;
    build_mlp(&encoder, "encoder", 0.0f);
    cr_assert_eq(hop_sequential_init(&head, "head", &err), HOP_OK);
    hop_linear_config l = hop_linear_config_default(3, 1);
    cr_assert_eq(hop_sequential_add_linear(&head, &ps, &l, &rng, &err), HOP_OK);

    cr_assert_eq(hop_sequential_set_frozen(&encoder, &ps, true, &err), HOP_OK);
    for (int i = 0; i < ps.count; i++)
        cr_expect_eq(ps.info[i].frozen, strncmp(ps.info[i].name, "encoder.", 8) == 0, "%s",
                     ps.info[i].name);
    cr_expect_eq(hop_params_numel(&ps, true), 4);
    hop_sequential_free(&encoder);
    hop_sequential_free(&head);
}

/* Inference mode */

Test(inference, no_graph_is_recorded)
{
    hop_sequential seq;
    build_mlp(&seq, "m", 0.3f);
    hop_sequential_set_training(&seq, false);
    float x[8] = {0.1f, -0.2f, 0.3f, 0.4f, 1.0f, 0.5f, -1.5f, 2.0f};

    hop_node *y = hop_sequential_forward(g, &ps, &seq, hop_input(g, 2, (int[]){2, 4}, x));
    cr_assert_not_null(y, "%s", ctx.error.message);
    float recorded[6];
    memcpy(recorded, y->value.data, sizeof recorded);
    cr_expect_gt(hop_graph_node_count(g), 10);

    hop_graph_reset(g);
    hop_graph_set_grad_enabled(g, false);
    y = hop_sequential_forward(g, &ps, &seq, hop_input(g, 2, (int[]){2, 4}, x));
    cr_assert_not_null(y, "%s", ctx.error.message);
    cr_expect_eq(hop_graph_node_count(g), 0);
    cr_expect_gt(hop_graph_bytes_used(g), 0, "forward values come from the arena");
    cr_expect_eq(memcmp(y->value.data, recorded, sizeof recorded), 0);
    cr_expect_null(y->grad);

    hop_node *loss = hop_mean_all(g, y);
    cr_assert_eq(hop_backward(g, loss), HOP_OK);
    for (size_t i = 0; i < ps.total; i++)
        cr_expect_eq(ps.grads[i], 0.0f, "gradient %zu written in inference mode", i);
    hop_sequential_free(&seq);
}

/* Public gradient checker */

typedef struct mlp_task {
    hop_sequential seq;
    float x[12];
    float target[9];
    bool detach; /* read the first parameter as a constant copy, hiding it from backward */
} mlp_task;

static hop_node *mlp_loss(hop_graph *graph, hop_params *params, void *user)
{
    mlp_task *task = user;
    hop_node *x = hop_input(graph, 2, (int[]){3, 4}, task->x);
    if (task->detach) {
        /* y = x + w[0, :4] as a constant: the loss depends on w but backward cannot see it. */
        hop_tensor w = hop_params_value(params, 0);
        x = hop_add(graph, x, hop_constant(graph, 1, (int[]){4}, w.data));
    }
    hop_node *y = hop_sequential_forward(graph, params, &task->seq, x);
    return hop_mse(graph, y, hop_input(graph, 2, (int[]){3, 3}, task->target));
}

static void task_setup(mlp_task *task)
{
    memset(task, 0, sizeof *task);
    build_mlp(&task->seq, "mlp", 0.0f);
    for (int i = 0; i < 12; i++)
        task->x[i] = 2.0f * hop_rng_uniform(&rng) - 1.0f;
    for (int i = 0; i < 9; i++)
        task->target[i] = 2.0f * hop_rng_uniform(&rng) - 1.0f;
}

Test(public_gradcheck, mlp_passes)
{
    mlp_task task;
    task_setup(&task);
    float before = ps.values[5];
    ps.grads[2] = 42.0f;

    hop_gradcheck_options options = hop_gradcheck_defaults();
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&ps, mlp_loss, &task, &options, &result, &err), HOP_OK, "%s",
                 err.message);
    cr_expect(result.passed, "%s", result.message);
    cr_expect_eq(result.checked, hop_params_numel(&ps, true));
    cr_expect_eq(result.failed, 0);
    cr_expect(strstr(result.message, "passed") == result.message, "%s", result.message);
    cr_expect_eq(ps.values[5], before, "values restored");
    cr_expect_eq(ps.grads[2], 42.0f, "gradients restored");
    hop_sequential_free(&task.seq);
}

Test(public_gradcheck, detached_parameter_fails)
{
    mlp_task task;
    task_setup(&task);
    task.detach = true;
    hop_gradcheck_options options = hop_gradcheck_defaults();
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&ps, mlp_loss, &task, &options, &result, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(!result.passed, "%s", result.message);
    cr_expect_str_eq(result.param_name, "mlp.0.weight");
    cr_expect_eq(result.param_id, 0);
    cr_expect_lt(result.index, 4, "only w[0, :4] is hidden from backward");
    cr_expect_gt(fabs(result.numeric - result.analytic), 1e-3, "%s", result.message);
    cr_expect_gt(result.excess, 0.0);
    cr_expect_geq(result.failed, 1);
    cr_expect(strstr(result.message, "mlp.0.weight[") != NULL, "%s", result.message);
    hop_sequential_free(&task.seq);
}

Test(public_gradcheck, subset_and_frozen)
{
    mlp_task task;
    task_setup(&task);
    cr_assert_eq(hop_params_set_frozen(&ps, "mlp.4.weight", true, &err), HOP_OK);
    hop_gradcheck_options options = hop_gradcheck_defaults();
    options.max_per_param = 5;
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&ps, mlp_loss, &task, &options, &result, &err), HOP_OK, "%s",
                 err.message);
    cr_expect(result.passed, "%s", result.message);
    /* mlp.0.weight 24 -> 5, mlp.0.bias 6 -> 5, LayerNorm 6 + 6 -> 5 + 5, head bias 3 -> 3. */
    cr_expect_eq(result.checked, 23);
    hop_sequential_free(&task.seq);
}

static hop_node *failing_loss(hop_graph *graph, hop_params *params, void *user)
{
    float x[3] = {0};
    return hop_mse(graph, hop_param(graph, params, 0), hop_input(graph, 1, (int[]){3}, x));
}

Test(public_gradcheck, errors_reported)
{
    hop_gradcheck_options options = hop_gradcheck_defaults();
    hop_gradcheck_result result;
    cr_assert_eq(hop_gradcheck(&ps, failing_loss, NULL, &options, &result, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "no trainable parameter") != NULL, "%s", err.message);

    int id;
    cr_assert_eq(hop_params_add(&ps, "w", 2, (int[]){2, 2}, HOP_INIT_NORMAL, 1, &rng, &id, &err),
                 HOP_OK);
    cr_assert_eq(hop_gradcheck(&ps, failing_loss, NULL, &options, &result, &err), HOP_ERR_SHAPE);
    cr_assert(strstr(err.message, "loss callback failed: mse:") != NULL, "%s", err.message);

    options.eps = 0.0;
    cr_assert_eq(hop_gradcheck(&ps, failing_loss, NULL, &options, &result, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "eps 0") != NULL, "%s", err.message);
}
