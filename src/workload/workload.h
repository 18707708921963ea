/*
 * workload/workload.h: the operation stream and the workload generators.
 *
 * The operation stream is the one data type that connects heaplab's parts. Workloads generate
 * it, the bench worker executes it under a real malloc, the lab runs it through the teaching
 * allocators, and traces are compiled into it. An operation says "allocate object i of n bytes
 * with alignment a", "free object i", "realloc object i to n bytes" or "mark a phase", on
 * thread t. Objects are dense integer ids, so an executor keeps a flat slot array indexed by
 * id and never hashes pointers in its timed loop.
 *
 * Memory: a stream lives in mmap'd memory (util/osmem.h), never in the allocator under test;
 * its size is `stream_bytes()` and the executor pre-faults it before measuring, so it sits in
 * the RSS baseline that is subtracted.
 *
 * Ordering across threads. Each op carries `seq`, the number of ops on the same object that
 * come before it in the stream's global emission order. An executor of a stream with
 * `cross_thread` set runs op (obj, seq) only once the object's counter equals seq, then bumps
 * it; that reproduces producer/consumer hand-offs and cross-thread frees exactly and cannot
 * deadlock, because the emission order is one valid global schedule. Streams without
 * `cross_thread` touch every object from one thread only and need no synchronization.
 *
 * Invariants of a valid stream (checked by opstream_validate() and the shadow-model tests):
 *   I1 an object is allocated (ALLOC or CALLOC) only while it is not live
 *   I2 FREE and REALLOC name a live object
 *   I3 seq numbers of one object are 0, 1, 2, ... in emission order
 *   I4 without `cross_thread`, all ops on an object run on the same thread
 *   I5 alignment is 2^align_shift with align_shift <= 26 (64 MiB); 0 means malloc's default
 *   I6 sizes of ALLOC/CALLOC/REALLOC are > 0
 *   I7 `reserved` is 0
 */
#ifndef HEAPLAB_WORKLOAD_WORKLOAD_H
#define HEAPLAB_WORKLOAD_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/prng.h"

struct diag;

#define WL_MAX_THREADS     64
#define WL_MAX_MARKS       16
#define WL_MAX_ALIGN_SHIFT 26

enum op_kind {
    OP_ALLOC = 1, /* malloc(size), or aligned allocation when align_shift > 0 */
    OP_CALLOC,    /* calloc(1, size) */
    OP_FREE,      /* free(obj) */
    OP_REALLOC,   /* obj = realloc(obj, size) */
    OP_MARK,      /* phase boundary: the executor samples RSS; size = mark index */
};

struct op {
    uint64_t size;       /* bytes (ALLOC, CALLOC, REALLOC); mark index for MARK */
    uint32_t obj;        /* object id, < stream obj_count (unused for MARK) */
    uint32_t seq;        /* ops on `obj` before this one in emission order (I3) */
    uint8_t kind;        /* enum op_kind */
    uint8_t align_shift; /* log2 of requested alignment; 0 = malloc's default (I5) */
    uint16_t thread;     /* thread that runs this op */
    uint32_t reserved;   /* zero */
};

/* The ops one thread runs, in order. Memory from osmem. */
struct op_seq {
    struct op *ops; /* ops[0..n) */
    size_t n;       /* ops emitted */
    size_t cap;     /* capacity of ops[] */
};

struct opstream {
    unsigned threads;   /* threads the stream runs on, 1..WL_MAX_THREADS */
    int cross_thread;   /* objects may change threads: executors must honour seq */
    uint32_t obj_count; /* object ids are < obj_count */
    struct op_seq th[WL_MAX_THREADS];
    const char *mark_names[WL_MAX_MARKS]; /* static labels of OP_MARK ops, by index */
    unsigned mark_count;

