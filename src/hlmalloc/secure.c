/*
 * hlmalloc/secure.c: the checks of the secure build (HL_SECURE=1); compiled into every
 * build, called only from `if (HL_SECURE)` hooks in alloc.c (so in the default build it is
 * dead code the linker keeps but nothing reaches).
 *
 * Layout of a block handed out for n requested bytes (bs: the block's size):
 *
 *   [front canary, 64 B]  [ n bytes the caller asked for | pad 0xcb.. | trailer, 8 B ]
 *    large/huge only       ^ p                                         ^ p + bs - 8
 *
 *   trailer = n (bits 0-39) | tag(p, n, secret) (bits 40-55) | 0xcb (bits 56-63)
 *
 * The trailer's top byte, the one next to the following block (what an underflow of it
 * hits first), is the pad byte, not part of the tag: a random tag byte let a one-byte
 * underflow through once in 256 runs.
 *
 * malloc asks the allocator for n + 8 bytes (n + 8 + 64 from large blocks up). A large or
 * huge block is then moved to the end of its span, so that it ends where its guard page
 * (page.c, huge.c) starts: the front canary sits in the bytes it leaves before the block.
 * A small or medium block's front is the trailer of the block before it.
 *
 * Checked on free (and realloc, malloc_usable_size): the trailer's tag and size, the pad,
 * the front canary; for small and medium blocks also the block before (its trailer and pad
 * when live, the end of its poison when free), while only one thread has a heap (another
 * thread could be rewriting that neighbour as we read it). Freed small and medium blocks
 * are poisoned and held in a FIFO before they go onto a free list (hold, below); the
 * poison is checked when they leave it, at exit, and when they are handed out again
 * (page.c page_pop, with the encoded free-list link).
 * Freed large and huge blocks go into a quarantine: PROT_NONE (a write or read faults),
 * decommitted beyond HL_QUARANTINE_RESIDENT bytes, their descriptor marked (a second
 * free is named a double free), and really freed only when HL_QUARANTINE_BLOCKS newer
 * ones have come or they hold more than HL_QUARANTINE_SPAN of address space.
 *
 * A failed check writes one line, `hlmalloc: <misuse>: <pointer>: <block and requested
 * size>, caught by <check>`, and aborts. So does a fault on a guard page or a quarantined
 * block: the secure build handles SIGSEGV when the program has not (a fault anywhere
 * else gets the default action, as without the handler).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hlmalloc/internal.h"

#define TRAILER              8
#define FRONT                64
#define PAD                  0xcb /* differs from the 0xdf poison of free blocks */
#define SIZE_BITS            40
#define TOP                  ((uint64_t)PAD << 56)
#define HL_QUARANTINE_BLOCKS 64
#define HL_QUARANTINE_SPAN   ((size_t)1 << 30) /* address space, mostly decommitted */
/* Quarantined bytes kept resident (protected, not decommitted): what a program reuses
 * soon then costs no page faults (decommitting every one made heaplab's `large` workload
 * 9x slower than the secure build before the quarantine, `random-stress` 4x). */
#define HL_QUARANTINE_RESIDENT ((size_t)16 << 20)

/* ---- reports ------------------------------------------------------------------------ */

static __attribute__((noreturn)) void fail(const char *misuse, const void *p, size_t block,
                                           long long requested, const char *check)
{
    char buf[320];
    if (requested >= 0)
        snprintf(buf, sizeof(buf),
                 "hlmalloc: %s: %p: block of %zu bytes, %lld requested, caught by %s\n", misuse, p,
                 block, requested, check);
    else
        snprintf(buf, sizeof(buf), "hlmalloc: %s: %p: block of %zu bytes, caught by %s\n", misuse,
                 p, block, check);
    hl_out(buf);
    abort();
}

void hl_secure_fail(const char *misuse, const void *p, size_t block, const char *check)
{
    fail(misuse, p, block, -1, check);
}

/* ---- trailer and canaries ----------------------------------------------------------- */

