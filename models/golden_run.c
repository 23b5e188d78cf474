/* Runs a golden case through hop's Hopfield modules and compares it with the reference. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/golden.h"

#define RUN_MAX_INPUTS  3
#define RUN_MAX_BUFFERS 8

typedef struct golden_run {
    const hop_golden_case *c;
    hop_golden_config config;
    hop_hopfield hopfield;
    hop_hopfield_pooling pool;
    hop_hopfield_layer layer;
    hop_params ps;
    hop_ctx ctx;
    hop_graph *g;
    int n_inputs;
    const char *input_names[RUN_MAX_INPUTS];
    hop_node *inputs[RUN_MAX_INPUTS];
    hop_node *padding_mask;
    hop_node *association_mask;
    hop_node *output;
    float loss;
    hop_hopfield_info info;
    float *buffers[RUN_MAX_BUFFERS];
    int n_buffers;
    hop_golden_result *result;
    hop_error *err;
} golden_run;

static hop_status run_fail(golden_run *run, hop_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static hop_status run_fail(golden_run *run, hop_status status, const char *format, ...)
{
    char message[HOP_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return hop_error_set(run->err, status, "golden case '%s' (line %d): %s", run->c->name,
                         run->c->line, message);
}

static const hop_golden_tensor *find_kind(const hop_golden_case *c, hop_golden_kind kind)
{
    for (int i = 0; i < c->n_tensors; i++)
        if (c->tensors[i].kind == kind)
            return &c->tensors[i];
    return NULL;
}

/* Comparison records. */

static hop_golden_check *add_check(golden_run *run, const char *what)
{
    hop_golden_result *r = run->result;
    hop_golden_check *checks = realloc(r->checks, (size_t)(r->n_checks + 1) * sizeof *checks);
    if (!checks)
        return NULL;
    r->checks = checks;
    hop_golden_check *check = &checks[r->n_checks++];
    memset(check, 0, sizeof *check);
    snprintf(check->what, sizeof check->what, "%s", what);
    return check;
}

static void finish_check(golden_run *run, const hop_golden_check *check)
{
    hop_golden_result *r = run->result;
    double relative = check->max_diff / check->scale;
    if (relative > r->worst_relative || r->worst_check < 0) {
        r->worst_relative = relative;
        r->worst_check = r->n_checks - 1;
    }
    if (!check->passed)
        r->verdict = HOP_GOLDEN_FAIL;
}

static hop_status compare(golden_run *run, const char *what, const float *hop, const double *ref,
                          size_t n)
{
    hop_golden_check *check = add_check(run, what);
    if (!check)
        return run_fail(run, HOP_ERR_NOMEM, "out of memory for comparisons");
    double max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)hop[i] - ref[i]);
        max_ref = fmax(max_ref, fabs(ref[i]));
        if (isnan(diff))
            diff = INFINITY;
        if (diff > check->max_diff || i == 0) {
            check->max_diff = diff;
            check->worst = i;
        }
    }
    check->scale = max_ref > 1.0 ? max_ref : 1.0;
    check->hop_value = n ? (double)hop[check->worst] : 0.0;
    check->ref_value = n ? ref[check->worst] : 0.0;
    check->passed = check->max_diff <= HOP_GOLDEN_TOLERANCE * check->scale;
    finish_check(run, check);
    return HOP_OK;
}

static hop_status compare_count(golden_run *run, const char *what, int hop, int ref)
{
    hop_golden_check *check = add_check(run, what);
    if (!check)
        return run_fail(run, HOP_ERR_NOMEM, "out of memory for comparisons");
    check->max_diff = fabs((double)hop - (double)ref);
    check->scale = 1.0;
    check->hop_value = hop;
    check->ref_value = ref;
    check->passed = hop == ref;
    finish_check(run, check);
    return HOP_OK;
}

/* Building the module. */

