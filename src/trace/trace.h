/*
 * trace/trace.h: malloc traces in the heaplab.trace/1 format (docs/traces.md): reading them,
 * and writing them from a list of events (tests, synthetic traces).
 *
 * A trace file is what one process image recorded through libheaplab-trace.so (shim/): a
 * header (program, arguments, pids, start time, machine, the recorder's settings), then
 * self-contained chunks, each holding the events of one thread. Every event carries a global
 * sequence number from one atomic counter: an allocation takes its number after the real
 * call returned, a free (and the free half of a realloc) before the real call, so for any
 * address its allocation's number is below its free's, even across threads. The numbers are
 * unique and increasing in each thread, with gaps.
 *
 * Reading. trace_open() checks the header and then every chunk (checksums, and a full decode
 * of the events), so what iteration later delivers is known to be well formed and the
 * counters of trace_status() are final before the first event is read:
 *   - a file that ends inside a chunk is read up to its last whole chunk (`truncated`);
 *   - a chunk whose checksum or contents are bad is skipped, and so is a stretch of bytes that
 *     is not a chunk; the reader resynchronises on the next chunk marker (`corrupt_chunks`);
 *   - a chunk of a thread that repeats sequence numbers already seen for that thread (a
 *     chunk written twice when a signal interrupted its write) is dropped (`duplicate_chunks`).
 * Only a file without a usable header is an error: unreadable, empty, foreign (bad magic),
 * another major version, or a header whose checksum or fields are bad.
 *
 * Iteration is in file order (chunk after chunk, each chunk's events in order: per thread
 * that is program order) or in sequence order (the threads' streams merged by sequence
 * number: the global order in which the calls took effect, what a replayer or an analysis of
 * live memory needs). Memory: the file is mmap'd; the reader keeps an index of its chunks
 * (about 64 bytes per chunk) and, in sequence order, one decoding cursor per thread.
 *
 * The reader never prints or exits and is meant to survive any input (it is fuzzed:
 * tests/fuzz/fuzz_trace.c). Not thread-safe: one reader per thread.
 */
#ifndef HEAPLAB_TRACE_TRACE_H
#define HEAPLAB_TRACE_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct diag;

#define TRACE_FORMAT        "heaplab.trace/1"
#define TRACE_VERSION_MAJOR 1
#define TRACE_VERSION_MINOR 0

/* What an event records. The numbers are part of the file format (at most 15). */
enum trace_kind {
    TRACE_MALLOC = 1,              /* malloc(size) -> result */
    TRACE_CALLOC = 2,              /* calloc(count, size) -> result */
    TRACE_REALLOC = 3,             /* realloc(ptr, size) -> result */
    TRACE_REALLOCARRAY = 4,        /* reallocarray(ptr, count, size) -> result */
    TRACE_POSIX_MEMALIGN = 5,      /* posix_memalign(&result, align, size) -> value (0 or errno) */
    TRACE_ALIGNED_ALLOC = 6,       /* aligned_alloc(align, size) -> result */
    TRACE_MEMALIGN = 7,            /* memalign(align, size) -> result */
    TRACE_VALLOC = 8,              /* valloc(size) -> result */
    TRACE_PVALLOC = 9,             /* pvalloc(size) -> result */
    TRACE_FREE = 10,               /* free(ptr) */
    TRACE_FREE_SIZED = 11,         /* free_sized(ptr, size) */
    TRACE_FREE_ALIGNED_SIZED = 12, /* free_aligned_sized(ptr, align, size) */
    TRACE_THREAD = 13,             /* a thread's first event: value = its OS thread id */
    TRACE_MARK = 14,               /* a lifecycle mark: mark = enum trace_mark, value below */
};
#define TRACE_KIND_MAX 14

enum trace_mark {
    TRACE_MARK_FORK = 1,        /* fork() returned in the parent; value = the child's pid */
    TRACE_MARK_EXEC_FAILED = 2, /* an exec* call returned; value = errno */
    TRACE_MARK_THREAD_EXIT = 3, /* the thread is exiting (its last buffered event) */
};

