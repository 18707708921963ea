/*
 * hlmalloc/stats.c: statistics, the output hook, and reports of misuse.
 *
 * Output goes through one function (stderr by default, hl_set_output to redirect), built
 * with snprintf into stack buffers: nothing here allocates. The statistics walk the
 * segment registry; counts on pages owned by other running threads are read without
 * stopping them, so they are a snapshot, not an atomic one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "hlmalloc/internal.h"

static void (*out_fn)(const char *msg, void *arg);
static void *out_arg;

HL_API void hl_set_output(void (*fn)(const char *msg, void *arg), void *arg)
{
    out_arg = arg;
    out_fn = fn;
}

void hl_out(const char *s)
{
    if (out_fn)
        out_fn(s, out_arg);
    else
        hl_os_write(s, strlen(s));
}

void hl_outf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hl_out(buf);
}

void hl_fatal(const char *what, const void *p)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "hlmalloc: %s: %p\n", what, p);
    hl_out(buf);
    abort();
}

/* Should the n-th (from 1) misuse of a kind be reported? Rate-limited: only the first,
 * unless HLMALLOC_VERBOSE=2 (the counts are in the statistics). */
static bool report_it(uint64_t n)
{
    return hl_opt.verbose >= 2 || (hl_opt.verbose == 1 && n == 1);
}

void hl_invalid_free(const void *p, const char *what)
{
    uint64_t n = atomic_fetch_add_explicit(&hl_count.invalid_frees, 1, memory_order_relaxed) + 1;
    if (HL_SECURE || hl_opt.abort_on_error) {
        char buf[160];
        snprintf(buf, sizeof(buf), "invalid free (%s)", what);
        hl_fatal(buf, p);
    }
    if (report_it(n))
        hl_outf("hlmalloc: ignored free of %p: %s (reported once; HLMALLOC_ABORT_ON_ERROR=1 "
                "aborts)\n",
                p, what);
}

void hl_double_free(const void *p)
{
    uint64_t n = atomic_fetch_add_explicit(&hl_count.double_frees, 1, memory_order_relaxed) + 1;
    if (HL_SECURE || hl_opt.abort_on_error) hl_fatal("double free", p);
    if (report_it(n))
        hl_outf("hlmalloc: ignored double free of %p (reported once; "
                "HLMALLOC_ABORT_ON_ERROR=1 aborts)\n",
                p);
}

uint64_t hl_abandoned_segments(void);

/* ---- cross-thread frees waiting --------------------------------------------------------- */

/*
 * Blocks freed by threads that do not own their page wait on the page's remote-free list
 * (or, for a full page, on the owner heap's delayed list) until the owner collects them.
 * hl_stats counts them by walking those lists, so that the free paths pay nothing for it.
 * The lists belong to running threads: each link is read atomically and followed only
 * while it stays among the carved blocks of the page (a remote-free list) or of a page in
 * use of a live segment (a delayed list), a walk is bounded by the page's blocks, and the
 * memory read stays mapped because the registry lock keeps every segment mapped and the
 * segment's lock keeps its pages' slices in use. A list the owner takes meanwhile ends the
 * walk early: the counts are a snapshot, like the rest.
 *
 * The largest count for one heap comes from a table of the heaps seen (under the heaps
 * lock, which hl_stats holds throughout: fork's prepare handler takes it too),
 * exact up to HL_STATS_HEAPS heaps with blocks waiting; beyond, a heap counts alone per
 * segment. Abandoned pages (no owner until a thread adopts them or the sweep runs) count
 * as one heap.
 */
#define HL_STATS_HEAPS 256
struct waiting {
    const struct hl_heap *heap;
    uint64_t blocks;
};
static struct waiting waiting[HL_STATS_HEAPS];

/* Add n blocks waiting for heap h; the heap's total so far. */
static uint64_t waiting_add(const struct hl_heap *h, uint64_t n)
{
    size_t i = ((uintptr_t)h >> 6) % HL_STATS_HEAPS;
    for (size_t k = 0; k < HL_STATS_HEAPS; k++, i = (i + 1) % HL_STATS_HEAPS) {
        if (waiting[i].blocks == 0 || waiting[i].heap == h) {
            waiting[i].heap = h;
            waiting[i].blocks += n;
            return waiting[i].blocks;
        }
    }
    return n; /* the table is full */
}

/* The next link of block b of page pg, read atomically (decoded in the secure build). */
static struct hl_block *link_of(const struct hl_page *pg, struct hl_block *b)
{
    uintptr_t raw = (uintptr_t)__atomic_load_n(&b->next, __ATOMIC_RELAXED);
    return HL_SECURE ? (struct hl_block *)(raw ^ pg->key ^ (uintptr_t)b) : (struct hl_block *)raw;
}

