/* Bags of amino-acid sequences: TSV parsing, formatting, subsets and the generator. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/data.h"
#include "hop/loaders.h"

/* A growing dataset during parsing or generation. */
typedef struct builder {
    hop_seq_dataset *ds;
    int bag_capacity;
    int seq_capacity;
    size_t residue_capacity;
    size_t n_residues;
} builder;

static char *copy_text(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

void hop_seq_free(hop_seq_dataset *ds)
{
    for (int i = 0; ds->bag_names && i < ds->n_bags; i++)
        free(ds->bag_names[i]);
    free(ds->bag_start);
    free(ds->labels);
    free(ds->bag_names);
    free(ds->seq_start);
    free(ds->residues);
    free(ds->witness);
    free(ds->source);
    memset(ds, 0, sizeof *ds);
}

static int grow(void **p, size_t size, size_t count)
{
    void *q = realloc(*p, size * count);
    if (!q)
        return 0;
    *p = q;
    return 1;
}

static hop_status builder_init(builder *b, hop_seq_dataset *ds, const char *source,
                               int with_witness, hop_error *err)
{
    memset(ds, 0, sizeof *ds);
    memset(b, 0, sizeof *b);
    b->ds = ds;
    b->bag_capacity = 16;
    b->seq_capacity = 1024;
    b->residue_capacity = 16384;
    ds->source = copy_text(source, strlen(source));
    ds->bag_start = malloc((size_t)(b->bag_capacity + 1) * sizeof *ds->bag_start);
    ds->labels = malloc((size_t)b->bag_capacity * sizeof *ds->labels);
    ds->bag_names = calloc((size_t)b->bag_capacity, sizeof *ds->bag_names);
    ds->seq_start = malloc((size_t)(b->seq_capacity + 1) * sizeof *ds->seq_start);
    ds->residues = malloc(b->residue_capacity);
    if (with_witness)
        ds->witness = malloc((size_t)b->seq_capacity * sizeof *ds->witness);
    if (!ds->source || !ds->bag_start || !ds->labels || !ds->bag_names || !ds->seq_start ||
        !ds->residues || (with_witness && !ds->witness)) {
        hop_seq_free(ds);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for sequence bags");
    }
    ds->bag_start[0] = 0;
    ds->seq_start[0] = 0;
    return HOP_OK;
}

static hop_status builder_add_bag(builder *b, const char *name, size_t name_length, int label,
                                  hop_error *err)
{
    hop_seq_dataset *ds = b->ds;
    if (ds->n_bags == b->bag_capacity) {
        int capacity = b->bag_capacity * 2;
        int ok = grow((void **)&ds->bag_start, sizeof *ds->bag_start, (size_t)capacity + 1) &&
                 grow((void **)&ds->labels, sizeof *ds->labels, (size_t)capacity) &&
                 grow((void **)&ds->bag_names, sizeof *ds->bag_names, (size_t)capacity);
        if (!ok)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d bags", capacity);
        b->bag_capacity = capacity;
    }
    ds->bag_names[ds->n_bags] = copy_text(name, name_length);
    if (!ds->bag_names[ds->n_bags])
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for bag names");
    ds->labels[ds->n_bags] = label;
    ds->n_bags++;
    ds->bag_start[ds->n_bags] = ds->n_seqs;
    return HOP_OK;
}

static hop_status builder_add_seq(builder *b, const char *residues, size_t length, int witness,
                                  hop_error *err)
{
    hop_seq_dataset *ds = b->ds;
    if (ds->n_seqs == b->seq_capacity) {
        int capacity = b->seq_capacity * 2;
        int ok =
            grow((void **)&ds->seq_start, sizeof *ds->seq_start, (size_t)capacity + 1) &&
            (!ds->witness || grow((void **)&ds->witness, sizeof *ds->witness, (size_t)capacity));
        if (!ok)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d sequences", capacity);
        b->seq_capacity = capacity;
    }
    while (b->n_residues + length > b->residue_capacity) {
        if (!grow((void **)&ds->residues, 1, b->residue_capacity * 2))
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for residues");
        b->residue_capacity *= 2;
    }
    memcpy(ds->residues + b->n_residues, residues, length);
    b->n_residues += length;
    if (ds->witness)
        ds->witness[ds->n_seqs] = witness;
    ds->n_seqs++;
    ds->seq_start[ds->n_seqs] = b->n_residues;
    ds->bag_start[ds->n_bags] = ds->n_seqs;
    return HOP_OK;
}

int hop_seq_length(const hop_seq_dataset *ds, int i)
{
    return (int)(ds->seq_start[i + 1] - ds->seq_start[i]);
}

const char *hop_seq_residues(const hop_seq_dataset *ds, int i)
{
    return ds->residues + ds->seq_start[i];
}

/* One line split into at most 5 fields. */
typedef struct line_fields {
    int count;
    const char *start[5];
    size_t length[5];
} line_fields;

static void split_line(const char *line, size_t length, line_fields *f)
{
    f->count = 0;
    size_t begin = 0;
    for (size_t i = 0; i <= length && f->count < 5; i++)
        if (i == length || line[i] == '\t') {
            f->start[f->count] = line + begin;
            f->length[f->count] = i - begin;
            f->count++;
            begin = i + 1;
        }
}

static int parse_flag(const char *s, size_t n, int *value)
{
    if (n == 1 && (s[0] == '0' || s[0] == '1')) {
        *value = s[0] - '0';
        return 1;
    }
    return 0;
}

static hop_status check_residues(const char *source, int line, const char *s, size_t n,
                                 hop_error *err)
{
    if (n == 0)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%d: the sequence is empty", source, line);
    if (n > (size_t)1 << 20)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%d: the sequence has %zu residues, at most 1048576", source, line,
                             n);
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(HOP_AMINO_ACIDS, s[i]))
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s:%d: residue %zu of the sequence is '%c' (byte 0x%02x); use "
                                 "the upper-case amino acids " HOP_AMINO_ACIDS,
                                 source, line, i + 1, s[i] > 32 && s[i] < 127 ? s[i] : '?',
                                 (unsigned char)s[i]);
    return HOP_OK;
}

