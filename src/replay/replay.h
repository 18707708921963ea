/*
 * replay/replay.h: recorded malloc traces (trace/trace.h) compiled into operation streams
 * (workload/workload.h), so that every executor runs a trace as it runs a workload:
 * `heaplab bench --trace`, `heaplab replay`, the lab allocators.
 *
 * The events are read in sequence order (the order in which the calls took effect across
 * threads) and turned into ops on dense object ids; addresses are remapped, each recorded
 * thread becomes one stream thread, and a free of a block another thread allocated waits at
 * replay for that allocation (replay.c has the rules). What cannot be replayed as recorded is
 * counted in struct replay_stats.
 */
#ifndef HEAPLAB_REPLAY_REPLAY_H
#define HEAPLAB_REPLAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "trace/trace.h"

struct diag;
struct opstream;

/* What compiling a trace into a stream did not reproduce, and what it counted. */
struct replay_stats {
    uint64_t events;                  /* allocation and free events read */
    uint64_t allocs, frees, reallocs; /* ops emitted */
    uint64_t unknown_frees;    /* frees (or reallocs) of addresses the trace never allocated */
    uint64_t failed;           /* allocations that returned NULL: not replayed */
    uint64_t zero_sizes;       /* size-0 requests, replayed as 1 byte */
    uint64_t clamped_aligns;   /* alignments above 2^26, clamped */
    uint64_t stale_addresses;  /* an address allocated again without a recorded free */
    uint64_t threads;          /* threads in the trace */
    uint64_t folded_threads;   /* threads beyond WL_MAX_THREADS, folded onto others */
    struct trace_status trace; /* the reader's: what a damaged trace lost (truncated, corrupt
                                * chunks; trace_damage_format words it) */
};

/* Compile the trace at `path` into stream `s` (initialized here). 0, or -1 with `d`, which
 * names the file first ("PATH: reason"). */
int replay_stream(const char *path, struct opstream *s, struct replay_stats *st, struct diag *d);

/* The same for a trace held in memory (`len` bytes at `data`, e.g. an upload); `name` stands
 * for the path in `d`. */
int replay_stream_mem(const void *data, size_t len, const char *name, struct opstream *s,
                      struct replay_stats *st, struct diag *d);

/*
 * The threads a trace recorded (for running it at that count) and, when `status` is not
 * NULL, the reader's status (its damage), read before anything runs. 0, or -1 with `d`
 * ("PATH: reason") when the file cannot be read or holds nothing to replay (no allocation
 * that returned a block), so that a caller can fail before starting workers.
 */
int replay_threads(const char *path, unsigned *threads, struct trace_status *status,
                   struct diag *d);

#endif
