/*
 * tests/unit/trace/test_reader.c: heaplab.trace/1 encode/decode round trips (through the
 * recorder's own encoder, format.h), truncation at every byte, bit flips, foreign files,
 * duplicated and interleaved chunks, and the statistics of trace info.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace/crc32c.h"
#include "trace/format.h"
#include "trace/trace.h"
#include "util/diag.h"

static void test_crc32c(void)
{
    CHECK_EQ_U64(crc32c("123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(~crc32c_soft(0xFFFFFFFFu, (const uint8_t *)"123456789", 9), 0xE3069283u);
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n < sizeof(buf); n += 37) {
        uint32_t whole = crc32c(buf, n);
        CHECK_EQ_U64(whole, ~crc32c_soft(0xFFFFFFFFu, buf, n));
        CHECK_EQ_U64(whole, crc32c_extend(crc32c(buf, n / 3), buf + n / 3, n - n / 3));
    }
}

static void test_varint(void)
{
    const uint64_t vals[] = {
        0, 1, 127, 128, 300, 16383, 16384, 1ull << 35, 1ull << 63, UINT64_MAX
    };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[10];
        uint8_t *e = tf_put_varint(b, vals[i]);
        CHECK(e - b <= 10);
        const uint8_t *p = b;
        uint64_t v;
        CHECK(tf_get_varint(&p, e, &v) == 0 && v == vals[i] && p == e);
        p = b;
        CHECK(tf_get_varint(&p, e - 1, &v) == -1); /* cut off */
        CHECK_EQ_U64(tf_unzigzag(tf_zigzag(vals[i])), vals[i]);
    }
    CHECK_EQ_U64(tf_zigzag((uint64_t)-1), 1);
    CHECK_EQ_U64(tf_zigzag(1), 2);
    uint8_t over[11] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0 };
    const uint8_t *p = over;
    uint64_t v;
    CHECK(tf_get_varint(&p, over + 11, &v) == -1); /* more than 64 bits */
}

/* A small multithreaded history with every kind and awkward values. */
static size_t make_events(struct trace_event *ev, size_t cap)
{
    size_t n = 0;
    uint64_t seq = 5, ns = 1000;
    uint64_t base = 0x7f0000001000ull;
    for (int round = 0; round < 40 && n + 20 < cap; round++) {
        for (uint32_t t = 0; t < 3; t++) {
            struct trace_event e;
            memset(&e, 0, sizeof(e));
            e.thread = t;
            e.tid = 100 + t;
            e.count = 1;
            e.seq = e.seq2 = seq++;
            e.ns = ns += 7 + t;
            unsigned k = (unsigned)(round * 3 + t) % 14 + 1;
            e.kind = (uint16_t)k;
            uint64_t addr = base + (uint64_t)round * 4096 + t * 64;
            switch (k) {
            case TRACE_MALLOC:
                e.size = round == 7 ? UINT64_MAX : (uint64_t)round * 13;
                e.result = round == 7 ? 0 : addr;
                break;
            case TRACE_CALLOC:
                e.count = 3;
                e.size = 1000;
                e.result = addr + 8; /* not 16-aligned: raw pointers */
                break;
            case TRACE_REALLOC:
                e.ptr = addr;
                e.size = round % 2 ? 0 : 99999;
                e.result = round % 2 ? 0 : addr - 0x10000;
                if (round % 2) e.flags = TRACE_F_ZERO_FREED;
                e.seq2 = seq += 3;
                seq++;
                break;
            case TRACE_REALLOCARRAY:
                e.ptr = 0;
                e.count = 5;
                e.size = 7;
                e.result = addr;
                e.seq2 = seq++;
                break;
            case TRACE_POSIX_MEMALIGN:
                e.align = round % 2 ? 3 : 64;
                e.size = 100;
                e.value = round % 2 ? 22 : 0;
                e.result = round % 2 ? 0 : addr;
                break;
            case TRACE_ALIGNED_ALLOC:
            case TRACE_MEMALIGN:
                e.align = 1u << 20;
                e.size = 1;
                e.result = addr;
                break;
            case TRACE_VALLOC:
            case TRACE_PVALLOC:
                e.size = 4097;
                e.result = addr;
                break;
            case TRACE_FREE:
                e.ptr = round % 3 ? addr : 0;
                break;
            case TRACE_FREE_SIZED:
                e.ptr = addr + 3;
                e.size = 12;
                break;
            case TRACE_FREE_ALIGNED_SIZED:
                e.ptr = UINT64_MAX - 15;
                e.align = 64;
                e.size = 1ull << 40;
                break;
            case TRACE_THREAD:
                e.value = e.tid;
                break;
            case TRACE_MARK:
                e.mark = TRACE_MARK_FORK;
                e.value = 4242;
                break;
            }
            ev[n++] = e;
        }
    }
    return n;
}

