/*
 * tests/unit/hlmalloc/test_fault.c: every OS call hlmalloc makes can fail, and each
 * failure becomes NULL with ENOMEM or a deferred retry: never a crash, a leak or a hang.
 *
 * Linked with hlmalloc_api_fault (HL_FAULT=1), where hl_os_fault_arm(N) makes the Nth
 * memory call from then on (mmap, munmap, madvise, mprotect; os.c) fail with ENOMEM.
 * A child process (this program re-executed, so it starts fresh) arms N and runs the
 * workload: blocks of every size class, large and huge blocks (calloc'd too), aligned
 * blocks up to a 64 MiB alignment, a realloc chain from 16 bytes to 20 MiB, then 4
 * threads that pass blocks to each other and free each other's. Every allocation that
 * fails must have set ENOMEM (a failed realloc must leave the block intact, checked by
 * its pattern); every block that was handed out is freed. Then, with nothing armed,
 * hl_collect() (which retries failed munmaps), and the checks: hl_heap_check() finds
 * every invariant holding (I9: the counters agree with the segments), and hl_stats shows
 * nothing allocated, no huge block and no segment left, no unmap pending. The parent
 * first counts the calls the workload makes (K), then sweeps N over 1..K + K/8 (the
 * threads make the count vary from run to run), two children at a time, each killed if
 * it runs past CHILD_TIMEOUT_S. The sweep runs again as under overcommit policy 2
 * (HLMALLOC_OVERCOMMIT=2: slices committed by mprotect, purges mapped PROT_NONE). It
 * prints how many failures became NULLs and how many were absorbed (retried).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hlmalloc/internal.h"
#include "unit/hlmalloc/hl_compat.h"
#include "unit/hlmalloc/resident.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum {
    THREADS = 4,
    THREAD_OPS = 1500,
    SHARED = 64,                  /* the threads' exchange slots */
    GIFTS = THREADS * THREAD_OPS, /* blocks handed on, at most */
    STACK_BYTES = 256 * 1024,
    HELD_MAX = 512, /* blocks the main thread holds */
    CHILD_TIMEOUT_S = 30,
    EXIT_CRASHLESS_BUT_WRONG = 3,
};

/* ---- the child: the workload --------------------------------------------------------- */

struct held {
    unsigned char *p;
    size_t size;
    unsigned char fill;
};

static struct held held[HELD_MAX];
static size_t nheld;
static _Atomic uint64_t nulls; /* allocations that failed (ENOMEM) */
static _Atomic uint64_t wrong; /* failures without ENOMEM, damaged blocks */
static _Atomic(struct held *) shared[SHARED];
static struct held gifts[GIFTS]; /* the blocks in the exchange (no C library malloc) */
static _Atomic unsigned ngifts;
static unsigned char *stacks[THREADS]; /* the threads' own, mapped before the run */
static pthread_barrier_t barrier;

static void note_failure(const char *what, size_t n)
{
    atomic_fetch_add(&nulls, 1);
    if (errno != ENOMEM) {
        fprintf(stderr, "  %s(%zu) failed with errno %d, not ENOMEM\n", what, n, errno);
        atomic_fetch_add(&wrong, 1);
    }
}

static void fill(struct held *h, unsigned char v)
{
    h->fill = v;
    memset(h->p, v, h->size < 4096 ? h->size : 4096);
    if (h->size > 4096) h->p[h->size - 1] = v;
}

static bool intact(const struct held *h)
{
    size_t n = h->size < 4096 ? h->size : 4096;
    for (size_t i = 0; i < n; i++)
        if (h->p[i] != h->fill) return false;
    return h->size <= 4096 || h->p[h->size - 1] == h->fill;
}

static void keep(void *p, size_t size, unsigned char v)
{
    if (!p || nheld == HELD_MAX) {
        hl_free(p);
        return;
    }
    held[nheld].p = p;
    held[nheld].size = size;
    fill(&held[nheld], v);
    nheld++;
}

static void *alloc(size_t n)
{
    errno = 0;
    void *p = hl_malloc(n);
    if (!p) note_failure("malloc", n);
    return p;
}

static void release(struct held *h)
{
    if (!intact(h)) {
        fprintf(stderr, "  block %p (%zu bytes) damaged\n", (void *)h->p, h->size);
        atomic_fetch_add(&wrong, 1);
    }
    hl_free(h->p);
    h->p = NULL;
}

