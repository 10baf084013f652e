/*
 * The worker: one (task, source)'s side of the protocol — PUT its info (step
 * 2), wait for its operation (step 5), and after the caller executed or
 * skipped (6) and flushed its checkpoint (7), the done txn (8).
 *
 * Every decision is taken on the worker's view of its keys (worker_view.c):
 * what its last read, its own txns and its watches' events say. The view
 * saves the round trips a read before each step would cost, and it is only
 * trusted where a stale view cannot do harm: the info put is a txn whose
 * compares are exactly the view (a stale view fails them and the else branch
 * returns the truth, on which the step decides again), waits go on watches
 * that start right after the view, and every other outcome (already
 * resolved, identical info kept, conflict, info removed, a crashed run to
 * finish) is decided on a fresh consistent read, as it always was. A watch
 * that ends or a store blip only means "read again": neither surfaces as an
 * error (docs/DESIGN.md, "Watch errors"). No wait assumes revisions are contiguous.
 *
 * The resolution marker (marker.c) makes crashes between step 6 and step 8
 * recoverable without a manual unlock: dc_worker_mark_executed records the
 * operation's revision right after executing, and the next put_info (or
 * dc_worker_recover) finishes the done txn for a marker that matches the
 * still-pending operation.
 * Step 2 (dc_worker_put_info) is in worker_put.c, the view in worker_view.c,
 * the one-call flow helper in worker_flow.c.
 */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int dcp_worker_step(dc_worker *w, int step, int64_t rev, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dc_log(DC_LOG_INFO, PESS, "worker step %d: lock %s source %s rev %lld: %s", step,
           dc__e(w->lock_id), dc__e(w->source), (long long)rev, text);
    if (!w->on_step) return DC_OK;
    dc_step st = {step, "worker", w->lock_id, w->task, w->source, rev, text};
    if (w->on_step(&st, w->step_ud) == 0) return DC_OK;
    return dc__error(DC_ECLOSED, "worker %s stopped by the step callback after step %d",
                     dc__e(w->source), step);
}

int dc_worker_new(dc_store *store, const char *task, const char *source, const dc_worker_options *o,
                  dc_worker **out)
{
    *out = NULL;
    if (!store || !task || !*task || !source || !*source)
        return dc__error(DC_EINVAL, "worker: store, task and source are required");
    dc_worker_options defaults = {0};
    if (!o) o = &defaults;
    dc_worker *w = calloc(1, sizeof *w);
    if (!w) return dc__error(DC_ENOMEM, "out of memory");
    w->store = store;
    w->on_step = o->on_step;
    w->step_ud = o->step_userdata;
    w->ns = strdup(o->ns ? o->ns : DC_DEFAULT_NAMESPACE);
    w->task = strdup(task);
    w->source = strdup(source);
    int rc = w->ns && w->task && w->source ? DC_OK : DC_ENOMEM;
    if (!rc) rc = dc_info_key(w->ns, task, source, &w->info_key);
    if (!rc) rc = dc_operation_key(w->ns, task, source, &w->op_key);
    if (!rc) rc = dc_marker_key(w->ns, task, source, &w->marker_key);
    if (!rc) rc = dc_conflict_key(w->ns, task, source, &w->conflict_key);
    if (rc) {
        dc_worker_free(w);
        return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
    }
    *out = w;
    return DC_OK;
}

void dcp_worker_forget(dc_worker *w)
{
    free(w->lock_id);
    dc_strings_free(w->ddls, w->n_ddls);
    free(w->position);
    dc_operation_free(w->op);
    w->lock_id = w->position = NULL;
    w->ddls = NULL;
    w->n_ddls = 0;
    w->op = NULL;
    w->info_rev = w->op_rev = 0;
    w->attempt = 0;
}

void dc_worker_free(dc_worker *w)
{
    if (!w) return;
    dcp_worker_forget(w);
    dcp_view_free(w);
    dc_election_free(w->claim); /* resigns: the next worker for this source goes at once */
    dc_store_close(w->own_store);
    free(w->info_key);
    free(w->op_key);
    free(w->marker_key);
    free(w->conflict_key);
    free(w->ns);
    free(w->task);
    free(w->source);
    free(w);
}

const char *dc_worker_conflict(const dc_worker *w)
{
    return w->conflict;
}

