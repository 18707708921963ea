/*
 * tests/hlmalloc/oom.c: how much a malloc serves before it fails, and whether it serves
 * as much again after everything is freed. Run it under `ulimit -v` with and without
 * LD_PRELOAD to compare an allocator with glibc (tests/hlmalloc/test_oom.sh).
 *
 * usage: oom SIZE [SIZE2]
 * Allocates SIZE-byte blocks, writing the first byte of each, until malloc returns NULL
 * (errno must be ENOMEM), frees them all, then does the same with SIZE2 (default SIZE).
 * The blocks are not written through: `ulimit -v` counts address space, not memory.
 * Prints one line: "first N1 blocks (M1 MiB) then N2 blocks (M2 MiB)". Exits 1 if a
 * failure did not set ENOMEM, 2 on bad usage. The pointer array is mapped before the
 * first allocation, so it costs the same address space under every allocator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define MAX_BLOCKS (1u << 20)

static void **blocks;

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K') v <<= 10;
    if (*end == 'm' || *end == 'M') v <<= 20;
    if (*end == 'g' || *end == 'G') v <<= 30;
    return (size_t)v;
}

/* Blocks of `size` served until failure; -1 if errno was wrong. */
static long fill(size_t size)
{
    long n = 0;
    for (;;) {
        if (n == MAX_BLOCKS) break;
        errno = 0;
        char *p = malloc(size);
        if (!p) {
            if (errno != ENOMEM) return -1;
            break;
        }
        p[0] = 1;
        blocks[n++] = p;
    }
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: oom SIZE [SIZE2]\n");
        return 2;
    }
    size_t size = parse_size(argv[1]), size2 = argc > 2 ? parse_size(argv[2]) : size;
    if (size == 0 || size2 == 0) return 2;
    blocks = mmap(NULL, MAX_BLOCKS * sizeof(void *), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (blocks == MAP_FAILED) return 2;
    long a = fill(size), b = fill(size2);
    if (a < 0 || b < 0) {
        printf("a failed malloc did not set ENOMEM\n");
        return 1;
    }
    printf("first %ld blocks (%zu MiB) then %ld blocks (%zu MiB)\n", a, (size_t)a * size >> 20, b,
           (size_t)b * size2 >> 20);
    return 0;
}
