/*
 * dc_worker_run_ddl: the worker's whole flow for one DDL around two
 * callbacks, in DM's order — put info (2), wait (5), for the owner the
 * execution intent, exec/skip (6), record the marker, flush the checkpoint
 * (7), done txn (8). The intent comes before anything runs, so a crash
 * while executing leaves the lock uncertain instead of open to another
 * owner, and the re-run executes as the next attempt; the marker is written
 * between 6 and 7 so that a crash anywhere after the DDL ran is finished by
 * dc_worker_recover instead of needing a manual unlock (docs/DESIGN.md,
 * "Execution intent").
 */
#include "worker.h"

#include <string.h>

#include "clock.h"

/* After the DDLs ran, the operation changed: an operator decided while this
 * worker executed. If it was completed for us (--assume-executed) the run is
 * over; if it was fenced (--assume-not-executed), the DDLs ran here and the
 * new owner runs them too: say so loudly. */
static int decided_meanwhile(dc_worker *w, int timeout_ms)
{
    static const int keys[1] = {WK_OP};
    int rc = dcp_view_read(w, keys, 1);
    (void)timeout_ms;
    if (rc) return rc;
    dc_kv b;
    const dc_kv *kv = dcp_view_kv(w, WK_OP, &b);
    dc_operation *op = NULL;
    int done = kv && dc_operation_decode(kv->key, kv->value, kv->value_len, &op) == DC_OK &&
               op->done && strcmp(op->id, w->lock_id) == 0;
    dc_operation_free(op);
    if (done) {
        dc_log(DC_LOG_WARN, PESS, "worker %s: lock %s was completed by an operator meanwhile",
               dc__e(w->source), dc__e(w->lock_id));
        return DC_OK;
    }
    dc_log(DC_LOG_ERROR, PESS,
           "worker %s: lock %s: executed attempt %lld, but an operator fenced this source "
           "meanwhile (--assume-not-executed): another source executes the DDLs too",
           dc__e(w->source), dc__e(w->lock_id), (long long)w->attempt);
    return dc__error(DC_ECHANGED, "worker %s: operation of %s was fenced while it executed",
                     dc__e(w->source), dc__e(w->lock_id));
}

/* One pass of the flow. *tried gets the attempt the exec callback ran as
 * (0: it did not run the DDLs). */
static int run_once(dc_worker *w, const char *schema, const char *table, const char *const *ddls,
                    size_t n_ddls, const char *position, dc_exec_fn exec_fn,
                    dc_checkpoint_fn checkpoint_fn, void *userdata, int timeout_ms, int *executed,
                    int64_t *tried)
{
    int rc = dc_worker_put_info(w, schema, table, ddls, n_ddls, position, timeout_ms, NULL);
    if (rc) return rc;
    dc_operation *op = NULL;
    int ran = 1; /* the callback runs, unless the marker says it ran already */
    for (;;) {
        rc = dc_worker_wait_operation(w, timeout_ms, &op);
        if (rc) return rc;
        if (op->done) {
            /* Re-run after our done txn without a position to tell: nothing to do. */
            dc_operation_free(op);
            return dc__error(DC_ERESOLVED, "lock %s: operation already done", dc__e(w->lock_id));
        }
        if (!op->exec) break;
        int64_t attempt = 0;
        rc = dc_worker_begin_exec(w, timeout_ms, &attempt);
        if (rc == DC_ECHANGED) { /* fenced before it began: wait for what comes next */
            dc_operation_free(op);
            op = NULL;
            continue;
        }
        if (rc == DC_ERESOLVED) { /* it ran before a crash: only the done txn is missing */
            ran = 0;
            break;
        }
        if (rc) {
            dc_operation_free(op);
            return rc;
        }
        op->attempt = (int)attempt;
        break;
    }
    if (ran && op->exec) *tried = op->attempt;
    if (ran && exec_fn(op, userdata)) {
        dc_operation_free(op);
        return dc__error(DC_ECLOSED, "worker %s: exec callback failed", dc__e(w->source));
    }
    if (executed) *executed = op->exec;
    rc = ran ? dc_worker_mark_executed(w, timeout_ms) : DC_OK;
    if (rc == DC_ECHANGED && op->exec) {
        rc = decided_meanwhile(w, timeout_ms);
        dc_operation_free(op);
        return rc;
    }
    int finished = 0; /* the skip is recorded as done already */
    if (rc == DC_ECHANGED && !op->exec && (rc = dcp_worker_skip_resolved(w, timeout_ms)) == DC_OK)
        finished = 1;
    if (!rc) rc = dcp_worker_step(w, 6, w->op_rev, "%s DDLs", op->exec ? "executed" : "skipped");
    if (!rc && checkpoint_fn(op, w->position, userdata))
        rc = dc__error(DC_ECLOSED, "worker %s: checkpoint callback failed", dc__e(w->source));
    if (!rc) rc = dcp_worker_step(w, 7, 0, "checkpoint flushed");
    int exec = op->exec;
    dc_operation_free(op);
    if (!rc && !finished) {
        rc = dc_worker_mark_done(w, timeout_ms, NULL);
        if (rc == DC_ECHANGED && !exec) rc = dcp_worker_skip_resolved(w, timeout_ms);
    }
    return rc;
}

int dc_worker_run_ddl(dc_worker *w, const char *schema, const char *table, const char *const *ddls,
                      size_t n_ddls, const char *position, dc_exec_fn exec_fn,
                      dc_checkpoint_fn checkpoint_fn, void *userdata, int timeout_ms, int *executed)
{
    if (executed) *executed = 0;
    if (!exec_fn || !checkpoint_fn) return dc__error(DC_EINVAL, "worker: callbacks are required");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    w->min_attempt = 0;
    for (;;) {
        int64_t left = deadline < 0 ? -1 : deadline - dc__now_ms();
        int64_t tried = 0;
        int ran = 0;
        int rc = run_once(w, schema, table, ddls, n_ddls, position, exec_fn, checkpoint_fn,
                          userdata, left < 0 && deadline >= 0 ? 0 : (int)left, &ran, &tried);
        if (executed && ran) *executed = 1;
        if (rc != DC_ERESET) {
            w->min_attempt = 0;
            return rc;
        }
        /* The store lost its data (docs/DESIGN.md, "Resets"): what this run
         * reported and was told is gone with it. Report again on a new
         * handle; if the DDLs already ran here, the next attempt says so. */
        if (deadline >= 0 && dc__now_ms() >= deadline) return rc;
        if ((rc = dcp_worker_reopen(w, deadline))) return rc;
        if (tried && tried + 1 > w->min_attempt) w->min_attempt = tried + 1;
    }
}
