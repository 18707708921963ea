/*
 * bench/exec_inside.c: the untimed passes that look inside the allocator (docs/inside.md).
 * Each runs in a worker of its own, instead of the timed passes, on the same stream.
 *
 * The snapshot pass runs the stream once and, at snapshot points, takes a heap map
 * (inside/heapmap) from the slot table's live objects and reads the allocator's statistics
 * (inside/astats). Snapshot points are thread 0's: its marks, every `every` of its ops, the
 * op after which a 1-thread stream's live bytes peak ("peak-live"), and the end ("end",
 * once every thread has run all its ops). At a point, thread 0 stops the others:
 *
 *   thread 0                               thread k (after an op, or while it waits)
 *   stop = 1 ------------------------->    sees stop: reads epoch, its statistics part,
 *   waits for parked == threads - 1 <---   parked++ (release: its part is visible),
 *   snapshot: maps, statistics, parts      waits for the epoch to change
 *   stop = 0, epoch++ (release) ------->   parked-- and goes on
 *   waits for parked == 0
 *
 * A thread parks between ops or while it waits for another's op, so no snapshot ever waits
 * for an op in flight, and the cross-thread order cannot deadlock. Thread 0 waits for
 * parked to fall back to 0 before it may ask again, so a slow waker is never counted twice.
 * A thread that has run its ops keeps answering stops until thread 0 releases it after the
 * end snapshot; thread 0 takes that snapshot once all of them have finished.
 *
 * The OS counting pass runs the stream once in a child traced by inside/oscount: each
 * thread's markers open its counting window just before its first op and close it after
 * its last, so thread start-up, joins and the harness's own calls are not counted.
 */
#include <cjson/cJSON.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "bench/exec.h"
#include "inside/inside.h"
#include "util/diag.h"
#include "util/osmem.h"

#define EVERY_DEFAULT_SHOTS 8 /* periodic snapshots over thread 0's ops without --heapmap-every */

/* The statistics read at one snapshot point, with the stream's live bytes there. */
struct stats_shot {
    const char *label;
    uint64_t ops;
    uint64_t live_bytes;
    struct astats st;
};

struct exec_inside {
    struct heapmap *hm;       /* heap maps, or NULL */
    int stats;                /* read the statistics too */
    struct astats_src src;    /* where they come from */
    struct astats *parts;     /* per thread: what only it can read (mimalloc's heap) */
    struct stats_shot *shots; /* HEAPMAP_MAX_SHOTS */
    size_t n_shots;
    size_t streamed; /* heap maps written to exec_opts.stream_fd so far */
    uint64_t every;  /* thread 0's ops between periodic snapshots */
    size_t peak_idx; /* thread 0's op after which live bytes peak, or SIZE_MAX */
    unsigned threads;
    _Atomic int stop;          /* thread 0 wants a snapshot: the others park */
    _Atomic unsigned parked;   /* threads parked */
    _Atomic unsigned epoch;    /* bumped as each snapshot is done */
    _Atomic unsigned finished; /* threads other than 0 that have run all their ops */
    _Atomic int released;      /* the end snapshot is taken: finished threads may return */
};

/* ------------------------------------------------------------------------------------- */
/* Snapshots                                                                              */

/* The heap maps taken since the last call, to exec_opts.stream_fd as they are taken (a
 * snapshot that could not be taken adds none). A failed write ends the streaming, not the
 * pass: the reader went away, and nothing more is written. */
static void stream(struct exec_shared *sh, struct exec_inside *in)
{
    int fd = sh->o->stream_fd;
    size_t n;
    const struct heapmap_shot *shots = heapmap_shots(in->hm, &n);
    for (; fd > 0 && in->streamed < n; in->streamed++)
        if (heapmap_shot_write(in->hm, &shots[in->streamed], fd) != 0) {
            in->streamed = SIZE_MAX;
            return;
        }
}

static void take(struct exec_shared *sh, unsigned t, const char *label, uint64_t ops)
{
    struct exec_inside *in = sh->in;
    uint64_t live = 0;
    if (in->hm) heapmap_begin(in->hm, label, ops, NULL, 0);
    for (uint32_t i = 0; i < sh->s->obj_count; i++) {
        const struct slot *sl = &sh->slots[i];
        if (!sl->p) continue;
        live += sl->size;
        if (in->hm) heapmap_add(in->hm, (uintptr_t)sl->p, sl->size);
    }
    if (in->hm) {
        heapmap_end(in->hm); /* before the statistics: reading them may allocate */
        stream(sh, in);
    }
    if (!in->stats || in->n_shots >= HEAPMAP_MAX_SHOTS) return;
    struct stats_shot *ss = &in->shots[in->n_shots++];
    ss->label = label;
    ss->ops = ops;
    ss->live_bytes = live;
    astats_clear(&in->parts[t]);
    astats_thread(&in->src, &in->parts[t]);
    astats_read(&in->src, &ss->st);
    for (unsigned k = 0; k < in->threads; k++)
        astats_merge(&ss->st, &in->parts[k]);
    astats_finish(&ss->st);
}

