/* MIL dataset construction, copying and validation. The parsers are in mil_parse.c. */
#include "hop/data.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *copy_string(const char *text)
{
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy)
        memcpy(copy, text, length + 1);
    return copy;
}

void hop_mil_free(hop_mil_dataset *dataset)
{
    if (!dataset)
        return;
    if (dataset->bag_names)
        for (int b = 0; b < dataset->n_bags; b++)
            free(dataset->bag_names[b]);
    free(dataset->bag_names);
    free(dataset->features);
    free(dataset->bag_start);
    free(dataset->labels);
    free(dataset->instance_labels);
    free(dataset->source);
    memset(dataset, 0, sizeof *dataset);
}

/* Allocates every array of *out for the given sizes; names stay NULL until filled. */
static hop_status allocate(hop_mil_dataset *out, int n_bags, int n_instances, int dim,
                           int with_instance_labels, const char *source, hop_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_bags = n_bags;
    out->n_instances = n_instances;
    out->dim = dim;
    out->features = malloc((size_t)n_instances * (size_t)dim * sizeof *out->features);
    out->bag_start = malloc(((size_t)n_bags + 1) * sizeof *out->bag_start);
    out->labels = malloc((size_t)n_bags * sizeof *out->labels);
    out->bag_names = calloc((size_t)n_bags, sizeof *out->bag_names);
    out->source = copy_string(source ? source : "<arrays>");
    if (with_instance_labels)
        out->instance_labels = malloc((size_t)n_instances * sizeof *out->instance_labels);

    int missing = !out->features || !out->bag_start || !out->labels || !out->bag_names ||
                  !out->source || (with_instance_labels && !out->instance_labels);
    if (missing) {
        hop_mil_free(out);
        return hop_error_set(err, HOP_ERR_NOMEM,
                             "out of memory for a dataset of %d bags and %d instances of %d "
                             "features",
                             n_bags, n_instances, dim);
    }
    return HOP_OK;
}

static hop_status set_name(hop_mil_dataset *out, int bag, const char *name, hop_error *err)
{
    char number[24];
    if (!name) {
        snprintf(number, sizeof number, "%d", bag + 1);
        name = number;
    }
    out->bag_names[bag] = copy_string(name);
    if (!out->bag_names[bag]) {
        hop_mil_free(out);
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory for the name of bag %d", bag + 1);
    }
    return HOP_OK;
}

static const char *name_or_number(const char *const *names, int bag, char *buf, size_t size)
{
    if (names && names[bag])
        return names[bag];
    snprintf(buf, size, "%d", bag + 1);
    return buf;
}

static hop_status check_bag_arrays(int n_bags, const int *bag_sizes, const int *labels,
                                   const char *const *names, int *n_instances, hop_error *err)
{
    long long total = 0;
    char number[24];

    for (int b = 0; b < n_bags; b++) {
        const char *name = name_or_number(names, b, number, sizeof number);
        if (bag_sizes[b] < 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "bag \"%s\" (index %d) has %d instances; every bag needs at "
                                 "least one instance, so drop the empty bag",
                                 name, b, bag_sizes[b]);
        if (labels[b] != 0 && labels[b] != 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "bag \"%s\" (index %d) has label %d; labels must be 0 or 1", name,
                                 b, labels[b]);
        total += bag_sizes[b];
        if (total > INT_MAX)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "bags 1 to %d have more than %d instances in total", b + 1,
                                 INT_MAX);
    }
    *n_instances = (int)total;
    return HOP_OK;
}

static hop_status check_instances(const char *source, const float *features,
                                  const int *instance_labels, int n_instances, int dim,
                                  hop_error *err)
{
    for (int i = 0; i < n_instances; i++) {
        for (int j = 0; j < dim; j++)
            if (!isfinite(features[(size_t)i * (size_t)dim + (size_t)j]))
                return hop_error_set(err, HOP_ERR_NUMERIC,
                                     "%s: instance %d, feature %d is %g; features must be "
                                     "finite",
                                     source, i, j, features[(size_t)i * (size_t)dim + (size_t)j]);
        if (instance_labels && instance_labels[i] != 0 && instance_labels[i] != 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: instance %d has instance label %d; it must be 0 or 1", source,
                                 i, instance_labels[i]);
    }
    return HOP_OK;
}

