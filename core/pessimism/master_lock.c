/*
 * Driving one lock: DM's step 4 (PUT exec=true for the owner, wait for
 * it to be done, PUT exec=false for the others) and step 10 (DELETE the
 * operations once every awaited source is done).
 *
 * Every write goes through dcp_write_keys: each operation key is written
 * with a compare on exactly the state the master's mirror holds for it (the
 * store at the last handled revision; no read first), so a done mark
 * that a worker wrote is never overwritten (docs/DESIGN.md, "Beyond DM", item 2, without DM's
 * two-txn trick), and a done operation found while writing is taken as the
 * done event it is.
 *
 * The writes are not made one lock step at a time: dcp_master_progress queues
 * them (exec=true puts, exec=false puts, step 10's deletes), and
 * dcp_master_flush commits everything one batch of events moved in txns of up
 * to 32 keys, so no txn grows with the number of sources or locks (item 6;
 * etcd allows 128 ops), and 300 locks moving together cost ten txns, not
 * 300. Only then are their steps reported, step 10's locks freed and the
 * locks whose writes found done operations driven again.
 */
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct put_ctx {
    dc_master *m;
    pess_lock *lock;
    char **keys;
    char **sources;
    size_t n;
    int exec;
    int found_done; /* operations found already done while writing */
} put_ctx;

static int key_list(dc_master *m, const pess_lock *lock, char **sources, size_t n, int kind,
                    char ***keys)
{
    char **k = calloc(n ? n : 1, sizeof *k);
    if (!k) return dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = kind == K_OP ? dc_operation_key(m->ns, lock->task, sources[i], &k[i])
                              : dc_info_key(m->ns, lock->task, sources[i], &k[i]);
        if (rc) {
            dc_strings_free(k, i);
            return rc;
        }
    }
    *keys = k;
    return DC_OK;
}

static int decide_put(void *vctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    put_ctx *c = vctx;
    *act = PESS_SKIP;
    if (cur) {
        dc_operation *op;
        int rc = dc_operation_decode(cur->key, cur->value, cur->value_len, &op);
        if (rc == DC_ENOMEM) return rc;
        if (rc == DC_OK) {
            int mine = strcmp(op->id, c->lock->id) == 0;
            int same = mine && !op->done && op->exec == c->exec &&
                       dc_ddls_equal((const char *const *)op->ddls, op->n_ddls,
                                     (const char *const *)c->lock->ddls, c->lock->n_ddls);
            int done = op->done, was_exec = op->exec;
            dc_operation_free(op);
            if (mine && done) {
                /* The worker finished already (a restart, or a race with us). */
                if (!dcp_lock_is_done(c->lock, c->sources[i])) {
                    dcp_lock_mark_done(c->lock, c->sources[i]);
                    c->found_done++;
                }
                return DC_OK;
            }
            if (same) return DC_OK;
            if (mine && was_exec) {
                /* An exec=true that is out may be executing: only a takeover
                 * (master_owner.c) removes it, after checking the owner's
                 * intent. A write never turns it into something else. */
                dc_log(DC_LOG_WARN, PESS,
                       "lock %s: %s holds exec=true of this lock: not overwritten; waiting",
                       dc__e(c->lock->id), dc__e(cur->key));
                return DC_OK;
            }
            if (!mine) {
                /* The source is still in another lock: a done operation waits
                 * for that lock's step 10, a pending one for its worker, who
                 * may be executing it right now (issue #12 case 6). Never
                 * overwrite either; the event of its end drives us again. */
                dc_log(DC_LOG_WARN, PESS,
                       "lock %s: %s still holds %s operation of another lock; waiting",
                       dc__e(c->lock->id), dc__e(cur->key), done ? "a done" : "a pending");
                return DC_OK;
            }
        } else {
            dc_log(DC_LOG_WARN, PESS, "lock %s: replacing corrupt operation %s: %s",
                   dc__e(c->lock->id), dc__e(cur->key), dc_last_error());
        }
    }
    dc_operation op = {
        c->lock->id, c->lock->task, c->sources[i], c->lock->ddls, c->lock->n_ddls, c->exec, 0, 0};
    *act = PESS_PUT;
    return dc_operation_encode(&op, value);
}

typedef struct del_ctx {
    const pess_lock *lock;
    int with_infos;
    size_t n_ops;           /* keys [0, n_ops) are operations, the rest infos */
    const pess_mirror *ops; /* lock IDs already decoded from events (may be NULL) */
} del_ctx;

