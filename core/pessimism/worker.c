/*
 * The worker: one (task, source)'s side of the protocol — PUT its info (step
 * 2), wait for its operation (step 5), and after the caller executed or
 * skipped (6) and flushed its checkpoint (7), the done txn (8).
 *
 * Every wait is "read the keys, then watch them from the read's revision + 1
 * until something happens": if the watch ends (compaction, a reconnect the
 * driver could not prove gap-free) or the store blips, the loop simply reads
 * again, so neither surfaces as an error (DESIGN §5 item 7). No wait assumes
 * revisions are contiguous.
 *
 * The resolution marker (marker.c) makes crashes between step 6 and step 8
 * recoverable without a manual unlock: dc_worker_mark_executed records the
 * operation's revision right after executing, and dc_worker_recover finishes
 * the done txn for a marker that matches the still-pending operation.
 * The one-call flow helper is in worker_flow.c.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int worker_step(dc_worker *w, int step, int64_t rev, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dc_log(DC_LOG_INFO, PESS, "worker step %d: lock %s source %s rev %lld: %s", step,
           w->lock_id ? w->lock_id : "-", w->source, (long long)rev, text);
    if (!w->on_step) return DC_OK;
    dc_step st = {step, "worker", w->lock_id, w->task, w->source, rev, text};
    if (w->on_step(&st, w->step_ud) == 0) return DC_OK;
    return dc__error(DC_ECLOSED, "worker %s stopped by the step callback after step %d", w->source,
                     step);
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

void worker_forget(dc_worker *w)
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
}

void dc_worker_free(dc_worker *w)
{
    if (!w) return;
    worker_forget(w);
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

int worker_read(dc_worker *w, const char *const *keys, size_t n, dc_txn_result **res)
{
    dc_txn *t = dc_txn_new();
    if (!t) return dc__error(DC_ENOMEM, "out of memory");
    int rc = DC_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = dc_txn_get(t, DC_THEN, keys[i], strlen(keys[i]), 0, 0);
    if (!rc) rc = dc_txn_commit(w->store, t, res);
    dc_txn_free(t);
    return rc;
}

const dc_kv *worker_kv(const dc_txn_result *res, size_t i)
{
    if (i >= res->n_responses || res->responses[i].n_kvs == 0) return NULL;
    return &res->responses[i].kvs[0];
}

int worker_wait_change(dc_worker *w, const char *const *keys, size_t n, int64_t from,
                       int64_t deadline)
{
    dc_watch *ws[4] = {0};
    struct pollfd p[4];
    int rc = DC_OK;
    for (size_t i = 0; i < n && i < 4 && !rc; i++) {
        rc = dc_watch_open(w->store, keys[i], strlen(keys[i]), from, 0, &ws[i]);
        if (!rc) p[i] = (struct pollfd){dc_watch_fd(ws[i]), POLLIN, 0};
    }
    /* A watch that cannot open is a store blip: report "changed" and let
     * the caller re-read (after a pause, so a dead store is not hammered). */
    if (rc) {
        dc_sleep_ms(100);
        rc = DC_OK;
        goto out;
    }
    for (;;) {
        int64_t now = dc_now_ms();
        if (deadline >= 0 && now >= deadline) {
            rc = dc__error(DC_ETIMEDOUT, "worker %s: timed out waiting", w->source);
            break;
        }
        int wait = deadline < 0 ? 1000 : (int)(deadline - now);
        if (poll(p, n, wait > 1000 ? 1000 : wait) < 0 && errno != EINTR) break;
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            dc_events *evs = NULL;
            int r = dc_watch_next(ws[i], 0, &evs);
            dc_events_free(evs);
            if (r != DC_ETIMEDOUT) any = 1; /* an event, or the watch ended: re-read */
        }
        if (any) break;
    }
out:
    for (size_t i = 0; i < n && i < 4; i++) dc_watch_close(ws[i]);
    return rc;
}

/* Sleep a little after a transient error, if time allows. */
int worker_pause(int rc, int64_t deadline)
{
    if (!dc_error_retryable(rc) && rc != DC_EUNKNOWN) return rc;
    if (deadline >= 0 && dc_now_ms() + 100 >= deadline) return rc;
    dc_sleep_ms(100);
    return DC_OK;
}

