/*
 * The master: step 1 (read everything at M1 and rebuild the locks), then an
 * event loop over one watch on the namespace from M1 + 1, dispatching info
 * events (step 3), operation events (step 9), task membership changes and
 * admin requests to handlers that drive the locks (master_lock.c for steps 4
 * and 10, master_unlock.c for unlocks).
 *
 * One watch on "NS/" rather than one per kind keeps every event in revision
 * order across kinds, so a done mark and the info deletion of the same txn
 * arrive together and in the order they were written, and an admin request
 * is handled exactly after everything written before it. Anything
 * unexpected from the store (watch ended, compaction, a write that failed
 * for a transient reason) sets need_rebuild: the next loop pass throws the
 * locks away and rebuilds them from a fresh read, which is always correct
 * because the store, not memory, holds the protocol's state (docs/DESIGN.md,
 * "Watch errors").
 *
 * Handlers and admin calls share m->mu. One pass of the loop (dcp_master_pump)
 * holds it while it rebuilds or handles a batch (including the writes those
 * make) and releases it while it waits for events, so admin calls get in
 * between batches. Only the thread that owns the loop (m->looping: the one in
 * dc_master_run, or an unlock call while nobody runs it) ever waits on the
 * watch, so a rebuild never closes a descriptor another thread polls.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static const char *const kind_names[K_COUNT] = {"info",     "operation", "member", "marker",
                                                "conflict", "request",   "answer"};

int dcp_master_fail(dc_master *m, int code)
{
    if (!m->fatal) m->fatal = code;
    return code;
}

int64_t dcp_master_now(const dc_master *m)
{
    return m->clock_ms ? m->clock_ms(m->clock_ud) : dc__now_ms();
}

int dcp_master_step(dc_master *m, int step, const pess_lock *lock, const char *source, int64_t rev,
                    const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dc_log(DC_LOG_INFO, PESS, "master step %d: lock %s source %s rev %lld: %s", step,
           dc__e(lock ? lock->id : "-"), dc__e(source), (long long)rev, text);
    if (!m->on_step) return DC_OK;
    dc_step st = {step, "master", lock ? lock->id : NULL, lock ? lock->task : NULL, source,
                  rev,  text};
    if (m->on_step(&st, m->step_ud) == 0) return DC_OK;
    dc_log(DC_LOG_WARN, PESS, "master stopped by the step callback after step %d", step);
    return dcp_master_fail(
        m, dc__error(DC_ECLOSED, "stopped by the step callback after step %d", step));
}

void dcp_master_remove_lock(dc_master *m, pess_lock *lock)
{
    dcp_master_lock_gone(m, lock);
    dcp_master_queue_forget(m, lock);
    dcp_keeper_remove(m->keeper, lock);
}

static void free_parts(dc_master *m)
{
    if (m->wake[0] >= 0) {
        close(m->wake[0]);
        close(m->wake[1]);
    }
    for (int k = 0; k < K_COUNT; k++) free(m->pfx[k]);
    free(m->watch_prefix);
    free(m->fence.key);
    dcp_keeper_free(m->keeper);
    free(m->ns);
    free(m->name);
    free(m);
}

int dc_master_new(dc_store *store, const dc_master_options *o, dc_master **out)
{
    *out = NULL;
    if (!store) return dc__error(DC_EINVAL, "master: no store");
    dc_master_options defaults = {0};
    if (!o) o = &defaults;
    dc_master *m = calloc(1, sizeof *m);
    if (!m) return dc__error(DC_ENOMEM, "out of memory");
    m->store = store;
    m->wake[0] = m->wake[1] = -1;
    m->on_step = o->on_step;
    m->step_ud = o->step_userdata;
    m->clock_ms = o->clock_ms;
    m->clock_ud = o->clock_userdata;
    m->reopen = o->reopen;
    m->reopen_ud = o->reopen_userdata;
    m->ns = strdup(o->ns ? o->ns : DC_DEFAULT_NAMESPACE);
    m->name = strdup(o->name ? o->name : "");
    m->keeper = dcp_keeper_new(sizeof(master_lock));
    int rc = m->ns && m->name && m->keeper ? DC_OK : DC_ENOMEM;
    if (!rc && o->fence_key) {
        size_t len = o->fence_key_len ? o->fence_key_len : strlen(o->fence_key);
        m->fence.key = malloc(len + 1);
        if (m->fence.key) {
            memcpy(m->fence.key, o->fence_key, len);
            m->fence.key[len] = '\0';
            m->fence.key_len = len;
            m->fence.create_revision = o->fence_create_revision;
        } else {
            rc = DC_ENOMEM;
        }
    }
    for (int k = 0; k < K_COUNT && !rc; k++) {
        rc = dcp_prefix(m->ns, kind_names[k], &m->pfx[k]);
        if (!rc) m->pfx_len[k] = strlen(m->pfx[k]);
    }
    if (!rc) {
        m->ops.prefix = m->pfx[K_OP];
        m->ops.prefix_len = m->pfx_len[K_OP];
        m->markers.prefix = m->pfx[K_MARKER];
        m->markers.prefix_len = m->pfx_len[K_MARKER];
    }
    if (!rc) {
        /* The watch prefix: everything under the namespace ("NS/"). */
        size_t nl = strlen(m->ns);
        while (nl > 0 && m->ns[nl - 1] == '/') nl--;
        m->watch_prefix = malloc(nl + 2);
        if (m->watch_prefix) {
            memcpy(m->watch_prefix, m->ns, nl);
            memcpy(m->watch_prefix + nl, "/", 2);
        } else {
            rc = DC_ENOMEM;
        }
    }
    if (!rc && pipe2(m->wake, O_NONBLOCK | O_CLOEXEC)) rc = DC_ENOMEM;
    if (!rc && pthread_mutex_init(&m->mu, NULL)) rc = DC_ENOMEM;
    if (!rc && dc__cond_init_monotonic(&m->cond)) {
        pthread_mutex_destroy(&m->mu);
        rc = DC_ENOMEM;
    }
    if (rc) {
        free_parts(m);
        return dc__error(rc, "master: out of memory or descriptors");
    }
    *out = m;
    return DC_OK;
}

