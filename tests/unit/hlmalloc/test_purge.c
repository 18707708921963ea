/*
 * tests/unit/hlmalloc/test_purge.c: freed memory goes back to the OS after the purge delay,
 * counted from each slice's own free (docs/hlmalloc.md). Two large blocks are freed half
 * a delay apart; mincore(2) watches their pages. The first must stay resident for the
 * whole delay and then go; the second must still be resident when the first goes (a
 * per-segment deadline would purge it early), and go one delay after its own free.
 *
 * The delay is HLMALLOC_PURGE_DELAY (ms; CTest sets 1000 so the windows are wide on a
 * noisy machine) or the library's default of 400. hlmalloc's background purger does the
 * work: the test makes no allocator call while it waits. The second test: a large block
 * that takes fresh slices makes the heap purge as many resident free ones at once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"
#include "unit/hlmalloc/resident.h"

#define MiB   ((size_t)1 << 20)
#define BLOCK (4 * MiB) /* a large block: segment slices, not a huge mapping */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = { .tv_sec = (time_t)(ms / 1e3),
                           .tv_nsec = (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };
    nanosleep(&ts, NULL);
}

/* Wait (polling every 10 ms, up to `limit` ms) until at most 1/16 of the block is resident;
 * returns the time it happened, or -1. */
static double wait_purged(const void *p, double limit)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), all = BLOCK / page;
    double start = now_ms();
    while (now_ms() - start < limit) {
        size_t r = resident_pages(p, BLOCK);
        if (r != SIZE_MAX && r <= all / 16) return now_ms();
        sleep_ms(10);
    }
    return -1;
}

static void test_purge_each_slice_waits_its_own_delay(void)
{
    SKIP_IF(HL_TEST_LIBC, "the purge delay is hlmalloc's");
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    double delay = env ? atof(env) : 400;
    SKIP_IF(delay < 200, "needs a purge delay of at least 200 ms");
    size_t page = (size_t)sysconf(_SC_PAGESIZE), all = BLOCK / page;

    hl_collect(); /* nothing else pending */
    unsigned char *a = hl_malloc(BLOCK), *b = hl_malloc(BLOCK);
    REQUIRE(a != NULL && b != NULL);
    memset(a, 0xa5, BLOCK);
    memset(b, 0x5a, BLOCK);
    REQUIRE(resident_pages(a, BLOCK) == all && resident_pages(b, BLOCK) == all);

    double t_a = now_ms();
    hl_free(a);
    sleep_ms(delay / 2);
    double t_b = now_ms();
    hl_free(b);

    double gone_a = wait_purged(a, 3 * delay + 1000);
    CHECK(gone_a > 0);
    if (gone_a <= 0) {
        hl_collect();
        return;
    }
    size_t b_left = resident_pages(b, BLOCK);
    if (gone_a - t_a < delay - 5 || b_left != all) {
        fprintf(stderr,
                "  delay %.0f ms: first block purged %.0f ms after its free; the second, freed "
                "%.0f ms later, had %zu of %zu pages resident then\n",
                delay, gone_a - t_a, t_b - t_a, b_left, all);
        CHECK(gone_a - t_a >= delay - 5); /* not before its delay */
        CHECK(b_left == all);             /* the second block waits its own delay */
    }

    double gone_b = wait_purged(b, 3 * delay + 1000);
    CHECK(gone_b > 0);
    if (gone_b > 0 && (gone_b - t_b < delay - 5 || gone_b - t_b > 2 * delay + 1000)) {
        fprintf(stderr, "  second block purged %.0f ms after its free (delay %.0f ms)\n",
                gone_b - t_b, delay);
        CHECK(0);
    }
}

