/*
 * bench/exec.c: executing an operation stream through the process's own malloc: the op
 * loop, its threads and the two passes. The lab backend, the RSS sampler and the result
 * object are exec_lab.c, exec_rss.c and exec_json.c (exec.h).
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
#include "bench/exec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "inside/inside.h"
#include "util/clock.h"
#include "util/diag.h"
#include "util/hist.h"
#include "util/osmem.h"
#include "util/prng.h"

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

static void wait_seq(struct exec_thread *x, _Atomic uint32_t *a, uint32_t want, uint64_t *waits,
                     const int inside)
{
    (*waits)++;
    unsigned spins = 0;
    while (atomic_load_explicit(a, memory_order_acquire) != want) {
        if (inside) exec_inside_wait(x); /* a snapshot must not wait for this thread */
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
    if (i >= EXEC_MAX_MARKS) return;
    struct mark_rec *m = &sh->marks[i];
    m->idx = (unsigned)o->size;
    m->thread = x->t;
    m->t_ns = clock_ns() - (sh->mark_origin_ns ? sh->mark_origin_ns : sh->pass_start_ns);
    m->rss_bytes = proc_rss_bytes(sh->statm_fd);
    m->live_bytes = x->live;
    m->footprint = 0;
    if (sh->lab.ops && sh->lab.ops->stats) {
        struct lab_stats st;
        sh->lab.ops->stats(sh->lab.self, &st);
        m->footprint = st.footprint;
    }
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
 * The loop. SYNC, TIMED, LAB and INSIDE are compile-time constants at each call site, so
 * the variants are specialized: the throughput pass carries no timing code at all, and
 * only the inside pass (untimed) calls out after each op.
 */
static inline __attribute__((always_inline)) void
run_ops(struct exec_thread *x, const int sync, const int timed, const int lab, const int inside)
{
    const struct op_seq *q = &x->sh->s->th[x->t];
    struct slot *slots = x->sh->slots;
    const struct lab_heap *lh = &x->sh->lab; /* loaded once: stores to slots may alias x */
    uint64_t countdown = timed ? next_stride(x) : 0;
    uint64_t done = 0, failures = 0, waits = 0, live = x->live;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_MARK) {
            x->live = live;
            log_mark(x, o);
            if (inside) exec_inside_step(x, i, o);
            continue;
        }
        struct slot *sl = &slots[o->obj];
        if (sync && atomic_load_explicit(&sl->seq, memory_order_acquire) != o->seq)
            wait_seq(x, &sl->seq, o->seq, &waits, inside);
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
                p = lab ? exec_lab_alloc(lh, o, sl) : do_alloc(o);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_alloc, timed_delta(x, t0, t1));
            } else {
                p = lab ? exec_lab_alloc(lh, o, sl) : do_alloc(o);
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
                    exec_lab_free(lh, sl);
                else
                    free(sl->p);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_free, timed_delta(x, t0, t1));
            } else if (lab) {
                exec_lab_free(lh, sl);
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
                p = lab ? exec_lab_realloc(lh, sl, o->size) : realloc(sl->p, o->size);
                uint64_t t1 = clock_ticks();
                hist_add(x->h_realloc, timed_delta(x, t0, t1));
            } else {
                p = lab ? exec_lab_realloc(lh, sl, o->size) : realloc(sl->p, o->size);
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
        if (inside) exec_inside_step(x, i, o);
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
    if (cpu >= 0 && cpu < 64 * EXEC_CPU_WORDS) x->cpus[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}

/*
 * The calling thread's scheduler counters: context switches from getrusage(RUSAGE_THREAD);
 * time on a CPU from CLOCK_THREAD_CPUTIME_ID (the kernel brings the running thread's sum up
 * to date for it, exact in ns); time runnable but waiting for a CPU from
 * /proc/thread-self/schedstat's second field (run_delay), which counts a wait when it ends.
 * The schedstat read is innermost on both sides (the file is opened before and closed after,
 * outside), and `at_ns` brackets it from outside: every wait in the difference of two reads
 * lies between their `at_ns`, so a preemption just outside the timed region is counted in
 * that window, never against the shorter [t_start, t_end]. Plain syscalls into a stack
 * buffer: nothing here calls the allocator under test.
 */
static void read_runq(struct exec_sched *sc, int fd)
{
    char buf[128];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    unsigned long long cpu, runq;
    if (n > 0) {
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &cpu, &runq) == 2) {
            sc->runq_ns = runq;
            sc->schedstat = 1;
        }
    }
}

