/*
 * hlmalloc/huge.c: blocks larger than HL_LARGE_MAX, one mapping each.
 *
 * A huge segment is mapped aligned to 32 MiB (or to the requested alignment when larger);
 * its first 64 KiB hold the header, the block starts after it, and every 32 MiB unit it
 * covers points to it in the segment map, so free() finds it from the block start and
 * rejects any interior pointer. Freed huge blocks are kept in a small cache (at most
 * HLMALLOC_HUGE_CACHE_MB, default 256 MiB) for purge_delay_ms, so a program that allocates
 * and frees big buffers in a loop reuses the same resident pages instead of faulting them
 * in anew each time; after the delay they are unmapped.
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

/* A cached mapping that fits `total` bytes with a block at offset `off`, or NULL. */
static struct hl_segment *cache_take(size_t total, size_t map_align)
{
    struct hl_segment *best = NULL;
    unsigned at = 0;
    pthread_mutex_lock(&hl_huge_lock);
    for (unsigned i = 0; i < cache_n; i++) {
        struct hl_segment *s = cache[i].s;
        /* Fits, wastes at most a quarter, and is aligned as asked. */
        if (s->size >= total && s->size - total <= total / 4
            && ((uintptr_t)s & (map_align - 1)) == 0 && (!best || s->size < best->size)) {
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

void *hl_huge_alloc(size_t n, size_t align, bool zero)
{
    if (align < HL_SLICE_SIZE) align = HL_SLICE_SIZE;
    size_t map_align = align > HL_SEG_SIZE ? align : HL_SEG_SIZE;
    size_t off = align > HL_SLICE_SIZE ? align : HL_SLICE_SIZE; /* header slice, then block */
    size_t guard = HL_SECURE ? 4096 : 0;
    if (n > SIZE_MAX / 2 - off - guard - HL_SLICE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = round_slice(off + n + guard);
    struct hl_segment *s = cache_take(total, map_align);
    bool reused = s != NULL;
    if (!s) {
        s = hl_os_map(total, map_align);
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
        if (((uintptr_t)s + total - 1) >> HL_SEG_SHIFT >= HL_MAP_UNITS) {
            hl_os_unmap(s, total);
            errno = ENOMEM;
            return NULL;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->size = total;
        s->kind = HL_PAGE_HUGE;
        atomic_store_explicit(&s->thread_id, HL_TID_HUGE, memory_order_relaxed);
        uintptr_t first = (uintptr_t)s >> HL_SEG_SHIFT,
                  last = ((uintptr_t)s + total - 1) >> HL_SEG_SHIFT;
        hl_registry_add(s);
        for (uintptr_t u = first; u <= last; u++)
            __atomic_store_n(&hl_segmap[u], s, __ATOMIC_RELEASE);
    }
    struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
    pg->kind = HL_PAGE_HUGE;
    pg->start = (uint8_t *)s + off;
    pg->used = 1;
    s->huge_usable = s->size - off - guard;
    if (HL_SECURE) hl_os_protect((uint8_t *)s + s->size - guard, guard, 1);
    atomic_fetch_add_explicit(&hl_count.huge_blocks, 1, memory_order_relaxed);
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
    if (HL_SECURE) hl_os_protect((uint8_t *)s + s->size - 4096, 4096, 0);
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
        if (!e) return left;
        huge_unmap(e);
    }
}

size_t hl_huge_cached_bytes(void)
{
    pthread_mutex_lock(&hl_huge_lock);
    size_t n = cache_bytes;
    pthread_mutex_unlock(&hl_huge_lock);
    return n;
}
