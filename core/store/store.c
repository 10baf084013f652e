/*
 * The public store API: argument checks that every backend shares, then one
 * call into the driver table. Keeping validation here means every backend
 * rejects the same bad input with the same code, and drivers only deal with
 * requests that are well-formed.
 */
#include "internal.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "uri.h"

static const char *cfg_get(const dc_config *cfg, const char *key)
{
    return dc_config_get(cfg, key);
}

static int64_t cfg_get_int(const dc_config *cfg, const char *key, int64_t def)
{
    return dc_config_get_int(cfg, key, def);
}

static const dc_host host = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_host),
    .config_get = cfg_get,
    .config_get_int = cfg_get_int,
    .log = dc_log,
    .watch_push = dc__watch_push,
    .watch_fail = dc__watch_fail,
};

const dc_host *dc__host(void)
{
    return &host;
}

/* Record a driver failure on the store and the thread, and log it once. */
static int drv_fail(dc_store *s, int rc, const dc_drv_err *err, const char *what)
{
    const char *msg = err->msg[0] ? err->msg : dc_strerror(rc);
    if (rc != DC_ENOTFOUND && rc != DC_ECOMPACTED && rc != DC_ETIMEDOUT)
        dc_log(DC_LOG_WARN, s->scheme, "%s failed: %s (%s)", what, msg, dc_errname(rc));
    return dc__error_store(s, rc, "%s", msg);
}

