/*
 * Associative memories and the experiments that measure them.
 *
 * Four networks store N patterns of dimension d (rows of an N x d matrix X):
 *
 * - classical: the binary Hopfield network. W = X^T X / d with a zero diagonal, energy
 *   E(s) = -s^T W s / 2, update s_i <- sign((W s)_i).
 * - polynomial: the dense associative memory of Krotov and Hopfield (2016) with interaction
 *   F(x) = x^n, energy E(s) = -sum_mu F(x_mu . s). Its capacity grows like d^(n-1).
 * - exponential: the dense associative memory of Demircigil et al. (2017), F(x) = exp(beta x),
 *   whose capacity for binary patterns is exponential in d.
 * - continuous: the modern Hopfield network of Ramsauer et al. (2020), update
 *   x <- X^T sep(beta X x) with sep = softmax, sparsemax or 1.5-entmax.
 *
 * The binary networks (the first three) store patterns with entries +1 and -1. Their update
 * sets unit i to the sign that gives the lower energy, keeping the current value on a tie,
 * either for all units at once (synchronous) or one at a time in a random order (asynchronous).
 *
 * Retrieval of many queries goes through BLAS in tiles of HOP_MEMORY_TILE_ROWS queries, so
 * the scratch memory is bounded by the tile size times N. Each query row is updated on its own
 * and stops as soon as it has converged, so a batch gives the same states as single queries.
 */
#ifndef HOP_MEMORY_H
#define HOP_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hop/base.h"
#include "hop/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queries retrieved together by one pair of matrix products. */
#define HOP_MEMORY_TILE_ROWS 256

typedef enum hop_memory_kind {
    HOP_MEMORY_CLASSICAL,
    HOP_MEMORY_POLYNOMIAL,
    HOP_MEMORY_EXPONENTIAL,
    HOP_MEMORY_CONTINUOUS,
    HOP_MEMORY_KIND_COUNT
} hop_memory_kind;

typedef enum hop_memory_update {
    HOP_UPDATE_ASYNC, /* one unit at a time in a fresh random order each sweep */
    HOP_UPDATE_SYNC,  /* all units from the same state */
} hop_memory_update;

typedef struct hop_memory_config {
    hop_memory_kind kind;
    int degree;                /* n of F(x) = x^n, polynomial only, 2..16 */
    float beta;                /* inverse temperature: exponential and continuous, >= 0 */
    hop_separation separation; /* continuous only */
    hop_memory_update update;  /* binary networks only */
    int max_steps;             /* updates (sweeps for the binary networks), at least 1 */
    float tolerance;           /* continuous: converged when max |change| <= tolerance; < 0 never */
} hop_memory_config;

/* Defaults for a kind: degree 3, beta 1, softmax, asynchronous, 100 steps, tolerance 1e-5. */
hop_memory_config hop_memory_config_default(hop_memory_kind kind);

/* Short names: "classical", "polynomial", "exponential", "continuous". */
const char *hop_memory_kind_name(hop_memory_kind kind);
/* Parses a kind name; returns HOP_ERR_ARG naming the value and the choices. */
hop_status hop_memory_kind_parse(const char *name, hop_memory_kind *kind, hop_error *err);

typedef struct hop_memory {
    hop_memory_config config;
    int n_patterns;
    int dim;
    float *patterns;   /* n_patterns x dim, a copy */
    float *patterns_t; /* dim x n_patterns, binary dense networks only */
    float *weights;    /* dim x dim Hebbian weights, classical only */
    float max_norm;    /* M, the largest pattern norm */
} hop_memory;

/*
 * Checks config and copies the patterns. Binary networks require entries of exactly +1 or -1;
 * the continuous network requires finite entries. Errors name the pattern and entry.
 */
hop_status hop_memory_store(hop_memory *m, const hop_memory_config *config, int n_patterns, int dim,
                            const float *patterns, hop_error *err);
/* Releases the memory; a zero-initialised struct is fine. */
void hop_memory_free(hop_memory *m);

/* The energy of a state of dim entries, in double precision. */
double hop_memory_energy(const hop_memory *m, const float *state);

/* One retrieval: the updates taken and the energy before and after each of them. */
typedef struct hop_retrieval {
    int steps;      /* updates (sweeps) applied */
    bool converged; /* stopped by the convergence test rather than by max_steps */
    double *energy; /* steps + 1 values: the query's energy, then after each update */
} hop_retrieval;

/*
 * Retrieves from one query of dim entries: writes the final state (dim floats) and fills out,
 * whose energy array the caller releases with hop_retrieval_free. rng orders asynchronous
 * updates and may be NULL for the continuous and synchronous networks.
 */
hop_status hop_memory_retrieve(const hop_memory *m, const float *query, float *state, hop_rng *rng,
                               hop_retrieval *out, hop_error *err);
