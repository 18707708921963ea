/*
 * workload/micro.c: classic allocator micro-benchmarks: single-size, bulk, reverse-free,
 * random-stress; and known-live, a live set known page by page for checking heap maps.
 *
 * Each is WL_PER_THREAD: every thread runs its own instance with its own seed, and frees
 * everything it allocates (known-live keeps half), counting those frees in its budget of
 * c->ops.
 */
#include "util/osmem.h"
#include "workload/workload.h"

/* ------------------------------------------------------------------------------------- */
/* single-size                                                                           */

#define SS_SIZE   64
#define SS_WINDOW 16

/*
 * 64 B objects, alloc/free pairs over a 16-object window: each step frees a random one of
 * the 16 and allocates its replacement in the same slot. The best case of every allocator:
 * one size class, a tiny working set, immediate reuse.
 */
static int gen_single_size(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t window = SS_WINDOW;
    if (window > c->ops / 2) window = c->ops >= 2 ? (uint32_t)(c->ops / 2) : 1;
    uint32_t base = ops_reserve(s, window);
    if (base == UINT32_MAX) return -1;
    uint64_t emitted = 0;
    for (uint32_t i = 0; i < window; i++, emitted++)
        ops_alloc_at(s, t, base + i, SS_SIZE, 0);
    for (; emitted + 2 + window <= c->ops && !s->error; emitted += 2) {
        uint32_t victim = base + (uint32_t)prng_below(c->rng, window);
        ops_free(s, t, victim);
        ops_alloc_at(s, t, victim, SS_SIZE, 0);
    }
    for (uint32_t i = 0; i < window; i++)
        ops_free(s, t, base + i);
    return s->error ? -1 : 0;
}

const struct workload wl_single_size = {
    .name = "single-size",
    .summary = "64 B alloc/free pairs over a 16-object window",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 5000000,
    .generate = gen_single_size,
};

/* ------------------------------------------------------------------------------------- */
/* bulk and reverse-free                                                                 */

#define BULK_N 50000 /* objects per round */

/*
 * Rounds of: allocate N objects (log-uniform 16-512 B), then free all N, oldest first
 * (`reverse` = 0, FIFO) or newest first (`reverse` = 1, LIFO). N is 50000, or c->ops / 2
 * if smaller; the last round is shortened to fit the budget.
 */
static int rounds(const struct wl_ctx *c, int reverse)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint64_t n64 = c->ops / 2 < BULK_N ? c->ops / 2 : BULK_N;
    uint32_t n = n64 ? (uint32_t)n64 : 1;
    uint32_t base = ops_reserve(s, n);
    if (base == UINT32_MAX) return -1;
    for (uint64_t emitted = 0; emitted + 2 <= c->ops && !s->error;) {
        uint64_t left = (c->ops - emitted) / 2;
        uint32_t k = left < n ? (uint32_t)left : n;
        for (uint32_t i = 0; i < k; i++)
            ops_alloc_at(s, t, base + i, wl_size_loguniform(c->rng, 16, 512), 0);
        for (uint32_t i = 0; i < k; i++)
            ops_free(s, t, base + (reverse ? k - 1 - i : i));
        emitted += 2 * (uint64_t)k;
    }
    return s->error ? -1 : 0;
}

static int gen_bulk(const struct wl_ctx *c)
{
    return rounds(c, 0);
}

const struct workload wl_bulk = {
    .name = "bulk",
    .summary = "rounds: allocate 50000 16-512 B objects, then free all, oldest first",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_bulk,
};

static int gen_reverse_free(const struct wl_ctx *c)
{
    return rounds(c, 1);
}

const struct workload wl_reverse_free = {
    .name = "reverse-free",
    .summary = "rounds: allocate 50000 16-512 B objects, then free all, newest first",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_reverse_free,
};

/* ------------------------------------------------------------------------------------- */
/* random-stress                                                                         */

#define RS_SLOTS 1024

/*
 * 4096 slots; each step picks one at random. An empty slot is allocated: malloc 60%,
 * calloc 20%, aligned 20% (alignment 2^4..2^12). A full slot is freed or reallocated, half
 * and half. Every size (also realloc's) is log-uniform 1 B-256 KiB, so realloc both grows
 * and shrinks, and an aligned object may be reallocated (its alignment is then not kept).
 */
