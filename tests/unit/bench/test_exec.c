/*
 * tests/unit/bench/test_exec.c: the executor run in-process (under whatever malloc this
 * test runs with): it counts the ops it was given, accounts live bytes, honours
 * cross-thread ordering, and reports sane memory figures.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "bench/bench.h"
#include "check.h"
#include "util/diag.h"
#include "workload/workload.h"

static double num(const cJSON *j, const char *path)
{
    double v = -1;
    bench_json_number(j, path, &v);
    return v;
}

/* Run `workload` in this process, through malloc or (lab != NULL) a lab allocator. */
static cJSON *run_on(const char *lab, const char *workload, unsigned threads, uint64_t ops,
                     int latency)
{
    struct opstream s;
    struct diag d = { { 0 } };
    struct wl_params p = { .seed = 42, .ops = ops, .threads = threads };
    if (workload_build(workload_find(workload), &p, &s, &d) != 0) {
        fprintf(stderr, "build: %s\n", d.msg);
        return NULL;
    }
    struct exec_opts o;
    memset(&o, 0, sizeof(o));
    o.latency = latency;
    o.sample_stride = 4;
    o.sample_ms = 5;
    o.lab = lab ? bench_lab_find(lab) : NULL;
    cJSON *r = exec_stream(&s, &o, &d);
    if (!r)
        fprintf(stderr, "exec: %s\n", d.msg);
    else
        cJSON_AddNumberToObject(r, "expect_live", (double)opstream_peak_live(&s));
    opstream_destroy(&s);
    return r;
}

static cJSON *run(const char *workload, unsigned threads, uint64_t ops, int latency)
{
    return run_on(NULL, workload, threads, ops, latency);
}

static void test_exec_counts_every_op_once(void)
{
    cJSON *r = run("mixed", 1, 20000, 0);
    REQUIRE(r);
    CHECK(num(r, "ops") == num(r, "ops_expected"));
    CHECK(num(r, "ops") == num(r, "n_alloc") + num(r, "n_free") + num(r, "n_realloc"));
    CHECK(num(r, "alloc_failures") == 0);
    CHECK(num(r, "ops_per_sec") > 0);
    CHECK(num(r, "peak_live_bytes") == num(r, "expect_live"));
    CHECK(num(r, "peak_rss_bytes") > 0);
    CHECK(cJSON_GetObjectItem(r, "latency") == NULL);
    cJSON_Delete(r);
}

static void test_exec_latency_pass_samples_calls(void)
{
    cJSON *r = run("random-stress", 1, 20000, 1);
    REQUIRE(r);
    double n_malloc = num(r, "latency.malloc.count"), n_free = num(r, "latency.free.count");
    /* Stride 4: about a quarter of the calls are timed. */
    CHECK(n_malloc > 0.1 * num(r, "n_alloc") && n_malloc < 0.5 * num(r, "n_alloc"));
    CHECK(n_free > 0);
    CHECK(num(r, "latency.malloc.p50_ns") <= num(r, "latency.malloc.p99_ns"));
    CHECK(num(r, "latency.malloc.p99_ns") <= num(r, "latency.malloc.max_ns"));
    CHECK(num(r, "latency.timer_overhead_ns") > 0);
    cJSON_Delete(r);
}

static void test_exec_cross_thread_stream_completes(void)
{
    cJSON *r = run("producer-consumer", 2, 20000, 1);
    REQUIRE(r);
    CHECK(num(r, "ops") == num(r, "ops_expected"));
    CHECK(num(r, "alloc_failures") == 0);
    cJSON_Delete(r);
    r = run("shared-pool", 4, 5000, 0);
    REQUIRE(r);
    CHECK(num(r, "ops") == num(r, "ops_expected"));
    cJSON_Delete(r);
}