typedef struct parse_state {
    builder b;
    int columns; /* 3 or 4, fixed by the first data line */
    const char *source;
} parse_state;

static hop_status parse_data_line(parse_state *p, int line, const line_fields *f, hop_error *err)
{
    hop_seq_dataset *ds = p->b.ds;
    if (f->count != 3 && f->count != 4)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%d: %d tab-separated fields; expected bag_id, label, sequence "
                             "and an optional witness",
                             p->source, line, f->count);
    if (p->columns && f->count != p->columns)
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%d: %d fields, but earlier lines have %d",
                             p->source, line, f->count, p->columns);
    int label = 0, witness = 0;
    if (f->length[0] == 0)
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%d: the bag id is empty", p->source, line);
    if (!parse_flag(f->start[1], f->length[1], &label))
        return hop_error_set(err, HOP_ERR_DATA, "%s:%d: bag label '%.*s' must be 0 or 1", p->source,
                             line, (int)(f->length[1] > 40 ? 40 : f->length[1]), f->start[1]);
    if (f->count == 4 && !parse_flag(f->start[3], f->length[3], &witness))
        return hop_error_set(err, HOP_ERR_DATA, "%s:%d: witness '%.*s' must be 0 or 1", p->source,
                             line, (int)(f->length[3] > 40 ? 40 : f->length[3]), f->start[3]);
    hop_status status = check_residues(p->source, line, f->start[2], f->length[2], err);
    if (status != HOP_OK)
        return status;

    if (!p->columns) {
        p->columns = f->count;
        if (p->columns == 4 && !(ds->witness = malloc((size_t)p->b.seq_capacity * sizeof(int))))
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for witness flags");
    }
    int last = ds->n_bags - 1;
    int same_bag = last >= 0 && strlen(ds->bag_names[last]) == f->length[0] &&
                   memcmp(ds->bag_names[last], f->start[0], f->length[0]) == 0;
    if (same_bag && ds->labels[last] != label)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%d: bag '%s' has label %d here but %d on its earlier lines",
                             p->source, line, ds->bag_names[last], label, ds->labels[last]);
    if (!same_bag)
        status = builder_add_bag(&p->b, f->start[0], f->length[0], label, err);
    if (status == HOP_OK)
        status = builder_add_seq(&p->b, f->start[2], f->length[2], witness, err);
    return status;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rejects a bag id that appears in two separate runs of lines. */
