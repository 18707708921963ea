/*
 * hlmalloc/heap.c: process start-up, thread heaps, thread exit, fork, and the purger.
 *
 * A thread's first malloc finds the static empty heap in its TLS slot (every direct page
 * empty), falls into the slow path and gets a heap here. Heaps come from an mmap'd pool,
 * never from malloc. The TLS slot is set before pthread_setspecific, which may itself call
 * malloc: that call then finds a working heap.
 *
 * Thread exit (the key's destructor) abandons the heap: its pages stop asking for
 * notifications (delayed state NEVER), empty pages go back to their segments, and segments
 * still holding live blocks go on the abandoned list, where the next thread that needs a
 * page (page.c find_page, before a fresh page) or slices reclaims them, and the purger
 * sweeps them meanwhile (the blocks freed since go
 * back to their pages, empty pages and segments to the OS). Nothing leaks and no thread
 * waits for another.
 *
 * fork: the prepare handler takes every lock (the sweep's, heaps, registry, each segment,
 * abandoned list, huge cache, unmaps to retry) in the documented order, so the child
 * starts with consistent metadata; both sides release them. The child has no purger
 * thread: it starts one again when needed. Nor has it the parent's other threads: it
 * abandons their heaps (child_adopt_dead_heaps).
 *
 * The purger: a background thread started (lazily, at the end of a slow path, never
 * holding a lock) once memory is waiting to be purged, unless HLMALLOC_PURGE_THREAD=0. It
 * purges every segment whose delay has passed, so RSS falls after a spike even when the
 * threads that freed the memory have gone idle. It never keeps the process alive: on Linux
 * a process lives while any of its threads does, so the purger leaves as soon as it finds
 * itself the last thread running (main() ended with pthread_exit, a fork child's only
 * thread returned), and glibc then ends the process with exit(0) as it would have without
 * it. It looks (hl_os_live_threads, /proc/self/stat, about 25 us) when it wakes after a
 * thread with a heap has ended, and every HL_PURGER_LOOK_MS in any case (threads that
 * never allocated end unseen). With nothing left to purge it sleeps HL_PURGER_IDLE_MS at
 * a time instead of its period (at most 100 ms), and the next page freed wakes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "hlmalloc/internal.h"

#define E1  &hl_page_empty
#define E4  E1, E1, E1, E1
#define E16 E4, E4, E4, E4
#define E64 E16, E16, E16, E16

struct hl_page hl_page_empty;
const struct hl_heap hl_heap_empty = { .direct = { E64, E1 } };
__thread struct hl_heap *hl_tls_heap __attribute__((tls_model("initial-exec"))) =
        (struct hl_heap *)&hl_heap_empty;
uintptr_t hl_cookie = 0x5bd1e995c0ffee11ULL;
struct hl_options hl_opt = {
    .purge_delay_ms = 400,
    .purge_thread = 1,
    .huge_cache_bytes = 256u << 20,
    .verbose = 1, /* misuse reports (stats.c) */
};
struct hl_counters hl_count;

pthread_mutex_t hl_heaps_lock = PTHREAD_MUTEX_INITIALIZER;
struct hl_heap *hl_heaps;
static struct hl_heap *heap_pool;
size_t hl_pool_bytes; /* mapped for the heap pool (I9) */
/* Heaps are carved side by side from 64 KiB chunks: at 1776 bytes, one heap's `direct`
 * table (read by every malloc) shared a line with the previous heap's tail (kept_bytes,
 * written on its slow paths). */
_Static_assert(sizeof(struct hl_heap) % 64 == 0, "a heap shares no cache line");
pthread_mutex_t hl_abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
struct hl_segment *hl_abandoned;
static _Atomic uint64_t abandoned_count;
static pthread_key_t heap_key;
static _Atomic int init_state;       /* 0 none, 1 running, 2 done */
static _Atomic int purger_state;     /* 0 none, 1 starting or running */
static _Atomic uint32_t purger_word; /* the purger's futex: bumped to wake it */
static _Atomic int purger_idle;      /* it sleeps with nothing due: a note wakes it */
static _Atomic int purger_heads_up;  /* a heap's thread ended: is the purger alone now? */
#define HL_PURGER_IDLE_MS 250        /* sleep with nothing to purge */
#define HL_PURGER_LOOK_MS 500        /* counts the threads at least this often */
#define HL_SWEEP_MAX      64         /* abandoned segments the purger sweeps a round */
extern pthread_mutex_t hl_huge_lock;

uint64_t hl_abandoned_segments(void);
uint64_t hl_abandoned_segments(void)
{
    return atomic_load_explicit(&abandoned_count, memory_order_relaxed);
}

/* ---- options ------------------------------------------------------------------------ */

extern char **environ;