/* trace_event.flags */
#define TRACE_F_NULL       0x1 /* result is NULL (an allocation failed); for frees: ptr NULL */
#define TRACE_F_ZERO_FREED 0x2 /* realloc(ptr, 0) freed ptr and returned NULL (glibc does) */

/* One decoded event. Fields a kind does not use are 0 (count is 1 when unused). */
struct trace_event {
    uint64_t seq;    /* global sequence number (the free half's, for realloc*) */
    uint64_t seq2;   /* realloc*: the allocation half's number (> seq); otherwise = seq */
    uint64_t ns;     /* CLOCK_MONOTONIC time of the call, ns */
    uint64_t ptr;    /* free*: the pointer freed; realloc*: the old pointer */
    uint64_t result; /* the pointer returned (0 = NULL) */
    uint64_t size;   /* bytes requested (per element for calloc and reallocarray) */
    uint64_t count;  /* calloc, reallocarray: number of elements; otherwise 1 */
    uint64_t align;  /* posix_memalign, aligned_alloc, memalign, free_aligned_sized */
    uint64_t value;  /* THREAD: OS tid; MARK: see enum trace_mark; posix_memalign: its return */
    uint32_t thread; /* dense thread index in this process, 0 = the first thread seen */
    uint32_t tid;    /* OS thread id of `thread` */
    uint16_t kind;   /* enum trace_kind */
    uint16_t flags;  /* TRACE_F_* */
    uint32_t mark;   /* MARK: enum trace_mark */
};

/* The header: what the recorder knew about the process. Strings are "" when not recorded. */
struct trace_header {
    unsigned version_major, version_minor;
    const char *program;     /* the executable (/proc/self/exe) */
    unsigned argc;           /* the arguments (/proc/self/cmdline) */
    const char *const *argv; /* argv[0..argc), argv[argc] = NULL */
    int argv_truncated;      /* the command line was longer than the recorder keeps */
    uint64_t pid, ppid;
    uint64_t start_realtime_ns; /* CLOCK_REALTIME when recording started */
    uint64_t start_mono_ns;     /* CLOCK_MONOTONIC at the same moment (events use this clock) */
    const char *sysname, *nodename, *release, *version, *machine; /* uname(2) */
    uint64_t buffer_bytes;   /* recorder: bytes of events per thread buffer (one chunk) */
    const char *writer;      /* recorder: who writes chunks ("thread": the filling thread) */
    const char *clock;       /* recorder: event time source ("tsc" or "monotonic") */
    const char *recorder;    /* recorder name and version */
    const char *next_malloc; /* the library whose malloc was recorded (the one after the shim) */
    uint64_t session;        /* the `heaplab record` run that started it (0 if none) */
    int forked;              /* this process is a fork child that started a fresh file */
    uint64_t fork_seq;       /* ... and the parent's sequence counter at the fork */
    uint64_t page_size, pointer_bytes;
};

/* Why recording stopped, from the end record the recorder writes last. */
enum trace_end_reason {
    TRACE_END_NONE = 0,   /* no end record: the process was killed, or is still running */
    TRACE_END_EXIT = 1,   /* exit() or return from main */
    TRACE_END__EXIT = 2,  /* _exit() or _Exit() */
    TRACE_END_SIGNAL = 3, /* a fatal signal (end.signal) */
    TRACE_END_EXEC = 4,   /* an exec* call (the new image writes its own file) */
};

struct trace_status {
    uint64_t file_bytes;
    uint64_t chunks;           /* whole, valid event chunks */
    uint64_t events;           /* events in them */
    uint32_t threads;          /* distinct threads in them */
    int truncated;             /* the file ends inside a chunk: read up to the last whole one */
    uint64_t corrupt_chunks;   /* chunks (or stretches of non-chunk bytes) skipped */
    uint64_t skipped_bytes;    /* bytes skipped in them */
    uint64_t duplicate_chunks; /* chunks dropped because their events were already seen */
    struct {
        unsigned reason;  /* enum trace_end_reason (of the last end record) */
        int signal;       /* TRACE_END_SIGNAL: the signal */
        uint64_t events;  /* events the recorder wrote */
        uint64_t chunks;  /* chunks the recorder wrote */
        uint64_t dropped; /* events it could not record (no thread slot left) */
        uint64_t threads; /* threads it saw */
        uint64_t ns;      /* CLOCK_MONOTONIC when it was written */
    } end;
};

