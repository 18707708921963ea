/*
 * hlmalloc/huge.c: blocks larger than HL_LARGE_MAX, one mapping each.
 *
 * A huge segment starts at a 32 MiB boundary with a 64 KiB header; the block starts
 * `off` bytes after it: 64 KiB, or the alignment asked for up to 32 MiB, or for a larger
 * alignment 32 MiB (the segment is placed so that the block is aligned). The address
 * space between the header and a block further than 64 KiB away is unmapped again: it
 * would count under `ulimit -v` and, being charged memory, against the overcommit policy.
 * The segment map marks the header's unit, and the block's unit when it is another
 * (HL_MAP_BACK), so free() finds the header from the block start and rejects interior
 * pointers. Freed huge blocks are kept in a small cache (at most HLMALLOC_HUGE_CACHE_MB,
 * default 256 MiB) for purge_delay_ms, so a program that allocates and frees big buffers
 * in a loop reuses the same resident pages instead of faulting them in anew each time;
 * after the delay they are unmapped, and a miss that would raise the footprint's peak
 * unmaps cached bytes first (offset_fresh).
 */
#include <errno.h>

#include "hlmalloc/internal.h"

#define HL_HUGE_CACHE_MAX 8

pthread_mutex_t hl_huge_lock = PTHREAD_MUTEX_INITIALIZER;

struct cached {
    struct hl_segment *s;
    uint64_t freed_ms;
};
static struct cached cache[HL_HUGE_CACHE_MAX];
static unsigned cache_n;
static size_t cache_bytes;

static size_t round_slice(size_t n)
{
    return (n + HL_SLICE_SIZE - 1) & ~(HL_SLICE_SIZE - 1);
}

static void huge_unmap(struct hl_segment *s)
{
    hl_segment_release(s);
}

/* The block's offset from its segment (its header). */
static size_t huge_off(const struct hl_segment *s)
{
    return (size_t)(s->pages[HL_FIRST_SLICE].start - (const uint8_t *)s);
}

/* A fresh mapping of `total` bytes for a block at `off` aligned to `align`, with the
 * space between the header and the block unmapped again; NULL if the OS refuses. */
static struct hl_segment *huge_map(size_t total, size_t off, size_t align)
{
    size_t unit_align = align > HL_SEG_SIZE ? align : HL_SEG_SIZE;
    size_t phase = align > HL_SEG_SIZE ? off : 0; /* the block aligned, not the header */
    uint8_t *s = hl_os_map(total, unit_align, phase);
    if (s && ((uintptr_t)s + total - 1) >> HL_SEG_SHIFT >= HL_MAP_UNITS) {
        hl_os_unmap(s, total); /* outside the map: cannot track */
        s = NULL;
    }
    if (s && off > HL_SLICE_SIZE) hl_os_unmap(s + HL_SLICE_SIZE, off - HL_SLICE_SIZE);
    return (struct hl_segment *)s;
}

size_t hl_huge_mapped(const struct hl_segment *s)
{
    size_t off = huge_off(s);
    return off > HL_SLICE_SIZE ? s->size - (off - HL_SLICE_SIZE) : s->size;
}

void hl_huge_unmap(struct hl_segment *s)
{
    size_t off = huge_off(s);
    if (off > HL_SLICE_SIZE) {
        hl_os_unmap((uint8_t *)s + off, s->size - off);
        hl_os_unmap(s, HL_SLICE_SIZE);
    } else {
        hl_os_unmap(s, s->size);
    }
}

/* A cached mapping that fits `total` bytes with the block at `off` aligned to `align`,
 * wasting at most a quarter, or NULL. */
static struct hl_segment *cache_take(size_t total, size_t off, size_t align)
{
    struct hl_segment *best = NULL;
    unsigned at = 0;
    pthread_mutex_lock(&hl_huge_lock);
    for (unsigned i = 0; i < cache_n; i++) {
        struct hl_segment *s = cache[i].s;
        if (s->size >= total && s->size - total <= total / 4 && huge_off(s) == off
            && (((uintptr_t)s + off) & (align - 1)) == 0 && (!best || s->size < best->size)) {
            best = s;
            at = i;
        }
    }
    if (best) {
        cache[at] = cache[--cache_n];
        cache_bytes -= best->size;
    }
    pthread_mutex_unlock(&hl_huge_lock);
    return best;
}

