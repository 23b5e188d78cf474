#include "csv.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXCERPT_MAX 48

void hop_csv_init(hop_csv_reader *reader, const char *data, size_t length, const char *source)
{
    memset(reader, 0, sizeof *reader);
    reader->data = data;
    reader->length = data ? length : 0;
    reader->source = source ? source : "<buffer>";
}

void hop_csv_free(hop_csv_reader *reader)
{
    free(reader->fields);
    free(reader->scratch);
    reader->fields = NULL;
    reader->scratch = NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_blank(const char *begin, const char *end)
{
    for (const char *p = begin; p < end; p++)
        if (!is_space(*p))
            return 0;
    return 1;
}

static hop_csv_field trimmed(const char *begin, const char *end)
{
    while (begin < end && is_space(*begin))
        begin++;
    while (end > begin && is_space(end[-1]))
        end--;
    return (hop_csv_field){.text = begin, .length = (size_t)(end - begin)};
}

static hop_status split_fields(hop_csv_reader *reader, const char *begin, const char *end,
                               hop_error *err)
{
    int count = 1;
    for (const char *p = begin; p < end; p++)
        count += *p == ',';

    if (count > reader->fields_capacity) {
        hop_csv_field *fields = realloc(reader->fields, (size_t)count * sizeof *fields);
        if (!fields)
            return hop_error_set(err, HOP_ERR_NOMEM, "%s:%ld: out of memory splitting %d fields",
                                 reader->source, reader->line, count);
        reader->fields = fields;
        reader->fields_capacity = count;
    }

    int n = 0;
    const char *field_begin = begin;
    for (const char *p = begin; p <= end; p++) {
        if (p == end || *p == ',') {
            reader->fields[n++] = trimmed(field_begin, p);
            field_begin = p + 1;
        }
    }
    reader->n_fields = n;
    return HOP_OK;
}

int hop_csv_next(hop_csv_reader *reader, hop_error *err)
{
    while (reader->pos < reader->length) {
        const char *begin = reader->data + reader->pos;
        size_t rest = reader->length - reader->pos;
        const char *newline = memchr(begin, '\n', rest);
        const char *end = newline ? newline : begin + rest;

        reader->pos = newline ? (size_t)(newline - reader->data) + 1 : reader->length;
        reader->line++;
        if (end > begin && end[-1] == '\r')
            end--;

        if (end > begin && memchr(begin, '\0', (size_t)(end - begin))) {
            hop_error_set(err, HOP_ERR_PARSE,
                          "%s:%ld: line contains a NUL byte; the input must be a text file",
                          reader->source, reader->line);
            return -1;
        }
        if (is_blank(begin, end)) {
            if (!reader->blank_line)
                reader->blank_line = reader->line;
            continue;
        }
        if (reader->blank_line) {
            hop_error_set(err, HOP_ERR_PARSE,
                          "%s:%ld: line is blank but data follows on line %ld; remove the blank "
                          "line (blank lines are allowed only at the end)",
                          reader->source, reader->blank_line, reader->line);
            return -1;
        }
        return split_fields(reader, begin, end, err) == HOP_OK ? 1 : -1;
    }
    return 0;
}

static hop_status copy_to_scratch(hop_csv_reader *reader, const hop_csv_field *field,
                                  hop_error *err)
{
    if (field->length + 1 > reader->scratch_capacity) {
        size_t capacity = field->length + 64;
        char *scratch = realloc(reader->scratch, capacity);
        if (!scratch)
            return hop_error_set(err, HOP_ERR_NOMEM, "%s:%ld: out of memory reading a field",
                                 reader->source, reader->line);
        reader->scratch = scratch;
        reader->scratch_capacity = capacity;
    }
    memcpy(reader->scratch, field->text, field->length);
    reader->scratch[field->length] = '\0';
    return HOP_OK;
}

/* Returns 1 and sets *value when the scratch copy of a field is one whole number, else 0.
 * NOTE: strtod follows LC_NUMERIC, so a program that sets a locale with a decimal comma
 * breaks parsing. The C locale, the default of every program, reads "0.5". */
static int scratch_to_double(const hop_csv_reader *reader, size_t length, double *value)
{
    char *end = NULL;
    *value = strtod(reader->scratch, &end);
    return length > 0 && end == reader->scratch + length;
}

int hop_csv_is_number(hop_csv_reader *reader, const hop_csv_field *field)
{
    double value;
    if (copy_to_scratch(reader, field, NULL) != HOP_OK)
        return 0;
    return scratch_to_double(reader, field->length, &value);
}

hop_status hop_csv_float(hop_csv_reader *reader, int column, const char *what, int what_number,
                         float *value, hop_error *err)
{
    const hop_csv_field *field = &reader->fields[column];
    char text[EXCERPT_MAX];
    char name[64];
    double number;

    if (copy_to_scratch(reader, field, err) != HOP_OK)
        return HOP_ERR_NOMEM;
    if (scratch_to_double(reader, field->length, &number) && isfinite(number) &&
        fabs(number) <= FLT_MAX) {
        *value = (float)number;
        return HOP_OK;
    }

    if (what_number > 0)
        snprintf(name, sizeof name, "%s %d", what, what_number);
    else
        snprintf(name, sizeof name, "%s", what);
    if (field->length == 0)
        return hop_error_set(err, HOP_ERR_PARSE, "%s:%ld: column %d (%s) is empty; fill in a value",
                             reader->source, reader->line, column + 1, name);
    if (!scratch_to_double(reader, field->length, &number))
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s:%ld: column %d (%s): \"%s\" is not a number; fix or remove it",
                             reader->source, reader->line, column + 1, name,
                             hop_csv_excerpt(field, text, sizeof text));
    return hop_error_set(err, HOP_ERR_NUMERIC,
                         "%s:%ld: column %d (%s): \"%s\" is not a finite float; replace NaN, "
                         "infinite and out-of-range values before loading",
                         reader->source, reader->line, column + 1, name,
                         hop_csv_excerpt(field, text, sizeof text));
}

char *hop_csv_excerpt(const hop_csv_field *field, char *buf, size_t size)
{
    if (size < 4) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    if (field->length < size) {
        memcpy(buf, field->text, field->length);
        buf[field->length] = '\0';
        return buf;
    }
    memcpy(buf, field->text, size - 4);
    memcpy(buf + size - 4, "...", 4);
    return buf;
}
