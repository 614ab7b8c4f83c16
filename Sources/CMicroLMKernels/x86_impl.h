// x86 SIMD kernels, compiled twice by x86.c: once for AVX2+FMA+F16C, once with
// AVX-512 VNNI (256-bit vpdpbusd). Expects MLK_ATTR, MLK_NAME(x), MLK_DPBUSD(acc, u, s)
// (acc + sum of 4 adjacent u8*s8 products per int32 lane) and MLK_TILE_RN (batch
// rows per register tile).

#define MLK_INLINE static inline MLK_ATTR __attribute__((always_inline))

MLK_INLINE float MLK_NAME(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

MLK_INLINE float MLK_NAME(hmax)(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

MLK_INLINE float MLK_NAME(h2f)(mlk_half h) { return _cvtsh_ss(h); }

/// 16 bytes of nibbles -> 32 bytes 0..15: low nibbles first, then high nibbles.
MLK_INLINE __m256i MLK_NAME(unpack_nibbles)(const uint8_t *qs) {
    __m128i x = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/// One register tile of RM weight rows x RN activation rows over all blocks, for the
/// 4-bit formats: kind 0 = Q4_0 (offset -8 folded into the min), 1 = Q4_1.
MLK_INLINE void MLK_NAME(tile_q4)(int RM, int RN, int kind, const char *W, int64_t rowbytes,
                                  int64_t nblk, const mlk_block_q8a *X, float *Y, int64_t ldy) {
    __m256 acc[4][MLK_TILE_RN];
    __m128 macc[MLK_TILE_RN];
    for (int j = 0; j < RN; j++) {
        macc[j] = _mm_setzero_ps();
        for (int i = 0; i < RM; i++) acc[i][j] = _mm256_setzero_ps();
    }
    const int blockbytes = kind == 0 ? 18 : 20;
    for (int64_t k = 0; k < nblk; k++) {
        __m256i wq[4];
        __m256 wd[4];
        float wm[4] = {0, 0, 0, 0};
        for (int i = 0; i < RM; i++) {
            const char *b = W + i * rowbytes + k * blockbytes;
            if (RN == 1) _mm_prefetch(b + 4096, _MM_HINT_T0);
            if (kind == 0) {
                const mlk_block_q4_0 *q = (const mlk_block_q4_0 *)b;
                float d = MLK_NAME(h2f)(q->d);
                wq[i] = MLK_NAME(unpack_nibbles)(q->qs);
                wd[i] = _mm256_set1_ps(d);
                wm[i] = -8.0f * d;
            } else {
                const mlk_block_q4_1 *q = (const mlk_block_q4_1 *)b;
                wq[i] = MLK_NAME(unpack_nibbles)(q->qs);
                wd[i] = _mm256_set1_ps(MLK_NAME(h2f)(q->d));
                wm[i] = MLK_NAME(h2f)(q->m);
            }
        }
        const __m128 wmv = _mm_loadu_ps(wm);
        for (int j = 0; j < RN; j++) {
            const mlk_block_q8a *x = X + j * nblk + k;
            const __m256i xq = _mm256_loadu_si256((const __m256i *)x->qs);
            const __m256 xd = _mm256_set1_ps(x->d);
            macc[j] = _mm_fmadd_ps(wmv, _mm_set1_ps(x->s), macc[j]);
            for (int i = 0; i < RM; i++) {
                __m256i dot = MLK_DPBUSD(_mm256_setzero_si256(), wq[i], xq);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(wd[i], xd), acc[i][j]);
            }
        }
    }
    for (int j = 0; j < RN; j++) {
        float m[4];
        _mm_storeu_ps(m, macc[j]);
        for (int i = 0; i < RM; i++) Y[j * ldy + i] = MLK_NAME(hsum)(acc[i][j]) + m[i];
    }
}

/// As tile_q4, for Q8_0 weights (signed x signed via |w| and sign(x, w)).
MLK_INLINE void MLK_NAME(tile_q8_0)(int RM, int RN, const char *W, int64_t rowbytes,
                                    int64_t nblk, const mlk_block_q8a *X, float *Y, int64_t ldy) {
    __m256 acc[4][MLK_TILE_RN];
    for (int j = 0; j < RN; j++)
        for (int i = 0; i < RM; i++) acc[i][j] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nblk; k++) {
        __m256i wq[4], wa[4];
        __m256 wd[4];
        for (int i = 0; i < RM; i++) {
            const mlk_block_q8_0 *q = (const mlk_block_q8_0 *)(W + i * rowbytes) + k;
            if (RN == 1) _mm_prefetch((const char *)q + 4096, _MM_HINT_T0);
            wq[i] = _mm256_loadu_si256((const __m256i *)q->qs);
            wa[i] = _mm256_sign_epi8(wq[i], wq[i]);
            wd[i] = _mm256_set1_ps(MLK_NAME(h2f)(q->d));
        }
        for (int j = 0; j < RN; j++) {
            const mlk_block_q8a *x = X + j * nblk + k;
            const __m256i xq = _mm256_loadu_si256((const __m256i *)x->qs);
            const __m256 xd = _mm256_set1_ps(x->d);
            for (int i = 0; i < RM; i++) {
                __m256i dot = MLK_DPBUSD(_mm256_setzero_si256(), wa[i], _mm256_sign_epi8(xq, wq[i]));
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(wd[i], xd), acc[i][j]);
            }
        }
    }
    for (int j = 0; j < RN; j++)
        for (int i = 0; i < RM; i++) Y[j * ldy + i] = MLK_NAME(hsum)(acc[i][j]);
}

