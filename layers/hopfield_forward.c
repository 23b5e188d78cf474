/* Hopfield association core: the graph of one forward run, masks, update steps and energy. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/layers.h"

enum { PART_Q, PART_K, PART_V };

/* Accessors of a forward run. */

hop_status hop_hopfield_info_association(const hop_hopfield_info *info, float *out, size_t count,
                                         hop_error *err)
{
    if (!info || !info->association)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield: no association matrix; run a forward with this info");
    size_t numel = hop_tensor_numel(&info->association->value);
    if (count != numel)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "hopfield: association matrix has %zu elements, buffer holds %zu",
                             numel, count);
    memcpy(out, info->association->value.data, numel * sizeof *out);
    return HOP_OK;
}

hop_status hop_hopfield_info_energy(const hop_hopfield_info *info, int head, float *out,
                                    size_t count, hop_error *err)
{
    if (!info || !info->energy)
        return hop_error_set(err, HOP_ERR_ARG,
                             "hopfield: no energies; run a forward with record_energy set");
    if (head < 0 || head >= info->num_heads)
        return hop_error_set(err, HOP_ERR_ARG, "hopfield: head %d is invalid; the layer has %d",
                             head, info->num_heads);
    size_t numel =
        (size_t)(info->update_steps[head] + 1) * (size_t)info->batch * (size_t)info->queries;
    if (count != numel)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "hopfield: head %d has %zu energies, buffer holds %zu", head, numel,
                             count);
    memcpy(out, info->energy[head], numel * sizeof *out);
    return HOP_OK;
}

hop_node *hop_mask_from_integers(hop_graph *g, int ndim, const int *shape, const void *data,
                                 size_t element_size)
{
    if (element_size != 1 && element_size != 2 && element_size != 4 && element_size != 8) {
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG,
                      "hopfield: mask element size %zu is invalid; use 1, 2, 4 or 8 bytes",
                      element_size);
        return NULL;
    }
    hop_node *mask = hop_constant(g, ndim, shape, NULL);
    if (!mask)
        return NULL;
    const unsigned char *bytes = data;
    size_t n = hop_tensor_numel(&mask->value);
    for (size_t i = 0; i < n; i++) {
        bool set = false;
        for (size_t b = 0; b < element_size; b++)
            set = set || bytes[i * element_size + b] != 0;
        mask->value.data[i] = set ? 1.0f : 0.0f;
    }
    return mask;
}

/* Forward: input checks. */

static hop_status fail_shape(hop_graph *g, const char *what, const hop_node *x,
                             const char *expected)
{
    char shape[64];
    return hop_error_set(
        &hop_graph_ctx(g)->error, HOP_ERR_SHAPE, "hopfield: %s has shape %s, expected %s", what,
        hop_shape_format(x->value.ndim, x->value.shape, shape, sizeof shape), expected);
}

/* Sizes of one run: batch, state patterns, stored patterns and the extra columns. */
typedef struct run_sizes {
    int batch, queries, count, extra, heads;
} run_sizes;

static hop_status check_patterns(hop_graph *g, const hop_hopfield *layer,
                                 const hop_hopfield_inputs *in, run_sizes *sizes)
{
    char expected[96];
    const hop_node *y = in->stored, *r = in->state, *v = in->projection;
    snprintf(expected, sizeof expected, "(B or 1, S, %d)", layer->stored_width);
    if (y->value.ndim != 3 || y->value.shape[2] != layer->stored_width)
        return fail_shape(g, "stored patterns", y, expected);

    int stored_batch = y->value.shape[0], count = y->value.shape[1];
    snprintf(expected, sizeof expected, "(%d, %d, %d)", stored_batch, count,
             layer->projection_width);
    if (v->value.ndim != 3 || v->value.shape[0] != stored_batch || v->value.shape[1] != count ||
        v->value.shape[2] != layer->projection_width)
        return fail_shape(g, "pattern projection", v, expected);

    snprintf(expected, sizeof expected, "(%d or 1, L, %d)", stored_batch, layer->state_width);
    int state_batch = r->value.ndim == 3 ? r->value.shape[0] : -1;
    bool batches_fit = state_batch == stored_batch || state_batch == 1 || stored_batch == 1;
    if (r->value.ndim != 3 || r->value.shape[2] != layer->state_width || !batches_fit)
        return fail_shape(g, "state patterns", r, expected);

    sizes->batch = stored_batch > state_batch ? stored_batch : state_batch;
    sizes->queries = r->value.shape[1];
    sizes->count = count;
    sizes->heads = layer->config.num_heads;
    sizes->extra = layer->config.concat_bias_pattern + layer->config.add_zero_association;
    return HOP_OK;
}

