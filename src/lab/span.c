/*
 * lab/span.c: the span heap. Size buckets served from 4 KiB spans, with every descriptor in a
 * side table outside the arena.
 *
 * A request of up to 2048 B rounds up to one of 23 buckets. Each bucket carves 4 KiB spans
 * into objects of its size and links the free ones through their own first 2 bytes. Spans
 * come from a span free list, else from a cursor; a span whose last object is freed goes back
 * to the free list and is never released, so the footprint is the cursor's high-water mark.
 * The design is the span heap of the seed document (a 4 KiB page chunked per bucket, an
 * intrusive free list, spans recycled through their own free list, footprint == watermark).
 *
 * The contrast with slab.c: a span holds no header. Its descriptor (bucket, free count, free
 * list head, list links) lives in a side table in the control block, one entry per 4 KiB span
 * of the arena, indexed by address >> 12: a page map as in tcmalloc. Every arena byte is a
 * live or a free object, a span tail, or a free span; meta_bytes is always 0, and the price
 * is state_bytes, 24 B per span of arena whether used or not (6 MiB for a 1 GiB arena).
 *
 *   arena:  [span b16][span b2048][large run, 3 spans][free][span b160]  untouched ...
 *           ^0        ^4096       ^8192                ^20480           ^cursor       ^size
 *   span:   [obj 0][obj 1] ... [obj per-1][tail]       obj i at i * size, no header
 *   free object: u16 span offset of the next free object on the span's list, 0xffff ends it
 *   side table: desc[i] for span i:  kind | bucket | nfree | carved | free_head | head |
 *               nspans | next | prev
 *
 * Buckets are chosen by how many objects fit a span, so no span tail exceeds 96 B:
 *
 *   16 32 48 64 80 96 112 128 | 160 192 224 256 288 336 400 448 512 | 576 672 816 1024 1360 2048
 *
 * Objects [0, carved) were handed out at least once; the rest were never touched and are free
 * without being listed, so claiming a span is O(1).
 *
 * Free spans are kept as runs of contiguous spans, merged with free neighbours on free, on
 * two lists (together, the span free list): single spans, and runs of 2 or more. A bucket
 * takes a single free span if there is one (O(1)), else the front of the shortest run. A
 * request above 2048 B takes ceil(size / 4096) contiguous spans, best fit over the runs (an
 * exact fit ends the scan), else from the cursor. The cost is a scan of the runs per large
 * alloc (and per bucket claim when no single span is free) and a side-table entry per span to
 * mark; the gain is that a freed large run can serve buckets and freed bucket spans can serve
 * a large run. (First fit over one list was tried: on the webserver workload its peak
 * footprint was 1.96 MiB and 40 requests failed, against 636 KiB and none for this.) With no
 * headers in the arena, one request can take the whole arena.
 *
 * Invariants (check()):
 *   P1 the side table tiles [0, cursor) into runs: bucket spans (1 span), large runs (every
 *      span names the run's first span and its length), free runs (first and last entries
 *      agree); spans from the cursor on are untouched
 *   P2 no two free runs are adjacent (free coalesces)
 *   P3 the two free lists hold exactly the free runs, each on the list for its length, their
 *      links agree, they have no cycle
 *   P4 a bucket span's free list lies in [0, carved * size), on object boundaries, without
 *      repeats; its length plus the uncarved objects is nfree
 *   P5 a span with 0 < nfree < per is on its bucket's partial list, a full span on no list,
 *      and no span is empty (the free that empties a span returns it to the free list)
 *   P6 the counters (live blocks and bytes, free objects, spans, large runs, free runs and
 *      spans, tails) match the walk
 *
 * Complexity: small alloc and free O(1) (bucket by table lookup, partial list head, a single
 * free span or the cursor, release with O(1) coalescing), except a bucket claim that has to
 * cut a run: O(free runs). Large alloc and free O(spans in the run) to mark the side table,
 * plus O(free runs) for the best-fit scan. check() and snapshot() O(spans + objects).
 *
 * Where it wins: the footprint is the high watermark and nothing else, and the overhead is a
 * function of the watermark and of the live sizes alone: the same live set reached by any
 * allocation order (without frees) takes the same spans. Small spans recycle freely between
 * buckets; the arena holds no metadata to corrupt. Where it falls apart: memory is never
 * given back (one spike sets the footprint for good); one survivor pins a whole span of its
 * bucket, and partly used spans of one bucket cannot serve another; the side table costs
 * memory for the whole arena up front; 1025 B takes 1360 and 1361 B takes 2048; large runs
 * round up to whole spans, the best-fit scan is linear in the free runs, and runs stranded
 * between live spans serve only what fits them.
 */
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"