// Drivers: rows in groups of 4, batch rows in groups of MLK_TILE_RN, remainders with
// smaller tiles (all sizes are compile-time constants after inlining).
#define MLK_GEMM_DRIVER(TILECALL)                                                  \
    int64_t r = r0;                                                                \
    for (; r + 4 <= r1; r += 4) {                                                  \
        int64_t b = 0;                                                             \
        for (; b + MLK_TILE_RN <= nb; b += MLK_TILE_RN) TILECALL(4, MLK_TILE_RN);  \
        switch (nb - b) {                                                          \
        case 3: if (MLK_TILE_RN > 3) { TILECALL(4, 3); } break;                     \
        case 2: if (MLK_TILE_RN > 2) { TILECALL(4, 2); } break;                     \
        case 1: TILECALL(4, 1); break;                                              \
        default: break;                                                            \
        }                                                                          \
    }                                                                              \
    for (; r < r1; r++) {                                                          \
        for (int64_t b = 0; b < nb; b++) TILECALL(1, 1);                           \
    }

static MLK_ATTR void MLK_NAME(gemm_q4_0)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nblk = n / MLK_QK, rowbytes = nblk * 18;
    const mlk_block_q8a *x = (const mlk_block_q8a *)X;
#define T(RM, RN) MLK_NAME(tile_q4)(RM, RN, 0, (const char *)W + r * rowbytes, rowbytes, nblk, \
                                    x + b * nblk, Y + b * ldy + r, ldy)
    MLK_GEMM_DRIVER(T)
#undef T
}

static MLK_ATTR void MLK_NAME(gemm_q4_1)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nblk = n / MLK_QK, rowbytes = nblk * 20;
    const mlk_block_q8a *x = (const mlk_block_q8a *)X;
#define T(RM, RN) MLK_NAME(tile_q4)(RM, RN, 1, (const char *)W + r * rowbytes, rowbytes, nblk, \
                                    x + b * nblk, Y + b * ldy + r, ldy)
    MLK_GEMM_DRIVER(T)
#undef T
}

static MLK_ATTR void MLK_NAME(gemm_q8_0)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nblk = n / MLK_QK, rowbytes = nblk * 34;
    const mlk_block_q8a *x = (const mlk_block_q8a *)X;
#define T(RM, RN) MLK_NAME(tile_q8_0)(RM, RN, (const char *)W + r * rowbytes, rowbytes, nblk, \
                                      x + b * nblk, Y + b * ldy + r, ldy)
    MLK_GEMM_DRIVER(T)
#undef T
}

static MLK_ATTR float MLK_NAME(dot_f32)(const float *w, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = MLK_NAME(hsum)(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static MLK_ATTR float MLK_NAME(dot_f16)(const mlk_half *w, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = MLK_NAME(hsum)(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += _cvtsh_ss(w[i]) * x[i];
    return s;
}

static MLK_ATTR void MLK_NAME(gemm_f32)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                        const void *X, int64_t nb, float *Y, int64_t ldy) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = 0; b < nb; b++)
            Y[b * ldy + r] = MLK_NAME(dot_f32)((const float *)W + r * n, (const float *)X + b * n, n);
}

