/*
 * The commit half of every write: one zoo_multi built from a snapshot whose
 * entries a txn has marked written (txn.c, lease.c), sent, and interpreted.
 *
 * The multi re-asserts everything the decision was based on, then writes:
 * check(R/epoch/<name>) so that nothing prepared against a history that was
 * wiped applies to a new one (DC_ERESET); check(R/ev, pointer version) so
 * the event lands in the current bucket;
 * per key read: set/delete/check with the version read, or create + delete
 * to assert that a key read as missing is still missing (or, for txns that
 * read whole prefixes, one check of R/rev's version); the kv writes; lease
 * attachments; the deletion generations (see txn.c on ABA); one sequential
 * event record with the changes and their previous values; setData(R/rev),
 * whose Stat.mzxid is the revision.
 *
 * Unknown outcome. ZCONNECTIONLOSS or ZOPERATIONTIMEOUT on a multi does not
 * say whether it committed. Every event record carries a 16-byte token unique
 * to the attempt; after reconnecting, commit() looks for it among the events
 * of the bucket the multi was checked against that are newer than anything
 * the attempt had read (the multi could only land there). Found: it
 * committed at that record's revision. Not found: it did not, and the caller
 * runs the write again from its reads. Only when neither can be established
 * before the request timeout is DC_EUNKNOWN returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_config.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_multi.h"
#include "zk_session.h"
#include "zk_snap.h"

void zk_plan_free(zk_plan *p)
{
    for (size_t i = 0; i < p->n_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->ops);
    free(p->res);
    free(p->role);
    free(p->role_lease);
    memset(p, 0, sizeof *p);
}

char *zk_plan_own(zk_plan *p, char *s)
{
    if (!s) return NULL;
    if (p->n_owned == p->cap_owned) {
        size_t cap = p->cap_owned ? p->cap_owned * 2 : 16;
        char **o = realloc(p->owned, cap * sizeof *o);
        if (!o) {
            free(s);
            return NULL;
        }
        p->owned = o;
        p->cap_owned = cap;
    }
    p->owned[p->n_owned++] = s;
    return s;
}

zoo_op_t *zk_plan_op(zk_plan *p, int role, int64_t lease, size_t bytes)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        zoo_op_t *o = realloc(p->ops, cap * sizeof *o);
        if (!o) return NULL;
        p->ops = o;
        int *r = realloc(p->role, cap * sizeof *r);
        if (!r) return NULL;
        p->role = r;
        int64_t *l = realloc(p->role_lease, cap * sizeof *l);
        if (!l) return NULL;
        p->role_lease = l;
        p->cap = cap;
    }
    p->role[p->n] = role;
    p->role_lease[p->n] = lease;
    p->bytes += (int64_t)bytes + 48;
    return &p->ops[p->n++];
}

int zk_add_event(zk_ev **evs, size_t *n, const zk_entry *e)
{
    zk_ev *v = realloc(*evs, (*n + 1) * sizeof *v);
    if (!v) return -1;
    *evs = v;
    zk_ev *ev = &v[*n];
    memset(ev, 0, sizeof *ev);
    (*n)++;
    /* borrowed pointers: the record is encoded before the entries change */
    ev->type = e->fpresent ? DC_EVENT_PUT : DC_EVENT_DELETE;
    ev->key = e->key;
    ev->key_len = e->key_len;
    if (e->fpresent) {
        ev->value = e->fvalue;
        ev->value_len = e->fvalue_len;
        ev->create_rev = e->fcreate;
        ev->version = e->fversion;
        ev->lease = e->flease;
    }
    if (e->present) {
        ev->has_prev = 1;
        ev->pvalue = e->value;
        ev->pvalue_len = e->value_len;
        ev->pcreate = e->create_rev;
        ev->pmod = e->mod_rev;
        ev->pversion = e->version;
        ev->please = e->lease;
    }
    return 0;
}

/* Run the chosen branch on the overlay: responses and events. */
/* ------------------------------------------------------------ the multi */

/* Build the multi for the snapshot's written entries. strict: assert R/rev's
 * version instead of key-by-key absence/stability. */
