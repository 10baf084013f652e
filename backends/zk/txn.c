/*
 * Writes: every put, delete and txn is one optimistic zoo_multi.
 *
 * 1. Read every key the txn compares, reads or writes (snap.c), pipelined.
 * 2. Evaluate the compares on the client, run the chosen branch against an
 *    overlay of those reads (a get after a put in one txn sees the put).
 * 3. Commit one multi that re-asserts everything the decision was based on,
 *    then writes: check(R/ev, pointer version) so the event lands in the
 *    current bucket; per key read: set/delete/check with the version read,
 *    or create (+ delete) to assert a key read as missing is still missing;
 *    the kv writes; lease attachments; one sequential event record with the
 *    changes and their previous values; setData(R/rev), whose Stat.mzxid is
 *    the revision. Any version conflict means something changed: re-read
 *    and re-decide.
 *
 * ABA remedy (the note's remedy (a), narrowed to the only writes that can
 * cause ABA). A version check passes when a key was deleted and recreated to
 * the same dataVersion between read and commit. Such a recreate needs a
 * delete, and every delete bumps the deletion generation R/gen/NN of its
 * key's shard (32 shards by key hash) in the same multi. Reads take the
 * generation *before* the key (one session, answered in order), and the
 * commit checks it for every key it relies on. So a delete + recreate in
 * between fails the commit, while unrelated writes (puts, deletes of keys in
 * other shards) never do. A txn that reads or deletes a whole prefix cannot
 * assert "no new key under the prefix" key by key, so it checks the version
 * of R/rev instead (strict: serialised against every write).
 *
 * Unknown outcome. ZCONNECTIONLOSS or ZOPERATIONTIMEOUT on a multi does not
 * say whether it committed. Every event record carries a 16-byte token unique
 * to the attempt; after reconnecting, the driver looks for it among the
 * events of the bucket the multi was checked against (newer than anything the
 * attempt had read). Found: the write committed at that record's revision.
 * Not found: it did not, and the txn is run again from its reads. Only when
 * that cannot be established before the request timeout is DC_EUNKNOWN
 * returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"

enum { ROLE_OTHER = 0, ROLE_PTR, ROLE_LEASE, ROLE_EVENT, ROLE_STRICT };

typedef struct plan {
    zoo_op_t *ops;
    zoo_op_result_t *res;
    int *role;
    int64_t *role_lease;
    size_t n, cap;
    char **owned; /* strings to free */
    size_t n_owned, cap_owned;
    struct Stat rev_stat;
    char evpath[600];
    int64_t bytes;
    int64_t bucket;
    int ptr_version;
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->ops);
    free(p->res);
    free(p->role);
    free(p->role_lease);
    memset(p, 0, sizeof *p);
}

static char *plan_own(plan *p, char *s)
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

static zoo_op_t *plan_op(plan *p, int role, int64_t lease, size_t bytes)
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

static char *lease_path(zk_conn *c, int64_t id, const char *name)
{
    dc_buf b = DC_BUF_INIT;
    if (dc_buf_printf(&b, "%s/%016llx", c->p_lease, (unsigned long long)id)) return NULL;
    if (name && dc_buf_printf(&b, "/%s", name)) {
        dc_buf_free(&b);
        return NULL;
    }
    return dc_buf_steal(&b);
}

char *zk_lease_path(zk_conn *c, int64_t id);
char *zk_lease_path(zk_conn *c, int64_t id)
{
    return lease_path(c, id, NULL);
}

/* ------------------------------------------------------------ evaluation */

