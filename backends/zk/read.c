/*
 * get: a consistent read of one key or a prefix (snap.c does the work),
 * retried across connection loss and session expiry until the request
 * timeout. Reads are idempotent, so retrying them blindly is safe.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "zk.h"

int zk_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    zk_conn *c = conn;
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
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
        zhandle_t *zh = zk_acquire(c, &gen);
        rc = zk_snap_read(c, zh, &s, 1, err);
        zk_release(c);
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
        if (!zk_recover(c, gen, rc, attempt, deadline)) return rc;
    }
}
