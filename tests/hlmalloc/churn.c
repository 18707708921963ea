/*
 * tests/hlmalloc/churn.c: the thread-churn pattern of issue 17, item 2. THREADS short-lived
 * threads, WIDTH at a time; each puts PER_THREAD small blocks (64-512 B) into a shared table
 * of 4,096 slots, freeing what was there. Runs under any malloc (LD_PRELOAD). Prints the
 * peak RSS (KiB, VmHWM) and the current RSS (KiB, VmRSS) at the end, and the RSS when
 * MARK threads had run (-1 without MARK).
 *   usage: hl_churn [threads] [seed] [width] [per_thread] [mark]
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 4096 };

static void *table[SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int per_thread = 2;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void *worker(void *arg)
{
    uint64_t r = mix((uint64_t)(uintptr_t)arg);
    for (int i = 0; i < per_thread; i++) {
        r = mix(r + 0x9e3779b97f4a7c15ULL);
        size_t size = 64 + (size_t)(r % 449); /* 64..512 */
        unsigned slot = (unsigned)((r >> 20) % SLOTS);
        void *p = malloc(size);
        if (!p) abort();
        memset(p, (int)(r & 0xff), size);
        pthread_mutex_lock(&table_lock);
        void *old = table[slot];
        table[slot] = p;
        pthread_mutex_unlock(&table_lock);
        free(old);
    }
    return NULL;
}

/* A field of /proc/self/status in KiB, read without stdio: no malloc, so the main thread
 * takes no heap (and adopts no exited thread's segment) because it measured. */
static long status_kib(const char *key)
{
    static char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *at = strstr(buf, key);
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
    long threads = argc > 1 ? atol(argv[1]) : 20000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    int width = argc > 3 ? atoi(argv[3]) : 4;
    per_thread = argc > 4 ? atoi(argv[4]) : 2;
    if (width < 1 || width > 64 || threads < 0 || per_thread < 1) return 2;
    pthread_t t[64];
    long mark = argc > 5 ? atol(argv[5]) : 0, mark_kib = -1;
    for (long done = 0; done < threads; done += width) {
        if (mark && done == mark) mark_kib = status_kib("VmRSS:");
        int n = threads - done < width ? (int)(threads - done) : width;
        for (int i = 0; i < n; i++)
            if (pthread_create(&t[i], NULL, worker,
                               (void *)(uintptr_t)mix(seed * 1000003u + (uint64_t)(done + i)))
                != 0)
                return 1;
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
    }
    long rss = status_kib("VmRSS:"), peak = status_kib("VmHWM:");
    printf("peak_kib %ld rss_kib %ld mark_rss_kib %ld\n", peak, rss, mark_kib);
    for (unsigned i = 0; i < SLOTS; i++)
        free(table[i]);
    return 0;
}
