/*
 * trace/shim.c: libheaplab-trace.so, the malloc recorder `heaplab record` preloads.
 *
 * It defines malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, free_sized and free_aligned_sized; each forwards to the next
 * definition in the search order (dlsym(RTLD_NEXT): glibc, or an allocator preloaded after
 * this library) and records the call in heaplab.trace/1 (format.h, docs/traces.md).
 *
 * Hot path. Each thread owns a slot: an mmap'd buffer it encodes its events into (delta +
 * varint, about 6-9 bytes an event), with no lock. A free takes its sequence number from one
 * global atomic counter before the real call, an allocation after it returns, so an address's
 * allocation always numbers below its free, across threads too. When the buffer is full the
 * thread seals it (header, CRC-32C) and writes it with one write(2) to the O_APPEND file
 * descriptor, so chunks never interleave. There is no writer thread: a background thread in
 * every traced process would complicate fork and exit for a saving of about one write(2) per
 * 64 KiB of events (docs/traces.md has the measurements). Timestamps are the TSC (rdtsc,
 * about 11 ns here against 26 ns for clock_gettime on this KVM guest); each chunk carries
 * two (TSC, CLOCK_MONOTONIC) pairs, so readers convert to ns without a global calibration.
 * Nothing on the recording path calls malloc.
 *
 * Exclusion without locks. Whoever flushes every thread at the end (exit, _exit, exec, a
 * fatal signal) first sets the FROZEN bit of the sequence counter with one atomic RMW. An
 * owner marks its slot busy (relaxed store) before its own RMW on the counter (fetch_add,
 * acq_rel): either that RMW comes first, and then the flusher sees busy and waits for it to
 * clear, or it returns the FROZEN bit and the owner records nothing more. Either way the
 * flusher and the owner never write the same buffer at once.
 *
 * Lifecycle:
 *   - start: the first call of any wrapper (or the constructor) resolves the real functions
 *     (calls made by dlsym itself are served from a static bump buffer and never reach the
 *     real free), reads the HEAPLAB_TRACE_* variables, creates the file and writes the header;
 *   - threads: a thread's first event takes a slot and a dense index and records a THREAD
 *     event with its OS tid; at exit a pthread key destructor (in its second round, so other
 *     libraries' destructors go first) flushes the slot and frees it; events after that are
 *     written one per chunk;
 *   - exit (destructor), _exit/_Exit, fatal signals (when their disposition is the default;
 *     the handler flushes with write(2) only, restores the default and raises the signal
 *     again) and exec*: every slot is flushed, then an end record is written;
 *   - fork: the child drops the parent's buffered events (the parent writes them), starts
 *     thread numbering again and writes its own file (created on its first write);
 *   - sigaction/signal report the program's view (the default) for signals the recorder
 *     handles, so a program that looks (Python does, for SIGINT) behaves as untraced.
 *
 * Files: HEAPLAB_TRACE_FILE (default heaplab-<pid>.trace in the current directory), made
 * absolute at start. The first process to start recording creates it; every later process
 * (fork children, exec'd images) writes FILE.<pid>, or FILE.<pid>.<n> if that exists. Files
 * are created with O_EXCL and never overwritten. Other variables: HEAPLAB_TRACE_BUFFER
 * (bytes per thread buffer, 4 KiB..16 MiB, default 64 KiB), HEAPLAB_TRACE_SESSION (a number
 * copied into the header).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SHIM_CLOCK "tsc"
#else
#define SHIM_CLOCK "monotonic"
#endif

#include "trace/format.h"

#define EXPORT      __attribute__((visibility("default")))
#define INLINE      static inline __attribute__((always_inline))
#define COLD        __attribute__((noinline, cold))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define MAX_SLOTS      4096
#define DEFAULT_BUFFER (64u << 10)
#define SEQ_FROZEN     (1ull << 62)
#define NOSEQ          UINT64_MAX
#define ARGV_MAX       (32u << 10)
#define HDR_MAX        (ARGV_MAX + 3 * PATH_MAX + 2048)

/* Not declared by glibc 2.36. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

/* ---- state -------------------------------------------------------------------------- */

enum { ST_UNINIT, ST_INIT, ST_ON, ST_OFF };
static _Atomic int g_state;

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void (*free_sized)(void *, size_t);
    void (*free_aligned_sized)(void *, size_t, size_t);
    pid_t (*fork)(void);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    void (*exit_)(int);
    void (*Exit_)(int);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    sighandler_t (*signal)(int, sighandler_t);
} real;

/* The sequence counter, alone on its cache line: every event of every thread updates it. */
static struct {
    _Alignas(64) _Atomic uint64_t v;
    char pad[56];
} g_seq;

/* A thread's buffer. `committed` packs (payload bytes << 32) | events: only whole events
 * are below it, so a flusher can always seal what it covers. */
struct slot {
    _Alignas(64) _Atomic int used;
    _Atomic int busy;
    _Atomic uint64_t committed;
    uint8_t *buf; /* TF_CHUNK_HDR + g_cap bytes; kept when the slot is reused */
    uint32_t thread, tid;
    uint64_t open_ticks, open_ns;
    struct tf_delta delta;
};
static struct slot g_slots[MAX_SLOTS];
static _Atomic uint32_t g_slots_hi; /* slots [0, hi) may be in use */

enum { M_NEW, M_ON, M_TAIL, M_OFF };
struct tls_state {
    struct slot *slot;
    uint32_t thread, tid; /* kept after the slot is given back (tail mode) */
    int nest;             /* inside a wrapper: nested calls pass through unrecorded */
    int mode;
    int exit_round;
};
static __thread struct tls_state tls __attribute__((tls_model("initial-exec")));

static _Atomic uint32_t g_threads;
static _Atomic uint64_t g_events, g_chunks, g_dropped;
static _Atomic int g_flushing;
static uint32_t g_cap = DEFAULT_BUFFER; /* payload bytes per buffer */
static uint64_t g_session;
static pthread_key_t g_key;
static _Atomic pid_t g_pid;

