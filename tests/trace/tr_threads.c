/*
 * tests/trace/tr_threads.c: THREADS workers each allocate BLOCKS blocks into their own
 * mailbox; after a barrier each frees the blocks of the next worker's mailbox, so every one
 * of those frees is cross-thread. Prints the counts it expects (key=value lines).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define BLOCKS  5000

static void *mailbox[THREADS][BLOCKS];
static pthread_barrier_t barrier;
static __thread void *volatile sink;

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < BLOCKS; i++) {
        mailbox[me][i] = malloc(16 + (size_t)(i % 200));
        memset(mailbox[me][i], me, 16);
    }
    /* some private churn too */
    for (int i = 0; i < BLOCKS; i++) {
        sink = malloc(32);
        free(sink);
    }
    pthread_barrier_wait(&barrier);
    int next = (me + 1) % THREADS;
    for (int i = 0; i < BLOCKS; i++)
        free(mailbox[next][i]);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) return 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char line[256];
    int n = snprintf(line, sizeof(line), "threads=%d\nmalloc=%d\nfree=%d\ncross_thread_frees=%d\n",
                     THREADS, 2 * THREADS * BLOCKS, 2 * THREADS * BLOCKS, THREADS * BLOCKS);
    return write(1, line, (size_t)n) == n ? 0 : 1;
}
