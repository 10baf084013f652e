/*
 * mem:// failpoints (ddlcoord/mem.h): the per-handle call hook, ending
 * watches, resetting an instance and its virtual lease clock.
 *
 * The driver table of mem.c points at the mem_fp_ calls below. Each asks the
 * handle's hook, if it has one, what to do with the call, then either fails
 * it without touching the instance, or runs the real call (dc__mem_get,
 * dc__mem_txn, …) and, for DC_MEM_UNKNOWN_AFTER, throws its answer away and
 * reports DC_EUNKNOWN: the write happened, the caller cannot know. Without a
 * hook a call costs one pointer test more.
 *
 * The other failpoints act on the instance under its mutex, through small
 * functions of the files that own the state: dc__mem_wipe (mem.c) for a reset,
 * dc__mem_watch_end (mem_watch.c) to end watches, dc__mem_lease_expire_due
 * (mem_lease.c) when the virtual clock moves.
 */
#include "mem.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

/* The mem:// connection behind a public handle, or NULL. */
static mem_conn *conn_of(dc_store *s)
{
    return s && s->drv == dc__mem_driver() && s->conn ? s->conn : NULL;
}

static int not_mem(dc_store *s, const char *what)
{
    if (!s) return dc__error(DC_EINVAL, "%s: NULL store", what);
    return dc__error_store(s, DC_EINVAL, "%s: not a mem:// store", what);
}

/* ------------------------------------------------------------ the hook */

static dc_mem_fault ask(mem_conn *c, dc_mem_call call, const char *key, size_t key_len,
                        size_t writes, int64_t number)
{
    if (!c->hook) return DC_MEM_PASS;
    dc_mem_call_info ci = {call, key, key_len, writes, number};
    return c->hook(&ci, c->hook_ud);
}

static const char *const call_names[] = {"get",       "txn",          "watch",  "lease grant",
                                         "keepalive", "lease revoke", "compact"};

/* Fail a call the hook refused before it ran; DC_OK if it runs. */
static int refuse(dc_mem_fault f, dc_mem_call call, dc_drv_err *err)
{
    if (f == DC_MEM_UNAVAILABLE) {
        snprintf(err->msg, sizeof err->msg, "mem: failpoint: %s unavailable", call_names[call]);
        return DC_EUNAVAILABLE;
    }
    if (f == DC_MEM_UNKNOWN_BEFORE) {
        snprintf(err->msg, sizeof err->msg, "mem: failpoint: %s answer lost (not applied)",
                 call_names[call]);
        return DC_EUNKNOWN;
    }
    return DC_OK;
}

/* The result of a call that ran: a lost answer turns success into DC_EUNKNOWN. */
static int after(dc_mem_fault f, dc_mem_call call, int rc, dc_drv_err *err)
{
    if (f != DC_MEM_UNKNOWN_AFTER || rc != DC_OK) return rc;
    snprintf(err->msg, sizeof err->msg, "mem: failpoint: %s answer lost (applied)",
             call_names[call]);
    return DC_EUNKNOWN;
}

int dc__mem_fp_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_GET, op->key, op->key_len, 0, 0);
    int rc = refuse(f, DC_MEM_CALL_GET, err);
    return rc ? rc : after(f, DC_MEM_CALL_GET, dc__mem_get(conn, op, out, err), err);
}

int dc__mem_fp_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    mem_conn *c = conn;
    dc_mem_fault f = DC_MEM_PASS;
    if (c->hook) {
        const char *key = NULL;
        size_t key_len = 0, writes = 0;
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < req->n_ops[b]; i++) {
                const dc_op *op = &req->ops[b][i];
                if (!key) {
                    key = op->key;
                    key_len = op->key_len;
                }
                writes += op->kind != DC_OP_GET;
            }
        if (!key && req->n_compares) {
            key = req->compares[0].key;
            key_len = req->compares[0].key_len;
        }
        f = ask(c, DC_MEM_CALL_TXN, key, key_len, writes, 0);
    }
    int rc = refuse(f, DC_MEM_CALL_TXN, err);
    return rc ? rc : after(f, DC_MEM_CALL_TXN, dc__mem_txn(conn, req, out, err), err);
}

