/*
 * tests/unit/hlmalloc/test_lifecycle.c: no thread of hlmalloc's keeps a process alive or
 * outlives the program's own threads (issue 17, item 1), and the purger still returns
 * memory after each of these events.
 *
 * Each scenario runs in a fresh process (this program re-executed as `--child NAME`),
 * killed with its process group if it has not ended within TIMEOUT_S, or within
 * LAST_THREAD_GRACE_S of its last thread saying (through a pipe) that it ends: the purger
 * sees it is alone within 250 ms of a heap's thread ending. A scenario that
 * ends the process by ending its last thread (pthread_exit from main, a fork child's only
 * thread returning) would hang forever if the purger stayed behind. The `*-long-delay`
 * ones set HLMALLOC_PURGE_DELAY=600000, so a purger that only left once its pending work
 * was done would hold the process for ten minutes: it must notice that it is the last
 * thread. The others check that the purger still works afterwards: RSS, after 64 MiB of
 * 1000-byte blocks are freed, must fall back near the baseline (polled, up to PURGE_WAIT_MS).
 *
 * Built twice from this file: test_hlmalloc_lifecycle calls the hl_ API (linked with
 * hlmalloc_api; it runs in the sanitizer builds too), hl_lifecycle_preload (with
 * -DHL_LIFECYCLE_PRELOAD) calls malloc and runs its children with LD_PRELOAD=argv[1].
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HL_LIFECYCLE_PRELOAD
#define ALLOC(n) malloc(n)
#define FREE(p)  free(p)
#else
#include "unit/hlmalloc/hl_compat.h"
#define ALLOC(n) hl_malloc(n)
#define FREE(p)  hl_free(p)
#endif
#include "unit/hlmalloc/resident.h"

#define MiB ((size_t)1 << 20)

enum {
    TIMEOUT_S = 30,       /* a scenario's process (and anything it waits for) */
    CHILD_WAIT_S = 20,    /* a scenario waiting for its own child */
    PURGE_WAIT_MS = 5000, /* RSS must fall within this after a free (delay 400 ms) */
    CHURN_BLOCKS = 65536, /* 1000 B each: 64 MiB */
    SHORT_THREADS = 10000,
    LAST_THREAD_GRACE_S = 2, /* from the last thread's end to the process's */
    MARK_FD = 3,
    EXIT_PURGE_FAILED = 2,
    EXIT_OTHER = 3,
};

extern char **environ;
static const char *self_path;
static void *blocks[CHURN_BLOCKS];

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Allocate and write 64 MiB in 1000-byte blocks, then free them all. */
static void churn(void)
{
    for (int i = 0; i < CHURN_BLOCKS; i++) {
        blocks[i] = ALLOC(1000);
        if (!blocks[i]) _exit(EXIT_OTHER);
        memset(blocks[i], 0x5a, 1000);
    }
    for (int i = 0; i < CHURN_BLOCKS; i++)
        FREE(blocks[i]);
}

/* The reproducer: enough churn that a purge is due when it ends. */
static void churn_small(void)
{
    for (int r = 0; r < 5; r++) {
        for (int i = 0; i < 20000; i++)
            blocks[i] = ALLOC(1000);
        for (int i = 0; i < 20000; i++)
            FREE(blocks[i]);
    }
}

/* Churn, then wait (making no allocator call) until RSS is back within 16 MiB of what it
 * was before; exits EXIT_PURGE_FAILED if it is not within PURGE_WAIT_MS. */
static void churn_and_see_purged(const char *where)
{
    long base = rss_bytes();
    churn();
    if (getenv("HLMALLOC_PURGE_DELAY")) return; /* a long delay: the exit is what counts */
    long peak = rss_bytes();
    for (long waited = 0; waited <= PURGE_WAIT_MS; waited += 20) {
        long now = rss_bytes();
        if (now >= 0 && now <= base + (long)(16 * MiB)) return;
        sleep_ms(20);
    }
    fprintf(stderr, "%s: RSS stayed at %ld MiB (base %ld, peak %ld)\n", where, rss_bytes() >> 20,
            base >> 20, peak >> 20);
    _exit(EXIT_PURGE_FAILED);
}

/* The scenario's last thread is about to end (or the process to exit): tell the driver,
 * which then gives the process LAST_THREAD_GRACE_S to be gone. The pipe is fd MARK_FD
 * (inherited by fork children and exec'd programs, which may mark first). */
static void mark_last(void)
{
    if (write(MARK_FD, "x", 1) < 0) return; /* run by hand: no driver */
}