/* Contention: one entry per thread, and blocked = wall - on CPU - waiting (>= 0) in each. */
static void test_exec_reports_contention_per_thread(void)
{
    cJSON *r = run("shared-pool", 2, 5000, 0);
    REQUIRE(r);
    const cJSON *c = cJSON_GetObjectItem(r, "contention");
    REQUIRE(cJSON_IsObject(c));
    const cJSON *threads = cJSON_GetObjectItem(c, "threads");
    REQUIRE(cJSON_GetArraySize(threads) == 2);
    int schedstat = strcmp(cJSON_GetObjectItem(c, "source")->valuestring, "schedstat") == 0;
    double sum_wall = 0, sum_blocked = 0, sum_vol = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, threads)
    {
        double wall = num(t, "wall_ns"), cpu = num(t, "cpu_ns"), blocked = num(t, "blocked_ns");
        double runq = schedstat ? num(t, "runqueue_ns") : 0;
        CHECK(wall > 0 && cpu >= 0 && runq >= 0 && blocked >= 0);
        CHECK(runq <= wall); /* the window brackets every wait counted in it */
        CHECK(blocked == (wall > cpu + runq ? wall - cpu - runq : 0));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(t, "runqueue_ns")) == !schedstat);
        sum_wall += wall;
        sum_blocked += blocked;
        sum_vol += num(t, "voluntary_switches");
    }
    CHECK(num(c, "thread_ns") == sum_wall);
    CHECK(num(c, "blocked_ns") == sum_blocked);
    CHECK(num(c, "voluntary_switches") == sum_vol);
    CHECK(num(c, "involuntary_switches") >= 0);
    cJSON_Delete(r);
}

static void test_exec_fragmentation_reports_marks_and_reuse(void)
{
    cJSON *r = run("fragmentation", 1, 50000, 0);
    REQUIRE(r);
    const cJSON *marks = cJSON_GetObjectItem(r, "marks");
    CHECK(cJSON_GetArraySize(marks) == 5);
    static const char *const keys[] = { "hole_reuse", "hole_reuse_smaller", "hole_reuse_equal",
                                        "hole_reuse_larger" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double reuse = num(r, keys[i]);
        CHECK(reuse >= 0 && reuse <= 1);
    }
    const cJSON *src = cJSON_GetObjectItem(r, "footprint_source");
    CHECK(cJSON_IsString(src) && strcmp(src->valuestring, "rss") == 0);
    /* Live bytes at "holes" are below those at "filled": half was freed. */
    CHECK(num(cJSON_GetArrayItem(marks, 1), "live_bytes")
          < num(cJSON_GetArrayItem(marks, 0), "live_bytes"));
    /* Under malloc the footprint is RSS, and the ratio is footprint / live. */
    const cJSON *m;
    cJSON_ArrayForEach(m, marks)
    {
        CHECK(num(m, "footprint_bytes") == num(m, "rss_bytes"));
        CHECK(num(m, "frag") == num(m, "footprint_bytes") / num(m, "live_bytes"));
    }
    cJSON_Delete(r);
}

/*
 * Under lab allocators the footprint is the allocator's own, exact to the byte, so the
 * bands' reuse is exact too: bump never reuses a hole; segfit splits holes for the smaller
 * band and fits the equal band into them; neither can put the larger band in a hole.
 */
static void test_exec_fragmentation_lab_reuse_by_band(void)
{
    cJSON *bump = run_on("bump", "fragmentation", 1, 6000, 0);
    cJSON *segfit = run_on("segfit", "fragmentation", 1, 6000, 0);
    REQUIRE(bump && segfit);
    const cJSON *src = cJSON_GetObjectItem(bump, "footprint_source");
    CHECK(cJSON_IsString(src) && strcmp(src->valuestring, "lab") == 0);
    CHECK(num(bump, "hole_reuse_smaller") == 0);
    CHECK(num(bump, "hole_reuse_equal") == 0);
    CHECK(num(bump, "hole_reuse_larger") == 0);
    CHECK(num(segfit, "hole_reuse_smaller") == 1);
    CHECK(num(segfit, "hole_reuse_equal") == 1);
    CHECK(num(segfit, "hole_reuse_larger") == 0);
    /* bump's footprint only grows: at the last mark it holds more than segfit. */
    const cJSON *mb = cJSON_GetObjectItem(bump, "marks"),
                *ms = cJSON_GetObjectItem(segfit, "marks");
    CHECK(num(cJSON_GetArrayItem(mb, 4), "footprint_bytes")
          > num(cJSON_GetArrayItem(ms, 4), "footprint_bytes"));
    cJSON_Delete(bump);
    cJSON_Delete(segfit);
}

