/*
 * server/real.h: the "real allocators" view of `heaplab serve` (docs/serve.md, "Real
 * allocators"): a workload or trace run once under each preloaded allocator by bench's
 * worker (`heaplab __worker --inside heapmap,stats --stream-fd 3`, then `--inside os-calls`),
 * its heap maps streamed to the page as each worker takes them.
 *
 *   real_request.c  the page's start message, parsed and checked (no server needed)
 *   real.c          the /ws/real WebSocket: a run thread per page, its worker processes
 *
 * Threads. civetweb's worker for the socket calls real_ws_* (messages, close); a page's run
 * thread owns its workers and their pipes; it and civetweb's thread (error replies) write to
 * the socket under the page's own write lock. Closing the page, a stop message or server_stop kills the workers' process
 * groups and reaps them before the thread ends; every worker is also in util/cleanup.h's
 * registry while it lives.
 */
#ifndef HEAPLAB_SERVER_REAL_H
#define HEAPLAB_SERVER_REAL_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

typedef struct cJSON cJSON;
struct diag;
struct mg_connection;
struct server;

#define REAL_OPS_MAX     2000000u /* ops per thread */
#define REAL_THREADS_MAX 8u
#define REAL_SHOTS_MAX   256u /* periodic snapshots: `every` >= thread 0's ops / this */
#define REAL_SHOTS_AUTO  16u  /* periodic snapshots without `every` */
#define REAL_RUNS_MAX    2u   /* real runs going at once, over all pages */
#define REAL_TIMEOUT_S   300u /* a worker is killed after this */
#define REAL_LINE_MAX    ((size_t)32 << 20) /* one streamed snapshot, bytes */
#define REAL_TRACE_MAX   128u

/* A checked start message (real_request.c). */
struct real_request {
    const struct workload *workload; /* or NULL for a trace */
    char trace[REAL_TRACE_MAX];      /* "upload:ID" or a --trace-dir file name, or "" */
    uint64_t seed;
    uint64_t ops; /* per thread; 0 = the workload's default (a trace: all of it) */
    unsigned threads;
    uint64_t every; /* thread 0's ops between snapshots; 0 = REAL_SHOTS_AUTO over them */
    size_t n_allocs;
    char allocs[ALLOC_MAX][ALLOC_NAME_MAX]; /* built-in allocator names, no repeats */
};

enum real_message { REAL_MSG_START, REAL_MSG_STOP };

/*
 * Parse one message of the page: {"type":"start", ...} into `r`, or {"type":"stop"}. The
 * kind, or -1 with `d` naming the field at fault ("ops 0: 1 to 2000000").
 */
int real_request_parse(const char *text, size_t len, struct real_request *r, struct diag *d);

/* The view's part of /api/meta: {allocators: [{name, found, note}], limits}. */
cJSON *real_meta(void);

/* The /ws/real handlers, registered by server_start (http.c). */
void real_register(struct server *srv);

#endif
