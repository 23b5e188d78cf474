/*
 * Datasets for multiple-instance learning (MIL): bag datasets loaded from CSV or UCI Musk
 * files, the embedded digits dataset, digit bags, standardisation and stratified folds.
 *
 * A MIL dataset is a list of bags. Each bag is a run of consecutive instances (feature
 * rows) and carries one 0/1 label. Every function that can fail returns a hop_status and
 * fills err. Structs that own memory are released with their _free function, which also
 * accepts a zero-initialised struct.
 */
#ifndef HOP_DATA_H
#define HOP_DATA_H

#include <stddef.h>

#include "hop/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_mil_dataset {
    int n_bags;
    int n_instances;
    int dim;              /* features per instance */
    float *features;      /* n_instances x dim, row-major */
    int *bag_start;       /* n_bags + 1 offsets: bag b is rows bag_start[b] to bag_start[b+1]-1 */
    int *labels;          /* n_bags labels, 0 (negative) or 1 (positive) */
    char **bag_names;     /* n_bags names: the bag id (CSV) or the molecule name (Musk) */
    int *instance_labels; /* n_instances 0/1 instance labels, or NULL where unknown */
    char *source;         /* file or dataset name used in messages */
} hop_mil_dataset;

/*
 * Parses a MIL dataset from length bytes of text. source names the input in messages.
 *
 * Two line formats are read, and the first field of line 1 selects one:
 *   - a number: derived CSV, "bag_label,bag_id,f1,...,fD" with bag_label 0 or 1;
 *   - anything else: UCI Musk, "molecule_name,conformation_name,f1,...,fD,class" with
 *     class 0 or 1 (written "1." and "0." in clean1.data), and a bag per molecule.
 * Instances of a bag must be on consecutive lines and share one label. LF and CRLF line
 * ends are accepted, and the last line may lack its line end. Blank lines at the end are
 * skipped, but a blank line before a data line is an error. Fields may be surrounded by
 * spaces or tabs. Features must be finite and fit a float. A leading UTF-8 byte order mark
 * is skipped. There is no header row: a line 1 whose fields from the third on are all
 * non-numeric is rejected as a header (HOP_ERR_PARSE) instead of being read as Musk data.
 *
 * On failure *out is zeroed and err names the source, the 1-based line and the value.
 * Statuses: HOP_ERR_PARSE for malformed text, HOP_ERR_NUMERIC for NaN or infinity,
 * HOP_ERR_DATA for an empty input, a bad label or a bag layout error, HOP_ERR_NOMEM.
 */
hop_status hop_mil_parse(const char *buffer, size_t length, const char *source,
                         hop_mil_dataset *out, hop_error *err);

/*
 * Reads the whole file at path and parses it with hop_mil_parse, using path as source.
 * A name ending in ".gz" is read through zlib, and a truncated or corrupt gzip file is an
 * HOP_ERR_IO error. A missing or unreadable file is HOP_ERR_IO.
 */
hop_status hop_mil_load(const char *path, hop_mil_dataset *out, hop_error *err);

/* Frees everything *dataset owns and zeroes it. */
void hop_mil_free(hop_mil_dataset *dataset);

/*
 * Builds a dataset by copying arrays: bag_sizes[b] instances for bag b, features as
 * sum(bag_sizes) x dim rows in bag order, labels 0/1. names (n_bags strings),
 * instance_labels (one 0/1 per instance) and source may be NULL; missing names become
 * "1", "2", ... Rejects an empty bag (size 0), a label other than 0/1 and non-finite
 * features.
 */
hop_status hop_mil_from_arrays(int n_bags, int dim, const float *features, const int *bag_sizes,
                               const int *labels, const char *const *names,
                               const int *instance_labels, const char *source, hop_mil_dataset *out,
                               hop_error *err);

/*
 * Copies the bags bags[0..n_bags-1] of dataset, in that order, into *out. Rejects an
 * index out of range, a selected bag without instances and n_bags < 1. A bag index may
 * repeat, and its copies then count as separate bags.
 */
hop_status hop_mil_subset(const hop_mil_dataset *dataset, const int *bags, int n_bags,
                          hop_mil_dataset *out, hop_error *err);

/* Counts bags by label: counts[0] negatives, counts[1] positives. */
void hop_mil_class_counts(const hop_mil_dataset *dataset, int counts[2]);

/*
 * Checks that a dataset can be trained and cross-validated: consistent offsets, no empty
 * bag, 0/1 labels, finite features and at least 2 bags of each class. HOP_ERR_DATA for a
 * single-class or too small dataset, with the class counts in the message.
 */
hop_status hop_mil_validate(const hop_mil_dataset *dataset, hop_error *err);

