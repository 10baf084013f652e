/*
 * Leases, emulated with persistent znodes (never ephemerals: ZooKeeper
 * deletes those without going through the driver, so no DELETE event and no
 * revision would be written).
 *
 * A lease is R/lease/<id as 16 hex digits> holding its TTL; its mtime,
 * stamped by the server's clock on every keepalive (a setData), is the last
 * refresh. Keys put with the lease have an attachment child
 * R/lease/<id>/k<esc(key)>, maintained in the same multi as the key (txn.c).
 *
 * Expiry is judged by the server's clock only: each reaper pass stamps
 * R/clock to learn "now" on the server, and a lease is expired when
 * mtime + TTL <= now. Every open store runs a reaper thread; whichever gets
 * there first deletes the lease's keys through the normal write path (one
 * multi: the key deletes, their DELETE events at one new revision, the
 * attachments and the lease node). That multi deletes the lease node with
 * the version the reaper read, so a keepalive racing with the expiry wins
 * or loses cleanly, and two reapers never both delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_config.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_lease.h"
#include "zk_multi.h"
#include "zk_session.h"
#include "zk_snap.h"

#define REAP_INTERVAL_MS 250

static int parse_ttl(const char *data, int len, int64_t *ttl)
{
    char tmp[24];
    if (!data || len <= 0 || len > 20) return -1;
    memcpy(tmp, data, (size_t)len);
    tmp[len] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end || v < 1) return -1;
    *ttl = v;
    return 0;
}

int zk_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    zk_conn *c = conn;
    if (ttl < 1) ttl = 1;
    if (ttl > 9000000000LL)
        return ZKERR(err, DC_EINVAL, "zk: lease TTL %lld too large", (long long)ttl);
    char data[24];
    int dl = snprintf(data, sizeof data, "%lld", (long long)ttl);
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    for (int attempt = 0;; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint64_t)dc__now_us() * 2654435761u;
        int64_t lid = (int64_t)(r >> 2) | 1;
        char *p = zk_lease_path(&c->lay, lid);
        if (!p) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        int zrc = zoo_create(zh, p, data, dl, zk_acl(&c->cfg), ZOO_PERSISTENT, NULL, 0);
        zk_release(&c->s);
        free(p);
        if (zrc == ZOK) {
            *id = lid;
            if (granted) *granted = ttl;
            return DC_OK;
        }
        if (zrc == ZNODEEXISTS) continue;
        /* a create lost to a connection error may have happened: an orphan
         * lease without keys just expires */
        int rc =
            ZKERR(err, zk_map_rc(zrc), "zk %s: granting a lease: %s", c->cfg.endpoint, zerror(zrc));
        if (!zk_recover(&c->s, gen, rc, attempt, deadline)) return rc;
    }
}

int zk_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    zk_conn *c = conn;
    char *p = zk_lease_path(&c->lay, id);
    if (!p) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    int rc;
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        char data[32];
        int len = sizeof data;
        struct Stat old, now;
        int zrc = zoo_get(zh, p, 0, data, &len, &old);
        int64_t t = 0;
        if (zrc == ZOK && parse_ttl(data, len, &t)) zrc = ZMARSHALLINGERROR;
        if (zrc == ZOK) zrc = zoo_set2(zh, p, data, len, old.version, &now);
        zk_release(&c->s);
        if (zrc == ZBADVERSION) continue; /* refreshed by someone else meanwhile */
        if (zrc == ZNONODE) {
            rc = ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld not found", c->cfg.endpoint,
                       (long long)id);
            break;
        }
        if (zrc == ZOK) {
            if (now.mtime - old.mtime >= t * 1000) {
                /* it had expired before this refresh: finish the expiry */
                dc_drv_err e2 = {{0}, 0};
                zk_lease_delete(c, id, now.version, &e2);
                rc = ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld expired", c->cfg.endpoint,
                           (long long)id);
                break;
            }
            if (ttl) *ttl = t;
            rc = DC_OK;
            break;
        }
        rc = ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                   "zk %s: keepalive of lease %lld: %s", c->cfg.endpoint, (long long)id,
                   zerror(zrc));
        if (!zk_recover(&c->s, gen, rc, attempt, deadline)) break;
    }
    free(p);
    return rc;
}

int zk_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    int rc = zk_lease_delete(conn, id, -1, err);
    return rc == 1 ? DC_OK : rc;
}

