/*
 * bench/exec.c: executing an operation stream through the process's own malloc.
 *
 * Two passes over the same stream (see bench.h). The throughput pass has no timer inside the
 * loop; the latency pass times about one call in `sample_stride`, each with a fenced rdtsc
 * pair whose own median cost is measured first and subtracted.
 *
 * Memory of the harness (slots, histograms, RSS samples, marks) comes from mmap and is
 * pre-faulted before the RSS baseline is read; the kernel's peak-RSS mark is then reset, so
 * peak_rss_bytes = VmHWM - baseline counts what the allocator made resident, plus what it
 * mapped for thread stacks it asked for itself.
 *
 * Every allocated object is written: whole when <= 256 B, else one byte per 4 KiB page and
 * the last byte, so an allocator cannot look good by handing out memory nobody touches.
 *
 * Threads: a 1-thread stream runs on the calling (main) thread, as a single-threaded program
 * would; otherwise one pthread per stream thread, released together by a start flag. Streams
 * with cross_thread honour each op's seq (wait until the object's counter equals it, then
 * bump it: an acquire load paired with the release store of the previous op on the object).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "heaplab/lab.h"
#include "util/clock.h"
#include "util/diag.h"
#include "util/hist.h"
#include "util/osmem.h"
#include "util/prng.h"
#include "workload/workload.h"

#define MAX_MARKS_LOGGED 256
#define MAX_RSS_SAMPLES  (1u << 16)
#define SERIES_POINTS    256

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
};

struct exec_shared {
    const struct opstream *s;
    const struct exec_opts *o;
    struct slot *slots;
    _Atomic int go; /* 0 = wait, 1 = run, -1 = give up (a thread failed to start) */
    int statm_fd;
    uint64_t pass_start_ns;
    struct mark_rec *marks; /* MAX_MARKS_LOGGED */
    _Atomic unsigned n_marks;
    uint64_t overhead_ticks; /* subtracted from each timed call */
    _Atomic unsigned ready;  /* threads pinned (or not) and waiting for `go` */
};

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
    int pin_errno;  /* why pinning this thread failed, or 0 */
    cpu_set_t cpus; /* CPUs this thread was seen on (sched_getcpu), over both passes */
};

static inline void touch(char *p, uint64_t size)
{
    if (size <= 256) {
        memset(p, (int)(size & 0xff), size);
        return;
    }
    for (uint64_t off = 0; off < size; off += 4096)
        p[off] = 1;
    p[size - 1] = 1;
}

/* Touch the part of a reallocated object beyond its old size. */
static inline void touch_tail(char *p, uint64_t old, uint64_t size)
{
    if (size <= old) return;
    if (size <= 256) {
        memset(p + old, 0x5a, size - old);
        return;
    }
    for (uint64_t off = old; off < size; off += 4096)
        p[off] = 1;
    p[size - 1] = 1;
}

static inline void *do_alloc(const struct op *o)
{
    if (o->kind == OP_CALLOC) return calloc(1, o->size);
    if (o->align_shift == 0) return malloc(o->size);
    void *p = NULL;
    size_t align = (size_t)1 << o->align_shift;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, o->size) == 0 ? p : NULL;
}

/*
 * The lab backend (exec_opts.lab): the stream runs through a lab allocator's vtable over one
 * BENCH_LAB_ARENA arena, single-threaded. What the vtable lacks is emulated as `heaplab race`
 * does it (lab/race.h): calloc = alloc + memset, alignment above 16 by over-allocating,
 * realloc in place when it fits, else alloc + copy + free.
 */
static struct lab_heap lab_heap;

