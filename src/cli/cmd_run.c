/*
 * cli/cmd_run.c: `heaplab run [options] -- CMD ARGS...`: a real program under each
 * allocator, repeated with allocators interleaved, reporting wall, user and sys time, peak
 * RSS and page faults (from wait4), the way allocator papers measure applications. The
 * probe library proves which malloc every process of the program used.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "util/diag.h"
#include "util/helper.h"

static const char run_usage[] =
        "usage: heaplab run [--allocator LIST] [--repeat R] [--timeout SEC] [--json FILE]\n"
        "                   [--show-output] -- CMD [ARGS...]\n";

static const char run_help[] =
        "\n"
        "Run CMD once per allocator per repetition (allocators interleaved) and report the\n"
        "medians of wall, user and sys time, peak RSS and page faults.\n"
        "\n"
        "options:\n"
        "  -a, --allocator LIST  as for 'heaplab bench' (default: every built-in one found)\n"
        "  -r, --repeat R        repetitions (default: 5)\n"
        "      --timeout SEC     kill CMD after SEC seconds (default: 600)\n"
        "      --json FILE       write all runs (schema heaplab.run/1)\n"
        "      --show-output     let CMD's stdout and stderr through (default: discarded)\n"
        "  -h, --help            this help\n";

/* What the probe lines say: 0 all matched, 1 a mismatch (described), 2 nothing recorded. */
static int check_probe(const char *path, const struct allocator *a, char *why, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return 2;
    char line[4300];
    int seen = 0, bad = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        seen++;
        if (!allocator_matches(a, sp + 1) && !bad) {
            bad = 1;
            snprintf(why, cap, "process %.*s used malloc from %.200s", (int)(sp - line), line,
                     sp + 1);
        }
    }
    fclose(f);
    return bad ? 1 : (seen ? 0 : 2);
}

