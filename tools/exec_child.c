/*
 * The supervisor of `ddlcoord worker --exec CMD`: CMD must never outlive
 * the worker that runs it (issue #12 case 3: an orphaned ALTER went on while
 * a re-run started it again).
 *
 *   worker ── fork ──> supervisor S (its own process group, parent-death
 *                      signal SIGTERM) ── fork ──> /bin/sh -c CMD (and what
 *                      it starts, all in S's group)
 *
 * S waits for the shell. When S gets SIGTERM or SIGINT (its worker died —
 * even by kill -9 — or the worker forwards the signal it got), it stops the
 * whole group: SIGTERM, a grace of DCX_EXEC_GRACE_MS, then SIGKILL, so the
 * grandchildren die with it. The parent-death signal is set after the fork,
 * so S checks getppid() once it is set: a worker that died in between is
 * already gone, and S exits without starting anything.
 *
 * Everything between fork and exec is async-signal-safe (the worker has
 * threads: the election's keepalive): the environment is built before the
 * fork and handed to execve.
 */
#include "exec_child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DCX_EXEC_GRACE_MS 3000

static volatile sig_atomic_t got_signal; /* in the worker, and (its own copy) in S */

static void on_signal(int sig)
{
    got_signal = sig;
}

static void catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Stop S's own process group: SIGTERM, up to the grace for the shell to
 * go (reaping it), then SIGKILL to whatever is left of the group, S itself
 * included (it ignores SIGTERM by now; SIGKILL ends it). Async-signal-safe;
 * never returns. */
static void stop_group(pid_t child)
{
    pid_t pg = getpgrp();
    int status;
    kill(-pg, SIGTERM);
    for (long waited = 0; waited < DCX_EXEC_GRACE_MS && child > 0; waited += 50) {
        if (waitpid(child, &status, WNOHANG) == child) break;
        nap_ms(50);
    }
    kill(-pg, SIGKILL); /* grandchildren that ignored SIGTERM, and S */
    _exit(127);         /* not reached */
}

/* The supervisor S, in the child of the worker. Never returns. */
static void supervise(pid_t worker, const char *cmd, char *const envp[])
{
    struct sigaction o1, o2;
    catch_signals(&o1, &o2);
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != worker) _exit(127);
    pid_t sh = fork();
    if (sh < 0) _exit(127);
    if (sh == 0) {
        /* In S's group. Caught signals are reset by execve; SIGPIPE, which
         * the command ignores, is not: give CMD the default back. */
        signal(SIGPIPE, SIG_DFL);
        char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    int status = 0;
    for (;;) {
        if (got_signal) {
            signal(SIGTERM, SIG_IGN); /* the group's SIGTERM is for the others */
            signal(SIGINT, SIG_IGN);
            stop_group(sh);
        }
        pid_t r = waitpid(sh, &status, 0);
        if (r == sh) break;
        if (r < 0 && errno != EINTR) _exit(127);
    }
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    _exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127);
}

/* environ plus vars ("NAME=value" strings, replacing same-named ones). */
static char **build_env(char *const *vars, size_t n_vars)
{
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = calloc(n + n_vars + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < n_vars && !replaced; j++) {
            const char *eq = strchr(vars[j], '=');
            size_t len = eq ? (size_t)(eq - vars[j]) + 1 : strlen(vars[j]);
            replaced = strncmp(environ[i], vars[j], len) == 0;
        }
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_vars; j++) env[k++] = vars[j];
    env[k] = NULL;
    return env;
}

int dcx_exec_run(const char *cmd, char *const *vars, size_t n_vars, int *interrupted_by)
{
    *interrupted_by = 0;
    char **env = build_env(vars, n_vars);
    if (!env) return 127;
    fflush(stdout);
    fflush(stderr);
    got_signal = 0;
    struct sigaction old_int, old_term;
    catch_signals(&old_int, &old_term); /* before the fork: no signal is lost */
    pid_t me = getpid();
    pid_t s = fork();
    if (s == 0) supervise(me, cmd, env);
    free(env); /* the pointers it holds belong to environ and vars */
    int status = 0, rc = 127;
    if (s > 0) {
        setpgid(s, s); /* as S does itself: whichever runs first */
        int forwarded = 0;
        for (;;) {
            if (got_signal && !forwarded) {
                *interrupted_by = got_signal;
                kill(s, SIGTERM); /* S stops its group */
                forwarded = 1;
            }
            /* Polled: a signal may be handled by another thread of the
             * worker (the claim's keepalive), which would not interrupt a
             * blocking waitpid here. */
            pid_t r = waitpid(s, &status, WNOHANG);
            if (r == s) break;
            if (r < 0 && errno != EINTR) break;
            if (r == 0) nap_ms(20);
        }
        if (WIFEXITED(status))
            rc = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
            rc = 128 + WTERMSIG(status);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
