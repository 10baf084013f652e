/*
 * The master's admin entry points, callable from any thread while another
 * runs dc_master_run: lock listings, problems, unlock (DM's unlock-ddl-lock)
 * and remove_meta. Each takes the master's mutex, so it is serialised with
 * the event handlers; unlock then waits on the master's condition variable
 * (releasing the mutex) while the handlers drive the lock.
 */
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int dc_master_locks(dc_master *m, const char *task, dc_lock_status **out, size_t *n)
{
    pthread_mutex_lock(&m->mu);
    int rc = dc_keeper_status(m->keeper, task, out, n);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dc_master_problems(dc_master *m, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->mu);
    size_t count = HASH_COUNT(m->bad), k = 0;
    char **v = calloc(count ? count : 1, sizeof *v);
    pess_bad *b, *tmp;
    HASH_ITER(hh, m->bad, b, tmp)
    {
        if (!v) break;
        size_t len = strlen(b->key) + strlen(b->msg) + 3;
        if (!(v[k] = malloc(len))) break;
        /* The message names the key already when it came from a decoder. */
        if (strstr(b->msg, b->key))
            snprintf(v[k], len, "%s", b->msg);
        else
            snprintf(v[k], len, "%s: %s", b->key, b->msg);
        k++;
    }
    pthread_mutex_unlock(&m->mu);
    if (!v || k < count) {
        dc_strings_free(v, k);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    qsort(v, k, sizeof *v, by_str);
    *out = v;
    *n = k;
    return DC_OK;
}

/* The unsynced sources of lock (names copied). */
static char **unsynced(const dc_lock *lock, size_t *count)
{
    size_t n, k = 0;
    pess_src **v = pess_lock_sorted(lock, &n);
    if (!v) return NULL;
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        if (v[i]->ready || v[i]->excluded || v[i]->done) continue;
        if (!(out[k++] = strdup(v[i]->name))) {
            dc_strings_free(out, k - 1);
            out = NULL;
        }
    }
    free(v);
    *count = k;
    return out;
}

static void set_excluded(dc_lock *lock, char **names, size_t n, int on)
{
    for (size_t i = 0; i < n; i++) {
        pess_src *s = pess_lock_src(lock, names[i]);
        if (s) s->excluded = on;
    }
}

/* What an unlock changed on a lock, to revert it on a timeout. */
typedef struct unlock_state {
    char **unsynced; /* sources not awaited (they never reported) */
    size_t n_unsynced;
    char *old_owner;
    int was_forced;
} unlock_state;

static void unlock_state_clear(unlock_state *u)
{
    dc_strings_free(u->unsynced, u->n_unsynced);
    free(u->old_owner);
    memset(u, 0, sizeof *u);
}

/* Force the lock synced, not awaiting its unsynced sources, with the owner
 * replaced, and drive it. Also used again when a rebuild replaced the lock. */
static int apply_unlock(dc_master *m, dc_lock *lock, const char *replace_owner, uint64_t mark,
                        unlock_state *u)
{
    unlock_state_clear(u);
    u->unsynced = unsynced(lock, &u->n_unsynced);
    u->old_owner = strdup(lock->owner);
    u->was_forced = lock->forced;
    if (!u->unsynced || !u->old_owner) return dc__error(DC_ENOMEM, "out of memory");
    if (replace_owner && strcmp(replace_owner, lock->owner)) {
        /* An owner that is done has run the DDL: the new one may only skip. */
        if (dc_lock_is_done(lock, lock->owner)) lock->executed = 1;
        int rc = dc_lock_set_owner(lock, replace_owner);
        if (rc) return rc;
        /* The old owner may hold exec=true: it gets exec=false like the others. */
        lock->owner_put = lock->others_put = 0;
    }
    set_excluded(lock, u->unsynced, u->n_unsynced, 1);
    dc_lock_force_synced(lock);
    lock->unlock_mark = mark;
    dc_log(DC_LOG_INFO, PESS, "unlock %s: owner %s, %zu unsynced sources not awaited",
           dc_e(lock->id), dc_e(lock->owner), u->n_unsynced);
    return master_flush(m, master_progress(m, lock));
}

static int mark_resolved(const dc_master *m, uint64_t mark)
{
    for (int i = 0; i < 8; i++)
        if (m->resolved_marks[i] == mark) return 1;
    return 0;
}

