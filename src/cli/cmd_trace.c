/*
 * cli/cmd_trace.c: `heaplab trace info|dump FILE`: what a recorded trace holds (docs/traces.md).
 * A file that cannot be read at all is a one-line error and exit 1; a damaged one (truncated,
 * or with corrupt chunks) is reported as far as it can be read, then the same error line.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "trace/trace.h"
#include "util/diag.h"

static int run_trace(int argc, char **argv, const struct cli_ctx *ctx);
static int run_info(int argc, char **argv, const struct cli_ctx *ctx);
static int run_dump(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_JSON = 256, OPT_ORDER };

static const struct cli_opt info_opts[] = {
    { .key = OPT_JSON,
      .name = "json",
      .help = "one JSON document on stdout (schema heaplab.trace-info/1)" },
    { 0 },
};

static const struct cli_opt dump_opts[] = {
    { .key = OPT_ORDER,
      .name = "order",
      .arg = "file|seq",
      .help = "as stored (default), or merged by sequence number" },
    { .key = 'n', .short_name = 'n', .name = "limit", .arg = "N", .help = "at most N events" },
    { 0 },
};

static const char trace_exit_notes[] =
        "Exit status: 0; 1 when the file cannot be read, or is truncated or has corrupt\n"
        "chunks (what could be read is still reported); 2 on a usage error.";

static const struct cli_command cmd_info = {
    .name = "trace info",
    .args_after = "FILE",
    .about = "What a trace written by 'heaplab record' holds (docs/traces.md): events by kind,\n"
             "threads, peak live bytes and when, size and lifetime histograms, cross-thread\n"
             "frees, frees of unknown pointers, failures, and the other files of its\n"
             "recording (FILE.<pid>: children, exec'd images).",
    .opts = info_opts,
    .notes = trace_exit_notes,
    .run = run_info,
};

static const struct cli_command cmd_dump = {
    .name = "trace dump",
    .args_after = "FILE",
    .about = "One line per event of a trace written by 'heaplab record'.",
    .opts = dump_opts,
    .notes = trace_exit_notes,
    .run = run_dump,
};

const struct cli_command cli_cmd_trace = {
    .name = "trace",
    .summary = "inspect a recorded trace ('trace info FILE', 'trace dump FILE')",
    .run = run_trace,
};

static void fmt_bytes(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1u << 20))
        snprintf(buf, n, "%.2f MiB", (double)b / (1u << 20));
    else if (b >= (1u << 10))
        snprintf(buf, n, "%.1f KiB", (double)b / (1u << 10));
    else
        snprintf(buf, n, "%" PRIu64 " B", b);
}

static void fmt_ns(char *buf, size_t n, uint64_t ns)
{
    if (ns >= 1000000000u)
        snprintf(buf, n, "%.3f s", (double)ns / 1e9);
    else if (ns >= 1000000u)
        snprintf(buf, n, "%.3f ms", (double)ns / 1e6);
    else if (ns >= 1000u)
        snprintf(buf, n, "%.3f us", (double)ns / 1e3);
    else
        snprintf(buf, n, "%" PRIu64 " ns", ns);
}

/* A power of two with a binary suffix: 512, 1K, 2M ... */
static void fmt_pow2(char *buf, size_t n, unsigned k)
{
    static const char suf[] = " KMGTPE";
    snprintf(buf, n, "%llu%c", 1ull << (k % 10), k / 10 ? suf[k / 10] : ' ');
    size_t l = strlen(buf);
    if (l && buf[l - 1] == ' ') buf[l - 1] = 0;
}

/* Lower bound of histogram bucket b of ns lifetimes. */
static void fmt_ns_bucket(char *buf, size_t n, unsigned b)
{
    if (b == 0) {
        snprintf(buf, n, "0");
        return;
    }
    fmt_ns(buf, n, 1ull << (b - 1));
}

static const unsigned info_kinds[] = {
    TRACE_MALLOC,         TRACE_CALLOC,        TRACE_REALLOC,    TRACE_REALLOCARRAY,
    TRACE_POSIX_MEMALIGN, TRACE_ALIGNED_ALLOC, TRACE_MEMALIGN,   TRACE_VALLOC,
    TRACE_PVALLOC,        TRACE_FREE,          TRACE_FREE_SIZED, TRACE_FREE_ALIGNED_SIZED,
    TRACE_THREAD,         TRACE_MARK,
};
#define N_INFO_KINDS (sizeof(info_kinds) / sizeof(info_kinds[0]))

