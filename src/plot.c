/* Line plots through gnuplot and grayscale image grids through stb_image_write. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hop/io.h"
#include "hop/memory.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#define PATH_CAPACITY 4096

int hop_png_file_valid(const char *path)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* A complete PNG ends with the empty IEND chunk: length 0, type, CRC. */
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    unsigned char head[8], tail[12];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int ok = fread(head, 1, sizeof head, f) == sizeof head &&
             memcmp(head, signature, sizeof head) == 0 &&
             fseek(f, -(long)sizeof tail, SEEK_END) == 0 &&
             fread(tail, 1, sizeof tail, f) == sizeof tail && memcmp(tail, iend, sizeof tail) == 0;
    fclose(f);
    return ok;
}

/* Writes s as a gnuplot single-quoted string, where a quote is written twice. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n' && *s != '\r')
            fputc(*s, f);
    }
    fputc('\'', f);
}

static hop_status check_spec(const hop_plot_spec *spec, const char *png_path, hop_error *err)
{
    if (!png_path || !png_path[0])
        return hop_error_set(err, HOP_ERR_ARG, "plot: the PNG path is empty");
    if (strlen(png_path) > PATH_CAPACITY - 32)
        return hop_error_set(err, HOP_ERR_ARG, "plot: the PNG path is too long");
    if (spec->n_series < 1 || !spec->series)
        return hop_error_set(err, HOP_ERR_ARG, "plot %s: no series to draw", png_path);
    for (int s = 0; s < spec->n_series; s++) {
        const hop_plot_series *series = &spec->series[s];
        if (series->n < 0 || (series->n > 0 && (!series->x || !series->y)))
            return hop_error_set(err, HOP_ERR_ARG, "plot %s: series %d has no data", png_path, s);
    }
    return HOP_OK;
}

/* One gnuplot data block per series, separated by two blank lines (gnuplot's "index"). */
static hop_status write_data(const hop_plot_spec *spec, const char *path, hop_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot write %s: %s", path, strerror(errno));
    for (int s = 0; s < spec->n_series; s++) {
        const hop_plot_series *series = &spec->series[s];
        int written = 0;
        for (int i = 0; i < series->n; i++) {
            bool usable = isfinite(series->x[i]) && isfinite(series->y[i]) &&
                          (!spec->logx || series->x[i] > 0) && (!spec->logy || series->y[i] > 0);
            if (usable) {
                fprintf(f, "%.9g %.9g\n", series->x[i], series->y[i]);
                written++;
            }
        }
        /* An empty block would shift gnuplot's index numbers, so it gets a missing point. */
        if (written == 0)
            fprintf(f, "NaN NaN\n");
        fprintf(f, "\n\n");
    }
    int ok = fflush(f) == 0;
    ok = fclose(f) == 0 && ok;
    return ok ? HOP_OK : hop_error_set(err, HOP_ERR_IO, "plot: cannot write %s", path);
}

static hop_status write_script(const hop_plot_spec *spec, const char *script, const char *data,
                               const char *png, hop_error *err)
{
    FILE *f = fopen(script, "w");
    if (!f)
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot write %s: %s", script, strerror(errno));
    int width = spec->width > 0 ? spec->width : 800, height = spec->height > 0 ? spec->height : 560;
    fprintf(f, "set terminal pngcairo size %d,%d enhanced font 'Sans,11'\nset output ", width,
            height);
    put_quoted(f, png);
    fprintf(f, "\nset title ");
    put_quoted(f, spec->title);
    fprintf(f, " noenhanced\nset xlabel ");
    put_quoted(f, spec->xlabel);
    fprintf(f, " noenhanced\nset ylabel ");
    put_quoted(f, spec->ylabel);
    fprintf(f, " noenhanced\nset grid\nset key below noenhanced\n");
    if (spec->logx)
        fprintf(f, "set logscale x\n");
    if (spec->logy)
        fprintf(f, "set logscale y\nset format y '10^{%%L}'\n");
    fprintf(f, "plot ");
    for (int s = 0; s < spec->n_series; s++) {
        put_quoted(f, data);
        fprintf(f, " index %d using 1:2 with %s title ", s,
                spec->series[s].points ? "points pt 7 ps 0.6" : "linespoints pt 7 lw 2");
        put_quoted(f, spec->series[s].title);
        fprintf(f, "%s", s + 1 < spec->n_series ? ", \\\n     " : "\n");
    }
    int ok = fflush(f) == 0;
    ok = fclose(f) == 0 && ok;
    return ok ? HOP_OK : hop_error_set(err, HOP_ERR_IO, "plot: cannot write %s", script);
}

