/*
 * Guarded writes: how the master writes without ever overwriting what a
 * worker wrote (docs/DESIGN.md, "Beyond DM", items 2, 6 and 8).
 *
 * dcp_write_keys takes the state of a batch of keys, asks the caller what to
 * do with each given exactly that state, and commits the writes with one
 * compare per written key on it (missing: create_revision == 0; present:
 * mod_revision == r) plus the fencing compare. The state comes from the
 * master's mirror of the operation keys when it covers the whole batch (no
 * read before the write: the master already saw every event of those keys),
 * else from one read txn. Either way only the compare makes a write safe: a
 * stale belief just loses the race. If a compare lost a race, the
 * txn's else branch returns the keys' fresh state and the decision is made
 * again; a failed fence is DC_ECHANGED at once. Batches hold at most 32 keys,
 * so a txn never grows with the number of sources (etcd allows 128 ops).
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK     32
#define MAX_RACES 16

int dcp_fence_add(const pess_fence *f, dc_txn *txn)
{
    if (!f || !f->key) return DC_OK;
    int rc = dc_txn_compare_int(txn, f->key, f->key_len, DC_TARGET_CREATE, DC_CMP_EQUAL,
                                f->create_revision);
    if (!rc) rc = dc_txn_get(txn, DC_ELSE, f->key, f->key_len, DC_KEYS_ONLY, 0);
    return rc;
}

int dcp_fence_failed(const pess_fence *f, const dc_txn_result *res)
{
    if (!f || !f->key || res->succeeded || res->n_responses == 0) return 0;
    const dc_response *r = &res->responses[0];
    return r->n_kvs == 0 || r->kvs[0].create_revision != f->create_revision;
}

int dcp_mirror_covers(const pess_mirror *mr, const char *key, size_t key_len)
{
    return mr && mr->valid && key_len > mr->prefix_len &&
           memcmp(key, mr->prefix, mr->prefix_len) == 0;
}

pess_mirror_ent *dcp_mirror_find(const pess_mirror *mr, const char *key, size_t key_len)
{
    pess_mirror_ent *e = NULL;
    HASH_FIND(hh, mr->ents, key, key_len, e);
    return e;
}

int dcp_mirror_put(pess_mirror *mr, const dc_kv *kv)
{
    /* One allocation per key (entry, key, value): the mirror holds every
     * operation in flight, so its per-key overhead is the master's memory. */
    pess_mirror_ent *e = malloc(sizeof *e + kv->key_len + 1 + kv->value_len + 1);
    if (!e) return dc__error(DC_ENOMEM, "out of memory");
    memset(&e->hh, 0, sizeof e->hh);
    e->op_id = NULL;
    e->create_revision = kv->create_revision;
    e->mod_revision = kv->mod_revision;
    e->key_len = kv->key_len;
    e->value_len = kv->value_len;
    memcpy(e->key, kv->key, kv->key_len);
    e->key[kv->key_len] = '\0';
    e->value = e->key + kv->key_len + 1;
    if (kv->value_len) memcpy(e->value, kv->value, kv->value_len);
    e->value[kv->value_len] = '\0';
    dcp_mirror_del(mr, kv->key, kv->key_len);
    HASH_ADD_KEYPTR(hh, mr->ents, e->key, e->key_len, e);
    if (DC_HASH_ADDED(hh, e)) return DC_OK;
    free(e); /* the key is now missing from the mirror: the caller rebuilds */
    return dc__error(DC_ENOMEM, "out of memory");
}

void dcp_mirror_note_id(pess_mirror *mr, const char *key, size_t key_len, int64_t rev,
                        const char *id)
{
    pess_mirror_ent *e = dcp_mirror_find(mr, key, key_len);
    if (!e || e->mod_revision != rev || e->op_id) return;
    e->op_id = strdup(id);
}

const char *dcp_mirror_id(const pess_mirror *mr, const dc_kv *kv)
{
    if (!mr) return NULL;
    const pess_mirror_ent *e = dcp_mirror_find(mr, kv->key, kv->key_len);
    /* A key's mod_revision names one value: same revision, same lock ID. */
    return e && e->mod_revision == kv->mod_revision ? e->op_id : NULL;
}

static void ent_free(pess_mirror_ent *e)
{
    free(e->op_id);
    free(e);
}

void dcp_mirror_del(pess_mirror *mr, const char *key, size_t key_len)
{
    pess_mirror_ent *e = NULL;
    HASH_FIND(hh, mr->ents, key, key_len, e);
    if (!e) return;
    HASH_DEL(mr->ents, e);
    ent_free(e);
}

void dcp_mirror_clear(pess_mirror *mr)
{
    pess_mirror_ent *e, *tmp;
    HASH_ITER(hh, mr->ents, e, tmp)
    {
        HASH_DEL(mr->ents, e);
        ent_free(e);
    }
    mr->valid = 0;
}

int dcp_mirror_seed(pess_mirror *mr, const dc_kv *kvs, size_t n)
{
    dcp_mirror_clear(mr);
    for (size_t i = 0; i < n; i++) {
        int rc = dcp_mirror_put(mr, &kvs[i]);
        if (rc) {
            dcp_mirror_clear(mr);
            return rc;
        }
    }
    mr->valid = 1;
    return DC_OK;
}

