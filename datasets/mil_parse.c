/* Parsers and file loaders for MIL datasets in derived CSV and UCI Musk format. */
#include "hop/data.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "csv.h"

#define EXCERPT_MAX 48
#define READ_CHUNK (1 << 16)

typedef struct mil_parser {
    hop_csv_reader reader;
    int musk; /* 1 for UCI Musk lines, 0 for derived CSV */
    int n_fields;
    int dim;

    float *features;
    size_t rows_capacity;
    int n_instances;

    int n_bags;
    int bags_capacity;
    int *bag_start;
    int *labels;
    char **names;
    long *first_line;
    long *last_line;

    int *slots; /* open-addressing index of names: bag + 1, or 0 for an empty slot */
    size_t slots_capacity;
} mil_parser;

static void parser_free(mil_parser *p)
{
    for (int b = 0; b < p->n_bags; b++)
        free(p->names[b]);
    free(p->names);
    free(p->features);
    free(p->bag_start);
    free(p->labels);
    free(p->first_line);
    free(p->last_line);
    free(p->slots);
    hop_csv_free(&p->reader);
}

static const char *source_of(const mil_parser *p)
{
    return p->reader.source;
}

static int field_equals(const hop_csv_field *field, const char *name)
{
    return strncmp(name, field->text, field->length) == 0 && name[field->length] == '\0';
}

static uint64_t hash_bytes(const char *text, size_t length)
{
    uint64_t hash = 1469598103934665603ULL; /* 64-bit FNV-1a */
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)text[i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

/* Returns the slot that holds field's bag, or the empty slot where it would go. */
static size_t find_slot(const mil_parser *p, const char *text, size_t length)
{
    size_t mask = p->slots_capacity - 1;
    size_t slot = (size_t)hash_bytes(text, length) & mask;
    hop_csv_field key = {.text = text, .length = length};

    while (p->slots[slot] && !field_equals(&key, p->names[p->slots[slot] - 1]))
        slot = (slot + 1) & mask;
    return slot;
}

static int find_bag(const mil_parser *p, const hop_csv_field *key)
{
    if (!p->slots_capacity)
        return -1;
    size_t slot = find_slot(p, key->text, key->length);
    return p->slots[slot] - 1;
}

/* Keeps the name index at most half full so that probe runs stay short. */
static hop_status grow_index(mil_parser *p, hop_error *err)
{
    if ((size_t)p->n_bags * 2 < p->slots_capacity)
        return HOP_OK;

    size_t old_capacity = p->slots_capacity;
    int *old_slots = p->slots;
    p->slots_capacity = old_capacity ? old_capacity * 2 : 64;
    p->slots = calloc(p->slots_capacity, sizeof *p->slots);
    if (!p->slots) {
        p->slots = old_slots;
        p->slots_capacity = old_capacity;
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory indexing %d bags",
                             source_of(p), p->n_bags);
    }
    for (size_t i = 0; i < old_capacity; i++) {
        if (old_slots[i]) {
            const char *name = p->names[old_slots[i] - 1];
            p->slots[find_slot(p, name, strlen(name))] = old_slots[i];
        }
    }
    free(old_slots);
    return HOP_OK;
}

static hop_status grow_bags(mil_parser *p, hop_error *err)
{
    if (p->n_bags + 1 < p->bags_capacity)
        return HOP_OK;

    size_t capacity = p->bags_capacity ? (size_t)p->bags_capacity * 2 : 64;
    if (capacity > INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%ld: too many bags (%d)", source_of(p),
                             p->reader.line, p->n_bags);
    int *bag_start = realloc(p->bag_start, capacity * sizeof *bag_start);
    if (bag_start)
        p->bag_start = bag_start;
    int *labels = realloc(p->labels, capacity * sizeof *labels);
    if (labels)
        p->labels = labels;
    char **names = realloc(p->names, capacity * sizeof *names);
    if (names)
        p->names = names;
    long *first_line = realloc(p->first_line, capacity * sizeof *first_line);
    if (first_line)
        p->first_line = first_line;
    long *last_line = realloc(p->last_line, capacity * sizeof *last_line);
    if (last_line)
        p->last_line = last_line;

    if (!bag_start || !labels || !names || !first_line || !last_line)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %d bags", source_of(p),
                             p->n_bags + 1);
    p->bags_capacity = (int)capacity;
    return HOP_OK;
}

