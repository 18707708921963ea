/*
 * tests/hlmalloc/soak.c: the long-running soak of issue 17, item 6 (`make soak`; not in
 * make test). Linked with hlmalloc_api_debug (HL_DEBUG=2: every thread checks its own heap
 * at its safe points and aborts on a broken invariant). It runs in epochs of EPOCH_MS: 8
 * new worker threads each time (thread churn), each doing random hl_malloc, hl_calloc,
 * hl_realloc, hl_aligned_alloc and hl_free on its slot table (4,096 slots, kept across
 * epochs, so every epoch frees blocks of threads that have exited), handing blocks to
 * the other threads through a shared mailbox, starting short helper threads, and now and
 * then forking (the child allocates, frees, starts a thread and exits; a hang is caught
 * by alarm). Every block carries a pattern, verified when it is freed or reallocated.
 * After each epoch, with the workers joined, the main thread runs hl_heap_check() and
 * samples RSS.
 *
 * It fails (exit 1) if a check or a pattern fails, a fork child fails, or RSS grows after
 * warm-up: the samples after the first fifth of the run are split into thirds, and the
 * maximum of the last third must be within 10% of the maximum of the middle third.
 *   usage: hl_soak [minutes] [seed]     (fractions allowed: 0.5)
 */
#include <fcntl.h>
#include <hlmalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit/hlmalloc/resident.h"

enum {
    WORKERS = 8,
    SLOTS = 4096,
    MAILBOX = 1024,
    EPOCH_MS = 2000,
    MAX_SAMPLES = 1 << 16,
};

struct slot {
    unsigned char *p;
    size_t size;
};

static struct slot slots[WORKERS][SLOTS];
static struct slot mailbox[MAILBOX];
static unsigned mail_n;
static pthread_mutex_t mail_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int failed;
static int in_child; /* a fork child: the mailbox lock may be held by a thread it lacks */
static _Atomic uint64_t total_ops, total_helpers, total_forks, total_handoffs;
static uint64_t epoch_end_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fail(const char *what)
{
    failed = 1;
    write(2, what, strlen(what));
    write(2, "\n", 1);
}

/* The pattern: each of the first 32 bytes and the last one derive from the address. */
static unsigned char pat(const unsigned char *p, size_t i)
{
    return (unsigned char)(((uintptr_t)p >> 4) * 31u + i * 7u + 1u);
}

static void fill(unsigned char *p, size_t size)
{
    size_t n = size < 32 ? size : 32;
    for (size_t i = 0; i < n; i++)
        p[i] = pat(p, i);
    if (size > 32) p[size - 1] = pat(p, size - 1);
}

static int intact(const unsigned char *p, size_t size, const unsigned char *orig)
{
    size_t n = size < 32 ? size : 32;
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(orig, i)) return 0;
    return size <= 32 || orig != p || p[size - 1] == pat(orig, size - 1);
}

static size_t pick_size(uint64_t *r)
{
    uint64_t x = next(r) % 1000;
    if (x < 700) return 1 + next(r) % 512;
    if (x < 950) return 512 + next(r) % 8192;
    if (x < 998) return 8192 + next(r) % (128 * 1024);
    return 128 * 1024 + next(r) % (4u << 20); /* large and huge */
}

static void drop(struct slot *s)
{
    if (!s->p) return;
    if (!intact(s->p, s->size, s->p)) fail("soak: a block's pattern changed");
    hl_free(s->p);
    s->p = NULL;
}

static void *helper(void *arg)
{
    uint64_t r = (uint64_t)(uintptr_t)arg | 1;
    struct slot mine[64] = { { 0, 0 } };
    for (int i = 0; i < 2000; i++) {
        struct slot *s = &mine[next(&r) % 64];
        drop(s);
        s->size = 1 + next(&r) % 2048;
        s->p = hl_malloc(s->size);
        if (!s->p) {
            fail("soak: helper malloc failed");
            return NULL;
        }
        fill(s->p, s->size);
    }
    /* Half freed here, half handed on (freed later by other threads: this one has ended). */
    for (int i = 0; i < 64; i++) {
        if (i % 2) {
            drop(&mine[i]);
            continue;
        }
        if (in_child) {
            drop(&mine[i]);
            continue;
        }
        pthread_mutex_lock(&mail_lock);
        if (mail_n < MAILBOX && mine[i].p) {
            mailbox[mail_n++] = mine[i];
            mine[i].p = NULL;
        }
        pthread_mutex_unlock(&mail_lock);
        drop(&mine[i]);
    }
    return NULL;
}