static MLK_ATTR void MLK_NAME(gemm_f16)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                        const void *X, int64_t nb, float *Y, int64_t ldy) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = 0; b < nb; b++)
            Y[b * ldy + r] = MLK_NAME(dot_f16)((const mlk_half *)W + r * n, (const float *)X + b * n, n);
}

static MLK_ATTR void MLK_NAME(quantize_q8a)(const float *x, mlk_block_q8a *y, int64_t n) {
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / MLK_QK; b++) {
        const float *xb = x + b * MLK_QK;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v0), _mm256_andnot_ps(signbit, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(signbit, v2), _mm256_andnot_ps(signbit, v3)));
        const float amax = MLK_NAME(hmax)(m);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        // pack 32-bit -> 16-bit -> 8-bit; packs interleave 128-bit lanes, fix with a permute
        __m256i p01 = _mm256_packs_epi32(i0, i1);
        __m256i p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        // as llama.cpp: the scales are kept in half precision (quants from the exact d)
        y[b].d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        y[b].s = _cvtsh_ss(_cvtss_sh(d * (float)_mm_cvtsi128_si32(s4), _MM_FROUND_TO_NEAREST_INT));
    }
}

/// exp(x) for 8 floats (Cephes-style: 2^n * polynomial on the reduced argument).
MLK_INLINE __m256 MLK_NAME(exp8)(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static MLK_ATTR float MLK_NAME(exp_sum)(const float *x, float max, float *y, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    const __m256 mv = _mm256_set1_ps(max);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = MLK_NAME(exp8)(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = MLK_NAME(hsum)(acc);
    for (; i < n; i++) {
        y[i] = expf(x[i] - max);
        s += y[i];
    }
    return s;
}

static MLK_ATTR void MLK_NAME(swiglu)(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 e = MLK_NAME(exp8)(_mm256_sub_ps(zero, gv));
        __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static MLK_ATTR float MLK_NAME(dot_f32_f16)(const float *q, const mlk_half *k, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8))), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), a0);
    return MLK_NAME(hsum)(_mm256_add_ps(a0, a1));
}

static MLK_ATTR void MLK_NAME(axpy_f16)(float *y, float a, const mlk_half *v, int n) {
    const __m256 av = _mm256_set1_ps(a);
    for (int i = 0; i + 8 <= n; i += 8) {
        __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, vv, _mm256_loadu_ps(y + i)));
    }
}

static MLK_ATTR void MLK_NAME(weighted_sum_f16)(float *y, const float *w, const mlk_half *v, int64_t len,
                                                int64_t stride, int n) {
    int d = 0;
    for (; d + 32 <= n; d += 32) {  // four accumulators stay in registers over all positions
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t s = 0; s < len; s++) {
            const __m256 ws = _mm256_set1_ps(w[s]);
            const mlk_half *vs = v + s * stride + d;
            a0 = _mm256_fmadd_ps(ws, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vs))), a0);
            a1 = _mm256_fmadd_ps(ws, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vs + 8))), a1);
            a2 = _mm256_fmadd_ps(ws, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vs + 16))), a2);
            a3 = _mm256_fmadd_ps(ws, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vs + 24))), a3);
        }
        _mm256_storeu_ps(y + d, a0);
        _mm256_storeu_ps(y + d + 8, a1);
        _mm256_storeu_ps(y + d + 16, a2);
        _mm256_storeu_ps(y + d + 24, a3);
    }
    for (; d + 8 <= n; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t s = 0; s < len; s++)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[s]), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + s * stride + d))), a0);
        _mm256_storeu_ps(y + d, a0);
    }
}

static MLK_ATTR void MLK_NAME(f16_to_f32)(const mlk_half *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = _cvtsh_ss(x[i]);
}

static MLK_ATTR void MLK_NAME(f32_to_f16)(const float *x, mlk_half *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

#undef MLK_INLINE
#undef MLK_GEMM_DRIVER
