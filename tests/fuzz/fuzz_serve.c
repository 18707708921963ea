/*
 * tests/fuzz/fuzz_serve.c: libFuzzer target for what `heaplab serve` reads from a page
 * (server/request.h, server/tickfile.h, server/frame.h). The first byte picks the path, the
 * rest is its input:
 *   0  a WebSocket message (request_parse, live and tick-file modes; and the real
 *      allocators view's real_request_parse): refused with one line or parsed into values
 *      within the limits
 *   1  an upload (request_upload: the trace reader and the compiler to an op stream)
 *   2  a tick file (tickfile_parse): refused with a reason, or every tick reads back
 *   3  delta, fill and run-length payloads applied to maps (the page's decoders' inputs),
 *      and what was applied encoded again: it must decode to the same map
 * Built with ASan and UBSan; run by tests/fuzz/run_fuzz_serve.sh (make test: 20 s).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/frame.h"
#include "server/internal.h"
#include "server/real.h"
#include "server/request.h"
#include "server/server.h"
#include "server/tickfile.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The real allocators view's start message: one line, or values within real.h's limits. */
static void real_message(const uint8_t *d, size_t n)
{
    struct real_request r;
    struct diag dg = { { 0 } };
    int kind = real_request_parse((const char *)d, n, &r, &dg);
    if (kind < 0) {
        if (!dg.msg[0] || strchr(dg.msg, '\n')) __builtin_trap();
        return;
    }
    if (kind != REAL_MSG_START) return;
    if ((r.workload == NULL) == (r.trace[0] == 0)) __builtin_trap();
    if (r.ops > REAL_OPS_MAX || r.threads < 1 || r.threads > REAL_THREADS_MAX) __builtin_trap();
    if (r.n_allocs < 1 || r.n_allocs > ALLOC_MAX) __builtin_trap();
}

static void message(const uint8_t *d, size_t n, int ticks_only)
{
    static struct server_limits lim;
    if (lim.ops_max == 0) server_limits_default(&lim);
    struct request q;
    char err[200];
    if (request_parse((const char *)d, n, &lim, ticks_only, &q, err, sizeof err) != 0) {
        if (!err[0] || strchr(err, '\n')) __builtin_trap(); /* one line, always */
        return;
    }
    if (q.type < REQ_START || q.type > REQ_CELL) __builtin_trap();
    if (q.type == REQ_START && !ticks_only) {
        const struct request_start *s = &q.start;
        if ((s->workload == NULL) == (s->trace[0] == 0)) __builtin_trap();
        if (s->ops > lim.ops_max || s->tps > lim.tps_max || s->seed > REQUEST_SEED_MAX)
            __builtin_trap();
        if (s->arena
            && (s->arena < lim.arena_min || s->arena > lim.arena_max
                || (s->arena & (s->arena - 1))))
            __builtin_trap();
        if (s->tick_every && s->tick_every < lim.tick_every_min) __builtin_trap();
        if (s->nlanes < 1 || s->nlanes > RACE_MAX_LANES) __builtin_trap();
        if (s->trace[0] && strncmp(s->trace, "upload:", 7) && !request_trace_name_ok(s->trace))
            __builtin_trap();
    }
    if (q.type == REQ_SPEED && q.tps > lim.tps_max) __builtin_trap();
}

static void upload(const uint8_t *d, size_t n)
{
    struct upload_info info;
    struct diag why = { { 0 } };
    if (request_upload(d, n, "upload", &info, &why) != 0) {
        if (!why.msg[0]) __builtin_trap();
        return;
    }
    if (info.ops == 0) __builtin_trap(); /* accepted means something to race */
}

static void tick_file(const uint8_t *d, size_t n)
{
    struct tickfile tf;
    struct diag why = { { 0 } };
    if (tickfile_parse((const char *)d, n, &tf, &why) != 0) {
        if (!why.msg[0]) __builtin_trap();
        return;
    }
    size_t bytes = (size_t)tf.nlanes * frame_packed_bytes(tf.cells);
    uint8_t *maps = malloc(bytes ? bytes : 1);
    for (uint32_t t = 0; maps && t < tf.ticks; t++)
        if (ring_get(&tf.ring, t, maps, NULL) != 0) __builtin_trap();
    free(maps);
    tickfile_fini(&tf);
}

static void decoders(const uint8_t *d, size_t n)
{
    if (n < 2) return;
    uint32_t cells = (uint32_t)d[0] * 37 + d[1]; /* 0..9690 cells */
    uint8_t *map = calloc(frame_packed_bytes(cells) + 1, 1), *ov = malloc(cells + 1);
    if (map && ov) {
        frame_delta_apply(map, cells, d + 2, n - 2);
        frame_fill_apply(map, cells, d + 2, n - 2);
        frame_rle_decode(d + 2, n - 2, ov, cells);
        /* Whatever was applied, its encoding against zeros (and against the map shifted
         * by one cell) round-trips, with each encoding and with the smaller. */
        size_t nb = frame_packed_bytes(cells), len;
        uint8_t *base[2] = { calloc(nb + 1, 1), calloc(nb + 1, 1) };
        uint8_t *enc = malloc(nb + 1), *tmp = malloc(nb + 1), *out = malloc(nb + 1), how;
        if (cells % 4) map[nb - 1] &= (uint8_t)((1u << (2 * (cells % 4))) - 1);
        if (base[0] && base[1] && enc && tmp && out) {
            for (uint32_t i = 0; i + 1 < cells; i++) /* map shifted by a cell */
                base[1][i >> 2] |= (uint8_t)(frame_cell(map, i + 1) << ((i & 3) * 2));
            static const unsigned allow[] = { 1u << FRAME_DELTA, 1u << FRAME_FILL,
                                              1u << FRAME_DELTA | 1u << FRAME_FILL };
            for (int b = 0; b < 2; b++) {
                for (int a = 0; a < 3; a++) {
                    if (frame_kind_encode(base[b], map, cells, allow[a], enc, tmp, nb, &len, &how)
                        != 0)
                        continue;
                    if (!(allow[a] & (1u << how)) || len >= nb) __builtin_trap();
                    memcpy(out, base[b], nb);
                    if (frame_kind_apply(out, cells, how, enc, len) != 0) __builtin_trap();
                    if (memcmp(out, map, nb) != 0) __builtin_trap();
                }
            }
        }
        free(base[0]);
        free(base[1]);
        free(enc);
        free(tmp);
        free(out);
    }
    free(map);
    free(ov);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    switch (data[0] & 3) {
    case 0:
        message(data + 1, size - 1, data[0] >> 7);
        real_message(data + 1, size - 1);
        break;
    case 1:
        upload(data + 1, size - 1);
        break;
    case 2:
        tick_file(data + 1, size - 1);
        break;
    default:
        decoders(data + 1, size - 1);
        break;
    }
    return 0;
}
