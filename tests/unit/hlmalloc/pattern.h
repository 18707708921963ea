/*
 * tests/unit/hlmalloc/pattern.h: fill a block with a pattern and check it. Byte i of the
 * pattern depends only on (seed, i), so a prefix of a block filled for n bytes checks as
 * the pattern of any shorter length (what realloc must keep).
 */
#ifndef HEAPLAB_TESTS_UNIT_HLMALLOC_PATTERN_H
#define HEAPLAB_TESTS_UNIT_HLMALLOC_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pattern_word(uint64_t seed, size_t idx)
{
    uint64_t x = seed + (idx + 1) * 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    return x ^ (x >> 31);
}

/* The seed of a block: derived from its address and size. */
static inline uint64_t pattern_seed(const void *p, size_t size)
{
    return pattern_word((uint64_t)(uintptr_t)p, size);
}

static inline void pattern_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = pattern_word(seed, i / 8);
        memcpy(b + i, &w, n - i);
    }
}

/* 1 if the first n bytes at p hold the pattern of seed. */
static inline int pattern_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i / 8);
        if (memcmp(b + i, &w, 8) != 0) return 0;
    }
    if (i < n) {
        uint64_t w = pattern_word(seed, i / 8);
        if (memcmp(b + i, &w, n - i) != 0) return 0;
    }
    return 1;
}

#endif
