/*
 * Faults injected while the clients run, each recorded in the history with
 * its start and end time:
 *
 *  - external faults, run as "<fault_cmd> <name>" (tests/robustness/fault.sh
 *    knows how to kill -9 and restart, or SIGSTOP and SIGCONT, the server of
 *    each backend's fixture); the command returns once the server runs again;
 *  - store resets ("reset": dc_mem_reset on mem://, else the fault command,
 *    e.g. Redis FLUSHALL; "wipe": the fault command kills the server, deletes
 *    its data and restarts it). The clients are paused between two ops (an
 *    op in flight across a reset could only be judged "unknown" in both
 *    epochs), an epoch marker is written and the steady watcher waits for
 *    it, so the epoch is a whole history on its own; then the store is
 *    reset and the clients resume on their old, now poisoned, handles: each
 *    must get DC_ERESET, never an answer and never a silent gap, before it
 *    reopens in the new epoch (docs/DESIGN.md, "Resets");
 *  - compaction, through the store API, at a revision the steady watcher has
 *    already delivered (so that its session stays whole and the checker has
 *    one complete event history), which still cuts the hopper's replays.
 */
#include "robust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int rb_is_reset(const char *fault)
{
    return strcmp(fault, "reset") == 0 || strcmp(fault, "wipe") == 0;
}

int rb_wait_epoch(rb_run *run, int epoch)
{
    for (int i = 0; i < 3000; i++) {
        if (atomic_load(&run->epoch) > epoch) return 1;
        nap_ms(10);
    }
    return 0;
}

dc_store *rb_open_retry(const rb_run *run, const char *who)
{
    int64_t deadline = rb_now() + (int64_t)run->cfg->drain_ms * 1000000;
    for (;;) {
        dc_store *s = NULL;
        int rc = dc_store_open(run->cfg->uri, &s);
        if (rc == DC_OK) return s;
        if (rb_now() > deadline) rb_die("%s: open: %s: %s", who, dc_errname(rc), dc_last_error());
        nap_ms(100);
    }
}

/* Run one external fault; its exit code. */
static int run_cmd(const rb_config *cfg, const char *what)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "%s %s", cfg->fault_cmd, what);
    if (n < 0 || n >= (int)sizeof cmd) rb_die("fault command too long");
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* One store reset (see the top of the file). *s is the fault thread's
 * handle, replaced by one of the new epoch. */
static void reset_store(rb_run *run, dc_store **s, const char *what)
{
    const rb_config *cfg = run->cfg;
    pthread_mutex_lock(&run->reset_mu);
    atomic_store(&run->pause, 1);
    while (atomic_load(&run->paused) < cfg->clients) {
        if (atomic_load(&run->stop_clients)) { /* the run is ending: no reset */
            atomic_store(&run->pause, 0);
            pthread_mutex_unlock(&run->reset_mu);
            return;
        }
        nap_ms(5);
    }
    int epoch = atomic_load(&run->epoch);
    char name[32];
    snprintf(name, sizeof name, "~epoch%d", epoch);
    int64_t mark = rb_put_marker(run, *s, name, epoch);
    int64_t deadline = rb_now() + (int64_t)cfg->drain_ms * 1000000;
    while (atomic_load(&run->steady_last_rev) < mark && rb_now() < deadline) nap_ms(5);
    int drained = atomic_load(&run->steady_last_rev) >= mark;

    cJSON *rec = rb_obj("fault");
    rb_add_str(rec, "what", what, strlen(what));
    rb_add_int(rec, "start", rb_now());
    int code;
    if (strncmp(cfg->uri, "mem:", 4) == 0 && strcmp(what, "reset") == 0)
        code = dc_mem_reset(*s) == DC_OK ? 0 : 1;
    else
        code = run_cmd(cfg, what);
    rb_add_int(rec, "end", rb_now());
    rb_add_int(rec, "exit", code);
    rb_add_int(rec, "epoch", epoch + 1);
    rb_add_int(rec, "mark", mark);
    rb_add_bool(rec, "drained", drained);
    if (code != 0) {
        rb_hist_write(rec);
        rb_die("reset fault %s failed (exit %d)", what, code);
    }
    /* A handle of the new epoch, and where the epoch starts. */
    dc_store_close(*s);
    *s = NULL;
    int64_t start = -1;
    deadline = rb_now() + (int64_t)cfg->drain_ms * 1000000;
    while (start < 0) {
        dc_kvs *kvs = NULL;
        int rc = *s ? DC_OK : dc_store_open(cfg->uri, s);
        if (rc == DC_OK)
            rc = dc_get(*s, cfg->prefix, strlen(cfg->prefix), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs);
        if (rc == DC_OK) {
            if (kvs->count != 0) rb_die("the prefix is not empty after a reset");
            start = kvs->revision;
            dc_kvs_free(kvs);
        } else if (rb_now() > deadline) {
            rb_die("the store did not come back after a reset: %s", dc_errname(rc));
        } else {
            nap_ms(100);
        }
    }
    rb_add_int(rec, "start_rev", start);
    rb_hist_write(rec);
    atomic_store(&run->epoch_start_rev, start);
    atomic_store(&run->steady_last_rev, start);
    atomic_store(&run->max_acked_rev, start);
    atomic_store(&run->epoch, epoch + 1);
    atomic_fetch_add(&run->faults, 1);
    atomic_store(&run->pause, 0);
    pthread_mutex_unlock(&run->reset_mu);
}

