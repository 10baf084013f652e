/*
 * Admin requests through the store: the JSON codec of requests and answers,
 * the client side (put the request with its own lease, watch for the answer,
 * revoke the lease) and the master side's fenced answer write. See admin.h
 * for the key layout and why everything rides on the client's lease.
 */
#include "admin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void dcx_admin_req_clear(dcx_admin_req *r)
{
    free(r->op);
    free(r->lock_id);
    free(r->owner);
    free(r->task);
    memset(r, 0, sizeof *r);
}

void dcx_admin_answer_clear(dcx_admin_answer *a)
{
    free(a->message);
    free(a->master);
    memset(a, 0, sizeof *a);
}

char *dcx_admin_prefix(const char *ns, const char *kind)
{
    char rest[64];
    snprintf(rest, sizeof rest, "admin/%s/", kind);
    return dcx_own_key(ns, rest);
}

static char *admin_key(const char *ns, const char *kind, const char *id)
{
    char *p = dcx_admin_prefix(ns, kind);
    if (!p) return NULL;
    size_t n = strlen(p) + strlen(id) + 1;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s%s", p, id);
    free(p);
    return k;
}

/* A string field, copied; NULL (not an error) when absent. */
static int opt_string(const cJSON *o, const char *name, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return DC_OK;
    if (!cJSON_IsString(v)) return DC_ECORRUPT;
    *out = strdup(v->valuestring);
    return *out ? DC_OK : DC_ENOMEM;
}

static char *encode_request(const dcx_admin_req *r)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "op", r->op);
    if (ok && r->lock_id) ok = cJSON_AddStringToObject(o, "lock_id", r->lock_id) != NULL;
    if (ok && r->owner) ok = cJSON_AddStringToObject(o, "owner", r->owner) != NULL;
    if (ok && r->task) ok = cJSON_AddStringToObject(o, "task", r->task) != NULL;
    if (ok) ok = cJSON_AddBoolToObject(o, "force_remove", r->force_remove) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(o, "wait_ms", (double)r->wait_ms) != NULL;
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

int dcx_admin_req_decode(const char *value, size_t len, dcx_admin_req *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_ParseWithLength(value, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return DC_ECORRUPT;
    }
    int rc = opt_string(o, "op", &out->op);
    if (rc == DC_OK) rc = opt_string(o, "lock_id", &out->lock_id);
    if (rc == DC_OK) rc = opt_string(o, "owner", &out->owner);
    if (rc == DC_OK) rc = opt_string(o, "task", &out->task);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "force_remove");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wait_ms");
    if (rc == DC_OK && f && !cJSON_IsBool(f)) rc = DC_ECORRUPT;
    if (rc == DC_OK && w && !cJSON_IsNumber(w)) rc = DC_ECORRUPT;
    if (rc == DC_OK) {
        out->force_remove = cJSON_IsTrue(f);
        out->wait_ms = w ? (int64_t)w->valuedouble : 0;
        if (!out->op) rc = DC_ECORRUPT;
    }
    cJSON_Delete(o);
    if (rc != DC_OK) dcx_admin_req_clear(out);
    return rc;
}

static int decode_answer(const char *value, size_t len, dcx_admin_answer *a)
{
    memset(a, 0, sizeof *a);
    cJSON *o = cJSON_ParseWithLength(value, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return DC_ECORRUPT;
    }
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
    int rc = cJSON_IsBool(ok) && cJSON_IsNumber(code) ? DC_OK : DC_ECORRUPT;
    if (rc == DC_OK) rc = opt_string(o, "message", &a->message);
    if (rc == DC_OK) rc = opt_string(o, "master", &a->master);
    if (rc == DC_OK) {
        a->ok = cJSON_IsTrue(ok);
        a->code = (int)code->valuedouble;
    }
    cJSON_Delete(o);
    if (rc != DC_OK) dcx_admin_answer_clear(a);
    return rc;
}

