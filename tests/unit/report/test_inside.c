/*
 * tests/unit/report/test_inside.c: a cell's inside sections as a report holds them
 * (report/inside.c): heap map cells re-encoded in squares of f cells (residency by half,
 * the bucket the mean rounded up, unknown residency wins, long not-resident stretches
 * folded, malformed text refused), the page's budget of bytes for heap maps (a snapshot it cannot pay
 * for keeps its totals and says so), statistics with "not exposed" kept null, and OS calls.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report/report.h"

static const char *fold(const char *in, size_t f, size_t fold_min, size_t *squares)
{
    static char out[4096];
    long n = report_rle_fold(in, f, fold_min, out, sizeof out, squares);
    return n < 0 ? "(error)" : out;
}

static void test_fold_by_one_is_the_same_text(void)
{
    size_t sq = 0;
    CHECK(strcmp(fold("3a12i40A", 1, 1000, &sq), "3a12i40A") == 0 && sq == 55);
    CHECK(strcmp(fold("p2qx", 1, 1000, &sq), "p2qx") == 0 && sq == 4);
    CHECK(strcmp(fold("", 1, 1000, &sq), "") == 0 && sq == 0);
}

static void test_fold_merges_squares(void)
{
    size_t sq = 0;
    /* 4 full + 4 empty resident: two squares of 4, one of each. */
    CHECK(strcmp(fold("4i4a", 4, 1000, &sq), "ia") == 0 && sq == 2);
    /* full, empty: the mean bucket 4, rounded up from 4; full + 3 empty: 8/4 = 2. */
    CHECK(strcmp(fold("ia", 2, 1000, &sq), "e") == 0);
    CHECK(strcmp(fold("i3a", 4, 1000, &sq), "c") == 0);
    /* One live byte in 8 cells is never empty: ceil(1/8) = 1. */
    CHECK(strcmp(fold("b7a", 8, 1000, &sq), "b") == 0);
    /* Residency: resident when at least half are. */
    CHECK(strcmp(fold("2a2A", 4, 1000, &sq), "a") == 0);
    CHECK(strcmp(fold("a3A", 4, 1000, &sq), "A") == 0);
    /* Unknown residency in a square makes it unknown. */
    CHECK(strcmp(fold("3ip", 4, 1000, &sq), "v") == 0);
    /* The end starts no new square: 5 cells in squares of 4 are 2 squares. */
    CHECK(strcmp(fold("5i", 4, 1000, &sq), "2i") == 0 && sq == 2);
    /* A run of 10^11 cells is counted, not walked. */
    CHECK(strcmp(fold("99999999999i", 1, 1000, &sq), "99999999999i") == 0 && sq == 99999999999u);
    CHECK(strcmp(fold("99999999999i", 1024, 1000, &sq), "97656250i") == 0 && sq == 97656250);
    /* Runs of whole squares stay runs. */
    CHECK(strcmp(fold("4000i8a", 8, 100000, &sq), "500ia") == 0 && sq == 501);
}

static void test_fold_long_not_resident_stretches(void)
{
    size_t sq = 0;
    CHECK(strcmp(fold("2a300A2i", 1, 256, &sq), "2a300-2i") == 0 && sq == 4);
    /* A stretch shorter than fold_min is drawn; a live one (B..I) never folds. */
    CHECK(strcmp(fold("2a255A", 1, 256, &sq), "2a255A") == 0);
    CHECK(strcmp(fold("300B", 1, 256, &sq), "300B") == 0);
    /* A fold ends the square being filled: "ia" before it is one square of 2. */
    CHECK(strcmp(fold("ia300Aii", 4, 256, &sq), "e300-i") == 0 && sq == 2);
}

static void test_fold_refuses_bad_text(void)
{
    char out[8];
    size_t sq;
    CHECK(report_rle_fold("3z", 1, 256, out, sizeof out, &sq) == -1);
    CHECK(report_rle_fold("0a", 1, 256, out, sizeof out, &sq) == -1);
    CHECK(report_rle_fold("12", 1, 256, out, sizeof out, &sq) == -1);
    CHECK(report_rle_fold("ajk", 1, 256, out, sizeof out, &sq) == -1);
    CHECK(report_rle_fold("a", 0, 256, out, sizeof out, &sq) == -1);
    /* Too long for out: refused, not cut. */
    CHECK(report_rle_fold("abcdefghi", 1, 256, out, sizeof out, &sq) == -1);
    CHECK(report_rle_fold("abcdefghi", 1, 256, NULL, 0, &sq) == 9 && sq == 9);
}

