/*
 * ddlcoord master: the coordinator side of the pessimistic shard-DDL lock
 * protocol (DM's steps 1, 3, 4, 9 and 10, docs/DESIGN.md "The protocol"), over the public store
 * API.
 *
 * Life cycle:
 *
 *   dc_master_options o = {0};          // zero = defaults (namespace /ddlcoord)
 *   dc_master *m;
 *   dc_master_new(store, &o, &m);
 *   while ((rc = dc_master_run(m, 1000)) == DC_OK) { ...housekeeping... }
 *   dc_master_free(m);
 *
 * dc_master_run runs the event loop in the calling thread (any thread the
 * caller likes; one at a time). Its first call does step 1: one consistent
 * read of infos, operations and task membership (revision M1), rebuilding the
 * locks (owner restored from an exec=true operation, done marks applied,
 * locks with operations treated as synced) and continuing them. It then
 * watches the namespace from M1 + 1. A watch error or compaction makes it
 * rebuild from a fresh read; transient store errors are retried, never
 * returned.
 *
 * The master's writes of operations (exec=true, exec=false, step 10's
 * deletes) are made without reading first: each carries a compare on the
 * state the master saw in its snapshot and events, so a stale belief loses
 * the race and is decided again, never overwrites a done operation. The
 * writes of every lock that moved in one batch of watch events are committed
 * together, in txns of at most 32 keys; the step callbacks of those writes
 * are called after the commit, with its revision.
 *
 * Admin requests: the master also serves the requests that
 * dc_admin_send_unlock / dc_admin_send_remove_meta (pessimism_admin.h) write
 * under NS/ddlcoord/admin/, inside dc_master_run, in revision order with the
 * protocol's own events, and answers them in the store. So a host that embeds
 * a master serves `ddlcoord unlock` and `ddlcoord remove-meta` with no thread
 * of its own, and one thread can write a request, run the master and read the
 * answer. An unlock's wait for its sources is a job the run loop carries
 * across passes (and rebuilds) until the lock resolves or the wait ends.
 *
 * Every handler and every admin call (dc_master_unlock, dc_master_remove_meta,
 * dc_master_locks) runs under one mutex, so a lock removal and the next info
 * for the same table cannot race (DM bug pingcap/dm#1253). The admin calls may
 * be made from any thread while another thread is inside dc_master_run; only
 * one thread at a time ever waits on the master's watch.
 *
 * Fencing: with options.fence_key set, every write txn of the master carries
 * the compare create_revision(fence_key) == fence_create_revision. When it
 * fails, the master stops: dc_master_run (and the admin call that hit it)
 * return DC_ECHANGED and keep returning it.
 */
#ifndef DDLCOORD_PESSIMISM_MASTER_H
#define DDLCOORD_PESSIMISM_MASTER_H

#include "export.h"

#include "pessimism.h"
#include "pessimism_admin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_master dc_master;

/* Options; a zeroed struct gives the defaults. Strings are copied. */
typedef struct dc_master_options {
    const char *ns; /* key namespace; NULL = DC_DEFAULT_NAMESPACE */
    /* Fencing guard: fence_key NULL = none. */
    const char *fence_key;
    size_t fence_key_len; /* 0 = strlen(fence_key) */
    int64_t fence_create_revision;
    /* Called after each protocol step the master takes (see dc_step_fn);
     * NULL = none. Called with the master's mutex held: it must not call
     * dc_master_* on the same master. */
    dc_step_fn on_step;
    void *step_userdata;
    /* Name put in the answers to admin requests (NULL = ""). */
    const char *name;
    /* The clock of unlock waits, in milliseconds (NULL = the monotonic
     * clock). A test that drives the master from one thread may pass a
     * virtual one, so that "the wait ran out" is a decision it controls. */
    int64_t (*clock_ms)(void *clock_userdata);
    void *clock_userdata;
    /* After a store reset (DC_ERESET, docs/DESIGN.md "Resets"): give the
     * master a new handle on the store (*fresh, borrowed like the first one)
     * and, for a fenced master, the fence of its new leadership (*fence_key,
     * copied; it must have campaigned again on the new handle: the old leader
     * key means nothing in the new history). The master has closed its watch
     * on the poisoned handle before the call and uses it no more: the
     * callback may close it. Called from the thread that runs the master's
     * loop, without the master's mutex held; it may block (a standby waits
     * here until it leads). A code other than DC_OK stops the master with that
     * code (DC_ECHANGED: "no longer the leader"). NULL: an unfenced master
     * opens a new handle itself (dc_store_reopen; it closes it when freed,
     * and leaves the poisoned one to its owner); a fenced one stops with
     * DC_ERESET. */
    int (*reopen)(dc_store *poisoned, dc_store **fresh, const char **fence_key,
                  size_t *fence_key_len, int64_t *fence_create_revision, void *reopen_userdata);
    void *reopen_userdata;
} dc_master_options;

