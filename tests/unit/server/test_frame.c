/*
 * tests/unit/server/test_frame.c: the binary frames of cell maps (server/frame.h): the
 * header, packing as the tick file packs, varints, run-length overlay maps, and the delta
 * and fill encodings: applied to the previous map each gives the new one, for every tick of
 * real races of several workloads, and each is smaller than the raw map or not used.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "server/frame.h"
#include "util/diag.h"
#include "util/prng.h"
#include "workload/workload.h"

static void test_frame_header_round_trips_and_rejects_damage(void)
{
    struct frame_header h = { FRAME_KIND, 5, FRAME_DELTA, 123456, 65536 }, g;
    uint8_t b[FRAME_HEADER_BYTES];
    frame_header_put(b, &h);
    CHECK(b[0] == 0x48 && b[1] == 0x4c && b[2] == 1 && b[3] == 1 && b[4] == 5 && b[5] == 1);
    CHECK(b[6] == 0 && b[7] == 0 && b[8] == 0x40 && b[9] == 0xe2 && b[10] == 0x01);
    REQUIRE(frame_header_get(b, sizeof b, &g) == 0);
    CHECK(g.type == h.type && g.lane == 5 && g.encoding == FRAME_DELTA);
    CHECK_EQ_U64(g.tick, 123456);
    CHECK_EQ_U64(g.cells, 65536);
    CHECK(frame_header_get(b, 15, &g) == -1);
    uint8_t bad[FRAME_HEADER_BYTES];
    memcpy(bad, b, sizeof b);
    bad[0] ^= 1;
    CHECK(frame_header_get(bad, sizeof bad, &g) == -1);
    memcpy(bad, b, sizeof b);
    bad[3] = 2; /* an overlay map is run-length, never delta */
    CHECK(frame_header_get(bad, sizeof bad, &g) == -1);
    bad[3] = 1;
    bad[5] = FRAME_FILL;
    CHECK(frame_header_get(bad, sizeof bad, &g) == 0);
    bad[5] = FRAME_RLE; /* a kind map is never run-length */
    CHECK(frame_header_get(bad, sizeof bad, &g) == -1);
    bad[3] = 2;
    bad[5] = FRAME_RLE;
    CHECK(frame_header_get(bad, sizeof bad, &g) == 0);
    bad[7] = 1;
    CHECK(frame_header_get(bad, sizeof bad, &g) == -1);
}

static void test_frame_pack_is_the_tick_files_packing(void)
{
    /* race_cells_b64 of {0,1,2,3,3} is "5AM=": bytes 0xE4 0x03. */
    const uint8_t cells[] = { LAB_FREE, LAB_USED, LAB_META, LAB_WASTE, LAB_WASTE };
    uint8_t out[2];
    frame_pack(cells, 5, out);
    CHECK(out[0] == 0xE4 && out[1] == 0x03);
    for (uint32_t i = 0; i < 5; i++)
        CHECK(frame_cell(out, i) == cells[i]);
    CHECK_EQ_U64(frame_packed_bytes(0), 0);
    CHECK_EQ_U64(frame_packed_bytes(5), 2);
    CHECK_EQ_U64(frame_packed_bytes(65536), 16384);
}

static void test_frame_varints_round_trip_and_reject_overlong(void)
{
    const uint32_t vals[] = { 0, 1, 127, 128, 16383, 16384, 65536, UINT32_MAX };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[8];
        size_t n = frame_varint_put(b, vals[i]), pos = 0;
        uint32_t v;
        CHECK(frame_varint_get(b, n, &pos, &v) == 0);
        CHECK_EQ_U64(v, vals[i]);
        CHECK_EQ_U64(pos, n);
        pos = 0;
        CHECK(n == 1 || frame_varint_get(b, n - 1, &pos, &v) == -1); /* cut short */
    }
    const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff, 0x1f }; /* 2^35 - 1 */
    const uint8_t longer[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    size_t pos = 0;
    uint32_t v;
    CHECK(frame_varint_get(big, sizeof big, &pos, &v) == -1);
    pos = 0;
    CHECK(frame_varint_get(longer, sizeof longer, &pos, &v) == -1);
}