int dcp_worker_reopen(dc_worker *w, int64_t deadline)
{
    dc_log(DC_LOG_ERROR, PESS,
           "worker %s: the store's history was reset (%s); reopening the store and reporting "
           "again",
           dc__e(w->source), dc_last_error());
    dcp_view_free(w); /* its watches are on the old handle, its revisions from the old history */
    int claimed = w->claim != NULL;
    dc_election_free(w->claim); /* its lease and key were in the old history */
    w->claim = NULL;
    for (;;) {
        dc_store *fresh = NULL;
        int rc = dc_store_reopen(w->store, &fresh);
        if (rc == DC_OK) {
            dc_store_close(w->own_store); /* ours from an earlier reset: nothing uses it now */
            w->store = w->own_store = fresh;
            return claimed ? dc_worker_claim(w, w->claim_ttl) : DC_OK;
        }
        if ((rc = dcp_worker_pause(rc, deadline))) return rc;
    }
}

/* Sleep a little after a transient error, if time allows. */
int dcp_worker_pause(int rc, int64_t deadline)
{
    if (!dc_error_retryable(rc) && rc != DC_EUNKNOWN) return rc;
    if (deadline >= 0 && dc__now_ms() + 100 >= deadline) return rc;
    dc__sleep_ms(100);
    return DC_OK;
}
/* Does the marker say the operation was executed (or skipped) at exactly its
 * current revision, without the done txn that completes it? (An intent says
 * only that it was about to be: that run is not finished but executed again,
 * as its next attempt.) Then *op and *mk get both (caller frees). */
int dcp_worker_pending_run(const dc_kv *op_kv, const dc_kv *mk_kv, dc_operation **op,
                           pess_marker **mk)
{
    *op = NULL;
    *mk = NULL;
    int pending = op_kv && mk_kv &&
                  !dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, op) &&
                  !dcp_marker_decode(mk_kv->key, mk_kv->value, mk_kv->value_len, mk) &&
                  !(*op)->done && !(*mk)->done && !(*mk)->intent &&
                  (*mk)->op_revision == op_kv->mod_revision && strcmp((*mk)->id, (*op)->id) == 0;
    if (!pending) {
        dc_operation_free(*op);
        dcp_marker_free(*mk);
        *op = NULL;
        *mk = NULL;
    }
    return pending;
}

/* Make the run recorded in mk (executed as op at op_rev) the current one. */
void dcp_worker_take_run(dc_worker *w, pess_marker *mk, dc_operation *op, int64_t op_rev)
{
    dcp_worker_forget(w);
    w->lock_id = mk->id;
    w->ddls = mk->ddls;
    w->n_ddls = mk->n_ddls;
    w->position = mk->position;
    w->attempt = mk->attempt;
    mk->id = mk->position = NULL;
    mk->ddls = NULL;
    mk->n_ddls = 0;
    dcp_marker_free(mk);
    w->op = op;
    w->op_rev = op_rev;
    dc_log(DC_LOG_INFO, PESS, "worker %s: finishing lock %s executed before a crash",
           dc__e(w->source), dc__e(w->lock_id));
}
/* The view's operation if it is this run's (a copy in *out), else NULL:
 * same lock ID and the DDLs this run reported. An operation of the same
 * lock ID with other DDLs is an older one, decided for DDLs this worker no
 * longer reports (issue #12 case 8): its conflict report, or the master's
 * new operation, is what the wait is for. */
static int our_operation(dc_worker *w, dc_operation **out, int64_t *rev)
{
    *out = NULL;
    dc_kv b;
    const dc_kv *op_kv = dcp_view_kv(w, WK_OP, &b);
    if (!op_kv) return DC_OK;
    dc_operation *op;
    int rc = dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op);
    if (rc) {
        if (rc == DC_ENOMEM) return rc;
        dc_log(DC_LOG_WARN, PESS, "worker %s: ignoring bad operation: %s", dc__e(w->source),
               dc_last_error());
        return DC_OK;
    }
    if (strcmp(op->id, w->lock_id) == 0 && dc_ddls_equal((const char *const *)op->ddls, op->n_ddls,
                                                         (const char *const *)w->ddls, w->n_ddls)) {
        *out = op;
        *rev = op_kv->mod_revision;
    } else {
        dc_operation_free(op);
    }
    return DC_OK;
}

