/*
 * hlmalloc/os.c: the only file that makes system calls.
 *
 * Contract: sizes and addresses are multiples of the OS page size; nothing here allocates
 * or uses stdio, and errno is as the caller left it. "Purge" is MADV_DONTNEED, so RSS
 * falls at once where users look (MADV_FREE would leave it counted until the kernel is
 * short of memory: mimalloc #776), and purged memory reads back as zero.
 *
 * Overcommit: a request the kernel's policy (vm.overcommit_memory) would refuse fails as
 * under glibc, because hlmalloc asks the kernel the same question glibc does.
 *   - Huge blocks and the heap pool are mapped read-write without MAP_NORESERVE, charged
 *     like glibc's mmap'd chunks: under policy 0 one larger than RAM + swap is refused,
 *     under 1 anything fits the address space, under 2 the commit limit decides. An
 *     alignment above 32 MiB maps size + alignment first (glibc asks for as much).
 *   - Segments are address space, reserved with MAP_NORESERVE under policies 0 and 1
 *     (glibc's arenas reserve theirs PROT_NONE: uncharged either way). Under policy 2
 *     the kernel charges every writable private mapping, NORESERVE or not, so there they
 *     are reserved PROT_NONE and their slices committed (mprotect) when taken and
 *     decommitted (mapped PROT_NONE again) when purged, as glibc does with its heaps: a
 *     process is charged for what it uses, not for 32 MiB a thread. `hl_opt.commit`.
 * Aligned address space is taken without asking for size + alignment where possible
 * (the place below the last one, then wherever the kernel puts it if aligned, then the
 * aligned place below that), so that under `ulimit -v` the last megabytes are usable.
 *
 * Every mmap, munmap, madvise, mprotect and mremap goes through os_mmap, os_munmap,
 * os_madvise, os_mprotect or os_fault (hl_os_move). Built with HL_FAULT=1 (the fault-injection test library), the Nth of
 * them after hl_os_fault_arm(N) fails with ENOMEM. A munmap that fails is retried later
 * (hl_os_retry_unmaps): its bytes stay in mapped_bytes until it succeeds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hlmalloc/internal.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef HL_FAULT
#define HL_FAULT 0
#endif

#define HL_UNMAP_RETRY 32 /* munmaps that failed, kept for another try */

