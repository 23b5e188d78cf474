/* The file writers: atomic replacement, symbolic links, FIFOs, folders and error messages. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hop/io.h"
#include "hop/memory.h"

static char folder[64];

static void make_folder(void)
{
    snprintf(folder, sizeof folder, "/tmp/hop-io-test-XXXXXX");
    cr_assert_not_null(mkdtemp(folder));
}

static void remove_folder(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    cr_assert_eq(system(command), 0);
}

static void in_folder(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static bool is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Returns the number of entries in the test folder, so leftover temporary files show. */
static int folder_entries(void)
{
    DIR *dir = opendir(folder);
    cr_assert_not_null(dir);
    int count = 0;
    for (struct dirent *e = readdir(dir); e; e = readdir(dir))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            count++;
    closedir(dir);
    return count;
}

Test(io, replaces_regular_file, .init = make_folder, .fini = remove_folder)
{
    char path[128], text[64];
    in_folder(path, sizeof path, "report.json");
    write_text(path, "old");
    cr_assert_eq(chmod(path, 0640), 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(path, "new", 3, &err), HOP_OK, "%s", err.message);
    read_text(path, text, sizeof text);
    cr_assert_str_eq(text, "new");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "the old permissions are kept");
    cr_assert_eq(folder_entries(), 1, "no temporary file is left");
}

Test(io, symlink_target_replaced, .init = make_folder, .fini = remove_folder)
{
    char real[128], link[128], text[64];
    in_folder(real, sizeof real, "real.json");
    in_folder(link, sizeof link, "link.json");
    write_text(real, "old");
    cr_assert_eq(symlink("real.json", link), 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(link, "new", 3, &err), HOP_OK, "%s", err.message);
    cr_assert(is_link(link), "the link stays a link");
    read_text(real, text, sizeof text);
    cr_assert_str_eq(text, "new");
    cr_assert_eq(folder_entries(), 2);
}

Test(io, dangling_symlink_creates_target, .init = make_folder, .fini = remove_folder)
{
    char sub[128], link[128], target[128], text[64];
    in_folder(sub, sizeof sub, "sub");
    in_folder(link, sizeof link, "link.csv");
    in_folder(target, sizeof target, "sub/target.csv");
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert_eq(symlink("sub/target.csv", link), 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(link, "rows", 4, &err), HOP_OK, "%s", err.message);
    cr_assert(is_link(link));
    read_text(target, text, sizeof text);
    cr_assert_str_eq(text, "rows");
}

Test(io, symlink_chain_followed, .init = make_folder, .fini = remove_folder)
{
    char first[128], second[128], real[128], text[64];
    in_folder(first, sizeof first, "first");
    in_folder(second, sizeof second, "second");
    in_folder(real, sizeof real, "real");
    cr_assert_eq(symlink("second", first), 0);
    cr_assert_eq(symlink(real, second), 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(first, "x", 1, &err), HOP_OK, "%s", err.message);
    cr_assert(is_link(first));
    cr_assert(is_link(second));
    read_text(real, text, sizeof text);
    cr_assert_str_eq(text, "x");
}

Test(io, symlink_loop_rejected, .init = make_folder, .fini = remove_folder)
{
    char a[128], b[128];
    in_folder(a, sizeof a, "a");
    in_folder(b, sizeof b, "b");
    cr_assert_eq(symlink("b", a), 0);
    cr_assert_eq(symlink("a", b), 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(a, "x", 1, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, a) != NULL, "%s", err.message);
    cr_assert(strstr(err.message, strerror(ELOOP)) != NULL, "%s", err.message);
}

Test(io, fifo_written_in_place, .init = make_folder, .fini = remove_folder)
{
    char fifo[128];
    in_folder(fifo, sizeof fifo, "out.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert_geq(reader, 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(fifo, "through", 7, &err), HOP_OK, "%s", err.message);
    char buf[16] = {0};
    cr_assert_eq(read(reader, buf, sizeof buf - 1), 7);
    close(reader);
    cr_assert_str_eq(buf, "through");
    struct stat st;
    cr_assert_eq(lstat(fifo, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode), "the FIFO is not replaced by a regular file");
    cr_assert_eq(folder_entries(), 1);
}

Test(io, symlink_to_fifo_written_in_place, .init = make_folder, .fini = remove_folder)
{
    char fifo[128], link[128];
    in_folder(fifo, sizeof fifo, "out.fifo");
    in_folder(link, sizeof link, "link");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(symlink("out.fifo", link), 0);
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert_geq(reader, 0);
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(link, "ab", 2, &err), HOP_OK, "%s", err.message);
    char buf[8] = {0};
    cr_assert_eq(read(reader, buf, sizeof buf - 1), 2);
    close(reader);
    struct stat st;
    cr_assert_eq(lstat(fifo, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode));
    cr_assert(is_link(link));
}

