/*
 * tests/unit/hlmalloc/test_stress.c: hlmalloc under threads, through the hl_ API only (so it
 * runs under ASan and TSan). Every block is filled with a pattern derived from its address
 * and size and checked before it is freed or reallocated.
 *   workers  T threads of random malloc/calloc/realloc/aligned allocs and (sized) frees,
 *            1 B to 1 MiB, mostly small, handing blocks to each other through lock-free
 *            mailboxes so a good share of frees land on another thread;
 *   churn    short-lived threads allocate, hand blocks on and exit; later threads and the
 *            main thread free them;
 *   fork     fork while other threads allocate; parent and child both allocate and free,
 *            the child checks and frees the blocks it inherited.
 * The seed is printed; `test_hlmalloc_stress SEED` reruns one. alarm() bounds every process.
 * After each multi-threaded part, with the threads joined, hl_heap_check() must find every
 * invariant holding (and the -debug build checks each thread's heap as it goes).
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"
#include "unit/hlmalloc/pattern.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum {
    WORKERS = 4,
    LIVE_MAX = 256,     /* blocks a worker holds at once */
    SLOTS = 128,        /* the churn threads' exchange array */
    MAIL_SLOTS = 1024,  /* a worker's mailbox: room for a time slice of hand-offs */
    CHURN_THREADS = 48, /* short-lived threads, WAVE at a time */
    WAVE = 4,
    CHURN_BLOCKS = 150, /* blocks each churn thread allocates */
    ORPHANS_MAX = 4096, /* blocks left behind by exited threads */
    FORKS = 4,
    BUSY_THREADS = 3,    /* allocating while the main thread forks */
    INHERITED_MAX = 512, /* blocks the fork children check */
    ALARM_SECONDS = 100, /* the whole test; a child gets CHILD_ALARM_SECONDS */
    CHILD_ALARM_SECONDS = 20,
};

/* Ops per worker: scaled down under sanitizers (TSan on 2 cores must finish in < 20 s). */
#define WORKER_OPS (HL_TEST_SANITIZED ? 12000 : 200000)

enum blk_kind { KIND_MALLOC, KIND_CALLOC, KIND_ALIGNED_ALLOC, KIND_POSIX_MEMALIGN, KIND_MEMALIGN };

struct blk {
    unsigned char *p;
    size_t size;  /* requested bytes, all filled */
    size_t align; /* requested alignment, 0 for none */
    int kind;     /* enum blk_kind: which frees are allowed */
    int owner;    /* thread that allocated it (-1: main) */
};

static uint64_t base_seed = 20240601;
static atomic_int failures;
static _Atomic(struct blk *) slots[SLOTS];                 /* churn threads: anyone to anyone */
static _Atomic(struct blk *) mailbox[WORKERS][MAIL_SLOTS]; /* workers: others to me */

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (atomic_fetch_add(&failures, 1) >= 20) return; /* enough to go on */
    /* One write: no stdio lock, so a fork child can report too. */
    size_t n = strlen(line);
    if (n < sizeof(line) - 1) line[n++] = '\n';
    if (write(2, line, n) < 0) return;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* 1 B to 1 MiB, mostly small: 80% <= 128 B, 15% <= 4 KiB, 4% <= 64 KiB, 1% to 1 MiB. */
