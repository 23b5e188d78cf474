#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "hop/data.h"

#define MIL_DIR HOP_SHARED_DIR "/data/mil"

#define assert_message_has(err, text)                                                              \
    cr_assert(strstr((err).message, (text)) != NULL, "message \"%s\" lacks \"%s\"", (err).message, \
              (text))

static hop_status parse_text(const char *text, hop_mil_dataset *dataset, hop_error *err)
{
    return hop_mil_parse(text, strlen(text), "mem.csv", dataset, err);
}

static void assert_parse_fails(const char *text, hop_status expected, hop_error *err)
{
    hop_mil_dataset dataset;
    hop_status status = parse_text(text, &dataset, err);
    cr_assert_eq(status, expected, "status %s, message: %s", hop_status_string(status),
                 err->message);
    cr_assert_null(dataset.features);
    cr_assert_eq(dataset.n_bags, 0);
}

/* Temporary directory for file tests, removed with its files by remove_temp_dir. */
static char temp_dir[64];

static void make_temp_dir(void)
{
    strcpy(temp_dir, "/tmp/hop_test_data_XXXXXX");
    cr_assert_not_null(mkdtemp(temp_dir));
}

static void temp_path(const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", temp_dir, name);
}

static void remove_temp_dir(const char *const *names, int count)
{
    char path[128];
    for (int i = 0; i < count; i++) {
        temp_path(names[i], path, sizeof path);
        unlink(path);
        rmdir(path);
    }
    cr_assert_eq(rmdir(temp_dir), 0, "cannot remove %s", temp_dir);
}

static void write_file(const char *path, const void *data, size_t length)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, length, file), length);
    cr_assert_eq(fclose(file), 0);
}

static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file, "cannot open %s", path);
    cr_assert_eq(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    cr_assert_geq(size, 0);
    rewind(file);
    char *data = malloc((size_t)size + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    *length = (size_t)size;
    return data;
}

static void write_gzip(const char *path, const char *data, size_t length)
{
    gzFile file = gzopen(path, "wb");
    cr_assert_not_null(file, "cannot create %s", path);
    cr_assert_eq(gzwrite(file, data, (unsigned)length), (int)length);
    cr_assert_eq(gzclose(file), Z_OK);
}

static void assert_same_dataset(const hop_mil_dataset *a, const hop_mil_dataset *b)
{
    cr_assert_eq(a->n_bags, b->n_bags);
    cr_assert_eq(a->n_instances, b->n_instances);
    cr_assert_eq(a->dim, b->dim);
    cr_assert_arr_eq(a->bag_start, b->bag_start, ((size_t)a->n_bags + 1) * sizeof(int));
    cr_assert_arr_eq(a->labels, b->labels, (size_t)a->n_bags * sizeof(int));
    cr_assert_arr_eq(a->features, b->features,
                     (size_t)a->n_instances * (size_t)a->dim * sizeof(float));
}

static int positive_bags(const hop_mil_dataset *dataset)
{
    int counts[2];
    hop_mil_class_counts(dataset, counts);
    return counts[1];
}

/* ---- parsing the derived CSV and Musk formats from memory ---- */

static const char *small_csv = "1,1,0.5,2\n"
                               "1,1,1.5,-3e-1\n"
                               "0,2,4,5\n"
                               "0,3,1,1\n";

Test(mil_parse, csv_bags_and_features)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text(small_csv, &d, &err), HOP_OK, "%s", err.message);

    cr_assert_eq(d.n_bags, 3);
    cr_assert_eq(d.n_instances, 4);
    cr_assert_eq(d.dim, 2);
    int starts[] = {0, 2, 3, 4};
    cr_assert_arr_eq(d.bag_start, starts, sizeof starts);
    int labels[] = {1, 0, 0};
    cr_assert_arr_eq(d.labels, labels, sizeof labels);
    cr_assert_str_eq(d.bag_names[0], "1");
    cr_assert_str_eq(d.bag_names[2], "3");
    cr_assert_float_eq(d.features[0], 0.5f, 0);
    cr_assert_float_eq(d.features[3], -0.3f, 1e-7);
    cr_assert_float_eq(d.features[4], 4.0f, 0);
    cr_assert_null(d.instance_labels);
    cr_assert_str_eq(d.source, "mem.csv");
    hop_mil_free(&d);
    cr_assert_null(d.features);
}

Test(mil_parse, musk_format_detected)
{
    const char *text = "MUSK-1,1_1,1,2,1.\n"
                       "MUSK-1,1_2,3,4,1.\n"
                       "NON-MUSK-a,a_1,5,6,0.\n"
                       "NON-MUSK-b,b_1,7,8,0\n";
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text(text, &d, &err), HOP_OK, "%s", err.message);

    cr_assert_eq(d.n_bags, 3);
    cr_assert_eq(d.dim, 2);
    cr_assert_eq(d.n_instances, 4);
    cr_assert_str_eq(d.bag_names[0], "MUSK-1");
    cr_assert_str_eq(d.bag_names[1], "NON-MUSK-a");
    cr_assert_eq(d.labels[0], 1);
    cr_assert_eq(d.labels[1], 0);
    cr_assert_float_eq(d.features[2], 3.0f, 0);
    cr_assert_float_eq(d.features[7], 8.0f, 0);
    hop_mil_free(&d);
}

