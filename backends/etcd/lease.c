/*
 * Leases through /v3/lease/grant, /keepalive and /revoke.
 *
 * Lease IDs exceed 2^53, so they only ever travel as strings (json.c).
 * KeepAlive is a bidirectional stream in gRPC, but over the gateway the
 * server ends the stream when the request body ends: one POST refreshes the
 * lease once and answers one {"result":{…}} line, whose missing TTL means
 * the lease is gone. The caller (dc_lease_keepalive, typically from the
 * keeper's own thread) repeats it every TTL/3; the driver does not renew
 * leases on its own, because a lease the application stopped refreshing
 * must expire (the contract's expiry events depend on it).
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *id_req(int64_t id)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || etcd_add_i64(o, "ID", id)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int etcd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    etcd_conn *c = conn;
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    if (!req || etcd_add_i64(req, "TTL", ttl)) {
        cJSON_Delete(req);
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a lease request");
    }
    int rc = etcd_call(c, "/v3/lease/grant", req, ETCD_WRITE, &resp, err);
    cJSON_Delete(req);
    if (rc != DC_OK) return rc;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
    if (cJSON_IsString(e) && *e->valuestring) {
        rc = etcd_err(c, err, DC_EINVAL, "lease grant: %s", e->valuestring);
    } else if (etcd_get_i64(resp, "ID", id) || etcd_get_i64(resp, "TTL", granted) || *id == 0) {
        c->host->log(DC_LOG_ERROR, "etcd", "%s: malformed lease grant answer", c->label);
        rc = etcd_err(c, err, DC_EUNKNOWN, "malformed lease grant answer (no usable ID)");
    }
    cJSON_Delete(resp);
    return rc;
}

int etcd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    etcd_conn *c = conn;
    cJSON *req = id_req(id), *resp = NULL;
    if (!req) return etcd_err(c, err, DC_ENOMEM, "out of memory building a keepalive");
    /* Refreshing twice is harmless: a keepalive may be retried elsewhere. */
    int rc = etcd_call(c, "/v3/lease/keepalive", req, ETCD_READ, &resp, err);
    cJSON_Delete(req);
    if (rc != DC_OK) return rc;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
    const cJSON *serr = cJSON_GetObjectItemCaseSensitive(resp, "error");
    int64_t got = 0;
    if (cJSON_IsObject(serr)) {
        /* A streaming call reports errors in-band: {"error":{"message":…}}. */
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(serr, "message");
        cJSON *flat = cJSON_CreateObject();
        if (flat && cJSON_IsString(m)) cJSON_AddStringToObject(flat, "error", m->valuestring);
        int retry, reauth;
        rc = etcd_map_error(200, flat, ETCD_READ, &retry, &reauth);
        cJSON_Delete(flat);
        if (rc == DC_EUNKNOWN) rc = DC_EUNAVAILABLE;
        etcd_err(c, err, rc, "keepalive of lease %lld: %s", (long long)id,
                 cJSON_IsString(m) ? m->valuestring : "error without a message");
    } else if (!cJSON_IsObject(res) || etcd_get_i64(res, "TTL", &got)) {
        c->host->log(DC_LOG_ERROR, "etcd", "%s: malformed keepalive answer", c->label);
        rc = etcd_err(c, err, DC_ECORRUPT, "malformed keepalive answer for lease %lld",
                      (long long)id);
    } else if (got <= 0) {
        rc = etcd_err(c, err, DC_ENOTFOUND, "lease %lld not found (expired or revoked)",
                      (long long)id);
    } else {
        *ttl = got;
    }
    cJSON_Delete(resp);
    return rc;
}

int etcd_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    etcd_conn *c = conn;
    cJSON *req = id_req(id), *resp = NULL;
    if (!req) return etcd_err(c, err, DC_ENOMEM, "out of memory building a revoke");
    int rc = etcd_call(c, "/v3/lease/revoke", req, ETCD_WRITE, &resp, err);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    if (rc == DC_ENOTFOUND)
        etcd_err(c, err, rc, "lease %lld not found (expired or revoked)", (long long)id);
    return rc;
}
