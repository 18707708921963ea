/*
 * tests/unit/hlmalloc/test_owncache.c: the own caches (I10 of src/hlmalloc/types.h). A block
 * of a class above 1 KiB that its owner frees into a full page waits in the heap's cache for
 * its class, the page staying in the full queue, and the next malloc of the class whose
 * first page has no block takes it back. The cache is bounded, and goes back onto its pages
 * on hl_collect() and when the thread exits (else its blocks would stay counted as used in
 * abandoned pages for good).
 *
 * White-box: it includes the allocator's internal header to look at the heap's cache.
 */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "hlmalloc/internal.h"

#define KiB ((size_t)1 << 10)

enum { SIZE = 32 * 1024, NBLOCKS = 256 }; /* 4 blocks a page: 64 pages */

static void *blocks[NBLOCKS];

static struct hl_page *page_of(void *p)
{
    struct hl_segment *s = hl_segment_of(p);
    return hl_page_of(s, p);
}

static unsigned cache_index(void)
{
    return hl_bin(SIZE) - HL_OWN_FIRST;
}

static uint32_t cached(const struct hl_heap *h, unsigned i)
{
    uint32_t n = 0;
    for (const struct hl_block *b = h->own[i]; b && n < 1000; b = b->next)
        n++;
    return n;
}

static void quiet(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
}

static void alloc_all(void)
{
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = hl_malloc(SIZE);
        memset(blocks[i], 0x5a, 64);
    }
}

/* One block of each page first (so that no page has all its live blocks cached), then
 * the rest. */
static void free_all(void)
{
    for (int i = 0; i < NBLOCKS; i += 4)
        hl_free(blocks[i]);
    for (int i = 0; i < NBLOCKS; i++)
        if (i % 4) hl_free(blocks[i]);
}

static void test_free_into_a_full_page_is_cached_and_handed_out_again(void)
{
    alloc_all();
    REQUIRE(blocks[0] && blocks[NBLOCKS - 1]);
    struct hl_heap *h = hl_tls_heap;
    unsigned i = cache_index();
    REQUIRE(h->own[i] == NULL);
    /* The first block's page filled long ago: it is in the full queue. */
    void *p = blocks[0];
    struct hl_page *pg = page_of(p);
    REQUIRE(pg->flags & HL_PAGE_IN_FULL);
    uint32_t used = pg->used;
    hl_free(p);
    CHECK(h->own[i] == p);
    CHECK_EQ_U64(h->own_room[i], hl_own_cap(hl_bin(SIZE)) - 1);
    CHECK(pg->flags & HL_PAGE_IN_FULL); /* the page did not move */
    CHECK_EQ_U64(pg->used, used);       /* the block still counts in it (I10) */
    CHECK(hl_heap_check() == 0);
    hl_set_output(quiet, NULL);
    hl_free(p); /* a double free: the cookie says so, the cache is unchanged */
    hl_set_output(NULL, NULL);
    CHECK(h->own[i] == p && cached(h, i) == 1);
    /* The class's first page has no free block (32 KiB blocks are carved one at a time):
     * the next malloc takes the cached block. */
    void *q = hl_malloc(SIZE);
    CHECK(q == p);
    CHECK(h->own[i] == NULL);
    CHECK_EQ_U64(h->own_room[i], hl_own_cap(hl_bin(SIZE)));
    blocks[0] = q;
    free_all();
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

static void test_cache_is_bounded_and_hl_collect_empties_it(void)
{
    alloc_all();
    free_all(); /* the first frees, into full pages, fill the cache; the rest go as before */
    struct hl_heap *h = hl_tls_heap;
    unsigned i = cache_index();
    unsigned cap = hl_own_cap(hl_bin(SIZE));
    CHECK(cap >= HL_OWN_BIN_MIN && cap <= HL_OWN_BIN_MAX);
    CHECK_EQ_U64(cached(h, i), cap);
    CHECK_EQ_U64(h->own_room[i], 0);
    CHECK(hl_heap_check() == 0);
    hl_collect();
    CHECK(h->own[i] == NULL);
    CHECK_EQ_U64(h->own_room[i], cap);
    struct hl_stats st;
    hl_stats(&st);
    CHECK_EQ_U64(st.allocated_bytes, 0); /* nothing left counted as used */
    CHECK(hl_heap_check() == 0);
    /* Every class's bound, and all of them together (types.h I10: 4.3 MiB). */
    size_t total = 0;
    for (unsigned b = HL_OWN_FIRST; b < HL_BINS; b++) {
        size_t bytes = (size_t)hl_own_cap(b) * hl_bin_size(b);
        CHECK(bytes <= HL_OWN_BIN_BYTES || hl_own_cap(b) == HL_OWN_BIN_MIN);
        total += bytes;
    }
    CHECK(total <= (size_t)4608 * KiB); /* 4.5 MiB */
}

/* A page whose every live block is freed goes back, though its blocks went to the cache:
 * the cache never holds all the live blocks of a full page (it would pin an empty page). */
static void test_cache_never_pins_an_empty_page(void)
{
    alloc_all();
    struct hl_heap *h = hl_tls_heap;
    unsigned i = cache_index();
    struct hl_page *pg = page_of(blocks[0]);
    REQUIRE(pg->flags & HL_PAGE_IN_FULL);
    REQUIRE(pg->used == 4 && page_of(blocks[3]) == pg);
    hl_free(blocks[1]); /* another page's block first, so that the cache is not empty */
    hl_free(blocks[4]);
    hl_free(blocks[0]);
    hl_free(blocks[2]);
    CHECK_EQ_U64(pg->own_cached, 3);
    CHECK(pg->flags & HL_PAGE_IN_FULL);
    hl_free(blocks[3]); /* the page's last live block */
    for (const struct hl_block *b = h->own[i]; b; b = b->next)
        CHECK(page_of((void *)b) != pg);
    CHECK_EQ_U64(pg->own_cached, 0);
    CHECK(!(pg->flags & HL_PAGE_IN_FULL));
    CHECK(hl_heap_check() == 0);
    blocks[0] = blocks[1] = blocks[2] = blocks[3] = blocks[4] = NULL;
    for (int k = 5; k < NBLOCKS; k++)
        hl_free(blocks[k]);
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

static void *exiting_thread(void *arg)
{
    alloc_all();
    free_all();
    *(uint32_t *)arg = cached(hl_tls_heap, cache_index());
    return NULL; /* exits with its cache full */
}

static void test_cache_goes_back_when_the_thread_exits(void)
{
    hl_collect();
    struct hl_stats st;
    hl_stats(&st);
    uint64_t before = st.allocated_bytes;
    uint32_t n = 0;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, exiting_thread, &n) == 0);
    pthread_join(t, NULL);
    CHECK(n > 0); /* it had blocks cached when it exited */
    hl_collect();
    hl_stats(&st);
    /* Not flushed, its cached blocks would still count as used in abandoned pages. */
    CHECK_EQ_U64(st.allocated_bytes, before);
    CHECK_EQ_U64(st.abandoned_segments, 0);
    CHECK(hl_heap_check() == 0);
}

int main(void)
{
    RUN_TEST(test_free_into_a_full_page_is_cached_and_handed_out_again);
    RUN_TEST(test_cache_is_bounded_and_hl_collect_empties_it);
    RUN_TEST(test_cache_never_pins_an_empty_page);
    RUN_TEST(test_cache_goes_back_when_the_thread_exits);
    return check_report();
}
