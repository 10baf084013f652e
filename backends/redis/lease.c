/*
 * Leases as data, on the server's clock: {P}leases maps a lease id to its
 * deadline (ms, from TIME), {P}lease:<id> holds its TTL and
 * {P}lease:<id>:keys the keys put with it. Redis TTLs are never used on API
 * keys: their expiry writes no event and can come minutes late.
 *
 * Revoking, by hand or on expiry, deletes the attached keys at one new
 * revision through the normal write path, so watchers get ordinary DELETE
 * events with prev_kv. Every open store runs a reaper thread that sleeps
 * until the earliest deadline (at most 500 ms) and revokes what has expired;
 * it is idempotent, so many reapers on one store are harmless.
 *
 * lua mode: one function call each. multi mode: grant is INCR+TIME then a
 * MULTI; keepalive reads TIME and the deadline then moves it with ZADD XX;
 * revoke goes through the multi-mode writer (rd_txn_multi). Every one of
 * them checks the store's epoch (guard.c), in multi mode under a WATCH of
 * it, so no lease of a reset store is granted, refreshed or revoked by a
 * handle that knew the old one. Lease IDs start from a value drawn from the
 * server's clock, not from 1, so a store that lost its data does not hand
 * out the IDs it handed out before.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct rd_reaper {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
};

typedef struct lease_arg {
    int64_t id, ttl, out;
    int sent;
    char token[33];
} lease_arg;

static int script_int(rd_store *s, redisContext *ctx, const char *fn, const char *a1,
                      const char *a2, int64_t *out, dc_drv_err *err)
{
    rd_cmd c;
    rd_cmd_init(&c);
    rd_script_cmd(s, &c, fn, 0);
    rd_cmd_str(&c, a1);
    if (a2) rd_cmd_str(&c, a2);
    redisReply *r;
    int rc = rd_script_call(s, ctx, &c, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    if (r->type == REDIS_REPLY_ERROR)
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, fn, err);
    else if (rd_int(r, out))
        rc = rd_err(err, DC_ECORRUPT, s, "%s: unexpected reply", fn);
    freeReplyObject(r);
    return rc;
}

/* TIME in ms. */
static int server_ms(rd_store *s, redisContext *ctx, int64_t *now, dc_drv_err *err)
{
    redisReply *r = redisCommand(ctx, "TIME");
    if (!r) return rd_io_error(s, ctx, RD_IO, "TIME", err);
    int64_t sec, usec;
    int rc = DC_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || rd_int(r->element[0], &sec) ||
        rd_int(r->element[1], &usec))
        rc = r->type == REDIS_REPLY_ERROR && rd_reply_retryable(s, r)
                 ? RD_AGAIN
                 : rd_reply_error(s, r, "TIME", err);
    else
        *now = sec * 1000 + usec / 1000;
    freeReplyObject(r);
    return rc;
}

/* WATCH {P}epoch and check it (multi mode): the MULTI that follows fails if
 * the store is reset meanwhile. On failure the WATCH is dropped. */
static int watch_epoch(rd_store *s, redisContext *ctx, dc_drv_err *err)
{
    rd_cmd c[2];
    for (int i = 0; i < 2; i++) rd_cmd_init(&c[i]);
    rd_cmd_str(&c[0], "WATCH");
    rd_cmd_key(&c[0], s, "epoch", NULL, 0);
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "epoch", NULL, 0);
    redisReply *r[2];
    int rc = rd_pipeline(s, ctx, c, 2, r, err);
    for (int i = 0; i < 2; i++) rd_cmd_free(&c[i]);
    if (rc != DC_OK) return rc;
    rc = r[0]->type == REDIS_REPLY_ERROR ? rd_reply_error(s, r[0], "WATCH", err)
                                         : rd_epoch_check(s, r[1], err);
    rd_replies_free(r, 2);
    if (rc != DC_OK && !ctx->err) {
        redisReply *u = redisCommand(ctx, "UNWATCH");
        if (u) freeReplyObject(u);
    }
    return rc;
}

