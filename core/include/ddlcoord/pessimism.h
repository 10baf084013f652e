/*
 * ddlcoord pessimism: the values, keys and in-memory lock model of TiDB DM's
 * pessimistic shard-DDL lock protocol (DESIGN §4-§5).
 *
 * This header holds the store-free part: Info and Operation codecs (DM's JSON),
 * key builders (DM's hex-encoded layout), lock IDs, DDL multiset comparison,
 * the Lock and the LockKeeper, lock status snapshots, and task membership.
 * The master and the worker are in pessimism_master.h and pessimism_worker.h.
 *
 * Memory: every char * / array a function returns is malloc'd and owned by the
 * caller, who frees it with the matching *_free function (or free() for plain
 * strings). Inputs are copied. NULL passed to a *_free function is a no-op.
 *
 * Errors: functions return DC_OK or a negative DC_E… code; the detail (naming
 * the key for bad values) is available from dc_last_error() on the calling
 * thread. Nothing here blocks, except the dc_task_* / dc_locks_read calls that
 * talk to a store (each bounded by the store's request timeout).
 *
 * Thread-safety: codec functions are thread-safe. A dc_lock / dc_keeper is not:
 * use it from one thread at a time (the master serialises its handlers).
 */
#ifndef DDLCOORD_PESSIMISM_H
#define DDLCOORD_PESSIMISM_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The namespace used when an options struct leaves it NULL. */
#define DC_DEFAULT_NAMESPACE "/ddlcoord"

/* Largest Info / Operation value accepted by the decoders (DC_ETOOBIG above). */
#define DC_PESS_MAX_VALUE (1024 * 1024)
/* Most DDL statements accepted in one Info / Operation (DC_ETOOBIG above). */
#define DC_PESS_MAX_DDLS 4096

/* ---------------------------------------------------------------- values */

/* A worker's report of one shard DDL (DM's Info: task, source, schema, table,
 * ddls). schema/table are the *downstream* table the lock is about. */
typedef struct dc_info {
    char *task;
    char *source;
    char *schema;
    char *table;
    char **ddls;
    size_t n_ddls;
} dc_info;

/* The master's answer for one source (DM's Operation). exec = 1: execute the
 * DDLs (the lock owner), 0: skip them. done = 1 once the worker finished. */
typedef struct dc_operation {
    char *id; /* lock ID */
    char *task;
    char *source;
    char **ddls;
    size_t n_ddls;
    int exec;
    int done;
} dc_operation;

/* Build a dc_info from copies of the arguments (ddls may be NULL when n is 0).
 * Errors: DC_EINVAL (a NULL or empty name), DC_ENOMEM. */
DC_API int dc_info_new(const char *task, const char *source, const char *schema, const char *table,
                       const char *const *ddls, size_t n_ddls, dc_info **out);
DC_API void dc_info_free(dc_info *info);

/* Encode as DM's JSON ({"task","source","schema","table","ddls"}). *json is a
 * malloc'd NUL-terminated string. Errors: DC_EINVAL, DC_ENOMEM. */
DC_API int dc_info_encode(const dc_info *info, char **json);

/* Decode and validate an Info value read from key (key is used only for error
 * messages and may be NULL). Unknown fields are ignored (DM compatibility).
 * Errors: DC_ETOOBIG (value over DC_PESS_MAX_VALUE or too many DDLs),
 * DC_ECORRUPT (invalid JSON, missing field, wrong type, empty name), DC_ENOMEM;
 * the detail names the key. */
DC_API int dc_info_decode(const char *key, const void *value, size_t value_len, dc_info **out);

/* The lock ID of the info ("<task>-`schema`.`table`"). Caller frees. */
DC_API int dc_info_lock_id(const dc_info *info, char **out);

/* As for dc_info_*: build, free, encode ({"id","task","source","ddls","exec",
 * "done"}) and decode (same validation and errors as dc_info_decode). */
DC_API int dc_operation_new(const char *id, const char *task, const char *source,
                            const char *const *ddls, size_t n_ddls, int exec, int done,
                            dc_operation **out);
DC_API void dc_operation_free(dc_operation *op);
DC_API int dc_operation_encode(const dc_operation *op, char **json);
DC_API int dc_operation_decode(const char *key, const void *value, size_t value_len,
                               dc_operation **out);

/* DM's lock ID: task + "-" + "`schema`.`table`" (a backquote inside a name is
 * doubled, as DM's dbutil.TableName does). Caller frees *out. */
DC_API int dc_lock_id_build(const char *task, const char *schema, const char *table, char **out);

/* 1 if the two DDL lists are equal as multisets ([A,B] == [B,A], but
 * [A,B] != [A,A], which DM calls equal), else 0. Never fails: it sorts
 * pointer copies, or without memory for them counts occurrences instead. */
DC_API int dc_ddls_equal(const char *const *a, size_t na, const char *const *b, size_t nb);

/* ---------------------------------------------------------------- keys */

