/*
 * report/reader.c: results files into the model of report.h, validated as they are read.
 *
 * What is checked, in this order, each failure one line naming the file:
 *   1. the bytes: readable, not empty, at most RESULTS_MAX_FILE_BYTES, one JSON value
 *      (truncated JSON is told apart from text that is not JSON at all), nothing after it
 *      (a tick file, JSON lines, is named as such);
 *   2. the envelope: an object whose "schema" is heaplab.NAME/MAJOR, a NAME this reader
 *      knows, at the MAJOR it reads (newer and older ones are named as such), then tool,
 *      created_utc, command and machine;
 *   3. the body, per kind: every field the model or compare reads has its type (numbers
 *      finite and >= 0, counts whole), counts agree (runs_ok is the number of ok runs, a
 *      cell with runs_ok > 0 is "ok"), no cell twice, and something to read (an empty
 *      results array is refused).
 * Fields nobody reads here are left to the JSON Schemas in docs/schema/, which the tests
 * apply to every file heaplab writes.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report.h"
#include "util/diag.h"

#define MAX_INTEGER 9007199254740992.0 /* 2^53: larger counts are not exact in a double */

/* Where validation is: the file's name and the JSON path of the value being checked. */
struct vctx {
    const char *name;   /* the file, for messages */
    const char *prefix; /* path of the document inside the file ("machines.h.documents[0].") */
    struct diag *d;
};

