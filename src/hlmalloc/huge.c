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
 * in a loop reuses the same resident pages instead of faulting them in anew each time: a
 * block that fits is reused whole, else the new block is made of cached blocks' pages
 * (huge_assemble). After the delay they are unmapped, and a miss with nothing cached to
 * take from unmaps idle cached bytes first (offset_fresh). realloc moves or grows a huge
 * block's pages instead of copying them (hl_huge_realloc).
 */
#include <errno.h>

#include "hlmalloc/internal.h"

#define HL_HUGE_CACHE_MAX 16

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

/* A fresh mapping set up as the huge segment of a block at `off`: its header, the registry,
 * the segment map, its one kernel mapping (two with a gap), the guard page. */
/* A huge segment's header at s, for a block at `off`, made known: lock, size, block start,
 * the registry and the segment map (a fresh mapping, or one whose pages moved there). */
static void huge_register(struct hl_segment *s, size_t total, size_t off)
{
    pthread_mutex_init(&s->lock, NULL);
    s->size = total;
    s->pages[HL_FIRST_SLICE].start = (uint8_t *)s + off;
    hl_registry_add(s);
    hl_segmap_set(s, total, off, true);
}

static void huge_init(struct hl_segment *s, size_t total, size_t off, size_t guard)
{
    s->kind = HL_PAGE_HUGE;
    atomic_store_explicit(&s->thread_id, HL_TID_HUGE, memory_order_relaxed);
    s->vmas.at[0] = 0;
    s->vmas.n = 1;
    if (off > HL_SLICE_SIZE) s->vmas.at[s->vmas.n++] = (uint32_t)(off >> HL_SLICE_SHIFT);
    huge_register(s, total, off);
    /* The guard page stays for good: a cached mapping is reused for the same size. */
    if (HL_SECURE) hl_os_protect((uint8_t *)s + s->size - guard, guard, 1);
}

/*
 * ---- Blocks made of freed ones ---------------------------------------------------------
 *
 * A miss that no cached block fits within a quarter is made of the cached ones: their
 * pages move into the new block's mapping (mremap: the page tables move, nothing is
 * copied, faulted or zeroed), and only what they cannot give faults in anew. A program
 * that keeps many big blocks live and replaces them with ones of other sizes (large-live)
 * would otherwise fault each new block in whole while the freed one's pages wait for
 * the purge delay or are given back: resident memory serves any size, as a page heap
 * that coalesces across all of its address space would, without the address space
 * fragmenting.
 *
 * mremap moves a range that lies in one kernel mapping (VMA) only, and a moved range
 * stays a VMA of its own (an anonymous one keeps its page offset, so it does not merge
 * with its new neighbours). A huge segment therefore records where its VMAs start
 * (s->vmas, at most HL_HUGE_VMAS) and is taken apart along them: the last VMA first, from
 * its tail. A block made of pieces has one VMA per piece, one for its header and one for
 * the fresh rest. Only segments with their header next to the block, no guard page
 * (secure build) and no decommitted tail (hl_opt.commit: a PROT_NONE mapping splits a
 * VMA) are taken apart: movable().
 */
static bool movable(const struct hl_segment *s)
{
    return !HL_SECURE && !hl_opt.commit && huge_off(s) == HL_SLICE_SIZE;
}

/*
 * A block is made of at most HL_HUGE_PIECES pieces, none shorter than min_piece(): each
 * piece is a VMA of the block, and a freed block's VMAs become pieces of the next ones,
 * so without a floor they would split, block after block, into ever more and smaller
 * pieces until every block hit the table's limit and faulted the rest in anew
 * (realprog/churn.c: 128K faults in its 32 MiB blocks, from 8K). The floor is n/48 of a
 * block of n bytes, at least 256 KiB: large-live faulted 140K pages with n/6, 120K with
 * n/12, 112K with n/48 and n/96 (seed 1; seeds 2-4 alike), churn.c 16.2K with any of them.
 */
#define HL_HUGE_PIECES (HL_HUGE_VMAS - 2) /* its header's VMA and the fresh rest's */
static size_t min_piece(size_t need)
{
    size_t m = (need / 48) & ~(HL_SLICE_SIZE - 1);
    return m > 4 * HL_SLICE_SIZE ? m : 4 * HL_SLICE_SIZE;
}

/*
 * The bytes e gives toward `want`: its last VMA first, each from its tail, in pieces of
 * at least `floor` bytes, at most *pieces of them (set to how many), never its header
 * slice. take_apart moves what this counts.
 */
