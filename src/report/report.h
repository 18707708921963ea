/*
 * report/report.h: heaplab's results files read back: any number of them into one model,
 * the statistics that say whether two sets of repetitions differ, the comparison of two
 * models (`heaplab compare`), and the merge of several into one document keyed by machine
 * (`heaplab merge`). The HTML report (`heaplab report`) is meant to sit on the same model.
 *
 * The model. A `struct results_set` holds documents (one per file, or one per document of
 * a merged file) and their cells, in file order:
 *   heaplab.results/1 (bench, replay)  a cell per (workload, threads, allocator)
 *   heaplab.run/2     (run)            a cell per allocator; workload = the program's
 *                                      command line, threads = 0 (not a thread count)
 *   heaplab.race/1    (race)           a cell per leaderboard lane; threads = 0
 *   heaplab.results-set/1 (merge)      the documents it holds, each as if read alone
 * A cell points into its document's parse tree (kept by the set), so a writer can reach
 * every field, series and mark of it. Every document is validated as it is read: the
 * envelope, the version, and the type of every field the model or compare reads, so that
 * what a set holds can be used without checking again. A file that fails is not added.
 *
 * Errors: -1 with one line in `struct diag`, the file first ("a.json: truncated: ...").
 * Nothing here prints or exits. Not thread-safe (cJSON's parser keeps a global error).
 *
 * Glossary: base/new = the two sides of a comparison; MWU = Mann-Whitney U.
 */
#ifndef HEAPLAB_REPORT_REPORT_H
#define HEAPLAB_REPORT_REPORT_H

#include <stddef.h>

struct diag;
typedef struct cJSON cJSON;

#define RESULTS_SCHEMA_BENCH "heaplab.results/1"
#define RESULTS_SCHEMA_RUN   "heaplab.run/2"
#define RESULTS_SCHEMA_RACE  "heaplab.race/1"
#define RESULTS_SCHEMA_SET   "heaplab.results-set/1"
#define COMPARE_SCHEMA       "heaplab.compare/1"

#define RESULTS_MAX_FILE_BYTES ((size_t)1 << 30) /* a bigger file is refused */
#define RESULTS_MAX_RUNS       1024              /* values read from one cell */

/* ------------------------------------------------------------------------------------- */
/* The model                                                                             */

enum results_kind {
    RESULTS_BENCH = 0, /* heaplab.results/1 */
    RESULTS_RUN,       /* heaplab.run/2 */
    RESULTS_RACE,      /* heaplab.race/1 */
};

struct results_doc {
    char name[512]; /* the file, or "FILE (machine KEY, document N)" inside a set */
    enum results_kind kind;
    const char *schema;    /* as the document says it */
    const cJSON *json;     /* the whole document */
    const cJSON *machine;  /* its envelope's machine */
    char machine_key[128]; /* its hostname, made unique per machine within the set */
    size_t first_cell;     /* its cells are cells[first_cell .. first_cell + n_cells) */
    size_t n_cells;
};

struct results_cell {
    size_t doc;            /* index into docs */
    const char *workload;  /* bench: the workload ("trace:/abs/path"); run: the program;
                              race: the race's workload */
    unsigned threads;      /* bench: the thread count (>= 1); run and race: 0 */
    const char *allocator; /* its name */
    const char *status;    /* bench: ok|failed|missing|skipped; run: ok|missing; race: ok */
    size_t runs_ok;        /* runs that succeeded (a race lane is one run) */
    const cJSON *json;     /* the cell object, the run file's allocator, or the race lane */
};

struct results_set {
    struct results_doc *docs;
    size_t n_docs;
    struct results_cell *cells;
    size_t n_cells;
    cJSON **roots; /* the parse trees, one per file read; owned */
    size_t n_roots;
    char **strings; /* other text the cells point to (a run file's program); owned */
    size_t n_strings;
};

void results_init(struct results_set *s);
void results_free(struct results_set *s);

/*
 * Read and validate the file at `path` and add its documents to `s`. 0, or -1 with `d`
 * ("PATH: not JSON (line 3, column 7)", "PATH: truncated: ...", "PATH: heaplab.results/2
 * is newer than this heaplab reads (heaplab.results/1)", "PATH: no results: the results
 * array is empty", "PATH: results[2].threads: not an integer >= 1", ...); `s` is unchanged
 * then.
 */
int results_load(struct results_set *s, const char *path, struct diag *d);

/* The same from memory; `name` stands for the file in messages. `text` need not end in a
 * NUL. */
int results_load_mem(struct results_set *s, const char *name, const char *text, size_t len,
                     struct diag *d);

/*
 * The values of the number at dotted `path` ("ops_per_sec", "latency.malloc.p99_ns") in
 * each successful run of cell `c` (a race lane is its one run), at most `cap`; how many.
 */
size_t results_cell_values(const struct results_cell *c, enum results_kind kind, const char *path,
                           double *out, size_t cap);

/* The number at dotted `path` in `j`; 1 if it is there and a number. */
int results_number(const cJSON *j, const char *path, double *out);

