/*
 * inside/procfs.h: reading /proc files without malloc (private to src/inside).
 */
#ifndef HEAPLAB_INSIDE_PROCFS_H
#define HEAPLAB_INSIDE_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* A growing buffer of osmem memory. */
struct procfs_buf {
    char *p;
    size_t cap;
    unsigned grown; /* times it was (re)mapped: the caller's maps may then be stale */
};

/* Read the whole file at `path` into b->p, NUL-terminated; its length, or -1 with errno. */
long procfs_read(const char *path, struct procfs_buf *b);
void procfs_free(struct procfs_buf *b);

/* One mapping of /proc/PID/smaps: its maps line and the fields heap maps use. */
struct procfs_vma {
    uintptr_t start, end;
    char prot[5];        /* "rw-p" */
    uint64_t inode;      /* 0 for anonymous memory */
    char name[64];       /* path or "[heap]", "[stack]", "[anon:NAME]"; "" for anonymous */
    uint64_t rss_bytes;  /* its Rss field (0 when the text is maps, not smaps) */
    uint64_t swap_bytes; /* its Swap field */
    uint64_t anon_bytes; /* its Anonymous field */
};

/* Parse the mapping at `s` (a maps line, then smaps' field lines if any) into `v`; the next
 * mapping, or NULL at the end. */
const char *procfs_maps_next(const char *s, struct procfs_vma *v);

/* The "Key:   123 kB" field of a smaps-like text, in bytes: 0, or -1 when absent. */
int procfs_field_kb(const char *text, const char *key, uint64_t *bytes);

/* The resident pages of a /proc/PID/statm text (its second number). */
uint64_t procfs_statm_resident_pages(const char *text);

#endif
