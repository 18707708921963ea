/*
 * tests/unit/hlmalloc/test_abandoned.c: memory of threads that have exited goes back
 * (issue 17, item 2). A thread allocates 64 MiB of 1000-byte blocks and exits; their
 * segments are abandoned (no heap owns them) with every block alive. The main thread
 * then frees the blocks (remote frees: they wait on their pages' lists, with no owner
 * to collect them) and makes no further allocator call. The purger must sweep the
 * abandoned segments, give their empty pages back and purge them: RSS falls back near
 * the baseline (polled, up to PURGE_WAIT_MS). Then hl_collect() must leave no abandoned
 * segment and nothing allocated, and hl_heap_check() must pass.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"
#include "unit/hlmalloc/resident.h"

#define MiB ((size_t)1 << 20)

enum {
    BLOCKS = 65536, /* 1000 B each: 64 MiB */
    PURGE_WAIT_MS = 5000,
};

static void *blocks[BLOCKS];

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void *allocate_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = hl_malloc(1000);
        if (blocks[i]) memset(blocks[i], 0x5a, 1000);
    }
    return NULL;
}

static void test_abandoned_blocks_freed_after_their_thread_go_back(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's purger");
    SKIP_IF(getenv("HLMALLOC_PURGE_THREAD") != NULL, "needs the purger");
    long base = rss_bytes();
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, allocate_and_exit, NULL) == 0);
    pthread_join(t, NULL);
    long peak = rss_bytes();
    for (int i = 0; i < BLOCKS; i++)
        hl_free(blocks[i]);
    /* No allocator call from here on: only the purger can give it back. */
    long now = -1;
    for (long waited = 0; waited <= PURGE_WAIT_MS; waited += 20) {
        now = rss_bytes();
        if (now >= 0 && now <= base + (long)(8 * MiB)) break;
        sleep_ms(20);
    }
    if (now > base + (long)(8 * MiB))
        fprintf(stderr, "  RSS %ld MiB after %d ms (base %ld, peak %ld)\n", now >> 20,
                PURGE_WAIT_MS, base >> 20, peak >> 20);
    CHECK(peak > base + (long)(48 * MiB)); /* the blocks were there */
    CHECK(now <= base + (long)(8 * MiB));

    hl_collect();
    struct hl_stats st;
    hl_stats(&st);
    CHECK_EQ_U64(st.abandoned_segments, 0);
    CHECK_EQ_U64(st.allocated_bytes, 0);
    CHECK(hl_heap_check() == 0);
}

int main(void)
{
    RUN_TEST(test_abandoned_blocks_freed_after_their_thread_go_back);
    return check_report();
}
