/*
 * Compaction: {P}compact records the compact revision C and the log is
 * trimmed with XTRIM MINID C-0 in the same MULTI, so a watcher that finds a
 * hole in the (dense) revision sequence can always explain it by reading C.
 * MINID never cuts a revision in half, unlike MAXLEN. {P}compact and the
 * epoch are WATCHed (the revision key only grows, so checking it before is
 * enough; the epoch must not change between the check and the EXEC).
 * Plain MULTI in both modes: compaction is rare and must work without scripts.
 */
#include "redis.h"

#include <stdio.h>
#include <string.h>

typedef struct compact_arg {
    int64_t rev;
} compact_arg;

static int compact_once(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    int64_t want = ((compact_arg *)a)->rev;
    rd_cmd c[8];
    for (int i = 0; i < 8; i++) rd_cmd_init(&c[i]);
    rd_cmd_str(&c[0], "WATCH");
    rd_cmd_key(&c[0], s, "compact", NULL, 0);
    rd_cmd_key(&c[0], s, "epoch", NULL, 0);
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "compact", NULL, 0);
    rd_cmd_str(&c[2], "GET");
    rd_cmd_key(&c[2], s, "rev", NULL, 0);
    rd_cmd_str(&c[3], "GET");
    rd_cmd_key(&c[3], s, "epoch", NULL, 0);
    redisReply *r[8] = {0};
    int rc = rd_pipeline(s, ctx, c, 4, r, err);
    int64_t cur = 1, comp = 0;
    if (rc == DC_OK) {
        if (r[1]->type == REDIS_REPLY_ERROR || r[2]->type == REDIS_REPLY_ERROR)
            rc = rd_reply_retryable(s, r[1]) || rd_reply_retryable(s, r[2])
                     ? RD_AGAIN
                     : rd_reply_error(s, r[1]->type == REDIS_REPLY_ERROR ? r[1] : r[2], "compact",
                                      err);
        else
            rc = rd_epoch_check(s, r[3], err);
        if (rc == DC_OK && (rd_int(r[1], &comp) < 0 || rd_int(r[2], &cur) < 0))
            rc = rd_err(err, DC_ECORRUPT, s, "compact: the revision keys are not numbers");
    }
    rd_replies_free(r, 4);
    if (rc == DC_OK && want > cur)
        rc = rd_err(err, DC_EINVAL, s, "cannot compact at %lld: a future revision (current %lld)",
                    (long long)want, (long long)cur);
    if (rc == DC_OK && want <= comp) {
        err->compact_revision = comp;
        rc =
            rd_err(err, DC_ECOMPACTED, s, "revision %lld already compacted (compact revision %lld)",
                   (long long)want, (long long)comp);
    }
    if (rc != DC_OK) {
        /* drop the WATCH before the connection goes back to the pool */
        if (!ctx->err) {
            redisReply *u = redisCommand(ctx, "UNWATCH");
            if (u) freeReplyObject(u);
        }
        for (int i = 0; i < 8; i++) rd_cmd_free(&c[i]);
        return rc;
    }
    for (int i = 0; i < 4; i++) {
        rd_cmd_free(&c[i]);
        rd_cmd_init(&c[i]);
    }
    char id[32];
    snprintf(id, sizeof id, "%lld-0", (long long)want);
    rd_cmd_str(&c[0], "MULTI");
    rd_cmd_str(&c[1], "SET");
    rd_cmd_key(&c[1], s, "compact", NULL, 0);
    rd_cmd_int(&c[1], want);
    rd_cmd_str(&c[2], "XTRIM");
    rd_cmd_key(&c[2], s, "log", NULL, 0);
    rd_cmd_str(&c[2], "MINID");
    rd_cmd_str(&c[2], id);
    rd_cmd_str(&c[3], "EXEC");
    rc = rd_pipeline(s, ctx, c, 4, r, err);
    for (int i = 0; i < 8; i++) rd_cmd_free(&c[i]);
    if (rc != DC_OK) return rc; /* repeating a compaction is harmless */
    redisReply *x = r[3];
    if (x->type == REDIS_REPLY_NIL)
        rc = RD_AGAIN; /* another compaction won the race: look again */
    else if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
             x->element[1]->type == REDIS_REPLY_ERROR)
        rc = rd_reply_error(s, x->type == REDIS_REPLY_ARRAY && x->elements == 2 ? x->element[1] : x,
                            "compact", err);
    rd_replies_free(r, 4);
    return rc;
}

int rd_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    compact_arg a = {revision};
    return rd_retrying_write(conn, compact_once, &a, err);
}
