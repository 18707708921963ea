/*
 * report/report.h: heaplab's results files read back: any number of them into one model,
 * the statistics that say whether two sets of repetitions differ, the comparison of two
 * models (`heaplab compare`), and the merge of several into one document keyed by machine
 * (`heaplab merge`), and the HTML report (`heaplab report`): the viewer of web/ and the data
 * of the model in one page.
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

/* The same for a bench or run cell, with each value's repetition index (`rep`) in reps[i]. */
size_t results_cell_rep_values(const struct results_cell *c, const char *path, double *out,
                               long *reps, size_t cap);

/*
 * The successful run of bench or run cell `c` whose number at `path` is the median of its
 * runs' (of an even number, the lower middle one; equal values ordered as the runs are), or
 * NULL when no successful run has it.
 */
const cJSON *results_median_run(const struct results_cell *c, const char *path);

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
    COMPARE_REFERENCE,  /* --relative-to's own row: 1 by definition */
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
    int timing; /* a time or rate, which a slower machine changes: --relative-to divides it */
};

struct compare_opts {
    double alpha;     /* significance level, e.g. 0.05 */
    double threshold; /* a fraction: changes within +-threshold are not verdicts */
    /* NULL, or an allocator present on both sides: each run's timing metrics are divided by
     * this allocator's run of the same repetition, workload and threads (its own rows are
     * COMPARE_REFERENCE), so a machine that got slower between the files cancels out */
    const char *relative_to;
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
    int relative;         /* the sides are ratios to opts.relative_to's same-repetition runs */
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
    /* Machine drift: of the first metric's tested rows (throughput or wall time), how many
     * changed significantly and beyond the threshold up and down, over how many allocators.
     * Most rows of every allocator moving one way says the machine differs, not the build. */
    size_t first_tested, first_up, first_down, first_allocators;
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

/* ------------------------------------------------------------------------------------- */
/* The HTML report (data.c, why.c, html.c; docs/report.md)                               */

#define REPORT_SCHEMA     "heaplab.report/1" /* the data a report page holds */
#define REPORT_SERIES_MAX 2000               /* points per series in the page, at most */

/*
 * Downsample the series (t[i], v[i]), i < n, t ascending, to at most `cap` points (cap >= 4)
 * into ot[], ov[]: n <= cap is copied as is; else the first and the last points are kept,
 * the points between are cut into (cap - 2) / 2 runs of consecutive points, and each run
 * keeps its lowest and its highest point, in their order, so every peak and every trough
 * survives. The number of points written.
 */
size_t report_downsample(const double *t, const double *v, size_t n, size_t cap, double *ot,
                         double *ov);

/*
 * The "why" of one row of a report: cells[0..n) of `s`, one document's cells at one
 * (workload, threads). Up to two clauses, "; "-joined, each stated only when the data shows
 * it beyond the spread of the repetitions (the ranges do not overlap) and large enough to
 * matter: what an allocator keeps after the frees (end RSS against end live, the RSS
 * series' last point against its peak), how high its RSS peaks against the live bytes, how
 * much of a refill it serves from its holes; and why one is slower: its share of CPU time in
 * the kernel, its page faults, its threads' time blocked, or its malloc tail with the faults
 * behind it. Into buf (always terminated); 1 when something was said, 0 when the data says
 * nothing clear (buf is ""). Race leaderboards say nothing.
 */
int report_why(const struct results_set *s, const size_t *cells, size_t n, char *buf, size_t cap);

/*
 * The data of a report of `all` (every document read), added to `doc`, an envelope
 * (schema REPORT_SCHEMA, tool, created_utc, command; docs/report.md): "machines", "docs",
 * "cells" (each cell's metrics over its successful runs as [median, min, max, n], the RSS
 * series and marks of its median run by peak RSS, the series downsampled to
 * REPORT_SERIES_MAX points, thread 0's marks with their footprint and fragmentation, medians
 * over the runs), "why" (report_why of each row) and, when `cmp` is not NULL, the
 * comparison of `base` and `new` as compare_json writes it with the metrics it used.
 * 0, or -1 with `d` when memory runs out.
 */
int report_data(cJSON *doc, const struct results_set *all, const struct compare *cmp,
                const struct results_set *base, const struct results_set *new,
                const struct compare_opts *o, struct diag *d);

/*
 * The inside sections (docs/inside.md) of a page (inside.c). The heap maps of a page take at
 * most REPORT_MAP_BYTES (their text, and REPORT_MAP_REGION_BYTES a region), shared out
 * among its snapshots in order: each may take what is left over the snapshots still to come
 * (at least REPORT_MAP_SHARE_MIN while the budget lasts);
 * a snapshot at most REPORT_MAP_SNAPSHOT squares and REPORT_MAP_REGIONS regions; a stretch
 * of at least REPORT_MAP_FOLD cells not resident with nothing live is one token.
 */
#define REPORT_MAP_BYTES        ((size_t)1 << 20)
#define REPORT_MAP_SHARE_MIN    ((size_t)1024)
#define REPORT_MAP_REGION_BYTES ((size_t)40)
#define REPORT_MAP_SNAPSHOT     ((size_t)16384)
#define REPORT_MAP_REGIONS      128
#define REPORT_MAP_FOLD         ((size_t)256)

/*
 * Re-encode heaplab.rle/1 cells `in` with squares of `f` consecutive cells: a square is
 * resident when at least half its cells are, of unknown residency when any is, and its
 * bucket is the mean of theirs rounded up; a run of `fold_min` or more not-resident empty
 * cells ('A') is written "<cells>-" and starts the next square afresh, as does the end. The
 * text into out[0..cap) (NUL-terminated) unless `out` is NULL (then only counted); the
 * squares into *squares when not NULL. The text's length, or -1 when `in` is malformed or
 * the text does not fit.
 */
long report_rle_fold(const char *in, size_t f, size_t fold_min, char *out, size_t cap,
                     size_t *squares);

/*
 * The statistics of a page take at most REPORT_STATS_BYTES and its OS calls at most
 * REPORT_OS_BYTES (as compact JSON). When all the statistics do not fit, the snapshots at
 * marks (and peak-live, end) keep their size classes while room is left for the rest, and
 * those taken every K ops share what is left over for their classes; a snapshot at a mark
 * over its share (of what is left over the snapshots still to come) when even that is not
 * enough loses its classes too, and one over what is left all its figures. A cell's OS
 * calls over what is left are left out. Each says so.
 */
#define REPORT_STATS_BYTES ((size_t)512 << 10)
#define REPORT_OS_BYTES    ((size_t)96 << 10)

/* What is left of a page's budgets for its inside sections, and what the statistics still
 * to come need (report_inside_count). */
struct report_inside_budget {
    size_t left, snapshots;             /* heap maps: bytes left, snapshots still to draw */
    size_t stats_left, stats_snapshots; /* statistics: bytes left, snapshots still to come */
    size_t os_left;                     /* OS calls: bytes left */
    size_t stats_marks_full;            /* bytes of those to come not taken every K ops */
    size_t stats_every_full;            /* bytes of those taken every K ops, with classes */
    size_t stats_every_bare;            /* the same without their classes */
    size_t stats_every_count;           /* how many of them */
};

/* A page's budgets, full, for the cells to come. */
#define REPORT_INSIDE_BUDGET                                          \
    ((struct report_inside_budget){ .left = REPORT_MAP_BYTES,         \
                                    .stats_left = REPORT_STATS_BYTES, \
                                    .os_left = REPORT_OS_BYTES })

/* Count results cell `cell`'s heap map and statistics snapshots into `b`'s snapshots to
 * come, and what its statistics need into `b`. */
void report_inside_count(const cJSON *cell, struct report_inside_budget *b);

/*
 * A results cell's inside sections as a page holds them (docs/report.md, "The data":
 * cells[].inside), or NULL when it has none: each snapshot's map drawn within its share of
 * `b` (and REPORT_MAP_SNAPSHOT squares), its statistics and the cell's OS calls within
 * theirs, all charged to it; what a budget cannot pay for says so in a note (the map's
 * totals stay).
 */
cJSON *report_inside(const cJSON *cell, struct report_inside_budget *b);

struct web_asset;

/*
 * The page: an HTML document titled "heaplab report: `title`" that inlines every text/css
 * asset of `assets` in table order as <style>, `data` as <script type="application/json"
 * id="heaplab-results"> (every `<` in it as the JSON escape of U+003C), then every
 * text/javascript asset as <script> ("</" inside written "<\/"), so it opens offline with
 * nothing beside it. Into a malloc'd *out of *len bytes (NUL-terminated). 0, or -1 with `d`
 * when memory runs out.
 */
int report_html(const cJSON *data, const char *title, const struct web_asset *assets,
                size_t n_assets, char **out, size_t *len, struct diag *d);

#endif
