/*
 * lab/slab.c: per-class slabs over a page pool, headers inside the arena.
 *
 * Small requests (0..2048 B) round up to one of 8 power-of-two classes, 16 B to 2048 B. Each
 * class owns slabs: runs of SLAB_PAGES = 4 pages (16 KiB) taken from a page pool, with a
 * 32-byte header at the slab's first byte and the rest cut into objects of the class size.
 * Free objects are linked through their own first 4 bytes. A larger request takes a run of
 * whole 4 KiB pages from the same pool, with a 16-byte header in front of the block.
 *
 *   arena:  [slab, class 64 ][large run, 3 pages ][free run ][slab, class 16 ]  untouched...
 *           ^page 0          ^page 4              ^page 7    ^page 9          ^cursor     ^size
 *
 *   slab:   [hdr 32][obj 0][obj 1][obj 2] ...... [obj nobj-1][slack]   obj i at 32 + i * size
 *   hdr:    u32 magic | u16 cls, nobj, nfree, carved | u32 free_head | u32 next, prev | u32 page
 *   free object: u32 slab offset of the next free object on the slab's list, 0 ends the list
 *   large:  [hdr 16: u32 magic | u32 npages | 8 unused][payload: npages * 4096 - 16 .......]
 *
 * Objects [0, carved) have been handed out at least once; objects from `carved` on have never
 * been touched and are free without being on the list, so a new slab costs O(1), not a pass
 * to thread its free list. Per 16 KiB slab:
 *
 *   class     16    32    64   128   256   512  1024  2048
 *   objects 1022   511   255   127    63    31    15     7
 *   slack      0     0    32    96   224   480   992  2016   (tail bytes, painted as waste)
 *
 * The page pool. Pages are carved from a cursor that never moves down (footprint = cursor
 * pages); a freed run is coalesced with its free neighbours and kept on one free-run list,
 * served best fit: the shortest run that fits, split if longer (its front taken), an exact
 * fit ending the scan. (First fit was tried: in `heaplab race` its peak footprint was 1.75 MiB
 * on webserver against 636 KiB for best fit, 25.8 MiB on medium against 19.4.)
 *
 * The control block holds a page map, one entry per arena page: kind (free, slab, large),
 * the first page of its run, the run length, and for a free run the list links. free() needs
 * the map to find an object's slab header: slabs are only page aligned, so an object pointer
 * cannot be masked to its slab. All other slab metadata (class, counts, free list,
 * partial-list links) is in the arena.
 *
 * A class's partial list holds its slabs with some objects free and some live; a full slab
 * leaves it, and the free that empties a slab hands its pages back to the pool at once.
 *
 * Invariants (check()):
 *   S1 the page map tiles [0, cursor) into runs; every page of a slab or large run names the
 *      run's first page; slabs are SLAB_PAGES long; pages from the cursor on are untouched
 *   S2 no two free runs are adjacent (free coalesces)
 *   S3 the free-run list holds exactly the free runs, its links agree, it has no cycle
 *   S4 a slab's header is intact and its free list lies in [32, 32 + carved * size), on object
 *      boundaries, without repeats; its length plus the uncarved objects is nfree
 *   S5 a slab with 0 < nfree < nobj is on its class's partial list, a full one is on no list,
 *      and no slab is empty (the free that empties a slab returns it to the pool)
 *   S6 a large run's header names its page count
 *   S7 the counters (live blocks and bytes, free objects, slabs, large runs, free runs and
 *      pages, slack) match the walk
 *
 * Complexity: small alloc and free are O(1) (head of the partial list; releasing a slab
 * touches one header, and coalescing is O(1) through the run ends in the map), except the
 * alloc that builds a slab, which pays the best-fit scan: O(free runs). A large alloc is
 * O(free runs) for the scan plus O(pages) to fill the map; a large free is O(1).
 * check() and snapshot() are O(pages + objects).
 *
 * Where it wins: small blocks carry no per-object header, and within a class there is no
 * external fragmentation: any free object fits any request of its class. Where it falls apart:
 * memory stranded in the partly used slabs of one class cannot serve another class (a single
 * survivor pins a whole 16 KiB slab); powers of two waste up to half an object (1025 B takes
 * 2048); a 2048 B slab loses 2016 B of its 16 KiB to slack; an alloc/free ping-pong at a slab
 * boundary builds and releases a slab every time; large runs pay a 16 B header and round up
 * to whole pages; the best-fit scan is linear in the free runs, and the pool still
 * fragments: runs between live ones serve only what fits them.
 */
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"

