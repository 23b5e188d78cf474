/* CSV table loader: features, integer or named class labels and optional headers. */
#include "hop/loaders.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader_util.h"

#define EXCERPT_MAX 40

/* One record (row) of fields, unquoted and NUL-terminated inside text. */
typedef struct csv_record {
    char *text;
    size_t text_length;
    size_t text_capacity;
    size_t *offsets;
    unsigned char *quoted;
    int n_fields;
    int fields_capacity;
    long line; /* line on which the record starts */
} csv_record;

typedef struct csv_scanner {
    const char *data;
    size_t length;
    size_t pos;
    long line; /* line of data[pos] */
    const char *source;
    char delimiter;
} csv_scanner;

static void record_free(csv_record *record)
{
    free(record->text);
    free(record->offsets);
    free(record->quoted);
    memset(record, 0, sizeof *record);
}

static const char *field_text(const csv_record *record, int field)
{
    return record->text + record->offsets[field];
}

static hop_status no_memory(const csv_scanner *scanner, hop_error *err)
{
    return hop_error_set(err, HOP_ERR_NOMEM, "%s:%ld: out of memory", scanner->source,
                         scanner->line);
}

static hop_status append_char(csv_record *record, char c, const csv_scanner *scanner,
                              hop_error *err)
{
    if (record->text_length + 1 >= record->text_capacity) {
        size_t capacity = record->text_capacity ? record->text_capacity * 2 : 256;
        char *text = realloc(record->text, capacity);
        if (!text)
            return no_memory(scanner, err);
        record->text = text;
        record->text_capacity = capacity;
    }
    record->text[record->text_length++] = c;
    return HOP_OK;
}

static hop_status start_field(csv_record *record, int quoted, const csv_scanner *scanner,
                              hop_error *err)
{
    if (record->n_fields == record->fields_capacity) {
        if (record->fields_capacity > INT_MAX / 2)
            return hop_error_set(err, HOP_ERR_PARSE, "%s:%ld: too many fields", scanner->source,
                                 scanner->line);
        int capacity = record->fields_capacity ? record->fields_capacity * 2 : 16;
        size_t *offsets = realloc(record->offsets, (size_t)capacity * sizeof *offsets);
        if (offsets)
            record->offsets = offsets;
        unsigned char *flags = realloc(record->quoted, (size_t)capacity);
        if (flags)
            record->quoted = flags;
        if (!offsets || !flags)
            return no_memory(scanner, err);
        record->fields_capacity = capacity;
    }
    record->offsets[record->n_fields] = record->text_length;
    record->quoted[record->n_fields] = (unsigned char)quoted;
    record->n_fields++;
    return HOP_OK;
}

static int at_end(const csv_scanner *scanner)
{
    return scanner->pos >= scanner->length;
}

static char peek(const csv_scanner *scanner)
{
    return scanner->data[scanner->pos];
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Returns 1 at a line end (LF, CRLF, or a CR as the last byte), without consuming it. */
static int at_line_end(const csv_scanner *scanner)
{
    if (at_end(scanner))
        return 1;
    char c = peek(scanner);
    if (c == '\n')
        return 1;
    return c == '\r' &&
           (scanner->pos + 1 == scanner->length || scanner->data[scanner->pos + 1] == '\n');
}

static void skip_line_end(csv_scanner *scanner)
{
    if (at_end(scanner))
        return;
    if (peek(scanner) == '\r')
        scanner->pos++;
    if (!at_end(scanner) && peek(scanner) == '\n')
        scanner->pos++;
    scanner->line++;
}

static hop_status bad_byte(const csv_scanner *scanner, hop_error *err)
{
    if (peek(scanner) == '\0')
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: line contains a NUL byte (byte offset %zu); the input must "
                             "be a text file",
                             scanner->source, scanner->line, scanner->pos);
    return hop_error_set(err, HOP_ERR_PARSE,
                         "%s:%ld: carriage return without line feed (byte offset %zu); convert "
                         "the file to LF or CRLF line ends",
                         scanner->source, scanner->line, scanner->pos);
}