/* A budget of `left` bytes for `snaps` heap map snapshots, `stats_left` for `stats_snaps`
 * statistics snapshots (what they need not counted: all fit), `os_left` for OS calls. */
static struct report_inside_budget budget_of(size_t left, size_t snaps, size_t stats_left,
                                             size_t stats_snaps, size_t os_left)
{
    return (struct report_inside_budget){ .left = left,
                                          .snapshots = snaps,
                                          .stats_left = stats_left,
                                          .stats_snapshots = stats_snaps,
                                          .os_left = os_left };
}

/* A cell with a heap map of one snapshot of one region of `cells`, statistics of glibc's
 * shape, and OS calls. */
static cJSON *cell_with(const char *cells)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"heapmap\": {\"status\": \"ok\", \"page_bytes\": 4096, \"snapshots_dropped\": 0,"
             " \"snapshots\": [{\"label\": \"holes\", \"ops\": 7, \"cell_bytes\": 4096,"
             " \"downsampled\": false, \"resident_known\": true, \"mapped_bytes\": 81920,"
             " \"resident_bytes\": 40960, \"live_bytes\": 8192,"
             " \"cells\": {\"not_resident\": 10, \"empty\": 8, \"sparse\": 0, \"dense\": 2},"
             " \"regions\": [{\"addr\": \"0x1000\", \"bytes\": 81920, \"kind\": \"brk\","
             " \"largest_object_bytes\": 4096, \"cells\": \"%s\"}]}]},"
             " \"alloc_stats\": {\"status\": \"ok\", \"source\": \"mallinfo2\", \"exposed\": true,"
             " \"snapshots\": [{\"label\": \"holes\", \"ops\": 7, \"live_bytes\": 8192,"
             " \"allocated_bytes\": 8208, \"active_bytes\": null, \"classes\": null}]},"
             " \"os_calls\": {\"status\": \"ok\", \"method\": \"ptrace+seccomp\", \"calls\":"
             " {\"brk\": {\"count\": 3, \"errors\": 0, \"time_ns\": 900, \"bytes\": 8192},"
             " \"madvise\": {\"count\": 2, \"errors\": 0, \"time_ns\": 50, \"bytes\": 4096,"
             " \"by_advice\": {\"dontneed\": 2}}}}}",
             cells);
    return cJSON_Parse(text);
}

static const cJSON *path(const cJSON *j, const char *a, const char *b, int i, const char *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    x = cJSON_GetObjectItemCaseSensitive(x, b);
    x = cJSON_GetArrayItem(x, i);
    return cJSON_GetObjectItemCaseSensitive(x, c);
}

