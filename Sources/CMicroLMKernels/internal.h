// Internal to CMicroLMKernels: the table of kernels chosen at run time.
#ifndef MLK_INTERNAL_H
#define MLK_INTERNAL_H

#include "CMicroLMKernels.h"

typedef void (*mlk_gemm_fn)(const void *W, int64_t n, int64_t r0, int64_t r1,
                            const void *X, int64_t nb, float *Y, int64_t ldy);

typedef struct {
    mlk_gemm_fn gemm_f32, gemm_f16, gemm_q4_0, gemm_q4_1, gemm_q8_0, gemm_q4_K, gemm_q6_K;
    void (*quantize_q8a)(const float *x, mlk_block_q8a *y, int64_t n);
    float (*exp_sum)(const float *x, float max, float *y, int64_t n);
    void (*swiglu)(float *g, const float *u, int64_t n);
    /// sum_i q[i] * k[i] over `n` (a multiple of 8) elements.
    float (*dot_f32_f16)(const float *q, const mlk_half *k, int n);
    /// y[i] += a * v[i] over `n` (a multiple of 8) elements.
    void (*axpy_f16)(float *y, float a, const mlk_half *v, int n);
    /// y[d] = sum_s w[s] * v[s * stride + d] for d < n (a multiple of 8), s < len.
    void (*weighted_sum_f16)(float *y, const float *w, const mlk_half *v, int64_t len, int64_t stride, int n);
    void (*f16_to_f32)(const mlk_half *x, float *y, int64_t n);
    void (*f32_to_f16)(const float *x, mlk_half *y, int64_t n);
} mlk_impl;

/// The table in force.
const mlk_impl *mlk_impl_get(void);
/// The table at `level`, capped at the best the CPU has (for tests of every level).
const mlk_impl *mlk_impl_at(int level);

/// Scalar implementations (portable; the reference for the SIMD ones).
extern const mlk_impl mlk_impl_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const mlk_impl mlk_impl_avx2;
extern const mlk_impl mlk_impl_vnni;
#endif
#if defined(__aarch64__)
extern const mlk_impl mlk_impl_neon;
extern const mlk_impl mlk_impl_dotprod;
#endif

float mlk_h2f(mlk_half h);
mlk_half mlk_f2h(float f);

/// Dequantizes one K-quant super-block of 256 elements (scalar).
void mlk_dequant_q4_K(const mlk_block_q4_K *b, float *y);
void mlk_dequant_q6_K(const mlk_block_q6_K *b, float *y);

#endif
