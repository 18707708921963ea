/*
 * util/prng.h: a small, fast, seedable pseudo-random generator.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any 64-bit seed,
 * including 0, gives a well-mixed state. The same seed yields the same sequence on every
 * machine: workloads rely on this for `--seed` determinism.
 */
#ifndef HEAPLAB_UTIL_PRNG_H
#define HEAPLAB_UTIL_PRNG_H

#include <stdint.h>

struct prng {
    uint64_t s[4]; /* state; never all zero */
};

/* Seed `r` from `seed`; `stream` selects an independent sequence for the same seed. */
void prng_seed(struct prng *r, uint64_t seed, uint64_t stream);

static inline uint64_t prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 uniformly distributed bits. */
static inline uint64_t prng_next(struct prng *r)
{
    uint64_t *s = r->s;
    uint64_t out = prng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = prng_rotl(s[3], 45);
    return out;
}

/* Uniform integer in [0, n); n > 0. Lemire's multiply-shift, bias below 2^-32 for n < 2^32. */
uint64_t prng_below(struct prng *r, uint64_t n);

/* Uniform integer in [lo, hi]; lo <= hi. */
uint64_t prng_range(struct prng *r, uint64_t lo, uint64_t hi);

/* Uniform double in [0, 1). */
double prng_double(struct prng *r);

/* Standard normal deviate (Box-Muller; one value per call). */
double prng_normal(struct prng *r);

/* exp(N(mu, sigma)) */
double prng_lognormal(struct prng *r, double mu, double sigma);

/* Geometric number of failures before a success with probability 1/mean_plus_one; mean >= 0. */
uint64_t prng_geometric(struct prng *r, double mean);

/* 1 with probability p. */
int prng_chance(struct prng *r, double p);

/* The splitmix64 step, exposed for deriving seeds. */
uint64_t prng_mix(uint64_t x);

#endif
