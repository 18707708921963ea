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

/* ------------------------------------------------------------------------------------- */
/* fifo-lifo                                                                             */

#define FL_MIN 16   /* blocks per batch, log-uniform ... */
#define FL_MAX 2048 /* ... up to this */

/*
 * Placement: batches of n same-size blocks (n log-uniform 16-2048, the size uniform
 * 16-256 B so the executor writes every byte); the first half of the batch is freed in
 * allocation order, then the second half newest first; repeat. Where the next batch lands,
 * and in what address order it is handed out, is the allocator's placement policy.
 */
static int gen_fifo_lifo(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t base = ops_reserve(s, FL_MAX);
    if (base == UINT32_MAX) return -1;
    for (uint64_t emitted = 0; emitted + 4 <= c->ops && !s->error;) {
        uint64_t left = (c->ops - emitted) / 2;
        uint64_t n = wl_size_loguniform(c->rng, FL_MIN, FL_MAX);
        if (n > left) n = left;
        uint64_t size = prng_range(c->rng, 16, 256);
        for (uint32_t i = 0; i < n; i++)
            ops_alloc_at(s, t, base + i, size, 0);
        for (uint32_t i = 0; i < n / 2; i++)
            ops_free(s, t, base + i);
        for (uint32_t i = (uint32_t)n; i > n / 2; i--)
            ops_free(s, t, base + i - 1);
        emitted += 2 * n;
    }
    return s->error ? -1 : 0;
}

const struct workload wl_fifo_lifo = {
    .name = "fifo-lifo",
    .summary = "batches of 16-2048 same-size 16-256 B blocks, half freed FIFO, half LIFO",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_fifo_lifo,
};

/* ------------------------------------------------------------------------------------- */
/* realloc-grow                                                                          */

#define RG_STRINGS 16 /* strings growing at once */

/*
 * Strings grown by realloc: 16 strings at a time, each started at 8-64 B with a final length
 * log-uniform 256 B-64 KiB, grown either in small steps (appends of 1-64 B) or by doubling
 * (the last step lands on the final length), half and half. Each step grows a random one of
 * the 16; a string that reaches its length is freed and a new one started in its slot.
 */
struct rg_string {
    uint64_t size, target;
    int doubling;
};

static void rg_start(const struct wl_ctx *c, uint32_t obj, struct rg_string *g)
{
    g->size = prng_range(c->rng, 8, 64);
    g->target = wl_size_loguniform(c->rng, 256, 65536);
    g->doubling = (int)prng_below(c->rng, 2);
    ops_alloc_at(c->s, c->thread, obj, g->size, 0);
}

static uint64_t rg_next(struct prng *r, const struct rg_string *g)
{
    uint64_t next = g->doubling ? 2 * g->size : g->size + prng_range(r, 1, 64);
    return next < g->target ? next : g->target;
}

static int gen_realloc_grow(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    uint32_t n = RG_STRINGS;
    if (n > c->ops / 2) n = c->ops >= 2 ? (uint32_t)(c->ops / 2) : 1;
    uint32_t base = ops_reserve(s, n);
    if (base == UINT32_MAX) return -1;
    struct rg_string g[RG_STRINGS];
    uint64_t emitted = 0;
    for (uint32_t i = 0; i < n; i++, emitted++)
        rg_start(c, base + i, &g[i]);
    /* Room for this step (a free and an alloc at most) and the final frees. */
    while (emitted + 2 + n <= c->ops && !s->error) {
        uint32_t i = (uint32_t)prng_below(c->rng, n);
        if (g[i].size >= g[i].target) {
            ops_free(s, t, base + i);
            rg_start(c, base + i, &g[i]);
            emitted += 2;
        } else {
            g[i].size = rg_next(c->rng, &g[i]);
            ops_realloc(s, t, base + i, g[i].size);
            emitted++;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        ops_free(s, t, base + i);
    return s->error ? -1 : 0;
}

const struct workload wl_realloc_grow = {
    .name = "realloc-grow",
    .summary = "16 strings grown by realloc to 256 B-64 KiB, in 1-64 B steps or by doubling",
    .category = "micro",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 1000000,
    .generate = gen_realloc_grow,
};
