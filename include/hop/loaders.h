/*
 * Dataset loaders: whole files through zlib, CSV tables, IDX files (MNIST layout), images
 * through stb_image, image folders with one subfolder per class, image patch bags, MIL bags
 * built from any labelled set, and attention heatmaps written as PNG.
 *
 * Parsers take a buffer, its length and a source name used in messages. File functions read
 * the whole file and call the parser. Every function that can fail returns a hop_status and
 * fills err with a message that names the file and the line, byte offset or value. Structs
 * that own memory are released with their _free function, which also accepts a
 * zero-initialised struct. On failure the output struct is left zeroed.
 */
#ifndef HOP_LOADERS_H
#define HOP_LOADERS_H

#include <stddef.h>

#include "hop/base.h"
#include "hop/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Whole files and gzip ---- */

/*
 * Decompresses gzip data of one or more concatenated members into a new buffer *out of
 * *out_length bytes (plus a NUL byte after them, not counted). HOP_ERR_PARSE for data that is
 * not gzip, a corrupt member or bytes after the last member. HOP_ERR_IO for a member that
 * ends early (a truncated file), with the byte offset in the message.
 */
hop_status hop_gunzip(const void *data, size_t length, const char *source, unsigned char **out,
                      size_t *out_length, hop_error *err);

/*
 * Reads the whole file at path into a new buffer (NUL-terminated, the NUL not counted).
 * A name ending in ".gz" is decompressed with hop_gunzip. HOP_ERR_IO when the file cannot be
 * opened or read.
 */
hop_status hop_file_read(const char *path, unsigned char **out, size_t *out_length, hop_error *err);

/* ---- CSV tables ---- */

typedef enum hop_table_header {
    HOP_HEADER_AUTO = 0, /* detect a count header, a name header or none */
    HOP_HEADER_NONE,     /* line 1 is data */
    HOP_HEADER_NAMES,    /* line 1 contains one name per column */
    HOP_HEADER_COUNTS    /* line 1 is "n_samples,n_features,class names..." (scikit-learn) */
} hop_table_header;

#define HOP_TABLE_LAST_COLUMN (-1) /* label_column value: the last column contains the labels */
#define HOP_TABLE_NO_LABEL    (-2) /* label_column value: every column is a feature */

typedef struct hop_table_options {
    hop_table_header header;
    int label_column;       /* 0-based column, HOP_TABLE_LAST_COLUMN or HOP_TABLE_NO_LABEL */
    const char *label_name; /* when not NULL, the label column is the header column of this name */
    char delimiter;         /* field separator, ',' when 0 */
} hop_table_options;

/* Returns options for auto-detected headers, labels in the last column and commas. */
hop_table_options hop_table_defaults(void);

typedef struct hop_table {
    int n_rows;
    int n_features;
    float *features;      /* n_rows x n_features, row-major */
    int *labels;          /* n_rows class indices, or NULL without a label column */
    int n_classes;        /* number of classes (max label + 1 for numeric labels) */
    char **class_names;   /* n_classes names, or NULL when the file gives none */
    char **feature_names; /* n_features names, or NULL without a name header */
    char *source;
} hop_table;

/*
 * Parses CSV text into a table. Accepted are LF and CRLF line ends (mixed too), a UTF-8
 * byte-order mark, a last line without line end, blank lines at the end and spaces around
 * fields. Fields may be in double quotes, with "" for a quote and line ends inside quotes.
 * A trailing delimiter on every line is accepted, and the empty last column is dropped. Numeric
 * labels must be non-negative integers. Text labels become classes numbered in sorted name order.
 *
 * A count header fixes the row count, the feature count and the class names, and the parser
 * checks all three. Errors name source, the 1-based line and column: HOP_ERR_PARSE for
 * malformed text (an unclosed quote, a row of the wrong width, a blank line before data, a
 * non-numeric feature), HOP_ERR_NUMERIC for NaN or infinity, HOP_ERR_DATA for no rows, a
 * bad label or a count header that disagrees with the data.
 */
hop_status hop_table_parse(const char *buffer, size_t length, const char *source,
                           const hop_table_options *options, hop_table *out, hop_error *err);

/* Reads path (through zlib when it ends in ".gz") and parses it with hop_table_parse. */
hop_status hop_table_load(const char *path, const hop_table_options *options, hop_table *out,
                          hop_error *err);

void hop_table_free(hop_table *table);

/* ---- Images ---- */

/* Largest image hop decodes, in pixels. Checked from the header before any pixel allocation. */
#define HOP_IMAGE_MAX_PIXELS ((size_t)1 << 28)

typedef struct hop_image {
    int width;
    int height;
    int channels;      /* channels in pixels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int file_channels; /* channels stored in the file, as stb_image reports them */
    int bit_depth;     /* 8, or 16 for 16-bit PNG (decoded at full precision) */
    float *pixels;     /* height x width x channels, row-major, in [0, 1] */
} hop_image;

