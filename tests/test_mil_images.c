/* hop mil --images on a synthetic folder, the attention PNG and the Fashion-MNIST demo. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "hop/loaders.h"
#include "image_fixtures.h"
#include "support/shell.h"

#define SIDE        32
#define PATCH       8
#define PER_CLASS   24
#define SQUARE      5
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/*
 * Writes one 32x32 gray image of dark noise. With with_square, a bright 5x5 square lies inside
 * the patch at (*row, *col) of the 8-pixel grid, chosen at random.
 */
static void write_image(const char *path, bool with_square, unsigned *seed, int *row, int *col)
{
    unsigned char pixels[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++)
        pixels[i] = (unsigned char)(rand_r(seed) % 80);
    if (with_square) {
        *row = rand_r(seed) % (SIDE / PATCH);
        *col = rand_r(seed) % (SIDE / PATCH);
        int y0 = *row * PATCH + rand_r(seed) % (PATCH - SQUARE + 1);
        int x0 = *col * PATCH + rand_r(seed) % (PATCH - SQUARE + 1);
        for (int y = y0; y < y0 + SQUARE; y++)
            for (int x = x0; x < x0 + SQUARE; x++)
                pixels[y * SIDE + x] = 255;
    }
    cr_assert(stbi_write_png(path, SIDE, SIDE, 1, pixels, SIDE), "cannot write %s", path);
}

/* Makes dir/negative and dir/positive. *square_patch receives the square's patch in positive/00. */
static void make_folder(char *dir, size_t size, int *square_patch)
{
    fixture_make_temp_dir(dir, size);
    char path[1024];
    unsigned seed = 7;
    const char *classes[2] = {"negative", "positive"};
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes[c]);
        cr_assert_eq(mkdir(path, 0700), 0);
        for (int i = 0; i < PER_CLASS; i++) {
            int row = 0, col = 0;
            snprintf(path, sizeof path, "%s/%s/%02d.png", dir, classes[c], i);
            write_image(path, c == 1, &seed, &row, &col);
            if (c == 1 && i == 0)
                *square_patch = row * (SIDE / PATCH) + col;
        }
    }
}

static double parse_auc(const char *out, const char *dir)
{
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s: AUC ", dir);
    const char *line = strstr(out, prefix);
    cr_assert_not_null(line, "output: %s", out);
    double auc = 0.0;
    cr_assert_eq(sscanf(line + strlen(prefix), "%lf", &auc), 1);
    return auc;
}

static void assert_png_size(const char *path, int width, int height)
{
    size_t length = 0;
    unsigned char *data = fixture_read_file(path, &length);
    static const unsigned char signature[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
    cr_assert_gt(length, 24u);
    cr_assert_eq(memcmp(data, signature, 8), 0, "%s has no PNG signature", path);
    cr_assert_eq(memcmp(data + 12, "IHDR", 4), 0);
    int w = (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19];
    int h = (data[20] << 24) | (data[21] << 16) | (data[22] << 8) | data[23];
    cr_assert_eq(w, width);
    cr_assert_eq(h, height);
    free(data);
    hop_image image = {0};
    hop_error err;
    cr_assert_eq(hop_image_load(path, 0, &image, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(image.channels, 3);
    hop_image_free(&image);
}

Test(mil_images, cli_learns_square_and_attends, .timeout = 120)
{
    char dir[256], outputs[256], command[2048], out[8192], png[1100];
    int square_patch = -1;
    make_folder(dir, sizeof dir, &square_patch);
    fixture_make_temp_dir(outputs, sizeof outputs);
    snprintf(png, sizeof png, "%s/attention.png", outputs);
    snprintf(command, sizeof command,
             "%s mil --images %s --patch 8 --stride 8 --channels 1 --folds 3 --epochs 30 "
             "--lr 0.003 --seed 1 --threads 1 --quiet --save-attention %s 2>&1",
             HOP_CLI_PATH, dir, png);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);

    double auc = parse_auc(out, dir);
    cr_assert_geq(auc, 0.85, "output: %s", out);
    assert_png_size(png, SIDE * 8, SIDE * 8);

    const char *line = strstr(out, "attention of bag 24 (");
    cr_assert_not_null(line, "output: %s", out);
    const char *at = strstr(line, "largest weight on patch ");
    cr_assert_not_null(at, "output: %s", out);
    int patch = -1;
    cr_assert_eq(sscanf(at, "largest weight on patch %d", &patch), 1);
    cr_assert_eq(patch, square_patch, "output: %s", out);
    fixture_remove_tree(dir);
    fixture_remove_tree(outputs);
}

Test(mil_images, cli_attention_bag_and_range, .timeout = 60)
{
    char dir[256], outputs[256], command[2048], out[8192], png[1100];
    int square_patch = -1;
    make_folder(dir, sizeof dir, &square_patch);
    fixture_make_temp_dir(outputs, sizeof outputs);
    snprintf(png, sizeof png, "%s/bag3.png", outputs);
    snprintf(command, sizeof command,
             "%s mil --images %s --patch 8 --no-cv --epochs 2 --quiet --threads 1 "
             "--attention-bag 3 --save-attention %s 2>&1",
             HOP_CLI_PATH, dir, png);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "attention of bag 3 (") != NULL, "output: %s", out);
    cr_assert(strstr(out, "label 0)") != NULL, "output: %s", out);
    assert_png_size(png, SIDE * 8, SIDE * 8);

    snprintf(command, sizeof command,
             "%s mil --images %s --no-cv --epochs 1 --quiet --attention-bag 48 "
             "--save-attention %s 2>&1",
             HOP_CLI_PATH, dir, png);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "--attention-bag 48 is out of range") != NULL, "output: %s", out);
    fixture_remove_tree(dir);
    fixture_remove_tree(outputs);
}

