/*
 * tests/unit/util/test_osmem.c: harness memory is recorded in osmem's registry while it
 * lives, where it lives (a heap map leaves it out by that registry, docs/inside.md).
 */
#include <string.h>

#include "check.h"
#include "util/osmem.h"

/* The registry entry that starts at p, or NULL. */
static const struct osmem_region *find(void *p, struct osmem_region *buf, size_t cap)
{
    int complete = 0;
    size_t n = osmem_regions(buf, cap, &complete);
    for (size_t i = 0; i < n && i < cap; i++)
        if (buf[i].start == (uintptr_t)p) return &buf[i];
    return NULL;
}

static void test_osmem_alloc_is_recorded_whole_pages(void)
{
    static struct osmem_region buf[OSMEM_REGISTRY_MAX];
    char *p = osmem_alloc(5000);
    REQUIRE(p);
    const struct osmem_region *r = find(p, buf, OSMEM_REGISTRY_MAX);
    REQUIRE(r);
    CHECK_EQ_U64(r->bytes, 2 * osmem_page_size());
    osmem_free(p, 5000);
    CHECK(find(p, buf, OSMEM_REGISTRY_MAX) == NULL);
}

static void test_osmem_realloc_moves_the_entry(void)
{
    static struct osmem_region buf[OSMEM_REGISTRY_MAX];
    size_t pg = osmem_page_size();
    char *p = osmem_alloc(pg);
    REQUIRE(p);
    char *blocker = osmem_alloc(pg); /* often right below: growing p in place is less likely */
    char *q = osmem_realloc(p, pg, 64 * pg);
    REQUIRE(q);
    const struct osmem_region *r = find(q, buf, OSMEM_REGISTRY_MAX);
    REQUIRE(r);
    CHECK_EQ_U64(r->bytes, 64 * pg);
    if (q != p) CHECK(find(p, buf, OSMEM_REGISTRY_MAX) == NULL);
    osmem_free(q, 64 * pg);
    osmem_free(blocker, pg);
    CHECK(find(q, buf, OSMEM_REGISTRY_MAX) == NULL);
}

static void test_osmem_regions_counts_beyond_cap(void)
{
    char *a = osmem_alloc(1), *b = osmem_alloc(1);
    REQUIRE(a && b);
    struct osmem_region one;
    int complete = 0;
    size_t n = osmem_regions(&one, 1, &complete);
    CHECK(n >= 2); /* how many there are, not how many fit */
    CHECK(complete);
    osmem_free(a, 1);
    osmem_free(b, 1);
}

int main(void)
{
    RUN_TEST(test_osmem_alloc_is_recorded_whole_pages);
    RUN_TEST(test_osmem_realloc_moves_the_entry);
    RUN_TEST(test_osmem_regions_counts_beyond_cap);
    return check_report();
}
