/*
 * lab/firstfit.c: the classic heap. Blocks tile the arena; free blocks sit on one explicit,
 * doubly linked free list kept in address order; allocation searches that list, splits the
 * block it finds, and free merges a block with both free neighbours through boundary tags.
 * Three policies share every line but the search:
 *
 *   firstfit       scan from the head (lowest address), take the first block that fits
 *   firstfit-next  next fit: resume the scan at a roving pointer left where the last search
 *                  ended (the remainder of the block it split, or the block after the one it
 *                  took), wrapping round to the head once
 *   firstfit-best  best fit: the smallest block that fits, lowest address on a tie; an exact
 *                  fit ends the scan
 *
 * Layout. Every block starts with a 16-byte header (meta); offsets and sizes are multiples of
 * 16, so every payload is 16-byte aligned. A free block's payload (free bytes, not meta)
 * carries its list links and, at its end, a footer: the boundary tag that lets the block
 * after it find its start. The links are u32 arena offsets, not pointers (arenas are at most
 * 1 GiB), which keeps the smallest block at 32 bytes instead of 48.
 *
 *   allocated block                           free block
 *   +---------------------------------+       +---------------------------------+
 *   | info  = size | PREV_FREE | ALLOC |  8   | info  = size | PREV_FREE | 0     |  8
 *   | guard = info ^ GUARD            |  8   | guard = info ^ GUARD            |  8
 *   +---------------------------------+ <-p  +---------------------------------+
 *   | payload: size - 16 bytes,       |      | u32 next | u32 prev (offsets)   |  8
 *   | all of it usable                |      | ...                             |
 *   |                                 |      | u64 footer = size               |  8
 *   +---------------------------------+      +---------------------------------+
 *
 *   arena:  [H|live...][H|free.....F][H|live][H|live.....][H|free (tail, no footer)......]
 *            ^0         ^head ------------------------------^ (list in address order)
 *
 * `size` is the whole block, header included. PREV_FREE says the block before is free, so
 * free() reads the footer at (header - 8) only when it exists. The block that ends at the
 * arena end has no footer (no block after it would read one), so the untouched tail of a
 * fresh arena stays untouched. The guard word makes free() reject foreign pointers and
 * double frees (it ignores them and counts them; check() then reports F9) and lets check()
 * spot a header hit by a stray write.
 *
 * Splitting: a block of S bytes serving a need of N (request + 16, rounded up to 16) is
 * split only if S - N >= 32, the smallest free block; otherwise the whole block is granted
 * and the extra bytes are part of its usable size. The remainder keeps the block's place in
 * the list. Control state (list head, rover, counters) lives in `self`, outside the arena.
 *
 * Accounting: meta = 16 per block; live = usable sizes (size - 16 of each live block); free =
 * size - 16 of each free block; slack = 0. So live + meta + free == arena, and when all is
 * freed one free block covers the arena: free = arena - 16, meta = 16. footprint is the
 * highest end of any block ever allocated.
 *
 * Cost, with n free blocks: alloc is O(n) for every policy (best fit scans all n unless it
 * meets an exact fit; first fit stops early, typically near the head; next fit spreads its
 * scans over the list). free is O(1) when the block has a free neighbour (it takes over that
 * neighbour's list position) and O(n) otherwise, for the address-ordered insert (the walk
 * starts at the rover when the rover lies below the block). Address order costs that walk,
 * and buys first fit its low-address packing and next fit a well defined resume point.
 *
 * Where it wins: few live blocks or few holes, mixed sizes, and anything that frees in
 * roughly LIFO or address order (neighbours coalesce, the list stays short). Where it falls
 * apart: a fragmenting workload leaves thousands of holes and every alloc and most frees walk
 * them; first fit piles small slivers at the bottom of the heap that every scan must pass;
 * best fit leaves tiny, barely reusable slivers; next fit spreads blocks over the whole arena
 * and fragments it most.
 *
 * Invariants (check()):
 *   F1 blocks tile [0, arena): every size is a multiple of 16 and >= 32, none runs past the
 *      arena end, and the walk ends exactly there
 *   F2 every header's guard equals its info ^ GUARD, and no unknown flag bit is set
 *   F3 PREV_FREE is set exactly on blocks whose predecessor is free (never on the first)
 *   F4 a free block that does not end at the arena end has a footer equal to its size
 *   F5 no two free blocks are adjacent (coalescing is complete)
 *   F6 the free list holds exactly the free blocks of the walk, in address order, each prev
 *      link mirroring the next link before it, the head's prev NIL
 *   F7 the rover is NIL or a block on the free list
 *   F8 the counters (blocks, live, free, free blocks) match the walk; every live block ends
 *      at or below footprint, and footprint <= arena
 *   F9 free() has seen no invalid or double free
 */
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"

