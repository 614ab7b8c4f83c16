#include "CAllocationCounter.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static int vigil_counting = 0;
static uint64_t vigil_count = 0;

static inline void vigil_note(void) {
    if (__builtin_expect(__atomic_load_n(&vigil_counting, __ATOMIC_RELAXED), 0)) {
        __atomic_fetch_add(&vigil_count, 1, __ATOMIC_RELAXED);
    }
}

void vigil_allocation_counting(int on) { __atomic_store_n(&vigil_counting, on ? 1 : 0, __ATOMIC_SEQ_CST); }

uint64_t vigil_allocation_count(void) { return __atomic_load_n(&vigil_count, __ATOMIC_SEQ_CST); }

void *malloc(size_t size) {
    vigil_note();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    vigil_note();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    vigil_note();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    vigil_note();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    vigil_note();
    return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
    vigil_note();
    return __libc_memalign(4096, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    vigil_note();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *result = p;
    return 0;
}

void free(void *pointer) { __libc_free(pointer); }

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
uint64_t vigil_live_heap_bytes(void) { return (uint64_t)mallinfo2().uordblks; }
#else
uint64_t vigil_live_heap_bytes(void) { return 0; }
#endif
