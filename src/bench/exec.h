/*
 * bench/exec.h: the worker's executor, private to src/bench. What its four files share:
 *   exec.c       the passes: the op loop, threads, pinning, exec_stream()
 *   exec_lab.c   the lab backend: the arena, vt-glibc, bench_lab_find/get
 *   exec_rss.c   the RSS sampler thread
 *   exec_json.c  the result object: counters, RSS series, marks, latency, CPUs
 *   exec_inside.c  the untimed passes that look inside the allocator: heap maps and
 *                statistics at snapshot points (threads stopped), and OS call counting
 * Other components use exec_stream() from bench/bench.h.
 */
#ifndef HEAPLAB_BENCH_EXEC_H
#define HEAPLAB_BENCH_EXEC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench/bench.h"
#include "heaplab/lab.h"
#include "util/prng.h"
#include "workload/workload.h"

struct clock_cal;
struct exec_inside;
struct hist;

#define EXEC_MAX_MARKS       256        /* marks logged per pass */
#define EXEC_MAX_RSS_SAMPLES (1u << 16) /* RSS samples kept per pass */
#define EXEC_CPU_WORDS       16         /* CPUs 0..1023 seen, one bit each (--pin's range) */

struct slot {
    void *p;              /* the object, or NULL */
    uint64_t size;        /* its requested size */
    _Atomic uint32_t seq; /* ops done on this object (cross-thread streams) */
    uint32_t pad;         /* lab backend: alignment padding, p - the block's start */
};

struct mark_rec {
    unsigned idx;        /* mark index into the stream's names */
    unsigned thread;     /* thread that reached it */
    uint64_t t_ns;       /* since pass start */
    uint64_t rss_bytes;  /* resident, baseline not yet subtracted */
    uint64_t live_bytes; /* requested bytes live on that thread */
    uint64_t footprint;  /* lab: lab_stats.footprint; else RSS - baseline (set after the pass) */
};

struct exec_shared {
    const struct opstream *s;
    const struct exec_opts *o;
    struct slot *slots;
    _Atomic int go; /* 0 = wait, 1 = run, -1 = give up (a thread failed to start) */
    int statm_fd;
    uint64_t pass_start_ns;
    uint64_t mark_origin_ns; /* nonzero: marks' times count from here (the RSS series' origin) */
    struct mark_rec *marks;  /* EXEC_MAX_MARKS */
    _Atomic unsigned n_marks;
    uint64_t overhead_ticks; /* subtracted from each timed call */
    _Atomic unsigned ready;  /* threads pinned (or not) and waiting for `go` */
    struct lab_heap lab;     /* the lab backend's allocator and arena, when o->lab */
    struct exec_inside *in;  /* the snapshotting pass's state, or NULL */
    int os_markers;          /* OS counting: each thread marks its window (oscount_marker) */
    void *stacks;            /* threads' stacks from osmem (EXEC_STACK_BYTES each), or NULL */
};

/* A thread's scheduler counters, read by the thread just outside its timed region (exec.c):
 * the contention of docs/results.md. */
struct exec_sched {
    uint64_t nvcsw, nivcsw; /* voluntary, involuntary context switches (RUSAGE_THREAD) */
    uint64_t cpu_ns;        /* time on a CPU (CLOCK_THREAD_CPUTIME_ID) */
    uint64_t runq_ns;       /* runnable but waiting for a CPU (schedstat's run_delay) */
    uint64_t at_ns;         /* clock_ns() bounding the schedstat read (see read_sched) */
    int schedstat;          /* runq_ns was read: /proc/thread-self/schedstat exists */
};
#define EXEC_STACK_BYTES ((size_t)2 << 20) /* a thread's stack when the harness maps it */

struct exec_thread {
    struct exec_shared *sh;
    unsigned t;
    int timed;
    pthread_t tid;
    uint64_t t_start, t_end; /* clock_ns */
    uint64_t ops_done;
    uint64_t failures;
    uint64_t waits;
    uint64_t live;
    struct hist *h_alloc, *h_free, *h_realloc; /* osmem; NULL in the throughput pass */
    struct prng rng;
    int pin_errno;                    /* why pinning this thread failed, or 0 */
    uint64_t cpus[EXEC_CPU_WORDS];    /* CPUs this thread was seen on, over both passes */
    struct exec_sched sched0, sched1; /* before t_start and after t_end of the last pass */
};

/* ------------------------------------------------------------------------------------- */
/* The lab backend (exec_lab.c)                                                          */

/* Map a BENCH_LAB_ARENA arena and create `ops` over it in `h`. 0, or -1 with `d`. */
int exec_lab_open(struct lab_heap *h, const struct lab_ops *ops, struct diag *d);

/*
 * The ops through the vtable, emulating what it lacks as `heaplab race` does (lab/race.h):
 * calloc = alloc + memset, alignment above LAB_ALIGN by over-allocating, realloc in place
 * when it fits, else alloc + copy + free. Inline here, not in exec_lab.c: they run inside
 * the measured loop, where a call more would be counted against the allocator.
 */
static inline void *exec_lab_alloc(const struct lab_heap *h, const struct op *o, struct slot *sl)
{
    size_t align = o->align_shift ? (size_t)1 << o->align_shift : LAB_ALIGN;
    size_t extra = align > LAB_ALIGN ? align - LAB_ALIGN : 0;
    if (o->size > SIZE_MAX - extra) return NULL;
    unsigned char *p = h->ops->alloc(h->self, o->size + extra);
    if (p == NULL) return NULL;
    size_t pad = extra ? (size_t)(-(uintptr_t)p & (align - 1)) : 0;
    sl->pad = (uint32_t)pad;
    if (o->kind == OP_CALLOC) memset(p + pad, 0, o->size);
    return p + pad;
}

