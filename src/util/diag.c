/* util/diag.c */
#include "util/diag.h"

#include <stdarg.h>
#include <stdio.h>

int diag_set(struct diag *d, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}
