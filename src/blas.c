#include <cblas.h>
#include <stdio.h>

#include "hop/base.h"

const char *hop_blas_name(void)
{
#ifdef OPENBLAS_VERSION
    return OPENBLAS_VERSION + 1; /* the macro starts with a space */
#else
    return HOP_BLAS_PROVIDER;
#endif
}
