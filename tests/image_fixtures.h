/*
 * Test fixtures for the image loaders: temporary folders, files and a minimal PNG encoder
 * (IHDR, optional PLTE, one IDAT made with zlib's compress(), IEND, CRCs from crc32()), so
 * paletted and 16-bit PNGs can be built byte by byte.
 */
#ifndef HOP_TESTS_IMAGE_FIXTURES_H
#define HOP_TESTS_IMAGE_FIXTURES_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FIXTURE static __attribute__((unused))

#define PNG_GRAY       0
#define PNG_RGB        2
#define PNG_PALETTE    3
#define PNG_GRAY_ALPHA 4
#define PNG_RGBA       6

FIXTURE void fixture_write_file(const char *path, const void *data, size_t length)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, length, file), length);
    cr_assert_eq(fclose(file), 0);
}

FIXTURE unsigned char *fixture_read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file, "cannot open %s", path);
    cr_assert_eq(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    rewind(file);
    unsigned char *data = malloc((size_t)size + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    *length = (size_t)size;
    return data;
}

/* Removes a folder tree created by a test (two levels are enough for the fixtures). */
FIXTURE void fixture_remove_tree(const char *dir)
{
    DIR *handle = opendir(dir);
    if (!handle)
        return;
    struct dirent *entry;
    char path[1024];
    while ((entry = readdir(handle)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat info;
        if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
            fixture_remove_tree(path);
        else
            unlink(path);
    }
    closedir(handle);
    rmdir(dir);
}

FIXTURE void fixture_make_temp_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/hop_loader_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

typedef struct png_writer {
    unsigned char *data;
    size_t length;
    size_t capacity;
} png_writer;

FIXTURE void png_put(png_writer *png, const void *bytes, size_t length)
{
    if (png->length + length > png->capacity) {
        png->capacity = (png->length + length) * 2 + 64;
        png->data = realloc(png->data, png->capacity);
        cr_assert_not_null(png->data);
    }
    memcpy(png->data + png->length, bytes, length);
    png->length += length;
}

FIXTURE void png_put_u32(png_writer *png, unsigned long value)
{
    unsigned char bytes[4] = {(unsigned char)(value >> 24), (unsigned char)(value >> 16),
                              (unsigned char)(value >> 8), (unsigned char)value};
    png_put(png, bytes, 4);
}

FIXTURE void png_chunk(png_writer *png, const char *type, const unsigned char *data, size_t length)
{
    png_put_u32(png, (unsigned long)length);
    size_t crc_start = png->length;
    png_put(png, type, 4);
    if (length)
        png_put(png, data, length);
    uLong crc = crc32(0L, png->data + crc_start, (uInt)(length + 4));
    png_put_u32(png, crc);
}

FIXTURE size_t png_channels(int color_type)
{
    switch (color_type) {
    case PNG_RGB: return 3;
    case PNG_GRAY_ALPHA: return 2;
    case PNG_RGBA: return 4;
    default: return 1;
    }
}

/*
 * Encodes a PNG into a new buffer. pixels contains height rows of width samples packed at
 * bit_depth 8 or 16 (16-bit samples big-endian), without filter bytes. palette contains
 * n_palette RGB triples for PNG_PALETTE.
 */
FIXTURE unsigned char *png_encode(int width, int height, int bit_depth, int color_type,
                                  const unsigned char *pixels, const unsigned char *palette,
                                  int n_palette, size_t *length)
{
    png_writer png = {0};
    png_put(&png, "\x89PNG\r\n\x1a\n", 8);

    unsigned char header[13] = {0};
    for (int i = 0; i < 4; i++) {
        header[i] = (unsigned char)((unsigned)width >> (24 - 8 * i));
        header[4 + i] = (unsigned char)((unsigned)height >> (24 - 8 * i));
    }
    header[8] = (unsigned char)bit_depth;
    header[9] = (unsigned char)color_type;
    png_chunk(&png, "IHDR", header, sizeof header);
    if (color_type == PNG_PALETTE)
        png_chunk(&png, "PLTE", palette, (size_t)n_palette * 3);

    size_t row_bytes = (size_t)width * png_channels(color_type) * (size_t)bit_depth / 8;
    size_t raw_length = (row_bytes + 1) * (size_t)height;
    unsigned char *raw = calloc(raw_length ? raw_length : 1, 1);
    cr_assert_not_null(raw);
    for (int y = 0; pixels && y < height; y++)
        memcpy(raw + (size_t)y * (row_bytes + 1) + 1, pixels + (size_t)y * row_bytes, row_bytes);
    uLongf packed_length = compressBound((uLong)raw_length);
    unsigned char *packed = malloc(packed_length);
    cr_assert_not_null(packed);
    cr_assert_eq(compress(packed, &packed_length, raw, (uLong)raw_length), Z_OK);
    png_chunk(&png, "IDAT", packed, packed_length);
    png_chunk(&png, "IEND", NULL, 0);
    free(raw);
    free(packed);
    *length = png.length;
    return png.data;
}

FIXTURE void png_write_file(const char *path, int width, int height, int bit_depth, int color_type,
                            const unsigned char *pixels, const unsigned char *palette,
                            int n_palette)
{
    size_t length = 0;
    unsigned char *png =
        png_encode(width, height, bit_depth, color_type, pixels, palette, n_palette, &length);
    fixture_write_file(path, png, length);
    free(png);
}

#endif
