/*
 * hlmalloc/check.c: the heap checker, hl_heap_check(): invariants I1-I10 and I12 of types.h
 * verified over every segment, page, free list, queue and heap.
 *
 * It reads everything without trusting it: a pointer is dereferenced only once it is
 * known to point into a live segment's descriptors or into a page's carved blocks, and
 * every list walk is bounded, so a corrupted heap is reported, not crashed on. The first
 * invariant found broken is returned and described in one line through the output
 * function ("hlmalloc: heap check: I3: ..."). The order of the walk: the segment map and
 * registry (I1), each segment's slices (I6) and pages (I2, I3), each heap's segments (I4),
 * queues (I5), direct table (I7), foreign caches (I8) and own caches (I10), the abandoned
 * segments, the blocks on more than one list (I3), then the counters (I9).
 *
 * hl_heap_check() takes the heaps, registry, abandoned and segment locks, but pages and
 * free lists belong to their threads: it is exact only while no other thread allocates
 * or frees (a debugger-style walk: tests call it after joining their threads).
 * hl_heap_check_local() looks only at what the calling thread owns (its heap, and its
 * segments under their locks), which is safe at any time: the HL_DEBUG builds call it at
 * their safe points (hl_debug_check) and abort if it fails.
 *
 * Lock order: the transit lock, the heaps lock, the checker's own (its bitmap `seen`),
 * then as elsewhere the registry, a segment's lock, and the leaves (abandoned list, huge
 * cache, unmaps to retry), one at a time.
 */
#include <stdio.h>

#include "hlmalloc/internal.h"

/* One bit per 16 bytes of a segment: every block of one segment's pages (I3 across lists). */
#define HL_CHECK_SEEN_WORDS (HL_SLICES * (HL_SLICE_SIZE / HL_ALIGN) / 64)

struct check {
    int broken;          /* the first invariant found broken, or 0 */
    const char *what;    /* how */
    const void *where;   /* the segment, page or block */
    bool local;          /* only the calling thread's heap and segments */
    struct hl_heap *own; /* the calling thread's heap (local) */
    uint64_t segments;   /* registered, and units marked in the segment map (I1) */
    uint64_t units_start, units_other;
    uint64_t mapped; /* bytes the registry accounts for (I9) */
    uint64_t huge_live;
};

/* The checker's own memory (256 KiB, under check_lock): not the heap it checks. */
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seen[HL_CHECK_SEEN_WORDS];

/* Record invariant `inv` broken (the first one found wins); false, to return with. */
static bool broken(struct check *c, int inv, const char *what, const void *where)
{
    if (!c->broken) {
        c->broken = inv;
        c->what = what;
        c->where = where;
    }
    return false;
}

static inline bool bit(const uint64_t *m, uint32_t i)
{
    return (m[i >> 6] >> (i & 63)) & 1;
}

/* ---- pointers that can be followed --------------------------------------------------- */

/* Is s a registered normal segment of the segment map (I1 already checked)? */
static bool is_normal_segment(const void *p)
{
    uintptr_t unit = (uintptr_t)p >> HL_SEG_SHIFT;
    if (unit >= HL_MAP_UNITS || hl_segmap[unit] != HL_MAP_START) return false;
    const struct hl_segment *s = (const struct hl_segment *)(unit << HL_SEG_SHIFT);
    return s->kind == HL_PAGE_SMALL;
}

