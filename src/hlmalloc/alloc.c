/*
 * hlmalloc/alloc.c: malloc, free, calloc, realloc, aligned allocation and usable size,
 * with their fast paths, and the exported hl_ names.
 *
 * malloc fast path (sizes <= 1 KiB): one TLS load, the direct page, pop its free list.
 * free fast path: the segment map names the segment (NULL: not ours, counted and
 * ignored), the owner compare, then one test that makes a bad free harmless: the block
 * index (a multiply and a rotate of the offset, no division; a number past any page's
 * blocks unless the offset is a multiple of the block size) below fast_count, the blocks
 * carved (0 while the page is full, which sends the free to the generic path); then the cheap
 * double-free check (a freed block carries block ^ hl_cookie in its second word, and malloc
 * clears it) and a push onto the page's free list, which malloc pops: LIFO reuse. A small
 * block of another thread's page takes the same checks and goes onto this thread's foreign
 * cache instead (types.h I8), with no atomic operation.
 */
#include <errno.h>
#include <stdint.h>

#include "hlmalloc/internal.h"

void *hli_malloc(size_t n)
{
    if (HL_SECURE) return hl_secure_malloc(n); /* HOOK secure.c: canaries */
    struct hl_heap *h = hl_tls_heap;
    if (HL_LIKELY(n <= HL_DIRECT_MAX)) {
        struct hl_page *pg = h->direct[(n + 15) >> 4];
        struct hl_block *b = pg->free;
        if (HL_LIKELY(b != NULL && !HL_SECURE)) {
            pg->free = b->next;
            pg->used_quiet++; /* the whole word, as free decrements it (I12) */
            if (HL_DF_CHECK) b->cookie = 0;
            return b;
        }
        /* The class's first page is out of blocks: one freed here from another thread's
         * page, if any (I8). */
        if (!HL_SECURE && (b = hl_foreign_pop(h, hl_bin(n))) != NULL) return b;
    } else if (n <= HL_MEDIUM_MAX && !HL_SECURE) {
        /* Above the direct table: the size's queue head, if it has a block (a few more
         * instructions for the class, but no trip through the slow path). */
        unsigned bin = hl_bin(n);
        struct hl_page *pg = h->bins[bin].first;
        struct hl_block *b = pg ? pg->free : NULL;
        if (HL_LIKELY(b != NULL)) {
            pg->free = b->next;
            pg->used_quiet++; /* the whole word, as free decrements it (I12) */
            if (HL_DF_CHECK) b->cookie = 0;
            return b;
        }
        /* The class's first page is out of blocks: one this thread freed into a full
         * page of the class, if any (I10). */
        if ((b = hl_own_pop(h, bin)) != NULL) return b;
    }
    return hl_malloc_generic(h, n);
}

/* Free by the owner, on the generic path: full pages, large blocks, the delayed list. */
void hl_free_local(struct hl_page *pg, struct hl_block *b)
{
    /* secure build: the 0xdf poison is already there (secure.c hold) */
    if (HL_DF_CHECK || HL_SECURE) b->cookie = (uintptr_t)b ^ hl_cookie;
    hl_next_encode(pg, b, pg->free);
    pg->free = b;
    if (HL_UNLIKELY(pg->flags & HL_PAGE_IN_FULL)) hl_page_unfull(pg->heap, pg);
    if (--pg->used == 0)
        hl_page_retire(pg);
    else if (HL_UNLIKELY(pg->own_cached == pg->used))
        hl_own_flush(pg->heap, pg->bin); /* its other live blocks are all cached (I10) */
}

/* Push the chain head..tail of blocks of page pg, freed by a thread that does not own
 * it, onto the page's xthread_free, or onto the owner's delayed list when the page is
 * full and its owner asked to hear of it. The links inside the chain are already set (in
 * the encoding of the page's free lists, which the delayed list shares: the secure build
 * pushes single blocks only), `bytes` their size. */
