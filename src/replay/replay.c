/*
 * replay/replay.c: compiling a malloc trace (trace/trace.h) into an operation stream.
 *
 * The trace's events are read in sequence order (the order in which the calls took effect
 * across threads) and turned into ops on dense object ids, so a replay is an ordinary stream
 * that every executor runs: `heaplab bench --trace`, `heaplab replay`, the lab.
 *
 * Pointers are remapped: a table from the trace's live addresses to object ids. An allocation
 * maps its result to a fresh id (ops_alloc recycles ids per thread, so reuse never creates a
 * cross-thread dependency); a free looks its pointer up and frees that object, and a free of an
 * address the trace never allocated (memory from before the recorder loaded, or from a
 * function it does not wrap) is skipped and counted. realloc keeps its object id: the old
 * address leaves the table at the realloc's free half (its seq) and the new one enters only
 * once the sequence passes its allocation half (seq2), because between the two another thread
 * may still free a block that happened to live at the new address.
 *
 * Threads: the i-th thread present in the trace, by index, runs on stream thread i mod
 * WL_MAX_THREADS (folding is counted). That is trace thread i unless the trace is damaged:
 * truncation or a corrupt chunk can remove every chunk of a thread, leaving a gap.
 * A trace with more than one thread gives a cross_thread stream: a free of a block another
 * thread allocated waits, at replay, until that allocation has run.
 *
 * What cannot be replayed as recorded, and is counted: allocations that failed (NULL), a
 * size of 0 (replayed as 1 byte: malloc(0) returns a block), alignments above 2^26 (clamped).
 */
#include "replay/replay.h"

#include <stdint.h>
#include <string.h>

#include "trace/trace.h"
#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

/* ---- address -> object id ------------------------------------------------------------ */

#define EMPTY UINT64_C(0)
#define TOMB  UINT64_C(1) /* addresses are never 0 or 1 */

struct amap {
    uint64_t *key;
    uint32_t *val;
    size_t cap, used, live; /* used counts tombstones too */
};

static inline size_t amap_hash(uint64_t a, size_t cap)
{
    a ^= a >> 33;
    a *= UINT64_C(0xff51afd7ed558ccd);
    a ^= a >> 33;
    return (size_t)a & (cap - 1);
}

static int amap_init(struct amap *m, size_t cap)
{
    memset(m, 0, sizeof *m);
    m->key = osmem_alloc(cap * sizeof *m->key);
    m->val = osmem_alloc(cap * sizeof *m->val);
    if (!m->key || !m->val) {
        if (m->key) osmem_free(m->key, cap * sizeof *m->key);
        if (m->val) osmem_free(m->val, cap * sizeof *m->val);
        return -1;
    }
    m->cap = cap;
    return 0;
}

static void amap_destroy(struct amap *m)
{
    if (m->key) osmem_free(m->key, m->cap * sizeof *m->key);
    if (m->val) osmem_free(m->val, m->cap * sizeof *m->val);
    memset(m, 0, sizeof *m);
}

/* The slot of `a`, or of where it would go. */
static size_t amap_slot(const struct amap *m, uint64_t a, int *found)
{
    size_t i = amap_hash(a, m->cap), tomb = SIZE_MAX;
    for (;;) {
        uint64_t k = m->key[i];
        if (k == a) {
            *found = 1;
            return i;
        }
        if (k == EMPTY) {
            *found = 0;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (k == TOMB && tomb == SIZE_MAX) tomb = i;
        i = (i + 1) & (m->cap - 1);
    }
}

static int amap_grow(struct amap *m)
{
    struct amap n;
    if (amap_init(&n, m->cap * 2) != 0) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->key[i] <= TOMB) continue;
        int found;
        size_t j = amap_slot(&n, m->key[i], &found);
        n.key[j] = m->key[i];
        n.val[j] = m->val[i];
        n.used++;
        n.live++;
    }
    amap_destroy(m);
    *m = n;
    return 0;
}

/* Map a -> v (replacing a stale mapping). 0, or -1 out of memory. */
static int amap_put(struct amap *m, uint64_t a, uint32_t v, int *replaced)
{
    if ((m->used + 1) * 2 > m->cap && amap_grow(m) != 0) return -1;
    int found;
    size_t i = amap_slot(m, a, &found);
    *replaced = found;
    if (!found) {
        if (m->key[i] == EMPTY) m->used++;
        m->live++;
        m->key[i] = a;
    }
    m->val[i] = v;
    return 0;
}

/* Remove a; its id into *v. 1 if it was there. */
static int amap_take(struct amap *m, uint64_t a, uint32_t *v)
{
    int found;
    size_t i = amap_slot(m, a, &found);
    if (!found) return 0;
    *v = m->val[i];
    m->key[i] = TOMB;
    m->live--;
    return 1;
}

