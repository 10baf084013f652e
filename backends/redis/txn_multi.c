/*
 * Writes in multi mode (WATCH + MULTI/EXEC), for servers or users that do
 * not allow scripting. One attempt:
 *   1. WATCH {P}rev {P}epoch; GET {P}rev; GET {P}epoch; HMGET of every
 *      compared key (one pipeline); a foreign epoch ends here with
 *      DC_ERESET (guard.c), and the WATCH makes EXEC fail if the epoch
 *      changes later; the compares are evaluated here and pick the branch;
 *   2. HMGET of the branch's keys, ZRANGEBYLEX of its prefixes, EXISTS of
 *      the leases its puts name, the log's top entry (one pipeline);
 *   3. HMGET of the keys those prefixes list;
 *   4. the branch is simulated in op order on that snapshot (so a get sees
 *      the branch's earlier puts, as in etcd), producing the responses and
 *      MULTI; SET rev; HSET/DEL; ZADD/ZREM; SADD/SREM; XADD <rev>-<i>…; EXEC.
 * Every write changes {P}rev, so WATCHing it alone makes the snapshot exact:
 * EXEC answers nil if anything was written since step 1, and the attempt is
 * repeated after a jittered backoff. A branch without writes sends an empty
 * MULTI/EXEC to learn the same. Everything is checked before EXEC, because
 * Redis applies the rest of a transaction when one command fails.
 *
 * This costs 3–4 round trips and conflicts with every concurrent write
 * (the note measured 0.08× lua mode with 16 writers); it exists for
 * correctness where scripting is forbidden.
 */
#include "multi_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"

#define RD_CONFLICT (-1002) /* someone wrote since the WATCH: try again */

static int reply_err(rd_store *s, const redisReply *r, const char *what, dc_drv_err *err)
{
    return rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, what, err);
}

static void unwatch(redisContext *ctx)
{
    if (ctx->err) return;
    redisReply *r = redisCommand(ctx, "UNWATCH");
    if (r) freeReplyObject(r);
}

static void free_arrays(rd_cmd **c, redisReply ***r, size_t n)
{
    for (size_t i = 0; *c && i < n; i++) rd_cmd_free(&(*c)[i]);
    if (*r) rd_replies_free(*r, n);
    free(*c);
    free(*r);
    *c = NULL;
    *r = NULL;
}

