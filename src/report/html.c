/*
 * report/html.c: the report page (report_html, docs/report.md). The viewer's styles, the data
 * and the viewer's scripts, inlined as the asset table orders them (docs/serve.md,
 * "Viewer"), so the file needs nothing beside it and makes no request: main.js finds the
 * data and shows the report views instead of the live ones.
 *
 * Inside <script> and <style> the HTML parser only looks for "</" + the element's name, and
 * inside a script for "<!--" too. The data is JSON, where '<' only appears inside strings and
 * can always be written \u003c; the assets are ours and uPlot's, where "</" is written "<\/"
 * and "<!--" "<\!--", the same text to JavaScript and to CSS where they can appear (strings,
 * regular expressions, comments).
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "server/assets.h"
#include "util/diag.h"

/* A growing buffer; `oom` once an append failed (later appends do nothing). */
struct page {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct page *pg, const char *s, size_t len)
{
    if (pg->oom) return;
    if (pg->n + len + 1 > pg->cap) {
        size_t cap = pg->cap ? pg->cap : 1 << 16;
        while (cap < pg->n + len + 1)
            cap *= 2;
        char *q = realloc(pg->p, cap);
        if (!q) {
            pg->oom = 1;
            return;
        }
        pg->p = q;
        pg->cap = cap;
    }
    memcpy(pg->p + pg->n, s, len);
    pg->n += len;
    pg->p[pg->n] = 0;
}

static void puts_(struct page *pg, const char *s)
{
    put(pg, s, strlen(s));
}

/* Text as HTML character data or an attribute value. */
static void put_escaped(struct page *pg, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            puts_(pg, "&amp;");
            break;
        case '<':
            puts_(pg, "&lt;");
            break;
        case '>':
            puts_(pg, "&gt;");
            break;
        case '"':
            puts_(pg, "&quot;");
            break;
        default:
            put(pg, s, 1);
        }
    }
}

/* An asset's text inside <script> or <style>: "</" as "<\/" and "<!--" as "<\!--". */
static void put_raw_text(struct page *pg, const unsigned char *data, size_t len)
{
    const char *s = (const char *)data, *end = s + len;
    while (s < end) {
        const char *lt = memchr(s, '<', (size_t)(end - s));
        if (!lt) {
            put(pg, s, (size_t)(end - s));
            return;
        }
        put(pg, s, (size_t)(lt - s) + 1);
        if ((lt + 1 < end && lt[1] == '/') || (end - lt >= 4 && memcmp(lt, "<!--", 4) == 0))
            puts_(pg, "\\");
        s = lt + 1;
    }
}

/* JSON inside <script>: every '<' (only ever inside a string) as \u003c. */
static void put_json(struct page *pg, const char *json)
{
    for (const char *s = json; *s;) {
        size_t run = strcspn(s, "<");
        put(pg, s, run);
        s += run;
        if (*s == '<') {
            puts_(pg, "\\u003c");
            s++;
        }
    }
}

static int is_mime(const struct web_asset *a, const char *type)
{
    size_t n = strlen(type);
    return strncmp(a->mime, type, n) == 0 && (a->mime[n] == 0 || a->mime[n] == ';');
}

int report_html(const cJSON *data, const char *title, const struct web_asset *assets,
                size_t n_assets, char **out, size_t *len, struct diag *d)
{
    struct page pg = { 0 };
    char *json = cJSON_PrintUnformatted(data);
    *out = NULL;
    *len = 0;
    if (!json) return diag_set(d, "out of memory formatting the report's data");
    puts_(&pg, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>heaplab report: ");
    put_escaped(&pg, title);
    puts_(&pg, "</title>\n<link rel=\"icon\" href=\"data:,\">\n");
    for (size_t i = 0; i < n_assets; i++) {
        if (!is_mime(&assets[i], "text/css")) continue;
        puts_(&pg, "<style>/* ");
        put_escaped(&pg, assets[i].path);
        puts_(&pg, " */\n");
        put_raw_text(&pg, assets[i].data, assets[i].len);
        puts_(&pg, "</style>\n");
    }
    puts_(&pg, "</head>\n<body class=\"report\">\n<noscript><p>This report draws its tables "
               "and charts with JavaScript; its data is the results JSON it was made "
               "from.</p></noscript>\n<main id=\"report\"></main>\n"
               "<script type=\"application/json\" id=\"heaplab-results\">");
    put_json(&pg, json);
    puts_(&pg, "</script>\n");
    for (size_t i = 0; i < n_assets; i++) {
        if (!is_mime(&assets[i], "text/javascript")) continue;
        puts_(&pg, "<script>/* ");
        put_escaped(&pg, assets[i].path);
        puts_(&pg, " */\n");
        put_raw_text(&pg, assets[i].data, assets[i].len);
        puts_(&pg, "\n</script>\n");
    }
    puts_(&pg, "</body>\n</html>\n");
    cJSON_free(json);
    if (pg.oom) {
        free(pg.p);
        return diag_set(d, "out of memory writing the report");
    }
    *out = pg.p;
    *len = pg.n;
    return 0;
}
