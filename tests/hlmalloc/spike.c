/*
 * tests/hlmalloc/spike.c: does RSS come back after a spike when the threads go idle?
 *
 * T threads each allocate BYTES/T of small objects (16-256 B, each written), free them
 * all, and then sleep, making no further allocator calls. The main thread samples the
 * process's RSS every 50 ms for 1.5 s after the last free, reading /proc/self/statm with
 * read(2) (no allocation), and reports RSS above the pre-spike baseline at 0, 250, 500
 * and 1000 ms. Run it under any allocator with LD_PRELOAD.
 *
 * usage: spike [MiB] [threads] [--check]
 * With --check it exits 1 unless RSS at 1 s is within 10% of live bytes + 4 MiB (live
 * bytes are 0 here: everything was freed), the bar issue #3 sets for hlmalloc.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t per_thread_bytes;
static _Atomic int freed_count;
static _Atomic int stop;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long rss_bytes(int fd)
{
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return -1;
    buf[n] = 0;
    long size = 0, res = 0;
    if (sscanf(buf, "%ld %ld", &size, &res) != 2) return -1;
    return res * sysconf(_SC_PAGESIZE);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    /* An array of pointers big enough for the smallest objects, from mmap-free malloc of
     * one big block: counted in the spike like the objects. */
    size_t cap = per_thread_bytes / 16 + 1;
    void **objs = malloc(cap * sizeof(void *));
    if (!objs) return NULL;
    size_t n = 0, bytes = 0;
    while (bytes < per_thread_bytes && n < cap) {
        size_t sz = 16 + (size_t)(rand_r(&seed) % 241);
        char *p = malloc(sz);
        if (!p) break;
        memset(p, 0x5a, sz);
        objs[n++] = p;
        bytes += sz;
    }
    for (size_t i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
    atomic_fetch_add(&freed_count, 1);
    while (!atomic_load(&stop))
        usleep(10000); /* idle: no allocator calls */
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int check = argc > 3 && strcmp(argv[3], "--check") == 0;
    if (mib == 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: spike [MiB] [threads] [--check]\n");
        return 2;
    }
    per_thread_bytes = (mib << 20) / (size_t)threads;
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 2;
    pthread_t tids[64];
    long baseline = rss_bytes(fd);
    uint64_t t0 = now_ms();
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    long peak = 0;
    while (atomic_load(&freed_count) < threads) {
        long r = rss_bytes(fd);
        if (r > peak) peak = r;
        usleep(5000);
    }
    uint64_t t_freed = now_ms();
    long at[4] = { -1, -1, -1, -1 };
    const int marks[4] = { 0, 250, 500, 1000 };
    for (;;) {
        uint64_t dt = now_ms() - t_freed;
        long r = rss_bytes(fd) - baseline;
        for (int k = 0; k < 4; k++)
            if (at[k] < 0 && dt >= (uint64_t)marks[k]) at[k] = r;
        if (dt >= 1500) break;
        usleep(50000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    printf("spike %zu MiB on %d threads: alloc+free %llu ms, peak RSS %ld MiB above baseline\n",
           mib, threads, (unsigned long long)(t_freed - t0), (peak - baseline) >> 20);
    printf("RSS above baseline after the last free: 0 ms %.1f MiB, 250 ms %.1f MiB, 500 ms %.1f "
           "MiB, "
           "1000 ms %.1f MiB\n",
           at[0] / 1048576.0, at[1] / 1048576.0, at[2] / 1048576.0, at[3] / 1048576.0);
    if (check) {
        long limit = 4L << 20; /* live bytes are 0: 10% of 0 + 4 MiB */
        if (at[3] > limit) {
            fprintf(stderr,
                    "spike: RSS %.1f MiB above baseline 1 s after the frees (limit 4 MiB)\n",
                    at[3] / 1048576.0);
            return 1;
        }
    }
    return 0;
}
