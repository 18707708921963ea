/*
 * cli/cmd_run.c: `heaplab run [options] -- CMD ARGS...`: a real program under each
 * allocator, repeated with allocators interleaved, reporting wall, user and sys time, peak
 * RSS and page faults (from wait4), the way allocator papers measure applications.
 *
 * The probe library proves which malloc every process of the program used: each process
 * appends one line to a temporary file. That file is registered with util/cleanup.h while
 * it exists, so an interrupted run removes it, and every path out of here removes it.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/diag.h"
#include "util/helper.h"

#define PROCEED (-1) /* a step went well: go on to the next */

#define RUN_SCHEMA       "heaplab.run/2"
#define IDENTIFY_TIMEOUT 30 /* seconds for the worker that asks an allocator's version */
#define PROBE_ENV        "HEAPLAB_PROBE_FILE"
#define ROW_LABEL_WIDTH  16
#define CELL_CAP         64

static int run_main(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_TIMEOUT = 256, OPT_JSON, OPT_SHOW_OUTPUT };

static const struct cli_opt run_opts[] = {
    { 'a', 'a', "allocator", "LIST",
      "allocators, as for 'heaplab bench' (not lab:NAME);\n"
      "repeatable (default: every built-in one found)",
      NULL, 0 },
    { 'r', 'r', "repeat", "R", "repetitions, allocators interleaved, 1..100 (default: 5)", NULL,
      0 },
    { OPT_TIMEOUT, 0, "timeout", "SEC", "kill CMD after SEC seconds, 1..86400 (default: 600)", NULL,
      0 },
    { OPT_JSON, 0, "json", "FILE", "write every run as JSON (schema " RUN_SCHEMA ")", NULL, 0 },
    { OPT_SHOW_OUTPUT, 0, "show-output", NULL,
      "let CMD's stdout and stderr through (default: discarded)", NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_run = {
    .name = "run",
    .summary = "run a program under each allocator: wall, CPU, peak RSS, page faults",
    .args_after = "-- CMD [ARGS...]",
    .about = "Run CMD once per allocator per repetition (allocators interleaved) and report the\n"
             "median of wall, user and sys time, peak RSS and page faults. A run in which a\n"
             "process of CMD used another malloc than the allocator's is a preload-mismatch.",
    .opts = run_opts,
    .notes = "A count below 100 shows its range, median (min..max), instead of a relative\n"
             "spread. Exit status 1 when no run succeeded.",
    .run = run_main,
};

struct run_args {
    const char *items[ALLOC_MAX]; /* --allocator names; none: the built-in ones found */
    size_t n_items;
    unsigned repeat;
    unsigned timeout_s;
    const char *json; /* --json FILE, or NULL */
    int show_output;
    char **cmd; /* CMD and its arguments: the tail of argv */
    int ncmd;
};

struct run_state {
    struct allocator allocs[ALLOC_MAX];
    size_t na;
    char cmd_path[PATH_MAX];    /* CMD found through PATH */
    char probe_lib[PATH_MAX];   /* libheaplab-probe.so (util/helper.h), "" if missing */
    char probe_file[PATH_MAX];  /* the probe's output, registered with cleanup; "" if none */
    cJSON *identity[ALLOC_MAX]; /* a probe worker's {provider, version}, or NULL */
    cJSON *runs[ALLOC_MAX];     /* per allocator: one object per run */
    char notes[ALLOC_MAX][300]; /* why an allocator stopped being run, or "" */
};

static const struct run_metric {
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

/* ------------------------------------------------------------------------------------- */
/* Parse and validate                                                                    */

static int parse_args(int argc, char **argv, struct run_args *a)
{
    struct cli_parser p;
    uint64_t v;
    int ch;
    *a = (struct run_args){ .repeat = 5, .timeout_s = 600 };
    cli_parser_init(&p, &cli_cmd_run, argc, argv);
    while ((ch = cli_next(&p)) > 0) {
        switch (ch) {
        case 'a':
            if (cli_value_list(&p, "allocator", a->items, &a->n_items, ALLOC_MAX) != 0)
                return EXIT_USAGE;
            break;
        case 'r':
            if (cli_value_count(&p, 1, 100, &v) != 0) return EXIT_USAGE;
            a->repeat = (unsigned)v;
            break;
        case OPT_TIMEOUT:
            if (cli_value_count(&p, 1, 86400, &v) != 0) return EXIT_USAGE;
            a->timeout_s = (unsigned)v;
            break;
        case OPT_JSON:
            a->json = p.value;
            break;
        case OPT_SHOW_OUTPUT:
            a->show_output = 1;
            break;
        }
    }
    if (ch != CLI_DONE) return cli_parse_status(ch);
    if (p.optind >= argc)
        return cli_usage(&cli_cmd_run, "no command given (heaplab run [options] -- CMD ...)");
    a->cmd = argv + p.optind;
    a->ncmd = argc - p.optind;
    return PROCEED;
}

static int resolve_allocators(const struct run_args *a, struct run_state *st)
{
    struct diag d = { { 0 } };
    if (a->n_items == 0) {
        struct allocator all[ALLOC_MAX];
        size_t n = allocator_builtins(all, ALLOC_MAX);
        for (size_t i = 0; i < n; i++)
            if (all[i].found) st->allocs[st->na++] = all[i];
        return PROCEED;
    }
    for (size_t i = 0; i < a->n_items; i++) {
        struct allocator *al = &st->allocs[st->na];
        if (allocator_parse(a->items[i], al, &d) != 0) return cli_usage(&cli_cmd_run, "%s", d.msg);
        if (al->lab[0])
            return cli_usage(&cli_cmd_run,
                             "%s: a lab allocator runs inside heaplab, not under a program "
                             "(use 'heaplab bench' or 'heaplab race')",
                             al->name);
        st->na++;
    }
    return PROCEED;
}

/* NULL when `path` is a file we may execute, else why not. */
static const char *not_executable(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return strerror(errno);
    if (!S_ISREG(sb.st_mode)) return "not a regular file";
    return access(path, X_OK) == 0 ? NULL : strerror(errno);
}

/* CMD's path: as given when it has a '/', else the first executable match in PATH. */
static int find_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        const char *why = not_executable(out);
        if (!why) return PROCEED;
        cli_error("cannot execute %s: %s", out, why);
        return EXIT_FAIL;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (const char *dir = path;; dir++) {
        size_t len = strcspn(dir, ":");
        snprintf(out, cap, "%.*s/%s", (int)len, len ? dir : ".", name);
        if (!not_executable(out)) return PROCEED;
        dir += len;
        if (*dir == 0) break;
    }
    cli_error("command not found: %s", name);
    return EXIT_FAIL;
}

/* Everything that can be wrong with the command line, before anything runs. */
static int validate(const struct run_args *a, struct run_state *st)
{
    int rc = resolve_allocators(a, st);
    if (rc != PROCEED) return rc;
    if (a->json && cli_check_output("--json", a->json) != 0) return EXIT_FAIL;
    return find_program(a->cmd[0], st->cmd_path, sizeof st->cmd_path);
}

/* ------------------------------------------------------------------------------------- */
/* The probe file                                                                        */

/* Find the probe library and create the file it writes to; without the library, warn and
 * run unverified. */
static int open_probe(struct run_state *st)
{
    if (helper_find("libheaplab-probe.so", st->probe_lib, sizeof st->probe_lib) != 0) {
        cli_warn("%s missing: cannot verify which malloc the program uses", st->probe_lib);
        st->probe_lib[0] = 0;
        return PROCEED;
    }
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    snprintf(st->probe_file, sizeof st->probe_file, "%s/heaplab-probe-XXXXXX", tmp);
    /* Created and registered with the signals blocked: an interrupt removes it (C3). */
    sigset_t saved;
    cleanup_block(&saved);
    int fd = mkstemp(st->probe_file), e = errno;
    int registered = fd >= 0 && cleanup_add_file(st->probe_file) == 0;
    cleanup_restore(&saved);
    if (fd < 0) {
        st->probe_file[0] = 0;
        cli_error("cannot create a temporary file in %s: %s", tmp, strerror(e));
        return EXIT_FAIL;
    }
    close(fd);
    if (!registered || setenv(PROBE_ENV, st->probe_file, 1) != 0) {
        unlink(st->probe_file);
        if (registered) cleanup_remove_file(st->probe_file);
        st->probe_file[0] = 0;
        cli_error("cannot set up the probe's temporary file");
        return EXIT_FAIL;
    }
    return PROCEED;
}

static void close_probe(struct run_state *st)
{
    if (!st->probe_file[0]) return;
    unsetenv(PROBE_ENV);
    unlink(st->probe_file);
    cleanup_remove_file(st->probe_file);
    st->probe_file[0] = 0;
}

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

/* ------------------------------------------------------------------------------------- */
/* Run                                                                                   */

/* Each allocator's own version and the file its malloc comes from, asked of a worker with
 * it preloaded (the program itself cannot be asked). Left NULL when the worker fails. */
static void identify_allocators(struct run_state *st)
{
    const char *self = cli_self_exe();
    for (size_t i = 0; self && i < st->na; i++) {
        if (!st->allocs[i].found) continue;
        cJSON *r = bench_probe(self, &st->allocs[i], IDENTIFY_TIMEOUT);
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "status");
        if (cJSON_IsString(status) && strcmp(status->valuestring, "ok") == 0)
            st->identity[i] = r;
        else
            cJSON_Delete(r);
    }
}

/* The status of one run and, unless "ok", why (in err). */
static const char *run_status(int rc, int start_errno, const struct spawn_result *sr,
                              unsigned timeout_s, char *err, size_t cap)
{
    if (rc != 0) {
        snprintf(err, cap, "cannot start: %s", strerror(start_errno));
        return "failed";
    }
    if (sr->timed_out) {
        snprintf(err, cap, "killed after %u s", timeout_s);
        return "timeout";
    }
    if (WIFSIGNALED(sr->status)) {
        snprintf(err, cap, "killed by signal %d (%s)", WTERMSIG(sr->status),
                 strsignal(WTERMSIG(sr->status)));
        return "crashed";
    }
    if (WEXITSTATUS(sr->status) != 0) {
        snprintf(err, cap, "exit status %d", WEXITSTATUS(sr->status));
        return "failed";
    }
    return "ok";
}

static void add_usage(cJSON *r, const struct spawn_result *sr)
{
    cJSON_AddNumberToObject(r, "wall_ns", (double)sr->wall_ns);
    cJSON_AddNumberToObject(r, "user_ns", (double)sr->usage.user_ns);
    cJSON_AddNumberToObject(r, "sys_ns", (double)sr->usage.sys_ns);
    cJSON_AddNumberToObject(r, "peak_rss_bytes", (double)sr->usage.maxrss_bytes);
    cJSON_AddNumberToObject(r, "minor_faults", (double)sr->usage.minor_faults);
    cJSON_AddNumberToObject(r, "major_faults", (double)sr->usage.major_faults);
}

/* CMD once under allocator i: the run's JSON object (docs/results.md). */
static cJSON *run_once(const struct run_args *a, const struct run_state *st, size_t i, unsigned rep)
{
    const struct allocator *al = &st->allocs[i];
    char preload[2 * PATH_MAX + 2], err[400] = "";
    snprintf(preload, sizeof preload, "%s%s%s", al->path,
             al->path[0] && st->probe_lib[0] ? " " : "", st->probe_lib);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "rep", rep);
    char **env = worker_env(preload);
    if (!env || (st->probe_file[0] && truncate(st->probe_file, 0) != 0)) {
        free_env(env, preload);
        cJSON_AddStringToObject(r, "status", "failed");
        cJSON_AddStringToObject(r, "error", env ? "cannot empty the probe file" : "out of memory");
        return r;
    }
    struct spawn_result sr;
    int rc = spawn_run(a->cmd, env, a->timeout_s, a->show_output ? SPAWN_SHOW_OUTPUT : 0, &sr);
    int start_errno = errno;
    free_env(env, preload);
    const char *status = run_status(rc, start_errno, &sr, a->timeout_s, err, sizeof err);
    if (rc == 0 && !sr.timed_out && WIFEXITED(sr.status))
        cJSON_AddNumberToObject(r, "exit_status", WEXITSTATUS(sr.status));
    if (st->probe_file[0] && strcmp(status, "ok") == 0) {
        int verdict = check_probe(st->probe_file, al, err, sizeof err);
        if (verdict == 1) status = "preload-mismatch";
        cJSON_AddBoolToObject(r, "preload_verified", verdict == 0);
    }
    cJSON_AddStringToObject(r, "status", status);
    if (err[0]) cJSON_AddStringToObject(r, "error", err);
    if (rc == 0) add_usage(r, &sr);
    spawn_result_free(&sr);
    return r;
}