static struct os_state {
    _Atomic uintptr_t hint;     /* start of the last aligned mapping: try just below */
    _Atomic uint64_t calls;     /* memory calls made since hl_os_fault_arm (HL_FAULT) */
    _Atomic uint64_t fail_at;   /* the call to fail (HL_FAULT); 0 = none */
    _Atomic uint64_t faults;    /* calls failed on purpose */
    pthread_mutex_t retry_lock; /* guards retry[] */
    struct {
        void *p;
        size_t size;
    } retry[HL_UNMAP_RETRY];
    unsigned retry_n;
} os = { .retry_lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the four memory calls, with fault injection ------------------------------------ */

/* Should this call fail on purpose? Only in the HL_FAULT build, for the armed call. */
static bool os_fault(void)
{
    if (!HL_FAULT) return false;
    uint64_t at = atomic_load_explicit(&os.fail_at, memory_order_relaxed);
    if (at == 0) return false;
    if (atomic_fetch_add_explicit(&os.calls, 1, memory_order_relaxed) + 1 != at) return false;
    atomic_fetch_add_explicit(&os.faults, 1, memory_order_relaxed);
    errno = ENOMEM;
    return true;
}

static void *os_mmap(void *at, size_t size, int prot, int flags)
{
    if (os_fault()) return MAP_FAILED;
    return mmap(at, size, prot, flags, -1, 0);
}

static int os_munmap(void *p, size_t size)
{
    if (os_fault()) return -1;
    return munmap(p, size);
}

static int os_madvise(void *p, size_t size, int advice)
{
    if (os_fault()) return -1;
    return madvise(p, size, advice);
}

static int os_mprotect(void *p, size_t size, int prot)
{
    if (os_fault()) return -1;
    return mprotect(p, size, prot);
}

void hl_os_fault_arm(uint64_t nth)
{
    atomic_store(&os.calls, 0);
    atomic_store(&os.fail_at, nth);
}

uint64_t hl_os_fault_calls(void)
{
    return atomic_load(&os.calls);
}

uint64_t hl_os_fault_count(void)
{
    return atomic_load(&os.faults);
}

/* ---- mapping and unmapping ---------------------------------------------------------- */

/* Unmap [p, p+size) of a mapping made here; a failure is kept to retry. */
static void unmap_or_keep(void *p, size_t size)
{
    if (os_munmap(p, size) == 0) {
        atomic_fetch_sub_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
        return;
    }
    pthread_mutex_lock(&os.retry_lock);
    if (os.retry_n < HL_UNMAP_RETRY) {
        os.retry[os.retry_n].p = p;
        os.retry[os.retry_n].size = size;
        os.retry_n++;
    } /* else: it stays mapped and counted for good */
    pthread_mutex_unlock(&os.retry_lock);
}

/* Map exactly [at, at+size), or nothing (at is taken, or the kernel refused). */
static void *map_at(uintptr_t at, size_t size, int prot, int flags)
{
    void *p = os_mmap((void *)at, size, prot, flags | MAP_FIXED_NOREPLACE);
    if (p == MAP_FAILED) return NULL;
    if ((uintptr_t)p != at) { /* a kernel before 4.17 took the address as a hint */
        atomic_fetch_add_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
        unmap_or_keep(p, size);
        errno = EEXIST;
        return NULL;
    }
    return p;
}

/*
 * size bytes at p where p + phase is a multiple of align (a power of two >= the page
 * size), or NULL with errno set (ENOMEM: the kernel refused, or no room). With `cheap`
 * (phase 0 only), size + align is asked for at once only when the cheaper ways fail;
 * without it that is the only way, so that the kernel's policy judges size + align (as
 * it judges glibc's request for an alignment).
 */
static void *map_aligned(size_t size, size_t align, size_t phase, int prot, int flags, bool cheap)
{
    void *p;
    if (cheap && phase == 0) {
        /* 1. Just below the last aligned mapping: the kernel hands out addresses top
         *    down, so it is usually free (one call). */
        uintptr_t hint = atomic_load_explicit(&os.hint, memory_order_relaxed);
        if (hint > size + align) {
            uintptr_t at = (hint - size) & ~(uintptr_t)(align - 1);
            if ((p = map_at(at, size, prot, flags)) != NULL) goto mapped;
            if (errno == ENOMEM) return NULL; /* refused: no other place is better */
        }
        /* 2. Where the kernel puts it, if aligned; else the aligned place just below. */
        p = os_mmap(NULL, size, prot, flags);
        if (p == MAP_FAILED) return NULL;
        if (((uintptr_t)p & (align - 1)) == 0) goto mapped;
        uintptr_t below = (uintptr_t)p & ~(uintptr_t)(align - 1);
        atomic_fetch_add_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
        unmap_or_keep(p, size);
        if ((p = map_at(below, size, prot, flags)) != NULL) goto mapped;
    }
    /* 3. Over-map by the alignment and trim both ends. */
    size_t span = size + align;
    if (span < size) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *m = os_mmap(NULL, span, prot, flags);
    if (m == MAP_FAILED) return NULL;
    atomic_fetch_add_explicit(&hl_count.mapped_bytes, span, memory_order_relaxed);
    uintptr_t start = (((uintptr_t)m + phase + align - 1) & ~(uintptr_t)(align - 1)) - phase;
    size_t head = start - (uintptr_t)m, tail = span - head - size;
    if (head) unmap_or_keep(m, head);
    if (tail) unmap_or_keep((void *)(start + size), tail);
    p = (void *)start;
    goto named;
mapped:
    atomic_fetch_add_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
named:
    atomic_store_explicit(&os.hint, (uintptr_t)p, memory_order_relaxed);
    /* Name the mapping so /proc/PID/maps shows whose it is (Linux 5.17+; ignored before). */
    prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (uintptr_t)p, size, (unsigned long)"hlmalloc");
    return p;
}

void *hl_os_reserve(size_t size, size_t align)
{
    int saved = errno;
    void *p = hl_opt.commit
                      ? map_aligned(size, align, 0, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, true)
                      : map_aligned(size, align, 0, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, true);
    errno = saved;
    return p;
}

void *hl_os_map(size_t size, size_t align, size_t phase)
{
    int saved = errno;
    void *p = map_aligned(size, align, phase, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          align <= HL_SEG_SIZE);
    errno = saved;
    return p;
}

int hl_os_commit(void *p, size_t size)
{
    int saved = errno;
    int rc = os_mprotect(p, size, PROT_READ | PROT_WRITE);
    errno = saved;
    return rc;
}

void hl_os_unmap(void *p, size_t size)
{
    int saved = errno;
    unmap_or_keep(p, size);
    errno = saved;
}

void hl_os_retry_unmaps(void)
{
    if (__atomic_load_n(&os.retry_n, __ATOMIC_RELAXED) == 0) return;
    int saved = errno;
    pthread_mutex_lock(&os.retry_lock);
    for (unsigned i = 0; i < os.retry_n;) {
        if (os_munmap(os.retry[i].p, os.retry[i].size) != 0) {
            i++;
            continue;
        }
        atomic_fetch_sub_explicit(&hl_count.mapped_bytes, os.retry[i].size, memory_order_relaxed);
        os.retry[i] = os.retry[--os.retry_n];
    }
    pthread_mutex_unlock(&os.retry_lock);
    errno = saved;
}