/*
 * The snapshot pass, threads stopped at each snapshot (also under ASan and TSan): every
 * thread-0 mark and the end are there, the map holds exactly the stream's live bytes (inside
 * the allocator's regions, or outside them under a sanitizer's allocator, but all of them),
 * and the statistics name the same live bytes. With cross-thread frees at 2 threads.
 */
static void check_snapshots(const char *workload, unsigned threads, uint64_t ops,
                            const char *const *want, size_t n_want)
{
    struct opstream s;
    struct diag d = { { 0 } };
    struct wl_params p = { .seed = 42, .ops = ops, .threads = threads };
    REQUIRE(workload_build(workload_find(workload), &p, &s, &d) == 0);
    struct exec_opts o;
    memset(&o, 0, sizeof o);
    o.inside = EXEC_INSIDE_HEAPMAP | EXEC_INSIDE_STATS;
    o.heapmap_every = ops / 4;
    cJSON *r = exec_stream(&s, &o, &d);
    uint64_t end_live = s.live_bytes;
    opstream_destroy(&s);
    REQUIRE(r);
    const cJSON *maps = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "heapmap"), "snapshots");
    const cJSON *stats = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "alloc_stats"), "snapshots");
    REQUIRE(cJSON_GetArraySize(maps) >= (int)n_want);
    CHECK(cJSON_GetArraySize(maps) == cJSON_GetArraySize(stats));
    size_t found = 0;
    for (int i = 0; i < cJSON_GetArraySize(maps); i++) {
        const cJSON *m = cJSON_GetArrayItem(maps, i), *st = cJSON_GetArrayItem(stats, i);
        const char *label = cJSON_GetObjectItem(m, "label")->valuestring;
        CHECK(strcmp(label, cJSON_GetObjectItem(st, "label")->valuestring) == 0);
        CHECK(num(m, "live_bytes") + num(m, "outside_bytes") == num(st, "live_bytes"));
        if (found < n_want && strcmp(label, want[found]) == 0) found++;
        if (strcmp(label, "end") == 0) CHECK(num(st, "live_bytes") == (double)end_live);
    }
    CHECK_EQ_U64(found, n_want); /* in order */
    cJSON_Delete(r);
}

static void test_exec_inside_pass_snapshots_marks_and_end(void)
{
    static const char *const frag[] = { "filled",       "holes",         "refill-smaller",
                                        "refill-equal", "refill-larger", "end" };
    check_snapshots("fragmentation", 1, 20000, frag, 6);
    static const char *const end[] = { "end" };
    check_snapshots("producer-consumer", 2, 20000, end, 1);
    check_snapshots("fragmentation", 3, 6000, frag, 6); /* thread 0's marks */
}

int main(void)
{
    RUN_TEST(test_exec_counts_every_op_once);
    RUN_TEST(test_exec_latency_pass_samples_calls);
    RUN_TEST(test_exec_cross_thread_stream_completes);
    RUN_TEST(test_exec_reports_contention_per_thread);
    RUN_TEST(test_exec_fragmentation_reports_marks_and_reuse);
    RUN_TEST(test_exec_fragmentation_lab_reuse_by_band);
    RUN_TEST(test_exec_inside_pass_snapshots_marks_and_end);
    return check_report();
}
