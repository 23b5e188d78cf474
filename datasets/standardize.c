/* Per-feature standardisation fitted on a subset of bags. */
#include "hop/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hop_standardizer_free(hop_standardizer *standardizer)
{
    if (!standardizer)
        return;
    free(standardizer->mean);
    free(standardizer->std);
    memset(standardizer, 0, sizeof *standardizer);
}

static const char *source_name(const hop_mil_dataset *dataset)
{
    return dataset->source ? dataset->source : "<dataset>";
}

static hop_status check_bags(const hop_mil_dataset *dataset, const int *bags, int n_bags,
                             long long *n_instances, hop_error *err)
{
    if (n_bags < 1 || !bags)
        return hop_error_set(err, HOP_ERR_ARG,
                             "%s: standardisation needs at least one bag to fit on (got %d)",
                             source_name(dataset), n_bags);

    *n_instances = 0;
    for (int i = 0; i < n_bags; i++) {
        if (bags[i] < 0 || bags[i] >= dataset->n_bags)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "%s: bag index %d (entry %d) is out of range; the dataset has "
                                 "bags 0 to %d",
                                 source_name(dataset), bags[i], i, dataset->n_bags - 1);
        *n_instances += dataset->bag_start[bags[i] + 1] - dataset->bag_start[bags[i]];
    }
    if (*n_instances == 0)
        return hop_error_set(err, HOP_ERR_DATA, "%s: the %d bags to fit on have no instances",
                             source_name(dataset), n_bags);
    return HOP_OK;
}

/* Adds each feature of the selected instances to sum and tracks its minimum and maximum. */
static void sum_features(const hop_mil_dataset *dataset, const int *bags, int n_bags, double *sum,
                         float *min, float *max)
{
    size_t dim = (size_t)dataset->dim;
    for (size_t j = 0; j < dim; j++) {
        min[j] = INFINITY;
        max[j] = -INFINITY;
    }
    for (int s = 0; s < n_bags; s++) {
        for (int i = dataset->bag_start[bags[s]]; i < dataset->bag_start[bags[s] + 1]; i++) {
            const float *row = dataset->features + (size_t)i * dim;
            for (size_t j = 0; j < dim; j++) {
                sum[j] += row[j];
                min[j] = fminf(min[j], row[j]);
                max[j] = fmaxf(max[j], row[j]);
            }
        }
    }
}

/* A second pass over the deviations avoids the cancellation of sum(x^2) - n mean^2. */
static void sum_squared_deviations(const hop_mil_dataset *dataset, const int *bags, int n_bags,
                                   const double *mean, double *sum)
{
    size_t dim = (size_t)dataset->dim;
    for (int s = 0; s < n_bags; s++) {
        for (int i = dataset->bag_start[bags[s]]; i < dataset->bag_start[bags[s] + 1]; i++) {
            const float *row = dataset->features + (size_t)i * dim;
            for (size_t j = 0; j < dim; j++)
                sum[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
        }
    }
}

hop_status hop_standardizer_fit(hop_standardizer *standardizer, const hop_mil_dataset *dataset,
                                const int *bags, int n_bags, hop_error *err)
{
    long long n_instances = 0;
    hop_status status = check_bags(dataset, bags, n_bags, &n_instances, err);
    if (status != HOP_OK)
        return status;

    int dim = dataset->dim;
    hop_standardizer_free(standardizer);
    standardizer->mean = calloc((size_t)dim, sizeof *standardizer->mean);
    standardizer->std = calloc((size_t)dim, sizeof *standardizer->std);
    float *min = malloc((size_t)dim * sizeof *min);
    float *max = malloc((size_t)dim * sizeof *max);
    if (!standardizer->mean || !standardizer->std || !min || !max) {
        free(min);
        free(max);
        hop_standardizer_free(standardizer);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory fitting %d features", dim);
    }
    standardizer->dim = dim;

    double *mean = standardizer->mean;
    double *std = standardizer->std;
    sum_features(dataset, bags, n_bags, mean, min, max);
    for (int j = 0; j < dim; j++)
        mean[j] /= (double)n_instances;

    sum_squared_deviations(dataset, bags, n_bags, mean, std);
    for (int j = 0; j < dim; j++)
        std[j] = min[j] == max[j] ? 1.0 : sqrt(std[j] / (double)n_instances);

    free(min);
    free(max);
    return HOP_OK;
}

hop_status hop_standardizer_apply(const hop_standardizer *standardizer, hop_mil_dataset *dataset,
                                  hop_error *err)
{
    if (standardizer->dim != dataset->dim || !standardizer->mean)
        return hop_error_set(err, HOP_ERR_SHAPE,
                             "%s: the standardizer was fitted on %d features but the dataset "
                             "has %d",
                             source_name(dataset), standardizer->dim, dataset->dim);

    for (int i = 0; i < dataset->n_instances; i++) {
        float *row = dataset->features + (size_t)i * (size_t)dataset->dim;
        for (int j = 0; j < dataset->dim; j++)
            row[j] = (float)((row[j] - standardizer->mean[j]) / standardizer->std[j]);
    }
    return HOP_OK;
}