static int vfail(const struct vctx *v, const char *where, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "NAME: PREFIX WHERE: reason", or "NAME: reason" when there is no path. */
static int vfail(const struct vctx *v, const char *where, const char *fmt, ...)
{
    char why[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (*v->prefix || *where) {
        size_t plen = strlen(v->prefix);
        /* "machines.h.documents[0]." + "" names the document itself, without the dot */
        int cut = *where == 0 && plen > 0 && v->prefix[plen - 1] == '.';
        return diag_set(v->d, "%s: %.*s%s: %s", v->name, (int)(plen - (size_t)cut), v->prefix,
                        where, why);
    }
    return diag_set(v->d, "%s: %s", v->name, why);
}

static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int is_count(const cJSON *j)
{
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= MAX_INTEGER
           && j->valuedouble == floor(j->valuedouble);
}

static int is_measure(const cJSON *j)
{
    return cJSON_IsNumber(j) && isfinite(j->valuedouble) && j->valuedouble >= 0;
}

/* `key` of `obj`, a string (non-empty when `nonempty`); NULL after vfail. */
static const char *want_string(const struct vctx *v, const cJSON *obj, const char *where,
                               const char *key, int nonempty)
{
    const cJSON *j = field(obj, key);
    char at[256];
    snprintf(at, sizeof at, "%s%s%s", where, *where ? "." : "", key);
    if (!j) return vfail(v, at, "missing"), NULL;
    if (!cJSON_IsString(j)) return vfail(v, at, "not a string"), NULL;
    if (nonempty && !*j->valuestring) return vfail(v, at, "empty"), NULL;
    return j->valuestring;
}

/* `key` of `obj`: an object or array (as `array`); NULL after vfail. */
static const cJSON *want_container(const struct vctx *v, const cJSON *obj, const char *where,
                                   const char *key, int array)
{
    const cJSON *j = field(obj, key);
    char at[256];
    snprintf(at, sizeof at, "%s%s%s", where, *where ? "." : "", key);
    if (!j) return vfail(v, at, "missing"), NULL;
    if (array ? !cJSON_IsArray(j) : !cJSON_IsObject(j))
        return vfail(v, at, "not an %s", array ? "array" : "object"), NULL;
    return j;
}

/* `key` of `obj`, a whole number >= lo; -1 after vfail. */
static int want_count(const struct vctx *v, const cJSON *obj, const char *where, const char *key,
                      double lo, double *out)
{
    const cJSON *j = field(obj, key);
    char at[256];
    snprintf(at, sizeof at, "%s%s%s", where, *where ? "." : "", key);
    if (!j) return vfail(v, at, "missing");
    if (!is_count(j) || j->valuedouble < lo) return vfail(v, at, "not a whole number >= %.0f", lo);
    *out = j->valuedouble;
    return 0;
}

/* Every dotted path of `paths` that `obj` has is a measure (a finite number >= 0), or null
 * when `nullable`. */
static int check_measures(const struct vctx *v, const cJSON *obj, const char *where,
                          const char *const *paths, int nullable)
{
    for (const char *const *p = paths; *p; p++) {
        const cJSON *j = obj;
        char key[64], at[320];
        const char *s = *p;
        while (j && *s) {
            size_t len = strcspn(s, ".");
            snprintf(key, sizeof key, "%.*s", (int)len, s);
            j = cJSON_IsObject(j) ? field(j, key) : NULL;
            s += len + (s[len] == '.');
        }
        if (!j) continue;
        if (is_measure(j) || (nullable && cJSON_IsNull(j))) continue;
        snprintf(at, sizeof at, "%s.%s", where, *p);
        return vfail(v, at, "not a number >= 0");
    }
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Reading the bytes                                                                     */

/* Is `text` the start of a JSON value cut short: at its end, inside a string or with
 * brackets still open, and never closing more than it opened? */
static int looks_truncated(const char *text, size_t len)
{
    long depth = 0;
    int in_string = 0, escaped = 0, any = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
            any = 1;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return 0;
        }
    }
    return any && (depth > 0 || in_string);
}

/* Line and column (from 1) of byte `off`. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static size_t skip_space(const char *text, size_t len, size_t i)
{
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    return i;
}

/* Parse `text` as one JSON value; NULL after diag. */
static cJSON *parse(const char *name, const char *text, size_t len, struct diag *d)
{
    size_t start = skip_space(text, len, 0);
    if (start == len)
        return diag_set(d, "%s: empty%s, not a results file", name,
                        len ? " (only white space)" : ""),
               NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    size_t line, col;
    if (!j) {
        if (looks_truncated(text, len))
            return diag_set(d, "%s: truncated: the JSON stops after %zu bytes, inside the document",
                            name, len),
                   NULL;
        line_col(text, off, &line, &col);
        return diag_set(d, "%s: not JSON (line %zu, column %zu)", name, line, col), NULL;
    }
    if (skip_space(text, len, off) < len) {
        const cJSON *schema = cJSON_IsObject(j) ? field(j, "schema") : NULL;
        if (cJSON_IsString(schema) && strncmp(schema->valuestring, "heaplab.ticks/", 14) == 0) {
            diag_set(d,
                     "%s: a tick file of 'heaplab race --ticks' (%s, JSON lines), not a "
                     "results document",
                     name, schema->valuestring);
        } else {
            line_col(text, skip_space(text, len, off), &line, &col);
            diag_set(d, "%s: not one JSON document: more follows it at line %zu, column %zu", name,
                     line, col);
        }
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------------------------- */
/* The envelope and the schema name                                                      */

static const struct known_schema {
    const char *name; /* heaplab.NAME */
    unsigned major;   /* the version read */
    int kind;         /* enum results_kind, or -1 for a set, -2 for not a results file */
    const char *what; /* what it is, for "not a results document" */
} known[] = {
    { "results", 2, RESULTS_BENCH, NULL },
    { "run", 2, RESULTS_RUN, NULL },
    { "race", 1, RESULTS_RACE, NULL },
    { "results-set", 1, -1, NULL },
    { "ticks", 2, -2, "a tick file of 'heaplab race --ticks'" },
    { "compare", 1, -2, "the output of 'heaplab compare --json'" },
    { "trace-info", 1, -2, "the output of 'heaplab trace info --json'" },
};
#define N_KNOWN (sizeof known / sizeof known[0])
#define READS   "heaplab.results/1 and /2, heaplab.run/2, heaplab.race/1 and heaplab.results-set/1"

/* The known schema `s` names, checked for its version; NULL after vfail. */
static const struct known_schema *schema_of(const struct vctx *v, const char *s)
{
    unsigned long major = 0;
    const char *slash = strrchr(s, '/');
    char *end = NULL;
    if (strncmp(s, "heaplab.", 8) != 0 || !slash || slash[1] < '0' || slash[1] > '9'
        || (errno = 0, major = strtoul(slash + 1, &end, 10), *end != 0 || errno != 0))
        return vfail(v, "", "schema \"%.64s\" is not a heaplab results schema (heaplab reads %s)",
                     s, READS),
               NULL;
    for (size_t i = 0; i < N_KNOWN; i++) {
        const struct known_schema *k = &known[i];
        if (strlen(k->name) != (size_t)(slash - s - 8) || strncmp(s + 8, k->name, strlen(k->name)))
            continue;
        if (k->kind == -2)
            return vfail(v, "", "%s (%.64s), not a results document", k->what, s), NULL;
        if (major > k->major)
            return vfail(v, "",
                         "%.64s is newer than this heaplab reads (heaplab.%s/%u): a newer "
                         "heaplab wrote it",
                         s, k->name, k->major),
                   NULL;
        /* heaplab.results/2 only added the inside sections: /1 files read the same. */
        if (major < k->major && !(k->kind == RESULTS_BENCH && major == 1))
            return vfail(v, "",
                         "%.64s is an older version that this heaplab no longer reads (it reads "
                         "heaplab.%s/%u)",
                         s, k->name, k->major),
                   NULL;
        return k;
    }
    return vfail(v, "", "schema \"%.64s\" is not a results document heaplab reads (%s)", s, READS),
           NULL;
}

/* schema, tool, created_utc, command; machine unless a set. The schema's entry, or NULL. */
static const struct known_schema *check_envelope(const struct vctx *v, const cJSON *doc)
{
    if (!cJSON_IsObject(doc))
        return vfail(v, "", "not a heaplab results document (the JSON is not an object)"), NULL;
    const cJSON *schema = field(doc, "schema");
    if (!schema) return vfail(v, "", "not a heaplab results document (no \"schema\" field)"), NULL;
    if (!cJSON_IsString(schema)) return vfail(v, "schema", "not a string"), NULL;
    const struct known_schema *k = schema_of(v, schema->valuestring);
    if (!k) return NULL;
    const cJSON *tool = want_container(v, doc, "", "tool", 0);
    if (!tool || !want_string(v, tool, "tool", "name", 1)) return NULL;
    if (!want_string(v, doc, "", "created_utc", 0) || !want_string(v, doc, "", "command", 0))
        return NULL;
    if (k->kind == -1) return k;
    const cJSON *m = want_container(v, doc, "", "machine", 0);
    if (!m) return NULL;
    static const char *const strings[] = { "hostname", "cpu_model", "kernel" };
    for (size_t i = 0; i < 3; i++)
        if (field(m, strings[i]) && !want_string(v, m, "machine", strings[i], 0)) return NULL;
    double cores;
    if (field(m, "cores") && want_count(v, m, "machine", "cores", 1, &cores) != 0) return NULL;
    return k;
}

/* ------------------------------------------------------------------------------------- */
/* The bodies                                                                            */

/* What the cells of one document are, collected before they are added to the set. */
struct cells {
    struct results_cell *v;
    size_t n, cap;
};

static int cells_add(struct cells *c, const struct results_cell *cell)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct results_cell *p = realloc(c->v, cap * sizeof *p);
        if (!p) return -1;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = *cell;
    return 0;
}

/* Measures a successful bench run may carry, checked when present. */
static const char *const bench_measures[] = {
    "ops_per_sec",
    "wall_ns",
    "peak_rss_bytes",
    "end_rss_bytes",
    "peak_live_bytes",
    "end_live_bytes",
    "frag_peak",
    "minor_faults",
    "major_faults",
    "user_ns",
    "sys_ns",
    "latency.timer_resolution_ns",
    "latency.malloc.p50_ns",
    "latency.malloc.p99_ns",
    "latency.malloc.max_ns",
    "latency.free.p50_ns",
    "latency.free.p99_ns",
    "latency.realloc.p99_ns",
    "contention.voluntary_switches",
    "contention.involuntary_switches",
    "contention.blocked_ns",
    "contention.runqueue_ns",
    NULL,
};
static const char *const run_measures[] = {
    "wall_ns", "user_ns", "sys_ns", "peak_rss_bytes", "minor_faults", "major_faults", NULL,
};
static const char *const race_measures[] = {
    "footprint", "p50_ns", "p90_ns", "p99_ns", "frag_avg", "frag_max", "mean_ns", NULL,
};

static int status_ok(const cJSON *run)
{
    const cJSON *st = field(run, "status");
    return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
}

/* A cell's or run file allocator's runs: each an object with rep and status; the ok ones'
 * measures. How many are ok, or -1 after vfail. */
static long check_runs(const struct vctx *v, const cJSON *runs, const char *where,
                       const char *const *measures, const char *const *required)
{
    long ok = 0;
    size_t i = 0;
    const cJSON *run;
    char at[256];
    cJSON_ArrayForEach(run, runs)
    {
        snprintf(at, sizeof at, "%s.runs[%zu]", where, i++);
        double rep;
        if (!cJSON_IsObject(run)) return vfail(v, at, "not an object");
        if (!want_string(v, run, at, "status", 1) || want_count(v, run, at, "rep", 0, &rep) != 0)
            return -1;
        if (!status_ok(run)) continue;
        ok++;
        for (const char *const *r = required; r && *r; r++) {
            const cJSON *j = field(run, *r);
            char rat[320];
            snprintf(rat, sizeof rat, "%s.%s", at, *r);
            if (!j) return vfail(v, rat, "missing from a successful run");
        }
        if (check_measures(v, run, at, measures, 0) != 0) return -1;
        if (check_measures(v, run, at, (const char *const[]){ "frag_end", NULL }, 1) != 0)
            return -1;
    }
    return ok;
}

static const char *const bench_statuses[] = { "ok", "failed", "missing", "skipped", NULL };

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

/* heaplab.results/1: config, allocators, and the results, one cell each. */
static int check_bench(const struct vctx *v, const cJSON *doc, struct cells *out)
{
    if (!want_container(v, doc, "", "config", 0) || !want_container(v, doc, "", "allocators", 1))
        return -1;
    const cJSON *results = want_container(v, doc, "", "results", 1);
    if (!results) return -1;
    if (cJSON_GetArraySize(results) == 0)
        return vfail(v, "", "no results: the results array is empty");
    static const char *const required[] = { "ops_per_sec", "wall_ns", "peak_rss_bytes", NULL };
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, results)
    {
        char at[64];
        double threads, runs_ok;
        snprintf(at, sizeof at, "results[%zu]", i++);
        if (!cJSON_IsObject(c)) return vfail(v, at, "not an object");
        struct results_cell cell = { .json = c };
        if (!(cell.workload = want_string(v, c, at, "workload", 1))
            || !(cell.allocator = want_string(v, c, at, "allocator", 1))
            || !(cell.status = want_string(v, c, at, "status", 1))
            || want_count(v, c, at, "threads", 1, &threads) != 0
            || want_count(v, c, at, "runs_ok", 0, &runs_ok) != 0)
            return -1;
        if (threads > 65536) return vfail(v, at, "threads %.0f: too many", threads);
        if (!in_list(cell.status, bench_statuses))
            return vfail(v, at, "status \"%.32s\": not ok, failed, missing or skipped",
                         cell.status);
        const cJSON *runs = want_container(v, c, at, "runs", 1);
        if (!runs) return -1;
        long ok = check_runs(v, runs, at, bench_measures, required);
        if (ok < 0) return -1;
        if ((double)ok != runs_ok)
            return vfail(v, at, "runs_ok is %.0f but %ld runs are ok", runs_ok, ok);
        if ((ok > 0) != (strcmp(cell.status, "ok") == 0))
            return vfail(v, at, "status \"%s\" with %ld successful runs", cell.status, ok);
        cell.threads = (unsigned)threads;
        cell.runs_ok = (size_t)ok;
        if (cells_add(out, &cell) != 0) return vfail(v, "", "out of memory");
    }
    return 0;
}

/* The program's command line of a run file: config.program joined with spaces. */
static const char *run_program(const cJSON *doc)
{
    const cJSON *prog = field(field(doc, "config"), "program");
    static char buf[512];
    size_t n = 0;
    const cJSON *a;
    buf[0] = 0;
    cJSON_ArrayForEach(a, prog)
    {
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? " " : "", a->valuestring);
        if (w < 0 || (size_t)w >= sizeof buf - n) break;
        n += (size_t)w;
    }
    return buf;
}

