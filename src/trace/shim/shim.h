/*
 * trace/shim/shim.h: libheaplab-trace.so, the malloc recorder `heaplab record` preloads: its
 * state and its hot path, shared by the files of the library (and by nothing else).
 *
 * The library defines malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, free_sized and free_aligned_sized; each forwards
 * to the next definition in the search order (dlsym(RTLD_NEXT): glibc, or an allocator
 * preloaded after this library) and records the call in heaplab.trace/1 (trace/format.h,
 * docs/traces.md).
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
 *
 * The library's files, one concern each:
 *   alloc.c      the malloc wrappers
 *   bootstrap.c  the static bump allocator serving dlsym while the real functions are
 *                resolved, and the pass-through calls (nested, starting, not recording)
 *   buffer.c     thread slots and their chunk buffers: taking a slot, sealing, tail mode,
 *                flushing every thread, the end record, thread exit
 *   output.c     this process's file: creating it, its header, writing, reopening
 *   start.c      start-up (the real functions, the environment, constructor, destructor)
 *                and the fatal-signal handlers with the sigaction and signal wrappers
 *   process.c    fork, exec* and _exit
 *
 * All mutable state is one struct, `shim`, plus one thread-local struct, `tls`. The hot path
 * (recording, record, put ...) is static inline below, because every wrapper must stay one
 * straight-line function: when the encoder had become a call, 10 M malloc+free pairs took
 * 0.39 s recorded against 0.31 s inlined (docs/traces.md). Everything here is hidden: with
 * -fvisibility=hidden alone, the other files would still reach `shim` and `tls` through the
 * GOT, an extra load on every call.
 */
#ifndef HEAPLAB_TRACE_SHIM_SHIM_H
#define HEAPLAB_TRACE_SHIM_SHIM_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SHIM_CLOCK "tsc"
#else
#define SHIM_CLOCK "monotonic"
#endif

#include "trace/format.h"

/* Not declared by glibc 2.36 (exported, so outside the hidden block). */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

#pragma GCC visibility push(hidden)

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
#define BUMP_BYTES     (128u << 10)
#define N_FATAL        16 /* start.c: fatal_signals[] */

/* shim.run: where start-up is. */
enum { ST_UNINIT, ST_INIT, ST_ON, ST_OFF };

/* tls.mode: NEW (no slot yet), ON (has one), TAIL (exited: one chunk per event), OFF. */
enum { M_NEW, M_ON, M_TAIL, M_OFF };

/* shim.out.open: this process's file was created (or given up on, or is not wanted yet), is
 * to be created on the first write, or is being created. */
enum { OUT_DONE, OUT_TODO, OUT_OPENING };

/* A thread's buffer. `committed` packs (payload bytes << 32) | events: only whole events
 * are below it, so a flusher can always seal what it covers. */
struct slot {
    _Alignas(64) _Atomic int used;
    _Atomic int busy;
    _Atomic uint64_t committed;
    uint8_t *buf; /* TF_CHUNK_HDR + shim.cap bytes; kept when the slot is reused */
    uint32_t thread, tid;
    uint64_t open_ticks, open_ns;
    struct tf_delta delta;
};

/* The next definitions (dlsym(RTLD_NEXT)); NULL until resolved or when absent. */
struct shim_real {
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
};

/* Everything the recorder keeps. Zero is the state before start-up (the few other defaults
 * are set by shim_init), so the whole struct stays in .bss. */
struct shim_state {
    /* Written by every event of every thread: alone on its cache line. */
    struct {
        _Alignas(64) _Atomic uint64_t v;
        char pad[56];
    } seq;

    /* Read by every call, written at start-up only: a line of their own (no false sharing
     * with the counter above or the counters below). */
    _Alignas(64) _Atomic int run; /* ST_* */
    uint32_t cap;                 /* payload bytes per thread buffer */
    struct shim_real real;

    /* Threads (buffer.c). */
    struct slot slots[MAX_SLOTS];
    _Atomic uint32_t slots_hi; /* slots [0, hi) may be in use */
    _Atomic uint32_t threads;  /* indexes given out in this process */
    _Atomic uint64_t events, chunks, dropped;
    _Atomic int flushing; /* a flush_all is under way or done */
    pthread_key_t key;    /* its destructor is thread_end */
    _Atomic pid_t pid;    /* the process recording; another pid shares our memory (vfork,
                           * clone) and must leave the state alone */

