#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image_write.h>

#include "hop/loaders.h"
#include "image_fixtures.h"

#define assert_message_has(err, text)                                                              \
    cr_assert(strstr((err).message, (text)) != NULL, "message \"%s\" lacks \"%s\"", (err).message, \
              (text))

static char dir[64];

static void setup(void)
{
    fixture_make_temp_dir(dir, sizeof dir);
}

static void teardown(void)
{
    fixture_remove_tree(dir);
}

static void path_in(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

static void make_subdir(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    cr_assert_eq(mkdir(path, 0700), 0, "cannot create %s", path);
}

/* A 4 x 3 RGB test pattern: pixel (x, y) = (40 x + 10, 60 y + 20, 200 - 30 x). */
static void make_pattern(unsigned char *rgb)
{
    for (int y = 0; y < 3; y++) {
        for (int x = 0; x < 4; x++) {
            unsigned char *p = rgb + (y * 4 + x) * 3;
            p[0] = (unsigned char)(40 * x + 10);
            p[1] = (unsigned char)(60 * y + 20);
            p[2] = (unsigned char)(200 - 30 * x);
        }
    }
}

static void check_pattern(const char *name, float tolerance)
{
    char path[256];
    path_in(path, sizeof path, name);
    unsigned char rgb[36];
    make_pattern(rgb);
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_load(path, 3, &image, &err), HOP_OK, "%s: %s", name, err.message);
    cr_assert_eq(image.width, 4);
    cr_assert_eq(image.height, 3);
    cr_assert_eq(image.channels, 3);
    cr_assert_eq(image.bit_depth, 8);
    for (int i = 0; i < 36; i++)
        cr_assert(fabsf(image.pixels[i] - rgb[i] / 255.0f) <= tolerance, "%s value %d: %f vs %f",
                  name, i, (double)image.pixels[i], rgb[i] / 255.0);
    hop_image_free(&image);
}

TestSuite(images, .init = setup, .fini = teardown);

Test(images, formats_decode_to_float)
{
    unsigned char rgb[36];
    char path[256];
    make_pattern(rgb);
    path_in(path, sizeof path, "a.png");
    cr_assert(stbi_write_png(path, 4, 3, 3, rgb, 12));
    path_in(path, sizeof path, "a.bmp");
    cr_assert(stbi_write_bmp(path, 4, 3, 3, rgb));
    path_in(path, sizeof path, "a.tga");
    cr_assert(stbi_write_tga(path, 4, 3, 3, rgb));
    path_in(path, sizeof path, "a.jpg");
    cr_assert(stbi_write_jpg(path, 4, 3, 3, rgb, 100));
    check_pattern("a.png", 1e-6f);
    check_pattern("a.bmp", 1e-6f);
    check_pattern("a.tga", 1e-6f);
    check_pattern("a.jpg", 0.12f); /* lossy, with chroma subsampling */
}