/* Wait for child pid for up to CHILD_WAIT_S; its exit status, or -1 (killed on timeout). */
static int wait_child(pid_t pid)
{
    for (long waited = 0; waited < CHILD_WAIT_S * 1000L; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0) return -1;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* ---- the scenarios (each runs as the whole of a child process) --------------------- */

/* main() ends with pthread_exit and no other thread of the program's. */
static void child_main_exit_alone(void)
{
    churn_small();
    mark_last();
    pthread_exit(NULL);
}

static void *exit_watcher(void *arg)
{
    (void)arg;
    sleep_ms(50); /* main has gone by now, or soon */
    churn_and_see_purged("watcher after main's pthread_exit");
    mark_last();
    return NULL; /* the last thread of the program: the process must end */
}

/* main() ends with pthread_exit while another thread runs; that one checks the purger
 * still works, then returns. */
static void child_main_exit_with_thread(void)
{
    churn_small();
    pthread_t t;
    if (pthread_create(&t, NULL, exit_watcher, NULL) != 0) _exit(EXIT_OTHER);
    pthread_exit(NULL);
}

static void *forker(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid < 0) return (void *)(intptr_t)EXIT_OTHER;
    if (pid == 0) {
        /* The child's only thread: churn, see the purger work, then return, which
         * ends the child (exit status 0) unless a thread of hlmalloc's is left. */
        churn_and_see_purged("fork child");
        churn_small();
        mark_last();
        return NULL;
    }
    return (void *)(intptr_t)wait_child(pid);
}

/* A thread forks; in the child that thread returns (CPython's test_threading does). */
static void child_fork_from_thread(void)
{
    churn_small();
    pthread_t t;
    void *rc = NULL;
    if (pthread_create(&t, NULL, forker, NULL) != 0) _exit(EXIT_OTHER);
    pthread_join(t, &rc);
    int st = (int)(intptr_t)rc;
    if (st != 0) fprintf(stderr, "fork child from a thread: status %d\n", st);
    exit(st == 0 ? 0 : st == EXIT_PURGE_FAILED ? EXIT_PURGE_FAILED : EXIT_OTHER);
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        sleep_ms(1000);
    return NULL;
}

/* exit() while the purger sleeps (its delay pending) and another thread sleeps too. */
static void child_exit_while_purger_sleeps(void)
{
    churn();
    pthread_t t;
    if (pthread_create(&t, NULL, sleeper, NULL) != 0) _exit(EXIT_OTHER);
    sleep_ms(30);
    mark_last();
    exit(0);
}

/* A daemon: fork, setsid, exec. The exec'd program (`--child daemon-body`) churns and
 * checks the purger; the first process waits for it. */
static void child_daemon(void)
{
    churn();
    pid_t pid = fork();
    if (pid < 0) _exit(EXIT_OTHER);
    if (pid == 0) {
        if (setsid() < 0) _exit(EXIT_OTHER);
        char *const argv[] = { (char *)self_path, (char *)"--child", (char *)"daemon-body", NULL };
        execve(self_path, argv, environ);
        _exit(127);
    }
    int st = wait_child(pid);
    if (st != 0) fprintf(stderr, "daemon: status %d\n", st);
    mark_last();
    exit(st == 0 ? 0 : st == EXIT_PURGE_FAILED ? EXIT_PURGE_FAILED : EXIT_OTHER);
}

static void child_daemon_body(void)
{
    churn_and_see_purged("daemon after setsid and exec");
    exit(0);
}

static _Atomic int spawn_stop;

static void *busy_allocator(void *arg)
{
    (void)arg;
    void *keep[64] = { 0 };
    for (unsigned i = 0; !atomic_load(&spawn_stop); i++) {
        unsigned k = i % 64;
        FREE(keep[k]);
        keep[k] = ALLOC(16 + (i * 37) % 5000);
    }
    for (int k = 0; k < 64; k++)
        FREE(keep[k]);
    return NULL;
}

/* posix_spawn and vfork+exec from a program whose other threads allocate meanwhile. */
static void child_spawn(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, busy_allocator, NULL) != 0) _exit(EXIT_OTHER);
    churn();
    char *const argv[] = { (char *)self_path, (char *)"--child", (char *)"noop", NULL };
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        pid_t pid;
        if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0 || wait_child(pid) != 0)
            bad++;
        pid = vfork();
        if (pid == 0) {
            execve(self_path, argv, environ);
            _exit(127);
        }
        if (pid < 0 || wait_child(pid) != 0) bad++;
    }
    atomic_store(&spawn_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (bad) {
        fprintf(stderr, "spawn: %d children failed\n", bad);
        exit(EXIT_OTHER);
    }
    churn_and_see_purged("after posix_spawn and vfork");
    mark_last();
    pthread_exit(NULL);
}

