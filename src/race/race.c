/*
 * race/race.c: the lockstep race (see race.h).
 */
#include "race/race.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

/* Merge a multi-threaded stream into one order honouring seq (see race.h). */
static int flatten(struct race *r, const struct opstream *s, struct diag *d)
{
    uint64_t total = opstream_ops(s);
    r->order_cap = total ? total : 1;
    r->order = osmem_alloc(r->order_cap * sizeof *r->order);
    if (r->order == NULL)
        return diag_set(d, "out of memory for %llu ops", (unsigned long long)total);
    if (s->threads == 1) {
        memcpy(r->order, s->th[0].ops, s->th[0].n * sizeof *r->order);
        r->nops = s->th[0].n;
        return 0;
    }
    uint32_t *seq = osmem_alloc((size_t)(s->obj_count ? s->obj_count : 1) * sizeof *seq);
    if (seq == NULL) return diag_set(d, "out of memory");
    size_t pos[WL_MAX_THREADS] = { 0 };
    size_t n = 0;
    while (n < total) {
        int progress = 0;
        for (unsigned t = 0; t < s->threads; t++) {
            /* Take every op of thread t that is ready now. */
            while (pos[t] < s->th[t].n) {
                const struct op *o = &s->th[t].ops[pos[t]];
                if (o->kind != OP_MARK) {
                    if (seq[o->obj] != o->seq) break;
                    seq[o->obj]++;
                }
                r->order[n++] = *o;
                pos[t]++;
                progress = 1;
            }
        }
        if (!progress) {
            osmem_free(seq, (size_t)(s->obj_count ? s->obj_count : 1) * sizeof *seq);
            return diag_set(d, "the stream has no valid order (seq numbers inconsistent)");
        }
    }
    osmem_free(seq, (size_t)(s->obj_count ? s->obj_count : 1) * sizeof *seq);
    r->nops = n;
    return 0;
}

int race_build(const struct workload *w, uint64_t seed, uint64_t ops, struct opstream *s,
               struct diag *d)
{
    struct wl_params p = { .seed = seed, .threads = w->min_threads ? w->min_threads : 1 };
    p.ops = ops ? ops : (w->default_ops < RACE_OPS_CAP ? w->default_ops : RACE_OPS_CAP);
    if (p.threads > 1) p.ops = (p.ops + p.threads - 1) / p.threads;
    return workload_build(w, &p, s, d);
}

size_t race_auto_arena(const struct opstream *s, size_t max)
{
    uint64_t need = 2 * opstream_peak_live(s);
    size_t arena = LAB_ARENA_DEFAULT;
    while (arena < need && arena < max)
        arena *= 2;
    return arena;
}

int race_open(struct race *r, const struct opstream *s, const struct lab_ops *const *ops, size_t n,
              size_t arena_size, struct diag *d)
{
    memset(r, 0, sizeof *r);
    if (n == 0 || n > RACE_MAX_LANES)
        return diag_set(d, "race: 1 to %d allocators, not %zu", RACE_MAX_LANES, n);
    r->arena_size = arena_size;
    r->obj_count = s->obj_count;
    r->stream_peak = opstream_peak_live(s);
    clock_calibrate(&r->cal, 20);
    if (flatten(r, s, d) != 0) return -1;
    size_t objs = r->obj_count ? r->obj_count : 1;
    r->reqbuf = osmem_alloc(objs * sizeof *r->reqbuf);
    if (r->reqbuf == NULL) goto oom;
    for (size_t i = 0; i < n; i++) {
        struct race_lane *l = &r->lane[i];
        l->ops = ops[i];
        if (lab_heap_open(&l->heap, ops[i], arena_size) != 0) {
            int e = errno;
            r->nlanes = i;
            race_close(r);
            return diag_set(d, "%s: cannot create over a %zu-byte arena: %s", ops[i]->name,
                            arena_size, e == EINVAL ? "arena too small for it" : strerror(e));
        }
        r->nlanes = i + 1;
        /* Fault the arena in now, so the latencies are the strategy's, not the kernel's
         * first-touch faults (which land on whichever lane touches a page first). */
        if (arena_size <= RACE_PREFAULT_MAX) osmem_populate(l->heap.arena, arena_size);
        l->raw = osmem_alloc(objs * sizeof *l->raw);
        l->pad = osmem_alloc(objs * sizeof *l->pad);
        l->req = osmem_alloc(objs * sizeof *l->req);
        l->born = osmem_alloc(objs * sizeof *l->born);
        l->cells = osmem_alloc(lab_cells_for(arena_size));
        if (!l->raw || !l->pad || !l->req || !l->born || !l->cells) goto oom;
        hist_init(&l->lat_all);
        hist_init(&l->lat_alloc);
        hist_init(&l->lat_free);
    }
    return 0;
oom:
    race_close(r);
    return diag_set(d, "out of memory for the race's tables");
}

