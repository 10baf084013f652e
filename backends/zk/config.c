/*
 * The configuration of a zk:// store: the URI (hosts, credentials, chroot)
 * and the zk.* options (docs/backends/zk.md lists them), checked once at
 * open into a read-only zk_cfg. A bad value is an error (DC_EINVAL), never a
 * silent default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"
#include "zk.h"
#include "zk_config.h"

const struct ACL_vector *zk_acl(const zk_cfg *c)
{
    return c->user ? &ZOO_CREATOR_ALL_ACL : &ZOO_OPEN_ACL_UNSAFE;
}

static const char *cfg_str(const dc_host *h, const dc_config *cfg, const char *key)
{
    return dc__drv_opt(h, cfg, "zk", key);
}

static int cfg_int(const dc_host *h, const dc_config *cfg, const char *key, int64_t def, int64_t lo,
                   int64_t hi, int64_t *out, dc_drv_err *err)
{
    return dc__drv_opt_int(h, cfg, "zk", key, def, lo, hi, out, err);
}

static int parse_config(zk_cfg *c, const dc_host *h, const char *uri, const dc_config *cfg,
                        dc_drv_err *err)
{
    dc_uri u;
    int prc = dc__uri_parse(uri, &u, err->msg, sizeof err->msg);
    if (prc) {
        dc__uri_free(&u);
        return prc == -2 ? DC_ENOMEM : DC_EINVAL;
    }
    int rc = DC_OK;
    if (strcmp(u.scheme, "zk") != 0 || u.n_hosts == 0) {
        char shown[256];
        rc = ZKERR(err, DC_EINVAL,
                   "zk: '%s': expected zk://[user:password@]host:port[,...][/chroot]",
                   dc__uri_redact(uri, shown, sizeof shown));
        goto out;
    }
    dc_buf hosts = DC_BUF_INIT;
    if (dc__drv_host_list(&hosts, &u, 2181, ",")) {
        dc__buf_free(&hosts);
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    c->hosts = dc__buf_steal(&hosts);
    c->endpoint = c->hosts ? strdup(c->hosts) : NULL;
    /* the core has merged the URI's user info into username/password */
    const char *user = cfg_str(h, cfg, "username"), *pass = cfg_str(h, cfg, "password");
    if (user && *user && !(c->user = strdup(user))) rc = DC_ENOMEM;
    if (pass && !(c->password = strdup(pass))) rc = DC_ENOMEM;
    if (!c->hosts || !c->endpoint || rc) {
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    int64_t v;
    if ((rc = cfg_int(h, cfg, "session_timeout_ms", 10000, 1000, 3600000, &v, err))) goto out;
    c->session_timeout_ms = (int)v;
    if ((rc = cfg_int(h, cfg, "connect_timeout_ms", DC_DEFAULT_CONNECT_TIMEOUT_MS, 1, 86400000, &v,
                      err)))
        goto out;
    c->connect_timeout_ms = (int)v;
    /* the client notices a silent server only after 2/3 of the session
     * timeout, so by default a call waits at least that long (config.h) */
    int64_t req_def = c->session_timeout_ms > DC_DEFAULT_REQUEST_TIMEOUT_MS
                          ? c->session_timeout_ms
                          : DC_DEFAULT_REQUEST_TIMEOUT_MS;
    if ((rc = cfg_int(h, cfg, "request_timeout_ms", req_def, 1, 86400000, &v, err))) goto out;
    c->request_timeout_ms = (int)v;
    if ((rc = cfg_int(h, cfg, "bucket_size", ZK_DEFAULT_BUCKET, 2, 100000, &c->bucket_size, err)))
        goto out;
    if ((rc = cfg_int(h, cfg, "max_request_bytes", ZK_DEFAULT_MAX_REQUEST, 4096, INT32_MAX,
                      &c->max_request, err)))
        goto out;
    /* A single host in the URI may still be one server of an ensemble (or a
     * load balancer in front of one), so sync is on whatever the host list. */
    if ((rc = cfg_int(h, cfg, "sync", 1, 0, 1, &v, err))) goto out;
    c->sync = (int)v;
    /* A put multi carries the value twice (kv znode and event) plus the
     * previous value in the event; 4 KiB covers paths and headers. */
    if ((rc = cfg_int(h, cfg, "max_value_bytes", (c->max_request - 4096) / 3, 0, INT32_MAX,
                      &c->max_value, err)))
        goto out;

    /* For tests: sleep between a write's reads and its commit, so that a test
     * can change the store inside that window (the ABA test does). */
    if ((rc =
             cfg_int(h, cfg, "debug_commit_delay_ms", 0, 0, 60000, &c->debug_commit_delay_ms, err)))
        goto out;
    if ((rc = cfg_int(h, cfg, "debug_watch_delay_ms", 0, 0, 60000, &c->debug_watch_delay_ms, err)))
        goto out;

    /* root: [/chroot]<root>, without a trailing slash */
    const char *root = cfg_str(h, cfg, "root");
    if (!root) root = ZK_DEFAULT_ROOT;
    if (root[0] != '/' || strlen(root) < 2 || root[strlen(root) - 1] == '/') {
        rc = ZKERR(err, DC_EINVAL, "zk: root '%s' must be an absolute znode path", root);
        goto out;
    }
    dc_buf r = DC_BUF_INIT;
    const char *chroot = u.path;
    size_t cl = strlen(chroot);
    while (cl && chroot[cl - 1] == '/') cl--;
    if ((cl && dc__buf_printf(&r, "/%.*s", (int)cl, chroot)) || dc__buf_puts(&r, root)) {
        dc__buf_free(&r);
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    c->root = dc__buf_steal(&r);
out:
    dc__uri_free(&u);
    return rc;
}

void zk_config_free(zk_cfg *c)
{
    free(c->hosts);
    free(c->endpoint);
    free(c->user);
    free(c->password);
    free(c->root);
    memset(c, 0, sizeof *c);
}

int zk_config_parse(const dc_host *host, const char *uri, const dc_config *cfg, zk_cfg *out,
                    dc_drv_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = parse_config(out, host, uri, cfg, err);
    if (rc) zk_config_free(out);
    return rc;
}
