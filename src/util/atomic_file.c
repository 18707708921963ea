/* util/atomic_file.c: temp file + fsync + rename. */
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/diag.h"

/* Write all of data to fd; 0 or an errno value. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int atomic_file_open(struct atomic_file *f, const char *path, struct diag *d)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path)
        return diag_set(d, "%s: path too long", path);
    /* A device or pipe (/dev/stdout, /dev/null, a FIFO) is written in place: renaming a
     * temporary file over it would replace the device node itself. */
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISREG(st.st_mode) && !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)))
        return diag_set(d, "%s: file is read-only, not replacing it", path);
    if (exists && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return diag_set(d, "%s: is a directory", path);
        f->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (f->fd < 0) return diag_set(d, "%s: %s", path, strerror(errno));
        f->in_place = 1;
        return 0;
    }
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (cleanup_add_file(f->tmp) != 0) return diag_set(d, "%s: too many open results files", path);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int e = errno;
        cleanup_remove_file(f->tmp);
        return diag_set(d, "%s: %s", path, strerror(e));
    }
    return 0;
}

int atomic_file_check(const char *path, struct diag *d)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return diag_set(d, "%s: is a directory", path);
        if (!S_ISREG(st.st_mode)) return 0; /* written in place */
        if (!(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)))
            return diag_set(d, "%s: file is read-only, not replacing it", path);
    }
    char tmp[4096 + 32];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return diag_set(d, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) return diag_set(d, "%s: directory does not exist", path);
        return diag_set(d, "%s: cannot write here (%s)", path, strerror(e));
    }
    close(fd);
    unlink(tmp);
    return 0;
}

void atomic_file_append(struct atomic_file *f, const void *data, size_t len)
{
    if (f->err == 0 && f->fd >= 0) f->err = write_all(f->fd, data, len);
}

void atomic_file_abort(struct atomic_file *f)
{
    if (f->fd >= 0) close(f->fd);
    if (!f->in_place && f->tmp[0]) {
        unlink(f->tmp);
        cleanup_remove_file(f->tmp);
    }
    f->fd = -1;
}

int atomic_file_commit(struct atomic_file *f, struct diag *d)
{
    if (f->err != 0) {
        diag_set(d, "%s: %s", f->path, strerror(f->err));
        atomic_file_abort(f);
        return -1;
    }
    if (f->in_place) {
        int rc = close(f->fd);
        f->fd = -1;
        return rc == 0 ? 0 : diag_set(d, "%s: %s", f->path, strerror(errno));
    }
    if (fsync(f->fd) != 0 && errno != EINVAL) {
        diag_set(d, "%s: %s", f->path, strerror(errno));
        atomic_file_abort(f);
        return -1;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0 || rename(f->tmp, f->path) != 0) {
        diag_set(d, "%s: %s", f->path, strerror(errno));
        unlink(f->tmp);
        cleanup_remove_file(f->tmp);
        return -1;
    }
    cleanup_remove_file(f->tmp);
    return 0;
}

int atomic_file_write(const char *path, const void *data, size_t len, struct diag *d)
{
    struct atomic_file f;
    if (atomic_file_open(&f, path, d) != 0) return -1;
    atomic_file_append(&f, data, len);
    return atomic_file_commit(&f, d);
}
