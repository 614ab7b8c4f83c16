// Checks every SIMD kernel of CMicroLMKernels against the scalar reference, on the
// machine it runs on: natively on x86-64 (AVX2, AVX-512 VNNI), and on arm64 under
// qemu-aarch64 (NEON, NEON+dotprod; QEMU's -cpu chooses which the kernels detect).
// Built from the kernel sources by deploy/arm64-kernel-check.sh; exits 1 on any mismatch.
//
//   kernel_check            run every check at every level the CPU has above scalar
//   kernel_check --count T LEVEL ROWS COLS BATCH
//                           one matrix product of type T (q4_0, q4_1, q8_0, q4_K, q6_K) at
//                           LEVEL between calls of mlk_count_begin/end (for insn-count.py)
//
// Tolerance: the one Tests/MicroLMTests/KernelTests.swift applies to the x86 kernels. Each
// product is compared in double precision with the dot product of the scalar dequantizer's
// weights and the dequantized activations: |got - exact| <= 2e-5 * sum|w * x| + 1e-5, where
// for Q4_0/Q4_1 the sum also holds max(max|w|, |offset|) * max(|s| / 1024, 2^-24) / 2e-5 per
// block (their kernels may use the activation sum s, rounded to half precision; offset is
// -8d or m, and the 2^-24 covers a subnormal s: both differ from the Swift test's
// max|w| * |s| / 1024 / 2e-5 only on edge-case blocks its random data never gives).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's aarch64 vectorizer crashes on check_gemm's reductions; the checks need no speed.
#pragma GCC optimize("no-tree-vectorize")
#endif
#include "internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: deterministic random data (SplitMix64, as the Swift tests)

static uint64_t rng_state = 1;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/// Uniform in [-1, 1).
static float rndf(void) { return (float)(rnd() >> 40) / (float)(1 << 23) - 1.0f; }

static int failures = 0, checks = 0;
static const char *failed_names[32];
static int failed_counts[32], nfailed = 0;
static void fail(const char *what, const char *level, const char *detail) {
    if (failures < 20) printf("FAIL %s [%s]: %s\n", what, level, detail);
    failures++;
    int i = 0;
    while (i < nfailed && strcmp(failed_names[i], what) != 0) i++;
    if (i == nfailed && nfailed < 32) failed_names[nfailed++] = what;
    if (i < 32) failed_counts[i]++;
}
/// One line per kernel that failed since the last call, then forgets them.
static void report_failures(const char *level) {
    for (int i = 0; i < nfailed; i++) printf("kernel_check: %s: %s: %d failures\n", level, failed_names[i], failed_counts[i]);
    nfailed = 0;
    memset(failed_counts, 0, sizeof failed_counts);
}

// MARK: weights

enum { MODE_RANDOM, MODE_ZERO, MODE_SATURATED, MODE_EXTREME, MODE_MIXED, MODE_COUNT };
static const char *mode_names[] = {"random", "zero quants", "saturated quants", "extreme scales", "mixed"};

/// A half-precision scale for a block: sane random values, or edge cases in the extreme mode.
static mlk_half block_scale(int mode, float typical) {
    if (mode == MODE_EXTREME) {
        switch (rnd() % 6) {
        case 0: return 0x7BFF;                        // 65504, the largest half
        case 1: return 0xFBFF;                        // -65504
        case 2: return 0x0001;                        // the smallest subnormal
        case 3: return 0x0000;                        // zero
        case 4: return mlk_f2h(-typical * 3);
        default: return mlk_f2h(typical * 1e-3f);
        }
    }
    return mlk_f2h(typical * (0.2f + fabsf(rndf())) * (rndf() < -0.8f ? -1.0f : 1.0f));
}

static void fill_quants(uint8_t *q, size_t n, int mode, uint8_t saturated) {
    for (size_t i = 0; i < n; i++) {
        q[i] = mode == MODE_ZERO ? 0 : mode == MODE_SATURATED ? saturated : (uint8_t)rnd();
    }
}