static hop_status scan_quoted(csv_scanner *scanner, csv_record *record, hop_error *err)
{
    long open_line = scanner->line;
    scanner->pos++;
    for (;;) {
        if (at_end(scanner))
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s:%ld: quoted field opened on this line is never closed; add "
                                 "the closing '\"'",
                                 scanner->source, open_line);
        char c = peek(scanner);
        scanner->pos++;
        if (c == '"' && !at_end(scanner) && peek(scanner) == '"') {
            scanner->pos++;
        } else if (c == '"') {
            return HOP_OK;
        } else if (c == '\n') {
            scanner->line++;
        } else if (c == '\0') {
            scanner->pos--;
            return bad_byte(scanner, err);
        }
        hop_status status = append_char(record, c, scanner, err);
        if (status != HOP_OK)
            return status;
    }
}

static hop_status scan_plain(csv_scanner *scanner, csv_record *record, hop_error *err)
{
    size_t begin = record->text_length;
    while (!at_line_end(scanner) && peek(scanner) != scanner->delimiter) {
        char c = peek(scanner);
        if (c == '\0' || c == '\r')
            return bad_byte(scanner, err);
        if (c == '"')
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s:%ld: quote inside an unquoted field (byte offset %zu); "
                                 "quote the whole field and write \"\" for a quote",
                                 scanner->source, scanner->line, scanner->pos);
        hop_status status = append_char(record, c, scanner, err);
        if (status != HOP_OK)
            return status;
        scanner->pos++;
    }
    while (record->text_length > begin && is_space(record->text[record->text_length - 1]))
        record->text_length--;
    return HOP_OK;
}

static hop_status scan_field(csv_scanner *scanner, csv_record *record, hop_error *err)
{
    while (!at_end(scanner) && is_space(peek(scanner)))
        scanner->pos++;
    int quoted = !at_end(scanner) && peek(scanner) == '"';
    hop_status status = start_field(record, quoted, scanner, err);
    if (status == HOP_OK)
        status = quoted ? scan_quoted(scanner, record, err) : scan_plain(scanner, record, err);
    if (status == HOP_OK && quoted) {
        while (!at_end(scanner) && is_space(peek(scanner)))
            scanner->pos++;
        if (!at_line_end(scanner) && peek(scanner) != scanner->delimiter)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s:%ld: text after the closing quote of field %d (byte offset "
                                 "%zu); put the whole field in quotes",
                                 scanner->source, scanner->line, record->n_fields, scanner->pos);
    }
    if (status == HOP_OK)
        status = append_char(record, '\0', scanner, err);
    return status;
}

/* Reads the next record. Returns 1 for a record, 0 at the end and -1 on an error. */
static int scan_record(csv_scanner *scanner, csv_record *record, hop_error *err)
{
    record->n_fields = 0;
    record->text_length = 0;
    if (at_end(scanner))
        return 0;

    record->line = scanner->line;
    for (;;) {
        if (scan_field(scanner, record, err) != HOP_OK)
            return -1;
        if (at_line_end(scanner))
            break;
        scanner->pos++; /* the delimiter */
    }
    skip_line_end(scanner);
    return 1;
}

static int record_is_blank(const csv_record *record)
{
    return record->n_fields == 1 && !record->quoted[0] && field_text(record, 0)[0] == '\0';
}

/* Reads the next non-blank record. Blank lines are allowed only after the last record. */
static int next_record(csv_scanner *scanner, csv_record *record, hop_error *err)
{
    long blank_line = 0;
    for (;;) {
        int got = scan_record(scanner, record, err);
        if (got <= 0)
            return got;
        if (!record_is_blank(record))
            break;
        if (!blank_line)
            blank_line = record->line;
    }
    if (blank_line) {
        hop_error_set(err, HOP_ERR_PARSE,
                      "%s:%ld: line is blank but data follows on line %ld; remove the blank "
                      "line (blank lines are allowed only at the end)",
                      scanner->source, blank_line, record->line);
        return -1;
    }
    return 1;
}

static int parse_number(const char *text, double *value)
{
    char *end = NULL;
    if (!text[0])
        return 0;
    /* NOTE: strtod follows LC_NUMERIC, so a program that sets a locale with a decimal comma
     * reads "0.5" wrongly. The C locale, the default of every program, reads it. */
    *value = strtod(text, &end);
    return *end == '\0';
}

static int is_number(const char *text)
{
    double value;
    return parse_number(text, &value);
}

static int parse_count(const char *text, long *value)
{
    char *end = NULL;
    if (!text[0])
        return 0;
    *value = strtol(text, &end, 10);
    return *end == '\0' && *value >= 0 && *value <= INT_MAX;
}