/* Every repetition, allocators interleaved. An allocator whose first run fails is noted and
 * not run again: a crash or a wrong preload will not heal. */
static void run_all(const struct run_args *a, struct run_state *st)
{
    int progress = cli_isatty(2);
    char *argv0 = a->cmd[0];
    a->cmd[0] = st->cmd_path;
    for (size_t i = 0; i < st->na; i++) {
        st->runs[i] = cJSON_CreateArray();
        if (!st->allocs[i].found)
            snprintf(st->notes[i], sizeof st->notes[i], "%s", st->allocs[i].note);
    }
    for (unsigned rep = 0; rep < a->repeat; rep++) {
        for (size_t i = 0; i < st->na; i++) {
            if (st->notes[i][0]) continue;
            if (progress)
                fprintf(stderr, "\r\033[K[rep %u/%u] %s", rep + 1, a->repeat, st->allocs[i].name);
            cJSON *r = run_once(a, st, i, rep);
            const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "status");
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
            if (rep == 0 && strcmp(status->valuestring, "ok") != 0)
                snprintf(st->notes[i], sizeof st->notes[i], "%s: %.250s", status->valuestring,
                         cJSON_IsString(err) ? err->valuestring : "");
            cJSON_AddItemToArray(st->runs[i], r);
        }
    }
    if (progress) fprintf(stderr, "\r\033[K");
    a->cmd[0] = argv0;
}

