/* safetensors parsing, validation, writing and parameter loading. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hop/io.h"

/* Headers above this size are rejected as damaged; the Python reader uses the same limit. */
#define HEADER_MAX ((uint64_t)100 * 1000 * 1000)

static const struct {
    const char *name;
    size_t size;
} dtype_table[HOP_DTYPE_COUNT] = {
    [HOP_DTYPE_F64] = {"F64", 8},   [HOP_DTYPE_F32] = {"F32", 4}, [HOP_DTYPE_F16] = {"F16", 2},
    [HOP_DTYPE_BF16] = {"BF16", 2}, [HOP_DTYPE_I64] = {"I64", 8}, [HOP_DTYPE_I32] = {"I32", 4},
    [HOP_DTYPE_I16] = {"I16", 2},   [HOP_DTYPE_I8] = {"I8", 1},   [HOP_DTYPE_U64] = {"U64", 8},
    [HOP_DTYPE_U32] = {"U32", 4},   [HOP_DTYPE_U16] = {"U16", 2}, [HOP_DTYPE_U8] = {"U8", 1},
    [HOP_DTYPE_BOOL] = {"BOOL", 1},
};

struct hop_st_entry {
    char *name;
    hop_dtype dtype;
    int ndim;
    int64_t shape[HOP_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
};

const char *hop_dtype_name(hop_dtype dtype)
{
    return dtype >= 0 && dtype < HOP_DTYPE_COUNT ? dtype_table[dtype].name : "unknown";
}

size_t hop_dtype_size(hop_dtype dtype)
{
    return dtype >= 0 && dtype < HOP_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

static int dtype_from_name(const char *name)
{
    for (int i = 0; i < HOP_DTYPE_COUNT; i++)
        if (strcmp(dtype_table[i].name, name) == 0)
            return i;
    return -1;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

void hop_safetensors_free(hop_safetensors *st)
{
    for (int i = 0; i < st->count; i++)
        free(st->tensors[i].name);
    for (int i = 0; i < st->n_metadata; i++) {
        free(st->metadata_keys[i]);
        free(st->metadata_values[i]);
    }
    free(st->tensors);
    free(st->metadata_keys);
    free(st->metadata_values);
    free(st->owned);
    free(st->source);
    memset(st, 0, sizeof *st);
}

/* Reads a JSON number that must be a non-negative integer below 2^53. */
static int json_index(const cJSON *item, uint64_t *value)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double d = item->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d)
        return 0;
    *value = (uint64_t)d;
    return 1;
}

static hop_status parse_metadata(hop_safetensors *st, const cJSON *meta, hop_error *err)
{
    if (!cJSON_IsObject(meta))
        return hop_error_set(err, HOP_ERR_PARSE, "%s: __metadata__ is not a JSON object",
                             st->source);
    int n = cJSON_GetArraySize(meta);
    st->metadata_keys = calloc((size_t)n + 1, sizeof *st->metadata_keys);
    st->metadata_values = calloc((size_t)n + 1, sizeof *st->metadata_values);
    if (!st->metadata_keys || !st->metadata_values)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for metadata", st->source);
    for (const cJSON *item = meta->child; item; item = item->next) {
        if (!cJSON_IsString(item))
            return hop_error_set(err, HOP_ERR_PARSE, "%s: metadata value of '%s' is not a string",
                                 st->source, item->string);
        int i = st->n_metadata++;
        st->metadata_keys[i] = copy_string(item->string);
        st->metadata_values[i] = copy_string(item->valuestring);
        if (!st->metadata_keys[i] || !st->metadata_values[i])
            return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for metadata", st->source);
    }
    return HOP_OK;
}

static hop_status parse_shape(const hop_safetensors *st, const char *name, const cJSON *shape,
                              hop_st_tensor *t, hop_error *err)
{
    if (!cJSON_IsArray(shape))
        return hop_error_set(err, HOP_ERR_PARSE, "%s: tensor '%s' has no shape list", st->source,
                             name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > HOP_ST_MAX_DIMS)
        return hop_error_set(err, HOP_ERR_PARSE, "%s: tensor '%s' has %d dimensions, at most %d",
                             st->source, name, ndim, HOP_ST_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    int axis = 0;
    for (const cJSON *e = shape->child; e; e = e->next, axis++) {
        uint64_t extent;
        if (!json_index(e, &extent) || extent > INT32_MAX)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s: tensor '%s' has an invalid extent on axis %d", st->source,
                                 name, axis);
        t->shape[axis] = (int64_t)extent;
        if (extent && t->numel > SIZE_MAX / extent)
            return hop_error_set(err, HOP_ERR_PARSE, "%s: tensor '%s' is too large", st->source,
                                 name);
        t->numel *= (size_t)extent;
    }
    return HOP_OK;
}

static hop_status parse_tensor(const hop_safetensors *st, const cJSON *entry, size_t buffer_size,
                               size_t *begin, hop_st_tensor *t, hop_error *err)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return hop_error_set(err, HOP_ERR_PARSE, "%s: entry '%s' is not a JSON object", st->source,
                             name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    int d = cJSON_IsString(dtype) ? dtype_from_name(dtype->valuestring) : -1;
    if (d < 0)
        return hop_error_set(err, HOP_ERR_PARSE, "%s: tensor '%s' has unknown dtype %s%s%s",
                             st->source, name, cJSON_IsString(dtype) ? "'" : "",
                             cJSON_IsString(dtype) ? dtype->valuestring : "(missing)",
                             cJSON_IsString(dtype) ? "'" : "");
    t->dtype = (hop_dtype)d;
    hop_status status =
        parse_shape(st, name, cJSON_GetObjectItemCaseSensitive(entry, "shape"), t, err);
    if (status != HOP_OK)
        return status;

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_index(offsets->child, &b) || !json_index(offsets->child->next, &e) || e < b)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: tensor '%s' needs data_offsets [begin, end] with begin <= end",
                             st->source, name);
    if (e > buffer_size)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: tensor '%s' ends at byte %llu but the data has %zu bytes; "
                             "the file is truncated or damaged",
                             st->source, name, (unsigned long long)e, buffer_size);
    size_t size = hop_dtype_size(t->dtype);
    if (t->numel > SIZE_MAX / size || (uint64_t)(t->numel * size) != e - b)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: tensor '%s' has %zu elements of %s (%zu bytes) but its "
                             "data_offsets span %llu bytes",
                             st->source, name, t->numel, hop_dtype_name(t->dtype), t->numel * size,
                             (unsigned long long)(e - b));
    t->nbytes = (size_t)(e - b);
    *begin = (size_t)b;
    t->name = copy_string(name);
    return t->name ? HOP_OK
                   : hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for names", st->source);
}

