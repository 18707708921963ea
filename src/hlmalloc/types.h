/*
 * hlmalloc/types.h: the allocator's data structures and their invariants.
 *
 * Glossary
 *   segment  32 MiB of address space aligned to 32 MiB, owned by one thread's heap. Slice 0
 *            holds one 128-byte page descriptor per slice, the header overlaying the
 *            descriptors of slices 0 and 1 (which hold no pages); slices 2..511 hold
 *            pages. A huge segment holds one block larger than HL_LARGE_MAX.
 *   slice    64 KiB, the unit segments are carved in and memory is purged in.
 *   page     a run of slices holding blocks of one size class (small: 1 slice, classes
 *            up to 8 KiB; medium: 1-4 slices, classes up to 128 KiB, page.c page_slices)
 *            or one large block (any number of slices, up to HL_LARGE_MAX). Described by the
 *            descriptor of its first slice.
 *   heap     one per thread (reached through one initial-exec TLS pointer): per-class
 *            queues of pages with free blocks and a direct table for sizes <= 1 KiB.
 *   segmap   a flat table, one byte per 32 MiB of the address space, saying whether a
 *            segment starts there: how free() tells our pointers from foreign ones in
 *            O(1). A byte, not a pointer: 4 MiB of address space instead of 32, which
 *            counts under `ulimit -v`.
 *
 * Free lists are per page, two of them: `free` is what malloc pops and what the owner
 * thread's frees push onto (LIFO: the block freed last is handed out next, still in
 * cache), `xthread_free` (atomic) takes frees by other threads. The malloc and local-free
 * fast paths take no lock and no atomic read-modify-write. (mimalloc keeps a third list
 * for the owner's frees, so that its slow path runs at a steady rate; here that cost
 * python3 6-10% and webserver 8%, see docs/hlmalloc.md.) A small block freed by a thread
 * that does not own its page mostly skips xthread_free: it goes onto that thread's
 * foreign cache (I8), and home later in runs. A block above 1 KiB that its owner frees
 * into a full page goes onto the heap's own cache for the class (I10) instead of moving
 * the page back to its queue.
 *
 * Invariants
 *   I1  segmap[u] is HL_MAP_START for the unit u where a live segment starts (its
 *       header), HL_MAP_INSIDE for the other units a huge segment covers, except
 *       HL_MAP_BACK + k for the unit of a huge block aligned to 2^k * 32 MiB (its header
 *       is that far back), and HL_MAP_NONE for units no live segment covers. A normal
 *       segment covers one unit, all of it (`slices` == HL_SLICES) or, mapped when the
 *       address space ran short, its first `slices` slices.
 *   I2  a page's blocks are start + i * block_size, i < reserved; every pointer handed
 *       out is a block start, 16-byte aligned.
 *   I3  page->used == blocks handed out - blocks freed locally - remote frees collected;
 *       a block is on at most one of free, xthread_free, the heap's delayed list,
 *       some heap's foreign cache (I8) or its owner's own cache (I10; in both it still
 *       counts in used).
 *   I4  only the owner thread touches a page's free, used, capacity, queue
 *       links and flags; other threads only push onto xthread_free (CAS) or the owner
 *       heap's delayed_free list.
 *   I5  a page with HL_PAGE_IN_FULL is in its heap's full queue, else in its bin queue
 *       (small/medium pages); large pages are in no queue.
 *   I6  free_map/dirty_map/purge state of a segment change only under its lock;
 *       dirty_map is a subset of free_map; free_map holds no slice at or past `slices`
 *       nor any hole; used_slices counts the slices of its pages, the rest below
 *       `slices` are free or holes (unmapped when the address space ran short). Under
 *       hl_opt.commit exactly the slices in pages, the dirty ones and slice 0 are
 *       committed (read-write).
 *   I7  heap->direct[i] is the head page of the bin queue for size i*16, or the static
 *       empty page (whose free list is NULL), so the malloc fast path needs no init test.
 *   I8  heap->foreign[b] lists blocks of small pages of class b that this heap's thread
 *       freed while another heap owned them (they still count in their page's used).
 *       foreign_room[b] is how many more it may take: HL_FOREIGN_BIN_BYTES' worth, but 2
 *       blocks at least and HL_FOREIGN_BIN_MAX at most (about 270 KiB over all classes);
 *       0 in the static empty heap. Only the heap's own thread touches them. They go
 *       back to their pages (one CAS per run of a page) when the class overflows, every
 *       HL_COLLECT_EVERY slow calls, on a forced collect and at thread exit; malloc hands
 *       them out when the class's first page has no free block.
 *   I9  the counters agree with what is there: hl_count.mapped_bytes is the bytes mapped
 *       of every registered segment (less its holes; a huge one's header and block), of
 *       the heap pool, and of munmaps that failed and wait for a retry; segments counts
 *       the registered segments, huge_blocks the live huge blocks (a freed one is in the
 *       huge cache or unmapped), threads the heaps on the heap list. Every normal
 *       segment is on exactly one live heap's list or the abandoned list.
 *   I10 heap->own[b - HL_OWN_FIRST] lists blocks of pages of class b (the classes above
 *       the direct table, 1280 B to 128 KiB) that this heap owns, freed by its own
 *       thread while their page was in the full queue (they still count in their page's
 *       used, carry the freed cookie, and are on no other list); a page's own_cached
 *       counts its blocks there, and is below its used while the page is in the full
 *       queue: the cache never holds every live block of a full page (that page, empty
 *       in truth, could not be retired). own_room is how many more it may take:
 *       HL_OWN_BIN_BYTES' worth, between HL_OWN_BIN_MIN and
 *       HL_OWN_BIN_MAX blocks (4.3 MiB over all classes at most); 0 in the static empty
 *       heap; a free into a full class takes the old path. Only the heap's own thread
 *       touches them. A class goes back onto its pages when a page's last live blocks
 *       would all be there, and every class every HL_COLLECT_EVERY slow calls, on a
 *       forced collect (hl_collect, out of memory), at thread exit and, for the heaps of
 *       threads a fork left behind, in the child; malloc hands them out when the
 *       class's first page has no free block.
 *   I11 a heap's segment holds at most about HL_REMOTE_COLLECT bytes on its pages'
 *       remote-free lists once its owner has made HL_REMOTE_LOOK slow-path calls
 *       since they came, but for each class's first page (malloc's, collected when it
 *       runs dry): pushers count them in the segment's remote_bytes, and the slow path
 *       collects the other pages of a segment whose count passed the bound (heap.c
 *       hl_heap_collect_remote). A hint for RSS, not checked.
 *   I12 a kept page is its bin queue's only page (never in the full queue: a kept page
 *       that fills is unkept); a page is quiet only while kept (quiet implies kept; both
 *       are cleared together), never a large one. The malloc fast paths add to the whole
 *       used_quiet word, as free subtracts from it: a 32-bit store the next 64-bit load
 *       of the word could not forward from.
 *       A kept page goes quiet when it empties (hl_page_retire), and its later emptyings
 *       call nothing, so kept_since is when it last went quiet. Every idle trim (64 slow
 *       calls) makes the kept pages loud again: a page still loud at the next trim has
 *       not emptied in between, and one quiet again has. hl_heap_release_kept makes a
 *       quiet page loud and passes it over, to know at its next look. Only loud pages are
 *       given back as idle or cold.
 * hl_heap_check() (check.c) verifies I1-I10 and I12 (I11 is a bound, not checked).
 *
 * Delayed-free states (low 2 bits of xthread_free):
 *   NONE   remote frees push onto xthread_free
 *   WANT   the page is in the full queue: the next remote free goes to the heap's
 *          delayed_free list instead, so the owner learns the page has room
 *   BUSY   a remote thread is doing that right now (the heap must stay alive)
 *   NEVER  the heap is going away; push onto xthread_free only
 */