static size_t random_size(uint64_t *s)
{
    size_t r = rng_below(s, 1000);
    if (r < 800) return 1 + rng_below(s, 128);
    if (r < 950) return 129 + rng_below(s, 4 * KiB - 128);
    if (r < 990) return 4 * KiB + 1 + rng_below(s, 60 * KiB);
    if (r < 998) return 64 * KiB + 1 + rng_below(s, 192 * KiB);
    return 256 * KiB + 1 + rng_below(s, 768 * KiB);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 if b is intact: aligned, big enough and still holding its pattern. */
static int blk_check(const struct blk *b, const char *when)
{
    uintptr_t a = (uintptr_t)b->p;
    if ((a & 15) || (b->align && (a & (b->align - 1)))) {
        fail("%s: %p (align %zu) misaligned", when, (void *)b->p, b->align);
        return 0;
    }
    if (hl_usable_size(b->p) < b->size) {
        fail("%s: %p usable %zu < size %zu", when, (void *)b->p, hl_usable_size(b->p), b->size);
        return 0;
    }
    if (!pattern_check(b->p, b->size, pattern_seed(b->p, b->size))) {
        fail("%s: %p size %zu (thread %d) pattern overwritten", when, (void *)b->p, b->size,
             b->owner);
        return 0;
    }
    return 1;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* A new block of a random size and kind, filled; b->p NULL if allocation failed. */
static void blk_alloc(struct blk *b, uint64_t *rng, int owner)
{
    size_t size = random_size(rng), r = rng_below(rng, 100);
    b->size = size;
    b->align = 0;
    b->owner = owner;
    if (r < 70) {
        b->kind = KIND_MALLOC;
        b->p = hl_malloc(size);
    } else if (r < 85) {
        b->kind = KIND_CALLOC;
        size_t unit = 1 + rng_below(rng, 16);
        b->size = (size + unit - 1) / unit * unit;
        b->p = hl_calloc(b->size / unit, unit);
        if (b->p && !all_zero(b->p, b->size))
            fail("calloc(%zu, %zu) = %p not zeroed", b->size / unit, unit, (void *)b->p);
    } else {
        /* 16 B to 4 KiB usually, 64 KiB now and then. */
        b->align = rng_below(rng, 20) == 0 ? 64 * KiB : (size_t)16 << rng_below(rng, 9);
        b->kind = KIND_ALIGNED_ALLOC + (int)rng_below(rng, 3);
        if (b->kind == KIND_ALIGNED_ALLOC) {
            b->p = hl_aligned_alloc(b->align, size);
        } else if (b->kind == KIND_POSIX_MEMALIGN) {
            void *p = NULL;
            int rc = hl_posix_memalign(&p, b->align, size);
            if (rc != 0) fail("posix_memalign(%zu, %zu) = %d", b->align, size, rc);
            b->p = p;
        } else {
            b->p = hl_memalign(b->align, size);
        }
    }
    if (!b->p) {
        fail("allocation of %zu bytes (align %zu) failed", b->size, b->align);
        return;
    }
    pattern_fill(b->p, b->size, pattern_seed(b->p, b->size));
}

/* Checks and frees b with a free that its kind allows, chosen at random. */
static void blk_free(const struct blk *b, uint64_t *rng)
{
    blk_check(b, "free");
    size_t r = rng_below(rng, 3);
    if (r == 0 && (b->kind == KIND_MALLOC || b->kind == KIND_CALLOC))
        hl_free_sized(b->p, b->size);
    else if (r == 0 && b->kind == KIND_ALIGNED_ALLOC)
        hl_free_aligned_sized(b->p, b->align, b->size);
    else
        hl_free(b->p);
}

/* Reallocates b to a random size; the kept prefix must hold the old pattern. */
static void blk_realloc(struct blk *b, uint64_t *rng)
{
    if (!blk_check(b, "realloc")) return;
    size_t size = random_size(rng), keep = size < b->size ? size : b->size;
    uint64_t old_seed = pattern_seed(b->p, b->size);
    unsigned char *q = hl_realloc(b->p, size);
    if (!q) {
        fail("realloc(%p, %zu) failed", (void *)b->p, size);
        return;
    }
    if (!pattern_check(q, keep, old_seed))
        fail("realloc %zu -> %zu (%p -> %p) lost contents", b->size, size, (void *)b->p, (void *)q);
    b->p = q;
    b->size = size;
    b->align = 0;
    b->kind = KIND_MALLOC;
    pattern_fill(q, size, pattern_seed(q, size));
}

/*
 * Puts *b in a random slot and returns what was there (NULL if empty). The record travels
 * as an hl_malloc block too. acq_rel: the release publishes the block's pattern and the
 * record to whoever takes it; the acquire pairs with the release of the one who left it.
 */
static struct blk *slot_swap(const struct blk *b, uint64_t *rng)
{
    struct blk *rec = NULL;
    if (b) {
        rec = hl_malloc(sizeof(*rec));
        if (!rec) {
            fail("malloc(%zu) failed", sizeof(*rec));
            return NULL;
        }
        *rec = *b;
    }
    return atomic_exchange_explicit(&slots[rng_below(rng, SLOTS)], rec, memory_order_acq_rel);
}

/* Takes a record from the exchange: its block into *out, the record freed. 0 if none. */
static int slot_take(struct blk *rec, struct blk *out)
{
    if (!rec) return 0;
    *out = *rec;
    hl_free(rec);
    return 1;
}

struct worker {
    int id;
    uint64_t rng;
    struct blk live[LIVE_MAX];
    int n_live;
    uint64_t frees, cross_frees, allocs, reallocs, given;
};

/*
 * Offers b to another worker: into an empty slot of its mailbox (a few tried), so every
 * hand-off crosses threads however the threads are scheduled. 1 if given. The release
 * publishes the block's pattern and the record to the taker's acquire.
 */
static int mail_give(struct worker *w, const struct blk *b)
{
    int to = (w->id + 1 + (int)rng_below(&w->rng, WORKERS - 1)) % WORKERS;
    struct blk *rec = hl_malloc(sizeof(*rec));
    if (!rec) {
        fail("malloc(%zu) failed", sizeof(*rec));
        return 0;
    }
    *rec = *b;
    for (int tries = 0; tries < 4; tries++) {
        struct blk *empty = NULL;
        if (atomic_compare_exchange_strong_explicit(&mailbox[to][rng_below(&w->rng, MAIL_SLOTS)],
                                                    &empty, rec, memory_order_release,
                                                    memory_order_relaxed))
            return 1;
    }
    hl_free(rec);
    return 0;
}

/* Takes a block another worker left in w's mailbox (a few slots tried). 1 if one. */
static int mail_take(struct worker *w, struct blk *out)
{
    for (int tries = 0; tries < 4; tries++) {
        _Atomic(struct blk *) *slot = &mailbox[w->id][rng_below(&w->rng, MAIL_SLOTS)];
        /* acquire: pairs with the giver's release */
        if (atomic_load_explicit(slot, memory_order_relaxed)
            && slot_take(atomic_exchange_explicit(slot, NULL, memory_order_acquire), out))
            return 1;
    }
    return 0;
}

static pthread_barrier_t start_line;

static void worker_free_at(struct worker *w, int i)
{
    struct blk b = w->live[i];
    w->live[i] = w->live[--w->n_live];
    w->frees++;
    w->cross_frees += b.owner != w->id;
    blk_free(&b, &w->rng);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&start_line);
    for (long op = 0; op < WORKER_OPS; op++) {
        size_t r = rng_below(&w->rng, 100);
        if (r < 35 && w->n_live < LIVE_MAX) {
            blk_alloc(&w->live[w->n_live], &w->rng, w->id);
            w->n_live += w->live[w->n_live].p != NULL;
            w->allocs++;
        } else if (r < 70 && w->n_live > 0) {
            worker_free_at(w, (int)rng_below(&w->rng, (size_t)w->n_live));
        } else if (r < 82 && w->n_live > 0) {
            blk_realloc(&w->live[rng_below(&w->rng, (size_t)w->n_live)], &w->rng);
            w->reallocs++;
        } else {
            /* Give one of ours to another worker; take one given to us. */
            if (w->n_live > 0) {
                int i = (int)rng_below(&w->rng, (size_t)w->n_live);
                if (mail_give(w, &w->live[i])) {
                    w->live[i] = w->live[--w->n_live];
                    w->given++;
                }
            }
            struct blk got;
            if (w->n_live == LIVE_MAX) worker_free_at(w, (int)rng_below(&w->rng, LIVE_MAX));
            if (mail_take(w, &got) && blk_check(&got, "handed over")) w->live[w->n_live++] = got;
        }
    }
    while (w->n_live > 0)
        worker_free_at(w, w->n_live - 1);
    return NULL;
}

/* Main thread: frees every block left in an exchange array of n slots. */
static void slots_drain(_Atomic(struct blk *) *slot, int n)
{
    uint64_t rng = base_seed;
    for (int i = 0; i < n; i++) {
        struct blk b;
        if (slot_take(atomic_exchange_explicit(&slot[i], NULL, memory_order_acq_rel), &b))
            blk_free(&b, &rng);
    }
}

static uint64_t allocated_now(void)
{
    struct hl_stats st;
    hl_collect();
    hl_stats(&st);
    return st.allocated_bytes;
}

static void test_stress_workers_hand_blocks_across_threads(void)
{
    static struct worker w[WORKERS];
    pthread_t t[WORKERS];
    double t0 = now_s();
    pthread_barrier_init(&start_line, NULL, WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].id = i;
        w[i].rng = base_seed * 1000 + (uint64_t)i;
        REQUIRE(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    uint64_t frees = 0, cross = 0, allocs = 0, reallocs = 0, given = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        frees += w[i].frees;
        cross += w[i].cross_frees;
        allocs += w[i].allocs;
        reallocs += w[i].reallocs;
        given += w[i].given;
    }
    pthread_barrier_destroy(&start_line);
    for (int i = 0; i < WORKERS; i++)
        slots_drain(mailbox[i], MAIL_SLOTS); /* what was given to a worker after it finished */
    printf("workers: %d x %d ops, %llu allocs, %llu reallocs, %llu hand-offs, %llu frees "
           "(%llu on another thread) in %.2f s\n",
           WORKERS, WORKER_OPS, (unsigned long long)allocs, (unsigned long long)reallocs,
           (unsigned long long)given, (unsigned long long)frees, (unsigned long long)cross,
           now_s() - t0);
    /* A good share of frees crossed threads: 19-27% in 20 runs on this machine, which
     * depends on how the workers are scheduled; a tenth is the floor. */
    CHECK(cross * 10 >= frees);
    CHECK(atomic_load(&failures) == 0);
    CHECK(hl_heap_check() == 0); /* the workers have ended: the whole heap is stable */
}

/*
 * A small block freed on a thread that does not own it stays with that thread (its foreign
 * cache) and is what that thread's next malloc of the size returns; what overflows the
 * cache, and what is left in it when the thread exits, goes back to the owner's pages.
 */
enum { FOREIGN_BLOCKS = 600, FOREIGN_SIZE = 48 };
static void *foreign_blocks[FOREIGN_BLOCKS];

struct foreign_result {
    int reused;            /* the thread's malloc returned one of the blocks it freed */
    uint64_t double_frees; /* the counter went up by this on a second free of one */
};

static void *foreign_freer_main(void *arg)
{
    struct foreign_result *r = arg;
    hl_free(hl_malloc(1000)); /* a heap: a thread that has never allocated keeps nothing */
    for (int i = 0; i < FOREIGN_BLOCKS; i++) {
        CHECK(pattern_check(foreign_blocks[i], FOREIGN_SIZE, 7));
        hl_free(foreign_blocks[i]); /* several cache overflows on the way */
    }
    void *q = hl_malloc(FOREIGN_SIZE); /* this thread has no page of the size yet */
    for (int i = 0; i < FOREIGN_BLOCKS; i++)
        if (q == foreign_blocks[i]) r->reused = 1;
    hl_free(q);
    if (!HL_TEST_LIBC) {
        struct hl_stats a, b;
        hl_stats(&a);
        hl_free(q); /* still in this thread's cache: the cookie gives it away */
        hl_stats(&b);
        r->double_frees = b.double_frees - a.double_frees;
    }
    return NULL; /* at exit the cache goes home */
}

static void test_stress_block_freed_on_another_thread_serves_that_thread(void)
{
    uint64_t before = allocated_now();
    for (int i = 0; i < FOREIGN_BLOCKS; i++) {
        foreign_blocks[i] = hl_malloc(FOREIGN_SIZE);
        REQUIRE(foreign_blocks[i] != NULL);
        pattern_fill(foreign_blocks[i], FOREIGN_SIZE, 7);
    }
    struct foreign_result r = { 0, 0 };
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, foreign_freer_main, &r) == 0);
    pthread_join(t, NULL);
    CHECK(r.reused);
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's counters");
    CHECK_EQ_U64(r.double_frees, 1);
    /* Every block is back on its page and collected: nothing parked in the dead heap. */
    CHECK_EQ_U64(allocated_now(), before);
}