static size_t gives(const struct hl_segment *e, size_t want, size_t floor, unsigned *pieces)
{
    size_t end = e->size, got = 0;
    uint32_t n = e->vmas.n;
    unsigned k = 0;
    while (got < want && k < *pieces) {
        size_t vma = (size_t)e->vmas.at[n - 1] << HL_SLICE_SHIFT;
        size_t start = vma > HL_SLICE_SIZE ? vma : HL_SLICE_SIZE;
        if (end <= start) break;
        if (end - start > want - got) start = end - (want - got);
        if (end - start < floor) break;
        got += end - start;
        k++;
        if (start != vma) break; /* the last piece, part of a VMA */
        end = start;
        n--;
    }
    *pieces = k;
    return got;
}

/* Caller holds hl_huge_lock. */
static void cache_remove(unsigned i)
{
    cache_bytes -= cache[i].s->size;
    cache[i] = cache[--cache_n];
}

/*
 * A cached block taken out for a while goes back, unless other threads' frees filled the
 * cache meanwhile (its entries or its bytes): then it is unmapped. Caller holds the
 * transit lock, not hl_huge_lock.
 */
static void cache_put_back(struct cached c)
{
    pthread_mutex_lock(&hl_huge_lock);
    bool room = cache_n < HL_HUGE_CACHE_MAX && cache_bytes + c.s->size <= hl_opt.huge_cache_bytes;
    if (room) {
        cache[cache_n++] = c;
        cache_bytes += c.s->size;
    }
    pthread_mutex_unlock(&hl_huge_lock);
    if (!room) hl_segment_release(c.s);
}

/*
 * Out of the cache: the movable entries that give `need` bytes with the fewest moves,
 * the smallest that gives them alone, else the largest in turn; how many (into `out`),
 * and the bytes they give (*have). Caller holds the transit lock: until their pages have
 * moved they are in no state the heap checker knows.
 */
static unsigned cache_pick(size_t need, struct cached *out, size_t *have)
{
    unsigned k = 0, budget = HL_HUGE_PIECES;
    size_t got = 0, floor = min_piece(need);
    pthread_mutex_lock(&hl_huge_lock);
    while (got < need && budget > 0) {
        int best = -1;
        size_t best_give = 0;
        unsigned best_pieces = 0;
        for (unsigned i = 0; i < cache_n; i++) {
            const struct hl_segment *e = cache[i].s;
            if (!movable(e)) continue;
            unsigned pieces = budget;
            size_t give = gives(e, need - got, floor, &pieces);
            if (give == 0) continue;
            bool alone = give == need - got, best_alone = best_give == need - got;
            if (best < 0 || (alone && (!best_alone || e->size < cache[best].s->size))
                || (!best_alone && give > best_give)) {
                best = (int)i;
                best_give = give;
                best_pieces = pieces;
            }
        }
        if (best < 0) break;
        out[k++] = cache[best];
        got += best_give;
        budget -= best_pieces;
        cache_remove((unsigned)best);
    }
    pthread_mutex_unlock(&hl_huge_lock);
    *have = got;
    return k;
}

/* Units of the segment map past a huge segment's new end, [end, old_end), cleared. */
static void segmap_trim(const struct hl_segment *e, size_t end, size_t old_end)
{
    uintptr_t from = ((uintptr_t)e + end - 1) >> HL_SEG_SHIFT;
    uintptr_t last = ((uintptr_t)e + old_end - 1) >> HL_SEG_SHIFT;
    for (uintptr_t u = from + 1; u <= last && u < HL_MAP_UNITS; u++)
        __atomic_store_n(&hl_segmap[u], HL_MAP_NONE, __ATOMIC_RELEASE);
}

/*
 * Move up to `want` bytes of e as gives() counts them (pieces of at least `floor`) to s at
 * offset *at (advanced), recording each piece as one of s's VMAs; the bytes moved. e
 * keeps its header slice and shrinks to what is left; with nothing but that slice left it
 * is unmapped (*gone). A failed move (the kernel's mapping count, or a VMA split the
 * table does not know) or a full table in s ends the moves: those bytes stay in e.
 * Caller holds the transit lock.
 */
static size_t take_apart(struct hl_segment *s, size_t *at, struct hl_segment *e, size_t want,
                         size_t floor, bool *gone)
{
    size_t size = e->size, end = size, moved = 0;
    uint32_t n = e->vmas.n;
    while (moved < want && s->vmas.n < HL_HUGE_VMAS - 1) {
        size_t vma = (size_t)e->vmas.at[n - 1] << HL_SLICE_SHIFT;
        size_t start = vma > HL_SLICE_SIZE ? vma : HL_SLICE_SIZE;
        if (end <= start) break; /* the header slice alone */
        if (end - start > want - moved) start = end - (want - moved);
        if (end - start < floor) break;
        if (hl_os_move((uint8_t *)e + start, end - start, (uint8_t *)s + *at) != 0) break;
        s->vmas.at[s->vmas.n++] = (uint32_t)(*at >> HL_SLICE_SHIFT);
        *at += end - start;
        moved += end - start;
        end = start;
        if (start == vma) n--;
    }
    e->size = end; /* the moved ranges may hold another mapping by now: never unmapped */
    e->vmas.n = n;
    segmap_trim(e, end, size);
    *gone = end <= HL_SLICE_SIZE;
    if (*gone) hl_segment_release(e);
    return moved;
}

