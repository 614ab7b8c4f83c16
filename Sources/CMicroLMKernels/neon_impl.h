// arm64 NEON kernels, compiled twice by neon.c. Expects MLK_ATTR, MLK_NAME(x),
// MLK_TILE_RN (activation rows per register tile), MLK_DOT16(acc, a, b) (acc plus the 16
// s8 * s8 products of a and b, spread over the 4 s32 lanes) and MLK_DOT32S(acc, a0, b0,
// a1, b1) (the same for two pairs whose products are small: 4- and 6-bit weights).
// Integer sums are exact; every result differs from the scalar reference by float
// rounding only.

#define MLK_INLINE static inline MLK_ATTR __attribute__((always_inline))

MLK_INLINE float MLK_NAME(h2f)(mlk_half h) {
    __fp16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

/// A float rounded to half precision and back (round to nearest even, as mlk_f2h).
MLK_INLINE float MLK_NAME(round_half)(float x) { return (float)(__fp16)x; }

// MARK: 32-element formats: register tiles of RM weight rows x RN activation rows

/// The halves at p, p + stride, p + 2 stride and p + 3 stride (a scale of 4 weight rows), as floats.
MLK_INLINE float32x4_t MLK_NAME(load_scales4)(const char *p, int64_t stride) {
    uint16x4_t h = vld1_dup_u16((const uint16_t *)p);
    h = vld1_lane_u16((const uint16_t *)(p + stride), h, 1);
    h = vld1_lane_u16((const uint16_t *)(p + 2 * stride), h, 2);
    h = vld1_lane_u16((const uint16_t *)(p + 3 * stride), h, 3);
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

/// acc += float(dots) * s for a tile of RM (1 or 4) rows. With 4 rows, lane i of acc is row i
/// (the 4 rows' dot vectors reduced pairwise into one); with 1, acc's lanes are partial sums
/// of the row (s in lane 0).
#define MLK_SCALE_ACC(RM, acc, dot, s)                                                            \
    do {                                                                                          \
        if ((RM) == 4) {                                                                          \
            const int32x4_t sums = vpaddq_s32(vpaddq_s32(dot[0], dot[1]), vpaddq_s32(dot[2], dot[3])); \
            acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), (s));                                       \
        } else {                                                                                  \
            acc = vfmaq_laneq_f32(acc, vcvtq_f32_s32(dot[0]), (s), 0);                            \
        }                                                                                         \
    } while (0)

/// Y[j * ldy + i] for the tile's rows i < RM: acc (and the offset term macc) as MLK_SCALE_ACC left them.
#define MLK_STORE_TILE(RM, Yj, acc, macc)                                                \
    do {                                                                                 \
        if ((RM) == 4) vst1q_f32((Yj), vaddq_f32((acc), (macc)));                        \
        else (Yj)[0] = vaddvq_f32(acc) + vgetq_lane_f32((macc), 0);                       \
    } while (0)