/* ------------------------------------------------------------------------------------- */
/* Output                                                                                */

struct run_table {
    char cell[N_RUN_METRICS][ALLOC_MAX][CELL_CAP];
    int best[N_RUN_METRICS][ALLOC_MAX]; /* the lowest median of its row, and not all tie */
    size_t width[ALLOC_MAX];
};

/* Columns on a terminal: UTF-8 continuation bytes take none ("±" is two bytes). */
static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void fill_row(const struct run_state *st, size_t m, struct run_table *t)
{
    const struct run_metric *rm = &run_metrics[m];
    struct summary s[ALLOC_MAX];
    int have[ALLOC_MAX], n_have = 0, differ = 0;
    double low = INFINITY;
    for (size_t i = 0; i < st->na; i++) {
        struct bench_cell c = { .runs = st->runs[i] };
        have[i] = bench_cell_metric(&c, rm->key, &s[i]);
        if (have[i]) {
            summary_format(t->cell[m][i], CELL_CAP, &s[i], rm->scale, rm->decimals);
            differ |= n_have++ > 0 && s[i].median != low;
            low = fmin(low, s[i].median);
        } else {
            snprintf(t->cell[m][i], CELL_CAP, "%s",
                     !st->allocs[i].found ? "missing"
                     : st->notes[i][0]    ? "failed"
                                          : "-");
        }
    }
    for (size_t i = 0; i < st->na; i++)
        t->best[m][i] = differ && have[i] && s[i].median == low;
}

