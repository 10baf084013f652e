/*
 * The txn builder. Builder calls copy their arguments into the txn and
 * remember the first error, so a caller can build a whole txn and check only
 * the commit (curl's style). A compare's or op's key and value share one
 * allocation (the key's; the value follows its terminator), as txns are
 * built and freed for every protocol step. dc__txn_request validates the finished txn the
 * same way for every backend: known flags, non-empty keys, and no two writes
 * of one branch touching the same key (etcd's rule).
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

struct dc_txn {
    dc_compare *cmps;
    size_t n_cmps, cap_cmps;
    dc_op *ops[2];
    size_t n_ops[2], cap_ops[2];
    int err; /* first builder error */
    char errmsg[256];
};

dc_txn *dc_txn_new(void)
{
    return calloc(1, sizeof(dc_txn));
}

void dc_txn_free(dc_txn *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_cmps; i++) free((char *)t->cmps[i].key);
    free(t->cmps);
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; i < t->n_ops[b]; i++) free((char *)t->ops[b][i].key);
        free(t->ops[b]);
    }
    free(t);
}

static int fail(dc_txn *t, int code, const char *msg)
{
    if (t->err == DC_OK) {
        t->err = code;
        strncpy(t->errmsg, msg, sizeof t->errmsg - 1);
    }
    return dc__error(code, "txn: %s", msg);
}

/* Copies of key and, if value is not NULL, value, NUL-terminated, in one
 * allocation (returned; *value_copy points into it). NULL when out of memory. */
static char *dup_key_value(const void *key, size_t key_len, const void *value, size_t value_len,
                           const char **value_copy)
{
    if (key_len > SIZE_MAX - 2 || (value && value_len > SIZE_MAX - 2 - key_len)) return NULL;
    size_t size = key_len + 1 + (value ? value_len + 1 : 0);
    char *o = malloc(size);
    if (!o) return NULL;
    if (key_len) memcpy(o, key, key_len);
    o[key_len] = '\0';
    *value_copy = NULL;
    if (value) {
        char *v = o + key_len + 1;
        if (value_len) memcpy(v, value, value_len);
        v[value_len] = '\0';
        *value_copy = v;
    }
    return o;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 4;
    void *a = realloc(*arr, c * size);
    if (!a) return -1;
    *arr = a;
    *cap = c;
    return 0;
}

static int add_compare(dc_txn *t, const void *key, size_t key_len, dc_target target, dc_cmp op,
                       int64_t number, const void *value, size_t value_len)
{
    if (!t) return dc__error(DC_EINVAL, "txn: NULL txn");
    if (!key || !key_len) return fail(t, DC_EINVAL, "compare on an empty key");
    if ((unsigned)op > DC_CMP_GREATER) return fail(t, DC_EINVAL, "unknown compare operator");
    if ((unsigned)target > DC_TARGET_LEASE) return fail(t, DC_EINVAL, "unknown compare target");
    if (!value && value_len) return fail(t, DC_EINVAL, "NULL compare value");
    if (grow((void **)&t->cmps, &t->cap_cmps, t->n_cmps, sizeof *t->cmps))
        return fail(t, DC_ENOMEM, "out of memory");
    dc_compare *c = &t->cmps[t->n_cmps];
    memset(c, 0, sizeof *c);
    c->key = dup_key_value(key, key_len, target == DC_TARGET_VALUE ? (value ? value : "") : NULL,
                           value_len, &c->value);
    if (!c->key) return fail(t, DC_ENOMEM, "out of memory");
    c->key_len = key_len;
    c->value_len = target == DC_TARGET_VALUE ? value_len : 0;
    c->target = target;
    c->op = op;
    c->number = number;
    t->n_cmps++;
    return DC_OK;
}

int dc_txn_compare_value(dc_txn *t, const void *key, size_t key_len, dc_cmp op, const void *value,
                         size_t value_len)
{
    return add_compare(t, key, key_len, DC_TARGET_VALUE, op, 0, value, value_len);
}

int dc_txn_compare_int(dc_txn *t, const void *key, size_t key_len, dc_target target, dc_cmp op,
                       int64_t number)
{
    if (t && target == DC_TARGET_VALUE)
        return fail(t, DC_EINVAL, "integer compare on the value (use dc_txn_compare_value)");
    return add_compare(t, key, key_len, target, op, number, NULL, 0);
}

