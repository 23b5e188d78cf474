#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hop/loaders.h"
#include "image_fixtures.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

#define assert_message_has(err, text)                                                              \
    cr_assert(strstr((err).message, (text)) != NULL, "message \"%s\" lacks \"%s\"", (err).message, \
              (text))

/* Two 2 x 3 ubyte images, values 0, 1, ..., 11. */
static const unsigned char images_2x2x3[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0,  0,
                                             0, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const unsigned char labels_2[] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 3};

Test(idx, ubyte_images)
{
    hop_idx idx;
    hop_error err = {0};
    cr_assert_eq(hop_idx_parse(images_2x2x3, sizeof images_2x2x3, "mem.idx", &idx, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(idx.type, 0x08);
    cr_assert_eq(idx.n_dims, 3);
    cr_assert_eq(idx.dims[0], 2);
    cr_assert_eq(idx.dims[2], 3);
    cr_assert_eq(idx.count, 12);
    cr_assert_eq(idx.values[11], 11.0);
    hop_idx_free(&idx);
}

Test(idx, signed_and_float_types)
{
    /* int16 values -2 and 300, then float32 1.5 and int32 -70000. */
    const unsigned char int16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x2C};
    const unsigned char float32[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0};
    const unsigned char int32[] = {0, 0, 0x0C, 1, 0, 0, 0, 1, 0xFF, 0xFE, 0xEE, 0x90};
    hop_idx idx;
    hop_error err = {0};
    cr_assert_eq(hop_idx_parse(int16, sizeof int16, "a.idx", &idx, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(idx.values[0], -2.0);
    cr_assert_eq(idx.values[1], 300.0);
    hop_idx_free(&idx);
    cr_assert_eq(hop_idx_parse(float32, sizeof float32, "b.idx", &idx, &err), HOP_OK);
    cr_assert_eq(idx.values[0], 1.5);
    hop_idx_free(&idx);
    cr_assert_eq(hop_idx_parse(int32, sizeof int32, "c.idx", &idx, &err), HOP_OK);
    cr_assert_eq(idx.values[0], -70000.0);
    hop_idx_free(&idx);
}

Test(idx, malformed_files)
{
    hop_idx idx;
    hop_error err = {0};
    cr_assert_eq(hop_idx_parse(images_2x2x3, sizeof images_2x2x3 - 1, "cut.idx", &idx, &err),
                 HOP_ERR_PARSE);
    assert_message_has(err, "cut.idx");
    assert_message_has(err, "truncated");
    cr_assert_null(idx.values);

    cr_assert_eq(hop_idx_parse(images_2x2x3, 10, "head.idx", &idx, &err), HOP_ERR_PARSE);
    assert_message_has(err, "inside the header");

    unsigned char longer[sizeof images_2x2x3 + 1];
    memcpy(longer, images_2x2x3, sizeof images_2x2x3);
    longer[sizeof images_2x2x3] = 0;
    cr_assert_eq(hop_idx_parse(longer, sizeof longer, "long.idx", &idx, &err), HOP_ERR_PARSE);
    assert_message_has(err, "1 bytes follow the data");

    const unsigned char magic[] = {0x1f, 0x8b, 8, 1, 0, 0, 0, 1, 0};
    cr_assert_eq(hop_idx_parse(magic, sizeof magic, "gz.idx", &idx, &err), HOP_ERR_PARSE);
    assert_message_has(err, "not an IDX file");

    const unsigned char type[] = {0, 0, 0x07, 1, 0, 0, 0, 1, 0};
    cr_assert_eq(hop_idx_parse(type, sizeof type, "type.idx", &idx, &err), HOP_ERR_PARSE);
    assert_message_has(err, "unknown IDX type 0x07");
}

static void write_gzip(const char *path, const void *data, size_t length)
{
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, data, (unsigned)length), (int)length);
    cr_assert_eq(gzclose(gz), Z_OK);
}

Test(idx, image_pair_from_gzip)
{
    char dir[64], images[128], labels[128];
    fixture_make_temp_dir(dir, sizeof dir);
    snprintf(images, sizeof images, "%s/images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/labels-idx1-ubyte", dir);
    write_gzip(images, images_2x2x3, sizeof images_2x2x3);
    fixture_write_file(labels, labels_2, sizeof labels_2);

    hop_image_set set;
    hop_error err = {0};
    cr_assert_eq(hop_idx_images_load(images, labels, &set, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(set.n, 2);
    cr_assert_eq(set.height, 2);
    cr_assert_eq(set.width, 3);
    cr_assert_eq(set.channels, 1);
    cr_assert_eq(set.labels[0], 7);
    cr_assert_eq(set.n_classes, 8);
    cr_assert_float_eq(set.pixels[11], 11.0f / 255.0f, 1e-7);
    hop_image_set_free(&set);

    const unsigned char three_labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    fixture_write_file(labels, three_labels, sizeof three_labels);
    cr_assert_eq(hop_idx_images_load(images, labels, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "3 labels");
    assert_message_has(err, "2 images");

    cr_assert_eq(hop_idx_images_load(labels, labels, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "expected images");
    fixture_remove_tree(dir);
}

static int fashion_present(void)
{
    return access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) == 0 &&
           access(FASHION_DIR "/t10k-labels-idx1-ubyte.gz", R_OK) == 0;
}

static void check_fashion_split(const char *images, const char *labels, int n, float pixel)
{
    hop_image_set set;
    hop_error err = {0};
    cr_assert_eq(hop_idx_images_load(images, labels, &set, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(set.n, n);
    cr_assert_eq(set.height, 28);
    cr_assert_eq(set.width, 28);
    cr_assert_eq(set.n_classes, 10);
    int counts[10] = {0};
    for (int i = 0; i < set.n; i++)
        counts[set.labels[i]]++;
    for (int c = 0; c < 10; c++)
        cr_assert_eq(counts[c], n / 10, "class %d has %d images", c, counts[c]);
    /* Image 0, row 14, column 14. */
    cr_assert_float_eq(set.pixels[14 * 28 + 14], pixel, 1e-7);
    hop_image_set_free(&set);
}

/*
 * The expected pixels were read with Python's gzip and struct modules from the files of
 * Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1: byte 16 + 14 * 28 + 14 of the
 * decompressed image files is 217 (train image 0) and 110 (t10k image 0). Train label 0 is 9.
 */
Test(idx, fashion_mnist_all_images, .timeout = 120)
{
    if (!fashion_present())
        cr_skip_test("Fashion-MNIST not installed in " FASHION_DIR
                     " (Debian package dataset-fashion-mnist)");
    check_fashion_split(FASHION_DIR "/train-images-idx3-ubyte.gz",
                        FASHION_DIR "/train-labels-idx1-ubyte.gz", 60000, 217.0f / 255.0f);
    check_fashion_split(FASHION_DIR "/t10k-images-idx3-ubyte.gz",
                        FASHION_DIR "/t10k-labels-idx1-ubyte.gz", 10000, 110.0f / 255.0f);
}

Test(idx, fashion_mnist_class_bags, .timeout = 120)
{
    if (!fashion_present())
        cr_skip_test("Fashion-MNIST not installed in " FASHION_DIR
                     " (Debian package dataset-fashion-mnist)");
    hop_image_set set;
    hop_error err = {0};
    cr_assert_eq(hop_idx_images_load(FASHION_DIR "/t10k-images-idx3-ubyte.gz",
                                     FASHION_DIR "/t10k-labels-idx1-ubyte.gz", &set, &err),
                 HOP_OK, "%s", err.message);
    hop_class_bag_options options = hop_class_bag_defaults();
    options.target_class = 9; /* ankle boot */
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    hop_mil_dataset train, test;
    cr_assert_eq(hop_class_bags_make(set.pixels, set.labels, set.n, 784, &options, &rng, &train,
                                     &test, &err),
                 HOP_OK, "%s", err.message);
    cr_assert_eq(train.n_bags, 100);
    cr_assert_eq(train.dim, 784);
    int counts[2];
    hop_mil_class_counts(&train, counts);
    cr_assert_eq(counts[1], 50);
    hop_mil_free(&train);
    hop_mil_free(&test);
    hop_image_set_free(&set);
}