/* heaplab.run/2: config.program, and per allocator its runs. The program's command line,
 * the workload of every cell, is kept in `label` (owned by the caller). */
static int check_run(const struct vctx *v, const cJSON *doc, struct cells *out, char **label)
{
    const cJSON *config = want_container(v, doc, "", "config", 0);
    if (!config) return -1;
    const cJSON *prog = want_container(v, config, "config", "program", 1);
    if (!prog) return -1;
    if (cJSON_GetArraySize(prog) == 0) return vfail(v, "config.program", "empty");
    const cJSON *a;
    cJSON_ArrayForEach(a, prog) if (!cJSON_IsString(a)) return vfail(v, "config.program",
                                                                     "not an array of strings");
    const cJSON *allocs = want_container(v, doc, "", "allocators", 1);
    if (!allocs) return -1;
    if (cJSON_GetArraySize(allocs) == 0)
        return vfail(v, "", "no results: the allocators array is empty");
    if (!(*label = strdup(run_program(doc)))) return vfail(v, "", "out of memory");
    size_t i = 0;
    cJSON_ArrayForEach(a, allocs)
    {
        char at[64];
        snprintf(at, sizeof at, "allocators[%zu]", i++);
        if (!cJSON_IsObject(a)) return vfail(v, at, "not an object");
        struct results_cell cell = { .json = a, .workload = *label };
        if (!(cell.allocator = want_string(v, a, at, "name", 1))
            || !(cell.status = want_string(v, a, at, "status", 1)))
            return -1;
        const cJSON *runs = want_container(v, a, at, "runs", 1);
        if (!runs) return -1;
        long ok = check_runs(v, runs, at, run_measures, NULL);
        if (ok < 0) return -1;
        cell.runs_ok = (size_t)ok;
        if (cells_add(out, &cell) != 0) return vfail(v, "", "out of memory");
    }
    return 0;
}