/*
 * A large block that must fault fresh slices in while freed ones sit resident, too
 * scattered to hold it, makes the heap give back as many of those at once: the heap grows
 * in RSS only once its slack is gone (docs/hlmalloc.md, "Growth gives back slack").
 * Eight 512 KiB blocks, each followed by a live 192 KiB one, are freed: 4 MiB resident in
 * runs of 512 KiB. A 2 MiB block fits in none of them; half of the 4 MiB must go. They
 * are young (freed just now), so they go as short runs: the test relies on runs of 8
 * slices (512 KiB) counting as short (segment.c, HL_GROWTH_SHORT_RUN).
 */
static void test_growth_gives_back_scattered_free_slices(void)
{
    SKIP_IF(HL_TEST_LIBC, "the purge policy is hlmalloc's");
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    SKIP_IF((env ? atof(env) : 400) < 200, "needs a purge delay of at least 200 ms");
    enum { ROUNDS = 8 };
    const size_t small = 512 * 1024, keep = 192 * 1024, big = 2 * MiB;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *freed[ROUNDS], *live[ROUNDS];

    hl_collect(); /* no resident free slices from before */
    for (int i = 0; i < ROUNDS; i++) {
        freed[i] = hl_malloc(small);
        live[i] = hl_malloc(keep);
        REQUIRE(freed[i] != NULL && live[i] != NULL);
        memset(freed[i], 0x11, small);
        memset(live[i], 0x22, keep);
    }
    for (int i = 0; i < ROUNDS; i++)
        hl_free(freed[i]);
    size_t before = 0, after = 0;
    for (int i = 0; i < ROUNDS; i++)
        before += resident_pages(freed[i], small);
    unsigned char *b = hl_malloc(big);
    REQUIRE(b != NULL);
    memset(b, 0x33, big);
    for (int i = 0; i < ROUNDS; i++)
        after += resident_pages(freed[i], small);
    size_t want = (ROUNDS * small - big) / page;
    if (before != ROUNDS * small / page || after > want) {
        fprintf(stderr,
                "  freed blocks: %zu pages resident before the 2 MiB block, %zu after "
                "(at most %zu expected)\n",
                before, after, want);
        CHECK(before == ROUNDS * small / page);
        CHECK(after <= want);
    }
    for (int i = 0; i < ROUNDS; i++) { /* nothing live was purged: every byte kept */
        size_t bad = 0;
        for (size_t k = 0; k < keep; k++)
            bad += live[i][k] != 0x22;
        CHECK(bad == 0);
    }
    hl_free(b);
    for (int i = 0; i < ROUNDS; i++)
        hl_free(live[i]);
    hl_collect();
}

/*
 * The same rule keeps what a program is about to reuse: a long dirty run freed just now
 * stays, while one freed `gap_ms` earlier goes (the passes by age). Two 1 MiB blocks
 * between live ones are freed, the first gap_ms before the second; then a 2 MiB block,
 * which fits in neither, takes fresh slices. *timed: false when the timing was off and
 * nothing was checked.
 */
static void growth_old_goes_young_stays(double gap_ms, bool *timed)
{
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    double delay = env ? atof(env) : 400;
    const size_t run = 1 * MiB, keep = 192 * 1024, big = 2 * MiB;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), all = run / page;

    hl_collect();
    unsigned char *old = hl_malloc(run), *g1 = hl_malloc(keep);
    unsigned char *young = hl_malloc(run), *g2 = hl_malloc(keep);
    REQUIRE(old && g1 && young && g2);
    memset(old, 1, run);
    memset(g1, 2, keep);
    memset(young, 3, run);
    memset(g2, 4, keep);
    double t_old = now_ms();
    hl_free(old);
    sleep_ms(gap_ms);
    double t_young = now_ms();
    hl_free(young);
    unsigned char *b = hl_malloc(big);
    REQUIRE(b != NULL);
    double t_big = now_ms();
    memset(b, 5, big);
    size_t old_left = resident_pages(old, run), young_left = resident_pages(young, run);
    /* The purger must not have reached the old run, nor the young one turned 10 ms old. */
    *timed = t_big - t_old < delay - 50 && t_big - t_young < 5;
    if (*timed && (old_left > all / 16 || young_left != all)) {
        fprintf(stderr,
                "  old run freed %.0f ms before the young one (delay %.0f): %zu of %zu "
                "pages resident (0 expected), the young one %zu (all expected)\n",
                t_young - t_old, delay, old_left, all, young_left);
        CHECK(old_left <= all / 16);
        CHECK(young_left == all);
    }
    hl_free(b);
    hl_free(g1);
    hl_free(g2);
    hl_collect();
}