#define SPAN_SHIFT 12
#define SPAN_BYTES ((uint64_t)1 << SPAN_SHIFT)
#define SMALL_MAX  2048u
#define NBUCKET    23u
#define MAX_OBJS   (SPAN_BYTES / 16)
#define NIL        UINT32_MAX
#define OBJ_NIL    0xffffu

static const uint16_t bucket_size[NBUCKET] = {
    16,  32,  48,  64,  80,  96,  112, 128, 160,  192,  224,  256,
    288, 336, 400, 448, 512, 576, 672, 816, 1024, 1360, 2048,
};

enum span_kind {
    SP_UNTOUCHED = 0, /* at or beyond the cursor */
    SP_FREE,          /* in a free run */
    SP_SMALL,         /* carved for a bucket */
    SP_LARGE,         /* in a large run */
};

/* Side-table entry, one per arena span. */
struct span_desc {
    uint32_t next;      /* SMALL: next span on its partial list; FREE (first span): next run */
    uint32_t prev;      /* the previous one, NIL at the head */
    uint32_t head;      /* first span of the run (SMALL, LARGE: every span; FREE: both ends) */
    uint32_t nspans;    /* run length (SMALL: 1; LARGE: every span; FREE: both ends) */
    uint16_t free_head; /* SMALL: span offset of the first listed free object, OBJ_NIL if none */
    uint16_t nfree;     /* SMALL: free objects, listed plus never carved */
    uint16_t carved;    /* SMALL: objects [0, carved) were handed out at least once */
    uint8_t kind;       /* enum span_kind */
    uint8_t bucket;     /* SMALL: bucket index */
};
_Static_assert(sizeof(struct span_desc) == 24, "a side-table entry is 24 bytes");

struct span {
    unsigned char *base;
    uint64_t size;                     /* arena bytes */
    uint64_t state_bytes;              /* control block bytes (state_size) */
    uint64_t large_max;                /* largest request served: the arena */
    uint32_t nspans;                   /* arena spans */
    uint32_t cursor;                   /* spans [0, cursor) were claimed; never decreases */
    uint32_t free_list[2];             /* span free list: single free spans [0], runs [1] */
    uint32_t partial[NBUCKET];         /* first span of each bucket's partial list */
    uint64_t nfree_runs;               /* runs on the span free list */
    uint64_t free_run_spans;           /* spans in them */
    uint64_t live_blocks;              /* objects and large runs handed out */
    uint64_t live_bytes;               /* their usable sizes */
    uint64_t free_objs;                /* free objects in bucket spans */
    uint64_t free_obj_bytes;           /* their bytes */
    uint64_t small_spans;              /* spans carved for buckets */
    uint64_t large_runs;               /* large runs in use */
    uint64_t large_spans;              /* spans in them */
    uint64_t tails;                    /* tail bytes of the bucket spans */
    uint8_t bucket_of[SMALL_MAX / 16]; /* bucket for sizes (16 i, 16 i + 16] */
    uint64_t mark[MAX_OBJS / 64];      /* scratch: one bit per object of one span */
    struct span_desc desc[];           /* nspans entries: the side table */
};

static uint32_t bucket_objs(unsigned b)
{
    return (uint32_t)(SPAN_BYTES / bucket_size[b]);
}

static uint32_t bucket_tail(unsigned b)
{
    return (uint32_t)(SPAN_BYTES % bucket_size[b]);
}

static unsigned char *span_addr(const struct span *s, uint32_t i)
{
    return s->base + ((uint64_t)i << SPAN_SHIFT);
}

static uint16_t link_get(const unsigned char *obj)
{
    uint16_t v;
    memcpy(&v, obj, sizeof v);
    return v;
}