/* Is pg the descriptor of a page head (small, medium or large) in a live normal segment? */
static bool is_page(const struct hl_page *pg)
{
    if (!is_normal_segment(pg)) return false;
    const struct hl_segment *s = (const struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
    uintptr_t off = (uintptr_t)pg - (uintptr_t)s;
    if (off % sizeof(struct hl_page) != 0) return false;
    uint32_t i = (uint32_t)(off / sizeof(struct hl_page));
    return i >= HL_FIRST_SLICE && i < s->slices && pg->slice_back == 0 && pg->slice_count != 0
           && pg->kind != HL_PAGE_NONE;
}

/* Is b a carved block of small or medium page pg (start + i * block_size, i < capacity)?
 * The carved limit is read as other threads' frees read it (the owner may be carving). */
static bool is_block_of(const struct hl_page *pg, const void *b)
{
    uintptr_t start = (uintptr_t)pg->start, p = (uintptr_t)b;
    if (p < start || p >= start + __atomic_load_n(&pg->limit, __ATOMIC_RELAXED)) return false;
    return (p - start) % pg->block_size == 0 && (p & (HL_ALIGN - 1)) == 0;
}

/* The page holding block b (a pointer from a list), or NULL if b is in none. */
static struct hl_page *page_of_block(const void *b)
{
    if (!is_normal_segment(b)) return NULL;
    struct hl_segment *s = (struct hl_segment *)((uintptr_t)b & ~HL_SEG_MASK);
    uint32_t i = (uint32_t)(((uintptr_t)b - (uintptr_t)s) >> HL_SLICE_SHIFT);
    if (i < HL_FIRST_SLICE || i >= s->slices) return NULL;
    struct hl_page *d = &s->pages[i];
    if (d->slice_back > i * sizeof(struct hl_page) || d->slice_back % sizeof(struct hl_page))
        return NULL;
    struct hl_page *pg = (struct hl_page *)((uint8_t *)d - d->slice_back);
    if (!is_page(pg) || (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM)) return NULL;
    return is_block_of(pg, b) ? pg : NULL;
}

/* A huge segment's table of its kernel mappings (huge.c): from its start, in order, each
 * inside it. */
static bool huge_vmas_ok(const struct hl_segment *s)
{
    uint32_t n = s->vmas.n, slices = (uint32_t)(s->size >> HL_SLICE_SHIFT);
    if (n < 1 || n > HL_HUGE_VMAS || s->vmas.at[0] != 0) return false;
    for (uint32_t i = 1; i < n; i++)
        if (s->vmas.at[i] <= s->vmas.at[i - 1] || s->vmas.at[i] >= slices) return false;
    return true;
}

/* ---- I1: the segment map ------------------------------------------------------------- */

static bool check_segmap_entries(struct check *c, const struct hl_segment *s)
{
    uintptr_t first = (uintptr_t)s >> HL_SEG_SHIFT;
    if ((uintptr_t)s & HL_SEG_MASK) return broken(c, 1, "segment not at a unit start", s);
    if (first >= HL_MAP_UNITS || hl_segmap[first] != HL_MAP_START)
        return broken(c, 1, "segment's unit not marked as its start", s);
    c->units_start++;
    if (s->kind != HL_PAGE_HUGE) return true;
    uintptr_t last = ((uintptr_t)s + s->size - 1) >> HL_SEG_SHIFT;
    uintptr_t block = (uintptr_t)s->pages[HL_FIRST_SLICE].start >> HL_SEG_SHIFT;
    size_t off = (size_t)(s->pages[HL_FIRST_SLICE].start - (const uint8_t *)s);
    for (uintptr_t u = first + 1; u <= last; u++) {
        uint8_t want = HL_MAP_INSIDE;
        if (u == block) want = (uint8_t)(HL_MAP_BACK + __builtin_ctzll(off >> HL_SEG_SHIFT));
        if (u >= HL_MAP_UNITS || hl_segmap[u] != want)
            return broken(c, 1, "huge block's unit marked wrong",
                          (const void *)(u << HL_SEG_SHIFT));
        c->units_other++;
    }
    return true;
}

/* Every marked unit belongs to a registered segment: the counts of marks match. */
static bool check_segmap_strays(struct check *c)
{
    uint64_t start = 0, other = 0;
    const uint64_t *w = (const uint64_t *)(const void *)hl_segmap;
    for (size_t i = 0; i < HL_MAP_UNITS / 8; i++) {
        if (w[i] == 0) continue; /* eight units with no segment */
        for (size_t k = 0; k < 8; k++) {
            uint8_t e = hl_segmap[i * 8 + k];
            start += e == HL_MAP_START;
            other += e != HL_MAP_NONE && e != HL_MAP_START;
        }
    }
    if (start != c->units_start || other != c->units_other)
        return broken(c, 1, "the segment map marks a unit no registered segment covers", NULL);
    return true;
}

/* ---- I2, I3: a page and its blocks --------------------------------------------------- */

static bool check_page_fields(struct check *c, const struct hl_segment *s, const struct hl_page *pg)
{
    uint32_t i = (uint32_t)(pg - s->pages);
    uint8_t *span = (uint8_t *)s + ((size_t)i << HL_SLICE_SHIFT);
    size_t span_bytes = (size_t)pg->slice_count << HL_SLICE_SHIFT;
    size_t guard = HL_SECURE ? 4096 : 0;
    if (pg->kind == HL_PAGE_LARGE) {
        if (pg->bin != HL_BIN_LARGE || pg->start < span || pg->used != 1 || pg->capacity != 1
            || pg->reserved != 1 || pg->block_size == 0
            || pg->start + pg->block_size > span + span_bytes - guard
            || pg->limit != pg->block_size)
            return broken(c, 2, "large page's block outside its slices", pg);
        if (!hl_is_block_offset(pg, 0) || !hl_is_block_offset(pg, pg->block_size))
            return broken(c, 2, "large page's divisor wrong", pg);
        if (pg->fast_count != (pg->flags ? 0 : 1))
            return broken(c, 2, "large page's carved count wrong", pg);
        if (pg->quiet != 0 || pg->kept != 0) return broken(c, 12, "quiet or kept large page", pg);
        return true;
    }
    if (pg->quiet > 1 || (pg->quiet && !pg->kept)) return broken(c, 12, "quiet page not kept", pg);
    if (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM)
        return broken(c, 2, "page of an unknown kind", pg);
    if (pg->bin >= HL_BINS || pg->block_size != hl_bin_size(pg->bin))
        return broken(c, 2, "block size not its class's", pg);
    if ((pg->kind == HL_PAGE_SMALL) != (pg->block_size <= HL_SMALL_MAX)
        || pg->slice_count != hl_page_slices(pg->block_size))
        return broken(c, 2, "page not the size of its class's pages", pg);
    if (pg->start != span || pg->reserved != (span_bytes - guard) / pg->block_size)
        return broken(c, 2, "page's blocks not where its slices are", pg);
    if (pg->capacity > pg->reserved || pg->limit != pg->capacity * pg->block_size
        || pg->fast_count != (pg->flags ? 0 : pg->capacity))
        return broken(c, 2, "carved limit wrong", pg);
    if (!hl_is_block_offset(pg, pg->block_size) || !hl_is_block_offset(pg, 0)
        || (pg->block_size > HL_ALIGN && hl_is_block_offset(pg, HL_ALIGN)))
        return broken(c, 2, "block divisor wrong", pg);
    return true;
}

/* Mark block b of page pg in map (one bit a block); false if it already was. */
static bool mark_block(const struct hl_page *pg, uint64_t *map, const void *b)
{
    uint32_t k = (uint32_t)(((uintptr_t)b - (uintptr_t)pg->start) / pg->block_size);
    uint64_t m = (uint64_t)1 << (k & 63);
    if (map[k >> 6] & m) return false;
    map[k >> 6] |= m;
    return true;
}

/* I2 and I3 for a small or medium page: every block on its free list and xthread_free is
 * one of its carved blocks, none twice, and used + free == capacity. */
static bool check_page_blocks(struct check *c, struct hl_page *pg)
{
    uint64_t map[(HL_MEDIUM_SLICES * HL_SLICE_SIZE / HL_ALIGN) / 64];
    memset(map, 0, ((size_t)pg->capacity + 63) / 64 * sizeof(uint64_t));
    uint32_t nfree = 0;
    for (struct hl_block *b = pg->free; b; b = hl_next_decode(pg, b)) {
        if (!is_block_of(pg, b)) return broken(c, 2, "free list leaves its page's blocks", b);
        if (!mark_block(pg, map, b)) return broken(c, 3, "block twice on a free list", b);
        nfree++;
    }
    /* A page a fork child has not yet counted anew (heap.c page_recount) may be off. */
    if (!pg->recount && pg->used + nfree != pg->capacity)
        return broken(c, 3, "used + free blocks != carved blocks", pg);
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_acquire);
    uint32_t nremote = 0;
    for (struct hl_block *b = (struct hl_block *)(x & ~(uintptr_t)3); b;
         b = hl_next_decode(pg, b)) {
        if (!is_block_of(pg, b)) return broken(c, 2, "remote-free list leaves its page", b);
        if (!mark_block(pg, map, b))
            return broken(c, 3, "block on the free and remote-free lists", b);
        if (++nremote > pg->used && !pg->recount)
            return broken(c, 3, "more remote frees than used blocks", pg);
    }
    return true;
}

