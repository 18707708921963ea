/*
 * tests/unit/server/test_blocks.c: a tick's block list (server/blocks.h): a race's capture
 * lists every live block of every lane; the overlay marks only used cells, the
 * highest block winning; a cell's block is the one with the most usable bytes in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "server/blocks.h"
#include "server/frame.h"
#include "util/diag.h"
#include "workload/workload.h"

static void test_blocks_capture_lists_every_live_block_by_offset(void)
{
    struct race r;
    struct opstream s;
    struct diag d = { { 0 } };
    REQUIRE(race_build(workload_find("nginx-requests"), 3, 5000, &s, &d) == 0);
    const struct lab_ops *lanes[2] = { lab_find("firstfit"), lab_find("buddy") };
    REQUIRE(race_open(&r, &s, lanes, 2, LAB_ARENA_DEFAULT, &d) == 0);
    opstream_destroy(&s);
    for (size_t i = 0; i < 3000; i++)
        race_step(&r, i);
    uint32_t *list = NULL;
    size_t cap = 0, len = blocks_capture(&r, &list, &cap);
    REQUIRE(len > 0);
    for (uint32_t k = 0; k < 2; k++) {
        const struct race_lane *l = &r.lane[k];
        const struct blk *b;
        uint32_t n, live = 0;
        REQUIRE(blocks_lane(list, len, k, &b, &n) == 0);
        for (uint32_t obj = 0; obj < r.obj_count; obj++)
            live += l->raw[obj] != NULL && l->req[obj] != 0;
        CHECK_EQ_U64(n, live);
        for (uint32_t i = 0; i + 1 < n; i++) /* object order: distinct blocks */
            CHECK(b[i].off != b[i + 1].off);
        for (uint32_t i = 0; i < n; i++)
            CHECK(b[i].req <= b[i].usable && b[i].born < 3000);
    }
    const struct blk *b;
    uint32_t n;
    CHECK(blocks_lane(list, len, 2, &b, &n) == -1);     /* no third lane */
    CHECK(blocks_lane(list, len - 4, 1, &b, &n) == -1); /* short */
    free(list);
    race_close(&r);
}

static void test_blocks_overlay_and_cell_lookup(void)
{
    /* 8 cells of 32 bytes; cells 0..3 used, 4 free, 5 used */
    uint8_t kinds_unpacked[8] = { 1, 1, 1, 1, 0, 1, 0, 0 }, kinds[2], ov[8];
    uint32_t owner[8];
    frame_pack(kinds_unpacked, 8, kinds);
    const struct blk b[3] = {
        { 48, 20, 32, 9 },  /* cell 1..2: the higher one wins cell 1 (object order) */
        { 0, 40, 48, 5 },   /* cells 0..1 */
        { 128, 64, 64, 1 }, /* cells 4..5: 4 is free */
    };
    blocks_overlay(b, 3, kinds, 8, 32, 10, OVERLAY_CLASS, ov, owner);
    /* classes: 40 -> 3 (33..64), 20 -> 2, 64 -> 3 */
    const uint8_t want_class[8] = { 3, 2, 2, 0, 0, 3, 0, 0 };
    CHECK(memcmp(ov, want_class, 8) == 0);
    blocks_overlay(b, 3, kinds, 8, 32, 10, OVERLAY_AGE, ov, owner);
    CHECK_EQ_U64(ov[0], 1 + 2); /* 4 ops old: log2(5) = 2 */
    CHECK_EQ_U64(ov[1], 1 + 0); /* 0 ops old */
    CHECK_EQ_U64(ov[4], 0);
    CHECK(blocks_at(b, 3, 32, 32) == &b[0]); /* 16 bytes of each: the higher offset */
    CHECK(blocks_at(b, 3, 0, 32) == &b[1]);
    CHECK(blocks_at(b, 3, 96, 32) == NULL);
    CHECK(blocks_at(b, 3, 160, 32) == &b[2]);
}

int main(void)
{
    RUN_TEST(test_blocks_capture_lists_every_live_block_by_offset);
    RUN_TEST(test_blocks_overlay_and_cell_lookup);
    return check_report();
}
