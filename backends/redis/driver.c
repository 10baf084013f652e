/*
 * ddlcoord-redis.so: the driver table and opening/closing a store.
 *
 * URI: redis://[user:password@]host:port[/db][?mode=lua|multi&prefix=…]
 *  or  redis+sentinel://[user:password@]s1:p1,s2:p2,…/MASTERNAME[?…]
 *      (sentinel.c: the sentinels are asked for the master; user and
 *      password are the data nodes'; the database is 0)
 * Configuration keys (bare, or "redis.<key>" as an INI section [redis] gives
 * them): mode (lua, the default, or multi), prefix (default "ddlcoord"; the
 * store's keys live under the hash tag "{prefix}"), username, password,
 * connect_timeout_ms (3000), request_timeout_ms (5000), max_txn_ops (128),
 * max_value_bytes (1.5 MiB), allow_unsafe_durability (0; 1 opens a server
 * that can lose acknowledged writes, see guard.c), min_replicas_ack (0; N > 0
 * makes every write wait until N replicas have it, see conn.c),
 * min_replicas_timeout_ms (1000, or half request_timeout_ms if that is less;
 * with min_replicas_ack it must be below request_timeout_ms),
 * sentinel_username and sentinel_password (sentinels with an ACL of their
 * own; with Sentinel only). Integers out of range are
 * DC_EINVAL naming the key. hiredis 0.14 has no TLS, so neither has this
 * driver.
 *
 * Opening connects once (so a wrong address or password fails here, not at
 * the first call), checks the server's durability settings, reads (or
 * creates) the store's epoch, loads the Lua library in lua mode, and starts
 * the lease reaper. The watch pump starts with the first watch.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "uri.h"

/* Options: "redis.<key>" wins over "<key>" (core/util/drv.h). */
static const char *cfg(const dc_host *h, const dc_config *c, const char *key)
{
    return dc__drv_opt(h, c, "redis", key);
}

/* An integer option in [lo, hi], checked as the core checks its own. */
static int cfg_int(const rd_store *s, const dc_config *c, const char *key, int64_t def, int64_t lo,
                   int64_t hi, int64_t *out, dc_drv_err *err)
{
    dc_drv_err why = {{0}, 0};
    if (dc__drv_opt_int(s->host, c, "redis", key, def, lo, hi, out, &why) == DC_OK) return DC_OK;
    return rd_err(err, DC_EINVAL, s, "%s", why.msg);
}

static void store_free(rd_store *s)
{
    if (!s) return;
    rd_pump_free(s);
    rd_reaper_stop(s);
    rd_pool_free(s);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->pump_mu);
    pthread_mutex_destroy(&s->master_mu);
    rd_sentinel_free(s);
    free(s->hostname);
    free(s->user);
    free(s->password);
    free(s->base);
    free(s->lib_text);
    free(s->eval_text);
    free(s);
}

static char *dup_or_null(const char *p)
{
    return p ? strdup(p) : NULL;
}