#ifndef HEAPLAB_HLMALLOC_TYPES_H
#define HEAPLAB_HLMALLOC_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifndef HL_SECURE
#define HL_SECURE 0
#endif
/* The cheap double-free check of the fast paths (a cookie in freed blocks); always on in the
 * secure build. HL_DF_CHECK=0 compiles it out of the default build. */
#ifndef HL_DF_CHECK
#define HL_DF_CHECK 1
#endif
#ifndef HL_DEBUG
#define HL_DEBUG 0
#endif
/* 1 in the libraries that define malloc & co (libhlmalloc.so, .a, -secure.so), 0 in the
 * hl_-only ones the tests link. */
#ifndef HL_OVERRIDE
#define HL_OVERRIDE 0
#endif

#define HL_SEG_SHIFT   25
#define HL_SEG_SIZE    ((size_t)1 << HL_SEG_SHIFT)
#define HL_SEG_MASK    (HL_SEG_SIZE - 1)
#define HL_SLICE_SHIFT 16
#define HL_SLICE_SIZE  ((size_t)1 << HL_SLICE_SHIFT)
#define HL_SLICES      (1u << (HL_SEG_SHIFT - HL_SLICE_SHIFT)) /* 512 */
#define HL_FIRST_SLICE 2  /* slices 0 and 1: the header and descriptors */
#define HL_MAP_BITS    47 /* user address space */
#define HL_MAP_UNITS   ((size_t)1 << (HL_MAP_BITS - HL_SEG_SHIFT))

