/*
 * util/osmem.c: harness memory from mmap, and the registry of its live blocks.
 *
 * The registry is a fixed table under a spin lock (the harness maps a few dozen blocks, and
 * never on a measured path): osmem_alloc adds, osmem_realloc moves and osmem_free removes an
 * entry. A block that finds the table full is counted in `unrecorded`, so that a reader
 * knows the table is incomplete rather than trusting it.
 */
#define _GNU_SOURCE
#include "util/osmem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static struct osmem_state {
    atomic_flag lock;
    size_t n;          /* entries in use */
    size_t unrecorded; /* live blocks the full table could not take */
    struct osmem_region r[OSMEM_REGISTRY_MAX];
} st = { .lock = ATOMIC_FLAG_INIT };

static void reg_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&st.lock, memory_order_acquire))
        ;
}

static void reg_unlock(void)
{
    atomic_flag_clear_explicit(&st.lock, memory_order_release);
}

static void reg_add(void *p, size_t bytes)
{
    reg_lock();
    if (st.n < OSMEM_REGISTRY_MAX)
        st.r[st.n++] = (struct osmem_region){ (uintptr_t)p, bytes };
    else
        st.unrecorded++;
    reg_unlock();
}

/* Remove the entry of the block at `p`; with `q`, move it to [q, q + bytes) instead. */
static void reg_update(void *p, void *q, size_t bytes)
{
    reg_lock();
    size_t i = 0;
    while (i < st.n && st.r[i].start != (uintptr_t)p)
        i++;
    if (i == st.n) {
        if (!q && st.unrecorded) st.unrecorded--;
    } else if (q) {
        st.r[i] = (struct osmem_region){ (uintptr_t)q, bytes };
    } else {
        st.r[i] = st.r[--st.n];
    }
    reg_unlock();
}

size_t osmem_regions(struct osmem_region *out, size_t cap, int *complete)
{
    reg_lock();
    size_t n = st.n;
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = st.r[i];
    *complete = st.unrecorded == 0;
    reg_unlock();
    return n;
}

static size_t round_up(size_t n)
{
    size_t pg = osmem_page_size();
    return (n + pg - 1) & ~(pg - 1);
}

size_t osmem_page_size(void)
{
    static size_t pg;
    if (pg == 0) {
        long v = sysconf(_SC_PAGESIZE);
        pg = v > 0 ? (size_t)v : 4096;
    }
    return pg;
}

void *osmem_alloc(size_t bytes)
{
    if (bytes == 0) bytes = 1;
    size_t len = round_up(bytes);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    reg_add(p, len);
    return p;
}

void *osmem_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL) return osmem_alloc(new_bytes);
    size_t len = round_up(new_bytes ? new_bytes : 1);
    void *q = mremap(p, round_up(old_bytes ? old_bytes : 1), len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) return NULL;
    reg_update(p, q, len);
    return q;
}

void osmem_free(void *p, size_t bytes)
{
    if (!p) return;
    reg_update(p, NULL, 0);
    munmap(p, round_up(bytes ? bytes : 1));
}

void osmem_prefault(void *p, size_t bytes)
{
    volatile char *c = p;
    size_t pg = osmem_page_size();
    for (size_t off = 0; off < bytes; off += pg) {
        char v = c[off]; /* a read then a write of the same byte: the page is touched for write */
        c[off] = v;
    }
}

void osmem_populate(void *p, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    size_t pg = osmem_page_size();
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(pg - 1);
    size_t len = ((uintptr_t)p + bytes - start + pg - 1) & ~(pg - 1);
    if (bytes == 0 || madvise((void *)start, len, MADV_POPULATE_WRITE) == 0) return;
#endif
    osmem_prefault(p, bytes);
}
