/*
 * Simulating a multi-mode txn branch on the snapshot read under WATCH: each
 * op is applied to the in-memory state of the keys it touches (so a get sees
 * the branch's earlier puts, as in etcd) and turns into the HSET/DEL,
 * ZADD/ZREM, SADD/SREM commands and the events (XADD <rev>-<i>) that
 * txn_multi.c sends between MULTI and EXEC. Memory: the state owns copies of
 * keys and values; events borrow put values from the request.
 */
#include "multi_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static const char *HF[] = {"v", "c", "m", "ver", "lease"};

void ms_free(attempt *a)
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

mkey *ms_find(attempt *a, const char *key, size_t len)
{
    mkey *k;
    HASH_FIND(hh, a->keys, key, len, k);
    return k;
}

/* Record a key's state from an HMGET reply. 0, or a DC error code. */
int ms_load(attempt *a, const char *key, size_t len, const redisReply *h, dc_drv_err *err)
{
    if (ms_find(a, key, len)) return DC_OK;
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
    if (!k->hh.tbl) { /* uthash could not grow its table (HASH_NONFATAL_OOM) */
        free(k->kv.value);
        free(k->key);
        free(k);
        return rd_err(err, DC_ENOMEM, a->s, "out of memory");
    }
    return DC_OK;
}

void ms_hmget(rd_cmd *c, const rd_store *s, const char *key, size_t len)
{
    rd_cmd_str(c, "HMGET");
    rd_cmd_key(c, s, "kv:", key, len);
    for (int i = 0; i < 5; i++) rd_cmd_str(c, HF[i]);
}

rd_cmd *ms_new_cmd(attempt *a)
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

int ms_holds(const mkey *k, const dc_compare *c)
{
    return dc__compare_holds(c, k && k->exists ? &k->kv : NULL);
}

static int key_cmp(const void *x, const void *y)
{
    const mkey *a = *(mkey *const *)x, *b = *(mkey *const *)y;
    return dc__key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* The live keys under prefix, sorted: every key this attempt loaded (the
 * prefix's listing was loaded in step 3; keys put earlier in the branch are
 * in the map too). *out is malloc'd. */
static int live_under(attempt *a, const char *prefix, size_t len, mkey ***out, size_t *n)
{
    size_t cnt = 0;
    mkey *k, *tmp;
    HASH_ITER(hh, a->keys, k, tmp)
    cnt += k->exists && dc__key_has_prefix(k->key, k->key_len, prefix, len);
    *out = NULL;
    *n = 0;
    if (!cnt) return 0;
    mkey **arr = malloc(cnt * sizeof *arr);
    if (!arr) return -1;
    size_t i = 0;
    HASH_ITER(hh, a->keys, k, tmp)
    if (k->exists && dc__key_has_prefix(k->key, k->key_len, prefix, len)) arr[i++] = k;
    qsort(arr, cnt, sizeof *arr, key_cmp);
    *out = arr;
    *n = cnt;
    return 0;
}

static int kv_out(dc_kv *d, const mkey *k, int keys_only)
{
    *d = k->kv;
    return dc__kv_set(d, k->key, k->key_len, keys_only ? NULL : k->kv.value,
                      keys_only ? 0 : k->kv.value_len);
}

static void key_cmd(attempt *a, const char *verb, const char *suffix, const mkey *k)
{
    rd_cmd *c = ms_new_cmd(a);
    if (!c) return;
    rd_cmd_str(c, verb);
    rd_cmd_key(c, a->s, suffix, k->key, k->key_len);
}

static void lease_set_cmd(attempt *a, const char *verb, int64_t lease, const mkey *k)
{
    rd_cmd *c = ms_new_cmd(a);
    if (!c) return;
    char suffix[48];
    snprintf(suffix, sizeof suffix, "lease:%lld:keys", (long long)lease);
    rd_cmd_str(c, verb);
    rd_cmd_key(c, a->s, suffix, NULL, 0);
    rd_cmd_add(c, k->key, k->key_len);
}

static void idx_cmd(attempt *a, int add, const mkey *k)
{
    rd_cmd *c = ms_new_cmd(a);
    if (!c) return;
    rd_cmd_str(c, add ? "ZADD" : "ZREM");
    rd_cmd_key(c, a->s, "idx", NULL, 0);
    if (add) rd_cmd_str(c, "0");
    rd_cmd_add(c, k->key, k->key_len);
}

int ms_delete_key(attempt *a, mkey *k, dc_response *r, int want_prev)
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

int ms_put(attempt *a, const dc_op *op, int64_t rev, dc_response *r)
{
    mkey *k = ms_find(a, op->key, op->key_len);
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
    rd_cmd *c = ms_new_cmd(a);
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

int ms_get(attempt *a, const dc_op *op, dc_response *r)
{
    mkey **list = NULL, *one;
    size_t n = 0;
    if (op->flags & DC_PREFIX) {
        if (live_under(a, op->key, op->key_len, &list, &n)) return -1;
    } else if ((one = ms_find(a, op->key, op->key_len)) && one->exists) {
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

int ms_delete(attempt *a, const dc_op *op, dc_response *r)
{
    mkey **list = NULL, *one;
    size_t n = 0;
    if (op->flags & DC_PREFIX) {
        if (live_under(a, op->key, op->key_len, &list, &n)) return -1;
    } else if ((one = ms_find(a, op->key, op->key_len)) && one->exists) {
        list = malloc(sizeof *list);
        if (!list) return -1;
        list[0] = one;
        n = 1;
    }
    int rc = 0;
    if (n && (op->flags & DC_PREV_KV) && !(r->prev_kvs = calloc(n, sizeof *r->prev_kvs))) rc = -1;
    for (size_t i = 0; i < n && !rc; i++) rc = ms_delete_key(a, list[i], r, op->flags & DC_PREV_KV);
    free(list);
    return rc;
}

/* The XADD of event i of n at rev. */
void ms_xadd(attempt *a, size_t i, int64_t rev, const char *token, int branch)
{
    mevent *e = &a->evs[i];
    rd_cmd *c = ms_new_cmd(a);
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
