/*
 * The master's admin side: the requests operators write to the store (see
 * pessimism_admin.h and docs/DESIGN.md, "Admin requests"), served inside the
 * run loop in revision order with the protocol's events; their answers; and
 * the calls a host makes directly (listings, problems, remove_meta; the
 * unlock call is in master_unlock.c). Every call takes the master's mutex.
 *
 * An answer is written in a txn fenced by the leader key and guarded by the
 * request's create_revision, with the request's lease: a request withdrawn
 * meanwhile is never answered (and, for remove-meta, never executed, since
 * its deletes ride in the answer's txn: a remove-meta is done exactly once
 * even if a new leader finds the request again).
 */
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The owner's intent, from the master's mirrors. */
static int status_fill(void *ctx, const pess_lock *lock, dc_lock_status *st)
{
    pess_owner o;
    int rc = dcp_master_owner_state(ctx, lock, lock->owner, 0, &o);
    if (!rc) dcp_status_owner(&o, st);
    return rc;
}

int dc_master_locks(dc_master *m, const char *task, dc_lock_status **out, size_t *n)
{
    pthread_mutex_lock(&m->mu);
    int rc = dcp_status_array(m->keeper, task, status_fill, m, out, n);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dc_master_problems(dc_master *m, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->mu);
    size_t count = HASH_COUNT(m->bad), k = 0;
    char **v = calloc(count ? count : 1, sizeof *v);
    pess_bad *b, *tmp;
    HASH_ITER(hh, m->bad, b, tmp)
    {
        if (!v) break;
        size_t len = strlen(b->key) + strlen(b->msg) + 3;
        if (!(v[k] = malloc(len))) break;
        /* The message names the key already when it came from a decoder. */
        if (strstr(b->msg, b->key))
            snprintf(v[k], len, "%s", b->msg);
        else
            snprintf(v[k], len, "%s: %s", b->key, b->msg);
        k++;
    }
    pthread_mutex_unlock(&m->mu);
    if (!v || k < count) {
        dc_strings_free(v, k);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    qsort(v, k, sizeof *v, by_str);
    *out = v;
    *n = k;
    return DC_OK;
}

/* The answer key of a request key (same ID under the answer prefix). */
static char *answer_key(const dc_master *m, const char *req_key, size_t req_key_len)
{
    if (req_key_len <= m->pfx_len[K_REQUEST]) return NULL;
    size_t id_len = req_key_len - m->pfx_len[K_REQUEST];
    char *k = malloc(m->pfx_len[K_ANSWER] + id_len + 1);
    if (!k) return NULL;
    memcpy(k, m->pfx[K_ANSWER], m->pfx_len[K_ANSWER]);
    memcpy(k + m->pfx_len[K_ANSWER], req_key + m->pfx_len[K_REQUEST], id_len);
    k[m->pfx_len[K_ANSWER] + id_len] = '\0';
    return k;
}

/* Add remove-meta's four prefix deletes of task to t. */
static int remove_meta_ops(dc_master *m, dc_txn *t, const char *task)
{
    int (*keyfn[4])(const char *, const char *, const char *,
                    char **) = {dc_info_key, dc_operation_key, dc_marker_key, dc_conflict_key};
    int rc = DC_OK;
    for (int i = 0; i < 4 && !rc; i++) {
        char *prefix;
        rc = keyfn[i](m->ns, task, NULL, &prefix);
        if (!rc) rc = dc_txn_delete(t, DC_THEN, prefix, strlen(prefix), DC_PREFIX);
        free(prefix);
    }
    return rc;
}

/* One fenced txn: the answer of a request (req_key NULL: none), and with
 * task the deletes of remove-meta. DC_ENOTFOUND: the request is gone. */
static int answer_txn(dc_master *m, const char *req_key, size_t req_key_len, int64_t req_create,
                      int64_t lease, int code, const char *message, const char *task, int64_t *rev)
{
    char *ans = req_key ? answer_key(m, req_key, req_key_len) : NULL;
    char *json = NULL;
    int rc = req_key && !ans ? dc__error(DC_ENOMEM, "out of memory") : DC_OK;
    if (!rc && req_key) rc = dcp_admin_answer_encode(code, message, m->name, &json);
    dc_txn *t = rc ? NULL : dc_txn_new();
    if (!rc && !t) rc = dc__error(DC_ENOMEM, "out of memory");
    if (!rc) rc = dcp_fence_add(&m->fence, t);
    if (!rc && req_key)
        rc =
            dc_txn_compare_int(t, req_key, req_key_len, DC_TARGET_CREATE, DC_CMP_EQUAL, req_create);
    if (!rc && task) rc = remove_meta_ops(m, t, task);
    if (!rc && req_key) rc = dc_txn_put(t, DC_THEN, ans, strlen(ans), json, strlen(json), lease, 0);
    dc_txn_result *res = NULL;
    if (!rc) rc = dc_txn_commit(m->store, t, &res);
    if (!rc && !res->succeeded) {
        if (dcp_fence_failed(&m->fence, res))
            rc = dcp_master_fail(
                m, dc__error(DC_ECHANGED, "fencing key changed: no longer the leader"));
        else
            rc = dc__error(DC_ENOTFOUND, "the request was withdrawn");
    }
    if (!rc && rev) *rev = res->revision;
    if (!rc && req_key) m->stat_answers++;
    dc_txn_result_free(res);
    dc_txn_free(t);
    free(json);
    free(ans);
    return rc;
}

int dcp_master_answer(dc_master *m, const char *req_key, size_t req_key_len, int64_t req_create,
                      int64_t lease, int code, const char *message)
{
    dc_log(code == DC_OK ? DC_LOG_INFO : DC_LOG_WARN, PESS, "admin: answer %s: %s: %s",
           dc__e(req_key), dc_errname(code), message);
    int rc = answer_txn(m, req_key, req_key_len, req_create, lease, code, message, NULL, NULL);
    if (rc == DC_ENOTFOUND) {
        dc_log(DC_LOG_INFO, PESS, "admin: request %s was withdrawn before the answer",
               dc__e(req_key));
        return DC_OK;
    }
    return rc;
}

/* remove-meta of task; req (may be NULL) is the request it answers. */
static int remove_meta(dc_master *m, const char *task, const dc_kv *req)
{
    char msg[512];
    snprintf(msg, sizeof msg, "metadata of task %s removed", dc__e(task));
    int64_t rev = 0;
    int rc =
        answer_txn(m, req ? req->key : NULL, req ? req->key_len : 0, req ? req->create_revision : 0,
                   req ? req->lease : 0, DC_OK, msg, task, &rev);
    if (rc == DC_ENOTFOUND && req) {
        dc_log(DC_LOG_INFO, PESS, "admin: request %s was withdrawn: not executed", dc__e(req->key));
        return DC_OK;
    }
    if (rc) return rc;
    /* Its locks go with it; an unlock job on one of them ends (nothing left). */
    pess_lock **locks;
    size_t n;
    if ((rc = dcp_keeper_locks(m->keeper, &locks, &n)) != DC_OK) return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(locks[i]->task, task) == 0) dcp_master_remove_lock(m, locks[i]);
    free(locks);
    pthread_cond_broadcast(&m->cond);
    dc_log(DC_LOG_INFO, PESS,
           "remove_meta %s: infos, operations, markers and locks removed at rev %lld", dc__e(task),
           (long long)rev);
    return DC_OK;
}

