/*
 * bench/proc_linux.c: everything read from /proc, /sys and getrusage. No stdio on the
 * paths a worker uses while measuring (plain read(2) into stack buffers).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"

static uint64_t tv_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

void proc_self_usage(struct proc_usage *u)
{
    struct rusage r;
    memset(u, 0, sizeof(*u));
    if (getrusage(RUSAGE_SELF, &r) != 0) return;
    u->user_ns = tv_ns(r.ru_utime);
    u->sys_ns = tv_ns(r.ru_stime);
    u->minor_faults = (uint64_t)r.ru_minflt;
    u->major_faults = (uint64_t)r.ru_majflt;
    u->maxrss_bytes = (uint64_t)r.ru_maxrss * 1024u;
}

int proc_cpu_allowed(int cpu)
{
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE) return 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1; /* unknown: let pinning say */
    return CPU_ISSET(cpu, &set) != 0;
}

void proc_allowed_cpus(char *buf, size_t cap)
{
    cpu_set_t set;
    size_t n = 0;
    buf[0] = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    for (int lo = 0; lo < CPU_SETSIZE && n < cap; lo++) {
        if (!CPU_ISSET(lo, &set)) continue;
        int hi = lo;
        while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, &set))
            hi++;
        int w = hi > lo ? snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", lo, hi)
                        : snprintf(buf + n, cap - n, "%s%d", n ? "," : "", lo);
        if (w < 0) break;
        n += (size_t)w;
        lo = hi;
    }
}

int proc_statm_open(void)
{
    return open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
}

uint64_t proc_rss_bytes(int fd)
{
    char buf[128];
    if (fd < 0) return 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    /* statm: size resident shared text lib data dt, in pages */
    char *p = buf;
    strtoull(p, &p, 10);
    unsigned long long res = strtoull(p, NULL, 10);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Value in kB of a "Key:   N kB" line of /proc/self/status, times 1024; 0 if absent. */
static uint64_t status_field(const char *key)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n') line++;
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoull(line + klen + 1, NULL, 10) * 1024u;
    }
    return 0;
}

uint64_t proc_hwm_bytes(void)
{
    return status_field("VmHWM");
}

int proc_reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, "5", 1);
    close(fd);
    return n == 1 ? 0 : -1;
}

/* First line of `path` without its newline, into buf; "" if unreadable. */
static void read_line(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(buf, (int)cap, f)) buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, cap, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

/* The bracketed choice of a /sys "a [b] c" file. */
static void sys_choice(const char *path, char *buf, size_t cap)
{
    char line[256];
    read_line(path, line, sizeof(line));
    char *l = strchr(line, '['), *r = l ? strchr(l, ']') : NULL;
    if (l && r) {
        *r = 0;
        snprintf(buf, cap, "%s", l + 1);
    } else {
        snprintf(buf, cap, "%s", line[0] ? line : "unknown");
    }
}

cJSON *machine_json(void)
{
    cJSON *m = cJSON_CreateObject();
    char buf[256];
    cpu_model(buf, sizeof(buf));
    cJSON_AddStringToObject(m, "cpu_model", buf);
    cJSON_AddNumberToObject(m, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(m, "memory_bytes",
                            (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(m, "kernel", u.release);
        cJSON_AddStringToObject(m, "arch", u.machine);
        cJSON_AddStringToObject(m, "hostname", u.nodename);
    }
    cJSON_AddStringToObject(m, "glibc", gnu_get_libc_version());
    sys_choice("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
    cJSON_AddStringToObject(m, "thp", buf);
    read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf, sizeof(buf));
    cJSON_AddStringToObject(m, "clocksource", buf[0] ? buf : "unknown");
    cJSON_AddNumberToObject(m, "page_size", (double)sysconf(_SC_PAGESIZE));
    return m;
}