static int rd_open(const dc_host *host, const char *uri, const dc_config *c, void **conn,
                   dc_drv_err *err)
{
    dc_uri u;
    int prc = dc__uri_parse(uri, &u, err->msg, sizeof err->msg);
    if (prc) {
        dc__uri_free(&u);
        return prc == -2 ? DC_ENOMEM : DC_EINVAL;
    }
    rd_store *s = calloc(1, sizeof *s);
    if (!s) {
        dc__uri_free(&u);
        snprintf(err->msg, sizeof err->msg, "redis: out of memory");
        return DC_ENOMEM;
    }
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->pump_mu, NULL);
    pthread_mutex_init(&s->master_mu, NULL);
    s->host = host;
    char shown[256];
    dc__uri_redact(uri, shown, sizeof shown);
    /* redis+sentinel://…: the URI names it; redis://: "redis host:port" below */
    snprintf(s->endpoint, sizeof s->endpoint, "%s", shown);
    int rc = DC_OK;
    char *end;
    if (strcmp(u.scheme, "redis+sentinel") == 0) {
        rc = rd_sentinel_setup(s, &u, err);
    } else if (strcmp(u.scheme, "redis") != 0) {
        rc = rd_err(err, DC_EINVAL, s, "scheme '%s': expected redis or redis+sentinel", u.scheme);
    } else if (u.n_hosts != 1) {
        snprintf(err->msg, sizeof err->msg, "redis: '%s': expected one host:port", shown);
        rc = DC_EINVAL;
    } else {
        s->hostname = strdup(u.hosts[0].host);
        s->port = u.hosts[0].port ? u.hosts[0].port : 6379;
        snprintf(s->endpoint, sizeof s->endpoint, "redis %s:%d", u.hosts[0].host, s->port);
        if (u.path[0]) {
            long db = strtol(u.path, &end, 10);
            if (*end || db < 0 || db > 1000000) {
                rc = rd_err(err, DC_EINVAL, s, "'%s': the path must be a database number", u.path);
            }
            s->db = (int)db;
        }
    }
    const char *mode = cfg(host, c, "mode");
    if (rc == DC_OK) {
        if (!mode || !strcmp(mode, "lua"))
            s->mode = RD_MODE_LUA;
        else if (!strcmp(mode, "multi"))
            s->mode = RD_MODE_MULTI;
        else
            rc = rd_err(err, DC_EINVAL, s, "mode '%s': expected lua or multi", mode);
    }
    const char *prefix = cfg(host, c, "prefix");
    if (!prefix) prefix = "ddlcoord";
    if (rc == DC_OK && (!*prefix || strpbrk(prefix, "{}")))
        rc = rd_err(err, DC_EINVAL, s, "prefix '%s': must be non-empty, without braces", prefix);
    if (rc == DC_OK) {
        s->base_len = strlen(prefix) + 2;
        s->base = malloc(s->base_len + 1);
        if (s->base) snprintf(s->base, s->base_len + 1, "{%s}", prefix);
        /* redis://:password@host: no user name, so the default user (as redis-py does) */
        const char *user = cfg(host, c, "username");
        s->user = user && *user ? strdup(user) : NULL;
        s->password = dup_or_null(cfg(host, c, "password"));
        if (!s->base || (!s->sentinel && !s->hostname) || (user && *user && !s->user) ||
            (cfg(host, c, "password") && !s->password))
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    const char *s_user = cfg(host, c, "sentinel_username"),
               *s_pass = cfg(host, c, "sentinel_password");
    if (rc == DC_OK && !s->sentinel && (s_user || s_pass))
        rc = rd_err(err, DC_EINVAL, s,
                    "sentinel_username/sentinel_password: only for redis+sentinel://");
    if (rc == DC_OK && s_user && *s_user && !s_pass)
        rc = rd_err(err, DC_EINVAL, s, "sentinel_username needs sentinel_password");
    if (rc == DC_OK) {
        s->s_user = s_user && *s_user ? strdup(s_user) : NULL;
        s->s_password = dup_or_null(s_pass);
        if ((s_user && *s_user && !s->s_user) || (s_pass && !s->s_password))
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    int64_t v;
    /* the pump's socket timeout adds its XREAD block time to the request timeout */
    if (rc == DC_OK && (rc = cfg_int(s, c, "connect_timeout_ms", 3000, 1, 86400000, &v, err)) == 0)
        s->connect_timeout_ms = (int)v;
    if (rc == DC_OK && (rc = cfg_int(s, c, "request_timeout_ms", 5000, 1, 86400000, &v, err)) == 0)
        s->request_timeout_ms = (int)v;
    if (rc == DC_OK) rc = cfg_int(s, c, "max_txn_ops", RD_MAX_TXN_OPS, 1, 100000, &s->max_ops, err);
    if (rc == DC_OK)
        rc = cfg_int(s, c, "max_value_bytes", RD_MAX_VALUE, 0, 512LL << 20, &s->max_value, err);
    if (rc == DC_OK && (rc = cfg_int(s, c, "allow_unsafe_durability", 0, 0, 1, &v, err)) == 0)
        s->allow_unsafe = (int)v;
    if (rc == DC_OK) rc = cfg_int(s, c, "min_replicas_ack", 0, 0, 1000, &s->min_acks, err);
    /* WAIT must answer before the socket timeout gives up on it */
    int64_t wait_def = s->request_timeout_ms / 2 < 1000 ? s->request_timeout_ms / 2 : 1000;
    if (rc == DC_OK)
        rc = cfg_int(s, c, "min_replicas_timeout_ms", wait_def > 0 ? wait_def : 1, 1, 86400000,
                     &s->wait_ms, err);
    if (rc == DC_OK && s->min_acks > 0 && s->wait_ms >= s->request_timeout_ms)
        rc = rd_err(err, DC_EINVAL, s,
                    "config: min_replicas_timeout_ms=%lld must be below request_timeout_ms=%d",
                    (long long)s->wait_ms, s->request_timeout_ms);
    dc__uri_free(&u);
    if (rc == DC_OK) {
        /* connect now: a bad address or password should fail the open */
        redisContext *ctx;
        rc = rd_borrow(s, &ctx, err);
        if (rc == DC_OK) {
            /* without a password nothing was sent yet: a PING shows NOAUTH now */
            redisReply *r = redisCommand(ctx, "PING");
            if (!r)
                rc = rd_io_error(s, ctx, DC_EUNAVAILABLE, "PING", err);
            else if (r->type == REDIS_REPLY_ERROR)
                rc = rd_reply_error(s, r, "PING", err);
            if (r) freeReplyObject(r);
            if (rc == DC_OK) rc = rd_durability_check(s, ctx, err);
            if (rc == DC_OK) rc = rd_epoch_init(s, ctx, err);
            rd_return(s, ctx, rc != DC_OK);
        }
    }
    if (rc == DC_OK && s->mode == RD_MODE_LUA) rc = rd_script_init(s, err);
    if (rc == DC_OK && rd_reaper_start(s) != 0)
        rc = rd_err(err, DC_ENOMEM, s, "cannot start the lease reaper thread");
    if (rc != DC_OK) {
        store_free(s);
        return rc;
    }
    host->log(
        DC_LOG_INFO, "redis", "%s: open, mode %s, prefix %s, min_replicas_ack %lld", s->endpoint,
        s->mode == RD_MODE_LUA ? (s->use_fcall ? "lua (functions)" : "lua (EVALSHA)") : "multi",
        s->base, (long long)s->min_acks);
    *conn = s;
    return DC_OK;
}

static void rd_close(void *conn)
{
    store_free(conn);
}

static const dc_driver driver = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_driver),
    .name = "redis",
    .version = "ddlcoord-redis 0.1 (hiredis 0.14)",
    .open = rd_open,
    .close = rd_close,
    .get = rd_get,
    .txn = rd_txn,
    .compact = rd_compact,
    .watch_start = rd_watch_start,
    .watch_stop = rd_watch_stop,
    .lease_grant = rd_lease_grant,
    .lease_keepalive = rd_lease_keepalive,
    .lease_revoke = rd_lease_revoke,
    .get_page = rd_get_page,
};

__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void);
__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void)
{
    return &driver;
}