static inline uint64_t elapsed_ns(const struct race *r, uint64_t t0, uint64_t t1)
{
    uint64_t dt = t1 - t0;
    dt = dt > r->cal.overhead_ticks ? dt - r->cal.overhead_ticks : 0;
    return clock_ticks_to_ns(&r->cal, dt);
}

/* alloc through the vtable, timed; emulates alignment. Returns the user pointer. */
static unsigned char *lane_alloc(struct race *r, struct race_lane *l, uint32_t obj, uint64_t size,
                                 unsigned align_shift, uint64_t *ns)
{
    uint64_t align = align_shift ? (uint64_t)1 << align_shift : LAB_ALIGN;
    uint64_t want = size + (align > LAB_ALIGN ? align - LAB_ALIGN : 0);
    void *self = l->heap.self;
    uint64_t t0 = clock_ticks();
    unsigned char *p = want < size ? NULL : l->ops->alloc(self, (size_t)want);
    uint64_t t1 = clock_ticks();
    *ns += elapsed_ns(r, t0, t1);
    if (p == NULL) return NULL;
    uint64_t pad = align > LAB_ALIGN ? (-(uintptr_t)p) & (align - 1) : 0;
    l->raw[obj] = p;
    l->pad[obj] = (uint32_t)pad;
    l->req[obj] = size;
    l->born[obj] = r->at;
    l->live_req += size;
    l->live_usable += l->ops->usable_size(self, p);
    return p + pad;
}

static void lane_free(struct race *r, struct race_lane *l, uint32_t obj, uint64_t *ns)
{
    unsigned char *p = l->raw[obj];
    if (p == NULL) return; /* its allocation failed */
    void *self = l->heap.self;
    l->live_usable -= l->ops->usable_size(self, p);
    l->live_req -= l->req[obj];
    uint64_t t0 = clock_ticks();
    l->ops->free(self, p);
    uint64_t t1 = clock_ticks();
    *ns += elapsed_ns(r, t0, t1);
    l->raw[obj] = NULL;
    l->req[obj] = 0;
}

static void lane_op(struct race *r, struct race_lane *l, const struct op *o)
{
    uint64_t ns = 0;
    struct hist *h = &l->lat_alloc;
    switch (o->kind) {
    case OP_ALLOC:
    case OP_CALLOC: {
        unsigned char *p = lane_alloc(r, l, o->obj, o->size, o->align_shift, &ns);
        if (p == NULL)
            l->failures++;
        else if (o->kind == OP_CALLOC)
            memset(p, 0, o->size);
        break;
    }
    case OP_FREE:
        lane_free(r, l, o->obj, &ns);
        h = &l->lat_free;
        break;
    case OP_REALLOC: {
        unsigned char *old = l->raw[o->obj];
        if (old == NULL) { /* nothing to grow: allocate afresh */
            if (lane_alloc(r, l, o->obj, o->size, 0, &ns) == NULL) l->failures++;
            break;
        }
        size_t usable = l->ops->usable_size(l->heap.self, old);
        if (l->pad[o->obj] == 0 && o->size <= usable) { /* in place */
            l->live_req = l->live_req - l->req[o->obj] + o->size;
            l->req[o->obj] = o->size;
            break;
        }
        uint64_t old_req = l->req[o->obj];
        uint32_t old_pad = l->pad[o->obj];
        /* The new block goes to a scratch id slot: allocate, copy, then free the old. */
        l->raw[o->obj] = NULL;
        unsigned char *p = lane_alloc(r, l, o->obj, o->size, 0, &ns);
        if (p == NULL) {
            l->raw[o->obj] = old;
            l->pad[o->obj] = old_pad;
            l->failures++;
            break;
        }
        memcpy(p, old + old_pad, old_req < o->size ? old_req : o->size);
        l->live_req -= old_req;
        l->live_usable -= l->ops->usable_size(l->heap.self, old);
        uint64_t t0 = clock_ticks();
        l->ops->free(l->heap.self, old);
        uint64_t t1 = clock_ticks();
        ns += elapsed_ns(r, t0, t1);
        break;
    }
    default:
        return;
    }
    l->calls++;
    hist_add(h, ns);
    hist_add(&l->lat_all, ns);
    if (l->live_req > l->peak_req) {
        l->peak_req = l->live_req;
        l->usable_at_peak = l->live_usable;
    }
    if (l->live_usable - l->live_req > l->peak_waste) l->peak_waste = l->live_usable - l->live_req;
}

