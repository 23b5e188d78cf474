#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hop/loaders.h"
#include "image_fixtures.h"

#define SMALL_DIR HOP_SHARED_DIR "/data/small"

#define assert_message_has(err, text)                                                              \
    cr_assert(strstr((err).message, (text)) != NULL, "message \"%s\" lacks \"%s\"", (err).message, \
              (text))

static hop_status parse(const char *text, const hop_table_options *options, hop_table *table,
                        hop_error *err)
{
    return hop_table_parse(text, strlen(text), "mem.csv", options, table, err);
}

static void assert_fails(const char *text, const hop_table_options *options, hop_status expected,
                         hop_error *err)
{
    hop_table table;
    hop_status status = parse(text, options, &table, err);
    cr_assert_eq(status, expected, "status %s, message: %s", hop_status_string(status),
                 err->message);
    cr_assert_null(table.features);
    cr_assert_eq(table.n_rows, 0);
    assert_message_has(*err, "mem.csv");
}

static void count_labels(const hop_table *table, int *counts, int n_classes)
{
    memset(counts, 0, (size_t)n_classes * sizeof *counts);
    for (int i = 0; i < table->n_rows; i++) {
        cr_assert(table->labels[i] >= 0 && table->labels[i] < n_classes);
        counts[table->labels[i]]++;
    }
}

Test(table, iris_count_header)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load(SMALL_DIR "/iris.csv", NULL, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.n_rows, 150);
    cr_assert_eq(table.n_features, 4);
    cr_assert_eq(table.n_classes, 3);
    cr_assert_str_eq(table.class_names[0], "setosa");
    cr_assert_str_eq(table.class_names[2], "virginica");
    cr_assert_null(table.feature_names);
    int counts[3];
    count_labels(&table, counts, 3);
    cr_assert_eq(counts[0], 50);
    cr_assert_eq(counts[1], 50);
    cr_assert_eq(counts[2], 50);
    /* First row of the file: 5.1,3.5,1.4,0.2,0 */
    cr_assert_float_eq(table.features[0], 5.1f, 1e-6);
    cr_assert_float_eq(table.features[3], 0.2f, 1e-6);
    hop_table_free(&table);
}

Test(table, wine_and_breast_cancer_counts)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load(SMALL_DIR "/wine_data.csv", NULL, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.n_rows, 178);
    cr_assert_eq(table.n_features, 13);
    int wine[3];
    count_labels(&table, wine, 3);
    cr_assert_eq(wine[0], 59);
    cr_assert_eq(wine[1], 71);
    cr_assert_eq(wine[2], 48);
    hop_table_free(&table);

    cr_assert_eq(hop_table_load(SMALL_DIR "/breast_cancer.csv", NULL, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.n_rows, 569);
    cr_assert_eq(table.n_features, 30);
    cr_assert_str_eq(table.class_names[0], "malignant");
    int cancer[2];
    count_labels(&table, cancer, 2);
    cr_assert_eq(cancer[0], 212);
    cr_assert_eq(cancer[1], 357);
    hop_table_free(&table);
}

Test(table, digits_gzip_without_header)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load(SMALL_DIR "/digits.csv.gz", NULL, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.n_rows, 1797);
    cr_assert_eq(table.n_features, 64);
    cr_assert_eq(table.n_classes, 10);
    cr_assert_null(table.class_names);
    int counts[10];
    count_labels(&table, counts, 10);
    const int expected[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
    for (int d = 0; d < 10; d++)
        cr_assert_eq(counts[d], expected[d], "digit %d: %d", d, counts[d]);
    hop_table_free(&table);
}

