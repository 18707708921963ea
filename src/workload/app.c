/*
 * workload/app.c: application-shaped workloads: webserver, kvstore, json-tree, redis-cache,
 * nginx-requests, python-repl, adversarial.
 *
 * Each is WL_PER_THREAD: every thread runs its own instance with its own seed. They keep to
 * the budget c->ops by emitting a step only when it fits together with the frees still owed
 * for live objects (`emitted + live + cost <= ops`), then free everything at the end; so a
 * thread emits within a step's worth of c->ops. redis-cache is the exception that leaves its
 * cache live at the end (the executor frees it untimed).
 */
#include "util/osmem.h"
#include "workload/workload.h"

#define NONE UINT32_MAX

/* Ops emitted so far by the calling thread. */
static uint64_t emitted(const struct wl_ctx *c)
{
    return c->s->th[c->thread].n;
}

/* Zeroed scratch array of `n` uint32_t from osmem (never the allocator under test). */
static uint32_t *scratch_u32(size_t n)
{
    return osmem_alloc(n * sizeof(uint32_t));
}

static void scratch_free(uint32_t *p, size_t n)
{
    osmem_free(p, n * sizeof(uint32_t));
}

/* ------------------------------------------------------------------------------------- */
/* webserver                                                                             */

#define WS_CACHE       64 /* long-lived cache entries */
#define WS_HEADERS_MAX 40

/*
 * One request: a 4-16 KiB request buffer, 8-40 header strings of 16-128 B, a log-uniform
 * 1-64 KiB response buffer that grows once (realloc, x1.5-2, at most 64 KiB) in half the
 * requests; then the headers, the request and the response are freed. One request in 20
 * also replaces an entry of a 64-entry cache (256 B-64 KiB, log-normal around 2 KiB) whose
 * entries live across many requests.
 */
static int gen_webserver(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    uint32_t hdr[WS_HEADERS_MAX];
    uint32_t cache = ops_reserve(s, WS_CACHE);
    if (cache == UINT32_MAX) return -1;
    uint32_t cached = 0; /* cache slots [0, cached) are live */
    while (!s->error) {
        uint32_t nh = (uint32_t)prng_range(r, 8, WS_HEADERS_MAX);
        uint64_t cost = 2 * (uint64_t)nh + 5 + 2;
        if (emitted(c) + cached + cost > c->ops) break;
        uint32_t req = ops_alloc(s, t, prng_range(r, 4096, 16384), 0);
        for (uint32_t i = 0; i < nh; i++)
            hdr[i] = ops_alloc(s, t, prng_range(r, 16, 128), 0);
        uint64_t resp_bytes = wl_size_loguniform(r, 1024, 65536);
        uint32_t resp = ops_alloc(s, t, resp_bytes, 0);
        if (prng_chance(r, 0.5)) {
            uint64_t grown = resp_bytes + resp_bytes / 2 + prng_below(r, resp_bytes / 2 + 1);
            ops_realloc(s, t, resp, grown > 65536 ? 65536 : grown);
        }
        if (prng_chance(r, 0.05)) {
            uint32_t slot = cached;
            if (cached == WS_CACHE) {
                slot = (uint32_t)prng_below(r, WS_CACHE);
                ops_free(s, t, cache + slot);
            } else {
                cached++;
            }
            ops_alloc_at(s, t, cache + slot, wl_size_lognormal(r, 2048, 1.0, 256, 65536), 0);
        }
        for (uint32_t i = 0; i < nh; i++)
            ops_free(s, t, hdr[i]);
        ops_free(s, t, req);
        ops_free(s, t, resp);
    }
    for (uint32_t i = 0; i < cached; i++)
        ops_free(s, t, cache + i);
    return s->error ? -1 : 0;
}

const struct workload wl_webserver = {
    .name = "webserver",
    .summary = "requests: 4-16 KiB buffer, 8-40 small headers, 1-64 KiB response; small cache",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_webserver,
};

/* ------------------------------------------------------------------------------------- */
/* kvstore                                                                               */

#define KV_SLOTS_MAX 32768

/*
 * A hash table of K slots (32768, fewer for small budgets), each empty or holding a key
 * (16-64 B) and a value (log-normal around 200 B, sigma 1.5, 8 B-64 KiB). A step picks a
 * random slot: an empty one gets an insert (two allocations); a full one is deleted (two
 * frees) with probability 0.3, else its value is updated in place with realloc to a fresh
 * size. About 77% of the slots are full in the steady state.
 */