Test(mil_parse, header_row_is_named)
{
    hop_error err;
    assert_parse_fails("bag_label,bag_id,f1,f2\n1,1,0.5,2\n0,2,4,5\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "looks like a header row");
    assert_message_has(err, "\"f1\"");
    assert_message_has(err, "remove it");
}

Test(mil_parse, musk_header_row_is_named)
{
    hop_error err;
    assert_parse_fails("molecule,conformation,a,b,class\nMUSK-1,1_1,1,2,1.\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "looks like a header row");
}

Test(mil_parse, byte_order_mark_skipped)
{
    char text[128];
    snprintf(text, sizeof text, "\xEF\xBB\xBF%s", small_csv);
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text(text, &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 3);
    cr_assert_eq(d.dim, 2);
    cr_assert_eq(d.labels[0], 1);
    cr_assert_float_eq(d.features[0], 0.5f, 0);
    hop_mil_free(&d);
}

Test(mil_parse, byte_order_mark_musk)
{
    hop_mil_dataset d;
    hop_error err;
    const char *text = "\xEF\xBB\xBFMUSK-1,1_1,-0.765,2,1.\nNON-MUSK-a,a_1,5,6,0.\n";
    cr_assert_eq(parse_text(text, &d, &err), HOP_OK, "%s", err.message);
    cr_assert_str_eq(d.bag_names[0], "MUSK-1");
    cr_assert_eq(d.dim, 2);
    hop_mil_free(&d);
}

Test(mil_parse, sequence_tsv_is_not_a_bag_file)
{
    hop_error err;
    assert_parse_fails("bag1\t1\tCASSLG\nbag1\t1\tCASSQE\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "does not look like a MIL bag file");
    assert_message_has(err, "--sequences");
}

Test(mil_parse, crlf_matches_lf)
{
    const char *crlf = "1,1,0.5,2\r\n1,1,1.5,-3e-1\r\n0,2,4,5\r\n0,3,1,1\r\n";
    hop_mil_dataset lf, dos;
    hop_error err;
    cr_assert_eq(parse_text(small_csv, &lf, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(parse_text(crlf, &dos, &err), HOP_OK, "%s", err.message);
    assert_same_dataset(&lf, &dos);
    cr_assert_str_eq(dos.bag_names[2], "3");
    hop_mil_free(&lf);
    hop_mil_free(&dos);
}

Test(mil_parse, last_line_without_newline)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text("1,1,1,2\n0,2,3,4", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_instances, 2);
    cr_assert_float_eq(d.features[3], 4.0f, 0);
    hop_mil_free(&d);
}

Test(mil_parse, trailing_blank_lines_skipped)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text("1,1,1,2\n0,2,3,4\n\n\r\n  \n", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_instances, 2);
    cr_assert_eq(d.n_bags, 2);
    hop_mil_free(&d);
}

Test(mil_parse, spaces_around_fields)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text(" 1 , b7 ,\t0.25 , 2\n", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_str_eq(d.bag_names[0], "b7");
    cr_assert_float_eq(d.features[0], 0.25f, 0);
    hop_mil_free(&d);
}

Test(mil_parse, blank_line_before_data)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n\n0,2,3,4\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "blank");
    assert_message_has(err, "line 3");
}

Test(mil_parse, empty_buffer)
{
    hop_error err;
    assert_parse_fails("", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv");
    assert_message_has(err, "empty");
}

Test(mil_parse, only_blank_lines)
{
    hop_error err;
    assert_parse_fails("\n \r\n\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "empty or blank");
}

Test(mil_parse, ragged_row)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,1,1,2\n1,1,1\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:3:");
    assert_message_has(err, "expected 4 fields");
    assert_message_has(err, "found 3");
}

Test(mil_parse, trailing_comma_is_ragged)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,1,1,2,\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "found 5");
}

Test(mil_parse, non_numeric_feature)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,1,1,abc\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 4 (feature 2)");
    assert_message_has(err, "\"abc\"");
}

Test(mil_parse, number_with_trailing_text)
{
    hop_error err;
    assert_parse_fails("1,1,1.5x,2\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "\"1.5x\"");
}

Test(mil_parse, long_field_shortened)
{
    char text[256] = "1,1,";
    memset(text + 4, 'z', 200);
    strcpy(text + 204, "\n");
    hop_error err;
    assert_parse_fails(text, HOP_ERR_PARSE, &err);
    assert_message_has(err, "column 3 (feature 1)");
    assert_message_has(err, "zzz...\"");
}

Test(mil_parse, empty_feature)
{
    hop_error err;
    assert_parse_fails("1,1,,2\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "column 3 (feature 1) is empty");
}

Test(mil_parse, nan_feature)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,1,nan,2\n", HOP_ERR_NUMERIC, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 3 (feature 1)");
    assert_message_has(err, "\"nan\"");
}

Test(mil_parse, infinite_features)
{
    const char *cases[] = {"1,1,inf,2\n", "1,1,-Infinity,2\n", "1,1,1e999,2\n", "1,1,1e39,2\n"};
    const char *values[] = {"\"inf\"", "\"-Infinity\"", "\"1e999\"", "\"1e39\""};
    for (int i = 0; i < 4; i++) {
        hop_error err;
        assert_parse_fails(cases[i], HOP_ERR_NUMERIC, &err);
        assert_message_has(err, "mem.csv:1:");
        assert_message_has(err, values[i]);
        assert_message_has(err, "not a finite float");
    }
}

Test(mil_parse, bag_label_not_binary)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n2,2,1,2\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 1 (bag label)");
    assert_message_has(err, "\"2\"");
    assert_message_has(err, "use 0 (negative) or 1 (positive)");
}

Test(mil_parse, fractional_bag_label)
{
    hop_error err;
    assert_parse_fails("0.5,1,1,2\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "\"0.5\"");
}

Test(mil_parse, bag_label_missing)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n,1,1,2\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 1 (bag label) is missing");
}

Test(mil_parse, musk_class_missing)
{
    hop_error err;
    assert_parse_fails("M-1,c1,1,2,1.\nM-1,c2,1,2,\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 5 (class) is missing");
}

Test(mil_parse, musk_class_not_binary)
{
    hop_error err;
    assert_parse_fails("M-1,c1,1,2,3.\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "column 5 (class)");
    assert_message_has(err, "\"3.\"");
}

Test(mil_parse, first_field_empty)
{
    hop_error err;
    assert_parse_fails(",1,1,2\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "column 1 is empty");
}

Test(mil_parse, bag_id_missing)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,,1,2\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "column 2 (bag id) is missing");
}

