/*
 * cli/cmd_record.c: `heaplab record [-o FILE] -- CMD ARGS...`: run CMD with the recorder
 * (libheaplab-trace.so, found next to the heaplab binary) preloaded in front of any
 * LD_PRELOAD already set, wait for it, and summarize what was written on one line.
 *
 * Files: FILE for the first process; FILE.<pid> (or FILE.<pid>.<n>) for fork children and
 * exec'd images. An existing FILE is replaced; the other files of this run are recognized by
 * the session number every header carries, so stale files of earlier runs are not counted.
 * The last line names each file with the program it holds ("py.trace: env (267 events);
 * py.trace.4242: python3 (1.2M events)"), which matters when CMD is a wrapper that execs.
 *
 * Exit status: 0 when CMD exited 0. When CMD fails (non-zero status, killed by a signal) the
 * trace is kept, the failure is reported on stderr and the status is 1, as it is when no
 * trace could be written. 2: a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trace/trace.h"
#include "util/diag.h"
#include "util/helper.h"

static const char record_usage[] =
        "usage: heaplab record [-o FILE] [--buffer BYTES] -- CMD [ARGS...]\n";

static const char record_help[] =
        "\n"
        "Run CMD and record every malloc, free, calloc, realloc, reallocarray,\n"
        "posix_memalign, aligned_alloc, memalign, valloc and pvalloc call of it and of the\n"
        "processes it starts (format heaplab.trace/1, docs/traces.md; inspect with\n"
        "'heaplab trace info FILE'). The recorder goes in front of any LD_PRELOAD already\n"
        "set, so it records over the allocator preloaded there (glibc's otherwise).\n"
        "\n"
        "options:\n"
        "  -o, --output FILE   the trace of the first process (default: heaplab-<pid>.trace);\n"
        "                      other processes write FILE.<pid>\n"
        "      --buffer BYTES  bytes of events each thread buffers before writing a chunk\n"
        "                      (4096 to 16M, K/M suffixes are x1024; default 64K)\n"
        "  -h, --help          this help\n"
        "\n"
        "Exit status: 0; 1 when CMD failed (the trace is kept) or nothing was recorded;\n"
        "2 on a usage error.\n";

static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    if (shift) end++;
    if (*end || v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* An event count for people: exact below 10000, then 12.3k, 1.2M, 3.4G. */
