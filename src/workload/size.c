/*
 * workload/size.c: the size-regime workloads: small, medium, large, large-live, mixed, churn.
 * Each is WL_PER_THREAD: every thread runs its own instance with its own seed.
 */
#include "util/osmem.h"
#include "workload/workload.h"

typedef uint64_t (*size_fn)(struct prng *r);

/*
 * Steady state over a live window: allocate until `window` objects are live, then each step
 * frees a random live object and allocates a new one, so lifetimes are geometric around
 * `window` steps. `draw` gives a size. Ends by freeing what is left; the final frees are
 * counted in the budget, so the thread emits c->ops ops (one less when c->ops is odd).
 */
static int steady(const struct wl_ctx *c, uint32_t window, size_fn draw)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    if (window > c->ops / 2) window = (uint32_t)(c->ops / 2);
    if (window == 0) window = 1;
    uint32_t base = ops_reserve(s, window);
    if (base == UINT32_MAX) return -1;
    /* Slot i of the window holds object base+i; a window slot is reused after its free. */
    uint64_t emitted = 0;
    for (uint32_t i = 0; i < window; i++, emitted++)
        ops_alloc_at(s, t, base + i, draw(c->rng), 0);
    while (emitted + 2 + window <= c->ops && !s->error) {
        uint32_t victim = base + (uint32_t)prng_below(c->rng, window);
        ops_free(s, t, victim);
        ops_alloc_at(s, t, victim, draw(c->rng), 0);
        emitted += 2;
    }
    for (uint32_t i = 0; i < window; i++)
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
    .default_ops = 2500000,
    .generate = gen_small,
};

static uint64_t draw_medium(struct prng *r)
{
    return wl_size_loguniform(r, 1024, 65536);
}

static int gen_medium(const struct wl_ctx *c)
{
    return steady(c, 1024, draw_medium);
}

const struct workload wl_medium = {
    .name = "medium",
    .summary = "log-uniform 1-64 KiB objects, random lifetimes over a 1024-object window",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 500000,
    .generate = gen_medium,
};

static uint64_t draw_large(struct prng *r)
{
    return wl_size_loguniform(r, (uint64_t)1 << 20, (uint64_t)4 << 20);
}

static int gen_large(const struct wl_ctx *c)
{
    return steady(c, 4, draw_large);
}

const struct workload wl_large = {
    .name = "large",
    .summary = "log-uniform 1-4 MiB blocks, random lifetimes over a 4-block window",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 160,
    .generate = gen_large,
};

static uint64_t draw_large_live(struct prng *r)
{
    return wl_size_loguniform(r, (uint64_t)1 << 20, (uint64_t)32 << 20);
}

/* Many multi-MiB blocks live at once, each replaced at random: the shape where a large-block
 * policy decides whether freed blocks are reused, kept mapped or returned (and refaulted). */
static int gen_large_live(const struct wl_ctx *c)
{
    return steady(c, 32, draw_large_live);
}

const struct workload wl_large_live = {
    .name = "large-live",
    .summary = "32 live log-uniform 1-32 MiB blocks, a random one replaced each step",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 400,
    .generate = gen_large_live,
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

/* ------------------------------------------------------------------------------------- */
/* churn                                                                                 */

#define CHURN_LIVE_MAX 8192 /* objects live at the top of a round */

/*
 * Rounds: allocate until CHURN_LIVE_MAX objects are live, then free a random 25-75% of
 * them. Survivors of a round live on into the next ones, so lifetimes mix a few rounds'
 * worth of long-lived objects with many that die in the round they were born. Every object
 * is freed by the end: an allocation is emitted only while `emitted + live + 2 <= ops`,
 * which leaves room for its free.
 */
static int gen_churn(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t cap = CHURN_LIVE_MAX;
    if (cap > c->ops / 2) cap = (uint32_t)(c->ops / 2);
    if (cap < 4) cap = 4;
    uint32_t *live = osmem_alloc((size_t)cap * sizeof(uint32_t));
    if (!live) return -1;
    uint32_t n = 0;
    uint64_t emitted = 0;
    while (!s->error) {
        int grew = 0;
        while (n < cap && emitted + n + 2 <= c->ops) {
            live[n++] = ops_alloc(s, t, wl_size_loguniform(c->rng, 16, 8192), 0);
            emitted++;
            grew = 1;
        }
        if (!grew) break;
        uint32_t kill = (uint32_t)prng_range(c->rng, n / 4, (3 * (uint64_t)n) / 4);
        for (uint32_t k = 0; k < kill; k++) {
            uint32_t i = (uint32_t)prng_below(c->rng, n);
            ops_free(s, t, live[i]);
            live[i] = live[--n];
            emitted++;
        }
    }
    while (n > 0)
        ops_free(s, t, live[--n]);
    osmem_free(live, (size_t)cap * sizeof(uint32_t));
    return s->error ? -1 : 0;
}

const struct workload wl_churn = {
    .name = "churn",
    .summary = "rounds: fill to 8192 live 16 B-8 KiB objects, free a random 25-75%, repeat",
    .category = "size",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 1000000,
    .generate = gen_churn,
};
