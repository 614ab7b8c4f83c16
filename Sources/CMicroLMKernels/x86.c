// x86 kernels: the same source (x86_impl.h) compiled for two instruction sets,
// each function enabling its own via a target attribute (no global compiler flags).
#if defined(__x86_64__) || defined(__i386__)
#include "internal.h"
#include <immintrin.h>
#include <math.h>

// AVX2 + FMA + F16C: u8 x s8 products through vpmaddubsw + vpmaddwd.
#define MLK_ATTR __attribute__((target("avx2,fma,f16c")))
#define MLK_NAME(x) x##_avx2
#define MLK_TILE_RN 2
#define MLK_DPBUSD(acc, u, s) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#include "x86_impl.h"
#undef MLK_ATTR
#undef MLK_NAME
#undef MLK_TILE_RN
#undef MLK_DPBUSD

// AVX-512 VNNI (256-bit vpdpbusd, 32 vector registers).
#define MLK_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define MLK_NAME(x) x##_vnni
#define MLK_TILE_RN 4
#define MLK_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#include "x86_impl.h"

#define MLK_TABLE(S)                      \
    {                                     \
        .gemm_f32 = gemm_f32_##S,         \
        .gemm_f16 = gemm_f16_##S,         \
        .gemm_q4_0 = gemm_q4_0_##S,       \
        .gemm_q4_1 = gemm_q4_1_##S,       \
        .gemm_q8_0 = gemm_q8_0_##S,       \
        .gemm_q4_K = 0,                   \
        .gemm_q6_K = 0,                   \
        .quantize_q8a = quantize_q8a_##S, \
        .exp_sum = exp_sum_##S,           \
        .swiglu = swiglu_##S,             \
        .dot_f32_f16 = dot_f32_f16_##S,   \
        .axpy_f16 = axpy_f16_##S,         \
        .weighted_sum_f16 = weighted_sum_f16_##S, \
        .f16_to_f32 = f16_to_f32_##S,     \
        .f32_to_f16 = f32_to_f16_##S,     \
    }

const mlk_impl mlk_impl_avx2 = MLK_TABLE(avx2);
const mlk_impl mlk_impl_vnni = MLK_TABLE(vnni);
#endif
