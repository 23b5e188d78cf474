/* Printing and JSON reports of cross-validation results. */
#ifndef HOP_TRAIN_REPORT_H
#define HOP_TRAIN_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "hop/base.h"
#include "hop/mil.h"

/*
 * Prints each fold's AUC and accuracy and their mean +- std to stdout, and writes the
 * JSON report to report_path when it is not NULL. Returns 0, or 1 with err set.
 */
/*
 * Builds the JSON report: dataset, folds, repeats, auc_mean, auc_std, acc_mean, acc_std and
 * per_fold, each fold with its attention_ratio (null when not finite) when attention is set.
 */
cJSON *report_json(const char *dataset, int folds, int repeats, const hop_mil_fold_result *results,
                   bool attention);

int report_folds(const char *dataset, int folds, int repeats, const hop_mil_fold_result *results,
                 const char *report_path, hop_error *err);

/* Writes text to path with hop_write_file_atomic (see hop/io.h for links and devices). */
hop_status write_file_atomic(const char *path, const char *text, hop_error *err);

/* Serialises json to path atomically. */
hop_status write_json(const char *path, const cJSON *json, hop_error *err);

#endif
