/*
 * trace/shim/alloc.c: the malloc wrappers. Each forwards to the next definition and records
 * the call: an allocation after the real call returned, a free before it, a realloc* both
 * (its free half before, its allocation half after). A call nested inside a wrapper, made
 * while starting, or made when not recording passes through (bootstrap.c); a block from the
 * bump buffer is never given to the real functions.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

EXPORT void *malloc(size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_malloc(n);
    tls.nest = 1;
    void *p = shim.real.malloc(n);
    struct tf_ev e = { .kind = TRACE_MALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void free(void *p)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_FREE, .ptr = (uintptr_t)p };
    record(&e);
    shim.real.free(p);
    tls.nest = 0;
}

EXPORT void *calloc(size_t count, size_t size)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_calloc(count, size);
    tls.nest = 1;
    void *p = shim.real.calloc(count, size);
    struct tf_ev e = { .kind = TRACE_CALLOC, .count = count, .size = size, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *realloc(void *old, size_t n)
{
    if (UNLIKELY(old && in_bump(old))) return bump_realloc(old, n);
    if (UNLIKELY(!recording()) && !settle()) return pt_realloc(old, n);
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_REALLOC, .ptr = (uintptr_t)old, .size = n };
    struct slot *s = half_begin(&e);
    int zero = n == 0 && old, saved = 0;
    if (UNLIKELY(zero)) {
        saved = errno;
        errno = 0;
    }
    void *q = shim.real.realloc(old, n);
    if (UNLIKELY(zero)) {
        e.zfree = !q && errno == 0;
        if (errno == 0) errno = saved;
    }
    e.result = (uintptr_t)q;
    half_end(s, &e);
    tls.nest = 0;
    return q;
}

EXPORT void *reallocarray(void *old, size_t count, size_t size)
{
    if (UNLIKELY(old && in_bump(old))) {
        if (size && count > SIZE_MAX / size) {
            errno = ENOMEM;
            return NULL;
        }
        return bump_realloc(old, count * size);
    }
    if (UNLIKELY(!recording()) && !settle()) {
        if (shim.real.reallocarray) return shim.real.reallocarray(old, count, size);
        if (size && count > SIZE_MAX / size) {
            errno = ENOMEM;
            return NULL;
        }
        return pt_realloc(old, count * size);
    }
    tls.nest = 1;
    struct tf_ev e = {
        .kind = TRACE_REALLOCARRAY, .ptr = (uintptr_t)old, .count = count, .size = size
    };
    struct slot *s = half_begin(&e);
    int zero = (count == 0 || size == 0) && old, saved = 0;
    if (UNLIKELY(zero)) {
        saved = errno;
        errno = 0;
    }
    void *q;
    if (shim.real.reallocarray) {
        q = shim.real.reallocarray(old, count, size);
    } else if (size && count > SIZE_MAX / size) {
        errno = ENOMEM;
        q = NULL;
    } else {
        q = shim.real.realloc(old, count * size);
    }
    if (UNLIKELY(zero)) {
        e.zfree = !q && errno == 0;
        if (errno == 0) errno = saved;
    }
    e.result = (uintptr_t)q;
    half_end(s, &e);
    tls.nest = 0;
    return q;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) {
        if (shim.real.posix_memalign) return shim.real.posix_memalign(out, align, n);
        if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
        void *p = pt_aligned(align, n);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    tls.nest = 1;
    int r = shim.real.posix_memalign(out, align, n);
    struct tf_ev e = { .kind = TRACE_POSIX_MEMALIGN,
                       .align = align,
                       .size = n,
                       .result = r == 0 ? (uintptr_t)*out : 0,
                       .value = (uint64_t)r };
    record(&e);
    tls.nest = 0;
    return r;
}

/* aligned_alloc, memalign, valloc and pvalloc: one shape. */
INLINE void *aligned_common(unsigned kind, void *(*fn)(size_t, size_t), size_t align, size_t n)
{
    tls.nest = 1;
    void *p = fn(align, n);
    struct tf_ev e = { .kind = kind, .align = align, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle())
        return shim.real.aligned_alloc ? shim.real.aligned_alloc(align, n) : pt_aligned(align, n);
    return aligned_common(TRACE_ALIGNED_ALLOC,
                          shim.real.aligned_alloc ? shim.real.aligned_alloc : shim.real.memalign,
                          align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_aligned(align, n);
    return aligned_common(TRACE_MEMALIGN, shim.real.memalign, align, n);
}

EXPORT void *valloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (UNLIKELY(!recording()) && !settle())
        return shim.real.valloc ? shim.real.valloc(n) : pt_aligned(page, n);
    tls.nest = 1;
    void *p = shim.real.valloc ? shim.real.valloc(n) : shim.real.memalign(page, n);
    struct tf_ev e = { .kind = TRACE_VALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (n + page - 1) & ~(page - 1);
    if (rounded < n) rounded = SIZE_MAX; /* the real call fails */
    if (UNLIKELY(!recording()) && !settle())
        return shim.real.pvalloc ? shim.real.pvalloc(n) : pt_aligned(page, rounded);
    tls.nest = 1;
    void *p = shim.real.pvalloc ? shim.real.pvalloc(n) : shim.real.memalign(page, rounded);
    struct tf_ev e = { .kind = TRACE_PVALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void free_sized(void *p, size_t size)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        if (shim.real.free_sized)
            shim.real.free_sized(p, size);
        else
            pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_FREE_SIZED, .ptr = (uintptr_t)p, .size = size };
    record(&e);
    if (shim.real.free_sized)
        shim.real.free_sized(p, size);
    else
        shim.real.free(p);
    tls.nest = 0;
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        if (shim.real.free_aligned_sized)
            shim.real.free_aligned_sized(p, align, size);
        else
            pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = {
        .kind = TRACE_FREE_ALIGNED_SIZED, .ptr = (uintptr_t)p, .align = align, .size = size
    };
    record(&e);
    if (shim.real.free_aligned_sized)
        shim.real.free_aligned_sized(p, align, size);
    else
        shim.real.free(p);
    tls.nest = 0;
}