static void link_set(unsigned char *obj, uint16_t v)
{
    memcpy(obj, &v, sizeof v);
}

/* ------------------------------------------------------------------------------------- */
/* The span free list: runs of free spans.                                                */

/* The list a free run of `n` spans belongs on. */
static uint32_t *run_list(struct span *s, uint32_t n)
{
    return &s->free_list[n > 1];
}

static void run_push(struct span *s, uint32_t first)
{
    uint32_t *head = run_list(s, s->desc[first].nspans);
    s->desc[first].prev = NIL;
    s->desc[first].next = *head;
    if (*head != NIL) s->desc[*head].prev = first;
    *head = first;
    s->nfree_runs++;
    s->free_run_spans += s->desc[first].nspans;
}

static void run_remove(struct span *s, uint32_t first)
{
    struct span_desc *d = &s->desc[first];
    if (d->prev != NIL)
        s->desc[d->prev].next = d->next;
    else
        *run_list(s, d->nspans) = d->next;
    if (d->next != NIL) s->desc[d->next].prev = d->prev;
    s->nfree_runs--;
    s->free_run_spans -= d->nspans;
}

/* A free run's first and last entries describe it (P1); the entries between are not read. */
static void mark_free(struct span *s, uint32_t first, uint32_t n)
{
    struct span_desc *a = &s->desc[first], *z = &s->desc[first + n - 1];
    a->kind = z->kind = SP_FREE;
    a->head = z->head = first;
    a->nspans = z->nspans = n;
}

/* Claim `n` contiguous spans: a single free span if n is 1 and there is one, else best fit
 * over the runs of 2 or more (the shortest run that fits, its front; an exact fit ends the
 * scan), else from the cursor. Every claimed entry names the run. NIL if there is no room. */
static uint32_t spans_take(struct span *s, uint32_t n, enum span_kind kind)
{
    uint32_t first = n == 1 ? s->free_list[0] : NIL;
    if (first == NIL) {
        for (uint32_t r = s->free_list[1]; r != NIL; r = s->desc[r].next) {
            uint32_t len = s->desc[r].nspans;
            if (len >= n && (first == NIL || len < s->desc[first].nspans)) first = r;
            if (len == n) break;
        }
    }
    if (first != NIL) {
        uint32_t len = s->desc[first].nspans;
        run_remove(s, first);
        if (len > n) {
            mark_free(s, first + n, len - n);
            run_push(s, first + n);
        }
    } else if (s->nspans - s->cursor >= n) {
        first = s->cursor;
        s->cursor += n;
    } else {
        return NIL;
    }
    for (uint32_t i = first; i < first + n; i++) {
        s->desc[i].kind = (uint8_t)kind;
        s->desc[i].head = first;
        s->desc[i].nspans = n;
        s->desc[i].next = s->desc[i].prev = NIL;
    }
    return first;
}

/* Return `n` spans at `first` to the free list, merged with free neighbours (keeps P2). Every
 * entry given back is marked free, so a stale pointer into the spans no longer finds a block. */
static void spans_give(struct span *s, uint32_t first, uint32_t n)
{
    for (uint32_t k = first; k < first + n; k++)
        s->desc[k].kind = SP_FREE;
    if (first > 0 && s->desc[first - 1].kind == SP_FREE) {
        uint32_t left = s->desc[first - 1].head;
        run_remove(s, left);
        n += first - left;
        first = left;
    }
    uint32_t right = first + n;
    if (right < s->cursor && s->desc[right].kind == SP_FREE) {
        run_remove(s, right);
        n += s->desc[right].nspans;
    }
    mark_free(s, first, n);
    run_push(s, first);
}

/* ------------------------------------------------------------------------------------- */
/* Buckets.                                                                               */

static void partial_push(struct span *s, uint32_t i)
{
    struct span_desc *d = &s->desc[i];
    d->prev = NIL;
    d->next = s->partial[d->bucket];
    if (d->next != NIL) s->desc[d->next].prev = i;
    s->partial[d->bucket] = i;
}