Test(mil_parse, no_feature_columns)
{
    hop_error err;
    assert_parse_fails("1,1\n", HOP_ERR_PARSE, &err);
    assert_message_has(err, "mem.csv:1:");
    assert_message_has(err, "at least one feature");
}

Test(mil_parse, mixed_labels_in_bag)
{
    hop_error err;
    assert_parse_fails("0,6,1,2\n1,7,1,2\n1,7,1,2\n0,7,1,2\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:4:");
    assert_message_has(err, "bag \"7\"");
    assert_message_has(err, "label 0 here");
    assert_message_has(err, "label 1 on line 2");
}

Test(mil_parse, bag_not_consecutive)
{
    hop_error err;
    assert_parse_fails("1,1,1,2\n1,1,1,2\n0,2,1,2\n1,1,1,2\n", HOP_ERR_DATA, &err);
    assert_message_has(err, "mem.csv:4:");
    assert_message_has(err, "bag \"1\" appears again");
    assert_message_has(err, "after bag \"2\" started on line 3");
    assert_message_has(err, "lines 1 to 2");
}

Test(mil_parse, nul_byte_rejected)
{
    const char text[] = "1,1,1,2\n1,1,1\0,2\n";
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_parse(text, sizeof text - 1, "mem.csv", &d, &err), HOP_ERR_PARSE);
    assert_message_has(err, "mem.csv:2:");
    assert_message_has(err, "NUL byte");
}

Test(mil_parse, buffer_length_respected)
{
    /* Only the first line lies inside the given length. */
    const char *text = "1,1,1,2\n0,2,garbage";
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_parse(text, 8, "mem.csv", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_instances, 1);
    hop_mil_free(&d);
}

Test(mil_parse, many_bags_indexed)
{
    /* Enough bags to make the name index grow several times. */
    size_t capacity = 5000 * 16;
    char *text = malloc(capacity);
    cr_assert_not_null(text);
    size_t length = 0;
    for (int b = 0; b < 5000; b++)
        length += (size_t)snprintf(text + length, capacity - length, "%d,b%d,%d\n", b % 2, b, b);
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_parse(text, length, "many.csv", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 5000);
    cr_assert_str_eq(d.bag_names[4999], "b4999");
    cr_assert_float_eq(d.features[4999], 4999.0f, 0);
    hop_mil_free(&d);

    length += (size_t)snprintf(text + length, capacity - length, "1,b1234,0\n");
    cr_assert_eq(hop_mil_parse(text, length, "many.csv", &d, &err), HOP_ERR_DATA);
    assert_message_has(err, "many.csv:5001:");
    assert_message_has(err, "bag \"b1234\" appears again");
    free(text);
}

/* ---- loading files ---- */

Test(mil_load, plain_file)
{
    make_temp_dir();
    char path[128];
    temp_path("small.csv", path, sizeof path);
    write_file(path, small_csv, strlen(small_csv));

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 3);
    cr_assert_str_eq(d.source, path);
    hop_mil_free(&d);
    remove_temp_dir((const char *[]){"small.csv"}, 1);
}

Test(mil_load, missing_file)
{
    make_temp_dir();
    char path[128];
    temp_path("missing.csv", path, sizeof path);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_ERR_IO);
    assert_message_has(err, path);
    assert_message_has(err, "No such file");
    cr_assert_null(d.features);
    remove_temp_dir(NULL, 0);
}

Test(mil_load, directory_unreadable)
{
    make_temp_dir();
    char path[128];
    temp_path("folder.csv", path, sizeof path);
    cr_assert_eq(mkdir(path, 0700), 0);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_ERR_IO, "%s", err.message);
    assert_message_has(err, "cannot read");
    assert_message_has(err, path);
    remove_temp_dir((const char *[]){"folder.csv"}, 1);
}

Test(mil_load, directory_unreadable_gz)
{
    make_temp_dir();
    char path[128];
    temp_path("folder.csv.gz", path, sizeof path);
    cr_assert_eq(mkdir(path, 0700), 0);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_ERR_IO, "%s", err.message);
    assert_message_has(err, path);
    remove_temp_dir((const char *[]){"folder.csv.gz"}, 1);
}

Test(mil_load, empty_file)
{
    make_temp_dir();
    char path[128];
    temp_path("empty.csv", path, sizeof path);
    write_file(path, "", 0);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_ERR_DATA);
    assert_message_has(err, path);
    assert_message_has(err, "file is empty");
    remove_temp_dir((const char *[]){"empty.csv"}, 1);
}

Test(mil_load, parse_error_names_file)
{
    make_temp_dir();
    char path[128];
    temp_path("bad.csv", path, sizeof path);
    write_file(path, "1,1,1,2\n1,1,x,2\n", 16);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(path, &d, &err), HOP_ERR_PARSE);
    char location[160];
    snprintf(location, sizeof location, "%s:2:", path);
    assert_message_has(err, location);
    remove_temp_dir((const char *[]){"bad.csv"}, 1);
}

Test(mil_load, gzip_round_trip)
{
    size_t length = 0;
    char *text = read_file(MIL_DIR "/musk1/musk1.csv", &length);
    make_temp_dir();
    char path[128];
    temp_path("musk1.csv.gz", path, sizeof path);
    write_gzip(path, text, length);

    hop_mil_dataset plain, packed;
    hop_error err;
    cr_assert_eq(hop_mil_parse(text, length, "musk1.csv", &plain, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_load(path, &packed, &err), HOP_OK, "%s", err.message);
    assert_same_dataset(&plain, &packed);
    cr_assert_str_eq(packed.source, path);

    hop_mil_free(&plain);
    hop_mil_free(&packed);
    free(text);
    remove_temp_dir((const char *[]){"musk1.csv.gz"}, 1);
}

Test(mil_load, truncated_gzip)
{
    size_t length = 0;
    char *text = read_file(MIL_DIR "/musk1/musk1.csv", &length);
    make_temp_dir();
    char full[128], cut[128];
    temp_path("full.csv.gz", full, sizeof full);
    temp_path("cut.csv.gz", cut, sizeof cut);
    write_gzip(full, text, length);

    size_t packed_length = 0;
    char *packed = read_file(full, &packed_length);
    write_file(cut, packed, packed_length / 2);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(cut, &d, &err), HOP_ERR_IO, "%s", err.message);
    assert_message_has(err, cut);
    assert_message_has(err, "gzip data is truncated");
    cr_assert_null(d.features);

    free(packed);
    free(text);
    remove_temp_dir((const char *[]){"full.csv.gz", "cut.csv.gz"}, 2);
}