#define HDR_BYTES   16u                   /* header: info + guard */
#define MIN_BLOCK   32u                   /* header + two u32 links + u64 footer */
#define F_ALLOC     1u                    /* this block is live */
#define F_PREV_FREE 2u                    /* the block before this one is free */
#define F_MASK      15u                   /* low bits of info that are not size */
#define GUARD       0x4646495446464954ull /* "TIFFTIFF" */
#define NIL         UINT64_MAX            /* no block (list end, rover at head) */
#define NIL32       UINT32_MAX            /* NIL as stored in a link */

enum ff_policy {
    FF_FIRST,
    FF_NEXT,
    FF_BEST,
};

struct ff {
    unsigned char *base;   /* the arena */
    uint64_t size;         /* arena bytes */
    enum ff_policy policy; /* which search alloc uses */
    uint64_t head;         /* lowest free block, NIL if none (F6) */
    uint64_t rover;        /* where the next next-fit scan starts; NIL = head (F7) */
    uint64_t blocks;       /* blocks tiling the arena; meta = 16 * blocks */
    uint64_t live_blocks;  /* allocated blocks */
    uint64_t live_bytes;   /* sum of their usable sizes */
    uint64_t free_blocks;  /* blocks on the free list */
    uint64_t free_bytes;   /* sum of their payloads (size - 16) */
    uint64_t footprint;    /* highest end of any block ever allocated */
    uint64_t bad_frees;    /* invalid or double frees ignored (F9) */
    uint64_t bad_free_off; /* arena offset of the first one's pointer, or NIL if outside */
};

/* Word access through memcpy: arena bytes change type (payload, header, link, footer) as
 * blocks split and merge, and this keeps that free of aliasing trouble; it compiles to
 * plain loads and stores. */
static uint64_t ld64(const struct ff *f, uint64_t off)
{
    uint64_t v;
    memcpy(&v, f->base + off, sizeof v);
    return v;
}

static void st64(struct ff *f, uint64_t off, uint64_t v)
{
    memcpy(f->base + off, &v, sizeof v);
}

static uint64_t ld_link(const struct ff *f, uint64_t off)
{
    uint32_t v;
    memcpy(&v, f->base + off, sizeof v);
    return v == NIL32 ? NIL : v;
}

static void st_link(struct ff *f, uint64_t off, uint64_t v)
{
    uint32_t w = v == NIL ? NIL32 : (uint32_t)v;
    memcpy(f->base + off, &w, sizeof w);
}

static uint64_t blk_info(const struct ff *f, uint64_t b)
{
    return ld64(f, b);
}

static uint64_t blk_size(const struct ff *f, uint64_t b)
{
    return ld64(f, b) & ~(uint64_t)F_MASK;
}

static int blk_free(const struct ff *f, uint64_t b)
{
    return (ld64(f, b) & F_ALLOC) == 0;
}

static void set_hdr(struct ff *f, uint64_t b, uint64_t size, uint64_t flags)
{
    st64(f, b, size | flags);
    st64(f, b + 8, (size | flags) ^ GUARD);
}

static void set_flags(struct ff *f, uint64_t b, uint64_t flags)
{
    set_hdr(f, b, blk_size(f, b), flags);
}

/* The boundary tag; the block ending at the arena end has none (nothing after reads it). */
static void set_footer(struct ff *f, uint64_t b, uint64_t size)
{
    if (b + size < f->size) st64(f, b + size - 8, size);
}

static uint64_t next_of(const struct ff *f, uint64_t b)
{
    return ld_link(f, b + HDR_BYTES);
}

