/* Prototype learning: baselines, stratified folds, scaling, the model and 'hop proto'. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "hop/memory.h"
#include "hop/data.h"
#include "hop/proto.h"
#include "image_fixtures.h"
#include "support/shell.h"

#define IRIS HOP_SHARED_DIR "/data/small/iris.csv"

/* One tight cluster per class: every feature of a class-c row is 3 c +- 0.2. */
static void separable_data(float *x, int *y, int n, int dim, int classes)
{
    for (int i = 0; i < n; i++) {
        y[i] = i % classes;
        for (int j = 0; j < dim; j++)
            x[i * dim + j] = 3.0f * (float)y[i] + 0.1f * (float)((i * 7 + j * 3) % 5 - 2);
    }
}

Test(logreg, separable_data_fits_exactly)
{
    enum { N = 60, D = 3, C = 3 };
    float x[N * D];
    int y[N], predicted[N];
    separable_data(x, y, N, D, C);
    hop_logreg model;
    hop_error err;
    hop_logreg_config config = hop_logreg_config_default();
    cr_assert_eq(hop_logreg_fit(&model, &config, x, y, N, D, C, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_logreg_predict(&model, x, N, predicted, &err), HOP_OK, "%s", err.message);
    cr_expect_float_eq(hop_proto_accuracy(predicted, y, N), 1.0, 1e-12);
    hop_logreg_free(&model);
}

Test(logreg, bad_label_is_rejected)
{
    float x[4] = {0, 1, 2, 3};
    int y[4] = {0, 1, 2, 1};
    hop_logreg model;
    hop_error err;
    hop_logreg_config config = hop_logreg_config_default();
    cr_assert_eq(hop_logreg_fit(&model, &config, x, y, 4, 1, 2, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "label 2 of row 2") != NULL, "%s", err.message);
}

Test(knn, separable_data_fits_exactly)
{
    enum { N = 40, D = 2, C = 4 };
    float x[N * D];
    int y[N], predicted[N];
    separable_data(x, y, N, D, C);
    hop_error err;
    cr_assert_eq(hop_knn_predict(x, y, N, D, C, 3, x, N, predicted, &err), HOP_OK, "%s",
                 err.message);
    cr_expect_float_eq(hop_proto_accuracy(predicted, y, N), 1.0, 1e-12);
}

/* Training points on a line: 0, 1, 2 of class 0 and 10, 11 of class 1, and 5.4 of class 1. */
Test(knn, hand_case_votes_and_ties)
{
    float train[6] = {0, 1, 2, 10, 11, 5.4f};
    int labels[6] = {0, 0, 0, 1, 1, 1};
    float test[3] = {4.0f, 6.0f, 9.0f};
    int predicted[3];
    hop_error err;

    cr_assert_eq(hop_knn_predict(train, labels, 6, 1, 2, 1, test, 3, predicted, &err), HOP_OK);
    cr_expect_eq(predicted[0], 1, "nearest of 4 is 5.4");
    cr_expect_eq(predicted[1], 1);
    cr_expect_eq(predicted[2], 1);

    cr_assert_eq(hop_knn_predict(train, labels, 6, 1, 2, 3, test, 3, predicted, &err), HOP_OK);
    cr_expect_eq(predicted[0], 0, "3 nearest of 4 are 5.4, 2, 1");
    cr_expect_eq(predicted[1], 1, "3 nearest of 6 are 5.4, 2, 10");

    /* k = 2 at 4: 5.4 (class 1) and 2 (class 0) tie, and the nearer one (5.4) wins. */
    cr_assert_eq(hop_knn_predict(train, labels, 6, 1, 2, 2, test, 1, predicted, &err), HOP_OK);
    cr_expect_eq(predicted[0], 1);
}

Test(knn, k_above_training_rows_is_rejected)
{
    float train[2] = {0, 1}, test[1] = {0};
    int labels[2] = {0, 1}, predicted[1];
    hop_error err;
    cr_assert_eq(hop_knn_predict(train, labels, 2, 1, 2, 3, test, 1, predicted, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "k 3") != NULL, "%s", err.message);
}

static void class_counts(const int *labels, const int *fold_of, int n, int k, int classes,
                         int *counts)
{
    memset(counts, 0, (size_t)k * classes * sizeof *counts);
    for (int i = 0; i < n; i++)
        counts[fold_of[i] * classes + labels[i]]++;
}

Test(folds, stratified_multiclass_properties)
{
    enum { N = 103, K = 7, C = 4 };
    int labels[N], fold_of[N], counts[K * C];
    for (int i = 0; i < N; i++)
        labels[i] = (i * i + 3) % C;
    hop_rng rng;
    hop_rng_seed(&rng, 11);
    hop_error err;
    cr_assert_eq(hop_stratified_folds_classes(labels, N, C, K, &rng, fold_of, &err), HOP_OK);
    class_counts(labels, fold_of, N, K, C, counts);

    int sizes[K] = {0};
    for (int i = 0; i < N; i++) {
        cr_assert(fold_of[i] >= 0 && fold_of[i] < K, "fold %d", fold_of[i]);
        sizes[fold_of[i]]++;
    }
    for (int f = 1; f < K; f++)
        cr_expect(abs(sizes[f] - sizes[0]) <= 1, "fold sizes %d and %d", sizes[0], sizes[f]);
    for (int c = 0; c < C; c++)
        for (int f = 1; f < K; f++)
            cr_expect(abs(counts[f * C + c] - counts[c]) <= 1,
                      "class %d: folds 0 and %d hold %d "
                      "and %d",
                      c, f, counts[c], counts[f * C + c]);
}

Test(folds, invalid_k_and_labels_are_rejected)
{
    int labels[4] = {0, 1, 0, 1}, fold_of[4];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    cr_expect_eq(hop_stratified_folds_classes(labels, 4, 2, 1, &rng, fold_of, &err), HOP_ERR_ARG);
    cr_expect_eq(hop_stratified_folds_classes(labels, 4, 2, 5, &rng, fold_of, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "5 folds") != NULL, "%s", err.message);
    labels[2] = 3;
    cr_expect_eq(hop_stratified_folds_classes(labels, 4, 2, 2, &rng, fold_of, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "label 3") != NULL, "%s", err.message);
}

Test(folds, k_above_smallest_class_is_rejected)
{
    int labels[7] = {0, 0, 0, 0, 1, 1, 1}, fold_of[7];
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    cr_expect_eq(hop_stratified_folds_classes(labels, 7, 2, 3, &rng, fold_of, &err), HOP_OK, "%s",
                 err.message);
    cr_expect_eq(hop_stratified_folds_classes(labels, 7, 2, 4, &rng, fold_of, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "4 folds, but class 1 has only 3 samples") != NULL, "%s",
              err.message);
}

Test(folds, stratified_split_is_a_partition)
{
    enum { N = 50 };
    int labels[N], idx[N], first[N], second[N], n_first, n_second;
    for (int i = 0; i < N; i++) {
        labels[i] = i < 30 ? 0 : (i < 45 ? 1 : 2);
        idx[i] = i;
    }
    hop_rng rng;
    hop_rng_seed(&rng, 3);
    hop_error err;
    cr_assert_eq(hop_proto_stratified_split(labels, idx, N, 3, 0.2, &rng, first, &n_first, second,
                                            &n_second, &err),
                 HOP_OK);
    cr_expect_eq(n_first + n_second, N);
    cr_expect_eq(n_second, 6 + 3 + 1, "round(0.2 * 30) + round(0.2 * 15) + round(0.2 * 5)");
    int seen[N] = {0};
    for (int i = 0; i < n_first; i++)
        seen[first[i]]++;
    for (int i = 0; i < n_second; i++)
        seen[second[i]]++;
    for (int i = 0; i < N; i++)
        cr_expect_eq(seen[i], 1, "sample %d is in %d parts", i, seen[i]);
    for (int i = 1; i < n_second; i++)
        cr_expect_lt(second[i - 1], second[i]);
}

Test(scaler, round_trip_and_constant_feature)
{
    float x[6] = {1, 5, 3, 5, 5, 5};
    int rows[3] = {0, 1, 2};
    float scaled[6];
    hop_proto_scaler scaler = {0};
    hop_error err;
    cr_assert_eq(hop_proto_scaler_fit(&scaler, x, 2, rows, 3, &err), HOP_OK);
    cr_expect_float_eq(scaler.mean[0], 3.0f, 1e-6);
    cr_expect_float_eq(scaler.std[1], 1.0f, 1e-6, "a constant feature gets std 1");
    hop_proto_scaler_apply(&scaler, x, rows, 3, scaled);
    cr_expect_float_eq(scaled[0], -2.0f / sqrtf(8.0f / 3.0f), 1e-5);
    hop_proto_scaler_invert(&scaler, scaled, 3);
    for (int i = 0; i < 6; i++)
        cr_expect_float_eq(scaled[i], x[i], 1e-5, "value %d", i);
    hop_proto_scaler_free(&scaler);
}

Test(model, config_errors_name_the_value)
{
    hop_params params;
    hop_params_init(&params);
    hop_rng rng;
    hop_rng_seed(&rng, 1);
    hop_error err;
    hop_proto_model model;
    hop_proto_config c = hop_proto_config_default(4, 3);
    c.alpha_dropout = 0.1f;
    cr_expect_eq(hop_proto_model_init(&model, &c, &params, &rng, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "alpha-dropout 0.1") != NULL, "%s", err.message);
    c = hop_proto_config_default(4, 3);
    c.prototypes = 0;
    cr_expect_eq(hop_proto_model_init(&model, &c, &params, &rng, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "0 prototypes") != NULL, "%s", err.message);
    c = hop_proto_config_default(4, 10);
    c.prototypes = 100000;
    c.embed_width = 65536;
    cr_expect_eq(hop_proto_model_init(&model, &c, &params, &rng, &err), HOP_ERR_ARG);
    cr_expect(strstr(err.message, "above the limit of 2147483647") != NULL, "%s", err.message);
    hop_params_free(&params);
}

Test(model, sample_init_starts_at_the_samples)
{
    float x[8] = {0, 0, 1, 1, 4, 4, 5, 5};
    int y[4] = {0, 0, 1, 1};
    hop_params params;
    hop_params_init(&params);
    hop_rng rng;
    hop_rng_seed(&rng, 2);
    hop_error err;
    hop_proto_model model;
    hop_proto_config c = hop_proto_config_default(2, 2);
    c.prototypes = 2;
    cr_assert_eq(hop_proto_model_init(&model, &c, &params, &rng, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_proto_model_set_prototypes(&model, &params, x, y, 4, &rng, &err), HOP_OK);
    cr_expect_neq(hop_params_find(&params, "prototypes.lookup_weights"), -1);
    cr_expect_neq(hop_params_find(&params, "prototypes.target_weights"), -1);

    float protos[8];
    hop_proto_model_prototypes(&model, &params, protos);
    for (int j = 0; j < 4; j++) {
        int c_j = hop_proto_model_prototype_class(&model, j);
        cr_expect_eq(c_j, j / 2);
        cr_expect(c_j == 0 ? protos[2 * j] <= 1.0f : protos[2 * j] >= 4.0f,
                  "prototype %d of class %d starts at %g", j, c_j, (double)protos[2 * j]);
    }
    hop_tensor lookup = hop_params_value(&params, model.layer.lookup_weights_id);
    float y0 = lookup.data[0], y1 = lookup.data[1];
    cr_expect_float_eq(lookup.data[2], -0.5f * (y0 * y0 + y1 * y1), 1e-6, "distance bias");
    hop_params_free(&params);
}

static void load_scaled_iris(hop_proto_data *d, float *scaled)
{
    hop_error err;
    cr_assert_eq(hop_proto_data_load(IRIS, d, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(d->n, 150);
    cr_assert_eq(d->n_classes, 3);
    int rows[150];
    for (int i = 0; i < 150; i++)
        rows[i] = i;
    hop_proto_scaler scaler = {0};
    cr_assert_eq(hop_proto_scaler_fit(&scaler, d->features, d->dim, rows, 150, &err), HOP_OK);
    hop_proto_scaler_apply(&scaler, d->features, rows, 150, scaled);
    hop_proto_scaler_free(&scaler);
}

/* Even rows train, rows 4i + 1 validate, rows 4i + 3 test: every class is in every part. */
Test(model, beats_chance_on_iris_in_a_quick_run)
{
    hop_proto_data d;
    float scaled[150 * 4], x_fit[75 * 4], x_val[38 * 4], x_test[37 * 4];
    int y_fit[75], y_val[38], y_test[37], predicted[37], n_fit = 0, n_val = 0, n_test = 0;
    load_scaled_iris(&d, scaled);
    for (int i = 0; i < 150; i++) {
        float *dst =
            i % 2 == 0 ? x_fit + 4 * n_fit : (i % 4 == 1 ? x_val + 4 * n_val : x_test + 4 * n_test);
        memcpy(dst, scaled + 4 * i, 4 * sizeof(float));
        if (i % 2 == 0)
            y_fit[n_fit++] = d.labels[i];
        else if (i % 4 == 1)
            y_val[n_val++] = d.labels[i];
        else
            y_test[n_test++] = d.labels[i];
    }
    hop_proto_config c = hop_proto_config_default(4, 3);
    hop_proto_train_config t = hop_proto_train_config_default();
    t.epochs = 20;
    hop_proto_fitted fitted;
    hop_error err;
    cr_assert_eq(hop_proto_fit(&fitted, &c, &t, x_fit, y_fit, n_fit, x_val, y_val, n_val, &err),
                 HOP_OK, "%s", err.message);
    cr_assert_eq(hop_proto_predict(&fitted, x_test, n_test, predicted, NULL, NULL, &err), HOP_OK);
    double accuracy = hop_proto_accuracy(predicted, y_test, n_test);
    cr_expect_gt(accuracy, 0.8, "test accuracy %.3f; chance is 1/3", accuracy);
    cr_expect_gt(hop_proto_model_beta(&fitted.model, &fitted.params), 0.0f);
    hop_proto_fitted_free(&fitted);
    hop_proto_data_free(&d);
}

Test(model, embedding_with_alpha_dropout_trains)
{
    hop_proto_data d;
    float scaled[150 * 4];
    load_scaled_iris(&d, scaled);
    hop_proto_config c = hop_proto_config_default(4, 3);
    c.embed_width = 16;
    c.alpha_dropout = 0.05f;
    hop_proto_train_config t = hop_proto_train_config_default();
    t.epochs = 15;
    hop_proto_fitted fitted;
    hop_error err;
    cr_assert_eq(hop_proto_fit(&fitted, &c, &t, scaled, d.labels, 150, NULL, NULL, 0, &err), HOP_OK,
                 "%s", err.message);
    int predicted[150];
    cr_assert_eq(hop_proto_predict(&fitted, scaled, 150, predicted, NULL, NULL, &err), HOP_OK);
    double accuracy = hop_proto_accuracy(predicted, d.labels, 150);
    cr_expect_gt(accuracy, 0.8, "training accuracy %.3f", accuracy);
    cr_expect_neq(hop_params_find(&fitted.params, "embed.weight"), -1);
    hop_proto_fitted_free(&fitted);
    hop_proto_data_free(&d);
}

Test(stopping, validation_better_cases)
{
    struct {
        hop_proto_stop_metric metric;
        double accuracy, loss, best_accuracy, best_loss;
        bool better;
    } cases[] = {
        {HOP_PROTO_STOP_LOSS, 0.90, 0.30, 0.95, 0.40, true},      /* loss wins over accuracy */
        {HOP_PROTO_STOP_LOSS, 0.99, 0.40, 0.95, 0.40, false},     /* equal loss is no gain */
        {HOP_PROTO_STOP_ACCURACY, 0.95, 0.30, 0.95, 0.40, true},  /* flat accuracy, lower loss */
        {HOP_PROTO_STOP_ACCURACY, 0.95, 0.40, 0.95, 0.40, false}, /* nothing moved */
        {HOP_PROTO_STOP_ACCURACY, 0.90, 0.10, 0.95, 0.40, false}, /* lower accuracy loses */
        {HOP_PROTO_STOP_ACCURACY, 0.97, 0.90, 0.95, 0.40, true},  /* higher accuracy wins */
        {HOP_PROTO_STOP_LOSS, 0.90, NAN, 0.80, 0.40, false},      /* NaN never beats */
        {HOP_PROTO_STOP_ACCURACY, NAN, 0.10, 0.80, 0.40, false},
        {HOP_PROTO_STOP_LOSS, 0.50, 2.00, NAN, NAN, true}, /* first epoch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool better = hop_proto_validation_better(cases[i].metric, cases[i].accuracy, cases[i].loss,
                                                  cases[i].best_accuracy, cases[i].best_loss);
        cr_expect_eq(better, cases[i].better, "case %zu: accuracy %g loss %g vs %g %g", i,
                     cases[i].accuracy, cases[i].loss, cases[i].best_accuracy, cases[i].best_loss);
    }
}

/* Splits scaled iris into even rows (fit) and odd rows (validation). */
static void fit_iris_even_odd(hop_proto_stop_metric metric, int patience, hop_proto_fitted *fitted,
                              double *val_loss, double *val_accuracy)
{
    hop_proto_data d;
    float scaled[150 * 4], x_fit[75 * 4], x_val[75 * 4];
    int y_fit[75], y_val[75], predicted[75];
    load_scaled_iris(&d, scaled);
    for (int i = 0; i < 75; i++) {
        memcpy(x_fit + 4 * i, scaled + 4 * (2 * i), 4 * sizeof(float));
        memcpy(x_val + 4 * i, scaled + 4 * (2 * i + 1), 4 * sizeof(float));
        y_fit[i] = d.labels[2 * i];
        y_val[i] = d.labels[2 * i + 1];
    }
    hop_proto_config c = hop_proto_config_default(4, 3);
    hop_proto_train_config t = hop_proto_train_config_default();
    t.patience = patience;
    t.stop_metric = metric;
    hop_error err;
    cr_assert_eq(hop_proto_fit(fitted, &c, &t, x_fit, y_fit, 75, x_val, y_val, 75, &err), HOP_OK,
                 "%s", err.message);
    cr_assert_eq(hop_proto_predict(fitted, x_val, 75, predicted, y_val, val_loss, &err), HOP_OK);
    *val_accuracy = hop_proto_accuracy(predicted, y_val, 75);
    hop_proto_data_free(&d);
}

/* Training stops patience epochs after the kept one, and the kept parameters are restored. */
Test(stopping, stops_patience_after_best_epoch)
{
    hop_proto_stop_metric metrics[] = {HOP_PROTO_STOP_LOSS, HOP_PROTO_STOP_ACCURACY};
    for (int m = 0; m < 2; m++) {
        hop_proto_fitted fitted;
        double loss, accuracy;
        fit_iris_even_odd(metrics[m], 5, &fitted, &loss, &accuracy);
        cr_expect_lt(fitted.epochs_run, 300, "metric %d ran all epochs", m);
        cr_expect_eq(fitted.epochs_run, fitted.best_epoch + 1 + 5,
                     "metric %d: best epoch %d, epochs run %d", m, fitted.best_epoch + 1,
                     fitted.epochs_run);
        cr_expect_float_eq(accuracy, fitted.val_accuracy, 1e-12, "restored accuracy");
        cr_expect(isfinite(loss), "validation loss %g", loss);
        hop_proto_fitted_free(&fitted);
    }
}

/* With equal patience the loss rule keeps an epoch whose validation loss is no higher. */
Test(stopping, loss_rule_keeps_lower_loss)
{
    hop_proto_fitted by_loss, by_accuracy;
    double loss_l, loss_a, accuracy_l, accuracy_a;
    fit_iris_even_odd(HOP_PROTO_STOP_LOSS, 300, &by_loss, &loss_l, &accuracy_l);
    fit_iris_even_odd(HOP_PROTO_STOP_ACCURACY, 300, &by_accuracy, &loss_a, &accuracy_a);
    cr_expect_eq(by_loss.epochs_run, 300);
    cr_expect_eq(by_accuracy.epochs_run, 300);
    cr_expect_leq(loss_l, loss_a + 1e-9, "loss rule %g, accuracy rule %g", loss_l, loss_a);
    cr_expect_geq(accuracy_a, accuracy_l, "accuracy rule %g, loss rule %g", accuracy_a, accuracy_l);
    hop_proto_fitted_free(&by_loss);
    hop_proto_fitted_free(&by_accuracy);
}

Test(data, bad_csv_names_the_file)
{
    char path[] = "/tmp/hop-proto-bad-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "3,2,a,b\n1,2,0\n3,x,1\n5,6,0\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    hop_proto_data d;
    hop_error err;
    cr_expect_neq(hop_proto_data_load(path, &d, &err), HOP_OK);
    cr_expect(strstr(err.message, path) != NULL, "%s", err.message);
    remove(path);
}

Test(cli, proto_runs_iris_with_report)
{
    char report[] = "/tmp/hop-proto-report-XXXXXX";
    int fd = mkstemp(report);
    cr_assert_geq(fd, 0);
    close(fd);
    char args[1024];
    snprintf(args, sizeof args, "proto --data %s --folds 3 --epochs 20 --report %s", IRIS, report);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect(strstr(r.out, "fold 3/3") != NULL, "stdout: %s", r.out);
    cr_expect(strstr(r.out, "logistic regression") != NULL, "stdout: %s", r.out);

    char text[16384];
    test_read_text(report, text, sizeof text);
    cJSON *json = cJSON_Parse(text);
    cr_assert_not_null(json, "report: %s", text);
    cJSON *acc = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "accuracy"), "prototypes");
    cr_assert_not_null(acc);
    double mean = cJSON_GetObjectItem(acc, "mean")->valuedouble;
    cr_expect_gt(mean, 0.8, "mean accuracy %.3f", mean);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "per_fold")), 3);
    cr_expect_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "accuracy"), "knn"));
    cJSON_Delete(json);
    remove(report);
}