int zk_plan_build(zk_conn *c, zhandle_t *zh, zk_snap *s, int strict, const zk_ev *evs, size_t nev,
                  const unsigned char token[ZK_TOKEN_LEN], zk_plan *p, dc_drv_err *err)
{
    const struct ACL_vector *acl = zk_acl(&c->cfg);
    int zrc = zk_ptr_get(c, zh, 0, &p->bucket, &p->ptr_version);
    if (zrc != ZOK)
        return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                     "zk %s: reading the bucket pointer: %s", c->cfg.endpoint, zerror(zrc));
    /* the store's history must still be the one this handle opened */
    zoo_op_t *op = zk_plan_op(p, ZK_ROLE_EPOCH, 0, strlen(c->lay.epoch_path));
    if (!op) goto oom;
    zoo_check_op_init(op, c->lay.epoch_path, -1);
    if (!(op = zk_plan_op(p, ZK_ROLE_PTR, 0, strlen(c->lay.p_ev)))) goto oom;
    zoo_check_op_init(op, c->lay.p_ev, p->ptr_version);
    if (strict) {
        if (!(op = zk_plan_op(p, ZK_ROLE_STRICT, 0, strlen(c->lay.p_rev)))) goto oom;
        zoo_check_op_init(op, c->lay.p_rev, s->rev_version);
    }
    int gen_dep[ZK_GEN_SHARDS], gen_bump[ZK_GEN_SHARDS];
    for (int i = 0; i < ZK_GEN_SHARDS; i++) gen_dep[i] = -1, gen_bump[i] = 0;
    for (size_t i = 0; i < s->n; i++) {
        zk_entry *e = &s->e[i];
        size_t pl = strlen(e->path);
        if (!e->written && strict) continue;
        if (e->present && e->gen_version >= 0 &&
            (gen_dep[e->gen_shard] < 0 || e->gen_version < gen_dep[e->gen_shard]))
            gen_dep[e->gen_shard] = e->gen_version;
        if (e->written && !e->fpresent) gen_bump[e->gen_shard] = 1;
        if (!e->written) {
            if (e->present) {
                if (!(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, pl))) goto oom;
                zoo_check_op_init(op, e->path, (int)(e->version - 1));
            } else {
                if (!(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, pl))) goto oom;
                zoo_create_op_init(op, e->path, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
                if (!(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, pl))) goto oom;
                zoo_delete_op_init(op, e->path, 0);
            }
            continue;
        }
        if (e->fpresent) {
            dc_buf d = DC_BUF_INIT;
            if (zk_kv_encode(&d, e->flease, e->fvalue, e->fvalue_len)) {
                dc__buf_free(&d);
                goto oom;
            }
            size_t dl = d.len;
            char *data = zk_plan_own(p, dc__buf_steal(&d));
            if (!data || !(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, pl + dl))) goto oom;
            if (e->present)
                zoo_set_op_init(op, e->path, data, (int)dl, (int)(e->version - 1), NULL);
            else
                zoo_create_op_init(op, e->path, data, (int)dl, acl, ZOO_PERSISTENT, NULL, 0);
        } else {
            if (!(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, pl))) goto oom;
            zoo_delete_op_init(op, e->path, (int)(e->version - 1));
        }
        /* lease attachments follow the key */
        int64_t old = e->present ? e->lease : 0, nw = e->fpresent ? e->flease : 0;
        if (old && old != nw) {
            char *lp = zk_plan_own(p, zk_lease_node_path(&c->lay, old, e->name));
            if (!lp || !(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, strlen(lp)))) goto oom;
            zoo_delete_op_init(op, lp, -1);
        }
        if (nw) {
            char *lp = zk_plan_own(p, zk_lease_node_path(&c->lay, nw, old == nw ? NULL : e->name));
            if (!lp || !(op = zk_plan_op(p, ZK_ROLE_LEASE, nw, strlen(lp)))) goto oom;
            if (old == nw)
                zoo_check_op_init(op, lp, -1);
            else
                zoo_create_op_init(op, lp, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
        }
    }
    for (int i = 0; i < ZK_GEN_SHARDS; i++) {
        if (!gen_bump[i] && gen_dep[i] < 0) continue;
        char *gp = malloc(strlen(c->lay.p_gen) + 8);
        if (gp) sprintf(gp, "%s/%02d", c->lay.p_gen, i);
        if (!zk_plan_own(p, gp) || !(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, strlen(gp)))) goto oom;
        if (gen_bump[i])
            zoo_set_op_init(op, gp, "", 0, gen_dep[i] >= 0 ? gen_dep[i] : -1, NULL);
        else
            zoo_check_op_init(op, gp, gen_dep[i]);
    }
    dc_buf rec = DC_BUF_INIT, bp = DC_BUF_INIT;
    char bucket[512];
    zk_bucket_path(&c->lay, p->bucket, bucket, sizeof bucket);
    if (zk_rec_encode(&rec, token, evs, nev) || dc__buf_printf(&bp, "%s/e-", bucket)) {
        dc__buf_free(&rec);
        dc__buf_free(&bp);
        goto oom;
    }
    size_t rl = rec.len;
    char *rd = zk_plan_own(p, dc__buf_steal(&rec)), *ep = zk_plan_own(p, dc__buf_steal(&bp));
    if (!rd || !ep || !(op = zk_plan_op(p, ZK_ROLE_EVENT, 0, rl + strlen(ep)))) goto oom;
    zoo_create_op_init(op, ep, rd, (int)rl, acl, ZOO_PERSISTENT_SEQUENTIAL, p->evpath,
                       sizeof p->evpath);
    if (!(op = zk_plan_op(p, ZK_ROLE_OTHER, 0, strlen(c->lay.p_rev)))) goto oom;
    zoo_set_op_init(op, c->lay.p_rev, "", 0, -1, &p->rev_stat);
    if (p->bytes + 1024 > c->cfg.max_request)
        return ZKERR(err, DC_ETOOBIG,
                     "zk %s: the txn needs a request of about %lld bytes; ZooKeeper accepts %lld "
                     "(jute.maxbuffer; values and their previous versions travel in the event log "
                     "too)",
                     c->cfg.endpoint, (long long)p->bytes + 1024, (long long)c->cfg.max_request);
    p->res = calloc(p->n, sizeof *p->res);
    if (!p->res) goto oom;
    return DC_OK;
