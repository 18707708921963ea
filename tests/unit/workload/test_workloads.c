/*
 * tests/unit/workload/test_workloads.c: every workload builds a valid, deterministic stream.
 *
 * Each stream is checked twice: by opstream_validate() and by a shadow model written here,
 * independently of opstream.c, which replays the threads round-robin honouring seq and
 * recomputes the builder's totals. A second shadow recomputes the peak live bytes on the
 * schedule workload.h defines it by. Seeds are fixed: TEST_SEED, and TEST_SEED + 1 where a
 * second seed is needed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

#define TEST_OPS  20000
#define TEST_SEED 42

/* A check that names the workload and thread count when it fails. */
#define CHECK_WL(cond, w, threads)                                                                \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed for %s at %u threads: %s\n", __FILE__, __LINE__, \
                    (w)->name, (unsigned)(threads), #cond);                                       \
            check_cur_failed = 1;                                                                 \
        }                                                                                         \
    } while (0)

/* What the shadow replay saw. */
struct replay {
    uint64_t n_alloc;         /* ALLOC + CALLOC */
    uint64_t n_free;          /* FREE */
    uint64_t n_realloc;       /* REALLOC */
    uint64_t bytes_requested; /* sum of ALLOC/CALLOC/REALLOC sizes */
    uint64_t live_bytes;      /* requested bytes live after the last op */
    uint64_t live_objects;    /* objects live after the last op */
    uint64_t n_mark;          /* MARK ops */
    uint64_t frees_cross;     /* FREEs on another thread than the object's last (re)allocation */
    uint64_t alloc_16_96;     /* allocations of 16..96 B */
    char why[160];            /* the first violation, when the replay fails */
};