/* Create a master on store (borrowed: it must outlive the master). No I/O.
 * Errors: DC_EINVAL, DC_ENOMEM. */
DC_API int dc_master_new(dc_store *store, const dc_master_options *options, dc_master **out);

/* Free the master (closes its watch). Must not race with dc_master_run or
 * admin calls. NULL is a no-op. Locks in the store are left as they are: a
 * new master picks them up. */
DC_API void dc_master_free(dc_master *master);

/* Run the event loop for up to timeout_ms (-1 = until stopped; 0 = one
 * pass over what is already there). Blocks. Returns DC_OK when the time is
 * up, DC_ECLOSED after dc_master_stop or when a step callback asked to stop,
 * DC_ECHANGED when the fencing guard failed; once it has returned DC_ECLOSED
 * or DC_ECHANGED it returns the same again. A store reset does not end it:
 * the master logs one ERROR line, ends the unlocks in progress with
 * DC_ERESET, reopens the store (options.reopen), and rebuilds from the new
 * history; DC_ERESET only if it cannot (a fenced master without reopen). Only one thread may be
 * inside dc_master_run at a time (DC_EINVAL for a second one). */
DC_API int dc_master_run(dc_master *master, int timeout_ms);

/* Ask dc_master_run to return DC_ECLOSED as soon as possible. Thread-safe,
 * async-signal-unsafe, non-blocking. */
DC_API void dc_master_stop(dc_master *master);

/* The revision of the last step-1 read (M1), 0 before the first. Thread-safe. */
DC_API int64_t dc_master_revision(dc_master *master);

/* Snapshot of the master's locks (task NULL = all), sorted by ID: ID, task,
 * owner, DDLs, synced / unsynced / done sources and conflicts. Free with
 * dc_lock_status_free_array. Thread-safe (takes the mutex). Errors: DC_ENOMEM. */
DC_API int dc_master_locks(dc_master *master, const char *task, dc_lock_status **out, size_t *n);

/* Values the master could not decode (corrupt infos or operations): one
 * "key: error" string per bad key still present, sorted. Free with
 * dc_strings_free. Thread-safe. */
DC_API int dc_master_problems(dc_master *master, char ***out, size_t *n);

/* Unlock a lock by hand (DM's unlock-ddl-lock), as options says (see
 * dc_unlock_options in pessimism_admin.h; NULL = all defaults). The lock is
 * forced synced; its owner (or options->owner, which must have reported the
 * lock's DDLs) executes, the synced sources skip, the unsynced ones are not
 * waited for. Replacing an owner whose operation is out first fences that
 * operation, so the two never both execute; if the owner recorded an
 * execution intent without finishing (the lock is uncertain: it may have
 * executed), a plain unlock is refused with DC_EUNCERTAIN and only
 * DC_ASSUME_EXECUTED (nobody executes; its operation is completed) or
 * DC_ASSUME_NOT_EXECUTED (it is fenced, the named or same owner executes)
 * decides it. Waits up to options->wait_ms for the sources to be done: the
 * run loop does the work (in the thread inside dc_master_run if there is
 * one, else in this call). DC_OK once every awaited source is done (the lock
 * is then removed like any resolved lock). When the wait runs out: without
 * force_remove the lock's earlier sync state is put back (an owner whose
 * exec=true is out stays the owner) and DC_ETIMEDOUT returned; with it, the
 * lock, its infos and its operations are removed and DC_OK returned.
 * Errors also: DC_ENOTFOUND (no such lock), DC_EINVAL (owner did not report
 * the lock's DDLs, bad options, the lock is being unlocked already),
 * DC_EUNCERTAIN, DC_ECHANGED (fenced), DC_ECLOSED (stopped), store errors;
 * the detail says why. Blocks; thread-safe. */
DC_API int dc_master_unlock(dc_master *master, const char *lock_id,
                            const dc_unlock_options *options);

/* Remove a task's metadata: its infos, operations, resolution markers and
 * conflict reports in the store (one txn of four prefix deletes), and its
 * locks in memory. Task membership is kept (see dc_task_remove). Blocks (one
 * store call); thread-safe. Errors: DC_EINVAL, DC_ECHANGED, store errors. */
DC_API int dc_master_remove_meta(dc_master *master, const char *task);

#ifdef __cplusplus
}
#endif
#endif
