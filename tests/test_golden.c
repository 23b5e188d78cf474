/*
 * Golden-file parser tests and parity of hop's Hopfield layers with the reference package
 * hflayers: outputs, association matrices and gradients of every HopfieldPooling and
 * Hopfield case of the shared golden file.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/golden.h"
#include "hop/layers.h"

#define GOLDEN_PATH HOP_SHARED_DIR "/golden/hflayers_golden.txt"

/* Bound on max|hop - ref| relative to max(1, max|ref|) per tensor: float32 against float64. */
#define GOLDEN_TOLERANCE 2e-5

/* Parser. */

static hop_status parse_text(const char *text, hop_golden_file *file, hop_error *err)
{
    hop_error_clear(err);
    return hop_golden_parse(text, strlen(text), file, err);
}

static const char two_cases[] = "# hflayers-golden-v1 test\n"
                                "case first\n"
                                "class HopfieldPooling\n"
                                "kwargs {\"input_size\":3,\"num_heads\":1}\n"
                                "input_kind tensor\n"
                                "projection_path generic\n"
                                "update_steps_taken 2\n"
                                "tensor param pooling_weights 3 1 1 3\n"
                                "0.5 -1 2e-3\n"
                                "tensor output64 output 2 1 2\n"
                                "0.10000000000000001 -7\n"
                                "none grad_param hopfield.norm_state_pattern.bias\n"
                                "loss 1.5\n"
                                "loss64 1.25\n"
                                "end\n"
                                "\n"
                                "case second\r\n"
                                "class Hopfield\r\n"
                                "update_steps_taken 0 3 1\r\n"
                                "tensor mask stored_pattern_padding_mask 2 1 2\r\n"
                                "0 1\r\n"
                                "end";

Test(golden_parse, reads_every_record_kind)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(parse_text(two_cases, &file, &err), HOP_OK, "%s", err.message);
    cr_assert_str_eq(file.header, "hflayers-golden-v1 test");
    cr_assert_eq(file.n_cases, 2);

    const hop_golden_case *c = &file.cases[0];
    cr_expect_str_eq(c->name, "first");
    cr_expect_str_eq(c->class_name, "HopfieldPooling");
    cr_expect_str_eq(c->kwargs, "{\"input_size\":3,\"num_heads\":1}");
    cr_expect_str_eq(c->input_kind, "tensor");
    cr_expect_str_eq(c->projection_path, "generic");
    cr_expect_eq(c->n_update_steps, 1);
    cr_expect_eq(c->update_steps[0], 2);
    cr_expect_eq(c->line, 2);
    cr_assert_eq(c->n_tensors, 3);
    cr_expect(c->has_loss && c->loss == 1.5);
    cr_expect(c->has_loss64 && c->loss64 == 1.25);

    const hop_golden_tensor *w = hop_golden_find(c, HOP_GOLDEN_PARAM, "pooling_weights");
    cr_assert_not_null(w);
    cr_expect_eq(w->ndim, 3);
    cr_expect_eq(w->shape[2], 3);
    cr_expect_eq(w->numel, 3);
    cr_expect_eq(w->values[2], (double)2e-3f, "float32 records are read with strtof");
    cr_expect_eq(w->line, 8);

    const hop_golden_tensor *out = hop_golden_find(c, HOP_GOLDEN_OUTPUT64, "output");
    cr_assert_not_null(out);
    cr_expect_eq(out->values[0], 0.1, "float64 records are read with strtod");

    const hop_golden_tensor *none =
        hop_golden_find(c, HOP_GOLDEN_GRAD_PARAM, "hopfield.norm_state_pattern.bias");
    cr_assert_not_null(none);
    cr_expect(none->none);
    cr_expect_null(none->values);

    const hop_golden_case *second = &file.cases[1];
    cr_expect_str_eq(second->class_name, "Hopfield");
    cr_expect_str_eq(second->kwargs, "{}");
    cr_expect_null(second->input_kind);
    cr_expect_eq(second->n_update_steps, 3);
    cr_expect_eq(second->update_steps[1], 3);
    const hop_golden_tensor *mask =
        hop_golden_find(second, HOP_GOLDEN_MASK, "stored_pattern_padding_mask");
    cr_assert_not_null(mask);
    cr_expect_eq(mask->values[1], 1.0);
    hop_golden_free(&file);
}