void dc_master_free(dc_master *m)
{
    if (!m) return;
    dcp_master_jobs_abort(m, dc__error(DC_ECLOSED, "the master was freed"));
    dc_watch_close(m->watch);
    dcp_master_queue_drop(m);
    dcp_master_echo_clear(m);
    free(m->q);
    free(m->finishing);
    dcp_tasks_free(&m->tasks);
    dcp_bad_free(&m->bad);
    dcp_mirror_clear(&m->ops);
    dcp_mirror_clear(&m->markers);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cond);
    dc_store_close(m->own_store);
    free_parts(m);
}

void dc_master_stop(dc_master *m)
{
    atomic_store(&m->stop, 1);
    ssize_t w = write(m->wake[1], "x", 1);
    (void)w; /* a full pipe already wakes the loop */
}

int64_t dc_master_revision(dc_master *m)
{
    return atomic_load(&m->m1);
}

static int decide_leftover(void *ctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    const pess_leftover *left = ctx;
    (void)value;
    /* Only if it is still exactly the done operation the rebuild saw. */
    *act = cur && cur->mod_revision == left[i].mod_revision ? PESS_DELETE : PESS_SKIP;
    return DC_OK;
}

/* Finish the step 10 of earlier locks whose done operations were left over. */
static int delete_leftovers(dc_master *m, pess_leftover *left, size_t n)
{
    if (n == 0) return DC_OK;
    int rc = dcp_master_flush_writes(m);
    if (rc) return rc;
    char **keys = malloc(n * sizeof *keys);
    if (!keys) return dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) keys[i] = left[i].key;
    int64_t rev = 0;
    rc = dcp_write_keys(m->store, &m->fence, &m->ops, keys, n, decide_leftover, left, &rev, NULL);
    free(keys);
    if (!rc && rev)
        rc = dcp_master_step(m, 10, NULL, NULL, rev,
                             "DELETE %zu operations left by an earlier lock", n);
    return rc;
}

/* A rebuild can find a conflict nobody reported yet: both reports were in the
 * store when this master started (or its predecessor died between them). The
 * worker learns of a conflict only from its conflict key, so write one for
 * every conflicting source, against the info the snapshot holds. */
