/* Golden-file parser and the mapping of a case's kwargs onto hop layer configurations. */
#include "hop/golden.h"
#include "hop/loaders.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest tensor record accepted, in elements; it bounds memory on a corrupt shape. */
#define GOLDEN_MAX_NUMEL ((size_t)1 << 28)

static const char *const kind_names[HOP_GOLDEN_KIND_COUNT] = {
    [HOP_GOLDEN_PARAM] = "param",
    [HOP_GOLDEN_INPUT] = "input",
    [HOP_GOLDEN_MASK] = "mask",
    [HOP_GOLDEN_LOSS_WEIGHT] = "loss_weight",
    [HOP_GOLDEN_OUTPUT] = "output",
    [HOP_GOLDEN_ASSOC] = "assoc",
    [HOP_GOLDEN_GRAD_INPUT] = "grad_input",
    [HOP_GOLDEN_GRAD_PARAM] = "grad_param",
    [HOP_GOLDEN_OUTPUT64] = "output64",
    [HOP_GOLDEN_GRAD_INPUT64] = "grad_input64",
    [HOP_GOLDEN_GRAD_PARAM64] = "grad_param64",
};

const char *hop_golden_kind_name(hop_golden_kind kind)
{
    if ((int)kind < 0 || kind >= HOP_GOLDEN_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

static bool kind_is_float64(hop_golden_kind kind)
{
    return kind == HOP_GOLDEN_OUTPUT64 || kind == HOP_GOLDEN_GRAD_INPUT64 ||
           kind == HOP_GOLDEN_GRAD_PARAM64;
}

static int kind_from_name(const char *name)
{
    for (int k = 0; k < HOP_GOLDEN_KIND_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

/* Releasing. */

static void tensor_free(hop_golden_tensor *t)
{
    free(t->name);
    free(t->values);
}

static void case_free(hop_golden_case *c)
{
    free(c->name);
    free(c->class_name);
    free(c->kwargs);
    free(c->input_kind);
    free(c->projection_path);
    free(c->update_steps);
    for (int i = 0; i < c->n_tensors; i++)
        tensor_free(&c->tensors[i]);
    free(c->tensors);
}

void hop_golden_free(hop_golden_file *file)
{
    if (!file)
        return;
    for (int i = 0; i < file->n_cases; i++)
        case_free(&file->cases[i]);
    free(file->cases);
    free(file->header);
    memset(file, 0, sizeof *file);
}

const hop_golden_tensor *hop_golden_find(const hop_golden_case *c, hop_golden_kind kind,
                                         const char *name)
{
    for (int i = 0; i < c->n_tensors; i++)
        if (c->tensors[i].kind == kind && strcmp(c->tensors[i].name, name) == 0)
            return &c->tensors[i];
    return NULL;
}

/* Line reader and tokens. */

typedef struct parser {
    const char *text;
    size_t length;
    size_t pos;
    int line_no;
    char *line; /* NUL-terminated copy of the current line */
    size_t line_capacity;
    hop_golden_file *file;
    hop_golden_case *current; /* the open case, or NULL between cases */
    hop_error *err;
} parser;

static hop_status parse_fail(parser *p, hop_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes text into out with bytes outside printable ASCII as \\xNN, cut to fit with "...". */
static void escape_text(const char *text, char *out, size_t size)
{
    size_t used = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        char piece[8];
        if (*c >= 0x20 && *c < 0x7f)
            snprintf(piece, sizeof piece, "%c", *c);
        else
            snprintf(piece, sizeof piece, "\\x%02X", *c);
        size_t n = strlen(piece);
        if (used + n + 4 > size) {
            memcpy(out + used, "...", 4);
            return;
        }
        memcpy(out + used, piece, n);
        used += n;
    }
    out[used] = '\0';
}

/* Messages quote words of the input, which may be binary or very long, so they are escaped. */
static hop_status parse_fail(parser *p, hop_status status, const char *format, ...)
{
    char message[HOP_ERROR_MESSAGE_MAX], escaped[200];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    escape_text(message, escaped, sizeof escaped);
    return hop_error_set(p->err, status, "golden line %d: %s", p->line_no, escaped);
}

/* Copies the next line into p->line; returns 1, or 0 at the end of the text, or -1. */
static int next_line(parser *p)
{
    if (p->pos >= p->length)
        return 0;
    const char *start = p->text + p->pos;
    const char *newline = memchr(start, '\n', p->length - p->pos);
    size_t n = newline ? (size_t)(newline - start) : p->length - p->pos;
    p->pos += n + (newline ? 1 : 0);
    p->line_no++;
    if (n > 0 && start[n - 1] == '\r')
        n--;

    if (n + 1 > p->line_capacity) {
        char *grown = realloc(p->line, n + 1);
        if (!grown) {
            hop_error_set(p->err, HOP_ERR_NOMEM, "golden line %d: out of memory (%zu bytes)",
                          p->line_no, n + 1);
            return -1;
        }
        p->line = grown;
        p->line_capacity = n + 1;
    }
    memcpy(p->line, start, n);
    p->line[n] = '\0';
    return 1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static size_t count_words(const char *s)
{
    size_t words = 0;
    for (size_t i = 0; s[i]; i++)
        words += !is_blank(s[i]) && (i == 0 || is_blank(s[i - 1]));
    return words;
}

/* Returns the next space-separated word of *cursor, NUL-terminated in place, or NULL. */
static char *take_word(char **cursor)
{
    char *s = *cursor;
    while (is_blank(*s))
        s++;
    if (*s == '\0') {
        *cursor = s;
        return NULL;
    }
    char *word = s;
    while (*s && !is_blank(*s))
        s++;
    if (*s)
        *s++ = '\0';
    *cursor = s;
    return word;
}

static bool rest_is_empty(const char *cursor)
{
    while (is_blank(*cursor))
        cursor++;
    return *cursor == '\0';
}

static hop_status parse_int(parser *p, const char *word, const char *label, int *out)
{
    char *end;
    errno = 0;
    long v = word ? strtol(word, &end, 10) : 0;
    if (!word || *end != '\0' || errno || v < INT_MIN || v > INT_MAX)
        return parse_fail(p, HOP_ERR_PARSE, "%s '%s' is not an integer", label,
                          word ? word : "(missing)");
    *out = (int)v;
    return HOP_OK;
}

static hop_status parse_double(parser *p, const char *word, const char *label, double *out)
{
    char *end;
    double v = word ? strtod(word, &end) : 0.0;
    if (!word || end == word || *end != '\0')
        return parse_fail(p, HOP_ERR_PARSE, "%s '%s' is not a number", label,
                          word ? word : "(missing)");
    *out = v;
    return HOP_OK;
}

static hop_status copy_string(parser *p, const char *s, char **out)
{
    *out = malloc(strlen(s) + 1);
    if (!*out)
        return parse_fail(p, HOP_ERR_NOMEM, "out of memory");
    strcpy(*out, s);
    return HOP_OK;
}

/* Records of a case. */

static hop_status parse_case(parser *p, char *cursor)
{
    if (p->current)
        return parse_fail(p, HOP_ERR_PARSE, "'case' inside case '%s' (line %d), which has no 'end'",
                          p->current->name, p->current->line);
    char *name = take_word(&cursor);
    if (!name || !rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "'case' needs exactly one name");

    hop_golden_file *f = p->file;
    hop_golden_case *cases = realloc(f->cases, (size_t)(f->n_cases + 1) * sizeof *cases);
    if (!cases)
        return parse_fail(p, HOP_ERR_NOMEM, "out of memory for case '%s'", name);
    f->cases = cases;
    p->current = &cases[f->n_cases++];
    memset(p->current, 0, sizeof *p->current);
    p->current->line = p->line_no;
    return copy_string(p, name, &p->current->name);
}

/* Stores the single word of a record such as "class X" into *field. */
static hop_status parse_word_field(parser *p, const char *key, char *cursor, char **field)
{
    if (*field)
        return parse_fail(p, HOP_ERR_PARSE, "second '%s' record in case '%s'", key,
                          p->current->name);
    char *word = take_word(&cursor);
    if (!word || !rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "'%s' needs exactly one word", key);
    return copy_string(p, word, field);
}

static hop_status parse_kwargs(parser *p, char *cursor)
{
    if (p->current->kwargs)
        return parse_fail(p, HOP_ERR_PARSE, "second 'kwargs' record in case '%s'",
                          p->current->name);
    while (is_blank(*cursor))
        cursor++;

    cJSON *json = cJSON_Parse(cursor);
    bool is_object = cJSON_IsObject(json);
    cJSON_Delete(json);
    if (!is_object)
        return parse_fail(p, HOP_ERR_PARSE, "kwargs of case '%s' are not a JSON object: %.60s",
                          p->current->name, cursor);
    return copy_string(p, cursor, &p->current->kwargs);
}

static hop_status parse_update_steps(parser *p, char *cursor)
{
    hop_golden_case *c = p->current;
    if (c->update_steps)
        return parse_fail(p, HOP_ERR_PARSE, "second 'update_steps_taken' in case '%s'", c->name);

    size_t words = count_words(cursor);
    c->update_steps = malloc((words ? words : 1) * sizeof *c->update_steps);
    if (!c->update_steps)
        return parse_fail(p, HOP_ERR_NOMEM, "out of memory");

    for (char *word; (word = take_word(&cursor));) {
        int steps = 0;
        if (parse_int(p, word, "update step count", &steps) != HOP_OK)
            return p->err->status;
        if (steps < 0)
            return parse_fail(p, HOP_ERR_PARSE, "update step count %d is negative", steps);
        c->update_steps[c->n_update_steps++] = steps;
    }
    if (c->n_update_steps == 0)
        return parse_fail(p, HOP_ERR_PARSE, "'update_steps_taken' lists no counts");
    return HOP_OK;
}

static hop_status parse_loss(parser *p, char *cursor, bool *has, double *value, const char *key)
{
    if (*has)
        return parse_fail(p, HOP_ERR_PARSE, "second '%s' record in case '%s'", key,
                          p->current->name);
    char *word = take_word(&cursor);
    if (!rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "'%s' needs exactly one value", key);
    if (parse_double(p, word, key, value) != HOP_OK)
        return p->err->status;
    *has = true;
    return HOP_OK;
}

/* Tensor records. */

static hop_status add_tensor(parser *p, hop_golden_tensor **out)
{
    hop_golden_case *c = p->current;
    hop_golden_tensor *tensors = realloc(c->tensors, (size_t)(c->n_tensors + 1) * sizeof *tensors);
    if (!tensors)
        return parse_fail(p, HOP_ERR_NOMEM, "out of memory for a tensor record");
    c->tensors = tensors;
    *out = &tensors[c->n_tensors++];
    memset(*out, 0, sizeof **out);
    (*out)->line = p->line_no;
    return HOP_OK;
}

static hop_status parse_kind_and_name(parser *p, char **cursor, hop_golden_tensor *t)
{
    char *kind = take_word(cursor);
    char *name = take_word(cursor);
    if (!kind || !name)
        return parse_fail(p, HOP_ERR_PARSE, "tensor record needs a kind and a name");
    int k = kind_from_name(kind);
    if (k < 0)
        return parse_fail(p, HOP_ERR_PARSE, "unknown tensor kind '%s'", kind);
    t->kind = (hop_golden_kind)k;

    /* t is the case's last tensor; compare against the records before it. */
    const hop_golden_case *c = p->current;
    for (int i = 0; i < c->n_tensors - 1; i++)
        if (c->tensors[i].kind == t->kind && strcmp(c->tensors[i].name, name) == 0)
            return parse_fail(p, HOP_ERR_PARSE, "second %s record '%s' in case '%s'", kind, name,
                              c->name);
    return copy_string(p, name, &t->name);
}

static hop_status parse_shape(parser *p, char *cursor, hop_golden_tensor *t)
{
    if (parse_int(p, take_word(&cursor), "tensor rank", &t->ndim) != HOP_OK)
        return p->err->status;
    if (t->ndim < 0 || t->ndim > HOP_GOLDEN_MAX_DIMS)
        return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has rank %d; 0 to %d allowed", t->name,
                          t->ndim, HOP_GOLDEN_MAX_DIMS);

    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (parse_int(p, take_word(&cursor), "tensor extent", &t->shape[d]) != HOP_OK)
            return p->err->status;
        if (t->shape[d] < 0)
            return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has extent %d on axis %d", t->name,
                              t->shape[d], d);
        t->numel *= (size_t)t->shape[d];
        if (t->numel > GOLDEN_MAX_NUMEL)
            return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has more than %zu elements", t->name,
                              GOLDEN_MAX_NUMEL);
    }
    if (!rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has text after its %d extents", t->name,
                          t->ndim);
    return HOP_OK;
}

static hop_status parse_values(parser *p, hop_golden_tensor *t)
{
    int got = next_line(p);
    if (got < 0)
        return p->err->status;
    if (got == 0)
        return parse_fail(p, HOP_ERR_PARSE, "file ends before the values of tensor '%s'", t->name);

    t->values = malloc((t->numel ? t->numel : 1) * sizeof *t->values);
    if (!t->values)
        return parse_fail(p, HOP_ERR_NOMEM, "out of memory for %zu values", t->numel);

    bool float64 = kind_is_float64(t->kind);
    char *s = p->line, *end;
    size_t count = 0;
    for (;;) {
        while (is_blank(*s))
            s++;
        if (*s == '\0')
            break;
        double v = float64 ? strtod(s, &end) : (double)strtof(s, &end);
        if (end == s || (*end != '\0' && !is_blank(*end)))
            return parse_fail(p, HOP_ERR_PARSE, "value %zu of tensor '%s' is not a number",
                              count + 1, t->name);
        if (count == t->numel)
            return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has more than %zu values", t->name,
                              t->numel);
        t->values[count++] = v;
        s = end;
    }
    if (count != t->numel)
        return parse_fail(p, HOP_ERR_PARSE, "tensor '%s' has %zu values, its shape needs %zu",
                          t->name, count, t->numel);
    return HOP_OK;
}