/*
 * The damage of a trace as one line for a person, without the file name: "truncated: read
 * up to its last whole chunk (N events)", "N corrupt chunk(s) skipped (B bytes)", or both;
 * "" when the file is whole. Every command that reads a trace says it in these words.
 */
void trace_damage_format(const struct trace_status *st, char *buf, size_t n);

/* A thread: its index, OS tid (from its chunks) and number of events. */
struct trace_thread {
    uint32_t index;
    uint32_t tid;
    uint64_t events;
    uint64_t chunks;
};

enum trace_order {
    TRACE_ORDER_FILE = 0, /* chunk after chunk as stored */
    TRACE_ORDER_SEQ = 1,  /* merged by sequence number */
};

struct trace_reader;

/* Open a trace file (mmap'd). 0, or -1 with `d` saying why in one line, the path first:
 * "PATH: corrupt header (checksum mismatch)". */
int trace_open(struct trace_reader **out, const char *path, struct diag *d);

/* The same over `len` bytes at `data`, which must stay valid until trace_close(); `d` holds
 * the reason alone. */
int trace_open_mem(struct trace_reader **out, const void *data, size_t len, struct diag *d);

void trace_close(struct trace_reader *r);

const struct trace_header *trace_header(const struct trace_reader *r);
const struct trace_status *trace_status(const struct trace_reader *r);

/* The threads, by index; *n is set to their number. */
const struct trace_thread *trace_threads(const struct trace_reader *r, size_t *n);

/* Start (again) from the first event, in `order`. A new reader starts in file order. */
void trace_rewind(struct trace_reader *r, enum trace_order order);

/* The next event into *ev: 1, or 0 at the end. */
int trace_next(struct trace_reader *r, struct trace_event *ev);

/* Call fn for every event from the start in `order` until it returns non-zero, which is
 * then returned; 0 when all events were seen. */
int trace_foreach(struct trace_reader *r, enum trace_order order,
                  int (*fn)(const struct trace_event *ev, void *arg), void *arg);

/* "malloc", "free", ... ("?" for an unknown kind); "fork", ... for marks. */
const char *trace_kind_name(unsigned kind);
const char *trace_mark_name(unsigned mark);
const char *trace_end_name(unsigned reason);

/* Does the event allocate (returns a block: result, when not NULL) or release `ptr`?
 * realloc does both when it succeeds with a non-NULL ptr. */
int trace_event_allocates(const struct trace_event *ev);
int trace_event_releases(const struct trace_event *ev);

/* Bytes an allocating event asked for (count x size, saturated). */
uint64_t trace_event_bytes(const struct trace_event *ev);

/* ------------------------------------------------------------------------------------- */
/* Statistics (`heaplab trace info`)                                                      */

#define TRACE_HIST_BUCKETS 65 /* bucket 0: the value 0; bucket k >= 1: [2^(k-1), 2^k) */

/* Bucket of a value in the power-of-two histograms below. */
unsigned trace_hist_bucket(uint64_t v);

/*
 * What a pass over the events in sequence order finds. "Live" is requested bytes of blocks
 * allocated and not yet released. An event index is an event's position in sequence order
 * (0 = the first event); times are ns since the header's start_mono_ns.
 */
