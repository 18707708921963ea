/*
 * inside/inside.h: looking inside the allocator that serves this process's malloc, whichever
 * it is (docs/inside.md):
 *   heap maps   every 4 KiB page of the anonymous memory the allocator owns: resident or
 *               not (/proc/self/pagemap), and how many bytes of live objects it holds (the
 *               caller names the live objects), plus the mappings themselves
 *               (/proc/self/smaps); RSS cross-checked against /proc/self/smaps_rollup
 *   statistics  the allocator's own introspection (found with dlsym at run time: no link
 *               dependency) mapped to one vocabulary of fields
 *   OS calls    counts of mmap, munmap, mremap, madvise, brk, futex and mprotect and the time
 *               spent in them, from a traced child process (ptrace + a seccomp filter)
 *
 * Nothing here calls malloc while a snapshot is taken: buffers come from util/osmem.h, and
 * /proc files are read with read(2). Memory from osmem is the harness's, and the heap maps
 * leave it out, as they leave out the ELF images' own pages and ranges the caller names
 * (thread stacks). JSON is built only by the *_json functions, after the measurement.
 *
 * Glossary: a "cell" is one page of a heap map, or 2^k pages when a map is downsampled; a
 * "region" is the part of one mapping (VMA) the allocator owns.
 */
#ifndef HEAPLAB_INSIDE_INSIDE_H
#define HEAPLAB_INSIDE_INSIDE_H

#include <stddef.h>
#include <stdint.h>

struct diag;
typedef struct cJSON cJSON;

/* ------------------------------------------------------------------------------------- */
/* Heap maps                                                                              */

#define HEAPMAP_BUCKETS    8                  /* live-byte buckets of a cell, 1..8 (0 = none) */
#define HEAPMAP_SPARSE_MAX 4                  /* buckets 1..4 (at most half live) are sparse */
#define HEAPMAP_CELL_CAP   ((size_t)1 << 20)  /* default cells per snapshot: 4 GiB of pages */
#define HEAPMAP_TEXT_CAP   ((size_t)12 << 20) /* default bytes of encoded maps, all snapshots */
#define HEAPMAP_MAX_SHOTS  512                /* snapshots kept; later ones are counted, dropped */
#define HEAPMAP_ENCODING   "heaplab.rle/1"

struct heapmap_config {
    size_t cell_cap;          /* cells per snapshot at most (0 = HEAPMAP_CELL_CAP) */
    size_t text_cap;          /* encoded bytes over all snapshots (0 = HEAPMAP_TEXT_CAP) */
    const char *pagemap_path; /* NULL = /proc/self/pagemap (tests name a file that fails) */
};

/* An address range [lo, hi) the caller wants left out of the maps (a thread's stack). */
struct heapmap_range {
    uintptr_t lo, hi;
};

enum heapmap_kind {
    HEAPMAP_KIND_BRK,      /* the [heap] mapping: memory from brk(2) */
    HEAPMAP_KIND_ANON,     /* an anonymous mapping (arena, segment, span, huge block) */
    HEAPMAP_KIND_RESERVED, /* an anonymous mapping without access (PROT_NONE): reserved */
};

/* One region of a snapshot: the allocator's part of one mapping. */
struct heapmap_region {
    uintptr_t start;         /* first byte, page-aligned */
    uint64_t bytes;          /* whole pages */
    char prot[5];            /* "rw-p" as /proc/self/maps shows it */
    enum heapmap_kind kind;  /* what the mapping is */
    uint64_t resident_bytes; /* pages present (pagemap), times the page size */
    uint64_t live_bytes;     /* requested bytes of live objects on its pages */
    uint64_t objects;        /* live objects that start in it */
    uint64_t largest_bytes;  /* the largest of them */
    int unwalked;            /* in a mapping too large to read the pagemap of: residency
                                unknown, resident_bytes 0 */
    size_t text_off;         /* its cells, run-length encoded, in the map's text */
    size_t text_len;         /* 0 when the text cap was reached */
};

