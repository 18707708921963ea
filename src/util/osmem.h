/*
 * util/osmem.h: harness memory straight from mmap, never from the allocator under test.
 *
 * Everything the benchmark harness keeps while a workload runs (operation streams, object
 * slots, histograms, RSS samples) comes from here, so the allocator being measured never
 * sees it, and is pre-faulted before the measurement starts so that it sits in the RSS
 * baseline that is subtracted.
 *
 * Every block is also recorded in a registry (osmem_regions), so that a heap map can leave
 * the harness's memory out of what it draws as the allocator's (inside/inside.h).
 */
#ifndef HEAPLAB_UTIL_OSMEM_H
#define HEAPLAB_UTIL_OSMEM_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed, page-aligned memory of at least `bytes`; NULL on failure. */
void *osmem_alloc(size_t bytes);

/* Grow or shrink a block from osmem_alloc, keeping its contents; NULL on failure (old kept). */
void *osmem_realloc(void *p, size_t old_bytes, size_t new_bytes);

/* Return a block from osmem_alloc. */
void osmem_free(void *p, size_t bytes);

/* Touch every page of [p, p+bytes) so that it is resident. */
void osmem_prefault(void *p, size_t bytes);

/* Fault in [p, p+bytes) writable in one call (MADV_POPULATE_WRITE), else page by page. */
void osmem_populate(void *p, size_t bytes);

/* The page size. */
size_t osmem_page_size(void);

/* One live block of osmem memory: [start, start + bytes), whole pages. */
struct osmem_region {
    uintptr_t start;
    size_t bytes;
};

#define OSMEM_REGISTRY_MAX 4096 /* blocks recorded; beyond, osmem_regions says incomplete */

/*
 * Copy up to `cap` of the live blocks into `out`, in no particular order; returns how many
 * there are (which may exceed `cap`). *complete is 0 when some block was not recorded (more
 * than OSMEM_REGISTRY_MAX were live at once). Safe from any thread.
 */
size_t osmem_regions(struct osmem_region *out, size_t cap, int *complete);

#endif
