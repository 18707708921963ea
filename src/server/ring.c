/*
 * server/ring.c: the tick ring (ring.h).
 */
#include "server/ring.h"

#include <stdlib.h>
#include <string.h>

#include "server/frame.h"

#define LANE_HEAD 5u /* encoding byte and 4-byte length before each lane's map */

int ring_init(struct ring *r, uint32_t nlanes, uint32_t cells, size_t cap_bytes, uint32_t key_every)
{
    memset(r, 0, sizeof *r);
    r->nlanes = nlanes;
    r->cells = cells;
    r->key_every = key_every ? key_every : 1;
    r->packed = frame_packed_bytes(cells);
    r->cap_bytes = cap_bytes;
    r->last = calloc(nlanes ? nlanes : 1, r->packed ? r->packed : 1);
    r->enc = malloc((size_t)nlanes * (LANE_HEAD + r->packed) + 1);
    r->tmp = malloc(r->packed + 1);
    if (!r->last || !r->enc || !r->tmp) {
        ring_fini(r);
        return -1;
    }
    r->bytes = (size_t)nlanes * (2 * r->packed + LANE_HEAD) + r->packed;
    return 0;
}

static struct ring_entry *at(const struct ring *r, size_t i)
{
    return &r->e[(r->first + i) % r->e_cap];
}

static size_t entry_bytes(const struct ring_entry *e)
{
    return e->data_len + e->json_len + 1 + sizeof *e;
}

static void drop_detail(struct ring *r, struct ring_entry *e)
{
    r->detail_bytes -= e->detail_len;
    free(e->detail);
    e->detail = NULL;
    e->detail_len = 0;
}

static void drop_first(struct ring *r)
{
    struct ring_entry *e = at(r, 0);
    r->bytes -= entry_bytes(e);
    drop_detail(r, e);
    free(e->data);
    free(e->json);
    r->first = (r->first + 1) % r->e_cap;
    r->n--;
    r->dropped++;
    if (r->detail_first) r->detail_first--;
}

int ring_attach(struct ring *r, const void *data, size_t len)
{
    if (r->n == 0 || len > r->detail_cap) return -1;
    struct ring_entry *e = at(r, r->n - 1);
    void *copy = malloc(len ? len : 1);
    if (copy == NULL) return -1;
    memcpy(copy, data, len);
    drop_detail(r, e);
    e->detail = copy;
    e->detail_len = len;
    r->detail_bytes += len;
    while (r->detail_bytes > r->detail_cap && r->detail_first < r->n - 1)
        drop_detail(r, at(r, r->detail_first++));
    return 0;
}

int ring_detail(const struct ring *r, uint32_t tick, const void **data, size_t *len)
{
    if (!ring_has(r, tick)) return -1;
    const struct ring_entry *e = at(r, tick - at(r, 0)->tick);
    if (e->detail == NULL) return -1;
    *data = e->detail;
    *len = e->detail_len;
    return 0;
}

void ring_fini(struct ring *r)
{
    while (r->n)
        drop_first(r);
    free(r->e);
    free(r->last);
    free(r->enc);
    free(r->tmp);
    memset(r, 0, sizeof *r);
}

int ring_has(const struct ring *r, uint32_t tick)
{
    return r->n && tick >= at(r, 0)->tick && tick - at(r, 0)->tick < r->n;
}

uint32_t ring_first(const struct ring *r)
{
    return r->n ? at(r, 0)->tick : 0;
}

uint32_t ring_head(const struct ring *r)
{
    return r->n ? at(r, r->n - 1)->tick : 0;
}

static int grow(struct ring *r)
{
    size_t cap = r->e_cap ? 2 * r->e_cap : 64;
    struct ring_entry *e = malloc(cap * sizeof *e);
    if (e == NULL) return -1;
    for (size_t i = 0; i < r->n; i++)
        e[i] = *at(r, i);
    free(r->e);
    r->e = e;
    r->e_cap = cap;
    r->first = 0;
    return 0;
}

/* A lane's head and map at p (map NULL: already in place after the head). */
static uint8_t *put_lane(uint8_t *p, uint8_t enc, const uint8_t *map, size_t len)
{
    *p++ = enc;
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(len >> (8 * i));
    if (map) memcpy(p, map, len);
    return p + len;
}

int ring_push(struct ring *r, uint32_t tick, uint64_t op, const uint8_t *maps, const char *json,
              size_t json_len)
{
    if (r->n && tick != ring_head(r) + 1) return -1;
    if (r->n == r->e_cap && grow(r) != 0) return -1;
    int key = r->n == 0 || tick % r->key_every == 0;
    /* Encode every lane into the scratch, then copy it out in one allocation. */
    uint8_t *p = r->enc;
    for (uint32_t k = 0; k < r->nlanes; k++) {
        const uint8_t *cur = maps + k * r->packed, *prev = r->last + k * r->packed;
        size_t len;
        uint8_t enc;
        if (!key
            && frame_kind_encode(prev, cur, r->cells, 1u << FRAME_DELTA | 1u << FRAME_FILL,
                                 p + LANE_HEAD, r->tmp, r->packed, &len, &enc)
                       == 0)
            p = put_lane(p, enc, NULL, len);
        else
            p = put_lane(p, FRAME_RAW, cur, r->packed);
    }
    struct ring_entry e = { .tick = tick, .op = op, .key = key, .json_len = json_len };
    e.data_len = (size_t)(p - r->enc);
    e.data = malloc(e.data_len ? e.data_len : 1);
    e.json = malloc(json_len + 1);
    if (!e.data || !e.json) {
        free(e.data);
        free(e.json);
        return -1;
    }
    memcpy(e.data, r->enc, e.data_len);
    memcpy(e.json, json, json_len);
    e.json[json_len] = 0;
    memcpy(r->last, maps, (size_t)r->nlanes * r->packed);
    *at(r, r->n) = e;
    r->n++;
    r->bytes += entry_bytes(&e);
    /* Over the cap: drop whole groups from the front while a later keyframe remains. */
    while (r->bytes > r->cap_bytes) {
        size_t next = 1;
        while (next < r->n && !at(r, next)->key)
            next++;
        if (next >= r->n) break; /* the newest group stays */
        while (next--)
            drop_first(r);
    }
    return 0;
}

/* Apply entry `e`'s maps onto maps[] (raw lanes copied, deltas applied). */
static int apply(const struct ring *r, const struct ring_entry *e, uint8_t *maps)
{
    const uint8_t *p = e->data, *end = e->data + e->data_len;
    for (uint32_t k = 0; k < r->nlanes; k++) {
        if ((size_t)(end - p) < LANE_HEAD) return -1;
        uint8_t enc = p[0];
        size_t len = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16 | (size_t)p[4] << 24;
        p += LANE_HEAD;
        if ((size_t)(end - p) < len) return -1;
        if (frame_kind_apply(maps + k * r->packed, r->cells, enc, p, len) != 0) return -1;
        p += len;
    }
    return 0;
}

int ring_get(const struct ring *r, uint32_t tick, uint8_t *maps, const struct ring_entry **entry)
{
    if (!ring_has(r, tick)) return -1;
    size_t i = tick - at(r, 0)->tick, k = i;
    while (k > 0 && !at(r, k)->key)
        k--;
    if (!at(r, k)->key) return -1; /* cannot happen: the first entry is a keyframe */
    for (; k <= i; k++)
        if (apply(r, at(r, k), maps) != 0) return -1;
    if (entry) *entry = at(r, i);
    return 0;
}
