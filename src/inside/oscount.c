/*
 * inside/oscount.c: counting a process's memory system calls by tracing it (inside.h).
 *
 * Method: strace -c's, made cheaper. The child asks to be traced (PTRACE_TRACEME), stops,
 * and once the parent has set its options installs a seccomp filter that returns
 * SECCOMP_RET_TRACE for the counted calls (mmap, munmap, mremap, madvise, brk, futex,
 * mprotect) and lets every other call through without a stop. At each seccomp stop the
 * parent reads the call (PTRACE_GET_SYSCALL_INFO), notes the time and resumes the thread to
 * its syscall-exit stop, where it reads the result and the time again: the time in the call
 * is the difference, less the median of the same measurement on calls that do nothing
 * (calibration: madvise of length 0, which the kernel answers at once). New threads are
 * traced from their creation (PTRACE_O_TRACECLONE) and inherit the filter.
 *
 * What it cannot see: page faults (counted separately, from getrusage), calls made through
 * io_uring or by another process, calls of the vDSO (none here), and calls the harness
 * makes outside the counting windows, which it does not want to see. Tracing slows each
 * counted call by the two stops (microseconds), so an allocator whose policy depends on
 * time (jemalloc's decay, mimalloc's purge delay, hlmalloc's purger) may purge differently
 * than in the timed pass.
 *
 * Windows: a thread's calls count between its BEGIN and END markers. Threads that never
 * sent a marker (the allocator's own: a purger thread) count as "background" while any
 * window is open. The markers and the calibration calls are never counted.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inside/inside.h"
#include "util/clock.h"
#include "util/diag.h"

#define MARKER_BASE  ((uintptr_t)0x484c00000000) /* page-aligned and never mapped by us */
#define MARKER_SPAN  ((uintptr_t)16 << 12)
#define CALIBRATIONS 64
#define MAX_THREADS  1024
#define FILTER_ARCH  AUDIT_ARCH_X86_64 /* heaplab is x86-64 (util/clock.h reads the TSC) */

static const int counted_nr[OSCALL_COUNT] = {
    [OSCALL_MMAP] = SYS_mmap,         [OSCALL_MUNMAP] = SYS_munmap, [OSCALL_MREMAP] = SYS_mremap,
    [OSCALL_MADVISE] = SYS_madvise,   [OSCALL_BRK] = SYS_brk,       [OSCALL_FUTEX] = SYS_futex,
    [OSCALL_MPROTECT] = SYS_mprotect,
};

void oscount_marker(enum oscount_marker m)
{
    syscall(SYS_madvise, (void *)(MARKER_BASE + ((uintptr_t)m << 12)), (size_t)0, MADV_NORMAL);
}

/* ------------------------------------------------------------------------------------- */
/* The child                                                                              */

/* What the child tells the parent, in a shared page. */
struct child_report {
    int failed_errno;     /* why it could not be traced, or 0 */
    char failed_step[32]; /* "PTRACE_TRACEME", "seccomp" */
    uint64_t pass_ns;
    uint64_t minor_faults, major_faults;
};

static int install_filter(void)
{
    struct sock_filter f[4 + 2 * OSCALL_COUNT];
    unsigned n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    for (unsigned i = 0; i < OSCALL_COUNT; i++) /* a match jumps over the rest to TRACE */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)counted_nr[i],
                                              (unsigned char)(OSCALL_COUNT - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void child_fail(struct child_report *rep, const char *step)
{
    rep->failed_errno = errno ? errno : EPERM;
    snprintf(rep->failed_step, sizeof rep->failed_step, "%s", step);
    _exit(3);
}

static void child_main(void (*fn)(void *), void *arg, struct child_report *rep)
{
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) child_fail(rep, "PTRACE_TRACEME");
    raise(SIGSTOP); /* the parent sets its options, then resumes us */
    if (install_filter() != 0) child_fail(rep, "seccomp");
    for (int i = 0; i < CALIBRATIONS; i++)
        oscount_marker(OSCOUNT_CALIBRATE);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = clock_ns();
    fn(arg);
    rep->pass_ns = clock_ns() - t0;
    getrusage(RUSAGE_SELF, &r1);
    rep->minor_faults = (uint64_t)(r1.ru_minflt - r0.ru_minflt);
    rep->major_faults = (uint64_t)(r1.ru_majflt - r0.ru_majflt);
    _exit(0);
}

/* ------------------------------------------------------------------------------------- */
/* The tracer                                                                             */

