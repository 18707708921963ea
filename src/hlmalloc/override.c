/*
 * hlmalloc/override.c: the standard allocation functions, the only definitions of them in
 * the library (built into libhlmalloc.so and .a, not into the hl_-only test library).
 * Each forwards to the hidden implementation with a direct jump; malloc, free, calloc and
 * realloc are aliases of theirs instead (alloc.c, HL_OVERRIDE).
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "hlmalloc/internal.h"

#define HL_EXPORT __attribute__((visibility("default")))

/* What alloc.c's malloc refers to, so that the static library links this object with it. */
HL_HIDDEN const char hl_override_anchor = 0;

HL_EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    return hl_reallocarray(p, count, size);
}

HL_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    return hl_posix_memalign(out, alignment, size);
}

HL_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return hl_aligned_alloc(alignment, size);
}

HL_EXPORT void *memalign(size_t alignment, size_t size)
{
    return hl_memalign(alignment, size);
}

HL_EXPORT void *valloc(size_t size)
{
    return hl_valloc(size);
}

HL_EXPORT void *pvalloc(size_t size)
{
    return hl_pvalloc(size);
}

HL_EXPORT size_t malloc_usable_size(void *p)
{
    return hli_usable_size(p);
}

HL_EXPORT void free_sized(void *p, size_t size);
HL_EXPORT void free_sized(void *p, size_t size)
{
    (void)size;
    hli_free(p);
}

HL_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size);
HL_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    hli_free(p);
}

HL_EXPORT void cfree(void *p);
HL_EXPORT void cfree(void *p)
{
    hli_free(p);
}

/* malloc_trim: purge everything now; returns 1 if memory was returned (as glibc). */
HL_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    struct hl_stats before, after;
    hl_stats(&before);
    hl_collect();
    hl_stats(&after);
    return after.purged_bytes > before.purged_bytes;
}

/* mallopt: hlmalloc has no glibc tunables; accept them and report success (as jemalloc). */
HL_EXPORT int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1;
}

HL_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct hl_stats st;
    hl_stats(&st);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof(mi));
    mi.arena = st.mapped_bytes;
    mi.hblks = st.huge_blocks;
    mi.uordblks = st.allocated_bytes;
    mi.fordblks = st.active_bytes > st.allocated_bytes ? st.active_bytes - st.allocated_bytes : 0;
    mi.keepcost = st.huge_cached_bytes;
    return mi;
}

HL_EXPORT void malloc_stats(void)
{
    hl_stats_print();
}
