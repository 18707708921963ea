/*
 * probe/probe.c: libheaplab-probe.so, preloaded by `heaplab run` after the allocator under
 * test. Its constructor records, for every process of the measured program that loads it,
 * which file defines the `malloc` in use, so the run can prove the allocator took effect
 * (a program linked against jemalloc is not running glibc just because nothing else was
 * preloaded). One line "PID PATH\n" is appended to $HEAPLAB_PROBE_FILE with one write(2).
 * bench/provider.h says how the file is found.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/provider.h"

__attribute__((constructor)) static void heaplab_probe(void)
{
    const char *out = getenv("HEAPLAB_PROBE_FILE");
    if (!out || !*out) return;
    char who[4096];
    malloc_provider(who, sizeof(who));
    char line[4200];
    int n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), who);
    if (n <= 0 || (size_t)n >= sizeof(line)) return;
    int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}
