#include "hop/metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored_label {
    float score;
    int label;
} scored_label;

static int compare_scores(const void *a, const void *b)
{
    float x = ((const scored_label *)a)->score;
    float y = ((const scored_label *)b)->score;
    return (x > y) - (x < y);
}

static hop_status check_labels(const float *values, const int *labels, size_t n, const char *what,
                               size_t counts[2], hop_error *err)
{
    counts[0] = 0;
    counts[1] = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return hop_error_set(err, HOP_ERR_ARG, "label %zu is %d; labels must be 0 or 1", i,
                                 labels[i]);
        if (isnan(values[i]))
            return hop_error_set(err, HOP_ERR_NUMERIC,
                                 "%s %zu is NaN; the model output is not finite", what, i);
        counts[labels[i]]++;
    }
    return HOP_OK;
}

/* Returns the sum of the 1-based ranks of the positives, giving tied scores their
 * average rank. sorted must be in increasing score order. */
static double positive_rank_sum(const scored_label *sorted, size_t n)
{
    double rank_sum = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        size_t positives = 0;
        while (j < n && sorted[j].score == sorted[i].score)
            positives += (size_t)sorted[j++].label;

        double average_rank = ((double)(i + 1) + (double)j) / 2.0;
        rank_sum += average_rank * (double)positives;
        i = j;
    }
    return rank_sum;
}

hop_status hop_roc_auc(const float *scores, const int *labels, size_t n, double *auc,
                       hop_error *err)
{
    size_t counts[2];
    hop_status status = check_labels(scores, labels, n, "score", counts, err);
    if (status != HOP_OK)
        return status;
    if (counts[0] == 0 || counts[1] == 0)
        return hop_error_set(err, HOP_ERR_DATA,
                             "ROC AUC needs both classes, but the %zu labels have %zu negatives "
                             "and %zu positives",
                             n, counts[0], counts[1]);

    scored_label *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory sorting %zu scores", n);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (scored_label){.score = scores[i], .label = labels[i]};
    qsort(sorted, n, sizeof *sorted, compare_scores);

    double n_pos = (double)counts[1];
    double n_neg = (double)counts[0];
    double u = positive_rank_sum(sorted, n) - n_pos * (n_pos + 1.0) / 2.0;
    *auc = u / (n_pos * n_neg);
    free(sorted);
    return HOP_OK;
}

hop_status hop_accuracy(const float *probabilities, const int *labels, size_t n, double *accuracy,
                        hop_error *err)
{
    if (n == 0)
        return hop_error_set(err, HOP_ERR_ARG, "accuracy needs at least one prediction");

    size_t counts[2];
    hop_status status = check_labels(probabilities, labels, n, "probability", counts, err);
    if (status != HOP_OK)
        return status;

    size_t correct = 0;
    for (size_t i = 0; i < n; i++)
        correct += (probabilities[i] >= 0.5f) == (labels[i] == 1);
    *accuracy = (double)correct / (double)n;
    return HOP_OK;
}

hop_status hop_mean_std(const double *values, size_t n, double *mean, double *std, hop_error *err)
{
    if (n == 0)
        return hop_error_set(err, HOP_ERR_ARG,
                             "mean and standard deviation need at least one "
                             "value");

    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += values[i];
    *mean = sum / (double)n;

    double squares = 0.0;
    for (size_t i = 0; i < n; i++)
        squares += (values[i] - *mean) * (values[i] - *mean);
    *std = n > 1 ? sqrt(squares / (double)(n - 1)) : 0.0;
    return HOP_OK;
}
