/* util/helper.c */
#include "util/helper.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int helper_find(const char *file, char *out, size_t cap)
{
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", file);
        return -1;
    }
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    /* HELPER_DIR: the install layout's relative path, from CMake (src/util/CMakeLists.txt). */
    const char *const places[] = { "", "/" HELPER_DIR };
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        char path[PATH_MAX], resolved[PATH_MAX];
        int len = snprintf(path, sizeof(path), "%s%s/%s", dir, places[i], file);
        if (len < 0 || (size_t)len >= sizeof(path)) continue;
        snprintf(out, cap, "%s", path);
        if (access(path, R_OK) == 0 && realpath(path, resolved)) {
            snprintf(out, cap, "%s", resolved);
            return 0;
        }
    }
    return -1;
}
