/*
 * server/session.c: a page (client) and its session: the race it started, run on a thread
 * of its own (or, with --ticks, the tick file played on one), its controls, seeks and cell
 * questions, and its export (internal.h).
 *
 * The session thread is the only one that touches the race and the only producer of the
 * page's frames: every tick it packs the lanes' maps, builds the `tick` frame, pushes both
 * into the ring (under the session's mutex) and puts a frame in the page's mailbox, whose
 * put never waits. The page's worker thread (client_message) only changes the controls
 * under the mutex and wakes the session thread; cell questions are answered by the session
 * thread, between ticks, because only it may read the race.
 */
#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "heaplab/lab.h"
#include "replay/replay.h"
#include "server/blocks.h"
#include "server/frame.h"
#include "server/internal.h"
#include "server/metrics.h"
#include "util/diag.h"
#include "workload/workload.h"

#define TICKS_SCHEMA "heaplab.ticks/2"

struct cell_q {
    uint32_t lane, cell, tick;
};

struct session {
    uint64_t id;
    uint64_t state_gen; /* the generation of its views (view_state.gen), under mu */
    struct server *srv;
    struct client *client;
    struct session *next; /* srv->sessions */
    int refs;             /* under srv->mu: the page's and exports' */
    int counted;          /* under srv->mu: counts in srv->running */
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int stop;

    struct request_start req;
    struct upload *upload; /* the uploaded trace it races, until the race is open */
    char trace_path[4352]; /* the --trace-dir file it races */
    char label[REQUEST_TRACE_MAX + 8];

    /* Under mu. */
    int opened, ended;
    int paused, live; /* live: the shown tick follows the head */
    unsigned steps;   /* steps asked for, not yet done */
    unsigned tps;
    int tps_changed;
    enum overlay_mode overlay;
    int republish; /* show the shown tick again (the overlay changed) */
    int seek_pending;
    uint32_t seek_tick;
    uint32_t shown, head;
    struct cell_q cq[SERVER_CELLQ];
    unsigned ncq;
    struct ring own;
    struct ring *ring; /* own, or the tick file's */
    char *fields_json; /* the header fields, for the export */
    char *end_line;    /* the tick file's end line, once ended */
    uint32_t nlanes, cells;
    uint64_t cell_bytes, ticks_total, tick_every;

    /* The session thread only. */
    struct race *race;
    uint64_t ops_done;
    double busy;     /* seconds spent racing and publishing (not paused, not paced) */
    uint8_t *maps;   /* nlanes packed maps */
    uint8_t *qmaps;  /* nlanes packed maps: a cell answer's tick */
    uint32_t *owner; /* overlay scratch: per cell */
    uint32_t *blk;   /* the head's live blocks (blocks.h), as the ring got them */
    size_t blk_len, blk_cap;
};

/* ------------------------------------------------------------------------------------- */
/* Messages to the page                                                                  */

static void push_text(struct client *c, const char *s, size_t len)
{
    mailbox_push(&c->box, s, len); /* a full queue means a page that stopped reading */
}

static void push_json(struct client *c, cJSON *o)
{
    size_t len;
    char *s = metrics_print(o, &len);
    if (s) push_text(c, s, len);
    free(s);
}

void client_error(struct client *c, enum request_type req, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "message", msg);
    if (req != REQ_NONE) cJSON_AddStringToObject(o, "request", request_type_name(req));
    push_json(c, o);
}

/* The view as it is now (under s->mu). */
static struct view_state view_of(const struct session *s)
{
    struct view_state v = { .session = s->id,
                            .paused = s->paused,
                            .ended = s->ended,
                            .shown = s->shown,
                            .head = s->head,
                            .tps = s->tps,
                            .overlay = s->overlay,
                            .gen = s->state_gen };
    v.first = s->ring && s->ring->n ? ring_first(s->ring) : 0;
    return v;
}

/* State generations, increasing over every session of the process, so that a socket's
 * sender, which keeps the newest it sent, never takes a new session's for an old one's. */
static _Atomic uint64_t state_gens;

static uint64_t next_gen(void)
{
    return atomic_fetch_add(&state_gens, 1) + 1;
}