static hop_status run_init(golden_run *run)
{
    hop_status status = hop_golden_case_config(run->c, &run->config, run->err);
    if (status != HOP_OK)
        return status;
    hop_golden_config_bind(&run->config);

    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_golden_config *gc = &run->config;
    switch (gc->module) {
    case HOP_GOLDEN_HOPFIELD:
        return hop_hopfield_init(&run->hopfield, &gc->hopfield, &run->ps, "", &rng, run->err);
    case HOP_GOLDEN_POOLING: {
        hop_hopfield_pooling_config pc = {gc->hopfield, gc->quantity, gc->trainable};
        return hop_hopfield_pooling_init(&run->pool, &pc, &run->ps, "", &rng, run->err);
    }
    case HOP_GOLDEN_LAYER: {
        hop_hopfield_layer_config lc = hop_hopfield_layer_config_default(0, gc->quantity);
        lc.hopfield = gc->hopfield;
        lc.trainable = gc->trainable;
        lc.lookup_weights_as_separated = gc->lookup_weights_as_separated;
        lc.lookup_targets_as_trainable = gc->lookup_targets_as_trainable;
        return hop_hopfield_layer_init(&run->layer, &lc, &run->ps, "", &rng, run->err);
    }
    }
    return run_fail(run, HOP_ERR_ARG, "unknown module");
}

/* Loads every param record by name, in the reference order, checking the shapes. */
static hop_status load_params(golden_run *run)
{
    const hop_golden_case *c = run->c;
    int position = 0;
    for (int i = 0; i < c->n_tensors; i++) {
        const hop_golden_tensor *t = &c->tensors[i];
        if (t->kind != HOP_GOLDEN_PARAM)
            continue;
        int id = hop_params_find(&run->ps, t->name);
        if (id < 0)
            return run_fail(run, HOP_ERR_DATA, "reference parameter '%s' is unknown to hop",
                            t->name);
        hop_param_info *info = &run->ps.info[id];
        if (!hop_shape_equal(info->ndim, info->shape, t->ndim, t->shape))
            return run_fail(run, HOP_ERR_DATA, "parameter '%s' has another shape in hop", t->name);
        if (id != position)
            return run_fail(run, HOP_ERR_DATA,
                            "parameter '%s' is number %d in hop, %d in the "
                            "reference",
                            t->name, id, position);
        for (size_t k = 0; k < t->numel; k++)
            run->ps.values[info->offset + k] = (float)t->values[k];
        /* Gradients are compared for every parameter, also those the reference froze. */
        info->frozen = false;
        position++;
    }
    if (position != run->ps.count)
        return run_fail(run, HOP_ERR_DATA, "the reference has %d parameters, hop %d", position,
                        run->ps.count);
    return HOP_OK;
}

