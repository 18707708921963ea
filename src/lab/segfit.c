/*
 * lab/segfit.c: segregated fit. Blocks tile the arena; free blocks sit on one of ~100
 * size-class lists, carry boundary tags (a footer repeating their size) and are coalesced with
 * both neighbours the moment they are freed. A simplified dlmalloc.
 *
 * Every block, live or free, starts with a 16-byte header. A free block also keeps its list
 * links at the start of its payload and its size in its last 8 bytes (the footer); both live
 * in bytes that count as free, so a live block costs 16 bytes of meta and nothing else:
 *
 *   arena:  [hdr|live payload....][hdr|nx|pv| free .....|ftr][hdr|live payload.]  ...
 *            ^0                    ^off                        ^off + size        ^arena size
 *   hdr:    u64 word = size | FREE (bit 0) | PREV_FREE (bit 1)    size: whole block, % 16 == 0
 *           u64 check = word ^ HDR_MAGIC                          catches stray writes
 *   nx, pv: u32 arena offsets of the next/previous block on the same class list (NIL = none)
 *   ftr:    u64 size, only in free blocks: the block after reads it to find our header.
 *           The block that ends at the arena end has none (nothing comes after it to read
 *           it), so a fresh arena is touched only at its first 24 bytes.
 *
 * The smallest block is 32 bytes (header, two u32 links, footer), so a request gets
 * round_up(max(n, 1), 16) usable bytes and a block of that plus 16. Offsets fit u32 because
 * arenas are at most 1 GiB.
 *
 * Size classes, by whole block size s >= 32: four per power of two,
 *   class(s) = 4 * (e - 5) + ((s >> (e - 2)) & 3),  e = floor(log2 s)
 * so 64..127 get one class per 16-byte step (32 and 48 have their own too), 128..255 one per
 * 32 bytes, and a class never spans more than 25% of its lower bound. A 1 GiB arena needs
 * classes 0..100; a two-word bitmap in the control block marks the non-empty ones.
 *
 * alloc(n): need = usable + 16. Walk the list of class(need) for the first block that fits
 * (the class mixes sizes within 25%), else take the head of the first non-empty larger class
 * (found from the bitmap with count-trailing-zeros: every block there fits). The front of the
 * block is handed out; a tail of 32 bytes or more is split off and filed under its own class,
 * a shorter one stays with the live block as extra usable bytes (so nothing is ever slack).
 * Lists are LIFO. free(p): merge with the next block if it is free, with the previous one if
 * our PREV_FREE bit says so (its footer gives its size), write the footer, set PREV_FREE in
 * the block after, push on the class list.
 *
 * Complexity: free is O(1). alloc is O(1) except for the walk of its own class list, which
 * is bounded by the number of free blocks in one class (sizes within 25% of each other).
 * check() and snapshot() are O(blocks); stats() scans the top non-empty class for the largest
 * free block.
 *
 * Where it wins: a near-best fit at near-constant cost, immediate coalescing keeps the free
 * space in few large blocks, 16 bytes of overhead per live block and no rounding beyond 16.
 * Where it falls apart: external fragmentation remains. Long-lived blocks scattered among
 * short-lived ones pin holes that no larger request can use, LIFO reuse scatters neighbours,
 * and a walk of a crowded class can still get long (many free blocks of almost the same size
 * that are all a little too small).
 *
 * Invariants (check()):
 *   S1 headers tile [0, arena) exactly: each check word matches, each size is a multiple of
 *      16, at least 32 and inside the arena
 *   S2 no two free blocks are adjacent (coalescing is complete)
 *   S3 every free block's footer repeats its size (but the last block's, which has none);
 *      every header's PREV_FREE bit says whether the block before it is free (the first
 *      block's is clear)
 *   S4 every free block is on exactly one list, the one of its class; next/prev links agree;
 *      bitmap bit c is set iff list c is non-empty
 *   S5 the counters match the walk: live + meta + free == arena, slack is always 0
 *   S6 free() was never handed a pointer it did not own (foreign, misaligned or double free:
 *      such calls are ignored and counted, and check() reports them)
 */
