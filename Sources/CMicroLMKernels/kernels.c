// Run-time choice of kernels and the single-threaded public entry points.
#include "internal.h"
#include <pthread.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

static mlk_impl impls[3];
static int best_level = 0;
static const char *level_names[3] = {"scalar", "scalar", "scalar"};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fill(mlk_impl *dst, const mlk_impl *src) {
    *dst = *src;
    const mlk_impl *s = &mlk_impl_scalar;
#define FALLBACK(f) if (!dst->f) dst->f = s->f
    FALLBACK(gemm_f32); FALLBACK(gemm_f16); FALLBACK(gemm_q4_0); FALLBACK(gemm_q4_1);
    FALLBACK(gemm_q8_0); FALLBACK(gemm_q4_K); FALLBACK(gemm_q6_K); FALLBACK(quantize_q8a);
    FALLBACK(exp_sum); FALLBACK(swiglu); FALLBACK(dot_f32_f16); FALLBACK(axpy_f16); FALLBACK(weighted_sum_f16);
    FALLBACK(f16_to_f32); FALLBACK(f32_to_f16);
#undef FALLBACK
}

static void init(void) {
    fill(&impls[0], &mlk_impl_scalar);
    fill(&impls[1], &mlk_impl_scalar);
    fill(&impls[2], &mlk_impl_scalar);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        // F16C has no __builtin_cpu_supports name in every compiler; every AVX2 CPU has it.
        best_level = 1;
        fill(&impls[1], &mlk_impl_avx2);
        fill(&impls[2], &mlk_impl_avx2);
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
            best_level = 2;
            fill(&impls[2], &mlk_impl_vnni);
        }
    }
    if (best_level >= 1) level_names[1] = level_names[2] = "avx2";
    if (best_level >= 2) level_names[2] = "avx512vnni";
#elif defined(__aarch64__)
    // Every arm64 CPU has NEON (Advanced SIMD); sdot/udot (ARMv8.2 dotprod) is optional:
    // Cortex-A55/A75/A76 and later have it, Cortex-A53/A72 (Raspberry Pi 3/4) do not.
    best_level = 1;
    fill(&impls[1], &mlk_impl_neon);
    fill(&impls[2], &mlk_impl_neon);
    level_names[1] = level_names[2] = "neon";
    int dotprod = 0;
#if defined(__linux__)
    dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__ARM_FEATURE_DOTPROD)
    dotprod = 1;
#endif
    if (dotprod) {
        best_level = 2;
        fill(&impls[2], &mlk_impl_dotprod);
        level_names[2] = "neon+dotprod";
    }
#endif
}

const mlk_impl *mlk_impl_at(int level) {
    pthread_once(&once, init);
    if (level > best_level) level = best_level;
    if (level < 0) level = 0;
    return &impls[level];
}

const mlk_impl *mlk_impl_get(void) { return mlk_impl_at(3); }

int mlk_simd_level(void) {
    pthread_once(&once, init);
    return best_level;
}

const char *mlk_level_name(int level) {
    pthread_once(&once, init);
    if (level > best_level) level = best_level;
    if (level < 0) level = 0;
    return level_names[level];
}

const char *mlk_kernel_path(void) { return mlk_level_name(3); }

int mlk_type_supported(int type) {
    switch (type) {
    case MLK_TYPE_F32: case MLK_TYPE_F16: case MLK_TYPE_Q4_0: case MLK_TYPE_Q4_1:
    case MLK_TYPE_Q8_0: case MLK_TYPE_Q4_K: case MLK_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

int mlk_type_uses_q8a(int type) {
    return type != MLK_TYPE_F32 && type != MLK_TYPE_F16;
}

int64_t mlk_row_size(int type, int64_t n) {
    switch (type) {
    case MLK_TYPE_F32: return n * 4;
    case MLK_TYPE_F16: return n * 2;
    case MLK_TYPE_Q4_0: return n % MLK_QK ? 0 : n / MLK_QK * 18;
    case MLK_TYPE_Q4_1: return n % MLK_QK ? 0 : n / MLK_QK * 20;
    case MLK_TYPE_Q8_0: return n % MLK_QK ? 0 : n / MLK_QK * 34;
    case MLK_TYPE_Q4_K: return n % MLK_QK_K ? 0 : n / MLK_QK_K * 144;
    case MLK_TYPE_Q6_K: return n % MLK_QK_K ? 0 : n / MLK_QK_K * 210;
    default: return 0;
    }
}

static mlk_gemm_fn gemm_for(const mlk_impl *im, int type) {
    switch (type) {
    case MLK_TYPE_F32: return im->gemm_f32;
    case MLK_TYPE_F16: return im->gemm_f16;
    case MLK_TYPE_Q4_0: return im->gemm_q4_0;
    case MLK_TYPE_Q4_1: return im->gemm_q4_1;
    case MLK_TYPE_Q8_0: return im->gemm_q8_0;
    case MLK_TYPE_Q4_K: return im->gemm_q4_K;
    case MLK_TYPE_Q6_K: return im->gemm_q6_K;
    default: return 0;
    }
}

void mlk_f16_to_f32(const mlk_half *x, float *y, int64_t n) { mlk_impl_get()->f16_to_f32(x, y, n); }
void mlk_f32_to_f16(const float *x, mlk_half *y, int64_t n) { mlk_impl_get()->f32_to_f16(x, y, n); }
void mlk_quantize_q8a(const float *x, mlk_block_q8a *y, int64_t n) { mlk_impl_get()->quantize_q8a(x, y, n); }
float mlk_exp_sum(const float *x, float max, float *y, int64_t n) { return mlk_impl_get()->exp_sum(x, max, y, n); }

void mlk_quantize_q8a_at(int level, const float *x, mlk_block_q8a *y, int64_t n) {
    mlk_impl_at(level)->quantize_q8a(x, y, n);
}

void mlk_gemm_at(int level, int type, const void *W, int64_t n, int64_t r0, int64_t r1,
                 const void *X, int64_t nb, float *Y, int64_t ldy) {
    mlk_gemm_fn f = gemm_for(mlk_impl_at(level), type);
    if (f && mlk_row_size(type, n) > 0) f(W, n, r0, r1, X, nb, Y, ldy);
}

float mlk_vec_dot_at(int level, int type, const void *row, const void *x, int64_t n) {
    float y = 0;
    mlk_gemm_at(level, type, row, n, 0, 1, x, 1, &y, 1);
    return y;
}

void mlk_gemm(int type, const void *W, int64_t n, int64_t r0, int64_t r1,
              const void *X, int64_t nb, float *Y, int64_t ldy) {
    mlk_gemm_at(3, type, W, n, r0, r1, X, nb, Y, ldy);
}

float mlk_vec_dot(int type, const void *row, const void *x, int64_t n) {
    return mlk_vec_dot_at(3, type, row, x, n);
}

float mlk_h2f_public(mlk_half h) { return mlk_h2f(h); }
mlk_half mlk_f2h_public(float f) { return mlk_f2h(f); }