static void print_hist(const char *title, const uint64_t *h, int ns_labels)
{
    int lo = -1, hi = -1;
    uint64_t total = 0;
    for (int b = 0; b < TRACE_HIST_BUCKETS; b++) {
        if (!h[b]) continue;
        if (lo < 0) lo = b;
        hi = b;
        total += h[b];
    }
    printf("\n%s\n", title);
    if (lo < 0) {
        printf("  (none)\n");
        return;
    }
    for (int b = lo; b <= hi; b++) {
        char from[32];
        if (ns_labels)
            fmt_ns_bucket(from, sizeof(from), (unsigned)b);
        else if (b == 0)
            snprintf(from, sizeof(from), "0");
        else
            fmt_pow2(from, sizeof(from), (unsigned)b - 1);
        double pct = 100.0 * (double)h[b] / (double)total;
        int bar = (int)(pct / 2.5 + 0.5);
        printf("  >= %-10s %12" PRIu64 " %5.1f%% %.*s\n", from, h[b], pct, bar,
               "########################################");
    }
}

/* The directory part of `path` as given ("" or "dir/"), to show sibling files the same way. */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* The other files of the recording `path` belongs to (one per process image; through a
 * wrapper the program is in a FILE.<pid>), when there are any; `path`'s marked *. */
static void print_recording(const char *path, const struct trace_recording *rec)
{
    if (rec->n < 2) return;
    int dl = (int)dir_len(path);
    printf("\nrecording %zu files of one 'heaplab record' run (session %" PRIu64 "), by start\n",
           rec->n, rec->session);
    printf("  %-*s %-16s %8s %12s  %s\n", dl + 24, "file", "program", "pid", "events", "end");
    for (size_t i = 0; i < rec->n; i++) {
        const struct trace_file *f = &rec->files[i];
        char shown[4096];
        snprintf(shown, sizeof(shown), "%.*s%s", dl, path, f->name);
        printf("%c %-*s %-16s %8" PRIu64 " %12" PRIu64 "  %s\n",
               strcmp(shown, path) == 0 ? '*' : ' ', dl + 24, shown, f->program, f->pid,
               f->status.events, trace_end_name(f->status.end.reason));
    }
}

