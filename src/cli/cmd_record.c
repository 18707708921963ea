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

static int run_record(int argc, char **argv, const struct cli_ctx *ctx);

static const struct cli_opt record_opts[] = {
    { .key = 'o',
      .short_name = 'o',
      .name = "output",
      .arg = "FILE",
      .help = "the trace of the first process (default: heaplab-<pid>.trace);\n"
              "other processes write FILE.<pid>" },
    { .key = 'B',
      .name = "buffer",
      .arg = "BYTES",
      .help = "bytes of events each thread buffers before writing a chunk\n"
              "(4K to 16M, IEC suffixes; default 64K)" },
    { 0 },
};

const struct cli_command cli_cmd_record = {
    .name = "record",
    .summary = "run a program and record its malloc calls into a trace",
    .args_after = "-- CMD [ARGS...]",
    .about = "Run CMD and record every malloc, free, calloc, realloc, reallocarray,\n"
             "posix_memalign, aligned_alloc, memalign, valloc and pvalloc call of it and of the\n"
             "processes it starts (format heaplab.trace/1, docs/traces.md; inspect with\n"
             "'heaplab trace info FILE'). The recorder goes in front of any LD_PRELOAD already\n"
             "set, so it records over the allocator preloaded there (glibc's otherwise).",
    .opts = record_opts,
    .notes = "Exit status: 0; 1 when CMD failed (the trace is kept) or nothing was recorded;\n"
             "2 on a usage error.",
    .run = run_record,
};

/* One record command line and what validating it found. */
struct record_args {
    const char *out;             /* -o FILE, or NULL */
    uint64_t buffer;             /* --buffer, 0 = the recorder's default */
    char **cmd;                  /* the program and its arguments */
    char lib[PATH_MAX];          /* the recorder library */
    char name[PATH_MAX];         /* FILE as given (or the default) */
    char abs_path[2 * PATH_MAX]; /* FILE, absolute */
    char dir[2 * PATH_MAX];      /* its directory */
    const char *base;            /* its file name, in abs_path */
};

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

static int parse_record(struct record_args *a, int argc, char **argv)
{
    struct cli_parser p;
    cli_parser_init(&p, &cli_cmd_record, argc, argv);
    int ch;
    while ((ch = cli_next(&p)) > 0) {
        switch (ch) {
        case 'o':
            if (!*p.value) return cli_usage(&cli_cmd_record, "empty output file name");
            a->out = p.value;
            break;
        case 'B':
            if (cli_value_bytes(&p, 4096, 16u << 20, &a->buffer) != 0) return EXIT_USAGE;
            break;
        }
    }
    if (ch != CLI_DONE) return cli_parse_status(ch);
    if (p.optind >= argc)
        return cli_usage(&cli_cmd_record, "no command given (heaplab record [options] -- CMD ...)");
    a->cmd = &argv[p.optind];
    return -1;
}

/* The program must exist before anything runs. */
static int check_program(const char *prog)
{
    if (strchr(prog, '/')) {
        if (access(prog, X_OK) == 0) return 0;
        cli_error("cannot execute %s: %s", prog, strerror(errno));
        return EXIT_FAIL;
    }
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/bin");
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];
        snprintf(full, sizeof(full), "%s/%s", d, prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    if (found) return 0;
    cli_error("command not found: %s", prog);
    return EXIT_FAIL;
}

/* FILE, made absolute (the program may change directory), checked writable; an old one is
 * removed (unless read-only: refused). */
static int resolve_output(struct record_args *a)
{
    if (a->out)
        snprintf(a->name, sizeof(a->name), "%s", a->out);
    else
        snprintf(a->name, sizeof(a->name), "heaplab-%ld.trace", (long)getpid());
    if (a->name[0] == '/') {
        snprintf(a->abs_path, sizeof(a->abs_path), "%s", a->name);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd))) {
            cli_error("cannot read the current directory: %s", strerror(errno));
            return EXIT_FAIL;
        }
        snprintf(a->abs_path, sizeof(a->abs_path), "%s/%s", cwd, a->name);
    }
    snprintf(a->dir, sizeof(a->dir), "%s", a->abs_path);
    char *slash = strrchr(a->dir, '/');
    a->base = a->abs_path + (slash - a->dir) + 1;
    if (slash == a->dir)
        a->dir[1] = 0;
    else
        *slash = 0;
    if (!*a->base) {
        cli_error("bad output file name \"%s\"", a->name);
        return EXIT_FAIL;
    }
    struct stat sb;
    if (stat(a->abs_path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        cli_error("%s: exists and is not a regular file", a->name);
        return EXIT_FAIL;
    }
    if (cli_check_output("--output", a->abs_path) != 0) return EXIT_FAIL;
    if (stat(a->abs_path, &sb) == 0 && unlink(a->abs_path) != 0) {
        cli_error("%s: cannot replace it: %s", a->name, strerror(errno));
        return EXIT_FAIL;
    }
    return 0;
}