static int marker_matches(dc_worker *w, const dc_kv *kv)
{
    if (!kv || !w->position) return 0;
    pess_marker *mk;
    if (pess_marker_decode(kv->key, kv->value, kv->value_len, &mk)) return 0;
    int hit = mk->done && mk->position && strcmp(mk->position, w->position) == 0 &&
              strcmp(mk->id, w->lock_id) == 0 &&
              dc_ddls_equal((const char *const *)mk->ddls, mk->n_ddls, (const char *const *)w->ddls,
                            w->n_ddls);
    pess_marker_free(mk);
    return hit;
}

int dc_worker_put_info(dc_worker *w, const char *schema, const char *table, const char *const *ddls,
                       size_t n_ddls, const char *position, int timeout_ms, int64_t *revision)
{
    int64_t deadline = dc_deadline_ms(timeout_ms);
    if (revision) *revision = 0;
    dc_info *info;
    int rc = dc_info_new(w->task, w->source, schema, table, ddls, n_ddls, &info);
    if (rc) return rc;
    rc = dc_worker_recover(w, timeout_ms, NULL);
    if (rc == DC_ECHANGED) {
        /* The pending operation was replaced meanwhile (an unlock): there is
         * nothing of ours left to finish, and this new report goes ahead. */
        dc_log(DC_LOG_WARN, PESS, "worker %s: %s", w->source, dc_last_error());
        rc = DC_OK;
    }
    worker_forget(w);
    char *json = NULL;
    if (!rc) rc = dc_info_lock_id(info, &w->lock_id);
    if (!rc && !(w->ddls = pess_strv_dup(ddls, n_ddls))) rc = DC_ENOMEM;
    w->n_ddls = w->ddls ? n_ddls : 0;
    if (!rc && position && !(w->position = strdup(position))) rc = DC_ENOMEM;
    if (!rc) rc = dc_info_encode(info, &json);
    dc_info_free(info);
    w->conflict[0] = '\0';
    const char *keys[3] = {w->op_key, w->info_key, w->marker_key};
    while (!rc) {
        dc_txn_result *res = NULL;
        rc = worker_read(w, keys, 3, &res);
        if (rc) {
            rc = worker_pause(rc, deadline);
            continue;
        }
        const dc_kv *op_kv = worker_kv(res, 0), *info_kv = worker_kv(res, 1);
        if (marker_matches(w, worker_kv(res, 2))) {
            dc_txn_result_free(res);
            dc_log(DC_LOG_INFO, PESS, "worker %s: lock %s at position %s already resolved: skip",
                   w->source, w->lock_id, w->position);
            rc = dc__error(DC_ERESOLVED, "lock %s at position %s was already resolved", w->lock_id,
                           w->position);
            break;
        }
        dc_operation *op = NULL;
        if (op_kv && dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op) == 0 &&
            op->done) {
            /* A done operation is still there: its lock is not resolved yet
             * (others are still working). Wait for the master to delete it. */
            dc_log(DC_LOG_INFO, PESS, "worker %s: waiting for done operation of %s to go",
                   w->source, op->id);
            dc_operation_free(op);
            int64_t from = res->revision + 1;
            dc_txn_result_free(res);
            rc = worker_wait_change(w, keys, 1, from, deadline);
            continue;
        }
        dc_operation_free(op);
        if (info_kv && info_kv->value_len == strlen(json) &&
            memcmp(info_kv->value, json, info_kv->value_len) == 0) {
            w->info_rev = info_kv->mod_revision; /* re-run: the info is there already */
            dc_txn_result_free(res);
            break;
        }
        dc_txn *t = dc_txn_new();
        rc = t ? DC_OK : DC_ENOMEM;
        if (!rc)
            rc = op_kv ? dc_txn_compare_int(t, w->op_key, strlen(w->op_key), DC_TARGET_MOD,
                                            DC_CMP_EQUAL, op_kv->mod_revision)
                       : dc_txn_compare_int(t, w->op_key, strlen(w->op_key), DC_TARGET_CREATE,
                                            DC_CMP_EQUAL, 0);
        if (!rc)
            rc = dc_txn_put(t, DC_THEN, w->info_key, strlen(w->info_key), json, strlen(json), 0, 0);
        dc_txn_result_free(res);
        res = NULL;
        if (!rc) rc = dc_txn_commit(w->store, t, &res);
        dc_txn_free(t);
        if (!rc && res->succeeded) {
            w->info_rev = res->revision;
            dc_txn_result_free(res);
            break;
        }
        dc_txn_result_free(res);
        if (rc) rc = worker_pause(rc, deadline); /* lost answer: the re-read tells */
    }
    free(json);
    if (rc == DC_ENOMEM) rc = dc__error(rc, "out of memory");
    if (rc) return rc;
    if (revision) *revision = w->info_rev;
    return worker_step(w, 2, w->info_rev, "PUT info: %zu DDL%s", w->n_ddls,
                       w->n_ddls == 1 ? "" : "s");
}