int dc_store_open(const char *uri, dc_store **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_store_open: out is NULL");
    *out = NULL;
    if (!uri || !*uri) return dc__error(DC_EINVAL, "dc_store_open: no URI");
    dc_config *cfg = dc_config_new();
    if (!cfg || dc_config_set(cfg, "uri", uri) != DC_OK) {
        dc_config_free(cfg);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    int rc = dc_store_open_config(cfg, out);
    dc_config_free(cfg);
    return rc;
}

int dc_store_open_config(const dc_config *in, dc_store **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_store_open_config: out is NULL");
    *out = NULL;
    const char *uri = dc_config_get(in, "uri");
    if (!uri || !*uri) return dc__error(DC_EINVAL, "configuration has no store uri");

    dc_uri u;
    char perr[256];
    int prc = dc_uri_parse(uri, &u, perr, sizeof perr);
    if (prc) {
        dc_uri_free(&u);
        return dc__error(prc == -2 ? DC_ENOMEM : DC_EINVAL, "store uri: %s", perr);
    }
    dc_store *s = calloc(1, sizeof *s);
    dc_config *cfg = s ? dc_config_dup(in) : NULL;
    int rc = s && cfg ? DC_OK : DC_ENOMEM;
    for (size_t i = 0; rc == DC_OK && i < u.n_params; i++)
        rc = dc_config_set(cfg, u.params[i].key, u.params[i].value);
    if (rc == DC_OK && u.user && !dc_config_get(cfg, "username"))
        rc = dc_config_set(cfg, "username", u.user);
    if (rc == DC_OK && u.password && !dc_config_get(cfg, "password"))
        rc = dc_config_set(cfg, "password", u.password);
    if (rc != DC_OK) {
        dc_uri_free(&u);
        dc_config_free(cfg);
        free(s);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    snprintf(s->scheme, sizeof s->scheme, "%s", u.scheme);
    dc_uri_free(&u);
    s->cfg = cfg;
    pthread_mutex_init(&s->err_mu, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);

    if (strcmp(s->scheme, "mem") == 0) {
        s->drv = dc__mem_driver();
    } else {
        rc = dc__load_driver(s->scheme, cfg, &s->drv, &s->dl);
        if (rc != DC_OK) {
            dc_log(DC_LOG_ERROR, "store", "%s", dc_last_error());
            dc_store_close(s);
            return rc;
        }
    }
    dc_drv_err err = {{0}, 0};
    rc = s->drv->open(&host, uri, cfg, &s->conn, &err);
    if (rc != DC_OK) {
        dc_log(DC_LOG_ERROR, s->scheme, "open %s failed: %s (%s)", uri,
               err.msg[0] ? err.msg : dc_strerror(rc), dc_errname(rc));
        dc__error(rc, "%s", err.msg[0] ? err.msg : dc_strerror(rc));
        s->conn = NULL;
        dc_store_close(s);
        return rc;
    }
    *out = s;
    return DC_OK;
}

void dc_store_close(dc_store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->watch_mu);
    while (s->watches) dc__watch_detach(s->watches);
    pthread_mutex_unlock(&s->watch_mu);
    if (s->conn) s->drv->close(s->conn);
    if (s->dl) dlclose(s->dl);
    dc_config_free(s->cfg);
    pthread_mutex_destroy(&s->err_mu);
    pthread_mutex_destroy(&s->watch_mu);
    free(s);
}

const char *dc_store_backend(const dc_store *s)
{
    return s ? s->scheme : "";
}

const char *dc_store_errmsg(dc_store *s, char *buf, size_t len)
{
    if (!buf || !len) return "";
    buf[0] = '\0';
    if (!s) return buf;
    pthread_mutex_lock(&s->err_mu);
    snprintf(buf, len, "%s", s->errmsg);
    pthread_mutex_unlock(&s->err_mu);
    return buf;
}

/* ---------------------------------------------------------------- reads */

int dc_get(dc_store *s, const void *key, size_t key_len, unsigned flags, int64_t limit,
           dc_kvs **out)
{
    if (!s || !out) return dc__error(DC_EINVAL, "dc_get: NULL argument");
    *out = NULL;
    if (flags & ~(DC_PREFIX | DC_KEYS_ONLY | DC_COUNT_ONLY))
        return dc__error_store(s, DC_EINVAL, "dc_get: invalid flags 0x%x", flags);
    if ((!key && key_len) || (key_len == 0 && !(flags & DC_PREFIX)))
        return dc__error_store(s, DC_EINVAL, "dc_get: empty key");
    if (limit < 0) return dc__error_store(s, DC_EINVAL, "dc_get: negative limit");
    dc_kvs *r = calloc(1, sizeof *r);
    if (!r) return dc__error_store(s, DC_ENOMEM, "out of memory");
    dc_op op = {.kind = DC_OP_GET,
                .key = key ? key : "",
                .key_len = key_len,
                .limit = limit,
                .flags = flags};
    dc_drv_err err = {{0}, 0};
    int rc = s->drv->get(s->conn, &op, r, &err);
    if (rc != DC_OK) {
        dc_kvs_free(r);
        return drv_fail(s, rc, &err, "get");
    }
    *out = r;
    return DC_OK;
}

int dc_revision(dc_store *s, int64_t *revision)
{
    dc_kvs *r;
    /* a count-only read of one improbable key is the cheapest read every backend has */
    int rc = dc_get(s, "\0ddlcoord-revision-probe", 24, DC_COUNT_ONLY, 0, &r);
    if (rc != DC_OK) return rc;
    if (revision) *revision = r->revision;
    dc_kvs_free(r);
    return DC_OK;
}

/* ---------------------------------------------------------------- writes */

static int single_op(dc_store *s, dc_op *op, dc_txn_result *res, const char *what)
{
    dc_txn_req req = {0};
    req.ops[DC_THEN] = op;
    req.n_ops[DC_THEN] = 1;
    dc_drv_err err = {{0}, 0};
    int rc = s->drv->txn(s->conn, &req, res, &err);
    if (rc != DC_OK) {
        dc_txn_result_clear(res);
        return drv_fail(s, rc, &err, what);
    }
    return DC_OK;
}

int dc_put(dc_store *s, const void *key, size_t key_len, const void *value, size_t value_len,
           int64_t lease, int64_t *revision)
{
    if (!s) return dc__error(DC_EINVAL, "dc_put: NULL store");
    if (!key || !key_len) return dc__error_store(s, DC_EINVAL, "dc_put: empty key");
    if (!value && value_len) return dc__error_store(s, DC_EINVAL, "dc_put: NULL value");
    if (lease < 0) return dc__error_store(s, DC_EINVAL, "dc_put: negative lease");
    dc_op op = {.kind = DC_OP_PUT,
                .key = key,
                .key_len = key_len,
                .value = value ? value : "",
                .value_len = value_len,
                .lease = lease};
    dc_txn_result res = {0};
    int rc = single_op(s, &op, &res, "put");
    if (rc == DC_OK && revision) *revision = res.revision;
    dc_txn_result_clear(&res);
    return rc;
}

int dc_delete(dc_store *s, const void *key, size_t key_len, unsigned flags, int64_t *deleted,
              int64_t *revision)
{
    if (!s) return dc__error(DC_EINVAL, "dc_delete: NULL store");
    if (flags & ~DC_PREFIX)
        return dc__error_store(s, DC_EINVAL, "dc_delete: invalid flags 0x%x", flags);
    if (!key || !key_len) return dc__error_store(s, DC_EINVAL, "dc_delete: empty key");
    dc_op op = {.kind = DC_OP_DELETE, .key = key, .key_len = key_len, .flags = flags};
    dc_txn_result res = {0};
    int rc = single_op(s, &op, &res, "delete");
    if (rc == DC_OK) {
        if (deleted) *deleted = res.n_responses ? res.responses[0].deleted : 0;
        if (revision) *revision = res.revision;
    }
    dc_txn_result_clear(&res);
    return rc;
}

int dc_compact(dc_store *s, int64_t revision)
{
    if (!s) return dc__error(DC_EINVAL, "dc_compact: NULL store");
    if (revision < 1)
        return dc__error_store(s, DC_EINVAL, "dc_compact: revision %lld < 1", (long long)revision);
    dc_drv_err err = {{0}, 0};
    int rc = s->drv->compact(s->conn, revision, &err);
    return rc == DC_OK ? DC_OK : drv_fail(s, rc, &err, "compact");
}

int dc_txn_commit(dc_store *s, dc_txn *txn, dc_txn_result **out)
{
    if (!s || !txn || !out) return dc__error(DC_EINVAL, "dc_txn_commit: NULL argument");
    *out = NULL;
    dc_txn_req req;
    int rc = dc__txn_request(txn, &req);
    if (rc != DC_OK) {
        /* copy first: the detail lives in the buffer dc__error_store writes */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc__error_store(s, rc, "%s", msg);
    }
    dc_txn_result *r = calloc(1, sizeof *r);
    if (!r) return dc__error_store(s, DC_ENOMEM, "out of memory");
    dc_drv_err err = {{0}, 0};
    rc = s->drv->txn(s->conn, &req, r, &err);
    if (rc != DC_OK) {
        dc_txn_result_free(r);
        return drv_fail(s, rc, &err, "txn");
    }
    *out = r;
    return DC_OK;
}

/* ---------------------------------------------------------------- leases */

int dc_lease_grant(dc_store *s, int64_t ttl, int64_t *id, int64_t *granted)
{
    if (!s || !id) return dc__error(DC_EINVAL, "dc_lease_grant: NULL argument");
    if (ttl < 1)
        return dc__error_store(s, DC_EINVAL, "dc_lease_grant: ttl %lld < 1", (long long)ttl);
    dc_drv_err err = {{0}, 0};
    int64_t g = 0;
    int rc = s->drv->lease_grant(s->conn, ttl, id, &g, &err);
    if (rc != DC_OK) return drv_fail(s, rc, &err, "lease grant");
    if (granted) *granted = g;
    return DC_OK;
}

int dc_lease_keepalive(dc_store *s, int64_t id, int64_t *ttl)
{
    if (!s) return dc__error(DC_EINVAL, "dc_lease_keepalive: NULL store");
    dc_drv_err err = {{0}, 0};
    int64_t t = 0;
    int rc = s->drv->lease_keepalive(s->conn, id, &t, &err);
    if (rc != DC_OK) return drv_fail(s, rc, &err, "lease keepalive");
    if (ttl) *ttl = t;
    return DC_OK;
}

int dc_lease_revoke(dc_store *s, int64_t id)
{
    if (!s) return dc__error(DC_EINVAL, "dc_lease_revoke: NULL store");
    dc_drv_err err = {{0}, 0};
    int rc = s->drv->lease_revoke(s->conn, id, &err);
    return rc == DC_OK ? DC_OK : drv_fail(s, rc, &err, "lease revoke");
}

/* ---------------------------------------------------------------- results */

void dc_kvs_free(dc_kvs *kvs)
{
    if (!kvs) return;
    dc_kvs_clear(kvs);
    free(kvs);
}

void dc_events_free(dc_events *ev)
{
    if (!ev) return;
    dc_event_array_free(ev->events, ev->n);
    free(ev);
}

void dc_txn_result_free(dc_txn_result *r)
{
    if (!r) return;
    dc_txn_result_clear(r);
    free(r);
}
