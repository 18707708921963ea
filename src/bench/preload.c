/*
 * bench/preload.c: which allocators exist, and proof of which one a process is running.
 *
 * A worker proves its preload: the file that defines the `malloc` found first in the global
 * symbol scope (dlsym(RTLD_DEFAULT) then dladdr) must be the allocator's library, or libc
 * for glibc. A program linked against jemalloc is therefore never mistaken for glibc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/provider.h"
#include "util/diag.h"
#include "util/helper.h"

static const char *const lib_dirs[] = {
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/local/lib",
    "/usr/lib64",
    "/usr/lib",
};

static const struct {
    const char *name;
    const char *file;    /* shared library file name */
    const char *package; /* Debian package that provides it */
} builtins[] = {
    { "glibc", NULL, NULL },
    { "jemalloc", "libjemalloc.so.2", "libjemalloc2" },
    { "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4" },
    { "mimalloc", "libmimalloc.so.2", "libmimalloc2.0" },
    { "hlmalloc", "libhlmalloc.so", NULL },
};

static int readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static void fill_builtin(size_t i, struct allocator *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", builtins[i].name);
    if (!builtins[i].file) {
        a->found = 1; /* glibc: the system allocator, no preload */
        return;
    }
    if (strcmp(builtins[i].name, "hlmalloc") == 0) {
        a->found = helper_find(builtins[i].file, a->path, sizeof(a->path)) == 0;
        if (!a->found) snprintf(a->note, sizeof(a->note), "not built");
        return;
    }
    for (size_t d = 0; d < sizeof(lib_dirs) / sizeof(lib_dirs[0]); d++) {
        snprintf(a->path, sizeof(a->path), "%s/%s", lib_dirs[d], builtins[i].file);
        if (readable(a->path)) {
            a->found = 1;
            return;
        }
    }
    snprintf(a->path, sizeof(a->path), "%s", builtins[i].file);
    snprintf(a->note, sizeof(a->note), "not installed (apt-get install %s)", builtins[i].package);
}

size_t allocator_builtins(struct allocator *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]) && n < cap; i++)
        fill_builtin(i, &out[n++]);
    return n;
}

int allocator_check_file(const char *path, struct diag *d)
{
    /* ld.so splits LD_PRELOAD at spaces and colons. */
    if (strpbrk(path, " :"))
        return diag_set(d, "%s: a path with a space or colon cannot be preloaded", path);
    struct stat st;
    if (stat(path, &st) != 0)
        return diag_set(d, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
    if (!S_ISREG(st.st_mode)) return diag_set(d, "%s: not a regular file", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return diag_set(d, "%s: cannot read it: %s", path, strerror(errno));
    unsigned char h[EI_NIDENT + 2]; /* e_ident, then e_type in both ELF classes */
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n != (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0)
        return diag_set(d, "%s: not an ELF shared object", path);
    unsigned type = h[EI_DATA] == ELFDATA2MSB ? (unsigned)h[EI_NIDENT] << 8 | h[EI_NIDENT + 1]
                                              : (unsigned)h[EI_NIDENT + 1] << 8 | h[EI_NIDENT];
    if (type == ET_EXEC) return diag_set(d, "%s: an ELF executable, not a shared object", path);
    if (type != ET_DYN) return diag_set(d, "%s: an ELF file but not a shared object", path);
    return 0;
}

int allocator_diagnose(const char *path, struct diag *d)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return diag_set(d, "%s: cannot be loaded: %s", path, dlerror());
    /* dlsym on a handle searches the library, then what it depends on (libc's malloc). */
    void *sym = dlsym(h, "malloc");
    Dl_info info;
    char want[PATH_MAX], got[PATH_MAX];
    if (!sym || !dladdr(sym, &info) || !info.dli_fname || !realpath(path, want)
        || !realpath(info.dli_fname, got) || strcmp(want, got) != 0)
        return diag_set(d, "%s: defines no malloc", path);
    return 0;
}

int allocator_parse(const char *item, struct allocator *a, struct diag *d)
{
    if (strncmp(item, "lab:", 4) == 0) {
        memset(a, 0, sizeof(*a));
        if (strlen(item) >= sizeof(a->name) || !bench_lab_find(item + 4))
            return diag_set(d, "unknown lab allocator \"%s\" (try 'heaplab list lab')", item);
        snprintf(a->name, sizeof(a->name), "%s", item);
        snprintf(a->lab, sizeof(a->lab), "%s", item + 4);
        a->found = 1;
        return 0;
    }
    const char *eq = strchr(item, '=');
    if (!eq) {
        for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
            if (strcmp(builtins[i].name, item) == 0) {
                fill_builtin(i, a);
                return 0;
            }
        }
        return diag_set(d,
                        "unknown allocator \"%s\" (try 'heaplab list allocators', or "
                        "NAME=/path/lib.so)",
                        item);
    }
    size_t nlen = (size_t)(eq - item);
    if (nlen == 0 || nlen >= ALLOC_NAME_MAX)
        return diag_set(d, "bad allocator \"%s\": expected NAME=/path/lib.so", item);
    if (eq[1] == 0) return diag_set(d, "bad allocator \"%s\": empty path", item);
    memset(a, 0, sizeof(*a));
    memcpy(a->name, item, nlen);
    a->name[nlen] = 0;
    for (char *c = a->name; *c; c++) {
        if (*c == ',' || *c == ' ' || *c == '"')
            return diag_set(d, "bad allocator name \"%s\"", a->name);
    }
    char resolved[PATH_MAX];
    const char *path = eq + 1;
    if (realpath(path, resolved)) path = resolved;
    snprintf(a->path, sizeof(a->path), "%s", path);
    struct diag why = { { 0 } };
    a->found = allocator_check_file(a->path, &why) == 0;
    if (!a->found) snprintf(a->note, sizeof(a->note), "%s", why.msg);
    return 0;
}

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef const char *(*tc_version_fn)(int *, int *, const char **);
typedef int (*mi_version_fn)(void);
typedef const char *(*hl_version_fn)(void);