/* Walk the pages of s (caller holds s->lock): I6 for its slices, I2/I3 for its pages
 * (`blocks`: also their free lists), I4 for their owner. */
static bool check_segment(struct check *c, struct hl_segment *s, bool blocks)
{
    if (s->slices < HL_FIRST_SLICE || s->slices > HL_SLICES
        || s->size != (size_t)s->slices << HL_SLICE_SHIFT)
        return broken(c, 6, "segment size and slices disagree", s);
    if (s->huge_usable != 0 || s->header_back != sizeof(struct hl_page))
        return broken(c, 2, "header's descriptors do not read as an empty page", s);
    bool any_dirty = false;
    for (uint32_t i = 0; i < HL_SLICES; i++) {
        bool f = bit(s->free_map, i), d = bit(s->dirty_map, i);
        if (d && !f) return broken(c, 6, "dirty slice not free", s->pages + i);
        if (f && (i < HL_FIRST_SLICE || i >= s->slices || s->pages[i].hole))
            return broken(c, 6, "free slice outside the mapped ones", s->pages + i);
        any_dirty |= d;
    }
    if (any_dirty && __atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) == 0)
        return broken(c, 6, "dirty slices with no purge due", s);
    uint32_t used = 0;
    for (uint32_t i = HL_FIRST_SLICE; i < s->slices;) {
        struct hl_page *pg = &s->pages[i];
        if (bit(s->free_map, i) || pg->hole) {
            if (pg->slice_count != 0 || pg->slice_back != 0 || pg->kind != HL_PAGE_NONE)
                return broken(c, 6, "a free slice holds a page", pg);
            i++;
            continue;
        }
        if (pg->slice_back != 0 || pg->slice_count == 0 || i + pg->slice_count > s->slices)
            return broken(c, 6, "a slice in use belongs to no page", pg);
        for (uint32_t k = 1; k < pg->slice_count; k++) {
            const struct hl_page *d = &s->pages[i + k];
            if (d->slice_back != k * sizeof(struct hl_page) || bit(s->free_map, i + k) || d->hole)
                return broken(c, 6, "a page's later slice does not point back", d);
        }
        used += pg->slice_count;
        if (!check_page_fields(c, s, pg)) return false;
        if (pg->kind != HL_PAGE_LARGE) {
            if (pg->heap != s->heap) return broken(c, 4, "page owned by another heap", pg);
            if (blocks && !check_page_blocks(c, pg)) return false;
        } else if (pg->heap != s->heap) {
            return broken(c, 4, "large block owned by another heap", pg);
        }
        i += pg->slice_count;
    }
    if (used != s->used_slices) return broken(c, 6, "used_slices != slices in pages", s);
    return true;
}

