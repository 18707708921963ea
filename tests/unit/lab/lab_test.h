/*
 * tests/unit/lab/lab_test.h: the helpers the per-allocator lab tests share. A test opens a heap
 * by name, lt_open(&h, "slab", LAB_ARENA_MIN), and calls the allocator through its vtable:
 * lt_alloc, lt_free and lt_usable; lt_off is a pointer's offset in the arena and lt_stats
 * the allocator's own accounting. lt_check_ok(&h) is true when check() passes (else it prints
 * the reason); lt_check_fails_with(&h, "F4") is true when check() fails with a reason that
 * starts with that invariant's id (else it prints what it got).
 */
#ifndef HEAPLAB_TESTS_UNIT_LAB_LAB_TEST_H
#define HEAPLAB_TESTS_UNIT_LAB_LAB_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"

/* Open the allocator registered as `name` over an arena of `arena` bytes: 0, or -1. */
static inline int lt_open(struct lab_heap *h, const char *name, size_t arena)
{
    const struct lab_ops *ops = lab_find(name);
    return ops == NULL ? -1 : lab_heap_open(h, ops, arena);
}

static inline void *lt_alloc(const struct lab_heap *h, size_t n)
{
    return h->ops->alloc(h->self, n);
}

static inline void lt_free(const struct lab_heap *h, void *p)
{
    h->ops->free(h->self, p);
}

static inline size_t lt_usable(const struct lab_heap *h, const void *p)
{
    return h->ops->usable_size(h->self, p);
}

/* The offset of `p` from the start of the arena. */
static inline uint64_t lt_off(const struct lab_heap *h, const void *p)
{
    return (uint64_t)((const unsigned char *)p - h->arena);
}

static inline struct lab_stats lt_stats(const struct lab_heap *h)
{
    struct lab_stats s;
    h->ops->stats(h->self, &s);
    return s;
}

/* check() passes; prints its reason if not. */
static inline int lt_check_ok(const struct lab_heap *h)
{
    char err[256] = "";
    if (h->ops->check(h->self, err, sizeof err) == 0) return 1;
    fprintf(stderr, "  [%s] check: %s\n", h->ops->name, err);
    return 0;
}

/* check() fails with a reason starting with `id` (e.g. "F4"); prints what it got if not. */
static inline int lt_check_fails_with(const struct lab_heap *h, const char *id)
{
    char err[256] = "";
    if (h->ops->check(h->self, err, sizeof err) == 0) {
        fprintf(stderr, "  [%s] check passed, expected %s\n", h->ops->name, id);
        return 0;
    }
    if (strncmp(err, id, strlen(id)) != 0) {
        fprintf(stderr, "  [%s] check: %s (expected %s)\n", h->ops->name, err, id);
        return 0;
    }
    return 1;
}

#endif
