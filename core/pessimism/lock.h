/*
 * The lock model of the protocol (DM's Lock and LockKeeper), private to
 * core/pessimism: the master keeps its locks in it and dc_locks_read
 * rebuilds the `locks` view with it. The public API sees a lock only as a
 * read-only dc_lock_status (dcp_lock_status).
 *
 * A lock knows its DDLs, its owner and, per source (a uthash table by name),
 * whether the source is synced (reported the same DDLs), done, excluded by
 * an unlock, gone from the task, fenced, and what a conflicting report said.
 * What the master does to a lock (operations written or queued, unlock jobs,
 * its write batch) is not here: the master keeps that in a record of its own
 * (master.h) that the keeper allocates with each lock (data).
 *
 * Not thread-safe: the master uses its locks under its mutex.
 */
#ifndef DC_PESS_LOCK_H
#define DC_PESS_LOCK_H

#include <ddlcoord/pessimism.h>

#include "dc_hash.h"

typedef struct pess_src {
    char *name;
    int ready;    /* synced: reported the lock's DDLs */
    int done;     /* its operation is done */
    int excluded; /* not awaited: an unlock found it unsynced, or a rebuild found nothing of it */
    int left;     /* it left the task: not awaited and never the owner; kept so that a source
                   * added back before the lock resolved is put back (issue #12 case 4) */
    int fenced;   /* its operation was fenced by a takeover: it skips and never owns again */
    int seen;     /* rebuild: has an info or an operation */
    char **conflict;
    size_t n_conflict;
    UT_hash_handle hh;
} pess_src;

typedef struct pess_lock {
    char *id;
    char *task;
    char *owner;
    char **ddls;
    size_t n_ddls;
    int forced;   /* past syncing: operations are out (or an unlock forced it) */
    int unlocked; /* an operator's unlock forced it (what `locks` calls forced) */
    int executed; /* the DDL ran downstream: nobody gets exec=true again, the owner included */
    int64_t born; /* smallest create_revision of its keys seen: which instance of the ID it is */
    int64_t min_info_rev; /* rebuild: smallest mod_revision of its infos */
    pess_src *srcs;       /* uthash by name */
    void *data;           /* the keeper's per-lock record (zeroed, freed with the lock) */
    UT_hash_handle hh;
} pess_lock;

/* ---------------------------------------------------------------- lock */

/* A new lock: id, task, owner and DDLs copied; sources are the task's (the
 * owner is added if missing), none synced yet; data_size bytes of zeroed
 * data. NULL when out of memory or on a NULL argument. */
pess_lock *dcp_lock_new(const char *id, const char *task, const char *owner,
                        const char *const *ddls, size_t n_ddls, const char *const *sources,
                        size_t n_sources, size_t data_size);
/* Free a lock that is not in a keeper (NULL is a no-op). */
void dcp_lock_free(pess_lock *lock);

pess_src *dcp_lock_src(const pess_lock *lock, const char *source);
/* Find or add a source (unsynced); NULL when out of memory. */
pess_src *dcp_lock_src_add(pess_lock *lock, const char *source);
/* Sources sorted by name, as borrowed pointers (free the array); NULL when
 * out of memory. */
pess_src **dcp_lock_sorted(const pess_lock *lock, size_t *n);

/* Source reports ddls. Task sources not yet in the lock join it (unsynced).
 * Equal DDLs (as multisets): the source is synced and an earlier conflict
 * of it cleared; different ones: the conflict is recorded and DC_ECONFLICT
 * returned (the detail says how they differ). Errors: DC_ECONFLICT,
 * DC_ENOMEM. */
int dcp_lock_try_sync(pess_lock *lock, const char *source, const char *const *ddls, size_t n_ddls,
                      const char *const *sources, size_t n_sources);
/* 1 if every awaited source is synced (or the lock is forced); *remain (may
 * be NULL) gets the number still unsynced. */
int dcp_lock_is_synced(const pess_lock *lock, int *remain);
/* Source withdrew its report before the lock synced: unsynced again. */
void dcp_lock_unsync(pess_lock *lock, const char *source);
/* Mark source done (DC_ENOTFOUND if it is not in the lock). */
int dcp_lock_mark_done(pess_lock *lock, const char *source);
int dcp_lock_is_done(const pess_lock *lock, const char *source);
/* 1 if every awaited source (not excluded, not left) is done. */
int dcp_lock_is_resolved(const pess_lock *lock);
/* 1 if no source of the lock is still in the task. */
int dcp_lock_is_empty(const pess_lock *lock);
/* Source left the task (it stays in the lock, marked). 1 if it was in the
 * lock and had not left already. The owner is not changed: who owns the
 * lock next is the master's decision (dcp_lock_pick_owner, and a takeover
 * when the owner's operation is out). */
int dcp_lock_leave(pess_lock *lock, const char *source);
/* Source was added back to the task: it is awaited again. 1 if it had left. */
int dcp_lock_rejoin(pess_lock *lock, const char *source);

/* The rule that picks a new owner, written once: the smallest synced source
 * that may own it (not left, not excluded, not fenced, not except), else the
 * smallest such source, synced or not. NULL when there is none. Borrowed. */
const char *dcp_lock_pick_owner(const pess_lock *lock, const char *except);
/* Make owner (a source of the lock) the owner. DC_ENOTFOUND, DC_ENOMEM. */
int dcp_lock_set_owner(pess_lock *lock, const char *owner);

/* Fill *out with a deep copy of the lock's state (the intent fields are the
 * caller's to fill). DC_ENOMEM. */
int dcp_lock_status(const pess_lock *lock, dc_lock_status *out);

/* ---------------------------------------------------------------- keeper */

typedef struct pess_keeper pess_keeper;

/* All locks by ID. Every lock it creates carries data_size bytes of zeroed
 * data. NULL when out of memory. */
pess_keeper *dcp_keeper_new(size_t data_size);
/* Free the keeper and every lock in it. */
void dcp_keeper_free(pess_keeper *keeper);

/* Find or create the lock of info (owner = info->source when created) and
 * try_sync it. *lock (may be NULL) gets the lock (the keeper's) also on
 * DC_ECONFLICT; *created (may be NULL) whether it is new. Errors:
 * DC_ECONFLICT, DC_ENOMEM. */
int dcp_keeper_try_sync(pess_keeper *keeper, const dc_info *info, const char *const *sources,
                        size_t n_sources, pess_lock **lock, int *created);
/* Find or create the lock with id (created with owner and ddls, none synced). */
int dcp_keeper_get(pess_keeper *keeper, const char *id, const char *task, const char *owner,
                   const char *const *ddls, size_t n_ddls, const char *const *sources,
                   size_t n_sources, pess_lock **lock);
pess_lock *dcp_keeper_find(const pess_keeper *keeper, const char *id);
/* Remove and free the lock. */
void dcp_keeper_remove(pess_keeper *keeper, pess_lock *lock);
/* Take the lock out without freeing it (the caller frees it with dcp_lock_free). */
void dcp_keeper_detach(pess_keeper *keeper, pess_lock *lock);
/* Remove and free every lock of task (NULL = all). */
void dcp_keeper_clear(pess_keeper *keeper, const char *task);
size_t dcp_keeper_count(const pess_keeper *keeper);
/* The locks sorted by ID (borrowed; free the array). DC_ENOMEM. */
int dcp_keeper_locks(const pess_keeper *keeper, pess_lock ***locks, size_t *n);
/* The IDs of task's locks, sorted (free with dc_strings_free); NULL when out
 * of memory. */
char **dcp_keeper_task_ids(const pess_keeper *keeper, const char *task, size_t *count);

#endif