/* One malformed text and the words its error message must contain. */
typedef struct bad_text {
    const char *text;
    const char *expected[2];
} bad_text;

static const bad_text bad_texts[] = {
    {"case a\nclass Hopfield\nfrobnicate 3\nend\n", {"line 3", "frobnicate"}},
    {"class Hopfield\n", {"line 1", "outside a case"}},
    {"case a\nclass Hopfield\n", {"line 2", "ends inside case 'a'"}},
    {"case a\nclass X\ntensor input x 2 2 2\n1 2 3\nend\n", {"line 4", "3 values"}},
    {"case a\nclass X\ntensor input x 1 2\n1 2 3\nend\n", {"line 4", "more than 2"}},
    {"case a\nclass X\ntensor input x 1 2\n1 oops\nend\n", {"line 4", "value 2"}},
    {"case a\nclass X\ntensor input x 1 2\n", {"line 3", "file ends"}},
    {"case a\nclass X\ntensor weird x 1 2\n1 2\nend\n", {"line 3", "weird"}},
    {"case a\nclass X\ntensor input x 1 -2\n\nend\n", {"line 3", "extent -2"}},
    {"case a\nclass X\nkwargs {\"a\":\nend\n", {"line 3", "JSON"}},
    {"case a\nclass X\nkwargs [1]\nend\n", {"line 3", "JSON object"}},
    {"case a\nend\n", {"line 2", "no 'class'"}},
    {"case a\nclass X\nclass Y\nend\n", {"line 3", "second 'class'"}},
    {"case a\nclass X\nupdate_steps_taken 1 x\nend\n", {"line 3", "'x'"}},
    {"case a\nclass X\nloss abc\nend\n", {"line 3", "'abc'"}},
    {"case a\ncase b\n", {"line 2", "no 'end'"}},
    {"case a\nclass X\ntensor input x 1 1\n1\ntensor input x 1 1\n1\nend\n",
     {"line 5", "second input record 'x'"}},
};

Test(golden_parse, errors_name_the_line)
{
    for (size_t i = 0; i < sizeof bad_texts / sizeof bad_texts[0]; i++) {
        hop_golden_file file;
        hop_error err;
        hop_status status = parse_text(bad_texts[i].text, &file, &err);
        cr_expect_eq(status, HOP_ERR_PARSE, "text %zu parsed with status %d", i, status);
        for (int k = 0; k < 2; k++)
            cr_expect(strstr(err.message, bad_texts[i].expected[k]) != NULL,
                      "text %zu: message '%s' lacks '%s'", i, err.message,
                      bad_texts[i].expected[k]);
        cr_expect_eq(file.n_cases, 0, "a failed parse leaves the file empty");
    }
}

