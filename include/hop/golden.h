/*
 * Golden files: reference outputs and gradients of Hopfield modules in a line-oriented text
 * format ("hflayers-golden-v1").
 *
 *     # header comment
 *     case NAME
 *     class Hopfield|HopfieldPooling|HopfieldLayer
 *     kwargs {JSON object of constructor arguments}
 *     input_kind tensor|tuple3|tuple2
 *     projection_path self|encdec|generic|separate
 *     update_steps_taken N [N ...]
 *     tensor KIND NAME NDIM D0 D1 ...
 *     v v v ...                        (the values, row-major, on the next line)
 *     none KIND NAME                   (no gradient was recorded; read as zeros)
 *     loss X
 *     loss64 X
 *     end
 *
 * Any number of cases, tensors, sizes and kwargs is accepted. Blank lines and lines starting
 * with '#' are skipped. Every parse error names the line.
 */
#ifndef HOP_GOLDEN_H
#define HOP_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>

#include "hop/base.h"
#include "hop/layers.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hop_golden_kind {
    HOP_GOLDEN_PARAM,
    HOP_GOLDEN_INPUT,
    HOP_GOLDEN_MASK, /* 0/1, nonzero = padding */
    HOP_GOLDEN_LOSS_WEIGHT,
    HOP_GOLDEN_OUTPUT,
    HOP_GOLDEN_ASSOC, /* association matrix (B, heads, L, S) */
    HOP_GOLDEN_GRAD_INPUT,
    HOP_GOLDEN_GRAD_PARAM,
    HOP_GOLDEN_OUTPUT64,
    HOP_GOLDEN_GRAD_INPUT64,
    HOP_GOLDEN_GRAD_PARAM64,
    HOP_GOLDEN_KIND_COUNT
} hop_golden_kind;

/* Returns the kind's name in the file, such as "grad_param64". */
const char *hop_golden_kind_name(hop_golden_kind kind);

#define HOP_GOLDEN_MAX_DIMS 8

typedef struct hop_golden_tensor {
    hop_golden_kind kind;
    char *name;
    bool none; /* a "none" record: no shape and no values */
    int ndim;
    int shape[HOP_GOLDEN_MAX_DIMS];
    size_t numel;
    double *values; /* float32 kinds hold exactly the float read by strtof */
    int line;       /* line of the header record */
} hop_golden_tensor;

typedef struct hop_golden_case {
    char *name;
    char *class_name;
    char *kwargs;          /* JSON object text; "{}" when the case has no kwargs record */
    char *input_kind;      /* NULL when absent */
    char *projection_path; /* NULL when absent */
    int *update_steps;     /* update_steps_taken, one entry per head */
    int n_update_steps;
    hop_golden_tensor *tensors; /* in file order */
    int n_tensors;
    bool has_loss, has_loss64;
    double loss, loss64;
    int line; /* line of the "case" record */
} hop_golden_case;

typedef struct hop_golden_file {
    char *header; /* text of the first '#' line after "# ", or NULL */
    hop_golden_case *cases;
    int n_cases;
} hop_golden_file;

/* Parses length bytes of golden text (no terminating NUL needed) into file. */
hop_status hop_golden_parse(const char *text, size_t length, hop_golden_file *file, hop_error *err);
/* Reads and parses the file at path. */
hop_status hop_golden_load(const char *path, hop_golden_file *file, hop_error *err);
void hop_golden_free(hop_golden_file *file);

/* Returns the case's tensor record of this kind and name, or NULL. */
const hop_golden_tensor *hop_golden_find(const hop_golden_case *c, hop_golden_kind kind,
                                         const char *name);

/*
 * Builds a layer configuration from a case's kwargs, with the reference's defaults for
 * absent keys. Fails with HOP_ERR_PARSE on a value of the wrong type and with HOP_ERR_DATA,
 * naming the key, on an option hop does not implement (such as a per-head tensor scaling)
 * or does not know.
 */
hop_status hop_golden_hopfield_config(const hop_golden_case *c, hop_hopfield_config *config,
                                      hop_error *err);
hop_status hop_golden_pooling_config(const hop_golden_case *c, hop_hopfield_pooling_config *config,
                                     hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