/* heaplab.race/1: the workload and one lane per allocator on the leaderboard. */
static int check_race(const struct vctx *v, const cJSON *doc, struct cells *out)
{
    const char *workload = want_string(v, doc, "", "workload", 1);
    const cJSON *board = workload ? want_container(v, doc, "", "leaderboard", 1) : NULL;
    if (!board) return -1;
    if (cJSON_GetArraySize(board) == 0)
        return vfail(v, "", "no results: the leaderboard array is empty");
    size_t i = 0;
    const cJSON *lane;
    cJSON_ArrayForEach(lane, board)
    {
        char at[64];
        snprintf(at, sizeof at, "leaderboard[%zu]", i++);
        if (!cJSON_IsObject(lane)) return vfail(v, at, "not an object");
        struct results_cell cell = {
            .json = lane, .workload = workload, .status = "ok", .runs_ok = 1
        };
        if (!(cell.allocator = want_string(v, lane, at, "name", 1))) return -1;
        if (check_measures(v, lane, at, race_measures, 0) != 0) return -1;
        if (cells_add(out, &cell) != 0) return vfail(v, "", "out of memory");
    }
    return 0;
}

/* No (workload, threads, allocator) twice in one document. */
static int check_unique(const struct vctx *v, const struct cells *c, const char *what)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t k = 0; k < i; k++)
            if (c->v[i].threads == c->v[k].threads
                && strcmp(c->v[i].allocator, c->v[k].allocator) == 0
                && strcmp(c->v[i].workload, c->v[k].workload) == 0)
                return vfail(v, "", "%s %zu and %zu are the same cell (%.64s, %u threads, %.32s)",
                             what, k, i, c->v[i].workload, c->v[i].threads, c->v[i].allocator);
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Into the set                                                                          */