static void partial_remove(struct span *s, uint32_t i)
{
    struct span_desc *d = &s->desc[i];
    if (d->prev != NIL)
        s->desc[d->prev].next = d->next;
    else
        s->partial[d->bucket] = d->next;
    if (d->next != NIL) s->desc[d->next].prev = d->prev;
    d->next = d->prev = NIL;
}

static void *alloc_small(struct span *s, unsigned b)
{
    uint32_t i = s->partial[b];
    uint32_t size = bucket_size[b];
    if (i == NIL) {
        if ((i = spans_take(s, 1, SP_SMALL)) == NIL) return NULL;
        struct span_desc *d = &s->desc[i];
        d->bucket = (uint8_t)b;
        d->nfree = (uint16_t)bucket_objs(b);
        d->carved = 0;
        d->free_head = OBJ_NIL;
        partial_push(s, i);
        s->small_spans++;
        s->free_objs += d->nfree;
        s->free_obj_bytes += (uint64_t)d->nfree * size;
        s->tails += bucket_tail(b);
    }
    struct span_desc *d = &s->desc[i];
    unsigned char *span = span_addr(s, i);
    uint32_t off;
    if (d->free_head != OBJ_NIL) {
        off = d->free_head;
        d->free_head = link_get(span + off);
    } else {
        off = (uint32_t)d->carved * size;
        d->carved++;
    }
    d->nfree--;
    if (d->nfree == 0) partial_remove(s, i); /* full: on no list (P5) */
    s->free_objs--;
    s->free_obj_bytes -= size;
    s->live_blocks++;
    s->live_bytes += size;
    return span + off;
}

static void *alloc_large(struct span *s, size_t size)
{
    uint64_t n = (size + SPAN_BYTES - 1) >> SPAN_SHIFT;
    uint32_t i = spans_take(s, (uint32_t)n, SP_LARGE);
    if (i == NIL) return NULL;
    s->large_runs++;
    s->large_spans += n;
    s->live_blocks++;
    s->live_bytes += n << SPAN_SHIFT;
    return span_addr(s, i);
}

/* The span `ptr` lies in, or NIL if it is outside the claimed spans. */
static uint32_t span_of(const struct span *s, const void *ptr)
{
    const unsigned char *p = ptr;
    if (p < s->base || p >= s->base + s->size) return NIL;
    uint32_t i = (uint32_t)((uint64_t)(p - s->base) >> SPAN_SHIFT);
    return i < s->cursor ? i : NIL;
}

/* ------------------------------------------------------------------------------------- */
/* The vtable.                                                                            */

static size_t span_state_size(size_t arena_size)
{
    return sizeof(struct span) + (arena_size >> SPAN_SHIFT) * sizeof(struct span_desc);
}

static int span_create(void *self, void *arena, size_t arena_size)
{
    struct span *s = self;
    if (arena_size < 2 * SPAN_BYTES || arena_size % SPAN_BYTES != 0) return -1;
    s->base = arena;
    s->size = arena_size;
    s->state_bytes = span_state_size(arena_size);
    s->large_max = arena_size;
    s->nspans = (uint32_t)(arena_size >> SPAN_SHIFT);
    s->free_list[0] = s->free_list[1] = NIL;
    for (unsigned b = 0; b < NBUCKET; b++)
        s->partial[b] = NIL;
    unsigned b = 0;
    for (unsigned k = 0; k < SMALL_MAX / 16; k++) {
        while (bucket_size[b] < 16 * (k + 1))
            b++;
        s->bucket_of[k] = (uint8_t)b;
    }
    return 0;
}

static void *span_alloc(void *self, size_t size)
{
    struct span *s = self;
    if (size == 0) size = 1;
    if (size <= SMALL_MAX) return alloc_small(s, s->bucket_of[(size - 1) >> 4]);
    if (size > s->large_max) return NULL;
    return alloc_large(s, size);
}