static hop_status check_masks(hop_graph *g, const hop_hopfield_inputs *in, const run_sizes *s)
{
    char expected[128];
    const hop_node *p = in->padding_mask, *a = in->association_mask;
    snprintf(expected, sizeof expected, "(%d, %d)", s->batch, s->count);
    if (p && (p->value.ndim != 2 || p->value.shape[0] != s->batch || p->value.shape[1] != s->count))
        return fail_shape(g, "padding mask", p, expected);
    if (!a)
        return HOP_OK;

    const int *shape = a->value.shape;
    bool fits = false;
    if (a->value.ndim == 2)
        fits = shape[0] == s->queries && shape[1] == s->count;
    else if (a->value.ndim == 3)
        fits = shape[0] == s->batch * s->heads && shape[1] == s->queries && shape[2] == s->count;
    else if (a->value.ndim == 4)
        fits = shape[0] == s->batch && shape[1] == s->heads && shape[2] == s->queries &&
               shape[3] == s->count;
    snprintf(expected, sizeof expected, "(%d, %d), (%d, %d, %d) or (%d, %d, %d, %d)", s->queries,
             s->count, s->batch * s->heads, s->queries, s->count, s->batch, s->heads, s->queries,
             s->count);
    return fits ? HOP_OK : fail_shape(g, "association mask", a, expected);
}

static size_t index4(const hop_node *x, int b, int h, int i, int j)
{
    const int *s = x->value.shape;
    size_t bb = s[0] == 1 ? 0 : (size_t)b, hh = s[1] == 1 ? 0 : (size_t)h;
    size_t ii = s[2] == 1 ? 0 : (size_t)i, jj = s[3] == 1 ? 0 : (size_t)j;
    return ((bb * (size_t)s[1] + hh) * (size_t)s[2] + ii) * (size_t)s[3] + jj;
}

/* Forward: masks, combined on the host because they are constants of the graph. */

typedef struct run_masks {
    hop_node *blocked;  /* (B or 1, heads or 1, L or 1, S'), nonzero = blocked, or NULL */
    hop_node *additive; /* (1 or B, heads or 1, L, S'), added to the scores, or NULL */
} run_masks;

/* Row of the association mask for sample b, head h and state pattern l. */
static size_t mask_row(const hop_node *a, const run_sizes *s, size_t b, size_t h, size_t l)
{
    if (a->value.ndim == 2)
        return l;
    return (b * (size_t)s->heads + h) * (size_t)s->queries + l;
}

static bool is_blocked(const hop_hopfield_inputs *in, const run_sizes *s, size_t b, size_t h,
                       size_t l, int j)
{
    const hop_node *p = in->padding_mask, *a = in->association_mask;
    if (p && p->value.data[b * (size_t)s->count + (size_t)j] != 0.0f)
        return true;
    if (!a)
        return false;
    float m = a->value.data[mask_row(a, s, b, h, l) * (size_t)s->count + (size_t)j];
    return in->association_mask_additive ? m == -INFINITY : m != 0.0f;
}

/* Fills a 4-axis mask constant row by row; extra columns stay 0 (live, nothing added). */
static void fill_blocked(const hop_hopfield_inputs *in, const run_sizes *s, hop_node *mask)
{
    const int *shape = mask->value.shape;
    int width = shape[3];
    for (size_t b = 0; b < (size_t)shape[0]; b++)
        for (size_t h = 0; h < (size_t)shape[1]; h++)
            for (size_t l = 0; l < (size_t)shape[2]; l++) {
                float *out = mask->value.data + index4(mask, (int)b, (int)h, (int)l, 0);
                for (int j = 0; j < width && j < s->count; j++)
                    out[j] = is_blocked(in, s, b, h, l, j) ? 1.0f : 0.0f;
            }
}

