/*
 * server/assets_placeholder.c: the asset table (server/assets.h) of a heaplab built without
 * the viewer: one page that says so. The build uses the generated table of web/ instead
 * when HEAPLAB_WEB_ASSETS_C names it.
 */
#include "server/assets.h"

static const unsigned char index_html[] =
        "<!doctype html>\n"
        "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>heaplab serve</title></head>\n"
        "<body>\n"
        "<h1>heaplab serve</h1>\n"
        "<p>The viewer is not built into this heaplab: it was built without web/ (its\n"
        "generated asset table). The server works: <a href=\"/api/meta\">/api/meta</a>\n"
        "describes it and <code>/ws</code> streams races (docs/serve.md). Run\n"
        "<code>heaplab serve --web DIR</code> to serve a viewer from a directory.</p>\n"
        "</body></html>\n";

const struct web_asset web_assets[] = {
    { "/index.html", "text/html; charset=utf-8", index_html, sizeof index_html - 1 },
};
const size_t web_assets_count = sizeof web_assets / sizeof web_assets[0];