#define PAGE_SHIFT  12
#define PAGE_BYTES  ((uint64_t)1 << PAGE_SHIFT)
#define SLAB_PAGES  4u
#define SLAB_BYTES  (SLAB_PAGES * PAGE_BYTES)
#define NCLASS      8u
#define SMALL_MAX   2048u
#define SLAB_HDR    32u
#define LARGE_HDR   16u
#define MAX_OBJS    ((SLAB_BYTES - SLAB_HDR) / 16) /* objects in a class-16 slab */
#define NIL         UINT32_MAX
#define SLAB_MAGIC  0x534c4142u /* "SLAB" */
#define LARGE_MAGIC 0x4c524745u /* "LRGE" */

enum page_kind {
    PG_UNTOUCHED = 0, /* at or beyond the cursor */
    PG_FREE,          /* in a free run */
    PG_SLAB,          /* in a slab */
    PG_LARGE,         /* in a large run */
};

/* At the first byte of every slab. */
struct slab_hdr {
    uint32_t magic;     /* SLAB_MAGIC while the slab exists, 0 once released */
    uint16_t cls;       /* class index: object size 16 << cls */
    uint16_t nobj;      /* objects in the slab */
    uint16_t nfree;     /* free objects: on the list plus never carved */
    uint16_t carved;    /* objects [0, carved) were handed out at least once */
    uint32_t free_head; /* slab offset of the first listed free object, 0 if none */
    uint32_t next;      /* first page of the next slab on the partial list, NIL at the end */
    uint32_t prev;      /* first page of the previous one, NIL at the head */
    uint32_t page;      /* this slab's first page */
    uint32_t unused;
};
_Static_assert(sizeof(struct slab_hdr) == SLAB_HDR, "slab header is 32 bytes");

/* At the first byte of every large run; the block starts right after it. */
struct large_hdr {
    uint32_t magic;  /* LARGE_MAGIC while live, 0 once freed */
    uint32_t npages; /* pages in the run */
    uint64_t unused;
};
_Static_assert(sizeof(struct large_hdr) == LARGE_HDR, "large header is 16 bytes");

/* Page map entry, one per arena page, in the control block. */
struct slab_page {
    uint32_t kind;   /* enum page_kind */
    uint32_t head;   /* first page of the run (every page of a slab or large run; free: ends) */
    uint32_t npages; /* run length (every page of a slab or large run; free: first and last) */
    uint32_t next;   /* free run, first page: next run on the free-run list, NIL at the end */
    uint32_t prev;   /* free run, first page: previous run, NIL at the head */
};

struct slab {
    unsigned char *base;
    uint64_t size;            /* arena bytes */
    uint64_t state_bytes;     /* control block bytes (state_size) */
    uint32_t npages;          /* arena pages */
    uint32_t cursor;          /* pages [0, cursor) have been carved; never decreases */
    uint32_t free_runs;       /* first page of the first free run, NIL if none */
    uint32_t partial[NCLASS]; /* first page of the first partial slab of each class */
    uint64_t nfree_runs;      /* runs on the free-run list */
    uint64_t free_run_pages;  /* pages in them */
    uint64_t live_blocks;     /* small objects and large runs handed out */
    uint64_t live_bytes;      /* their usable sizes */
    uint64_t free_objs;       /* free objects inside slabs */
    uint64_t free_obj_bytes;  /* their bytes */
    uint64_t slabs_held;      /* slabs in use (not back in the pool) */
    uint64_t slabs_built;     /* slabs ever built, a slab rebuilt on reused pages counting again */
    uint64_t large_runs;      /* large runs in use */
    uint64_t slack;           /* tail bytes of the slabs in use */
    uint64_t mark[(MAX_OBJS + 63) / 64]; /* scratch: one bit per object of one slab */
    struct slab_page page[];             /* npages entries: the page map */
};