static int compare_holds(zk_snap *s, const dc_compare *cmp)
{
    zk_entry *e = zk_snap_find(s, cmp->key, cmp->key_len);
    int present = e && e->present;
    if (cmp->target == DC_TARGET_VALUE) {
        if (!present) return 0; /* etcd: every value compare on a missing key is false */
        int r = dc_key_cmp(e->value, e->value_len, cmp->value, cmp->value_len);
        switch (cmp->op) {
        case DC_CMP_EQUAL:
            return r == 0;
        case DC_CMP_NOT_EQUAL:
            return r != 0;
        case DC_CMP_LESS:
            return r < 0;
        case DC_CMP_GREATER:
            return r > 0;
        }
        return 0;
    }
    int64_t v = 0;
    if (present) {
        switch (cmp->target) {
        case DC_TARGET_VERSION:
            v = e->version;
            break;
        case DC_TARGET_CREATE:
            v = e->create_rev;
            break;
        case DC_TARGET_MOD:
            v = e->mod_rev;
            break;
        case DC_TARGET_LEASE:
            v = e->lease;
            break;
        default:
            break;
        }
    }
    switch (cmp->op) {
    case DC_CMP_EQUAL:
        return v == cmp->number;
    case DC_CMP_NOT_EQUAL:
        return v != cmp->number;
    case DC_CMP_LESS:
        return v < cmp->number;
    case DC_CMP_GREATER:
        return v > cmp->number;
    }
    return 0;
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
    if (dc_kv_set(kv, e->key, e->key_len, e->value, e->value_len)) return -1;
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
static int add_event(zk_ev **evs, size_t *n, const zk_entry *e)
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
                        ? dc_key_has_prefix(e->key, e->key_len, op->key, op->key_len)
                        : dc_key_cmp(e->key, e->key_len, op->key, op->key_len) == 0;
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
                if (add_event(evs, nev, e)) return -1;
                break;
            }
            if (!cur_present(e)) continue;
            if (op->flags & DC_PREV_KV && add_prev(r, e)) return -1;
            e->fpresent = 0;
            e->fvalue = NULL;
            e->fvalue_len = 0;
            e->written = 1;
            r->deleted++;
            if (add_event(evs, nev, e)) return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the multi */

/* Build the multi for the snapshot's written entries. strict: assert R/rev's
 * version instead of key-by-key absence/stability. */
