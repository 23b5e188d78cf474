/* Image decoding through stb_image, resizing, and image folders with one subfolder per class. */
#include "hop/loaders.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "loader_util.h"

static hop_status corrupt(const char *source, hop_error *err, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static hop_status corrupt(const char *source, hop_error *err, const char *format, ...)
{
    char detail[HOP_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    return hop_error_set(err, HOP_ERR_PARSE, "%s: invalid image: %s", source, detail);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

/* Walks the PNG chunks: every chunk must fit the file and match its CRC, and IEND must come. */
static hop_status check_png(const unsigned char *data, size_t length, const char *source,
                            hop_error *err)
{
    size_t offset = 8;
    while (offset + 12 <= length) {
        uint32_t chunk_length = be32(data + offset);
        if (chunk_length > length - offset - 12)
            return corrupt(source, err,
                           "PNG chunk at byte %zu declares %u bytes but the file ends at byte "
                           "%zu; the file is truncated",
                           offset, chunk_length, length);
        const unsigned char *type = data + offset + 4;
        uLong crc = crc32(0L, type, chunk_length + 4);
        if (crc != be32(type + 4 + chunk_length))
            return corrupt(source, err,
                           "PNG chunk \"%.4s\" at byte %zu fails its CRC check; the file is "
                           "corrupt",
                           (const char *)type, offset);
        if (memcmp(type, "IEND", 4) == 0)
            return HOP_OK;
        offset += 12 + (size_t)chunk_length;
    }
    return corrupt(source, err, "PNG ends at byte %zu without an IEND chunk; the file is truncated",
                   length);
}

/* Requires a start-of-scan marker and, after it, an end-of-image marker. */
static hop_status check_jpeg(const unsigned char *data, size_t length, const char *source,
                             hop_error *err)
{
    size_t offset = 2;
    for (;;) {
        while (offset < length && data[offset] == 0xFF && offset + 1 < length &&
               data[offset + 1] == 0xFF)
            offset++;
        if (offset + 2 > length || data[offset] != 0xFF)
            return corrupt(source, err,
                           "JPEG has no scan data (no SOS marker before byte %zu); the file is "
                           "truncated",
                           offset);
        unsigned marker = data[offset + 1];
        if (marker == 0xDA)
            break;
        if (marker == 0xD9)
            return corrupt(source, err, "JPEG ends at byte %zu before any scan data", offset);
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
            offset += 2;
            continue;
        }
        if (offset + 4 > length)
            return corrupt(source, err, "JPEG is truncated inside the marker at byte %zu", offset);
        offset += 2 + ((size_t)data[offset + 2] << 8 | data[offset + 3]);
    }
    /* Entropy-coded data escapes 0xFF as FF 00, so FF D9 after SOS is the end marker. */
    for (size_t i = offset + 2; i + 1 < length; i++)
        if (data[i] == 0xFF && data[i + 1] == 0xD9)
            return HOP_OK;
    return corrupt(source, err,
                   "JPEG has no end-of-image marker after its scan at byte %zu; the file is "
                   "truncated",
                   offset);
}

/* Checks that an uncompressed BMP (BITMAPINFOHEADER or later) contains its whole pixel array. */
static hop_status check_bmp(const unsigned char *data, size_t length, const char *source,
                            hop_error *err)
{
    if (length < 34 || le32(data + 14) < 40)
        return HOP_OK; /* stb_image reports other layouts */
    uint32_t pixel_offset = le32(data + 10);
    int32_t width = (int32_t)le32(data + 18);
    int32_t height = (int32_t)le32(data + 22);
    unsigned bits = data[28] | (unsigned)data[29] << 8;
    uint32_t compression = le32(data + 30);
    if ((compression != 0 && compression != 3) || width <= 0 || height == 0 || height == INT32_MIN)
        return HOP_OK;

    uint64_t row = ((uint64_t)bits * (uint64_t)width + 31) / 32 * 4;
    uint64_t rows = (uint64_t)(height < 0 ? -(int64_t)height : height);
    uint64_t needed = (uint64_t)pixel_offset + row * rows;
    if (needed > length)
        return corrupt(source, err,
                       "BMP pixel data needs %llu bytes but the file has %zu; the file is "
                       "truncated",
                       (unsigned long long)needed, length);
    return HOP_OK;
}

static hop_status check_structure(const unsigned char *data, size_t length, const char *source,
                                  hop_error *err)
{
    if (length >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return check_png(data, length, source, err);
    if (length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return check_jpeg(data, length, source, err);
    if (length >= 2 && data[0] == 'B' && data[1] == 'M')
        return check_bmp(data, length, source, err);
    /* NOTE: GIF and TGA files are not checked for truncation, only decoded by stb_image. */
    return HOP_OK;
}

static hop_status check_header(const unsigned char *data, int length, const char *source,
                               int *file_channels, hop_error *err)
{
    int width = 0, height = 0;
    if (!stbi_info_from_memory(data, length, &width, &height, file_channels))
        return corrupt(source, err,
                       "stb_image cannot read the header (%s); expected PNG, JPEG, BMP, GIF or "
                       "TGA",
                       stbi_failure_reason());
    if (width < 1 || height < 1 || (size_t)width * (size_t)height > HOP_IMAGE_MAX_PIXELS)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: image of %d x %d pixels exceeds the limit of %zu pixels; "
                             "shrink the image",
                             source, width, height, HOP_IMAGE_MAX_PIXELS);
    return HOP_OK;
}

static hop_status convert_pixels(const void *pixels, int bit_depth, const char *source,
                                 hop_image *out, hop_error *err)
{
    size_t count = (size_t)out->width * (size_t)out->height * (size_t)out->channels;
    out->pixels = malloc(count * sizeof *out->pixels);
    if (!out->pixels)
        return hop_error_set(err, HOP_ERR_NOMEM, "%s: out of memory for %d x %d pixels", source,
                             out->width, out->height);
    if (bit_depth == 16) {
        const uint16_t *values = pixels;
        for (size_t i = 0; i < count; i++)
            out->pixels[i] = values[i] / 65535.0f;
    } else {
        const unsigned char *values = pixels;
        for (size_t i = 0; i < count; i++)
            out->pixels[i] = values[i] / 255.0f;
    }
    return HOP_OK;
}

hop_status hop_image_decode(const void *data, size_t length, const char *source, int channels,
                            hop_image *out, hop_error *err)
{
    const unsigned char *bytes = data;
    int file_channels = 0;
    memset(out, 0, sizeof *out);
    hop_error_clear(err);
    source = source ? source : "<buffer>";

    if (channels < 0 || channels > 4)
        return hop_error_set(err, HOP_ERR_ARG, "%s: channels %d is invalid; use 0 to 4", source,
                             channels);
    if (!data || length == 0)
        return corrupt(source, err, "the file is empty");
    if (length > INT_MAX)
        return hop_error_set(err, HOP_ERR_DATA, "%s: file of %zu bytes is too large to decode",
                             source, length);
    hop_status status = check_structure(bytes, length, source, err);
    if (status == HOP_OK)
        status = check_header(bytes, (int)length, source, &file_channels, err);
    if (status != HOP_OK)
        return status;

    int bit_depth = stbi_is_16_bit_from_memory(bytes, (int)length) ? 16 : 8;
    int width = 0, height = 0, stored = 0;
    void *pixels = bit_depth == 16 ? (void *)stbi_load_16_from_memory(bytes, (int)length, &width,
                                                                      &height, &stored, channels)
                                   : (void *)stbi_load_from_memory(bytes, (int)length, &width,
                                                                   &height, &stored, channels);
    if (!pixels)
        return corrupt(source, err, "stb_image cannot decode it (%s)", stbi_failure_reason());

    *out = (hop_image){.width = width,
                       .height = height,
                       .channels = channels ? channels : stored,
                       .file_channels = stored,
                       .bit_depth = bit_depth};
    status = convert_pixels(pixels, bit_depth, source, out, err);
    stbi_image_free(pixels);
    if (status != HOP_OK)
        memset(out, 0, sizeof *out);
    return status;
}

hop_status hop_image_load(const char *path, int channels, hop_image *out, hop_error *err)
{
    unsigned char *data = NULL;
    size_t length = 0;
    memset(out, 0, sizeof *out);
    hop_status status = hop_file_read(path, &data, &length, err);
    if (status == HOP_OK)
        status = hop_image_decode(data, length, path, channels, out, err);
    free(data);
    return status;
}

hop_status hop_image_resize(const hop_image *image, int width, int height, hop_image *out,
                            hop_error *err)
{
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || (size_t)width * (size_t)height > HOP_IMAGE_MAX_PIXELS)
        return hop_error_set(err, HOP_ERR_ARG,
                             "resize to %d x %d is invalid; use 1 to %zu pixels in total", width,
                             height, HOP_IMAGE_MAX_PIXELS);
    *out = *image;
    out->width = width;
    out->height = height;
    size_t count = (size_t)width * (size_t)height * (size_t)image->channels;
    out->pixels = malloc(count * sizeof *out->pixels);
    if (!out->pixels) {
        memset(out, 0, sizeof *out);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory resizing to %d x %d", width,
                             height);
    }
    if (!stbir_resize_float(image->pixels, image->width, image->height, 0, out->pixels, width,
                            height, 0, image->channels)) {
        hop_image_free(out);
        return hop_error_set(err, HOP_ERR_ARG, "stb_image_resize cannot resize %d x %d to %d x %d",
                             image->width, image->height, width, height);
    }
    /* The default filters overshoot near edges, so values are clamped back to [0, 1]. */
    for (size_t i = 0; i < count; i++)
        out->pixels[i] = fminf(fmaxf(out->pixels[i], 0.0f), 1.0f);
    return HOP_OK;
}

void hop_image_free(hop_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

void hop_image_set_free(hop_image_set *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    hop_free_strings(set->class_names, set->n_classes);
    hop_free_strings(set->paths, set->n);
    free(set->source);
    memset(set, 0, sizeof *set);
}

/* ---- Folders ---- */

typedef struct name_list {
    char **names;
    int count;
    int capacity;
} name_list;

static void name_list_free(name_list *list)
{
    hop_free_strings(list->names, list->count);
    memset(list, 0, sizeof *list);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static hop_status name_list_add(name_list *list, const char *name, hop_error *err)
{
    if (list->count == list->capacity) {
        if (list->capacity > INT_MAX / 2)
            return hop_error_set(err, HOP_ERR_DATA, "too many entries in a folder");
        int capacity = list->capacity ? list->capacity * 2 : 32;
        char **names = realloc(list->names, (size_t)capacity * sizeof *names);
        if (!names)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory listing a folder");
        list->names = names;
        list->capacity = capacity;
    }
    list->names[list->count] = hop_strdup(name);
    if (!list->names[list->count])
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory listing a folder");
    list->count++;
    return HOP_OK;
}

/* Lists the entries of dir that do not start with '.', sorted by byte value. */
static hop_status list_dir(const char *dir, name_list *list, hop_error *err)
{
    errno = 0;
    DIR *handle = opendir(dir);
    if (!handle) {
        char reason[128] = "unknown error";
        strerror_r(errno, reason, sizeof reason);
        return hop_error_set(err, HOP_ERR_IO, "cannot open folder \"%s\": %s; check the path", dir,
                             reason);
    }
    hop_status status = HOP_OK;
    struct dirent *entry;
    while (status == HOP_OK && (entry = readdir(handle)) != NULL)
        if (entry->d_name[0] != '.')
            status = name_list_add(list, entry->d_name, err);
    closedir(handle);
    if (status == HOP_OK && list->count > 1)
        qsort(list->names, (size_t)list->count, sizeof *list->names, compare_names);
    return status;
}

static char *join_path(const char *dir, const char *name)
{
    size_t length = strlen(dir) + strlen(name) + 2;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", dir, name);
    return path;
}

static int is_image_name(const char *name)
{
    static const char *const extensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"};
    for (size_t i = 0; i < sizeof extensions / sizeof *extensions; i++)
        if (hop_has_suffix(name, extensions[i]))
            return 1;
    return 0;
}

static int is_directory(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

static hop_status add_image(hop_image_folder *out, char *path, int label, hop_error *err)
{
    char **paths = realloc(out->paths, (size_t)(out->n + 1) * sizeof *paths);
    if (paths)
        out->paths = paths;
    int *labels = realloc(out->labels, (size_t)(out->n + 1) * sizeof *labels);
    if (labels)
        out->labels = labels;
    if (!paths || !labels) {
        free(path);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory listing images");
    }
    out->paths[out->n] = path;
    out->labels[out->n] = label;
    out->n++;
    return HOP_OK;
}

static hop_status list_class(const char *class_dir, int label, hop_image_folder *out,
                             hop_error *err)
{
    name_list files = {0};
    hop_status status = list_dir(class_dir, &files, err);
    if (status == HOP_OK && files.count == 0)
        status =
            hop_error_set(err, HOP_ERR_DATA,
                          "%s: class folder has no images; add images or remove it", class_dir);
    for (int i = 0; status == HOP_OK && i < files.count; i++) {
        char *path = join_path(class_dir, files.names[i]);
        if (!path)
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory listing images");
        else if (is_directory(path) || !is_image_name(files.names[i])) {
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: not an image file (expected .png, .jpg, .jpeg, .bmp, .gif "
                                   "or .tga, no nested folders); move it out of the class folder",
                                   path);
            free(path);
        } else {
            status = add_image(out, path, label, err);
        }
    }
    name_list_free(&files);
    return status;
}

hop_status hop_image_folder_list(const char *dir, hop_image_folder *out, hop_error *err)
{
    name_list classes = {0};
    memset(out, 0, sizeof *out);
    if (!dir)
        return hop_error_set(err, HOP_ERR_ARG, "no image folder given");

    hop_status status = list_dir(dir, &classes, err);
    if (status == HOP_OK && classes.count == 0)
        status = hop_error_set(err, HOP_ERR_DATA,
                               "%s: folder has no class subfolders; put the images of each class "
                               "into a subfolder named after the class",
                               dir);
    for (int c = 0; status == HOP_OK && c < classes.count; c++) {
        char *class_dir = join_path(dir, classes.names[c]);
        if (!class_dir)
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory listing images");
        else if (!is_directory(class_dir))
            status = hop_error_set(err, HOP_ERR_DATA,
                                   "%s: file outside a class subfolder; move it into the "
                                   "subfolder of its class",
                                   class_dir);
        else
            status = list_class(class_dir, c, out, err);
        free(class_dir);
    }
    if (status == HOP_OK) {
        out->class_names = classes.names;
        out->n_classes = classes.count;
        classes.names = NULL;
        classes.count = 0;
    }
    name_list_free(&classes);
    if (status != HOP_OK)
        hop_image_folder_free(out);
    return status;
}

void hop_image_folder_free(hop_image_folder *folder)
{
    if (!folder)
        return;
    hop_free_strings(folder->paths, folder->n);
    free(folder->labels);
    hop_free_strings(folder->class_names, folder->n_classes);
    memset(folder, 0, sizeof *folder);
}

hop_status hop_image_load_resized(const char *path, const hop_image_load_options *options,
                                  hop_image *out, hop_error *err)
{
    hop_image decoded = {0};
    hop_status status = hop_image_load(path, options->channels, &decoded, err);
    if (status != HOP_OK || (!options->resize_width && !options->resize_height)) {
        *out = decoded;
        return status;
    }
    status = hop_image_resize(&decoded, options->resize_width, options->resize_height, out, err);
    if (status != HOP_OK && err) {
        char reason[HOP_ERROR_MESSAGE_MAX];
        snprintf(reason, sizeof reason, "%s", err->message);
        hop_error_set(err, status, "%s: %s", path, reason);
    }
    hop_image_free(&decoded);
    return status;
}

static hop_status store_image(hop_image_set *set, int index, const hop_image *image,
                              const char *path, const char *first_path, hop_error *err)
{
    if (index == 0) {
        set->width = image->width;
        set->height = image->height;
        set->channels = image->channels;
        size_t count =
            (size_t)set->n * (size_t)image->width * (size_t)image->height * (size_t)image->channels;
        set->pixels = malloc(count * sizeof *set->pixels);
        if (!set->pixels)
            return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d images", set->n);
    } else if (image->width != set->width || image->height != set->height) {
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: image is %d x %d but %s is %d x %d; resize all images to one "
                             "size",
                             path, image->width, image->height, first_path, set->width,
                             set->height);
    }
    size_t size = (size_t)set->width * (size_t)set->height * (size_t)set->channels;
    memcpy(set->pixels + (size_t)index * size, image->pixels, size * sizeof *set->pixels);
    return HOP_OK;
}

static hop_status load_folder_images(const hop_image_folder *folder,
                                     const hop_image_load_options *options, hop_image_set *set,
                                     hop_error *err)
{
    hop_image_load_options current = *options;
    hop_status status = HOP_OK;
    for (int i = 0; status == HOP_OK && i < folder->n; i++) {
        hop_image image = {0};
        status = hop_image_load_resized(folder->paths[i], &current, &image, err);
        if (status == HOP_OK)
            status = store_image(set, i, &image, folder->paths[i], folder->paths[0], err);
        current.channels = set->channels;
        hop_image_free(&image);
    }
    return status;
}

hop_status hop_image_folder_load(const char *dir, const hop_image_load_options *options,
                                 hop_image_set *out, hop_error *err)
{
    hop_image_folder folder = {0};
    hop_image_load_options defaults = {0};
    memset(out, 0, sizeof *out);
    options = options ? options : &defaults;

    hop_status status = hop_image_folder_list(dir, &folder, err);
    if (status != HOP_OK)
        return status;
    out->n = folder.n;
    status = load_folder_images(&folder, options, out, err);
    if (status == HOP_OK) {
        out->source = hop_strdup(dir);
        if (!out->source)
            status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory");
    }
    if (status == HOP_OK) {
        out->labels = folder.labels;
        out->paths = folder.paths;
        out->class_names = folder.class_names;
        out->n_classes = folder.n_classes;
        memset(&folder, 0, sizeof folder);
    }
    hop_image_folder_free(&folder);
    if (status != HOP_OK)
        hop_image_set_free(out);
    return status;
}