/* The value of NAME in the environment, read without getenv (safe before main). */
static const char *env_get(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static long env_long(const char *name, long dflt)
{
    const char *v = env_get(name);
    if (!v || !*v) return dflt;
    long x = 0;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9') return dflt;
        x = x * 10 + (*c - '0');
        if (x > 1000000000L) return dflt;
    }
    return x;
}

static void read_options(void)
{
    hl_opt.purge_delay_ms = (uint32_t)env_long("HLMALLOC_PURGE_DELAY", hl_opt.purge_delay_ms);
    hl_opt.purge_thread = env_long("HLMALLOC_PURGE_THREAD", 1) != 0;
    hl_opt.show_stats = env_long("HLMALLOC_SHOW_STATS", 0) != 0;
    hl_opt.verbose = (int)env_long("HLMALLOC_VERBOSE", 1);
    hl_opt.abort_on_error = env_long("HLMALLOC_ABORT_ON_ERROR", 0) != 0;
    hl_opt.huge_cache_bytes =
            (size_t)env_long("HLMALLOC_HUGE_CACHE_MB", (long)(hl_opt.huge_cache_bytes >> 20)) << 20;
    /* Act under the kernel's overcommit policy, or (tests) as if under another. */
    long policy = env_long("HLMALLOC_OVERCOMMIT", -1);
    hl_opt.overcommit = policy >= 0 && policy <= 2 ? (int)policy : hl_os_overcommit_policy();
    hl_opt.commit = hl_opt.overcommit == 2;
    hl_opt.space_limited = hl_os_space_limited();
}

/* ---- heap pool ---------------------------------------------------------------------- */

static struct hl_heap *heap_pool_take(void)
{
    pthread_mutex_lock(&hl_heaps_lock);
    if (!heap_pool) {
        size_t chunk = 64 * 1024;
        uint8_t *m = hl_os_map(chunk, 4096, 0);
        if (!m) {
            pthread_mutex_unlock(&hl_heaps_lock);
            return NULL;
        }
        hl_pool_bytes += chunk;
        for (size_t off = 0; off + sizeof(struct hl_heap) <= chunk; off += sizeof(struct hl_heap)) {
            struct hl_heap *h = (struct hl_heap *)(m + off);
            h->pool_next = heap_pool;
            heap_pool = h;
        }
    }
    struct hl_heap *h = heap_pool;
    heap_pool = h->pool_next;
    pthread_mutex_unlock(&hl_heaps_lock);
    return h;
}

static void heap_link(struct hl_heap *h)
{
    pthread_mutex_lock(&hl_heaps_lock);
    h->all_prev = NULL;
    h->all_next = hl_heaps;
    if (hl_heaps) hl_heaps->all_prev = h;
    hl_heaps = h;
    pthread_mutex_unlock(&hl_heaps_lock);
    atomic_fetch_add_explicit(&hl_count.threads, 1, memory_order_relaxed);
}

static void heap_unlink_and_pool(struct hl_heap *h)
{
    pthread_mutex_lock(&hl_heaps_lock);
    if (h->all_prev)
        h->all_prev->all_next = h->all_next;
    else
        hl_heaps = h->all_next;
    if (h->all_next) h->all_next->all_prev = h->all_prev;
    memset(h, 0, sizeof(*h));
    h->pool_next = heap_pool;
    heap_pool = h;
    pthread_mutex_unlock(&hl_heaps_lock);
    atomic_fetch_sub_explicit(&hl_count.threads, 1, memory_order_relaxed);
}

/* ---- thread start and exit ---------------------------------------------------------- */

/* A new heap, copied (set up field by field, it cost 2,000 instructions a thread: the
 * class sizes and foreign capacities computed anew each time). Set once at start-up. */
static struct hl_heap heap_template;

static void heap_template_init(void)
{
    struct hl_heap *h = &heap_template;
    for (unsigned i = 0; i < HL_DIRECT_SLOTS; i++)
        h->direct[i] = &hl_page_empty;
    for (unsigned b = 0; b < HL_BINS; b++)
        h->bins[b].block_size = (uint32_t)hl_bin_size(b);
    for (unsigned b = 0; b < HL_FOREIGN_BINS; b++)
        h->foreign_room[b] = hl_foreign_cap(b);
    for (unsigned b = HL_OWN_FIRST; b < HL_BINS; b++)
        h->own_room[b - HL_OWN_FIRST] = hl_own_cap(b);
    h->retired_min = HL_BINS; /* none kept */
}

static void thread_done(void *arg);

struct hl_heap *hl_heap_get(void)
{
    struct hl_heap *h = hl_tls_heap;
    if (h != &hl_heap_empty) return h;
    hl_process_init();
    h = heap_pool_take();
    if (!h) return NULL;
    *h = heap_template;
    h->thread_id = hl_thread_id();
    heap_link(h);
    hl_tls_heap = h;
    /* Register for thread exit; this may call malloc, which now finds h. */
    pthread_setspecific(heap_key, h);
    return h;
}