static void fill_additive(const hop_hopfield_inputs *in, const run_sizes *s, hop_node *mask)
{
    const hop_node *a = in->association_mask;
    const int *shape = mask->value.shape;
    for (size_t b = 0; b < (size_t)shape[0]; b++)
        for (size_t h = 0; h < (size_t)shape[1]; h++)
            for (size_t l = 0; l < (size_t)shape[2]; l++) {
                float *out = mask->value.data + index4(mask, (int)b, (int)h, (int)l, 0);
                const float *m = a->value.data + mask_row(a, s, b, h, l) * (size_t)s->count;
                for (int j = 0; j < s->count; j++)
                    out[j] = m[j] == -INFINITY ? 0.0f : m[j];
            }
}

static hop_status build_masks(hop_graph *g, const hop_hopfield_inputs *in, const run_sizes *s,
                              run_masks *masks)
{
    masks->blocked = masks->additive = NULL;
    const hop_node *p = in->padding_mask, *a = in->association_mask;
    if (!p && !a)
        return HOP_OK;

    bool per_head = a && a->value.ndim > 2;
    int width = s->count + s->extra;
    int shape[4] = {p || per_head ? s->batch : 1, per_head ? s->heads : 1, a ? s->queries : 1,
                    width};
    masks->blocked = hop_constant(g, 4, shape, NULL);
    if (!masks->blocked)
        return hop_graph_ctx(g)->error.status;
    fill_blocked(in, s, masks->blocked);
    if (!a || !in->association_mask_additive)
        return HOP_OK;

    int add_shape[4] = {per_head ? s->batch : 1, shape[1], s->queries, width};
    masks->additive = hop_constant(g, 4, add_shape, NULL);
    if (!masks->additive)
        return hop_graph_ctx(g)->error.status;
    fill_additive(in, s, masks->additive);
    return HOP_OK;
}

/* Forward: projections and heads. */

static hop_node *part_weight(hop_graph *g, hop_params *params, const hop_hopfield *layer, int part)
{
    const hop_hopfield_config *c = &layer->config;
    if (!layer->packed) {
        int ids[3] = {layer->q_proj_weight_id, layer->k_proj_weight_id, layer->v_proj_weight_id};
        return hop_param(g, params, ids[part]);
    }
    int rows = c->num_heads * (part == PART_V ? c->pattern_size : c->hidden_size);
    int start = layer->weight_rows[part];
    return hop_slice(g, hop_param(g, params, layer->in_proj_weight_id), 0, start, start + rows);
}

static hop_node *part_bias(hop_graph *g, hop_params *params, const hop_hopfield *layer, int part,
                           hop_node *y)
{
    const hop_hopfield_config *c = &layer->config;
    if (layer->in_proj_bias_id < 0 || layer->bias_offsets[part] < 0)
        return y;
    int rows = c->num_heads * (part == PART_V ? c->pattern_size : c->hidden_size);
    int start = layer->bias_offsets[part];
    hop_node *bias = hop_param(g, params, layer->in_proj_bias_id);
    return hop_add(g, y, hop_slice(g, bias, 0, start, start + rows));
}

static hop_node *project(hop_graph *g, hop_params *params, const hop_hopfield *layer, hop_node *x,
                         int part)
{
    hop_node *y = hop_matmul(g, x, part_weight(g, params, layer, part), 0, 1);
    return part_bias(g, params, layer, part, y);
}

/* (B, N, heads * width) -> (B, heads, N, width); head h owns a contiguous feature block. */
static hop_node *split_heads(hop_graph *g, hop_node *x, int heads, int width)
{
    if (!x)
        return NULL;
    int shape[4] = {x->value.shape[0], x->value.shape[1], heads, width};
    static const int perm[4] = {0, 2, 1, 3};

    /* Swapping an axis of extent 1 moves no data, so a view serves. */
    if (heads == 1 || shape[1] == 1) {
        int swapped[4] = {shape[0], shape[2], shape[1], shape[3]};
        return hop_reshape(g, x, 4, swapped);
    }
    return hop_permute(g, hop_reshape(g, x, 4, shape), perm);
}