static size_t delta_bytes, fill_bytes; /* what each encoding would have cost */

/* Encode cur against prev as delta, as fill and as the smaller of the two; apply each to a
 * copy of prev and compare with cur. Returns the length of what the sender would send (the
 * raw length when it would send raw). */
static size_t delta_round_trip(const uint8_t *prev, const uint8_t *cur, uint32_t n)
{
    size_t nb = frame_packed_bytes(n), len = 0, best = nb;
    uint8_t *out = malloc(nb + 16), *tmp = malloc(nb + 16), *map = malloc(nb + 1);
    int (*enc[2])(const uint8_t *, const uint8_t *, uint32_t, uint8_t *, size_t,
                  size_t *) = { frame_delta_encode, frame_fill_encode };
    int (*dec[2])(uint8_t *, uint32_t, const uint8_t *, size_t) = { frame_delta_apply,
                                                                    frame_fill_apply };
    size_t *cost[2] = { &delta_bytes, &fill_bytes };
    for (int e = 0; e < 2; e++) {
        memcpy(map, prev, nb);
        if (enc[e](prev, cur, n, out, nb + 16, &len) != 0) {
            *cost[e] += nb;
            continue;
        }
        *cost[e] += len;
        CHECK(len < nb);
        CHECK(dec[e](map, n, out, len) == 0);
        CHECK(memcmp(map, cur, nb) == 0);
    }
    uint8_t how;
    memcpy(map, prev, nb);
    if (frame_kind_encode(prev, cur, n, 1u << FRAME_DELTA | 1u << FRAME_FILL, out, tmp, nb, &len,
                          &how)
        == 0) {
        CHECK(how == FRAME_DELTA || how == FRAME_FILL);
        CHECK(frame_kind_apply(map, n, how, out, len) == 0);
        CHECK(memcmp(map, cur, nb) == 0);
        best = len;
    }
    free(out);
    free(tmp);
    free(map);
    return best;
}

static void test_frame_delta_of_random_edits_applies_exactly(void)
{
    struct prng rng;
    prng_seed(&rng, 7, 0);
    const uint32_t sizes[] = { 1, 3, 4, 5, 31, 1000, 4097, 65536 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        uint32_t n = sizes[si];
        uint8_t *a = calloc(n, 1), *b = calloc(n, 1);
        uint8_t *pa = calloc(frame_packed_bytes(n) + 1, 1),
                *pb = calloc(frame_packed_bytes(n) + 1, 1);
        for (uint32_t i = 0; i < n; i++)
            a[i] = (uint8_t)(prng_next(&rng) & 3);
        for (int round = 0; round < 50; round++) {
            memcpy(b, a, n);
            uint64_t edits = prng_next(&rng) % (n / 8 + 2);
            for (uint64_t e = 0; e < edits; e++) {
                uint32_t at = (uint32_t)(prng_next(&rng) % n);
                uint32_t len = (uint32_t)(prng_next(&rng) % 40) + 1;
                uint8_t v = (uint8_t)(prng_next(&rng) & 3);
                for (uint32_t k = at; k < n && k < at + len; k++)
                    b[k] = v;
            }
            frame_pack(a, n, pa);
            frame_pack(b, n, pb);
            delta_round_trip(pa, pb, n);
            memcpy(a, b, n);
        }
        frame_pack(a, n, pa);
        size_t len = 99;
        uint8_t out[8];
        if (n >= 4) { /* an unchanged map is an empty delta */
            CHECK(frame_delta_encode(pa, pa, n, out, sizeof out, &len) == 0);
            CHECK_EQ_U64(len, 0);
        }
        free(a);
        free(b);
        free(pa);
        free(pb);
    }
}

