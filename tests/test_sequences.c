/* Sequence bags: the TSV parser, the generator, the embedding op and hop mil --sequences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hop/data.h"
#include "hop/layers.h"
#include "hop/mil.h"
#include "support/gradcheck.h"
#include "support/shell.h"

static void parse_ok(const char *text, hop_seq_dataset *ds)
{
    hop_error err;
    cr_assert_eq(hop_seq_parse(text, strlen(text), "t.tsv", ds, &err), HOP_OK, "%s", err.message);
}

static void parse_fails(const char *text, hop_status expected, const char *message)
{
    hop_error err;
    hop_seq_dataset ds;
    hop_status status = hop_seq_parse(text, strlen(text), "t.tsv", &ds, &err);
    cr_assert_eq(status, expected, "status %d: %s", status, err.message);
    cr_assert(strstr(err.message, message) != NULL, "message: %s", err.message);
    cr_assert_null(ds.bag_start);
}

Test(sequences, parse_reads_bags_and_witnesses)
{
    hop_seq_dataset ds;
    parse_ok("bag_id\tlabel\tsequence\twitness\r\nA\t1\tCAS\t1\r\nA\t1\tWWY\t0\nB\t0\tKLM\t0\n\n",
             &ds);
    cr_assert_eq(ds.n_bags, 2);
    cr_assert_eq(ds.n_seqs, 3);
    cr_assert_str_eq(ds.bag_names[1], "B");
    cr_assert_eq(ds.labels[0], 1);
    cr_assert_eq(ds.bag_start[1], 2);
    cr_assert_eq(hop_seq_length(&ds, 1), 3);
    cr_assert_eq(strncmp(hop_seq_residues(&ds, 1), "WWY", 3), 0);
    cr_assert_not_null(ds.witness);
    cr_assert_eq(ds.witness[0], 1);
    hop_seq_free(&ds);

    parse_ok("x\t0\tAC", &ds);
    cr_assert_eq(ds.n_seqs, 1);
    cr_assert_null(ds.witness);
    hop_seq_free(&ds);
}

Test(sequences, parse_errors_name_line)
{
    parse_fails("A\t1\tCAS\nA\t1\tCAX\n", HOP_ERR_DATA,
                "t.tsv:2: residue 3 of the sequence is 'X'");
    parse_fails("A\t2\tCAS\n", HOP_ERR_DATA, "t.tsv:1: bag label '2' must be 0 or 1");
    parse_fails("A\t1\tCAS\nA\t0\tCAS\n", HOP_ERR_DATA, "t.tsv:2: bag 'A' has label 0 here");
    parse_fails("A\t1\tCAS\nB\t0\tCAS\nA\t1\tCAS\n", HOP_ERR_DATA, "bag 'A' are not consecutive");
    parse_fails("A\t1\n", HOP_ERR_PARSE, "t.tsv:1: 2 tab-separated fields");
    parse_fails("A\t1\tCAS\t1\nA\t1\tCAS\n", HOP_ERR_PARSE, "t.tsv:2: 3 fields, but earlier");
    parse_fails("A\t1\tCAS\n\nA\t1\tCAS\n", HOP_ERR_PARSE, "t.tsv:2: blank line");
    parse_fails("A\t1\t\n", HOP_ERR_DATA, "t.tsv:1: the sequence is empty");
    parse_fails("A\t1\tCAS\t7\n", HOP_ERR_DATA, "witness '7' must be 0 or 1");
    parse_fails("bag_id\tlabel\tsequence\n", HOP_ERR_DATA, "no sequences");
}

Test(sequences, format_round_trips)
{
    hop_seq_dataset ds, back;
    parse_ok("A\t1\tCAS\t1\nA\t1\tWWY\t0\nB\t0\tKLM\t0\n", &ds);
    char *text;
    size_t length;
    hop_error err;
    cr_assert_eq(hop_seq_format(&ds, &text, &length, &err), HOP_OK);
    cr_assert_str_eq(text, "bag_id\tlabel\tsequence\twitness\nA\t1\tCAS\t1\nA\t1\tWWY\t0\n"
                           "B\t0\tKLM\t0\n");
    parse_ok(text, &back);
    cr_assert_eq(back.n_seqs, 3);
    free(text);
    hop_seq_free(&ds);
    hop_seq_free(&back);
}

static void generate(uint64_t seed, const hop_seq_generator *g, hop_seq_dataset *ds)
{
    hop_rng rng;
    hop_rng_seed(&rng, seed);
    hop_error err;
    cr_assert_eq(hop_seq_generate(g, &rng, ds, &err), HOP_OK, "%s", err.message);
}

Test(sequences, generator_is_deterministic)
{
    hop_seq_generator g = hop_seq_generator_defaults();
    g.n_bags = 10;
    g.bag_size = 50;
    hop_seq_dataset a, b, c;
    generate(7, &g, &a);
    generate(7, &g, &b);
    generate(8, &g, &c);
    cr_assert_eq(a.n_seqs, b.n_seqs);
    cr_assert_eq(a.seq_start[a.n_seqs], b.seq_start[b.n_seqs]);
    cr_assert_eq(memcmp(a.residues, b.residues, a.seq_start[a.n_seqs]), 0);
    cr_assert_eq(memcmp(a.witness, b.witness, (size_t)a.n_seqs * sizeof(int)), 0);
    cr_assert(a.seq_start[a.n_seqs] != c.seq_start[c.n_seqs] ||
                  memcmp(a.residues, c.residues, a.seq_start[a.n_seqs]) != 0,
              "seeds 7 and 8 gave the same bags");
    hop_seq_free(&a);
    hop_seq_free(&b);
    hop_seq_free(&c);
}

Test(sequences, generator_implants_motif_at_rate)
{
    hop_seq_generator g = hop_seq_generator_defaults();
    g.n_bags = 6;
    g.bag_size = 1000;
    g.witness_rate = 0.001;
    hop_seq_dataset ds;
    generate(3, &g, &ds);
    int positives = 0;
    for (int b = 0; b < ds.n_bags; b++) {
        int witnesses = 0;
        for (int s = ds.bag_start[b]; s < ds.bag_start[b + 1]; s++) {
            int n = hop_seq_length(&ds, s);
            cr_assert(n >= g.length_min && n <= g.length_max, "length %d", n);
            char seq[64];
            memcpy(seq, hop_seq_residues(&ds, s), (size_t)n);
            seq[n] = '\0';
            if (ds.witness[s])
                cr_assert(strstr(seq, g.motif) != NULL, "witness %s lacks the motif", seq);
            witnesses += ds.witness[s];
        }
        cr_assert_eq(witnesses, ds.labels[b] ? 1 : 0, "bag %d has %d witnesses", b, witnesses);
        positives += ds.labels[b];
    }
    cr_assert_eq(positives, 3);
    hop_seq_free(&ds);
}

Test(sequences, generator_rejects_bad_motif)
{
    hop_seq_generator g = hop_seq_generator_defaults();
    g.motif = "SLGB";
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_seq_dataset ds;
    hop_error err;
    cr_assert_eq(hop_seq_generate(&g, &rng, &ds, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "motif 'SLGB'") != NULL, "message: %s", err.message);
}

static const int gather_index[5] = {2, 0, 3, 2, 1};

static hop_node *build_embedding(hop_graph *g, hop_node **inputs, const void *arg)
{
    const int *padding = arg;
    return hop_embedding(g, inputs[0], gather_index, 2, (int[]){5, 1}, *padding);
}

Test(sequences, embedding_gradient_matches_differences)
{
    float weight[4 * 3];
    for (int i = 0; i < 12; i++)
        weight[i] = 0.1f * (float)i - 0.4f;
    gradcheck_input in = {2, {4, 3}, weight, true};
    gradcheck_options options = gradcheck_defaults();
    gradcheck_result result;
    int padding = -1;
    cr_assert(gradcheck_run(&in, 1, build_embedding, &padding, &options, &result), "%s",
              result.message);
    padding = 2;
    cr_assert(gradcheck_run(&in, 1, build_embedding, &padding, &options, &result) == false,
              "the padding row must get no gradient, so the check must fail for row 2");
}

Test(sequences, embedding_padding_row_gets_no_gradient)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    float weight[4 * 3], grad_probe[3];
    for (int i = 0; i < 12; i++)
        weight[i] = (float)i;
    hop_node *w = hop_input_grad(g, 2, (int[]){4, 3}, weight);
    hop_node *rows = hop_embedding(g, w, gather_index, 1, (int[]){5}, 2);
    cr_assert_not_null(rows, "%s", ctx.error.message);
    cr_assert_eq(rows->value.shape[1], 3);
    cr_assert_float_eq(rows->value.data[0], 6.0f, 0.0f);
    cr_assert_float_eq(rows->value.data[3 * 4 + 2], 5.0f, 0.0f);
    cr_assert_eq(hop_backward(g, hop_sum(g, hop_sum(g, rows, 1, 0), 0, 0)), HOP_OK);
    memcpy(grad_probe, w->grad + 2 * 3, sizeof grad_probe);
    for (int d = 0; d < 3; d++) {
        cr_assert_float_eq(grad_probe[d], 0.0f, 0.0f, "padding row got gradient");
        cr_assert_float_eq(w->grad[0 * 3 + d], 1.0f, 0.0f);
        cr_assert_float_eq(w->grad[3 * 3 + d], 1.0f, 0.0f);
    }
    hop_graph_free(g);
}

Test(sequences, embedding_rejects_bad_index)
{
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    float weight[4 * 3] = {0};
    hop_node *w = hop_input(g, 2, (int[]){4, 3}, weight);
    int bad[3] = {0, 4, 1};
    cr_assert_null(hop_embedding(g, w, bad, 1, (int[]){3}, -1));
    cr_assert(strstr(ctx.error.message, "index 4 at position 1 is outside [0, 4)") != NULL,
              "message: %s", ctx.error.message);
    hop_graph_free(g);
}

Test(sequences, embedding_layer_zeroes_padding_row)
{
    hop_params params;
    hop_params_init(&params);
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    hop_embedding_config c = hop_embedding_config_default(10, 4);
    c.padding_idx = 3;
    hop_embedding_layer layer;
    hop_error err;
    cr_assert_eq(hop_embedding_layer_init(&layer, &c, &params, "emb", &rng, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(hop_params_find(&params, "emb.weight"), layer.weight_id);
    hop_tensor t = hop_params_value(&params, layer.weight_id);
    for (int d = 0; d < 4; d++)
        cr_assert_float_eq(t.data[3 * 4 + d], 0.0f, 0.0f);
    cr_assert(t.data[0] != 0.0f);
    c.padding_idx = 10;
    cr_assert_eq(hop_embedding_layer_init(&layer, &c, &params, "emb2", &rng, &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "padding_idx 10") != NULL, "message: %s", err.message);
    hop_params_free(&params);
}

/* 40 bags of 200 sequences at witness rate 5%, five folds. */
Test(sequences, cli_finds_motif_bags, .timeout = 120)
{
    char dir[] = "/tmp/hop-seq-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], report[64], command[512], out[4096];
    snprintf(data, sizeof data, "%s/bags.tsv", dir);
    snprintf(report, sizeof report, "%s/report.json", dir);
    snprintf(command, sizeof command,
             "%s mil --generate-sequences %s --bags 40 --bag-size 200 --witness-rate 0.05 "
             "--seed 1 2>&1",
             HOP_CLI_PATH, data);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "wrote 40 bags (20 positive) of 200 sequences, 200 carrying") != NULL,
              "output: %s", out);

    snprintf(command, sizeof command,
             "%s mil --sequences %s --folds 5 --epochs 20 --lr 0.003 --seed 1 --threads 1 "
             "--quiet --report %s 2>&1",
             HOP_CLI_PATH, data, report);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    double auc = 0.0, ratio = 0.0;
    const char *line = strstr(out, "bags.tsv: AUC ");
    cr_assert_not_null(line, "output: %s", out);
    cr_assert_eq(sscanf(line, "bags.tsv: AUC %lf", &auc), 1);
    const char *attention = strstr(out, "attention ratio (witness / other sequences): ");
    cr_assert_not_null(attention, "output: %s", out);
    cr_assert_eq(sscanf(attention, "attention ratio (witness / other sequences): %lf", &ratio), 1);
    cr_assert_geq(auc, 0.9, "output: %s", out);
    cr_assert_gt(ratio, 1.0, "output: %s", out);

    FILE *f = fopen(report, "r");
    cr_assert_not_null(f);
    char json[8192];
    json[fread(json, 1, sizeof json - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(json, "\"attention_ratio\":") != NULL, "report: %s", json);
    remove(report);
    remove(data);
    rmdir(dir);
}