static inline void push_remote(struct hl_page *pg, struct hl_block *head, struct hl_block *tail,
                               uint32_t bytes)
{
    /* Counted first, while the blocks still hold the segment (I11). */
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    atomic_fetch_add_explicit(&s->remote_bytes, bytes, memory_order_relaxed);
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    for (;;) {
        if ((x & 3) == HL_DELAYED_WANT) {
            /* Become the notifier: BUSY keeps the owner heap alive until we are done. */
            if (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x,
                                                       (x & ~(uintptr_t)3) | HL_DELAYED_BUSY,
                                                       memory_order_acquire, memory_order_relaxed))
                continue;
            struct hl_heap *h = pg->heap;
            uintptr_t d = atomic_load_explicit(&h->delayed_free, memory_order_relaxed);
            do {
                tail->next = (struct hl_block *)d;
            } while (!atomic_compare_exchange_weak_explicit(&h->delayed_free, &d, (uintptr_t)head,
                                                            memory_order_release,
                                                            memory_order_relaxed));
            /* Done: back to NONE (keeping any blocks pushed meanwhile). */
            x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
            while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x, x & ~(uintptr_t)3,
                                                          memory_order_release,
                                                          memory_order_relaxed))
                ;
            return;
        }
        hl_next_encode(pg, tail, (struct hl_block *)(x & ~(uintptr_t)3));
        if (atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x, (uintptr_t)head | (x & 3),
                                                  memory_order_release, memory_order_relaxed))
            return;
    }
}

/* Free by another thread. Large blocks go straight back to their segment. */
static void free_remote(struct hl_segment *s, struct hl_page *pg, struct hl_block *b)
{
    if (pg->kind == HL_PAGE_LARGE) {
        hl_segment_free_page(s, pg);
        return;
    }
    /* secure build: the 0xdf poison is already there (secure.c hold) */
    if (HL_DF_CHECK || HL_SECURE) b->cookie = (uintptr_t)b ^ hl_cookie;
    push_remote(pg, b, b, pg->block_size);
}

/* ---- foreign caches (I8) ------------------------------------------------------------ */

/*
 * A small block freed by a thread that does not own its page stays with that thread, in
 * its heap's foreign cache for the class, and its next malloc of the class takes it once
 * its own first page has no free block (hli_malloc, hl_malloc_bin). Blocks that pass
 * between threads (shared pools, work queues) then cost no atomic operation and no write
 * to the owner's page. What overflows goes home in runs of one page, a CAS per run.
 * jemalloc and tcmalloc get the same effect from thread caches that take any block;
 * mimalloc pays a CAS per free. A thread without a heap (it has never allocated) frees
 * remotely block by block: free does not create heaps.
 */

/* Send the blocks of list `b` (plain links, cookies set) back to their pages. */
static void foreign_send(struct hl_block *b)
{
    uintptr_t me = hl_thread_id();
    while (b) {
        struct hl_segment *s = hl_segment_of(b);
        struct hl_page *pg = hl_page_of(s, b);
        uintptr_t end = (uintptr_t)pg->start + (size_t)pg->reserved * pg->block_size;
        if (atomic_load_explicit(&s->thread_id, memory_order_acquire) == me) {
            /* Ours by now (its segment was abandoned, and this heap reclaimed it). */
            struct hl_block *next = b->next;
            hl_free_local(pg, b);
            b = next;
            continue;
        }
        struct hl_block *tail = b;
        uint32_t n = 1;
        while (tail->next && (uintptr_t)tail->next >= (uintptr_t)pg->start
               && (uintptr_t)tail->next < end) {
            tail = tail->next;
            n++;
        }
        struct hl_block *rest = tail->next;
        push_remote(pg, b, tail, n * pg->block_size);
        b = rest;
    }
}