typedef struct span {
    size_t begin, end;
    int tensor;
} span;

static int span_compare(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : (x->end > y->end);
}

/* Checks that the tensors cover [0, buffer_size) exactly, in some order, without overlap. */
static hop_status check_coverage(const hop_safetensors *st, span *spans, size_t buffer_size,
                                 hop_error *err)
{
    qsort(spans, (size_t)st->count, sizeof *spans, span_compare);
    size_t at = 0;
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[spans[i].tensor].name;
        if (spans[i].begin < at)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s: tensor '%s' overlaps another tensor at byte %zu", st->source,
                                 name, spans[i].begin);
        if (spans[i].begin > at)
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s: bytes %zu to %zu of the data belong to no tensor", st->source,
                                 at, spans[i].begin);
        at = spans[i].end;
    }
    if (at != buffer_size)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: the data has %zu bytes but the tensors cover %zu", st->source,
                             buffer_size, at);
    return HOP_OK;
}

static hop_status check_unique(const hop_safetensors *st, const cJSON *root, hop_error *err)
{
    for (const cJSON *a = root->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return hop_error_set(err, HOP_ERR_PARSE, "%s: the header names '%s' twice",
                                     st->source, a->string);
    return HOP_OK;
}

static hop_status parse_entries(hop_safetensors *st, const cJSON *root, const unsigned char *data,
                                size_t buffer_size, hop_error *err)
{
    int n = cJSON_GetArraySize(root);
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    span *spans = calloc((size_t)n + 1, sizeof *spans);
    hop_status status = HOP_OK;
    if (!st->tensors || !spans)
        status = hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for the header", st->source);
    for (const cJSON *entry = root->child; entry && status == HOP_OK; entry = entry->next) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            status = parse_metadata(st, entry, err);
            continue;
        }
        hop_st_tensor *t = &st->tensors[st->count];
        size_t begin = 0;
        status = parse_tensor(st, entry, buffer_size, &begin, t, err);
        if (status != HOP_OK)
            break;
        t->data = data + begin;
        spans[st->count] = (span){begin, begin + t->nbytes, st->count};
        st->count++;
    }
    if (status == HOP_OK)
        status = check_coverage(st, spans, buffer_size, err);
    free(spans);
    return status;
}

