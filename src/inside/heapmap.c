/*
 * inside/heapmap.c: page-occupancy maps of the allocator's memory (inside.h, docs/inside.md).
 *
 * A snapshot:
 *   1. exclusions: the harness's blocks (osmem's registry), the ELF images' PT_LOAD ranges
 *      (their .bss is anonymous memory that is not the heap) and the caller's ranges,
 *      sorted and merged;
 *   2. /proc/self/smaps: every private anonymous mapping but the stack and the kernel's
 *      ([vdso], [vvar]) is the allocator's, minus the exclusions; what is left of one
 *      mapping is a region (adjacent mappings with the same protection are one VMA to the
 *      kernel, so a region can span several of the allocator's mmap calls);
 *   3. cells: one per page, or per 2^k pages when the regions hold more pages than
 *      cell_cap (the map is then downsampled, and says so by its cell size);
 *   4. live objects, as the caller names them: their bytes are added to the cells they
 *      cover (an object outside every region counts in outside_bytes);
 *   5. /proc/self/pagemap, read for every mapping that smaps says has pages resident or
 *      swapped, or that holds harness memory (a reservation of terabytes costs nothing;
 *      the harness's own may have been touched since smaps was read): each page's present
 *      and swapped bits fill the cells of the regions, and every mapping's present
 *      anonymous pages are summed for the RSS cross-check against smaps_rollup;
 *   6. each cell is classified and the cells of each region are run-length encoded.
 * Steps 1 and 2 are repeated when reading moved one of our own buffers (osmem_realloc
 * mremaps it), since the maps would then show a harness block the exclusions do not.
 *
 * Memory: the cell arrays (two uint32_t per cell, cell_cap cells) and the pagemap chunk
 * are mapped once at creation; the region list and the encoded text grow (text up to
 * text_cap). Everything comes from osmem, so the maps never show it as the allocator's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "inside/inside.h"
#include "inside/procfs.h"
#include "util/clock.h"
#include "util/diag.h"
#include "util/osmem.h"

#define PM_CHUNK       8192 /* pagemap entries read at once (64 KiB) */
#define PM_PRESENT     ((uint64_t)1 << 63)
#define PM_SWAPPED     ((uint64_t)1 << 62)
#define PM_FILE        ((uint64_t)1 << 61) /* file page or shared anonymous */
#define PM_EXCLUSIVE   ((uint64_t)1 << 56) /* mapped by this process alone */
#define MAX_CELL_SHIFT 19                  /* a cell's live bytes fit a uint32_t */
#define USER_TOP       ((uintptr_t)1 << 47)
#define SMALL_BYTES    ((size_t)64 << 10)   /* statm and smaps_rollup: a page or two of text */
#define WALK_MAX_BYTES ((uint64_t)16 << 30) /* a larger mapping's pagemap is not read */

struct heapmap {
    struct heapmap_config cfg;
    size_t page;                /* the page size */
    unsigned page_shift;        /* its log2 */
    struct procfs_buf maps;     /* /proc/self/maps */
    struct procfs_buf small;    /* statm, smaps_rollup */
    struct heapmap_range *excl; /* sorted, merged */
    size_t n_excl, excl_cap;
    struct osmem_region *oreg;  /* OSMEM_REGISTRY_MAX: a copy of osmem's registry */
    int registry_incomplete;    /* osmem could not record every harness block */
    uint32_t *live;             /* per cell of the current snapshot: live bytes */
    uint32_t *res;              /* per cell: pages present */
    uint64_t *pm;               /* PM_CHUNK pagemap entries */
    size_t *cell_base;          /* per region (parallel to `regions`): its first cell */
    struct heapmap_shot *shots; /* HEAPMAP_MAX_SHOTS */
    size_t n_shots;
    uint64_t dropped; /* snapshots not taken: the log was full or the maps unreadable */
    char why_dropped[128];
    struct heapmap_region *regions;
    size_t n_regions, region_cap;
    char *text;
    size_t text_len, text_cap;
    struct heapmap_shot *cur; /* the snapshot being taken, or NULL */
    size_t n_cells;           /* its cells */
    uint64_t t0;
};

