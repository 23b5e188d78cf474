/* MIL bags from an image folder: each image is cut into a grid of patches, one per instance. */
#include "hop/loaders.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader_util.h"

typedef struct patch_buffer {
    float *features;
    size_t rows;
    size_t capacity;
    int dim;
} patch_buffer;

static hop_status reserve_rows(patch_buffer *buffer, size_t needed, hop_error *err)
{
    if (needed <= buffer->capacity)
        return HOP_OK;
    if (needed > INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "more than %d patches in all; use a larger stride",
                             INT_MAX);
    size_t capacity = buffer->capacity ? buffer->capacity : 256;
    while (capacity < needed)
        capacity *= 2;
    if (capacity > SIZE_MAX / sizeof(float) / (size_t)buffer->dim)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %zu patches", capacity);
    float *features = realloc(buffer->features, capacity * (size_t)buffer->dim * sizeof(float));
    if (!features)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %zu patches", capacity);
    buffer->features = features;
    buffer->capacity = capacity;
    return HOP_OK;
}

static void copy_patch(const hop_image *image, int top, int left, int patch, float *out)
{
    size_t row_values = (size_t)patch * (size_t)image->channels;
    for (int y = 0; y < patch; y++) {
        const float *source =
            image->pixels +
            ((size_t)(top + y) * (size_t)image->width + (size_t)left) * (size_t)image->channels;
        memcpy(out + (size_t)y * row_values, source, row_values * sizeof *out);
    }
}

static hop_status cut_patches(const hop_image *image, const char *path,
                              const hop_image_bag_options *options, hop_patch_grid *grid,
                              patch_buffer *buffer, hop_error *err)
{
    int patch = options->patch;
    int stride = options->stride ? options->stride : patch;
    if (image->width < patch || image->height < patch)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: image of %d x %d pixels is smaller than one %d x %d patch; use a "
                             "smaller patch or resize the images",
                             path, image->width, image->height, patch, patch);

    *grid = (hop_patch_grid){.width = image->width,
                             .height = image->height,
                             .channels = image->channels,
                             .patch = patch,
                             .stride = stride,
                             .rows = (image->height - patch) / stride + 1,
                             .cols = (image->width - patch) / stride + 1};
    grid->path = hop_strdup(path);
    if (!grid->path)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    size_t count = (size_t)grid->rows * (size_t)grid->cols;
    hop_status status = reserve_rows(buffer, buffer->rows + count, err);
    if (status != HOP_OK)
        return status;
    for (int r = 0; r < grid->rows; r++) {
        for (int c = 0; c < grid->cols; c++) {
            float *row = buffer->features + buffer->rows * (size_t)buffer->dim;
            copy_patch(image, r * stride, c * stride, patch, row);
            buffer->rows++;
        }
    }
    return HOP_OK;
}

static hop_status find_positive_class(const hop_image_folder *folder, const char *dir,
                                      const char *name, int *positive, hop_error *err)
{
    if (!name) {
        if (folder->n_classes != 2)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: %d class folders found; name the positive class, or use "
                                 "exactly two classes (the second in sorted order is positive)",
                                 dir, folder->n_classes);
        *positive = 1;
        return HOP_OK;
    }
    for (int c = 0; c < folder->n_classes; c++) {
        if (strcmp(folder->class_names[c], name) == 0) {
            *positive = c;
            return HOP_OK;
        }
    }
    return hop_error_set(err, HOP_ERR_ARG, "%s: no class folder is named \"%s\"", dir, name);
}

static hop_status check_options(const hop_image_bag_options *options, hop_error *err)
{
    if (options->patch < 1)
        return hop_error_set(err, HOP_ERR_ARG, "patch size %d is invalid; use 1 or more pixels",
                             options->patch);
    if (options->stride < 0)
        return hop_error_set(err, HOP_ERR_ARG, "stride %d is invalid; use 1 or more pixels",
                             options->stride);
    if (options->load.channels < 0 || options->load.channels > 4)
        return hop_error_set(err, HOP_ERR_ARG, "channels %d is invalid; use 0 to 4",
                             options->load.channels);
    return HOP_OK;
}