/* Is b one of pg's carved blocks? */
static bool carved_block(const struct hl_page *pg, const void *b)
{
    uintptr_t p = (uintptr_t)b, start = (uintptr_t)pg->start;
    uint32_t limit = __atomic_load_n(&pg->limit, __ATOMIC_RELAXED);
    return p >= start && p - start < limit && pg->block_size != 0
           && (p - start) % pg->block_size == 0;
}

/* Blocks on small or medium page pg's remote-free list (caller holds its segment's lock). */
static uint64_t remote_waiting(const struct hl_page *pg)
{
    uintptr_t x = atomic_load_explicit(&pg->xthread_free, memory_order_acquire);
    struct hl_block *b = (struct hl_block *)(x & ~(uintptr_t)3);
    uint64_t n = 0;
    while (b && n < pg->reserved && carved_block(pg, b)) {
        n++;
        b = link_of(pg, b);
    }
    return n;
}

/* Block b of a delayed list: the next one if b is a block of a page in use, else NULL
 * (caller holds the registry lock; b's segment lock is taken while b is read). */
static struct hl_block *delayed_next(struct hl_block *b, bool *ok)
{
    *ok = false;
    struct hl_segment *s = hl_segment_of(b);
    if (!s || s->kind != HL_PAGE_SMALL) return NULL;
    pthread_mutex_lock(&s->lock);
    uint32_t i = (uint32_t)(((uintptr_t)b - (uintptr_t)s) >> HL_SLICE_SHIFT);
    struct hl_block *next = NULL;
    if (i >= HL_FIRST_SLICE && i < s->slices && !(s->free_map[i >> 6] >> (i & 63) & 1)
        && !s->pages[i].hole) {
        const struct hl_page *pg = hl_page_of(s, b);
        if ((pg->kind == HL_PAGE_SMALL || pg->kind == HL_PAGE_MEDIUM) && carved_block(pg, b)) {
            *ok = true;
            next = (struct hl_block *)__atomic_load_n(&b->next, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return next;
}

/* Blocks on the live heaps' delayed lists, into the table and out->remote_free_* (caller
 * holds the heaps lock). */
static void delayed_waiting(struct hl_stats *out)
{
    pthread_mutex_lock(&hl_registry_lock);
    for (struct hl_heap *h = hl_heaps; h; h = h->all_next) {
        struct hl_block *b =
                (struct hl_block *)atomic_load_explicit(&h->delayed_free, memory_order_acquire);
        uint64_t n = 0;
        bool ok = true;
        while (b && ok && n < (1u << 24)) {
            b = delayed_next(b, &ok);
            n += ok;
        }
        if (n == 0) continue;
        out->remote_free_blocks += n;
        uint64_t all = waiting_add(h, n);
        if (all > out->remote_free_max) out->remote_free_max = all;
    }
    pthread_mutex_unlock(&hl_registry_lock);
}

/* Remote frees waiting in segment s's pages (caller holds the registry lock). */
static void segment_waiting(struct hl_segment *s, struct hl_stats *out)
{
    uint64_t n = 0;
    pthread_mutex_lock(&s->lock);
    const struct hl_heap *owner = __atomic_load_n(&s->heap, __ATOMIC_RELAXED);
    for (uint32_t i = HL_FIRST_SLICE; i < s->slices; i++) {
        const struct hl_page *pg = &s->pages[i];
        if (pg->slice_back == 0 && (pg->kind == HL_PAGE_SMALL || pg->kind == HL_PAGE_MEDIUM))
            n += remote_waiting(pg);
    }
    pthread_mutex_unlock(&s->lock);
    if (n == 0) return;
    out->remote_free_blocks += n;
    uint64_t all = waiting_add(owner, n);
    if (all > out->remote_free_max) out->remote_free_max = all;
}

HL_API void hl_stats(struct hl_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned b = 0; b < HL_BINS && b < HL_STATS_CLASSES; b++)
        out->classes[b].block_bytes = hl_bin_size(b);
    pthread_mutex_lock(&hl_heaps_lock);
    memset(waiting, 0, sizeof(waiting));
    delayed_waiting(out);
    pthread_mutex_lock(&hl_registry_lock);
    for (struct hl_segment *s = hl_registry; s; s = s->all_next) {
        out->segments++;
        if (s->kind == HL_PAGE_HUGE) {
            if (s->pages[HL_FIRST_SLICE].used) {
                out->allocated_bytes += s->huge_usable;
                out->active_bytes += hl_huge_mapped(s);
            }
            out->resident_bytes += hl_huge_mapped(s); /* an upper bound: all may be touched */
            continue;
        }
        out->resident_bytes += HL_SLICE_SIZE; /* the header */
        uint32_t dirty = 0;
        pthread_mutex_lock(&s->lock);
        for (unsigned w = 0; w < HL_SLICES / 64; w++)
            dirty += (uint32_t)__builtin_popcountll(s->dirty_map[w]);
        uint32_t used_slices = s->used_slices;
        pthread_mutex_unlock(&s->lock);
        out->resident_bytes += (uint64_t)(used_slices + dirty) << HL_SLICE_SHIFT;
        out->dirty_bytes += (uint64_t)dirty << HL_SLICE_SHIFT;
        segment_waiting(s, out);
        for (uint32_t i = HL_FIRST_SLICE; i < HL_SLICES; i++) {
            const struct hl_page *pg = &s->pages[i];
            uint32_t used = __atomic_load_n(&pg->used, __ATOMIC_RELAXED);
            if (pg->slice_back != 0 || pg->kind == HL_PAGE_NONE) continue;
            uint64_t bytes = (uint64_t)pg->slice_count << HL_SLICE_SHIFT;
            if (used > 0) {
                out->allocated_bytes += (uint64_t)used * pg->block_size;
                out->active_bytes += bytes;
            }
            if (pg->kind != HL_PAGE_LARGE && pg->bin < HL_STATS_CLASSES) {
                struct hl_class_stats *c = &out->classes[pg->bin];
                c->pages++;
                c->blocks += pg->reserved;
                c->used += used;
            }
        }
    }
    pthread_mutex_unlock(&hl_registry_lock);
    pthread_mutex_unlock(&hl_heaps_lock);
    out->mapped_bytes = atomic_load_explicit(&hl_count.mapped_bytes, memory_order_relaxed);
    out->huge_blocks = atomic_load_explicit(&hl_count.huge_blocks, memory_order_relaxed);
    out->huge_cached_bytes = hl_huge_cached_bytes();
    out->purges = atomic_load_explicit(&hl_count.purges, memory_order_relaxed);
    out->purged_bytes = atomic_load_explicit(&hl_count.purged_bytes, memory_order_relaxed);
    out->threads = atomic_load_explicit(&hl_count.threads, memory_order_relaxed);
    out->abandoned_segments = hl_abandoned_segments();
    out->invalid_frees = atomic_load_explicit(&hl_count.invalid_frees, memory_order_relaxed);
    out->double_frees = atomic_load_explicit(&hl_count.double_frees, memory_order_relaxed);
}

HL_API void hl_stats_print(void)
{
    struct hl_stats st;
    hl_stats(&st);
    hl_outf("hlmalloc statistics (%s)\n", hl_version());
    hl_outf("  allocated  %12llu bytes in live blocks\n", (unsigned long long)st.allocated_bytes);
    hl_outf("  active     %12llu bytes in pages holding live blocks\n",
            (unsigned long long)st.active_bytes);
    hl_outf("  resident   %12llu bytes at most (touched and not yet purged)\n",
            (unsigned long long)st.resident_bytes);
    hl_outf("  dirty      %12llu bytes of it freed, waiting for the purge delay\n",
            (unsigned long long)st.dirty_bytes);
    hl_outf("  mapped     %12llu bytes of address space\n", (unsigned long long)st.mapped_bytes);
    hl_outf("  segments   %12llu (abandoned %llu); huge blocks %llu, huge cache %llu bytes\n",
            (unsigned long long)st.segments, (unsigned long long)st.abandoned_segments,
            (unsigned long long)st.huge_blocks, (unsigned long long)st.huge_cached_bytes);
    hl_outf("  purged     %12llu bytes in %llu calls\n", (unsigned long long)st.purged_bytes,
            (unsigned long long)st.purges);
    hl_outf("  threads    %12llu heaps; invalid frees %llu, double frees %llu\n",
            (unsigned long long)st.threads, (unsigned long long)st.invalid_frees,
            (unsigned long long)st.double_frees);
    hl_outf("  remote     %12llu blocks freed by other threads, waiting (most for one heap %llu)\n",
            (unsigned long long)st.remote_free_blocks, (unsigned long long)st.remote_free_max);
    hl_outf("  %10s %8s %10s %10s\n", "block", "pages", "blocks", "used");
    for (unsigned b = 0; b < HL_STATS_CLASSES; b++) {
        const struct hl_class_stats *c = &st.classes[b];
        if (c->pages)
            hl_outf("  %10llu %8llu %10llu %10llu\n", (unsigned long long)c->block_bytes,
                    (unsigned long long)c->pages, (unsigned long long)c->blocks,
                    (unsigned long long)c->used);
    }
}
