/* The CBLAS provider: its name, version and thread count. */
#include <cblas.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#ifdef HOP_BLAS_BLIS
#include <blis.h>
#endif

#include "hop/base.h"
#include "hop/blas.h"

const char *hop_blas_provider(void)
{
    return HOP_BLAS_PROVIDER;
}

/* Copies text into buf without leading and trailing spaces, truncating to fit size. */
static size_t copy_trimmed(const char *text, char *buf, size_t size)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        length--;
    if (size == 0)
        return length;
    size_t copied = length < size - 1 ? length : size - 1;
    memcpy(buf, text, copied);
    buf[copied] = '\0';
    return length;
}

/* The library's own name text; OpenBLAS's macro has a space on both sides. */
static const char *raw_name(void)
{
#if defined(HOP_BLAS_BLIS)
    return "BLIS";
#elif defined(OPENBLAS_VERSION)
    return OPENBLAS_VERSION;
#else
    return HOP_BLAS_PROVIDER;
#endif
}

static const char *raw_version(void)
{
#if defined(HOP_BLAS_BLIS)
    /* BLIS's header has no version macro; the library reports its own, such as "0.9.0". */
    return bli_info_get_version_str();
#elif defined(OPENBLAS_VERSION)
    return OPENBLAS_VERSION;
#else
    return "unknown";
#endif
}

size_t hop_blas_name_copy(char *buf, size_t size)
{
    return copy_trimmed(raw_name(), buf, size);
}

size_t hop_blas_version_copy(char *buf, size_t size)
{
    return copy_trimmed(raw_version(), buf, size);
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
