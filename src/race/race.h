/*
 * race/race.h: racing lab allocators in lockstep over one operation stream.
 *
 * The stream (from the same generators as `heaplab bench`) is flattened into one global
 * order: a single-threaded stream as it is, a multi-threaded one by merging the threads'
 * sequences under the ops' seq numbers (the order the generator emitted them, which is one
 * valid schedule). Each op then goes to every lane (allocator) before the next op, the first
 * lane rotating so that none always runs on a cache the previous lane warmed.
 *
 * Per lane the engine keeps the object table (pointer and requested size by object id), the
 * live requested (L) and usable (U) bytes after every op, the per-call latency of each vtable
 * call (fenced rdtsc, the timer's own median cost subtracted, in ns, log-linear histogram),
 * failures, and at each snapshot the painted cell map with its fragmentation score.
 *
 * What the lab allocators do not have is emulated the same way for all of them:
 *   realloc      in place when the new size fits the usable size, else alloc + copy + free
 *                (a failed alloc keeps the old block and counts a failure)
 *   calloc       alloc + memset
 *   alignment    requests above 16 B alignment over-allocate size + align - 16 and round up;
 *                the padding shows as waste
 * and the latency of an emulated op is the sum of its vtable calls (the copy is excluded).
 * Arenas up to RACE_PREFAULT_MAX are faulted in before the race, so latencies measure the
 * strategy rather than first-touch page faults.
 */
#ifndef HEAPLAB_RACE_RACE_H
#define HEAPLAB_RACE_RACE_H

#include <stddef.h>
#include <stdint.h>

#include "heaplab/lab.h"
#include "util/clock.h"
#include "util/hist.h"

struct diag;
struct opstream;
struct op;
struct workload;

#define RACE_MAX_LANES    16
#define RACE_OPS_CAP      200000u /* a workload's default ops, at most this (race_build) */
#define RACE_PREFAULT_MAX ((size_t)256 << 20) /* arenas up to this are faulted in up front */

struct race_lane {
    struct lab_heap heap;
    const struct lab_ops *ops;
    unsigned char **raw; /* per object: pointer the allocator returned, NULL if not live */
    uint32_t *pad;       /* per object: alignment padding (user pointer = raw + pad) */
    uint64_t *req;       /* per object: requested bytes, 0 if not live */
    uint64_t *born;      /* per object: index of the op that allocated its block */

    uint64_t calls, failures;
    uint64_t live_req, live_usable;           /* L and U now */
    uint64_t peak_req;                        /* max L */
    uint64_t usable_at_peak;                  /* U when L peaked */
    uint64_t peak_waste;                      /* max (U - L) */
    struct hist lat_all, lat_alloc, lat_free; /* ns per call */

    /* Snapshots. */
    uint8_t *cells;         /* lab_cells_for(arena) */
    struct lab_paint paint; /* the last snapshot */
    struct lab_stats stats; /* at the last snapshot */
    double frag_sum, frag_max;
    uint64_t snapshots;

    /* --check: the first invariant failure. */
    int broken;
    uint64_t broken_op;
    char broken_why[256];
};

struct race {
    struct op *order; /* the flattened stream, osmem */
    size_t nops, order_cap;
    uint32_t obj_count;
    size_t arena_size;
    int check_each; /* run check() after every op on every lane */
    struct clock_cal cal;
    struct race_lane lane[RACE_MAX_LANES];
    size_t nlanes;
    struct lab_request *reqbuf; /* scratch for snapshots, obj_count entries */
    uint64_t stream_peak;       /* the stream's own peak live requested bytes */
    size_t at;                  /* the op race_step() is running */
};

/*
 * The stream `heaplab race` races for workload `w`: `ops` operations (0: the workload's
 * default, at most RACE_OPS_CAP), on one thread unless the workload needs more (their ops
 * split between them; race_open() merges them by seq). 0, or -1 with `d` filled.
 */
int race_build(const struct workload *w, uint64_t seed, uint64_t ops, struct opstream *s,
               struct diag *d);

/* The arena for a stream when none is asked for: 2 MiB, or the smallest power of two
 * holding twice its peak live bytes, at most `max`. */
size_t race_auto_arena(const struct opstream *s, size_t max);

/* Flatten `s` and open one lane per allocator over an arena of `arena_size` bytes.
 * 0, or -1 with `d` filled. */
int race_open(struct race *r, const struct opstream *s, const struct lab_ops *const *ops, size_t n,
              size_t arena_size, struct diag *d);

/* Run op `i` of the flattened stream on every lane. */
void race_step(struct race *r, size_t i);

/* Paint every lane's arena and update its fragmentation figures. */
void race_snapshot(struct race *r);

/* The external fragmentation score of a lane averaged over its snapshots. */
double race_lane_frag_avg(const struct race_lane *l);

void race_close(struct race *r);

/* Pack cells (one enum lab_cell per byte) at 2 bits per cell, cell i in bits 2(i%4)..+1 of
 * byte i/4, and base64-encode (RFC 4648, padded) into out (NUL-terminated). Returns the
 * length; `out` needs race_cells_b64_len(n) + 1 bytes. */
size_t race_cells_b64_len(size_t ncells);
size_t race_cells_b64(const uint8_t *cells, size_t ncells, char *out);

#endif