/* Stop notifications to the heap (state NEVER), waiting out a notifier in progress. */
static void page_never_delayed(struct hl_page *pg)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    for (;;) {
        if ((x & 3) == HL_DELAYED_BUSY) {
            hl_os_yield();
            x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x,
                                                  (x & ~(uintptr_t)3) | HL_DELAYED_NEVER,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

static void abandon_queue(struct hl_page_queue *q)
{
    struct hl_page *pg = q->first;
    while (pg) {
        struct hl_page *next = pg->next;
        page_never_delayed(pg);
        pg = next;
    }
}

/* ---- the pages of a segment ---------------------------------------------------------- */

/*
 * The page heads of segment s in slice order, found through a copy of its free_map taken
 * under its lock: free runs are skipped a word (64 slices) at a time, and only the
 * descriptors of slices in use are read. Reading all 510 descriptors (a cache line each)
 * was most of what thread start-up and exit cost under churn: in callgrind on
 * tests/hlmalloc/churn.c (2,000 threads), 10.0 M of 33.7 M instructions in reclaiming a
 * segment and 8.3 M in abandoning one. For a segment no other thread can add a page to
 * (its owner's, or one off the abandoned list): a page given back meanwhile (a large block
 * freed by another thread) reads as no page.
 */
struct page_walk {
    uint64_t free[HL_SLICES / 64];
    uint32_t next; /* slice to look at next */
    uint32_t end;  /* s->slices */
};

static void page_walk_start(struct page_walk *w, struct hl_segment *s)
{
    pthread_mutex_lock(&s->lock);
    memcpy(w->free, s->free_map, sizeof(w->free));
    pthread_mutex_unlock(&s->lock);
    w->next = HL_FIRST_SLICE;
    w->end = s->slices;
}

/* The next page head, or NULL. Its slice count is read first: the caller may give it back. */
static struct hl_page *page_walk_next(struct page_walk *w, struct hl_segment *s)
{
    uint32_t i = w->next;
    while (i < w->end) {
        uint64_t used = ~w->free[i >> 6] & (~(uint64_t)0 << (i & 63));
        if (used == 0) {
            i = (i | 63) + 1;
            continue;
        }
        i = (i & ~63u) + (uint32_t)__builtin_ctzll(used);
        if (i >= w->end) break;
        struct hl_page *pg = &s->pages[i];
        if (pg->slice_back == 0 && pg->slice_count != 0) {
            w->next = i + pg->slice_count;
            return pg;
        }
        i++;
    }
    w->next = w->end;
    return NULL;
}

/*
 * A page a fork child took over from a thread it does not have (child_orphan_page): that
 * thread may have stopped in the middle of a malloc or free of its own, which take no
 * lock, so `used` may be off by a block. Before the page is used (adopted or swept) it is
 * counted anew from its free list, validated and bounded; a list that does not validate
 * puts the page out of use (its blocks count as used: lost, none handed out twice). Done
 * then and not in the fork handler: a walk of every free list cost a child of a process
 * with 256 MiB in 1000-byte blocks about 100 ms, which fork + exec does not need.
 */
static void page_recount(struct hl_page *pg)
{
    uint32_t nfree = 0;
    for (struct hl_block *b = pg->free; b; b = hl_next_decode(pg, b)) {
        uintptr_t p = (uintptr_t)b, start = (uintptr_t)pg->start;
        if (p < start || p - start >= pg->limit || !hl_is_block_offset(pg, (uint32_t)(p - start))
            || ++nfree > pg->capacity) {
            pg->free = NULL;
            nfree = 0;
            break;
        }
    }
    pg->used = pg->capacity - nfree;
    pg->recount = 0;
}

/* ---- abandoned segments ------------------------------------------------------------ */

/* The list is FIFO: a thread exiting puts its segments at the tail, reclaim and the sweep
 * take from the head, and the sweep puts back what still holds blocks at the tail, so
 * that a bounded sweep comes round to every segment. hl_abandoned_lock guards it. */
static struct hl_segment *abandoned_tail;

static void abandoned_push(struct hl_segment *s)
{
    pthread_mutex_lock(&hl_abandoned_lock);
    s->next = NULL;
    s->prev = abandoned_tail;
    if (abandoned_tail)
        abandoned_tail->next = s;
    else
        hl_abandoned = s;
    abandoned_tail = s;
    pthread_mutex_unlock(&hl_abandoned_lock);
    atomic_fetch_add_explicit(&abandoned_count, 1, memory_order_relaxed);
}

/* The oldest abandoned segment, now the caller's alone; NULL if there is none. */
static struct hl_segment *abandoned_pop(void)
{
    if (atomic_load_explicit(&abandoned_count, memory_order_relaxed) == 0) return NULL;
    pthread_mutex_lock(&hl_abandoned_lock);
    struct hl_segment *s = hl_abandoned;
    if (s) {
        hl_abandoned = s->next;
        if (hl_abandoned)
            hl_abandoned->prev = NULL;
        else
            abandoned_tail = NULL;
    }
    pthread_mutex_unlock(&hl_abandoned_lock);
    if (s) atomic_fetch_sub_explicit(&abandoned_count, 1, memory_order_relaxed);
    return s;
}

/*
 * Give back what exited threads' segments no longer use. Blocks of an exited thread that
 * other threads free go onto their pages' remote-free lists (the pages have no owner to
 * collect them), so a segment stayed until some thread needed slices and reclaimed it:
 * in a program whose workers had ended it stayed for good, resident. The sweep takes up
 * to `max` segments off the list in turn (each the sweeper's alone meanwhile), collects
 * each page's remote frees, gives the pages left empty back to the segment (dirty:
 * purged after the delay) and releases a segment left empty; the rest go back. The
 * purger sweeps every round, hl_collect() all of them.
 *
 * transit_lock is held while the purger (or hl_collect) moves a segment between states
 * that the heap checker must not see half done: off the abandoned list, or out of the
 * huge cache and not yet unmapped. The checker takes it first; so does fork.
 */
static pthread_mutex_t transit_lock = PTHREAD_MUTEX_INITIALIZER;

void hl_abandoned_sweep(unsigned max)
{
    uint64_t listed = atomic_load_explicit(&abandoned_count, memory_order_relaxed);
    if (listed == 0) return;
    if (max > listed) max = (unsigned)listed; /* each at most once: they go back at the tail */
    pthread_mutex_lock(&transit_lock);
    for (unsigned n = 0; n < max; n++) {
        struct hl_segment *s = abandoned_pop();
        if (!s) break;
        struct page_walk w;
        page_walk_start(&w, s);
        for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;) {
            if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) continue;
            hl_page_collect(pg);
            if (HL_UNLIKELY(pg->recount)) page_recount(pg);
            if (pg->used == 0) hl_segment_free_page(s, pg);
        }
        if (hl_segment_used(s) == 0)
            hl_segment_release(s);
        else
            abandoned_push(s);
    }
    pthread_mutex_unlock(&transit_lock);
}