static void print_info(const char *path, const struct trace_reader *r, const struct trace_stats *s)
{
    const struct trace_header *h = trace_header(r);
    const struct trace_status *st = trace_status(r);
    char b1[64], b2[64], b3[64];
    fmt_bytes(b1, sizeof(b1), st->file_bytes);
    printf("%s: %s (version %u.%u), %s\n", path, TRACE_FORMAT, h->version_major, h->version_minor,
           b1);
    printf("end       %s", trace_end_name(st->end.reason));
    if (st->end.reason == TRACE_END_SIGNAL) printf(" (signal %d)", st->end.signal);
    if (st->end.reason == TRACE_END_NONE)
        printf(" (no end record: the process was killed, or is still running)");
    printf("\n");
    printf("program   %s\n", h->program);
    printf("argv     ");
    for (unsigned i = 0; i < h->argc; i++)
        printf(" %s", h->argv[i]);
    printf("%s\n", h->argv_truncated ? " ..." : "");
    time_t t = (time_t)(h->start_realtime_ns / 1000000000u);
    struct tm tm;
    char when[64] = "?";
    if (gmtime_r(&t, &tm)) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    printf("process   pid %" PRIu64 ", parent %" PRIu64 "%s, started %s\n", h->pid, h->ppid,
           h->forked ? " (fork child)" : "", when);
    printf("machine   %s %s %s (%s)\n", h->sysname, h->release, h->machine, h->nodename);
    fmt_bytes(b1, sizeof(b1), h->buffer_bytes);
    printf("recorder  %s over %s (clock %s, %s buffers)\n", h->recorder,
           *h->next_malloc ? h->next_malloc : "?", h->clock, b1);
    fmt_ns(b1, sizeof(b1), s->last_ns - s->first_ns);
    printf("events    %" PRIu64 " in %" PRIu64 " chunk%s, %u thread%s, over %s\n", s->events,
           st->chunks, st->chunks == 1 ? "" : "s", st->threads, st->threads == 1 ? "" : "s", b1);
    char dmg[256];
    trace_damage_format(st, dmg, sizeof(dmg));
    if (*dmg) printf("damage    %s\n", dmg);
    if (st->duplicate_chunks)
        printf("          %" PRIu64 " chunk(s) written twice were dropped\n", st->duplicate_chunks);
    if (st->end.dropped)
        printf("          %" PRIu64 " events were not recorded (no thread buffer left)\n",
               st->end.dropped);

    printf("\ncalls\n");
    for (size_t i = 0; i < N_INFO_KINDS; i++) {
        unsigned k = info_kinds[i];
        if (!s->by_kind[k] && k != TRACE_MALLOC && k != TRACE_FREE) continue;
        printf("  %-20s %12" PRIu64, trace_kind_name(k), s->by_kind[k]);
        if (k == TRACE_FREE && s->free_null) printf("   (of NULL: %" PRIu64 ")", s->free_null);
        printf("\n");
    }
    fmt_bytes(b1, sizeof(b1), s->bytes_requested);
    printf("\nallocations  %" PRIu64 " blocks, %s requested, %" PRIu64 " failed\n", s->allocations,
           b1, s->failures);
    printf("releases     %" PRIu64 ", %" PRIu64 " cross-thread, %" PRIu64 " of unknown pointers\n",
           s->releases, s->cross_thread_frees, s->unknown_frees);
    if (s->realloc_in_place || s->zero_frees)
        printf("realloc      %" PRIu64 " in place, %" PRIu64 " realloc(p, 0) frees\n",
               s->realloc_in_place, s->zero_frees);
    fmt_bytes(b1, sizeof(b1), s->peak_live_bytes);
    fmt_ns(b2, sizeof(b2), s->peak_ns);
    printf("peak live    %s in %" PRIu64 " blocks, at event %" PRIu64 " (%s)\n", b1,
           s->peak_live_objects, s->peak_event, b2);
    fmt_bytes(b3, sizeof(b3), s->live_bytes);
    printf("live at end  %s in %" PRIu64 " blocks\n", b3, s->live_objects);
    if (s->reused_live)
        printf("             %" PRIu64
               " allocations returned a live address (a free was not seen)\n",
               s->reused_live);
    if (s->forks || s->exec_failures)
        printf("processes    %" PRIu64 " forks, %" PRIu64 " failed execs\n", s->forks,
               s->exec_failures);

    print_hist("sizes requested (bytes, from)", s->size_hist, 0);
    print_hist("lifetimes (events between allocation and release, from)", s->life_events_hist, 0);
    print_hist("lifetimes (time, from)", s->life_ns_hist, 1);

    size_t nt;
    const struct trace_thread *th = trace_threads(r, &nt);
    printf("\nthreads\n  %6s %10s %12s\n", "index", "tid", "events");
    for (size_t i = 0; i < nt && i < 64; i++)
        printf("  %6u %10u %12" PRIu64 "\n", th[i].index, th[i].tid, th[i].events);
    if (nt > 64) printf("  ... %zu more\n", nt - 64);
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    cJSON_AddRawToObject(o, key, buf);
}

