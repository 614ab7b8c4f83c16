// CMicroLMKernels: the hot loops of MicroLM's inference engine.
//
// Quantized block layouts (the byte layout of the GGUF/ggml formats), activation
// quantization, dot products and matrix products over them, attention, and a
// persistent thread pool. Each kernel has a portable scalar version, x86 versions
// (AVX2+FMA+F16C, and AVX-512 VNNI) and arm64 versions (NEON, and NEON with the
// dot-product extension), chosen once at run time.
#ifndef CMICROLMKERNELS_H
#define CMICROLMKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// IEEE half-precision float, stored as its bits.
typedef uint16_t mlk_half;

/// Elements per block of the 32-element quantized formats.
#define MLK_QK 32
/// Elements per super-block of the K-quants.
#define MLK_QK_K 256

/// Q4_0: x = d * (q - 8), q in 0..15. Low nibbles hold elements 0..15, high nibbles 16..31.
typedef struct {
    mlk_half d;
    uint8_t qs[MLK_QK / 2];
} mlk_block_q4_0;
_Static_assert(sizeof(mlk_block_q4_0) == 18, "Q4_0 block is 18 bytes");

/// Q4_1: x = d * q + m, q in 0..15, nibble order as Q4_0.
typedef struct {
    mlk_half d;
    mlk_half m;
    uint8_t qs[MLK_QK / 2];
} mlk_block_q4_1;
_Static_assert(sizeof(mlk_block_q4_1) == 20, "Q4_1 block is 20 bytes");

/// Q8_0: x = d * q, q in -127..127.
typedef struct {
    mlk_half d;
    int8_t qs[MLK_QK];
} mlk_block_q8_0;
_Static_assert(sizeof(mlk_block_q8_0) == 34, "Q8_0 block is 34 bytes");

/// Q4_K: 256 elements in 8 sub-blocks of 32, each with a 6-bit scale and 6-bit min
/// packed in `scales`; x = d * sc * q - dmin * mn.
typedef struct {
    mlk_half d;
    mlk_half dmin;
    uint8_t scales[12];
    uint8_t qs[MLK_QK_K / 2];
} mlk_block_q4_K;
_Static_assert(sizeof(mlk_block_q4_K) == 144, "Q4_K block is 144 bytes");

/// Q6_K: 256 elements in 16 sub-blocks of 16 with int8 scales; 6-bit quants split
/// into 4 low bits (`ql`) and 2 high bits (`qh`); x = d * sc * (q - 32).
typedef struct {
    uint8_t ql[MLK_QK_K / 2];
    uint8_t qh[MLK_QK_K / 4];
    int8_t scales[MLK_QK_K / 16];
    mlk_half d;
} mlk_block_q6_K;
_Static_assert(sizeof(mlk_block_q6_K) == 210, "Q6_K block is 210 bytes");

/// An activation block (MicroLM's own format, never stored in a file): like ggml's
/// Q8_1, d = max|x| / 127, q = round(x / d), plus s = d * sum(q); d and s are rounded to
/// half precision as llama.cpp stores them, but kept as floats.
typedef struct {
    float d;
    float s;
    int8_t qs[MLK_QK];
} mlk_block_q8a;
_Static_assert(sizeof(mlk_block_q8a) == 40, "activation block is 40 bytes");

/// Tensor types, numbered as ggml numbers them.
enum {
    MLK_TYPE_F32 = 0,
    MLK_TYPE_F16 = 1,
    MLK_TYPE_Q4_0 = 2,
    MLK_TYPE_Q4_1 = 3,
    MLK_TYPE_Q8_0 = 8,
    MLK_TYPE_Q4_K = 12,
    MLK_TYPE_Q6_K = 14,
};

/// Whether the kernels implement `type` as a matrix.
int mlk_type_supported(int type);
/// Whether a matrix of `type` multiplies quantized activations (`mlk_block_q8a`) rather than floats.
int mlk_type_uses_q8a(int type);
/// Which implementation runs (the best the CPU has): 0 scalar; on x86-64 1 AVX2,
/// 2 AVX-512 VNNI; on arm64 1 NEON, 2 NEON with the dot-product extension (sdot).
int mlk_simd_level(void);
/// The name of the implementation at `level` on this CPU ("scalar", "avx2", "avx512vnni",
/// "neon", "neon+dotprod"), capped at what the CPU has as the `_at` functions are.
const char *mlk_level_name(int level);
/// The name of the implementation that runs: mlk_level_name(mlk_simd_level()).
const char *mlk_kernel_path(void);