/*
 * Unmap cached mappings freed at least min_age_ms ago, oldest first, until `total` bytes are
 * gone or none is left; the bytes gone.
 */
size_t hl_huge_give_back(size_t total, uint32_t min_age_ms)
{
    size_t gone = 0;
    uint64_t now = hl_os_now_ms();
    while (gone < total) {
        struct hl_segment *e = NULL;
        size_t size = 0;
        hl_transit_lock(true); /* out of the cache and unmapped, as one step */
        pthread_mutex_lock(&hl_huge_lock);
        unsigned oldest = 0;
        for (unsigned i = 1; i < cache_n; i++)
            if (cache[i].freed_ms < cache[oldest].freed_ms) oldest = i;
        if (cache_n > 0 && cache[oldest].freed_ms + min_age_ms <= now) {
            e = cache[oldest].s;
            size = e->size;
            cache_bytes -= size;
            cache[oldest] = cache[--cache_n];
        }
        pthread_mutex_unlock(&hl_huge_lock);
        if (e) huge_unmap(e);
        hl_transit_lock(false);
        if (!e) break;
        gone += size;
    }
    return gone;
}

/*
 * A cache miss is about to map (and fault in) `total` fresh bytes: as many bytes of slack
 * idle for HL_GROWTH_MIN_AGE go first, cached huge blocks (oldest first) and then the
 * heap's resident free slices (hl_segment_give_back, the rule a large block's fresh slices
 * follow), so the process grows in RSS only once its idle slack is used up. large-live
 * (32 live 1-32 MiB blocks replaced at random; heaplab bench, 1 thread, -r 5 side by side)
 * peaked at 616 MiB without it, on up to 256 MiB of cached blocks that no request fitted
 * (mimalloc 401, jemalloc 406). The age spares a program that frees a block and takes
 * another soon: offsetting every miss in full made scripts/realprog/churn.c (one block of
 * 64 KiB-32 MiB at a time, 2000 times) fault 1.33M pages instead of 14.6K.
 */
#define HL_GROWTH_MIN_AGE 10 /* ms, as in segment.c */
static void offset_fresh(struct hl_heap *h, size_t total)
{
    size_t gone = hl_huge_give_back(total, HL_GROWTH_MIN_AGE);
    if (h && gone < total) hl_segment_give_back(h, (uint32_t)((total - gone) >> HL_SLICE_SHIFT));
}

/*
 * A cached mapping taken for a smaller block (by up to a quarter): the pages past the
 * block's end go back, so the reuse costs no more RSS than the block. Otherwise a program
 * replacing huge blocks with ones of other sizes (large-live) kept the old blocks' tails
 * resident behind the new ones.
 */
static void huge_purge_tail(struct hl_segment *s, size_t end, size_t guard)
{
    size_t from = (end + 4095) & ~(size_t)4095, to = s->size - guard;
    if (to >= from + HL_SLICE_SIZE) (void)hl_os_purge((uint8_t *)s + from, to - from);
}

