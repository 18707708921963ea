/*
 * lab/buddy.c: binary buddy allocator. Every block is 2^k bytes at an offset that is a
 * multiple of 2^k, MIN_ORDER (32 B) <= k <= top (the whole arena); one free list per order.
 *
 * A block of order k splits into two halves of order k-1, buddies of each other: the buddy of
 * the block at offset `off` is at `off ^ 2^k`. Every block starts with a 16-byte header, so a
 * block of order k offers 2^k - 16 usable bytes. A free block keeps its list links in the
 * first 8 bytes of its payload (they count as free bytes):
 *
 *   arena (top order 16, 64 KiB), after alloc(1), alloc(40), alloc(1):
 *     off:  0     32    64          128                 256   ...  32768            65536
 *           [h|..][h|..][h|........][h|nx|pv|  free   ][h|nx|pv| ... ][h|nx|pv| free ]
 *            o5    o5    o6 live     o7 free            o8 free        o15 free
 *            live  live
 *   header: u32 magic "BUDY" | u8 order | u8 state (LIVE 'L' / FREE 'F') | 10 bytes padding
 *   nx, pv: u32 arena offsets of the next/previous free block of the same order (NIL = none)
 *
 * The padding is the price of a 16-byte aligned payload: order and state need two bytes.
 * A non-empty bitmap (bit k: list k has a block) lets alloc find the smallest order that can
 * serve a request with one count-trailing-zeros.
 *
 * alloc(n): k = max(MIN_ORDER, ceil(log2(n + 16))); take a block from the first non-empty
 * list j >= k and split it down: each split keeps the lower half and files the upper half
 * (order j-1, j-2, ..., k) on its list. Requests above arena - 16 fail. free(p): while the
 * buddy at off ^ 2^k is free and of order k, unlink it and merge (the merged block starts at
 * the lower of the two, order k+1); then file the result. The header at the buddy's offset
 * always belongs to a block (blocks tile the arena and are aligned to their size), and if
 * the buddy is split, that header is its first piece's, with an order below k.
 *
 * Complexity: alloc and free are O(top - MIN_ORDER) = O(log arena): at most one split or
 * merge per order, each O(1) with doubly linked LIFO lists. check() and snapshot() walk the
 * blocks in O(blocks).
 *
 * Where it wins: fast and predictable, merging is a XOR and one header read, no footers, no
 * searching, and freed memory recombines into large blocks whenever both halves free up.
 * Where it falls apart: internal waste. Every block is rounded up to a power of two (header
 * included), so a request just above 2^k - 16 gets a block of 2^(k+1): nearly half of it is
 * waste (a 1025-byte request gets a 2048-byte block: 2032 usable, 1007 wasted). And only
 * buddies merge: two adjacent free blocks of the same size that are not buddies stay apart,
 * so one long-lived small block can pin a large region (external fragmentation along the
 * power-of-two boundaries).
 *
 * Accounting: each block is 16 meta bytes plus 2^k - 16 live or free bytes; usable sizes are
 * what the headers say, so slack is always 0 and the rounding shows as painted waste.
 *
 * Invariants (check()):
 *   D1 headers tile [0, arena) exactly: each has the magic, a state LIVE or FREE, an order in
 *      [MIN_ORDER, top], and an offset that is a multiple of 2^order
 *   D2 no free block's buddy is free with the same order (merging is complete)
 *   D3 every free block is on exactly one list, the one of its order; next/prev links agree;
 *      bitmap bit k is set iff list k is non-empty
 *   D4 the counters match the walk: live + meta + free == arena
 *   D5 free() was never handed a pointer it did not own (foreign, misaligned or double free:
 *      such calls are ignored and counted, and check() reports them)
 */
#include <stdio.h>

#include "heaplab/lab.h"

#define HDR       16u /* header bytes in every block */
#define MIN_ORDER 5u  /* 32-byte blocks: header + 16 usable bytes */
#define MAX_ORDER 30u /* 1 GiB, the largest arena */
#define NIL       UINT32_MAX
#define MAGIC     0x59445542u /* "BUDY" */
#define S_LIVE    0x4cu       /* 'L' */
#define S_FREE    0x46u       /* 'F' */

