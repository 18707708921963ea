/*
 * tests/trace/tr_fork.c: allocations in the parent before and after a fork, and in the
 * child. The child writes its own trace file; the parent's buffered events stay with the
 * parent. Prints the counts it expects (key=value lines, the child's prefixed "child_").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static void churn(int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(size);
        free(sink);
    }
}

int main(void)
{
    churn(1000, 48);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        churn(700, 64);
        exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    churn(300, 80);
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "malloc=1300\nfree=1300\nforks=1\nchild_pid=%ld\nchild_malloc=700\n"
                     "child_free=700\n",
                     (long)pid);
    return write(1, line, (size_t)n) == n ? 0 : 1;
}