static hop_status parse_tensor(parser *p, char *cursor)
{
    hop_golden_tensor *t = NULL;
    if (add_tensor(p, &t) != HOP_OK || parse_kind_and_name(p, &cursor, t) != HOP_OK ||
        parse_shape(p, cursor, t) != HOP_OK)
        return p->err->status;
    return parse_values(p, t);
}

static hop_status parse_none(parser *p, char *cursor)
{
    hop_golden_tensor *t = NULL;
    if (add_tensor(p, &t) != HOP_OK || parse_kind_and_name(p, &cursor, t) != HOP_OK)
        return p->err->status;
    if (!rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "'none' record '%s' has extra text", t->name);
    t->none = true;
    return HOP_OK;
}

static hop_status parse_end(parser *p, char *cursor)
{
    hop_golden_case *c = p->current;
    if (!rest_is_empty(cursor))
        return parse_fail(p, HOP_ERR_PARSE, "'end' has extra text");
    if (!c->class_name)
        return parse_fail(p, HOP_ERR_PARSE, "case '%s' (line %d) has no 'class' record", c->name,
                          c->line);
    if (!c->kwargs && copy_string(p, "{}", &c->kwargs) != HOP_OK)
        return p->err->status;
    p->current = NULL;
    return HOP_OK;
}