/* Key builders for namespace ns (NULL = DC_DEFAULT_NAMESPACE). Each component
 * is lower-case hex of its bytes; source NULL gives the task prefix (ending in
 * '/'), task NULL too gives the whole prefix. Caller frees *out.
 *   info:       ns/shardddl-pessimism/info/<hex task>/<hex source>
 *   operation:  ns/shardddl-pessimism/operation/<hex task>/<hex source>
 *   member:     ns/ddlcoord/task/<hex task>/<hex source>      (task membership)
 *   marker:     ns/ddlcoord/resolved/<hex task>/<hex source>  (resolution marker)
 *   conflict:   ns/ddlcoord/conflict/<hex task>/<hex source>  (conflict report)
 * Errors: DC_EINVAL (empty task/source), DC_ENOMEM. */
DC_API int dc_info_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_operation_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_member_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_marker_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_conflict_key(const char *ns, const char *task, const char *source, char **out);

/* ---------------------------------------------------------------- lock */

typedef struct dc_lock dc_lock;
typedef struct dc_keeper dc_keeper;

/* A new lock: id, task, owner and DDLs copied; sources are the task's
 * sources (the owner is added if missing), none synced yet. NULL when out of
 * memory or on a NULL argument. Free with dc_lock_free. */
DC_API dc_lock *dc_lock_new(const char *id, const char *task, const char *owner,
                            const char *const *ddls, size_t n_ddls, const char *const *sources,
                            size_t n_sources);
DC_API void dc_lock_free(dc_lock *lock);

/* Source reports ddls. Sources not yet in the lock join it (unsynced); the
 * caller is added if needed. If ddls equal the lock's (as multisets) the
 * source becomes synced and any earlier conflict of it is cleared; otherwise
 * the conflict is recorded for the source and DC_ECONFLICT returned (the
 * source stays unsynced). Errors: DC_ECONFLICT, DC_ENOMEM. */
DC_API int dc_lock_try_sync(dc_lock *lock, const char *source, const char *const *ddls,
                            size_t n_ddls, const char *const *sources, size_t n_sources);

/* 1 if every source is synced (or the lock was forced); *remain (may be NULL)
 * gets the number of unsynced sources. */
DC_API int dc_lock_is_synced(const dc_lock *lock, int *remain);
/* Treat the lock as synced (DM's ForceSynced: after a restart with
 * operations, or for unlock). */
DC_API void dc_lock_force_synced(dc_lock *lock);
/* Undo dc_lock_force_synced and mark sources unsynced again. */
DC_API void dc_lock_revert_synced(dc_lock *lock, const char *const *sources, size_t n);
/* Source reports its info gone before the lock synced: unsynced again. */
DC_API void dc_lock_unsync(dc_lock *lock, const char *source);
/* Mark source's operation done. DC_ENOTFOUND if source is not in the lock. */
DC_API int dc_lock_mark_done(dc_lock *lock, const char *source);
DC_API int dc_lock_is_done(const dc_lock *lock, const char *source);
/* 1 if every awaited source is done (all sources, minus those excluded by an
 * unlock), i.e. the operations may be deleted. */
DC_API int dc_lock_is_resolved(const dc_lock *lock);
/* Remove source from the lock (it left the task). If it was the owner, the
 * owner becomes the smallest remaining synced source (else smallest source);
 * if that owner was already done, the DDL has run and the new owner is told to
 * skip like the others. Returns 1 if removed, 0 if it was not there. */
DC_API int dc_lock_remove_source(dc_lock *lock, const char *source);
/* 1 if the lock has no sources left. */
DC_API int dc_lock_is_empty(const dc_lock *lock);
/* Replace the owner (must be a source of the lock, else DC_ENOTFOUND). */
DC_API int dc_lock_set_owner(dc_lock *lock, const char *owner);

/* Accessors; strings owned by the lock. */
DC_API const char *dc_lock_get_id(const dc_lock *lock);
DC_API const char *dc_lock_get_task(const dc_lock *lock);
DC_API const char *dc_lock_get_owner(const dc_lock *lock);

/* One source of a lock, in a status snapshot. */
typedef struct dc_lock_source {
    char *source;
    int synced;           /* reported the lock's DDLs (or the lock was forced) */
    int done;             /* its operation is done */
    int removed;          /* excluded by an unlock: not awaited */
    char **conflict_ddls; /* non-NULL: it reported these different DDLs */
    size_t n_conflict_ddls;
} dc_lock_source;

/* A snapshot of one lock (DM's show-ddl-locks row). Sources sorted by name. */
typedef struct dc_lock_status {
    char *id;
    char *task;
    char *owner;
    char **ddls;
    size_t n_ddls;
    int synced; /* dc_lock_is_synced */
    int forced;
    size_t n_sources;
    dc_lock_source *sources;
} dc_lock_status;

/* Fill *out with a deep copy of lock's state. Errors: DC_ENOMEM. */
DC_API int dc_lock_status_get(const dc_lock *lock, dc_lock_status *out);
/* Free the contents of st (not st itself). */
DC_API void dc_lock_status_clear(dc_lock_status *st);
/* Free an array of n snapshots and the array. */
DC_API void dc_lock_status_free_array(dc_lock_status *arr, size_t n);