static void test_cell_inside(void)
{
    /* 1200 cells of alternating full and empty pages: "iaia...", 1200 bytes of text. */
    char cells[1201];
    for (size_t i = 0; i < 1200; i++)
        cells[i] = i % 2 ? 'a' : 'i';
    cells[1200] = 0;
    cJSON *cell = cell_with(cells);
    REQUIRE(cell != NULL);
    struct report_inside_budget counted = REPORT_INSIDE_BUDGET;
    report_inside_count(cell, &counted);
    CHECK(counted.snapshots == 1 && counted.stats_snapshots == 1);
    /* Its text and a region's 40 bytes are 1240 bytes: a share of 1240 draws every cell. Of
     * 2480 bytes for two snapshots still to come, this one's share is 1240. */
    struct report_inside_budget budget = budget_of(2480, 2, REPORT_STATS_BYTES, 1, REPORT_OS_BYTES);
    cJSON *j = report_inside(cell, &budget);
    REQUIRE(j != NULL);
    CHECK(budget.left == 1240 && budget.snapshots == 1);
    CHECK(path(j, "heapmap", "snaps", 0, "f")->valuedouble == 1);
    cJSON_Delete(j);
    /* Two bytes less: squares of 2 cells, each half live ("600e", 44 bytes). */
    budget = budget_of(2478, 2, REPORT_STATS_BYTES, 1, REPORT_OS_BYTES);
    j = report_inside(cell, &budget);
    REQUIRE(j != NULL);
    CHECK(budget.left == 2478 - 44 && budget.snapshots == 1);
    const cJSON *f = path(j, "heapmap", "snaps", 0, "f");
    CHECK(cJSON_IsNumber(f) && f->valuedouble == 2);
    const cJSON *regions = path(j, "heapmap", "snaps", 0, "regions");
    const cJSON *r0 = cJSON_GetArrayItem(regions, 0);
    CHECK(strcmp(cJSON_GetArrayItem(r0, 0)->valuestring, "0x1000") == 0);
    CHECK(strcmp(cJSON_GetArrayItem(r0, 2)->valuestring, "brk") == 0); /* the results' kind */
    CHECK(strcmp(cJSON_GetArrayItem(r0, 3)->valuestring, "600e") == 0);
    CHECK(cJSON_GetArrayItem(r0, 4)->valuedouble == 4096); /* the largest object */
    CHECK(cJSON_IsNull(path(j, "stats", "snaps", 0, "active_bytes")));
    CHECK(cJSON_IsNull(path(j, "stats", "snaps", 0, "resident_bytes"))); /* absent: null */
    CHECK(path(j, "stats", "snaps", 0, "allocated_bytes")->valuedouble == 8208);
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(j, "os");
    const cJSON *brk =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(os, "calls"), "brk");
    CHECK(cJSON_GetArrayItem(brk, 0)->valuedouble == 3
          && cJSON_GetArrayItem(brk, 1)->valuedouble == 900);
    const cJSON *by =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(os, "by"), "madvise");
    CHECK(cJSON_GetObjectItemCaseSensitive(by, "dontneed")->valuedouble == 2);
    cJSON_Delete(j);
    /* A budget that cannot pay: the totals stay, the regions do not, a note says why. */
    budget = budget_of(43, 1, REPORT_STATS_BYTES, 1, REPORT_OS_BYTES);
    j = report_inside(cell, &budget);
    CHECK(budget.left == 43 && path(j, "heapmap", "snaps", 0, "regions") == NULL);
    CHECK(cJSON_IsString(path(j, "heapmap", "snaps", 0, "map_note")));
    CHECK(path(j, "heapmap", "snaps", 0, "live")->valuedouble == 8192);
    cJSON_Delete(j);
    cJSON_Delete(cell);
    /* Malformed cells: a note, no crash. */
    cell = cell_with("2i8z");
    budget = budget_of(100, 1, REPORT_STATS_BYTES, 1, REPORT_OS_BYTES);
    j = report_inside(cell, &budget);
    CHECK(j && path(j, "heapmap", "snaps", 0, "regions") == NULL && budget.left == 100);
    cJSON_Delete(j);
    cJSON_Delete(cell);
}

/* A cell whose statistics snapshot lists `classes` size classes, with OS calls. */
static cJSON *cell_with_classes(int classes)
{
    cJSON *cell = cell_with("2i");
    cJSON *snap = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cell, "alloc_stats"),
                                             "snapshots"),
            0);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < classes; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "size_bytes", 16.0 * (i + 1));
        cJSON_AddNumberToObject(c, "objects_live", 3);
        cJSON_AddNumberToObject(c, "capacity", 8);
        cJSON_AddItemToArray(arr, c);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(snap, "classes", arr);
    return cell;
}

