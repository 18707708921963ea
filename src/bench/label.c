/* bench/label.c: the short name of a workload in tables and progress lines. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

const char *bench_workload_label(const char *name)
{
    size_t plen = strlen(BENCH_TRACE_PREFIX);
    if (strncmp(name, BENCH_TRACE_PREFIX, plen) != 0) return name;
    const char *base = strrchr(name + plen, '/');
    if (base == NULL) return name;
    static __thread char label[96];
    snprintf(label, sizeof label, "%s%s", BENCH_TRACE_PREFIX, base + 1);
    return label;
}
