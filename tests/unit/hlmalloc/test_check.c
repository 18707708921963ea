/*
 * tests/unit/hlmalloc/test_check.c: hl_heap_check() finds each invariant of
 * src/hlmalloc/types.h broken on purpose, by its number, and passes on a busy heap.
 *
 * White-box: it includes the allocator's internal header to reach pages, queues and
 * counters, breaks one thing, expects the invariant's number, and puts it back (the
 * check must then pass again). Built a second time against the HL_DEBUG=2 library
 * (test_hlmalloc_check_debug), where a broken invariant must also stop the program at
 * the next safe point (a forked child, killed by SIGABRT).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hlmalloc/internal.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static char out_buf[4096];
static size_t out_len;

static void capture(const char *msg, void *arg)
{
    (void)arg;
    size_t n = strlen(msg);
    if (out_len + n < sizeof(out_buf)) {
        memcpy(out_buf + out_len, msg, n + 1);
        out_len += n;
    }
}

/* hl_heap_check(), its report captured (and shown if it is not 0). */
static int heap_check(void)
{
    out_len = 0;
    out_buf[0] = 0;
    hl_set_output(capture, NULL);
    int r = hl_heap_check();
    hl_set_output(NULL, NULL);
    return r;
}

static struct hl_page *page_of(void *p)
{
    struct hl_segment *s = hl_segment_of(p);
    return hl_page_of(s, p);
}

/* ---- a heap with something of everything -------------------------------------------- */

enum { KEEP = 4000 };
static void *kept[KEEP];
static size_t nkept;

struct gift {
    void *blocks[512];
    size_t n;
};

static void *allocator_thread(void *arg)
{
    struct gift *g = arg;
    for (size_t i = 0; i < 512; i++)
        g->blocks[g->n++] = hl_malloc(16 + i * 24 % 3000);
    return NULL; /* its heap is abandoned with the blocks alive */
}

/* Every size class, large and huge blocks, aligned ones, a realloc chain, and blocks of
 * an exited thread freed here (foreign cache, abandoned segments). */
static void build_busy_heap(void)
{
    for (unsigned b = 0; b < HL_BINS; b++) {
        for (int k = 0; k < 3 && nkept < KEEP; k++)
            kept[nkept++] = hl_malloc(hl_bin_size(b));
        hl_free(hl_malloc(hl_bin_size(b))); /* a free block on the page */
    }
    kept[nkept++] = hl_malloc(300 * KiB);
    kept[nkept++] = hl_malloc(3 * MiB);
    kept[nkept++] = hl_malloc(40 * MiB); /* huge */
    hl_free(hl_malloc(20 * MiB));        /* cached huge */
    kept[nkept++] = hl_aligned_alloc(64 * KiB, 1000);
    kept[nkept++] = hl_aligned_alloc(MiB, 200 * KiB);
    void *r = NULL;
    for (size_t n = 8; n < 2 * MiB; n *= 3)
        r = hl_realloc(r, n);
    kept[nkept++] = r;
    struct gift g = { .n = 0 };
    pthread_t t;
    if (pthread_create(&t, NULL, allocator_thread, &g) == 0) {
        pthread_join(t, NULL);
        for (size_t i = 0; i < g.n; i += 2)
            hl_free(g.blocks[i]); /* half of them: foreign cache and remote frees */
        for (size_t i = 1; i < g.n && nkept < KEEP; i += 2)
            kept[nkept++] = g.blocks[i];
    }
}

static void free_busy_heap(void)
{
    for (size_t i = 0; i < nkept; i++)
        hl_free(kept[i]);
    nkept = 0;
}

static void test_check_passes_on_a_busy_heap(void)
{
    REQUIRE(heap_check() == 0);
    build_busy_heap();
    int r = heap_check();
    if (r) fprintf(stderr, "%s", out_buf);
    CHECK(r == 0);
    free_busy_heap();
    hl_collect();
    r = heap_check();
    if (r) fprintf(stderr, "%s", out_buf);
    CHECK(r == 0);
}

