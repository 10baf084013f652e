/*
 * Driving one lock: the seed's step 4 (PUT exec=true for the owner, wait for
 * it to be done, PUT exec=false for the others) and step 10 (DELETE the
 * operations once every awaited source is done).
 *
 * Every write goes through pess_write_keys: each operation key is written
 * with a compare on exactly the state the master's mirror holds for it (the
 * store at the last handled revision; no read first), so a done mark
 * that a worker wrote is never overwritten (DESIGN §5 item 2, without DM's
 * two-txn trick), and a done operation found while writing is taken as the
 * done event it is. Writes come in chunks of 32 keys, so 300 sources need
 * ten txns, none bigger than etcd's limit (item 6).
 */
#include "master.h"

#include <stdlib.h>
#include <string.h>

typedef struct put_ctx {
    dc_master *m;
    dc_lock *lock;
    char **keys;
    char **sources;
    size_t n;
    int exec;
    int found_done; /* operations found already done while writing */
} put_ctx;

static int key_list(dc_master *m, const dc_lock *lock, char **sources, size_t n, int kind,
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
            int done = op->done;
            dc_operation_free(op);
            if (mine && done) {
                /* The worker finished already (a restart, or a race with us). */
                if (!dc_lock_is_done(c->lock, c->sources[i])) {
                    dc_lock_mark_done(c->lock, c->sources[i]);
                    c->found_done++;
                }
                return DC_OK;
            }
            if (same) return DC_OK;
            if (!mine && done) {
                dc_log(DC_LOG_WARN, PESS,
                       "lock %s: %s still holds a done operation of another lock; waiting",
                       c->lock->id, cur->key);
                return DC_OK;
            }
        } else {
            dc_log(DC_LOG_WARN, PESS, "lock %s: replacing corrupt operation %s: %s", c->lock->id,
                   cur->key, dc_last_error());
        }
    }
    dc_operation op = {
        c->lock->id, c->lock->task, c->sources[i], c->lock->ddls, c->lock->n_ddls, c->exec, 0};
    *act = PESS_PUT;
    return dc_operation_encode(&op, value);
}

/* Step 4.1 / 4.3: put operations with exec for sources. */
static int put_ops(dc_master *m, dc_lock *lock, char **sources, size_t n, int exec)
{
    put_ctx c = {m, lock, NULL, sources, n, exec, 0};
    int rc = key_list(m, lock, sources, n, K_OP, &c.keys);
    if (rc) return rc;
    int64_t *revs = calloc(n ? n : 1, sizeof *revs);
    if (!revs) {
        dc_strings_free(c.keys, n);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    rc = pess_write_keys(m->store, &m->fence, &m->ops, c.keys, n, decide_put, &c, NULL, revs);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!revs[i]) continue;
        rc = master_step(m, 4, lock, sources[i], revs[i], "PUT operation exec=%s%s",
                         exec ? "true" : "false", exec ? " (owner)" : " (skip)");
    }
    free(revs);
    dc_strings_free(c.keys, n);
    return rc;
}

typedef struct del_ctx {
    const dc_lock *lock;
    int with_infos;
    size_t n_ops; /* keys [0, n_ops) are operations, the rest infos */
} del_ctx;

static int decide_delete(void *vctx, size_t i, const dc_kv *cur, pess_act *act, char **value)
{
    del_ctx *c = vctx;
    *act = PESS_SKIP;
    if (!cur) return DC_OK;
    char *id = NULL;
    int rc;
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

int master_delete_lock_keys(dc_master *m, dc_lock *lock, int with_infos, int64_t *rev)
{
    size_t n;
    pess_src **v = pess_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        free(v);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) names[i] = v[i]->name;
    free(v);
    char **ops = NULL, **infos = NULL, **all = NULL;
    int rc = key_list(m, lock, names, n, K_OP, &ops);
    if (!rc && with_infos) rc = key_list(m, lock, names, n, K_INFO, &infos);
    size_t total = with_infos ? 2 * n : n;
    if (!rc && !(all = calloc(total ? total : 1, sizeof *all))) rc = DC_ENOMEM;
    if (!rc) {
        for (size_t i = 0; i < n; i++) all[i] = ops[i];
        for (size_t i = 0; with_infos && i < n; i++) all[n + i] = infos[i];
        del_ctx c = {lock, with_infos, n};
        rc =
            pess_write_keys(m->store, &m->fence, &m->ops, all, total, decide_delete, &c, rev, NULL);
    }
    free(all);
    dc_strings_free(ops, ops ? n : 0);
    dc_strings_free(infos, infos ? n : 0);
    free(names);
    return rc == DC_ENOMEM ? dc__error(DC_ENOMEM, "out of memory") : rc;
}