#define HL_SMALL_MAX     (8 * 1024)   /* classes in 1-slice pages */
#define HL_MEDIUM_MAX    (128 * 1024) /* classes in 1- to 4-slice pages (page.c) */
#define HL_MEDIUM_SLICES 4
#define HL_LARGE_MAX     (4u * 1024 * 1024) /* single blocks in segment slices */
#define HL_HUGE_VMAS     15                 /* mappings a huge block is made of, at most (huge.c) */
#define HL_DIRECT_MAX    1024
#define HL_DIRECT_SLOTS  (HL_DIRECT_MAX / 16 + 1)
#define HL_BINS          48 /* size classes: 16..128 by 16, then 4 per power of two to 128 KiB */
#define HL_BIN_LARGE     255

/* Foreign caches (I8): the classes of small pages, and how much each may hold. */
#define HL_FOREIGN_BINS      32 /* hl_bin(HL_SMALL_MAX) + 1 */
#define HL_FOREIGN_BIN_BYTES (8u * 1024)
#define HL_FOREIGN_BIN_MAX   128 /* blocks per class */

/* Own caches (I10): the classes above the direct table, and how much each may hold. */
#define HL_OWN_FIRST     20 /* hl_bin(HL_DIRECT_MAX) + 1: the first class above the direct table */
#define HL_OWN_BINS      (HL_BINS - HL_OWN_FIRST)
#define HL_OWN_BIN_BYTES (256u * 1024)
#define HL_OWN_BIN_MIN   2  /* blocks per class at least */
#define HL_OWN_BIN_MAX   16 /* blocks per class at most */

#define HL_ALIGN 16

enum hl_page_kind {
    HL_PAGE_NONE = 0, /* a free slice (or a slice inside a page: see slice_back) */
    HL_PAGE_SMALL,
    HL_PAGE_MEDIUM,
    HL_PAGE_LARGE,
    HL_PAGE_HUGE,
};

/* Entries of the segment map (I1). */
enum hl_map_entry {
    HL_MAP_NONE = 0,
    HL_MAP_START = 1,  /* a segment's header is at the start of this unit */
    HL_MAP_INSIDE = 2, /* a later unit of a huge segment */
    HL_MAP_BACK = 3,   /* + k: the huge block starting here has its header 2^k units back */
};