/* ---- each invariant broken ------------------------------------------------------------ */

static void expect_broken(int inv, const char *how)
{
    int r = heap_check();
    if (r != inv) fprintf(stderr, "  %s: got I%d, want I%d: %s", how, r, inv, out_buf);
    CHECK(r == inv);
    CHECK(strstr(out_buf, "heap check: I") != NULL);
}

static void test_check_finds_i1_segment_map(void)
{
    void *p = hl_malloc(100);
    REQUIRE(p);
    uintptr_t unit = (uintptr_t)p >> HL_SEG_SHIFT;
    hl_segmap[unit] = HL_MAP_NONE; /* the segment's unit unmarked */
    expect_broken(1, "segment's unit unmarked");
    hl_segmap[unit] = HL_MAP_START;
    /* A unit marked that no segment covers (the address of this test's stack). */
    uintptr_t stray = (uintptr_t)&unit >> HL_SEG_SHIFT;
    REQUIRE(hl_segmap[stray] == HL_MAP_NONE);
    hl_segmap[stray] = HL_MAP_INSIDE;
    expect_broken(1, "stray unit");
    hl_segmap[stray] = HL_MAP_NONE;
    CHECK(heap_check() == 0);
    hl_free(p);
}

static void test_check_finds_i2_free_list_off_the_blocks(void)
{
    void *a = hl_malloc(48), *b = hl_malloc(48);
    REQUIRE(a && b);
    hl_free(b);
    struct hl_page *pg = page_of(a);
    REQUIRE(pg->free != NULL);
    struct hl_block *head = pg->free, *next = head->next;
    head->next = (struct hl_block *)((uint8_t *)a + 8); /* inside a live block */
    expect_broken(2, "free list into a block's middle");
    head->next = next;
    CHECK(heap_check() == 0);
    hl_free(a);
}

static void test_check_finds_i3_used_count(void)
{
    void *a = hl_malloc(200);
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    pg->used++;
    expect_broken(3, "used one too many");
    pg->used--;
    /* A block both free and on the heap's delayed list (as a double free would leave
     * it): b, just freed, heads its page's free list; the delayed list follows the same
     * link from it. */
    void *b = hl_malloc(200);
    REQUIRE(b);
    hl_free(b);
    REQUIRE(pg->free == b);
    struct hl_heap *h = hl_tls_heap;
    REQUIRE(atomic_load(&h->delayed_free) == 0);
    atomic_store(&h->delayed_free, (uintptr_t)b);
    expect_broken(3, "block free and delayed");
    atomic_store(&h->delayed_free, 0);
    CHECK(heap_check() == 0);
    hl_free(a);
}

/* The duplicate check covers every block, not only the first 16,384 on delayed lists and
 * foreign caches: 20,000 live blocks chained onto the heap's delayed list (a state a real
 * heap could reach: each still counts as used), then a free block appended last. */
enum { LONG_LIST = 20000 };
static void *long_list[LONG_LIST];

static void test_check_finds_i3_duplicate_past_16k_blocks(void)
{
    for (int i = 0; i < LONG_LIST; i++) {
        long_list[i] = hl_malloc(64);
        REQUIRE(long_list[i]);
    }
    void *b = hl_malloc(64);
    REQUIRE(b);
    hl_free(b);
    REQUIRE(page_of(b)->free == b);
    /* No allocator call from here until the list is gone: a slow path would take it. */
    for (int i = 0; i + 1 < LONG_LIST; i++)
        ((struct hl_block *)long_list[i])->next = long_list[i + 1];
    ((struct hl_block *)long_list[LONG_LIST - 1])->next = NULL;
    struct hl_heap *h = hl_tls_heap;
    REQUIRE(atomic_load(&h->delayed_free) == 0);
    atomic_store(&h->delayed_free, (uintptr_t)long_list[0]);
    CHECK(heap_check() == 0); /* long, but every block on one list only */
    ((struct hl_block *)long_list[LONG_LIST - 1])->next = b; /* and b heads a free list */
    expect_broken(3, "block free and 20,000th on the delayed list");
    ((struct hl_block *)long_list[LONG_LIST - 1])->next = NULL;
    atomic_store(&h->delayed_free, 0);
    CHECK(heap_check() == 0);
    for (int i = 0; i < LONG_LIST; i++)
        hl_free(long_list[i]);
}

