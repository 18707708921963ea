/*
 * tests/unit/hlmalloc/test_fork.c: after fork, the child treats the heaps of the parent's
 * other threads (which do not exist in the child) as abandoned (issue 17, item 1).
 *
 * WORKERS threads each allocate 8 MiB of 1000-byte blocks, free every other one, and wait,
 * holding the rest, while the main thread forks. In the child:
 *   - only the forking thread has a heap, and the workers' segments are abandoned;
 *   - the child's new blocks go into the workers' half-empty pages (adopted) before any
 *     fresh memory;
 *   - once the child frees the workers' blocks and collects, their memory is gone: RSS
 *     falls by most of the 32 MiB, hl_stats shows it unmapped, and hl_heap_check passes.
 * Before the fix the workers' heaps stayed alive in the child (threads 1 + WORKERS), their
 * segments owned by nobody who would ever run, and the frees sat on remote-free lists.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hlmalloc/internal.h"
#include "unit/hlmalloc/resident.h"

#define MiB ((size_t)1 << 20)

enum {
    WORKERS = 4,
    BLOCK = 1000,
    PER_WORKER = (int)(8 * MiB / BLOCK),
    CHILD_BLOCKS = 2000,
};

static void *blocks[WORKERS][PER_WORKER];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready, release;

static void *worker(void *arg)
{
    void **mine = arg;
    for (int i = 0; i < PER_WORKER; i++) {
        mine[i] = hl_malloc(BLOCK);
        if (mine[i]) memset(mine[i], 0x5a, BLOCK);
    }
    for (int i = 0; i < PER_WORKER; i += 2) {
        hl_free(mine[i]);
        mine[i] = NULL;
    }
    pthread_mutex_lock(&lock);
    ready++;
    pthread_cond_broadcast(&cond);
    while (!release)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Is p in a segment that holds one of the workers' blocks? */
static bool in_workers_segment(const void *p)
{
    for (int w = 0; w < WORKERS; w++)
        for (int i = 1; i < PER_WORKER; i += 2)
            if (hl_segment_of(blocks[w][i]) == hl_segment_of(p)) return true;
    return false;
}

/* The child's checks; its exit status is theirs. */
static void child_checks(void)
{
    hl_opt.purge_thread = 0; /* no thread started in the child: hl_collect purges */
    struct hl_stats st;
    hl_stats(&st);
    CHECK_EQ_U64(st.threads, 1);
    CHECK(st.abandoned_segments >= 1);
    CHECK(hl_heap_check() == 0);
    /* New blocks fill the workers' half-empty pages first. */
    static void *mine[CHILD_BLOCKS];
    int adopted = 0;
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        mine[i] = hl_malloc(BLOCK);
        REQUIRE(mine[i]);
        adopted += in_workers_segment(mine[i]);
    }
    CHECK(adopted == CHILD_BLOCKS);
    for (int i = 0; i < CHILD_BLOCKS; i++)
        hl_free(mine[i]);
    long before = rss_bytes();
    for (int w = 0; w < WORKERS; w++)
        for (int i = 1; i < PER_WORKER; i += 2)
            hl_free(blocks[w][i]);
    hl_collect();
    long after = rss_bytes();
    fprintf(stderr, "  child: RSS %ld KiB -> %ld KiB; adopted %d of %d\n", before >> 10,
            after >> 10, adopted, CHILD_BLOCKS);
    CHECK(before > 0 && after > 0 && before - after > (long)(24 * MiB));
    hl_stats(&st);
    CHECK(st.allocated_bytes < 2 * MiB);
    CHECK(st.mapped_bytes < 4 * MiB + 32 * MiB); /* the child's own segment, the heap pool */
    CHECK_EQ_U64(st.abandoned_segments, 0);
    CHECK(hl_heap_check() == 0);
}

