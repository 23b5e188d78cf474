/* Stratified bag-level k-fold assignment for cross-validation. */
#include "hop/data.h"

#include <stdlib.h>

static hop_status count_classes(const int *labels, int n, int counts[2], hop_error *err)
{
    counts[0] = 0;
    counts[1] = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return hop_error_set(err, HOP_ERR_ARG, "bag %d has label %d; labels must be 0 or 1", i,
                                 labels[i]);
        counts[labels[i]]++;
    }
    return HOP_OK;
}

static hop_status check_fold_count(int k, const int counts[2], hop_error *err)
{
    int smaller = counts[0] < counts[1] ? counts[0] : counts[1];

    if (k >= 2 && k <= smaller)
        return HOP_OK;
    if (smaller < 2)
        return hop_error_set(err, HOP_ERR_DATA,
                             "cannot make %d stratified folds: the dataset has %d negative and "
                             "%d positive bags, and cross-validation needs at least 2 bags of "
                             "each class",
                             k, counts[0], counts[1]);
    return hop_error_set(err, HOP_ERR_ARG,
                         "cannot make %d stratified folds: the dataset has %d negative and %d "
                         "positive bags, and every fold needs a bag of each class; set --folds "
                         "from 2 to %d",
                         k, counts[0], counts[1], smaller);
}

hop_status hop_stratified_folds(const int *labels, int n, int k, hop_rng *rng, int *fold_of,
                                hop_error *err)
{
    if (n < 1 || !labels || !fold_of || !rng)
        return hop_error_set(err, HOP_ERR_ARG,
                             "stratified folds need labels, a fold array and "
                             "a random generator for at least one bag (got %d bags)",
                             n);

    int counts[2];
    hop_status status = count_classes(labels, n, counts, err);
    if (status == HOP_OK)
        status = check_fold_count(k, counts, err);
    if (status != HOP_OK)
        return status;

    /* The binary checks above are stricter than the general ones, so this cannot fail on them. */
    return hop_stratified_folds_classes(labels, n, 2, k, rng, fold_of, err);
}

static hop_status check_class_labels(const int *labels, int n, int n_classes, hop_error *err)
{
    if (n_classes < 1)
        return hop_error_set(err, HOP_ERR_ARG, "stratification: %d classes are invalid", n_classes);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return hop_error_set(err, HOP_ERR_ARG,
                                 "stratification: label %d of sample %d is outside [0, %d)",
                                 labels[i], i, n_classes);
    return HOP_OK;
}

/* Every fold needs a test sample of each class present, so k may not pass the smallest class. */
static hop_status check_class_folds(const int *labels, int n, int n_classes, int k, hop_error *err)
{
    int *counts = calloc((size_t)n_classes, sizeof *counts);
    if (!counts)
        return hop_error_set(err, HOP_ERR_NOMEM, "stratified folds: out of memory");
    for (int i = 0; i < n; i++)
        counts[labels[i]]++;
    int smallest = -1;
    for (int c = 0; c < n_classes; c++)
        if (counts[c] > 0 && (smallest < 0 || counts[c] < counts[smallest]))
            smallest = c;
    int count = counts[smallest];
    free(counts);
    if (k <= count)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "stratified folds: %d folds, but class %d has only %d samples; use at "
                         "most %d folds",
                         k, smallest, count, count);
}

hop_status hop_stratified_folds_classes(const int *labels, int n, int n_classes, int k,
                                        hop_rng *rng, int *fold_of, hop_error *err)
{
    if (k < 2 || k > n)
        return hop_error_set(err, HOP_ERR_ARG,
                             "stratified folds: %d folds are invalid for %d samples; use 2 to %d",
                             k, n, n);
    hop_status status = check_class_labels(labels, n, n_classes, err);
    if (status == HOP_OK)
        status = check_class_folds(labels, n, n_classes, k, err);
    if (status != HOP_OK)
        return status;

    int *members = malloc((size_t)n * sizeof *members);
    if (!members)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory assigning %d samples to folds", n);

    /* Dealing continues across the classes, so fold sizes also differ by at most one. */
    int next_fold = 0;
    for (int label = 0; label < n_classes; label++) {
        int count = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == label)
                members[count++] = i;
        hop_rng_shuffle_int(rng, members, (size_t)count);
        for (int i = 0; i < count; i++) {
            fold_of[members[i]] = next_fold;
            next_fold = (next_fold + 1) % k;
        }
    }
    free(members);
    return HOP_OK;
}

void hop_fold_split(const int *fold_of, int n, int fold, int *train, int *n_train, int *test,
                    int *n_test)
{
    *n_train = 0;
    *n_test = 0;
    for (int i = 0; i < n; i++) {
        if (fold_of[i] == fold)
            test[(*n_test)++] = i;
        else
            train[(*n_train)++] = i;
    }
}