enum hl_page_flags {
    HL_PAGE_IN_FULL = 1, /* in the heap's full queue (I5) */
};

enum hl_delayed {
    HL_DELAYED_NONE = 0,
    HL_DELAYED_WANT = 1,
    HL_DELAYED_BUSY = 2,
    HL_DELAYED_NEVER = 3,
};

/* Thread ids that are never a real thread pointer. */
#define HL_TID_ABANDONED ((uintptr_t)0)
#define HL_TID_HUGE      ((uintptr_t)1)

struct hl_block {
    struct hl_block *next; /* next free block (encoded in the secure build) */
    uintptr_t cookie;      /* (block ^ hl_cookie) while free: the cheap double-free check */
};

struct hl_heap;
struct hl_segment;

struct hl_page {
    /* First line: read by every free (threads that do not own the page too), written
     * rarely (when a page is set up, carved, filled or emptied). */
    uint8_t *start;      /* first block */
    uint32_t block_size; /* bytes per block (large: the usable bytes) */
    uint32_t div_mul;    /* off % block_size == 0 iff rotr32(off * div_mul, div_shift) <= div_max */
    uint32_t div_max;
    uint32_t limit;       /* capacity * block_size: offsets past it were never handed out */
    uint32_t fast_count;  /* capacity while flags == 0, else 0: the free fast path tests only
                           * hl_block_index(off) < fast_count (a block start, carved) */
    uint32_t slice_back;  /* in a later descriptor of a page: bytes back to the first */
    uint32_t slice_count; /* slices spanned (in the first descriptor) */
    uint32_t reserved;    /* blocks that fit */
    uint8_t flags;        /* enum hl_page_flags; non-zero sends free() to the generic path */
    uint8_t bin;          /* size class, or HL_BIN_LARGE */
    uint8_t kind;         /* enum hl_page_kind */
    uint8_t is_zero;      /* large pages: the block is known to be zeroed memory */
    uint8_t div_shift;
    uint8_t kept;         /* the empty last page of its size, kept (heap kept_bytes counts it) */
    uint8_t hole;         /* a slice given back to the OS (unmapped) while its segment lives */
    uint8_t recount;      /* a fork child's, from a thread it has not: `used` is counted anew
                        from the free list before the page is used (heap.c) */
    struct hl_heap *heap; /* owner heap; NULL once abandoned */
    uintptr_t key;        /* secure build: free-list pointer key */
    /* Second line: written by the owner on every malloc and free of the page, and by
     * other threads' CAS on xthread_free. Apart from the first line, so that a free by
     * another thread reads the page without taking the line the owner writes. */
    struct hl_block *free; /* blocks ready to hand out (the malloc fast path) */
    union {
        /* The free fast path decrements the whole word, so a free that empties a quiet
         * page finds it non-zero and calls no hl_page_retire (a branch it mispredicted
         * on a fifth of webserver's frees). Little-endian: `used` is the low half. */
        uint64_t used_quiet;
        struct {
            uint32_t used;  /* live blocks (I3) */
            uint32_t quiet; /* 1: kept, and its emptying is not reported (I12) */
        };
    };
    _Atomic(uintptr_t) xthread_free; /* remote frees | enum hl_delayed (I4) */
    struct hl_page *next, *prev;     /* queue links (I5) */
    uint64_t kept_since;             /* heartbeat when it was kept: the oldest goes first */
    uint32_t capacity;               /* blocks carved into the free lists so far */
    uint32_t dirty_ms; /* a free, dirty slice: when it was freed (ms, wraps); see segment.c */
    /* secure build: a freed large or huge block held back in the quarantine (secure.c);
     * here, not in the first line, which is full */
    uint8_t quarantined;
    uint8_t own_cached; /* blocks of this page in its heap's own cache (I10) */
    uint8_t spare_[6];  /* to 128 bytes: page lookup is a shift, not a multiply */
};

