/*
 * tests/unit/server/test_request.c: the page's messages (server/request.h): every type
 * parses with its fields and defaults; malformed messages, values out of range, unknown
 * workloads, allocators and fields are refused with one line naming the problem.
 */
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "server/request.h"
#include "server/server.h"
#include "workload/workload.h"

static struct server_limits lim;

static int parse(const char *text, struct request *q, char *err)
{
    return request_parse(text, strlen(text), &lim, 0, q, err, 200);
}

static void test_request_start_takes_every_field(void)
{
    struct request q;
    char err[200];
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"nginx-requests\",\"seed\":42,\"ops\":50000,"
                  "\"arena\":4194304,\"allocators\":[\"span\",\"firstfit-best\"],"
                  "\"tick_every\":500,\"tps\":0}",
                  &q, err)
            == 0);
    CHECK(q.type == REQ_START);
    CHECK(q.start.workload == workload_find("nginx-requests"));
    CHECK(q.start.trace[0] == 0);
    CHECK_EQ_U64(q.start.seed, 42);
    CHECK_EQ_U64(q.start.ops, 50000);
    CHECK_EQ_U64(q.start.arena, 4194304);
    CHECK_EQ_U64(q.start.nlanes, 2);
    CHECK(q.start.lanes[0] == lab_find("span") && q.start.lanes[1] == lab_find("firstfit-best"));
    CHECK_EQ_U64(q.start.tick_every, 500);
    CHECK_EQ_U64(q.start.tps, 0);
    CHECK_EQ_U64(q.start.encodings, REQUEST_ENC_DEFAULT);
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"small\",\"encodings\":[1,3]}", &q, err) == 0);
    CHECK_EQ_U64(q.start.encodings, REQUEST_ENC_DELTA | REQUEST_ENC_FILL);
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"small\",\"encodings\":[]}", &q, err) == 0);
    CHECK_EQ_U64(q.start.encodings, 0); /* raw only */
    /* ops with a trace is ignored (its events decide) */
    REQUIRE(parse("{\"type\":\"start\",\"trace\":\"a.trace\",\"ops\":5}", &q, err) == 0);
    CHECK_EQ_U64(q.start.ops, 0);
}

static void test_request_start_defaults(void)
{
    struct request q;
    char err[200];
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"small\"}", &q, err) == 0);
    CHECK_EQ_U64(q.start.seed, 1);
    CHECK_EQ_U64(q.start.ops, 0);
    CHECK_EQ_U64(q.start.arena, 0);
    CHECK_EQ_U64(q.start.tick_every, 0);
    CHECK_EQ_U64(q.start.tps, REQUEST_TPS_AUTO);
    REQUIRE(q.start.nlanes == 6);
    const char *names[] = { "bump", "firstfit", "segfit", "buddy", "slab", "span" };
    for (int k = 0; k < 6; k++)
        CHECK(strcmp(q.start.lanes[k]->name, names[k]) == 0);
    REQUIRE(parse("{\"type\":\"start\",\"trace\":\"upload:17\",\"arena\":0,\"tick_every\":0}", &q,
                  err)
            == 0);
    CHECK(q.start.workload == NULL);
    CHECK(strcmp(q.start.trace, "upload:17") == 0);
    REQUIRE(parse("{\"type\":\"start\",\"trace\":\"py-3.trace\"}", &q, err) == 0);
    CHECK(strcmp(q.start.trace, "py-3.trace") == 0);
}

static void test_request_controls_parse(void)
{
    struct request q;
    char err[200];
    REQUIRE(parse("{\"type\":\"pause\"}", &q, err) == 0);
    CHECK(q.type == REQ_PAUSE);
    REQUIRE(parse(" {\"type\":\"resume\"} ", &q, err) == 0);
    CHECK(q.type == REQ_RESUME);
    REQUIRE(parse("{\"type\":\"step\"}", &q, err) == 0);
    CHECK(q.type == REQ_STEP);
    REQUIRE(parse("{\"type\":\"speed\",\"tps\":240}", &q, err) == 0);
    CHECK(q.type == REQ_SPEED && q.tps == 240);
    REQUIRE(parse("{\"type\":\"seek\",\"tick\":4294967295}", &q, err) == 0);
    CHECK(q.type == REQ_SEEK && q.tick == UINT32_MAX);
    REQUIRE(parse("{\"type\":\"overlay\",\"mode\":\"age\"}", &q, err) == 0);
    CHECK(q.type == REQ_OVERLAY && q.overlay == OVERLAY_AGE);
    REQUIRE(parse("{\"mode\":\"class\",\"type\":\"overlay\"}", &q, err) == 0);
    CHECK(q.overlay == OVERLAY_CLASS);
    REQUIRE(parse("{\"type\":\"cell\",\"lane\":5,\"cell\":65535}", &q, err) == 0);
    CHECK(q.type == REQ_CELL && q.lane == 5 && q.cell == 65535);
}

/* `text` is refused with an error containing `why`, and the type it was. */
static void refused(const char *text, enum request_type type, const char *why)
{
    struct request q;
    char err[200] = "";
    int rc = parse(text, &q, err);
    if (rc != -1 || strstr(err, why) == NULL || q.type != type) {
        fprintf(stderr, "  %s\n  -> rc %d, type %d, \"%s\" (wanted \"%s\")\n", text, rc, q.type,
                err, why);
        check_cur_failed = 1;
    }
    CHECK(strchr(err, '\n') == NULL);
}