Test(mil_load, gzip_missing_trailer)
{
    /* Losing only the 8-byte CRC and length trailer must still be detected. */
    make_temp_dir();
    char full[128], cut[128];
    temp_path("full.csv.gz", full, sizeof full);
    temp_path("cut.csv.gz", cut, sizeof cut);
    write_gzip(full, small_csv, strlen(small_csv));

    size_t packed_length = 0;
    char *packed = read_file(full, &packed_length);
    write_file(cut, packed, packed_length - 4);

    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(cut, &d, &err), HOP_ERR_IO, "%s", err.message);
    assert_message_has(err, "gzip data is truncated");

    free(packed);
    remove_temp_dir((const char *[]){"full.csv.gz", "cut.csv.gz"}, 2);
}

/* ---- the shared benchmark files ---- */

Test(mil_files, musk1_csv)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(MIL_DIR "/musk1/musk1.csv", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 92);
    cr_assert_eq(positive_bags(&d), 47);
    cr_assert_eq(d.n_instances, 476);
    cr_assert_eq(d.dim, 166);
    cr_assert_float_eq(d.features[0], 42.0f, 0);
    cr_assert_float_eq(d.features[1], -198.0f, 0);
    cr_assert_eq(hop_mil_validate(&d, &err), HOP_OK, "%s", err.message);
    hop_mil_free(&d);
}

Test(mil_files, clean1_matches_musk1_csv)
{
    hop_mil_dataset csv, uci;
    hop_error err;
    cr_assert_eq(hop_mil_load(MIL_DIR "/musk1/musk1.csv", &csv, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_load(MIL_DIR "/musk1/clean1.data", &uci, &err), HOP_OK, "%s", err.message);
    assert_same_dataset(&csv, &uci);
    cr_assert_str_eq(uci.bag_names[0], "MUSK-188");
    cr_assert_str_eq(csv.bag_names[0], "1");
    hop_mil_free(&csv);
    hop_mil_free(&uci);
}

Test(mil_files, musk2_csv)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(MIL_DIR "/musk2/musk2.csv", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 102);
    cr_assert_eq(positive_bags(&d), 39);
    cr_assert_eq(d.n_instances, 6598);
    cr_assert_eq(d.dim, 166);
    hop_mil_free(&d);
}

Test(mil_files, fox_csv)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_load(MIL_DIR "/fox/fox.csv", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n_bags, 200);
    cr_assert_eq(positive_bags(&d), 100);
    cr_assert_eq(d.n_instances, 1320);
    cr_assert_eq(d.dim, 230);
    hop_mil_free(&d);
}

/* ---- building, copying and validating datasets ---- */

static const float grid[] = {1, 10, 3, 10, 100, 10, 7, 7, 8, 8};

Test(mil_build, from_arrays_copies)
{
    int sizes[] = {2, 1, 2};
    int labels[] = {1, 0, 1};
    const char *names[] = {"a", NULL, "c"};
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(3, 2, grid, sizes, labels, names, NULL, "grid", &d, &err),
                 HOP_OK, "%s", err.message);
    int starts[] = {0, 2, 3, 5};
    cr_assert_arr_eq(d.bag_start, starts, sizeof starts);
    cr_assert_arr_eq(d.features, grid, sizeof grid);
    cr_assert_neq(d.features, grid);
    cr_assert_str_eq(d.bag_names[0], "a");
    cr_assert_str_eq(d.bag_names[1], "2");
    cr_assert_str_eq(d.source, "grid");
    hop_mil_free(&d);
}

Test(mil_build, empty_bag_rejected)
{
    int sizes[] = {2, 0, 3};
    int labels[] = {1, 0, 1};
    const char *names[] = {"a", "hollow", "c"};
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(3, 2, grid, sizes, labels, names, NULL, "grid", &d, &err),
                 HOP_ERR_DATA);
    assert_message_has(err, "bag \"hollow\" (index 1) has 0 instances");
    cr_assert_null(d.features);
}

Test(mil_build, bad_label_rejected)
{
    int sizes[] = {2, 3};
    int labels[] = {1, -1};
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(2, 2, grid, sizes, labels, NULL, NULL, NULL, &d, &err),
                 HOP_ERR_DATA);
    assert_message_has(err, "bag \"2\" (index 1) has label -1");
}

Test(mil_build, nan_feature_rejected)
{
    float features[] = {1, 2, NAN, 4};
    int sizes[] = {2};
    int labels[] = {1};
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(1, 2, features, sizes, labels, NULL, NULL, "x", &d, &err),
                 HOP_ERR_NUMERIC);
    assert_message_has(err, "instance 1, feature 0");
}

Test(mil_build, subset_selects_bags)
{
    int sizes[] = {2, 1, 2};
    int labels[] = {1, 0, 1};
    int instance_labels[] = {0, 1, 0, 1, 1};
    const char *names[] = {"a", "b", "c"};
    hop_mil_dataset d, s;
    hop_error err;
    cr_assert_eq(
        hop_mil_from_arrays(3, 2, grid, sizes, labels, names, instance_labels, "grid", &d, &err),
        HOP_OK, "%s", err.message);
    int picked[] = {2, 1};
    cr_assert_eq(hop_mil_subset(&d, picked, 2, &s, &err), HOP_OK, "%s", err.message);

    cr_assert_eq(s.n_bags, 2);
    cr_assert_eq(s.n_instances, 3);
    int starts[] = {0, 2, 3};
    cr_assert_arr_eq(s.bag_start, starts, sizeof starts);
    float features[] = {7, 7, 8, 8, 100, 10};
    cr_assert_arr_eq(s.features, features, sizeof features);
    int sub_instance_labels[] = {1, 1, 0};
    cr_assert_arr_eq(s.instance_labels, sub_instance_labels, sizeof sub_instance_labels);
    cr_assert_str_eq(s.bag_names[0], "c");
    cr_assert_eq(s.labels[1], 0);
    hop_mil_free(&d);
    hop_mil_free(&s);
}