int master_delete_op(dc_master *m, dc_lock *lock, const char *source)
{
    char *key;
    int rc = dc_operation_key(m->ns, lock->task, source, &key);
    if (rc) return rc;
    del_ctx c = {lock, 0, 1};
    rc = pess_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_delete, &c, NULL, NULL);
    free(key);
    return rc;
}

/* Sources still to get exec=false: awaited, not done, not the owner (unless
 * the DDL already ran: then the owner skips too). */
static char **pending_others(const dc_lock *lock, size_t *count)
{
    size_t n, k = 0;
    pess_src **v = pess_lock_sorted(lock, &n);
    if (!v) return NULL;
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!v[i]->done && !v[i]->excluded && (lock->executed || strcmp(v[i]->name, lock->owner)))
            out[k++] = v[i]->name;
    free(v);
    *count = k;
    return out;
}

int master_progress(dc_master *m, dc_lock *lock)
{
    /* Each pass either waits (returns) or moves the lock on; a pass that
     * finds done operations while writing goes round again. */
    const pess_task *t = pess_task_find(&m->tasks, lock->task);
    if (!lock->forced && (!t || t->n == 0)) {
        /* Without membership the master cannot know who else must report:
         * syncing on the reporters alone would let a late source reopen the
         * lock and run the DDL twice. Wait for `task add`. */
        dc_log(DC_LOG_WARN, PESS, "lock %s: task %s has no sources registered; waiting", lock->id,
               lock->task);
        return DC_OK;
    }
    for (int pass = 0; pass < 8; pass++) {
        if (!dc_lock_is_synced(lock, NULL)) return DC_OK;
        if (!lock->executed && !dc_lock_is_done(lock, lock->owner)) {
            if (lock->owner_put) return DC_OK;
            char *owner = lock->owner;
            int rc = put_ops(m, lock, &owner, 1, 1);
            if (rc) return rc;
            lock->owner_put = 1;
            continue;
        }
        if (!lock->others_put) {
            size_t n;
            char **others = pending_others(lock, &n);
            if (!others) return dc__error(DC_ENOMEM, "out of memory");
            int rc = put_ops(m, lock, others, n, 0);
            free(others); /* borrowed names */
            if (rc) return rc;
            lock->others_put = 1;
            continue;
        }
        if (!dc_lock_is_resolved(lock)) return DC_OK;
        int64_t rev = 0;
        int rc = master_delete_lock_keys(m, lock, 0, &rev);
        if (rc) return rc;
        rc = master_step(m, 10, lock, NULL, rev, "DELETE operations: lock resolved");
        master_remove_lock(m, lock);
        return rc;
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

int master_put_conflict(dc_master *m, const dc_lock *lock, const char *source, int64_t info_rev,
                        const char *message)
{
    pess_conflict cf = {lock->id, info_rev, (char *)message};
    char *json, *key;
    int rc = pess_conflict_encode(&cf, &json);
    if (rc) return rc;
    rc = dc_conflict_key(m->ns, lock->task, source, &key);
    if (!rc) {
        conflict_ctx c = {json};
        rc =
            pess_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_conflict, &c, NULL, NULL);
        free(key);
    }
    free(json);
    return rc;
}

int master_del_conflict(dc_master *m, const char *task, const char *source)
{
    char *key;
    int rc = dc_conflict_key(m->ns, task, source, &key);
    if (rc) return rc;
    conflict_ctx c = {NULL};
    rc = pess_write_keys(m->store, &m->fence, &m->ops, &key, 1, decide_conflict, &c, NULL, NULL);
    free(key);
    return rc;
}
