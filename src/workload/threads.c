/*
 * workload/threads.c: multithreaded patterns: thread-local, producer-consumer, shared-pool,
 * thread-churn, server.
 *
 * thread-local is WL_PER_THREAD (no object crosses threads). producer-consumer,
 * shared-pool, thread-churn and server are WL_SHARED: one call emits every thread's ops in one
 * global order, on fixed ids from ops_reserve(), and executors honour each op's seq, so an
 * op that needs another thread's earlier op on the same object waits for it (workload.h).
 * The emission order is chosen so that such waits are rare and short.
 */
#include "util/osmem.h"
#include "workload/workload.h"

/* ------------------------------------------------------------------------------------- */
/* thread-local                                                                          */

#define TL_SLOTS 1000

/*
 * Larson without the cross-thread part: each thread owns 1000 slots of 8-1000 B objects
 * (uniform); after filling them, each step frees a random slot and allocates a new object
 * in it. Ends by freeing its slots.
 */
static int gen_thread_local(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t n = TL_SLOTS;
    if (n > c->ops / 2) n = c->ops >= 2 ? (uint32_t)(c->ops / 2) : 1;
    uint32_t base = ops_reserve(s, n);
    if (base == UINT32_MAX) return -1;
    uint64_t emitted = 0;
    for (uint32_t i = 0; i < n; i++, emitted++)
        ops_alloc_at(s, t, base + i, prng_range(c->rng, 8, 1000), 0);
    for (; emitted + 2 + n <= c->ops && !s->error; emitted += 2) {
        uint32_t victim = base + (uint32_t)prng_below(c->rng, n);
        ops_free(s, t, victim);
        ops_alloc_at(s, t, victim, prng_range(c->rng, 8, 1000), 0);
    }
    for (uint32_t i = 0; i < n; i++)
        ops_free(s, t, base + i);
    return s->error ? -1 : 0;
}

const struct workload wl_thread_local = {
    .name = "thread-local",
    .summary = "Larson-like: per-thread 1000 slots of 8-1000 B, random replace, no sharing",
    .category = "threads",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2500000,
    .generate = gen_thread_local,
};

/* ------------------------------------------------------------------------------------- */
/* producer-consumer                                                                     */

#define PC_RING  1024 /* object slots per producer/consumer pair */
#define PC_BATCH 64   /* objects handed over at a time */

/*
 * Threads [0, P) produce and [P, T) consume, P = T/2. Consumer thread P+j takes from
 * producer j % P through ring j of 1024 fixed ids: the producer allocates 64 objects
 * (log-normal around 96 B, sigma 1, 16 B-4 KiB) into the ring's next slots, then the
 * consumer frees those 64 on its own thread, newest first: its first free waits (by seq)
 * for the batch's last allocation, and the other 63 are then ready, so a consumer waits at
 * most once per batch instead of chasing the producer object by object. Rings are served
 * round-robin a batch at a time. The producer's next use of a slot is 16 batches later, so
 * it waits only when it gets that far ahead of its consumer.
 *
 * Each thread emits about c->ops ops when T is even. When T is odd there is one consumer
 * more than producers, and producer 0 serves two rings: the total is still T * c->ops, but
 * producer 0 emits twice what a consumer does.
 */
static int gen_producer_consumer(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    struct prng *r = c->rng;
    unsigned producers = c->threads / 2, consumers = c->threads - producers;
    if (producers == 0) return -1; /* min_threads is 2 */
    uint64_t per_ring = (uint64_t)c->threads * c->ops / 2 / consumers;
    uint32_t base = ops_reserve(s, consumers * PC_RING);
    if (base == UINT32_MAX) return -1;
    for (uint64_t done = 0; done < per_ring && !s->error; done += PC_BATCH) {
        uint64_t k = per_ring - done < PC_BATCH ? per_ring - done : PC_BATCH;
        for (unsigned j = 0; j < consumers; j++) {
            uint32_t ring = base + j * PC_RING;
            for (uint64_t i = 0; i < k; i++) {
                uint32_t obj = ring + (uint32_t)((done + i) % PC_RING);
                ops_alloc_at(s, j % producers, obj, wl_size_lognormal(r, 96, 1.0, 16, 4096), 0);
            }
            for (uint64_t i = k; i-- > 0;)
                ops_free(s, producers + j, ring + (uint32_t)((done + i) % PC_RING));
        }
    }
    return s->error ? -1 : 0;
}