int dc_worker_wait_operation(dc_worker *w, int timeout_ms, dc_operation **out)
{
    *out = NULL;
    if (!w->lock_id || !w->info_rev) return dc__error(DC_EINVAL, "worker: no info put");
    int64_t deadline = dc_deadline_ms(timeout_ms);
    const char *keys[3] = {w->op_key, w->conflict_key, w->info_key};
    for (;;) {
        dc_txn_result *res = NULL;
        int rc = worker_read(w, keys, 3, &res);
        if (rc) {
            rc = worker_pause(rc, deadline);
            if (rc) return rc;
            continue;
        }
        const dc_kv *op_kv = worker_kv(res, 0), *cf_kv = worker_kv(res, 1);
        dc_operation *op = NULL;
        if (op_kv) {
            rc = dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op);
            if (rc == DC_OK && strcmp(op->id, w->lock_id) == 0) {
                dc_operation *copy;
                rc = dc_operation_new(op->id, op->task, op->source, (const char *const *)op->ddls,
                                      op->n_ddls, op->exec, op->done, &copy);
                if (rc) {
                    dc_operation_free(op);
                    dc_txn_result_free(res);
                    return rc;
                }
                dc_operation_free(w->op);
                w->op = op;
                w->op_rev = op_kv->mod_revision;
                dc_txn_result_free(res);
                rc =
                    worker_step(w, 5, w->op_rev, "got operation exec=%s%s",
                                copy->exec ? "true" : "false", copy->done ? " (already done)" : "");
                if (rc) {
                    dc_operation_free(copy);
                    return rc;
                }
                *out = copy;
                return DC_OK;
            }
            if (rc && rc != DC_ENOMEM)
                dc_log(DC_LOG_WARN, PESS, "worker %s: ignoring bad operation: %s", w->source,
                       dc_last_error());
            dc_operation_free(op);
        }
        pess_conflict *cf = NULL;
        if (cf_kv && pess_conflict_decode(cf_kv->key, cf_kv->value, cf_kv->value_len, &cf) == 0) {
            int mine = strcmp(cf->id, w->lock_id) == 0 && cf->info_revision == w->info_rev;
            if (mine) snprintf(w->conflict, sizeof w->conflict, "%s", cf->message);
            pess_conflict_free(cf);
            if (mine) {
                dc_txn_result_free(res);
                return dc__error(DC_ECONFLICT, "%s", w->conflict);
            }
        }
        if (!worker_kv(res, 2)) {
            /* Our info is gone and no operation came: an unlock --force-remove
             * or a remove-meta withdrew the lock. Waiting on would be forever. */
            dc_txn_result_free(res);
            return dc__error(DC_ENOTFOUND,
                             "worker %s: info of %s was removed (unlock or "
                             "remove-meta)",
                             w->source, w->lock_id);
        }
        int64_t from = res->revision + 1;
        dc_txn_result_free(res);
        rc = worker_wait_change(w, keys, 3, from, deadline);
        if (rc) return rc;
    }
}

static int marker_json(dc_worker *w, int done, char **json)
{
    pess_marker mk = {
        w->lock_id, w->ddls, w->n_ddls, w->position, w->op_rev, w->op ? w->op->exec : 0, done};
    return pess_marker_encode(&mk, json);
}

int dc_worker_mark_executed(dc_worker *w, int timeout_ms)
{
    if (!w->op) return dc__error(DC_EINVAL, "worker: no operation");
    int64_t deadline = dc_deadline_ms(timeout_ms);
    char *json;
    int rc = marker_json(w, 0, &json);
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
            rc = res->succeeded ? DC_OK
                                : dc__error(DC_ECHANGED, "worker %s: operation of %s changed",
                                            w->source, w->lock_id);
            dc_txn_result_free(res);
            break;
        }
        rc = worker_pause(rc, deadline); /* re-putting the same marker is harmless */
    }
    free(json);
    return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
}

