/*
 * trace/stats.c: what `heaplab trace info` reports, from one pass over a trace in sequence
 * order, with a map from live address to (size, birth) so frees can be matched to their
 * allocations across threads. Also the one wording of a trace's damage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"
#include "util/diag.h"

struct live {
    uint64_t ptr; /* 0 = empty */
    uint64_t size;
    uint64_t born_event, born_ns;
    uint32_t thread;
};

/* Open addressing with linear probing and backward-shift deletion (no tombstones). */
struct live_map {
    struct live *t;
    size_t cap, n; /* cap is a power of two */
};

static size_t home(const struct live_map *m, uint64_t p)
{
    uint64_t h = (p >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (m->cap - 1);
}

static int map_grow(struct live_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct live *t = calloc(cap, sizeof(*t));
    if (!t) return -1;
    struct live_map nm = { t, cap, 0 };
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->t[i].ptr) continue;
        size_t j = home(&nm, m->t[i].ptr);
        while (t[j].ptr)
            j = (j + 1) & (cap - 1);
        t[j] = m->t[i];
        nm.n++;
    }
    free(m->t);
    *m = nm;
    return 0;
}

static struct live *map_find(const struct live_map *m, uint64_t p)
{
    if (!m->cap) return NULL;
    for (size_t j = home(m, p);; j = (j + 1) & (m->cap - 1)) {
        if (m->t[j].ptr == p) return &m->t[j];
        if (!m->t[j].ptr) return NULL;
    }
}

/* Remove the entry at e (from map_find). */
static void map_remove(struct live_map *m, struct live *e)
{
    size_t i = (size_t)(e - m->t), mask = m->cap - 1;
    m->t[i].ptr = 0;
    m->n--;
    for (size_t j = (i + 1) & mask; m->t[j].ptr; j = (j + 1) & mask) {
        size_t h = home(m, m->t[j].ptr);
        /* move j back to i when its home is not within (i, j] cyclically */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->t[i] = m->t[j];
            m->t[j].ptr = 0;
            i = j;
        }
    }
}

/* Insert or replace; returns the entry, or NULL when out of memory. */
static struct live *map_put(struct live_map *m, uint64_t p, int *existed)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0) return NULL;
    size_t j = home(m, p);
    while (m->t[j].ptr && m->t[j].ptr != p)
        j = (j + 1) & (m->cap - 1);
    *existed = m->t[j].ptr == p;
    if (!*existed) {
        m->t[j].ptr = p;
        m->n++;
    }
    return &m->t[j];
}

unsigned trace_hist_bucket(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0;
}

struct pass {
    struct trace_stats *s;
    struct live_map m;
    uint64_t start_ns;
    uint64_t idx;
    int oom;
};

static uint64_t since(const struct pass *ps, uint64_t ns)
{
    return ns > ps->start_ns ? ns - ps->start_ns : 0;
}

/* Release `ptr` on `ev`'s thread; the birth of the block (for realloc) into *born. */
static int release(struct pass *ps, const struct trace_event *ev, uint64_t ptr, struct live *born)
{
    struct trace_stats *s = ps->s;
    s->releases++;
    struct live *e = map_find(&ps->m, ptr);
    if (!e) {
        s->unknown_frees++;
        return 0;
    }
    if (e->thread != ev->thread) s->cross_thread_frees++;
    s->live_bytes -= e->size;
    s->live_objects--;
    if (born) *born = *e;
    map_remove(&ps->m, e);
    return 1;
}

static void lifetime(struct pass *ps, const struct trace_event *ev, const struct live *b)
{
    struct trace_stats *s = ps->s;
    s->life_events_hist[trace_hist_bucket(ps->idx - b->born_event)]++;
    s->life_ns_hist[trace_hist_bucket(ev->ns > b->born_ns ? ev->ns - b->born_ns : 0)]++;
}

