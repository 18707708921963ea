/*
 * hlmalloc/page.c: pages and the malloc slow path.
 *
 * The slow path runs when the direct page of a size has no free block. It (1) takes the
 * blocks other threads freed into full pages (the heap's delayed list), (2) walks at most
 * HL_SEARCH pages of the size's queue, moving each page's xthread_free into its free list
 * and carving at most 4 KiB of fresh blocks at a time, moving pages with nothing left to
 * the full queue, (3) adopts segments that exited threads abandoned (up to
 * HL_RECLAIM_TRIES) until one has a page of the size with room, and (4) only then takes
 * new slices for a fresh page. The owner's frees
 * go straight onto `free` (LIFO), so a size that is freed as often as it is allocated
 * never comes here; extending by 4 KiB at a time keeps RSS near what is used.
 */
#include <errno.h>

#include "hlmalloc/internal.h"

#define HL_SEARCH        8          /* pages of a queue examined per slow path */
#define HL_RECLAIM_TRIES 8          /* exited threads' segments adopted before a fresh page */
#define HL_SORT_MIN      256        /* free blocks a page needs for its list to be sorted */
#define HL_EXTEND        4096       /* bytes of fresh blocks carved at a time */
#define HL_COLLECT_EVERY 1024       /* slow-path calls between heap housekeeping */
#define HL_REMOTE_LOOK   16         /* slow-path calls between looks at remote frees (I11) */
#define HL_KEEP_BUDGET   (4u << 20) /* carved bytes of empty pages a heap keeps for reuse */
#define HL_KEEP_IDLE     64         /* slow-path calls a kept empty page may sit unused */
#define HL_KEEP_COLD     48         /* idle slow calls after which it gives way to a new page */

void hl_page_set_divisor(struct hl_page *pg, uint32_t d)
{
    /* d = odd * 2^k. off is a multiple of d iff off * inv(odd) (mod 2^32), rotated right
     * by k, is at most floor((2^32 - 1) / d) (Hacker's Delight 10-17). */
    unsigned k = (unsigned)__builtin_ctz(d);
    uint32_t odd = d >> k, inv = odd; /* Newton: inv = inv * (2 - odd * inv) */
    for (int i = 0; i < 5; i++)
        inv *= 2 - odd * inv;
    pg->div_mul = inv;
    pg->div_shift = (uint8_t)k;
    pg->div_max = UINT32_MAX / d;
}

/* ---- queues ------------------------------------------------------------------------- */

static void queue_remove(struct hl_page_queue *q, struct hl_page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        q->first = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    else
        q->last = pg->prev;
    pg->next = pg->prev = NULL;
    q->count--;
}

static void queue_push_front(struct hl_page_queue *q, struct hl_page *pg)
{
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first)
        q->first->prev = pg;
    else
        q->last = pg;
    q->first = pg;
    q->count++;
}

static void queue_push_back(struct hl_page_queue *q, struct hl_page *pg)
{
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last)
        q->last->next = pg;
    else
        q->first = pg;
    q->last = pg;
    q->count++;
}

/* Point the direct slots of `bin` at its queue's head (I7). */
static void set_direct(struct hl_heap *h, unsigned bin)
{
    size_t size = hl_bin_size(bin);
    if (size > HL_DIRECT_MAX) return;
    size_t lo = bin == 0 ? 0 : hl_bin_size(bin - 1) / 16 + 1, hi = size / 16;
    struct hl_page *pg = h->bins[bin].first ? h->bins[bin].first : &hl_page_empty;
    for (size_t i = lo; i <= hi; i++)
        h->direct[i] = pg;
}

/* ---- free lists --------------------------------------------------------------------- */