/// kind 0 = Q4_0 (q - 8, exact in s8), 1 = Q4_1 (d * q, plus m times the activation sum s).
/// RM is 1 or 4.
MLK_INLINE void MLK_NAME(tile_q4)(int RM, int RN, int kind, const char *W, int64_t rowbytes,
                                  int64_t nblk, const mlk_block_q8a *X, float *Y, int64_t ldy) {
    float32x4_t acc[MLK_TILE_RN], macc[MLK_TILE_RN];
    for (int j = 0; j < RN; j++) acc[j] = macc[j] = vdupq_n_f32(0);
    const int blockbytes = kind == 0 ? 18 : 20;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t k = 0; k < nblk; k++) {
        const char *b0 = W + k * blockbytes;
        int8x16_t wlo[4], whi[4];
        // d (and m) of the tile's rows: offsets 0 and 2 of both block layouts
        float32x4_t wd, wm = vdupq_n_f32(0);
        if (RM == 4) {
            wd = MLK_NAME(load_scales4)(b0, rowbytes);
            if (kind == 1) wm = MLK_NAME(load_scales4)(b0 + 2, rowbytes);
        } else {
            mlk_half h[2];
            memcpy(h, b0, sizeof h);
            wd = vsetq_lane_f32(MLK_NAME(h2f)(h[0]), vdupq_n_f32(0), 0);
            if (kind == 1) wm = vsetq_lane_f32(MLK_NAME(h2f)(h[1]), vdupq_n_f32(0), 0);
        }
        for (int i = 0; i < RM; i++) {
            const uint8x16_t v = vld1q_u8((const uint8_t *)b0 + i * rowbytes + (kind == 0 ? 2 : 4));
            if (kind == 0) {
                wlo[i] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, m4)), vdupq_n_s8(8));
                whi[i] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), vdupq_n_s8(8));
            } else {
                wlo[i] = vreinterpretq_s8_u8(vandq_u8(v, m4));
                whi[i] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
            }
        }
        for (int j = 0; j < RN; j++) {
            const mlk_block_q8a *x = X + j * nblk + k;
            const int8x16_t x0 = vld1q_s8(x->qs), x1 = vld1q_s8(x->qs + 16);
            if (kind == 1) macc[j] = vfmaq_n_f32(macc[j], wm, x->s);
            int32x4_t dot[4];
            for (int i = 0; i < RM; i++) dot[i] = MLK_DOT32S(vdupq_n_s32(0), wlo[i], x0, whi[i], x1);
            const float32x4_t sc = vmulq_n_f32(wd, x->d);
            MLK_SCALE_ACC(RM, acc[j], dot, sc);
        }
    }
    for (int j = 0; j < RN; j++) MLK_STORE_TILE(RM, Y + j * ldy, acc[j], macc[j]);
}

/// As tile_q4, for Q8_0 weights (any s8 values, so two products per s16 lane at most).
MLK_INLINE void MLK_NAME(tile_q8_0)(int RM, int RN, const char *W, int64_t rowbytes,
                                    int64_t nblk, const mlk_block_q8a *X, float *Y, int64_t ldy) {
    float32x4_t acc[MLK_TILE_RN];
    for (int j = 0; j < RN; j++) acc[j] = vdupq_n_f32(0);
    for (int64_t k = 0; k < nblk; k++) {
        const char *b0 = W + k * 34;
        int8x16_t w0[4], w1[4];
        float32x4_t wd;
        if (RM == 4) {
            wd = MLK_NAME(load_scales4)(b0, rowbytes);
        } else {
            mlk_half h;
            memcpy(&h, b0, sizeof h);
            wd = vsetq_lane_f32(MLK_NAME(h2f)(h), vdupq_n_f32(0), 0);
        }
        for (int i = 0; i < RM; i++) {
            w0[i] = vld1q_s8((const int8_t *)(b0 + i * rowbytes + 2));
            w1[i] = vld1q_s8((const int8_t *)(b0 + i * rowbytes + 18));
        }
        for (int j = 0; j < RN; j++) {
            const mlk_block_q8a *x = X + j * nblk + k;
            const int8x16_t x0 = vld1q_s8(x->qs), x1 = vld1q_s8(x->qs + 16);
            int32x4_t dot[4];
            for (int i = 0; i < RM; i++) dot[i] = MLK_DOT16(MLK_DOT16(vdupq_n_s32(0), w0[i], x0), w1[i], x1);
            const float32x4_t sc = vmulq_n_f32(wd, x->d);
            MLK_SCALE_ACC(RM, acc[j], dot, sc);
        }
    }
    for (int j = 0; j < RN; j++) MLK_STORE_TILE(RM, Y + j * ldy, acc[j], vdupq_n_f32(0));
}

// Rows in groups of 4, activation rows in groups of MLK_TILE_RN, remainders with smaller
// tiles (every size a compile-time constant after inlining).
#define MLK_NEON_GEMM_DRIVER(TILECALL)                                             \
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
    MLK_NEON_GEMM_DRIVER(T)
#undef T
}

static MLK_ATTR void MLK_NAME(gemm_q4_1)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nblk = n / MLK_QK, rowbytes = nblk * 20;
    const mlk_block_q8a *x = (const mlk_block_q8a *)X;