static void *worker(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
    struct held mine[16];
    memset(mine, 0, sizeof(mine));
    for (int op = 0; op < THREAD_OPS; op++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        struct held *m = &mine[rng % 16];
        if (m->p) release(m);
        size_t size = (rng >> 8) % 100 == 0 ? 300 * KiB : 16 + (rng >> 16) % (20 * KiB);
        m->p = alloc(size);
        if (!m->p) continue;
        m->size = size;
        fill(m, (unsigned char)op);
        if (op % 3 == 0) { /* hand it on; free what another thread left */
            struct held *give = &gifts[atomic_fetch_add(&ngifts, 1) % GIFTS];
            *give = *m;
            m->p = NULL;
            give = atomic_exchange(&shared[(rng >> 24) % SHARED], give);
            if (give) release(give);
        }
    }
    for (int i = 0; i < 16; i++)
        if (mine[i].p) release(&mine[i]);
    /* Once every thread is done, free what was left in the exchange (each thread its
     * share), send blocks of other heaps home (foreign caches), and once every thread has,
     * take back what came home and give empty pages back: nothing is left, so the heaps
     * of the exited threads leave nothing behind (their blocks freed after they end would
     * stay in abandoned segments until another thread takes those up: issue 17 item 2). */
    pthread_barrier_wait(&barrier);
    for (int i = (int)(uintptr_t)arg - 1; i < SHARED; i += THREADS) {
        struct held *h = atomic_exchange(&shared[i], NULL);
        if (h) release(h);
    }
    pthread_barrier_wait(&barrier);
    hl_collect();
    pthread_barrier_wait(&barrier);
    hl_collect();
    return NULL;
}

static void workload(void)
{
    /* Every size class, one block freed of each. */
    for (unsigned b = 0; b < HL_BINS; b++) {
        keep(alloc(hl_bin_size(b)), hl_bin_size(b), (unsigned char)b);
        hl_free(alloc(hl_bin_size(b) - 1));
    }
    /* Large and huge blocks, calloc'd ones checked zero. */
    static const size_t big[] = { 200 * KiB, 3 * MiB, 15 * MiB, 20 * MiB, 48 * MiB };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        keep(alloc(big[i]), big[i], 0x11);
        errno = 0;
        unsigned char *z = hl_calloc(1, big[i]);
        if (!z) {
            note_failure("calloc", big[i]);
        } else {
            if (z[0] || z[big[i] / 2] || z[big[i] - 1]) atomic_fetch_add(&wrong, 1);
            hl_free(z);
        }
    }
    /* Aligned blocks, to a 64 MiB alignment. */
    for (size_t a = 64; a <= 64 * MiB; a *= 16) {
        void *p = &p;
        int rc = hl_posix_memalign(&p, a, 1000);
        if (rc != 0) {
            errno = rc;
            note_failure("posix_memalign", a);
            if (p != &p) atomic_fetch_add(&wrong, 1);
            continue;
        }
        if ((uintptr_t)p & (a - 1)) atomic_fetch_add(&wrong, 1);
        keep(p, 1000, 0x22);
        errno = 0;
        void *q = hl_aligned_alloc(a, 3 * MiB);
        if (!q)
            note_failure("aligned_alloc", a);
        else
            keep(q, 3 * MiB, 0x33);
    }
    /* A realloc chain through every range; a failure leaves the block as it was. */
    struct held r = { .p = alloc(16), .size = 16 };
    if (r.p) fill(&r, 0x44);
    for (size_t n = 40; r.p && n <= 20 * MiB; n = n * 5 / 2) {
        errno = 0;
        unsigned char *q = hl_realloc(r.p, n);
        if (!q) {
            note_failure("realloc", n);
            if (!intact(&r)) atomic_fetch_add(&wrong, 1);
            continue;
        }
        r.p = q;
        if (!intact(&r)) atomic_fetch_add(&wrong, 1);
        r.size = n;
        fill(&r, (unsigned char)n);
    }
    if (r.p) release(&r);
    /* Freed, purged, calloc'd again: the slices come back from the OS as zero, or (the
     * purge failed) they are cleared. */
    for (size_t n = 300 * KiB; n <= 3 * MiB; n *= 10) {
        unsigned char *p = alloc(n);
        if (!p) continue;
        memset(p, 0xab, n);
        hl_free(p);
        hl_collect();
        errno = 0;
        unsigned char *z = hl_calloc(1, n);
        if (!z) {
            note_failure("calloc", n);
            continue;
        }
        for (size_t i = 0; i < n; i += 64)
            if (z[i]) {
                fprintf(stderr, "  calloc(%zu) after a purge: byte %zu is %#x\n", n, i, z[i]);
                atomic_fetch_add(&wrong, 1);
                break;
            }
        hl_free(z);
    }
    /* Threads passing blocks to each other, on stacks of the test's (the C library keeps
     * the stacks it maps for threads after they end). */
    pthread_t t[THREADS];
    int started = 0;
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, stacks[i], STACK_BYTES);
        started += pthread_create(&t[i], &attr, worker, (void *)(uintptr_t)(i + 1)) == 0;
        pthread_attr_destroy(&attr);
    }
    if (started != THREADS) _exit(EXIT_CRASHLESS_BUT_WRONG); /* not hlmalloc's doing */
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    while (nheld > 0)
        release(&held[--nheld]);
}