/* ------------------------------------------------------------------------------------- */
/* Statistics (stats.c)                                                                  */

#define STATS_EXACT_MAX 50 /* pooled sample size up to which MWU's p-value is exact */

struct mwu {
    double u;  /* U of sample a: pairs (a_i, b_j) with a_i > b_j, a tie counting 1/2 */
    double p;  /* two-sided p-value: P(|U - na nb / 2| >= |u - na nb / 2|) under H0 */
    int exact; /* 1: from the exact permutation distribution (ties included), 0: normal */
};

/*
 * The Mann-Whitney U test of a[0..na) against b[0..nb): could both be samples of one
 * distribution? Exact (every split of the pooled ranks counted, midranks for ties) when
 * na + nb <= STATS_EXACT_MAX, else the normal approximation with tie and continuity
 * corrections. 0, or -1 when a sample is empty or memory runs out.
 */
int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, struct mwu *out);

/*
 * The largest p-value below or at `alpha` that the exact test can give for samples of na and
 * nb distinct values: the test's false-positive rate at that level (0: it can never reject,
 * e.g. 3 against 3 at 0.05). -1 past STATS_EXACT_MAX.
 */
double stats_mwu_attained_alpha(size_t na, size_t nb, double alpha);

/* The median of v[0..n) (reordered); 0 when n is 0. */
double stats_median(double *v, size_t n);

/* ------------------------------------------------------------------------------------- */
/* Comparison (compare.c)                                                                */

enum compare_verdict {
    COMPARE_SAME = 0,   /* not significant, or within the threshold */
    COMPARE_BETTER,     /* significant and beyond the threshold, for the better */
    COMPARE_WORSE,      /* significant and beyond the threshold, for the worse */
    COMPARE_UNTESTED,   /* no values on a side, or a latency below the timer's resolution */
    COMPARE_NEW_FAILS,  /* base ran, every run of new failed: a regression */
    COMPARE_BASE_FAILS, /* new ran, no run of base did */
};

struct compare_metric {
    const char *key;   /* "ops_per_sec", as in results files' summaries */
    const char *name;  /* "throughput", for sentences */
    const char *unit;  /* of the printed value: "Mops/s" */
    const char *path;  /* dotted path in a run */
    const char *title; /* table heading */
    double scale;      /* printed value = raw / scale */
    int decimals;
    int higher_better;
};

struct compare_opts {
    double alpha;     /* significance level, e.g. 0.05 */
    double threshold; /* a fraction: changes within +-threshold are not verdicts */
};

struct compare_side {
    double median, min, max;
    size_t n;           /* successful runs with the metric */
    const char *status; /* the cell's status */
};

struct compare_row {
    size_t base_cell, new_cell; /* indices into each set's cells */
    size_t metric;              /* index into the kind's metrics (compare_metrics) */
    struct compare_side base, new;
    double resolution_ns; /* latency: the timer's resolution (largest of both sides), or 0 */
    double change;        /* new median / base median - 1; NAN when base's is 0 or missing */
    struct mwu test;      /* test.p is NAN when untested */
    int significant;      /* test.p < alpha */
    enum compare_verdict verdict;
};

struct compare {
    enum results_kind kind;
    struct compare_row *rows; /* by metric, then base's cell order */
    size_t n_rows;
    size_t cells;      /* cells present in both */
    size_t *only_base; /* cells (of base) absent from new */
    size_t n_only_base;
    size_t *only_new; /* cells (of new) absent from base */
    size_t n_only_new;
    size_t worse, better; /* rows with those verdicts (COMPARE_NEW_FAILS counts as worse) */
};

/* The metrics compared for a kind (bench: throughput, malloc p99, peak RSS; run: wall time,
 * peak RSS); how many in *n. NULL for a race. */
const struct compare_metric *compare_metrics(enum results_kind kind, size_t *n);

/*
 * Compare every cell of `base` with the cell of `new` with the same (workload, threads,
 * allocator), and the same machine when a side holds several. -1 with `d` when the two hold
 * different kinds, races, a cell twice, or no cell in common ("a.json and b.json share no
 * cell"). `out` is then empty.
 */
int compare_sets(const struct results_set *base, const struct results_set *new,
                 const struct compare_opts *o, struct compare *out, struct diag *d);
void compare_free(struct compare *c);

/* The comparison as the body of a heaplab.compare/1 document (docs/compare.md), added to
 * `doc`. 0, or -1 when memory ran out. */
int compare_json(cJSON *doc, const struct compare *c, const struct results_set *base,
                 const struct results_set *new, const struct compare_opts *o);

/* ------------------------------------------------------------------------------------- */
/* Merging (merge.c)                                                                     */

/*
 * Add to `doc` (an envelope without machine: schema heaplab.results-set/1, tool,
 * created_utc, command) "machines": { KEY: { machine, documents: [...] } }, every document
 * of `s` copied whole under its machine's key, in the order read. -1 with `d` when a
 * document appears twice (the same file read twice would count its runs twice) or memory
 * runs out.
 */
int results_merge(cJSON *doc, const struct results_set *s, struct diag *d);

#endif