struct bhdr {
    uint32_t magic; /* MAGIC */
    uint8_t order;  /* log2 of the block size */
    uint8_t state;  /* S_LIVE or S_FREE */
    uint8_t pad[10];
};

/* At the start of a free block's payload. */
struct links {
    uint32_t next; /* arena offset of the next free block of this order, or NIL */
    uint32_t prev; /* arena offset of the previous one, or NIL */
};

struct buddy {
    unsigned char *base;           /* the arena */
    uint64_t size;                 /* arena bytes, 2^top */
    unsigned top;                  /* order of the whole arena */
    uint32_t head[MAX_ORDER + 1u]; /* first free block of each order, or NIL */
    uint32_t nonempty;             /* bit k: head[k] != NIL (D3) */
    uint64_t live_blocks;          /* blocks handed out and not freed */
    uint64_t live_bytes;           /* their usable bytes, sum of 2^k - 16 */
    uint64_t free_blocks;          /* blocks on the lists */
    uint64_t free_bytes;           /* their payload bytes, sum of 2^k - 16 */
    uint64_t footprint;            /* highest end of a block ever handed out */
    uint64_t rejected_frees;       /* D5 */
};

static struct bhdr *hdr_at(const struct buddy *b, uint64_t off)
{
    return (struct bhdr *)(b->base + off);
}

static struct links *links_at(const struct buddy *b, uint64_t off)
{
    return (struct links *)(b->base + off + HDR);
}

static uint64_t bsize(unsigned k)
{
    return (uint64_t)1 << k;
}

static void set_hdr(struct bhdr *h, unsigned k, uint8_t state)
{
    h->magic = MAGIC;
    h->order = (uint8_t)k;
    h->state = state;
}

/* The order of the smallest block holding `bytes` (header included), bytes <= 2^MAX_ORDER. */
static unsigned order_for(uint64_t bytes)
{
    if (bytes <= bsize(MIN_ORDER)) return MIN_ORDER;
    return 64u - (unsigned)__builtin_clzll(bytes - 1u);
}

static void list_push(struct buddy *b, uint32_t off, unsigned k)
{
    struct links *l = links_at(b, off);
    l->next = b->head[k];
    l->prev = NIL;
    if (b->head[k] != NIL) links_at(b, b->head[k])->prev = off;
    b->head[k] = off;
    b->nonempty |= 1u << k;
}

static void list_remove(struct buddy *b, uint32_t off, unsigned k)
{
    const struct links *l = links_at(b, off);
    if (l->prev != NIL)
        links_at(b, l->prev)->next = l->next;
    else
        b->head[k] = l->next;
    if (l->next != NIL) links_at(b, l->next)->prev = l->prev;
    if (b->head[k] == NIL) b->nonempty &= ~(1u << k);
}

static void make_free(struct buddy *b, uint32_t off, unsigned k)
{
    set_hdr(hdr_at(b, off), k, S_FREE);
    list_push(b, off, k);
    b->free_blocks++;
    b->free_bytes += bsize(k) - HDR;
}

static void unfree(struct buddy *b, uint32_t off, unsigned k)
{
    list_remove(b, off, k);
    b->free_blocks--;
    b->free_bytes -= bsize(k) - HDR;
}

static size_t buddy_state_size(size_t arena_size)
{
    (void)arena_size;
    return sizeof(struct buddy);
}

static int buddy_create(void *self, void *arena, size_t arena_size)
{
    struct buddy *b = self;
    if (arena_size < bsize(MIN_ORDER) || arena_size > bsize(MAX_ORDER)
        || (arena_size & (arena_size - 1)) != 0)
        return -1;
    b->base = arena;
    b->size = arena_size;
    b->top = order_for(arena_size);
    for (unsigned k = 0; k <= MAX_ORDER; k++)
        b->head[k] = NIL;
    make_free(b, 0, b->top);
    return 0;
}