Test(mil_build, subset_index_out_of_range)
{
    hop_mil_dataset d, s;
    hop_error err;
    cr_assert_eq(parse_text(small_csv, &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_subset(&d, (int[]){0, 3}, 2, &s, &err), HOP_ERR_ARG);
    assert_message_has(err, "bag index 3 (selection entry 1) is out of range");
    cr_assert_eq(hop_mil_subset(&d, (int[]){0}, 0, &s, &err), HOP_ERR_ARG);
    hop_mil_free(&d);
}

/* A dataset assembled by hand whose middle bag has no instances. */
static void make_hollow_dataset(hop_mil_dataset *d, int *starts, int *labels, char **names)
{
    memset(d, 0, sizeof *d);
    d->n_bags = 3;
    d->n_instances = 4;
    d->dim = 2;
    d->features = (float *)grid;
    d->bag_start = starts;
    d->labels = labels;
    d->bag_names = names;
    d->source = "hand";
}

Test(mil_build, subset_of_empty_bag)
{
    int starts[] = {0, 2, 2, 4};
    int labels[] = {1, 0, 1};
    char *names[] = {"a", "hollow", "c"};
    hop_mil_dataset d, s;
    make_hollow_dataset(&d, starts, labels, names);
    hop_error err;
    cr_assert_eq(hop_mil_subset(&d, (int[]){0, 1}, 2, &s, &err), HOP_ERR_DATA);
    assert_message_has(err, "bag \"hollow\" (index 1) is empty");
    cr_assert_null(s.features);
}

Test(mil_validate, empty_bag)
{
    int starts[] = {0, 2, 2, 4};
    int labels[] = {1, 0, 1};
    char *names[] = {"a", "hollow", "c"};
    hop_mil_dataset d;
    make_hollow_dataset(&d, starts, labels, names);
    hop_error err;
    cr_assert_eq(hop_mil_validate(&d, &err), HOP_ERR_DATA);
    assert_message_has(err, "bag \"hollow\" (index 1) is empty");
}

Test(mil_validate, single_class)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text("1,1,1\n1,2,2\n1,3,3\n", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_validate(&d, &err), HOP_ERR_DATA);
    assert_message_has(err, "0 negative and 3 positive bags");
    assert_message_has(err, "at least 2 bags of each class");
    hop_mil_free(&d);
}

Test(mil_validate, one_bag_of_a_class)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text("1,1,1\n1,2,2\n0,3,3\n", &d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_validate(&d, &err), HOP_ERR_DATA);
    assert_message_has(err, "1 negative and 2 positive bags");
    hop_mil_free(&d);
}

Test(mil_validate, balanced_dataset_passes)
{
    hop_mil_dataset d;
    hop_error err;
    cr_assert_eq(parse_text("1,1,1\n1,2,2\n0,3,3\n0,4,4\n0,4,5\n", &d, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(hop_mil_validate(&d, &err), HOP_OK, "%s", err.message);
    hop_mil_free(&d);
}

/* ---- standardisation ---- */

static void make_grid_dataset(hop_mil_dataset *d)
{
    /* Bag 0: (1, 10), (3, 10). Bag 1: (100, 10). Bag 2: (7, 7), (8, 8). */
    int sizes[] = {2, 1, 2};
    int labels[] = {1, 0, 1};
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(3, 2, grid, sizes, labels, NULL, NULL, "grid", d, &err),
                 HOP_OK, "%s", err.message);
}

Test(standardizer, fit_uses_only_given_bags)
{
    hop_mil_dataset d;
    make_grid_dataset(&d);
    hop_standardizer s = {0};
    hop_error err;
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){0}, 1, &err), HOP_OK, "%s", err.message);

    /* Bag 1 contains the outlier 100, and fitting on bag 0 alone must ignore it. */
    cr_assert_float_eq(s.mean[0], 2.0, 1e-12);
    cr_assert_float_eq(s.std[0], 1.0, 1e-12);
    cr_assert_float_eq(s.mean[1], 10.0, 1e-12);
    cr_assert_float_eq(s.std[1], 1.0, 0, "a constant feature gets std 1");

    cr_assert_eq(hop_standardizer_apply(&s, &d, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(d.features[0], -1.0f, 1e-6);
    cr_assert_float_eq(d.features[2], 1.0f, 1e-6);
    cr_assert_float_eq(d.features[4], 98.0f, 1e-5);
    cr_assert_float_eq(d.features[5], 0.0f, 1e-6);
    cr_assert_float_eq(d.features[7], -3.0f, 1e-6);
    hop_standardizer_free(&s);
    hop_mil_free(&d);
}

Test(standardizer, fit_on_two_bags)
{
    hop_mil_dataset d;
    make_grid_dataset(&d);
    hop_standardizer s = {0};
    hop_error err;
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){0, 2}, 2, &err), HOP_OK, "%s", err.message);
    /* Feature 0 over 1, 3, 7, 8: mean 4.75, population variance 32.75 / 4. */
    cr_assert_float_eq(s.mean[0], 4.75, 1e-12);
    cr_assert_float_eq(s.std[0], sqrt(32.75 / 4), 1e-12);
    /* Feature 1 over 10, 10, 7, 8: mean 8.75, variance 6.75 / 4. */
    cr_assert_float_eq(s.mean[1], 8.75, 1e-12);
    cr_assert_float_eq(s.std[1], sqrt(6.75 / 4), 1e-12);

    /* Refitting reuses the struct. */
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){1}, 1, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(s.mean[0], 100.0, 0);
    cr_assert_float_eq(s.std[0], 1.0, 0);
    hop_standardizer_free(&s);
    hop_mil_free(&d);
}

