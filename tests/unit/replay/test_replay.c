/*
 * tests/unit/replay/test_replay.c: compiling a trace into an operation stream (replay/replay.c).
 *
 * A synthetic two-thread trace, written with trace_write_mem(), covers a cross-thread free,
 * calloc, realloc (moving, to 0, and one whose new address is freed by another thread between
 * the realloc's two halves), an aligned allocation, malloc(0), a failed malloc and a free of an
 * address the trace never allocated. The compiled stream must be valid, have the expected op
 * counts and peak live bytes, and free the right objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "replay/replay.h"
#include "trace/trace.h"
#include "util/diag.h"
#include "workload/workload.h"

#define A 0x10000
#define B 0x10100
#define C 0x10200
#define D 0x20000
#define E 0x30040
#define F 0x10300
#define G 0x10400
#define X 0x40000

static struct trace_event ev(unsigned th, uint64_t seq, unsigned kind, uint64_t ptr,
                             uint64_t result, uint64_t size)
{
    struct trace_event e;
    memset(&e, 0, sizeof e);
    e.thread = th;
    e.tid = 100 + th;
    e.seq = e.seq2 = seq;
    e.ns = seq * 10;
    e.kind = (uint16_t)kind;
    e.ptr = ptr;
    e.result = result;
    e.size = size;
    e.count = 1;
    if (result == 0 && kind != TRACE_FREE) e.flags = TRACE_F_NULL;
    return e;
}

static int write_trace(const char *path)
{
    struct trace_event evs[32];
    size_t n = 0;
    /* Thread 0. */
    evs[n++] = ev(0, 1, TRACE_MALLOC, 0, A, 100);
    evs[n] = ev(0, 2, TRACE_CALLOC, 0, B, 8);
    evs[n++].count = 10;
    evs[n] = ev(0, 5, TRACE_REALLOC, B, D, 200);
    evs[n++].seq2 = 6;
    evs[n++] = ev(0, 8, TRACE_FREE, 0xdead0, 0, 0);             /* never allocated */
    evs[n++] = ev(0, 9, TRACE_MALLOC, 0, 0, (uint64_t)1 << 40); /* failed */
    evs[n++] = ev(0, 12, TRACE_MALLOC, 0, F, 0);                /* malloc(0) */
    evs[n++] = ev(0, 13, TRACE_FREE, D, 0, 0);
    evs[n++] = ev(0, 15, TRACE_FREE, F, 0, 0);
    evs[n++] = ev(0, 17, TRACE_MALLOC, 0, G, 30);
    evs[n] = ev(0, 20, TRACE_REALLOC, G, X, 300); /* X still holds thread 1's block until 22 */
    evs[n++].seq2 = 25;
    evs[n++] = ev(0, 30, TRACE_FREE, X, 0, 0); /* frees G's object */
    /* Thread 1. */
    evs[n++] = ev(1, 3, TRACE_MALLOC, 0, C, 50);
    evs[n++] = ev(1, 4, TRACE_FREE, A, 0, 0); /* cross-thread */
    evs[n] = ev(1, 7, TRACE_POSIX_MEMALIGN, 0, E, 256);
    evs[n++].align = 64;
    evs[n] = ev(1, 10, TRACE_REALLOC, C, 0, 0); /* realloc(C, 0) frees C */
    evs[n].flags = TRACE_F_NULL | TRACE_F_ZERO_FREED;
    evs[n++].seq2 = 11;
    evs[n++] = ev(1, 14, TRACE_FREE, E, 0, 0);
    evs[n++] = ev(1, 16, TRACE_MALLOC, 0, X, 40);
    evs[n++] = ev(1, 22, TRACE_FREE, X, 0, 0); /* frees its own block, not G */
    /* trace_write_mem wants each thread's events in seq order: sort by (thread, seq). */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i;
             k > 0
             && (evs[k].thread < evs[k - 1].thread
                 || (evs[k].thread == evs[k - 1].thread && evs[k].seq < evs[k - 1].seq));
             k--) {
            struct trace_event t = evs[k];
            evs[k] = evs[k - 1];
            evs[k - 1] = t;
        }
    uint8_t *buf;
    size_t len;
    struct diag d = { { 0 } };
    if (trace_write_mem(NULL, evs, n, 4, TRACE_END_EXIT, &buf, &len, &d) != 0) {
        fprintf(stderr, "trace_write_mem: %s\n", d.msg);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f) fclose(f);
    free(buf);
    return ok ? 0 : -1;
}