/* ---- I4, I5, I7, I8: a heap ---------------------------------------------------------- */

/* Queue q of heap h: links, count, and what its pages say of themselves (I5). */
static bool check_queue(struct check *c, struct hl_heap *h, struct hl_page_queue *q, bool full,
                        unsigned bin, uint64_t *pages)
{
    struct hl_page *prev = NULL;
    uint32_t n = 0;
    for (struct hl_page *pg = q->first; pg; prev = pg, pg = pg->next) {
        if (!is_page(pg) || pg->kind == HL_PAGE_LARGE)
            return broken(c, 5, "queue holds something not a page", pg);
        if (pg->prev != prev) return broken(c, 5, "queue links broken", pg);
        if (++n > HL_MAP_UNITS) return broken(c, 5, "queue does not end", q);
        if (full != ((pg->flags & HL_PAGE_IN_FULL) != 0))
            return broken(c, 5, "page's full flag disagrees with its queue", pg);
        if (!full && pg->bin != bin) return broken(c, 5, "page in another class's queue", pg);
        if (pg->kept && (full || q->count != 1))
            return broken(c, 12, "kept page not its class's only page", pg);
        const struct hl_segment *s = (const struct hl_segment *)((uintptr_t)pg & ~HL_SEG_MASK);
        if (pg->heap != h || s->heap != h) return broken(c, 4, "queued page of another heap", pg);
    }
    if (q->last != prev || q->count != n) return broken(c, 5, "queue count or tail wrong", q);
    *pages += n;
    return true;
}

