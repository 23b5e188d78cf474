/*
 * The CBLAS provider hop was built with (CMake option HOP_BLAS: openblas or blis).
 *
 * Every matrix product in hop goes through cblas_sgemm. These functions hide the two
 * providers' own calls for naming the library and setting its thread count.
 */
#ifndef HOP_BLAS_H
#define HOP_BLAS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns "openblas" or "blis". */
const char *hop_blas_provider(void);

/*
 * Copies the provider's version text, such as "OpenBLAS 0.3.21" or "0.9.0", into buf without
 * surrounding spaces, truncated to size - 1 characters. Returns the full length, as snprintf
 * does; 64 bytes hold every known version text.
 */
size_t hop_blas_version_copy(char *buf, size_t size);

/* Copies the library's name and version, such as "OpenBLAS 0.3.21" or "BLIS", as above. */
size_t hop_blas_name_copy(char *buf, size_t size);

/*
 * Sets the number of threads the BLAS uses inside one call (at least 1). The setting is
 * process-wide because both providers keep it in library state. Callers that run sgemm
 * from several of their own threads set it to 1, so the two thread pools do not compete
 * for the cores.
 */
void hop_blas_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