static int report_rebuilt_conflicts(dc_master *m, const pess_snapshot *snap)
{
    const dc_response *infos = &snap->res->responses[SNAP_INFOS];
    pess_lock **locks = NULL;
    size_t n = 0;
    int rc = dcp_keeper_locks(m->keeper, &locks, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        pess_lock *l = locks[i];
        for (pess_src *s = l->srcs; !rc && s; s = s->hh.next) {
            if (!s->conflict) continue;
            char *key = NULL;
            if ((rc = dc_info_key(m->ns, l->task, s->name, &key)) != DC_OK) break;
            int64_t info_rev = 0;
            for (size_t j = 0; j < infos->n_kvs && !info_rev; j++)
                if (strcmp(infos->kvs[j].key, key) == 0) info_rev = infos->kvs[j].mod_revision;
            free(key);
            if (!info_rev) continue;
            char *mine = dcp_strv_join((const char *const *)s->conflict, s->n_conflict);
            char *theirs = dcp_strv_join((const char *const *)l->ddls, l->n_ddls);
            char msg[512];
            snprintf(msg, sizeof msg, "lock %s: source %s reported DDLs %s, the lock has %s",
                     dc__e(l->id), dc__e(s->name), dc__e(mine ? mine : "?"),
                     dc__e(theirs ? theirs : "?"));
            free(mine);
            free(theirs);
            rc = dcp_master_step(m, 3, l, s->name, info_rev, "conflict: %s", msg);
            if (!rc) rc = dcp_master_put_conflict(m, l, s->name, info_rev, msg);
        }
    }
    free(locks);
    return rc;
}

/* Forget everything learned from the store (the watch too). */
static void drop_state(dc_master *m)
{
    dc_watch_close(m->watch);
    m->watch = NULL;
    dcp_master_queue_drop(m); /* before the locks its entries point to go */
    dcp_master_echo_clear(m);
    dcp_keeper_clear(m->keeper, NULL); /* jobs find their locks again after the rebuild */
    dcp_tasks_free(&m->tasks);
    dcp_bad_free(&m->bad);
    dcp_mirror_clear(&m->ops);
    dcp_mirror_clear(&m->markers);
}

/* The store's history was reset (docs/DESIGN.md, "Resets"): nothing learned
 * from the old one (locks, revisions, the leader key, requests) means
 * anything now. Drop it all, get a new handle (and, fenced, a new
 * leadership), and let the next pass rebuild from the new history. */
static int reopen_store(dc_master *m)
{
    m->reset_seen = 0;
    dc_log(DC_LOG_ERROR, PESS,
           "master: the store's history was reset (%s); dropping every lock, reopening the "
           "store%s and rebuilding from the new history",
           dc_last_error(), m->reopen && m->fence.key ? ", campaigning again" : "");
    dcp_master_jobs_abort(m, DC_ERESET); /* they act on a history that is gone: asked again */
    drop_state(m);
    atomic_store(&m->m1, 0);
    m->rebuilds++;
    pthread_cond_broadcast(&m->cond);
    dc_store *fresh = NULL;
    int rc;
    if (m->reopen) {
        const char *fk = NULL;
        size_t fkl = 0;
        int64_t frev = 0;
        dc_store *old = m->store;
        pthread_mutex_unlock(&m->mu); /* it may block: standing by for leadership */
        rc = m->reopen(old, &fresh, &fk, &fkl, &frev, m->reopen_ud);
        pthread_mutex_lock(&m->mu);
        if (rc == DC_OK && !fresh) rc = dc__error(DC_EINVAL, "reopen callback gave no store");
        if (rc == DC_OK && m->fence.key && !fk)
            rc = dc__error(DC_EINVAL, "reopen callback gave no fence to a fenced master");
        if (rc == DC_OK && fk) {
            if (!fkl) fkl = strlen(fk);
            char *key = malloc(fkl + 1);
            if (!key) {
                rc = dc__error(DC_ENOMEM, "out of memory");
            } else {
                memcpy(key, fk, fkl);
                key[fkl] = '\0';
                free(m->fence.key);
                m->fence.key = key;
                m->fence.key_len = fkl;
                m->fence.create_revision = frev;
            }
        }
        if (rc == DC_OK) {
            m->store = fresh;
            dc_store_close(m->own_store); /* a handle of ours from an earlier reset */
            m->own_store = NULL;
        }
    } else if (m->fence.key) {
        rc = dc__error(DC_ERESET,
                       "the store was reset and this fenced master has no way to campaign "
                       "again (dc_master_options.reopen)");
    } else {
        rc = dc_store_reopen(m->store, &fresh);
        if (rc == DC_OK) {
            dc_store_close(m->own_store);
            m->store = m->own_store = fresh;
        }
    }
    if (rc) {
        dc_log(DC_LOG_ERROR, PESS, "master: cannot go on after the reset: %s: %s", dc_errname(rc),
               dc_last_error());
        return dcp_master_fail(m, rc);
    }
    m->resets++;
    m->need_rebuild = 1;
    return DC_OK;
}