/* Blocks left by exited threads, for later threads (and the main thread) to free. */
static struct {
    pthread_mutex_t lock;
    struct blk b[ORPHANS_MAX];
    int n;
} orphans = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct churn_arg {
    int id;
    uint64_t freed_foreign;
};

static void *churn_main(void *arg)
{
    struct churn_arg *c = arg;
    uint64_t rng = base_seed * 7919 + (uint64_t)c->id;
    struct blk mine[CHURN_BLOCKS];
    int n = 0;
    for (int i = 0; i < CHURN_BLOCKS; i++) {
        blk_alloc(&mine[n], &rng, 100 + c->id);
        n += mine[n].p != NULL;
    }
    /* Free up to a hundred blocks of threads that have exited. */
    for (int k = 0; k < 100; k++) {
        struct blk b;
        pthread_mutex_lock(&orphans.lock);
        int have = orphans.n > 0;
        if (have) b = orphans.b[--orphans.n];
        pthread_mutex_unlock(&orphans.lock);
        if (!have) break;
        c->freed_foreign++;
        blk_free(&b, &rng);
    }
    /* A third through the exchange, a third left behind, a third freed here. */
    for (int i = 0; i < n; i++) {
        struct blk got;
        int left = 0;
        if (i % 3 == 1) {
            pthread_mutex_lock(&orphans.lock);
            left = orphans.n < ORPHANS_MAX;
            if (left) orphans.b[orphans.n++] = mine[i];
            pthread_mutex_unlock(&orphans.lock);
        }
        if (i % 3 == 0) {
            if (slot_take(slot_swap(&mine[i], &rng), &got)) {
                c->freed_foreign += got.owner != 100 + c->id;
                blk_free(&got, &rng);
            }
        } else if (!left) {
            blk_free(&mine[i], &rng);
        }
    }
    return NULL;
}

