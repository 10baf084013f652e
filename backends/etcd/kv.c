/*
 * Reads, writes, txns and compaction through /v3/kv/….
 *
 * etcd is the model of the store contract, so the mapping is direct: a get
 * is a RangeRequest (sorted by key by default), a txn a TxnRequest with one
 * Compare per compare and one RequestOp per op, and its answer's header
 * revision is the txn's revision (the current one when it wrote nothing).
 * A lone put or delete (how dc_put / dc_delete arrive) goes to /v3/kv/put
 * or /v3/kv/deleterange, whose answers have the same shape as the nested
 * ones of a txn. etcd enforces its own limits (128 ops per list, 1.5 MiB per
 * request) and those errors come back typed as DC_ETOOBIG.
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

/* ------------------------------------------------------------ requests */

static cJSON *range_req(const dc_op *op)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || etcd_add_key_range(o, op->key, op->key_len, op->flags & DC_PREFIX) ||
        (op->flags & DC_KEYS_ONLY && etcd_add_bool(o, "keys_only", 1)) ||
        (op->flags & DC_COUNT_ONLY && etcd_add_bool(o, "count_only", 1)) ||
        (op->limit > 0 && etcd_add_i64(o, "limit", op->limit))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *put_req(const dc_op *op)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || etcd_add_b64(o, "key", op->key, op->key_len) ||
        etcd_add_b64(o, "value", op->value, op->value_len) ||
        (op->lease && etcd_add_i64(o, "lease", op->lease)) ||
        (op->flags & DC_PREV_KV && etcd_add_bool(o, "prev_kv", 1))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *delete_req(const dc_op *op)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || etcd_add_key_range(o, op->key, op->key_len, op->flags & DC_PREFIX) ||
        (op->flags & DC_PREV_KV && etcd_add_bool(o, "prev_kv", 1))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char *const target_names[] = {"VALUE", "VERSION", "CREATE", "MOD", "LEASE"};
static const char *const number_fields[] = {"value", "version", "create_revision", "mod_revision",
                                            "lease"};
static const char *const result_names[] = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER"};

static cJSON *compare_req(const dc_compare *cmp)
{
    cJSON *o = cJSON_CreateObject();
    unsigned t = (unsigned)cmp->target, r = (unsigned)cmp->op;
    if (!o || t > DC_TARGET_LEASE || r > DC_CMP_GREATER ||
        etcd_add_b64(o, "key", cmp->key, cmp->key_len) ||
        !cJSON_AddStringToObject(o, "target", target_names[t]) ||
        !cJSON_AddStringToObject(o, "result", result_names[r]) ||
        (t == DC_TARGET_VALUE ? etcd_add_b64(o, "value", cmp->value, cmp->value_len)
                              : etcd_add_i64(o, number_fields[t], cmp->number))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *op_req(const dc_op *op)
{
    static const char *const names[] = {"request_range", "request_put", "request_delete_range"};
    cJSON *inner = op->kind == DC_OP_GET   ? range_req(op)
                   : op->kind == DC_OP_PUT ? put_req(op)
                                           : delete_req(op);
    cJSON *o = inner ? cJSON_CreateObject() : NULL;
    if (!o || !cJSON_AddItemToObject(o, names[op->kind], inner)) {
        cJSON_Delete(o);
        cJSON_Delete(inner);
        return NULL;
    }
    return o;
}

static cJSON *txn_req(const dc_txn_req *req)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cmps = cJSON_AddArrayToObject(o, "compare");
    cJSON *branches[2] = {cJSON_AddArrayToObject(o, "success"),
                          cJSON_AddArrayToObject(o, "failure")};
    if (!o || !cmps || !branches[0] || !branches[1]) goto fail;
    for (size_t i = 0; i < req->n_compares; i++) {
        cJSON *c = compare_req(&req->compares[i]);
        if (!c || !cJSON_AddItemToArray(cmps, c)) {
            cJSON_Delete(c);
            goto fail;
        }
    }
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++) {
            cJSON *op = op_req(&req->ops[b][i]);
            if (!op || !cJSON_AddItemToArray(branches[b], op)) {
                cJSON_Delete(op);
                goto fail;
            }
        }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ------------------------------------------------------------ answers */

/* Parse an array of KeyValue into a malloc'd dc_kv array. 0, -1, -2. */
static int parse_kvs(const cJSON *arr, dc_kv **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!arr) return 0;
    if (!cJSON_IsArray(arr)) return -1;
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    if (!cnt) return 0;
    dc_kv *kvs = calloc(cnt, sizeof *kvs);
    if (!kvs) return -2;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int rc = etcd_parse_kv(it, &kvs[i]);
        if (rc != 0) {
            for (size_t k = 0; k < i; k++) dc_kv_clear(&kvs[k]);
            free(kvs);
            return rc;
        }
        i++;
    }
    *out = kvs;
    *n = cnt;
    return 0;
}