#include <stdio.h>

#include "heaplab/lab.h"

#define HDR        16u /* header bytes in every block */
#define MIN_BLOCK  32u /* header + next/prev links + footer */
#define NIL        UINT32_MAX
#define NCLASS     104u /* 4 * (30 - 5 + 1): enough for a block of 1 GiB */
#define F_FREE     ((uint64_t)1)
#define F_PREVFREE ((uint64_t)2)
#define F_MASK     ((uint64_t)15)
#define HDR_MAGIC  0x5345474649542d48ull /* "SEGFIT-H" */

struct hdr {
    uint64_t word;  /* block size (whole block, multiple of 16) | F_FREE | F_PREVFREE */
    uint64_t check; /* word ^ HDR_MAGIC */
};

/* At the start of a free block's payload. */
struct links {
    uint32_t next; /* arena offset of the next block on the class list, or NIL */
    uint32_t prev; /* arena offset of the previous one, or NIL */
};

struct segfit {
    unsigned char *base;     /* the arena */
    uint64_t size;           /* arena bytes, a power of two <= 1 GiB */
    uint32_t head[NCLASS];   /* first block of each class list, or NIL */
    uint64_t nonempty[2];    /* bit c: head[c] != NIL (S4) */
    uint64_t nblocks;        /* blocks in the tiling; meta bytes = 16 * nblocks */
    uint64_t live_blocks;    /* blocks handed out and not freed */
    uint64_t live_bytes;     /* their usable bytes */
    uint64_t free_blocks;    /* blocks on the lists */
    uint64_t free_bytes;     /* their payload bytes (links and footers included) */
    uint64_t footprint;      /* highest end of a block ever handed out */
    uint64_t rejected_frees; /* S6 */
};

static unsigned class_of(uint64_t s)
{
    unsigned e = 63u - (unsigned)__builtin_clzll(s);
    return 4u * (e - 5u) + (unsigned)((s >> (e - 2u)) & 3u);
}

static struct hdr *hdr_at(const struct segfit *sf, uint64_t off)
{
    return (struct hdr *)(sf->base + off);
}

static struct links *links_at(const struct segfit *sf, uint64_t off)
{
    return (struct links *)(sf->base + off + HDR);
}

static uint64_t *footer_at(const struct segfit *sf, uint64_t off, uint64_t size)
{
    return (uint64_t *)(sf->base + off + size - sizeof(uint64_t));
}

static uint64_t blk_size(const struct hdr *h)
{
    return h->word & ~F_MASK;
}

static void set_hdr(struct hdr *h, uint64_t word)
{
    h->word = word;
    h->check = word ^ HDR_MAGIC;
}

static void set_bit(struct segfit *sf, unsigned c)
{
    sf->nonempty[c / 64u] |= (uint64_t)1 << (c % 64u);
}

static void clear_bit(struct segfit *sf, unsigned c)
{
    sf->nonempty[c / 64u] &= ~((uint64_t)1 << (c % 64u));
}

/* The first non-empty class >= c, or -1. */
static int first_class_from(const struct segfit *sf, unsigned c)
{
    for (unsigned w = c / 64u; w < 2u; w++) {
        uint64_t bits = sf->nonempty[w];
        if (w == c / 64u) bits &= ~(uint64_t)0 << (c % 64u);
        if (bits != 0) return (int)(w * 64u + (unsigned)__builtin_ctzll(bits));
    }
    return -1;
}

static void list_push(struct segfit *sf, uint32_t off, uint64_t size)
{
    unsigned c = class_of(size);
    struct links *l = links_at(sf, off);
    l->next = sf->head[c];
    l->prev = NIL;
    if (sf->head[c] != NIL) links_at(sf, sf->head[c])->prev = off;
    sf->head[c] = off;
    set_bit(sf, c);
}