/* Carve up to HL_EXTEND bytes of fresh blocks onto the free list (which is empty). */
static void page_extend(struct hl_page *pg)
{
    uint32_t bs = pg->block_size;
    uint32_t n = HL_EXTEND / bs;
    if (n == 0) n = 1;
    if (n > pg->reserved - pg->capacity) n = pg->reserved - pg->capacity;
    uint8_t *first = pg->start + (size_t)pg->capacity * bs;
    struct hl_block *b = (struct hl_block *)first;
    for (uint32_t i = 0; i + 1 < n; i++) {
        struct hl_block *next = (struct hl_block *)((uint8_t *)b + bs);
        hl_next_encode(pg, b, next);
        if (HL_SECURE) b->cookie = (uintptr_t)b ^ hl_cookie;
        if (HL_SECURE)
            memset((uint8_t *)b + sizeof(struct hl_block), 0xdf, bs - sizeof(struct hl_block));
        b = next;
    }
    hl_next_encode(pg, b, pg->free);
    if (HL_SECURE) b->cookie = (uintptr_t)b ^ hl_cookie;
    if (HL_SECURE)
        memset((uint8_t *)b + sizeof(struct hl_block), 0xdf, bs - sizeof(struct hl_block));
    pg->free = (struct hl_block *)first;
    pg->capacity += n;
    /* Other threads read the limit to validate a remote free (below the old limit either
     * way): relaxed atomic, no ordering needed. */
    __atomic_store_n(&pg->limit, pg->capacity * bs, __ATOMIC_RELAXED);
    pg->fast_count = pg->flags ? 0 : pg->capacity;
}

/* Move remote frees into the free list (owner only). */
void hl_page_collect(struct hl_page *pg)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    if ((x & ~(uintptr_t)3) == 0) return;
    /* Take the whole list, keeping the delayed-state bits (acquire: pairs with the
     * release CAS of the pushing thread, so the blocks' next fields are visible). */
    while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x, x & 3,
                                                  memory_order_acquire, memory_order_relaxed))
        ;
    struct hl_block *head = (struct hl_block *)(x & ~(uintptr_t)3), *tail = head;
    uint32_t n = 1;
    struct hl_block *next;
    while ((next = hl_next_decode(pg, tail)) != NULL) {
        tail = next;
        n++;
    }
    hl_next_encode(pg, tail, pg->free);
    pg->free = head;
    pg->used -= n;
}

/* ---- full pages and the delayed list ------------------------------------------------ */

/* Set a page's delayed state to `want` unless BUSY or NEVER (then leave it). */
static void set_delayed(struct hl_page *pg, uintptr_t want)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    for (;;) {
        uintptr_t st = x & 3;
        if (st == HL_DELAYED_BUSY || st == HL_DELAYED_NEVER || st == want) return;
        if (atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x, (x & ~(uintptr_t)3) | want,
                                                  memory_order_release, memory_order_relaxed))
            return;
    }
}

static void unkeep(struct hl_heap *h, struct hl_page *pg);

/* Move a page with no free block to the full queue; false if blocks arrived meanwhile. A
 * kept page that fills is kept no longer (I12: kept pages are in their bin's queue). */
static bool page_to_full(struct hl_heap *h, struct hl_page *pg)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    for (;;) {
        if ((x & ~(uintptr_t)3) != 0) return false; /* a remote free came in: collect it instead */
        uintptr_t st = x & 3;
        if (st != HL_DELAYED_NONE) break;
        if (atomic_compare_exchange_weak_explicit(&pg->xthread_free, &x, HL_DELAYED_WANT,
                                                  memory_order_release, memory_order_relaxed))
            break;
    }
    if (pg->kept) unkeep(h, pg);
    queue_remove(&h->bins[pg->bin], pg);
    queue_push_back(&h->full, pg);
    pg->flags |= HL_PAGE_IN_FULL;
    pg->fast_count = 0;
    return true;
}

/* The bytes a kept page counts for in h->kept_bytes: those carved into blocks. */
static uint64_t kept_size(const struct hl_page *pg)
{
    return (uint64_t)pg->capacity * pg->block_size;
}

/* A kept page is no longer kept; the heap's count of kept bytes drops by its size. */
static void unkeep(struct hl_heap *h, struct hl_page *pg)
{
    uint64_t bytes = kept_size(pg);
    hl_page_forget_kept(pg);
    h->kept_bytes = h->kept_bytes > bytes ? h->kept_bytes - bytes : 0;
}

/* The kept page of a bin, or NULL: a kept page is only ever its bin's only page
 * (bin_gains_page), so hl_heap_trim_kept and hl_heap_release_kept look at one page a bin. */
static struct hl_page *bin_kept(const struct hl_heap *h, unsigned bin)
{
    struct hl_page *pg = h->bins[bin].first;
    return pg && pg->kept && h->bins[bin].count == 1 ? pg : NULL;
}

