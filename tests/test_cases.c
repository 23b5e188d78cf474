/* Regression tests for known loader failures: image channels and bit depth, corrupt and
 * hostile images, CSV line ends and delimiters, gzip members and truncation, bag balance. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

TestSuite(cases, .init = setup, .fini = teardown);

/* ---- Image channels and bit depth ---- */

Test(cases, png_16bit_gray_full_precision)
{
    const unsigned char samples[8] = {0x00, 0x00, 0x01, 0x00, 0x80, 0x00, 0xFF, 0xFF};
    size_t length = 0;
    unsigned char *png = png_encode(2, 2, 16, PNG_GRAY, samples, NULL, 0, &length);
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode(png, length, "gray16.png", 1, &image, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(image.bit_depth, 16);
    /* 0, 256, 32768, 65535 divided by 65535, not the high byte divided by 255. */
    const float expected[4] = {0.0f, 0.0039063f, 0.5000076f, 1.0f};
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(image.pixels[i], expected[i], 1e-6, "pixel %d: %f", i,
                           (double)image.pixels[i]);
    cr_assert(fabsf(image.pixels[1] - 1.0f / 255.0f) > 1e-5f, "16-bit value read as 8-bit");
    hop_image_free(&image);
    free(png);
}

Test(cases, png_gray_alpha_channels)
{
    const unsigned char samples[4] = {10, 255, 200, 0};
    size_t length = 0;
    unsigned char *png = png_encode(2, 1, 8, PNG_GRAY_ALPHA, samples, NULL, 0, &length);
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode(png, length, "ga.png", 0, &image, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(image.file_channels, 2);
    cr_assert_eq(image.channels, 2, "channels 0 must report the file's 2 channels");
    cr_assert_float_eq(image.pixels[1], 1.0f, 1e-7);
    cr_assert_float_eq(image.pixels[3], 0.0f, 1e-7);
    hop_image_free(&image);

    cr_assert_eq(hop_image_decode(png, length, "ga.png", 1, &image, &err), HOP_OK);
    cr_assert_eq(image.channels, 1);
    cr_assert_eq(image.file_channels, 2);
    cr_assert_float_eq(image.pixels[0], 10 / 255.0f, 1e-7);
    cr_assert_float_eq(image.pixels[1], 200 / 255.0f, 1e-7);
    hop_image_free(&image);
    free(png);
}

Test(cases, png_palette_to_gray)
{
    const unsigned char palette[6] = {100, 100, 100, 7, 7, 7};
    const unsigned char indices[2] = {0, 1};
    size_t length = 0;
    unsigned char *png = png_encode(2, 1, 8, PNG_PALETTE, indices, palette, 2, &length);
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode(png, length, "pal.png", 1, &image, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(image.file_channels, 3);
    cr_assert_float_eq(image.pixels[0], 100 / 255.0f, 1e-7);
    cr_assert_float_eq(image.pixels[1], 7 / 255.0f, 1e-7);
    hop_image_free(&image);
    free(png);
}

Test(cases, mnist_like_gray_image)
{
    unsigned char pixels[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        pixels[i] = (unsigned char)(i % 256);
    size_t length = 0;
    unsigned char *png = png_encode(28, 28, 8, PNG_GRAY, pixels, NULL, 0, &length);
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode(png, length, "digit.png", 1, &image, &err), HOP_OK);
    cr_assert_eq(image.width * image.height * image.channels, 784);
    cr_assert_eq(image.height, 28);
    for (int i = 0; i < 784; i++)
        cr_assert_float_eq(image.pixels[i], (i % 256) / 255.0f, 1e-7);
    hop_image_free(&image);
    free(png);
}

/* ---- Corrupt, truncated or hostile images ---- */

static void assert_image_fails(const char *name, hop_status expected)
{
    char path[256];
    path_in(path, sizeof path, name);
    hop_image image;
    hop_error err = {0};
    hop_status status = hop_image_load(path, 0, &image, &err);
    cr_assert_eq(status, expected, "%s: status %s, message %s", name, hop_status_string(status),
                 err.message);
    cr_assert_null(image.pixels);
    assert_message_has(err, name);
}

Test(cases, truncated_empty_and_text_images)
{
    unsigned char pixels[16 * 16];
    for (int i = 0; i < 256; i++)
        pixels[i] = (unsigned char)(i * 7);
    size_t length = 0;
    unsigned char *png = png_encode(16, 16, 8, PNG_GRAY, pixels, NULL, 0, &length);
    char path[256];
    path_in(path, sizeof path, "half.png");
    fixture_write_file(path, png, length / 2);
    assert_image_fails("half.png", HOP_ERR_PARSE);

    png[length - 20] ^= 0xFF; /* a byte of IDAT or its CRC */
    path_in(path, sizeof path, "crc.png");
    fixture_write_file(path, png, length);
    assert_image_fails("crc.png", HOP_ERR_PARSE);
    free(png);

    path_in(path, sizeof path, "empty.png");
    fixture_write_file(path, "", 0);
    assert_image_fails("empty.png", HOP_ERR_PARSE);

    path_in(path, sizeof path, "text.png");
    fixture_write_file(path, "hello, this is text\n", 20);
    assert_image_fails("text.png", HOP_ERR_PARSE);
}

Test(cases, jpeg_without_scan_rejected)
{
    /* SOI, APP0 (JFIF), DQT, SOF0 declaring 720 x 1480 x 3, and no SOS or entropy data. */
    unsigned char jpeg[256];
    size_t n = 0;
    const unsigned char soi_app0[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F',
                                      0,    1,    1,    0,    0,    1,    0,   1,   0,   0};
    memcpy(jpeg + n, soi_app0, sizeof soi_app0);
    n += sizeof soi_app0;
    const unsigned char dqt[] = {0xFF, 0xDB, 0x00, 0x43, 0x00};
    memcpy(jpeg + n, dqt, sizeof dqt);
    n += sizeof dqt;
    for (int i = 0; i < 64; i++)
        jpeg[n++] = 1;
    const unsigned char sof0[] = {0xFF, 0xC0, 0x00, 0x11, 0x08, 0x05, 0xC8, 0x02, 0xD0, 0x03,
                                  0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00};
    memcpy(jpeg + n, sof0, sizeof sof0);
    n += sizeof sof0;

    char path[256];
    path_in(path, sizeof path, "noscan.jpg");
    fixture_write_file(path, jpeg, n);
    assert_image_fails("noscan.jpg", HOP_ERR_PARSE);
    hop_error err = {0};
    hop_image image;
    hop_image_load(path, 0, &image, &err);
    assert_message_has(err, "no scan data");
}

Test(cases, jpeg_cut_after_scan_rejected)
{
    unsigned char rgb[16 * 16 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++)
        rgb[i] = (unsigned char)(i * 13);
    char path[256];
    path_in(path, sizeof path, "full.jpg");
    cr_assert(stbi_write_jpg(path, 16, 16, 3, rgb, 90));
    size_t length = 0;
    unsigned char *jpeg = fixture_read_file(path, &length);
    path_in(path, sizeof path, "cut.jpg");
    fixture_write_file(path, jpeg, length - 2); /* drop the end-of-image marker */
    free(jpeg);
    assert_image_fails("cut.jpg", HOP_ERR_PARSE);
}

Test(cases, bmp_truncated_pixel_array)
{
    unsigned char rgb[8 * 8 * 3] = {0};
    char path[256];
    path_in(path, sizeof path, "full.bmp");
    cr_assert(stbi_write_bmp(path, 8, 8, 3, rgb));
    size_t length = 0;
    unsigned char *bmp = fixture_read_file(path, &length);
    path_in(path, sizeof path, "cut.bmp");
    fixture_write_file(path, bmp, length - 30);
    free(bmp);
    assert_image_fails("cut.bmp", HOP_ERR_PARSE);
}

Test(cases, huge_png_rejected_before_allocation)
{
    /* IHDR of 23171 x 23171, 16-bit gray, with an empty IDAT: rejected from the header. */
    png_writer png = {0};
    png_put(&png, "\x89PNG\r\n\x1a\n", 8);
    const unsigned char header[13] = {0, 0, 0x5A, 0x83, 0, 0, 0x5A, 0x83, 16, PNG_GRAY, 0, 0, 0};
    png_chunk(&png, "IHDR", header, sizeof header);
    unsigned char packed[16];
    uLongf packed_length = sizeof packed;
    cr_assert_eq(compress(packed, &packed_length, (const unsigned char *)"", 0), Z_OK);
    png_chunk(&png, "IDAT", packed, packed_length);
    png_chunk(&png, "IEND", NULL, 0);

    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode(png.data, png.length, "huge.png", 4, &image, &err), HOP_ERR_DATA,
                 "%s", err.message);
    assert_message_has(err, "huge.png");
    assert_message_has(err, "23171 x 23171");
    cr_assert_null(image.pixels);
    free(png.data);
}

Test(cases, failure_then_success_clears_state)
{
    hop_image image;
    hop_error err = {0};
    cr_assert_eq(hop_image_decode("junk", 4, "junk.png", 0, &image, &err), HOP_ERR_PARSE);
    const unsigned char gray[1] = {99};
    size_t length = 0;
    unsigned char *png = png_encode(1, 1, 8, PNG_GRAY, gray, NULL, 0, &length);
    cr_assert_eq(hop_image_decode(png, length, "ok.png", 0, &image, &err), HOP_OK);
    cr_assert_eq(err.status, HOP_OK);
    cr_assert_str_eq(err.message, "");
    cr_assert_float_eq(image.pixels[0], 99 / 255.0f, 1e-7);
    hop_image_free(&image);
    free(png);
}

/* ---- CSV line ends, trailing delimiters, byte-order mark, final newline ---- */

static void parse_features(const char *text, hop_table *table)
{
    hop_table_options options = hop_table_defaults();
    options.label_column = HOP_TABLE_NO_LABEL;
    hop_error err = {0};
    cr_assert_eq(hop_table_parse(text, strlen(text), "case.csv", &options, table, &err), HOP_OK,
                 "%s", err.message);
}

static void assert_two_by_two(const hop_table *table, const float expected[4])
{
    cr_assert_eq(table->n_rows, 2);
    cr_assert_eq(table->n_features, 2);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(table->features[i], expected[i], 1e-7, "value %d", i);
}

Test(cases, csv_crlf_and_mixed_line_ends)
{
    const float expected[4] = {1.5f, 2.5f, 3.5f, 4.5f};
    hop_table table;
    parse_features("1.5,2.5\r\n3.5,4.5\r\n", &table);
    assert_two_by_two(&table, expected);
    hop_table_free(&table);
    parse_features("1.5,2.5\r\n3.5,4.5\n", &table);
    assert_two_by_two(&table, expected);
    hop_table_free(&table);
}

Test(cases, csv_trailing_delimiter_dropped)
{
    const float expected[4] = {1, 2, 3, 4};
    hop_table table;
    parse_features("1,2,\n3,4,\n", &table);
    assert_two_by_two(&table, expected);
    hop_table_free(&table);

    hop_table_options options = hop_table_defaults();
    options.label_column = HOP_TABLE_NO_LABEL;
    hop_error err = {0};
    const char *uneven = "1,2,\n3,4,5\n";
    cr_assert_eq(hop_table_parse(uneven, strlen(uneven), "case.csv", &options, &table, &err),
                 HOP_ERR_PARSE);
    assert_message_has(err, "case.csv:2");
}

Test(cases, csv_byte_order_mark)
{
    hop_table table;
    parse_features("\xEF\xBB\xBFx,y\n1,2\n", &table);
    cr_assert_str_eq(table.feature_names[0], "x");
    cr_assert_str_eq(table.feature_names[1], "y");
    cr_assert_eq(table.n_rows, 1);
    hop_table_free(&table);
}

Test(cases, csv_final_and_blank_lines)
{
    const float expected[4] = {1, 2, 3, 4};
    hop_table table;
    parse_features("1,2\n3,4", &table);
    assert_two_by_two(&table, expected);
    hop_table_free(&table);
    parse_features("1,2\n3,4\n\n", &table);
    assert_two_by_two(&table, expected);
    hop_table_free(&table);

    /* Policy: a blank line between rows is an error naming it. */
    hop_error err = {0};
    const char *gap = "1,2\n\n3,4\n";
    cr_assert_eq(hop_table_parse(gap, strlen(gap), "case.csv", NULL, &table, &err), HOP_ERR_PARSE);
    assert_message_has(err, "case.csv:2: line is blank");
}

/* ---- gzip members and truncation ---- */

static unsigned char *gzip_bytes(const char *text, size_t *length)
{
    char path[256];
    path_in(path, sizeof path, "member.gz");
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, text, (unsigned)strlen(text)), (int)strlen(text));
    cr_assert_eq(gzclose(gz), Z_OK);
    return fixture_read_file(path, length);
}