static int build_plan(zk_conn *c, zhandle_t *zh, zk_snap *s, int strict, const zk_ev *evs,
                      size_t nev, const unsigned char token[ZK_TOKEN_LEN], plan *p, dc_drv_err *err)
{
    const struct ACL_vector *acl = zk_acl(c);
    int zrc = zk_ptr_get(c, zh, 0, &p->bucket, &p->ptr_version);
    if (zrc != ZOK)
        return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                     "zk %s: reading the bucket pointer: %s", c->endpoint, zerror(zrc));
    zoo_op_t *op = plan_op(p, ROLE_PTR, 0, strlen(c->p_ev));
    if (!op) goto oom;
    zoo_check_op_init(op, c->p_ev, p->ptr_version);
    if (strict) {
        if (!(op = plan_op(p, ROLE_STRICT, 0, strlen(c->p_rev)))) goto oom;
        zoo_check_op_init(op, c->p_rev, s->rev_version);
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
                if (!(op = plan_op(p, ROLE_OTHER, 0, pl))) goto oom;
                zoo_check_op_init(op, e->path, (int)(e->version - 1));
            } else {
                if (!(op = plan_op(p, ROLE_OTHER, 0, pl))) goto oom;
                zoo_create_op_init(op, e->path, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
                if (!(op = plan_op(p, ROLE_OTHER, 0, pl))) goto oom;
                zoo_delete_op_init(op, e->path, 0);
            }
            continue;
        }
        if (e->fpresent) {
            dc_buf d = DC_BUF_INIT;
            if (zk_kv_encode(&d, e->flease, e->fvalue, e->fvalue_len)) {
                dc_buf_free(&d);
                goto oom;
            }
            size_t dl = d.len;
            char *data = plan_own(p, dc_buf_steal(&d));
            if (!data || !(op = plan_op(p, ROLE_OTHER, 0, pl + dl))) goto oom;
            if (e->present)
                zoo_set_op_init(op, e->path, data, (int)dl, (int)(e->version - 1), NULL);
            else
                zoo_create_op_init(op, e->path, data, (int)dl, acl, ZOO_PERSISTENT, NULL, 0);
        } else {
            if (!(op = plan_op(p, ROLE_OTHER, 0, pl))) goto oom;
            zoo_delete_op_init(op, e->path, (int)(e->version - 1));
        }
        /* lease attachments follow the key */
        int64_t old = e->present ? e->lease : 0, nw = e->fpresent ? e->flease : 0;
        if (old && old != nw) {
            char *lp = plan_own(p, lease_path(c, old, e->name));
            if (!lp || !(op = plan_op(p, ROLE_OTHER, 0, strlen(lp)))) goto oom;
            zoo_delete_op_init(op, lp, -1);
        }
        if (nw) {
            char *lp = plan_own(p, lease_path(c, nw, old == nw ? NULL : e->name));
            if (!lp || !(op = plan_op(p, ROLE_LEASE, nw, strlen(lp)))) goto oom;
            if (old == nw)
                zoo_check_op_init(op, lp, -1);
            else
                zoo_create_op_init(op, lp, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
        }
    }
    for (int i = 0; i < ZK_GEN_SHARDS; i++) {
        if (!gen_bump[i] && gen_dep[i] < 0) continue;
        char *gp = malloc(strlen(c->p_gen) + 8);
        if (gp) sprintf(gp, "%s/%02d", c->p_gen, i);
        if (!plan_own(p, gp) || !(op = plan_op(p, ROLE_OTHER, 0, strlen(gp)))) goto oom;
        if (gen_bump[i])
            zoo_set_op_init(op, gp, "", 0, gen_dep[i] >= 0 ? gen_dep[i] : -1, NULL);
        else
            zoo_check_op_init(op, gp, gen_dep[i]);
    }
    dc_buf rec = DC_BUF_INIT, bp = DC_BUF_INIT;
    char bucket[512];
    zk_bucket_path(c, p->bucket, bucket, sizeof bucket);
    if (zk_rec_encode(&rec, token, evs, nev) || dc_buf_printf(&bp, "%s/e-", bucket)) {
        dc_buf_free(&rec);
        dc_buf_free(&bp);
        goto oom;
    }
    size_t rl = rec.len;
    char *rd = plan_own(p, dc_buf_steal(&rec)), *ep = plan_own(p, dc_buf_steal(&bp));
    if (!rd || !ep || !(op = plan_op(p, ROLE_EVENT, 0, rl + strlen(ep)))) goto oom;
    zoo_create_op_init(op, ep, rd, (int)rl, acl, ZOO_PERSISTENT_SEQUENTIAL, p->evpath,
                       sizeof p->evpath);
    if (!(op = plan_op(p, ROLE_OTHER, 0, strlen(c->p_rev)))) goto oom;
    zoo_set_op_init(op, c->p_rev, "", 0, -1, &p->rev_stat);
    if (p->bytes + 1024 > c->max_request)
        return ZKERR(err, DC_ETOOBIG,
                     "zk %s: the txn needs a request of about %lld bytes; ZooKeeper accepts %lld "
                     "(jute.maxbuffer; values and their previous versions travel in the event log "
                     "too)",
                     c->endpoint, (long long)p->bytes + 1024, (long long)c->max_request);
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
    for (size_t i = 0; i < n; i++) dc_response_clear(&resp[i]);
    free(resp);
}

enum { COMMIT_OK = 0, COMMIT_RETRY = 1, COMMIT_PTR = 2 };