/*
 * The block made of cached ones (above), or NULL when the cache has none to give or the
 * OS refuses the mapping (they stay cached). *moved: the bytes from the block's start
 * that came from them. What they cannot give is offset first (hl_segment_give_back) as
 * any growth is. Entries left with their header alone are unmapped.
 */
static struct hl_segment *huge_assemble(struct hl_heap *h, size_t total, size_t off, size_t align,
                                        size_t *moved)
{
    if (HL_SECURE || hl_opt.commit || off != HL_SLICE_SIZE) return NULL;
    struct cached picked[HL_HUGE_CACHE_MAX];
    size_t have, need = total - off, at = off;
    hl_transit_lock(true);
    unsigned k = cache_pick(need, picked, &have);
    struct hl_segment *s = NULL;
    if (k) {
        if (h && have < need) hl_segment_give_back(h, (uint32_t)((need - have) >> HL_SLICE_SHIFT));
        if ((s = huge_map(total, off, align)) != NULL) huge_init(s, total, off, 0);
    }
    for (unsigned i = 0; i < k; i++) {
        struct hl_segment *e = picked[i].s;
        bool gone = false;
        if (s) take_apart(s, &at, e, total - at, min_piece(need), &gone);
        if (!gone) cache_put_back(picked[i]);
    }
    if (s && at > off && at < total) s->vmas.at[s->vmas.n++] = (uint32_t)(at >> HL_SLICE_SHIFT);
    hl_transit_lock(false);
    *moved = at - off;
    return s;
}

/* Grow s's last VMA to end at `total`, if the addresses after it are free (and in the map). */
static bool huge_grow(struct hl_segment *s, size_t total)
{
    if (((uintptr_t)s + total - 1) >> HL_SEG_SHIFT >= HL_MAP_UNITS) return false;
    size_t last = (size_t)s->vmas.at[s->vmas.n - 1] << HL_SLICE_SHIFT;
    if (hl_os_grow((uint8_t *)s + last, s->size - last, total - last) != 0) return false;
    s->size = total;
    hl_segmap_set(s, total, huge_off(s), true);
    return true;
}

/*
 * A cached block up to a sixteenth smaller than `total`, grown where it is to `total` (its
 * last VMA grows into the free addresses after it: segments start 32 MiB apart, so there
 * is room below the next one), or NULL. *old: its bytes from the block's start. A program
 * whose big blocks vary a little around a size (realprog/churn.c: 2^k MiB plus up to
 * 64 KiB) reuses the same block each time, where taking it apart for a block one slice
 * bigger than it would scatter the cache into pieces.
 */
static struct hl_segment *cache_grow(struct hl_heap *h, size_t total, size_t off, size_t *old)
{
    if (HL_SECURE || hl_opt.commit || off != HL_SLICE_SIZE) return NULL;
    hl_transit_lock(true);
    pthread_mutex_lock(&hl_huge_lock);
    int best = -1;
    for (unsigned i = 0; i < cache_n; i++) {
        const struct hl_segment *e = cache[i].s;
        if (movable(e) && e->size < total && e->size >= total - total / 16
            && (best < 0 || e->size > cache[best].s->size))
            best = (int)i;
    }
    struct cached c = { 0 };
    if (best >= 0) {
        c = cache[best];
        cache_remove((unsigned)best);
    }
    pthread_mutex_unlock(&hl_huge_lock);
    struct hl_segment *e = c.s;
    if (e) {
        size_t had = e->size;
        if (h) hl_segment_give_back(h, (uint32_t)((total - had) >> HL_SLICE_SHIFT));
        if (huge_grow(e, total)) {
            *old = had - off;
        } else {
            cache_put_back(c);
            e = NULL;
        }
    }
    hl_transit_lock(false);
    return e;
}

/* A fresh huge segment of `total` bytes, its growth offset first (offset_fresh); when the
 * OS refuses, what this process holds unused goes back and it is asked again. */