static int replay_fail(struct replay *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int replay_fail(struct replay *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * Replay `s` on a fresh shadow: per object its live size (0 = free), next seq and the
 * thread of its last allocation. Threads run round-robin, each as far as it can; an op whose
 * seq is ahead of its object waits (cross-thread streams only). 0, or -1 with r->why.
 */
static int shadow_replay(const struct opstream *s, struct replay *r)
{
    memset(r, 0, sizeof(*r));
    size_t n = s->obj_count ? s->obj_count : 1;
    uint64_t *size = calloc(n, sizeof(*size));
    uint32_t *next = calloc(n, sizeof(*next));
    int *owner = calloc(n, sizeof(*owner));
    size_t pos[WL_MAX_THREADS] = { 0 };
    int rc = 0;
    if (!size || !next || !owner) {
        rc = replay_fail(r, "out of memory");
        goto out;
    }
    for (;;) {
        int moved = 0, waiting = 0;
        for (unsigned t = 0; t < s->threads; t++) {
            for (; pos[t] < s->th[t].n; pos[t]++) {
                const struct op *o = &s->th[t].ops[pos[t]];
                if (o->thread != t) {
                    rc = replay_fail(r, "thread %u op %zu: thread field %u", t, pos[t], o->thread);
                    goto out;
                }
                if (o->kind == OP_MARK) {
                    if (o->size >= s->mark_count) {
                        rc = replay_fail(r, "thread %u op %zu: mark index", t, pos[t]);
                        goto out;
                    }
                    r->n_mark++;
                    moved = 1;
                    continue;
                }
                if (o->obj >= s->obj_count) {
                    rc = replay_fail(r, "thread %u op %zu: object out of range", t, pos[t]);
                    goto out;
                }
                uint32_t id = o->obj;
                if (o->seq != next[id]) {
                    if (s->cross_thread && o->seq > next[id]) break; /* waits */
                    rc = replay_fail(r, "thread %u op %zu: obj %u seq %u, want %u", t, pos[t], id,
                                     o->seq, next[id]);
                    goto out;
                }
                if (!s->cross_thread && next[id] > 0 && owner[id] != (int)t) {
                    rc = replay_fail(r, "thread %u op %zu: obj %u of thread %d", t, pos[t], id,
                                     owner[id]);
                    goto out;
                }
                switch (o->kind) {
                case OP_ALLOC:
                case OP_CALLOC:
                    if (size[id] != 0) {
                        rc = replay_fail(r, "thread %u op %zu: alloc of live obj %u", t, pos[t],
                                         id);
                        goto out;
                    }
                    if (o->size == 0 || o->align_shift > WL_MAX_ALIGN_SHIFT
                        || (o->kind == OP_CALLOC && o->align_shift != 0)) {
                        rc = replay_fail(r, "thread %u op %zu: size/alignment", t, pos[t]);
                        goto out;
                    }
                    size[id] = o->size;
                    owner[id] = (int)t;
                    r->n_alloc++;
                    r->bytes_requested += o->size;
                    r->live_bytes += o->size;
                    r->live_objects++;
                    if (o->size >= 16 && o->size <= 96) r->alloc_16_96++;
                    break;
                case OP_FREE:
                    if (size[id] == 0) {
                        rc = replay_fail(r, "thread %u op %zu: free of dead obj %u", t, pos[t], id);
                        goto out;
                    }
                    if (owner[id] != (int)t) r->frees_cross++;
                    r->live_bytes -= size[id];
                    r->live_objects--;
                    size[id] = 0;
                    r->n_free++;
                    break;
                case OP_REALLOC:
                    if (size[id] == 0 || o->size == 0) {
                        rc = replay_fail(r, "thread %u op %zu: realloc of dead obj %u or to 0", t,
                                         pos[t], id);
                        goto out;
                    }
                    r->live_bytes = r->live_bytes - size[id] + o->size;
                    size[id] = o->size;
                    owner[id] = (int)t;
                    r->n_realloc++;
                    r->bytes_requested += o->size;
                    break;
                default:
                    rc = replay_fail(r, "thread %u op %zu: kind %u", t, pos[t], o->kind);
                    goto out;
                }
                next[id]++;
                moved = 1;
            }
            if (pos[t] < s->th[t].n) waiting = 1;
        }
        if (!waiting) break;
        if (!moved) {
            rc = replay_fail(r, "deadlock: every unfinished thread waits");
            goto out;
        }
    }
out:
    free(size);
    free(next);
    free(owner);
    return rc;
}

/* Peak live bytes as recomputed by shadow_peak(). */
struct peaks {
    uint64_t peak;       /* over all threads at once, on the schedule below */
    uint64_t thread_max; /* the largest per-thread peak (per-thread instances only) */
    uint64_t thread_sum; /* the sum of the per-thread peaks (per-thread instances only) */
    char why[160];
};

struct peak_shadow {
    const struct opstream *s;
    uint64_t *size; /* per object: live size, 0 = not live */
    uint32_t *next; /* per object: ops done */
    size_t pos[WL_MAX_THREADS];
    uint64_t live, thread_live[WL_MAX_THREADS], thread_peak[WL_MAX_THREADS];
};

/* Run thread t's next op on the shadow; it must be ready (its seq). 0, or -1. */
static int peak_step(struct peak_shadow *sh, unsigned t, struct peaks *p)
{
    const struct op_seq *q = &sh->s->th[t];
    if (sh->pos[t] >= q->n) {
        snprintf(p->why, sizeof p->why, "thread %u has no op %zu", t, sh->pos[t]);
        return -1;
    }
    const struct op *o = &q->ops[sh->pos[t]++];
    if (o->kind == OP_MARK) return 0;
    if (o->obj >= sh->s->obj_count || o->seq != sh->next[o->obj]) {
        snprintf(p->why, sizeof p->why, "thread %u op %zu: obj %u not ready (seq %u)", t,
                 sh->pos[t] - 1, o->obj, o->seq);
        return -1;
    }
    sh->next[o->obj]++;
    uint64_t old = sh->size[o->obj], now = o->kind == OP_FREE ? 0 : o->size;
    sh->size[o->obj] = now;
    sh->live = sh->live - old + now;
    sh->thread_live[t] = sh->thread_live[t] - old + now;
    if (sh->live > p->peak) p->peak = sh->live;
    if (sh->thread_live[t] > sh->thread_peak[t]) sh->thread_peak[t] = sh->thread_live[t];
    return 0;
}

/*
 * Recompute the peak live bytes of `s` as workload.h defines them: over the emission order
 * (s->order) for a cross-thread stream of several threads, over lockstep (op k of every
 * thread, thread 0 first, before op k+1 of any) for per-thread instances. Every op must be
 * ready when its turn comes, and every op must run. 0, or -1 with p->why.
 */
static int shadow_peak(const struct opstream *s, struct peaks *p)
{
    memset(p, 0, sizeof *p);
    size_t n = s->obj_count ? s->obj_count : 1;
    struct peak_shadow sh = { .s = s };
    sh.size = calloc(n, sizeof *sh.size);
    sh.next = calloc(n, sizeof *sh.next);
    int rc = 0;
    if (!sh.size || !sh.next) {
        snprintf(p->why, sizeof p->why, "out of memory");
        rc = -1;
        goto out;
    }
    if (s->cross_thread && s->threads > 1) {
        for (size_t i = 0; i < s->order_n && rc == 0; i++)
            rc = s->order[i] < s->threads ? peak_step(&sh, s->order[i], p) : -1;
    } else {
        size_t rounds = 0;
        for (unsigned t = 0; t < s->threads; t++)
            if (s->th[t].n > rounds) rounds = s->th[t].n;
        for (size_t k = 0; k < rounds && rc == 0; k++)
            for (unsigned t = 0; t < s->threads && rc == 0; t++)
                if (k < s->th[t].n) rc = peak_step(&sh, t, p);
    }
    for (unsigned t = 0; t < s->threads && rc == 0; t++) {
        if (sh.pos[t] != s->th[t].n) {
            snprintf(p->why, sizeof p->why, "thread %u: %zu of %zu ops scheduled", t, sh.pos[t],
                     s->th[t].n);
            rc = -1;
        }
        if (sh.thread_peak[t] > p->thread_max) p->thread_max = sh.thread_peak[t];
        p->thread_sum += sh.thread_peak[t];
    }
out:
    free(sh.size);
    free(sh.next);
    return rc;
}

static int build(const struct workload *w, unsigned threads, uint64_t seed, uint64_t ops,
                 struct opstream *s)
{
    struct wl_params p = { .seed = seed, .ops = ops, .threads = threads };
    struct diag d = { { 0 } };
    int rc = workload_build(w, &p, s, &d);
    if (rc != 0) fprintf(stderr, "build %s at %u threads: %s\n", w->name, threads, d.msg);
    return rc;
}

static int same_ops(const struct op_seq *a, const struct op_seq *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->ops, b->ops, a->n * sizeof(struct op)) == 0);
}