static void test_check_finds_i4_page_of_another_heap(void)
{
    void *a = hl_malloc(3000);
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    struct hl_heap *mine = pg->heap;
    pg->heap = (struct hl_heap *)&hl_heap_empty;
    expect_broken(4, "page's heap");
    pg->heap = mine;
    CHECK(heap_check() == 0);
    hl_free(a);
}

static void test_check_finds_i5_queue(void)
{
    void *a = hl_malloc(700);
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    struct hl_page_queue *q = &hl_tls_heap->bins[pg->bin];
    q->count++;
    expect_broken(5, "queue count");
    q->count--;
    /* The full flag on a page of a class's queue (the free fast path kept in step). */
    pg->flags |= HL_PAGE_IN_FULL;
    uint32_t fast = pg->fast_count;
    pg->fast_count = 0;
    expect_broken(5, "full flag in a class queue");
    pg->flags &= (uint8_t)~HL_PAGE_IN_FULL;
    pg->fast_count = fast;
    CHECK(heap_check() == 0);
    hl_free(a);
}

/* The free fast path's one test, block index below fast_count, rejects a pointer to a
 * block the page has not carved yet and one inside a carved block, on a page that is not
 * full (so the fast path is where they go). */
static void test_free_rejects_uncarved_and_interior_pointers(void)
{
    void *a = hl_malloc(3000); /* a class of its own here: 4 KiB carved at a time */
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    REQUIRE(pg->flags == 0 && pg->capacity < pg->reserved && pg->fast_count == pg->capacity);
    uint8_t *uncarved = pg->start + (size_t)pg->capacity * pg->block_size;
    uint8_t *last = pg->start + (size_t)(pg->reserved - 1) * pg->block_size;
    /* An earlier test's blocks of this class may have left freed-block cookies in these
     * slots, which would send the frees to the slow path whatever the fast test says:
     * clear them, as on a fresh page. */
    memset(uncarved, 0, 16);
    memset(last, 0, 16);
    void *bad[] = { uncarved, last, (uint8_t *)a + 16 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hl_stats before, after;
        hl_stats(&before);
        hl_free(bad[i]);
        hl_stats(&after);
        CHECK_EQ_U64(after.invalid_frees - before.invalid_frees, 1);
        CHECK(pg->used == 1);
    }
    CHECK(heap_check() == 0);
    hl_free(a);
    CHECK(heap_check() == 0);
}

/* I12: the last page of a size, emptied, is kept and goes quiet; emptied again, it calls
 * nothing (its kept_since stays), and the free that empties it is the fast path's. A
 * quiet page that is not kept is broken. */
static void test_quiet_kept_page(void)
{
    void *a = hl_malloc(5000); /* a class no other test here keeps a block of */
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    REQUIRE(pg->used == 1 && hl_tls_heap->bins[pg->bin].count == 1);
    hl_free(a);
    CHECK(pg->kept == 1 && pg->quiet == 1 && pg->used == 0);
    const uint64_t since = pg->kept_since;
    pg->kept_since = since ^ 0x5a5a; /* a mark hl_page_retire would overwrite */
    for (int i = 0; i < 3; i++) {
        void *b = hl_malloc(5000);
        CHECK(b == a); /* the kept page serves its size again */
        hl_free(b);
        CHECK(pg->used == 0 && pg->kept == 1 && pg->quiet == 1);
        CHECK(pg->kept_since == (since ^ 0x5a5a));
    }
    pg->kept_since = since;
    CHECK(heap_check() == 0);
    pg->kept = 0;
    expect_broken(12, "quiet page not kept");
    pg->kept = 1;
    CHECK(heap_check() == 0);
}