/* (B, heads, N, width) -> (B, N, heads * width). */
static hop_node *merge_heads(hop_graph *g, hop_node *x)
{
    if (!x)
        return NULL;
    static const int perm[4] = {0, 2, 1, 3};
    int shape[3] = {x->value.shape[0], x->value.shape[2], x->value.shape[1] * x->value.shape[3]};
    if (x->value.shape[1] == 1 || x->value.shape[2] == 1)
        return hop_reshape(g, x, 3, shape);
    return hop_reshape(g, hop_permute(g, x, perm), 3, shape);
}

/* A static side (B, N, width) given to every head: (B, heads, N, width), each sample its own. */
static hop_node *repeat_heads(hop_graph *g, hop_node *x, int heads)
{
    if (!x)
        return NULL;
    int shape[4] = {x->value.shape[0], 1, x->value.shape[1], x->value.shape[2]};
    hop_node *one = hop_reshape(g, x, 4, shape);
    if (heads == 1 || !one)
        return one;
    hop_node **copies = hop_graph_alloc(g, (size_t)heads * sizeof *copies);
    if (!copies)
        return NULL;
    for (int h = 0; h < heads; h++)
        copies[h] = one;
    return hop_concat(g, copies, heads, 1);
}

static hop_node *normalize_input(hop_graph *g, hop_params *params, const hop_layernorm_layer *norm,
                                 bool on, hop_node *x)
{
    return on ? hop_layernorm_layer_forward(g, params, norm, x) : x;
}

static hop_node *normalize_hopfield_space(hop_graph *g, hop_params *params,
                                          const hop_hopfield *layer, hop_node *x)
{
    const hop_hopfield_config *c = &layer->config;
    if (!c->normalize_hopfield_space || !x)
        return x;

    hop_node *gamma = NULL, *beta = NULL;
    if (c->normalize_hopfield_space_affine) {
        gamma = hop_param(g, params, layer->p_norm_weight_id);
        beta = hop_param(g, params, layer->p_norm_bias_id);
        if (!gamma || !beta)
            return NULL;
    }
    return hop_layernorm(g, x, gamma, beta, c->normalize_hopfield_space_eps);
}

static hop_node *project_values(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                hop_node *v)
{
    const hop_hopfield_config *c = &layer->config;
    int nh = c->num_heads;
    if (c->pattern_projection_as_connected) {
        hop_node *keyed = project(g, params, layer, v, PART_K);
        if (c->pattern_projection_as_static)
            return split_heads(g, keyed, nh, c->hidden_size);
        return split_heads(g, project(g, params, layer, keyed, PART_V), nh, c->pattern_size);
    }
    if (c->pattern_projection_as_static)
        return repeat_heads(g, v, nh);
    return split_heads(g, project(g, params, layer, v, PART_V), nh, c->pattern_size);
}

/* Appends a learned pattern (1, 1, heads * width) to x (B, heads, S, width) as row S. */
static hop_node *append_bias_pattern(hop_graph *g, hop_params *params, int id, hop_node *x)
{
    int batch = x->value.shape[0], heads = x->value.shape[1], width = x->value.shape[3];
    int shape[4] = {1, heads, 1, width};
    hop_node *bias = hop_reshape(g, hop_param(g, params, id), 4, shape);
    shape[0] = batch;
    hop_node *spread = hop_add(g, hop_constant(g, 4, shape, NULL), bias);
    hop_node *parts[2] = {x, spread};
    return spread ? hop_concat(g, parts, 2, 2) : NULL;
}

static hop_node *append_zero_pattern(hop_graph *g, hop_node *x)
{
    int shape[4] = {x->value.shape[0], x->value.shape[1], 1, x->value.shape[3]};
    hop_node *parts[2] = {x, hop_constant(g, 4, shape, NULL)};
    return parts[1] ? hop_concat(g, parts, 2, 2) : NULL;
}

