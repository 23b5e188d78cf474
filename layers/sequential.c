/* Activations by kind and the Sequential container. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/module.h"

static const char *const activation_names[HOP_ACT_COUNT] = {
    "relu", "leaky_relu", "elu", "selu", "gelu", "tanh", "sigmoid", "softplus",
};

const char *hop_activation_name(hop_activation kind)
{
    if ((int)kind < 0 || kind >= HOP_ACT_COUNT)
        return "unknown";
    return activation_names[kind];
}

hop_node *hop_activation_apply(hop_graph *g, hop_activation kind, hop_node *x, float arg0,
                               float arg1)
{
    switch (kind) {
    case HOP_ACT_RELU: return hop_relu(g, x);
    case HOP_ACT_LEAKY_RELU: return hop_leaky_relu(g, x, arg0);
    case HOP_ACT_ELU: return hop_elu(g, x, arg0);
    case HOP_ACT_SELU: return hop_selu(g, x);
    case HOP_ACT_GELU: return hop_gelu(g, x);
    case HOP_ACT_TANH: return hop_tanh(g, x);
    case HOP_ACT_SIGMOID: return hop_sigmoid(g, x);
    case HOP_ACT_SOFTPLUS: return hop_softplus(g, x, arg0, arg1);
    default:
        hop_error_set(&hop_graph_ctx(g)->error, HOP_ERR_ARG, "activation: unknown kind %d",
                      (int)kind);
        return NULL;
    }
}

hop_status hop_sequential_init(hop_sequential *seq, const char *prefix, hop_error *err)
{
    memset(seq, 0, sizeof *seq);
    seq->training = true;
    if (!prefix)
        return HOP_OK;
    if (strlen(prefix) >= sizeof seq->prefix)
        return hop_error_set(err, HOP_ERR_ARG,
                             "sequential: prefix '%s' is longer than %zu characters", prefix,
                             sizeof seq->prefix - 1);
    strcpy(seq->prefix, prefix);
    return HOP_OK;
}

void hop_sequential_free(hop_sequential *seq)
{
    free(seq->entries);
    seq->entries = NULL;
    seq->count = seq->capacity = 0;
}

/* Returns a zeroed entry at the end of the list, not yet counted, or NULL without memory. */
static hop_module_entry *entry_reserve(hop_sequential *seq, hop_error *err)
{
    if (seq->count == seq->capacity) {
        int capacity = seq->capacity ? seq->capacity * 2 : 8;
        hop_module_entry *entries = realloc(seq->entries, (size_t)capacity * sizeof *entries);
        if (!entries) {
            hop_error_set(err, HOP_ERR_NOMEM, "sequential '%s': out of memory adding entry %d",
                          seq->prefix, seq->count);
            return NULL;
        }
        seq->entries = entries;
        seq->capacity = capacity;
    }
    hop_module_entry *entry = &seq->entries[seq->count];
    memset(entry, 0, sizeof *entry);
    return entry;
}

/* Writes the parameter prefix of the next entry, "<prefix>.<index>" or "<index>". */
static hop_status entry_prefix(const hop_sequential *seq, char *buf, size_t size, hop_error *err)
{
    char index[16];
    snprintf(index, sizeof index, "%d", seq->count);
    return hop_layer_param_name(buf, size, seq->prefix, index, err);
}

hop_status hop_sequential_add_linear(hop_sequential *seq, hop_params *params,
                                     const hop_linear_config *config, hop_rng *rng, hop_error *err)
{
    char prefix[HOP_PARAM_NAME_MAX];
    hop_module_entry *entry = entry_reserve(seq, err);
    if (!entry)
        return err ? err->status : HOP_ERR_NOMEM;
    hop_status status = entry_prefix(seq, prefix, sizeof prefix, err);
    if (status != HOP_OK)
        return status;

    entry->kind = HOP_MODULE_LINEAR;
    status = hop_linear_init(&entry->layer.linear, config, params, prefix, rng, err);
    if (status == HOP_OK)
        seq->count++;
    return status;
}