/* I12's other half: an idle trim makes a quiet kept page loud; if it empties again before
 * the next one, it is quiet again and stays; if not, the next idle trim gives it back. */
static void test_quiet_page_given_back_when_idle(void)
{
    struct hl_heap *h = hl_tls_heap;
    void *a = hl_malloc(3500); /* its own class here */
    REQUIRE(a);
    struct hl_page *pg = page_of(a);
    unsigned bin = pg->bin;
    REQUIRE(pg->used == 1 && h->bins[bin].count == 1);
    hl_free(a);
    REQUIRE(pg->kept == 1 && pg->quiet == 1);
    h->heartbeat += 200; /* long idle */
    hl_heap_trim_kept(h, true);
    CHECK(pg->kept == 1 && pg->quiet == 0); /* loud, not given back: it may have emptied */
    void *b = hl_malloc(3500);              /* used and emptied again: quiet anew, its time fresh */
    CHECK(b == a);
    hl_free(b);
    CHECK(pg->kept == 1 && pg->quiet == 1 && pg->kept_since == h->heartbeat);
    h->heartbeat += 200;
    hl_heap_trim_kept(h, true);
    CHECK(h->bins[bin].count == 1 && pg->kept == 1 && pg->quiet == 0);
    h->heartbeat += 200; /* and now idle through a whole trim */
    hl_heap_trim_kept(h, true);
    CHECK(h->bins[bin].count == 0); /* given back */
    CHECK(heap_check() == 0);
}

/* I2: a segment's header reads as an empty page through the descriptors of slices 0 and
 * 1, so that a free of a pointer there is rejected (test_api frees some). */
static void test_check_finds_i2_header_not_an_empty_page(void)
{
    void *a = hl_malloc(100);
    REQUIRE(a);
    struct hl_segment *s = hl_segment_of(a);
    s->header_back = 0;
    expect_broken(2, "header's slice back");
    s->header_back = sizeof(struct hl_page);
    CHECK(heap_check() == 0);
    hl_free(a);
}

static void test_check_finds_i6_dirty_slice_in_use(void)
{
    void *a = hl_malloc(5000);
    REQUIRE(a);
    struct hl_segment *s = hl_segment_of(a);
    uint32_t i = (uint32_t)(((uintptr_t)a - (uintptr_t)s) >> HL_SLICE_SHIFT);
    s->dirty_map[i >> 6] |= (uint64_t)1 << (i & 63);
    expect_broken(6, "dirty bit on a used slice");
    s->dirty_map[i >> 6] &= ~((uint64_t)1 << (i & 63));
    uint32_t used = s->used_slices;
    s->used_slices = used + 1;
    expect_broken(6, "used_slices");
    s->used_slices = used;
    CHECK(heap_check() == 0);
    hl_free(a);
}

static void test_check_finds_i7_direct_slot(void)
{
    void *a = hl_malloc(16);
    REQUIRE(a);
    struct hl_heap *h = hl_tls_heap;
    struct hl_page *was = h->direct[1];
    REQUIRE(was != &hl_page_empty);
    h->direct[1] = &hl_page_empty;
    expect_broken(7, "direct slot");
    h->direct[1] = was;
    CHECK(heap_check() == 0);
    hl_free(a);
}

static void test_check_finds_i8_foreign_room(void)
{
    void *a = hl_malloc(64);
    REQUIRE(a);
    struct hl_heap *h = hl_tls_heap;
    h->foreign_room[3]--;
    expect_broken(8, "foreign room");
    h->foreign_room[3]++;
    CHECK(heap_check() == 0);
    hl_free(a);
}

/* A block of a 32 KiB page in the full queue, freed by its owner, waits in the own cache;
 * the cache is then broken five ways. */
