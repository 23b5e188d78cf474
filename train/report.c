#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop/io.h"
#include "hop/metrics.h"

hop_status write_file_atomic(const char *path, const char *text, hop_error *err)
{
    return hop_write_file_atomic(path, text, strlen(text), err);
}

hop_status write_json(const char *path, const cJSON *json, hop_error *err)
{
    char *text = cJSON_Print(json);
    if (!text)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory serialising %s", path);
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    hop_status status = HOP_ERR_NOMEM;
    if (line) {
        memcpy(line, text, n);
        line[n] = '\n';
        line[n + 1] = '\0';
        status = write_file_atomic(path, line, err);
        free(line);
    } else {
        hop_error_set(err, HOP_ERR_NOMEM, "out of memory serialising %s", path);
    }
    cJSON_free(text);
    return status;
}

static void add_number_or_null(cJSON *o, const char *key, double value)
{
    if (isfinite(value))
        cJSON_AddNumberToObject(o, key, value);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *fold_json(const hop_mil_fold_result *r, bool attention)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "repeat", r->repeat + 1);
    cJSON_AddNumberToObject(o, "fold", r->fold + 1);
    cJSON_AddNumberToObject(o, "n_train", r->n_train);
    cJSON_AddNumberToObject(o, "n_test", r->n_test);
    cJSON_AddNumberToObject(o, "auc", r->auc);
    cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
    cJSON_AddNumberToObject(o, "train_loss", r->train_loss);
    if (attention)
        add_number_or_null(o, "attention_ratio", r->attention_ratio);
    return o;
}

/* Mean and sample std of the folds' AUC (summary[0..1]) and accuracy (summary[2..3]). */
static void summarise(const hop_mil_fold_result *results, int n, double summary[4])
{
    double auc[n], acc[n];
    for (int i = 0; i < n; i++) {
        auc[i] = results[i].auc;
        acc[i] = results[i].accuracy;
    }
    hop_mean_std(auc, (size_t)n, &summary[0], &summary[1], NULL);
    hop_mean_std(acc, (size_t)n, &summary[2], &summary[3], NULL);
}

cJSON *report_json(const char *dataset, int folds, int repeats, const hop_mil_fold_result *results,
                   bool attention)
{
    double summary[4];
    summarise(results, folds * repeats, summary);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dataset", dataset);
    cJSON_AddNumberToObject(root, "folds", folds);
    cJSON_AddNumberToObject(root, "repeats", repeats);
    cJSON_AddNumberToObject(root, "auc_mean", summary[0]);
    cJSON_AddNumberToObject(root, "auc_std", summary[1]);
    cJSON_AddNumberToObject(root, "acc_mean", summary[2]);
    cJSON_AddNumberToObject(root, "acc_std", summary[3]);
    cJSON *list = cJSON_AddArrayToObject(root, "per_fold");
    for (int i = 0; i < folds * repeats; i++)
        cJSON_AddItemToArray(list, fold_json(&results[i], attention));
    return root;
}

int report_folds(const char *dataset, int folds, int repeats, const hop_mil_fold_result *results,
                 const char *report_path, hop_error *err)
{
    int n = folds * repeats;
    printf("%-8s %-6s %8s %9s\n", "repeat", "fold", "AUC", "accuracy");
    for (int i = 0; i < n; i++)
        printf("%-8d %-6d %8.4f %9.4f\n", results[i].repeat + 1, results[i].fold + 1,
               results[i].auc, results[i].accuracy);
    double summary[4];
    summarise(results, n, summary);
    printf("%s: AUC %.4f +- %.4f, accuracy %.4f +- %.4f (%d folds x %d %s)\n", dataset, summary[0],
           summary[1], summary[2], summary[3], folds, repeats, repeats == 1 ? "repeat" : "repeats");
    if (!report_path)
        return 0;

    cJSON *root = report_json(dataset, folds, repeats, results, false);
    hop_status status = write_json(report_path, root, err);
    cJSON_Delete(root);
    return status == HOP_OK ? 0 : 1;
}