int dc__mem_fp_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_COMPACT, NULL, 0, 0, revision);
    int rc = refuse(f, DC_MEM_CALL_COMPACT, err);
    return rc ? rc : after(f, DC_MEM_CALL_COMPACT, dc__mem_compact(conn, revision, err), err);
}

int dc__mem_fp_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                           dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_WATCH, req->key, req->key_len, 0, 0);
    /* A watch whose answer was lost is not kept: the caller will never stop it. */
    if (f == DC_MEM_UNKNOWN_AFTER) f = DC_MEM_UNKNOWN_BEFORE;
    int rc = refuse(f, DC_MEM_CALL_WATCH, err);
    return rc ? rc : dc__mem_watch_start(conn, req, sink, handle, err);
}

int dc__mem_fp_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_LEASE_GRANT, NULL, 0, 0, ttl);
    int rc = refuse(f, DC_MEM_CALL_LEASE_GRANT, err);
    return rc ? rc
              : after(f, DC_MEM_CALL_LEASE_GRANT, dc__mem_lease_grant(conn, ttl, id, granted, err),
                      err);
}

int dc__mem_fp_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_LEASE_KEEPALIVE, NULL, 0, 0, id);
    int rc = refuse(f, DC_MEM_CALL_LEASE_KEEPALIVE, err);
    return rc ? rc
              : after(f, DC_MEM_CALL_LEASE_KEEPALIVE, dc__mem_lease_keepalive(conn, id, ttl, err),
                      err);
}

int dc__mem_fp_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    dc_mem_fault f = ask(conn, DC_MEM_CALL_LEASE_REVOKE, NULL, 0, 0, id);
    int rc = refuse(f, DC_MEM_CALL_LEASE_REVOKE, err);
    return rc ? rc : after(f, DC_MEM_CALL_LEASE_REVOKE, dc__mem_lease_revoke(conn, id, err), err);
}

int dc_mem_set_hook(dc_store *store, dc_mem_hook_fn fn, void *userdata)
{
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_set_hook");
    c->hook = fn;
    c->hook_ud = fn ? userdata : NULL;
    return DC_OK;
}

/* ------------------------------------------------------------ watches */

int dc_mem_end_watches(dc_store *store, dc_mem_scope scope, const void *key, size_t key_len,
                       int code, size_t *ended)
{
    if (ended) *ended = 0;
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_end_watches");
    if (code != DC_ECOMPACTED && code != DC_EUNAVAILABLE)
        return dc__error_store(store, DC_EINVAL,
                               "dc_mem_end_watches: code %d is neither DC_ECOMPACTED nor "
                               "DC_EUNAVAILABLE",
                               code);
    if (scope != DC_MEM_SCOPE_HANDLE && scope != DC_MEM_SCOPE_INSTANCE)
        return dc__error_store(store, DC_EINVAL, "dc_mem_end_watches: bad scope %d", (int)scope);
    mem_store *m = c->m;
    pthread_mutex_lock(&m->mu);
    size_t n = dc__mem_watch_end(m, scope == DC_MEM_SCOPE_HANDLE ? c : NULL, key, key ? key_len : 0,
                                 code, m->rev);
    pthread_mutex_unlock(&m->mu);
    if (ended) *ended = n;
    return DC_OK;
}

/* ------------------------------------------------------------ reset */

