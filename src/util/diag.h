/*
 * util/diag.h: one-line error reasons filled by library code for a person to read.
 * Library code never prints; it returns an error code and, where useful, says why here.
 */
#ifndef HEAPLAB_UTIL_DIAG_H
#define HEAPLAB_UTIL_DIAG_H

struct diag {
    char msg[256]; /* the reason, without program name or trailing period */
};

/* Set d->msg (if d is not NULL) and return -1, so `return diag_set(d, ...)` reads well. */
int diag_set(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