void *hl_huge_alloc(size_t n, size_t align, bool zero)
{
    if (align < HL_SLICE_SIZE) align = HL_SLICE_SIZE;
    size_t off = align > HL_SEG_SIZE ? HL_SEG_SIZE : align; /* header slice, then block */
    size_t guard = HL_SECURE ? 4096 : 0;
    if (n > SIZE_MAX / 2 - off - guard - HL_SLICE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = round_slice(off + n + guard);
    hl_process_init(); /* the overcommit policy (calloc comes here before any heap) */
    struct hl_segment *s = cache_take(total, off, align);
    bool reused = s != NULL;
    if (!s) {
        struct hl_heap *h = hl_tls_heap == &hl_heap_empty ? NULL : hl_tls_heap;
        offset_fresh(h, total);
        s = huge_map(total, off, align);
        bool limited = __atomic_load_n(&hl_opt.space_limited, __ATOMIC_RELAXED);
        if (!s && (limited || hl_opt.commit)) {
            /* Refused for want of address space or commit (under policy 0 or 1 without
             * `ulimit -v` the kernel judges the request alone): what this process holds
             * unused goes back first (glibc's frees would have given it back), then once
             * more; then, for address space, the free slices of this thread's segments. */
            hl_reclaim_for_space(h);
            s = huge_map(total, off, align);
        }
        if (!s && h && limited) {
            hl_segments_punch(h);
            s = huge_map(total, off, align);
        }
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->size = total;
        s->kind = HL_PAGE_HUGE;
        atomic_store_explicit(&s->thread_id, HL_TID_HUGE, memory_order_relaxed);
        s->pages[HL_FIRST_SLICE].start = (uint8_t *)s + off;
        hl_registry_add(s);
        hl_segmap_set(s, total, off, true);
        /* The guard page stays for good: a cached mapping is reused for the same size. */
        if (HL_SECURE) hl_os_protect((uint8_t *)s + s->size - guard, guard, 1);
    }
    struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
    pg->kind = HL_PAGE_HUGE;
    pg->start = (uint8_t *)s + off;
    pg->used = 1;
    s->huge_usable = s->size - off - guard;
    atomic_fetch_add_explicit(&hl_count.huge_blocks, 1, memory_order_relaxed);
    if (reused) huge_purge_tail(s, off + n, guard);
    if (zero && reused) memset(pg->start, 0, n);
    ((struct hl_block *)pg->start)->cookie = 0;
    hl_purger_note(); /* so that it is purged after a free even if no malloc follows */
    hl_purger_poke();
    return pg->start;
}

void hl_huge_free(struct hl_segment *s)
{
    struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
    if (pg->used != 1) {
        hl_double_free(pg->start);
        return;
    }
    pg->used = 0;
    atomic_fetch_sub_explicit(&hl_count.huge_blocks, 1, memory_order_relaxed);
    struct hl_segment *evict = NULL;
    pthread_mutex_lock(&hl_huge_lock);
    if (s->size <= hl_opt.huge_cache_bytes) {
        /* Make room: evict the oldest entries until it fits. */
        while (cache_n > 0
               && (cache_n == HL_HUGE_CACHE_MAX
                   || cache_bytes + s->size > hl_opt.huge_cache_bytes)) {
            unsigned oldest = 0;
            for (unsigned i = 1; i < cache_n; i++)
                if (cache[i].freed_ms < cache[oldest].freed_ms) oldest = i;
            struct hl_segment *e = cache[oldest].s;
            cache_bytes -= e->size;
            cache[oldest] = cache[--cache_n];
            pthread_mutex_unlock(&hl_huge_lock);
            huge_unmap(e);
            pthread_mutex_lock(&hl_huge_lock);
        }
        cache[cache_n].s = s;
        cache[cache_n].freed_ms = hl_os_now_ms();
        cache_n++;
        cache_bytes += s->size;
    } else {
        evict = s;
    }
    pthread_mutex_unlock(&hl_huge_lock);
    if (evict) huge_unmap(evict);
    hl_purger_note();
}

bool hl_huge_cache_purge(uint64_t now_ms, bool force)
{
    for (;;) {
        struct hl_segment *e = NULL;
        hl_transit_lock(true); /* out of the cache and unmapped, as one step */
        pthread_mutex_lock(&hl_huge_lock);
        for (unsigned i = 0; i < cache_n; i++) {
            if (force || now_ms >= cache[i].freed_ms + hl_opt.purge_delay_ms) {
                e = cache[i].s;
                cache_bytes -= e->size;
                cache[i] = cache[--cache_n];
                break;
            }
        }
        bool left = cache_n != 0;
        pthread_mutex_unlock(&hl_huge_lock);
        if (e) huge_unmap(e);
        hl_transit_lock(false);
        if (!e) return left;
    }
}

bool hl_huge_is_cached(const struct hl_segment *s)
{
    bool found = false;
    pthread_mutex_lock(&hl_huge_lock);
    for (unsigned i = 0; i < cache_n; i++)
        found |= cache[i].s == s;
    pthread_mutex_unlock(&hl_huge_lock);
    return found;
}

size_t hl_huge_cached_bytes(void)
{
    pthread_mutex_lock(&hl_huge_lock);
    size_t n = cache_bytes;
    pthread_mutex_unlock(&hl_huge_lock);
    return n;
}