/* Send the multi; resolve an unknown outcome. Returns COMMIT_* or a DC_E code. */
static int commit(zk_conn *c, uint64_t gen, zk_snap *s, plan *p,
                  const unsigned char token[ZK_TOKEN_LEN], int64_t deadline, int64_t *rev,
                  dc_drv_err *err)
{
    zhandle_t *zh = zk_acquire(c, NULL);
    int zrc = zoo_multi(zh, (int)p->n, p->ops, p->res);
    zk_release(c);
    if (zrc == ZOK) {
        *rev = p->rev_stat.mzxid;
        zh = zk_acquire(c, NULL);
        zk_maybe_rollover(c, zh, p->bucket, event_seq(p->evpath));
        zk_release(c);
        return COMMIT_OK;
    }
    if (zrc == ZINVALIDSTATE) {
        /* refused before sending: the session is gone, nothing was written */
        dc_drv_err e2 = {{0}, 0};
        zk_rebuild(c, gen, &e2);
        return dc_now_ms() < deadline
                   ? COMMIT_RETRY
                   : ZKERR(err, DC_EUNAVAILABLE, "zk %s: session lost", c->endpoint);
    }
    if (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT || zrc == ZSESSIONEXPIRED) {
        int64_t lo = s->max_mzxid > s->r1 ? s->max_mzxid : s->r1;
        c->host->log(DC_LOG_INFO, "zk", "zk %s: write outcome unknown (%s); looking for its token",
                     c->endpoint, zerror(zrc));
        for (int attempt = 0;; attempt++) {
            uint64_t g2;
            zh = zk_acquire(c, &g2);
            int dead = is_unrecoverable(zh) == ZINVALIDSTATE;
            int found =
                dead ? DC_EUNAVAILABLE : zk_log_find_token(c, zh, p->bucket, lo, token, rev);
            zk_release(c);
            if (found == 1) return COMMIT_OK;
            if (found == 0) return COMMIT_RETRY;
            if (dead) {
                dc_drv_err e2 = {{0}, 0};
                zk_rebuild(c, g2, &e2);
            }
            if ((found != DC_EUNAVAILABLE && found != DC_ETIMEDOUT) || dc_now_ms() >= deadline)
                return ZKERR(err, DC_EUNKNOWN,
                             "zk %s: the connection was lost while a write was in flight (%s) "
                             "and its outcome could not be established",
                             c->endpoint, zerror(zrc));
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
        return ZKERR(err, DC_EAUTH, "zk %s: write refused: not authorised", c->endpoint);
    if (p->role[bad] == ROLE_PTR && (zrc == ZBADVERSION || zrc == ZNONODE)) return COMMIT_PTR;
    if (p->role[bad] == ROLE_LEASE && zrc == ZNONODE)
        return ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld not found", c->endpoint,
                     (long long)p->role_lease[bad]);
    if (zrc == ZBADVERSION || zrc == ZNODEEXISTS || zrc == ZNONODE || zrc == ZNOTEMPTY)
        return COMMIT_RETRY;
    return ZKERR(err, zk_map_rc(zrc), "zk %s: multi failed: %s", c->endpoint, zerror(zrc));
}

/* ------------------------------------------------------------ txn */

static int check_limits(zk_conn *c, const dc_txn_req *req, dc_drv_err *err)
{
    if (req->n_compares > ZK_MAX_TXN_OPS || req->n_ops[0] > ZK_MAX_TXN_OPS ||
        req->n_ops[1] > ZK_MAX_TXN_OPS)
        return ZKERR(err, DC_ETOOBIG, "zk: txn has %zu compares and %zu/%zu ops, limit %d per list",
                     req->n_compares, req->n_ops[0], req->n_ops[1], ZK_MAX_TXN_OPS);
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind == DC_OP_PUT &&
                (int64_t)req->ops[b][i].value_len > c->max_value)
                return ZKERR(
                    err, DC_ETOOBIG,
                    "zk %s: value of %zu bytes, limit %lld (a ZooKeeper request, jute.maxbuffer, "
                    "carries each value twice plus the previous one)",
                    c->endpoint, req->ops[b][i].value_len, (long long)c->max_value);
    return DC_OK;
}

