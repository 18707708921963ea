/*
 * server/ring.h: the tick ring of a session (docs/serve.md): the recent ticks of a race, for
 * the scrubber (`seek`) and the export.
 *
 * Each tick keeps its metrics frame (the `tick` JSON text) and one packed kind map per lane:
 * a keyframe (every lane raw) every `key_every` ticks (tick % key_every == 0, and the first
 * tick pushed), otherwise each lane as a delta or fill against the previous tick (frame.h,
 * the smaller), or raw when neither is smaller. Reading tick N decodes its keyframe and applies the deltas up to
 * N. When the ring holds more than `cap_bytes`, the oldest keyframe group (a keyframe and
 * the deltas up to the next one) is dropped, but never the group of the newest tick: the
 * ring holds at most cap_bytes plus one group.
 *
 * Bytes counted: every tick's maps and JSON and its bookkeeping, and the two working maps.
 *
 * A tick may also carry a detail (ring_attach: opaque bytes, the session's block list,
 * blocks.h), under a budget of its own, `detail_cap`: when the details held pass it, the
 * oldest ticks' details are dropped (the ticks stay), never the newest tick's. So details
 * are held for a suffix of the ring's ticks.
 *
 * Not thread-safe: the session's mutex guards it.
 */
#ifndef HEAPLAB_SERVER_RING_H
#define HEAPLAB_SERVER_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring_entry {
    uint32_t tick;
    uint64_t op;
    int key;       /* a keyframe: every lane raw */
    uint8_t *data; /* per lane: encoding byte, 4-byte length, the map; malloc'd */
    size_t data_len;
    char *json; /* the metrics frame, NUL-terminated; malloc'd */
    size_t json_len;
    void *detail; /* ring_attach's bytes, or NULL (none, or dropped); malloc'd */
    size_t detail_len;
};

struct ring {
    uint32_t nlanes, cells, key_every;
    size_t packed;    /* bytes of one lane's packed map */
    size_t cap_bytes; /* the bound (plus one group) */
    size_t bytes;     /* what it holds now */
    struct ring_entry *e;
    size_t e_cap, first, n; /* e[(first + i) % e_cap] for i < n */
    uint8_t *last;          /* the newest tick's maps, nlanes * packed */
    uint8_t *enc;           /* scratch: one tick encoded */
    uint8_t *tmp;           /* scratch: one lane's map */
    uint64_t dropped;       /* ticks dropped */
    size_t detail_cap;      /* the details' budget (0: none kept) */
    size_t detail_bytes;    /* details held now */
    size_t detail_first;    /* entries before this index hold no detail */
};

/* 0, or -1 out of memory. */
int ring_init(struct ring *r, uint32_t nlanes, uint32_t cells, size_t cap_bytes,
              uint32_t key_every);
void ring_fini(struct ring *r);

/*
 * Append tick `tick` (the newest + 1, or any number when the ring is empty) with its maps
 * (`maps`: nlanes packed maps one after the other) and its JSON text. 0, or -1 when the tick
 * is out of order or memory ran out (the ring is then unchanged).
 */
int ring_push(struct ring *r, uint32_t tick, uint64_t op, const uint8_t *maps, const char *json,
              size_t json_len);

/* Give the newest tick a copy of data[0..len), then drop the oldest details while more
 * than detail_cap bytes are held (never the newest's). 0, or -1 (ring empty, out of memory,
 * or len alone over the cap: the tick has no detail). */
int ring_attach(struct ring *r, const void *data, size_t len);

/* Tick `tick`'s detail into *data, *len (valid until the next push or attach): 0, or -1
 * when the tick is not in the ring or its detail is not held. */
int ring_detail(const struct ring *r, uint32_t tick, const void **data, size_t *len);

/* Is `tick` in the ring? The oldest and newest ticks (only when n > 0). */
int ring_has(const struct ring *r, uint32_t tick);
uint32_t ring_first(const struct ring *r);
uint32_t ring_head(const struct ring *r);

/* Tick `tick`'s maps into maps[nlanes * packed], and its entry (for op and JSON, valid
 * until the next push). 0, or -1 when it is not in the ring or a stored delta is bad. */
int ring_get(const struct ring *r, uint32_t tick, uint8_t *maps, const struct ring_entry **entry);

#endif