static struct hl_segment *huge_fresh(struct hl_heap *h, size_t total, size_t off, size_t align,
                                     size_t guard)
{
    offset_fresh(h, total);
    struct hl_segment *s = huge_map(total, off, align);
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
    if (s) huge_init(s, total, off, guard);
    return s;
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
    struct hl_heap *h = hl_tls_heap == &hl_heap_empty ? NULL : hl_tls_heap;
    size_t old = 0; /* bytes from the block's start that hold a freed block's data */
    struct hl_segment *s = cache_take(total, off, align);
    bool hit = s != NULL;
    if (hit) old = s->size - off;
    if (!s) s = cache_grow(h, total, off, &old);
    if (!s) s = huge_assemble(h, total, off, align, &old);
    if (!s) s = huge_fresh(h, total, off, align, guard);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
    pg->kind = HL_PAGE_HUGE;
    pg->start = (uint8_t *)s + off;
    pg->used = 1;
    s->huge_usable = s->size - off - guard;
    atomic_fetch_add_explicit(&hl_count.huge_blocks, 1, memory_order_relaxed);
    if (hit) huge_purge_tail(s, off + n, guard);
    if (zero && old) memset(pg->start, 0, n < old ? n : old);
    ((struct hl_block *)pg->start)->cookie = 0;
    hl_purger_note(); /* so that it is purged after a free even if no malloc follows */
    hl_purger_poke();
    return pg->start;
}

/*
 * ---- realloc ------------------------------------------------------------------------
 *
 * A huge block grows where it is when the addresses after it are free (its last VMA
 * grows), else its pages move, VMA by VMA to the same offsets, into a mapping of the
 * new size; it shrinks by unmapping its tail. Its pages are not copied, as glibc's
 * mmap'd chunks are not: a buffer doubled from 4 MiB to 1 GiB costs no copy of it and
 * leaves no old copy behind. Each step runs under the transit lock: the heap checker
 * sees the segment's size, its map units and mapped_bytes change together.
 */

/* Unmap s's tail from `total` on. */
static void huge_shrink(struct hl_segment *s, size_t total)
{
    size_t old = s->size;
    hl_os_unmap((uint8_t *)s + total, old - total);
    while (s->vmas.n > 1 && ((size_t)s->vmas.at[s->vmas.n - 1] << HL_SLICE_SHIFT) >= total)
        s->vmas.n--;
    s->size = total;
    segmap_trim(s, total, old);
}

/* s's pages moved into a fresh mapping of `total` bytes, VMA by VMA (one that will not
 * move is copied), the header last; the segment there, or NULL (nothing changed). */
static struct hl_segment *huge_move(struct hl_segment *s, size_t total)
{
    if (s->vmas.n >= HL_HUGE_VMAS) return NULL; /* no room for the new tail's VMA */
    uint8_t *d = (uint8_t *)huge_map(total, HL_SLICE_SIZE, HL_SLICE_SIZE);
    if (!d) return NULL;
    size_t size = s->size;
    uint32_t vat[HL_HUGE_VMAS], n = s->vmas.n;
    memcpy(vat, s->vmas.at, sizeof(vat));
    hl_segmap_set(s, size, HL_SLICE_SIZE, false);
    hl_registry_remove(s);
    pthread_mutex_destroy(&s->lock);
    for (uint32_t i = n, end = (uint32_t)(size >> HL_SLICE_SHIFT); i-- > 0; end = vat[i]) {
        size_t at = (size_t)vat[i] << HL_SLICE_SHIFT, len = ((size_t)end << HL_SLICE_SHIFT) - at;
        if (hl_os_move((uint8_t *)s + at, len, d + at) == 0) continue;
        memcpy(d + at, (uint8_t *)s + at, len);
        hl_os_unmap((uint8_t *)s + at, len);
    }
    struct hl_segment *t = (struct hl_segment *)d;
    t->vmas.at[t->vmas.n++] = (uint32_t)(size >> HL_SLICE_SHIFT);
    huge_register(t, total, HL_SLICE_SIZE);
    return t;
}

void *hl_huge_realloc(struct hl_segment *s, void *p, size_t n)
{
    if (s->kind != HL_PAGE_HUGE || !movable(s) || p != s->pages[HL_FIRST_SLICE].start
        || n > SIZE_MAX / 2 - 2 * HL_SLICE_SIZE)
        return NULL;
    size_t total = round_slice(HL_SLICE_SIZE + n);
    hl_transit_lock(true);
    if (total < s->size)
        huge_shrink(s, total);
    else if (total > s->size && !huge_grow(s, total))
        s = huge_move(s, total);
    if (s) s->huge_usable = s->size - HL_SLICE_SIZE;
    hl_transit_lock(false);
    return s ? s->pages[HL_FIRST_SLICE].start : NULL;
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
