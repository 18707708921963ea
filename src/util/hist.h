/*
 * util/hist.h: log-linear latency histogram with bounded relative error.
 *
 * Values are unsigned 64-bit (cycles or ns). Values below 2^HIST_SUB_BITS get a bucket each;
 * above that, every power of two [2^k, 2^(k+1)) is split into 2^HIST_SUB_BITS equal
 * sub-buckets. A bucket's width is at most 1/2^HIST_SUB_BITS of its lower bound, so any
 * reported percentile (the bucket's midpoint) is within 1/2^(HIST_SUB_BITS+1) = 3.125% of
 * the true sample, for HIST_SUB_BITS = 4.
 *   I1 count == sum of buckets[]
 *   I2 min <= every recorded value <= max (when count > 0)
 */
#ifndef HEAPLAB_UTIL_HIST_H
#define HEAPLAB_UTIL_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;                 /* samples recorded */
    uint64_t min;                   /* smallest sample; UINT64_MAX when empty */
    uint64_t max;                   /* largest sample */
    uint64_t sum;                   /* sum of samples (saturating) */
    uint64_t buckets[HIST_BUCKETS]; /* counts per bucket, see hist_bucket() */
};

void hist_init(struct hist *h);

/* Bucket index of value v. */
static inline unsigned hist_bucket(uint64_t v)
{
    if (v < HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return ((shift + 1) << HIST_SUB_BITS) + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

static inline void hist_add(struct hist *h, uint64_t v)
{
    h->buckets[hist_bucket(v)]++;
    h->count++;
    h->sum = (h->sum + v < h->sum) ? UINT64_MAX : h->sum + v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

/* Smallest value that falls in bucket b, and one past the largest (saturating at
 * UINT64_MAX for the last bucket, whose end cannot be represented). */
uint64_t hist_bucket_low(unsigned b);
uint64_t hist_bucket_high(unsigned b);

/* Add every sample of `src` to `dst`. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The q-quantile (0 <= q <= 1) of the recorded samples: the midpoint of the bucket holding
 * the sample of rank ceil(q * count), clamped to [min, max]. q = 0 gives min, q = 1 max.
 * Returns 0 for an empty histogram.
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* Mean of the samples, 0 when empty. */
double hist_mean(const struct hist *h);

#endif
