/*
 * Takeovers: every way a lock's owner stops being its owner while its
 * exec=true operation is out (it left the task, an unlock named another
 * owner, an unlock removes the lock) goes through here, so that the old and
 * the new owner never both execute (docs/DESIGN.md, "Execution intent").
 *
 * Before it runs anything the owner records its execution intent in one txn
 * guarded on its operation's mod_revision R (worker.c, dc_worker_begin_exec).
 * A takeover first fences the owner's operation (deletes it) in a txn that
 * requires exactly the state it decided on: the operation at R and the
 * owner's marker at the revision it read, holding no intent for R. The two
 * txns exclude each other:
 *
 *   - if the intent commits first, the marker's mod_revision changed, so the
 *     fence's compare on it fails (the master re-reads: now it sees the
 *     intent, and the lock is uncertain);
 *   - if the fence commits first, the operation is gone, so the intent's
 *     compare on R fails (the worker re-reads: no operation, it waits).
 *
 * The store applies txns one at a time, so exactly one of the two wins.
 * The test protocol issue12_1_… races them.
 *
 * What the fence finds decides the rest: the owner done (its DDLs ran: the
 * others skip), its marker saying it executed (they ran: the others skip,
 * and an owner that left gets its done txn written for it, so that a re-run
 * is told "already resolved"), its intent (uncertain: the lock waits for the
 * owner or an operator's decision; only an operator's DC_ASSUME_* settles
 * it), or nothing (fenced: the next owner executes).
 */
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RACES 16

/* The state the mirrors hold for key (NULL: absent). */
static const dc_kv *mirrored(const pess_mirror *mr, const char *key, dc_kv *buf)
{
    pess_mirror_ent *e = dcp_mirror_find(mr, key, strlen(key));
    if (!e) return NULL;
    *buf = (dc_kv){e->key,          e->key_len, e->value, e->value_len, e->create_revision,
                   e->mod_revision, 0,          0};
    return buf;
}

/* One consistent read of the owner's operation and marker. */
static int read_keys(dc_master *m, const char *opk, const char *mkk, dc_txn_result **res)
{
    dc_txn *t = dc_txn_new();
    if (!t) return dc__error(DC_ENOMEM, "out of memory");
    int rc = dc_txn_get(t, DC_THEN, opk, strlen(opk), 0, 0);
    if (!rc) rc = dc_txn_get(t, DC_THEN, mkk, strlen(mkk), 0, 0);
    if (!rc) rc = dc_txn_commit(m->store, t, res);
    dc_txn_free(t);
    return rc;
}

int dcp_master_owner_state(dc_master *m, const pess_lock *lock, const char *source, int fresh,
                           pess_owner *st)
{
    char *opk = NULL, *mkk = NULL;
    int rc = dc_operation_key(m->ns, lock->task, source, &opk);
    if (!rc) rc = dc_marker_key(m->ns, lock->task, source, &mkk);
    if (!rc && fresh) {
        dc_txn_result *res = NULL;
        rc = read_keys(m, opk, mkk, &res);
        const dc_response *r = rc ? NULL : res->responses;
        if (!rc)
            rc = dcp_owner_of(r[0].n_kvs ? &r[0].kvs[0] : NULL, r[1].n_kvs ? &r[1].kvs[0] : NULL,
                              lock->id, st);
        dc_txn_result_free(res);
    } else if (!rc) {
        dc_kv b1, b2;
        rc = dcp_owner_of(mirrored(&m->ops, opk, &b1), mirrored(&m->markers, mkk, &b2), lock->id,
                          st);
    }
    free(opk);
    free(mkk);
    return rc;
}

void dcp_master_warn_uncertain(dc_master *m, pess_lock *lock, const pess_owner *st, const char *why)
{
    master_lock *ml = ML(lock);
    if (ml->warned_attempt == st->attempt && ml->warned_rev == st->op_rev) return;
    ml->warned_attempt = st->attempt;
    ml->warned_rev = st->op_rev;
    dc_log(DC_LOG_WARN, PESS,
           "lock %s is uncertain: owner %s may have executed (attempt %lld at rev %lld) and did "
           "not finish; %s. It waits for the owner to finish, or for an operator: "
           "`unlock %s --assume-executed` or `unlock %s --owner SOURCE --assume-not-executed`",
           dc__e(lock->id), dc__e(lock->owner), (long long)st->attempt, (long long)st->op_rev, why,
           dc__e(lock->id), dc__e(lock->id));
}

typedef enum { DO_FENCE, DO_COMPLETE } owner_act;

/* One txn on the owner's keys, built on exactly the state in op/mk (NULL:
 * absent). DC_OK: committed; DC_ECHANGED (fence; the master is deposed);
 * lost: *lost = 1 and op/mk hold the fresh state (the else branch). */
