/* util/osmem.c */
#define _GNU_SOURCE
#include "util/osmem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

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
    void *p =
            mmap(NULL, round_up(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *osmem_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL) return osmem_alloc(new_bytes);
    void *q = mremap(p, round_up(old_bytes ? old_bytes : 1), round_up(new_bytes ? new_bytes : 1),
                     MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
}

void osmem_free(void *p, size_t bytes)
{
    if (p) munmap(p, round_up(bytes ? bytes : 1));
}

void osmem_prefault(void *p, size_t bytes)
{
    volatile char *c = p;
    size_t pg = osmem_page_size();
    for (size_t off = 0; off < bytes; off += pg)
        c[off] = c[off];
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
