/*
 * Unlock jobs: DM's unlock-ddl-lock as a job the master's run loop carries
 * until it is over. A job comes from an admin request in the store
 * (master_admin.c) or from a dc_master_unlock call; either way it is checked
 * and applied to its lock at once (forced synced, unsynced sources not
 * awaited, the owner replaced), then the ordinary handlers drive the lock
 * and every pass of the loop looks at the job again: the lock resolved (or
 * went), the wait ran out (put the lock back, or remove it with
 * force_remove), or a rebuild replaced the lock (apply the job again to the
 * new copy). Nothing blocks inside the loop, so one thread can drive a
 * master, its unlocks and their sources with zero timeouts.
 *
 * A job acts only on the instance of its lock that existed at its cutoff
 * (the request's revision, or what the master had handled when the call
 * came): every DDL of a table has the same lock ID, and a request that
 * waited unanswered through a failover must not unlock the next one
 * (issue #12 case 7).
 */
#include "master.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

void dcp_master_job_free(master_job *j)
{
    if (!j) return;
    free(j->lock_id);
    free((char *)j->o.owner);
    free(j->req_key);
    dc_strings_free(j->unsynced, j->n_unsynced);
    free(j->old_owner);
    free(j);
}

static void finish(master_job *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(master_job *j, int code, const char *fmt, ...)
{
    if (j->finished) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->message, sizeof j->message, fmt, ap);
    va_end(ap);
    j->finished = 1;
    j->code = code;
}

master_job *dcp_master_job_of_request(dc_master *m, const char *key, size_t key_len)
{
    for (master_job *j = m->jobs; j; j = j->next)
        if (j->req_key && strlen(j->req_key) == key_len && memcmp(j->req_key, key, key_len) == 0)
            return j;
    return NULL;
}

/* The instance of the job's lock, or NULL (none, or a later one). */
static pess_lock *job_lock(dc_master *m, const master_job *j)
{
    pess_lock *l = dcp_keeper_find(m->keeper, j->lock_id);
    return l && l->born <= j->cutoff ? l : NULL;
}

/* May this job be applied to lock? Finishes it with the reason if not. */
static int job_check(dc_master *m, master_job *j, pess_lock *lock)
{
    pess_lock *any = lock ? lock : dcp_keeper_find(m->keeper, j->lock_id);
    if (!lock && any) {
        finish(j, DC_ENOTFOUND,
               "lock %s was created after the request (at revision %lld, after %lld)",
               dc__e(j->lock_id), (long long)any->born, (long long)j->cutoff);
        return 0;
    }
    if (!lock) {
        finish(j, DC_ENOTFOUND, "no lock %s", dc__e(j->lock_id));
        return 0;
    }
    if (ML(lock)->job && ML(lock)->job != j) {
        finish(j, DC_EINVAL, "lock %s is being unlocked already", dc__e(j->lock_id));
        return 0;
    }
    pess_owner st;
    int rc = dcp_master_owner_state(m, lock, lock->owner, 1, &st);
    if (rc) {
        finish(j, rc, "%s", dc_last_error());
        return 0;
    }
    /* An uncertain lock (its owner may have executed) is decided by an
     * operator, never by a plain unlock. A decision is about an intent the
     * operator could see: one recorded before the request. */
    int intent = st.state == OWNER_INTENT;
    if (intent && (!j->o.assume || st.op_rev > j->cutoff)) {
        dcp_master_warn_uncertain(m, lock, &st, "an unlock came without a decision");
        finish(j, DC_EUNCERTAIN,
               "lock %s is uncertain: owner %s may have executed (attempt %lld at rev %lld) and "
               "did not finish. Check the downstream, then decide: `unlock %s --assume-executed` "
               "(nobody executes it again) or `unlock %s --owner SOURCE --assume-not-executed` "
               "(SOURCE executes it)",
               dc__e(j->lock_id), dc__e(lock->owner), (long long)st.attempt, (long long)st.op_rev,
               dc__e(j->lock_id), dc__e(j->lock_id));
        return 0;
    }
    if (j->o.assume == DC_ASSUME_EXECUTED && !intent && st.state != OWNER_EXECUTED &&
        st.state != OWNER_DONE) {
        finish(j, DC_EINVAL,
               "lock %s is not uncertain: owner %s has not recorded that it is executing; "
               "nothing to assume (a plain unlock makes it execute)",
               dc__e(j->lock_id), dc__e(lock->owner));
        return 0;
    }
    if (j->o.assume == DC_ASSUME_NOT_EXECUTED && st.state == OWNER_EXECUTED) {
        finish(j, DC_EINVAL,
               "lock %s: owner %s recorded that it executed attempt %lld: the DDLs ran; "
               "it finishes on its own (or unlock --assume-executed)",
               dc__e(j->lock_id), dc__e(lock->owner), (long long)st.attempt);
        return 0;
    }
    if (j->o.owner) {
        const pess_src *s = dcp_lock_src(lock, j->o.owner);
        if (!s || s->left) {
            finish(j, DC_ENOTFOUND, "%s is not a source of lock %s", dc__e(j->o.owner),
                   dc__e(j->lock_id));
            return 0;
        }
        /* The owner executes the DDLs where they are in its own stream: a
         * source that has not reported them cannot, and may be busy with
         * another lock's operation (issue #12 case 6). */
        if (!s->ready && !s->done) {
            finish(j, DC_EINVAL, "%s has not reported the DDLs of lock %s: it cannot own it",
                   dc__e(j->o.owner), dc__e(j->lock_id));
            return 0;
        }
    }
    return 1;
}

