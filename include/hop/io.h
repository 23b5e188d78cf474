/*
 * safetensors files: parsing, writing and loading into a parameter store.
 *
 * The format (as read by the Python safetensors package and the Hugging Face tools) is an
 * 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON, then the byte
 * buffer. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end]}, with offsets relative to the buffer start, and may hold "__metadata__", an object
 * of string values. Tensors are stored row-major and little-endian, and together they cover
 * the buffer without gaps or overlap.
 *
 * Parsers take a buffer and a length plus a source name for messages. The file functions
 * wrap them, and hop_safetensors_save writes atomically (temporary file in the same folder,
 * fflush, fsync, rename).
 */
#ifndef HOP_IO_H
#define HOP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hop/base.h"
#include "hop/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hop_dtype {
    HOP_DTYPE_F64,
    HOP_DTYPE_F32,
    HOP_DTYPE_F16,
    HOP_DTYPE_BF16,
    HOP_DTYPE_I64,
    HOP_DTYPE_I32,
    HOP_DTYPE_I16,
    HOP_DTYPE_I8,
    HOP_DTYPE_U64,
    HOP_DTYPE_U32,
    HOP_DTYPE_U16,
    HOP_DTYPE_U8,
    HOP_DTYPE_BOOL,
    HOP_DTYPE_COUNT
} hop_dtype;

/* Returns the format's name of a dtype, such as "F32". */
const char *hop_dtype_name(hop_dtype dtype);
/* Returns the size of one element in bytes. */
size_t hop_dtype_size(hop_dtype dtype);

#define HOP_ST_MAX_DIMS 8

/* One tensor entry of a parsed file. */
typedef struct hop_st_tensor {
    char *name;
    hop_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[HOP_ST_MAX_DIMS];
    size_t numel;
    const unsigned char *data; /* into the file's byte buffer */
    size_t nbytes;
} hop_st_tensor;

/* A parsed file. Tensors are in header order; metadata keys and values are strings. */
typedef struct hop_safetensors {
    int count;
    hop_st_tensor *tensors;
    int n_metadata;
    char **metadata_keys;
    char **metadata_values;
    unsigned char *owned; /* the file contents when read by hop_safetensors_read, else NULL */
    char *source;
} hop_safetensors;

/*
 * Parses and validates length bytes. The header length must fit the input, the header must
 * be a JSON object without duplicate names, every dtype known, every shape a list of
 * non-negative integers whose byte size equals end - begin, and the tensors must cover the
 * byte buffer exactly, without overlap. The tensor data is referenced, not copied, so buffer
 * must outlive *out. Errors (HOP_ERR_PARSE) name source and the tensor or field.
 */
hop_status hop_safetensors_parse(const void *buffer, size_t length, const char *source,
                                 hop_safetensors *out, hop_error *err);

/* Reads the file at path into memory and parses it; HOP_ERR_IO when it cannot be read. */
hop_status hop_safetensors_read(const char *path, hop_safetensors *out, hop_error *err);

void hop_safetensors_free(hop_safetensors *st);

/* Returns the tensor called name, or NULL. */
const hop_st_tensor *hop_safetensors_find(const hop_safetensors *st, const char *name);
/* Returns the metadata value of key, or NULL. */
const char *hop_safetensors_metadata(const hop_safetensors *st, const char *key);

/*
 * Copies tensor name into out, which has room for numel elements of dtype. Fails with HOP_ERR_DATA
 * naming the tensor when it is missing or has another dtype or element count.
 */
hop_status hop_safetensors_copy(const hop_safetensors *st, const char *name, hop_dtype dtype,
                                void *out, size_t numel, hop_error *err);

/* A file being assembled: tensors reference the caller's data until save or serialise. */
typedef struct hop_st_writer {
    int count;
    int capacity;
    struct hop_st_entry *entries;
    int n_metadata;
    int metadata_capacity;
    char **metadata_keys;
    char **metadata_values;
} hop_st_writer;

void hop_st_writer_init(hop_st_writer *w);
void hop_st_writer_free(hop_st_writer *w);

/* Adds a tensor; data must stay valid until the writer is serialised. Rejects duplicates. */
hop_status hop_st_writer_add(hop_st_writer *w, const char *name, hop_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, hop_error *err);
/* Adds or replaces a metadata entry (both strings are copied). */
hop_status hop_st_writer_set_metadata(hop_st_writer *w, const char *key, const char *value,
                                      hop_error *err);
/* Adds every parameter of params as an F32 tensor under its own name. */
hop_status hop_st_writer_add_params(hop_st_writer *w, const hop_params *params, hop_error *err);

/*
 * Serialises the file into a new malloc'd buffer (*out, *length). The header is padded with
 * spaces to a multiple of 8 bytes, so the buffer starts aligned.
 */
hop_status hop_st_writer_serialize(const hop_st_writer *w, unsigned char **out, size_t *length,
                                   hop_error *err);

/* Serialises and writes path atomically; on failure the old file at path is left as it was. */
hop_status hop_st_writer_save(const hop_st_writer *w, const char *path, hop_error *err);

/*
 * Writes length bytes to path. A regular or missing file is replaced atomically (temporary
 * file in the same folder, fflush, fsync, rename), so on failure the old file is unchanged.
 * A symbolic link is followed and its target replaced the same way, also when the link
 * dangles. An existing device, FIFO or socket is opened and written in place, and a folder
 * is rejected. Errors (HOP_ERR_IO) name path, never the temporary file, and give the reason.
 */
hop_status hop_write_file_atomic(const char *path, const void *data, size_t length, hop_error *err);

/*
 * Writes the contents into stream; a failed write may be left to the stream's error flag,
 * which the caller checks. Returns HOP_OK or a status with err set.
 */
typedef hop_status (*hop_file_writer)(FILE *stream, void *context, hop_error *err);

/* Writes path as hop_write_file_atomic does, with the contents produced by write(context). */
hop_status hop_write_file_with(const char *path, hop_file_writer write, void *context,
                               hop_error *err);

/*
 * Loads the values of every parameter of params from st. Every parameter must be present as
 * an F32 tensor of the same shape, and every tensor of st must be a parameter unless its name
 * starts with one of the NULL-terminated prefixes in skip (which may be NULL). Everything is
 * checked before the first value is copied, so on failure params is unchanged; the message
 * names the missing, unknown or mismatched tensor.
 */
hop_status hop_params_load_safetensors(hop_params *params, const hop_safetensors *st,
                                       const char *const *skip, hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