/* Output. In a fork child the file is created on its first write (g_open: 0 to do, 1 being
 * done, 2 done or given up). */
static _Atomic int g_fd = -1;
static _Atomic int g_open = 2;
static _Atomic int g_fd_bad;
static _Atomic int g_reopening;
static char g_path[PATH_MAX + 64]; /* this process's file */
static dev_t g_dev;
static ino_t g_ino;
static int g_forked;
static uint64_t g_fork_seq;
static char g_base[PATH_MAX];

/* What the header says that does not change in a fork child. */
static char g_program[PATH_MAX];
static char g_cmdline[ARGV_MAX];
static size_t g_cmdline_len;
static int g_cmdline_trunc;
static struct utsname g_uts;
static char g_next_malloc[PATH_MAX];
static uint8_t g_hdr[HDR_MAX];

/* ---- small helpers ------------------------------------------------------------------ */

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return mono_ns();
#endif
}

static char *put_str(char *p, const char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_uint(char *p, const char *end, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

static uint64_t parse_uint(const char *s, uint64_t dflt)
{
    if (!s || !*s) return dflt;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > UINT64_MAX / 10 - 10) return dflt;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* One line on stderr, for the few things a user must know (the file cannot be created). */
static void complain(const char *what, const char *path, int err)
{
    char line[PATH_MAX + 128];
    char *p = line, *end = line + sizeof(line) - 1;
    p = put_str(p, end, "heaplab-trace: ");
    p = put_str(p, end, what);
    p = put_str(p, end, path);
    p = put_str(p, end, " (errno ");
    p = put_uint(p, end, (uint64_t)err);
    p = put_str(p, end, "); not recording\n");
    ssize_t w = write(2, line, (size_t)(p - line));
    (void)w;
}

/* ---- bootstrap allocations ---------------------------------------------------------- */

/* Served while dlsym resolves the real functions; never given to the real free. */
static _Alignas(64) unsigned char g_bump[128 << 10];
static _Atomic size_t g_bump_used;

static inline int in_bump(const void *p)
{
    return (const unsigned char *)p >= g_bump && (const unsigned char *)p < g_bump + sizeof(g_bump);
}

static void *bump_alloc(size_t n, size_t align)
{
    if (align < 16) align = 16;
    if (align & (align - 1) || n > sizeof(g_bump)) {
        errno = align & (align - 1) ? EINVAL : ENOMEM;
        return NULL;
    }
    size_t off = atomic_load(&g_bump_used), start, end;
    do {
        start = (off + 16 + align - 1) & ~(align - 1);
        end = start + n;
        if (end > sizeof(g_bump)) {
            errno = ENOMEM;
            return NULL;
        }
    } while (!atomic_compare_exchange_weak(&g_bump_used, &off, end));
    memcpy(g_bump + start - sizeof(size_t), &n, sizeof(n));
    return g_bump + start;
}

static void *pt_malloc(size_t n);

static void *bump_realloc(void *p, size_t n)
{
    size_t old;
    memcpy(&old, (unsigned char *)p - sizeof(size_t), sizeof(old));
    void *q = pt_malloc(n);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
}

/* Pass-through: nested calls, calls while starting, and when not recording. */
static void *pt_malloc(size_t n)
{
    return real.malloc ? real.malloc(n) : bump_alloc(n, 16);
}

static void pt_free(void *p)
{
    if (real.free && !in_bump(p)) real.free(p);
}

static void *pt_calloc(size_t a, size_t b)
{
    if (real.calloc) return real.calloc(a, b);
    if (b && a > SIZE_MAX / b) {
        errno = ENOMEM;
        return NULL;
    }
    return bump_alloc(a * b, 16); /* the bump buffer is never reused: still zero */
}

static void *pt_realloc(void *p, size_t n)
{
    if (p && in_bump(p)) return bump_realloc(p, n);
    if (real.realloc) return real.realloc(p, n);
    return p ? bump_realloc(p, n) : bump_alloc(n, 16);
}

static void *pt_aligned(size_t align, size_t n)
{
    if (real.memalign) return real.memalign(align, n);
    return bump_alloc(n, align);
}

/* ---- chunks ------------------------------------------------------------------------- */

static int open_output(void);

/* The program closed our descriptor (daemons close them all; so do some children before
 * exec) or put another file at its number: open our file again by name. */
static int reopen_output(void)
{
    int z = 0;
    if (!atomic_compare_exchange_strong(&g_reopening, &z, 1)) return -1;
    int ok = 0, fd = open(g_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_dev == g_dev && sb.st_ino == g_ino) {
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
            if (high >= 0) {
                close(fd);
                fd = high;
            }
            atomic_store(&g_fd, fd);
            ok = 1;
        } else {
            close(fd);
        }
    }
    atomic_store(&g_reopening, 0);
    return ok ? 0 : -1;
}

static void write_out(const void *data, size_t n)
{
    /* A process made by clone() without fork() shares our state but not our pid: its
     * events would land in the parent's file under the parent's thread numbers. */
    if (UNLIKELY(getpid() != atomic_load_explicit(&g_pid, memory_order_relaxed))) return;
    if (atomic_load_explicit(&g_open, memory_order_acquire) != 2) open_output();
    int fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
    if (fd < 0 || atomic_load_explicit(&g_fd_bad, memory_order_relaxed)) return;
    /* Never write into someone else's file. */
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_dev != g_dev || sb.st_ino != g_ino) {
        if (reopen_output() != 0) {
            atomic_store(&g_fd_bad, 1);
            return;
        }
        fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
    }
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            atomic_store(&g_fd_bad, 1);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Seal the slot's events into a chunk and write it. Called by the owner (inside its busy
 * window) or by a flusher that has excluded the owner. */
