/*
 * tests/unit/server/test_mailbox.c: a sender's mailbox (server/mailbox.h): the slot keeps
 * only the latest item and hands every replaced one back; a producer never waits, even
 * while the consumer is stalled; queued messages keep their order and sequence numbers
 * interleave them with slot items; the doorbell wakes the consumer without losing a put.
 * Threaded: also run under TSan (make test-tsan).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "server/mailbox.h"

struct item {
    uint64_t seq;
    int value;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_mailbox_latest_wins_and_replaced_items_come_back(void)
{
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    static struct item items[1000];
    int returned = 0;
    for (int i = 0; i < 1000; i++) {
        items[i].value = i;
        items[i].seq = mailbox_seq(&m);
        struct item *old = mailbox_put(&m, &items[i]);
        if (i == 0)
            CHECK(old == NULL);
        else if (old == &items[i - 1])
            returned++;
    }
    CHECK_EQ_U64(returned, 999);
    struct item *got = mailbox_take(&m);
    REQUIRE(got != NULL);
    CHECK_EQ_U64(got->value, 999);
    CHECK(mailbox_take(&m) == NULL);
    CHECK(mailbox_fini(&m) == NULL);
}

/* A consumer that takes one item and then stalls (as a sender blocked in a socket write)
 * until the producer says it is done. */
struct stall {
    struct mailbox *m;
    atomic_int took, release;
};