static bool check_heap(struct check *c, struct hl_heap *h)
{
    /* I4: its segments are its own. */
    uint64_t pages = 0, queued = 0, own_cached = 0;
    uint32_t nseg = 0;
    for (struct hl_segment *s = h->segments, *prev = NULL; s; prev = s, s = s->next) {
        if (!is_normal_segment(s)) return broken(c, 4, "heap lists a segment not registered", s);
        if (s->prev != prev || ++nseg > HL_MAP_UNITS)
            return broken(c, 4, "heap's segment links broken", s);
        if (s->heap != h || atomic_load(&s->thread_id) != h->thread_id)
            return broken(c, 4, "heap lists a segment another thread owns", s);
        for (uint32_t i = HL_FIRST_SLICE; i < s->slices; i++) {
            const struct hl_page *pg = &s->pages[i];
            if (pg->slice_back == 0 && pg->slice_count != 0
                && (pg->kind == HL_PAGE_SMALL || pg->kind == HL_PAGE_MEDIUM)) {
                pages++;
                own_cached += pg->own_cached;
                if ((pg->flags & HL_PAGE_IN_FULL) && pg->own_cached != 0
                    && pg->own_cached >= pg->used)
                    return broken(c, 10, "every live block of a full page is cached", pg);
            }
        }
    }
    /* I5: every small or medium page of its segments is in one queue of it. */
    for (unsigned b = 0; b < HL_BINS; b++) {
        if (h->bins[b].block_size != hl_bin_size(b)) return broken(c, 5, "queue's class", h);
        if (!check_queue(c, h, &h->bins[b], false, b, &queued)) return false;
    }
    if (!check_queue(c, h, &h->full, true, 0, &queued)) return false;
    if (queued != pages) return broken(c, 5, "a page of the heap is in none of its queues", h);
    /* I7: the direct table. */
    for (unsigned i = 0; i < HL_DIRECT_SLOTS; i++) {
        unsigned b = hl_bin(i == 0 ? 1 : (size_t)i * 16);
        struct hl_page *want = h->bins[b].first ? h->bins[b].first : &hl_page_empty;
        if (h->direct[i] != want) return broken(c, 7, "direct slot not its queue's head", h);
    }
    /* I8: the foreign caches. */
    for (unsigned b = 0; b < HL_FOREIGN_BINS; b++) {
        uint32_t n = 0;
        for (struct hl_block *x = h->foreign[b]; x; x = x->next) {
            struct hl_page *pg = page_of_block(x);
            if (!pg || pg->kind != HL_PAGE_SMALL || pg->bin != b)
                return broken(c, 8, "foreign cache holds no block of its class", x);
            if ((HL_DF_CHECK || HL_SECURE) && x->cookie != ((uintptr_t)x ^ hl_cookie))
                return broken(c, 8, "foreign cache holds a block not marked free", x);
            if (++n > hl_foreign_cap(b)) break;
        }
        if (n + h->foreign_room[b] != hl_foreign_cap(b))
            return broken(c, 8, "foreign cache's room + blocks != its capacity", h);
    }
    /* I10: the own caches. */
    for (unsigned i = 0; i < HL_OWN_BINS; i++) {
        unsigned b = HL_OWN_FIRST + i;
        uint32_t n = 0;
        for (struct hl_block *x = h->own[i]; x; x = x->next) {
            struct hl_page *pg = page_of_block(x);
            if (!pg || pg->bin != b)
                return broken(c, 10, "own cache holds no block of its class", x);
            if (pg->heap != h) return broken(c, 10, "own cache holds another heap's block", x);
            if ((HL_DF_CHECK || HL_SECURE) && x->cookie != ((uintptr_t)x ^ hl_cookie))
                return broken(c, 10, "own cache holds a block not marked free", x);
            uint32_t same = 0; /* the page's blocks on the list: its own_cached */
            for (struct hl_block *y = h->own[i]; y && same <= 255; y = y->next)
                same += page_of_block(y) == pg;
            if (same != pg->own_cached)
                return broken(c, 10, "page's own_cached != its blocks in the cache", pg);
            if (++n > hl_own_cap(b)) break;
        }
        if (n + h->own_room[i] != hl_own_cap(b))
            return broken(c, 10, "own cache's room + blocks != its capacity", h);
        own_cached -= n;
    }
    if (own_cached != 0) return broken(c, 10, "pages' own_cached != blocks in the caches", h);
    /* I3: the delayed list's blocks are blocks of pages (compared with free lists later). */
    uint32_t n = 0;
    for (struct hl_block *x = (struct hl_block *)atomic_load(&h->delayed_free); x; x = x->next) {
        if (!page_of_block(x)) return broken(c, 3, "delayed list holds no block", x);
        if (++n > (1u << 24)) return broken(c, 3, "delayed list does not end", h);
    }
    return true;
}