static hop_status parse_case_record(parser *p, const char *key, char *cursor)
{
    hop_golden_case *c = p->current;
    if (strcmp(key, "class") == 0)
        return parse_word_field(p, key, cursor, &c->class_name);
    if (strcmp(key, "kwargs") == 0)
        return parse_kwargs(p, cursor);
    if (strcmp(key, "input_kind") == 0)
        return parse_word_field(p, key, cursor, &c->input_kind);
    if (strcmp(key, "projection_path") == 0)
        return parse_word_field(p, key, cursor, &c->projection_path);
    if (strcmp(key, "update_steps_taken") == 0)
        return parse_update_steps(p, cursor);
    if (strcmp(key, "tensor") == 0)
        return parse_tensor(p, cursor);
    if (strcmp(key, "none") == 0)
        return parse_none(p, cursor);
    if (strcmp(key, "loss") == 0)
        return parse_loss(p, cursor, &c->has_loss, &c->loss, key);
    if (strcmp(key, "loss64") == 0)
        return parse_loss(p, cursor, &c->has_loss64, &c->loss64, key);
    if (strcmp(key, "end") == 0)
        return parse_end(p, cursor);
    return parse_fail(p, HOP_ERR_PARSE, "unknown record '%s'", key);
}

static hop_status parse_comment(parser *p)
{
    if (p->file->header || p->file->n_cases > 0)
        return HOP_OK;
    const char *text = p->line + 1;
    while (*text == ' ')
        text++;
    return copy_string(p, text, &p->file->header);
}

