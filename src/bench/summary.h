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

/* Geometric mean of the positive values of v[0..n); 0 if there are none. */
double geomean(const double *v, size_t n);

#endif