void hl_transit_lock(bool lock)
{
    if (lock)
        pthread_mutex_lock(&transit_lock);
    else
        pthread_mutex_unlock(&transit_lock);
}

static void abandon_heap(struct hl_heap *h)
{
    if (HL_DEBUG) hl_debug_check("thread exit");
    hl_foreign_flush_all(h); /* first: some may be blocks of our own pages by now */
    hl_own_flush_all(h);
    for (unsigned b = 0; b < HL_BINS; b++)
        abandon_queue(&h->bins[b]);
    abandon_queue(&h->full);
    /* No notifier can reach h now; take what was already sent. */
    hl_heap_delayed_free(h);
    struct hl_page_queue *queues[HL_BINS + 1];
    for (unsigned b = 0; b < HL_BINS; b++)
        queues[b] = &h->bins[b];
    queues[HL_BINS] = &h->full;
    for (unsigned b = 0; b <= HL_BINS; b++) {
        struct hl_page *pg = queues[b]->first;
        while (pg) {
            struct hl_page *next = pg->next;
            hl_page_collect(pg);
            pg->next = pg->prev = NULL;
            pg->flags = 0;
            pg->fast_count = pg->capacity;
            hl_page_forget_kept(pg); /* the heap's keeping ends with it */
            if (pg->used == 0) {
                struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
                hl_segment_free_page(s, pg);
            } else {
                pg->heap = NULL;
            }
            pg = next;
        }
        queues[b]->first = queues[b]->last = NULL;
        queues[b]->count = 0;
    }
    /* Segments: release the empty ones, abandon the rest. */
    struct hl_segment *s = h->segments;
    while (s) {
        struct hl_segment *next = s->next;
        if (hl_segment_used(s) == 0) {
            hl_segment_release(s);
        } else {
            struct page_walk w;
            page_walk_start(&w, s);
            for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;)
                if (pg->kind == HL_PAGE_LARGE) pg->heap = NULL;
            s->heap = NULL;
            atomic_store_explicit(&s->thread_id, HL_TID_ABANDONED, memory_order_release);
            abandoned_push(s);
        }
        s = next;
    }
    h->segments = NULL;
}