uint64_t hl_os_mapped_bytes(size_t *pending)
{
    pthread_mutex_lock(&os.retry_lock);
    size_t bytes = 0;
    for (unsigned i = 0; i < os.retry_n; i++)
        bytes += os.retry[i].size;
    uint64_t mapped = atomic_load_explicit(&hl_count.mapped_bytes, memory_order_relaxed);
    pthread_mutex_unlock(&os.retry_lock);
    *pending = bytes;
    return mapped;
}

void hl_os_fork(int phase)
{
    if (phase == 0)
        pthread_mutex_lock(&os.retry_lock);
    else
        pthread_mutex_unlock(&os.retry_lock);
}

size_t hl_os_unmaps_pending(void)
{
    pthread_mutex_lock(&os.retry_lock);
    size_t bytes = 0;
    for (unsigned i = 0; i < os.retry_n; i++)
        bytes += os.retry[i].size;
    pthread_mutex_unlock(&os.retry_lock);
    return bytes;
}

int hl_os_purge(void *p, size_t size)
{
    int saved = errno;
    int rc;
    if (hl_opt.commit) {
        /* Mapped anew, PROT_NONE: the pages go and so does the commit charge. */
        void *q = os_mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        rc = q == p ? 0 : -1;
    } else {
        rc = os_madvise(p, size, MADV_DONTNEED);
    }
    if (rc == 0) {
        atomic_fetch_add_explicit(&hl_count.purges, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&hl_count.purged_bytes, size, memory_order_relaxed);
    }
    errno = saved;
    return rc;
}

int hl_os_move(void *from, size_t size, void *to)
{
    int saved = errno;
    int rc = -1;
    if (!os_fault())
        rc = mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to) == to ? 0 : -1;
    if (rc == 0) atomic_fetch_sub_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
    errno = saved;
    return rc;
}

int hl_os_grow(void *p, size_t size, size_t to)
{
    int saved = errno;
    int rc = -1;
    if (!os_fault()) rc = mremap(p, size, to, 0) == p ? 0 : -1;
    if (rc == 0) atomic_fetch_add_explicit(&hl_count.mapped_bytes, to - size, memory_order_relaxed);
    errno = saved;
    return rc;
}

int hl_os_protect(void *p, size_t size, int none)
{
    int saved = errno;
    int rc = os_mprotect(p, size, none ? PROT_NONE : PROT_READ | PROT_WRITE);
    errno = saved;
    return rc;
}

bool hl_os_space_limited(void)
{
    struct rlimit r;
    return getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY;
}

int hl_os_overcommit_policy(void)
{
    int saved = errno;
    char c = '0';
    int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &c, 1) != 1) c = '0';
        close(fd);
    }
    errno = saved;
    return c >= '0' && c <= '2' ? c - '0' : 0;
}

uint64_t hl_os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hl_os_write(const char *s, size_t n)
{
    int saved = errno;
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        }
    }
    errno = saved;
}

uintptr_t hl_os_random(void)
{
    int saved = errno;
    uintptr_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&r;
    }
    errno = saved;
    return r | 1;
}

void hl_os_yield(void)
{
    sched_yield();
}

void hl_os_wait(_Atomic uint32_t *word, uint32_t seen, uint32_t ms)
{
    int saved = errno;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    errno = saved;
}

void hl_os_wake(_Atomic uint32_t *word)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}

/*
 * The threads of this process still running, from /proc/self/stat: num_threads (field
 * 20), less one when the state (field 3) is Z. After main() calls pthread_exit the
 * process's first thread stays in the thread group as a zombie until the last thread
 * ends, counted in num_threads; the state shown for the process is that thread's.
 * -1 if /proc cannot be read. About 25 us (open, read, close).
 */
int hl_os_live_threads(void)
{
    int saved = errno;
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0) close(fd);
    errno = saved;
    if (n <= 0) return -1;
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: skip past the last ')'. */
    char *c = NULL;
    for (char *q = buf; *q; q++)
        if (*q == ')') c = q;
    if (!c || c[1] != ' ' || !c[2]) return -1;
    char state = c[2];
    unsigned field = 3;
    for (c += 2; *c && field < 20; c++)
        if (*c == ' ') field++;
    if (field != 20 || *c < '0' || *c > '9') return -1;
    long threads = 0;
    for (; *c >= '0' && *c <= '9' && threads < 1000000000L; c++)
        threads = threads * 10 + (*c - '0');
    if (state == 'Z' && threads > 0) threads--;
    return (int)threads;
}