/* Wait for a PUT of key after revision from; DC_ETIMEDOUT at the deadline. */
static int wait_answer(dc_store *s, const char *key, int64_t from, int64_t deadline,
                       dcx_admin_answer *ans)
{
    for (;;) {
        dc_watch *w = NULL;
        int rc = dc_watch_open(s, key, strlen(key), from, 0, &w);
        if (rc != DC_OK) return rc;
        for (;;) {
            int64_t left = deadline - dcx_now_ms();
            if (left <= 0) {
                dc_watch_close(w);
                return DC_ETIMEDOUT;
            }
            dc_events *ev = NULL;
            rc = dc_watch_next(w, left > 500 ? 500 : (int)left, &ev);
            if (rc == DC_ETIMEDOUT) continue;
            if (rc != DC_OK) break;
            for (size_t i = 0; i < ev->n; i++) {
                if (ev->events[i].type != DC_EVENT_PUT) continue;
                rc = decode_answer(ev->events[i].kv.value, ev->events[i].kv.value_len, ans);
                dc_events_free(ev);
                dc_watch_close(w);
                return rc;
            }
            dc_events_free(ev);
        }
        /* The watch ended (compaction, lost connection): the answer may be
         * there already; read it, else watch again from now. */
        dc_watch_close(w);
        dc_kvs *kvs = NULL;
        rc = dc_get(s, key, strlen(key), 0, 0, &kvs);
        if (rc != DC_OK) return rc;
        if (kvs->n) {
            rc = decode_answer(kvs->kvs[0].value, kvs->kvs[0].value_len, ans);
            dc_kvs_free(kvs);
            return rc;
        }
        from = kvs->revision + 1;
        dc_kvs_free(kvs);
    }
}

int dcx_admin_call(dc_store *s, const char *ns, const dcx_admin_req *req, int64_t timeout_ms,
                   dcx_admin_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    char id[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(id, sizeof id, "%llx-%lx-%x", (unsigned long long)ts.tv_sec, (long)ts.tv_nsec,
             (unsigned)getpid());
    char *req_key = admin_key(ns, "request", id);
    char *ans_key = admin_key(ns, "answer", id);
    char *json = encode_request(req);
    int rc = req_key && ans_key && json ? DC_OK : DC_ENOMEM;
    int64_t lease = 0, rev = 0;
    /* The lease outlives the wait so the master can still answer at the end. */
    if (rc == DC_OK) rc = dc_lease_grant(s, timeout_ms / 1000 + 10, &lease, NULL);
    if (rc == DC_OK) rc = dc_put(s, req_key, strlen(req_key), json, strlen(json), lease, &rev);
    if (rc == DC_OK) rc = wait_answer(s, ans_key, rev + 1, dcx_now_ms() + timeout_ms, ans);
    if (lease) dc_lease_revoke(s, lease); /* withdraw the request; best effort */
    free(req_key);
    free(ans_key);
    free(json);
    return rc;
}

int dcx_admin_answer_put(dc_store *s, const char *ns, const char *req_key, size_t req_key_len,
                         int64_t req_create_rev, int64_t lease, const char *fence_key,
                         size_t fence_key_len, int64_t fence_rev, int code, const char *message,
                         const char *master)
{
    char *req_prefix = dcx_admin_prefix(ns, "request");
    if (!req_prefix) return DC_ENOMEM;
    size_t plen = strlen(req_prefix);
    free(req_prefix);
    if (req_key_len <= plen) return DC_EINVAL;
    char *ans_key = admin_key(ns, "answer", req_key + plen);
    cJSON *o = cJSON_CreateObject();
    int ok = ans_key && o && cJSON_AddBoolToObject(o, "ok", code == DC_OK) &&
             cJSON_AddNumberToObject(o, "code", code) &&
             cJSON_AddStringToObject(o, "message", message ? message : "") &&
             cJSON_AddStringToObject(o, "master", master ? master : "");
    char *json = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    dc_txn *t = json ? dc_txn_new() : NULL;
    int rc = t ? DC_OK : DC_ENOMEM;
    if (rc == DC_OK && fence_key)
        rc = dc_txn_compare_int(t, fence_key, fence_key_len, DC_TARGET_CREATE, DC_CMP_EQUAL,
                                fence_rev);
    if (rc == DC_OK)
        rc = dc_txn_compare_int(t, req_key, req_key_len, DC_TARGET_CREATE, DC_CMP_EQUAL,
                                req_create_rev);
    if (rc == DC_OK)
        rc = dc_txn_put(t, DC_THEN, ans_key, strlen(ans_key), json, strlen(json), lease, 0);
    if (rc == DC_OK && fence_key) rc = dc_txn_get(t, DC_ELSE, fence_key, fence_key_len, 0, 0);
    dc_txn_result *res = NULL;
    if (rc == DC_OK) rc = dc_txn_commit(s, t, &res);
    if (rc == DC_OK && !res->succeeded) {
        rc = DC_ENOTFOUND;
        if (fence_key && res->n_responses >= 1) {
            const dc_response *r0 = &res->responses[0];
            if (r0->n_kvs == 0 || r0->kvs[0].create_revision != fence_rev) rc = DC_ECHANGED;
        }
    }
    dc_txn_result_free(res);
    dc_txn_free(t);
    free(json);
    free(ans_key);
    return rc;
}