/* Queue a `state` frame (under s->mu). */
static void push_state(struct session *s)
{
    char buf[512];
    s->state_gen = next_gen();
    struct view_state v = view_of(s);
    size_t n = view_state_json(&v, buf, sizeof buf);
    mailbox_push_gen(&s->client->box, buf, n, v.gen); /* full: a page that stopped reading */
}

/* ------------------------------------------------------------------------------------- */
/* Publishing ticks                                                                      */

/* Lanes' overlay maps into f->ov from a block list (blocks.h) and the kind maps in f. */
static void fill_overlay(struct session *s, struct frame *f, const uint32_t *list, size_t len,
                         uint64_t ops_done)
{
    size_t packed = frame_packed_bytes(s->cells);
    for (uint32_t k = 0; k < s->nlanes; k++) {
        const struct blk *b = NULL;
        uint32_t n = 0;
        if (blocks_lane(list, len, k, &b, &n) != 0) n = 0;
        blocks_overlay(b, n, f->maps + k * packed, s->cells, s->cell_bytes, ops_done,
                       (enum overlay_mode)f->overlay, f->ov + (size_t)k * s->cells, s->owner);
    }
}

/* A frame of the race's present state (tick `tick` at s->ops_done), with the overlay. */
static void send_live(struct session *s, uint32_t tick, const char *json, size_t len,
                      struct view_state v, int force)
{
    size_t packed = frame_packed_bytes(s->cells);
    struct frame *f = frame_get(s->client, s->nlanes, s->cells, v.overlay, len);
    if (f == NULL) return;
    f->tick = tick;
    f->force = force;
    f->state = v;
    f->allow = s->req.encodings;
    memcpy(f->maps, s->maps, (size_t)s->nlanes * packed);
    if (v.overlay) fill_overlay(s, f, s->blk, s->blk_len, s->ops_done);
    memcpy(f->json, json, len);
    f->json_len = len;
    frame_publish(s->client, f);
}

/* Snapshot the race as tick `tick` and publish it (ring, and the page when it is live). */
static void publish_live(struct session *s, uint32_t tick, int force)
{
    struct race *r = s->race;
    size_t packed = frame_packed_bytes(s->cells);
    for (uint32_t k = 0; k < s->nlanes; k++)
        frame_pack(r->lane[k].cells, s->cells, s->maps + k * packed);
    size_t len = 0;
    char *json = metrics_tick(r, tick, s->ops_done, &len);
    if (json == NULL) return;
    s->blk_len = blocks_capture(r, &s->blk, &s->blk_cap); /* 0: no overlay, no blocks */
    pthread_mutex_lock(&s->mu);
    /* Out of memory: not kept (the tick, or its blocks). */
    if (ring_push(s->ring, tick, s->ops_done, s->maps, json, len) == 0 && s->blk_len)
        ring_attach(s->ring, s->blk, s->blk_len);
    s->head = tick;
    int live = s->live;
    if (live) s->shown = tick;
    struct view_state v = view_of(s);
    pthread_mutex_unlock(&s->mu);
    if (live) send_live(s, tick, json, len, v, force);
    free(json);
}

/* Show tick `tick` from the ring (a seek, a step back in time, a tick file). */
static void publish_ring(struct session *s, uint32_t tick, int force, int from_ring)
{
    pthread_mutex_lock(&s->mu);
    const struct ring_entry *e;
    if (ring_get(s->ring, tick, s->maps, &e) != 0) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    struct view_state v = view_of(s);
    const void *list = NULL;
    size_t list_len = 0;
    if (v.overlay && ring_detail(s->ring, tick, &list, &list_len) != 0)
        v.overlay = OVERLAY_KIND; /* its blocks are no longer held: kind maps only */
    struct frame *f = frame_get(s->client, s->nlanes, s->cells, v.overlay, e->json_len);
    if (f) {
        memcpy(f->json, e->json, e->json_len);
        f->json_len = e->json_len;
        f->tick = tick;
        memcpy(f->maps, s->maps, (size_t)s->nlanes * frame_packed_bytes(s->cells));
        if (v.overlay) fill_overlay(s, f, list, list_len, e->op);
    }
    pthread_mutex_unlock(&s->mu);
    if (f == NULL) return;
    f->force = force;
    f->from_ring = from_ring;
    f->state = v;
    f->allow = s->req.encodings;
    frame_publish(s->client, f);
}

/* ------------------------------------------------------------------------------------- */
/* Opening                                                                               */