const struct workload wl_producer_consumer = {
    .name = "producer-consumer",
    .summary = "half the threads allocate 16 B-4 KiB objects, the other half free them",
    .category = "threads",
    .shape = WL_SHARED,
    .min_threads = 2,
    .default_ops = 250000,
    .generate = gen_producer_consumer,
};

/* ------------------------------------------------------------------------------------- */
/* shared-pool                                                                           */

#define SP_SLOTS 8192

/*
 * One pool of 8192 fixed ids shared by all threads. Each step of the global order picks a
 * random thread and a random slot: an empty slot is allocated (log-normal around 64 B,
 * sigma 1, 16 B-4 KiB), a full one freed, by that thread. A slot just used is out of the
 * draw for the next 4096 steps (a FIFO of recently used slots), so two ops on the same
 * object are at least 4096 steps apart, about 4096/T ops of each thread: threads seldom
 * wait. At the end the live slots are freed by random threads, least recently used first.
 * The pool shrinks for small budgets (a quarter of the total ops, at least 4 slots).
 */
static int gen_shared_pool(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    struct prng *r = c->rng;
    uint64_t total = (uint64_t)c->threads * c->ops;
    uint32_t n = SP_SLOTS;
    if (n > total / 4) n = total / 4 >= 4 ? (uint32_t)(total / 4) : 4;
    uint32_t cool = n / 2, nelig = n - cool, head = 0;
    uint32_t base = ops_reserve(s, n);
    uint32_t *slot = osmem_alloc((size_t)n * sizeof(uint32_t)); /* eligible, then FIFO */
    if (base == UINT32_MAX || !slot) {
        osmem_free(slot, (size_t)n * sizeof(uint32_t));
        return -1;
    }
    uint32_t *fifo = slot + nelig;
    for (uint32_t i = 0; i < n; i++)
        slot[i] = base + i;
    uint64_t emitted = 0, live = 0;
    while (!s->error) {
        uint32_t i = (uint32_t)prng_below(r, nelig);
        uint32_t obj = slot[i];
        unsigned t = (unsigned)prng_below(r, c->threads);
        if (ops_is_live(s, obj)) {
            ops_free(s, t, obj);
            live--;
        } else {
            if (emitted + live + 2 > total) break;
            ops_alloc_at(s, t, obj, wl_size_lognormal(r, 64, 1.0, 16, 4096), 0);
            live++;
        }
        emitted++;
        slot[i] = fifo[head];
        fifo[head] = obj;
        head = head + 1 == cool ? 0 : head + 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        /* The eligible slots first, then the FIFO from its oldest entry. */
        uint32_t obj = i < nelig ? slot[i] : fifo[(head + i - nelig) % cool];
        if (ops_is_live(s, obj)) ops_free(s, (unsigned)prng_below(r, c->threads), obj);
    }
    osmem_free(slot, (size_t)n * sizeof(uint32_t));
    return s->error ? -1 : 0;
}

const struct workload wl_shared_pool = {
    .name = "shared-pool",
    .summary = "all threads allocate into and free from one pool of 8192 shared slots",
    .category = "threads",
    .shape = WL_SHARED,
    .min_threads = 1,
    .default_ops = 1200000,
    .generate = gen_shared_pool,
};

/* ------------------------------------------------------------------------------------- */
/* thread-churn and server: puts into a shared table                                    */

/* How a run of puts is shaped. */
struct put_shape {
    uint32_t slots;  /* fixed ids in the shared table */
    uint32_t cool;   /* slots out of the draw after a put: seq waits stay rare */
    unsigned visit;  /* puts per visit by threads in turn; 0 = a random thread per put */
    uint64_t lo, hi; /* object sizes */
    int loguniform;  /* sizes log-uniform in [lo, hi], else uniform */
};

