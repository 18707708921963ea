/*
 * server/assets.h: the viewer's files compiled into heaplab (docs/serve.md, "Embedded
 * assets"). One C file defines the table: the generated one of web/ when the viewer is
 * built, else src/server/assets_placeholder.c; the CMake variable HEAPLAB_WEB_ASSETS_C names
 * it. The server looks paths up here for `GET /` and `GET /assets/NAME` unless --web DIR
 * serves a directory instead.
 */
#ifndef HEAPLAB_SERVER_ASSETS_H
#define HEAPLAB_SERVER_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;          /* the URL path: "/index.html", "/assets/app.js" */
    const char *mime;          /* the Content-Type: "text/html; charset=utf-8" */
    const unsigned char *data; /* the file's bytes */
    size_t len;                /* and their number */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
