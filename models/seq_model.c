/* The sequence MIL model: k-mer Embedding, mean over positions, dense layers, HopfieldPooling. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hop/mil.h"
#include "mil_parts.h"

void hop_seq_model_defaults(hop_seq_model_config *config)
{
    memset(config, 0, sizeof *config);
    config->kmer = 3;
    config->embed_dim = 32;
    config->dense_layers = 1;
    config->dense_width = 32;
    config->heads = 2;
    config->head_dim = 16;
    config->pool_output = 32;
    /*
     * Without dropout, 2 of 5 folds of 100 bags x 1000 sequences (witness rate 1%) fitted the
     * training bags through the k-mer table instead of the motif (train loss 0, test AUC 0.5).
     */
    config->dropout = 0.2f;
}

static hop_status check_config(const hop_seq_model_config *c, hop_error *err)
{
    if (c->kmer < 1 || c->kmer > HOP_SEQ_MAX_KMER)
        return hop_error_set(err, HOP_ERR_ARG, "sequence model: k-mer length %d; use 1 to %d",
                             c->kmer, HOP_SEQ_MAX_KMER);
    if (c->embed_dim < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "sequence model: embedding width %d must be "
                             "positive",
                             c->embed_dim);
    if (c->dense_layers < 0 || c->dense_layers > HOP_MIL_MAX_EMBED)
        return hop_error_set(err, HOP_ERR_ARG, "sequence model: %d dense layers; use 0 to %d",
                             c->dense_layers, HOP_MIL_MAX_EMBED);
    if (c->dense_layers > 0 && c->dense_width < 1)
        return hop_error_set(err, HOP_ERR_ARG, "sequence model: dense width %d must be positive",
                             c->dense_width);
    return HOP_OK;
}

static int vocabulary(int kmer)
{
    int v = 1;
    for (int i = 0; i < kmer; i++)
        v *= HOP_AMINO_ACID_COUNT;
    return v + 1;
}

hop_status hop_seq_model_init(hop_seq_model *model, const hop_seq_model_config *config,
                              hop_params *params, hop_rng *rng, hop_error *err)
{
    memset(model, 0, sizeof *model);
    hop_status status = check_config(config, err);
    if (status != HOP_OK)
        return status;
    model->config = *config;
    model->vocab = vocabulary(config->kmer);

    hop_embedding_config ec = hop_embedding_config_default(model->vocab, config->embed_dim);
    ec.padding_idx = 0;
    /* Small rows keep the random k-mers quiet at the start, so the motif k-mers stand out. */
    ec.init_std = 0.1f;
    status = hop_embedding_layer_init(&model->embedding, &ec, params, "embedding", rng, err);
    if (status == HOP_OK)
        status =
            hop_mil_linear_stack_init(model->dense, config->dense_layers, "dense",
                                      config->embed_dim, config->dense_width, params, rng, err);
    if (status != HOP_OK)
        return status;

    hop_mil_head_config head = {
        .input_width = config->dense_layers > 0 ? config->dense_width : config->embed_dim,
        .heads = config->heads,
        .head_dim = config->head_dim,
        .pool_output = config->pool_output,
        .beta = config->beta,
        .update_steps = config->update_steps,
        .dropout = config->dropout,
    };
    return hop_mil_head_init(&model->pool, &model->output, &head, params, rng, err);
}

/* Writes the k-mer indices of one sequence (1-based, 0 is padding); returns their count. */
static int kmer_tokens(const char *residues, int length, int kmer, int *out)
{
    int count = length - kmer + 1;
    for (int p = 0; p < count; p++) {
        int index = 0;
        for (int j = kmer - 1; j >= 0; j--) {
            const char *at = strchr(HOP_AMINO_ACIDS, residues[p + j]);
            index = index * HOP_AMINO_ACID_COUNT + (int)(at - HOP_AMINO_ACIDS);
        }
        out[p] = index + 1;
    }
    return count > 0 ? count : 0;
}

static void batch_extents(const hop_seq_dataset *ds, const int *bags, int count, int kmer,
                          int *max_seqs, int *max_tokens)
{
    *max_seqs = 1;
    *max_tokens = 1;
    for (int i = 0; i < count; i++) {
        int first = ds->bag_start[bags[i]], last = ds->bag_start[bags[i] + 1];
        if (last - first > *max_seqs)
            *max_seqs = last - first;
        for (int s = first; s < last; s++)
            if (hop_seq_length(ds, s) - kmer + 1 > *max_tokens)
                *max_tokens = hop_seq_length(ds, s) - kmer + 1;
    }
}

hop_status hop_seq_batch_pack(hop_graph *g, const hop_seq_dataset *ds, const int *bags, int count,
                              int kmer, hop_seq_batch *b, hop_error *err)
{
    batch_extents(ds, bags, count, kmer, &b->max_seqs, &b->max_tokens);
    b->count = count;
    size_t slots = (size_t)count * (size_t)b->max_seqs;
    b->tokens = hop_graph_alloc(g, slots * (size_t)b->max_tokens * sizeof *b->tokens);
    b->inv_length = hop_graph_alloc(g, slots * sizeof *b->inv_length);
    b->mask = hop_graph_alloc(g, slots * sizeof *b->mask);
    b->targets = hop_graph_alloc(g, (size_t)count * sizeof *b->targets);
    if (!b->tokens || !b->inv_length || !b->mask || !b->targets)
        return hop_error_set(err, HOP_ERR_NOMEM,
                             "out of memory for a batch of %d bags (%zu "
                             "sequences of up to %d k-mers)",
                             count, slots, b->max_tokens);

    for (int i = 0; i < count; i++) {
        int first = ds->bag_start[bags[i]], size = ds->bag_start[bags[i] + 1] - first;
        for (int s = 0; s < b->max_seqs; s++) {
            size_t slot = (size_t)i * (size_t)b->max_seqs + (size_t)s;
            if (s >= size) {
                b->mask[slot] = 1.0f;
                b->inv_length[slot] = 1.0f;
                continue;
            }
            int n = kmer_tokens(hop_seq_residues(ds, first + s), hop_seq_length(ds, first + s),
                                kmer, b->tokens + slot * (size_t)b->max_tokens);
            if (n == 0)
                return hop_seq_check_kmer(ds, kmer, err);
            b->inv_length[slot] = 1.0f / (float)n;
        }
        b->targets[i] = (float)ds->labels[bags[i]];
    }
    return HOP_OK;
}

hop_node *hop_seq_model_forward(hop_graph *g, hop_params *params, const hop_seq_model *model,
                                const hop_seq_batch *b, hop_hopfield_info *pool_info)
{
    const hop_seq_model_config *c = &model->config;
    int token_shape[3] = {b->count, b->max_seqs, b->max_tokens};
    int slot_shape[3] = {b->count, b->max_seqs, 1};
    int mask_shape[2] = {b->count, b->max_seqs};

    hop_node *rows =
        hop_embedding_layer_forward(g, params, &model->embedding, b->tokens, 3, token_shape);
    hop_node *inv_length = hop_input(g, 3, slot_shape, b->inv_length);
    hop_node *h = hop_mul(g, hop_sum(g, rows, 2, 0), inv_length);
    for (int i = 0; i < c->dense_layers; i++)
        h = hop_relu(g, hop_linear_forward(g, params, &model->dense[i], h));

    hop_node *mask = hop_input(g, 2, mask_shape, b->mask);
    hop_node *pooled = hop_hopfield_pooling_forward(g, params, &model->pool, h, mask, pool_info);
    return hop_linear_forward(g, params, &model->output, hop_relu(g, pooled));
}
