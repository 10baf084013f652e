/*
 * Step 2, dc_worker_put_info: report the DDLs of one table, unless the
 * marker says this (lock, DDLs, position) was already resolved, after
 * finishing a run that crashed between executing and its done txn, and
 * after the done operation of an earlier lock is gone.
 *
 * A worker that knows its keys (its view, worker_view.c) writes at once: the
 * put is guarded by exactly the revisions it believes, and the else branch
 * reads the keys, so a stale belief costs one round trip and the decision is
 * taken again on the truth. Only the put and the wait are decided on the
 * view alone; the other outcomes wait for a fresh read.
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

static int marker_matches(dc_worker *w, const dc_kv *kv)
{
    if (!kv || !w->position) return 0;
    pess_marker *mk;
    if (dcp_marker_decode(kv->key, kv->value, kv->value_len, &mk)) return 0;
    int hit = mk->done && mk->position && strcmp(mk->position, w->position) == 0 &&
              strcmp(mk->id, w->lock_id) == 0 &&
              dc_ddls_equal((const char *const *)mk->ddls, mk->n_ddls, (const char *const *)w->ddls,
                            w->n_ddls);
    dcp_marker_free(mk);
    return hit;
}

/* Step 2's decisions, in the order they are taken. */
enum { PUT_PENDING, PUT_RESOLVED, PUT_WAIT, PUT_KEEP, PUT_WRITE };

static int put_decide(dc_worker *w, const char *json)
{
    dc_kv b0, b1, b2;
    const dc_kv *op_kv = dcp_view_kv(w, WK_OP, &b0), *info_kv = dcp_view_kv(w, WK_INFO, &b1),
                *mk_kv = dcp_view_kv(w, WK_MARKER, &b2);
    dc_operation *op;
    pess_marker *mk;
    if (dcp_worker_pending_run(op_kv, mk_kv, &op, &mk)) {
        dc_operation_free(op);
        dcp_marker_free(mk);
        return PUT_PENDING;
    }
    if (marker_matches(w, mk_kv)) return PUT_RESOLVED;
    int done =
        op_kv && !dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op) && op->done;
    if (op_kv) dc_operation_free(op);
    if (done) return PUT_WAIT;
    if (info_kv && info_kv->value_len == strlen(json) &&
        memcmp(info_kv->value, json, info_kv->value_len) == 0)
        return PUT_KEEP;
    return PUT_WRITE;
}

/* Finish the done txn of the run the view's marker says was executed before
 * a crash (what dc_worker_recover does), then make the new run current again. */
static int finish_pending(dc_worker *w, int timeout_ms)
{
    dc_kv b0, b2;
    const dc_kv *op_kv = dcp_view_kv(w, WK_OP, &b0);
    dc_operation *op;
    pess_marker *mk;
    if (!dcp_worker_pending_run(op_kv, dcp_view_kv(w, WK_MARKER, &b2), &op, &mk)) return DC_OK;
    char *id = w->lock_id, **ddls = w->ddls, *position = w->position;
    size_t n_ddls = w->n_ddls;
    w->lock_id = w->position = NULL;
    w->ddls = NULL;
    w->n_ddls = 0;
    dcp_worker_take_run(w, mk, op, op_kv->mod_revision);
    int rc = dc_worker_mark_done(w, timeout_ms, NULL);
    dcp_worker_forget(w);
    w->lock_id = id;
    w->ddls = ddls;
    w->n_ddls = n_ddls;
    w->position = position;
    return rc;
}

static const int PUT_KEYS[3] = {WK_OP, WK_INFO, WK_MARKER};

/* Step 2's write: put the info if the operation, the info and the marker are
 * exactly as the view says (the decision was taken on it); otherwise the else
 * branch reads them into the view. *written = 1 if the info was put. */
static int put_guarded(dc_worker *w, const char *json, int *written)
{
    *written = 0;
    dc_txn *t = dc_txn_new();
    if (!t) return DC_ENOMEM;
    int rc = DC_OK;
    for (size_t i = 0; i < 3 && !rc; i++) rc = dcp_view_compare(w, t, PUT_KEYS[i]);
    if (!rc)
        rc = dc_txn_put(t, DC_THEN, w->info_key, strlen(w->info_key), json, strlen(json), 0, 0);
    for (size_t i = 0; i < 3 && !rc; i++) {
        const char *key = dcp_view_key(w, PUT_KEYS[i]);
        rc = dc_txn_get(t, DC_ELSE, key, strlen(key), 0, 0);
    }
    dc_txn_result *res = NULL;
    if (!rc) rc = dc_txn_commit(w->store, t, &res);
    dc_txn_free(t);
    if (!rc && res->succeeded) {
        int64_t rev = res->revision;
        const wk_slot *s = &w->view[WK_INFO];
        dc_kv kv = {w->info_key,
                    strlen(w->info_key),
                    (char *)json,
                    strlen(json),
                    s->present ? s->create : rev,
                    rev,
                    0,
                    0};
        dcp_view_confirm(w, WK_OP, rev);
        dcp_view_confirm(w, WK_MARKER, rev);
        dcp_view_set(w, WK_INFO, &kv, rev); /* out of memory only leaves it unknown */
        w->info_rev = rev;
        *written = 1;
    } else if (!rc) {
        rc = dcp_view_set_gets(w, PUT_KEYS, 3, res, 0);
    } else {
        for (size_t i = 0; i < 3; i++) dcp_view_unknown(w, PUT_KEYS[i]); /* a lost answer: read */
    }
    dc_txn_result_free(res);
    return rc;
}

