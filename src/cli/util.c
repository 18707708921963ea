/* cli/util.c: diagnostics, number parsing, output checks and signals shared by the commands. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/atomic_file.h"
#include "util/cleanup.h"
#include "util/diag.h"

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "heaplab: %s", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

/* The digits of s and where they end; -1 unless s starts with a digit and fits. */
static int parse_digits(const char *s, unsigned long long *v, char **end)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno ? -1 : 0;
}

static int scale(unsigned long long v, uint64_t mul, uint64_t *out)
{
    if (v > UINT64_MAX / mul) return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

int cli_parse_count(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;
    if (parse_digits(s, &v, &end) != 0) return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1000;
        break;
    case 'M':
        mul = 1000000;
        break;
    case 'G':
        mul = 1000000000;
        break;
    case 0:
        break;
    default:
        return -1;
    }
    if (mul != 1 && end[1] != 0) return -1;
    return scale(v, mul, out);
}

int cli_parse_bytes(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;
    if (parse_digits(s, &v, &end) != 0) return -1;
    const char *units = "KMGT", *u = *end ? strchr(units, *end == 'k' ? 'K' : *end) : NULL;
    if (!*end) return scale(v, 1, out);
    if (!u) return strcmp(end, "B") == 0 ? scale(v, 1, out) : -1;
    end++;
    if (*end && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0) return -1;
    return scale(v, (uint64_t)1 << (10 * (u - units + 1)), out);
}

/* 1000000 -> "1M", 65536 -> "64K" (bytes), else the plain number. */
static void short_number(char *buf, size_t cap, uint64_t v, int bytes)
{
    static const char suffix[] = "kMGT";
    uint64_t base = bytes ? 1024 : 1000;
    int i = -1;
    while (v >= base && v % base == 0 && i < 3) {
        v /= base;
        i++;
    }
    if (i < 0)
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    else
        snprintf(buf, cap, "%llu%c", (unsigned long long)v, bytes && i == 0 ? 'K' : suffix[i]);
}

void cli_format_range(char *buf, size_t cap, uint64_t lo, uint64_t hi, int bytes)
{
    char a[32], b[32];
    short_number(a, sizeof a, lo, bytes);
    short_number(b, sizeof b, hi, bytes);
    snprintf(buf, cap, "%s..%s", a, b);
}

int cli_split(const char *arg, const char **list, size_t *n, size_t cap)
{
    /* The pieces live until exit; the copies stay reachable from here (so a leak checker
     * does not report them). */
    static char *keep[256];
    static size_t n_keep;
    if (*arg == 0 || arg[strlen(arg) - 1] == ',' || *arg == ',' || strstr(arg, ",,")) return -1;
    if (n_keep >= sizeof keep / sizeof keep[0]) return -1;
    char *copy = strdup(arg);
    if (!copy) return -1;
    keep[n_keep++] = copy;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= cap) return -1;
        list[(*n)++] = tok;
    }
    return 0;
}

int cli_check_output(const char *opt, const char *path)
{
    struct diag d = { { 0 } };
    if (!path || !*path) {
        cli_error("%s: an empty file name", opt);
        return EXIT_FAIL;
    }
    if (atomic_file_check(path, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    return 0;
}

const char *cli_self_exe(void)
{
    static char self[4096];
    if (self[0]) return self;
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        self[0] = 0;
        cli_error("cannot find my own executable (/proc/self/exe)");
        return NULL;
    }
    self[len] = 0;
    return self;
}

const char *cli_self_dir(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    const char *exe = cli_self_exe();
    if (!exe) return NULL;
    snprintf(dir, sizeof dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    return dir;
}

const char *cli_join(int argc, char **argv)
{
    static char buf[8192];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < argc && n < sizeof(buf) - 1; i++) {
        int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", argv[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
    return buf;
}

int cli_isatty(int fd)
{
    return isatty(fd);
}

int cli_color(int fd)
{
    const char *no_color = getenv("NO_COLOR");
    return isatty(fd) && !(no_color && no_color[0]);
}

static void on_signal(int sig)
{
    cleanup_run();
    _exit(128 + sig);
}

void cli_install_signal_handlers(void)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* Keep an inherited "ignore" (nohup): the user asked not to be interrupted. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}
