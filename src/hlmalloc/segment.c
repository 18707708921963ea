/*
 * hlmalloc/segment.c: segments, the segment map, slice spans and purging.
 *
 * A normal segment is 32 MiB aligned to 32 MiB. Slice 0 holds this header and the 512
 * page descriptors; pages are runs of slices 1..511, found first-fit in `free_map`.
 * A freed slice is marked dirty with the time it was freed (in its own, unused descriptor)
 * and purged (MADV_DONTNEED) once it has stayed free for purge_delay_ms, by the owner's
 * slow path, the background purger or hl_collect(), so RSS falls after a spike without
 * purge work on the fast paths, and memory reused within the delay is not faulted in
 * anew. The delay is per slice: a slice freed just before an older one falls due waits
 * its own full delay (a program that frees and rebuilds a structure every few hundred
 * milliseconds keeps it resident instead of faulting it in each time).
 *
 * Lock order: the transit lock (heap.c), hl_heaps_lock, hl_registry_lock, then a
 * segment's lock. madvise runs under the segment lock; the owner waits for it only on its
 * slow path.
 */
#define _GNU_SOURCE
#include <stddef.h>

#include "hlmalloc/internal.h"

uint8_t hl_segmap[HL_MAP_UNITS];
pthread_mutex_t hl_registry_lock = PTHREAD_MUTEX_INITIALIZER;
struct hl_segment *hl_registry;
static _Atomic int purger_wanted;
static _Atomic uint32_t slices_taken; /* until HL_PURGER_AFTER: then the purger is wanted */

_Static_assert(sizeof(struct hl_page) == 128, "descriptors are 128 bytes: lookup by shift");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "used is the low half of used_quiet, which the fast paths add to (I12)");
_Static_assert(offsetof(struct hl_page, free) == 64,
               "what the owner writes on every malloc and free is apart from what frees read");
_Static_assert(sizeof(struct hl_segment) <= HL_SLICE_SIZE, "descriptors fit in slice 0");
_Static_assert(offsetof(struct hl_segment, size) + 4 == offsetof(struct hl_page, limit)
                       && offsetof(struct hl_segment, huge_usable)
                                  == offsetof(struct hl_page, fast_count)
                       && offsetof(struct hl_page, slice_back)
                                  == offsetof(struct hl_page, fast_count) + 4,
               "descriptor 0 reads as an empty page: limit, fast_count and slice_back are 0");
_Static_assert(offsetof(struct hl_segment, header_back)
                       == sizeof(struct hl_page) + offsetof(struct hl_page, slice_back),
               "descriptor 1's slice_back leads back to descriptor 0");
_Static_assert(offsetof(struct hl_segment, kind) < HL_FIRST_SLICE * sizeof(struct hl_page),
               "the header fits in the descriptors of the slices that hold no page");
_Static_assert(offsetof(struct hl_segment, remote_bytes) + sizeof(uint32_t)
                       <= HL_FIRST_SLICE * sizeof(struct hl_page),
               "the remote-free count too");
_Static_assert(offsetof(struct hl_segment, remote_bytes) >= 64,
               "remote frees write the count apart from thread_id, which every free reads");