Test(images, channel_conversions)
{
    const unsigned char rgba[8] = {255, 0, 0, 128, 0, 0, 255, 255};
    char path[256];
    path_in(path, sizeof path, "rgba.png");
    png_write_file(path, 2, 1, 8, PNG_RGBA, rgba, NULL, 0);

    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_load(path, 0, &image, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(image.channels, 4);
    cr_assert_eq(image.file_channels, 4);
    cr_assert_float_eq(image.pixels[3], 128 / 255.0f, 1e-7);
    hop_image_free(&image);

    cr_assert_eq(hop_image_load(path, 3, &image, &err), HOP_OK);
    cr_assert_eq(image.channels, 3);
    cr_assert_float_eq(image.pixels[0], 1.0f, 1e-7);
    cr_assert_float_eq(image.pixels[5], 1.0f, 1e-7);
    hop_image_free(&image);

    /* Gray from RGB follows stb_image's luma (77 R + 150 G + 29 B) >> 8: red 255 gives 76. */
    cr_assert_eq(hop_image_load(path, 1, &image, &err), HOP_OK);
    cr_assert_float_eq(image.pixels[0], 76 / 255.0f, 1e-7);
    cr_assert_float_eq(image.pixels[1], 28 / 255.0f, 1e-7);
    hop_image_free(&image);

    const unsigned char gray[2] = {0, 200};
    path_in(path, sizeof path, "gray.png");
    png_write_file(path, 2, 1, 8, PNG_GRAY, gray, NULL, 0);
    cr_assert_eq(hop_image_load(path, 4, &image, &err), HOP_OK);
    cr_assert_float_eq(image.pixels[4], 200 / 255.0f, 1e-7);
    cr_assert_float_eq(image.pixels[6], 200 / 255.0f, 1e-7);
    cr_assert_float_eq(image.pixels[7], 1.0f, 1e-7);
    hop_image_free(&image);

    cr_assert_eq(hop_image_load(path, 5, &image, &err), HOP_ERR_ARG);
}

Test(images, resize_keeps_range)
{
    unsigned char rgb[36];
    make_pattern(rgb);
    char path[256];
    path_in(path, sizeof path, "a.png");
    cr_assert(stbi_write_png(path, 4, 3, 3, rgb, 12));
    hop_image image, small;
    hop_error err = {0};
    cr_assert_eq(hop_image_load(path, 3, &image, &err), HOP_OK);
    cr_assert_eq(hop_image_resize(&image, 8, 6, &small, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(small.width, 8);
    cr_assert_eq(small.height, 6);
    for (int i = 0; i < 8 * 6 * 3; i++)
        cr_assert(small.pixels[i] >= 0 && small.pixels[i] <= 1);
    /* Green depends only on y, so every pixel of an output row has nearly the same green. */
    cr_assert_float_eq(small.pixels[1], small.pixels[7 * 3 + 1], 0.02);
    hop_image_free(&small);
    cr_assert_eq(hop_image_resize(&image, 0, 6, &small, &err), HOP_ERR_ARG);
    hop_image_free(&image);
}

static void write_gray(const char *name, int width, int height, unsigned char base)
{
    char path[256];
    unsigned char pixels[64 * 64];
    for (int i = 0; i < width * height; i++)
        pixels[i] = (unsigned char)(base + i);
    path_in(path, sizeof path, name);
    png_write_file(path, width, height, 8, PNG_GRAY, pixels, NULL, 0);
}

Test(images, folder_sorted_and_labelled)
{
    make_subdir("zebra");
    make_subdir("ant");
    write_gray("zebra/b.png", 4, 4, 0);
    write_gray("zebra/a.png", 4, 4, 10);
    write_gray("ant/only.png", 4, 4, 20);
    char ignored[256];
    path_in(ignored, sizeof ignored, "ant/.hidden");
    fixture_write_file(ignored, "x", 1);

    hop_image_set set;
    hop_error err = {0};
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(set.n, 3);
    cr_assert_eq(set.n_classes, 2);
    cr_assert_str_eq(set.class_names[0], "ant");
    cr_assert_str_eq(set.class_names[1], "zebra");
    cr_assert_eq(set.labels[0], 0);
    cr_assert_eq(set.labels[1], 1);
    cr_assert(strstr(set.paths[1], "zebra/a.png") != NULL);
    cr_assert_float_eq(set.pixels[0], 20 / 255.0f, 1e-7);
    cr_assert_float_eq(set.pixels[16], 10 / 255.0f, 1e-7);
    hop_image_set_free(&set);
}

Test(images, folder_errors)
{
    hop_image_set set;
    hop_error err = {0};
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "no class subfolders");

    make_subdir("cats");
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "cats: class folder has no images");

    write_gray("cats/a.png", 4, 4, 0);
    write_gray("cats/b.png", 5, 4, 0);
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "b.png: image is 5 x 4");

    hop_image_load_options resize = {.channels = 1, .resize_width = 3, .resize_height = 3};
    cr_assert_eq(hop_image_folder_load(dir, &resize, &set, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(set.width, 3);
    hop_image_set_free(&set);

    char path[256];
    path_in(path, sizeof path, "cats/notes.txt");
    fixture_write_file(path, "x", 1);
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "notes.txt: not an image file");
    unlink(path);

    path_in(path, sizeof path, "stray.png");
    fixture_write_file(path, "x", 1);
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_DATA);
    assert_message_has(err, "stray.png: file outside a class subfolder");
    unlink(path);

    path_in(path, sizeof path, "cats/b.png");
    unlink(path);
    path_in(path, sizeof path, "cats/c.png");
    fixture_write_file(path, "not a png", 9);
    cr_assert_eq(hop_image_folder_load(dir, NULL, &set, &err), HOP_ERR_PARSE);
    assert_message_has(err, "c.png");

    cr_assert_eq(hop_image_folder_load("/nonexistent/images", NULL, &set, &err), HOP_ERR_IO);
    assert_message_has(err, "/nonexistent/images");
}