/* One reaper pass: expire what the server's clock says is due. */
static void reap_once(zk_conn *c)
{
    uint64_t gen;
    zhandle_t *zh = zk_acquire(&c->s, &gen);
    if (is_unrecoverable(zh) == ZINVALIDSTATE) {
        /* the session expired and nobody else noticed yet */
        zk_release(&c->s);
        dc_drv_err e2 = {{0}, 0};
        zk_rebuild(&c->s, gen, &e2);
        return;
    }
    zk_batch lb;
    zk_batch_init(&lb);
    int64_t *ids = NULL;
    int *vers = NULL;
    size_t nexp = 0;
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, c->lay.p_lease) < 0) goto out;
    zk_batch_run(&lb, zh, 0);
    zk_slot *ls = &lb.slots[0];
    if (ls->rc != ZOK || ls->n_names == 0) goto out;
    struct Stat clk;
    if (zoo_set2(zh, c->lay.p_clock, "", 0, -1, &clk) != ZOK) goto out;
    int n = ls->n_names;
    char(*paths)[600] = malloc((size_t)n * sizeof *paths);
    ids = malloc((size_t)n * sizeof *ids);
    vers = malloc((size_t)n * sizeof *vers);
    if (!paths || !ids || !vers) {
        free(paths);
        goto out;
    }
    zk_batch gb;
    zk_batch_init(&gb);
    int oom = 0;
    for (int i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", c->lay.p_lease, ls->names[i]);
        if (zk_batch_add(&gb, ZK_Q_GET, paths[i]) < 0) oom = 1;
    }
    if (!oom) zk_batch_run(&gb, zh, 0);
    for (int i = 0; !oom && i < n; i++) {
        zk_slot *s = &gb.slots[i];
        int64_t ttl, id;
        if (s->rc != ZOK) continue;
        char *end;
        unsigned long long u = strtoull(ls->names[i], &end, 16);
        if (*end || parse_ttl(s->data, s->len, &ttl)) {
            c->host->log(DC_LOG_WARN, "zk", "zk %s: ignoring malformed lease %s", c->cfg.endpoint,
                         paths[i]);
            continue;
        }
        id = (int64_t)u;
        if (s->stat.mtime + ttl * 1000 <= clk.mtime) {
            ids[nexp] = id;
            vers[nexp] = s->stat.version;
            nexp++;
        }
    }
    zk_batch_free(&gb);
    free(paths);
out:
    zk_batch_free(&lb);
    zk_release(&c->s);
    for (size_t i = 0; i < nexp; i++) {
        dc_drv_err err = {{0}, 0};
        int rc = zk_lease_delete(c, ids[i], vers[i], &err);
        if (rc < 0 && rc != DC_ENOTFOUND)
            c->host->log(DC_LOG_WARN, "zk", "zk %s: expiring lease %lld: %s (retrying)",
                         c->cfg.endpoint, (long long)ids[i], err.msg);
    }
    free(ids);
    free(vers);
}

