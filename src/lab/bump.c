/*
 * lab/bump.c: the bump allocator. A cursor moves up the arena and never comes back.
 *
 * Each block carries a 16-byte header so that usable_size() and check() can walk the arena:
 *
 *   arena:  [hdr|payload.....][hdr|payload..][hdr|payload......]      ...untouched...
 *            ^0                                                  ^cursor            ^size
 *   hdr:    u64 size (usable bytes, a multiple of 16) | u64 state (LIVE or DEAD)
 *
 * alloc is O(1): round up, check the room left, write the header, move the cursor. free is
 * O(1) and reclaims nothing: the block is marked dead and its bytes count as slack (painted as
 * waste) for ever. That is the point: the fastest possible allocation, and the bill for never
 * reusing memory, which shows as soon as a workload frees anything.
 *
 * Invariants (check()):
 *   B1 headers tile [0, cursor) exactly; every size is a non-zero multiple of 16
 *   B2 live + dead payloads + headers == cursor; the counters match the walk
 */
#include <stdio.h>

#include "heaplab/lab.h"

#define LIVE 0x4c495645u /* "LIVE" */
#define DEAD 0x44454144u /* "DEAD" */

struct hdr {
    uint64_t size;
    uint64_t state;
};

struct bump {
    unsigned char *base;
    uint64_t size;
    uint64_t cursor;
    uint64_t live_blocks, live_bytes, dead_bytes;
};

static size_t bump_state_size(size_t arena_size)
{
    (void)arena_size;
    return sizeof(struct bump);
}

static int bump_create(void *self, void *arena, size_t arena_size)
{
    struct bump *b = self;
    b->base = arena;
    b->size = arena_size;
    return 0;
}

static void *bump_alloc(void *self, size_t size)
{
    struct bump *b = self;
    if (size == 0) size = 1;
    if (size > b->size) return NULL;
    uint64_t usable = (size + LAB_ALIGN - 1) & ~(uint64_t)(LAB_ALIGN - 1);
    if (b->size - b->cursor < sizeof(struct hdr) + usable) return NULL;
    struct hdr *h = (struct hdr *)(b->base + b->cursor);
    h->size = usable;
    h->state = LIVE;
    b->cursor += sizeof(struct hdr) + usable;
    b->live_blocks++;
    b->live_bytes += usable;
    return h + 1;
}

static void bump_free(void *self, void *ptr)
{
    struct bump *b = self;
    if (ptr == NULL) return;
    struct hdr *h = (struct hdr *)ptr - 1;
    h->state = DEAD;
    b->live_blocks--;
    b->live_bytes -= h->size;
    b->dead_bytes += h->size;
}

static size_t bump_usable_size(void *self, const void *ptr)
{
    (void)self;
    return ((const struct hdr *)ptr - 1)->size;
}

static int bump_check(void *self, char *err, size_t errlen)
{
    struct bump *b = self;
    uint64_t off = 0, live = 0, live_bytes = 0, dead = 0;
    while (off < b->cursor) {
        const struct hdr *h = (const struct hdr *)(b->base + off);
        if (h->size == 0 || h->size % LAB_ALIGN != 0 || h->size > b->cursor - off - sizeof *h
            || (h->state != LIVE && h->state != DEAD)) {
            snprintf(err, errlen, "B1: bad header at offset %llu", (unsigned long long)off);
            return -1;
        }
        if (h->state == LIVE) {
            live++;
            live_bytes += h->size;
        } else {
            dead += h->size;
        }
        off += sizeof *h + h->size;
    }
    if (off != b->cursor || live != b->live_blocks || live_bytes != b->live_bytes
        || dead != b->dead_bytes) {
        snprintf(err, errlen, "B2: walk (%llu live, %llu B, %llu dead) disagrees with counters",
                 (unsigned long long)live, (unsigned long long)live_bytes,
                 (unsigned long long)dead);
        return -1;
    }
    return 0;
}

static void bump_stats(void *self, struct lab_stats *out)
{
    struct bump *b = self;
    uint64_t headers = b->cursor - b->live_bytes - b->dead_bytes;
    *out = (struct lab_stats){
        .live_blocks = b->live_blocks,
        .live_bytes = b->live_bytes,
        .meta_bytes = headers,
        .free_bytes = b->size - b->cursor,
        .slack_bytes = b->dead_bytes,
        .free_blocks = b->cursor<b->size, .footprint = b->cursor, .state_bytes = sizeof *b,
                                 .largest_free = b->size - b->cursor> sizeof(struct hdr)
                               ? b->size - b->cursor - sizeof(struct hdr)
                               : 0,
    };
}

static void bump_snapshot(void *self, struct lab_paint *p)
{
    struct bump *b = self;
    uint64_t off = 0;
    while (off < b->cursor) {
        const struct hdr *h = (const struct hdr *)(b->base + off);
        lab_paint_range(p, off, sizeof *h, LAB_META);
        off += sizeof *h;
        if (h->state == LIVE)
            lab_paint_block(p, off, h->size);
        else
            lab_paint_range(p, off, h->size, LAB_WASTE);
        off += h->size;
    }
    lab_paint_range(p, b->cursor, b->size - b->cursor, LAB_FREE);
}

const struct lab_ops lab_bump = {
    .name = "bump",
    .summary = "cursor only: O(1) alloc, free reclaims nothing",
    .state_size = bump_state_size,
    .create = bump_create,
    .alloc = bump_alloc,
    .free = bump_free,
    .usable_size = bump_usable_size,
    .check = bump_check,
    .stats = bump_stats,
    .snapshot = bump_snapshot,
};