static hop_status parse_header(hop_safetensors *st, const unsigned char *bytes, size_t length,
                               hop_error *err)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | bytes[i];
    if (n > length - 8 || n > HEADER_MAX)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: header length %llu exceeds the %zu bytes after the length "
                             "field; the file is truncated or not safetensors",
                             st->source, (unsigned long long)n, length - 8);
    const char *text = (const char *)bytes + 8;
    if (n < 2 || text[0] != '{')
        return hop_error_set(err, HOP_ERR_PARSE, "%s: the header does not start with '{'",
                             st->source);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        cJSON_Delete(root);
        return hop_error_set(err, HOP_ERR_PARSE, "%s: the header is not valid JSON (near byte %zu)",
                             st->source, at);
    }
    for (const char *p = end; p && p < text + n; p++)
        if (*p != ' ' && *p != '\0' && *p != '\n' && *p != '\t' && *p != '\r') {
            cJSON_Delete(root);
            return hop_error_set(err, HOP_ERR_PARSE,
                                 "%s: unexpected bytes after the header's JSON object", st->source);
        }
    hop_status status = check_unique(st, root, err);
    if (status == HOP_OK)
        status = parse_entries(st, root, bytes + 8 + n, length - 8 - (size_t)n, err);
    cJSON_Delete(root);
    return status;
}

hop_status hop_safetensors_parse(const void *buffer, size_t length, const char *source,
                                 hop_safetensors *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    out->source = copy_string(source ? source : "safetensors");
    if (!out->source)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    if (!host_is_little_endian()) {
        hop_safetensors_free(out);
        return hop_error_set(err, HOP_ERR_ARG, "safetensors needs a little-endian host");
    }
    if (!buffer || length < 8) {
        hop_error_set(err, HOP_ERR_PARSE,
                      "%s: %zu bytes is too short for a safetensors header length", out->source,
                      length);
        hop_safetensors_free(out);
        return HOP_ERR_PARSE;
    }
    hop_status status = parse_header(out, buffer, length, err);
    if (status != HOP_OK)
        hop_safetensors_free(out);
    return status;
}