static uint32_t class_size(unsigned cls)
{
    return 16u << cls;
}

static uint32_t class_objs(unsigned cls)
{
    return (uint32_t)((SLAB_BYTES - SLAB_HDR) / class_size(cls));
}

static uint32_t class_slack(unsigned cls)
{
    return (uint32_t)(SLAB_BYTES - SLAB_HDR) - class_objs(cls) * class_size(cls);
}

/* The class of a request of 1..SMALL_MAX bytes: the smallest power of two >= size, >= 16. */
static unsigned size_to_class(size_t size)
{
    unsigned cls = 0;
    while (class_size(cls) < size)
        cls++;
    return cls;
}

static unsigned char *page_addr(const struct slab *s, uint32_t pg)
{
    return s->base + ((uint64_t)pg << PAGE_SHIFT);
}

static struct slab_hdr *slab_at(const struct slab *s, uint32_t pg)
{
    return (struct slab_hdr *)page_addr(s, pg);
}

static uint32_t link_get(const unsigned char *obj)
{
    uint32_t v;
    memcpy(&v, obj, sizeof v);
    return v;
}

static void link_set(unsigned char *obj, uint32_t v)
{
    memcpy(obj, &v, sizeof v);
}

/* ------------------------------------------------------------------------------------- */
/* The page pool.                                                                         */

static void run_list_push(struct slab *s, uint32_t first)
{
    s->page[first].prev = NIL;
    s->page[first].next = s->free_runs;
    if (s->free_runs != NIL) s->page[s->free_runs].prev = first;
    s->free_runs = first;
    s->nfree_runs++;
    s->free_run_pages += s->page[first].npages;
}

static void run_list_remove(struct slab *s, uint32_t first)
{
    struct slab_page *e = &s->page[first];
    if (e->prev != NIL)
        s->page[e->prev].next = e->next;
    else
        s->free_runs = e->next;
    if (e->next != NIL) s->page[e->next].prev = e->prev;
    s->nfree_runs--;
    s->free_run_pages -= e->npages;
}

/* Record a free run in the map: only its first and last entries are kept up to date (S1, S2:
 * the neighbours of any run are found through them). */
static void mark_free(struct slab *s, uint32_t first, uint32_t n)
{
    struct slab_page *a = &s->page[first], *z = &s->page[first + n - 1];
    a->kind = z->kind = PG_FREE;
    a->head = z->head = first;
    a->npages = z->npages = n;
}

/* Record a slab or large run: every page names the run (S1), so any object maps to its slab. */
static void mark_used(struct slab *s, uint32_t first, uint32_t n, enum page_kind kind)
{
    for (uint32_t i = first; i < first + n; i++) {
        s->page[i].kind = kind;
        s->page[i].head = first;
        s->page[i].npages = n;
    }
}

/* Take `n` contiguous pages: best fit over the free runs (the shortest run that fits, its
 * front; an exact fit ends the scan), else from the cursor. NIL if neither has room. */
static uint32_t pool_take(struct slab *s, uint32_t n, enum page_kind kind)
{
    uint32_t first = NIL;
    for (uint32_t r = s->free_runs; r != NIL; r = s->page[r].next) {
        uint32_t len = s->page[r].npages;
        if (len >= n && (first == NIL || len < s->page[first].npages)) first = r;
        if (len == n) break;
    }
    if (first != NIL) {
        uint32_t len = s->page[first].npages;
        run_list_remove(s, first);
        if (len > n) {
            mark_free(s, first + n, len - n);
            run_list_push(s, first + n);
        }
    } else if (s->npages - s->cursor >= n) {
        first = s->cursor;
        s->cursor += n;
    } else {
        return NIL;
    }
    mark_used(s, first, n, kind);
    return first;
}