/* Thread x->t (not 0): stopped until thread 0 has taken its snapshot. */
static void park(struct exec_thread *x)
{
    struct exec_inside *in = x->sh->in;
    unsigned e = atomic_load_explicit(&in->epoch, memory_order_acquire);
    if (in->stats) {
        astats_clear(&in->parts[x->t]);
        astats_thread(&in->src, &in->parts[x->t]);
    }
    /* Release: thread 0 reads this part after its acquire load of `parked`. */
    atomic_fetch_add_explicit(&in->parked, 1, memory_order_release);
    while (atomic_load_explicit(&in->epoch, memory_order_acquire) == e)
        sched_yield();
    atomic_fetch_sub_explicit(&in->parked, 1, memory_order_release);
}

/* Thread 0: stop the others, take the snapshot, let them go. */
static void snapshot(struct exec_thread *x, const char *label, uint64_t ops)
{
    struct exec_inside *in = x->sh->in;
    unsigned others = in->threads - 1;
    if (others) {
        atomic_store_explicit(&in->stop, 1, memory_order_seq_cst);
        while (atomic_load_explicit(&in->parked, memory_order_acquire) < others)
            sched_yield();
    }
    take(x->sh, x->t, label, ops);
    if (others) {
        atomic_store_explicit(&in->stop, 0, memory_order_relaxed);
        /* Release pairs with park()'s acquire of the epoch: stop = 0 is seen with it. */
        atomic_fetch_add_explicit(&in->epoch, 1, memory_order_release);
        while (atomic_load_explicit(&in->parked, memory_order_acquire) > 0)
            sched_yield();
    }
}

void exec_inside_step(struct exec_thread *x, size_t i, const struct op *o)
{
    struct exec_inside *in = x->sh->in;
    if (x->t != 0) {
        if (atomic_load_explicit(&in->stop, memory_order_acquire)) park(x);
        return;
    }
    const struct opstream *s = x->sh->s;
    const char *label = NULL;
    if (o->kind == OP_MARK)
        label = o->size < s->mark_count ? s->mark_names[o->size] : "?";
    else if (i == in->peak_idx)
        label = "peak-live";
    else if ((i + 1) % in->every == 0)
        label = "every";
    if (label) snapshot(x, label, i + 1);
}

void exec_inside_wait(struct exec_thread *x)
{
    if (x->t != 0 && atomic_load_explicit(&x->sh->in->stop, memory_order_acquire)) park(x);
}

void exec_inside_done(struct exec_thread *x)
{
    struct exec_inside *in = x->sh->in;
    if (x->t == 0) {
        while (atomic_load_explicit(&in->finished, memory_order_acquire) < in->threads - 1)
            sched_yield();
        snapshot(x, "end", x->sh->s->th[0].n);
        atomic_store_explicit(&in->released, 1, memory_order_release);
        return;
    }
    atomic_fetch_add_explicit(&in->finished, 1, memory_order_release);
    while (!atomic_load_explicit(&in->released, memory_order_acquire)) {
        if (atomic_load_explicit(&in->stop, memory_order_acquire))
            park(x);
        else
            sched_yield();
    }
}

/* ------------------------------------------------------------------------------------- */
/* The snapshot pass                                                                      */

/* The index of thread 0's op after which its live bytes are highest, the first such; SIZE_MAX
 * when that is its last op (the end snapshot shows it) or nothing is allocated. */
static size_t peak_index(const struct opstream *s)
{
    const struct op_seq *q = &s->th[0];
    size_t bytes = (size_t)(s->obj_count ? s->obj_count : 1) * sizeof(uint64_t);
    uint64_t *size = osmem_alloc(bytes);
    if (!size) return SIZE_MAX;
    uint64_t live = 0, best = 0;
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < q->n; i++) {
        const struct op *o = &q->ops[i];
        if (o->kind == OP_MARK) continue;
        if (o->kind == OP_FREE) {
            live -= size[o->obj];
            size[o->obj] = 0;
        } else {
            live += o->size - size[o->obj];
            size[o->obj] = o->size;
        }
        if (live > best) {
            best = live;
            at = i;
        }
    }
    osmem_free(size, bytes);
    return at + 1 >= q->n ? SIZE_MAX : at;
}