struct tstate {
    pid_t tid;
    int harness; /* has sent a marker: one of the harness's threads */
    int window;  /* between its BEGIN and END */
    int in_call; /* stopped at a counted call's entry, resumed to its exit */
    int call;    /* enum oscall, or -1 for a marker */
    int marker;  /* the marker, when call == -1 */
    uint64_t args[6];
    uint64_t t0;
};

struct tracer {
    struct tstate t[MAX_THREADS];
    size_t n;
    unsigned open_windows; /* threads inside a window */
    uint64_t brk_now;      /* the break as last returned, or 0 */
    uint64_t cal[CALIBRATIONS];
    unsigned n_cal;
    struct oscount_result *out; /* out->floor_ns is set once the calibration is done */
};

static struct tstate *thread_of(struct tracer *tr, pid_t tid, int create)
{
    for (size_t i = 0; i < tr->n; i++)
        if (tr->t[i].tid == tid) return &tr->t[i];
    if (!create || tr->n == MAX_THREADS) return NULL;
    struct tstate *s = &tr->t[tr->n++];
    memset(s, 0, sizeof *s);
    s->tid = tid;
    return s;
}

static int call_index(uint64_t nr)
{
    for (int i = 0; i < OSCALL_COUNT; i++)
        if ((uint64_t)counted_nr[i] == nr) return i;
    return -1;
}

/* Is this a marker call? Its marker, else 0. */
static int marker_of(int call, const uint64_t *args)
{
    if (call != OSCALL_MADVISE || args[1] != 0 || args[2] != MADV_NORMAL) return 0;
    if (args[0] < MARKER_BASE || args[0] >= MARKER_BASE + MARKER_SPAN) return 0;
    return (int)((args[0] - MARKER_BASE) >> 12);
}

static void add_stat(struct oscount_stat *s, uint64_t ns, uint64_t bytes, int error)
{
    s->count++;
    s->time_ns += ns;
    s->bytes += bytes;
    s->errors += error != 0;
}

/* A counted call has returned `rval` after `dt` ns: add it where it belongs. */
static void account(struct tracer *tr, struct tstate *s, int64_t rval, uint64_t dt)
{
    struct oscount_set *set = s->window                             ? &tr->out->pass
                              : !s->harness && tr->open_windows > 0 ? &tr->out->background
                                                                    : NULL;
    int error = rval < 0 && rval >= -4095;
    uint64_t bytes = 0;
    switch (s->call) {
    case OSCALL_MMAP:
    case OSCALL_MUNMAP:
    case OSCALL_MADVISE:
    case OSCALL_MPROTECT:
        bytes = s->args[1];
        break;
    case OSCALL_MREMAP:
        bytes = s->args[2];
        break;
    case OSCALL_BRK:
        if (!error && tr->brk_now && (uint64_t)rval != tr->brk_now)
            bytes = (uint64_t)rval > tr->brk_now ? (uint64_t)rval - tr->brk_now
                                                 : tr->brk_now - (uint64_t)rval;
        if (!error) tr->brk_now = (uint64_t)rval;
        break;
    default:
        break;
    }
    if (!set) return;
    uint64_t floor = tr->out->floor_ns, ns = dt > floor ? dt - floor : 0;
    add_stat(&set->call[s->call], ns, bytes, error);
    if (s->call == OSCALL_MADVISE && s->args[2] < OSCOUNT_ADVICE_MAX)
        add_stat(&set->advice[s->args[2]], ns, bytes, error);
    if (s->call == OSCALL_FUTEX)
        add_stat(&set->futex_op[(s->args[1] & FUTEX_CMD_MASK) % OSCOUNT_FUTEX_OPS], ns, 0, error);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void on_marker(struct tracer *tr, struct tstate *s, uint64_t dt)
{
    s->harness = 1;
    if (s->marker == OSCOUNT_BEGIN && !s->window) {
        s->window = 1;
        tr->open_windows++;
    } else if (s->marker == OSCOUNT_END && s->window) {
        s->window = 0;
        tr->open_windows--;
    } else if (s->marker == OSCOUNT_CALIBRATE && tr->n_cal < CALIBRATIONS) {
        tr->cal[tr->n_cal++] = dt;
        if (tr->n_cal == CALIBRATIONS) { /* before any counted call: the child calibrates first */
            qsort(tr->cal, tr->n_cal, sizeof tr->cal[0], cmp_u64);
            tr->out->floor_ns = tr->cal[tr->n_cal / 2];
        }
    }
}

/* A seccomp stop: note the call and the time, run it to its exit stop. */
static void on_seccomp(struct tracer *tr, pid_t tid)
{
    struct __ptrace_syscall_info si;
    struct tstate *s = thread_of(tr, tid, 1);
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof si, &si);
    if (s) s->in_call = 0;
    if (s && n > 0 && si.op == PTRACE_SYSCALL_INFO_SECCOMP) {
        s->call = call_index(si.seccomp.nr);
        memcpy(s->args, si.seccomp.args, sizeof s->args);
        s->marker = s->call >= 0 ? marker_of(s->call, s->args) : 0;
        if (s->marker) s->call = -1;
        s->in_call = s->call >= 0 || s->marker;
        s->t0 = clock_ns();
    }
    ptrace(PTRACE_SYSCALL, tid, NULL, NULL);
}

