/*
 * hlmalloc/internal.h: the hidden cross-file API and the inline helpers of the fast paths.
 * Every function here has hidden visibility; nothing here is exported.
 */
#ifndef HEAPLAB_HLMALLOC_INTERNAL_H
#define HEAPLAB_HLMALLOC_INTERNAL_H

#include <stdbool.h>
#include <string.h>

#include "hlmalloc.h"
#include "hlmalloc/types.h"

#define HL_HIDDEN      __attribute__((visibility("hidden")))
#define HL_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HL_NOINLINE    __attribute__((noinline))
#define HL_INLINE      static inline __attribute__((always_inline))

/* ---- globals ------------------------------------------------------------------------ */

extern HL_HIDDEN uint8_t hl_segmap[HL_MAP_UNITS]; /* I1: enum hl_map_entry */
extern HL_HIDDEN uintptr_t hl_cookie;             /* random, set at process init */
extern HL_HIDDEN const struct hl_heap hl_heap_empty;
extern HL_HIDDEN struct hl_page hl_page_empty;
extern HL_HIDDEN __thread struct hl_heap *hl_tls_heap __attribute__((tls_model("initial-exec")));

struct hl_options {
    uint32_t purge_delay_ms; /* HLMALLOC_PURGE_DELAY: free memory is returned after this */
    int purge_thread;        /* HLMALLOC_PURGE_THREAD: background purger (default 1) */
    int show_stats;          /* HLMALLOC_SHOW_STATS: print statistics at exit */
    int verbose;             /* HLMALLOC_VERBOSE: invalid and double frees reported: 0 none,
                                1 the first of each kind (default), 2 every one */
    int abort_on_error;      /* HLMALLOC_ABORT_ON_ERROR: abort on them, as glibc does */
    size_t huge_cache_bytes; /* HLMALLOC_HUGE_CACHE: freed huge blocks kept for reuse */
    int overcommit;          /* vm.overcommit_memory, or HLMALLOC_OVERCOMMIT to act as if */
    bool commit;             /* overcommit 2: commit segment slices when used (os.c) */
    bool space_limited;      /* RLIMIT_AS set, or a mapping refused: a heap's first
                                segment is HL_SMALL_SEG_SLICES, not 32 MiB of space */
};
extern HL_HIDDEN struct hl_options hl_opt;

/* Process-wide counters of rare events (relaxed atomics). */
struct hl_counters {
    _Atomic uint64_t invalid_frees;
    _Atomic uint64_t double_frees;
    _Atomic uint64_t purges;
    _Atomic uint64_t purged_bytes;
    _Atomic uint64_t mapped_bytes;
    _Atomic uint64_t segments;
    _Atomic uint64_t huge_blocks;
    _Atomic uint64_t threads;
};
extern HL_HIDDEN struct hl_counters hl_count;

/* ---- thread identity ---------------------------------------------------------------- */

/* The thread pointer: unique per live thread, free to read (I4 compares against it). */
HL_INLINE uintptr_t hl_thread_id(void)
{
#if defined(__x86_64__)
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#elif defined(__aarch64__)
    uintptr_t tp;
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
#else
    return (uintptr_t)&hl_tls_heap;
#endif
}

/* ---- size classes ------------------------------------------------------------------- */

/* Class of a size 1..HL_MEDIUM_MAX: 16-byte steps to 128, then 4 per power of two. */
HL_INLINE unsigned hl_bin(size_t n)
{
    if (n <= 128) return n <= 16 ? 0 : (unsigned)((n + 15) >> 4) - 1;
    size_t w = n - 1;
    unsigned b = 63u - (unsigned)__builtin_clzll(w);
    return 8 + (b - 7) * 4 + (unsigned)((w >> (b - 2)) & 3);
}

/* Block size of class `bin`. */
HL_INLINE size_t hl_bin_size(unsigned bin)
{
    if (bin < 8) return (size_t)(bin + 1) * 16;
    unsigned b = 7 + (bin - 8) / 4, k = (bin - 8) % 4;
    return ((size_t)1 << b) + ((size_t)(k + 1) << (b - 2));
}