static char *excerpt(const char *text, char *buf, size_t size)
{
    size_t length = strlen(text);
    if (length < size) {
        memcpy(buf, text, length + 1);
        return buf;
    }
    memcpy(buf, text, size - 4);
    memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* ---- Table building ---- */

typedef struct table_parser {
    csv_scanner scanner;
    csv_record record;
    const hop_table_options *options;
    int width;         /* columns in every data row, after dropping a trailing empty one */
    int drop_trailing; /* 1 when every row ends with an empty column that is dropped */
    int label_column;  /* resolved 0-based label column, or -1 */
    int text_labels;   /* 1 when labels are class names, 0 for integers */
    long count_rows;   /* rows and features declared by a count header, or -1 */
    long count_features;
    char **header; /* width names from a name header, or NULL */
    int header_count;
    char **class_names; /* names from a count header or text labels (insertion order) */
    int n_classes;
    int *sorted; /* class indices sorted by name, for text labels */
    int max_label;
    long max_label_line;

    float *features;
    int *labels;
    size_t rows_capacity;
    int n_rows;
    long first_data_line;
} table_parser;

static void parser_free(table_parser *parser)
{
    record_free(&parser->record);
    hop_free_strings(parser->header, parser->header_count);
    hop_free_strings(parser->class_names, parser->n_classes);
    free(parser->sorted);
    free(parser->features);
    free(parser->labels);
}

static const char *source_of(const table_parser *parser)
{
    return parser->scanner.source;
}

static hop_status copy_record_names(table_parser *parser, const csv_record *record, int first,
                                    char ***names, int *count, hop_error *err)
{
    int n = record->n_fields - first;
    *names = calloc(n > 0 ? (size_t)n : 1, sizeof **names);
    if (!*names)
        return no_memory(&parser->scanner, err);
    *count = n;
    for (int i = 0; i < n; i++) {
        (*names)[i] = hop_strdup(field_text(record, first + i));
        if (!(*names)[i])
            return no_memory(&parser->scanner, err);
    }
    return HOP_OK;
}

static int record_has_text(const csv_record *record, int first)
{
    for (int i = first; i < record->n_fields; i++)
        if (field_text(record, i)[0] && !is_number(field_text(record, i)))
            return 1;
    return 0;
}

/* A count header is "n_samples,n_features,class names..." with at least one class name and
 * every name non-empty and not a number. */
static int looks_like_counts(const csv_record *line1, const csv_record *line2)
{
    long rows, features;
    if (line1->n_fields < 3 || !parse_count(field_text(line1, 0), &rows) ||
        !parse_count(field_text(line1, 1), &features) || rows < 1 || features < 1)
        return 0;
    for (int i = 2; i < line1->n_fields; i++)
        if (!field_text(line1, i)[0] || is_number(field_text(line1, i)))
            return 0;
    if (!line2)
        return 0;
    int width = line2->n_fields;
    int trailing_empty = width > 1 && field_text(line2, width - 1)[0] == '\0';
    return width == features + 1 || (trailing_empty && width == features + 2);
}

/* A name header has a non-empty, non-numeric field where the first data row has a number. */
static int looks_like_names(const csv_record *line1, const csv_record *line2)
{
    if (!line2)
        return record_has_text(line1, 0);
    for (int i = 0; i < line1->n_fields && i < line2->n_fields; i++)
        if (field_text(line1, i)[0] && !is_number(field_text(line1, i)) &&
            is_number(field_text(line2, i)))
            return 1;
    return 0;
}

static hop_status read_counts(table_parser *parser, const csv_record *record, hop_error *err)
{
    if (record->n_fields < 2 || !parse_count(field_text(record, 0), &parser->count_rows) ||
        !parse_count(field_text(record, 1), &parser->count_features) || parser->count_features < 1)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: expected a count header \"n_samples,n_features,class "
                             "names...\" with two non-negative integers",
                             source_of(parser), record->line);
    return copy_record_names(parser, record, 2, &parser->class_names, &parser->n_classes, err);
}

/* Peeks at the record after the current position without consuming it. */
static int peek_record(table_parser *parser, csv_record *record, hop_error *err)
{
    csv_scanner saved = parser->scanner;
    int got = next_record(&parser->scanner, record, err);
    parser->scanner = saved;
    return got;
}