static void *buddy_alloc(void *self, size_t size)
{
    struct buddy *b = self;
    if (size == 0) size = 1;
    if (size > b->size - HDR) return NULL;
    unsigned k = order_for((uint64_t)size + HDR);
    uint32_t avail = b->nonempty >> k;
    if (avail == 0) return NULL;
    unsigned j = k + (unsigned)__builtin_ctz(avail);
    uint32_t off = b->head[j];
    unfree(b, off, j);
    while (j > k) {
        j--;
        make_free(b, (uint32_t)(off + bsize(j)), j);
    }
    set_hdr(hdr_at(b, off), k, S_LIVE);
    b->live_blocks++;
    b->live_bytes += bsize(k) - HDR;
    if (off + bsize(k) > b->footprint) b->footprint = off + bsize(k);
    return b->base + off + HDR;
}

/* The offset of the live block whose payload is `ptr`, or NIL if it is not one (D5). */
static uint32_t live_block_of(const struct buddy *b, const void *ptr)
{
    const unsigned char *p = ptr;
    if (p < b->base + HDR || p >= b->base + b->size) return NIL;
    uint64_t off = (uint64_t)(p - b->base) - HDR;
    if (off % bsize(MIN_ORDER) != 0) return NIL;
    const struct bhdr *h = hdr_at(b, off);
    if (h->magic != MAGIC || h->state != S_LIVE || h->order < MIN_ORDER || h->order > b->top
        || off % bsize(h->order) != 0)
        return NIL;
    return (uint32_t)off;
}

static void buddy_free(void *self, void *ptr)
{
    struct buddy *b = self;
    if (ptr == NULL) return;
    uint32_t off = live_block_of(b, ptr);
    if (off == NIL) {
        b->rejected_frees++;
        return;
    }
    unsigned k = hdr_at(b, off)->order;
    b->live_blocks--;
    b->live_bytes -= bsize(k) - HDR;
    while (k < b->top) {
        uint32_t bud = (uint32_t)(off ^ bsize(k));
        const struct bhdr *bh = hdr_at(b, bud);
        if (bh->state != S_FREE || bh->order != k) break; /* live, or split (order < k) */
        unfree(b, bud, k);
        /* The upper half's header is now payload of the merged block: scrub it (D1). */
        hdr_at(b, off > bud ? off : bud)->magic = 0;
        if (bud < off) off = bud;
        k++;
    }
    make_free(b, off, k);
}