static void fill_table(const struct run_state *st, struct run_table *t)
{
    for (size_t m = 0; m < N_RUN_METRICS; m++)
        fill_row(st, m, t);
    for (size_t i = 0; i < st->na; i++) {
        t->width[i] = display_width(st->allocs[i].name);
        for (size_t m = 0; m < N_RUN_METRICS; m++) {
            size_t w = display_width(t->cell[m][i]) + (size_t)t->best[m][i];
            if (w > t->width[i]) t->width[i] = w;
        }
    }
}

static void put_cell(const char *text, size_t width, int best, int color)
{
    size_t pad = width - display_width(text) - (size_t)(best && !color);
    printf("  %*s", (int)pad, "");
    if (best && color)
        printf("\033[1;32m%s\033[0m", text);
    else
        printf("%s%s", text, best ? "*" : "");
}

/* One row per metric, one column per allocator; the lowest median of a row in green on a
 * colour terminal, else marked "*" (NO_COLOR, or not a terminal). */
static void print_table(const struct run_args *a, const struct run_state *st)
{
    static struct run_table t;
    int color = cli_color(1);
    memset(&t, 0, sizeof t);
    fill_table(st, &t);
    printf("heaplab run: %s\n", cli_join(a->ncmd, a->cmd));
    if (a->repeat == 1)
        printf("1 run per allocator");
    else
        printf("%u repeats: median and relative spread (max-min)/median", a->repeat);
    printf("%s\n\n", st->na < 2 ? "" : color ? "; the lowest in green" : "; the lowest marked *");
    printf("%-*s", ROW_LABEL_WIDTH, "metric");
    for (size_t i = 0; i < st->na; i++)
        printf("  %*s", (int)t.width[i], st->allocs[i].name);
    printf("\n");
    for (size_t m = 0; m < N_RUN_METRICS; m++) {
        printf("%-*s", ROW_LABEL_WIDTH, run_metrics[m].title);
        for (size_t i = 0; i < st->na; i++)
            put_cell(t.cell[m][i], t.width[i], t.best[m][i], color);
        printf("\n");
    }
    for (size_t i = 0; i < st->na; i++)
        if (st->notes[i][0]) printf("note: %s: %s\n", st->allocs[i].name, st->notes[i]);
    fflush(stdout);
}