int dc_master_remove_meta(dc_master *m, const char *task)
{
    if (!task || !*task) return dc__error(DC_EINVAL, "remove_meta: no task");
    pthread_mutex_lock(&m->mu);
    int rc = m->fatal;
    if (rc) rc = dc__error(rc, "remove_meta: the master has stopped: %s", dc_strerror(rc));
    if (!rc) rc = dcp_master_flush_writes(m);
    if (!rc) rc = remove_meta(m, task, NULL);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Serve one request kv (a PUT event, or found unanswered by a rebuild). */
static int serve(dc_master *m, const dc_kv *kv)
{
    if (dcp_master_job_of_request(m, kv->key, kv->key_len)) return DC_OK; /* being served */
    admin_req r;
    int rc = dcp_admin_req_decode(kv->key, kv->value, kv->value_len, &r);
    if (rc == DC_ENOMEM) return rc;
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dcp_master_answer(m, kv->key, kv->key_len, kv->create_revision, kv->lease, rc, msg);
    }
    if (r.op == ADMIN_REMOVE_META) {
        dc_log(DC_LOG_INFO, PESS, "admin: remove-meta %s", dc__e(r.task));
        rc = remove_meta(m, r.task, kv);
    } else {
        dc_log(DC_LOG_INFO, PESS, "admin: unlock %s owner=%s force_remove=%d assume=%d wait=%lldms",
               dc__e(r.lock_id), dc__e(r.owner), r.force_remove, r.assume, (long long)r.wait_ms);
        dc_unlock_options o = {.owner = r.owner,
                               .force_remove = r.force_remove,
                               .assume = (dc_assume)r.assume,
                               .wait_ms = (int)r.wait_ms};
        rc = dcp_master_job_start(m, r.lock_id, &o, kv, NULL);
        /* A job that could not start is answered by dcp_master_jobs_run. */
        if (!rc) rc = dcp_master_jobs_run(m);
    }
    dcp_admin_req_clear(&r);
    return rc;
}

int dcp_master_admin_event(dc_master *m, const dc_event *ev)
{
    if (ev->type == DC_EVENT_PUT) return serve(m, &ev->kv);
    /* Withdrawn (its caller gave up, or its lease expired): the job gives up
     * now, as if its wait had run out, and nobody is answered. */
    master_job *j = dcp_master_job_of_request(m, ev->kv.key, ev->kv.key_len);
    if (j && !j->finished) {
        j->withdrawn = 1;
        j->deadline = dcp_master_now(m);
    }
    return DC_OK;
}

static int by_create(const void *a, const void *b)
{
    const dc_kv *x = *(const dc_kv *const *)a, *y = *(const dc_kv *const *)b;
    return x->create_revision < y->create_revision ? -1 : x->create_revision > y->create_revision;
}

int dcp_master_admin_pending(dc_master *m, const pess_snapshot *snap)
{
    const dc_response *reqs = &snap->res->responses[SNAP_REQUESTS];
    const dc_response *answers = &snap->res->responses[SNAP_ANSWERS];
    if (reqs->n_kvs == 0) return DC_OK;
    const dc_kv **v = malloc(reqs->n_kvs * sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < reqs->n_kvs; i++) {
        const dc_kv *r = &reqs->kvs[i];
        const char *id = r->key + m->pfx_len[K_REQUEST];
        if (r->key_len <= m->pfx_len[K_REQUEST]) continue;
        int answered = 0;
        for (size_t a = 0; a < answers->n_kvs && !answered; a++)
            answered = answers->kvs[a].key_len > m->pfx_len[K_ANSWER] &&
                       strcmp(answers->kvs[a].key + m->pfx_len[K_ANSWER], id) == 0;
        if (!answered) v[k++] = r;
    }
    /* In the order they were written, as the watch would have had them. */
    qsort(v, k, sizeof *v, by_create);
    int rc = DC_OK;
    for (size_t i = 0; i < k && !rc; i++) rc = serve(m, v[i]);
    free(v);
    return rc;
}
