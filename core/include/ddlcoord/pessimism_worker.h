/*
 * ddlcoord worker: one (task, source)'s side of the pessimistic shard-DDL
 * lock protocol (DM's steps 2, 5, 6, 7 and 8, docs/DESIGN.md "The protocol"), over the public store
 * API.
 *
 * Either call the steps yourself:
 *
 *   dc_worker_put_info(w, schema, table, ddls, n, position, timeout, &rev);  // step 2
 *   dc_worker_wait_operation(w, timeout, &op);                               // step 5
 *   if (op->exec) dc_worker_begin_exec(w, timeout, &attempt);                // intent
 *   ...execute (op->exec, as attempt) or skip the DDLs...                    // step 6
 *   dc_worker_mark_executed(w, timeout);
 *   ...flush the checkpoint...                                               // step 7
 *   dc_worker_mark_done(w, timeout, &rev);                                   // step 8
 *
 * or let dc_worker_run_ddl do all of it around two callbacks.
 *
 * Crash safety beyond DM (docs/DESIGN.md, "Execution intent"): before it
 * executes, the owner records an execution intent (attempt n) in its
 * resolution marker, in a txn guarded on its operation; right after step 6
 * dc_worker_mark_executed records that it ran; the done txn of step 8
 * completes the marker. So:
 *  - a worker that crashed after executing, at any point before its done txn,
 *    is finished by dc_worker_recover (also run by dc_worker_put_info): no
 *    manual unlock (the "in step-7, operation has done" row of DM's re-entrancy table);
 *  - a worker that crashed between its intent and the marker after it may or
 *    may not have executed: its re-run executes again, as attempt n + 1, so
 *    the code that runs the DDLs can check the downstream first; meanwhile
 *    the lock is uncertain and no other source takes it over;
 *  - a worker that re-sends the same DDLs at the same position after its done
 *    txn gets DC_ERESOLVED ("already resolved, skip") without opening a lock.
 *
 * A dc_worker is used by one thread at a time. Every blocking call takes a
 * timeout in milliseconds (-1 = forever); transient store errors and watch
 * compaction are retried within it (re-read the key, re-watch).
 *
 * Keep one dc_worker per (task, source) across DDLs: it remembers what its
 * last reads, its own txns and its watches told it about its keys, so a DDL
 * costs it one info put, the marker write and the done txn, plus a read
 * only when it knows nothing yet (a new dc_worker, or a wait before its
 * watches are open) or a belief turned out stale (every write is guarded by
 * the exact revisions it believes, so a stale belief costs a round trip,
 * never a wrong answer).
 *
 * Resources: a dc_worker keeps up to 3 watches open between calls (its
 * operation, info and conflict keys; opened the first time it has to wait,
 * re-opened after one ends). On etcd each is an HTTP stream with a driver
 * thread, on ZooKeeper a thread that follows the store's event log, so a
 * process hosting hundreds of sources holds three of those per source that
 * ever waited. dc_worker_free closes them (if the store was closed first,
 * they have ended and are only freed).
 */
#ifndef DDLCOORD_PESSIMISM_WORKER_H
#define DDLCOORD_PESSIMISM_WORKER_H

#include "export.h"

#include "pessimism.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_worker dc_worker;

/* Options; a zeroed struct gives the defaults. Strings are copied. */
typedef struct dc_worker_options {
    const char *ns;     /* key namespace; NULL = DC_DEFAULT_NAMESPACE */
    dc_step_fn on_step; /* called after each worker step; NULL = none */
    void *step_userdata;
} dc_worker_options;

/* A worker for (task, source) on store (borrowed; must outlive the worker).
 * No I/O. Errors: DC_EINVAL, DC_ENOMEM. */
DC_API int dc_worker_new(dc_store *store, const char *task, const char *source,
                         const dc_worker_options *options, dc_worker **out);
/* One live worker per (task, source) (docs/DESIGN.md, "One live worker"):
 * hold a lease-backed key under NS/ddlcoord/worker/<task>/<source>/ while
 * this worker lives (a thread keeps the lease of ttl_seconds alive;
 * dc_worker_free gives it up). If another worker holds it, wait up to
 * 2 * ttl_seconds + 2 s for its lease to expire (a crashed worker's does) and
 * take over; a rival still alive then makes this call fail with DC_EBUSY.
 * Optional: a worker that never claims is not checked. Blocks. Errors:
 * DC_EBUSY, DC_EINVAL (ttl_seconds not 1..3600), store errors. */
DC_API int dc_worker_claim(dc_worker *worker, int64_t ttl_seconds);

/* Free the worker and close its watches. Leaves the store as it is (an
 * abandoned worker's state is picked up by the next worker for the same
 * task and source). */
DC_API void dc_worker_free(dc_worker *worker);

/* Step 2: report ddls for the downstream table schema.table. First finishes a
 * crashed earlier run (dc_worker_recover). If position (caller-defined, e.g.
 * a binlog position; may be NULL) matches the resolution marker of the same
 * lock and DDLs, returns DC_ERESOLVED: skip the DDLs, no lock is opened.
 * If a done operation of an earlier lock is still there, waits for the master
 * to delete it (up to timeout_ms). An identical info already in the store is
 * kept as is (re-running is idempotent). *revision (may be NULL) gets W1.
 * Errors: DC_ERESOLVED, DC_ETIMEDOUT, DC_EINVAL, DC_ECLOSED (step callback),
 * store errors. Blocks. */