/* A syscall stop (entry or exit): at the exit of a call we ran to, account for it. */
static void on_syscall_stop(struct tracer *tr, pid_t tid)
{
    uint64_t t1 = clock_ns();
    struct __ptrace_syscall_info si;
    struct tstate *s = thread_of(tr, tid, 1);
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof si, &si);
    if (n > 0 && si.op == PTRACE_SYSCALL_INFO_ENTRY) { /* the entry after a seccomp stop */
        ptrace(PTRACE_SYSCALL, tid, NULL, NULL);
        return;
    }
    if (s && s->in_call && n > 0 && si.op == PTRACE_SYSCALL_INFO_EXIT) {
        uint64_t dt = t1 - s->t0;
        if (s->call >= 0)
            account(tr, s, si.exit.rval, dt);
        else
            on_marker(tr, s, dt);
        s->in_call = 0;
    }
    ptrace(PTRACE_CONT, tid, NULL, NULL);
}

/* Trace the child `pid` until it exits. */
static void trace(struct tracer *tr, pid_t pid)
{
    int status;
    if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status)) return;
    ptrace(PTRACE_SETOPTIONS, pid, NULL,
           (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD
                          | PTRACE_O_EXITKILL));
    thread_of(tr, pid, 1)->harness = 1;
    ptrace(PTRACE_CONT, pid, NULL, NULL);
    for (;;) {
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (tid == pid) return;
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        int sig = WSTOPSIG(status), event = status >> 16;
        struct tstate *s = thread_of(tr, tid, 0);
        if (event == PTRACE_EVENT_SECCOMP) {
            on_seccomp(tr, tid);
        } else if (sig == (SIGTRAP | 0x80)) {
            on_syscall_stop(tr, tid);
        } else if (event) { /* PTRACE_EVENT_CLONE: the new thread is traced already */
            ptrace(PTRACE_CONT, tid, NULL, NULL);
        } else if (!s && sig == SIGSTOP) { /* a new thread's first stop */
            thread_of(tr, tid, 1);
            ptrace(PTRACE_CONT, tid, NULL, NULL);
        } else {
            ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig); /* deliver it */
        }
    }
}