static int gen_kvstore(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    uint64_t k64 = c->ops / 8;
    uint32_t k = k64 > KV_SLOTS_MAX ? KV_SLOTS_MAX : (k64 < 16 ? 16 : (uint32_t)k64);
    uint32_t keys = ops_reserve(s, k);
    uint32_t vals = ops_reserve(s, k);
    if (keys == UINT32_MAX || vals == UINT32_MAX) return -1;
    uint64_t live = 0; /* live objects, each owing one free */
    while (!s->error) {
        uint32_t i = (uint32_t)prng_below(r, k);
        if (!ops_is_live(s, keys + i)) {
            if (emitted(c) + live + 4 > c->ops) break;
            ops_alloc_at(s, t, keys + i, prng_range(r, 16, 64), 0);
            ops_alloc_at(s, t, vals + i, wl_size_lognormal(r, 200, 1.5, 8, 65536), 0);
            live += 2;
        } else if (prng_chance(r, 0.3)) {
            ops_free(s, t, keys + i);
            ops_free(s, t, vals + i);
            live -= 2;
        } else {
            if (emitted(c) + live + 1 > c->ops) break;
            ops_realloc(s, t, vals + i, wl_size_lognormal(r, 200, 1.5, 8, 65536));
        }
    }
    for (uint32_t i = 0; i < k; i++) {
        if (!ops_is_live(s, keys + i)) continue;
        ops_free(s, t, keys + i);
        ops_free(s, t, vals + i);
    }
    return s->error ? -1 : 0;
}

const struct workload wl_kvstore = {
    .name = "kvstore",
    .summary = "32768-slot table: insert/delete/update (realloc) keys and log-normal values",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 800000,
    .generate = gen_kvstore,
};

/* ------------------------------------------------------------------------------------- */
/* json-tree                                                                             */

/*
 * A forest of documents under a virtual root (node 0, never allocated). Each node is an
 * object of 32-128 B and, for 70% of them, a string (log-normal around 24 B, 4 B-2 KiB).
 * A step grows a new subtree (1 + geometric(30) nodes, each the child of the previous new
 * node or of a random earlier one) under a random node, or under the root as a new document
 * one time in ten; or drops the subtree of a random node taken geometric(1) levels up,
 * freeing leaves first as a recursive destructor does; or replaces a random node's string.
 * Below T/2 nodes it grows, above T it drops, in between it picks 40/35/25%; T is 8192
 * (ops/20 for small budgets, at least 16). One new node in ten also allocates and at once
 * frees a parse buffer (log-uniform 64 B-4 KiB).
 */
struct jt_node {
    uint32_t obj;    /* node object, NONE for the virtual root */
    uint32_t str;    /* string object or NONE */
    uint32_t parent; /* node index */
    uint32_t first;  /* first child or NONE */
    uint32_t next;   /* next sibling or NONE */
    uint32_t prev;   /* previous sibling or NONE */
    uint32_t pos;    /* index in jt.dense */
};

struct jt {
    const struct wl_ctx *c;
    struct jt_node *nodes; /* [0] is the virtual root */
    uint32_t *dense;       /* live node indices (excluding the root) */
    uint32_t *spare;       /* free node indices, a stack */
    uint32_t n, nspare, cap;
    uint64_t live; /* live objects, each owing one free */
};

static uint64_t jt_string_size(struct prng *r)
{
    return wl_size_lognormal(r, 24, 1.0, 4, 2048);
}

static uint32_t jt_add(struct jt *j, uint32_t parent)
{
    struct opstream *s = j->c->s;
    unsigned t = j->c->thread;
    struct prng *r = j->c->rng;
    uint32_t x = j->spare[--j->nspare];
    struct jt_node *nd = &j->nodes[x];
    nd->obj = ops_alloc(s, t, prng_range(r, 32, 128), 0);
    nd->str = NONE;
    j->live++;
    if (prng_chance(r, 0.7)) {
        nd->str = ops_alloc(s, t, jt_string_size(r), 0);
        j->live++;
    }
    nd->parent = parent;
    nd->prev = NONE;
    nd->first = NONE;
    nd->next = j->nodes[parent].first;
    if (nd->next != NONE) j->nodes[nd->next].prev = x;
    j->nodes[parent].first = x;
    nd->pos = j->n;
    j->dense[j->n++] = x;
    return x;
}

