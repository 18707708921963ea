/*
 * bench/exec_json.c: the worker's result object (docs/results.md, "A run"): the throughput
 * pass's counters and memory figures, its RSS series and marks, the hole reuse of the
 * fragmentation workload, the latency histograms and the CPUs the threads ran on.
 */
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <string.h>

#include "bench/exec.h"
#include "util/clock.h"
#include "util/hist.h"

#define SERIES_POINTS 256

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
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

/* "marks", and "hole_reuse" computed from them. */
static const char *mark_label(const struct opstream *s, const struct mark_rec *m)
{
    return m->idx < s->mark_count ? s->mark_names[m->idx] : "?";
}

/* Thread 0's last mark called `label`, or NULL. */
static const struct mark_rec *find_mark(const struct opstream *s, const struct mark_rec *marks,
                                        unsigned nm, const char *label)
{
    const struct mark_rec *found = NULL;
    for (unsigned i = 0; i < nm; i++)
        if (marks[i].thread == 0 && strcmp(mark_label(s, &marks[i]), label) == 0) found = &marks[i];
    return found;
}

/* Add `key`: of the bytes allocated between marks a and b, the fraction that did not grow
 * the footprint, clamped to [0, 1]. Nothing when a mark is missing or nothing was added. */
static void add_reuse(cJSON *out, const char *key, const struct mark_rec *a,
                      const struct mark_rec *b)
{
    if (!a || !b || b->live_bytes <= a->live_bytes) return;
    double grown = (double)b->footprint - (double)a->footprint;
    double reuse = 1.0 - grown / (double)(b->live_bytes - a->live_bytes);
    cJSON_AddNumberToObject(out, key, reuse < 0 ? 0 : (reuse > 1 ? 1 : reuse));
}

/*
 * Hole reuse, from the marks of the fragmentation workload (workload/fragmentation.c): after
 * "holes", the refill's three bands each end with a mark. Per band, and for the whole refill
 * ("hole_reuse"), the fraction of its bytes that came out of memory the allocator already
 * held, i.e. the holes: 1 = all of it, 0 = all from new memory. Only at one thread: with more,
 * RSS grows with every thread's allocations between one thread's marks.
 */
static void add_hole_reuse(cJSON *out, const struct opstream *s, const struct mark_rec *marks,
                           unsigned nm)
{
    if (s->threads != 1) return;
    const struct mark_rec *holes = find_mark(s, marks, nm, "holes");
    const struct mark_rec *smaller = find_mark(s, marks, nm, "refill-smaller");
    const struct mark_rec *equal = find_mark(s, marks, nm, "refill-equal");
    const struct mark_rec *larger = find_mark(s, marks, nm, "refill-larger");
    add_reuse(out, "hole_reuse_smaller", holes, smaller);
    add_reuse(out, "hole_reuse_equal", smaller, equal);
    add_reuse(out, "hole_reuse_larger", equal, larger);
    add_reuse(out, "hole_reuse", holes, larger);
}

/*
 * Marks, in time order as logged. At each, the footprint: what the allocator holds. For a
 * process's malloc that is RSS above the baseline; a lab allocator's pages are its arena's
 * and RSS counts them only to the page, so there it is the allocator's own high-water mark
 * of arena bytes touched (lab_stats.footprint), exact to the byte. At one thread the mark's
 * live bytes are all there are, and footprint / live is the fragmentation at that point;
 * with more, RSS is the process's and live the thread's, so there is no ratio.
 */
static void add_marks(cJSON *out, const struct exec_shared *sh, uint64_t baseline)
{
    const struct opstream *s = sh->s;
    int use_lab_fp = sh->o->lab && sh->o->lab->stats;
    cJSON_AddStringToObject(out, "footprint_source", use_lab_fp ? "lab" : "rss");
    cJSON *mj = cJSON_AddArrayToObject(out, "marks");
    unsigned nm = atomic_load(&sh->n_marks);
    if (nm > EXEC_MAX_MARKS) nm = EXEC_MAX_MARKS;
    static struct mark_rec marks[EXEC_MAX_MARKS]; /* with the footprints filled in */
    memcpy(marks, sh->marks, nm * sizeof marks[0]);
    for (unsigned i = 0; i < nm; i++) {
        struct mark_rec *m = &marks[i];
        if (!use_lab_fp) m->footprint = sub0(m->rss_bytes, baseline);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "label", mark_label(s, m));
        cJSON_AddNumberToObject(e, "thread", m->thread);
        cJSON_AddNumberToObject(e, "t_ms", (double)m->t_ns / 1e6);
        cJSON_AddNumberToObject(e, "rss_bytes", (double)sub0(m->rss_bytes, baseline));
        cJSON_AddNumberToObject(e, "live_bytes", (double)m->live_bytes);
        cJSON_AddNumberToObject(e, "footprint_bytes", (double)m->footprint);
        if (s->threads == 1 && m->live_bytes)
            cJSON_AddNumberToObject(e, "frag", (double)m->footprint / (double)m->live_bytes);
        else
            cJSON_AddNullToObject(e, "frag");
        cJSON_AddItemToArray(mj, e);
    }
    add_hole_reuse(out, s, marks, nm);
}