static uint64_t prev_of(const struct ff *f, uint64_t b)
{
    return ld_link(f, b + HDR_BYTES + 4);
}

static void set_next(struct ff *f, uint64_t b, uint64_t v)
{
    if (b == NIL)
        f->head = v;
    else
        st_link(f, b + HDR_BYTES, v);
}

static void set_prev(struct ff *f, uint64_t b, uint64_t v)
{
    if (b != NIL) st_link(f, b + HDR_BYTES + 4, v);
}

/* ------------------------------------------------------------------------------------- */
/* The free list, in address order (F6).                                                  */

static void list_unlink(struct ff *f, uint64_t b)
{
    uint64_t p = prev_of(f, b), n = next_of(f, b);
    set_next(f, p, n);
    set_prev(f, n, p);
}

/* `nb` takes `old`'s place on the list; keeps F6 when nb is adjacent to old with no free
 * block between them, and F7 (the rover follows). */
static void list_replace(struct ff *f, uint64_t old, uint64_t nb)
{
    uint64_t p = prev_of(f, old), n = next_of(f, old);
    st_link(f, nb + HDR_BYTES, n);
    st_link(f, nb + HDR_BYTES + 4, p);
    set_next(f, p, nb);
    set_prev(f, n, nb);
    if (f->rover == old) f->rover = nb;
}

/* Insert `b` in address order: O(free blocks), from the rover when it lies below b. */
static void list_insert(struct ff *f, uint64_t b)
{
    uint64_t p = NIL, n = f->head;
    if (f->rover != NIL && f->rover < b) {
        p = f->rover;
        n = next_of(f, p);
    }
    while (n != NIL && n < b) {
        p = n;
        n = next_of(f, n);
    }
    st_link(f, b + HDR_BYTES, n);
    st_link(f, b + HDR_BYTES + 4, p);
    set_next(f, p, b);
    set_prev(f, n, b);
}

/* ------------------------------------------------------------------------------------- */
/* The three searches: a free block of at least `need` bytes, or NIL.                     */

/* The first fit in [from, stop) along the list. */
static uint64_t scan_first(const struct ff *f, uint64_t from, uint64_t stop, uint64_t need)
{
    for (uint64_t b = from; b != NIL && b != stop; b = next_of(f, b))
        if (blk_size(f, b) >= need) return b;
    return NIL;
}

static uint64_t search_next(const struct ff *f, uint64_t need)
{
    uint64_t start = f->rover != NIL ? f->rover : f->head;
    uint64_t b = scan_first(f, start, NIL, need);
    if (b == NIL && start != f->head) b = scan_first(f, f->head, start, need);
    return b;
}

static uint64_t search_best(const struct ff *f, uint64_t need)
{
    uint64_t best = NIL, best_size = UINT64_MAX;
    for (uint64_t b = f->head; b != NIL; b = next_of(f, b)) {
        uint64_t s = blk_size(f, b);
        if (s >= need && s < best_size) {
            best = b;
            best_size = s;
            if (s == need) break;
        }
    }
    return best;
}

static uint64_t search(const struct ff *f, uint64_t need)
{
    switch (f->policy) {
    case FF_NEXT:
        return search_next(f, need);
    case FF_BEST:
        return search_best(f, need);
    case FF_FIRST:
    default:
        return scan_first(f, f->head, NIL, need);
    }
}

/* ------------------------------------------------------------------------------------- */
/* The vtable.                                                                            */

static size_t ff_state_size(size_t arena_size)
{
    (void)arena_size;
    return sizeof(struct ff);
}

static int ff_init(void *self, void *arena, size_t arena_size, enum ff_policy policy)
{
    struct ff *f = self;
    /* Offsets must fit a u32 link with NIL32 to spare. */
    if (arena_size < MIN_BLOCK || (uint64_t)arena_size >= NIL32 || arena_size % LAB_ALIGN != 0)
        return -1;
    f->base = arena;
    f->size = arena_size;
    f->policy = policy;
    set_hdr(f, 0, f->size, 0); /* the tail block: no footer */
    st_link(f, HDR_BYTES, NIL);
    st_link(f, HDR_BYTES + 4, NIL);
    f->head = 0;
    f->rover = NIL;
    f->blocks = 1;
    f->live_blocks = f->live_bytes = 0;
    f->free_blocks = 1;
    f->free_bytes = f->size - HDR_BYTES;
    f->footprint = 0;
    f->bad_frees = 0;
    f->bad_free_off = NIL;
    return 0;
}