static void test_frame_delta_of_an_all_new_map_is_refused(void)
{
    uint32_t n = 4096;
    uint8_t *a = malloc(n / 4), *b = malloc(n / 4), *out = malloc(n);
    for (uint32_t i = 0; i < n / 4; i++) {
        a[i] = (uint8_t)i;
        b[i] = (uint8_t)~i;
    }
    size_t len;
    CHECK(frame_delta_encode(a, b, n, out, n, &len) == -1); /* raw is smaller */
    CHECK(frame_delta_encode(a, a, 0, out, n, &len) == -1); /* an empty map is raw */
    free(a);
    free(b);
    free(out);
}

static void test_frame_delta_decoder_takes_unaligned_runs_and_rejects_bad_ones(void)
{
    /* 10 cells of 0; a run at cell 3 of 3 cells: 1, 2, 3 = 0b111001 = 0x39. */
    uint8_t map[3] = { 0, 0, 0 };
    const uint8_t d[] = { 3, 3, 0x39 };
    REQUIRE(frame_delta_apply(map, 10, d, sizeof d) == 0);
    const unsigned want[10] = { 0, 0, 0, 1, 2, 3, 0, 0, 0, 0 };
    for (uint32_t i = 0; i < 10; i++)
        CHECK(frame_cell(map, i) == want[i]);
    CHECK(map[2] == 0); /* the bits past cell 9 stay 0 */
    const uint8_t past_end[] = { 8, 3, 0x39 };
    const uint8_t short_payload[] = { 0, 9, 0xff };
    const uint8_t bad_varint[] = { 0x80 };
    CHECK(frame_delta_apply(map, 10, past_end, sizeof past_end) == -1);
    CHECK(frame_delta_apply(map, 10, short_payload, sizeof short_payload) == -1);
    CHECK(frame_delta_apply(map, 10, bad_varint, sizeof bad_varint) == -1);
}

static void test_frame_fill_decoder_takes_any_run_and_rejects_bad_ones(void)
{
    /* 11 cells of 0; cells 1..9 become used (x = 9 << 2 | 1 = 37), then cell 10 meta. */
    uint8_t map[3] = { 0, 0, 0 };
    const uint8_t d[] = { 1, 37, 0, 6 };
    REQUIRE(frame_fill_apply(map, 11, d, sizeof d) == 0);
    for (uint32_t i = 0; i < 11; i++)
        CHECK(frame_cell(map, i) == (i == 0 ? 0u : i < 10 ? 1u : 2u));
    CHECK((map[2] >> 6) == 0); /* the bits past cell 10 stay 0 */
    const uint8_t past_end[] = { 3, 37 }, bad_varint[] = { 1, 0x80 };
    CHECK(frame_fill_apply(map, 11, past_end, sizeof past_end) == -1);
    CHECK(frame_fill_apply(map, 11, bad_varint, sizeof bad_varint) == -1);
    CHECK(frame_kind_apply(map, 11, 7, d, sizeof d) == -1);
    CHECK(frame_kind_apply(map, 11, FRAME_RAW, d, 2) == -1);
}

static void test_frame_rle_round_trips_and_must_cover_the_map(void)
{
    uint8_t v[300], out[300], enc[700];
    for (int i = 0; i < 300; i++)
        v[i] = (uint8_t)(i < 200 ? 0 : i < 250 ? 7 : i);
    size_t len = frame_rle_encode(v, 300, enc, sizeof enc);
    REQUIRE(len > 0);
    CHECK(len < 2 * 52 + 6); /* 0 x200 (3 bytes), 7 x50 (2), 50 singles (2 each) */
    CHECK(frame_rle_decode(enc, len, out, 300) == 0);
    CHECK(memcmp(v, out, 300) == 0);
    CHECK(frame_rle_decode(enc, len, out, 299) == -1);
    CHECK(frame_rle_decode(enc, len - 1, out, 300) == -1);
    CHECK(frame_rle_encode(v, 300, enc, 10) == 0); /* does not fit */
    const uint8_t zero_count[] = { 0, 5 };
    CHECK(frame_rle_decode(zero_count, 2, out, 1) == -1);
}