/// One half <-> float conversion (portable bit manipulation, round to nearest even).
float mlk_h2f_public(mlk_half h);
mlk_half mlk_f2h_public(float f);
/// Half <-> float conversions of `n` values.
void mlk_f16_to_f32(const mlk_half *x, float *y, int64_t n);
void mlk_f32_to_f16(const float *x, mlk_half *y, int64_t n);

/// Quantizes `n` floats (a multiple of 32) into n/32 activation blocks.
void mlk_quantize_q8a(const float *x, mlk_block_q8a *y, int64_t n);

/// Dot product of one matrix row of `type` (n elements) with one activation row:
/// `mlk_block_q8a` blocks for quantized types, floats for F32/F16.
float mlk_vec_dot(int type, const void *row, const void *x, int64_t n);

/// Single-threaded matrix product over rows [r0, r1) of W:
/// Y[b * ldy + r] = dot(W row r, X row b) for b in [0, nb).
/// W rows are `n` elements of `type`, contiguous; X rows are the activations of
/// `mlk_vec_dot`, contiguous (n/32 blocks or n floats each).
void mlk_gemm(int type, const void *W, int64_t n, int64_t r0, int64_t r1,
              const void *X, int64_t nb, float *Y, int64_t ldy);

/// The same three at a chosen implementation level (capped at what the CPU has), so
/// that tests can check every level against the scalar reference.
void mlk_quantize_q8a_at(int level, const float *x, mlk_block_q8a *y, int64_t n);
float mlk_vec_dot_at(int level, int type, const void *row, const void *x, int64_t n);
void mlk_gemm_at(int level, int type, const void *W, int64_t n, int64_t r0, int64_t r1,
                 const void *X, int64_t nb, float *Y, int64_t ldy);
/// Row size in bytes of `n` elements of `type`, or 0 when n does not fit its blocks.
int64_t mlk_row_size(int type, int64_t n);

// MARK: Thread pool

typedef struct mlk_pool mlk_pool;
/// The number of cores this process may run on (its CPU affinity).
int mlk_available_cores(void);
/// A pool of `nthreads - 1` workers; the calling thread is the last participant.
mlk_pool *mlk_pool_create(int nthreads);
void mlk_pool_destroy(mlk_pool *pool);
int mlk_pool_threads(const mlk_pool *pool);
/// Runs fn(ctx, ith, nth) on every participant (ith 0 on the caller) and returns when all are done.
/// When workers keep finishing late (their cores busy with other processes), it runs
/// fn(ctx, 0, 1) on the caller alone for a while, then tries the workers again.
void mlk_pool_run(mlk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx);

// MARK: Parallel operations

/// One matrix of a multi-matrix product: Y (nb x rows, row stride `ldy`) = X * W^T.
typedef struct {
    int type;
    const void *w;
    int64_t rows;
    float *y;
    int64_t ldy;
} mlk_matmul_job;

/// Multiplies the same activations X (nb rows of n elements, in the form
/// `mlk_vec_dot` wants for the jobs' type) with up to 4 matrices, in parallel.
/// `xq` are the quantized activations (may be NULL if no job needs them), `xf` the floats.
void mlk_matmul(mlk_pool *pool, const mlk_matmul_job *jobs, int njobs, int64_t n,
                const mlk_block_q8a *xq, const float *xf, int64_t nb);

/// Causal grouped-query attention for a batch of nb tokens at positions pos0..pos0+nb-1.
/// q: nb x (n_head * hd) floats; kc, vc: this layer's cache, position-major
/// (pos x n_kv x hd halves), already holding positions 0..pos0+nb-1.
/// out: nb x (n_head * hd). scratch: n_threads * (n_ctx + 2 * hd) floats.
void mlk_attention(mlk_pool *pool, const float *q, const mlk_half *kc, const mlk_half *vc,
                   float *out, int64_t nb, int64_t pos0, int n_head, int n_kv, int hd,
                   float scale, float *scratch, int64_t n_ctx);

/// g[i] = silu(g[i]) * u[i] for i in [0, n), in parallel.
void mlk_swiglu(mlk_pool *pool, float *g, const float *u, int64_t n);

/// y[i] = exp(x[i]) and returns the sum (for softmax); single-threaded.
float mlk_exp_sum(const float *x, float max, float *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