static inline void *lab_alloc_op(const struct op *o, struct slot *sl)
{
    const struct lab_ops *ops = lab_heap.ops;
    size_t align = o->align_shift ? (size_t)1 << o->align_shift : LAB_ALIGN;
    size_t extra = align > LAB_ALIGN ? align - LAB_ALIGN : 0;
    if (o->size > SIZE_MAX - extra) return NULL;
    unsigned char *p = ops->alloc(lab_heap.self, o->size + extra);
    if (p == NULL) return NULL;
    size_t pad = extra ? (size_t)(-(uintptr_t)p & (align - 1)) : 0;
    sl->pad = (uint32_t)pad;
    if (o->kind == OP_CALLOC) memset(p + pad, 0, o->size);
    return p + pad;
}

static inline void lab_free_op(struct slot *sl)
{
    if (sl->p) lab_heap.ops->free(lab_heap.self, (unsigned char *)sl->p - sl->pad);
}

static inline void *lab_realloc_op(struct slot *sl, uint64_t size)
{
    const struct lab_ops *ops = lab_heap.ops;
    unsigned char *old = sl->p ? (unsigned char *)sl->p - sl->pad : NULL;
    if (old && sl->pad == 0 && size <= ops->usable_size(lab_heap.self, old)) return old;
    unsigned char *p = ops->alloc(lab_heap.self, size);
    if (p == NULL) return NULL;
    if (sl->p) {
        memcpy(p, sl->p, sl->size < size ? sl->size : size);
        ops->free(lab_heap.self, old);
    }
    sl->pad = 0;
    return p;
}

/* glibc's malloc behind the lab indirection ("lab:vt-glibc"): measures its cost. */
static size_t ig_state_size(size_t arena_size)
{
    (void)arena_size;
    return 1;
}
static int ig_create(void *self, void *arena, size_t arena_size)
{
    (void)self, (void)arena, (void)arena_size;
    return 0;
}
static void *ig_alloc(void *self, size_t size)
{
    (void)self;
    return malloc(size);
}
static void ig_free(void *self, void *ptr)
{
    (void)self;
    free(ptr);
}
static size_t ig_usable(void *self, const void *ptr)
{
    (void)self, (void)ptr;
    return 0; /* realloc never stays in place: the same path as a lab block that must move */
}
static const struct lab_ops indirect_glibc = {
    .name = "vt-glibc",
    .summary = "glibc malloc through the lab vtable (bench only: measures the indirection)",
    .state_size = ig_state_size,
    .create = ig_create,
    .alloc = ig_alloc,
    .free = ig_free,
    .usable_size = ig_usable,
};

const struct lab_ops *bench_lab_find(const char *name)
{
    if (strcmp(name, indirect_glibc.name) == 0) return &indirect_glibc;
    return lab_find(name);
}

const struct lab_ops *bench_lab_get(size_t i)
{
    if (i < lab_count) return lab_list[i];
    return i == lab_count ? &indirect_glibc : NULL;
}

static void wait_seq(_Atomic uint32_t *a, uint32_t want, uint64_t *waits)
{
    (*waits)++;
    unsigned spins = 0;
    while (atomic_load_explicit(a, memory_order_acquire) != want) {
        if (++spins < 200)
            __asm__ __volatile__("pause" ::: "memory");
        else
            sched_yield();
    }
}

static void log_mark(struct exec_thread *x, const struct op *o)
{
    struct exec_shared *sh = x->sh;
    unsigned i = atomic_fetch_add(&sh->n_marks, 1);
    if (i >= MAX_MARKS_LOGGED) return;
    struct mark_rec *m = &sh->marks[i];
    m->idx = (unsigned)o->size;
    m->thread = x->t;
    m->t_ns = clock_ns() - sh->pass_start_ns;
    m->rss_bytes = proc_rss_bytes(sh->statm_fd);
    m->live_bytes = x->live;
}

static inline uint64_t next_stride(struct exec_thread *x)
{
    unsigned mean = x->sh->o->sample_stride ? x->sh->o->sample_stride : 1;
    return 1 + prng_geometric(&x->rng, (double)(mean - 1));
}

static inline uint64_t timed_delta(const struct exec_thread *x, uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    return d > x->sh->overhead_ticks ? d - x->sh->overhead_ticks : 0;
}

