/*
 * server/server.h: `heaplab serve`, the live visualizer of the lab race (docs/serve.md).
 *
 * An HTTP server (civetweb) with the viewer, a small JSON API and one WebSocket per page.
 * Each race started from a page runs on a thread of its own (the race engine of race.h),
 * publishes a tick every `tick_every` ops into a ring of recent ticks and to the page's
 * sender: a thread per WebSocket with a latest-frame-wins mailbox, so that a slow or
 * vanished page loses only its own frames and never slows a race. With a tick file the
 * server plays that file instead, read-only.
 *
 * Library code: it never prints or exits; errors come back in a struct diag.
 */
#ifndef HEAPLAB_SERVER_SERVER_H
#define HEAPLAB_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct diag;

/* The documented limits (docs/serve.md, `limits`); server_limits_default() fills them. */
struct server_limits {
    uint64_t ops_max;
    uint64_t arena_min, arena_max;
    uint64_t tick_every_min;
    unsigned sessions_max; /* races running at once */
    unsigned clients_max;  /* WebSockets at once */
    uint64_t upload_bytes;
    unsigned uploads_max;
    uint64_t ring_bytes;   /* per session */
    uint64_t detail_bytes; /* per session: the ring's block lists (overlays, cell answers) */
    unsigned tps_max;
    size_t message_bytes; /* a client message */
    unsigned lanes_max;
};

void server_limits_default(struct server_limits *l);

struct server_config {
    const char *bind;         /* address to listen on, e.g. "127.0.0.1" */
    unsigned port;            /* 0: a free port */
    const char *web_dir;      /* serve the viewer from here; NULL: the embedded copy */
    const char *trace_dir;    /* traces offered to the page; NULL: none */
    const char *ticks_file;   /* play this tick file read-only; NULL: live races */
    const char *command_line; /* heaplab's, for the envelope of exported tick files */
    struct server_limits limits;
};

struct server;

/*
 * Check the configuration (the tick file is read here), start listening and serving.
 * 0 with *out set, or -1 with `d` filled (a port in use, a bad directory, a bad tick file).
 */
int server_start(const struct server_config *cfg, struct server **out, struct diag *d);

/* The port it listens on (the one picked when the configuration said 0). */
unsigned server_port(const struct server *s);

/* Is `addr` (as given to --bind) a loopback address? */
int server_is_loopback(const char *addr);

/* Stop every race, close every socket, stop serving and free everything. */
void server_stop(struct server *s);

#endif
