/*
 * server/sender.c: a page's sender thread (internal.h). It alone writes to the page's
 * socket: queued JSON messages, and the newest tick from the mailbox's slot encoded against
 * what this page was last sent (frame.h). A write that fails or blocks only delays this
 * thread; the session thread that fills the slot never waits for it.
 */
#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/frame.h"
#include "server/internal.h"

double server_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void frame_free(struct frame *f)
{
    if (f == NULL) return;
    free(f->maps);
    free(f->ov);
    free(f->json);
    free(f);
}

/* Make buf (of *cap bytes) hold at least `need`. 0, or -1. */
static int reserve(void *pbuf, size_t *cap, size_t need)
{
    void **buf = pbuf;
    if (*cap >= need) return 0;
    void *p = realloc(*buf, need);
    if (p == NULL) return -1;
    *buf = p;
    *cap = need;
    return 0;
}

struct frame *frame_get(struct client *c, uint32_t nlanes, uint32_t cells, int overlay,
                        size_t json_len)
{
    struct frame *f = c->spare;
    c->spare = NULL;
    if (f == NULL) f = atomic_exchange(&c->returned, NULL);
    if (f == NULL) f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    size_t maps = (size_t)nlanes * frame_packed_bytes(cells);
    size_t ov = overlay ? (size_t)nlanes * cells : 0;
    if (reserve(&f->maps, &f->maps_cap, maps ? maps : 1) != 0
        || reserve(&f->ov, &f->ov_cap, ov ? ov : 1) != 0
        || reserve(&f->json, &f->json_cap, json_len + 1) != 0) {
        frame_free(f);
        return NULL;
    }
    f->nlanes = nlanes;
    f->cells = cells;
    f->overlay = overlay;
    f->force = 0;
    f->from_ring = 0;
    f->json_len = 0;
    return f;
}

void frame_publish(struct client *c, struct frame *f)
{
    f->seq = mailbox_seq(&c->box);
    struct frame *old = mailbox_put(&c->box, f);
    if (old == NULL) return;
    if (c->spare == NULL)
        c->spare = old;
    else
        frame_free(old);
}

size_t view_state_json(const struct view_state *v, char *buf, size_t n)
{
    int w = snprintf(buf, n,
                     "{\"type\":\"state\",\"session\":%llu,\"paused\":%s,\"tick\":%u,\"head\":%u,"
                     "\"ring_first\":%u,\"tps\":%u,\"ended\":%s,\"overlay\":\"%s\"}",
                     (unsigned long long)v->session, v->paused ? "true" : "false", v->shown,
                     v->head, v->first, v->tps, v->ended ? "true" : "false",
                     overlay_name(v->overlay));
    return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
}

/* Write one WebSocket message; after a failure nothing more is written. */
static void write_ws(struct client *c, int opcode, const void *data, size_t len)
{
    if (atomic_load(&c->dead)) return;
    int rc = mg_websocket_write(c->conn, opcode, data, len);
    if (rc <= 0 || (size_t)rc != len) atomic_store(&c->dead, 1);
}

static void send_text(struct client *c, const char *s, size_t len)
{
    write_ws(c, MG_WEBSOCKET_OPCODE_TEXT, s, len);
}

/* A new session (or shape): no lane has a map the next one could be a delta of. */
static int reset_sent(struct client *c, const struct frame *f)
{
    size_t need = (size_t)f->nlanes * frame_packed_bytes(f->cells);
    uint8_t *p = realloc(c->sent, need ? need : 1);
    if (p == NULL) return -1;
    c->sent = p;
    c->sent_ok = 0;
    c->sent_lanes = f->nlanes;
    c->sent_cells = f->cells;
    c->cur_session = f->state.session;
    c->pending_len = 0;
    return 0;
}

/* A tick's JSON and its state; the state only if no newer one has gone (a pause queued
 * between the tick's view and its frame would otherwise be undone by it). */
static void send_json(struct client *c, const char *json, size_t len, const char *state,
                      uint64_t gen)
{
    send_text(c, json, len);
    if (gen >= c->gen_sent) {
        send_text(c, state, strlen(state));
        c->gen_sent = gen;
    }
    c->last_json = server_now();
    c->pending_len = 0;
}

