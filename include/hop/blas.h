/*
 * The CBLAS provider hop was built with (CMake option HOP_BLAS: openblas or blis).
 *
 * Every matrix product in hop goes through cblas_sgemm. These functions hide the two
 * providers' own calls for naming the library and setting its thread count.
 */
#ifndef HOP_BLAS_H
#define HOP_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns "openblas" or "blis". */
const char *hop_blas_provider(void);

/* Returns the provider's own version text, such as "OpenBLAS 0.3.21" or "0.9.0". */
const char *hop_blas_version(void);

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