static uint64_t tag(const void *p, uint64_t n)
{
    uint64_t x = ((uintptr_t)p ^ hl_cookie) + n * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 32;
    return (x >> 48) << SIZE_BITS; /* 16 bits, in place */
}

/* Are the len bytes at a all `byte`? Eight at a time (byte by byte cost the secure build a
 * third of its malloc+free instructions). */
static bool intact(const uint8_t *a, size_t len, uint8_t byte)
{
    uint64_t word = 0x0101010101010101ULL * byte, diff = 0, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, a + i, 8);
        diff |= w ^ word;
    }
    for (; i < len; i++)
        diff |= (uint64_t)(a[i] ^ byte);
    return diff == 0;
}

/* Where a block's canaries are: its size and whether it has a front canary. */
struct geometry {
    size_t size;
    bool front;
};

/* The geometry of the block starting at p, a block hlmalloc handed out. */
static struct geometry geometry_of(const void *p)
{
    struct geometry g = { 0, false };
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) == HL_TID_HUGE) {
        g.size = s->huge_usable;
        g.front = (uintptr_t)p >= (uintptr_t)s + HL_SLICE_SIZE + FRONT;
        return g;
    }
    struct hl_page *pg = hl_page_of(s, p);
    g.size = pg->block_size;
    if (pg->kind == HL_PAGE_LARGE) {
        uintptr_t span = (uintptr_t)s + ((uintptr_t)(pg - s->pages) << HL_SLICE_SHIFT);
        g.front = (uintptr_t)p >= span + FRONT;
    }
    return g;
}

/* Writes the pad, trailer and front canary of a block of n requested bytes. */
static void arm(void *p, size_t n, struct geometry g)
{
    uint8_t *b = p;
    uint64_t t = (uint64_t)n | tag(p, n) | TOP;
    memset(b + n, PAD, g.size - TRAILER - n);
    memcpy(b + g.size - TRAILER, &t, TRAILER);
    if (g.front) memset(b - FRONT, PAD, FRONT);
}

/* The requested size recorded in a live block's trailer, or -1 if the trailer is broken. */
static long long trailer_size(const void *p, size_t block)
{
    uint64_t t;
    memcpy(&t, (const uint8_t *)p + block - TRAILER, TRAILER);
    uint64_t n = t & (((uint64_t)1 << SIZE_BITS) - 1);
    if (n > block - TRAILER || (t & ~(((uint64_t)1 << SIZE_BITS) - 1)) != (tag(p, n) | TOP))
        return -1;
    return (long long)n;
}

/* Checks a live block's trailer, pad and front canary; returns its requested size. */
static size_t check_live(const void *p, struct geometry g, const char *misuse, const char *when)
{
    char check[96];
    const uint8_t *b = p;
    long long n = trailer_size(p, g.size);
    if (n < 0) {
        /* the trailer is also what an underflow of the next block hits first */
        snprintf(check, sizeof(check), "the trailer after the requested end, on %s", when);
        fail(strcmp(misuse, "heap overflow") ? misuse
                                             : "heap overflow (or underflow of the next block)",
             p, g.size, -1, check);
    }
    if (!intact(b + n, g.size - TRAILER - (size_t)n, PAD)) {
        snprintf(check, sizeof(check), "the canary at the requested end, on %s", when);
        fail(misuse, p, g.size, n, check);
    }
    if (g.front && !intact(b - FRONT, FRONT, PAD)) {
        snprintf(check, sizeof(check), "the canary before the block, on %s", when);
        fail("heap underflow", p, g.size, n, check);
    }
    return (size_t)n;
}

/* Is p the start of a block of page pg that was handed out at some time? */
static bool block_start(const struct hl_page *pg, const void *p)
{
    uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)pg->start);
    return pg->kind != HL_PAGE_NONE && (uintptr_t)p >= (uintptr_t)pg->start
           && off < __atomic_load_n(&pg->limit, __ATOMIC_RELAXED) && hl_is_block_offset(pg, off);
}

static bool is_free_block(const void *p)
{
    return ((const struct hl_block *)p)->cookie == ((uintptr_t)p ^ hl_cookie);
}

