/*
 * server/real.c: the real allocators view (real.h, docs/serve.md "Real allocators").
 *
 * A page opens /ws/real and sends a start message; the run thread starts, for each named
 * allocator at once, bench's worker with the allocator preloaded:
 *
 *   lane (one allocator)   maps: __worker --inside heapmap,stats --stream-fd 3
 *                          fd 3  -> one JSON line per heap map, sent on as it arrives
 *                          stdout -> at exit: the statistics of every snapshot
 *                          then os-calls: __worker --inside os-calls -> the OS call counts
 *                          then done: one message with both
 *
 * The thread polls every lane's pipes and a wake pipe (stop, page closed); it is the only
 * one that touches the workers. A missing allocator is a lane that is done from the start,
 * with the discovery's note.
 */
#define _GNU_SOURCE
#include "server/real.h"

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/diag.h"
#include "workload/workload.h"

#define OUT_MAX   ((size_t)64 << 20) /* a worker's stdout kept at most */
#define ERR_MAX   2048               /* its stderr: the last this many bytes */
#define POLL_MS   200                /* deadlines are checked this often */
#define LANE_FDS  3                  /* stream, stdout, stderr */
#define STREAM_FD 3                  /* the worker's fd for its heap maps */

enum lane_phase { PHASE_MAPS, PHASE_OSCALLS, PHASE_DONE };

struct buf {
    char *p;
    size_t n, cap;
};

/* One allocator of a run and its current worker. */
struct lane {
    struct allocator a;
    enum lane_phase phase;
    pid_t pid;        /* the current worker, or 0 */
    int fd[LANE_FDS]; /* its stream, stdout and stderr, -1 once closed */
    struct buf buf[LANE_FDS];
    uint64_t deadline_ns; /* it is killed after this */
    unsigned shots;       /* heap maps sent */
    cJSON *done;          /* the done message being filled */
};

/* A page of the view: its socket, and its run while one goes. */
struct real_client {
    struct server *srv;
    struct mg_connection *conn;
    pthread_mutex_t wmu; /* one writer at a time: the run thread, or an error reply */
    atomic_int closed;   /* the socket is going: nothing more is written */
    atomic_int stop;     /* the run must end */
    atomic_int running;  /* the run thread has not finished */
    int joinable;
    pthread_t thread;
    int wake[2]; /* a byte here wakes the run thread's poll */
    struct real_request req;
    char trace_path[PATH_MAX + 64]; /* what the workers read for a trace */
    int trace_tmp;                  /* trace_path is our temporary copy of an upload */
    uint64_t run_id;
    struct lane lanes[ALLOC_MAX];
    size_t n_lanes;
};

static struct {
    pthread_mutex_t reg_mu; /* util/cleanup.h's registry is not thread-safe: several pages'
                               run threads spawn and reap at once */
    pthread_mutex_t mu;
    unsigned runs; /* going, over all pages (REAL_RUNS_MAX) */
    uint64_t next_run;
    char self_exe[PATH_MAX];
} real_state = { .reg_mu = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER };

/* ------------------------------------------------------------------------------------- */
/* Messages to the page                                                                   */

static void send_text(struct real_client *rc, const char *s, size_t n)
{
    pthread_mutex_lock(&rc->wmu);
    if (!atomic_load(&rc->closed)
        && mg_websocket_write(rc->conn, MG_WEBSOCKET_OPCODE_TEXT, s, n) <= 0)
        atomic_store(&rc->closed, 1);
    pthread_mutex_unlock(&rc->wmu);
}

static void send_json(struct real_client *rc, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text) send_text(rc, text, strlen(text));
    free(text);
}

__attribute__((format(printf, 2, 3))) static void send_error(struct real_client *rc,
                                                             const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "message", msg);
    send_json(rc, o);
}

/* ------------------------------------------------------------------------------------- */
/* Workers                                                                                */

