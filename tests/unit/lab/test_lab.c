/*
 * tests/unit/lab/test_lab.c: every lab allocator against a shadow model, and the painter.
 *
 * For each registered allocator: 20,000+ random operations with check() after every one;
 * live blocks never overlap, are 16-byte aligned, inside the arena, at least as large as asked
 * and keep their contents; the cell map's byte totals equal the allocator's own accounting;
 * after everything is freed the coalescing allocators are back to one free block and slab/span
 * hold no slab or span; exhaustion returns NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "heaplab/lab.h"
#include "util/prng.h"

#define MAX_LIVE 8192

struct live {
    unsigned char *p;
    size_t req, usable;
    uint8_t tag;
};

/* The shadow: live blocks in an array (order does not matter), in mmap'd memory. */
static struct live *shadow;
static size_t nlive;
static const char *cur; /* allocator under test, for messages */

static void fail_msg(const char *what, const char *why)
{
    fprintf(stderr, "  [%s] %s%s%s\n", cur, what, why ? ": " : "", why ? why : "");
}

static int run_check(struct lab_heap *h)
{
    char err[256] = "";
    if (h->ops->check(h->self, err, sizeof err) != 0) {
        fail_msg("check() failed", err);
        return -1;
    }
    return 0;
}

static void fill(struct live *l)
{
    for (size_t i = 0; i < l->req; i++)
        l->p[i] = (uint8_t)(l->tag + i * 7);
}

static int intact(const struct live *l)
{
    for (size_t i = 0; i < l->req; i++)
        if (l->p[i] != (uint8_t)(l->tag + i * 7)) return 0;
    return 1;
}

static int cmp_req(const void *a, const void *b)
{
    const struct lab_request *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Paint the arena with the shadow's requested sizes; compare with the allocator's stats. */
static int snapshot_agrees(struct lab_heap *h)
{
    static uint8_t cells[LAB_MAX_CELLS];
    static struct lab_request req[MAX_LIVE];
    uint64_t requested = 0;
    for (size_t i = 0; i < nlive; i++) {
        req[i].off = (uint64_t)(shadow[i].p - h->arena);
        req[i].requested = shadow[i].req;
        requested += shadow[i].req;
    }
    qsort(req, nlive, sizeof req[0], cmp_req);
    struct lab_paint p;
    lab_paint_begin(&p, cells, h->arena_size);
    lab_paint_set_requests(&p, req, nlive);
    h->ops->snapshot(h->self, &p);
    if (lab_paint_end(&p) != 0) {
        fail_msg("snapshot", p.why);
        return 0;
    }
    struct lab_stats s;
    h->ops->stats(h->self, &s);
    int ok = 1;
    if (s.live_bytes + s.meta_bytes + s.free_bytes + s.slack_bytes != h->arena_size) {
        fail_msg("live + meta + free + slack != arena size", NULL);
        ok = 0;
    }
    if (p.bytes[LAB_FREE] != s.free_bytes || p.bytes[LAB_META] != s.meta_bytes
        || p.bytes[LAB_USED] != requested
        || p.bytes[LAB_USED] + p.bytes[LAB_WASTE] != s.live_bytes + s.slack_bytes) {
        fprintf(stderr,
                "  [%s] painted free %llu meta %llu used %llu waste %llu; stats free %llu meta "
                "%llu live %llu slack %llu requested %llu\n",
                cur, (unsigned long long)p.bytes[0], (unsigned long long)p.bytes[2],
                (unsigned long long)p.bytes[1], (unsigned long long)p.bytes[3],
                (unsigned long long)s.free_bytes, (unsigned long long)s.meta_bytes,
                (unsigned long long)s.live_bytes, (unsigned long long)s.slack_bytes,
                (unsigned long long)requested);
        ok = 0;
    }
    if (s.live_blocks != nlive) {
        fail_msg("stats.live_blocks differs from the shadow", NULL);
        ok = 0;
    }
    /* Cell counts: each cell is off by at most its own bytes, and only cells where a range
     * boundary falls can be off: at most one per range painted. */
    uint64_t count[4] = { 0 };
    for (uint32_t i = 0; i < p.ncells; i++)
        count[p.cells[i]]++;
    uint64_t slack = p.cell_bytes * (p.ranges + 1);
    if (h->arena_size <= (2u << 20)) {
        for (unsigned k = 0; k < 4; k++) {
            uint64_t a = count[k] * p.cell_bytes, b = p.bytes[k];
            if ((a > b ? a - b : b - a) > slack) {
                fprintf(stderr, "  [%s] kind %u: %llu cells (%llu B) vs %llu B painted\n", cur, k,
                        (unsigned long long)count[k], (unsigned long long)a, (unsigned long long)b);
                ok = 0;
            }
        }
    }
    return ok;
}

static size_t random_size(struct prng *r)
{
    uint64_t x = prng_next(r) % 100;
    if (x < 60) return 1 + prng_next(r) % 128;
    if (x < 85) return 1 + prng_next(r) % 1024;
    if (x < 97) return 1 + prng_next(r) % 8192;
    return 1 + prng_next(r) % 65536;
}

static int overlaps(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < nlive; i++)
        if (p < shadow[i].p + shadow[i].usable && shadow[i].p < p + n) return 1;
    return 0;
}