static int decide_delete(void *vctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    del_ctx *c = vctx;
    *act = PESS_SKIP;
    if (!cur) return DC_OK;
    char *id = NULL;
    int rc;
    const char *known = i < c->n_ops ? dcp_mirror_id(c->ops, cur) : NULL;
    if (known) {
        /* Step 10 deletes done operations whose events the master decoded
         * already: decoding each again was a sixth of its time. */
        *act = strcmp(known, c->lock->id) == 0 ? PESS_DELETE : PESS_SKIP;
        return DC_OK;
    }
    if (i < c->n_ops) {
        dc_operation *op;
        rc = dc_operation_decode(cur->key, cur->value, cur->value_len, &op);
        if (!rc) id = strdup(op->id);
        dc_operation_free(op);
    } else {
        dc_info *info;
        rc = dc_info_decode(cur->key, cur->value, cur->value_len, &info);
        if (!rc) rc = dc_info_lock_id(info, &id);
        dc_info_free(info);
    }
    if (rc == DC_ENOMEM) return rc;
    /* Delete only this lock's values: a source may have moved on to its next
     * DDL, and a corrupt value is left for a human to look at. */
    if (id && strcmp(id, c->lock->id) == 0) *act = PESS_DELETE;
    free(id);
    return DC_OK;
}

int dcp_master_delete_lock_keys(dc_master *m, pess_lock *lock, int with_infos, int64_t *rev)
{
    size_t n;
    pess_src **v = dcp_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        free(v);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) names[i] = v[i]->name;
    free(v);
    char **ops = NULL, **infos = NULL, **all = NULL;
    int rc = dcp_master_flush_writes(m);
    if (!rc) rc = key_list(m, lock, names, n, K_OP, &ops);
    if (!rc && with_infos) rc = key_list(m, lock, names, n, K_INFO, &infos);
    size_t total = with_infos ? 2 * n : n;
    if (!rc && !(all = calloc(total ? total : 1, sizeof *all))) rc = DC_ENOMEM;
    if (!rc) {
        for (size_t i = 0; i < n; i++) all[i] = ops[i];
        for (size_t i = 0; with_infos && i < n; i++) all[n + i] = infos[i];
        del_ctx c = {lock, with_infos, n, &m->ops};
        rc = dcp_write_keys(m->store, &m->fence, &m->ops, all, total, decide_delete, &c, rev, NULL);
    }
    free(all);
    dc_strings_free(ops, ops ? n : 0);
    dc_strings_free(infos, infos ? n : 0);
    free(names);
    return rc == DC_ENOMEM ? dc__error(DC_ENOMEM, "out of memory") : rc;
}

int dcp_master_delete_op(dc_master *m, pess_lock *lock, const char *source)
{
    char *key;
    int rc = dcp_master_flush_writes(m);
    if (!rc) rc = dc_operation_key(m->ns, lock->task, source, &key);
    if (rc) return rc;
    del_ctx c = {lock, 0, 1, &m->ops};
    rc = dcp_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_delete, &c, NULL, NULL);
    free(key);
    return rc;
}

/* Sources still to get exec=false: awaited, not done, not the owner (unless
 * the DDL already ran: then the owner skips too). */
static char **pending_others(const pess_lock *lock, size_t *count)
{
    size_t n, k = 0;
    pess_src **v = dcp_lock_sorted(lock, &n);
    if (!v) return NULL;
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!v[i]->done && !v[i]->excluded && !v[i]->left &&
            (lock->executed || strcmp(v[i]->name, lock->owner)))
            out[k++] = v[i]->name;
    free(v);
    *count = k;
    return out;
}

/* ---------------------------------------------------------------- the batch */

static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return DC_OK;
    size_t c = *cap ? 2 * *cap : 16;
    void *v = realloc(*(void **)arr, c * size);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    *(void **)arr = v;
    *cap = c;
    return DC_OK;
}

static void qw_free(master_qw *e)
{
    if (e->lock) ML(e->lock)->queued--;
    free(e->key);
    free(e->source);
    free(e);
}

static void queue_clear(dc_master *m)
{
    HASH_CLEAR(hh, m->qkeys);
    for (size_t i = 0; i < m->nq; i++) qw_free(m->q[i]);
    m->nq = 0;
}

void dcp_master_lock_gone(dc_master *m, pess_lock *lock)
{
    master_job *j = ML(lock)->job;
    if (j && !j->finished) {
        j->finished = 1;
        j->code = DC_OK;
        snprintf(j->message, sizeof j->message, "lock %s resolved%s%s", dc__e(lock->id),
                 j->o.owner ? " by owner " : "", j->o.owner ? dc__e(j->o.owner) : "");
    }
    ML(lock)->job = NULL;
    pthread_cond_broadcast(&m->cond);
}

