/*
 * server/blocks.h: a tick's live blocks, per lane, as the ring keeps them (docs/serve.md,
 * "Overlays and cell answers for any tick held"): what the overlay maps and the cell answers
 * of a tick are computed from, whether the tick is the race's head or one shown from the
 * ring.
 *
 * A list is, for each lane in order, a count n then n blocks in the race's object order (not
 * sorted: sorting cost the race thread a quarter of its time on adversarial), all as
 * uint32_t: one block is {offset, requested, usable, born}, `born` the op that allocated it.
 * A block takes 16 bytes (arenas are at most 4 GiB, races at most 2^32 ops).
 */
#ifndef HEAPLAB_SERVER_BLOCKS_H
#define HEAPLAB_SERVER_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "server/request.h"

struct race;

struct blk {
    uint32_t off;    /* from the arena's start */
    uint32_t req;    /* requested bytes */
    uint32_t usable; /* the allocator's usable size */
    uint32_t born;   /* op index */
};

/* The race's live blocks now, as a list into *buf (grown as needed; *cap its size). The
 * list's length in bytes, or 0 out of memory. */
size_t blocks_capture(const struct race *r, uint32_t **buf, size_t *cap);

/* Lane `lane`'s blocks in a list of `len` bytes: 0, or -1 when the list is short. */
int blocks_lane(const uint32_t *list, size_t len, uint32_t lane, const struct blk **b, uint32_t *n);

/* The overlay map (docs/serve.md, overlay maps) of a lane into ov[cells]: for each used cell
 * of the packed kind map, the class or age of the block at the highest offset that covers
 * it with requested bytes; age counts from `ops_done` (ops run at the tick). owner[cells]
 * is scratch. */
void blocks_overlay(const struct blk *b, uint32_t n, const uint8_t *kinds, uint32_t cells,
                    uint64_t cell_bytes, uint64_t ops_done, enum overlay_mode mode, uint8_t *ov,
                    uint32_t *owner);

/* The block with the most usable bytes in the cell at `off` (ties: the higher offset), or
 * NULL. */
const struct blk *blocks_at(const struct blk *b, uint32_t n, uint64_t off, uint64_t cell_bytes);

#endif