/* ---- I3 across lists: no block both free and on a delayed list or foreign cache ------- */

/*
 * One segment at a time, so that the memory is bounded whatever the number of blocks: a
 * bit per 16 bytes of the segment, set for each block on its pages' free and remote-free
 * lists, then for each block of the segment on a heap's delayed list or foreign cache; a
 * bit found set is a block on two lists. The heaps' lists are walked once per segment
 * (check_heap has found them finite and made of blocks). A fixed array of 16k blocks
 * compared at once stopped the check short in a large heap.
 */

/* Set the bit of block b of segment s; false if it was set. */
static bool seen_mark(const struct hl_segment *s, const void *b)
{
    size_t k = ((uintptr_t)b - (uintptr_t)s) / HL_ALIGN;
    uint64_t m = (uint64_t)1 << (k & 63);
    if (seen[k >> 6] & m) return false;
    seen[k >> 6] |= m;
    return true;
}

/* Clear the bits of s's slices in use and set those of its pages' free blocks. */
static void seen_page_lists(struct hl_segment *s)
{
    const size_t per_slice = HL_SLICE_SIZE / HL_ALIGN / 64; /* words */
    for (uint32_t i = HL_FIRST_SLICE; i < s->slices; i++) {
        struct hl_page *pg = &s->pages[i];
        if (pg->slice_back != 0 || pg->slice_count == 0
            || (pg->kind != HL_PAGE_SMALL && pg->kind != HL_PAGE_MEDIUM))
            continue;
        memset(&seen[i * per_slice], 0, pg->slice_count * per_slice * sizeof(uint64_t));
        for (struct hl_block *b = pg->free; b; b = hl_next_decode(pg, b))
            seen_mark(s, b);
        uintptr_t x = atomic_load(&pg->xthread_free) & ~(uintptr_t)3;
        for (struct hl_block *b = (struct hl_block *)x; b; b = hl_next_decode(pg, b))
            seen_mark(s, b);
    }
}