/// Random matrix bytes of `type` (rows x n), every block drawn in `mode`.
static void *make_weights(int type, int64_t rows, int64_t n, int mode) {
    const int64_t bytes = mlk_row_size(type, n) * rows;
    uint8_t *w = malloc((size_t)bytes);
    const int bs = type == MLK_TYPE_Q4_K || type == MLK_TYPE_Q6_K ? MLK_QK_K : MLK_QK;
    const int64_t nblocks = rows * n / bs;
    for (int64_t k = 0; k < nblocks; k++) {
        int m = mode == MODE_MIXED ? (int)(rnd() % MODE_MIXED) : mode;
        switch (type) {
        case MLK_TYPE_Q4_0: {
            mlk_block_q4_0 *b = (mlk_block_q4_0 *)w + k;
            b->d = block_scale(m, 0.02f);
            fill_quants(b->qs, sizeof b->qs, m, rnd() & 1 ? 0xFF : 0x00);
            break;
        }
        case MLK_TYPE_Q4_1: {
            mlk_block_q4_1 *b = (mlk_block_q4_1 *)w + k;
            b->d = block_scale(m, 0.02f);
            b->m = block_scale(m == MODE_EXTREME ? m : MODE_RANDOM, 0.1f) ^ (rnd() & 1 ? 0x8000 : 0);
            fill_quants(b->qs, sizeof b->qs, m, 0xFF);
            break;
        }
        case MLK_TYPE_Q8_0: {
            mlk_block_q8_0 *b = (mlk_block_q8_0 *)w + k;
            b->d = block_scale(m, 0.005f);
            fill_quants((uint8_t *)b->qs, sizeof b->qs, m, rnd() & 1 ? 0x80 : 0x7F);  // -128 or 127
            break;
        }
        case MLK_TYPE_Q4_K: {
            mlk_block_q4_K *b = (mlk_block_q4_K *)w + k;
            b->d = block_scale(m, 0.006f);
            b->dmin = block_scale(m == MODE_EXTREME ? m : MODE_RANDOM, 0.005f);
            if (b->dmin & 0x8000 && m != MODE_EXTREME) b->dmin ^= 0x8000;
            fill_quants(b->scales, sizeof b->scales, m == MODE_ZERO ? MODE_RANDOM : m, 0xFF);
            fill_quants(b->qs, sizeof b->qs, m, 0xFF);
            break;
        }
        case MLK_TYPE_Q6_K: {
            mlk_block_q6_K *b = (mlk_block_q6_K *)w + k;
            b->d = block_scale(m, 0.0012f);
            fill_quants((uint8_t *)b->scales, sizeof b->scales, m == MODE_ZERO ? MODE_RANDOM : m,
                        rnd() & 1 ? 0x80 : 0x7F);
            uint8_t sat = rnd() & 1 ? 0xFF : 0x00;  // q = 63 or q = 0 (q - 32 = -32)
            fill_quants(b->ql, sizeof b->ql, m, sat);
            fill_quants(b->qh, sizeof b->qh, m, sat);
            break;
        }
        }
    }
    return w;
}

/// Row r of the weights as floats, by the scalar dequantizers (the reference).
static void dequant_row(int type, const void *w, int64_t r, int64_t n, float *y) {
    const char *row = (const char *)w + r * mlk_row_size(type, n);
    for (int64_t k = 0; k < n / MLK_QK; k++) {
        switch (type) {
        case MLK_TYPE_Q4_0: {
            const mlk_block_q4_0 *b = (const mlk_block_q4_0 *)row + k;
            float d = mlk_h2f(b->d);
            for (int i = 0; i < 16; i++) {
                y[k * 32 + i] = d * ((b->qs[i] & 0xF) - 8);
                y[k * 32 + 16 + i] = d * ((b->qs[i] >> 4) - 8);
            }
            break;
        }
        case MLK_TYPE_Q4_1: {
            const mlk_block_q4_1 *b = (const mlk_block_q4_1 *)row + k;
            float d = mlk_h2f(b->d), m = mlk_h2f(b->m);
            for (int i = 0; i < 16; i++) {
                y[k * 32 + i] = d * (b->qs[i] & 0xF) + m;
                y[k * 32 + 16 + i] = d * (b->qs[i] >> 4) + m;
            }
            break;
        }
        case MLK_TYPE_Q8_0: {
            const mlk_block_q8_0 *b = (const mlk_block_q8_0 *)row + k;
            for (int i = 0; i < 32; i++) y[k * 32 + i] = mlk_h2f(b->d) * b->qs[i];
            break;
        }
        default: break;
        }
    }
    for (int64_t s = 0; s < n / MLK_QK_K; s++) {
        if (type == MLK_TYPE_Q4_K) mlk_dequant_q4_K((const mlk_block_q4_K *)row + s, y + s * MLK_QK_K);
        if (type == MLK_TYPE_Q6_K) mlk_dequant_q6_K((const mlk_block_q6_K *)row + s, y + s * MLK_QK_K);
    }
}

