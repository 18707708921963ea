/*
 * heaplab/lab.h: the lab's teaching allocators and the one interface they share.
 *
 * A lab allocator manages one arena: an mmap'd region of 2^k bytes (64 KiB to 1 GiB, 2 MiB by
 * default) handed to it at create(). It never calls libc malloc. Its small control block (free
 * list heads, class tables, bitmaps) lives in a separate region the harness maps for it, of
 * `state_size(arena_size)` bytes, so that "everything freed" can mean one free block covering
 * the whole arena; every byte of the arena itself is accounted for by the allocator as one of
 *
 *   live   bytes of live blocks, as the allocator granted them (usable size, >= the request)
 *   meta   headers, footers, boundary tags, slab and span headers inside the arena
 *   free   bytes the allocator could hand out again (free blocks, free objects, untouched tail)
 *   slack  bytes that are none of these: slab tails too short for an object, a buddy block's
 *          rounding beyond what its header says, ... (painted as waste)
 *
 * and the accounting identity  live + meta + free + slack == arena size  holds after every call
 * (check() verifies it against a full walk).
 *
 * The cell map. snapshot() walks the arena in address order and paints it, range by range,
 * through lab_paint_range() and lab_paint_block(); the ranges must be contiguous and cover
 * [0, arena size) exactly. The painter turns them into one cell per LAB_CELL_BYTES of arena
 * (downsampled to LAB_MAX_CELLS cells for arenas above 2 MiB; a cell then takes the kind that
 * covers most of its bytes), and measures the free runs. A live block is painted used for the
 * bytes that were requested and waste for the rest of its usable size; the painter learns the
 * requested sizes from the harness (lab_paint_set_requests()), so allocators store none.
 *
 * Every pointer an allocator returns is 16-byte aligned and lies inside the arena. Exhaustion
 * returns NULL; the harness counts it. The allocators are single-threaded.
 */
#ifndef HEAPLAB_LAB_H
#define HEAPLAB_LAB_H

#include <stddef.h>
#include <stdint.h>

#define LAB_ALIGN         16u
#define LAB_CELL_BYTES    32u
#define LAB_MAX_CELLS     65536u
#define LAB_ARENA_MIN     ((size_t)64 << 10)
#define LAB_ARENA_MAX     ((size_t)1 << 30)
#define LAB_ARENA_DEFAULT ((size_t)2 << 20)

/* What a cell (or a painted range) is. The values are the 2-bit codes of docs/ticks.md. */
enum lab_cell {
    LAB_FREE = 0,  /* free: could be handed out again */
    LAB_USED = 1,  /* requested bytes of a live block */
    LAB_META = 2,  /* allocator metadata inside the arena */
    LAB_WASTE = 3, /* reserved but not requested (rounding, padding), and slack */
};

/* The allocator's own accounting, in arena bytes unless said otherwise. */
struct lab_stats {
    uint64_t live_blocks;  /* blocks allocated and not yet freed */
    uint64_t live_bytes;   /* sum of usable sizes of live blocks */
    uint64_t meta_bytes;   /* metadata inside the arena now */
    uint64_t free_bytes;   /* free now (includes free objects inside slabs/spans) */
    uint64_t slack_bytes;  /* neither live, meta nor free (see above) */
    uint64_t free_blocks;  /* free blocks on the allocator's lists (slab/span: free objects) */
    uint64_t units_held;   /* slab/span: slabs or spans not on the free list; else 0 */
    uint64_t units_total;  /* slab/span: slabs or spans ever carved; else 0 */
    uint64_t footprint;    /* high-water mark: bytes of arena ever touched (bump: cursor) */
    uint64_t state_bytes;  /* the control block outside the arena (state_size) */
    uint64_t largest_free; /* largest request that would succeed now, 0 if unknown */
};

struct lab_paint;

/*
 * The vtable. `self` is the control block the harness mapped (state_size bytes, zeroed).
 * create() returns 0, or -1 if the arena is unusable for this allocator (too small);
 * everything else assumes a successful create(). free(NULL) is a no-op.
 */