#define T(RM, RN) MLK_NAME(tile_q4)(RM, RN, 1, (const char *)W + r * rowbytes, rowbytes, nblk, \
                                    x + b * nblk, Y + b * ldy + r, ldy)
    MLK_NEON_GEMM_DRIVER(T)
#undef T
}

static MLK_ATTR void MLK_NAME(gemm_q8_0)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nblk = n / MLK_QK, rowbytes = nblk * 34;
    const mlk_block_q8a *x = (const mlk_block_q8a *)X;
#define T(RM, RN) MLK_NAME(tile_q8_0)(RM, RN, (const char *)W + r * rowbytes, rowbytes, nblk, \
                                      x + b * nblk, Y + b * ldy + r, ldy)
    MLK_NEON_GEMM_DRIVER(T)
#undef T
}

// MARK: K-quants: one super-block unpacked to s8 in registers, then dotted with up to 4
// activation rows (the prompt reuses the unpacking, generation does it once per row).

/// Q4_K: 8 sub-blocks of 32 (one activation block each), 6-bit scale and min.
static MLK_ATTR void MLK_NAME(gemm_q4_K)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nsb = n / MLK_QK_K, nblk = n / MLK_QK;
    const mlk_block_q8a *xq = (const mlk_block_q8a *)X;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t r = r0; r < r1; r++) {
        const mlk_block_q4_K *w = (const mlk_block_q4_K *)W + r * nsb;
        for (int64_t b0 = 0; b0 < nb; b0 += 4) {
            const int nr = nb - b0 < 4 ? (int)(nb - b0) : 4;
            float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
            for (int64_t s = 0; s < nsb; s++) {
                const mlk_block_q4_K *blk = w + s;
                const float d = MLK_NAME(h2f)(blk->d), dmin = MLK_NAME(h2f)(blk->dmin);
                const uint8_t *sc = blk->scales;
                float dsc[8], mmn[8];
                for (int j = 0; j < 8; j++) {
                    int scj, mnj;
                    if (j < 4) {
                        scj = sc[j] & 63;
                        mnj = sc[j + 4] & 63;
                    } else {
                        scj = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
                        mnj = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
                    }
                    dsc[j] = d * (float)scj;
                    mmn[j] = dmin * (float)mnj;
                }
                int8x16_t q[16];
                for (int p = 0; p < 4; p++) {
                    const uint8x16_t v0 = vld1q_u8(blk->qs + 32 * p), v1 = vld1q_u8(blk->qs + 32 * p + 16);
                    q[4 * p + 0] = vreinterpretq_s8_u8(vandq_u8(v0, m4));
                    q[4 * p + 1] = vreinterpretq_s8_u8(vandq_u8(v1, m4));
                    q[4 * p + 2] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
                    q[4 * p + 3] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
                }
                const float32x4_t dsc0 = vld1q_f32(dsc), dsc1 = vld1q_f32(dsc + 4);
                const float32x4_t mmn0 = vld1q_f32(mmn), mmn1 = vld1q_f32(mmn + 4);
                for (int bb = 0; bb < nr; bb++) {
                    const mlk_block_q8a *x = xq + (b0 + bb) * nblk + s * 8;
                    int32x4_t dt[8];
                    int16x8_t xs[8];
                    for (int j = 0; j < 8; j++) {
                        const int8x16_t x0 = vld1q_s8(x[j].qs), x1 = vld1q_s8(x[j].qs + 16);
                        dt[j] = MLK_DOT32S(vdupq_n_s32(0), q[2 * j], x0, q[2 * j + 1], x1);
                        xs[j] = vpadalq_s8(vpaddlq_s8(x0), x1);  // partial sums of x, |.| <= 32 * 127
                    }
                    // pairwise reductions: lane j of d03 (d47) is sub-block j's (j + 4's) dot, lane j of xsum its sum(x)
                    const int32x4_t d03 = vpaddq_s32(vpaddq_s32(dt[0], dt[1]), vpaddq_s32(dt[2], dt[3]));
                    const int32x4_t d47 = vpaddq_s32(vpaddq_s32(dt[4], dt[5]), vpaddq_s32(dt[6], dt[7]));
                    const int16x8_t xsum = vpaddq_s16(vpaddq_s16(vpaddq_s16(xs[0], xs[1]), vpaddq_s16(xs[2], xs[3])),
                                                      vpaddq_s16(vpaddq_s16(xs[4], xs[5]), vpaddq_s16(xs[6], xs[7])));
                    float32x4_t xd0 = vld1q_dup_f32(&x[0].d), xd1 = vld1q_dup_f32(&x[4].d);
                    xd0 = vld1q_lane_f32(&x[1].d, xd0, 1);
                    xd0 = vld1q_lane_f32(&x[2].d, xd0, 2);
                    xd0 = vld1q_lane_f32(&x[3].d, xd0, 3);
                    xd1 = vld1q_lane_f32(&x[5].d, xd1, 1);
                    xd1 = vld1q_lane_f32(&x[6].d, xd1, 2);
                    xd1 = vld1q_lane_f32(&x[7].d, xd1, 3);
                    float32x4_t a = acc[bb];
                    a = vfmaq_f32(a, vcvtq_f32_s32(d03), vmulq_f32(dsc0, xd0));
                    a = vfmaq_f32(a, vcvtq_f32_s32(d47), vmulq_f32(dsc1, xd1));
                    a = vfmsq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_low_s16(xsum))), vmulq_f32(mmn0, xd0));
                    a = vfmsq_f32(a, vcvtq_f32_s32(vmovl_high_s16(xsum)), vmulq_f32(mmn1, xd1));
                    acc[bb] = a;
                }
            }
            for (int bb = 0; bb < nr; bb++) Y[(b0 + bb) * ldy + r] = vaddvq_f32(acc[bb]);
        }
    }
}