/* Are the n keys of ks known and kept current by their watches? */
static int watched(const dc_worker *w, const int *ks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!w->view[ks[i]].known || !w->view[ks[i]].watch) return 0;
    return 1;
}

int dc_worker_wait_operation(dc_worker *w, int timeout_ms, dc_operation **out)
{
    *out = NULL;
    if (!w->lock_id || !w->info_rev) return dc__error(DC_EINVAL, "worker: no info put");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    static const int keys[3] = {WK_OP, WK_CONFLICT, WK_INFO};
    /* fresh: as in dc_worker_put_info. An operation of ours is handed out from
     * a fresh view or one its watch keeps current; the other outcomes are
     * decided on a fresh read. */
    int fresh = 0, force_read = 0;
    for (;;) {
        int changed, rc;
        if ((rc = dcp_view_drain(w, &changed))) return dc__error(rc, "out of memory");
        if (changed) fresh = 0;
        /* Without its watches open the view may be old, and opening them costs
         * more than a read (on etcd a stream, on ZooKeeper a thread): read. */
        if (force_read || !watched(w, keys, 3)) {
            if ((rc = dcp_view_read(w, keys, 3))) {
                if ((rc = dcp_worker_pause(rc, deadline)))
                    return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
                continue;
            }
            fresh = 1;
            force_read = 0;
        }
        dc_operation *op;
        int64_t op_rev = 0;
        if ((rc = our_operation(w, &op, &op_rev))) return dc__error(rc, "out of memory");
        if (op) {
            dc_operation *copy;
            rc = dc_operation_new(op->id, op->task, op->source, (const char *const *)op->ddls,
                                  op->n_ddls, op->exec, op->done, &copy);
            if (rc) {
                dc_operation_free(op);
                return rc;
            }
            dc_operation_free(w->op);
            w->op = op;
            w->op_rev = op_rev;
            rc =
                dcp_worker_step(w, 5, w->op_rev, "got operation exec=%s%s",
                                copy->exec ? "true" : "false", copy->done ? " (already done)" : "");
            if (rc) {
                dc_operation_free(copy);
                return rc;
            }
            *out = copy;
            return DC_OK;
        }
        dc_kv b;
        const dc_kv *cf_kv = dcp_view_kv(w, WK_CONFLICT, &b);
        pess_conflict *cf = NULL;
        if (cf_kv && dcp_conflict_decode(cf_kv->key, cf_kv->value, cf_kv->value_len, &cf) == 0) {
            int mine = strcmp(cf->id, w->lock_id) == 0 && cf->info_revision == w->info_rev;
            if (mine && fresh) snprintf(w->conflict, sizeof w->conflict, "%s", cf->message);
            dcp_conflict_free(cf);
            if (mine && !fresh) {
                force_read = 1;
                continue;
            }
            if (mine) return dc__error(DC_ECONFLICT, "%s", w->conflict);
        }
        if (!dcp_view_kv(w, WK_INFO, &b)) {
            if (!fresh) {
                force_read = 1;
                continue;
            }
            /* Our info is gone and no operation came: an unlock --force-remove
             * or a remove-meta withdrew the lock. Waiting on would be forever. */
            return dc__error(DC_ENOTFOUND,
                             "worker %s: info of %s was removed (unlock or "
                             "remove-meta)",
                             dc__e(w->source), dc__e(w->lock_id));
        }
        if ((rc = dcp_view_wait(w, keys, 3, deadline))) return rc;
    }
}

/* Did the done txn of this run commit already? The marker completed for
 * the operation revision we executed says so: an earlier attempt of ours
 * whose answer was lost, or the master finishing the run for us (an owner
 * that left the task after it executed, an operator's --assume-executed).
 * The operation is then done, or already deleted by step 10. */
static int done_already(dc_worker *w, const dc_txn_result *res, int64_t *rev)
{
    const dc_response *r = res->responses;
    const dc_kv *op_kv = res->n_responses > 0 && r[0].n_kvs ? &r[0].kvs[0] : NULL;
    const dc_kv *mk_kv = res->n_responses > 1 && r[1].n_kvs ? &r[1].kvs[0] : NULL;
    if (!mk_kv) return 0;
    pess_marker *mk;
    if (dcp_marker_decode(mk_kv->key, mk_kv->value, mk_kv->value_len, &mk)) return 0;
    int ok = mk->done && mk->op_revision == w->op_rev && strcmp(mk->id, w->lock_id) == 0;
    dcp_marker_free(mk);
    if (ok && op_kv) {
        dc_operation *op;
        if (dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op)) return 0;
        /* Still there: it must be this lock's, done (not a newer lock's). */
        ok = strcmp(op->id, w->lock_id) != 0 || op->done;
        dc_operation_free(op);
    }
    if (ok) *rev = op_kv ? op_kv->mod_revision : mk_kv->mod_revision;
    return ok;
}