int oscount_run(void (*fn)(void *arg), void *arg, struct oscount_result *out, struct diag *d)
{
    memset(out, 0, sizeof *out);
    struct child_report *rep =
            mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    static struct tracer tr; /* about 100 KiB, outside the heap being counted */
    if (rep == MAP_FAILED) return diag_set(d, "cannot map the tracer's page: %s", strerror(errno));
    memset(&tr, 0, sizeof tr);
    tr.out = out;
    pid_t pid = fork();
    if (pid < 0) {
        munmap(rep, sizeof *rep);
        return diag_set(d, "cannot fork the traced child: %s", strerror(errno));
    }
    if (pid == 0) child_main(fn, arg, rep);
    trace(&tr, pid);
    int status = 0;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
        ;
    out->threads = tr.n;
    out->pass_ns = rep->pass_ns;
    out->minor_faults = rep->minor_faults;
    out->major_faults = rep->major_faults;
    if (rep->failed_errno) {
        out->status = -1;
        snprintf(out->note, sizeof out->note, "not counted: %s: %s", rep->failed_step,
                 strerror(rep->failed_errno));
    } else if (tr.n_cal == 0) {
        out->status = -1;
        snprintf(out->note, sizeof out->note, "not counted: the child was not traced");
    }
    munmap(rep, sizeof *rep);
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Names and JSON                                                                         */

const char *oscount_call_name(enum oscall c)
{
    static const char *const names[OSCALL_COUNT] = { "mmap", "munmap", "mremap",  "madvise",
                                                     "brk",  "futex",  "mprotect" };
    return (unsigned)c < OSCALL_COUNT ? names[c] : "?";
}

const char *oscount_advice_name(unsigned advice)
{
    static const char *const names[] = {
        [MADV_NORMAL] = "normal",
        [MADV_RANDOM] = "random",
        [MADV_SEQUENTIAL] = "sequential",
        [MADV_WILLNEED] = "willneed",
        [MADV_DONTNEED] = "dontneed",
        [MADV_FREE] = "free",
        [MADV_REMOVE] = "remove",
        [MADV_DONTFORK] = "dontfork",
        [MADV_DOFORK] = "dofork",
        [MADV_MERGEABLE] = "mergeable",
        [MADV_UNMERGEABLE] = "unmergeable",
        [MADV_HUGEPAGE] = "hugepage",
        [MADV_NOHUGEPAGE] = "nohugepage",
        [MADV_DONTDUMP] = "dontdump",
        [MADV_DODUMP] = "dodump",
        [MADV_WIPEONFORK] = "wipeonfork",
        [MADV_KEEPONFORK] = "keeponfork",
        [MADV_COLD] = "cold",
        [MADV_PAGEOUT] = "pageout",
        [22] = "populate_read",
        [23] = "populate_write",
        [24] = "dontneed_locked",
        [25] = "collapse",
    };
    return advice < sizeof names / sizeof names[0] ? names[advice] : NULL;
}

const char *oscount_futex_name(unsigned op)
{
    static const char *const names[] = { "wait",           "wake",        "fd",
                                         "requeue",        "cmp_requeue", "wake_op",
                                         "lock_pi",        "unlock_pi",   "trylock_pi",
                                         "wait_bitset",    "wake_bitset", "wait_requeue_pi",
                                         "cmp_requeue_pi", "lock_pi2" };
    return op < sizeof names / sizeof names[0] ? names[op] : NULL;
}

static cJSON *stat_json(const struct oscount_stat *s, int with_bytes)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "count", (double)s->count);
    cJSON_AddNumberToObject(j, "errors", (double)s->errors);
    cJSON_AddNumberToObject(j, "time_ns", (double)s->time_ns);
    if (with_bytes) cJSON_AddNumberToObject(j, "bytes", (double)s->bytes);
    return j;
}

static cJSON *set_json(const struct oscount_set *set)
{
    cJSON *j = cJSON_CreateObject();
    for (int c = 0; c < OSCALL_COUNT; c++) {
        cJSON *cj = stat_json(&set->call[c], c != OSCALL_FUTEX);
        if (c == OSCALL_MADVISE) {
            cJSON *by = cJSON_AddObjectToObject(cj, "by_advice");
            for (unsigned a = 0; a < OSCOUNT_ADVICE_MAX; a++) {
                if (!set->advice[a].count) continue;
                char other[16];
                const char *name = oscount_advice_name(a);
                if (!name) {
                    snprintf(other, sizeof other, "%u", a);
                    name = other;
                }
                cJSON_AddItemToObject(by, name, stat_json(&set->advice[a], 1));
            }
        }
        if (c == OSCALL_FUTEX) {
            cJSON *by = cJSON_AddObjectToObject(cj, "by_op");
            for (unsigned o = 0; o < OSCOUNT_FUTEX_OPS; o++) {
                if (!set->futex_op[o].count) continue;
                char other[16];
                const char *name = oscount_futex_name(o);
                if (!name) {
                    snprintf(other, sizeof other, "%u", o);
                    name = other;
                }
                cJSON_AddItemToObject(by, name, stat_json(&set->futex_op[o], 0));
            }
        }
        cJSON_AddItemToObject(j, oscount_call_name((enum oscall)c), cj);
    }
    return j;
}

cJSON *oscount_json(const struct oscount_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "method", "ptrace+seccomp");
    cJSON_AddStringToObject(j, "status", r->status == 0 ? "ok" : "unavailable");
    if (r->note[0]) cJSON_AddStringToObject(j, "note", r->note);
    if (r->status != 0) return j;
    cJSON_AddNumberToObject(j, "floor_ns", (double)r->floor_ns);
    cJSON_AddNumberToObject(j, "pass_ns", (double)r->pass_ns);
    cJSON_AddNumberToObject(j, "threads", (double)r->threads);
    cJSON_AddNumberToObject(j, "minor_faults", (double)r->minor_faults);
    cJSON_AddNumberToObject(j, "major_faults", (double)r->major_faults);
    cJSON_AddItemToObject(j, "calls", set_json(&r->pass));
    cJSON_AddItemToObject(j, "background", set_json(&r->background));
    return j;
}