static void jt_remove(struct jt *j, uint32_t x)
{
    struct opstream *s = j->c->s;
    unsigned t = j->c->thread;
    struct jt_node *nd = &j->nodes[x];
    if (nd->prev != NONE)
        j->nodes[nd->prev].next = nd->next;
    else
        j->nodes[nd->parent].first = nd->next;
    if (nd->next != NONE) j->nodes[nd->next].prev = nd->prev;
    if (nd->str != NONE) {
        ops_free(s, t, nd->str);
        j->live--;
    }
    ops_free(s, t, nd->obj);
    j->live--;
    uint32_t last = j->dense[--j->n];
    j->dense[nd->pos] = last;
    j->nodes[last].pos = nd->pos;
    j->spare[j->nspare++] = x;
}

/* Free the subtree of `v`, children before parents. */
static void jt_drop(struct jt *j, uint32_t v)
{
    uint32_t u = v;
    for (;;) {
        while (j->nodes[u].first != NONE)
            u = j->nodes[u].first;
        uint32_t next = j->nodes[u].next, parent = j->nodes[u].parent;
        jt_remove(j, u);
        if (u == v) return;
        u = next != NONE ? next : parent;
    }
}

static int gen_json_tree(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    uint64_t target64 = c->ops / 20;
    uint32_t target = target64 > 8192 ? 8192 : (target64 < 16 ? 16 : (uint32_t)target64);
    struct jt j = { .c = c, .cap = 2 * target + 1 };
    size_t node_bytes = (size_t)j.cap * sizeof(struct jt_node);
    j.nodes = osmem_alloc(node_bytes);
    j.dense = scratch_u32(j.cap);
    j.spare = scratch_u32(j.cap);
    int rc = -1;
    if (!j.nodes || !j.dense || !j.spare) goto out_free_scratch;
    j.nodes[0] = (struct jt_node){ NONE, NONE, NONE, NONE, NONE, NONE, NONE };
    for (uint32_t i = j.cap - 1; i >= 1; i--)
        j.spare[j.nspare++] = i;
    while (!s->error) {
        unsigned action; /* 0 grow, 1 drop, 2 new string */
        if (j.n < target / 2)
            action = 0;
        else if (j.n > target)
            action = 1;
        else {
            uint64_t u = prng_below(r, 100);
            action = u < 40 ? 0 : (u < 75 ? 1 : 2);
        }
        if (action == 0) {
            uint64_t want = 1 + prng_geometric(r, 30);
            uint32_t anchor = 0;
            if (j.n > 0 && !prng_chance(r, 0.1)) anchor = j.dense[prng_below(r, j.n)];
            uint32_t start = j.n, last = anchor;
            for (uint64_t k = 0; k < want && j.nspare > 0; k++) {
                if (emitted(c) + j.live + 6 > c->ops) break;
                uint32_t parent = last;
                if (k > 0 && !prng_chance(r, 0.5))
                    parent = j.dense[start + prng_below(r, j.n - start)];
                last = jt_add(&j, parent);
                if (prng_chance(r, 0.1)) {
                    uint32_t tmp = ops_alloc(s, t, wl_size_loguniform(r, 64, 4096), 0);
                    ops_free(s, t, tmp);
                }
            }
            if (j.n == start) break; /* out of budget */
        } else if (action == 1) {
            uint32_t v = j.dense[prng_below(r, j.n)];
            for (uint64_t up = prng_geometric(r, 1.0); up > 0 && j.nodes[v].parent != 0; up--)
                v = j.nodes[v].parent;
            jt_drop(&j, v);
        } else {
            struct jt_node *nd = &j.nodes[j.dense[prng_below(r, j.n)]];
            if (emitted(c) + j.live + 3 > c->ops) break;
            if (nd->str != NONE) {
                ops_free(s, t, nd->str);
                j.live--;
            }
            nd->str = ops_alloc(s, t, jt_string_size(r), 0);
            j.live++;
        }
    }
    while (j.nodes[0].first != NONE)
        jt_drop(&j, j.nodes[0].first);
    rc = s->error ? -1 : 0;
out_free_scratch:
    osmem_free(j.nodes, node_bytes);
    scratch_free(j.dense, j.cap);
    scratch_free(j.spare, j.cap);
    return rc;
}

