/*
 * bench/summary.h: summarizing repeated measurements: median, min, max, relative spread,
 * and geometric means.
 */
#ifndef HEAPLAB_BENCH_SUMMARY_H
#define HEAPLAB_BENCH_SUMMARY_H

#include <stddef.h>

struct summary {
    double median; /* middle value (mean of the two middle ones for an even count) */
    double min;
    double max;
    double spread; /* (max - min) / median; 0 when median is 0 */
    size_t n;      /* values summarized */
};

/* Summarize v[0..n); v is reordered. n == 0 gives all zeros. */
void summarize(double *v, size_t n, struct summary *out);

/*
 * A summary for a table cell, the median divided by `scale` with `decimals` digits (more when
 * needed for three significant ones): "1.25" for one value, else "1.25 ±4%" (the relative
 * spread). A relative spread says little of a
 * count (decimals 0) below 100 (0 and 1 are "±200%") or of a zero median, so these show the
 * range instead when the values differ: "0.5 (0..1)". A count's median that is not whole
 * gets one decimal. `buf` is always terminated.
 */
void summary_format(char *buf, size_t cap, const struct summary *s, double scale, int decimals);

typedef struct cJSON cJSON;
/* {median, min, max, spread, n} as results files carry every summary (docs/results.md). */
cJSON *summary_json(const struct summary *s);

/* Geometric mean of the positive values of v[0..n); 0 if there are none. */
double geomean(const double *v, size_t n);

#endif
