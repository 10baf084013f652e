/*
 * Reads, each one round trip and consistent with the revision it returns,
 * and each checking the store's epoch in the same atomic unit (guard.c):
 *  - one key: MULTI; GET rev; HMGET kv:<key>; GET epoch; EXEC (both modes);
 *  - a prefix in lua mode: FCALL_RO ddlcoord_get (GET rev, ZRANGEBYLEX and
 *    HMGETs inside one no-writes function);
 *  - a prefix in multi mode: the "re-check" recipe: ZRANGEBYLEX, then
 *    MULTI; GET rev; ZLEXCOUNT; ZRANGEBYLEX; HMGET…; EXEC, accepted when the
 *    second listing equals the first (so every HMGET belongs to the EXEC
 *    instant), retried only when this range's membership changed.
 * The revision key is never WATCHed to read: every write anywhere would abort it.
 */
#include "redis.h"

#include <stdlib.h>
#include <string.h>

#include "kv.h"

typedef struct get_arg {
    const dc_op *op;
    dc_kvs *out;
} get_arg;

static int corrupt(rd_store *s, dc_drv_err *err, const char *what)
{
    s->host->log(DC_LOG_ERROR, "redis", "%s: corrupt data: %s", s->endpoint, what);
    return rd_err(err, DC_ECORRUPT, s, "corrupt data: %s", what);
}

static int exec_failed(rd_store *s, redisReply **r, size_t n, dc_drv_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (r[i]->type == REDIS_REPLY_ERROR) {
            int rc = rd_reply_retryable(s, r[i]) ? RD_AGAIN : rd_reply_error(s, r[i], "read", err);
            return rc;
        }
    return DC_OK;
}

/* One key-value from an HMGET reply into kvs[0]; returns 1 if present. */
static int fill_one(rd_store *s, const redisReply *h, const char *key, size_t key_len,
                    int keys_only, dc_kv *kv, dc_drv_err *err)
{
    dc_kv tmp = {0};
    int p = rd_hash_to_kv(h, &tmp);
    if (p < 0) return corrupt(s, err, "a key's hash has bad fields");
    if (p == 0) return 0;
    *kv = tmp;
    if (dc__kv_set(kv, key, key_len, keys_only ? NULL : tmp.value, keys_only ? 0 : tmp.value_len))
        return rd_err(err, DC_ENOMEM, s, "out of memory");
    return 1;
}

static int get_key(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    get_arg *g = a;
    const dc_op *op = g->op;
    rd_cmd c[5];
    for (int i = 0; i < 5; i++) rd_cmd_init(&c[i]);
    rd_cmd_str(&c[0], "MULTI");
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "rev", NULL, 0);
    rd_cmd_str(&c[2], "HMGET");
    rd_cmd_key(&c[2], s, "kv:", op->key, op->key_len);
    const char *f[] = {"v", "c", "m", "ver", "lease"};
    for (int i = 0; i < 5; i++) rd_cmd_str(&c[2], f[i]);
    rd_cmd_str(&c[3], "GET");
    rd_cmd_key(&c[3], s, "epoch", NULL, 0);
    rd_cmd_str(&c[4], "EXEC");
    redisReply *r[5];
    int rc = rd_pipeline(s, ctx, c, 5, r, err);
    for (int i = 0; i < 5; i++) rd_cmd_free(&c[i]);
    if (rc != DC_OK) return rc;
    redisReply *x = r[4];
    if ((rc = exec_failed(s, r, 5, err)) != DC_OK) goto out;
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 3) {
        rc = corrupt(s, err, "unexpected EXEC reply");
        goto out;
    }
    if ((rc = rd_epoch_check(s, x->element[2], err)) != DC_OK) goto out;
    if ((rc = exec_failed(s, x->element, 3, err)) != DC_OK) goto out;
    int64_t rev = 1;
    if (rd_int(x->element[0], &rev) < 0) {
        rc = corrupt(s, err, "the revision key is not a number");
        goto out;
    }
    g->out->revision = rev;
    rd_note_rev(s, rev);
    dc_kv kv;
    int p = fill_one(s, x->element[1], op->key, op->key_len, op->flags & DC_KEYS_ONLY, &kv, err);
    if (p < 0) {
        rc = p;
        goto out;
    }
    g->out->count = p;
    if (p && !(op->flags & DC_COUNT_ONLY)) {
        g->out->kvs = malloc(sizeof kv);
        if (!g->out->kvs) {
            dc__kv_clear(&kv);
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            goto out;
        }
        g->out->kvs[0] = kv;
        g->out->n = 1;
    } else if (p) {
        dc__kv_clear(&kv);
    }
out:
    rd_replies_free(r, 5);
    return rc;
}

static int get_prefix_lua(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    get_arg *g = a;
    rd_cmd c;
    rd_cmd_init(&c);
    rd_script_cmd(s, &c, "get", 1);
    rd_cmd_add(&c, g->op->key, g->op->key_len);
    rd_cmd_int(&c, g->op->flags);
    rd_cmd_int(&c, g->op->limit);
    redisReply *r;
    int rc = rd_script_call(s, ctx, &c, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "get", err);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
               rd_int(r->element[0], &g->out->revision) || rd_int(r->element[1], &g->out->count)) {
        rc = corrupt(s, err, "unexpected reply from ddlcoord_get");
    } else {
        int64_t more = 0;
        rd_int(r->element[2], &more);
        g->out->more = more != 0;
        int k = rd_kvs_from_flat(r->element[3], &g->out->kvs, &g->out->n);
        if (k == -2)
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
        else if (k)
            rc = corrupt(s, err, "bad key-values from ddlcoord_get");
        else
            rd_note_rev(s, g->out->revision);
    }
    freeReplyObject(r);
    return rc;
}

