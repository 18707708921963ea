/* bench/spawn.c: running a child process with a timeout, collecting its output and usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "util/cleanup.h"
#include "util/clock.h"

#define OUT_CAP (16u << 20) /* stdout kept at most */
#define ERR_CAP 4096        /* stderr: the last this many bytes */

static void append(char **p, size_t *n, size_t cap, const char *src, size_t len, int keep_tail)
{
    if (*p == NULL) {
        *p = malloc(cap + 1);
        if (!*p) return;
        *n = 0;
    }
    if (len > cap) {
        src += len - cap;
        len = cap;
    }
    if (*n + len > cap) {
        if (!keep_tail)
            len = cap - *n;
        else {
            size_t drop = *n + len - cap;
            memmove(*p, *p + drop, *n - drop);
            *n -= drop;
        }
    }
    memcpy(*p + *n, src, len);
    *n += len;
    (*p)[*n] = 0;
}

static uint64_t tv_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

int spawn_run(char *const argv[], char **env, unsigned timeout_s, int flags, struct spawn_result *r)
{
    memset(r, 0, sizeof(*r));
    int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
    int capture_out = flags & SPAWN_CAPTURE_OUT, show = flags & SPAWN_SHOW_OUTPUT;
    if (capture_out && pipe2(po, O_CLOEXEC) != 0) return -1;
    if (!show && pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        if (po[0] >= 0) {
            close(po[0]);
            close(po[1]);
        }
        errno = e;
        return -1;
    }
    uint64_t t0 = clock_ns();
    /* The child leads its own process group and is registered before an interrupt can be
     * handled (util/cleanup.h, C1 and C2), so an interrupted run kills it and all it started. */
    sigset_t saved;
    cleanup_block(&saved);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        cleanup_restore(&saved);
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0) close(po[i]);
            if (pe[i] >= 0) close(pe[i]);
        }
        errno = e;
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        cleanup_restore(&saved);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) dup2(devnull, 0);
        if (capture_out)
            dup2(po[1], 1);
        else if (!show && devnull >= 0)
            dup2(devnull, 1);
        if (!show) dup2(pe[1], 2);
        execve(argv[0], argv, env);
        dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    cleanup_add_child(pid);
    cleanup_restore(&saved);
    if (po[1] >= 0) close(po[1]);
    if (pe[1] >= 0) close(pe[1]);
    uint64_t deadline = t0 + (uint64_t)timeout_s * 1000000000u;
    struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
    int open_fds = (po[0] >= 0) + (pe[0] >= 0);
    char chunk[65536];
    while (open_fds > 0) {
        uint64_t now = clock_ns();
        if (timeout_s && now >= deadline) {
            r->timed_out = 1;
            kill(-pid, SIGKILL);
            break;
        }
        int wait_ms = timeout_s ? (int)((deadline - now) / 1000000u) + 1 : -1;
        int n_ready = poll(fds, 2, wait_ms);
        if (n_ready < 0 && errno == EINTR) continue;
        if (n_ready < 0) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0)
                append(&r->out, &r->out_n, OUT_CAP, chunk, (size_t)n, 0);
            else
                append(&r->err, &r->err_n, ERR_CAP, chunk, (size_t)n, 1);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    /* Output closed but the child may still run (it closed its fds): keep the deadline. */
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    for (;;) {
        pid_t w = wait4(pid, &r->status, timeout_s ? WNOHANG : 0, &ru);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (w == 0) {
            if (clock_ns() >= deadline) {
                r->timed_out = 1;
                kill(-pid, SIGKILL);
                while (wait4(pid, &r->status, 0, &ru) < 0 && errno == EINTR)
                    ;
                break;
            }
            struct timespec ts = { 0, 2000000 };
            nanosleep(&ts, NULL);
        }
    }
    /* The group may outlive its leader (a program's own background children): end it. */
    kill(-pid, SIGKILL);
    cleanup_remove_child(pid);
    r->wall_ns = clock_ns() - t0;
    r->usage.user_ns = tv_ns(ru.ru_utime);
    r->usage.sys_ns = tv_ns(ru.ru_stime);
    r->usage.minor_faults = (uint64_t)ru.ru_minflt;
    r->usage.major_faults = (uint64_t)ru.ru_majflt;
    r->usage.maxrss_bytes = (uint64_t)ru.ru_maxrss * 1024u;
    return 0;
}

void spawn_result_free(struct spawn_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