static int same_event(const struct trace_event *a, const struct trace_event *b)
{
    return a->seq == b->seq && a->seq2 == b->seq2 && a->ns == b->ns && a->ptr == b->ptr
           && a->result == b->result && a->size == b->size && a->count == b->count
           && a->align == b->align && a->value == b->value && a->thread == b->thread
           && a->tid == b->tid && a->kind == b->kind && a->mark == b->mark
           && (a->flags & TRACE_F_ZERO_FREED) == (b->flags & TRACE_F_ZERO_FREED);
}

/* Index in ev[0..n) of the event with seq `seq`, or n. */
static size_t find_seq(const struct trace_event *ev, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].seq == seq) return i;
    return n;
}

static const char *const test_argv[] = { "prog", "-x", "a b", NULL };

static void fill_header(struct trace_header *h)
{
    memset(h, 0, sizeof(*h));
    h->program = "/usr/bin/prog";
    h->argc = 3;
    h->argv = test_argv;
    h->pid = 1234;
    h->ppid = 1;
    h->start_realtime_ns = 1700000000123456789ull;
    h->start_mono_ns = 900;
    h->sysname = "Linux";
    h->machine = "x86_64";
    h->buffer_bytes = 65536;
    h->clock = "tsc";
    h->session = 77;
    h->forked = 1;
    h->fork_seq = 3;
}

static uint8_t *write_trace(size_t chunk_events, unsigned end, size_t *len, struct trace_event *ev,
                            size_t *n)
{
    *n = make_events(ev, 512);
    struct trace_header h;
    fill_header(&h);
    uint8_t *buf;
    struct diag d = { { 0 } };
    if (trace_write_mem(&h, ev, *n, chunk_events, end, &buf, len, &d) != 0) {
        fprintf(stderr, "trace_write_mem: %s\n", d.msg);
        return NULL;
    }
    return buf;
}

static void test_roundtrip(void)
{
    struct trace_event ev[512], got;
    size_t n, len;
    uint8_t *buf = write_trace(7, TRACE_END_SIGNAL, &len, ev, &n);
    REQUIRE(buf);
    struct trace_reader *r;
    struct diag d = { { 0 } };
    REQUIRE(trace_open_mem(&r, buf, len, &d) == 0);
    const struct trace_header *h = trace_header(r);
    CHECK(strcmp(h->program, "/usr/bin/prog") == 0);
    CHECK(h->argc == 3 && strcmp(h->argv[2], "a b") == 0 && h->argv[3] == NULL);
    CHECK_EQ_U64(h->pid, 1234);
    CHECK_EQ_U64(h->start_realtime_ns, 1700000000123456789ull);
    CHECK(strcmp(h->sysname, "Linux") == 0 && strcmp(h->nodename, "") == 0);
    CHECK(h->forked && h->fork_seq == 3 && h->session == 77);
    const struct trace_status *st = trace_status(r);
    CHECK_EQ_U64(st->events, n);
    CHECK_EQ_U64(st->threads, 3);
    CHECK(!st->truncated && st->corrupt_chunks == 0 && st->duplicate_chunks == 0);
    CHECK_EQ_U64(st->end.reason, TRACE_END_SIGNAL);
    CHECK_EQ_U64(st->end.events, n);

    /* File order: each thread's events in its order; all events exactly once. */
    size_t seen = 0, last_of[3] = { 0, 0, 0 };
    int first_of[3] = { 1, 1, 1 };
    while (trace_next(r, &got)) {
        size_t i = find_seq(ev, n, got.seq);
        REQUIRE(i < n);
        CHECK(same_event(&got, &ev[i]));
        CHECK(first_of[got.thread] || i > last_of[got.thread]);
        first_of[got.thread] = 0;
        last_of[got.thread] = i;
        seen++;
    }
    CHECK_EQ_U64(seen, n);

    /* Sequence order: increasing numbers. */
    trace_rewind(r, TRACE_ORDER_SEQ);
    uint64_t prev = 0;
    seen = 0;
    while (trace_next(r, &got)) {
        CHECK(seen == 0 || got.seq > prev);
        prev = got.seq2;
        seen++;
    }
    CHECK_EQ_U64(seen, n);
    size_t nt;
    const struct trace_thread *th = trace_threads(r, &nt);
    CHECK(nt == 3 && th[0].index == 0 && th[2].tid == 102 && th[1].events == n / 3);
    trace_close(r);
    free(buf);
}

