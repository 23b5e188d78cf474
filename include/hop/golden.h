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

typedef enum hop_golden_module {
    HOP_GOLDEN_HOPFIELD,
    HOP_GOLDEN_POOLING,
    HOP_GOLDEN_LAYER,
} hop_golden_module;

/* A case's module and its configuration; hopfield.head_scaling points into head_scaling. */
typedef struct hop_golden_config {
    hop_golden_module module;
    hop_hopfield_config hopfield;
    float head_scaling[HOP_HOPFIELD_MAX_HEADS];
    int n_head_scaling; /* 0 unless scaling was a per-head tensor */
    int quantity;       /* pooling and layer */
    bool trainable;
    bool lookup_weights_as_separated; /* layer */
    bool lookup_targets_as_trainable; /* layer */
} hop_golden_config;

/*
 * Builds the configuration of a case's class from its kwargs, with the reference's defaults
 * for absent keys. Fails with HOP_ERR_ARG on an unknown class, HOP_ERR_PARSE on a value of
 * the wrong type and HOP_ERR_DATA, naming the key, on an option hop does not implement or
 * does not know. Call hop_golden_config_bind() after copying the result.
 */
hop_status hop_golden_case_config(const hop_golden_case *c, hop_golden_config *config,
                                  hop_error *err);
/* Points config->hopfield.head_scaling at config's own table (after a copy). */
void hop_golden_config_bind(hop_golden_config *config);

/* Bound on max|hop - ref| relative to max(1, max|ref|) per tensor: float32 against float64. */
#define HOP_GOLDEN_TOLERANCE 2e-5

typedef enum hop_golden_verdict {
    HOP_GOLDEN_PASS,
    HOP_GOLDEN_FAIL,
    HOP_GOLDEN_DEPARTURE, /* differs where the reference is known to be wrong */
} hop_golden_verdict;

/* One compared quantity of a case. */
typedef struct hop_golden_check {
    char what[192];  /* such as "output" or "grad_param hopfield.norm_state_pattern.bias" */
    double max_diff; /* max|hop - ref|; INFINITY when hop gave NaN */
    double scale;    /* max(1, max|ref|) */
    size_t worst;    /* flat index of max_diff */
    double hop_value, ref_value;
    bool passed;
} hop_golden_check;

typedef struct hop_golden_result {
    hop_golden_verdict verdict;
    hop_golden_check *checks;
    int n_checks;
    double worst_relative; /* largest max_diff / scale over the checks */
    int worst_check;       /* index of it, or -1 */
    char note[256];        /* why the case is a departure; empty otherwise */
} hop_golden_result;

/*
 * Runs one case: builds the module from the kwargs, loads its parameters by name (checking
 * shape and order), runs forward and backward of loss = sum(output * loss_weight) and
 * compares the output, association matrix, loss, update step counts and every input and
 * parameter gradient against the float64 records. Where the reference took every projection
 * from one LayerNorm (projection_path self or encdec), hop's separate LayerNorm gradients
 * are compared summed against the reference's merged one. A per-head tensor scaling with
 * differing values is run and reported as HOP_GOLDEN_DEPARTURE. Fails, filling err, when the
 * case cannot be run; otherwise fills result (free it with hop_golden_result_free).
 */
hop_status hop_golden_run_case(const hop_golden_case *c, hop_golden_result *result, hop_error *err);
void hop_golden_result_free(hop_golden_result *result);

#ifdef __cplusplus
}
#endif

#endif