/* Free shadow entry i. */
static int free_one(struct lab_heap *h, size_t i)
{
    int ok = intact(&shadow[i]);
    if (!ok) fail_msg("contents changed", NULL);
    h->ops->free(h->self, shadow[i].p);
    shadow[i] = shadow[--nlive];
    return ok;
}

/* Random ops with a drifting alloc/free bias so the heap grows, shrinks and hits the end. */
static void shadow_run(const struct lab_ops *ops, size_t arena, unsigned nops, uint64_t seed)
{
    struct lab_heap h;
    REQUIRE(lab_heap_open(&h, ops, arena) == 0);
    struct prng r;
    prng_seed(&r, seed, 0);
    nlive = 0;
    unsigned fails = 0, allocs = 0;
    for (unsigned i = 0; i < nops; i++) {
        unsigned phase = (i / 2000) % 3; /* grow, churn, shrink */
        unsigned p_alloc = phase == 0 ? 70 : phase == 1 ? 50 : 30;
        if (nlive < MAX_LIVE && (nlive == 0 || prng_next(&r) % 100 < p_alloc)) {
            size_t n = random_size(&r);
            unsigned char *p = ops->alloc(h.self, n);
            if (p == NULL) {
                fails++;
            } else {
                allocs++;
                size_t u = ops->usable_size(h.self, p);
                if ((uintptr_t)p % LAB_ALIGN != 0 || !lab_in_arena(&h, p) || u < n
                    || !lab_in_arena(&h, p + u - 1) || overlaps(p, u)) {
                    fail_msg("bad block (alignment, arena, usable size or overlap)", NULL);
                    CHECK(0);
                    break;
                }
                shadow[nlive] = (struct live){ p, n, u, (uint8_t)prng_next(&r) };
                fill(&shadow[nlive++]);
            }
        } else {
            CHECK(free_one(&h, prng_next(&r) % nlive));
        }
        if (run_check(&h) != 0) {
            CHECK(0);
            break;
        }
        if (i % 499 == 0 && !snapshot_agrees(&h)) {
            CHECK(0);
            break;
        }
    }
    /* Every allocator but bump (which never reuses) keeps serving a churning stream. */
    CHECK(allocs > (strcmp(ops->name, "bump") == 0 ? 0 : nops / 4));
    while (nlive > 0)
        CHECK(free_one(&h, nlive - 1));
    CHECK(run_check(&h) == 0);
    CHECK(snapshot_agrees(&h));
    struct lab_stats s;
    ops->stats(h.self, &s);
    CHECK_EQ_U64(s.live_blocks, 0);
    CHECK_EQ_U64(s.live_bytes, 0);
    const char *n = ops->name;
    if (strncmp(n, "firstfit", 8) == 0 || strcmp(n, "segfit") == 0 || strcmp(n, "buddy") == 0) {
        /* One free block covering the arena (less its metadata). */
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.free_bytes + s.meta_bytes, arena);
    }
    if (strcmp(n, "slab") == 0 || strcmp(n, "span") == 0) {
        CHECK_EQ_U64(s.units_held, 0);
        CHECK(s.units_total > 0);
    }
    if (check_cur_failed > 0)
        fprintf(stderr, "  [%s] arena %zu seed %llu: %u allocs, %u failures\n", n, arena,
                (unsigned long long)seed, allocs, fails);
    lab_heap_close(&h);
}

