/*
 * Writes in multi mode (WATCH + MULTI/EXEC), for servers or users that do
 * not allow scripting. One attempt:
 *   1. WATCH {P}rev; GET {P}rev; HMGET of every compared key (one pipeline);
 *      the compares are evaluated here and pick the branch;
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
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "clock.h"
#include "kv.h"

#define RD_CONFLICT (-1002) /* someone wrote since the WATCH: try again */

typedef struct mkey {
    char *key;
    size_t key_len;
    int exists;
    dc_kv kv; /* current simulated state (key unset; value owned) */
    UT_hash_handle hh;
} mkey;

typedef struct mevent {
    int put;
    mkey *k;
    char *value; /* put: borrowed from the request */
    size_t value_len;
    int64_t c, ver, lease;
    int has_prev;
    dc_kv prev; /* owned value */
} mevent;

typedef struct attempt {
    rd_store *s;
    mkey *keys;
    rd_cmd *cmds; /* the writes between MULTI and EXEC */
    size_t n_cmds, cap_cmds;
    mevent *evs;
    size_t n_evs, cap_evs;
    int oom;
} attempt;

static const char *HF[] = {"v", "c", "m", "ver", "lease"};

static void attempt_free(attempt *a)
{
    mkey *k, *tmp;
    HASH_ITER(hh, a->keys, k, tmp)
    {
        HASH_DEL(a->keys, k);
        free(k->key);
        free(k->kv.value);
        free(k);
    }
    for (size_t i = 0; i < a->n_cmds; i++) rd_cmd_free(&a->cmds[i]);
    free(a->cmds);
    for (size_t i = 0; i < a->n_evs; i++) free(a->evs[i].prev.value);
    free(a->evs);
    memset(a, 0, sizeof *a);
}

static mkey *find(attempt *a, const char *key, size_t len)
{
    mkey *k;
    HASH_FIND(hh, a->keys, key, len, k);
    return k;
}

/* Record a key's state from an HMGET reply. 0, or a DC error code. */
static int load(attempt *a, const char *key, size_t len, const redisReply *h, dc_drv_err *err)
{
    if (find(a, key, len)) return DC_OK;
    mkey *k = calloc(1, sizeof *k);
    if (!k || !(k->key = malloc(len + 1))) {
        free(k);
        return rd_err(err, DC_ENOMEM, a->s, "out of memory");
    }
    memcpy(k->key, key, len);
    k->key[len] = '\0';
    k->key_len = len;
    dc_kv kv = {0};
    int p = rd_hash_to_kv(h, &kv);
    if (p < 0) {
        free(k->key);
        free(k);
        return rd_err(err, DC_ECORRUPT, a->s, "corrupt data: the hash of a key has bad fields");
    }
    if (p == 1) {
        k->exists = 1;
        k->kv = kv;
        k->kv.value = malloc(kv.value_len + 1);
        if (!k->kv.value) {
            free(k->key);
            free(k);
            return rd_err(err, DC_ENOMEM, a->s, "out of memory");
        }
        memcpy(k->kv.value, kv.value, kv.value_len);
        k->kv.value[kv.value_len] = '\0';
    }
    HASH_ADD_KEYPTR(hh, a->keys, k->key, k->key_len, k);
    return DC_OK;
}

static void hmget(rd_cmd *c, const rd_store *s, const char *key, size_t len)
{
    rd_cmd_str(c, "HMGET");
    rd_cmd_key(c, s, "kv:", key, len);
    for (int i = 0; i < 5; i++) rd_cmd_str(c, HF[i]);
}

static rd_cmd *new_cmd(attempt *a)
{
    if (a->n_cmds == a->cap_cmds) {
        size_t cap = a->cap_cmds ? a->cap_cmds * 2 : 16;
        rd_cmd *c = realloc(a->cmds, cap * sizeof *c);
        if (!c) {
            a->oom = 1;
            return NULL;
        }
        a->cmds = c;
        a->cap_cmds = cap;
    }
    rd_cmd *c = &a->cmds[a->n_cmds++];
    rd_cmd_init(c);
    return c;
}