/* Give `n` pages at `first` back, merged with free neighbours (keeps S2). */
static void pool_give(struct slab *s, uint32_t first, uint32_t n)
{
    if (first > 0 && s->page[first - 1].kind == PG_FREE) {
        uint32_t left = s->page[first - 1].head;
        run_list_remove(s, left);
        n += first - left;
        first = left;
    }
    uint32_t right = first + n;
    if (right < s->cursor && s->page[right].kind == PG_FREE) {
        run_list_remove(s, right);
        n += s->page[right].npages;
    }
    mark_free(s, first, n);
    run_list_push(s, first);
}

/* ------------------------------------------------------------------------------------- */
/* Slabs.                                                                                 */

static void partial_push(struct slab *s, struct slab_hdr *h)
{
    h->prev = NIL;
    h->next = s->partial[h->cls];
    if (h->next != NIL) slab_at(s, h->next)->prev = h->page;
    s->partial[h->cls] = h->page;
}

static void partial_remove(struct slab *s, struct slab_hdr *h)
{
    if (h->prev != NIL)
        slab_at(s, h->prev)->next = h->next;
    else
        s->partial[h->cls] = h->next;
    if (h->next != NIL) slab_at(s, h->next)->prev = h->prev;
    h->next = h->prev = NIL;
}

/* Build an empty slab of class `cls` on fresh pool pages and put it on the partial list. */
static struct slab_hdr *slab_build(struct slab *s, unsigned cls)
{
    uint32_t pg = pool_take(s, SLAB_PAGES, PG_SLAB);
    if (pg == NIL) return NULL;
    struct slab_hdr *h = slab_at(s, pg);
    memset(h, 0, sizeof *h);
    h->magic = SLAB_MAGIC;
    h->cls = (uint16_t)cls;
    h->nobj = (uint16_t)class_objs(cls);
    h->nfree = h->nobj;
    h->page = pg;
    partial_push(s, h);
    s->slabs_held++;
    s->slabs_built++;
    s->free_objs += h->nobj;
    s->free_obj_bytes += (uint64_t)h->nobj * class_size(cls);
    s->slack += class_slack(cls);
    return h;
}

/* The last object of `h` was freed: back to the pool (S5). */
static void slab_release(struct slab *s, struct slab_hdr *h)
{
    partial_remove(s, h);
    s->slabs_held--;
    s->free_objs -= h->nobj;
    s->free_obj_bytes -= (uint64_t)h->nobj * class_size(h->cls);
    s->slack -= class_slack(h->cls);
    h->magic = 0; /* a stale pointer into the released pages no longer finds a slab */
    pool_give(s, h->page, SLAB_PAGES);
}

static void *alloc_small(struct slab *s, unsigned cls)
{
    struct slab_hdr *h;
    if (s->partial[cls] != NIL)
        h = slab_at(s, s->partial[cls]);
    else if ((h = slab_build(s, cls)) == NULL)
        return NULL;
    uint32_t size = class_size(cls), off;
    unsigned char *slab = (unsigned char *)h;
    if (h->free_head != 0) {
        off = h->free_head;
        h->free_head = link_get(slab + off);
    } else {
        off = SLAB_HDR + (uint32_t)h->carved * size;
        h->carved++;
    }
    h->nfree--;
    if (h->nfree == 0) partial_remove(s, h); /* full: on no list (S5) */
    s->free_objs--;
    s->free_obj_bytes -= size;
    s->live_blocks++;
    s->live_bytes += size;
    return slab + off;
}

static void *alloc_large(struct slab *s, size_t size)
{
    uint64_t n = (size + LARGE_HDR + PAGE_BYTES - 1) >> PAGE_SHIFT;
    if (n > s->npages) return NULL;
    uint32_t pg = pool_take(s, (uint32_t)n, PG_LARGE);
    if (pg == NIL) return NULL;
    struct large_hdr *l = (struct large_hdr *)page_addr(s, pg);
    l->magic = LARGE_MAGIC;
    l->npages = (uint32_t)n;
    l->unused = 0;
    s->large_runs++;
    s->live_blocks++;
    s->live_bytes += (n << PAGE_SHIFT) - LARGE_HDR;
    return l + 1;
}

