/*
 * Leader election over the store API: etcd's recipe, written once against
 * dc_store so that every backend gets the same behaviour.
 *
 * A candidate's key is <prefix><lease id as 16 hex digits>, created with its
 * lease through a create_revision == 0 txn; the live key with the lowest
 * create_revision leads. A waiting candidate watches only its predecessor
 * (the key with the next lower create_revision) for a DELETE, then re-reads
 * the prefix: a leader's death wakes one successor, not the herd.
 *
 * A keepalive thread refreshes the lease every TTL/3 and checks that the key
 * still exists. When the lease is gone, or no keepalive has succeeded for a
 * whole TTL (the server may have expired it), the candidacy is marked lost; a
 * leader then stops being one (dc_election_lost) and its fencing compares
 * fail in the store whatever it believes.
 */
#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/election.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "internal.h"

struct dc_election {
    dc_store *s;
    char *prefix;
    size_t prefix_len;
    char *name;
    int64_t ttl;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t lease; /* 0: no candidacy */
    char *key;
    size_t key_len;
    int64_t create_rev;
    int64_t granted_ms; /* when the lease grant was sent: the lease lives at least TTL from it */
    int leading, lost;
    pthread_t ka;
    int ka_running, ka_stop;
};

int dc_election_new(dc_store *s, const char *prefix, const char *name, int64_t ttl,
                    dc_election **out)
{
    if (!out) return dc__error(DC_EINVAL, "dc_election_new: out is NULL");
    *out = NULL;
    if (!s || !prefix || !*prefix || !name || ttl < 1)
        return dc__error(DC_EINVAL,
                         "dc_election_new: a store, a non-empty prefix, a name and a TTL >= 1 "
                         "are required");
    dc_election *e = calloc(1, sizeof *e);
    if (!e) return dc__nomem("election");
    e->prefix = strdup(prefix);
    e->name = strdup(name);
    if (!e->prefix || !e->name) {
        free(e->prefix);
        free(e->name);
        free(e);
        return dc__nomem("election");
    }
    e->prefix_len = strlen(prefix);
    e->s = s;
    e->ttl = ttl;
    pthread_mutex_init(&e->mu, NULL);
    dc__cond_init_monotonic(&e->cv);
    *out = e;
    return DC_OK;
}

static void mark_lost(dc_election *e, const char *why)
{
    pthread_mutex_lock(&e->mu);
    if (!e->lost)
        dc_log(DC_LOG_WARN, "election", "%s: candidacy %s lost: %s", e->name, e->key ? e->key : "?",
               why);
    e->lost = 1;
    e->leading = 0;
    pthread_mutex_unlock(&e->mu);
}