static hop_node *append_extras(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                               hop_node *x, int bias_id)
{
    if (x && layer->config.concat_bias_pattern)
        x = append_bias_pattern(g, params, bias_id, x);
    if (x && layer->config.add_zero_association)
        x = append_zero_pattern(g, x);
    return x;
}

/* beta as a (1, heads, 1, 1) node: exp of the learned log beta, or a constant. */
static hop_node *beta_node(hop_graph *g, hop_params *params, const hop_hopfield *layer)
{
    int heads = layer->config.num_heads;
    int shape[4] = {1, heads, 1, 1};
    if (layer->beta_id >= 0)
        return hop_reshape(g, hop_exp(g, hop_param(g, params, layer->beta_id)), 4, shape);
    return hop_constant(g, 4, shape, layer->head_scaling);
}

/* Projected patterns of one forward run, split into heads. */
typedef struct hopfield_heads {
    hop_node *states; /* (B or 1, heads, L, hidden), before scaling */
    hop_node *keys;   /* (B or 1, heads, S', hidden) */
    hop_node *values; /* (B or 1, heads, S', pattern) */
    hop_node *beta;   /* (1, heads, 1, 1) */
} hopfield_heads;

static hop_status build_heads(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                              const hop_hopfield_inputs *in, hopfield_heads *heads)
{
    const hop_hopfield_config *c = &layer->config;
    hop_node *y = normalize_input(g, params, &layer->norm_stored_pattern,
                                  c->normalize_stored_pattern, in->stored);
    hop_node *r = normalize_input(g, params, &layer->norm_state_pattern, c->normalize_state_pattern,
                                  in->state);
    hop_node *v = normalize_input(g, params, &layer->norm_pattern_projection,
                                  c->normalize_pattern_projection, in->projection);

    int nh = c->num_heads;
    hop_node *q = c->state_pattern_as_static
                      ? repeat_heads(g, r, nh)
                      : split_heads(g, project(g, params, layer, r, PART_Q), nh, c->hidden_size);
    hop_node *k = c->stored_pattern_as_static
                      ? repeat_heads(g, y, nh)
                      : split_heads(g, project(g, params, layer, y, PART_K), nh, c->hidden_size);
    heads->states = normalize_hopfield_space(g, params, layer, q);
    k = normalize_hopfield_space(g, params, layer, k);
    heads->keys = append_extras(g, params, layer, k, layer->bias_k_id);
    heads->values =
        append_extras(g, params, layer, project_values(g, params, layer, v), layer->bias_v_id);
    heads->beta = beta_node(g, params, layer);
    if (!heads->states || !heads->keys || !heads->values || !heads->beta)
        return hop_graph_ctx(g)->error.status;
    return HOP_OK;
}

/* Forward: separation, energy and update steps. */

/* Turns scores into the association matrix; the config check rejects unknown values. */
static hop_node *separate(hop_graph *g, hop_hopfield_separation separation, hop_node *scores,
                          hop_node *blocked)
{
    return hop_separate(g, (hop_separation)separation, scores, blocked);
}

typedef struct update_plan {
    hop_graph *g;
    const hop_hopfield_config *config; /* update_steps_max and _eps, scalar or per head */
    int *update_steps;                 /* per head of the layer */
    float **energy;                    /* per head, or NULL without energy recording */
    size_t *energy_size;               /* floats stored per head */
    size_t *energy_cap;                /* floats allocated per head */
    int batch, queries;
} update_plan;

/* The part of x (extent 1 or heads on axis 1) that belongs to heads [h, h + 1). */
static hop_node *head_part(hop_graph *g, hop_node *x, int h)
{
    if (!x || x->value.shape[1] == 1)
        return x;
    return hop_slice(g, x, 1, h, h + 1);
}

/* The nodes one chain of heads shares; every one has the chain's heads (or 1) on axis 1. */
typedef struct chain {
    hop_node *keys, *beta, *blocked, *additive;
    int head0; /* first head of the layer in this chain */
} chain;

