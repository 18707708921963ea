/*
 * util/helper.h: where heaplab's helper libraries are, from where the running executable is.
 */
#ifndef HEAPLAB_UTIL_HELPER_H
#define HEAPLAB_UTIL_HELPER_H

#include <stddef.h>

/*
 * Find the helper library `file` ("libheaplab-probe.so", "libheaplab-trace.so",
 * "libhlmalloc.so"): in the running executable's own directory (the build tree), then in
 * <that directory>/HELPER_DIR (installed: $prefix/bin/heaplab finds $prefix/lib/heaplab/).
 * 0 with the library's real path in `out`; -1 when neither is readable, with the last place
 * looked at in `out`.
 */
int helper_find(const char *file, char *out, size_t cap);

#endif