static void test_shadow_all(void)
{
    for (size_t i = 0; i < lab_count; i++) {
        cur = lab_list[i]->name;
        shadow_run(lab_list[i], LAB_ARENA_DEFAULT, 24000, 1 + i);
        shadow_run(lab_list[i], LAB_ARENA_MIN * 4, 6000, 100 + i); /* 256 KiB: runs out */
    }
}

static void test_big_arena(void)
{
    /* A 16 MiB arena: the map is downsampled to 65,536 cells of 256 B. */
    for (size_t i = 0; i < lab_count; i++) {
        cur = lab_list[i]->name;
        shadow_run(lab_list[i], (size_t)16 << 20, 3000, 200 + i);
    }
}

static void test_exhaustion(void)
{
    for (size_t i = 0; i < lab_count; i++) {
        const struct lab_ops *ops = lab_list[i];
        cur = ops->name;
        struct lab_heap h;
        if (lab_heap_open(&h, ops, LAB_ARENA_MIN) != 0) {
            fail_msg("cannot open a 64 KiB arena", NULL);
            CHECK(0);
            continue;
        }
        CHECK(ops->alloc(h.self, SIZE_MAX) == NULL);
        CHECK(ops->alloc(h.self, SIZE_MAX / 2) == NULL);
        CHECK(ops->alloc(h.self, LAB_ARENA_MIN + 1) == NULL);
        unsigned n = 0;
        while (n < 100000 && ops->alloc(h.self, 1000) != NULL)
            n++;
        CHECK(n > 0 && n < 100000);
        CHECK(ops->alloc(h.self, 1000) == NULL);
        CHECK(ops->alloc(h.self, 1000) == NULL);
        CHECK(run_check(&h) == 0);
        struct lab_stats s;
        ops->stats(h.self, &s);
        CHECK_EQ_U64(s.live_blocks, n);
        lab_heap_close(&h);
    }
}

static void test_bump_never_reuses(void)
{
    struct lab_heap h;
    REQUIRE(lab_heap_open(&h, lab_find("bump"), LAB_ARENA_MIN) == 0);
    void *a = h.ops->alloc(h.self, 64);
    h.ops->free(h.self, a);
    void *b = h.ops->alloc(h.self, 64);
    CHECK(b != a && b > a);
    unsigned n = 0;
    while (h.ops->alloc(h.self, 48) != NULL)
        n++;
    /* 64 KiB of 64-byte steps (16 header + 48), less the two earlier blocks. */
    CHECK_EQ_U64(n, (LAB_ARENA_MIN - 2 * 80) / 64);
    struct lab_stats s;
    h.ops->stats(h.self, &s);
    CHECK_EQ_U64(s.slack_bytes, 64); /* the dead block */
    CHECK(run_check(&h) == 0);
    lab_heap_close(&h);
}