/* The block before p on its page: its end is p's front canary. */
static void check_previous(const struct hl_page *pg, const uint8_t *p)
{
    if (p == pg->start || atomic_load_explicit(&hl_count.threads, memory_order_relaxed) > 1) return;
    const uint8_t *q = p - pg->block_size;
    if (is_free_block(q)) {
        /* its poison covers all but the link and cookie (which the test above read) */
        if (pg->block_size >= sizeof(struct hl_block) + TRAILER
            && !intact(p - TRAILER, TRAILER, 0xdf))
            fail("heap underflow (or write to freed memory before it)", p, pg->block_size, -1,
                 "the poison of the free block before it, on free");
        return;
    }
    struct geometry g = { pg->block_size, false };
    check_live(q, g, "heap overflow into the next block", "free of the next block");
}

/* ---- quarantine of large and huge blocks -------------------------------------------- */

struct quarantined {
    struct hl_segment *s;
    void *p;     /* the block */
    uint8_t *lo; /* protected span: the front canary's page to the guard page */
    size_t bytes;
    bool resident; /* not decommitted: counts in q_resident */
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct quarantined q_ring[HL_QUARANTINE_BLOCKS];
static unsigned q_head, q_n;
static size_t q_bytes, q_resident;

/* Really frees a block that leaves the quarantine. */
static void release(struct quarantined e)
{
    hl_os_protect(e.lo, e.bytes, 0);
    if (atomic_load_explicit(&e.s->thread_id, memory_order_acquire) == HL_TID_HUGE) {
        e.s->pages[HL_FIRST_SLICE].quarantined = 0;
        hl_huge_free(e.s);
        return;
    }
    struct hl_page *pg = hl_page_of(e.s, e.p);
    pg->quarantined = 0;
    hl_free_generic(e.s, pg, e.p);
}

static void quarantine(struct hl_segment *s, struct hl_page *pg, void *p, size_t block)
{
    uint8_t *lo = (uint8_t *)((uintptr_t)p & ~(uintptr_t)4095);
    size_t bytes = (size_t)((uint8_t *)p + block - lo);
    pg->quarantined = 1;
    /* Protected before it is in the ring, from which another thread may release it.
     * Whether to keep it resident is decided on a relaxed read: a race may let the
     * resident bytes pass the limit by a block or two. */
    bool resident =
            __atomic_load_n(&q_resident, __ATOMIC_RELAXED) + bytes <= HL_QUARANTINE_RESIDENT;
    if (!resident) hl_os_purge(lo, bytes);
    hl_os_protect(lo, bytes, 1);
    struct quarantined out[HL_QUARANTINE_BLOCKS];
    unsigned n_out = 0;
    pthread_mutex_lock(&q_lock);
    size_t res = q_resident;
    while (q_n > 0 && (q_n == HL_QUARANTINE_BLOCKS || q_bytes + bytes > HL_QUARANTINE_SPAN)) {
        struct quarantined *e = &q_ring[q_head];
        out[n_out++] = *e;
        q_bytes -= e->bytes;
        res -= e->resident ? e->bytes : 0;
        q_head = (q_head + 1) % HL_QUARANTINE_BLOCKS;
        q_n--;
    }
    q_ring[(q_head + q_n) % HL_QUARANTINE_BLOCKS] =
            (struct quarantined){ s, p, lo, bytes, resident };
    q_n++;
    q_bytes += bytes;
    __atomic_store_n(&q_resident, res + (resident ? bytes : 0), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&q_lock);
    for (unsigned i = 0; i < n_out; i++)
        release(out[i]);
}

/* ---- delayed reuse of small and medium blocks -------------------------------------- */

/*
 * A freed small or medium block is poisoned whole (link and all), marked free (its cookie)
 * and held in a FIFO of HL_HOLD_BLOCKS blocks (at most HL_HOLD_BYTES) before it goes onto
 * its page's free list. While held, a second free is caught by the cookie even if the
 * program has allocated the size again (LIFO reuse would have handed the same block out);
 * when it leaves, and at exit, a write to it is caught by the poison.
 */
#define HL_HOLD_BLOCKS 256
#define HL_HOLD_BYTES  ((size_t)4 << 20)
#define POISON         0xdf

static void *h_ring[HL_HOLD_BLOCKS];
static uint32_t h_size[HL_HOLD_BLOCKS];
static unsigned h_head, h_n;
static size_t h_bytes;

/* A held block must be as hold() left it. */
static void check_held(void *p, size_t size, const char *when)
{
    const struct hl_block *b = p;
    uint64_t link;
    memcpy(&link, &b->next, sizeof(link));
    if (!is_free_block(p) || link != 0xdfdfdfdfdfdfdfdfULL
        || !intact((const uint8_t *)p + sizeof(*b), size - sizeof(*b), POISON))
        fail("write to freed memory", p, size, -1, when);
}

static void release_held(void *p, size_t size)
{
    check_held(p, size, "the poison of a held free block, on its release");
    ((struct hl_block *)p)->cookie = 0; /* not a double free: the free it waited for */
    hl_free_generic(hl_segment_of(p), NULL, p);
}

static void hold(const struct hl_page *pg, void *p)
{
    size_t size = pg->block_size;
    memset(p, POISON, size);
    ((struct hl_block *)p)->cookie = (uintptr_t)p ^ hl_cookie;
    void *out[HL_HOLD_BLOCKS];
    uint32_t out_size[HL_HOLD_BLOCKS];
    unsigned n_out = 0;
    pthread_mutex_lock(&q_lock);
    while (h_n > 0 && (h_n == HL_HOLD_BLOCKS || h_bytes + size > HL_HOLD_BYTES)) {
        out[n_out] = h_ring[h_head];
        out_size[n_out++] = h_size[h_head];
        h_bytes -= h_size[h_head];
        h_head = (h_head + 1) % HL_HOLD_BLOCKS;
        h_n--;
    }
    unsigned at = (h_head + h_n) % HL_HOLD_BLOCKS;
    h_ring[at] = p;
    h_size[at] = (uint32_t)size;
    h_n++;
    h_bytes += size;
    pthread_mutex_unlock(&q_lock);
    for (unsigned i = 0; i < n_out; i++)
        release_held(out[i], out_size[i]);
}

/* At exit: the blocks still held must be untouched. */
__attribute__((destructor)) static void check_held_at_exit(void)
{
    if (!HL_SECURE) return;
    pthread_mutex_lock(&q_lock);
    for (unsigned i = 0; i < h_n; i++) {
        unsigned at = (h_head + i) % HL_HOLD_BLOCKS;
        check_held(h_ring[at], h_size[at], "the poison of a held free block, at exit");
    }
    pthread_mutex_unlock(&q_lock);
}

/* ---- the hooks ---------------------------------------------------------------------- */

/* The block at p moved to the end of its span, its page descriptor updated. */
static void *span_tail(void *p, size_t inner)
{
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) == HL_TID_HUGE) {
        struct hl_page *pg = &s->pages[HL_FIRST_SLICE];
        uint8_t *hi = pg->start + s->huge_usable;
        pg->start = (uint8_t *)((uintptr_t)(hi - inner) & ~(uintptr_t)(HL_ALIGN - 1));
        s->huge_usable = (size_t)(hi - pg->start);
        return pg->start;
    }
    struct hl_page *pg = hl_page_of(s, p);
    uint8_t *hi = pg->start + pg->block_size;
    pg->start = (uint8_t *)((uintptr_t)(hi - inner) & ~(uintptr_t)(HL_ALIGN - 1));
    pg->block_size = (uint32_t)(hi - pg->start);
    hl_page_set_divisor(pg, pg->block_size);
    __atomic_store_n(&pg->limit, pg->block_size, __ATOMIC_RELAXED);
    pg->fast_count = pg->flags ? 0 : 1;
    return pg->start;
}

