/*
 * cli/cmd_list.c: `heaplab list [workloads|allocators]`. For each allocator found, a probe
 * worker runs with it preloaded, proving the preload works and asking its version.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "heaplab/lab.h"
#include "workload/workload.h"

static int run_list(int argc, char **argv, const struct cli_ctx *ctx);

static const struct cli_opt list_opts[] = { { 0 } };

const struct cli_command cli_cmd_list = {
    .name = "list",
    .summary = "list workloads and allocators ('list workloads', 'list allocators', 'list lab')",
    .args_after = "[workloads|allocators|lab]",
    .about = "List the workloads, the built-in allocators (each found one is probed: its\n"
             "preload proven and its version asked) and the lab allocators; with no argument,\n"
             "all three.",
    .opts = list_opts,
    .run = run_list,
};

static void list_workloads(void)
{
    printf("%-18s %-8s %-7s %12s  %s\n", "workload", "kind", "streams", "ops/thread",
           "what it does");
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        printf("%-18s %-8s %-7s %12llu  %s\n", w->name, w->category,
               w->shape == WL_SHARED ? "shared" : "each", (unsigned long long)w->default_ops,
               w->summary);
    }
}

/* Is `name` one of the comma-separated items of `list`? */
static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0) return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* Every lab backend `bench --allocator lab:NAME` takes; `race` takes all but vt-glibc. */
static void list_lab(void)
{
    const struct lab_ops *ops;
    printf("%-14s %-8s %s\n", "lab allocator", "default", "strategy");
    for (size_t i = 0; (ops = bench_lab_get(i)); i++)
        printf("%-14s %-8s %s\n", ops->name, in_list(LAB_DEFAULT_SET, ops->name) ? "yes" : "no",
               ops->summary);
}

static int list_allocators(void)
{
    const char *self = cli_self_exe();
    if (!self) return EXIT_FAIL;
    struct allocator all[ALLOC_MAX];
    size_t n = allocator_builtins(all, ALLOC_MAX);
    printf("%-10s %-9s %-14s %s\n", "allocator", "status", "version", "library");
    for (size_t i = 0; i < n; i++) {
        const struct allocator *a = &all[i];
        if (!a->found) {
            printf("%-10s %-9s %-14s %s (%s)\n", a->name, "missing", "-", a->path, a->note);
            continue;
        }
        cJSON *r = bench_probe(self, a, 30);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(r, "version");
        const cJSON *prov = cJSON_GetObjectItemCaseSensitive(r, "provider");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
        int ok = cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
        printf("%-10s %-9s %-14s %s", a->name, ok ? "ok" : "broken",
               ok && cJSON_IsString(ver) && ver->valuestring[0] ? ver->valuestring : "-",
               cJSON_IsString(prov) ? prov->valuestring : (a->path[0] ? a->path : "libc"));
        if (!ok) printf(" (%s)", cJSON_IsString(err) ? err->valuestring : "probe failed");
        printf("\n");
        cJSON_Delete(r);
    }
    return EXIT_OK;
}

static int run_list(int argc, char **argv, const struct cli_ctx *ctx)
{
    (void)ctx;
    struct cli_parser p;
    cli_parser_init(&p, &cli_cmd_list, argc, argv);
    int ch = cli_next(&p);
    if (ch != CLI_DONE) return ch > 0 ? EXIT_USAGE : cli_parse_status(ch);
    if (argc - p.optind > 1) return cli_usage(&cli_cmd_list, "too many arguments");
    const char *what = p.optind < argc ? argv[p.optind] : NULL;
    if (what && strcmp(what, "workloads") != 0 && strcmp(what, "allocators") != 0
        && strcmp(what, "lab") != 0)
        return cli_usage(&cli_cmd_list, "unknown list \"%s\" (workloads, allocators or lab)", what);
    int rc = EXIT_OK;
    if (!what || strcmp(what, "workloads") == 0) list_workloads();
    if (!what) printf("\n");
    if (!what || strcmp(what, "allocators") == 0) rc = list_allocators();
    if (!what) printf("\n");
    if (!what || strcmp(what, "lab") == 0) list_lab();
    return rc;
}