Test(mil_images, positive_class_errors_list_classes, .timeout = 60)
{
    char dir[256], command[2048], out[8192], path[1100];
    int square_patch = -1;
    make_folder(dir, sizeof dir, &square_patch);
    snprintf(command, sizeof command, "%s mil --images %s --positive-class cats --quiet 2>&1",
             HOP_CLI_PATH, dir);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "no class folder is named \"cats\"; the classes are \"negative\", "
                          "\"positive\"") != NULL,
              "output: %s", out);

    snprintf(path, sizeof path, "%s/third", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/third/a.png", dir);
    unsigned seed = 3;
    int row, col;
    write_image(path, false, &seed, &row, &col);
    snprintf(command, sizeof command, "%s mil --images %s --quiet 2>&1", HOP_CLI_PATH, dir);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "has 3 class folders (\"negative\", \"positive\", \"third\"); choose "
                          "one with --positive-class NAME") != NULL,
              "output: %s", out);
    fixture_remove_tree(dir);
}

Test(mil_images, save_attention_needs_images)
{
    char out[4096], command[1024];
    snprintf(command, sizeof command, "%s mil --demo --save-attention a.png 2>&1", HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 2, "%s", out);
    snprintf(command, sizeof command, "%s mil --data x.csv --save-attention a.png 2>&1",
             HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--save-attention draws image patches; it needs --images") != NULL,
              "output: %s", out);
    snprintf(command, sizeof command, "%s mil --images a --demo 2>&1", HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "give one of --data FILE, --demo, --fashion-demo") != NULL, "output: %s",
              out);
}

Test(mil_images, fashion_demo_missing_files)
{
    char out[4096], command[1024];
    snprintf(command, sizeof command,
             "%s mil --fashion-demo --fashion-dir /nonexistent/fashion --quiet 2>&1", HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "Fashion-MNIST file /nonexistent/fashion/train-images-idx3-ubyte.gz "
                          "not found; install the Debian package dataset-fashion-mnist") != NULL,
              "output: %s", out);
}

Test(mil_images, fashion_demo_finds_ankle_boots, .timeout = 120)
{
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        cr_skip_test("Fashion-MNIST is not installed (package dataset-fashion-mnist)");
        return;
    }
    char out[4096], command[1024], report[] = "/tmp/hop-fashion-XXXXXX";
    int fd = mkstemp(report);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(command, sizeof command,
             "%s mil --fashion-demo --demo-train-bags 60 --demo-test-bags 40 --epochs 10 "
             "--embed-width 32 --seed 1 --threads 1 --quiet --report %s 2>&1",
             HOP_CLI_PATH, report);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "Fashion-MNIST bags (target class 9, ankle boot): 60 train bags, 40 "
                          "test bags") != NULL,
              "output: %s", out);
    const char *line = strstr(out, "test AUC ");
    cr_assert_not_null(line, "output: %s", out);
    double auc = 0.0;
    cr_assert_eq(sscanf(line, "test AUC %lf", &auc), 1);
    cr_assert_geq(auc, 0.8, "output: %s", out);

    size_t length = 0;
    char *json = (char *)fixture_read_file(report, &length);
    json[length] = '\0';
    cr_assert(strstr(json, "\"fashion-mnist-bags\"") != NULL, "report: %s", json);
    free(json);
    remove(report);
}
