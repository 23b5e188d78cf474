/* Parsers and file loaders for MIL datasets in derived CSV and UCI Musk format. */
#include "hop/data.h"
#include "hop/loaders.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define EXCERPT_MAX 48

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

static void parser_free(mil_parser *parser)
{
    for (int b = 0; b < parser->n_bags; b++)
        free(parser->names[b]);
    free(parser->names);
    free(parser->features);
    free(parser->bag_start);
    free(parser->labels);
    free(parser->first_line);
    free(parser->last_line);
    free(parser->slots);
    hop_csv_free(&parser->reader);
}

static const char *source_of(const mil_parser *parser)
{
    return parser->reader.source;
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

/* Returns the slot that contains the bag named text, or the empty slot where it would go. */
static size_t find_slot(const mil_parser *parser, const char *text, size_t length)
{
    size_t mask = parser->slots_capacity - 1;
    size_t slot = (size_t)hash_bytes(text, length) & mask;
    hop_csv_field key = {.text = text, .length = length};

    while (parser->slots[slot] && !field_equals(&key, parser->names[parser->slots[slot] - 1]))
        slot = (slot + 1) & mask;
    return slot;
}

static int find_bag(const mil_parser *parser, const hop_csv_field *key)
{
    if (!parser->slots_capacity)
        return -1;
    size_t slot = find_slot(parser, key->text, key->length);
    return parser->slots[slot] - 1;
}

/* Keeps the name index at most half full so that probe runs stay short. */
static hop_status grow_index(mil_parser *parser, hop_error *err)
{
    if ((size_t)parser->n_bags * 2 < parser->slots_capacity)
        return HOP_OK;

    size_t old_capacity = parser->slots_capacity;
    int *old_slots = parser->slots;
    parser->slots_capacity = old_capacity ? old_capacity * 2 : 64;
    parser->slots = calloc(parser->slots_capacity, sizeof *parser->slots);
    if (!parser->slots) {
        parser->slots = old_slots;
        parser->slots_capacity = old_capacity;
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory indexing %d bags",
                             source_of(parser), parser->n_bags);
    }
    for (size_t i = 0; i < old_capacity; i++) {
        if (old_slots[i]) {
            const char *name = parser->names[old_slots[i] - 1];
            parser->slots[find_slot(parser, name, strlen(name))] = old_slots[i];
        }
    }
    free(old_slots);
    return HOP_OK;
}

static hop_status grow_bags(mil_parser *parser, hop_error *err)
{
    if (parser->n_bags + 1 < parser->bags_capacity)
        return HOP_OK;

    size_t capacity = parser->bags_capacity ? (size_t)parser->bags_capacity * 2 : 64;
    if (capacity > INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%ld: too many bags (%d)", source_of(parser),
                             parser->reader.line, parser->n_bags);
    int *bag_start = realloc(parser->bag_start, capacity * sizeof *bag_start);
    if (bag_start)
        parser->bag_start = bag_start;
    int *labels = realloc(parser->labels, capacity * sizeof *labels);
    if (labels)
        parser->labels = labels;
    char **names = realloc(parser->names, capacity * sizeof *names);
    if (names)
        parser->names = names;
    long *first_line = realloc(parser->first_line, capacity * sizeof *first_line);
    if (first_line)
        parser->first_line = first_line;
    long *last_line = realloc(parser->last_line, capacity * sizeof *last_line);
    if (last_line)
        parser->last_line = last_line;

    if (!bag_start || !labels || !names || !first_line || !last_line)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %d bags", source_of(parser),
                             parser->n_bags + 1);
    parser->bags_capacity = (int)capacity;
    return HOP_OK;
}

static hop_status add_bag(mil_parser *parser, const hop_csv_field *key, int label, hop_error *err)
{
    hop_status status = grow_bags(parser, err);
    if (status == HOP_OK)
        status = grow_index(parser, err);
    if (status != HOP_OK)
        return status;

    char *name = malloc(key->length + 1);
    if (!name)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for a bag name",
                             source_of(parser));
    memcpy(name, key->text, key->length);
    name[key->length] = '\0';

    int b = parser->n_bags++;
    parser->names[b] = name;
    parser->labels[b] = label;
    parser->bag_start[b] = parser->n_instances;
    parser->first_line[b] = parser->reader.line;
    parser->last_line[b] = parser->reader.line;
    parser->slots[find_slot(parser, key->text, key->length)] = b + 1;
    return HOP_OK;
}