static int grant_once(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    lease_arg *l = a;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)l->ttl * 1000);
    if (s->mode == RD_MODE_LUA) return script_int(s, ctx, "lease_grant", ttl, NULL, &l->out, err);
    int rc = watch_epoch(s, ctx, err);
    if (rc != DC_OK) return rc;
    rd_cmd c;
    rd_cmd_init(&c);
    rd_cmd_str(&c, "INCR");
    rd_cmd_key(&c, s, "leaseid", NULL, 0);
    redisReply *r;
    rc = rd_pipeline(s, ctx, &c, 1, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "lease grant", err);
    l->out = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    int64_t now = 0;
    if (rc == DC_OK) rc = server_ms(s, ctx, &now, err);
    if (rc == DC_OK && l->out == 1) {
        /* the store's first lease: start from the clock (see the top) */
        l->out = (now % 4294967296LL) * 1048576 + 1;
        rd_cmd_init(&c);
        rd_cmd_str(&c, "SET");
        rd_cmd_key(&c, s, "leaseid", NULL, 0);
        rd_cmd_int(&c, l->out);
        rc = rd_pipeline(s, ctx, &c, 1, &r, err);
        rd_cmd_free(&c);
        if (rc == DC_OK) {
            if (r->type == REDIS_REPLY_ERROR) rc = rd_reply_error(s, r, "lease grant", err);
            freeReplyObject(r);
        }
    }
    if (rc != DC_OK) return rc;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)l->out);
    rd_cmd cs[4];
    for (int i = 0; i < 4; i++) rd_cmd_init(&cs[i]);
    rd_cmd_str(&cs[0], "MULTI");
    rd_cmd_str(&cs[1], "HSET");
    rd_cmd_key(&cs[1], s, "lease:", id, strlen(id));
    rd_cmd_str(&cs[1], "ttl");
    rd_cmd_str(&cs[1], ttl);
    rd_cmd_str(&cs[2], "ZADD");
    rd_cmd_key(&cs[2], s, "leases", NULL, 0);
    rd_cmd_int(&cs[2], now + l->ttl * 1000);
    rd_cmd_str(&cs[2], id);
    rd_cmd_str(&cs[3], "EXEC");
    redisReply *rs[4];
    rc = rd_pipeline(s, ctx, cs, 4, rs, err);
    for (int i = 0; i < 4; i++) rd_cmd_free(&cs[i]);
    if (rc != DC_OK) return rc;
    if (rs[3]->type == REDIS_REPLY_NIL)
        rc = RD_AGAIN; /* the epoch changed: the next attempt says how */
    else if (rs[3]->type != REDIS_REPLY_ARRAY)
        rc = rd_reply_error(s, rs[3], "lease grant", err);
    rd_replies_free(rs, 4);
    return rc;
}

int rd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    rd_store *s = conn;
    if (ttl > 9000000000LL)
        return rd_err(err, DC_EINVAL, s, "lease TTL %lld too large", (long long)ttl);
    /* a grant whose reply is lost leaves an unused lease behind, which expires */
    lease_arg l = {.ttl = ttl};
    int rc = rd_retrying_write(s, grant_once, &l, err);
    if (rc != DC_OK) return rc;
    *id = l.out;
    *granted = ttl;
    if (s->reaper) {
        pthread_mutex_lock(&s->reaper->mu);
        pthread_cond_signal(&s->reaper->cv);
        pthread_mutex_unlock(&s->reaper->mu);
    }
    return DC_OK;
}

