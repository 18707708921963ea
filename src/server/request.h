/*
 * server/request.h: what a page asks over its WebSocket (docs/serve.md, "Client ->
 * server"), parsed and checked before anything acts on it. Pure: no server state, so it is
 * fuzzed alone (tests/fuzz/fuzz_serve.c). What needs the server (does the trace exist, is
 * the lane or cell inside this race) is checked by the session.
 */
#ifndef HEAPLAB_SERVER_REQUEST_H
#define HEAPLAB_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "race/race.h"

struct server_limits;
struct workload;
struct lab_ops;

enum request_type {
    REQ_NONE = 0, /* unknown: the message had no valid type */
    REQ_START,
    REQ_PAUSE,
    REQ_RESUME,
    REQ_STEP,
    REQ_SPEED,
    REQ_SEEK,
    REQ_OVERLAY,
    REQ_CELL,
};

enum overlay_mode { OVERLAY_KIND = 0, OVERLAY_CLASS = 1, OVERLAY_AGE = 2 };

#define REQUEST_TRACE_MAX 128 /* "upload:ID" or a file name, with its NUL */
#define REQUEST_SEED_MAX  ((UINT64_C(1) << 53) - 1)
#define REQUEST_TPS_AUTO  30u /* tps of a start that names none */

/* The kind-map encodings a page decodes besides raw (bits 1 << enum frame_encoding). */
#define REQUEST_ENC_DELTA   (1u << 1)
#define REQUEST_ENC_FILL    (1u << 3)
#define REQUEST_ENC_DEFAULT REQUEST_ENC_DELTA

struct request_start {
    const struct workload *workload; /* or NULL for a trace */
    char trace[REQUEST_TRACE_MAX];   /* "upload:ID" or a file name; "" for a workload */
    uint64_t seed;                   /* 1 when omitted */
    uint64_t ops;                    /* 0: the workload's default (at most RACE_OPS_CAP) */
    uint64_t arena;                  /* 0: auto */
    const struct lab_ops *lanes[RACE_MAX_LANES];
    size_t nlanes;       /* the default set when omitted */
    uint64_t tick_every; /* 0: auto */
    unsigned tps;        /* REQUEST_TPS_AUTO when omitted; 0 = as fast as possible */
    unsigned encodings;  /* REQUEST_ENC_* bits; REQUEST_ENC_DEFAULT when omitted */
};

struct request {
    enum request_type type;
    struct request_start start;
    unsigned tps;              /* speed */
    uint32_t tick;             /* seek; cell, when has_tick */
    int has_tick;              /* cell: the message names a tick */
    enum overlay_mode overlay; /* overlay */
    uint32_t lane, cell;       /* cell */
};

/*
 * Parse one message (`len` bytes of text, not necessarily NUL-terminated) into *out.
 * 0, or -1 with one line in err[errlen]; out->type is then the message's type when it was
 * readable (for the error frame's `request`), else REQ_NONE. With `ticks_only` (a tick file
 * is served) a start's fields but tps and encodings are ignored, and it needs no workload.
 */
int request_parse(const char *text, size_t len, const struct server_limits *lim, int ticks_only,
                  struct request *out, char *err, size_t errlen);

/* "start", "pause", ... ("" for REQ_NONE). */
const char *request_type_name(enum request_type t);
const char *overlay_name(enum overlay_mode m);

/* Is `name` a file name the server may open in --trace-dir: [A-Za-z0-9._-]+, not starting
 * with '.', shorter than REQUEST_TRACE_MAX? */
int request_trace_name_ok(const char *name);

#endif
