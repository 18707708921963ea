/*
 * server/mailbox.h: what a client's sender thread is given to send (docs/serve.md, "The
 * race thread, the senders and the ring").
 *
 * Two ways in, one doorbell:
 *   the slot   one item, latest wins: mailbox_put() replaces what is there and hands the
 *              replaced item back to the producer (which frees or reuses it); it never
 *              waits: one atomic exchange and, when the doorbell was quiet, one sem_post;
 *   the queue  a bounded FIFO of messages that must not be dropped (JSON control frames);
 *              mailbox_push() holds a mutex for a few stores, never while anything is
 *              written to a socket, and refuses (-1) when the queue is full.
 * Every item carries a sequence number from one counter, so that the sender can send queued
 * messages and slot items in the order they were produced (a tick's `end` after the tick).
 *
 * One consumer (the sender) takes items and waits on the doorbell; any number of threads
 * produce. The doorbell is a flag and a semaphore: a producer posts only when it raises the
 * flag, the consumer lowers it before it looks, so no wake-up is lost and the semaphore stays
 * small however fast producers go.
 */
#ifndef HEAPLAB_SERVER_MAILBOX_H
#define HEAPLAB_SERVER_MAILBOX_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_QUEUE_MAX 256

/* An item of the queue: its bytes (malloc'd, owned by the mailbox until popped). */
struct mailbox_msg {
    uint64_t seq;
    char *data;
    size_t len;
    uint64_t gen; /* a `state` message's generation (view_state.gen), or 0 */
};

struct mailbox {
    _Atomic(void *) slot; /* the latest item, or NULL */
    _Atomic uint64_t seq; /* the next sequence number */
    _Atomic int bell;     /* raised: the consumer has been (or will be) woken */
    _Atomic int closed;
    sem_t sem;

    pthread_mutex_t mu; /* the queue */
    struct mailbox_msg q[MAILBOX_QUEUE_MAX];
    size_t head, n;
    uint64_t dropped; /* messages refused because the queue was full */
};

int mailbox_init(struct mailbox *m);
/* Free what is left (queued messages; the slot's item is returned for the caller to free). */
void *mailbox_fini(struct mailbox *m);

/* A sequence number for an item about to be put (the item records it for the consumer). */
uint64_t mailbox_seq(struct mailbox *m);

/* Consumer: the number the next item will get. Read before mailbox_take() finds the slot
 * empty, it bounds what may be sent now: a queued message below it was produced after any
 * item that precedes it (same producer), and that item was then taken already. */
uint64_t mailbox_bound(struct mailbox *m);

/* Put `item` in the slot; returns the item it replaced (NULL if the slot was empty), which
 * the consumer will now never see. */
void *mailbox_put(struct mailbox *m, void *item);

/* Queue a copy of data[0..len). 0, or -1 when the queue is full or memory ran out. */
int mailbox_push(struct mailbox *m, const void *data, size_t len);

/* The same for a `state` message of generation `gen` (the sender keeps the newest). */
int mailbox_push_gen(struct mailbox *m, const void *data, size_t len, uint64_t gen);

/* Consumer: take the slot's item (NULL if empty). */
void *mailbox_take(struct mailbox *m);

/* Consumer: the oldest queued message with a sequence number below `before` into *out
 * (the caller frees out->data): 1, or 0 when there is none. */
int mailbox_pop(struct mailbox *m, uint64_t before, struct mailbox_msg *out);

/* Consumer: wait until something is put, pushed, the mailbox is closed, or `timeout_ms`
 * passed (< 0: no limit). Returns 1 when woken, 0 on timeout. */
int mailbox_wait(struct mailbox *m, int timeout_ms);

/* Wake the consumer for good: mailbox_closed() is then true. */
void mailbox_close(struct mailbox *m);
static inline int mailbox_closed(struct mailbox *m)
{
    return atomic_load(&m->closed);
}

#endif
