/* util/hist.c: log-linear histogram math; see hist.h for the bucket layout. */
#include "util/hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint64_t hist_bucket_low(unsigned b)
{
    if (b < HIST_SUB) return b;
    unsigned shift = (b >> HIST_SUB_BITS) - 1;
    uint64_t sub = b & (HIST_SUB - 1);
    return (HIST_SUB + sub) << shift;
}

uint64_t hist_bucket_high(unsigned b)
{
    if (b < HIST_SUB) return (uint64_t)b + 1;
    unsigned shift = (b >> HIST_SUB_BITS) - 1;
    uint64_t low = hist_bucket_low(b);
    uint64_t width = (uint64_t)1 << shift;
    return low + width < low ? UINT64_MAX : low + width;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0) return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum = (dst->sum + src->sum < dst->sum) ? UINT64_MAX : dst->sum + src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0) return 0;
    if (q <= 0) return h->min;
    if (q >= 1) return h->max;
    double want = q * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_low(b), hi = hist_bucket_high(b);
            uint64_t mid = lo + (hi - 1 - lo) / 2;
            if (mid < h->min) mid = h->min;
            if (mid > h->max) mid = h->max;
            return mid;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