static size_t buddy_usable_size(void *self, const void *ptr)
{
    const struct buddy *b = self;
    const unsigned char *p = ptr;
    return (size_t)(bsize(hdr_at(b, (uint64_t)(p - b->base) - HDR)->order) - HDR);
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

static int buddy_check(void *self, char *err, size_t errlen)
{
    const struct buddy *b = self;
    uint64_t off = 0, live = 0, live_bytes = 0, nfree = 0, free_bytes = 0;
    while (off < b->size) {
        const struct bhdr *h = hdr_at(b, off);
        if (h->magic != MAGIC || (h->state != S_LIVE && h->state != S_FREE))
            FAIL("D1: no valid header at offset %llu", (unsigned long long)off);
        unsigned k = h->order;
        if (k < MIN_ORDER || k > b->top || off % bsize(k) != 0)
            FAIL("D1: block at offset %llu has order %u (not in %u..%u or misaligned)",
                 (unsigned long long)off, k, MIN_ORDER, b->top);
        if (h->state == S_FREE) {
            if (k < b->top) {
                uint64_t bud = off ^ bsize(k);
                const struct bhdr *bh = hdr_at(b, bud);
                if (bh->magic == MAGIC && bh->state == S_FREE && bh->order == k)
                    FAIL("D2: free blocks at offsets %llu and %llu are buddies of order %u",
                         (unsigned long long)off, (unsigned long long)bud, k);
            }
            nfree++;
            free_bytes += bsize(k) - HDR;
        } else {
            live++;
            live_bytes += bsize(k) - HDR;
        }
        off += bsize(k);
    }
    uint64_t listed = 0;
    for (unsigned k = 0; k <= MAX_ORDER; k++) {
        int bit = ((b->nonempty >> k) & 1u) != 0;
        if (bit != (b->head[k] != NIL))
            FAIL("D3: bitmap bit %u is %d but list %u is %s", k, bit, k,
                 b->head[k] != NIL ? "non-empty" : "empty");
        uint32_t prev = NIL;
        for (uint32_t o = b->head[k]; o != NIL; o = links_at(b, o)->next) {
            if (++listed > nfree)
                FAIL("D3: lists hold more entries than the %llu free blocks (a cycle?)",
                     (unsigned long long)nfree);
            if (k < MIN_ORDER || k > b->top || o >= b->size || o % bsize(k) != 0)
                FAIL("D3: list %u links to offset %u, not a block of that order", k, o);
            const struct bhdr *h = hdr_at(b, o);
            if (h->magic != MAGIC || h->state != S_FREE || h->order != k)
                FAIL("D3: list %u holds offset %u, which is not a free block of order %u", k, o, k);
            if (links_at(b, o)->prev != prev)
                FAIL("D3: block at offset %u on list %u has prev %u, expected %u", o, k,
                     links_at(b, o)->prev, prev);
            prev = o;
        }
    }
    if (listed != nfree)
        FAIL("D3: %llu blocks on the lists, %llu free blocks in the arena",
             (unsigned long long)listed, (unsigned long long)nfree);
    if (live != b->live_blocks || live_bytes != b->live_bytes || nfree != b->free_blocks
        || free_bytes != b->free_bytes)
        FAIL("D4: walk (%llu live / %llu B, %llu free / %llu B) disagrees with counters "
             "(%llu / %llu, %llu / %llu)",
             (unsigned long long)live, (unsigned long long)live_bytes, (unsigned long long)nfree,
             (unsigned long long)free_bytes, (unsigned long long)b->live_blocks,
             (unsigned long long)b->live_bytes, (unsigned long long)b->free_blocks,
             (unsigned long long)b->free_bytes);
    if (b->rejected_frees != 0)
        FAIL("D5: free() was given %llu pointer(s) that were not live blocks",
             (unsigned long long)b->rejected_frees);
    return 0;
}

static void buddy_stats(void *self, struct lab_stats *out)
{
    const struct buddy *b = self;
    *out = (struct lab_stats){
        .live_blocks = b->live_blocks,
        .live_bytes = b->live_bytes,
        .meta_bytes = (b->live_blocks + b->free_blocks) * HDR,
        .free_bytes = b->free_bytes,
        .slack_bytes = 0,
        .free_blocks = b->free_blocks,
        .footprint = b->footprint,
        .state_bytes = sizeof *b,
        .largest_free =
                b->nonempty != 0 ? bsize(31u - (unsigned)__builtin_clz(b->nonempty)) - HDR : 0,
    };
}

static void buddy_snapshot(void *self, struct lab_paint *p)
{
    const struct buddy *b = self;
    uint64_t off = 0;
    while (off < b->size) {
        const struct bhdr *h = hdr_at(b, off);
        if (h->magic != MAGIC || h->order < MIN_ORDER || h->order > b->top) break;
        uint64_t s = bsize(h->order);
        lab_paint_range(p, off, HDR, LAB_META);
        if (h->state == S_FREE)
            lab_paint_range(p, off + HDR, s - HDR, LAB_FREE);
        else
            lab_paint_block(p, off + HDR, s - HDR);
        off += s;
    }
}

const struct lab_ops lab_buddy = {
    .name = "buddy",
    .summary = "binary buddy: power-of-two blocks, split on alloc, merge with buddy on free",
    .state_size = buddy_state_size,
    .create = buddy_create,
    .alloc = buddy_alloc,
    .free = buddy_free,
    .usable_size = buddy_usable_size,
    .check = buddy_check,
    .stats = buddy_stats,
    .snapshot = buddy_snapshot,
};