static void list_remove(struct segfit *sf, uint32_t off, uint64_t size)
{
    unsigned c = class_of(size);
    const struct links *l = links_at(sf, off);
    if (l->prev != NIL)
        links_at(sf, l->prev)->next = l->next;
    else
        sf->head[c] = l->next;
    if (l->next != NIL) links_at(sf, l->next)->prev = l->prev;
    if (sf->head[c] == NIL) clear_bit(sf, c);
}

/* Make [off, off + size) a free block on its list; the block before it is not free (S2). */
static void make_free(struct segfit *sf, uint32_t off, uint64_t size)
{
    set_hdr(hdr_at(sf, off), size | F_FREE);
    if (off + size < sf->size) {
        *footer_at(sf, off, size) = size;
        struct hdr *next = hdr_at(sf, off + size);
        set_hdr(next, next->word | F_PREVFREE);
    }
    list_push(sf, off, size);
    sf->free_blocks++;
    sf->free_bytes += size - HDR;
}

/* Take the free block at `off` off its list and forget it as free. */
static void unfree(struct segfit *sf, uint32_t off, uint64_t size)
{
    list_remove(sf, off, size);
    sf->free_blocks--;
    sf->free_bytes -= size - HDR;
}

static size_t segfit_state_size(size_t arena_size)
{
    (void)arena_size;
    return sizeof(struct segfit);
}

static int segfit_create(void *self, void *arena, size_t arena_size)
{
    struct segfit *sf = self;
    if (arena_size < MIN_BLOCK || arena_size > LAB_ARENA_MAX
        || (arena_size & (arena_size - 1)) != 0)
        return -1;
    sf->base = arena;
    sf->size = arena_size;
    for (unsigned c = 0; c < NCLASS; c++)
        sf->head[c] = NIL;
    sf->nblocks = 1;
    make_free(sf, 0, arena_size);
    return 0;
}

static void *segfit_alloc(void *self, size_t size)
{
    struct segfit *sf = self;
    if (size == 0) size = 1;
    if (size > sf->size - HDR) return NULL; /* also keeps the rounding below from wrapping */
    uint64_t need = (((uint64_t)size + 15u) & ~(uint64_t)15) + HDR;
    if (need > sf->size) return NULL;
    unsigned c = class_of(need);
    uint32_t off = NIL;
    for (uint32_t o = sf->head[c]; o != NIL; o = links_at(sf, o)->next) {
        if (blk_size(hdr_at(sf, o)) >= need) {
            off = o;
            break;
        }
    }
    if (off == NIL) {
        int d = c + 1u < NCLASS ? first_class_from(sf, c + 1u) : -1;
        if (d < 0) return NULL;
        off = sf->head[d];
    }
    struct hdr *h = hdr_at(sf, off);
    uint64_t have = blk_size(h);
    unfree(sf, off, have);
    if (have - need >= MIN_BLOCK) {
        set_hdr(h, need | (h->word & F_PREVFREE));
        sf->nblocks++;
        make_free(sf, (uint32_t)(off + need), have - need);
    } else {
        need = have;
        set_hdr(h, need | (h->word & F_PREVFREE));
        if (off + need < sf->size) {
            struct hdr *next = hdr_at(sf, off + need);
            set_hdr(next, next->word & ~F_PREVFREE);
        }
    }
    sf->live_blocks++;
    sf->live_bytes += need - HDR;
    if (off + need > sf->footprint) sf->footprint = off + need;
    return sf->base + off + HDR;
}

/* The offset of the live block whose payload is `ptr`, or NIL if it is not one (S6). */
static uint32_t live_block_of(const struct segfit *sf, const void *ptr)
{
    const unsigned char *p = ptr;
    if (p < sf->base + HDR || p >= sf->base + sf->size) return NIL;
    uint64_t off = (uint64_t)(p - sf->base) - HDR;
    if (off % 16u != 0) return NIL;
    const struct hdr *h = hdr_at(sf, off);
    uint64_t s = blk_size(h);
    if (h->check != (h->word ^ HDR_MAGIC) || (h->word & F_FREE) != 0 || s < MIN_BLOCK
        || s > sf->size - off)
        return NIL;
    return (uint32_t)off;
}