static void test_request_malformed_messages_are_refused(void)
{
    refused("", REQ_NONE, "not JSON");
    refused("{\"type\":\"start\"", REQ_NONE, "not JSON");
    refused("[1,2]", REQ_NONE, "JSON object");
    refused("\"start\"", REQ_NONE, "JSON object");
    refused("{}", REQ_NONE, "no type");
    refused("{\"type\":3}", REQ_NONE, "type must be a string");
    refused("{\"type\":\"launch\"}", REQ_NONE, "unknown message type \"launch\"");
    refused("{\"type\":\"pause\",\"now\":true}", REQ_PAUSE, "pause takes no field \"now\"");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"sed\":1}", REQ_START, "field \"sed\"");
    refused("{\"type\":\"speed\"}", REQ_SPEED, "speed needs tps");
    refused("{\"type\":\"seek\",\"tick\":\"3\"}", REQ_SEEK, "tick must be a number");
    refused("{\"type\":\"overlay\",\"mode\":\"heat\"}", REQ_OVERLAY, "unknown overlay mode");
    refused("{\"type\":\"cell\",\"lane\":1}", REQ_CELL, "cell needs lane and cell");
    char big[70000];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"type\":\"pause\"}", 16);
    big[sizeof big - 1] = 0;
    refused(big, REQ_NONE, "over the limit");
}

static void test_request_values_out_of_range_are_refused(void)
{
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":0}", REQ_START,
            "ops 0 is out of range");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":2000001}", REQ_START,
            "ops 2000001 is out of range (1..2000000)");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":-5}", REQ_START, "whole number");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":1.5}", REQ_START, "whole number");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":1e300}", REQ_START, "whole number");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"seed\":9007199254740992}", REQ_START,
            "whole number");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"arena\":3000000}", REQ_START,
            "not a power of two");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"arena\":32768}", REQ_START,
            "not a power of two from 65536");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"arena\":536870912}", REQ_START,
            "out of range");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"tick_every\":10}", REQ_START,
            "tick_every 10 is below 50");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"tps\":241}", REQ_START, "tps 241");
    refused("{\"type\":\"speed\",\"tps\":1000}", REQ_SPEED, "tps 1000 is out of range (0..240)");
    refused("{\"type\":\"seek\",\"tick\":4294967296}", REQ_SEEK, "out of range");
}

static void test_request_unknown_names_are_refused(void)
{
    refused("{\"type\":\"start\",\"workload\":\"nginx\"}", REQ_START, "unknown workload \"nginx\"");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[\"tlsf\"]}", REQ_START,
            "unknown allocator \"tlsf\" (not in heaplab list lab)");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[\"span\",\"span\"]}",
            REQ_START, "named twice");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[]}", REQ_START, "1 to 16");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":\"span\"}", REQ_START,
            "array of names");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[1]}", REQ_START,
            "array of names");
    refused("{\"type\":\"start\"}", REQ_START, "needs a workload or a trace");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"trace\":\"a\"}", REQ_START, "not both");
    refused("{\"type\":\"start\",\"trace\":\"../etc/passwd\"}", REQ_START, "bad trace");
    refused("{\"type\":\"start\",\"trace\":\".hidden\"}", REQ_START, "bad trace");
    refused("{\"type\":\"start\",\"trace\":\"/abs\"}", REQ_START, "bad trace");
    refused("{\"type\":\"start\",\"trace\":\"upload:\"}", REQ_START, "bad trace");
    refused("{\"type\":\"start\",\"trace\":\"upload:1x\"}", REQ_START, "bad trace");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"encodings\":[2]}", REQ_START,
            "encodings: 0 (raw), 1 (delta) or 3 (fill)");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"encodings\":1}", REQ_START,
            "encodings must be an array");
    /* What a refusal quotes is cut short and printable. */
    struct request q;
    char err[200];
    CHECK(parse("{\"type\":\"start\",\"workload\":\"\\u0001xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxx\"}",
                &q, err)
          == -1);
    CHECK(strstr(err, "\"?xxx") != NULL && strstr(err, "...\"") != NULL);
}

static void test_request_start_of_a_tick_file_takes_only_tps(void)
{
    struct request q;
    char err[200];
    REQUIRE(request_parse("{\"type\":\"start\",\"tps\":5,\"workload\":\"whatever\"}", 46, &lim, 1,
                          &q, err, sizeof err)
            == 0);
    CHECK(q.type == REQ_START && q.start.tps == 5 && q.start.workload == NULL);
    REQUIRE(request_parse("{\"type\":\"start\"}", 16, &lim, 1, &q, err, sizeof err) == 0);
    CHECK(q.start.tps == REQUEST_TPS_AUTO);
    CHECK(request_parse("{\"type\":\"start\",\"tps\":999}", 26, &lim, 1, &q, err, sizeof err)
          == -1);
}

int main(void)
{
    server_limits_default(&lim);
    RUN_TEST(test_request_start_takes_every_field);
    RUN_TEST(test_request_start_defaults);
    RUN_TEST(test_request_controls_parse);
    RUN_TEST(test_request_malformed_messages_are_refused);
    RUN_TEST(test_request_values_out_of_range_are_refused);
    RUN_TEST(test_request_unknown_names_are_refused);
    RUN_TEST(test_request_start_of_a_tick_file_takes_only_tps);
    return check_report();
}
