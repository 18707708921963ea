/*
 * trace/shim/output.c: this process's trace file.
 *
 * Created with O_EXCL, never overwritten: FILE for the first process to record, FILE.<pid>
 * (or FILE.<pid>.<n>) for the others, at start-up or, in a fork child, on its first write.
 * The descriptor is moved to 200 or above, out of the way of programs that expect low
 * numbers to be theirs, and checked (fstat: same device and inode) before each write: if the
 * program closed it or put another file at its number, the file is opened again by name,
 * and if that fails recording stops rather than write into someone else's file. Everything
 * here is async-signal-safe except out_start (start-up only).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

static char *put_str(char *p, const char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_uint(char *p, const char *end, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

/* One line on stderr, for the few things a user must know (the file cannot be created). */
static void complain(const char *what, const char *path, int err)
{
    char line[PATH_MAX + 128];
    char *p = line, *end = line + sizeof(line) - 1;
    p = put_str(p, end, "heaplab-trace: ");
    p = put_str(p, end, what);
    p = put_str(p, end, path);
    p = put_str(p, end, " (errno ");
    p = put_uint(p, end, (uint64_t)err);
    p = put_str(p, end, "); not recording\n");
    ssize_t w = write(2, line, (size_t)(p - line));
    (void)w;
}

/* The program closed our descriptor (daemons close them all; so do some children before
 * exec) or put another file at its number: open our file again by name. */
static int out_reopen(void)
{
    int z = 0;
    if (!atomic_compare_exchange_strong(&shim.out.reopening, &z, 1)) return -1;
    int ok = 0, fd = open(shim.out.path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_dev == shim.out.dev && sb.st_ino == shim.out.ino) {
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
            if (high >= 0) {
                close(fd);
                fd = high;
            }
            atomic_store(&shim.out.fd, fd);
            ok = 1;
        } else {
            close(fd);
        }
    }
    atomic_store(&shim.out.reopening, 0);
    return ok ? 0 : -1;
}

void out_write(const void *data, size_t n)
{
    /* A process made by clone() without fork() shares our state but not our pid: its
     * events would land in the parent's file under the parent's thread numbers. */
    if (UNLIKELY(getpid() != atomic_load_explicit(&shim.pid, memory_order_relaxed))) return;
    if (atomic_load_explicit(&shim.out.open, memory_order_acquire) != OUT_DONE) out_open();
    int fd = atomic_load_explicit(&shim.out.fd, memory_order_relaxed);
    if (fd < 0 || atomic_load_explicit(&shim.out.fd_bad, memory_order_relaxed)) return;
    /* Never write into someone else's file. */
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_dev != shim.out.dev || sb.st_ino != shim.out.ino) {
        if (out_reopen() != 0) {
            atomic_store(&shim.out.fd_bad, 1);
            return;
        }
        fd = atomic_load_explicit(&shim.out.fd, memory_order_relaxed);
    }
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            atomic_store(&shim.out.fd_bad, 1);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static size_t read_file(const char *path, char *buf, size_t cap, int *trunc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    char extra;
    *trunc = n == cap && read(fd, &extra, 1) == 1;
    close(fd);
    return n;
}

static void out_facts(void)
{
    ssize_t n = readlink("/proc/self/exe", shim.out.program, sizeof(shim.out.program) - 1);
    shim.out.program[n > 0 ? n : 0] = 0;
    shim.out.cmdline_len = read_file("/proc/self/cmdline", shim.out.cmdline,
                                     sizeof(shim.out.cmdline), &shim.out.cmdline_trunc);
    if (uname(&shim.out.uts) != 0) memset(&shim.out.uts, 0, sizeof(shim.out.uts));
    Dl_info di;
    void *sym;
    memcpy(&sym, &shim.real.malloc, sizeof(sym));
    shim.out.next_malloc[0] = 0;
    if (sym && dladdr(sym, &di) && di.dli_fname) {
        char *end = shim.out.next_malloc + sizeof(shim.out.next_malloc) - 1;
        *put_str(shim.out.next_malloc, end, di.dli_fname) = 0;
    }
}