/*
 * The loop. SYNC and TIMED are compile-time constants at each call site, so the four
 * variants are specialized and the throughput pass carries no timing code at all.
 */
static inline __attribute__((always_inline)) void run_ops(struct exec_thread *x, const int sync,
                                                          const int timed, const int lab)
{
    const struct op_seq *q = &x->sh->s->th[x->t];
    struct slot *slots = x->sh->slots;
    uint64_t countdown = timed ? next_stride(x) : 0;
    uint64_t done = 0, failures = 0, waits = 0, live = x->live;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_MARK) {
            x->live = live;
            log_mark(x, o);
            continue;
        }
        struct slot *sl = &slots[o->obj];
        if (sync && atomic_load_explicit(&sl->seq, memory_order_acquire) != o->seq)
            wait_seq(&sl->seq, o->seq, &waits);
        int sample = 0;
        if (timed && --countdown == 0) {
            sample = 1;
            countdown = next_stride(x);
        }
        switch (o->kind) {
        case OP_ALLOC:
        case OP_CALLOC: {
            void *p;
            if (timed && sample) {
                uint64_t t0 = clock_ticks();
                p = lab ? lab_alloc_op(o, sl) : do_alloc(o);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_alloc, timed_delta(x, t0, t1));
            } else {
                p = lab ? lab_alloc_op(o, sl) : do_alloc(o);
            }
            if (p) {
                touch(p, o->size);
                live += o->size;
            } else {
                failures++;
            }
            sl->p = p;
            sl->size = p ? o->size : 0;
            break;
        }
        case OP_FREE:
            if (timed && sample) {
                uint64_t t0 = clock_ticks();
                if (lab)
                    lab_free_op(sl);
                else
                    free(sl->p);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_free, timed_delta(x, t0, t1));
            } else if (lab) {
                lab_free_op(sl);
            } else {
                free(sl->p);
            }
            live -= sl->size;
            sl->p = NULL;
            sl->size = 0;
            break;
        case OP_REALLOC: {
            void *p;
            if (timed && sample) {
                uint64_t t0 = clock_ticks();
                p = lab ? lab_realloc_op(sl, o->size) : realloc(sl->p, o->size);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_realloc, timed_delta(x, t0, t1));
            } else {
                p = lab ? lab_realloc_op(sl, o->size) : realloc(sl->p, o->size);
            }
            if (p) {
                touch_tail(p, sl->size, o->size);
                live += o->size;
                live -= sl->size;
                sl->p = p;
                sl->size = o->size;
            } else {
                failures++; /* the old block stays valid and live */
            }
            break;
        }
        default:
            break;
        }
        if (sync) atomic_store_explicit(&sl->seq, o->seq + 1, memory_order_release);
        done++;
    }
    x->ops_done = done;
    x->failures = failures;
    x->waits = waits;
    x->live = live;
}

/* Where the thread runs, sampled at the ends of each pass (outside the timed region). */
static void note_cpu(struct exec_thread *x)
{
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &x->cpus);
}

static void run_thread_body(struct exec_thread *x)
{
    int sync = x->sh->s->cross_thread;
    note_cpu(x);
    x->t_start = clock_ns();
    if (x->sh->o->lab) /* single-threaded: never sync */
        x->timed ? run_ops(x, 0, 1, 1) : run_ops(x, 0, 0, 1);
    else if (sync && x->timed)
        run_ops(x, 1, 1, 0);
    else if (sync)
        run_ops(x, 1, 0, 0);
    else if (x->timed)
        run_ops(x, 0, 1, 0);
    else
        run_ops(x, 0, 0, 0);
    x->t_end = clock_ns();
    note_cpu(x);
}

/* Pin the calling thread, stream thread `x->t`, to its --pin CPU; sets x->pin_errno. */
static void pin_self(struct exec_thread *x)
{
    const struct exec_opts *o = x->sh->o;
    if (o->pin_count <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o->pin_cpus[x->t % (unsigned)o->pin_count], &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) x->pin_errno = errno;
}