/* Race `workload` on the six default allocators with a tick every `every` ops and check
 * every tick's delta against the previous; returns the average delta bytes per lane-tick. */
static double race_deltas(const char *workload, uint64_t ops, uint64_t every)
{
    static struct race r;
    struct opstream s;
    struct diag d = { { 0 } };
    const struct workload *w = workload_find(workload);
    if (!w || race_build(w, 1, ops, &s, &d) != 0) {
        fprintf(stderr, "%s: %s\n", workload, d.msg);
        check_cur_failed = 1;
        return 0;
    }
    const struct lab_ops *lanes[6];
    const char *names[] = { "bump", "firstfit", "segfit", "buddy", "slab", "span" };
    for (int k = 0; k < 6; k++)
        lanes[k] = lab_find(names[k]);
    int rc = race_open(&r, &s, lanes, 6, race_auto_arena(&s, LAB_ARENA_MAX), &d);
    opstream_destroy(&s);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", workload, d.msg);
        check_cur_failed = 1;
        return 0;
    }
    uint32_t n = lab_cells_for(r.arena_size);
    size_t nb = frame_packed_bytes(n);
    uint8_t *prev = calloc(6, nb), *cur = calloc(6, nb);
    race_snapshot(&r);
    for (int k = 0; k < 6; k++)
        frame_pack(r.lane[k].cells, n, prev + k * nb);
    uint64_t bytes = 0, frames = 0;
    for (size_t i = 0; i < r.nops; i++) {
        race_step(&r, i);
        if ((i + 1) % every && i + 1 != r.nops) continue;
        race_snapshot(&r);
        for (int k = 0; k < 6; k++) {
            frame_pack(r.lane[k].cells, n, cur + k * nb);
            bytes += delta_round_trip(prev + k * nb, cur + k * nb, n);
            frames++;
        }
        memcpy(prev, cur, 6 * nb);
    }
    free(prev);
    free(cur);
    race_close(&r);
    double avg = frames ? (double)bytes / (double)frames : 0;
    printf("%s: %llu lane-ticks, %.0f bytes per lane-tick on average (delta alone %.0f, fill "
           "alone %.0f)\n",
           workload, (unsigned long long)frames, avg, (double)delta_bytes / (double)frames,
           (double)fill_bytes / (double)frames);
    delta_bytes = fill_bytes = 0;
    return avg;
}

static void test_frame_delta_applies_for_every_tick_of_real_races(void)
{
    CHECK(race_deltas("nginx-requests", 30000, 500) > 0);
    CHECK(race_deltas("fragmentation", 20000, 500) > 0);
    CHECK(race_deltas("adversarial", 30000, 500) > 0);
    CHECK(race_deltas("producer-consumer", 16000, 500) > 0);
    CHECK(race_deltas("large", 400, 50) > 0);
}

int main(void)
{
    RUN_TEST(test_frame_header_round_trips_and_rejects_damage);
    RUN_TEST(test_frame_pack_is_the_tick_files_packing);
    RUN_TEST(test_frame_varints_round_trip_and_reject_overlong);
    RUN_TEST(test_frame_delta_of_random_edits_applies_exactly);
    RUN_TEST(test_frame_delta_of_an_all_new_map_is_refused);
    RUN_TEST(test_frame_delta_decoder_takes_unaligned_runs_and_rejects_bad_ones);
    RUN_TEST(test_frame_fill_decoder_takes_any_run_and_rejects_bad_ones);
    RUN_TEST(test_frame_rle_round_trips_and_must_cover_the_map);
    RUN_TEST(test_frame_delta_applies_for_every_tick_of_real_races);
    return check_report();
}