// MARK: activations

enum { ACT_RANDOM, ACT_ZERO_BLOCKS, ACT_SATURATED, ACT_EXTREME, ACT_COUNT };
static const char *act_names[] = {"random", "zero blocks", "saturated", "extreme"};

static float *make_activations(int64_t count, int mode) {
    float *x = malloc((size_t)count * sizeof(float));
    for (int64_t b = 0; b < (count + 31) / 32; b++) {
        float scale = 2.0f;
        int kind = mode;
        if (mode == ACT_ZERO_BLOCKS && rnd() % 2) scale = 0;
        // extreme, but where the reference's half-precision d and s stay normal and finite
        // (|s| <= 32 * max|x|): smaller blocks underflow d to 0 while s stays non-zero, larger
        // ones overflow s, in the scalar reference as in llama.cpp's Q8_1
        if (mode == ACT_EXTREME) scale = (float[]){2e3f, 1.5e-2f, 1.0f, 1e3f}[rnd() % 4];
        for (int i = 0; i < 32 && b * 32 + i < count; i++) {
            float v = rndf() * scale;
            if (kind == ACT_SATURATED) v = (i % 3 == 0 ? -1.0f : 1.0f) * 7.5f;  // every |q| = 127
            x[b * 32 + i] = v;
        }
    }
    return x;
}

// MARK: checks

static const char *type_name(int type) {
    switch (type) {
    case MLK_TYPE_F32: return "f32";
    case MLK_TYPE_F16: return "f16";
    case MLK_TYPE_Q4_0: return "q4_0";
    case MLK_TYPE_Q4_1: return "q4_1";
    case MLK_TYPE_Q8_0: return "q8_0";
    case MLK_TYPE_Q4_K: return "q4_K";
    case MLK_TYPE_Q6_K: return "q6_K";
    default: return "?";
    }
}

/// Bit-identical activation quantization (the same float operations in every implementation).
static void check_quantize(int level) {
    const char *name = mlk_level_name(level);
    for (int mode = 0; mode < ACT_COUNT; mode++) {
        const int64_t n = 32 * 37;
        float *x = make_activations(n, mode);
        mlk_block_q8a *ref = calloc(n / 32, sizeof *ref), *got = calloc(n / 32, sizeof *got);
        mlk_impl_at(0)->quantize_q8a(x, ref, n);
        mlk_impl_at(level)->quantize_q8a(x, got, n);
        for (int64_t b = 0; b < n / 32; b++) {
            checks++;
            if (memcmp(&ref[b], &got[b], sizeof ref[b]) != 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "%s activations, block %lld: d %g/%g s %g/%g", act_names[mode],
                         (long long)b, ref[b].d, got[b].d, ref[b].s, got[b].s);
                fail("quantize_q8a", name, msg);
            }
        }
        free(x), free(ref), free(got);
    }
}