Test(table, name_header_and_text_labels)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(parse("a,b,kind\n1,2,zebra\n3,4,ant\n5,6,zebra\n", NULL, &table, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(table.n_rows, 3);
    cr_assert_eq(table.n_features, 2);
    cr_assert_str_eq(table.feature_names[0], "a");
    cr_assert_str_eq(table.feature_names[1], "b");
    cr_assert_eq(table.n_classes, 2);
    cr_assert_str_eq(table.class_names[0], "ant");
    cr_assert_str_eq(table.class_names[1], "zebra");
    cr_assert_eq(table.labels[0], 1);
    cr_assert_eq(table.labels[1], 0);
    cr_assert_eq(table.labels[2], 1);
    hop_table_free(&table);
}

Test(table, label_column_by_index_and_name)
{
    hop_table table;
    hop_error err = {0};
    hop_table_options options = hop_table_defaults();
    options.label_column = 0;
    cr_assert_eq(parse("2,1.5,2.5\n0,3.5,4.5\n", &options, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.n_features, 2);
    cr_assert_eq(table.labels[0], 2);
    cr_assert_float_eq(table.features[0], 1.5f, 1e-7);
    cr_assert_float_eq(table.features[3], 4.5f, 1e-7);
    hop_table_free(&table);

    options = hop_table_defaults();
    options.label_name = "y";
    cr_assert_eq(parse("x1,y,x2\n1,0,2\n3,1,4\n", &options, &table, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(table.labels[1], 1);
    cr_assert_float_eq(table.features[1], 2.0f, 1e-7);
    cr_assert_str_eq(table.feature_names[1], "x2");
    hop_table_free(&table);

    options.label_name = "missing";
    assert_fails("x1,y\n1,0\n", &options, HOP_ERR_ARG, &err);
    assert_message_has(err, "missing");
}

Test(table, no_label_column)
{
    hop_table table;
    hop_error err = {0};
    hop_table_options options = hop_table_defaults();
    options.label_column = HOP_TABLE_NO_LABEL;
    cr_assert_eq(parse("1,2,3\n4,5,6\n", &options, &table, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(table.n_features, 3);
    cr_assert_null(table.labels);
    cr_assert_float_eq(table.features[5], 6.0f, 1e-7);
    hop_table_free(&table);
}

Test(table, quoted_fields)
{
    hop_table table;
    hop_error err = {0};
    const char *text = "\"x, first\",\"say \"\"hi\"\"\",\"multi\nline\"\n"
                       "\"1.5\", 2 ,\"cat\"\r\n3,4,\"dog\"\n";
    cr_assert_eq(parse(text, NULL, &table, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(table.n_rows, 2);
    cr_assert_str_eq(table.feature_names[0], "x, first");
    cr_assert_str_eq(table.feature_names[1], "say \"hi\"");
    cr_assert_float_eq(table.features[0], 1.5f, 1e-7);
    cr_assert_float_eq(table.features[1], 2.0f, 1e-7);
    cr_assert_str_eq(table.class_names[0], "cat");
    hop_table_free(&table);
}

Test(table, quote_errors_name_the_line)
{
    hop_error err = {0};
    assert_fails("a,b\n1,2\n3,\"4\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:3");
    assert_message_has(err, "never closed");

    assert_fails("a,b\n1,\"2\"x\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2");

    assert_fails("a,b\n1,2\"\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "quote inside");
}

Test(table, forced_header_modes)
{
    hop_table table;
    hop_error err = {0};
    hop_table_options options = hop_table_defaults();
    options.header = HOP_HEADER_NAMES;
    cr_assert_eq(parse("1,2\n3,0\n", &options, &table, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(table.n_rows, 1);
    cr_assert_str_eq(table.feature_names[0], "1");
    hop_table_free(&table);

    options.header = HOP_HEADER_NONE;
    assert_fails("x,y\n1,0\n", &options, HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1");
    assert_message_has(err, "\"x\" is not a number");

    options.header = HOP_HEADER_COUNTS;
    assert_fails("x,y\n1,0\n", &options, HOP_ERR_PARSE, &err);
    assert_message_has(err, "count header");
}

Test(table, count_header_disagreements)
{
    hop_error err = {0};
    assert_fails("3,2,a,b\n1,2,0\n3,4,1\n", NULL, HOP_ERR_DATA, &err);
    assert_message_has(err, "declares 3 rows but the file has 2");

    assert_fails("2,2,a,b\n1,2,0\n3,4,2\n", NULL, HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:3");
    assert_message_has(err, "label 2 is out of range");

    hop_table_options options = hop_table_defaults();
    options.header = HOP_HEADER_COUNTS;
    assert_fails("2,3,a,b\n1,2,0\n3,4,1\n", &options, HOP_ERR_DATA, &err);
    assert_message_has(err, "declares 3 features");
}

Test(table, count_header_then_names)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(parse("2,2,no,yes\nf1,f2,target\n1,2,0\n3,4,1\n", NULL, &table, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(table.n_rows, 2);
    cr_assert_str_eq(table.feature_names[1], "f2");
    cr_assert_str_eq(table.class_names[1], "yes");
    hop_table_free(&table);
}

Test(table, malformed_rows_name_line_and_column)
{
    hop_error err = {0};
    assert_fails("1,2,0\n3,4\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2");
    assert_message_has(err, "2 columns");

    assert_fails("1,2,0\n3,abc,1\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2: column 2");

    assert_fails("1,2,0\n3,,1\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "empty");

    assert_fails("1,nan,0\n", NULL, HOP_ERR_NUMERIC, &err);
    assert_fails("1,1e39,0\n", NULL, HOP_ERR_NUMERIC, &err);

    assert_fails("1,2,-1\n", NULL, HOP_ERR_DATA, &err);
    assert_message_has(err, "non-negative integer");
    assert_fails("1,2,0\n1,2,0.5\n", NULL, HOP_ERR_DATA, &err);

    assert_fails("", NULL, HOP_ERR_DATA, &err);
    assert_fails("a,b\n", NULL, HOP_ERR_DATA, &err);
    assert_message_has(err, "no data rows");

    const char nul[] = "1,2,0\n3,\0,1\n";
    hop_table table;
    cr_assert_eq(hop_table_parse(nul, sizeof nul - 1, "mem.csv", NULL, &table, &err),
                 HOP_ERR_PARSE);
    assert_message_has(err, "NUL");

    assert_fails("1,2,0\r3,4,1\n", NULL, HOP_ERR_PARSE, &err);
    assert_message_has(err, "carriage return");
}

static void write_gzip_members(const char *path, const char *const *parts, int n_parts)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file);
    for (int i = 0; i < n_parts; i++) {
        char temp[] = "/tmp/hop_member_XXXXXX";
        int fd = mkstemp(temp);
        cr_assert_geq(fd, 0);
        close(fd);
        gzFile gz = gzopen(temp, "wb");
        cr_assert_not_null(gz);
        cr_assert_eq(gzwrite(gz, parts[i], (unsigned)strlen(parts[i])), (int)strlen(parts[i]));
        cr_assert_eq(gzclose(gz), Z_OK);
        size_t length = 0;
        unsigned char *member = fixture_read_file(temp, &length);
        cr_assert_eq(fwrite(member, 1, length, file), length);
        free(member);
        unlink(temp);
    }
    cr_assert_eq(fclose(file), 0);
}

Test(table, gzip_of_several_members)
{
    char dir[64], path[128];
    fixture_make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/two.csv.gz", dir);
    const char *parts[] = {"x,y,label\n1,2,0\n", "3,4,1\n5,6,0\n"};
    write_gzip_members(path, parts, 2);

    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load(path, NULL, &table, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(table.n_rows, 3);
    cr_assert_float_eq(table.features[4], 5.0f, 1e-7);
    hop_table_free(&table);
    fixture_remove_tree(dir);
}

Test(table, missing_file_names_path)
{
    hop_table table;
    hop_error err = {0};
    cr_assert_eq(hop_table_load("/nonexistent/hop.csv", NULL, &table, &err), HOP_ERR_IO);
    assert_message_has(err, "/nonexistent/hop.csv");
}
