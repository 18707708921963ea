/*
 * cli/cmd_serve.c: `heaplab serve`: the live visualizer of the lab race in the browser
 * (server/server.h, docs/serve.md). It prints the URL, then waits for SIGINT, SIGTERM or
 * SIGHUP: those are blocked in every thread before the server starts (its threads inherit
 * the mask) and taken here with sigwait(), so the server is stopped from an ordinary thread
 * (races joined, sockets closed) and the exit status is 128 + the signal. A second signal
 * during that stop goes to the CLI's handler and exits at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "server/server.h"
#include "util/diag.h"

extern char **environ;

#define PROCEED (-1)

static int serve_main(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_PORT = 256, OPT_BIND, OPT_OPEN, OPT_WEB, OPT_TRACE_DIR, OPT_TICKS };

static const struct cli_opt serve_opts[] = {
    { OPT_PORT, 0, "port", "N", "port to listen on, 0..65535; 0 picks a free one\n(default: 8080)",
      NULL, 0 },
    { OPT_BIND, 0, "bind", "ADDR",
      "IPv4 address to listen on (default: 127.0.0.1);\nanother than loopback prints a warning",
      NULL, 0 },
    { OPT_OPEN, 0, "open", NULL, "open the page with xdg-open", NULL, 0 },
    { OPT_WEB, 0, "web", "DIR",
      "serve the viewer from DIR instead of the copy\nbuilt in (development)", NULL, 0 },
    { OPT_TRACE_DIR, 0, "trace-dir", "DIR", "offer the traces in DIR ('heaplab record') to race",
      NULL, 0 },
    { OPT_TICKS, 0, "ticks", "FILE",
      "play a tick file ('heaplab race --ticks') read-only:\nno race can be started", NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .summary = "watch the lab allocators race, live in the browser",
    .about = "Serve the live visualizer: pick a workload or a recorded trace in the page and\n"
             "watch every lab allocator's arena as a heat map, with latency histograms,\n"
             "fragmentation and footprint lines and a leaderboard (docs/serve.md).\n"
             "Prints \"heaplab: serving on URL\" and serves until SIGINT or SIGTERM.",
    .opts = serve_opts,
    .run = serve_main,
};

struct serve_args {
    uint64_t port;
    const char *bind;
    int open;
    const char *web, *trace_dir, *ticks;
};

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    struct cli_parser p;
    int ch;
    *a = (struct serve_args){ .port = 8080, .bind = "127.0.0.1" };
    cli_parser_init(&p, &cli_cmd_serve, argc, argv);
    while ((ch = cli_next(&p)) > 0) {
        switch (ch) {
        case OPT_PORT:
            if (cli_value_count(&p, 0, 65535, &a->port) != 0) return EXIT_USAGE;
            break;
        case OPT_BIND:
            a->bind = p.value;
            break;
        case OPT_OPEN:
            a->open = 1;
            break;
        case OPT_WEB:
            a->web = p.value;
            break;
        case OPT_TRACE_DIR:
            a->trace_dir = p.value;
            break;
        case OPT_TICKS:
            a->ticks = p.value;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (ch != CLI_DONE) return cli_parse_status(ch);
    if (p.optind < argc)
        return cli_usage(&cli_cmd_serve, "unexpected argument \"%s\"", argv[p.optind]);
    if (a->ticks && a->trace_dir)
        return cli_usage(&cli_cmd_serve,
                         "--ticks serves a file read-only: --trace-dir does not apply");
    return PROCEED;
}

/* --open: xdg-open URL in the background; a warning when it cannot run or fails. */
static void *wait_opener(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cli_warn("--open: xdg-open failed; open the URL yourself");
    return NULL;
}

static void open_page(const char *url)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    char *args[] = { (char *)"xdg-open", (char *)url, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "xdg-open", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        cli_warn("--open: cannot run xdg-open (%s); open the URL yourself", strerror(rc));
        return;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, wait_opener, (void *)(intptr_t)pid) == 0) pthread_detach(th);
}

static int serve_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    struct serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != PROCEED) return rc;
    struct server_config cfg = { .bind = a.bind,
                                 .port = (unsigned)a.port,
                                 .web_dir = a.web,
                                 .trace_dir = a.trace_dir,
                                 .ticks_file = a.ticks,
                                 .command_line = ctx->command_line };
    server_limits_default(&cfg.limits);
    int loopback = server_is_loopback(a.bind);
    /* Block the stop signals before any thread exists: the server's threads inherit the
     * mask, and this thread takes them with sigwait(). */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    struct server *srv;
    struct diag d = { { 0 } };
    if (server_start(&cfg, &srv, &d) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    if (!loopback)
        cli_warn("--bind %s is not a loopback address: anyone who can reach this machine can "
                 "use the server (start races, upload traces)",
                 a.bind);
    char url[96];
    snprintf(url, sizeof url, "http://%s:%u/",
             strcmp(a.bind, "0.0.0.0") == 0 ? "127.0.0.1" : a.bind, server_port(srv));
    printf("heaplab: serving on %s\n", url);
    fflush(stdout);
    if (a.open) open_page(url);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    /* A second signal while stopping exits at once (the CLI's handler). */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    server_stop(srv);
    return 128 + sig;
}
