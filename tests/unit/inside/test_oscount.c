/*
 * tests/unit/inside/test_oscount.c: a function with a known number of memory system calls,
 * run in a traced child, is counted exactly: per call, madvise by advice, only inside its
 * window; the calls of a thread the harness did not mark count as background. The calls
 * are raw system calls, so that nothing (a sanitizer, libc) adds any of its own.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "inside/inside.h"
#include "util/diag.h"

#define PAGE 4096

static void *raw_mmap(size_t len)
{
    return (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
}

static _Atomic int bg_stage; /* 1 started, 2 go, 3 done, 4 may exit */

/* A thread that never sends a marker: the allocator's own, as far as the tracer knows. */
static void *background(void *arg)
{
    (void)arg;
    atomic_store(&bg_stage, 1);
    while (atomic_load(&bg_stage) != 2)
        sched_yield();
    void *a = raw_mmap(PAGE), *b = raw_mmap(PAGE);
    syscall(SYS_munmap, a, PAGE);
    syscall(SYS_munmap, b, PAGE);
    atomic_store(&bg_stage, 3);
    while (atomic_load(&bg_stage) != 4)
        sched_yield();
    return NULL;
}

/* In the traced child: 5 mmap, 3 munmap, 4 madvise DONTNEED, 2 FREE, 1 mremap, 2 mprotect
 * inside the window; one mmap before it and one after, which must not count. */
static void known_calls(void *arg)
{
    (void)arg;
    pthread_t bg;
    atomic_store(&bg_stage, 0);
    pthread_create(&bg, NULL, background, NULL);
    while (atomic_load(&bg_stage) != 1)
        sched_yield();
    char *before = raw_mmap(PAGE);
    oscount_marker(OSCOUNT_BEGIN);
    char *m[5];
    for (int i = 0; i < 5; i++)
        m[i] = raw_mmap(4 * PAGE);
    for (int i = 0; i < 4; i++)
        syscall(SYS_madvise, m[0], PAGE, MADV_DONTNEED);
    syscall(SYS_madvise, m[1], 2 * PAGE, MADV_FREE);
    syscall(SYS_madvise, m[1], 2 * PAGE, MADV_FREE);
    char *grown = (char *)syscall(SYS_mremap, m[2], 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    syscall(SYS_mprotect, m[3], PAGE, PROT_READ);
    syscall(SYS_mprotect, m[3], PAGE, PROT_READ | PROT_WRITE);
    syscall(SYS_munmap, m[0], 4 * PAGE);
    syscall(SYS_munmap, m[1], 4 * PAGE);
    syscall(SYS_munmap, grown, 8 * PAGE);
    atomic_store(&bg_stage, 2);
    while (atomic_load(&bg_stage) != 3)
        sched_yield();
    oscount_marker(OSCOUNT_END);
    char *after = raw_mmap(PAGE);
    atomic_store(&bg_stage, 4);
    pthread_join(bg, NULL);
    (void)before, (void)after;
}

static void test_oscount_counts_known_calls_exactly(void)
{
    static struct oscount_result r;
    struct diag d = { { 0 } };
    REQUIRE(oscount_run(known_calls, NULL, &r, &d) == 0);
    SKIP_IF(r.status != 0, r.note);
    const struct oscount_set *p = &r.pass;
    CHECK_EQ_U64(p->call[OSCALL_MMAP].count, 5);
    CHECK_EQ_U64(p->call[OSCALL_MMAP].bytes, 5 * 4 * PAGE);
    CHECK_EQ_U64(p->call[OSCALL_MUNMAP].count, 3);
    CHECK_EQ_U64(p->call[OSCALL_MUNMAP].bytes, 16 * PAGE);
    CHECK_EQ_U64(p->call[OSCALL_MADVISE].count, 6);
    CHECK_EQ_U64(p->advice[MADV_DONTNEED].count, 4);
    CHECK_EQ_U64(p->advice[MADV_FREE].count, 2);
    CHECK_EQ_U64(p->advice[MADV_FREE].bytes, 4 * PAGE);
    CHECK_EQ_U64(p->call[OSCALL_MREMAP].count, 1);
    CHECK_EQ_U64(p->call[OSCALL_MREMAP].bytes, 8 * PAGE);
    CHECK_EQ_U64(p->call[OSCALL_MPROTECT].count, 2);
    CHECK_EQ_U64(p->call[OSCALL_BRK].count, 0);
    CHECK_EQ_U64(p->call[OSCALL_MMAP].errors, 0);
    CHECK_EQ_U64(r.background.call[OSCALL_MMAP].count, 2);
    CHECK_EQ_U64(r.background.call[OSCALL_MUNMAP].count, 2);
    CHECK(r.floor_ns > 0);
    CHECK(r.threads >= 2);
}

static void errors_and_brk(void *arg)
{
    (void)arg;
    oscount_marker(OSCOUNT_BEGIN);
    syscall(SYS_munmap, (void *)(uintptr_t)1, PAGE); /* EINVAL: misaligned */
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    syscall(SYS_brk, cur + 16 * PAGE);
    syscall(SYS_brk, cur);
    oscount_marker(OSCOUNT_END);
}

static void test_oscount_counts_errors_and_brk_bytes(void)
{
    static struct oscount_result r;
    struct diag d = { { 0 } };
    REQUIRE(oscount_run(errors_and_brk, NULL, &r, &d) == 0);
    SKIP_IF(r.status != 0, r.note);
    CHECK_EQ_U64(r.pass.call[OSCALL_MUNMAP].count, 1);
    CHECK_EQ_U64(r.pass.call[OSCALL_MUNMAP].errors, 1);
    CHECK_EQ_U64(r.pass.call[OSCALL_BRK].count, 3);
    CHECK_EQ_U64(r.pass.call[OSCALL_BRK].bytes, 32 * PAGE); /* up 16 pages, down 16 */
}

static void test_oscount_markers_are_harmless_untraced(void)
{
    oscount_marker(OSCOUNT_BEGIN);
    oscount_marker(OSCOUNT_END);
    CHECK(1); /* no crash, no error: a madvise of length 0 */
}

int main(void)
{
    RUN_TEST(test_oscount_counts_known_calls_exactly);
    RUN_TEST(test_oscount_counts_errors_and_brk_bytes);
    RUN_TEST(test_oscount_markers_are_harmless_untraced);
    return check_report();
}
