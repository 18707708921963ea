/* workload/opstream.c: building and validating operation streams (see workload.h). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

/* obj_thread[] flag: the id came from ops_reserve() and is never recycled. */
#define OBJ_FIXED 0x8000u

static_assert(WL_MAX_THREADS <= 256, "order[] holds a thread number in a byte");

int opstream_init(struct opstream *s, unsigned threads, int cross_thread, struct diag *d)
{
    memset(s, 0, sizeof(*s));
    if (threads == 0 || threads > WL_MAX_THREADS)
        return diag_set(d, "thread count %u out of range 1..%d", threads, WL_MAX_THREADS);
    s->threads = threads;
    s->cross_thread = cross_thread;
    return 0;
}

void opstream_destroy(struct opstream *s)
{
    for (unsigned t = 0; t < WL_MAX_THREADS; t++) {
        osmem_free(s->th[t].ops, s->th[t].cap * sizeof(struct op));
        osmem_free(s->free_ids[t], (size_t)s->free_cap[t] * sizeof(uint32_t));
    }
    osmem_free(s->obj_size, (size_t)s->cap_size * sizeof(uint64_t));
    osmem_free(s->obj_seq, (size_t)s->cap_seq * sizeof(uint32_t));
    osmem_free(s->obj_thread, (size_t)s->cap_thread * sizeof(uint16_t));
    osmem_free(s->order, s->order_cap);
    memset(s, 0, sizeof(*s));
}

static int grow(void **p, uint32_t *cap_io, size_t elem, uint32_t need)
{
    uint32_t cap = *cap_io;
    if (need <= cap) return 0;
    uint64_t ncap = cap ? (uint64_t)cap * 2 : 4096;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX) ncap = UINT32_MAX;
    void *q = osmem_realloc(*p, (size_t)cap * elem, (size_t)ncap * elem);
    if (!q) return -1;
    *p = q;
    *cap_io = (uint32_t)ncap;
    return 0;
}

/* Make room for object ids < n. */
static int ensure_objs(struct opstream *s, uint32_t n)
{
    if (n <= s->obj_cap) return 0;
    /* Each array keeps its own capacity, so a failure half-way leaks nothing. */
    int rc = grow((void **)&s->obj_size, &s->cap_size, sizeof(uint64_t), n);
    if (rc == 0) rc = grow((void **)&s->obj_seq, &s->cap_seq, sizeof(uint32_t), n);
    if (rc == 0) rc = grow((void **)&s->obj_thread, &s->cap_thread, sizeof(uint16_t), n);
    uint32_t c = s->cap_size < s->cap_seq ? s->cap_size : s->cap_seq;
    s->obj_cap = c < s->cap_thread ? c : s->cap_thread;
    if (rc != 0) {
        s->error = ENOMEM;
        return -1;
    }
    return 0;
}

/* Grow thread t's op array to hold at least `need` ops, pre-faulting the new part. */
static int grow_ops(struct op_seq *q, size_t need)
{
    if (need <= q->cap) return 0;
    size_t ncap = q->cap ? q->cap * 2 : 16384;
    while (ncap < need)
        ncap *= 2;
    void *p = osmem_realloc(q->ops, q->cap * sizeof(struct op), ncap * sizeof(struct op));
    if (!p) return -1;
    /* Fault the new pages in one call: page by page costs more than generating the ops. */
    osmem_populate((char *)p + q->cap * sizeof(struct op), (ncap - q->cap) * sizeof(struct op));
    q->ops = p;
    q->cap = ncap;
    return 0;
}

int opstream_reserve(struct opstream *s, unsigned t, size_t n)
{
    if (t >= s->threads) return -1;
    if (grow_ops(&s->th[t], s->th[t].n + n) != 0) {
        s->error = ENOMEM;
        return -1;
    }
    return 0;
}

/* Append thread t to the emission order (cross-thread streams of more than one thread). */
static int log_order(struct opstream *s, unsigned t)
{
    if (!s->cross_thread || s->threads == 1) return 0;
    if (s->order_n == s->order_cap) {
        size_t ncap = s->order_cap ? s->order_cap * 2 : 65536;
        void *p = osmem_realloc(s->order, s->order_cap, ncap);
        if (!p) return -1;
        s->order = p;
        s->order_cap = ncap;
    }
    s->order[s->order_n++] = (uint8_t)t;
    return 0;
}