static int pin_failed(const struct exec_shared *sh, const struct exec_thread *x, struct diag *d)
{
    if (x->pin_errno == 0) return 0;
    return diag_set(d, "cannot pin thread %u to CPU %d: %s", x->t,
                    sh->o->pin_cpus[x->t % (unsigned)sh->o->pin_count], strerror(x->pin_errno));
}

static void *thread_main(void *arg)
{
    struct exec_thread *x = arg;
    pin_self(x);
    atomic_fetch_add_explicit(&x->sh->ready, 1, memory_order_release);
    int go;
    while ((go = atomic_load_explicit(&x->sh->go, memory_order_acquire)) == 0)
        sched_yield();
    if (go > 0) run_thread_body(x);
    return NULL;
}

/* RSS sampler: one statm read every period into an mmap'd buffer until told to stop. */
struct sampler {
    pthread_t tid;
    int fd;
    unsigned period_ms;
    uint64_t start_ns;
    _Atomic int stop;
    uint32_t n;
    uint32_t *t_ms;
    uint64_t *rss;
};

static void *sampler_main(void *arg)
{
    struct sampler *sp = arg;
    struct timespec ts = { .tv_sec = sp->period_ms / 1000,
                           .tv_nsec = (long)(sp->period_ms % 1000) * 1000000L };
    while (!atomic_load(&sp->stop) && sp->n < MAX_RSS_SAMPLES) {
        sp->t_ms[sp->n] = (uint32_t)((clock_ns() - sp->start_ns) / 1000000u);
        sp->rss[sp->n] = proc_rss_bytes(sp->fd);
        sp->n++;
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Free whatever is still live (untimed) and reset the slots for another pass. */
static void cleanup_slots(struct slot *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (lab_heap.ops)
            lab_free_op(&slots[i]);
        else
            free(slots[i].p);
        slots[i].pad = 0;
        slots[i].p = NULL;
        slots[i].size = 0;
        atomic_store_explicit(&slots[i].seq, 0, memory_order_relaxed);
    }
}

/* Run all threads of one pass; returns wall ns, or UINT64_MAX with `d` filled. */
static uint64_t run_pass(struct exec_shared *sh, struct exec_thread *xs, int timed, struct diag *d)
{
    const struct opstream *s = sh->s;
    atomic_store(&sh->n_marks, 0);
    for (unsigned t = 0; t < s->threads; t++) {
        xs[t].sh = sh;
        xs[t].t = t;
        xs[t].timed = timed;
        xs[t].live = 0;
        xs[t].pin_errno = 0;
    }
    if (s->threads == 1) {
        pin_self(&xs[0]);
        if (pin_failed(sh, &xs[0], d)) return UINT64_MAX;
        sh->pass_start_ns = clock_ns();
        run_thread_body(&xs[0]);
        return xs[0].t_end - xs[0].t_start;
    }
    atomic_store(&sh->go, 0);
    atomic_store(&sh->ready, 0);
    unsigned started = 0;
    for (unsigned t = 0; t < s->threads; t++) {
        if (pthread_create(&xs[t].tid, NULL, thread_main, &xs[t]) != 0) break;
        started++;
    }
    /* Every thread has pinned itself (acquire pairs with thread_main's release) before the
     * pass may start, so a failed pin stops the run instead of measuring unpinned. */
    while (atomic_load_explicit(&sh->ready, memory_order_acquire) < started)
        sched_yield();
    int failed = started < s->threads;
    if (failed) diag_set(d, "cannot create %u worker threads", s->threads);
    for (unsigned t = 0; t < started && !failed; t++)
        failed = pin_failed(sh, &xs[t], d) != 0;
    if (failed) {
        /* A partial set cannot run the stream (cross-thread waits would hang): stop. */
        atomic_store_explicit(&sh->go, -1, memory_order_release);
        for (unsigned t = 0; t < started; t++)
            pthread_join(xs[t].tid, NULL);
        return UINT64_MAX;
    }
    sh->pass_start_ns = clock_ns();
    atomic_store_explicit(&sh->go, 1, memory_order_release);
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned t = 0; t < s->threads; t++) {
        pthread_join(xs[t].tid, NULL);
        if (xs[t].t_start < first) first = xs[t].t_start;
        if (xs[t].t_end > last) last = xs[t].t_end;
    }
    return last - first;
}

