/*
 * `worker --exec CMD` under supervision (exec_child.c): CMD runs with
 * /bin/sh -c in a process group of its own, under a supervisor that stops
 * the whole group when the worker dies or is told to stop.
 */
#ifndef DCX_EXEC_CHILD_H
#define DCX_EXEC_CHILD_H

#include <stddef.h>

/* Run cmd with the process environment plus vars ("NAME=value", borrowed)
 * and wait for it. Returns its exit status (128 + signal when killed, 127
 * when it could not be started). While it runs, SIGINT and SIGTERM are
 * caught: the group is stopped (SIGTERM, a grace, SIGKILL) and
 * *interrupted_by gets the signal (0 otherwise); the caller then leaves the
 * outcome uncertain. Call from the main thread (the parent-death signal is
 * tied to the thread that forks). */
int dcx_exec_run(const char *cmd, char *const *vars, size_t n_vars, int *interrupted_by);

#endif