static void test_compile(void)
{
    char path[] = "/tmp/heaplab-replay-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE(write_trace(path) == 0);
    struct opstream s;
    struct replay_stats st;
    struct diag d = { { 0 } };
    int rc = replay_stream(path, &s, &st, &d);
    unsigned th = 0;
    CHECK(replay_threads(path, &th, NULL, &d) == 0);
    unlink(path);
    if (rc != 0) fprintf(stderr, "replay_stream: %s\n", d.msg);
    REQUIRE(rc == 0);
    CHECK_EQ_U64(th, 2);
    CHECK_EQ_U64(s.threads, 2);
    CHECK(s.cross_thread);
    CHECK(opstream_validate(&s, &d) == 0);
    CHECK_EQ_U64(st.allocs, 7);   /* A B C E F G H */
    CHECK_EQ_U64(st.frees, 7);    /* A C D E F H G */
    CHECK_EQ_U64(st.reallocs, 2); /* B->D, G->X */
    CHECK_EQ_U64(st.unknown_frees, 1);
    CHECK_EQ_U64(st.failed, 1);
    CHECK_EQ_U64(st.zero_sizes, 1);
    CHECK_EQ_U64(st.stale_addresses, 0);
    CHECK_EQ_U64(s.n_alloc, 7);
    CHECK_EQ_U64(s.n_free, 7);
    CHECK_EQ_U64(s.n_realloc, 2);
    CHECK_EQ_U64(s.live_bytes, 0);
    CHECK_EQ_U64(opstream_peak_live(&s), 506); /* after E: 80->200 + 50 + 256 */
    /* Thread 1's last op frees the block thread 1 allocated at X (seq 16), not G. */
    const struct op_seq *q1 = &s.th[1];
    REQUIRE(q1->n >= 2);
    const struct op *last = &q1->ops[q1->n - 1], *alloc_h = &q1->ops[q1->n - 2];
    CHECK_EQ_U64(last->kind, OP_FREE);
    CHECK_EQ_U64(alloc_h->kind, OP_ALLOC);
    CHECK_EQ_U64(last->obj, alloc_h->obj);
    /* The aligned allocation kept its alignment. */
    int saw_align = 0;
    for (size_t i = 0; i < q1->n; i++)
        if (q1->ops[i].kind == OP_ALLOC && q1->ops[i].align_shift == 6) saw_align = 1;
    CHECK(saw_align);
    opstream_destroy(&s);
}

static void test_bad_files(void)
{
    struct opstream s;
    struct replay_stats st;
    struct diag d = { { 0 } };
    CHECK(replay_stream("/nonexistent/x.trace", &s, &st, &d) == -1);
    CHECK(d.msg[0] != 0);
    char path[] = "/tmp/heaplab-replay-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "not a trace at all\n", 19) == 19);
    close(fd);
    d.msg[0] = 0;
    CHECK(replay_stream(path, &s, &st, &d) == -1);
    CHECK(d.msg[0] != 0);
    unlink(path);
}

/* Write events[0..n) as a trace file at a new temporary path (into path). */
static int write_events(char *path, const struct trace_event *evs, size_t n)
{
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    uint8_t *buf;
    size_t len;
    struct diag d = { { 0 } };
    int rc = trace_write_mem(NULL, evs, n, 4, TRACE_END_EXIT, &buf, &len, &d);
    if (rc == 0) {
        rc = write(fd, buf, len) == (ssize_t)len ? 0 : -1;
        free(buf);
    }
    close(fd);
    return rc;
}

/* Nothing to replay (no events, or none that returned a block): replay_threads says so,
 * naming the file, so that bench fails before starting any worker. */
static void test_replay_threads_nothing_to_replay_fails(void)
{
    char path[] = "/tmp/heaplab-replay-XXXXXX";
    struct trace_event evs[2];
    evs[0] = ev(0, 1, TRACE_FREE, 0, 0, 0); /* free(NULL) */
    evs[0].flags = TRACE_F_NULL;
    evs[1] = ev(0, 2, TRACE_MALLOC, 0, 0, (uint64_t)1 << 40); /* failed */
    REQUIRE(write_events(path, evs, 2) == 0);
    unsigned th = 0;
    struct diag d = { { 0 } };
    CHECK(replay_threads(path, &th, NULL, &d) == -1);
    CHECK(strstr(d.msg, path) == d.msg && strstr(d.msg, "no allocation events to replay"));
    unlink(path);

    char empty[] = "/tmp/heaplab-replay-XXXXXX";
    REQUIRE(write_events(empty, evs, 0) == 0);
    d.msg[0] = 0;
    CHECK(replay_threads(empty, &th, NULL, &d) == -1);
    CHECK(strstr(d.msg, "no allocation events to replay") != NULL);
    unlink(empty);
}

/* A damaged trace may lack every chunk of a thread: the threads present (0 and 2 here) are
 * replayed on stream threads 0 and 1, a cross-thread free included. */
static void test_replay_stream_missing_thread_compiles(void)
{
    char path[] = "/tmp/heaplab-replay-XXXXXX";
    struct trace_event evs[4];
    evs[0] = ev(0, 1, TRACE_MALLOC, 0, A, 100);
    evs[1] = ev(0, 4, TRACE_FREE, B, 0, 0); /* thread 2's block */
    evs[2] = ev(2, 2, TRACE_MALLOC, 0, B, 50);
    evs[3] = ev(2, 3, TRACE_FREE, A, 0, 0); /* thread 0's block */
    REQUIRE(write_events(path, evs, 4) == 0);
    struct opstream s;
    struct replay_stats st;
    struct diag d = { { 0 } };
    unsigned th = 0;
    CHECK(replay_threads(path, &th, NULL, &d) == 0);
    int rc = replay_stream(path, &s, &st, &d);
    unlink(path);
    if (rc != 0) fprintf(stderr, "replay_stream: %s\n", d.msg);
    REQUIRE(rc == 0);
    CHECK_EQ_U64(th, 2);
    CHECK_EQ_U64(s.threads, 2);
    CHECK(opstream_validate(&s, &d) == 0);
    CHECK_EQ_U64(st.allocs, 2);
    CHECK_EQ_U64(st.frees, 2);
    CHECK_EQ_U64(s.th[1].n, 2); /* thread 2's malloc and free */
    opstream_destroy(&s);
}

int main(void)
{
    RUN_TEST(test_compile);
    RUN_TEST(test_bad_files);
    RUN_TEST(test_replay_threads_nothing_to_replay_fails);
    RUN_TEST(test_replay_stream_missing_thread_compiles);
    return check_report();
}