/* Moves a fresh large or huge block to the end of its span (its guard page follows it).
 * The allocator cleared the free-block cookie at the old start; the new start may hold a
 * stale one from an earlier block of the same size freed there, which the free after the
 * quarantine would take for a double free: cleared too. */
static void *to_tail(void *p, size_t inner)
{
    void *q = span_tail(p, inner);
    ((struct hl_block *)q)->cookie = 0;
    return q;
}

void *hl_secure_malloc(size_t n)
{
    size_t inner, ask;
    if (__builtin_add_overflow(n, TRAILER, &inner) || inner > SIZE_MAX - FRONT - HL_SLICE_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    ask = inner <= HL_MEDIUM_MAX ? inner : inner + FRONT;
    void *p = hl_malloc_generic(hl_tls_heap, ask);
    if (!p) return NULL;
    if (ask > HL_MEDIUM_MAX) p = to_tail(p, inner);
    arm(p, n, geometry_of(p));
    return p;
}

void *hl_secure_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = hl_secure_malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void *hl_secure_aligned(size_t align, size_t n)
{
    if (n > SIZE_MAX - TRAILER) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = hl_aligned_block(align, n + TRAILER);
    if (p) arm(p, n, geometry_of(p));
    return p;
}

/* The live block at p: its geometry, or false if p is not one (the normal path reports
 * that). A block that is free or quarantined aborts as a double free. */
static bool live_block(void *p, struct geometry *g, const char *op)
{
    char check[64];
    struct hl_segment *s = hl_segment_of(p);
    if (!s) return false;
    const struct hl_page *pg;
    if (atomic_load_explicit(&s->thread_id, memory_order_acquire) == HL_TID_HUGE) {
        pg = &s->pages[HL_FIRST_SLICE];
        if (p != pg->start) return false;
    } else {
        pg = hl_page_of(s, p);
        if (!block_start(pg, p)) return false;
    }
    *g = geometry_of(p);
    if (pg->quarantined || (pg->kind == HL_PAGE_HUGE && pg->used != 1)) {
        snprintf(check, sizeof(check), "the quarantine of freed blocks, on %s", op);
        fail("double free", p, g->size, -1, check);
    }
    if (pg->kind != HL_PAGE_LARGE && pg->kind != HL_PAGE_HUGE && is_free_block(p)) {
        snprintf(check, sizeof(check), "the free-block cookie, on %s", op);
        fail("double free", p, g->size, -1, check);
    }
    return true;
}

/* free(p) of a p that is not a block start: says where p points, and aborts. */
static __attribute__((noreturn)) void invalid_free(const void *p)
{
    char buf[256];
    struct hl_segment *s = hl_segment_of(p);
    const struct hl_page *pg = NULL;
    if (s && atomic_load_explicit(&s->thread_id, memory_order_acquire) == HL_TID_HUGE)
        pg = &s->pages[HL_FIRST_SLICE];
    else if (s)
        pg = hl_page_of(s, p);
    atomic_fetch_add_explicit(&hl_count.invalid_frees, 1, memory_order_relaxed);
    if (!pg || pg->kind == HL_PAGE_NONE || (uintptr_t)p < (uintptr_t)pg->start) {
        snprintf(buf, sizeof(buf),
                 "hlmalloc: invalid free: %p: not in any block hlmalloc handed out, caught by "
                 "the segment map\n",
                 p);
    } else {
        size_t size = pg->kind == HL_PAGE_HUGE ? s->huge_usable : pg->block_size;
        size_t off = (size_t)((uintptr_t)p - (uintptr_t)pg->start);
        snprintf(buf, sizeof(buf),
                 "hlmalloc: invalid free: %p: %zu bytes into a block of %zu bytes at %p, "
                 "caught by the block-start check\n",
                 p, off % size, size, (const void *)(pg->start + off / size * size));
    }
    hl_out(buf);
    abort();
}

bool hl_secure_free(void *p)
{
    struct geometry g;
    if (!p) return false;
    if (!live_block(p, &g, "free")) invalid_free(p);
    check_live(p, g, "heap overflow", "free");
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_acquire) == HL_TID_HUGE) {
        quarantine(s, &s->pages[HL_FIRST_SLICE], p, g.size);
        return true;
    }
    struct hl_page *pg = hl_page_of(s, p);
    if (pg->kind == HL_PAGE_LARGE) {
        quarantine(s, pg, p, g.size);
        return true;
    }
    check_previous(pg, p);
    hold(pg, p);
    return true;
}

