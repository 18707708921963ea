/*
 * tests/unit/race/test_race.c: the lockstep race engine (race/race.h): the packed cell
 * encoding of the tick file, the flattening of a two-thread stream under its seq numbers,
 * and lanes that see the same ops and keep the lab's accounting identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "util/diag.h"
#include "workload/workload.h"

static void test_race_cells_pack_two_bits_per_cell_low_first(void)
{
    /* Cells 0,1,2,3 fill byte 0 from the low bits: 0xE4; cell 4 (waste) is byte 1: 0x03. */
    const uint8_t cells[] = { LAB_FREE, LAB_USED, LAB_META, LAB_WASTE, LAB_WASTE };
    char out[16];
    CHECK_EQ_U64(race_cells_b64_len(5), 4);
    CHECK_EQ_U64(race_cells_b64(cells, 5, out), 4);
    CHECK(strcmp(out, "5AM=") == 0);
}

static void test_race_cells_empty_map_is_empty_string(void)
{
    char out[4] = "x";
    CHECK_EQ_U64(race_cells_b64_len(0), 0);
    CHECK_EQ_U64(race_cells_b64(NULL, 0, out), 0);
    CHECK(out[0] == 0);
}

/* Build `name` with `ops` ops (per thread) on the threads it needs. 0, or -1. */
static int build(const char *name, uint64_t ops, struct opstream *s)
{
    const struct workload *w = workload_find(name);
    if (w == NULL) return -1;
    struct wl_params p = { .seed = 1, .ops = ops, .threads = w->min_threads ? w->min_threads : 1 };
    struct diag d = { { 0 } };
    if (workload_build(w, &p, s, &d) != 0) {
        fprintf(stderr, "workload_build(%s): %s\n", name, d.msg);
        return -1;
    }
    return 0;
}

static void test_race_two_thread_stream_flattens_in_seq_order(void)
{
    static struct race r;
    struct opstream s;
    REQUIRE(build("producer-consumer", 3000, &s) == 0);
    REQUIRE(s.threads == 2);
    uint64_t total = opstream_ops(&s);
    const struct lab_ops *lanes[] = { lab_find("firstfit") };
    struct diag d = { { 0 } };
    int rc = race_open(&r, &s, lanes, 1, LAB_ARENA_DEFAULT, &d);
    opstream_destroy(&s);
    REQUIRE(rc == 0);
    CHECK_EQ_U64(r.nops, total);
    uint32_t *next = calloc(r.obj_count ? r.obj_count : 1, sizeof *next);
    REQUIRE(next != NULL);
    int in_order = 1, threads_seen = 0;
    for (size_t i = 0; i < r.nops; i++) {
        const struct op *o = &r.order[i];
        threads_seen |= 1 << o->thread;
        if (o->kind == OP_MARK) continue;
        in_order &= o->seq == next[o->obj];
        next[o->obj] = o->seq + 1;
    }
    CHECK(in_order);
    CHECK(threads_seen == 3);
    free(next);
    race_close(&r);
}

static void test_race_lanes_run_every_op_and_keep_the_identity(void)
{
    static struct race r;
    struct opstream s;
    REQUIRE(build("small", 4000, &s) == 0);
    const struct lab_ops *lanes[] = { lab_find("bump"), lab_find("segfit"), lab_find("buddy") };
    REQUIRE(lanes[0] && lanes[1] && lanes[2]);
    struct diag d = { { 0 } };
    int rc = race_open(&r, &s, lanes, 3, LAB_ARENA_DEFAULT, &d);
    opstream_destroy(&s);
    REQUIRE(rc == 0);
    r.check_each = 1;
    uint64_t calls = 0;
    for (size_t i = 0; i < r.nops; i++) {
        race_step(&r, i);
        calls += r.order[i].kind != OP_MARK;
    }
    race_snapshot(&r);
    for (size_t k = 0; k < r.nlanes; k++) {
        const struct race_lane *l = &r.lane[k];
        CHECK(!l->broken);
        CHECK_EQ_U64(l->calls, calls);
        CHECK_EQ_U64(l->failures, 0);
        CHECK_EQ_U64(l->live_req, r.lane[0].live_req); /* lockstep: the same live set */
        CHECK_EQ_U64(l->live_usable + l->stats.meta_bytes + l->stats.free_bytes
                             + l->stats.slack_bytes,
                     r.arena_size);
        CHECK_EQ_U64(l->snapshots, 1);
    }
    race_close(&r);
}

static void test_race_open_refuses_no_lanes(void)
{
    static struct race r;
    struct opstream s;
    REQUIRE(build("small", 100, &s) == 0);
    struct diag d = { { 0 } };
    CHECK(race_open(&r, &s, NULL, 0, LAB_ARENA_DEFAULT, &d) == -1);
    CHECK(d.msg[0] != 0);
    opstream_destroy(&s);
}

int main(void)
{
    RUN_TEST(test_race_cells_pack_two_bits_per_cell_low_first);
    RUN_TEST(test_race_cells_empty_map_is_empty_string);
    RUN_TEST(test_race_two_thread_stream_flattens_in_seq_order);
    RUN_TEST(test_race_lanes_run_every_op_and_keep_the_identity);
    RUN_TEST(test_race_open_refuses_no_lanes);
    return check_report();
}
