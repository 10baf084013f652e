/*
 * Redis behind Sentinel: redis+sentinel://s1:p1,s2:p2,s3:p3/MASTERNAME
 * (docs/backends/redis.md, "Sentinel and durability").
 *
 * Every new connection asks the sentinels for the master's address
 * (SENTINEL get-master-addr-by-name, starting with the sentinel that
 * answered last and going round the list), connects there, authenticates
 * and selects the database as for redis://, and then checks with ROLE that
 * the node really is a master: a sentinel names the old master until the
 * fail-over is done, and a demoted master that comes back is a replica for a
 * while before Sentinel reconfigures it. A node that is not a master is
 * DC_EUNAVAILABLE, which the retry loops of conn.c and txn.c retry until the
 * request timeout, asking the sentinels again each time.
 *
 * Connections stop being used when the master moves: a dropped connection
 * (Sentinel's CLIENT KILL of a demoted master's clients, a dead master) is
 * freed and the next borrow connects afresh; a -READONLY reply marks the
 * pool stale (conn.c); and a pooled connection to another address than the
 * master last confirmed is freed when it is borrowed or returned.
 *
 * The data nodes take the URI's user and password (or username/password);
 * sentinels with their own ACL take sentinel_username / sentinel_password.
 * Sentinel's answer is only a hint, never trusted for safety: the store's
 * epoch and revision checks (guard.c) are what catch a fail-over that lost
 * writes.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

/* A host name as Sentinel may give it: letters, digits, '.', '-', '_', ':'
 * (IPv6). Anything else is not printed nor connected to. */
static int plausible_host(const char *h, size_t n)
{
    if (n == 0 || n >= 256) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':'))
            return 0;
    }
    return 1;
}

int rd_sentinel_setup(rd_store *s, const dc_uri *u, dc_drv_err *err)
{
    s->sentinel = 1;
    if (u->n_hosts < 1) return rd_err(err, DC_EINVAL, s, "expected sentinels host:port,…");
    if (!u->path[0] || strchr(u->path, '/'))
        return rd_err(err, DC_EINVAL, s,
                      "the path must name the master, as in redis+sentinel://host:port,…/mymaster");
    if (!plausible_host(u->path, strlen(u->path)))
        return rd_err(err, DC_EINVAL, s,
                      "master name: expected letters, digits, '.', '-', '_' (got %zu other bytes)",
                      strlen(u->path));
    s->s_hosts = calloc(u->n_hosts, sizeof *s->s_hosts);
    s->s_ports = calloc(u->n_hosts, sizeof *s->s_ports);
    s->master_name = strdup(u->path);
    if (!s->s_hosts || !s->s_ports || !s->master_name)
        return rd_err(err, DC_ENOMEM, s, "out of memory");
    for (size_t i = 0; i < u->n_hosts; i++) {
        if (!(s->s_hosts[i] = strdup(u->hosts[i].host)))
            return rd_err(err, DC_ENOMEM, s, "out of memory");
        s->n_sentinels = i + 1;
        s->s_ports[i] = u->hosts[i].port ? u->hosts[i].port : 26379;
    }
    return DC_OK;
}