/* Reads a line of column names after a count header, when the line after it is data. */
static hop_status read_names_after_counts(table_parser *parser, hop_error *err)
{
    csv_record line2 = {0};
    csv_record line3 = {0};
    csv_scanner saved = parser->scanner;
    hop_status status = HOP_OK;

    int got = next_record(&parser->scanner, &line2, err);
    int got3 = got > 0 ? peek_record(parser, &line3, err) : 0;
    if (got < 0 || got3 < 0)
        status = err ? err->status : HOP_ERR_PARSE;
    else if (got > 0 && looks_like_names(&line2, got3 ? &line3 : NULL))
        status = copy_record_names(parser, &line2, 0, &parser->header, &parser->header_count, err);
    else
        parser->scanner = saved;
    record_free(&line2);
    record_free(&line3);
    return status;
}

static hop_status detect_header(table_parser *parser, hop_table_header *header, hop_error *err)
{
    csv_record line2 = {0};
    int got = peek_record(parser, &line2, err);
    const csv_record *next = got > 0 ? &line2 : NULL;
    *header = HOP_HEADER_NONE;
    if (looks_like_counts(&parser->record, next))
        *header = HOP_HEADER_COUNTS;
    else if (looks_like_names(&parser->record, next))
        *header = HOP_HEADER_NAMES;
    record_free(&line2);
    if (got >= 0)
        return HOP_OK;
    return err ? err->status : HOP_ERR_PARSE;
}

static hop_status read_header(table_parser *parser, hop_error *err)
{
    csv_scanner start = parser->scanner;
    int got = next_record(&parser->scanner, &parser->record, err);
    if (got < 0)
        return err ? err->status : HOP_ERR_PARSE;
    if (got == 0)
        return hop_error_set(err, HOP_ERR_DATA, "%s: the file has no rows; expected CSV data",
                             source_of(parser));

    hop_table_header header = parser->options->header;
    if (header == HOP_HEADER_AUTO && detect_header(parser, &header, err) != HOP_OK)
        return err ? err->status : HOP_ERR_PARSE;

    switch (header) {
    case HOP_HEADER_COUNTS: {
        hop_status status = read_counts(parser, &parser->record, err);
        if (status == HOP_OK && parser->options->header == HOP_HEADER_AUTO)
            status = read_names_after_counts(parser, err);
        return status;
    }
    case HOP_HEADER_NAMES:
        return copy_record_names(parser, &parser->record, 0, &parser->header, &parser->header_count,
                                 err);
    default: parser->scanner = start; return HOP_OK;
    }
}

static hop_status resolve_label_column(table_parser *parser, hop_error *err)
{
    const hop_table_options *options = parser->options;
    if (options->label_name) {
        for (int i = 0; parser->header && i < parser->header_count; i++) {
            if (strcmp(parser->header[i], options->label_name) == 0) {
                parser->label_column = i;
                return HOP_OK;
            }
        }
        return hop_error_set(err, HOP_ERR_ARG,
                             "%s: no header column is named \"%s\"; check the label column name",
                             source_of(parser), options->label_name);
    }
    if (options->label_column == HOP_TABLE_NO_LABEL) {
        parser->label_column = -1;
        return HOP_OK;
    }
    if (options->label_column == HOP_TABLE_LAST_COLUMN) {
        parser->label_column = parser->width - 1;
    } else if (options->label_column < 0 || options->label_column >= parser->width) {
        return hop_error_set(err, HOP_ERR_ARG,
                             "%s: label column %d is out of range; the table has %d columns "
                             "(numbered from 0)",
                             source_of(parser), options->label_column, parser->width);
    } else {
        parser->label_column = options->label_column;
    }
    if (parser->width < 2)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: a row has one column, so there is no feature besides the "
                             "label; choose no label column or add features",
                             source_of(parser), parser->first_data_line);
    return HOP_OK;
}

static hop_status check_header_width(table_parser *parser, hop_error *err)
{
    if (!parser->header)
        return HOP_OK;
    if (parser->drop_trailing && parser->header_count == parser->width + 1 &&
        parser->header[parser->width][0] == '\0') {
        free(parser->header[parser->width]);
        parser->header_count--;
    }
    if (parser->header_count != parser->width)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: the header has %d names but line %ld has %d columns; give "
                             "every column one name",
                             source_of(parser), parser->header_count, parser->first_data_line,
                             parser->width);
    return HOP_OK;
}