Test(sequences, check_kmer_names_short_sequences)
{
    hop_seq_dataset ds;
    parse_ok("b1\t1\tCASSL\nb1\t1\tCA\nb2\t0\tCASRT\nb2\t0\tCS\n", &ds);
    hop_error err;
    cr_assert_eq(hop_seq_check_kmer(&ds, 2, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_seq_check_kmer(&ds, 3, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "t.tsv: 2 of 4 sequences have fewer residues than the k-mer "
                                  "length 3") != NULL,
              "message: %s", err.message);
    cr_assert(strstr(err.message, "sequence 2 (\"CA\", 2 residues, in bag 'b1')") != NULL,
              "message: %s", err.message);
    hop_seq_free(&ds);
}

Test(sequences, batch_pack_rejects_short_sequence)
{
    hop_seq_dataset ds;
    parse_ok("b1\t1\tCASSL\nb2\t0\tCA\n", &ds);
    hop_ctx ctx;
    hop_ctx_init(&ctx, 1);
    hop_graph *g = hop_graph_new(&ctx);
    cr_assert_not_null(g);
    int bags[2] = {0, 1};
    hop_seq_batch b;
    hop_error err;
    cr_assert_eq(hop_seq_batch_pack(g, &ds, bags, 2, 3, &b, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "1 of 2 sequences") != NULL, "message: %s", err.message);
    hop_graph_free(g);
    hop_seq_free(&ds);
}

Test(sequences, cli_rejects_sequences_shorter_than_kmer)
{
    char dir[] = "/tmp/hop-short-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], command[512], out[4096];
    snprintf(path, sizeof path, "%s/s.tsv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int b = 0; b < 6; b++)
        for (int i = 0; i < 4; i++)
            fprintf(f, "bag%d\t%d\tCA\n", b, b % 2);
    fclose(f);
    snprintf(command, sizeof command, "%s mil --sequences %s --kmer 3 --folds 2 --quiet 2>&1",
             HOP_CLI_PATH, path);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "24 of 24 sequences have fewer residues than the k-mer length 3") != NULL,
              "output: %s", out);
    remove(path);
    rmdir(dir);
}