static int same_stream(const struct opstream *a, const struct opstream *b)
{
    if (a->threads != b->threads || a->obj_count != b->obj_count) return 0;
    for (unsigned t = 0; t < a->threads; t++)
        if (!same_ops(&a->th[t], &b->th[t])) return 0;
    return 1;
}

/* ------------------------------------------------------------------------------------- */

static void test_workloads_registry_names_are_unique_and_found(void)
{
    CHECK_EQ_U64(workload_count, 26);
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        CHECK_WL(workload_find(w->name) == w, w, 0);
        CHECK_WL(w->generate != NULL && w->default_ops > 0, w, 0);
        CHECK_WL(w->min_threads == 1 || w->min_threads == 2, w, 0);
        CHECK_WL(strcmp(w->category, "size") == 0 || strcmp(w->category, "app") == 0
                         || strcmp(w->category, "micro") == 0
                         || strcmp(w->category, "threads") == 0,
                 w, 0);
        CHECK_WL(w->shape == WL_PER_THREAD || w->shape == WL_SHARED, w, 0);
    }
    CHECK(workload_find("no-such-workload") == NULL);
}

/*
 * For every workload at 1, 2 and 3 threads: the build succeeds, both validators accept the
 * stream, the shadow's totals equal the builder's, and the op count is within 10% of
 * threads * ops (no workload needs an exception).
 */
static void test_workloads_every_stream_valid_and_totals_match(void)
{
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        for (unsigned threads = 1; threads <= 3; threads++) {
            if (threads < w->min_threads) continue;
            struct opstream s;
            if (build(w, threads, TEST_SEED, TEST_OPS, &s) != 0) {
                CHECK_WL(!"workload_build failed", w, threads);
                continue;
            }
            struct diag d = { { 0 } };
            int vrc = opstream_validate(&s, &d);
            if (vrc != 0) fprintf(stderr, "opstream_validate: %s\n", d.msg);
            CHECK_WL(vrc == 0, w, threads);
            struct replay r;
            int rrc = shadow_replay(&s, &r);
            if (rrc != 0) fprintf(stderr, "shadow replay: %s\n", r.why);
            CHECK_WL(rrc == 0, w, threads);
            CHECK_WL(s.cross_thread == (w->shape == WL_SHARED), w, threads);
            CHECK_WL(r.n_alloc == s.n_alloc, w, threads);
            CHECK_WL(r.n_free == s.n_free, w, threads);
            CHECK_WL(r.n_realloc == s.n_realloc, w, threads);
            CHECK_WL(r.bytes_requested == s.bytes_requested, w, threads);
            CHECK_WL(r.live_bytes == s.live_bytes, w, threads);
            CHECK_WL(r.n_alloc + r.n_free + r.n_realloc + r.n_mark == opstream_ops(&s), w, threads);
            /* Peak live: the shadow's, on the schedule workload.h names (emission order for
             * cross-thread streams, lockstep for per-thread instances). */
            struct peaks pk;
            int prc = shadow_peak(&s, &pk);
            if (prc != 0) fprintf(stderr, "peak shadow: %s\n", pk.why);
            CHECK_WL(prc == 0, w, threads);
            if (pk.peak != opstream_peak_live(&s))
                fprintf(stderr, "%s at %u threads: peak live %llu, shadow %llu\n", w->name, threads,
                        (unsigned long long)opstream_peak_live(&s), (unsigned long long)pk.peak);
            CHECK_WL(pk.peak == opstream_peak_live(&s), w, threads);
            if (!s.cross_thread)
                CHECK_WL(pk.thread_max <= pk.peak && pk.peak <= pk.thread_sum, w, threads);
            if (s.cross_thread && threads > 1) CHECK_WL(s.order_n == opstream_ops(&s), w, threads);
            uint64_t want = (uint64_t)threads * TEST_OPS, got = opstream_ops(&s);
            if (got * 10 < want * 9 || got * 10 > want * 11)
                fprintf(stderr, "%s: %llu ops, want about %llu\n", w->name, (unsigned long long)got,
                        (unsigned long long)want);
            CHECK_WL(got * 10 >= want * 9 && got * 10 <= want * 11, w, threads);
            /* Most objects are freed by the end (redis-cache and fragmentation keep some). */
            CHECK_WL(r.n_free * 4 >= r.n_alloc, w, threads);
            opstream_destroy(&s);
        }
    }
}