const struct workload wl_json_tree = {
    .name = "json-tree",
    .summary = "trees of 32-128 B nodes and strings; grow subtrees, drop whole subtrees",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_json_tree,
};

/* ------------------------------------------------------------------------------------- */
/* redis-cache                                                                           */

/*
 * A cache that fills up: each step is SET of a new key (key 16-64 B and a value, log-normal
 * around 80 B, sigma 1.3, 8 B-1 MiB) with weight 47, overwrite of a value (free + alloc)
 * with weight 12, APPEND (realloc the value to 1.5x + up to 64 B, at most 1 MiB) with weight
 * 29, DEL (free key and value) with weight 12. About 21% of the ops are frees and the live
 * set grows by about 0.4 objects per op. The cache is left live at the end.
 */
static uint64_t rc_value_size(struct prng *r)
{
    return wl_size_lognormal(r, 80, 1.3, 8, (uint64_t)1 << 20);
}

static int gen_redis_cache(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    size_t cap = (size_t)(c->ops / 2 + 1);
    uint32_t *key = scratch_u32(cap), *val = scratch_u32(cap);
    uint32_t n = 0; /* entries [0, n) are live */
    int rc = -1;
    if (!key || !val) goto out_free_scratch;
    while (!s->error && emitted(c) + 2 <= c->ops) {
        uint64_t u = prng_below(r, 100);
        if (n == 0 || u < 47) {
            key[n] = ops_alloc(s, t, prng_range(r, 16, 64), 0);
            val[n] = ops_alloc(s, t, rc_value_size(r), 0);
            n++;
        } else if (u < 59) {
            uint32_t i = (uint32_t)prng_below(r, n);
            ops_free(s, t, val[i]);
            val[i] = ops_alloc(s, t, rc_value_size(r), 0);
        } else if (u < 88) {
            uint32_t i = (uint32_t)prng_below(r, n);
            uint64_t old = ops_size(s, val[i]);
            uint64_t grown = old + old / 2 + prng_range(r, 1, 64);
            ops_realloc(s, t, val[i], grown > ((uint64_t)1 << 20) ? (uint64_t)1 << 20 : grown);
        } else {
            uint32_t i = (uint32_t)prng_below(r, n);
            ops_free(s, t, key[i]);
            ops_free(s, t, val[i]);
            n--;
            key[i] = key[n];
            val[i] = val[n];
        }
    }
    rc = s->error ? -1 : 0;
out_free_scratch:
    scratch_free(key, cap);
    scratch_free(val, cap);
    return rc;
}

const struct workload wl_redis_cache = {
    .name = "redis-cache",
    .summary = "filling cache: log-normal values, ~21% frees, APPEND growth by realloc",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 500000,
    .generate = gen_redis_cache,
};

/* ------------------------------------------------------------------------------------- */
/* nginx-requests                                                                        */

#define NG_ACTIVE_MAX 16  /* requests in flight */
#define NG_BLOCKS_MAX 256 /* blocks per request pool */

/*
 * Requests in flight, 1-16 of them, each owning a pool: a first block of 1-16 KiB, then
 * blocks that are 85% small (log-normal around 64 B, 8 B-4 KiB) and 15% large buffers
 * (log-uniform 4-64 KiB). A request's pool gets 1 + geometric(24) blocks (at most 256); the
 * block allocations of requests in flight interleave, and a request that has all its blocks
 * frees its whole pool at once, in allocation order. New requests arrive in bursts of
 * 1 + geometric(3).
 */
