/* safetensors: byte layout, round trip, Python readers, validation errors and atomic saves. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hop/io.h"
#include "hop/params.h"
#include "support/shell.h"

/* A store with "layer.weight" (2, 3) = 0.5 i - 1 and "layer.bias" (3) = 10 + i. */
static void make_params(hop_params *p)
{
    hop_error err;
    hop_params_init(p);
    int id = 0;
    cr_assert_eq(
        hop_params_add(p, "layer.weight", 2, (int[]){2, 3}, HOP_INIT_ZEROS, 0, NULL, &id, &err),
        HOP_OK, "%s", err.message);
    cr_assert_eq(hop_params_add(p, "layer.bias", 1, (int[]){3}, HOP_INIT_ZEROS, 0, NULL, &id, &err),
                 HOP_OK, "%s", err.message);
    for (size_t i = 0; i < 6; i++)
        p->values[i] = 0.5f * (float)i - 1.0f;
    for (size_t i = 0; i < 3; i++)
        p->values[6 + i] = 10.0f + (float)i;
}

static void serialize_params(const hop_params *p, unsigned char **buf, size_t *length)
{
    hop_error err;
    hop_st_writer w;
    hop_st_writer_init(&w);
    cr_assert_eq(hop_st_writer_add_params(&w, p, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_st_writer_set_metadata(&w, "format", "test", &err), HOP_OK);
    cr_assert_eq(hop_st_writer_serialize(&w, buf, length, &err), HOP_OK, "%s", err.message);
    hop_st_writer_free(&w);
}

/* Builds a file from a header text and a data block. */
static unsigned char *make_file(const char *header, const void *data, size_t data_size,
                                size_t *length)
{
    size_t n = strlen(header);
    unsigned char *buf = malloc(8 + n + data_size + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    if (data_size)
        memcpy(buf + 8 + n, data, data_size);
    *length = 8 + n + data_size;
    return buf;
}

Test(safetensors, layout_matches_format)
{
    hop_params p;
    make_params(&p);
    unsigned char *buf;
    size_t length;
    serialize_params(&p, &buf, &length);

    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | buf[i];
    cr_assert_eq(n % 8, 0, "header length %llu is not padded to 8", (unsigned long long)n);
    cr_assert_eq(length, 8 + n + 9 * sizeof(float));
    cr_assert_eq(buf[8], '{');
    char *header = strndup((const char *)buf + 8, (size_t)n);
    cr_assert(strstr(header, "\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                             "\"data_offsets\":[0,24]}") != NULL,
              "header: %s", header);
    cr_assert(strstr(header, "\"layer.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
                             "\"data_offsets\":[24,36]}") != NULL,
              "header: %s", header);
    cr_assert(strstr(header, "\"__metadata__\":{\"format\":\"test\"}") != NULL, "header: %s",
              header);
    /* Float 1.0 is 00 00 80 3f little-endian: weight element 4 is 0.5 * 4 - 1 = 1. */
    const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3f};
    cr_assert_eq(memcmp(buf + 8 + n + 4 * 4, one, 4), 0);
    free(header);
    free(buf);
    hop_params_free(&p);
}

Test(safetensors, round_trip_restores_values)
{
    hop_params p, q;
    make_params(&p);
    make_params(&q);
    memset(q.values, 0, q.total * sizeof(float));
    unsigned char *buf;
    size_t length;
    serialize_params(&p, &buf, &length);

    hop_error err;
    hop_safetensors st;
    cr_assert_eq(hop_safetensors_parse(buf, length, "mem", &st, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(st.count, 2);
    cr_assert_str_eq(hop_safetensors_metadata(&st, "format"), "test");
    cr_assert_eq(hop_params_load_safetensors(&q, &st, NULL, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(memcmp(p.values, q.values, p.total * sizeof(float)), 0);
    hop_safetensors_free(&st);
    free(buf);
    hop_params_free(&p);
    hop_params_free(&q);
}

Test(safetensors, empty_file_has_no_tensors)
{
    hop_st_writer w;
    hop_st_writer_init(&w);
    unsigned char *buf;
    size_t length;
    hop_error err;
    cr_assert_eq(hop_st_writer_serialize(&w, &buf, &length, &err), HOP_OK);
    hop_safetensors st;
    cr_assert_eq(hop_safetensors_parse(buf, length, "mem", &st, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(st.count, 0);
    hop_safetensors_free(&st);
    free(buf);
}

static int have_python(void)
{
    return system("command -v python3 >/dev/null 2>&1") == 0;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void run_capture(const char *command, char *out, size_t size)
{
    int status = test_run_command(command, out, size);
    cr_assert_eq(status, 0, "'%s' failed: %s", command, out);
}

/* Reads the file with struct and json only, as any Python 3 can. */
static const char *python_reader =
    "import json, struct, sys\n"
    "b = open(sys.argv[1], 'rb').read()\n"
    "n = struct.unpack('<Q', b[:8])[0]\n"
    "h = json.loads(b[8:8 + n])\n"
    "data = b[8 + n:]\n"
    "for name in sorted(k for k in h if k != '__metadata__'):\n"
    "    t = h[name]; s, e = t['data_offsets']\n"
    "    vals = struct.unpack('<%df' % ((e - s) // 4), data[s:e])\n"
    "    print(name, t['dtype'], t['shape'], ' '.join('%.6g' % v for v in vals))\n"
    "print('meta', h['__metadata__']['format'])\n";

Test(safetensors, python_struct_reader_reads_file)
{
    if (!have_python())
        cr_skip("python3 is not installed; the Python reader check did not run");
    hop_params p;
    make_params(&p);
    unsigned char *buf;
    size_t length;
    serialize_params(&p, &buf, &length);
    char dir[] = "/tmp/hop-st-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char file[64], script[64], command[256], out[1024];
    snprintf(file, sizeof file, "%s/m.safetensors", dir);
    snprintf(script, sizeof script, "%s/read.py", dir);
    write_bytes(file, buf, length);
    write_bytes(script, python_reader, strlen(python_reader));
    snprintf(command, sizeof command, "python3 %s %s", script, file);
    run_capture(command, out, sizeof out);

    cr_assert(strstr(out, "layer.bias F32 [3] 10 11 12\n") != NULL, "python printed: %s", out);
    cr_assert(strstr(out, "layer.weight F32 [2, 3] -1 -0.5 0 0.5 1 1.5\n") != NULL,
              "python printed: %s", out);
    cr_assert(strstr(out, "meta test") != NULL, "python printed: %s", out);
    remove(file);
    remove(script);
    rmdir(dir);
    free(buf);
    hop_params_free(&p);
}

Test(safetensors, numpy_reader_reads_file)
{
    if (!have_python() || system("python3 -c 'import numpy' >/dev/null 2>&1") != 0)
        cr_skip("python3 with numpy is not installed; the NumPy reader check did not run");
    hop_params p;
    make_params(&p);
    unsigned char *buf;
    size_t length;
    serialize_params(&p, &buf, &length);
    char dir[] = "/tmp/hop-st-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char file[64], command[640], out[512];
    snprintf(file, sizeof file, "%s/m.safetensors", dir);
    write_bytes(file, buf, length);
    snprintf(command, sizeof command,
             "python3 -c \"import json, struct, numpy as np; b = open('%s', 'rb').read(); "
             "n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); "
             "t = h['layer.weight']; s, e = t['data_offsets']; "
             "a = np.frombuffer(b[8 + n + s:8 + n + e], dtype='<f4').reshape(t['shape']); "
             "print(a.shape, a[1, 2], a.sum())\"",
             file);
    run_capture(command, out, sizeof out);
    cr_assert(strstr(out, "(2, 3) 1.5 1.5") != NULL, "numpy printed: %s", out);
    remove(file);
    rmdir(dir);
    free(buf);
    hop_params_free(&p);
}

/* Parses a damaged file, expects HOP_ERR_PARSE with a message containing expected. */
static void expect_parse_error(const unsigned char *buf, size_t length, const char *expected)
{
    hop_error err;
    hop_error_clear(&err);
    hop_safetensors st;
    hop_status status = hop_safetensors_parse(buf, length, "bad.safetensors", &st, &err);
    cr_assert_eq(status, HOP_ERR_PARSE, "status %d, message: %s", status, err.message);
    cr_assert(strstr(err.message, expected) != NULL, "message: %s", err.message);
    cr_assert(strstr(err.message, "bad.safetensors") != NULL, "message: %s", err.message);
}

Test(safetensors, truncated_body_is_rejected)
{
    hop_params p;
    make_params(&p);
    unsigned char *buf;
    size_t length;
    serialize_params(&p, &buf, &length);
    expect_parse_error(buf, length - 5, "truncated");
    expect_parse_error(buf, 6, "too short");
    free(buf);
    hop_params_free(&p);
}

Test(safetensors, header_length_past_end_is_rejected)
{
    size_t length;
    unsigned char *buf = make_file("{}", NULL, 0, &length);
    buf[0] = 200;
    expect_parse_error(buf, length, "exceeds");
    free(buf);
}

Test(safetensors, bad_json_is_rejected)
{
    size_t length;
    unsigned char *buf = make_file("{\"a\": {\"dtype\": \"F32\",", NULL, 0, &length);
    expect_parse_error(buf, length, "not valid JSON");
    free(buf);
    buf = make_file("[1, 2]", NULL, 0, &length);
    expect_parse_error(buf, length, "does not start with '{'");
    free(buf);
}

Test(safetensors, bad_dtype_is_rejected)
{
    float data[2] = {1, 2};
    size_t length;
    unsigned char *buf = make_file(
        "{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8, &length);
    expect_parse_error(buf, length, "unknown dtype 'F31'");
    free(buf);
}

Test(safetensors, overlapping_offsets_are_rejected)
{
    float data[3] = {1, 2, 3};
    size_t length;
    unsigned char *buf =
        make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  data, 12, &length);
    expect_parse_error(buf, length, "overlaps");
    free(buf);
}

Test(safetensors, offsets_mismatching_shape_are_rejected)
{
    float data[3] = {1, 2, 3};
    size_t length;
    unsigned char *buf = make_file(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", data, 12, &length);
    expect_parse_error(buf, length, "span 12 bytes");
    free(buf);
}

Test(safetensors, gap_in_buffer_is_rejected)
{
    float data[3] = {1, 2, 3};
    size_t length;
    unsigned char *buf = make_file(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 12, &length);
    expect_parse_error(buf, length, "belong to no tensor");
    free(buf);
}

Test(safetensors, duplicate_name_is_rejected)
{
    float data[2] = {1, 2};
    size_t length;
    unsigned char *buf =
        make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  data, 8, &length);
    expect_parse_error(buf, length, "names 'a' twice");
    free(buf);
}

Test(safetensors, non_string_metadata_is_rejected)
{
    size_t length;
    unsigned char *buf = make_file("{\"__metadata__\":{\"epoch\":3}}", NULL, 0, &length);
    expect_parse_error(buf, length, "'epoch' is not a string");
    free(buf);
}

/* Loads a file into make_params' store and expects an error naming expected, values kept. */
static void expect_load_error(const char *header, const void *data, size_t size,
                              const char *expected)
{
    hop_params p;
    make_params(&p);
    float before[9];
    memcpy(before, p.values, sizeof before);
    size_t length;
    unsigned char *buf = make_file(header, data, size, &length);
    hop_error err;
    hop_safetensors st;
    cr_assert_eq(hop_safetensors_parse(buf, length, "f.safetensors", &st, &err), HOP_OK, "%s",
                 err.message);
    hop_status status = hop_params_load_safetensors(&p, &st, NULL, &err);
    cr_assert_eq(status, HOP_ERR_DATA, "status %d: %s", status, err.message);
    cr_assert(strstr(err.message, expected) != NULL, "message: %s", err.message);
    cr_assert_eq(memcmp(before, p.values, sizeof before), 0, "parameters changed on failure");
    hop_safetensors_free(&st);
    free(buf);
    hop_params_free(&p);
}

static const float nine[9] = {7, 7, 7, 7, 7, 7, 7, 7, 7};
static const float ten[10] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

Test(safetensors, wrong_name_is_rejected)
{
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layer.bais\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
        nine, 36, "parameter 'layer.bias' is missing");
}

Test(safetensors, extra_tensor_is_rejected)
{
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layer.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]},"
        "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}",
        ten, 40, "tensor 'extra' is not a parameter");
}

Test(safetensors, wrong_shape_is_rejected)
{
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
        "\"layer.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
        nine, 36, "'layer.weight' has shape (3, 2) but the model expects (2, 3)");
}

Test(safetensors, wrong_dtype_is_rejected)
{
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layer.bias\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
        nine, 36, "'layer.bias' has dtype I32");
}

Test(safetensors, nan_value_is_rejected)
{
    float data[9] = {7, 7, 7, 7, 7, 7, 7, NAN, 7};
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layer.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
        data, 36, "tensor 'layer.bias' has the non-finite value nan at flat index 1");
}

Test(safetensors, infinite_value_is_rejected)
{
    float data[9] = {7, 7, 7, 7, 7, -INFINITY, 7, 7, 7};
    expect_load_error(
        "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layer.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
        data, 36, "tensor 'layer.weight' has the non-finite value -inf at flat index 5");
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static unsigned char *read_all(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *length = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*length + 1);
    cr_assert_eq(fread(buf, 1, *length, f), *length);
    fclose(f);
    return buf;
}

/*
 * Saves a 4 MB tensor over a small file in a child limited to 64 KB files (RLIMIT_FSIZE
 * stops writes even for root), so the write fails midway.
 */
Test(safetensors, failed_save_keeps_old_file)
{
    char dir[] = "/tmp/hop-st-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    hop_params p;
    make_params(&p);
    hop_st_writer w;
    hop_st_writer_init(&w);
    hop_error err;
    cr_assert_eq(hop_st_writer_add_params(&w, &p, &err), HOP_OK);
    cr_assert_eq(hop_st_writer_save(&w, path, &err), HOP_OK, "%s", err.message);
    hop_st_writer_free(&w);
    size_t old_length;
    unsigned char *old = read_all(path, &old_length);

    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {65536, 65536};
        setrlimit(RLIMIT_FSIZE, &limit);
        float *big = calloc(1 << 20, sizeof(float));
        hop_st_writer big_writer;
        hop_st_writer_init(&big_writer);
        int64_t shape = 1 << 20;
        hop_st_writer_add(&big_writer, "big", HOP_DTYPE_F32, 1, &shape, big, &err);
        hop_status status = hop_st_writer_save(&big_writer, path, &err);
        int ok = status == HOP_ERR_IO && strstr(err.message, "previous file is unchanged");
        _exit(ok ? 0 : 1);
    }
    int raw = 0;
    waitpid(child, &raw, 0);
    cr_assert(WIFEXITED(raw) && WEXITSTATUS(raw) == 0, "the limited save did not fail cleanly");

    size_t new_length;
    unsigned char *now = read_all(path, &new_length);
    cr_assert_eq(new_length, old_length);
    cr_assert_eq(memcmp(old, now, old_length), 0, "the old file changed");
    cr_assert_eq(count_entries(dir), 1, "a temporary file was left behind");
    free(old);
    free(now);
    remove(path);
    rmdir(dir);
    hop_params_free(&p);
}

Test(safetensors, save_to_missing_folder_fails)
{
    hop_st_writer w;
    hop_st_writer_init(&w);
    hop_error err;
    hop_status status = hop_st_writer_save(&w, "/tmp/hop-no-such-dir-7731/m.safetensors", &err);
    cr_assert_eq(status, HOP_ERR_IO);
    cr_assert(strstr(err.message, "cannot write /tmp/hop-no-such-dir-7731/m.safetensors: No such "
                                  "file or directory") != NULL,
              "message: %s", err.message);
    cr_assert(strstr(err.message, ".tmp") == NULL, "message: %s", err.message);
    hop_st_writer_free(&w);
}

Test(safetensors, read_missing_file_fails)
{
    hop_safetensors st;
    hop_error err;
    cr_assert_eq(hop_safetensors_read("/tmp/hop-no-such-file.safetensors", &st, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, "cannot open /tmp/hop-no-such-file.safetensors") != NULL,
              "message: %s", err.message);
}