/* Allocator i as docs/results.md describes it; its runs move into the object. */
static cJSON *allocator_object(struct run_state *st, size_t i)
{
    const struct allocator *al = &st->allocs[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", al->name);
    cJSON_AddStringToObject(o, "path", al->path);
    cJSON_AddStringToObject(o, "status", al->found ? "ok" : "missing");
    static const char *const facts[] = { "provider", "version" };
    for (size_t k = 0; k < 2; k++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(st->identity[i], facts[k]);
        if (cJSON_IsString(f)) cJSON_AddStringToObject(o, facts[k], f->valuestring);
    }
    if (st->notes[i][0]) cJSON_AddStringToObject(o, "note", st->notes[i]);
    cJSON *sum = cJSON_AddObjectToObject(o, "summary");
    for (size_t m = 0; m < N_RUN_METRICS; m++) {
        struct summary s;
        struct bench_cell c = { .runs = st->runs[i] };
        if (bench_cell_metric(&c, run_metrics[m].key, &s))
            cJSON_AddItemToObject(sum, run_metrics[m].key, summary_json(&s));
    }
    cJSON_AddItemToObject(o, "runs", st->runs[i]);
    st->runs[i] = NULL;
    return o;
}

static int write_json(const struct run_args *a, struct run_state *st, const struct cli_ctx *ctx)
{
    struct diag d = { { 0 } };
    cJSON *doc = report_envelope(RUN_SCHEMA, ctx->command_line, NULL);
    cJSON *cfg = cJSON_AddObjectToObject(doc, "config");
    cJSON *program = cJSON_AddArrayToObject(cfg, "program");
    for (int k = 0; k < a->ncmd; k++)
        cJSON_AddItemToArray(program, cJSON_CreateString(a->cmd[k]));
    cJSON_AddNumberToObject(cfg, "repeat", a->repeat);
    cJSON_AddNumberToObject(cfg, "timeout_s", a->timeout_s);
    cJSON_AddBoolToObject(cfg, "show_output", a->show_output);
    cJSON *arr = cJSON_AddArrayToObject(doc, "allocators");
    for (size_t i = 0; i < st->na; i++)
        cJSON_AddItemToArray(arr, allocator_object(st, i));
    int rc = report_write_json(doc, a->json, &d);
    cJSON_Delete(doc);
    if (rc == 0) return EXIT_OK;
    cli_error("cannot write results: %s", d.msg);
    return EXIT_FAIL;
}

static int any_ok(const struct run_state *st)
{
    for (size_t i = 0; i < st->na; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, st->runs[i])
        {
            const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "status");
            if (cJSON_IsString(status) && strcmp(status->valuestring, "ok") == 0) return 1;
        }
    }
    return 0;
}

static int report(const struct run_args *a, struct run_state *st, const struct cli_ctx *ctx)
{
    print_table(a, st);
    int ok = any_ok(st); /* before write_json moves the runs out */
    int rc = a->json ? write_json(a, st, ctx) : EXIT_OK;
    if (!ok) {
        cli_error("no run succeeded");
        rc = EXIT_FAIL;
    }
    return rc;
}

static int run_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    static struct run_state st;
    struct run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != PROCEED) return rc;
    memset(&st, 0, sizeof st);
    rc = validate(&a, &st);
    if (rc != PROCEED) return rc;
    identify_allocators(&st);
    rc = open_probe(&st);
    if (rc == PROCEED) {
        run_all(&a, &st);
        close_probe(&st);
        rc = report(&a, &st, ctx);
    }
    for (size_t i = 0; i < st.na; i++) {
        cJSON_Delete(st.runs[i]);
        cJSON_Delete(st.identity[i]);
    }
    return rc;
}