static hop_status check_counts_header(table_parser *parser, hop_error *err)
{
    if (parser->count_features < 0)
        return HOP_OK;
    int features = parser->width - (parser->label_column >= 0);
    if (features != parser->count_features)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:1: the count header declares %ld features but line %ld has %d; "
                             "fix the header or the rows",
                             source_of(parser), parser->count_features, parser->first_data_line,
                             features);
    return HOP_OK;
}

/* Fixes the table's width from the first data row, then the label column. */
static hop_status setup_columns(table_parser *parser, hop_error *err)
{
    const csv_record *record = &parser->record;
    parser->first_data_line = record->line;
    parser->width = record->n_fields;
    if (record->n_fields > 1 && !record->quoted[record->n_fields - 1] &&
        field_text(record, record->n_fields - 1)[0] == '\0') {
        parser->drop_trailing = 1;
        parser->width--;
    }
    hop_status status = check_header_width(parser, err);
    if (status == HOP_OK)
        status = resolve_label_column(parser, err);
    if (status == HOP_OK)
        status = check_counts_header(parser, err);
    if (status == HOP_OK && parser->label_column >= 0)
        parser->text_labels =
            !is_number(field_text(record, parser->label_column)) && parser->count_rows < 0;
    return status;
}

static hop_status check_width(table_parser *parser, hop_error *err)
{
    const csv_record *record = &parser->record;
    int n = record->n_fields;
    if (parser->drop_trailing) {
        if (n == parser->width + 1 && field_text(record, n - 1)[0] == '\0')
            return HOP_OK;
        if (n == parser->width + 1)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s:%ld: column %d has a value, but on line %ld it was empty and "
                                 "dropped as a trailing delimiter; fill that column in every row "
                                 "or remove it",
                                 source_of(parser), record->line, n, parser->first_data_line);
    } else if (n == parser->width) {
        return HOP_OK;
    }
    return hop_error_set(err, HOP_ERR_PARSE,
                         "%s:%ld: row has %d columns but line %ld has %d; every row needs the "
                         "same number of columns",
                         source_of(parser), record->line, n - parser->drop_trailing,
                         parser->first_data_line, parser->width);
}

static hop_status grow_rows(table_parser *parser, int n_features, hop_error *err)
{
    if ((size_t)parser->n_rows < parser->rows_capacity)
        return HOP_OK;
    if (parser->n_rows == INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s:%ld: more than %d rows", source_of(parser),
                             parser->record.line, INT_MAX);
    size_t capacity = parser->rows_capacity ? parser->rows_capacity * 2 : 256;
    if (capacity > INT_MAX)
        capacity = INT_MAX;
    if (n_features > 0 && capacity > SIZE_MAX / sizeof(float) / (size_t)n_features)
        return no_memory(&parser->scanner, err);
    float *features = realloc(parser->features,
                              capacity * (size_t)n_features * sizeof *features + sizeof *features);
    if (features)
        parser->features = features;
    int *labels = realloc(parser->labels, capacity * sizeof *labels);
    if (labels)
        parser->labels = labels;
    if (!features || !labels)
        return no_memory(&parser->scanner, err);
    parser->rows_capacity = capacity;
    return HOP_OK;
}

static hop_status read_feature(table_parser *parser, int column, float *value, hop_error *err)
{
    const char *text = field_text(&parser->record, column);
    char shown[EXCERPT_MAX];
    double number;
    long line = parser->record.line;

    if (!text[0])
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%ld: column %d is empty; fill in a value",
                             source_of(parser), line, column + 1);
    if (!parse_number(text, &number))
        return hop_error_set(
            err, HOP_ERR_PARSE, "%s:%ld: column %d: \"%s\" is not a number; fix or remove it",
            source_of(parser), line, column + 1, excerpt(text, shown, sizeof shown));
    if (!isfinite(number) || fabs(number) > FLT_MAX)
        return hop_error_set(err, HOP_ERR_NUMERIC,
                             "%s:%ld: column %d: \"%s\" is not a finite float; replace NaN, "
                             "infinite and out-of-range values before loading",
                             source_of(parser), line, column + 1,
                             excerpt(text, shown, sizeof shown));
    *value = (float)number;
    return HOP_OK;
}