/* Cut at every byte: open fails (in the header) or reads whole chunks, flagging the cut. */
static void test_truncation(void)
{
    struct trace_event ev[512], got;
    size_t n, len;
    uint8_t *buf = write_trace(5, TRACE_END_EXIT, &len, ev, &n);
    REQUIRE(buf);
    size_t hdr_end = TF_PREFIX_BYTES + tf_rd32(buf + 12);
    uint64_t prev_events = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, buf, cut);
        struct trace_reader *r;
        struct diag d = { { 0 } };
        int rc = trace_open_mem(&r, copy, cut, &d);
        if (cut < hdr_end) {
            CHECK(rc == -1 && d.msg[0]);
            if (cut == 0)
                CHECK(strstr(d.msg, "empty") != NULL);
            else
                CHECK(strstr(d.msg, "truncated") != NULL);
            free(copy);
            continue;
        }
        REQUIRE(rc == 0);
        const struct trace_status *st = trace_status(r);
        CHECK(st->corrupt_chunks == 0);
        CHECK(st->events >= prev_events);
        prev_events = st->events;
        /* whole chunks only, and at a chunk boundary nothing is flagged */
        uint64_t got_n = 0;
        while (trace_next(r, &got)) {
            size_t i = find_seq(ev, n, got.seq);
            CHECK(i < n && same_event(&got, &ev[i]));
            got_n++;
        }
        CHECK_EQ_U64(got_n, st->events);
        if (cut == len) CHECK(!st->truncated && st->events == n);
        trace_close(r);
        free(copy);
    }
    free(buf);
}

/* Flip each bit of the chunk area (one at a time): a damaged chunk is skipped, never read. */
static void test_bit_flips(void)
{
    struct trace_event ev[512], got;
    size_t n, len;
    uint8_t *buf = write_trace(9, TRACE_END_EXIT, &len, ev, &n);
    REQUIRE(buf);
    size_t hdr_end = TF_PREFIX_BYTES + tf_rd32(buf + 12);
    size_t step = (len - hdr_end) / 300 + 1;
    unsigned undetected = 0;
    for (size_t pos = hdr_end; pos < len; pos += step) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[pos] ^= (uint8_t)(1u << bit);
            struct trace_reader *r;
            struct diag d = { { 0 } };
            REQUIRE(trace_open_mem(&r, buf, len, &d) == 0);
            const struct trace_status *st = trace_status(r);
            if (st->events == n && st->end.reason == TRACE_END_EXIT) undetected++;
            while (trace_next(r, &got)) {
                size_t i = find_seq(ev, n, got.seq);
                CHECK(i < n && same_event(&got, &ev[i]));
            }
            trace_close(r);
            buf[pos] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK_EQ_U64(undetected, 0);
    /* the header: detected as a bad header, never misread */
    for (size_t pos = 0; pos < hdr_end; pos++) {
        buf[pos] ^= 0x10;
        struct trace_reader *r;
        struct diag d = { { 0 } };
        int rc = trace_open_mem(&r, buf, len, &d);
        CHECK(rc == -1 || pos >= 20); /* bytes 20..23 are reserved */
        if (rc == 0) trace_close(r);
        buf[pos] ^= 0x10;
    }
    free(buf);
}

static void expect_open_error(const void *data, size_t len, const char *want)
{
    struct trace_reader *r;
    struct diag d = { { 0 } };
    int rc = trace_open_mem(&r, data, len, &d);
    CHECK(rc == -1);
    if (rc == 0) trace_close(r);
    if (!strstr(d.msg, want)) fprintf(stderr, "  got \"%s\", want \"%s\"\n", d.msg, want);
    CHECK(strstr(d.msg, want) != NULL);
}

