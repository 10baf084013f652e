/*
 * The admin thread of a leading `ddlcoord master`. It waits until the master
 * has done its step-1 read (so the locks an unlock names exist in memory),
 * then serves every pending request and watches for new ones, calling
 * dc_master_unlock / dc_master_remove_meta. Those calls block while the main
 * thread's dc_master_run does the protocol work, which is why they run here
 * and not in the main loop. Requests are served one at a time, in revision
 * order; a request already answered (by an earlier leader) is skipped.
 */
#include "master_admin.h"

#include "admin.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dcx_master_admin {
    dc_store *store;
    const char *ns;
    dc_master *m;
    const char *name;
    const char *fence_key;
    size_t fence_key_len;
    int64_t fence_rev;
    char *req_prefix;
    char *ans_prefix;
    pthread_t thread;
    atomic_int stop;
    atomic_int fenced;
};

#define ADMIN           "admin"
#define DEFAULT_WAIT_MS 20000
#define MAX_WAIT_MS     600000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 1 if the store shows lock_id (with owner among its sources, when given).
 * The admin watch and the master's watch are separate, so a request can
 * arrive before the master has handled the infos its client saw in the store. */
static int lock_in_store(dcx_master_admin *a, const char *lock_id, const char *owner)
{
    dc_lock_status *locks = NULL;
    size_t n = 0;
    if (dc_locks_read(a->store, a->ns, NULL, &locks, &n, NULL) != DC_OK) return 0;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        if (strcmp(locks[i].id, lock_id) != 0) continue;
        found = !owner;
        for (size_t s = 0; s < locks[i].n_sources && !found; s++)
            found = strcmp(locks[i].sources[s].source, owner) == 0;
    }
    dc_lock_status_free_array(locks, n);
    return found;
}

/* dc_master_unlock, retried while the lock exists in the store but not yet in
 * the master's memory, within the request's wait. */
static int unlock(dcx_master_admin *a, const dcx_admin_req *r, int64_t wait)
{
    int64_t deadline = dcx_now_ms() + wait;
    for (;;) {
        int64_t left = deadline - dcx_now_ms();
        int rc = dc_master_unlock(a->m, r->lock_id, r->owner, r->force_remove,
                                  (int)(left > 1 ? left : 1));
        if (rc != DC_ENOTFOUND || atomic_load(&a->stop) || dcx_now_ms() >= deadline ||
            !lock_in_store(a, r->lock_id, r->owner))
            return rc;
        sleep_ms(100); /* the master has not caught up with the store yet */
    }
}

/* Execute one decoded request; *msg gets a one-line result text. */
static int execute(dcx_master_admin *a, const dcx_admin_req *r, char *msg, size_t len)
{
    if (strcmp(r->op, "unlock") == 0) {
        if (!r->lock_id || !*r->lock_id) {
            snprintf(msg, len, "unlock: missing lock_id");
            return DC_EINVAL;
        }
        int64_t wait = r->wait_ms > 0 ? r->wait_ms : DEFAULT_WAIT_MS;
        if (wait > MAX_WAIT_MS) wait = MAX_WAIT_MS;
        dc_log(DC_LOG_INFO, ADMIN, "unlock %s owner=%s force_remove=%d wait=%" PRId64 "ms",
               r->lock_id, r->owner ? r->owner : "-", r->force_remove, wait);
        int rc = unlock(a, r, wait);
        if (rc == DC_OK)
            snprintf(msg, len, "lock %s resolved%s%s", r->lock_id, r->owner ? " by owner " : "",
                     r->owner ? r->owner : "");
        else if (rc == DC_ENOTFOUND)
            snprintf(msg, len, "no lock %s%s%s (or that owner is not one of its sources)",
                     r->lock_id, r->owner ? " with source " : "", r->owner ? r->owner : "");
        else
            snprintf(msg, len, "%s", dc_last_error());
        return rc;
    }
    if (strcmp(r->op, "remove-meta") == 0) {
        if (!r->task || !*r->task) {
            snprintf(msg, len, "remove-meta: missing task");
            return DC_EINVAL;
        }
        dc_log(DC_LOG_INFO, ADMIN, "remove-meta %s", r->task);
        int rc = dc_master_remove_meta(a->m, r->task);
        if (rc == DC_OK)
            snprintf(msg, len, "metadata of task %s removed", r->task);
        else
            snprintf(msg, len, "%s", dc_last_error());
        return rc;
    }
    snprintf(msg, len, "unknown request '%s'", r->op);
    return DC_EINVAL;
}