void hop_retrieval_free(hop_retrieval *r);

/*
 * Retrieves n_queries rows of dim entries into states (same layout; may equal queries).
 * steps and converged, when not NULL, receive one value per query.
 */
hop_status hop_memory_retrieve_batch(const hop_memory *m, int n_queries, const float *queries,
                                     float *states, int *steps, bool *converged, hop_rng *rng,
                                     hop_error *err);

/* Patterns and queries for experiments. */

/* Fills n x dim entries with independent +1 / -1 values. */
void hop_memory_random_binary(hop_rng *rng, int n, int dim, float *out);
/* Fills n rows of dim entries drawn uniformly from the sphere of the given radius. */
void hop_memory_random_sphere(hop_rng *rng, int n, int dim, float radius, float *out);

typedef enum hop_corruption {
    HOP_CORRUPT_FLIP,  /* negate round(amount * dim) entries chosen at random */
    HOP_CORRUPT_MASK,  /* set round(amount * dim) entries chosen at random to 0 */
    HOP_CORRUPT_NOISE, /* add Gaussian noise of standard deviation amount to every entry */
    HOP_CORRUPTION_COUNT
} hop_corruption;

/* Short names: "flip", "mask", "noise". */
const char *hop_corruption_name(hop_corruption kind);
hop_status hop_corruption_parse(const char *name, hop_corruption *kind, hop_error *err);

/* Writes a corrupted copy of one row of dim entries into out (which may equal in). */
void hop_memory_corrupt(hop_corruption kind, float amount, hop_rng *rng, int dim, const float *in,
                        float *out);

/*
 * Separation functions on one row of n scores.
 *
 * mask may be NULL; otherwise a nonzero mask[j * mask_stride] removes z[j]: its output is 0.
 * A row with every entry masked gives all zeros. work has room for n floats of scratch space for the
 * sort that sparsemax and 1.5-entmax need (softmax does not touch it).
 */
void hop_separation_row(hop_separation kind, const float *z, const float *mask, size_t mask_stride,
                        int n, float *work, float *p);
/*
 * Adds J v to dz, where J is the Jacobian of the separation at the output p of one row
 * (J is symmetric for all three, so this is also the vector-Jacobian product for backward).
 * softmax: J = diag(p) - p p^T; sparsemax: J = diag(s) - s s^T / sum(s) with s the 0/1
 * indicator of the support; 1.5-entmax: the same with s = sqrt(p).
 */
void hop_separation_row_jvp(hop_separation kind, const float *p, const float *v, int n, float *dz);
/*
 * Returns the convex conjugate Psi*(z) = <p, z> - Psi(p) at p = sep(z), where Psi is the
 * negative Shannon entropy (softmax: Psi* = logsumexp), or the negative Tsallis entropy with
 * alpha 2 (sparsemax) or 1.5 (1.5-entmax). The continuous network's energy uses it.
 */
double hop_separation_conjugate(hop_separation kind, const float *z, const float *p, int n);
/* Returns max over the simplex of -Psi: log n, (1 - 1/n) / 2, (1 - n^-0.5) / 0.75. */
double hop_separation_entropy_max(hop_separation kind, int n);

/* Short names: "softmax", "sparsemax", "entmax15". */
const char *hop_separation_name(hop_separation kind);
hop_status hop_separation_parse(const char *name, hop_separation *kind, hop_error *err);

/* Experiments. */

/* Settings of one retrieval-success measurement. */
typedef struct hop_capacity_options {
    hop_memory_config memory;
    int dim;
    int n_patterns;
    int n_queries; /* queries per trial, each a corrupted copy of a random stored pattern */
    int trials;    /* independent pattern sets */
    hop_corruption corruption;
    float amount;           /* fraction of entries (flip, mask) or noise standard deviation */
    float success_distance; /* continuous: a retrieval succeeds when the final state is within
                               success_distance * M of its pattern; binary: exact match */
    uint64_t seed;
} hop_capacity_options;

/*
 * Stores random patterns (binary, or on the sphere of radius sqrt(dim) for the continuous
 * network) and writes the fraction of retrievals that succeed into *rate.
 */
hop_status hop_memory_success_rate(const hop_capacity_options *options, double *rate,
                                   hop_error *err);

/* One trial of the one-step experiment on the continuous softmax network. */
typedef struct hop_onestep_point {
    double spread; /* noise scale of the patterns around a common centre */
    double delta;  /* separation of pattern 0: x_0 . x_0 - max_{j != 0} x_0 . x_j */
    double error;  /* || f(x_0) - x_0 || after one update from the query x_0 */
    double bound;  /* 2 (N - 1) exp(-beta delta) M */
} hop_onestep_point;

