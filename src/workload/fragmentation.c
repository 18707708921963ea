/*
 * workload/fragmentation.c: free every other object, then ask for sizes no hole can hold.
 *
 * Three phases, each closed by a mark so the executor samples RSS there:
 *   "filled"    F objects of 16-128 B allocated back to back
 *   "holes"     every other one (odd positions) freed: F/2 holes of at most 128 B, each
 *               between two live neighbours, so coalescing cannot merge them
 *   "refilled"  F/2 objects of 144-256 B, larger than any hole
 * An allocator that cannot split or reuse the holes grows by the refill's bytes; one that
 * recycles memory across size classes does not. The survivors and the refill stay live at
 * the end (the executor frees them untimed), since the interesting state is at the marks.
 */
#include "workload/workload.h"

#define FRAG_HOLE_MIN   16
#define FRAG_HOLE_MAX   128
#define FRAG_REFILL_MIN (FRAG_HOLE_MAX + 16)
#define FRAG_REFILL_MAX 256

static int gen_fragmentation(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    /* F fills + F/2 frees + F/2 refills + 3 marks = c->ops (give or take one). */
    uint64_t fill = c->ops > 11 ? (c->ops - 3) / 2 : 4;
    if (fill > UINT32_MAX / 2) fill = UINT32_MAX / 2;
    uint32_t n = (uint32_t)fill, holes = n / 2;
    uint32_t base = ops_reserve(s, n);
    uint32_t rbase = ops_reserve(s, holes);
    if (base == UINT32_MAX || rbase == UINT32_MAX) return -1;
    for (uint32_t i = 0; i < n; i++)
        ops_alloc_at(s, t, base + i, prng_range(c->rng, FRAG_HOLE_MIN, FRAG_HOLE_MAX), 0);
    ops_mark(s, t, "filled");
    for (uint32_t i = 1; i < n; i += 2)
        ops_free(s, t, base + i);
    ops_mark(s, t, "holes");
    for (uint32_t i = 0; i < holes; i++)
        ops_alloc_at(s, t, rbase + i, prng_range(c->rng, FRAG_REFILL_MIN, FRAG_REFILL_MAX), 0);
    ops_mark(s, t, "refilled");
    return s->error ? -1 : 0;
}

const struct workload wl_fragmentation = {
    .name = "fragmentation",
    .summary = "fill with 16-128 B objects, free every other one, refill with 144-256 B",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 300000,
    .generate = gen_fragmentation,
};