static int keepalive_once(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    lease_arg *l = a;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)l->id);
    if (s->mode == RD_MODE_LUA)
        return script_int(s, ctx, "lease_keepalive", id, NULL, &l->out, err);
    int rc = watch_epoch(s, ctx, err);
    if (rc != DC_OK) return rc;
    int64_t now = 0;
    rc = server_ms(s, ctx, &now, err);
    if (rc != DC_OK) return rc;
    rd_cmd c[2];
    for (int i = 0; i < 2; i++) rd_cmd_init(&c[i]);
    rd_cmd_str(&c[0], "ZSCORE");
    rd_cmd_key(&c[0], s, "leases", NULL, 0);
    rd_cmd_str(&c[0], id);
    rd_cmd_str(&c[1], "HGET");
    rd_cmd_key(&c[1], s, "lease:", id, strlen(id));
    rd_cmd_str(&c[1], "ttl");
    redisReply *r[2];
    rc = rd_pipeline(s, ctx, c, 2, r, err);
    for (int i = 0; i < 2; i++) rd_cmd_free(&c[i]);
    if (rc != DC_OK) return rc;
    int64_t dl = 0, ttl = 0;
    int d = rd_int(r[0], &dl), t = rd_int(r[1], &ttl);
    rd_replies_free(r, 2);
    if (d < 0 || t < 0 || d == 1 || t == 1 || dl <= now) {
        redisReply *u = redisCommand(ctx, "UNWATCH");
        if (u) freeReplyObject(u);
        if (d < 0 || t < 0) return rd_err(err, DC_ECORRUPT, s, "lease %s: bad records", id);
        l->out = -1;
        return DC_OK;
    }
    rd_cmd m[4];
    for (int i = 0; i < 4; i++) rd_cmd_init(&m[i]);
    rd_cmd_str(&m[0], "MULTI");
    rd_cmd_str(&m[1], "ZADD");
    rd_cmd_key(&m[1], s, "leases", NULL, 0);
    rd_cmd_str(&m[1], "XX");
    rd_cmd_int(&m[1], now + ttl);
    rd_cmd_str(&m[1], id);
    rd_cmd_str(&m[2], "ZSCORE");
    rd_cmd_key(&m[2], s, "leases", NULL, 0);
    rd_cmd_str(&m[2], id);
    rd_cmd_str(&m[3], "EXEC");
    redisReply *x[4];
    rc = rd_pipeline(s, ctx, m, 4, x, err);
    for (int i = 0; i < 4; i++) rd_cmd_free(&m[i]);
    if (rc != DC_OK) return rc;
    const redisReply *e = x[3];
    if (e->type == REDIS_REPLY_NIL)
        rc = RD_AGAIN; /* the epoch changed: the next attempt says how */
    else if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        rc = rd_reply_error(s, e, "lease keepalive", err);
    else if (e->element[0]->type == REDIS_REPLY_ERROR)
        rc = rd_reply_error(s, e->element[0], "lease keepalive", err);
    else /* XX: a lease reaped meanwhile is not brought back, and ZSCORE sees it gone */
        l->out = e->element[1]->type == REDIS_REPLY_STRING ? ttl : -1;
    rd_replies_free(x, 4);
    return rc;
}

int rd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    rd_store *s = conn;
    lease_arg l = {.id = id};
    int rc = rd_retrying_write(s, keepalive_once, &l, err);
    if (rc != DC_OK) return rc;
    if (l.out < 0) return rd_err(err, DC_ENOTFOUND, s, "lease %lld not found", (long long)id);
    *ttl = l.out / 1000;
    return DC_OK;
}

static int revoke_once(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    lease_arg *l = a;
    int64_t was_sent = l->sent;
    l->sent = 1;
    int rc;
    if (s->mode == RD_MODE_LUA) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)l->id);
        rc = script_int(s, ctx, "lease_revoke", id, l->token, &l->out, err);
    } else {
        rd_revoke rv = {l->id, INT64_MAX, 0};
        dc_txn_result res = {0};
        rc = rd_txn_multi(s, ctx, NULL, l->token, 0, &rv, &res, err);
        l->out = rv.found ? res.revision : -1;
        if (rc == DC_OK) rd_note_rev(s, res.revision);
    }
    /* a retry after a lost reply finds the lease gone: that was us */
    if (rc == DC_OK && l->out < 0 && was_sent) l->out = 0;
    return rc;
}

int rd_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    rd_store *s = conn;
    lease_arg l = {.id = id};
    rd_token(l.token);
    int rc = rd_retrying_write(s, revoke_once, &l, err);
    if (rc != DC_OK) return rc;
    if (l.out < 0) return rd_err(err, DC_ENOTFOUND, s, "lease %lld not found", (long long)id);
    return DC_OK;
}

