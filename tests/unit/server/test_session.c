/*
 * tests/unit/server/test_session.c: the server in-process (server/server.h) with a minimal
 * WebSocket client on raw sockets: a race streams ticks that decode to its maps and ends; a
 * client that never reads does not hold up another client's race; a page that leaves in
 * the middle of a race, and a server stopped with pages connected, leave nothing behind.
 * Threaded (races, senders, civetweb's workers): also run under TSan (make test-tsan) and
 * ASan.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "server/frame.h"
#include "server/server.h"
#include "util/diag.h"

struct ws {
    int fd;
    uint8_t *buf;
    size_t len, cap;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ws_open(struct ws *w, unsigned port, int rcvbuf)
{
    memset(w, 0, sizeof *w);
    w->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (w->fd < 0) return -1;
    if (rcvbuf) setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(w->fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     port);
    if (write(w->fd, req, (size_t)n) != n) return -1;
    char resp[1024];
    size_t got = 0;
    while (got < sizeof resp - 1) { /* read up to the end of the headers, byte by byte */
        if (read(w->fd, resp + got, 1) != 1) return -1;
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0) break;
    }
    resp[got] = 0;
    return strstr(resp, " 101 ") ? 0 : -1;
}

static void ws_close(struct ws *w)
{
    close(w->fd);
    free(w->buf);
}

static int ws_send(struct ws *w, const char *text)
{
    size_t n = strlen(text), h = 0;
    uint8_t frame[600];
    if (n > 500) return -1;
    frame[h++] = 0x81;
    if (n < 126) {
        frame[h++] = (uint8_t)(0x80 | n);
    } else {
        frame[h++] = 0x80 | 126;
        frame[h++] = (uint8_t)(n >> 8);
        frame[h++] = (uint8_t)n;
    }
    const uint8_t mask[4] = { 1, 2, 3, 4 };
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        frame[h + i] = (uint8_t)text[i] ^ mask[i & 3];
    return write(w->fd, frame, h + n) == (ssize_t)(h + n) ? 0 : -1;
}

/* The next message: its opcode, payload (in w->buf, valid until the next call) and
 * length; -1 on close or after `timeout` seconds. */
static int ws_recv(struct ws *w, const uint8_t **payload, size_t *len, double timeout)
{
    double end = now_s() + timeout;
    for (;;) {
        if (w->len >= 2) {
            size_t n = w->buf[1] & 127, off = 2;
            if (n == 126 && w->len >= 4) {
                n = (size_t)w->buf[2] << 8 | w->buf[3];
                off = 4;
            } else if (n == 127 && w->len >= 10) {
                n = 0;
                for (int i = 0; i < 8; i++)
                    n = n << 8 | w->buf[2 + i];
                off = 10;
            } else if (n >= 126) {
                off = SIZE_MAX;
            }
            if (off != SIZE_MAX && w->len >= off + n) {
                int op = w->buf[0] & 15;
                /* Move the message to the front of a fresh buffer, keep the rest. */
                uint8_t *rest = malloc(w->len - off - n + 1);
                memcpy(rest, w->buf + off + n, w->len - off - n);
                memmove(w->buf, w->buf + off, n);
                static uint8_t *msg;
                static size_t msg_cap;
                if (msg_cap < n + 1) {
                    free(msg);
                    msg = malloc(n + 1);
                    msg_cap = n + 1;
                }
                memcpy(msg, w->buf, n);
                msg[n] = 0;
                w->len -= off + n;
                memcpy(w->buf, rest, w->len);
                free(rest);
                *payload = msg;
                *len = n;
                if (op == 8) return -1;
                if (op == 9) continue; /* a ping: the server's keep-alive */
                return op;
            }
        }
        if (w->cap - w->len < 65536) {
            w->cap = w->cap ? 2 * w->cap : 1 << 20;
            w->buf = realloc(w->buf, w->cap);
        }
        struct pollfd p = { w->fd, POLLIN, 0 };
        int ms = (int)((end - now_s()) * 1000);
        if (ms <= 0 || poll(&p, 1, ms) <= 0) return -1;
        ssize_t r = read(w->fd, w->buf + w->len, w->cap - w->len);
        if (r <= 0) return -1;
        w->len += (size_t)r;
    }
}

static struct server *start_server(unsigned *port)
{
    struct server_config cfg = { .bind = "127.0.0.1", .port = 0, .command_line = "test" };
    server_limits_default(&cfg.limits);
    struct server *srv;
    struct diag d = { { 0 } };
    if (server_start(&cfg, &srv, &d) != 0) {
        fprintf(stderr, "server_start: %s\n", d.msg);
        return NULL;
    }
    *port = server_port(srv);
    return srv;
}

