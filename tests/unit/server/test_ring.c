/*
 * tests/unit/server/test_ring.c: the tick ring (server/ring.h): every tick still in the
 * ring reads back exactly as pushed (keyframe plus deltas), also after old groups were
 * dropped; the bytes stay within the cap plus one group; ticks go in order only; details
 * stay within their own cap, the oldest dropped first, the newest always held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "server/frame.h"
#include "server/ring.h"
#include "util/diag.h"
#include "workload/workload.h"

#define LANES 3

/* Every tick of a race of `workload`: the packed maps of LANES lanes, one after another. */
static uint8_t *race_maps(const char *workload, uint64_t ops, uint64_t every, uint32_t *cells,
                          uint32_t *ticks)
{
    static struct race r;
    struct opstream s;
    struct diag d = { { 0 } };
    if (race_build(workload_find(workload), 3, ops, &s, &d) != 0) return NULL;
    const struct lab_ops *lanes[LANES] = { lab_find("firstfit"), lab_find("buddy"),
                                           lab_find("span") };
    int rc = race_open(&r, &s, lanes, LANES, LAB_ARENA_DEFAULT, &d);
    opstream_destroy(&s);
    if (rc != 0) return NULL;
    *cells = lab_cells_for(r.arena_size);
    size_t nb = frame_packed_bytes(*cells), per = LANES * nb;
    size_t max = r.nops / every + 2;
    uint8_t *all = malloc(max * per);
    uint32_t n = 0;
    race_snapshot(&r);
    for (int k = 0; k < LANES; k++)
        frame_pack(r.lane[k].cells, *cells, all + k * nb);
    n++;
    for (size_t i = 0; i < r.nops; i++) {
        race_step(&r, i);
        if ((i + 1) % every && i + 1 != r.nops) continue;
        race_snapshot(&r);
        for (int k = 0; k < LANES; k++)
            frame_pack(r.lane[k].cells, *cells, all + n * per + k * nb);
        n++;
    }
    race_close(&r);
    *ticks = n;
    return all;
}

static void test_ring_reads_back_every_tick_it_holds(void)
{
    uint32_t cells, ticks;
    uint8_t *all = race_maps("nginx-requests", 20000, 200, &cells, &ticks);
    REQUIRE(all != NULL);
    size_t per = LANES * frame_packed_bytes(cells);
    struct ring r;
    REQUIRE(ring_init(&r, LANES, cells, SIZE_MAX, 32) == 0);
    char json[32];
    for (uint32_t t = 0; t < ticks; t++) {
        int n = snprintf(json, sizeof json, "{\"tick\":%u}", t);
        REQUIRE(ring_push(&r, t, (uint64_t)t * 200, all + t * per, json, (size_t)n) == 0);
    }
    CHECK_EQ_U64(ring_first(&r), 0);
    CHECK_EQ_U64(ring_head(&r), ticks - 1);
    uint8_t *maps = malloc(per);
    for (uint32_t t = 0; t < ticks; t++) {
        const struct ring_entry *e;
        REQUIRE(ring_get(&r, t, maps, &e) == 0);
        CHECK(memcmp(maps, all + t * per, per) == 0);
        CHECK_EQ_U64(e->op, (uint64_t)t * 200);
        CHECK_EQ_U64(e->tick, t);
        CHECK_EQ_U64(e->key, t % 32 == 0);
    }
    /* The deltas are what keeps it small: far below raw maps. */
    printf("%u ticks of %u lanes in %zu bytes (raw: %zu)\n", ticks, (unsigned)LANES, r.bytes,
           (size_t)ticks * per);
    CHECK(r.bytes < (size_t)ticks * per / 2);
    CHECK(ring_get(&r, ticks, maps, NULL) == -1);
    CHECK(ring_push(&r, ticks + 1, 0, all, "{}", 2) == -1); /* out of order */
    CHECK(ring_push(&r, ticks - 1, 0, all, "{}", 2) == -1);
    ring_fini(&r);
    free(maps);
    free(all);
}

static void test_ring_drops_whole_old_groups_and_stays_bounded(void)
{
    uint32_t cells, ticks;
    uint8_t *all = race_maps("adversarial", 30000, 100, &cells, &ticks);
    REQUIRE(all != NULL);
    size_t per = LANES * frame_packed_bytes(cells);
    const size_t cap = 6 * per; /* a few keyframes' worth */
    struct ring r;
    REQUIRE(ring_init(&r, LANES, cells, cap, 8) == 0);
    size_t worst = 0, group = 0;
    uint8_t *maps = malloc(per);
    for (uint32_t t = 0; t < ticks; t++) {
        REQUIRE(ring_push(&r, t, t, all + t * per, "{\"x\":1}", 7) == 0);
        if (r.bytes > worst) worst = r.bytes;
        /* The oldest tick is a keyframe, and every tick held reads back exactly. */
        CHECK_EQ_U64(ring_first(&r) % 8, 0);
        CHECK_EQ_U64(ring_head(&r), t);
        uint32_t probe = ring_first(&r) + (t * 7) % (t - ring_first(&r) + 1);
        REQUIRE(ring_get(&r, probe, maps, NULL) == 0);
        CHECK(memcmp(maps, all + probe * per, per) == 0);
    }
    /* A group: a raw keyframe and 7 deltas, each with its bookkeeping. */
    group = 8 * (per + LANES * 5 + 8 + sizeof(struct ring_entry));
    printf("%u ticks: ring holds %u..%u, at most %zu bytes (cap %zu, one group <= %zu)\n", ticks,
           ring_first(&r), ring_head(&r), worst, cap, group);
    CHECK(r.dropped > 0);
    CHECK(worst <= cap + group);
    CHECK(ring_get(&r, 0, maps, NULL) == -1); /* dropped long ago */
    ring_fini(&r);
    free(maps);
    free(all);
}

static void test_ring_details_keep_the_newest_within_their_cap(void)
{
    struct ring r;
    REQUIRE(ring_init(&r, 1, 64, 1 << 20, 4) == 0);
    r.detail_cap = 100;
    uint8_t maps[16] = { 0 }, out[16];
    char d[40];
    for (uint32_t t = 0; t < 20; t++) {
        memset(d, (int)t, sizeof d);
        REQUIRE(ring_push(&r, t, t, maps, "{}", 2) == 0);
        CHECK(ring_attach(&r, d, t == 10 ? 0 : 30) == 0);
        CHECK(r.detail_bytes <= r.detail_cap);
    }
    /* 30 bytes each: the newest three (tick 10's empty one does not count) */
    const void *p;
    size_t len;
    CHECK(ring_detail(&r, 19, &p, &len) == 0 && len == 30 && ((const char *)p)[0] == 19);
    CHECK(ring_detail(&r, 17, &p, &len) == 0 && len == 30 && ((const char *)p)[29] == 17);
    CHECK(ring_detail(&r, 16, &p, &len) == -1);
    CHECK(ring_detail(&r, 0, &p, &len) == -1);
    CHECK(ring_get(&r, 0, out, NULL) == 0); /* the tick itself is still held */
    CHECK(ring_detail(&r, 20, &p, &len) == -1);
    CHECK(ring_attach(&r, d, 101) == -1); /* over the cap alone */
    CHECK(ring_detail(&r, 19, &p, &len) == 0);
    ring_fini(&r);
}

int main(void)
{
    RUN_TEST(test_ring_details_keep_the_newest_within_their_cap);
    RUN_TEST(test_ring_reads_back_every_tick_it_holds);
    RUN_TEST(test_ring_drops_whole_old_groups_and_stays_bounded);
    return check_report();
}