/* A bin is about to get another page: the page there, if kept, is kept no longer. */
static void bin_gains_page(struct hl_heap *h, unsigned bin)
{
    struct hl_page *first = h->bins[bin].first;
    if (first && first->kept) unkeep(h, first);
}

void hl_page_adopt(struct hl_heap *h, struct hl_page *pg)
{
    bin_gains_page(h, pg->bin);
    hl_page_forget_kept(pg); /* a page from an exited thread's heap: its keeping was that heap's */
    queue_push_back(&h->bins[pg->bin], pg);
    if (h->bins[pg->bin].first == pg) set_direct(h, pg->bin);
}

void hl_page_unfull(struct hl_heap *h, struct hl_page *pg)
{
    queue_remove(&h->full, pg);
    pg->flags &= (uint8_t)~HL_PAGE_IN_FULL;
    pg->fast_count = pg->capacity;
    set_delayed(pg, HL_DELAYED_NONE);
    hl_page_adopt(h, pg);
}

void hl_heap_delayed_free(struct hl_heap *h)
{
    uintptr_t x = atomic_exchange_explicit(&h->delayed_free, 0, memory_order_acquire);
    struct hl_block *b = (struct hl_block *)x;
    while (b) {
        struct hl_block *next = b->next; /* plain link on the delayed list */
        struct hl_segment *s = hl_segment_of(b);
        hl_free_local(hl_page_of(s, b), b);
        b = next;
    }
}

/* ---- page life ---------------------------------------------------------------------- */

/*
 * Slices of a page of block size bs: 1 up to 8 KiB. Above, the fewest slices that hold 4
 * blocks (or as many as HL_MEDIUM_SLICES hold, for 80-128 KiB) and leave at most an eighth
 * of the page unused: 10-16 KiB blocks in 64 KiB pages, 20-32 KiB in 128 KiB, 48 and
 * 96 KiB in 192 KiB, the rest in 256 KiB. Each size with a page partly in use pins up to
 * a page, so a page holds few blocks: medium pages were 512 KiB until 2026-11-22, then
 * 256 KiB for every medium size (`medium` 29.55 to 26.05 MiB peak RSS, nginx-requests 7.81
 * to 5.73), then these (python-repl 12.3 to 11.8 MiB, adversarial 5.78 to 5.48, kvstore
 * 22.8 to 22.0; see docs/hlmalloc.md).
 */
uint32_t hl_page_slices(size_t bs)
{
    if (bs <= HL_SMALL_MAX) return 1;
    size_t want = ((size_t)HL_MEDIUM_SLICES << HL_SLICE_SHIFT) / bs;
    if (want > 4) want = 4;
    for (uint32_t k = 1; k < HL_MEDIUM_SLICES; k++) {
        size_t bytes = (size_t)k << HL_SLICE_SHIFT;
        if (bytes / bs >= want && bytes % bs <= bytes / 8) return k;
    }
    return HL_MEDIUM_SLICES;
}

static struct hl_page *page_new(struct hl_heap *h, unsigned bin)
{
    size_t bs = hl_bin_size(bin);
    uint32_t slices = hl_page_slices(bs);
    struct hl_page *pg = hl_segment_take_slices(h, slices, NULL);
    if (!pg) return NULL;
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    size_t bytes = (size_t)slices << HL_SLICE_SHIFT;
    pg->start = (uint8_t *)s + ((size_t)(pg - s->pages) << HL_SLICE_SHIFT);
    if (HL_SECURE) {
        /* A guard page ends every page: an overflow off the last block faults. */
        bytes -= 4096;
        hl_os_protect(pg->start + bytes, 4096, 1);
        pg->key = hl_os_random();
    }
    pg->kind = bs <= HL_SMALL_MAX ? HL_PAGE_SMALL : HL_PAGE_MEDIUM;
    pg->bin = (uint8_t)bin;
    pg->block_size = (uint32_t)bs;
    pg->reserved = (uint32_t)(bytes / bs);
    pg->heap = h;
    pg->own_cached = 0;
    hl_page_set_divisor(pg, (uint32_t)bs);
    bin_gains_page(h, bin);
    queue_push_front(&h->bins[bin], pg);
    set_direct(h, bin);
    return pg;
}

/* A page with no live block: give its slices back unless it is the last page of its size,
 * which stays so that a loop allocating and freeing one block does not churn pages. */
