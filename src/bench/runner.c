/*
 * bench/runner.c: the parent side. Spawns one worker process per measurement with the
 * allocator preloaded, enforces a timeout, turns crashes and failures into notes, and runs
 * the (workload x threads x repetition x allocator) matrix with allocators interleaved
 * within each repetition (A B C D A B C D ...) so machine drift hits them alike.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "util/diag.h"
#include "workload/workload.h"

extern char **environ;

/* Build the worker's environment: ours without LD_PRELOAD, plus LD_PRELOAD=path if any. */
char **worker_env(const char *preload)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(char *));
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) env[k++] = environ[i];
    if (preload && preload[0]) {
        size_t len = strlen(preload) + 12;
        char *e = malloc(len);
        if (!e) {
            free(env);
            return NULL;
        }
        snprintf(e, len, "LD_PRELOAD=%s", preload);
        env[k++] = e;
    }
    env[k] = NULL;
    return env;
}

void free_env(char **env, const char *preload)
{
    if (!env) return;
    if (preload && preload[0]) {
        for (size_t i = 0; env[i]; i++)
            if (strncmp(env[i], "LD_PRELOAD=", 11) == 0) free(env[i]);
    }
    free(env);
}

static cJSON *failure(const char *status, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static cJSON *failure(const char *status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", status);
    cJSON_AddStringToObject(j, "error", msg);
    return j;
}

/* Last non-empty line of s (modified in place), without the worker's "heaplab: " prefix. */
static const char *last_line(char *s)
{
    static const char prefix[] = "heaplab: ";
    if (!s) return "";
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    char *nl = strrchr(s, '\n');
    char *line = nl ? nl + 1 : s;
    return strncmp(line, prefix, sizeof prefix - 1) == 0 ? line + sizeof prefix - 1 : line;
}

/* A worker for one run (`inside` NULL) or an inside pass ("heapmap,stats", "os-calls"). */
static cJSON *spawn_worker(const struct bench_config *cfg, const struct allocator *a,
                           const char *workload, unsigned threads, unsigned rep, const char *inside)
{
    char s_threads[16], s_ops[32], s_seed[32], s_rep[16], s_pin[512], s_every[32];
    snprintf(s_threads, sizeof(s_threads), "%u", threads);
    snprintf(s_ops, sizeof(s_ops), "%llu", (unsigned long long)cfg->ops);
    snprintf(s_seed, sizeof(s_seed), "%llu", (unsigned long long)cfg->seed);
    snprintf(s_rep, sizeof(s_rep), "%u", rep);
    s_pin[0] = 0;
    for (int i = 0; i < cfg->pin_count; i++) {
        size_t l = strlen(s_pin);
        snprintf(s_pin + l, sizeof(s_pin) - l, "%s%d", i ? "," : "", cfg->pin_cpus[i]);
    }
    const char *argv[24];
    int k = 0;
    argv[k++] = cfg->self_exe;
    argv[k++] = "__worker";
    argv[k++] = "--workload";
    argv[k++] = workload;
    argv[k++] = "--threads";
    argv[k++] = s_threads;
    argv[k++] = "--ops";
    argv[k++] = s_ops;
    argv[k++] = "--seed";
    argv[k++] = s_seed;
    argv[k++] = "--rep";
    argv[k++] = s_rep;
    argv[k++] = "--expect";
    argv[k++] = a->path[0] ? a->path : "libc";
    if (cfg->pin_count > 0) {
        argv[k++] = "--pin";
        argv[k++] = s_pin;
    }
    if (!cfg->latency) argv[k++] = "--no-latency";
    if (a->lab[0]) {
        argv[k++] = "--lab";
        argv[k++] = a->lab;
    }
    if (inside) {
        argv[k++] = "--inside";
        argv[k++] = inside;
        snprintf(s_every, sizeof s_every, "%llu", (unsigned long long)cfg->heapmap_every);
        if (cfg->heapmap_every) {
            argv[k++] = "--heapmap-every";
            argv[k++] = s_every;
        }
    }
    argv[k] = NULL;

    char **env = worker_env(a->path);
    if (!env) return failure("failed", "out of memory");
    struct spawn_result sr;
    int rc = spawn_run((char *const *)argv, env, cfg->timeout_s, SPAWN_CAPTURE_OUT, &sr);
    free_env(env, a->path);
    int status = sr.status, timed_out = sr.timed_out;
    cJSON *res;
    if (rc != 0) {
        res = failure("failed", "cannot start worker: %s", strerror(errno));
    } else if (timed_out) {
        res = failure("timeout", "worker killed after %u s", cfg->timeout_s);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        res = failure("crashed", "worker killed by signal %d (%s)%s%s", sig, strsignal(sig),
                      sr.err_n ? ": " : "", last_line(sr.err));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        int code = WEXITSTATUS(status);
        res = failure(code == 3 ? "preload-mismatch" : "failed", "%s",
                      sr.err_n ? last_line(sr.err) : "worker failed without a message");
    } else {
        res = sr.out ? cJSON_Parse(sr.out) : NULL;
        if (!res || !cJSON_IsObject(res)) {
            cJSON_Delete(res);
            res = failure("failed", "worker wrote no valid result");
        }
    }
    spawn_result_free(&sr);
    cJSON_AddNumberToObject(res, "rep", rep);
    return res;
}

cJSON *bench_spawn_worker(const struct bench_config *cfg, const struct allocator *a,
                          const char *workload, unsigned threads, unsigned rep)
{
    return spawn_worker(cfg, a, workload, threads, rep, NULL);
}

/* Move section `key` of worker result `r` into `to`, or say why there is none. */
static void take_section(cJSON *to, cJSON *r, const char *key)
{
    cJSON *sec = cJSON_DetachItemFromObjectCaseSensitive(r, key);
    if (sec) {
        cJSON_AddItemToObject(to, key, sec);
        return;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
    char note[512];
    snprintf(note, sizeof note, "%s: %s", cJSON_IsString(st) ? st->valuestring : "failed",
             cJSON_IsString(e) ? e->valuestring : "the worker reported no such section");
    cJSON *f = cJSON_AddObjectToObject(to, key);
    cJSON_AddStringToObject(f, "status", "failed");
    cJSON_AddStringToObject(f, "note", note);
}

cJSON *bench_spawn_inside(const struct bench_config *cfg, const struct allocator *a,
                          const char *workload, unsigned threads)
{
    static const struct {
        unsigned flag;
        const char *key;
    } sections[] = { { EXEC_INSIDE_HEAPMAP, "heapmap" },
                     { EXEC_INSIDE_STATS, "alloc_stats" },
                     { EXEC_INSIDE_OSCALLS, "os_calls" } };
    cJSON *out = cJSON_CreateObject();
    if (a->lab[0]) {
        for (size_t i = 0; i < 3; i++) {
            if (!(cfg->inside & sections[i].flag)) continue;
            cJSON *f = cJSON_AddObjectToObject(out, sections[i].key);
            cJSON_AddStringToObject(f, "status", "skipped");
            cJSON_AddStringToObject(f, "note", "a lab allocator: heaplab race draws its heap");
        }
        return out;
    }
    unsigned snap = cfg->inside & (EXEC_INSIDE_HEAPMAP | EXEC_INSIDE_STATS);
    if (snap) {
        const char *which = snap == EXEC_INSIDE_HEAPMAP ? "heapmap"
                            : snap == EXEC_INSIDE_STATS ? "stats"
                                                        : "heapmap,stats";
        cJSON *r = spawn_worker(cfg, a, workload, threads, 0, which);
        for (size_t i = 0; i < 2; i++)
            if (snap & sections[i].flag) take_section(out, r, sections[i].key);
        cJSON_Delete(r);
    }
    if (cfg->inside & EXEC_INSIDE_OSCALLS) {
        cJSON *r = spawn_worker(cfg, a, workload, threads, 0, "os-calls");
        take_section(out, r, "os_calls");
        cJSON_Delete(r);
    }
    return out;
}

cJSON *bench_probe(const char *self_exe, const struct allocator *a, unsigned timeout_s)
{
    const char *argv[] = {
        self_exe, "__worker", "--probe", "--expect", a->path[0] ? a->path : "libc", NULL
    };
    char **env = worker_env(a->path);
    if (!env) return failure("failed", "out of memory");
    struct spawn_result sr;
    int rc = spawn_run((char *const *)argv, env, timeout_s, SPAWN_CAPTURE_OUT, &sr);
    free_env(env, a->path);
    cJSON *res = NULL;
    if (rc != 0)
        res = failure("failed", "cannot start worker: %s", strerror(errno));
    else if (WIFSIGNALED(sr.status))
        res = failure("crashed", "killed by signal %d (%s)", WTERMSIG(sr.status),
                      strsignal(WTERMSIG(sr.status)));
    else if (sr.timed_out)
        res = failure("timeout", "no answer in %u s", timeout_s);
    else if (!WIFEXITED(sr.status) || WEXITSTATUS(sr.status) != 0)
        res = failure(WEXITSTATUS(sr.status) == 3 ? "preload-mismatch" : "failed", "%s",
                      sr.err_n ? last_line(sr.err) : "probe failed");
    else if (!(res = cJSON_Parse(sr.out ? sr.out : "")))
        res = failure("failed", "probe wrote no valid result");
    spawn_result_free(&sr);
    return res;
}

int bench_allocator_check(const char *self_exe, const struct allocator *a, unsigned timeout_s,
                          struct diag *d)
{
    static const char ld_so_error[] = "error while loading shared libraries: ";
    if (!a->found || a->lab[0] || !a->path[0]) return 0;
    if (allocator_check_file(a->path, d) != 0) return -1;
    /* Preloaded, as in the runs: dlopen alone cannot load allocators that use initial-exec
     * TLS (jemalloc), and loading runs constructors, which must not run in this process. */
    cJSON *r = bench_probe(self_exe, a, timeout_s);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
    const char *status = cJSON_IsString(st) ? st->valuestring : "";
    const char *err = cJSON_IsString(e) ? e->valuestring : "";
    const char *ld_so = strstr(err, ld_so_error);
    int rc = 0;
    if (strcmp(status, "preload-mismatch") == 0) /* the worker said why (allocator_diagnose) */
        rc = diag_set(d, "%s", err);
    else if (strcmp(status, "failed") == 0 && ld_so) /* ld.so gave up before main */
        rc = diag_set(d, "%s: cannot be loaded: %s", a->path, ld_so + strlen(ld_so_error));
    cJSON_Delete(r);
    return rc;
}

/* Walk a dotted path ("latency.malloc.p99_ns") to a number. */
int bench_json_number(const cJSON *j, const char *path, double *out)
{
    char key[128];
    const char *p = path;
    while (j && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(key)) return 0;
        memcpy(key, p, n);
        key[n] = 0;
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        p += n;
        if (*p == '.') p++;
    }
    if (!j || !cJSON_IsNumber(j)) return 0;
    *out = j->valuedouble;
    return 1;
}

int bench_cell_metric(const struct bench_cell *c, const char *key, struct summary *out)
{
    double v[256];
    size_t n = 0;
    const cJSON *run;
    memset(out, 0, sizeof(*out));
    cJSON_ArrayForEach(run, c->runs)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
        if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0) continue;
        if (n < sizeof(v) / sizeof(v[0]) && bench_json_number(run, key, &v[n])) n++;
    }
    summarize(v, n, out);
    return n > 0;
}