/* ---- pointer to metadata ------------------------------------------------------------ */

/* The segment holding the block that starts at p, or NULL when p is not ours (I1). An
 * interior pointer of a huge block past its first 32 MiB unit is not ours either. */
HL_INLINE struct hl_segment *hl_segment_of(const void *p)
{
    uintptr_t unit = (uintptr_t)p >> HL_SEG_SHIFT;
    if (HL_UNLIKELY(unit >= HL_MAP_UNITS)) return NULL;
    unsigned e = hl_segmap[unit];
    if (HL_LIKELY(e == HL_MAP_START)) return (struct hl_segment *)(unit << HL_SEG_SHIFT);
    if (e < HL_MAP_BACK) return NULL;
    /* A huge block aligned past 32 MiB: its header is `align` bytes before its unit. */
    return (struct hl_segment *)((unit << HL_SEG_SHIFT) - (HL_SEG_SIZE << (e - HL_MAP_BACK)));
}

/* The page holding p in a normal segment. */
HL_INLINE struct hl_page *hl_page_of(struct hl_segment *s, const void *p)
{
    /* Descriptor of p's slice: (p - s) >> 16 slices, 128 bytes each, then back to the
     * first slice of the page (slice_back is in bytes, so no multiply). */
    uintptr_t d = (uintptr_t)s
                  + ((((uintptr_t)p - (uintptr_t)s) >> (HL_SLICE_SHIFT - 7)) & ~(uintptr_t)127);
    return (struct hl_page *)(d - ((const struct hl_page *)d)->slice_back);
}

/* off / block_size if `off` (bytes from page start) is a multiple of the page's block
 * size, else a number above div_max (so `< n` for n <= div_max tests both at once). */
HL_INLINE uint32_t hl_block_index(const struct hl_page *pg, uint32_t off)
{
    uint32_t q = off * pg->div_mul;
    return (q >> pg->div_shift) | (q << ((32 - pg->div_shift) & 31));
}

/* Is `off` a multiple of the page's block size? */
HL_INLINE bool hl_is_block_offset(const struct hl_page *pg, uint32_t off)
{
    return hl_block_index(pg, off) <= pg->div_max;
}

/* A page is kept no longer; quiet goes with kept (I12). The heap's kept_bytes is the
 * caller's to adjust (page.c unkeep) or recount (hl_heap_trim_kept). */
HL_INLINE void hl_page_forget_kept(struct hl_page *pg)
{
    pg->kept = 0;
    pg->quiet = 0;
}

/* Set the divisibility constants of a page for its block size (see hl_is_block_offset). */
HL_HIDDEN void hl_page_set_divisor(struct hl_page *pg, uint32_t d);

/* ---- free-list encoding (secure build) ---------------------------------------------- */

HL_INLINE struct hl_block *hl_next_decode(const struct hl_page *pg, const struct hl_block *b)
{
    if (HL_SECURE) return (struct hl_block *)((uintptr_t)b->next ^ pg->key ^ (uintptr_t)b);
    (void)pg;
    return b->next;
}

HL_INLINE void hl_next_encode(const struct hl_page *pg, struct hl_block *b, struct hl_block *next)
{
    if (HL_SECURE)
        b->next = (struct hl_block *)((uintptr_t)next ^ pg->key ^ (uintptr_t)b);
    else
        b->next = next;
    (void)pg;
}

/* ---- OS layer (os.c): every system call goes through here --------------------------- */

/* Address space for a segment: size bytes aligned to align (a power of two >= 64 KiB),
 * read-write and uncharged (MAP_NORESERVE), or PROT_NONE under hl_opt.commit (then
 * hl_os_commit makes parts of it usable). NULL on failure; errno unchanged. */
HL_HIDDEN void *hl_os_reserve(size_t size, size_t align);
/* Read-write memory charged against the overcommit policy as glibc's mmap'd chunks are
 * (huge blocks, the heap pool), at p with p + phase a multiple of align. An alignment
 * above HL_SEG_SIZE asks the kernel for size + align at once, as glibc would. */