/* The slab or large run `ptr` belongs to, as the page map says; NULL if it names none. */
static unsigned char *run_of(const struct slab *s, const void *ptr, uint32_t *first)
{
    const unsigned char *p = ptr;
    if (p < s->base || p >= s->base + s->size) return NULL;
    uint32_t pg = (uint32_t)((uint64_t)(p - s->base) >> PAGE_SHIFT);
    if (pg >= s->cursor) return NULL;
    uint32_t head = s->page[pg].head;
    if (head > pg || s->page[head].kind != s->page[pg].kind) return NULL;
    *first = head;
    return page_addr(s, head);
}

/* ------------------------------------------------------------------------------------- */
/* The vtable.                                                                            */

static size_t slab_state_size(size_t arena_size)
{
    return sizeof(struct slab) + (arena_size >> PAGE_SHIFT) * sizeof(struct slab_page);
}

static int slab_create(void *self, void *arena, size_t arena_size)
{
    struct slab *s = self;
    if (arena_size < SLAB_BYTES || arena_size % PAGE_BYTES != 0) return -1;
    s->base = arena;
    s->size = arena_size;
    s->state_bytes = slab_state_size(arena_size);
    s->npages = (uint32_t)(arena_size >> PAGE_SHIFT);
    s->free_runs = NIL;
    for (unsigned c = 0; c < NCLASS; c++)
        s->partial[c] = NIL;
    return 0;
}

static void *slab_alloc(void *self, size_t size)
{
    struct slab *s = self;
    if (size == 0) size = 1;
    if (size <= SMALL_MAX) return alloc_small(s, size_to_class(size));
    if (size > s->size) return NULL; /* also keeps the page count below from overflowing */
    return alloc_large(s, size);
}

static void slab_free(void *self, void *ptr)
{
    struct slab *s = self;
    uint32_t first;
    unsigned char *run = ptr == NULL ? NULL : run_of(s, ptr, &first);
    if (run == NULL) return;
    unsigned char *p = ptr;
    if (s->page[first].kind == PG_SLAB) {
        struct slab_hdr *h = (struct slab_hdr *)run;
        if (h->magic != SLAB_MAGIC) return;
        uint32_t size = class_size(h->cls), off = (uint32_t)(p - run);
        if (off < SLAB_HDR || (off - SLAB_HDR) % size != 0 || (off - SLAB_HDR) / size >= h->carved)
            return;
        link_set(p, h->free_head);
        h->free_head = off;
        h->nfree++;
        s->free_objs++;
        s->free_obj_bytes += size;
        s->live_blocks--;
        s->live_bytes -= size;
        if (h->nfree == 1) partial_push(s, h); /* was full */
        if (h->nfree == h->nobj) slab_release(s, h);
    } else if (s->page[first].kind == PG_LARGE) {
        struct large_hdr *l = (struct large_hdr *)run;
        if (p != run + LARGE_HDR || l->magic != LARGE_MAGIC) return;
        uint32_t n = l->npages;
        l->magic = 0;
        s->large_runs--;
        s->live_blocks--;
        s->live_bytes -= ((uint64_t)n << PAGE_SHIFT) - LARGE_HDR;
        pool_give(s, first, n);
    }
}

static size_t slab_usable_size(void *self, const void *ptr)
{
    struct slab *s = self;
    uint32_t first;
    unsigned char *run = run_of(s, ptr, &first);
    if (run == NULL) return 0;
    if (s->page[first].kind == PG_SLAB) return class_size(((struct slab_hdr *)run)->cls);
    if (s->page[first].kind == PG_LARGE)
        return ((size_t)((struct large_hdr *)run)->npages << PAGE_SHIFT) - LARGE_HDR;
    return 0;
}