hop_status hop_safetensors_read(const char *path, hop_safetensors *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hop_error_set(err, HOP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    unsigned char *data = NULL;
    size_t size = 0, capacity = 0;
    hop_status status = HOP_OK;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 1 << 16;
            unsigned char *grown = realloc(data, capacity);
            if (!grown) {
                status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            data = grown;
        }
        size_t n = fread(data + size, 1, capacity - size, f);
        size += n;
        if (n == 0)
            break;
    }
    if (status == HOP_OK && ferror(f))
        status = hop_error_set(err, HOP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    fclose(f);
    if (status == HOP_OK)
        status = hop_safetensors_parse(data, size, path, out, err);
    if (status != HOP_OK) {
        free(data);
        return status;
    }
    out->owned = data;
    return HOP_OK;
}

const hop_st_tensor *hop_safetensors_find(const hop_safetensors *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *hop_safetensors_metadata(const hop_safetensors *st, const char *key)
{
    for (int i = 0; i < st->n_metadata; i++)
        if (strcmp(st->metadata_keys[i], key) == 0)
            return st->metadata_values[i];
    return NULL;
}

hop_status hop_safetensors_copy(const hop_safetensors *st, const char *name, hop_dtype dtype,
                                void *out, size_t numel, hop_error *err)
{
    const hop_st_tensor *t = hop_safetensors_find(st, name);
    if (!t)
        return hop_error_set(err, HOP_ERR_DATA, "%s: tensor '%s' is missing", st->source, name);
    if (t->dtype != dtype || t->numel != numel)
        return hop_error_set(
            err, HOP_ERR_DATA, "%s: tensor '%s' has %zu elements of %s, expected %zu of %s",
            st->source, name, t->numel, hop_dtype_name(t->dtype), numel, hop_dtype_name(dtype));
    if (t->nbytes)
        memcpy(out, t->data, t->nbytes);
    return HOP_OK;
}

void hop_st_writer_init(hop_st_writer *w)
{
    memset(w, 0, sizeof *w);
}

void hop_st_writer_free(hop_st_writer *w)
{
    for (int i = 0; i < w->count; i++)
        free(w->entries[i].name);
    for (int i = 0; i < w->n_metadata; i++) {
        free(w->metadata_keys[i]);
        free(w->metadata_values[i]);
    }
    free(w->entries);
    free(w->metadata_keys);
    free(w->metadata_values);
    memset(w, 0, sizeof *w);
}

hop_status hop_st_writer_add(hop_st_writer *w, const char *name, hop_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, hop_error *err)
{
    if (!name || !name[0] || strcmp(name, "__metadata__") == 0)
        return hop_error_set(err, HOP_ERR_ARG, "safetensors: invalid tensor name '%s'",
                             name ? name : "(null)");
    if (dtype < 0 || dtype >= HOP_DTYPE_COUNT || ndim < 0 || ndim > HOP_ST_MAX_DIMS)
        return hop_error_set(err, HOP_ERR_ARG,
                             "safetensors: tensor '%s' has an invalid dtype "
                             "or rank",
                             name);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return hop_error_set(err, HOP_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return hop_error_set(err, HOP_ERR_ARG, "safetensors: tensor '%s' has extent %lld", name,
                                 (long long)shape[i]);
        numel *= (size_t)shape[i];
    }
    if (w->count == w->capacity) {
        int capacity = w->capacity ? w->capacity * 2 : 16;
        struct hop_st_entry *grown = realloc(w->entries, (size_t)capacity * sizeof *grown);
        if (!grown)
            return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory");
        w->entries = grown;
        w->capacity = capacity;
    }
    struct hop_st_entry *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    e->name = copy_string(name);
    if (!e->name)
        return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim)
        memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->data = data;
    e->nbytes = numel * hop_dtype_size(dtype);
    w->count++;
    return HOP_OK;
}

hop_status hop_st_writer_set_metadata(hop_st_writer *w, const char *key, const char *value,
                                      hop_error *err)
{
    char *v = copy_string(value);
    if (!v)
        return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory");
    for (int i = 0; i < w->n_metadata; i++)
        if (strcmp(w->metadata_keys[i], key) == 0) {
            free(w->metadata_values[i]);
            w->metadata_values[i] = v;
            return HOP_OK;
        }
    if (w->n_metadata == w->metadata_capacity) {
        int capacity = w->metadata_capacity ? w->metadata_capacity * 2 : 16;
        char **keys = realloc(w->metadata_keys, (size_t)capacity * sizeof *keys);
        if (keys)
            w->metadata_keys = keys;
        char **values =
            keys ? realloc(w->metadata_values, (size_t)capacity * sizeof *values) : NULL;
        if (values)
            w->metadata_values = values;
        if (!keys || !values) {
            free(v);
            return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory");
        }
        w->metadata_capacity = capacity;
    }
    char *k = copy_string(key);
    if (!k) {
        free(v);
        return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory");
    }
    w->metadata_keys[w->n_metadata] = k;
    w->metadata_values[w->n_metadata] = v;
    w->n_metadata++;
    return HOP_OK;
}

hop_status hop_st_writer_add_params(hop_st_writer *w, const hop_params *params, hop_error *err)
{
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        int64_t shape[HOP_MAX_DIMS];
        for (int d = 0; d < p->ndim; d++)
            shape[d] = p->shape[d];
        hop_status status = hop_st_writer_add(w, p->name, HOP_DTYPE_F32, p->ndim, shape,
                                              params->values + p->offset, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

static cJSON *header_json(const hop_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (w->n_metadata) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta && i < w->n_metadata; i++)
            if (!cJSON_AddStringToObject(meta, w->metadata_keys[i], w->metadata_values[i]))
                meta = NULL;
        if (!meta) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    size_t offset = 0;
    for (int i = 0; i < w->count; i++) {
        const struct hop_st_entry *e = &w->entries[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON *dtype = t ? cJSON_AddStringToObject(t, "dtype", hop_dtype_name(e->dtype)) : NULL;
        cJSON *shape = dtype ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *offsets = shape ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        if (!offsets) {
            cJSON_Delete(root);
            return NULL;
        }
        for (int d = 0; d < e->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + e->nbytes)));
        offset += e->nbytes;
    }
    return root;
}

hop_status hop_st_writer_serialize(const hop_st_writer *w, unsigned char **out, size_t *length,
                                   hop_error *err)
{
    *out = NULL;
    *length = 0;
    if (!host_is_little_endian())
        return hop_error_set(err, HOP_ERR_ARG, "safetensors needs a little-endian host");
    cJSON *root = header_json(w);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory for the header");

    size_t header = strlen(text), padded = (header + 7) / 8 * 8, data = 0;
    for (int i = 0; i < w->count; i++)
        data += w->entries[i].nbytes;
    unsigned char *buf = malloc(8 + padded + data);
    if (!buf) {
        cJSON_free(text);
        return hop_error_set(err, HOP_ERR_NOMEM, "safetensors: out of memory for %zu bytes",
                             8 + padded + data);
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, text, header);
    memset(buf + 8 + header, ' ', padded - header);
    cJSON_free(text);

    unsigned char *at = buf + 8 + padded;
    for (int i = 0; i < w->count; i++) {
        if (w->entries[i].nbytes)
            memcpy(at, w->entries[i].data, w->entries[i].nbytes);
        at += w->entries[i].nbytes;
    }
    *out = buf;
    *length = 8 + padded + data;
    return HOP_OK;
}

hop_status hop_st_writer_save(const hop_st_writer *w, const char *path, hop_error *err)
{
    unsigned char *buf = NULL;
    size_t length = 0;
    hop_status status = hop_st_writer_serialize(w, &buf, &length, err);
    if (status == HOP_OK)
        status = hop_write_file_atomic(path, buf, length, err);
    free(buf);
    return status;
}

static int has_prefix(const char *name, const char *const *skip)
{
    for (int i = 0; skip && skip[i]; i++)
        if (strncmp(name, skip[i], strlen(skip[i])) == 0)
            return 1;
    return 0;
}

/* The data of a tensor may sit at any byte offset, so each value is copied out before the test. */
static hop_status check_finite(const hop_safetensors *st, const hop_st_tensor *t, hop_error *err)
{
    size_t count = t->nbytes / sizeof(float);
    const unsigned char *bytes = t->data;
    for (size_t i = 0; i < count; i++) {
        float value;
        memcpy(&value, bytes + i * sizeof value, sizeof value);
        if (!isfinite(value))
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: tensor '%s' has the non-finite value %g at flat index %zu; "
                                 "the file is damaged or came from a diverged training run",
                                 st->source, t->name, (double)value, i);
    }
    return HOP_OK;
}