static void read_usage(struct exec_sched *sc)
{
    struct rusage ru;
    struct timespec ts;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        sc->nvcsw = (uint64_t)ru.ru_nvcsw;
        sc->nivcsw = (uint64_t)ru.ru_nivcsw;
    }
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        sc->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Before the pass: returns the schedstat fd that sched_after reads and closes. */
static int sched_before(struct exec_sched *sc)
{
    memset(sc, 0, sizeof *sc);
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    read_usage(sc);
    sc->at_ns = clock_ns();
    read_runq(sc, fd);
    return fd;
}

static void sched_after(struct exec_sched *sc, int fd)
{
    memset(sc, 0, sizeof *sc);
    read_runq(sc, fd);
    sc->at_ns = clock_ns();
    read_usage(sc);
    if (fd >= 0) close(fd);
}

/* The OS counting pass's markers open and close each thread's window around its ops. */
static void run_thread_body(struct exec_thread *x)
{
    const struct exec_shared *sh = x->sh;
    int sync = sh->s->cross_thread;
    note_cpu(x);
    int sfd = sched_before(&x->sched0);
    if (sh->os_markers) oscount_marker(OSCOUNT_BEGIN);
    x->t_start = clock_ns();
    if (sh->in)
        sync ? run_ops(x, 1, 0, 0, 1) : run_ops(x, 0, 0, 0, 1);
    else if (sh->o->lab) /* single-threaded: never sync */
        x->timed ? run_ops(x, 0, 1, 1, 0) : run_ops(x, 0, 0, 1, 0);
    else if (sync && x->timed)
        run_ops(x, 1, 1, 0, 0);
    else if (sync)
        run_ops(x, 1, 0, 0, 0);
    else if (x->timed)
        run_ops(x, 0, 1, 0, 0);
    else
        run_ops(x, 0, 0, 0, 0);
    x->t_end = clock_ns();
    sched_after(&x->sched1, sfd);
    if (sh->os_markers) oscount_marker(OSCOUNT_END);
    if (sh->in) exec_inside_done(x);
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
    if (x->sh->os_markers) oscount_marker(OSCOUNT_HARNESS);
    pin_self(x);
    atomic_fetch_add_explicit(&x->sh->ready, 1, memory_order_release);
    int go;
    while ((go = atomic_load_explicit(&x->sh->go, memory_order_acquire)) == 0)
        sched_yield();
    if (go > 0) run_thread_body(x);
    return NULL;
}

void exec_cleanup_slots(struct exec_shared *sh)
{
    struct slot *slots = sh->slots;
    for (uint32_t i = 0; i < sh->s->obj_count; i++) {
        if (sh->lab.ops)
            exec_lab_free(&sh->lab, &slots[i]);
        else
            free(slots[i].p);
        slots[i].pad = 0;
        slots[i].p = NULL;
        slots[i].size = 0;
        atomic_store_explicit(&slots[i].seq, 0, memory_order_relaxed);
    }
}

/* A thread of the pass, on a stack of the harness's when it has them (a heap map must
 * tell the threads' stacks from the allocator's memory). */
static int start_thread(struct exec_shared *sh, struct exec_thread *x)
{
    if (!sh->stacks) return pthread_create(&x->tid, NULL, thread_main, x);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return -1;
    int rc = pthread_attr_setstack(&attr, (char *)sh->stacks + (size_t)x->t * EXEC_STACK_BYTES,
                                   EXEC_STACK_BYTES);
    if (rc == 0) rc = pthread_create(&x->tid, &attr, thread_main, x);
    pthread_attr_destroy(&attr);
    return rc;
}

uint64_t exec_run_pass(struct exec_shared *sh, struct exec_thread *xs, int timed, struct diag *d)
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
        if (start_thread(sh, &xs[t]) != 0) break;
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

/* Pass 1, throughput: no timers in the loop; RSS sampled, usage and peak RSS around it. */
static cJSON *throughput_pass(struct exec_shared *sh, struct exec_thread *xs, struct exec_facts *f,
                              struct sampler *sp, struct diag *d)
{
    uint64_t start_ns = clock_ns();
    f->hwm_reset = proc_reset_hwm() == 0;
    f->baseline_bytes = proc_rss_bytes(sh->statm_fd);
    if (exec_sampler_start(sp, start_ns) != 0) {
        diag_set(d, "cannot start the RSS sampler thread");
        return NULL;
    }
    proc_self_usage(&f->u0);
    sh->mark_origin_ns = start_ns; /* marks and rss_series on one time axis */
    f->wall_ns = exec_run_pass(sh, xs, 0, d);
    sh->mark_origin_ns = 0;
    proc_self_usage(&f->u1);
    if (f->wall_ns == UINT64_MAX) {
        exec_sampler_stop(sp);
        return NULL;
    }
    f->end_rss_bytes = proc_rss_bytes(sh->statm_fd);
    f->hwm_bytes = f->hwm_reset ? proc_hwm_bytes() : f->u1.maxrss_bytes;
    exec_sampler_stop(sp);
    f->rss = sp;
    cJSON *out = exec_json_result(sh, xs, f);
    if (out) exec_json_contention(out, xs, sh->s->threads);
    exec_cleanup_slots(sh);
    return out;
}

