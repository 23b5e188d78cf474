/*
 * Private line and field reader shared by the dataset parsers in this folder.
 *
 * The reader walks a byte buffer (no NUL terminator needed) one line at a time. It
 * accepts LF and CRLF line ends and a last line without one, skips blank lines at the
 * end and rejects blank lines before data, NUL bytes and nothing else. Fields are split
 * at commas and trimmed of spaces and tabs. There is no quoting.
 */
#ifndef HOP_DATASETS_CSV_H
#define HOP_DATASETS_CSV_H

#include <stddef.h>

#include "hop/base.h"

typedef struct hop_csv_field {
    const char *text; /* points into the buffer, not NUL-terminated */
    size_t length;
} hop_csv_field;

typedef struct hop_csv_reader {
    const char *data;
    size_t length;
    size_t pos;
    const char *source;
    long line;       /* 1-based number of the current line */
    long blank_line; /* first blank line seen since the last data line, or 0 */
    hop_csv_field *fields;
    int n_fields;
    int fields_capacity;
    char *scratch; /* NUL-terminated copy of the field being converted */
    size_t scratch_capacity;
} hop_csv_reader;

void hop_csv_init(hop_csv_reader *reader, const char *data, size_t length, const char *source);
void hop_csv_free(hop_csv_reader *reader);

/* Reads the next data line into reader->fields. Returns 1 for a line, 0 at the end and -1
 * on an error, which err describes. */
int hop_csv_next(hop_csv_reader *reader, hop_error *err);

/* Returns 1 when field is exactly one number that strtod reads, else 0. */
int hop_csv_is_number(hop_csv_reader *reader, const hop_csv_field *field);

/* Converts fields[column] (0-based) to a finite float. Messages name the column as
 * "what what_number" ("feature 3"), or as what alone when what_number is 0.
 * HOP_ERR_PARSE for an empty or non-numeric field, HOP_ERR_NUMERIC for NaN, infinity or a
 * value outside the float range. */
hop_status hop_csv_float(hop_csv_reader *reader, int column, const char *what, int what_number,
                         float *value, hop_error *err);

/* Writes field into buf for a message, cut to fit with "..." at the end. Returns buf. */
char *hop_csv_excerpt(const hop_csv_field *field, char *buf, size_t size);

#endif