/* Mark the listed free objects of slab `h` in s->mark. Returns the list length, or -1 with
 * the offending slab offset in *bad if an entry is out of bounds, off an object boundary, or
 * repeated (which is also how a cycle shows). */
static int mark_free_objects(struct slab *s, const struct slab_hdr *h, uint32_t *bad)
{
    const unsigned char *slab = (const unsigned char *)h;
    uint32_t size = class_size(h->cls), n = 0;
    memset(s->mark, 0, sizeof s->mark);
    for (uint32_t off = h->free_head; off != 0; off = link_get(slab + off)) {
        if (off < SLAB_HDR || (off - SLAB_HDR) % size != 0 || (off - SLAB_HDR) / size >= h->carved
            || (off - SLAB_HDR) / size >= MAX_OBJS) {
            *bad = off;
            return -1;
        }
        uint32_t i = (off - SLAB_HDR) / size;
        if (s->mark[i / 64] >> (i % 64) & 1) {
            *bad = off;
            return -1;
        }
        s->mark[i / 64] |= (uint64_t)1 << (i % 64);
        n++;
    }
    return (int)n;
}

static int is_marked(const struct slab *s, uint32_t i)
{
    return (int)(s->mark[i / 64] >> (i % 64) & 1);
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)

/* S4, S5 (for one slab), adding its live and free objects to the tallies. */
static int check_slab(struct slab *s, uint32_t pg, uint64_t *live, uint64_t *live_bytes,
                      uint64_t *free_objs, uint64_t *partial_count, char *err, size_t errlen)
{
    const struct slab_hdr *h = slab_at(s, pg);
    if (h->magic != SLAB_MAGIC || h->page != pg || h->cls >= NCLASS || h->nobj != class_objs(h->cls)
        || h->carved > h->nobj || h->nfree > h->nobj)
        FAIL("S4: slab at page %u: bad header", pg);
    uint32_t bad;
    int listed = mark_free_objects(s, h, &bad);
    if (listed < 0)
        FAIL("S4: slab at page %u (class %u): free list entry at offset %u is out of bounds, "
             "off an object boundary or repeated",
             pg, class_size(h->cls), bad);
    if ((uint32_t)listed + h->nobj - h->carved != h->nfree)
        FAIL("S4: slab at page %u: %d listed + %u uncarved free objects, header says %u", pg,
             listed, (unsigned)(h->nobj - h->carved), (unsigned)h->nfree);
    if (h->nfree == h->nobj) FAIL("S5: slab at page %u is empty but was not released", pg);
    if (h->nfree > 0) partial_count[h->cls]++;
    if (h->nfree == 0 && (h->next != NIL || h->prev != NIL || s->partial[h->cls] == pg))
        FAIL("S5: full slab at page %u is linked on a partial list", pg);
    *live += (uint64_t)(h->nobj - h->nfree);
    *live_bytes += (uint64_t)(h->nobj - h->nfree) * class_size(h->cls);
    *free_objs += h->nfree;
    return 0;
}