static void inside_free(struct exec_inside *in)
{
    heapmap_destroy(in->hm);
    osmem_free(in->parts, in->threads * sizeof *in->parts);
    osmem_free(in->shots, HEAPMAP_MAX_SHOTS * sizeof *in->shots);
    osmem_free(in, sizeof *in);
}

static cJSON *stats_json(const struct exec_inside *in)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "source", in->src.name);
    cJSON_AddStringToObject(j, "provider", in->src.provider);
    cJSON_AddBoolToObject(j, "exposed", in->src.source != ASTATS_NONE);
    cJSON *arr = cJSON_AddArrayToObject(j, "snapshots");
    for (size_t i = 0; i < in->n_shots; i++) {
        const struct stats_shot *ss = &in->shots[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "label", ss->label);
        cJSON_AddNumberToObject(e, "ops", (double)ss->ops);
        cJSON_AddNumberToObject(e, "live_bytes", (double)ss->live_bytes);
        cJSON *st = astats_json(&in->src, &ss->st);
        cJSON *item = st ? st->child : NULL;
        while (item) { /* move the statistics' fields into the entry */
            cJSON *next = item->next;
            cJSON_AddItemToObject(e, item->string, cJSON_DetachItemViaPointer(st, item));
            item = next;
        }
        cJSON_Delete(st);
        cJSON_AddItemToArray(arr, e);
    }
    return j;
}

cJSON *exec_inside_pass(struct exec_shared *sh, struct exec_thread *xs, struct diag *d)
{
    const struct opstream *s = sh->s;
    const struct exec_opts *o = sh->o;
    struct exec_inside *in = osmem_alloc(sizeof *in);
    if (!in) {
        diag_set(d, "out of memory for the inside pass");
        return NULL;
    }
    in->threads = s->threads;
    in->peak_idx = s->threads == 1 ? peak_index(s) : SIZE_MAX;
    in->every = o->heapmap_every;
    if (!in->every) in->every = (s->th[0].n + EVERY_DEFAULT_SHOTS - 1) / EVERY_DEFAULT_SHOTS;
    if (!in->every) in->every = 1;
    if (o->inside & EXEC_INSIDE_HEAPMAP) {
        struct heapmap_config cfg = { .pagemap_path = o->pagemap_path };
        if (!(in->hm = heapmap_create(&cfg, d))) goto fail;
    }
    if (o->inside & EXEC_INSIDE_STATS) {
        in->stats = 1;
        astats_open(&in->src);
        in->parts = osmem_alloc(in->threads * sizeof *in->parts);
        in->shots = osmem_alloc(HEAPMAP_MAX_SHOTS * sizeof *in->shots);
        if (!in->parts || !in->shots) {
            diag_set(d, "out of memory for the statistics");
            goto fail;
        }
        for (unsigned t = 0; t < in->threads; t++)
            astats_clear(&in->parts[t]);
    }
    sh->in = in;
    uint64_t wall = exec_run_pass(sh, xs, 0, d);
    sh->in = NULL;
    exec_cleanup_slots(sh);
    if (wall == UINT64_MAX) goto fail;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "ok");
    cJSON_AddNumberToObject(out, "threads", s->threads);
    if (in->hm) {
        cJSON *hj = heapmap_json(in->hm, in->every);
        cJSON_AddStringToObject(hj, "status", "ok");
        cJSON_AddItemToObject(out, "heapmap", hj);
    }
    if (in->stats) cJSON_AddItemToObject(out, "alloc_stats", stats_json(in));
    inside_free(in);
    return out;
fail:
    inside_free(in);
    return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* The OS counting pass                                                                   */

struct count_ctx {
    struct exec_shared *sh;
    struct exec_thread *xs;
};

/* In the traced child: the pass, each thread's ops inside its window. */
static void count_child(void *arg)
{
    struct count_ctx *c = arg;
    struct diag d = { { 0 } };
    c->sh->os_markers = 1;
    exec_run_pass(c->sh, c->xs, 0, &d);
}

cJSON *exec_oscount_pass(struct exec_shared *sh, struct exec_thread *xs, struct diag *d)
{
    static struct oscount_result r; /* about 5 KiB: kept off the stack */
    struct count_ctx c = { sh, xs };
    if (oscount_run(count_child, &c, &r, d) != 0) return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "ok");
    cJSON_AddNumberToObject(out, "threads", sh->s->threads);
    cJSON *oj = oscount_json(&r);
    cJSON_AddNumberToObject(oj, "ops", (double)(sh->s->n_alloc + sh->s->n_free + sh->s->n_realloc));
    cJSON_AddItemToObject(out, "os_calls", oj);
    return out;
}