static void fmt_count(char *buf, size_t n, uint64_t v)
{
    if (v < 10000)
        snprintf(buf, n, "%" PRIu64, v);
    else if (v < 1000000)
        snprintf(buf, n, "%.1fk", (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(buf, n, "%.1fM", (double)v / 1e6);
    else
        snprintf(buf, n, "%.1fG", (double)v / 1e9);
}

#define LIST_MAX 8 /* files named on the last line */

/*
 * The last line: the totals, then which file holds which program, in the order the process
 * images started (through a wrapper, the wrapper's FILE comes first). `name` is FILE as the
 * user gave it, `base` its file name; damaged files get a warning first.
 */
static void print_recorded(const struct trace_recording *rec, const char *name, const char *base)
{
    uint64_t events = 0, threads = 0, bytes = 0;
    size_t pids = 0;
    size_t blen = strlen(base);
    for (size_t i = 0; i < rec->n; i++) {
        const struct trace_file *f = &rec->files[i];
        events += f->status.events;
        threads += f->status.threads;
        bytes += f->status.file_bytes;
        size_t k = 0;
        while (k < i && rec->files[k].pid != f->pid)
            k++;
        pids += k == i;
        char damage[256];
        trace_damage_format(&f->status, damage, sizeof(damage));
        if (*damage) cli_warn("%s%s: %s", name, f->name + blen, damage);
    }
    char size[32];
    double mib = (double)bytes / (1u << 20);
    if (mib >= 0.1)
        snprintf(size, sizeof(size), "%.1f MiB", mib);
    else
        snprintf(size, sizeof(size), "%.1f KiB", (double)bytes / 1024);
    fprintf(stderr,
            "heaplab: recorded %" PRIu64 " events, %" PRIu64 " thread%s, %zu process%s (%s): ",
            events, threads, threads == 1 ? "" : "s", pids, pids == 1 ? "" : "es", size);
    for (size_t i = 0; i < rec->n && i < LIST_MAX; i++) {
        const struct trace_file *f = &rec->files[i];
        char count[32];
        fmt_count(count, sizeof(count), f->status.events);
        fprintf(stderr, "%s%s%s: %s (%s events)", i ? "; " : "", name, f->name + blen, f->program,
                count);
    }
    if (rec->n > LIST_MAX) fprintf(stderr, "; %zu more (%s.*)", rec->n - LIST_MAX, name);
    fputc('\n', stderr);
}

int cmd_record(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "buffer", required_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL;
    uint64_t buffer = 0;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (!*optarg) return cli_usage_error(record_usage, "%s", "empty output file name");
            out = optarg;
            break;
        case 'B':
            if (parse_bytes(optarg, &buffer) != 0 || buffer < 4096 || buffer > (16u << 20))
                return cli_usage_error(record_usage, "bad --buffer \"%s\" (4096..16M)", optarg);
            break;
        case 'h':
            fputs(record_usage, stdout);
            fputs(record_help, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(record_usage, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(record_usage, "%s",
                               "no command given (heaplab record [options] -- CMD ...)");
    char **cmd = &argv[optind];

    /* The recorder sits next to this binary, or in ../lib/heaplab once installed. */
    char lib[PATH_MAX];
    if (helper_find("libheaplab-trace.so", lib, sizeof(lib)) != 0) {
        cli_error("the recorder %s is missing (build it: make)", lib);
        return EXIT_FAIL;
    }
    if (strpbrk(lib, " :")) {
        cli_error("the recorder's path %s has a space or colon, which LD_PRELOAD cannot carry",
                  lib);
        return EXIT_FAIL;
    }

    /* The program must exist before anything runs. */
    if (!strchr(cmd[0], '/')) {
        const char *path = getenv("PATH");
        char *copy = strdup(path ? path : "/usr/bin:/bin");
        int found = 0;
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
             d = strtok_r(NULL, ":", &save)) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", d, cmd[0]);
            found = access(p, X_OK) == 0;
        }
        free(copy);
        if (!found) {
            cli_error("command not found: %s", cmd[0]);
            return EXIT_FAIL;
        }
    } else if (access(cmd[0], X_OK) != 0) {
        cli_error("cannot execute %s: %s", cmd[0], strerror(errno));
        return EXIT_FAIL;
    }

    /* FILE, made absolute (the program may change directory); an old one is replaced. */
    char name[PATH_MAX], abs_path[2 * PATH_MAX], dir[2 * PATH_MAX];
    if (out)
        snprintf(name, sizeof(name), "%s", out);
    else
        snprintf(name, sizeof(name), "heaplab-%ld.trace", (long)getpid());
    if (name[0] == '/') {
        snprintf(abs_path, sizeof(abs_path), "%s", name);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd))) {
            cli_error("cannot read the current directory: %s", strerror(errno));
            return EXIT_FAIL;
        }
        snprintf(abs_path, sizeof(abs_path), "%s/%s", cwd, name);
    }
    struct stat sb;
    if (stat(abs_path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            cli_error("%s exists and is not a regular file", name);
            return EXIT_FAIL;
        }
        if (unlink(abs_path) != 0) {
            cli_error("cannot replace %s: %s", name, strerror(errno));
            return EXIT_FAIL;
        }
    }
    snprintf(dir, sizeof(dir), "%s", abs_path);
    char *slash = strrchr(dir, '/');
    const char *base = abs_path + (slash - dir) + 1;
    if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (!*base) {
        cli_error("bad output file name \"%s\"", name);
        return EXIT_FAIL;
    }
    if (access(dir, W_OK) != 0) {
        cli_error("cannot write in %s: %s", dir, strerror(errno));
        return EXIT_FAIL;
    }

    uint64_t session = 0;
    if (getrandom(&session, sizeof(session), 0) != (ssize_t)sizeof(session))
        session = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    session &= (1ull << 53) - 1; /* exact in any JSON reader */
    if (!session) session = 1;

    const char *old_preload = getenv("LD_PRELOAD");
    size_t plen = strlen(lib) + (old_preload ? strlen(old_preload) : 0) + 2;
    char *preload = malloc(plen);
    if (!preload) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    snprintf(preload, plen, "%s%s%s", lib, old_preload && *old_preload ? ":" : "",
             old_preload ? old_preload : "");

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        free(preload);
        return EXIT_FAIL;
    }
    if (pid == 0) {
        char num[32];
        setenv("LD_PRELOAD", preload, 1);
        setenv("HEAPLAB_TRACE_FILE", abs_path, 1);
        snprintf(num, sizeof(num), "%" PRIu64, session);
        setenv("HEAPLAB_TRACE_SESSION", num, 1);
        if (buffer) {
            snprintf(num, sizeof(num), "%" PRIu64, buffer);
            setenv("HEAPLAB_TRACE_BUFFER", num, 1);
        } else {
            unsetenv("HEAPLAB_TRACE_BUFFER");
        }
        execvp(cmd[0], cmd);
        fprintf(stderr, "heaplab: cannot execute %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    free(preload);

    /* Like system(): ^C and ^\ are for the program; we stay to write the summary. */
    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);

    struct trace_recording rec;
    struct diag d = { { 0 } };
    if (trace_recording_read(&rec, dir, base, session, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    size_t files = rec.n;
    int rc = EXIT_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && files == 0) return EXIT_FAIL;
    if (files == 0) {
        cli_error("no trace was written (is %s writable, and does %s use the dynamic "
                  "linker's LD_PRELOAD?)",
                  dir, cmd[0]);
        rc = EXIT_FAIL;
    } else {
        print_recorded(&rec, name, base);
    }
    trace_recording_fini(&rec);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        cli_error("%s exited with status %d%s", cmd[0], WEXITSTATUS(status),
                  files ? " (the trace is kept)" : "");
        rc = EXIT_FAIL;
    } else if (WIFSIGNALED(status)) {
        cli_error("%s was killed by signal %d (%s)%s", cmd[0], WTERMSIG(status),
                  strsignal(WTERMSIG(status)), files ? "; the trace is kept" : "");
        rc = EXIT_FAIL;
    }
    return rc;
}