/* Pass 2, latency: about one call in sample_stride timed into per-thread histograms. */
static int latency_pass(struct exec_shared *sh, struct exec_thread *xs, struct hist *hs,
                        const struct clock_cal *cal, cJSON *out, struct diag *d)
{
    const struct opstream *s = sh->s;
    const struct exec_opts *o = sh->o;
    if (o->lab) { /* a fresh arena: bump never reclaims what pass 1 used */
        lab_heap_close(&sh->lab);
        if (exec_lab_open(&sh->lab, o->lab, d) != 0) return -1;
    }
    for (unsigned t = 0; t < s->threads; t++) {
        xs[t].h_alloc = &hs[3 * t];
        xs[t].h_free = &hs[3 * t + 1];
        xs[t].h_realloc = &hs[3 * t + 2];
        hist_init(xs[t].h_alloc);
        hist_init(xs[t].h_free);
        hist_init(xs[t].h_realloc);
        prng_seed(&xs[t].rng, 0x1a7e9c7, t);
    }
    if (exec_run_pass(sh, xs, 1, d) == UINT64_MAX) return -1;
    exec_cleanup_slots(sh);
    for (unsigned t = 1; t < s->threads; t++) {
        hist_merge(xs[0].h_alloc, xs[t].h_alloc);
        hist_merge(xs[0].h_free, xs[t].h_free);
        hist_merge(xs[0].h_realloc, xs[t].h_realloc);
    }
    exec_json_latency(out, &xs[0], cal, o->sample_stride);
    return 0;
}

/*
 * The untimed passes instead of the timed ones: heap maps and statistics, with the threads
 * on stacks of the harness's (so a map can leave them out), or OS call counting.
 */
static cJSON *inside_passes(struct exec_shared *sh, struct exec_thread *xs, struct diag *d)
{
    const struct exec_opts *o = sh->o;
    if (o->lab) {
        diag_set(d, "the inside passes look at the process's malloc, not at lab allocators");
        return NULL;
    }
    if (o->inside & EXEC_INSIDE_OSCALLS) return exec_oscount_pass(sh, xs, d);
    size_t stacks_bytes = sh->s->threads > 1 ? sh->s->threads * EXEC_STACK_BYTES : 0;
    if (stacks_bytes && !(sh->stacks = osmem_alloc(stacks_bytes))) {
        diag_set(d, "out of memory for thread stacks");
        return NULL;
    }
    cJSON *out = exec_inside_pass(sh, xs, d);
    osmem_free(sh->stacks, stacks_bytes);
    sh->stacks = NULL;
    return out;
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
    size_t marks_bytes = sizeof(struct mark_rec) * EXEC_MAX_MARKS;
    size_t samp_bytes = EXEC_SAMPLER_BYTES;
    struct sampler sp;
    struct exec_facts facts;
    memset(&facts, 0, sizeof(facts));
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
    exec_sampler_init(&sp, samp, sh.statm_fd, o->sample_ms);
    facts.harness_bytes = slots_bytes + xs_bytes + hist_bytes + marks_bytes + samp_bytes;
    for (unsigned t = 0; t < s->threads; t++)
        memset(xs[t].cpus, 0, sizeof xs[t].cpus);

    /* Pre-fault everything the harness will touch, so it is in the baseline. */
    for (unsigned t = 0; t < s->threads; t++)
        osmem_prefault(s->th[t].ops, s->th[t].n * sizeof(struct op));
    osmem_prefault(sh.slots, slots_bytes);
    osmem_prefault(xs, xs_bytes);
    osmem_prefault(hs, hist_bytes);
    osmem_prefault(sh.marks, marks_bytes);
    osmem_prefault(samp, samp_bytes);

    if (o->inside) {
        out = inside_passes(&sh, xs, d);
        goto out;
    }

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
        if (exec_lab_open(&sh.lab, o->lab, d) != 0) goto out;
    }

    out = throughput_pass(&sh, xs, &facts, &sp, d);
    if (out && o->latency && latency_pass(&sh, xs, hs, &cal, out, d) != 0) {
        cJSON_Delete(out);
        out = NULL;
    }
    if (out) exec_json_cpus(out, xs, s->threads);

out:
    if (sh.lab.ops) lab_heap_close(&sh.lab);
    if (sh.statm_fd >= 0) close(sh.statm_fd);
    osmem_free(sh.slots, slots_bytes);
    osmem_free(xs, xs_bytes);
    osmem_free(hs, hist_bytes);
    osmem_free(sh.marks, marks_bytes);
    osmem_free(samp, samp_bytes);
    return out;
}
