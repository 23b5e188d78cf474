/* The column exp and maximum passes of the softmax at three vector widths. */
#include <math.h>

#include "vmath.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HOP_VMATH_X86 1
#include <immintrin.h>
#endif

/*
 * Cephes expf: exp(x) = 2^k exp(r) with k = round(x / ln 2), |r| <= ln(2) / 2, and
 * exp(r) = 1 + r + r^2 p(r) with p of degree 5. Arguments below EXP_LO give 0.
 */
#define EXP_LO -87.0f
#define EXP_HI 88.0f
#define LOG2E  1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0     1.9875691500e-4f
#define P1     1.3981999507e-3f
#define P2     8.3334519073e-3f
#define P3     4.1665795894e-2f
#define P4     1.6666665459e-1f
#define P5     5.0000001201e-1f

/* Portable: scalar libm, for processors without AVX2. */

static inline float exp_or_zero(float x)
{
    return x < EXP_LO ? 0.0f : expf(x);
}

static void exp_columns_portable(const float *x, long ldx, float *y, long ldy, long rows, int cols,
                                 const float *shift, float *sum)
{
    for (long r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float e = exp_or_zero(x[r * ldx + j] - shift[j]);
            y[r * ldy + j] = e;
            if (sum)
                sum[j] += e;
        }
}

static void max_columns_portable(const float *x, long ld, long rows, int cols, float *max)
{
    for (long r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            max[j] = x[r * ld + j] > max[j] ? x[r * ld + j] : max[j];
}

#ifdef HOP_VMATH_X86

/* AVX2 with FMA: 8 lanes. */

#define AVX2 __attribute__((target("avx2,fma")))

static inline AVX2 __m256 exp8(__m256 x)
{
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), x); /* NaN stays NaN */
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(P0), r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));

    /* Under lanes hold no valid k; the blend below replaces them. */
    __m256i bits = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
    __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23));
    return _mm256_blendv_ps(_mm256_mul_ps(p, scale), _mm256_setzero_ps(), under);
}

/* Lanes [0, count) of an 8-lane mask, count >= 1. */
static inline AVX2 __m256i lanes8(int count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static AVX2 void exp_columns_avx2(const float *x, long ldx, float *y, long ldy, long rows, int cols,
                                  const float *shift, float *sum)
{
    for (int j = 0; j < cols; j += 8) {
        __m256i m = lanes8(cols - j);
        __m256 s = _mm256_maskload_ps(shift + j, m), acc = _mm256_setzero_ps();
        for (long r = 0; r < rows; r++) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + r * ldx + j, m), s));
            _mm256_maskstore_ps(y + r * ldy + j, m, e);
            acc = _mm256_add_ps(acc, e);
        }
        if (sum)
            _mm256_maskstore_ps(sum + j, m, _mm256_add_ps(_mm256_maskload_ps(sum + j, m), acc));
    }
}

static AVX2 void max_columns_avx2(const float *x, long ld, long rows, int cols, float *max)
{
    for (int j = 0; j < cols; j += 8) {
        __m256i m = lanes8(cols - j);
        __m256 top = _mm256_maskload_ps(max + j, m);
        for (long r = 0; r < rows; r++)
            top = _mm256_max_ps(_mm256_maskload_ps(x + r * ld + j, m), top);
        _mm256_maskstore_ps(max + j, m, top);
    }
}

/* AVX-512: 16 lanes, masked tails and scalef for the power of two. */

#define AVX512 __attribute__((target("avx512f")))

static inline AVX512 __m512 exp16(__m512 x)
{
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LO), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), x); /* NaN stays NaN */
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(P0), r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps((__mmask16)~under, p, k);
}

/* Lanes [0, count) of a 16-lane mask. */
static inline __mmask16 lanes16(int count)
{
    return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u);
}

static AVX512 void exp_columns_avx512(const float *x, long ldx, float *y, long ldy, long rows,
                                      int cols, const float *shift, float *sum)
{
    for (int j = 0; j < cols; j += 16) {
        __mmask16 m = lanes16(cols - j);
        __m512 s = _mm512_maskz_loadu_ps(m, shift + j), acc = _mm512_setzero_ps();
        for (long r = 0; r < rows; r++) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + r * ldx + j), s));
            _mm512_mask_storeu_ps(y + r * ldy + j, m, e);
            acc = _mm512_add_ps(acc, e);
        }
        if (sum)
            _mm512_mask_storeu_ps(sum + j, m,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, sum + j), acc));
    }
}

static AVX512 void max_columns_avx512(const float *x, long ld, long rows, int cols, float *max)
{
    for (int j = 0; j < cols; j += 16) {
        __mmask16 m = lanes16(cols - j);
        __m512 top = _mm512_maskz_loadu_ps(m, max + j);
        for (long r = 0; r < rows; r++)
            top = _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + r * ld + j), top);
        _mm512_mask_storeu_ps(max + j, m, top);
    }
}

#endif

hop_vmath_level hop_vmath_best(void)
{
#ifdef HOP_VMATH_X86
    if (__builtin_cpu_supports("avx512f"))
        return HOP_VMATH_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return HOP_VMATH_AVX2;
#endif
    return HOP_VMATH_PORTABLE;
}

void hop_exp_columns_at(hop_vmath_level level, const float *x, long ldx, float *y, long ldy,
                        long rows, int cols, const float *shift, float *sum)
{
#ifdef HOP_VMATH_X86
    if (level == HOP_VMATH_AVX512) {
        exp_columns_avx512(x, ldx, y, ldy, rows, cols, shift, sum);
        return;
    }
    if (level == HOP_VMATH_AVX2) {
        exp_columns_avx2(x, ldx, y, ldy, rows, cols, shift, sum);
        return;
    }
#endif
    (void)level;
    exp_columns_portable(x, ldx, y, ldy, rows, cols, shift, sum);
}

void hop_exp_columns(const float *x, long ldx, float *y, long ldy, long rows, int cols,
                     const float *shift, float *sum)
{
    hop_exp_columns_at(hop_vmath_best(), x, ldx, y, ldy, rows, cols, shift, sum);
}

void hop_max_columns_at(hop_vmath_level level, const float *x, long ld, long rows, int cols,
                        float *max)
{
#ifdef HOP_VMATH_X86
    if (level == HOP_VMATH_AVX512) {
        max_columns_avx512(x, ld, rows, cols, max);
        return;
    }
    if (level == HOP_VMATH_AVX2) {
        max_columns_avx2(x, ld, rows, cols, max);
        return;
    }
#endif
    (void)level;
    max_columns_portable(x, ld, rows, cols, max);
}

void hop_max_columns(const float *x, long ld, long rows, int cols, float *max)
{
    hop_max_columns_at(hop_vmath_best(), x, ld, rows, cols, max);
}
