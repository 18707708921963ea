/*
 * workload/fragmentation.c: punch holes between live objects, then refill them with requests
 * smaller than, equal to and larger than the holes.
 *
 * Five phases, each closed by a mark so the executor samples memory there:
 *   "filled"          F objects of 160-256 B allocated back to back
 *   "holes"           every other one (odd positions) freed: K = F/2 holes of 160-256 B, each
 *                     between two live neighbours, so coalescing cannot merge them
 *   "refill-smaller"  K/3 objects of 16-64 B, under half the smallest hole
 *   "refill-equal"    K/3 objects, the k-th as large as the k-th hole
 *   "refill-larger"   the other K - 2K/3 objects, of 288-512 B: no hole can hold one
 * The executor reports per band how much of the band's bytes came out of memory the holes
 * left behind (exec.c, hole reuse). An allocator that splits free blocks serves the smaller
 * band from the holes; one that sorts sizes into classes can only reuse a hole for a request
 * of the hole's class; nobody can place the larger band in a hole. The smaller and equal bands
 * together ask for under half of the hole bytes, so a band's reuse below 1 is the
 * allocator's policy, not a shortage of holes.
 *
 * The holes are above 128 B so that they are no glibc fastbin chunks, which glibc keeps for
 * their exact size and never splits; the bands then show what each allocator's general policy
 * does. The survivors and the refill stay live at the end (the executor frees them untimed),
 * since the interesting state is at the marks.
 */
#include "workload/workload.h"

#define FRAG_HOLE_MIN    160
#define FRAG_HOLE_MAX    256
#define FRAG_SMALLER_MIN 16
#define FRAG_SMALLER_MAX 64
#define FRAG_LARGER_MIN  288
#define FRAG_LARGER_MAX  512

static int gen_fragmentation(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    /* F fills + F/2 frees + F/2 refills + 5 marks = c->ops (give or take one); F >= 6 gives
     * every band at least one object. */
    uint64_t fill = c->ops >= 17 ? (c->ops - 5) / 2 : 6;
    if (fill > UINT32_MAX / 2) fill = UINT32_MAX / 2;
    uint32_t n = (uint32_t)fill, holes = n / 2, third = holes / 3;
    uint32_t base = ops_reserve(s, n);
    uint32_t rbase = ops_reserve(s, holes);
    if (base == UINT32_MAX || rbase == UINT32_MAX) return -1;
    const struct op_seq *q = &s->th[t];
    size_t first = q->n; /* the fill's ops are q->ops[first, first + n) */
    for (uint32_t i = 0; i < n; i++)
        ops_alloc_at(s, t, base + i, prng_range(c->rng, FRAG_HOLE_MIN, FRAG_HOLE_MAX), 0);
    ops_mark(s, t, "filled");
    for (uint32_t i = 1; i < n; i += 2)
        ops_free(s, t, base + i);
    ops_mark(s, t, "holes");
    if (s->error) return -1;
    uint32_t r = 0;
    for (; r < third; r++)
        ops_alloc_at(s, t, rbase + r, prng_range(c->rng, FRAG_SMALLER_MIN, FRAG_SMALLER_MAX), 0);
    ops_mark(s, t, "refill-smaller");
    /* Hole k was fill object 2k + 1: its size is in that object's ALLOC op. */
    for (uint32_t k = 0; r < 2 * third; r++, k++)
        ops_alloc_at(s, t, rbase + r, q->ops[first + 2 * k + 1].size, 0);
    ops_mark(s, t, "refill-equal");
    for (; r < holes; r++)
        ops_alloc_at(s, t, rbase + r, prng_range(c->rng, FRAG_LARGER_MIN, FRAG_LARGER_MAX), 0);
    ops_mark(s, t, "refill-larger");
    return s->error ? -1 : 0;
}

const struct workload wl_fragmentation = {
    .name = "fragmentation",
    .summary = "fill with 160-256 B, free every other one, refill with smaller, equal, larger",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 300000,
    .generate = gen_fragmentation,
};