    /* Totals, kept by the builder as ops are emitted. */
    uint64_t n_alloc;                     /* ALLOC + CALLOC */
    uint64_t n_free;                      /* FREE */
    uint64_t n_realloc;                   /* REALLOC */
    uint64_t bytes_requested;             /* sum of ALLOC/CALLOC/REALLOC sizes */
    uint64_t live_bytes;                  /* requested bytes live after the last op emitted */
    uint64_t peak_live_bytes;             /* max of live_bytes over the emission order */
    uint64_t thread_live[WL_MAX_THREADS]; /* per thread, for per-thread instances */
    uint64_t thread_peak[WL_MAX_THREADS];

    /* The emission order of a cross-thread stream of more than one thread: the thread of each
     * op, in the order the ops were emitted (osmem; NULL for other streams). With seq it is
     * the one global schedule the stream was built in (see opstream_peak_live()). */
    uint8_t *order;
    size_t order_n, order_cap;

    /* Builder state (osmem): per object, its live size (0 = not live), next seq, owner. */
    uint64_t *obj_size;
    uint32_t *obj_seq;
    uint16_t *obj_thread;
    uint32_t obj_cap;                       /* ids < obj_cap have room in all three arrays */
    uint32_t cap_size, cap_seq, cap_thread; /* each array's own capacity (for unmapping) */
    uint32_t *free_ids[WL_MAX_THREADS];     /* recycled ids per thread, LIFO */
    uint32_t free_n[WL_MAX_THREADS];
    uint32_t free_cap[WL_MAX_THREADS];
    int error; /* first error while building (errno value), 0 if none */
};

/* Start an empty stream for `threads` threads. 0, or -1 with `d` filled. */
int opstream_init(struct opstream *s, unsigned threads, int cross_thread, struct diag *d);

/* Release all memory of the stream. Safe on a zeroed or partly built stream. */
void opstream_destroy(struct opstream *s);

/*
 * Emitters. Each appends one op to thread `t`'s sequence, keeps the totals and the builder's
 * shadow of live objects, and on a broken rule (I1, I2, I6) or out of memory sets `s->error`
 * (EINVAL or ENOMEM) and emits nothing; generators may check `s->error` once at the end.
 *
 * ops_alloc() takes a fresh id from thread t's recycled ids (or a new one) and returns it;
 * ops_free() recycles the id to the freeing thread. Streams that hand objects between
 * threads should use fixed ids from ops_reserve() with ops_alloc_at(), so that recycling never
 * creates a false dependency.
 */
uint32_t ops_alloc(struct opstream *s, unsigned t, uint64_t size, unsigned align_shift);
uint32_t ops_calloc(struct opstream *s, unsigned t, uint64_t size);
void ops_alloc_at(struct opstream *s, unsigned t, uint32_t obj, uint64_t size,
                  unsigned align_shift);
void ops_calloc_at(struct opstream *s, unsigned t, uint32_t obj, uint64_t size);
void ops_free(struct opstream *s, unsigned t, uint32_t obj);
void ops_realloc(struct opstream *s, unsigned t, uint32_t obj, uint64_t size);
/* A phase mark with a static label; marks with the same label share an index. */
void ops_mark(struct opstream *s, unsigned t, const char *label);

/* Reserve `n` consecutive object ids that ops_alloc() will never hand out; returns the first. */
uint32_t ops_reserve(struct opstream *s, uint32_t n);

/* Is object `obj` live at this point of building? */
static inline int ops_is_live(const struct opstream *s, uint32_t obj)
{
    return obj < s->obj_count && s->obj_size[obj] != 0;
}

/* Requested size of live object `obj` (0 if not live). */
static inline uint64_t ops_size(const struct opstream *s, uint32_t obj)
{
    return obj < s->obj_count ? s->obj_size[obj] : 0;
}

/* Make room for `n` more ops on thread `t` up front (pre-faulted); 0, or -1 on ENOMEM. */
int opstream_reserve(struct opstream *s, unsigned t, size_t n);

