/*
 * trace/shim/start.c: start-up, the end at exit, and the fatal signals.
 *
 * The first call of any wrapper, or the constructor, resolves the next definitions with
 * dlsym(RTLD_NEXT) (its own allocations come from the bump buffer, bootstrap.c), reads the
 * HEAPLAB_TRACE_* variables and creates the file. The destructor flushes every thread.
 *
 * For the signals whose default action ends the process, where the disposition is still the
 * default at start, a handler flushes every thread with write(2) only, restores the default
 * and raises the signal again, so the process dies as it would have. The sigaction and
 * signal wrappers show the program the action it set (the default, at first), so a program
 * that looks behaves as untraced, and one that installs its own handler replaces ours.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

struct shim_state shim;
__thread struct shim_tls tls __attribute__((tls_model("initial-exec")));

static uint64_t parse_uint(const char *s, uint64_t dflt)
{
    if (!s || !*s) return dflt;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > UINT64_MAX / 10 - 10) return dflt;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* ---- signals ------------------------------------------------------------------------- */

/* Signals whose default action ends the process. The recorder's handler is installed only
 * where the disposition is still the default. */
static const int fatal_signals[N_FATAL] = {
    SIGSEGV, SIGBUS,  SIGABRT, SIGFPE,  SIGILL,  SIGTERM, SIGINT,  SIGHUP,
    SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ, SIGSYS,
};

static int fatal_index(int sig)
{
    for (int i = 0; i < N_FATAL; i++)
        if (fatal_signals[i] == sig) return i;
    return -1;
}

static int is_default(const struct sigaction *act)
{
    return !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    if (getpid() == atomic_load(&shim.pid)) flush_all(TRACE_END_SIGNAL, sig);
    int i = fatal_index(sig);
    if (i >= 0) {
        atomic_store(&shim.ours[i], 0);
        shim.real.sigaction(sig, &shim.old_sa[i], NULL);
    }
    raise(sig); /* blocked while we run: delivered, with the default action, on return */
    errno = saved;
}

static int install_one(int i)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (shim.real.sigaction(fatal_signals[i], &sa, NULL) != 0) return -1;
    atomic_store(&shim.ours[i], 1);
    return 0;
}

static void install_signals(void)
{
    if (!shim.real.sigaction) return;
    for (int i = 0; i < N_FATAL; i++) {
        struct sigaction old;
        if (shim.real.sigaction(fatal_signals[i], NULL, &old) != 0 || !is_default(&old)) continue;
        shim.old_sa[i] = old;
        install_one(i);
    }
}

/*
 * Where the recorder's handler is installed the program sees, and can replace, the action
 * it replaced (the default). Setting the default keeps (or puts back) the recorder's handler,
 * which ends in the default action anyway.
 */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    ensure_started();
    if (!shim.real.sigaction) {
        errno = ENOSYS;
        return -1;
    }
    int i = fatal_index(sig);
    if (i < 0 || atomic_load(&shim.run) != ST_ON) return shim.real.sigaction(sig, act, old);
    int ours = atomic_load(&shim.ours[i]);
    struct sigaction prev;
    if (ours)
        prev = shim.old_sa[i];
    else if (shim.real.sigaction(sig, NULL, &prev) != 0)
        return -1;
    if (act && is_default(act)) {
        shim.old_sa[i] = *act;
        if (!ours && install_one(i) != 0) return -1;
    } else if (act) {
        if (shim.real.sigaction(sig, act, NULL) != 0) return -1;
        atomic_store(&shim.ours[i], 0);
    }
    if (old) *old = prev;
    return 0;
}

/* As glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its handler). */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    ensure_started();
    if (fatal_index(sig) < 0 && shim.real.signal) return shim.real.signal(sig, handler);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sig > 0 && sig < NSIG) sigaddset(&sa.sa_mask, sig);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* ---- start --------------------------------------------------------------------------- */

#define RESOLVE(field, name)                           \
    do {                                               \
        void *sym_ = dlsym(RTLD_NEXT, name);           \
        memcpy(&shim.real.field, &sym_, sizeof(sym_)); \
    } while (0)

static void resolve(void)
{
    RESOLVE(malloc, "malloc");
    RESOLVE(free, "free");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(reallocarray, "reallocarray");
    RESOLVE(posix_memalign, "posix_memalign");
    RESOLVE(aligned_alloc, "aligned_alloc");
    RESOLVE(memalign, "memalign");
    RESOLVE(valloc, "valloc");
    RESOLVE(pvalloc, "pvalloc");
    RESOLVE(free_sized, "free_sized");
    RESOLVE(free_aligned_sized, "free_aligned_sized");
    RESOLVE(fork, "fork");
    RESOLVE(execve, "execve");
    RESOLVE(execv, "execv");
    RESOLVE(execvp, "execvp");
    RESOLVE(execvpe, "execvpe");
    RESOLVE(fexecve, "fexecve");
    RESOLVE(exit_, "_exit");
    RESOLVE(Exit_, "_Exit");
    RESOLVE(sigaction, "sigaction");
    RESOLVE(signal, "signal");
}

static void shim_init(void)
{
    int expect = ST_UNINIT;
    if (!atomic_compare_exchange_strong(&shim.run, &expect, ST_INIT)) return;
    int saved = errno;
    tls.nest++;
    resolve();
    int ok = shim.real.malloc && shim.real.free && shim.real.calloc && shim.real.realloc;
    if (ok) {
        uint64_t cap = parse_uint(getenv("HEAPLAB_TRACE_BUFFER"), DEFAULT_BUFFER);
        if (cap < 4096) cap = 4096;
        if (cap > (16u << 20)) cap = 16u << 20;
        shim.cap = (uint32_t)cap;
        atomic_store(&shim.pid, getpid());
        ok = out_start(getenv("HEAPLAB_TRACE_FILE"), parse_uint(getenv("HEAPLAB_TRACE_SESSION"), 0))
             == 0;
    }
    if (ok) {
        ok = pthread_key_create(&shim.key, thread_end) == 0;
        pthread_atfork(NULL, NULL, fork_child);
        install_signals();
    }
    tls.nest--;
    errno = saved;
    atomic_store_explicit(&shim.run, ok ? ST_ON : ST_OFF, memory_order_release);
}

COLD int settle(void)
{
    int st = atomic_load_explicit(&shim.run, memory_order_acquire);
    if (st == ST_UNINIT) {
        shim_init();
        st = atomic_load_explicit(&shim.run, memory_order_acquire);
    }
    if (st == ST_INIT && tls.nest == 0) {
        while ((st = atomic_load_explicit(&shim.run, memory_order_acquire)) == ST_INIT)
            sched_yield();
    }
    return st == ST_ON && tls.nest == 0;
}

void ensure_started(void)
{
    if (atomic_load_explicit(&shim.run, memory_order_acquire) == ST_UNINIT) settle();
}

__attribute__((constructor)) static void shim_ctor(void)
{
    settle();
}

__attribute__((destructor)) static void shim_dtor(void)
{
    if (atomic_load(&shim.run) == ST_ON && getpid() == atomic_load(&shim.pid))
        flush_all(TRACE_END_EXIT, 0);
}