int rd_token_in_log(rd_store *s, redisContext *ctx, const char *token, int64_t after,
                    int64_t *found, dc_drv_err *err)
{
    char from[48];
    snprintf(from, sizeof from, "%lld-0", (long long)after + 1);
    *found = 0;
    for (size_t seen = 0; seen < 8192;) {
        rd_cmd c;
        rd_cmd_init(&c);
        rd_cmd_str(&c, "XRANGE");
        rd_cmd_key(&c, s, "log", NULL, 0);
        rd_cmd_str(&c, from);
        rd_cmd_str(&c, "+");
        rd_cmd_str(&c, "COUNT");
        rd_cmd_str(&c, "256");
        redisReply *r;
        int rc = rd_pipeline(s, ctx, &c, 1, &r, err);
        rd_cmd_free(&c);
        if (rc != DC_OK) return rc;
        if (r->type != REDIS_REPLY_ARRAY) {
            rc = reply_err(s, r, "XRANGE", err);
            freeReplyObject(r);
            return rc;
        }
        for (size_t i = 0; i < r->elements && !*found; i++) {
            const redisReply *e = r->element[i];
            int64_t rev, seq;
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                rd_parse_id(e->element[0], &rev, &seq) || e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            const redisReply *x = seq == 0 ? rd_entry_field(e->element[1], "x") : NULL;
            if (x && x->len == strlen(token) && !memcmp(x->str, token, x->len)) *found = rev;
        }
        size_t n = r->elements;
        if (n) snprintf(from, sizeof from, "(%s", r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        if (*found || n < 256) return DC_OK;
        seen += n;
    }
    return rd_err(err, DC_EUNKNOWN, s, "too many writes since the lost reply to check");
}

static int attempt_once(attempt *a, redisContext *ctx, const dc_txn_req *req, const char *token,
                        int64_t retry_after, rd_revoke *rv, dc_txn_result *out, dc_drv_err *err)
{
    rd_store *s = a->s;
    int64_t floor = atomic_load(&s->last_rev);
    /* ---- 1: WATCH, revision, epoch, compared keys (or the lease's records) */
    size_t n1 = 3 + (rv ? 2 : req->n_compares);
    rd_cmd *c = calloc(n1, sizeof *c);
    redisReply **r = calloc(n1, sizeof *r);
    int rc = DC_OK;
    if (!c || !r) {
        free(c);
        free(r);
        return rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    rd_cmd_str(&c[0], "WATCH");
    rd_cmd_key(&c[0], s, "rev", NULL, 0);
    rd_cmd_key(&c[0], s, "epoch", NULL, 0);
    if (rv) rd_cmd_key(&c[0], s, "leases", NULL, 0);
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "rev", NULL, 0);
    rd_cmd_str(&c[2], "GET");
    rd_cmd_key(&c[2], s, "epoch", NULL, 0);
    char lid[24] = "";
    if (rv) {
        snprintf(lid, sizeof lid, "%lld", (long long)rv->id);
        rd_cmd_str(&c[3], "ZSCORE");
        rd_cmd_key(&c[3], s, "leases", NULL, 0);
        rd_cmd_str(&c[3], lid);
        char suffix[48];
        snprintf(suffix, sizeof suffix, "lease:%s:keys", lid);
        rd_cmd_str(&c[4], "SMEMBERS");
        rd_cmd_key(&c[4], s, suffix, NULL, 0);
    } else {
        for (size_t i = 0; i < req->n_compares; i++)
            ms_hmget(&c[3 + i], s, req->compares[i].key, req->compares[i].key_len);
    }
    rc = rd_pipeline(s, ctx, c, n1, r, err);
    for (size_t i = 0; i < n1; i++) rd_cmd_free(&c[i]);
    free(c);
    int64_t cur = 1;
    int ok = 1;
    redisReply *members = NULL;
    for (size_t i = 0; rc == DC_OK && i < n1; i++)
        if (r[i]->type == REDIS_REPLY_ERROR) rc = reply_err(s, r[i], "txn", err);
    if (rc == DC_OK) rc = rd_epoch_check(s, r[2], err);
    if (rc == DC_OK && rd_int(r[1], &cur) < 0)
        rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the revision key is not a number");
    if (rc == DC_OK) rc = rd_floor_check(s, cur, floor, err);
    if (rc == DC_OK && retry_after > 0) {
        /* a resend: under the WATCH, make sure the first send did not run late */
        int64_t found = 0;
        rc = rd_token_in_log(s, ctx, token, retry_after, &found, err);
        if (rc == DC_OK && found) rc = RD_APPLIED;
    }
    if (rc == DC_OK && rv) {
        int64_t dl = 0;
        int z = rd_int(r[3], &dl);
        rv->found = z == 0;
        if (z < 0) rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: a lease deadline");
        if (z != 0 || dl > rv->not_after) ok = 0; /* gone, or kept alive meanwhile */
        members = r[4];
        r[4] = NULL;
        if (members->type != REDIS_REPLY_ARRAY)
            rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: a lease's key set");
    }
    for (size_t i = 0; rc == DC_OK && !rv && i < req->n_compares; i++)
        rc = ms_load(a, req->compares[i].key, req->compares[i].key_len, r[3 + i], err);
    rd_replies_free(r, n1);
    free(r);
    if (rc == DC_OK && !rv)
        for (size_t i = 0; i < req->n_compares && ok; i++)
            ok = ms_holds(ms_find(a, req->compares[i].key, req->compares[i].key_len),
                          &req->compares[i]);
    if (rc != DC_OK || (rv && !ok)) {
        if (members) freeReplyObject(members);
        unwatch(ctx);
        if (rv && rc == DC_OK) out->revision = cur;
        return rc;
    }

    size_t ncr = 0; /* size of c and r in steps 2 and 3 */
    c = NULL;
    r = NULL;
    /* the ops to simulate: the branch, or a point delete per lease member */
    int branch = ok ? DC_THEN : DC_ELSE;
    dc_op *lease_ops = NULL;
    const dc_op *ops;
    size_t nops;
    if (rv) {
        nops = members->elements;
        lease_ops = calloc(nops ? nops : 1, sizeof *lease_ops);
        if (!lease_ops) {
            freeReplyObject(members);
            unwatch(ctx);
            return rd_err(err, DC_ENOMEM, s, "out of memory");
        }
        for (size_t i = 0; i < nops; i++) {
            lease_ops[i].kind = DC_OP_DELETE;
            lease_ops[i].key = members->element[i]->str;
            lease_ops[i].key_len = members->element[i]->len;
        }
        ops = lease_ops;
    } else {
        ops = req->ops[branch];
        nops = req->n_ops[branch];
    }

    /* ---- 2: the branch's keys, prefixes, leases and the log's top */
    size_t n2 = nops * 2 + 2, k2 = 0;
    ncr = n2;
    c = calloc(n2, sizeof *c);
    r = calloc(n2, sizeof *r);
    redisReply **lists = calloc(nops ? nops : 1, sizeof *lists);
    if (!c || !r || !lists) {
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nops; i++) {
        const dc_op *op = &ops[i];
        if (op->flags & DC_PREFIX) {
            dc_buf lo = DC_BUF_INIT, hi = DC_BUF_INIT;
            if (rd_bounds(op->key, op->key_len, &lo, &hi)) c[k2].oom = 1;
            rd_cmd_str(&c[k2], "ZRANGEBYLEX");
            rd_cmd_key(&c[k2], s, "idx", NULL, 0);
            rd_cmd_add(&c[k2], lo.p, lo.len);
            rd_cmd_add(&c[k2], hi.p, hi.len);
            dc__buf_free(&lo);
            dc__buf_free(&hi);
        } else {
            ms_hmget(&c[k2], s, op->key, op->key_len);
        }
        k2++;
        if (op->kind == DC_OP_PUT && op->lease) {
            char key[48];
            snprintf(key, sizeof key, "lease:%lld", (long long)op->lease);
            rd_cmd_str(&c[k2], "EXISTS");
            rd_cmd_key(&c[k2], s, key, NULL, 0);
            k2++;
        }
    }
    rd_cmd_str(&c[k2], "XREVRANGE");
    rd_cmd_key(&c[k2], s, "log", NULL, 0);
    rd_cmd_str(&c[k2], "+");
    rd_cmd_str(&c[k2], "-");
    rd_cmd_str(&c[k2], "COUNT");
    rd_cmd_str(&c[k2], "1");
    k2++;
    rd_cmd_str(&c[k2], "GET");
    rd_cmd_key(&c[k2], s, "rev", NULL, 0);
    k2++;
    rc = rd_pipeline(s, ctx, c, k2, r, err);
    if (rc != DC_OK) goto done;
    for (size_t i = 0; i < k2 && rc == DC_OK; i++)
        if (r[i]->type == REDIS_REPLY_ERROR) rc = reply_err(s, r[i], "txn", err);
    size_t j = 0;
    for (size_t i = 0; i < nops && rc == DC_OK; i++) {
        const dc_op *op = &ops[i];
        if (op->flags & DC_PREFIX) {
            lists[i] = r[j];
            r[j] = NULL;
            if (lists[i]->type != REDIS_REPLY_ARRAY)
                rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the key index");
        } else {
            rc = ms_load(a, op->key, op->key_len, r[j], err);
        }
        j++;
        if (op->kind == DC_OP_PUT && op->lease) {
            if (rc == DC_OK && r[j]->type == REDIS_REPLY_INTEGER && r[j]->integer == 0)
                rc = rd_err(err, DC_ENOTFOUND, s, "lease %lld not found", (long long)op->lease);
            j++;
        }
    }
    if (rc == DC_OK) {
        /* the log must be behind the revision key, or XADD fails inside EXEC;
         * if the revision moved since step 1, this attempt is lost anyway */
        const redisReply *top = r[k2 - 2];
        int64_t trev, tseq, now = 1;
        if (rd_int(r[k2 - 1], &now) >= 0 && now != cur)
            rc = RD_CONFLICT;
        else if (top->type == REDIS_REPLY_ARRAY && top->elements == 1 &&
                 top->element[0]->type == REDIS_REPLY_ARRAY && top->element[0]->elements == 2 &&
                 !rd_parse_id(top->element[0]->element[0], &trev, &tseq) && trev > cur)
            rc = rd_err(err, DC_ECORRUPT, s,
                        "corrupt data: the event log (at %lld) is ahead of "
                        "the revision key (%lld)",
                        (long long)trev, (long long)cur);
    }
    free_arrays(&c, &r, ncr);
    if (rc != DC_OK) goto done;

    /* ---- 3: the keys the prefixes list */
    size_t n3 = 0;
    for (size_t i = 0; i < nops; i++)
        if (lists[i]) n3 += lists[i]->elements;
    if (n3) {
        ncr = n3;
        c = calloc(n3, sizeof *c);
        r = calloc(n3, sizeof *r);
        if (!c || !r) {
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            goto done;
        }
        size_t k3 = 0;
        for (size_t i = 0; i < nops; i++)
            for (size_t m = 0; lists[i] && m < lists[i]->elements; m++)
                ms_hmget(&c[k3++], s, lists[i]->element[m]->str, lists[i]->element[m]->len);
        rc = rd_pipeline(s, ctx, c, n3, r, err);
        k3 = 0;
        for (size_t i = 0; rc == DC_OK && i < nops; i++)
            for (size_t m = 0; rc == DC_OK && lists[i] && m < lists[i]->elements; m++, k3++)
                rc = r[k3]->type == REDIS_REPLY_ERROR
                         ? reply_err(s, r[k3], "txn", err)
                         : ms_load(a, lists[i]->element[m]->str, lists[i]->element[m]->len, r[k3],
                                   err);
        free_arrays(&c, &r, ncr);
        if (rc != DC_OK) goto done;
    }

    /* ---- 4: simulate, then MULTI … EXEC */
    int64_t rev = cur + 1;
    dc_response *resp = nops && !rv ? calloc(nops, sizeof *resp) : NULL;
    if (nops && !rv && !resp) {
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
        goto done;
    }
    int sim = 0;
    for (size_t i = 0; i < nops && !sim; i++) {
        const dc_op *op = &ops[i];
        dc_response *o = rv ? NULL : &resp[i];
        if (o) o->kind = op->kind;
        if (rv) {
            mkey *k = ms_find(a, op->key, op->key_len);
            if (k && k->exists && k->kv.lease == rv->id) sim = ms_delete_key(a, k, NULL, 0);
        } else if (op->kind == DC_OP_GET) {
            sim = ms_get(a, op, o);
        } else if (op->kind == DC_OP_PUT) {
            sim = ms_put(a, op, rev, o);
        } else {
            sim = ms_delete(a, op, o);
        }
    }
    if (sim || a->oom) {
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    } else {
        size_t nw = a->n_cmds;
        for (size_t i = 0; i < a->n_evs; i++) ms_xadd(a, i, rev, token, branch);
        if (a->n_evs) {
            rd_cmd *set = ms_new_cmd(a);
            if (set) {
                rd_cmd_str(set, "SET");
                rd_cmd_key(set, s, "rev", NULL, 0);
                rd_cmd_int(set, rev);
            }
        }
        if (rv) {
            char k1[48], k2s[48];
            snprintf(k1, sizeof k1, "lease:%s", lid);
            snprintf(k2s, sizeof k2s, "lease:%s:keys", lid);
            rd_cmd *d = ms_new_cmd(a);
            if (d) {
                rd_cmd_str(d, "DEL");
                rd_cmd_key(d, s, k1, NULL, 0);
                rd_cmd_key(d, s, k2s, NULL, 0);
            }
            rd_cmd *z = ms_new_cmd(a);
            if (z) {
                rd_cmd_str(z, "ZREM");
                rd_cmd_key(z, s, "leases", NULL, 0);
                rd_cmd_str(z, lid);
            }
        }
        (void)nw;
        size_t nx = a->n_cmds + 2;
        rd_cmd *x = a->oom ? NULL : calloc(nx, sizeof *x);
        redisReply **xr = x ? calloc(nx, sizeof *xr) : NULL;
        if (!x || !xr) {
            free(x);
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
        } else {
            rd_cmd_init(&x[0]);
            rd_cmd_str(&x[0], "MULTI");
            if (a->n_cmds) memcpy(x + 1, a->cmds, a->n_cmds * sizeof *x); /* borrowed */
            rd_cmd_init(&x[nx - 1]);
            rd_cmd_str(&x[nx - 1], "EXEC");
            rc = rd_pipeline(s, ctx, x, nx, xr, err);
            rd_cmd_free(&x[0]);
            rd_cmd_free(&x[nx - 1]);
            free(x);
            if (rc == DC_OK) {
                redisReply *e = xr[nx - 1];
                if (e->type == REDIS_REPLY_NIL) {
                    rc = RD_CONFLICT;
                } else if (e->type != REDIS_REPLY_ARRAY) {
                    /* EXECABORT: nothing was applied; a queued write that a
                     * replica refused (-READONLY) makes it worth another try */
                    rc = reply_err(s, e, "txn", err);
                    for (size_t i = 1; i + 1 < nx && rc != RD_AGAIN; i++)
                        if (xr[i]->type == REDIS_REPLY_ERROR && rd_reply_retryable(s, xr[i]))
                            rc = RD_AGAIN;
                } else {
                    for (size_t i = 0; i < e->elements && rc == DC_OK; i++)
                        if (e->element[i]->type == REDIS_REPLY_ERROR) {
                            /* applied in part: Redis has no rollback */
                            s->host->log(DC_LOG_ERROR, "redis",
                                         "%s: a MULTI write failed half "
                                         "way at revision %lld: %s",
                                         s->endpoint, (long long)rev, e->element[i]->str);
                            rc = rd_err(err, DC_ECORRUPT, s,
                                        "write applied in part at revision "
                                        "%lld: %s",
                                        (long long)rev, e->element[i]->str);
                        }
                }
                rd_replies_free(xr, nx);
            }
            free(xr);
        }
    }
    if (rc == DC_OK) {
        out->succeeded = ok;
        out->revision = a->n_evs ? rev : cur;
        out->responses = resp;
        out->n_responses = rv ? 0 : nops;
        if (!s->min_acks || rv) rd_note_rev(s, out->revision); /* else: txn.c, after WAIT */
        resp = NULL;
    }
    if (resp) {
        for (size_t i = 0; i < nops; i++) dc__response_clear(&resp[i]);
        free(resp);
    }
done:
    if (rc != DC_OK && rc != RD_IO) unwatch(ctx);
    free_arrays(&c, &r, ncr);
    for (size_t i = 0; lists && i < nops; i++)
        if (lists[i]) freeReplyObject(lists[i]);
    free(lists);
    free(lease_ops);
    if (members) freeReplyObject(members);
    return rc;
}

int rd_txn_multi(rd_store *s, redisContext *ctx, const dc_txn_req *req, const char *token,
                 int64_t retry_after, rd_revoke *rv, dc_txn_result *out, dc_drv_err *err)
{
    int64_t deadline = dc__now_ms() + s->request_timeout_ms;
    unsigned seed = (unsigned)dc__now_us() ^ (unsigned)(uintptr_t)&seed;
    for (int n = 0;; n++) {
        attempt a = {.s = s};
        int rc = attempt_once(&a, ctx, req, token, retry_after, rv, out, err);
        ms_free(&a);
        if (rc != RD_CONFLICT) return rc;
        if (dc__now_ms() >= deadline)
            return rd_err(err, DC_EUNAVAILABLE, s,
                          "txn: gave up after %d WATCH conflicts in "
                          "%d ms (mode=multi under write contention)",
                          n + 1, s->request_timeout_ms);
        /* jittered exponential backoff, 20 µs · 2^n, capped at 4 ms */
        int64_t cap = 20LL << (n < 8 ? n : 8);
        if (cap > 4000) cap = 4000;
        int64_t us = rand_r(&seed) % (cap + 1);
        struct timespec ts = {0, (long)us * 1000};
        nanosleep(&ts, NULL);
    }
}