static int gen_nginx_requests(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    size_t cap = (size_t)NG_ACTIVE_MAX * NG_BLOCKS_MAX;
    uint32_t *blocks = scratch_u32(cap); /* request i's blocks at [i * NG_BLOCKS_MAX, ...) */
    uint32_t have[NG_ACTIVE_MAX], want[NG_ACTIVE_MAX];
    uint32_t active = 0;
    uint64_t live = 0;
    if (!blocks) return -1;
    while (!s->error && emitted(c) + live + 2 <= c->ops) {
        if (active == 0 || (active < NG_ACTIVE_MAX && prng_chance(r, 0.03))) {
            uint64_t burst = 1 + prng_geometric(r, 3);
            for (; burst > 0 && active < NG_ACTIVE_MAX; burst--, active++) {
                uint64_t w = 1 + prng_geometric(r, 24);
                have[active] = 0;
                want[active] = w > NG_BLOCKS_MAX ? NG_BLOCKS_MAX : (uint32_t)w;
            }
        }
        uint32_t i = (uint32_t)prng_below(r, active);
        uint32_t *pool = &blocks[(size_t)i * NG_BLOCKS_MAX];
        uint64_t size;
        if (have[i] == 0)
            size = prng_range(r, 1024, 16384);
        else if (prng_chance(r, 0.85))
            size = wl_size_lognormal(r, 64, 1.0, 8, 4096);
        else
            size = wl_size_loguniform(r, 4096, 65536);
        pool[have[i]++] = ops_alloc(s, t, size, 0);
        live++;
        if (have[i] < want[i]) continue;
        for (uint32_t b = 0; b < have[i]; b++)
            ops_free(s, t, pool[b]);
        live -= have[i];
        /* Move the last request in flight into slot i. */
        active--;
        if (i != active) {
            uint32_t *from = &blocks[(size_t)active * NG_BLOCKS_MAX];
            for (uint32_t b = 0; b < have[active]; b++)
                pool[b] = from[b];
            have[i] = have[active];
            want[i] = want[active];
        }
    }
    for (uint32_t i = 0; i < active; i++)
        for (uint32_t b = 0; b < have[i]; b++)
            ops_free(s, t, blocks[(size_t)i * NG_BLOCKS_MAX + b]);
    scratch_free(blocks, cap);
    return s->error ? -1 : 0;
}

const struct workload wl_nginx_requests = {
    .name = "nginx-requests",
    .summary = "bursty requests, each filling a pool of blocks then freeing it at once",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 1000000,
    .generate = gen_nginx_requests,
};

/* ------------------------------------------------------------------------------------- */
/* python-repl                                                                           */

#define PY_YOUNG 512   /* the young set hovers around half of this */
#define PY_OLD   16384 /* long-lived objects kept at most */

/*
 * An interpreter's object churn. 92% of allocations are 16-96 B (uniform), the rest
 * log-uniform 97 B-32 KiB. 95% of objects are young: each step frees a young object with
 * probability young/512 (the newest one 75% of the time, like temporaries, else a random
 * one), otherwise allocates; so the young set hovers around 256 objects and most die within
 * a few steps. 5% of allocations are long-lived, kept until 16384 of them exist and then
 * replacing a random one. 3% of the steps that do not free realloc a young object to
 * 1.5x + 8 B (a list growing), at most 64 KiB.
 */
static uint64_t py_size(struct prng *r)
{
    if (prng_chance(r, 0.92)) return prng_range(r, 16, 96);
    return wl_size_loguniform(r, 97, 32768);
}

static int gen_python_repl(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    uint32_t *young = scratch_u32(PY_YOUNG), *old = scratch_u32(PY_OLD);
    uint32_t ny = 0, nold = 0;
    int rc = -1;
    if (!young || !old) goto out_free_scratch;
    while (!s->error) {
        if (ny > 0 && prng_below(r, PY_YOUNG) < ny) {
            uint32_t i = prng_chance(r, 0.75) ? ny - 1 : (uint32_t)prng_below(r, ny);
            ops_free(s, t, young[i]);
            young[i] = young[--ny];
            continue;
        }
        uint64_t live = ny + nold;
        if (ny > 0 && prng_chance(r, 0.03)) {
            if (emitted(c) + live + 1 > c->ops) break;
            uint32_t i = (uint32_t)prng_below(r, ny);
            uint64_t grown = ops_size(s, young[i]) * 3 / 2 + 8;
            ops_realloc(s, t, young[i], grown > 65536 ? 65536 : grown);
            continue;
        }
        if (emitted(c) + live + 2 > c->ops) break;
        uint32_t id = ops_alloc(s, t, py_size(r), 0);
        if (prng_chance(r, 0.05)) {
            if (nold == PY_OLD) {
                uint32_t i = (uint32_t)prng_below(r, PY_OLD);
                ops_free(s, t, old[i]);
                old[i] = id;
            } else {
                old[nold++] = id;
            }
        } else {
            young[ny++] = id;
        }
    }
    while (ny > 0)
        ops_free(s, t, young[--ny]);
    while (nold > 0)
        ops_free(s, t, old[--nold]);
    rc = s->error ? -1 : 0;
out_free_scratch:
    scratch_free(young, PY_YOUNG);
    scratch_free(old, PY_OLD);
    return rc;
}