void hl_foreign_flush(struct hl_heap *h, unsigned bin)
{
    struct hl_block *b = h->foreign[bin];
    h->foreign[bin] = NULL;
    h->foreign_room[bin] = hl_foreign_cap(bin);
    foreign_send(b);
}

void hl_foreign_flush_all(struct hl_heap *h)
{
    for (unsigned bin = 0; bin < HL_FOREIGN_BINS; bin++)
        if (h->foreign[bin]) hl_foreign_flush(h, bin);
}

/* Push b onto the foreign cache of class `bin`, which has room. */
static inline void foreign_push(struct hl_heap *h, unsigned bin, struct hl_block *b)
{
    if (HL_DF_CHECK) b->cookie = (uintptr_t)b ^ hl_cookie;
    b->next = h->foreign[bin];
    h->foreign[bin] = b;
    h->foreign_room[bin]--;
}

/* Keep b, a block of page pg that another heap owns; false: free it remotely. */
static bool foreign_keep(struct hl_page *pg, struct hl_block *b)
{
    struct hl_heap *h = hl_tls_heap;
    unsigned bin = pg->bin;
    if (HL_SECURE || bin >= HL_FOREIGN_BINS || h == &hl_heap_empty) return false;
    if (h->foreign_room[bin] == 0) hl_foreign_flush(h, bin);
    foreign_push(h, bin, b);
    return true;
}

/* Is p the start of a live-looking block of page pg (kind, limit, multiple)? */
static inline bool valid_block(const struct hl_page *pg, const void *p)
{
    uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)pg->start);
    return (uintptr_t)p >= (uintptr_t)pg->start
           && off < __atomic_load_n(&pg->limit, __ATOMIC_RELAXED) && hl_is_block_offset(pg, off);
}

/* ---- own caches (I10) ---------------------------------------------------------------- */

/*
 * A medium page holds 4-6 blocks (a small page of a class above 1 KiB, 8-51), so under
 * random replacement most of the owner's frees of such classes land on a full page, and
 * the malloc after one finds its class's first page exhausted: each such free moved a page
 * from the full queue back to its class's queue (hl_page_unfull) and the next malloc moved
 * a page back (find_page, page_to_full). The own cache ends the round trip: a block of a
 * class above the direct table that its owner frees into a full page goes onto a
 * per-class list of the heap, the page stays in the full queue, and malloc takes the
 * block back when the class's first page has none. It is tcmalloc's per-class thread
 * cache, kept for the one case where a page-local free list costs page moves; the blocks
 * still count as used in their pages (I10), so a page whose blocks sit in the cache is not
 * retired until the cache is flushed. Bounded (hl_own_cap): when a class is full, the
 * free takes the old path. malloc looks at the first page before the cache, so that the
 * fast path of these sizes stays as it was when the cache is empty (one instruction more).
 */

/* hli_malloc pops the own cache of any class above the direct table without a range
 * test: the first of them must be the first cached class. */
_Static_assert(HL_DIRECT_MAX == 1024 && HL_OWN_FIRST == 20,
               "HL_OWN_FIRST is hl_bin(HL_DIRECT_MAX) + 1");

/* Put the blocks of the own cache of class `bin` back onto their pages. */
void hl_own_flush(struct hl_heap *h, unsigned bin)
{
    unsigned i = bin - HL_OWN_FIRST;
    struct hl_block *b = h->own[i];
    h->own[i] = NULL;
    h->own_room[i] = hl_own_cap(bin);
    while (b) {
        struct hl_block *next = b->next;
        struct hl_page *pg = hl_page_of(hl_segment_of(b), b);
        pg->own_cached--;
        hl_free_local(pg, b);
        b = next;
    }
}

void hl_own_flush_all(struct hl_heap *h)
{
    for (unsigned bin = HL_OWN_FIRST; bin < HL_BINS; bin++)
        if (h->own[bin - HL_OWN_FIRST]) hl_own_flush(h, bin);
}

