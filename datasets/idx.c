/* IDX files, the format of MNIST and Fashion-MNIST: big-endian header and data. */
#include "hop/loaders.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader_util.h"

static uint32_t read_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t read_u64(const unsigned char *p)
{
    return (uint64_t)read_u32(p) << 32 | read_u32(p + 4);
}

static int type_size(int type)
{
    switch (type) {
    case 0x08:
    case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C:
    case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

static double read_value(int type, const unsigned char *p)
{
    switch (type) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 0x0C: return (int32_t)read_u32(p);
    case 0x0D: {
        uint32_t bits = read_u32(p);
        float value;
        memcpy(&value, &bits, sizeof value);
        return value;
    }
    default: {
        uint64_t bits = read_u64(p);
        double value;
        memcpy(&value, &bits, sizeof value);
        return value;
    }
    }
}

static hop_status parse_header(const unsigned char *bytes, size_t length, const char *source,
                               hop_idx *out, size_t *data_offset, hop_error *err)
{
    if (length < 4 || bytes[0] != 0 || bytes[1] != 0)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: not an IDX file (byte 0: expected the magic number 00 00 "
                             "<type> <dims>)",
                             source);
    out->type = bytes[2];
    out->n_dims = bytes[3];
    if (!type_size(out->type))
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: byte 2: unknown IDX type 0x%02X; expected 08, 09, 0B, 0C, 0D "
                             "or 0E",
                             source, out->type);
    if (out->n_dims < 1 || out->n_dims > HOP_IDX_MAX_DIMS)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: byte 3: %d dimensions; hop reads IDX files of 1 to %d", source,
                             out->n_dims, HOP_IDX_MAX_DIMS);
    *data_offset = 4 + 4 * (size_t)out->n_dims;
    if (length < *data_offset)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: the file ends at byte %zu inside the header of %zu bytes; the "
                             "file is truncated",
                             source, length, *data_offset);

    out->count = 1;
    for (int d = 0; d < out->n_dims; d++) {
        uint32_t size = read_u32(bytes + 4 + 4 * d);
        if (size > INT_MAX)
            return hop_error_set(err, HOP_ERR_PARSE, "%s: byte %d: dimension %d is too large (%u)",
                                 source, 4 + 4 * d, d, size);
        out->dims[d] = (int)size;
        if (size && out->count > SIZE_MAX / 8 / size)
            return hop_error_set(err, HOP_ERR_PARSE, "%s: the dimensions overflow size_t", source);
        out->count *= size;
    }
    return HOP_OK;
}

static hop_status check_data_length(const hop_idx *idx, size_t length, size_t offset,
                                    const char *source, hop_error *err)
{
    size_t expected = offset + idx->count * (size_t)type_size(idx->type);
    if (length < expected)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: the file has %zu bytes but its header declares %zu (%zu values "
                             "from byte %zu); the file is truncated",
                             source, length, expected, idx->count, offset);
    if (length > expected)
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: %zu bytes follow the data, which ends at byte %zu; the header "
                             "and the data disagree",
                             source, length - expected, expected);
    return HOP_OK;
}

hop_status hop_idx_parse(const void *data, size_t length, const char *source, hop_idx *out,
                         hop_error *err)
{
    const unsigned char *bytes = data;
    size_t offset = 0;
    memset(out, 0, sizeof *out);
    source = source ? source : "<buffer>";

    hop_status status = parse_header(bytes, data ? length : 0, source, out, &offset, err);
    if (status == HOP_OK)
        status = check_data_length(out, length, offset, source, err);
    if (status == HOP_OK) {
        out->values = malloc((out->count ? out->count : 1) * sizeof *out->values);
        if (!out->values)
            status = hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %zu values", source,
                                   out->count);
    }
    if (status != HOP_OK) {
        memset(out, 0, sizeof *out);
        return status;
    }

    int size = type_size(out->type);
    for (size_t i = 0; i < out->count; i++)
        out->values[i] = read_value(out->type, bytes + offset + i * (size_t)size);
    return HOP_OK;
}