/* Documents and cells read from one file, before they are committed to the set. */
struct pending {
    struct results_doc *docs;
    size_t n_docs, cap_docs;
    struct cells cells;
    char **strings; /* what the cells point to besides the parse tree */
    size_t n_strings;
};

static const char *machine_string(const cJSON *m, const char *key)
{
    const cJSON *j = field(m, key);
    return cJSON_IsString(j) ? j->valuestring : "";
}

static double machine_cores(const cJSON *m)
{
    const cJSON *j = field(m, "cores");
    return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static int same_machine(const cJSON *a, const cJSON *b)
{
    return strcmp(machine_string(a, "hostname"), machine_string(b, "hostname")) == 0
           && strcmp(machine_string(a, "cpu_model"), machine_string(b, "cpu_model")) == 0
           && machine_cores(a) == machine_cores(b);
}

/*
 * The machine's key: its hostname ("unknown" without one). A machine is its hostname, CPU
 * model and cores: another machine of the same hostname already in the set or the file
 * gets "HOST#2", "HOST#3", ...
 */
static void machine_key(const struct results_set *s, const struct pending *p,
                        struct results_doc *doc)
{
    const char *host = machine_string(doc->machine, "hostname");
    if (!*host) host = "unknown";
    for (unsigned n = 1;; n++) {
        char key[sizeof doc->machine_key];
        if (n == 1)
            snprintf(key, sizeof key, "%.100s", host);
        else
            snprintf(key, sizeof key, "%.100s#%u", host, n);
        int taken = 0, same = 0;
        for (size_t side = 0; side < 2; side++) {
            const struct results_doc *docs = side ? p->docs : s->docs;
            size_t nd = side ? p->n_docs : s->n_docs;
            for (size_t i = 0; i < nd; i++) {
                if (strcmp(docs[i].machine_key, key) != 0) continue;
                taken = 1;
                same |= same_machine(docs[i].machine, doc->machine);
            }
        }
        if (!taken || same) {
            memcpy(doc->machine_key, key, sizeof key);
            return;
        }
    }
}

/* Validate one document (not a set) and add it and its cells to `p`. */
static int add_document(const struct results_set *s, struct pending *p, const struct vctx *v,
                        const cJSON *doc, const struct known_schema *k, const char *display)
{
    struct cells cells = { 0 };
    char *label = NULL;
    int rc = k->kind == RESULTS_BENCH ? check_bench(v, doc, &cells)
             : k->kind == RESULTS_RUN ? check_run(v, doc, &cells, &label)
                                      : check_race(v, doc, &cells);
    if (label) {
        char **ns = realloc(p->strings, (p->n_strings + 1) * sizeof *ns);
        if (!ns) {
            free(label);
            free(cells.v);
            return vfail(v, "", "out of memory");
        }
        p->strings = ns;
        p->strings[p->n_strings++] = label;
    }
    if (rc == 0)
        rc = check_unique(v, &cells,
                          k->kind == RESULTS_BENCH ? "results"
                          : k->kind == RESULTS_RUN ? "allocators"
                                                   : "leaderboard lanes");
    if (rc == 0 && p->n_docs == p->cap_docs) {
        size_t cap = p->cap_docs ? p->cap_docs * 2 : 4;
        struct results_doc *nd = realloc(p->docs, cap * sizeof *nd);
        if (!nd) rc = vfail(v, "", "out of memory");
        if (nd) {
            p->docs = nd;
            p->cap_docs = cap;
        }
    }
    for (size_t i = 0; rc == 0 && i < cells.n; i++) {
        cells.v[i].doc = s->n_docs + p->n_docs;
        if (cells_add(&p->cells, &cells.v[i]) != 0) rc = vfail(v, "", "out of memory");
    }
    if (rc == 0) {
        struct results_doc *d = &p->docs[p->n_docs];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", display);
        d->kind = (enum results_kind)k->kind;
        d->schema = field(doc, "schema")->valuestring;
        d->json = doc;
        d->machine = field(doc, "machine");
        d->first_cell = s->n_cells + p->cells.n - cells.n;
        d->n_cells = cells.n;
        machine_key(s, p, d);
        p->n_docs++;
    }
    free(cells.v);
    return rc;
}

/* heaplab.results-set/1: machines: { KEY: { machine, documents: [...] } }, each document
 * read as if alone. */
static int add_set(const struct results_set *s, struct pending *p, const struct vctx *v,
                   const cJSON *doc)
{
    const cJSON *machines = want_container(v, doc, "", "machines", 0);
    if (!machines) return -1;
    if (cJSON_GetArraySize(machines) == 0)
        return vfail(v, "", "no results: the machines object is empty");
    const cJSON *m;
    cJSON_ArrayForEach(m, machines)
    {
        char at[192], prefix[256], display[512];
        snprintf(at, sizeof at, "machines.%.100s", m->string);
        if (!cJSON_IsObject(m)) return vfail(v, at, "not an object");
        if (!want_container(v, m, at, "machine", 0)) return -1;
        const cJSON *docs = want_container(v, m, at, "documents", 1);
        if (!docs) return -1;
        if (cJSON_GetArraySize(docs) == 0) return vfail(v, at, "documents: empty");
        size_t i = 0;
        const cJSON *inner;
        cJSON_ArrayForEach(inner, docs)
        {
            snprintf(prefix, sizeof prefix, "%s.documents[%zu].", at, i);
            snprintf(display, sizeof display, "%s (machine %.100s, document %zu)", v->name,
                     m->string, i);
            i++;
            struct vctx iv = { v->name, prefix, v->d };
            const struct known_schema *k = check_envelope(&iv, inner);
            if (!k) return -1;
            if (k->kind == -1) return vfail(&iv, "", "a results set inside a results set");
            if (add_document(s, p, &iv, inner, k, display) != 0) return -1;
        }
    }
    return 0;
}

void results_init(struct results_set *s)
{
    memset(s, 0, sizeof *s);
}

void results_free(struct results_set *s)
{
    for (size_t i = 0; i < s->n_roots; i++)
        cJSON_Delete(s->roots[i]);
    free(s->roots);
    for (size_t i = 0; i < s->n_strings; i++)
        free(s->strings[i]);
    free(s->strings);
    free(s->docs);
    free(s->cells);
    memset(s, 0, sizeof *s);
}

/* Move what `p` holds into `s` (which owns `root` from now on). */
static int commit(struct results_set *s, struct pending *p, cJSON *root, struct diag *d,
                  const char *name)
{
    struct results_doc *docs = realloc(s->docs, (s->n_docs + p->n_docs + 1) * sizeof *docs);
    if (docs) s->docs = docs;
    struct results_cell *cells = realloc(s->cells, (s->n_cells + p->cells.n + 1) * sizeof *cells);
    if (cells) s->cells = cells;
    cJSON **roots = realloc(s->roots, (s->n_roots + 1) * sizeof *roots);
    if (roots) s->roots = roots;
    char **strings = realloc(s->strings, (s->n_strings + p->n_strings + 1) * sizeof *strings);
    if (strings) s->strings = strings;
    if (!docs || !cells || !roots || !strings) return diag_set(d, "%s: out of memory", name);
    if (p->n_strings) memcpy(s->strings + s->n_strings, p->strings, p->n_strings * sizeof *strings);
    s->n_strings += p->n_strings;
    p->n_strings = 0; /* the set owns them now */
    if (p->n_docs) memcpy(s->docs + s->n_docs, p->docs, p->n_docs * sizeof *docs);
    if (p->cells.n) memcpy(s->cells + s->n_cells, p->cells.v, p->cells.n * sizeof *cells);
    s->n_docs += p->n_docs;
    s->n_cells += p->cells.n;
    s->roots[s->n_roots++] = root;
    return 0;
}

int results_load_mem(struct results_set *s, const char *name, const char *text, size_t len,
                     struct diag *d)
{
    if (len > RESULTS_MAX_FILE_BYTES)
        return diag_set(d, "%s: %zu bytes: too large for a results file (at most %zu)", name, len,
                        RESULTS_MAX_FILE_BYTES);
    cJSON *root = parse(name, text, len, d);
    if (!root) return -1;
    struct vctx v = { name, "", d };
    struct pending p = { 0 };
    int rc = -1;
    const struct known_schema *k = check_envelope(&v, root);
    if (k && k->kind == -1)
        rc = add_set(s, &p, &v, root);
    else if (k)
        rc = add_document(s, &p, &v, root, k, name);
    if (rc == 0) rc = commit(s, &p, root, d, name);
    if (rc != 0) cJSON_Delete(root);
    for (size_t i = 0; i < p.n_strings; i++)
        free(p.strings[i]);
    free(p.strings);
    free(p.docs);
    free(p.cells.v);
    return rc;
}

int results_load(struct results_set *s, const char *path, struct diag *d)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return diag_set(d, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || S_ISDIR(sb.st_mode)) {
        int err = S_ISDIR(sb.st_mode) ? EISDIR : errno;
        fclose(fp);
        return diag_set(d, "%s: %s", path, strerror(err));
    }
    size_t cap = S_ISREG(sb.st_mode) && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 65536, n = 0;
    char *buf = NULL;
    for (;;) {
        if (cap > RESULTS_MAX_FILE_BYTES + 1) cap = RESULTS_MAX_FILE_BYTES + 1;
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            fclose(fp);
            return diag_set(d, "%s: out of memory", path);
        }
        buf = nb;
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap || cap > RESULTS_MAX_FILE_BYTES) break;
        cap *= 2;
    }
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err) {
        free(buf);
        return diag_set(d, "%s: %s", path, strerror(err));
    }
    int rc = results_load_mem(s, path, buf, n, d);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* Reading values                                                                        */

