/*
 * util/atomic_file.h: write a results file whole or not at all.
 * The data goes to "<path>.tmp.<pid>", is flushed and fsync'd, then renamed over `path`.
 * On any failure the temporary file is removed and `path` is untouched. A `path` that
 * exists and is not a regular file (/dev/stdout, a FIFO) is written in place instead.
 */
#ifndef HEAPLAB_UTIL_ATOMIC_FILE_H
#define HEAPLAB_UTIL_ATOMIC_FILE_H

#include <stddef.h>

struct diag;

/* Write `len` bytes of `data` to `path` atomically. 0 on success, -1 with `d` filled. */
int atomic_file_write(const char *path, const void *data, size_t len, struct diag *d);

#endif
