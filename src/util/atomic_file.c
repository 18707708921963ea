/* util/atomic_file.c: temp file + fsync + rename. */
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/diag.h"

int atomic_file_write(const char *path, const void *data, size_t len, struct diag *d)
{
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
