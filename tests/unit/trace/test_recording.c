/*
 * tests/unit/trace/test_recording.c: the files of one recording (trace/recording.c). A
 * directory holds a recording with session 7 whose FILE ends in digits (run.2024: the
 * wrapper, run.2024.555: the program it exec'd, run.2024.555.1: a later image of the same
 * pid), a file of another run (session 8) with the same name pattern, a text file and a
 * trace of session 7 under another name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "trace/trace.h"
#include "util/diag.h"

static char dir[] = "/tmp/heaplab-recording-XXXXXX";

/* Write a trace of one malloc as dir/name. 0 or -1. */
static int put(const char *name, uint64_t session, uint64_t start_ns, const char *argv0,
               uint64_t events)
{
    const char *argv[] = { argv0, "arg", NULL };
    struct trace_header h;
    memset(&h, 0, sizeof(h));
    h.program = "/usr/bin/exe";
    h.argc = argv0 ? 2 : 0;
    h.argv = argv;
    h.pid = 555;
    h.ppid = 1;
    h.start_mono_ns = start_ns;
    h.session = session;
    h.buffer_bytes = 4096;
    struct trace_event ev[4];
    memset(ev, 0, sizeof(ev));
    for (uint64_t i = 0; i < events; i++) {
        ev[i].seq = ev[i].seq2 = i + 1;
        ev[i].ns = start_ns + i;
        ev[i].kind = TRACE_MALLOC;
        ev[i].size = 16;
        ev[i].count = 1;
        ev[i].result = 0x1000 * (i + 1);
    }
    uint8_t *buf;
    size_t len;
    struct diag d = { { 0 } };
    if (trace_write_mem(&h, ev, (size_t)events, 4, TRACE_END_EXIT, &buf, &len, &d) != 0) {
        fprintf(stderr, "trace_write_mem: %s\n", d.msg);
        return -1;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f) fclose(f);
    free(buf);
    return ok ? 0 : -1;
}

static void check_recording(const struct trace_recording *rec)
{
    REQUIRE(rec->n == 3);
    CHECK_EQ_U64(rec->session, 7);
    CHECK(strcmp(rec->files[0].name, "run.2024") == 0);
    CHECK(strcmp(rec->files[1].name, "run.2024.555") == 0);
    CHECK(strcmp(rec->files[2].name, "run.2024.555.1") == 0);
    CHECK(strcmp(rec->files[0].program, "env") == 0);
    CHECK(strcmp(rec->files[1].program, "python3") == 0);
    CHECK(strcmp(rec->files[2].program, "exe") == 0); /* no argv: the executable's name */
    CHECK_EQ_U64(rec->files[0].status.events, 1);
    CHECK_EQ_U64(rec->files[1].status.events, 3);
    CHECK_EQ_U64(rec->files[2].status.events, 2);
}

static void test_recording_find_from_any_file_lists_the_run_by_start(void)
{
    const char *paths[] = { "run.2024", "run.2024.555", "run.2024.555.1" };
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, paths[i]);
        struct trace_recording rec;
        struct diag d = { { 0 } };
        int rc = trace_recording_find(&rec, path, &d);
        if (rc != 0) fprintf(stderr, "trace_recording_find: %s\n", d.msg);
        REQUIRE(rc == 0);
        check_recording(&rec);
        trace_recording_fini(&rec);
    }
}

static void test_recording_read_by_session(void)
{
    struct trace_recording rec;
    struct diag d = { { 0 } };
    REQUIRE(trace_recording_read(&rec, dir, "run.2024", 7, &d) == 0);
    check_recording(&rec);
    trace_recording_fini(&rec);
    REQUIRE(trace_recording_read(&rec, dir, "run.2024", 9, &d) == 0);
    CHECK_EQ_U64(rec.n, 0);
    trace_recording_fini(&rec);
}

static void test_recording_find_session_0_is_the_file_alone(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/run.2024.556", dir);
    REQUIRE(put("run.2024.556", 0, 50, "ls", 1) == 0);
    struct trace_recording rec;
    struct diag d = { { 0 } };
    REQUIRE(trace_recording_find(&rec, path, &d) == 0);
    REQUIRE(rec.n == 1);
    CHECK(strcmp(rec.files[0].name, "run.2024.556") == 0);
    trace_recording_fini(&rec);
    unlink(path);
    CHECK(trace_recording_find(&rec, path, &d) == -1);
    CHECK(strncmp(d.msg, path, strlen(path)) == 0);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    int ok = put("run.2024.555", 7, 200, "/usr/bin/python3", 3) == 0
             && put("run.2024", 7, 100, "/usr/bin/env", 1) == 0
             && put("run.2024.555.1", 7, 300, NULL, 2) == 0
             && put("run.2024.9", 8, 150, "other-run", 1) == 0
             && put("other.trace", 7, 120, "elsewhere", 1) == 0;
    char text[300];
    snprintf(text, sizeof(text), "%s/run.2024.txt", dir);
    FILE *f = fopen(text, "w");
    if (f) {
        fputs("not a trace\n", f);
        fclose(f);
    }
    if (ok) {
        RUN_TEST(test_recording_find_from_any_file_lists_the_run_by_start);
        RUN_TEST(test_recording_read_by_session);
        RUN_TEST(test_recording_find_session_0_is_the_file_alone);
    }
    const char *names[] = { "run.2024",   "run.2024.555", "run.2024.555.1",
                            "run.2024.9", "other.trace",  "run.2024.txt" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return ok ? check_report() : 1;
}