static void segfit_free(void *self, void *ptr)
{
    struct segfit *sf = self;
    if (ptr == NULL) return;
    uint32_t off = live_block_of(sf, ptr);
    if (off == NIL) {
        sf->rejected_frees++;
        return;
    }
    const struct hdr *h = hdr_at(sf, off);
    uint64_t size = blk_size(h);
    int prev_free = (h->word & F_PREVFREE) != 0;
    sf->live_blocks--;
    sf->live_bytes -= size - HDR;
    if (off + size < sf->size) {
        const struct hdr *next = hdr_at(sf, off + size);
        if (next->word & F_FREE) {
            uint64_t ns = blk_size(next);
            unfree(sf, (uint32_t)(off + size), ns);
            size += ns;
            sf->nblocks--;
        }
    }
    if (prev_free) {
        uint64_t ps = *(const uint64_t *)(sf->base + off - sizeof(uint64_t));
        uint32_t prev = (uint32_t)(off - ps);
        unfree(sf, prev, ps);
        off = prev;
        size += ps;
        sf->nblocks--;
    }
    make_free(sf, off, size);
}

static size_t segfit_usable_size(void *self, const void *ptr)
{
    const struct segfit *sf = self;
    const unsigned char *p = ptr;
    return (size_t)(blk_size(hdr_at(sf, (uint64_t)(p - sf->base) - HDR)) - HDR);
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

static int segfit_check(void *self, char *err, size_t errlen)
{
    const struct segfit *sf = self;
    uint64_t off = 0, blocks = 0, live = 0, live_bytes = 0, nfree = 0, free_bytes = 0;
    int prev_free = 0;
    while (off < sf->size) {
        if (sf->size - off < MIN_BLOCK)
            FAIL("S1: %llu bytes left at offset %llu, too few for a block",
                 (unsigned long long)(sf->size - off), (unsigned long long)off);
        const struct hdr *h = hdr_at(sf, off);
        uint64_t s = blk_size(h);
        if (h->check != (h->word ^ HDR_MAGIC))
            FAIL("S1: header at offset %llu has a bad check word", (unsigned long long)off);
        if (s < MIN_BLOCK || (h->word & F_MASK & ~(F_FREE | F_PREVFREE)) != 0 || s > sf->size - off)
            FAIL("S1: header at offset %llu has a bad size %llu", (unsigned long long)off,
                 (unsigned long long)s);
        if (((h->word & F_PREVFREE) != 0) != prev_free)
            FAIL("S3: PREV_FREE bit of block at offset %llu is %d, the block before is %s",
                 (unsigned long long)off, (h->word & F_PREVFREE) != 0, prev_free ? "free" : "live");
        int is_free = (h->word & F_FREE) != 0;
        if (is_free) {
            if (prev_free)
                FAIL("S2: free block at offset %llu follows a free block", (unsigned long long)off);
            if (off + s < sf->size && *footer_at(sf, off, s) != s)
                FAIL("S3: free block at offset %llu (size %llu) has footer %llu",
                     (unsigned long long)off, (unsigned long long)s,
                     (unsigned long long)*footer_at(sf, off, s));
            nfree++;
            free_bytes += s - HDR;
        } else {
            live++;
            live_bytes += s - HDR;
        }
        blocks++;
        prev_free = is_free;
        off += s;
    }
    uint64_t listed = 0;
    for (unsigned c = 0; c < NCLASS; c++) {
        int bit = ((sf->nonempty[c / 64u] >> (c % 64u)) & 1u) != 0;
        if (bit != (sf->head[c] != NIL))
            FAIL("S4: bitmap bit %u is %d but list %u is %s", c, bit, c,
                 sf->head[c] != NIL ? "non-empty" : "empty");
        uint32_t prev = NIL;
        for (uint32_t o = sf->head[c]; o != NIL; o = links_at(sf, o)->next) {
            if (++listed > nfree)
                FAIL("S4: lists hold more entries than the %llu free blocks (a cycle?)",
                     (unsigned long long)nfree);
            if (o % 16u != 0 || o > sf->size - MIN_BLOCK)
                FAIL("S4: list %u links to offset %u, not a block", c, o);
            const struct hdr *h = hdr_at(sf, o);
            if (h->check != (h->word ^ HDR_MAGIC) || (h->word & F_FREE) == 0)
                FAIL("S4: list %u holds offset %u, which is not a free block", c, o);
            if (class_of(blk_size(h)) != c)
                FAIL("S4: block at offset %u (size %llu, class %u) is on list %u", o,
                     (unsigned long long)blk_size(h), class_of(blk_size(h)), c);
            if (links_at(sf, o)->prev != prev)
                FAIL("S4: block at offset %u on list %u has prev %u, expected %u", o, c,
                     links_at(sf, o)->prev, prev);
            prev = o;
        }
    }
    if (listed != nfree)
        FAIL("S4: %llu blocks on the lists, %llu free blocks in the arena",
             (unsigned long long)listed, (unsigned long long)nfree);
    if (blocks != sf->nblocks || live != sf->live_blocks || live_bytes != sf->live_bytes
        || nfree != sf->free_blocks || free_bytes != sf->free_bytes)
        FAIL("S5: walk (%llu blocks, %llu live / %llu B, %llu free / %llu B) disagrees with "
             "counters (%llu, %llu / %llu, %llu / %llu)",
             (unsigned long long)blocks, (unsigned long long)live, (unsigned long long)live_bytes,
             (unsigned long long)nfree, (unsigned long long)free_bytes,
             (unsigned long long)sf->nblocks, (unsigned long long)sf->live_blocks,
             (unsigned long long)sf->live_bytes, (unsigned long long)sf->free_blocks,
             (unsigned long long)sf->free_bytes);
    if (sf->rejected_frees != 0)
        FAIL("S6: free() was given %llu pointer(s) that were not live blocks",
             (unsigned long long)sf->rejected_frees);
    return 0;
}

static void segfit_stats(void *self, struct lab_stats *out)
{
    const struct segfit *sf = self;
    uint64_t largest = 0;
    int top = -1;
    for (int w = 1; w >= 0 && top < 0; w--)
        if (sf->nonempty[w] != 0) top = w * 64 + 63 - __builtin_clzll(sf->nonempty[w]);
    if (top >= 0) {
        for (uint32_t o = sf->head[top]; o != NIL; o = links_at(sf, o)->next)
            if (blk_size(hdr_at(sf, o)) > largest) largest = blk_size(hdr_at(sf, o));
    }
    *out = (struct lab_stats){
        .live_blocks = sf->live_blocks,
        .live_bytes = sf->live_bytes,
        .meta_bytes = sf->nblocks * HDR,
        .free_bytes = sf->free_bytes,
        .slack_bytes = 0,
        .free_blocks = sf->free_blocks,
        .footprint = sf->footprint,
        .state_bytes = sizeof *sf,
        .largest_free = largest != 0 ? largest - HDR : 0,
    };
}

static void segfit_snapshot(void *self, struct lab_paint *p)
{
    const struct segfit *sf = self;
    uint64_t off = 0;
    while (off < sf->size) {
        const struct hdr *h = hdr_at(sf, off);
        uint64_t s = blk_size(h);
        if (s < MIN_BLOCK || s > sf->size - off) break; /* corrupt: the painter reports it */
        lab_paint_range(p, off, HDR, LAB_META);
        if (h->word & F_FREE)
            lab_paint_range(p, off + HDR, s - HDR, LAB_FREE);
        else
            lab_paint_block(p, off + HDR, s - HDR);
        off += s;
    }
}

const struct lab_ops lab_segfit = {
    .name = "segfit",
    .summary = "segregated size-class lists, boundary tags, coalescing on free",
    .state_size = segfit_state_size,
    .create = segfit_create,
    .alloc = segfit_alloc,
    .free = segfit_free,
    .usable_size = segfit_usable_size,
    .check = segfit_check,
    .stats = segfit_stats,
    .snapshot = segfit_snapshot,
};
