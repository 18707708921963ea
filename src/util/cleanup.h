/*
 * util/cleanup.h: what must not outlive an interrupted run.
 *
 * A process-wide registry of the child process groups a command started and of the
 * temporary files it is writing. Library code registers and unregisters; the command's
 * signal handler (cli) calls cleanup_run(), which is async-signal-safe: it sends SIGKILL to
 * every registered process group, reaps them, and unlinks every registered file.
 *
 * Invariants:
 *  C1  A child is registered before the signals that run cleanup_run() are unblocked after
 *      its fork (spawn code blocks them around fork + register), so no child escapes.
 *  C2  Every spawned child leads its own process group (setpgid in parent and child), so
 *      killing the group also kills whatever the child started (a program's own children).
 *  C3  Slots are written with plain stores of sig_atomic_t-sized values while the signals
 *      are blocked (cleanup_block), so the handler never sees a half-written slot.
 */
#ifndef HEAPLAB_UTIL_CLEANUP_H
#define HEAPLAB_UTIL_CLEANUP_H

#include <signal.h>
#include <sys/types.h>

#define CLEANUP_MAX_CHILDREN 64
#define CLEANUP_MAX_FILES    16
#define CLEANUP_PATH_MAX     4160

/* Block (and restore) the signals whose handler runs cleanup_run(): INT, TERM, HUP. */
void cleanup_block(sigset_t *saved);
void cleanup_restore(const sigset_t *saved);

/* Register the process group led by `pid` (0, or -1 when the table is full). */
int cleanup_add_child(pid_t pid);
/* Forget `pid` once it has been reaped. */
void cleanup_remove_child(pid_t pid);

/* Register a temporary file to unlink if the run is interrupted (0, or -1 when full). */
int cleanup_add_file(const char *path);
void cleanup_remove_file(const char *path);

/* Kill and reap every registered process group, unlink every registered file.
 * Async-signal-safe. Returns the number of groups killed. */
int cleanup_run(void);

#endif