void dcp_master_queue_drop(dc_master *m)
{
    queue_clear(m);
    /* Not "gone" for an unlock waiting on them: their deletes may not have
     * been written, and the rebuild that follows finds them again. */
    for (size_t i = 0; i < m->nfin; i++) dcp_lock_free(m->finishing[i]);
    if (m->nfin) pthread_cond_broadcast(&m->cond);
    m->nfin = 0;
    dc_strings_free(m->redrive, m->nredrive);
    m->redrive = NULL;
    m->nredrive = m->capredrive = 0;
}

void dcp_master_queue_forget(dc_master *m, pess_lock *lock)
{
    for (size_t i = 0; ML(lock)->queued && i < m->nq; i++)
        if (m->q[i]->lock == lock) {
            m->q[i]->lock = NULL;
            ML(lock)->queued--;
        }
}

/* Queue a write of source's operation. A key already queued is written
 * first: one txn must not hold two writes of a key, and the second decision
 * has to see the first one's outcome. */
static int queue_op(dc_master *m, pess_lock *lock, const char *source, int kind)
{
    char *key;
    int rc = kind == QW_DELETE_INFO ? dc_info_key(m->ns, lock->task, source, &key)
                                    : dc_operation_key(m->ns, lock->task, source, &key);
    if (rc) return rc;
    master_qw *dup = NULL;
    HASH_FIND_STR(m->qkeys, key, dup);
    if (dup && (rc = dcp_master_flush_writes(m)) != DC_OK) {
        free(key);
        return rc;
    }
    master_qw *e = calloc(1, sizeof *e);
    if (!e || (rc = grow(&m->q, &m->capq, m->nq, sizeof *m->q)) != DC_OK ||
        !(e->source = strdup(source))) {
        free(key);
        free(e);
        return rc ? rc : dc__error(DC_ENOMEM, "out of memory");
    }
    e->key = key;
    e->lock = lock;
    e->kind = kind;
    HASH_ADD_KEYPTR(hh, m->qkeys, e->key, strlen(e->key), e);
    if (!DC_HASH_ADDED(hh, e)) {
        free(e->source);
        free(e->key);
        free(e);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    ML(lock)->queued++;
    m->q[m->nq++] = e;
    return DC_OK;
}

static int redrive_add(dc_master *m, const char *id)
{
    int rc = grow(&m->redrive, &m->capredrive, m->nredrive, sizeof *m->redrive);
    if (!rc && !(m->redrive[m->nredrive] = strdup(id))) rc = dc__error(DC_ENOMEM, "no memory");
    if (!rc) m->nredrive++;
    return rc;
}

static int decide_queued(void *vctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    dc_master *m = vctx;
    master_qw *e = m->q[i];
    *act = PESS_SKIP;
    if (!e->lock) return DC_OK;
    if (e->kind == QW_DELETE || e->kind == QW_DELETE_INFO) {
        del_ctx c = {e->lock, 0, e->kind == QW_DELETE, &m->ops};
        return decide_delete(&c, 0, cur, act, value);
    }
    put_ctx c = {m, e->lock, NULL, &e->source, 1, e->kind == QW_EXEC, 0};
    int rc = decide_put(&c, 0, cur, act, value);
    /* A done operation found while writing is its done event: the lock may
     * move on once the batch is written. */
    if (!rc && c.found_done) rc = redrive_add(m, e->lock->id);
    return rc;
}

static void echo_free(dc_master *m, master_echo *e)
{
    HASH_DEL(m->echoes, e);
    free(e->id);
    free(e);
}

/* Remember a committed operation put (best effort: nothing when out of memory). */
static void echo_add(dc_master *m, const char *key, int64_t rev, const char *id)
{
    size_t kl = strlen(key);
    master_echo *e = NULL;
    HASH_FIND(hh, m->echoes, key, kl, e);
    if (e) echo_free(m, e);
    e = malloc(sizeof *e + kl + 1);
    if (!e) return;
    if (!(e->id = strdup(id))) {
        free(e);
        return;
    }
    e->rev = rev;
    memcpy(e->key, key, kl + 1);
    HASH_ADD(hh, m->echoes, key[0], kl, e);
    if (!DC_HASH_ADDED(hh, e)) { /* best effort, as above */
        free(e->id);
        free(e);
    }
}

int dcp_master_echo_seen(dc_master *m, const dc_kv *kv)
{
    master_echo *e = NULL;
    HASH_FIND(hh, m->echoes, kv->key, kv->key_len, e);
    if (!e || e->rev > kv->mod_revision) return 0; /* none, or an older event first */
    int mine = e->rev == kv->mod_revision;         /* one revision, one value: ours */
    if (mine) dcp_mirror_note_id(&m->ops, kv->key, kv->key_len, kv->mod_revision, e->id);
    echo_free(m, e);
    return mine;
}

void dcp_master_echo_clear(dc_master *m)
{
    master_echo *e, *tmp;
    HASH_ITER(hh, m->echoes, e, tmp) echo_free(m, e);
}

int dcp_master_flush_writes(dc_master *m)
{
    size_t n = m->nq;
    if (n == 0) return DC_OK;
    char **keys = malloc(n * sizeof *keys);
    int64_t *revs = calloc(n, sizeof *revs);
    int rc = keys && revs ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) keys[i] = m->q[i]->key;
    if (!rc)
        rc = dcp_write_keys(m->store, &m->fence, &m->ops, keys, n, decide_queued, m, NULL, revs);
    for (size_t i = 0; i < n && !rc; i++) {
        master_qw *e = m->q[i];
        if (!e->lock) continue;
        if (e->kind == QW_DELETE || e->kind == QW_DELETE_INFO) {
            if (revs[i] > ML(e->lock)->del_rev) ML(e->lock)->del_rev = revs[i];
        } else if (revs[i]) {
            int exec = e->kind == QW_EXEC;
            echo_add(m, e->key, revs[i], e->lock->id);
            rc = dcp_master_step(m, 4, e->lock, e->source, revs[i], "PUT operation exec=%s%s",
                                 exec ? "true" : "false", exec ? " (owner)" : " (skip)");
        }
    }
    free(keys);
    free(revs);
    queue_clear(m);
    return rc;
}

