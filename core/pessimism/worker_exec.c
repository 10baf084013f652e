/*
 * The worker around step 6, executing: the execution intent it records
 * before it runs anything (dc_worker_begin_exec), and the marker that says
 * it ran (dc_worker_mark_executed). See docs/DESIGN.md, "Execution intent".
 *
 * The intent is one txn guarded on the operation's mod_revision R: it can
 * only be recorded while the master's exec=true decision stands, and once it
 * is, no takeover can fence the operation (master_owner.c: the fence
 * requires the marker without an intent for R). Its attempt number tells the
 * code that runs the DDLs whether an earlier attempt may have run them
 * already: 1 the first time, n + 1 after an intent n that never finished
 * (the worker crashed or was killed between the intent and its marker).
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

int dcp_worker_marker_json(dc_worker *w, int intent, int done, char **json)
{
    pess_marker mk = {w->lock_id,  w->ddls,   w->n_ddls,
                      w->position, w->op_rev, w->op ? w->op->exec : 0,
                      done,        intent,    w->op && w->op->exec ? w->attempt : 0};
    return dcp_marker_encode(&mk, json);
}

/* The attempt the next intent records, from the marker the view holds:
 * after an unfinished attempt k of the same DDLs of this lock, k + 1.
 * *executed = 1 if the marker says this very operation was executed. */
static int next_attempt(dc_worker *w, int64_t *attempt, int *executed)
{
    *attempt = 1;
    *executed = 0;
    dc_kv b;
    const dc_kv *kv = dcp_view_kv(w, WK_MARKER, &b);
    if (!kv) return DC_OK;
    pess_marker *mk;
    int rc = dcp_marker_decode(kv->key, kv->value, kv->value_len, &mk);
    if (rc == DC_ENOMEM) return rc;
    if (rc) return DC_OK; /* a marker that does not decode says nothing: attempt 1 */
    int same = !mk->done && strcmp(mk->id, w->lock_id) == 0 &&
               dc_ddls_equal((const char *const *)mk->ddls, mk->n_ddls,
                             (const char *const *)w->ddls, w->n_ddls);
    if (same && !mk->intent && mk->exec && mk->op_revision == w->op_rev) *executed = 1;
    if (same && mk->exec) *attempt = (mk->attempt > 0 ? mk->attempt : 1) + 1;
    dcp_marker_free(mk);
    return DC_OK;
}

