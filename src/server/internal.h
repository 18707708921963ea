/*
 * server/internal.h: what the server's files share (not part of server.h).
 *
 *   http.c     civetweb: set-up, the routes, assets, the API, uploads, the export
 *   session.c  a page's session: the race (or tick file) thread, controls, seek, cells
 *   sender.c   a page's sender thread: its mailbox, frame encoding, writing
 *   request.c  parsing and checking messages and uploads
 *   metrics.c  a race as JSON;  frame.c  map frames;  ring.c  the tick ring;
 *   mailbox.c  the latest-wins slot and control queue;  tickfile.c  tick files
 *   real.c, real_request.c  the real allocators view (server/real.h)
 *
 * Threads. civetweb's workers run the HTTP handlers and, per WebSocket, its read loop,
 * which calls client_message() for each message and client_close() at the end; a client's
 * sender thread is the only one that writes to its socket; a session's thread runs the race
 * and is the only producer of the client's frames (mailbox slot). Locks, never held while
 * writing to a socket: srv->mu (clients, sessions, uploads, counters), then s->mu (a
 * session's controls and ring), then the mailbox's own.
 */
#ifndef HEAPLAB_SERVER_INTERNAL_H
#define HEAPLAB_SERVER_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "race/race.h"
#include "server/mailbox.h"
#include "server/request.h"
#include "server/ring.h"
#include "server/server.h"
#include "server/tickfile.h"

struct mg_connection;
struct mg_context;

#define SERVER_SCHEMA    "heaplab.serve/1"
#define SERVER_KEY_EVERY 32u /* a keyframe in the ring every this many ticks */
#define SERVER_JSON_MS   50  /* tick frames at most 20 per second per client */
#define SERVER_CELLQ     8   /* cell questions waiting per session */
#define SERVER_NAME_MAX  64  /* an upload's label */

/* An uploaded trace (POST /api/traces), kept in memory; freed when evicted and unused. */
struct upload {
    uint64_t id;
    char name[SERVER_NAME_MAX + 1];
    unsigned char *data;
    size_t len;
    uint64_t events;
    unsigned threads;
    char damage[160];
    int refs; /* under srv->mu: the table's and starting sessions' */
};

/* What the page's `state` frame says, as of one moment. */
struct view_state {
    uint64_t session;
    int paused, ended;
    uint32_t shown, head, first;
    unsigned tps;
    enum overlay_mode overlay;
    /* Not sent: the session's state generation when this view was taken (a new one for
     * each `state` message it queues). A tick's view is taken before its frame is
     * published, so a pause can queue its state in between; the sender then drops the
     * tick's older state (sender.c). */
    uint64_t gen;
};

/* One tick for a sender: the session thread fills it, the mailbox's slot carries it. */
struct frame {
    uint64_t seq;
    uint32_t tick;
    uint32_t nlanes, cells;
    int force;      /* send its tick frame now (the last tick, a seek, a step) */
    int from_ring;  /* shown from the ring: kind maps raw, no overlay */
    int overlay;    /* overlay maps present (enum overlay_mode, 0 = none) */
    unsigned allow; /* the kind-map encodings the page decodes (REQUEST_ENC_*) */
    struct view_state state;
    uint8_t *maps; /* nlanes packed kind maps */
    uint8_t *ov;   /* nlanes * cells overlay bytes */
    char *json;    /* the `tick` frame */
    size_t json_len;
    size_t maps_cap, ov_cap, json_cap;
};

struct session;

struct client {
    struct server *srv;
    struct mg_connection *conn;
    uint64_t id;
    struct mailbox box;
    pthread_t sender;
    int sender_started;
    _Atomic(struct frame *) returned; /* a frame the sender is done with */
    struct frame *spare;              /* producer side: a frame to fill next */
    atomic_int dead;                  /* a write failed: nothing more is written */
    struct session *session;          /* this socket's race; only its worker thread sets it */

    /* Sender thread only. */
    uint64_t cur_session;
    uint32_t sent_lanes, sent_cells;
    uint8_t *sent;    /* per lane, the last kind map sent */
    uint32_t sent_ok; /* bit k: lane k's map was sent (deltas may follow) */
    uint8_t *out;     /* a binary frame being written */
    size_t out_cap;
    char *pending; /* a held-back tick frame and its state (rate limit) */
    size_t pending_len, pending_cap;
    char pending_state[512];
    uint64_t pending_gen; /* pending_state's view_state.gen */
    uint64_t gen_sent;    /* the newest state generation sent: an older state is not */
    double last_json;     /* when the last tick frame went */
    uint64_t bytes_bin;   /* bytes of binary payload written */
    uint64_t frames_bin;
};

struct server {
    struct server_config cfg;
    struct server_limits lim;
    struct mg_context *ctx;
    unsigned port;
    int loopback;
    char *web_root;   /* realpath of --web DIR, or NULL */
    char *trace_root; /* realpath of --trace-dir DIR, or NULL */
    char *command_line;
    cJSON *machine; /* for exported tick files */
    struct tickfile *tf;
    char *tf_text; /* the tick file as read */
    size_t tf_len;
    char tf_name[256];

    pthread_mutex_t mu;
    unsigned nclients, running;
    uint64_t next_id;
    struct session *sessions; /* every session, for the export */
    struct upload **uploads;  /* oldest first */
    unsigned nuploads;
    atomic_int stopping;
};

/* session.c */
struct client *client_open(struct server *srv, struct mg_connection *conn);
/* A text message from the page; 1 to keep the socket, 0 to close it. */
int client_message(struct client *c, int opcode, const char *data, size_t len);
void client_close(struct client *c);
/* Queue an error frame for the page. */
void client_error(struct client *c, enum request_type req, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The session `id` with a reference taken (session_put() gives it back), or NULL. */
struct session *session_get(struct server *srv, uint64_t id);
void session_put(struct session *s);
/* Call `out` with the export of session `s` (a heaplab.ticks/2 file) piece by piece; the
 * suggested file name into name[n]. 0, or -1 when `out` failed. */
int session_export(struct session *s, int (*out)(void *arg, const char *data, size_t len),
                   void *arg, char *name, size_t n);
void upload_put(struct server *srv, struct upload *u); /* drop a reference (under srv->mu) */

/* sender.c */
int sender_start(struct client *c);
void sender_stop(struct client *c);
/* A frame to fill (reused when one is free): NULL out of memory. */
struct frame *frame_get(struct client *c, uint32_t nlanes, uint32_t cells, int overlay,
                        size_t json_len);
/* Give the filled frame to the sender (latest wins). */
void frame_publish(struct client *c, struct frame *f);
void frame_free(struct frame *f);
/* The `state` frame's text for `v` into buf[n]; its length. */
size_t view_state_json(const struct view_state *v, char *buf, size_t n);
double server_now(void);

/* request.c: an upload checked and compiled once (the trace reader's checks). */
struct upload_info {
    uint64_t events; /* events read */
    uint64_t ops;    /* ops of the compiled stream */
    unsigned threads;
    char damage[160]; /* trace_damage_format's line, "" when whole */
};
int request_upload(const void *data, size_t len, const char *name, struct upload_info *info,
                   struct diag *d);

#endif