static cJSON *hist_json(const uint64_t *h)
{
    cJSON *a = cJSON_CreateArray();
    for (int b = 0; b < TRACE_HIST_BUCKETS; b++) {
        if (!h[b]) continue;
        cJSON *e = cJSON_CreateObject();
        add_u64(e, "from", b ? 1ull << (b - 1) : 0);
        add_u64(e, "to", b == 0 ? 0 : b == 64 ? UINT64_MAX : (1ull << b) - 1);
        add_u64(e, "count", h[b]);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static char *info_json(const char *path, const struct trace_reader *r, const struct trace_stats *s,
                       const struct trace_recording *recording)
{
    const struct trace_header *h = trace_header(r);
    const struct trace_status *st = trace_status(r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schema", "heaplab.trace-info/1");
    cJSON_AddStringToObject(o, "file", path);
    char ver[32];
    snprintf(ver, sizeof(ver), "%u.%u", h->version_major, h->version_minor);
    cJSON_AddStringToObject(o, "format_version", ver);
    add_u64(o, "file_bytes", st->file_bytes);
    cJSON_AddStringToObject(o, "program", h->program);
    cJSON *argv = cJSON_AddArrayToObject(o, "argv");
    for (unsigned i = 0; i < h->argc; i++)
        cJSON_AddItemToArray(argv, cJSON_CreateString(h->argv[i]));
    cJSON_AddBoolToObject(o, "argv_truncated", h->argv_truncated);
    add_u64(o, "pid", h->pid);
    add_u64(o, "ppid", h->ppid);
    cJSON_AddBoolToObject(o, "forked", h->forked);
    add_u64(o, "start_realtime_ns", h->start_realtime_ns);
    add_u64(o, "session", h->session);
    cJSON *m = cJSON_AddObjectToObject(o, "machine");
    cJSON_AddStringToObject(m, "sysname", h->sysname);
    cJSON_AddStringToObject(m, "nodename", h->nodename);
    cJSON_AddStringToObject(m, "release", h->release);
    cJSON_AddStringToObject(m, "machine", h->machine);
    cJSON *rec = cJSON_AddObjectToObject(o, "recorder");
    cJSON_AddStringToObject(rec, "name", h->recorder);
    cJSON_AddStringToObject(rec, "next_malloc", h->next_malloc);
    cJSON_AddStringToObject(rec, "clock", h->clock);
    cJSON_AddStringToObject(rec, "writer", h->writer);
    add_u64(rec, "buffer_bytes", h->buffer_bytes);

    cJSON_AddStringToObject(o, "end", trace_end_name(st->end.reason));
    add_u64(o, "end_signal", (uint64_t)st->end.signal);
    cJSON_AddBoolToObject(o, "truncated", st->truncated);
    add_u64(o, "corrupt_chunks", st->corrupt_chunks);
    add_u64(o, "skipped_bytes", st->skipped_bytes);
    add_u64(o, "duplicate_chunks", st->duplicate_chunks);
    add_u64(o, "dropped_events", st->end.dropped);
    add_u64(o, "chunks", st->chunks);
    add_u64(o, "events", s->events);
    add_u64(o, "duration_ns", s->last_ns - s->first_ns);
    cJSON *k = cJSON_AddObjectToObject(o, "calls");
    for (size_t i = 0; i < N_INFO_KINDS; i++)
        add_u64(k, trace_kind_name(info_kinds[i]), s->by_kind[info_kinds[i]]);
    add_u64(o, "free_null", s->free_null);
    add_u64(o, "allocations", s->allocations);
    add_u64(o, "releases", s->releases);
    add_u64(o, "failures", s->failures);
    add_u64(o, "zero_frees", s->zero_frees);
    add_u64(o, "realloc_in_place", s->realloc_in_place);
    add_u64(o, "bytes_requested", s->bytes_requested);
    add_u64(o, "cross_thread_frees", s->cross_thread_frees);
    add_u64(o, "unknown_frees", s->unknown_frees);
    add_u64(o, "reused_live", s->reused_live);
    add_u64(o, "forks", s->forks);
    add_u64(o, "exec_failures", s->exec_failures);
    add_u64(o, "thread_exits", s->thread_exits);
    cJSON *pk = cJSON_AddObjectToObject(o, "peak_live");
    add_u64(pk, "bytes", s->peak_live_bytes);
    add_u64(pk, "blocks", s->peak_live_objects);
    add_u64(pk, "event", s->peak_event);
    add_u64(pk, "ns", s->peak_ns);
    cJSON *le = cJSON_AddObjectToObject(o, "live_at_end");
    add_u64(le, "bytes", s->live_bytes);
    add_u64(le, "blocks", s->live_objects);
    cJSON_AddItemToObject(o, "size_histogram", hist_json(s->size_hist));
    cJSON_AddItemToObject(o, "lifetime_events_histogram", hist_json(s->life_events_hist));
    cJSON_AddItemToObject(o, "lifetime_ns_histogram", hist_json(s->life_ns_hist));
    size_t nt;
    const struct trace_thread *th = trace_threads(r, &nt);
    cJSON *ta = cJSON_AddArrayToObject(o, "threads");
    for (size_t i = 0; i < nt; i++) {
        cJSON *e = cJSON_CreateObject();
        add_u64(e, "index", th[i].index);
        add_u64(e, "tid", th[i].tid);
        add_u64(e, "events", th[i].events);
        cJSON_AddItemToArray(ta, e);
    }
    cJSON *ra = cJSON_AddArrayToObject(o, "recording");
    for (size_t i = 0; i < recording->n; i++) {
        const struct trace_file *f = &recording->files[i];
        char shown[4096];
        snprintf(shown, sizeof(shown), "%.*s%s", (int)dir_len(path), path, f->name);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "file", shown);
        cJSON_AddStringToObject(e, "program", f->program);
        add_u64(e, "pid", f->pid);
        add_u64(e, "ppid", f->ppid);
        cJSON_AddBoolToObject(e, "forked", f->forked);
        add_u64(e, "events", f->status.events);
        add_u64(e, "threads", f->status.threads);
        cJSON_AddStringToObject(e, "end", trace_end_name(f->status.end.reason));
        cJSON_AddItemToArray(ra, e);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

/* The one trace file left on the command line, opened: EXIT_OK, or the exit status after
 * reporting a usage error (none or several files) or a file that cannot be read. */
static int open_trace_arg(const struct cli_command *c, int argc, char **argv, int first,
                          const char **path, struct trace_reader **r)
{
    if (first != argc - 1)
        return cli_usage(c, "%s",
                         first >= argc ? "no trace file given" : "one trace file at a time");
    *path = argv[first];
    struct diag d = { { 0 } };
    if (trace_open(r, *path, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* After the report: the damage line, and the exit status. */
static int finish(const char *path, const struct trace_reader *r)
{
    char dmg[256];
    trace_damage_format(trace_status(r), dmg, sizeof(dmg));
    if (!*dmg) return EXIT_OK;
    cli_error("%s: %s", path, dmg);
    return EXIT_FAIL;
}

/* Print the report (text or JSON) of an open trace and its recording. */
static int info_report(const char *path, struct trace_reader *r, int json)
{
    struct trace_stats s;
    struct diag d = { { 0 } };
    if (trace_stats(r, &s, &d) != 0) {
        cli_error("%s: %s", path, d.msg);
        return EXIT_FAIL;
    }
    struct trace_recording rec;
    if (trace_recording_find(&rec, path, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    int rc = EXIT_OK;
    if (json) {
        char *text = info_json(path, r, &s, &rec);
        if (text)
            puts(text);
        else
            cli_error("out of memory");
        rc = text ? EXIT_OK : EXIT_FAIL;
        free(text);
    } else {
        print_info(path, r, &s);
        print_recording(path, &rec);
    }
    trace_recording_fini(&rec);
    fflush(stdout);
    return rc;
}

static int run_info(int argc, char **argv, const struct cli_ctx *ctx)
{
    (void)ctx;
    struct cli_parser p;
    cli_parser_init(&p, &cmd_info, argc, argv);
    int json = 0, ch;
    while ((ch = cli_next(&p)) > 0)
        json |= ch == OPT_JSON;
    if (ch != CLI_DONE) return cli_parse_status(ch);
    const char *path = NULL;
    struct trace_reader *r = NULL;
    int rc = open_trace_arg(&cmd_info, argc, argv, p.optind, &path, &r);
    if (rc != EXIT_OK) return rc;
    rc = info_report(path, r, json);
    if (rc == EXIT_OK) rc = finish(path, r);
    trace_close(r);
    return rc;
}
static void dump_event(const struct trace_event *e, uint64_t start)
{
    double t = e->ns > start ? (double)(e->ns - start) / 1e9 : 0.0;
    printf("%10" PRIu64 " %4u %12.9f  %s", e->seq, e->thread, t, trace_kind_name(e->kind));
    switch (e->kind) {
    case TRACE_MALLOC:
    case TRACE_VALLOC:
    case TRACE_PVALLOC:
        printf("(%" PRIu64 ") = %#" PRIx64, e->size, e->result);
        break;
    case TRACE_CALLOC:
        printf("(%" PRIu64 ", %" PRIu64 ") = %#" PRIx64, e->count, e->size, e->result);
        break;
    case TRACE_REALLOC:
        printf("(%#" PRIx64 ", %" PRIu64 ") = %#" PRIx64 "  [seq %" PRIu64 "]%s", e->ptr, e->size,
               e->result, e->seq2, e->flags & TRACE_F_ZERO_FREED ? " freed" : "");
        break;
    case TRACE_REALLOCARRAY:
        printf("(%#" PRIx64 ", %" PRIu64 ", %" PRIu64 ") = %#" PRIx64 "  [seq %" PRIu64 "]%s",
               e->ptr, e->count, e->size, e->result, e->seq2,
               e->flags & TRACE_F_ZERO_FREED ? " freed" : "");
        break;
    case TRACE_POSIX_MEMALIGN:
        printf("(%" PRIu64 ", %" PRIu64 ") = %" PRIu64 ", %#" PRIx64, e->align, e->size, e->value,
               e->result);
        break;
    case TRACE_ALIGNED_ALLOC:
    case TRACE_MEMALIGN:
        printf("(%" PRIu64 ", %" PRIu64 ") = %#" PRIx64, e->align, e->size, e->result);
        break;
    case TRACE_FREE:
        printf("(%#" PRIx64 ")", e->ptr);
        break;
    case TRACE_FREE_SIZED:
        printf("(%#" PRIx64 ", %" PRIu64 ")", e->ptr, e->size);
        break;
    case TRACE_FREE_ALIGNED_SIZED:
        printf("(%#" PRIx64 ", %" PRIu64 ", %" PRIu64 ")", e->ptr, e->align, e->size);
        break;
    case TRACE_THREAD:
        printf(" tid %" PRIu64, e->value);
        break;
    case TRACE_MARK:
        printf(" %s %" PRIu64, trace_mark_name(e->mark), e->value);
        break;
    default:
        break;
    }
    putchar('\n');
}

static int run_dump(int argc, char **argv, const struct cli_ctx *ctx)
{
    (void)ctx;
    struct cli_parser p;
    cli_parser_init(&p, &cmd_dump, argc, argv);
    enum trace_order order = TRACE_ORDER_FILE;
    uint64_t limit = UINT64_MAX;
    int ch;
    while ((ch = cli_next(&p)) > 0) {
        if (ch == OPT_ORDER && strcmp(p.value, "file") == 0)
            order = TRACE_ORDER_FILE;
        else if (ch == OPT_ORDER && strcmp(p.value, "seq") == 0)
            order = TRACE_ORDER_SEQ;
        else if (ch == OPT_ORDER)
            return cli_bad_value(&p, "file or seq");
        else if (ch == 'n' && cli_value_count(&p, 0, UINT64_MAX, &limit) != 0)
            return EXIT_USAGE;
    }
    if (ch != CLI_DONE) return cli_parse_status(ch);
    const char *path = NULL;
    struct trace_reader *r = NULL;
    int rc = open_trace_arg(&cmd_dump, argc, argv, p.optind, &path, &r);
    if (rc != EXIT_OK) return rc;
    uint64_t start = trace_header(r)->start_mono_ns;
    trace_rewind(r, order);
    struct trace_event e;
    printf("%10s %4s %12s  %s\n", "seq", "thr", "time, s", "call");
    for (uint64_t i = 0; i < limit && trace_next(r, &e); i++)
        dump_event(&e, start);
    fflush(stdout);
    rc = finish(path, r);
    trace_close(r);
    return rc;
}

/* `heaplab trace SUBCOMMAND ...`; `trace --help` prints both subcommands' help. */
static int run_trace(int argc, char **argv, const struct cli_ctx *ctx)
{
    const char *sub = argc >= 2 ? argv[1] : NULL;
    if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
        cli_print_help(&cmd_info, stdout);
        fputc('\n', stdout);
        cli_print_help(&cmd_dump, stdout);
        return EXIT_OK;
    }
    if (sub && strcmp(sub, "info") == 0) return run_info(argc - 1, argv + 1, ctx);
    if (sub && strcmp(sub, "dump") == 0) return run_dump(argc - 1, argv + 1, ctx);
    if (!sub)
        cli_error("no subcommand given (info or dump)");
    else
        cli_error("unknown trace subcommand \"%s\" (info or dump)", sub);
    cli_print_usage(&cmd_info, stderr);
    cli_print_usage(&cmd_dump, stderr);
    return EXIT_USAGE;
}