static void test_check_finds_i10_own_cache(void)
{
    enum { N = 16 }; /* 4 blocks a page */
    void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = hl_malloc(32 * KiB);
        REQUIRE(v[i]);
    }
    void *other = hl_malloc(48 * KiB);
    REQUIRE(other);
    struct hl_page *pg = page_of(v[0]);
    REQUIRE(pg->flags & HL_PAGE_IN_FULL);
    struct hl_heap *h = hl_tls_heap;
    unsigned i = hl_bin(32 * KiB) - HL_OWN_FIRST;
    hl_free(v[0]);
    REQUIRE(h->own[i] == v[0]);
    CHECK(heap_check() == 0);
    struct hl_block *b = v[0];
    h->own_room[i]++;
    expect_broken(10, "own room");
    h->own_room[i]--;
    pg->own_cached++;
    expect_broken(10, "page's count of its cached blocks");
    pg->own_cached--;
    b->cookie = 0;
    expect_broken(10, "cached block not marked free");
    b->cookie = (uintptr_t)b ^ hl_cookie;
    /* A live block of another class on the list. */
    ((struct hl_block *)other)->cookie = (uintptr_t)other ^ hl_cookie;
    b->next = other;
    h->own_room[i]--;
    expect_broken(10, "block of another class");
    b->next = NULL;
    h->own_room[i]++;
    ((struct hl_block *)other)->cookie = 0;
    /* The cached block also heads its page's free list (as a double free would leave it
     * if the cache forgot the cookie). */
    struct hl_block *head = pg->free;
    REQUIRE(head == NULL);
    pg->free = b;
    pg->used--;
    b->next = NULL;
    expect_broken(3, "block cached and free");
    pg->free = head;
    pg->used++;
    CHECK(heap_check() == 0);
    hl_free(other);
    for (int k = 1; k < N; k++) /* v[0] is in the cache, which hl_collect empties */
        hl_free(v[k]);
    hl_collect();
    CHECK(heap_check() == 0);
}

static void test_check_finds_i9_counters(void)
{
    atomic_fetch_add(&hl_count.mapped_bytes, 4096);
    expect_broken(9, "mapped bytes");
    atomic_fetch_sub(&hl_count.mapped_bytes, 4096);
    atomic_fetch_add(&hl_count.huge_blocks, 1);
    expect_broken(9, "huge blocks");
    atomic_fetch_sub(&hl_count.huge_blocks, 1);
    CHECK(heap_check() == 0);
}

/* The HL_DEBUG build checks the thread's heap at its safe points and aborts. */
static void test_check_debug_build_stops_at_a_safe_point(void)
{
    SKIP_IF(!HL_DEBUG, "needs the HL_DEBUG library (test_hlmalloc_check_debug)");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        void *a = hl_malloc(200);
        page_of(a)->used++;
        hl_collect(); /* housekeeping: a safe point */
        _exit(0);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

int main(void)
{
    RUN_TEST(test_check_passes_on_a_busy_heap);
    RUN_TEST(test_check_finds_i1_segment_map);
    RUN_TEST(test_check_finds_i2_free_list_off_the_blocks);
    RUN_TEST(test_check_finds_i3_used_count);
    RUN_TEST(test_check_finds_i3_duplicate_past_16k_blocks);
    RUN_TEST(test_check_finds_i4_page_of_another_heap);
    RUN_TEST(test_check_finds_i5_queue);
    RUN_TEST(test_free_rejects_uncarved_and_interior_pointers);
    RUN_TEST(test_check_finds_i2_header_not_an_empty_page);
    RUN_TEST(test_quiet_kept_page);
    RUN_TEST(test_quiet_page_given_back_when_idle);
    RUN_TEST(test_check_finds_i6_dirty_slice_in_use);
    RUN_TEST(test_check_finds_i7_direct_slot);
    RUN_TEST(test_check_finds_i8_foreign_room);
    RUN_TEST(test_check_finds_i10_own_cache);
    RUN_TEST(test_check_finds_i9_counters);
    RUN_TEST(test_check_debug_build_stops_at_a_safe_point);
    return check_report();
}