/* The first line of gnuplot's output, for error messages. */
static void first_line(const char *path, char *line, size_t size)
{
    line[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, (int)size, f) && (line[0] == '\n' || line[0] == '\0'))
        ;
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
}

/* Runs program with the script as its only argument (no shell), output into log. */
static hop_status run_gnuplot(const char *program, const char *script, const char *log,
                              const char *png_path, hop_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot draw %s: cannot start %s: %s", png_path,
                             program, strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execlp(program, program, script, (char *)NULL);
        _exit(127);
    }

    int raw = 0;
    while (waitpid(pid, &raw, 0) < 0)
        if (errno != EINTR)
            return hop_error_set(err, HOP_ERR_IO, "plot: cannot draw %s: waiting for %s failed: %s",
                                 png_path, program, strerror(errno));
    if (WIFEXITED(raw) && WEXITSTATUS(raw) == 127)
        return hop_error_set(err, HOP_ERR_IO,
                             "plot: cannot draw %s: %s was not found; install the Debian package "
                             "gnuplot-nox",
                             png_path, program);
    if (WIFEXITED(raw) && WEXITSTATUS(raw) == 0)
        return HOP_OK;
    char line[256];
    first_line(log, line, sizeof line);
    if (WIFSIGNALED(raw))
        return hop_error_set(err, HOP_ERR_IO,
                             "plot: cannot draw %s: %s was killed by signal %d: %s", png_path,
                             program, WTERMSIG(raw), line);
    return hop_error_set(err, HOP_ERR_IO,
                         "plot: cannot draw %s: %s failed with exit status %d; its first output "
                         "line: %s",
                         png_path, program, WEXITSTATUS(raw), line);
}

/* Copies the PNG gnuplot rendered (the path in context) into stream. */
static hop_status copy_rendered(FILE *stream, void *context, hop_error *err)
{
    const char *rendered = context;
    FILE *in = fopen(rendered, "rb");
    if (!in)
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot read gnuplot's output %s: %s", rendered,
                             strerror(errno));
    char buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0 && fwrite(buffer, 1, n, stream) == n)
        ;
    int failed = ferror(in);
    fclose(in);
    if (failed)
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot read gnuplot's output %s", rendered);
    return HOP_OK;
}

typedef struct plot_files {
    char dir[64];
    char data[96];
    char script[96];
    char log[96];
    char png[96];
} plot_files;

static hop_status plot_files_make(plot_files *p, hop_error *err)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/hop-plot-XXXXXX");
    if (!mkdtemp(p->dir))
        return hop_error_set(err, HOP_ERR_IO, "plot: cannot create a folder in /tmp: %s",
                             strerror(errno));
    snprintf(p->data, sizeof p->data, "%s/data.txt", p->dir);
    snprintf(p->script, sizeof p->script, "%s/plot.gp", p->dir);
    snprintf(p->log, sizeof p->log, "%s/gnuplot.log", p->dir);
    snprintf(p->png, sizeof p->png, "%s/plot.png", p->dir);
    return HOP_OK;
}

static void plot_files_remove(const plot_files *p)
{
    remove(p->data);
    remove(p->script);
    remove(p->log);
    remove(p->png);
    rmdir(p->dir);
}