static void test_stress_thread_churn_frees_blocks_of_exited_threads(void)
{
    static struct churn_arg args[CHURN_THREADS];
    double t0 = now_s();
    uint64_t base = allocated_now(), freed_foreign = 0;
    for (int i = 0; i < CHURN_THREADS; i += WAVE) {
        pthread_t t[WAVE];
        for (int k = 0; k < WAVE; k++) {
            args[i + k].id = i + k;
            REQUIRE(pthread_create(&t[k], NULL, churn_main, &args[i + k]) == 0);
        }
        for (int k = 0; k < WAVE; k++)
            pthread_join(t[k], NULL);
    }
    for (int i = 0; i < CHURN_THREADS; i++)
        freed_foreign += args[i].freed_foreign;
    /* The main thread frees the rest: blocks of threads that are all gone. */
    uint64_t rng = base_seed;
    int left = orphans.n;
    while (orphans.n > 0)
        blk_free(&orphans.b[--orphans.n], &rng);
    slots_drain(slots, SLOTS);
    printf("churn: %d threads (%d at a time), %llu blocks freed by a later thread, %d by main "
           "in %.2f s\n",
           CHURN_THREADS, WAVE, (unsigned long long)freed_foreign, left, now_s() - t0);
    CHECK(freed_foreign > 0 && left > 0);
    CHECK(atomic_load(&failures) == 0);
    CHECK(hl_heap_check() == 0);
    if (HL_TEST_LIBC) return;
    /* Nothing leaked and the heaps of exited threads are not kept alive. */
    struct hl_stats st;
    uint64_t after = allocated_now();
    hl_stats(&st);
    if (after > base + MiB) {
        fprintf(stderr, "  allocated_bytes %llu before churn, %llu after all was freed\n",
                (unsigned long long)base, (unsigned long long)after);
        CHECK(0);
    }
    CHECK(st.threads <= 1 + WAVE);
}