oom:
    return ZKERR(err, DC_ENOMEM, "zk: out of memory building a txn");
}

static int64_t event_seq(const char *path)
{
    const char *e = strrchr(path, '-');
    return e ? strtoll(e + 1, NULL, 10) : 0;
}

/* Post-commit: set the txn's revision in overlay-derived get responses. */
/* Send the multi; resolve an unknown outcome. Returns COMMIT_* or a DC_E code. */
int zk_plan_commit(zk_conn *c, uint64_t gen, zk_snap *s, zk_plan *p,
                   const unsigned char token[ZK_TOKEN_LEN], int64_t deadline, int64_t *rev,
                   dc_drv_err *err)
{
    zhandle_t *zh = zk_acquire(&c->s, NULL);
    int zrc = zoo_multi(zh, (int)p->n, p->ops, p->res);
    zk_release(&c->s);
    if (zrc == ZOK) {
        *rev = p->rev_stat.mzxid;
        zh = zk_acquire(&c->s, NULL);
        zk_maybe_rollover(c, zh, p->bucket, event_seq(p->evpath));
        zk_release(&c->s);
        return ZK_COMMIT_OK;
    }
    if (zrc == ZINVALIDSTATE) {
        /* refused before sending: the session is gone, nothing was written */
        dc_drv_err e2 = {{0}, 0};
        zk_rebuild(&c->s, gen, &e2);
        return dc__now_ms() < deadline
                   ? ZK_COMMIT_RETRY
                   : ZKERR(err, DC_EUNAVAILABLE, "zk %s: session lost", c->cfg.endpoint);
    }
    if (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT || zrc == ZSESSIONEXPIRED) {
        int64_t lo = s->max_mzxid > s->r1 ? s->max_mzxid : s->r1;
        c->host->log(DC_LOG_INFO, "zk", "zk %s: write outcome unknown (%s); looking for its token",
                     c->cfg.endpoint, zerror(zrc));
        for (int attempt = 0;; attempt++) {
            uint64_t g2;
            zh = zk_acquire(&c->s, &g2);
            int dead = is_unrecoverable(zh) == ZINVALIDSTATE;
            /* the session may have moved to a server that has not applied
             * the multi yet although the leader committed it: catch up first,
             * or "not found" would run the write twice */
            int szrc = dead || !c->cfg.sync ? ZOK : zk_sync(zh, c->lay.p_rev);
            int found = dead          ? DC_EUNAVAILABLE
                        : szrc != ZOK ? zk_map_rc(szrc)
                                      : zk_log_find_token(c, zh, p->bucket, lo, token, rev);
            zk_release(&c->s);
            if (found == 1) return ZK_COMMIT_OK;
            if (found == 0) return ZK_COMMIT_RETRY;
            if (dead) {
                dc_drv_err e2 = {{0}, 0};
                zk_rebuild(&c->s, g2, &e2);
            }
            if ((found != DC_EUNAVAILABLE && found != DC_ETIMEDOUT) || dc__now_ms() >= deadline)
                return ZKERR(err, DC_EUNKNOWN,
                             "zk %s: the connection was lost while a write was in flight (%s) "
                             "and its outcome could not be established",
                             c->cfg.endpoint, zerror(zrc));
            zk_backoff(attempt, deadline);
        }
    }
    /* a per-op failure: find the op that failed */
    size_t bad = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->res[i].err != ZOK && p->res[i].err != ZRUNTIMEINCONSISTENCY) {
            bad = i;
            zrc = p->res[i].err;
            break;
        }
    if (zrc == ZNOAUTH)
        return ZKERR(err, DC_EAUTH, "zk %s: write refused: not authorised", c->cfg.endpoint);
    if (p->role[bad] == ZK_ROLE_EPOCH) return zk_epoch_rc(&c->lay, zrc, err);
    if (p->role[bad] == ZK_ROLE_PTR && (zrc == ZBADVERSION || zrc == ZNONODE)) return ZK_COMMIT_PTR;
    if (p->role[bad] == ZK_ROLE_LEASE && zrc == ZNONODE)
        return ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld not found", c->cfg.endpoint,
                     (long long)p->role_lease[bad]);
    if (zrc == ZBADVERSION || zrc == ZNODEEXISTS || zrc == ZNONODE || zrc == ZNOTEMPTY)
        return ZK_COMMIT_RETRY;
    return ZKERR(err, zk_map_rc(zrc), "zk %s: multi failed: %s", c->cfg.endpoint, zerror(zrc));
}