/* A RangeResponse into the fields of a get result. */
static int parse_range(const cJSON *j, dc_kv **kvs, size_t *n, int64_t *count, int *more)
{
    int rc = parse_kvs(cJSON_GetObjectItemCaseSensitive(j, "kvs"), kvs, n);
    if (rc != 0) return rc;
    *more = etcd_get_bool(j, "more");
    if (etcd_get_i64(j, "count", count) != 0) return -1;
    return 0;
}

/* One ResponseOp (or a bare Put/DeleteRange answer) of the given kind. */
static int parse_response(const cJSON *j, dc_op_kind kind, dc_response *r)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    if (!cJSON_IsObject(j)) return -1;
    if (kind == DC_OP_GET) return parse_range(j, &r->kvs, &r->n_kvs, &r->count, &r->more);
    if (kind == DC_OP_DELETE) {
        if (etcd_get_i64(j, "deleted", &r->deleted) != 0) return -1;
        return parse_kvs(cJSON_GetObjectItemCaseSensitive(j, "prev_kvs"), &r->prev_kvs,
                         &r->n_prev_kvs);
    }
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(j, "prev_kv");
    if (!prev) return 0;
    r->prev_kvs = calloc(1, sizeof *r->prev_kvs);
    if (!r->prev_kvs) return -2;
    int rc = etcd_parse_kv(prev, r->prev_kvs);
    if (rc != 0) {
        free(r->prev_kvs);
        r->prev_kvs = NULL;
        return rc;
    }
    r->n_prev_kvs = 1;
    return 0;
}

static int corrupt(etcd_conn *c, dc_drv_err *err, int rc, int wrote, const char *what)
{
    if (rc == -2) return etcd_err(c, err, DC_ENOMEM, "out of memory reading the %s answer", what);
    c->host->log(DC_LOG_ERROR, "etcd", "%s: malformed %s answer from the server", c->label, what);
    /* A write's answer we cannot read leaves its effect unknown to the caller. */
    return etcd_err(c, err, wrote ? DC_EUNKNOWN : DC_ECORRUPT,
                    "malformed %s answer (bad base64, number or structure)", what);
}

/* ------------------------------------------------------------ operations */

int etcd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    etcd_conn *c = conn;
    cJSON *req = range_req(op), *resp = NULL;
    if (!req) return etcd_err(c, err, DC_ENOMEM, "out of memory building a range request");
    int rc = etcd_call(c, "/v3/kv/range", req, ETCD_READ, &resp, err);
    cJSON_Delete(req);
    if (rc != DC_OK) return rc;
    int prc = etcd_header_rev(resp, &out->revision);
    if (prc == 0) prc = parse_range(resp, &out->kvs, &out->n, &out->count, &out->more);
    cJSON_Delete(resp);
    if (prc != 0) {
        dc_kvs_clear(out);
        return corrupt(c, err, prc, 0, "range");
    }
    if (op->flags & DC_COUNT_ONLY) out->n = 0;
    return DC_OK;
}