hop_status hop_idx_load(const char *path, hop_idx *out, hop_error *err)
{
    unsigned char *data = NULL;
    size_t length = 0;
    memset(out, 0, sizeof *out);
    hop_status status = hop_file_read(path, &data, &length, err);
    if (status == HOP_OK)
        status = hop_idx_parse(data, length, path, out, err);
    free(data);
    return status;
}

void hop_idx_free(hop_idx *idx)
{
    if (!idx)
        return;
    free(idx->values);
    memset(idx, 0, sizeof *idx);
}

/* An IDX file read into memory, with its header parsed but its values not converted. */
typedef struct idx_file {
    unsigned char *bytes;
    size_t offset;  /* first data byte */
    hop_idx header; /* values stays NULL */
} idx_file;

static hop_status idx_file_read(const char *path, int rank, const char *what, idx_file *file,
                                hop_error *err)
{
    size_t length = 0;
    hop_status status = hop_file_read(path, &file->bytes, &length, err);
    if (status == HOP_OK)
        status = parse_header(file->bytes, length, path, &file->header, &file->offset, err);
    if (status == HOP_OK)
        status = check_data_length(&file->header, length, file->offset, path, err);
    if (status != HOP_OK || (file->header.type == 0x08 && file->header.n_dims == rank))
        return status;
    return hop_error_set(err, HOP_ERR_DATA,
                         "%s: expected %s as unsigned bytes in %d dimensions, found type 0x%02X "
                         "in %d; check that the file contains %s",
                         path, what, rank, file->header.type, file->header.n_dims, what);
}

static hop_status fill_set(const idx_file *images, const idx_file *labels, const char *images_path,
                           hop_image_set *out, hop_error *err)
{
    size_t count = images->header.count;
    const unsigned char *pixels = images->bytes + images->offset;
    const unsigned char *classes = labels->bytes + labels->offset;

    out->n = images->header.dims[0];
    out->height = images->header.dims[1];
    out->width = images->header.dims[2];
    out->channels = 1;
    out->pixels = malloc((count ? count : 1) * sizeof *out->pixels);
    out->labels = malloc((size_t)out->n * sizeof *out->labels);
    out->source = hop_strdup(images_path);
    if (!out->pixels || !out->labels || !out->source)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %d images", images_path,
                             out->n);

    for (size_t i = 0; i < count; i++)
        out->pixels[i] = pixels[i] / 255.0f;
    int max_label = -1;
    for (int i = 0; i < out->n; i++) {
        out->labels[i] = classes[i];
        if (out->labels[i] > max_label)
            max_label = out->labels[i];
    }
    out->n_classes = max_label + 1;
    return HOP_OK;
}

hop_status hop_idx_images_load(const char *images_path, const char *labels_path, hop_image_set *out,
                               hop_error *err)
{
    idx_file images = {0};
    idx_file labels = {0};
    memset(out, 0, sizeof *out);

    hop_status status = idx_file_read(images_path, 3, "images", &images, err);
    if (status == HOP_OK)
        status = idx_file_read(labels_path, 1, "labels", &labels, err);
    if (status == HOP_OK && labels.header.dims[0] != images.header.dims[0])
        status =
            hop_error_set(err, HOP_ERR_DATA,
                          "%s has %d labels but %s has %d images; use the label file that "
                          "belongs to the images",
                          labels_path, labels.header.dims[0], images_path, images.header.dims[0]);
    if (status == HOP_OK && images.header.dims[0] == 0)
        status = hop_error_set(err, HOP_ERR_DATA, "%s: the file contains no images", images_path);
    if (status == HOP_OK)
        status = fill_set(&images, &labels, images_path, out, err);
    free(images.bytes);
    free(labels.bytes);
    if (status != HOP_OK)
        hop_image_set_free(out);
    return status;
}