typedef struct hop_onestep_options {
    int dim;
    int n_patterns;
    int trials;
    float beta;
    float radius;     /* M: every pattern has this norm */
    float spread_min; /* spreads are drawn log-uniformly from [spread_min, spread_max] */
    float spread_max;
    uint64_t seed;
} hop_onestep_options;

/* Runs options->trials trials into points (trials entries). */
hop_status hop_memory_onestep(const hop_onestep_options *options, hop_onestep_point *points,
                              hop_error *err);

typedef enum hop_fixed_point_kind {
    HOP_FIXED_SINGLE,     /* k = 1: one pattern */
    HOP_FIXED_METASTABLE, /* 1 < k <= N / 2: near the average of k patterns */
    HOP_FIXED_GLOBAL,     /* k > N / 2: near the average of all patterns */
} hop_fixed_point_kind;

/* "single", "metastable", "global". */
const char *hop_fixed_point_kind_name(hop_fixed_point_kind kind);

/*
 * Classifies a state by its separation weights p = sep(beta X x): k is the smallest number of
 * entries of p that sum to at least 0.9. subset_distance receives || x - mean of those k
 * patterns || / M. work has room for 2 * N floats.
 */
hop_fixed_point_kind hop_memory_classify(const hop_memory *m, const float *state, float *work,
                                         int *k, double *subset_distance);

typedef struct hop_fixedpoint_options {
    int dim;
    int n_clusters;   /* patterns come in clusters around random centres */
    int cluster_size; /* patterns per cluster */
    float spread;     /* noise around a cluster centre, relative to the unit radius */
    int n_queries;    /* each a stored pattern plus noise of standard deviation spread / 2 */
    int n_betas;
    const float *betas;
    hop_separation separation;
    int max_steps;
    uint64_t seed;
} hop_fixedpoint_options;

typedef struct hop_fixedpoint_result {
    float beta;
    int query;
    int steps;
    bool converged;
    int k;
    hop_fixed_point_kind kind;
    double subset_distance;
} hop_fixedpoint_result;

/* Writes n_betas * n_queries results into results, beta-major. Patterns have unit norm. */
hop_status hop_memory_fixedpoints(const hop_fixedpoint_options *options,
                                  hop_fixedpoint_result *results, hop_error *err);

/* Image retrieval: images in [0, 1] are stored as 2 * pixel - 1 in a continuous memory. */
typedef struct hop_image_options {
    int width, height;
    int n_images;
    const float *images;  /* n_images x (width * height), values in [0, 1] */
    bool mask_lower_half; /* queries keep the upper half and set the lower half to 0 */
    float noise;          /* standard deviation of Gaussian noise added to queries */
    int n_betas;
    const float *betas;
    int steps; /* updates per retrieval */
    uint64_t seed;
} hop_image_options;

/*
 * Writes the queries (n_images images) and the retrievals (n_betas x n_images images) in
 * [0, 1], and per beta the mean squared pixel error and the fraction of retrievals whose
 * nearest stored image is the original.
 */
hop_status hop_memory_images(const hop_image_options *options, float *queries, float *retrieved,
                             double *mse, double *accuracy, hop_error *err);

/* Plots through gnuplot and PNG image grids. */

typedef struct hop_plot_series {
    const char *title;
    int n;
    const double *x;
    const double *y;
    bool points; /* points only; otherwise lines with points */
} hop_plot_series;

typedef struct hop_plot_spec {
    const char *title;
    const char *xlabel;
    const char *ylabel;
    bool logx, logy;
    int width, height; /* pixels; 0 selects 800 x 560 */
    int n_series;
    const hop_plot_series *series;
    const char *gnuplot; /* program to run; NULL selects "gnuplot" from PATH */
} hop_plot_spec;

/*
 * Draws the series with gnuplot into a PNG at png_path. The data, the script and gnuplot's
 * PNG go into a temporary folder; the PNG is checked for the PNG signature and then written
 * to png_path with hop_write_file_with (hop/io.h). Errors name png_path, gnuplot's exit status
 * and its first output line, or the Debian package gnuplot-nox when the program is missing.
 */
hop_status hop_plot_lines(const hop_plot_spec *spec, const char *png_path, hop_error *err);

/*
 * Writes a grayscale PNG of rows x cols cells, each a width x height image of values in [0, 1]
 * (cells row-major in images), every pixel drawn as a scale x scale block, with a 1-pixel gap.
 * NaN cells are drawn mid-gray. The file is written atomically.
 */
hop_status hop_image_grid_write(const char *png_path, const float *images, int rows, int cols,
                                int width, int height, int scale, hop_error *err);

/* Returns 1 when the file at path starts with the PNG signature and ends with the IEND chunk. */
int hop_png_file_valid(const char *path);

#ifdef __cplusplus
}
#endif

#endif