/* Total ops over all threads. */
uint64_t opstream_ops(const struct opstream *s);

/* Bytes of memory the stream itself holds (ops and builder state). */
size_t opstream_bytes(const struct opstream *s);

/*
 * Peak live requested bytes: the largest sum, over all threads at once, of the requested
 * sizes of the live objects, at any point of one global schedule of the stream:
 *   - one thread, or `cross_thread`: the emission order (`order`), the schedule the seq
 *     numbers encode; for a compiled trace it is the recorded order;
 *   - several threads without `cross_thread` (per-thread instances): lockstep, in which op k
 *     of every thread (thread 0 first) runs before op k+1 of any. The executor releases the
 *     threads together and each runs an instance of the same workload, so their phases line
 *     up as in lockstep. The emission order (thread 0's whole instance, then thread 1's, ...)
 *     is a valid schedule too, but no run looks like it.
 * The result is at least the largest per-thread peak and at most the sum of the per-thread
 * peaks (which is what it returns if the scratch for the lockstep walk cannot be mapped).
 */
uint64_t opstream_peak_live(const struct opstream *s);

/* Check I1-I6 by replaying the stream on a fresh shadow. 0, or -1 with `d` naming the op. */
int opstream_validate(const struct opstream *s, struct diag *d);

/* ------------------------------------------------------------------------------------- */
/* Workloads                                                                             */

/* How a workload uses threads. */
enum wl_shape {
    WL_PER_THREAD = 1, /* generate() emits one thread's ops; run once per thread, own seed */
    WL_SHARED,         /* generate() emits every thread's ops at once (cross-thread) */
};

/* What a generator is asked for. */
struct wl_ctx {
    struct opstream *s; /* where to emit */
    unsigned thread;    /* WL_PER_THREAD: the thread to emit for; WL_SHARED: 0 */
    unsigned threads;   /* threads in the run */
    uint64_t ops;       /* ops to emit per thread (approximately; within a few percent) */
    struct prng *rng;   /* seeded from --seed (and the thread, for WL_PER_THREAD) */
};

struct workload {
    const char *name;     /* registry key, e.g. "small" */
    const char *summary;  /* one line for `heaplab list workloads` */
    const char *category; /* "size", "app", "micro" or "threads" */
    enum wl_shape shape;
    unsigned min_threads;                    /* smallest thread count it makes sense for (1 or 2) */
    uint64_t default_ops;                    /* ops per thread when --ops is not given */
    int (*generate)(const struct wl_ctx *c); /* 0, or -1 (s->error says why) */
};

struct wl_params {
    uint64_t seed;    /* --seed */
    uint64_t ops;     /* ops per thread; 0 = the workload's default */
    unsigned threads; /* 1..WL_MAX_THREADS */
};

/* Every workload, in listing order. */
extern const struct workload *const workload_list[];
extern const size_t workload_count;

/* The workload called `name`, or NULL. */
const struct workload *workload_find(const char *name);

/*
 * Build the stream of workload `w` for `p` into `s` (initialized here). Deterministic:
 * the same (w, p) yields the same stream on any machine. 0, or -1 with `d` filled (and `s`
 * destroyed).
 */
int workload_build(const struct workload *w, const struct wl_params *p, struct opstream *s,
                   struct diag *d);

/* ------------------------------------------------------------------------------------- */
/* Size distributions shared by generators                                               */

/* Round `n` up to a multiple of 16 (at least 16). */
static inline uint64_t wl_round16(uint64_t n)
{
    return n < 16 ? 16 : (n + 15) & ~(uint64_t)15;
}

/* Log-normal size with the given median and sigma, clamped to [lo, hi]. */
uint64_t wl_size_lognormal(struct prng *r, double median, double sigma, uint64_t lo, uint64_t hi);

/* Log-uniform size in [lo, hi]. */
uint64_t wl_size_loguniform(struct prng *r, uint64_t lo, uint64_t hi);

#endif