/* ---- compiling ------------------------------------------------------------------------ */

struct pending { /* a realloc's new address, entering the map once seq passes seq2 */
    uint64_t seq2, addr;
    uint32_t obj;
};

struct compiler {
    struct opstream *s;
    struct replay_stats *st;
    const struct trace_thread *threads; /* present in the trace, by index */
    size_t nthreads;
    struct amap map;
    struct pending *pend;
    size_t npend, cap_pend;
    int oom;
};

static unsigned align_shift_of(uint64_t align, struct replay_stats *st)
{
    if (align <= 16) return 0;
    unsigned sh = 63u - (unsigned)__builtin_clzll(align);
    if ((align & (align - 1)) != 0) sh++; /* not a power of two: the next one up */
    if (sh > WL_MAX_ALIGN_SHIFT) {
        st->clamped_aligns++;
        sh = WL_MAX_ALIGN_SHIFT;
    }
    return sh;
}

/* The stream thread of trace thread `index`: its position among the threads present. */
static unsigned stream_thread(const struct compiler *c, uint32_t index)
{
    size_t at = index;
    if (at >= c->nthreads || c->threads[at].index != index) { /* a gap: search */
        size_t lo = 0, hi = c->nthreads;
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (c->threads[mid].index <= index)
                lo = mid;
            else
                hi = mid;
        }
        at = lo;
    }
    return (unsigned)(at % WL_MAX_THREADS);
}

static void map_put(struct compiler *c, uint64_t addr, uint32_t obj)
{
    int replaced;
    if (amap_put(&c->map, addr, obj, &replaced) != 0) {
        c->oom = 1;
        return;
    }
    /* An address still mapped means its free was not recorded (or not wrapped). */
    if (replaced) c->st->stale_addresses++;
}

static void apply_pending(struct compiler *c, uint64_t seq)
{
    for (size_t i = 0; i < c->npend;) {
        if (c->pend[i].seq2 < seq) {
            map_put(c, c->pend[i].addr, c->pend[i].obj);
            c->pend[i] = c->pend[--c->npend];
        } else {
            i++;
        }
    }
}

static uint64_t replay_size(uint64_t n, struct replay_stats *st)
{
    if (n == 0) {
        st->zero_sizes++;
        return 1;
    }
    return n;
}

static int on_event(const struct trace_event *ev, void *arg)
{
    struct compiler *c = arg;
    struct replay_stats *st = c->st;
    struct opstream *s = c->s;
    if (c->npend) apply_pending(c, ev->seq);
    unsigned t = stream_thread(c, ev->thread);
    uint32_t obj;
    st->events++;
    switch (ev->kind) {
    case TRACE_MALLOC:
    case TRACE_CALLOC:
    case TRACE_POSIX_MEMALIGN:
    case TRACE_ALIGNED_ALLOC:
    case TRACE_MEMALIGN:
    case TRACE_VALLOC:
    case TRACE_PVALLOC: {
        if (ev->result == 0 || (ev->kind == TRACE_POSIX_MEMALIGN && ev->value != 0)) {
            st->failed++;
            break;
        }
        uint64_t n = replay_size(trace_event_bytes(ev), st);
        unsigned sh = 0;
        if (ev->kind == TRACE_VALLOC || ev->kind == TRACE_PVALLOC)
            sh = 12;
        else if (ev->kind != TRACE_MALLOC && ev->kind != TRACE_CALLOC)
            sh = align_shift_of(ev->align, st);
        if (ev->kind == TRACE_CALLOC)
            obj = ops_calloc(s, t, n);
        else
            obj = ops_alloc(s, t, n, sh);
        map_put(c, ev->result, obj);
        st->allocs++;
        break;
    }
    case TRACE_FREE:
    case TRACE_FREE_SIZED:
    case TRACE_FREE_ALIGNED_SIZED:
        if (ev->ptr == 0) break;
        if (!amap_take(&c->map, ev->ptr, &obj)) {
            st->unknown_frees++;
            break;
        }
        ops_free(s, t, obj);
        st->frees++;
        break;
    case TRACE_REALLOC:
    case TRACE_REALLOCARRAY: {
        int known = ev->ptr != 0 && amap_take(&c->map, ev->ptr, &obj);
        if (ev->ptr != 0 && !known) st->unknown_frees++;
        if (ev->result == 0) {
            if (known && (ev->flags & TRACE_F_ZERO_FREED)) { /* realloc(p, 0) freed p */
                ops_free(s, t, obj);
                st->frees++;
            } else if (known) { /* failed: the old block stays */
                map_put(c, ev->ptr, obj);
                st->failed++;
            } else {
                st->failed++;
            }
            break;
        }
        uint64_t n = replay_size(trace_event_bytes(ev), st);
        if (known) {
            ops_realloc(s, t, obj, n);
            st->reallocs++;
        } else { /* from NULL, or from a block the trace never saw: a new block */
            obj = ops_alloc(s, t, n, 0);
            st->allocs++;
        }
        if (c->npend == c->cap_pend) {
            size_t ncap = c->cap_pend ? c->cap_pend * 2 : 64;
            struct pending *np =
                    osmem_realloc(c->pend, c->cap_pend * sizeof *np, ncap * sizeof *np);
            if (np == NULL) {
                c->oom = 1;
                return 1;
            }
            c->pend = np;
            c->cap_pend = ncap;
        }
        c->pend[c->npend++] = (struct pending){ ev->seq2, ev->result, obj };
        break;
    }
    default: /* THREAD, MARK */
        st->events--;
        break;
    }
    return c->oom || s->error ? 1 : 0;
}

