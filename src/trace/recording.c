/*
 * trace/recording.c: the files of one recording (trace.h): what one `heaplab record` run
 * wrote, found by name and recognised by the session number in their headers.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"
#include "util/diag.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void fill(struct trace_file *f, const char *name, const struct trace_reader *r)
{
    const struct trace_header *h = trace_header(r);
    memset(f, 0, sizeof(*f));
    copy_str(f->name, sizeof(f->name), name);
    const char *prog = h->argc > 0 && h->argv[0][0] ? h->argv[0] : h->program;
    copy_str(f->program, sizeof(f->program), base_name(prog));
    f->pid = h->pid;
    f->ppid = h->ppid;
    f->start_mono_ns = h->start_mono_ns;
    f->forked = h->forked;
    f->status = *trace_status(r);
}

/* Make room for one more file. 0, or -1 out of memory. */
static int grow(struct trace_recording *rec, size_t *cap)
{
    if (rec->n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    struct trace_file *nf = realloc(rec->files, ncap * sizeof(*nf));
    if (!nf) return -1;
    rec->files = nf;
    *cap = ncap;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const struct trace_file *x = a, *y = b;
    if (x->start_mono_ns != y->start_mono_ns) return x->start_mono_ns < y->start_mono_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

int trace_recording_read(struct trace_recording *rec, const char *dir, const char *base,
                         uint64_t session, struct diag *d)
{
    memset(rec, 0, sizeof(*rec));
    rec->session = session;
    DIR *dp = opendir(dir);
    if (!dp) return diag_set(d, "%s: cannot read the directory: %s", dir, strerror(errno));
    size_t blen = strlen(base), cap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        const char *name = de->d_name;
        if (strncmp(name, base, blen) != 0 || (name[blen] != 0 && name[blen] != '.')) continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) continue;
        struct trace_reader *r;
        if (trace_open(&r, path, NULL) != 0) continue; /* not a trace: not ours */
        if (trace_header(r)->session == session) {
            if (grow(rec, &cap) != 0) {
                trace_close(r);
                closedir(dp);
                trace_recording_fini(rec);
                return diag_set(d, "out of memory");
            }
            fill(&rec->files[rec->n++], name, r);
        }
        trace_close(r);
    }
    closedir(dp);
    if (rec->n > 1) qsort(rec->files, rec->n, sizeof(*rec->files), by_start);
    return 0;
}

int trace_recording_find(struct trace_recording *rec, const char *path, struct diag *d)
{
    memset(rec, 0, sizeof(*rec));
    struct trace_reader *r;
    if (trace_open(&r, path, d) != 0) return -1;
    uint64_t session = trace_header(r)->session;
    const char *name = base_name(path);
    int found = 0;
    char dir[PATH_MAX], base[NAME_MAX + 1];
    size_t dlen = name == path ? 0 : (size_t)(name - path) - 1;
    if (session != 0 && dlen < sizeof(dir)) {
        if (name == path) {
            copy_str(dir, sizeof(dir), ".");
        } else {
            memcpy(dir, path, dlen ? dlen : 1); /* "/x": the root */
            dir[dlen ? dlen : 1] = 0;
        }
        /* The name less its ".<digits>" parts: FILE of FILE.<pid> and FILE.<pid>.<n>. */
        copy_str(base, sizeof(base), name);
        for (;;) {
            char *dot = strrchr(base, '.');
            if (!dot || dot == base || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))
                break;
            *dot = 0;
        }
        found = trace_recording_read(rec, dir, base, session, NULL) == 0 && rec->n > 0;
        if (!found) trace_recording_fini(rec);
    }
    if (!found) {
        /* Session 0, or a directory that cannot be listed: the file alone. */
        rec->session = session;
        rec->files = malloc(sizeof(*rec->files));
        if (!rec->files) {
            trace_close(r);
            return diag_set(d, "out of memory");
        }
        fill(&rec->files[0], name, r);
        rec->n = 1;
    }
    trace_close(r);
    return 0;
}

void trace_recording_fini(struct trace_recording *rec)
{
    free(rec->files);
    memset(rec, 0, sizeof(*rec));
}