static inline void bit_set(uint64_t *m, uint32_t i)
{
    m[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline void bit_clear(uint64_t *m, uint32_t i)
{
    m[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static inline bool bit_test(const uint64_t *m, uint32_t i)
{
    return (m[i >> 6] >> (i & 63)) & 1;
}

/* The address of slice i of s. */
static inline uint8_t *slice_addr(struct hl_segment *s, uint32_t i)
{
    return (uint8_t *)s + ((size_t)i << HL_SLICE_SHIFT);
}

/* The first bit of `map` at or after k that equals `set`, or HL_SLICES: whole words at a
 * time (ctz), not bit by bit. */
static uint32_t scan_bits(const uint64_t *map, uint32_t k, bool set)
{
    while (k < HL_SLICES) {
        uint64_t w = (set ? map[k >> 6] : ~map[k >> 6]) >> (k & 63);
        if (w) return k + (uint32_t)__builtin_ctzll(w);
        k = (k | 63) + 1;
    }
    return HL_SLICES;
}

/* The next run of set bits of `map` at or after *i: [*i, *end). false if there is none. */
static bool next_run(const uint64_t *map, uint32_t *i, uint32_t *end)
{
    uint32_t k = scan_bits(map, *i, true);
    if (k >= HL_SLICES) return false;
    *i = k;
    *end = scan_bits(map, k, false);
    return true;
}

/* Slice i of s is free and touched from now on. Caller holds s->lock. */
static void mark_dirty(struct hl_segment *s, uint32_t i, uint64_t now)
{
    bit_set(s->free_map, i);
    bit_set(s->dirty_map, i);
    s->pages[i].dirty_ms = (uint32_t)now;
    if (s->purge_at_ms == 0)
        __atomic_store_n(&s->purge_at_ms, now + hl_opt.purge_delay_ms, __ATOMIC_RELAXED);
}

/* How long ago (ms) free slice i of s was freed. A slice freed by another thread after
 * the caller read `now` would wrap to a huge age: it counts as freed just now. */
static inline uint32_t slice_age(const struct hl_segment *s, uint32_t i, uint64_t now)
{
    int32_t age = (int32_t)((uint32_t)now - s->pages[i].dirty_ms);
    return age > 0 ? (uint32_t)age : 0;
}

/* Caller holds hl_registry_lock. */
static void registry_add_locked(struct hl_segment *s)
{
    s->all_prev = NULL;
    s->all_next = hl_registry;
    if (hl_registry) hl_registry->all_prev = s;
    hl_registry = s;
    atomic_fetch_add_explicit(&hl_count.segments, 1, memory_order_relaxed);
}

/* Caller holds hl_registry_lock. */
static void registry_remove_locked(struct hl_segment *s)
{
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        hl_registry = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    atomic_fetch_sub_explicit(&hl_count.segments, 1, memory_order_relaxed);
}

void hl_registry_add(struct hl_segment *s)
{
    pthread_mutex_lock(&hl_registry_lock);
    registry_add_locked(s);
    pthread_mutex_unlock(&hl_registry_lock);
}

void hl_registry_remove(struct hl_segment *s)
{
    pthread_mutex_lock(&hl_registry_lock);
    registry_remove_locked(s);
    pthread_mutex_unlock(&hl_registry_lock);
}

void hl_segmap_set(const struct hl_segment *s, size_t size, size_t block_off, bool live)
{
    uintptr_t first = (uintptr_t)s >> HL_SEG_SHIFT;
    uintptr_t last = ((uintptr_t)s + size - 1) >> HL_SEG_SHIFT;
    uintptr_t block = ((uintptr_t)s + block_off) >> HL_SEG_SHIFT;
    for (uintptr_t u = first; u <= last && u < HL_MAP_UNITS; u++) {
        uint8_t e = HL_MAP_NONE;
        if (live && u == first)
            e = HL_MAP_START;
        else if (live && u == block) /* block_off is the alignment, a power of two */
            e = (uint8_t)(HL_MAP_BACK + __builtin_ctzll(block_off >> HL_SEG_SHIFT));
        else if (live)
            e = HL_MAP_INSIDE;
        __atomic_store_n(&hl_segmap[u], e, __ATOMIC_RELEASE);
    }
}

/* Give every free slice of s back to the OS (unmapped; they become holes, never taken
 * again while s lives), so that when the address space runs out (`ulimit -v`) it goes
 * to what is asked for now. A 1 MiB block leaves 14 slices of a 32 MiB segment unused,
 * and a small page can pin a whole segment. Holes are what release leaves alone: the
 * kernel may have put another mapping there since. Only for the calling thread's own
 * segments: release (by the owner) reads the holes without the lock. */
static void segment_punch(struct hl_segment *s)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = HL_FIRST_SLICE, end; next_run(s->free_map, &i, &end); i = end) {
        for (uint32_t k = i; k < end; k++) {
            bit_clear(s->free_map, k);
            bit_clear(s->dirty_map, k);
            s->pages[k].hole = 1;
        }
        hl_os_unmap(slice_addr(s, i), (size_t)(end - i) << HL_SLICE_SHIFT);
    }
    pthread_mutex_unlock(&s->lock);
}

void hl_segments_punch(struct hl_heap *h)
{
    for (struct hl_segment *s = h->segments; s; s = s->next)
        if (__atomic_load_n(&s->used_slices, __ATOMIC_RELAXED) != 0) segment_punch(s);
}

/* Map a segment of `slices` slices: the full 32 MiB unit, or (squeezed for address
 * space) its first part. NULL if the OS refuses. */
static struct hl_segment *segment_map(uint32_t slices)
{
    size_t size = (size_t)slices << HL_SLICE_SHIFT;
    struct hl_segment *s = hl_os_reserve(size, HL_SEG_SIZE);
    if (!s) return NULL;
    if ((uintptr_t)s >> HL_SEG_SHIFT >= HL_MAP_UNITS /* outside the map: cannot track */
        || (hl_opt.commit && hl_os_commit(s, HL_SLICE_SIZE) != 0)) { /* the header */
        hl_os_unmap(s, size);
        return NULL;
    }
    return s;
}

/* Under `ulimit -v` a heap starts with a segment this small (4 MiB): a program that makes
 * a few small allocations and then big ones (64 MiB blocks: 29 served instead of glibc's
 * 30 under `ulimit -v 2000000`) does not spend 32 MiB of its address space on them. */
#define HL_SMALL_SEG_SLICES 64

/*
 * A segment is mapped and registered, and unregistered and unmapped, under the registry
 * lock, which fork's prepare handler takes: a fork child never has a mapping counted in
 * mapped_bytes that no registered segment accounts for (a thread of the parent between
 * the two steps, which the child does not have, left one behind: I9 broke in 1 of 11
 * runs of test_fork.c's 30 forks beside busy threads). Segments are mapped and
 * unmapped rarely (32 MiB each); the purger already holds this lock across its madvise
 * calls. Huge blocks (huge.c) still map before they register.
 */
static struct hl_segment *segment_new_locked(struct hl_heap *h, uint32_t need, bool squeeze);

struct hl_segment *hl_segment_new(struct hl_heap *h, uint32_t need, bool squeeze)
{
    pthread_mutex_lock(&hl_registry_lock);
    struct hl_segment *s = segment_new_locked(h, need, squeeze);
    pthread_mutex_unlock(&hl_registry_lock);
    return s;
}

static struct hl_segment *segment_new_locked(struct hl_heap *h, uint32_t need, bool squeeze)
{
    uint32_t slices = HL_SLICES;
    if (__atomic_load_n(&hl_opt.space_limited, __ATOMIC_RELAXED) && !h->segments
        && HL_FIRST_SLICE + need <= HL_SMALL_SEG_SLICES)
        slices = HL_SMALL_SEG_SLICES;
    struct hl_segment *s = segment_map(slices);
    if (!s) /* from now on: the address space is short */
        __atomic_store_n(&hl_opt.space_limited, true, __ATOMIC_RELAXED);
    if (!s && squeeze) {
        /* Out of address space (`ulimit -v`): the free slices of this heap's segments go
         * back, then a part of a segment is mapped, as much as fits of half, a quarter,
         * ..., down to the slices asked for. Partial segments take what a full one would
         * have left unused: served under `ulimit -v 2000000`, 1 MiB blocks, 1798 MiB
         * before, 1930 with it (docs/hlmalloc.md). */
        hl_segments_punch(h);
        for (uint32_t k = HL_SLICES / 2; !s && k >= HL_FIRST_SLICE + need; k /= 2)
            if ((s = segment_map(k)) != NULL) slices = k;
        if (!s && (s = segment_map(HL_FIRST_SLICE + need)) != NULL) slices = HL_FIRST_SLICE + need;
    }
    if (!s) return NULL;
    /* Fresh mappings are zero: every descriptor is already "not a page" (I2's check
     * fails on a zero divisor), and no slice is dirty. */
    pthread_mutex_init(&s->lock, NULL);
    s->size = (size_t)slices << HL_SLICE_SHIFT;
    s->slices = (uint16_t)slices;
    s->kind = HL_PAGE_SMALL;
    s->header_back = sizeof(struct hl_page);
    for (uint32_t i = HL_FIRST_SLICE; i < slices; i++)
        bit_set(s->free_map, i);
    s->heap = h;
    atomic_store_explicit(&s->thread_id, h->thread_id, memory_order_release);
    s->next = h->segments;
    s->prev = NULL;
    if (h->segments) h->segments->prev = s;
    h->segments = s;
    registry_add_locked(s);
    hl_segmap_set(s, s->size, 0, true);
    return s;
}

uint32_t hl_segment_used(struct hl_segment *s)
{
    /* Under the lock: a remote free of a large block changes it under the lock, and a
     * segment may be unmapped only once that thread is out of the critical section. */
    pthread_mutex_lock(&s->lock);
    uint32_t n = s->used_slices;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void segment_release_locked(struct hl_segment *s);

void hl_segment_release(struct hl_segment *s)
{
    pthread_mutex_lock(&hl_registry_lock); /* with the unmap: see hl_segment_new */
    segment_release_locked(s);
    pthread_mutex_unlock(&hl_registry_lock);
}

static void segment_release_locked(struct hl_segment *s)
{
    hl_segmap_set(s, s->size, 0, false);
    registry_remove_locked(s);
    pthread_mutex_destroy(&s->lock);
    /* An unmap returns memory too: counted with the purges (hlmalloc.h). */
    atomic_fetch_add_explicit(&hl_count.purges, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hl_count.purged_bytes, s->size, memory_order_relaxed);
    if (s->kind == HL_PAGE_HUGE) {
        hl_huge_unmap(s);
        return;
    }
    /* The mapped runs between holes, last first: the descriptors in slice 0 go last (and
     * slices 0 and 1, under the header, are no holes). */
    for (uint32_t end = s->slices; end > 0;) {
        while (end > HL_FIRST_SLICE && s->pages[end - 1].hole)
            end--;
        uint32_t start = end;
        while (start > HL_FIRST_SLICE && !s->pages[start - 1].hole)
            start--;
        if (start == HL_FIRST_SLICE) start = 0;
        if (end > start) hl_os_unmap(slice_addr(s, start), (size_t)(end - start) << HL_SLICE_SHIFT);
        end = start;
    }
}

/*
 * A run of n slices set in `map`, or -1. Caller holds s->lock. First fit: the start of the
 * first run long enough. With `best_end`: the last n slices of the shortest run long
 * enough (the first of equals), which keeps long runs whole for long blocks.
 */
static int find_run(const uint64_t *map, uint32_t n, bool best_end)
{
    int best = -1;
    uint32_t best_len = UINT32_MAX;
    for (uint32_t i = HL_FIRST_SLICE, end; next_run(map, &i, &end); i = end) {
        uint32_t run = end - i;
        if (run < n) continue;
        if (!best_end) return (int)i;
        if (run < best_len) {
            best = (int)(end - n);
            best_len = run;
            if (run == n) break;
        }
    }
    return best;
}

/*
 * The start of the n free slices of s that hold the most resident (dirty) ones, or -1:
 * of all the windows of n in the free runs, the one that faults the fewest pages in anew.
 * Equal counts keep the lowest address, so with nothing dirty this is first fit. Caller
 * holds s->lock.
 */
static int find_run_dirtiest(const struct hl_segment *s, uint32_t n)
{
    int best = -1, best_dirty = -1, all = 0;
    for (unsigned w = 0; w < HL_SLICES / 64; w++)
        all += __builtin_popcountll(s->dirty_map[w]);
    for (uint32_t start = HL_FIRST_SLICE, i; next_run(s->free_map, &start, &i); start = i) {
        if (i - start < n) continue;
        int dirty = 0; /* dirty slices in [j, j+n), slid along the run */
        for (uint32_t j = start; j < start + n; j++)
            dirty += bit_test(s->dirty_map, j);
        for (uint32_t j = start;; j++) {
            if (dirty > best_dirty) {
                best = (int)j;
                best_dirty = dirty;
                if (dirty == (int)n || dirty == all) return best; /* none better */
            }
            if (j + n >= i) break;
            dirty += (int)bit_test(s->dirty_map, j + n) - (int)bit_test(s->dirty_map, j);
        }
    }
    return best;
}

/*
 * Claim slices [first, first+n) of s (caller holds s->lock); returns how many were clean
 * (never touched, or purged): the slices that will fault in anew. Under hl_opt.commit
 * they are made read-write first (committed), and in the secure build too (a freed page
 * keeps its guard page until then); if that fails (the commit limit) nothing is claimed
 * and the result is -1. Slices the failed call may have committed become dirty, so that
 * a purge decommits them.
 */
static int claim(struct hl_segment *s, uint32_t first, uint32_t n)
{
    if ((HL_SECURE || hl_opt.commit)
        && hl_os_commit(slice_addr(s, first), (size_t)n << HL_SLICE_SHIFT) != 0) {
        if (hl_opt.commit) {
            uint64_t now = hl_os_now_ms();
            for (uint32_t i = first; i < first + n; i++)
                mark_dirty(s, i, now);
        }
        return -1;
    }
    uint32_t clean = n;
    for (uint32_t i = first; i < first + n; i++) {
        if (bit_test(s->dirty_map, i)) {
            clean--;
            bit_clear(s->dirty_map, i);
        }
        bit_clear(s->free_map, i);
    }
    __atomic_store_n(&s->used_slices, s->used_slices + n, __ATOMIC_RELAXED);
    return (int)clean;
}

static struct hl_page *init_span(struct hl_segment *s, uint32_t first, uint32_t n)
{
    struct hl_page *pg = &s->pages[first];
    memset(pg, 0, sizeof(*pg));
    pg->slice_count = n;
    for (uint32_t i = 1; i < n; i++) {
        memset(&s->pages[first + i], 0, sizeof(struct hl_page));
        s->pages[first + i].slice_back = i * (uint32_t)sizeof(struct hl_page);
    }
    return pg;
}

/* Take n slices from s; with `dirty_only`, only slices still resident (freed, not yet
 * purged): reusing them costs no page faults. Otherwise first fit, or for a span of more
 * than one slice in a segment with dirty slices the window with the most of them (a scan
 * of every free run; a one-slice page gets here only when no slice of the heap's segments
 * is dirty). *clean: how many of the slices will fault in anew. */
static struct hl_page *take_from(struct hl_segment *s, uint32_t n, int *is_zero, uint32_t *clean,
                                 bool dirty_only)
{
    pthread_mutex_lock(&s->lock);
    /* Resident slices: best fit for blocks longer than a medium page (docs/hlmalloc.md). */
    int first;
    if (dirty_only)
        first = find_run(s->dirty_map, n, n > HL_MEDIUM_SLICES);
    else if (n > 1 && __atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) != 0)
        first = find_run_dirtiest(s, n);
    else
        first = find_run(s->free_map, n, false);
    int fresh = first >= 0 ? claim(s, (uint32_t)first, n) : -1;
    pthread_mutex_unlock(&s->lock);
    if (fresh < 0) return NULL;
    if (is_zero) *is_zero = (uint32_t)fresh == n;
    *clean = (uint32_t)fresh;
    if (atomic_load_explicit(&slices_taken, memory_order_relaxed) < HL_PURGER_AFTER
                >> HL_SLICE_SHIFT
        && atomic_fetch_add_explicit(&slices_taken, n, memory_order_relaxed) + n >= HL_PURGER_AFTER
                   >> HL_SLICE_SHIFT)
        hl_purger_note();
    return init_span(s, (uint32_t)first, n);
}

/* n free slices from the heap's segments: only resident ones (freed, not yet purged) or any. */
static struct hl_page *take_owned(struct hl_heap *h, uint32_t n, int *is_zero, uint32_t *clean,
                                  bool dirty_only)
{
    for (struct hl_segment *s = h->segments; s; s = s->next) {
        /* Hints read without the lock (relaxed); take_from decides under it. */
        uint32_t used = __atomic_load_n(&s->used_slices, __ATOMIC_RELAXED);
        if (HL_SLICES - HL_FIRST_SLICE - used < n) continue;
        if (dirty_only && __atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) == 0) continue;
        struct hl_page *pg = take_from(s, n, is_zero, clean, dirty_only);
        if (pg) return pg;
    }
    return NULL;
}

#define HL_PURGE_RETRY_MS 10 /* after a purge (madvise) that failed */

/* Purge up to `budget` dirty slices of s freed at least min_age ms ago, in dirty runs of
 * at most max_run slices, one madvise per run (fewer calls and TLB shootdowns); returns
 * the budget left. With next_wait: the least time until a slice it kept reaches min_age
 * goes there (when it was lower). Caller holds s->lock. */
static uint32_t purge_segment_aged(struct hl_segment *s, uint32_t budget, uint32_t min_age,
                                   uint32_t max_run, uint64_t now, uint32_t *next_wait)
{
    for (uint32_t i = HL_FIRST_SLICE, end; budget && next_run(s->dirty_map, &i, &end); i = end) {
        if (end - i > max_run) continue;
        while (i < end && budget) {
            uint32_t age = slice_age(s, i, now);
            if (age < min_age) {
                if (next_wait && min_age - age < *next_wait) *next_wait = min_age - age;
                i++;
                continue;
            }
            uint32_t j = i;
            while (j < end && j - i < budget && slice_age(s, j, now) >= min_age)
                j++;
            if (hl_os_purge(slice_addr(s, i), (size_t)(j - i) << HL_SLICE_SHIFT) != 0) {
                /* They stay dirty, and are tried again in HL_PURGE_RETRY_MS. */
                if (next_wait && HL_PURGE_RETRY_MS < *next_wait) *next_wait = HL_PURGE_RETRY_MS;
                return 0;
            }
            for (uint32_t k = i; k < j; k++)
                bit_clear(s->dirty_map, k);
            budget -= j - i;
            i = j;
        }
    }
    return budget;
}

/* purge_segment_aged over h's segments. */
static uint32_t purge_aged(struct hl_heap *h, uint32_t budget, uint32_t min_age, uint32_t max_run,
                           uint64_t now)
{
    for (struct hl_segment *s = h->segments; s && budget; s = s->next) {
        if (__atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) == 0) continue;
        pthread_mutex_lock(&s->lock);
        budget = purge_segment_aged(s, budget, min_age, max_run, now, NULL);
        pthread_mutex_unlock(&s->lock);
    }
    return budget;
}