/* /proc/self/statm and /proc/self/smaps_rollup against what the pagemap walk counted. */
struct heapmap_check {
    int done;                    /* the files were read */
    uint64_t statm_rss_bytes;    /* resident, as statm (the harness's RSS figures) says */
    uint64_t rollup_rss_bytes;   /* smaps_rollup Rss: a page-table walk */
    uint64_t rollup_anon_bytes;  /* smaps_rollup Anonymous */
    uint64_t rollup_dirty_bytes; /* smaps_rollup Private_Dirty */
    uint64_t rollup_swap_bytes;  /* smaps_rollup Swap */
    uint64_t pagemap_anon_bytes; /* present, not file-backed pages of every mapping */
    uint64_t pagemap_swap_bytes; /* swapped pages of every mapping */
    uint64_t mappings;           /* mappings in /proc/self/maps */
    uint64_t tolerance_bytes;    /* one page per mapping */
    int agree;                   /* every pair within the tolerance */
};

/* One snapshot: totals, the regions, and where its encoded cells are. */
struct heapmap_shot {
    const char *label;       /* the mark, "every", "peak-live" or "end" (static text) */
    uint64_t ops;            /* ops the snapshotting thread had run */
    uint64_t cost_ns;        /* time the snapshot took */
    unsigned cell_shift;     /* log2 of a cell's bytes: 12 = a page */
    int resident_known;      /* the pagemap was read */
    uint64_t mapped_bytes;   /* sum of the regions */
    uint64_t resident_bytes; /* their pages present */
    uint64_t swapped_bytes;  /* their pages swapped out */
    uint64_t live_bytes;     /* requested bytes of live objects inside the regions */
    uint64_t outside_bytes;  /* requested bytes of live objects outside every region */
    uint64_t objects;        /* live objects named */
    uint64_t excluded_bytes; /* anonymous bytes left out: harness, images, ranges given */
    uint64_t cells[4];       /* cells not resident, resident empty, sparse, dense */
    size_t first_region;     /* its regions in the map's region array */
    size_t n_regions;
    struct heapmap_check check; /* RSS cross-check */
    unsigned unwalked;          /* mappings counted from smaps, not the pagemap */
    char note[192];             /* what went wrong (pagemap unreadable, text cap), or "" */
};

enum { HEAPMAP_NOT_RESIDENT, HEAPMAP_EMPTY, HEAPMAP_SPARSE, HEAPMAP_DENSE };

struct heapmap;

/* A map log with its scratch memory (osmem); NULL with `d` filled. */
struct heapmap *heapmap_create(const struct heapmap_config *cfg, struct diag *d);
void heapmap_destroy(struct heapmap *hm);

/*
 * Take a snapshot, in three steps, while no thread allocates or frees:
 *   heapmap_begin  reads /proc/self/maps and chooses the cells; `excl` are ranges to leave
 *                  out besides the harness's (osmem) and the ELF images'; `label` is kept
 *                  as a pointer (static text)
 *   heapmap_add    once per live object: its address and requested size
 *   heapmap_end    reads the pagemap and the RSS files, classifies and encodes the cells
 * A snapshot that cannot be taken at all (the maps unreadable, HEAPMAP_MAX_SHOTS reached)
 * is counted and noted (heapmap_json); a failed pagemap read leaves the residency unknown
 * and says so in the snapshot's note. Neither is an error: the run goes on.
 */
void heapmap_begin(struct heapmap *hm, const char *label, uint64_t ops,
                   const struct heapmap_range *excl, size_t n_excl);
void heapmap_add(struct heapmap *hm, uintptr_t p, uint64_t size);
void heapmap_end(struct heapmap *hm);

/* The snapshots taken so far; *n gets their number. Valid until the next snapshot. */
const struct heapmap_shot *heapmap_shots(const struct heapmap *hm, size_t *n);
const struct heapmap_region *heapmap_regions(const struct heapmap *hm);
/* The encoded text of region `r` (not NUL-terminated: r->text_len bytes). */
const char *heapmap_text(const struct heapmap *hm, const struct heapmap_region *r);

/* Snapshots that could not be taken, and why the last one could not ("" if none). */
uint64_t heapmap_dropped(const struct heapmap *hm, const char **why);

/* The "heapmap" section of a run (docs/results.md); caller frees. */
cJSON *heapmap_json(const struct heapmap *hm, uint64_t every_ops);

/*
 * Snapshot `s` of `hm` as one line of JSON on `fd` (heapmap_stream.c), while the pass runs:
 * the fields of a results snapshot less `rss_check`. Calls no malloc. 0, or -1 with errno
 * when a write failed.
 */