static void send_frame(struct client *c, struct frame *f)
{
    if ((f->state.session != c->cur_session || f->nlanes != c->sent_lanes
         || f->cells != c->sent_cells)
        && reset_sent(c, f) != 0)
        return;
    size_t packed = frame_packed_bytes(f->cells);
    size_t body = packed > frame_rle_bound(f->cells) ? packed : frame_rle_bound(f->cells);
    if (reserve(&c->out, &c->out_cap, FRAME_HEADER_BYTES + body + packed) != 0) return;
    uint8_t *payload = c->out + FRAME_HEADER_BYTES, *scratch = payload + body;
    for (uint32_t k = 0; k < f->nlanes; k++) {
        const uint8_t *cur = f->maps + k * packed;
        uint8_t *prev = c->sent + k * packed;
        struct frame_header h = { FRAME_KIND, (uint8_t)k, FRAME_RAW, f->tick, f->cells };
        size_t len;
        if (!f->from_ring && (c->sent_ok >> k & 1u)
            && frame_kind_encode(prev, cur, f->cells, f->allow, payload, scratch, packed, &len,
                                 &h.encoding)
                       == 0) {
            /* delta or fill, the smaller */
        } else {
            memcpy(payload, cur, packed);
            len = packed;
        }
        frame_header_put(c->out, &h);
        write_ws(c, MG_WEBSOCKET_OPCODE_BINARY, c->out, FRAME_HEADER_BYTES + len);
        c->bytes_bin += FRAME_HEADER_BYTES + len;
        c->frames_bin++;
        memcpy(prev, cur, packed);
        c->sent_ok |= 1u << k;
    }
    for (uint32_t k = 0; f->overlay && k < f->nlanes; k++) {
        struct frame_header h = { FRAME_OVERLAY, (uint8_t)k, FRAME_RLE, f->tick, f->cells };
        size_t len = frame_rle_encode(f->ov + (size_t)k * f->cells, f->cells, payload, body);
        frame_header_put(c->out, &h);
        write_ws(c, MG_WEBSOCKET_OPCODE_BINARY, c->out, FRAME_HEADER_BYTES + len);
    }
    char state[512];
    view_state_json(&f->state, state, sizeof state);
    if (f->force || server_now() - c->last_json >= SERVER_JSON_MS / 1000.0) {
        send_json(c, f->json, f->json_len, state, f->state.gen);
        return;
    }
    /* Held back: the newest one goes when the rate allows (or a newer replaces it). */
    if (reserve(&c->pending, &c->pending_cap, f->json_len + 1) != 0) return;
    memcpy(c->pending, f->json, f->json_len);
    c->pending_len = f->json_len;
    snprintf(c->pending_state, sizeof c->pending_state, "%s", state);
    c->pending_gen = f->state.gen;
}

static void give_back(struct client *c, struct frame *f)
{
    struct frame *old = atomic_exchange(&c->returned, f);
    frame_free(old);
}

/* Everything waiting, in the order it was produced: a queued message goes before the
 * slot's frame when it is older, and with the slot empty only up to the bound read before
 * looking (a frame put meanwhile goes before what its producer queued after it). A held-back
 * tick frame is older than any message popped after it was held (the queue is in sequence
 * order), so it goes first: its `state` must not follow, and undo, a newer one (a pause's). */
static void drain(struct client *c)
{
    for (;;) {
        uint64_t bound = mailbox_bound(&c->box);
        struct frame *f = mailbox_take(&c->box);
        struct mailbox_msg m;
        while (mailbox_pop(&c->box, f ? f->seq : bound, &m)) {
            if (c->pending_len)
                send_json(c, c->pending, c->pending_len, c->pending_state, c->pending_gen);
            send_text(c, m.data, m.len);
            if (m.gen > c->gen_sent) c->gen_sent = m.gen;
            free(m.data);
        }
        if (f == NULL) return;
        send_frame(c, f);
        give_back(c, f);
    }
}

static void *sender_main(void *arg)
{
    struct client *c = arg;
    for (;;) {
        int timeout = 1000;
        if (c->pending_len) {
            double wait = c->last_json + SERVER_JSON_MS / 1000.0 - server_now();
            timeout = wait > 0 ? (int)(wait * 1000) + 1 : 0;
        }
        mailbox_wait(&c->box, timeout);
        if (mailbox_closed(&c->box)) break;
        drain(c);
        if (c->pending_len && server_now() - c->last_json >= SERVER_JSON_MS / 1000.0)
            send_json(c, c->pending, c->pending_len, c->pending_state, c->pending_gen);
    }
    return NULL;
}

int sender_start(struct client *c)
{
    if (mailbox_init(&c->box) != 0) return -1;
    atomic_init(&c->returned, NULL);
    atomic_init(&c->dead, 0);
    if (pthread_create(&c->sender, NULL, sender_main, c) != 0) {
        mailbox_fini(&c->box);
        return -1;
    }
    c->sender_started = 1;
    return 0;
}

void sender_stop(struct client *c)
{
    if (!c->sender_started) return;
    mailbox_close(&c->box);
    pthread_join(c->sender, NULL);
    c->sender_started = 0;
    frame_free(mailbox_fini(&c->box));
    frame_free(atomic_exchange(&c->returned, NULL));
    frame_free(c->spare);
    c->spare = NULL;
    free(c->sent);
    free(c->out);
    free(c->pending);
    c->sent = c->out = NULL;
    c->pending = NULL;
}