void rd_sentinel_free(rd_store *s)
{
    for (size_t i = 0; s->s_hosts && i < s->n_sentinels; i++) free(s->s_hosts[i]);
    free(s->s_hosts);
    free(s->s_ports);
    free(s->master_name);
    free(s->s_user);
    free(s->s_password);
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Ask sentinel i. DC_OK with host/port, DC_ENOTFOUND (it knows no such
 * master), DC_EAUTH, or DC_EUNAVAILABLE (why in err). */
static int ask(rd_store *s, size_t i, char *host, size_t hlen, int *port, dc_drv_err *err)
{
    const char *sh = s->s_hosts[i];
    int sp = s->s_ports[i];
    redisContext *ctx = redisConnectWithTimeout(sh, sp, tv_ms(s->connect_timeout_ms));
    if (!ctx) return rd_err(err, DC_ENOMEM, s, "out of memory connecting");
    int rc = DC_OK;
    if (ctx->err) {
        rc = rd_err(err, DC_EUNAVAILABLE, s, "sentinel %s:%d: %s", sh, sp, ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    redisSetTimeout(ctx, tv_ms(s->connect_timeout_ms));
    redisReply *r;
    if (s->s_password) {
        const char *a[3] = {"AUTH", s->s_user ? s->s_user : s->s_password, s->s_password};
        size_t l[3] = {4, strlen(a[1]), strlen(a[2])};
        r = redisCommandArgv(ctx, s->s_user ? 3 : 2, a, l);
        if (!r)
            rc = rd_err(err, DC_EUNAVAILABLE, s, "sentinel %s:%d: AUTH: %s", sh, sp, ctx->errstr);
        else if (r->type == REDIS_REPLY_ERROR)
            rc = rd_err(err, DC_EAUTH, s, "sentinel %s:%d: AUTH refused: %.100s", sh, sp, r->str);
        if (r) freeReplyObject(r);
        if (rc != DC_OK) {
            redisFree(ctx);
            return rc;
        }
    }
    const char *a[] = {"SENTINEL", "get-master-addr-by-name", s->master_name};
    size_t l[] = {8, 23, strlen(s->master_name)};
    r = redisCommandArgv(ctx, 3, a, l);
    if (!r) {
        rc = rd_err(err, DC_EUNAVAILABLE, s, "sentinel %s:%d: %s", sh, sp, ctx->errstr);
    } else if (r->type == REDIS_REPLY_NIL) {
        rc = rd_err(err, DC_ENOTFOUND, s, "sentinel %s:%d knows no master named %s", sh, sp,
                    s->master_name);
    } else if (r->type == REDIS_REPLY_ERROR) {
        rc =
            rd_err(err,
                   !strncmp(r->str, "NOAUTH", 6) || !strncmp(r->str, "NOPERM", 6) ? DC_EAUTH
                                                                                  : DC_EUNAVAILABLE,
                   s, "sentinel %s:%d: %.100s", sh, sp, r->str);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_STRING ||
               r->element[1]->type != REDIS_REPLY_STRING ||
               !plausible_host(r->element[0]->str, r->element[0]->len) ||
               atoi(r->element[1]->str) <= 0 || atoi(r->element[1]->str) > 65535) {
        rc = rd_err(err, DC_EUNAVAILABLE, s, "sentinel %s:%d: unexpected answer for master %s", sh,
                    sp, s->master_name);
    } else {
        snprintf(host, hlen, "%s", r->element[0]->str);
        *port = atoi(r->element[1]->str);
    }
    if (r) freeReplyObject(r);
    redisFree(ctx);
    return rc;
}

/* ROLE on a fresh connection: DC_OK if the node is a master. */
static int confirm_master(rd_store *s, redisContext *ctx, const char *host, int port,
                          dc_drv_err *err)
{
    redisReply *r = redisCommand(ctx, "ROLE");
    if (!r) return rd_io_error(s, ctx, DC_EUNAVAILABLE, "ROLE", err);
    int rc = DC_OK;
    if (r->type == REDIS_REPLY_ERROR)
        rc = rd_reply_error(s, r, "ROLE", err);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
             r->element[0]->type != REDIS_REPLY_STRING)
        rc = rd_err(err, DC_EUNAVAILABLE, s, "ROLE on %s:%d: unexpected reply", host, port);
    else if (strcmp(r->element[0]->str, "master") != 0)
        rc = rd_err(err, DC_EUNAVAILABLE, s,
                    "the sentinels name %s:%d as master %s, but it is a %.20s (a fail-over "
                    "under way?)",
                    host, port, s->master_name, r->element[0]->str);
    freeReplyObject(r);
    return rc;
}

int rd_sentinel_connect(rd_store *s, redisContext **out, int timeout_ms, dc_drv_err *err)
{
    *out = NULL;
    char host[256];
    int port = 0, rc = DC_EUNAVAILABLE, n_notfound = 0, first = atomic_load(&s->next_sentinel);
    char why[sizeof err->msg] = "";
    for (size_t k = 0; k < s->n_sentinels; k++) {
        size_t i = ((size_t)first + k) % s->n_sentinels;
        rc = ask(s, i, host, sizeof host, &port, err);
        if (rc == DC_OK) {
            atomic_store(&s->next_sentinel, (int)i);
            break;
        }
        if (rc == DC_ENOMEM) return rc;
        if (rc == DC_ENOTFOUND) n_notfound++;
        if (!why[0] || rc == DC_EAUTH) snprintf(why, sizeof why, "%s", err->msg);
    }
    if (rc != DC_OK) {
        /* every sentinel answered and none knows the name: a configuration error */
        if (n_notfound == (int)s->n_sentinels)
            return rd_err(err, DC_EINVAL, s, "no sentinel knows a master named %s", s->master_name);
        snprintf(err->msg, sizeof err->msg, "%s", why);
        return rc == DC_EAUTH ? DC_EAUTH : DC_EUNAVAILABLE;
    }
    redisContext *ctx;
    rc = rd_connect_to(s, host, port, &ctx, timeout_ms, err);
    if (rc != DC_OK) return rc;
    rc = confirm_master(s, ctx, host, port, err);
    if (rc != DC_OK) {
        redisFree(ctx);
        return rc;
    }
    pthread_mutex_lock(&s->master_mu);
    int moved = strcmp(s->master_host, host) != 0 || s->master_port != port;
    int first_time = !s->master_host[0];
    if (moved) {
        snprintf(s->master_host, sizeof s->master_host, "%s", host);
        s->master_port = port;
    }
    pthread_mutex_unlock(&s->master_mu);
    if (moved)
        s->host->log(first_time ? DC_LOG_INFO : DC_LOG_WARN, "redis", "%s: master %s %s %s:%d",
                     s->endpoint, s->master_name, first_time ? "is at" : "moved to", host, port);
    *out = ctx;
    return DC_OK;
}

int rd_sentinel_current(rd_store *s, const redisContext *ctx)
{
    pthread_mutex_lock(&s->master_mu);
    int same = ctx->tcp.host && ctx->tcp.port == s->master_port &&
               strcmp(ctx->tcp.host, s->master_host) == 0;
    pthread_mutex_unlock(&s->master_mu);
    return same;
}
