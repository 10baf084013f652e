/*
 * Transactions (and dc_put / dc_delete, which arrive as one-op txns): read,
 * decide, commit optimistically, retry on conflict.
 *
 * 1. Read every key the txn compares, reads or writes (snap.c), pipelined.
 *    Plain puts skip the consistent bracket: they always write, and the
 *    commit re-checks what they read.
 * 2. Evaluate the compares on the client and run the chosen branch against
 *    an overlay of those reads (a get after a put in one txn sees the put).
 *    A branch that changes nothing is answered from the snapshot.
 * 3. Commit one multi (multi.c). A version conflict means something changed
 *    since the reads: read again and decide again.
 *
 * ABA remedy (docs/backends/zk.md, "Mapping": deletion generations,
 * narrowed to the only writes that can cause ABA). A version check passes when a key was deleted
 * and recreated to the same dataVersion between read and commit. Such a recreate needs a delete,
 * and every delete bumps the deletion generation R/gen/NN of its key's shard (32 shards by key
 * hash) in the same multi. Reads take the generation *before* the key (one session, answered in
 * order), and the commit checks it for every existing key it relies on. So a delete + recreate in
 * between fails the commit, while unrelated writes (puts, deletes in other shards) never do. A txn
 * that reads or deletes a whole prefix cannot assert "no new key under the prefix" key by key, so
 * it checks the version of R/rev instead (strict: serialised against every write).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_multi.h"
#include "zk_ops.h"
#include "zk_session.h"
#include "zk_snap.h"

/* ------------------------------------------------------------ evaluation */

static int compare_holds(zk_snap *s, const dc_compare *cmp)
{
    zk_entry *e = zk_snap_find(s, cmp->key, cmp->key_len);
    if (!e || !e->present) return dc__compare_holds(cmp, NULL);
    /* a view of the entry as a dc_kv, without copying */
    dc_kv kv = {.value = e->value,
                .value_len = e->value_len,
                .create_revision = e->create_rev,
                .mod_revision = e->mod_rev,
                .version = e->version,
                .lease = e->lease};
    return dc__compare_holds(cmp, &kv);
}

/* The current state of an entry inside the txn (after earlier ops). */
static int cur_present(const zk_entry *e)
{
    return e->written ? e->fpresent : e->present;
}

static int cur_to_kv(const zk_entry *e, dc_kv *kv)
{
    if (e->written) {
        /* written earlier in this txn: etcd forbids writing one key twice, so
         * this only happens for reads, handled by zk_snap_range */
        return -1;
    }
    if (dc__kv_set(kv, e->key, e->key_len, e->value, e->value_len)) return -1;
    kv->create_revision = e->create_rev;
    kv->mod_revision = e->mod_rev;
    kv->version = e->version;
    kv->lease = e->lease;
    return 0;
}

static int add_prev(dc_response *r, const zk_entry *e)
{
    dc_kv *p = realloc(r->prev_kvs, (r->n_prev_kvs + 1) * sizeof *p);
    if (!p) return -1;
    r->prev_kvs = p;
    memset(&p[r->n_prev_kvs], 0, sizeof *p);
    if (cur_to_kv(e, &p[r->n_prev_kvs])) return -1;
    r->n_prev_kvs++;
    return 0;
}

