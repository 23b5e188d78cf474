/* hop predict: scores bags with a model saved by 'hop mil --save-model'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "hop/blas.h"
#include "hop/metrics.h"
#include "hop/mil.h"
#include "report.h"

typedef struct predict_options {
    const char *model;
    const char *data;
    const char *out;
    const char *attention;
    int threads;
} predict_options;

#define N_PREDICT_FLAGS 5

/* The bags to score: features or sequences, as the model expects. */
typedef struct predict_data {
    hop_mil_dataset features;
    hop_seq_dataset sequences;
    int n_bags;
    int n_instances;
    const int *bag_start;
    const int *labels;
    char *const *names;
} predict_data;

static int fail(const hop_error *err)
{
    fprintf(stderr, "hop predict: %s\n", err->message);
    return 1;
}

/* A growing text buffer; on allocation failure it keeps failed set and stops growing. */
typedef struct text {
    char *data;
    size_t length, capacity;
    int failed;
} text;

static void appendf(text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void appendf(text *t, const char *format, ...)
{
    for (int tries = 0; tries < 2 && !t->failed; tries++) {
        va_list args;
        va_start(args, format);
        size_t room = t->capacity - t->length;
        int n = vsnprintf(t->data ? t->data + t->length : NULL, t->data ? room : 0, format, args);
        va_end(args);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->length += (size_t)n;
            return;
        }
        size_t capacity = (t->capacity + (size_t)n + 1) * 2;
        char *grown = realloc(t->data, capacity);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->capacity = capacity;
    }
}

/* Quotes a CSV field when it contains a comma, quote or line break. */
static void append_field(text *t, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        appendf(t, "%s", s);
        return;
    }
    appendf(t, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            appendf(t, "\"\"");
        else
            appendf(t, "%c", *p);
    }
    appendf(t, "\"");
}

static hop_status emit(const char *path, text *t, hop_error *err)
{
    if (t->failed || !t->data)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory formatting the CSV");
    if (!path) {
        fputs(t->data, stdout);
        return HOP_OK;
    }
    return write_file_atomic(path, t->data, err);
}

static hop_status write_bags(const predict_options *o, const predict_data *d, const float *scores,
                             hop_error *err)
{
    text t = {0};
    appendf(&t, "bag_id,label,probability\n");
    for (int b = 0; b < d->n_bags; b++) {
        append_field(&t, d->names[b]);
        appendf(&t, ",%d,%.6g\n", d->labels[b], scores[b]);
    }
    hop_status status = emit(o->out, &t, err);
    free(t.data);
    return status;
}

static hop_status write_attention(const predict_options *o, const predict_data *d,
                                  const float *attention, hop_error *err)
{
    const hop_seq_dataset *s = d->sequences.bag_start ? &d->sequences : NULL;
    const int *witness = s ? s->witness : d->features.instance_labels;
    text t = {0};
    appendf(&t, "bag_id,instance,weight%s%s\n", s ? ",sequence" : "", witness ? ",witness" : "");
    for (int b = 0; b < d->n_bags; b++)
        for (int i = d->bag_start[b]; i < d->bag_start[b + 1]; i++) {
            append_field(&t, d->names[b]);
            appendf(&t, ",%d,%.6g", i - d->bag_start[b] + 1, attention[i]);
            if (s)
                appendf(&t, ",%.*s", hop_seq_length(s, i), hop_seq_residues(s, i));
            if (witness)
                appendf(&t, ",%d", witness[i]);
            appendf(&t, "\n");
        }
    hop_status status = emit(o->attention, &t, err);
    free(t.data);
    return status;
}

static hop_status load_data(const predict_options *o, const hop_mil_trainer *t, predict_data *d,
                            hop_error *err)
{
    memset(d, 0, sizeof *d);
    if (t->kind == HOP_MIL_FEATURES) {
        hop_status status = hop_mil_load(o->data, &d->features, err);
        if (status != HOP_OK)
            return status;
        d->n_bags = d->features.n_bags;
        d->n_instances = d->features.n_instances;
        d->bag_start = d->features.bag_start;
        d->labels = d->features.labels;
        d->names = d->features.bag_names;
        return HOP_OK;
    }
    hop_status status = hop_seq_load(o->data, &d->sequences, err);
    if (status != HOP_OK)
        return status;
    d->n_bags = d->sequences.n_bags;
    d->n_instances = d->sequences.n_seqs;
    d->bag_start = d->sequences.bag_start;
    d->labels = d->sequences.labels;
    d->names = d->sequences.bag_names;
    return HOP_OK;
}