static struct op *emit(struct opstream *s, unsigned t)
{
    if (s->error) return NULL;
    if (t >= s->threads) {
        s->error = EINVAL;
        return NULL;
    }
    struct op_seq *q = &s->th[t];
    if ((q->n == q->cap && grow_ops(q, q->n + 1) != 0) || log_order(s, t) != 0) {
        s->error = ENOMEM;
        return NULL;
    }
    struct op *o = &q->ops[q->n++];
    memset(o, 0, sizeof(*o));
    o->thread = (uint16_t)t;
    return o;
}

static void live_add(struct opstream *s, unsigned t, uint64_t bytes)
{
    s->live_bytes += bytes;
    if (s->live_bytes > s->peak_live_bytes) s->peak_live_bytes = s->live_bytes;
    s->thread_live[t] += bytes;
    if (s->thread_live[t] > s->thread_peak[t]) s->thread_peak[t] = s->thread_live[t];
}

static void live_sub(struct opstream *s, unsigned t, uint64_t bytes)
{
    s->live_bytes -= bytes;
    /* Per-thread live can go below zero when another thread frees: clamp, it is per thread. */
    s->thread_live[t] = s->thread_live[t] >= bytes ? s->thread_live[t] - bytes : 0;
}

uint32_t ops_reserve(struct opstream *s, uint32_t n)
{
    uint32_t first = s->obj_count;
    if ((uint64_t)first + n > UINT32_MAX - 1 || ensure_objs(s, first + n) != 0) {
        s->error = s->error ? s->error : ENOMEM;
        return UINT32_MAX;
    }
    for (uint32_t i = first; i < first + n; i++)
        s->obj_thread[i] = OBJ_FIXED;
    s->obj_count += n;
    return first;
}

static uint32_t take_id(struct opstream *s, unsigned t)
{
    if (t < WL_MAX_THREADS && s->free_n[t] > 0) return s->free_ids[t][--s->free_n[t]];
    uint32_t id = ops_reserve(s, 1);
    if (id != UINT32_MAX) s->obj_thread[id] = 0; /* automatic: recycled on free */
    return id;
}

static void alloc_common(struct opstream *s, unsigned t, uint32_t obj, uint64_t size,
                         unsigned align_shift, enum op_kind kind)
{
    if (s->error) return;
    if (obj >= s->obj_count || s->obj_size[obj] != 0 || size == 0
        || align_shift > WL_MAX_ALIGN_SHIFT) {
        s->error = EINVAL;
        return;
    }
    struct op *o = emit(s, t);
    if (!o) return;
    o->kind = (uint8_t)kind;
    o->obj = obj;
    o->size = size;
    o->align_shift = (uint8_t)align_shift;
    o->seq = s->obj_seq[obj]++;
    s->obj_size[obj] = size;
    s->obj_thread[obj] = (uint16_t)((s->obj_thread[obj] & OBJ_FIXED) | t);
    s->n_alloc++;
    s->bytes_requested += size;
    live_add(s, t, size);
}

uint32_t ops_alloc(struct opstream *s, unsigned t, uint64_t size, unsigned align_shift)
{
    if (s->error) return UINT32_MAX;
    uint32_t id = take_id(s, t);
    if (id == UINT32_MAX) return id;
    alloc_common(s, t, id, size, align_shift, OP_ALLOC);
    return s->error ? UINT32_MAX : id;
}

uint32_t ops_calloc(struct opstream *s, unsigned t, uint64_t size)
{
    if (s->error) return UINT32_MAX;
    uint32_t id = take_id(s, t);
    if (id == UINT32_MAX) return id;
    alloc_common(s, t, id, size, 0, OP_CALLOC);
    return s->error ? UINT32_MAX : id;
}

void ops_alloc_at(struct opstream *s, unsigned t, uint32_t obj, uint64_t size, unsigned align_shift)
{
    alloc_common(s, t, obj, size, align_shift, OP_ALLOC);
}

static void recycle(struct opstream *s, unsigned t, uint32_t obj)
{
    if (grow((void **)&s->free_ids[t], &s->free_cap[t], sizeof(uint32_t), s->free_n[t] + 1)) {
        s->error = ENOMEM;
        return;
    }
    s->free_ids[t][s->free_n[t]++] = obj;
}

void ops_calloc_at(struct opstream *s, unsigned t, uint32_t obj, uint64_t size)
{
    alloc_common(s, t, obj, size, 0, OP_CALLOC);
}