/// One matrix product at `level` against the double-precision reference (and the scalar kernel).
static void check_gemm(int level, int type, int64_t rows, int64_t n, int64_t nb, int wmode, int amode) {
    const char *name = mlk_level_name(level);
    void *w = make_weights(type, rows, n, wmode);
    float *x = make_activations(nb * n, amode);
    mlk_block_q8a *xq = calloc((size_t)(nb * n / 32), sizeof *xq);
    mlk_impl_at(0)->quantize_q8a(x, xq, nb * n);
    float *wf = malloc((size_t)n * sizeof(float));
    float *got = malloc((size_t)(rows * nb) * sizeof(float)), *ref = malloc((size_t)(rows * nb) * sizeof(float));
    // rows [r0, rows) only, with an odd start: untouched rows must stay NaN
    const int64_t r0 = rows > 4 ? 1 : 0;
    for (int64_t i = 0; i < rows * nb; i++) got[i] = ref[i] = NAN;
    mlk_gemm_at(level, type, w, n, r0, rows, xq, nb, got, rows);
    mlk_gemm_at(0, type, w, n, r0, rows, xq, nb, ref, rows);
    for (int64_t r = 0; r < rows; r++) {
        dequant_row(type, w, r, n, wf);
        for (int64_t b = 0; b < nb; b++) {
            const float g = got[b * rows + r], s = ref[b * rows + r];
            checks++;
            if (r < r0) {
                if (!isnan(g)) fail(type_name(type), name, "wrote a row outside [r0, r1)");
                continue;
            }
            double exact = 0, magnitude = 0;
            for (int64_t k = 0; k < n; k++) {
                const mlk_block_q8a *xb = &xq[(b * n + k) / 32];
                const double xk = (double)xb->d * xb->qs[k % 32];
                exact += (double)wf[k] * xk;
                magnitude += fabs((double)wf[k] * xk);
            }
            if (type == MLK_TYPE_Q4_0 || type == MLK_TYPE_Q4_1) {
                for (int64_t k = 0; k < n / 32; k++) {
                    double wmax = 0;
                    for (int i = 0; i < 32; i++) wmax = fmax(wmax, fabs((double)wf[k * 32 + i]));
                    // the offset s multiplies: -8 d (Q4_0) or m (Q4_1), at most max|w| when
                    // the block has a zero quant (always, from a quantizer; not when saturated)
                    const char *blk = (const char *)w + r * mlk_row_size(type, n) + k * (type == MLK_TYPE_Q4_0 ? 18 : 20);
                    mlk_half h[2];
                    memcpy(h, blk, sizeof h);
                    wmax = fmax(wmax, type == MLK_TYPE_Q4_0 ? 8 * fabs((double)mlk_h2f(h[0])) : fabs((double)mlk_h2f(h[1])));
                    // half-precision rounding of s: |s| / 2048, or half the subnormal spacing
                    magnitude += wmax * fmax(fabs((double)xq[b * n / 32 + k].s) / 1024, 0x1p-24) / 2e-5;
                }
            }
            const double tol = 2e-5 * magnitude + 1e-5;
            if (!(fabs((double)g - exact) <= tol) || !(fabs((double)s - exact) <= tol)) {
                char msg[240];
                snprintf(msg, sizeof msg, "%lldx%lld batch %lld, %s weights, %s activations, row %lld batch %lld: "
                         "got %.9g, scalar %.9g, exact %.9g, tolerance %.3g", (long long)rows, (long long)n,
                         (long long)nb, mode_names[wmode], act_names[amode], (long long)r, (long long)b, g, s,
                         exact, tol);
                fail(type_name(type), name, msg);
            }
        }
    }
    free(w), free(x), free(xq), free(wf), free(got), free(ref);
}