    /* Output (output.c). */
    struct {
        _Atomic int fd;           /* -1 when none */
        _Atomic int open;         /* OUT_* */
        _Atomic int fd_bad;       /* a write failed: stop writing */
        _Atomic int reopening;    /* out_reopen is running */
        char path[PATH_MAX + 64]; /* this process's file */
        dev_t dev;                /* ... its identity, to recognise it behind the fd */
        ino_t ino;
        char base[PATH_MAX];    /* FILE, absolute */
        int forked;             /* this process is a fork child */
        uint64_t fork_seq;      /* ... and the parent's counter at the fork */
        uint64_t session;       /* HEAPLAB_TRACE_SESSION */
        char program[PATH_MAX]; /* the header's facts that stay the same in fork children */
        char cmdline[ARGV_MAX];
        size_t cmdline_len;
        int cmdline_trunc;
        struct utsname uts;
        char next_malloc[PATH_MAX];
        uint8_t hdr[HDR_MAX]; /* the header being built */
    } out;

    /* Fatal signals (start.c), by position in fatal_signals[]. */
    struct sigaction old_sa[N_FATAL]; /* the program's view of the action */
    _Atomic int ours[N_FATAL];        /* the recorder's handler is installed */

    /* The bootstrap allocator (bootstrap.c). */
    _Alignas(64) unsigned char bump[BUMP_BYTES];
    _Atomic size_t bump_used;
};

struct shim_tls {
    struct slot *slot;
    uint32_t thread, tid; /* kept after the slot is given back (tail mode) */
    int nest;             /* inside a wrapper: nested calls pass through unrecorded */
    int mode;             /* M_* */
    int exit_round;       /* thread_end has re-armed the key once */
};

extern struct shim_state shim;
extern __thread struct shim_tls tls __attribute__((tls_model("initial-exec")));

/* ---- bootstrap.c: before the real functions are known, and passing calls through ------ */

void *bump_alloc(size_t n, size_t align);
void *bump_realloc(void *p, size_t n); /* p is a bump block */
void *pt_malloc(size_t n);
void pt_free(void *p);
void *pt_calloc(size_t a, size_t b);
void *pt_realloc(void *p, size_t n);
void *pt_aligned(size_t align, size_t n);

INLINE int in_bump(const void *p)
{
    const unsigned char *c = p;
    return c >= shim.bump && c < shim.bump + BUMP_BYTES;
}

/* ---- buffer.c: slots and chunks ------------------------------------------------------- */

/* The calling thread's first event: a slot, an index and a THREAD event. NULL when the
 * thread is not recorded (no slot left) or has exited (tail mode). */
COLD struct slot *thread_begin(void);
/* Seal the slot's events into a chunk and write it. Called by the owner (inside its busy
 * window) or by a flusher that has excluded the owner. */
COLD void seal(struct slot *s);
/* Tail mode (after the thread's key destructor): a number without a slot, and one event
 * written at once as its own chunk. */
COLD uint64_t tail_seq(void);
COLD void tail_write(struct tf_ev e);
/*
 * Freeze recording and write every thread's buffer, then the end record. Returns 1 when
 * this call froze it (0: another flush is under way or done). Async-signal-safe: atomics,
 * clock_gettime, nanosleep, fstat, open and write only.
 */
int flush_all(unsigned reason, int sig);
/* An exec* call failed: record again. */
void unfreeze(void);
/* The pthread key's destructor. */
void thread_end(void *arg);

/* ---- output.c: this process's file ------------------------------------------------------ */

/* At start-up: FILE (`file`, or heaplab-<pid>.trace when NULL or empty) made absolute, the
 * header's facts that stay the same in fork children (program, arguments, uname, the next
 * malloc's library), then the file created with out_open. 0, or -1. */
int out_start(const char *file, uint64_t session);
/* Create this process's file (O_EXCL: FILE, else FILE.<pid>, else FILE.<pid>.<n>) and write
 * the header. 0, or -1 (recording has nowhere to go). Runs once per process image or fork. */
int out_open(void);
/* Write whole to the file, unless it is gone (then, silently, nothing). */
void out_write(const void *data, size_t n);

/* ---- start.c ------------------------------------------------------------------------- */

/* The slow path of every wrapper: start if needed; 1 when the call is to be recorded. */
COLD int settle(void);
/* Start now if nothing did yet (the process and signal wrappers). */
void ensure_started(void);

/* ---- process.c ----------------------------------------------------------------------- */

/* pthread_atfork's child handler. */
void fork_child(void);

/* ---- the hot path ----------------------------------------------------------------------- */

INLINE uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

INLINE uint64_t now_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return mono_ns();
#endif
}

INLINE int recording(void)
{
    return LIKELY(atomic_load_explicit(&shim.run, memory_order_acquire) == ST_ON)
           && LIKELY(tls.nest == 0);
}

/* Append one event to the slot (busy is set). */
INLINE void put(struct slot *s, const struct tf_ev *e)
{
    uint64_t c = atomic_load_explicit(&s->committed, memory_order_relaxed);
    uint32_t len = (uint32_t)(c >> 32), n = (uint32_t)c;
    if (UNLIKELY(len + TF_MAX_EVENT > shim.cap)) {
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
    uint64_t q = atomic_fetch_add_explicit(&shim.seq.v, 1, memory_order_acq_rel);
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

#pragma GCC visibility pop

#endif
