// Portable scalar kernels: the reference that the SIMD kernels are checked against,
// and the implementation on machines without them.
#include "internal.h"
#include <math.h>
#include <string.h>

float mlk_h2f(mlk_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do { man <<= 1; e++; } while ((man & 0x400) == 0);
            man &= 0x3FF;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

mlk_half mlk_f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) {  // inf or nan
        return (mlk_half)(sign | 0x7C00 | (absx > 0x7F800000u ? 0x200 : 0));
    }
    if (absx >= 0x477FF000u) {  // rounds to >= 65520: overflow to inf
        return (mlk_half)(sign | 0x7C00);
    }
    if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        if (absx < 0x33000000u) return (mlk_half)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7FFFFF) | 0x800000;
        // m is in units of 2^(e-150); half subnormals count units of 2^-24.
        uint32_t shift = 126 - e;
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (mlk_half)(sign | q);
    }
    // normal: round mantissa from 23 to 10 bits, nearest even
    uint32_t r = absx + 0x00000FFFu + ((absx >> 13) & 1);
    r -= (112u << 23);
    return (mlk_half)(sign | (r >> 13));
}

static void f16_to_f32_scalar(const mlk_half *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = mlk_h2f(x[i]);
}

static void f32_to_f16_scalar(const float *x, mlk_half *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = mlk_f2h(x[i]);
}

static void quantize_q8a_scalar(const float *x, mlk_block_q8a *y, int64_t n) {
    for (int64_t b = 0; b < n / MLK_QK; b++) {
        const float *xb = x + b * MLK_QK;
        float amax = 0;
        for (int i = 0; i < MLK_QK; i++) amax = fmaxf(amax, fabsf(xb[i]));
        float d = amax / 127.0f;
        float id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int i = 0; i < MLK_QK; i++) {
            int q = (int)nearbyintf(xb[i] * id);
            y[b].qs[i] = (int8_t)q;
            sum += q;
        }
        // as llama.cpp: the scales are kept in half precision (quants from the exact d)
        y[b].d = mlk_h2f(mlk_f2h(d));
        y[b].s = mlk_h2f(mlk_f2h(d * (float)sum));
    }
}

// Row dot products, one block at a time.

static float dot_q4_0(const mlk_block_q4_0 *w, const mlk_block_q8a *x, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int i = 0; i < 16; i++) {
            isum += (w[b].qs[i] & 0x0F) * x[b].qs[i] + (w[b].qs[i] >> 4) * x[b].qs[i + 16];
        }
        float d = mlk_h2f(w[b].d);
        sum += d * x[b].d * (float)isum - 8.0f * d * x[b].s;
    }
    return sum;
}

static float dot_q4_1(const mlk_block_q4_1 *w, const mlk_block_q8a *x, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int i = 0; i < 16; i++) {
            isum += (w[b].qs[i] & 0x0F) * x[b].qs[i] + (w[b].qs[i] >> 4) * x[b].qs[i + 16];
        }
        sum += mlk_h2f(w[b].d) * x[b].d * (float)isum + mlk_h2f(w[b].m) * x[b].s;
    }
    return sum;
}