static void check_float_gemm(int level, int type, int64_t rows, int64_t n, int64_t nb) {
    const char *name = mlk_level_name(level);
    float *wf = malloc((size_t)(rows * n) * sizeof(float));
    for (int64_t i = 0; i < rows * n; i++) wf[i] = rndf();
    mlk_half *wh = malloc((size_t)(rows * n) * sizeof(mlk_half));
    for (int64_t i = 0; i < rows * n; i++) {
        wh[i] = mlk_f2h(wf[i]);
        if (type == MLK_TYPE_F16) wf[i] = mlk_h2f(wh[i]);
    }
    float *x = make_activations(nb * n, ACT_RANDOM);
    float *got = malloc((size_t)(rows * nb) * sizeof(float));
    mlk_gemm_at(level, type, type == MLK_TYPE_F16 ? (const void *)wh : (const void *)wf, n, 0, rows, x, nb, got, rows);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b++) {
            double exact = 0, magnitude = 0;
            for (int64_t k = 0; k < n; k++) {
                exact += (double)wf[r * n + k] * x[b * n + k];
                magnitude += fabs((double)wf[r * n + k] * x[b * n + k]);
            }
            checks++;
            if (!(fabs(got[b * rows + r] - exact) <= 2e-5 * magnitude + 1e-5)) {
                char msg[160];
                snprintf(msg, sizeof msg, "%lldx%lld batch %lld row %lld batch %lld: got %.9g, exact %.9g",
                         (long long)rows, (long long)n, (long long)nb, (long long)r, (long long)b, got[b * rows + r], exact);
                fail(type_name(type), name, msg);
            }
        }
    free(wf), free(wh), free(x), free(got);
}

/// The attention and activation helpers: conversions exact, the rest within float rounding.
static void check_helpers(int level) {
    const char *name = mlk_level_name(level);
    const mlk_impl *s = mlk_impl_at(0), *v = mlk_impl_at(level);
    char msg[160];
    // every half value (but NaNs) to float and back
    {
        static mlk_half h[65536], h2[65536];
        static float f[65536], g[65536];
        int64_t m = 0;
        for (uint32_t i = 0; i < 65536; i++)
            if (((i >> 10) & 0x1F) != 0x1F || (i & 0x3FF) == 0) h[m++] = (mlk_half)i;
        s->f16_to_f32(h, f, m);
        v->f16_to_f32(h, g, m);
        for (int64_t i = 0; i < m; i++) {
            checks++;
            if (memcmp(&f[i], &g[i], 4) != 0) {
                snprintf(msg, sizeof msg, "half 0x%04x: %g vs %g", h[i], f[i], g[i]);
                fail("f16_to_f32", name, msg);
            }
        }
        // floats around every half, halfway points and out-of-range values
        int64_t k = 0;
        for (int64_t i = 0; i + 1 < m && k + 4 <= 65536; i += 2) {
            f[k++] = mlk_h2f(h[i]);
            f[k++] = mlk_h2f(h[i]) * (1 + 1.0f / 2048);
            f[k++] = rndf() * 70000.0f;
            f[k++] = rndf() * 1e-7f;
        }
        s->f32_to_f16(f, h, k);
        v->f32_to_f16(f, h2, k);
        for (int64_t i = 0; i < k; i++) {
            checks++;
            if (h[i] != h2[i]) {
                snprintf(msg, sizeof msg, "float %.9g: 0x%04x vs 0x%04x", f[i], h[i], h2[i]);
                fail("f32_to_f16", name, msg);
            }
        }
    }
    // dot_f32_f16, axpy_f16, weighted_sum_f16 over head sizes 8..128
    for (int hd = 8; hd <= 128; hd += 8) {
        float q[128], y[128], y2[128];
        mlk_half k[128];
        for (int i = 0; i < hd; i++) q[i] = rndf() * 3, k[i] = mlk_f2h(rndf() * 2);
        double exact = 0, mag = 0;
        for (int i = 0; i < hd; i++) exact += (double)q[i] * mlk_h2f(k[i]), mag += fabs((double)q[i] * mlk_h2f(k[i]));
        float got = v->dot_f32_f16(q, k, hd);
        checks++;
        if (!(fabs(got - exact) <= 2e-5 * mag + 1e-5)) {
            snprintf(msg, sizeof msg, "head size %d: %.9g vs %.9g", hd, got, exact);
            fail("dot_f32_f16", name, msg);
        }
        for (int i = 0; i < hd; i++) y[i] = y2[i] = rndf();
        const float a = rndf() * 4;
        s->axpy_f16(y, a, k, hd);
        v->axpy_f16(y2, a, k, hd);
        for (int i = 0; i < hd; i++) {
            checks++;
            if (!(fabsf(y[i] - y2[i]) <= 2e-6f * (fabsf(y[i]) + fabsf(a * mlk_h2f(k[i]))) + 1e-7f)) {
                snprintf(msg, sizeof msg, "head size %d, element %d: %.9g vs %.9g", hd, i, y[i], y2[i]);
                fail("axpy_f16", name, msg);
            }
        }
        const int64_t len = 1 + (int64_t)(rnd() % 70), stride = 3 * 128;
        mlk_half *vc = malloc((size_t)(len * stride) * sizeof(mlk_half));
        float *wts = malloc((size_t)len * sizeof(float));
        for (int64_t i = 0; i < len * stride; i++) vc[i] = mlk_f2h(rndf());
        for (int64_t i = 0; i < len; i++) wts[i] = fabsf(rndf());
        v->weighted_sum_f16(y2, wts, vc + 128, len, stride, hd);
        for (int d = 0; d < hd; d++) {
            double e = 0, m = 0;
            for (int64_t p = 0; p < len; p++) e += (double)wts[p] * mlk_h2f(vc[128 + p * stride + d]),
                                               m += fabs((double)wts[p] * mlk_h2f(vc[128 + p * stride + d]));
            checks++;
            if (!(fabs(y2[d] - e) <= 2e-5 * m + 1e-6)) {
                snprintf(msg, sizeof msg, "head size %d, %lld positions, element %d: %.9g vs %.9g", hd,
                         (long long)len, d, y2[d], e);
                fail("weighted_sum_f16", name, msg);
            }
        }
        free(vc), free(wts);
    }
    // exp_sum and swiglu, on odd lengths and over the clamped range
    for (int n = 1; n <= 203; n += 29) {
        float x[256], e1[256], e2[256], g1[256], g2[256], u[256];
        for (int i = 0; i < n; i++) x[i] = rndf() * (i % 7 == 0 ? 100.0f : 10.0f), u[i] = rndf() * 2;
        float max = -INFINITY;
        for (int i = 0; i < n; i++) max = fmaxf(max, x[i]);
        const float s1 = s->exp_sum(x, max, e1, n), s2 = v->exp_sum(x, max, e2, n);
        checks++;
        if (!(fabsf(s1 - s2) <= 1e-5f * s1)) {
            snprintf(msg, sizeof msg, "length %d: sum %.9g vs %.9g", n, s1, s2);
            fail("exp_sum", name, msg);
        }
        memcpy(g1, x, sizeof x);
        memcpy(g2, x, sizeof x);
        s->swiglu(g1, u, n);
        v->swiglu(g2, u, n);
        for (int i = 0; i < n; i++) {
            checks += 2;
            if (!(fabsf(e1[i] - e2[i]) <= 2e-6f * e1[i] + 1e-37f)) {
                snprintf(msg, sizeof msg, "length %d, element %d: exp(%.9g) %.9g vs %.9g", n, i, x[i] - max, e1[i], e2[i]);
                fail("exp_sum", name, msg);
            }
            if (!(fabsf(g1[i] - g2[i]) <= 2e-6f * fabsf(g1[i]) + 1e-6f)) {
                snprintf(msg, sizeof msg, "length %d, element %d: silu(%.9g) %.9g vs %.9g", n, i, x[i], g1[i], g2[i]);
                fail("swiglu", name, msg);
            }
        }
    }
}

