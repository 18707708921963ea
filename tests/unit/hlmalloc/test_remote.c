/*
 * tests/unit/hlmalloc/test_remote.c: blocks other threads free do not pile up (issue 22,
 * the `server` shape). THREADS threads take turns, BATCH puts a turn, at replacing random
 * slots of a shared table with blocks of log-uniform 16 B-16 KiB, so most frees are of
 * blocks another thread allocated. The turns make the run deterministic: the allocator
 * sees the same calls in the same order every time. At the end of each round of turns the
 * test reads hl_stats: the bytes allocated but not live (blocks freed and still counted
 * used: in foreign caches, on remote-free lists, on delayed lists) must stay bounded, and
 * the most of them is reported. Before the owners collected deep remote-free lists (I11),
 * the pending bytes reached 5.8 MiB beside 20 MiB live; since, 1.9 MiB.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"

#define MiB ((uint64_t)1 << 20)

enum {
    THREADS = 4,
    SLOTS = 8192,
    BATCH = 64,
};

struct table {
    pthread_mutex_t lock;
    pthread_cond_t turn_changed;
    unsigned turn;   /* whose turn it is */
    unsigned rounds; /* rounds left */
    void *slot[SLOTS];
    uint64_t live_bytes;    /* usable bytes of the blocks in the table */
    uint64_t pending_max;   /* most of allocated - live seen at a round's end */
    uint64_t remote_max;    /* most remote_free_max seen */
    uint64_t active_max;    /* most active_bytes seen */
    uint64_t live_at_check; /* live bytes when pending_max was seen */
    uint64_t seed[THREADS];
};

static struct table tab = { .lock = PTHREAD_MUTEX_INITIALIZER,
                            .turn_changed = PTHREAD_COND_INITIALIZER };

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Log-uniform 16 B-16 KiB: a power of two 2^4..2^13, then uniform up to twice it. */
static size_t random_size(uint64_t *s)
{
    size_t lo = (size_t)16 << (next_rand(s) % 10);
    return lo + (size_t)(next_rand(s) % lo);
}

static void put(uint64_t *s)
{
    unsigned i = (unsigned)(next_rand(s) % SLOTS);
    if (tab.slot[i]) {
        tab.live_bytes -= hl_usable_size(tab.slot[i]);
        hl_free(tab.slot[i]);
    }
    size_t n = random_size(s);
    tab.slot[i] = hl_malloc(n);
    if (tab.slot[i]) {
        memset(tab.slot[i], 0x5a, n < 64 ? n : 64);
        tab.live_bytes += hl_usable_size(tab.slot[i]);
    }
}

static void check_round(void)
{
    struct hl_stats st;
    hl_stats(&st);
    uint64_t pending =
            st.allocated_bytes > tab.live_bytes ? st.allocated_bytes - tab.live_bytes : 0;
    if (pending > tab.pending_max) {
        tab.pending_max = pending;
        tab.live_at_check = tab.live_bytes;
    }
    if (st.remote_free_max > tab.remote_max) tab.remote_max = st.remote_free_max;
    if (st.active_bytes > tab.active_max) tab.active_max = st.active_bytes;
}

static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    pthread_mutex_lock(&tab.lock);
    for (;;) {
        while (tab.turn != me && tab.rounds != 0)
            pthread_cond_wait(&tab.turn_changed, &tab.lock);
        if (tab.rounds == 0) break;
        for (int k = 0; k < BATCH; k++)
            put(&tab.seed[me]);
        if (me == THREADS - 1) {
            check_round();
            tab.rounds--;
        }
        tab.turn = (me + 1) % THREADS;
        pthread_cond_broadcast(&tab.turn_changed);
    }
    pthread_mutex_unlock(&tab.lock);
    return NULL;
}

static void test_remote_frees_do_not_pile_up(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's statistics");
    tab.rounds = HL_TEST_SANITIZED ? 300 : 1500;
    for (unsigned t = 0; t < THREADS; t++)
        tab.seed[t] = 0x9e3779b97f4a7c15ULL * (t + 1);
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++)
        REQUIRE(pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t) == 0);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    fprintf(stderr,
            "  live %.2f MiB; most pending %.2f MiB, remote-free depth %llu, active %.2f MiB\n",
            (double)tab.live_at_check / (double)MiB, (double)tab.pending_max / (double)MiB,
            (unsigned long long)tab.remote_max, (double)tab.active_max / (double)MiB);
    CHECK(tab.live_at_check > 8 * MiB); /* the table filled */
    /* Bounded by what the owners let wait (HL_REMOTE_COLLECT a segment, and what sits in
     * each class's first page until it runs dry) and the foreign caches (about 270 KiB a
     * heap). */
    CHECK(tab.pending_max < 3 * MiB);
    for (unsigned i = 0; i < SLOTS; i++)
        hl_free(tab.slot[i]);
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

int main(void)
{
    RUN_TEST(test_remote_frees_do_not_pile_up);
    return check_report();
}