Test(standardizer, bad_selection)
{
    hop_mil_dataset d;
    make_grid_dataset(&d);
    hop_standardizer s = {0};
    hop_error err;
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){0, 5}, 2, &err), HOP_ERR_ARG);
    assert_message_has(err, "bag index 5 (entry 1) is out of range");
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){0}, 0, &err), HOP_ERR_ARG);
    assert_message_has(err, "at least one bag");
    cr_assert_null(s.mean);
    hop_mil_free(&d);
}

Test(standardizer, dimension_mismatch)
{
    hop_mil_dataset d, other;
    make_grid_dataset(&d);
    hop_error err;
    cr_assert_eq(parse_text("1,1,1,2,3\n", &other, &err), HOP_OK, "%s", err.message);
    hop_standardizer s = {0};
    cr_assert_eq(hop_standardizer_fit(&s, &d, (int[]){0}, 1, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_standardizer_apply(&s, &other, &err), HOP_ERR_SHAPE);
    assert_message_has(err, "fitted on 2 features but the dataset has 3");
    hop_standardizer_free(&s);
    hop_mil_free(&d);
    hop_mil_free(&other);
}

/* ---- stratified folds ---- */

static void make_labels(int *labels, int n_neg, int n_pos, hop_rng *rng)
{
    for (int i = 0; i < n_neg + n_pos; i++)
        labels[i] = i >= n_neg;
    hop_rng_shuffle_int(rng, labels, (size_t)(n_neg + n_pos));
}

static void assert_folds_stratified(const int *labels, const int *fold_of, int n, int k)
{
    int counts[2][32] = {{0}};
    for (int i = 0; i < n; i++) {
        cr_assert(fold_of[i] >= 0 && fold_of[i] < k, "bag %d in fold %d", i, fold_of[i]);
        counts[labels[i]][fold_of[i]]++;
    }
    for (int c = 0; c < 2; c++) {
        int min_count = n, max_count = 0;
        for (int f = 0; f < k; f++) {
            min_count = counts[c][f] < min_count ? counts[c][f] : min_count;
            max_count = counts[c][f] > max_count ? counts[c][f] : max_count;
        }
        cr_assert_leq(max_count - min_count, 1, "class %d: %d to %d bags per fold", c, min_count,
                      max_count);
    }
    int min_count = n, max_count = 0;
    for (int f = 0; f < k; f++) {
        int size = counts[0][f] + counts[1][f];
        min_count = size < min_count ? size : min_count;
        max_count = size > max_count ? size : max_count;
    }
    cr_assert_leq(max_count - min_count, 1, "fold sizes %d to %d", min_count, max_count);
}

Test(folds, stratified_over_seeds)
{
    int labels[92], fold_of[92];
    int ks[] = {2, 3, 5, 10};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        hop_rng rng;
        hop_rng_seed(&rng, seed);
        make_labels(labels, 45, 47, &rng);
        for (int i = 0; i < 4; i++) {
            hop_error err;
            cr_assert_eq(hop_stratified_folds(labels, 92, ks[i], &rng, fold_of, &err), HOP_OK, "%s",
                         err.message);
            assert_folds_stratified(labels, fold_of, 92, ks[i]);
        }
    }
}

Test(folds, split_partitions_bags)
{
    int labels[30], fold_of[30], train[30], test[30];
    hop_rng rng;
    hop_rng_seed(&rng, 7);
    make_labels(labels, 12, 18, &rng);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 30, 4, &rng, fold_of, &err), HOP_OK, "%s",
                 err.message);

    int times_tested[30] = {0};
    for (int f = 0; f < 4; f++) {
        int n_train = 0, n_test = 0;
        hop_fold_split(fold_of, 30, f, train, &n_train, test, &n_test);
        cr_assert_eq(n_train + n_test, 30);
        for (int i = 0; i < n_test; i++) {
            cr_assert_eq(fold_of[test[i]], f);
            times_tested[test[i]]++;
        }
        for (int i = 0; i < n_train; i++)
            cr_assert_neq(fold_of[train[i]], f);
    }
    for (int i = 0; i < 30; i++)
        cr_assert_eq(times_tested[i], 1, "bag %d tested %d times", i, times_tested[i]);
}

Test(folds, repeats_differ)
{
    int labels[40], first[40], second[40];
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    make_labels(labels, 20, 20, &rng);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 40, 5, &rng, first, &err), HOP_OK);
    cr_assert_eq(hop_stratified_folds(labels, 40, 5, &rng, second, &err), HOP_OK);
    cr_assert_neq(memcmp(first, second, sizeof first), 0);

    hop_rng again;
    hop_rng_seed(&again, 3);
    make_labels(labels, 20, 20, &again);
    cr_assert_eq(hop_stratified_folds(labels, 40, 5, &again, second, &err), HOP_OK);
    cr_assert_arr_eq(first, second, sizeof first, "the same seed gives the same folds");
}

Test(folds, too_few_folds)
{
    int labels[] = {0, 0, 1, 1}, fold_of[4];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 4, 1, &rng, fold_of, &err), HOP_ERR_ARG);
    assert_message_has(err, "cannot make 1 stratified folds");
    assert_message_has(err, "--folds from 2 to 2");
}

Test(folds, more_folds_than_class)
{
    int labels[13], fold_of[13];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    make_labels(labels, 3, 10, &rng);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 13, 4, &rng, fold_of, &err), HOP_ERR_ARG);
    assert_message_has(err, "cannot make 4 stratified folds");
    assert_message_has(err, "3 negative and 10 positive bags");
    assert_message_has(err, "--folds from 2 to 3");
    cr_assert_eq(hop_stratified_folds(labels, 13, 3, &rng, fold_of, &err), HOP_OK);
}

Test(folds, single_class)
{
    int labels[] = {1, 1, 1, 1}, fold_of[4];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 4, 2, &rng, fold_of, &err), HOP_ERR_DATA);
    assert_message_has(err, "0 negative and 4 positive bags");
}

