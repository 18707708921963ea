/*
 * util/clock.h: monotonic time and the cycle counter.
 *
 * `clock_ticks()` is a fenced rdtsc (lfence before and after, so the measured call neither
 * starts early nor is overtaken); it is the timer for per-call latency. `clock_ns()` is
 * CLOCK_MONOTONIC. `clock_calibrate()` measures the tick rate against CLOCK_MONOTONIC once.
 * cpuid is never used for serialization: it traps to the hypervisor in a VM.
 */
#ifndef HEAPLAB_UTIL_CLOCK_H
#define HEAPLAB_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t clock_ticks(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}
#define CLOCK_TICKS_ARE_TSC 1
#else
static inline uint64_t clock_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define CLOCK_TICKS_ARE_TSC 0
#endif

static inline uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct clock_cal {
    double ticks_per_ns;       /* tick rate measured against CLOCK_MONOTONIC */
    uint64_t overhead_ticks;   /* median cost of one back-to-back clock_ticks() pair */
    uint64_t floor_ticks;      /* minimum cost of one back-to-back pair */
    uint64_t resolution_ticks; /* smallest non-zero step between two successive reads */
};

/* Measure the tick rate over about `ms` milliseconds and the timer's own overhead. */
void clock_calibrate(struct clock_cal *c, unsigned ms);

static inline uint64_t clock_ticks_to_ns(const struct clock_cal *c, uint64_t ticks)
{
    return (uint64_t)((double)ticks / c->ticks_per_ns + 0.5);
}

#endif
