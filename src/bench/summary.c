/* bench/summary.c */
#include "bench/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void summarize(double *v, size_t n, struct summary *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0) return;
    qsort(v, n, sizeof(double), cmp_double);
    out->n = n;
    out->min = v[0];
    out->max = v[n - 1];
    out->median = (n & 1) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    out->spread = out->median != 0 ? (out->max - out->min) / fabs(out->median) : 0;
}

double geomean(const double *v, size_t n)
{
    double acc = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] > 0) {
            acc += log(v[i]);
            k++;
        }
    }
    return k ? exp(acc / (double)k) : 0;
}
