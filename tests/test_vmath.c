/* Vector softmax kernels: every level this processor runs against double-precision loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "hop/retrieval.h"
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

Test(vmath, exp_shifted_accuracy)
{
    float x[203], y[203];
    for (int i = 0; i < 203; i++)
        x[i] = -100.0f + (float)i * 0.9f;
    for (int level = HOP_VMATH_PORTABLE; level <= (int)hop_vmath_best(); level++) {
        for (long n = 1; n <= 203; n += 101) {
            float sum = hop_exp_shifted_at((hop_vmath_level)level, x, 2.0f, y, n);
            double want_sum = 0.0;
            for (long i = 0; i < n; i++) {
                double want = want_exp(x[i] - 2.0f); /* the kernel subtracts in float, too */
                want_sum += want;
                cr_assert(fabs(y[i] - want) <= 2e-7 * want, "%s: exp(%g) = %.9g, expected %.9g",
                          level_name(level), (double)(x[i] - 2.0f), (double)y[i], want);
            }
            cr_assert(fabs(sum - want_sum) <= 1e-6 * want_sum, "%s, n %ld: sum %.9g, expected %.9g",
                      level_name(level), n, (double)sum, want_sum);
        }
    }
    cr_assert_eq(hop_exp_shifted(x, 0.0f, y, 203),
                 hop_exp_shifted_at(hop_vmath_best(), x, 0.0f, y, 203));
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

Test(vmath, max_columns_and_row_max)
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
            long n = rows * ld, count = 0;
            float *row = malloc((size_t)n * sizeof *row), want = -INFINITY;
            for (long i = 0; i < n; i++)
                if (!isnan(x[i])) {
                    row[count] = x[i];
                    want = x[i] > want ? x[i] : want;
                    count++;
                }
            for (long len = 1; len <= count; len += 17) {
                float top = row[0];
                for (long i = 1; i < len; i++)
                    top = row[i] > top ? row[i] : top;
                cr_assert_eq(hop_row_max_at((hop_vmath_level)level, row, len), top,
                             "%s: row max of %ld", level_name(level), len);
            }
            cr_assert_eq(hop_row_max(row, count), want);
            free(row);
            free(x);
        }
}