/* dc_put / dc_delete: one op, no compares, served by the plain endpoints. */
static int single_write(etcd_conn *c, const dc_op *op, dc_txn_result *out, dc_drv_err *err)
{
    cJSON *req = op->kind == DC_OP_PUT ? put_req(op) : delete_req(op), *resp = NULL;
    if (!req) return etcd_err(c, err, DC_ENOMEM, "out of memory building a write request");
    const char *path = op->kind == DC_OP_PUT ? "/v3/kv/put" : "/v3/kv/deleterange";
    int rc = etcd_call(c, path, req, ETCD_WRITE, &resp, err);
    cJSON_Delete(req);
    if (rc != DC_OK) return rc;
    out->responses = calloc(1, sizeof *out->responses);
    int prc = out->responses ? etcd_header_rev(resp, &out->revision) : -2;
    if (prc == 0) prc = parse_response(resp, op->kind, &out->responses[0]);
    cJSON_Delete(resp);
    if (prc != 0) {
        dc_txn_result_clear(out);
        return corrupt(c, err, prc, 1, op->kind == DC_OP_PUT ? "put" : "delete");
    }
    out->n_responses = 1;
    out->succeeded = 1;
    return DC_OK;
}

static int has_writes(const dc_txn_req *req)
{
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind != DC_OP_GET) return 1;
    return 0;
}

int etcd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    etcd_conn *c = conn;
    if (req->n_compares == 0 && req->n_ops[DC_ELSE] == 0 && req->n_ops[DC_THEN] == 1 &&
        req->ops[DC_THEN][0].kind != DC_OP_GET)
        return single_write(c, &req->ops[DC_THEN][0], out, err);

    cJSON *body = txn_req(req), *resp = NULL;
    if (!body) return etcd_err(c, err, DC_ENOMEM, "out of memory building a txn request");
    int wrote = has_writes(req);
    int rc = etcd_call(c, "/v3/kv/txn", body, wrote ? ETCD_WRITE : ETCD_READ, &resp, err);
    cJSON_Delete(body);
    if (rc != DC_OK) {
        if (rc == DC_ETOOBIG) {
            char why[sizeof err->msg];
            const char *e = strstr(err->msg, "etcdserver:");
            if (!e) e = strstr(err->msg, "HTTP ");
            snprintf(why, sizeof why, "%s", e ? e : err->msg);
            etcd_err(c, err, rc, "txn of %zu compares and %zu/%zu ops rejected: %s",
                     req->n_compares, req->n_ops[0], req->n_ops[1], why);
        }
        return rc;
    }
    int prc = etcd_header_rev(resp, &out->revision);
    out->succeeded = etcd_get_bool(resp, "succeeded");
    int branch = out->succeeded ? DC_THEN : DC_ELSE;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(resp, "responses");
    size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
    if (prc == 0 && ((arr && !cJSON_IsArray(arr)) || n != req->n_ops[branch])) prc = -1;
    if (prc == 0 && n) {
        out->responses = calloc(n, sizeof *out->responses);
        if (!out->responses) prc = -2;
    }
    const cJSON *it;
    size_t i = 0;
    if (prc == 0) cJSON_ArrayForEach(it, arr)
        {
            static const char *const names[] = {"response_range", "response_put",
                                                "response_delete_range"};
            dc_op_kind kind = req->ops[branch][i].kind;
            prc = parse_response(cJSON_GetObjectItemCaseSensitive(it, names[kind]), kind,
                                 &out->responses[i]);
            out->n_responses = ++i;
            if (prc != 0) break;
        }
    cJSON_Delete(resp);
    if (prc != 0) {
        dc_txn_result_clear(out);
        return corrupt(c, err, prc, wrote, "txn");
    }
    return DC_OK;
}

int etcd_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    etcd_conn *c = conn;
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    if (!req || etcd_add_i64(req, "revision", revision)) {
        cJSON_Delete(req);
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a compaction request");
    }
    int rc = etcd_call(c, "/v3/kv/compaction", req, ETCD_WRITE, &resp, err);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    if (rc == DC_ECOMPACTED) {
        int64_t at = 0;
        dc_drv_err perr = {{0}, 0};
        if (etcd_compact_revision(c, &at, &perr) == DC_OK) err->compact_revision = at;
        etcd_err(c, err, rc, "revision %lld is already compacted (compact revision %lld)",
                 (long long)revision, (long long)at);
    }
    return rc;
}