void hl_page_retire(struct hl_page *pg)
{
    struct hl_heap *h = pg->heap;
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    if (pg->kind == HL_PAGE_LARGE) {
        hl_segment_free_page(s, pg);
        return;
    }
    if (pg->flags & HL_PAGE_IN_FULL) hl_page_unfull(h, pg);
    if (pg->kept) {
        /* Kept already (it emptied before and was reused since): only its time moves on,
         * and it goes quiet again (I12). */
        pg->kept_since = h->heartbeat;
        pg->quiet = 1;
        return;
    }
    struct hl_page_queue *q = &h->bins[pg->bin];
    if (q->count <= 1) {
        /* The last page of its size stays, so a size allocated and freed in a loop does
         * not churn pages; a heap keeps at most HL_KEEP_BUDGET bytes of such pages, the
         * longest-kept going back first, so sizes that went quiet do not pin memory. */
        pg->kept = 1;
        pg->quiet = 1;
        h->kept_bytes += kept_size(pg);
        pg->kept_since = h->heartbeat;
        if (h->retired_min > pg->bin) h->retired_min = pg->bin;
        if (h->retired_max < pg->bin || h->retired_max >= HL_BINS) h->retired_max = pg->bin;
        if (h->kept_bytes > HL_KEEP_BUDGET) hl_heap_trim_kept(h, false);
        return;
    }
    queue_remove(q, pg);
    set_direct(h, pg->bin);
    hl_segment_free_page(s, pg);
}

/*
 * Relink a small page's free list in address order when the slow path takes the page up
 * with at least HL_SORT_MIN blocks and half its carved blocks free: a structure the program
 * freed in bulk. Then the objects the program allocates next, one after another, ascend
 * through memory, as jemalloc's lowest-free-slot rule has them, instead of coming back in
 * the scattered order of the frees (LIFO), and the program's own walks over them run
 * forward through memory. python3 alloc_heavy.py: 3.49 s instead of 4.00 s (jemalloc 3.75;
 * medians of 5 interleaved runs). One walk marks the free blocks in a bitmap (one bit a
 * block: index = offset / block_size by the page's multiply-and-rotate), a second links
 * them in order: about 14 instructions a block. The thresholds keep it off pages that
 * merely alternate with a full one (thread-local, churn, kvstore: no sorts at all), where
 * it would add more than 10% to the allocator's instructions; json-tree pays 7%
 * (callgrind, `heaplab __worker`).
 */
static void page_sort_free(struct hl_page *pg)
{
    uint32_t nfree = pg->capacity - pg->used;
    if (nfree < HL_SORT_MIN || nfree * 2 < pg->capacity) return;
    uint64_t map[(HL_SLICE_SIZE / HL_ALIGN) / 64]; /* a small page's most blocks */
    uint32_t words = (pg->capacity + 63) >> 6;
    memset(map, 0, (size_t)words * sizeof(uint64_t));
    for (struct hl_block *b = pg->free; b; b = hl_next_decode(pg, b)) {
        /* off is a multiple of block_size = odd * 2^k: off * inv(odd), rotated right by
         * k, is off / block_size exactly (see hl_page_set_divisor). */
        uint32_t q = (uint32_t)((uintptr_t)b - (uintptr_t)pg->start) * pg->div_mul;
        q = (q >> pg->div_shift) | (q << ((32 - pg->div_shift) & 31));
        map[q >> 6] |= (uint64_t)1 << (q & 63);
    }
    struct hl_block *head = NULL, *prev = NULL;
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t bits = map[w]; bits; bits &= bits - 1) {
            uint32_t q = (w << 6) | (uint32_t)__builtin_ctzll(bits);
            struct hl_block *b = (struct hl_block *)(pg->start + (size_t)q * pg->block_size);
            if (prev)
                hl_next_encode(pg, prev, b);
            else
                head = b;
            prev = b;
        }
    }
    if (prev) hl_next_encode(pg, prev, NULL);
    pg->free = head;
}

/*
 * A page of `bin` with room among those of segment s, just reclaimed from an exited thread
 * (its pages are in h's bin queues now, hl_reclaim_abandoned): moved to the front of its
 * queue. Without it, a short thread's first malloc of a size took a fresh page even as it
 * adopted pages of that size holding a block or two: under thread churn (issue 17, item
 * 2) every thread left such a page behind, and the pages grew with the threads that had
 * lived (12.2 MiB peak RSS after 20,000 threads, 7.7 after 2,000).
 */
