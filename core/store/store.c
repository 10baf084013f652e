/*
 * The public store API: argument checks that every backend shares, then one
 * call into the driver table. Keeping validation here means every backend
 * rejects the same bad input with the same code, and drivers only deal with
 * requests that are well-formed.
 *
 * Reset detection lives here too, once for every backend (docs/DESIGN.md,
 * "Resets"): each call reads the handle's high-water revision before it asks
 * the driver, and an answer below it means the history went backwards. Only
 * what was known *before* asking counts: another thread's write may complete
 * (and raise the mark) while this call's older answer is on its way. A
 * poisoned handle answers every call with DC_ERESET without asking.
 */
#include "internal.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "uri.h"

/* What drivers read is marked: a key nobody reads is reported at open. */
static const char *cfg_get(const dc_config *cfg, const char *key)
{
    dc__config_mark(cfg, key);
    return dc_config_get(cfg, key);
}

static int64_t cfg_get_int(const dc_config *cfg, const char *key, int64_t def)
{
    dc__config_mark(cfg, key);
    return dc_config_get_int(cfg, key, def);
}

static int cfg_int(const dc_config *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                   int64_t *out, char *err, size_t errlen)
{
    dc__config_mark(cfg, key);
    int rc = dc_config_int(cfg, key, def, lo, hi, out);
    if (rc != DC_OK && err && errlen) snprintf(err, errlen, "%s", dc_last_error());
    return rc;
}

static const dc_host host = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_host),
    .config_get = cfg_get,
    .config_get_int = cfg_get_int,
    .log = dc_log,
    .watch_push = dc__watch_push,
    .watch_fail = dc__watch_fail,
    .config_int = cfg_int,
};

const dc_host *dc__host(void)
{
    return &host;
}

/* ---------------------------------------------------------------- resets */

int64_t dc__high_rev(dc_store *s)
{
    return atomic_load(&s->high_rev);
}

void dc__note_rev(dc_store *s, int64_t rev)
{
    int64_t cur = atomic_load(&s->high_rev);
    while (rev > cur && !atomic_compare_exchange_weak(&s->high_rev, &cur, rev)) {
    }
}

int dc__check_poison(dc_store *s)
{
    if (!atomic_load(&s->poisoned)) return DC_OK;
    return dc__error(DC_ERESET,
                     "%s: this handle saw the store's history reset (%s); close it and open a "
                     "new one",
                     s->scheme, s->poison_msg);
}

int dc__poison(dc_store *s, const char *why)
{
    pthread_mutex_lock(&s->err_mu);
    int first = !atomic_load(&s->poisoned);
    if (first) {
        snprintf(s->poison_msg, sizeof s->poison_msg, "%s", why);
        atomic_store(&s->poisoned, 1);
    }
    pthread_mutex_unlock(&s->err_mu);
    if (first) {
        dc_log(DC_LOG_ERROR, s->scheme,
               "store history was reset: %s; every call on this handle now fails with "
               "DC_ERESET until it is closed and opened again",
               why);
        dc__watches_end(s, DC_ERESET, why);
    }
    char msg[640];
    snprintf(msg, sizeof msg, "store history was reset: %s", why);
    return dc__error_store(s, DC_ERESET, "%s", msg);
}

/* An answer at revision rev, to a call that started when the handle knew h0. */
static int check_rev(dc_store *s, int64_t h0, int64_t rev, const char *what)
{
    if (rev >= h0) {
        dc__note_rev(s, rev);
        return DC_OK;
    }
    char why[256];
    snprintf(why, sizeof why,
             "%s answered at revision %lld, but this handle had seen revision %lld", what,
             (long long)rev, (long long)h0);
    return dc__poison(s, why);
}

/* Record a driver failure on the store and the thread, and log it once. */
static int drv_fail(dc_store *s, int rc, const dc_drv_err *err, const char *what)
{
    const char *msg = err->msg[0] ? err->msg : dc_strerror(rc);
    if (rc == DC_ERESET) return dc__poison(s, msg);
    if (rc != DC_ENOTFOUND && rc != DC_ECOMPACTED && rc != DC_ETIMEDOUT)
        dc_log(DC_LOG_WARN, s->scheme, "%s failed: %s (%s)", what, msg, dc_errname(rc));
    return dc__error_store(s, rc, "%s", msg);
}