static cJSON *hist_json(const struct hist *h, const struct clock_cal *cal)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "count", (double)h->count);
    if (h->count == 0) return j;
    static const struct {
        const char *key;
        double q;
    } qs[] = { { "min_ns", 0 },    { "p50_ns", 0.5 },    { "p90_ns", 0.9 }, { "p95_ns", 0.95 },
               { "p99_ns", 0.99 }, { "p999_ns", 0.999 }, { "max_ns", 1.0 } };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        cJSON_AddNumberToObject(j, qs[i].key,
                                (double)clock_ticks_to_ns(cal, hist_quantile(h, qs[i].q)));
    cJSON_AddNumberToObject(j, "mean_ns", hist_mean(h) / cal->ticks_per_ns);
    /* Counts of stalls, a tail the percentiles can hide. */
    uint64_t over1us = 0, over10us = 0;
    uint64_t t1 = (uint64_t)(1000 * cal->ticks_per_ns), t10 = (uint64_t)(10000 * cal->ticks_per_ns);
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        if (hist_bucket_low(b) >= t1) over1us += h->buckets[b];
        if (hist_bucket_low(b) >= t10) over10us += h->buckets[b];
    }
    cJSON_AddNumberToObject(j, "over_1us", (double)over1us);
    cJSON_AddNumberToObject(j, "over_10us", (double)over10us);
    return j;
}

/* Downsample the RSS series to at most SERIES_POINTS by keeping each bucket's maximum. */
static cJSON *series_json(const struct sampler *sp, uint64_t baseline, unsigned period_ms)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "period_ms", period_ms);
    cJSON *tj = cJSON_AddArrayToObject(j, "t_ms");
    cJSON *rj = cJSON_AddArrayToObject(j, "rss_bytes");
    uint32_t n = sp->n;
    uint32_t per = n > SERIES_POINTS ? (n + SERIES_POINTS - 1) / SERIES_POINTS : 1;
    for (uint32_t i = 0; i < n; i += per) {
        uint64_t best = 0;
        uint32_t at = sp->t_ms[i];
        for (uint32_t k = i; k < i + per && k < n; k++) {
            if (sp->rss[k] >= best) {
                best = sp->rss[k];
                at = sp->t_ms[k];
            }
        }
        cJSON_AddItemToArray(tj, cJSON_CreateNumber(at));
        cJSON_AddItemToArray(rj,
                             cJSON_CreateNumber(best > baseline ? (double)(best - baseline) : 0));
    }
    return j;
}

/* "cpus": every CPU the stream's threads were seen on, ascending. */
static void add_cpus(cJSON *out, const struct exec_thread *xs, unsigned threads)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    for (unsigned t = 0; t < threads; t++)
        CPU_OR(&all, &all, &xs[t].cpus);
    cJSON *arr = cJSON_AddArrayToObject(out, "cpus");
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &all)) cJSON_AddItemToArray(arr, cJSON_CreateNumber(cpu));
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

