/*
 * trace/shim/buffer.c: thread slots and their chunk buffers.
 *
 * A thread's first event takes one of MAX_SLOTS slots (its buffer is mmap'd once and kept
 * when the slot is reused) and a dense thread index. The owner appends events (put, in
 * shim.h) and seals the buffer into a chunk when it is full. flush_all seals every slot at
 * the end of recording, excluding their owners through the FROZEN bit (shim.h describes the
 * protocol). A thread that has exited writes any later event as a chunk of its own (tail
 * mode).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

COLD void seal(struct slot *s)
{
    uint64_t c = atomic_load_explicit(&s->committed, memory_order_acquire);
    uint32_t len = (uint32_t)(c >> 32), n = (uint32_t)c;
    if (n == 0) return;
    int saved = errno;
    struct tf_chunk h = {
        .type = TF_CHUNK_EVENTS,
        .thread = s->thread,
        .tid = s->tid,
        .events = n,
        .payload = len,
        .open_ticks = s->open_ticks,
        .open_ns = s->open_ns,
    };
    h.close_ticks = now_ticks();
    h.close_ns = mono_ns();
    h.payload_crc = crc32c(s->buf + TF_CHUNK_HDR, len);
    tf_chunk_pack(s->buf, &h);
    out_write(s->buf, TF_CHUNK_HDR + (size_t)len);
    atomic_store_explicit(&s->committed, 0, memory_order_release);
    atomic_fetch_add_explicit(&shim.events, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&shim.chunks, 1, memory_order_relaxed);
    errno = saved;
}

COLD uint64_t tail_seq(void)
{
    if (tls.mode != M_TAIL) {
        if (tls.mode == M_OFF) atomic_fetch_add_explicit(&shim.dropped, 1, memory_order_relaxed);
        return NOSEQ;
    }
    uint64_t q = atomic_fetch_add_explicit(&shim.seq.v, 1, memory_order_acq_rel);
    return q & SEQ_FROZEN ? NOSEQ : q;
}

/* By value: an event whose address escaped to a non-inlined function would be built in
 * memory on every hot path. */
COLD void tail_write(struct tf_ev e)
{
    int saved = errno;
    uint8_t b[TF_CHUNK_HDR + TF_MAX_EVENT];
    e.ticks = now_ticks();
    struct tf_delta st;
    tf_delta_start(&st, e.ticks);
    uint8_t *q = tf_put_event(b + TF_CHUNK_HDR, &st, &e);
    struct tf_chunk h = {
        .type = TF_CHUNK_EVENTS,
        .thread = tls.thread,
        .tid = tls.tid,
        .events = 1,
        .payload = (uint32_t)(q - b - TF_CHUNK_HDR),
        .open_ticks = e.ticks,
        .open_ns = mono_ns(),
    };
    h.close_ticks = now_ticks();
    h.close_ns = mono_ns();
    h.payload_crc = crc32c(b + TF_CHUNK_HDR, h.payload);
    tf_chunk_pack(b, &h);
    out_write(b, TF_CHUNK_HDR + h.payload);
    atomic_fetch_add_explicit(&shim.events, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&shim.chunks, 1, memory_order_relaxed);
    errno = saved;
}

static void record_thread_start(struct slot *s)
{
    struct tf_ev e = { .kind = TRACE_THREAD, .value = s->tid };
    uint64_t q = seq_take(s);
    if (q == NOSEQ) return;
    e.seq = e.seq2 = q;
    e.ticks = now_ticks();
    put(s, &e);
    unbusy(s);
}

COLD struct slot *thread_begin(void)
{
    if (tls.mode != M_NEW) return NULL;
    int saved = errno;
    struct slot *s = NULL;
    uint32_t i;
    for (i = 0; i < MAX_SLOTS; i++) {
        int z = 0;
        if (atomic_load_explicit(&shim.slots[i].used, memory_order_relaxed) == 0
            && atomic_compare_exchange_strong(&shim.slots[i].used, &z, 1)) {
            s = &shim.slots[i];
            break;
        }
    }
    if (s && !s->buf) {
        void *m = mmap(NULL, TF_CHUNK_HDR + (size_t)shim.cap, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            atomic_store(&s->used, 0);
            s = NULL;
        } else {
            s->buf = m;
        }
    }
    if (!s) {
        tls.mode = M_OFF;
        atomic_fetch_add_explicit(&shim.dropped, 1, memory_order_relaxed);
        errno = saved;
        return NULL;
    }
    uint32_t hi = atomic_load(&shim.slots_hi);
    while (hi < i + 1 && !atomic_compare_exchange_weak(&shim.slots_hi, &hi, i + 1)) {
    }
    s->thread = atomic_fetch_add(&shim.threads, 1);
    s->tid = (uint32_t)gettid();
    atomic_store_explicit(&s->committed, 0, memory_order_relaxed);
    tls.slot = s;
    tls.thread = s->thread;
    tls.tid = s->tid;
    tls.mode = M_ON;
    tls.exit_round = 0;
    pthread_setspecific(shim.key, s);
    record_thread_start(s);
    errno = saved;
    return s;
}