/* Loads every image and cuts it, fixing the channel count from the first image. */
static hop_status cut_folder(const hop_image_folder *folder, const hop_image_bag_options *options,
                             hop_image_bags *out, patch_buffer *buffer, int *sizes, hop_error *err)
{
    hop_image_load_options load = options->load;
    hop_status status = HOP_OK;
    for (int i = 0; status == HOP_OK && i < folder->n; i++) {
        hop_image image = {0};
        status = hop_image_load_resized(folder->paths[i], &load, &image, err);
        if (status == HOP_OK && i == 0) {
            load.channels = image.channels;
            buffer->dim = options->patch * options->patch * image.channels;
        }
        size_t before = buffer->rows;
        if (status == HOP_OK)
            status = cut_patches(&image, folder->paths[i], options, &out->grids[i], buffer, err);
        sizes[i] = (int)(buffer->rows - before);
        hop_image_free(&image);
    }
    return status;
}

static hop_status build_bags(const hop_image_folder *folder, const patch_buffer *buffer,
                             const int *sizes, const char *dir, hop_image_bags *out, hop_error *err)
{
    int *labels = malloc((size_t)folder->n * sizeof *labels);
    if (!labels)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < folder->n; i++)
        labels[i] = folder->labels[i] == out->positive_class;
    hop_status status =
        hop_mil_from_arrays(folder->n, buffer->dim, buffer->features, sizes, labels,
                            (const char *const *)folder->paths, NULL, dir, &out->bags, err);
    free(labels);
    return status;
}

hop_status hop_image_bags_from_folder(const char *dir, const hop_image_bag_options *options,
                                      hop_image_bags *out, hop_error *err)
{
    hop_image_folder folder = {0};
    patch_buffer buffer = {0};
    int *sizes = NULL;
    memset(out, 0, sizeof *out);

    hop_status status = check_options(options, err);
    if (status == HOP_OK)
        status = hop_image_folder_list(dir, &folder, err);
    if (status == HOP_OK)
        status =
            find_positive_class(&folder, dir, options->positive_class, &out->positive_class, err);
    if (status == HOP_OK) {
        out->grids = calloc((size_t)folder.n, sizeof *out->grids);
        sizes = calloc((size_t)folder.n, sizeof *sizes);
        if (!out->grids || !sizes)
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d bags", folder.n);
    }
    if (status == HOP_OK)
        status = cut_folder(&folder, options, out, &buffer, sizes, err);
    if (status == HOP_OK)
        status = build_bags(&folder, &buffer, sizes, dir, out, err);
    if (status == HOP_OK) {
        out->class_names = folder.class_names;
        out->n_classes = folder.n_classes;
        folder.class_names = NULL;
        folder.n_classes = 0;
    }
    int n_grids = folder.n;
    free(sizes);
    free(buffer.features);
    hop_image_folder_free(&folder);
    if (status != HOP_OK) {
        for (int i = 0; out->grids && i < n_grids; i++)
            free(out->grids[i].path);
        free(out->grids);
        out->grids = NULL;
        hop_image_bags_free(out);
    }
    return status;
}

void hop_image_bags_free(hop_image_bags *bags)
{
    if (!bags)
        return;
    for (int i = 0; bags->grids && i < bags->bags.n_bags; i++)
        free(bags->grids[i].path);
    free(bags->grids);
    hop_free_strings(bags->class_names, bags->n_classes);
    hop_mil_free(&bags->bags);
    memset(bags, 0, sizeof *bags);
}

hop_status hop_image_bags_attention_png(const hop_image_bags *bags, int bag,
                                        const hop_image_load_options *load, const float *weights,
                                        int n_weights, const char *path,
                                        const hop_attention_png_options *options, hop_error *err)
{
    if (bag < 0 || bag >= bags->bags.n_bags)
        return hop_error_set(err, HOP_ERR_ARG, "bag %d is out of range; the set has %d bags", bag,
                             bags->bags.n_bags);
    const hop_patch_grid *grid = &bags->grids[bag];
    hop_image_load_options reload = load ? *load : (hop_image_load_options){0};
    reload.channels = grid->channels;
    hop_image image = {0};
    hop_status status = hop_image_load_resized(grid->path, &reload, &image, err);
    if (status == HOP_OK && (image.width != grid->width || image.height != grid->height))
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: image is now %d x %d but its bag was cut from %d x %d; the "
                               "file changed or the resize options differ",
                               grid->path, image.width, image.height, grid->width, grid->height);
    if (status == HOP_OK)
        status = hop_attention_png_write(path, &image, grid, weights, n_weights, options, err);
    hop_image_free(&image);
    return status;
}