/* The owner's free of a block that missed the fast path (its page is full, or the block
 * is bad): a valid block of a full page of a cached class into the own cache while the
 * class has room, the rest the generic way. */
static HL_NOINLINE void free_owned_slow(struct hl_segment *s, struct hl_page *pg,
                                        struct hl_block *b)
{
    unsigned i = pg->bin - HL_OWN_FIRST; /* HL_BIN_LARGE: out of range */
    struct hl_heap *h = pg->heap;
    if (HL_SECURE || i >= HL_OWN_BINS || !(pg->flags & HL_PAGE_IN_FULL) || h->own_room[i] == 0
        || !valid_block(pg, b) || (HL_DF_CHECK && b->cookie == ((uintptr_t)b ^ hl_cookie))) {
        hl_free_generic(s, pg, b);
        return;
    }
    if (HL_DF_CHECK) b->cookie = (uintptr_t)b ^ hl_cookie;
    b->next = h->own[i];
    h->own[i] = b;
    h->own_room[i]--;
    /* Every live block of the page is in the cache now: the page is empty in truth, and
     * must be retired, not pinned (adversarial: 5.5 to 8.0 MiB peak RSS otherwise, its
     * bulk-freed sizes going quiet). The class goes back onto its pages. */
    if (HL_UNLIKELY(++pg->own_cached == pg->used)) hl_own_flush(h, HL_OWN_FIRST + i);
}

/* noinline: free_owned_slow stays a leaf that tail-calls it (no stack frame on its own
 * cache path). */
HL_NOINLINE void hl_free_generic(struct hl_segment *s, struct hl_page *pg, void *p)
{
    uintptr_t owner = atomic_load_explicit(&s->thread_id, memory_order_acquire);
    if (owner == HL_TID_HUGE) {
        if (p != s->pages[HL_FIRST_SLICE].start) {
            hl_invalid_free(p, "not the start of a block");
            return;
        }
        hl_huge_free(s);
        return;
    }
    if (!pg) pg = hl_page_of(s, p);
    if (!valid_block(pg, p)) {
        hl_invalid_free(p, "not the start of a block");
        return;
    }
    struct hl_block *b = p;
    if (HL_UNLIKELY((HL_DF_CHECK || HL_SECURE) && b->cookie == ((uintptr_t)b ^ hl_cookie))) {
        hl_double_free(p);
        return;
    }
    if (owner == hl_thread_id())
        hl_free_local(pg, b);
    else if (!foreign_keep(pg, b))
        free_remote(s, pg, b);
}

/* free() of NULL, a pointer not ours, or a huge block whose header is in another unit. */
static HL_NOINLINE void free_other(void *p)
{
    struct hl_segment *s = hl_segment_of(p);
    if (s == NULL) {
        if (p) hl_invalid_free(p, "not allocated by hlmalloc");
        return;
    }
    hl_free_generic(s, NULL, p);
}