static struct hl_page *reclaimed_page(struct hl_heap *h, struct hl_segment *s, unsigned bin)
{
    struct hl_page_queue *q = &h->bins[bin];
    for (uint32_t i = HL_FIRST_SLICE; i < s->slices; i++) {
        struct hl_page *pg = &s->pages[i];
        if (pg->slice_back != 0 || pg->slice_count == 0 || pg->bin != bin) continue;
        if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM) continue;
        if (pg->heap != h || (pg->flags & HL_PAGE_IN_FULL)) continue;
        if (!pg->free && pg->capacity < pg->reserved) page_extend(pg);
        if (!pg->free) continue;
        if (pg->kind == HL_PAGE_SMALL) page_sort_free(pg);
        if (q->first != pg) {
            queue_remove(q, pg);
            queue_push_front(q, pg);
        }
        return pg;
    }
    return NULL;
}

static struct hl_page *find_page(struct hl_heap *h, unsigned bin)
{
    struct hl_page_queue *q = &h->bins[bin];
    struct hl_page *pg = q->first;
    for (int i = 0; pg && i < HL_SEARCH; i++) {
        struct hl_page *next = pg->next;
        if (!pg->free) hl_page_collect(pg);
        if (pg->free && pg->kind == HL_PAGE_SMALL) page_sort_free(pg);
        if (!pg->free && pg->capacity < pg->reserved) page_extend(pg);
        if (pg->free) {
            if (q->first != pg) {
                queue_remove(q, pg);
                queue_push_front(q, pg);
            }
            set_direct(h, bin);
            return pg;
        }
        if (!page_to_full(h, pg)) {
            hl_page_collect(pg);
            if (pg->free) {
                if (q->first != pg) {
                    queue_remove(q, pg);
                    queue_push_front(q, pg);
                }
                set_direct(h, bin);
                return pg;
            }
        }
        pg = next;
    }
    /* Before a fresh page: exited threads' segments (issue 17, item 2). */
    for (int i = 0; i < HL_RECLAIM_TRIES; i++) {
        struct hl_segment *s = hl_reclaim_abandoned(h);
        if (!s) break;
        if ((pg = reclaimed_page(h, s, bin))) {
            set_direct(h, bin);
            return pg;
        }
    }
    set_direct(h, bin);
    pg = page_new(h, bin);
    if (pg) page_extend(pg);
    return pg;
}

/* Housekeeping every HL_COLLECT_EVERY slow calls, or all of it when forced. */
void hl_heap_collect(struct hl_heap *h, bool force)
{
    if (HL_DEBUG) hl_debug_check("housekeeping");
    uint64_t now = hl_os_now_ms();
    /* Other heaps' blocks go home (I8): a thread that stopped allocating some size must
     * not pin its owner's pages for long. */
    hl_foreign_flush_all(h);
    /* Our own cached blocks go back onto their pages (I10): a page whose last live blocks
     * sit there can then be retired. */
    hl_own_flush_all(h);
    if (force) {
        /* Give back even the last empty page of each size. */
        for (unsigned bin = 0; bin < HL_BINS; bin++) {
            struct hl_page *pg = h->bins[bin].first;
            while (pg) {
                struct hl_page *next = pg->next;
                hl_page_collect(pg);
                if (pg->used == 0) {
                    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
                    queue_remove(&h->bins[bin], pg);
                    hl_segment_free_page(s, pg);
                }
                pg = next;
            }
            set_direct(h, bin);
        }
    }
    /* Release segments with no page left (keep one spare), purge what is due. */
    bool spare = false;
    struct hl_segment *s = h->segments;
    while (s) {
        struct hl_segment *next = s->next;
        uint32_t used = hl_segment_used(s);
        if (used == 0 && (spare || force)) {
            if (s->prev)
                s->prev->next = s->next;
            else
                h->segments = s->next;
            if (s->next) s->next->prev = s->prev;
            hl_segment_release(s);
        } else {
            if (used == 0) spare = true;
            hl_segment_purge(s, now, force);
        }
        s = next;
    }
}

