/*
 * bench/bench.h: running workloads under real allocators and summarizing what they did.
 *
 * Process model. The parent (`heaplab bench`) never measures anything itself: for each
 * (workload, threads, allocator, repetition) it re-executes its own binary as a worker
 * (`heaplab __worker ...`) with LD_PRELOAD naming the allocator (nothing for glibc). The
 * worker proves the preload took effect (the library its `malloc` resolves to must be the
 * expected one), builds the operation stream, pre-faults every byte of harness memory, resets
 * the kernel's peak-RSS mark, and runs two passes over the same stream:
 *   1. the throughput pass, with no per-call timers: ops/s, peak RSS, RSS time series, page
 *      faults, user/sys time;
 *   2. the latency pass: one call in ~16 (random geometric stride) timed with a fenced
 *      rdtsc into log-linear histograms; the timer's own cost is measured and subtracted.
 * It writes one JSON object on stdout. The parent collects those, summarizes repetitions
 * (median, min, max, spread) and reports.
 */
#ifndef HEAPLAB_BENCH_BENCH_H
#define HEAPLAB_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/summary.h"

struct diag;
struct opstream;
typedef struct cJSON cJSON;

/* ------------------------------------------------------------------------------------- */
/* Allocators                                                                            */

#define ALLOC_MAX      16
#define ALLOC_NAME_MAX 64
#define ALLOC_PATH_MAX 4096

struct allocator {
    char name[ALLOC_NAME_MAX]; /* "glibc", "jemalloc", ... or the user's name */
    char path[ALLOC_PATH_MAX]; /* shared library to preload; "" for glibc (no preload) */
    char lab[32];              /* "lab:NAME": the lab allocator run in-process, else "" */
    int found;                 /* the library exists and is readable */
    char note[256];            /* why it is missing, or "" */
};

/* The built-in allocators, found or not: glibc, jemalloc, tcmalloc, mimalloc, hlmalloc. */
size_t allocator_builtins(struct allocator *out, size_t cap);

/*
 * Resolve one --allocator item: a built-in name, "name=/path/lib.so", or "lab:NAME" (a lab
 * allocator run in the worker through its vtable over a BENCH_LAB_ARENA arena; also
 * "lab:vt-glibc", glibc's malloc behind the same indirection, to measure its cost).
 * 0, or -1 with `d` filled when the name is unknown (a usage error).
 */
int allocator_parse(const char *item, struct allocator *a, struct diag *d);

/*
 * Can the file at `path` be preloaded as an allocator, as far as looking at it tells: it
 * exists, is an ELF shared object, and its path survives LD_PRELOAD's splitting. 0, or -1
 * with `d` ("PATH: not an ELF shared object").
 */
int allocator_check_file(const char *path, struct diag *d);

/*
 * Why preloading `path` did not give this process its malloc: -1 with `d` when it cannot be
 * loaded (the dlopen error) or defines no malloc; 0 when it loads and defines malloc (no
 * reason found here). Loads the library (RTLD_LOCAL): for a worker whose preload failed,
 * never for the parent.
 */
int allocator_diagnose(const char *path, struct diag *d);

/*
 * Check allocator `a` before a run: its file (allocator_check_file), then a probe worker
 * with it preloaded (bench_probe), which must get its malloc from it. 0 when it can run, or
 * has nothing to check (glibc, lab:NAME, already missing); -1 with `d` ("PATH: defines no
 * malloc", "PATH: cannot be loaded: ...") when it cannot. A probe that crashes or hangs is
 * no verdict: the runs report it.
 */
int bench_allocator_check(const char *self_exe, const struct allocator *a, unsigned timeout_s,
                          struct diag *d);

/* What a worker reports about the allocator it ran under. */
struct alloc_identity {
    char provider[ALLOC_PATH_MAX]; /* file that defines the `malloc` in use */
    char version[128];             /* the allocator's own version string, or "" */
};

/* Fill `id` for the running process. */
void allocator_identify(struct alloc_identity *id);

/*
 * Does `provider` (from allocator_identify) match what allocator `a` should give? glibc
 * expects libc.so.6; others their library's real path.
 */
int allocator_matches(const struct allocator *a, const char *provider);

/* ------------------------------------------------------------------------------------- */
/* The worker: executes one stream in this process                                        */

#define BENCH_LAB_ARENA ((size_t)1 << 30) /* arena of lab:NAME runs: the lab's maximum */

struct lab_ops;

/* The lab backend used when exec_opts.lab is set; NULL if `name` is unknown. */
const struct lab_ops *bench_lab_find(const char *name);
/* The i-th lab backend: the lab's registry, then vt-glibc; NULL past the last. */
const struct lab_ops *bench_lab_get(size_t i);

/* The untimed passes that look inside the allocator (exec_opts.inside), each in a worker of
 * its own: heap maps and statistics share one pass, OS calls are counted in another. */
enum {
    EXEC_INSIDE_HEAPMAP = 1, /* heap maps at marks, every K ops, at peak live and at the end */
    EXEC_INSIDE_STATS = 2,   /* the allocator's own statistics at the same points */
    EXEC_INSIDE_OSCALLS = 4, /* count memory system calls in a traced child */
};

