// arm64 kernels: the same source (neon_impl.h) compiled twice, once for plain NEON
// (every ARMv8-A core: Cortex-A53, A72), once with the dot-product extension (sdot,
// ARMv8.2-A: Cortex-A55, A76, Neoverse N1 and later), which its functions enable by a
// target attribute, so the whole target builds without global compiler flags and the
// choice is made at run time (kernels.c, from the kernel's HWCAP_ASIMDDP bit).
#if defined(__aarch64__)
#include "internal.h"
#include <arm_neon.h>
#include <math.h>
#include <string.h>

// Plain NEON: 8 x (s8 * s8 -> s16) products per smull/smlal, pairwise-added into s32 lanes.
// MLK_DOT16 takes any s8 values (2 products per s16 lane: |sum| <= 2 * 128 * 127 < 2^15);
// MLK_DOT32S takes two pairs of vectors whose products are small (|w| <= 32, |x| <= 127:
// 4 products per s16 lane stay below 2^15), as the 4- and 6-bit formats give.
#define MLK_ATTR
#define MLK_NAME(x) x##_neon
#define MLK_TILE_RN 2
#define MLK_DOT16(acc, a, b) \
    vpadalq_s16((acc), vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), (a), (b)))
#define MLK_DOT32S(acc, a0, b0, a1, b1)                                                               \
    vpadalq_s16((acc), vmlal_high_s8(vmlal_s8(vmlal_high_s8(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)), \
                                                            (a0), (b0)),                              \
                                              vget_low_s8(a1), vget_low_s8(b1)),                      \
                                     (a1), (b1)))
#include "neon_impl.h"
#undef MLK_ATTR
#undef MLK_NAME
#undef MLK_TILE_RN
#undef MLK_DOT16
#undef MLK_DOT32S

// NEON + dotprod: sdot sums 4 adjacent s8 * s8 products into each s32 lane.
#if defined(__clang__)
#define MLK_ATTR __attribute__((target("dotprod")))
#else
// GCC declares vdotq_s32 under arch=armv8.2-a+dotprod: a caller must enable no less.
#define MLK_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define MLK_NAME(x) x##_dotprod
#define MLK_TILE_RN 4
#define MLK_DOT16(acc, a, b) vdotq_s32((acc), (a), (b))
#define MLK_DOT32S(acc, a0, b0, a1, b1) vdotq_s32(vdotq_s32((acc), (a0), (b0)), (a1), (b1))
#include "neon_impl.h"

#define MLK_TABLE(S)                      \
    {                                     \
        .gemm_f32 = gemm_f32_##S,         \
        .gemm_f16 = gemm_f16_##S,         \
        .gemm_q4_0 = gemm_q4_0_##S,       \
        .gemm_q4_1 = gemm_q4_1_##S,       \
        .gemm_q8_0 = gemm_q8_0_##S,       \
        .gemm_q4_K = gemm_q4_K_##S,       \
        .gemm_q6_K = gemm_q6_K_##S,       \
        .quantize_q8a = quantize_q8a_##S, \
        .exp_sum = exp_sum_##S,           \
        .swiglu = swiglu_##S,             \
        .dot_f32_f16 = dot_f32_f16_##S,   \
        .axpy_f16 = axpy_f16_##S,         \
        .weighted_sum_f16 = weighted_sum_f16_##S, \
        .f16_to_f32 = f16_to_f32_##S,     \
        .f32_to_f16 = f32_to_f16_##S,     \
    }

const mlk_impl mlk_impl_neon = MLK_TABLE(neon);
const mlk_impl mlk_impl_dotprod = MLK_TABLE(dotprod);
#endif