HL_HIDDEN void *hl_os_map(size_t size, size_t align, size_t phase);
/* Make reserved pages read-write (hl_opt.commit); 0 or -1 (the commit limit). */
HL_HIDDEN int hl_os_commit(void *p, size_t size);
/* Unmap; a munmap that fails is kept and retried by hl_os_retry_unmaps. */
HL_HIDDEN void hl_os_unmap(void *p, size_t size);
HL_HIDDEN void hl_os_retry_unmaps(void);
HL_HIDDEN size_t hl_os_unmaps_pending(void); /* bytes of failed munmaps kept to retry */
/* hl_count.mapped_bytes, and the pending bytes in it, read together (heap checker). */
HL_HIDDEN uint64_t hl_os_mapped_bytes(size_t *pending);
HL_HIDDEN void hl_os_fork(int phase); /* 0: before fork (locks), 1: after (unlocks) */
/* Return the pages of [p, p+size) to the OS; they read as zero afterwards (under
 * hl_opt.commit they are decommitted: PROT_NONE until hl_os_commit). 0, or -1 if the
 * call failed and nothing changed. */
HL_HIDDEN int hl_os_purge(void *p, size_t size);
HL_HIDDEN int hl_os_protect(void *p, size_t size, int none);
/* Move the pages of [from, from+size), one kernel mapping or part of one, to
 * [to, to+size), which a mapping made here covers (mremap: page tables move, nothing is
 * copied or faulted); what was at `to` goes, and so does [from, from+size). 0, or -1
 * and nothing changed. */
HL_HIDDEN int hl_os_move(void *from, size_t size, void *to);
/* Grow the kernel mapping ending at p + size to end at p + to, where it is (mremap
 * without moving: the addresses after it must be free). 0, or -1 and nothing changed. */
HL_HIDDEN int hl_os_grow(void *p, size_t size, size_t to);
HL_HIDDEN int hl_os_overcommit_policy(void); /* vm.overcommit_memory: 0, 1 or 2 */
HL_HIDDEN bool hl_os_space_limited(void);    /* RLIMIT_AS (`ulimit -v`) is set */
/* Fault injection (only the HL_FAULT=1 build fails calls): fail the nth memory call
 * (mmap, munmap, madvise, mprotect, mremap) from now on, counting from 1; 0 disarms. */
HL_HIDDEN void hl_os_fault_arm(uint64_t nth);
HL_HIDDEN uint64_t hl_os_fault_calls(void); /* memory calls since arming */
HL_HIDDEN uint64_t hl_os_fault_count(void); /* calls failed on purpose, ever */
HL_HIDDEN uint64_t hl_os_now_ms(void);
HL_HIDDEN void hl_os_write(const char *s, size_t n);
HL_HIDDEN uintptr_t hl_os_random(void);
HL_HIDDEN void hl_os_yield(void);
/* Sleep until *word != seen, a wake, or ms milliseconds pass (a futex; may return early). */
HL_HIDDEN void hl_os_wait(_Atomic uint32_t *word, uint32_t seen, uint32_t ms);
HL_HIDDEN void hl_os_wake(_Atomic uint32_t *word);
/* Threads of this process still running (zombies not counted); -1 if unknown. */
HL_HIDDEN int hl_os_live_threads(void);

/* ---- output and errors (stats.c) ---------------------------------------------------- */

HL_HIDDEN void hl_out(const char *s);
HL_HIDDEN void hl_outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A misuse of the API: counted, reported when verbose, fatal in the secure build. */
HL_HIDDEN void hl_invalid_free(const void *p, const char *what);
HL_HIDDEN void hl_double_free(const void *p);
HL_HIDDEN __attribute__((noreturn)) void hl_fatal(const char *what, const void *p);

/* ---- segments (segment.c) ------------------------------------------------------------ */

/* A new segment for h with room for `need` slices; `squeeze`: when a whole one cannot be
 * mapped, trim h's segments' free tails and map part of one. NULL if the OS refuses. */
