/*
 * report/stats.c: is B different from A, given a few repetitions of each?
 *
 * The Mann-Whitney U test (Wilcoxon rank-sum), two-sided. It assumes nothing about the
 * shape of the distributions, which for benchmark timings are skewed, heavy-tailed and
 * sometimes bimodal, and with the exact null distribution its false-positive rate is what it
 * says: P(p <= alpha) under H0 is the largest attainable p-value <= alpha
 * (stats_mwu_attained_alpha: 0.032 for 5 against 5 at 0.05), never more.
 *
 * Exact distribution. Ranks are doubled so midranks of ties stay integers: a tie group over
 * sorted positions lo..hi (from 0) gets lo + hi + 2 each. Under H0 every choice of na of the
 * N pooled doubled ranks for sample a is equally likely; count[j][s], the number of j-subsets
 * with sum s, is built one rank at a time (a knapsack count), which conditions on the ties
 * observed, so ties need no correction. The sum's mean is na (N + 1); the p-value is the
 * share of na-subsets at least as far from it as the observed sum. Counts are doubles:
 * C(50, 25) = 1.3e14 is still exact in 53 bits.
 *
 * Past STATS_EXACT_MAX pooled values the normal approximation with the tie-corrected
 * variance and a continuity correction of 1/2 is used (bench's repetitions stop at 100).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

struct pooled {
    double v;
    int from_a;
};

static int cmp_pooled(const void *x, const void *y)
{
    double a = ((const struct pooled *)x)->v, b = ((const struct pooled *)y)->v;
    return (a > b) - (a < b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double stats_median(double *v, size_t n)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * How many `k`-subsets of rank2[0..n) have each sum s, for s in [0, *width): a calloc'd
 * array (the caller frees), or NULL when memory runs out.
 */
static double *subset_sums(const long *rank2, size_t n, size_t k, size_t *width)
{
    long total = 0;
    for (size_t i = 0; i < n; i++)
        total += rank2[i];
    size_t w = (size_t)total + 1;
    double *count = calloc((k + 1) * w, sizeof *count); /* count[j * w + s] */
    if (!count) return NULL;
    count[0] = 1;
    for (size_t i = 0; i < n; i++) {
        size_t r = (size_t)rank2[i];
        size_t top = i + 1 < k ? i + 1 : k;
        for (size_t j = top; j >= 1; j--)
            for (size_t s = w - 1; s >= r; s--)
                count[j * w + s] += count[(j - 1) * w + s - r];
    }
    memmove(count, count + k * w, w * sizeof *count);
    *width = w;
    return count;
}

/* The share of the subsets counted in count[0..width) whose sum is at least `dist` away
 * from `mean`. */
static double tail(const double *count, size_t width, long mean, long dist)
{
    double hit = 0, all = 0;
    for (size_t s = 0; s < width; s++) {
        all += count[s];
        if (labs((long)s - mean) >= dist) hit += count[s];
    }
    return hit / all;
}

int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, struct mwu *out)
{
    memset(out, 0, sizeof *out);
    out->p = NAN;
    if (na == 0 || nb == 0) return -1;
    size_t n = na + nb;
    struct pooled *pool = malloc(n * sizeof *pool);
    long *rank2 = malloc(n * sizeof *rank2);
    if (!pool || !rank2) {
        free(pool);
        free(rank2);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        pool[i] = (struct pooled){ i < na ? a[i] : b[i - na], i < na };
    qsort(pool, n, sizeof *pool, cmp_pooled);
    long w2 = 0;     /* sample a's sum of doubled ranks */
    double ties = 0; /* sum of t^3 - t over tie groups */
    for (size_t lo = 0, hi; lo < n; lo = hi + 1) {
        hi = lo;
        while (hi + 1 < n && pool[hi + 1].v == pool[lo].v)
            hi++;
        double t = (double)(hi - lo + 1);
        ties += t * t * t - t;
        for (size_t i = lo; i <= hi; i++) {
            rank2[i] = (long)(lo + hi + 2);
            if (pool[i].from_a) w2 += rank2[i];
        }
    }
    out->u = (double)w2 / 2 - (double)na * (double)(na + 1) / 2;
    long mean2 = (long)na * (long)(n + 1);
    if (n <= STATS_EXACT_MAX) {
        size_t width;
        double *count = subset_sums(rank2, n, na, &width);
        out->p = count ? tail(count, width, mean2, labs(w2 - mean2)) : -1;
        out->exact = 1;
        free(count);
    } else {
        double mu = (double)na * (double)nb / 2;
        double var = (double)na * (double)nb / 12
                     * ((double)(n + 1) - ties / ((double)n * (double)(n - 1)));
        double dev = fabs(out->u - mu) - 0.5;
        out->p = var <= 0 ? 1 : (dev <= 0 ? 1 : erfc(dev / sqrt(var) / sqrt(2.0)));
    }
    free(pool);
    free(rank2);
    if (out->p < 0) return -1;
    if (out->p > 1) out->p = 1;
    return 0;
}

double stats_mwu_attained_alpha(size_t na, size_t nb, double alpha)
{
    size_t n = na + nb;
    if (na == 0 || nb == 0) return 0;
    if (n > STATS_EXACT_MAX) return -1;
    long rank2[STATS_EXACT_MAX] = { 0 };
    for (size_t i = 0; i < n; i++)
        rank2[i] = 2 * (long)(i + 1);
    /* p as a function of the distance from the mean only grows as the distance shrinks: the
     * largest p <= alpha is at the smallest distance that still gets there. */
    size_t width;
    double *count = subset_sums(rank2, n, na, &width);
    if (!count) return -1;
    long mean = (long)na * (long)(n + 1);
    double best = 0;
    for (long dist = 2 * (long)na * (long)nb; dist >= 0; dist--) {
        double p = tail(count, width, mean, dist);
        if (p > alpha * (1 + 1e-12)) break;
        best = p;
    }
    free(count);
    return best;
}