static hop_status read_numeric_label(table_parser *parser, int *label, hop_error *err)
{
    const char *text = field_text(&parser->record, parser->label_column);
    char shown[EXCERPT_MAX];
    double number;
    long line = parser->record.line;

    if (!parse_number(text, &number) || number != floor(number) || number < 0 || number >= INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: label \"%s\" in column %d is not a non-negative integer; "
                             "labels are class indices 0, 1, ... (or class names, when the first "
                             "row's label is a name)",
                             source_of(parser), line, excerpt(text, shown, sizeof shown),
                             parser->label_column + 1);
    *label = (int)number;
    if (parser->count_rows >= 0 && parser->n_classes > 0 && *label >= parser->n_classes)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s:%ld: label %d is out of range; the count header names %d "
                             "classes (labels 0 to %d)",
                             source_of(parser), line, *label, parser->n_classes,
                             parser->n_classes - 1);
    if (*label > parser->max_label) {
        parser->max_label = *label;
        parser->max_label_line = line;
    }
    return HOP_OK;
}

static int find_class(const table_parser *parser, const char *name, int *position)
{
    int low = 0, high = parser->n_classes;
    while (low < high) {
        int mid = low + (high - low) / 2;
        int order = strcmp(parser->class_names[parser->sorted[mid]], name);
        if (order == 0) {
            *position = mid;
            return 1;
        }
        if (order < 0)
            low = mid + 1;
        else
            high = mid;
    }
    *position = low;
    return 0;
}

/* Text labels get class ids in order of first appearance, renumbered by name at the end. */
static hop_status read_text_label(table_parser *parser, int *label, hop_error *err)
{
    const char *name = field_text(&parser->record, parser->label_column);
    int position;
    if (find_class(parser, name, &position)) {
        *label = parser->sorted[position];
        return HOP_OK;
    }

    int n = parser->n_classes;
    char **names = realloc(parser->class_names, (size_t)(n + 1) * sizeof *names);
    if (names)
        parser->class_names = names;
    int *sorted = realloc(parser->sorted, (size_t)(n + 1) * sizeof *sorted);
    if (sorted)
        parser->sorted = sorted;
    char *copy = hop_strdup(name);
    if (!names || !sorted || !copy) {
        free(copy);
        return no_memory(&parser->scanner, err);
    }
    memmove(sorted + position + 1, sorted + position, (size_t)(n - position) * sizeof *sorted);
    sorted[position] = n;
    names[n] = copy;
    parser->n_classes = n + 1;
    *label = n;
    return HOP_OK;
}

static hop_status read_row(table_parser *parser, hop_error *err)
{
    int n_features = parser->width - (parser->label_column >= 0);
    hop_status status = check_width(parser, err);
    if (status == HOP_OK)
        status = grow_rows(parser, n_features, err);
    if (status != HOP_OK)
        return status;

    float *row = parser->features + (size_t)parser->n_rows * (size_t)n_features;
    int feature = 0;
    for (int column = 0; status == HOP_OK && column < parser->width; column++) {
        if (column == parser->label_column)
            continue;
        status = read_feature(parser, column, &row[feature++], err);
    }
    int *label = &parser->labels[parser->n_rows];
    if (status == HOP_OK && parser->label_column >= 0)
        status = parser->text_labels ? read_text_label(parser, label, err)
                                     : read_numeric_label(parser, label, err);
    if (status == HOP_OK)
        parser->n_rows++;
    return status;
}

static hop_status read_rows(table_parser *parser, hop_error *err)
{
    hop_status status = HOP_OK;
    int got = next_record(&parser->scanner, &parser->record, err);
    if (got == 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: the file has a header but no data rows; expected at least one "
                             "row",
                             source_of(parser));
    if (got > 0)
        status = setup_columns(parser, err);
    while (got > 0 && status == HOP_OK) {
        status = read_row(parser, err);
        if (status == HOP_OK)
            got = next_record(&parser->scanner, &parser->record, err);
    }
    if (got < 0)
        return err ? err->status : HOP_ERR_PARSE;
    return status;
}

static hop_status check_row_count(const table_parser *parser, hop_error *err)
{
    if (parser->count_rows < 0 || parser->count_rows == parser->n_rows)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_DATA,
                         "%s:1: the count header declares %ld rows but the file has %d; the file "
                         "may be truncated or the header wrong",
                         source_of(parser), parser->count_rows, parser->n_rows);
}