static void test_workloads_same_seed_same_stream_other_seed_differs(void)
{
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        unsigned threads = 2;
        struct opstream a, b, c;
        if (build(w, threads, TEST_SEED, TEST_OPS, &a) != 0) {
            CHECK_WL(!"workload_build failed", w, threads);
            continue;
        }
        if (build(w, threads, TEST_SEED, TEST_OPS, &b) == 0) {
            CHECK_WL(same_stream(&a, &b), w, threads);
            opstream_destroy(&b);
        } else {
            CHECK_WL(!"second build failed", w, threads);
        }
        if (build(w, threads, TEST_SEED + 1, TEST_OPS, &c) == 0) {
            CHECK_WL(!same_stream(&a, &c), w, threads);
            /* Per-thread instances: every thread's ops depend on the seed. */
            for (unsigned t = 0; t < threads && w->shape == WL_PER_THREAD; t++)
                CHECK_WL(!same_ops(&a.th[t], &c.th[t]), w, threads);
            opstream_destroy(&c);
        } else {
            CHECK_WL(!"build with another seed failed", w, threads);
        }
        opstream_destroy(&a);
    }
}

static void test_workloads_per_thread_thread0_same_at_any_thread_count(void)
{
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        if (w->shape != WL_PER_THREAD) continue;
        struct opstream one, two;
        REQUIRE(build(w, 1, TEST_SEED, TEST_OPS, &one) == 0);
        REQUIRE(build(w, 2, TEST_SEED, TEST_OPS, &two) == 0);
        CHECK_WL(same_ops(&one.th[0], &two.th[0]), w, 2);
        /* And the two threads of one run are different instances. */
        CHECK_WL(!same_ops(&two.th[0], &two.th[1]), w, 2);
        opstream_destroy(&one);
        opstream_destroy(&two);
    }
}

/*
 * known-live: N page-aligned 4096 B blocks, "filled", the odd ones freed (each once, in an
 * order the seed draws), "holes"; the even ones stay live to the end.
 */
static void test_workloads_known_live_frees_the_odd_blocks(void)
{
    const struct workload *w = workload_find("known-live");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, 3002, &s) == 0);
    const struct op_seq *q = &s.th[0];
    uint32_t allocs = 0, frees = 0, marks = 0, in_order = 1, last = 0;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_MARK) {
            CHECK(strcmp(s.mark_names[o->size], marks == 0 ? "filled" : "holes") == 0);
            CHECK(marks == 0 ? frees == 0 : allocs == 2000);
            marks++;
        } else if (o->kind == OP_ALLOC) {
            CHECK(marks == 0 && o->size == 4096 && o->align_shift == 12);
            allocs++;
        } else {
            REQUIRE(o->kind == OP_FREE && marks == 1);
            uint32_t pos = o->obj - q->ops[0].obj; /* position in the fill */
            CHECK(pos % 2 == 1);
            if (frees++ && pos < last) in_order = 0;
            last = pos;
        }
    }
    CHECK_EQ_U64(allocs, 2000);
    CHECK_EQ_U64(frees, 1000);
    CHECK_EQ_U64(marks, 2);
    CHECK(!in_order); /* shuffled by the seed */
    CHECK_EQ_U64(s.live_bytes, 1000 * 4096);
    opstream_destroy(&s);
}

/*
 * fragmentation: five marks in order; the holes are every other fill object; the refill's
 * bands are smaller than half the smallest hole, equal to the holes one by one, and larger
 * than the largest, a third of the holes each (the last band takes the rest); the first two
 * bands need under half of the hole bytes.
 */
