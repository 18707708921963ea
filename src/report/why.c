/*
 * report/why.c: the "why" line of a report's row (report_why, docs/report.md, "Why").
 *
 * A row is one document's cells at one (workload, threads). Each clause compares the two
 * allocators at the ends of one measure and is said only when
 *   - the difference is beyond the spread: every repetition of the one is beyond every
 *     repetition of the other (the min-max ranges do not overlap), and
 *   - it is large enough to matter: a ratio and an absolute floor per clause (below),
 * and, for the clauses that explain, when the measure behind it shows the mechanism. So a
 * row whose data shows nothing clear gets no line, and every number in a line is one of the
 * data's (medians over the repetitions, or the RSS series of the median run).
 *
 * Memory, the first of these that holds:
 *   keeps   the workload frees at least half of what it had live; X's end RSS is >= 2x Y's
 *           and 1 MiB more, and X's RSS stays at >= 75% of its peak after the frees (the RSS
 *           series' last point against its highest, or end against peak RSS without one);
 *   peaks   X's peak RSS is >= 1.5x Y's and 1 MiB more (with the peak live bytes: the
 *           allocator's overhead, not the program's);
 *   holes   X serves >= 15 points more of the fragmentation refill from its holes than Y.
 * Time, the first of these that holds, for the slowest S against the fastest F (throughput,
 * or a program's wall time, >= 1.25x apart):
 *   kernel  >= 20% of S's CPU time is in the kernel, at least twice F's and 10 points more;
 *   faults  S takes >= 3x F's page faults and 1000 more;
 *   blocked S's threads are blocked >= 10% of their time, >= 3x F's share (threads > 1);
 * and without any of those, the malloc tail: X's p99 >= 3x Y's (both above the timer's
 * resolution) with >= 2x the page faults behind it.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"

#define MIB        1048576.0
#define SMALL_RSS  65536.0 /* an RSS below this is "almost nothing", not a divisor */
#define MAX_SERIES 100000

struct range {
    int have;
    double med, lo, hi;
};

struct facts {
    const char *name;
    struct range time; /* bench: ops_per_sec (higher is better); run: wall_ns (lower) */
    struct range peak, end, faults, p99, reuse, peak_live, end_live;
    struct range user, sys, blocked, thread;
    double resolution;    /* the timer's, ns (0: none) */
    double s_max, s_last; /* the RSS series of the median run by peak RSS */
    size_t s_n;           /* its points */
};

static void range_of(const struct results_cell *c, enum results_kind kind, const char *path,
                     struct range *r)
{
    double v[RESULTS_MAX_RUNS];
    size_t n = results_cell_values(c, kind, path, v, RESULTS_MAX_RUNS);
    memset(r, 0, sizeof *r);
    if (n == 0) return;
    r->have = 1;
    r->lo = r->hi = v[0];
    for (size_t i = 1; i < n; i++) {
        if (v[i] < r->lo) r->lo = v[i];
        if (v[i] > r->hi) r->hi = v[i];
    }
    r->med = stats_median(v, n);
}

static void series_of(const struct results_cell *c, struct facts *f)
{
    const cJSON *run = results_median_run(c, "peak_rss_bytes");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(run, "rss_series"), "rss_bytes");
    const cJSON *x;
    cJSON_ArrayForEach(x, rs)
    {
        if (!cJSON_IsNumber(x) || f->s_n == MAX_SERIES) {
            f->s_n = 0;
            return;
        }
        if (f->s_n == 0 || x->valuedouble > f->s_max) f->s_max = x->valuedouble;
        f->s_last = x->valuedouble;
        f->s_n++;
    }
}

static void facts_of(const struct results_set *s, size_t i, struct facts *f)
{
    const struct results_cell *c = &s->cells[i];
    enum results_kind k = s->docs[c->doc].kind;
    memset(f, 0, sizeof *f);
    f->name = c->allocator;
    range_of(c, k, k == RESULTS_BENCH ? "ops_per_sec" : "wall_ns", &f->time);
    range_of(c, k, "peak_rss_bytes", &f->peak);
    range_of(c, k, "minor_faults", &f->faults);
    range_of(c, k, "user_ns", &f->user);
    range_of(c, k, "sys_ns", &f->sys);
    if (k != RESULTS_BENCH) return;
    range_of(c, k, "end_rss_bytes", &f->end);
    range_of(c, k, "peak_live_bytes", &f->peak_live);
    range_of(c, k, "end_live_bytes", &f->end_live);
    range_of(c, k, "latency.malloc.p99_ns", &f->p99);
    range_of(c, k, "hole_reuse", &f->reuse);
    range_of(c, k, "contention.blocked_ns", &f->blocked);
    range_of(c, k, "contention.thread_ns", &f->thread);
    struct range res;
    range_of(c, k, "latency.timer_resolution_ns", &res);
    f->resolution = res.have ? res.hi : 0;
    if (f->p99.have && f->p99.med < f->resolution) f->p99.have = 0; /* not a measurement */
    series_of(c, f);
}