/* Mark the blocks of s on list b (plain links, `max` at most); false on one seen before. */
static bool seen_list(struct check *c, const struct hl_segment *s, const struct hl_block *b,
                      uint32_t max)
{
    for (uint32_t n = 0; b && n < max; b = b->next, n++)
        if (((uintptr_t)b & ~HL_SEG_MASK) == (uintptr_t)s && !seen_mark(s, b))
            return broken(c, 3, "block on a delayed list or a cache and another list", b);
    return true;
}

static bool check_lists_disjoint(struct check *c)
{
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        if (s->kind == HL_PAGE_HUGE) continue;
        seen_page_lists(s);
        for (struct hl_heap *h = hl_heaps; h; h = h->all_next) {
            for (unsigned b = 0; b < HL_FOREIGN_BINS; b++)
                if (!seen_list(c, s, h->foreign[b], hl_foreign_cap(b))) return false;
            for (unsigned i = 0; i < HL_OWN_BINS; i++)
                if (!seen_list(c, s, h->own[i], hl_own_cap(HL_OWN_FIRST + i))) return false;
            const struct hl_block *d = (const struct hl_block *)atomic_load(&h->delayed_free);
            if (!seen_list(c, s, d, 1u << 24)) return false;
        }
    }
    return true;
}

/* ---- the whole check ----------------------------------------------------------------- */

