/*
 * tests/unit/server/test_real_request.c: the real allocators view's start message
 * (server/real.h): every field parses, defaults apply (every: REAL_SHOTS_AUTO maps), and
 * malformed messages, values out of range, unknown workloads and allocators, repeats, too
 * many maps and a workload with a trace are refused with one line naming the value.
 */
#include <string.h>

#include "check.h"
#include "server/real.h"
#include "util/diag.h"
#include "workload/workload.h"

static int parse(const char *text, struct real_request *r, struct diag *d)
{
    memset(d, 0, sizeof *d);
    return real_request_parse(text, strlen(text), r, d);
}

static void test_real_start_takes_every_field(void)
{
    struct real_request r;
    struct diag d;
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"known-live\",\"seed\":9,\"ops\":30002,"
                  "\"threads\":2,\"every\":1000,\"allocators\":[\"hlmalloc\",\"glibc\"]}",
                  &r, &d)
            == REAL_MSG_START);
    CHECK(r.workload == workload_find("known-live"));
    CHECK(r.trace[0] == 0);
    CHECK_EQ_U64(r.seed, 9);
    CHECK_EQ_U64(r.ops, 30002);
    CHECK_EQ_U64(r.threads, 2);
    CHECK_EQ_U64(r.every, 1000);
    CHECK_EQ_U64(r.n_allocs, 2);
    CHECK(strcmp(r.allocs[0], "hlmalloc") == 0 && strcmp(r.allocs[1], "glibc") == 0);
}

static void test_real_start_defaults(void)
{
    struct real_request r;
    struct diag d;
    REQUIRE(parse("{\"type\":\"start\",\"workload\":\"known-live\",\"allocators\":[\"glibc\"]}", &r,
                  &d)
            == REAL_MSG_START);
    CHECK_EQ_U64(r.seed, 1);
    CHECK_EQ_U64(r.ops, 0);
    CHECK_EQ_U64(r.threads, 1);
    CHECK_EQ_U64(r.every, workload_find("known-live")->default_ops / REAL_SHOTS_AUTO);
    REQUIRE(parse("{\"type\":\"start\",\"trace\":\"upload:12\",\"allocators\":[\"glibc\"]}", &r, &d)
            == REAL_MSG_START);
    CHECK(r.workload == NULL && strcmp(r.trace, "upload:12") == 0);
    CHECK_EQ_U64(r.every, 0); /* a trace: the worker's own default */
    CHECK(parse("{\"type\":\"stop\"}", &r, &d) == REAL_MSG_STOP);
}

/* `text` is refused and the reason contains `want`. */
static void refused(const char *text, const char *want)
{
    struct real_request r;
    struct diag d;
    CHECK(parse(text, &r, &d) == -1);
    if (!strstr(d.msg, want)) {
        CHECK(!"the reason names the value");
        fprintf(stderr, "  %s -> \"%s\", wanted \"%s\"\n", text, d.msg, want);
    }
}

static void test_real_bad_messages_are_refused(void)
{
    refused("", "not a JSON object");
    refused("[1]", "not a JSON object");
    refused("{\"type\":3}", "type");
    refused("{\"type\":\"go\"}", "unknown type \"go\"");
    refused("{\"type\":\"start\",\"allocators\":[\"glibc\"]}", "a workload or a trace");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"trace\":\"a.trace\",\"allocators\":["
            "\"glibc\"]}",
            "not both");
    refused("{\"type\":\"start\",\"workload\":\"nope\",\"allocators\":[\"glibc\"]}", "\"nope\"");
    refused("{\"type\":\"start\",\"workload\":\"a\\nb\",\"allocators\":[\"glibc\"]}",
            "\"a?b\""); /* one line, whatever the page sends */
    refused("{\"type\":\"start\",\"trace\":\"../x\",\"allocators\":[\"glibc\"]}", "../x");
    refused("{\"type\":\"start\",\"trace\":\"upload:\",\"allocators\":[\"glibc\"]}", "upload:");
    refused("{\"type\":\"start\",\"workload\":\"small\"}", "allocators");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[]}", "allocators");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[1]}", "names only");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[\"x\"]}", "\"x\"");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"allocators\":[\"glibc\",\"glibc\"]}",
            "twice");
}

static void test_real_values_out_of_range_are_refused(void)
{
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":0,\"allocators\":[\"glibc\"]}",
            "ops");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":2000001,\"allocators\":[\"glibc\"]"
            "}",
            "ops");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":1.5,\"allocators\":[\"glibc\"]}",
            "ops");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"seed\":-1,\"allocators\":[\"glibc\"]}",
            "seed");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"threads\":9,\"allocators\":[\"glibc\"]}",
            "threads");
    refused("{\"type\":\"start\",\"workload\":\"producer-consumer\",\"threads\":1,\"allocators\":["
            "\"glibc\"]}",
            "at least 2");
    refused("{\"type\":\"start\",\"workload\":\"small\",\"ops\":100000,\"every\":389,"
            "\"allocators\":[\"glibc\"]}",
            "every 389: more than 256 snapshots of 100000 ops (at least 390)");
    struct real_request r;
    struct diag d;
    CHECK(parse("{\"type\":\"start\",\"workload\":\"small\",\"ops\":100000,\"every\":390,"
                "\"allocators\":[\"glibc\"]}",
                &r, &d)
          == REAL_MSG_START); /* 256 maps: REAL_SHOTS_MAX */
}

int main(void)
{
    RUN_TEST(test_real_start_takes_every_field);
    RUN_TEST(test_real_start_defaults);
    RUN_TEST(test_real_bad_messages_are_refused);
    RUN_TEST(test_real_values_out_of_range_are_refused);
    return check_report();
}
