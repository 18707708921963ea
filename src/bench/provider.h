/*
 * bench/provider.h: which file defines the `malloc` a process uses. Shared by the bench
 * worker (preload.c) and the probe library (probe/probe.c), so it is a header of static
 * functions; it allocates nothing.
 *
 * dlsym(RTLD_DEFAULT, "malloc") is not enough: an executable that takes malloc's address
 * (python3 does) gets a canonical PLT stub, and dlsym returns the stub, which dladdr
 * places in the executable. So when the symbol dladdr finds there is undefined
 * (st_shndx == SHN_UNDEF), the loaded objects are walked in search order (the executable,
 * then LD_PRELOAD libraries, then the rest) and the first whose own lookup of "malloc"
 * resolves to itself is the provider.
 */
#ifndef HEAPLAB_BENCH_PROVIDER_H
#define HEAPLAB_BENCH_PROVIDER_H

#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct provider_walk {
    int skip_first;   /* the executable: its entry is the stub */
    char found[4096]; /* the defining file, or "" */
};

static int provider_walk_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct provider_walk *w = arg;
    if (w->skip_first) {
        w->skip_first = 0;
        return 0;
    }
    if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return 0;
    void *sym = dlsym(h, "malloc");
    Dl_info di;
    int mine =
            sym && dladdr(sym, &di) && di.dli_fname && strcmp(di.dli_fname, info->dlpi_name) == 0;
    dlclose(h);
    if (!mine) return 0;
    snprintf(w->found, sizeof(w->found), "%s", info->dlpi_name);
    return 1;
}

/* The real path of the file defining the process's malloc into out; "unknown" if none. */
static inline void malloc_provider(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (!sym || !dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) || !info.dli_fname) return;
    const char *who = info.dli_fname;
    struct provider_walk w = { .skip_first = 1, .found = "" };
    if (es && es->st_shndx == SHN_UNDEF) {
        dl_iterate_phdr(provider_walk_cb, &w);
        if (!w.found[0]) return;
        who = w.found;
    }
    char resolved[PATH_MAX];
    snprintf(out, cap, "%s", realpath(who, resolved) ? resolved : who);
}

#endif