static void test_foreign(void)
{
    expect_open_error("", 0, "empty file");
    expect_open_error("hello, world\n", 13, "not a heaplab trace");
    expect_open_error("\x7f"
                      "ELF\x02\x01\x01",
                      7, "not a heaplab trace");
    expect_open_error("HLTR", 4, "truncated header");
    expect_open_error("HLTRACE\0\x01\0", 10, "truncated header");
    uint8_t v2[64];
    memset(v2, 0, sizeof(v2));
    memcpy(v2, "HLTRACE", 8);
    v2[8] = 2;
    expect_open_error(v2, sizeof(v2), "unsupported trace format version 2.0");
    v2[8] = 1;
    expect_open_error(v2, sizeof(v2), "checksum");
    tf_finish_header(v2, 40); /* 40 bytes of zeros: key 0, length 0, twenty times: fine */
    struct trace_reader *r;
    struct diag d = { { 0 } };
    REQUIRE(trace_open_mem(&r, v2, sizeof(v2), &d) == 0);
    CHECK(trace_status(r)->events == 0 && trace_header(r)->argc == 0);
    trace_close(r);
    v2[24] = 5; /* key 5 (ppid), length 0: not a number */
    tf_finish_header(v2, 40);
    expect_open_error(v2, sizeof(v2), "corrupt header");
    v2[24] = 1;
    v2[25] = 100; /* a field longer than the body */
    tf_finish_header(v2, 40);
    expect_open_error(v2, sizeof(v2), "runs past");
    d.msg[0] = 0;
    CHECK(trace_open(&r, "/nonexistent/trace", &d) == -1 && strstr(d.msg, "cannot open"));
    CHECK(trace_open(&r, "/", &d) == -1 && strstr(d.msg, "directory"));
}

/* A chunk written twice is dropped; junk between chunks is skipped; reading resumes. */
static void test_duplicates_and_junk(void)
{
    struct trace_event ev[512], got;
    size_t n, len;
    uint8_t *buf = write_trace(11, TRACE_END_NONE, &len, ev, &n);
    REQUIRE(buf);
    size_t hdr_end = TF_PREFIX_BYTES + tf_rd32(buf + 12);
    size_t c1 = TF_CHUNK_HDR + tf_rd32(buf + hdr_end + 20); /* the first chunk's size */
    uint8_t *big = malloc(len + c1 + 300);
    /* header, chunk 1, junk (with a false marker), chunk 1 again, the rest */
    size_t at = 0;
    memcpy(big, buf, hdr_end + c1);
    at = hdr_end + c1;
    memset(big + at, 0xAB, 200);
    memcpy(big + at + 50, TF_CHUNK_MARKER, 4);
    at += 200;
    memcpy(big + at, buf + hdr_end, c1);
    at += c1;
    memcpy(big + at, buf + hdr_end + c1, len - hdr_end - c1);
    at += len - hdr_end - c1;
    struct trace_reader *r;
    struct diag d = { { 0 } };
    REQUIRE(trace_open_mem(&r, big, at, &d) == 0);
    const struct trace_status *st = trace_status(r);
    CHECK_EQ_U64(st->events, n);
    CHECK_EQ_U64(st->duplicate_chunks, 1);
    CHECK(st->corrupt_chunks >= 1 && st->skipped_bytes == 200);
    CHECK_EQ_U64(st->end.reason, TRACE_END_NONE);
    size_t seen = 0;
    trace_rewind(r, TRACE_ORDER_SEQ);
    while (trace_next(r, &got))
        seen++;
    CHECK_EQ_U64(seen, n);
    trace_close(r);
    free(big);
    free(buf);
}

static struct trace_event mk(uint16_t kind, uint32_t thread, uint64_t seq, uint64_t ptr,
                             uint64_t size, uint64_t result)
{
    struct trace_event e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.thread = thread;
    e.tid = 10 + thread;
    e.seq = e.seq2 = seq;
    e.ns = 1000 + seq * 10;
    e.ptr = ptr;
    e.size = size;
    e.count = 1;
    e.result = result;
    return e;
}