static chain chain_part(hop_graph *g, const chain *all, int h)
{
    chain part = {
        .keys = head_part(g, all->keys, h),
        .beta = head_part(g, all->beta, h),
        .blocked = head_part(g, all->blocked, h),
        .additive = head_part(g, all->additive, h),
        .head0 = all->head0 + h,
    };
    return part;
}

/*
 * E = -lse(beta, K q) + q.q / 2 over the live stored patterns, in the head's projected key
 * space. beta = 0 uses the limit without its infinite log(S) / beta term: -mean(K q) + q.q / 2.
 * NOTE: this is the energy of softmax; with sparsemax or entmax it is only a diagnostic.
 */
static float state_energy(const chain *ch, const hop_node *state, int b, int h, int l, float beta)
{
    const hop_node *k = ch->keys;
    int count = k->value.shape[2], width = k->value.shape[3];
    const float *q = state->value.data + index4(state, b, h, l, 0);
    double half_norm = 0.0, max = -INFINITY, sum = 0.0;
    for (int d = 0; d < width; d++)
        half_norm += 0.5 * (double)q[d] * q[d];

    int live = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < count; j++) {
            if (ch->blocked && ch->blocked->value.data[index4(ch->blocked, b, h, l, j)] != 0.0f)
                continue;
            const float *key = k->value.data + index4(k, b, h, j, 0);
            double dot = 0.0;
            for (int d = 0; d < width; d++)
                dot += (double)key[d] * q[d];
            if (pass == 0) {
                live++;
                sum += dot;
                max = fmax(max, (double)beta * dot);
            } else {
                sum += exp((double)beta * dot - max);
            }
        }
        if (live == 0)
            return (float)half_norm;
        if (beta == 0.0f)
            return (float)(-sum / live + half_norm);
        if (pass == 0)
            sum = 0.0;
    }
    return (float)(-(max + log(sum)) / beta + half_norm);
}

static hop_status record_energy(const update_plan *plan, const chain *ch, const hop_node *state)
{
    if (!plan->energy)
        return HOP_OK;
    int heads = ch->keys->value.shape[1];
    size_t block = (size_t)plan->batch * (size_t)plan->queries;
    for (int h = 0; h < heads; h++) {
        int head = ch->head0 + h;
        if (plan->energy_size[head] + block > plan->energy_cap[head]) {
            size_t cap = 2 * (plan->energy_cap[head] + block);
            float *grown = hop_graph_alloc(plan->g, cap * sizeof *grown);
            if (!grown)
                return hop_error_set(&hop_graph_ctx(plan->g)->error, HOP_ERR_NOMEM,
                                     "hopfield: out of graph memory for energies");
            if (plan->energy[head])
                memcpy(grown, plan->energy[head], plan->energy_size[head] * sizeof *grown);
            plan->energy[head] = grown;
            plan->energy_cap[head] = cap;
        }
        float beta = ch->beta->value.data[ch->beta->value.shape[1] == 1 ? 0 : h];
        float *out = plan->energy[head] + plan->energy_size[head];
        for (int b = 0; b < plan->batch; b++)
            for (int l = 0; l < plan->queries; l++)
                out[(size_t)b * (size_t)plan->queries + (size_t)l] =
                    state_energy(ch, state, b, h, l, beta);
        plan->energy_size[head] += block;
    }
    return HOP_OK;
}

/* One association of a state (before scaling): the separation of beta q K^T + mask. */
static hop_node *associate_state(const update_plan *plan, const chain *ch, hop_node *state)
{
    hop_graph *g = plan->g;
    if (!state || record_energy(plan, ch, state) != HOP_OK)
        return NULL;
    hop_node *scores = hop_matmul(g, hop_mul(g, state, ch->beta), ch->keys, 0, 1);
    if (ch->additive)
        scores = hop_add(g, scores, ch->additive);
    return separate(g, plan->config->separation, scores, ch->blocked);
}

/* Whether head `head` of the layer may take another update after `step` updates. */
static bool steps_remain(const update_plan *plan, int head, int step)
{
    const hop_hopfield_config *c = plan->config;
    int steps_max =
        c->n_head_update_steps_max > 0 ? c->head_update_steps_max[head] : c->update_steps_max;
    if (steps_max < 0)
        return step < HOP_HOPFIELD_UNBOUNDED_STEP_LIMIT;
    return step < steps_max;
}