/* A driver said "future revision" (DC_EINVAL) about revision, which this
 * handle had seen before (h0): the store went back. */
static int future_rev(dc_store *s, int rc, int64_t revision, int64_t h0, const dc_drv_err *err,
                      const char *what)
{
    if (rc == DC_EINVAL && revision <= h0) {
        char why[640];
        snprintf(why, sizeof why,
                 "%s: revision %lld is in the future for the store (%s), but "
                 "this handle had seen revision %lld",
                 what, (long long)revision, err->msg, (long long)h0);
        return dc__poison(s, why);
    }
    return drv_fail(s, rc, err, what);
}

int dc_store_open(const char *uri, dc_store **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_store_open: out is NULL");
    *out = NULL;
    if (!uri || !*uri) return dc__error(DC_EINVAL, "dc_store_open: no URI");
    dc_config *cfg = dc_config_new();
    if (!cfg || dc_config_set(cfg, "uri", uri) != DC_OK) {
        dc_config_free(cfg);
        return dc__nomem(NULL);
    }
    int rc = dc_store_open_config(cfg, out);
    dc_config_free(cfg);
    return rc;
}

/* The integer keys every backend shares, checked once here so that a typo
 * or an overflow fails the open, naming the key (drivers check their own). */
static const struct {
    const char *key;
    int64_t min, max;
} int_keys[] = {
    {"connect_timeout_ms", 1, 86400000},
    {"request_timeout_ms", 1, 86400000},
    {"max_txn_ops", 1, 1000000},
    {"max_value_bytes", 0, INT32_MAX},
};

/* Every key the core knows (config.h documents them); drivers add theirs by
 * reading them through the host table. */
static const char *const core_keys[] = {
    "uri",         "namespace",       "driver_dir", "username",           "password",
    "tls_ca",      "tls_cert",        "tls_key",    "connect_timeout_ms", "request_timeout_ms",
    "max_txn_ops", "max_value_bytes", NULL,
};

static int check_int_keys(const dc_config *cfg)
{
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
        int64_t v;
        int rc = dc_config_int(cfg, int_keys[i].key, 0, int_keys[i].min, int_keys[i].max, &v);
        if (rc != DC_OK) return rc;
    }
    return DC_OK;
}

int dc_store_open_config(const dc_config *in, dc_store **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_store_open_config: out is NULL");
    *out = NULL;
    const char *uri = dc_config_get(in, "uri");
    if (!uri || !*uri) return dc__error(DC_EINVAL, "configuration has no store uri");

    dc_uri u;
    char perr[256];
    int prc = dc__uri_parse(uri, &u, perr, sizeof perr);
    if (prc) {
        dc__uri_free(&u);
        return dc__error(prc == -2 ? DC_ENOMEM : DC_EINVAL, "store uri: %s", perr);
    }
    dc_store *s = calloc(1, sizeof *s);
    dc_config *cfg = s ? dc_config_dup(in) : NULL;
    int rc = s && cfg ? DC_OK : DC_ENOMEM;
    for (size_t i = 0; rc == DC_OK && i < u.n_params; i++)
        rc = dc__config_set_from(cfg, u.params[i].key, u.params[i].value, DC__ORIGIN_URI);
    if (rc == DC_OK && u.user && !dc_config_get(cfg, "username"))
        rc = dc__config_set_from(cfg, "username", u.user, DC__ORIGIN_URI);
    if (rc == DC_OK && u.password && !dc_config_get(cfg, "password"))
        rc = dc__config_set_from(cfg, "password", u.password, DC__ORIGIN_URI);
    if (rc != DC_OK) {
        dc__uri_free(&u);
        dc_config_free(cfg);
        free(s);
        return dc__nomem(NULL);
    }
    if ((rc = check_int_keys(cfg)) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_log(DC_LOG_ERROR, "store", "%s", msg);
        dc__uri_free(&u);
        dc_config_free(cfg);
        free(s);
        return dc__error(rc, "%s", msg);
    }
    snprintf(s->scheme, sizeof s->scheme, "%s", u.scheme);
    dc__uri_free(&u);
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
        char shown[256];
        dc_log(DC_LOG_ERROR, s->scheme, "open %s failed: %s (%s)",
               dc__uri_redact(uri, shown, sizeof shown), err.msg[0] ? err.msg : dc_strerror(rc),
               dc_errname(rc));
        dc__error(rc, "%s", err.msg[0] ? err.msg : dc_strerror(rc));
        s->conn = NULL;
        dc_store_close(s);
        return rc;
    }
    /* now that the driver has read what it knows: nobody reads a typo */
    char base[32];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(s->scheme, "+"), s->scheme);
    if ((rc = dc__config_unread(cfg, base, core_keys)) != DC_OK) {
        dc_log(DC_LOG_ERROR, s->scheme, "%s", dc_last_error());
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_store_close(s);
        return dc__error(rc, "%s", msg);
    }
    *out = s;
    return DC_OK;
}