/* Prints the AUC on stderr when the file has bags of both classes. */
static void print_auc(const predict_data *d, const float *scores)
{
    hop_error ignored;
    double auc = 0.0;
    if (hop_roc_auc(scores, d->labels, (size_t)d->n_bags, &auc, &ignored) == HOP_OK)
        fprintf(stderr, "hop predict: %d bags, AUC %.4f against the file's labels\n", d->n_bags,
                auc);
}

static hop_status predict(const predict_options *o, hop_mil_trainer *t, hop_error *err)
{
    predict_data d;
    hop_status status = load_data(o, t, &d, err);
    float *scores = NULL, *attention = NULL;
    if (status == HOP_OK) {
        scores = malloc((size_t)d.n_bags * sizeof *scores);
        attention = malloc((size_t)d.n_instances * sizeof *attention);
        if (!scores || !attention)
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d bags", d.n_bags);
    }
    if (status == HOP_OK && t->kind == HOP_MIL_FEATURES)
        status = hop_mil_trainer_score_features(t, &d.features, scores, attention, err);
    else if (status == HOP_OK)
        status = hop_mil_trainer_score_sequences(t, &d.sequences, scores, attention, err);
    if (status == HOP_OK)
        status = write_bags(o, &d, scores, err);
    if (status == HOP_OK && o->attention)
        status = write_attention(o, &d, attention, err);
    if (status == HOP_OK)
        print_auc(&d, scores);
    free(scores);
    free(attention);
    hop_mil_free(&d.features);
    hop_seq_free(&d.sequences);
    return status;
}

int cmd_predict(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    predict_options o = {.threads = cores > 0 && cores < 4096 ? (int)cores : 1};
    cli_flag flags[N_PREDICT_FLAGS] = {
        {"model", CLI_STRING, &o.model, 0, 0, "file", "model saved by 'hop mil --save-model'"},
        {"data", CLI_STRING, &o.data, 0, 0, "file",
         "bags to score, in the format the model was trained on"},
        {"out", CLI_STRING, &o.out, 0, 0, "file",
         "bag CSV (bag_id,label,probability); stdout "
         "when not given"},
        {"attention", CLI_STRING, &o.attention, 0, 0, "file",
         "instance CSV (bag_id,instance,weight[,sequence][,witness])"},
        {"threads", CLI_INT, &o.threads, 1, 4096, "threads",
         "OpenBLAS and hop threads" CLI_DEFAULT("the online cores")},
    };
    bool help = false;
    hop_error err;
    hop_error_clear(&err);
    if (cli_parse(flags, N_PREDICT_FLAGS, argc, argv, 2, &help, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        printf("usage: hop predict --model FILE --data FILE [--out FILE] [--attention FILE]\n\n"
               "Scores every bag of --data with a saved model and writes each bag's positive\n"
               "probability as CSV. --attention also writes each instance's association weight\n"
               "(the mean over heads of the pooling's softmax; a bag's weights sum to 1).\n"
               "\nFlags:\n");
        cli_print_flags(stdout, flags, N_PREDICT_FLAGS);
        return 0;
    }
    if (!o.model || !o.data) {
        fprintf(stderr, "hop predict: give --model FILE and --data FILE; see 'hop predict "
                        "--help'\n");
        return CLI_EXIT_USAGE;
    }
    cli_path outputs[] = {{"out", o.out}, {"attention", o.attention}};
    cli_path inputs[] = {{"model", o.model}, {"data", o.data}};
    if (cli_check_outputs(outputs, 2, inputs, 2, &err) != HOP_OK) {
        fail(&err);
        return CLI_EXIT_USAGE;
    }
    hop_blas_set_threads(o.threads);
    hop_mil_trainer t;
    if (hop_mil_trainer_load(&t, o.model, NULL, &err) != HOP_OK)
        return fail(&err);
    t.ctx.threads = o.threads;
    hop_status status = predict(&o, &t, &err);
    hop_mil_trainer_free(&t);
    return status == HOP_OK ? 0 : fail(&err);
}