void race_step(struct race *r, size_t i)
{
    const struct op *o = &r->order[i];
    if (o->kind == OP_MARK) return;
    r->at = i;
    for (size_t k = 0; k < r->nlanes; k++) {
        struct race_lane *l = &r->lane[(k + i) % r->nlanes];
        lane_op(r, l, o);
        if (r->check_each && !l->broken) {
            char why[200];
            if (l->ops->check(l->heap.self, why, sizeof why) != 0) {
                l->broken = 1;
                l->broken_op = i;
                snprintf(l->broken_why, sizeof l->broken_why, "%s", why);
            }
        }
    }
}

static int cmp_off(const void *a, const void *b)
{
    const struct lab_request *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

void race_snapshot(struct race *r)
{
    for (size_t k = 0; k < r->nlanes; k++) {
        struct race_lane *l = &r->lane[k];
        size_t n = 0;
        for (uint32_t obj = 0; obj < r->obj_count; obj++) {
            if (l->raw[obj] == NULL) continue;
            r->reqbuf[n].off = (uint64_t)(l->raw[obj] - l->heap.arena);
            r->reqbuf[n].requested = l->req[obj];
            n++;
        }
        qsort(r->reqbuf, n, sizeof *r->reqbuf, cmp_off);
        lab_paint_begin(&l->paint, l->cells, r->arena_size);
        lab_paint_set_requests(&l->paint, r->reqbuf, n);
        l->ops->snapshot(l->heap.self, &l->paint);
        if (lab_paint_end(&l->paint) != 0 && !l->broken) {
            l->broken = 1;
            char why[sizeof l->paint.why];
            memcpy(why, l->paint.why, sizeof why);
            snprintf(l->broken_why, sizeof l->broken_why, "snapshot: %s", why);
        }
        l->ops->stats(l->heap.self, &l->stats);
        double f = lab_paint_frag(&l->paint);
        l->frag_sum += f;
        if (f > l->frag_max) l->frag_max = f;
        l->snapshots++;
    }
}

double race_lane_frag_avg(const struct race_lane *l)
{
    return l->snapshots ? l->frag_sum / (double)l->snapshots : 0.0;
}

void race_close(struct race *r)
{
    size_t objs = r->obj_count ? r->obj_count : 1;
    for (size_t k = 0; k < r->nlanes; k++) {
        struct race_lane *l = &r->lane[k];
        lab_heap_close(&l->heap);
        if (l->raw) osmem_free(l->raw, objs * sizeof *l->raw);
        if (l->pad) osmem_free(l->pad, objs * sizeof *l->pad);
        if (l->req) osmem_free(l->req, objs * sizeof *l->req);
        if (l->born) osmem_free(l->born, objs * sizeof *l->born);
        if (l->cells) osmem_free(l->cells, lab_cells_for(r->arena_size));
    }
    if (r->reqbuf) osmem_free(r->reqbuf, objs * sizeof *r->reqbuf);
    if (r->order) osmem_free(r->order, r->order_cap * sizeof *r->order);
    memset(r, 0, sizeof *r);
}

size_t race_cells_b64_len(size_t ncells)
{
    size_t bytes = (ncells + 3) / 4;
    return (bytes + 2) / 3 * 4;
}

size_t race_cells_b64(const uint8_t *cells, size_t ncells, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t bytes = (ncells + 3) / 4, o = 0;
    uint8_t pack[3];
    for (size_t b = 0; b < bytes; b += 3) {
        size_t take = bytes - b < 3 ? bytes - b : 3;
        for (size_t j = 0; j < 3; j++) {
            pack[j] = 0;
            if (j >= take) continue;
            for (size_t c = 0; c < 4; c++) {
                size_t i = (b + j) * 4 + c;
                if (i < ncells) pack[j] |= (uint8_t)((cells[i] & 3u) << (2 * c));
            }
        }
        uint32_t v = (uint32_t)pack[0] << 16 | (uint32_t)pack[1] << 8 | pack[2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = take > 1 ? tab[v >> 6 & 63] : '=';
        out[o++] = take > 2 ? tab[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}
