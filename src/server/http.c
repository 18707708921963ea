/*
 * server/http.c: civetweb set-up and the HTTP side of `heaplab serve` (docs/serve.md, "HTTP
 * endpoints"): the viewer's files (embedded, or --web DIR), /api/meta, trace uploads, the
 * tick export, and the WebSocket's callbacks, which hand each page to session.c.
 *
 * Every request goes through begin_request(): the Host and Origin checks, then the routes;
 * only a WebSocket upgrade of /ws is left to civetweb (it then calls the ws_* handlers). No
 * document_root is configured, so civetweb itself serves no file.
 */
#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "heaplab/lab.h"
#include "server/assets.h"
#include "server/internal.h"
#include "server/metrics.h"
#include "server/real.h"
#include "util/diag.h"
#include "workload/workload.h"

#define SERVER_THREADS_EXTRA 16 /* worker threads beside one per WebSocket */

/* ------------------------------------------------------------------------------------- */
/* Replies                                                                               */

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* A whole reply; `extra` is more header lines ("Name: value\r\n"), or "". */
static int reply(struct mg_connection *conn, int status, const char *type, const void *body,
                 size_t len, const char *extra)
{
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%sConnection: "
              "close\r\n\r\n",
              status, status_text(status), type, len, extra);
    if (len) mg_write(conn, body, len);
    return status;
}

static int reply_json(struct mg_connection *conn, int status, cJSON *o)
{
    size_t len = 0;
    char *s = metrics_print(o, &len);
    if (s == NULL) return reply(conn, 503, "text/plain", "out of memory\n", 14, "");
    int rc = reply(conn, status, "application/json", s, len, "");
    free(s);
    return rc;
}

__attribute__((format(printf, 3, 4))) static int reply_error(struct mg_connection *conn, int status,
                                                             const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return reply_json(conn, status, o);
}

static int method_not_allowed(struct mg_connection *conn, const char *allow)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    const char *body = "{\"error\":\"method not allowed\"}";
    return reply(conn, 405, "application/json", body, strlen(body), extra);
}

/* ------------------------------------------------------------------------------------- */
/* Where requests come from                                                              */

static int loopback_name(const char *host, size_t n)
{
    char h[64];
    if (n == 0 || n >= sizeof h) return 0;
    memcpy(h, host, n);
    h[n] = 0;
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0) return 1;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* The name part of a Host header ("127.0.0.1:8080", "[::1]:8080", "localhost"). */
static size_t host_name_len(const char *host)
{
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        return e ? (size_t)(e - host) + 1 : strlen(host);
    }
    return strcspn(host, ":");
}

/* DNS rebinding and cross-site requests: 0 when the request may proceed. */
static int check_origin(struct server *srv, struct mg_connection *conn)
{
    const char *host = mg_get_header(conn, "Host");
    const char *origin = mg_get_header(conn, "Origin");
    if (srv->loopback && (host == NULL || !loopback_name(host, host_name_len(host))))
        return reply_error(conn, 403,
                           "the Host header must name this machine (127.0.0.1, "
                           "localhost): heaplab serve is bound to loopback");
    if (origin && host) {
        char want[300];
        snprintf(want, sizeof want, "http://%s", host);
        if (strcmp(origin, want) != 0)
            return reply_error(conn, 403, "cross-origin request refused (Origin %.100s)", origin);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The viewer's files                                                                    */

static const char *mime_of(const char *path)
{
    static const char *const map[][2] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".map", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".woff2", "font/woff2" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

/* "/index.html" or "/assets/NAME" with NAME [A-Za-z0-9._-]+ not starting with '.'. */
static int asset_path_ok(const char *path)
{
    if (strcmp(path, "/index.html") == 0) return 1;
    if (strncmp(path, "/assets/", 8) != 0) return 0;
    return request_trace_name_ok(path + 8); /* the same rule as trace names */
}

/* --web DIR: the file, never outside DIR (no symlink out of it). */
static int serve_file(struct server *srv, struct mg_connection *conn, const char *path)
{
    char want[PATH_MAX + 64], real[PATH_MAX];
    snprintf(want, sizeof want, "%s%s", srv->web_root, path);
    size_t root = strlen(srv->web_root);
    if (realpath(want, real) == NULL || strncmp(real, srv->web_root, root) != 0
        || real[root] != '/')
        return reply_error(conn, 404, "no such file");
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 30)) {
        if (fd >= 0) close(fd);
        return reply_error(conn, 404, "no such file");
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    int rc = buf && got == n ? reply(conn, 200, mime_of(path), buf, n, "")
                             : reply_error(conn, 404, "cannot read the file");
    free(buf);
    return rc;
}

static int serve_asset(struct server *srv, struct mg_connection *conn, const char *path)
{
    if (!asset_path_ok(path)) return reply_error(conn, 404, "no such asset");
    if (srv->web_root) return serve_file(srv, conn, path);
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, path) == 0)
            return reply(conn, 200, web_assets[i].mime, web_assets[i].data, web_assets[i].len, "");
    return reply_error(conn, 404, "no such asset");
}