static void fork_child_work(uint64_t r)
{
    in_child = 1;
    alarm(20);
    void *keep[256];
    for (int i = 0; i < 256; i++) {
        size_t size = 1 + next(&r) % 4096;
        keep[i] = hl_malloc(size);
        if (!keep[i]) _exit(3);
        fill(keep[i], size);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, helper, (void *)(uintptr_t)r) != 0) _exit(4);
    pthread_join(t, NULL);
    for (int i = 0; i < 256; i++)
        hl_free(keep[i]);
    _exit(failed ? 5 : 0);
}

static void *worker(void *arg)
{
    uintptr_t w = (uintptr_t)arg & 0xff;
    uint64_t r = ((uint64_t)(uintptr_t)arg >> 8) * 0x9e3779b97f4a7c15ULL | 1;
    uint64_t ops = 0;
    struct slot *mine = slots[w];
    while (!failed) {
        if ((ops & 255) == 0 && now_ns() >= epoch_end_ns) break;
        ops++;
        struct slot *s = &mine[next(&r) % SLOTS];
        uint64_t op = next(&r) % 1000;
        if (op < 400) { /* malloc or calloc */
            drop(s);
            s->size = pick_size(&r);
            s->p = op < 350 ? hl_malloc(s->size) : hl_calloc(1, s->size);
            if (!s->p) {
                fail("soak: malloc failed");
                break;
            }
            if (op >= 350)
                for (size_t i = 0; i < s->size; i += 4096 / 2)
                    if (s->p[i]) fail("soak: calloc memory not zero");
            fill(s->p, s->size);
        } else if (op < 700) {
            drop(s);
        } else if (op < 800) { /* realloc */
            if (!s->p) continue;
            size_t ns = next(&r) % 4 ? pick_size(&r) : s->size / 2 + 1;
            unsigned char *old = s->p;
            size_t keep = ns < s->size ? ns : s->size;
            keep = keep < 32 ? keep : 32;
            unsigned char *q = hl_realloc(s->p, ns);
            if (!q) {
                fail("soak: realloc failed");
                break;
            }
            for (size_t i = 0; i < keep; i++)
                if (q[i] != pat(old, i)) {
                    fail("soak: realloc lost the contents");
                    break;
                }
            s->p = q;
            s->size = ns;
            fill(q, ns);
        } else if (op < 850) { /* aligned */
            drop(s);
            size_t align = (size_t)16 << (next(&r) % 13); /* 16 B .. 64 KiB */
            s->size = 1 + next(&r) % 65536;
            s->p = hl_aligned_alloc(align, (s->size + align - 1) / align * align);
            if (!s->p || ((uintptr_t)s->p & (align - 1))) {
                fail("soak: aligned_alloc failed or misaligned");
                break;
            }
            fill(s->p, s->size);
        } else if (op < 990) { /* hand a block over, or take one */
            pthread_mutex_lock(&mail_lock);
            if (op < 920 && s->p && mail_n < MAILBOX) {
                mailbox[mail_n++] = *s;
                s->p = NULL;
            } else if (op >= 920 && mail_n > 0) {
                struct slot got = mailbox[--mail_n];
                pthread_mutex_unlock(&mail_lock);
                drop(s);
                *s = got;
                total_handoffs++;
                continue;
            }
            pthread_mutex_unlock(&mail_lock);
        } else if (op < 999) {
            if (next(&r) % 64 == 0) { /* a short helper thread */
                pthread_t t;
                if (pthread_create(&t, NULL, helper, (void *)(uintptr_t)next(&r)) == 0) {
                    pthread_join(t, NULL);
                    total_helpers++;
                }
            }
        } else if (w == 0 && next(&r) % 200 == 0) { /* fork, the other workers running */
            pid_t pid = fork();
            if (pid == 0) fork_child_work(next(&r));
            if (pid < 0) continue;
            int st = 0;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char msg[96];
                snprintf(msg, sizeof(msg), "soak: a fork child failed: %s %d",
                         WIFSIGNALED(st) ? "signal" : "exit status",
                         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                fail(msg);
            }
            total_forks++;
        }
    }
    total_ops += ops;
    return NULL;
}