int zk_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    zk_conn *c = conn;
    int rc = check_limits(c, req, err);
    if (rc) return rc;
    /* plain puts need no consistent snapshot: they always write, and the
     * commit re-checks what they read */
    int plain_puts = req->n_compares == 0 && req->n_ops[DC_ELSE] == 0 && req->n_ops[DC_THEN] > 0;
    for (size_t i = 0; i < req->n_ops[DC_THEN]; i++)
        if (req->ops[DC_THEN][i].kind != DC_OP_PUT || req->ops[DC_THEN][i].flags & DC_PREFIX)
            plain_puts = 0;
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
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
        uint64_t gen;
        zhandle_t *zh = zk_acquire(c, &gen);
        rc = zk_snap_read(c, zh, &s, !plain_puts, err);
        zk_release(c);
        if (rc) {
            zk_snap_free(&s);
            if (rc == DC_ECOMPACTED && attempt < 10) continue;
            if (zk_recover(c, gen, rc, attempt, deadline)) continue;
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
        zk_new_token(c, token);
        plan p;
        memset(&p, 0, sizeof p);
        zh = zk_acquire(c, &gen);
        rc = build_plan(c, zh, &s, s.n_prefixes > 0, evs, nev, token, &p, err);
        zk_release(c);
        free(evs);
        int64_t rev = 0;
        if (rc == DC_OK) rc = commit(c, gen, &s, &p, token, deadline, &rev, err);
        plan_free(&p);
        zk_snap_free(&s);
        if (rc == COMMIT_OK) {
            fix_responses(resp, nops, rev);
            out->succeeded = ok;
            out->revision = rev;
            out->responses = resp;
            out->n_responses = nops;
            return DC_OK;
        }
        free_responses(resp, nops);
        if (rc == COMMIT_PTR) {
            zk_ptr_invalidate(c);
            if (dc_now_ms() < deadline) continue;
            return ZKERR(err, DC_EUNAVAILABLE, "zk %s: the event log kept rolling over",
                         c->endpoint);
        }
        if (rc == COMMIT_RETRY) {
            if (dc_now_ms() >= deadline)
                return ZKERR(err, DC_EUNAVAILABLE,
                             "zk %s: txn kept conflicting with concurrent writes for %d ms",
                             c->endpoint, c->request_timeout_ms);
            if (attempt >= 3) dc_sleep_ms(rand() % (attempt < 20 ? attempt : 20) + 1);
            continue;
        }
        if (zk_recover(c, gen, rc, attempt, deadline)) continue;
        return rc;
    }
}

/* ------------------------------------------------------------ lease deletion */

