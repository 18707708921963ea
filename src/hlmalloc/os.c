/*
 * hlmalloc/os.c: the only file that makes system calls.
 *
 * Contract: sizes and addresses are multiples of the OS page size; nothing here allocates
 * or uses stdio. Memory is mapped read-write with MAP_NORESERVE and becomes resident when
 * touched; "purge" is MADV_DONTNEED, so RSS falls at once where users look (MADV_FREE would
 * leave it counted until the kernel is short of memory: mimalloc #776), and purged memory
 * reads back as zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
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

void *hl_os_map(size_t size, size_t align)
{
    int saved = errno;
    /* Over-map by the alignment and trim both ends: the usual way to get alignment. */
    size_t span = size + align;
    if (span < size) return NULL;
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        errno = saved;
        return NULL;
    }
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p, tail = span - head - size;
    if (head) munmap(p, head);
    if (tail) munmap((void *)(start + size), tail);
    /* Name the mapping so /proc/PID/maps shows whose it is (Linux 5.17+; ignored before). */
    prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, start, size, (unsigned long)"hlmalloc");
    atomic_fetch_add_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
    errno = saved;
    return (void *)start;
}

void hl_os_unmap(void *p, size_t size)
{
    int saved = errno;
    munmap(p, size);
    atomic_fetch_sub_explicit(&hl_count.mapped_bytes, size, memory_order_relaxed);
    errno = saved;
}

void hl_os_purge(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    atomic_fetch_add_explicit(&hl_count.purges, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hl_count.purged_bytes, size, memory_order_relaxed);
    errno = saved;
}

int hl_os_protect(void *p, size_t size, int none)
{
    int saved = errno;
    int rc = mprotect(p, size, none ? PROT_NONE : PROT_READ | PROT_WRITE);
    errno = saved;
    return rc;
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
