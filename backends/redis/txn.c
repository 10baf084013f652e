/*
 * The write path shared by both modes: limits, the idempotency token, and
 * what to do when the connection breaks after a write was sent. Every write
 * carries a random token, stored (field x) in the first event of the
 * revision it creates. If the reply is lost, the driver reconnects and looks
 * for the token in the log above the highest revision it had seen before
 * sending: found means committed (the result is rebuilt from the log when it
 * can be, else DC_EUNKNOWN names the revision); not found means the write
 * made no event (it did not run, or it changed nothing), so it is sent again,
 * and the resend itself checks for the token when it executes (in the Lua
 * function, or under the WATCH), in case the first copy still ran late.
 * If the server stays away past the request timeout, the answer is DC_EUNKNOWN.
 * (Redis drops a held-back command of a closed connection, in practice; the
 * check covers a server that still runs it.)
 */
#include "redis.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"

typedef struct find_arg {
    const char *token;
    int64_t hint;        /* revisions above this may hold the token */
    int64_t found;       /* revision, or 0 */
    redisReply *entries; /* the found revision's entries (XRANGE) */
} find_arg;

static int find_token(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    find_arg *f = a;
    char end[48] = "+", start[48];
    snprintf(start, sizeof start, "%lld-0", (long long)(f->hint + 1));
    size_t scanned = 0;
    for (;;) {
        rd_cmd c;
        rd_cmd_init(&c);
        rd_cmd_str(&c, "XREVRANGE");
        rd_cmd_key(&c, s, "log", NULL, 0);
        rd_cmd_str(&c, end);
        rd_cmd_str(&c, f->hint > 0 ? start : "-");
        rd_cmd_str(&c, "COUNT");
        rd_cmd_str(&c, "256");
        redisReply *r;
        int rc = rd_pipeline(s, ctx, &c, 1, &r, err);
        rd_cmd_free(&c);
        if (rc != DC_OK) return rc;
        if (r->type != REDIS_REPLY_ARRAY) {
            rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "XREVRANGE", err);
            freeReplyObject(r);
            return rc;
        }
        for (size_t i = 0; i < r->elements && !f->found; i++) {
            const redisReply *e = r->element[i];
            int64_t rev, seq;
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                rd_parse_id(e->element[0], &rev, &seq) || e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            const redisReply *x = seq == 0 ? rd_entry_field(e->element[1], "x") : NULL;
            if (x && x->len == 32 && memcmp(x->str, f->token, 32) == 0) f->found = rev;
        }
        size_t n = r->elements;
        if (n) snprintf(end, sizeof end, "(%s", r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        scanned += n;
        if (f->found || n < 256) break;
        if (f->hint <= 0 && scanned >= 4096)
            return rd_err(err, DC_EUNKNOWN, s, "token search window exceeded");
    }
    if (!f->found) return DC_OK;
    rd_cmd c;
    rd_cmd_init(&c);
    char id0[48], id1[48];
    snprintf(id0, sizeof id0, "%lld-0", (long long)f->found);
    snprintf(id1, sizeof id1, "%lld-18446744073709551615", (long long)f->found);
    rd_cmd_str(&c, "XRANGE");
    rd_cmd_key(&c, s, "log", NULL, 0);
    rd_cmd_str(&c, id0);
    rd_cmd_str(&c, id1);
    int rc = rd_pipeline(s, ctx, &c, 1, &f->entries, err);
    rd_cmd_free(&c);
    return rc;
}

/* Rebuild the result of a committed write from its events, when the result
 * holds nothing but the revision and delete counts. */
static int rebuild(rd_store *s, const dc_txn_req *req, find_arg *f, dc_txn_result *out,
                   dc_drv_err *err)
{
    const redisReply *e = f->entries;
    if (!e || e->type != REDIS_REPLY_ARRAY || !e->elements) goto unknown;
    const redisReply *b = rd_entry_field(e->element[0]->element[1], "b");
    int branch = b && b->len == 1 && b->str[0] == '0' ? DC_ELSE : DC_THEN;
    const dc_op *ops = req->ops[branch];
    size_t n = req->n_ops[branch];
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind == DC_OP_GET || (ops[i].flags & DC_PREV_KV)) goto unknown;
    out->succeeded = branch == DC_THEN;
    out->revision = f->found;
    if (n && !(out->responses = calloc(n, sizeof *out->responses))) goto unknown;
    out->n_responses = n;
    for (size_t i = 0; i < n; i++) {
        out->responses[i].kind = ops[i].kind;
        if (ops[i].kind != DC_OP_DELETE) continue;
        for (size_t j = 0; j < e->elements; j++) {
            dc_event ev;
            int64_t rev, seq, cnt;
            if (rd_entry_to_event(e->element[j], &ev, &rev, &seq, &cnt)) goto unknown;
            int hit =
                ev.type == DC_EVENT_DELETE &&
                ((ops[i].flags & DC_PREFIX)
                     ? dc__key_has_prefix(ev.kv.key, ev.kv.key_len, ops[i].key, ops[i].key_len)
                     : dc__key_cmp(ev.kv.key, ev.kv.key_len, ops[i].key, ops[i].key_len) == 0);
            out->responses[i].deleted += hit;
            dc__event_clear(&ev);
        }
    }
    s->host->log(DC_LOG_WARN, "redis",
                 "%s: reply lost, but the write is in the log at revision %lld", s->endpoint,
                 (long long)f->found);
    return DC_OK;
