/* Whole-file reading, with gzip decompression of one or more members through zlib. */
#include "hop/loaders.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "loader_util.h"

#define READ_CHUNK (1 << 16)

typedef struct byte_buffer {
    unsigned char *data;
    size_t length;
    size_t capacity;
} byte_buffer;

/* Keeps room for needed bytes plus a NUL terminator. */
static hop_status reserve(byte_buffer *buffer, size_t needed, const char *source, hop_error *err)
{
    if (needed < SIZE_MAX && needed + 1 <= buffer->capacity)
        return HOP_OK;
    if (needed >= SIZE_MAX / 2)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: data too large (%zu bytes)", source, needed);

    size_t capacity = buffer->capacity ? buffer->capacity : READ_CHUNK;
    while (capacity < needed + 1)
        capacity *= 2;
    unsigned char *grown = realloc(buffer->data, capacity);
    if (!grown)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %zu bytes", source,
                             capacity);
    buffer->data = grown;
    buffer->capacity = capacity;
    return HOP_OK;
}

static int is_gzip_magic(const unsigned char *data, size_t length)
{
    return length >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

static hop_status inflate_member(z_stream *stream, byte_buffer *out, const char *source,
                                 size_t member_start, int member, hop_error *err)
{
    for (;;) {
        hop_status status = reserve(out, out->length + READ_CHUNK, source, err);
        if (status != HOP_OK)
            return status;
        stream->next_out = out->data + out->length;
        stream->avail_out = READ_CHUNK;

        int code = inflate(stream, Z_NO_FLUSH);
        out->length += READ_CHUNK - stream->avail_out;
        if (code == Z_STREAM_END)
            return HOP_OK;
        if (code == Z_OK)
            continue;
        if (code == Z_BUF_ERROR && stream->avail_in == 0)
            return hop_error_set(err, HOP_ERR_IO,
                                 "%s: gzip data is truncated: member %d (from byte %zu) ends "
                                 "early at byte %lu; download or compress the file again",
                                 source, member, member_start, stream->total_in + member_start);
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: gzip data is corrupt in member %d near byte %lu (zlib: %s); "
                             "download or compress the file again",
                             source, member, stream->total_in + member_start,
                             stream->msg ? stream->msg : zError(code));
    }
}

static hop_status inflate_members(const unsigned char *data, size_t length, const char *source,
                                  byte_buffer *out, hop_error *err)
{
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: cannot start zlib", source);

    hop_status status = HOP_OK;
    size_t offset = 0;
    for (int member = 1; status == HOP_OK && offset < length; member++) {
        if (!is_gzip_magic(data + offset, length - offset)) {
            status = hop_error_set(err, HOP_ERR_PARSE,
                                   "%s: %zu bytes after gzip member %d at byte %zu are not gzip "
                                   "data; remove them or compress the file again",
                                   source, length - offset, member - 1, offset);
            break;
        }
        inflateReset(&stream);
        size_t rest = length - offset;
        stream.next_in = (unsigned char *)(uintptr_t)(data + offset);
        /* NOTE: a member is read from at most 4 GiB of input, because avail_in is 32 bits. */
        stream.avail_in = rest > UINT32_MAX ? UINT32_MAX : (uInt)rest;
        status = inflate_member(&stream, out, source, offset, member, err);
        offset += stream.total_in;
    }
    inflateEnd(&stream);
    return status;
}

hop_status hop_gunzip(const void *data, size_t length, const char *source, unsigned char **out,
                      size_t *out_length, hop_error *err)
{
    byte_buffer buffer = {0};
    *out = NULL;
    *out_length = 0;
    source = source ? source : "<buffer>";

    if (!is_gzip_magic(data, length))
        return hop_error_set(err, HOP_ERR_PARSE,
                             "%s: not gzip data (no 1f 8b magic bytes at byte 0); rename the "
                             "file if it is not compressed",
                             source);
    hop_status status = inflate_members(data, length, source, &buffer, err);
    if (status == HOP_OK)
        status = reserve(&buffer, buffer.length, source, err);
    if (status != HOP_OK) {
        free(buffer.data);
        return status;
    }
    buffer.data[buffer.length] = '\0';
    *out = buffer.data;
    *out_length = buffer.length;
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

static hop_status read_plain(const char *path, byte_buffer *buffer, hop_error *err)
{
    errno = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return io_error("open", path, errno, err);

    hop_status status = HOP_OK;
    for (;;) {
        status = reserve(buffer, buffer->length + READ_CHUNK, path, err);
        if (status != HOP_OK)
            break;
        errno = 0;
        size_t n = fread(buffer->data + buffer->length, 1, READ_CHUNK, file);
        buffer->length += n;
        if (n < READ_CHUNK) {
            if (ferror(file))
                status = io_error("read", path, errno, err);
            break;
        }
    }
    fclose(file);
    if (status == HOP_OK)
        buffer->data[buffer->length] = '\0';
    return status;
}

hop_status hop_file_read(const char *path, unsigned char **out, size_t *out_length, hop_error *err)
{
    byte_buffer raw = {0};
    *out = NULL;
    *out_length = 0;
    if (!path)
        return hop_error_set(err, HOP_ERR_ARG, "no file path given");

    hop_status status = read_plain(path, &raw, err);
    if (status == HOP_OK && hop_has_suffix(path, ".gz")) {
        status = hop_gunzip(raw.data, raw.length, path, out, out_length, err);
        free(raw.data);
        return status;
    }
    if (status != HOP_OK) {
        free(raw.data);
        return status;
    }
    *out = raw.data;
    *out_length = raw.length;
    return HOP_OK;
}
