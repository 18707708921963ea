/*
 * tests/unit/inside/test_heapmap.c: heap maps of this process's own malloc, on a heap whose
 * live set is known: page-sized, page-aligned blocks, every other one freed, so each live
 * block fills exactly one page and no page is partly live. Also what a map leaves out
 * (harness memory), and what it does when it cannot read the pagemap, runs out of cells or
 * of text.
 *
 * Under AddressSanitizer the process's anonymous memory includes ASan's shadow (terabytes
 * reserved), so a map is downsampled to huge cells: the page-exact checks are skipped there.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "inside/inside.h"
#include "util/diag.h"
#include "util/osmem.h"

#if defined(__SANITIZE_ADDRESS__)
static const int sanitized = 1;
#else
static const int sanitized = 0;
#endif

#define BLOCKS 64
#define PAGE   4096

/* Cells of one snapshot by letter, decoded from every region's runs. */
struct decoded {
    uint64_t by_letter[128];
    uint64_t cells;
    int bad; /* a malformed run */
};

static void decode(const struct heapmap *hm, const struct heapmap_shot *s, struct decoded *d)
{
    memset(d, 0, sizeof *d);
    const struct heapmap_region *r = heapmap_regions(hm) + s->first_region;
    for (size_t i = 0; i < s->n_regions; i++, r++) {
        const char *t = heapmap_text(hm, r);
        uint64_t region_cells = 0;
        for (size_t k = 0; k < r->text_len;) {
            uint64_t n = 0;
            int digits = 0;
            while (k < r->text_len && t[k] >= '0' && t[k] <= '9') {
                n = n * 10 + (uint64_t)(t[k++] - '0');
                digits++;
            }
            if (k == r->text_len || (unsigned char)t[k] >= 128) {
                d->bad = 1;
                return;
            }
            if (!digits) n = 1;
            d->by_letter[(unsigned char)t[k++]] += n;
            region_cells += n;
        }
        uint64_t per_cell = (uint64_t)1 << s->cell_shift;
        if (r->text_len && region_cells != (r->bytes + per_cell - 1) / per_cell) d->bad = 1;
        d->cells += region_cells;
    }
}

/* The live blocks, and a snapshot of them in `hm`. */
struct known_heap {
    void *block[BLOCKS];
};

static void known_heap_make(struct known_heap *k)
{
    for (int i = 0; i < BLOCKS; i++) {
        k->block[i] = NULL;
        if (posix_memalign(&k->block[i], PAGE, PAGE) == 0) memset(k->block[i], 1, PAGE);
    }
    for (int i = 1; i < BLOCKS; i += 2) {
        free(k->block[i]);
        k->block[i] = NULL;
    }
}

static void known_heap_free(struct known_heap *k)
{
    for (int i = 0; i < BLOCKS; i++)
        free(k->block[i]);
}

static const struct heapmap_shot *snap(struct heapmap *hm, const struct known_heap *k)
{
    heapmap_begin(hm, "known", 1, NULL, 0);
    for (int i = 0; i < BLOCKS; i++)
        if (k->block[i]) heapmap_add(hm, (uintptr_t)k->block[i], PAGE);
    heapmap_end(hm);
    size_t n;
    const struct heapmap_shot *s = heapmap_shots(hm, &n);
    return n ? &s[n - 1] : NULL;
}