static hop_status parse_line(parser *p)
{
    if (p->line[0] == '#')
        return parse_comment(p);

    char *cursor = p->line;
    char *key = take_word(&cursor);
    if (!key)
        return HOP_OK;
    if (strcmp(key, "case") == 0)
        return parse_case(p, cursor);
    if (!p->current)
        return parse_fail(p, HOP_ERR_PARSE, "record '%s' outside a case", key);
    return parse_case_record(p, key, cursor);
}

/* Rejects a binary file and the JSON export of the golden cases before the line parser runs. */
static hop_status check_text(const char *text, size_t length, hop_error *err)
{
    const char *nul = memchr(text, '\0', length);
    if (nul)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "byte %zu is NUL, so this is not a text file; expected the golden "
                             "text format (lines such as 'case NAME', 'class NAME', 'end')",
                             (size_t)(nul - text) + 1);
    size_t i = 0;
    while (i < length && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (i < length && (text[i] == '{' || text[i] == '['))
        return hop_error_set(err, HOP_ERR_PARSE,
                             "the file is JSON, but hop golden reads the golden text format; use "
                             "the .txt file of the same name");
    return HOP_OK;
}

hop_status hop_golden_parse(const char *text, size_t length, hop_golden_file *file, hop_error *err)
{
    hop_error local;
    if (!err)
        err = &local;
    memset(file, 0, sizeof *file);
    hop_status status = check_text(text, length, err);
    if (status != HOP_OK)
        return status;
    parser p = {.text = text, .length = length, .file = file, .err = err};
    int got = 0;
    while (status == HOP_OK && (got = next_line(&p)) > 0)
        status = parse_line(&p);
    if (status == HOP_OK && got < 0)
        status = err->status;
    if (status == HOP_OK && p.current)
        status = parse_fail(&p, HOP_ERR_PARSE, "file ends inside case '%s' (line %d)",
                            p.current->name, p.current->line);
    free(p.line);
    if (status != HOP_OK)
        hop_golden_free(file);
    return status;
}

