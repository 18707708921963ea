/*
 * tests/fuzz/fuzz_trace.c: libFuzzer target for the trace reader (trace/reader.c, stats.c).
 * Any input must be rejected with a reason or read without a crash, a leak or undefined
 * behaviour (built with ASan and UBSan), and what is read must be self-consistent: both
 * iteration orders deliver exactly the events the status counts, sequence order never goes
 * backwards within a thread. Run by tests/fuzz/run_fuzz.sh (make test: 20 s; make fuzz).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace/trace.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_reader *r;
    struct diag d;
    if (trace_open_mem(&r, data, size, &d) != 0) {
        if (!d.msg[0]) __builtin_trap(); /* every refusal says why */
        return 0;
    }
    const struct trace_header *h = trace_header(r);
    size_t sum = strlen(h->program) + strlen(h->machine) + strlen(h->next_malloc);
    for (unsigned i = 0; i < h->argc; i++)
        sum += strlen(h->argv[i]);
    if (h->argv[h->argc] != NULL) __builtin_trap();
    const struct trace_status *st = trace_status(r);
    struct trace_event ev;
    uint64_t n = 0;
    while (trace_next(r, &ev))
        n++;
    if (n != st->events) __builtin_trap();
    size_t nt;
    trace_threads(r, &nt);
    if (nt != st->threads) __builtin_trap();
    trace_rewind(r, TRACE_ORDER_SEQ);
    n = 0;
    while (trace_next(r, &ev)) {
        if (ev.seq2 < ev.seq || ev.kind < 1 || ev.kind > TRACE_KIND_MAX) __builtin_trap();
        n++;
    }
    if (n != st->events) __builtin_trap();
    struct trace_stats s;
    if (trace_stats(r, &s, &d) == 0 && s.events != st->events) __builtin_trap();
    trace_close(r);
    return (int)(sum & 0);
}