static hop_node *input_node(golden_run *run, const hop_golden_tensor *t, bool grad)
{
    if (t->ndim > HOP_MAX_DIMS || run->n_buffers == RUN_MAX_BUFFERS) {
        run_fail(run, HOP_ERR_DATA, "tensor '%s' has rank %d, or the case has too many inputs",
                 t->name, t->ndim);
        return NULL;
    }
    float *data = malloc((t->numel ? t->numel : 1) * sizeof *data);
    if (!data) {
        run_fail(run, HOP_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
        return NULL;
    }
    for (size_t i = 0; i < t->numel; i++)
        data[i] = (float)t->values[i];
    run->buffers[run->n_buffers++] = data;
    hop_node *n = grad ? hop_input_grad(run->g, t->ndim, t->shape, data)
                       : hop_input(run->g, t->ndim, t->shape, data);
    if (!n)
        run_fail(run, HOP_ERR_SHAPE, "%s", run->ctx.error.message);
    return n;
}

static hop_status make_inputs(golden_run *run)
{
    static const char *const single[] = {"input"};
    static const char *const triple[] = {"stored_pattern", "state_pattern", "pattern_projection"};
    static const char *const pair[] = {"stored_pattern", "pattern_projection"};
    const hop_golden_case *c = run->c;
    const char *kind = c->input_kind ? c->input_kind : "tensor";
    hop_golden_module module = run->config.module;

    const char *const *names = single;
    run->n_inputs = 1;
    if (strcmp(kind, "tuple3") == 0 && module == HOP_GOLDEN_HOPFIELD) {
        names = triple;
        run->n_inputs = 3;
    } else if (strcmp(kind, "tuple2") == 0 && module == HOP_GOLDEN_POOLING) {
        names = pair;
        run->n_inputs = 2;
    } else if (strcmp(kind, "tensor") != 0) {
        return run_fail(run, HOP_ERR_DATA, "input_kind %s does not fit class %s", kind,
                        c->class_name);
    }

    for (int i = 0; i < run->n_inputs; i++) {
        const hop_golden_tensor *t = hop_golden_find(c, HOP_GOLDEN_INPUT, names[i]);
        if (!t)
            return run_fail(run, HOP_ERR_DATA, "no input record '%s'", names[i]);
        run->input_names[i] = names[i];
        if (!(run->inputs[i] = input_node(run, t, true)))
            return run->err->status;
    }
    const hop_golden_tensor *padding =
        hop_golden_find(c, HOP_GOLDEN_MASK, "stored_pattern_padding_mask");
    const hop_golden_tensor *association = hop_golden_find(c, HOP_GOLDEN_MASK, "association_mask");
    if (padding && !(run->padding_mask = input_node(run, padding, false)))
        return run->err->status;
    if (association && !(run->association_mask = input_node(run, association, false)))
        return run->err->status;
    return HOP_OK;
}

static hop_node *build_output(golden_run *run)
{
    hop_node **in = run->inputs;
    hop_hopfield_inputs inputs = {
        .stored = in[0],
        .state = run->n_inputs == 3 ? in[1] : in[0],
        .projection = run->n_inputs == 3   ? in[2]
                      : run->n_inputs == 2 ? in[1]
                                           : in[0],
        .padding_mask = run->padding_mask,
        .association_mask = run->association_mask,
    };
    switch (run->config.module) {
    case HOP_GOLDEN_HOPFIELD:
        return hop_hopfield_forward_inputs(run->g, &run->ps, &run->hopfield, &inputs, &run->info);
    case HOP_GOLDEN_POOLING:
        return hop_hopfield_pooling_forward_inputs(run->g, &run->ps, &run->pool, &inputs,
                                                   &run->info);
    case HOP_GOLDEN_LAYER:
        return hop_hopfield_layer_forward_inputs(run->g, &run->ps, &run->layer, &inputs,
                                                 &run->info);
    }
    return NULL;
}

/* Runs forward and backward of loss = sum(output * loss_weight). */
static hop_status forward_backward(golden_run *run)
{
    hop_ctx_init(&run->ctx, 1);
    run->g = hop_graph_new(&run->ctx);
    if (!run->g)
        return run_fail(run, HOP_ERR_NOMEM, "cannot create a graph");
    hop_graph_set_training(run->g, false);

    hop_status status = make_inputs(run);
    if (status != HOP_OK)
        return status;
    run->output = build_output(run);
    if (!run->output)
        return run_fail(run, run->ctx.error.status, "forward failed: %s", run->ctx.error.message);

    const hop_golden_tensor *w = find_kind(run->c, HOP_GOLDEN_LOSS_WEIGHT);
    if (!w)
        return run_fail(run, HOP_ERR_DATA, "no loss_weight record");
    hop_node *weight = input_node(run, w, false);
    int flat[2] = {1, -1};
    hop_node *product = hop_reshape(run->g, hop_mul(run->g, run->output, weight), 2, flat);
    hop_node *loss = hop_sum(run->g, product, 1, 0);
    if (!loss)
        return run_fail(run, run->ctx.error.status, "loss failed: %s", run->ctx.error.message);
    if (hop_backward(run->g, loss) != HOP_OK)
        return run_fail(run, run->ctx.error.status, "%s", run->ctx.error.message);
    run->loss = loss->value.data[0];
    return HOP_OK;
}

/* Comparisons. */

static hop_status compare_node(golden_run *run, const char *what, const hop_node *n,
                               const hop_golden_tensor *ref)
{
    if (!ref)
        return run_fail(run, HOP_ERR_DATA, "no reference record for the %s", what);
    if (!hop_shape_equal(n->value.ndim, n->value.shape, ref->ndim, ref->shape)) {
        char a[64], b[64];
        return run_fail(run, HOP_ERR_DATA, "%s has shape %s in hop, %s in the reference", what,
                        hop_shape_format(n->value.ndim, n->value.shape, a, sizeof a),
                        hop_shape_format(ref->ndim, ref->shape, b, sizeof b));
    }
    return compare(run, what, n->value.data, ref->values, ref->numel);
}

static hop_status compare_forward(golden_run *run)
{
    const hop_golden_case *c = run->c;
    hop_status status = compare_node(run, "output", run->output, find_kind(c, HOP_GOLDEN_OUTPUT64));
    /* The text format has no float64 association matrix, so the float32 one is the reference. */
    if (status == HOP_OK)
        status = compare_node(run, "association matrix", run->info.association,
                              find_kind(c, HOP_GOLDEN_ASSOC));
    if (status == HOP_OK && c->has_loss64)
        status = compare(run, "loss", &run->loss, &c->loss64, 1);
    if (status == HOP_OK && c->n_update_steps != run->info.num_heads)
        return run_fail(run, HOP_ERR_DATA, "update_steps_taken lists %d heads, hop has %d",
                        c->n_update_steps, run->info.num_heads);
    for (int h = 0; status == HOP_OK && h < c->n_update_steps; h++) {
        char what[64];
        snprintf(what, sizeof what, "update steps of head %d", h);
        status = compare_count(run, what, run->info.update_steps[h], c->update_steps[h]);
    }
    return status;
}

static hop_status compare_input_grads(golden_run *run)
{
    for (int i = 0; i < run->n_inputs; i++) {
        char what[96];
        snprintf(what, sizeof what, "grad_input %s", run->input_names[i]);
        const hop_golden_tensor *ref =
            hop_golden_find(run->c, HOP_GOLDEN_GRAD_INPUT64, run->input_names[i]);
        if (!ref || ref->none || ref->numel != hop_tensor_numel(&run->inputs[i]->value))
            return run_fail(run, HOP_ERR_DATA, "no usable grad_input64 record '%s'",
                            run->input_names[i]);
        hop_status status = compare(run, what, run->inputs[i]->grad, ref->values, ref->numel);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

/* The reference gradient of a parameter added into sum; a "none" record reads as zeros. */
static hop_status add_reference_grad(golden_run *run, int id, double *sum)
{
    const hop_param_info *info = &run->ps.info[id];
    const hop_golden_tensor *ref = hop_golden_find(run->c, HOP_GOLDEN_GRAD_PARAM64, info->name);
    if (!ref)
        return run_fail(run, HOP_ERR_DATA, "no grad_param64 record '%s'", info->name);
    if (ref->none)
        return HOP_OK;
    if (ref->numel != info->numel)
        return run_fail(run, HOP_ERR_DATA, "grad_param64 '%s' has %zu values, hop %zu", info->name,
                        ref->numel, info->numel);
    for (size_t k = 0; k < info->numel; k++)
        sum[k] += ref->values[k];
    return HOP_OK;
}

/* Compares the summed gradient of ids (one parameter when n is 1). */
static hop_status compare_param_group(golden_run *run, const int *ids, int n, const char *what)
{
    size_t numel = run->ps.info[ids[0]].numel;
    float *hop_sum = calloc(numel ? numel : 1, sizeof *hop_sum);
    double *ref_sum = calloc(numel ? numel : 1, sizeof *ref_sum);
    hop_status status = hop_sum && ref_sum ? HOP_OK : run_fail(run, HOP_ERR_NOMEM, "out of memory");
    for (int m = 0; status == HOP_OK && m < n; m++) {
        const hop_param_info *info = &run->ps.info[ids[m]];
        if (info->numel != numel) {
            status = run_fail(run, HOP_ERR_DATA, "merged LayerNorms differ in width");
            break;
        }
        for (size_t k = 0; k < numel; k++)
            hop_sum[k] += run->ps.grads[info->offset + k];
        status = add_reference_grad(run, ids[m], ref_sum);
    }
    if (status == HOP_OK)
        status = compare(run, what, hop_sum, ref_sum, numel);
    free(hop_sum);
    free(ref_sum);
    return status;
}

/*
 * Where the reference took every projection from one LayerNorm because its inputs were
 * equal ("self": all three, "encdec": stored and projection), its gradient of those
 * LayerNorms is merged, and hop's separate gradients must sum to it. Marks them in done.
 */
static hop_status compare_merged_norms(golden_run *run, bool *done)
{
    static const char *const norms[3] = {"norm_stored_pattern", "norm_state_pattern",
                                         "norm_pattern_projection"};
    static const char *const suffixes[2] = {"weight", "bias"};
    const char *path = run->c->projection_path ? run->c->projection_path : "generic";
    int members[3] = {0, 1, 2}, n_members = 3;
    if (strcmp(path, "encdec") == 0)
        members[1] = 2, n_members = 2;
    else if (strcmp(path, "self") != 0)
        return HOP_OK;

    const char *core = run->config.module == HOP_GOLDEN_HOPFIELD ? "" : "hopfield.";
    for (int s = 0; s < 2; s++) {
        int ids[3];
        bool present = true;
        for (int m = 0; m < n_members; m++) {
            char name[HOP_PARAM_NAME_MAX];
            snprintf(name, sizeof name, "%s%s.%s", core, norms[members[m]], suffixes[s]);
            ids[m] = hop_params_find(&run->ps, name);
            present = present && ids[m] >= 0;
        }
        if (!present)
            continue;
        char what[128];
        snprintf(what, sizeof what, "grad_param summed %s of the %s-path LayerNorms", suffixes[s],
                 path);
        hop_status status = compare_param_group(run, ids, n_members, what);
        if (status != HOP_OK)
            return status;
        for (int m = 0; m < n_members; m++)
            done[ids[m]] = true;
    }
    return HOP_OK;
}

static hop_status compare_param_grads(golden_run *run)
{
    bool *done = calloc((size_t)run->ps.count + 1, sizeof *done);
    if (!done)
        return run_fail(run, HOP_ERR_NOMEM, "out of memory");
    hop_status status = compare_merged_norms(run, done);
    for (int id = 0; status == HOP_OK && id < run->ps.count; id++) {
        if (done[id])
            continue;
        char what[192];
        snprintf(what, sizeof what, "grad_param %s", run->ps.info[id].name);
        status = compare_param_group(run, &id, 1, what);
    }
    free(done);
    return status;
}

/* The reference tiles a per-head beta across features instead of giving head h beta[h]. */
static void mark_departure(golden_run *run)
{
    const hop_golden_config *gc = &run->config;
    bool differ = false;
    for (int h = 1; h < gc->n_head_scaling; h++)
        differ = differ || gc->head_scaling[h] != gc->head_scaling[0];
    if (!differ || run->result->verdict != HOP_GOLDEN_FAIL)
        return;
    run->result->verdict = HOP_GOLDEN_DEPARTURE;
    snprintf(run->result->note, sizeof run->result->note,
             "per-head scaling: the reference multiplies feature j by beta[j mod heads]; hop "
             "gives head h beta[h]");
}

static void run_free(golden_run *run)
{
    for (int i = 0; i < run->n_buffers; i++)
        free(run->buffers[i]);
    hop_graph_free(run->g);
    hop_params_free(&run->ps);
}

hop_status hop_golden_run_case(const hop_golden_case *c, hop_golden_result *result, hop_error *err)
{
    memset(result, 0, sizeof *result);
    result->worst_check = -1;
    golden_run *run = calloc(1, sizeof *run);
    if (!run)
        return hop_error_set(err, HOP_ERR_NOMEM, "golden case '%s': out of memory", c->name);
    run->c = c;
    run->result = result;
    run->err = err;
    hop_params_init(&run->ps);

    hop_status status = run_init(run);
    if (status == HOP_OK)
        status = load_params(run);
    if (status == HOP_OK)
        status = forward_backward(run);
    if (status == HOP_OK)
        status = compare_forward(run);
    if (status == HOP_OK)
        status = compare_input_grads(run);
    if (status == HOP_OK)
        status = compare_param_grads(run);
    if (status == HOP_OK)
        mark_departure(run);
    run_free(run);
    free(run);
    if (status != HOP_OK)
        hop_golden_result_free(result);
    return status;
}

void hop_golden_result_free(hop_golden_result *result)
{
    if (!result)
        return;
    free(result->checks);
    memset(result, 0, sizeof *result);
    result->worst_check = -1;
}
