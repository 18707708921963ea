/* util/prng.c: seeding and distributions over xoshiro256**. */
#include "util/prng.h"

#include <math.h>

uint64_t prng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void prng_seed(struct prng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = prng_mix(seed) ^ prng_mix(stream * 0x632be59bd9b4e019ULL + 1);
    for (int i = 0; i < 4; i++) {
        x = prng_mix(x);
        r->s[i] = x;
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t prng_below(struct prng *r, uint64_t n)
{
    if (n <= 1) return 0;
    if (n <= UINT32_MAX) return ((prng_next(r) >> 32) * n) >> 32;
    /* Rejection for wide ranges: rarely used, not on a hot path. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = prng_next(r);
    } while (x >= limit);
    return x % n;
}

uint64_t prng_range(struct prng *r, uint64_t lo, uint64_t hi)
{
    return lo + prng_below(r, hi - lo + 1);
}

double prng_double(struct prng *r)
{
    return (double)(prng_next(r) >> 11) * 0x1.0p-53;
}

double prng_normal(struct prng *r)
{
    double u = 1.0 - prng_double(r); /* (0, 1] so log() is finite */
    double v = prng_double(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

double prng_lognormal(struct prng *r, double mu, double sigma)
{
    return exp(mu + sigma * prng_normal(r));
}

uint64_t prng_geometric(struct prng *r, double mean)
{
    if (mean <= 0) return 0;
    double p = 1.0 / (mean + 1.0);
    double u = 1.0 - prng_double(r);
    return (uint64_t)floor(log(u) / log1p(-p));
}

int prng_chance(struct prng *r, double p)
{
    return prng_double(r) < p;
}
