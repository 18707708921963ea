/* util/clock.c: tick-rate calibration and timer-overhead measurement. */
#include "util/clock.h"

#include "util/hist.h"

void clock_calibrate(struct clock_cal *c, unsigned ms)
{
    uint64_t n0 = clock_ns(), t0 = clock_ticks();
    uint64_t want = (uint64_t)ms * 1000000u;
    uint64_t n1, t1;
    do {
        n1 = clock_ns();
        t1 = clock_ticks();
    } while (n1 - n0 < want);
    c->ticks_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
    if (c->ticks_per_ns <= 0) c->ticks_per_ns = 1;

    /* The timer's own cost: what an empty timed region measures. */
    struct hist h;
    hist_init(&h);
    for (int i = 0; i < 20000; i++) {
        uint64_t a = clock_ticks();
        uint64_t b = clock_ticks();
        hist_add(&h, b - a);
    }
    c->overhead_ticks = hist_quantile(&h, 0.5);
    c->floor_ticks = h.min;

    /* Resolution: under a hypervisor the counter may advance in coarse steps. */
    uint64_t res = UINT64_MAX;
    for (int i = 0; i < 20000; i++) {
        uint64_t a = clock_ticks(), b = clock_ticks();
        while (b == a)
            b = clock_ticks();
        if (b - a < res) res = b - a;
    }
    c->resolution_ticks = res;
}