/* Do the n bytes at p (8-aligned, n a multiple of 8) still hold free()'s 0xdf fill? A
 * word at a time, and no early exit: the loop vectorizes (tclsh under the secure build
 * spent two thirds of its time here when it went a byte at a time). */
typedef uint64_t hl_word_alias __attribute__((may_alias));
static bool fill_intact(const uint8_t *p, size_t n)
{
    const hl_word_alias *w = (const hl_word_alias *)(const void *)p;
    uint64_t diff = 0;
    for (size_t i = 0; i < n / 8; i++)
        diff |= w[i] ^ 0xdfdfdfdfdfdfdfdfULL;
    return diff == 0;
}

/* Pop a block from a page known to have one. */
static inline void *page_pop(struct hl_page *pg)
{
    struct hl_block *b = pg->free;
    if (HL_SECURE) {
        /* Everything a freed block carries must be as free() left it: the cookie, the
         * link (NULL or a block of this page) and the 0xdf fill. */
        struct hl_block *next = hl_next_decode(pg, b);
        uint32_t off = (uint32_t)((uintptr_t)next - (uintptr_t)pg->start);
        if (b->cookie != ((uintptr_t)b ^ hl_cookie)
            || (next != NULL
                && ((uintptr_t)next < (uintptr_t)pg->start || off >= pg->limit
                    || !hl_is_block_offset(pg, off))))
            hl_secure_fail("write to freed memory", b, pg->block_size,
                           "the free-list link and cookie, on malloc");
        if (!fill_intact((const uint8_t *)b + sizeof(struct hl_block),
                         pg->block_size - sizeof(struct hl_block)))
            hl_secure_fail("write to freed memory", b, pg->block_size,
                           "the poison of free blocks, on malloc");
    }
    pg->free = hl_next_decode(pg, b);
    pg->used_quiet++; /* the whole word, as free decrements it (I12) */
    b->cookie = 0;
    return b;
}

/* A kept page goes back to its segment (its slices become resident free ones). */
static void kept_give_back(struct hl_heap *h, struct hl_page *pg)
{
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    unsigned bin = pg->bin;
    unkeep(h, pg);
    queue_remove(&h->bins[bin], pg);
    set_direct(h, bin);
    hl_segment_free_page(s, pg);
}

/* Give back the longest-kept page of exactly n slices that has sat unused for HL_KEEP_COLD
 * slow calls, so that a new page of n slices can take its place (segment.c). An exact
 * match: a medium page cut up for small ones broke the runs webserver's medium sizes need.
 * false if there is none. */
bool hl_heap_release_kept(struct hl_heap *h, uint32_t n)
{
    struct hl_page *oldest = NULL;
    for (unsigned b = h->retired_min; b <= h->retired_max && b < HL_BINS; b++) {
        struct hl_page *pg = bin_kept(h, b);
        if (!pg || pg->used != 0 || pg->slice_count != n) continue;
        if (h->heartbeat - pg->kept_since < HL_KEEP_COLD) continue;
        if (pg->quiet) {
            pg->quiet = 0; /* it may have emptied lately: the next look knows (I12) */
            continue;
        }
        if (!oldest || pg->kept_since < oldest->kept_since) oldest = pg;
    }
    if (!oldest) return false;
    kept_give_back(h, oldest);
    return true;
}

/* Forget kept pages that are in use again, give back those idle for HL_KEEP_IDLE slow
 * calls (`idle`), then the longest-kept until the heap is within HL_KEEP_BUDGET. Runs when
 * over budget, and every 64 slow calls while pages are kept. */
void hl_heap_trim_kept(struct hl_heap *h, bool idle)
{
    for (;;) {
        struct hl_page *oldest = NULL;
        unsigned lo = HL_BINS, hi = 0;
        uint64_t bytes = 0;
        for (unsigned b = h->retired_min; b <= h->retired_max && b < HL_BINS; b++) {
            struct hl_page *pg = bin_kept(h, b);
            if (!pg) continue;
            if (pg->used != 0) {
                hl_page_forget_kept(pg); /* in use again */
                continue;
            }
            if (idle && !pg->quiet && h->heartbeat - pg->kept_since > HL_KEEP_IDLE) {
                kept_give_back(h, pg); /* a size gone quiet */
                continue;
            }
            if (idle) pg->quiet = 0; /* the next trim sees whether it empties again (I12) */
            bytes += kept_size(pg);
            if (!oldest || pg->kept_since < oldest->kept_since) oldest = pg;
            if (b < lo) lo = b;
            if (b > hi) hi = b;
        }
        h->kept_bytes = bytes;
        h->retired_min = (uint8_t)lo;
        h->retired_max = (uint8_t)hi;
        idle = false;
        if (bytes <= HL_KEEP_BUDGET || !oldest) return;
        kept_give_back(h, oldest);
    }
}