/* ------------------------------------------------------------------------------------- */
/* /api/meta                                                                             */

/* Is the file a trace (its magic)? */
static int looks_like_trace(const char *path)
{
    char magic[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    return n == (ssize_t)sizeof magic && memcmp(magic, "HLTRACE", 8) == 0;
}

static cJSON *trace_list(struct server *srv)
{
    cJSON *arr = cJSON_CreateArray();
    if (srv->trace_root == NULL) return arr;
    DIR *dir = opendir(srv->trace_root);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (!request_trace_name_ok(e->d_name)) continue;
        char path[PATH_MAX + 300];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", srv->trace_root, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || !looks_like_trace(path)) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", e->d_name);
        cJSON_AddNumberToObject(t, "bytes", (double)st.st_size);
        cJSON_AddItemToArray(arr, t);
    }
    if (dir) closedir(dir);
    return arr;
}

static int is_default_lab(const char *name)
{
    const char *p = LAB_DEFAULT_SET;
    size_t n = strlen(name);
    while (*p) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, name, n) == 0) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

static int serve_meta(struct server *srv, struct mg_connection *conn)
{
    const struct server_limits *l = &srv->lim;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schema", SERVER_SCHEMA);
    cJSON_AddStringToObject(o, "version", HEAPLAB_VERSION);
    cJSON_AddStringToObject(o, "mode", srv->tf ? "ticks" : "live");
    cJSON *wl = cJSON_AddArrayToObject(o, "workloads");
    for (size_t i = 0; i < workload_count; i++) {
        const struct workload *w = workload_list[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", w->name);
        cJSON_AddStringToObject(x, "summary", w->summary);
        cJSON_AddStringToObject(x, "category", w->category);
        cJSON_AddNumberToObject(x, "default_ops", (double)w->default_ops);
        cJSON_AddNumberToObject(x, "min_threads", w->min_threads ? w->min_threads : 1);
        cJSON_AddItemToArray(wl, x);
    }
    cJSON *lab = cJSON_AddArrayToObject(o, "lab");
    for (size_t i = 0; i < lab_count; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", lab_list[i]->name);
        cJSON_AddStringToObject(x, "summary", lab_list[i]->summary);
        cJSON_AddBoolToObject(x, "default", is_default_lab(lab_list[i]->name));
        cJSON_AddItemToArray(lab, x);
    }
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddNumberToObject(lim, "ops_max", (double)l->ops_max);
    cJSON_AddNumberToObject(lim, "arena_min", (double)l->arena_min);
    cJSON_AddNumberToObject(lim, "arena_max", (double)l->arena_max);
    cJSON_AddNumberToObject(lim, "tick_every_min", (double)l->tick_every_min);
    cJSON_AddNumberToObject(lim, "sessions_max", l->sessions_max);
    cJSON_AddNumberToObject(lim, "clients_max", l->clients_max);
    cJSON_AddNumberToObject(lim, "upload_bytes", (double)l->upload_bytes);
    cJSON_AddNumberToObject(lim, "uploads_max", l->uploads_max);
    cJSON_AddNumberToObject(lim, "ring_bytes", (double)l->ring_bytes);
    cJSON_AddNumberToObject(lim, "detail_bytes", (double)l->detail_bytes);
    cJSON_AddNumberToObject(lim, "tps_max", l->tps_max);
    cJSON_AddNumberToObject(lim, "message_bytes", (double)l->message_bytes);
    cJSON_AddNumberToObject(lim, "lanes_max", l->lanes_max);
    cJSON *def = cJSON_AddObjectToObject(o, "defaults");
    cJSON_AddNumberToObject(def, "seed", 1);
    cJSON_AddNumberToObject(def, "ops_cap", RACE_OPS_CAP);
    cJSON_AddNumberToObject(def, "arena", 0);
    cJSON_AddNumberToObject(def, "tick_every", 0);
    cJSON_AddNumberToObject(def, "tps", REQUEST_TPS_AUTO);
    cJSON *al = cJSON_AddArrayToObject(def, "allocators");
    for (size_t i = 0; i < lab_count; i++)
        if (is_default_lab(lab_list[i]->name))
            cJSON_AddItemToArray(al, cJSON_CreateString(lab_list[i]->name));
    cJSON_AddItemToObject(o, "traces", trace_list(srv));
    cJSON_AddItemToObject(o, "real", real_meta());
    if (srv->tf) {
        cJSON *t = cJSON_AddObjectToObject(o, "ticks");
        cJSON_AddStringToObject(t, "file", srv->tf_name);
        static const char *const keep[] = { "workload", "seed", "ops", "arena_bytes", "cells" };
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(srv->tf->header, keep[i]);
            if (it) cJSON_AddItemToObject(t, keep[i], cJSON_Duplicate(it, 1));
        }
        cJSON_AddNumberToObject(t, "ticks", srv->tf->ticks);
    }
    return reply_json(conn, 200, o);
}