/* Adds the current line to the bag named key, which must be the last bag or a new one. */
static hop_status assign_bag(mil_parser *parser, const hop_csv_field *key, int label,
                             hop_error *err)
{
    long line = parser->reader.line;
    int last = parser->n_bags - 1;
    char text[EXCERPT_MAX];

    if (last >= 0 && field_equals(key, parser->names[last])) {
        if (parser->labels[last] != label)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s:%ld: bag \"%.48s\" has label %d here but label %d on line "
                                 "%ld; all instances of a bag need the same label",
                                 source_of(parser), line, parser->names[last], label,
                                 parser->labels[last], parser->first_line[last]);
        parser->last_line[last] = line;
        return HOP_OK;
    }

    int earlier = find_bag(parser, key);
    if (earlier >= 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: bag \"%s\" appears again after bag \"%.48s\" started on "
                             "line %ld, but its earlier instances are on lines %ld to %ld; put "
                             "all instances of a bag on consecutive lines",
                             source_of(parser), line, hop_csv_excerpt(key, text, sizeof text),
                             parser->names[last], parser->first_line[last],
                             parser->first_line[earlier], parser->last_line[earlier]);
    return add_bag(parser, key, label, err);
}

static hop_status read_label(mil_parser *parser, int column, const char *what, int *label,
                             hop_error *err)
{
    const hop_csv_field *field = &parser->reader.fields[column];
    char text[EXCERPT_MAX];
    float value = 0.0f;

    if (field->length == 0)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: column %d (%s) is missing; write 0 (negative) or 1 "
                             "(positive)",
                             source_of(parser), parser->reader.line, column + 1, what);
    hop_status status = hop_csv_float(&parser->reader, column, what, 0, &value, err);
    if (status != HOP_OK)
        return status;
    if (value != 0.0f && value != 1.0f)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: column %d (%s): \"%s\" is not a valid label; use 0 "
                             "(negative) or 1 (positive)",
                             source_of(parser), parser->reader.line, column + 1, what,
                             hop_csv_excerpt(field, text, sizeof text));
    *label = (int)value;
    return HOP_OK;
}

static hop_status grow_rows(mil_parser *parser, hop_error *err)
{
    if ((size_t)parser->n_instances < parser->rows_capacity)
        return HOP_OK;
    if (parser->n_instances == INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%ld: more than %d instances", source_of(parser),
                             parser->reader.line, INT_MAX);

    size_t capacity = parser->rows_capacity ? parser->rows_capacity * 2 : 256;
    float *features = NULL;
    if (capacity <= SIZE_MAX / sizeof(float) / (size_t)parser->dim)
        features = realloc(parser->features, capacity * (size_t)parser->dim * sizeof *features);
    if (!features)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s:%ld: out of memory for %zu instances",
                             source_of(parser), parser->reader.line, capacity);
    parser->features = features;
    parser->rows_capacity = capacity;
    return HOP_OK;
}

static hop_status read_features(mil_parser *parser, hop_error *err)
{
    hop_status status = grow_rows(parser, err);
    if (status != HOP_OK)
        return status;

    float *row = parser->features + (size_t)parser->n_instances * (size_t)parser->dim;
    for (int j = 0; j < parser->dim; j++) {
        status = hop_csv_float(&parser->reader, 2 + j, "feature", j + 1, &row[j], err);
        if (status != HOP_OK)
            return status;
    }
    parser->n_instances++;
    return HOP_OK;
}

/*
 * Both formats have numbers from the third field on. A header row has none there, and its
 * first field is a name, where the CSV format has the bag label.
 */
static int looks_like_header(mil_parser *parser)
{
    hop_csv_reader *reader = &parser->reader;
    if (reader->n_fields < 3 || hop_csv_is_number(reader, &reader->fields[0]))
        return 0;
    for (int j = 2; j < reader->n_fields; j++)
        if (reader->fields[j].length == 0 || hop_csv_is_number(reader, &reader->fields[j]))
            return 0;
    return 1;
}

static int line_has_tab(const hop_csv_reader *reader)
{
    for (int j = 0; j < reader->n_fields; j++)
        if (memchr(reader->fields[j].text, '\t', reader->fields[j].length))
            return 1;
    return 0;
}

static hop_status too_few_fields(mil_parser *parser, hop_error *err)
{
    const char *hint = line_has_tab(&parser->reader)
                           ? " The line contains tabs: a tab-separated file of bag_id, bag_label "
                             "and sequence is sequence data, which hop reads with --sequences."
                           : "";
    return hop_error_set(
        err, HOP_ERR_PARSE,
        "%s:1: found %d comma-separated field(s), so this does not look like a "
        "MIL bag file: it needs at least one feature, as bag_label,bag_id,features... "
        "(CSV) or molecule_name,conformation_name,features...,class (UCI Musk).%s",
        source_of(parser), parser->n_fields, hint);
}