// MARK: instruction counting

/// Markers for insn-count.py: it counts the guest instructions executed between the calls.
__attribute__((noinline)) void mlk_count_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void mlk_count_end(void) { __asm__ volatile("" ::: "memory"); }

static int parse_type(const char *s) {
    const int types[] = {MLK_TYPE_Q4_0, MLK_TYPE_Q4_1, MLK_TYPE_Q8_0, MLK_TYPE_Q4_K, MLK_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(s, type_name(types[i])) == 0) return types[i];
    return -1;
}

static int count_run(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: kernel_check --count TYPE LEVEL ROWS COLS BATCH\n");
        return 2;
    }
    const int type = parse_type(argv[2]), level = atoi(argv[3]);
    const int64_t rows = atoll(argv[4]), n = atoll(argv[5]), nb = atoll(argv[6]);
    if (type < 0 || mlk_row_size(type, n) == 0) {
        fprintf(stderr, "kernel_check: bad type or size\n");
        return 2;
    }
    // 4 random rows, repeated (the kernels' work does not depend on the values; a short
    // setup keeps QEMU's execution log small)
    const int64_t rowbytes = mlk_row_size(type, n);
    void *w4 = make_weights(type, 4, n, MODE_RANDOM);
    char *w = malloc((size_t)(rowbytes * rows));
    for (int64_t r = 0; r < rows; r++) memcpy(w + r * rowbytes, (char *)w4 + (r % 4) * rowbytes, (size_t)rowbytes);
    free(w4);
    float *x = make_activations(nb * n, ACT_RANDOM);
    mlk_block_q8a *xq = calloc((size_t)(nb * n / 32), sizeof *xq);
    float *y = malloc((size_t)(rows * nb) * sizeof(float));
    mlk_impl_at(level);  // run-time detection before the count
    mlk_count_begin();
    mlk_quantize_q8a_at(level, x, xq, nb * n);
    mlk_gemm_at(level, type, w, n, 0, rows, mlk_type_uses_q8a(type) ? (const void *)xq : (const void *)x, nb, y, rows);
    mlk_count_end();
    double s = 0;
    for (int64_t i = 0; i < rows * nb; i++) s += y[i];
    printf("count %s level %d (%s) %lldx%lld batch %lld checksum %.6g\n", argv[2], level, mlk_level_name(level),
           (long long)rows, (long long)n, (long long)nb, s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--count") == 0) return count_run(argc, argv);
    const int best = mlk_simd_level();
    printf("kernel_check: kernel path %s (SIMD level %d)\n", mlk_kernel_path(), best);
    if (best == 0) {
        printf("kernel_check: no SIMD kernels on this CPU, nothing to check\n");
        return 0;
    }
    const int types32[] = {MLK_TYPE_Q4_0, MLK_TYPE_Q4_1, MLK_TYPE_Q8_0};
    const int64_t shapes32[][3] = {{1, 32, 1}, {4, 32, 2}, {5, 64, 3}, {13, 96, 7}, {7, 160, 4}, {36, 576, 5}, {8, 1536, 9}, {9, 64, 1}};
    const int typesK[] = {MLK_TYPE_Q4_K, MLK_TYPE_Q6_K};
    const int64_t shapesK[][3] = {{3, 256, 1}, {4, 256, 4}, {9, 512, 6}, {5, 768, 5}, {6, 256, 9}};
    for (int level = 1; level <= best; level++) {
        const char *name = mlk_level_name(level);
        const int before = failures, cbefore = checks;
        rng_state = 1000 + (uint64_t)level;
        check_quantize(level);
        for (size_t t = 0; t < 3; t++)
            for (size_t s = 0; s < sizeof shapes32 / sizeof shapes32[0]; s++)
                for (int wm = 0; wm < MODE_COUNT; wm++)
                    check_gemm(level, types32[t], shapes32[s][0], shapes32[s][1], shapes32[s][2], wm,
                               (int)((s + (size_t)wm) % ACT_COUNT));
        for (size_t t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof shapesK / sizeof shapesK[0]; s++)
                for (int wm = 0; wm < MODE_COUNT; wm++)
                    check_gemm(level, typesK[t], shapesK[s][0], shapesK[s][1], shapesK[s][2], wm,
                               (int)((s + (size_t)wm) % ACT_COUNT));
        check_float_gemm(level, MLK_TYPE_F32, 5, 40, 3);
        check_float_gemm(level, MLK_TYPE_F32, 9, 576, 2);
        check_float_gemm(level, MLK_TYPE_F16, 5, 40, 3);
        check_float_gemm(level, MLK_TYPE_F16, 9, 576, 2);
        check_helpers(level);
        report_failures(name);
        printf("kernel_check: level %d (%s): %d checks, %d failures\n", level, name, checks - cbefore,
               failures - before);
    }
    printf("kernel_check: %s: %d checks at levels 1..%d against scalar, path %s, %d failures\n",
           failures ? "FAIL" : "PASS", checks, best, mlk_kernel_path(), failures);
    return failures ? 1 : 0;
}