int dc_mem_reset(dc_store *store)
{
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_reset");
    mem_store *m = c->m;
    pthread_mutex_lock(&m->mu);
    dc__mem_wipe(m);
    dc__mem_lease_free_all(m);
    m->rev = 1;
    m->compact_rev = 0;
    m->next_lease = m->first_lease;
    m->epoch++;
    uint64_t epoch = m->epoch;
    /* its watches end, never a silent gap; every older handle is now poisoned
     * at its next call (dc__mem_check_epoch) */
    dc__mem_watch_end(m, NULL, NULL, 0, DC_ERESET, 0);
    pthread_cond_signal(&m->reaper_cv); /* its earliest deadline is gone */
    pthread_mutex_unlock(&m->mu);
    m->host->log(DC_LOG_INFO, "mem", "failpoint: instance reset (epoch %llu)",
                 (unsigned long long)epoch);
    return DC_OK;
}

int dc_mem_epoch(dc_store *store, uint64_t *epoch)
{
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_epoch");
    if (!epoch) return dc__error_store(store, DC_EINVAL, "dc_mem_epoch: NULL epoch");
    pthread_mutex_lock(&c->m->mu);
    *epoch = c->m->epoch;
    pthread_mutex_unlock(&c->m->mu);
    return DC_OK;
}

/* ------------------------------------------------------------ the clock */

/* Move the clock to now (m->mu held) and expire what is due. */
static int clock_move(dc_store *store, mem_store *m, int64_t now, size_t *expired)
{
    if (!m->vclock) {
        /* Each lease keeps the time it had left on the monotonic clock. */
        int64_t real = dc__now_ms();
        mem_lease *l, *tmp;
        HASH_ITER(hh, m->leases, l, tmp) l->deadline_ms = now + (l->deadline_ms - real);
        m->vclock = 1;
        pthread_cond_signal(&m->reaper_cv); /* it goes idle */
    } else if (now < m->vnow_ms) {
        return dc__error_store(store, DC_EINVAL, "mem: the virtual clock is at %lld, not %lld",
                               (long long)m->vnow_ms, (long long)now);
    }
    m->vnow_ms = now;
    size_t n = 0;
    int rc = dc__mem_lease_expire_due(m, &n);
    if (expired) *expired = n;
    return rc ? dc__error_store(store, DC_ENOMEM, "mem: out of memory expiring leases") : DC_OK;
}

int dc_mem_clock_set(dc_store *store, int64_t now_ms)
{
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_clock_set");
    if (now_ms < 0) return dc__error_store(store, DC_EINVAL, "dc_mem_clock_set: negative time");
    pthread_mutex_lock(&c->m->mu);
    int rc = clock_move(store, c->m, now_ms, NULL);
    pthread_mutex_unlock(&c->m->mu);
    return rc;
}

int dc_mem_clock_advance(dc_store *store, int64_t ms, size_t *expired)
{
    if (expired) *expired = 0;
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_clock_advance");
    mem_store *m = c->m;
    pthread_mutex_lock(&m->mu);
    int rc = DC_OK;
    if (!m->vclock)
        rc = dc__error_store(store, DC_EINVAL, "dc_mem_clock_advance: the clock is not virtual");
    else if (ms < 0 || ms > INT64_MAX - m->vnow_ms)
        rc =
            dc__error_store(store, DC_EINVAL, "dc_mem_clock_advance: bad step %lld", (long long)ms);
    else
        rc = clock_move(store, m, m->vnow_ms + ms, expired);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int dc_mem_clock_now(dc_store *store, int64_t *now_ms)
{
    mem_conn *c = conn_of(store);
    if (!c) return not_mem(store, "dc_mem_clock_now");
    if (!now_ms) return dc__error_store(store, DC_EINVAL, "dc_mem_clock_now: NULL now_ms");
    pthread_mutex_lock(&c->m->mu);
    int virt = c->m->vclock;
    *now_ms = c->m->vnow_ms;
    pthread_mutex_unlock(&c->m->mu);
    return virt ? DC_OK
                : dc__error_store(store, DC_EINVAL, "dc_mem_clock_now: the clock is not virtual");
}