size_t hl_secure_usable(const void *p)
{
    struct geometry g;
    if (!live_block((void *)p, &g, "malloc_usable_size")) return 0;
    return check_live(p, g, "heap overflow", "malloc_usable_size");
}

/* Can a realloc to n bytes keep the small or medium block at p, as the default build does
 * (it fits with its trailer and wastes at most half the block)? Large and huge blocks
 * move: they end against their guard page, so their start depends on their size. Moving
 * every block made growing a string byte by byte quadratic (heaplab's realloc-grow ran
 * 189x slower than the default build). */
static bool in_place(const void *p, struct geometry g, size_t n)
{
    struct hl_segment *s = hl_segment_of(p);
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) == HL_TID_HUGE) return false;
    if (hl_page_of(s, p)->kind == HL_PAGE_LARGE || n > g.size - TRAILER) return false;
    return (n + TRAILER) * 2 >= g.size;
}

void *hl_secure_realloc(void *p, size_t n)
{
    struct geometry g;
    if (!live_block(p, &g, "realloc")) {
        hl_invalid_free(p, "realloc of a pointer hlmalloc did not hand out");
        errno = EINVAL;
        return NULL;
    }
    size_t old = check_live(p, g, "heap overflow", "realloc");
    if (in_place(p, g, n)) {
        arm(p, n, g); /* the new requested end: pad and trailer rewritten */
        return p;
    }
    void *q = hl_secure_malloc(n);
    if (!q) return NULL; /* p stays valid */
    memcpy(q, p, old < n ? old : n);
    hli_free(p);
    return q;
}