static mevent *new_event(attempt *a)
{
    if (a->n_evs == a->cap_evs) {
        size_t cap = a->cap_evs ? a->cap_evs * 2 : 8;
        mevent *e = realloc(a->evs, cap * sizeof *e);
        if (!e) {
            a->oom = 1;
            return NULL;
        }
        a->evs = e;
        a->cap_evs = cap;
    }
    mevent *e = &a->evs[a->n_evs++];
    memset(e, 0, sizeof *e);
    return e;
}

static int holds(const mkey *k, const dc_compare *c)
{
    int exists = k && k->exists;
    int64_t x = 0;
    if (c->target == DC_TARGET_VALUE) {
        if (!exists) return 0; /* etcd: value compares on a missing key are false */
        int r = dc_key_cmp(k->kv.value, k->kv.value_len, c->value, c->value_len);
        x = r < 0 ? -1 : r > 0;
        switch (c->op) {
        case DC_CMP_EQUAL:
            return x == 0;
        case DC_CMP_NOT_EQUAL:
            return x != 0;
        case DC_CMP_LESS:
            return x < 0;
        default:
            return x > 0;
        }
    }
    if (exists) {
        switch (c->target) {
        case DC_TARGET_VERSION:
            x = k->kv.version;
            break;
        case DC_TARGET_CREATE:
            x = k->kv.create_revision;
            break;
        case DC_TARGET_MOD:
            x = k->kv.mod_revision;
            break;
        default:
            x = k->kv.lease;
            break;
        }
    }
    switch (c->op) {
    case DC_CMP_EQUAL:
        return x == c->number;
    case DC_CMP_NOT_EQUAL:
        return x != c->number;
    case DC_CMP_LESS:
        return x < c->number;
    default:
        return x > c->number;
    }
}

