/*
 * web/test/test_assets.c SITE_DIR: the viewer's generated asset table (web/tools/gen_assets.py)
 * compiled and checked: index.html first, every path of the documented shape and unique,
 * each asset byte for byte the file in SITE_DIR, every asset index.html loads in the table,
 * and no asset names an external URL (http:// or https://) outside licence text: the page
 * must work with no network. Licence text may name its home: the licence files, and the
 * notices minified files keep (comments opened by slash, star, bang).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/assets.h"

static const char *site_dir;

static const struct web_asset *find(const char *path)
{
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, path) == 0) return &web_assets[i];
    return NULL;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static void test_assets_table_index_first_paths_unique(void)
{
    REQUIRE(web_assets_count >= 3);
    CHECK(strcmp(web_assets[0].path, "/index.html") == 0);
    CHECK(strncmp(web_assets[0].mime, "text/html", 9) == 0);
    for (size_t i = 0; i < web_assets_count; i++) {
        const struct web_asset *a = &web_assets[i];
        CHECK(i == 0
              || (strncmp(a->path, "/assets/", 8) == 0 && a->path[8] != '\0'
                  && strchr(a->path + 8, '/') == NULL));
        CHECK(strstr(a->path, "..") == NULL);
        CHECK(a->mime && a->mime[0]);
        CHECK(a->len > 0 && a->data[a->len] == 0);
        if (ends_with(a->path, ".js")) CHECK(strncmp(a->mime, "text/javascript", 15) == 0);
        if (ends_with(a->path, ".css")) CHECK(strncmp(a->mime, "text/css", 8) == 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(web_assets[j].path, a->path) != 0);
    }
    CHECK(find("/assets/uPlot.iife.min.js") != NULL);
    CHECK(find("/assets/uPlot-LICENSE.txt") != NULL);
}

static void test_assets_equal_the_site_files(void)
{
    char path[4096];
    for (size_t i = 0; i < web_assets_count; i++) {
        const struct web_asset *a = &web_assets[i];
        snprintf(path, sizeof path, "%s%s", site_dir, a->path);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open\n", path);
            CHECK(f != NULL);
            continue;
        }
        unsigned char *buf = malloc(a->len + 1);
        size_t got = fread(buf, 1, a->len + 1, f);
        fclose(f);
        CHECK(got == a->len && memcmp(buf, a->data, a->len) == 0);
        free(buf);
    }
}

/* Every href="assets/NAME" and src="assets/NAME" of index.html is in the table. */
static void test_assets_index_loads_only_table_assets(void)
{
    const struct web_asset *idx = find("/index.html");
    REQUIRE(idx != NULL);
    const char *p = (const char *)idx->data;
    int n = 0;
    while ((p = strstr(p, "\"assets/")) != NULL) {
        const char *q = strchr(p + 1, '"');
        REQUIRE(q != NULL);
        char path[256];
        snprintf(path, sizeof path, "/%.*s", (int)(q - p - 1), p + 1);
        if (!find(path)) fprintf(stderr, "index.html loads %s, which the table lacks\n", path);
        CHECK(find(path) != NULL);
        n++;
        p = q;
    }
    CHECK(n >= 4);
}

static void test_assets_name_no_external_url(void)
{
    for (size_t i = 0; i < web_assets_count; i++) {
        const struct web_asset *a = &web_assets[i];
        if (strstr(a->path, "LICENSE")) continue; /* licence text */
        const char *s = (const char *)a->data;
        const char *end = s + a->len;
        while (s < end) {
            if (strncmp(s, "/*!", 3) == 0) { /* a preserved notice: licence text */
                const char *close = strstr(s, "*/");
                s = close ? close + 2 : end;
                continue;
            }
            if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) {
                fprintf(stderr, "%s: external URL at byte %zu: %.60s\n", a->path,
                        (size_t)(s - (const char *)a->data), s);
                CHECK(!"an external URL");
                break;
            }
            s++;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SITE_DIR\n", argv[0]);
        return 2;
    }
    site_dir = argv[1];
    RUN_TEST(test_assets_table_index_first_paths_unique);
    RUN_TEST(test_assets_equal_the_site_files);
    RUN_TEST(test_assets_index_loads_only_table_assets);
    RUN_TEST(test_assets_name_no_external_url);
    return check_report();
}