/* Per-feature standardisation x' = (x - mean) / std. */
typedef struct hop_standardizer {
    int dim;
    double *mean;
    double *std; /* population standard deviation (divides by n), 1 for constant features */
} hop_standardizer;

/*
 * Fits mean and std over the instances of the bags bags[0..n_bags-1] only, so a model
 * can be standardised with statistics of its training folds. A feature whose fitted
 * instances are all equal gets std 1. *standardizer must be zeroed or fitted before, and
 * its old arrays are freed. Rejects n_bags < 1, out-of-range indices and bags with no
 * instances at all.
 */
hop_status hop_standardizer_fit(hop_standardizer *standardizer, const hop_mil_dataset *dataset,
                                const int *bags, int n_bags, hop_error *err);

/* Standardises all instances of dataset in place. Rejects a dimension mismatch. */
hop_status hop_standardizer_apply(const hop_standardizer *standardizer, hop_mil_dataset *dataset,
                                  hop_error *err);

void hop_standardizer_free(hop_standardizer *standardizer);

/*
 * Assigns each of n bags a fold in [0, k) for stratified k-fold cross-validation.
 * Within each class the bags are shuffled with rng and dealt to the folds in turn, so the
 * number of bags of a class in two folds differs by at most 1, and fold sizes differ by
 * at most 1. Calling it again with the same rng gives the next repeat of repeated k-fold.
 * HOP_ERR_ARG for a label other than 0/1 or for k < 2 or k above the bag count of the
 * smaller class (the message names k and both counts). HOP_ERR_DATA when a class has
 * fewer than 2 bags.
 */
hop_status hop_stratified_folds(const int *labels, int n, int k, hop_rng *rng, int *fold_of,
                                hop_error *err);

/*
 * Stratified k-fold assignment over n_classes classes (labels in [0, n_classes)), dealt in
 * the same way. HOP_ERR_ARG for k < 2, k > n, a label out of range, or k above the sample
 * count of the smallest class present (the message names the class and its count).
 */
hop_status hop_stratified_folds_classes(const int *labels, int n, int n_classes, int k,
                                        hop_rng *rng, int *fold_of, hop_error *err);

/*
 * Writes the bag indices outside fold into train and those in it into test, both in
 * increasing order, and their counts into *n_train and *n_test. train and test need
 * room for n indices each.
 */
void hop_fold_split(const int *fold_of, int n, int fold, int *train, int *n_train, int *test,
                    int *n_test);

/* The digits dataset: n images of 8 x 8 pixels scaled from 0..16 to [0, 1]. */
#define HOP_DIGITS_DIM   64
#define HOP_DIGITS_COUNT 1797

typedef struct hop_digits {
    int n;
    float *images; /* n x HOP_DIGITS_DIM, row-major, each value pixel / 16 */
    int *labels;   /* n digits 0..9 */
} hop_digits;

/*
 * Decompresses and parses the digits dataset embedded in the library: the 1797 test
 * images of UCI "Optical Recognition of Handwritten Digits" as shipped by scikit-learn.
 */
hop_status hop_digits_load(hop_digits *out, hop_error *err);

/*
 * Parses digits CSV text: lines of 64 integer pixels 0..16 and a label 0..9, no header.
 * Errors name source and the 1-based line.
 */
hop_status hop_digits_parse(const char *buffer, size_t length, const char *source, hop_digits *out,
                            hop_error *err);

void hop_digits_free(hop_digits *digits);

/*
 * Splits the indices 0..n_digits-1 at random into two disjoint pools: n_train indices
 * into train_pool and the other n_digits - n_train into test_pool. Train and test bags
 * built from the two pools then never share a digit image.
 */
hop_status hop_digits_split_pools(int n_digits, int n_train, hop_rng *rng, int *train_pool,
                                  int *test_pool, hop_error *err);

/* Settings for digit bags in the style of the MNIST-bags of Ilse et al. (2018). */
typedef struct hop_digit_bag_options {
    int n_bags;
    double mean_size; /* bag sizes are round(N(mean_size, std_size^2)), at least 1 */
    double std_size;
    int target_digit; /* a bag is positive when it contains this digit */
} hop_digit_bag_options;

/* Returns options for 100 bags of mean size 10 and std 2 with target digit 9. */
hop_digit_bag_options hop_digit_bag_defaults(void);

/*
 * Builds options.n_bags digit bags whose instances are images drawn with replacement
 * from pool (indices into digits). n_bags / 2 bags are positive and the rest negative,
 * in shuffled order. A negative bag draws only non-target digits from the pool. A
 * positive bag draws from the whole pool, and if no target digit was drawn, one
 * random position is replaced by a target digit from the pool. instance_labels marks
 * the target-digit instances. Rejects a pool without target or without non-target
 * digits, and sizes whose total exceeds INT_MAX instances.
 */