/* Force the lock synced, not awaiting its unsynced sources, with the owner
 * replaced, and drive it. Also used again when a rebuild replaced the lock. */
static int apply(dc_master *m, master_job *j, pess_lock *lock)
{
    dc_strings_free(j->unsynced, j->n_unsynced);
    j->unsynced = NULL;
    j->n_unsynced = 0;
    size_t n;
    pess_src **v = dcp_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    char **uns = calloc(n ? n : 1, sizeof *uns);
    size_t k = 0;
    int bad = !uns;
    for (size_t i = 0; !bad && i < n; i++) {
        if (v[i]->ready || v[i]->excluded || v[i]->done || v[i]->left) continue;
        bad = !(uns[k++] = strdup(v[i]->name));
    }
    free(v);
    if (bad) {
        dc_strings_free(uns, k);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    j->unsynced = uns;
    j->n_unsynced = k;
    if (!j->old_owner && !(j->old_owner = strdup(lock->owner)))
        return dc__error(DC_ENOMEM, "out of memory");
    if (!j->applied) j->was_forced = lock->forced;
    int rc = DC_OK;
    pess_owner st;
    if ((rc = dcp_master_owner_state(m, lock, lock->owner, 1, &st)) != DC_OK) return rc;
    if (j->o.assume == DC_ASSUME_EXECUTED && !j->took_over &&
        (st.state == OWNER_INTENT || st.state == OWNER_EXECUTED)) {
        /* The operator checked: the DDLs ran. Finish the owner's run for it
         * (its operation done, its marker done: a re-run of it is told
         * "already resolved"); the others skip. */
        rc = dcp_master_owner_act(m, lock, lock->owner, 1, j->cutoff, &st);
        if (rc == DC_EUNCERTAIN || rc == DC_EINVAL) {
            finish(j, rc, "%s", dc_last_error());
            return DC_OK;
        }
        if (rc) return rc;
        j->took_over = 1;
    }
    /* A new owner, or the operator says the owner's intent did not execute
     * (an intent recorded before the request; a later operation is the
     * takeover already made, by this job before a rebuild or by another). */
    int other = j->o.owner && strcmp(j->o.owner, lock->owner) != 0;
    int refence = j->o.assume == DC_ASSUME_NOT_EXECUTED && !j->took_over && st.op_rev &&
                  st.op_rev <= j->cutoff && st.state != OWNER_DONE;
    if (other || refence) {
        rc = dcp_master_owner_leaves(m, lock, j->o.owner,
                                     j->o.assume == DC_ASSUME_NOT_EXECUTED ? j->cutoff : 0);
        if (rc == DC_EUNCERTAIN) {
            dcp_master_owner_state(m, lock, lock->owner, 1, &st);
            finish(j, rc,
                   "lock %s is uncertain: owner %s may have executed (attempt %lld at rev %lld); "
                   "decide with --assume-executed or --assume-not-executed",
                   dc__e(j->lock_id), dc__e(lock->owner), (long long)st.attempt,
                   (long long)st.op_rev);
            return DC_OK;
        }
        if (rc) return rc;
        j->took_over = 1;
    }
    for (size_t i = 0; i < j->n_unsynced; i++) {
        pess_src *s = dcp_lock_src(lock, j->unsynced[i]);
        if (s) s->excluded = 1;
    }
    lock->forced = 1;
    lock->unlocked = 1;
    ML(lock)->job = j;
    j->applied = 1;
    j->rebuilds = m->rebuilds;
    dc_log(DC_LOG_INFO, PESS, "unlock %s: owner %s, %zu unsynced sources not awaited",
           dc__e(lock->id), dc__e(lock->owner), j->n_unsynced);
    return dcp_master_flush(m, dcp_master_progress(m, lock));
}

/* Put the lock's sync state back as it was before the job (DM's unlock
 * does). But the owner stays if its exec=true operation is out: it may be
 * executing right now, and handing the lock back would let two sources
 * execute. */
static void put_back(master_job *j, pess_lock *lock)
{
    master_lock *ml = ML(lock);
    for (size_t i = 0; i < j->n_unsynced; i++) {
        pess_src *s = dcp_lock_src(lock, j->unsynced[i]);
        if (!s) continue;
        s->excluded = 0;
        if (!j->was_forced) s->ready = 0;
    }
    if (!j->was_forced) lock->forced = 0;
    lock->unlocked = 0;
    if (!ml->owner_put && j->old_owner && strcmp(j->old_owner, lock->owner)) {
        const pess_src *o = dcp_lock_src(lock, j->old_owner);
        if (o && !o->left && dcp_lock_set_owner(lock, j->old_owner) == DC_OK)
            ml->owner_put = ml->others_put = 0;
    }
    ml->job = NULL;
}

/* The wait ran out on a lock that is still there. */
static int give_up(dc_master *m, master_job *j, pess_lock *lock)
{
    master_lock *ml = ML(lock);
    if (!j->o.force_remove) {
        /* Without force_remove nothing is removed. Once the owner is done,
         * the sources not done yet have their exec=false (or get it when they
         * report): a worker that crashed before recording its skip finds it
         * when it runs again. Removing their operations and infos here left
         * such a worker nothing that says the DDLs ran, and its re-run opened
         * a new lock of DDLs that had run (explorer finding F3). */
        int owner_done = dcp_lock_is_done(lock, lock->owner);
        put_back(j, lock);
        finish(j, DC_ETIMEDOUT, "unlock %s: %s", dc__e(j->lock_id),
               owner_done ? "some sources did not finish in time; the lock waits for them "
                            "(or --force-remove)"
                          : "the owner did not finish in time");
        return DC_OK;
    }
    /* Removing the lock removes the operations of the sources not done: a
     * takeover like any other for each that holds exec=true (the owner, or
     * an owner an unlock replaced). One whose marker says it ran gets its
     * run finished (so its re-run is "already resolved"); one that may have
     * run stops the removal unless the operator decided. */
    size_t n;
    pess_src **v = dcp_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    int64_t before = j->o.assume == DC_ASSUME_NOT_EXECUTED ? j->cutoff : 0;
    int rc = DC_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        if (v[i]->done) continue;
        pess_owner st;
        rc = dcp_master_owner_act(m, lock, v[i]->name, 0, before, &st);
        if (!rc && st.state == OWNER_EXECUTED)
            rc = dcp_master_owner_act(m, lock, v[i]->name, 1, 0, &st);
        if (rc == DC_EUNCERTAIN) {
            char who[DC_ESC_SIZE];
            dc__esc(v[i]->name, who, sizeof who);
            free(v);
            put_back(j, lock);
            finish(j, DC_EUNCERTAIN,
                   "unlock %s: not removed: %s may have executed; decide with "
                   "--assume-executed or --assume-not-executed",
                   dc__e(j->lock_id), who);
            return DC_OK;
        }
    }
    free(v);
    if (rc) return rc;
    int64_t rev = 0;
    rc = dcp_master_delete_lock_keys(m, lock, 1, &rev);
    if (!rc)
        rc = dcp_master_step(m, 10, lock, NULL, rev, "DELETE infos and operations: force-removed");
    if (rc) return rc;
    finish(j, DC_OK, "lock %s force-removed", dc__e(j->lock_id));
    ml->job = NULL;
    dcp_master_remove_lock(m, lock);
    return DC_OK;
}

