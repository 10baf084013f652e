/*
 * What the driver checks before it trusts a Redis server with a store, and
 * on every call after that.
 *
 * Durability, at open. ddlcoord's promise (every DDL exactly once) rests on
 * acknowledged writes surviving a crash, which on Redis takes `appendonly
 * yes`, `appendfsync always` and `no-appendfsync-on-rewrite no`. They are read
 * with one CONFIG GET; where CONFIG is denied or renamed, INFO persistence
 * still tells whether the AOF is on, but not the fsync policy, which then
 * counts as not verified. A server that can lose acknowledged writes is
 * refused (DC_EUNSUPPORTED, the detail names the setting, what can be lost
 * and the option) unless allow_unsafe_durability=1, in which case it opens
 * with one WARN line saying the same.
 *
 * The epoch. {P}epoch holds a random token, created with the store's data
 * (SET NX at the first open) and read by every open. Every call sends or
 * reads it in the same atomic unit as its work (the Lua functions check it
 * first; MULTI reads carry a GET; multi-mode writes WATCH it; the watch pump
 * reads it with each batch): a missing or different epoch means the data
 * this handle knew is gone (FLUSHALL, a restart without persistence, another
 * server at the address), and the call fails with DC_ERESET having changed
 * nothing. Writes and the pump also check the server's revision against the
 * highest one the driver has seen (the floor): a fail-over to a replica that
 * lagged keeps the epoch but moves revisions back, and a write must be
 * refused there, not noticed after it applied. What neither catches is a
 * history that has climbed past the floor on a server restored from an old
 * copy of the same store: docs/DESIGN.md, "Resets", says why.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "hex.h"

int rd_epoch_check(rd_store *s, const redisReply *r, dc_drv_err *err)
{
    if (r && r->type == REDIS_REPLY_STRING && r->len == strlen(s->epoch) &&
        memcmp(r->str, s->epoch, r->len) == 0)
        return DC_OK;
    if (r && r->type == REDIS_REPLY_ERROR)
        return rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "reading the epoch", err);
    if (!r || r->type == REDIS_REPLY_NIL)
        return rd_err(err, DC_ERESET, s,
                      "the store's epoch key %sepoch is gone: its data was lost (a FLUSHALL, or "
                      "a restart without persistence)",
                      s->base);
    return rd_err(err, DC_ERESET, s,
                  "the store's epoch changed (%.40s, was %s): its history was "
                  "replaced",
                  r->type == REDIS_REPLY_STRING ? r->str : "?", s->epoch);
}

int rd_floor_check(rd_store *s, int64_t rev, int64_t floor, dc_drv_err *err)
{
    if (rev >= floor) return DC_OK;
    return rd_err(err, DC_ERESET, s,
                  "the store is at revision %lld, below revision %lld that this client has seen: "
                  "its history went back (a fail-over to a replica that lagged?)",
                  (long long)rev, (long long)floor);
}

int rd_epoch_init(rd_store *s, redisContext *ctx, dc_drv_err *err)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: the clock and the address still differ per store */
        uint64_t t[2] = {(uint64_t)dc__now_us(), (uint64_t)(uintptr_t)s ^ (uint64_t)dc__wall_ms()};
        memcpy(b, t, sizeof b);
    }
    char fresh[33];
    dc__hex_encode(b, sizeof b, fresh);
    rd_cmd c[4];
    for (int i = 0; i < 4; i++) rd_cmd_init(&c[i]);
    rd_cmd_str(&c[0], "MULTI");
    rd_cmd_str(&c[1], "SET");
    rd_cmd_key(&c[1], s, "epoch", NULL, 0);
    rd_cmd_str(&c[1], fresh);
    rd_cmd_str(&c[1], "NX");
    rd_cmd_str(&c[2], "GET");
    rd_cmd_key(&c[2], s, "epoch", NULL, 0);
    rd_cmd_str(&c[3], "EXEC");
    redisReply *r[4];
    int rc = rd_pipeline(s, ctx, c, 4, r, err);
    for (int i = 0; i < 4; i++) rd_cmd_free(&c[i]);
    if (rc != DC_OK) return rc == RD_IO ? DC_EUNAVAILABLE : rc;
    const redisReply *x = r[3];
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
        rc = rd_reply_error(s, x->type == REDIS_REPLY_ERROR ? x : r[1], "creating the epoch", err);
    } else if (x->element[1]->type != REDIS_REPLY_STRING || x->element[1]->len < 8 ||
               x->element[1]->len >= sizeof s->epoch) {
        rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the epoch key %sepoch", s->base);
    } else {
        memcpy(s->epoch, x->element[1]->str, x->element[1]->len);
        s->epoch[x->element[1]->len] = '\0';
        if (x->element[0]->type == REDIS_REPLY_STATUS)
            s->host->log(DC_LOG_INFO, "redis", "%s: new store %s: epoch %s", s->endpoint, s->base,
                         s->epoch);
    }
    rd_replies_free(r, 4);
    return rc;
}