static void test_workloads_fragmentation_refill_bands_fit_their_holes(void)
{
    const struct workload *w = workload_find("fragmentation");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, TEST_OPS, &s) == 0);
    const char *want[] = { "filled", "holes", "refill-smaller", "refill-equal", "refill-larger" };
    uint64_t *size = calloc(s.obj_count, sizeof(*size));
    uint64_t *hole = calloc(s.obj_count, sizeof(*hole)); /* hole k's size, in free order */
    REQUIRE(size != NULL && hole != NULL);
    unsigned phase = 0; /* marks seen */
    uint64_t fills = 0, holes = 0, hole_min = UINT64_MAX, hole_max = 0, hole_bytes = 0;
    uint64_t band[3] = { 0 }, band_bytes[3] = { 0 }, other = 0;
    uint64_t smaller_max = 0, equal_misses = 0, larger_min = UINT64_MAX;
    const struct op_seq *q = &s.th[0];
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_MARK) {
            REQUIRE(phase < 5);
            CHECK(strcmp(s.mark_names[o->size], want[phase]) == 0);
            phase++;
            continue;
        }
        if (phase == 0 && o->kind == OP_ALLOC) {
            /* Every other fill object (odd positions) becomes a hole. */
            if (fills++ % 2 == 1) size[o->obj] = o->size;
        } else if (phase == 1 && o->kind == OP_FREE && size[o->obj] != 0) {
            uint64_t h = size[o->obj];
            hole[holes++] = h;
            hole_bytes += h;
            hole_min = h < hole_min ? h : hole_min;
            hole_max = h > hole_max ? h : hole_max;
        } else if (phase >= 2 && o->kind == OP_ALLOC) {
            unsigned b = phase - 2;
            if (b == 0) smaller_max = o->size > smaller_max ? o->size : smaller_max;
            if (b == 1) equal_misses += o->size != hole[band[1]];
            if (b == 2) larger_min = o->size < larger_min ? o->size : larger_min;
            band[b]++;
            band_bytes[b] += o->size;
        } else {
            other++;
        }
    }
    CHECK_EQ_U64(phase, 5);
    CHECK_EQ_U64(other, 0);
    CHECK(holes > 1000 && holes == fills / 2);
    CHECK_EQ_U64(band[0], holes / 3);
    CHECK_EQ_U64(band[1], holes / 3);
    CHECK_EQ_U64(band[0] + band[1] + band[2], holes);
    CHECK(smaller_max * 2 <= hole_min);
    CHECK_EQ_U64(equal_misses, 0);
    CHECK(larger_min > hole_max);
    CHECK((band_bytes[0] + band_bytes[1]) * 2 < hole_bytes);
    /* The last op is the "refill-larger" mark. */
    CHECK(q->n > 0 && q->ops[q->n - 1].kind == OP_MARK);
    free(size);
    free(hole);
    opstream_destroy(&s);
}

/*
 * Two per-thread instances whose peaks come at different times: thread 0 peaks at 100 B in
 * round 0, thread 1 at 100 B in round 2. In lockstep the most live at once is 110 B (round 0:
 * 100 + 10; round 2: 10 + 100), not the 200 B of adding the peaks, nor the 100 B of the
 * emission order (thread 0's ops, then thread 1's).
 */
static void test_workloads_peak_live_per_thread_peaks_apart(void)
{
    struct opstream s;
    REQUIRE(opstream_init(&s, 2, 0, NULL) == 0);
    static const uint64_t sizes[2][2] = { { 100, 10 }, { 10, 100 } };
    for (unsigned t = 0; t < 2; t++) {
        for (unsigned i = 0; i < 2; i++) {
            uint32_t id = ops_alloc(&s, t, sizes[t][i], 0);
            ops_free(&s, t, id);
        }
    }
    REQUIRE(s.error == 0);
    CHECK_EQ_U64(opstream_peak_live(&s), 110);
    struct peaks pk;
    REQUIRE(shadow_peak(&s, &pk) == 0);
    CHECK_EQ_U64(pk.peak, 110);
    CHECK_EQ_U64(pk.thread_sum, 200);
    CHECK_EQ_U64(s.peak_live_bytes, 100);
    opstream_destroy(&s);
}

/*
 * A cross-thread stream: the peak is over the emission order, which the stream records.
 * live after each op: 100, 0, 50, 120, 50, 0.
 */