int dc_master_unlock(dc_master *m, const char *lock_id, const char *replace_owner, int force_remove,
                     int timeout_ms)
{
    if (!lock_id) return dc__error(DC_EINVAL, "unlock: no lock ID");
    int64_t deadline = dc_deadline_ms(timeout_ms);
    pthread_mutex_lock(&m->mu);
    int rc = m->fatal;
    dc_lock *lock = rc ? NULL : dc_keeper_find(m->keeper, lock_id);
    if (!rc && !lock) rc = dc__error(DC_ENOTFOUND, "unlock: no lock %s", dc_e(lock_id));
    if (!rc && replace_owner && !pess_lock_src(lock, replace_owner))
        rc = dc__error(DC_ENOTFOUND, "unlock: %s is not a source of lock %s", dc_e(replace_owner),
                       dc_e(lock_id));
    if (!rc && lock->unlock_mark)
        rc = dc__error(DC_EINVAL, "unlock: lock %s is being unlocked already", dc_e(lock_id));
    if (rc) {
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    uint64_t mark = ++m->unlock_serial, rebuilds = m->rebuilds;
    unlock_state u = {0};
    rc = apply_unlock(m, lock, replace_owner, mark, &u);
    /* Wait until our lock is resolved (the handlers do the work) or time is up. */
    for (;;) {
        lock = NULL;
        if (rc || m->fatal || mark_resolved(m, mark)) break;
        lock = dc_keeper_find(m->keeper, lock_id);
        if (!lock) break; /* removed by remove_meta or source removal: nothing left to do */
        if (lock->unlock_mark != mark) {
            if (m->rebuilds == rebuilds) { /* ours is gone, this is a newer lock */
                lock = NULL;
                break;
            }
            rebuilds = m->rebuilds; /* a rebuild made a fresh copy: unlock it again */
            rc = apply_unlock(m, lock, replace_owner, mark, &u);
            continue;
        }
        if (m->running) {
            if (dc_cond_wait_until(&m->cond, &m->mu, deadline)) break;
            continue;
        }
        /* Nobody runs the event loop (the caller may be the loop's own
         * thread, between two dc_master_run calls): run it here. */
        int64_t left = deadline < 0 ? 100 : deadline - dc_now_ms();
        if (left <= 0) break;
        rc = master_pump(m, left > 100 ? 100 : (int)left);
    }
    if (!rc && m->fatal) rc = m->fatal;
    if (!rc && lock && lock->unlock_mark == mark) {
        if (!dc_lock_is_done(lock, lock->owner) && !force_remove) {
            /* As DM: put the lock's sync state back. But the owner stays if
             * its exec=true operation is out (it may be executing right now;
             * handing the lock back would let two sources execute). */
            set_excluded(lock, u.unsynced, u.n_unsynced, 0);
            if (!u.was_forced)
                dc_lock_revert_synced(lock, (const char *const *)u.unsynced, u.n_unsynced);
            if (!lock->owner_put && strcmp(u.old_owner, lock->owner) &&
                pess_lock_src(lock, u.old_owner)) {
                dc_lock_set_owner(lock, u.old_owner);
                lock->owner_put = lock->others_put = 0;
            }
            lock->unlock_mark = 0;
            rc = dc__error(DC_ETIMEDOUT, "unlock %s: the owner did not finish in time",
                           dc_e(lock_id));
        } else {
            int64_t rev = 0;
            rc = master_delete_lock_keys(m, lock, 1, &rev);
            if (!rc)
                rc = master_step(m, 10, lock, NULL, rev, "DELETE infos and operations: %s",
                                 force_remove ? "force-removed" : "unlocked, some not done");
            master_remove_lock(m, lock);
            if (!rc && !force_remove)
                rc = dc__error(DC_ETIMEDOUT, "unlock %s: some sources did not finish",
                               dc_e(lock_id));
        }
    }
    if (rc == DC_ECHANGED && m->fence.key) master_fail(m, rc);
    pthread_mutex_unlock(&m->mu);
    unlock_state_clear(&u);
    return rc;
}

int dc_master_remove_meta(dc_master *m, const char *task)
{
    if (!task || !*task) return dc__error(DC_EINVAL, "remove_meta: no task");
    pthread_mutex_lock(&m->mu);
    int rc = m->fatal;
    dc_txn *t = rc ? NULL : dc_txn_new();
    if (!rc && !t) rc = dc__error(DC_ENOMEM, "out of memory");
    if (!rc) rc = pess_fence_add(&m->fence, t);
    int (*keyfn[4])(const char *, const char *, const char *,
                    char **) = {dc_info_key, dc_operation_key, dc_marker_key, dc_conflict_key};
    for (int i = 0; i < 4 && !rc; i++) {
        char *prefix;
        rc = keyfn[i](m->ns, task, NULL, &prefix);
        if (!rc) rc = dc_txn_delete(t, DC_THEN, prefix, strlen(prefix), DC_PREFIX);
        free(prefix);
    }
    dc_txn_result *res = NULL;
    if (!rc) rc = dc_txn_commit(m->store, t, &res);
    if (!rc && !res->succeeded) {
        rc = master_fail(m,
                         dc__error(DC_ECHANGED, "remove_meta %s: fencing key changed", dc_e(task)));
    }
    if (!rc) {
        pess_keeper_clear(m->keeper, task);
        pthread_cond_broadcast(&m->cond);
        dc_log(DC_LOG_INFO, PESS,
               "remove_meta %s: infos, operations, markers and locks removed "
               "at rev %lld",
               dc_e(task), (long long)res->revision);
    }
    dc_txn_result_free(res);
    dc_txn_free(t);
    pthread_mutex_unlock(&m->mu);
    return rc;
}