Test(cli, proto_holdout_split)
{
    char args[1024];
    snprintf(args, sizeof args, "proto --data %s --holdout 0.3 --epochs 10", IRIS);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect(strstr(r.out, "test 45") != NULL, "stdout: %s", r.out);
    cr_expect(strstr(r.out, "one stratified split") != NULL, "stdout: %s", r.out);
}

Test(cli, proto_saves_digit_prototypes_png)
{
    char dir[] = "/tmp/hop-proto-png-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], args[512];
    snprintf(path, sizeof path, "%s/prototypes.png", dir);
    snprintf(args, sizeof args,
             "proto --data digits --folds 2 --epochs 2 --prototypes 2 --quiet "
             "--save-prototypes %s",
             path);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect(hop_png_file_valid(path), "%s is no PNG", path);
    cr_expect(strstr(r.out, path) != NULL, "stdout: %s", r.out);
    remove(path);
    rmdir(dir);
}

Test(cli, proto_saves_table_prototypes_csv)
{
    char dir[] = "/tmp/hop-proto-csv-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], args[512];
    snprintf(path, sizeof path, "%s/prototypes.csv", dir);
    snprintf(args, sizeof args,
             "proto --data %s --folds 2 --epochs 5 --prototypes 2 --quiet --save-prototypes %s",
             IRIS, path);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);

    char text[8192];
    test_read_text(path, text, sizeof text);
    cr_expect_eq(strncmp(text, "class,feature_1,feature_2,feature_3,feature_4\n", 46), 0, "%s",
                 text);
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 1 + 3 * 2, "header and 6 prototypes: %s", text);
    cr_expect(strstr(text, "\nsetosa,") != NULL, "%s", text);
    /* Mapped back to centimetres: a setosa petal length (feature 3) is near 1.5. */
    float f1, f2, f3, f4;
    cr_assert_eq(sscanf(strstr(text, "\nsetosa,") + 8, "%f,%f,%f,%f", &f1, &f2, &f3, &f4), 4);
    cr_expect(f3 > 0.5f && f3 < 3.0f, "setosa petal length %g", (double)f3);
    remove(path);
    rmdir(dir);
}