static hop_status add_bag(mil_parser *p, const hop_csv_field *key, int label, hop_error *err)
{
    hop_status status = grow_bags(p, err);
    if (status == HOP_OK)
        status = grow_index(p, err);
    if (status != HOP_OK)
        return status;

    char *name = malloc(key->length + 1);
    if (!name)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for a bag name",
                             source_of(p));
    memcpy(name, key->text, key->length);
    name[key->length] = '\0';

    int b = p->n_bags++;
    p->names[b] = name;
    p->labels[b] = label;
    p->bag_start[b] = p->n_instances;
    p->first_line[b] = p->reader.line;
    p->last_line[b] = p->reader.line;
    p->slots[find_slot(p, key->text, key->length)] = b + 1;
    return HOP_OK;
}

/* Adds the current line to the bag named key, which must be the last bag or a new one. */
static hop_status assign_bag(mil_parser *p, const hop_csv_field *key, int label, hop_error *err)
{
    long line = p->reader.line;
    int last = p->n_bags - 1;
    char text[EXCERPT_MAX];

    if (last >= 0 && field_equals(key, p->names[last])) {
        if (p->labels[last] != label)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s:%ld: bag \"%.48s\" has label %d here but label %d on line "
                                 "%ld; all instances of a bag need the same label",
                                 source_of(p), line, p->names[last], label, p->labels[last],
                                 p->first_line[last]);
        p->last_line[last] = line;
        return HOP_OK;
    }

    int earlier = find_bag(p, key);
    if (earlier >= 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: bag \"%s\" appears again after bag \"%.48s\" started on "
                             "line %ld, but its instances are on lines %ld to %ld; put all "
                             "instances of a bag on consecutive lines",
                             source_of(p), line, hop_csv_excerpt(key, text, sizeof text),
                             p->names[last], p->first_line[last], p->first_line[earlier],
                             p->last_line[earlier]);
    return add_bag(p, key, label, err);
}

static hop_status read_label(mil_parser *p, int column, const char *what, int *label,
                             hop_error *err)
{
    const hop_csv_field *field = &p->reader.fields[column];
    char text[EXCERPT_MAX];
    float value = 0.0f;

    if (field->length == 0)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: column %d (%s) is missing; write 0 (negative) or 1 "
                             "(positive)",
                             source_of(p), p->reader.line, column + 1, what);
    hop_status status = hop_csv_float(&p->reader, column, what, 0, &value, err);
    if (status != HOP_OK)
        return status;
    if (value != 0.0f && value != 1.0f)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: column %d (%s): \"%s\" is not a valid label; use 0 "
                             "(negative) or 1 (positive)",
                             source_of(p), p->reader.line, column + 1, what,
                             hop_csv_excerpt(field, text, sizeof text));
    *label = (int)value;
    return HOP_OK;
}

static hop_status grow_rows(mil_parser *p, hop_error *err)
{
    if ((size_t)p->n_instances < p->rows_capacity)
        return HOP_OK;
    if (p->n_instances == INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%ld: more than %d instances", source_of(p),
                             p->reader.line, INT_MAX);

    size_t capacity = p->rows_capacity ? p->rows_capacity * 2 : 256;
    float *features = NULL;
    if (capacity <= SIZE_MAX / sizeof(float) / (size_t)p->dim)
        features = realloc(p->features, capacity * (size_t)p->dim * sizeof *features);
    if (!features)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s:%ld: out of memory for %zu instances",
                             source_of(p), p->reader.line, capacity);
    p->features = features;
    p->rows_capacity = capacity;
    return HOP_OK;
}

