/* util/cleanup.c: the registry of children and temporary files (util/cleanup.h). */
#include "util/cleanup.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t children[CLEANUP_MAX_CHILDREN]; /* 0 = free slot */
static char files[CLEANUP_MAX_FILES][CLEANUP_PATH_MAX];
static volatile sig_atomic_t file_used[CLEANUP_MAX_FILES];

void cleanup_block(sigset_t *saved)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, saved);
}

void cleanup_restore(const sigset_t *saved)
{
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

int cleanup_add_child(pid_t pid)
{
    sigset_t saved;
    cleanup_block(&saved);
    int rc = -1;
    for (size_t i = 0; i < CLEANUP_MAX_CHILDREN && rc != 0; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            rc = 0;
        }
    }
    cleanup_restore(&saved);
    return rc;
}

void cleanup_remove_child(pid_t pid)
{
    sigset_t saved;
    cleanup_block(&saved);
    for (size_t i = 0; i < CLEANUP_MAX_CHILDREN; i++)
        if (children[i] == pid) children[i] = 0;
    cleanup_restore(&saved);
}

int cleanup_add_file(const char *path)
{
    size_t len = strlen(path);
    if (len >= CLEANUP_PATH_MAX) return -1;
    sigset_t saved;
    cleanup_block(&saved);
    int rc = -1;
    for (size_t i = 0; i < CLEANUP_MAX_FILES && rc != 0; i++) {
        if (!file_used[i]) {
            memcpy(files[i], path, len + 1);
            file_used[i] = 1;
            rc = 0;
        }
    }
    cleanup_restore(&saved);
    return rc;
}

void cleanup_remove_file(const char *path)
{
    sigset_t saved;
    cleanup_block(&saved);
    for (size_t i = 0; i < CLEANUP_MAX_FILES; i++)
        if (file_used[i] && strcmp(files[i], path) == 0) file_used[i] = 0;
    cleanup_restore(&saved);
}

int cleanup_run(void)
{
    int saved_errno = errno, killed = 0;
    for (size_t i = 0; i < CLEANUP_MAX_CHILDREN; i++) {
        pid_t pid = children[i];
        if (pid <= 0) continue;
        /* The group first (the child and what it started), then the child itself in case
         * it has not reached its setpgid yet. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        killed++;
    }
    for (size_t i = 0; i < CLEANUP_MAX_CHILDREN; i++) {
        pid_t pid = children[i];
        if (pid <= 0) continue;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        children[i] = 0;
    }
    for (size_t i = 0; i < CLEANUP_MAX_FILES; i++) {
        if (!file_used[i]) continue;
        unlink(files[i]);
        file_used[i] = 0;
    }
    errno = saved_errno;
    return killed;
}