struct lab_ops {
    const char *name;    /* registry key, e.g. "firstfit" */
    const char *summary; /* one line for `heaplab list lab` */
    size_t (*state_size)(size_t arena_size);
    int (*create)(void *self, void *arena, size_t arena_size);
    void (*destroy)(void *self); /* may be NULL; the harness unmaps both regions */
    void *(*alloc)(void *self, size_t size);
    void (*free)(void *self, void *ptr);
    size_t (*usable_size)(void *self, const void *ptr);
    /* Walk every structure and verify the invariants; 0, or -1 with a reason in err. */
    int (*check)(void *self, char *err, size_t errlen);
    void (*stats)(void *self, struct lab_stats *out);
    void (*snapshot)(void *self, struct lab_paint *p);
};

/* Registry: every lab allocator (the six, then policy variants such as firstfit-best). */
extern const struct lab_ops *const lab_list[];
extern const size_t lab_count;
/* The six raced by default, comma-separated. */
#define LAB_DEFAULT_SET "bump,firstfit,segfit,buddy,slab,span"
const struct lab_ops *lab_find(const char *name);

/* ------------------------------------------------------------------------------------- */
/* An instance: the ops, the mapped arena and control block.                              */

struct lab_heap {
    const struct lab_ops *ops;
    void *self; /* control block, state_size bytes */
    size_t self_size;
    unsigned char *arena;
    size_t arena_size;
};

/* Map an arena of `arena_size` bytes (a power of two within the limits) and create the
 * allocator over it. 0, or -1 with errno EINVAL (bad size, or too small for it) or ENOMEM. */
int lab_heap_open(struct lab_heap *h, const struct lab_ops *ops, size_t arena_size);
void lab_heap_close(struct lab_heap *h);

/* Is `p` a pointer into the arena? */
static inline int lab_in_arena(const struct lab_heap *h, const void *p)
{
    return (const unsigned char *)p >= h->arena
           && (const unsigned char *)p < h->arena + h->arena_size;
}

/* ------------------------------------------------------------------------------------- */
/* The painter.                                                                          */

/* Requested size of the live block at arena offset `off`, as the harness knows it. */
struct lab_request {
    uint64_t off;       /* offset of the pointer the allocator returned */
    uint64_t requested; /* bytes asked for */
};

struct lab_paint {
    /* Output: cell kinds (one byte each) and the measured byte totals. */
    uint8_t *cells;       /* ncells entries, from the caller */
    uint32_t ncells;      /* cells in the map */
    uint64_t cell_bytes;  /* arena bytes per cell */
    uint64_t bytes[4];    /* bytes painted of each enum lab_cell */
    uint64_t ranges;      /* non-empty ranges painted (each boundary can blur one cell) */
    uint64_t free_runs;   /* maximal runs of contiguous free bytes */
    uint64_t largest_run; /* bytes in the largest free run */
    int error;            /* set if a range broke the contiguity rule; see `why` */
    char why[96];

    /* Internal. */
    uint64_t arena_size;
    uint64_t pos;      /* next byte expected */
    uint64_t run;      /* current free run */
    uint64_t cur_cell; /* cell being accumulated */
    uint64_t acc[4];   /* its bytes of each kind */
    const struct lab_request *req;
    size_t nreq, ireq;
};

/* Cells needed for an arena of `arena_size` bytes. */
uint32_t lab_cells_for(size_t arena_size);

/* Start painting an arena into cells[lab_cells_for(arena_size)]. */
void lab_paint_begin(struct lab_paint *p, uint8_t *cells, size_t arena_size);

/* Live blocks' requested sizes, sorted by `off` (optional: without them, live is all used). */
void lab_paint_set_requests(struct lab_paint *p, const struct lab_request *req, size_t n);

/* Paint [off, off+len) as `kind`. Ranges come in address order, without gaps or overlap. */
void lab_paint_range(struct lab_paint *p, uint64_t off, uint64_t len, enum lab_cell kind);

/* Paint a live block whose pointer is at `off` with `usable` bytes: used up to the requested
 * size, waste after it. */
void lab_paint_block(struct lab_paint *p, uint64_t off, uint64_t usable);

/* Finish: flush the last cell and check the whole arena was covered. 0, or -1 (p->why). */
int lab_paint_end(struct lab_paint *p);

/* External fragmentation score 1 - largest_run / free bytes (0 when nothing is free). */
double lab_paint_frag(const struct lab_paint *p);

#endif