struct trace_stats {
    uint64_t events;
    uint64_t by_kind[TRACE_KIND_MAX + 1];
    uint64_t allocations;        /* blocks returned (malloc ... pvalloc, realloc*) */
    uint64_t releases;           /* blocks released (free*, realloc* of a non-NULL pointer) */
    uint64_t free_null;          /* free*(NULL) */
    uint64_t failures;           /* allocating calls that returned NULL (not realloc(p, 0)) */
    uint64_t zero_frees;         /* realloc*(p, 0) that freed p and returned NULL */
    uint64_t realloc_in_place;   /* realloc* that returned its own pointer */
    uint64_t bytes_requested;    /* sum of the sizes of allocating calls */
    uint64_t cross_thread_frees; /* releases (free or realloc) on another thread than the
                                  * allocation */
    uint64_t unknown_frees;      /* releases of pointers the trace never returned (allocated
                                  * before recording started, or not by malloc) */
    uint64_t reused_live;        /* an allocation returned an address that was still live */
    uint64_t forks, exec_failures, thread_exits;
    uint64_t live_bytes, live_objects; /* at the end */
    uint64_t peak_live_bytes, peak_live_objects;
    uint64_t peak_event; /* where the peak was first reached */
    uint64_t peak_ns;
    uint64_t first_ns, last_ns;                    /* of the first and last events */
    uint64_t size_hist[TRACE_HIST_BUCKETS];        /* requested bytes of allocating calls */
    uint64_t life_events_hist[TRACE_HIST_BUCKETS]; /* released blocks: events in between */
    uint64_t life_ns_hist[TRACE_HIST_BUCKETS];     /* released blocks: ns in between */
};

/* One pass over r in sequence order (the reader is rewound). 0, or -1 with `d` filled. */
int trace_stats(struct trace_reader *r, struct trace_stats *s, struct diag *d);

/* ------------------------------------------------------------------------------------- */
/* Recordings: the files of one `heaplab record` run                                      */

/*
 * One `heaplab record` run writes a file per process image: FILE for the first, FILE.<pid>
 * (or FILE.<pid>.<n>) for fork children and exec'd images, all in one directory and all with
 * the run's session number in their header. Through a wrapper (env, a shell that execs, a
 * version manager's shim) FILE is the wrapper's and the program is in a FILE.<pid>.
 */
struct trace_file {
    char name[256];             /* the file's name in the recording's directory */
    char program[256];          /* base name of its argv[0] (of the executable without one) */
    uint64_t pid, ppid;         /* of the process image */
    uint64_t start_mono_ns;     /* when it started recording (the files' order) */
    int forked;                 /* a fork child's file */
    struct trace_status status; /* events, threads, bytes, damage, end */
};

struct trace_recording {
    uint64_t session;         /* 0: recorded without `heaplab record`: one file alone */
    struct trace_file *files; /* by start, the first process first */
    size_t n;
};

/*
 * The readable trace files in `dir` named `base` or `base`.SUFFIX whose header has
 * `session`. 0, or -1 with `d` filled when the directory cannot be read or memory runs out.
 * Release with trace_recording_fini().
 */
int trace_recording_read(struct trace_recording *rec, const char *dir, const char *base,
                         uint64_t session, struct diag *d);

/*
 * The recording the trace at `path` belongs to: the files in its directory with its session
 * whose names start with its name less any trailing ".<digits>" parts (py.trace.4242 ->
 * py.trace). A trace with session 0, or in a directory that cannot be listed, is a recording
 * of its own. 0, or -1 with `d` filled ("PATH: reason" when `path` itself cannot be read).
 */
int trace_recording_find(struct trace_recording *rec, const char *path, struct diag *d);

void trace_recording_fini(struct trace_recording *rec);

/* ------------------------------------------------------------------------------------- */
/* Writing (tests and synthetic traces; the recorder itself is shim/)                     */

/*
 * Encode a whole trace file into a new malloc'd buffer (*out, *out_len): the header `h`
 * (NULL for a minimal one), then events[0..n) grouped per thread into chunks of at most
 * `chunk_events` events, the chunks ordered by their first sequence number, then an end
 * record with `end_reason` (TRACE_END_NONE: no end record). Event times are written as
 * ticks equal to ns. Each thread's events must be in increasing seq (and seq2) order, and
 * seq2 > seq for realloc*. 0, or -1 with `d` filled.
 */
int trace_write_mem(const struct trace_header *h, const struct trace_event *events, size_t n,
                    size_t chunk_events, unsigned end_reason, uint8_t **out, size_t *out_len,
                    struct diag *d);

#endif