static hop_status read_features(mil_parser *p, hop_error *err)
{
    hop_status status = grow_rows(p, err);
    if (status != HOP_OK)
        return status;

    float *row = p->features + (size_t)p->n_instances * (size_t)p->dim;
    for (int j = 0; j < p->dim; j++) {
        status = hop_csv_float(&p->reader, 2 + j, "feature", j + 1, &row[j], err);
        if (status != HOP_OK)
            return status;
    }
    p->n_instances++;
    return HOP_OK;
}

/* Picks the format from line 1 and fixes the field count every line must have. */
static hop_status detect_format(mil_parser *p, hop_error *err)
{
    const hop_csv_field *first = &p->reader.fields[0];

    if (first->length == 0)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:1: column 1 is empty; it must be a bag label (0 or 1) for the "
                             "CSV format or a molecule name for the UCI Musk format",
                             source_of(p));
    p->musk = !hop_csv_is_number(&p->reader, first);
    p->n_fields = p->reader.n_fields;
    p->dim = p->n_fields - (p->musk ? 3 : 2);
    if (p->dim < 1)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:1: found %d fields, but the %s format needs %s and at least one "
                             "feature",
                             source_of(p), p->n_fields, p->musk ? "UCI Musk" : "CSV",
                             p->musk ? "molecule_name,conformation_name,features...,class"
                                     : "bag_label,bag_id,features...");
    return HOP_OK;
}

static hop_status parse_line(mil_parser *p, hop_error *err)
{
    hop_csv_reader *reader = &p->reader;

    if (reader->n_fields != p->n_fields)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: expected %d fields as on line 1, found %d; every line "
                             "needs the same number of features",
                             source_of(p), reader->line, p->n_fields, reader->n_fields);

    int label_column = p->musk ? p->n_fields - 1 : 0;
    int key_column = p->musk ? 0 : 1;
    const char *label_name = p->musk ? "class" : "bag label";
    const char *key_name = p->musk ? "molecule name" : "bag id";
    int label = 0;

    hop_status status = read_label(p, label_column, label_name, &label, err);
    if (status != HOP_OK)
        return status;
    if (reader->fields[key_column].length == 0)
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%ld: column %d (%s) is missing; fill it in",
                             source_of(p), reader->line, key_column + 1, key_name);
    status = assign_bag(p, &reader->fields[key_column], label, err);
    if (status != HOP_OK)
        return status;
    return read_features(p, err);
}

static hop_status finish(mil_parser *p, hop_mil_dataset *out, hop_error *err)
{
    char *source = malloc(strlen(source_of(p)) + 1);
    if (!source)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    strcpy(source, source_of(p));

    p->bag_start[p->n_bags] = p->n_instances;
    *out = (hop_mil_dataset){
        .n_bags = p->n_bags,
        .n_instances = p->n_instances,
        .dim = p->dim,
        .features = p->features,
        .bag_start = p->bag_start,
        .labels = p->labels,
        .bag_names = p->names,
        .instance_labels = NULL,
        .source = source,
    };
    p->features = NULL;
    p->bag_start = NULL;
    p->labels = NULL;
    p->names = NULL;
    p->n_bags = 0;
    return HOP_OK;
}

hop_status hop_mil_parse(const char *buffer, size_t length, const char *source,
                         hop_mil_dataset *out, hop_error *err)
{
    mil_parser p;
    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    hop_csv_init(&p.reader, buffer, length, source);

    hop_status status = HOP_OK;
    int more = hop_csv_next(&p.reader, err);
    if (more == 0)
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: the input is empty or blank; expected one instance per line",
                               source_of(&p));
    else if (more > 0)
        status = detect_format(&p, err);

    while (status == HOP_OK && more > 0) {
        status = parse_line(&p, err);
        if (status == HOP_OK)
            more = hop_csv_next(&p.reader, err);
    }
    if (status == HOP_OK && more < 0)
        status = err ? err->status : HOP_ERR_PARSE;
    if (status == HOP_OK)
        status = finish(&p, out, err);
    parser_free(&p);
    return status;
}