struct exec_opts {
    const struct lab_ops *lab; /* run through this lab allocator instead of malloc */
    unsigned inside;           /* EXEC_INSIDE_*: run that pass instead of the timed ones */
    uint64_t heapmap_every;    /* inside: thread 0's ops between snapshots (0 = an eighth) */
    const char *pagemap_path;  /* inside: the pagemap to read (NULL = /proc/self/pagemap) */
    int stream_fd;             /* inside: each heap map also goes to this fd as it is taken,
                                  one JSON line (heapmap_shot_write); 0 = none */
    int latency;               /* run the latency pass */
    unsigned sample_stride;    /* mean ops between timed calls in the latency pass (>= 1) */
    int pin_count;             /* CPUs in pin_cpus (0 = no pinning) */
    int pin_cpus[64];          /* thread i runs on pin_cpus[i % pin_count] */
    unsigned sample_ms;        /* RSS sampling period */
};

/*
 * Run stream `s` through the process's malloc and return the result as a JSON object: the
 * timed passes, or with o->inside the untimed pass it names (exec_inside.c): heap maps and
 * statistics ({heapmap, alloc_stats}), or OS calls ({os_calls}). NULL with `d` filled.
 */
cJSON *exec_stream(const struct opstream *s, const struct exec_opts *o, struct diag *d);

/* ------------------------------------------------------------------------------------- */
/* Traces as workloads (compiled into streams by replay/replay.h)                          */

#define BENCH_TRACE_PREFIX "trace:"

/* The short label of a workload for tables: "trace:<file name>" for traces. */
const char *bench_workload_label(const char *name);

/* ------------------------------------------------------------------------------------- */
/* Process and machine facts (/proc, getrusage)                                           */

struct proc_usage {
    uint64_t user_ns, sys_ns;
    uint64_t minor_faults, major_faults;
    uint64_t maxrss_bytes; /* ru_maxrss */
};

void proc_self_usage(struct proc_usage *u);
/* Current resident bytes of this process (statm), or 0. `fd` from proc_statm_open(). */
uint64_t proc_rss_bytes(int fd);
int proc_statm_open(void);
/* Peak resident bytes (VmHWM) of this process, or 0. */
uint64_t proc_hwm_bytes(void);
/* Reset the peak-RSS mark to the current RSS (Linux >= 4.0); 0 on success. */
int proc_reset_hwm(void);
/* May this process run on `cpu` (its sched_getaffinity mask)? 1 or 0. */
int proc_cpu_allowed(int cpu);
/* The CPUs this process may run on, as "0-3,6", into buf. */
void proc_allowed_cpus(char *buf, size_t cap);

/* Machine description for results: CPU, cores, kernel, glibc, THP, clocksource. */
cJSON *machine_json(void);

/* ------------------------------------------------------------------------------------- */
/* The parent: running the matrix                                                         */

/* Where the matrix is, for a progress line (bench_config.progress). */
struct bench_progress {
    size_t done;           /* runs finished */
    size_t total;          /* runs in the matrix */
    const char *workload;  /* the next run's workload (table label); NULL once all are done */
    unsigned threads;      /* its threads */
    const char *allocator; /* its allocator */
    unsigned rep;          /* its repetition, 0-based like the results' `rep`; `repeat` for
                              the untimed inside passes that follow them */
    unsigned repeat;       /* repetitions */
};

/* Called before each run and once at the end; the library never prints progress itself. */
typedef void (*bench_progress_fn)(const struct bench_progress *p, void *arg);

/* The progress line, "[3/40] small threads=1 glibc rep 0 of 0..4" (or "... glibc inside"
 * for the inside passes), into buf. */
void bench_progress_format(char *buf, size_t cap, const struct bench_progress *p);

struct bench_config {
    const char **workloads; /* names; "trace:PATH" is a trace compiled into a stream */
    size_t n_workloads;
    unsigned *fixed_threads; /* per workload: run at exactly this many threads (a trace runs
                                on the threads it recorded), 0 = the threads list; or NULL */
    unsigned threads[16];    /* thread counts */
    size_t n_threads;
    struct allocator allocs[ALLOC_MAX];
    size_t n_allocs;
    uint64_t seed;
    uint64_t ops;    /* per thread; 0 = each workload's default */
    unsigned repeat; /* repetitions, >= 1 */
    int pin_count;
    int pin_cpus[64];
    unsigned timeout_s;         /* per worker */
    int latency;                /* run latency passes */
    bench_progress_fn progress; /* told where the matrix is, or NULL */
    void *progress_arg;         /* its second argument */
    const char *self_exe;       /* path used to re-execute the worker */
    unsigned inside;            /* EXEC_INSIDE_*: untimed workers per cell (docs/inside.md) */
    uint64_t heapmap_every;     /* their snapshot period in thread 0's ops, 0 = an eighth */
    const char *inside_mark;    /* the snapshot the tables show: a mark's label, or "end" */
};

