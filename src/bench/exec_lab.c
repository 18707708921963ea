/*
 * bench/exec_lab.c: the lab backend of the worker (exec_opts.lab): a lab allocator run
 * through its vtable over one BENCH_LAB_ARENA arena, single-threaded, plus vt-glibc, glibc's
 * malloc behind the same indirection to measure what the indirection costs. The per-op
 * adapters are inline in exec.h (they run inside the measured loop).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/exec.h"
#include "util/diag.h"

/* glibc's malloc behind the lab indirection ("lab:vt-glibc"): measures its cost. */
static size_t ig_state_size(size_t arena_size)
{
    (void)arena_size;
    return 1;
}
static int ig_create(void *self, void *arena, size_t arena_size)
{
    (void)self, (void)arena, (void)arena_size;
    return 0;
}
static void *ig_alloc(void *self, size_t size)
{
    (void)self;
    return malloc(size);
}
static void ig_free(void *self, void *ptr)
{
    (void)self;
    free(ptr);
}
static size_t ig_usable(void *self, const void *ptr)
{
    (void)self, (void)ptr;
    return 0; /* realloc never stays in place: the same path as a lab block that must move */
}
static const struct lab_ops indirect_glibc = {
    .name = "vt-glibc",
    .summary = "glibc malloc through the lab vtable (bench only: measures the indirection)",
    .state_size = ig_state_size,
    .create = ig_create,
    .alloc = ig_alloc,
    .free = ig_free,
    .usable_size = ig_usable,
};

const struct lab_ops *bench_lab_find(const char *name)
{
    if (strcmp(name, indirect_glibc.name) == 0) return &indirect_glibc;
    return lab_find(name);
}

const struct lab_ops *bench_lab_get(size_t i)
{
    if (i < lab_count) return lab_list[i];
    return i == lab_count ? &indirect_glibc : NULL;
}

int exec_lab_open(struct lab_heap *h, const struct lab_ops *ops, struct diag *d)
{
    /* Mapped, not touched: the pages the allocator touches are its footprint. */
    if (lab_heap_open(h, ops, BENCH_LAB_ARENA) == 0) return 0;
    return diag_set(d, "lab:%s: cannot create its %zu MiB arena: %s", ops->name,
                    BENCH_LAB_ARENA >> 20, strerror(errno));
}