static const struct {
    const char *key;
    const char *title;
    double scale;
    int decimals;
} run_metrics[] = {
    { "wall_ns", "wall, s", 1e9, 3 },         { "user_ns", "user, s", 1e9, 3 },
    { "sys_ns", "sys, s", 1e9, 3 },           { "peak_rss_bytes", "peak RSS, MiB", 1048576.0, 1 },
    { "minor_faults", "minor faults", 1, 0 }, { "major_faults", "major faults", 1, 0 },
};
#define N_RUN_METRICS (sizeof(run_metrics) / sizeof(run_metrics[0]))

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "allocator", required_argument, NULL, 'a' },
        { "repeat", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 'T' },
        { "json", required_argument, NULL, 'J' },
        { "show-output", no_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *items[ALLOC_MAX];
    size_t n_items = 0;
    unsigned repeat = 5, timeout_s = 600;
    const char *json_path = NULL;
    int show = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+a:r:h", longopts, NULL)) != -1) {
        uint64_t v;
        switch (ch) {
        case 'a':
            if (cli_split(optarg, items, &n_items, ALLOC_MAX) != 0)
                return cli_usage_error(run_usage, "bad allocator list \"%s\"", optarg);
            break;
        case 'r':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 100)
                return cli_usage_error(run_usage, "bad --repeat \"%s\" (1..100)", optarg);
            repeat = (unsigned)v;
            break;
        case 'T':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 86400)
                return cli_usage_error(run_usage, "bad --timeout \"%s\"", optarg);
            timeout_s = (unsigned)v;
            break;
        case 'J':
            json_path = optarg;
            break;
        case 'S':
            show = 1;
            break;
        case 'h':
            fputs(run_usage, stdout);
            fputs(run_help, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(run_usage, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(run_usage, "%s",
                               "no command given (heaplab run [options] -- CMD ...)");
    char **cmd = &argv[optind];

    struct allocator allocs[ALLOC_MAX];
    size_t na = 0;
    struct diag d = { { 0 } };
    if (n_items == 0) {
        struct allocator all[ALLOC_MAX];
        size_t n = allocator_builtins(all, ALLOC_MAX);
        for (size_t i = 0; i < n; i++)
            if (all[i].found) allocs[na++] = all[i];
    } else {
        for (size_t i = 0; i < n_items; i++) {
            if (allocator_parse(items[i], &allocs[na], &d) != 0) {
                cli_error("%s", d.msg);
                fputs(run_usage, stderr);
                return EXIT_USAGE;
            }
            na++;
        }
    }

    /* The program must exist before anything runs. */
    char cmd_path[PATH_MAX];
    if (strchr(cmd[0], '/')) {
        snprintf(cmd_path, sizeof(cmd_path), "%s", cmd[0]);
    } else {
        const char *path = getenv("PATH");
        int found = 0;
        char *copy = strdup(path ? path : "/usr/bin:/bin");
        for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && !found;
             dir = strtok_r(NULL, ":", &save)) {
            snprintf(cmd_path, sizeof(cmd_path), "%s/%s", dir, cmd[0]);
            found = access(cmd_path, X_OK) == 0;
        }
        free(copy);
        if (!found) {
            cli_error("command not found: %s", cmd[0]);
            return EXIT_FAIL;
        }
    }
    if (access(cmd_path, X_OK) != 0) {
        cli_error("cannot execute %s: %s", cmd_path, strerror(errno));
        return EXIT_FAIL;
    }

    char probe_lib[PATH_MAX];
    int have_probe = helper_find("libheaplab-probe.so", probe_lib, sizeof(probe_lib)) == 0;
    if (!have_probe) cli_warn("%s missing: cannot verify which malloc the program uses", probe_lib);

    char probe_file[] = "/tmp/heaplab-probe-XXXXXX";
    int pfd = mkstemp(probe_file);
    if (pfd < 0) {
        cli_error("cannot create a temporary file: %s", strerror(errno));
        return EXIT_FAIL;
    }
    close(pfd);

    cJSON *runs[ALLOC_MAX];
    char notes[ALLOC_MAX][300];
    for (size_t a = 0; a < na; a++) {
        runs[a] = cJSON_CreateArray();
        notes[a][0] = 0;
        if (!allocs[a].found) snprintf(notes[a], sizeof(notes[a]), "%s", allocs[a].note);
    }
    int tty = cli_isatty(2);
    char *argv0 = cmd[0];
    cmd[0] = cmd_path;
    for (unsigned rep = 0; rep < repeat; rep++) {
        for (size_t a = 0; a < na; a++) {
            if (notes[a][0]) continue;
            if (tty) fprintf(stderr, "\r\033[K[rep %u/%u] %s", rep + 1, repeat, allocs[a].name);
            char preload[2 * PATH_MAX + 64];
            snprintf(preload, sizeof(preload), "%s%s%s", allocs[a].path,
                     allocs[a].path[0] && have_probe ? " " : "", have_probe ? probe_lib : "");
            char **env = worker_env(preload);
            char probe_env[sizeof(probe_file) + 32];
            snprintf(probe_env, sizeof(probe_env), "HEAPLAB_PROBE_FILE=%s", probe_file);
            size_t ne = 0;
            while (env && env[ne])
                ne++;
            char **env2 = env ? realloc(env, (ne + 2) * sizeof(char *)) : NULL;
            if (!env2) {
                cli_error("out of memory");
                return EXIT_FAIL;
            }
            env2[ne] = probe_env;
            env2[ne + 1] = NULL;
            truncate(probe_file, 0);
            struct spawn_result sr;
            int rc = spawn_run(cmd, env2, timeout_s, show ? SPAWN_SHOW_OUTPUT : 0, &sr);
            env2[ne] = NULL;
            free_env(env2, preload);
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "rep", rep);
            const char *status = "ok";
            char err[400] = "";
            if (rc != 0) {
                status = "failed";
                snprintf(err, sizeof(err), "cannot start: %s", strerror(errno));
            } else if (sr.timed_out) {
                status = "timeout";
                snprintf(err, sizeof(err), "killed after %u s", timeout_s);
            } else if (WIFSIGNALED(sr.status)) {
                status = "crashed";
                snprintf(err, sizeof(err), "killed by signal %d (%s)", WTERMSIG(sr.status),
                         strsignal(WTERMSIG(sr.status)));
            } else {
                cJSON_AddNumberToObject(r, "exit_status", WEXITSTATUS(sr.status));
                if (WEXITSTATUS(sr.status) != 0) {
                    status = "failed";
                    snprintf(err, sizeof(err), "exit status %d", WEXITSTATUS(sr.status));
                }
            }
            if (have_probe && strcmp(status, "ok") == 0) {
                char why[300] = "";
                int pr = check_probe(probe_file, &allocs[a], why, sizeof(why));
                if (pr == 1) {
                    status = "preload-mismatch";
                    snprintf(err, sizeof(err), "%s", why);
                }
                cJSON_AddBoolToObject(r, "preload_verified", pr == 0);
            }
            cJSON_AddStringToObject(r, "status", status);
            if (err[0]) cJSON_AddStringToObject(r, "error", err);
            if (rc == 0) {
                cJSON_AddNumberToObject(r, "wall_ns", (double)sr.wall_ns);
                cJSON_AddNumberToObject(r, "user_ns", (double)sr.usage.user_ns);
                cJSON_AddNumberToObject(r, "sys_ns", (double)sr.usage.sys_ns);
                cJSON_AddNumberToObject(r, "peak_rss_bytes", (double)sr.usage.maxrss_bytes);
                cJSON_AddNumberToObject(r, "minor_faults", (double)sr.usage.minor_faults);
                cJSON_AddNumberToObject(r, "major_faults", (double)sr.usage.major_faults);
            }
            spawn_result_free(&sr);
            cJSON_AddItemToArray(runs[a], r);
            if (strcmp(status, "ok") != 0 && rep == 0)
                snprintf(notes[a], sizeof(notes[a]), "%s: %.250s", status, err);
        }
    }
    cmd[0] = argv0;
    unlink(probe_file);
    if (tty) fprintf(stderr, "\r\033[K");

    /* Table: one row per metric, one column per allocator. */
    const char *nc = getenv("NO_COLOR");
    int out_tty = cli_isatty(1), color = out_tty && !(nc && nc[0]);
    printf("heaplab run: %s\n%u repeat%s, median and relative spread (max-min)/median\n\n",
           cli_command_line(argc - optind, cmd), repeat, repeat == 1 ? "" : "s");
    printf("%-16s", "metric");
    for (size_t a = 0; a < na; a++)
        printf(" %15.15s", allocs[a].name);
    printf("\n");
    for (size_t m = 0; m < N_RUN_METRICS; m++) {
        struct summary s[ALLOC_MAX];
        int have[ALLOC_MAX], best = -1;
        for (size_t a = 0; a < na; a++) {
            struct bench_cell c = { .runs = runs[a] };
            have[a] = bench_cell_metric(&c, run_metrics[m].key, &s[a]);
            if (have[a] && (best < 0 || s[a].median < s[best].median)) best = (int)a;
        }
        printf("%-16s", run_metrics[m].title);
        for (size_t a = 0; a < na; a++) {
            char cell[64];
            if (!have[a]) {
                printf(" %15s", notes[a][0] ? "failed" : "-");
                continue;
            }
            int mark = out_tty && (int)a == best && na > 1;
            snprintf(cell, sizeof(cell), "%.*f%s ±%d%%", run_metrics[m].decimals,
                     s[a].median / run_metrics[m].scale, mark && !color ? "*" : "",
                     (int)lround(s[a].spread * 100));
            if (mark && color)
                printf(" \033[1;32m%15s\033[0m", cell);
            else
                printf(" %15s", cell);
        }
        printf("\n");
    }
    int any_ok = 0, rc = EXIT_OK;
    for (size_t a = 0; a < na; a++) {
        if (notes[a][0]) printf("note: %s: %s\n", allocs[a].name, notes[a]);
        const cJSON *r;
        cJSON_ArrayForEach(r, runs[a])
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
            any_ok |= cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
        }
    }
    fflush(stdout);
    if (json_path) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "schema", "heaplab.run/1");
        cJSON_AddStringToObject(doc, "command", cli_command_line(argc - optind, cmd));
        cJSON_AddNumberToObject(doc, "repeat", repeat);
        cJSON_AddItemToObject(doc, "machine", machine_json());
        cJSON *arr = cJSON_AddArrayToObject(doc, "allocators");
        for (size_t a = 0; a < na; a++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", allocs[a].name);
            cJSON_AddStringToObject(o, "path", allocs[a].path);
            if (notes[a][0]) cJSON_AddStringToObject(o, "note", notes[a]);
            cJSON *sum = cJSON_AddObjectToObject(o, "summary");
            for (size_t m = 0; m < N_RUN_METRICS; m++) {
                struct summary s;
                struct bench_cell c = { .runs = runs[a] };
                if (bench_cell_metric(&c, run_metrics[m].key, &s)) {
                    cJSON *j = cJSON_AddObjectToObject(sum, run_metrics[m].key);
                    cJSON_AddNumberToObject(j, "median", s.median);
                    cJSON_AddNumberToObject(j, "min", s.min);
                    cJSON_AddNumberToObject(j, "max", s.max);
                    cJSON_AddNumberToObject(j, "spread", s.spread);
                    cJSON_AddNumberToObject(j, "n", (double)s.n);
                }
            }
            cJSON_AddItemToObject(o, "runs", runs[a]);
            runs[a] = NULL;
            cJSON_AddItemToArray(arr, o);
        }
        if (report_write_json(doc, json_path, &d) != 0) {
            cli_error("cannot write results: %s", d.msg);
            rc = EXIT_FAIL;
        }
        cJSON_Delete(doc);
    }
    for (size_t a = 0; a < na; a++)
        cJSON_Delete(runs[a]);
    if (!any_ok) {
        cli_error("no run succeeded");
        rc = EXIT_FAIL;
    }
    return rc;
}