/*
 * A large block is about to fault `fresh` slices in anew: the heap gives back as many of
 * the resident free slices it is not using, so that it grows in RSS only once that slack
 * is gone. In order, while slices remain to give:
 *   1. dirty slices freed at least HL_GROWTH_MIN_AGE ago, oldest first, in passes from
 *      3/4 of the purge delay down to 1/8 (50 ms by default), then 10 ms: the purger
 *      would take them soon anyway, and a run that no block has taken in 10 ms of
 *      growth is seldom taken later (`large`, 1-4 MiB blocks freed and taken in turn:
 *      17.5 to 15.4 MiB peak RSS, 5% fewer faults, against 50 ms as the last pass);
 *   2. younger ones in dirty runs of at most HL_GROWTH_SHORT_RUN slices (512 KiB): scraps
 *      between live pages, which only pages and the smallest large blocks fit in (a
 *      program that frees 512 KiB blocks and grows by bigger ones between their reuses
 *      faults them in again: 8 measured best for python3, 66.2 MiB at 4).
 * Cold kept pages (page.c) are not given back here: purged at once they cost python3 a
 * further 25% in faults and 2.5% in time for 1.6 MiB.
 * Long runs younger than HL_GROWTH_MIN_AGE stay: a program that frees and allocates big
 * blocks in turn reuses them (the `large` workload ran at 0.70x, faulting, when they went
 * too).
 * python3's alloc_heavy.py peaked 4.4 MB lower (71.3 to 66.9 MiB, faults +18%): its 3 MB
 * dict tables and strings took fresh slices while as much lay dirty between small pages.
 * gcc: 326.3 to 323.2 MiB (docs/hlmalloc.md, "Growth gives back slack").
 */