/* Read a race to its end: the number of tick frames and of maps decoded; -1 on an error. */
static int read_race(struct ws *w, unsigned *ticks, unsigned *maps, double timeout)
{
    uint8_t *lanes[16] = { 0 };
    const uint8_t *p;
    size_t n;
    int op, rc = -1;
    *ticks = *maps = 0;
    while ((op = ws_recv(w, &p, &n, timeout)) > 0) {
        if (op == 2) {
            struct frame_header h;
            if (frame_header_get(p, n, &h) != 0 || h.lane >= 16) break;
            size_t packed = frame_packed_bytes(h.cells);
            if (h.type != FRAME_KIND) continue;
            if (h.encoding == FRAME_RAW) {
                if (n - FRAME_HEADER_BYTES != packed) break;
                free(lanes[h.lane]);
                lanes[h.lane] = malloc(packed + 1);
                memcpy(lanes[h.lane], p + FRAME_HEADER_BYTES, packed);
            } else if (lanes[h.lane] == NULL
                       || frame_kind_apply(lanes[h.lane], h.cells, h.encoding,
                                           p + FRAME_HEADER_BYTES, n - FRAME_HEADER_BYTES)
                                  != 0) {
                break;
            }
            (*maps)++;
            continue;
        }
        if (strstr((const char *)p, "\"type\":\"tick\"")) (*ticks)++;
        if (strstr((const char *)p, "\"type\":\"error\"")) {
            fprintf(stderr, "error frame: %s\n", (const char *)p);
            break;
        }
        if (strstr((const char *)p, "\"type\":\"end\"")) {
            rc = 0;
            break;
        }
    }
    for (int k = 0; k < 16; k++)
        free(lanes[k]);
    return rc;
}

static void test_session_race_streams_to_its_end(void)
{
    unsigned port;
    struct server *srv = start_server(&port);
    REQUIRE(srv != NULL);
    struct ws w;
    REQUIRE(ws_open(&w, port, 0) == 0);
    REQUIRE(ws_send(&w, "{\"type\":\"start\",\"workload\":\"adversarial\",\"ops\":20000,"
                        "\"tick_every\":500,\"tps\":200}")
            == 0);
    unsigned ticks, maps;
    CHECK(read_race(&w, &ticks, &maps, 60) == 0);
    printf("a race: %u tick frames, %u maps decoded\n", ticks, maps);
    CHECK(ticks >= 2);
    CHECK(maps >= 6 * 10);
    ws_close(&w);
    server_stop(srv);
}

static void test_session_stalled_client_does_not_hold_up_another(void)
{
    unsigned port;
    struct server *srv = start_server(&port);
    REQUIRE(srv != NULL);
    struct ws stalled, other;
    REQUIRE(ws_open(&stalled, port, 4096) == 0);
    REQUIRE(ws_send(&stalled, "{\"type\":\"start\",\"workload\":\"nginx-requests\",\"ops\":200000,"
                              "\"tick_every\":50,\"tps\":0}")
            == 0);
    struct timespec ts = { 0, 500000000 };
    nanosleep(&ts, NULL); /* its sender is blocked in a write by now */
    REQUIRE(ws_open(&other, port, 0) == 0);
    REQUIRE(ws_send(&other, "{\"type\":\"start\",\"workload\":\"adversarial\",\"ops\":10000,"
                            "\"tick_every\":200,\"tps\":0}")
            == 0);
    unsigned ticks, maps;
    double t0 = now_s();
    CHECK(read_race(&other, &ticks, &maps, 60) == 0);
    printf("beside a stalled client: %u tick frames, %u maps in %.2f s\n", ticks, maps,
           now_s() - t0);
    CHECK(maps >= 6);
    ws_close(&other);
    /* Stopped with the stalled page still connected and its race running. */
    server_stop(srv);
    ws_close(&stalled);
}

static void test_session_page_leaving_mid_race(void)
{
    unsigned port;
    struct server *srv = start_server(&port);
    REQUIRE(srv != NULL);
    for (int i = 0; i < 3; i++) {
        struct ws w;
        REQUIRE(ws_open(&w, port, 0) == 0);
        REQUIRE(ws_send(&w, "{\"type\":\"start\",\"workload\":\"small\",\"ops\":300000,"
                            "\"tick_every\":100,\"tps\":0}")
                == 0);
        const uint8_t *p;
        size_t n;
        int frames = 0;
        while (frames < 20 && ws_recv(&w, &p, &n, 30) > 0)
            frames++;
        CHECK(frames == 20);
        /* Start another race on the same socket, then leave without a word. */
        REQUIRE(ws_send(&w, "{\"type\":\"start\",\"workload\":\"mixed\",\"ops\":300000,"
                            "\"tick_every\":100,\"tps\":0}")
                == 0);
        ws_close(&w);
    }
    /* The server still serves. */
    struct ws w;
    REQUIRE(ws_open(&w, port, 0) == 0);
    REQUIRE(ws_send(&w, "{\"type\":\"start\",\"workload\":\"bulk\",\"ops\":5000,\"tps\":0}") == 0);
    unsigned ticks, maps;
    CHECK(read_race(&w, &ticks, &maps, 60) == 0);
    ws_close(&w);
    server_stop(srv);
}

int main(void)
{
    RUN_TEST(test_session_race_streams_to_its_end);
    RUN_TEST(test_session_stalled_client_does_not_hold_up_another);
    RUN_TEST(test_session_page_leaving_mid_race);
    return check_report();
}