int heapmap_shot_write(const struct heapmap *hm, const struct heapmap_shot *s, int fd);

/*
 * A cell's code: residency (0 not resident, 1 resident, 2 unknown) and live-byte bucket
 * (0 none, else ceil(8 * live / cell bytes)), and its letter in the encoding: 'A'+bucket
 * not resident, 'a'+bucket resident, 'p'+bucket unknown. A run is the decimal count
 * (omitted when 1) followed by the letter.
 */
static inline char heapmap_letter(int residency, unsigned bucket)
{
    return (char)((residency == 0 ? 'A' : residency == 1 ? 'a' : 'p') + (int)bucket);
}

/* ------------------------------------------------------------------------------------- */
/* Allocator statistics in one vocabulary                                                 */

#define ASTATS_NULL        (-1) /* a field the allocator does not expose */
#define ASTATS_MAX_CLASSES 128
#define ASTATS_MAX_RAW     24

enum astats_source {
    ASTATS_NONE,     /* no introspection found: "not exposed" */
    ASTATS_GLIBC,    /* mallinfo2 */
    ASTATS_JEMALLOC, /* mallctl */
    ASTATS_TCMALLOC, /* MallocExtension_GetNumericProperty, MallocExtension_GetStats */
    ASTATS_MIMALLOC, /* mi_process_info, mi_heap_visit_blocks */
    ASTATS_HLMALLOC, /* hl_stats */
};

/* One size class, where the allocator exposes them. ASTATS_NULL = not exposed. */
struct astats_class {
    int64_t size_bytes;   /* block size of the class */
    int64_t objects_live; /* blocks handed out (jemalloc: tcache'd ones included) */
    int64_t objects_free; /* free blocks cached for the class (tcmalloc's free lists) */
    int64_t slabs;        /* slabs / pages / spans holding the class */
    int64_t slab_bytes;   /* their bytes */
    int64_t capacity;     /* blocks they hold */
    int64_t requests;     /* allocation requests of the class (jemalloc) */
    int64_t fills;        /* thread-cache fills, one per miss (jemalloc) */
};

/* One value as the allocator named it, for checking the mapping. */
struct astats_raw {
    const char *name; /* static text: "mallinfo2.uordblks", "stats.active" */
    int64_t value;
};

/* A snapshot of the statistics. Every int64_t field is bytes, or ASTATS_NULL. */
struct astats {
    enum astats_source source;
    int64_t allocated_bytes;    /* in blocks handed out and not freed, as the allocator counts */
    int64_t active_bytes;       /* in pages (slabs, spans) that hold a live block */
    int64_t resident_bytes;     /* resident in RAM, by the allocator's own estimate */
    int64_t mapped_bytes;       /* mapped from the OS and usable (not released) */
    int64_t retained_bytes;     /* freed and kept without being returned to the OS */
    int64_t metadata_bytes;     /* the allocator's own bookkeeping */
    int64_t thread_cache_bytes; /* free blocks held in per-thread caches (part of retained) */
    int64_t free_pages_bytes;   /* pages without live blocks kept (dirty, free spans): the
                                   part of retained outside active, where exposed */
    unsigned n_classes;
    struct astats_class classes[ASTATS_MAX_CLASSES];
    unsigned n_raw;
    struct astats_raw raw[ASTATS_MAX_RAW];
    char note[160]; /* why a field is missing ("jemalloc built without statistics"), or "" */
};

/* The functions found for the malloc in use (dlsym), and how to read them. */
struct astats_src {
    enum astats_source source;
    const char *name;    /* "mallinfo2", "mallctl", ... or "none" */
    void (*fn[3])(void); /* the entry points (private to astats.c) */
    char provider[128];  /* the file that defines malloc (its path, cut at 127 bytes) */
};

/*
 * Find the statistics functions of the malloc this process uses: only functions defined in
 * the same object as `malloc` count (with jemalloc preloaded, glibc's mallinfo2 describes
 * an arena nobody uses). Never fails: without any, source is ASTATS_NONE.
 */
void astats_open(struct astats_src *src);

/*
 * Read the statistics into `out` (refreshing them first where the allocator needs it:
 * jemalloc's epoch). May call the allocator, which may allocate: take heap maps first.
 * For mimalloc, per-thread heaps are visited by astats_thread on each thread, then merged.
 */
