/*
 * bench/exec_rss.c: the worker's RSS sampler: a thread that reads /proc/self/statm every
 * period into pre-faulted mmap'd buffers while a pass runs (exec_json.c downsamples them).
 */
#include <stdatomic.h>
#include <time.h>

#include "bench/exec.h"
#include "util/clock.h"

static void *sampler_main(void *arg)
{
    struct sampler *sp = arg;
    struct timespec ts = { .tv_sec = sp->period_ms / 1000,
                           .tv_nsec = (long)(sp->period_ms % 1000) * 1000000L };
    while (!atomic_load(&sp->stop) && sp->n < EXEC_MAX_RSS_SAMPLES) {
        sp->t_ms[sp->n] = (uint32_t)((clock_ns() - sp->start_ns) / 1000000u);
        sp->rss[sp->n] = proc_rss_bytes(sp->fd);
        sp->n++;
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void exec_sampler_init(struct sampler *sp, void *mem, int fd, unsigned period_ms)
{
    memset(sp, 0, sizeof *sp);
    sp->t_ms = mem;
    sp->rss = (uint64_t *)((char *)mem + sizeof(uint32_t) * EXEC_MAX_RSS_SAMPLES);
    sp->fd = fd;
    sp->period_ms = period_ms ? period_ms : 10;
}

int exec_sampler_start(struct sampler *sp, uint64_t start_ns)
{
    sp->start_ns = start_ns;
    return pthread_create(&sp->tid, NULL, sampler_main, sp) == 0 ? 0 : -1;
}

void exec_sampler_stop(struct sampler *sp)
{
    atomic_store(&sp->stop, 1);
    pthread_join(sp->tid, NULL);
}
