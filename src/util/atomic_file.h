/*
 * util/atomic_file.h: write a results file whole or not at all.
 * The data goes to "<path>.tmp.<pid>", is flushed and fsync'd, then renamed over `path`.
 * On any failure the temporary file is removed and `path` is untouched. A `path` that
 * exists and is not a regular file (/dev/stdout, a FIFO) is written in place instead. An
 * existing regular file with no write permission bits is refused, even for root. While the
 * temporary file exists it is registered with util/cleanup.h, so an interrupted run
 * removes it.
 */
#ifndef HEAPLAB_UTIL_ATOMIC_FILE_H
#define HEAPLAB_UTIL_ATOMIC_FILE_H

#include <stddef.h>

struct diag;

/*
 * Can `path` be written by atomic_file_open()? Checked before a long run: the directory
 * exists and takes a new file (a temporary file is created and removed), and an existing
 * `path` is a writable regular file, a device or a FIFO. 0, or -1 with `d` ("PATH: why").
 */
int atomic_file_check(const char *path, struct diag *d);

/* Write `len` bytes of `data` to `path` atomically. 0 on success, -1 with `d` filled. */
int atomic_file_write(const char *path, const void *data, size_t len, struct diag *d);

/*
 * The same, streamed: open, append any number of times, then commit (rename into place) or
 * abort (remove the temporary file). An append error is remembered and reported by commit.
 */
struct atomic_file {
    int fd;
    int in_place; /* a device or FIFO, written directly */
    int err;      /* first write error (errno value), 0 if none */
    char path[4096];
    char tmp[4096 + 32];
};

int atomic_file_open(struct atomic_file *f, const char *path, struct diag *d);
void atomic_file_append(struct atomic_file *f, const void *data, size_t len);
int atomic_file_commit(struct atomic_file *f, struct diag *d);
void atomic_file_abort(struct atomic_file *f);

#endif