void *rb_fault_main(void *arg)
{
    rb_faults *f = arg;
    rb_run *run = f->run;
    const rb_config *cfg = run->cfg;
    uint64_t rng = cfg->seed * 31 + 17;
    int next = (int)(rb_rand(&rng) % (uint64_t)cfg->n_faults);
    dc_store *s = NULL;
    int rc = dc_store_open(cfg->uri, &s);
    if (rc != DC_OK) rb_die("fault thread: open: %s: %s", dc_errname(rc), dc_last_error());
    for (;;) {
        int wait =
            cfg->fault_interval_ms / 2 + (int)(rb_rand(&rng) % (uint64_t)cfg->fault_interval_ms);
        if (rb_sleep_unless(wait, &run->stop_clients)) break;
        /* each fault in turn, from a seeded start: a short run still has all kinds */
        const char *what = cfg->faults[next++ % cfg->n_faults];
        if (rb_is_reset(what)) {
            reset_store(run, &s, what);
            continue;
        }
        cJSON *rec = rb_obj("fault");
        rb_add_str(rec, "what", what, strlen(what));
        rb_add_int(rec, "start", rb_now());
        int code = run_cmd(cfg, what);
        rb_add_int(rec, "end", rb_now());
        rb_add_int(rec, "exit", code);
        rb_hist_write(rec);
        if (code != 0) rb_die("fault command '%s %s' failed (exit %d)", cfg->fault_cmd, what, code);
        atomic_fetch_add(&run->faults, 1);
    }
    dc_store_close(s);
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
    int epoch = 0;
    while (!rb_sleep_unless(run->cfg->compact_interval_ms, &run->stop_clients)) {
        /* reset_mu: no reset between reading the revisions and compacting */
        pthread_mutex_lock(&run->reset_mu);
        if (atomic_load(&run->epoch) != epoch) { /* a reset: a handle of the new epoch */
            dc_store_close(s);
            s = rb_open_retry(run, "compactor");
            epoch = atomic_load(&run->epoch);
            done = atomic_load(&run->epoch_start_rev);
        }
        int64_t steady = atomic_load(&run->steady_last_rev);
        int64_t acked = atomic_load(&run->max_acked_rev);
        int64_t at = (steady < acked ? steady : acked) - (int64_t)(rb_rand(&rng) % 20);
        if (at > done + 1) {
            cJSON *rec = rb_obj("compact");
            rb_add_int(rec, "rev", at);
            rb_add_int(rec, "e", epoch);
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
        pthread_mutex_unlock(&run->reset_mu);
    }
    dc_store_close(s);
    return NULL;
}