/// Q6_K: 16 sub-blocks of 16 with s8 scales, q - 32 in -32..31.
static MLK_ATTR void MLK_NAME(gemm_q6_K)(const void *W, int64_t n, int64_t r0, int64_t r1,
                                         const void *X, int64_t nb, float *Y, int64_t ldy) {
    const int64_t nsb = n / MLK_QK_K, nblk = n / MLK_QK;
    const mlk_block_q8a *xq = (const mlk_block_q8a *)X;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x03);
    const int8x16_t off = vdupq_n_s8(32);
    for (int64_t r = r0; r < r1; r++) {
        const mlk_block_q6_K *w = (const mlk_block_q6_K *)W + r * nsb;
        for (int64_t b0 = 0; b0 < nb; b0 += 4) {
            const int nr = nb - b0 < 4 ? (int)(nb - b0) : 4;
            float sum[4] = {0, 0, 0, 0};
            for (int64_t s = 0; s < nsb; s++) {
                const mlk_block_q6_K *blk = w + s;
                const float d = MLK_NAME(h2f)(blk->d);
                // q[v]: elements 16v..16v+15 of the super-block, scale blk->scales[v]
                int8x16_t q[16];
                for (int c = 0; c < 2; c++) {
                    const uint8_t *ql = blk->ql + 64 * c, *qh = blk->qh + 32 * c;
                    for (int h = 0; h < 2; h++) {
                        const uint8x16_t l0 = vld1q_u8(ql + 16 * h), l1 = vld1q_u8(ql + 32 + 16 * h);
                        const uint8x16_t hb = vld1q_u8(qh + 16 * h);
                        const uint8x16_t a = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m2), 4));
                        const uint8x16_t bq = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m2), 4));
                        const uint8x16_t cq = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m2), 4));
                        const uint8x16_t dq = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                        q[8 * c + 0 + h] = vsubq_s8(vreinterpretq_s8_u8(a), off);
                        q[8 * c + 2 + h] = vsubq_s8(vreinterpretq_s8_u8(bq), off);
                        q[8 * c + 4 + h] = vsubq_s8(vreinterpretq_s8_u8(cq), off);
                        q[8 * c + 6 + h] = vsubq_s8(vreinterpretq_s8_u8(dq), off);
                    }
                }
                for (int bb = 0; bb < nr; bb++) {
                    const mlk_block_q8a *x = xq + (b0 + bb) * nblk + s * 8;
                    float32x4_t fs = vdupq_n_f32(0);
                    for (int j = 0; j < 8; j++) {
                        const int32x4_t da = MLK_DOT16(vdupq_n_s32(0), q[2 * j], vld1q_s8(x[j].qs));
                        const int32x4_t db = MLK_DOT16(vdupq_n_s32(0), q[2 * j + 1], vld1q_s8(x[j].qs + 16));
                        const int32x4_t t = vmlaq_n_s32(vmulq_n_s32(da, blk->scales[2 * j]), db, blk->scales[2 * j + 1]);
                        fs = vfmaq_n_f32(fs, vcvtq_f32_s32(t), x[j].d);
                    }
                    sum[bb] += d * vaddvq_f32(fs);
                }
            }
            for (int bb = 0; bb < nr; bb++) Y[(b0 + bb) * ldy + r] = sum[bb];
        }
    }
}