static void uncount(struct session *s)
{
    pthread_mutex_lock(&s->srv->mu);
    if (s->counted) {
        s->counted = 0;
        s->srv->running--;
    }
    pthread_mutex_unlock(&s->srv->mu);
}

/* The `race` frame and the export's header fields. */
static void announce(struct session *s, cJSON *fields)
{
    char *text = cJSON_PrintUnformatted(fields);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "race");
    const cJSON *it;
    cJSON_ArrayForEach(it, fields)
    {
        cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_AddNumberToObject(o, "session", (double)s->id);
    cJSON_AddNumberToObject(o, "ticks_total", (double)s->ticks_total);
    pthread_mutex_lock(&s->mu);
    cJSON_AddNumberToObject(o, "tps", s->tps);
    s->fields_json = text;
    s->opened = 1;
    pthread_mutex_unlock(&s->mu);
    push_json(s->client, o);
    cJSON_Delete(fields);
}

/* Build the stream, open the race and the ring. 0, or -1 after an error frame. */
static int open_race(struct session *s)
{
    struct server *srv = s->srv;
    struct diag d = { { 0 } };
    struct opstream st;
    struct replay_stats rs;
    int rc;
    if (s->req.workload)
        rc = race_build(s->req.workload, s->req.seed, s->req.ops, &st, &d);
    else if (s->upload)
        rc = replay_stream_mem(s->upload->data, s->upload->len, s->req.trace, &st, &rs, &d);
    else
        rc = replay_stream(s->trace_path, &st, &rs, &d);
    if (s->upload) {
        pthread_mutex_lock(&srv->mu);
        upload_put(srv, s->upload);
        pthread_mutex_unlock(&srv->mu);
        s->upload = NULL;
    }
    if (rc != 0) {
        client_error(s->client, REQ_START, "%s", d.msg);
        return -1;
    }
    size_t arena =
            s->req.arena ? (size_t)s->req.arena : race_auto_arena(&st, (size_t)srv->lim.arena_max);
    s->race = calloc(1, sizeof *s->race);
    rc = s->race ? race_open(s->race, &st, s->req.lanes, s->req.nlanes, arena, &d)
                 : diag_set(&d, "out of memory");
    opstream_destroy(&st);
    if (rc != 0) {
        free(s->race);
        s->race = NULL;
        client_error(s->client, REQ_START, "%s", d.msg);
        return -1;
    }
    struct race *r = s->race;
    uint64_t every = s->req.tick_every ? s->req.tick_every : r->nops / 100;
    if (every < srv->lim.tick_every_min) every = srv->lim.tick_every_min;
    s->nlanes = (uint32_t)r->nlanes;
    s->cells = lab_cells_for(r->arena_size);
    s->cell_bytes = r->arena_size / s->cells;
    s->tick_every = every;
    s->ticks_total = 1 + r->nops / every + (r->nops % every != 0);
    s->maps = malloc((size_t)s->nlanes * frame_packed_bytes(s->cells));
    s->qmaps = malloc((size_t)s->nlanes * frame_packed_bytes(s->cells));
    s->owner = malloc((size_t)s->cells * sizeof *s->owner);
    if (!s->maps || !s->qmaps || !s->owner
        || ring_init(&s->own, s->nlanes, s->cells, srv->lim.ring_bytes, SERVER_KEY_EVERY) != 0) {
        client_error(s->client, REQ_START, "out of memory for the race's ring");
        return -1;
    }
    s->own.detail_cap = (size_t)srv->lim.detail_bytes;
    pthread_mutex_lock(&s->mu);
    s->ring = &s->own;
    pthread_mutex_unlock(&s->mu);
    cJSON *fields = cJSON_CreateObject();
    metrics_race_fields(fields, r, s->label, s->req.seed, every);
    announce(s, fields);
    return 0;
}