static void *reaper_main(void *arg)
{
    zk_conn *c = arg;
    pthread_mutex_lock(&c->reap_mu);
    while (!c->reap_stop) {
        pthread_mutex_unlock(&c->reap_mu);
        reap_once(c);
        pthread_mutex_lock(&c->reap_mu);
        int64_t deadline = dc__now_ms() + REAP_INTERVAL_MS;
        while (!c->reap_stop)
            if (dc__cond_wait_until(&c->reap_cv, &c->reap_mu, deadline) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&c->reap_mu);
    return NULL;
}

int zk_reaper_start(zk_conn *c)
{
    pthread_mutex_init(&c->reap_mu, NULL);
    dc__cond_init_monotonic(&c->reap_cv);
    c->reap_stop = 0;
    if (pthread_create(&c->reaper, NULL, reaper_main, c) != 0) {
        pthread_mutex_destroy(&c->reap_mu);
        pthread_cond_destroy(&c->reap_cv);
        return -1;
    }
    c->reaper_started = 1;
    return 0;
}

void zk_reaper_stop(zk_conn *c)
{
    if (!c->reaper_started) return;
    pthread_mutex_lock(&c->reap_mu);
    c->reap_stop = 1;
    pthread_cond_signal(&c->reap_cv);
    pthread_mutex_unlock(&c->reap_mu);
    pthread_join(c->reaper, NULL);
    c->reaper_started = 0;
    pthread_mutex_destroy(&c->reap_mu);
    pthread_cond_destroy(&c->reap_cv);
}

/* ------------------------------------------------------------ lease deletion */

int zk_lease_delete(zk_conn *c, int64_t id, int expect_version, dc_drv_err *err)
{
    char *lp = zk_lease_node_path(&c->lay, id, NULL);
    if (!lp) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    int rc;
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        zk_batch lb;
        zk_batch_init(&lb);
        int zrc = zk_batch_add(&lb, ZK_Q_CHILDREN, lp) < 0 ? ZSYSTEMERROR : ZOK;
        if (zrc == ZOK) {
            zk_batch_run(&lb, zh, 0);
            zrc = lb.slots[0].rc;
        }
        zk_release(&c->s);
        if (zrc == ZNONODE) {
            zk_batch_free(&lb);
            rc = attempt == 0 ? ZKERR(err, DC_ENOTFOUND, "zk %s: lease %lld not found",
                                      c->cfg.endpoint, (long long)id)
                              : DC_OK; /* our earlier attempt (or a reaper) removed it */
            break;
        }
        if (zrc != ZOK) {
            zk_batch_free(&lb);
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: reading lease %lld: %s", c->cfg.endpoint,
                       (long long)id, zerror(zrc));
            if (zk_recover(&c->s, gen, rc, attempt, deadline)) continue;
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
        zh = zk_acquire(&c->s, &gen);
        rc = zk_snap_read(c, zh, &s, 0, err);
        zk_release(&c->s);
        zk_ev *evs = NULL;
        size_t nev = 0;
        for (size_t i = 0; !rc && i < s.n; i++) {
            zk_entry *e = &s.e[i];
            if (!e->present || e->lease != id) continue;
            e->written = 1;
            e->fpresent = 0;
            if (zk_add_event(&evs, &nev, e)) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        zk_plan p;
        memset(&p, 0, sizeof p);
        unsigned char token[ZK_TOKEN_LEN];
        zk_new_token(&c->s, token);
        int64_t rev = 0;
        if (!rc) {
            if (nev) {
                zh = zk_acquire(&c->s, &gen);
                rc = zk_plan_build(c, zh, &s, 0, evs, nev, token, &p, err);
                zk_release(&c->s);
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
                char *ap = zk_plan_own(&p, zk_lease_node_path(&c->lay, id, names[i]));
                zoo_op_t *op = ap ? zk_plan_op(&p, ZK_ROLE_OTHER, 0, strlen(ap)) : NULL;
                if (!op) {
                    rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
                    break;
                }
                zoo_delete_op_init(op, ap, -1);
            }
            zoo_op_t *op = rc ? NULL : zk_plan_op(&p, ZK_ROLE_OTHER, 0, strlen(lp));
            if (!rc && !op) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            if (op) zoo_delete_op_init(op, lp, lease_version);
            zoo_op_result_t *res = rc ? NULL : realloc(p.res, p.n * sizeof *res);
            if (!rc && !res) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            if (res) p.res = res;
        }
        free(evs);
        if (!rc) {
            if (nev) {
                rc = zk_plan_commit(c, gen, &s, &p, token, deadline, &rev, err);
            } else {
                zh = zk_acquire(&c->s, NULL);
                zrc = zoo_multi(zh, (int)p.n, p.ops, p.res);
                zk_release(&c->s);
                rc =
                    zrc == ZOK ? ZK_COMMIT_OK
                    : zrc == ZBADVERSION || zrc == ZNONODE || zrc == ZNOTEMPTY || zrc == ZNODEEXISTS
                        ? ZK_COMMIT_RETRY
                    : zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT
                        ? ZK_COMMIT_RETRY /* the next listing tells */
                        : ZKERR(err, zk_map_rc(zrc), "zk %s: deleting lease %lld: %s",
                                c->cfg.endpoint, (long long)id, zerror(zrc));
            }
        }
        zk_plan_free(&p);
        zk_snap_free(&s);
        zk_batch_free(&lb);
        if (rc == ZK_COMMIT_OK) break;
        if (rc == ZK_COMMIT_PTR) zk_ptr_invalidate(c);
        if (rc == ZK_COMMIT_PTR || rc == ZK_COMMIT_RETRY) {
            if (expect_version >= 0) {
                rc = 1; /* an expiry races with a keepalive or another reaper: look again later */
                break;
            }
            if (dc__now_ms() < deadline) continue;
            rc = ZKERR(err, DC_EUNAVAILABLE, "zk %s: revoking lease %lld kept conflicting",
                       c->cfg.endpoint, (long long)id);
            break;
        }
        if (zk_recover(&c->s, gen, rc, attempt, deadline)) continue;
        break;
    }
    free(lp);
    return rc;
}