void hli_free(void *p)
{
    if (HL_SECURE && hl_secure_free(p)) return; /* HOOK secure.c: checks, quarantine */
    /* The segment map tested here rather than through hl_segment_of: a segment starting
     * in p's unit is then known to be non-NULL (two instructions fewer). */
    uintptr_t unit = (uintptr_t)p >> HL_SEG_SHIFT;
    if (HL_UNLIKELY(unit >= HL_MAP_UNITS || hl_segmap[unit] != HL_MAP_START)) {
        free_other(p);
        return;
    }
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)p & ~HL_SEG_MASK);
    uintptr_t owner = atomic_load_explicit(&s->thread_id, memory_order_relaxed);
    struct hl_block *b = p;
    if (HL_LIKELY(owner == hl_thread_id())) {
        struct hl_page *pg = hl_page_of(s, p);
        uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)pg->start);
        if (HL_LIKELY(hl_block_index(pg, off) < pg->fast_count
                      && (!HL_DF_CHECK || b->cookie != ((uintptr_t)b ^ hl_cookie)) && !HL_SECURE)) {
            if (HL_DF_CHECK) b->cookie = (uintptr_t)b ^ hl_cookie;
            b->next = pg->free;
            pg->free = b;
            if (HL_UNLIKELY(--pg->used_quiet == 0)) hl_page_retire(pg);
            return;
        }
        free_owned_slow(s, pg, b);
        return;
    }
    if (owner != HL_TID_HUGE && !HL_SECURE) {
        /* Another heap's block: into this thread's foreign cache (I8) when the class has
         * room and the same checks as above pass (the limit, not fast_count: a full page
         * is no concern of ours). */
        struct hl_page *pg = hl_page_of(s, p);
        struct hl_heap *h = hl_tls_heap;
        unsigned bin = pg->bin;
        if (HL_LIKELY(bin < HL_FOREIGN_BINS && h->foreign_room[bin] != 0 && valid_block(pg, p)
                      && (!HL_DF_CHECK || b->cookie != ((uintptr_t)b ^ hl_cookie)))) {
            foreign_push(h, bin, b);
            return;
        }
        hl_free_generic(s, pg, p);
        return;
    }
    hl_free_generic(s, NULL, p);
}

size_t hli_usable_size(const void *p)
{
    if (HL_SECURE) return hl_secure_usable(p); /* HOOK secure.c: the requested size */
    struct hl_segment *s = hl_segment_of(p);
    if (!s) return 0;
    if (atomic_load_explicit(&s->thread_id, memory_order_acquire) == HL_TID_HUGE)
        return p == s->pages[HL_FIRST_SLICE].start ? s->huge_usable : 0;
    struct hl_page *pg = hl_page_of(s, p);
    if (!valid_block(pg, p)) return 0;
    return pg->block_size;
}

void *hli_calloc(size_t count, size_t size)
{
    if (HL_SECURE) return hl_secure_calloc(count, size); /* HOOK secure.c */
    size_t n;
    if (HL_UNLIKELY(__builtin_mul_overflow(count, size, &n))) {
        errno = ENOMEM;
        return NULL;
    }
    if (n > HL_LARGE_MAX) {
        struct hl_heap *h = hl_tls_heap;
        (void)h;
        return hl_huge_alloc(n, 0, true);
    }
    void *p = hli_malloc(n);
    if (!p) return NULL;
    if (n > HL_MEDIUM_MAX) {
        struct hl_segment *s = hl_segment_of(p);
        if (hl_page_of(s, p)->is_zero) return p; /* fresh or purged slices read as zero */
    }
    memset(p, 0, n);
    return p;
}

/* A large block grows into the free slices right after it, or gives back its tail. */
static bool hl_realloc_large_in_place(void *p, size_t n)
{
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) == HL_TID_HUGE) return false;
    struct hl_page *pg = hl_page_of(s, p);
    uint8_t *span = (uint8_t *)s + ((size_t)(pg - s->pages) << HL_SLICE_SHIFT);
    if (pg->kind != HL_PAGE_LARGE || (uint8_t *)p != span) return false; /* aligned: move */
    uint32_t want = (uint32_t)((n + HL_SLICE_SIZE - 1) >> HL_SLICE_SHIFT);
    if (!hl_segment_resize_large(s, pg, want)) return false;
    uint32_t bytes = want << HL_SLICE_SHIFT;
    pg->block_size = bytes;
    hl_page_set_divisor(pg, bytes);
    __atomic_store_n(&pg->limit, bytes, __ATOMIC_RELAXED);
    pg->fast_count = pg->flags ? 0 : 1;
    return true;
}

/*
 * A buffer grown by realloc, one move after another, leaves the runs it moved out of
 * behind; none fits the next, bigger, size, so they would sit resident until the purge
 * delay. From HL_REALLOC_PURGE up, the old run of a large block this thread owns is purged
 * at once instead: one madvise, beside a copy of at least as many bytes. Below it, the
 * runs are cheaper to keep: python3's growing lists and strings (moves of 256 KiB-1 MiB)
 * reuse them soon, and purging them at 256 KiB cost it 8K more page faults (32.6K
 * against 24.2K, 4% of its time) for no lower peak RSS.
 */