static int slab_check(void *self, char *err, size_t errlen)
{
    struct slab *s = self;
    uint64_t live = 0, live_bytes = 0, free_objs = 0, free_obj_bytes = 0, slabs = 0, large = 0;
    uint64_t runs = 0, run_pages = 0, slack = 0, partial_count[NCLASS] = { 0 };
    uint32_t pg = 0;
    int prev_free = 0;
    if (s->cursor > s->npages) FAIL("S1: cursor %u beyond %u pages", s->cursor, s->npages);
    while (pg < s->cursor) {
        const struct slab_page *e = &s->page[pg];
        uint32_t n = e->npages;
        if (e->head != pg || n == 0 || n > s->cursor - pg)
            FAIL("S1: page %u does not start a run inside the cursor", pg);
        if (e->kind == PG_FREE) {
            const struct slab_page *z = &s->page[pg + n - 1];
            if (z->kind != PG_FREE || z->head != pg || z->npages != n)
                FAIL("S1: free run at page %u: last page entry disagrees", pg);
            if (prev_free) FAIL("S2: free run at page %u follows another free run", pg);
            runs++;
            run_pages += n;
        } else if (e->kind == PG_SLAB || e->kind == PG_LARGE) {
            if (e->kind == PG_SLAB && n != SLAB_PAGES)
                FAIL("S1: slab at page %u is %u pages, not %u", pg, n, SLAB_PAGES);
            for (uint32_t i = pg; i < pg + n; i++)
                if (s->page[i].kind != e->kind || s->page[i].head != pg)
                    FAIL("S1: page %u of the run at page %u does not name it", i, pg);
            if (e->kind == PG_SLAB) {
                if (check_slab(s, pg, &live, &live_bytes, &free_objs, partial_count, err, errlen))
                    return -1;
                const struct slab_hdr *h = slab_at(s, pg);
                free_obj_bytes += (uint64_t)h->nfree * class_size(h->cls);
                slack += class_slack(h->cls);
                slabs++;
            } else {
                const struct large_hdr *l = (const struct large_hdr *)page_addr(s, pg);
                if (l->magic != LARGE_MAGIC || l->npages != n)
                    FAIL("S6: large run at page %u: bad header", pg);
                live++;
                live_bytes += ((uint64_t)n << PAGE_SHIFT) - LARGE_HDR;
                large++;
            }
        } else {
            FAIL("S1: page %u has kind %u", pg, e->kind);
        }
        prev_free = e->kind == PG_FREE;
        pg += n;
    }
    for (uint32_t i = s->cursor; i < s->npages; i++)
        if (s->page[i].kind != PG_UNTOUCHED) FAIL("S1: page %u beyond the cursor is in use", i);

    /* S3: the free-run list. With every link's back pointer checked, a repeat (a cycle) would
     * need a run whose prev is two different pages, so a bounded walk proves a plain list. */
    uint64_t listed = 0;
    uint32_t prev = NIL;
    for (uint32_t r = s->free_runs; r != NIL; prev = r, r = s->page[r].next) {
        if (r >= s->cursor || s->page[r].kind != PG_FREE || s->page[r].head != r)
            FAIL("S3: free-run list entry %u is not a free run", r);
        if (s->page[r].prev != prev) FAIL("S3: free run at page %u: prev link broken", r);
        if (++listed > runs)
            FAIL("S3: free-run list longer than the %llu free runs", (unsigned long long)runs);
    }
    if (listed != runs)
        FAIL("S3: free-run list has %llu runs, the map %llu", (unsigned long long)listed,
             (unsigned long long)runs);

    /* S5: each partial list holds exactly the partial slabs of its class. */
    for (unsigned c = 0; c < NCLASS; c++) {
        uint64_t k = 0;
        prev = NIL;
        for (uint32_t p = s->partial[c]; p != NIL; prev = p, p = slab_at(s, p)->next) {
            if (p >= s->cursor || s->page[p].kind != PG_SLAB || s->page[p].head != p)
                FAIL("S5: class %u partial list entry %u is not a slab", class_size(c), p);
            const struct slab_hdr *h = slab_at(s, p);
            if (h->cls != c || h->nfree == 0 || h->prev != prev)
                FAIL("S5: class %u partial list: slab at page %u is full, of another class or "
                     "badly linked",
                     class_size(c), p);
            if (++k > partial_count[c])
                FAIL("S5: class %u partial list longer than its %llu partial slabs", class_size(c),
                     (unsigned long long)partial_count[c]);
        }
        if (k != partial_count[c])
            FAIL("S5: class %u: %llu partial slabs, %llu on the list", class_size(c),
                 (unsigned long long)partial_count[c], (unsigned long long)k);
    }

    if (live != s->live_blocks || live_bytes != s->live_bytes || free_objs != s->free_objs
        || free_obj_bytes != s->free_obj_bytes || slabs != s->slabs_held || large != s->large_runs
        || runs != s->nfree_runs || run_pages != s->free_run_pages || slack != s->slack
        || s->slabs_built < s->slabs_held)
        FAIL("S7: walk (%llu live, %llu B, %llu free objects, %llu slabs, %llu large, %llu free "
             "pages) disagrees with the counters",
             (unsigned long long)live, (unsigned long long)live_bytes,
             (unsigned long long)free_objs, (unsigned long long)slabs, (unsigned long long)large,
             (unsigned long long)run_pages);
    return 0;
}

