/* Vector softmax kernels: every level this processor runs against double-precision loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "vmath.h"

static const char *level_name(hop_vmath_level level)
{
    switch (level) {
    case HOP_VMATH_AVX512: return "avx512";
    case HOP_VMATH_AVX2: return "avx2";
    default: return "portable";
    }
}

/* exp(x) as the kernels define it: 0 below -87. */
static double want_exp(float x)
{
    return x < -87.0f ? 0.0 : exp((double)x);
}

/* One row of 203 columns from -102 to 80 in steps of 0.9, with shift 2, through every lane
 * width and a tail. */
Test(vmath, exp_row_accuracy)
{
    float x[203], y[203], shift[203];
    for (int i = 0; i < 203; i++) {
        x[i] = -100.0f + (float)i * 0.9f;
        shift[i] = 2.0f;
    }
    for (int level = HOP_VMATH_PORTABLE; level <= (int)hop_vmath_best(); level++) {
        float sum[203] = {0};
        hop_exp_columns_at((hop_vmath_level)level, x, 203, y, 203, 1, 203, shift, sum);
        for (int i = 0; i < 203; i++) {
            double want = want_exp(x[i] - 2.0f); /* the kernel subtracts in float, too */
            cr_assert(fabs(y[i] - want) <= 2e-7 * want, "%s: exp(%g) = %.9g, expected %.9g",
                      level_name(level), (double)(x[i] - 2.0f), (double)y[i], want);
            cr_assert_eq(sum[i], y[i], "%s: sum[%d]", level_name(level), i);
        }
    }

    /* The entry point without a level runs the best one. */
    float best[203], plain[203];
    hop_exp_columns_at(hop_vmath_best(), x, 203, best, 203, 1, 203, shift, NULL);
    hop_exp_columns(x, 203, plain, 203, 1, 203, shift, NULL);
    for (int i = 0; i < 203; i++)
        cr_assert_eq(plain[i], best[i], "column %d", i);
}

/* A (rows, cols) block at row stride ld with values in [-95, 5), and a guard after it. */
static float *make_block(long rows, int cols, long ld)
{
    float *x = malloc(((size_t)rows * (size_t)ld + 1) * sizeof *x);
    cr_assert(x);
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < ld; j++)
            x[r * ld + j] = j < cols ? (float)((r * 37 + j * 11) % 100) - 95.0f + 0.25f : NAN;
    x[rows * ld] = NAN;
    return x;
}

Test(vmath, exp_columns_match_reference)
{
    const int widths[] = {1, 5, 8, 16, 19, 37, 64};
    for (int level = HOP_VMATH_PORTABLE; level <= (int)hop_vmath_best(); level++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            int cols = widths[w];
            long rows = 23, ld = cols + 3;
            float *x = make_block(rows, cols, ld), *y = make_block(rows, cols, ld);
            float shift[64], sum[64];
            for (int j = 0; j < cols; j++) {
                shift[j] = (float)(j % 7) - 3.0f;
                sum[j] = 0.5f;
            }
            hop_exp_columns_at((hop_vmath_level)level, x, ld, y, ld, rows, cols, shift, sum);
            for (int j = 0; j < cols; j++) {
                double total = 0.5;
                for (long r = 0; r < rows; r++) {
                    double want = want_exp(x[r * ld + j] - shift[j]);
                    total += want;
                    cr_assert(fabs(y[r * ld + j] - want) <= 2e-7 * want,
                              "%s, %d columns: y[%ld][%d] %.9g, expected %.9g", level_name(level),
                              cols, r, j, (double)y[r * ld + j], want);
                }
                cr_assert(fabs(sum[j] - total) <= 1e-6 * total, "%s: sum[%d] %.9g, expected %.9g",
                          level_name(level), j, (double)sum[j], total);
            }
            for (long r = 0; r < rows; r++)
                for (long j = cols; j < ld; j++)
                    cr_assert(isnan(y[r * ld + j]), "%s wrote past column %d", level_name(level),
                              cols);
            cr_assert(isnan(y[rows * ld]));

            /* In place and without sums, as the backward pass calls it. */
            hop_exp_columns_at((hop_vmath_level)level, x, ld, x, ld, rows, cols, shift, NULL);
            for (long r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++)
                    cr_assert_eq(x[r * ld + j], y[r * ld + j]);
            free(x);
            free(y);
        }
}

Test(vmath, max_columns_match_reference)
{
    const int widths[] = {1, 7, 16, 21, 64};
    for (int level = HOP_VMATH_PORTABLE; level <= (int)hop_vmath_best(); level++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            int cols = widths[w];
            long rows = 13, ld = cols + 2;
            float *x = make_block(rows, cols, ld), max[64];
            for (int j = 0; j < cols; j++)
                max[j] = j % 2 ? 10.0f : -INFINITY; /* odd columns start above every value */
            hop_max_columns_at((hop_vmath_level)level, x, ld, rows, cols, max);
            for (int j = 0; j < cols; j++) {
                float want = j % 2 ? 10.0f : -INFINITY;
                for (long r = 0; r < rows; r++)
                    want = x[r * ld + j] > want ? x[r * ld + j] : want;
                cr_assert_eq(max[j], want, "%s, %d columns: max[%d] %g, expected %g",
                             level_name(level), cols, j, (double)max[j], (double)want);
            }
            free(x);
        }
}