/* Serve the request stored in kv, then answer it. */
static void serve(dcx_master_admin *a, const dc_kv *kv)
{
    dcx_admin_req r;
    char msg[512];
    int rc = dcx_admin_req_decode(kv->value, kv->value_len, &r);
    if (rc != DC_OK) {
        snprintf(msg, sizeof msg, "undecodable request at %s", kv->key);
        dc_log(DC_LOG_WARN, ADMIN, "%s", msg);
    } else {
        rc = execute(a, &r, msg, sizeof msg);
        dcx_admin_req_clear(&r);
    }
    dc_log(rc == DC_OK ? DC_LOG_INFO : DC_LOG_WARN, ADMIN, "answer %s: %s: %s", kv->key,
           dc_errname(rc), msg);
    int arc =
        dcx_admin_answer_put(a->store, a->ns, kv->key, kv->key_len, kv->create_revision, kv->lease,
                             a->fence_key, a->fence_key_len, a->fence_rev, rc, msg, a->name);
    if (arc == DC_ECHANGED) {
        dc_log(DC_LOG_WARN, ADMIN, "answer rejected by the fence: this master is deposed");
        atomic_store(&a->fenced, 1);
    } else if (arc == DC_ENOTFOUND) {
        dc_log(DC_LOG_INFO, ADMIN, "request %s was withdrawn before the answer", kv->key);
    } else if (arc != DC_OK) {
        dc_log(DC_LOG_WARN, ADMIN, "cannot answer %s: %s (%s)", kv->key, dc_strerror(arc),
               dc_last_error());
    }
}

/* 1 if key (a request) already has an answer among answers. */
static int answered(const dcx_master_admin *a, const dc_kv *req, const dc_kvs *answers)
{
    const char *id = req->key + strlen(a->req_prefix);
    size_t plen = strlen(a->ans_prefix);
    for (size_t i = 0; i < answers->n; i++)
        if (strcmp(answers->kvs[i].key + plen, id) == 0) return 1;
    return 0;
}

/* Serve pending requests; returns the revision to watch from, or 0 on error. */
static int64_t serve_pending(dcx_master_admin *a)
{
    dc_kvs *reqs = NULL, *answers = NULL;
    int rc = dc_get(a->store, a->req_prefix, strlen(a->req_prefix), DC_PREFIX, 0, &reqs);
    if (rc == DC_OK)
        rc = dc_get(a->store, a->ans_prefix, strlen(a->ans_prefix), DC_PREFIX | DC_KEYS_ONLY, 0,
                    &answers);
    int64_t from = 0;
    if (rc == DC_OK) {
        from = reqs->revision + 1;
        for (size_t i = 0; i < reqs->n && !atomic_load(&a->stop); i++)
            if (!answered(a, &reqs->kvs[i], answers)) serve(a, &reqs->kvs[i]);
    } else {
        dc_log(DC_LOG_WARN, ADMIN, "cannot read admin requests: %s (%s)", dc_strerror(rc),
               dc_last_error());
    }
    dc_kvs_free(reqs);
    dc_kvs_free(answers);
    return from;
}

static void *admin_main(void *arg)
{
    dcx_master_admin *a = arg;
    /* Unlock needs the locks rebuilt by step 1. */
    while (!atomic_load(&a->stop) && dc_master_revision(a->m) == 0) sleep_ms(50);
    dc_watch *w = NULL;
    while (!atomic_load(&a->stop) && !atomic_load(&a->fenced)) {
        if (!w) {
            int64_t from = serve_pending(a);
            if (!from || dc_watch_open(a->store, a->req_prefix, strlen(a->req_prefix), from,
                                       DC_PREFIX | DC_NO_DELETE, &w) != DC_OK) {
                w = NULL;
                sleep_ms(500);
                continue;
            }
        }
        dc_events *ev = NULL;
        int rc = dc_watch_next(w, 200, &ev);
        if (rc == DC_ETIMEDOUT) continue;
        if (rc != DC_OK) {
            /* Compaction or a lost connection: re-read what is pending. */
            dc_watch_close(w);
            w = NULL;
            continue;
        }
        for (size_t i = 0; i < ev->n && !atomic_load(&a->stop); i++)
            if (ev->events[i].type == DC_EVENT_PUT) serve(a, &ev->events[i].kv);
        dc_events_free(ev);
    }
    dc_watch_close(w);
    return NULL;
}

int dcx_master_admin_start(dc_store *store, const char *ns, dc_master *m, const char *name,
                           const char *fence_key, size_t fence_key_len, int64_t fence_rev,
                           dcx_master_admin **out)
{
    *out = NULL;
    dcx_master_admin *a = calloc(1, sizeof *a);
    if (!a) return DC_ENOMEM;
    a->store = store;
    a->ns = ns;
    a->m = m;
    a->name = name;
    a->fence_key = fence_key;
    a->fence_key_len = fence_key_len;
    a->fence_rev = fence_rev;
    a->req_prefix = dcx_admin_prefix(ns, "request");
    a->ans_prefix = dcx_admin_prefix(ns, "answer");
    atomic_init(&a->stop, 0);
    atomic_init(&a->fenced, 0);
    if (!a->req_prefix || !a->ans_prefix) {
        free(a->req_prefix);
        free(a->ans_prefix);
        free(a);
        return DC_ENOMEM;
    }
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        free(a->req_prefix);
        free(a->ans_prefix);
        free(a);
        return DC_EINTERNAL;
    }
    *out = a;
    return DC_OK;
}

int dcx_master_admin_fenced(dcx_master_admin *a)
{
    return a && atomic_load(&a->fenced);
}

void dcx_master_admin_stop(dcx_master_admin *a)
{
    if (!a) return;
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    free(a->req_prefix);
    free(a->ans_prefix);
    free(a);
}
