/*
 * mem:// leases. A lease is a TTL and a list of attached keys; a reaper
 * thread per instance sleeps until the earliest deadline and revokes what
 * has expired. Revoking deletes the keys through the normal write path (one
 * new revision, a DELETE event with prev_kv per key), so watchers see an
 * expiry exactly like an explicit delete.
 *
 * Deadlines are read on the instance's lease clock: the monotonic clock, or
 * the virtual clock of the failpoints (ddlcoord/mem.h). On the virtual clock
 * the reaper stays idle and dc__mem_lease_expire_due, called by whoever moves the
 * clock, expires what is due in that thread, so that expiry is reproducible.
 */
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

void dc__mem_lease_attach(mem_store *m, mem_key *k, mem_lease *l)
{
    (void)m;
    k->lease = l;
    k->lease_prev = NULL;
    k->lease_next = l->keys;
    if (l->keys) l->keys->lease_prev = k;
    l->keys = k;
}

void dc__mem_lease_detach(mem_key *k)
{
    mem_lease *l = k->lease;
    if (!l) return;
    if (k->lease_prev)
        k->lease_prev->lease_next = k->lease_next;
    else
        l->keys = k->lease_next;
    if (k->lease_next) k->lease_next->lease_prev = k->lease_prev;
    k->lease = NULL;
    k->lease_prev = k->lease_next = NULL;
}

int64_t dc__mem_now(const mem_store *m)
{
    return m->vclock ? m->vnow_ms : dc__now_ms();
}

static mem_lease *find(mem_store *m, int64_t id)
{
    mem_lease *l;
    HASH_FIND(hh, m->leases, &id, sizeof id, l);
    return l;
}

/* Revoke l: delete its keys at one revision, then forget it. mu held. */
static int revoke(mem_store *m, mem_lease *l)
{
    if (dc__mem_lease_delete_keys(m, l) != 0) return DC_ENOMEM;
    HASH_DEL(m->leases, l);
    free(l);
    return DC_OK;
}

int dc__mem_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    if (ttl < 1) ttl = 1;
    if (ttl > 9000000000LL) {
        snprintf(err->msg, sizeof err->msg, "mem: lease TTL %lld too large", (long long)ttl);
        return DC_EINVAL;
    }
    mem_lease *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err->msg, sizeof err->msg, "mem: out of memory granting a lease");
        return DC_ENOMEM;
    }
    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        free(l);
        return rc;
    }
    l->id = m->next_lease++;
    l->ttl = ttl;
    l->deadline_ms = dc__mem_now(m) + ttl * 1000;
    HASH_ADD(hh, m->leases, id, sizeof l->id, l);
    if (!l->hh.tbl) { /* uthash could not allocate its table (mem.h) */
        pthread_mutex_unlock(&m->mu);
        free(l);
        snprintf(err->msg, sizeof err->msg, "mem: out of memory granting a lease");
        return DC_ENOMEM;
    }
    pthread_cond_signal(&m->reaper_cv);
    pthread_mutex_unlock(&m->mu);
    *id = l->id;
    if (granted) *granted = ttl;
    return DC_OK;
}

int dc__mem_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    pthread_mutex_lock(&m->mu);
    int erc = dc__mem_check_epoch(conn, err);
    if (erc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        return erc;
    }
    mem_lease *l = find(m, id);
    int64_t now = dc__mem_now(m);
    if (l && l->deadline_ms <= now) {
        /* Expired, and the reaper has not got the mutex yet: expire it here.
         * Extending it would revive a lease whose holder another process may
         * already have replaced (an election's leader key). */
        if (revoke(m, l) != DC_OK) /* the reaper retries; the lease is over anyway */
            m->host->log(DC_LOG_ERROR, "mem", "out of memory expiring lease %lld", (long long)id);
        l = NULL;
    }
    if (l) {
        l->deadline_ms = now + l->ttl * 1000;
        if (ttl) *ttl = l->ttl;
    }
    pthread_mutex_unlock(&m->mu);
    if (!l) {
        snprintf(err->msg, sizeof err->msg, "mem: lease %lld not found", (long long)id);
        return DC_ENOTFOUND;
    }
    return DC_OK;
}

int dc__mem_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    mem_lease *l = find(m, id);
    rc = l ? revoke(m, l) : DC_ENOTFOUND;
    pthread_mutex_unlock(&m->mu);
    if (rc == DC_ENOTFOUND)
        snprintf(err->msg, sizeof err->msg, "mem: lease %lld not found", (long long)id);
    else if (rc)
        snprintf(err->msg, sizeof err->msg, "mem: out of memory revoking lease %lld",
                 (long long)id);
    return rc;
}

static void *reaper(void *arg)
{
    mem_store *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stopping) {
        if (m->vclock) { /* whoever moves the virtual clock expires leases */
            dc__cond_wait_until(&m->reaper_cv, &m->mu, -1);
            continue;
        }
        int64_t now = dc__now_ms(), next = -1;
        mem_lease *l, *tmp;
        HASH_ITER(hh, m->leases, l, tmp)
        {
            if (l->deadline_ms <= now) {
                if (revoke(m, l) != DC_OK) {
                    /* keep it; try again shortly rather than lose the deletes */
                    m->host->log(DC_LOG_ERROR, "mem", "out of memory expiring lease %lld",
                                 (long long)l->id);
                    next = now + 100;
                }
            } else if (next < 0 || l->deadline_ms < next) {
                next = l->deadline_ms;
            }
        }
        dc__cond_wait_until(&m->reaper_cv, &m->mu, next);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int dc__mem_lease_start_reaper(mem_store *m)
{
    if (pthread_create(&m->reaper, NULL, reaper, m) != 0) return -1;
    m->reaper_started = 1;
    return 0;
}

void dc__mem_lease_stop_reaper(mem_store *m)
{
    if (!m->reaper_started) return;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_signal(&m->reaper_cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->reaper, NULL);
    m->reaper_started = 0;
}

int dc__mem_lease_expire_due(mem_store *m, size_t *n)
{
    *n = 0;
    int64_t now = dc__mem_now(m);
    for (;;) {
        mem_lease *l, *tmp, *first = NULL;
        /* uthash iterates in grant order: the first of equal deadlines wins */
        HASH_ITER(hh, m->leases, l, tmp)
        {
            if (l->deadline_ms <= now && (!first || l->deadline_ms < first->deadline_ms)) first = l;
        }
        if (!first) return 0;
        if (revoke(m, first) != DC_OK) return -1;
        (*n)++;
    }
}

void dc__mem_lease_free_all(mem_store *m)
{
    mem_lease *l, *tmp;
    HASH_ITER(hh, m->leases, l, tmp)
    {
        HASH_DEL(m->leases, l);
        free(l);
    }
}
