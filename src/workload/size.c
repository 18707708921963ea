/*
 * workload/size.c: the size-regime workloads: small, medium, large, mixed, churn.
 * Each is WL_PER_THREAD: every thread runs its own instance with its own seed.
 */
#include "workload/workload.h"

/*
 * Steady state over a live window: allocate until `window` objects are live, then each step
 * frees a random live object and allocates a new one, so lifetimes are geometric around
 * `window` steps. `size_fn` draws a size. Ends by freeing what is left.
 */
struct live_set {
    uint32_t *ids; /* live object ids, unordered */
    uint32_t n;
};

typedef uint64_t (*size_fn)(struct prng *r);

static int steady(const struct wl_ctx *c, uint32_t window, size_fn draw)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t base = ops_reserve(s, window);
    if (base == UINT32_MAX) return -1;
    /* Slot i of the window holds object base+i; a window slot is reused after its free. */
    uint64_t emitted = 0;
    for (uint32_t i = 0; i < window && emitted < c->ops; i++, emitted++)
        ops_alloc_at(s, t, base + i, draw(c->rng), 0);
    uint32_t filled = (uint32_t)(emitted < window ? emitted : window);
    while (emitted + 2 <= c->ops && !s->error) {
        uint32_t victim = base + (uint32_t)prng_below(c->rng, filled);
        ops_free(s, t, victim);
        ops_alloc_at(s, t, victim, draw(c->rng), 0);
        emitted += 2;
    }
    for (uint32_t i = 0; i < filled; i++)
        ops_free(s, t, base + i);
    return s->error ? -1 : 0;
}

static uint64_t draw_small(struct prng *r)
{
    return 8 + prng_below(r, 57); /* 8..64 B uniform */
}

static int gen_small(const struct wl_ctx *c)
{
    return steady(c, 4096, draw_small);
}

const struct workload wl_small = {
    .name = "small",
    .summary = "millions of 8-64 B objects, random lifetimes over a 4096-object window",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_small,
};

static uint64_t draw_mixed(struct prng *r)
{
    /* Log-normal around 64 B with a long tail to 64 KiB: most objects small, some large. */
    return wl_size_lognormal(r, 64, 1.4, 8, 65536);
}

static int gen_mixed(const struct wl_ctx *c)
{
    return steady(c, 8192, draw_mixed);
}

const struct workload wl_mixed = {
    .name = "mixed",
    .summary = "log-normal sizes (median 64 B, sigma 1.4, 8 B-64 KiB), random lifetimes",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 1000000,
    .generate = gen_mixed,
};