static void thread_done(void *arg)
{
    struct hl_heap *h = arg;
    if (!h || h == &hl_heap_empty) return;
    abandon_heap(h);
    hl_tls_heap = (struct hl_heap *)&hl_heap_empty;
    heap_unlink_and_pool(h);
    /* This may be the program's last thread: the purger looks when it next wakes (not
     * woken for it: a program running through short threads would have it count them
     * after each one), and leaves if so. */
    atomic_store_explicit(&purger_heads_up, 1, memory_order_relaxed);
}

/* ---- remote frees (I11) ------------------------------------------------------------ */

/*
 * The owner takes up its pages' remote-free lists only as its slow path comes to each
 * page, so where many threads free what others allocated (a server's shared state), blocks
 * freed long ago still count as used and hold their pages: at 4 threads on `server`, 9 MiB
 * of 18 MiB live. Pushers count the bytes they push in the page's segment (one relaxed
 * add beside the CAS they do anyway), and every HL_REMOTE_LOOK slow calls the owner
 * reads its segments' counts; a segment past HL_REMOTE_COLLECT gets all its pages'
 * lists collected in one walk, pages left empty retired and full pages with room queued
 * again. The free paths are unchanged but for that add on the remote one. Each class's
 * first page is left alone: malloc is popping it, and its slow path collects it when it
 * runs dry. Collected early, it drew the owner's mallocs away from the blocks of others
 * in its foreign caches, which then overflowed home more often (server at 4 threads:
 * 14% more allocator instructions than before the change with it, 9% without).
 */
#define HL_REMOTE_COLLECT (256u * 1024)

static void collect_segment_remote(struct hl_heap *h, struct hl_segment *s)
{
    atomic_store_explicit(&s->remote_bytes, 0, memory_order_relaxed);
    struct page_walk w;
    page_walk_start(&w, s);
    for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;) {
        if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) continue;
        uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
        if ((x & ~(uintptr_t)3) == 0 || pg == h->bins[pg->bin].first) continue;
        hl_page_collect(pg);
        if (pg->used == 0)
            hl_page_retire(pg); /* out of the full queue first, if there */
        else if (pg->flags & HL_PAGE_IN_FULL)
            hl_page_unfull(h, pg);
    }
}

void hl_heap_collect_remote(struct hl_heap *h)
{
    for (struct hl_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (atomic_load_explicit(&s->remote_bytes, memory_order_relaxed) >= HL_REMOTE_COLLECT)
            collect_segment_remote(h, s);
    }
}

struct hl_segment *hl_reclaim_abandoned(struct hl_heap *h)
{
    struct hl_segment *s = abandoned_pop();
    if (!s) return NULL;
    atomic_store_explicit(&s->remote_bytes, 0, memory_order_relaxed); /* collected below */
    s->heap = h;
    s->next = h->segments;
    s->prev = NULL;
    if (h->segments) h->segments->prev = s;
    h->segments = s;
    atomic_store_explicit(&s->thread_id, h->thread_id, memory_order_release);
    /* Adopt its pages: collect what others freed meanwhile, queue those with room. */
    struct page_walk w;
    page_walk_start(&w, s);
    for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;) {
        if (pg->kind == HL_PAGE_LARGE) {
            pg->heap = h;
            continue;
        }
        if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) continue;
        pg->heap = h;
        uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x,
                                                      (x & ~(uintptr_t)3) | HL_DELAYED_NONE,
                                                      memory_order_acq_rel, memory_order_relaxed))
            ;
        hl_page_collect(pg);
        if (HL_UNLIKELY(pg->recount)) page_recount(pg);
        if (pg->used == 0) {
            hl_segment_free_page(s, pg);
            continue;
        }
        hl_page_adopt(h, pg);
    }
    return s;
}

/* ---- the purger --------------------------------------------------------------------- */

/* Is the purger the only thread left running? Without /proc: when no heap is alive. */
static bool purger_alone(void)
{
    int n = hl_os_live_threads();
    if (n < 0) return atomic_load_explicit(&hl_count.threads, memory_order_relaxed) == 0;
    return n <= 1;
}

void hl_purger_wake_idle(void)
{
    /* Pairs with the purger's fence: either its scan after going idle sees the memory just
     * freed, or this load sees it idle. */
    atomic_thread_fence(memory_order_seq_cst);
    if (HL_UNLIKELY(atomic_load_explicit(&purger_idle, memory_order_relaxed))
        && atomic_exchange_explicit(&purger_idle, 0, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&purger_word, 1, memory_order_relaxed);
        hl_os_wake(&purger_word);
    }
}