static int validate_record(struct record_args *a)
{
    /* The recorder sits next to this binary, or in ../lib/heaplab once installed. */
    if (helper_find("libheaplab-trace.so", a->lib, sizeof(a->lib)) != 0) {
        cli_error("the recorder %s is missing (build it: make)", a->lib);
        return EXIT_FAIL;
    }
    if (strpbrk(a->lib, " :")) {
        cli_error("the recorder's path %s has a space or colon, which LD_PRELOAD cannot carry",
                  a->lib);
        return EXIT_FAIL;
    }
    int rc = check_program(a->cmd[0]);
    return rc ? rc : resolve_output(a);
}

/* The child: the recorder preloaded in front of any LD_PRELOAD, then CMD. */
static void exec_recorded(const struct record_args *a, const char *preload, uint64_t session)
{
    char num[32];
    setenv("LD_PRELOAD", preload, 1);
    setenv("HEAPLAB_TRACE_FILE", a->abs_path, 1);
    snprintf(num, sizeof(num), "%" PRIu64, session);
    setenv("HEAPLAB_TRACE_SESSION", num, 1);
    if (a->buffer) {
        snprintf(num, sizeof(num), "%" PRIu64, a->buffer);
        setenv("HEAPLAB_TRACE_BUFFER", num, 1);
    } else {
        unsetenv("HEAPLAB_TRACE_BUFFER");
    }
    execvp(a->cmd[0], a->cmd);
    fprintf(stderr, "heaplab: cannot execute %s: %s\n", a->cmd[0], strerror(errno));
    _exit(127);
}

/* Run CMD under the recorder and wait for it: 0 with its wait status, or EXIT_FAIL. Like
 * system(), ^C and ^\ are for the program; heaplab stays to write the summary. */
static int run_recorded(const struct record_args *a, uint64_t session, int *status)
{
    const char *old_preload = getenv("LD_PRELOAD");
    size_t plen = strlen(a->lib) + (old_preload ? strlen(old_preload) : 0) + 2;
    char *preload = malloc(plen);
    if (!preload) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    snprintf(preload, plen, "%s%s%s", a->lib, old_preload && *old_preload ? ":" : "",
             old_preload ? old_preload : "");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) exec_recorded(a, preload, session);
    free(preload);
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return EXIT_FAIL;
    }
    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    return 0;
}

/* The last line, and the exit status from what was written and how CMD ended. */
static int report_recorded(const struct record_args *a, uint64_t session, int status)
{
    struct trace_recording rec;
    struct diag d = { { 0 } };
    if (trace_recording_read(&rec, a->dir, a->base, session, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    size_t files = rec.n;
    int rc = EXIT_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && files == 0) {
        trace_recording_fini(&rec);
        return EXIT_FAIL;
    }
    if (files == 0) {
        cli_error("no trace was written (is %s writable, and does %s use the dynamic "
                  "linker's LD_PRELOAD?)",
                  a->dir, a->cmd[0]);
        rc = EXIT_FAIL;
    } else {
        print_recorded(&rec, a->name, a->base);
    }
    trace_recording_fini(&rec);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        cli_error("%s exited with status %d%s", a->cmd[0], WEXITSTATUS(status),
                  files ? " (the trace is kept)" : "");
        rc = EXIT_FAIL;
    } else if (WIFSIGNALED(status)) {
        cli_error("%s was killed by signal %d (%s)%s", a->cmd[0], WTERMSIG(status),
                  strsignal(WTERMSIG(status)), files ? "; the trace is kept" : "");
        rc = EXIT_FAIL;
    }
    return rc;
}

static int run_record(int argc, char **argv, const struct cli_ctx *ctx)
{
    (void)ctx;
    static struct record_args a; /* large: PATH_MAX buffers */
    memset(&a, 0, sizeof a);
    int rc = parse_record(&a, argc, argv);
    if (rc >= 0) return rc;
    if ((rc = validate_record(&a)) != 0) return rc;
    uint64_t session = 0;
    if (getrandom(&session, sizeof(session), 0) != (ssize_t)sizeof(session))
        session = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    session &= (1ull << 53) - 1; /* exact in any JSON reader */
    if (!session) session = 1;
    int status = 0;
    if ((rc = run_recorded(&a, session, &status)) != 0) return rc;
    return report_recorded(&a, session, status);
}