static void test_workloads_peak_live_cross_thread_emission_order(void)
{
    struct opstream s;
    REQUIRE(opstream_init(&s, 2, 1, NULL) == 0);
    uint32_t x = ops_reserve(&s, 3), y = x + 1, z = x + 2;
    ops_alloc_at(&s, 0, x, 100, 0);
    ops_free(&s, 1, x);
    ops_alloc_at(&s, 0, y, 50, 0);
    ops_alloc_at(&s, 1, z, 70, 0);
    ops_free(&s, 0, z);
    ops_free(&s, 1, y);
    REQUIRE(s.error == 0);
    static const uint8_t want[] = { 0, 1, 0, 1, 0, 1 };
    REQUIRE(s.order_n == sizeof want);
    CHECK(memcmp(s.order, want, sizeof want) == 0);
    CHECK_EQ_U64(opstream_peak_live(&s), 120);
    struct peaks pk;
    REQUIRE(shadow_peak(&s, &pk) == 0);
    CHECK_EQ_U64(pk.peak, 120);
    opstream_destroy(&s);
}

/* producer-consumer: every FREE runs on another thread than the object's ALLOC. */
static void test_workloads_producer_consumer_frees_on_other_thread(void)
{
    const struct workload *w = workload_find("producer-consumer");
    REQUIRE(w != NULL);
    for (unsigned threads = 2; threads <= 5; threads++) {
        struct opstream s;
        REQUIRE(build(w, threads, TEST_SEED, TEST_OPS, &s) == 0);
        struct replay r;
        CHECK_WL(shadow_replay(&s, &r) == 0, w, threads);
        CHECK_WL(r.n_free > 0 && r.frees_cross == r.n_free, w, threads);
        /* With an even thread count every thread emits about `ops` ops. */
        for (unsigned t = 0; t < threads && threads % 2 == 0; t++)
            CHECK_WL(s.th[t].n * 10 >= TEST_OPS * 9 && s.th[t].n * 10 <= TEST_OPS * 11, w, threads);
        /* Producers only allocate, consumers only free. */
        for (unsigned t = 0; t < threads; t++)
            for (size_t i = 0; i < s.th[t].n; i++)
                CHECK_WL((s.th[t].ops[i].kind == OP_ALLOC) == (t < threads / 2), w, threads);
        opstream_destroy(&s);
    }
}

/* shared-pool: threads share objects, and each thread emits about `ops` ops. */
static void test_workloads_shared_pool_shares_objects_evenly(void)
{
    const struct workload *w = workload_find("shared-pool");
    REQUIRE(w != NULL);
    unsigned threads = 4;
    struct opstream s;
    REQUIRE(build(w, threads, TEST_SEED, TEST_OPS, &s) == 0);
    struct replay r;
    CHECK(shadow_replay(&s, &r) == 0);
    /* A free lands on the allocating thread with probability 1/4. */
    CHECK(r.frees_cross * 10 > r.n_free * 6 && r.frees_cross * 10 < r.n_free * 9);
    for (unsigned t = 0; t < threads; t++)
        CHECK_WL(s.th[t].n * 10 >= TEST_OPS * 9 && s.th[t].n * 10 <= TEST_OPS * 11, w, threads);
    opstream_destroy(&s);
}

/* large-live: 32 blocks of 1-32 MiB live at once; each free is followed by the new block. */
static void test_workloads_large_live_replaces_multi_mib_blocks(void)
{
    const struct workload *w = workload_find("large-live");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, 800, &s) == 0);
    const struct op_seq *q = &s.th[0];
    uint32_t live = 0, peak = 0, replaced = 0;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_ALLOC) {
            CHECK(o->size >= (1u << 20) && o->size <= (32u << 20));
            if (++live > peak) peak = live;
        } else {
            REQUIRE(o->kind == OP_FREE);
            live--;
            if (i + 1 < q->n && q->ops[i + 1].kind == OP_ALLOC && q->ops[i + 1].obj == o->obj)
                replaced++;
        }
    }
    CHECK_EQ_U64(peak, 32);
    CHECK(replaced >= 300);
    CHECK(s.peak_live_bytes >= 64u << 20);
    opstream_destroy(&s);
}

/*
 * fifo-lifo: batches of n same-size 16-256 B blocks, n in 16..2048 (the last may be cut
 * short); the first n/2 freed in allocation order, then the rest newest first.
 */
static void test_workloads_fifo_lifo_frees_half_fifo_half_lifo(void)
{
    const struct workload *w = workload_find("fifo-lifo");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, TEST_OPS, &s) == 0);
    const struct op_seq *q = &s.th[0];
    uint32_t batches = 0, big = 0, small = 0;
    for (size_t i = 0; i < q->n && !check_cur_failed;) {
        size_t n = 0;
        uint32_t base = q->ops[i].obj;
        while (i + n < q->n && q->ops[i + n].kind == OP_ALLOC) {
            CHECK(q->ops[i + n].size == q->ops[i].size && q->ops[i + n].obj == base + n);
            n++;
        }
        REQUIRE(n > 0 && i + 2 * n <= q->n);
        CHECK(q->ops[i].size >= 16 && q->ops[i].size <= 256);
        CHECK(n <= 2048);
        for (size_t k = 0; k < n; k++) {
            const struct op *f = &q->ops[i + n + k];
            size_t want = k < n / 2 ? k : n - 1 - (k - n / 2);
            CHECK(f->kind == OP_FREE && f->obj == base + want);
        }
        batches++;
        big += n >= 1000;
        small += n < 100;
        i += 2 * n;
    }
    CHECK(batches >= 10 && big > 0 && small > 0);
    opstream_destroy(&s);
}