static void *short_thread(void *arg)
{
    void *p = ALLOC(64 + (size_t)(uintptr_t)arg % 4000), *q = ALLOC(100000);
    FREE(p);
    FREE(q);
    return NULL;
}

/* 10,000 short threads created and joined, then the purger is checked and main leaves
 * by pthread_exit. */
static void child_many_threads(void)
{
    for (int i = 0; i < SHORT_THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)i) != 0) _exit(EXIT_OTHER);
        pthread_join(t, NULL);
    }
    churn_and_see_purged("after 10,000 threads");
    mark_last();
    pthread_exit(NULL);
}

struct scenario {
    const char *name;
    void (*fn)(void);
    const char *env; /* extra NAME=VALUE for the child, or NULL */
};

static const struct scenario scenarios[] = {
    { "main-exit-alone", child_main_exit_alone, NULL },
    { "main-exit-alone-long-delay", child_main_exit_alone, "HLMALLOC_PURGE_DELAY=600000" },
    { "main-exit-with-thread", child_main_exit_with_thread, NULL },
    { "fork-from-thread", child_fork_from_thread, NULL },
    { "fork-from-thread-long-delay", child_fork_from_thread, "HLMALLOC_PURGE_DELAY=600000" },
    { "exit-while-purger-sleeps", child_exit_while_purger_sleeps, "HLMALLOC_PURGE_DELAY=600000" },
    { "daemon", child_daemon, NULL },
    { "spawn", child_spawn, NULL },
    { "many-threads", child_many_threads, NULL },
};

/* ---- the driver --------------------------------------------------------------------- */

static const char *preload; /* LD_PRELOAD for the children (the preload build) */

/* Run scenario s in a fresh process; its exit status, -1 if it was killed on the timeout,
 * -3 if it outlived its last thread by LAST_THREAD_GRACE_S. */
static int run_scenario(const struct scenario *s)
{
    int mark[2];
    if (pipe(mark) != 0) return -2;
    pid_t pid = fork();
    if (pid < 0) return -2;
    if (pid == 0) {
        setpgid(0, 0);
        close(mark[0]);
        if (mark[1] != MARK_FD) {
            dup2(mark[1], MARK_FD);
            close(mark[1]);
        }
        unsetenv("HLMALLOC_PURGE_DELAY");
        unsetenv("HLMALLOC_PURGE_THREAD");
        if (s->env) putenv((char *)s->env);
        if (preload) setenv("LD_PRELOAD", preload, 1);
        char *const argv[] = { (char *)self_path, (char *)"--child", (char *)s->name, NULL };
        execve(self_path, argv, environ);
        _exit(127);
    }
    setpgid(pid, pid);
    close(mark[1]);
    fcntl(mark[0], F_SETFL, O_NONBLOCK);
    long grace_left = -1; /* ms, once the last thread has said it ends */
    int r = -1;
    for (long waited = 0; waited < TIMEOUT_S * 1000L && grace_left != 0; waited += 10) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        char c;
        if (grace_left < 0 && read(mark[0], &c, 1) == 1) grace_left = LAST_THREAD_GRACE_S * 1000L;
        if (grace_left > 0) grace_left -= 10;
        sleep_ms(10);
    }
    close(mark[0]);
    if (r == -1) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (grace_left == 0) r = -3;
    }
    return r;
}

int main(int argc, char **argv)
{
    self_path = "/proc/self/exe";
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        self_path = exe;
    }
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        if (strcmp(argv[2], "noop") == 0) return 0;
        if (strcmp(argv[2], "daemon-body") == 0) child_daemon_body();
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
            if (strcmp(argv[2], scenarios[i].name) == 0) scenarios[i].fn();
        return 0; /* the scenarios end the process themselves */
    }
#ifdef HL_LIFECYCLE_PRELOAD
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBHLMALLOC [SCENARIO...]\n", argv[0]);
        return 2;
    }
    preload = argv[1];
    argv++;
    argc--;
#endif
    int failed = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *s = &scenarios[i];
        if (argc > 1) { /* only the scenarios named */
            int want = 0;
            for (int a = 1; a < argc; a++)
                want |= strcmp(argv[a], s->name) == 0;
            if (!want) continue;
        }
        int st = run_scenario(s);
        if (st == 0) {
            printf("ok   %s\n", s->name);
        } else {
            failed++;
            printf("FAIL %s: %s\n", s->name,
                   st == -1   ? "still running after the timeout (killed)"
                   : st == -3 ? "still running 2 s after its last thread ended (killed)"
                   : st == EXIT_PURGE_FAILED ? "RSS did not fall after the frees"
                                             : "exit status not 0");
            if (st > 0) printf("     exit status %d\n", st);
        }
        fflush(stdout);
    }
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