void astats_read(const struct astats_src *src, struct astats *out);

/* The part of the statistics only a thread can read of itself (mimalloc's heap), added
 * into `part` (which astats_clear cleared); then astats_merge adds each part into a read. */
void astats_clear(struct astats *part);
void astats_thread(const struct astats_src *src, struct astats *part);
void astats_merge(struct astats *out, const struct astats *part);
/* After the parts are merged: retained, where the allocator has no figure of its own, is
 * active - allocated (free blocks in pages that hold live ones) + free_pages_bytes. */
void astats_finish(struct astats *st);

/* One statistics snapshot as JSON (docs/results.md, "alloc_stats"); caller frees. */
cJSON *astats_json(const struct astats_src *src, const struct astats *st);

/* ------------------------------------------------------------------------------------- */
/* OS calls, counted by tracing a child process                                           */

enum oscall {
    OSCALL_MMAP,
    OSCALL_MUNMAP,
    OSCALL_MREMAP,
    OSCALL_MADVISE,
    OSCALL_BRK,
    OSCALL_FUTEX,
    OSCALL_MPROTECT,
    OSCALL_COUNT
};

#define OSCOUNT_ADVICE_MAX 32 /* madvise advice values counted one by one (0..31) */
#define OSCOUNT_FUTEX_OPS  16 /* futex operations (op & FUTEX_CMD_MASK) */

struct oscount_stat {
    uint64_t count;
    uint64_t errors;  /* calls that returned an error */
    uint64_t time_ns; /* inside the call, the tracing's own cost (floor) subtracted */
    uint64_t bytes;   /* length argument (mmap, munmap, madvise, mprotect), new size (mremap),
                         |change| of the break (brk) */
};

struct oscount_set {
    struct oscount_stat call[OSCALL_COUNT];
    struct oscount_stat advice[OSCOUNT_ADVICE_MAX];  /* madvise by advice */
    struct oscount_stat futex_op[OSCOUNT_FUTEX_OPS]; /* futex by operation */
};

struct oscount_result {
    int status;                    /* 0 counted; -1 tracing unavailable (note says why) */
    struct oscount_set pass;       /* calls of the pass's threads inside their windows */
    struct oscount_set background; /* calls of threads the harness did not start (the
                                      allocator's own), while the pass ran */
    uint64_t floor_ns;             /* median time of a traced null call, subtracted from each */
    uint64_t pass_ns;              /* the pass's wall time, traced */
    uint64_t minor_faults;         /* page faults of the child over the pass (getrusage) */
    uint64_t major_faults;
    uint64_t threads; /* threads traced */
    char note[256];
};

/*
 * Markers the traced function issues (a madvise of length 0 at a magic address, which the
 * kernel answers at once and the tracer recognizes): a thread's counting window opens at
 * BEGIN and closes at END; HARNESS says the calling thread is the harness's (its calls
 * outside a window are never counted). Outside a traced child they are harmless no-ops.
 */
enum oscount_marker { OSCOUNT_BEGIN = 1, OSCOUNT_END, OSCOUNT_HARNESS, OSCOUNT_CALIBRATE };
void oscount_marker(enum oscount_marker m);

/*
 * Fork; in the child, be traced (ptrace), send the counted calls to the tracer (a seccomp
 * filter returning SECCOMP_RET_TRACE for them only), calibrate, run fn(arg) and _exit(0)
 * (fn runs in the child only). The child's page faults over fn are counted too. The
 * parent traces every thread of the child and fills `out`. Returns 0; -1 with `d` filled
 * only when the child could not be forked. A child that cannot be traced gives
 * out->status -1 with the reason in out->note.
 */
int oscount_run(void (*fn)(void *arg), void *arg, struct oscount_result *out, struct diag *d);

/* The name of a call ("mmap"), an madvise advice ("dontneed", or NULL if unnamed), a futex
 * operation ("wait"). */
const char *oscount_call_name(enum oscall c);
const char *oscount_advice_name(unsigned advice);
const char *oscount_futex_name(unsigned op);

/* The "os_calls" section of a run (docs/results.md); caller frees. */
cJSON *oscount_json(const struct oscount_result *r);

#endif