static void add_range(rd_cmd *c, const rd_store *s, const char *cmd, const dc_buf *lo,
                      const dc_buf *hi, int64_t limit)
{
    rd_cmd_str(c, cmd);
    rd_cmd_key(c, s, "idx", NULL, 0);
    rd_cmd_add(c, lo->p, lo->len);
    rd_cmd_add(c, hi->p, hi->len);
    if (limit > 0) {
        rd_cmd_str(c, "LIMIT");
        rd_cmd_str(c, "0");
        rd_cmd_int(c, limit);
    }
}

static int get_prefix_multi(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    get_arg *g = a;
    const dc_op *op = g->op;
    dc_buf lo = DC_BUF_INIT, hi = DC_BUF_INIT;
    if (rd_bounds(op->key, op->key_len, &lo, &hi)) {
        dc__buf_free(&lo);
        dc__buf_free(&hi);
        return rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    int count_only = (op->flags & DC_COUNT_ONLY) != 0;
    redisReply *first = NULL, **r = NULL;
    rd_cmd *c = NULL;
    size_t nc = 0;
    int rc = DC_OK;
    if (!count_only) {
        rd_cmd c0;
        rd_cmd_init(&c0);
        add_range(&c0, s, "ZRANGEBYLEX", &lo, &hi, op->limit);
        rc = rd_pipeline(s, ctx, &c0, 1, &first, err);
        rd_cmd_free(&c0);
        if (rc != DC_OK) goto out;
        if (first->type != REDIS_REPLY_ARRAY) {
            rc = first->type == REDIS_REPLY_ERROR && rd_reply_retryable(s, first)
                     ? RD_AGAIN
                     : rd_reply_error(s, first, "ZRANGEBYLEX", err);
            goto out;
        }
    }
    size_t names = count_only ? 0 : first->elements;
    nc = 6 + names + 1; /* MULTI GET GET ZLEXCOUNT ZRANGEBYLEX? HMGET… EXEC */
    c = calloc(nc, sizeof *c);
    r = calloc(nc, sizeof *r);
    if (!c || !r) {
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
        goto out;
    }
    size_t k = 0;
    rd_cmd_str(&c[k++], "MULTI");
    rd_cmd_str(&c[k], "GET");
    rd_cmd_key(&c[k++], s, "rev", NULL, 0);
    rd_cmd_str(&c[k], "GET");
    rd_cmd_key(&c[k++], s, "epoch", NULL, 0);
    add_range(&c[k++], s, "ZLEXCOUNT", &lo, &hi, 0);
    if (!count_only) add_range(&c[k++], s, "ZRANGEBYLEX", &lo, &hi, op->limit);
    const char *f[] = {"v", "c", "m", "ver", "lease"};
    for (size_t i = 0; i < names; i++) {
        rd_cmd_str(&c[k], "HMGET");
        rd_cmd_key(&c[k], s, "kv:", first->element[i]->str, first->element[i]->len);
        for (int j = 0; j < 5; j++) rd_cmd_str(&c[k], f[j]);
        k++;
    }
    rd_cmd_str(&c[k++], "EXEC");
    nc = k;
    rc = rd_pipeline(s, ctx, c, nc, r, err);
    if (rc != DC_OK) goto out;
    if ((rc = exec_failed(s, r, nc, err)) != DC_OK) goto out;
    redisReply *x = r[nc - 1];
    size_t want = count_only ? 3 : 4 + names;
    if (x->type != REDIS_REPLY_ARRAY || x->elements != want) {
        rc = corrupt(s, err, "unexpected EXEC reply");
        goto out;
    }
    if ((rc = rd_epoch_check(s, x->element[1], err)) != DC_OK) goto out;
    if ((rc = exec_failed(s, x->element, x->elements, err)) != DC_OK) goto out;
    if (rd_int(x->element[0], &g->out->revision) < 0 || rd_int(x->element[2], &g->out->count)) {
        rc = corrupt(s, err, "bad revision or count");
        goto out;
    }
    if (rd_int(x->element[0], &g->out->revision) == 1) g->out->revision = 1;
    rd_note_rev(s, g->out->revision);
    if (count_only) goto out;
    if (!rd_same_strings(first, x->element[3])) {
        rc = RD_AGAIN; /* the range changed between the two round trips */
        g->out->revision = 0;
        g->out->count = 0;
        goto out;
    }
    g->out->more = (int64_t)names < g->out->count;
    if (names) {
        g->out->kvs = calloc(names, sizeof(dc_kv));
        if (!g->out->kvs) {
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < names; i++) {
        int p = fill_one(s, x->element[4 + i], first->element[i]->str, first->element[i]->len,
                         op->flags & DC_KEYS_ONLY, &g->out->kvs[g->out->n], err);
        if (p < 0) {
            rc = p;
            goto out;
        }
        if (p == 0) {
            rc = corrupt(s, err, "the key index lists a key without data");
            goto out;
        }
        g->out->n++;
    }
out:
    if (rc != DC_OK) dc__kvs_clear(g->out);
    if (first) freeReplyObject(first);
    if (r) rd_replies_free(r, nc);
    for (size_t i = 0; c && i < nc; i++) rd_cmd_free(&c[i]);
    free(c);
    free(r);
    dc__buf_free(&lo);
    dc__buf_free(&hi);
    return rc;
}

int rd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    rd_store *s = conn;
    get_arg g = {op, out};
    rd_fn fn = !(op->flags & DC_PREFIX) ? get_key
               : s->mode == RD_MODE_LUA ? get_prefix_lua
                                        : get_prefix_multi;
    return rd_retrying(s, fn, &g, err);
}