static void test_stats(void)
{
    struct trace_event ev[16];
    size_t n = 0;
    ev[n++] = mk(TRACE_MALLOC, 0, 0, 0, 100, 0x1000);     /* live 100 */
    ev[n++] = mk(TRACE_MALLOC, 0, 1, 0, 50, 0x2000);      /* live 150 */
    ev[n++] = mk(TRACE_FREE, 1, 2, 0x1000, 0, 0);         /* cross-thread; live 50 */
    ev[n++] = mk(TRACE_FREE, 1, 3, 0x9000, 0, 0);         /* unknown */
    ev[n] = mk(TRACE_REALLOC, 0, 4, 0x2000, 400, 0x3000); /* live 400 */
    ev[n++].seq2 = 5;
    ev[n++] = mk(TRACE_MALLOC, 0, 6, 0, 1u << 20, 0); /* failure */
    ev[n++] = mk(TRACE_FREE, 0, 7, 0, 0, 0);          /* free(NULL) */
    ev[n] = mk(TRACE_CALLOC, 1, 8, 0, 10, 0x4000);    /* live 430 */
    ev[n++].count = 3;
    ev[n] = mk(TRACE_REALLOC, 1, 9, 0x4000, 0, 0); /* freed by realloc(p, 0) */
    ev[n].seq2 = 10;
    ev[n++].flags = TRACE_F_ZERO_FREED;
    uint8_t *buf;
    size_t len;
    struct diag d = { { 0 } };
    REQUIRE(trace_write_mem(NULL, ev, n, 2, TRACE_END_EXIT, &buf, &len, &d) == 0);
    struct trace_reader *r;
    REQUIRE(trace_open_mem(&r, buf, len, &d) == 0);
    struct trace_stats s;
    REQUIRE(trace_stats(r, &s, &d) == 0);
    CHECK_EQ_U64(s.events, n);
    CHECK_EQ_U64(s.by_kind[TRACE_MALLOC], 3);
    CHECK_EQ_U64(s.by_kind[TRACE_FREE], 3);
    CHECK_EQ_U64(s.allocations, 4);
    CHECK_EQ_U64(s.releases, 4); /* two frees, the realloc's old block, realloc(p, 0) */
    CHECK_EQ_U64(s.free_null, 1);
    CHECK_EQ_U64(s.failures, 1);
    CHECK_EQ_U64(s.zero_frees, 1);
    CHECK_EQ_U64(s.cross_thread_frees, 1); /* 0x1000: allocated on 0, freed on 1 */
    CHECK_EQ_U64(s.unknown_frees, 1);
    CHECK_EQ_U64(s.peak_live_bytes, 430);
    CHECK_EQ_U64(s.peak_event, 7);
    CHECK_EQ_U64(s.live_bytes, 400);
    CHECK_EQ_U64(s.live_objects, 1);
    CHECK_EQ_U64(s.size_hist[trace_hist_bucket(100)], 1);
    CHECK_EQ_U64(s.size_hist[trace_hist_bucket(30)], 1);
    CHECK_EQ_U64(trace_hist_bucket(0), 0);
    CHECK_EQ_U64(trace_hist_bucket(1), 1);
    CHECK_EQ_U64(trace_hist_bucket(UINT64_MAX), 64);
    uint64_t lifetimes = 0;
    for (int b = 0; b < TRACE_HIST_BUCKETS; b++)
        lifetimes += s.life_events_hist[b];
    CHECK_EQ_U64(lifetimes, 2); /* 0x1000 and 0x4000 */
    trace_close(r);
    free(buf);
}

static void test_writer_rejects(void)
{
    struct trace_event ev[2];
    ev[0] = mk(TRACE_MALLOC, 0, 5, 0, 1, 0x10);
    ev[1] = mk(TRACE_FREE, 0, 5, 0x10, 0, 0); /* same number twice on one thread */
    uint8_t *buf;
    size_t len;
    struct diag d = { { 0 } };
    CHECK(trace_write_mem(NULL, ev, 2, 8, TRACE_END_NONE, &buf, &len, &d) == -1);
    CHECK(strstr(d.msg, "sequence") != NULL);
}

/* The one wording of damage that trace info, replay and bench print. */
static void test_damage_format(void)
{
    struct trace_status st;
    char buf[256];
    memset(&st, 0, sizeof(st));
    st.events = 42;
    trace_damage_format(&st, buf, sizeof(buf));
    CHECK(strcmp(buf, "") == 0);
    st.truncated = 1;
    trace_damage_format(&st, buf, sizeof(buf));
    CHECK(strcmp(buf, "truncated: read up to its last whole chunk (42 events)") == 0);
    st.corrupt_chunks = 2;
    st.skipped_bytes = 300;
    trace_damage_format(&st, buf, sizeof(buf));
    CHECK(strcmp(buf, "truncated (read up to its last whole chunk) and 2 corrupt chunk(s) "
                      "skipped (300 bytes)")
          == 0);
    st.truncated = 0;
    trace_damage_format(&st, buf, sizeof(buf));
    CHECK(strcmp(buf, "2 corrupt chunk(s) skipped (300 bytes)") == 0);
}

int main(void)
{
    RUN_TEST(test_crc32c);
    RUN_TEST(test_varint);
    RUN_TEST(test_roundtrip);
    RUN_TEST(test_truncation);
    RUN_TEST(test_bit_flips);
    RUN_TEST(test_foreign);
    RUN_TEST(test_duplicates_and_junk);
    RUN_TEST(test_stats);
    RUN_TEST(test_writer_rejects);
    RUN_TEST(test_damage_format);
    return check_report();
}