static int owner_txn(dc_master *m, owner_act act, const char *opk, const char *mkk,
                     const char *infok, const dc_kv **op, const dc_kv **mk, dc_txn_result **res,
                     int *lost)
{
    *lost = 0;
    char *opj = NULL, *mkj = NULL;
    int rc = DC_OK;
    if (act == DO_COMPLETE) {
        /* The owner's done txn, written for it: operation done, marker done. */
        dc_operation *o = NULL;
        pess_marker *k = NULL;
        rc = dc_operation_decode((*op)->key, (*op)->value, (*op)->value_len, &o);
        if (!rc) rc = dcp_marker_decode((*mk)->key, (*mk)->value, (*mk)->value_len, &k);
        if (!rc) {
            o->done = 1;
            k->done = 1;
            k->intent = 0;
            rc = dc_operation_encode(o, &opj);
        }
        if (!rc) rc = dcp_marker_encode(k, &mkj);
        dc_operation_free(o);
        dcp_marker_free(k);
    }
    dc_txn *t = rc ? NULL : dc_txn_new();
    if (!rc && !t) rc = dc__error(DC_ENOMEM, "out of memory");
    if (!rc) rc = dcp_fence_add(&m->fence, t);
    const char *keys[2] = {opk, mkk};
    const dc_kv *cur[2] = {*op, *mk};
    for (int i = 0; i < 2 && !rc; i++)
        rc = cur[i] ? dc_txn_compare_int(t, keys[i], strlen(keys[i]), DC_TARGET_MOD, DC_CMP_EQUAL,
                                         cur[i]->mod_revision)
                    : dc_txn_compare_int(t, keys[i], strlen(keys[i]), DC_TARGET_CREATE,
                                         DC_CMP_EQUAL, 0);
    if (!rc && act == DO_FENCE) rc = dc_txn_delete(t, DC_THEN, opk, strlen(opk), 0);
    if (!rc && act == DO_COMPLETE) {
        rc = dc_txn_put(t, DC_THEN, opk, strlen(opk), opj, strlen(opj), 0, 0);
        if (!rc) rc = dc_txn_delete(t, DC_THEN, infok, strlen(infok), 0);
        if (!rc) rc = dc_txn_put(t, DC_THEN, mkk, strlen(mkk), mkj, strlen(mkj), 0, 0);
    }
    for (int i = 0; i < 2 && !rc; i++) rc = dc_txn_get(t, DC_ELSE, keys[i], strlen(keys[i]), 0, 0);
    if (!rc) rc = dc_txn_commit(m->store, t, res);
    dc_txn_free(t);
    free(opj);
    free(mkj);
    if (rc) return rc;
    if ((*res)->succeeded) return DC_OK;
    if (dcp_fence_failed(&m->fence, *res))
        return dc__error(DC_ECHANGED, "fencing key %s changed: no longer the leader",
                         dc__e(m->fence.key));
    /* Lost a race: decide again on what the else branch read. */
    size_t skip = m->fence.key ? 1 : 0;
    const dc_response *r = (*res)->responses;
    *op = r[skip].n_kvs ? &r[skip].kvs[0] : NULL;
    *mk = r[skip + 1].n_kvs ? &r[skip + 1].kvs[0] : NULL;
    *lost = 1;
    return DC_OK;
}

/* May an operator's decision settle this intent? Only one recorded before
 * the decision was made (an intent recorded later is a new execution it
 * knows nothing of). */
static int decided(const pess_owner *st, int64_t assume_before)
{
    return assume_before > 0 && st->op_rev <= assume_before;
}