static void *stalled_consumer(void *arg)
{
    struct stall *s = arg;
    while (mailbox_take(s->m) == NULL)
        mailbox_wait(s->m, 100);
    atomic_store(&s->took, 1);
    while (!atomic_load(&s->release)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_mailbox_producer_never_waits_for_a_stalled_consumer(void)
{
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    struct stall s = { .m = &m };
    atomic_init(&s.took, 0);
    atomic_init(&s.release, 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, stalled_consumer, &s) == 0);
    static struct item items[2];
    mailbox_put(&m, &items[0]);
    while (!atomic_load(&s.took)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    /* The consumer now holds items[0] and never looks again: 200000 puts and 200 pushes
     * must all return at once (none waits for it). */
    double t0 = now_s(), worst = 0;
    int refused = 0;
    for (int i = 0; i < 200000; i++) {
        double a = now_s();
        struct item *old = mailbox_put(&m, &items[1]);
        CHECK(old == NULL || old == &items[1]);
        if (i % 1000 == 0 && mailbox_push(&m, "x", 1) != 0) refused++;
        double b = now_s() - a;
        if (b > worst) worst = b;
    }
    double total = now_s() - t0;
    printf("200000 puts in %.3f s, the slowest %.1f us; %d pushes refused\n", total, worst * 1e6,
           refused);
    CHECK(total < 5.0); /* under TSan too: nothing waited for the consumer */
    CHECK(refused == 0);
    atomic_store(&s.release, 1);
    pthread_join(th, NULL);
    struct mailbox_msg msg;
    int n = 0;
    while (mailbox_pop(&m, UINT64_MAX, &msg)) {
        free(msg.data);
        n++;
    }
    CHECK_EQ_U64(n, 200);
    mailbox_fini(&m);
}

static void test_mailbox_queue_keeps_order_and_refuses_when_full(void)
{
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    char buf[16];
    for (int i = 0; i < MAILBOX_QUEUE_MAX; i++) {
        snprintf(buf, sizeof buf, "m%d", i);
        CHECK(mailbox_push(&m, buf, strlen(buf)) == 0);
    }
    CHECK(mailbox_push(&m, "over", 4) == -1);
    CHECK_EQ_U64(m.dropped, 1);
    struct mailbox_msg msg;
    uint64_t last = 0;
    for (int i = 0; i < MAILBOX_QUEUE_MAX; i++) {
        REQUIRE(mailbox_pop(&m, UINT64_MAX, &msg));
        snprintf(buf, sizeof buf, "m%d", i);
        CHECK(strcmp(msg.data, buf) == 0);
        CHECK(msg.seq > last);
        last = msg.seq;
        free(msg.data);
    }
    CHECK(!mailbox_pop(&m, UINT64_MAX, &msg));
    mailbox_fini(&m);
}

static void test_mailbox_sequence_numbers_order_messages_around_items(void)
{
    /* race (queued), tick (slot), end (queued): the consumer sends race, tick, end. */
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    struct item tick = { 0, 7 };
    CHECK(mailbox_push(&m, "race", 4) == 0);
    tick.seq = mailbox_seq(&m);
    mailbox_put(&m, &tick);
    CHECK(mailbox_push(&m, "end", 3) == 0);
    struct item *it = mailbox_take(&m);
    REQUIRE(it == &tick);
    struct mailbox_msg msg;
    REQUIRE(mailbox_pop(&m, it->seq, &msg));
    CHECK(strcmp(msg.data, "race") == 0);
    free(msg.data);
    CHECK(!mailbox_pop(&m, it->seq, &msg)); /* "end" comes after the tick */
    REQUIRE(mailbox_pop(&m, UINT64_MAX, &msg));
    CHECK(strcmp(msg.data, "end") == 0);
    free(msg.data);
    /* With the slot empty, the bound read before looking holds back what a producer queued
     * after a tick it put meanwhile. */
    uint64_t bound = mailbox_bound(&m);
    CHECK(mailbox_take(&m) == NULL);
    tick.seq = mailbox_seq(&m); /* the producer: a last tick, then its end */
    mailbox_put(&m, &tick);
    CHECK(mailbox_push(&m, "end", 3) == 0);
    CHECK(!mailbox_pop(&m, bound, &msg)); /* not before the tick */
    CHECK(mailbox_take(&m) == &tick);
    REQUIRE(mailbox_pop(&m, UINT64_MAX, &msg));
    free(msg.data);
    mailbox_fini(&m);
}

struct counter {
    struct mailbox *m;
    atomic_int seen_last;
};

static void *counting_consumer(void *arg)
{
    struct counter *c = arg;
    for (;;) {
        mailbox_wait(c->m, -1);
        struct item *it;
        while ((it = mailbox_take(c->m)) != NULL)
            if (it->value == 99999) atomic_store(&c->seen_last, 1);
        if (atomic_load(&c->seen_last) || mailbox_closed(c->m)) return NULL;
    }
}

static void test_mailbox_doorbell_never_loses_the_last_put(void)
{
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    struct counter c = { .m = &m };
    atomic_init(&c.seen_last, 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, counting_consumer, &c) == 0);
    static struct item items[100000];
    for (int i = 0; i < 100000; i++) {
        items[i].value = i;
        mailbox_put(&m, &items[i]);
    }
    /* The consumer waits without a timeout: it ends only if the last put woke it. */
    double t0 = now_s();
    while (!atomic_load(&c.seen_last) && now_s() - t0 < 10) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    CHECK(atomic_load(&c.seen_last));
    mailbox_close(&m);
    pthread_join(th, NULL);
    CHECK(mailbox_wait(&m, 0) >= 0);
    mailbox_fini(&m);
}

static void test_mailbox_wait_times_out_when_nothing_comes(void)
{
    struct mailbox m;
    REQUIRE(mailbox_init(&m) == 0);
    double t0 = now_s();
    CHECK(mailbox_wait(&m, 50) == 0);
    CHECK(now_s() - t0 >= 0.04);
    mailbox_close(&m);
    CHECK(mailbox_wait(&m, 5000) == 1);
    CHECK(mailbox_closed(&m));
    mailbox_fini(&m);
}

int main(void)
{
    RUN_TEST(test_mailbox_latest_wins_and_replaced_items_come_back);
    RUN_TEST(test_mailbox_producer_never_waits_for_a_stalled_consumer);
    RUN_TEST(test_mailbox_queue_keeps_order_and_refuses_when_full);
    RUN_TEST(test_mailbox_sequence_numbers_order_messages_around_items);
    RUN_TEST(test_mailbox_doorbell_never_loses_the_last_put);
    RUN_TEST(test_mailbox_wait_times_out_when_nothing_comes);
    return check_report();
}
