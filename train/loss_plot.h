/* Training-loss curves of hop mil, kept per epoch and drawn as a PNG with gnuplot. */
#ifndef HOP_TRAIN_LOSS_PLOT_H
#define HOP_TRAIN_LOSS_PLOT_H

#include <stdbool.h>

#include "hop/base.h"

typedef struct loss_curves {
    int repeats;
    int folds;
    int epochs;
    bool single;  /* one training run (fold -1), as in the demos */
    double *loss; /* repeats x folds x epochs mean epoch losses, NAN where not reached */
} loss_curves;

/* Allocates room for repeats x folds runs of epochs epochs; single keeps one run. */
hop_status loss_curves_init(loss_curves *curves, int repeats, int folds, int epochs, bool single,
                            hop_error *err);

/* Records one epoch's loss; runs that do not belong to the curves (fold -1 in
 * cross-validation, the final model) are ignored. */
void loss_curves_record(loss_curves *curves, int repeat, int fold, int epoch, double loss);

/* Draws one line per repeat: the mean loss over its folds at each epoch. */
hop_status loss_curves_plot(const loss_curves *curves, const char *dataset, const char *png_path,
                            hop_error *err);

void loss_curves_free(loss_curves *curves);

#endif