/*
 * realloc-grow: reallocs only grow a string, by 1-64 B or by doubling (or onto its final
 * length); both kinds occur, and finished strings are 256 B-64 KiB.
 */
static void test_workloads_realloc_grow_small_and_doubling_steps(void)
{
    const struct workload *w = workload_find("realloc-grow");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, TEST_OPS, &s) == 0);
    uint64_t *size = calloc(s.obj_count, sizeof(*size));
    REQUIRE(size != NULL);
    const struct op_seq *q = &s.th[0];
    uint64_t steps = 0, doubles = 0, finished = 0;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_ALLOC) {
            CHECK(o->size >= 8 && o->size <= 64);
        } else if (o->kind == OP_REALLOC) {
            uint64_t old = size[o->obj];
            CHECK(o->size > old);
            steps += o->size - old <= 64;
            doubles += o->size == 2 * old;
            CHECK(o->size - old <= 64 || o->size <= 2 * old);
        } else if (o->kind == OP_FREE && i + 1 < q->n && q->ops[i + 1].obj == o->obj) {
            CHECK(size[o->obj] >= 256 && size[o->obj] <= 65536); /* finished, restarted */
            finished++;
        }
        size[o->obj] = o->kind == OP_FREE ? 0 : o->size;
    }
    CHECK(s.n_realloc >= 9 * s.n_alloc); /* mostly reallocs */
    CHECK(steps * 10 > s.n_realloc * 5 && doubles > 100 && finished > 20);
    free(size);
    opstream_destroy(&s);
}

/* server: puts replace a slot's block with a 16 B-16 KiB one, freeing other threads' blocks. */
static void test_workloads_server_replaces_other_threads_blocks(void)
{
    const struct workload *w = workload_find("server");
    REQUIRE(w != NULL);
    unsigned threads = 4;
    struct opstream s;
    REQUIRE(build(w, threads, TEST_SEED, TEST_OPS, &s) == 0);
    struct replay r;
    REQUIRE(shadow_replay(&s, &r) == 0);
    CHECK(r.frees_cross * 10 > r.n_free * 6 && r.frees_cross * 10 < r.n_free * 9);
    uint64_t over_4k = 0, replaced = 0;
    for (unsigned t = 0; t < threads; t++) {
        const struct op_seq *q = &s.th[t];
        for (size_t i = 0; i < q->n; i++) {
            const struct op *o = &q->ops[i];
            if (o->kind == OP_ALLOC) {
                CHECK(o->size >= 16 && o->size <= 16384);
                over_4k += o->size > 4096;
            }
            if (o->kind == OP_FREE && i + 1 < q->n && q->ops[i + 1].kind == OP_ALLOC
                && q->ops[i + 1].obj == o->obj)
                replaced++;
        }
    }
    CHECK(over_4k * 10 > r.n_alloc * 2);
    CHECK(replaced * 10 > r.n_free * 7); /* a free is the first half of a put */
    opstream_destroy(&s);
}

static void test_workloads_python_repl_mostly_16_to_96_bytes(void)
{
    const struct workload *w = workload_find("python-repl");
    REQUIRE(w != NULL);
    struct opstream s;
    REQUIRE(build(w, 1, TEST_SEED, TEST_OPS, &s) == 0);
    struct replay r;
    REQUIRE(shadow_replay(&s, &r) == 0);
    REQUIRE(r.n_alloc > 0);
    CHECK(r.alloc_16_96 * 100 >= r.n_alloc * 85);
    opstream_destroy(&s);
}

/* ------------------------------------------------------------------------------------- */
/* Hand-built streams: opstream_validate() and the shadow must both reject the bad ones.  */

#define HAND_CAP 16

static void hand_init(struct opstream *s, unsigned threads, int cross_thread, uint32_t objs)
{
    opstream_init(s, threads, cross_thread, NULL);
    s->obj_count = objs;
    for (unsigned t = 0; t < threads; t++) {
        s->th[t].ops = osmem_alloc(HAND_CAP * sizeof(struct op));
        s->th[t].cap = s->th[t].ops ? HAND_CAP : 0;
    }
}