static int key_cmp(const void *x, const void *y)
{
    const mkey *a = *(mkey *const *)x, *b = *(mkey *const *)y;
    return dc_key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* The live keys under prefix, sorted: every key this attempt loaded (the
 * prefix's listing was loaded in step 3; keys put earlier in the branch are
 * in the map too). *out is malloc'd. */
static int live_under(attempt *a, const char *prefix, size_t len, mkey ***out, size_t *n)
{
    size_t cnt = 0;
    mkey *k, *tmp;
    HASH_ITER(hh, a->keys, k, tmp)
    cnt += k->exists && dc_key_has_prefix(k->key, k->key_len, prefix, len);
    *out = NULL;
    *n = 0;
    if (!cnt) return 0;
    mkey **arr = malloc(cnt * sizeof *arr);
    if (!arr) return -1;
    size_t i = 0;
    HASH_ITER(hh, a->keys, k, tmp)
    if (k->exists && dc_key_has_prefix(k->key, k->key_len, prefix, len)) arr[i++] = k;
    qsort(arr, cnt, sizeof *arr, key_cmp);
    *out = arr;
    *n = cnt;
    return 0;
}

static int kv_out(dc_kv *d, const mkey *k, int keys_only)
{
    *d = k->kv;
    return dc_kv_set(d, k->key, k->key_len, keys_only ? NULL : k->kv.value,
                     keys_only ? 0 : k->kv.value_len);
}

static void key_cmd(attempt *a, const char *verb, const char *suffix, const mkey *k)
{
    rd_cmd *c = new_cmd(a);
    if (!c) return;
    rd_cmd_str(c, verb);
    rd_cmd_key(c, a->s, suffix, k->key, k->key_len);
}

static void lease_set_cmd(attempt *a, const char *verb, int64_t lease, const mkey *k)
{
    rd_cmd *c = new_cmd(a);
    if (!c) return;
    char suffix[48];
    snprintf(suffix, sizeof suffix, "lease:%lld:keys", (long long)lease);
    rd_cmd_str(c, verb);
    rd_cmd_key(c, a->s, suffix, NULL, 0);
    rd_cmd_add(c, k->key, k->key_len);
}

static void idx_cmd(attempt *a, int add, const mkey *k)
{
    rd_cmd *c = new_cmd(a);
    if (!c) return;
    rd_cmd_str(c, add ? "ZADD" : "ZREM");
    rd_cmd_key(c, a->s, "idx", NULL, 0);
    if (add) rd_cmd_str(c, "0");
    rd_cmd_add(c, k->key, k->key_len);
}

static int sim_delete(attempt *a, mkey *k, dc_response *r, int want_prev)
{
    if (r && want_prev) {
        dc_kv *p = &r->prev_kvs[r->n_prev_kvs];
        if (kv_out(p, k, 0)) return -1;
        r->n_prev_kvs++;
    }
    if (r) r->deleted++;
    mevent *e = new_event(a);
    if (!e) return -1;
    e->k = k;
    e->has_prev = 1;
    e->prev = k->kv; /* takes the value */
    k->exists = 0;
    memset(&k->kv, 0, sizeof k->kv);
    key_cmd(a, "DEL", "kv:", k);
    idx_cmd(a, 0, k);
    if (e->prev.lease) lease_set_cmd(a, "SREM", e->prev.lease, k);
    return a->oom ? -1 : 0;
}

static int sim_put(attempt *a, const dc_op *op, int64_t rev, dc_response *r)
{
    mkey *k = find(a, op->key, op->key_len);
    if (!k) return -1;
    mevent *e = new_event(a);
    if (!e) return -1;
    e->put = 1;
    e->k = k;
    e->value = (char *)op->value;
    e->value_len = op->value_len;
    e->lease = op->lease;
    if (k->exists) {
        e->has_prev = 1;
        e->prev = k->kv;
        e->prev.value = malloc(k->kv.value_len + 1);
        if (!e->prev.value) return -1;
        memcpy(e->prev.value, k->kv.value, k->kv.value_len + 1);
        if (op->flags & DC_PREV_KV) {
            r->prev_kvs = calloc(1, sizeof *r->prev_kvs);
            if (!r->prev_kvs || kv_out(&r->prev_kvs[0], k, 0)) return -1;
            r->n_prev_kvs = 1;
        }
    }
    e->c = k->exists ? k->kv.create_revision : rev;
    e->ver = k->exists ? k->kv.version + 1 : 1;
    rd_cmd *c = new_cmd(a);
    if (!c) return -1;
    rd_cmd_str(c, "HSET");
    rd_cmd_key(c, a->s, "kv:", k->key, k->key_len);
    rd_cmd_str(c, "v");
    rd_cmd_add(c, op->value, op->value_len);
    rd_cmd_str(c, "c");
    rd_cmd_int(c, e->c);
    rd_cmd_str(c, "m");
    rd_cmd_int(c, rev);
    rd_cmd_str(c, "ver");
    rd_cmd_int(c, e->ver);
    rd_cmd_str(c, "lease");
    rd_cmd_int(c, op->lease);
    if (!k->exists) idx_cmd(a, 1, k);
    if (k->exists && k->kv.lease && k->kv.lease != op->lease)
        lease_set_cmd(a, "SREM", k->kv.lease, k);
    if (op->lease) lease_set_cmd(a, "SADD", op->lease, k);
    char *v = malloc(op->value_len + 1);
    if (!v) return -1;
    memcpy(v, op->value, op->value_len);
    v[op->value_len] = '\0';
    free(k->kv.value);
    k->kv.value = v;
    k->kv.value_len = op->value_len;
    k->kv.create_revision = e->c;
    k->kv.mod_revision = rev;
    k->kv.version = e->ver;
    k->kv.lease = op->lease;
    k->exists = 1;
    return a->oom ? -1 : 0;
}

static int sim_get(attempt *a, const dc_op *op, dc_response *r)
{
    mkey **list = NULL, *one;
    size_t n = 0;
    if (op->flags & DC_PREFIX) {
        if (live_under(a, op->key, op->key_len, &list, &n)) return -1;
    } else if ((one = find(a, op->key, op->key_len)) && one->exists) {
        list = malloc(sizeof *list);
        if (!list) return -1;
        list[0] = one;
        n = 1;
    }
    r->count = (int64_t)n;
    size_t want = op->limit > 0 && (size_t)op->limit < n ? (size_t)op->limit : n;
    r->more = want < n;
    int rc = 0;
    if (!(op->flags & DC_COUNT_ONLY) && want) {
        r->kvs = calloc(want, sizeof *r->kvs);
        for (size_t i = 0; r->kvs && i < want && !rc; i++) {
            rc = kv_out(&r->kvs[i], list[i], op->flags & DC_KEYS_ONLY);
            if (!rc) r->n_kvs++;
        }
        if (!r->kvs) rc = -1;
    }
    free(list);
    return rc;
}

static int sim_delete_op(attempt *a, const dc_op *op, dc_response *r)
{
    mkey **list = NULL, *one;
    size_t n = 0;
    if (op->flags & DC_PREFIX) {
        if (live_under(a, op->key, op->key_len, &list, &n)) return -1;
    } else if ((one = find(a, op->key, op->key_len)) && one->exists) {
        list = malloc(sizeof *list);
        if (!list) return -1;
        list[0] = one;
        n = 1;
    }
    int rc = 0;
    if (n && (op->flags & DC_PREV_KV) && !(r->prev_kvs = calloc(n, sizeof *r->prev_kvs))) rc = -1;
    for (size_t i = 0; i < n && !rc; i++) rc = sim_delete(a, list[i], r, op->flags & DC_PREV_KV);
    free(list);
    return rc;
}

/* The XADD of event i of n at rev. */
static void xadd(attempt *a, size_t i, int64_t rev, const char *token, int branch)
{
    mevent *e = &a->evs[i];
    rd_cmd *c = new_cmd(a);
    if (!c) return;
    char id[48];
    snprintf(id, sizeof id, "%lld-%zu", (long long)rev, i);
    rd_cmd_str(c, "XADD");
    rd_cmd_key(c, a->s, "log", NULL, 0);
    rd_cmd_str(c, id);
    rd_cmd_str(c, "t");
    rd_cmd_str(c, e->put ? "P" : "D");
    rd_cmd_str(c, "k");
    rd_cmd_add(c, e->k->key, e->k->key_len);
    if (e->put) {
        rd_cmd_str(c, "v");
        rd_cmd_add(c, e->value, e->value_len);
        rd_cmd_str(c, "c");
        rd_cmd_int(c, e->c);
        rd_cmd_str(c, "ver");
        rd_cmd_int(c, e->ver);
        rd_cmd_str(c, "lea");
        rd_cmd_int(c, e->lease);
    }
    if (e->has_prev) {
        rd_cmd_str(c, "pv");
        rd_cmd_add(c, e->prev.value, e->prev.value_len);
        rd_cmd_str(c, "pc");
        rd_cmd_int(c, e->prev.create_revision);
        rd_cmd_str(c, "pm");
        rd_cmd_int(c, e->prev.mod_revision);
        rd_cmd_str(c, "pver");
        rd_cmd_int(c, e->prev.version);
        rd_cmd_str(c, "plea");
        rd_cmd_int(c, e->prev.lease);
    }
    rd_cmd_str(c, "n");
    rd_cmd_int(c, (int64_t)a->n_evs);
    if (i == 0) {
        rd_cmd_str(c, "x");
        rd_cmd_str(c, token);
        rd_cmd_str(c, "b");
        rd_cmd_str(c, branch == DC_THEN ? "1" : "0");
    }
}

static int reply_err(rd_store *s, const redisReply *r, const char *what, dc_drv_err *err)
{
    return rd_reply_retryable(r) ? RD_AGAIN : rd_reply_error(s, r, what, err);
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

static int attempt_once(attempt *a, redisContext *ctx, const dc_txn_req *req, const char *token,
                        rd_revoke *rv, dc_txn_result *out, dc_drv_err *err)
{
    rd_store *s = a->s;
    /* ---- 1: WATCH, revision, compared keys (or the lease's records) */
    size_t n1 = 2 + (rv ? 2 : req->n_compares);
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
    if (rv) rd_cmd_key(&c[0], s, "leases", NULL, 0);
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "rev", NULL, 0);
    char lid[24] = "";
    if (rv) {
        snprintf(lid, sizeof lid, "%lld", (long long)rv->id);
        rd_cmd_str(&c[2], "ZSCORE");
        rd_cmd_key(&c[2], s, "leases", NULL, 0);
        rd_cmd_str(&c[2], lid);
        char suffix[48];
        snprintf(suffix, sizeof suffix, "lease:%s:keys", lid);
        rd_cmd_str(&c[3], "SMEMBERS");
        rd_cmd_key(&c[3], s, suffix, NULL, 0);
    } else {
        for (size_t i = 0; i < req->n_compares; i++)
            hmget(&c[2 + i], s, req->compares[i].key, req->compares[i].key_len);
    }
    rc = rd_pipeline(s, ctx, c, n1, r, err);
    for (size_t i = 0; i < n1; i++) rd_cmd_free(&c[i]);
    free(c);
    int64_t cur = 1;
    int ok = 1;
    redisReply *members = NULL;
    for (size_t i = 0; rc == DC_OK && i < n1; i++)
        if (r[i]->type == REDIS_REPLY_ERROR) rc = reply_err(s, r[i], "txn", err);
    if (rc == DC_OK && rd_int(r[1], &cur) < 0)
        rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the revision key is not a number");
    if (rc == DC_OK && rv) {
        int64_t dl = 0;
        int z = rd_int(r[2], &dl);
        rv->found = z == 0;
        if (z < 0) rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: a lease deadline");
        if (z != 0 || dl > rv->not_after) ok = 0; /* gone, or kept alive meanwhile */
        members = r[3];
        r[3] = NULL;
        if (members->type != REDIS_REPLY_ARRAY)
            rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: a lease's key set");
    }
    for (size_t i = 0; rc == DC_OK && !rv && i < req->n_compares; i++)
        rc = load(a, req->compares[i].key, req->compares[i].key_len, r[2 + i], err);
    rd_replies_free(r, n1);
    free(r);
    if (rc == DC_OK && !rv)
        for (size_t i = 0; i < req->n_compares && ok; i++)
            ok = holds(find(a, req->compares[i].key, req->compares[i].key_len), &req->compares[i]);
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
            dc_buf_free(&lo);
            dc_buf_free(&hi);
        } else {
            hmget(&c[k2], s, op->key, op->key_len);
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
            rc = load(a, op->key, op->key_len, r[j], err);
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
                hmget(&c[k3++], s, lists[i]->element[m]->str, lists[i]->element[m]->len);
        rc = rd_pipeline(s, ctx, c, n3, r, err);
        k3 = 0;
        for (size_t i = 0; rc == DC_OK && i < nops; i++)
            for (size_t m = 0; rc == DC_OK && lists[i] && m < lists[i]->elements; m++, k3++)
                rc = r[k3]->type == REDIS_REPLY_ERROR ? reply_err(s, r[k3], "txn", err)
                                                      : load(a, lists[i]->element[m]->str,
                                                             lists[i]->element[m]->len, r[k3], err);
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
            mkey *k = find(a, op->key, op->key_len);
            if (k && k->exists && k->kv.lease == rv->id) sim = sim_delete(a, k, NULL, 0);
        } else if (op->kind == DC_OP_GET) {
            sim = sim_get(a, op, o);
        } else if (op->kind == DC_OP_PUT) {
            sim = sim_put(a, op, rev, o);
        } else {
            sim = sim_delete_op(a, op, o);
        }
    }
    if (sim || a->oom) {
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    } else {
        size_t nw = a->n_cmds;
        for (size_t i = 0; i < a->n_evs; i++) xadd(a, i, rev, token, branch);
        if (a->n_evs) {
            rd_cmd *set = new_cmd(a);
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
            rd_cmd *d = new_cmd(a);
            if (d) {
                rd_cmd_str(d, "DEL");
                rd_cmd_key(d, s, k1, NULL, 0);
                rd_cmd_key(d, s, k2s, NULL, 0);
            }
            rd_cmd *z = new_cmd(a);
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
                    /* EXECABORT: nothing was applied */
                    rc = reply_err(s, e, "txn", err);
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
        rd_note_rev(s, out->revision);
        resp = NULL;
    }
    if (resp) {
        for (size_t i = 0; i < nops; i++) dc_response_clear(&resp[i]);
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
                 rd_revoke *rv, dc_txn_result *out, dc_drv_err *err)
{
    int64_t deadline = dc_now_ms() + s->request_timeout_ms;
    unsigned seed = (unsigned)dc_now_us() ^ (unsigned)(uintptr_t)&seed;
    for (int n = 0;; n++) {
        attempt a = {.s = s};
        int rc = attempt_once(&a, ctx, req, token, rv, out, err);
        attempt_free(&a);
        if (rc != RD_CONFLICT) return rc;
        if (dc_now_ms() >= deadline)
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