/* Did an earlier attempt of our done txn commit? (op done at our lock, and
 * the marker completed for the operation revision we executed.) */
static int done_already(dc_worker *w, const dc_txn_result *res, int64_t *rev)
{
    const dc_kv *op_kv = worker_kv(res, 0), *mk_kv = worker_kv(res, 1);
    if (!op_kv || !mk_kv) return 0;
    dc_operation *op;
    pess_marker *mk;
    if (dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op)) return 0;
    int ok = op->done && strcmp(op->id, w->lock_id) == 0;
    dc_operation_free(op);
    if (!ok || pess_marker_decode(mk_kv->key, mk_kv->value, mk_kv->value_len, &mk)) return 0;
    ok = mk->done && mk->op_revision == w->op_rev && strcmp(mk->id, w->lock_id) == 0;
    pess_marker_free(mk);
    if (ok) *rev = op_kv->mod_revision;
    return ok;
}

int dc_worker_mark_done(dc_worker *w, int timeout_ms, int64_t *revision)
{
    if (!w->op) return dc__error(DC_EINVAL, "worker: no operation");
    int64_t deadline = dc_deadline_ms(timeout_ms);
    char *mk = NULL, *opj = NULL;
    int was_done = w->op->done;
    w->op->done = 1;
    int rc = marker_json(w, 1, &mk);
    if (!rc) rc = dc_operation_encode(w->op, &opj);
    w->op->done = was_done;
    int64_t rev = 0;
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
            if (res->succeeded)
                rev = res->revision;
            else if (!done_already(w, res, &rev))
                rc = dc__error(DC_ECHANGED, "worker %s: operation of %s changed or removed",
                               w->source, w->lock_id);
            dc_txn_result_free(res);
            break;
        }
        rc = worker_pause(rc, deadline); /* a retry of a committed done is seen by the else */
    }
    free(mk);
    free(opj);
    if (rc) return rc == DC_ENOMEM ? dc__error(rc, "out of memory") : rc;
    if (w->op) w->op->done = 1;
    if (revision) *revision = rev;
    return worker_step(w, 8, rev, "done: operation marked done, info deleted");
}

int dc_worker_delete_info(dc_worker *w, int timeout_ms)
{
    int64_t deadline = dc_deadline_ms(timeout_ms);
    for (;;) {
        int rc = dc_delete(w->store, w->info_key, strlen(w->info_key), 0, NULL, NULL);
        if (rc == DC_OK) {
            worker_forget(w);
            return DC_OK;
        }
        if ((rc = worker_pause(rc, deadline))) return rc;
    }
}

int dc_worker_recover(dc_worker *w, int timeout_ms, int *recovered)
{
    if (recovered) *recovered = 0;
    int64_t deadline = dc_deadline_ms(timeout_ms);
    const char *keys[2] = {w->op_key, w->marker_key};
    dc_txn_result *res = NULL;
    int rc;
    while ((rc = worker_read(w, keys, 2, &res)) != DC_OK)
        if ((rc = worker_pause(rc, deadline))) return rc;
    const dc_kv *op_kv = worker_kv(res, 0), *mk_kv = worker_kv(res, 1);
    dc_operation *op = NULL;
    pess_marker *mk = NULL;
    int pending =
        op_kv && mk_kv && !dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op) &&
        !pess_marker_decode(mk_kv->key, mk_kv->value, mk_kv->value_len, &mk) && !op->done &&
        !mk->done && mk->op_revision == op_kv->mod_revision && strcmp(mk->id, op->id) == 0;
    if (pending) {
        /* Executed (the marker says so, for this very operation) but the done
         * txn never happened: finish it, whatever the checkpoint says. */
        worker_forget(w);
        w->lock_id = mk->id;
        w->ddls = mk->ddls;
        w->n_ddls = mk->n_ddls;
        w->position = mk->position;
        mk->id = mk->position = NULL;
        mk->ddls = NULL;
        mk->n_ddls = 0;
        w->op = op;
        op = NULL;
        w->op_rev = op_kv->mod_revision;
        dc_log(DC_LOG_INFO, PESS, "worker %s: finishing lock %s executed before a crash", w->source,
               w->lock_id);
    }
    dc_operation_free(op);
    pess_marker_free(mk);
    dc_txn_result_free(res);
    if (!pending) return DC_OK;
    rc = dc_worker_mark_done(w, timeout_ms, NULL);
    if (!rc && recovered) *recovered = 1;
    return rc;
}