struct heapmap *heapmap_create(const struct heapmap_config *cfg, struct diag *d)
{
    struct heapmap *hm = osmem_alloc(sizeof *hm);
    if (!hm) {
        diag_set(d, "out of memory for the heap map");
        return NULL;
    }
    hm->cfg = *cfg;
    if (!hm->cfg.cell_cap) hm->cfg.cell_cap = HEAPMAP_CELL_CAP;
    if (!hm->cfg.text_cap) hm->cfg.text_cap = HEAPMAP_TEXT_CAP;
    hm->page = osmem_page_size();
    while (((size_t)1 << hm->page_shift) < hm->page)
        hm->page_shift++;
    hm->live = osmem_alloc(hm->cfg.cell_cap * sizeof *hm->live);
    hm->res = osmem_alloc(hm->cfg.cell_cap * sizeof *hm->res);
    hm->pm = osmem_alloc(PM_CHUNK * sizeof *hm->pm);
    hm->shots = osmem_alloc(HEAPMAP_MAX_SHOTS * sizeof *hm->shots);
    hm->oreg = osmem_alloc(OSMEM_REGISTRY_MAX * sizeof *hm->oreg);
    hm->small.cap = SMALL_BYTES;
    hm->small.p = osmem_alloc(SMALL_BYTES);
    if (!hm->live || !hm->res || !hm->pm || !hm->shots || !hm->oreg || !hm->small.p) {
        heapmap_destroy(hm);
        diag_set(d, "out of memory for the heap map");
        return NULL;
    }
    /* The buffers written between the pagemap walk and the smaps_rollup read are faulted in
     * now: a page of ours faulted in between would count in one and not the other. */
    osmem_prefault(hm->pm, PM_CHUNK * sizeof *hm->pm);
    osmem_prefault(hm->small.p, SMALL_BYTES);
    return hm;
}

void heapmap_destroy(struct heapmap *hm)
{
    if (!hm) return;
    procfs_free(&hm->maps);
    procfs_free(&hm->small);
    osmem_free(hm->excl, hm->excl_cap * sizeof *hm->excl);
    osmem_free(hm->live, hm->cfg.cell_cap * sizeof *hm->live);
    osmem_free(hm->res, hm->cfg.cell_cap * sizeof *hm->res);
    osmem_free(hm->pm, PM_CHUNK * sizeof *hm->pm);
    osmem_free(hm->cell_base, hm->region_cap * sizeof *hm->cell_base);
    osmem_free(hm->shots, HEAPMAP_MAX_SHOTS * sizeof *hm->shots);
    osmem_free(hm->oreg, OSMEM_REGISTRY_MAX * sizeof *hm->oreg);
    osmem_free(hm->regions, hm->region_cap * sizeof *hm->regions);
    osmem_free(hm->text, hm->text_cap);
    osmem_free(hm, sizeof *hm);
}

/* ------------------------------------------------------------------------------------- */
/* Exclusions                                                                             */

/* Room for `more` exclusions; 0, or -1. Counts a move in *grown. */
static int excl_reserve(struct heapmap *hm, size_t more, unsigned *grown)
{
    if (hm->n_excl + more <= hm->excl_cap) return 0;
    size_t ncap = hm->excl_cap ? hm->excl_cap : 1024;
    while (ncap < hm->n_excl + more)
        ncap *= 2;
    void *p = osmem_realloc(hm->excl, hm->excl_cap * sizeof *hm->excl, ncap * sizeof *hm->excl);
    if (!p) return -1;
    hm->excl = p;
    hm->excl_cap = ncap;
    (*grown)++;
    return 0;
}

static void excl_add(struct heapmap *hm, uintptr_t lo, uintptr_t hi)
{
    if (hi > lo && hm->n_excl < hm->excl_cap)
        hm->excl[hm->n_excl++] = (struct heapmap_range){ lo, hi };
}

struct phdr_ctx {
    struct heapmap *hm;
    unsigned *grown;
};

/* Every loaded object's PT_LOAD segments, rounded out to pages. */
static int add_image(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct phdr_ctx *c = arg;
    struct heapmap *hm = c->hm;
    if (excl_reserve(hm, info->dlpi_phnum, c->grown) != 0) return 1;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = (uintptr_t)(info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(hm->page - 1);
        uintptr_t hi = (uintptr_t)(info->dlpi_addr + ph->p_vaddr + ph->p_memsz + hm->page - 1)
                       & ~(uintptr_t)(hm->page - 1);
        excl_add(hm, lo, hi);
    }
    return 0;
}