hop_status hop_golden_load(const char *path, hop_golden_file *file, hop_error *err)
{
    memset(file, 0, sizeof *file);
    char *text = NULL;
    size_t length = 0;
    hop_status status = hop_file_read(path, (unsigned char **)&text, &length, err);
    if (status != HOP_OK)
        return status;

    hop_error local;
    hop_error_clear(&local);
    status = hop_golden_parse(text, length, file, &local);
    free(text);
    if (status != HOP_OK)
        hop_error_set(err, status, "%s: %s", path, local.message);
    return status;
}

/* Kwargs of a case mapped onto hop configurations. */

typedef enum option_type {
    OPT_INT,     /* an integer */
    OPT_SIZE,    /* an integer, or null for hop's 0 = default */
    OPT_STEPS,   /* an integer, null for an unbounded loop (-1), or {"tensor": [one per head]} */
    OPT_EPS,     /* a number, or {"tensor": [one per head]} */
    OPT_FLOAT,   /* a number */
    OPT_SCALING, /* a number, null for the default, or {"tensor": [one per head]} */
    OPT_BOOL,
    OPT_ACTIVATION, /* null or the name of a torch function hop implements */
} option_type;

typedef struct option {
    const char *key;
    option_type type;
    size_t offset; /* into hop_hopfield_config */
} option;

#define HF(field) offsetof(hop_hopfield_config, field)
static const option hopfield_options[] = {
    {"input_size", OPT_SIZE, HF(input_size)},
    {"hidden_size", OPT_SIZE, HF(hidden_size)},
    {"output_size", OPT_SIZE, HF(output_size)},
    {"pattern_size", OPT_SIZE, HF(pattern_size)},
    {"num_heads", OPT_INT, HF(num_heads)},
    {"stored_pattern_size", OPT_SIZE, HF(stored_pattern_size)},
    {"pattern_projection_size", OPT_SIZE, HF(pattern_projection_size)},
    {"scaling", OPT_SCALING, HF(scaling)},
    {"update_steps_max", OPT_STEPS, HF(update_steps_max)},
    {"update_steps_eps", OPT_EPS, HF(update_steps_eps)},
    {"normalize_stored_pattern", OPT_BOOL, HF(normalize_stored_pattern)},
    {"normalize_stored_pattern_affine", OPT_BOOL, HF(normalize_stored_pattern_affine)},
    {"normalize_stored_pattern_eps", OPT_FLOAT, HF(normalize_stored_pattern_eps)},
    {"normalize_state_pattern", OPT_BOOL, HF(normalize_state_pattern)},
    {"normalize_state_pattern_affine", OPT_BOOL, HF(normalize_state_pattern_affine)},
    {"normalize_state_pattern_eps", OPT_FLOAT, HF(normalize_state_pattern_eps)},
    {"normalize_pattern_projection", OPT_BOOL, HF(normalize_pattern_projection)},
    {"normalize_pattern_projection_affine", OPT_BOOL, HF(normalize_pattern_projection_affine)},
    {"normalize_pattern_projection_eps", OPT_FLOAT, HF(normalize_pattern_projection_eps)},
    {"normalize_hopfield_space", OPT_BOOL, HF(normalize_hopfield_space)},
    {"normalize_hopfield_space_affine", OPT_BOOL, HF(normalize_hopfield_space_affine)},
    {"normalize_hopfield_space_eps", OPT_FLOAT, HF(normalize_hopfield_space_eps)},
    {"stored_pattern_as_static", OPT_BOOL, HF(stored_pattern_as_static)},
    {"state_pattern_as_static", OPT_BOOL, HF(state_pattern_as_static)},
    {"pattern_projection_as_static", OPT_BOOL, HF(pattern_projection_as_static)},
    {"pattern_projection_as_connected", OPT_BOOL, HF(pattern_projection_as_connected)},
    {"association_activation", OPT_ACTIVATION, HF(association_activation)},
    {"input_bias", OPT_BOOL, HF(input_bias)},
    {"concat_bias_pattern", OPT_BOOL, HF(concat_bias_pattern)},
    {"add_zero_association", OPT_BOOL, HF(add_zero_association)},
    {"disable_out_projection", OPT_BOOL, HF(disable_out_projection)},
    {"dropout", OPT_FLOAT, HF(dropout)},
};
#undef HF