/*
 * Decodes a PNG, JPEG, BMP, GIF (first frame) or TGA image with stb_image into floats in
 * [0, 1]: 8-bit data divided by 255 and 16-bit PNG data by 65535. channels 1 to 4 converts
 * with stb_image's rules (gray from RGB is a luma sum, alpha is dropped or set opaque), and 0
 * keeps the file's channel count. Before decoding, the size is checked against
 * HOP_IMAGE_MAX_PIXELS and PNG, JPEG and BMP files are checked for truncation (PNG chunk
 * lengths, CRCs and IEND, JPEG scan and end markers, BMP pixel array size).
 * HOP_ERR_PARSE names source and the stb_image or structure failure.
 */
hop_status hop_image_decode(const void *data, size_t length, const char *source, int channels,
                            hop_image *out, hop_error *err);

/* Reads the file at path and decodes it with hop_image_decode. */
hop_status hop_image_load(const char *path, int channels, hop_image *out, hop_error *err);

/* Resizes image to width x height with stb_image_resize into *out (same channel count). */
hop_status hop_image_resize(const hop_image *image, int width, int height, hop_image *out,
                            hop_error *err);

void hop_image_free(hop_image *image);

/* A set of equally sized labelled images. */
typedef struct hop_image_set {
    int n;
    int width;
    int height;
    int channels;
    float *pixels; /* n x height x width x channels, each image as in hop_image */
    int *labels;   /* n class indices */
    int n_classes;
    char **class_names; /* n_classes names, or NULL when the source gives none */
    char **paths;       /* n file paths for a folder, or NULL */
    char *source;
} hop_image_set;

void hop_image_set_free(hop_image_set *set);

/* A folder of class subfolders, listed without decoding. */
typedef struct hop_image_folder {
    int n;
    char **paths; /* n image paths "dir/class/file", classes sorted, files sorted */
    int *labels;  /* n class indices into class_names */
    int n_classes;
    char **class_names; /* subfolder names in byte order */
} hop_image_folder;

/*
 * Lists dir: each subfolder is a class, and each file in it with an extension png, jpg,
 * jpeg, bmp, gif or tga (any case) is an image. Names starting with '.' are skipped. Any
 * other file, a file directly in dir, nested folders and empty class folders are errors,
 * so a dataset is never silently short. Order is sorted by byte value, so it is the same
 * on every machine.
 */
hop_status hop_image_folder_list(const char *dir, hop_image_folder *out, hop_error *err);

void hop_image_folder_free(hop_image_folder *folder);

typedef struct hop_image_load_options {
    int channels;     /* 1 to 4, or 0 to keep the channel count of the first image */
    int resize_width; /* resize every image to this size; 0 and 0 keep the file's size */
    int resize_height;
} hop_image_load_options;

/*
 * Loads every image of an image folder into a set. Without resize, all images must share
 * the first image's size, and a mismatch is HOP_ERR_DATA naming both files and sizes.
 */
hop_status hop_image_folder_load(const char *dir, const hop_image_load_options *options,
                                 hop_image_set *out, hop_error *err);

/* ---- IDX files ---- */

#define HOP_IDX_MAX_DIMS 8

/* An IDX array. Values of every type are kept as doubles, so the file's type is exact. */
typedef struct hop_idx {
    int type; /* 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64 */
    int n_dims;
    int dims[HOP_IDX_MAX_DIMS];
    size_t count;   /* product of dims */
    double *values; /* count values, row-major */
} hop_idx;

/*
 * Parses an IDX file: two zero bytes, a type byte, a dimension count, big-endian 32-bit
 * sizes and big-endian data. HOP_ERR_PARSE with the byte offset for a bad magic number,
 * an unknown type, a file shorter than its header declares or bytes after the data.
 */
hop_status hop_idx_parse(const void *data, size_t length, const char *source, hop_idx *out,
                         hop_error *err);

/* Reads path (through zlib when it ends in ".gz") and parses it with hop_idx_parse. */
hop_status hop_idx_load(const char *path, hop_idx *out, hop_error *err);

void hop_idx_free(hop_idx *idx);

/*
 * Loads an MNIST-layout pair: ubyte images of n x rows x cols and ubyte labels of n values.
 * Pixels become value / 255 with one channel. HOP_ERR_DATA when the counts differ or a file
 * has another type or rank. class_names is NULL and n_classes is max label + 1.
 */
hop_status hop_idx_images_load(const char *images_path, const char *labels_path, hop_image_set *out,
                               hop_error *err);

/* ---- Image patch bags ---- */