Test(images, patch_bags_from_folder)
{
    make_subdir("negative");
    make_subdir("positive");
    write_gray("negative/n1.png", 6, 4, 0);
    write_gray("positive/p1.png", 4, 4, 100);
    write_gray("positive/p2.png", 4, 4, 50);

    hop_image_bags bags;
    hop_error err = {0};
    hop_image_bag_options options = {.patch = 2, .stride = 2};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(bags.bags.n_bags, 3);
    cr_assert_eq(bags.bags.dim, 4);
    cr_assert_eq(bags.positive_class, 1);
    cr_assert_eq(bags.bags.labels[0], 0);
    cr_assert_eq(bags.bags.labels[1], 1);
    /* 6 x 4 with 2 x 2 patches: 2 rows of 3 patches. */
    cr_assert_eq(bags.grids[0].rows, 2);
    cr_assert_eq(bags.grids[0].cols, 3);
    cr_assert_eq(bags.bags.bag_start[1], 6);
    cr_assert_eq(bags.bags.bag_start[3], 6 + 4 + 4);
    /* Patch (row 1, col 2) of n1 starts at x 4, y 2: pixel values 16, 17, 22, 23. */
    const float *patch = bags.bags.features + 5 * 4;
    cr_assert_float_eq(patch[0], 16 / 255.0f, 1e-7);
    cr_assert_float_eq(patch[1], 17 / 255.0f, 1e-7);
    cr_assert_float_eq(patch[2], 22 / 255.0f, 1e-7);
    cr_assert_float_eq(patch[3], 23 / 255.0f, 1e-7);
    hop_image_bags_free(&bags);

    options = (hop_image_bag_options){.patch = 3, .stride = 1, .positive_class = "negative"};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(bags.bags.labels[0], 1);
    cr_assert_eq(bags.grids[0].cols, 4);
    cr_assert_eq(bags.grids[0].rows, 2);
    hop_image_bags_free(&bags);

    options = (hop_image_bag_options){.patch = 5};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_ERR_DATA);
    assert_message_has(err, "n1.png: image of 6 x 4 pixels is smaller than one 5 x 5 patch");

    options = (hop_image_bag_options){.patch = 2, .positive_class = "unknown"};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_ERR_ARG);
    options = (hop_image_bag_options){.patch = 0};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_ERR_ARG);
}