static COLD void seal(struct slot *s)
{
    uint64_t c = atomic_load_explicit(&s->committed, memory_order_acquire);
    uint32_t len = (uint32_t)(c >> 32), n = (uint32_t)c;
    if (n == 0) return;
    int saved = errno;
    struct tf_chunk h = {
        .type = TF_CHUNK_EVENTS,
        .thread = s->thread,
        .tid = s->tid,
        .events = n,
        .payload = len,
        .open_ticks = s->open_ticks,
        .open_ns = s->open_ns,
    };
    h.close_ticks = now_ticks();
    h.close_ns = mono_ns();
    h.payload_crc = crc32c(s->buf + TF_CHUNK_HDR, len);
    tf_chunk_pack(s->buf, &h);
    write_out(s->buf, TF_CHUNK_HDR + (size_t)len);
    atomic_store_explicit(&s->committed, 0, memory_order_release);
    atomic_fetch_add_explicit(&g_events, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_chunks, 1, memory_order_relaxed);
    errno = saved;
}

/* Append one event to the slot (busy is set). */
INLINE void put(struct slot *s, const struct tf_ev *e)
{
    uint64_t c = atomic_load_explicit(&s->committed, memory_order_relaxed);
    uint32_t len = (uint32_t)(c >> 32), n = (uint32_t)c;
    if (UNLIKELY(len + TF_MAX_EVENT > g_cap)) {
        seal(s);
        len = n = 0;
    }
    if (n == 0) {
        s->open_ticks = e->ticks;
        s->open_ns = mono_ns();
        tf_delta_start(&s->delta, e->ticks);
    }
    uint8_t *p = s->buf + TF_CHUNK_HDR + len;
    uint8_t *q = tf_put_event(p, &s->delta, e);
    len += (uint32_t)(q - p);
    atomic_store_explicit(&s->committed, ((uint64_t)len << 32) | (n + 1), memory_order_release);
}

/* Mark the slot busy and take a sequence number; NOSEQ (and not busy) when frozen. */
INLINE uint64_t seq_take(struct slot *s)
{
    atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
    uint64_t q = atomic_fetch_add_explicit(&g_seq.v, 1, memory_order_acq_rel);
    if (UNLIKELY(q & SEQ_FROZEN)) {
        atomic_store_explicit(&s->busy, 0, memory_order_release);
        return NOSEQ;
    }
    return q;
}

INLINE void unbusy(struct slot *s)
{
    atomic_store_explicit(&s->busy, 0, memory_order_release);
}

/* Tail mode (after the thread's key destructor): a number without a slot. */
static uint64_t tail_seq(void)
{
    if (tls.mode != M_TAIL) {
        if (tls.mode == M_OFF) atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
        return NOSEQ;
    }
    uint64_t q = atomic_fetch_add_explicit(&g_seq.v, 1, memory_order_acq_rel);
    return q & SEQ_FROZEN ? NOSEQ : q;
}

/* Tail mode: one event, one chunk, written at once. (By value: an event whose address
 * escaped to a non-inlined function would be built in memory on every hot path.) */
static COLD void tail_write(struct tf_ev e)
{
    int saved = errno;
    uint8_t b[TF_CHUNK_HDR + TF_MAX_EVENT];
    e.ticks = now_ticks();
    struct tf_delta st;
    tf_delta_start(&st, e.ticks);
    uint8_t *q = tf_put_event(b + TF_CHUNK_HDR, &st, &e);
    struct tf_chunk h = {
        .type = TF_CHUNK_EVENTS,
        .thread = tls.thread,
        .tid = tls.tid,
        .events = 1,
        .payload = (uint32_t)(q - b - TF_CHUNK_HDR),
        .open_ticks = e.ticks,
        .open_ns = mono_ns(),
    };
    h.close_ticks = now_ticks();
    h.close_ns = mono_ns();
    h.payload_crc = crc32c(b + TF_CHUNK_HDR, h.payload);
    tf_chunk_pack(b, &h);
    write_out(b, TF_CHUNK_HDR + h.payload);
    atomic_fetch_add_explicit(&g_events, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_chunks, 1, memory_order_relaxed);
    errno = saved;
}

static void record_thread_start(struct slot *s);

/* The calling thread's first event: a slot, an index and a THREAD event. NULL when the
 * thread is not recorded (no slot left) or has exited (tail mode). */
static COLD struct slot *thread_begin(void)
{
    if (tls.mode != M_NEW) return NULL;
    int saved = errno;
    struct slot *s = NULL;
    uint32_t i;
    for (i = 0; i < MAX_SLOTS; i++) {
        int z = 0;
        if (atomic_load_explicit(&g_slots[i].used, memory_order_relaxed) == 0
            && atomic_compare_exchange_strong(&g_slots[i].used, &z, 1)) {
            s = &g_slots[i];
            break;
        }
    }
    if (s && !s->buf) {
        void *m = mmap(NULL, TF_CHUNK_HDR + (size_t)g_cap, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            atomic_store(&s->used, 0);
            s = NULL;
        } else {
            s->buf = m;
        }
    }
    if (!s) {
        tls.mode = M_OFF;
        atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
        errno = saved;
        return NULL;
    }
    uint32_t hi = atomic_load(&g_slots_hi);
    while (hi < i + 1 && !atomic_compare_exchange_weak(&g_slots_hi, &hi, i + 1)) {
    }
    s->thread = atomic_fetch_add(&g_threads, 1);
    s->tid = (uint32_t)gettid();
    atomic_store_explicit(&s->committed, 0, memory_order_relaxed);
    tls.slot = s;
    tls.thread = s->thread;
    tls.tid = s->tid;
    tls.mode = M_ON;
    tls.exit_round = 0;
    pthread_setspecific(g_key, s);
    record_thread_start(s);
    errno = saved;
    return s;
}

/* Record an event with one sequence number, taken now: after the call for allocations,
 * before it for frees. */