// MARK: Float matrices

static MLK_ATTR float MLK_NAME(dot_f32)(const float *w, const float *x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0), a2 = vdupq_n_f32(0), a3 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static MLK_ATTR float MLK_NAME(dot_f16)(const mlk_half *w, const float *x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0), a2 = vdupq_n_f32(0), a3 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float16x8_t h0 = vld1q_f16((const float16_t *)(w + i));
        const float16x8_t h1 = vld1q_f16((const float16_t *)(w + i + 8));
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(h0)), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vcvt_high_f32_f16(h0), vld1q_f32(x + i + 4));
        a2 = vfmaq_f32(a2, vcvt_f32_f16(vget_low_f16(h1)), vld1q_f32(x + i + 8));
        a3 = vfmaq_f32(a3, vcvt_high_f32_f16(h1), vld1q_f32(x + i + 12));
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += MLK_NAME(h2f)(w[i]) * x[i];
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

// MARK: Activations

static MLK_ATTR void MLK_NAME(quantize_q8a)(const float *x, mlk_block_q8a *y, int64_t n) {
    for (int64_t b = 0; b < n / MLK_QK; b++) {
        const float *xb = x + b * MLK_QK;
        float32x4_t v[8];
        for (int i = 0; i < 8; i++) v[i] = vld1q_f32(xb + 4 * i);
        float32x4_t m01 = vmaxq_f32(vabsq_f32(v[0]), vabsq_f32(v[1]));
        float32x4_t m23 = vmaxq_f32(vabsq_f32(v[2]), vabsq_f32(v[3]));
        float32x4_t m45 = vmaxq_f32(vabsq_f32(v[4]), vabsq_f32(v[5]));
        float32x4_t m67 = vmaxq_f32(vabsq_f32(v[6]), vabsq_f32(v[7]));
        const float amax = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m01, m23), vmaxq_f32(m45, m67)));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int32x4_t q[8];
        int32x4_t sum = vdupq_n_s32(0);
        for (int i = 0; i < 8; i++) {
            q[i] = vcvtnq_s32_f32(vmulq_n_f32(v[i], id));  // round to nearest, ties to even
            sum = vaddq_s32(sum, q[i]);
        }
        for (int i = 0; i < 2; i++) {
            const int16x8_t lo = vcombine_s16(vqmovn_s32(q[4 * i]), vqmovn_s32(q[4 * i + 1]));
            const int16x8_t hi = vcombine_s16(vqmovn_s32(q[4 * i + 2]), vqmovn_s32(q[4 * i + 3]));
            vst1q_s8(y[b].qs + 16 * i, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
        }
        // as llama.cpp: the scales are kept in half precision (quants from the exact d)
        y[b].d = MLK_NAME(round_half)(d);
        y[b].s = MLK_NAME(round_half)(d * (float)vaddvq_s32(sum));
    }
}

/// exp(x) for 4 floats (Cephes-style: 2^n * polynomial on the reduced argument), as x86's exp8.
MLK_INLINE float32x4_t MLK_NAME(exp4)(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.3f));
    const float32x4_t fx = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    x = vfmsq_f32(x, fx, vdupq_n_f32(0.693359375f));
    x = vfmsq_f32(x, fx, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t y = vdupq_n_f32(1.9875691500E-4f);
    y = vfmaq_f32(vdupq_n_f32(1.3981999507E-3f), y, x);
    y = vfmaq_f32(vdupq_n_f32(8.3334519073E-3f), y, x);
    y = vfmaq_f32(vdupq_n_f32(4.1665795894E-2f), y, x);
    y = vfmaq_f32(vdupq_n_f32(1.6666665459E-1f), y, x);
    y = vfmaq_f32(vdupq_n_f32(5.0000001201E-1f), y, x);
    y = vfmaq_f32(vaddq_f32(x, vdupq_n_f32(1.0f)), y, vmulq_f32(x, x));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(fx), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(e));
}