static long rss_kib(void)
{
    long b = rss_bytes();
    return b < 0 ? -1 : b / 1024;
}

static long max_of(const long *v, size_t from, size_t to)
{
    long m = 0;
    for (size_t i = from; i < to; i++)
        if (v[i] > m) m = v[i];
    return m;
}

static long samples[MAX_SAMPLES];

int main(int argc, char **argv)
{
    double minutes = argc > 1 ? atof(argv[1]) : 30;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    uint64_t start = now_ns(), end = start + (uint64_t)(minutes * 60e9);
    size_t n = 0;
    uint64_t epochs = 0, checks = 0, threads = 0;
    printf("soak: %.1f minutes, %d workers, seed %llu\n", minutes, WORKERS,
           (unsigned long long)seed);
    fflush(stdout);
    while (!failed && now_ns() < end) {
        epoch_end_ns = now_ns() + (uint64_t)EPOCH_MS * 1000000u;
        pthread_t t[WORKERS];
        for (uintptr_t w = 0; w < WORKERS; w++) {
            uintptr_t arg = w | (uintptr_t)((seed * 1000003u + epochs * WORKERS + w) << 8);
            if (pthread_create(&t[w], NULL, worker, (void *)arg) != 0) {
                fail("soak: pthread_create failed");
                return 1;
            }
        }
        for (int w = 0; w < WORKERS; w++)
            pthread_join(t[w], NULL);
        threads += WORKERS;
        epochs++;
        int bad = hl_heap_check();
        checks++;
        if (bad) {
            printf("soak: hl_heap_check failed after epoch %llu: I%d\n", (unsigned long long)epochs,
                   bad);
            failed = 1;
        }
        long kib = rss_kib();
        if (n < MAX_SAMPLES) samples[n++] = kib;
        if (epochs % 30 == 0) {
            printf("soak: %5.1f min, epoch %llu, RSS %ld KiB, ops %llu, forks %llu\n",
                   (double)(now_ns() - start) / 60e9, (unsigned long long)epochs, kib,
                   (unsigned long long)total_ops, (unsigned long long)total_forks);
            fflush(stdout);
        }
    }
    threads += total_helpers;
    size_t warm = n / 5, third = (n - warm) / 3;
    long mid = max_of(samples, warm + third, warm + 2 * third);
    long last = max_of(samples, warm + 2 * third, n);
    long lo = n ? samples[warm] : 0;
    for (size_t i = warm; i < n; i++)
        if (samples[i] < lo) lo = samples[i];
    printf("soak: %llu epochs, %llu ops, %llu threads (%llu helpers), %llu forks, "
           "%llu hand-offs, %llu heap checks\n",
           (unsigned long long)epochs, (unsigned long long)total_ops, (unsigned long long)threads,
           (unsigned long long)total_helpers, (unsigned long long)total_forks,
           (unsigned long long)total_handoffs, (unsigned long long)checks);
    printf("soak: RSS after warm-up: min %ld KiB, max of middle third %ld KiB, max of last "
           "third %ld KiB (peak overall %ld KiB)\n",
           lo, mid, last, max_of(samples, 0, n));
    if (third == 0) {
        printf("soak: too short to judge RSS\n");
    } else if (last > mid + mid / 10) {
        printf("soak: FAIL: RSS grew (last third above middle third + 10%%)\n");
        failed = 1;
    }
    printf("soak: %s\n", failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
