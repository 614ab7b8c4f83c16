// Parallel operations over the thread pool: matrix products, attention, SwiGLU.
// Work is split into chunks taken from a shared counter, a few per thread, so a
// thread that loses its core to another process does not hold the others up.
#include "internal.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_JOBS 4

typedef struct {
    const mlk_matmul_job *jobs;
    int njobs;
    int64_t n;
    const mlk_block_q8a *xq;
    const float *xf;
    int64_t nb;
    int64_t chunk_rows[MAX_JOBS];
    int64_t first_chunk[MAX_JOBS + 1];
    _Atomic int64_t next;
} matmul_ctx;

static void matmul_worker(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    matmul_ctx *c = p;
    const mlk_impl *im = mlk_impl_get();
    for (;;) {
        int64_t chunk = atomic_fetch_add(&c->next, 1);
        if (chunk >= c->first_chunk[c->njobs]) return;
        int j = 0;
        while (chunk >= c->first_chunk[j + 1]) j++;
        const mlk_matmul_job *job = &c->jobs[j];
        int64_t r0 = (chunk - c->first_chunk[j]) * c->chunk_rows[j];
        int64_t r1 = r0 + c->chunk_rows[j];
        if (r1 > job->rows) r1 = job->rows;
        const void *x = mlk_type_uses_q8a(job->type) ? (const void *)c->xq : (const void *)c->xf;
        mlk_gemm_fn f;
        switch (job->type) {
        case MLK_TYPE_F32: f = im->gemm_f32; break;
        case MLK_TYPE_F16: f = im->gemm_f16; break;
        case MLK_TYPE_Q4_0: f = im->gemm_q4_0; break;
        case MLK_TYPE_Q4_1: f = im->gemm_q4_1; break;
        case MLK_TYPE_Q8_0: f = im->gemm_q8_0; break;
        case MLK_TYPE_Q4_K: f = im->gemm_q4_K; break;
        case MLK_TYPE_Q6_K: f = im->gemm_q6_K; break;
        default: return;
        }
        f(job->w, c->n, r0, r1, x, c->nb, job->y, job->ldy);
    }
}

void mlk_matmul(mlk_pool *pool, const mlk_matmul_job *jobs, int njobs, int64_t n,
                const mlk_block_q8a *xq, const float *xf, int64_t nb) {
    if (njobs > MAX_JOBS) njobs = MAX_JOBS;
    matmul_ctx c = {.jobs = jobs, .njobs = njobs, .n = n, .xq = xq, .xf = xf, .nb = nb};
    const int nth = mlk_pool_threads(pool);
    int64_t total_rows = 0;
    for (int j = 0; j < njobs; j++) total_rows += jobs[j].rows;
    // about 8 chunks per thread over all jobs, at least 16 rows, a multiple of 4
    int64_t target = total_rows / (8 * nth);
    if (target < 16) target = 16;
    target = (target + 3) & ~(int64_t)3;
    c.first_chunk[0] = 0;
    for (int j = 0; j < njobs; j++) {
        c.chunk_rows[j] = target;
        c.first_chunk[j + 1] = c.first_chunk[j] + (jobs[j].rows + target - 1) / target;
    }
    atomic_store(&c.next, 0);
    mlk_pool_run(pool, matmul_worker, &c);
}

typedef struct {
    const float *q;
    const mlk_half *kc, *vc;
    float *out;
    int64_t nb, pos0;
    int n_head, n_kv, hd;
    float scale;
    float *scratch;
    int64_t n_ctx;
    _Atomic int64_t next;
} attention_ctx;

static void attention_worker(void *p, int ith, int nth) {
    (void)nth;
    attention_ctx *c = p;
    const mlk_impl *im = mlk_impl_get();
    float *sc = c->scratch + (int64_t)ith * (c->n_ctx + 2 * c->hd);
    const int group = c->n_head / c->n_kv;
    const int64_t qdim = (int64_t)c->n_head * c->hd, kvdim = (int64_t)c->n_kv * c->hd;
    const int64_t items = c->nb * c->n_head;
    for (;;) {
        int64_t it = atomic_fetch_add(&c->next, 1);
        if (it >= items) return;
        const int64_t t = it / c->n_head;
        const int h = (int)(it % c->n_head), g = h / group;
        const int64_t len = c->pos0 + t + 1;
        // the query rounded to half precision, as llama.cpp multiplies it with the f16 keys
        float *qv = sc + c->n_ctx;
        mlk_half *qh = (mlk_half *)(sc + c->n_ctx + c->hd);
        im->f32_to_f16(c->q + t * qdim + (int64_t)h * c->hd, qh, c->hd);
        im->f16_to_f32(qh, qv, c->hd);
        float max = -INFINITY;
        for (int64_t s = 0; s < len; s++) {
            float v = c->scale * im->dot_f32_f16(qv, c->kc + s * kvdim + (int64_t)g * c->hd, c->hd);
            sc[s] = v;
            if (v > max) max = v;
        }
        const float inv = 1.0f / im->exp_sum(sc, max, sc, len);
        for (int64_t s = 0; s < len; s++) sc[s] *= inv;
        float *o = c->out + t * qdim + (int64_t)h * c->hd;
        im->weighted_sum_f16(o, sc, c->vc + (int64_t)g * c->hd, len, kvdim, c->hd);
    }
}

void mlk_attention(mlk_pool *pool, const float *q, const mlk_half *kc, const mlk_half *vc,
                   float *out, int64_t nb, int64_t pos0, int n_head, int n_kv, int hd,
                   float scale, float *scratch, int64_t n_ctx) {
    attention_ctx c = {.q = q, .kc = kc, .vc = vc, .out = out, .nb = nb, .pos0 = pos0,
                       .n_head = n_head, .n_kv = n_kv, .hd = hd, .scale = scale,
                       .scratch = scratch, .n_ctx = n_ctx};
    atomic_store(&c.next, 0);
    mlk_pool_run(pool, attention_worker, &c);
}

typedef struct {
    float *g;
    const float *u;
    int64_t n;
} swiglu_ctx;

static void swiglu_worker(void *p, int ith, int nth) {
    swiglu_ctx *c = p;
    int64_t per = ((c->n / nth) + 7) & ~(int64_t)7;
    int64_t i0 = per * ith, i1 = i0 + per;
    if (i1 > c->n) i1 = c->n;
    if (i0 < i1) mlk_impl_get()->swiglu(c->g + i0, c->u + i0, i1 - i0);
}

void mlk_swiglu(mlk_pool *pool, float *g, const float *u, int64_t n) {
    swiglu_ctx c = {.g = g, .u = u, .n = n};
    if (n < 4096) {
        mlk_impl_get()->swiglu(g, u, n);
        return;
    }
    mlk_pool_run(pool, swiglu_worker, &c);
}