static void span_free(void *self, void *ptr)
{
    struct span *s = self;
    uint32_t i = ptr == NULL ? NIL : span_of(s, ptr);
    if (i == NIL) return;
    struct span_desc *d = &s->desc[i];
    unsigned char *span = span_addr(s, i), *p = ptr;
    if (d->kind == SP_SMALL) {
        uint32_t size = bucket_size[d->bucket], off = (uint32_t)(p - span);
        if (off % size != 0 || off / size >= d->carved) return;
        link_set(p, d->free_head);
        d->free_head = (uint16_t)off;
        d->nfree++;
        s->free_objs++;
        s->free_obj_bytes += size;
        s->live_blocks--;
        s->live_bytes -= size;
        if (d->nfree == 1) partial_push(s, i); /* was full */
        if (d->nfree == bucket_objs(d->bucket)) {
            /* Empty: back to the span free list, never to the OS (P5). */
            partial_remove(s, i);
            s->small_spans--;
            s->free_objs -= d->nfree;
            s->free_obj_bytes -= (uint64_t)d->nfree * size;
            s->tails -= bucket_tail(d->bucket);
            spans_give(s, i, 1);
        }
    } else if (d->kind == SP_LARGE && d->head == i && p == span) {
        uint32_t n = d->nspans;
        s->large_runs--;
        s->large_spans -= n;
        s->live_blocks--;
        s->live_bytes -= (uint64_t)n << SPAN_SHIFT;
        spans_give(s, i, n);
    }
}

static size_t span_usable_size(void *self, const void *ptr)
{
    struct span *s = self;
    uint32_t i = span_of(s, ptr);
    if (i == NIL) return 0;
    const struct span_desc *d = &s->desc[i];
    if (d->kind == SP_SMALL) return bucket_size[d->bucket];
    if (d->kind == SP_LARGE) return (size_t)d->nspans << SPAN_SHIFT;
    return 0;
}

/* Mark the listed free objects of span `i` in s->mark. Returns the list length, or -1 with the
 * offending offset in *bad if an entry is out of bounds, off an object boundary, or repeated
 * (which is also how a cycle shows). */