/* dlsym into a function pointer without the object-to-function cast ISO C forbids. */
static void lookup_fn(const char *name, void *fn_out, size_t fn_size)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    memset(fn_out, 0, fn_size);
    if (sym && fn_size == sizeof(sym)) memcpy(fn_out, &sym, fn_size);
}

void allocator_identify(struct alloc_identity *id)
{
    memset(id, 0, sizeof(*id));
    malloc_provider(id->provider, sizeof(id->provider));
    /* Ask the allocator that serves malloc for its own version, by its own API. */
    hl_version_fn hv;
    mallctl_fn mc;
    tc_version_fn tv;
    mi_version_fn mv;
    lookup_fn("hl_version", &hv, sizeof(hv));
    lookup_fn("mallctl", &mc, sizeof(mc));
    lookup_fn("tc_version", &tv, sizeof(tv));
    lookup_fn("mi_version", &mv, sizeof(mv));
    if (hv && strstr(id->provider, "hlmalloc")) {
        const char *v = hv(); /* "hlmalloc X.Y.Z[ secure]": the version is what follows */
        snprintf(id->version, sizeof(id->version), "%s",
                 strncmp(v, "hlmalloc ", 9) == 0 ? v + 9 : v);
    } else if (mc && strstr(id->provider, "jemalloc")) {
        const char *v = NULL;
        size_t len = sizeof(v);
        if (mc("version", &v, &len, NULL, 0) == 0 && v) {
            /* "5.3.0-0-g<hash>": the release is what a reader compares. */
            snprintf(id->version, sizeof(id->version), "%.*s", (int)strcspn(v, "-"), v);
        }
    } else if (tv && strstr(id->provider, "tcmalloc")) {
        int major = 0, minor = 0;
        const char *patch = "";
        tv(&major, &minor, &patch);
        snprintf(id->version, sizeof(id->version), "%d.%d%s", major, minor, patch ? patch : "");
    } else if (mv && strstr(id->provider, "mimalloc")) {
        int v = mv();
        snprintf(id->version, sizeof(id->version), "%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
    } else if (strstr(id->provider, "/libc.so") || strstr(id->provider, "/libc-")) {
        snprintf(id->version, sizeof(id->version), "%s", gnu_get_libc_version());
    }
}

int allocator_matches(const struct allocator *a, const char *provider)
{
    if (a->path[0] == 0) {
        const char *base = strrchr(provider, '/');
        base = base ? base + 1 : provider;
        return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0;
    }
    char resolved[PATH_MAX];
    const char *want = realpath(a->path, resolved) ? resolved : a->path;
    return strcmp(want, provider) == 0;
}