/* ---------------------------------------------------------------- keeper */

/* All locks by ID (DM's LockKeeper). NULL when out of memory. */
DC_API dc_keeper *dc_keeper_new(void);
/* Free the keeper and every lock in it. */
DC_API void dc_keeper_free(dc_keeper *keeper);

/* Find or create the lock of info (owner = info->source when created) and
 * dc_lock_try_sync it with info's DDLs. *lock (may be NULL) is set to the lock
 * (owned by the keeper) also when DC_ECONFLICT is returned; *created (may be
 * NULL) says whether the lock is new. Errors: DC_ECONFLICT, DC_ENOMEM. */
DC_API int dc_keeper_try_sync(dc_keeper *keeper, const dc_info *info, const char *const *sources,
                              size_t n_sources, dc_lock **lock, int *created);
/* Add an existing lock (the keeper takes ownership). DC_EINVAL if the ID is
 * taken (the lock is then still the caller's). */
DC_API int dc_keeper_add(dc_keeper *keeper, dc_lock *lock);
/* The lock with id, or NULL. Owned by the keeper. */
DC_API dc_lock *dc_keeper_find(const dc_keeper *keeper, const char *id);
/* Remove and free the lock with id. 1 if there was one. */
DC_API int dc_keeper_remove(dc_keeper *keeper, const char *id);
DC_API size_t dc_keeper_count(const dc_keeper *keeper);
/* The locks sorted by ID, as a malloc'd array of borrowed pointers (free the
 * array only). *n gets the count. Errors: DC_ENOMEM. */
DC_API int dc_keeper_locks(const dc_keeper *keeper, dc_lock ***locks, size_t *n);
/* Snapshots of every lock (task NULL) or of one task's, sorted by ID. Free
 * with dc_lock_status_free_array. */
DC_API int dc_keeper_status(const dc_keeper *keeper, const char *task, dc_lock_status **out,
                            size_t *n);

/* ---------------------------------------------------------------- steps */

/* One protocol step taken by a master or a worker, as numbered by the seed
 * document (1 master GET, 2 worker PUT info, 3 master syncs the lock, 4 master
 * PUT operation, 5 worker got its operation, 6 worker exec/skip, 7 worker
 * checkpoint, 8 worker done txn, 9 master saw done, 10 master DELETE
 * operations). revision is the store revision of the step (the write's, or
 * the event's), 0 when there is none. Strings are valid during the call only;
 * lock_id/task/source may be NULL for steps that are about no single lock. */
typedef struct dc_step {
    int step;
    const char *role; /* "master" or "worker" */
    const char *lock_id;
    const char *task;
    const char *source;
    int64_t revision;
    const char *text; /* a short description, e.g. "PUT exec=true (owner)" */
} dc_step;

/* Called synchronously, from the thread running the step, after the step's
 * write (if any) committed. Return 0 to go on. A non-zero return makes the
 * caller stop right there as if it had crashed (fault injection for tests and
 * the demo): the master's run returns DC_ECLOSED and the object must be freed;
 * a worker call returns DC_ECLOSED. */
typedef int (*dc_step_fn)(const dc_step *step, void *userdata);

/* ---------------------------------------------------------------- store-side */

/* Task membership (which sources a task has), kept under ns/ddlcoord/task/.
 * The master reads and watches it: a lock waits for exactly these sources
 * (plus any other source that reports); a task without members has its
 * locks wait, since nobody could tell when everyone has reported.
 * dc_task_add / dc_task_remove write one key per source, 64 to a txn (a
 * task of up to 64 sources changes at one revision; no txn grows with the
 * number of sources); n == 0 in dc_task_remove removes the whole task. Add a
 * task's sources before its workers report.
 * dc_task_sources returns the task's sources sorted (free with
 * dc_strings_free). Blocking (store calls). Errors: DC_EINVAL, store errors. */
DC_API int dc_task_add(dc_store *store, const char *ns, const char *task,
                       const char *const *sources, size_t n);
DC_API int dc_task_remove(dc_store *store, const char *ns, const char *task,
                          const char *const *sources, size_t n);
DC_API int dc_task_sources(dc_store *store, const char *ns, const char *task, char ***sources,
                           size_t *n);
DC_API void dc_strings_free(char **strings, size_t n);

/* Compute the locks from the store alone, as a master would rebuild them (the
 * `ddlcoord locks` view; no master needed): one consistent read of infos,
 * operations, membership and conflicts. task NULL = every task. Corrupt
 * values are skipped (and logged). *revision (may be NULL) gets the read
 * revision. Free with dc_lock_status_free_array. Blocking. */
DC_API int dc_locks_read(dc_store *store, const char *ns, const char *task, dc_lock_status **out,
                         size_t *n, int64_t *revision);

#ifdef __cplusplus
}
#endif

#include "pessimism_master.h"
#include "pessimism_worker.h"

#endif