static int has_suffix(const char *text, const char *suffix)
{
    size_t length = strlen(text);
    size_t suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

static hop_status grow_buffer(char **data, size_t *capacity, size_t needed, const char *path,
                              hop_error *err)
{
    if (needed <= *capacity)
        return HOP_OK;
    size_t new_capacity = *capacity ? *capacity : READ_CHUNK;
    while (new_capacity < needed)
        new_capacity *= 2;
    char *grown = realloc(*data, new_capacity);
    if (!grown)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory reading \"%s\" (%zu bytes)", path,
                             new_capacity);
    *data = grown;
    *capacity = new_capacity;
    return HOP_OK;
}

static hop_status io_error(const char *verb, const char *path, int errnum, hop_error *err)
{
    char reason[128] = "unknown error";
    if (errnum)
        strerror_r(errnum, reason, sizeof reason);
    return hop_error_set(err, HOP_ERR_IO, "cannot %s \"%s\": %s; check the path and permissions",
                         verb, path, reason);
}

static hop_status read_plain(const char *path, char **data, size_t *length, hop_error *err)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return io_error("open", path, errno, err);

    size_t capacity = 0;
    hop_status status = HOP_OK;
    *length = 0;
    while (status == HOP_OK) {
        status = grow_buffer(data, &capacity, *length + READ_CHUNK, path, err);
        if (status != HOP_OK)
            break;
        errno = 0;
        size_t n = fread(*data + *length, 1, READ_CHUNK, file);
        *length += n;
        if (n < READ_CHUNK) {
            if (ferror(file))
                status = io_error("read", path, errno, err);
            break;
        }
    }
    fclose(file);
    return status;
}

static hop_status gzip_error(const char *path, gzFile file, hop_error *err)
{
    int errnum = Z_OK;
    const char *reason = gzerror(file, &errnum);
    if (errnum == Z_ERRNO)
        return io_error("read", path, errno, err);
    return hop_error_set(err, HOP_ERR_IO,
                         "cannot read \"%s\": gzip data is truncated or corrupt (zlib: %s); "
                         "download or compress the file again",
                         path, reason);
}

static hop_status read_gzip(const char *path, char **data, size_t *length, hop_error *err)
{
    errno = 0;
    gzFile file = gzopen(path, "rb");
    if (!file)
        return io_error("open", path, errno ? errno : ENOMEM, err);

    size_t capacity = 0;
    hop_status status = HOP_OK;
    *length = 0;
    for (;;) {
        status = grow_buffer(data, &capacity, *length + READ_CHUNK, path, err);
        if (status != HOP_OK)
            break;
        int n = gzread(file, *data + *length, READ_CHUNK);
        if (n < 0) {
            status = gzip_error(path, file, err);
            break;
        }
        *length += (size_t)n;
        if (n == 0)
            break;
    }

    /* zlib reports a stream that ends early only through gzerror and gzclose. */
    int errnum = Z_OK;
    gzerror(file, &errnum);
    if (status == HOP_OK && errnum != Z_OK)
        status = gzip_error(path, file, err);
    int closed = gzclose(file);
    if (status == HOP_OK && closed != Z_OK)
        status = hop_error_set(err, HOP_ERR_IO,
                               "cannot read \"%s\": gzip data is truncated or corrupt (zlib "
                               "error %d); download or compress the file again",
                               path, closed);
    return status;
}

hop_status hop_mil_load(const char *path, hop_mil_dataset *out, hop_error *err)
{
    char *data = NULL;
    size_t length = 0;

    memset(out, 0, sizeof *out);
    if (!path)
        return hop_error_set(err, HOP_ERR_ARG, "no dataset path given");

    hop_status status = has_suffix(path, ".gz") ? read_gzip(path, &data, &length, err)
                                                : read_plain(path, &data, &length, err);
    if (status == HOP_OK && length == 0)
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: the file is empty; expected one instance per line", path);
    if (status == HOP_OK)
        status = hop_mil_parse(data, length, path, out, err);
    free(data);
    return status;
}
