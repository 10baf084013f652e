/*
 * Faults injected while the clients run, each recorded in the history with
 * its start and end time:
 *
 *  - external faults, run as "<fault_cmd> <name>" (tests/robustness/fault.sh
 *    knows how to kill -9 and restart, or SIGSTOP and SIGCONT, the server of
 *    each backend's fixture); the command returns once the server runs again;
 *  - compaction, through the store API, at a revision the steady watcher has
 *    already delivered (so that its session stays whole and the checker has
 *    one complete event history), which still cuts the hopper's replays.
 */
#include "robust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void *rb_fault_main(void *arg)
{
    rb_faults *f = arg;
    rb_run *run = f->run;
    const rb_config *cfg = run->cfg;
    uint64_t rng = cfg->seed * 31 + 17;
    for (;;) {
        int wait =
            cfg->fault_interval_ms / 2 + (int)(rb_rand(&rng) % (uint64_t)cfg->fault_interval_ms);
        if (rb_sleep_unless(wait, &run->stop_clients)) break;
        const char *what = cfg->faults[rb_rand(&rng) % (uint64_t)cfg->n_faults];
        char cmd[2048];
        int n = snprintf(cmd, sizeof cmd, "%s %s", cfg->fault_cmd, what);
        if (n < 0 || n >= (int)sizeof cmd) rb_die("fault command too long");
        cJSON *rec = rb_obj("fault");
        rb_add_str(rec, "what", what, strlen(what));
        rb_add_int(rec, "start", rb_now());
        int st = system(cmd);
        rb_add_int(rec, "end", rb_now());
        int code = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        rb_add_int(rec, "exit", code);
        rb_hist_write(rec);
        if (code != 0) rb_die("fault command '%s' failed (exit %d)", cmd, code);
        atomic_fetch_add(&run->faults, 1);
    }
    return NULL;
}

void *rb_compact_main(void *arg)
{
    rb_faults *f = arg;
    rb_run *run = f->run;
    uint64_t rng = run->cfg->seed * 131 + 7;
    dc_store *s = NULL;
    int rc = dc_store_open(run->cfg->uri, &s);
    if (rc != DC_OK) rb_die("compactor: open: %s: %s", dc_errname(rc), dc_last_error());
    int64_t done = run->start_rev;
    while (!rb_sleep_unless(run->cfg->compact_interval_ms, &run->stop_clients)) {
        int64_t steady = atomic_load(&run->steady_last_rev);
        int64_t acked = atomic_load(&run->max_acked_rev);
        int64_t at = (steady < acked ? steady : acked) - (int64_t)(rb_rand(&rng) % 20);
        if (at <= done + 1) continue;
        cJSON *rec = rb_obj("compact");
        rb_add_int(rec, "rev", at);
        rb_add_int(rec, "inv", rb_now());
        rc = dc_compact(s, at);
        rb_add_int(rec, "ret", rb_now());
        rb_add_rc(rec, rc);
        rb_hist_write(rec);
        if (rc == DC_OK) {
            done = at;
            atomic_fetch_add(&run->compactions, 1);
        }
    }
    dc_store_close(s);
    return NULL;
}