static inline void exec_lab_free(const struct lab_heap *h, struct slot *sl)
{
    if (sl->p) h->ops->free(h->self, (unsigned char *)sl->p - sl->pad);
}

static inline void *exec_lab_realloc(const struct lab_heap *h, struct slot *sl, uint64_t size)
{
    unsigned char *old = sl->p ? (unsigned char *)sl->p - sl->pad : NULL;
    if (old && sl->pad == 0 && size <= h->ops->usable_size(h->self, old)) return old;
    unsigned char *p = h->ops->alloc(h->self, size);
    if (p == NULL) return NULL;
    if (sl->p) {
        memcpy(p, sl->p, sl->size < size ? sl->size : size);
        h->ops->free(h->self, old);
    }
    sl->pad = 0;
    return p;
}

/* ------------------------------------------------------------------------------------- */
/* The RSS sampler (exec_rss.c)                                                          */

/* One statm read every period into mmap'd buffers, on its own thread, until stopped. */
struct sampler {
    pthread_t tid;
    int fd;             /* /proc/self/statm (proc_statm_open) */
    unsigned period_ms; /* between samples */
    uint64_t start_ns;  /* clock_ns of sample time 0 */
    _Atomic int stop;
    uint32_t n;     /* samples taken */
    uint32_t *t_ms; /* EXEC_MAX_RSS_SAMPLES sample times */
    uint64_t *rss;  /* EXEC_MAX_RSS_SAMPLES resident bytes */
};

#define EXEC_SAMPLER_BYTES ((sizeof(uint32_t) + sizeof(uint64_t)) * EXEC_MAX_RSS_SAMPLES)

/* Point `sp` at `mem` (EXEC_SAMPLER_BYTES, pre-faulted) to sample `fd` every period_ms. */
void exec_sampler_init(struct sampler *sp, void *mem, int fd, unsigned period_ms);
/* Start sampling, times counted from `start_ns` (clock_ns). 0, or -1 without a thread. */
int exec_sampler_start(struct sampler *sp, uint64_t start_ns);
void exec_sampler_stop(struct sampler *sp);

/* ------------------------------------------------------------------------------------- */
/* The passes of exec.c that exec_inside.c runs                                          */

/* Run all threads of one pass; wall ns, or UINT64_MAX with `d` filled. */
uint64_t exec_run_pass(struct exec_shared *sh, struct exec_thread *xs, int timed, struct diag *d);
/* Free whatever is still live (untimed) and reset the slots for another pass. */
void exec_cleanup_slots(struct exec_shared *sh);

/* ------------------------------------------------------------------------------------- */
/* The inside passes (exec_inside.c)                                                      */

/* After op `i` of thread x->t (a mark included): snapshot or stop for one when due. */
void exec_inside_step(struct exec_thread *x, size_t i, const struct op *o);
/* While waiting for another thread's op: stop for a snapshot if one is wanted. */
void exec_inside_wait(struct exec_thread *x);
/* Thread x->t has run its ops: the end snapshot (thread 0), or stay stopped until it. */
void exec_inside_done(struct exec_thread *x);

/* The heap-map and statistics pass: {heapmap, alloc_stats}; NULL with `d` filled. */
cJSON *exec_inside_pass(struct exec_shared *sh, struct exec_thread *xs, struct diag *d);
/* The OS counting pass, in a traced child: {os_calls}; NULL with `d` filled. */
cJSON *exec_oscount_pass(struct exec_shared *sh, struct exec_thread *xs, struct diag *d);

/* ------------------------------------------------------------------------------------- */
/* The result object (exec_json.c)                                                       */

/* What the throughput pass measured, besides the threads' own counters. */
struct exec_facts {
    uint64_t wall_ns;          /* first thread start to last thread end */
    uint64_t baseline_bytes;   /* RSS just before the pass */
    uint64_t hwm_bytes;        /* peak RSS: VmHWM, or ru_maxrss without the reset */
    uint64_t end_rss_bytes;    /* RSS at the end of the pass */
    int hwm_reset;             /* the peak-RSS mark was reset before the pass */
    struct proc_usage u0, u1;  /* getrusage before and after */
    size_t harness_bytes;      /* the harness's own mmap'd memory */
    const struct sampler *rss; /* the RSS series of the pass */
};

/* The throughput pass's result: counters, memory, RSS series, marks, hole reuse. */
cJSON *exec_json_result(const struct exec_shared *sh, const struct exec_thread *xs,
                        const struct exec_facts *f);
/* Add "latency" from the merged histograms of thread 0 and the timer's calibration. */
void exec_json_latency(cJSON *out, const struct exec_thread *x0, const struct clock_cal *cal,
                       unsigned sample_stride);
/* Add "contention": context switches and time off the CPU of each thread over its part of
 * the pass, and their sums. */
void exec_json_contention(cJSON *out, const struct exec_thread *xs, unsigned threads);
/* Add "cpus": every CPU the threads were seen on, ascending. */
void exec_json_cpus(cJSON *out, const struct exec_thread *xs, unsigned threads);

#endif