static double head_eps(const update_plan *plan, int head)
{
    const hop_hopfield_config *c = plan->config;
    return c->n_head_update_steps_eps > 0 ? (double)c->head_update_steps_eps[head]
                                          : (double)c->update_steps_eps;
}

/* Largest Frobenius norm over the batch of the change of head h, both (B, heads, L, S). */
static double max_change(const hop_node *prev, const hop_node *next, int h)
{
    int batch = next->value.shape[0], heads = next->value.shape[1];
    size_t block = (size_t)next->value.shape[2] * (size_t)next->value.shape[3];
    double worst = 0.0;
    for (int b = 0; b < batch; b++) {
        size_t offset = ((size_t)b * (size_t)heads + (size_t)h) * block;
        const float *p = prev->value.data + offset, *q = next->value.data + offset;
        double sum = 0.0;
        for (size_t i = 0; i < block; i++) {
            double d = (double)q[i] - (double)p[i];
            sum += d * d;
        }
        if (sum > worst)
            worst = sum;
    }
    return sqrt(worst);
}

/* Marks the chain's heads that have updates left after `step`; returns how many. */
static int mark_remaining(const update_plan *plan, const chain *ch, int step, bool *active)
{
    int heads = ch->keys->value.shape[1], count = 0;
    for (int h = 0; h < heads; h++) {
        active[h] = steps_remain(plan, ch->head0 + h, step);
        count += active[h];
    }
    return count;
}

/* Decides from values, without gradients, which heads take another step after `step`. */
static int mark_active(const update_plan *plan, const chain *ch, const hop_node *prev,
                       const hop_node *next, int step, bool *active)
{
    int heads = next->value.shape[1], count = 0;
    for (int h = 0; h < heads; h++) {
        int head = ch->head0 + h;
        active[h] =
            steps_remain(plan, head, step) && max_change(prev, next, h) > head_eps(plan, head);
        count += active[h];
    }
    return count;
}

static hop_node *update_heads(const update_plan *plan, const chain *ch, hop_node *xi, int step);

/* Continues each still-active head on its own chain and joins the heads again. */
static hop_node *update_heads_apart(const update_plan *plan, const chain *ch, hop_node *xi,
                                    int step, const bool *active)
{
    hop_graph *g = plan->g;
    int heads = xi->value.shape[1];
    hop_node **parts = hop_graph_alloc(g, (size_t)heads * sizeof *parts);
    if (!parts)
        return NULL;

    for (int h = 0; h < heads; h++) {
        parts[h] = hop_slice(g, xi, 1, h, h + 1);
        chain part = chain_part(g, ch, h);
        if (active[h])
            parts[h] = update_heads(plan, &part, parts[h], step);
        else
            plan->update_steps[ch->head0 + h] = step;
        if (!parts[h])
            return NULL;
    }
    return hop_concat(g, parts, heads, 1);
}

/*
 * Runs the update steps of the chain's heads from xi, the association of step `step`, and
 * returns the final association. The heads share one chain while they agree on stopping. A
 * head that reaches its own step limit splits off like one that has converged.
 */
static hop_node *update_heads(const update_plan *plan, const chain *ch, hop_node *xi, int step)
{
    hop_graph *g = plan->g;
    int heads = ch->keys->value.shape[1];
    bool *active = hop_graph_alloc(g, (size_t)heads * sizeof *active);
    if (!active)
        return NULL;

    int count = mark_remaining(plan, ch, step, active);
    while (count == heads) {
        hop_node *next = associate_state(plan, ch, hop_matmul(g, xi, ch->keys, 0, 0));
        if (!next)
            return NULL;

        step++;
        count = mark_active(plan, ch, xi, next, step, active);
        xi = next;
    }
    if (count > 0)
        return update_heads_apart(plan, ch, xi, step, active);
    for (int h = 0; h < heads; h++)
        plan->update_steps[ch->head0 + h] = step;
    return xi;
}