static int mark_free_objects(struct span *s, uint32_t i, uint32_t *bad)
{
    const struct span_desc *d = &s->desc[i];
    const unsigned char *span = span_addr(s, i);
    uint32_t size = bucket_size[d->bucket], n = 0;
    memset(s->mark, 0, sizeof s->mark);
    for (uint32_t off = d->free_head; off != OBJ_NIL; off = link_get(span + off)) {
        uint32_t k = off / size;
        if (off % size != 0 || k >= d->carved || k >= MAX_OBJS || s->mark[k / 64] >> (k % 64) & 1) {
            *bad = off;
            return -1;
        }
        s->mark[k / 64] |= (uint64_t)1 << (k % 64);
        n++;
    }
    return (int)n;
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

/* P4 and P5 for bucket span `i`. */
static int check_small(struct span *s, uint32_t i, uint64_t *partial_count, char *err,
                       size_t errlen)
{
    const struct span_desc *d = &s->desc[i];
    if (d->bucket >= NBUCKET || d->carved > bucket_objs(d->bucket)
        || d->nfree > bucket_objs(d->bucket))
        FAIL("P4: span %u: bad descriptor", i);
    uint32_t per = bucket_objs(d->bucket), bad;
    int listed = mark_free_objects(s, i, &bad);
    if (listed < 0)
        FAIL("P4: span %u (bucket %u): free list entry at offset %u is out of bounds, off an "
             "object boundary or repeated",
             i, bucket_size[d->bucket], bad);
    if ((uint32_t)listed + per - d->carved != d->nfree)
        FAIL("P4: span %u: %d listed + %u uncarved free objects, descriptor says %u", i, listed,
             per - d->carved, d->nfree);
    if (d->nfree == per) FAIL("P5: span %u is empty but not on the span free list", i);
    if (d->nfree > 0) partial_count[d->bucket]++;
    if (d->nfree == 0 && (d->next != NIL || d->prev != NIL || s->partial[d->bucket] == i))
        FAIL("P5: full span %u is linked on a partial list", i);
    return 0;
}

static int span_check(void *self, char *err, size_t errlen)
{
    struct span *s = self;
    uint64_t live = 0, live_bytes = 0, free_objs = 0, free_obj_bytes = 0, small = 0;
    uint64_t large = 0, large_spans = 0, runs = 0, run_spans = 0, tails = 0;
    uint64_t partial_count[NBUCKET] = { 0 };
    int prev_free = 0;
    if (s->cursor > s->nspans) FAIL("P1: cursor %u beyond %u spans", s->cursor, s->nspans);
    uint32_t i = 0;
    while (i < s->cursor) {
        const struct span_desc *d = &s->desc[i];
        uint32_t n = d->nspans;
        if (d->head != i || n == 0 || n > s->cursor - i)
            FAIL("P1: span %u does not start a run inside the cursor", i);
        if (d->kind == SP_FREE) {
            const struct span_desc *z = &s->desc[i + n - 1];
            if (z->kind != SP_FREE || z->head != i || z->nspans != n)
                FAIL("P1: free run at span %u: last entry disagrees", i);
            if (prev_free) FAIL("P2: free run at span %u follows another free run", i);
            runs++;
            run_spans += n;
        } else if (d->kind == SP_SMALL) {
            if (n != 1) FAIL("P1: bucket span %u claims %u spans", i, n);
            if (check_small(s, i, partial_count, err, errlen)) return -1;
            uint32_t size = bucket_size[d->bucket], used = bucket_objs(d->bucket) - d->nfree;
            live += used;
            live_bytes += (uint64_t)used * size;
            free_objs += d->nfree;
            free_obj_bytes += (uint64_t)d->nfree * size;
            tails += bucket_tail(d->bucket);
            small++;
        } else if (d->kind == SP_LARGE) {
            for (uint32_t k = i; k < i + n; k++)
                if (s->desc[k].kind != SP_LARGE || s->desc[k].head != i || s->desc[k].nspans != n)
                    FAIL("P1: span %u of the large run at span %u does not name it", k, i);
            live++;
            live_bytes += (uint64_t)n << SPAN_SHIFT;
            large++;
            large_spans += n;
        } else {
            FAIL("P1: span %u has kind %u", i, d->kind);
        }
        prev_free = d->kind == SP_FREE;
        i += n;
    }
    for (uint32_t k = s->cursor; k < s->nspans; k++)
        if (s->desc[k].kind != SP_UNTOUCHED) FAIL("P1: span %u beyond the cursor is in use", k);

    /* P3. Each step checks the back link, so a repeated run (a cycle) would need two different
     * prev values; the walk is also bounded by the runs the table holds. */
    uint64_t listed = 0;
    uint32_t prev = NIL;
    for (unsigned l = 0; l < 2; l++) {
        prev = NIL;
        for (uint32_t r = s->free_list[l]; r != NIL; prev = r, r = s->desc[r].next) {
            if (r >= s->cursor || s->desc[r].kind != SP_FREE || s->desc[r].head != r
                || (s->desc[r].nspans > 1) != l)
                FAIL("P3: span free list %u: entry %u is not a free run of its length", l, r);
            if (s->desc[r].prev != prev) FAIL("P3: free run at span %u: prev link broken", r);
            if (++listed > runs)
                FAIL("P3: span free lists longer than the %llu free runs",
                     (unsigned long long)runs);
        }
    }
    if (listed != runs)
        FAIL("P3: span free lists have %llu runs, the table %llu", (unsigned long long)listed,
             (unsigned long long)runs);

    /* P5: each partial list holds exactly the partial spans of its bucket. */
    for (unsigned b = 0; b < NBUCKET; b++) {
        uint64_t k = 0;
        prev = NIL;
        for (uint32_t p = s->partial[b]; p != NIL; prev = p, p = s->desc[p].next) {
            if (p >= s->cursor || s->desc[p].kind != SP_SMALL || s->desc[p].bucket != b
                || s->desc[p].nfree == 0 || s->desc[p].prev != prev)
                FAIL("P5: bucket %u partial list: span %u is not a partial span of it or is "
                     "badly linked",
                     bucket_size[b], p);
            if (++k > partial_count[b])
                FAIL("P5: bucket %u partial list longer than its %llu partial spans",
                     bucket_size[b], (unsigned long long)partial_count[b]);
        }
        if (k != partial_count[b])
            FAIL("P5: bucket %u: %llu partial spans, %llu on the list", bucket_size[b],
                 (unsigned long long)partial_count[b], (unsigned long long)k);
    }

    if (live != s->live_blocks || live_bytes != s->live_bytes || free_objs != s->free_objs
        || free_obj_bytes != s->free_obj_bytes || small != s->small_spans || large != s->large_runs
        || large_spans != s->large_spans || runs != s->nfree_runs || run_spans != s->free_run_spans
        || tails != s->tails)
        FAIL("P6: walk (%llu live, %llu B, %llu free objects, %llu bucket spans, %llu large "
             "runs, %llu free spans) disagrees with the counters",
             (unsigned long long)live, (unsigned long long)live_bytes,
             (unsigned long long)free_objs, (unsigned long long)small, (unsigned long long)large,
             (unsigned long long)run_spans);
    return 0;
}

static void span_stats(void *self, struct lab_stats *out)
{
    struct span *s = self;
    uint64_t big = s->nspans - s->cursor;
    if (big == 0 && s->free_list[0] != NIL) big = 1;
    for (uint32_t r = s->free_list[1]; r != NIL; r = s->desc[r].next)
        if (s->desc[r].nspans > big) big = s->desc[r].nspans;
    uint64_t largest = big << SPAN_SHIFT;
    if (largest > s->large_max) largest = s->large_max;
    for (unsigned b = NBUCKET; b-- > 0 && largest == 0;)
        if (s->partial[b] != NIL) largest = bucket_size[b];
    *out = (struct lab_stats){
        .live_blocks = s->live_blocks,
        .live_bytes = s->live_bytes,
        .meta_bytes = 0, /* every descriptor is in the side table */
        .free_bytes =
                s->free_obj_bytes + ((s->free_run_spans + s->nspans - s->cursor) << SPAN_SHIFT),
        .slack_bytes = s->tails,
        /* free objects, free runs, and the untouched tail as one more run */
        .free_blocks = s->free_objs + s->nfree_runs + (s->cursor < s->nspans),
        .units_held = s->small_spans + s->large_spans,
        .units_total = s->cursor,
        .footprint = (uint64_t)s->cursor << SPAN_SHIFT,
        .state_bytes = s->state_bytes,
        .largest_free = largest,
    };
}

static void paint_small(struct span *s, struct lab_paint *p, uint32_t i)
{
    const struct span_desc *d = &s->desc[i];
    uint64_t off = (uint64_t)i << SPAN_SHIFT, size = bucket_size[d->bucket];
    uint32_t bad, per = bucket_objs(d->bucket);
    if (mark_free_objects(s, i, &bad) < 0) memset(s->mark, 0, sizeof s->mark); /* see check() */
    for (uint32_t k = 0; k < per; k++, off += size) {
        if (k >= d->carved || (s->mark[k / 64] >> (k % 64) & 1))
            lab_paint_range(p, off, size, LAB_FREE); /* the painter joins adjacent free ranges */
        else
            lab_paint_block(p, off, size);
    }
    lab_paint_range(p, off, bucket_tail(d->bucket), LAB_WASTE);
}

static void span_snapshot(void *self, struct lab_paint *p)
{
    struct span *s = self;
    uint32_t i = 0;
    while (i < s->cursor) {
        const struct span_desc *d = &s->desc[i];
        uint64_t off = (uint64_t)i << SPAN_SHIFT, n = d->nspans ? d->nspans : 1;
        if (d->kind == SP_SMALL)
            paint_small(s, p, i);
        else if (d->kind == SP_LARGE)
            lab_paint_block(p, off, n << SPAN_SHIFT);
        else
            lab_paint_range(p, off, n << SPAN_SHIFT, LAB_FREE);
        i += (uint32_t)n;
    }
    lab_paint_range(p, (uint64_t)s->cursor << SPAN_SHIFT,
                    (uint64_t)(s->nspans - s->cursor) << SPAN_SHIFT, LAB_FREE);
}

const struct lab_ops lab_span = {
    .name = "span",
    .summary = "23 buckets in 4 KiB spans, descriptors in a side table, footprint = watermark",
    .state_size = span_state_size,
    .create = span_create,
    .alloc = span_alloc,
    .free = span_free,
    .usable_size = span_usable_size,
    .check = span_check,
    .stats = span_stats,
    .snapshot = span_snapshot,
};