/* Picks the format from line 1 and fixes the field count every line must have. */
static hop_status detect_format(mil_parser *parser, hop_error *err)
{
    const hop_csv_field *first = &parser->reader.fields[0];
    char text[EXCERPT_MAX];

    if (looks_like_header(parser))
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:1: line 1 looks like a header row (column 3 is \"%s\", not a "
                             "number); remove it, because every line must be an instance",
                             source_of(parser),
                             hop_csv_excerpt(&parser->reader.fields[2], text, sizeof text));
    if (first->length == 0)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:1: column 1 is empty; it must be a bag label (0 or 1) for the "
                             "CSV format or a molecule name for the UCI Musk format",
                             source_of(parser));
    parser->musk = !hop_csv_is_number(&parser->reader, first);
    parser->n_fields = parser->reader.n_fields;
    parser->dim = parser->n_fields - (parser->musk ? 3 : 2);
    if (parser->dim < 1)
        return too_few_fields(parser, err);
    return HOP_OK;
}

static hop_status parse_line(mil_parser *parser, hop_error *err)
{
    hop_csv_reader *reader = &parser->reader;

    if (reader->n_fields != parser->n_fields)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: expected %d fields as on line 1, found %d; every line "
                             "needs the same number of features",
                             source_of(parser), reader->line, parser->n_fields, reader->n_fields);

    int label_column = parser->musk ? parser->n_fields - 1 : 0;
    int key_column = parser->musk ? 0 : 1;
    const char *label_name = parser->musk ? "class" : "bag label";
    const char *key_name = parser->musk ? "molecule name" : "bag id";
    int label = 0;

    hop_status status = read_label(parser, label_column, label_name, &label, err);
    if (status != HOP_OK)
        return status;
    if (reader->fields[key_column].length == 0)
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%ld: column %d (%s) is missing; fill it in",
                             source_of(parser), reader->line, key_column + 1, key_name);
    status = assign_bag(parser, &reader->fields[key_column], label, err);
    if (status != HOP_OK)
        return status;
    return read_features(parser, err);
}

static hop_status finish(mil_parser *parser, hop_mil_dataset *out, hop_error *err)
{
    char *source = malloc(strlen(source_of(parser)) + 1);
    if (!source)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    strcpy(source, source_of(parser));

    parser->bag_start[parser->n_bags] = parser->n_instances;
    *out = (hop_mil_dataset){
        .n_bags = parser->n_bags,
        .n_instances = parser->n_instances,
        .dim = parser->dim,
        .features = parser->features,
        .bag_start = parser->bag_start,
        .labels = parser->labels,
        .bag_names = parser->names,
        .instance_labels = NULL,
        .source = source,
    };
    parser->features = NULL;
    parser->bag_start = NULL;
    parser->labels = NULL;
    parser->names = NULL;
    parser->n_bags = 0;
    return HOP_OK;
}

hop_status hop_mil_parse(const char *buffer, size_t length, const char *source,
                         hop_mil_dataset *out, hop_error *err)
{
    mil_parser parser;
    memset(&parser, 0, sizeof parser);
    memset(out, 0, sizeof *out);
    if (length >= 3 && memcmp(buffer, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
        buffer += 3;
        length -= 3;
    }
    hop_csv_init(&parser.reader, buffer, length, source);

    hop_status status = HOP_OK;
    int more = hop_csv_next(&parser.reader, err);
    if (more == 0)
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: the input is empty or blank; expected one instance per line",
                               source_of(&parser));
    else if (more > 0)
        status = detect_format(&parser, err);

    while (status == HOP_OK && more > 0) {
        status = parse_line(&parser, err);
        if (status == HOP_OK)
            more = hop_csv_next(&parser.reader, err);
    }
    if (status == HOP_OK && more < 0)
        status = err ? err->status : HOP_ERR_PARSE;
    if (status == HOP_OK)
        status = finish(&parser, out, err);
    parser_free(&parser);
    return status;
}

hop_status hop_mil_load(const char *path, hop_mil_dataset *out, hop_error *err)
{
    char *data = NULL;
    size_t length = 0;

    memset(out, 0, sizeof *out);
    if (!path)
        return hop_error_set(err, HOP_ERR_ARG, "no dataset path given");

    hop_status status = hop_file_read(path, (unsigned char **)&data, &length, err);
    if (status == HOP_OK && length == 0)
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: the file is empty; expected one instance per line", path);
    if (status == HOP_OK)
        status = hop_mil_parse(data, length, path, out, err);
    free(data);
    return status;
}