Test(io, folder_rejected, .init = make_folder, .fini = remove_folder)
{
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(folder, "x", 1, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, folder) != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "folder") != NULL, "%s", err.message);
    struct stat st;
    cr_assert_eq(stat(folder, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
}

Test(io, missing_folder_names_user_path)
{
    const char *path = "/nonexistent/hop-io/x.json";
    hop_error err;
    cr_assert_eq(hop_write_file_atomic(path, "x", 1, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, path) != NULL, "%s", err.message);
    cr_assert(strstr(err.message, ".tmp") == NULL, "%s", err.message);
    cr_assert(strstr(err.message, strerror(ENOENT)) != NULL, "%s", err.message);
}

static hop_status failing_writer(FILE *stream, void *context, hop_error *err)
{
    (void)context;
    fputs("partial", stream);
    return hop_error_set(err, HOP_ERR_DATA, "the writer failed");
}

Test(io, failed_writer_keeps_old_file, .init = make_folder, .fini = remove_folder)
{
    char path[128], text[64];
    in_folder(path, sizeof path, "model.safetensors");
    write_text(path, "old");
    hop_error err;
    cr_assert_eq(hop_write_file_with(path, failing_writer, NULL, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "the writer failed") != NULL, "%s", err.message);
    read_text(path, text, sizeof text);
    cr_assert_str_eq(text, "old");
    cr_assert_eq(folder_entries(), 1, "the temporary file is removed");
}

Test(io, safetensors_save_through_symlink, .init = make_folder, .fini = remove_folder)
{
    char real[128], link[128];
    in_folder(real, sizeof real, "real.safetensors");
    in_folder(link, sizeof link, "model.safetensors");
    cr_assert_eq(symlink("real.safetensors", link), 0);
    hop_st_writer w;
    hop_st_writer_init(&w);
    float values[2] = {1, 2};
    int64_t shape[1] = {2};
    hop_error err;
    cr_assert_eq(hop_st_writer_add(&w, "w", HOP_DTYPE_F32, 1, shape, values, &err), HOP_OK);
    cr_assert_eq(hop_st_writer_save(&w, link, &err), HOP_OK, "%s", err.message);
    hop_st_writer_free(&w);
    cr_assert(is_link(link));
    hop_safetensors st;
    cr_assert_eq(hop_safetensors_read(real, &st, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(st.count, 1);
    hop_safetensors_free(&st);
}

Test(io, image_grid_through_symlink, .init = make_folder, .fini = remove_folder)
{
    char real[128], link[128];
    in_folder(real, sizeof real, "real.png");
    in_folder(link, sizeof link, "grid.png");
    cr_assert_eq(symlink("real.png", link), 0);
    float cells[4] = {0, 0.5f, 1, 0.25f};
    hop_error err;
    cr_assert_eq(hop_image_grid_write(link, cells, 1, 1, 2, 2, 1, &err), HOP_OK, "%s", err.message);
    cr_assert(is_link(link));
    cr_assert(hop_png_file_valid(real));
}

static const double xs[3] = {1, 2, 3}, ys[3] = {3, 1, 2};

static hop_plot_spec one_series(hop_plot_series *series)
{
    *series = (hop_plot_series){"line", 3, xs, ys, false};
    return (hop_plot_spec){
        .title = "t", .xlabel = "x", .ylabel = "y", .n_series = 1, .series = series};
}

Test(io, plot_through_symlink, .init = make_folder, .fini = remove_folder)
{
    char real[128], link[128];
    in_folder(real, sizeof real, "real.png");
    in_folder(link, sizeof link, "plot.png");
    cr_assert_eq(symlink("real.png", link), 0);
    hop_plot_series series;
    hop_plot_spec spec = one_series(&series);
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, link, &err), HOP_OK, "%s", err.message);
    cr_assert(is_link(link));
    cr_assert(hop_png_file_valid(real));
}

Test(io, plot_missing_folder_names_user_path)
{
    const char *path = "/nonexistent/hop-io/plot.png";
    hop_plot_series series;
    hop_plot_spec spec = one_series(&series);
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, path) != NULL, "%s", err.message);
    cr_assert(strstr(err.message, ".tmp") == NULL, "%s", err.message);
    cr_assert(strstr(err.message, strerror(ENOENT)) != NULL, "%s", err.message);
}

Test(io, plot_failure_names_user_path, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    in_folder(path, sizeof path, "false.png");
    hop_plot_series series;
    hop_plot_spec spec = one_series(&series);
    spec.gnuplot = "false";
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, path) != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "exit status 1") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, ".tmp") == NULL, "%s", err.message);
}