#define HL_REALLOC_PURGE (1024u * 1024)

static bool realloc_free_purged(void *p)
{
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) != hl_thread_id()) return false;
    struct hl_page *pg = hl_page_of(s, p);
    if (pg->kind != HL_PAGE_LARGE || HL_SECURE) return false;
    pg->used = 0;
    hl_segment_free_page_purged(s, pg);
    return true;
}

/*
 * The size a small or medium block moved by realloc to grow gets: at least a quarter more
 * than it had, as tcmalloc does, so that a buffer grown a few bytes at a time (a string
 * appended to) moves less often than at every size class (16 B apart up to 128 B, then 4
 * to a power of two). realloc-grow (strings appended to in 1-64 B steps, or doubled):
 * memcpy instructions per 200K ops 28.4M to 17.7M (tcmalloc 18.4M), throughput 0.79x to
 * 0.92x tcmalloc's (`heaplab bench -w realloc-grow -r 7`), peak RSS +4%.
 */
static size_t realloc_size(size_t n, size_t usable)
{
    size_t more = usable + usable / 4;
    return n > usable && n < more && more <= HL_MEDIUM_MAX ? more : n;
}

void *hli_realloc(void *p, size_t n)
{
    if (!p) return hli_malloc(n);
    if (n == 0) { /* glibc: frees and returns NULL */
        hli_free(p);
        return NULL;
    }
    if (HL_SECURE) return hl_secure_realloc(p, n); /* HOOK secure.c: canaries re-armed */
    size_t usable = hli_usable_size(p);
    if (usable == 0) {
        hl_invalid_free(p, "realloc of a pointer hlmalloc did not hand out");
        errno = EINVAL;
        return NULL;
    }
    /* Stay in place when the block fits and would not waste more than half of it. */
    if (n <= usable && n >= usable / 2) return p;
    if (!HL_SECURE && n <= HL_LARGE_MAX && n > HL_MEDIUM_MAX && hl_realloc_large_in_place(p, n))
        return p;
    if (!HL_SECURE && n > HL_LARGE_MAX && usable > HL_LARGE_MAX) {
        struct hl_segment *s = hl_segment_of(p);
        void *q = hl_huge_realloc(s, p, n);
        if (q) return q;
    }
    void *q = hli_malloc(realloc_size(n, usable));
    if (!q) q = hli_malloc(n);
    if (!q) return NULL; /* p stays valid */
    memcpy(q, p, n < usable ? n : usable);
    if (usable >= HL_REALLOC_PURGE && n > usable && realloc_free_purged(p)) return q;
    hli_free(p);
    return q;
}

void *hli_aligned(size_t align, size_t n)
{
    if (align <= HL_ALIGN) return hli_malloc(n);
    if (HL_SECURE) return hl_secure_aligned(align, n); /* HOOK secure.c: canaries */
    return hl_aligned_block(align, n);
}