/* Writes side x side gray PNGs: per_class files in "dark" (values near 40) and "bright" (near
 * 210), with a pixel pattern that differs per file. */
static void write_brightness_folder(const char *dir, int side, int per_class)
{
    const char *classes[2] = {"bright", "dark"};
    unsigned char pixels[16 * 16];
    cr_assert_leq(side, 16);
    for (int c = 0; c < 2; c++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, classes[c]);
        cr_assert_eq(mkdir(path, 0700), 0, "cannot create %s", path);
        for (int k = 0; k < per_class; k++) {
            for (int p = 0; p < side * side; p++)
                pixels[p] = (unsigned char)((c == 0 ? 210 : 40) + (p * 7 + k * 13) % 31 - 15);
            snprintf(path, sizeof path, "%s/%s/%02d.png", dir, classes[c], k);
            cr_assert(stbi_write_png(path, side, side, 1, pixels, side), "cannot write %s", path);
        }
    }
}

static unsigned read_be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

Test(cli, proto_image_folder_saves_png_grid)
{
    char data[64], outputs[64], grid[128], args[512];
    fixture_make_temp_dir(data, sizeof data);
    fixture_make_temp_dir(outputs, sizeof outputs);
    write_brightness_folder(data, 4, 10);
    snprintf(grid, sizeof grid, "%s/prototypes.png", outputs);
    snprintf(args, sizeof args,
             "proto --data %s --folds 2 --epochs 10 --prototypes 2 --png-scale 2 "
             "--save-prototypes %s",
             data, grid);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect(strstr(r.out, "20 samples, 16 features, 2 classes") != NULL, "stdout: %s", r.out);
    double mean = 0.0;
    const char *line = strstr(r.out, "prototypes (HopfieldLayer)");
    cr_assert_not_null(line, "stdout: %s", r.out);
    cr_assert_eq(sscanf(line, "prototypes (HopfieldLayer) accuracy %lf", &mean), 1, "%s", line);
    cr_expect_gt(mean, 0.9, "brightness separates the classes; accuracy %g", mean);

    cr_assert(hop_png_file_valid(grid), "%s is no PNG", grid);
    size_t length = 0;
    unsigned char *png = fixture_read_file(grid, &length);
    cr_assert_geq(length, 24u);
    cr_expect_eq(memcmp(png + 12, "IHDR", 4), 0);
    /* 2 classes x 2 prototypes of 4 x 4 pixels drawn 2 x 2 each, with 1-pixel gaps. */
    cr_expect_eq(read_be32(png + 16), 2u * (4 * 2 + 1) + 1, "width %u", read_be32(png + 16));
    cr_expect_eq(read_be32(png + 20), 2u * (4 * 2 + 1) + 1, "height %u", read_be32(png + 20));
    free(png);
    fixture_remove_tree(data);
    fixture_remove_tree(outputs);
}