int dcp_master_owner_act(dc_master *m, pess_lock *lock, const char *source, int complete,
                         int64_t assume_before, pess_owner *found)
{
    memset(found, 0, sizeof *found);
    char *opk = NULL, *mkk = NULL, *infok = NULL;
    int rc = dcp_master_flush_writes(m); /* a queued write of these keys goes first */
    if (!rc) rc = dc_operation_key(m->ns, lock->task, source, &opk);
    if (!rc) rc = dc_marker_key(m->ns, lock->task, source, &mkk);
    if (!rc) rc = dc_info_key(m->ns, lock->task, source, &infok);
    /* A fresh read, not the mirrors: a decision to write nothing ("nothing
     * of it is out", "it executed") has no compare to catch a stale belief,
     * and the mirrors lag behind the master's own writes and the owner's
     * intent until their events come back. */
    dc_txn_result *res = NULL;
    if (!rc) rc = read_keys(m, opk, mkk, &res);
    const dc_kv *op = NULL, *mk = NULL;
    if (!rc) {
        op = res->responses[0].n_kvs ? &res->responses[0].kvs[0] : NULL;
        mk = res->responses[1].n_kvs ? &res->responses[1].kvs[0] : NULL;
    }
    for (int race = 0; !rc; race++) {
        if (race == MAX_RACES) {
            rc = dc__error(DC_ETIMEDOUT, "lock %s: owner %s: gave up after %d lost races",
                           dc__e(lock->id), dc__e(source), MAX_RACES);
            break;
        }
        pess_owner st;
        if ((rc = dcp_owner_of(op, mk, lock->id, &st)) != DC_OK) break;
        *found = st;
        owner_act act;
        dc_txn_result *prev = res;         /* op and mk point into it until the txn is built */
        if (st.state == OWNER_DONE) break; /* nothing to do: it finished */
        if (complete) {
            /* Write the owner's done txn for it: it executed (its marker
             * says so), or an operator says an intent's DDLs ran. */
            if (st.state == OWNER_IDLE) {
                rc = dc__error(DC_EINVAL,
                               "lock %s: owner %s has not recorded that it executed: nothing to "
                               "assume",
                               dc__e(lock->id), dc__e(source));
                break;
            }
            if (st.state == OWNER_INTENT && !decided(&st, assume_before)) {
                rc = dc__error(DC_EUNCERTAIN,
                               "lock %s: owner %s recorded attempt %lld after the decision was "
                               "made",
                               dc__e(lock->id), dc__e(source), (long long)st.attempt);
                break;
            }
            act = DO_COMPLETE;
        } else {
            if (st.state == OWNER_EXECUTED) break; /* it ran: nothing to fence */
            if (st.state == OWNER_INTENT && !decided(&st, assume_before)) {
                rc = dc__error(
                    DC_EUNCERTAIN, "lock %s: owner %s may have executed (attempt %lld at rev %lld)",
                    dc__e(lock->id), dc__e(source), (long long)st.attempt, (long long)st.op_rev);
                break;
            }
            if (!st.op_rev) break; /* nothing of this lock out: nothing to fence */
            act = DO_FENCE;
        }
        res = NULL;
        int lost;
        rc = owner_txn(m, act, opk, mkk, infok, &op, &mk, &res, &lost);
        dc_txn_result_free(prev);
        if (rc || lost) continue;
        if (act == DO_FENCE) {
            pess_src *s = dcp_lock_src(lock, source);
            if (s) s->fenced = 1;
            found->state = OWNER_IDLE;
            dc_log(DC_LOG_INFO, PESS, "lock %s: owner %s fenced at rev %lld%s", dc__e(lock->id),
                   dc__e(source), (long long)res->revision,
                   st.state == OWNER_INTENT ? " (an operator assumed it did not execute)" : "");
        } else {
            dcp_lock_mark_done(lock, source);
            if (st.exec) lock->executed = 1;
            found->state = OWNER_DONE;
            rc = dcp_master_step(m, 9, lock, source, res->revision,
                                 "operation done for the owner (%s)",
                                 st.state == OWNER_EXECUTED ? "its marker says it executed"
                                                            : "an operator assumed it executed");
        }
        break;
    }
    if (rc == DC_OK && found->state == OWNER_DONE && found->exec) lock->executed = 1;
    if (rc == DC_OK && found->state == OWNER_EXECUTED && found->exec) lock->executed = 1;
    dc_txn_result_free(res);
    free(opk);
    free(mkk);
    free(infok);
    return rc;
}

int dcp_master_owner_leaves(dc_master *m, pess_lock *lock, const char *to, int64_t assume_before)
{
    master_lock *ml = ML(lock);
    pess_src *old = dcp_lock_src(lock, lock->owner);
    pess_owner st = {0};
    int rc = DC_OK;
    if (old && old->done) {
        /* An owner that is done has run the DDL: whoever owns it next skips. */
        lock->executed = 1;
    } else if (old) {
        rc = dcp_master_owner_act(m, lock, lock->owner, 0, assume_before, &st);
        if (rc == DC_EUNCERTAIN) {
            dcp_master_warn_uncertain(
                m, lock, &st, old->left ? "it left the task" : "an unlock asked for another owner");
            return rc;
        }
        if (rc) return rc;
        if (st.state == OWNER_EXECUTED && old->left) {
            /* It ran and is gone: finish its run for it, so a re-run of it is
             * told "already resolved" instead of reporting again. */
            rc = dcp_master_owner_act(m, lock, lock->owner, 1, 0, &st);
            if (rc) return rc;
        }
    }
    const char *next = to ? to : dcp_lock_pick_owner(lock, lock->owner);
    /* An operator fenced the only owner there is: it executes again. */
    if (!next && old && !old->left) next = lock->owner;
    if (!next) return DC_OK; /* nobody left to own it */
    if (strcmp(next, lock->owner) == 0) {
        /* The same owner, fenced by an operator who says it did not execute:
         * it gets a new exec=true (and runs as its next attempt). */
        if (old) old->fenced = 0;
        ml->owner_put = 0;
        return DC_OK;
    }
    dc_log(DC_LOG_INFO, PESS, "lock %s: owner %s hands over to %s", dc__e(lock->id),
           dc__e(lock->owner), dc__e(next));
    rc = dcp_lock_set_owner(lock, next);
    if (rc) return rc;
    /* The new owner gets exec=true (or, if the DDL ran, exec=false with the
     * others); the others' exec=false is decided again. */
    ml->owner_put = ml->others_put = 0;
    return DC_OK;
}