#define HL_GROWTH_SHORT_RUN 8
#define HL_GROWTH_MIN_AGE   10 /* ms */
static void give_back_for_growth(struct hl_heap *h, uint32_t fresh)
{
    uint64_t now = hl_os_now_ms();
    uint32_t delay = hl_opt.purge_delay_ms, oldest = 0;
    /* One look at the ages first: most growth finds nothing old, and skips those passes. */
    for (struct hl_segment *s = h->segments; s; s = s->next) {
        if (__atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) == 0) continue;
        pthread_mutex_lock(&s->lock);
        for (uint32_t w = 0; w < HL_SLICES / 64; w++) {
            for (uint64_t m = s->dirty_map[w]; m; m &= m - 1) {
                uint32_t age = slice_age(s, w * 64 + (uint32_t)__builtin_ctzll(m), now);
                if (age > oldest) oldest = age;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    /* The passes by age, oldest first: 3/4, 1/2, 1/4 and 1/8 of the delay, then
     * HL_GROWTH_MIN_AGE; a pass no younger than the one before it is skipped. */
    const uint32_t ages[] = { delay / 8 * 6, delay / 8 * 4, delay / 8 * 2, delay / 8,
                              HL_GROWTH_MIN_AGE };
    for (unsigned i = 0; i < sizeof(ages) / sizeof(ages[0]) && fresh; i++)
        if ((i == 0 || ages[i] < ages[i - 1]) && oldest >= ages[i])
            fresh = purge_aged(h, fresh, ages[i], HL_SLICES, now);
    if (fresh) purge_aged(h, fresh, 0, HL_GROWTH_SHORT_RUN, now);
}

void hl_segment_give_back(struct hl_heap *h, uint32_t fresh)
{
    if (fresh) give_back_for_growth(h, fresh);
}

static struct hl_page *take_slices(struct hl_heap *h, uint32_t n, int *is_zero, uint32_t *clean,
                                   bool squeeze)
{
    struct hl_page *pg = take_owned(h, n, is_zero, clean, true);
    if (pg) return pg;
    if (h->kept_bytes != 0 && hl_heap_release_kept(h, n)) {
        if ((pg = take_owned(h, n, is_zero, clean, true))) return pg;
    }
    if ((pg = take_owned(h, n, is_zero, clean, false))) return pg;
    /* An exited thread's segment before a fresh one: reuses its memory and its pages. */
    struct hl_segment *s = hl_reclaim_abandoned(h);
    if (s) {
        pg = take_from(s, n, is_zero, clean, false);
        if (pg) return pg;
    }
    s = hl_segment_new(h, n, squeeze);
    if (!s) return NULL;
    return take_from(s, n, is_zero, clean, false);
}

void hl_reclaim_for_space(struct hl_heap *h)
{
    if (h) hl_heap_collect(h, true); /* empty pages and segments */
    hl_huge_cache_purge(0, true);
    hl_os_retry_unmaps();
    if (hl_opt.commit) hl_purge_all(true); /* decommits: what the commit limit counts */
}

/*
 * Resident free slices first; then, before memory that would fault in anew, a cold kept
 * page of the same slice count goes back (page.c keeps the last empty page of a size for
 * reuse) and its slices are tried: a page kept for a size that went quiet should not make
 * the heap grow. adversarial (each round's sizes go quiet as the next round's start):
 * 1652 page faults and 6.46 MiB peak RSS, 1899 and 7.43 without (mimalloc 1521 and 5.95).
 * A large block that still takes fresh slices offsets them (give_back_for_growth).
 */
struct hl_page *hl_segment_take_slices(struct hl_heap *h, uint32_t n, int *is_zero)
{
    if (n == 0 || n >= HL_SLICES) return NULL;
    uint32_t clean = 0;
    struct hl_page *pg = take_slices(h, n, is_zero, &clean, false);
    if (!pg) {
        /* The OS refused memory: give back what this process holds unused, as glibc
         * would have (its frees coalesce and trim), and try once more, squeezing
         * segments into the address space left. */
        hl_reclaim_for_space(h);
        pg = take_slices(h, n, is_zero, &clean, true);
    }
    if (pg && clean != 0 && n > HL_MEDIUM_SLICES) give_back_for_growth(h, clean);
    return pg;
}

bool hl_segment_resize_large(struct hl_segment *s, struct hl_page *pg, uint32_t want)
{
    uint32_t first = (uint32_t)(pg - s->pages), have = pg->slice_count;
    if (want == have) return true;
    if (want == 0 || first + want > HL_SLICES) return false;
    uint64_t now = hl_os_now_ms();
    pthread_mutex_lock(&s->lock);
    if (want > have) {
        for (uint32_t i = first + have; i < first + want; i++) {
            if (!bit_test(s->free_map, i)) {
                pthread_mutex_unlock(&s->lock);
                return false; /* the next slices are taken: the caller moves the block */
            }
        }
        if (claim(s, first + have, want - have) < 0) {
            pthread_mutex_unlock(&s->lock);
            return false; /* not committed: the caller tries a new block */
        }
        for (uint32_t i = have; i < want; i++) {
            memset(&s->pages[first + i], 0, sizeof(struct hl_page));
            s->pages[first + i].slice_back = i * (uint32_t)sizeof(struct hl_page);
        }
    } else {
        for (uint32_t i = first + want; i < first + have; i++) {
            memset(&s->pages[i], 0, sizeof(struct hl_page));
            mark_dirty(s, i, now);
        }
        __atomic_store_n(&s->used_slices, s->used_slices - (have - want), __ATOMIC_RELAXED);
    }
    pg->slice_count = want;
    pthread_mutex_unlock(&s->lock);
    if (want < have) hl_purger_note();
    return true;
}

/* Give a page's slices back to its segment: dirty (purged after the delay), or purged now
 * (before they are marked free, so no other thread can take them meanwhile; dirty if the
 * purge fails). The secure build's guard page at the end stays until the slices are
 * claimed again (claim makes them read-write). */
static void segment_free_span(struct hl_segment *s, struct hl_page *pg, bool purge_now)
{
    uint32_t first = (uint32_t)(pg - s->pages), n = pg->slice_count;
    if (purge_now && hl_os_purge(slice_addr(s, first), (size_t)n << HL_SLICE_SHIFT) != 0)
        purge_now = false;
    uint64_t now = hl_os_now_ms();
    pthread_mutex_lock(&s->lock);
    /* The descriptors too under the lock: the heap checker reads a segment's slices
     * under it while a large block of it may be freed by another thread. */
    for (uint32_t i = 0; i < n; i++)
        memset(&s->pages[first + i], 0, sizeof(struct hl_page));
    for (uint32_t i = first; i < first + n; i++) {
        if (purge_now)
            bit_set(s->free_map, i);
        else
            mark_dirty(s, i, now);
    }
    __atomic_store_n(&s->used_slices, s->used_slices - n, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->lock);
    if (!purge_now) hl_purger_note();
}

void hl_segment_free_page(struct hl_segment *s, struct hl_page *pg)
{
    segment_free_span(s, pg, false);
}

void hl_segment_free_page_purged(struct hl_segment *s, struct hl_page *pg)
{
    segment_free_span(s, pg, true);
}

void hl_purger_note(void)
{
    if (!atomic_load_explicit(&purger_wanted, memory_order_relaxed))
        atomic_store_explicit(&purger_wanted, 1, memory_order_relaxed);
    hl_purger_wake_idle();
}

void hl_segment_purge(struct hl_segment *s, uint64_t now_ms, bool force)
{
    pthread_mutex_lock(&s->lock);
    if (s->purge_at_ms != 0 && (force || now_ms >= s->purge_at_ms)) {
        /* The slices whose own delay has passed; the rest set the next due time. */
        uint32_t next_wait = UINT32_MAX;
        purge_segment_aged(s, UINT32_MAX, force ? 0 : hl_opt.purge_delay_ms, HL_SLICES, now_ms,
                           &next_wait);
        __atomic_store_n(&s->purge_at_ms, next_wait == UINT32_MAX ? 0 : now_ms + next_wait,
                         __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->lock);
}

bool hl_purge_all(bool force)
{
    uint64_t now = hl_os_now_ms();
    bool left = false;
    pthread_mutex_lock(&hl_registry_lock);
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        if (s->kind == HL_PAGE_HUGE) continue;
        hl_segment_purge(s, now, force);
        left |= __atomic_load_n(&s->purge_at_ms, __ATOMIC_RELAXED) != 0;
    }
    pthread_mutex_unlock(&hl_registry_lock);
    return hl_huge_cache_purge(now, force) || left;
}

int hl_purger_wanted(void)
{
    return atomic_load_explicit(&purger_wanted, memory_order_relaxed);
}