static void write_end(unsigned reason, int sig)
{
    if (atomic_load(&shim.out.open) == OUT_TODO) return; /* a fork child that never wrote */
    uint8_t b[TF_CHUNK_HDR + TF_E_COUNT * 10];
    uint8_t *p = b + TF_CHUNK_HDR;
    uint64_t v[TF_E_COUNT];
    v[TF_E_REASON] = reason;
    v[TF_E_SIGNAL] = (uint64_t)sig;
    v[TF_E_EVENTS] = atomic_load(&shim.events);
    v[TF_E_CHUNKS] = atomic_load(&shim.chunks);
    v[TF_E_DROPPED] = atomic_load(&shim.dropped);
    v[TF_E_THREADS] = atomic_load(&shim.threads);
    v[TF_E_NS] = mono_ns();
    for (int i = 0; i < TF_E_COUNT; i++)
        p = tf_put_varint(p, v[i]);
    struct tf_chunk h = {
        .type = TF_CHUNK_END,
        .thread = TF_END_THREAD,
        .payload = (uint32_t)(p - b - TF_CHUNK_HDR),
        .open_ticks = now_ticks(),
        .open_ns = v[TF_E_NS],
    };
    h.close_ticks = h.open_ticks;
    h.close_ns = h.open_ns;
    h.payload_crc = crc32c(b + TF_CHUNK_HDR, h.payload);
    tf_chunk_pack(b, &h);
    out_write(b, TF_CHUNK_HDR + h.payload);
}

int flush_all(unsigned reason, int sig)
{
    int z = 0;
    if (!atomic_compare_exchange_strong(&shim.flushing, &z, 1)) return 0;
    int saved = errno;
    atomic_fetch_or_explicit(&shim.seq.v, SEQ_FROZEN, memory_order_acq_rel);
    uint32_t hi = atomic_load(&shim.slots_hi);
    for (uint32_t i = 0; i < hi; i++) {
        struct slot *s = &shim.slots[i];
        if (!atomic_load_explicit(&s->used, memory_order_acquire)) continue;
        if (s != tls.slot) {
            /* Wait (at most ~50 ms) for the owner to finish the event it is writing; a
             * thread stuck inside one is skipped rather than raced with. */
            int k = 0;
            while (atomic_load_explicit(&s->busy, memory_order_acquire) && k < 5000) {
                if (++k > 100) {
                    struct timespec ts = { 0, 10000 };
                    nanosleep(&ts, NULL);
                }
            }
            if (atomic_load_explicit(&s->busy, memory_order_acquire)) continue;
        }
        /* Our own slot may be busy when a signal interrupted our own event: `committed`
         * covers only whole events. If it interrupted a seal the chunk may be written twice;
         * readers drop the second copy. (seal reads the buffer only when `committed` says
         * there are events, which the owner publishes after the buffer.) */
        seal(s);
    }
    write_end(reason, sig);
    errno = saved;
    return 1;
}

void unfreeze(void)
{
    atomic_fetch_and_explicit(&shim.seq.v, ~SEQ_FROZEN, memory_order_acq_rel);
    atomic_store(&shim.flushing, 0);
}

/* The first call re-arms the key so that the second round of destructors calls us again,
 * after the other libraries' first round (which may still allocate). */
void thread_end(void *arg)
{
    struct slot *s = arg;
    if (!s || s != tls.slot || tls.mode != M_ON) return;
    if (!tls.exit_round) {
        tls.exit_round = 1;
        pthread_setspecific(shim.key, s);
        return;
    }
    tls.nest++;
    int saved = errno;
    struct tf_ev e = { .kind = TRACE_MARK, .mark = TRACE_MARK_THREAD_EXIT };
    record(&e);
    atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
    uint64_t q = atomic_fetch_add_explicit(&shim.seq.v, 0, memory_order_acq_rel);
    if (!(q & SEQ_FROZEN)) {
        seal(s);
        unbusy(s);
        atomic_store_explicit(&s->used, 0, memory_order_release);
    } else {
        unbusy(s); /* a flusher owns every slot now */
    }
    tls.slot = NULL;
    tls.mode = M_TAIL;
    errno = saved;
    tls.nest--;
}
