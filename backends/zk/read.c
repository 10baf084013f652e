/*
 * get: a consistent read of one key or a prefix, retried across connection
 * loss and session expiry until the request timeout (reads are idempotent).
 *
 * One key takes a short path: the revision node, the key and the kv parent
 * are read back to back (one session: answered in order). A present key is
 * answered at max(R0, its mod revision) — at that revision it had exactly
 * this state. A missing key is missing at R0 if no child of R/kv came or
 * went since (pzxid <= R0). Anything else takes the general path of snap.c
 * (revision bracket and log patch).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_layout.h"
#include "zk_ops.h"
#include "zk_session.h"
#include "zk_snap.h"

/* 1 answered, 0 take the general path, <0 a DC_E code. */
static int get_key(zk_conn *c, zhandle_t *zh, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    dc_buf path = DC_BUF_INIT;
    if (dc__buf_printf(&path, "%s/", c->lay.p_kv) || zk_key_escape(&path, op->key, op->key_len)) {
        dc__buf_free(&path);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    zk_batch b;
    zk_batch_init(&b);
    /* a server may lag the leader: catch up first (the reads after it wait
     * for it; a failed sync fails them too, batch.c) */
    if (c->cfg.sync && zk_batch_add(&b, ZK_Q_SYNC, c->lay.p_rev) < 0) {
        zk_batch_free(&b);
        dc__buf_free(&path);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    int r0 = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev), k = zk_batch_add(&b, ZK_Q_GET, path.p),
        kv = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_kv),
        ep = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.epoch_path);
    int rc = 0;
    if (r0 < 0 || k < 0 || kv < 0 || ep < 0) {
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    zk_batch_run(&b, zh, 0);
    if ((rc = zk_epoch_rc(&c->lay, b.slots[ep].rc, err)) != DC_OK) goto out;
    for (int i = r0; i < (int)b.n; i++) {
        int zrc = b.slots[i].rc;
        if (zrc != ZOK && !(i == k && zrc == ZNONODE)) {
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->cfg.endpoint,
                       b.slots[i].path, zerror(zrc));
            goto out;
        }
    }
    int64_t rev0 = b.slots[r0].stat.mzxid;
    zk_slot *ks = &b.slots[k];
    if (ks->rc == ZNONODE) {
        if (b.slots[kv].stat.pzxid > rev0) goto out; /* not provably missing at R0 */
        out->revision = rev0;
        rc = 1;
        goto out;
    }
    int64_t lease;
    const char *v;
    size_t vl;
    if (zk_kv_decode(ks->data, ks->len, &lease, &v, &vl)) {
        c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt kv znode %s", c->cfg.endpoint, path.p);
        rc = ZKERR(err, DC_ECORRUPT, "zk %s: corrupt data in %s", c->cfg.endpoint, path.p);
        goto out;
    }
    out->count = 1;
    out->revision = ks->stat.mzxid > rev0 ? ks->stat.mzxid : rev0;
    rc = 1;
    if (op->flags & DC_COUNT_ONLY) goto out;
    out->kvs = calloc(1, sizeof *out->kvs);
    int keys_only = (op->flags & DC_KEYS_ONLY) != 0;
    if (!out->kvs ||
        dc__kv_set(out->kvs, op->key, op->key_len, keys_only ? NULL : v, keys_only ? 0 : vl)) {
        free(out->kvs);
        out->kvs = NULL;
        out->count = 0;
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    out->n = 1;
    out->kvs->create_revision = ks->stat.czxid;
    out->kvs->mod_revision = ks->stat.mzxid;
    out->kvs->version = (int64_t)ks->stat.version + 1;
    out->kvs->lease = lease;
out:
    zk_batch_free(&b);
    dc__buf_free(&path);
    return rc;
}

int zk_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    zk_conn *c = conn;
    if (op->key_len > ZK_MAX_KEY)
        return ZKERR(err, DC_ETOOBIG, "zk: key of %zu bytes, limit %d", op->key_len, ZK_MAX_KEY);
    if (!(op->flags & DC_PREFIX)) {
        int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
        for (int attempt = 0;; attempt++) {
            uint64_t gen;
            zhandle_t *zh = zk_acquire(&c->s, &gen);
            int rc = get_key(c, zh, op, out, err);
            zk_release(&c->s);
            if (rc == 1) return DC_OK;
            if (rc == 0) break;
            if (!zk_recover(&c->s, gen, rc, attempt, deadline)) return rc;
        }
    }
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    for (int attempt = 0;; attempt++) {
        zk_snap s;
        zk_snap_init(&s);
        int rc = op->flags & DC_PREFIX ? zk_snap_want_prefix(&s, op->key, op->key_len)
                                       : zk_snap_want_key(&s, op->key, op->key_len);
        if (rc) {
            zk_snap_free(&s);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        rc = zk_snap_read(c, zh, &s, 1, err);
        zk_release(&c->s);
        if (rc == DC_OK) {
            if (zk_snap_range(&s, op, 0, &out->kvs, &out->n, &out->count, &out->more))
                rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            out->revision = s.rev;
            zk_snap_free(&s);
            return rc;
        }
        zk_snap_free(&s);
        /* the log records needed for a patch were compacted meanwhile: read again */
        if (rc == DC_ECOMPACTED && attempt < 10) continue;
        if (!zk_recover(&c->s, gen, rc, attempt, deadline)) return rc;
    }
}