Test(cli, proto_bad_flags_name_the_flag)
{
    struct {
        const char *args;
        const char *message;
    } cases[] = {
        {"proto", "--data is missing"},
        {"proto --data digits --init fancy", "--init fancy"},
        {"proto --data digits --stop-on fancy", "--stop-on fancy"},
        {"proto --data digits --folds 1", "--folds"},
        {"proto --data digits --bogus 1", "--bogus"},
        {"proto --data " IRIS " --save-prototypes out.txt", "--save-prototypes out.txt"},
        {"proto --data " IRIS " --save-prototypes out.png", "needs image data"},
        {"proto --data digits --embed-width 8 --save-prototypes out.png", "--embed-width"},
        {"proto --data /nonexistent/table.csv", "/nonexistent/table.csv"},
        {"proto --data " IRIS " --alpha-dropout 0.1", "alpha-dropout 0.1"},
        {"proto --data " IRIS " --folds 51", "51 folds, but class 0 has only 50 samples"},
        {"proto --data " IRIS " --folds 2 --prototypes 1000",
         "1000 prototypes per class start from training samples, but class 0 has only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_run r = test_run_hop(cases[i].args);
        cr_expect_neq(r.status, 0, "%s exited 0", cases[i].args);
        cr_expect(strstr(r.err, cases[i].message) != NULL, "%s: stderr %s", cases[i].args, r.err);
        cr_expect(strncmp(r.err, "hop proto: ", 11) == 0, "%s: stderr %s", cases[i].args, r.err);
    }
}