static bool check_all(struct check *c)
{
    /* I1 first: the rest follows pointers the segment map vouches for. */
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        if (++c->segments > HL_MAP_UNITS) return broken(c, 9, "registry does not end", NULL);
        if (!check_segmap_entries(c, s)) return false;
    }
    if (!check_segmap_strays(c)) return false;
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        if (s->kind == HL_PAGE_HUGE) {
            struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
            if (pg->kind != HL_PAGE_HUGE || pg->used > 1
                || atomic_load(&s->thread_id) != HL_TID_HUGE)
                return broken(c, 2, "huge segment's block", s);
            if (pg->used == 0 && !hl_huge_is_cached(s))
                return broken(c, 9, "freed huge block neither cached nor unmapped", s);
            if (!huge_vmas_ok(s)) return broken(c, 2, "huge segment's table of mappings", s);
            c->huge_live += pg->used;
            c->mapped += hl_huge_mapped(s);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        bool ok = check_segment(c, s, true);
        uint64_t holes = 0;
        for (uint32_t i = HL_FIRST_SLICE; i < s->slices; i++)
            holes += s->pages[i].hole;
        pthread_mutex_unlock(&s->lock);
        if (!ok) return false;
        c->mapped += s->size - (holes << HL_SLICE_SHIFT);
        uintptr_t owner = atomic_load(&s->thread_id);
        if ((owner == HL_TID_ABANDONED) != (s->heap == NULL))
            return broken(c, 4, "segment's owner thread and heap disagree", s);
    }
    /* Heaps, and that every normal segment is a heap's or abandoned (I4). */
    uint64_t listed = 0, heaps = 0;
    for (struct hl_heap *h = hl_heaps; h; h = h->all_next) {
        if (++heaps > (1u << 24)) return broken(c, 9, "heap list does not end", NULL);
        if (!check_heap(c, h)) return false;
        for (struct hl_segment *s = h->segments; s; s = s->next)
            listed++;
    }
    pthread_mutex_lock(&hl_abandoned_lock); /* a leaf: no segment lock taken under it */
    for (struct hl_segment *s = hl_abandoned, *prev = NULL; s && !c->broken;
         prev = s, s = s->next) {
        if (!is_normal_segment(s) || s->prev != prev)
            broken(c, 4, "abandoned list broken", s);
        else if (s->heap != NULL || atomic_load(&s->thread_id) != HL_TID_ABANDONED)
            broken(c, 4, "abandoned segment has an owner", s);
        else if (++listed > HL_MAP_UNITS)
            broken(c, 4, "abandoned list does not end", s);
    }
    pthread_mutex_unlock(&hl_abandoned_lock);
    if (c->broken) return false;
    uint64_t normal = 0;
    for (struct hl_segment *s = hl_registry; s; s = s->all_next)
        normal += s->kind != HL_PAGE_HUGE;
    if (listed != normal)
        return broken(c, 4, "a segment is in no heap's list and not abandoned (or in two)", NULL);
    if (!check_lists_disjoint(c)) return false;
    /* I9: the counters hl_stats reports agree with what is there. */
    size_t pending = 0;
    uint64_t mapped = hl_os_mapped_bytes(&pending); /* a retry by the purger moves both */
    c->mapped += hl_pool_bytes + pending;
    if (mapped != c->mapped)
        return broken(c, 9, "mapped_bytes != the segments, heap pool and unmaps pending", NULL);
    if (atomic_load(&hl_count.segments) != c->segments)
        return broken(c, 9, "segment count != registered segments", NULL);
    if (atomic_load(&hl_count.huge_blocks) != c->huge_live)
        return broken(c, 9, "huge block count != live huge blocks", NULL);
    if (atomic_load(&hl_count.threads) != heaps)
        return broken(c, 9, "thread count != heaps alive", NULL);
    return true;
}

static int report(const struct check *c)
{
    if (c->broken)
        hl_outf("hlmalloc: heap check: I%d broken: %s (%p)\n", c->broken, c->what, c->where);
    return c->broken;
}

HL_API int hl_heap_check(void)
{
    struct check c;
    memset(&c, 0, sizeof(c));
    /* The transit lock and the heaps lock first, as fork's prepare handler takes them
     * first: no fork happens while check_lock is held, and no abandoned segment is
     * between lists. */
    hl_transit_lock(true);
    pthread_mutex_lock(&hl_heaps_lock);
    pthread_mutex_lock(&check_lock);
    pthread_mutex_lock(&hl_registry_lock);
    check_all(&c);
    pthread_mutex_unlock(&hl_registry_lock);
    pthread_mutex_unlock(&check_lock);
    pthread_mutex_unlock(&hl_heaps_lock);
    hl_transit_lock(false);
    return report(&c);
}

int hl_heap_check_local(void)
{
    struct check c;
    memset(&c, 0, sizeof(c));
    c.local = true;
    struct hl_heap *h = hl_tls_heap;
    if (h == &hl_heap_empty) return 0;
    /* Its segments' slices and pages (under each lock: large blocks come back from other
     * threads), then the heap. Foreign cache and delayed blocks are not compared with
     * other threads' free lists here. */
    for (struct hl_segment *s = h->segments; s && !c.broken; s = s->next) {
        pthread_mutex_lock(&s->lock);
        check_segment(&c, s, true);
        pthread_mutex_unlock(&s->lock);
    }
    if (!c.broken) check_heap(&c, h);
    return report(&c);
}

void hl_debug_check(const char *where)
{
    if (!HL_DEBUG) return;
    int inv = hl_heap_check_local();
    if (inv) {
        char what[96];
        snprintf(what, sizeof(what), "heap check failed (I%d) at %s", inv, where);
        hl_fatal(what, hl_tls_heap);
    }
}