/* A run freed a quarter of the purge delay before the growth goes, a young one stays. */
static void test_growth_keeps_young_long_runs(void)
{
    SKIP_IF(HL_TEST_LIBC, "the purge policy is hlmalloc's");
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    double delay = env ? atof(env) : 400;
    SKIP_IF(delay < 200, "needs a purge delay of at least 200 ms");
    bool timed = false;
    growth_old_goes_young_stays(delay / 4, &timed);
    SKIP_IF(!timed && check_cur_failed == 0, "the timing was off");
}

/* So does a run freed 30 ms before: past HL_GROWTH_MIN_AGE (10 ms), though well under an
 * eighth of the delay, where the passes by age stopped before (segment.c). */
static void test_growth_gives_back_runs_past_min_age(void)
{
    SKIP_IF(HL_TEST_LIBC, "the purge policy is hlmalloc's");
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    SKIP_IF((env ? atof(env) : 400) < 200, "needs a purge delay of at least 200 ms");
    bool timed = false;
    growth_old_goes_young_stays(30, &timed);
    SKIP_IF(!timed && check_cur_failed == 0, "the timing was off");
}

/* Pages of [p, p + n) still resident; 0 when the range is no longer mapped. */
static size_t resident_or_zero(const void *p, size_t n)
{
    size_t r = resident_pages(p, n);
    return r == SIZE_MAX ? 0 : r;
}

/*
 * A huge block that no cached one fits is mapped anew only after as many cached bytes idle
 * for 10 ms are unmapped (huge.c, offset_fresh): a 24 MiB block, freed 30 ms before and
 * cached, must be gone once a 48 MiB block is taken. Before, it stayed for the purge delay,
 * and a program replacing big blocks with other sizes held up to 256 MiB of them on top of
 * its live set.
 */
static void test_huge_miss_gives_back_cached_blocks(void)
{
    SKIP_IF(HL_TEST_LIBC, "the huge cache is hlmalloc's");
    hl_collect(); /* an empty cache */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 24 * MiB;
    unsigned char *a = hl_malloc(n);
    REQUIRE(a != NULL);
    memset(a, 0x44, n);
    hl_free(a);
    sleep_ms(30);
    size_t cached = resident_or_zero(a, n);
    unsigned char *b = hl_malloc(48 * MiB);
    REQUIRE(b != NULL);
    size_t left = b == a ? 0 : resident_or_zero(a, n); /* untouched b: nothing resident */
    if (cached != n / page || left != 0) {
        fprintf(stderr,
                "  freed 24 MiB block: %zu pages resident in the cache (%zu expected), "
                "%zu after a 48 MiB miss (0 expected)\n",
                cached, n / page, left);
        CHECK(cached == n / page);
        CHECK(left == 0);
    }
    hl_free(b);
    hl_collect();
}

/*
 * A cached mapping reused for a smaller block (by up to a quarter) gives back the pages past
 * the block's end: 24 MiB freed, 20 MiB taken from it, the last 4 MiB no longer resident.
 */
