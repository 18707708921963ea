/*
 * cli/cmd_worker.c: `heaplab __worker`, the measuring process that `bench` spawns with the
 * allocator preloaded. Not for people: its stdout is one JSON object, its errors one line on
 * stderr. Exit 0 ok, 1 failure, 2 usage, 3 the preload did not take effect.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "replay/replay.h"
#include "trace/trace.h"
#include "util/diag.h"
#include "workload/workload.h"

#define EXIT_PRELOAD 3

int cmd_worker(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "workload", required_argument, NULL, 'w' },
        { "threads", required_argument, NULL, 't' },
        { "ops", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' },
        { "rep", required_argument, NULL, 'r' },
        { "expect", required_argument, NULL, 'e' },
        { "pin", required_argument, NULL, 'P' },
        { "no-latency", no_argument, NULL, 'L' },
        { "probe", no_argument, NULL, 'p' },
        { "lab", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *workload = NULL, *expect = NULL, *pin = NULL, *lab = NULL;
    uint64_t threads = 1, ops = 0, seed = 1, rep = 0;
    int latency = 1, probe = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'w':
            workload = optarg;
            break;
        case 't':
            bad = cli_parse_u64(optarg, &threads);
            break;
        case 'n':
            bad = cli_parse_u64(optarg, &ops);
            break;
        case 's':
            bad = cli_parse_u64(optarg, &seed);
            break;
        case 'r':
            bad = cli_parse_u64(optarg, &rep);
            break;
        case 'e':
            expect = optarg;
            break;
        case 'P':
            pin = optarg;
            break;
        case 'L':
            latency = 0;
            break;
        case 'p':
            probe = 1;
            break;
        case 'l':
            lab = optarg;
            break;
        default:
            bad = 1;
        }
        if (bad) {
            cli_error("__worker: bad arguments");
            return EXIT_USAGE;
        }
    }
    if (!expect || (!probe && !workload)) {
        cli_error("__worker: --expect and --workload are required");
        return EXIT_USAGE;
    }

    /* Prove the preload: the malloc in use must come from the expected library. */
    struct alloc_identity id;
    allocator_identify(&id);
    struct allocator want;
    memset(&want, 0, sizeof(want));
    if (strcmp(expect, "libc") != 0) snprintf(want.path, sizeof(want.path), "%s", expect);
    if (!allocator_matches(&want, id.provider)) {
        cli_error("malloc resolves to %s, not %s: the preload did not take effect", id.provider,
                  expect);
        return EXIT_PRELOAD;
    }
    if (probe) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "status", "ok");
        cJSON_AddStringToObject(j, "provider", id.provider);
        cJSON_AddStringToObject(j, "version", id.version);
        char *text = cJSON_PrintUnformatted(j);
        puts(text ? text : "{}");
        free(text);
        cJSON_Delete(j);
        return EXIT_OK;
    }

    int is_trace = strncmp(workload, BENCH_TRACE_PREFIX, strlen(BENCH_TRACE_PREFIX)) == 0;
    const struct workload *w = is_trace ? NULL : workload_find(workload);
    if (!w && !is_trace) {
        cli_error("unknown workload \"%s\"", workload);
        return EXIT_USAGE;
    }
    struct exec_opts o;
    memset(&o, 0, sizeof(o));
    o.latency = latency;
    if (lab) {
        o.lab = bench_lab_find(lab);
        if (!o.lab) {
            cli_error("unknown lab allocator \"%s\"", lab);
            return EXIT_USAGE;
        }
        if (threads > 1) {
            cli_error("lab allocators are single-threaded: run lab:%s with --threads 1", lab);
            return EXIT_FAIL;
        }
    }
    o.sample_stride = 16;
    o.sample_ms = 10;
    if (pin) {
        const char *items[64];
        size_t k = 0;
        if (cli_split(pin, items, &k, 64) != 0) {
            cli_error("__worker: bad --pin");
            return EXIT_USAGE;
        }
        for (size_t i = 0; i < k; i++) {
            uint64_t v;
            if (cli_parse_u64(items[i], &v) != 0 || v > 1023) {
                cli_error("__worker: bad --pin");
                return EXIT_USAGE;
            }
            o.pin_cpus[o.pin_count++] = (int)v;
        }
    }

    struct wl_params p = { .seed = seed, .ops = ops, .threads = (unsigned)threads };
    struct opstream s;
    struct diag d = { { 0 } };
    struct replay_stats rs;
    if (is_trace ? replay_stream(workload + strlen(BENCH_TRACE_PREFIX), &s, &rs, &d)
                 : workload_build(w, &p, &s, &d)) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    if (o.lab && s.threads > 1) {
        cli_error("lab allocators are single-threaded; this trace has %u threads", s.threads);
        opstream_destroy(&s);
        return EXIT_FAIL;
    }
    cJSON *res = exec_stream(&s, &o, &d);
    if (!res) {
        cli_error("%s", d.msg);
        opstream_destroy(&s);
        return EXIT_FAIL;
    }
    cJSON_AddStringToObject(res, "workload", is_trace ? workload : w->name);
    cJSON_AddNumberToObject(res, "seed", (double)seed);
    if (is_trace) {
        cJSON_AddNumberToObject(res, "ops_per_thread", (double)(opstream_ops(&s) / s.threads));
        cJSON *rj = cJSON_AddObjectToObject(res, "replay");
        cJSON_AddNumberToObject(rj, "events", (double)rs.events);
        cJSON_AddNumberToObject(rj, "allocs", (double)rs.allocs);
        cJSON_AddNumberToObject(rj, "frees", (double)rs.frees);
        cJSON_AddNumberToObject(rj, "reallocs", (double)rs.reallocs);
        cJSON_AddNumberToObject(rj, "unknown_frees", (double)rs.unknown_frees);
        cJSON_AddNumberToObject(rj, "failed", (double)rs.failed);
        cJSON_AddNumberToObject(rj, "zero_sizes", (double)rs.zero_sizes);
        cJSON_AddNumberToObject(rj, "clamped_aligns", (double)rs.clamped_aligns);
        cJSON_AddNumberToObject(rj, "stale_addresses", (double)rs.stale_addresses);
        cJSON_AddNumberToObject(rj, "threads", (double)rs.threads);
        cJSON_AddNumberToObject(rj, "folded_threads", (double)rs.folded_threads);
        cJSON_AddNumberToObject(rj, "corrupt_chunks", (double)rs.trace.corrupt_chunks);
        cJSON_AddBoolToObject(rj, "truncated", rs.trace.truncated);
        char damage[256];
        trace_damage_format(&rs.trace, damage, sizeof(damage));
        cJSON_AddStringToObject(rj, "damage", damage);
    } else {
        cJSON_AddNumberToObject(res, "ops_per_thread", (double)(ops ? ops : w->default_ops));
    }
    if (lab) {
        char prov[64];
        snprintf(prov, sizeof(prov), "lab:%s (in-process vtable)", lab);
        cJSON_AddStringToObject(res, "provider", prov);
        cJSON_AddStringToObject(res, "version", HEAPLAB_VERSION);
    } else {
        cJSON_AddStringToObject(res, "provider", id.provider);
        cJSON_AddStringToObject(res, "version", id.version);
    }
    opstream_destroy(&s);
    char *text = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    if (!text) {
        cli_error("out of memory formatting the result");
        return EXIT_FAIL;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
