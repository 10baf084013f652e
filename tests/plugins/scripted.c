/*
 * A plugin built for ABI 1 (its table ends before get_page) whose answers
 * are scripted by the key asked for, so that the core's own logic can be
 * tested without a backend: the paged-read fallback for old plugins, and
 * reset detection (answers and watch events whose revisions go backwards).
 *   get of a prefix "p/": keys p/a, p/b, p/c at revision 7;
 *   get of the key "back": nothing, at revision 3; any other key: nothing at 7;
 *   a put: revision 8 (the key "old": revision 2);
 *   watch "dup": pushes revision 5, the same revision 5 again, then 6;
 *   watch "back": pushes 5, then 4;   watch "diff": pushes 5 (value a), then 5 (value b);
 *   watch "reset": ends itself with watch_fail(DC_ERESET);   any other: pushes nothing.
 * Watches push from inside watch_start, as mem:// does.
 */
#include <ddlcoord/driver.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dc_host *host;

static char *dup_bytes(const char *p, size_t n)
{
    char *o = malloc(n + 1);
    if (!o) return NULL;
    memcpy(o, p, n);
    o[n] = '\0';
    return o;
}

static int k_is(const char *key, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(key, want, len) == 0;
}

static int s_open(const dc_host *h, const char *uri, const dc_config *cfg, void **conn,
                  dc_drv_err *err)
{
    host = h;
    *conn = (void *)&host;
    return DC_OK;
}

static void s_close(void *conn)
{
}

static int s_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    out->revision = k_is(op->key, op->key_len, "back") ? 3 : 7;
    if (!(op->flags & DC_PREFIX) || !k_is(op->key, op->key_len, "p/")) return DC_OK;
    static const char *keys[] = {"p/a", "p/b", "p/c"};
    out->kvs = calloc(3, sizeof *out->kvs);
    if (!out->kvs) return DC_ENOMEM;
    for (int i = 0; i < 3; i++) {
        dc_kv *kv = &out->kvs[i];
        kv->key = dup_bytes(keys[i], 3);
        kv->value =
            dup_bytes(op->flags & DC_KEYS_ONLY ? "" : "v", op->flags & DC_KEYS_ONLY ? 0 : 1);
        if (!kv->key || !kv->value) return DC_ENOMEM;
        kv->key_len = 3;
        kv->value_len = op->flags & DC_KEYS_ONLY ? 0 : 1;
        kv->create_revision = kv->mod_revision = 2 + i;
        kv->version = 1;
        out->n++;
    }
    out->count = 3;
    return DC_OK;
}

static int s_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    const dc_op *op = req->n_ops[DC_THEN] ? &req->ops[DC_THEN][0] : NULL;
    out->succeeded = 1;
    out->revision = op && k_is(op->key, op->key_len, "old") ? 2 : 8;
    return DC_OK;
}

static int s_compact(void *conn, int64_t rev, dc_drv_err *err)
{
    snprintf(err->msg, sizeof err->msg, "scripted: revision %lld is in the future", (long long)rev);
    return DC_EINVAL;
}

/* Push one PUT event of key at rev with value. */
static int push(dc_watch_sink *sink, const char *key, int64_t rev, const char *value)
{
    dc_event *ev = calloc(1, sizeof *ev);
    if (!ev) return DC_ENOMEM;
    ev->type = DC_EVENT_PUT;
    ev->kv.key = dup_bytes(key, strlen(key));
    ev->kv.value = dup_bytes(value, strlen(value));
    ev->kv.key_len = strlen(key);
    ev->kv.value_len = strlen(value);
    ev->kv.create_revision = 2;
    ev->kv.mod_revision = rev;
    ev->kv.version = rev - 1;
    return host->watch_push(sink, ev, 1);
}

static int s_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **h,
                         dc_drv_err *err)
{
    *h = sink;
    if (k_is(req->key, req->key_len, "dup")) {
        push(sink, "dup", 5, "x");
        push(sink, "dup", 5, "x");
        push(sink, "dup", 6, "y");
    } else if (k_is(req->key, req->key_len, "back")) {
        push(sink, "back", 5, "x");
        push(sink, "back", 4, "x");
    } else if (k_is(req->key, req->key_len, "diff")) {
        push(sink, "diff", 5, "a");
        push(sink, "diff", 5, "b");
    } else if (k_is(req->key, req->key_len, "reset")) {
        host->watch_fail(sink, DC_ERESET, 0, "scripted: the epoch changed");
    }
    return DC_OK;
}

static void s_watch_stop(void *conn, void *h)
{
}

static int s_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    *id = 1;
    *granted = ttl;
    return DC_OK;
}

static int s_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    *ttl = 10;
    return DC_OK;
}

static int s_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    return DC_OK;
}

static const dc_driver table = {
    .abi_version = 1,
    .size = offsetof(dc_driver, get_page),
    .name = "scripted",
    .version = "scripted-abi1",
    .open = s_open,
    .close = s_close,
    .get = s_get,
    .txn = s_txn,
    .compact = s_compact,
    .watch_start = s_watch_start,
    .watch_stop = s_watch_stop,
    .lease_grant = s_grant,
    .lease_keepalive = s_keepalive,
    .lease_revoke = s_revoke,
};

const dc_driver *dc_driver_entry(void);
const dc_driver *dc_driver_entry(void)
{
    return &table;
}