/* Run the workload with the nth call armed; print "calls fired nulls pending" and exit
 * 0 if everything held, EXIT_CRASHLESS_BUT_WRONG if not. The address space the process
 * gained must be what hl_stats says hlmalloc has mapped: nothing else maps memory once
 * the run starts (the C library's heap is grown beforehand and not trimmed, the threads
 * run on stacks mapped beforehand, the purger is off), so a mapping hlmalloc forgot
 * about (an unmap that failed, counted as done) shows. */
static int child(uint64_t nth)
{
    alarm(CHILD_TIMEOUT_S);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    void *volatile warm = malloc(4096); /* grows the heap now (volatile: not elided) */
    free(warm);
    for (int i = 0; i < THREADS; i++) {
        stacks[i] =
                mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (stacks[i] == MAP_FAILED) return EXIT_CRASHLESS_BUT_WRONG;
    }
    long vm0 = statm_bytes(0);
    hl_os_fault_arm(nth);
    workload();
    uint64_t calls = hl_os_fault_calls(), fired = hl_os_fault_count();
    size_t pending = hl_os_unmaps_pending();
    hl_os_fault_arm(0);
    hl_collect();
    int bad = 0;
    if (atomic_load(&wrong)) bad |= 1;
    int inv = hl_heap_check();
    if (inv) bad |= 2;
    struct hl_stats st;
    hl_stats(&st);
    if (st.allocated_bytes != 0 || st.huge_blocks != 0 || st.segments != 0
        || hl_os_unmaps_pending() != 0)
        bad |= 4;
    long gained = statm_bytes(0) - vm0;
    if (gained != (long)st.mapped_bytes && !HL_TEST_SANITIZED) bad |= 8; /* they map too */
    if (bad)
        fprintf(stderr,
                "  N=%llu: wrong %llu, I%d, allocated %llu, huge %llu, segments %llu, "
                "unmaps pending %zu, address space gained %ld, mapped_bytes %llu\n",
                (unsigned long long)nth, (unsigned long long)atomic_load(&wrong), inv,
                (unsigned long long)st.allocated_bytes, (unsigned long long)st.huge_blocks,
                (unsigned long long)st.segments, hl_os_unmaps_pending(), gained,
                (unsigned long long)st.mapped_bytes);
    printf("%llu %llu %llu %zu\n", (unsigned long long)calls, (unsigned long long)fired,
           (unsigned long long)atomic_load(&nulls), pending);
    fflush(stdout);
    return bad ? EXIT_CRASHLESS_BUT_WRONG : 0;
}

/* ---- the parent: the sweep ----------------------------------------------------------- */

static const char *self_path = "/proc/self/exe";

struct run {
    pid_t pid;
    int out; /* read end of the child's stdout */
    uint64_t nth;
    double started;
};

struct tally {
    uint64_t runs, fired, null_runs, deferred_runs, crashed, hung, wrong, max_calls;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(struct run *r, uint64_t nth, bool commit)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    r->nth = nth;
    r->started = now_s();
    r->pid = fork();
    if (r->pid < 0) return -1;
    if (r->pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        setenv("HLMALLOC_PURGE_DELAY", "2", 1); /* purges (madvise) during the run too */
        setenv("HLMALLOC_PURGE_THREAD", "0", 1);
        if (commit) setenv("HLMALLOC_OVERCOMMIT", "2", 1);
        char arg[32];
        snprintf(arg, sizeof(arg), "%llu", (unsigned long long)nth);
        char *const argv[] = { (char *)self_path, (char *)"--child", arg, NULL };
        execv(self_path, argv);
        _exit(127);
    }
    close(fd[1]);
    r->out = fd[0];
    return 0;
}

