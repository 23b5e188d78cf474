/* The CBLAS provider: its name, version and thread count. */
#include <cblas.h>
#include <stdio.h>

#ifdef HOP_BLAS_BLIS
#include <blis.h>
#endif

#include "hop/base.h"
#include "hop/blas.h"

const char *hop_blas_provider(void)
{
    return HOP_BLAS_PROVIDER;
}

const char *hop_blas_name(void)
{
#if defined(HOP_BLAS_BLIS)
    return "BLIS";
#elif defined(OPENBLAS_VERSION)
    return OPENBLAS_VERSION + 1; /* the macro starts with a space */
#else
    return HOP_BLAS_PROVIDER;
#endif
}

const char *hop_blas_version(void)
{
#if defined(HOP_BLAS_BLIS)
    /* BLIS's header has no version macro; the library reports its own, such as "0.9.0". */
    return bli_info_get_version_str();
#elif defined(OPENBLAS_VERSION)
    return OPENBLAS_VERSION + 1;
#else
    return "unknown";
#endif
}

void hop_blas_set_threads(int threads)
{
    if (threads < 1)
        threads = 1;
#if defined(HOP_BLAS_BLIS)
    bli_thread_set_num_threads(threads);
#else
    openblas_set_num_threads(threads);
#endif
}
