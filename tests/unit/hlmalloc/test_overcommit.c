/*
 * tests/unit/hlmalloc/test_overcommit.c: a request the kernel's overcommit policy would
 * refuse fails with NULL and ENOMEM, as under glibc (docs/hlmalloc.md, "Out of memory").
 *
 * The expectation comes from the policy in /proc/sys/vm/overcommit_memory and the sizes in
 * /proc/meminfo, as the kernel decides an anonymous private mapping:
 *   0 (heuristic)  refused when larger than RAM + swap;
 *   1 (always)     granted while the address space lasts;
 *   2 (never)      refused past CommitLimit - Committed_AS.
 * Only sizes far from the boundary are asked for (a quarter of the limit, twice it), and
 * nothing is written, so the test costs no memory. Outside the sanitizer builds the C
 * library's malloc is asked the same and must agree.
 *
 * Under policy 2 the kernel charges every writable private mapping, so hlmalloc then
 * reserves segments PROT_NONE and commits slices as it uses them. This machine's policy
 * may not be 2 (and a test may not change it), so `commit_charges_what_is_used` re-runs
 * this program with HLMALLOC_OVERCOMMIT=2, which makes hlmalloc act as under policy 2,
 * and reads the charge from /proc/self/smaps: a VMA the kernel charged shows "ac" in its
 * VmFlags. It must cover the blocks in use and the segment header, not 32 MiB a segment,
 * and fall back after the blocks are freed and hl_collect() purges them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define TiB ((size_t)1 << 40)

static const char *self_path = "/proc/self/exe";

/* Hides a constant from the compiler, so it neither folds the call nor warns about it. */
static size_t opaque(size_t n)
{
    volatile size_t v = n;
    return v;
}

static int policy(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int p = 0;
    if (!f) return -1;
    if (fscanf(f, "%d", &p) != 1) p = -1;
    fclose(f);
    return p;
}

/* A /proc/meminfo field in bytes, or 0. */
static size_t meminfo(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    size_t len = strlen(field), kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kb = strtoull(line + len + 1, NULL, 10);
    fclose(f);
    return kb * KiB;
}

/* The most the kernel grants one mapping now, under the policy (SIZE_MAX: no limit). */
static size_t policy_limit(int pol)
{
    if (pol == 0) return meminfo("MemTotal") + meminfo("SwapTotal");
    if (pol == 2) {
        size_t limit = meminfo("CommitLimit"), used = meminfo("Committed_AS");
        return limit > used ? limit - used : 0;
    }
    return SIZE_MAX;
}

/* Did hl_malloc(n) succeed? A failure must set ENOMEM. */
static int hl_grants(size_t n)
{
    errno = 0;
    void *p = hl_malloc(opaque(n));
    if (!p) {
        if (errno != ENOMEM) fprintf(stderr, "  malloc(%zu) failed with errno %d\n", n, errno);
        CHECK(errno == ENOMEM);
        return 0;
    }
    hl_free(p);
    return 1;
}

static int libc_grants(size_t n)
{
    void *p = malloc(opaque(n));
    free(p);
    return p != NULL;
}

static void test_overcommit_policy_decides_like_glibc(void)
{
    SKIP_IF(HL_TEST_LIBC, "tests hlmalloc against the C library");
    int pol = policy();
    SKIP_IF(pol < 0, "no /proc/sys/vm/overcommit_memory");
    size_t limit = policy_limit(pol);
    SKIP_IF(limit == 0, "no /proc/meminfo");
    if (limit != SIZE_MAX) {
        CHECK(!hl_grants(2 * limit)); /* 30 GiB on a 24 GiB machine: refused */
        CHECK(!hl_grants(limit + limit / 2 + 64 * MiB));
        CHECK(hl_grants(limit / 4));
        if (!HL_TEST_SANITIZED) { /* ASan's malloc has its own limits */
            CHECK(!libc_grants(2 * limit));
            CHECK(libc_grants(limit / 4));
        }
    }
    /* 64 TiB: only policy 1 grants it (the user address space is 128 TiB). */
    CHECK(hl_grants(64 * TiB) == (pol == 1));
    if (!HL_TEST_SANITIZED) CHECK(libc_grants(64 * TiB) == (pol == 1));
    CHECK(!hl_grants(SIZE_MAX / 2));
}