/* Fork while BUSY_THREADS allocate. */
static atomic_int busy_stop;
static struct {
    pthread_mutex_t lock;
    struct blk b[INHERITED_MAX];
    int n;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *busy_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = base_seed * 31 + (uint64_t)id;
    struct blk live[64];
    int n = 0;
    for (long op = 0; !atomic_load_explicit(&busy_stop, memory_order_relaxed); op++) {
        if (n < 64 && rng_below(&rng, 2) == 0) {
            blk_alloc(&live[n], &rng, 200 + id);
            n += live[n].p != NULL;
        } else if (n > 0) {
            int i = (int)rng_below(&rng, (size_t)n);
            struct blk b = live[i];
            live[i] = live[--n];
            /* Every so often give a block to the main thread (and so to the children). */
            pthread_mutex_lock(&pool.lock);
            int kept = op % 8 == 0 && pool.n < INHERITED_MAX;
            if (kept) pool.b[pool.n++] = b;
            pthread_mutex_unlock(&pool.lock);
            if (!kept) blk_free(&b, &rng);
        }
    }
    while (n > 0)
        blk_free(&live[--n], &rng);
    return NULL;
}

/* In the child: only what the main thread owned, no locks other threads might hold. */
static int child_main(struct blk *inherited, int n, uint64_t seed)
{
    uint64_t rng = seed;
    alarm(CHILD_ALARM_SECONDS);
    for (int i = 0; i < n; i++)
        blk_check(&inherited[i], "child: inherited");
    for (int i = 0; i < n; i += 2)
        blk_free(&inherited[i], &rng); /* blocks of threads that do not exist here */
    for (int i = 1; i < n; i += 4)
        blk_realloc(&inherited[i], &rng);
    enum { N = 600 };
    static struct blk fresh[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            blk_alloc(&fresh[i], &rng, -2);
        for (int i = 0; i < N; i++)
            if (fresh[i].p) blk_free(&fresh[i], &rng);
    }
    for (int i = 1; i < n; i += 2)
        blk_free(&inherited[i], &rng);
    hl_collect();
    return atomic_load(&failures) == 0 ? 0 : 1;
}