void *hl_malloc_bin(struct hl_heap *h, unsigned bin)
{
    if (bin < HL_FOREIGN_BINS && h->foreign[bin]) {
        /* A block another thread owns, freed here (I8), before our pages' other sources
         * (a class's first page without a free block is why we are here). */
        struct hl_page *first = h->bins[bin].first;
        if (!first || !first->free) return hl_foreign_pop(h, bin);
    }
    if (bin >= HL_OWN_FIRST && h->own[bin - HL_OWN_FIRST])
        return hl_own_pop(h, bin); /* one of ours freed into a full page (I10) */
    if (HL_UNLIKELY(atomic_load_explicit(&h->delayed_free, memory_order_relaxed) != 0))
        hl_heap_delayed_free(h);
    if (HL_UNLIKELY(++h->heartbeat % HL_COLLECT_EVERY == 0)) hl_heap_collect(h, false);
    if (h->heartbeat % HL_REMOTE_LOOK == 0) hl_heap_collect_remote(h);
    if (HL_DEBUG >= 2 && h->heartbeat % 64 == 0) hl_debug_check("slow path");
    if (h->kept_bytes != 0 && (h->heartbeat & 63) == 0) hl_heap_trim_kept(h, true);
    struct hl_page *pg = h->bins[bin].first;
    if (!pg || !pg->free) pg = find_page(h, bin);
    if (HL_UNLIKELY(!pg)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = page_pop(pg);
    hl_purger_poke();
    return p;
}

void *hl_malloc_generic(struct hl_heap *h, size_t n)
{
    if (HL_UNLIKELY(h == &hl_heap_empty)) {
        h = hl_heap_get();
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
    }
    if (n <= HL_MEDIUM_MAX) return hl_malloc_bin(h, hl_bin(n));
    void *p;
    if (n <= HL_LARGE_MAX)
        p = hl_alloc_large(h, n, 0);
    else
        p = hl_huge_alloc(n, 0, false);
    hl_purger_poke();
    return p;
}

/* ---- large blocks: one block per run of slices -------------------------------------- */

void *hl_alloc_large(struct hl_heap *h, size_t n, size_t align)
{
    if (HL_UNLIKELY(h == &hl_heap_empty)) {
        h = hl_heap_get();
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
    }
    size_t extra = align > HL_SLICE_SIZE ? align - HL_SLICE_SIZE : 0;
    size_t guard = HL_SECURE ? 4096 : 0;
    size_t need = n + extra + guard;
    uint32_t slices = (uint32_t)((need + HL_SLICE_SIZE - 1) >> HL_SLICE_SHIFT);
    int is_zero = 0;
    struct hl_page *pg = hl_segment_take_slices(h, slices, &is_zero);
    if (!pg) {
        errno = ENOMEM;
        return NULL;
    }
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    uint8_t *span = (uint8_t *)s + ((size_t)(pg - s->pages) << HL_SLICE_SHIFT);
    uint8_t *end = span + ((size_t)slices << HL_SLICE_SHIFT) - guard;
    uint8_t *start = span;
    if (align > HL_SLICE_SIZE)
        start = (uint8_t *)(((uintptr_t)span + align - 1) & ~(uintptr_t)(align - 1));
    pg->kind = HL_PAGE_LARGE;
    pg->bin = HL_BIN_LARGE;
    pg->start = start;
    pg->block_size = (uint32_t)(end - start);
    pg->reserved = pg->capacity = 1;
    pg->used = 1;
    pg->limit = pg->block_size;
    pg->fast_count = pg->capacity;
    pg->heap = h;
    pg->is_zero = (uint8_t)is_zero;
    hl_page_set_divisor(pg, pg->block_size);
    if (HL_SECURE) hl_os_protect(end, 4096, 1);
    ((struct hl_block *)start)->cookie = 0;
    hl_purger_poke();
    return start;
}