/* Step 1: read, rebuild, continue every lock, watch from M1 + 1. */
static int rebuild(dc_master *m)
{
    drop_state(m);
    m->rebuilds++;
    int64_t t0_us = dc__now_us(); /* for the rebuild duration (master_stats.c) */
    pthread_cond_broadcast(&m->cond);
    pess_snapshot snap;
    int rc = dcp_snapshot_read(m->store, m->ns, NULL, 1, &snap);
    if (rc) return rc;
    pess_leftover *left = NULL;
    size_t n_left = 0;
    rc = dcp_rebuild(&snap, m->keeper, &m->tasks, &m->bad, &left, &n_left);
    const dc_response *ops = &snap.res->responses[SNAP_OPS];
    const dc_response *mks = &snap.res->responses[SNAP_MARKERS];
    if (!rc) rc = dcp_mirror_seed(&m->ops, ops->kvs, ops->n_kvs);
    if (!rc) rc = dcp_mirror_seed(&m->markers, mks->kvs, mks->n_kvs);
    int64_t m1 = snap.revision;
    size_t n_infos = snap.res->responses[SNAP_INFOS].n_kvs;
    size_t n_ops = snap.res->responses[SNAP_OPS].n_kvs;
    if (rc) {
        dcp_snapshot_clear(&snap);
        dcp_leftovers_free(left, n_left);
        return rc;
    }
    atomic_store(&m->m1, m1);
    m->handled = m1;
    m->stat_rebuild_ms = (double)(dc__now_us() - t0_us) / 1000.0;
    rc = dcp_master_step(m, 1, NULL, NULL, m1, "GET %zu infos and %zu operations: %zu locks",
                         n_infos, n_ops, dcp_keeper_count(m->keeper));
    if (!rc) rc = report_rebuilt_conflicts(m, &snap);
    if (!rc)
        rc = dc_watch_open(m->store, m->watch_prefix, strlen(m->watch_prefix), m1 + 1, DC_PREFIX,
                           &m->watch);
    if (!rc) rc = delete_leftovers(m, left, n_left);
    dcp_leftovers_free(left, n_left);
    pess_lock **locks = NULL;
    size_t n = 0;
    if (!rc) rc = dcp_keeper_locks(m->keeper, &locks, &n);
    /* The array holds pointers; progress may free a lock, so look each up again. */
    char **ids = rc ? NULL : calloc(n ? n : 1, sizeof *ids);
    if (!rc && !ids) rc = dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; ids && i < n; i++) ids[i] = locks[i]->id;
    for (size_t i = 0; ids && i < n && !rc; i++) {
        pess_lock *l = dcp_keeper_find(m->keeper, ids[i]);
        if (l) rc = dcp_master_progress(m, l);
    }
    free(locks);
    free(ids);
    rc = dcp_master_flush(m, rc);
    /* The jobs first find their locks again (dcp_master_jobs_run, next), then
     * the requests nobody answered yet are served. */
    if (!rc) rc = dcp_master_jobs_run(m);
    if (!rc) rc = dcp_master_admin_pending(m, &snap);
    dcp_snapshot_clear(&snap);
    return rc;
}

/* The IDs of task's locks (the handler may free locks, so it looks each up again). */
static char **task_lock_ids(dc_master *m, const char *task, size_t *count)
{
    *count = 0;
    return dcp_keeper_task_ids(m->keeper, task, count);
}

static int on_info_put(dc_master *m, const dc_kv *kv)
{
    dc_info *info;
    int rc = dc_info_decode(kv->key, kv->value, kv->value_len, &info);
    if (rc == DC_OK) {
        rc = dcp_key_matches(kv->key, kv->key_len, m->pfx_len[K_INFO], info->task, info->source);
        if (rc) dc_info_free(info);
    }
    if (rc == DC_ENOMEM) return rc;
    if (rc) {
        dc_log(DC_LOG_ERROR, PESS, "bad info at rev %lld: %s: %s", (long long)kv->mod_revision,
               dc_errname(rc), dc_last_error());
        dcp_bad_set(&m->bad, kv->key, dc_last_error());
        return DC_OK;
    }
    dcp_bad_del(&m->bad, kv->key);
    const pess_task *t = dcp_task_find(&m->tasks, info->task);
    pess_lock *lock = NULL;
    int created = 0, had_conflict = 0;
    char *id = NULL;
    if (dc_info_lock_id(info, &id) == DC_OK) {
        pess_lock *old = dcp_keeper_find(m->keeper, id);
        pess_src *s = old ? dcp_lock_src(old, info->source) : NULL;
        had_conflict = s && s->conflict;
    }
    free(id);
    rc = dcp_keeper_try_sync(m->keeper, info, t ? (const char *const *)t->sources : NULL,
                             t ? t->n : 0, &lock, &created);
    if (lock && (!lock->born || kv->create_revision < lock->born)) lock->born = kv->create_revision;
    if (rc == DC_ECONFLICT) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_log(DC_LOG_WARN, PESS, "conflict: %s", msg);
        rc = dcp_master_step(m, 3, lock, info->source, kv->mod_revision, "conflict: %s", msg);
        if (!rc) rc = dcp_master_put_conflict(m, lock, info->source, kv->mod_revision, msg);
    } else if (rc == DC_OK) {
        int remain = 0;
        dcp_lock_is_synced(lock, &remain);
        rc = dcp_master_step(m, 3, lock, info->source, kv->mod_revision, "%s%s, %d unsynced",
                             created ? "lock created, owner " : "synced",
                             created ? dc__e(lock->owner) : "", remain);
        if (!rc && had_conflict) rc = dcp_master_del_conflict(m, info->task, info->source);
        if (!rc) rc = dcp_master_rejoin(m, lock, info->source);
        if (!rc) rc = dcp_master_progress(m, lock);
    }
    dc_info_free(info);
    return rc;
}