/* One reaper round: revoke what has expired; *wait = ms until the next deadline. */
static int reap_once(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    int64_t *wait = a;
    char token[33];
    rd_token(token);
    if (s->mode == RD_MODE_LUA) {
        rd_cmd c;
        rd_cmd_init(&c);
        rd_script_cmd(s, &c, "lease_reap", 0);
        rd_cmd_str(&c, token);
        redisReply *r;
        int rc = rd_script_call(s, ctx, &c, &r, err);
        rd_cmd_free(&c);
        if (rc != DC_OK) return rc;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || rd_int(r->element[1], wait))
            rc = r->type == REDIS_REPLY_ERROR && rd_reply_retryable(s, r)
                     ? RD_AGAIN
                     : rd_reply_error(s, r, "lease reaper", err);
        freeReplyObject(r);
        return rc;
    }
    int64_t now = 0;
    int rc = server_ms(s, ctx, &now, err);
    if (rc != DC_OK) return rc;
    rd_cmd c;
    rd_cmd_init(&c);
    rd_cmd_str(&c, "ZRANGEBYSCORE");
    rd_cmd_key(&c, s, "leases", NULL, 0);
    rd_cmd_str(&c, "-inf");
    rd_cmd_int(&c, now);
    rd_cmd_str(&c, "LIMIT");
    rd_cmd_str(&c, "0");
    rd_cmd_str(&c, "16");
    redisReply *r;
    rc = rd_pipeline(s, ctx, &c, 1, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    if (r->type != REDIS_REPLY_ARRAY) {
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "lease reaper", err);
        freeReplyObject(r);
        return rc;
    }
    for (size_t i = 0; i < r->elements && rc == DC_OK; i++) {
        int64_t id;
        if (rd_int(r->element[i], &id)) continue;
        rd_revoke rv = {id, now, 0};
        dc_txn_result res = {0};
        rc = rd_txn_multi(s, ctx, NULL, token, 0, &rv, &res, err);
    }
    freeReplyObject(r);
    if (rc != DC_OK) return rc;
    rd_cmd_init(&c);
    rd_cmd_str(&c, "ZRANGE");
    rd_cmd_key(&c, s, "leases", NULL, 0);
    rd_cmd_str(&c, "0");
    rd_cmd_str(&c, "0");
    rd_cmd_str(&c, "WITHSCORES");
    rc = rd_pipeline(s, ctx, &c, 1, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    int64_t dl;
    *wait = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && !rd_int(r->element[1], &dl))
        *wait = dl > now ? dl - now : 0;
    freeReplyObject(r);
    return DC_OK;
}

static void *reaper_main(void *arg)
{
    rd_store *s = arg;
    rd_reaper *rp = s->reaper;
    int failing = 0;
    rd_block_sigpipe();
    pthread_mutex_lock(&rp->mu);
    while (!rp->stopping) {
        pthread_mutex_unlock(&rp->mu);
        int64_t wait = -1;
        dc_drv_err err = {{0}, 0};
        int rc = rd_retrying_write(s, reap_once, &wait, &err);
        if (rc == DC_ERESET) {
            /* the store this handle knew is gone: nothing of it is left to
             * expire, and the handle says so (once) at its next call */
            s->host->log(DC_LOG_DEBUG, "redis", "lease reaper stopped: %s", err.msg);
            pthread_mutex_lock(&rp->mu);
            break;
        }
        if (rc != DC_OK && !failing)
            s->host->log(DC_LOG_WARN, "redis", "lease reaper: %s (code %d)", err.msg, rc);
        else if (rc == DC_OK && failing)
            s->host->log(DC_LOG_INFO, "redis", "%s: lease reaper working again", s->endpoint);
        failing = rc != DC_OK;
        if (wait < 0 || wait > 500) wait = 500;
        if (wait < 5) wait = 5;
        pthread_mutex_lock(&rp->mu);
        if (!rp->stopping) dc__cond_wait_until(&rp->cv, &rp->mu, dc__now_ms() + wait);
    }
    pthread_mutex_unlock(&rp->mu);
    return NULL;
}

int rd_reaper_start(rd_store *s)
{
    rd_reaper *rp = calloc(1, sizeof *rp);
    if (!rp) return -1;
    pthread_mutex_init(&rp->mu, NULL);
    dc__cond_init_monotonic(&rp->cv);
    s->reaper = rp;
    if (pthread_create(&rp->thread, NULL, reaper_main, s) != 0) {
        pthread_mutex_destroy(&rp->mu);
        pthread_cond_destroy(&rp->cv);
        free(rp);
        s->reaper = NULL;
        return -1;
    }
    return 0;
}

void rd_reaper_stop(rd_store *s)
{
    rd_reaper *rp = s->reaper;
    if (!rp) return;
    pthread_mutex_lock(&rp->mu);
    rp->stopping = 1;
    pthread_cond_signal(&rp->cv);
    pthread_mutex_unlock(&rp->mu);
    pthread_join(rp->thread, NULL);
    pthread_mutex_destroy(&rp->mu);
    pthread_cond_destroy(&rp->cv);
    free(rp);
    s->reaper = NULL;
}
