/*
 * The smallest complete driver: it opens, remembers its URI and a config
 * value, and answers every operation with DC_EUNSUPPORTED and a detail that
 * names it. The loader tests use it to see that a good plugin is found on the
 * search path, checked, called through its table and unloaded.
 */
#include <ddlcoord/driver.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stub {
    char opt[64];
} stub;

static int unsupported(dc_drv_err *err, const char *what)
{
    snprintf(err->msg, sizeof err->msg, "stub driver: %s is not supported", what);
    return DC_EUNSUPPORTED;
}

static int s_open(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                  dc_drv_err *err)
{
    if (strstr(uri, "fail")) {
        snprintf(err->msg, sizeof err->msg, "stub driver: refusing %s", uri);
        return DC_EUNAVAILABLE;
    }
    stub *s = calloc(1, sizeof *s);
    if (!s) return DC_ENOMEM;
    const char *v = host->config_get(cfg, "stub.option");
    snprintf(s->opt, sizeof s->opt, "%s", v ? v : "");
    *conn = s;
    return DC_OK;
}

static void s_close(void *conn)
{
    free(conn);
}

static int s_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    stub *s = conn;
    snprintf(err->msg, sizeof err->msg, "stub driver: get is not supported (option=%s)", s->opt);
    return DC_EUNSUPPORTED;
}

static int s_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    return unsupported(err, "txn");
}

static int s_compact(void *conn, int64_t rev, dc_drv_err *err)
{
    return unsupported(err, "compact");
}

static int s_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **h,
                         dc_drv_err *err)
{
    return unsupported(err, "watch");
}

static void s_watch_stop(void *conn, void *h)
{
}

static int s_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    return unsupported(err, "lease grant");
}

static int s_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    return unsupported(err, "lease keepalive");
}

static int s_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    return unsupported(err, "lease revoke");
}

static const dc_driver table = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_driver),
    .name = "stub",
    .version = "test",
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