/* An event for entry e (state before: the snapshot; after: the overlay). */
static int run_branch(zk_snap *s, const dc_op *ops, size_t nops, dc_response *resp, zk_ev **evs,
                      size_t *nev)
{
    for (size_t i = 0; i < nops; i++) {
        const dc_op *op = &ops[i];
        dc_response *r = &resp[i];
        r->kind = op->kind;
        if (op->kind == DC_OP_GET) {
            if (zk_snap_range(s, op, 1, &r->kvs, &r->n_kvs, &r->count, &r->more)) return -1;
            continue;
        }
        for (size_t j = 0; j < s->n; j++) {
            zk_entry *e = &s->e[j];
            int m = op->kind == DC_OP_DELETE && op->flags & DC_PREFIX
                        ? dc__key_has_prefix(e->key, e->key_len, op->key, op->key_len)
                        : dc__key_cmp(e->key, e->key_len, op->key, op->key_len) == 0;
            if (!m) continue;
            if (op->kind == DC_OP_PUT) {
                if (cur_present(e) && op->flags & DC_PREV_KV && add_prev(r, e)) return -1;
                e->fversion = e->present ? e->version + 1 : 1;
                e->fcreate = e->present ? e->create_rev : 0;
                e->fpresent = 1;
                e->fvalue = (char *)op->value;
                e->fvalue_len = op->value_len;
                e->flease = op->lease;
                e->written = 1;
                if (zk_add_event(evs, nev, e)) return -1;
                break;
            }
            if (!cur_present(e)) continue;
            if (op->flags & DC_PREV_KV && add_prev(r, e)) return -1;
            e->fpresent = 0;
            e->fvalue = NULL;
            e->fvalue_len = 0;
            e->written = 1;
            r->deleted++;
            if (zk_add_event(evs, nev, e)) return -1;
        }
    }
    return 0;
}

static void fix_responses(dc_response *resp, size_t n, int64_t rev)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < resp[i].n_kvs; j++) {
            if (resp[i].kvs[j].mod_revision == 0) resp[i].kvs[j].mod_revision = rev;
            if (resp[i].kvs[j].create_revision == 0) resp[i].kvs[j].create_revision = rev;
        }
}

static void free_responses(dc_response *resp, size_t n)
{
    for (size_t i = 0; i < n; i++) dc__response_clear(&resp[i]);
    free(resp);
}

/* ------------------------------------------------------------ txn */

static int check_limits(zk_conn *c, const dc_txn_req *req, dc_drv_err *err)
{
    if (req->n_compares > ZK_MAX_TXN_OPS || req->n_ops[0] > ZK_MAX_TXN_OPS ||
        req->n_ops[1] > ZK_MAX_TXN_OPS)
        return ZKERR(err, DC_ETOOBIG, "zk: txn has %zu compares and %zu/%zu ops, limit %d per list",
                     req->n_compares, req->n_ops[0], req->n_ops[1], ZK_MAX_TXN_OPS);
    for (size_t i = 0; i < req->n_compares; i++)
        if (req->compares[i].key_len > ZK_MAX_KEY)
            return ZKERR(err, DC_ETOOBIG, "zk: key of %zu bytes, limit %d",
                         req->compares[i].key_len, ZK_MAX_KEY);
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].key_len > ZK_MAX_KEY)
                return ZKERR(err, DC_ETOOBIG, "zk: key of %zu bytes, limit %d",
                             req->ops[b][i].key_len, ZK_MAX_KEY);
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind == DC_OP_PUT &&
                (int64_t)req->ops[b][i].value_len > c->cfg.max_value)
                return ZKERR(
                    err, DC_ETOOBIG,
                    "zk %s: value of %zu bytes, limit %lld (a ZooKeeper request, jute.maxbuffer, "
                    "carries each value twice plus the previous one)",
                    c->cfg.endpoint, req->ops[b][i].value_len, (long long)c->cfg.max_value);
    return DC_OK;
}

