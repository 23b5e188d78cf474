/* gnuplot plots, image grids and the hop memory subcommands that write them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hop/memory.h"
#include "support/shell.h"

static char folder[64];

static void make_folder(void)
{
    snprintf(folder, sizeof folder, "/tmp/hop-plot-test-XXXXXX");
    cr_assert_not_null(mkdtemp(folder));
}

static void remove_folder(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    cr_assert_eq(system(command), 0);
}

static const double xs[4] = {1, 2, 4, 8}, ys[4] = {1, 0.5, 0.25, 0.125};

static hop_plot_spec line_spec(hop_plot_series *series)
{
    series[0] = (hop_plot_series){"halving", 4, xs, ys, false};
    series[1] = (hop_plot_series){"points", 4, ys, xs, true};
    hop_plot_spec spec = {.title = "test",
                          .xlabel = "x",
                          .ylabel = "y",
                          .logy = true,
                          .n_series = 2,
                          .series = series};
    return spec;
}

/* Reads the width and height of a PNG from its IHDR chunk. */
static void png_size(const char *path, int *width, int *height)
{
    unsigned char head[24];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", path);
    cr_assert_eq(fread(head, 1, 24, f), 24u);
    fclose(f);
    *width = head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    *height = head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
}

Test(plot, lines_write_png, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/lines.png", folder);
    hop_plot_series series[2];
    hop_plot_spec spec = line_spec(series);
    spec.width = 640;
    spec.height = 400;
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_OK, "%s", err.message);
    cr_assert(hop_png_file_valid(path));
    int w = 0, h = 0;
    png_size(path, &w, &h);
    cr_assert_eq(w, 640);
    cr_assert_eq(h, 400);
}

Test(plot, quotes_in_paths_and_titles, .init = make_folder, .fini = remove_folder)
{
    char path[160];
    snprintf(path, sizeof path, "%s/it's a plot; rm -rf x.png", folder);
    hop_plot_series series[2];
    hop_plot_spec spec = line_spec(series);
    spec.title = "quote ' and \" and `backtick` and $(echo hi)";
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_OK, "%s", err.message);
    cr_assert(hop_png_file_valid(path));
}

Test(plot, replaces_existing_file, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/old.png", folder);
    FILE *f = fopen(path, "w");
    fputs("not a png", f);
    fclose(f);
    cr_assert(!hop_png_file_valid(path));
    hop_plot_series series[2];
    hop_plot_spec spec = line_spec(series);
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_OK, "%s", err.message);
    cr_assert(hop_png_file_valid(path));
}

Test(plot, missing_gnuplot_names_package, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/none.png", folder);
    hop_plot_series series[2];
    hop_plot_spec spec = line_spec(series);
    spec.gnuplot = "/nonexistent/gnuplot";
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, "gnuplot-nox") != NULL, "%s", err.message);
    cr_assert_eq(access(path, F_OK), -1, "no PNG is left behind");
}

Test(plot, failing_program_reports_status, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/false.png", folder);
    hop_plot_series series[2];
    hop_plot_spec spec = line_spec(series);
    spec.gnuplot = "false";
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, "exit status 1") != NULL, "%s", err.message);

    spec.gnuplot = "true";
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_ERR_IO);
    cr_assert(strstr(err.message, "wrote no PNG") != NULL, "%s", err.message);
}

Test(plot, empty_series_is_rejected)
{
    hop_plot_spec spec = {.title = "t", .n_series = 0};
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, "/tmp/x.png", &err), HOP_ERR_ARG);
    cr_assert(strstr(err.message, "no series") != NULL, "%s", err.message);
}

Test(plot, log_axis_skips_nonpositive, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/zeros.png", folder);
    const double y[4] = {0, 0, 0, 0};
    hop_plot_series series[2] = {{"zeros", 4, xs, y, true}, {"halving", 4, xs, ys, false}};
    hop_plot_spec spec = {.title = "t", .logy = true, .n_series = 2, .series = series};
    hop_error err;
    cr_assert_eq(hop_plot_lines(&spec, path, &err), HOP_OK, "%s", err.message);
    cr_assert(hop_png_file_valid(path));
}

