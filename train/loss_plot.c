#include "loss_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/memory.h"

hop_status loss_curves_init(loss_curves *curves, int repeats, int folds, int epochs, bool single,
                            hop_error *err)
{
    memset(curves, 0, sizeof *curves);
    size_t n = (size_t)repeats * (size_t)folds * (size_t)epochs;
    curves->loss = malloc(n * sizeof *curves->loss);
    if (!curves->loss)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %zu loss values", n);
    for (size_t i = 0; i < n; i++)
        curves->loss[i] = NAN;
    curves->repeats = repeats;
    curves->folds = folds;
    curves->epochs = epochs;
    curves->single = single;
    return HOP_OK;
}

void loss_curves_record(loss_curves *curves, int repeat, int fold, int epoch, double loss)
{
    if (!curves->loss)
        return;
    if (curves->single)
        fold = fold < 0 ? 0 : -1;
    if (fold < 0 || fold >= curves->folds || repeat < 0 || repeat >= curves->repeats || epoch < 0 ||
        epoch >= curves->epochs)
        return;
    size_t run = (size_t)repeat * (size_t)curves->folds + (size_t)fold;
    curves->loss[run * (size_t)curves->epochs + (size_t)epoch] = loss;
}

/* Mean over the folds of one repeat at each epoch; epochs no fold reached are left out. */
static int repeat_means(const loss_curves *c, int repeat, double *x, double *y)
{
    int n = 0;
    for (int e = 0; e < c->epochs; e++) {
        double sum = 0.0;
        int count = 0;
        for (int f = 0; f < c->folds; f++) {
            double v = c->loss[((size_t)repeat * (size_t)c->folds + (size_t)f) * (size_t)c->epochs +
                               (size_t)e];
            if (isfinite(v)) {
                sum += v;
                count++;
            }
        }
        if (count) {
            x[n] = e + 1;
            y[n] = sum / count;
            n++;
        }
    }
    return n;
}

hop_status loss_curves_plot(const loss_curves *curves, const char *dataset, const char *png_path,
                            hop_error *err)
{
    size_t points = (size_t)curves->repeats * (size_t)curves->epochs;
    double *x = malloc(points * sizeof *x), *y = malloc(points * sizeof *y);
    hop_plot_series *series = calloc((size_t)curves->repeats, sizeof *series);
    char(*titles)[64] = calloc((size_t)curves->repeats, sizeof *titles);
    hop_status status = HOP_OK;
    if (!x || !y || !series || !titles)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory plotting %s", png_path);

    for (int r = 0; status == HOP_OK && r < curves->repeats; r++) {
        size_t offset = (size_t)r * (size_t)curves->epochs;
        series[r].n = repeat_means(curves, r, x + offset, y + offset);
        series[r].x = x + offset;
        series[r].y = y + offset;
        if (curves->single)
            snprintf(titles[r], sizeof titles[r], "training loss");
        else
            snprintf(titles[r], sizeof titles[r], "repeat %d, mean of %d folds", r + 1,
                     curves->folds);
        series[r].title = titles[r];
    }
    char title[256];
    snprintf(title, sizeof title, "hop mil training loss: %s", dataset);
    hop_plot_spec spec = {.title = title,
                          .xlabel = "epoch",
                          .ylabel = "mean BCE loss per bag",
                          .n_series = curves->repeats,
                          .series = series};
    if (status == HOP_OK)
        status = hop_plot_lines(&spec, png_path, err);
    free(x);
    free(y);
    free(series);
    free(titles);
    return status;
}

void loss_curves_free(loss_curves *curves)
{
    free(curves->loss);
    curves->loss = NULL;
}
