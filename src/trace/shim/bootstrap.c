/*
 * trace/shim/bootstrap.c: allocations before the real functions are known, and calls the
 * recorder passes through unrecorded.
 *
 * dlsym, which resolves the real functions, may itself call malloc or calloc: those calls are
 * served from a static bump buffer (shim.bump), which is never reused and whose blocks never
 * reach the real free (the wrappers drop them). Pass-through calls (nested inside a wrapper,
 * made while starting, or made when not recording) go to the real functions once known, to
 * the bump buffer before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "shim.h"

void *bump_alloc(size_t n, size_t align)
{
    if (align < 16) align = 16;
    if (align & (align - 1) || n > BUMP_BYTES) {
        errno = align & (align - 1) ? EINVAL : ENOMEM;
        return NULL;
    }
    size_t off = atomic_load(&shim.bump_used), start, end;
    do {
        start = (off + 16 + align - 1) & ~(align - 1);
        end = start + n;
        if (end > BUMP_BYTES) {
            errno = ENOMEM;
            return NULL;
        }
    } while (!atomic_compare_exchange_weak(&shim.bump_used, &off, end));
    /* The size goes in front of the block, for bump_realloc. */
    memcpy(shim.bump + start - sizeof(size_t), &n, sizeof(n));
    return shim.bump + start;
}

void *bump_realloc(void *p, size_t n)
{
    size_t old;
    memcpy(&old, (unsigned char *)p - sizeof(size_t), sizeof(old));
    void *q = pt_malloc(n);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
}

void *pt_malloc(size_t n)
{
    return shim.real.malloc ? shim.real.malloc(n) : bump_alloc(n, 16);
}

void pt_free(void *p)
{
    if (shim.real.free && !in_bump(p)) shim.real.free(p);
}

void *pt_calloc(size_t a, size_t b)
{
    if (shim.real.calloc) return shim.real.calloc(a, b);
    if (b && a > SIZE_MAX / b) {
        errno = ENOMEM;
        return NULL;
    }
    return bump_alloc(a * b, 16); /* the bump buffer is never reused: still zero */
}

void *pt_realloc(void *p, size_t n)
{
    if (p && in_bump(p)) return bump_realloc(p, n);
    if (shim.real.realloc) return shim.real.realloc(p, n);
    return p ? bump_realloc(p, n) : bump_alloc(n, 16);
}

void *pt_aligned(size_t align, size_t n)
{
    if (shim.real.memalign) return shim.real.memalign(align, n);
    return bump_alloc(n, align);
}