static int ff_create_first(void *self, void *arena, size_t arena_size)
{
    return ff_init(self, arena, arena_size, FF_FIRST);
}

static int ff_create_next(void *self, void *arena, size_t arena_size)
{
    return ff_init(self, arena, arena_size, FF_NEXT);
}

static int ff_create_best(void *self, void *arena, size_t arena_size)
{
    return ff_init(self, arena, arena_size, FF_BEST);
}

static void *ff_alloc(void *self, size_t size)
{
    struct ff *f = self;
    if (size == 0) size = 1;
    /* Also keeps the rounding below from overflowing (arenas are at most 1 GiB). */
    if (size > f->size) return NULL;
    uint64_t need = ((uint64_t)size + HDR_BYTES + LAB_ALIGN - 1) & ~(uint64_t)(LAB_ALIGN - 1);
    uint64_t b = search(f, need);
    if (b == NIL) return NULL;
    uint64_t s = blk_size(f, b);
    if (s - need >= MIN_BLOCK) {
        /* Split; the remainder keeps b's list position, and next fit resumes there. */
        uint64_t r = b + need;
        set_hdr(f, r, s - need, 0);
        set_footer(f, r, s - need);
        list_replace(f, b, r);
        f->rover = r;
        f->blocks++;
        f->free_bytes -= need;
    } else {
        /* Too little left for a free block: grant all of it (F1 keeps sizes >= 32). */
        need = s;
        f->rover = next_of(f, b);
        list_unlink(f, b);
        if (b + s < f->size) set_flags(f, b + s, F_ALLOC); /* keeps F3 */
        f->free_blocks--;
        f->free_bytes -= s - HDR_BYTES;
    }
    /* b's predecessor is not free (F5 held while b was free), so no PREV_FREE. */
    set_hdr(f, b, need, F_ALLOC);
    f->live_blocks++;
    f->live_bytes += need - HDR_BYTES;
    if (b + need > f->footprint) f->footprint = b + need;
    return f->base + b + HDR_BYTES;
}

/* The header offset of live block `ptr`, or NIL if ptr is not one (foreign, misaligned,
 * interior, or already freed). */
static uint64_t live_block_of(const struct ff *f, const void *ptr)
{
    const unsigned char *p = ptr;
    if (p < f->base + HDR_BYTES || p >= f->base + f->size) return NIL;
    uint64_t b = (uint64_t)(p - f->base) - HDR_BYTES;
    if (b % LAB_ALIGN != 0) return NIL;
    uint64_t info = ld64(f, b), s = info & ~(uint64_t)F_MASK;
    if (ld64(f, b + 8) != (info ^ GUARD) || (info & F_ALLOC) == 0 || s < MIN_BLOCK
        || s > f->size - b)
        return NIL;
    return b;
}

static void ff_free(void *self, void *ptr)
{
    struct ff *f = self;
    if (ptr == NULL) return;
    uint64_t b = live_block_of(f, ptr);
    if (b == NIL) {
        if (f->bad_frees++ == 0) {
            const unsigned char *p = ptr;
            int inside = p >= f->base && p < f->base + f->size;
            f->bad_free_off = inside ? (uint64_t)(p - f->base) : NIL;
        }
        return;
    }
    uint64_t s = blk_size(f, b);
    int prev_free = (blk_info(f, b) & F_PREV_FREE) != 0;
    uint64_t n = b + s;
    int next_free = n < f->size && blk_free(f, n);
    f->live_blocks--;
    f->live_bytes -= s - HDR_BYTES;
    f->free_bytes += s - HDR_BYTES;

    uint64_t start = b, total = s;
    if (next_free) {
        /* Forward: absorb n, whose header becomes free payload. */
        total += blk_size(f, n);
        f->blocks--;
        f->free_bytes += HDR_BYTES;
        if (prev_free) {
            list_unlink(f, n);
            f->free_blocks--;
            if (f->rover == n) f->rover = b - ld64(f, b - 8); /* keeps F7 */
        } else {
            list_replace(f, n, b); /* b sits just below n: F6 holds */
        }
    }
    if (prev_free) {
        /* Backward: the footer before b finds the free predecessor, which stays listed. */
        start = b - ld64(f, b - 8);
        total += blk_size(f, start);
        f->blocks--;
        f->free_bytes += HDR_BYTES;
    } else if (!next_free) {
        list_insert(f, b);
        f->free_blocks++;
    }
    set_hdr(f, start, total, 0); /* its predecessor is live (F5), so no PREV_FREE */
    set_footer(f, start, total);
    if (start + total < f->size) set_flags(f, start + total, F_ALLOC | F_PREV_FREE); /* F3 */
}

