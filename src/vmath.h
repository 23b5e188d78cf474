/* Vector kernels for the softmax passes: one portable version and x86 AVX2 and AVX-512 ones. */
#ifndef HOP_VMATH_H
#define HOP_VMATH_H

typedef enum hop_vmath_level {
    HOP_VMATH_PORTABLE,
    HOP_VMATH_AVX2, /* AVX2 with FMA */
    HOP_VMATH_AVX512
} hop_vmath_level;

/* The widest level this processor runs. */
hop_vmath_level hop_vmath_best(void);

/*
 * Column-wise softmax passes over a (rows, cols) block of row stride ld.
 * hop_exp_columns writes y[r][j] = exp(x[r][j] - shift[j]) within a relative 2e-7 on
 * [-87, 88], and 0 below -87. It adds each column's total to sum[j] unless sum is NULL.
 * x may be y when ldx == ldy.
 * hop_max_columns raises max[j] to the largest x[r][j] of column j.
 */
void hop_exp_columns(const float *x, long ldx, float *y, long ldy, long rows, int cols,
                     const float *shift, float *sum);
void hop_exp_columns_at(hop_vmath_level level, const float *x, long ldx, float *y, long ldy,
                        long rows, int cols, const float *shift, float *sum);
void hop_max_columns(const float *x, long ld, long rows, int cols, float *max);
void hop_max_columns_at(hop_vmath_level level, const float *x, long ld, long rows, int cols,
                        float *max);

#endif
