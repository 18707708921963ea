/*
 * web/test/standin/server/assets.h: a copy of the asset interface of src/server/assets.h
 * (docs/serve.md), used by tests/CMakeLists.txt only while the tree has no src/server/:
 * the generated table then still compiles and is tested (web/test/test_assets.c).
 */
#ifndef HEAPLAB_SERVER_ASSETS_H
#define HEAPLAB_SERVER_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path; /* "/index.html" or "/assets/NAME" */
    const char *mime; /* Content-Type */
    const unsigned char *data;
    size_t len; /* bytes of data (a NUL follows them) */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