hop_status hop_sequential_add_layernorm(hop_sequential *seq, hop_params *params,
                                        const hop_layernorm_config *config, hop_error *err)
{
    char prefix[HOP_PARAM_NAME_MAX];
    hop_module_entry *entry = entry_reserve(seq, err);
    if (!entry)
        return err ? err->status : HOP_ERR_NOMEM;
    hop_status status = entry_prefix(seq, prefix, sizeof prefix, err);
    if (status != HOP_OK)
        return status;

    entry->kind = HOP_MODULE_LAYERNORM;
    status = hop_layernorm_layer_init(&entry->layer.layernorm, config, params, prefix, err);
    if (status == HOP_OK)
        seq->count++;
    return status;
}

hop_status hop_sequential_add_dropout(hop_sequential *seq, float p, hop_error *err)
{
    hop_module_entry *entry = entry_reserve(seq, err);
    if (!entry)
        return err ? err->status : HOP_ERR_NOMEM;
    entry->kind = HOP_MODULE_DROPOUT;
    hop_status status = hop_dropout_layer_init(&entry->layer.dropout, p, err);
    if (status == HOP_OK)
        seq->count++;
    return status;
}

hop_status hop_sequential_add_activation(hop_sequential *seq, hop_activation kind, float arg0,
                                         float arg1, hop_error *err)
{
    if ((int)kind < 0 || kind >= HOP_ACT_COUNT)
        return hop_error_set(err, HOP_ERR_ARG, "sequential '%s': unknown activation kind %d",
                             seq->prefix, (int)kind);
    hop_module_entry *entry = entry_reserve(seq, err);
    if (!entry)
        return err ? err->status : HOP_ERR_NOMEM;
    entry->kind = HOP_MODULE_ACTIVATION;
    entry->layer.activation = kind;
    entry->arg0 = arg0;
    entry->arg1 = arg1;
    seq->count++;
    return HOP_OK;
}

void hop_sequential_set_training(hop_sequential *seq, bool training)
{
    seq->training = training;
}

static hop_node *entry_forward(hop_graph *g, hop_params *params, const hop_sequential *seq,
                               const hop_module_entry *entry, hop_node *x)
{
    switch (entry->kind) {
    case HOP_MODULE_LINEAR: return hop_linear_forward(g, params, &entry->layer.linear, x);
    case HOP_MODULE_LAYERNORM:
        return hop_layernorm_layer_forward(g, params, &entry->layer.layernorm, x);
    case HOP_MODULE_DROPOUT:
        if (!seq->training)
            return x;
        return hop_dropout_layer_forward(g, params, &entry->layer.dropout, x);
    default: return hop_activation_apply(g, entry->layer.activation, x, entry->arg0, entry->arg1);
    }
}

hop_node *hop_sequential_forward(hop_graph *g, hop_params *params, const hop_sequential *seq,
                                 hop_node *x)
{
    for (int i = 0; i < seq->count && x; i++)
        x = entry_forward(g, params, seq, &seq->entries[i], x);
    return x;
}

/* The parameter ids of an entry, -1 where it has none. */
static void entry_param_ids(const hop_module_entry *entry, int ids[2])
{
    ids[0] = ids[1] = -1;
    if (entry->kind == HOP_MODULE_LINEAR) {
        ids[0] = entry->layer.linear.weight_id;
        ids[1] = entry->layer.linear.bias_id;
    } else if (entry->kind == HOP_MODULE_LAYERNORM) {
        ids[0] = entry->layer.layernorm.weight_id;
        ids[1] = entry->layer.layernorm.bias_id;
    }
}

hop_status hop_sequential_set_frozen(const hop_sequential *seq, hop_params *params, bool frozen,
                                     hop_error *err)
{
    for (int i = 0; i < seq->count; i++) {
        int ids[2];
        entry_param_ids(&seq->entries[i], ids);
        for (int k = 0; k < 2; k++) {
            if (ids[k] < 0)
                continue;
            if (ids[k] >= params->count)
                return hop_error_set(err, HOP_ERR_ARG,
                                     "sequential '%s': entry %d has parameter id %d but the "
                                     "store has %d; pass the store the container was built in",
                                     seq->prefix, i, ids[k], params->count);
            params->info[ids[k]].frozen = frozen;
        }
    }
    return HOP_OK;
}