/* Insertion sort by start (a few hundred ranges; qsort may allocate), then merge. */
static void excl_sort(struct heapmap *hm)
{
    struct heapmap_range *e = hm->excl;
    for (size_t i = 1; i < hm->n_excl; i++) {
        struct heapmap_range x = e[i];
        size_t j = i;
        while (j > 0 && e[j - 1].lo > x.lo) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
    size_t k = 0;
    for (size_t i = 0; i < hm->n_excl; i++) {
        if (k > 0 && e[i].lo <= e[k - 1].hi) {
            if (e[i].hi > e[k - 1].hi) e[k - 1].hi = e[i].hi;
        } else {
            e[k++] = e[i];
        }
    }
    hm->n_excl = k;
}

/* Steps 1 and 2's reading: exclusions, then the maps, until neither moved our buffers. */
static int gather(struct heapmap *hm, const struct heapmap_range *excl, size_t n_excl)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned grown = 0;
        int complete = 1;
        hm->n_excl = 0;
        size_t got = osmem_regions(hm->oreg, OSMEM_REGISTRY_MAX, &complete);
        if (got > OSMEM_REGISTRY_MAX) got = OSMEM_REGISTRY_MAX;
        hm->registry_incomplete = !complete;
        if (excl_reserve(hm, got + n_excl + 64, &grown) != 0) return -1;
        for (size_t i = 0; i < got; i++)
            excl_add(hm, hm->oreg[i].start, hm->oreg[i].start + hm->oreg[i].bytes);
        for (size_t i = 0; i < n_excl; i++)
            excl_add(hm, excl[i].lo, excl[i].hi);
        struct phdr_ctx pc = { hm, &grown };
        dl_iterate_phdr(add_image, &pc);
        unsigned before = hm->maps.grown;
        if (procfs_read("/proc/self/smaps", &hm->maps) < 0) return -1;
        if (grown == 0 && hm->maps.grown == before) {
            excl_sort(hm);
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------------------- */
/* Regions and cells                                                                      */

static int region_reserve(struct heapmap *hm)
{
    if (hm->n_regions < hm->region_cap) return 0;
    size_t ncap = hm->region_cap ? hm->region_cap * 2 : 1024;
    struct heapmap_region *r =
            osmem_realloc(hm->regions, hm->region_cap * sizeof *r, ncap * sizeof *r);
    if (!r) return -1;
    hm->regions = r;
    size_t *cb = osmem_realloc(hm->cell_base, hm->region_cap * sizeof *cb, ncap * sizeof *cb);
    if (!cb) return -1;
    hm->cell_base = cb;
    hm->region_cap = ncap;
    return 0;
}

/* Is this mapping one the allocator may own: private, anonymous, not the stack or the
 * kernel's? Its kind, or -1. */
static int owned_kind(const struct procfs_vma *v)
{
    if (v->inode != 0 || v->prot[3] != 'p' || v->start >= USER_TOP) return -1;
    if (strcmp(v->name, "[heap]") == 0) return HEAPMAP_KIND_BRK;
    if (v->name[0] && strncmp(v->name, "[anon:", 6) != 0) return -1; /* files, [stack]... */
    if (v->prot[0] == '-' && v->prot[1] == '-' && v->prot[2] == '-') return HEAPMAP_KIND_RESERVED;
    return HEAPMAP_KIND_ANON;
}

static void add_region(struct heapmap *hm, const struct procfs_vma *v, int kind, uintptr_t lo,
                       uintptr_t hi)
{
    if (hi <= lo || region_reserve(hm) != 0) return;
    struct heapmap_region *r = &hm->regions[hm->n_regions++];
    memset(r, 0, sizeof *r);
    r->start = lo;
    r->bytes = hi - lo;
    memcpy(r->prot, v->prot, sizeof r->prot);
    r->kind = (enum heapmap_kind)kind;
    hm->cur->n_regions++;
    hm->cur->mapped_bytes += r->bytes;
}

/* The parts of [v->start, v->end) outside every exclusion become regions. */
static void split_vma(struct heapmap *hm, const struct procfs_vma *v, int kind)
{
    uintptr_t at = v->start;
    for (size_t i = 0; i < hm->n_excl && at < v->end; i++) {
        const struct heapmap_range *e = &hm->excl[i];
        if (e->hi <= at) continue;
        if (e->lo >= v->end) break;
        if (e->lo > at) add_region(hm, v, kind, at, e->lo);
        uintptr_t skip_to = e->hi < v->end ? e->hi : v->end;
        hm->cur->excluded_bytes += skip_to - (e->lo > at ? e->lo : at);
        at = skip_to;
    }
    if (at < v->end) add_region(hm, v, kind, at, v->end);
}

/* The smallest cell shift that keeps the snapshot within cell_cap cells. */
static void choose_cells(struct heapmap *hm)
{
    struct heapmap_shot *s = hm->cur;
    unsigned k = 0;
    for (;; k++) {
        size_t cells = 0;
        for (size_t i = 0; i < s->n_regions; i++) {
            uint64_t pages = hm->regions[s->first_region + i].bytes >> hm->page_shift;
            cells += (size_t)((pages + ((uint64_t)1 << k) - 1) >> k);
        }
        if (cells <= hm->cfg.cell_cap || k == MAX_CELL_SHIFT) {
            hm->n_cells = cells <= hm->cfg.cell_cap ? cells : 0;
            break;
        }
    }
    s->cell_shift = hm->page_shift + k;
    size_t base = 0;
    for (size_t i = 0; i < s->n_regions; i++) {
        size_t idx = s->first_region + i;
        hm->cell_base[idx] = base;
        uint64_t pages = hm->regions[idx].bytes >> hm->page_shift;
        base += (size_t)((pages + ((uint64_t)1 << k) - 1) >> k);
    }
    memset(hm->live, 0, hm->n_cells * sizeof *hm->live);
    memset(hm->res, 0, hm->n_cells * sizeof *hm->res);
}

void heapmap_begin(struct heapmap *hm, const char *label, uint64_t ops,
                   const struct heapmap_range *excl, size_t n_excl)
{
    hm->cur = NULL;
    if (hm->n_shots >= HEAPMAP_MAX_SHOTS) {
        hm->dropped++;
        snprintf(hm->why_dropped, sizeof hm->why_dropped, "more than %d snapshots",
                 HEAPMAP_MAX_SHOTS);
        return;
    }
    uint64_t t0 = clock_ns();
    if (gather(hm, excl, n_excl) != 0) {
        hm->dropped++;
        snprintf(hm->why_dropped, sizeof hm->why_dropped, "/proc/self/smaps: %s", strerror(errno));
        return;
    }
    struct heapmap_shot *s = &hm->shots[hm->n_shots];
    memset(s, 0, sizeof *s);
    s->label = label;
    s->ops = ops;
    s->resident_known = 1;
    s->first_region = hm->n_regions;
    if (hm->registry_incomplete)
        snprintf(s->note, sizeof s->note, "harness blocks not all known: some may show");
    hm->cur = s;
    hm->t0 = t0;
    struct procfs_vma v;
    for (const char *line = hm->maps.p; (line = procfs_maps_next(line, &v)) != NULL;) {
        int kind = owned_kind(&v);
        if (kind >= 0) split_vma(hm, &v, kind);
    }
    choose_cells(hm);
}

/* The region holding address p (binary search over the snapshot's sorted regions). */
static struct heapmap_region *find_region(struct heapmap *hm, uintptr_t p, size_t *idx)
{
    size_t lo = hm->cur->first_region, hi = lo + hm->cur->n_regions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct heapmap_region *r = &hm->regions[mid];
        if (p < r->start)
            hi = mid;
        else if (p >= r->start + r->bytes)
            lo = mid + 1;
        else {
            *idx = mid;
            return r;
        }
    }
    return NULL;
}

void heapmap_add(struct heapmap *hm, uintptr_t p, uint64_t size)
{
    struct heapmap_shot *s = hm->cur;
    if (!s) return;
    s->objects++;
    size_t idx;
    struct heapmap_region *r = find_region(hm, p, &idx);
    if (!r) {
        s->outside_bytes += size;
        return;
    }
    r->objects++;
    if (size > r->largest_bytes) r->largest_bytes = size;
    uint64_t off = p - r->start, end = off + size;
    if (end > r->bytes) {
        s->outside_bytes += end - r->bytes;
        end = r->bytes;
    }
    r->live_bytes += end - off;
    s->live_bytes += end - off;
    if (!hm->n_cells) return;
    unsigned shift = s->cell_shift;
    size_t base = hm->cell_base[idx];
    while (off < end) {
        uint64_t cell = off >> shift;
        uint64_t next = (cell + 1) << shift;
        uint64_t n = (next < end ? next : end) - off;
        hm->live[base + cell] += (uint32_t)n;
        off += n;
    }
}

/* ------------------------------------------------------------------------------------- */
/* Residency, the RSS check, classification and encoding                                 */

/* Does [lo, hi) overlap an exclusion (sorted, merged)? */
static int overlaps_excl(const struct heapmap *hm, uintptr_t lo, uintptr_t hi)
{
    size_t a = 0, b = hm->n_excl;
    while (a < b) { /* the first exclusion that ends after lo */
        size_t mid = a + (b - a) / 2;
        if (hm->excl[mid].hi <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    return a < hm->n_excl && hm->excl[a].lo < hi;
}

/*
 * Read the pagemap entries of every mapping once: count present anonymous and swapped pages
 * of all of them (the cross-check), and fill the cells of the regions. -1 when a read
 * failed (the residency is then unknown).
 */
static int read_pagemap(struct heapmap *hm, int fd)
{
    struct heapmap_shot *s = hm->cur;
    size_t ri = s->first_region, rend = s->first_region + s->n_regions;
    unsigned k = s->cell_shift - hm->page_shift;
    struct procfs_vma v;
    for (const char *line = hm->maps.p; (line = procfs_maps_next(line, &v)) != NULL;) {
        /* Skip what smaps found empty, but not harness memory: the snapshot itself may
         * have touched it since (the cell arrays), and the check would miss those pages. */
        if (v.start >= USER_TOP
            || (v.rss_bytes == 0 && v.swap_bytes == 0 && !overlaps_excl(hm, v.start, v.end)))
            continue;
        if (v.end - v.start > WALK_MAX_BYTES) {
            /* Reading 8 bytes a page of a reservation by the terabyte (AddressSanitizer's
             * shadow) would take minutes: its counts come from smaps, its cells stay
             * unknown. */
            s->check.pagemap_anon_bytes += v.anon_bytes;
            s->check.pagemap_swap_bytes += v.swap_bytes;
            while (ri < rend && hm->regions[ri].start < v.end) {
                if (hm->regions[ri].start >= v.start) hm->regions[ri].unwalked = 1;
                ri++;
            }
            s->unwalked++;
            continue;
        }
        uint64_t first = v.start >> hm->page_shift, pages = (v.end - v.start) >> hm->page_shift;
        for (uint64_t done = 0; done < pages;) {
            size_t want = pages - done < PM_CHUNK ? (size_t)(pages - done) : PM_CHUNK;
            ssize_t got = pread(fd, hm->pm, want * sizeof *hm->pm,
                                (off_t)((first + done) * sizeof *hm->pm));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0 || (size_t)got % sizeof *hm->pm) {
                if (got >= 0) errno = 0; /* a short read, not an error number */
                return -1;
            }
            size_t n = (size_t)got / sizeof *hm->pm;
            for (size_t j = 0; j < n; j++) {
                uint64_t e = hm->pm[j];
                uintptr_t a = (uintptr_t)(first + done + j) << hm->page_shift;
                /* The shared zero page, mapped by a read of untouched memory, is present but
                 * neither file-backed nor exclusive: it takes no memory, and smaps does not
                 * count it. Anonymous memory of ours is exclusive (the worker never forks). */
                if (!(e & PM_FILE) && !(e & PM_EXCLUSIVE)) e &= ~PM_PRESENT;
                if ((e & PM_PRESENT) && !(e & PM_FILE)) s->check.pagemap_anon_bytes += hm->page;
                if (e & PM_SWAPPED) s->check.pagemap_swap_bytes += hm->page;
                while (ri < rend && hm->regions[ri].start + hm->regions[ri].bytes <= a)
                    ri++;
                if (ri == rend || a < hm->regions[ri].start) continue;
                struct heapmap_region *r = &hm->regions[ri];
                if (e & PM_PRESENT) {
                    r->resident_bytes += hm->page;
                    s->resident_bytes += hm->page;
                    if (hm->n_cells)
                        hm->res[hm->cell_base[ri] + (((a - r->start) >> hm->page_shift) >> k)]++;
                }
                if (e & PM_SWAPPED) s->swapped_bytes += hm->page;
            }
            done += n;
        }
    }
    return 0;
}

static uint64_t diff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* statm and smaps_rollup, against each other and against the pagemap's counts. */
static void rss_check(struct heapmap *hm, uint64_t mappings)
{
    struct heapmap_check *c = &hm->cur->check;
    c->mappings = mappings;
    c->tolerance_bytes = mappings * hm->page;
    if (procfs_read("/proc/self/statm", &hm->small) < 0) return;
    c->statm_rss_bytes = procfs_statm_resident_pages(hm->small.p) * hm->page;
    if (procfs_read("/proc/self/smaps_rollup", &hm->small) < 0) return;
    if (procfs_field_kb(hm->small.p, "Rss", &c->rollup_rss_bytes) != 0
        || procfs_field_kb(hm->small.p, "Anonymous", &c->rollup_anon_bytes) != 0)
        return;
    procfs_field_kb(hm->small.p, "Private_Dirty", &c->rollup_dirty_bytes);
    procfs_field_kb(hm->small.p, "Swap", &c->rollup_swap_bytes);
    c->done = 1;
    c->agree = diff(c->statm_rss_bytes, c->rollup_rss_bytes) <= c->tolerance_bytes;
    if (hm->cur->resident_known)
        c->agree = c->agree
                   && diff(c->pagemap_anon_bytes, c->rollup_anon_bytes) <= c->tolerance_bytes
                   && diff(c->pagemap_swap_bytes, c->rollup_swap_bytes) <= c->tolerance_bytes;
}

static int text_put(struct heapmap *hm, const char *src, size_t n)
{
    if (hm->text_len + n > hm->text_cap) {
        size_t ncap = hm->text_cap ? hm->text_cap * 2 : 65536;
        while (ncap < hm->text_len + n)
            ncap *= 2;
        if (ncap > hm->cfg.text_cap) ncap = hm->cfg.text_cap;
        if (ncap < hm->text_len + n) return -1;
        char *p = osmem_realloc(hm->text, hm->text_cap, ncap);
        if (!p) return -1;
        hm->text = p;
        hm->text_cap = ncap;
    }
    memcpy(hm->text + hm->text_len, src, n);
    hm->text_len += n;
    return 0;
}

static int put_run(struct heapmap *hm, uint64_t count, char letter)
{
    char buf[24];
    int n = count > 1 ? snprintf(buf, sizeof buf, "%llu%c", (unsigned long long)count, letter)
                      : snprintf(buf, sizeof buf, "%c", letter);
    return text_put(hm, buf, (size_t)n);
}

/* Classify the cells of region `idx` into the snapshot's totals and encode them. */
static int encode_region(struct heapmap *hm, size_t idx, int encode)
{
    struct heapmap_shot *s = hm->cur;
    struct heapmap_region *r = &hm->regions[idx];
    unsigned k = s->cell_shift - hm->page_shift;
    uint64_t pages = r->bytes >> hm->page_shift;
    uint64_t cells = (pages + ((uint64_t)1 << k) - 1) >> k;
    size_t base = hm->cell_base[idx];
    char run_letter = 0;
    uint64_t run = 0;
    r->text_off = hm->text_len;
    for (uint64_t c = 0; c < cells; c++) {
        uint64_t in_cell =
                pages - (c << k) < ((uint64_t)1 << k) ? pages - (c << k) : ((uint64_t)1 << k);
        uint64_t cell_bytes = in_cell << hm->page_shift;
        uint64_t live = hm->live[base + c];
        unsigned bucket =
                live == 0 ? 0 : (unsigned)((live * HEAPMAP_BUCKETS + cell_bytes - 1) / cell_bytes);
        if (bucket > HEAPMAP_BUCKETS) bucket = HEAPMAP_BUCKETS;
        int residency =
                !s->resident_known || r->unwalked ? 2 : 2 * (uint64_t)hm->res[base + c] >= in_cell;
        int cls = residency == 0                 ? HEAPMAP_NOT_RESIDENT
                  : bucket == 0                  ? HEAPMAP_EMPTY
                  : bucket <= HEAPMAP_SPARSE_MAX ? HEAPMAP_SPARSE
                                                 : HEAPMAP_DENSE;
        s->cells[cls]++;
        if (!encode) continue;
        char letter = heapmap_letter(residency, bucket);
        if (letter == run_letter) {
            run++;
            continue;
        }
        if (run && put_run(hm, run, run_letter) != 0) return -1;
        run_letter = letter;
        run = 1;
    }
    if (encode && run && put_run(hm, run, run_letter) != 0) return -1;
    r->text_len = encode ? hm->text_len - r->text_off : 0;
    return 0;
}

void heapmap_end(struct heapmap *hm)
{
    struct heapmap_shot *s = hm->cur;
    if (!s) return;
    const char *path = hm->cfg.pagemap_path ? hm->cfg.pagemap_path : "/proc/self/pagemap";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read_pagemap(hm, fd) != 0) {
        size_t n = strlen(s->note);
        snprintf(s->note + n, sizeof s->note - n, "%s%s: %s: residency unknown", n ? "; " : "",
                 path, errno ? strerror(errno) : "short read");
        s->resident_known = 0;
        s->resident_bytes = s->swapped_bytes = 0;
        for (size_t i = 0; i < s->n_regions; i++)
            hm->regions[s->first_region + i].resident_bytes = 0;
    }
    if (fd >= 0) close(fd);
    if (s->unwalked) {
        size_t n = strlen(s->note);
        snprintf(s->note + n, sizeof s->note - n,
                 "%s%u mapping%s over %llu GiB: counted from smaps, cells' residency unknown",
                 n ? "; " : "", s->unwalked, s->unwalked == 1 ? "" : "s",
                 (unsigned long long)(WALK_MAX_BYTES >> 30));
    }
    uint64_t mappings = 0;
    struct procfs_vma v;
    for (const char *line = hm->maps.p; (line = procfs_maps_next(line, &v)) != NULL;)
        mappings++;
    rss_check(hm, mappings);
    if (!hm->n_cells)
        snprintf(s->note + strlen(s->note), sizeof s->note - strlen(s->note),
                 "%smore than %zu cells even at %u pages a cell: no cells", *s->note ? "; " : "",
                 hm->cfg.cell_cap, 1u << MAX_CELL_SHIFT);
    int encode = 1;
    size_t text_mark = hm->text_len;
    for (size_t i = 0; i < s->n_regions && hm->n_cells; i++) {
        if (encode_region(hm, s->first_region + i, encode) == 0) continue;
        /* Over the text cap: this snapshot keeps its totals, not its cells. */
        encode = 0;
        hm->text_len = text_mark;
        for (size_t j = 0; j < s->n_regions; j++)
            hm->regions[s->first_region + j].text_len = 0;
        memset(s->cells, 0, sizeof s->cells);
        i = (size_t)-1; /* classify again, without encoding */
        snprintf(s->note + strlen(s->note), sizeof s->note - strlen(s->note),
                 "%scells left out: the maps' text cap (%zu bytes) was reached",
                 *s->note ? "; " : "", hm->cfg.text_cap);
    }
    s->cost_ns = clock_ns() - hm->t0;
    hm->n_shots++;
    hm->cur = NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Reading the log                                                                        */

const struct heapmap_shot *heapmap_shots(const struct heapmap *hm, size_t *n)
{
    *n = hm->n_shots;
    return hm->shots;
}

const struct heapmap_region *heapmap_regions(const struct heapmap *hm)
{
    return hm->regions;
}

const char *heapmap_text(const struct heapmap *hm, const struct heapmap_region *r)
{
    return hm->text ? hm->text + r->text_off : "";
}

uint64_t heapmap_dropped(const struct heapmap *hm, const char **why)
{
    *why = hm->why_dropped;
    return hm->dropped;
}
