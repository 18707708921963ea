/*
 * server/mailbox.c: a sender's latest-wins slot, its queue of control messages and their
 * doorbell (mailbox.h).
 */
#include "server/mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mailbox_init(struct mailbox *m)
{
    memset(m, 0, sizeof *m);
    atomic_init(&m->slot, NULL);
    atomic_init(&m->seq, 1);
    atomic_init(&m->bell, 0);
    atomic_init(&m->closed, 0);
    if (sem_init(&m->sem, 0, 0) != 0) return -1;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        sem_destroy(&m->sem);
        return -1;
    }
    return 0;
}

void *mailbox_fini(struct mailbox *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->q[(m->head + i) % MAILBOX_QUEUE_MAX].data);
    m->n = 0;
    pthread_mutex_destroy(&m->mu);
    sem_destroy(&m->sem);
    return atomic_exchange(&m->slot, NULL);
}

static void ring_bell(struct mailbox *m)
{
    if (!atomic_exchange(&m->bell, 1)) sem_post(&m->sem);
}

uint64_t mailbox_seq(struct mailbox *m)
{
    return atomic_fetch_add(&m->seq, 1);
}

uint64_t mailbox_bound(struct mailbox *m)
{
    return atomic_load(&m->seq);
}

void *mailbox_put(struct mailbox *m, void *item)
{
    void *old = atomic_exchange(&m->slot, item);
    ring_bell(m);
    return old;
}

int mailbox_push(struct mailbox *m, const void *data, size_t len)
{
    return mailbox_push_gen(m, data, len, 0);
}

int mailbox_push_gen(struct mailbox *m, const void *data, size_t len, uint64_t gen)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) return -1;
    memcpy(copy, data, len);
    copy[len] = 0;
    pthread_mutex_lock(&m->mu);
    if (m->n == MAILBOX_QUEUE_MAX) {
        m->dropped++;
        pthread_mutex_unlock(&m->mu);
        free(copy);
        return -1;
    }
    struct mailbox_msg *e = &m->q[(m->head + m->n) % MAILBOX_QUEUE_MAX];
    e->seq = mailbox_seq(m); /* under the mutex: the queue is in sequence order */
    e->data = copy;
    e->len = len;
    e->gen = gen;
    m->n++;
    pthread_mutex_unlock(&m->mu);
    ring_bell(m);
    return 0;
}

void *mailbox_take(struct mailbox *m)
{
    return atomic_exchange(&m->slot, NULL);
}

int mailbox_pop(struct mailbox *m, uint64_t before, struct mailbox_msg *out)
{
    int got = 0;
    pthread_mutex_lock(&m->mu);
    if (m->n > 0 && m->q[m->head].seq < before) {
        *out = m->q[m->head];
        m->head = (m->head + 1) % MAILBOX_QUEUE_MAX;
        m->n--;
        got = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return got;
}

int mailbox_wait(struct mailbox *m, int timeout_ms)
{
    int rc;
    if (timeout_ms < 0) {
        while ((rc = sem_wait(&m->sem)) != 0 && errno == EINTR)
            ;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts); /* sem_timedwait's clock */
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while ((rc = sem_timedwait(&m->sem, &ts)) != 0 && errno == EINTR)
            ;
    }
    /* Lower the flag before the caller looks: a put after this rings again. */
    atomic_store(&m->bell, 0);
    return rc == 0;
}

void mailbox_close(struct mailbox *m)
{
    atomic_store(&m->closed, 1);
    sem_post(&m->sem);
}