int zk_lease_delete(zk_conn *c, int64_t id, int expect_version, dc_drv_err *err)
{
    char *lp = lease_path(c, id, NULL);
    if (!lp) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
    int rc;
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(c, &gen);
        zk_batch lb;
        zk_batch_init(&lb);
        int zrc = zk_batch_add(&lb, ZK_Q_CHILDREN, lp) < 0 ? ZSYSTEMERROR : ZOK;
        if (zrc == ZOK) {
            zk_batch_run(&lb, zh, 0);
            zrc = lb.slots[0].rc;
        }
        zk_release(c);
        if (zrc == ZNONODE) {
            zk_batch_free(&lb);
            rc = attempt == 0 ? ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld not found", c->endpoint,
                                      (long long)id)
                              : DC_OK; /* our earlier attempt (or a reaper) removed it */
            break;
        }
        if (zrc != ZOK) {
            zk_batch_free(&lb);
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: reading lease %lld: %s", c->endpoint,
                       (long long)id, zerror(zrc));
            if (zk_recover(c, gen, rc, attempt, deadline)) continue;
            break;
        }
        zk_slot *ls = &lb.slots[0];
        if (expect_version >= 0 && ls->stat.version != expect_version) {
            zk_batch_free(&lb);
            rc = 1; /* refreshed meanwhile: not expired */
            break;
        }
        int lease_version = ls->stat.version;
        zk_snap s;
        zk_snap_init(&s);
        rc = DC_OK;
        for (int i = 0; i < ls->n_names && !rc; i++) {
            char *key;
            size_t kl;
            int u = zk_key_unescape(ls->names[i], &key, &kl);
            if (u == -2) rc = DC_ENOMEM;
            if (u) continue;
            if (zk_snap_want_key(&s, key, kl)) rc = DC_ENOMEM;
            free(key);
        }
        char **names = ls->names;
        int n_names = ls->n_names;
        if (rc) {
            zk_snap_free(&s);
            zk_batch_free(&lb);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            break;
        }
        zh = zk_acquire(c, &gen);
        rc = zk_snap_read(c, zh, &s, 0, err);
        zk_release(c);
        zk_ev *evs = NULL;
        size_t nev = 0;
        for (size_t i = 0; !rc && i < s.n; i++) {
            zk_entry *e = &s.e[i];
            if (!e->present || e->lease != id) continue;
            e->written = 1;
            e->fpresent = 0;
            if (add_event(&evs, &nev, e)) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        plan p;
        memset(&p, 0, sizeof p);
        unsigned char token[ZK_TOKEN_LEN];
        zk_new_token(c, token);
        int64_t rev = 0;
        if (!rc) {
            if (nev) {
                zh = zk_acquire(c, &gen);
                rc = build_plan(c, zh, &s, 0, evs, nev, token, &p, err);
                zk_release(c);
            }
            /* the attachments and the lease node go in the same multi; the
             * plan already detaches keys that still carry the lease */
            for (int i = 0; !rc && i < n_names; i++) {
                zk_entry *e = NULL;
                char *key;
                size_t kl;
                if (zk_key_unescape(names[i], &key, &kl) == 0) {
                    e = zk_snap_find(&s, key, kl);
                    free(key);
                }
                if (e && e->written) continue;
                char *ap = plan_own(&p, lease_path(c, id, names[i]));
                zoo_op_t *op = ap ? plan_op(&p, ROLE_OTHER, 0, strlen(ap)) : NULL;
                if (!op) {
                    rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
                    break;
                }
                zoo_delete_op_init(op, ap, -1);
            }
            zoo_op_t *op = rc ? NULL : plan_op(&p, ROLE_OTHER, 0, strlen(lp));
            if (!rc && !op) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            if (op) zoo_delete_op_init(op, lp, lease_version);
            zoo_op_result_t *res = rc ? NULL : realloc(p.res, p.n * sizeof *res);
            if (!rc && !res) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            if (res) p.res = res;
        }
        free(evs);
        if (!rc) {
            if (nev) {
                rc = commit(c, gen, &s, &p, token, deadline, &rev, err);
            } else {
                zh = zk_acquire(c, NULL);
                zrc = zoo_multi(zh, (int)p.n, p.ops, p.res);
                zk_release(c);
                rc =
                    zrc == ZOK ? COMMIT_OK
                    : zrc == ZBADVERSION || zrc == ZNONODE || zrc == ZNOTEMPTY || zrc == ZNODEEXISTS
                        ? COMMIT_RETRY
                    : zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT
                        ? COMMIT_RETRY /* the next listing tells */
                        : ZKERR(err, zk_map_rc(zrc), "zk %s: deleting lease %lld: %s", c->endpoint,
                                (long long)id, zerror(zrc));
            }
        }
        plan_free(&p);
        zk_snap_free(&s);
        zk_batch_free(&lb);
        if (rc == COMMIT_OK) break;
        if (rc == COMMIT_PTR) zk_ptr_invalidate(c);
        if (rc == COMMIT_PTR || rc == COMMIT_RETRY) {
            if (expect_version >= 0) {
                rc = 1; /* an expiry races with a keepalive or another reaper: look again later */
                break;
            }
            if (dc_now_ms() < deadline) continue;
            rc = ZKERR(err, DC_EUNAVAILABLE, "zk %s: revoking lease %lld kept conflicting",
                       c->endpoint, (long long)id);
            break;
        }
        if (zk_recover(c, gen, rc, attempt, deadline)) continue;
        break;
    }
    free(lp);
    return rc;
}