static size_t ff_usable_size(void *self, const void *ptr)
{
    const struct ff *f = self;
    uint64_t b = (uint64_t)((const unsigned char *)ptr - f->base) - HDR_BYTES;
    return (size_t)(blk_size(f, b) - HDR_BYTES);
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

static int ff_check(void *self, char *err, size_t errlen)
{
    const struct ff *f = self;
    uint64_t off = 0, blocks = 0, live = 0, live_bytes = 0, nfree = 0, free_bytes = 0;
    uint64_t expect = f->head, expect_prev = NIL; /* the list, walked alongside (F6) */
    int prev_free = 0, rover_seen = f->rover == NIL;
    while (off < f->size) {
        unsigned long long o = (unsigned long long)off;
        if (f->size - off < HDR_BYTES)
            FAIL("F1: %llu bytes at offset %llu: no room for a header",
                 (unsigned long long)(f->size - off), o);
        uint64_t info = ld64(f, off), s = info & ~(uint64_t)F_MASK;
        if (ld64(f, off + 8) != (info ^ GUARD))
            FAIL("F2: block at offset %llu: guard %#llx does not match info %#llx", o,
                 (unsigned long long)ld64(f, off + 8), (unsigned long long)info);
        if ((info & F_MASK & ~(uint64_t)(F_ALLOC | F_PREV_FREE)) != 0)
            FAIL("F2: block at offset %llu: unknown flag bits in info %#llx", o,
                 (unsigned long long)info);
        if (s < MIN_BLOCK || s % LAB_ALIGN != 0 || s > f->size - off)
            FAIL("F1: block at offset %llu: size %llu (must be a multiple of 16, >= 32, "
                 "within the %llu-byte arena)",
                 o, (unsigned long long)s, (unsigned long long)f->size);
        if (((info & F_PREV_FREE) != 0) != prev_free)
            FAIL("F3: block at offset %llu: PREV_FREE is %d but the block before is %s", o,
                 (info & F_PREV_FREE) != 0,
                 off == 0    ? "absent"
                 : prev_free ? "free"
                             : "live");
        int is_free = (info & F_ALLOC) == 0;
        blocks++;
        if (is_free) {
            if (prev_free) FAIL("F5: free block at offset %llu follows a free block", o);
            if (off + s < f->size && ld64(f, off + s - 8) != s)
                FAIL("F4: free block at offset %llu, size %llu: footer says %llu", o,
                     (unsigned long long)s, (unsigned long long)ld64(f, off + s - 8));
            if (expect != off) {
                if (expect == NIL)
                    FAIL("F6: free block at offset %llu is not on the free list (it ends "
                         "early)",
                         o);
                FAIL("F6: free block at offset %llu is not next on the free list (offset "
                     "%llu is)",
                     o, (unsigned long long)expect);
            }
            if (prev_of(f, off) != expect_prev)
                FAIL("F6: free block at offset %llu: prev link %lld, expected %lld", o,
                     prev_of(f, off) == NIL ? -1LL : (long long)prev_of(f, off),
                     expect_prev == NIL ? -1LL : (long long)expect_prev);
            if (f->rover == off) rover_seen = 1;
            expect_prev = off;
            expect = next_of(f, off);
            nfree++;
            free_bytes += s - HDR_BYTES;
        } else {
            live++;
            live_bytes += s - HDR_BYTES;
            if (off + s > f->footprint)
                FAIL("F8: live block at offset %llu ends at %llu, above footprint %llu", o,
                     (unsigned long long)(off + s), (unsigned long long)f->footprint);
        }
        prev_free = is_free;
        off += s;
    }
    if (expect != NIL)
        FAIL("F6: free list goes on past the last free block (to offset %llu)",
             (unsigned long long)expect);
    if (!rover_seen)
        FAIL("F7: rover at offset %llu is not a block on the free list",
             (unsigned long long)f->rover);
    if (blocks != f->blocks || live != f->live_blocks || live_bytes != f->live_bytes
        || nfree != f->free_blocks || free_bytes != f->free_bytes)
        FAIL("F8: walk (%llu blocks, %llu live / %llu B, %llu free / %llu B) disagrees with "
             "counters (%llu, %llu / %llu, %llu / %llu)",
             (unsigned long long)blocks, (unsigned long long)live, (unsigned long long)live_bytes,
             (unsigned long long)nfree, (unsigned long long)free_bytes,
             (unsigned long long)f->blocks, (unsigned long long)f->live_blocks,
             (unsigned long long)f->live_bytes, (unsigned long long)f->free_blocks,
             (unsigned long long)f->free_bytes);
    if (f->footprint > f->size)
        FAIL("F8: footprint %llu exceeds the arena (%llu)", (unsigned long long)f->footprint,
             (unsigned long long)f->size);
    if (f->bad_frees != 0) {
        if (f->bad_free_off == NIL)
            FAIL("F9: %llu invalid or double frees ignored; the first was outside the arena",
                 (unsigned long long)f->bad_frees);
        FAIL("F9: %llu invalid or double frees ignored; the first at arena offset %llu",
             (unsigned long long)f->bad_frees, (unsigned long long)f->bad_free_off);
    }
    return 0;
}

static void ff_stats(void *self, struct lab_stats *out)
{
    const struct ff *f = self;
    uint64_t largest = 0;
    for (uint64_t b = f->head; b != NIL; b = next_of(f, b))
        if (blk_size(f, b) > largest) largest = blk_size(f, b);
    *out = (struct lab_stats){
        .live_blocks = f->live_blocks,
        .live_bytes = f->live_bytes,
        .meta_bytes = f->blocks * HDR_BYTES,
        .free_bytes = f->free_bytes,
        .slack_bytes = 0,
        .free_blocks = f->free_blocks,
        .footprint = f->footprint,
        .state_bytes = sizeof *f,
        .largest_free = largest != 0 ? largest - HDR_BYTES : 0,
    };
}

static void ff_snapshot(void *self, struct lab_paint *p)
{
    const struct ff *f = self;
    for (uint64_t off = 0; off < f->size;) {
        uint64_t s = blk_size(f, off);
        lab_paint_range(p, off, HDR_BYTES, LAB_META);
        if (blk_free(f, off))
            lab_paint_range(p, off + HDR_BYTES, s - HDR_BYTES, LAB_FREE);
        else
            lab_paint_block(p, off + HDR_BYTES, s - HDR_BYTES);
        off += s;
    }
}

const struct lab_ops lab_firstfit = {
    .name = "firstfit",
    .summary = "first fit: address-ordered free list, splitting, boundary-tag coalescing",
    .state_size = ff_state_size,
    .create = ff_create_first,
    .alloc = ff_alloc,
    .free = ff_free,
    .usable_size = ff_usable_size,
    .check = ff_check,
    .stats = ff_stats,
    .snapshot = ff_snapshot,
};

const struct lab_ops lab_firstfit_next = {
    .name = "firstfit-next",
    .summary = "next fit: first fit resuming at a roving pointer",
    .state_size = ff_state_size,
    .create = ff_create_next,
    .alloc = ff_alloc,
    .free = ff_free,
    .usable_size = ff_usable_size,
    .check = ff_check,
    .stats = ff_stats,
    .snapshot = ff_snapshot,
};

const struct lab_ops lab_firstfit_best = {
    .name = "firstfit-best",
    .summary = "best fit: smallest free block that fits, stops at an exact fit",
    .state_size = ff_state_size,
    .create = ff_create_best,
    .alloc = ff_alloc,
    .free = ff_free,
    .usable_size = ff_usable_size,
    .check = ff_check,
    .stats = ff_stats,
    .snapshot = ff_snapshot,
};