static void test_heapmap_live_blocks_fill_their_pages(void)
{
    SKIP_IF(sanitized, "ASan's shadow makes the map coarse");
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { 0 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    struct known_heap k;
    known_heap_make(&k);
    const struct heapmap_shot *s = snap(hm, &k);
    REQUIRE(s);
    CHECK(s->resident_known);
    CHECK_EQ_U64(s->cell_shift, 12);
    CHECK_EQ_U64(s->live_bytes, BLOCKS / 2 * PAGE);
    CHECK_EQ_U64(s->outside_bytes, 0);
    CHECK_EQ_U64(s->objects, BLOCKS / 2);
    struct decoded dc;
    decode(hm, s, &dc);
    CHECK(!dc.bad);
    /* Each live block is one whole page: resident and full ('i'); none partly live. */
    CHECK_EQ_U64(dc.by_letter['i'], BLOCKS / 2);
    for (char c = 'b'; c < 'i'; c++)
        CHECK_EQ_U64(dc.by_letter[(unsigned char)c], 0);
    CHECK_EQ_U64(s->cells[HEAPMAP_DENSE], BLOCKS / 2);
    CHECK_EQ_U64(s->cells[HEAPMAP_SPARSE], 0);
    CHECK(s->resident_bytes >= (uint64_t)BLOCKS / 2 * PAGE);
    CHECK(s->check.done && s->check.agree);
    known_heap_free(&k);
    heapmap_destroy(hm);
}

static void test_heapmap_leaves_out_harness_memory(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { 0 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    char *harness = osmem_alloc(64 * PAGE);
    REQUIRE(harness);
    osmem_prefault(harness, 64 * PAGE);
    heapmap_begin(hm, "harness", 0, NULL, 0);
    heapmap_add(hm, (uintptr_t)harness, 64 * PAGE); /* not the allocator's: outside */
    heapmap_end(hm);
    size_t n;
    const struct heapmap_shot *s = heapmap_shots(hm, &n);
    REQUIRE(n == 1);
    CHECK_EQ_U64(s->outside_bytes, 64 * PAGE);
    CHECK_EQ_U64(s->live_bytes, 0);
    CHECK(s->excluded_bytes >= 64 * PAGE);
    const struct heapmap_region *r = heapmap_regions(hm) + s->first_region;
    for (size_t i = 0; i < s->n_regions; i++)
        CHECK(r[i].start + r[i].bytes <= (uintptr_t)harness
              || r[i].start >= (uintptr_t)harness + 64 * PAGE);
    osmem_free(harness, 64 * PAGE);
    heapmap_destroy(hm);
}

static void test_heapmap_unreadable_pagemap_is_a_note(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { .pagemap_path = "/nonexistent/pagemap" };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    struct known_heap k;
    known_heap_make(&k);
    const struct heapmap_shot *s = snap(hm, &k);
    REQUIRE(s);
    CHECK(!s->resident_known);
    CHECK(strstr(s->note, "residency unknown") != NULL);
    CHECK_EQ_U64(s->resident_bytes, 0);
    CHECK_EQ_U64(s->live_bytes, BLOCKS / 2 * PAGE);
    struct decoded dc;
    decode(hm, s, &dc);
    CHECK(!dc.bad);
    uint64_t unknown = 0, known = 0;
    for (int c = 0; c < 128; c++) {
        if (c >= 'p' && c <= 'x') unknown += dc.by_letter[c];
        if ((c >= 'A' && c <= 'I') || (c >= 'a' && c <= 'i')) known += dc.by_letter[c];
    }
    CHECK(unknown > 0);
    CHECK_EQ_U64(known, 0);
    known_heap_free(&k);
    heapmap_destroy(hm);
}

static void test_heapmap_downsamples_over_the_cell_cap(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { .cell_cap = 16 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    struct known_heap k;
    known_heap_make(&k);
    const struct heapmap_shot *s = snap(hm, &k);
    REQUIRE(s);
    CHECK(s->cell_shift > 12);
    CHECK_EQ_U64(s->live_bytes, BLOCKS / 2 * PAGE); /* totals stay exact */
    struct decoded dc;
    decode(hm, s, &dc);
    CHECK(!dc.bad);
    CHECK(dc.cells <= 16);
    known_heap_free(&k);
    heapmap_destroy(hm);
}

static void test_heapmap_text_cap_keeps_the_totals(void)
{
    struct diag d = { { 0 } };
    struct heapmap_config cfg = { .text_cap = 4 };
    struct heapmap *hm = heapmap_create(&cfg, &d);
    REQUIRE(hm);
    struct known_heap k;
    known_heap_make(&k);
    const struct heapmap_shot *s = snap(hm, &k);
    REQUIRE(s);
    CHECK(strstr(s->note, "text cap") != NULL);
    CHECK_EQ_U64(s->live_bytes, BLOCKS / 2 * PAGE);
    uint64_t cells = s->cells[0] + s->cells[1] + s->cells[2] + s->cells[3];
    CHECK(cells > 0);
    const struct heapmap_region *r = heapmap_regions(hm) + s->first_region;
    for (size_t i = 0; i < s->n_regions; i++)
        CHECK_EQ_U64(r[i].text_len, 0);
    known_heap_free(&k);
    heapmap_destroy(hm);
}

int main(void)
{
    RUN_TEST(test_heapmap_live_blocks_fill_their_pages);
    RUN_TEST(test_heapmap_leaves_out_harness_memory);
    RUN_TEST(test_heapmap_unreadable_pagemap_is_a_note);
    RUN_TEST(test_heapmap_downsamples_over_the_cell_cap);
    RUN_TEST(test_heapmap_text_cap_keeps_the_totals);
    return check_report();
}