static void test_inside_stats_and_os_capped(void)
{
    cJSON *cell = cell_with_classes(100);
    REQUIRE(cell != NULL);
    /* Enough for all: 100 classes drawn, the budgets charged. */
    struct report_inside_budget b = REPORT_INSIDE_BUDGET;
    b.stats_snapshots = 1;
    cJSON *j = report_inside(cell, &b);
    const cJSON *cls = path(j, "stats", "snaps", 0, "classes");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cls, "fill")) == 100);
    CHECK(b.stats_left < REPORT_STATS_BYTES && b.stats_left > REPORT_STATS_BYTES - 4096);
    CHECK(b.os_left < REPORT_OS_BYTES && b.stats_snapshots == 0);
    CHECK(path(j, "stats", "snaps", 0, "capped") == NULL);
    cJSON_Delete(j);
    /* A share too small for the classes (its half of 2000 bytes): the figures stay. */
    b = budget_of(1 << 20, 1, 2000, 2, 300);
    b.stats_marks_full = 1 << 20; /* all would not fit, none is taken every K ops: by share */
    j = report_inside(cell, &b);
    CHECK(cJSON_IsNull(path(j, "stats", "snaps", 0, "classes")));
    CHECK(cJSON_IsString(path(j, "stats", "snaps", 0, "capped")));
    CHECK(path(j, "stats", "snaps", 0, "allocated_bytes")->valuedouble == 8208);
    CHECK(b.stats_left < 2000 && b.stats_left > 1500 && b.stats_snapshots == 1);
    /* 300 bytes pay for the OS calls (about 150). */
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(j, "os");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(os, "status")->valuestring, "ok") == 0);
    cJSON_Delete(j);
    /* Nothing left: the label and ops only; the OS calls a note. */
    b = budget_of(1 << 20, 1, 20, 1, 20);
    j = report_inside(cell, &b);
    CHECK(path(j, "stats", "snaps", 0, "allocated_bytes") == NULL);
    CHECK(path(j, "stats", "snaps", 0, "ops")->valuedouble == 7);
    CHECK(cJSON_IsString(path(j, "stats", "snaps", 0, "capped")));
    os = cJSON_GetObjectItemCaseSensitive(j, "os");
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(os, "status")->valuestring, "capped") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(os, "calls") == NULL && b.os_left == 20);
    cJSON_Delete(j);
    cJSON_Delete(cell);
}

static void test_inside_stats_capped_every_first(void)
{
    /* Two snapshots of 100 classes, the first taken every K ops, the second at a mark. */
    cJSON *cell = cell_with_classes(100);
    REQUIRE(cell != NULL);
    cJSON *snaps = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cell, "alloc_stats"), "snapshots");
    cJSON *every = cJSON_Duplicate(cJSON_GetArrayItem(snaps, 0), 1);
    cJSON_ReplaceItemInObjectCaseSensitive(every, "label", cJSON_CreateString("every"));
    cJSON_InsertItemInArray(snaps, 0, every);
    struct report_inside_budget b = REPORT_INSIDE_BUDGET;
    report_inside_count(cell, &b);
    CHECK(b.stats_snapshots == 2 && b.stats_every_count == 1); /* about 1300 bytes each */
    CHECK(b.stats_marks_full > 1000 && b.stats_every_full == b.stats_marks_full);
    CHECK(b.stats_every_bare > 100 && b.stats_every_bare + 900 < b.stats_every_full);
    /* Room for all but the every-K snapshot's classes: that one loses them, not the mark. */
    b.stats_left = b.stats_marks_full + b.stats_every_bare;
    cJSON *j = report_inside(cell, &b);
    CHECK(cJSON_IsNull(path(j, "stats", "snaps", 0, "classes")));
    CHECK(cJSON_IsString(path(j, "stats", "snaps", 0, "capped")));
    const cJSON *cls = path(j, "stats", "snaps", 1, "classes");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cls, "fill")) == 100);
    CHECK(path(j, "stats", "snaps", 1, "capped") == NULL && b.stats_left == 0);
    cJSON_Delete(j);
    /* Room for all: both keep their classes. */
    b = REPORT_INSIDE_BUDGET;
    report_inside_count(cell, &b);
    j = report_inside(cell, &b);
    CHECK(!cJSON_IsNull(path(j, "stats", "snaps", 0, "classes")));
    CHECK(!cJSON_IsNull(path(j, "stats", "snaps", 1, "classes")));
    cJSON_Delete(j);
    cJSON_Delete(cell);
}

int main(void)
{
    RUN_TEST(test_fold_by_one_is_the_same_text);
    RUN_TEST(test_fold_merges_squares);
    RUN_TEST(test_fold_long_not_resident_stretches);
    RUN_TEST(test_fold_refuses_bad_text);
    RUN_TEST(test_cell_inside);
    RUN_TEST(test_inside_stats_and_os_capped);
    RUN_TEST(test_inside_stats_capped_every_first);
    return check_report();
}
