/* tests/unit/bench/test_spawn.c: child processes: output, exit status, timeout, usage. */
#include <string.h>
#include <sys/wait.h>

#include "bench/bench.h"
#include "check.h"

extern char **environ;

static void test_spawn_captures_stdout_and_status(void)
{
    char *const argv[] = { (char *)"/bin/sh", (char *)"-c",
                           (char *)"echo hello; echo oops >&2; exit 3", NULL };
    struct spawn_result r;
    REQUIRE(spawn_run(argv, environ, 10, SPAWN_CAPTURE_OUT, &r) == 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
    CHECK(r.out && strcmp(r.out, "hello\n") == 0);
    CHECK(r.err && strcmp(r.err, "oops\n") == 0);
    CHECK(!r.timed_out);
    spawn_result_free(&r);
}

static void test_spawn_kills_at_timeout(void)
{
    char *const argv[] = { (char *)"/bin/sleep", (char *)"30", NULL };
    struct spawn_result r;
    REQUIRE(spawn_run(argv, environ, 1, 0, &r) == 0);
    CHECK(r.timed_out);
    CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == 9);
    CHECK(r.wall_ns < 5000000000ull);
    spawn_result_free(&r);
}

static void test_spawn_reports_child_usage(void)
{
    /* A child that touches 64 MiB must show at least that peak RSS. */
    char *const argv[] = { (char *)"/bin/sh", (char *)"-c",
                           (char *)"head -c 67108864 /dev/zero | tail -c 1 >/dev/null", NULL };
    struct spawn_result r;
    REQUIRE(spawn_run(argv, environ, 30, 0, &r) == 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    CHECK(r.usage.maxrss_bytes > 0);
    CHECK(r.usage.minor_faults > 0);
    spawn_result_free(&r);
}

static void test_spawn_missing_program_exits_127(void)
{
    char *const argv[] = { (char *)"/nonexistent/prog", NULL };
    struct spawn_result r;
    REQUIRE(spawn_run(argv, environ, 10, 0, &r) == 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127);
    CHECK(r.err && strstr(r.err, "cannot execute"));
    spawn_result_free(&r);
}

int main(void)
{
    RUN_TEST(test_spawn_captures_stdout_and_status);
    RUN_TEST(test_spawn_kills_at_timeout);
    RUN_TEST(test_spawn_reports_child_usage);
    RUN_TEST(test_spawn_missing_program_exits_127);
    return check_report();
}