/* The indices of the largest and the smallest median of the range at byte offset `off` of
 * struct facts among f[0..n) that have it; 0 when fewer than two have it. */
static int ends(const struct facts *f, size_t n, size_t off, size_t *hi, size_t *lo)
{
    int found = 0;
    *hi = *lo = 0;
    for (size_t i = 0; i < n; i++) {
        const struct range *r = (const struct range *)((const char *)&f[i] + off);
        if (!r->have) continue;
        const struct range *h = found ? (const struct range *)((const char *)&f[*hi] + off) : r;
        const struct range *l = found ? (const struct range *)((const char *)&f[*lo] + off) : r;
        if (!found || r->med > h->med) *hi = i;
        if (!found || r->med < l->med) *lo = i;
        found++;
    }
    return found >= 2 && *hi != *lo;
}

#define ENDS(f, n, field, hi, lo) ends(f, n, offsetof(struct facts, field), hi, lo)

/* Is every repetition of `a` above every one of `b`? */
static int above(const struct range *a, const struct range *b)
{
    return a->have && b->have && a->lo > b->hi;
}

static void fmt_bytes(char *buf, size_t cap, double b)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (fabs(b) >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0 || fabs(b) >= 10)
        snprintf(buf, cap, "%.0f %s", b, units[u]);
    else
        snprintf(buf, cap, "%.1f %s", b, units[u]);
}

static void fmt_count(char *buf, size_t cap, double v)
{
    if (v < 10000)
        snprintf(buf, cap, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, cap, "%.0fk", v / 1e3);
    else
        snprintf(buf, cap, "%.1fM", v / 1e6);
}

/* 1.8x, 12x: a ratio as a person says it. */
static void fmt_ratio(char *buf, size_t cap, double r)
{
    snprintf(buf, cap, r < 10 ? "%.1f\u00d7" : "%.0f\u00d7", r);
}