HL_HIDDEN struct hl_segment *hl_segment_new(struct hl_heap *h, uint32_t need, bool squeeze);
/* Mark the units of [s, s+size) in the segment map (I1), or clear them (!live). A huge
 * block at block_off >= HL_SEG_SIZE (its alignment) gets its unit marked HL_MAP_BACK+k. */
HL_HIDDEN void hl_segmap_set(const struct hl_segment *s, size_t size, size_t block_off, bool live);
/* The OS refused memory: give back what is held unused (h's empty pages and segments,
 * the huge cache, failed munmaps; under hl_opt.commit every dirty slice) before a retry. */
HL_HIDDEN void hl_reclaim_for_space(struct hl_heap *h);
/* Unmap the free slices of h's segments that hold pages (holes until they are released):
 * the last resort when the address space runs out. */
HL_HIDDEN void hl_segments_punch(struct hl_heap *h);
HL_HIDDEN void hl_segment_release(struct hl_segment *s);
/* Slices in pages, read under the segment's lock (before deciding to release it). */
HL_HIDDEN uint32_t hl_segment_used(struct hl_segment *s);
/* Take `n` contiguous free slices of a segment owned by h; the first slice index or -1. */
HL_HIDDEN struct hl_page *hl_segment_take_slices(struct hl_heap *h, uint32_t n, int *is_zero);
/* A big block is about to fault `fresh` slices in anew: purge as many resident free slices
 * of h's segments as have been idle long enough (segment.c, give_back_for_growth). */
HL_HIDDEN void hl_segment_give_back(struct hl_heap *h, uint32_t fresh);
/* Return a page's slices to its segment (any thread), marking them dirty. */
HL_HIDDEN void hl_segment_free_page(struct hl_segment *s, struct hl_page *pg);
/* The same, purging the slices at once (the old block of a realloc that moved). */
HL_HIDDEN void hl_segment_free_page_purged(struct hl_segment *s, struct hl_page *pg);
/* Grow a large page in place into the free slices after it, or give back its tail, to
 * `want` slices in all. false (nothing changed) if the slices after it are taken. */
HL_HIDDEN bool hl_segment_resize_large(struct hl_segment *s, struct hl_page *pg, uint32_t want);
/* Purge dirty slices whose delay has passed (all of them when force). */
HL_HIDDEN void hl_segment_purge(struct hl_segment *s, uint64_t now_ms, bool force);
HL_HIDDEN void hl_registry_add(struct hl_segment *s);
HL_HIDDEN void hl_registry_remove(struct hl_segment *s);
/* Purge what is due (everything when force); true if freed memory still waits its delay. */
HL_HIDDEN bool hl_purge_all(bool force);
HL_HIDDEN int hl_purger_wanted(void); /* some memory is waiting to be purged */
HL_HIDDEN void hl_purger_note(void);  /* say so (and wake the purger if it idles) */
#define HL_PURGER_AFTER (4u << 20)    /* bytes of slices taken before the purger is wanted */
extern HL_HIDDEN pthread_mutex_t hl_registry_lock;
extern HL_HIDDEN struct hl_segment *hl_registry;

/* ---- pages (page.c) ----------------------------------------------------------------- */

HL_HIDDEN void *hl_malloc_generic(struct hl_heap *h, size_t n);
HL_HIDDEN uint32_t hl_page_slices(size_t block_size); /* slices of a page of that class */
HL_HIDDEN void hl_page_collect(struct hl_page *pg);
HL_HIDDEN void hl_page_retire(struct hl_page *pg);
HL_HIDDEN void hl_heap_trim_kept(struct hl_heap *h, bool idle);
HL_HIDDEN bool hl_heap_release_kept(struct hl_heap *h, uint32_t n);
HL_HIDDEN void hl_page_unfull(struct hl_heap *h, struct hl_page *pg);
/* Put a page with free blocks at the back of its size's queue (reclaimed or un-full). */
HL_HIDDEN void hl_page_adopt(struct hl_heap *h, struct hl_page *pg);
HL_HIDDEN void hl_heap_collect(struct hl_heap *h, bool force);
HL_HIDDEN void *hl_alloc_large(struct hl_heap *h, size_t n, size_t align);
HL_HIDDEN void hl_heap_delayed_free(struct hl_heap *h);
HL_HIDDEN void *hl_malloc_bin(struct hl_heap *h, unsigned bin);