hop_status hop_digit_bags_make(const hop_digits *digits, const int *pool, int pool_size,
                               const hop_digit_bag_options *options, hop_rng *rng,
                               hop_mil_dataset *out, hop_error *err);

/*
 * Bags of token sequences, such as immune repertoires of amino-acid sequences.
 *
 * Text format (TSV, one instance a line): bag_id TAB bag_label TAB sequence, with an
 * optional fourth column witness (0/1, marks a sequence known to carry the signal, as the
 * generator writes). All lines have the same number of columns. A first line whose first
 * field is "bag_id" is a header and is skipped. Lines of a bag are consecutive and share one
 * label; a bag id that returns after another bag is an error. Sequences are non-empty and use
 * the 20 amino-acid letters ACDEFGHIKLMNPQRSTVWY in upper case. LF and CRLF line ends are
 * accepted; blank lines are allowed only at the end.
 */

#define HOP_AMINO_ACIDS      "ACDEFGHIKLMNPQRSTVWY"
#define HOP_AMINO_ACID_COUNT 20

typedef struct hop_seq_dataset {
    int n_bags;
    int n_seqs;
    int *bag_start;    /* n_bags + 1 offsets: bag b is sequences bag_start[b] to bag_start[b+1]-1 */
    int *labels;       /* n_bags labels, 0 or 1 */
    char **bag_names;  /* n_bags bag ids */
    size_t *seq_start; /* n_seqs + 1 offsets into residues */
    char *residues;    /* all sequences back to back, without terminators */
    int *witness;      /* n_seqs 0/1 witness flags, or NULL when the input has none */
    char *source;      /* file or dataset name used in messages */
} hop_seq_dataset;

/*
 * Parses the TSV format above from length bytes. Errors name source, the 1-based line and
 * the field: HOP_ERR_PARSE for malformed lines, HOP_ERR_DATA for an empty input, a bad label,
 * residue or bag layout. On failure *out is zeroed.
 */
hop_status hop_seq_parse(const char *buffer, size_t length, const char *source,
                         hop_seq_dataset *out, hop_error *err);

/* Reads path (".gz" through zlib) and parses it. */
hop_status hop_seq_load(const char *path, hop_seq_dataset *out, hop_error *err);

void hop_seq_free(hop_seq_dataset *dataset);

/* Length of sequence i and a pointer to its residues. */
int hop_seq_length(const hop_seq_dataset *dataset, int i);
const char *hop_seq_residues(const hop_seq_dataset *dataset, int i);

/* Copies the bags bags[0..n_bags-1] into *out, in that order. */
hop_status hop_seq_subset(const hop_seq_dataset *dataset, const int *bags, int n_bags,
                          hop_seq_dataset *out, hop_error *err);

/* Checks that the dataset has at least 2 bags of each class (HOP_ERR_DATA otherwise). */
hop_status hop_seq_validate(const hop_seq_dataset *dataset, hop_error *err);

/*
 * Checks that every sequence has at least kmer residues, so it gives at least one k-mer.
 * Otherwise returns HOP_ERR_DATA with the count of shorter sequences and the first of them.
 */
hop_status hop_seq_check_kmer(const hop_seq_dataset *dataset, int kmer, hop_error *err);

/*
 * Formats the dataset as TSV text with a header line, and the witness column when the
 * dataset has witness flags. *text is malloc'd and NUL-terminated, *length excludes the NUL.
 */
hop_status hop_seq_format(const hop_seq_dataset *dataset, char **text, size_t *length,
                          hop_error *err);

/* Settings of the repertoire-like bag generator. */
typedef struct hop_seq_generator {
    int n_bags;         /* half of them positive (rounded down), in shuffled order */
    int bag_size;       /* sequences per bag */
    double length_mean; /* sequence lengths are round(N(mean, std^2)), clamped to [min, max] */
    double length_std;
    int length_min; /* at least the motif length */
    int length_max;
    const char *motif;   /* amino acids implanted into witness sequences */
    double witness_rate; /* fraction of a positive bag's sequences that carry the motif */
} hop_seq_generator;

/*
 * Returns 40 bags of 200 sequences, lengths N(14, 2^2) in [8, 20], motif "SLGRWE" and witness
 * rate 0.05.
 */
hop_seq_generator hop_seq_generator_defaults(void);

/*
 * Generates bags from rng: every residue uniform over the 20 amino acids. In a positive bag
 * max(1, round(witness_rate * bag_size)) distinct random sequences get the motif at a random
 * position, and are marked as witnesses. The same options and rng state give the same bags.
 */
hop_status hop_seq_generate(const hop_seq_generator *options, hop_rng *rng, hop_seq_dataset *out,
                            hop_error *err);

#ifdef __cplusplus
}
#endif

#endif