static int on_info_delete(dc_master *m, const dc_kv *kv)
{
    dcp_bad_del(&m->bad, kv->key);
    char *task, *source;
    if (dcp_key_split(kv->key, kv->key_len, m->pfx_len[K_INFO], &task, &source)) return DC_OK;
    size_t n = 0;
    char **ids = task_lock_ids(m, task, &n);
    int rc = ids ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        pess_lock *l = ids[i] ? dcp_keeper_find(m->keeper, ids[i]) : NULL;
        pess_src *s = l ? dcp_lock_src(l, source) : NULL;
        if (!s || s->done) continue;
        if (s->conflict) {
            dc_strings_free(s->conflict, s->n_conflict);
            s->conflict = NULL;
            s->n_conflict = 0;
            rc = dcp_master_del_conflict(m, task, source);
        }
        /* A worker withdrew its report before the lock synced (DM has no such
         * path). Once operations are out, the info is only deleted by done. */
        if (!l->forced && !ML(l)->owner_put && s->ready) {
            dcp_lock_unsync(l, source);
            dc_log(DC_LOG_INFO, PESS, "lock %s: %s withdrew its info", dc__e(l->id), dc__e(source));
            /* An owner that withdrew hands over (no operation is out yet). */
            const char *next = strcmp(l->owner, source) == 0 ? dcp_lock_pick_owner(l, NULL) : NULL;
            pess_src *ns = next ? dcp_lock_src(l, next) : NULL;
            if (ns && ns->ready && !rc) rc = dcp_lock_set_owner(l, next);
            int any = 0;
            for (pess_src *x = l->srcs; x; x = x->hh.next) any |= x->ready || x->done;
            if (!any) {
                dc_log(DC_LOG_INFO, PESS, "lock %s: no reports left, dropped", dc__e(l->id));
                dcp_master_remove_lock(m, l);
            }
        }
    }
    dc_strings_free(ids, n);
    free(task);
    free(source);
    return rc;
}

static int on_op_put(dc_master *m, const dc_kv *kv)
{
    if (dcp_master_echo_seen(m, kv)) {
        /* Our own exec put coming back: not done, nothing to drive. */
        dcp_bad_del(&m->bad, kv->key);
        return DC_OK;
    }
    dc_operation *op;
    int rc = dc_operation_decode(kv->key, kv->value, kv->value_len, &op);
    if (rc == DC_OK) {
        rc = dcp_key_matches(kv->key, kv->key_len, m->pfx_len[K_OP], op->task, op->source);
        if (rc) dc_operation_free(op);
    }
    if (rc == DC_ENOMEM) return rc;
    if (rc) {
        dc_log(DC_LOG_ERROR, PESS, "bad operation at rev %lld: %s: %s", (long long)kv->mod_revision,
               dc_errname(rc), dc_last_error());
        dcp_bad_set(&m->bad, kv->key, dc_last_error());
        return DC_OK;
    }
    dcp_bad_del(&m->bad, kv->key);
    dcp_mirror_note_id(&m->ops, kv->key, kv->key_len, kv->mod_revision, op->id);
    pess_lock *lock = op->done ? dcp_keeper_find(m->keeper, op->id) : NULL;
    if (lock && dcp_lock_src(lock, op->source) && !dcp_lock_is_done(lock, op->source)) {
        dcp_lock_mark_done(lock, op->source);
        int owner = strcmp(op->source, lock->owner) == 0;
        if (owner && op->exec) lock->executed = 1;
        rc = dcp_master_step(m, 9, lock, op->source, kv->mod_revision, "operation done%s",
                             owner ? " (owner)" : "");
        if (!rc) rc = dcp_master_progress(m, lock);
    }
    dc_operation_free(op);
    return rc;
}