/* ---- heaps and threads (heap.c) ----------------------------------------------------- */

HL_HIDDEN struct hl_heap *hl_heap_get(void); /* the thread's heap, initialized; NULL on OOM */
HL_HIDDEN void hl_process_init(void);
HL_HIDDEN struct hl_segment *hl_reclaim_abandoned(struct hl_heap *h);
HL_HIDDEN void hl_heap_collect_remote(struct hl_heap *h);
/* Collect remote frees in up to `max` abandoned segments, give back their empty pages and
 * release those left empty (heap.c). */
HL_HIDDEN void hl_abandoned_sweep(unsigned max);
/* Held (lock true) while a segment moves between states the heap checker must not see
 * half done: the abandoned sweep, a huge block leaving the cache (heap.c). */
HL_HIDDEN void hl_transit_lock(bool lock);
HL_HIDDEN void hl_purger_maybe_start(void);
/* Freed memory is waiting: wake the purger if it sleeps with nothing to do (heap.c). */
HL_HIDDEN void hl_purger_wake_idle(void);

/* Start the purger if it is wanted: memory is waiting to be purged, or the process has
 * taken more than HL_PURGER_AFTER of slices or a huge block, so that memory it frees
 * before going idle is purged without another malloc. Called at the end of malloc's slow
 * paths, where no lock is held. Not from free: pthread_create allocates, and would be
 * handed the block just freed (a double free right after would then go unseen). */
static inline void hl_purger_poke(void)
{
    if (HL_UNLIKELY(hl_purger_wanted())) hl_purger_maybe_start();
}
extern HL_HIDDEN pthread_mutex_t hl_heaps_lock;
extern HL_HIDDEN struct hl_heap *hl_heaps;
extern HL_HIDDEN pthread_mutex_t hl_abandoned_lock; /* a leaf: guards hl_abandoned */
extern HL_HIDDEN struct hl_segment *hl_abandoned;   /* segments of exited threads */
extern HL_HIDDEN size_t hl_pool_bytes;              /* mapped for heaps (under heaps lock) */

/* ---- huge blocks (huge.c) ----------------------------------------------------------- */

HL_HIDDEN void *hl_huge_alloc(size_t n, size_t align, bool zero);
HL_HIDDEN void hl_huge_free(struct hl_segment *s);
/* realloc of huge block p to n bytes by moving or growing its pages, never copying
 * them where the kernel can move them; NULL when it cannot (p is unchanged). */
HL_HIDDEN void *hl_huge_realloc(struct hl_segment *s, void *p, size_t n);
HL_HIDDEN void hl_huge_unmap(struct hl_segment *s); /* the mapped parts of a huge segment */
HL_HIDDEN size_t hl_huge_mapped(const struct hl_segment *s);  /* bytes of them */
HL_HIDDEN bool hl_huge_is_cached(const struct hl_segment *s); /* a freed one kept */
/* Unmap cached huge blocks freed purge_delay_ms ago (all when force); true if some remain. */
HL_HIDDEN bool hl_huge_cache_purge(uint64_t now_ms, bool force);
HL_HIDDEN size_t hl_huge_cached_bytes(void);
/* Unmap cached huge blocks freed at least min_age_ms ago, oldest first, until `bytes` are
 * gone or none is left; the bytes gone (a huge block mapped anew offsets them). */
HL_HIDDEN size_t hl_huge_give_back(size_t bytes, uint32_t min_age_ms);

/* ---- free (alloc.c) ----------------------------------------------------------------- */

HL_HIDDEN void hl_free_generic(struct hl_segment *s, struct hl_page *pg, void *p);
HL_HIDDEN void hl_free_local(struct hl_page *pg, struct hl_block *b);
HL_HIDDEN void hl_foreign_flush(struct hl_heap *h, unsigned bin); /* I8: send them home */
HL_HIDDEN void hl_foreign_flush_all(struct hl_heap *h);