hop_status hop_plot_lines(const hop_plot_spec *spec, const char *png_path, hop_error *err)
{
    hop_status status = check_spec(spec, png_path, err);
    plot_files files;
    if (status == HOP_OK)
        status = plot_files_make(&files, err);
    if (status != HOP_OK)
        return status;

    const char *program = spec->gnuplot ? spec->gnuplot : "gnuplot";
    status = write_data(spec, files.data, err);
    if (status == HOP_OK)
        status = write_script(spec, files.script, files.data, files.png, err);
    if (status == HOP_OK)
        status = run_gnuplot(program, files.script, files.log, png_path, err);
    if (status == HOP_OK && !hop_png_file_valid(files.png))
        status =
            hop_error_set(err, HOP_ERR_IO, "plot: cannot draw %s: %s exited 0 but wrote no PNG",
                          png_path, program);
    if (status == HOP_OK)
        status = hop_write_file_with(png_path, copy_rendered, files.png, err);
    plot_files_remove(&files);
    return status;
}

typedef struct png_buffer {
    unsigned char *data;
    size_t size, capacity;
    bool failed;
} png_buffer;

static void png_append(void *context, void *data, int size)
{
    png_buffer *b = context;
    if (b->failed)
        return;
    if (b->size + (size_t)size > b->capacity) {
        size_t capacity = (b->capacity + (size_t)size) * 2;
        unsigned char *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, data, (size_t)size);
    b->size += (size_t)size;
}

/* Draws cell (r, c) of the grid into pixels. */
static void draw_cell(unsigned char *pixels, int stride, const float *image, int width, int height,
                      int scale, int x0, int y0)
{
    for (int y = 0; y < height * scale; y++) {
        for (int x = 0; x < width * scale; x++) {
            float v = image[(size_t)(y / scale) * width + x / scale];
            int level = isnan(v) ? 128 : (int)lrintf(fminf(fmaxf(v, 0.0f), 1.0f) * 255.0f);
            pixels[(size_t)(y0 + y) * stride + x0 + x] = (unsigned char)level;
        }
    }
}

hop_status hop_image_grid_write(const char *png_path, const float *images, int rows, int cols,
                                int width, int height, int scale, hop_error *err)
{
    if (rows < 1 || cols < 1 || width < 1 || height < 1 || scale < 1 || scale > 64)
        return hop_error_set(err, HOP_ERR_ARG,
                             "image grid %s: %d x %d cells of %d x %d at scale %d are invalid",
                             png_path, rows, cols, width, height, scale);
    long total_w = (long)cols * (width * scale + 1) + 1,
         total_h = (long)rows * (height * scale + 1) + 1;
    if (total_w > 16384 || total_h > 16384)
        return hop_error_set(err, HOP_ERR_ARG,
                             "image grid %s would be %ld x %ld pixels; the limit "
                             "is 16384 per side",
                             png_path, total_w, total_h);
    unsigned char *pixels = malloc((size_t)total_w * (size_t)total_h);
    if (!pixels)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for image grid %s", png_path);
    memset(pixels, 255, (size_t)total_w * (size_t)total_h);

    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            draw_cell(pixels, (int)total_w, images + ((size_t)r * cols + c) * width * height, width,
                      height, scale, 1 + c * (width * scale + 1), 1 + r * (height * scale + 1));
    png_buffer buffer = {0};
    int ok = stbi_write_png_to_func(png_append, &buffer, (int)total_w, (int)total_h, 1, pixels,
                                    (int)total_w);
    free(pixels);
    hop_status status = HOP_OK;
    if (!ok || buffer.failed)
        status = hop_error_set(err, HOP_ERR_NOMEM, "image grid %s: PNG encoding failed", png_path);
    else
        status = hop_write_file_atomic(png_path, buffer.data, buffer.size, err);
    free(buffer.data);
    return status;
}
