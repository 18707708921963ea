/*
 * hlmalloc.h: heaplab's production allocator, prefixed API.
 *
 * libhlmalloc.so also defines the standard names (malloc, free, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size, free_sized, free_aligned_sized, cfree, malloc_trim, mallopt,
 * mallinfo2), so `LD_PRELOAD=build/libhlmalloc.so prog` replaces the program's malloc.
 * The hl_ functions below are the same allocator under names that never clash; they are
 * what tests and sanitizer builds use, and what a program links to on purpose.
 *
 * Semantics follow glibc: NULL with errno = ENOMEM on failure; malloc(0) returns a unique
 * pointer; realloc(p, 0) frees p and returns NULL; every pointer is aligned to at least 16.
 * A free of a pointer hlmalloc never handed out is counted and ignored (the secure build,
 * libhlmalloc-secure.so, aborts with one line on stderr instead).
 *
 * All functions are thread-safe. The design is in docs/hlmalloc.md.
 */
#ifndef HLMALLOC_H
#define HLMALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HL_API         __attribute__((visibility("default")))
#define HL_MALLOC_ATTR __attribute__((malloc))
#else
#define HL_API
#define HL_MALLOC_ATTR
#endif

HL_API HL_MALLOC_ATTR void *hl_malloc(size_t size);
HL_API HL_MALLOC_ATTR void *hl_calloc(size_t count, size_t size);
HL_API void *hl_realloc(void *p, size_t size);
HL_API void *hl_reallocarray(void *p, size_t count, size_t size);
HL_API void hl_free(void *p);
/* free() for callers that know the size (or the size and alignment) they asked for. */
HL_API void hl_free_sized(void *p, size_t size);
HL_API void hl_free_aligned_sized(void *p, size_t alignment, size_t size);

/* alignment: a power of two; aligned_alloc also accepts any power of two (glibc 2.38+). */
HL_API HL_MALLOC_ATTR void *hl_aligned_alloc(size_t alignment, size_t size);
/* 0, EINVAL (alignment not a power of two multiple of sizeof(void *)) or ENOMEM. */
HL_API int hl_posix_memalign(void **out, size_t alignment, size_t size);
HL_API HL_MALLOC_ATTR void *hl_memalign(size_t alignment, size_t size);
HL_API HL_MALLOC_ATTR void *hl_valloc(size_t size);
HL_API HL_MALLOC_ATTR void *hl_pvalloc(size_t size);

/* Bytes usable at p (>= what was asked); 0 for NULL or a pointer hlmalloc does not own. */
HL_API size_t hl_usable_size(const void *p);

/* Return all free memory that can be returned to the OS now, from every thread's heap. */
HL_API void hl_collect(void);

/*
 * Check the heap's invariants (I1-I10 of src/hlmalloc/types.h, listed in docs/hlmalloc.md):
 * every segment, page, free list, queue, foreign cache and counter. Returns 0 if all hold,
 * else the number of the first one found broken, and writes one line saying what and
 * where through the output function ("hlmalloc: heap check: I3 broken: ..."). It never
 * dereferences a pointer it has not verified, so a corrupted heap is reported, not
 * crashed on. Exact only while no other thread allocates or frees (call it after joining
 * them, or from a debugger); the HL_DEBUG builds check each thread's own heap by
 * themselves at safe points.
 */
HL_API int hl_heap_check(void);

/* "hlmalloc X.Y.Z" plus the build flavour ("secure"). */
HL_API const char *hl_version(void);

#define HL_STATS_CLASSES 64

struct hl_class_stats {
    uint64_t block_bytes; /* size of the blocks of this class; 0 = unused entry */
    uint64_t pages;       /* pages of this class in use */
    uint64_t blocks;      /* blocks those pages hold */
    uint64_t used;        /* blocks handed out and not yet freed (approximate) */
};

struct hl_stats {
    uint64_t allocated_bytes;    /* bytes in blocks handed out and not freed (block sizes);
                                    also blocks freed on a thread that does not own them, until
                                    they go home, and blocks waiting in their owner's own
                                    cache (docs/hlmalloc.md, foreign and own caches) */
    uint64_t active_bytes;       /* bytes in pages that hold at least one live block */
    uint64_t resident_bytes;     /* touched and not returned to the OS (an upper bound) */
    uint64_t dirty_bytes;        /* of those, in freed slices waiting for the purge delay */
    uint64_t mapped_bytes;       /* address space reserved from the OS */
    uint64_t segments;           /* segments mapped (including huge ones) */
    uint64_t huge_blocks;        /* live huge blocks (mapped one each) */
    uint64_t huge_cached_bytes;  /* freed huge mappings kept for reuse */
    uint64_t purges;             /* purge calls (madvise/munmap) made */
    uint64_t purged_bytes;       /* bytes returned to the OS by them */
    uint64_t threads;            /* thread heaps alive */
    uint64_t abandoned_segments; /* segments of exited threads not yet reclaimed */
    uint64_t invalid_frees;      /* frees of pointers hlmalloc never handed out (ignored) */
    uint64_t double_frees;       /* frees of blocks already free (ignored) */
    uint64_t remote_free_blocks; /* blocks freed by a thread that does not own their page,
                                    waiting for the owner to collect them (its pages'
                                    remote-free lists and its delayed list); not those in
                                    foreign caches (they count as allocated) */
    uint64_t remote_free_max;    /* the most of them waiting for one heap (abandoned pages
                                    count as one) */
    struct hl_class_stats classes[HL_STATS_CLASSES];
};

/* Fill *out. Counters owned by other running threads are read without stopping them. */
HL_API void hl_stats(struct hl_stats *out);

/* Print the statistics, human-readable, through the output function (stderr by default). */
HL_API void hl_stats_print(void);

/* Send hlmalloc's output (stats, error messages) to fn instead of stderr; NULL restores. */
HL_API void hl_set_output(void (*fn)(const char *msg, void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif
