/*
 * lab/paint.c: the cell map painter (see heaplab/lab.h).
 *
 * Ranges arrive in address order. Bytes accumulate per kind in the current cell; when a range
 * crosses into the next cell, the finished cell takes the kind that covers most of its bytes
 * (ties go to the higher code: waste over meta over used over free, so a cell holding a header
 * and a few requested bytes shows as much as possible of what is not plain free space). Whole
 * cells inside one range are written directly, so painting costs O(ranges + cells).
 */
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"

uint32_t lab_cells_for(size_t arena_size)
{
    size_t n = arena_size / LAB_CELL_BYTES;
    return n > LAB_MAX_CELLS ? LAB_MAX_CELLS : (uint32_t)n;
}

void lab_paint_begin(struct lab_paint *p, uint8_t *cells, size_t arena_size)
{
    memset(p, 0, sizeof *p);
    p->cells = cells;
    p->ncells = lab_cells_for(arena_size);
    p->cell_bytes = arena_size / p->ncells;
    p->arena_size = arena_size;
}

void lab_paint_set_requests(struct lab_paint *p, const struct lab_request *req, size_t n)
{
    p->req = req;
    p->nreq = n;
    p->ireq = 0;
}

static void fail(struct lab_paint *p, const char *what, uint64_t off, uint64_t len)
{
    if (p->error) return;
    p->error = 1;
    snprintf(p->why, sizeof p->why, "%s: range at %llu (+%llu), expected %llu", what,
             (unsigned long long)off, (unsigned long long)len, (unsigned long long)p->pos);
}

static void flush_cell(struct lab_paint *p)
{
    unsigned best = 0;
    for (unsigned k = 1; k < 4; k++)
        if (p->acc[k] >= p->acc[best]) best = k;
    if (p->cur_cell < p->ncells) p->cells[p->cur_cell] = (uint8_t)best;
    memset(p->acc, 0, sizeof p->acc);
    p->cur_cell++;
}

void lab_paint_range(struct lab_paint *p, uint64_t off, uint64_t len, enum lab_cell kind)
{
    if (len == 0 || p->error) return;
    if (off != p->pos) {
        fail(p, "gap or overlap", off, len);
        return;
    }
    if (len > p->arena_size - off) {
        fail(p, "past the arena", off, len);
        return;
    }
    p->pos = off + len;
    p->bytes[kind] += len;
    p->ranges++;
    if (kind == LAB_FREE) {
        p->run += len;
    } else if (p->run != 0) {
        p->free_runs++;
        if (p->run > p->largest_run) p->largest_run = p->run;
        p->run = 0;
    }
    uint64_t end = off + len;
    while (off < end) {
        uint64_t cell_end = (p->cur_cell + 1) * p->cell_bytes;
        if (off == p->cur_cell * p->cell_bytes && end >= cell_end) {
            /* Whole cells. */
            uint64_t whole = (end - off) / p->cell_bytes;
            memset(p->cells + p->cur_cell, kind, whole);
            p->cur_cell += whole;
            off += whole * p->cell_bytes;
            continue;
        }
        uint64_t take = (end < cell_end ? end : cell_end) - off;
        p->acc[kind] += take;
        off += take;
        if (off == cell_end) flush_cell(p);
    }
}

void lab_paint_block(struct lab_paint *p, uint64_t off, uint64_t usable)
{
    uint64_t req = usable;
    while (p->ireq < p->nreq && p->req[p->ireq].off < off)
        p->ireq++;
    if (p->ireq < p->nreq && p->req[p->ireq].off == off) {
        if (p->req[p->ireq].requested < usable) req = p->req[p->ireq].requested;
        p->ireq++;
    }
    lab_paint_range(p, off, req, LAB_USED);
    lab_paint_range(p, off + req, usable - req, LAB_WASTE);
}

int lab_paint_end(struct lab_paint *p)
{
    if (p->run != 0) {
        p->free_runs++;
        if (p->run > p->largest_run) p->largest_run = p->run;
        p->run = 0;
    }
    if (!p->error && p->pos != p->arena_size) fail(p, "arena not covered", p->pos, 0);
    if (p->acc[0] | p->acc[1] | p->acc[2] | p->acc[3]) flush_cell(p);
    return p->error ? -1 : 0;
}

double lab_paint_frag(const struct lab_paint *p)
{
    uint64_t f = p->bytes[LAB_FREE];
    if (f == 0) return 0.0;
    return 1.0 - (double)p->largest_run / (double)f;
}