/* Renumbers text-label classes by sorted name and moves the class names into out. */
static hop_status finish_classes(table_parser *parser, hop_table *out, hop_error *err)
{
    if (parser->label_column < 0)
        return HOP_OK;
    if (parser->text_labels) {
        int *rank = malloc((size_t)parser->n_classes * sizeof *rank);
        char **names = malloc((size_t)parser->n_classes * sizeof *names);
        if (!rank || !names) {
            free(rank);
            free(names);
            return no_memory(&parser->scanner, err);
        }
        for (int i = 0; i < parser->n_classes; i++) {
            rank[parser->sorted[i]] = i;
            names[i] = parser->class_names[parser->sorted[i]];
        }
        for (int r = 0; r < parser->n_rows; r++)
            parser->labels[r] = rank[parser->labels[r]];
        free(rank);
        free(parser->class_names);
        parser->class_names = names;
    }
    out->n_classes = parser->n_classes > 0 ? parser->n_classes : parser->max_label + 1;
    if (parser->n_classes > 0) {
        out->class_names = parser->class_names;
        parser->class_names = NULL;
        parser->n_classes = 0;
    }
    out->labels = parser->labels;
    parser->labels = NULL;
    return HOP_OK;
}

static hop_status finish(table_parser *parser, hop_table *out, hop_error *err)
{
    hop_status status = check_row_count(parser, err);
    if (status == HOP_OK)
        status = finish_classes(parser, out, err);
    if (status != HOP_OK)
        return status;

    out->source = hop_strdup(source_of(parser));
    if (!out->source)
        return no_memory(&parser->scanner, err);
    out->n_rows = parser->n_rows;
    out->n_features = parser->width - (parser->label_column >= 0);
    out->features = parser->features;
    parser->features = NULL;
    if (parser->header) {
        out->feature_names = parser->header;
        int feature = 0;
        for (int column = 0; column < parser->header_count; column++) {
            if (column == parser->label_column)
                free(parser->header[column]);
            else
                out->feature_names[feature++] = parser->header[column];
        }
        parser->header = NULL;
        parser->header_count = 0;
    }
    return HOP_OK;
}

hop_table_options hop_table_defaults(void)
{
    return (hop_table_options){.header = HOP_HEADER_AUTO,
                               .label_column = HOP_TABLE_LAST_COLUMN,
                               .label_name = NULL,
                               .delimiter = ','};
}

hop_status hop_table_parse(const char *buffer, size_t length, const char *source,
                           const hop_table_options *options, hop_table *out, hop_error *err)
{
    hop_table_options defaults = hop_table_defaults();
    table_parser parser = {0};

    memset(out, 0, sizeof *out);
    options = options ? options : &defaults;
    parser.options = options;
    parser.scanner = (csv_scanner){.data = buffer,
                                   .length = buffer ? length : 0,
                                   .line = 1,
                                   .source = source ? source : "<buffer>",
                                   .delimiter = options->delimiter ? options->delimiter : ','};
    parser.count_rows = -1;
    parser.count_features = -1;
    parser.max_label = -1;
    if (parser.scanner.delimiter == '"' || parser.scanner.delimiter == '\n' ||
        parser.scanner.delimiter == '\r')
        return hop_error_set(err, HOP_ERR_ARG, "%s: the delimiter cannot be a quote or line end",
                             parser.scanner.source);
    if (parser.scanner.length >= 3 && memcmp(buffer, "\xEF\xBB\xBF", 3) == 0)
        parser.scanner.pos = 3;

    hop_status status = read_header(&parser, err);
    if (status == HOP_OK)
        status = read_rows(&parser, err);
    if (status == HOP_OK)
        status = finish(&parser, out, err);
    parser_free(&parser);
    if (status != HOP_OK)
        hop_table_free(out);
    return status;
}

hop_status hop_table_load(const char *path, const hop_table_options *options, hop_table *out,
                          hop_error *err)
{
    unsigned char *data = NULL;
    size_t length = 0;
    memset(out, 0, sizeof *out);
    hop_status status = hop_file_read(path, &data, &length, err);
    if (status == HOP_OK)
        status = hop_table_parse((const char *)data, length, path, options, out, err);
    free(data);
    return status;
}

void hop_table_free(hop_table *table)
{
    if (!table)
        return;
    free(table->features);
    free(table->labels);
    hop_free_strings(table->class_names, table->n_classes);
    if (table->feature_names)
        hop_free_strings(table->feature_names, table->n_features);
    free(table->source);
    memset(table, 0, sizeof *table);
}