DC_API int dc_worker_put_info(dc_worker *worker, const char *schema, const char *table,
                              const char *const *ddls, size_t n_ddls, const char *position,
                              int timeout_ms, int64_t *revision);

/* Step 5: wait for the operation of the info put last. On DC_OK *op (caller
 * frees with dc_operation_free) says exec or skip; if the operation is
 * already done (a re-run after step 8) it is returned with done = 1.
 * DC_ECONFLICT: the master found these DDLs differ from the lock's; the detail
 * (dc_last_error, dc_worker_conflict) says how. Put corrected DDLs or
 * dc_worker_delete_info. DC_ENOTFOUND: the info was removed without an
 * operation (an unlock --force-remove or a remove-meta): the lock is gone.
 * Errors also: DC_ETIMEDOUT, DC_EINVAL (no info put), DC_ECLOSED (step
 * callback), store errors. Blocks. */
DC_API int dc_worker_wait_operation(dc_worker *worker, int timeout_ms, dc_operation **op);

/* The master's conflict message for the last DC_ECONFLICT ("" if none).
 * Owned by the worker, valid until the next call on it. */
DC_API const char *dc_worker_conflict(const dc_worker *worker);

/* Before executing an exec=true operation: record the execution intent in
 * one txn guarded on the operation (it only commits while the master's
 * decision stands, and once it has, no takeover can give the DDLs to another
 * source). *attempt (may be NULL) gets the attempt number to execute as: 1,
 * or n + 1 when attempt n of the same DDLs may have executed and never
 * finished. Errors: DC_ECHANGED (the operation was fenced or replaced: do
 * not execute; wait again), DC_ERESOLVED (this operation was executed
 * already: skip to dc_worker_mark_done), DC_EINVAL (no exec operation),
 * DC_ETIMEDOUT, DC_ECLOSED (step callback), store errors. Blocks. */
DC_API int dc_worker_begin_exec(dc_worker *worker, int timeout_ms, int64_t *attempt);

/* After step 6: record that the operation was executed (or skipped) in the
 * resolution marker. A skip (exec=false) whose operation is gone (its lock
 * resolved or was removed without waiting for this source) is recorded as
 * done (marker done at this position, info deleted; a re-run is then
 * DC_ERESOLVED) and returns DC_OK. Errors: DC_ECHANGED (the operation
 * changed meanwhile), DC_EINVAL (no operation), store errors. Blocks. */
DC_API int dc_worker_mark_executed(dc_worker *worker, int timeout_ms);

/* Step 8: in one txn mark the operation done, delete the info and complete
 * the resolution marker. Idempotent: retrying after a lost answer
 * (DC_EUNKNOWN) or after it succeeded returns DC_OK. *revision (may be NULL)
 * gets W2. A skip whose operation is gone is recorded as done, as in
 * dc_worker_mark_executed. Errors: DC_ECHANGED (an exec=true operation was
 * replaced or removed, e.g. by an unlock), DC_EINVAL, DC_ETIMEDOUT,
 * DC_ECLOSED, store errors. Blocks. */
DC_API int dc_worker_mark_done(dc_worker *worker, int timeout_ms, int64_t *revision);

/* Withdraw the current info (e.g. after DC_ECONFLICT). Blocks. */
DC_API int dc_worker_delete_info(dc_worker *worker, int timeout_ms);

/* Finish a run that crashed after its operation was executed but before the
 * done txn (marker says executed at the operation's current revision): do
 * the done txn now. *recovered (may be NULL) is set to 1 if it did. Blocks. */
DC_API int dc_worker_recover(dc_worker *worker, int timeout_ms, int *recovered);

/* Execute or skip: called once with the operation (op->exec says which;
 * op->attempt is the execution attempt, > 1 when an earlier attempt may have
 * run the DDLs already). Return 0 on success; anything else aborts the run
 * (for an exec, the intent stays: the lock is uncertain until a re-run). */
typedef int (*dc_exec_fn)(const dc_operation *op, void *userdata);
/* Flush the checkpoint past position (may be NULL). 0 = success. */
typedef int (*dc_checkpoint_fn)(const dc_operation *op, const char *position, void *userdata);

/* The whole flow for one DDL: put info, wait, (exec: record the intent),
 * exec_fn, mark executed, checkpoint_fn, mark done. timeout_ms bounds each
 * blocking step. An operation fenced before the intent is waited for again.
 * Returns DC_OK, DC_ERESOLVED (already resolved: neither callback was called;
 * skip the DDLs), DC_ECONFLICT, DC_ENOTFOUND (the lock was removed by hand),
 * DC_ECLOSED (exec_fn or checkpoint_fn returned non-zero, or a step callback
 * asked to stop: the run is abandoned as if crashed; a new run with the same
 * position picks it up), DC_ETIMEDOUT, store errors. *executed (may be NULL)
 * is set to 1 if exec_fn ran with exec = 1. */
DC_API int dc_worker_run_ddl(dc_worker *worker, const char *schema, const char *table,
                             const char *const *ddls, size_t n_ddls, const char *position,
                             dc_exec_fn exec_fn, dc_checkpoint_fn checkpoint_fn, void *userdata,
                             int timeout_ms, int *executed);

#ifdef __cplusplus
}
#endif
#endif