/* A clause appended to buf, "; " between clauses. */
static void say(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n && n + 2 < cap) {
        memcpy(buf + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* "keeps": what an allocator holds after the frees. */
static int why_keeps(const struct facts *f, size_t n, const char *wl, char *buf, size_t cap)
{
    size_t x, y;
    if (!ENDS(f, n, end, &x, &y) || !f[x].peak.have) return 0;
    const struct facts *X = &f[x], *Y = &f[y];
    double peak_live = X->peak_live.med, end_live = X->end_live.med;
    if (!X->peak_live.have || !X->end_live.have || peak_live <= 0 || end_live > 0.5 * peak_live)
        return 0;
    if (!above(&X->end, &Y->end) || X->end.med - Y->end.med < MIB
        || X->end.med < 2 * fmax(Y->end.med, SMALL_RSS))
        return 0;
    double stay = X->s_n >= 4 && X->s_max > 0 ? X->s_last / X->s_max
                  : X->peak.med > 0           ? X->end.med / X->peak.med
                                              : 0;
    if (stay < 0.75) return 0;
    char xe[32], ye[32], live[48], r[32];
    fmt_bytes(xe, sizeof xe, X->end.med);
    fmt_bytes(ye, sizeof ye, Y->end.med);
    if (end_live < 1) {
        snprintf(live, sizeof live, "nothing live");
    } else {
        fmt_bytes(live, sizeof live, end_live);
        strcat(live, " still live");
    }
    if (Y->end.med >= SMALL_RSS) {
        fmt_ratio(r, sizeof r, X->end.med / Y->end.med);
        say(buf, cap, "%s keeps %s the memory of %s at the end of %s (%s vs %s, %s)", X->name, r,
            Y->name, wl, xe, ye, live);
    } else {
        say(buf, cap, "%s keeps %s at the end of %s where %s keeps %s (%s)", X->name, xe, wl,
            Y->name, ye, live);
    }
    size_t k = strlen(buf);
    snprintf(buf + k, cap - k, ": its RSS stays at %.0f%% of its peak after the frees", 100 * stay);
    double ystay = Y->s_n >= 4 && Y->s_max > 0 ? Y->s_last / Y->s_max : -1;
    k = strlen(buf);
    if (ystay >= 0 && ystay < 0.5)
        snprintf(buf + k, cap - k, ", %s's falls to %.0f%%", Y->name, 100 * ystay);
    return 1;
}

/* "peaks": how high RSS goes, against the live bytes when the data has them. */
static int why_peaks(const struct facts *f, size_t n, const char *wl, char *buf, size_t cap)
{
    size_t x, y;
    if (!ENDS(f, n, peak, &x, &y)) return 0;
    const struct facts *X = &f[x], *Y = &f[y];
    if (!above(&X->peak, &Y->peak) || X->peak.med - Y->peak.med < MIB
        || X->peak.med < 1.5 * fmax(Y->peak.med, SMALL_RSS))
        return 0;
    char xp[32], yp[32], r[32], live[32];
    fmt_bytes(xp, sizeof xp, X->peak.med);
    fmt_bytes(yp, sizeof yp, Y->peak.med);
    fmt_ratio(r, sizeof r, X->peak.med / fmax(Y->peak.med, SMALL_RSS));
    if (X->peak_live.have && X->peak_live.med > 0) {
        char fx[32], fy[32];
        fmt_bytes(live, sizeof live, X->peak_live.med);
        fmt_ratio(fx, sizeof fx, X->peak.med / X->peak_live.med);
        fmt_ratio(fy, sizeof fy, Y->peak.med / X->peak_live.med);
        say(buf, cap,
            "%s's RSS peaks at %s %s's on %s (%s vs %s) for %s live at most: %s and %s the "
            "live bytes",
            X->name, r, Y->name, wl, xp, yp, live, fx, fy);
        return 1;
    }
    say(buf, cap, "%s's RSS peaks at %s %s's (%s vs %s)", X->name, r, Y->name, xp, yp);
    if (X->faults.have && Y->faults.have && X->faults.med >= 1.5 * fmax(Y->faults.med, 1)) {
        size_t k = strlen(buf);
        fmt_ratio(r, sizeof r, X->faults.med / fmax(Y->faults.med, 1));
        snprintf(buf + k, cap - k, ", with %s the page faults", r);
    }
    return 1;
}

/* "holes": how much of the fragmentation workload's refill came from the holes. */
static int why_holes(const struct facts *f, size_t n, char *buf, size_t cap)
{
    size_t x, y;
    if (!ENDS(f, n, reuse, &x, &y)) return 0;
    const struct facts *X = &f[x], *Y = &f[y];
    if (!above(&X->reuse, &Y->reuse) || X->reuse.med - Y->reuse.med < 0.15) return 0;
    say(buf, cap, "%s serves %.0f%% of the refill from the holes the frees left, %s %.0f%%",
        X->name, 100 * X->reuse.med, Y->name, 100 * Y->reuse.med);
    return 1;
}

static double kernel_share(const struct facts *f)
{
    double cpu = f->user.med + f->sys.med;
    return f->user.have && f->sys.have && cpu > 0 ? f->sys.med / cpu : -1;
}

/* Why the slowest is slow: the kernel, page faults, or time blocked. */
static int why_slow(const struct facts *f, size_t n, int bench, unsigned threads, const char *wl,
                    char *buf, size_t cap)
{
    size_t hi, lo;
    if (!ENDS(f, n, time, &hi, &lo)) return 0;
    /* bench: throughput, the fastest has the highest; run: wall time, the lowest */
    const struct facts *F = &f[bench ? hi : lo], *S = &f[bench ? lo : hi];
    double ratio = bench ? F->time.med / S->time.med : S->time.med / F->time.med;
    if (!isfinite(ratio) || ratio < 1.25
        || !(bench ? above(&F->time, &S->time) : above(&S->time, &F->time)))
        return 0;
    char head[256], r[32], a[32], b[32];
    fmt_ratio(r, sizeof r, ratio);
    if (bench)
        snprintf(head, sizeof head, "%s is %s slower than %s on %s", S->name, r, F->name, wl);
    else
        snprintf(head, sizeof head, "%s takes %s the time of %s", S->name, r, F->name);
    double ks = kernel_share(S), kf = kernel_share(F);
    int more_faults =
            S->faults.have && F->faults.have && S->faults.med >= 2 * fmax(F->faults.med, 1);
    if (ks >= 0.2 && kf >= 0 && S->sys.med >= 2 * F->sys.med && ks >= kf + 0.1) {
        say(buf, cap, "%s: %.0f%% of its CPU time is in the kernel, against %.0f%%", head, 100 * ks,
            100 * kf);
        if (more_faults) {
            size_t k = strlen(buf);
            fmt_count(a, sizeof a, S->faults.med);
            fmt_count(b, sizeof b, F->faults.med);
            snprintf(buf + k, cap - k, " (%s page faults against %s)", a, b);
        }
        return 1;
    }
    if (above(&S->faults, &F->faults) && S->faults.med >= 3 * fmax(F->faults.med, 1)
        && S->faults.med - F->faults.med >= 1000) {
        fmt_ratio(r, sizeof r, S->faults.med / fmax(F->faults.med, 1));
        fmt_count(a, sizeof a, S->faults.med);
        fmt_count(b, sizeof b, F->faults.med);
        say(buf, cap, "%s: it takes %s the page faults (%s against %s)", head, r, a, b);
        return 1;
    }
    if (threads > 1 && S->blocked.have && S->thread.have && F->blocked.have && F->thread.have
        && S->thread.med > 0 && F->thread.med > 0) {
        double bs = S->blocked.med / S->thread.med, bf = F->blocked.med / F->thread.med;
        if (bs >= 0.1 && bs >= 3 * bf) {
            say(buf, cap,
                "%s: its threads are blocked %.0f%% of their time (waiting for a lock), %s's "
                "%.0f%%",
                head, 100 * bs, F->name, 100 * bf);
            return 1;
        }
    }
    return 0;
}

/* The malloc tail, when page faults stand behind it (a p99 below the timer's resolution is
 * left out by facts_of). */
static int why_tail(const struct facts *f, size_t n, char *buf, size_t cap)
{
    size_t x, y;
    if (!ENDS(f, n, p99, &x, &y)) return 0;
    const struct facts *X = &f[x], *Y = &f[y];
    if (!above(&X->p99, &Y->p99) || X->p99.med < 3 * fmax(Y->p99.med, 1) || !X->faults.have
        || !Y->faults.have || X->faults.med < 2 * fmax(Y->faults.med, 1)
        || X->faults.med - Y->faults.med < 100)
        return 0;
    char r[32], rf[32];
    fmt_ratio(r, sizeof r, X->p99.med / fmax(Y->p99.med, 1));
    fmt_ratio(rf, sizeof rf, X->faults.med / fmax(Y->faults.med, 1));
    say(buf, cap, "%s's malloc p99 is %s %s's (%.0f vs %.0f ns), with %s the page faults", X->name,
        r, Y->name, X->p99.med, Y->p99.med, rf);
    return 1;
}

/* A workload's name in a sentence: a trace by its file's name. */
static const char *label(const char *workload)
{
    if (strncmp(workload, "trace:", 6) != 0) return workload;
    const char *slash = strrchr(workload, '/');
    return slash ? slash + 1 : workload + 6;
}

int report_why(const struct results_set *s, const size_t *cells, size_t n, char *buf, size_t cap)
{
    struct facts f[64];
    size_t m = 0;
    if (cap) buf[0] = 0;
    if (n == 0 || cap < 2) return 0;
    const struct results_cell *first = &s->cells[cells[0]];
    enum results_kind kind = s->docs[first->doc].kind;
    if (kind == RESULTS_RACE) return 0;
    for (size_t i = 0; i < n && m < 64; i++)
        if (s->cells[cells[i]].runs_ok > 0) facts_of(s, cells[i], &f[m++]);
    const char *wl = kind == RESULTS_BENCH ? label(first->workload) : "the program";
    int bench = kind == RESULTS_BENCH;
    if (!why_keeps(f, m, wl, buf, cap) && !why_peaks(f, m, wl, buf, cap)) why_holes(f, m, buf, cap);
    if (!why_slow(f, m, bench, first->threads, wl, buf, cap) && bench) why_tail(f, m, buf, cap);
    return buf[0] != 0;
}