/* Where the instances of one image bag come from. */
typedef struct hop_patch_grid {
    char *path; /* image file */
    int width;  /* image size after the optional resize */
    int height;
    int channels;
    int patch;  /* patch side in pixels */
    int stride; /* step between patch origins in pixels */
    int rows;   /* patches per column, (height - patch) / stride + 1 */
    int cols;   /* patches per row; instance r * cols + c starts at (r * stride, c * stride) */
} hop_patch_grid;

typedef struct hop_image_bag_options {
    int patch;  /* patch side in pixels */
    int stride; /* step between patches; patch when 0 */
    hop_image_load_options load;
    const char *positive_class; /* class whose images are positive bags; NULL: see below */
} hop_image_bag_options;

typedef struct hop_image_bags {
    hop_mil_dataset bags;  /* one bag per image, patches as instances, label 0/1 */
    hop_patch_grid *grids; /* bags.n_bags grids */
    int n_classes;
    char **class_names;
    int positive_class; /* index into class_names */
} hop_image_bags;

/*
 * Cuts every image of an image folder into a grid of patch x patch patches, stride apart,
 * each patch an instance of patch * patch * channels values (row-major, channels last).
 * Pixels right of or below the last whole patch are not used. A bag is positive when its
 * image is of positive_class. Without positive_class the folder must have exactly two
 * classes, and the second in sorted order is positive. Images may differ in size, so bags
 * may differ in length. HOP_ERR_DATA for an image smaller than one patch, naming the file.
 */
hop_status hop_image_bags_from_folder(const char *dir, const hop_image_bag_options *options,
                                      hop_image_bags *out, hop_error *err);

void hop_image_bags_free(hop_image_bags *bags);

/* ---- Attention heatmaps ---- */

typedef struct hop_attention_png_options {
    int scale;     /* each image pixel becomes scale x scale output pixels; 1 when 0 */
    float opacity; /* heatmap opacity over the image in [0, 1]; 0.6 when 0 */
} hop_attention_png_options;

/*
 * Draws weights[i] (one per patch of grid, n_weights == rows * cols) as a heatmap over the
 * image and writes an RGB PNG to path atomically (temporary file in the same folder, fsync,
 * rename). Weights are divided by their maximum. A pixel covered by several patches shows
 * the largest weight, and uncovered pixels show the dimmed image. Rejects negative or
 * non-finite weights and a weight count that does not fit the grid.
 */
hop_status hop_attention_png_write(const char *path, const hop_image *image,
                                   const hop_patch_grid *grid, const float *weights, int n_weights,
                                   const hop_attention_png_options *options, hop_error *err);

/*
 * Reloads the image of bag (with the options bags was built with) and writes its heatmap
 * with hop_attention_png_write.
 */
hop_status hop_image_bags_attention_png(const hop_image_bags *bags, int bag,
                                        const hop_image_load_options *load, const float *weights,
                                        int n_weights, const char *path,
                                        const hop_attention_png_options *options, hop_error *err);

/* ---- MIL bags from a labelled set ---- */

typedef enum hop_bag_label_mode {
    HOP_BAGS_BALANCED = 0, /* half the bags positive, each with at least one target instance */
    HOP_BAGS_NATURAL       /* instances drawn from the whole pool, label = contains target */
} hop_bag_label_mode;

typedef struct hop_class_bag_options {
    int n_train_bags;
    int n_test_bags;
    double mean_size; /* bag sizes are round(N(mean_size, std_size^2)), at least 1 */
    double std_size;
    int target_class;     /* a bag is positive when it contains an instance of this class */
    double test_fraction; /* share of instances put into the test pool, in (0, 1) */
    hop_bag_label_mode mode;
    int with_replacement; /* 1: instances may repeat; 0: each pool instance is used once */
} hop_class_bag_options;

/* Returns options for 100 train and 100 test bags of mean size 10, std 2, target class 0,
 * test fraction 0.3, balanced, with replacement. */
hop_class_bag_options hop_class_bag_defaults(void);

/*
 * Builds MIL train and test bags from n labelled samples (features n x dim, labels >= 0).
 * The sample indices are first split at random into a train pool and a test pool, stratified
 * by target class so both keep the set's target share, and no sample is in both splits. Balanced
 * mode: a positive bag of size s contains max(1, Binomial(s, p)) target instances (p = target share
 * of the pool) and non-targets for the rest, and a negative bag contains only non-targets. Natural
 * mode draws every instance from the whole pool. Without replacement, each pool sample is used at
 * most once, and a pool too small for the bags is HOP_ERR_DATA. instance_labels mark target
 * instances.
 */
hop_status hop_class_bags_make(const float *features, const int *labels, int n, int dim,
                               const hop_class_bag_options *options, hop_rng *rng,
                               hop_mil_dataset *train, hop_mil_dataset *test, hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