Test(folds, invalid_label)
{
    int labels[] = {0, 1, 2, 1}, fold_of[4];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    cr_assert_eq(hop_stratified_folds(labels, 4, 2, &rng, fold_of, &err), HOP_ERR_ARG);
    assert_message_has(err, "bag 2 has label 2");
}

/* ---- digits ---- */

Test(digits, embedded_counts)
{
    hop_digits d;
    hop_error err;
    cr_assert_eq(hop_digits_load(&d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d.n, HOP_DIGITS_COUNT);

    int histogram[10] = {0};
    for (int i = 0; i < d.n; i++) {
        cr_assert(d.labels[i] >= 0 && d.labels[i] <= 9);
        histogram[d.labels[i]]++;
    }
    int expected[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
    cr_assert_arr_eq(histogram, expected, sizeof expected);

    for (size_t i = 0; i < (size_t)d.n * HOP_DIGITS_DIM; i++)
        cr_assert(d.images[i] >= 0.0f && d.images[i] <= 1.0f, "pixel %zu is %g", i, d.images[i]);
    hop_digits_free(&d);
}

Test(digits, embedded_first_row)
{
    /* The first image, a zero, as 8 rows of 8 pixels. */
    /* clang-format off */
    static const int first[HOP_DIGITS_DIM] = {
        0, 0,  5, 13,  9,  1,  0, 0,
        0, 0, 13, 15, 10, 15,  5, 0,
        0, 3, 15,  2,  0, 11,  8, 0,
        0, 4, 12,  0,  0,  8,  8, 0,
        0, 5,  8,  0,  0,  9,  8, 0,
        0, 4, 11,  0,  1, 12,  7, 0,
        0, 2, 14,  5, 10, 12,  0, 0,
        0, 0,  6, 13, 10,  0,  0, 0,
    };
    /* clang-format on */
    hop_digits d;
    hop_error err;
    cr_assert_eq(hop_digits_load(&d, &err), HOP_OK, "%s", err.message);
    for (int j = 0; j < HOP_DIGITS_DIM; j++)
        cr_assert_float_eq(d.images[j], first[j] / 16.0f, 1e-7, "pixel %d", j);
    cr_assert_eq(d.labels[0], 0);
    cr_assert_eq(d.labels[1], 1);
    hop_digits_free(&d);
}

static void digit_line(char *line, size_t size, int pixel, int label)
{
    size_t length = 0;
    for (int j = 0; j < HOP_DIGITS_DIM; j++)
        length += (size_t)snprintf(line + length, size - length, "%d,", pixel);
    snprintf(line + length, size - length, "%d\n", label);
}

Test(digits, parse_rejects_pixel_range)
{
    char text[512];
    digit_line(text, sizeof text, 17, 3);
    hop_digits d;
    hop_error err;
    cr_assert_eq(hop_digits_parse(text, strlen(text), "d.csv", &d, &err), HOP_ERR_DATA);
    assert_message_has(err, "d.csv:1:");
    assert_message_has(err, "\"17\" is not an integer from 0 to 16");
    cr_assert_null(d.images);
}

Test(digits, parse_rejects_label_range)
{
    char text[512];
    digit_line(text, sizeof text, 2, 10);
    hop_digits d;
    hop_error err;
    cr_assert_eq(hop_digits_parse(text, strlen(text), "d.csv", &d, &err), HOP_ERR_DATA);
    assert_message_has(err, "column 65");
    assert_message_has(err, "from 0 to 9");
}

Test(digits, parse_rejects_field_count)
{
    hop_digits d;
    hop_error err;
    cr_assert_eq(hop_digits_parse("1,2,3\n", 6, "d.csv", &d, &err), HOP_ERR_PARSE);
    assert_message_has(err, "d.csv:1: expected 65 fields");
    assert_message_has(err, "found 3");
    cr_assert_eq(hop_digits_parse("", 0, "d.csv", &d, &err), HOP_ERR_DATA);
    assert_message_has(err, "no digit images");
}

Test(digits, split_pools_disjoint)
{
    int train[1200], test[HOP_DIGITS_COUNT - 1200];
    hop_rng rng;
    hop_rng_seed(&rng, 11);
    hop_error err;
    cr_assert_eq(hop_digits_split_pools(HOP_DIGITS_COUNT, 1200, &rng, train, test, &err), HOP_OK,
                 "%s", err.message);

    int seen[HOP_DIGITS_COUNT] = {0};
    for (int i = 0; i < 1200; i++)
        seen[train[i]] += 1;
    for (int i = 0; i < HOP_DIGITS_COUNT - 1200; i++)
        seen[test[i]] += 2;
    for (int i = 0; i < HOP_DIGITS_COUNT; i++)
        cr_assert(seen[i] == 1 || seen[i] == 2, "digit %d: seen code %d", i, seen[i]);

    cr_assert_eq(hop_digits_split_pools(10, 10, &rng, train, test, &err), HOP_ERR_ARG);
    assert_message_has(err, "choose a train pool from 1 to 9");
}

static int row_in_pool(const hop_digits *digits, const float *row, const int *pool, int n)
{
    for (int i = 0; i < n; i++)
        if (memcmp(digits->images + (size_t)pool[i] * HOP_DIGITS_DIM, row,
                   HOP_DIGITS_DIM * sizeof *row) == 0)
            return 1;
    return 0;
}

Test(digit_bags, labels_follow_target)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);
    int pool[HOP_DIGITS_COUNT];
    for (int i = 0; i < HOP_DIGITS_COUNT; i++)
        pool[i] = i;

    hop_digit_bag_options options = hop_digit_bag_defaults();
    options.n_bags = 301;
    hop_rng rng;
    hop_rng_seed(&rng, 5);
    hop_mil_dataset bags;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, HOP_DIGITS_COUNT, &options, &rng, &bags, &err),
                 HOP_OK, "%s", err.message);

    cr_assert_eq(bags.n_bags, 301);
    cr_assert_eq(bags.dim, HOP_DIGITS_DIM);
    cr_assert_eq(positive_bags(&bags), 150);
    cr_assert_not_null(bags.instance_labels);
    for (int b = 0; b < bags.n_bags; b++) {
        int targets = 0;
        for (int i = bags.bag_start[b]; i < bags.bag_start[b + 1]; i++)
            targets += bags.instance_labels[i];
        cr_assert_eq(bags.labels[b], targets > 0, "bag %d: label %d with %d nines", b,
                     bags.labels[b], targets);
    }
    cr_assert_eq(hop_mil_validate(&bags, &err), HOP_OK, "%s", err.message);
    hop_mil_free(&bags);
    hop_digits_free(&digits);
}