/* The done txn committed at rev: the view now knows all three keys. */
static void view_done(dc_worker *w, const char *opj, const char *mk, int64_t rev)
{
    const wk_slot *s = &w->view[WK_OP];
    dc_kv op_kv = {
        w->op_key, strlen(w->op_key), (char *)opj, strlen(opj), s->present ? s->create : 0, rev, 0,
        0};
    dc_kv mk_kv = {w->marker_key, strlen(w->marker_key), (char *)mk, strlen(mk), 0, rev, 0, 0};
    /* out of memory only leaves a slot unknown */
    dcp_view_set(w, WK_OP, &op_kv, rev);
    dcp_view_set(w, WK_INFO, NULL, rev);
    dcp_view_set(w, WK_MARKER, &mk_kv, rev);
}

/* A skipper's operation (exec=false) vanished before its done txn: the
 * lock was resolved or removed without waiting for this source (an unlock
 * whose owner was done, an unlock that gave up). It was told to skip, so it
 * skips: its marker is completed for the lock (done, at the position), so
 * that a re-run at the same position is "already resolved" instead of
 * reporting the DDLs into a new lock, and its info, if still there, goes.
 * DC_ECHANGED if its operation was replaced by another of the same lock
 * instead (the caller reports that as before). */
int dcp_worker_skip_resolved(dc_worker *w, int timeout_ms)
{
    static const int keys[3] = {WK_OP, WK_INFO, WK_MARKER};
    int64_t deadline = dc__deadline_ms(timeout_ms);
    char *mk = NULL;
    int rc = dcp_worker_marker_json(w, 0, 1, &mk);
    for (int tries = 0; !rc && tries < 16; tries++) {
        if ((rc = dcp_view_read(w, keys, 3))) {
            rc = dcp_worker_pause(rc, deadline);
            continue;
        }
        dc_kv b;
        const dc_kv *op_kv = dcp_view_kv(w, WK_OP, &b);
        dc_operation *op = NULL;
        int replaced =
            op_kv &&
            dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op) == DC_OK &&
            strcmp(op->id, w->lock_id) == 0 && !op->done && op_kv->mod_revision != w->op_rev;
        dc_operation_free(op);
        if (replaced) {
            rc = dc__error(DC_ECHANGED, "worker %s: operation of %s replaced", dc__e(w->source),
                           dc__e(w->lock_id));
            break;
        }
        dc_txn *t = dc_txn_new();
        dc_txn_result *res = NULL;
        rc = t ? DC_OK : DC_ENOMEM;
        for (size_t i = 0; i < 3 && !rc; i++) rc = dcp_view_compare(w, t, keys[i]);
        if (!rc && dcp_view_kv(w, WK_INFO, &b))
            rc = dc_txn_delete(t, DC_THEN, w->info_key, strlen(w->info_key), 0);
        if (!rc)
            rc = dc_txn_put(t, DC_THEN, w->marker_key, strlen(w->marker_key), mk, strlen(mk), 0, 0);
        if (!rc) rc = dc_txn_commit(w->store, t, &res);
        dc_txn_free(t);
        int ok = !rc && res->succeeded;
        dc_txn_result_free(res);
        for (size_t i = 0; i < 3; i++) dcp_view_unknown(w, keys[i]); /* read again when needed */
        if (ok) {
            dc_log(DC_LOG_WARN, PESS,
                   "worker %s: lock %s was resolved without waiting for this source's skip: "
                   "recorded as skipped",
                   dc__e(w->source), dc__e(w->lock_id));
            break;
        }
        if (rc) rc = dcp_worker_pause(rc, deadline);
    }
    free(mk);
    return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
}