/* Step 10 of the locks whose deletes were written: report and free them. */
static int finish_locks(dc_master *m)
{
    int rc = DC_OK;
    size_t i = 0;
    for (; i < m->nfin && !rc; i++) {
        pess_lock *l = m->finishing[i];
        rc = dcp_master_step(m, 10, l, NULL, ML(l)->del_rev, "DELETE operations: lock resolved");
        dcp_master_lock_gone(m, l);
        dcp_lock_free(l);
    }
    /* On a stop, the rest go with the dropped batch. */
    if (i < m->nfin) memmove(m->finishing, m->finishing + i, (m->nfin - i) * sizeof *m->finishing);
    m->nfin -= i;
    return rc;
}

int dcp_master_flush(dc_master *m, int rc)
{
    while (!rc) {
        rc = dcp_master_flush_writes(m);
        if (!rc) rc = finish_locks(m);
        if (rc || m->nredrive == 0) break;
        char **ids = m->redrive;
        size_t n = m->nredrive;
        m->redrive = NULL;
        m->nredrive = m->capredrive = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            pess_lock *l = dcp_keeper_find(m->keeper, ids[i]);
            if (l) rc = dcp_master_progress(m, l);
        }
        dc_strings_free(ids, n);
    }
    if (rc) dcp_master_queue_drop(m);
    return rc;
}

/* Step 10: queue the deletes of every source's operation and take the lock
 * out of the keeper now (so an info of the next DDL on the table makes a new
 * lock, as when the deletes were written at once); it is freed once they
 * are written. */
static int queue_step10(dc_master *m, pess_lock *lock)
{
    size_t n;
    pess_src **v = dcp_lock_sorted(lock, &n);
    int rc = v ? grow(&m->finishing, &m->capfin, m->nfin, sizeof *m->finishing)
               : dc__error(DC_ENOMEM, "out of memory");
    if (rc) {
        free(v);
        return rc;
    }
    dcp_keeper_detach(m->keeper, lock);
    m->finishing[m->nfin++] = lock;
    ML(lock)->removing = 1;
    for (size_t i = 0; i < n && !rc; i++) rc = queue_op(m, lock, v[i]->name, QW_DELETE);
    /* A source that left the task while the lock was out and did not come
     * back is not awaited; its info would outlive the lock as a phantom that
     * the next rebuild turns into a lock of its own (issue #12 case 4). Its
     * worker, if it still waits, learns that the lock is gone. */
    for (size_t i = 0; i < n && !rc; i++)
        if (v[i]->left && !v[i]->done) rc = queue_op(m, lock, v[i]->name, QW_DELETE_INFO);
    free(v);
    return rc;
}