/* Every operation event goes into the mirror before it is acted upon, so
 * the mirror is the store at the revision being handled. */
static int on_op_event(dc_master *m, const dc_event *ev)
{
    const dc_kv *kv = &ev->kv;
    if (ev->type == DC_EVENT_DELETE) {
        dcp_mirror_del(&m->ops, kv->key, kv->key_len);
        dcp_bad_del(&m->bad, kv->key);
        return DC_OK;
    }
    int rc = dcp_mirror_put(&m->ops, kv);
    return rc ? rc : on_op_put(m, kv);
}

/* Tasks whose membership changed in the revision being handled. */
typedef struct pess_touched {
    char **tasks;
    size_t n;
} pess_touched;

static int touched_add(pess_touched *t, const char *task)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->tasks[i], task) == 0) return DC_OK;
    char **v = realloc(t->tasks, (t->n + 1) * sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    t->tasks = v;
    if (!(v[t->n] = strdup(task))) return dc__error(DC_ENOMEM, "out of memory");
    t->n++;
    return DC_OK;
}

/* source joined the task (again) while lock is open. */
static int member_added(dc_master *m, pess_lock *l, const char *source)
{
    master_lock *ml = ML(l);
    if (dcp_lock_rejoin(l, source)) {
        /* It left while the lock was out and comes back before it resolved:
         * its info is still there and its worker may still wait, so it is
         * awaited again, and gets its exec=false like the others. */
        dc_log(DC_LOG_INFO, PESS, "lock %s: source %s is back in task %s", dc__e(l->id),
               dc__e(source), dc__e(l->task));
        ml->others_put = 0;
        return DC_OK;
    }
    /* A source joins a lock only while it syncs. The lock may have been
     * waiting for its task's first member: look at it again. */
    if (!l->forced && !ml->owner_put && !dcp_lock_src_add(l, source))
        return dc__error(DC_ENOMEM, "out of memory");
    return DC_OK;
}

static int member_removed(dc_master *m, pess_lock *l, const char *source, int64_t rev)
{
    master_lock *ml = ML(l);
    int was_out = ml->owner_put || ml->others_put || l->forced;
    if (!dcp_lock_leave(l, source)) return DC_OK;
    dc_log(DC_LOG_INFO, PESS, "lock %s: source %s left task %s at rev %lld", dc__e(l->id),
           dc__e(source), dc__e(l->task), (long long)rev);
    int rc = DC_OK;
    if (strcmp(l->owner, source) == 0) {
        /* Its exec=true may be out: fenced first, unless it may have run
         * (then the lock waits for it, or for an operator). */
        rc = dcp_master_owner_leaves(m, l, NULL, 0);
        if (rc == DC_EUNCERTAIN) return DC_OK;
    } else if (was_out && dcp_lock_is_empty(l)) {
        rc = dcp_master_delete_op(m, l, source); /* its operation would outlive the lock */
    }
    /* Otherwise a skipper's exec=false stays until step 10 deletes it with
     * the others: one that already skipped (and flushed its checkpoint past
     * the DDL) still commits its done txn, instead of failing it and never
     * coming back (explorer finding F2). */
    if (!rc && dcp_lock_is_empty(l)) dcp_master_remove_lock(m, l);
    return rc;
}

static int on_member(dc_master *m, const dc_event *ev, pess_touched *touched)
{
    char *task, *source;
    if (dcp_key_split(ev->kv.key, ev->kv.key_len, m->pfx_len[K_MEMBER], &task, &source))
        return DC_OK;
    int add = ev->type == DC_EVENT_PUT;
    int rc = add ? dcp_task_add_source(&m->tasks, task, source)
                 : (dcp_task_del_source(&m->tasks, task, source), DC_OK);
    size_t n = 0;
    char **ids = rc ? NULL : task_lock_ids(m, task, &n);
    if (!rc && !ids) rc = dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        pess_lock *l = ids[i] ? dcp_keeper_find(m->keeper, ids[i]) : NULL;
        if (!l) continue;
        rc = add ? member_added(m, l, source) : member_removed(m, l, source, ev->kv.mod_revision);
    }
    dc_strings_free(ids, n);
    free(source);
    /* The task's locks are driven once the whole revision is applied:
     * `task add a b` is one txn, and a lock must not sync on "a" alone. */
    if (!rc) rc = touched_add(touched, task);
    free(task);
    return rc;
}