static void test_stress_fork_while_threads_allocate(void)
{
    static struct blk mine[INHERITED_MAX * 2];
    pthread_t t[BUSY_THREADS];
    uint64_t rng = base_seed * 131;
    double t0 = now_s();
    int n = 0;
    for (int i = 0; i < INHERITED_MAX / 2; i++) {
        blk_alloc(&mine[n], &rng, -1);
        n += mine[n].p != NULL;
    }
    atomic_store(&busy_stop, 0);
    for (int i = 0; i < BUSY_THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, busy_main, (void *)(intptr_t)i) == 0);
    int children_ok = 0;
    for (int f = 0; f < FORKS; f++) {
        struct timespec pause = { 0, 5 * 1000 * 1000 };
        nanosleep(&pause, NULL);
        /* Take over the busy threads' gifts, so the child needs no lock they may hold. */
        pthread_mutex_lock(&pool.lock);
        while (pool.n > 0 && n < INHERITED_MAX * 2)
            mine[n++] = pool.b[--pool.n];
        pthread_mutex_unlock(&pool.lock);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) _exit(child_main(mine, n, rng + (uint64_t)f));
        /* The parent keeps allocating while the child runs. */
        for (int k = 0; k < 200; k++) {
            struct blk b;
            blk_alloc(&b, &rng, -1);
            if (b.p) blk_free(&b, &rng);
        }
        int status = 0;
        pid_t w = waitpid(pid, &status, 0);
        if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            children_ok++;
        else
            fprintf(stderr, "  fork %d: child %s %d\n", f,
                    WIFSIGNALED(status) ? "killed by signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    atomic_store(&busy_stop, 1);
    for (int i = 0; i < BUSY_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&pool.lock);
    while (pool.n > 0)
        blk_free(&pool.b[--pool.n], &rng);
    pthread_mutex_unlock(&pool.lock);
    while (n > 0)
        blk_free(&mine[--n], &rng);
    printf("fork: %d children from %d allocating threads, %d exited 0, in %.2f s\n", FORKS,
           BUSY_THREADS, children_ok, now_s() - t0);
    CHECK_EQ_U64(children_ok, FORKS);
    CHECK(atomic_load(&failures) == 0);
}

int main(int argc, char **argv)
{
    if (argc > 1) base_seed = strtoull(argv[1], NULL, 0);
    printf("seed %llu%s\n", (unsigned long long)base_seed,
           HL_TEST_SANITIZED ? " (sanitizer build: scaled down)" : "");
    fflush(stdout); /* before any fork */
    alarm(ALARM_SECONDS);
    RUN_TEST(test_stress_block_freed_on_another_thread_serves_that_thread);
    RUN_TEST(test_stress_workers_hand_blocks_across_threads);
    RUN_TEST(test_stress_thread_churn_frees_blocks_of_exited_threads);
    fflush(stdout);
    RUN_TEST(test_stress_fork_while_threads_allocate);
    return check_report();
}