static void *purger_main(void *arg)
{
    (void)arg;
    uint64_t looked = hl_os_now_ms();
    for (;;) {
        /* At most 100 ms between rounds: memory goes back within delay + 100 ms. */
        uint32_t period = hl_opt.purge_delay_ms / 2;
        if (period > 100) period = 100;
        if (period < 10) period = 10;
        uint32_t word = atomic_load_explicit(&purger_word, memory_order_relaxed);
        atomic_store_explicit(&purger_idle, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        hl_os_retry_unmaps(); /* munmaps that failed (cheap when there are none) */
        hl_abandoned_sweep(HL_SWEEP_MAX);
        if (hl_purge_all(false)) {
            atomic_store_explicit(&purger_idle, 0, memory_order_relaxed);
        } else {
            period = HL_PURGER_IDLE_MS;
        }
        hl_os_wait(&purger_word, word, period);
        atomic_store_explicit(&purger_idle, 0, memory_order_relaxed);
        uint64_t now = hl_os_now_ms();
        if (atomic_exchange_explicit(&purger_heads_up, 0, memory_order_relaxed)
            || now - looked >= HL_PURGER_LOOK_MS) {
            looked = now;
            if (purger_alone()) break;
        }
    }
    /* The last thread: returning ends the process (glibc calls exit(0)). */
    atomic_store(&purger_state, 0);
    return NULL;
}

void hl_purger_maybe_start(void)
{
    if (!hl_opt.purge_thread || atomic_load_explicit(&purger_state, memory_order_relaxed)) return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&purger_state, &expect, 1)) return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int saved = errno;
    if (pthread_create(&t, &attr, purger_main, NULL) != 0)
        hl_opt.purge_thread = 0; /* purge on slow paths only */
    pthread_attr_destroy(&attr);
    errno = saved;
}

/* ---- process start-up and fork ------------------------------------------------------ */

static void fork_prepare(void)
{
    pthread_mutex_lock(&transit_lock);
    pthread_mutex_lock(&hl_heaps_lock);
    pthread_mutex_lock(&hl_registry_lock);
    for (struct hl_segment *s = hl_registry; s; s = s->all_next)
        pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&hl_abandoned_lock);
    pthread_mutex_lock(&hl_huge_lock);
    hl_os_fork(0);
}

static void fork_parent(void)
{
    hl_os_fork(1);
    pthread_mutex_unlock(&hl_huge_lock);
    pthread_mutex_unlock(&hl_abandoned_lock);
    for (struct hl_segment *s = hl_registry; s; s = s->all_next)
        pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&hl_registry_lock);
    pthread_mutex_unlock(&hl_heaps_lock);
    pthread_mutex_unlock(&transit_lock);
}

/*
 * The child of a fork has one thread, the one that forked, but every heap of the parent:
 * those of the threads that did not come along would hold their pages and segments for
 * good (nothing runs their exit). The child abandons them itself, as their threads would
 * have on exit, over what the parent's locks kept consistent: the registry and each
 * segment's slices. A dead thread may have been in the middle of an operation on its own
 * heap, which takes no lock, so its queues are not followed, and each of its pages is
 * marked to be counted anew (page_recount) before it is used again. A block a dead
 * thread held stays used (lost, as it would be in its program); no block can be handed
 * out twice. The handler's cost is a write to each of the dead heaps' page descriptors
 * (and a read of their remote-free lists): no free list is walked.
 */

/* Is b a carved block of small or medium page pg? */
static bool child_block_of(const struct hl_page *pg, const void *b)
{
    uintptr_t p = (uintptr_t)b, start = (uintptr_t)pg->start;
    return p >= start && p - start < pg->limit && hl_is_block_offset(pg, (uint32_t)(p - start));
}

/* The small or medium page block b belongs to, if it is one of a live segment; else NULL. */
static struct hl_page *child_page_of(const void *b)
{
    struct hl_segment *s = hl_segment_of(b);
    if (!s || s->kind != HL_PAGE_SMALL) return NULL;
    struct hl_page *pg = hl_page_of(s, b);
    if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) return NULL;
    return child_block_of(pg, b) ? pg : NULL;
}

/* Is h the heap of a thread the child does not have? */
static bool child_heap_dead(const struct hl_heap *h)
{
    return h != NULL && h != hl_tls_heap;
}

/* Leave page pg ownerless, to be counted anew before it is used (page_recount), or give
 * it back if empty. */
static void child_orphan_page(struct hl_segment *s, struct hl_page *pg)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    /* NEVER whatever it was: a BUSY left by a dead notifier would never clear. */
    atomic_store_explicit(&pg->xthread_free, (x & ~(uintptr_t)3) | HL_DELAYED_NEVER,
                          memory_order_relaxed);
    hl_page_collect(pg);
    pg->next = pg->prev = NULL;
    pg->flags = 0;
    pg->fast_count = pg->capacity;
    hl_page_forget_kept(pg);
    pg->heap = NULL;
    /* Its heap's own cache is gone (child_take_own sent what it could reach home); a dead
     * thread caught between a cache's list and this count may have left it off. */
    pg->own_cached = 0;
    /* `used` may lag the free list by a block a dead thread was taking or giving back: 0
     * all the same means no block the child can reach. */
    if (pg->used == 0)
        hl_segment_free_page(s, pg);
    else
        pg->recount = 1;
}