void bench_progress_format(char *buf, size_t cap, const struct bench_progress *p)
{
    if (!p->workload) {
        snprintf(buf, cap, "[%zu/%zu] done", p->done, p->total);
        return;
    }
    if (p->rep >= p->repeat) /* past the repetitions: the inside passes */
        snprintf(buf, cap, "[%zu/%zu] %s threads=%u %s inside", p->done + 1, p->total, p->workload,
                 p->threads, p->allocator);
    else
        snprintf(buf, cap, "[%zu/%zu] %s threads=%u %s rep %u of 0..%u", p->done + 1, p->total,
                 p->workload, p->threads, p->allocator, p->rep, p->repeat ? p->repeat - 1 : 0);
}

static void progress(const struct bench_config *cfg, size_t done, size_t total, const char *w,
                     unsigned t, const char *a, unsigned rep)
{
    if (!cfg->progress) return;
    struct bench_progress p = { .done = done,
                                .total = total,
                                .workload = w,
                                .threads = t,
                                .allocator = a,
                                .rep = rep,
                                .repeat = cfg->repeat };
    cfg->progress(&p, cfg->progress_arg);
}

static void record_identity(cJSON *info, const cJSON *run)
{
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(run, "provider");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(run, "version");
    if (!cJSON_GetObjectItemCaseSensitive(info, "provider") && cJSON_IsString(prov))
        cJSON_AddStringToObject(info, "provider", prov->valuestring);
    if (!cJSON_GetObjectItemCaseSensitive(info, "version") && cJSON_IsString(ver))
        cJSON_AddStringToObject(info, "version", ver->valuestring);
}