int dcp_master_job_start(dc_master *m, const char *lock_id, const dc_unlock_options *o,
                         const dc_kv *req_kv, master_job **out)
{
    if (out) *out = NULL;
    master_job *j = calloc(1, sizeof *j);
    if (!j) return dc__error(DC_ENOMEM, "out of memory");
    j->o = *o;
    j->o.owner = NULL;
    j->lock_id = strdup(lock_id);
    int bad = !j->lock_id || (o->owner && !(j->o.owner = strdup(o->owner)));
    if (req_kv && !bad) {
        bad = !(j->req_key = malloc(req_kv->key_len + 1));
        if (!bad) {
            memcpy(j->req_key, req_kv->key, req_kv->key_len);
            j->req_key[req_kv->key_len] = '\0';
        }
        j->req_create = req_kv->create_revision;
        j->lease = req_kv->lease;
    }
    if (bad) {
        dcp_master_job_free(j);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    /* A request decides about what existed when it was written; a direct
     * call about what this master has seen. */
    j->cutoff = req_kv ? req_kv->create_revision : m->handled;
    int wait = o->wait_ms ? o->wait_ms : DC_UNLOCK_DEFAULT_WAIT_MS;
    j->deadline = wait < 0 ? -1 : dcp_master_now(m) + wait;
    j->next = m->jobs;
    m->jobs = j;
    if (out) *out = j;
    pess_lock *lock = job_lock(m, j);
    int rc = DC_OK;
    if (job_check(m, j, lock)) rc = apply(m, j, lock);
    /* Wake the loop: it carries the job from now on. */
    ssize_t w = write(m->wake[1], "j", 1);
    (void)w;
    return rc;
}

int64_t dcp_master_jobs_deadline(const dc_master *m)
{
    int64_t d = -1;
    for (const master_job *j = m->jobs; j; j = j->next)
        if (!j->finished && j->deadline >= 0 && (d < 0 || j->deadline < d)) d = j->deadline;
    return d;
}

/* One job, one pass. */
static int job_run(dc_master *m, master_job *j)
{
    pess_lock *lock = job_lock(m, j);
    if (!j->applied || j->rebuilds != m->rebuilds) {
        /* Not applied yet (its first try failed: the master rebuilt), or a
         * rebuild made a fresh copy of the lock (or found it resolved). */
        if (!lock && j->applied) {
            finish(j, DC_OK, "lock %s is gone: nothing left to do", dc__e(j->lock_id));
            return DC_OK;
        }
        if (!j->applied && !job_check(m, j, lock)) return DC_OK;
        int rc = apply(m, j, lock);
        if (rc || j->finished) return rc;
        lock = job_lock(m, j);
    }
    if (!lock || ML(lock)->job != j) {
        /* Resolved (dcp_master_lock_gone finished it), or removed by remove_meta
         * or a source removal: nothing left to do. */
        finish(j, DC_OK, "lock %s is gone: nothing left to do", dc__e(j->lock_id));
        return DC_OK;
    }
    if (j->deadline >= 0 && dcp_master_now(m) >= j->deadline) return give_up(m, j, lock);
    return DC_OK;
}

int dcp_master_jobs_run(dc_master *m)
{
    int rc = DC_OK;
    for (master_job *j = m->jobs; j && !rc; j = j->next)
        if (!j->finished) rc = job_run(m, j);
    /* Answer the finished requests; direct calls collect their own. */
    for (master_job **p = &m->jobs; *p && !rc;) {
        master_job *j = *p;
        if (!j->finished || !j->req_key) {
            p = &j->next;
            continue;
        }
        if (!j->withdrawn)
            rc = dcp_master_answer(m, j->req_key, strlen(j->req_key), j->req_create, j->lease,
                                   j->code, j->message);
        if (rc) break;
        *p = j->next;
        dcp_master_job_free(j);
    }
    return rc;
}

void dcp_master_jobs_abort(dc_master *m, int code)
{
    for (master_job **p = &m->jobs; *p;) {
        master_job *j = *p;
        finish(j, code, "%s", dc_strerror(code));
        if (j->req_key) {
            *p = j->next;
            dcp_master_job_free(j);
        } else {
            p = &j->next; /* its caller frees it */
        }
    }
    pthread_cond_broadcast(&m->cond);
}

static void unlink_job(dc_master *m, master_job *j)
{
    for (master_job **p = &m->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

int dc_master_unlock(dc_master *m, const char *lock_id, const dc_unlock_options *options)
{
    dc_unlock_options none = {0};
    const dc_unlock_options *o = options ? options : &none;
    if (!lock_id || !*lock_id) return dc__error(DC_EINVAL, "unlock: no lock ID");
    if (o->owner && !*o->owner) return dc__error(DC_EINVAL, "unlock: empty owner");
    if (o->assume < DC_ASSUME_NOTHING || o->assume > DC_ASSUME_NOT_EXECUTED)
        return dc__error(DC_EINVAL, "unlock: unknown assumption %d", (int)o->assume);
    if (o->assume == DC_ASSUME_EXECUTED && o->owner)
        return dc__error(DC_EINVAL, "unlock: DC_ASSUME_EXECUTED takes no owner");
    if (o->wait_ms < -1 || o->wait_ms > DC_UNLOCK_MAX_WAIT_MS)
        return dc__error(DC_EINVAL, "unlock: wait_ms must be -1..%d", DC_UNLOCK_MAX_WAIT_MS);
    pthread_mutex_lock(&m->mu);
    if (m->fatal) {
        int rc = m->fatal;
        pthread_mutex_unlock(&m->mu);
        return dc__error(rc, "unlock: the master has stopped: %s", dc_strerror(rc));
    }
    master_job *j = NULL;
    int rc = dcp_master_job_start(m, lock_id, o, NULL, &j);
    if (!j) {
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    if (rc) finish(j, rc, "%s", dc_last_error());
    while (!j->finished) {
        if (m->fatal) {
            finish(j, m->fatal, "the master stopped: %s", dc_strerror(m->fatal));
            break;
        }
        if (m->looping || m->want_loop) {
            /* The loop's owner (or a dc_master_run about to take it) does
             * the work and broadcasts after every pass. */
            dc__cond_wait_until(&m->cond, &m->mu, dc__now_ms() + 1000);
            continue;
        }
        /* Nobody runs the loop (the caller may be the loop's own thread,
         * between two dc_master_run calls): run it here. */
        m->looping = 1;
        rc = dcp_master_pump(m, 100);
        m->looping = 0;
        pthread_cond_broadcast(&m->cond);
        if (rc) finish(j, rc, "%s", dc_last_error());
    }
    unlink_job(m, j);
    rc = j->code;
    if (rc == DC_ECHANGED && m->fence.key) dcp_master_fail(m, rc);
    if (rc) dc__error(rc, "%s", j->message);
    dcp_master_job_free(j);
    pthread_mutex_unlock(&m->mu);
    return rc;
}
