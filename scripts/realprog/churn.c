/* realprog/churn.c: large-block churn: a block of 64 KiB..32 MiB (+ up to 64 KiB), every page
 * touched, freed; repeated. Reports time and minor faults: an allocator that faults the
 * pages in anew each time pays ~1.7-10 us per 4 KiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    unsigned seed = 7;
    struct timespec a, b;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < iters; i++) {
        size_t sz = (size_t)65536 << (rand_r(&seed) % 10); /* 64 KiB .. 32 MiB */
        sz += rand_r(&seed) % 65536;
        char *p = malloc(sz);
        for (size_t off = 0; off < sz; off += 4096)
            p[off] = (char)i;
        free(p);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    getrusage(RUSAGE_SELF, &r1);
    printf("%.3f s, %ld minor faults\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
           r1.ru_minflt - r0.ru_minflt);
    return 0;
}
