/*
 * Guarded writes: how the master writes without ever overwriting what a
 * worker wrote (DESIGN §5, items 2, 6 and 8).
 *
 * pess_write_keys reads a batch of keys, asks the caller what to do with each
 * given exactly what it read, and commits the writes with one compare per
 * written key on that state (missing: create_revision == 0; present:
 * mod_revision == r) plus the fencing compare. If a compare lost a race, the
 * txn's else branch returns the keys' fresh state and the decision is made
 * again; a failed fence is DC_ECHANGED at once. Batches hold at most 32 keys,
 * so a txn never grows with the number of sources (etcd allows 128 ops).
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK     32
#define MAX_RACES 16

int pess_fence_add(const pess_fence *f, dc_txn *txn)
{
    if (!f || !f->key) return DC_OK;
    int rc = dc_txn_compare_int(txn, f->key, f->key_len, DC_TARGET_CREATE, DC_CMP_EQUAL,
                                f->create_revision);
    if (!rc) rc = dc_txn_get(txn, DC_ELSE, f->key, f->key_len, DC_KEYS_ONLY, 0);
    return rc;
}

int pess_fence_failed(const pess_fence *f, const dc_txn_result *res)
{
    if (!f || !f->key || res->succeeded || res->n_responses == 0) return 0;
    const dc_response *r = &res->responses[0];
    return r->n_kvs == 0 || r->kvs[0].create_revision != f->create_revision;
}

/* Read keys[0..n) in one txn (a consistent snapshot). cur[i] is a copy or
 * a zeroed kv (key NULL) when missing. */
static int read_chunk(dc_store *store, char *const *keys, size_t n, dc_txn_result **res)
{
    dc_txn *t = dc_txn_new();
    if (!t) return dc__error(DC_ENOMEM, "out of memory");
    int rc = DC_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = dc_txn_get(t, DC_THEN, keys[i], strlen(keys[i]), 0, 0);
    if (!rc) rc = dc_txn_commit(store, t, res);
    dc_txn_free(t);
    return rc;
}

/* One chunk: decide with the state in `state` (responses offset by `skip`),
 * write, and on a lost race loop with the else-branch state. */
static int write_chunk(dc_store *store, const pess_fence *fence, char *const *keys, size_t base,
                       size_t n, pess_decide_fn decide, void *ctx, int64_t *max_rev, int64_t *revs)
{
    dc_txn_result *state;
    int rc = read_chunk(store, keys + base, n, &state);
    if (rc) return rc;
    size_t skip = 0; /* responses before the keys' gets (the fence's) */
    for (int race = 0;; race++) {
        if (race == MAX_RACES) {
            dc_txn_result_free(state);
            return dc__error(DC_ETIMEDOUT, "%s: gave up after %d lost races", keys[base],
                             MAX_RACES);
        }
        dc_txn *t = dc_txn_new();
        if (!t) {
            dc_txn_result_free(state);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        rc = pess_fence_add(fence, t);
        size_t writes = 0;
        unsigned char wrote[CHUNK] = {0};
        for (size_t i = 0; i < n && !rc; i++) {
            const dc_response *r = &state->responses[skip + i];
            const dc_kv *cur = r->n_kvs ? &r->kvs[0] : NULL;
            pess_act act = PESS_SKIP;
            char *value = NULL;
            const char *k = keys[base + i];
            size_t kl = strlen(k);
            rc = decide(ctx, base + i, cur, &act, &value);
            if (!rc && act != PESS_SKIP) {
                rc = cur ? dc_txn_compare_int(t, k, kl, DC_TARGET_MOD, DC_CMP_EQUAL,
                                              cur->mod_revision)
                         : dc_txn_compare_int(t, k, kl, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
                if (!rc && act == PESS_PUT)
                    rc = dc_txn_put(t, DC_THEN, k, kl, value, strlen(value), 0, 0);
                if (!rc && act == PESS_DELETE) rc = dc_txn_delete(t, DC_THEN, k, kl, 0);
                writes++;
                wrote[i] = 1;
            }
            free(value);
        }
        for (size_t i = 0; i < n && !rc; i++)
            rc = dc_txn_get(t, DC_ELSE, keys[base + i], strlen(keys[base + i]), 0, 0);
        dc_txn_result_free(state);
        state = NULL;
        if (rc || writes == 0) {
            dc_txn_free(t);
            return rc;
        }
        rc = dc_txn_commit(store, t, &state);
        dc_txn_free(t);
        if (rc) return rc;
        if (state->succeeded) {
            if (max_rev && state->revision > *max_rev) *max_rev = state->revision;
            for (size_t i = 0; revs && i < n; i++)
                if (wrote[i]) revs[base + i] = state->revision;
            dc_txn_result_free(state);
            return DC_OK;
        }
        if (pess_fence_failed(fence, state)) {
            dc_txn_result_free(state);
            return dc__error(DC_ECHANGED, "fencing key %.*s changed: no longer the leader",
                             (int)fence->key_len, fence->key);
        }
        skip = fence && fence->key ? 1 : 0;
    }
}

int pess_write_keys(dc_store *store, const pess_fence *fence, char *const *keys, size_t n,
                    pess_decide_fn decide, void *ctx, int64_t *max_rev, int64_t *revs)
{
    if (max_rev) *max_rev = 0;
    for (size_t i = 0; revs && i < n; i++) revs[i] = 0;
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t len = n - base < CHUNK ? n - base : CHUNK;
        int rc = write_chunk(store, fence, keys, base, len, decide, ctx, max_rev, revs);
        if (rc) return rc;
    }
    return DC_OK;
}