Test(images, attention_png_marks_heaviest_patch)
{
    make_subdir("a");
    make_subdir("b");
    write_gray("a/x.png", 4, 4, 0);
    write_gray("b/y.png", 4, 4, 0);
    hop_image_bags bags;
    hop_error err = {0};
    hop_image_bag_options options = {.patch = 2};
    cr_assert_eq(hop_image_bags_from_folder(dir, &options, &bags, &err), HOP_OK, "%s", err.message);

    char out[256];
    path_in(out, sizeof out, "attention.png");
    const float weights[4] = {0.05f, 0.05f, 0.1f, 0.8f};
    hop_attention_png_options draw = {.scale = 3};
    cr_assert_eq(
        hop_image_bags_attention_png(&bags, 0, &options.load, weights, 4, out, &draw, &err), HOP_OK,
        "%s", err.message);

    hop_image heat;
    cr_assert_eq(hop_image_load(out, 3, &heat, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(heat.width, 12);
    cr_assert_eq(heat.height, 12);
    const float *hot = heat.pixels + (11 * 12 + 11) * 3; /* inside patch (1, 1) */
    const float *cold = heat.pixels + (0 * 12 + 0) * 3;  /* inside patch (0, 0) */
    cr_assert_gt(hot[0], 0.5f);
    cr_assert_lt(hot[2], 0.5f);
    cr_assert_gt(cold[2], 0.5f);
    hop_image_free(&heat);

    cr_assert_eq(
        hop_image_bags_attention_png(&bags, 0, &options.load, weights, 3, out, &draw, &err),
        HOP_ERR_SHAPE);
    assert_message_has(err, "3 weights");
    const float bad[4] = {0, NAN, 0, 0};
    cr_assert_eq(hop_image_bags_attention_png(&bags, 0, &options.load, bad, 4, out, &draw, &err),
                 HOP_ERR_NUMERIC);
    char missing[256];
    path_in(missing, sizeof missing, "no/such/dir.png");
    cr_assert_eq(
        hop_image_bags_attention_png(&bags, 0, &options.load, weights, 4, missing, &draw, &err),
        HOP_ERR_IO);
    assert_message_has(err, "no/such/dir.png");

    /* The atomic writer leaves no temporary file behind. */
    DIR *handle = opendir(dir);
    struct dirent *entry;
    while ((entry = readdir(handle)) != NULL)
        cr_assert_null(strstr(entry->d_name, ".tmp."), "left over: %s", entry->d_name);
    closedir(handle);
    hop_image_bags_free(&bags);
}

/* n samples with one feature each equal to the sample index, label = index % n_classes. */
static void make_indexed_set(int n, int n_classes, float *features, int *labels)
{
    for (int i = 0; i < n; i++) {
        features[i] = (float)i;
        labels[i] = i % n_classes;
    }
}

Test(class_bags, splits_share_no_instance)
{
    enum { N = 400 };
    float features[N];
    int labels[N];
    make_indexed_set(N, 4, features, labels);
    hop_class_bag_options options = hop_class_bag_defaults();
    options.target_class = 3;
    hop_rng rng;
    hop_rng_seed(&rng, 11);
    hop_mil_dataset train, test;
    hop_error err = {0};
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_OK, "%s", err.message);
    cr_assert_eq(train.n_bags, 100);
    cr_assert_eq(test.n_bags, 100);

    unsigned char in_train[N] = {0};
    for (int i = 0; i < train.n_instances; i++)
        in_train[(int)train.features[i]] = 1;
    for (int i = 0; i < test.n_instances; i++)
        cr_assert_eq(in_train[(int)test.features[i]], 0, "sample %d in both splits",
                     (int)test.features[i]);

    for (int b = 0; b < train.n_bags; b++) {
        int has_target = 0;
        for (int i = train.bag_start[b]; i < train.bag_start[b + 1]; i++) {
            int sample = (int)train.features[i];
            has_target |= labels[sample] == 3;
            cr_assert_eq(train.instance_labels[i], labels[sample] == 3);
        }
        cr_assert_eq(train.labels[b], has_target, "bag %d", b);
    }
    int counts[2];
    hop_mil_class_counts(&train, counts);
    cr_assert_eq(counts[1], 50);
    hop_mil_free(&train);
    hop_mil_free(&test);
}

Test(class_bags, without_replacement_and_errors)
{
    enum { N = 400 };
    float features[N];
    int labels[N];
    make_indexed_set(N, 4, features, labels);
    hop_class_bag_options options = hop_class_bag_defaults();
    options.n_train_bags = 20;
    options.n_test_bags = 10;
    options.mean_size = 5;
    options.std_size = 1;
    options.with_replacement = 0;
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    hop_mil_dataset train, test;
    hop_error err = {0};
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_OK, "%s", err.message);
    unsigned char seen[N] = {0};
    for (int i = 0; i < train.n_instances; i++) {
        int sample = (int)train.features[i];
        cr_assert_eq(seen[sample], 0, "sample %d used twice", sample);
        seen[sample] = 1;
    }
    hop_mil_free(&train);
    hop_mil_free(&test);

    options.n_train_bags = 1000;
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_ERR_DATA);
    assert_message_has(err, "without replacement");
    cr_assert_null(train.features);

    options = hop_class_bag_defaults();
    options.target_class = 7;
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_ERR_DATA);
    assert_message_has(err, "no target samples");

    options = hop_class_bag_defaults();
    options.test_fraction = 1.0;
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_ERR_ARG);
    options = hop_class_bag_defaults();
    options.mean_size = 0.5;
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_ERR_ARG);
}

Test(class_bags, table_rows_as_instances)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load(HOP_SHARED_DIR "/data/small/iris.csv", NULL, &table, &err), HOP_OK,
                 "%s", err.message);
    hop_class_bag_options options = hop_class_bag_defaults();
    options.n_train_bags = 30;
    options.n_test_bags = 10;
    options.mean_size = 4;
    options.target_class = 2;
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_mil_dataset train, test;
    cr_assert_eq(hop_class_bags_make(table.features, table.labels, table.n_rows, table.n_features,
                                     &options, &rng, &train, &test, &err),
                 HOP_OK, "%s", err.message);
    cr_assert_eq(train.dim, 4);
    cr_assert_eq(hop_mil_validate(&train, &err), HOP_OK, "%s", err.message);
    hop_mil_free(&train);
    hop_mil_free(&test);
    hop_table_free(&table);
}