/* Drive every lock of the touched tasks, then forget them. */
static int touched_flush(dc_master *m, pess_touched *t)
{
    int rc = DC_OK;
    for (size_t k = 0; k < t->n; k++) {
        size_t n = 0;
        char **ids = rc ? NULL : task_lock_ids(m, t->tasks[k], &n);
        if (!rc && !ids) rc = dc__error(DC_ENOMEM, "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            pess_lock *l = ids[i] ? dcp_keeper_find(m->keeper, ids[i]) : NULL;
            if (l) rc = dcp_master_progress(m, l);
        }
        dc_strings_free(ids, n);
    }
    dc_strings_free(t->tasks, t->n);
    t->tasks = NULL;
    t->n = 0;
    return rc;
}

static int has_prefix(const dc_kv *kv, const char *p, size_t len)
{
    return kv->key_len > len && memcmp(kv->key, p, len) == 0;
}

static int handle(dc_master *m, const dc_events *evs)
{
    int rc = DC_OK;
    pess_touched touched = {NULL, 0};
    for (size_t i = 0; i < evs->n && !rc; i++) {
        const dc_event *ev = &evs->events[i];
        const dc_kv *kv = &ev->kv;
        if (i > 0 && kv->mod_revision != evs->events[i - 1].kv.mod_revision) {
            /* A revision is complete: drive what it touched, and write. */
            rc = touched_flush(m, &touched);
            m->handled = evs->events[i - 1].kv.mod_revision;
        }
        if (rc) break;
        if (has_prefix(kv, m->pfx[K_INFO], m->pfx_len[K_INFO]))
            rc = ev->type == DC_EVENT_PUT ? on_info_put(m, kv) : on_info_delete(m, kv);
        else if (has_prefix(kv, m->pfx[K_OP], m->pfx_len[K_OP]))
            rc = on_op_event(m, ev);
        else if (has_prefix(kv, m->pfx[K_MEMBER], m->pfx_len[K_MEMBER]))
            rc = on_member(m, ev, &touched);
        else if (has_prefix(kv, m->pfx[K_MARKER], m->pfx_len[K_MARKER])) {
            /* Kept for takeovers and status (an owner's intent); nothing to
             * drive: the done txn that follows an execution is what moves a
             * lock. Not decoded here. */
            if (ev->type == DC_EVENT_PUT)
                rc = dcp_mirror_put(&m->markers, kv);
            else
                dcp_mirror_del(&m->markers, kv->key, kv->key_len);
        } else if (has_prefix(kv, m->pfx[K_REQUEST], m->pfx_len[K_REQUEST])) {
            /* Everything written before the request is handled first: its
             * lock is in memory exactly if it was in the store then. */
            rc = touched_flush(m, &touched);
            if (!rc) rc = dcp_master_flush(m, DC_OK);
            if (!rc) rc = dcp_master_admin_event(m, ev);
        }
    }
    if (rc) {
        dc_strings_free(touched.tasks, touched.n);
        return dcp_master_flush(m, rc);
    }
    if (evs->n) m->handled = evs->events[evs->n - 1].kv.mod_revision;
    /* The writes of every lock that moved in this batch go out together. */
    return dcp_master_flush(m, touched_flush(m, &touched));
}

/* A handler error: fatal ones stop the master, the rest mean "rebuild". */
static int absorb(dc_master *m, int rc, const char *what)
{
    if (rc == DC_OK) return DC_OK;
    if (m->fatal) return m->fatal;
    if (rc == DC_ERESET) {
        m->reset_seen = 1; /* the handle is poisoned: a rebuild would only fail again */
        return DC_OK;
    }
    if (rc == DC_ECHANGED && m->fence.key) {
        dc_log(DC_LOG_ERROR, PESS, "fencing guard failed: %s", dc_last_error());
        return dcp_master_fail(m, rc);
    }
    dc_log(DC_LOG_WARN, PESS, "%s: %s: %s; rebuilding from a fresh read", what, dc_errname(rc),
           dc_last_error());
    m->need_rebuild = 1;
    return DC_OK;
}

/* How long a pass may wait: wait_ms, or less when a job's wait ends sooner. */
static int pass_wait(dc_master *m, int wait_ms)
{
    int64_t d = dcp_master_jobs_deadline(m);
    if (d < 0) return wait_ms;
    int64_t left = d - dcp_master_now(m);
    if (left < 0) left = 0;
    return left < wait_ms ? (int)left : wait_ms;
}