Test(golden_parse, reads_buffer_without_terminator)
{
    const char text[] = "case a\nclass Hopfield\nloss 2\nend\nGARBAGE";
    hop_golden_file file;
    hop_error err;
    size_t length = strlen(text) - strlen("GARBAGE");
    cr_assert_eq(hop_golden_parse(text, length, &file, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(file.n_cases, 1);
    hop_golden_free(&file);
}

Test(golden_parse, missing_file_is_an_io_error)
{
    hop_golden_file file;
    hop_error err;
    cr_expect_eq(hop_golden_load("/nonexistent/golden.txt", &file, &err), HOP_ERR_IO);
    cr_expect(strstr(err.message, "/nonexistent/golden.txt") != NULL, "%s", err.message);
}

/* Kwargs mapping. */

static hop_golden_case kwargs_case(const char *class_name, const char *kwargs)
{
    hop_golden_case c;
    memset(&c, 0, sizeof c);
    c.name = "kwargs";
    c.class_name = (char *)class_name;
    c.kwargs = (char *)kwargs;
    c.line = 7;
    return c;
}

Test(golden_kwargs, maps_options_onto_configs)
{
    hop_golden_case c = kwargs_case(
        "HopfieldPooling", "{\"input_size\":8,\"num_heads\":2,\"quantity\":3,\"scaling\":2.0,"
                           "\"update_steps_max\":null,\"update_steps_eps\":1e-30,"
                           "\"normalize_state_pattern\":false,"
                           "\"normalize_state_pattern_affine\":false,\"trainable\":false,"
                           "\"hidden_size\":null,\"batch_first\":true}");
    hop_hopfield_pooling_config config;
    hop_error err;
    cr_assert_eq(hop_golden_pooling_config(&c, &config, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(config.hopfield.input_size, 8);
    cr_expect_eq(config.hopfield.num_heads, 2);
    cr_expect_eq(config.quantity, 3);
    cr_expect_eq(config.hopfield.scaling, 2.0f);
    cr_expect_eq(config.hopfield.update_steps_max, -1, "null update_steps_max is unbounded");
    cr_expect_eq(config.hopfield.update_steps_eps, 1e-30f);
    cr_expect_not(config.hopfield.normalize_state_pattern);
    cr_expect(config.hopfield.normalize_stored_pattern, "absent keys keep the defaults");
    cr_expect_not(config.trainable);
    cr_expect_eq(config.hopfield.hidden_size, 0);
}

typedef struct bad_kwargs {
    const char *class_name;
    const char *kwargs;
    hop_status status;
    const char *expected;
} bad_kwargs;

static const bad_kwargs bad_kwargs_table[] = {
    {"Hopfield", "{\"input_size\":8,\"scaling\":{\"tensor\":[0.3,1.2]}}", HOP_ERR_DATA,
     "'scaling'"},
    {"Hopfield", "{\"input_size\":8,\"num_heads\":\"two\"}", HOP_ERR_PARSE, "'num_heads'"},
    {"Hopfield", "{\"input_size\":8.5}", HOP_ERR_PARSE, "'input_size'"},
    {"Hopfield", "{\"input_size\":8,\"quantity\":2}", HOP_ERR_DATA, "'quantity'"},
    {"Hopfield", "{\"input_size\":8,\"add_zero_association\":true}", HOP_ERR_DATA,
     "'add_zero_association'"},
    {"Hopfield", "{\"input_size\":8,\"update_steps_max\":[1,2]}", HOP_ERR_DATA,
     "'update_steps_max'"},
    {"HopfieldPooling", "{\"input_size\":8,\"trainable\":1}", HOP_ERR_PARSE, "'trainable'"},
    {"HopfieldLayer", "{\"input_size\":8}", HOP_ERR_ARG, "HopfieldLayer"},
};

Test(golden_kwargs, rejects_unsupported_and_malformed_options)
{
    for (size_t i = 0; i < sizeof bad_kwargs_table / sizeof bad_kwargs_table[0]; i++) {
        const bad_kwargs *bad = &bad_kwargs_table[i];
        hop_golden_case c = kwargs_case(bad->class_name, bad->kwargs);
        hop_error err;
        hop_status status;
        if (strcmp(bad->class_name, "HopfieldPooling") == 0) {
            hop_hopfield_pooling_config config;
            status = hop_golden_pooling_config(&c, &config, &err);
        } else {
            hop_hopfield_config config;
            status = hop_golden_hopfield_config(&c, &config, &err);
        }
        cr_expect_eq(status, bad->status, "kwargs %s: status %d, expected %d", bad->kwargs, status,
                     bad->status);
        cr_expect(strstr(err.message, bad->expected) != NULL, "kwargs %s: message '%s'",
                  bad->kwargs, err.message);
    }
}

/* Parity runs. */

/* Largest difference seen over all compared tensors, relative to max(1, max|ref|). */
typedef struct parity_stats {
    int cases_run;
    int cases_skipped;
    int tensors_checked;
    double worst_relative;
    char worst_tensor[160];
} parity_stats;

/* Compares one tensor; logs and fails the test when it is outside the tolerance. */
static void compare_tensor(parity_stats *stats, const char *case_name, const char *what,
                           const float *hop, const double *ref, size_t n)
{
    double max_ref = 0.0, max_diff = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)hop[i] - ref[i]);
        if (fabs(ref[i]) > max_ref)
            max_ref = fabs(ref[i]);
        if (diff > max_diff || isnan(diff)) {
            max_diff = isnan(diff) ? INFINITY : diff;
            worst = i;
        }
    }

    double scale = max_ref > 1.0 ? max_ref : 1.0;
    double relative = max_diff / scale;
    stats->tensors_checked++;
    if (relative > stats->worst_relative) {
        stats->worst_relative = relative;
        snprintf(stats->worst_tensor, sizeof stats->worst_tensor, "%s: %s", case_name, what);
    }
    cr_expect(max_diff <= GOLDEN_TOLERANCE * scale,
              "case %s: %s: max|hop - ref| = %.3g at element %zu (hop %.9g, ref %.17g), "
              "bound %.3g",
              case_name, what, max_diff, worst, n ? (double)hop[worst] : 0.0, n ? ref[worst] : 0.0,
              GOLDEN_TOLERANCE * scale);
}

static float *to_float(const hop_golden_tensor *t)
{
    float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
    cr_assert_not_null(out);
    for (size_t i = 0; i < t->numel; i++)
        out[i] = (float)t->values[i];
    return out;
}

static const hop_golden_tensor *find_kind(const hop_golden_case *c, hop_golden_kind kind)
{
    for (int i = 0; i < c->n_tensors; i++)
        if (c->tensors[i].kind == kind)
            return &c->tensors[i];
    return NULL;
}

#define MAX_INPUTS 3

/* One case run through hop. */
typedef struct golden_run {
    const hop_golden_case *c;
    bool pooling;
    hop_hopfield hopfield;
    hop_hopfield_pooling pool;
    hop_params ps;
    hop_ctx ctx;
    hop_graph *g;
    int n_inputs;
    const char *input_names[MAX_INPUTS];
    hop_node *inputs[MAX_INPUTS];
    hop_node *mask;
    hop_node *output;
    hop_hopfield_info info;
    float *buffers[MAX_INPUTS + 2]; /* input, mask and loss weight copies */
    int n_buffers;
} golden_run;

static void run_free(golden_run *run)
{
    for (int i = 0; i < run->n_buffers; i++)
        free(run->buffers[i]);
    hop_graph_free(run->g);
    hop_params_free(&run->ps);
}

/* Builds the layer from the kwargs; returns false, logging why, when hop lacks an option. */
static bool run_init(golden_run *run)
{
    const hop_golden_case *c = run->c;
    hop_error err;
    hop_error_clear(&err);
    hop_status status;
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_params_init(&run->ps);

    if (run->pooling) {
        hop_hopfield_pooling_config config;
        status = hop_golden_pooling_config(c, &config, &err);
        if (status == HOP_OK)
            status = hop_hopfield_pooling_init(&run->pool, &config, &run->ps, "", &rng, &err);
    } else {
        hop_hopfield_config config;
        status = hop_golden_hopfield_config(c, &config, &err);
        if (status == HOP_OK)
            status = hop_hopfield_init(&run->hopfield, &config, &run->ps, "", &rng, &err);
    }
    if (status == HOP_ERR_DATA) {
        cr_log_info("golden: skipping case %s: %s", c->name, err.message);
        return false;
    }
    cr_assert_eq(status, HOP_OK, "case %s: %s", c->name, err.message);
    return true;
}

/* Loads every param record by name, in the reference order, checking the shapes. */
static void load_params(golden_run *run)
{
    const hop_golden_case *c = run->c;
    int position = 0;
    for (int i = 0; i < c->n_tensors; i++) {
        const hop_golden_tensor *t = &c->tensors[i];
        if (t->kind != HOP_GOLDEN_PARAM)
            continue;
        int id = hop_params_find(&run->ps, t->name);
        cr_assert_geq(id, 0, "case %s: reference parameter '%s' is unknown to hop", c->name,
                      t->name);
        const hop_param_info *info = &run->ps.info[id];
        cr_assert(hop_shape_equal(info->ndim, info->shape, t->ndim, t->shape),
                  "case %s: parameter '%s' has rank %d in hop, shape differs from the reference",
                  c->name, t->name, info->ndim);
        cr_expect_eq(id, position,
                     "case %s: parameter '%s' is number %d in hop, %d in the "
                     "reference",
                     c->name, t->name, id, position);
        for (size_t k = 0; k < t->numel; k++)
            run->ps.values[info->offset + k] = (float)t->values[k];
        position++;
    }
    cr_assert_eq(position, run->ps.count, "case %s: reference has %d parameters, hop %d", c->name,
                 position, run->ps.count);
}

static float *keep(golden_run *run, float *buffer)
{
    run->buffers[run->n_buffers++] = buffer;
    return buffer;
}

static hop_node *input_node(golden_run *run, const hop_golden_tensor *t, bool grad)
{
    cr_assert_leq(t->ndim, HOP_MAX_DIMS, "case %s: tensor '%s' has rank %d", run->c->name, t->name,
                  t->ndim);
    float *data = keep(run, to_float(t));
    hop_node *n = grad ? hop_input_grad(run->g, t->ndim, t->shape, data)
                       : hop_input(run->g, t->ndim, t->shape, data);
    cr_assert_not_null(n, "case %s: %s", run->c->name, run->ctx.error.message);
    return n;
}

static void make_inputs(golden_run *run)
{
    static const char *const single[] = {"input"};
    static const char *const triple[] = {"stored_pattern", "state_pattern", "pattern_projection"};
    static const char *const pair[] = {"stored_pattern", "pattern_projection"};
    const hop_golden_case *c = run->c;
    const char *kind = c->input_kind ? c->input_kind : "tensor";

    const char *const *names = single;
    run->n_inputs = 1;
    if (strcmp(kind, "tuple3") == 0 && !run->pooling) {
        names = triple;
        run->n_inputs = 3;
    } else if (strcmp(kind, "tuple2") == 0 && run->pooling) {
        names = pair;
        run->n_inputs = 2;
    } else {
        cr_assert_str_eq(kind, "tensor", "case %s: input_kind %s does not fit class %s", c->name,
                         kind, c->class_name);
    }

    for (int i = 0; i < run->n_inputs; i++) {
        const hop_golden_tensor *t = hop_golden_find(c, HOP_GOLDEN_INPUT, names[i]);
        cr_assert_not_null(t, "case %s: no input record '%s'", c->name, names[i]);
        run->input_names[i] = names[i];
        run->inputs[i] = input_node(run, t, true);
    }
    const hop_golden_tensor *mask = find_kind(c, HOP_GOLDEN_MASK);
    run->mask = mask ? input_node(run, mask, false) : NULL;
}

static hop_node *build_output(golden_run *run)
{
    hop_node **in = run->inputs;
    if (run->pooling && run->n_inputs == 2)
        return hop_hopfield_pooling_forward_pair(run->g, &run->ps, &run->pool, in[0], in[1],
                                                 run->mask, &run->info);
    if (run->pooling)
        return hop_hopfield_pooling_forward(run->g, &run->ps, &run->pool, in[0], run->mask,
                                            &run->info);
    if (run->n_inputs == 3)
        return hop_hopfield_forward_patterns(run->g, &run->ps, &run->hopfield, in[0], in[1], in[2],
                                             run->mask, &run->info);
    return hop_hopfield_forward(run->g, &run->ps, &run->hopfield, in[0], run->mask, &run->info);
}

/* Runs forward and backward of loss = sum(output * loss_weight); returns the loss. */
static float forward_backward(golden_run *run)
{
    const hop_golden_case *c = run->c;
    hop_ctx_init(&run->ctx, 1);
    run->g = hop_graph_new(&run->ctx);
    cr_assert_not_null(run->g);
    hop_graph_set_training(run->g, false);

    make_inputs(run);
    run->output = build_output(run);
    cr_assert_not_null(run->output, "case %s: forward failed: %s", c->name, run->ctx.error.message);

    const hop_golden_tensor *w = find_kind(c, HOP_GOLDEN_LOSS_WEIGHT);
    cr_assert_not_null(w, "case %s: no loss_weight record", c->name);
    hop_node *weight = input_node(run, w, false);
    int flat[2] = {1, -1};
    hop_node *product = hop_reshape(run->g, hop_mul(run->g, run->output, weight), 2, flat);
    hop_node *loss = hop_sum(run->g, product, 1, 0);
    cr_assert_not_null(loss, "case %s: loss failed: %s", c->name, run->ctx.error.message);
    cr_assert_eq(hop_backward(run->g, loss), HOP_OK, "case %s: %s", c->name,
                 run->ctx.error.message);
    return loss->value.data[0];
}

static void compare_forward(golden_run *run, parity_stats *stats, float loss)
{
    const hop_golden_case *c = run->c;
    const hop_golden_tensor *out = find_kind(c, HOP_GOLDEN_OUTPUT64);
    cr_assert_not_null(out, "case %s: no output64 record", c->name);
    cr_assert(
        hop_shape_equal(run->output->value.ndim, run->output->value.shape, out->ndim, out->shape),
        "case %s: output shape differs from the reference", c->name);
    compare_tensor(stats, c->name, "output", run->output->value.data, out->values, out->numel);

    /* The text format has no float64 association matrix, so the float32 one is the reference. */
    const hop_golden_tensor *assoc = find_kind(c, HOP_GOLDEN_ASSOC);
    cr_assert_not_null(assoc, "case %s: no assoc record", c->name);
    hop_node *xi = run->info.association;
    cr_assert(hop_shape_equal(xi->value.ndim, xi->value.shape, assoc->ndim, assoc->shape),
              "case %s: association matrix shape differs from the reference", c->name);
    compare_tensor(stats, c->name, "association matrix", xi->value.data, assoc->values,
                   assoc->numel);

    cr_expect(c->has_loss64, "case %s: no loss64 record", c->name);
    compare_tensor(stats, c->name, "loss", &loss, &c->loss64, 1);

    cr_expect_eq(run->info.num_heads, c->n_update_steps, "case %s: %d heads, reference %d", c->name,
                 run->info.num_heads, c->n_update_steps);
    for (int h = 0; h < c->n_update_steps && h < run->info.num_heads; h++)
        cr_expect_eq(run->info.update_steps[h], c->update_steps[h],
                     "case %s: head %d took %d update steps, the reference %d", c->name, h,
                     run->info.update_steps[h], c->update_steps[h]);
}

static void compare_input_grads(golden_run *run, parity_stats *stats)
{
    for (int i = 0; i < run->n_inputs; i++) {
        const hop_golden_tensor *ref =
            hop_golden_find(run->c, HOP_GOLDEN_GRAD_INPUT64, run->input_names[i]);
        cr_assert_not_null(ref, "case %s: no grad_input64 record '%s'", run->c->name,
                           run->input_names[i]);
        char what[160];
        snprintf(what, sizeof what, "gradient of input %s", run->input_names[i]);
        compare_tensor(stats, run->c->name, what, run->inputs[i]->grad, ref->values, ref->numel);
    }
}

/* The reference gradient of a parameter as doubles; a "none" record reads as zeros. */
static double *reference_grad(const golden_run *run, int id)
{
    const hop_param_info *info = &run->ps.info[id];
    const hop_golden_tensor *ref = hop_golden_find(run->c, HOP_GOLDEN_GRAD_PARAM64, info->name);
    cr_assert_not_null(ref, "case %s: no grad_param64 record '%s'", run->c->name, info->name);
    double *out = calloc(info->numel, sizeof *out);
    cr_assert_not_null(out);
    if (!ref->none) {
        cr_assert_eq(ref->numel, info->numel, "case %s: grad of '%s' has %zu values", run->c->name,
                     info->name, ref->numel);
        memcpy(out, ref->values, info->numel * sizeof *out);
    }
    return out;
}

static void compare_param_grad(golden_run *run, parity_stats *stats, int id)
{
    const hop_param_info *info = &run->ps.info[id];
    double *ref = reference_grad(run, id);
    char what[200];
    snprintf(what, sizeof what, "gradient of %s", info->name);
    compare_tensor(stats, run->c->name, what, run->ps.grads + info->offset, ref, info->numel);
    free(ref);
}

/*
 * Where the reference took every projection from one LayerNorm because its inputs were
 * equal ("self": all three, "encdec": stored and projection), its gradient of those
 * LayerNorms is merged. hop's separate gradients must sum to the merged one. Marks the
 * compared parameters in done.
 */
static void compare_merged_norms(golden_run *run, parity_stats *stats, bool *done)
{
    static const char *const norms[3] = {"norm_stored_pattern", "norm_state_pattern",
                                         "norm_pattern_projection"};
    static const char *const suffixes[2] = {"weight", "bias"};
    const char *path = run->c->projection_path ? run->c->projection_path : "generic";
    int members[3], n_members;
    if (strcmp(path, "self") == 0) {
        members[0] = 0, members[1] = 1, members[2] = 2, n_members = 3;
    } else if (strcmp(path, "encdec") == 0) {
        members[0] = 0, members[1] = 2, n_members = 2;
    } else {
        return;
    }

    for (int s = 0; s < 2; s++) {
        int ids[3];
        bool present = true;
        for (int m = 0; m < n_members; m++) {
            char name[HOP_PARAM_NAME_MAX];
            snprintf(name, sizeof name, "%s%s.%s", run->pooling ? "hopfield." : "",
                     norms[members[m]], suffixes[s]);
            ids[m] = hop_params_find(&run->ps, name);
            present = present && ids[m] >= 0;
        }
        if (!present)
            continue;

        size_t n = run->ps.info[ids[0]].numel;
        float *hop_sum_grad = calloc(n, sizeof *hop_sum_grad);
        double *ref_sum_grad = calloc(n, sizeof *ref_sum_grad);
        cr_assert(hop_sum_grad && ref_sum_grad);
        for (int m = 0; m < n_members; m++) {
            const hop_param_info *info = &run->ps.info[ids[m]];
            cr_assert_eq(info->numel, n, "case %s: merged LayerNorms differ in width",
                         run->c->name);
            double *ref = reference_grad(run, ids[m]);
            for (size_t k = 0; k < n; k++) {
                hop_sum_grad[k] += run->ps.grads[info->offset + k];
                ref_sum_grad[k] += ref[k];
            }
            free(ref);
            done[ids[m]] = true;
        }
        char what[160];
        snprintf(what, sizeof what, "summed %s gradient of the %s-path LayerNorms", suffixes[s],
                 path);
        compare_tensor(stats, run->c->name, what, hop_sum_grad, ref_sum_grad, n);
        free(hop_sum_grad);
        free(ref_sum_grad);
    }
}

static void compare_param_grads(golden_run *run, parity_stats *stats)
{
    bool *done = calloc((size_t)run->ps.count, sizeof *done);
    cr_assert_not_null(done);
    compare_merged_norms(run, stats, done);
    for (int id = 0; id < run->ps.count; id++)
        if (!done[id])
            compare_param_grad(run, stats, id);
    free(done);
}

static void run_case(const hop_golden_case *c, bool pooling, parity_stats *stats)
{
    golden_run run;
    memset(&run, 0, sizeof run);
    run.c = c;
    run.pooling = pooling;
    if (!run_init(&run)) {
        stats->cases_skipped++;
        hop_params_free(&run.ps);
        return;
    }

    load_params(&run);
    float loss = forward_backward(&run);
    compare_forward(&run, stats, loss);
    compare_input_grads(&run, stats);
    compare_param_grads(&run, stats);
    stats->cases_run++;
    run_free(&run);
}

static void run_class(const char *class_name, bool pooling, parity_stats *stats)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_load(GOLDEN_PATH, &file, &err), HOP_OK, "%s", err.message);
    for (int i = 0; i < file.n_cases; i++)
        if (strcmp(file.cases[i].class_name, class_name) == 0)
            run_case(&file.cases[i], pooling, stats);
    hop_golden_free(&file);

    cr_log_info("golden %s: %d cases match, %d skipped, %d tensors, largest difference "
                "%.3g of max(1, max|ref|) (%s)",
                class_name, stats->cases_run, stats->cases_skipped, stats->tensors_checked,
                stats->worst_relative, stats->worst_tensor);
}

Test(golden, shared_file_parses)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_load(GOLDEN_PATH, &file, &err), HOP_OK, "%s", err.message);
    cr_expect_gt(file.n_cases, 0);
    for (int i = 0; i < file.n_cases; i++) {
        cr_expect_not_null(find_kind(&file.cases[i], HOP_GOLDEN_OUTPUT64),
                           "case %s has no output64", file.cases[i].name);
        cr_expect_gt(file.cases[i].n_update_steps, 0, "case %s has no update step counts",
                     file.cases[i].name);
    }
    hop_golden_free(&file);
}

Test(golden, pooling_cases_match_reference, .timeout = 120)
{
    parity_stats stats = {0};
    run_class("HopfieldPooling", true, &stats);
    cr_expect_gt(stats.cases_run, 0, "no HopfieldPooling case ran");
    cr_expect_eq(stats.cases_skipped, 0, "every HopfieldPooling option in the file is implemented");
}

Test(golden, hopfield_cases_match_reference, .timeout = 120)
{
    parity_stats stats = {0};
    run_class("Hopfield", false, &stats);
    cr_expect_gt(stats.cases_run, 0, "no Hopfield case ran");
}