const struct workload wl_python_repl = {
    .name = "python-repl",
    .summary = "interpreter churn: 92% of allocations 16-96 B, short lifetimes, some long",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 2000000,
    .generate = gen_python_repl,
};

/* ------------------------------------------------------------------------------------- */
/* adversarial                                                                           */

#define ADV_ROUNDS      11        /* rounds per cycle; size doubles each round */
#define ADV_BASE_SIZE   48        /* hole size of the first round */
#define ADV_ROUND_BYTES (2 << 20) /* hole bytes per round */
#define ADV_PAIRS_MAX   4096

/*
 * A fragmentation lattice. Round k of a cycle uses S = 48 << k bytes (48 B to 48 KiB) and
 * P = min(4096, 2 MiB / S) pairs:
 *   1. P times: a pinned object (16-32 B) then a hole-to-be of S..1.25S bytes
 *   2. free the P hole-to-be objects: holes of < 1.25S between live pins
 *   3. P probes of 1.25S+16..2S-16 bytes, which fit no hole of this round or an earlier one
 *   4. free the probes (they were allocated together, so a coalescing allocator gets one
 *      large free run back, which the next round's larger sizes can use)
 * Pins stay live to the end of the cycle (11 rounds), then are all freed and a new cycle
 * starts. A non-coalescing or size-segregated allocator keeps every round's holes and
 * probes as free memory it cannot use for anything later.
 */
static int gen_adversarial(const struct wl_ctx *c)
{
    struct opstream *s = c->s;
    unsigned t = c->thread;
    struct prng *r = c->rng;
    size_t pins_cap = (size_t)ADV_ROUNDS * ADV_PAIRS_MAX;
    uint32_t *pins = scratch_u32(pins_cap), *objs = scratch_u32(ADV_PAIRS_MAX);
    uint32_t npins = 0;
    int rc = -1;
    if (!pins || !objs) goto out_free_scratch;
    for (unsigned round = 0; !s->error; round = (round + 1) % ADV_ROUNDS) {
        if (round == 0) {
            while (npins > 0)
                ops_free(s, t, pins[--npins]);
        }
        uint64_t size = (uint64_t)ADV_BASE_SIZE << round;
        uint64_t pairs = ADV_ROUND_BYTES / size;
        if (pairs > ADV_PAIRS_MAX) pairs = ADV_PAIRS_MAX;
        /* Each pair costs 6 ops: pin, hole alloc and free, probe alloc and free, pin free. */
        if (emitted(c) + npins + 6 > c->ops) break;
        uint64_t room = c->ops - emitted(c) - npins;
        if (pairs > room / 6) pairs = room / 6;
        for (uint64_t i = 0; i < pairs; i++) {
            pins[npins++] = ops_alloc(s, t, prng_range(r, 16, 32), 0);
            objs[i] = ops_alloc(s, t, prng_range(r, size, size + size / 4), 0);
        }
        for (uint64_t i = 0; i < pairs; i++)
            ops_free(s, t, objs[i]);
        for (uint64_t i = 0; i < pairs; i++)
            objs[i] = ops_alloc(s, t, prng_range(r, size + size / 4 + 16, 2 * size - 16), 0);
        for (uint64_t i = 0; i < pairs; i++)
            ops_free(s, t, objs[i]);
    }
    while (npins > 0)
        ops_free(s, t, pins[--npins]);
    rc = s->error ? -1 : 0;
out_free_scratch:
    scratch_free(pins, pins_cap);
    scratch_free(objs, ADV_PAIRS_MAX);
    return rc;
}

const struct workload wl_adversarial = {
    .name = "adversarial",
    .summary = "lattice of pinned 16-32 B objects between holes; probes fit no hole",
    .category = "app",
    .shape = WL_PER_THREAD,
    .min_threads = 1,
    .default_ops = 200000,
    .generate = gen_adversarial,
};