int dcp_master_pump(dc_master *m, int wait_ms)
{
    if (atomic_load(&m->stop)) dcp_master_fail(m, DC_ECLOSED);
    if (m->fatal) return m->fatal;
    if (m->reset_seen) {
        int rc = reopen_store(m);
        if (rc) return rc;
        if (atomic_load(&m->stop)) return dcp_master_fail(m, DC_ECLOSED);
    }
    if (m->need_rebuild || !m->watch) {
        m->need_rebuild = 0;
        int rc = absorb(m, rebuild(m), "rebuild");
        pthread_cond_broadcast(&m->cond);
        if (rc) return rc;
        if (m->reset_seen) return DC_OK; /* reopen at once, no back-off */
        if (m->need_rebuild) {
            /* The store is unwell: back off (up to 1 s) before the next try. */
            m->backoff = m->backoff ? 2 * m->backoff : 50;
            if (m->backoff > 1000) m->backoff = 1000;
            pthread_mutex_unlock(&m->mu);
            dc__sleep_ms(m->backoff < wait_ms ? m->backoff : wait_ms);
            pthread_mutex_lock(&m->mu);
            return DC_OK;
        }
        m->backoff = 0;
    }
    struct pollfd p[2] = {{dc_watch_fd(m->watch), POLLIN, 0}, {m->wake[0], POLLIN, 0}};
    int wait = pass_wait(m, wait_ms);
    pthread_mutex_unlock(&m->mu);
    int pr = poll(p, 2, wait);
    int poll_errno = errno;
    if (p[1].revents) {
        char buf[16];
        while (read(m->wake[0], buf, sizeof buf) > 0) continue;
    }
    pthread_mutex_lock(&m->mu);
    if (pr < 0 && poll_errno != EINTR) dc_log(DC_LOG_WARN, PESS, "poll failed; retrying");
    if (atomic_load(&m->stop)) return dcp_master_fail(m, DC_ECLOSED);
    if (m->fatal) return m->fatal;
    int rc = DC_OK;
    dc_events *evs = NULL;
    int wrc = dc_watch_next(m->watch, 0, &evs);
    if (wrc == DC_OK) {
        rc = absorb(m, handle(m, evs), "handling events");
    } else if (wrc == DC_ERESET) {
        m->reset_seen = 1; /* the next pass reopens the store */
    } else if (wrc != DC_ETIMEDOUT) {
        dc_log(DC_LOG_WARN, PESS, "watch ended: %s: %s; rebuilding", dc_errname(wrc),
               dc_last_error());
        m->need_rebuild = 1; /* not an error of the run: the next pass rebuilds */
    }
    dc_events_free(evs);
    if (!rc && !m->need_rebuild && !m->reset_seen)
        rc = absorb(m, dcp_master_jobs_run(m), "unlock jobs");
    pthread_cond_broadcast(&m->cond);
    return rc;
}

int dc_master_run(dc_master *m, int timeout_ms)
{
    int64_t deadline = dc__deadline_ms(timeout_ms);
    pthread_mutex_lock(&m->mu);
    if (m->running) {
        pthread_mutex_unlock(&m->mu);
        return dc__error(DC_EINVAL, "dc_master_run: already running in another thread");
    }
    m->running = 1;
    /* An unlock call may be driving the loop itself: it hands over at the
     * end of its pass (it sees want_loop). */
    int rc = DC_OK;
    m->want_loop++;
    while (m->looping && !m->fatal) {
        if (dc__cond_wait_until(&m->cond, &m->mu, deadline)) break;
    }
    m->want_loop--;
    if (m->looping) {
        m->running = 0;
        pthread_mutex_unlock(&m->mu);
        return m->fatal ? dc__error(m->fatal, "master stopped: %s", dc_strerror(m->fatal))
                        : DC_OK; /* the time ran out while another thread drove the loop */
    }
    m->looping = 1;
    for (;;) {
        int64_t left = deadline < 0 ? 1000 : deadline - dc__now_ms();
        rc = dcp_master_pump(m, left > 1000 ? 1000 : left < 0 ? 0 : (int)left);
        if (rc || (deadline >= 0 && dc__now_ms() >= deadline)) break;
    }
    m->looping = 0;
    m->running = 0;
    /* Unlock waiters sleep on cond while a loop runs: wake them, so they see
     * the fatal code, or drive the events themselves now that nobody does. */
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->mu);
    return rc ? dc__error(rc, "master stopped: %s", dc_strerror(rc)) : DC_OK;
}