static hop_status kwarg_fail(const hop_golden_case *c, hop_status status, const char *key,
                             const char *problem, hop_error *err)
{
    return hop_error_set(err, status, "golden case '%s' (line %d): kwarg '%s' %s", c->name, c->line,
                         key, problem);
}

static bool json_int(const cJSON *value, int *out)
{
    if (!cJSON_IsNumber(value))
        return false;
    double v = value->valuedouble;
    if (v != floor(v) || v < INT_MIN || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* Returns the "tensor" list of a per-head kwarg {"tensor": [...]}, or NULL after setting err. */
static const cJSON *per_head_list(const hop_golden_case *c, const char *key, const cJSON *value,
                                  hop_error *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(value, "tensor");
    int n = cJSON_GetArraySize(list);
    if (cJSON_IsArray(list) && n >= 1 && n <= HOP_HOPFIELD_MAX_HEADS)
        return list;
    kwarg_fail(c, HOP_ERR_PARSE, key, "is an object without a \"tensor\" list of 1 to 1024 numbers",
               err);
    return NULL;
}

static hop_status apply_head_scaling(const hop_golden_case *c, const cJSON *value,
                                     hop_golden_config *config, hop_error *err)
{
    const cJSON *list = per_head_list(c, "scaling", value, err);
    if (!list)
        return HOP_ERR_PARSE;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        if (!cJSON_IsNumber(item))
            return kwarg_fail(c, HOP_ERR_PARSE, "scaling", "has a non-number tensor entry", err);
        config->head_scaling[i++] = (float)item->valuedouble;
    }
    config->n_head_scaling = i;
    return HOP_OK;
}

static hop_status apply_head_steps_max(const hop_golden_case *c, const cJSON *value,
                                       hop_hopfield_config *config, hop_error *err)
{
    const cJSON *list = per_head_list(c, "update_steps_max", value, err);
    if (!list)
        return HOP_ERR_PARSE;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        if (!json_int(item, &config->head_update_steps_max[i++]))
            return kwarg_fail(c, HOP_ERR_PARSE, "update_steps_max",
                              "has a non-integer tensor entry", err);
    }
    config->n_head_update_steps_max = i;
    return HOP_OK;
}

static hop_status apply_head_steps_eps(const hop_golden_case *c, const cJSON *value,
                                       hop_hopfield_config *config, hop_error *err)
{
    const cJSON *list = per_head_list(c, "update_steps_eps", value, err);
    if (!list)
        return HOP_ERR_PARSE;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        if (!cJSON_IsNumber(item))
            return kwarg_fail(c, HOP_ERR_PARSE, "update_steps_eps", "has a non-number tensor entry",
                              err);
        config->head_update_steps_eps[i++] = (float)item->valuedouble;
    }
    config->n_head_update_steps_eps = i;
    return HOP_OK;
}

static hop_status apply_number(const hop_golden_case *c, const option *opt, const cJSON *value,
                               hop_golden_config *config, float *field, hop_error *err)
{
    if (opt->type == OPT_SCALING && cJSON_IsObject(value))
        return apply_head_scaling(c, value, config, err);
    if (opt->type == OPT_EPS && cJSON_IsObject(value))
        return apply_head_steps_eps(c, value, &config->hopfield, err);
    if (cJSON_IsArray(value) || cJSON_IsObject(value))
        return kwarg_fail(c, HOP_ERR_DATA, opt->key,
                          "is a list or an object; hop reads per-head scaling and "
                          "update_steps_eps only as {\"tensor\": [...]}",
                          err);
    if (opt->type == OPT_SCALING && cJSON_IsNull(value)) {
        *field = NAN;
        return HOP_OK;
    }
    if (!cJSON_IsNumber(value))
        return kwarg_fail(c, HOP_ERR_PARSE, opt->key, "is not a number", err);
    *field = (float)value->valuedouble;
    return HOP_OK;
}

