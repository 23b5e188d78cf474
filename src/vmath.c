/* exp(x - shift) with its sum, and the row maximum, at three vector widths. */
#include <math.h>
#include <string.h>

#include "hop/retrieval.h"
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

static float exp_shifted_portable(const float *x, float shift, float *y, long n)
{
    float sum = 0.0f;
    for (long i = 0; i < n; i++)
        sum += y[i] = exp_or_zero(x[i] - shift);
    return sum;
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

static float row_max_portable(const float *x, long n)
{
    float m = x[0];
    for (long i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
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

static AVX2 float exp_shifted_avx2(const float *x, float shift, float *y, long n)
{
    const __m256 s = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        float tail[8] = {0};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(tail), s));
        _mm256_storeu_ps(tail, e);
        memcpy(y + i, tail, (size_t)(n - i) * sizeof(float));
        for (long j = n - i; j < 8; j++)
            tail[j] = 0.0f;
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(tail));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    float sum = 0.0f;
    for (int j = 0; j < 8; j++)
        sum += lanes[j];
    return sum;
}

static AVX2 float row_max_avx2(const float *x, long n)
{
    if (n < 8)
        return row_max_portable(x, n);
    __m256 m = _mm256_loadu_ps(x);
    long i = 8;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
    float lanes[8], top = x[0];
    _mm256_storeu_ps(lanes, m);
    for (int j = 0; j < 8; j++)
        top = lanes[j] > top ? lanes[j] : top;
    for (; i < n; i++)
        top = x[i] > top ? x[i] : top;
    return top;
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

static AVX512 float exp_shifted_avx512(const float *x, float shift, float *y, long n)
{
    const __m512 s = _mm512_set1_ps(shift);
    __m512 acc = _mm512_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
        _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
        _mm512_mask_storeu_ps(y + i, m, e);
        acc = _mm512_mask_add_ps(acc, m, acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

static AVX512 float row_max_avx512(const float *x, long n)
{
    if (n < 16)
        return row_max_portable(x, n);
    __m512 m = _mm512_loadu_ps(x);
    long i = 16;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        m = _mm512_mask_max_ps(m, k, _mm512_maskz_loadu_ps(k, x + i), m);
    }
    return _mm512_reduce_max_ps(m);
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

float hop_exp_shifted_at(hop_vmath_level level, const float *x, float shift, float *y, long n)
{
#ifdef HOP_VMATH_X86
    if (level == HOP_VMATH_AVX512)
        return exp_shifted_avx512(x, shift, y, n);
    if (level == HOP_VMATH_AVX2)
        return exp_shifted_avx2(x, shift, y, n);
#endif
    (void)level;
    return exp_shifted_portable(x, shift, y, n);
}

float hop_exp_shifted(const float *x, float shift, float *y, long n)
{
    return hop_exp_shifted_at(hop_vmath_best(), x, shift, y, n);
}

float hop_row_max_at(hop_vmath_level level, const float *x, long n)
{
#ifdef HOP_VMATH_X86
    if (level == HOP_VMATH_AVX512)
        return row_max_avx512(x, n);
    if (level == HOP_VMATH_AVX2)
        return row_max_avx2(x, n);
#endif
    (void)level;
    return row_max_portable(x, n);
}

float hop_row_max(const float *x, long n)
{
    return hop_row_max_at(hop_vmath_best(), x, n);
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
