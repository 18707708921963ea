/*
 * tests/unit/inside/test_heapmap_stream.c: heapmap_shot_write, the line `heaplab serve`'s
 * real allocators view reads from a worker while the pass runs. The line parses as JSON and
 * equals heapmap_json's snapshot less `rss_check`, for a heap whose text passes the writer's
 * buffer (thousands of alternating pages) and for a note that needs escaping (a pagemap
 * path with a quote and a newline); a write to a pipe nobody reads fails with -1.
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "inside/inside.h"
#include "util/diag.h"

#define BLOCKS 3000
#define PAGE   4096

static void *block[BLOCKS];

/* Page-sized blocks, every other one freed: thousands of runs in the map's text. */
static void heap_make(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        block[i] = NULL;
        if (posix_memalign(&block[i], PAGE, PAGE) == 0) memset(block[i], 1, PAGE);
    }
    for (int i = 1; i < BLOCKS; i += 2) {
        free(block[i]);
        block[i] = NULL;
    }
}

static void heap_free(void)
{
    for (int i = 0; i < BLOCKS; i++)
        free(block[i]);
}

static const struct heapmap_shot *snap(struct heapmap *hm)
{
    heapmap_begin(hm, "holes", 7, NULL, 0);
    for (int i = 0; i < BLOCKS; i++)
        if (block[i]) heapmap_add(hm, (uintptr_t)block[i], PAGE);
    heapmap_end(hm);
    size_t n;
    const struct heapmap_shot *s = heapmap_shots(hm, &n);
    return n ? &s[n - 1] : NULL;
}

/* What heapmap_shot_write wrote to a temporary file, parsed; NULL if it is not one line of
 * JSON. */
static cJSON *written(const struct heapmap *hm, const struct heapmap_shot *s)
{
    FILE *f = tmpfile();
    if (!f) return NULL;
    cJSON *j = NULL;
    if (heapmap_shot_write(hm, s, fileno(f)) == 0) {
        long n = ftell(f) >= 0 ? lseek(fileno(f), 0, SEEK_END) : -1;
        char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
        if (text && pread(fileno(f), text, (size_t)n, 0) == n) {
            text[n] = 0;
            char *nl = strchr(text, '\n');
            if (nl && nl == text + n - 1) j = cJSON_ParseWithLength(text, (size_t)n - 1);
            if (n <= 4096) fprintf(stderr, "  (the line is only %ld bytes)\n", n);
        }
        free(text);
    }
    fclose(f);
    return j;
}

/* The streamed line against the results' snapshot (the last of heapmap_json's). */
static void check_same(const struct heapmap *hm, const struct heapmap_shot *s)
{
    cJSON *line = written(hm, s);
    REQUIRE(line);
    cJSON *all = heapmap_json(hm, 0);
    cJSON *shots = cJSON_GetObjectItemCaseSensitive(all, "snapshots");
    cJSON *want = cJSON_GetArrayItem(shots, cJSON_GetArraySize(shots) - 1);
    REQUIRE(want);
    cJSON_DeleteItemFromObjectCaseSensitive(want, "rss_check");
    CHECK(cJSON_Compare(line, want, 1));
    if (!cJSON_Compare(line, want, 1)) {
        char *a = cJSON_PrintUnformatted(line), *b = cJSON_PrintUnformatted(want);
        fprintf(stderr, "  line:    %.300s\n  results: %.300s\n", a, b);
        free(a);
        free(b);
    }
    cJSON_Delete(all);
    cJSON_Delete(line);
}

static void test_stream_line_is_the_results_snapshot(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { 0 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    heap_make();
    const struct heapmap_shot *s = snap(hm);
    REQUIRE(s);
    check_same(hm, s);
    heap_free();
    heapmap_destroy(hm);
}

static void test_stream_note_is_escaped(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { .pagemap_path = "/nonexistent/a\"b\\c\nd" };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    heap_make();
    const struct heapmap_shot *s = snap(hm);
    REQUIRE(s);
    CHECK(s->note[0] != 0);
    check_same(hm, s);
    heap_free();
    heapmap_destroy(hm);
}

static void test_stream_write_to_a_closed_pipe_fails(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { 0 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    heap_make();
    const struct heapmap_shot *s = snap(hm);
    REQUIRE(s);
    int p[2];
    REQUIRE(pipe(p) == 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    CHECK(heapmap_shot_write(hm, s, p[1]) == -1);
    close(p[1]);
    heap_free();
    heapmap_destroy(hm);
}

int main(void)
{
    RUN_TEST(test_stream_line_is_the_results_snapshot);
    RUN_TEST(test_stream_note_is_escaped);
    RUN_TEST(test_stream_write_to_a_closed_pipe_fails);
    return check_report();
}