static void buf_add(struct buf *b, const char *p, size_t n, size_t max, int keep_tail)
{
    if (keep_tail && b->n + n > max) { /* keep the last `max` bytes */
        size_t drop = b->n + n - max < b->n ? b->n + n - max : b->n;
        memmove(b->p, b->p + drop, b->n - drop);
        b->n -= drop;
        if (n > max) {
            p += n - max;
            n = max;
        }
    }
    if (b->n + n > max) n = max - b->n;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void lane_close_fds(struct lane *l)
{
    for (int i = 0; i < LANE_FDS; i++) {
        if (l->fd[i] >= 0) close(l->fd[i]);
        l->fd[i] = -1;
        free(l->buf[i].p);
        memset(&l->buf[i], 0, sizeof l->buf[i]);
    }
}

/* In the child, between fork and exec: the pipes onto 0-3, signals as a new process has
 * them (the server's threads block the stop signals). Only async-signal-safe calls. */
static void child_exec(char **argv, char **env, const int w[LANE_FDS], int maps)
{
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    /* Onto 1, 2, then 3: a pipe end can be no lower than 4 here (0-3 were open), so no
     * dup2 overwrites one still to be copied. */
    dup2(w[1], 1);
    dup2(w[2], 2);
    if (maps) dup2(w[0], STREAM_FD);
    execve(argv[0], argv, env);
    static const char msg[] = "heaplab: cannot execute the worker\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

/* Start lane `l`'s worker for its phase. 0, or -1 with `why` filled. */
static int lane_spawn(struct real_client *rc, struct lane *l, char *why, size_t n)
{
    const struct real_request *q = &rc->req;
    int maps = l->phase == PHASE_MAPS;
    char s_threads[16], s_ops[32], s_seed[32], s_every[32], s_workload[PATH_MAX + 80];
    snprintf(s_threads, sizeof s_threads, "%u", q->threads);
    snprintf(s_ops, sizeof s_ops, "%llu", (unsigned long long)q->ops);
    snprintf(s_seed, sizeof s_seed, "%llu", (unsigned long long)q->seed);
    snprintf(s_every, sizeof s_every, "%llu", (unsigned long long)q->every);
    if (q->workload)
        snprintf(s_workload, sizeof s_workload, "%s", q->workload->name);
    else
        snprintf(s_workload, sizeof s_workload, "%s%s", BENCH_TRACE_PREFIX, rc->trace_path);
    const char *argv[24] = { real_state.self_exe,
                             "__worker",
                             "--workload",
                             s_workload,
                             "--threads",
                             s_threads,
                             "--ops",
                             s_ops,
                             "--seed",
                             s_seed,
                             "--expect",
                             l->a.path[0] ? l->a.path : "libc",
                             "--no-latency",
                             "--inside",
                             maps ? "heapmap,stats" : "os-calls" };
    int k = 15;
    if (maps && q->every) {
        argv[k++] = "--heapmap-every";
        argv[k++] = s_every;
    }
    if (maps) {
        argv[k++] = "--stream-fd";
        argv[k++] = "3";
    }
    argv[k] = NULL;

    int p[LANE_FDS][2], made = 0;
    for (; made < LANE_FDS; made++)
        if (pipe2(p[made], O_CLOEXEC) != 0) break;
    char **env = made == LANE_FDS ? worker_env(l->a.path) : NULL;
    if (!env) {
        snprintf(why, n, "cannot start a worker: %s",
                 made < LANE_FDS ? strerror(errno) : "out of memory");
        for (int i = 0; i < made; i++) {
            close(p[i][0]);
            close(p[i][1]);
        }
        return -1;
    }
    int w[LANE_FDS] = { p[0][1], p[1][1], p[2][1] };
    sigset_t saved;
    pthread_mutex_lock(&real_state.reg_mu);
    cleanup_block(&saved); /* registered before a stop signal can be handled (C1) */
    pid_t pid = fork();
    if (pid == 0) child_exec((char **)argv, env, w, maps);
    int err = errno;
    if (pid > 0) {
        setpgid(pid, pid); /* C2 */
        cleanup_add_child(pid);
    }
    cleanup_restore(&saved);
    pthread_mutex_unlock(&real_state.reg_mu);
    free_env(env, l->a.path);
    for (int i = 0; i < LANE_FDS; i++) {
        close(p[i][1]);
        l->fd[i] = p[i][0];
    }
    if (!maps) { /* no stream: its read end closes at once */
        close(l->fd[0]);
        l->fd[0] = -1;
    }
    if (pid < 0) {
        lane_close_fds(l);
        snprintf(why, n, "cannot start a worker: %s", strerror(err));
        return -1;
    }
    l->pid = pid;
    l->deadline_ns = clock_ns() + (uint64_t)REAL_TIMEOUT_S * 1000000000u;
    return 0;
}

/* Kill lane `l`'s worker (its whole group) and reap it; its status, or -1. */
static int lane_reap(struct lane *l, int kill_it)
{
    if (!l->pid) return -1;
    if (kill_it) kill(-l->pid, SIGKILL);
    int status = -1;
    while (waitpid(l->pid, &status, 0) < 0 && errno == EINTR)
        ;
    kill(-l->pid, SIGKILL); /* what it may have started */
    pthread_mutex_lock(&real_state.reg_mu);
    cleanup_remove_child(l->pid);
    pthread_mutex_unlock(&real_state.reg_mu);
    l->pid = 0;
    return status;
}

/* ------------------------------------------------------------------------------------- */
/* A lane's progress                                                                      */

static cJSON *lane_message(const struct real_client *rc, const struct lane *l, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddNumberToObject(o, "run", (double)rc->run_id);
    cJSON_AddStringToObject(o, "allocator", l->a.name);
    return o;
}

/* The worker's complete heap-map lines, each checked and sent as a snapshot message. */
static void lane_stream(struct real_client *rc, struct lane *l)
{
    struct buf *b = &l->buf[0];
    char *start = b->p, *nl;
    while (b->n && (nl = memchr(start, '\n', b->n - (size_t)(start - b->p))) != NULL) {
        cJSON *shot = cJSON_ParseWithLength(start, (size_t)(nl - start));
        if (cJSON_IsObject(shot)) {
            cJSON *o = lane_message(rc, l, "snapshot");
            cJSON_AddNumberToObject(o, "index", l->shots++);
            cJSON_AddItemToObject(o, "snapshot", shot);
            send_json(rc, o);
        } else {
            cJSON_Delete(shot);
        }
        start = nl + 1;
    }
    size_t rest = b->n - (size_t)(start - b->p);
    if (b->p) memmove(b->p, start, rest);
    b->n = rest;
}

/* The last line of a worker's stderr, without "heaplab: ". */
static const char *last_line(struct buf *b)
{
    if (!b->p) return "";
    while (b->n && (b->p[b->n - 1] == '\n' || b->p[b->n - 1] == '\r'))
        b->p[--b->n] = 0;
    char *nl = strrchr(b->p, '\n');
    char *line = nl ? nl + 1 : b->p;
    return strncmp(line, "heaplab: ", 9) == 0 ? line + 9 : line;
}

/* Why the worker that exited with `status` failed, into why[n]; 0 when it did not. */
static int worker_failed(int status, struct lane *l, int timed_out, char *why, size_t n)
{
    if (timed_out)
        snprintf(why, n, "timeout: worker killed after %u s", REAL_TIMEOUT_S);
    else if (WIFSIGNALED(status))
        snprintf(why, n, "crashed: worker killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(why, n, "%s: %s",
                 WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "preload-mismatch" : "failed",
                 l->buf[2].n ? last_line(&l->buf[2]) : "worker failed without a message");
    else
        return 0;
    return 1;
}

static void lane_finish(struct real_client *rc, struct lane *l, const char *status,
                        const char *note)
{
    cJSON_AddStringToObject(l->done, "status", status);
    if (note) cJSON_AddStringToObject(l->done, "note", note);
    cJSON_AddNumberToObject(l->done, "snapshots", l->shots);
    send_json(rc, l->done);
    l->done = NULL;
    l->phase = PHASE_DONE;
}

/* Move `key` of the worker's result `r` into the done message, or note why there is none. */
static void take_section(struct lane *l, cJSON *r, const char *key)
{
    cJSON *sec = r ? cJSON_DetachItemFromObjectCaseSensitive(r, key) : NULL;
    if (!sec) {
        sec = cJSON_CreateObject();
        cJSON_AddStringToObject(sec, "status", "failed");
        cJSON_AddStringToObject(sec, "note", "the worker reported no such section");
    }
    cJSON_AddItemToObject(l->done, key, sec);
}

/* Lane `l`'s worker has closed its pipes (or timed out): its result, the next phase. */
static void lane_exited(struct real_client *rc, struct lane *l, int timed_out)
{
    int status = lane_reap(l, timed_out);
    char why[600];
    int failed = worker_failed(status, l, timed_out, why, sizeof why);
    cJSON *r = failed ? NULL : cJSON_ParseWithLength(l->buf[1].p ? l->buf[1].p : "", l->buf[1].n);
    if (!failed && !cJSON_IsObject(r)) {
        snprintf(why, sizeof why, "failed: the worker wrote no valid result");
        failed = 1;
    }
    lane_close_fds(l);
    if (l->phase == PHASE_MAPS) {
        if (failed) {
            cJSON_Delete(r);
            lane_finish(rc, l, "failed", why);
            return;
        }
        static const char *const keep[] = { "provider", "version" };
        for (size_t i = 0; i < 2; i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(r, keep[i]);
            if (v) cJSON_AddItemToObject(l->done, keep[i], v);
        }
        take_section(l, r, "alloc_stats");
        cJSON_Delete(r);
        l->phase = PHASE_OSCALLS;
        if (lane_spawn(rc, l, why, sizeof why) != 0) {
            cJSON *f = cJSON_AddObjectToObject(l->done, "os_calls");
            cJSON_AddStringToObject(f, "status", "failed");
            cJSON_AddStringToObject(f, "note", why);
            lane_finish(rc, l, "ok", NULL);
        }
        return;
    }
    if (failed) {
        cJSON *f = cJSON_AddObjectToObject(l->done, "os_calls");
        cJSON_AddStringToObject(f, "status", "failed");
        cJSON_AddStringToObject(f, "note", why);
    } else {
        take_section(l, r, "os_calls");
    }
    cJSON_Delete(r);
    lane_finish(rc, l, "ok", NULL);
}

/* Read what is ready on lane `l`'s fd `i`; 0 at end of file. */
static int lane_read(struct real_client *rc, struct lane *l, int i)
{
    char chunk[65536];
    ssize_t n = read(l->fd[i], chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (n <= 0) {
        close(l->fd[i]);
        l->fd[i] = -1;
        return 0;
    }
    static const size_t max[LANE_FDS] = { REAL_LINE_MAX, OUT_MAX, ERR_MAX };
    buf_add(&l->buf[i], chunk, (size_t)n, max[i], i == 2);
    if (i == 0) lane_stream(rc, l);
    return 1;
}

/* ------------------------------------------------------------------------------------- */
/* The run thread                                                                         */

static int lane_open(const struct lane *l)
{
    return l->fd[0] >= 0 || l->fd[1] >= 0 || l->fd[2] >= 0;
}

/* One poll over every lane's pipes; lanes whose worker is done move on. */
static void run_poll(struct real_client *rc)
{
    struct pollfd fds[1 + ALLOC_MAX * LANE_FDS];
    struct lane *owner[1 + ALLOC_MAX * LANE_FDS];
    int which[1 + ALLOC_MAX * LANE_FDS];
    nfds_t n = 0;
    fds[n++] = (struct pollfd){ rc->wake[0], POLLIN, 0 };
    for (size_t k = 0; k < rc->n_lanes; k++)
        for (int i = 0; i < LANE_FDS; i++)
            if (rc->lanes[k].fd[i] >= 0) {
                owner[n] = &rc->lanes[k];
                which[n] = i;
                fds[n++] = (struct pollfd){ rc->lanes[k].fd[i], POLLIN, 0 };
            }
    if (poll(fds, n, POLL_MS) < 0 && errno != EINTR) return;
    for (nfds_t j = 1; j < n; j++)
        if (fds[j].revents & (POLLIN | POLLHUP | POLLERR)) lane_read(rc, owner[j], which[j]);
    uint64_t now = clock_ns();
    for (size_t k = 0; k < rc->n_lanes; k++) {
        struct lane *l = &rc->lanes[k];
        if (l->phase == PHASE_DONE || !l->pid) continue;
        if (!lane_open(l))
            lane_exited(rc, l, 0);
        else if (now >= l->deadline_ns)
            lane_exited(rc, l, 1);
    }
}

static int run_done(const struct real_client *rc)
{
    for (size_t k = 0; k < rc->n_lanes; k++)
        if (rc->lanes[k].phase != PHASE_DONE) return 0;
    return 1;
}

static void run_end(struct real_client *rc)
{
    for (size_t k = 0; k < rc->n_lanes; k++) {
        struct lane *l = &rc->lanes[k];
        if (l->pid) lane_reap(l, 1);
        lane_close_fds(l);
        cJSON_Delete(l->done);
        l->done = NULL;
    }
    if (rc->trace_tmp) {
        unlink(rc->trace_path);
        pthread_mutex_lock(&real_state.reg_mu);
        cleanup_remove_file(rc->trace_path);
        pthread_mutex_unlock(&real_state.reg_mu);
        rc->trace_tmp = 0;
    }
    pthread_mutex_lock(&real_state.mu);
    real_state.runs--;
    pthread_mutex_unlock(&real_state.mu);
}

static void *run_thread(void *arg)
{
    struct real_client *rc = arg;
    char why[300];
    for (size_t k = 0; k < rc->n_lanes; k++) {
        struct lane *l = &rc->lanes[k];
        if (l->phase == PHASE_DONE) continue;
        if (lane_spawn(rc, l, why, sizeof why) != 0) lane_finish(rc, l, "failed", why);
    }
    while (!atomic_load(&rc->stop) && !run_done(rc))
        run_poll(rc);
    int stopped = !run_done(rc);
    run_end(rc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "end");
    cJSON_AddNumberToObject(o, "run", (double)rc->run_id);
    cJSON_AddBoolToObject(o, "stopped", stopped);
    send_json(rc, o);
    atomic_store(&rc->running, 0);
    return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Starting a run                                                                         */

/* The trace the request names, as a file the workers can read. 0, or -1 with `d`. */
static int trace_file(struct real_client *rc, struct diag *d)
{
    struct server *srv = rc->srv;
    const char *t = rc->req.trace;
    if (strncmp(t, "upload:", 7) != 0) {
        if (!srv->trace_root) return diag_set(d, "no --trace-dir: no trace %s", t);
        snprintf(rc->trace_path, sizeof rc->trace_path, "%s/%s", srv->trace_root, t);
        if (access(rc->trace_path, R_OK) != 0)
            return diag_set(d, "trace %s: %s", t, strerror(errno));
        return 0;
    }
    uint64_t id = strtoull(t + 7, NULL, 10);
    snprintf(rc->trace_path, sizeof rc->trace_path, "/tmp/heaplab-real-XXXXXX");
    pthread_mutex_lock(&srv->mu);
    struct upload *u = NULL;
    for (unsigned i = 0; i < srv->nuploads; i++)
        if (srv->uploads[i]->id == id) u = srv->uploads[i];
    int fd = u ? mkostemp(rc->trace_path, O_CLOEXEC) : -1;
    ssize_t w = fd >= 0 ? write(fd, u->data, u->len) : -1;
    int ok = u && fd >= 0 && w == (ssize_t)u->len;
    unsigned kept = srv->lim.uploads_max;
    pthread_mutex_unlock(&srv->mu);
    if (fd >= 0) close(fd);
    if (!u) return diag_set(d, "no trace %s (the server keeps the last %u uploads)", t, kept);
    if (fd >= 0) {
        rc->trace_tmp = 1;
        pthread_mutex_lock(&real_state.reg_mu);
        cleanup_add_file(rc->trace_path);
        pthread_mutex_unlock(&real_state.reg_mu);
    }
    if (!ok) return diag_set(d, "cannot copy trace %s for the workers: %s", t, strerror(errno));
    return 0;
}

/* The built-in allocators as discovery finds them, on the heap: civetweb's threads have
 * small stacks and this is 70 KiB. An empty list when out of memory. */
static struct allocator *builtins(size_t *n)
{
    struct allocator *known = calloc(ALLOC_MAX, sizeof *known);
    *n = known ? allocator_builtins(known, ALLOC_MAX) : 0;
    return known;
}

/* The lanes of the request: each allocator as discovery found it. */
static void make_lanes(struct real_client *rc)
{
    size_t n_known;
    struct allocator *known = builtins(&n_known);
    rc->n_lanes = 0;
    for (size_t i = 0; i < rc->req.n_allocs; i++) {
        struct lane *l = &rc->lanes[rc->n_lanes++];
        memset(l, 0, sizeof *l);
        for (int f = 0; f < LANE_FDS; f++)
            l->fd[f] = -1;
        snprintf(l->a.name, sizeof l->a.name, "%s", rc->req.allocs[i]);
        for (size_t k = 0; k < n_known; k++)
            if (strcmp(known[k].name, rc->req.allocs[i]) == 0) l->a = known[k];
        l->done = lane_message(rc, l, "done");
        struct diag d = { { 0 } };
        if (!l->a.found) {
            lane_finish(rc, l, "missing", l->a.note[0] ? l->a.note : "not installed");
        } else if (l->a.path[0] && allocator_check_file(l->a.path, &d) != 0) {
            lane_finish(rc, l, "missing", d.msg);
        }
    }
    free(known);
}

static void send_started(struct real_client *rc)
{
    const struct real_request *q = &rc->req;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "started");
    cJSON_AddNumberToObject(o, "run", (double)rc->run_id);
    if (q->workload)
        cJSON_AddStringToObject(o, "workload", q->workload->name);
    else
        cJSON_AddStringToObject(o, "trace", q->trace);
    cJSON_AddNumberToObject(o, "seed", (double)q->seed);
    cJSON_AddNumberToObject(o, "ops",
                            (double)(q->ops || !q->workload ? q->ops : q->workload->default_ops));
    cJSON_AddNumberToObject(o, "threads", q->threads);
    cJSON_AddNumberToObject(o, "every", (double)q->every);
    cJSON *a = cJSON_AddArrayToObject(o, "allocators");
    for (size_t i = 0; i < q->n_allocs; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(q->allocs[i]));
    send_json(rc, o);
}

static void start_run(struct real_client *rc)
{
    struct diag d = { { 0 } };
    pthread_mutex_lock(&real_state.mu);
    int full = real_state.runs >= REAL_RUNS_MAX;
    if (!full) {
        real_state.runs++;
        rc->run_id = ++real_state.next_run;
    }
    pthread_mutex_unlock(&real_state.mu);
    if (full) {
        send_error(rc, "%u real runs are going (the most at once): try again when one ends",
                   REAL_RUNS_MAX);
        return;
    }
    if (!rc->req.workload && trace_file(rc, &d) != 0) {
        send_error(rc, "%s", d.msg);
        run_end(rc);
        return;
    }
    atomic_store(&rc->stop, 0);
    send_started(rc); /* before make_lanes: missing allocators' done messages follow it */
    make_lanes(rc);
    atomic_store(&rc->running, 1);
    if (pthread_create(&rc->thread, NULL, run_thread, rc) != 0) {
        atomic_store(&rc->running, 0);
        send_error(rc, "cannot start the run's thread");
        run_end(rc);
        return;
    }
    rc->joinable = 1;
}

/* Stop the run, if one goes, and wait for its thread (its workers are reaped by then). */
static void stop_run(struct real_client *rc)
{
    if (!rc->joinable) return;
    atomic_store(&rc->stop, 1);
    char b = 1;
    ssize_t ignored = write(rc->wake[1], &b, 1);
    (void)ignored;
    pthread_join(rc->thread, NULL);
    rc->joinable = 0;
    char drain[16];
    while (read(rc->wake[0], drain, sizeof drain) > 0)
        ;
}

/* ------------------------------------------------------------------------------------- */
/* The WebSocket                                                                          */

static int ws_connect(const struct mg_connection *conn, void *arg)
{
    (void)conn;
    struct server *srv = arg;
    return atomic_load(&srv->stopping);
}

static void ws_ready(struct mg_connection *conn, void *arg)
{
    struct real_client *rc = calloc(1, sizeof *rc);
    if (rc && pipe2(rc->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(rc);
        rc = NULL;
    }
    if (rc) {
        rc->srv = arg;
        rc->conn = conn;
        pthread_mutex_init(&rc->wmu, NULL);
    }
    mg_set_user_connection_data(conn, rc);
}

static int ws_data(struct mg_connection *conn, int opcode, char *data, size_t len, void *arg)
{
    (void)arg;
    struct real_client *rc = mg_get_user_connection_data(conn);
    int op = opcode & 0xf;
    if (!rc) return 0;
    if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
    if (op != MG_WEBSOCKET_OPCODE_TEXT) return 1; /* pings, pongs: civetweb answers */
    if (len > rc->srv->lim.message_bytes) {
        send_error(rc, "message of %zu bytes: at most %zu", len, rc->srv->lim.message_bytes);
        return 1;
    }
    struct diag d = { { 0 } };
    struct real_request req;
    int kind = real_request_parse(data, len, &req, &d);
    if (kind < 0) {
        send_error(rc, "%s", d.msg);
        return 1;
    }
    if (kind == REAL_MSG_STOP) {
        stop_run(rc);
        return 1;
    }
    if (atomic_load(&rc->running)) {
        send_error(rc, "a run is going on this page: stop it first");
        return 1;
    }
    stop_run(rc); /* join the finished one */
    rc->req = req;
    start_run(rc);
    return 1;
}

static void ws_close(const struct mg_connection *conn, void *arg)
{
    (void)arg;
    struct real_client *rc = mg_get_user_connection_data(conn);
    mg_set_user_connection_data((struct mg_connection *)conn, NULL);
    if (!rc) return;
    atomic_store(&rc->closed, 1);
    stop_run(rc);
    close(rc->wake[0]);
    close(rc->wake[1]);
    pthread_mutex_destroy(&rc->wmu);
    free(rc);
}

void real_register(struct server *srv)
{
    pthread_mutex_lock(&real_state.mu);
    if (!real_state.self_exe[0]) {
        ssize_t n = readlink("/proc/self/exe", real_state.self_exe, sizeof real_state.self_exe - 1);
        real_state.self_exe[n > 0 ? n : 0] = 0;
    }
    pthread_mutex_unlock(&real_state.mu);
    mg_set_websocket_handler(srv->ctx, "/ws/real", ws_connect, ws_ready, ws_data, ws_close, srv);
}

cJSON *real_meta(void)
{
    size_t n;
    struct allocator *known = builtins(&n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t i = 0; i < n; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", known[i].name);
        cJSON_AddBoolToObject(a, "found", known[i].found);
        if (!known[i].found) cJSON_AddStringToObject(a, "note", known[i].note);
        cJSON_AddItemToArray(arr, a);
    }
    free(known);
    cJSON *l = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddNumberToObject(l, "ops_max", REAL_OPS_MAX);
    cJSON_AddNumberToObject(l, "threads_max", REAL_THREADS_MAX);
    cJSON_AddNumberToObject(l, "shots_max", REAL_SHOTS_MAX);
    cJSON_AddNumberToObject(l, "runs_max", REAL_RUNS_MAX);
    cJSON_AddNumberToObject(l, "timeout_s", REAL_TIMEOUT_S);
    return o;
}