int dcp_master_rejoin(dc_master *m, pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    master_lock *ml = ML(lock);
    if (!s || s->left || s->done || ml->removing) return DC_OK;
    if (!s->excluded) {
        /* Reported (again) once the others have their exec=false: it gets
         * its own (a no-op write when it has it already). */
        if (!ml->others_put || (!lock->executed && strcmp(source, lock->owner) == 0)) return DC_OK;
        return queue_op(m, lock, source, QW_SKIP);
    }
    /* An unlock forced the lock without this source (it had not reported
     * then); now it reports the lock's DDLs while the lock is still out. Left
     * out, it would get no operation, and its info would outlive the lock as
     * a phantom that the next rebuild turns into a new lock of DDLs that
     * already ran. It skips with the others and is awaited like them. */
    s->excluded = 0;
    dc_log(DC_LOG_INFO, PESS, "lock %s: source %s reported after an unlock forced the lock: it %s",
           dc__e(lock->id), dc__e(source), ml->others_put ? "skips now" : "skips with the others");
    if (!ml->others_put || (!lock->executed && strcmp(source, lock->owner) == 0)) return DC_OK;
    return queue_op(m, lock, source, QW_SKIP);
}

int dcp_master_progress(dc_master *m, pess_lock *lock)
{
    master_lock *ml = ML(lock);
    if (ml->removing) return DC_OK;
    const pess_task *t = dcp_task_find(&m->tasks, lock->task);
    if (!lock->forced && (!t || t->n == 0)) {
        /* Without membership the master cannot know who else must report:
         * syncing on the reporters alone would let a late source reopen the
         * lock and run the DDL twice. Wait for `task add`. */
        dc_log(DC_LOG_WARN, PESS, "lock %s: task %s has no sources registered; waiting",
               dc__e(lock->id), dc__e(lock->task));
        return DC_OK;
    }
    /* Each pass either waits (returns) or queues the lock's next writes.
     * owner_put / others_put mean "written or queued": handlers later in the
     * batch must see the lock as past that point, as they would have had
     * the write gone out at once. A write that finds done operations drives
     * the lock again after the flush. */
    for (int pass = 0; pass < 8; pass++) {
        if (!dcp_lock_is_synced(lock, NULL)) return DC_OK;
        if (!lock->executed && !dcp_lock_is_done(lock, lock->owner)) {
            if (ml->owner_put) return DC_OK;
            int rc = queue_op(m, lock, lock->owner, QW_EXEC);
            if (!rc) ml->owner_put = 1;
            return rc;
        }
        if (!ml->others_put) {
            size_t n;
            char **others = pending_others(lock, &n);
            if (!others) return dc__error(DC_ENOMEM, "out of memory");
            int rc = DC_OK;
            for (size_t i = 0; i < n && !rc; i++) rc = queue_op(m, lock, others[i], QW_SKIP);
            free(others); /* borrowed names */
            if (rc) return rc;
            ml->others_put = 1;
            if (n) return DC_OK;
            continue;
        }
        if (!dcp_lock_is_resolved(lock)) return DC_OK;
        return queue_step10(m, lock);
    }
    return DC_OK;
}

typedef struct conflict_ctx {
    const char *value; /* NULL = delete */
} conflict_ctx;

static int decide_conflict(void *vctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    conflict_ctx *c = vctx;
    (void)i;
    *act = PESS_SKIP;
    if (!c->value) {
        if (cur) *act = PESS_DELETE;
        return DC_OK;
    }
    if (cur && cur->value_len == strlen(c->value) &&
        memcmp(cur->value, c->value, cur->value_len) == 0)
        return DC_OK;
    *value = strdup(c->value);
    if (!*value) return dc__error(DC_ENOMEM, "out of memory");
    *act = PESS_PUT;
    return DC_OK;
}

int dcp_master_put_conflict(dc_master *m, const pess_lock *lock, const char *source,
                            int64_t info_rev, const char *message)
{
    pess_conflict cf = {lock->id, info_rev, (char *)message};
    char *json, *key;
    int rc = dcp_conflict_encode(&cf, &json);
    if (rc) return rc;
    rc = dc_conflict_key(m->ns, lock->task, source, &key);
    if (!rc) {
        conflict_ctx c = {json};
        rc = dcp_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_conflict, &c, NULL, NULL);
        free(key);
    }
    free(json);
    return rc;
}

int dcp_master_del_conflict(dc_master *m, const char *task, const char *source)
{
    char *key;
    int rc = dc_conflict_key(m->ns, task, source, &key);
    if (rc) return rc;
    conflict_ctx c = {NULL};
    rc = dcp_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_conflict, &c, NULL, NULL);
    free(key);
    return rc;
}