static void *keepalive_main(void *arg)
{
    dc_election *e = arg;
    /* last_ok is when the last successful keepalive was *sent*: the server
     * refreshed the lease at or after that moment, so the lease cannot expire
     * before last_ok + TTL, while a reply received later proves nothing more. */
    int64_t ttl_ms = e->ttl * 1000, period = ttl_ms / 3 > 0 ? ttl_ms / 3 : 300;
    pthread_mutex_lock(&e->mu);
    int64_t last_ok = e->granted_ms;
    while (!e->ka_stop && !e->lost) {
        /* Wake at the next period, or when the lease may have run out, whichever
         * comes first, so a leader that cannot reach the store notices in time. */
        int64_t wake = dc__now_ms() + period;
        if (wake > last_ok + ttl_ms) wake = last_ok + ttl_ms;
        dc__cond_wait_until(&e->cv, &e->mu, wake);
        if (e->ka_stop || e->lost) break;
        int64_t lease = e->lease;
        pthread_mutex_unlock(&e->mu);
        int64_t sent = dc__now_ms();
        if (sent - last_ok >= ttl_ms) {
            mark_lost(e, "no keepalive succeeded for a whole TTL");
            pthread_mutex_lock(&e->mu);
            break;
        }
        int rc = dc_lease_keepalive(e->s, lease, NULL);
        dc_kvs *kvs = NULL;
        if (rc == DC_OK) rc = dc_get(e->s, e->key, e->key_len, DC_COUNT_ONLY, 0, &kvs);
        if (rc == DC_OK && kvs->count == 0) rc = DC_ENOTFOUND;
        dc_kvs_free(kvs);
        if (rc == DC_OK)
            last_ok = sent;
        else if (rc == DC_ENOTFOUND)
            mark_lost(e, "lease or key gone");
        else if (dc__now_ms() - last_ok >= ttl_ms)
            mark_lost(e, "no keepalive succeeded for a whole TTL");
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void stop_keepalive(dc_election *e)
{
    pthread_mutex_lock(&e->mu);
    int running = e->ka_running;
    e->ka_stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (running) pthread_join(e->ka, NULL);
    e->ka_running = 0;
    e->ka_stop = 0;
}

/* Drop the current candidacy (if any): stop keepalives and revoke the lease. */
static void drop(dc_election *e)
{
    stop_keepalive(e);
    if (e->lease) {
        int rc = dc_lease_revoke(e->s, e->lease);
        if (rc != DC_OK && rc != DC_ENOTFOUND)
            dc_log(DC_LOG_WARN, "election", "%s: revoking lease %" PRIx64 ": %s", e->name,
                   (uint64_t)e->lease, dc_strerror(rc));
    }
    pthread_mutex_lock(&e->mu);
    e->lease = 0;
    e->leading = e->lost = 0;
    free(e->key);
    e->key = NULL;
    e->key_len = 0;
    e->create_rev = 0;
    pthread_mutex_unlock(&e->mu);
}

/* Grant a lease and create the candidate key. */
static int enter(dc_election *e)
{
    int64_t lease, granted_ms = dc__now_ms();
    int rc = dc_lease_grant(e->s, e->ttl, &lease, NULL);
    if (rc != DC_OK) return rc;
    char *key = malloc(e->prefix_len + 17);
    if (!key) {
        dc_lease_revoke(e->s, lease);
        return dc__nomem("election");
    }
    snprintf(key, e->prefix_len + 17, "%s%016" PRIx64, e->prefix, (uint64_t)lease);
    size_t key_len = e->prefix_len + 16;
    dc_txn *t = dc_txn_new();
    dc_txn_result *r = NULL;
    if (!t) rc = DC_ENOMEM;
    if (rc == DC_OK) {
        dc_txn_compare_int(t, key, key_len, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
        dc_txn_put(t, DC_THEN, key, key_len, e->name, strlen(e->name), lease, 0);
        dc_txn_get(t, DC_ELSE, key, key_len, 0, 0);
        rc = dc_txn_commit(e->s, t, &r);
    }
    int64_t create_rev = 0;
    if (rc == DC_OK)
        create_rev = r->succeeded ? r->revision
                     : r->n_responses && r->responses[0].n_kvs
                         ? r->responses[0].kvs[0].create_revision
                         : 0;
    dc_txn_result_free(r);
    dc_txn_free(t);
    if (rc == DC_OK && create_rev == 0) rc = DC_EINTERNAL;
    if (rc != DC_OK) {
        free(key);
        dc_lease_revoke(e->s, lease);
        return rc;
    }
    pthread_mutex_lock(&e->mu);
    e->lease = lease;
    e->key = key;
    e->key_len = key_len;
    e->create_rev = create_rev;
    e->granted_ms = granted_ms;
    e->lost = e->leading = 0;
    pthread_mutex_unlock(&e->mu);
    if (pthread_create(&e->ka, NULL, keepalive_main, e) != 0) {
        drop(e);
        return dc__error(DC_ENOMEM, "election %s: cannot start the keepalive thread", e->name);
    }
    e->ka_running = 1;
    dc_log(DC_LOG_INFO, "election", "%s: candidate %s (create revision %" PRId64 ")", e->name, key,
           create_rev);
    return DC_OK;
}

/* Wait until key is deleted (or deadline). DC_OK when deleted or when the
 * watch cannot tell (the caller re-reads anyway). */
static int wait_deleted(dc_election *e, const char *key, size_t key_len, int64_t from,
                        int64_t deadline)
{
    dc_watch *w;
    int rc = dc_watch_open(e->s, key, key_len, from, DC_NO_PUT, &w);
    if (rc != DC_OK) return rc;
    for (;;) {
        if (dc_election_lost(e)) {
            rc = DC_ECHANGED;
            break;
        }
        int64_t left = deadline < 0 ? 500 : deadline - dc__now_ms();
        if (left <= 0) {
            rc = DC_ETIMEDOUT;
            break;
        }
        dc_events *ev;
        rc = dc_watch_next(w, (int)(left < 500 ? left : 500), &ev);
        if (rc == DC_ETIMEDOUT) continue;
        if (rc == DC_OK) dc_events_free(ev);
        if (rc == DC_ECOMPACTED) rc = DC_OK; /* re-read the prefix */
        break;
    }
    dc_watch_close(w);
    return rc;
}

int dc_election_campaign(dc_election *e, int timeout_ms)
{
    if (!e) return dc__error(DC_EINVAL, "dc_election_campaign: no election");
    int64_t deadline = dc__deadline_ms(timeout_ms);
    if (e->lease && dc_election_lost(e)) {
        drop(e);
        return dc__error(DC_ECHANGED, "election %s: the candidacy was lost (lease or key gone)",
                         e->name);
    }
    int rc;
    if (!e->lease && (rc = enter(e)) != DC_OK) return rc;
    for (;;) {
        dc_kvs *kvs;
        rc = dc_get(e->s, e->prefix, e->prefix_len, DC_PREFIX, 0, &kvs);
        if (rc != DC_OK) return rc;
        const dc_kv *pred = NULL;
        int mine = 0, first = 1;
        for (size_t i = 0; i < kvs->n; i++) {
            const dc_kv *kv = &kvs->kvs[i];
            if (kv->create_revision == e->create_rev && kv->key_len == e->key_len &&
                memcmp(kv->key, e->key, e->key_len) == 0)
                mine = 1;
            else if (kv->create_revision < e->create_rev) {
                first = 0;
                if (!pred || kv->create_revision > pred->create_revision) pred = kv;
            }
        }
        if (!mine) {
            dc_kvs_free(kvs);
            mark_lost(e, "candidate key is gone");
            drop(e);
            return dc__error(DC_ECHANGED, "election %s: the candidate key is gone", e->name);
        }
        if (first) {
            dc_kvs_free(kvs);
            pthread_mutex_lock(&e->mu);
            int ok = !e->lost;
            if (ok) e->leading = 1;
            pthread_mutex_unlock(&e->mu);
            if (!ok) {
                drop(e);
                return dc__error(DC_ECHANGED, "election %s: the candidacy was lost", e->name);
            }
            dc_log(DC_LOG_INFO, "election", "%s: leading with %s", e->name, e->key);
            return DC_OK;
        }
        char *pk = malloc(pred->key_len + 1);
        if (!pk) {
            dc_kvs_free(kvs);
            return dc__nomem("election");
        }
        memcpy(pk, pred->key, pred->key_len + 1);
        size_t pk_len = pred->key_len;
        int64_t from = kvs->revision + 1;
        dc_kvs_free(kvs);
        rc = wait_deleted(e, pk, pk_len, from, deadline);
        free(pk);
        if (rc == DC_ECHANGED) {
            drop(e);
            return dc__error(rc, "election %s: the candidacy was lost while waiting", e->name);
        }
        if (rc == DC_ETIMEDOUT)
            return dc__error(rc,
                             "election %s: not leading after %d ms (a candidate before %s "
                             "still holds its key)",
                             e->name, timeout_ms, e->key);
        if (rc != DC_OK) return rc;
    }
}

int dc_election_lost(dc_election *e)
{
    if (!e) return 0;
    pthread_mutex_lock(&e->mu);
    int lost = e->lost;
    pthread_mutex_unlock(&e->mu);
    return lost;
}

int dc_election_fence(dc_election *e, const char **key, size_t *key_len, int64_t *create_revision)
{
    if (!e) return dc__error(DC_EINVAL, "dc_election_fence: no election");
    pthread_mutex_lock(&e->mu);
    int ok = e->leading && !e->lost;
    if (ok) {
        if (key) *key = e->key;
        if (key_len) *key_len = e->key_len;
        if (create_revision) *create_revision = e->create_rev;
    }
    pthread_mutex_unlock(&e->mu);
    return ok ? DC_OK : dc__error(DC_ENOTFOUND, "election %s: not leading", e->name);
}

int dc_election_resign(dc_election *e)
{
    if (!e) return dc__error(DC_EINVAL, "dc_election_resign: no election");
    if (e->lease) dc_log(DC_LOG_INFO, "election", "%s: resigning %s", e->name, e->key);
    drop(e);
    return DC_OK;
}

int dc_election_leader(dc_store *s, const char *prefix, char **name, int64_t *create_revision)
{
    if (!s || !prefix || !*prefix)
        return dc__error(DC_EINVAL,
                         "dc_election_leader: a store and a non-empty prefix are required");
    dc_kvs *kvs;
    int rc = dc_get(s, prefix, strlen(prefix), DC_PREFIX, 0, &kvs);
    if (rc != DC_OK) return rc;
    const dc_kv *lead = NULL;
    for (size_t i = 0; i < kvs->n; i++)
        if (!lead || kvs->kvs[i].create_revision < lead->create_revision) lead = &kvs->kvs[i];
    if (!lead) {
        dc_kvs_free(kvs);
        return dc__error(DC_ENOTFOUND, "election under %s: no candidate, so no leader", prefix);
    }
    if (create_revision) *create_revision = lead->create_revision;
    if (name && !(*name = strdup(lead->value))) rc = dc__nomem("election");
    dc_kvs_free(kvs);
    return rc;
}

void dc_election_free(dc_election *e)
{
    if (!e) return;
    drop(e);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->prefix);
    free(e->name);
    free(e);
}
