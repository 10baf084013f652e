/*
 * dc_worker_run_ddl: the worker's whole flow for one DDL around two
 * callbacks, in the seed's order — put info (2), wait (5), exec/skip (6),
 * record the marker, flush the checkpoint (7), done txn (8). The marker is
 * written between 6 and 7 so that a crash anywhere after the DDL ran is
 * finished by dc_worker_recover instead of needing a manual unlock.
 */
#include "worker.h"

int dc_worker_run_ddl(dc_worker *w, const char *schema, const char *table, const char *const *ddls,
                      size_t n_ddls, const char *position, dc_exec_fn exec_fn,
                      dc_checkpoint_fn checkpoint_fn, void *userdata, int timeout_ms, int *executed)
{
    if (executed) *executed = 0;
    if (!exec_fn || !checkpoint_fn) return dc__error(DC_EINVAL, "worker: callbacks are required");
    int rc = dc_worker_put_info(w, schema, table, ddls, n_ddls, position, timeout_ms, NULL);
    if (rc) return rc;
    dc_operation *op;
    rc = dc_worker_wait_operation(w, timeout_ms, &op);
    if (rc) return rc;
    if (op->done) {
        /* Re-run after our done txn without a position to tell: nothing to do. */
        dc_operation_free(op);
        return dc__error(DC_ERESOLVED, "lock %s: operation already done", dc_e(w->lock_id));
    }
    if (exec_fn(op, userdata)) {
        dc_operation_free(op);
        return dc__error(DC_ECLOSED, "worker %s: exec callback failed", dc_e(w->source));
    }
    if (executed) *executed = op->exec;
    rc = dc_worker_mark_executed(w, timeout_ms);
    if (!rc) rc = worker_step(w, 6, w->op_rev, "%s DDLs", op->exec ? "executed" : "skipped");
    if (!rc && checkpoint_fn(op, w->position, userdata))
        rc = dc__error(DC_ECLOSED, "worker %s: checkpoint callback failed", dc_e(w->source));
    if (!rc) rc = worker_step(w, 7, 0, "checkpoint flushed");
    dc_operation_free(op);
    if (!rc) rc = dc_worker_mark_done(w, timeout_ms, NULL);
    return rc;
}
