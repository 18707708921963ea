/*
 * trace/shim/process.c: fork, exec* and _exit.
 *
 * fork: the child (a pthread_atfork handler) drops every buffered event (they are the
 * parent's, and the parent writes them), numbers its threads from 0 again, keeps the
 * sequence counter (its header records it as fork_seq) and creates FILE.<pid> on its first
 * write, so a child that execs without allocating leaves no file. vfork children share the
 * parent's memory: they are recognised by their pid and leave the parent's state alone.
 *
 * exec*: everything is flushed first (the image is about to be replaced; the new one
 * inherits LD_PRELOAD and writes its own file). If the exec fails, recording resumes with
 * an exec-failed mark. _exit and _Exit flush before they end the process.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* fork, in the child: the parent's buffered events are the parent's to write. */
void fork_child(void)
{
    if (atomic_load(&shim.run) != ST_ON) return;
    uint64_t seq = atomic_load(&shim.seq.v) & ~SEQ_FROZEN;
    uint32_t hi = atomic_load(&shim.slots_hi);
    for (uint32_t i = 0; i < hi; i++) {
        atomic_store(&shim.slots[i].committed, 0);
        atomic_store(&shim.slots[i].busy, 0);
        atomic_store(&shim.slots[i].used, 0);
    }
    tls.slot = NULL;
    tls.mode = M_NEW;
    tls.exit_round = 0;
    atomic_store(&shim.threads, 0);
    atomic_store(&shim.events, 0);
    atomic_store(&shim.chunks, 0);
    atomic_store(&shim.dropped, 0);
    atomic_store(&shim.seq.v, seq);
    atomic_store(&shim.flushing, 0);
    atomic_store(&shim.pid, getpid());
    int fd = atomic_exchange(&shim.out.fd, -1);
    if (fd >= 0) close(fd);
    atomic_store(&shim.out.fd_bad, 0);
    shim.out.forked = 1;
    shim.out.fork_seq = seq;
    atomic_store(&shim.out.open, OUT_TODO); /* created on the first write */
}

EXPORT pid_t fork(void)
{
    ensure_started();
    pid_t p = shim.real.fork ? shim.real.fork() : (pid_t)syscall(SYS_fork);
    if (p > 0 && recording()) {
        tls.nest = 1;
        struct tf_ev e = { .kind = TRACE_MARK, .mark = TRACE_MARK_FORK, .value = (uint64_t)p };
        record(&e);
        tls.nest = 0;
    }
    return p;
}

/* Before an exec: flush everything (the image is about to be replaced). Not in a vfork
 * child, which shares the parent's memory and must leave its recording alone. */
static int exec_begin(void)
{
    ensure_started();
    if (atomic_load(&shim.run) != ST_ON || getpid() != atomic_load(&shim.pid)) return 0;
    return flush_all(TRACE_END_EXEC, 0);
}

static void exec_failed(int began)
{
    if (!began) return;
    int err = errno;
    unfreeze();
    if (tls.nest == 0) {
        tls.nest = 1;
        struct tf_ev e = { .kind = TRACE_MARK,
                           .mark = TRACE_MARK_EXEC_FAILED,
                           .value = (uint64_t)err };
        record(&e);
        tls.nest = 0;
    }
    errno = err;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = shim.real.execve ? shim.real.execve(path, argv, envp)
                             : (int)syscall(SYS_execve, path, argv, envp);
    exec_failed(b);
    return r;
}

EXPORT int execv(const char *path, char *const argv[])
{
    int b = exec_begin();
    int r = shim.real.execv(path, argv);
    exec_failed(b);
    return r;
}

EXPORT int execvp(const char *file, char *const argv[])
{
    int b = exec_begin();
    int r = shim.real.execvp(file, argv);
    exec_failed(b);
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = shim.real.execvpe(file, argv, envp);
    exec_failed(b);
    return r;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    int b = exec_begin();
    int r = shim.real.fexecve(fd, argv, envp);
    exec_failed(b);
    return r;
}

/* execl, execlp, execle: the arguments into an array (on the stack: these may run in a
 * vfork child, where malloc is off limits), then the array form. */
#define LIST_MAX 1024

/* -1 with errno E2BIG when there are more than LIST_MAX arguments. */
static int collect_args(char **argv, const char *arg0, va_list ap)
{
    size_t n = 0;
    argv[n++] = (char *)arg0;
    while (argv[n - 1]) {
        if (n == LIST_MAX) {
            errno = E2BIG;
            return -1;
        }
        argv[n++] = va_arg(ap, char *);
    }
    return 0;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    va_end(ap);
    return bad ? -1 : execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    va_end(ap);
    return bad ? -1 : execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    char *argv[LIST_MAX];
    va_list ap;
    va_start(ap, arg);
    int bad = collect_args(argv, arg, ap);
    char *const *envp = bad ? NULL : va_arg(ap, char *const *);
    va_end(ap);
    return bad ? -1 : execve(path, argv, envp);
}

static __attribute__((noreturn)) void exit_now(void (*fn)(int), int status)
{
    ensure_started();
    if (atomic_load(&shim.run) == ST_ON && getpid() == atomic_load(&shim.pid))
        flush_all(TRACE_END__EXIT, 0);
    if (fn) fn(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _exit(int status)
{
    exit_now(shim.real.exit_, status);
}

EXPORT void _Exit(int status)
{
    exit_now(shim.real.Exit_, status);
}