int results_number(const cJSON *j, const char *path, double *out)
{
    char key[64];
    while (j && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof key) return 0;
        memcpy(key, path, len);
        key[len] = 0;
        j = cJSON_IsObject(j) ? field(j, key) : NULL;
        path += len + (path[len] == '.');
    }
    if (!cJSON_IsNumber(j)) return 0;
    *out = j->valuedouble;
    return 1;
}

size_t results_cell_values(const struct results_cell *c, enum results_kind kind, const char *path,
                           double *out, size_t cap)
{
    size_t n = 0;
    if (kind == RESULTS_RACE) return cap && results_number(c->json, path, &out[0]) ? 1 : 0;
    const cJSON *run;
    cJSON_ArrayForEach(run, field(c->json, "runs"))
    {
        if (n < cap && status_ok(run) && results_number(run, path, &out[n])) n++;
    }
    return n;
}

size_t results_cell_rep_values(const struct results_cell *c, const char *path, double *out,
                               long *reps, size_t cap)
{
    size_t n = 0;
    const cJSON *run;
    cJSON_ArrayForEach(run, field(c->json, "runs"))
    {
        const cJSON *rep = field(run, "rep");
        if (n < cap && status_ok(run) && cJSON_IsNumber(rep) && results_number(run, path, &out[n]))
            reps[n++] = (long)rep->valuedouble;
    }
    return n;
}

const cJSON *results_median_run(const struct results_cell *c, const char *path)
{
    const cJSON *runs = field(c->json, "runs"), *run;
    double v, w;
    size_t n = 0, i = 0;
    cJSON_ArrayForEach(run, runs)
    {
        n += status_ok(run) && results_number(run, path, &v);
    }
    if (n == 0) return NULL;
    /* The run with (n - 1) / 2 runs below it, a tie broken by the order of the runs. */
    cJSON_ArrayForEach(run, runs)
    {
        size_t me = i++;
        if (!status_ok(run) || !results_number(run, path, &v)) continue;
        size_t below = 0, k = 0;
        const cJSON *other;
        cJSON_ArrayForEach(other, runs)
        {
            if (status_ok(other) && results_number(other, path, &w))
                below += w < v || (w == v && k < me);
            k++;
        }
        if (below == (n - 1) / 2) return run;
    }
    return NULL;
}