cJSON *exec_json_result(const struct exec_shared *sh, const struct exec_thread *xs,
                        const struct exec_facts *f)
{
    const struct opstream *s = sh->s;
    uint64_t wall = f->wall_ns, baseline = f->baseline_bytes;
    const struct proc_usage u0 = f->u0, u1 = f->u1;
    uint64_t ops = 0, failures = 0, waits = 0;
    for (unsigned t = 0; t < s->threads; t++) {
        ops += xs[t].ops_done;
        failures += xs[t].failures;
        waits += xs[t].waits;
    }
    uint64_t peak_live = opstream_peak_live(s);
    uint64_t peak_rss = sub0(f->hwm_bytes, baseline);
    uint64_t end_rss_net = sub0(f->end_rss_bytes, baseline);

    cJSON *out = cJSON_CreateObject();
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
    cJSON_AddNumberToObject(out, "harness_bytes", (double)f->harness_bytes);
    cJSON_AddNumberToObject(out, "rss_baseline_bytes", (double)baseline);
    cJSON_AddBoolToObject(out, "hwm_reset", f->hwm_reset);
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
    cJSON_AddItemToObject(out, "rss_series", series_json(f->rss, baseline, f->rss->period_ms));
    add_marks(out, sh, baseline);
    return out;
}

void exec_json_latency(cJSON *out, const struct exec_thread *x0, const struct clock_cal *cal,
                       unsigned sample_stride)
{
    cJSON *lj = cJSON_AddObjectToObject(out, "latency");
    cJSON_AddNumberToObject(lj, "timer_overhead_ns",
                            (double)cal->overhead_ticks / cal->ticks_per_ns);
    cJSON_AddNumberToObject(lj, "timer_floor_ns", (double)cal->floor_ticks / cal->ticks_per_ns);
    cJSON_AddNumberToObject(lj, "timer_resolution_ns",
                            (double)cal->resolution_ticks / cal->ticks_per_ns);
    cJSON_AddNumberToObject(lj, "ticks_per_ns", cal->ticks_per_ns);
    cJSON_AddNumberToObject(lj, "sample_stride", sample_stride);
    cJSON_AddItemToObject(lj, "malloc", hist_json(x0->h_alloc, cal));
    cJSON_AddItemToObject(lj, "free", hist_json(x0->h_free, cal));
    cJSON_AddItemToObject(lj, "realloc", hist_json(x0->h_realloc, cal));
}

/*
 * Per thread, over [t_start, t_end] of the throughput pass: context switches, time on a CPU,
 * waiting for one (runnable: more threads than CPUs) and blocked (neither: asleep, in a futex
 * wait on a lock, a page fault's I/O), blocked = wall - on CPU - waiting, where wall is the
 * window the schedstat reads bracket (the pass plus the reads, so waiting <= wall). Without
 * /proc/thread-self/schedstat (a kernel without CONFIG_SCHED_INFO), waiting is unknown
 * (null, "source": "cputime") and blocked = wall - on CPU holds it too. The sums over the
 * threads sit beside throughput in the results.
 */
void exec_json_contention(cJSON *out, const struct exec_thread *xs, unsigned threads)
{
    int schedstat = 1;
    uint64_t vol = 0, invol = 0, wall = 0, cpu = 0, runq = 0, blocked = 0;
    cJSON *c = cJSON_AddObjectToObject(out, "contention");
    cJSON *per = cJSON_CreateArray();
    for (unsigned t = 0; t < threads; t++) {
        const struct exec_sched *a = &xs[t].sched0, *b = &xs[t].sched1;
        int ss = a->schedstat && b->schedstat;
        uint64_t w = ss ? sub0(b->at_ns, a->at_ns) : sub0(xs[t].t_end, xs[t].t_start);
        uint64_t on = sub0(b->cpu_ns, a->cpu_ns), rq = ss ? sub0(b->runq_ns, a->runq_ns) : 0;
        uint64_t bl = sub0(w, on + rq);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "voluntary_switches", (double)sub0(b->nvcsw, a->nvcsw));
        cJSON_AddNumberToObject(j, "involuntary_switches", (double)sub0(b->nivcsw, a->nivcsw));
        cJSON_AddNumberToObject(j, "wall_ns", (double)w);
        cJSON_AddNumberToObject(j, "cpu_ns", (double)on);
        if (ss)
            cJSON_AddNumberToObject(j, "runqueue_ns", (double)rq);
        else
            cJSON_AddNullToObject(j, "runqueue_ns");
        cJSON_AddNumberToObject(j, "blocked_ns", (double)bl);
        cJSON_AddItemToArray(per, j);
        schedstat &= ss;
        vol += sub0(b->nvcsw, a->nvcsw);
        invol += sub0(b->nivcsw, a->nivcsw);
        wall += w;
        cpu += on;
        runq += rq;
        blocked += bl;
    }
    cJSON_AddStringToObject(c, "source", schedstat ? "schedstat" : "cputime");
    cJSON_AddNumberToObject(c, "voluntary_switches", (double)vol);
    cJSON_AddNumberToObject(c, "involuntary_switches", (double)invol);
    cJSON_AddNumberToObject(c, "thread_ns", (double)wall);
    cJSON_AddNumberToObject(c, "cpu_ns", (double)cpu);
    if (schedstat)
        cJSON_AddNumberToObject(c, "runqueue_ns", (double)runq);
    else
        cJSON_AddNullToObject(c, "runqueue_ns");
    cJSON_AddNumberToObject(c, "blocked_ns", (double)blocked);
    cJSON_AddItemToObject(c, "threads", per);
}

void exec_json_cpus(cJSON *out, const struct exec_thread *xs, unsigned threads)
{
    cJSON *arr = cJSON_AddArrayToObject(out, "cpus");
    for (unsigned w = 0; w < EXEC_CPU_WORDS; w++) {
        uint64_t seen = 0;
        for (unsigned t = 0; t < threads; t++)
            seen |= xs[t].cpus[w];
        for (unsigned b = 0; b < 64; b++)
            if (seen >> b & 1) cJSON_AddItemToArray(arr, cJSON_CreateNumber(w * 64 + b));
    }
}