Test(digit_bags, sizes_follow_normal)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);
    int pool[HOP_DIGITS_COUNT];
    for (int i = 0; i < HOP_DIGITS_COUNT; i++)
        pool[i] = i;

    hop_digit_bag_options options = {
        .n_bags = 2000, .mean_size = 10, .std_size = 2, .target_digit = 9};
    hop_rng rng;
    hop_rng_seed(&rng, 8);
    hop_mil_dataset bags;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, HOP_DIGITS_COUNT, &options, &rng, &bags, &err),
                 HOP_OK, "%s", err.message);
    double mean = (double)bags.n_instances / bags.n_bags;
    cr_assert_float_eq(mean, 10.0, 0.2, "mean bag size %g", mean);
    hop_mil_free(&bags);

    /* With a mean of 1 and a wide spread, half the draws are clamped to size 1. */
    options =
        (hop_digit_bag_options){.n_bags = 500, .mean_size = 1, .std_size = 5, .target_digit = 3};
    cr_assert_eq(hop_digit_bags_make(&digits, pool, HOP_DIGITS_COUNT, &options, &rng, &bags, &err),
                 HOP_OK, "%s", err.message);
    int ones = 0;
    for (int b = 0; b < bags.n_bags; b++) {
        int size = bags.bag_start[b + 1] - bags.bag_start[b];
        cr_assert_geq(size, 1);
        ones += size == 1;
    }
    cr_assert_gt(ones, 200);
    hop_mil_free(&bags);
    hop_digits_free(&digits);
}

Test(digit_bags, instances_come_from_pool)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);

    /* Images 9 and 19 are nines, 0 to 2 are not. */
    int pool[] = {0, 1, 2, 9, 19};
    cr_assert_eq(digits.labels[9], 9);
    cr_assert_eq(digits.labels[19], 9);
    hop_digit_bag_options options = hop_digit_bag_defaults();
    hop_rng rng;
    hop_rng_seed(&rng, 2);
    hop_mil_dataset bags;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 5, &options, &rng, &bags, &err), HOP_OK, "%s",
                 err.message);
    for (int i = 0; i < bags.n_instances; i++)
        cr_assert(row_in_pool(&digits, bags.features + (size_t)i * HOP_DIGITS_DIM, pool, 5),
                  "instance %d is not from the pool", i);
    for (int b = 0; b < bags.n_bags; b++)
        if (bags.labels[b] == 0)
            for (int i = bags.bag_start[b]; i < bags.bag_start[b + 1]; i++)
                cr_assert(row_in_pool(&digits, bags.features + (size_t)i * HOP_DIGITS_DIM, pool, 3),
                          "negative bag %d holds a nine", b);
    hop_mil_free(&bags);
    hop_digits_free(&digits);
}

Test(digit_bags, train_bags_use_train_pool)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);
    int train_pool[60], test_pool[HOP_DIGITS_COUNT - 60];
    hop_rng rng;
    hop_rng_seed(&rng, 4);
    cr_assert_eq(hop_digits_split_pools(HOP_DIGITS_COUNT, 60, &rng, train_pool, test_pool, &err),
                 HOP_OK, "%s", err.message);

    hop_digit_bag_options options = hop_digit_bag_defaults();
    options.target_digit = 0;
    hop_mil_dataset train;
    hop_status status = hop_digit_bags_make(&digits, train_pool, 60, &options, &rng, &train, &err);
    cr_assert_eq(status, HOP_OK, "%s", err.message);
    for (int i = 0; i < train.n_instances; i++)
        cr_assert(row_in_pool(&digits, train.features + (size_t)i * HOP_DIGITS_DIM, train_pool, 60),
                  "train instance %d is not from the train pool", i);
    hop_mil_free(&train);
    hop_digits_free(&digits);
}

Test(digit_bags, pool_without_target)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);
    int pool[] = {0, 1, 2};
    hop_digit_bag_options options = hop_digit_bag_defaults();
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_mil_dataset bags;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 3, &options, &rng, &bags, &err), HOP_ERR_DATA);
    assert_message_has(err, "0 images of the target digit 9 and 3 of other digits");
    cr_assert_null(bags.features);
    hop_digits_free(&digits);
}

Test(digit_bags, invalid_options)
{
    hop_digits digits;
    hop_error err;
    cr_assert_eq(hop_digits_load(&digits, &err), HOP_OK, "%s", err.message);
    int pool[] = {0, 9, 5000};
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_mil_dataset bags;

    hop_digit_bag_options options = hop_digit_bag_defaults();
    options.target_digit = 10;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 2, &options, &rng, &bags, &err), HOP_ERR_ARG);
    assert_message_has(err, "invalid target digit 10");

    options = hop_digit_bag_defaults();
    options.std_size = -1;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 2, &options, &rng, &bags, &err), HOP_ERR_ARG);
    assert_message_has(err, "standard deviation -1");

    options = hop_digit_bag_defaults();
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 3, &options, &rng, &bags, &err), HOP_ERR_ARG);
    assert_message_has(err, "digit pool entry 2 is 5000");

    options.n_bags = 0;
    cr_assert_eq(hop_digit_bags_make(&digits, pool, 2, &options, &rng, &bags, &err), HOP_ERR_ARG);
    assert_message_has(err, "invalid number of digit bags 0");
    hop_digits_free(&digits);
}