/* A dead heap's delayed blocks (its full pages' notifications) onto their pages' lists. */
static void child_take_delayed(struct hl_heap *h)
{
    struct hl_block *b = (struct hl_block *)atomic_exchange(&h->delayed_free, 0);
    for (uint32_t n = 0; b && n < (1u << 24); n++) {
        struct hl_block *next = b->next;
        struct hl_page *pg = child_page_of(b);
        if (pg && pg->heap == h) { /* NEVER by now: a remote free, as it would have been */
            uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
            hl_next_encode(pg, b, (struct hl_block *)(x & ~(uintptr_t)3));
            atomic_store_explicit(&pg->xthread_free, (uintptr_t)b | (x & 3), memory_order_relaxed);
        }
        b = next;
    }
}

/* The own caches of a heap whose thread the fork left behind (I10): each block goes onto
 * its page's remote-free list, as child_take_delayed does, so that the page's `used`
 * drops when the block is collected. A block the thread was caching at the fork may be
 * lost (it stays counted as used): never handed out twice. */
static void child_take_own(struct hl_heap *h)
{
    for (unsigned i = 0; i < HL_OWN_BINS; i++) {
        struct hl_block *b = h->own[i];
        h->own[i] = NULL;
        h->own_room[i] = hl_own_cap(HL_OWN_FIRST + i);
        for (uint32_t n = 0; b && n < 256; n++) {
            struct hl_block *next = b->next;
            struct hl_page *pg = child_page_of(b);
            if (pg && pg->heap == h) {
                uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
                hl_next_encode(pg, b, (struct hl_block *)(x & ~(uintptr_t)3));
                atomic_store_explicit(&pg->xthread_free, (uintptr_t)b | (x & 3),
                                      memory_order_relaxed);
                pg->own_cached = 0;
            }
            b = next;
        }
    }
}

/* Did the dead thread finish setting up page pg of s (the fields set once, when a page is
 * made)? Fields it may have been changing are made to agree: a large block's size with
 * its slices (a shrink in place gives the slices back first), a page's carved limit with
 * its capacity (grown first). */
static bool child_page_set_up(struct hl_segment *s, struct hl_page *pg)
{
    uint32_t i = (uint32_t)(pg - s->pages);
    uint8_t *span = (uint8_t *)s + ((size_t)i << HL_SLICE_SHIFT);
    size_t span_bytes = ((size_t)pg->slice_count << HL_SLICE_SHIFT) - (HL_SECURE ? 4096 : 0);
    if (pg->kind == HL_PAGE_LARGE) {
        if (pg->bin != HL_BIN_LARGE || pg->used != 1 || pg->capacity != 1 || pg->reserved != 1
            || pg->block_size == 0 || pg->start < span || pg->start >= span + span_bytes)
            return false;
        if (pg->start + pg->block_size > span + span_bytes) {
            pg->block_size = (uint32_t)(span + span_bytes - pg->start);
            hl_page_set_divisor(pg, pg->block_size);
        }
        pg->limit = pg->block_size;
        return true;
    }
    if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) return false;
    if (pg->bin >= HL_BINS || pg->block_size != hl_bin_size(pg->bin)
        || pg->slice_count != hl_page_slices(pg->block_size) || pg->start != span
        || pg->reserved != span_bytes / pg->block_size || pg->capacity > pg->reserved
        || !hl_is_block_offset(pg, 0) || !hl_is_block_offset(pg, pg->block_size))
        return false;
    pg->limit = pg->capacity * pg->block_size;
    return true;
}

/* Slices of s a dead thread had claimed and not yet made a page of (or a page it had not
 * finished setting up: no block of it was handed out) go back to the segment. */
static void child_repair_segment(struct hl_segment *s)
{
    uint64_t free[HL_SLICES / 64];
    pthread_mutex_lock(&s->lock);
    memcpy(free, s->free_map, sizeof(free));
    pthread_mutex_unlock(&s->lock);
    for (uint32_t i = HL_FIRST_SLICE; i < s->slices;) {
        struct hl_page *pg = &s->pages[i];
        if (((free[i >> 6] >> (i & 63)) & 1) || pg->hole) {
            i++;
            continue;
        }
        uint32_t n = pg->slice_count;
        bool head = pg->slice_back == 0 && n != 0 && i + n <= s->slices;
        if (head && child_page_set_up(s, pg)) {
            i += n;
            continue;
        }
        if (!head) n = 1;
        memset(pg, 0, sizeof(*pg));
        pg->slice_count = n;
        for (uint32_t k = 1; k < n; k++)
            s->pages[i + k].slice_back = k * (uint32_t)sizeof(struct hl_page);
        hl_segment_free_page(s, pg);
        i += n;
    }
}

