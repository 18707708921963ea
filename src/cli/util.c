/* cli/util.c: diagnostics and parsing shared by the commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000;
    else if (*end == 'M')
        mul = 1000000;
    else if (*end == 'G')
        mul = 1000000000;
    if (mul != 1) end++;
    if (*end != 0) return -1;
    if (v > UINT64_MAX / mul) return -1;
    *out = (uint64_t)v * mul;
    return 0;
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

const char *cli_command_line(int argc, char **argv)
{
    static char buf[4096];
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