/*
 * Puts: each picks a random eligible slot, frees the object there if there is one (usually
 * another thread's, a cross-thread free) and allocates a new one in it, on the putting
 * thread. The putting thread is the visiting one (threads in turn, `visit` puts each) or a
 * random one. A slot just used waits in a FIFO of `cool` slots before it can be drawn again.
 * At the end the live objects are freed by random threads.
 */
static int gen_puts(const struct wl_ctx *c, const struct put_shape *sh)
{
    struct opstream *s = c->s;
    struct prng *r = c->rng;
    uint64_t total = (uint64_t)c->threads * c->ops;
    uint32_t n = sh->slots, cool = sh->cool, nelig = n - cool, head = 0;
    uint32_t base = ops_reserve(s, n);
    uint32_t *slot = osmem_alloc((size_t)n * sizeof(uint32_t)); /* eligible, then FIFO */
    if (base == UINT32_MAX || !slot) {
        osmem_free(slot, (size_t)n * sizeof(uint32_t));
        return -1;
    }
    uint32_t *fifo = slot + nelig;
    for (uint32_t i = 0; i < n; i++)
        slot[i] = base + i;
    uint64_t emitted = 0, live = 0, put = 0;
    /* Room for this put and for freeing what is live at the end. */
    while (!s->error && emitted + live + 3 <= total) {
        unsigned t = sh->visit ? (unsigned)(put++ / sh->visit % c->threads)
                               : (unsigned)prng_below(r, c->threads);
        uint32_t i = (uint32_t)prng_below(r, nelig);
        uint32_t obj = slot[i];
        if (ops_is_live(s, obj)) {
            ops_free(s, t, obj);
            emitted++;
            live--;
        }
        uint64_t size = sh->loguniform ? wl_size_loguniform(r, sh->lo, sh->hi)
                                       : prng_range(r, sh->lo, sh->hi);
        ops_alloc_at(s, t, obj, size, 0);
        emitted++;
        live++;
        slot[i] = fifo[head];
        fifo[head] = obj;
        head = head + 1 == cool ? 0 : head + 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t obj = i < nelig ? slot[i] : fifo[(head + i - nelig) % cool];
        if (ops_is_live(s, obj)) ops_free(s, (unsigned)prng_below(r, c->threads), obj);
    }
    osmem_free(slot, (size_t)n * sizeof(uint32_t));
    return s->error ? -1 : 0;
}

/*
 * The thread-churn pattern of hlmalloc issue 17 on the harness's threads: short "visits"
 * of 2 puts each, by the threads in turn, of 64-512 B objects into a table of 4096 slots.
 * The harness's threads live for the whole run, so this is the allocation pattern of a thread
 * per request without the thread exits themselves (tests/hlmalloc/churn.c has those).
 */
static int gen_thread_churn(const struct wl_ctx *c)
{
    static const struct put_shape sh = { 4096, 1024, 2, 64, 512, 0 };
    return gen_puts(c, &sh);
}

const struct workload wl_thread_churn = {
    .name = "thread-churn",
    .summary = "threads take turns putting 64-512 B objects into a shared table of 4096 slots",
    .category = "threads",
    .shape = WL_SHARED,
    .min_threads = 1,
    .default_ops = 400000,
    .generate = gen_thread_churn,
};

/*
 * A many-thread server's shared state: each put, by a random thread, replaces a random slot
 * of a table of 8192 with a block of log-uniform 16 B-16 KiB, freeing the block another
 * thread (with T threads, a fraction (T-1)/T of the time) allocated.
 */
static int gen_server(const struct wl_ctx *c)
{
    static const struct put_shape sh = { 8192, 2048, 0, 16, 16384, 1 };
    return gen_puts(c, &sh);
}

const struct workload wl_server = {
    .name = "server",
    .summary = "random threads replace random slots of 8192 with 16 B-16 KiB blocks",
    .category = "threads",
    .shape = WL_SHARED,
    .min_threads = 1,
    .default_ops = 600000,
    .generate = gen_server,
};