int dc_worker_mark_done(dc_worker *w, int timeout_ms, int64_t *revision)
{
    if (!w->op) return dc__error(DC_EINVAL, "worker: no operation");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    char *mk = NULL, *opj = NULL;
    int was_done = w->op->done;
    w->op->done = 1;
    int rc = dcp_worker_marker_json(w, 0, 1, &mk);
    if (!rc) rc = dc_operation_encode(w->op, &opj);
    w->op->done = was_done;
    int64_t rev = 0;
    static const int else_keys[2] = {WK_OP, WK_MARKER};
    while (!rc) {
        dc_txn *t = dc_txn_new();
        dc_txn_result *res = NULL;
        rc = t ? dc_txn_compare_int(t, w->op_key, strlen(w->op_key), DC_TARGET_MOD, DC_CMP_EQUAL,
                                    w->op_rev)
               : DC_ENOMEM;
        if (!rc) rc = dc_txn_put(t, DC_THEN, w->op_key, strlen(w->op_key), opj, strlen(opj), 0, 0);
        if (!rc) rc = dc_txn_delete(t, DC_THEN, w->info_key, strlen(w->info_key), 0);
        if (!rc)
            rc = dc_txn_put(t, DC_THEN, w->marker_key, strlen(w->marker_key), mk, strlen(mk), 0, 0);
        if (!rc) rc = dc_txn_get(t, DC_ELSE, w->op_key, strlen(w->op_key), 0, 0);
        if (!rc) rc = dc_txn_get(t, DC_ELSE, w->marker_key, strlen(w->marker_key), 0, 0);
        if (!rc) rc = dc_txn_commit(w->store, t, &res);
        dc_txn_free(t);
        if (!rc) {
            if (res->succeeded) {
                rev = res->revision;
                view_done(w, opj, mk, rev);
            } else {
                dcp_view_set_gets(w, else_keys, 2, res, 0); /* ENOMEM: left unknown */
                if (!done_already(w, res, &rev))
                    rc = dc__error(DC_ECHANGED, "worker %s: operation of %s changed or removed",
                                   dc__e(w->source), dc__e(w->lock_id));
            }
            dc_txn_result_free(res);
            break;
        }
        for (int k = WK_OP; k <= WK_MARKER; k++) dcp_view_unknown(w, k); /* a lost answer */
        rc = dcp_worker_pause(rc, deadline); /* a retry of a committed done is seen by the else */
    }
    free(mk);
    free(opj);
    if (rc == DC_ECHANGED && !w->op->exec && dcp_worker_skip_resolved(w, timeout_ms) == DC_OK)
        rc = DC_OK; /* a skip whose lock went on without it: recorded as done */
    if (rc) return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
    if (w->op) w->op->done = 1;
    if (revision) *revision = rev;
    return dcp_worker_step(w, 8, rev, "done: operation marked done, info deleted");
}

int dc_worker_delete_info(dc_worker *w, int timeout_ms)
{
    int64_t deadline = dc__deadline_ms(timeout_ms);
    for (;;) {
        int64_t rev = 0;
        int rc = dc_delete(w->store, w->info_key, strlen(w->info_key), 0, NULL, &rev);
        if (rc == DC_OK) {
            dcp_view_set(w, WK_INFO, NULL, rev); /* ENOMEM: left unknown */
            dcp_worker_forget(w);
            return DC_OK;
        }
        dcp_view_unknown(w, WK_INFO);
        if ((rc = dcp_worker_pause(rc, deadline))) return rc;
    }
}

int dc_worker_recover(dc_worker *w, int timeout_ms, int *recovered)
{
    if (recovered) *recovered = 0;
    int64_t deadline = dc__deadline_ms(timeout_ms);
    static const int keys[2] = {WK_OP, WK_MARKER};
    int rc;
    while ((rc = dcp_view_read(w, keys, 2)) != DC_OK)
        if ((rc = dcp_worker_pause(rc, deadline)))
            return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
    dc_kv b0, b1;
    const dc_kv *op_kv = dcp_view_kv(w, WK_OP, &b0);
    dc_operation *op;
    pess_marker *mk;
    if (!dcp_worker_pending_run(op_kv, dcp_view_kv(w, WK_MARKER, &b1), &op, &mk)) return DC_OK;
    /* Executed (the marker says so, for this very operation) but the done
     * txn never happened: finish it, whatever the checkpoint says. */
    dcp_worker_take_run(w, mk, op, op_kv->mod_revision);
    rc = dc_worker_mark_done(w, timeout_ms, NULL);
    if (!rc && recovered) *recovered = 1;
    return rc;
}