/* The tick file's header as the `race` frame. */
static int open_file(struct session *s)
{
    const struct tickfile *tf = s->srv->tf;
    s->nlanes = tf->nlanes;
    s->cells = tf->cells;
    const cJSON *h = tf->header;
    static const char *const keep[] = { "workload", "seed",       "ops",        "arena_bytes",
                                        "cells",    "cell_bytes", "tick_every", "stream_peak_live",
                                        "check",    "cell_kinds", "allocators" };
    cJSON *fields = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(h, keep[i]);
        if (it) cJSON_AddItemToObject(fields, keep[i], cJSON_Duplicate(it, 1));
    }
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(h, "cell_bytes");
    s->cell_bytes = cJSON_IsNumber(cb) && cb->valuedouble >= 1 ? (uint64_t)cb->valuedouble : 32;
    s->ticks_total = tf->ticks;
    s->maps = malloc((size_t)s->nlanes * frame_packed_bytes(s->cells));
    s->qmaps = malloc((size_t)s->nlanes * frame_packed_bytes(s->cells));
    if (s->maps == NULL || s->qmaps == NULL) {
        cJSON_Delete(fields);
        client_error(s->client, REQ_START, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    s->ring = (struct ring *)&tf->ring; /* read-only: ring_get only */
    pthread_mutex_unlock(&s->mu);
    announce(s, fields);
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Running                                                                               */

/* The race has published its last tick: the end line and the `end` frame. */
static void finish(struct session *s)
{
    char *line = NULL;
    size_t len;
    if (s->race) {
        cJSON *end = cJSON_CreateObject();
        cJSON_AddStringToObject(end, "type", "end");
        cJSON_AddItemToObject(end, "leaderboard", metrics_leaderboard(s->race));
        line = cJSON_PrintUnformatted(end);
        cJSON_AddNumberToObject(end, "session", (double)s->id);
        cJSON_AddNumberToObject(end, "seconds", s->busy);
        char *frame = metrics_print(end, &len);
        if (frame) push_text(s->client, frame, len);
        free(frame);
    } else if (s->srv->tf->end_json) {
        cJSON *end = cJSON_Parse(s->srv->tf->end_json);
        if (end) {
            cJSON_AddNumberToObject(end, "session", (double)s->id);
            char *frame = metrics_print(end, &len);
            if (frame) push_text(s->client, frame, len);
            free(frame);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->ended = 1;
    s->end_line = line;
    push_state(s);
    pthread_mutex_unlock(&s->mu);
    uncount(s);
}

/* The next tick: the race runs to it (or the file gives it) and it is published. */
static void advance(struct session *s, int step)
{
    pthread_mutex_lock(&s->mu);
    uint32_t tick = s->head + 1;
    pthread_mutex_unlock(&s->mu);
    int last;
    if (s->race) {
        struct race *r = s->race;
        double t0 = server_now();
        uint64_t end = (uint64_t)tick * s->tick_every;
        if (end > r->nops) end = r->nops;
        for (size_t i = (size_t)s->ops_done; i < end; i++) {
            race_step(r, i);
            if ((i & 4095) == 4095 && atomic_load(&s->stop)) return;
        }
        s->ops_done = end;
        race_snapshot(r);
        last = end == r->nops;
        publish_live(s, tick, last || step);
        s->busy += server_now() - t0;
    } else {
        last = tick + 1 >= s->ticks_total;
        pthread_mutex_lock(&s->mu);
        s->head = tick;
        if (s->live) s->shown = tick;
        int live = s->live;
        pthread_mutex_unlock(&s->mu);
        if (live) publish_ring(s, tick, last || step, 0);
    }
    if (last) finish(s);
}

/* One cell question's answer from the ring (under s->mu): the kind at the tick asked, and
 * the block there when that tick's blocks are still held; `held` says which. */
static void answer_cell(struct session *s, const struct cell_q *q, cJSON *o)
{
    uint64_t off = (uint64_t)q->cell * s->cell_bytes;
    cJSON_AddNumberToObject(o, "offset", (double)off);
    if (ring_get(s->ring, q->tick, s->qmaps, NULL) != 0) {
        cJSON_AddStringToObject(o, "held", "none");
        cJSON_AddStringToObject(o, "note", "this tick is no longer in the ring");
        return;
    }
    size_t packed = frame_packed_bytes(s->cells);
    cJSON_AddNumberToObject(o, "kind", frame_cell(s->qmaps + q->lane * packed, q->cell));
    const void *list;
    size_t len;
    const struct blk *b;
    uint32_t n;
    if (ring_detail(s->ring, q->tick, &list, &len) != 0
        || blocks_lane(list, len, q->lane, &b, &n) != 0) {
        cJSON_AddStringToObject(o, "held", "kind");
        cJSON_AddStringToObject(o, "note",
                                s->race ? "this tick's blocks are no longer held"
                                        : "a tick file has kinds only");
        return;
    }
    cJSON_AddStringToObject(o, "held", "blocks");
    const struct blk *at = blocks_at(b, n, off, s->cell_bytes);
    if (at == NULL) return;
    cJSON *blk = cJSON_AddObjectToObject(o, "block");
    cJSON_AddNumberToObject(blk, "offset", at->off);
    cJSON_AddNumberToObject(blk, "requested", at->req);
    cJSON_AddNumberToObject(blk, "usable", at->usable);
    cJSON_AddNumberToObject(blk, "op", at->born);
}

/* Answer the cell questions asked, each about the tick it names. */
static void answer_cells(struct session *s, const struct cell_q *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "cell");
        cJSON_AddNumberToObject(o, "lane", q[i].lane);
        cJSON_AddNumberToObject(o, "cell", q[i].cell);
        cJSON_AddNumberToObject(o, "tick", q[i].tick);
        pthread_mutex_lock(&s->mu);
        answer_cell(s, &q[i], o);
        pthread_mutex_unlock(&s->mu);
        push_json(s->client, o);
    }
}

static void wait_until(struct session *s, double when)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    double dt = when - server_now();
    if (dt > 1) dt = 1;
    now += dt > 0 ? dt : 0;
    ts.tv_sec = (time_t)now;
    ts.tv_nsec = (long)((now - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* The session thread's loop: controls first, then the next tick when it is due. */
static void run(struct session *s)
{
    double deadline = server_now();
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stop)) {
        if (s->ncq) {
            struct cell_q q[SERVER_CELLQ];
            unsigned n = s->ncq;
            memcpy(q, s->cq, n * sizeof *q);
            s->ncq = 0;
            pthread_mutex_unlock(&s->mu);
            answer_cells(s, q, n);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->seek_pending) {
            uint32_t t = s->seek_tick;
            s->seek_pending = 0;
            pthread_mutex_unlock(&s->mu);
            publish_ring(s, t, 1, 1);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->republish) {
            s->republish = 0;
            int live = s->live;
            uint32_t t = s->shown;
            struct view_state v = view_of(s);
            pthread_mutex_unlock(&s->mu);
            if (live && s->race) { /* the race is at the head: its maps are these */
                size_t len = 0;
                char *json = metrics_tick(s->race, t, s->ops_done, &len);
                if (json) send_live(s, t, json, len, v, 1);
                free(json);
            } else {
                publish_ring(s, t, 1, 1);
            }
            pthread_mutex_lock(&s->mu);
            continue;
        }
        int step = 0;
        if (s->steps) {
            s->steps--;
            if (!s->live && s->shown < s->head) { /* forward in time, from the ring */
                uint32_t t = ++s->shown;
                pthread_mutex_unlock(&s->mu);
                publish_ring(s, t, 1, 1);
                pthread_mutex_lock(&s->mu);
                continue;
            }
            s->live = 1;
            if (s->ended) {
                push_state(s);
                continue;
            }
            step = 1;
        } else {
            if (s->ended || s->paused) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            if (s->tps_changed) {
                s->tps_changed = 0;
                deadline = server_now();
            }
            if (s->tps > 0 && server_now() < deadline) {
                wait_until(s, deadline);
                continue;
            }
        }
        unsigned tps = s->tps;
        pthread_mutex_unlock(&s->mu);
        advance(s, step);
        if (tps) {
            double now = server_now();
            deadline += 1.0 / tps;
            if (deadline < now - 0.25) deadline = now; /* fell behind: do not race to catch up */
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

static void *session_main(void *arg)
{
    struct session *s = arg;
    int rc = s->srv->tf ? open_file(s) : open_race(s);
    if (rc != 0) {
        pthread_mutex_lock(&s->mu);
        s->ended = 1;
        pthread_mutex_unlock(&s->mu);
        uncount(s);
        return NULL;
    }
    if (s->race) {
        /* Tick 0, the empty arenas, which the fragmentation averages do not count (as
         * `heaplab race --ticks`). */
        race_snapshot(s->race);
        for (size_t k = 0; k < s->race->nlanes; k++) {
            s->race->lane[k].snapshots = 0;
            s->race->lane[k].frag_sum = 0;
        }
        pthread_mutex_lock(&s->mu);
        s->live = 1;
        pthread_mutex_unlock(&s->mu);
        publish_live(s, 0, 0);
        if (s->race->nops == 0) finish(s);
    } else {
        pthread_mutex_lock(&s->mu);
        s->live = 1;
        s->head = s->shown = 0;
        pthread_mutex_unlock(&s->mu);
        publish_ring(s, 0, 0, 0);
        if (s->ticks_total <= 1) finish(s);
    }
    run(s);
    if (s->race) {
        race_close(s->race);
        free(s->race);
        s->race = NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Lifetime                                                                              */

static void session_free(struct session *s)
{
    if (s->own.last) ring_fini(&s->own);
    free(s->fields_json);
    free(s->end_line);
    free(s->maps);
    free(s->qmaps);
    free(s->owner);
    free(s->blk);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

struct session *session_get(struct server *srv, uint64_t id)
{
    pthread_mutex_lock(&srv->mu);
    struct session *s = srv->sessions;
    while (s && s->id != id)
        s = s->next;
    if (s) s->refs++;
    pthread_mutex_unlock(&srv->mu);
    return s;
}

void session_put(struct session *s)
{
    struct server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&srv->mu);
    if (last) session_free(s);
}

/* Stop the page's session (its thread joined) and let it go. */
static void session_end(struct client *c)
{
    struct session *s = c->session;
    if (s == NULL) return;
    c->session = NULL;
    atomic_store(&s->stop, 1);
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started) pthread_join(s->thread, NULL);
    struct server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    for (struct session **p = &srv->sessions; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    if (s->counted) {
        s->counted = 0;
        srv->running--;
    }
    if (s->upload) upload_put(srv, s->upload);
    s->upload = NULL;
    pthread_mutex_unlock(&srv->mu);
    session_put(s);
}

/* Which trace a start names: an upload (a reference taken) or a --trace-dir file. */
static int find_trace(struct client *c, struct session *s)
{
    struct server *srv = c->srv;
    const char *t = s->req.trace;
    if (strncmp(t, "upload:", 7) == 0) {
        uint64_t id = strtoull(t + 7, NULL, 10);
        pthread_mutex_lock(&srv->mu);
        for (unsigned i = 0; i < srv->nuploads; i++) {
            if (srv->uploads[i]->id == id) {
                s->upload = srv->uploads[i];
                s->upload->refs++;
            }
        }
        pthread_mutex_unlock(&srv->mu);
        if (s->upload) return 0;
        client_error(c, REQ_START, "no trace %s (the server keeps the last %u uploads)", t,
                     srv->lim.uploads_max);
        return -1;
    }
    if (srv->trace_root == NULL) {
        client_error(c, REQ_START, "no trace \"%s\": the server has no --trace-dir", t);
        return -1;
    }
    struct stat st;
    snprintf(s->trace_path, sizeof s->trace_path, "%s/%s", srv->trace_root, t);
    if (stat(s->trace_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        client_error(c, REQ_START, "no trace \"%s\" in the trace directory", t);
        return -1;
    }
    return 0;
}

static void start(struct client *c, const struct request *q)
{
    struct server *srv = c->srv;
    session_end(c);
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        client_error(c, REQ_START, "out of memory");
        return;
    }
    s->srv = srv;
    s->client = c;
    s->req = q->start;
    s->refs = 1;
    atomic_init(&s->stop, 0);
    s->tps = q->start.tps;
    if (srv->tf == NULL) {
        if (s->req.workload)
            snprintf(s->label, sizeof s->label, "%s", s->req.workload->name);
        else
            snprintf(s->label, sizeof s->label, "trace:%s", s->req.trace);
        if (!s->req.workload && find_trace(c, s) != 0) {
            free(s);
            return;
        }
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&srv->mu);
    int full = srv->tf == NULL && srv->running >= srv->lim.sessions_max;
    if (!full) {
        s->id = ++srv->next_id;
        s->state_gen = next_gen();
        s->next = srv->sessions;
        srv->sessions = s;
        if (srv->tf == NULL) {
            s->counted = 1;
            srv->running++;
        }
    }
    pthread_mutex_unlock(&srv->mu);
    c->session = s;
    if (full) {
        client_error(c, REQ_START,
                     "%u races are running (limits.sessions_max): wait for one to end or stop one",
                     srv->lim.sessions_max);
        session_end(c);
        return;
    }
    if (pthread_create(&s->thread, NULL, session_main, s) != 0) {
        client_error(c, REQ_START, "cannot start a thread for the race");
        session_end(c);
        return;
    }
    s->started = 1;
}

/* A control message for the running session. */
static void control(struct client *c, const struct request *q)
{
    struct session *s = c->session;
    if (s == NULL) {
        client_error(c, q->type, "no race yet: send start first");
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->opened) {
        pthread_mutex_unlock(&s->mu);
        client_error(c, q->type, "the race has not started (or could not start)");
        return;
    }
    int reply = 1;
    switch (q->type) {
    case REQ_PAUSE:
        s->paused = 1;
        break;
    case REQ_RESUME:
        s->paused = 0;
        if (!s->live) { /* back to the head */
            s->live = 1;
            s->shown = s->head;
            s->seek_pending = 1;
            s->seek_tick = s->head;
            reply = 0;
        }
        break;
    case REQ_STEP:
        if (!s->paused) {
            pthread_mutex_unlock(&s->mu);
            client_error(c, REQ_STEP, "step works while paused");
            return;
        }
        s->steps++;
        reply = 0; /* the tick shown answers */
        break;
    case REQ_SPEED:
        s->tps = q->tps;
        s->tps_changed = 1;
        break;
    case REQ_SEEK: {
        uint32_t last = s->race || !c->srv->tf ? s->head : c->srv->tf->ticks - 1;
        uint32_t first = s->ring && s->ring->n ? ring_first(s->ring) : 0;
        if (q->tick < first || q->tick > last) {
            pthread_mutex_unlock(&s->mu);
            client_error(c, REQ_SEEK, "tick %u is not in the ring (%u..%u)", q->tick, first, last);
            return;
        }
        if (q->tick > s->head) s->head = q->tick; /* a tick file: played up to there */
        s->paused = 1;
        s->live = 0;
        s->shown = q->tick;
        s->seek_pending = 1;
        s->seek_tick = q->tick;
        reply = 0;
        break;
    }
    case REQ_OVERLAY:
        if (c->srv->tf && q->overlay != OVERLAY_KIND) {
            pthread_mutex_unlock(&s->mu);
            client_error(c, REQ_OVERLAY, "a tick file has kind maps only: no %s overlay",
                         overlay_name(q->overlay));
            return;
        }
        s->overlay = q->overlay;
        if ((s->paused || s->ended) && s->live) s->republish = 1; /* no tick would show it */
        break;
    case REQ_CELL:
        if (q->lane >= s->nlanes || q->cell >= s->cells) {
            pthread_mutex_unlock(&s->mu);
            client_error(c, REQ_CELL, "no cell %u of lane %u (%u lanes of %u cells)", q->cell,
                         q->lane, s->nlanes, s->cells);
            return;
        }
        if (s->ncq == SERVER_CELLQ) { /* the oldest question gives way */
            memmove(s->cq, s->cq + 1, (SERVER_CELLQ - 1) * sizeof *s->cq);
            s->ncq--;
        }
        s->cq[s->ncq++] = (struct cell_q){ q->lane, q->cell, q->has_tick ? q->tick : s->shown };
        reply = 0;
        break;
    default:
        break;
    }
    if (reply) push_state(s);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct client *client_open(struct server *srv, struct mg_connection *conn)
{
    struct client *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->srv = srv;
    c->conn = conn;
    if (sender_start(c) != 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&srv->mu);
    c->id = ++srv->next_id;
    srv->nclients++;
    pthread_mutex_unlock(&srv->mu);
    if (srv->tf) { /* a tick file plays as the page connects */
        struct request q = { .type = REQ_START };
        q.start.tps = REQUEST_TPS_AUTO;
        q.start.encodings = REQUEST_ENC_DEFAULT;
        start(c, &q);
    }
    return c;
}

int client_message(struct client *c, int opcode, const char *data, size_t len)
{
    int op = opcode & 0xf;
    if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
    if (op == MG_WEBSOCKET_OPCODE_PING || op == MG_WEBSOCKET_OPCODE_PONG) return 1;
    if (atomic_load(&c->dead)) return 0; /* the page stopped reading: close it */
    if (!(opcode & 0x80) || op == MG_WEBSOCKET_OPCODE_CONTINUATION) {
        client_error(c, REQ_NONE, "fragmented messages are not accepted");
        return 1;
    }
    if (op != MG_WEBSOCKET_OPCODE_TEXT) {
        client_error(c, REQ_NONE, "only text messages (JSON) are accepted");
        return 1;
    }
    struct request q;
    char err[300];
    if (request_parse(data, len, &c->srv->lim, c->srv->tf != NULL, &q, err, sizeof err) != 0) {
        client_error(c, q.type, "%s", err);
        return 1;
    }
    if (q.type == REQ_START)
        start(c, &q);
    else
        control(c, &q);
    return 1;
}

void client_close(struct client *c)
{
    if (c == NULL) return;
    session_end(c);
    sender_stop(c);
    pthread_mutex_lock(&c->srv->mu);
    c->srv->nclients--;
    pthread_mutex_unlock(&c->srv->mu);
    free(c);
}

/* ------------------------------------------------------------------------------------- */
/* Export                                                                                */

static int emit(int (*out)(void *, const char *, size_t), void *arg, cJSON *o)
{
    size_t len;
    char *s = metrics_print(o, &len);
    if (s == NULL) return -1;
    int rc = out(arg, s, len) == 0 && out(arg, "\n", 1) == 0 ? 0 : -1;
    free(s);
    return rc;
}

int session_export(struct session *s, int (*out)(void *arg, const char *data, size_t len),
                   void *arg, char *name, size_t n)
{
    pthread_mutex_lock(&s->mu);
    char *fields = s->fields_json ? strdup(s->fields_json) : NULL;
    char *end = s->end_line ? strdup(s->end_line) : NULL;
    uint32_t first = s->ring && s->ring->n ? ring_first(s->ring) : 0;
    uint32_t head = s->ring && s->ring->n ? ring_head(s->ring) : 0;
    int any = s->ring && s->ring->n;
    pthread_mutex_unlock(&s->mu);
    cJSON *f = fields ? cJSON_Parse(fields) : NULL;
    free(fields);
    if (f == NULL) {
        free(end);
        return -1;
    }
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(f, "workload");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(f, "seed");
    snprintf(name, n, "heaplab-%s-%.0f.ticks", cJSON_IsString(wl) ? wl->valuestring : "race",
             cJSON_IsNumber(seed) ? seed->valuedouble : 0);
    for (char *p = name; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
            *p = '-';
    cJSON *hdr = report_envelope(TICKS_SCHEMA, s->srv->command_line, s->srv->machine);
    cJSON_AddStringToObject(hdr, "type", "race");
    const cJSON *it;
    cJSON_ArrayForEach(it, f)
    {
        cJSON_AddItemToObject(hdr, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_Delete(f);
    int rc = emit(out, arg, hdr);
    size_t packed = frame_packed_bytes(s->cells);
    uint8_t *maps = malloc((size_t)s->nlanes * packed + 1);
    char *b64 = malloc((packed + 2) / 3 * 4 + 1);
    for (uint32_t t = first; rc == 0 && any && maps && b64 && t <= head; t++) {
        pthread_mutex_lock(&s->mu);
        const struct ring_entry *e;
        cJSON *o = NULL;
        if (ring_get(s->ring, t, maps, &e) == 0) o = cJSON_Parse(e->json);
        pthread_mutex_unlock(&s->mu);
        if (o == NULL) continue; /* dropped meanwhile */
        cJSON_DeleteItemFromObjectCaseSensitive(o, "tick");
        cJSON *lanes = cJSON_GetObjectItemCaseSensitive(o, "allocators");
        uint32_t k = 0;
        cJSON *l;
        cJSON_ArrayForEach(l, lanes)
        {
            cJSON_DeleteItemFromObjectCaseSensitive(l, "lat_alloc");
            cJSON_DeleteItemFromObjectCaseSensitive(l, "lat_free");
            if (k < s->nlanes) tickfile_b64_encode(maps + k * packed, packed, b64);
            cJSON_AddStringToObject(l, "cells", k < s->nlanes ? b64 : "");
            k++;
        }
        rc = emit(out, arg, o);
    }
    free(maps);
    free(b64);
    if (rc == 0 && end) rc = out(arg, end, strlen(end)) == 0 && out(arg, "\n", 1) == 0 ? 0 : -1;
    free(end);
    return rc;
}