/* Compile the trace open in `r` (closed here); `label` names it in `d`. */
static int compile(struct trace_reader *r, const char *label, struct opstream *s,
                   struct replay_stats *st, struct diag *d)
{
    const struct trace_status *ts = trace_status(r);
    size_t nthreads = 0;
    const struct trace_thread *threads = trace_threads(r, &nthreads);
    st->threads = nthreads;
    st->trace = *ts;
    unsigned streams = nthreads == 0               ? 1
                       : nthreads > WL_MAX_THREADS ? WL_MAX_THREADS
                                                   : (unsigned)nthreads;
    if (nthreads > WL_MAX_THREADS) st->folded_threads = nthreads - WL_MAX_THREADS;
    struct diag why = { { 0 } };
    if (opstream_init(s, streams, streams > 1, &why) != 0) {
        trace_close(r);
        return diag_set(d, "%s: %s", label, why.msg);
    }
    struct compiler c = { .s = s, .st = st, .threads = threads, .nthreads = nthreads };
    if (amap_init(&c.map, 1u << 16) != 0) {
        trace_close(r);
        opstream_destroy(s);
        return diag_set(d, "%s: out of memory for the address map", label);
    }
    trace_foreach(r, TRACE_ORDER_SEQ, on_event, &c);
    int rc = 0;
    if (c.oom || s->error) {
        rc = diag_set(d, "%s: compiling the trace failed: %s", label,
                      c.oom ? "out of memory" : strerror(s->error));
        opstream_destroy(s);
    } else if (opstream_ops(s) == 0) {
        rc = diag_set(d, "%s: no allocation events to replay", label);
        opstream_destroy(s);
    }
    amap_destroy(&c.map);
    if (c.pend) osmem_free(c.pend, c.cap_pend * sizeof *c.pend);
    trace_close(r);
    return rc;
}

int replay_stream(const char *path, struct opstream *s, struct replay_stats *st, struct diag *d)
{
    memset(st, 0, sizeof *st);
    struct trace_reader *r;
    if (trace_open(&r, path, d) != 0) return -1;
    return compile(r, path, s, st, d);
}

int replay_stream_mem(const void *data, size_t len, const char *name, struct opstream *s,
                      struct replay_stats *st, struct diag *d)
{
    memset(st, 0, sizeof *st);
    struct trace_reader *r;
    struct diag why = { { 0 } };
    if (trace_open_mem(&r, data, len, &why) != 0) return diag_set(d, "%s: %s", name, why.msg);
    return compile(r, name, s, st, d);
}

/* Does the event become an op? Only a block that was returned does (on_event's rule);
 * frees need such a block first. */
static int is_replayed(const struct trace_event *ev, void *arg)
{
    (void)arg;
    return trace_event_allocates(ev) && !(ev->kind == TRACE_POSIX_MEMALIGN && ev->value != 0);
}

int replay_threads(const char *path, unsigned *threads, struct trace_status *status, struct diag *d)
{
    struct trace_reader *r;
    if (trace_open(&r, path, d) != 0) return -1;
    if (status) *status = *trace_status(r);
    size_t n = 0;
    trace_threads(r, &n);
    /* In file order, up to the first allocation: usually a few events. */
    int any = trace_foreach(r, TRACE_ORDER_FILE, is_replayed, NULL);
    trace_close(r);
    if (!any) return diag_set(d, "%s: no allocation events to replay", path);
    *threads = n == 0 ? 1 : n > WL_MAX_THREADS ? WL_MAX_THREADS : (unsigned)n;
    return 0;
}