int zk_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    zk_conn *c = conn;
    int rc = check_limits(c, req, err);
    if (rc) return rc;
    /* A txn that writes needs no consistent snapshot: its multi re-checks
     * every key it read, so the reads all held at once when it commits. Only
     * a branch that writes nothing is answered from the reads, and then they
     * are read again as a snapshot. Prefix reads are always bracketed: their
     * strict check needs R/rev's version from before the listing. */
    int need_consistent = 0;
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    for (int attempt = 0;; attempt++) {
        zk_snap s;
        zk_snap_init(&s);
        int oom = 0;
        for (size_t i = 0; i < req->n_compares; i++)
            oom |= zk_snap_want_key(&s, req->compares[i].key, req->compares[i].key_len);
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < req->n_ops[b]; i++) {
                const dc_op *op = &req->ops[b][i];
                oom |= op->flags & DC_PREFIX ? zk_snap_want_prefix(&s, op->key, op->key_len)
                                             : zk_snap_want_key(&s, op->key, op->key_len);
            }
        if (oom) {
            zk_snap_free(&s);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        s.for_write = 1;
        int consistent = need_consistent || s.n_prefixes > 0;
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        rc = zk_snap_read(c, zh, &s, consistent, err);
        zk_release(&c->s);
        if (rc) {
            zk_snap_free(&s);
            if (rc == DC_ECOMPACTED && attempt < 10) continue;
            if (zk_recover(&c->s, gen, rc, attempt, deadline)) continue;
            return rc;
        }
        int ok = 1;
        for (size_t i = 0; i < req->n_compares && ok; i++)
            ok = compare_holds(&s, &req->compares[i]);
        int br = ok ? DC_THEN : DC_ELSE;
        size_t nops = req->n_ops[br];
        dc_response *resp = calloc(nops ? nops : 1, sizeof *resp);
        zk_ev *evs = NULL;
        size_t nev = 0;
        if (!resp || run_branch(&s, req->ops[br], nops, resp, &evs, &nev)) {
            if (resp) free_responses(resp, nops);
            free(evs);
            zk_snap_free(&s);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        if (nev == 0 && !consistent) {
            free_responses(resp, nops);
            free(evs);
            zk_snap_free(&s);
            need_consistent = 1;
            attempt--;
            continue;
        }
        if (nev == 0) {
            /* nothing to write: the answer is the snapshot */
            free(evs);
            out->succeeded = ok;
            out->revision = s.rev;
            out->responses = resp;
            out->n_responses = nops;
            zk_snap_free(&s);
            return DC_OK;
        }
        unsigned char token[ZK_TOKEN_LEN];
        zk_new_token(&c->s, token);
        zk_plan p;
        memset(&p, 0, sizeof p);
        zh = zk_acquire(&c->s, &gen);
        rc = zk_plan_build(c, zh, &s, s.n_prefixes > 0, evs, nev, token, &p, err);
        zk_release(&c->s);
        free(evs);
        int64_t rev = 0;
        if (rc == DC_OK && c->cfg.debug_commit_delay_ms) dc__sleep_ms(c->cfg.debug_commit_delay_ms);
        if (rc == DC_OK) rc = zk_plan_commit(c, gen, &s, &p, token, deadline, &rev, err);
        zk_plan_free(&p);
        zk_snap_free(&s);
        if (rc == ZK_COMMIT_OK) {
            fix_responses(resp, nops, rev);
            out->succeeded = ok;
            out->revision = rev;
            out->responses = resp;
            out->n_responses = nops;
            return DC_OK;
        }
        free_responses(resp, nops);
        if (rc == ZK_COMMIT_PTR) {
            zk_ptr_invalidate(c);
            if (dc__now_ms() < deadline) continue;
            return ZKERR(err, DC_EUNAVAILABLE, "zk %s: the event log kept rolling over",
                         c->cfg.endpoint);
        }
        if (rc == ZK_COMMIT_RETRY) {
            if (dc__now_ms() >= deadline)
                return ZKERR(err, DC_EUNAVAILABLE,
                             "zk %s: txn kept conflicting with concurrent writes for %d ms",
                             c->cfg.endpoint, c->cfg.request_timeout_ms);
            if (attempt >= 3) dc__sleep_ms(rand() % (attempt < 20 ? attempt : 20) + 1);
            continue;
        }
        if (zk_recover(&c->s, gen, rc, attempt, deadline)) continue;
        return rc;
    }
}