static void test_fork_child_adopts_the_heaps_of_threads_it_has_not(void)
{
    pthread_t t[WORKERS];
    hl_free(hl_malloc(16)); /* the main thread has a heap */
    for (int w = 0; w < WORKERS; w++)
        REQUIRE(pthread_create(&t[w], NULL, worker, blocks[w]) == 0);
    pthread_mutex_lock(&lock);
    while (ready < WORKERS)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        RUN_TEST(child_checks);
        _exit(check_failures ? 1 : 0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pthread_mutex_lock(&lock);
    release = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int w = 0; w < WORKERS; w++)
        pthread_join(t[w], NULL);
    /* The parent is untouched by the child's work. */
    for (int w = 0; w < WORKERS; w++)
        for (int i = 1; i < PER_WORKER; i += 2) {
            CHECK(((unsigned char *)blocks[w][i])[BLOCK - 1] == 0x5a);
            hl_free(blocks[w][i]);
        }
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

/* A thread that has never allocated forks: every heap of the parent is another thread's. */
static void *fork_without_heap(void *arg)
{
    int *status = arg;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        hl_opt.purge_thread = 0;
        struct hl_stats st;
        hl_stats(&st);
        int bad = st.threads != 0 || hl_heap_check() != 0;
        void *p = hl_malloc(BLOCK);
        bad |= p == NULL || !in_workers_segment(p);
        hl_free(p);
        _exit(bad | (hl_heap_check() != 0));
    }
    *status = -1;
    if (pid > 0 && waitpid(pid, status, 0) != pid) *status = -1;
    return NULL;
}

static void test_fork_from_a_thread_without_a_heap(void)
{
    release = 0;
    ready = 0;
    pthread_t t[WORKERS], f;
    for (int w = 0; w < WORKERS; w++)
        REQUIRE(pthread_create(&t[w], NULL, worker, blocks[w]) == 0);
    pthread_mutex_lock(&lock);
    while (ready < WORKERS)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    int status = -1;
    REQUIRE(pthread_create(&f, NULL, fork_without_heap, &status) == 0);
    pthread_join(f, NULL);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pthread_mutex_lock(&lock);
    release = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int w = 0; w < WORKERS; w++)
        pthread_join(t[w], NULL);
    for (int w = 0; w < WORKERS; w++)
        for (int i = 1; i < PER_WORKER; i += 2)
            hl_free(blocks[w][i]);
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

/* Forks while the workers allocate and free (their own blocks and each other's, without
 * pause): a dead thread may have been in the middle of anything lock-free. Each child
 * allocates and frees, frees what the parent's table holds, and checks the heap. */
enum { BUSY_SLOTS = 4096, FORKS = 30 };
static _Atomic(void *) busy_table[BUSY_SLOTS];
static _Atomic int busy_stop;

static void *busy_worker(void *arg)
{
    uint64_t r = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    while (!atomic_load(&busy_stop)) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        void *p = hl_malloc(16 + r % 3000);
        void *old = atomic_exchange(&busy_table[(r >> 32) % BUSY_SLOTS], p);
        hl_free(old);
    }
    return NULL;
}

static void busy_child(void)
{
    hl_opt.purge_thread = 0;
    static void *mine[1000];
    for (int i = 0; i < 1000; i++)
        mine[i] = hl_malloc(16 + (size_t)i * 7 % 2000);
    for (int i = 0; i < 1000; i++)
        hl_free(mine[i]);
    for (int i = 0; i < BUSY_SLOTS; i++)
        hl_free(atomic_exchange(&busy_table[i], NULL));
    hl_collect();
    struct hl_stats st;
    hl_stats(&st);
    int r = hl_heap_check();
    _exit(r != 0 ? 10 + r : st.threads != 1 ? 2 : st.allocated_bytes > (1u << 20) ? 3 : 0);
}

static void test_fork_child_of_busy_threads_passes_the_check(void)
{
    pthread_t t[WORKERS];
    for (int w = 0; w < WORKERS; w++)
        REQUIRE(pthread_create(&t[w], NULL, busy_worker, (void *)(uintptr_t)(w + 1)) == 0);
    int failed = 0;
    for (int k = 0; k < FORKS; k++) {
        usleep(2000);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) busy_child();
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0) {
            if (failed++ < 5)
                fprintf(stderr, "  fork %d: child status %d\n", k,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
        }
    }
    atomic_store(&busy_stop, 1);
    for (int w = 0; w < WORKERS; w++)
        pthread_join(t[w], NULL);
    CHECK(failed == 0);
    for (int i = 0; i < BUSY_SLOTS; i++)
        hl_free(atomic_exchange(&busy_table[i], NULL));
    hl_collect();
    CHECK(hl_heap_check() == 0);
}

int main(void)
{
    RUN_TEST(test_fork_child_adopts_the_heaps_of_threads_it_has_not);
    RUN_TEST(test_fork_from_a_thread_without_a_heap);
    RUN_TEST(test_fork_child_of_busy_threads_passes_the_check);
    return check_report();
}