INLINE void record(struct tf_ev *e)
{
    struct slot *s = tls.slot;
    if (UNLIKELY(!s)) {
        s = thread_begin();
        if (!s) {
            uint64_t q = tail_seq();
            if (q == NOSEQ) return;
            e->seq = e->seq2 = q;
            tail_write(*e);
            return;
        }
    }
    uint64_t q = seq_take(s);
    if (UNLIKELY(q == NOSEQ)) return;
    e->seq = e->seq2 = q;
    e->ticks = now_ticks();
    put(s, e);
    unbusy(s);
}

static void record_thread_start(struct slot *s)
{
    struct tf_ev e = { .kind = TRACE_THREAD, .value = s->tid };
    uint64_t q = seq_take(s);
    if (q == NOSEQ) return;
    e.seq = e.seq2 = q;
    e.ticks = now_ticks();
    put(s, &e);
    unbusy(s);
}

/* realloc*: the free half's number before the call ... */
INLINE struct slot *half_begin(struct tf_ev *e)
{
    struct slot *s = tls.slot;
    if (UNLIKELY(!s)) s = thread_begin();
    if (LIKELY(s != NULL)) {
        e->seq = seq_take(s);
        if (e->seq != NOSEQ) unbusy(s);
    } else {
        e->seq = tail_seq();
    }
    return s;
}

/* ... and the allocation half's after it, with the event. */
INLINE void half_end(struct slot *s, struct tf_ev *e)
{
    if (e->seq == NOSEQ) return;
    if (LIKELY(s != NULL)) {
        uint64_t q = seq_take(s);
        if (q == NOSEQ) return;
        e->seq2 = q;
        e->ticks = now_ticks();
        put(s, e);
        unbusy(s);
    } else {
        e->seq2 = tail_seq();
        if (e->seq2 != NOSEQ) tail_write(*e);
    }
}

static void write_end(unsigned reason, int sig)
{
    if (atomic_load(&g_open) == 0) return; /* a fork child that never wrote: no file */
    uint8_t b[TF_CHUNK_HDR + TF_E_COUNT * 10];
    uint8_t *p = b + TF_CHUNK_HDR;
    uint64_t v[TF_E_COUNT];
    v[TF_E_REASON] = reason;
    v[TF_E_SIGNAL] = (uint64_t)sig;
    v[TF_E_EVENTS] = atomic_load(&g_events);
    v[TF_E_CHUNKS] = atomic_load(&g_chunks);
    v[TF_E_DROPPED] = atomic_load(&g_dropped);
    v[TF_E_THREADS] = atomic_load(&g_threads);
    v[TF_E_NS] = mono_ns();
    for (int i = 0; i < TF_E_COUNT; i++)
        p = tf_put_varint(p, v[i]);
    struct tf_chunk h = {
        .type = TF_CHUNK_END,
        .thread = TF_END_THREAD,
        .payload = (uint32_t)(p - b - TF_CHUNK_HDR),
        .open_ticks = now_ticks(),
        .open_ns = v[TF_E_NS],
    };
    h.close_ticks = h.open_ticks;
    h.close_ns = h.open_ns;
    h.payload_crc = crc32c(b + TF_CHUNK_HDR, h.payload);
    tf_chunk_pack(b, &h);
    write_out(b, TF_CHUNK_HDR + h.payload);
}

/*
 * Freeze recording and write every thread's buffer, then the end record. Returns 1 when
 * this call froze it (0: another flush is under way or done). Async-signal-safe: atomics,
 * clock_gettime, nanosleep, fstat, open and write only.
 */
static int flush_all(unsigned reason, int sig)
{
    int z = 0;
    if (!atomic_compare_exchange_strong(&g_flushing, &z, 1)) return 0;
    int saved = errno;
    atomic_fetch_or_explicit(&g_seq.v, SEQ_FROZEN, memory_order_acq_rel);
    uint32_t hi = atomic_load(&g_slots_hi);
    for (uint32_t i = 0; i < hi; i++) {
        struct slot *s = &g_slots[i];
        if (!atomic_load_explicit(&s->used, memory_order_acquire)) continue;
        if (s != tls.slot) {
            /* Wait (at most ~50 ms) for the owner to finish the event it is writing; a
             * thread stuck inside one is skipped rather than raced with. */
            int k = 0;
            while (atomic_load_explicit(&s->busy, memory_order_acquire) && k < 5000) {
                if (++k > 100) {
                    struct timespec ts = { 0, 10000 };
                    nanosleep(&ts, NULL);
                }
            }
            if (atomic_load_explicit(&s->busy, memory_order_acquire)) continue;
        }
        /* Our own slot may be busy when a signal interrupted our own event: `committed`
         * covers only whole events. If it interrupted a seal the chunk may be written twice;
         * readers drop the second copy. (seal reads the buffer only when `committed` says
         * there are events, which the owner publishes after the buffer.) */
        seal(s);
    }
    write_end(reason, sig);
    errno = saved;
    return 1;
}

/* An exec* call failed: record again. */
static void unfreeze(void)
{
    atomic_fetch_and_explicit(&g_seq.v, ~SEQ_FROZEN, memory_order_acq_rel);
    atomic_store(&g_flushing, 0);
}

/* ---- the file ----------------------------------------------------------------------- */

static size_t read_file(const char *path, char *buf, size_t cap, int *trunc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    char extra;
    *trunc = n == cap && read(fd, &extra, 1) == 1;
    close(fd);
    return n;
}

/* The parts of the header that stay the same in fork children. */
static void header_facts(void)
{
    ssize_t n = readlink("/proc/self/exe", g_program, sizeof(g_program) - 1);
    g_program[n > 0 ? n : 0] = 0;
    g_cmdline_len = read_file("/proc/self/cmdline", g_cmdline, sizeof(g_cmdline), &g_cmdline_trunc);
    if (uname(&g_uts) != 0) memset(&g_uts, 0, sizeof(g_uts));
    Dl_info di;
    void *sym;
    memcpy(&sym, &real.malloc, sizeof(sym));
    g_next_malloc[0] = 0;
    if (sym && dladdr(sym, &di) && di.dli_fname) {
        char *e = put_str(g_next_malloc, g_next_malloc + sizeof(g_next_malloc) - 1, di.dli_fname);
        *e = 0;
    }
}