static void hand_op(struct opstream *s, unsigned t, enum op_kind kind, uint32_t obj, uint32_t seq,
                    uint64_t size)
{
    struct op_seq *q = &s->th[t];
    if (q->n == q->cap) return;
    q->ops[q->n++] = (struct op){
        .size = size, .obj = obj, .seq = seq, .kind = (uint8_t)kind, .thread = (uint16_t)t
    };
}

/* 0 when both checkers accept `s`, 1 when both reject it, -1 when they disagree. */
static int hand_verdict(struct opstream *s)
{
    struct diag d = { { 0 } };
    struct replay r;
    int v = opstream_validate(s, &d) != 0;
    int sh = shadow_replay(s, &r) != 0;
    opstream_destroy(s);
    return v == sh ? v : -1;
}

static void test_workloads_validate_rejects_hand_built_bad_streams(void)
{
    struct opstream s;

    /* Control: alloc, realloc, free on one thread is valid. */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 64);
    hand_op(&s, 0, OP_REALLOC, 0, 1, 128);
    hand_op(&s, 0, OP_FREE, 0, 2, 0);
    CHECK(hand_verdict(&s) == 0);

    /* Control: a cross-thread free listed before its alloc's thread is valid (it waits). */
    hand_init(&s, 2, 1, 1);
    hand_op(&s, 0, OP_FREE, 0, 1, 0);
    hand_op(&s, 1, OP_ALLOC, 0, 0, 64);
    CHECK(hand_verdict(&s) == 0);

    /* Double free (I2). */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 64);
    hand_op(&s, 0, OP_FREE, 0, 1, 0);
    hand_op(&s, 0, OP_FREE, 0, 2, 0);
    CHECK(hand_verdict(&s) == 1);

    /* Free of an object never allocated (I2). */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_FREE, 0, 0, 0);
    CHECK(hand_verdict(&s) == 1);

    /* Allocation of a live object (I1). */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 64);
    hand_op(&s, 0, OP_ALLOC, 0, 1, 64);
    CHECK(hand_verdict(&s) == 1);

    /* Seq out of order on one thread (I3). */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 64);
    hand_op(&s, 0, OP_FREE, 0, 2, 0);
    CHECK(hand_verdict(&s) == 1);

    /* Two threads wait on each other: deadlock. */
    hand_init(&s, 2, 1, 2);
    hand_op(&s, 0, OP_FREE, 0, 1, 0);
    hand_op(&s, 0, OP_ALLOC, 1, 0, 64);
    hand_op(&s, 1, OP_FREE, 1, 1, 0);
    hand_op(&s, 1, OP_ALLOC, 0, 0, 64);
    CHECK(hand_verdict(&s) == 1);

    /* An object changing threads in a stream without cross_thread (I4). */
    hand_init(&s, 2, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 64);
    hand_op(&s, 1, OP_FREE, 0, 1, 0);
    CHECK(hand_verdict(&s) == 1);

    /* Size 0 (I6). */
    hand_init(&s, 1, 0, 1);
    hand_op(&s, 0, OP_ALLOC, 0, 0, 0);
    CHECK(hand_verdict(&s) == 1);
}

int main(void)
{
    printf("seed %d, %d ops per thread\n", TEST_SEED, TEST_OPS);
    RUN_TEST(test_workloads_registry_names_are_unique_and_found);
    RUN_TEST(test_workloads_every_stream_valid_and_totals_match);
    RUN_TEST(test_workloads_same_seed_same_stream_other_seed_differs);
    RUN_TEST(test_workloads_per_thread_thread0_same_at_any_thread_count);
    RUN_TEST(test_workloads_fragmentation_refill_bands_fit_their_holes);
    RUN_TEST(test_workloads_known_live_frees_the_odd_blocks);
    RUN_TEST(test_workloads_large_live_replaces_multi_mib_blocks);
    RUN_TEST(test_workloads_fifo_lifo_frees_half_fifo_half_lifo);
    RUN_TEST(test_workloads_realloc_grow_small_and_doubling_steps);
    RUN_TEST(test_workloads_server_replaces_other_threads_blocks);
    RUN_TEST(test_workloads_peak_live_per_thread_peaks_apart);
    RUN_TEST(test_workloads_peak_live_cross_thread_emission_order);
    RUN_TEST(test_workloads_producer_consumer_frees_on_other_thread);
    RUN_TEST(test_workloads_shared_pool_shares_objects_evenly);
    RUN_TEST(test_workloads_python_repl_mostly_16_to_96_bytes);
    RUN_TEST(test_workloads_validate_rejects_hand_built_bad_streams);
    return check_report();
}
