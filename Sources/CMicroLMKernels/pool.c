// A persistent thread pool: workers spin briefly on a generation counter (a few
// hundred microseconds between two parallel steps is the common case), then sleep
// on a condition variable, so an idle engine costs no CPU.
#include "internal.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/// How long a worker spins before it sleeps, and how often it reads the clock meanwhile.
#define SPIN_NS 1000000
#define SPINS_PER_CLOCK 64
/// Spins of the caller waiting for workers before it yields its core.
#define SPIN_BEFORE_YIELD 20000
/// A worker that finishes this long after the caller is a straggler (it lost its core).
#define STRAGGLE_NS 1000000
/// Stragglers within one window of runs that make the pool run alone for a while.
#define STRIKE_WINDOW 64
#define STRIKES_TO_SOLO 4
/// Runs on the calling thread alone before the workers are tried again.
#define SOLO_RUNS 512

struct mlk_pool;

typedef struct {
    struct mlk_pool *pool;
    int ith;
} worker_arg;

struct mlk_pool {
    int n;
    pthread_t *threads;
    worker_arg *args;
    _Atomic uint64_t generation;
    _Atomic int pending;
    _Atomic int sleepers;
    _Atomic int stop;
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    // Only the calling thread touches these: on a machine whose cores are busy with other
    // processes, a descheduled worker stalls every step, and one thread alone does better.
    uint64_t runs;
    int strikes;
    uint64_t solo_until;
};


static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    struct mlk_pool *pool = arg->pool;
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        int64_t spin_start = 0;
        while (atomic_load(&pool->generation) == seen) {
            CPU_RELAX();
            if (++spins % SPINS_PER_CLOCK) continue;
            int64_t t = now_ns();
            if (!spin_start) spin_start = t;
            if (t - spin_start < SPIN_NS) continue;
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->generation) == seen) pthread_cond_wait(&pool->cond, &pool->mutex);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mutex);
        }
        seen = atomic_load(&pool->generation);
        if (atomic_load(&pool->stop)) return NULL;
        pool->fn(pool->ctx, arg->ith, pool->n);
        atomic_fetch_sub(&pool->pending, 1);
    }
}

mlk_pool *mlk_pool_create(int nthreads) {
    if (nthreads < 1) nthreads = 1;
    struct mlk_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n = nthreads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    pool->args = calloc((size_t)nthreads, sizeof(worker_arg));
    if (!pool->threads || !pool->args) {
        free(pool->threads);
        free(pool->args);
        free(pool);
        return NULL;
    }
    for (int i = 1; i < nthreads; i++) {
        pool->args[i].pool = pool;
        pool->args[i].ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) {
            pool->n = i;  // run with the workers that did start
            break;
        }
    }
    return pool;
}

static void wake(struct mlk_pool *pool) {
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
    }
}

void mlk_pool_destroy(mlk_pool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    atomic_fetch_add(&pool->generation, 1);
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->cond);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

int mlk_pool_threads(const mlk_pool *pool) { return pool ? pool->n : 1; }

void mlk_pool_run(mlk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    if (!pool || pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->runs++;
    if (pool->runs % STRIKE_WINDOW == 0) pool->strikes = 0;
    if (pool->runs < pool->solo_until) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->n - 1);
    atomic_fetch_add(&pool->generation, 1);
    wake(pool);
    fn(ctx, 0, pool->n);
    int spins = 0;
    int64_t waited_from = 0;
    while (atomic_load(&pool->pending) > 0) {
        if (++spins < SPIN_BEFORE_YIELD) {
            CPU_RELAX();
            if (spins == 256) waited_from = now_ns();
        } else {
            sched_yield();  // a worker lost its core to another process
        }
    }
    if (waited_from && now_ns() - waited_from > STRAGGLE_NS && ++pool->strikes >= STRIKES_TO_SOLO) {
        pool->solo_until = pool->runs + SOLO_RUNS;
        pool->strikes = 0;
    }
}
