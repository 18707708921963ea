/*
 * inside/procfs.c: /proc files read without malloc: whole into osmem buffers with read(2),
 * and the few fields heap maps need parsed by hand (no stdio, which would allocate).
 */
#include "inside/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/osmem.h"

long procfs_read(const char *path, struct procfs_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    for (;;) {
        if (b->cap - len < 4096) {
            size_t ncap = b->cap ? b->cap * 2 : 65536;
            char *p = osmem_realloc(b->p, b->cap, ncap);
            if (!p) {
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            b->p = p;
            b->cap = ncap;
            b->grown++;
        }
        ssize_t n = read(fd, b->p + len, b->cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    b->p[len] = 0;
    return (long)len;
}

void procfs_free(struct procfs_buf *b)
{
    osmem_free(b->p, b->cap);
    memset(b, 0, sizeof *b);
}

/* A hexadecimal number at *s; *s moves past it. */
static uint64_t hex(const char **s)
{
    uint64_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uint64_t)(c - 'a' + 10);
        else
            return v;
    }
}

static uint64_t dec(const char **s)
{
    uint64_t v = 0;
    while (**s == ' ')
        (*s)++;
    for (; **s >= '0' && **s <= '9'; (*s)++)
        v = v * 10 + (uint64_t)(**s - '0');
    return v;
}

static const char *skip_field(const char *s)
{
    while (*s == ' ')
        s++;
    while (*s && *s != ' ' && *s != '\n')
        s++;
    return s;
}

const char *procfs_maps_next(const char *s, struct procfs_vma *v)
{
    if (!s || !*s) return NULL;
    v->start = hex(&s);
    if (*s == '-') s++;
    v->end = hex(&s);
    while (*s == ' ')
        s++;
    for (int i = 0; i < 4; i++)
        v->prot[i] = *s && *s != ' ' ? *s++ : '-';
    v->prot[4] = 0;
    s = skip_field(s); /* offset */
    s = skip_field(s); /* device */
    v->inode = dec(&s);
    while (*s == ' ')
        s++;
    const char *name = s;
    while (*s && *s != '\n')
        s++;
    size_t n = (size_t)(s - name);
    if (n >= sizeof v->name) n = sizeof v->name - 1;
    memcpy(v->name, name, n);
    v->name[n] = 0;
    v->rss_bytes = v->swap_bytes = v->anon_bytes = 0;
    if (*s == '\n') s++;
    /* smaps' fields: "Key:   123 kB" lines up to the next mapping's line (hex, lower case). */
    while (*s >= 'A' && *s <= 'Z') {
        if (strncmp(s, "Rss:", 4) == 0) {
            s += 4;
            v->rss_bytes = dec(&s) * 1024;
        } else if (strncmp(s, "Swap:", 5) == 0) {
            s += 5;
            v->swap_bytes = dec(&s) * 1024;
        } else if (strncmp(s, "Anonymous:", 10) == 0) {
            s += 10;
            v->anon_bytes = dec(&s) * 1024;
        }
        while (*s && *s != '\n')
            s++;
        if (*s == '\n') s++;
    }
    return s;
}

int procfs_field_kb(const char *text, const char *key, uint64_t *bytes)
{
    size_t k = strlen(key);
    for (const char *s = text; s && *s;) {
        if (strncmp(s, key, k) == 0 && s[k] == ':') {
            s += k + 1;
            *bytes = dec(&s) * 1024;
            return 0;
        }
        s = strchr(s, '\n');
        if (s) s++;
    }
    return -1;
}

uint64_t procfs_statm_resident_pages(const char *text)
{
    const char *s = text;
    (void)dec(&s); /* size */
    return dec(&s);
}