/* ---- faults on guard pages and quarantined blocks ----------------------------------- */

static struct sigaction old_segv;

/* What a fault at address a is, if it is one of ours: the misuse, the block, its size. */
static const char *fault_misuse(uintptr_t a, const void **block, size_t *size)
{
    struct hl_segment *s = hl_segment_of((const void *)a);
    if (!s) return NULL;
    const struct hl_page *pg;
    if (atomic_load_explicit(&s->thread_id, memory_order_relaxed) == HL_TID_HUGE) {
        pg = &s->pages[HL_FIRST_SLICE];
        *size = s->huge_usable;
    } else {
        pg = hl_page_of(s, (const void *)a);
        if (pg->kind == HL_PAGE_NONE) return NULL;
        *size = pg->block_size;
        if (pg->kind != HL_PAGE_LARGE) {
            /* past the last block of a small or medium page: its guard page */
            size_t last = pg->reserved ? pg->reserved - 1 : 0;
            *block = pg->start + last * pg->block_size;
            return a >= (uintptr_t)pg->start + (size_t)pg->reserved * pg->block_size
                           ? "heap overflow"
                           : NULL;
        }
    }
    *block = pg->start;
    if (pg->quarantined) return "use of freed memory";
    if (a >= (uintptr_t)pg->start + *size) return "heap overflow";
    return NULL;
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    const void *block = NULL;
    size_t size = 0;
    const char *misuse = fault_misuse((uintptr_t)si->si_addr, &block, &size);
    if (misuse) {
        char check[64];
        snprintf(check, sizeof(check), "%s at %p", "a fault on a protected page", si->si_addr);
        fail(misuse, block, size, -1, check);
    }
    /* Not ours: what would have happened without this handler. */
    sigaction(SIGSEGV, &old_segv, NULL);
    (void)sig;
    (void)ctx;
}

/* The quarantine lock across fork: taken before, released after in both processes. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&q_lock);
}

static void fork_done(void)
{
    pthread_mutex_unlock(&q_lock);
}

__attribute__((constructor(102))) static void secure_init(void)
{
    if (!HL_SECURE) return;
    pthread_atfork(fork_prepare, fork_done, fork_done);
    struct sigaction sa;
    if (sigaction(SIGSEGV, NULL, &old_segv) != 0 || old_segv.sa_handler != SIG_DFL) return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}