void ops_free(struct opstream *s, unsigned t, uint32_t obj)
{
    if (s->error) return;
    if (obj >= s->obj_count || s->obj_size[obj] == 0) {
        s->error = EINVAL;
        return;
    }
    struct op *o = emit(s, t);
    if (!o) return;
    o->kind = OP_FREE;
    o->obj = obj;
    o->seq = s->obj_seq[obj]++;
    uint64_t size = s->obj_size[obj];
    s->obj_size[obj] = 0;
    s->n_free++;
    live_sub(s, t, size);
    /* Automatic ids go back to the freeing thread's pool: that thread's next use of the id
     * follows its own free, so recycling never adds a cross-thread wait. Ids from
     * ops_reserve() are the generator's to reuse. */
    if (!(s->obj_thread[obj] & OBJ_FIXED)) recycle(s, t, obj);
}

void ops_realloc(struct opstream *s, unsigned t, uint32_t obj, uint64_t size)
{
    if (s->error) return;
    if (obj >= s->obj_count || s->obj_size[obj] == 0 || size == 0) {
        s->error = EINVAL;
        return;
    }
    struct op *o = emit(s, t);
    if (!o) return;
    o->kind = OP_REALLOC;
    o->obj = obj;
    o->size = size;
    o->seq = s->obj_seq[obj]++;
    uint64_t old = s->obj_size[obj];
    s->obj_size[obj] = size;
    s->obj_thread[obj] = (uint16_t)((s->obj_thread[obj] & OBJ_FIXED) | t);
    s->n_realloc++;
    s->bytes_requested += size;
    if (size > old)
        live_add(s, t, size - old);
    else
        live_sub(s, t, old - size);
}

void ops_mark(struct opstream *s, unsigned t, const char *label)
{
    if (s->error) return;
    unsigned idx;
    for (idx = 0; idx < s->mark_count; idx++)
        if (strcmp(s->mark_names[idx], label) == 0) break;
    if (idx == s->mark_count) {
        if (s->mark_count == WL_MAX_MARKS) {
            s->error = EINVAL;
            return;
        }
        s->mark_names[s->mark_count++] = label;
    }
    struct op *o = emit(s, t);
    if (!o) return;
    o->kind = OP_MARK;
    o->size = idx;
}

uint64_t opstream_ops(const struct opstream *s)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < s->threads; t++)
        n += s->th[t].n;
    return n;
}

size_t opstream_bytes(const struct opstream *s)
{
    size_t n = (size_t)s->obj_cap * (sizeof(uint64_t) + sizeof(uint32_t) + sizeof(uint16_t));
    for (unsigned t = 0; t < WL_MAX_THREADS; t++)
        n += s->th[t].cap * sizeof(struct op) + (size_t)s->free_cap[t] * sizeof(uint32_t);
    return n + s->order_cap;
}

/* The lockstep peak of a stream without cross_thread (workload.h); -1 without scratch. */
static int lockstep_peak(const struct opstream *s, uint64_t *out)
{
    size_t bytes = (size_t)(s->obj_count ? s->obj_count : 1) * sizeof(uint64_t);
    uint64_t *size = osmem_alloc(bytes); /* per object: its live size, 0 = not live */
    if (!size) return -1;
    size_t rounds = 0;
    for (unsigned t = 0; t < s->threads; t++)
        if (s->th[t].n > rounds) rounds = s->th[t].n;
    uint64_t live = 0, peak = 0;
    for (size_t k = 0; k < rounds; k++) {
        for (unsigned t = 0; t < s->threads; t++) {
            if (k >= s->th[t].n) continue;
            const struct op *o = &s->th[t].ops[k];
            if (o->kind == OP_MARK || o->obj >= s->obj_count) continue;
            live -= size[o->obj];
            size[o->obj] = o->kind == OP_FREE ? 0 : o->size;
            live += size[o->obj];
            if (live > peak) peak = live;
        }
    }
    osmem_free(size, bytes);
    *out = peak;
    return 0;
}

uint64_t opstream_peak_live(const struct opstream *s)
{
    if (s->cross_thread || s->threads == 1) return s->peak_live_bytes;
    uint64_t peak;
    if (lockstep_peak(s, &peak) == 0) return peak;
    uint64_t sum = 0; /* no scratch: the upper bound */
    for (unsigned t = 0; t < s->threads; t++)
        sum += s->thread_peak[t];
    return sum;
}

/*
 * Validation replays each thread's ops in a round-robin that respects seq (the same rule an
 * executor follows), on a shadow of object state. A stream that cannot make progress is
 * reported as a deadlock.
 */