/* ------------------------------------------------------------------------------------- */
/* Uploads                                                                               */

/* Drop a reference to `u` (under srv->mu); the last one frees it. */
void upload_put(struct server *srv, struct upload *u)
{
    (void)srv;
    if (--u->refs > 0) return;
    free(u->data);
    free(u);
}

static int serve_upload(struct server *srv, struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char name[SERVER_NAME_MAX + 2] = "upload";
    if (ri->query_string) {
        int n = mg_get_var(ri->query_string, strlen(ri->query_string), "name", name, sizeof name);
        if (n == -2 || (n >= 0 && (size_t)n > SERVER_NAME_MAX))
            return reply_error(conn, 400, "name: at most %d characters", SERVER_NAME_MAX);
        if (n < 0) snprintf(name, sizeof name, "upload");
        for (char *p = name; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return reply_error(conn, 400, "name: no control characters");
    }
    uint64_t cap = srv->lim.upload_bytes;
    if (ri->content_length > (long long)cap)
        return reply_error(conn, 413, "the trace is %lld bytes, over the limit of %llu",
                           ri->content_length, (unsigned long long)cap);
    size_t want = ri->content_length >= 0 ? (size_t)ri->content_length : (size_t)cap + 1;
    unsigned char *data = malloc(want ? want : 1);
    if (data == NULL) return reply_error(conn, 413, "no memory for a %zu-byte upload", want);
    size_t got = 0;
    while (got < want) {
        int n = mg_read(conn, data + got, want - got > 65536 ? 65536 : want - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got > cap) {
        free(data);
        return reply_error(conn, 413, "the trace is over the limit of %llu bytes",
                           (unsigned long long)cap);
    }
    if (ri->content_length >= 0 && got != want) {
        free(data);
        return reply_error(conn, 400, "the body ended after %zu of %zu bytes", got, want);
    }
    struct upload_info info;
    struct diag d = { { 0 } };
    if (request_upload(data, got, name, &info, &d) != 0) {
        free(data);
        return reply_error(conn, 400, "%s", d.msg);
    }
    struct upload *u = calloc(1, sizeof *u);
    if (u == NULL) {
        free(data);
        return reply_error(conn, 413, "out of memory");
    }
    u->data = data;
    u->len = got;
    u->events = info.events;
    u->threads = info.threads;
    u->refs = 1;
    snprintf(u->name, sizeof u->name, "%.*s", (int)sizeof u->name - 1, name);
    snprintf(u->damage, sizeof u->damage, "%s", info.damage);
    pthread_mutex_lock(&srv->mu);
    u->id = ++srv->next_id;
    if (srv->nuploads == srv->lim.uploads_max) { /* the oldest is forgotten */
        upload_put(srv, srv->uploads[0]);
        memmove(srv->uploads, srv->uploads + 1, (srv->nuploads - 1) * sizeof *srv->uploads);
        srv->nuploads--;
    }
    srv->uploads[srv->nuploads++] = u;
    pthread_mutex_unlock(&srv->mu);
    cJSON *o = cJSON_CreateObject();
    char id[40];
    snprintf(id, sizeof id, "upload:%llu", (unsigned long long)u->id);
    cJSON_AddStringToObject(o, "trace", id);
    cJSON_AddStringToObject(o, "name", u->name);
    cJSON_AddNumberToObject(o, "events", (double)u->events);
    cJSON_AddNumberToObject(o, "threads", u->threads);
    cJSON_AddStringToObject(o, "damage", u->damage);
    return reply_json(conn, 201, o);
}

/* ------------------------------------------------------------------------------------- */
/* The export                                                                            */

struct export_out {
    struct mg_connection *conn;
    int started;
    char name[200];
};

static int export_write(void *arg, const char *data, size_t len)
{
    struct export_out *x = arg;
    if (!x->started) { /* the headers once the export is sure to start */
        x->started = 1;
        mg_printf(x->conn,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                  "Content-Disposition: attachment; filename=\"%s\"\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                  x->name);
    }
    return mg_write(x->conn, data, len) == (int)len ? 0 : -1;
}

static int serve_export(struct server *srv, struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char id[32];
    int n = ri->query_string ? mg_get_var(ri->query_string, strlen(ri->query_string), "session", id,
                                          sizeof id)
                             : -1;
    if (n <= 0 || strspn(id, "0123456789") != (size_t)n || n > 18)
        return reply_error(conn, 400, "session=ID is required (the race frame's session)");
    struct session *s = session_get(srv, strtoull(id, NULL, 10));
    if (s == NULL) return reply_error(conn, 404, "no session %s", id);
    if (srv->tf) {
        session_put(s);
        char extra[sizeof srv->tf_name + 64];
        snprintf(extra, sizeof extra, "Content-Disposition: attachment; filename=\"%s\"\r\n",
                 srv->tf_name);
        return reply(conn, 200, "application/x-ndjson", srv->tf_text, srv->tf_len, extra);
    }
    struct export_out x = { conn, 0, "" };
    int rc = session_export(s, export_write, &x, x.name, sizeof x.name);
    session_put(s);
    if (rc != 0 && !x.started) return reply_error(conn, 409, "the race has not started");
    return 200;
}

/* ------------------------------------------------------------------------------------- */
/* Routes                                                                                */

/* Does a comma-separated header value hold `token` (case-insensitive)? */
static int has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    while (value && *value) {
        value += strspn(value, " \t,");
        size_t k = strcspn(value, ",");
        size_t e = k;
        while (e > 0 && (value[e - 1] == ' ' || value[e - 1] == '\t'))
            e--;
        if (e == n && strncasecmp(value, token, n) == 0) return 1;
        value += k;
    }
    return 0;
}

/* A WebSocket handshake civetweb can complete, or a 4xx reply here: civetweb 1.15 sends
 * its own handshake errors without a status line. 0 to go on. */
static int check_handshake(struct mg_connection *conn)
{
    const char *up = mg_get_header(conn, "Upgrade");
    const char *cn = mg_get_header(conn, "Connection");
    const char *key = mg_get_header(conn, "Sec-WebSocket-Key");
    const char *ver = mg_get_header(conn, "Sec-WebSocket-Version");
    if (up == NULL || !has_token(up, "websocket"))
        return reply_error(conn, 400, "/ws is the WebSocket: it needs the upgrade");
    if (cn == NULL || !has_token(cn, "upgrade"))
        return reply_error(conn, 400, "a WebSocket handshake needs Connection: Upgrade");
    if (key == NULL || strlen(key) != 24
        || strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != 24)
        return reply_error(conn, 400, "a WebSocket handshake needs a Sec-WebSocket-Key");
    if (ver == NULL || strcmp(ver, "13") != 0) {
        const char *body = "{\"error\":\"WebSocket version 13 only\"}";
        return reply(conn, 426, "application/json", body, strlen(body),
                     "Sec-WebSocket-Version: 13\r\n");
    }
    return 0;
}

static int begin_request(struct mg_connection *conn)
{
    struct server *srv = mg_get_user_data(mg_get_context(conn));
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->local_uri ? ri->local_uri : "";
    int get = strcmp(ri->request_method, "GET") == 0;
    int rc = check_origin(srv, conn);
    if (rc) return rc;
    if (strcmp(uri, "/ws") == 0 || strcmp(uri, "/ws/real") == 0) {
        if (!get) return method_not_allowed(conn, "GET");
        if ((rc = check_handshake(conn)) != 0) return rc;
        pthread_mutex_lock(&srv->mu);
        int full = srv->nclients >= srv->lim.clients_max;
        pthread_mutex_unlock(&srv->mu);
        if (full)
            return reply_error(conn, 503, "%u pages are connected (limits.clients_max)",
                               srv->lim.clients_max);
        return 0; /* civetweb: the handshake, then the ws_* handlers */
    }
    if (strcmp(uri, "/") == 0 || strcmp(uri, "/index.html") == 0)
        return get ? serve_asset(srv, conn, "/index.html") : method_not_allowed(conn, "GET");
    if (strncmp(uri, "/assets/", 8) == 0)
        return get ? serve_asset(srv, conn, uri) : method_not_allowed(conn, "GET");
    if (strcmp(uri, "/api/meta") == 0)
        return get ? serve_meta(srv, conn) : method_not_allowed(conn, "GET");
    if (strcmp(uri, "/api/traces") == 0) {
        if (strcmp(ri->request_method, "POST") != 0) return method_not_allowed(conn, "POST");
        if (srv->tf) return reply_error(conn, 409, "serving a tick file: no race can be started");
        return serve_upload(srv, conn);
    }
    if (strcmp(uri, "/api/export/ticks") == 0)
        return get ? serve_export(srv, conn) : method_not_allowed(conn, "GET");
    return reply_error(conn, 404, "not found");
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    (void)message;
    return 1; /* library code prints nothing */
}

static int ws_connect(const struct mg_connection *conn, void *arg)
{
    struct server *srv = arg;
    (void)conn;
    pthread_mutex_lock(&srv->mu);
    int refuse = srv->nclients >= srv->lim.clients_max || atomic_load(&srv->stopping);
    pthread_mutex_unlock(&srv->mu);
    return refuse;
}

static void ws_ready(struct mg_connection *conn, void *arg)
{
    mg_set_user_connection_data(conn, client_open(arg, conn));
}

static int ws_data(struct mg_connection *conn, int opcode, char *data, size_t len, void *arg)
{
    (void)arg;
    struct client *c = mg_get_user_connection_data(conn);
    return c ? client_message(c, opcode, data, len) : 0;
}

static void ws_close(const struct mg_connection *conn, void *arg)
{
    (void)arg;
    struct client *c = mg_get_user_connection_data(conn);
    mg_set_user_connection_data(conn, NULL);
    client_close(c);
}

/* ------------------------------------------------------------------------------------- */
/* Start and stop                                                                        */

int server_is_loopback(const char *addr)
{
    return loopback_name(addr, strlen(addr));
}

static char *dir_root(const char *dir, const char *what, struct diag *d)
{
    char real[PATH_MAX];
    struct stat st;
    if (realpath(dir, real) == NULL || stat(real, &st) != 0) {
        diag_set(d, "%s %s: %s", what, dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        diag_set(d, "%s %s: not a directory", what, dir);
        return NULL;
    }
    char *p = strdup(real);
    if (p == NULL) diag_set(d, "out of memory");
    return p;
}

static void init_civetweb(void)
{
    mg_init_library(0); /* no TLS */
}

static void server_free(struct server *srv)
{
    for (unsigned i = 0; i < srv->nuploads; i++)
        upload_put(srv, srv->uploads[i]);
    free(srv->uploads);
    if (srv->tf) tickfile_fini(srv->tf);
    free(srv->tf);
    free(srv->tf_text);
    free(srv->web_root);
    free(srv->trace_root);
    free(srv->command_line);
    cJSON_Delete(srv->machine);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

int server_start(const struct server_config *cfg, struct server **out, struct diag *d)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) return diag_set(d, "out of memory");
    pthread_mutex_init(&srv->mu, NULL);
    atomic_init(&srv->stopping, 0);
    srv->cfg = *cfg;
    srv->lim = cfg->limits;
    srv->loopback = server_is_loopback(cfg->bind);
    srv->command_line = strdup(cfg->command_line ? cfg->command_line : "heaplab serve");
    srv->uploads = calloc(srv->lim.uploads_max ? srv->lim.uploads_max : 1, sizeof *srv->uploads);
    if (!srv->command_line || !srv->uploads) {
        server_free(srv);
        return diag_set(d, "out of memory");
    }
    struct in_addr a;
    if (inet_pton(AF_INET, cfg->bind, &a) != 1) {
        server_free(srv);
        return diag_set(d, "--bind %s: not an IPv4 address (this civetweb has no IPv6)", cfg->bind);
    }
    if (cfg->web_dir && (srv->web_root = dir_root(cfg->web_dir, "--web", d)) == NULL) {
        server_free(srv);
        return -1;
    }
    if (cfg->trace_dir && (srv->trace_root = dir_root(cfg->trace_dir, "--trace-dir", d)) == NULL) {
        server_free(srv);
        return -1;
    }
    if (cfg->ticks_file) {
        srv->tf = calloc(1, sizeof *srv->tf);
        if (srv->tf == NULL
            || tickfile_read(cfg->ticks_file, srv->tf, &srv->tf_text, &srv->tf_len, d) != 0) {
            if (srv->tf && !d->msg[0]) diag_set(d, "out of memory");
            free(srv->tf);
            srv->tf = NULL;
            server_free(srv);
            return -1;
        }
        const char *base = strrchr(cfg->ticks_file, '/');
        snprintf(srv->tf_name, sizeof srv->tf_name, "%s", base ? base + 1 : cfg->ticks_file);
        for (char *p = srv->tf_name; *p; p++) /* it goes into a header line */
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
                *p = '-';
    } else {
        srv->machine = machine_json(); /* once, for the exports' envelope */
    }

    pthread_once(&once, init_civetweb);
    char ports[80], threads[16];
    snprintf(ports, sizeof ports, "%s:%u", cfg->bind, cfg->port);
    snprintf(threads, sizeof threads, "%u", srv->lim.clients_max + SERVER_THREADS_EXTRA);
    const char *options[] = {
        "listening_ports",
        ports,
        "num_threads",
        threads,
        "request_timeout_ms",
        "10000", /* also bounds a write to a page that stalls */
        "websocket_timeout_ms",
        "5000", /* a quiet page is pinged after this */
        "enable_websocket_ping_pong",
        "yes",
        "tcp_nodelay",
        "1",
        "enable_keep_alive",
        "no",
        "decode_url",
        "yes",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.begin_request = begin_request;
    cb.log_message = log_message;
    struct mg_init_data init = { &cb, srv, options };
    char why[256] = "";
    unsigned code = 0;
    struct mg_error_data err = { &code, why, sizeof why };
    srv->ctx = mg_start2(&init, &err);
    if (srv->ctx == NULL) {
        diag_set(d, "cannot listen on %s: %s", ports, why[0] ? why : "civetweb failed to start");
        server_free(srv);
        return -1;
    }
    mg_set_websocket_handler(srv->ctx, "/ws", ws_connect, ws_ready, ws_data, ws_close, srv);
    real_register(srv);
    struct mg_server_port p[4];
    int np = mg_get_server_ports(srv->ctx, 4, p);
    srv->port = np > 0 ? (unsigned)p[0].port : cfg->port;
    *out = srv;
    return 0;
}

unsigned server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *srv)
{
    if (srv == NULL) return;
    atomic_store(&srv->stopping, 1);
    mg_stop(srv->ctx); /* every page's close handler ends its session and sender */
    server_free(srv);
}