static hop_status apply_integer(const hop_golden_case *c, const option *opt, const cJSON *value,
                                hop_golden_config *config, int *field, hop_error *err)
{
    if (cJSON_IsNull(value) && opt->type != OPT_INT) {
        *field = opt->type == OPT_STEPS ? -1 : 0;
        return HOP_OK;
    }
    if (opt->type == OPT_STEPS && cJSON_IsObject(value))
        return apply_head_steps_max(c, value, &config->hopfield, err);
    if (opt->type == OPT_STEPS && cJSON_IsArray(value))
        return kwarg_fail(c, HOP_ERR_DATA, opt->key,
                          "is a list; hop reads a per-head tensor only as {\"tensor\": [...]}",
                          err);
    if (!json_int(value, field))
        return kwarg_fail(c, HOP_ERR_PARSE, opt->key, "is not an integer", err);
    return HOP_OK;
}

static hop_status apply_activation(const hop_golden_case *c, const cJSON *value,
                                   hop_hopfield_activation *field, hop_error *err)
{
    static const struct {
        const char *name;
        hop_hopfield_activation activation;
    } names[] = {
        {"relu", HOP_HOPFIELD_ACTIVATION_RELU},
        {"tanh", HOP_HOPFIELD_ACTIVATION_TANH},
        {"sigmoid", HOP_HOPFIELD_ACTIVATION_SIGMOID},
    };
    if (cJSON_IsNull(value)) {
        *field = HOP_HOPFIELD_ACTIVATION_NONE;
        return HOP_OK;
    }
    if (!cJSON_IsString(value))
        return kwarg_fail(c, HOP_ERR_PARSE, "association_activation", "is not a string", err);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(value->valuestring, names[i].name) == 0) {
            *field = names[i].activation;
            return HOP_OK;
        }
    return kwarg_fail(c, HOP_ERR_DATA, "association_activation",
                      "names an activation hop does not implement; use relu, tanh or sigmoid", err);
}

static hop_status apply_option(const hop_golden_case *c, const option *opt, const cJSON *value,
                               hop_golden_config *config, hop_error *err)
{
    void *field = (char *)&config->hopfield + opt->offset;
    switch (opt->type) {
    case OPT_INT:
    case OPT_SIZE:
    case OPT_STEPS: return apply_integer(c, opt, value, config, field, err);
    case OPT_EPS:
    case OPT_FLOAT:
    case OPT_SCALING: return apply_number(c, opt, value, config, field, err);
    case OPT_ACTIVATION: return apply_activation(c, value, field, err);
    case OPT_BOOL: break;
    }
    if (!cJSON_IsBool(value))
        return kwarg_fail(c, HOP_ERR_PARSE, opt->key, "is not true or false", err);
    *(bool *)field = cJSON_IsTrue(value);
    return HOP_OK;
}

static hop_status apply_bool(const hop_golden_case *c, const cJSON *item, bool *field,
                             hop_error *err)
{
    if (!cJSON_IsBool(item))
        return kwarg_fail(c, HOP_ERR_PARSE, item->string, "is not true or false", err);
    *field = cJSON_IsTrue(item);
    return HOP_OK;
}

/* Keys of the wrappers; returns HOP_ERR_DATA without a message when the key is not one. */
static hop_status apply_wrapper_kwarg(const hop_golden_case *c, const cJSON *item,
                                      hop_golden_config *config, hop_error *err)
{
    const char *key = item->string;
    bool pooling = config->module == HOP_GOLDEN_POOLING, layer = config->module == HOP_GOLDEN_LAYER;
    if ((pooling || layer) && strcmp(key, "quantity") == 0) {
        if (!json_int(item, &config->quantity))
            return kwarg_fail(c, HOP_ERR_PARSE, key, "is not an integer", err);
        return HOP_OK;
    }
    if ((pooling || layer) && strcmp(key, "trainable") == 0)
        return apply_bool(c, item, &config->trainable, err);
    if (layer && strcmp(key, "lookup_weights_as_separated") == 0)
        return apply_bool(c, item, &config->lookup_weights_as_separated, err);
    if (layer && strcmp(key, "lookup_targets_as_trainable") == 0)
        return apply_bool(c, item, &config->lookup_targets_as_trainable, err);
    return HOP_ERR_DATA;
}