/* Read keys[0..n) in one txn (a consistent snapshot). */
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

/* The mirror's belief about keys[0..n) as kvs (cur[i] NULL = absent), or 0
 * when it does not cover every key (the chunk is then read). */
static int from_mirror(const pess_mirror *mr, char *const *keys, size_t n, dc_kv *buf,
                       const dc_kv **cur)
{
    for (size_t i = 0; i < n; i++)
        if (!dcp_mirror_covers(mr, keys[i], strlen(keys[i]))) return 0;
    for (size_t i = 0; i < n; i++) {
        pess_mirror_ent *e = dcp_mirror_find(mr, keys[i], strlen(keys[i]));
        cur[i] = NULL;
        if (!e) continue;
        buf[i] = (dc_kv){e->key,          e->key_len, e->value, e->value_len, e->create_revision,
                         e->mod_revision, 0,          0};
        cur[i] = &buf[i];
    }
    return 1;
}

/* One chunk: decide on the mirror's state (or what a read returned), write,
 * and on a lost race loop with the else-branch state. */
static int write_chunk(dc_store *store, const pess_fence *fence, const pess_mirror *mirror,
                       char *const *keys, size_t base, size_t n, pess_decide_fn decide, void *ctx,
                       int64_t *max_rev, int64_t *revs)
{
    dc_txn_result *state = NULL;
    dc_kv buf[CHUNK];
    const dc_kv *cur[CHUNK];
    int rc = DC_OK;
    /* A belief from the mirror backs a skip as much as a write: "nothing to
     * do" may be stale too (a done mark not yet seen: step 10 would leave
     * it). So while deciding on the mirror, every key gets its compare and
     * the txn is committed even when it writes nothing; a lost race then
     * brings the fresh state, which needs no such check (as a read). */
    int verify = from_mirror(mirror, keys + base, n, buf, cur);
    if (!verify) {
        if ((rc = read_chunk(store, keys + base, n, &state)) != DC_OK) return rc;
        for (size_t i = 0; i < n; i++)
            cur[i] = state->responses[i].n_kvs ? &state->responses[i].kvs[0] : NULL;
    }
    for (int race = 0;; race++) {
        if (race == MAX_RACES) {
            dc_txn_result_free(state);
            return dc__error(DC_ETIMEDOUT, "%s: gave up after %d lost races", dc__e(keys[base]),
                             MAX_RACES);
        }
        dc_txn *t = dc_txn_new();
        if (!t) {
            dc_txn_result_free(state);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        rc = dcp_fence_add(fence, t);
        size_t writes = 0;
        unsigned char wrote[CHUNK] = {0};
        for (size_t i = 0; i < n && !rc; i++) {
            pess_act act = PESS_SKIP;
            char *value = NULL;
            const char *k = keys[base + i];
            size_t kl = strlen(k);
            rc = decide(ctx, base + i, cur[i], &act, &value);
            if (!rc && (act != PESS_SKIP || verify))
                rc = cur[i] ? dc_txn_compare_int(t, k, kl, DC_TARGET_MOD, DC_CMP_EQUAL,
                                                 cur[i]->mod_revision)
                            : dc_txn_compare_int(t, k, kl, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
            if (!rc && act != PESS_SKIP) {
                if (act == PESS_PUT) rc = dc_txn_put(t, DC_THEN, k, kl, value, strlen(value), 0, 0);
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
        if (rc || (writes == 0 && !verify)) {
            dc_txn_free(t);
            return rc;
        }
        verify = 0;
        rc = dc_txn_commit(store, t, &state);
        dc_txn_free(t);
        if (rc) return rc;
        if (state->succeeded) {
            if (writes && max_rev && state->revision > *max_rev) *max_rev = state->revision;
            for (size_t i = 0; revs && i < n; i++)
                if (wrote[i]) revs[base + i] = state->revision;
            dc_txn_result_free(state);
            return DC_OK;
        }
        if (dcp_fence_failed(fence, state)) {
            dc_txn_result_free(state);
            return dc__error(DC_ECHANGED, "fencing key %.*s changed: no longer the leader",
                             (int)fence->key_len, fence->key);
        }
        /* Lost a race: decide again on the fresh state the else branch read
         * (after the fence's get, when there is a fence). */
        size_t skip = fence && fence->key ? 1 : 0;
        for (size_t i = 0; i < n; i++) {
            const dc_response *r = &state->responses[skip + i];
            cur[i] = r->n_kvs ? &r->kvs[0] : NULL;
        }
    }
}

int dcp_write_keys(dc_store *store, const pess_fence *fence, const pess_mirror *mirror,
                   char *const *keys, size_t n, pess_decide_fn decide, void *ctx, int64_t *max_rev,
                   int64_t *revs)
{
    if (max_rev) *max_rev = 0;
    for (size_t i = 0; revs && i < n; i++) revs[i] = 0;
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t len = n - base < CHUNK ? n - base : CHUNK;
        int rc = write_chunk(store, fence, mirror, keys, base, len, decide, ctx, max_rev, revs);
        if (rc) return rc;
    }
    return DC_OK;
}
