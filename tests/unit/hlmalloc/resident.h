/*
 * tests/unit/hlmalloc/resident.h: how many pages of a range are resident, by mincore(2),
 * and the process's resident bytes, from /proc/self/statm. hlmalloc's freed memory stays
 * mapped (segment slices), so the tests can watch it being purged without the allocator's
 * own counters.
 */
#ifndef HEAPLAB_TESTS_UNIT_HLMALLOC_RESIDENT_H
#define HEAPLAB_TESTS_UNIT_HLMALLOC_RESIDENT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Resident pages of [p, p + n), or SIZE_MAX if mincore fails (the range is not mapped). */
static inline size_t resident_pages(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t pages = ((uintptr_t)p + n - lo + page - 1) / page;
    unsigned char *v = calloc(pages, 1);
    size_t r = SIZE_MAX;
    if (v && mincore((void *)lo, pages * page, v) == 0) {
        r = 0;
        for (size_t i = 0; i < pages; i++)
            r += v[i] & 1;
    }
    free(v);
    return r;
}

/* Field `field` of /proc/self/statm (0: the address space, 1: resident) in bytes, read
 * without allocating (stdio would take a heap), or -1. */
static inline long statm_bytes(int field)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long v[2] = { 0, 0 };
    if (field < 0 || field > 1 || sscanf(buf, "%ld %ld", &v[0], &v[1]) != 2) return -1;
    return v[field] * sysconf(_SC_PAGESIZE);
}

/* Resident bytes of this process, or -1. */
static inline long rss_bytes(void)
{
    return statm_bytes(1);
}

#endif