/* The value of name in a CONFIG GET reply (a flat name/value array), or NULL. */
static const char *config_value(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name) &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return r->element[i + 1]->str;
    return NULL;
}

/* What can be lost with these settings, or "" when nothing acknowledged can. */
static void judge(const char *aof, const char *fsync, const char *rewrite, char *why, size_t len)
{
    why[0] = '\0';
    if (aof && strcmp(aof, "yes") != 0)
        snprintf(why, len,
                 "appendonly is %s: a restart loses every write since the last RDB snapshot, "
                 "and the store's history with them",
                 aof);
    else if (!fsync)
        snprintf(why, len,
                 "appendfsync could not be read: acknowledged writes may be lost in a crash "
                 "unless it is 'always'");
    else if (strcmp(fsync, "always") != 0)
        snprintf(why, len,
                 "appendfsync is %s: a crash of the server's machine loses the last %s of "
                 "acknowledged writes",
                 fsync, strcmp(fsync, "everysec") == 0 ? "second or two" : "~30 s");
    else if (rewrite && strcmp(rewrite, "no") != 0)
        snprintf(why, len,
                 "no-appendfsync-on-rewrite is %s: writes acknowledged during an AOF rewrite are "
                 "not on disk",
                 rewrite);
}

int rd_durability_check(rd_store *s, redisContext *ctx, dc_drv_err *err)
{
    redisReply *r =
        redisCommand(ctx, "CONFIG GET appendonly appendfsync no-appendfsync-on-rewrite");
    if (!r) return rd_io_error(s, ctx, DC_EUNAVAILABLE, "CONFIG GET", err);
    char why[400], how[200] = "";
    if (r->type == REDIS_REPLY_ARRAY) {
        judge(config_value(r, "appendonly"), config_value(r, "appendfsync"),
              config_value(r, "no-appendfsync-on-rewrite"), why, sizeof why);
    } else {
        /* CONFIG denied or renamed: INFO persistence still knows whether the AOF is on */
        snprintf(how, sizeof how, " (CONFIG GET: %.80s)",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        r = redisCommand(ctx, "INFO persistence");
        if (!r) return rd_io_error(s, ctx, DC_EUNAVAILABLE, "INFO persistence", err);
        const char *aof = NULL;
        if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
            const char *p = strstr(r->str, "aof_enabled:");
            if (p) aof = p[12] == '1' ? "yes" : "no";
        }
        judge(aof ? aof : "unknown (INFO persistence denied too)", NULL, NULL, why, sizeof why);
    }
    freeReplyObject(r);
    if (!why[0]) return DC_OK;
    if (s->allow_unsafe) {
        s->host->log(DC_LOG_WARN, "redis", "%s: %s%s; opening anyway (allow_unsafe_durability=1)",
                     s->endpoint, why, how);
        return DC_OK;
    }
    return rd_err(err, DC_EUNSUPPORTED, s,
                  "refusing a server that can lose acknowledged writes: %s%s. Set appendonly yes, "
                  "appendfsync always, no-appendfsync-on-rewrite no, or open with "
                  "allow_unsafe_durability=1 to accept the loss",
                  why, how);
}