int dc_worker_begin_exec(dc_worker *w, int timeout_ms, int64_t *attempt)
{
    if (attempt) *attempt = 0;
    if (!w->op || !w->op->exec) return dc__error(DC_EINVAL, "worker: no operation to execute");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    static const int keys[2] = {WK_OP, WK_MARKER};
    int rc = DC_OK;
    for (;;) {
        if (!dcp_view_known(w, keys + 1, 1) && (rc = dcp_view_read(w, keys, 2)) != DC_OK) {
            if ((rc = dcp_worker_pause(rc, deadline))) break;
            continue;
        }
        int64_t n;
        int executed;
        if ((rc = next_attempt(w, &n, &executed))) break;
        if (executed) {
            /* This very operation ran already (the marker after it is
             * there): nothing to execute, only the done txn is missing. */
            rc = dc__error(DC_ERESOLVED, "lock %s: operation already executed (attempt %lld)",
                           dc__e(w->lock_id), (long long)(n - 1));
            break;
        }
        if (n < w->min_attempt) n = w->min_attempt; /* it ran in a history since reset */
        w->attempt = n;
        /* A claimed worker (dc_worker_claim) records its intent only while
         * its claim holds: a worker paused past its lease may have been
         * replaced by a re-run, and the two must not both execute. */
        const char *ck = NULL;
        size_t ckl = 0;
        int64_t crev = 0;
        if (w->claim && dc_election_fence(w->claim, &ck, &ckl, &crev) != DC_OK) {
            rc = dc__error(DC_EBUSY,
                           "worker %s: its live-worker claim lapsed (lease expired): another "
                           "worker may run for this source",
                           dc__e(w->source));
            break;
        }
        char *json = NULL;
        if ((rc = dcp_worker_marker_json(w, 1, 0, &json))) break;
        dc_txn *t = dc_txn_new();
        dc_txn_result *res = NULL;
        rc = t ? dc_txn_compare_int(t, w->op_key, strlen(w->op_key), DC_TARGET_MOD, DC_CMP_EQUAL,
                                    w->op_rev)
               : DC_ENOMEM;
        if (!rc) rc = dcp_view_compare(w, t, WK_MARKER); /* the marker n was computed from */
        if (!rc && ck) rc = dc_txn_compare_int(t, ck, ckl, DC_TARGET_CREATE, DC_CMP_EQUAL, crev);
        if (!rc)
            rc = dc_txn_put(t, DC_THEN, w->marker_key, strlen(w->marker_key), json, strlen(json), 0,
                            0);
        for (size_t i = 0; i < 2 && !rc; i++)
            rc = dc_txn_get(t, DC_ELSE, dcp_view_key(w, keys[i]), strlen(dcp_view_key(w, keys[i])),
                            0, 0);
        if (!rc && ck) rc = dc_txn_get(t, DC_ELSE, ck, ckl, 0, 0);
        if (!rc) rc = dc_txn_commit(w->store, t, &res);
        dc_txn_free(t);
        if (rc) {
            /* A lost answer may have recorded it: read, and decide again (an
             * intent of ours found there only raises the next attempt). */
            free(json);
            dcp_view_unknown(w, WK_MARKER);
            if ((rc = dcp_worker_pause(rc, deadline))) break;
            continue;
        }
        if (res->succeeded) {
            dc_kv kv = {
                w->marker_key, strlen(w->marker_key), json, strlen(json), 0, res->revision, 0, 0};
            dcp_view_confirm(w, WK_OP, res->revision);
            dcp_view_set(w, WK_MARKER, &kv, res->revision); /* ENOMEM: left unknown */
            dc_txn_result_free(res);
            free(json);
            if (attempt) *attempt = n;
            /* Not one of DM's steps: a log line, no step callback. */
            dc_log(DC_LOG_INFO, PESS, "worker %s: lock %s rev %lld: execution intent, attempt %lld",
                   dc__e(w->source), dc__e(w->lock_id), (long long)w->op_rev, (long long)n);
            return DC_OK;
        }
        free(json);
        if (ck) {
            const dc_response *cr = res->n_responses > 2 ? &res->responses[2] : NULL;
            if (!cr || cr->n_kvs == 0 || cr->kvs[0].create_revision != crev) {
                dc_txn_result_free(res);
                rc = dc__error(DC_EBUSY,
                               "worker %s: its live-worker claim is gone: another worker may run "
                               "for this source",
                               dc__e(w->source));
                break;
            }
        }
        dcp_view_set_gets(w, keys, 2, res, 0); /* ENOMEM: left unknown, read again */
        dc_kv b;
        const dc_kv *op = dcp_view_kv(w, WK_OP, &b);
        int gone = !op || op->mod_revision != w->op_rev;
        dc_txn_result_free(res);
        if (gone) {
            /* Fenced (a takeover deleted it) or replaced: not ours to run. */
            rc = dc__error(DC_ECHANGED, "worker %s: operation of %s was fenced or replaced",
                           dc__e(w->source), dc__e(w->lock_id));
            break;
        }
        /* Only the marker moved (a stale view): decide again on the new one. */
    }
    w->attempt = 0;
    return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
}

int dc_worker_mark_executed(dc_worker *w, int timeout_ms)
{
    if (!w->op) return dc__error(DC_EINVAL, "worker: no operation");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    char *json;
    int rc = dcp_worker_marker_json(w, 0, 0, &json);
    while (!rc) {
        dc_txn *t = dc_txn_new();
        dc_txn_result *res = NULL;
        rc = t ? dc_txn_compare_int(t, w->op_key, strlen(w->op_key), DC_TARGET_MOD, DC_CMP_EQUAL,
                                    w->op_rev)
               : DC_ENOMEM;
        if (!rc)
            rc = dc_txn_put(t, DC_THEN, w->marker_key, strlen(w->marker_key), json, strlen(json), 0,
                            0);
        if (!rc) rc = dc_txn_commit(w->store, t, &res);
        dc_txn_free(t);
        if (!rc) {
            if (res->succeeded) {
                dc_kv kv = {w->marker_key,
                            strlen(w->marker_key),
                            json,
                            strlen(json),
                            0,
                            res->revision,
                            0,
                            0};
                dcp_view_set(w, WK_MARKER, &kv, res->revision); /* ENOMEM: left unknown */
                rc = DC_OK;
            } else {
                dcp_view_unknown(w, WK_OP); /* whatever it is now, it is not what we had */
                rc = dc__error(DC_ECHANGED, "worker %s: operation of %s changed", dc__e(w->source),
                               dc__e(w->lock_id));
                /* A skip whose lock resolved (or was removed) without it: it
                 * was told to skip and did; record that as done, so that its
                 * re-run is "already resolved" (explorer findings F2, F3). */
                if (!w->op->exec && dcp_worker_skip_resolved(w, timeout_ms) == DC_OK) rc = DC_OK;
            }
            dc_txn_result_free(res);
            break;
        }
        dcp_view_unknown(w, WK_MARKER);      /* a lost answer may have written it */
        rc = dcp_worker_pause(rc, deadline); /* re-putting the same marker is harmless */
    }
    free(json);
    return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
}