static float dot_q8_0(const mlk_block_q8_0 *w, const mlk_block_q8a *x, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int i = 0; i < MLK_QK; i++) isum += w[b].qs[i] * x[b].qs[i];
        sum += mlk_h2f(w[b].d) * x[b].d * (float)isum;
    }
    return sum;
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void mlk_dequant_q4_K(const mlk_block_q4_K *b, float *y) {
    const float d = mlk_h2f(b->d), dmin = mlk_h2f(b->dmin);
    const uint8_t *q = b->qs;
    int is = 0;
    for (int j = 0; j < MLK_QK_K; j += 64) {
        uint8_t sc, m;
        get_scale_min_k4(is, b->scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        get_scale_min_k4(is + 1, b->scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

void mlk_dequant_q6_K(const mlk_block_q6_K *b, float *y) {
    const float d = mlk_h2f(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int n = 0; n < MLK_QK_K; n += 128) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

// K-quants: dequantize a super-block, then dot with the activation quants.
static float dot_kquant(int type, const void *w, const mlk_block_q8a *x, int64_t nb) {
    float tmp[MLK_QK_K];
    float sum = 0;
    for (int64_t s = 0; s < nb / 8; s++) {
        if (type == MLK_TYPE_Q4_K) mlk_dequant_q4_K((const mlk_block_q4_K *)w + s, tmp);
        else mlk_dequant_q6_K((const mlk_block_q6_K *)w + s, tmp);
        for (int b = 0; b < 8; b++) {
            const mlk_block_q8a *xb = x + s * 8 + b;
            float bs = 0;
            for (int i = 0; i < MLK_QK; i++) bs += tmp[b * MLK_QK + i] * xb->qs[i];
            sum += bs * xb->d;
        }
    }
    return sum;
}

static float dot_f32(const float *w, const float *x, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += w[i] * x[i];
    return sum;
}

static float dot_f16(const mlk_half *w, const float *x, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += mlk_h2f(w[i]) * x[i];
    return sum;
}

#define SCALAR_GEMM(NAME, WT, XT, ROWBYTES, DOT)                                          \
    static void NAME(const void *W, int64_t n, int64_t r0, int64_t r1, const void *X,    \
                     int64_t nb, float *Y, int64_t ldy) {                                \
        for (int64_t r = r0; r < r1; r++) {                                               \
            const WT *w = (const WT *)((const char *)W + r * (ROWBYTES));                \
            for (int64_t b = 0; b < nb; b++) {                                            \
                const XT *x = (const XT *)X + b * (n / (int64_t)(sizeof(XT) == sizeof(float) ? 1 : MLK_QK)); \
                Y[b * ldy + r] = DOT;                                                     \
            }                                                                             \
        }                                                                                 \
    }

SCALAR_GEMM(gemm_f32_scalar, float, float, n * 4, dot_f32(w, x, n))
SCALAR_GEMM(gemm_f16_scalar, mlk_half, float, n * 2, dot_f16(w, x, n))
SCALAR_GEMM(gemm_q4_0_scalar, mlk_block_q4_0, mlk_block_q8a, (n / MLK_QK) * 18, dot_q4_0(w, x, n / MLK_QK))
SCALAR_GEMM(gemm_q4_1_scalar, mlk_block_q4_1, mlk_block_q8a, (n / MLK_QK) * 20, dot_q4_1(w, x, n / MLK_QK))
SCALAR_GEMM(gemm_q8_0_scalar, mlk_block_q8_0, mlk_block_q8a, (n / MLK_QK) * 34, dot_q8_0(w, x, n / MLK_QK))
SCALAR_GEMM(gemm_q4_K_scalar, mlk_block_q4_K, mlk_block_q8a, (n / MLK_QK_K) * 144, dot_kquant(MLK_TYPE_Q4_K, w, x, n / MLK_QK))
SCALAR_GEMM(gemm_q6_K_scalar, mlk_block_q6_K, mlk_block_q8a, (n / MLK_QK_K) * 210, dot_kquant(MLK_TYPE_Q6_K, w, x, n / MLK_QK))

static float exp_sum_scalar(const float *x, float max, float *y, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += y[i];
    }
    return sum;
}

static void swiglu_scalar(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float dot_f32_f16_scalar(const float *q, const mlk_half *k, int n) {
    float sum = 0;
    for (int i = 0; i < n; i++) sum += q[i] * mlk_h2f(k[i]);
    return sum;
}

static void axpy_f16_scalar(float *y, float a, const mlk_half *v, int n) {
    for (int i = 0; i < n; i++) y[i] += a * mlk_h2f(v[i]);
}

static void weighted_sum_f16_scalar(float *y, const float *w, const mlk_half *v, int64_t len, int64_t stride, int n) {
    for (int d = 0; d < n; d++) y[d] = 0;
    for (int64_t s = 0; s < len; s++) axpy_f16_scalar(y, w[s], v + s * stride, n);
}

const mlk_impl mlk_impl_scalar = {
    .gemm_f32 = gemm_f32_scalar,
    .gemm_f16 = gemm_f16_scalar,
    .gemm_q4_0 = gemm_q4_0_scalar,
    .gemm_q4_1 = gemm_q4_1_scalar,
    .gemm_q8_0 = gemm_q8_0_scalar,
    .gemm_q4_K = gemm_q4_K_scalar,
    .gemm_q6_K = gemm_q6_K_scalar,
    .quantize_q8a = quantize_q8a_scalar,
    .exp_sum = exp_sum_scalar,
    .swiglu = swiglu_scalar,
    .dot_f32_f16 = dot_f32_f16_scalar,
    .axpy_f16 = axpy_f16_scalar,
    .weighted_sum_f16 = weighted_sum_f16_scalar,
    .f16_to_f32 = f16_to_f32_scalar,
    .f32_to_f16 = f32_to_f16_scalar,
};