static size_t build_header(void)
{
    uint8_t *p = shim.out.hdr + TF_PREFIX_BYTES, *end = shim.out.hdr + sizeof(shim.out.hdr);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t mono = mono_ns();
    p = tf_put_field_str(p, end, TF_H_PROGRAM, shim.out.program);
    p = tf_put_field(p, end, TF_H_ARGV, shim.out.cmdline, shim.out.cmdline_len);
    if (shim.out.cmdline_trunc) p = tf_put_field_u64(p, end, TF_H_ARGV_TRUNC, 1);
    p = tf_put_field_u64(p, end, TF_H_PID, (uint64_t)getpid());
    p = tf_put_field_u64(p, end, TF_H_PPID, (uint64_t)getppid());
    p = tf_put_field_u64(p, end, TF_H_REALTIME_NS,
                         (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec);
    p = tf_put_field_u64(p, end, TF_H_MONO_NS, mono);
    p = tf_put_field_str(p, end, TF_H_SYSNAME, shim.out.uts.sysname);
    p = tf_put_field_str(p, end, TF_H_NODENAME, shim.out.uts.nodename);
    p = tf_put_field_str(p, end, TF_H_RELEASE, shim.out.uts.release);
    p = tf_put_field_str(p, end, TF_H_VERSION, shim.out.uts.version);
    p = tf_put_field_str(p, end, TF_H_MACHINE, shim.out.uts.machine);
    p = tf_put_field_u64(p, end, TF_H_BUFFER, shim.cap);
    p = tf_put_field_str(p, end, TF_H_WRITER, "thread");
    p = tf_put_field_str(p, end, TF_H_CLOCK, SHIM_CLOCK);
    p = tf_put_field_str(p, end, TF_H_RECORDER, "libheaplab-trace " HEAPLAB_VERSION);
    p = tf_put_field_str(p, end, TF_H_NEXT_MALLOC, shim.out.next_malloc);
    p = tf_put_field_u64(p, end, TF_H_SESSION, shim.out.session);
    if (shim.out.forked) p = tf_put_field_u64(p, end, TF_H_FORK_SEQ, shim.out.fork_seq);
    p = tf_put_field_u64(p, end, TF_H_PAGE_SIZE, (uint64_t)sysconf(_SC_PAGESIZE));
    p = tf_put_field_u64(p, end, TF_H_POINTER, sizeof(void *));
    size_t body = (size_t)(p - shim.out.hdr) - TF_PREFIX_BYTES;
    tf_finish_header(shim.out.hdr, body);
    return TF_PREFIX_BYTES + body;
}

int out_open(void)
{
    int z = OUT_TODO;
    if (!atomic_compare_exchange_strong(&shim.out.open, &z, OUT_OPENING)) {
        /* Someone else is creating it: wait a little (never forever: this may be a signal
         * handler that interrupted the creator). */
        for (int k = 0; k < 1000 && atomic_load(&shim.out.open) == OUT_OPENING; k++) {
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
        return atomic_load(&shim.out.fd) >= 0 ? 0 : -1;
    }
    int saved = errno;
    char path[PATH_MAX + 64];
    char *const end = path + sizeof(path) - 1;
    long pid = (long)getpid();
    int fd = -1, err = 0;
    for (int k = 0; k < 102 && fd < 0; k++) {
        char *p = put_str(path, end, shim.out.base);
        if (k > 0) {
            p = put_str(p, end, ".");
            p = put_uint(p, end, (uint64_t)pid);
        }
        if (k > 1) {
            p = put_str(p, end, ".");
            p = put_uint(p, end, (uint64_t)(k - 1));
        }
        *p = 0;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        complain("cannot create ", path, err);
        atomic_store(&shim.out.open, OUT_DONE);
        errno = saved;
        return -1;
    }
    memcpy(shim.out.path, path, sizeof(shim.out.path));
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat sb;
    fstat(fd, &sb);
    shim.out.dev = sb.st_dev;
    shim.out.ino = sb.st_ino;
    size_t n = build_header();
    const uint8_t *p = shim.out.hdr;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        n -= (size_t)w;
    }
    atomic_store(&shim.out.fd_bad, n != 0);
    atomic_store(&shim.out.fd, fd);
    atomic_store_explicit(&shim.out.open, OUT_DONE, memory_order_release);
    errno = saved;
    return 0;
}

int out_start(const char *file, uint64_t session)
{
    char *p = shim.out.base, *end = shim.out.base + sizeof(shim.out.base) - 1;
    if (!file || !*file) {
        p = put_str(p, end, "heaplab-");
        p = put_uint(p, end, (uint64_t)getpid());
        p = put_str(p, end, ".trace");
        *p = 0;
        file = shim.out.base;
    }
    if (file[0] != '/') {
        /* Absolute, since the program may change directory. */
        char cwd[PATH_MAX];
        char rel[PATH_MAX];
        *put_str(rel, rel + sizeof(rel) - 1, file) = 0;
        p = shim.out.base;
        if (getcwd(cwd, sizeof(cwd))) {
            p = put_str(p, end, cwd);
            p = put_str(p, end, "/");
        }
        p = put_str(p, end, rel);
    } else {
        p = put_str(shim.out.base, end, file);
    }
    *p = 0;
    shim.out.session = session;
    atomic_store(&shim.out.fd, -1);
    out_facts();
    atomic_store(&shim.out.open, OUT_TODO);
    return out_open();
}