/* Segment s, of a dead thread or caught between lists, joins the abandoned list (or is
 * released if nothing in it is used). */
static void child_orphan_segment(struct hl_segment *s)
{
    child_repair_segment(s);
    struct page_walk w;
    page_walk_start(&w, s);
    for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;) {
        if (pg->kind == HL_PAGE_LARGE) pg->heap = NULL;
        if (pg->kind == HL_PAGE_SMALL || pg->kind == HL_PAGE_MEDIUM) child_orphan_page(s, pg);
    }
    s->heap = NULL;
    atomic_store_explicit(&s->thread_id, HL_TID_ABANDONED, memory_order_relaxed);
    if (hl_segment_used(s) == 0)
        hl_segment_release(s);
    else
        abandoned_push(s);
}

static bool child_on_abandoned_list(const struct hl_segment *s)
{
    for (const struct hl_segment *a = hl_abandoned; a; a = a->next)
        if (a == s) return true;
    return false;
}

/* The child's only thread runs this: no lock is contended, none is held across calls. */
static void child_adopt_dead_heaps(void)
{
    /* 1. No notification goes to a dead heap from now on. */
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        if (s->kind == HL_PAGE_HUGE) continue;
        bool ours = s->heap != NULL && s->heap == hl_tls_heap;
        struct page_walk w;
        page_walk_start(&w, s);
        for (struct hl_page *pg; (pg = page_walk_next(&w, s)) != NULL;) {
            if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) continue;
            uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
            /* Ours: a BUSY left by a dead notifier is re-armed. Not ours: NEVER (written
             * only if it is not, to spare the copy of the descriptors' page). */
            uintptr_t st = x & 3, want = ours ? (st == HL_DELAYED_BUSY ? HL_DELAYED_WANT : st)
                                              : HL_DELAYED_NEVER;
            if (st != want)
                atomic_store_explicit(&pg->xthread_free, (x & ~(uintptr_t)3) | want,
                                      memory_order_relaxed);
        }
    }
    /* 2. Their foreign caches go home, their delayed lists onto the pages. */
    for (struct hl_heap *h = hl_heaps; h; h = h->all_next) {
        if (!child_heap_dead(h)) continue;
        hl_foreign_flush_all(h);
        child_take_delayed(h);
        child_take_own(h);
    }
    /* 3. Their segments, and any left between lists by a dead thread, are abandoned. */
    uint64_t ownerless = 0, listed = 0;
    for (struct hl_segment *s = hl_registry; s; s = s->all_next)
        ownerless += s->kind != HL_PAGE_HUGE && s->heap == NULL;
    for (struct hl_segment *a = hl_abandoned; a; a = a->next)
        listed++;
    atomic_store(&abandoned_count, listed); /* a dead thread may have been about to count */
    bool strays = ownerless != listed;
    for (struct hl_segment *s = hl_registry, *next; s; s = next) {
        next = s->all_next;
        if (s->kind == HL_PAGE_HUGE) continue;
        if (child_heap_dead(s->heap) || (strays && !s->heap && !child_on_abandoned_list(s)))
            child_orphan_segment(s);
    }
    /* 4. The heaps themselves go back to the pool. */
    for (struct hl_heap *h = hl_heaps, *next; h; h = next) {
        next = h->all_next;
        if (child_heap_dead(h)) heap_unlink_and_pool(h);
    }
}

static void fork_child(void)
{
    fork_parent();
    /* The purger did not come along: the child starts its own when it needs one. */
    atomic_store(&purger_state, 0);
    atomic_store(&purger_idle, 0);
    atomic_store(&purger_heads_up, 0);
    atomic_store(&purger_word, 0);
    child_adopt_dead_heaps();
}

void hl_process_init(void)
{
    int st = atomic_load_explicit(&init_state, memory_order_acquire);
    if (st == 2) return;
    st = 0;
    if (!atomic_compare_exchange_strong(&init_state, &st, 1)) {
        while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
            hl_os_yield();
        return;
    }
    read_options();
    heap_template_init();
    hl_cookie = hl_os_random();
    pthread_key_create(&heap_key, thread_done);
    atomic_store_explicit(&init_state, 2, memory_order_release);
}

static void print_stats_at_exit(void)
{
    if (hl_opt.show_stats) hl_stats_print();
}

__attribute__((constructor(101))) static void hl_constructor(void)
{
    hl_process_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(print_stats_at_exit);
}