void *hl_aligned_block(size_t align, size_t n)
{
    if (n > SIZE_MAX - align - HL_SLICE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    struct hl_heap *h = hl_tls_heap;
    if (align <= HL_SLICE_SIZE) {
        size_t want = n > align ? n : align;
        if (want <= HL_MEDIUM_MAX) {
            /* Pages start 64 KiB aligned: a class whose block size is a multiple of
             * `align` hands out aligned blocks (a power of two >= want always is). */
            unsigned bin = hl_bin(want);
            while (bin < HL_BINS && hl_bin_size(bin) % align != 0)
                bin++;
            if (bin < HL_BINS) {
                if (h == &hl_heap_empty && !(h = hl_heap_get())) {
                    errno = ENOMEM;
                    return NULL;
                }
                return hl_malloc_bin(h, bin);
            }
        }
        if (n <= HL_LARGE_MAX) return hl_alloc_large(h, n, 0);
        return hl_huge_alloc(n, align, false);
    }
    if (n + align <= HL_LARGE_MAX) return hl_alloc_large(h, n, align);
    return hl_huge_alloc(n, align, false);
}

/* ---- exported hl_ names ------------------------------------------------------------- */

static int is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/*
 * The exported names of the four hot functions are aliases of their implementations, not
 * wrappers: a call lands on the body itself, with no jump in between (a wrapper's jump cost
 * json-tree and small 3% each, `heaplab __worker --pin 0`, medians of 9 interleaved runs).
 * The standard names are defined here only in the libraries that override malloc
 * (HL_OVERRIDE; override.c has the rest of them).
 */
#define HL_ALIAS(impl) __attribute__((alias(#impl), visibility("default")))

extern __typeof(hli_malloc) hl_malloc HL_ALIAS(hli_malloc);
extern __typeof(hli_free) hl_free HL_ALIAS(hli_free);
extern __typeof(hli_calloc) hl_calloc HL_ALIAS(hli_calloc);
extern __typeof(hli_realloc) hl_realloc HL_ALIAS(hli_realloc);
#if HL_OVERRIDE
/* In the static library, whatever pulls this object in (malloc, free) must pull in
 * override.c's object too, or posix_memalign and the rest would resolve to the C
 * library's and hand it blocks it never made. */
extern const char hl_override_anchor;
__attribute__((used)) static const char *const hl_override_pull = &hl_override_anchor;
extern __typeof(hli_malloc) malloc HL_ALIAS(hli_malloc);
extern __typeof(hli_free) free HL_ALIAS(hli_free);
extern __typeof(hli_calloc) calloc HL_ALIAS(hli_calloc);
extern __typeof(hli_realloc) realloc HL_ALIAS(hli_realloc);
#endif

HL_API void *hl_reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hli_realloc(p, n);
}

HL_API void hl_free_sized(void *p, size_t size)
{
    (void)size;
    hli_free(p);
}

HL_API void hl_free_aligned_sized(void *p, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    hli_free(p);
}

HL_API void *hl_aligned_alloc(size_t alignment, size_t size)
{
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return hli_aligned(alignment, size);
}

HL_API int hl_posix_memalign(void **out, size_t alignment, size_t size)
{
    if (!is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = hli_aligned(alignment, size);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

HL_API void *hl_memalign(size_t alignment, size_t size)
{
    /* glibc rounds a non-power-of-two alignment up to the next power of two. */
    if (alignment > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(alignment)) {
        size_t a = 1;
        while (a < alignment)
            a <<= 1;
        alignment = a;
    }
    return hli_aligned(alignment, size);
}

HL_API void *hl_valloc(size_t size)
{
    return hli_aligned(4096, size);
}

HL_API void *hl_pvalloc(size_t size)
{
    size_t rounded = (size + 4095) & ~(size_t)4095;
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return hli_aligned(4096, rounded ? rounded : 4096);
}

HL_API size_t hl_usable_size(const void *p)
{
    return hli_usable_size(p);
}

HL_API const char *hl_version(void)
{
    return HL_SECURE ? "hlmalloc " HEAPLAB_VERSION " secure" : "hlmalloc " HEAPLAB_VERSION;
}

HL_API void hl_collect(void)
{
    struct hl_heap *h = hl_tls_heap;
    if (h != &hl_heap_empty) {
        hl_heap_delayed_free(h);
        hl_heap_collect(h, true); /* its foreign caches go home first: the sweep sees them */
    }
    hl_abandoned_sweep(UINT32_MAX); /* exited threads' blocks freed since */
    hl_purge_all(true);
    hl_os_retry_unmaps(); /* munmaps that failed before */
}