unknown:
    dc__txn_result_clear(out);
    return rd_err(err, DC_EUNKNOWN, s,
                  "the connection broke after the write was sent; it "
                  "committed at revision %lld but its responses are lost",
                  (long long)f->found);
}

/* Whether the branch that ran changes something (then WAIT must see it on
 * min_replicas_ack replicas). */
static int writes(const dc_txn_req *req, const dc_txn_result *out)
{
    int b = out->succeeded ? DC_THEN : DC_ELSE;
    for (size_t i = 0; i < req->n_ops[b]; i++)
        if (req->ops[b][i].kind != DC_OP_GET) return 1;
    return 0;
}

int rd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    rd_store *s = conn;
    if ((int64_t)req->n_compares > s->max_ops || (int64_t)req->n_ops[0] > s->max_ops ||
        (int64_t)req->n_ops[1] > s->max_ops)
        return rd_err(err, DC_ETOOBIG, s,
                      "txn has %zu compares and %zu/%zu ops, limit %lld per list", req->n_compares,
                      req->n_ops[0], req->n_ops[1], (long long)s->max_ops);
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind == DC_OP_PUT &&
                (int64_t)req->ops[b][i].value_len > s->max_value)
                return rd_err(err, DC_ETOOBIG, s, "value of %zu bytes, limit %lld",
                              req->ops[b][i].value_len, (long long)s->max_value);
    char token[33];
    rd_token(token);
    int64_t deadline = dc__now_ms() + s->request_timeout_ms;
    int sent = 0;            /* a request may have reached the server */
    int64_t retry_after = 0; /* resending: the log above this was searched */
    for (int attempt = 0;; attempt++) {
        int64_t hint = atomic_load(&s->last_rev);
        redisContext *ctx;
        int rc = rd_borrow(s, &ctx, err);
        if (rc == DC_OK) {
            rc = s->mode == RD_MODE_LUA
                     ? rd_txn_lua(s, ctx, req, token, retry_after, out, err)
                     : rd_txn_multi(s, ctx, req, token, retry_after, NULL, out, err);
            if (rc == DC_OK && s->min_acks > 0 && writes(req, out)) {
                rc = rd_wait_acks(s, ctx, err);
                if (rc != DC_OK) dc__txn_result_clear(out);
            }
            /* a write the replicas may not have is no floor: a fail-over may
             * rightly lose it (guard.c) */
            if (rc == DC_OK && s->min_acks > 0) rd_note_rev(s, out->revision);
            rd_return(s, ctx, rc == RD_IO || (rc != DC_OK && ctx->err));
        } else if (rc == DC_EUNAVAILABLE) {
            rc = RD_AGAIN;
        }
        if (rc == RD_IO || rc == RD_APPLIED) {
            if (rc == RD_IO) rd_pool_drain(s);
            sent = 1;
            /* did it commit? look for the token, on a fresh connection (a
             * resend that found it already applied lands here too) */
            find_arg f = {token, retry_after ? retry_after : hint, 0, NULL};
            dc_drv_err ferr = {{0}, 0};
            int frc = rd_retrying(s, find_token, &f, &ferr);
            if (frc == DC_OK && f.found) {
                frc = rebuild(s, req, &f, out, err);
                if (frc == DC_OK && s->min_acks > 0) {
                    /* WAIT covers only what its own connection wrote */
                    dc__txn_result_clear(out);
                    frc = rd_err(err, DC_EUNKNOWN, s,
                                 "the write committed at revision %lld (its reply was lost), "
                                 "but whether %lld replica(s) have it is unknown",
                                 (long long)f.found, (long long)s->min_acks);
                }
                if (f.entries) freeReplyObject(f.entries);
                return frc;
            }
            if (f.entries) freeReplyObject(f.entries);
            if (frc != DC_OK)
                return rd_err(err, DC_EUNKNOWN, s,
                              "the connection broke after the write was "
                              "sent and its outcome cannot be read back: %s",
                              ferr.msg);
            /* not in the log: it made no change; send it again, and let the
             * resend check at execution time that the first did not run late */
            if (!retry_after) retry_after = hint > 0 ? hint : 1;
            if (f.found == 0 && rc == RD_APPLIED)
                return rd_err(err, DC_EUNKNOWN, s,
                              "the write is in the log but cannot be read back");
            rc = RD_AGAIN;
        }
        if (rc != RD_AGAIN) return rc;
        if (dc__now_ms() >= deadline) {
            if (sent)
                return rd_err(err, DC_EUNKNOWN, s,
                              "write not confirmed within the request "
                              "timeout (%d ms)",
                              s->request_timeout_ms);
            if (!err->msg[0]) rd_err(err, 0, s, "server unavailable");
            return DC_EUNAVAILABLE;
        }
        dc__sleep_ms(attempt < 5 ? 10 : 50);
    }
}