int dc_worker_put_info(dc_worker *w, const char *schema, const char *table, const char *const *ddls,
                       size_t n_ddls, const char *position, int timeout_ms, int64_t *revision)
{
    int64_t deadline = dc__deadline_ms(timeout_ms);
    if (revision) *revision = 0;
    dc_info *info;
    int rc = dc_info_new(w->task, w->source, schema, table, ddls, n_ddls, &info);
    if (rc) return rc;
    dcp_worker_forget(w);
    char *json = NULL;
    rc = dc_info_lock_id(info, &w->lock_id);
    if (!rc && !(w->ddls = dcp_strv_dup(ddls, n_ddls))) rc = DC_ENOMEM;
    w->n_ddls = w->ddls ? n_ddls : 0;
    if (!rc && position && !(w->position = strdup(position))) rc = DC_ENOMEM;
    if (!rc) rc = dc_info_encode(info, &json);
    dc_info_free(info);
    w->conflict[0] = '\0';
    /* fresh: the view is one consistent read (or else branch) with nothing
     * applied on top since. Waiting and writing may use an older view (the
     * watch and the compares catch up with the truth); every other outcome
     * is decided on a fresh one, as it always was. */
    int fresh = 0, force_read = 0, logged_wait = 0;
    while (!rc) {
        int changed;
        if ((rc = dcp_view_drain(w, &changed))) break;
        if (changed) fresh = 0;
        if (force_read || !dcp_view_known(w, PUT_KEYS, 3)) {
            if ((rc = dcp_view_read(w, PUT_KEYS, 3))) {
                rc = dcp_worker_pause(rc, deadline);
                continue;
            }
            fresh = 1;
            force_read = 0;
        }
        int d = put_decide(w, json);
        if (d != PUT_WRITE && d != PUT_WAIT && !fresh) {
            force_read = 1;
            continue;
        }
        if (d == PUT_PENDING) {
            /* Executed (the marker says so, for this very operation) but the
             * done txn never happened: finish it, whatever the checkpoint says. */
            rc = finish_pending(w, timeout_ms);
            if (rc == DC_ECHANGED) {
                /* The pending operation was replaced meanwhile (an unlock):
                 * there is nothing of ours left to finish, and this new report
                 * goes ahead. */
                dc_log(DC_LOG_WARN, PESS, "worker %s: %s", dc__e(w->source), dc_last_error());
                rc = DC_OK;
            }
            fresh = 0;
        } else if (d == PUT_RESOLVED) {
            dc_log(DC_LOG_INFO, PESS, "worker %s: lock %s at position %s already resolved: skip",
                   dc__e(w->source), dc__e(w->lock_id), dc__e(w->position));
            rc = dc__error(DC_ERESOLVED, "lock %s at position %s was already resolved",
                           dc__e(w->lock_id), dc__e(w->position));
        } else if (d == PUT_WAIT) {
            /* A done operation is still there: its lock is not resolved yet
             * (others are still working). Wait for the master to delete it. */
            if (!logged_wait++)
                dc_log(DC_LOG_INFO, PESS, "worker %s: waiting for the done operation to go",
                       dc__e(w->source));
            rc = dcp_view_wait(w, PUT_KEYS, 1, deadline);
        } else if (d == PUT_KEEP) {
            w->info_rev = w->view[WK_INFO].mod; /* re-run: the info is there already */
            break;
        } else {
            int written;
            rc = put_guarded(w, json, &written);
            if (!rc && written) break;
            if (!rc && deadline >= 0 && dc__now_ms() >= deadline)
                /* Lost the race on every try (the keys keep moving, or the
                 * store answers with a state the view cannot take): the
                 * caller's time is up all the same. */
                rc = dc__error(DC_ETIMEDOUT,
                               "worker %s: info of %s not put in time: its keys "
                               "kept changing",
                               dc__e(w->source), dc__e(w->lock_id));
            else if (!rc)
                fresh = 1;
            else
                rc = dcp_worker_pause(rc, deadline); /* lost answer: the re-read tells */
        }
    }
    free(json);
    if (rc == DC_ENOMEM) rc = dc__error(rc, "out of memory");
    if (rc) return rc;
    if (revision) *revision = w->info_rev;
    return dcp_worker_step(w, 2, w->info_rev, "PUT info: %zu DDL%s", w->n_ddls,
                           w->n_ddls == 1 ? "" : "s");
}
