#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "hop/metrics.h"

#define assert_message_has(err, text)                                                              \
    cr_assert(strstr((err).message, (text)) != NULL, "message \"%s\" lacks \"%s\"", (err).message, \
              (text))

Test(roc_auc, hand_computed)
{
    /* Of the 4 positive-negative pairs only (0.35, 0.4) is ordered wrongly: 3/4. */
    float scores[] = {0.1f, 0.4f, 0.35f, 0.8f};
    int labels[] = {0, 0, 1, 1};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 4, &auc, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(auc, 0.75, 1e-12);
}

Test(roc_auc, tie_counts_half)
{
    /* Pairs: 0.5>0.2 (1), 0.5=0.5 (1/2), 0.9>both (2): 3.5/4. */
    float scores[] = {0.2f, 0.5f, 0.5f, 0.9f};
    int labels[] = {0, 0, 1, 1};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 4, &auc, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(auc, 0.875, 1e-12);
}

Test(roc_auc, tied_group_of_three)
{
    /* Scores 0.3 (neg), 0.6 x3 (neg, pos, pos), 0.7 (neg), 0.9 (pos). Pairs won by the
     * positives: each 0.6 beats 0.3 and ties the 0.6 negative (1.5 each), and 0.9 beats all
     * three negatives: (1.5 + 1.5 + 3) / 9. */
    float scores[] = {0.6f, 0.3f, 0.9f, 0.6f, 0.7f, 0.6f};
    int labels[] = {1, 0, 1, 0, 0, 1};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 6, &auc, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(auc, 6.0 / 9.0, 1e-12);
}

Test(roc_auc, all_tied_is_half)
{
    float scores[] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    int labels[] = {0, 1, 0, 1, 1};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 5, &auc, &err), HOP_OK, "%s", err.message);
    cr_assert_float_eq(auc, 0.5, 1e-12);
}

Test(roc_auc, perfect_and_reversed)
{
    float scores[] = {0.1f, 0.2f, 0.8f, 0.9f};
    int labels[] = {0, 0, 1, 1};
    int reversed[] = {1, 1, 0, 0};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 4, &auc, &err), HOP_OK);
    cr_assert_float_eq(auc, 1.0, 0);
    cr_assert_eq(hop_roc_auc(scores, reversed, 4, &auc, &err), HOP_OK);
    cr_assert_float_eq(auc, 0.0, 0);
}

Test(roc_auc, one_class_absent)
{
    float scores[] = {0.1f, 0.2f, 0.3f};
    int labels[] = {1, 1, 1};
    double auc = -1;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 3, &auc, &err), HOP_ERR_DATA);
    assert_message_has(err, "0 negatives and 3 positives");
    cr_assert_float_eq(auc, -1, 0, "the output stays untouched on error");
    cr_assert_eq(hop_roc_auc(scores, labels, 0, &auc, &err), HOP_ERR_DATA);
}

Test(roc_auc, nan_score)
{
    float scores[] = {0.1f, NAN, 0.3f};
    int labels[] = {0, 1, 1};
    double auc;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 3, &auc, &err), HOP_ERR_NUMERIC);
    assert_message_has(err, "score 1 is NaN");
}

Test(roc_auc, invalid_label)
{
    float scores[] = {0.1f, 0.2f};
    int labels[] = {0, 2};
    double auc;
    hop_error err;
    cr_assert_eq(hop_roc_auc(scores, labels, 2, &auc, &err), HOP_ERR_ARG);
    assert_message_has(err, "label 1 is 2");
}

Test(accuracy, threshold_half_is_positive)
{
    /* Predictions 0, 1, 1, 0 against 0, 1, 0, 0: three of four right. */
    float probabilities[] = {0.2f, 0.5f, 0.7f, 0.4999f};
    int labels[] = {0, 1, 0, 0};
    double accuracy = -1;
    hop_error err;
    cr_assert_eq(hop_accuracy(probabilities, labels, 4, &accuracy, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_float_eq(accuracy, 0.75, 1e-12);
}

Test(accuracy, single_class_allowed)
{
    float probabilities[] = {0.9f, 0.1f};
    int labels[] = {1, 1};
    double accuracy = -1;
    hop_error err;
    cr_assert_eq(hop_accuracy(probabilities, labels, 2, &accuracy, &err), HOP_OK);
    cr_assert_float_eq(accuracy, 0.5, 1e-12);
}

Test(accuracy, empty_and_invalid)
{
    float probabilities[] = {0.9f, NAN};
    int labels[] = {1, 0};
    double accuracy;
    hop_error err;
    cr_assert_eq(hop_accuracy(probabilities, labels, 0, &accuracy, &err), HOP_ERR_ARG);
    assert_message_has(err, "at least one prediction");
    cr_assert_eq(hop_accuracy(probabilities, labels, 2, &accuracy, &err), HOP_ERR_NUMERIC);
    assert_message_has(err, "probability 1 is NaN");
}

Test(mean_std, sample_deviation)
{
    /* Squared deviations from 2.5 sum to 5, and 5 / (4 - 1) = 5/3. */
    double values[] = {1, 2, 3, 4};
    double mean = 0, std = 0;
    hop_error err;
    cr_assert_eq(hop_mean_std(values, 4, &mean, &std, &err), HOP_OK);
    cr_assert_float_eq(mean, 2.5, 1e-12);
    cr_assert_float_eq(std, sqrt(5.0 / 3.0), 1e-12);
}

Test(mean_std, single_value)
{
    double values[] = {0.8};
    double mean = 0, std = -1;
    hop_error err;
    cr_assert_eq(hop_mean_std(values, 1, &mean, &std, &err), HOP_OK);
    cr_assert_float_eq(mean, 0.8, 0);
    cr_assert_float_eq(std, 0.0, 0);
}

Test(mean_std, no_values)
{
    double mean, std;
    hop_error err;
    cr_assert_eq(hop_mean_std(NULL, 0, &mean, &std, &err), HOP_ERR_ARG);
    assert_message_has(err, "at least one value");
}