int opstream_validate(const struct opstream *s, struct diag *d)
{
    if (s->error) return diag_set(d, "stream build failed: %s", strerror(s->error));
    uint32_t n = s->obj_count;
    uint64_t *size = osmem_alloc((size_t)n * sizeof(uint64_t) + 1);
    uint32_t *seq = osmem_alloc((size_t)n * sizeof(uint32_t) + 1);
    int32_t *owner = osmem_alloc((size_t)n * sizeof(int32_t) + 1);
    size_t pos[WL_MAX_THREADS] = { 0 };
    int rc = 0;
    if (!size || !seq || !owner) {
        rc = diag_set(d, "out of memory validating the stream");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++)
        owner[i] = -1;
    for (;;) {
        int progress = 0, remaining = 0;
        for (unsigned t = 0; t < s->threads; t++) {
            const struct op_seq *q = &s->th[t];
            while (pos[t] < q->n) {
                const struct op *o = &q->ops[pos[t]];
                size_t at = pos[t];
                if (o->reserved != 0) {
                    rc = diag_set(d, "thread %u op %zu: reserved field not zero (I7)", t, at);
                    goto out;
                }
                if (o->thread != t) {
                    rc = diag_set(d, "thread %u op %zu: thread field %u", t, at, o->thread);
                    goto out;
                }
                if (o->kind == OP_MARK) {
                    if (o->size >= s->mark_count) {
                        rc = diag_set(d, "thread %u op %zu: bad mark index", t, at);
                        goto out;
                    }
                    pos[t]++;
                    progress = 1;
                    continue;
                }
                if (o->kind < OP_ALLOC || o->kind > OP_REALLOC) {
                    rc = diag_set(d, "thread %u op %zu: bad kind %u", t, at, o->kind);
                    goto out;
                }
                if (o->obj >= n) {
                    rc = diag_set(d, "thread %u op %zu: object %u out of range", t, at, o->obj);
                    goto out;
                }
                if (seq[o->obj] != o->seq) {
                    if (!s->cross_thread || o->seq < seq[o->obj]) {
                        rc = diag_set(d, "thread %u op %zu: object %u seq %u, expected %u", t, at,
                                      o->obj, o->seq, seq[o->obj]);
                        goto out;
                    }
                    break; /* waits for another thread (I3) */
                }
                if (!s->cross_thread && owner[o->obj] >= 0 && owner[o->obj] != (int32_t)t) {
                    rc = diag_set(d, "thread %u op %zu: object %u used by thread %d (I4)", t, at,
                                  o->obj, owner[o->obj]);
                    goto out;
                }
                switch (o->kind) {
                case OP_ALLOC:
                case OP_CALLOC:
                    if (size[o->obj] != 0) {
                        rc = diag_set(d, "thread %u op %zu: object %u allocated while live (I1)", t,
                                      at, o->obj);
                        goto out;
                    }
                    if (o->size == 0 || o->align_shift > WL_MAX_ALIGN_SHIFT) {
                        rc = diag_set(d, "thread %u op %zu: bad size or alignment (I5, I6)", t, at);
                        goto out;
                    }
                    size[o->obj] = o->size;
                    break;
                case OP_FREE:
                case OP_REALLOC:
                    if (size[o->obj] == 0) {
                        rc = diag_set(d, "thread %u op %zu: object %u is not live (I2)", t, at,
                                      o->obj);
                        goto out;
                    }
                    if (o->kind == OP_REALLOC && o->size == 0) {
                        rc = diag_set(d, "thread %u op %zu: realloc to 0 (I6)", t, at);
                        goto out;
                    }
                    size[o->obj] = o->kind == OP_FREE ? 0 : o->size;
                    break;
                default:
                    break;
                }
                owner[o->obj] = (int32_t)t;
                seq[o->obj]++;
                pos[t]++;
                progress = 1;
            }
            if (pos[t] < q->n) remaining = 1;
        }
        if (!remaining) break;
        if (!progress) {
            rc = diag_set(d, "stream deadlocks: no thread can proceed");
            goto out;
        }
    }
out:
    osmem_free(size, (size_t)n * sizeof(uint64_t) + 1);
    osmem_free(seq, (size_t)n * sizeof(uint32_t) + 1);
    osmem_free(owner, (size_t)n * sizeof(int32_t) + 1);
    return rc;
}

uint64_t wl_size_lognormal(struct prng *r, double median, double sigma, uint64_t lo, uint64_t hi)
{
    double v = prng_lognormal(r, log(median), sigma);
    if (v < (double)lo) return lo;
    if (v > (double)hi) return hi;
    return (uint64_t)v;
}

uint64_t wl_size_loguniform(struct prng *r, uint64_t lo, uint64_t hi)
{
    double a = log((double)lo), b = log((double)hi);
    double v = exp(a + (b - a) * prng_double(r));
    uint64_t n = (uint64_t)v;
    return n < lo ? lo : (n > hi ? hi : n);
}