static hop_status check_bag_runs(const hop_seq_dataset *ds, hop_error *err)
{
    char **sorted = malloc((size_t)ds->n_bags * sizeof *sorted);
    if (!sorted)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory checking bag ids");
    memcpy(sorted, ds->bag_names, (size_t)ds->n_bags * sizeof *sorted);
    qsort(sorted, (size_t)ds->n_bags, sizeof *sorted, compare_names);
    hop_status status = HOP_OK;
    for (int i = 1; i < ds->n_bags && status == HOP_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: the lines of bag '%s' are not consecutive; sort the "
                                   "file by bag id",
                                   ds->source, sorted[i]);
    free(sorted);
    return status;
}

static hop_status parse_lines(parse_state *p, const char *buffer, size_t length, hop_error *err)
{
    size_t at = 0;
    int line = 0, blank_line = 0;
    while (at < length) {
        line++;
        const char *start = buffer + at;
        const char *nl = memchr(start, '\n', length - at);
        size_t n = nl ? (size_t)(nl - start) : length - at;
        at += n + (nl ? 1 : 0);
        if (n && start[n - 1] == '\r')
            n--;
        if (n == 0) {
            if (!blank_line)
                blank_line = line;
            continue;
        }
        if (blank_line)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s:%d: blank line before more data; remove it", p->source,
                                 blank_line);
        line_fields f;
        split_line(start, n, &f);
        if (line == 1 && f.length[0] == 6 && memcmp(f.start[0], "bag_id", 6) == 0)
            continue;
        hop_status status = parse_data_line(p, line, &f, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

hop_status hop_seq_parse(const char *buffer, size_t length, const char *source,
                         hop_seq_dataset *out, hop_error *err)
{
    parse_state p = {.source = source ? source : "sequences"};
    hop_status status = builder_init(&p.b, out, p.source, 0, err);
    if (status != HOP_OK)
        return status;
    status = parse_lines(&p, buffer, length, err);
    if (status == HOP_OK && out->n_bags == 0)
        status = hop_error_set(err, HOP_ERR_DATA, "%s: no sequences found", p.source);
    if (status == HOP_OK)
        status = check_bag_runs(out, err);
    if (status != HOP_OK)
        hop_seq_free(out);
    return status;
}

hop_status hop_seq_load(const char *path, hop_seq_dataset *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t length = 0;
    hop_status status = hop_file_read(path, (unsigned char **)&data, &length, err);
    if (status == HOP_OK)
        status = hop_seq_parse(data, length, path, out, err);
    free(data);
    return status;
}

hop_status hop_seq_subset(const hop_seq_dataset *ds, const int *bags, int n_bags,
                          hop_seq_dataset *out, hop_error *err)
{
    builder b;
    hop_status status = builder_init(&b, out, ds->source, ds->witness != NULL, err);
    for (int i = 0; i < n_bags && status == HOP_OK; i++) {
        int bag = bags[i];
        if (bag < 0 || bag >= ds->n_bags) {
            status = hop_error_set(err, HOP_ERR_ARG, "%s: bag index %d is outside [0, %d)",
                                   ds->source, bag, ds->n_bags);
            break;
        }
        status = builder_add_bag(&b, ds->bag_names[bag], strlen(ds->bag_names[bag]),
                                 ds->labels[bag], err);
        for (int s = ds->bag_start[bag]; s < ds->bag_start[bag + 1] && status == HOP_OK; s++)
            status = builder_add_seq(&b, hop_seq_residues(ds, s), (size_t)hop_seq_length(ds, s),
                                     ds->witness ? ds->witness[s] : 0, err);
    }
    if (status != HOP_OK)
        hop_seq_free(out);
    return status;
}

hop_status hop_seq_validate(const hop_seq_dataset *ds, hop_error *err)
{
    int counts[2] = {0, 0};
    for (int i = 0; i < ds->n_bags; i++)
        counts[ds->labels[i] ? 1 : 0]++;
    if (counts[0] < 2 || counts[1] < 2)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: %d negative and %d positive bags; training needs at least 2 "
                             "of each",
                             ds->source, counts[0], counts[1]);
    return HOP_OK;
}

hop_status hop_seq_check_kmer(const hop_seq_dataset *ds, int kmer, hop_error *err)
{
    int short_count = 0, first = -1, bag = 0;
    for (int i = 0; i < ds->n_seqs; i++) {
        if (hop_seq_length(ds, i) >= kmer)
            continue;
        if (first < 0)
            first = i;
        short_count++;
    }
    if (first < 0)
        return HOP_OK;

    while (ds->bag_start[bag + 1] <= first)
        bag++;
    int length = hop_seq_length(ds, first);
    return hop_error_set(err, HOP_ERR_DATA,
                         "%s: %d of %d sequences have fewer residues than the k-mer length %d, so "
                         "they give no k-mers; the first is sequence %d (\"%.*s\", %d residues, "
                         "in bag '%s'). Lower --kmer or remove the short sequences",
                         ds->source, short_count, ds->n_seqs, kmer, first + 1,
                         length < 40 ? length : 40, hop_seq_residues(ds, first), length,
                         ds->bag_names[bag]);
}

hop_status hop_seq_format(const hop_seq_dataset *ds, char **text, size_t *length, hop_error *err)
{
    size_t size = 64 + (ds->seq_start ? ds->seq_start[ds->n_seqs] : 0);
    for (int b = 0; b < ds->n_bags; b++)
        size += (strlen(ds->bag_names[b]) + 8) * (size_t)(ds->bag_start[b + 1] - ds->bag_start[b]);
    char *out = malloc(size);
    if (!out)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory formatting %zu bytes", size);
    size_t at =
        (size_t)snprintf(out, size, "bag_id\tlabel\tsequence%s\n", ds->witness ? "\twitness" : "");
    for (int b = 0; b < ds->n_bags; b++)
        for (int s = ds->bag_start[b]; s < ds->bag_start[b + 1]; s++) {
            at += (size_t)snprintf(out + at, size - at, "%s\t%d\t%.*s", ds->bag_names[b],
                                   ds->labels[b], hop_seq_length(ds, s), hop_seq_residues(ds, s));
            if (ds->witness)
                at += (size_t)snprintf(out + at, size - at, "\t%d", ds->witness[s]);
            out[at++] = '\n';
        }
    out[at] = '\0';
    *text = out;
    *length = at;
    return HOP_OK;
}

hop_seq_generator hop_seq_generator_defaults(void)
{
    hop_seq_generator g = {
        .n_bags = 40,
        .bag_size = 200,
        .length_mean = 14.0,
        .length_std = 2.0,
        .length_min = 8,
        .length_max = 20,
        .motif = "SLGRWE",
        .witness_rate = 0.05,
    };
    return g;
}

static hop_status check_generator(const hop_seq_generator *o, hop_error *err)
{
    size_t motif = o->motif ? strlen(o->motif) : 0;
    if (o->n_bags < 2 || o->bag_size < 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "generator: %d bags of %d sequences; use at least "
                             "2 bags of 1 sequence",
                             o->n_bags, o->bag_size);
    if ((double)o->n_bags * o->bag_size > 2e9)
        return hop_error_set(err, HOP_ERR_ARG, "generator: %d bags of %d sequences is too many",
                             o->n_bags, o->bag_size);
    if (motif == 0 || strspn(o->motif, HOP_AMINO_ACIDS) != motif)
        return hop_error_set(err, HOP_ERR_ARG,
                             "generator: motif '%s' must be a non-empty string "
                             "of the amino acids " HOP_AMINO_ACIDS,
                             o->motif ? o->motif : "");
    if (o->length_min < (int)motif || o->length_max < o->length_min || o->length_max > 10000)
        return hop_error_set(err, HOP_ERR_ARG,
                             "generator: lengths %d to %d must satisfy motif "
                             "length %zu <= min <= max <= 10000",
                             o->length_min, o->length_max, motif);
    if (!(o->witness_rate > 0.0 && o->witness_rate <= 1.0))
        return hop_error_set(err, HOP_ERR_ARG, "generator: witness rate %g must be in (0, 1]",
                             o->witness_rate);
    if (!(o->length_std >= 0.0) || !isfinite(o->length_mean))
        return hop_error_set(err, HOP_ERR_ARG, "generator: invalid length distribution");
    return HOP_OK;
}

static int draw_length(const hop_seq_generator *o, hop_rng *rng)
{
    double x = round(o->length_mean + o->length_std * hop_rng_normal(rng));
    if (x < o->length_min)
        x = o->length_min;
    if (x > o->length_max)
        x = o->length_max;
    return (int)x;
}

/* Appends one bag; witness marks which of its sequences get the motif. */
static hop_status generate_bag(builder *b, const hop_seq_generator *o, int index, int label,
                               const int *witness, hop_rng *rng, hop_error *err)
{
    char name[32], seq[10001];
    snprintf(name, sizeof name, "bag%d", index + 1);
    hop_status status = builder_add_bag(b, name, strlen(name), label, err);
    size_t motif = strlen(o->motif);
    for (int s = 0; s < o->bag_size && status == HOP_OK; s++) {
        int length = draw_length(o, rng);
        for (int i = 0; i < length; i++)
            seq[i] = HOP_AMINO_ACIDS[hop_rng_below(rng, HOP_AMINO_ACID_COUNT)];
        if (witness[s]) {
            size_t at = hop_rng_below(rng, (uint64_t)length - motif + 1);
            memcpy(seq + at, o->motif, motif);
        }
        status = builder_add_seq(b, seq, (size_t)length, witness[s], err);
    }
    return status;
}

static void pick_witnesses(const hop_seq_generator *o, int *witness, int *order, hop_rng *rng)
{
    int count = (int)lround(o->witness_rate * o->bag_size);
    if (count < 1)
        count = 1;
    for (int s = 0; s < o->bag_size; s++) {
        order[s] = s;
        witness[s] = 0;
    }
    hop_rng_shuffle_int(rng, order, (size_t)o->bag_size);
    for (int s = 0; s < count; s++)
        witness[order[s]] = 1;
}

hop_status hop_seq_generate(const hop_seq_generator *o, hop_rng *rng, hop_seq_dataset *out,
                            hop_error *err)
{
    memset(out, 0, sizeof *out);
    hop_status status = check_generator(o, err);
    if (status != HOP_OK)
        return status;
    builder b;
    status = builder_init(&b, out, "generated sequences", 1, err);
    if (status != HOP_OK)
        return status;
    int *labels = malloc((size_t)o->n_bags * sizeof *labels);
    int *witness = malloc((size_t)o->bag_size * sizeof *witness);
    int *order = malloc((size_t)o->bag_size * sizeof *order);
    if (!labels || !witness || !order)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory generating bags");
    for (int i = 0; status == HOP_OK && i < o->n_bags; i++)
        labels[i] = i < o->n_bags / 2;
    if (status == HOP_OK)
        hop_rng_shuffle_int(rng, labels, (size_t)o->n_bags);
    for (int i = 0; status == HOP_OK && i < o->n_bags; i++) {
        if (labels[i])
            pick_witnesses(o, witness, order, rng);
        else
            memset(witness, 0, (size_t)o->bag_size * sizeof *witness);
        status = generate_bag(&b, o, i, labels[i], witness, rng, err);
    }
    free(labels);
    free(witness);
    free(order);
    if (status != HOP_OK)
        hop_seq_free(out);
    return status;
}
