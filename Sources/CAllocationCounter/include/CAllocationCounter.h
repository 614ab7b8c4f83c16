#ifndef VIGIL_ALLOCATION_COUNTER_H
#define VIGIL_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Counting of heap allocations for `vigil bench detect`.
///
/// This target defines malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign, valloc and free in
/// the executable, which the dynamic linker then prefers over the C library's for the whole process. Each one
/// forwards to glibc's own entry point (`__libc_malloc`, ...), so the allocator is unchanged; while counting is
/// switched on, every allocating call (not free) adds one to a process-wide counter. Off by default: the
/// cost is then one predictable branch per call.

/// Switches counting on (1) or off (0).
void vigil_allocation_counting(int on);

/// Allocating calls counted so far (all threads).
uint64_t vigil_allocation_count(void);

/// Bytes in allocated heap chunks now (glibc's `mallinfo2().uordblks`; 0 elsewhere): what the program holds,
/// apart from free memory the allocator keeps.
uint64_t vigil_live_heap_bytes(void);

#endif