Test(plot, image_grid_size, .init = make_folder, .fini = remove_folder)
{
    char path[128];
    snprintf(path, sizeof path, "%s/grid.png", folder);
    float images[6 * 4];
    for (int i = 0; i < 24; i++)
        images[i] = (float)i / 23.0f;
    images[5] = 0.0f / 0.0f;
    hop_error err;
    cr_assert_eq(hop_image_grid_write(path, images, 2, 3, 2, 2, 3, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(hop_png_file_valid(path));
    int w = 0, h = 0;
    png_size(path, &w, &h);
    cr_assert_eq(w, 3 * (2 * 3 + 1) + 1);
    cr_assert_eq(h, 2 * (2 * 3 + 1) + 1);
    cr_assert_eq(hop_image_grid_write(path, images, 0, 3, 2, 2, 3, &err), HOP_ERR_ARG);
}

/* Runs the hop program with args in folder; returns its exit status. */
static int run_hop(const char *args, char *err_text, size_t size)
{
    char command[2048], err_path[128];
    snprintf(err_path, sizeof err_path, "%s/stderr", folder);
    snprintf(command, sizeof command, "cd '%s' && %s %s >/dev/null 2>'%s'", folder, HOP_CLI_PATH,
             args, err_path);
    int status = test_exit_status(system(command));
    test_read_text(err_path, err_text, size);
    return status;
}

static void check_outputs(const char *csv, const char *png, const char *header)
{
    char path[160], line[256] = "";
    snprintf(path, sizeof path, "%s/%s", folder, png);
    cr_assert(hop_png_file_valid(path), "%s is not a PNG", path);
    snprintf(path, sizeof path, "%s/%s", folder, csv);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s is missing", path);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert(strncmp(line, header, strlen(header)) == 0, "%s header: %s", csv, line);
    cr_assert_not_null(fgets(line, sizeof line, f), "%s has no rows", csv);
    fclose(f);
}

Test(plot, capacity_command_writes_png, .init = make_folder, .fini = remove_folder)
{
    char err[4096];
    int status = run_hop("memory capacity --dims 8,16 --max-patterns 64 --queries 20 --quiet "
                         "--out-csv c.csv --out-png c.png",
                         err, sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
    check_outputs("c.csv", "c.png", "network,dim,n_patterns,success_rate");
}

Test(plot, onestep_command_writes_png, .init = make_folder, .fini = remove_folder)
{
    char err[4096];
    int status =
        run_hop("memory onestep --trials 30 --out-csv o.csv --out-png o.png", err, sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
    check_outputs("o.csv", "o.png", "trial,spread,delta,error,bound");
}

Test(plot, fixedpoints_command_writes_png, .init = make_folder, .fini = remove_folder)
{
    char err[4096];
    int status = run_hop("memory fixedpoints --queries 8 --betas 4 --out-csv f.csv --out-png f.png",
                         err, sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
    check_outputs("f.csv", "f.png", "beta,query,steps,converged,k,kind,subset_distance");
}

Test(plot, images_command_writes_png, .init = make_folder, .fini = remove_folder)
{
    char err[4096];
    int status =
        run_hop("memory images --betas 0,4 --out-csv i.csv --out-png i.png", err, sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
    check_outputs("i.csv", "i.png", "beta,mse,accuracy");
    status = run_hop("memory images --corruption noise --noise 0.5 --out-csv j.csv --out-png "
                     "j.png",
                     err, sizeof err);
    cr_assert_eq(status, 0, "stderr: %s", err);
    check_outputs("j.csv", "j.png", "beta,mse,accuracy");
}

Test(plot, memory_help_lists_flags, .init = make_folder, .fini = remove_folder)
{
    const char *subs[4] = {"capacity", "onestep", "fixedpoints", "images"};
    for (int i = 0; i < 4; i++) {
        char args[128], out_path[160], command[512], text[8192];
        snprintf(out_path, sizeof out_path, "%s/help.txt", folder);
        snprintf(args, sizeof args, "memory %s --help", subs[i]);
        snprintf(command, sizeof command, "%s %s >'%s'", HOP_CLI_PATH, args, out_path);
        cr_assert_eq(system(command), 0, "%s", args);
        FILE *f = fopen(out_path, "r");
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        cr_assert(strstr(text, "--out-csv") != NULL, "%s: %s", subs[i], text);
        cr_assert(strstr(text, "--out-png") != NULL, "%s: %s", subs[i], text);
        cr_assert(strstr(text, "--seed") != NULL, "%s: %s", subs[i], text);
        cr_assert(strstr(text, "(default") != NULL, "%s: %s", subs[i], text);
    }
}

Test(plot, memory_bad_flags_fail, .init = make_folder, .fini = remove_folder)
{
    char err[4096];
    cr_assert_eq(run_hop("memory capacity --networks classical,boltzmann", err, sizeof err), 2);
    cr_assert(strstr(err, "hop memory capacity: unknown network 'boltzmann'") != NULL, "%s", err);
    cr_assert_eq(run_hop("memory capacity --dims 8,x", err, sizeof err), 2);
    cr_assert(strstr(err, "--dims") != NULL, "%s", err);
    cr_assert_eq(run_hop("memory fixedpoints --separation argmax", err, sizeof err), 1);
    cr_assert(strstr(err, "'argmax'") != NULL, "%s", err);
    cr_assert_eq(run_hop("memory images --corruption blur", err, sizeof err), 1);
    cr_assert(strstr(err, "'blur'") != NULL, "%s", err);
    cr_assert_eq(run_hop("memory sideways", err, sizeof err), 2);
    cr_assert(strstr(err, "unknown subcommand 'sideways'") != NULL, "%s", err);
    cr_assert_eq(
        run_hop("memory onestep --out-png /nonexistent/dir/o.png --out-csv o.csv", err, sizeof err),
        2);
    cr_assert(strstr(err, "/nonexistent/dir/o.png") != NULL, "%s", err);
}