/* One (workload, threads, allocator): its runs and their summary. */
struct bench_cell {
    const char *workload;
    unsigned threads;
    size_t alloc_idx;
    cJSON *runs;    /* array of per-run objects (worker JSON or {status, error}) */
    int n_ok;       /* runs that succeeded */
    char note[256]; /* failure note when no run succeeded */
    cJSON *inside;  /* {heapmap, alloc_stats, os_calls} as asked (cfg.inside), or NULL */
};

struct bench_results {
    struct bench_cell *cells;
    size_t n_cells;
    cJSON *machine;
    cJSON *alloc_info; /* array: name, path, provider, version, status */
};

/*
 * Run every (workload, threads, repetition, allocator) in the config, allocators interleaved
 * within each repetition. Failing or missing allocators are recorded, not fatal.
 * 0, or -1 with `d` filled on a failure of the harness itself.
 */
int bench_run(const struct bench_config *cfg, struct bench_results *res, struct diag *d);
void bench_results_free(struct bench_results *res);

/* Run one worker process: returns its JSON (caller frees) or an object {status, error}. */
cJSON *bench_spawn_worker(const struct bench_config *cfg, const struct allocator *a,
                          const char *workload, unsigned threads, unsigned rep);

/*
 * The inside sections of one cell (cfg->inside): a worker for heap maps and statistics, one
 * for OS calls, each asked section as the worker reported it, or {status: "failed" or
 * "skipped", note} when there is none. Never NULL (caller frees).
 */
cJSON *bench_spawn_inside(const struct bench_config *cfg, const struct allocator *a,
                          const char *workload, unsigned threads);

/* Table what the inside workers saw (report_inside.c), after report_table's tables. */
void report_inside_tables(const struct bench_config *cfg, const struct bench_results *res,
                          FILE *fp);

/*
 * Run a probe worker with `a` preloaded: {status, provider, version} or {status, error};
 * status "preload-mismatch" when its malloc is not the library's (error says why).
 */
cJSON *bench_probe(const char *self_exe, const struct allocator *a, unsigned timeout_s);

/* The number at dotted `path` ("latency.malloc.p99_ns") in `j`; 1 if found. */
int bench_json_number(const cJSON *j, const char *path, double *out);

/* The summary of metric `key` over a cell's successful runs; 0 if none have it. */
int bench_cell_metric(const struct bench_cell *c, const char *key, struct summary *out);

/* ------------------------------------------------------------------------------------- */
/* Child processes                                                                        */

enum { SPAWN_CAPTURE_OUT = 1, SPAWN_SHOW_OUTPUT = 2 };

struct spawn_result {
    int status;              /* waitpid status */
    int timed_out;           /* killed with SIGKILL after the timeout */
    uint64_t wall_ns;        /* from fork to reaping */
    struct proc_usage usage; /* the child's (and its waited-for descendants') usage */
    char *out;               /* captured stdout (SPAWN_CAPTURE_OUT), NUL-terminated, or NULL */
    size_t out_n;
    char *err; /* last 4 KiB of stderr (unless SPAWN_SHOW_OUTPUT), or NULL */
    size_t err_n;
};

/*
 * Run argv[0] (a path) with `env`, stdin from /dev/null. stdout is captured
 * (SPAWN_CAPTURE_OUT), passed through (SPAWN_SHOW_OUTPUT) or discarded; stderr is kept
 * (bounded) unless passed through. After `timeout_s` (0 = none) the child is killed.
 * 0 when it ran (see r->status), -1 with errno if it could not be started.
 */
int spawn_run(char *const argv[], char **env, unsigned timeout_s, int flags,
              struct spawn_result *r);
void spawn_result_free(struct spawn_result *r);

/* The environment for a child: ours without LD_PRELOAD, plus LD_PRELOAD=preload if set. */
char **worker_env(const char *preload);
void free_env(char **env, const char *preload);

/* ------------------------------------------------------------------------------------- */
/* Reports                                                                               */

/*
 * The human tables on `fp`, headed "heaplab COMMAND: ...". The best value of each row (and
 * any that ties it as printed) is green when `color`, else marked '*'. With one repetition
 * there is no spread to show.
 */
void report_table(const struct bench_config *cfg, const struct bench_results *res, FILE *fp,
                  const char *command, int color);

/*
 * The envelope of every results document (bench/envelope.c): {schema, tool {name, version},
 * created_utc, command, machine}. `machine` is copied, or collected now when NULL. Caller
 * frees.
 */
cJSON *report_envelope(const char *schema, const char *command_line, const cJSON *machine);

/* The whole results document (schema heaplab.results/2); caller frees. */
cJSON *report_json(const struct bench_config *cfg, const struct bench_results *res,
                   const char *command_line);

/* One CSV row per run; written whole or not at all. 0, or -1 with `d` filled. */
int report_csv(const struct bench_config *cfg, const struct bench_results *res, const char *path,
               struct diag *d);

/* Write a cJSON document to `path` whole or not at all. 0, or -1 with `d` filled. */
int report_write_json(cJSON *doc, const char *path, struct diag *d);

#endif