static void test_overcommit_absurd_alignment_is_refused(void)
{
    SKIP_IF(HL_TEST_LIBC, "tests hlmalloc against the C library");
    int pol = policy();
    size_t limit = pol < 0 ? 0 : policy_limit(pol);
    SKIP_IF(limit == 0 || limit == SIZE_MAX || limit > 512 * GiB,
            "needs a policy that refuses 1 TiB");
    /* glibc maps size + alignment for it, and the policy refuses 1 TiB. */
    void *p = &p;
    CHECK(hl_posix_memalign(&p, opaque(TiB), 100) == ENOMEM);
    CHECK(p == &p);
    errno = 0;
    CHECK(hl_aligned_alloc(opaque(TiB), 100) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(hl_memalign(opaque(4 * limit), 100) == NULL && errno == ENOMEM);
    if (!HL_TEST_SANITIZED) {
        void *q = &q;
        CHECK(posix_memalign(&q, opaque(TiB), 100) == ENOMEM);
    }
    /* An alignment the policy allows works, and the block is aligned. */
    size_t align = (size_t)1 << 30;
    if (align < limit / 4) {
        void *r = NULL;
        CHECK(hl_posix_memalign(&r, align, 100) == 0);
        CHECK(r != NULL && ((uintptr_t)r & (align - 1)) == 0);
        hl_free(r);
    }
}

/* Bytes of the VMAs within [lo, hi) whose VmFlags hold `flag` (/proc/self/smaps). */
static size_t smaps_bytes_with(uintptr_t lo, uintptr_t hi, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    uintptr_t a = 0, b = 0;
    size_t total = 0;
    if (!f) return SIZE_MAX;
    while (fgets(line, sizeof(line), f)) {
        unsigned long x, y;
        if (sscanf(line, "%lx-%lx ", &x, &y) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            a = x;
            b = y;
            continue;
        }
        if (strncmp(line, "VmFlags:", 8) != 0) continue;
        char want[8];
        snprintf(want, sizeof(want), " %s", flag);
        if (!strstr(line + 8, want)) continue;
        uintptr_t s = a > lo ? a : lo, e = b < hi ? b : hi;
        if (e > s) total += e - s;
    }
    fclose(f);
    return total;
}

enum { COMMIT_BLOCKS = 200 };

/* The child of commit_charges_what_is_used: runs as if under policy 2. 0 if all held. */
static int commit_child(void)
{
    static void *blocks[COMMIT_BLOCKS];
    int bad = 0;
    for (int i = 0; i < COMMIT_BLOCKS; i++) {
        blocks[i] = hl_malloc(5000); /* 1 MiB in 5 KiB blocks: 16 pages of 64 KiB */
        if (!blocks[i]) return 10;
        memset(blocks[i], 1, 5000);
    }
    uintptr_t seg = (uintptr_t)blocks[0] & ~(uintptr_t)(32 * MiB - 1);
    size_t charged = smaps_bytes_with(seg, seg + 32 * MiB, "ac");
    fprintf(stderr, "  in use: %zu KiB charged in the segment\n", charged / KiB);
    /* The blocks' pages (1 MiB and change) and the header slice, not the 32 MiB. */
    if (charged < MiB || charged > 4 * MiB) bad |= 1;
    for (int i = 0; i < COMMIT_BLOCKS; i++)
        hl_free(blocks[i]);
    hl_collect();
    charged = smaps_bytes_with(seg, seg + 32 * MiB, "ac");
    fprintf(stderr, "  after free and collect: %zu KiB charged\n", charged / KiB);
    if (charged > 256 * KiB) bad |= 2;
    /* A big block in a segment commits its slices, and decommits them when purged. */
    char *big = hl_malloc(8 * MiB);
    if (!big) return 11;
    memset(big, 1, 8 * MiB);
    uintptr_t bseg = (uintptr_t)big & ~(uintptr_t)(32 * MiB - 1);
    if (smaps_bytes_with(bseg, bseg + 32 * MiB, "ac") < 8 * MiB) bad |= 4;
    hl_free(big);
    hl_collect();
    if (smaps_bytes_with(bseg, bseg + 32 * MiB, "ac") > 256 * KiB) bad |= 8;
    return bad;
}

static void test_overcommit_commit_charges_what_is_used(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's commit mode");
    SKIP_IF(smaps_bytes_with(0, 1, "ac") == SIZE_MAX, "no /proc/self/smaps");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setenv("HLMALLOC_OVERCOMMIT", "2", 1);
        char *const argv[] = { (char *)self_path, (char *)"--commit-child", NULL };
        execv(self_path, argv);
        _exit(127);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        fprintf(stderr,
                "  commit child: status %d (1: charged too much or too little in use, "
                "2: not given back, 4/8: a large block)\n",
                WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        self_path = exe;
    }
    if (argc == 2 && strcmp(argv[1], "--commit-child") == 0) return commit_child();
    RUN_TEST(test_overcommit_policy_decides_like_glibc);
    RUN_TEST(test_overcommit_absurd_alignment_is_refused);
    RUN_TEST(test_overcommit_commit_charges_what_is_used);
    return check_report();
}