static hop_status plan_energy(update_plan *plan, int heads)
{
    hop_graph *g = plan->g;
    plan->energy = hop_graph_alloc(g, (size_t)heads * sizeof *plan->energy);
    plan->energy_size = hop_graph_alloc(g, (size_t)heads * sizeof *plan->energy_size);
    plan->energy_cap = hop_graph_alloc(g, (size_t)heads * sizeof *plan->energy_cap);
    if (!plan->energy || !plan->energy_size || !plan->energy_cap)
        return hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_NOMEM,
                             "hopfield: out of graph memory for energies");
    return HOP_OK;
}

static hop_node *associate(hop_graph *g, const hop_hopfield *layer, const hopfield_heads *heads,
                           const run_masks *masks, const run_sizes *sizes, bool energy,
                           hop_hopfield_info *info)
{
    const hop_hopfield_config *c = &layer->config;
    update_plan plan = {
        .g = g,
        .config = c,
        .batch = sizes->batch,
        .queries = sizes->queries,
    };
    plan.update_steps = hop_graph_alloc(g, (size_t)c->num_heads * sizeof *plan.update_steps);
    if (!plan.update_steps || (energy && plan_energy(&plan, c->num_heads) != HOP_OK))
        return NULL;

    chain all = {
        .keys = heads->keys,
        .beta = heads->beta,
        .blocked = masks->blocked,
        .additive = masks->additive,
        .head0 = 0,
    };
    hop_node *xi = associate_state(&plan, &all, heads->states);
    if (xi)
        xi = update_heads(&plan, &all, xi, 0);
    if (xi && info) {
        info->association = xi;
        info->projected = heads->values;
        info->num_heads = c->num_heads;
        info->update_steps = plan.update_steps;
        info->energy = plan.energy;
        info->batch = sizes->batch;
        info->queries = sizes->queries;
    }
    return xi;
}

static hop_node *activate(hop_graph *g, hop_hopfield_activation activation, hop_node *x)
{
    switch (activation) {
    case HOP_HOPFIELD_ACTIVATION_NONE: return x;
    case HOP_HOPFIELD_ACTIVATION_RELU: return hop_relu(g, x);
    case HOP_HOPFIELD_ACTIVATION_TANH: return hop_tanh(g, x);
    case HOP_HOPFIELD_ACTIVATION_SIGMOID: return hop_sigmoid(g, x);
    }
    return x;
}

hop_node *hop_hopfield_forward_inputs(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                      const hop_hopfield_inputs *in, hop_hopfield_info *info)
{
    if (!in || !in->stored || !in->state || !in->projection)
        return NULL;
    run_sizes sizes = {0};
    if (check_patterns(g, layer, in, &sizes) != HOP_OK || check_masks(g, in, &sizes) != HOP_OK)
        return NULL;

    run_masks masks;
    hopfield_heads heads;
    if (build_masks(g, in, &sizes, &masks) != HOP_OK ||
        build_heads(g, params, layer, in, &heads) != HOP_OK)
        return NULL;

    const hop_hopfield_config *c = &layer->config;
    hop_node *xi = associate(g, layer, &heads, &masks, &sizes, in->record_energy, info);
    if (xi && c->dropout > 0.0f)
        xi = hop_dropout(g, xi, c->dropout);
    hop_node *out = merge_heads(g, hop_matmul(g, xi, heads.values, 0, 0));
    if (!c->disable_out_projection)
        out = hop_linear_forward(g, params, &layer->out_proj, out);
    return out ? activate(g, c->association_activation, out) : NULL;
}

hop_node *hop_hopfield_forward_patterns(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                                        hop_node *stored, hop_node *state, hop_node *projection,
                                        hop_node *mask, hop_hopfield_info *info)
{
    hop_hopfield_inputs in = {
        .stored = stored, .state = state, .projection = projection, .padding_mask = mask};
    return hop_hopfield_forward_inputs(g, params, layer, &in, info);
}

hop_node *hop_hopfield_forward(hop_graph *g, hop_params *params, const hop_hopfield *layer,
                               hop_node *x, hop_node *mask, hop_hopfield_info *info)
{
    return hop_hopfield_forward_patterns(g, params, layer, x, x, x, mask, info);
}