int dc_store_reopen(const dc_store *s, dc_store **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_store_reopen: out is NULL");
    *out = NULL;
    if (!s) return dc__error(DC_EINVAL, "dc_store_reopen: no store");
    return dc_store_open_config(s->cfg, out);
}

void dc_store_close(dc_store *s)
{
    if (!s) return;
    dc__watches_detach(s);
    if (s->conn) s->drv->close(s->conn);
    if (s->dl) dlclose(s->dl);
    dc_config_free(s->cfg);
    pthread_mutex_destroy(&s->err_mu);
    pthread_mutex_destroy(&s->watch_mu);
    free(s);
}

char *dc_uri_redact(const char *uri, char *buf, size_t len)
{
    return dc__uri_redact(uri, buf, len);
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
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_kvs *r = calloc(1, sizeof *r);
    if (!r) return dc__nomem_store(s, NULL);
    dc_op op = {.kind = DC_OP_GET,
                .key = key ? key : "",
                .key_len = key_len,
                .limit = limit,
                .flags = flags};
    dc_drv_err err = {{0}, 0};
    int64_t h0 = dc__high_rev(s), t0 = dc__now_us();
    rc = s->drv->get(s->conn, &op, r, &err);
    dc__stats_note(s, DC_CALL_GET, t0, rc);
    if (rc == DC_OK)
        rc = check_rev(s, h0, r->revision, "a read");
    else
        rc = drv_fail(s, rc, &err, "get");
    if (rc != DC_OK) {
        dc_kvs_free(r);
        return rc;
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

/* Paged reads with a driver built before ABI 2: one full prefix read,
 * returned as a single page (whatever the limit), if it is at the revision
 * asked for. */
static int page_fallback(dc_store *s, const dc_page_req *req, dc_kvs *r, dc_drv_err *err)
{
    dc_op op = {.kind = DC_OP_GET,
                .key = req->prefix,
                .key_len = req->prefix_len,
                .flags = DC_PREFIX | (req->flags & DC_KEYS_ONLY)};
    int rc = s->drv->get(s->conn, &op, r, err);
    if (rc != DC_OK) return rc;
    if (req->revision && r->revision != req->revision) {
        if (req->revision > r->revision) {
            snprintf(err->msg, sizeof err->msg, "%s: revision %lld is in the future (current %lld)",
                     s->scheme, (long long)req->revision, (long long)r->revision);
            return DC_EINVAL;
        }
        snprintf(err->msg, sizeof err->msg,
                 "%s: the driver plugin (%s) predates paged reads and cannot read the past "
                 "revision %lld (current %lld)",
                 s->scheme, s->drv->version ? s->drv->version : "?", (long long)req->revision,
                 (long long)r->revision);
        return DC_EUNSUPPORTED;
    }
    size_t skip = 0;
    while (req->after_len && skip < r->n &&
           dc__key_cmp(r->kvs[skip].key, r->kvs[skip].key_len, req->after, req->after_len) <= 0)
        skip++;
    for (size_t i = 0; i < skip; i++) dc__kv_clear(&r->kvs[i]);
    if (skip) memmove(r->kvs, r->kvs + skip, (r->n - skip) * sizeof *r->kvs);
    r->n -= skip;
    r->count = (int64_t)r->n;
    r->more = 0;
    return DC_OK;
}

/* The driver's page must be what was asked for: a bug there would make a
 * rebuild skip or repeat keys, so it is checked here, once, for all. */
static int page_sane(const dc_page_req *req, const dc_kvs *r, int limited, char *why, size_t len)
{
    if (req->revision && r->revision != req->revision) {
        snprintf(why, len, "the page is at revision %lld, not %lld", (long long)r->revision,
                 (long long)req->revision);
        return 0;
    }
    if (limited && (int64_t)r->n > req->limit) {
        snprintf(why, len, "the page has %zu keys, limit %lld", r->n, (long long)req->limit);
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        const dc_kv *kv = &r->kvs[i];
        if (!dc__key_has_prefix(kv->key, kv->key_len, req->prefix, req->prefix_len) ||
            (req->after_len &&
             dc__key_cmp(kv->key, kv->key_len, req->after, req->after_len) <= 0) ||
            (i &&
             dc__key_cmp(r->kvs[i - 1].key, r->kvs[i - 1].key_len, kv->key, kv->key_len) >= 0)) {
            snprintf(why, len, "key %zu of the page is out of order or out of range", i);
            return 0;
        }
    }
    return 1;
}

int dc_get_page(dc_store *s, const void *prefix, size_t prefix_len, const void *after,
                size_t after_len, int64_t revision, int64_t limit, unsigned flags, dc_kvs **out)
{
    if (!s || !out) return dc__error(DC_EINVAL, "dc_get_page: NULL argument");
    *out = NULL;
    if ((!prefix && prefix_len) || (!after && after_len))
        return dc__error_store(s, DC_EINVAL, "dc_get_page: NULL prefix or after");
    if (flags & ~DC_KEYS_ONLY)
        return dc__error_store(s, DC_EINVAL, "dc_get_page: invalid flags 0x%x", flags);
    if (limit < 1)
        return dc__error_store(s, DC_EINVAL, "dc_get_page: limit %lld < 1", (long long)limit);
    if (revision < 0)
        return dc__error_store(s, DC_EINVAL, "dc_get_page: negative revision %lld",
                               (long long)revision);
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_page_req req = {.prefix = prefix ? prefix : "",
                       .prefix_len = prefix_len,
                       .after = after_len ? after : NULL,
                       .after_len = after_len,
                       .revision = revision,
                       .limit = limit,
                       .flags = flags};
    /* a bound before the prefix bounds nothing */
    if (after_len && dc__key_cmp(after, after_len, req.prefix, prefix_len) < 0) {
        req.after = NULL;
        req.after_len = 0;
    }
    dc_kvs *r = calloc(1, sizeof *r);
    if (!r) return dc__nomem_store(s, NULL);
    dc_get_page_fn fn = dc__drv_get_page(s->drv);
    dc_drv_err err = {{0}, 0};
    int64_t h0 = dc__high_rev(s), t0 = dc__now_us();
    rc = fn ? fn(s->conn, &req, r, &err) : page_fallback(s, &req, r, &err);
    dc__stats_note(s, DC_CALL_GET_PAGE, t0, rc);
    if (rc == DC_OK) {
        char why[160];
        if (!page_sane(&req, r, fn != NULL, why, sizeof why)) {
            dc_log(DC_LOG_ERROR, s->scheme, "paged read: the driver broke its contract: %s", why);
            rc = dc__error_store(s, DC_EINTERNAL, "%s: paged read: %s", s->scheme, why);
        } else if (revision == 0) {
            rc = check_rev(s, h0, r->revision, "a paged read");
        }
        r->count = (int64_t)r->n;
    } else if (revision > 0) {
        rc = future_rev(s, rc, revision, h0, &err, "paged read");
    } else {
        rc = drv_fail(s, rc, &err, "paged read");
    }
    if (rc != DC_OK) {
        dc_kvs_free(r);
        return rc;
    }
    *out = r;
    return DC_OK;
}

/* ---------------------------------------------------------------- writes */

/* Run a validated txn through the driver, with the reset checks. */
static int run_txn(dc_store *s, const dc_txn_req *req, dc_txn_result *res, const char *what)
{
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_drv_err err = {{0}, 0};
    int64_t h0 = dc__high_rev(s), t0 = dc__now_us();
    rc = s->drv->txn(s->conn, req, res, &err);
    dc__stats_note(s, DC_CALL_TXN, t0, rc);
    if (rc == DC_OK)
        rc = check_rev(s, h0, res->revision, what);
    else
        rc = drv_fail(s, rc, &err, what);
    if (rc != DC_OK) dc__txn_result_clear(res);
    return rc;
}

static int single_op(dc_store *s, dc_op *op, dc_txn_result *res, const char *what)
{
    dc_txn_req req = {0};
    req.ops[DC_THEN] = op;
    req.n_ops[DC_THEN] = 1;
    return run_txn(s, &req, res, what);
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
    dc__txn_result_clear(&res);
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
    dc__txn_result_clear(&res);
    return rc;
}

int dc_compact(dc_store *s, int64_t revision)
{
    if (!s) return dc__error(DC_EINVAL, "dc_compact: NULL store");
    if (revision < 1)
        return dc__error_store(s, DC_EINVAL, "dc_compact: revision %lld < 1", (long long)revision);
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_drv_err err = {{0}, 0};
    int64_t h0 = dc__high_rev(s), t0 = dc__now_us();
    rc = s->drv->compact(s->conn, revision, &err);
    dc__stats_note(s, DC_CALL_COMPACT, t0, rc);
    return rc == DC_OK ? DC_OK : future_rev(s, rc, revision, h0, &err, "compact");
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
    if (!r) return dc__nomem_store(s, NULL);
    rc = run_txn(s, &req, r, "txn");
    if (rc != DC_OK) {
        free(r);
        return rc;
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
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_drv_err err = {{0}, 0};
    int64_t g = 0;
    int64_t t0 = dc__now_us();
    rc = s->drv->lease_grant(s->conn, ttl, id, &g, &err);
    dc__stats_note(s, DC_CALL_LEASE_GRANT, t0, rc);
    if (rc != DC_OK) return drv_fail(s, rc, &err, "lease grant");
    if (granted) *granted = g;
    return DC_OK;
}

int dc_lease_keepalive(dc_store *s, int64_t id, int64_t *ttl)
{
    if (!s) return dc__error(DC_EINVAL, "dc_lease_keepalive: NULL store");
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_drv_err err = {{0}, 0};
    int64_t t = 0;
    int64_t t0 = dc__now_us();
    rc = s->drv->lease_keepalive(s->conn, id, &t, &err);
    dc__stats_note(s, DC_CALL_LEASE_KEEPALIVE, t0, rc);
    if (rc != DC_OK) return drv_fail(s, rc, &err, "lease keepalive");
    if (ttl) *ttl = t;
    return DC_OK;
}

int dc_lease_revoke(dc_store *s, int64_t id)
{
    if (!s) return dc__error(DC_EINVAL, "dc_lease_revoke: NULL store");
    int rc = dc__check_poison(s);
    if (rc != DC_OK) return rc;
    dc_drv_err err = {{0}, 0};
    int64_t t0 = dc__now_us();
    rc = s->drv->lease_revoke(s->conn, id, &err);
    dc__stats_note(s, DC_CALL_LEASE_REVOKE, t0, rc);
    return rc == DC_OK ? DC_OK : drv_fail(s, rc, &err, "lease revoke");
}

/* ---------------------------------------------------------------- results */

void dc_kvs_free(dc_kvs *kvs)
{
    if (!kvs) return;
    dc__kvs_clear(kvs);
    free(kvs);
}

void dc_events_free(dc_events *ev)
{
    if (!ev) return;
    dc__event_array_free(ev->events, ev->n);
    free(ev);
}

void dc_txn_result_free(dc_txn_result *r)
{
    if (!r) return;
    dc__txn_result_clear(r);
    free(r);
}