static size_t build_header(void)
{
    uint8_t *p = g_hdr + TF_PREFIX_BYTES, *end = g_hdr + sizeof(g_hdr);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t mono = mono_ns();
    p = tf_put_field_str(p, end, TF_H_PROGRAM, g_program);
    p = tf_put_field(p, end, TF_H_ARGV, g_cmdline, g_cmdline_len);
    if (g_cmdline_trunc) p = tf_put_field_u64(p, end, TF_H_ARGV_TRUNC, 1);
    p = tf_put_field_u64(p, end, TF_H_PID, (uint64_t)getpid());
    p = tf_put_field_u64(p, end, TF_H_PPID, (uint64_t)getppid());
    p = tf_put_field_u64(p, end, TF_H_REALTIME_NS,
                         (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec);
    p = tf_put_field_u64(p, end, TF_H_MONO_NS, mono);
    p = tf_put_field_str(p, end, TF_H_SYSNAME, g_uts.sysname);
    p = tf_put_field_str(p, end, TF_H_NODENAME, g_uts.nodename);
    p = tf_put_field_str(p, end, TF_H_RELEASE, g_uts.release);
    p = tf_put_field_str(p, end, TF_H_VERSION, g_uts.version);
    p = tf_put_field_str(p, end, TF_H_MACHINE, g_uts.machine);
    p = tf_put_field_u64(p, end, TF_H_BUFFER, g_cap);
    p = tf_put_field_str(p, end, TF_H_WRITER, "thread");
    p = tf_put_field_str(p, end, TF_H_CLOCK, SHIM_CLOCK);
    p = tf_put_field_str(p, end, TF_H_RECORDER, "libheaplab-trace " HEAPLAB_VERSION);
    p = tf_put_field_str(p, end, TF_H_NEXT_MALLOC, g_next_malloc);
    p = tf_put_field_u64(p, end, TF_H_SESSION, g_session);
    if (g_forked) p = tf_put_field_u64(p, end, TF_H_FORK_SEQ, g_fork_seq);
    p = tf_put_field_u64(p, end, TF_H_PAGE_SIZE, (uint64_t)sysconf(_SC_PAGESIZE));
    p = tf_put_field_u64(p, end, TF_H_POINTER, sizeof(void *));
    size_t body = (size_t)(p - g_hdr) - TF_PREFIX_BYTES;
    tf_finish_header(g_hdr, body);
    return TF_PREFIX_BYTES + body;
}

/* Create this process's file (O_EXCL: FILE, else FILE.<pid>, else FILE.<pid>.<n>) and write
 * the header. 0, or -1 (recording has nowhere to go). Runs once per process image or fork. */
static int open_output(void)
{
    int z = 0;
    if (!atomic_compare_exchange_strong(&g_open, &z, 1)) {
        /* Someone else is creating it: wait a little (never forever: this may be a signal
         * handler that interrupted the creator). */
        for (int k = 0; k < 1000 && atomic_load(&g_open) == 1; k++) {
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
        return atomic_load(&g_fd) >= 0 ? 0 : -1;
    }
    int saved = errno;
    char path[PATH_MAX + 64];
    char *const end = path + sizeof(path) - 1;
    long pid = (long)getpid();
    int fd = -1, err = 0;
    for (int k = 0; k < 102 && fd < 0; k++) {
        char *p = put_str(path, end, g_base);
        if (k > 0) {
            p = put_str(p, end, ".");
            p = put_uint(p, end, (uint64_t)pid);
        }
        if (k > 1) {
            p = put_str(p, end, ".");
            p = put_uint(p, end, (uint64_t)(k - 1));
        }
        *p = 0;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        complain("cannot create ", path, err);
        atomic_store(&g_open, 2);
        errno = saved;
        return -1;
    }
    memcpy(g_path, path, sizeof(g_path));
    /* Out of the way of programs that expect low descriptor numbers to be theirs. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat sb;
    fstat(fd, &sb);
    g_dev = sb.st_dev;
    g_ino = sb.st_ino;
    size_t n = build_header();
    const uint8_t *p = g_hdr;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        n -= (size_t)w;
    }
    atomic_store(&g_fd_bad, n != 0);
    atomic_store(&g_fd, fd);
    atomic_store_explicit(&g_open, 2, memory_order_release);
    errno = saved;
    return 0;
}

/* ---- start -------------------------------------------------------------------------- */

#define RESOLVE(field, name)                      \
    do {                                          \
        void *sym_ = dlsym(RTLD_NEXT, name);      \
        memcpy(&real.field, &sym_, sizeof(sym_)); \
    } while (0)

static void resolve(void)
{
    RESOLVE(malloc, "malloc");
    RESOLVE(free, "free");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(reallocarray, "reallocarray");
    RESOLVE(posix_memalign, "posix_memalign");
    RESOLVE(aligned_alloc, "aligned_alloc");
    RESOLVE(memalign, "memalign");
    RESOLVE(valloc, "valloc");
    RESOLVE(pvalloc, "pvalloc");
    RESOLVE(free_sized, "free_sized");
    RESOLVE(free_aligned_sized, "free_aligned_sized");
    RESOLVE(fork, "fork");
    RESOLVE(execve, "execve");
    RESOLVE(execv, "execv");
    RESOLVE(execvp, "execvp");
    RESOLVE(execvpe, "execvpe");
    RESOLVE(fexecve, "fexecve");
    RESOLVE(exit_, "_exit");
    RESOLVE(Exit_, "_Exit");
    RESOLVE(sigaction, "sigaction");
    RESOLVE(signal, "signal");
}

/* Signals whose default action ends the process. The recorder's handler is installed only
 * where the disposition is still the default. */
static const int fatal_signals[] = {
    SIGSEGV, SIGBUS,  SIGABRT, SIGFPE,  SIGILL,  SIGTERM, SIGINT,  SIGHUP,
    SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ, SIGSYS,
};
#define N_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction g_old_sa[N_FATAL];
static _Atomic int g_ours[N_FATAL];

static int is_default(const struct sigaction *act);

static int fatal_index(int sig)
{
    for (size_t i = 0; i < N_FATAL; i++)
        if (fatal_signals[i] == sig) return (int)i;
    return -1;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    if (getpid() == atomic_load(&g_pid)) flush_all(TRACE_END_SIGNAL, sig);
    int i = fatal_index(sig);
    if (i >= 0) {
        atomic_store(&g_ours[i], 0);
        real.sigaction(sig, &g_old_sa[i], NULL);
    }
    raise(sig); /* blocked while we run: delivered, with the default action, on return */
    errno = saved;
}

static int install_one(int i)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (real.sigaction(fatal_signals[i], &sa, NULL) != 0) return -1;
    atomic_store(&g_ours[i], 1);
    return 0;
}

static void install_signals(void)
{
    if (!real.sigaction) return;
    for (size_t i = 0; i < N_FATAL; i++) {
        struct sigaction old;
        if (real.sigaction(fatal_signals[i], NULL, &old) != 0 || !is_default(&old)) continue;
        g_old_sa[i] = old;
        install_one((int)i);
    }
}

static void fork_child(void);
static void thread_end(void *arg);

static void shim_init(void)
{
    int expect = ST_UNINIT;
    if (!atomic_compare_exchange_strong(&g_state, &expect, ST_INIT)) return;
    int saved = errno;
    tls.nest++;
    resolve();
    int ok = real.malloc && real.free && real.calloc && real.realloc;
    if (ok) {
        const char *f = getenv("HEAPLAB_TRACE_FILE");
        char *p = g_base, *end = g_base + sizeof(g_base) - 1;
        if (!f || !*f) {
            p = put_str(p, end, "heaplab-");
            p = put_uint(p, end, (uint64_t)getpid());
            p = put_str(p, end, ".trace");
            *p = 0;
            f = g_base;
        }
        if (f[0] != '/') {
            char cwd[PATH_MAX];
            char rel[PATH_MAX];
            char *r = put_str(rel, rel + sizeof(rel) - 1, f);
            *r = 0;
            p = g_base;
            if (getcwd(cwd, sizeof(cwd))) {
                p = put_str(p, end, cwd);
                p = put_str(p, end, "/");
            }
            p = put_str(p, end, rel);
        } else {
            p = put_str(g_base, end, f);
        }
        *p = 0;
        uint64_t cap = parse_uint(getenv("HEAPLAB_TRACE_BUFFER"), DEFAULT_BUFFER);
        if (cap < 4096) cap = 4096;
        if (cap > (16u << 20)) cap = 16u << 20;
        g_cap = (uint32_t)cap;
        g_session = parse_uint(getenv("HEAPLAB_TRACE_SESSION"), 0);
        atomic_store(&g_pid, getpid());
        header_facts();
        atomic_store(&g_open, 0);
        ok = open_output() == 0;
    }
    if (ok) {
        ok = pthread_key_create(&g_key, thread_end) == 0;
        pthread_atfork(NULL, NULL, fork_child);
        install_signals();
    }
    tls.nest--;
    errno = saved;
    atomic_store_explicit(&g_state, ok ? ST_ON : ST_OFF, memory_order_release);
}

INLINE int recording(void)
{
    return LIKELY(atomic_load_explicit(&g_state, memory_order_acquire) == ST_ON)
           && LIKELY(tls.nest == 0);
}

/* The slow path of every wrapper: start if needed; 1 when the call is to be recorded. */
static COLD int settle(void)
{
    int st = atomic_load_explicit(&g_state, memory_order_acquire);
    if (st == ST_UNINIT) {
        shim_init();
        st = atomic_load_explicit(&g_state, memory_order_acquire);
    }
    if (st == ST_INIT && tls.nest == 0) {
        while ((st = atomic_load_explicit(&g_state, memory_order_acquire)) == ST_INIT)
            sched_yield();
    }
    return st == ST_ON && tls.nest == 0;
}

__attribute__((constructor)) static void shim_ctor(void)
{
    settle();
}

__attribute__((destructor)) static void shim_dtor(void)
{
    if (atomic_load(&g_state) == ST_ON && getpid() == atomic_load(&g_pid))
        flush_all(TRACE_END_EXIT, 0);
}

/* Thread exit. The first call re-arms the key so that the second round of destructors
 * calls us again, after the other libraries' first round (which may still allocate). */
static void thread_end(void *arg)
{
    struct slot *s = arg;
    if (!s || s != tls.slot || tls.mode != M_ON) return;
    if (!tls.exit_round) {
        tls.exit_round = 1;
        pthread_setspecific(g_key, s);
        return;
    }
    tls.nest++;
    int saved = errno;
    struct tf_ev e = { .kind = TRACE_MARK, .mark = TRACE_MARK_THREAD_EXIT };
    record(&e);
    atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
    uint64_t q = atomic_fetch_add_explicit(&g_seq.v, 0, memory_order_acq_rel);
    if (!(q & SEQ_FROZEN)) {
        seal(s);
        unbusy(s);
        atomic_store_explicit(&s->used, 0, memory_order_release);
    } else {
        unbusy(s); /* a flusher owns every slot now */
    }
    tls.slot = NULL;
    tls.mode = M_TAIL;
    errno = saved;
    tls.nest--;
}

/* fork, in the child: the parent's buffered events are the parent's to write. */
static void fork_child(void)
{
    if (atomic_load(&g_state) != ST_ON) return;
    uint64_t seq = atomic_load(&g_seq.v) & ~SEQ_FROZEN;
    uint32_t hi = atomic_load(&g_slots_hi);
    for (uint32_t i = 0; i < hi; i++) {
        atomic_store(&g_slots[i].committed, 0);
        atomic_store(&g_slots[i].busy, 0);
        atomic_store(&g_slots[i].used, 0);
    }
    tls.slot = NULL;
    tls.mode = M_NEW;
    tls.exit_round = 0;
    atomic_store(&g_threads, 0);
    atomic_store(&g_events, 0);
    atomic_store(&g_chunks, 0);
    atomic_store(&g_dropped, 0);
    atomic_store(&g_seq.v, seq);
    atomic_store(&g_flushing, 0);
    atomic_store(&g_pid, getpid());
    int fd = atomic_exchange(&g_fd, -1);
    if (fd >= 0) close(fd);
    atomic_store(&g_fd_bad, 0);
    g_forked = 1;
    g_fork_seq = seq;
    atomic_store(&g_open, 0); /* created on the first write */
}

/* ---- the allocation functions ------------------------------------------------------- */

EXPORT void *malloc(size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_malloc(n);
    tls.nest = 1;
    void *p = real.malloc(n);
    struct tf_ev e = { .kind = TRACE_MALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void free(void *p)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_FREE, .ptr = (uintptr_t)p };
    record(&e);
    real.free(p);
    tls.nest = 0;
}

EXPORT void *calloc(size_t count, size_t size)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_calloc(count, size);
    tls.nest = 1;
    void *p = real.calloc(count, size);
    struct tf_ev e = { .kind = TRACE_CALLOC, .count = count, .size = size, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *realloc(void *old, size_t n)
{
    if (UNLIKELY(old && in_bump(old))) return bump_realloc(old, n);
    if (UNLIKELY(!recording()) && !settle()) return pt_realloc(old, n);
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_REALLOC, .ptr = (uintptr_t)old, .size = n };
    struct slot *s = half_begin(&e);
    int zero = n == 0 && old, saved = 0;
    if (UNLIKELY(zero)) {
        saved = errno;
        errno = 0;
    }
    void *q = real.realloc(old, n);
    if (UNLIKELY(zero)) {
        e.zfree = !q && errno == 0;
        if (errno == 0) errno = saved;
    }
    e.result = (uintptr_t)q;
    half_end(s, &e);
    tls.nest = 0;
    return q;
}

EXPORT void *reallocarray(void *old, size_t count, size_t size)
{
    if (UNLIKELY(old && in_bump(old))) {
        if (size && count > SIZE_MAX / size) {
            errno = ENOMEM;
            return NULL;
        }
        return bump_realloc(old, count * size);
    }
    if (UNLIKELY(!recording()) && !settle()) {
        if (real.reallocarray) return real.reallocarray(old, count, size);
        if (size && count > SIZE_MAX / size) {
            errno = ENOMEM;
            return NULL;
        }
        return pt_realloc(old, count * size);
    }
    tls.nest = 1;
    struct tf_ev e = {
        .kind = TRACE_REALLOCARRAY, .ptr = (uintptr_t)old, .count = count, .size = size
    };
    struct slot *s = half_begin(&e);
    int zero = (count == 0 || size == 0) && old, saved = 0;
    if (UNLIKELY(zero)) {
        saved = errno;
        errno = 0;
    }
    void *q;
    if (real.reallocarray) {
        q = real.reallocarray(old, count, size);
    } else if (size && count > SIZE_MAX / size) {
        errno = ENOMEM;
        q = NULL;
    } else {
        q = real.realloc(old, count * size);
    }
    if (UNLIKELY(zero)) {
        e.zfree = !q && errno == 0;
        if (errno == 0) errno = saved;
    }
    e.result = (uintptr_t)q;
    half_end(s, &e);
    tls.nest = 0;
    return q;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) {
        if (real.posix_memalign) return real.posix_memalign(out, align, n);
        if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
        void *p = pt_aligned(align, n);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    tls.nest = 1;
    int r = real.posix_memalign(out, align, n);
    struct tf_ev e = { .kind = TRACE_POSIX_MEMALIGN,
                       .align = align,
                       .size = n,
                       .result = r == 0 ? (uintptr_t)*out : 0,
                       .value = (uint64_t)r };
    record(&e);
    tls.nest = 0;
    return r;
}

/* aligned_alloc, memalign, valloc and pvalloc: one shape. */
INLINE void *aligned_common(unsigned kind, void *(*fn)(size_t, size_t), size_t align, size_t n)
{
    tls.nest = 1;
    void *p = fn(align, n);
    struct tf_ev e = { .kind = kind, .align = align, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle())
        return real.aligned_alloc ? real.aligned_alloc(align, n) : pt_aligned(align, n);
    return aligned_common(TRACE_ALIGNED_ALLOC,
                          real.aligned_alloc ? real.aligned_alloc : real.memalign, align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (UNLIKELY(!recording()) && !settle()) return pt_aligned(align, n);
    return aligned_common(TRACE_MEMALIGN, real.memalign, align, n);
}

EXPORT void *valloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (UNLIKELY(!recording()) && !settle())
        return real.valloc ? real.valloc(n) : pt_aligned(page, n);
    tls.nest = 1;
    void *p = real.valloc ? real.valloc(n) : real.memalign(page, n);
    struct tf_ev e = { .kind = TRACE_VALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (n + page - 1) & ~(page - 1);
    if (rounded < n) rounded = SIZE_MAX; /* the real call fails */
    if (UNLIKELY(!recording()) && !settle())
        return real.pvalloc ? real.pvalloc(n) : pt_aligned(page, rounded);
    tls.nest = 1;
    void *p = real.pvalloc ? real.pvalloc(n) : real.memalign(page, rounded);
    struct tf_ev e = { .kind = TRACE_PVALLOC, .size = n, .result = (uintptr_t)p };
    record(&e);
    tls.nest = 0;
    return p;
}

EXPORT void free_sized(void *p, size_t size)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        if (real.free_sized)
            real.free_sized(p, size);
        else
            pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = { .kind = TRACE_FREE_SIZED, .ptr = (uintptr_t)p, .size = size };
    record(&e);
    if (real.free_sized)
        real.free_sized(p, size);
    else
        real.free(p);
    tls.nest = 0;
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    if (UNLIKELY(in_bump(p))) return;
    if (UNLIKELY(!recording()) && !settle()) {
        if (real.free_aligned_sized)
            real.free_aligned_sized(p, align, size);
        else
            pt_free(p);
        return;
    }
    tls.nest = 1;
    struct tf_ev e = {
        .kind = TRACE_FREE_ALIGNED_SIZED, .ptr = (uintptr_t)p, .align = align, .size = size
    };
    record(&e);
    if (real.free_aligned_sized)
        real.free_aligned_sized(p, align, size);
    else
        real.free(p);
    tls.nest = 0;
}

/* ---- fork, exec, _exit -------------------------------------------------------------- */

static void ensure_started(void)
{
    if (atomic_load_explicit(&g_state, memory_order_acquire) == ST_UNINIT) settle();
}

EXPORT pid_t fork(void)
{
    ensure_started();
    pid_t p = real.fork ? real.fork() : (pid_t)syscall(SYS_fork);
    if (p > 0 && recording()) {
        tls.nest = 1;
        struct tf_ev e = { .kind = TRACE_MARK, .mark = TRACE_MARK_FORK, .value = (uint64_t)p };
        record(&e);
        tls.nest = 0;
    }
    return p;
}

/* Before an exec: flush everything (the image is about to be replaced). Not in a vfork
 * child, which shares the parent's memory and must leave its recording alone. */
static int exec_begin(void)
{
    ensure_started();
    if (atomic_load(&g_state) != ST_ON || getpid() != atomic_load(&g_pid)) return 0;
    return flush_all(TRACE_END_EXEC, 0);
}

static void exec_failed(int began)
{
    if (!began) return;
    int err = errno;
    unfreeze();
    if (tls.nest == 0) {
        tls.nest = 1;
        struct tf_ev e = { .kind = TRACE_MARK,
                           .mark = TRACE_MARK_EXEC_FAILED,
                           .value = (uint64_t)err };
        record(&e);
        tls.nest = 0;
    }
    errno = err;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = real.execve ? real.execve(path, argv, envp)
                        : (int)syscall(SYS_execve, path, argv, envp);
    exec_failed(b);
    return r;
}

EXPORT int execv(const char *path, char *const argv[])
{
    int b = exec_begin();
    int r = real.execv(path, argv);
    exec_failed(b);
    return r;
}

EXPORT int execvp(const char *file, char *const argv[])
{
    int b = exec_begin();
    int r = real.execvp(file, argv);
    exec_failed(b);
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = real.execvpe(file, argv, envp);
    exec_failed(b);
    return r;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = real.fexecve(fd, argv, envp);
    exec_failed(b);
    return r;
}

/* execl, execlp, execle: the arguments into an array (on the stack: these may run in a
 * vfork child, where malloc is off limits), then the array form. */
#define LIST_MAX 1024

/* -1 with errno E2BIG when there are more than LIST_MAX arguments. */
static int collect_args(char **argv, const char *arg0, va_list ap)
{
    size_t n = 0;
    argv[n++] = (char *)arg0;
    while (argv[n - 1]) {
        if (n == LIST_MAX) {
            errno = E2BIG;
            return -1;
        }
        argv[n++] = va_arg(ap, char *);
    }
    return 0;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    va_end(ap);
    return bad ? -1 : execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    va_end(ap);
    return bad ? -1 : execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    char *const *envp = bad ? NULL : va_arg(ap, char *const *);
    va_end(ap);
    return bad ? -1 : execve(path, argv, envp);
}

static __attribute__((noreturn)) void exit_now(void (*fn)(int), int status)
{
    ensure_started();
    if (atomic_load(&g_state) == ST_ON && getpid() == atomic_load(&g_pid))
        flush_all(TRACE_END__EXIT, 0);
    if (fn) fn(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _exit(int status)
{
    exit_now(real.exit_, status);
}

EXPORT void _Exit(int status)
{
    exit_now(real.Exit_, status);
}

/* ---- the program's view of the signals the recorder handles ------------------------- */

static int is_default(const struct sigaction *act)
{
    return !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
}

/*
 * Where the recorder's handler is installed the program sees, and can replace, the action
 * it replaced (the default). Setting the default keeps (or puts back) the recorder's handler,
 * which ends in the default action anyway.
 */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    ensure_started();
    if (!real.sigaction) {
        errno = ENOSYS;
        return -1;
    }
    int i = fatal_index(sig);
    if (i < 0 || atomic_load(&g_state) != ST_ON) return real.sigaction(sig, act, old);
    int ours = atomic_load(&g_ours[i]);
    struct sigaction prev;
    if (ours)
        prev = g_old_sa[i];
    else if (real.sigaction(sig, NULL, &prev) != 0)
        return -1;
    if (act && is_default(act)) {
        g_old_sa[i] = *act;
        if (!ours && install_one(i) != 0) return -1;
    } else if (act) {
        if (real.sigaction(sig, act, NULL) != 0) return -1;
        atomic_store(&g_ours[i], 0);
    }
    if (old) *old = prev;
    return 0;
}

/* As glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its handler). */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    ensure_started();
    if (fatal_index(sig) < 0 && real.signal) return real.signal(sig, handler);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sig > 0 && sig < NSIG) sigaddset(&sa.sa_mask, sig);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}