/* Add the outcome of run r, ended with wait status st, to t. */
static void account(struct run *r, int st, struct tally *t)
{
    char buf[128] = { 0 };
    ssize_t n = read(r->out, buf, sizeof(buf) - 1);
    close(r->out);
    unsigned long long calls = 0, fired = 0, nulls_seen = 0;
    size_t pending = 0;
    bool parsed =
            n > 0 && sscanf(buf, "%llu %llu %llu %zu", &calls, &fired, &nulls_seen, &pending) == 4;
    t->runs++;
    if (WIFSIGNALED(st)) {
        bool hang = WTERMSIG(st) == SIGALRM || WTERMSIG(st) == SIGKILL;
        if (hang)
            t->hung++;
        else
            t->crashed++;
        fprintf(stderr, "  N=%llu: %s (signal %d)\n", (unsigned long long)r->nth,
                hang ? "hung" : "crashed", WTERMSIG(st));
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !parsed) {
        t->wrong++;
        fprintf(stderr, "  N=%llu: exit status %d\n", (unsigned long long)r->nth,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return;
    }
    if (calls > t->max_calls) t->max_calls = calls;
    t->fired += fired;
    t->null_runs += fired && nulls_seen;
    t->deferred_runs += fired && !nulls_seen;
}

/* Has run r ended (killed past the timeout)? If so its outcome is added to t. */
static bool poll_run(struct run *r, struct tally *t)
{
    int st = 0;
    pid_t w = waitpid(r->pid, &st, WNOHANG);
    if (w == 0) {
        if (now_s() - r->started <= CHILD_TIMEOUT_S + 5) return false;
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &st, 0);
    }
    account(r, st, t);
    return true;
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run children for nth = first, first + step, ... <= last, two at a time. */
static void sweep(uint64_t first, uint64_t last, uint64_t step, bool commit, struct tally *t)
{
    struct run slot[2];
    bool busy[2] = { false, false };
    uint64_t n = first;
    while (n <= last || busy[0] || busy[1]) {
        for (int k = 0; k < 2; k++) {
            if (busy[k] && poll_run(&slot[k], t)) busy[k] = false;
            if (!busy[k] && n <= last) {
                busy[k] = start(&slot[k], n, commit) == 0;
                n += step;
            }
        }
        pause_ms(1);
    }
}

/* The calls the workload makes with nothing armed to fail (arming past the end counts):
 * the most of three runs, or 0 if one went wrong. */
static uint64_t count_calls(bool commit)
{
    struct tally t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < 3; i++) {
        struct run r;
        if (start(&r, UINT64_MAX, commit) != 0) return 0;
        while (!poll_run(&r, &t))
            pause_ms(2);
    }
    return t.wrong || t.crashed || t.hung ? 0 : t.max_calls;
}

static void sweep_mode(bool commit, uint64_t step)
{
    uint64_t k = count_calls(commit);
    REQUIRE(k > 0);
    struct tally t;
    memset(&t, 0, sizeof(t));
    double t0 = now_s();
    sweep(1, k + k / 8, step, commit, &t);
    printf("%s: %llu memory calls; %llu runs, each failing call N (every %llu), in %.1f s: "
           "%llu failures fired, %llu runs saw NULL/ENOMEM, %llu runs only deferred "
           "retries; %llu crashed, %llu hung, %llu wrong\n",
           commit ? "as under overcommit 2" : "default", (unsigned long long)k,
           (unsigned long long)t.runs, (unsigned long long)step, now_s() - t0,
           (unsigned long long)t.fired, (unsigned long long)t.null_runs,
           (unsigned long long)t.deferred_runs, (unsigned long long)t.crashed,
           (unsigned long long)t.hung, (unsigned long long)t.wrong);
    fflush(stdout);
    CHECK(t.crashed == 0);
    CHECK(t.hung == 0);
    CHECK(t.wrong == 0);
    CHECK(t.fired >= k / step / 2);                   /* the armed calls were reached */
    CHECK(t.deferred_runs > 0);                       /* some failures are absorbed ... */
    if (!commit && step == 1) CHECK(t.null_runs > 0); /* ... some surface (7 in 100) */
}

/* Every N; under a sanitizer (five times slower) every fourth. */
#define SWEEP_STEP (HL_TEST_SANITIZED ? 4 : 1)

static void test_fault_every_call_fails_safely(void)
{
    sweep_mode(false, SWEEP_STEP);
}

static void test_fault_every_call_fails_safely_committing(void)
{
    sweep_mode(true, SWEEP_STEP);
}

int main(int argc, char **argv)
{
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        self_path = exe;
    }
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(strtoull(argv[2], NULL, 10));
    RUN_TEST(test_fault_every_call_fails_safely);
    RUN_TEST(test_fault_every_call_fails_safely_committing);
    return check_report();
}