static void slab_stats(void *self, struct lab_stats *out)
{
    struct slab *s = self;
    uint64_t big = s->npages - s->cursor;
    for (uint32_t r = s->free_runs; r != NIL; r = s->page[r].next)
        if (s->page[r].npages > big) big = s->page[r].npages;
    uint64_t largest = big > 0 ? (big << PAGE_SHIFT) - LARGE_HDR : 0;
    for (unsigned c = 0; c < NCLASS && largest == 0; c++)
        if (s->partial[NCLASS - 1 - c] != NIL) largest = class_size(NCLASS - 1 - c);
    *out = (struct lab_stats){
        .live_blocks = s->live_blocks,
        .live_bytes = s->live_bytes,
        .meta_bytes = s->slabs_held * SLAB_HDR + s->large_runs * LARGE_HDR,
        .free_bytes =
                s->free_obj_bytes + ((s->free_run_pages + s->npages - s->cursor) << PAGE_SHIFT),
        .slack_bytes = s->slack,
        /* free objects, free runs, and the untouched tail as one more run */
        .free_blocks = s->free_objs + s->nfree_runs + (s->cursor < s->npages),
        .units_held = s->slabs_held,
        .units_total = s->slabs_built,
        .footprint = (uint64_t)s->cursor << PAGE_SHIFT,
        .state_bytes = s->state_bytes,
        .largest_free = largest,
    };
}

static void paint_slab(struct slab *s, struct lab_paint *p, uint32_t pg)
{
    const struct slab_hdr *h = slab_at(s, pg);
    uint64_t off = (uint64_t)pg << PAGE_SHIFT, size = class_size(h->cls);
    uint32_t bad;
    if (mark_free_objects(s, h, &bad) < 0) memset(s->mark, 0, sizeof s->mark); /* see check() */
    lab_paint_range(p, off, SLAB_HDR, LAB_META);
    off += SLAB_HDR;
    for (uint32_t i = 0; i < h->nobj; i++, off += size) {
        if (i >= h->carved || is_marked(s, i))
            lab_paint_range(p, off, size, LAB_FREE); /* the painter joins adjacent free ranges */
        else
            lab_paint_block(p, off, size);
    }
    lab_paint_range(p, off, class_slack(h->cls), LAB_WASTE);
}

static void slab_snapshot(void *self, struct lab_paint *p)
{
    struct slab *s = self;
    uint32_t pg = 0;
    while (pg < s->cursor) {
        const struct slab_page *e = &s->page[pg];
        uint64_t off = (uint64_t)pg << PAGE_SHIFT, n = e->npages ? e->npages : 1;
        if (e->kind == PG_SLAB) {
            paint_slab(s, p, pg);
        } else if (e->kind == PG_LARGE) {
            lab_paint_range(p, off, LARGE_HDR, LAB_META);
            lab_paint_block(p, off + LARGE_HDR, (n << PAGE_SHIFT) - LARGE_HDR);
        } else {
            lab_paint_range(p, off, n << PAGE_SHIFT, LAB_FREE);
        }
        pg += (uint32_t)n;
    }
    lab_paint_range(p, (uint64_t)s->cursor << PAGE_SHIFT,
                    (uint64_t)(s->npages - s->cursor) << PAGE_SHIFT, LAB_FREE);
}

const struct lab_ops lab_slab = {
    .name = "slab",
    .summary = "8 power-of-two classes in 16 KiB slabs with in-arena headers, large runs of pages",
    .state_size = slab_state_size,
    .create = slab_create,
    .alloc = slab_alloc,
    .free = slab_free,
    .usable_size = slab_usable_size,
    .check = slab_check,
    .stats = slab_stats,
    .snapshot = slab_snapshot,
};
