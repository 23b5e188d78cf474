/* Attention heatmaps: patch weights drawn over their image and written as PNG. */
#include "hop/loaders.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "hop/io.h"

#define MAX_SCALE 64

typedef struct png_bytes {
    unsigned char *data;
    size_t length;
    int failed;
} png_bytes;

static void collect_png(void *context, void *data, int size)
{
    png_bytes *bytes = context;
    if (bytes->failed || size <= 0)
        return;
    unsigned char *grown = realloc(bytes->data, bytes->length + (size_t)size);
    if (!grown) {
        bytes->failed = 1;
        return;
    }
    memcpy(grown + bytes->length, data, (size_t)size);
    bytes->data = grown;
    bytes->length += (size_t)size;
}

/* Maps v in [0, 1] through a blue, cyan, green, yellow, red ramp. */
static void ramp_color(float v, float rgb[3])
{
    static const float stops[5][3] = {
        {0, 0, 1}, {0, 1, 1}, {0, 1, 0}, {1, 1, 0}, {1, 0, 0},
    };
    float position = v * 4.0f;
    int index = position >= 4.0f ? 3 : (int)position;
    float t = position - (float)index;
    for (int k = 0; k < 3; k++)
        rgb[k] = stops[index][k] + t * (stops[index + 1][k] - stops[index][k]);
}

static hop_status check_inputs(const hop_image *image, const hop_patch_grid *grid,
                               const float *weights, int n_weights, float *max_weight,
                               hop_error *err)
{
    if (!image || !image->pixels || !grid || !weights)
        return hop_error_set(err, HOP_ERR_ARG, "attention image: missing image, grid or weights");
    if (image->width != grid->width || image->height != grid->height || image->channels < 1 ||
        image->channels > 4)
        return hop_error_set(err, HOP_ERR_ARG,
                             "attention image: image is %d x %d with %d channels but the patch "
                             "grid was cut from %d x %d",
                             image->width, image->height, image->channels, grid->width,
                             grid->height);
    if (n_weights != grid->rows * grid->cols)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "attention image: %d weights given but the grid has %d x %d = %d "
                             "patches",
                             n_weights, grid->rows, grid->cols, grid->rows * grid->cols);
    *max_weight = 0;
    for (int i = 0; i < n_weights; i++) {
        if (!isfinite(weights[i]) || weights[i] < 0)
            return hop_error_set(err, HOP_ERR_NUMERIC,
                                 "attention image: weight %d is %g; weights must be finite and "
                                 "non-negative",
                                 i, (double)weights[i]);
        if (weights[i] > *max_weight)
            *max_weight = weights[i];
    }
    return HOP_OK;
}

/* Returns the largest weight of the patches covering (x, y), or -1 when none covers it. */
static float covering_weight(const hop_patch_grid *grid, const float *weights, int x, int y)
{
    float best = -1;
    int row_first = y < grid->patch ? 0 : (y - grid->patch) / grid->stride + 1;
    int col_first = x < grid->patch ? 0 : (x - grid->patch) / grid->stride + 1;
    for (int r = row_first; r < grid->rows && r * grid->stride <= y; r++)
        for (int c = col_first; c < grid->cols && c * grid->stride <= x; c++)
            if (weights[r * grid->cols + c] > best)
                best = weights[r * grid->cols + c];
    return best;
}

static void image_rgb(const hop_image *image, int x, int y, float rgb[3])
{
    const float *pixel =
        image->pixels + ((size_t)y * (size_t)image->width + (size_t)x) * (size_t)image->channels;
    for (int k = 0; k < 3; k++)
        rgb[k] = image->channels >= 3 ? pixel[k] : pixel[0];
}

static void draw_pixel(const hop_image *image, const hop_patch_grid *grid, const float *weights,
                       float max_weight, float opacity, int x, int y, unsigned char out[3])
{
    float base[3], heat[3];
    image_rgb(image, x, y, base);
    float weight = covering_weight(grid, weights, x, y);
    for (int k = 0; k < 3; k++) {
        float value = base[k] * 0.4f;
        if (weight >= 0) {
            ramp_color(max_weight > 0 ? weight / max_weight : 0, heat);
            value = (1 - opacity) * base[k] + opacity * heat[k];
        }
        out[k] = (unsigned char)lrintf(fminf(fmaxf(value, 0), 1) * 255.0f);
    }
}

hop_status hop_attention_png_write(const char *path, const hop_image *image,
                                   const hop_patch_grid *grid, const float *weights, int n_weights,
                                   const hop_attention_png_options *options, hop_error *err)
{
    float max_weight = 0;
    int scale = options && options->scale ? options->scale : 1;
    float opacity = options && options->opacity > 0 ? options->opacity : 0.6f;
    if (!path)
        return hop_error_set(err, HOP_ERR_ARG, "attention image: no output path given");
    if (scale < 1 || scale > MAX_SCALE || opacity > 1)
        return hop_error_set(err, HOP_ERR_ARG,
                             "attention image: scale %d or opacity %g is invalid; use a scale of "
                             "1 to %d and an opacity in [0, 1]",
                             scale, (double)opacity, MAX_SCALE);
    hop_status status = check_inputs(image, grid, weights, n_weights, &max_weight, err);
    if (status != HOP_OK)
        return status;

    int width = image->width * scale, height = image->height * scale;
    unsigned char *rgb = malloc((size_t)width * (size_t)height * 3);
    if (!rgb)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory drawing \"%s\"", path);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            draw_pixel(image, grid, weights, max_weight, opacity, x / scale, y / scale,
                       rgb + ((size_t)y * (size_t)width + (size_t)x) * 3);

    png_bytes png = {0};
    int encoded = stbi_write_png_to_func(collect_png, &png, width, height, 3, rgb, width * 3);
    free(rgb);
    if (!encoded || png.failed) {
        free(png.data);
        return hop_error_set(err, HOP_ERR_NOMEM, "stb_image_write cannot encode \"%s\"", path);
    }
    status = hop_write_file_atomic(path, png.data, png.length, err);
    free(png.data);
    return status;
}