/* Blocks the foreign cache of class `bin` holds at most (I8). */
HL_INLINE uint16_t hl_foreign_cap(unsigned bin)
{
    size_t n = HL_FOREIGN_BIN_BYTES / hl_bin_size(bin);
    return n < 2 ? 2 : n > HL_FOREIGN_BIN_MAX ? HL_FOREIGN_BIN_MAX : (uint16_t)n;
}

/* A block of the foreign cache of class `bin` (< HL_FOREIGN_BINS), or NULL. */
HL_INLINE struct hl_block *hl_foreign_pop(struct hl_heap *h, unsigned bin)
{
    struct hl_block *b = h->foreign[bin];
    if (b) {
        h->foreign[bin] = b->next;
        h->foreign_room[bin]++;
        b->cookie = 0;
    }
    return b;
}

HL_HIDDEN void hl_own_flush_all(struct hl_heap *h); /* I10: back onto their pages */
HL_HIDDEN HL_NOINLINE void hl_own_flush(struct hl_heap *h, unsigned bin); /* one class */

/* Blocks the own cache of class `bin` (>= HL_OWN_FIRST) holds at most (I10). */
HL_INLINE uint8_t hl_own_cap(unsigned bin)
{
    size_t n = HL_OWN_BIN_BYTES / hl_bin_size(bin);
    return n < HL_OWN_BIN_MIN ? HL_OWN_BIN_MIN : n > HL_OWN_BIN_MAX ? HL_OWN_BIN_MAX : (uint8_t)n;
}

/* A block of the own cache of class `bin` (>= HL_OWN_FIRST), or NULL. */
HL_INLINE struct hl_block *hl_own_pop(struct hl_heap *h, unsigned bin)
{
    unsigned i = bin - HL_OWN_FIRST;
    struct hl_block *b = h->own[i];
    if (b) {
        h->own[i] = b->next;
        h->own_room[i]++;
        b->cookie = 0;
        hl_page_of((struct hl_segment *)((uintptr_t)b & ~HL_SEG_MASK), b)->own_cached--;
    }
    return b;
}

/* ---- the heap checker (check.c) ------------------------------------------------------ */

/* Invariants of the calling thread's heap and segments only (safe while other threads
 * run): the HL_DEBUG builds' safe points. 0 or the number of the first broken one. */
HL_HIDDEN int hl_heap_check_local(void);
/* HL_DEBUG: check the calling thread's heap here, and abort on a broken invariant. */
HL_HIDDEN void hl_debug_check(const char *where);

/* ---- the public operations under internal names (alloc.c) --------------------------- */

HL_HIDDEN void *hli_malloc(size_t n);
HL_HIDDEN void hli_free(void *p);
HL_HIDDEN void *hli_calloc(size_t count, size_t size);
HL_HIDDEN void *hli_realloc(void *p, size_t n);
HL_HIDDEN void *hli_aligned(size_t align, size_t n);
HL_HIDDEN void *hl_aligned_block(size_t align, size_t n); /* hli_aligned, align > 16 */

/* ---- secure.c: the secure build's checks, called only under `if (HL_SECURE)` -------- */

HL_HIDDEN void *hl_secure_malloc(size_t n);
HL_HIDDEN void *hl_secure_calloc(size_t count, size_t size);
HL_HIDDEN void *hl_secure_aligned(size_t align, size_t n);
HL_HIDDEN void *hl_secure_realloc(void *p, size_t n); /* p live, n > 0 */
HL_HIDDEN bool hl_secure_free(void *p); /* true: done (quarantined); false: free it as usual */
HL_HIDDEN size_t hl_secure_usable(const void *p);
/* One line naming the misuse, p, the block's size and the check that caught it; abort. */
HL_HIDDEN __attribute__((noreturn)) void hl_secure_fail(const char *misuse, const void *p,
                                                        size_t block, const char *check);
HL_HIDDEN size_t hli_usable_size(const void *p);

#endif