static int add_op(dc_txn *t, dc_branch b, dc_op_kind kind, const void *key, size_t key_len,
                  const void *value, size_t value_len, int64_t lease, int64_t limit, unsigned flags,
                  unsigned allowed)
{
    if (!t) return dc__error(DC_EINVAL, "txn: NULL txn");
    if (b != DC_THEN && b != DC_ELSE) return fail(t, DC_EINVAL, "unknown branch");
    if (flags & ~allowed) return fail(t, DC_EINVAL, "invalid flags for this op");
    if (!key && key_len) return fail(t, DC_EINVAL, "NULL key");
    if (key_len == 0 && !(kind == DC_OP_GET && (flags & DC_PREFIX)))
        return fail(t, DC_EINVAL, "empty key");
    if (!value && value_len) return fail(t, DC_EINVAL, "NULL value");
    if (lease < 0 || limit < 0) return fail(t, DC_EINVAL, "negative lease or limit");
    if (grow((void **)&t->ops[b], &t->cap_ops[b], t->n_ops[b], sizeof(dc_op)))
        return fail(t, DC_ENOMEM, "out of memory");
    dc_op *op = &t->ops[b][t->n_ops[b]];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->key = dup_key_value(key ? key : "", key_len,
                            kind == DC_OP_PUT ? (value ? value : "") : NULL, value_len, &op->value);
    if (!op->key) return fail(t, DC_ENOMEM, "out of memory");
    op->key_len = key_len;
    op->value_len = kind == DC_OP_PUT ? value_len : 0;
    op->lease = lease;
    op->limit = limit;
    op->flags = flags;
    t->n_ops[b]++;
    return DC_OK;
}

int dc_txn_get(dc_txn *t, dc_branch b, const void *key, size_t key_len, unsigned flags,
               int64_t limit)
{
    return add_op(t, b, DC_OP_GET, key, key_len, NULL, 0, 0, limit, flags,
                  DC_PREFIX | DC_KEYS_ONLY | DC_COUNT_ONLY);
}

int dc_txn_put(dc_txn *t, dc_branch b, const void *key, size_t key_len, const void *value,
               size_t value_len, int64_t lease, unsigned flags)
{
    return add_op(t, b, DC_OP_PUT, key, key_len, value, value_len, lease, 0, flags, DC_PREV_KV);
}

int dc_txn_delete(dc_txn *t, dc_branch b, const void *key, size_t key_len, unsigned flags)
{
    return add_op(t, b, DC_OP_DELETE, key, key_len, NULL, 0, 0, 0, flags, DC_PREFIX | DC_PREV_KV);
}

static int cmp_op_key(const void *a, const void *b)
{
    const dc_op *x = *(const dc_op *const *)a, *y = *(const dc_op *const *)b;
    return dc__key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* etcd's rule: within one branch no key may be written twice: two puts of one
 * key, or a put inside a deleted range. Sorting the puts makes it O(n log n). */
static int check_branch(const dc_op *ops, size_t n)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) np += ops[i].kind == DC_OP_PUT;
    if (np == 0) return DC_OK;
    const dc_op **puts = malloc(np * sizeof *puts);
    if (!puts) return dc__nomem("txn");
    np = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind == DC_OP_PUT) puts[np++] = &ops[i];
    qsort(puts, np, sizeof *puts, cmp_op_key);
    int rc = DC_OK;
    for (size_t i = 1; i < np && rc == DC_OK; i++)
        if (cmp_op_key(&puts[i - 1], &puts[i]) == 0)
            rc = dc__error(DC_EINVAL, "txn: duplicate key given in txn request (put '%.*s' twice)",
                           (int)puts[i]->key_len, puts[i]->key);
    for (size_t i = 0; i < n && rc == DC_OK; i++) {
        const dc_op *d = &ops[i];
        if (d->kind != DC_OP_DELETE) continue;
        /* binary search the first put >= the delete's key, then check it */
        size_t lo = 0, hi = np;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (dc__key_cmp(puts[mid]->key, puts[mid]->key_len, d->key, d->key_len) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < np &&
            ((d->flags & DC_PREFIX)
                 ? dc__key_has_prefix(puts[lo]->key, puts[lo]->key_len, d->key, d->key_len)
                 : dc__key_cmp(puts[lo]->key, puts[lo]->key_len, d->key, d->key_len) == 0))
            rc = dc__error(DC_EINVAL,
                           "txn: duplicate key given in txn request ('%.*s' put and deleted)",
                           (int)puts[lo]->key_len, puts[lo]->key);
    }
    free(puts);
    return rc;
}

int dc__txn_request(dc_txn *t, dc_txn_req *req)
{
    if (t->err != DC_OK) return dc__error(t->err, "txn: %s", t->errmsg);
    for (int b = 0; b < 2; b++) {
        int rc = check_branch(t->ops[b], t->n_ops[b]);
        if (rc != DC_OK) return rc;
    }
    req->compares = t->cmps;
    req->n_compares = t->n_cmps;
    for (int b = 0; b < 2; b++) {
        req->ops[b] = t->ops[b];
        req->n_ops[b] = t->n_ops[b];
    }
    return DC_OK;
}
