/*
 * tests/trace/tr_single.c: a single-threaded program with known allocation calls, for
 * tests/cli/test_record.sh. It prints the counts it expects `heaplab trace info --json` to
 * report for it, as "key=value" lines. Modes (argv[1]):
 *   mix     every recorded function, realloc chains, aligned allocations, failures
 *   signal  allocations never freed, then kill(getpid(), SIGTERM)
 *   abort   allocations, then abort()
 *   _exit   allocations, then _exit(0)
 *   exec    allocations, then exec itself in mode "mix"
 * Results go through volatile sinks so the compiler keeps every call.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

static void say(const char *key, long v)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "%s=%ld\n", key, v);
    if (write(1, line, (size_t)n) != n) _exit(3);
}

static void leak(int n)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(100 + (size_t)i);
        memset(sink, 1, 100);
    }
}

static int mix(void)
{
    void *keep[64];
    long mallocs = 0, frees = 0, reallocs = 0, fails = 0;
    for (int i = 0; i < 64; i++, mallocs++)
        keep[i] = malloc((size_t)1 << (i % 20));
    for (int i = 0; i < 64; i += 2, frees++)
        free(keep[i]);
    /* a realloc chain: grow 10 times, shrink once, then free */
    void *p = malloc(8);
    mallocs++;
    for (int i = 0; i < 10; i++, reallocs++)
        /* cppcheck-suppress memleakOnRealloc ; the exact call is what is traced */
        p = realloc(p, (size_t)16 << i);
    /* cppcheck-suppress memleakOnRealloc ; the exact call is what is traced */
    p = realloc(p, 4);
    reallocs++;
    free(p);
    frees++;
    sink = calloc(10, 24);
    free(sink);
    frees++;
    void *q = NULL;
    if (posix_memalign(&q, 64, 1000) != 0) return 1;
    free(q);
    frees++;
    if (posix_memalign(&q, 3, 10) == 0) return 1; /* EINVAL: recorded as a failure */
    fails++;
    sink = aligned_alloc(256, 512);
    free(sink);
    sink = memalign(4096, 100);
    free(sink);
    sink = valloc(10);
    free(sink);
    sink = pvalloc(10);
    free(sink);
    frees += 4;
    sink = reallocarray(NULL, 10, 10);
    /* cppcheck-suppress memleakOnRealloc ; the exact call is what is traced */
    sink = reallocarray(sink, 20, 10);
    free(sink);
    frees++;
    sink = malloc(SIZE_MAX / 2); /* fails */
    mallocs++;
    fails++;
    free(sink); /* free(NULL) */
    frees++;
    sink = malloc(1000);
    mallocs++;
    /* cppcheck-suppress memleakOnRealloc ; the exact call is what is traced */
    sink = realloc(sink, 0); /* glibc frees and returns NULL */
    reallocs++;
    for (int i = 1; i < 64; i += 2, frees++)
        free(keep[i]);
    say("malloc", mallocs);
    say("free", frees);
    say("realloc", reallocs);
    say("calloc", 1);
    say("posix_memalign", 2);
    say("aligned_alloc", 1);
    say("memalign", 1);
    say("valloc", 1);
    say("pvalloc", 1);
    say("reallocarray", 2);
    say("failures", fails);
    say("free_null", 1);
    say("zero_frees", 1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "mix";
    if (strcmp(mode, "mix") == 0) return mix();
    if (strcmp(mode, "signal") == 0) {
        leak(500);
        say("malloc", 500);
        kill(getpid(), SIGTERM);
        pause();
        return 1;
    }
    if (strcmp(mode, "abort") == 0) {
        leak(300);
        say("malloc", 300);
        abort();
    }
    if (strcmp(mode, "_exit") == 0) {
        leak(200);
        say("malloc", 200);
        _exit(0);
    }
    if (strcmp(mode, "exec") == 0) {
        leak(150);
        say("exec_malloc", 150);
        execl("/proc/self/exe", argv[0], "mix", (char *)NULL);
        return 1;
    }
    return 2;
}
