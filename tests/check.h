/*
 * tests/check.h: the test harness. CHECK records a failure and continues, REQUIRE stops the
 * test function, SKIP_IF skips it. A failure prints file:line, the expression and values.
 * Each test executable's exit status is its result; check_report() prints
 * "N passed, N failed" and returns the status.
 */
#ifndef HEAPLAB_TESTS_CHECK_H
#define HEAPLAB_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures, check_passes, check_cur_failed, check_skips;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                        \
    do {                                                                                          \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                              \
        if (check_a_ != check_b_) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu vs %llu)\n", __FILE__, __LINE__, \
                    #a, #b, (unsigned long long)check_a_, (unsigned long long)check_b_);          \
            check_cur_failed = 1;                                                                 \
        }                                                                                         \
    } while (0)

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            check_cur_failed = 1;                                                      \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define SKIP_IF(cond, why)                                     \
    do {                                                       \
        if (cond) {                                            \
            fprintf(stderr, "skip %s: %s\n", __func__, (why)); \
            check_cur_failed = -1;                             \
            return;                                            \
        }                                                      \
    } while (0)

#define RUN_TEST(fn)                           \
    do {                                       \
        check_cur_failed = 0;                  \
        fn();                                  \
        if (check_cur_failed > 0) {            \
            check_failures++;                  \
            fprintf(stderr, "FAIL %s\n", #fn); \
        } else if (check_cur_failed < 0) {     \
            check_skips++;                     \
        } else {                               \
            check_passes++;                    \
        }                                      \
    } while (0)

static inline int check_report(void)
{
    if (check_skips)
        printf("%d passed, %d failed, %d skipped\n", check_passes, check_failures, check_skips);
    else
        printf("%d passed, %d failed\n", check_passes, check_failures);
    return check_failures ? 1 : 0;
}

#endif
