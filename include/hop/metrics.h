/*
 * Evaluation metrics for binary classifiers: ROC AUC, accuracy, and the mean and sample
 * standard deviation used to summarise cross-validation runs.
 */
#ifndef HOP_METRICS_H
#define HOP_METRICS_H

#include <stddef.h>

#include "hop/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Computes the area under the ROC curve of scores against 0/1 labels: the probability that
 * a random positive scores higher than a random negative, with ties counted as 1/2 (the
 * Mann-Whitney statistic from average ranks). HOP_ERR_DATA when one class is absent,
 * HOP_ERR_ARG for a label other than 0/1, HOP_ERR_NUMERIC for a NaN score.
 */
hop_status hop_roc_auc(const float *scores, const int *labels, size_t n, double *auc,
                       hop_error *err);

/*
 * Computes the fraction of n predictions that match labels, where probability p predicts
 * class 1 when p >= 0.5. Rejects n = 0, labels other than 0/1 and NaN probabilities.
 */
hop_status hop_accuracy(const float *probabilities, const int *labels, size_t n, double *accuracy,
                        hop_error *err);

/*
 * Computes the mean and the sample standard deviation (divides by n - 1, and is 0 for
 * n = 1) of n values. Rejects n = 0.
 */
hop_status hop_mean_std(const double *values, size_t n, double *mean, double *std, hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