static hop_status check_param(const hop_param_info *p, const hop_safetensors *st, hop_error *err)
{
    const hop_st_tensor *t = hop_safetensors_find(st, p->name);
    if (!t)
        return hop_error_set(err, HOP_ERR_DATA, "%s: parameter '%s' is missing from the file",
                             st->source, p->name);
    if (t->dtype != HOP_DTYPE_F32)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: tensor '%s' has dtype %s; hop loads F32 only (convert with "
                             ".float() before saving)",
                             st->source, p->name, hop_dtype_name(t->dtype));
    int same = t->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++)
        same = t->shape[d] == p->shape[d];
    if (!same) {
        char want[64], got[96] = "(";
        hop_shape_format(p->ndim, p->shape, want, sizeof want);
        for (int d = 0; d < t->ndim; d++) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof got - used, "%s%lld", d ? ", " : "",
                     (long long)t->shape[d]);
        }
        strncat(got, ")", sizeof got - strlen(got) - 1);
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: tensor '%s' has shape %s but the model expects %s", st->source,
                             p->name, got, want);
    }
    return check_finite(st, t, err);
}

hop_status hop_params_load_safetensors(hop_params *params, const hop_safetensors *st,
                                       const char *const *skip, hop_error *err)
{
    for (int i = 0; i < params->count; i++) {
        hop_status status = check_param(&params->info[i], st, err);
        if (status != HOP_OK)
            return status;
    }
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[i].name;
        if (!has_prefix(name, skip) && hop_params_find(params, name) < 0)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: tensor '%s' is not a parameter of this model; check that "
                                 "the model settings match the file",
                                 st->source, name);
    }
    for (int i = 0; i < params->count; i++) {
        const hop_param_info *p = &params->info[i];
        const hop_st_tensor *t = hop_safetensors_find(st, p->name);
        memcpy(params->values + p->offset, t->data, t->nbytes);
    }
    return HOP_OK;
}