static hop_status apply_kwarg(const hop_golden_case *c, const cJSON *item,
                              hop_golden_config *config, hop_error *err)
{
    hop_status status = apply_wrapper_kwarg(c, item, config, err);
    if (status != HOP_ERR_DATA)
        return status;
    for (size_t i = 0; i < sizeof hopfield_options / sizeof hopfield_options[0]; i++)
        if (strcmp(item->string, hopfield_options[i].key) == 0)
            return apply_option(c, &hopfield_options[i], item, config, err);
    if (strcmp(item->string, "batch_first") == 0) {
        if (cJSON_IsTrue(item))
            return HOP_OK;
        return kwarg_fail(c, HOP_ERR_DATA, item->string,
                          "is implemented only as true (batch-first layouts)", err);
    }
    return kwarg_fail(c, HOP_ERR_DATA, item->string, "is not an option hop knows", err);
}

static cJSON *parse_kwargs_json(const hop_golden_case *c, hop_error *err)
{
    cJSON *json = cJSON_Parse(c->kwargs ? c->kwargs : "{}");
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        hop_error_set(err, HOP_ERR_PARSE,
                      "golden case '%s' (line %d): kwargs are not a JSON object", c->name, c->line);
        return NULL;
    }
    return json;
}

static hop_status config_for_class(const hop_golden_case *c, hop_golden_config *config,
                                   hop_error *err)
{
    static const struct {
        const char *name;
        hop_golden_module module;
    } classes[] = {
        {"Hopfield", HOP_GOLDEN_HOPFIELD},
        {"HopfieldPooling", HOP_GOLDEN_POOLING},
        {"HopfieldLayer", HOP_GOLDEN_LAYER},
    };
    memset(config, 0, sizeof *config);
    config->hopfield = hop_hopfield_config_default(0);
    config->quantity = 1;
    config->trainable = true;
    config->lookup_targets_as_trainable = true;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (c->class_name && strcmp(c->class_name, classes[i].name) == 0) {
            config->module = classes[i].module;
            return HOP_OK;
        }
    return hop_error_set(err, HOP_ERR_ARG,
                         "golden case '%s' (line %d) is class %s; hop runs Hopfield, "
                         "HopfieldPooling and HopfieldLayer",
                         c->name, c->line, c->class_name ? c->class_name : "(none)");
}

static hop_status check_per_head_count(const hop_golden_case *c, const char *key, int count,
                                       int heads, hop_error *err)
{
    if (count == 0 || count == heads)
        return HOP_OK;
    char problem[96];
    snprintf(problem, sizeof problem, "has %d tensor entries; it needs one entry per head (%d)",
             count, heads);
    return kwarg_fail(c, HOP_ERR_DATA, key, problem, err);
}

static hop_status check_per_head_counts(const hop_golden_case *c, const hop_golden_config *config,
                                        hop_error *err)
{
    const hop_hopfield_config *h = &config->hopfield;
    hop_status status =
        check_per_head_count(c, "scaling", config->n_head_scaling, h->num_heads, err);
    if (status == HOP_OK)
        status = check_per_head_count(c, "update_steps_max", h->n_head_update_steps_max,
                                      h->num_heads, err);
    if (status == HOP_OK)
        status = check_per_head_count(c, "update_steps_eps", h->n_head_update_steps_eps,
                                      h->num_heads, err);
    return status;
}

void hop_golden_config_bind(hop_golden_config *config)
{
    config->hopfield.head_scaling = config->n_head_scaling > 0 ? config->head_scaling : NULL;
}

hop_status hop_golden_case_config(const hop_golden_case *c, hop_golden_config *config,
                                  hop_error *err)
{
    hop_status status = config_for_class(c, config, err);
    if (status != HOP_OK)
        return status;
    cJSON *json = parse_kwargs_json(c, err);
    if (!json)
        return HOP_ERR_PARSE;

    const cJSON *item;
    cJSON_ArrayForEach(item, json)
    {
        status = apply_kwarg(c, item, config, err);
        if (status != HOP_OK)
            break;
    }
    cJSON_Delete(json);
    if (status == HOP_OK)
        status = check_per_head_counts(c, config, err);
    hop_golden_config_bind(config);
    return status;
}