static MLK_ATTR float MLK_NAME(exp_sum)(const float *x, float max, float *y, int64_t n) {
    float32x4_t acc = vdupq_n_f32(0);
    const float32x4_t mv = vdupq_n_f32(max);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = MLK_NAME(exp4)(vsubq_f32(vld1q_f32(x + i), mv));
        vst1q_f32(y + i, e);
        acc = vaddq_f32(acc, e);
    }
    float s = vaddvq_f32(acc);
    for (; i < n; i++) {
        y[i] = expf(x[i] - max);
        s += y[i];
    }
    return s;
}

static MLK_ATTR void MLK_NAME(swiglu)(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    const float32x4_t one = vdupq_n_f32(1.0f);
    for (; i + 4 <= n; i += 4) {
        const float32x4_t gv = vld1q_f32(g + i);
        const float32x4_t e = MLK_NAME(exp4)(vnegq_f32(gv));
        vst1q_f32(g + i, vmulq_f32(vdivq_f32(gv, vaddq_f32(one, e)), vld1q_f32(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

// MARK: Attention helpers (half-precision KV cache)

MLK_INLINE float32x4_t MLK_NAME(load4h)(const mlk_half *p) {
    return vcvt_f32_f16(vld1_f16((const float16_t *)p));
}

static MLK_ATTR float MLK_NAME(dot_f32_f16)(const float *q, const mlk_half *k, int n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), MLK_NAME(load4h)(k + i));
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), MLK_NAME(load4h)(k + i + 4));
    }
    return vaddvq_f32(vaddq_f32(a0, a1));
}

static MLK_ATTR void MLK_NAME(axpy_f16)(float *y, float a, const mlk_half *v, int n) {
    for (int i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), MLK_NAME(load4h)(v + i), a));
}

static MLK_ATTR void MLK_NAME(weighted_sum_f16)(float *y, const float *w, const mlk_half *v, int64_t len,
                                                int64_t stride, int n) {
    int d = 0;
    for (; d + 32 <= n; d += 32) {  // eight accumulators stay in registers over all positions
        float32x4_t a[8];
        for (int i = 0; i < 8; i++) a[i] = vdupq_n_f32(0);
        for (int64_t s = 0; s < len; s++) {
            const float ws = w[s];
            const mlk_half *vs = v + s * stride + d;
            for (int i = 0; i < 8; i++) a[i] = vfmaq_n_f32(a[i], MLK_NAME(load4h)(vs + 4 * i), ws);
        }
        for (int i = 0; i < 8; i++) vst1q_f32(y + d + 4 * i, a[i]);
    }
    for (; d + 4 <= n; d += 4) {
        float32x4_t a0 = vdupq_n_f32(0);
        for (int64_t s = 0; s < len; s++) a0 = vfmaq_n_f32(a0, MLK_NAME(load4h)(v + s * stride + d), w[s]);
        vst1q_f32(y + d, a0);
    }
}

static MLK_ATTR void MLK_NAME(f16_to_f32)(const mlk_half *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, MLK_NAME(load4h)(x + i));
    for (; i < n; i++) y[i] = MLK_NAME(h2f)(x[i]);
}

static MLK_ATTR void MLK_NAME(f32_to_f16)(const float *x, mlk_half *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_f16((float16_t *)(y + i), vcvt_f16_f32(vld1q_f32(x + i)));
    for (; i < n; i++) {
        __fp16 h = (__fp16)x[i];
        memcpy(y + i, &h, 2);
    }
}

#undef MLK_INLINE
#undef MLK_NEON_GEMM_DRIVER
#undef MLK_SCALE_ACC
#undef MLK_STORE_TILE
