/* bench/summary.c */
#include "bench/summary.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
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

#define SMALL_COUNT 100.0 /* below this a count's spread is shown as its range */

/* v with `decimals` digits, more if needed for three significant ones (0.000412, not
 * 0.000); a count (decimals 0) that is not whole with one. */
static void put_number(char *buf, size_t cap, double v, int decimals)
{
    if (decimals == 0) {
        decimals = v != floor(v);
    } else if (v != 0) {
        int want = 2 - (int)floor(log10(fabs(v)));
        if (want > decimals) decimals = want < 9 ? want : 9;
    }
    snprintf(buf, cap, "%.*f", decimals, v);
}

void summary_format(char *buf, size_t cap, const struct summary *s, double scale, int decimals)
{
    char med[48], lo[48], hi[48];
    put_number(med, sizeof med, s->median / scale, decimals);
    if (s->n < 2) {
        snprintf(buf, cap, "%s", med);
        return;
    }
    put_number(lo, sizeof lo, s->min / scale, decimals);
    put_number(hi, sizeof hi, s->max / scale, decimals);
    int small = (decimals == 0 && s->median < SMALL_COUNT) || s->median == 0;
    if (small && strcmp(lo, hi) != 0)
        snprintf(buf, cap, "%s (%s..%s)", med, lo, hi);
    else
        snprintf(buf, cap, "%s ±%ld%%", med, lround(s->spread * 100));
}

cJSON *summary_json(const struct summary *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "median", s->median);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    cJSON_AddNumberToObject(j, "spread", s->spread);
    cJSON_AddNumberToObject(j, "n", (double)s->n);
    return j;
}