static int gen_random_stress(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    /* Slot -> object id, UINT32_MAX when empty. Automatic ids, since calloc has no _at form. */
    uint32_t *slot = osmem_alloc(RS_SLOTS * sizeof(uint32_t));
    if (!slot) return -1;
    for (uint32_t i = 0; i < RS_SLOTS; i++)
        slot[i] = UINT32_MAX;
    uint64_t live = 0, emitted = 0;
    while (!s->error) {
        uint32_t *obj = &slot[prng_below(r, RS_SLOTS)];
        uint64_t size = wl_size_loguniform(r, 1, (uint64_t)256 << 10);
        if (*obj == UINT32_MAX) {
            if (emitted + live + 2 > c->ops) break;
            uint64_t u = prng_below(r, 10);
            if (u < 6)
                *obj = ops_alloc(s, t, size, 0);
            else if (u < 8)
                *obj = ops_calloc(s, t, size);
            else
                *obj = ops_alloc(s, t, size, (unsigned)prng_range(r, 4, 12));
            live++;
        } else if (prng_chance(r, 0.5)) {
            ops_free(s, t, *obj);
            *obj = UINT32_MAX;
            live--;
        } else {
            if (emitted + live + 1 > c->ops) break;
            ops_realloc(s, t, *obj, size);
        }
        emitted++;
    }
    for (uint32_t i = 0; i < RS_SLOTS; i++)
        if (slot[i] != UINT32_MAX) ops_free(s, t, slot[i]);
    osmem_free(slot, RS_SLOTS * sizeof(uint32_t));
    return s->error ? -1 : 0;
}

const struct workload wl_random_stress = {
    .name = "random-stress",
    .summary = "random malloc/calloc/aligned/realloc/free over 1024 slots, 1 B-256 KiB",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 120000,
    .generate = gen_random_stress,
};

/* ------------------------------------------------------------------------------------- */
/* known-live                                                                            */

#define KL_SIZE        4096 /* one page */
#define KL_ALIGN_SHIFT 12   /* on a page boundary */

/*
 * A live set known page by page, for checking heap maps (docs/inside.md): N blocks of 4096 B
 * aligned to 4096 ("filled"), then every other one (the odd positions) freed, in an order
 * drawn from the seed ("holes"). Whatever the allocator's layout, each live block covers
 * exactly one page, so at "holes" N/2 pages hold 4096 live bytes and no page holds fewer
 * but some. The survivors stay live to the end.
 */
static int gen_known_live(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    /* N allocations + N/2 frees + 2 marks = c->ops; N even, at least 4. */
    uint64_t n64 = c->ops >= 8 ? (c->ops - 2) * 2 / 3 : 4;
    if (n64 > UINT32_MAX / 2) n64 = UINT32_MAX / 2;
    uint32_t n = (uint32_t)n64 & ~1u, half = n / 2;
    uint32_t base = ops_reserve(s, n);
    uint32_t *odd = osmem_alloc((size_t)half * sizeof *odd);
    if (base == UINT32_MAX || !odd) return -1;
    for (uint32_t i = 0; i < n; i++)
        ops_alloc_at(s, t, base + i, KL_SIZE, KL_ALIGN_SHIFT);
    ops_mark(s, t, "filled");
    for (uint32_t k = 0; k < half; k++)
        odd[k] = 2 * k + 1;
    for (uint32_t k = half; k > 1; k--) { /* Fisher-Yates: the seed orders the frees */
        uint32_t j = (uint32_t)prng_below(c->rng, k), tmp = odd[k - 1];
        odd[k - 1] = odd[j];
        odd[j] = tmp;
    }
    for (uint32_t k = 0; k < half; k++)
        ops_free(s, t, base + odd[k]);
    ops_mark(s, t, "holes");
    osmem_free(odd, (size_t)half * sizeof *odd);
    return s->error ? -1 : 0;
}

const struct workload wl_known_live = {
    .name = "known-live",
    .summary = "4096 B page-aligned blocks, every other one freed: live bytes known per page",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 3002,
    .generate = gen_known_live,
};
