/*
 * hop base: version, status codes, error reports and the random number generator.
 *
 * Library functions never exit. A function that can fail returns a hop_status
 * (HOP_OK is 0) or NULL, and writes a message into a caller-owned hop_error.
 */
#ifndef HOP_BASE_H
#define HOP_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_VERSION_MAJOR  0
#define HOP_VERSION_MINOR  1
#define HOP_VERSION_PATCH  0
#define HOP_VERSION_STRING "0.1.0"

typedef enum hop_status {
    HOP_OK = 0,
    HOP_ERR_ARG,     /* invalid argument or flag value */
    HOP_ERR_SHAPE,   /* tensor shapes do not fit the op */
    HOP_ERR_NOMEM,   /* allocation failed */
    HOP_ERR_IO,      /* a file could not be opened, read or written */
    HOP_ERR_PARSE,   /* a file is malformed */
    HOP_ERR_DATA,    /* well-formed input whose content is unusable */
    HOP_ERR_NUMERIC, /* NaN or infinity where a finite value is required */
    HOP_STATUS_COUNT
} hop_status;

/* Returns a short constant name such as "shape error" for a status. */
const char *hop_status_string(hop_status status);

#define HOP_ERROR_MESSAGE_MAX 512

/* A failure report: the status and a message naming the value, file or line. */
typedef struct hop_error {
    hop_status status;
    char message[HOP_ERROR_MESSAGE_MAX];
} hop_error;

/* Sets status and a printf-style message; returns status. A NULL err is allowed. */
hop_status hop_error_set(hop_error *err, hop_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
hop_status hop_error_setv(hop_error *err, hop_status status, const char *format, va_list args);

/* Clears err to HOP_OK with an empty message. */
void hop_error_clear(hop_error *err);

/* xoshiro256** state. Seeded through splitmix64, so any 64-bit seed is fine. */
typedef struct hop_rng {
    uint64_t s[4];
} hop_rng;

void hop_rng_seed(hop_rng *rng, uint64_t seed);
uint64_t hop_rng_u64(hop_rng *rng);
/* Uniform float in [0, 1). */
float hop_rng_uniform(hop_rng *rng);
/* Uniform integer in [0, n); n must be positive. */
uint64_t hop_rng_below(hop_rng *rng, uint64_t n);
/* Standard normal sample (Box-Muller, two uniforms per call, no cached spare). */
float hop_rng_normal(hop_rng *rng);
/* Shuffles n ints in place (Fisher-Yates). */
void hop_rng_shuffle_int(hop_rng *rng, int *values, size_t n);

#ifdef __cplusplus
}
#endif

#endif