struct hl_page_queue {
    struct hl_page *first, *last;
    uint32_t block_size; /* of the class */
    uint32_t count;      /* pages in the queue */
};

struct hl_segment {
    union {
        /* The header, overlaying the descriptors of slices 0 and 1, laid out so that a
         * pointer into those slices, which hold no blocks, reads as one into an empty
         * page (a free of it is rejected, not followed into the header): descriptor 0's
         * limit, fast_count and slice_back are the high half of `size` and `huge_usable`,
         * all 0 in a normal segment, and descriptor 1's slice_back is `header_back`, 128,
         * back to descriptor 0 (segment.c asserts the offsets). */
        struct {
            _Atomic(uintptr_t)
                    thread_id;    /* owner's thread pointer; HL_TID_ABANDONED; HL_TID_HUGE */
            struct hl_heap *heap; /* owner heap (NULL when abandoned or huge) */
            size_t size;          /* bytes mapped */
            size_t huge_usable;   /* huge: bytes usable from pages[HL_FIRST_SLICE].start */
            uint64_t dirty_map[HL_SLICES / 64]; /* bit i: free, touched, not yet purged */
            pthread_mutex_t lock; /* guards free_map, dirty_map, purge_at_ms, used_slices (I6) */
            uint64_t purge_at_ms; /* the oldest dirty slice is due then; 0 = none dirty */
            uint16_t used_slices; /* slices in pages */
            uint16_t slices;      /* slices mapped: HL_SLICES, fewer when space ran short */
            uint8_t kind;         /* HL_PAGE_SMALL (normal) or HL_PAGE_HUGE */
            /* bytes other threads pushed onto its pages' remote-free lists since the owner
             * last collected them all (a hint: added before each push, reset by the owner,
             * may wrap): the owner collects when it passes HL_REMOTE_COLLECT (I11) */
            _Atomic(uint32_t) remote_bytes;
            uint32_t header_back; /* 128: descriptor 1's slice_back, to descriptor 0 */
            union {
                uint64_t free_map[HL_SLICES / 64]; /* bit i: slice i is free */
                struct { /* a huge segment's kernel mappings (VMAs), in slices (huge.c) */
                    uint32_t at[HL_HUGE_VMAS]; /* where each starts; at[0] = 0 */
                    uint32_t n;
                } vmas;
            };
            struct hl_segment *next, *prev; /* in the owner heap's list, or the abandoned list */
            struct hl_segment *all_next;    /* registry of every segment (purger, stats, collect) */
            struct hl_segment *all_prev;
        };
        struct hl_page pages[HL_SLICES]; /* pages[0], pages[1]: the header above */
    };
};

struct hl_heap {
    struct hl_page *direct[HL_DIRECT_SLOTS]; /* I7 */
    struct hl_page_queue bins[HL_BINS];
    struct hl_page_queue full;
    uintptr_t thread_id;                    /* owner's thread pointer */
    _Atomic(uintptr_t) delayed_free;        /* blocks freed remotely into full pages */
    struct hl_segment *segments;            /* owned normal segments */
    uint64_t heartbeat;                     /* slow-path calls */
    uint8_t retired_min, retired_max;       /* bins that may hold a kept empty page */
    uint64_t kept_bytes;                    /* carved bytes of kept empty pages */
    struct hl_heap *all_next, *all_prev;    /* every live heap */
    struct hl_heap *pool_next;              /* free heap structs */
    int dead;                               /* abandoned; waiting to be reused */
    uint16_t foreign_room[HL_FOREIGN_BINS]; /* I8 */
    uint8_t own_room[HL_OWN_BINS];          /* I10 */
    struct hl_block *foreign[HL_FOREIGN_BINS];
    struct hl_block *own[HL_OWN_BINS]; /* I10: index bin - HL_OWN_FIRST */
} __attribute__((aligned(64)));        /* heaps sit side by side in the pool: no line shared */

#endif