static void test_open_rejects(void)
{
    struct lab_heap h;
    const struct lab_ops *ops = lab_find("bump");
    CHECK(lab_heap_open(&h, ops, 1000) == -1);
    CHECK(lab_heap_open(&h, ops, LAB_ARENA_MIN / 2) == -1);
    CHECK(lab_heap_open(&h, ops, (size_t)3 << 20) == -1);
    CHECK(lab_heap_open(&h, ops, LAB_ARENA_MAX * 2) == -1);
    CHECK(lab_find("nope") == NULL);
    for (size_t i = 0; i < lab_count; i++)
        CHECK(lab_find(lab_list[i]->name) == lab_list[i]);
}

static void test_painter(void)
{
    static uint8_t cells[LAB_MAX_CELLS];
    struct lab_paint p;
    lab_paint_begin(&p, cells, LAB_ARENA_MIN); /* 2048 cells of 32 B */
    CHECK_EQ_U64(p.ncells, 2048);
    lab_paint_range(&p, 0, 16, LAB_META);
    struct lab_request rq = { 16, 20 };
    lab_paint_set_requests(&p, &rq, 1);
    lab_paint_block(&p, 16, 48); /* used 16..36, waste 36..64 */
    lab_paint_range(&p, 64, 64, LAB_FREE);
    lab_paint_range(&p, 128, 32, LAB_USED);
    lab_paint_range(&p, 160, LAB_ARENA_MIN - 160, LAB_FREE);
    CHECK(lab_paint_end(&p) == 0);
    CHECK_EQ_U64(p.bytes[LAB_META], 16);
    CHECK_EQ_U64(p.bytes[LAB_USED], 20 + 32);
    CHECK_EQ_U64(p.bytes[LAB_WASTE], 28);
    CHECK_EQ_U64(p.free_runs, 2);
    CHECK_EQ_U64(p.largest_run, LAB_ARENA_MIN - 160);
    CHECK(cells[0] == LAB_META || cells[0] == LAB_USED); /* 16 meta + 16 used: tie */
    CHECK_EQ_U64(cells[0], LAB_META);                    /* ties go to the higher code */
    CHECK_EQ_U64(cells[1], LAB_WASTE);                   /* 4 used, 28 waste */
    CHECK_EQ_U64(cells[2], LAB_FREE);
    CHECK_EQ_U64(cells[4], LAB_USED);
    CHECK_EQ_U64(cells[5], LAB_FREE);
    double f = lab_paint_frag(&p);
    CHECK(f > 0.0 && f < 0.01);

    /* Gaps, overlaps and short coverage are errors. */
    lab_paint_begin(&p, cells, LAB_ARENA_MIN);
    lab_paint_range(&p, 0, 64, LAB_FREE);
    lab_paint_range(&p, 32, 64, LAB_FREE);
    CHECK(lab_paint_end(&p) == -1);
    lab_paint_begin(&p, cells, LAB_ARENA_MIN);
    lab_paint_range(&p, 0, 64, LAB_FREE);
    CHECK(lab_paint_end(&p) == -1);

    /* Downsampled: a 64 MiB arena has 65,536 cells of 1 KiB; majority wins. */
    lab_paint_begin(&p, cells, (size_t)64 << 20);
    CHECK_EQ_U64(p.cell_bytes, 1024);
    lab_paint_range(&p, 0, 600, LAB_USED);
    lab_paint_range(&p, 600, ((size_t)64 << 20) - 600, LAB_FREE);
    CHECK(lab_paint_end(&p) == 0);
    CHECK_EQ_U64(cells[0], LAB_USED);
    CHECK_EQ_U64(cells[1], LAB_FREE);
    CHECK(lab_paint_frag(&p) == 0.0);
}

int main(void)
{
    shadow = mmap(NULL, MAX_LIVE * sizeof *shadow, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (shadow == MAP_FAILED) return 1;
    RUN_TEST(test_painter);
    RUN_TEST(test_open_rejects);
    RUN_TEST(test_bump_never_reuses);
    RUN_TEST(test_exhaustion);
    RUN_TEST(test_shadow_all);
    RUN_TEST(test_big_arena);
    return check_report();
}