int bench_run(const struct bench_config *cfg, struct bench_results *res, struct diag *d)
{
    memset(res, 0, sizeof(*res));
    size_t max_cells = cfg->n_workloads * cfg->n_threads * cfg->n_allocs;
    res->cells = calloc(max_cells ? max_cells : 1, sizeof(struct bench_cell));
    if (!res->cells) return diag_set(d, "out of memory");
    res->machine = machine_json();
    res->alloc_info = cJSON_CreateArray();
    for (size_t a = 0; a < cfg->n_allocs; a++) {
        cJSON *ai = cJSON_CreateObject();
        cJSON_AddStringToObject(ai, "name", cfg->allocs[a].name);
        cJSON_AddStringToObject(ai, "path", cfg->allocs[a].path[0] ? cfg->allocs[a].path : "");
        cJSON_AddStringToObject(ai, "status", cfg->allocs[a].found ? "ok" : "missing");
        if (!cfg->allocs[a].found) cJSON_AddStringToObject(ai, "note", cfg->allocs[a].note);
        cJSON_AddItemToArray(res->alloc_info, ai);
    }
    size_t total = 0;
    for (size_t w = 0; w < cfg->n_workloads; w++) {
        const struct workload *wl = workload_find(cfg->workloads[w]);
        unsigned fixed = cfg->fixed_threads ? cfg->fixed_threads[w] : 0;
        for (size_t t = 0; t < (fixed ? 1 : cfg->n_threads); t++)
            if (fixed || (wl && cfg->threads[t] >= wl->min_threads))
                total += (cfg->repeat + (cfg->inside != 0)) * cfg->n_allocs;
    }
    size_t done = 0;
    for (size_t w = 0; w < cfg->n_workloads; w++) {
        const struct workload *wl = workload_find(cfg->workloads[w]);
        unsigned fixed = cfg->fixed_threads ? cfg->fixed_threads[w] : 0;
        if (!wl && !fixed) return diag_set(d, "unknown workload \"%s\"", cfg->workloads[w]);
        const char *wname = wl ? wl->name : cfg->workloads[w];
        unsigned min_threads = wl ? wl->min_threads : 1;
        for (size_t t = 0; t < (fixed ? 1 : cfg->n_threads); t++) {
            unsigned threads = fixed ? fixed : cfg->threads[t];
            struct bench_cell *row = &res->cells[res->n_cells];
            for (size_t a = 0; a < cfg->n_allocs; a++) {
                struct bench_cell *c = &row[a];
                c->workload = wname;
                c->threads = threads;
                c->alloc_idx = a;
                c->runs = cJSON_CreateArray();
                if (!cfg->allocs[a].found)
                    snprintf(c->note, sizeof(c->note), "%s", cfg->allocs[a].note);
                else if (threads < min_threads)
                    snprintf(c->note, sizeof(c->note), "needs at least %u threads", min_threads);
            }
            res->n_cells += cfg->n_allocs;
            if (threads < min_threads) continue;
            for (unsigned rep = 0; rep < cfg->repeat; rep++) {
                for (size_t a = 0; a < cfg->n_allocs; a++) {
                    struct bench_cell *c = &row[a];
                    const struct allocator *al = &cfg->allocs[a];
                    if (!al->found || c->note[0]) {
                        done++;
                        continue;
                    }
                    progress(cfg, done, total, bench_workload_label(wname), threads, al->name, rep);
                    cJSON *r = bench_spawn_worker(cfg, al, wname, threads, rep);
                    done++;
                    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
                    int ok = cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
                    if (ok) {
                        c->n_ok++;
                        record_identity(cJSON_GetArrayItem(res->alloc_info, (int)a), r);
                    } else if (c->n_ok == 0) {
                        /* A crash, hang or wrong preload will not heal: note it, move on. */
                        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
                        snprintf(c->note, sizeof(c->note), "%s: %s", st ? st->valuestring : "?",
                                 cJSON_IsString(e) ? e->valuestring : "");
                    }
                    cJSON_AddItemToArray(c->runs, r);
                }
            }
            /* The untimed inside passes, once per cell, after its timed runs. */
            for (size_t a = 0; a < cfg->n_allocs && cfg->inside; a++) {
                struct bench_cell *c = &row[a];
                if (!cfg->allocs[a].found || c->n_ok == 0) {
                    done++;
                    continue;
                }
                progress(cfg, done, total, bench_workload_label(wname), threads,
                         cfg->allocs[a].name, cfg->repeat);
                c->inside = bench_spawn_inside(cfg, &cfg->allocs[a], wname, threads);
                done++;
            }
        }
    }
    progress(cfg, done, total, NULL, 0, NULL, 0);
    return 0;
}

void bench_results_free(struct bench_results *res)
{
    for (size_t i = 0; i < res->n_cells; i++) {
        cJSON_Delete(res->cells[i].runs);
        cJSON_Delete(res->cells[i].inside);
    }
    free(res->cells);
    cJSON_Delete(res->machine);
    cJSON_Delete(res->alloc_info);
    memset(res, 0, sizeof(*res));
}