Test(cases, gzip_several_members)
{
    size_t a_length, b_length;
    unsigned char *a = gzip_bytes("1,2,0\n", &a_length);
    unsigned char *b = gzip_bytes("3,4,1\n", &b_length);
    unsigned char *both = malloc(a_length + b_length);
    memcpy(both, a, a_length);
    memcpy(both + a_length, b, b_length);

    unsigned char *text = NULL;
    size_t length = 0;
    hop_error err = {0};
    cr_assert_eq(hop_gunzip(both, a_length + b_length, "two.gz", &text, &length, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(length, 12);
    cr_assert_str_eq((char *)text, "1,2,0\n3,4,1\n");
    free(text);
    free(a);
    free(b);
    free(both);
}

Test(cases, gzip_truncation_never_short)
{
    char rows[4096] = "";
    for (int i = 0; i < 200; i++) {
        char row[32];
        snprintf(row, sizeof row, "%d,%d,%d\n", i, i * 3 % 17, i % 2);
        strcat(rows, row);
    }
    size_t length;
    unsigned char *gz = gzip_bytes(rows, &length);
    char path[256];
    path_in(path, sizeof path, "rows.csv.gz");

    /* Cut inside the deflate data and cut only the 8-byte trailer: both must fail. */
    const size_t cuts[2] = {length / 2, length - 4};
    for (int c = 0; c < 2; c++) {
        fixture_write_file(path, gz, cuts[c]);
        hop_table table;
        hop_error err = {0};
        cr_assert_eq(hop_table_load(path, NULL, &table, &err), HOP_ERR_IO, "cut %zu: %s", cuts[c],
                     err.message);
        assert_message_has(err, "rows.csv.gz");
        assert_message_has(err, "truncated");
        cr_assert_null(table.features);
    }

    unsigned char *tail = malloc(length + 3);
    memcpy(tail, gz, length);
    memcpy(tail + length, "xyz", 3);
    unsigned char *text = NULL;
    size_t text_length = 0;
    hop_error err = {0};
    cr_assert_eq(hop_gunzip(tail, length + 3, "tail.gz", &text, &text_length, &err), HOP_ERR_PARSE);
    assert_message_has(err, "3 bytes after gzip member 1");

    gz[length / 2] ^= 0x55;
    hop_status status = hop_gunzip(gz, length, "flip.gz", &text, &text_length, &err);
    cr_assert_neq(status, HOP_OK, "a flipped byte must be reported");
    assert_message_has(err, "flip.gz");
    cr_assert_null(text);

    cr_assert_eq(hop_gunzip("plain", 5, "plain.gz", &text, &text_length, &err), HOP_ERR_PARSE);
    assert_message_has(err, "not gzip data");
    free(tail);
    free(gz);
}

/* ---- Bag balance depends on bag size ---- */

static double positive_share(int bag_size, hop_bag_label_mode mode)
{
    enum { N = 20000 };
    static float features[N];
    static int labels[N];
    for (int i = 0; i < N; i++) {
        features[i] = (float)i;
        labels[i] = i % 10 == 0; /* target share 0.1 */
    }
    hop_class_bag_options options = hop_class_bag_defaults();
    options.n_train_bags = 10000;
    options.n_test_bags = 1;
    options.mean_size = bag_size;
    options.std_size = 0;
    options.target_class = 1;
    options.mode = mode;
    hop_rng rng;
    hop_rng_seed(&rng, (uint64_t)bag_size);
    hop_mil_dataset train, test;
    hop_error err = {0};
    cr_assert_eq(hop_class_bags_make(features, labels, N, 1, &options, &rng, &train, &test, &err),
                 HOP_OK, "%s", err.message);
    int counts[2];
    hop_mil_class_counts(&train, counts);
    hop_mil_free(&train);
    hop_mil_free(&test);
    return counts[1] / 10000.0;
}

Test(cases, natural_bags_positive_share, .timeout = 60)
{
    /* 1 - 0.9^n for n = 10, 50, 100. */
    cr_assert_float_eq(positive_share(10, HOP_BAGS_NATURAL), 0.651322, 0.01);
    cr_assert_float_eq(positive_share(50, HOP_BAGS_NATURAL), 0.994846, 0.01);
    cr_assert_float_eq(positive_share(100, HOP_BAGS_NATURAL), 0.999973, 0.01);
}

Test(cases, balanced_bags_half_positive, .timeout = 60)
{
    const int sizes[3] = {10, 50, 100};
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(positive_share(sizes[i], HOP_BAGS_BALANCED), 0.5, 0.02, "size %d",
                           sizes[i]);
}