hop_status hop_mil_from_arrays(int n_bags, int dim, const float *features, const int *bag_sizes,
                               const int *labels, const char *const *names,
                               const int *instance_labels, const char *source, hop_mil_dataset *out,
                               hop_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_bags < 1 || dim < 1 || !features || !bag_sizes || !labels)
        return hop_error_set(err, HOP_ERR_ARG,
                             "a dataset needs at least one bag and one feature and non-NULL "
                             "features, bag sizes and labels (got %d bags, %d features)",
                             n_bags, dim);

    int n_instances = 0;
    hop_status status = check_bag_arrays(n_bags, bag_sizes, labels, names, &n_instances, err);
    if (status == HOP_OK)
        status = check_instances(source ? source : "<arrays>", features, instance_labels,
                                 n_instances, dim, err);
    if (status == HOP_OK)
        status = allocate(out, n_bags, n_instances, dim, instance_labels != NULL, source, err);
    if (status != HOP_OK)
        return status;

    size_t n_values = (size_t)n_instances * (size_t)dim;
    memcpy(out->features, features, n_values * sizeof *features);
    memcpy(out->labels, labels, (size_t)n_bags * sizeof *labels);
    if (instance_labels)
        memcpy(out->instance_labels, instance_labels, (size_t)n_instances * sizeof(int));

    out->bag_start[0] = 0;
    for (int b = 0; b < n_bags; b++) {
        out->bag_start[b + 1] = out->bag_start[b] + bag_sizes[b];
        status = set_name(out, b, names ? names[b] : NULL, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

static const char *source_name(const hop_mil_dataset *dataset)
{
    return dataset->source ? dataset->source : "<dataset>";
}

static const char *bag_name(const hop_mil_dataset *dataset, int bag)
{
    return dataset->bag_names ? dataset->bag_names[bag] : NULL;
}

static const char *display_name(const hop_mil_dataset *dataset, int bag)
{
    const char *name = bag_name(dataset, bag);
    return name ? name : "?";
}

static int bag_size(const hop_mil_dataset *dataset, int bag)
{
    return dataset->bag_start[bag + 1] - dataset->bag_start[bag];
}

static hop_status check_selection(const hop_mil_dataset *dataset, const int *bags, int n_bags,
                                  long long *n_instances, hop_error *err)
{
    *n_instances = 0;
    for (int i = 0; i < n_bags; i++) {
        int b = bags[i];
        if (b < 0 || b >= dataset->n_bags)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "%s: bag index %d (selection entry %d) is out of range; the "
                                 "dataset has bags 0 to %d",
                                 source_name(dataset), b, i, dataset->n_bags - 1);
        if (bag_size(dataset, b) < 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: bag \"%s\" (index %d) is empty; every bag needs at least "
                                 "one instance",
                                 source_name(dataset), display_name(dataset, b), b);
        *n_instances += bag_size(dataset, b);
    }
    if (*n_instances > INT_MAX)
        return hop_error_set(err, HOP_ERR_ARG,
                             "%s: the selected bags have %lld instances, more "
                             "than %d",
                             source_name(dataset), *n_instances, INT_MAX);
    return HOP_OK;
}

static void copy_bag(const hop_mil_dataset *dataset, int bag, hop_mil_dataset *out, int index)
{
    size_t dim = (size_t)dataset->dim;
    int first = dataset->bag_start[bag];
    int size = bag_size(dataset, bag);
    int out_first = out->bag_start[index];

    memcpy(out->features + (size_t)out_first * dim, dataset->features + (size_t)first * dim,
           (size_t)size * dim * sizeof *out->features);
    if (out->instance_labels)
        memcpy(out->instance_labels + out_first, dataset->instance_labels + first,
               (size_t)size * sizeof *out->instance_labels);
    out->labels[index] = dataset->labels[bag];
    out->bag_start[index + 1] = out_first + size;
}

hop_status hop_mil_subset(const hop_mil_dataset *dataset, const int *bags, int n_bags,
                          hop_mil_dataset *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_bags < 1 || !bags)
        return hop_error_set(err, HOP_ERR_ARG, "%s: a subset needs at least one bag index (got %d)",
                             source_name(dataset), n_bags);

    long long n_instances = 0;
    hop_status status = check_selection(dataset, bags, n_bags, &n_instances, err);
    if (status == HOP_OK)
        status = allocate(out, n_bags, (int)n_instances, dataset->dim,
                          dataset->instance_labels != NULL, source_name(dataset), err);
    if (status != HOP_OK)
        return status;

    out->bag_start[0] = 0;
    for (int i = 0; i < n_bags; i++) {
        copy_bag(dataset, bags[i], out, i);
        status = set_name(out, i, bag_name(dataset, bags[i]), err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

void hop_mil_class_counts(const hop_mil_dataset *dataset, int counts[2])
{
    counts[0] = 0;
    counts[1] = 0;
    for (int b = 0; b < dataset->n_bags; b++)
        if (dataset->labels[b] == 0 || dataset->labels[b] == 1)
            counts[dataset->labels[b]]++;
}

static hop_status check_layout(const hop_mil_dataset *dataset, hop_error *err)
{
    const char *source = source_name(dataset);

    if (dataset->n_bags < 1 || dataset->dim < 1 || !dataset->features || !dataset->bag_start ||
        !dataset->labels)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: the dataset has %d bags and %d features; "
                             "it needs at least one of each",
                             source, dataset->n_bags, dataset->dim);
    if (dataset->bag_start[0] != 0 || dataset->bag_start[dataset->n_bags] != dataset->n_instances)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: bag offsets run from %d to %d but must run from 0 to the %d "
                             "instances",
                             source, dataset->bag_start[0], dataset->bag_start[dataset->n_bags],
                             dataset->n_instances);

    for (int b = 0; b < dataset->n_bags; b++) {
        const char *name = display_name(dataset, b);
        if (bag_size(dataset, b) < 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: bag \"%s\" (index %d) is empty; every "
                                 "bag needs at least one instance",
                                 source, name, b);
        if (dataset->labels[b] != 0 && dataset->labels[b] != 1)
            return hop_error_set(err, HOP_ERR_DATA,
                                 "%s: bag \"%s\" has label %d; labels must "
                                 "be 0 or 1",
                                 source, name, dataset->labels[b]);
    }
    return HOP_OK;
}

hop_status hop_mil_validate(const hop_mil_dataset *dataset, hop_error *err)
{
    hop_status status = check_layout(dataset, err);
    if (status == HOP_OK)
        status = check_instances(source_name(dataset), dataset->features, dataset->instance_labels,
                                 dataset->n_instances, dataset->dim, err);
    if (status != HOP_OK)
        return status;

    int counts[2];
    hop_mil_class_counts(dataset, counts);
    if (counts[0] < 2 || counts[1] < 2)
        return hop_error_set(err, HOP_ERR_DATA,
                             "%s: the dataset has %d negative and %d positive bags; training "
                             "and cross-validation need at least 2 bags of each class",
                             source_name(dataset), counts[0], counts[1]);
    return HOP_OK;
}