static void test_huge_reuse_gives_back_the_tail(void)
{
    SKIP_IF(HL_TEST_LIBC, "the huge cache is hlmalloc's");
    hl_collect();
    size_t n = 24 * MiB, m = 20 * MiB;
    unsigned char *a = hl_malloc(n);
    REQUIRE(a != NULL);
    memset(a, 0x55, n);
    hl_free(a);
    unsigned char *b = hl_malloc(m);
    REQUIRE(b != NULL);
    if (b == a) {
        size_t tail = resident_or_zero(a + m + 64 * 1024, n - m - 64 * 1024);
        if (tail != 0) fprintf(stderr, "  %zu tail pages resident (0 expected)\n", tail);
        CHECK(tail == 0);
    } else {
        fprintf(stderr, "  the cached block was not reused (%p, %p)\n", (void *)a, (void *)b);
        CHECK(b == a);
    }
    hl_free(b);
    hl_collect();
}

/*
 * A huge block mapped anew also offsets the heap's resident free slices, as a large block's
 * fresh slices do: an 8 MiB large block freed 30 ms before (past the 10 ms minimum age)
 * must be purged when a 40 MiB huge block is taken with the cache empty.
 */
static void test_huge_miss_gives_back_free_slices(void)
{
    SKIP_IF(HL_TEST_LIBC, "the purge policy is hlmalloc's");
    const char *env = getenv("HLMALLOC_PURGE_DELAY");
    SKIP_IF((env ? atof(env) : 400) < 200, "needs a purge delay of at least 200 ms");
    hl_collect();
    size_t n = 8 * MiB;
    unsigned char *x = hl_malloc(n), *pin = hl_malloc(MiB);
    REQUIRE(x != NULL && pin != NULL);
    memset(x, 0x66, n);
    memset(pin, 0x77, MiB);
    hl_free(x);
    sleep_ms(30);
    size_t before = resident_or_zero(x, n);
    unsigned char *h = hl_malloc(40 * MiB);
    REQUIRE(h != NULL);
    size_t after = resident_or_zero(x, n);
    if (before == 0 || after != 0) {
        fprintf(stderr,
                "  freed 8 MiB large block: %zu pages resident, %zu after a 40 MiB "
                "huge block (0 expected)\n",
                before, after);
        CHECK(before != 0);
        CHECK(after == 0);
    }
    hl_free(h);
    hl_free(pin);
    hl_collect();
}

/* hl_stats' dirty_bytes: freed slices waiting for the delay, none once hl_collect ran. */
static void test_stats_count_dirty_bytes(void)
{
    SKIP_IF(HL_TEST_LIBC, "hl_stats is hlmalloc's");
    struct hl_stats before, freed, after;
    hl_collect();
    hl_stats(&before);
    unsigned char *p = hl_malloc(BLOCK);
    REQUIRE(p != NULL);
    memset(p, 7, BLOCK);
    hl_free(p);
    hl_stats(&freed);
    hl_collect();
    hl_stats(&after);
    if (before.dirty_bytes != 0 || freed.dirty_bytes < BLOCK
        || freed.dirty_bytes > freed.resident_bytes || after.dirty_bytes != 0) {
        fprintf(stderr,
                "  dirty bytes %llu, %llu after a 4 MiB free (resident %llu), %llu "
                "after hl_collect\n",
                (unsigned long long)before.dirty_bytes, (unsigned long long)freed.dirty_bytes,
                (unsigned long long)freed.resident_bytes, (unsigned long long)after.dirty_bytes);
        CHECK(before.dirty_bytes == 0);
        CHECK(freed.dirty_bytes >= BLOCK);
        CHECK(freed.dirty_bytes <= freed.resident_bytes);
        CHECK(after.dirty_bytes == 0);
    }
}

int main(void)
{
    RUN_TEST(test_purge_each_slice_waits_its_own_delay);
    RUN_TEST(test_growth_gives_back_scattered_free_slices);
    RUN_TEST(test_growth_keeps_young_long_runs);
    RUN_TEST(test_growth_gives_back_runs_past_min_age);
    RUN_TEST(test_stats_count_dirty_bytes);
    RUN_TEST(test_huge_miss_gives_back_cached_blocks);
    RUN_TEST(test_huge_reuse_gives_back_the_tail);
    RUN_TEST(test_huge_miss_gives_back_free_slices);
    return check_report();
}
