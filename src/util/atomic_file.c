/* util/atomic_file.c: temp file + fsync + rename. */
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int atomic_file_write(const char *path, const void *data, size_t len, struct diag *d)
{
    /* A device or pipe (/dev/stdout, /dev/null, a FIFO) is written in place: renaming a
     * temporary file over it would replace the device node itself. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return diag_set(d, "%s: is a directory", path);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return diag_set(d, "%s: %s", path, strerror(errno));
        int e = write_all(fd, data, len);
        close(fd);
        return e ? diag_set(d, "%s: %s", path, strerror(e)) : 0;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return diag_set(d, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return diag_set(d, "%s: %s", path, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            diag_set(d, "%s: %s", path, strerror(e));
            goto out_unlink;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        diag_set(d, "%s: %s", path, strerror(errno));
        goto out_unlink;
    }
    if (close(fd) != 0) {
        fd = -1;
        diag_set(d, "%s: %s", path, strerror(errno));
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        diag_set(d, "%s: %s", path, strerror(errno));
        goto out_unlink;
    }
    return 0;

out_unlink:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return -1;
}
