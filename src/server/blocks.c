/*
 * server/blocks.c: a tick's live blocks (blocks.h).
 */
#include "server/blocks.h"

#include <stdlib.h>
#include <string.h>

#include "heaplab/lab.h"
#include "race/race.h"
#include "server/frame.h"

static int reserve_words(uint32_t **buf, size_t *cap, size_t words)
{
    if (*cap >= words * sizeof **buf) return 0;
    size_t want = words * sizeof **buf * 2;
    uint32_t *p = realloc(*buf, want);
    if (p == NULL) return -1;
    *buf = p;
    *cap = want;
    return 0;
}

size_t blocks_capture(const struct race *r, uint32_t **buf, size_t *cap)
{
    size_t at = 0; /* in words */
    for (size_t k = 0; k < r->nlanes; k++) {
        const struct race_lane *l = &r->lane[k];
        if (reserve_words(buf, cap, at + 1 + 4 * (size_t)r->obj_count) != 0) return 0;
        uint32_t *count = *buf + at;
        struct blk *b = (struct blk *)(count + 1);
        uint32_t n = 0;
        for (uint32_t obj = 0; obj < r->obj_count; obj++) {
            if (l->raw[obj] == NULL || l->req[obj] == 0) continue;
            b[n].off = (uint32_t)(l->raw[obj] - l->heap.arena);
            b[n].req = (uint32_t)l->req[obj];
            b[n].usable = (uint32_t)l->ops->usable_size(l->heap.self, l->raw[obj]);
            b[n].born = (uint32_t)l->born[obj];
            n++;
        }
        *count = n;
        at += 1 + 4 * (size_t)n;
    }
    return at * sizeof **buf;
}

int blocks_lane(const uint32_t *list, size_t len, uint32_t lane, const struct blk **b, uint32_t *n)
{
    size_t words = len / sizeof *list, at = 0;
    for (uint32_t k = 0;; k++) {
        if (at >= words || list[at] > (words - at - 1) / 4) return -1;
        if (k == lane) {
            *n = list[at];
            *b = (const struct blk *)(list + at + 1);
            return 0;
        }
        at += 1 + 4 * (size_t)list[at];
    }
}

static unsigned size_class(uint64_t req)
{
    if (req <= 16) return 1;
    unsigned c = (unsigned)(64 - __builtin_clzll(req - 1)) - 3; /* 17..32 -> 2 */
    return c > 255 ? 255 : c;
}

static unsigned age_value(uint64_t since)
{
    unsigned lg = 63u - (unsigned)__builtin_clzll(since + 1);
    return 1 + (lg < 254 ? lg : 254);
}

void blocks_overlay(const struct blk *b, uint32_t n, const uint8_t *kinds, uint32_t cells,
                    uint64_t cell_bytes, uint64_t ops_done, enum overlay_mode mode, uint8_t *ov,
                    uint32_t *owner)
{
    memset(ov, 0, cells);
    memset(owner, 0, (size_t)cells * sizeof *owner);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t since = ops_done > (uint64_t)b[i].born + 1 ? ops_done - 1 - b[i].born : 0;
        unsigned v = mode == OVERLAY_CLASS ? size_class(b[i].req) : age_value(since);
        uint64_t c0 = b[i].off / cell_bytes, c1 = ((uint64_t)b[i].off + b[i].req - 1) / cell_bytes;
        for (uint64_t c = c0; c <= c1 && c < cells; c++) {
            /* the block at the highest offset covering a cell wins (owner: 1 + offset) */
            if (frame_cell(kinds, (uint32_t)c) != LAB_USED || owner[c] > b[i].off) continue;
            owner[c] = b[i].off + 1;
            ov[c] = (uint8_t)v;
        }
    }
}

const struct blk *blocks_at(const struct blk *b, uint32_t n, uint64_t off, uint64_t cell_bytes)
{
    const struct blk *best = NULL;
    uint64_t most = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t end = (uint64_t)b[i].off + b[i].usable;
        if (end <= off || b[i].off >= off + cell_bytes) continue;
        uint64_t lo = b[i].off > off ? b[i].off : off;
        uint64_t hi = end < off + cell_bytes ? end : off + cell_bytes;
        if (hi - lo > most || (hi - lo == most && best && b[i].off > best->off)) {
            most = hi - lo;
            best = &b[i];
        }
    }
    return best;
}
