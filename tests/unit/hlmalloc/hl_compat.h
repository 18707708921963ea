/*
 * tests/unit/hlmalloc/hl_compat.h: the hl_ API as the hlmalloc tests see it. Normally it is
 * include/hlmalloc.h and HL_TEST_LIBC is 0. Built with -DHL_TEST_LIBC, every hl_ call maps
 * onto the C library instead (hl_stats fills zeros, hl_version is a fixed string), so the
 * tests' own logic can be run against glibc, under ASan and TSan, without hlmalloc. Tests
 * of behaviour only hlmalloc has (stats values, counted foreign and double frees) skip
 * themselves with SKIP_IF(HL_TEST_LIBC, ...). HL_TEST_SANITIZED is 1 under ASan or TSan.
 *
 *   gcc -std=c11 -D_DEFAULT_SOURCE -DHL_TEST_LIBC -fno-builtin -Iinclude -Itests \
 *       tests/unit/hlmalloc/test_api.c -lpthread
 */
#ifndef HEAPLAB_TESTS_UNIT_HLMALLOC_HL_COMPAT_H
#define HEAPLAB_TESTS_UNIT_HLMALLOC_HL_COMPAT_H

#include <hlmalloc.h>

#ifndef HL_TEST_LIBC
#define HL_TEST_LIBC 0
#endif

/* 1 when built with ASan or TSan (gcc or clang): stress tests scale their work down. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HL_TEST_SANITIZED 1
#endif
#endif
#ifndef HL_TEST_SANITIZED
#define HL_TEST_SANITIZED 0
#endif

#if HL_TEST_LIBC
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static inline void hl_compat_stats(struct hl_stats *out)
{
    memset(out, 0, sizeof(*out));
}

static inline void hl_compat_set_output(void (*fn)(const char *msg, void *arg), void *arg)
{
    (void)fn;
    (void)arg;
}

/* Function-like, so `struct hl_stats` is left alone. */
#define hl_malloc(n)                   malloc(n)
#define hl_calloc(n, size)             calloc((n), (size))
#define hl_realloc(p, n)               realloc((p), (n))
#define hl_reallocarray(p, n, size)    reallocarray((p), (n), (size))
#define hl_free(p)                     free(p)
#define hl_free_sized(p, n)            ((void)(n), free(p))
#define hl_free_aligned_sized(p, a, n) ((void)(a), (void)(n), free(p))
#define hl_aligned_alloc(a, n)         aligned_alloc((a), (n))
#define hl_posix_memalign(out, a, n)   posix_memalign((out), (a), (n))
#define hl_memalign(a, n)              memalign((a), (n))
#define hl_valloc(n)                   valloc(n)
#define hl_pvalloc(n)                  pvalloc(n)
#define hl_usable_size(p)              malloc_usable_size((void *)(p))
#define hl_collect()                   ((void)malloc_trim(0))
#define hl_version()                   "hlmalloc (C library compat mode)"
#define hl_stats(out)                  hl_compat_stats(out)
#define hl_stats_print()               ((void)0)
#define hl_set_output(fn, arg)         hl_compat_set_output((fn), (arg))
#define hl_heap_check()                0
#endif

#endif