static void acquire(struct pass *ps, const struct trace_event *ev, uint64_t size,
                    const struct live *born)
{
    struct trace_stats *s = ps->s;
    s->allocations++;
    int existed;
    struct live *e = map_put(&ps->m, ev->result, &existed);
    if (!e) {
        ps->oom = 1;
        return;
    }
    if (existed) {
        s->reused_live++;
        s->live_bytes -= e->size;
        s->live_objects--;
    }
    e->size = size;
    e->thread = ev->thread;
    e->born_event = born ? born->born_event : ps->idx;
    e->born_ns = born ? born->born_ns : ev->ns;
    s->live_bytes += size;
    s->live_objects++;
    if (s->live_bytes > s->peak_live_bytes) {
        s->peak_live_bytes = s->live_bytes;
        s->peak_live_objects = s->live_objects;
        s->peak_event = ps->idx;
        s->peak_ns = since(ps, ev->ns);
    }
}

static int step(const struct trace_event *ev, void *arg)
{
    struct pass *ps = arg;
    struct trace_stats *s = ps->s;
    if (s->events == 0) s->first_ns = since(ps, ev->ns);
    s->last_ns = since(ps, ev->ns);
    s->events++;
    if (ev->kind <= TRACE_KIND_MAX) s->by_kind[ev->kind]++;
    uint64_t bytes = trace_event_bytes(ev);
    struct live born;
    switch (ev->kind) {
    case TRACE_MALLOC:
    case TRACE_CALLOC:
    case TRACE_POSIX_MEMALIGN:
    case TRACE_ALIGNED_ALLOC:
    case TRACE_MEMALIGN:
    case TRACE_VALLOC:
    case TRACE_PVALLOC:
        s->size_hist[trace_hist_bucket(bytes)]++;
        s->bytes_requested += bytes;
        if (ev->result)
            acquire(ps, ev, bytes, NULL);
        else
            s->failures++;
        break;
    case TRACE_REALLOC:
    case TRACE_REALLOCARRAY:
        s->size_hist[trace_hist_bucket(bytes)]++;
        s->bytes_requested += bytes;
        if (ev->result == 0 && (ev->flags & TRACE_F_ZERO_FREED)) {
            s->zero_frees++;
            if (release(ps, ev, ev->ptr, &born)) lifetime(ps, ev, &born);
        } else if (ev->result == 0) {
            s->failures++; /* the old block stays */
        } else if (ev->ptr == 0) {
            acquire(ps, ev, bytes, NULL);
        } else {
            if (ev->result == ev->ptr) s->realloc_in_place++;
            int known = release(ps, ev, ev->ptr, &born);
            acquire(ps, ev, bytes, known ? &born : NULL);
        }
        break;
    case TRACE_FREE:
    case TRACE_FREE_SIZED:
    case TRACE_FREE_ALIGNED_SIZED:
        if (ev->ptr == 0)
            s->free_null++;
        else if (release(ps, ev, ev->ptr, &born))
            lifetime(ps, ev, &born);
        break;
    case TRACE_MARK:
        if (ev->mark == TRACE_MARK_FORK)
            s->forks++;
        else if (ev->mark == TRACE_MARK_EXEC_FAILED)
            s->exec_failures++;
        else if (ev->mark == TRACE_MARK_THREAD_EXIT)
            s->thread_exits++;
        break;
    default:
        break;
    }
    ps->idx++;
    return ps->oom;
}

int trace_stats(struct trace_reader *r, struct trace_stats *s, struct diag *d)
{
    memset(s, 0, sizeof(*s));
    struct pass ps = { .s = s, .start_ns = trace_header(r)->start_mono_ns };
    int rc = trace_foreach(r, TRACE_ORDER_SEQ, step, &ps);
    free(ps.m.t);
    if (rc) return diag_set(d, "out of memory (%llu live blocks)", (unsigned long long)ps.m.n);
    return 0;
}

void trace_damage_format(const struct trace_status *st, char *buf, size_t n)
{
    if (n == 0) return;
    buf[0] = 0;
    if (st->truncated && st->corrupt_chunks)
        snprintf(buf, n,
                 "truncated (read up to its last whole chunk) and %" PRIu64
                 " corrupt chunk(s) skipped (%" PRIu64 " bytes)",
                 st->corrupt_chunks, st->skipped_bytes);
    else if (st->truncated)
        snprintf(buf, n, "truncated: read up to its last whole chunk (%" PRIu64 " events)",
                 st->events);
    else if (st->corrupt_chunks)
        snprintf(buf, n, "%" PRIu64 " corrupt chunk(s) skipped (%" PRIu64 " bytes)",
                 st->corrupt_chunks, st->skipped_bytes);
}