cJSON *exec_stream(const struct opstream *s, const struct exec_opts *o, struct diag *d)
{
    cJSON *out = NULL;
    struct exec_shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.s = s;
    sh.o = o;
    size_t slots_bytes = (size_t)(s->obj_count ? s->obj_count : 1) * sizeof(struct slot);
    size_t xs_bytes = sizeof(struct exec_thread) * s->threads;
    size_t hist_bytes = sizeof(struct hist) * 3 * s->threads;
    size_t marks_bytes = sizeof(struct mark_rec) * MAX_MARKS_LOGGED;
    struct sampler sp;
    memset(&sp, 0, sizeof(sp));
    size_t samp_bytes = (sizeof(uint32_t) + sizeof(uint64_t)) * MAX_RSS_SAMPLES;
    sh.slots = osmem_alloc(slots_bytes);
    struct exec_thread *xs = osmem_alloc(xs_bytes);
    struct hist *hs = osmem_alloc(hist_bytes);
    sh.marks = osmem_alloc(marks_bytes);
    void *samp = osmem_alloc(samp_bytes);
    sh.statm_fd = proc_statm_open();
    if (!sh.slots || !xs || !hs || !sh.marks || !samp) {
        diag_set(d, "out of memory for harness state");
        goto out;
    }
    if (sh.statm_fd < 0) {
        diag_set(d, "cannot open /proc/self/statm: %s", strerror(errno));
        goto out;
    }
    sp.t_ms = samp;
    sp.rss = (uint64_t *)((char *)samp + sizeof(uint32_t) * MAX_RSS_SAMPLES);
    sp.fd = sh.statm_fd;
    sp.period_ms = o->sample_ms ? o->sample_ms : 10;

    for (unsigned t = 0; t < s->threads; t++)
        CPU_ZERO(&xs[t].cpus);

    /* Pre-fault everything the harness will touch, so it is in the baseline. */
    for (unsigned t = 0; t < s->threads; t++)
        osmem_prefault(s->th[t].ops, s->th[t].n * sizeof(struct op));
    osmem_prefault(sh.slots, slots_bytes);
    osmem_prefault(xs, xs_bytes);
    osmem_prefault(hs, hist_bytes);
    osmem_prefault(sh.marks, marks_bytes);
    osmem_prefault(samp, samp_bytes);

    struct clock_cal cal;
    clock_calibrate(&cal, 50);
    sh.overhead_ticks = cal.overhead_ticks;

    /* The lab arena is mapped (not touched) before the baseline: the pages the allocator
     * touches are its footprint. */
    if (o->lab) {
        if (s->threads != 1) {
            diag_set(d, "lab allocators are single-threaded");
            goto out;
        }
        if (lab_heap_open(&lab_heap, o->lab, BENCH_LAB_ARENA) != 0) {
            diag_set(d, "lab:%s: cannot create its %zu MiB arena: %s", o->lab->name,
                     BENCH_LAB_ARENA >> 20, strerror(errno));
            goto out;
        }
    }

    /* ---- Pass 1: throughput ---- */
    struct proc_usage u0, u1;
    sp.start_ns = clock_ns();
    int hwm_reset = proc_reset_hwm() == 0;
    uint64_t baseline = proc_rss_bytes(sh.statm_fd);
    if (pthread_create(&sp.tid, NULL, sampler_main, &sp) != 0) {
        diag_set(d, "cannot start the RSS sampler thread");
        goto out;
    }
    proc_self_usage(&u0);
    uint64_t wall = run_pass(&sh, xs, 0, d);
    proc_self_usage(&u1);
    if (wall == UINT64_MAX) {
        atomic_store(&sp.stop, 1);
        pthread_join(sp.tid, NULL);
        goto out;
    }
    uint64_t end_rss = proc_rss_bytes(sh.statm_fd);
    uint64_t hwm = hwm_reset ? proc_hwm_bytes() : u1.maxrss_bytes;
    atomic_store(&sp.stop, 1);
    pthread_join(sp.tid, NULL);

    uint64_t ops = 0, failures = 0, waits = 0;
    for (unsigned t = 0; t < s->threads; t++) {
        ops += xs[t].ops_done;
        failures += xs[t].failures;
        waits += xs[t].waits;
    }
    uint64_t peak_live = opstream_peak_live(s);
    uint64_t peak_rss = sub0(hwm, baseline);
    uint64_t end_rss_net = sub0(end_rss, baseline);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "ok");
    cJSON_AddNumberToObject(out, "threads", s->threads);
    cJSON_AddNumberToObject(out, "ops", (double)ops);
    cJSON_AddNumberToObject(out, "ops_expected", (double)(s->n_alloc + s->n_free + s->n_realloc));
    cJSON_AddNumberToObject(out, "wall_ns", (double)wall);
    cJSON_AddNumberToObject(out, "ops_per_sec", wall ? (double)ops * 1e9 / (double)wall : 0);
    cJSON *per = cJSON_AddArrayToObject(out, "thread_ops_per_sec");
    for (unsigned t = 0; t < s->threads; t++) {
        uint64_t w = xs[t].t_end - xs[t].t_start;
        cJSON_AddItemToArray(per,
                             cJSON_CreateNumber(w ? (double)xs[t].ops_done * 1e9 / (double)w : 0));
    }
    cJSON_AddNumberToObject(out, "alloc_failures", (double)failures);
    cJSON_AddNumberToObject(out, "sync_waits", (double)waits);
    cJSON_AddNumberToObject(out, "n_alloc", (double)s->n_alloc);
    cJSON_AddNumberToObject(out, "n_free", (double)s->n_free);
    cJSON_AddNumberToObject(out, "n_realloc", (double)s->n_realloc);
    cJSON_AddNumberToObject(out, "stream_bytes", (double)opstream_bytes(s));
    cJSON_AddNumberToObject(
            out, "harness_bytes",
            (double)(slots_bytes + xs_bytes + hist_bytes + marks_bytes + samp_bytes));
    cJSON_AddNumberToObject(out, "rss_baseline_bytes", (double)baseline);
    cJSON_AddBoolToObject(out, "hwm_reset", hwm_reset);
    cJSON_AddNumberToObject(out, "peak_rss_bytes", (double)peak_rss);
    cJSON_AddNumberToObject(out, "end_rss_bytes", (double)end_rss_net);
    cJSON_AddNumberToObject(out, "peak_live_bytes", (double)peak_live);
    cJSON_AddNumberToObject(out, "end_live_bytes", (double)s->live_bytes);
    cJSON_AddNumberToObject(out, "frag_peak", peak_live ? (double)peak_rss / (double)peak_live : 0);
    if (s->live_bytes)
        cJSON_AddNumberToObject(out, "frag_end", (double)end_rss_net / (double)s->live_bytes);
    else
        cJSON_AddNullToObject(out, "frag_end");
    cJSON_AddNumberToObject(out, "minor_faults", (double)(u1.minor_faults - u0.minor_faults));
    cJSON_AddNumberToObject(out, "major_faults", (double)(u1.major_faults - u0.major_faults));
    cJSON_AddNumberToObject(out, "user_ns", (double)(u1.user_ns - u0.user_ns));
    cJSON_AddNumberToObject(out, "sys_ns", (double)(u1.sys_ns - u0.sys_ns));
    cJSON_AddItemToObject(out, "rss_series", series_json(&sp, baseline, sp.period_ms));

    /* Marks, in time order as logged. */
    cJSON *mj = cJSON_AddArrayToObject(out, "marks");
    unsigned nm = atomic_load(&sh.n_marks);
    if (nm > MAX_MARKS_LOGGED) nm = MAX_MARKS_LOGGED;
    int64_t holes_rss = -1, holes_live = -1, refill_rss = -1, refill_live = -1;
    for (unsigned i = 0; i < nm; i++) {
        const struct mark_rec *m = &sh.marks[i];
        cJSON *e = cJSON_CreateObject();
        const char *label = m->idx < s->mark_count ? s->mark_names[m->idx] : "?";
        cJSON_AddStringToObject(e, "label", label);
        cJSON_AddNumberToObject(e, "thread", m->thread);
        cJSON_AddNumberToObject(e, "t_ms", (double)m->t_ns / 1e6);
        cJSON_AddNumberToObject(e, "rss_bytes", (double)sub0(m->rss_bytes, baseline));
        cJSON_AddNumberToObject(e, "live_bytes", (double)m->live_bytes);
        cJSON_AddItemToArray(mj, e);
        if (m->thread == 0 && strcmp(label, "holes") == 0) {
            holes_rss = (int64_t)m->rss_bytes;
            holes_live = (int64_t)m->live_bytes;
        }
        if (m->thread == 0 && strcmp(label, "refilled") == 0) {
            refill_rss = (int64_t)m->rss_bytes;
            refill_live = (int64_t)m->live_bytes;
        }
    }
    /*
     * Hole reuse (fragmentation workload): of the bytes allocated after the holes were
     * punched, the fraction that did not grow RSS. 1 = all served from the holes.
     */
    if (holes_rss >= 0 && refill_rss >= 0 && refill_live > holes_live) {
        double grown = (double)(refill_rss - holes_rss);
        double added = (double)(refill_live - holes_live);
        double reuse = 1.0 - grown / added;
        reuse = reuse < 0 ? 0 : (reuse > 1 ? 1 : reuse);
        cJSON_AddNumberToObject(out, "hole_reuse", reuse);
    }

    cleanup_slots(sh.slots, s->obj_count);

    /* ---- Pass 2: latency ---- */
    if (o->latency && o->lab) { /* a fresh arena: bump never reclaims what pass 1 used */
        lab_heap_close(&lab_heap);
        if (lab_heap_open(&lab_heap, o->lab, BENCH_LAB_ARENA) != 0) {
            cJSON_Delete(out);
            out = NULL;
            diag_set(d, "lab:%s: cannot re-create its arena", o->lab->name);
            goto out;
        }
    }
    if (o->latency) {
        for (unsigned t = 0; t < s->threads; t++) {
            xs[t].h_alloc = &hs[3 * t];
            xs[t].h_free = &hs[3 * t + 1];
            xs[t].h_realloc = &hs[3 * t + 2];
            hist_init(xs[t].h_alloc);
            hist_init(xs[t].h_free);
            hist_init(xs[t].h_realloc);
            prng_seed(&xs[t].rng, 0x1a7e9c7, t);
        }
        if (run_pass(&sh, xs, 1, d) == UINT64_MAX) {
            cJSON_Delete(out);
            out = NULL;
            goto out;
        }
        cleanup_slots(sh.slots, s->obj_count);
        for (unsigned t = 1; t < s->threads; t++) {
            hist_merge(xs[0].h_alloc, xs[t].h_alloc);
            hist_merge(xs[0].h_free, xs[t].h_free);
            hist_merge(xs[0].h_realloc, xs[t].h_realloc);
        }
        cJSON *lj = cJSON_AddObjectToObject(out, "latency");
        cJSON_AddNumberToObject(lj, "timer_overhead_ns",
                                (double)cal.overhead_ticks / cal.ticks_per_ns);
        cJSON_AddNumberToObject(lj, "timer_floor_ns", (double)cal.floor_ticks / cal.ticks_per_ns);
        cJSON_AddNumberToObject(lj, "timer_resolution_ns",
                                (double)cal.resolution_ticks / cal.ticks_per_ns);
        cJSON_AddNumberToObject(lj, "ticks_per_ns", cal.ticks_per_ns);
        cJSON_AddNumberToObject(lj, "sample_stride", o->sample_stride);
        cJSON_AddItemToObject(lj, "malloc", hist_json(xs[0].h_alloc, &cal));
        cJSON_AddItemToObject(lj, "free", hist_json(xs[0].h_free, &cal));
        cJSON_AddItemToObject(lj, "realloc", hist_json(xs[0].h_realloc, &cal));
    }
    add_cpus(out, xs, s->threads);

out:
    if (lab_heap.ops) lab_heap_close(&lab_heap);
    if (sh.statm_fd >= 0) close(sh.statm_fd);
    osmem_free(sh.slots, slots_bytes);
    osmem_free(xs, xs_bytes);
    osmem_free(hs, hist_bytes);
    osmem_free(sh.marks, marks_bytes);
    osmem_free(samp, samp_bytes);
    return out;
}
